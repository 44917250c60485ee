/*
 * test_lock.c - the run lock: exclusive, informative when busy, never
 * blocked by a dead holder, not inherited across exec, and found in the
 * documented place.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lock.h"
#include "timeutil.h"

struct fx {
	char dir[64];
	char path[128];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/vs-lock-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/vmsweep.lock", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
}

static void test_exclusive_and_message(void **state)
{
	struct fx *f = *state;
	struct vs_lock *a = NULL, *b = (struct vs_lock *)1;
	struct vs_error err;
	char want[64], ts[32];
	long pid = 0;
	int64_t started = 0, before = vs_time_now();

	vs_error_clear(&err);
	assert_int_equal(vs_lock_acquire(f->path, &a, &err), 0);
	assert_non_null(a);
	assert_string_equal(vs_lock_path(a), f->path);

	/* The record names this process and a current time. */
	assert_int_equal(vs_lock_read_holder(f->path, &pid, &started), 0);
	assert_int_equal(pid, (long)getpid());
	assert_true(started >= before && started <= vs_time_now());

	/* A second open file (as a second run would have) is refused. */
	assert_int_equal(vs_lock_acquire(f->path, &b, &err), VS_LOCK_BUSY);
	assert_null(b);
	assert_int_equal(err.cls, VS_EC_LOCKED);
	assert_non_null(strstr(err.message, f->path));
	snprintf(want, sizeof(want), "(pid %ld, started ", (long)getpid());
	assert_non_null(strstr(err.message, want));
	vs_time_format(ts, sizeof(ts), started);
	assert_non_null(strstr(err.message, ts));
	assert_null(strchr(err.message, '\n'));

	/* Released: the next one gets it, and the file stays. */
	vs_lock_free(a);
	vs_error_clear(&err);
	assert_int_equal(vs_lock_acquire(f->path, &b, &err), 0);
	assert_int_equal(access(f->path, F_OK), 0);
	vs_lock_free(b);
	vs_lock_free(NULL);
}

/* A holder whose record is not readable still blocks, and says so. */
static void test_busy_with_unknown_holder(void **state)
{
	struct fx *f = *state;
	struct vs_lock *a = NULL, *b = NULL;
	struct vs_error err;
	long pid;
	int64_t started;

	vs_error_clear(&err);
	assert_int_equal(vs_lock_acquire(f->path, &a, &err), 0);
	write_file(f->path, "garbage\x01\n");
	assert_int_equal(vs_lock_read_holder(f->path, &pid, &started), VS_ERR);
	assert_int_equal(vs_lock_acquire(f->path, &b, &err), VS_LOCK_BUSY);
	assert_non_null(strstr(err.message, "holder unknown"));
	vs_lock_free(a);
}

/*
 * A process that took the lock and was killed leaves its record behind,
 * but not its lock: the next run takes over and writes its own record.
 */
static void test_dead_holder_never_blocks(void **state)
{
	struct fx *f = *state;
	struct vs_lock *a = NULL;
	struct vs_error err;
	int fds[2], status;
	long pid = 0;
	int64_t started;
	char c;
	pid_t child;

	assert_int_equal(pipe(fds), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		struct vs_lock *l = NULL;
		struct vs_error e;

		vs_error_clear(&e);
		close(fds[0]);
		if (vs_lock_acquire(f->path, &l, &e) != 0)
			_exit(1);
		if (write(fds[1], "x", 1) != 1)
			_exit(1);
		pause(); /* killed while holding it */
		_exit(1);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &c, 1), 1);
	close(fds[0]);

	vs_error_clear(&err);
	assert_int_equal(vs_lock_acquire(f->path, &a, &err), VS_LOCK_BUSY);
	assert_int_equal(vs_lock_read_holder(f->path, &pid, &started), 0);
	assert_int_equal(pid, (long)child);

	assert_int_equal(kill(child, SIGKILL), 0);
	assert_int_equal(waitpid(child, &status, 0), child);

	/* The stale record stays until the next holder replaces it. */
	assert_int_equal(vs_lock_read_holder(f->path, &pid, &started), 0);
	assert_int_equal(pid, (long)child);
	vs_error_clear(&err);
	assert_int_equal(vs_lock_acquire(f->path, &a, &err), 0);
	assert_int_equal(vs_lock_read_holder(f->path, &pid, &started), 0);
	assert_int_equal(pid, (long)getpid());
	vs_lock_free(a);
}

/* A longer old record is cut, not left trailing after ours. */
static void test_record_replaces_longer_content(void **state)
{
	struct fx *f = *state;
	struct vs_lock *a = NULL;
	struct vs_error err;
	char buf[512];
	FILE *fp;
	size_t n;
	int i;

	fp = fopen(f->path, "w");
	assert_non_null(fp);
	for (i = 0; i < 40; i++)
		fputs("0123456789", fp);
	assert_int_equal(fclose(fp), 0);
	vs_error_clear(&err);
	assert_int_equal(vs_lock_acquire(f->path, &a, &err), 0);
	fp = fopen(f->path, "r");
	assert_non_null(fp);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	assert_int_equal(strncmp(buf, "pid ", 4), 0);
	assert_null(strstr(buf, "0123"));
	assert_int_equal(buf[n - 1], '\n');
	vs_lock_free(a);
}

/* The descriptor is close-on-exec: a child program never holds it. */
static void test_cloexec(void **state)
{
	struct fx *f = *state;
	struct vs_lock *a = NULL;
	struct vs_error err;
	struct stat want, st;
	int fd, found = 0;

	vs_error_clear(&err);
	assert_int_equal(vs_lock_acquire(f->path, &a, &err), 0);
	assert_int_equal(stat(f->path, &want), 0);
	for (fd = 0; fd < 1024; fd++) {
		if (fstat(fd, &st) != 0 || st.st_dev != want.st_dev ||
		    st.st_ino != want.st_ino)
			continue;
		found++;
		assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	}
	assert_int_equal(found, 1);
	vs_lock_free(a);
}

/* Neither a symbolic link nor a non-regular file is used as the lock. */
static void test_refuses_symlink_and_directory(void **state)
{
	struct fx *f = *state;
	struct vs_lock *a = NULL;
	struct vs_error err;
	char victim[160];

	snprintf(victim, sizeof(victim), "%s/victim", f->dir);
	write_file(victim, "keep me\n");
	assert_int_equal(symlink(victim, f->path), 0);
	vs_error_clear(&err);
	assert_int_equal(vs_lock_acquire(f->path, &a, &err), VS_ERR);
	assert_null(a);
	assert_int_equal(err.cls, VS_EC_CONFIG);
	assert_non_null(strstr(err.message, f->path));
	unlink(f->path);

	assert_int_equal(mkdir(f->path, 0700), 0);
	vs_error_clear(&err);
	assert_int_equal(vs_lock_acquire(f->path, &a, &err), VS_ERR);
	assert_null(a);
	rmdir(f->path);

	/* The victim was not touched. */
	{
		char b[32] = "";
		FILE *fp = fopen(victim, "r");
		assert_non_null(fp);
		assert_non_null(fgets(b, sizeof(b), fp));
		fclose(fp);
		assert_string_equal(b, "keep me\n");
	}
}

static void test_missing_directory_is_an_error(void **state)
{
	struct fx *f = *state;
	struct vs_lock *a = NULL;
	struct vs_error err;
	char p[160];

	snprintf(p, sizeof(p), "%s/no/such/dir/x.lock", f->dir);
	vs_error_clear(&err);
	assert_int_equal(vs_lock_acquire(p, &a, &err), VS_ERR);
	assert_non_null(strstr(err.message, "cannot open the lock file"));
}

static void clear_env(void)
{
	unsetenv("RUNTIME_DIRECTORY");
	unsetenv("XDG_RUNTIME_DIR");
	unsetenv("STATE_DIRECTORY");
	unsetenv("XDG_STATE_HOME");
	unsetenv("HOME");
}

static void test_default_path_order(void **state)
{
	struct fx *f = *state;
	struct vs_error err;
	char buf[256], want[256];
	struct stat st;
	char *home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;

	clear_env();
	vs_error_clear(&err);
	assert_int_equal(vs_lock_default_path(buf, sizeof(buf), &err), VS_ERR);
	assert_non_null(strstr(err.message, "run.lock_file"));

	/* $HOME/.local/state/vmsweep, created 0700. */
	setenv("HOME", f->dir, 1);
	vs_error_clear(&err);
	assert_int_equal(vs_lock_default_path(buf, sizeof(buf), &err), 0);
	snprintf(want, sizeof(want), "%s/.local/state/vmsweep/vmsweep.lock",
		 f->dir);
	assert_string_equal(buf, want);
	snprintf(want, sizeof(want), "%s/.local/state/vmsweep", f->dir);
	assert_int_equal(stat(want, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);

	/* A relative value is not a directory we trust. */
	setenv("XDG_STATE_HOME", "relative/dir", 1);
	assert_int_equal(vs_lock_default_path(buf, sizeof(buf), &err), 0);
	assert_non_null(strstr(buf, "/.local/state/vmsweep/"));

	snprintf(want, sizeof(want), "%s/state", f->dir);
	setenv("XDG_STATE_HOME", want, 1);
	assert_int_equal(vs_lock_default_path(buf, sizeof(buf), &err), 0);
	snprintf(want, sizeof(want), "%s/state/vmsweep/vmsweep.lock", f->dir);
	assert_string_equal(buf, want);

	setenv("STATE_DIRECTORY", "/var/lib/vmsweep:/var/lib/other", 1);
	assert_int_equal(vs_lock_default_path(buf, sizeof(buf), &err), 0);
	assert_string_equal(buf, "/var/lib/vmsweep/vmsweep.lock");

	setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
	assert_int_equal(vs_lock_default_path(buf, sizeof(buf), &err), 0);
	assert_string_equal(buf, "/run/user/1000/vmsweep.lock");

	setenv("RUNTIME_DIRECTORY", "/run/vmsweep:/run/other", 1);
	assert_int_equal(vs_lock_default_path(buf, sizeof(buf), &err), 0);
	assert_string_equal(buf, "/run/vmsweep/vmsweep.lock");

	/* Too small a buffer is an error, not a cut path. */
	vs_error_clear(&err);
	assert_int_equal(vs_lock_default_path(buf, 10, &err), VS_ERR);

	clear_env();
	if (home) {
		setenv("HOME", home, 1);
		free(home);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_exclusive_and_message,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_busy_with_unknown_holder,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_dead_holder_never_blocks,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_record_replaces_longer_content, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cloexec, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_refuses_symlink_and_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_missing_directory_is_an_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_default_path_order, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
