/*
 * test_paths.c - the state and runtime directories: the order of the
 * variables, relative values ignored, systemd's lists cut to their first
 * entry, who must create what, and mkdir -p with mode 0700.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "paths.h"

static const char *const vars[] = {"RUNTIME_DIRECTORY", "XDG_RUNTIME_DIR",
				   "STATE_DIRECTORY", "XDG_STATE_HOME", "HOME"};

struct fx {
	char dir[64];
	char *saved[sizeof(vars) / sizeof(vars[0])];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	size_t i;

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/vs-paths-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		const char *v = getenv(vars[i]);

		f->saved[i] = v ? strdup(v) : NULL;
		unsetenv(vars[i]);
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[160];
	size_t i;
	int rc = 0;

	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		if (f->saved[i])
			setenv(vars[i], f->saved[i], 1);
		else
			unsetenv(vars[i]);
		free(f->saved[i]);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		rc = -1;
	free(f);
	return rc;
}

/* Look one directory up into a fresh buffer and compare. */
static void expect(int runtime, const char *want, int want_ours)
{
	struct vs_buf b;
	int ours = -1;

	vs_buf_init(&b, 0);
	if (runtime)
		assert_int_equal(vs_paths_runtime_dir(&b, &ours), 0);
	else
		assert_int_equal(vs_paths_state_dir(&b, &ours), 0);
	assert_string_equal(b.s, want);
	assert_int_equal(ours, want_ours);
	vs_buf_release(&b);
}

static void test_state_dir_order(void **state)
{
	struct fx *f = *state;
	struct vs_buf b;
	char want[128];
	int ours = -1;

	(void)f;
	vs_buf_init(&b, 0);
	assert_int_equal(vs_paths_state_dir(&b, &ours), VS_PATHS_NONE);
	assert_int_equal(ours, 0);
	assert_int_equal(b.len, 0);

	/* A relative value is not a directory we trust. */
	setenv("HOME", "relative/home", 1);
	setenv("XDG_STATE_HOME", "relative/state", 1);
	setenv("STATE_DIRECTORY", "relative/systemd", 1);
	assert_int_equal(vs_paths_state_dir(&b, &ours), VS_PATHS_NONE);
	vs_buf_release(&b);

	setenv("HOME", "/home/someone", 1);
	expect(0, "/home/someone/.local/state/vmsweep", 1);

	setenv("XDG_STATE_HOME", "/xdg/state", 1);
	expect(0, "/xdg/state/vmsweep", 1);

	setenv("STATE_DIRECTORY", "/var/lib/vmsweep:/var/lib/other", 1);
	expect(0, "/var/lib/vmsweep", 0);

	/* The runtime variables do not move the state directory. */
	setenv("RUNTIME_DIRECTORY", "/run/vmsweep", 1);
	setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
	expect(0, "/var/lib/vmsweep", 0);

	/* Nothing is created by a lookup. */
	snprintf(want, sizeof(want), "%s/state", f->dir);
	unsetenv("STATE_DIRECTORY");
	setenv("XDG_STATE_HOME", want, 1);
	snprintf(want, sizeof(want), "%s/state/vmsweep", f->dir);
	expect(0, want, 1);
	assert_int_not_equal(access(want, F_OK), 0);
}

static void test_runtime_dir_order(void **state)
{
	struct vs_buf b;
	int ours = -1;

	(void)state;
	vs_buf_init(&b, 0);
	assert_int_equal(vs_paths_runtime_dir(&b, &ours), VS_PATHS_NONE);
	vs_buf_release(&b);

	/* With no runtime variable, the state directory, and who makes it. */
	setenv("HOME", "/home/someone", 1);
	expect(1, "/home/someone/.local/state/vmsweep", 1);
	setenv("XDG_STATE_HOME", "/xdg/state", 1);
	expect(1, "/xdg/state/vmsweep", 1);
	setenv("STATE_DIRECTORY", "/var/lib/vmsweep:/var/lib/other", 1);
	expect(1, "/var/lib/vmsweep", 0);

	setenv("XDG_RUNTIME_DIR", "relative", 1);
	expect(1, "/var/lib/vmsweep", 0);
	setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
	expect(1, "/run/user/1000", 0);

	setenv("RUNTIME_DIRECTORY", "/run/vmsweep:/run/other", 1);
	expect(1, "/run/vmsweep", 0);
}

static void test_too_long(void **state)
{
	struct vs_buf b;
	int ours;

	(void)state;
	setenv("HOME", "/home/someone", 1);
	vs_buf_init(&b, 10);
	assert_int_equal(vs_paths_state_dir(&b, &ours), VS_ERR);
	assert_int_equal(b.len, 0);
	setenv("RUNTIME_DIRECTORY", "/run/a-long-name:/run/b", 1);
	assert_int_equal(vs_paths_runtime_dir(&b, &ours), VS_ERR);
	assert_int_equal(b.len, 0);

	/* Appends after what the buffer holds. */
	vs_buf_release(&b);
	vs_buf_init(&b, 0);
	assert_int_equal(vs_buf_adds(&b, "dir="), 0);
	assert_int_equal(vs_paths_runtime_dir(&b, &ours), 0);
	assert_string_equal(b.s, "dir=/run/a-long-name");
	vs_buf_release(&b);
}

static void test_mkdirs(void **state)
{
	struct fx *f = *state;
	struct vs_error err;
	struct stat st;
	char p[160];
	FILE *fp;

	vs_error_clear(&err);
	snprintf(p, sizeof(p), "%s/a/b/c", f->dir);
	assert_int_equal(vs_paths_mkdirs(p, "state", &err), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(p, sizeof(p), "%s/a", f->dir);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);

	/* Existing directories are fine, and a trailing '/' too. */
	snprintf(p, sizeof(p), "%s/a/b/c/", f->dir);
	assert_int_equal(vs_paths_mkdirs(p, "state", &err), 0);

	/* A prefix that is a file: the message names it and the caller. */
	snprintf(p, sizeof(p), "%s/file", f->dir);
	fp = fopen(p, "w");
	assert_non_null(fp);
	fclose(fp);
	snprintf(p, sizeof(p), "%s/file/sub", f->dir);
	assert_int_equal(vs_paths_mkdirs(p, "lock", &err), VS_ERR);
	assert_int_equal(err.cls, VS_EC_CONFIG);
	snprintf(p, sizeof(p), "cannot create the lock directory '%s/file/sub'",
		 f->dir);
	assert_non_null(strstr(err.message, p));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_state_dir_order, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_runtime_dir_order, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_too_long, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mkdirs, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
