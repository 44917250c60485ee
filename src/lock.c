/*
 * lock.c - the run lock (flock on a small file).
 *
 * flock rather than fcntl record locks: a record lock belongs to the
 * process and vanishes when any descriptor of the file is closed, and it
 * does not conflict within one process, which would make the lock
 * untestable in one program and fragile in a threaded one.  An flock
 * belongs to the open file description.
 *
 * The holder's record is written over the old content and the file is
 * then cut to its length, so a second run reading it never sees an empty
 * file between a truncate and a write.
 */
#include "lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "paths.h"
#include "timeutil.h"

#define LOCK_NAME "vmsweep.lock"
/* The longest directory path: PATH_MAX (4096 on Linux) less its NUL. */
#define PATH_CAP 4095
/* The record is short; anything longer is not ours. */
#define RECORD_MAX 128

struct vs_lock {
	int fd;
	char *path;
};

int vs_lock_default_path(char *buf, size_t sz, struct vs_error *err)
{
	struct vs_buf dir;
	int n, ours, rc = VS_ERR;

	vs_buf_init(&dir, PATH_CAP);
	switch (vs_paths_runtime_dir(&dir, &ours)) {
	case 0:
		break;
	case VS_PATHS_NONE:
		vs_error_set(err, VS_EC_CONFIG, 0, 0,
			     "no directory for the lock file (none of "
			     "XDG_RUNTIME_DIR, XDG_STATE_HOME, HOME is "
			     "set); set run.lock_file");
		goto out;
	default:
		vs_error_set(err, VS_EC_CONFIG, 0, 0,
			     "the lock directory path is too long");
		goto out;
	}
	if (ours && vs_paths_mkdirs(dir.s, "lock", err) != 0)
		goto out;
	n = snprintf(buf, sz, "%s/%s", dir.s, LOCK_NAME);
	if (n < 0 || (size_t)n >= sz) {
		vs_error_set(err, VS_EC_CONFIG, 0, 0,
			     "the lock file path is too long");
		goto out;
	}
	rc = 0;
out:
	vs_buf_release(&dir);
	return rc;
}

/* Parse "pid N\nstarted TIME\n". */
static int parse_record(const char *s, long *pid, int64_t *started)
{
	char *end;
	char ts[40];
	long p;
	size_t n;

	if (strncmp(s, "pid ", 4) != 0)
		return VS_ERR;
	errno = 0;
	p = strtol(s + 4, &end, 10);
	if (errno || end == s + 4 || p <= 0 || strncmp(end, "\nstarted ", 9))
		return VS_ERR;
	s = end + 9;
	n = strcspn(s, "\n");
	if (n == 0 || n >= sizeof(ts) || s[n] != '\n')
		return VS_ERR;
	memcpy(ts, s, n);
	ts[n] = '\0';
	if (vs_time_parse(ts, started) != 0)
		return VS_ERR;
	*pid = p;
	return 0;
}

/* Read the record from an open descriptor (at offset 0). */
static int read_record(int fd, long *pid, int64_t *started)
{
	char b[RECORD_MAX + 1];
	ssize_t r;

	do
		r = pread(fd, b, RECORD_MAX, 0);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return VS_ERR;
	b[r] = '\0';
	return parse_record(b, pid, started);
}

int vs_lock_read_holder(const char *path, long *pid, int64_t *started)
{
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return VS_ERR;
	rc = read_record(fd, pid, started);
	close(fd);
	return rc;
}

static int busy(int fd, const char *path, struct vs_error *err)
{
	char ts[32];
	long pid;
	int64_t started;

	if (read_record(fd, &pid, &started) != 0) {
		vs_error_set(err, VS_EC_LOCKED, 0, 1,
			     "another run holds the lock %s (holder unknown)",
			     path);
		return VS_LOCK_BUSY;
	}
	vs_time_format(ts, sizeof(ts), started);
	vs_error_set(err, VS_EC_LOCKED, 0, 1,
		     "another run holds the lock %s (pid %ld, started %s)",
		     path, pid, ts);
	return VS_LOCK_BUSY;
}

/* Write the record at offset 0 and cut the file to it.  Best effort: the
 * lock itself is what matters. */
static void write_record(int fd)
{
	char rec[RECORD_MAX], ts[32];
	int n;
	ssize_t w;

	vs_time_format(ts, sizeof(ts), vs_time_now());
	n = snprintf(rec, sizeof(rec), "pid %ld\nstarted %s\n", (long)getpid(),
		     ts);
	if (n <= 0 || (size_t)n >= sizeof(rec))
		return;
	do
		w = pwrite(fd, rec, (size_t)n, 0);
	while (w < 0 && errno == EINTR);
	if (w == n && ftruncate(fd, n) == 0)
		(void)fdatasync(fd);
}

int vs_lock_acquire(const char *path, struct vs_lock **out,
		    struct vs_error *err)
{
	char eb[128];
	struct vs_lock *l = NULL;
	struct stat st;
	int fd = -1, rc = VS_ERR;

	*out = NULL;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK,
		  0644);
	if (fd < 0) {
		vs_error_set(err, VS_EC_CONFIG, 0, 0,
			     "cannot open the lock file '%s': %s", path,
			     strerror_r(errno, eb, sizeof(eb)));
		goto out;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		vs_error_set(err, VS_EC_CONFIG, 0, 0,
			     "the lock file '%s' is not a regular file", path);
		goto out;
	}
	while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno == EINTR)
			continue;
		if (errno == EWOULDBLOCK) {
			rc = busy(fd, path, err);
			goto out;
		}
		vs_error_set(err, VS_EC_CONFIG, 0, 0, "cannot lock '%s': %s",
			     path, strerror_r(errno, eb, sizeof(eb)));
		goto out;
	}
	l = calloc(1, sizeof(*l));
	if (l)
		l->path = strdup(path);
	if (!l || !l->path) {
		vs_error_set(err, VS_EC_INTERNAL, 0, 0, "out of memory");
		goto out;
	}
	write_record(fd);
	l->fd = fd;
	fd = -1;
	*out = l;
	l = NULL;
	rc = 0;
out:
	if (l)
		free(l->path);
	free(l);
	if (fd >= 0)
		close(fd); /* drops the flock too, if we took it */
	return rc;
}

void vs_lock_free(struct vs_lock *lock)
{
	if (!lock)
		return;
	/* Closing the only descriptor releases the flock. */
	close(lock->fd);
	free(lock->path);
	free(lock);
}

const char *vs_lock_path(const struct vs_lock *lock)
{
	return lock->path;
}
