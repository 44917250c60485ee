/*
 * replay.c - run a fuzz harness without libFuzzer: feed it every file in
 * the directories and files named on the command line, or, without
 * arguments, in tests/fuzz/regress/<target>/ and tests/fuzz/seeds/<target>/
 * (relative to the working directory) and the API samples in
 * ${VS_SHARED:-../shared}/api/samples.  Built with AddressSanitizer and
 * UndefinedBehaviorSanitizer it turns every committed crash input into a
 * regression test in make check.
 *
 * Prints "N inputs" and exits 0 when every input ran; a sanitizer stops
 * it with its own report and status.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

#ifndef FUZZ_TARGET
#error "FUZZ_TARGET must name the harness"
#endif

/* Inputs larger than this are not replayed (libFuzzer's default max_len
 * is far below it). */
#define REPLAY_MAX ((size_t)16 * 1024 * 1024)

static int replay_file(const char *path, size_t *count)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *data = NULL;
	size_t len = 0;
	long sz;
	int rc = -1;

	if (!fp)
		goto out;
	if (fseek(fp, 0, SEEK_END) != 0 || (sz = ftell(fp)) < 0 ||
	    (size_t)sz > REPLAY_MAX || fseek(fp, 0, SEEK_SET) != 0)
		goto out;
	data = malloc((size_t)sz ? (size_t)sz : 1);
	if (!data)
		goto out;
	len = fread(data, 1, (size_t)sz, fp);
	if (len != (size_t)sz)
		goto out;
	LLVMFuzzerTestOneInput(data, len);
	(*count)++;
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "replay: cannot read '%s'\n", path);
	free(data);
	if (fp)
		fclose(fp);
	return rc;
}

/* Replay path: a file, or every regular file in a directory (sorted, so
 * that a failure is reproducible). */
static int replay_path(const char *path, size_t *count, int must_exist)
{
	struct stat st;
	struct dirent **names = NULL;
	char sub[4096];
	int i, n, rc = 0;

	if (stat(path, &st) != 0)
		return must_exist ? -1 : 0;
	if (!S_ISDIR(st.st_mode))
		return replay_file(path, count);
	n = scandir(path, &names, NULL, alphasort);
	if (n < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.' &&
		    (size_t)snprintf(sub, sizeof(sub), "%s/%s", path,
				     names[i]->d_name) < sizeof(sub) &&
		    stat(sub, &st) == 0 && S_ISREG(st.st_mode) &&
		    replay_file(sub, count) != 0)
			rc = -1;
		free(names[i]);
	}
	free(names);
	return rc;
}

int main(int argc, char **argv)
{
	const char *shared = getenv("VS_SHARED");
	char path[4096];
	size_t count = 0;
	int i, rc = 0;

	if (argc > 1) {
		for (i = 1; i < argc; i++)
			if (replay_path(argv[i], &count, 1) != 0)
				rc = 1;
	} else {
		if (!shared || !*shared)
			shared = "../shared";
		snprintf(path, sizeof(path), "tests/fuzz/regress/%s",
			 FUZZ_TARGET);
		rc |= replay_path(path, &count, 0) != 0;
		snprintf(path, sizeof(path), "tests/fuzz/seeds/%s",
			 FUZZ_TARGET);
		rc |= replay_path(path, &count, 0) != 0;
		snprintf(path, sizeof(path), "%s/api/samples", shared);
		rc |= replay_path(path, &count, 0) != 0;
	}
	printf("%s: %zu inputs\n", FUZZ_TARGET, count);
	return rc;
}
