/*
 * test_signals.c - the signal-watching thread: a first stop signal
 * stops, a second aborts, later ones change nothing; the grace period and
 * the deadline act like signals; a disarmed watcher runs no hook; an
 * unarmed stop signal ends the process by that signal; SIGHUP reopens the
 * log file.
 *
 * Signals are sent to this very process with kill(); they are blocked
 * in every thread, so only the watcher takes them.  Waits poll a
 * condition with a generous bound and never assert on elapsed time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "signals.h"
#include "timeutil.h"

struct counts {
	atomic_int stops;
	atomic_int aborts;
};

static void on_stop(void *udata)
{
	struct counts *c = udata;
	atomic_fetch_add(&c->stops, 1);
}

static void on_abort(void *udata)
{
	struct counts *c = udata;
	atomic_fetch_add(&c->aborts, 1);
}

static char logpath[64];

static int setup(void **state)
{
	struct vs_log_opts o = {VS_LOG_DEBUG, VS_LOG_TEXT, -1, NULL, 1};
	int fd;

	(void)state;
	snprintf(logpath, sizeof(logpath), "/tmp/vs_test_signals_XXXXXX");
	fd = mkstemp(logpath);
	if (fd < 0)
		return -1;
	close(fd);
	o.file = logpath;
	return vs_log_setup(&o, NULL);
}

static int teardown(void **state)
{
	char old[80];

	(void)state;
	vs_log_teardown();
	unlink(logpath);
	snprintf(old, sizeof(old), "%s.1", logpath);
	unlink(old);
	return 0;
}

/* How many times needle occurs in the file at path. */
static int count_in(const char *path, const char *needle)
{
	char buf[16384];
	const char *p;
	size_t n;
	int k = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	for (p = buf; (p = strstr(p, needle)) != NULL; p++)
		k++;
	return k;
}

/* Poll until *v == want, for at most 20 s (a bound, not a timing). */
static int wait_int(atomic_int *v, int want)
{
	int i;

	for (i = 0; i < 4000 && atomic_load(v) != want; i++)
		usleep(5000);
	return atomic_load(v);
}

static int wait_log(const char *needle, int want)
{
	int i;

	for (i = 0; i < 4000 && count_in(logpath, needle) < want; i++)
		usleep(5000);
	return count_in(logpath, needle);
}

static struct vs_signals *start(void)
{
	struct vs_error err;
	struct vs_signals *w;

	vs_error_clear(&err);
	assert_int_equal(vs_signals_block(&err), 0);
	w = vs_signals_new(&err);
	assert_non_null(w);
	return w;
}

static void arm(struct vs_signals *w, struct counts *c, int64_t grace_ms,
		int64_t deadline_ms)
{
	struct vs_signals_hooks h = {on_stop, on_abort, c, grace_ms,
				     deadline_ms};

	vs_signals_arm(w, &h);
}

static void test_first_stops_second_aborts(void **state)
{
	struct counts c = {0, 0};
	struct vs_signals *w = start();

	(void)state;
	arm(w, &c, 3600 * 1000, -1);
	assert_int_equal(vs_signals_reason(w), 0);

	assert_int_equal(kill(getpid(), SIGTERM), 0);
	assert_int_equal(wait_int(&c.stops, 1), 1);
	assert_int_equal(vs_signals_reason(w), SIGTERM);
	assert_int_equal(wait_log("received SIGTERM: stopping", 1), 1);
	assert_int_equal(atomic_load(&c.aborts), 0);
	assert_false(vs_signals_aborted(w));
	assert_int_equal(count_in(logpath, "deletions in flight get 1h"), 1);

	assert_int_equal(kill(getpid(), SIGINT), 0);
	assert_int_equal(wait_int(&c.aborts, 1), 1);
	assert_true(vs_signals_aborted(w));
	assert_int_equal(wait_log("received SIGINT again: cancelling", 1), 1);

	/* A third one is only logged; the first reason stays. */
	assert_int_equal(kill(getpid(), SIGINT), 0);
	assert_int_equal(wait_log("already stopping", 1), 1);
	assert_int_equal(atomic_load(&c.stops), 1);
	assert_int_equal(atomic_load(&c.aborts), 1);
	assert_int_equal(vs_signals_reason(w), SIGTERM);

	vs_signals_disarm(w);
	vs_signals_free(w);
}

/* Without a second signal the grace period ends in the abort too. */
static void test_grace_runs_out(void **state)
{
	struct counts c = {0, 0};
	struct vs_signals *w = start();

	(void)state;
	arm(w, &c, 50, -1);
	assert_int_equal(kill(getpid(), SIGINT), 0);
	assert_int_equal(wait_int(&c.aborts, 1), 1);
	assert_int_equal(atomic_load(&c.stops), 1);
	assert_int_equal(vs_signals_reason(w), SIGINT);
	assert_int_equal(wait_log("grace period of 50ms over", 1), 1);
	vs_signals_disarm(w);
	vs_signals_free(w);
}

/* A zero grace period aborts right after the stop. */
static void test_no_grace(void **state)
{
	struct counts c = {0, 0};
	struct vs_signals *w = start();

	(void)state;
	arm(w, &c, 0, -1);
	assert_int_equal(kill(getpid(), SIGTERM), 0);
	assert_int_equal(wait_int(&c.aborts, 1), 1);
	assert_int_equal(atomic_load(&c.stops), 1);
	vs_signals_disarm(w);
	vs_signals_free(w);
}

/* The deadline stops the run as a signal would, then the grace runs. */
static void test_deadline(void **state)
{
	struct counts c = {0, 0};
	struct vs_signals *w = start();

	(void)state;
	arm(w, &c, 20, vs_time_mono_ms() + 30);
	assert_int_equal(wait_int(&c.stops, 1), 1);
	assert_int_equal(vs_signals_reason(w), VS_SIGNALS_DEADLINE);
	assert_int_equal(wait_log("maximum run time reached: stopping", 1), 1);
	assert_int_equal(wait_int(&c.aborts, 1), 1);
	/* A signal now is a second stop: nothing more to do. */
	assert_int_equal(kill(getpid(), SIGTERM), 0);
	assert_int_equal(wait_log("already stopping", 1), 1);
	assert_int_equal(atomic_load(&c.stops), 1);
	assert_int_equal(atomic_load(&c.aborts), 1);
	vs_signals_disarm(w);
	vs_signals_free(w);
}

/* A deadline already past at arming stops at once. */
static void test_deadline_in_the_past(void **state)
{
	struct counts c = {0, 0};
	struct vs_signals *w = start();

	(void)state;
	arm(w, &c, 3600 * 1000, vs_time_mono_ms() - 1000);
	assert_int_equal(wait_int(&c.stops, 1), 1);
	assert_int_equal(atomic_load(&c.aborts), 0);
	vs_signals_disarm(w);
	vs_signals_free(w);
}

/*
 * After a stop, a disarmed watcher neither runs hooks nor lets a signal
 * end the process: the caller is writing its report.
 */
static void test_disarmed_after_stop(void **state)
{
	struct counts c = {0, 0};
	struct vs_signals *w = start();

	(void)state;
	arm(w, &c, 3600 * 1000, -1);
	assert_int_equal(kill(getpid(), SIGTERM), 0);
	assert_int_equal(wait_int(&c.stops, 1), 1);
	vs_signals_disarm(w);
	assert_int_equal(kill(getpid(), SIGTERM), 0);
	assert_int_equal(wait_log("already stopping", 1), 1);
	assert_int_equal(atomic_load(&c.aborts), 0);
	assert_int_equal(atomic_load(&c.stops), 1);
	vs_signals_free(w);
}

/* A deadline does nothing once disarmed. */
static void test_disarm_cancels_deadline(void **state)
{
	struct counts c = {0, 0};
	struct vs_signals *w = start();

	(void)state;
	arm(w, &c, 0, vs_time_mono_ms() + 3600 * 1000);
	vs_signals_disarm(w);
	/* SIGHUP makes the watcher go round its loop once more. */
	assert_int_equal(kill(getpid(), SIGHUP), 0);
	assert_int_equal(wait_log("log file reopened", 1), 1);
	assert_int_equal(atomic_load(&c.stops), 0);
	assert_int_equal(vs_signals_reason(w), 0);
	vs_signals_free(w);
}

/* Before any run is armed, SIGTERM ends the process by that signal. */
static void test_unarmed_signal_kills(void **state)
{
	int status = 0;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct vs_signals *w;
		struct vs_error err;

		vs_error_clear(&err);
		w = vs_signals_new(&err);
		if (!w)
			_exit(3);
		kill(getpid(), SIGTERM);
		sleep(20);
		_exit(4);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGTERM);
}

/*
 * SIGHUP after logrotate moved the file: the next lines go to a new file
 * of the old name, none is lost.
 */
static void test_hup_reopens_log(void **state)
{
	char old[80];
	struct vs_signals *w = start();

	(void)state;
	vs_log(VS_LOG_INFO, "t", "before rotation");
	snprintf(old, sizeof(old), "%s.1", logpath);
	assert_int_equal(rename(logpath, old), 0);
	vs_log(VS_LOG_INFO, "t", "still to the old file");
	assert_int_equal(kill(getpid(), SIGHUP), 0);
	assert_int_equal(wait_log("log file reopened", 1), 1);
	vs_log(VS_LOG_INFO, "t", "after rotation");
	assert_int_equal(count_in(old, "before rotation"), 1);
	assert_int_equal(count_in(old, "still to the old file"), 1);
	assert_int_equal(count_in(old, "after rotation"), 0);
	assert_int_equal(count_in(logpath, "after rotation"), 1);
	assert_int_equal(count_in(logpath, "before rotation"), 0);
	vs_signals_free(w);
}

/* Freeing a watcher that never saw a signal returns promptly. */
static void test_free_idle(void **state)
{
	(void)state;
	vs_signals_free(start());
	vs_signals_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_first_stops_second_aborts,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_grace_runs_out, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_no_grace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deadline_in_the_past,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_disarmed_after_stop, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_disarm_cancels_deadline,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_unarmed_signal_kills,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_hup_reopens_log, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_free_idle, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
