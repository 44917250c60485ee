/*
 * fuzz_util.c - helpers the harnesses share (see fuzz.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fuzz.h"

int fuzz_tmpfile(const uint8_t *data, size_t size, char *path, size_t pathsz)
{
	const char *dir = getenv("TMPDIR");
	size_t off = 0;
	int fd;

	if (!dir || !*dir)
		dir = "/tmp";
	if ((size_t)snprintf(path, pathsz, "%s/vs-fuzz.XXXXXX", dir) >= pathsz)
		return -1;
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	while (off < size) {
		ssize_t w = write(fd, data + off, size - off);
		if (w <= 0) {
			close(fd);
			unlink(path);
			return -1;
		}
		off += (size_t)w;
	}
	close(fd);
	return 0;
}
