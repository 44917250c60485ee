/*
 * test_reportdir.c - report names, the newest report (--last), and
 * pruning by count and by age that never touches anything else.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reportdir.h"
#include "timeutil.h"

static char dir[64];

static void touch(const char *name)
{
	char p[256];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0640);
	assert_true(fd >= 0);
	close(fd);
}

static int exists(const char *name)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return access(p, F_OK) == 0;
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/vs-reportdir-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_match(void **state)
{
	int64_t t = 0, want;

	(void)state;
	assert_true(vs_reportdir_match(
		"vmsweep-20251125T174044Z-4f2a9c1e0d1b4c8e.json", &t));
	assert_int_equal(vs_time_parse("2025-11-25T17:40:44Z", &want), 0);
	assert_int_equal(t, want);
	assert_true(
		vs_reportdir_match("vmsweep-20251125T174044Z-a.json", NULL));
	assert_false(
		vs_reportdir_match("vmsweep-20251125T174044Z-.json", NULL));
	assert_false(
		vs_reportdir_match("vmsweep-20251125T174044Z-4F2A.json", NULL));
	assert_false(vs_reportdir_match("vmsweep-20251125T174044Z-4f2a.json~",
					NULL));
	assert_false(
		vs_reportdir_match("vmsweep-20251125T174044-4f2a.json", NULL));
	assert_false(
		vs_reportdir_match("vmsweep-20251332T174044Z-4f2a.json", NULL));
	assert_false(vs_reportdir_match(".vmsweep-20251125T174044Z-4f2a.json."
					"Ab12Cd",
					NULL));
	assert_false(vs_reportdir_match("my-report.json", NULL));
	assert_false(vs_reportdir_match("vmsweep-20251125T174044Z-4f2a.json/",
					NULL));
}

static void test_latest(void **state)
{
	struct vs_buf p;
	struct vs_error err;
	char want[256];

	(void)state;
	vs_buf_init(&p, 4096);
	vs_error_clear(&err);
	assert_int_equal(vs_reportdir_latest(dir, &p, &err), VS_ERR);
	assert_non_null(strstr(err.message, "no report in"));
	touch("vmsweep-20251124T010000Z-aa.json");
	touch("vmsweep-20251125T010000Z-01.json");
	touch("vmsweep-20251125T010000Z-02.json");
	touch("zz-not-a-report.json");
	/* A directory with a report's name is not a report. */
	snprintf(want, sizeof(want), "%s/vmsweep-20991231T235959Z-ff.json",
		 dir);
	assert_int_equal(mkdir(want, 0750), 0);
	vs_error_clear(&err);
	assert_int_equal(vs_reportdir_latest(dir, &p, &err), VS_OK);
	snprintf(want, sizeof(want), "%s/vmsweep-20251125T010000Z-02.json",
		 dir);
	assert_string_equal(p.s, want);
	vs_buf_release(&p);
	vs_error_clear(&err);
	vs_buf_init(&p, 4096);
	assert_int_equal(vs_reportdir_latest("/nonexistent/x", &p, &err),
			 VS_ERR);
	assert_non_null(strstr(err.message, "/nonexistent/x"));
	vs_buf_release(&p);
}

static void test_prune(void **state)
{
	struct vs_error err;
	size_t removed = 99;
	int64_t now;

	(void)state;
	/* Four reports a day apart (the test_latest ones are there too),
	 * and files that only look similar. */
	touch("vmsweep-20251120T000000Z-01.json");
	touch("vmsweep-20251121T000000Z-01.json");
	touch("vmsweep-20251122T000000Z-01.json");
	touch("vmsweep-20251123T000000Z-01.json");
	touch("vmsweep-20000101T000000Z-01.json.bak");
	touch("notes.txt");
	vs_error_clear(&err);
	/* Neither limit: nothing happens. */
	assert_int_equal(vs_reportdir_prune(dir, 0, -1, 0, &removed, &err), 0);
	assert_int_equal(removed, 0);
	/* By count: the 5 newest of 7 stay. */
	assert_int_equal(vs_reportdir_prune(dir, 5, -1, 0, &removed, &err), 0);
	assert_int_equal(removed, 2);
	assert_false(exists("vmsweep-20251120T000000Z-01.json"));
	assert_false(exists("vmsweep-20251121T000000Z-01.json"));
	assert_true(exists("vmsweep-20251122T000000Z-01.json"));
	assert_true(exists("vmsweep-20251125T010000Z-02.json"));
	/* By age: older than 2 days before 2025-11-25T12:00Z goes. */
	assert_int_equal(vs_time_parse("2025-11-25T12:00:00Z", &now), 0);
	assert_int_equal(vs_reportdir_prune(dir, 0, 2 * 86400 * 1000LL, now,
					    &removed, &err),
			 0);
	assert_int_equal(removed, 2);
	assert_false(exists("vmsweep-20251122T000000Z-01.json"));
	assert_false(exists("vmsweep-20251123T000000Z-01.json"));
	assert_true(exists("vmsweep-20251124T010000Z-aa.json"));
	assert_true(exists("vmsweep-20251125T010000Z-01.json"));
	/* keep 1: only the newest regular report stays. */
	assert_int_equal(vs_reportdir_prune(dir, 1, -1, now, &removed, &err),
			 0);
	assert_int_equal(removed, 2);
	assert_true(exists("vmsweep-20251125T010000Z-02.json"));
	/* Never anything that is not a report file of ours. */
	assert_true(exists("vmsweep-20000101T000000Z-01.json.bak"));
	assert_true(exists("notes.txt"));
	assert_true(exists("zz-not-a-report.json"));
	assert_true(exists("vmsweep-20991231T235959Z-ff.json"));
	assert_int_equal(err.cls, VS_EC_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_latest),
		cmocka_unit_test(test_prune),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
