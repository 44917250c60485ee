/*
 * test_progress.c - the progress line: what it says, that it fits the
 * terminal, that colour is only used when allowed, that it is only
 * wanted on a terminal, and that under many logging threads it never
 * tears a log line (the logger erases it first, every time).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "progress.h"

static size_t fmt(char *buf, size_t sz, size_t total, size_t done,
		  size_t failed, int64_t elapsed_ms, int color, int width)
{
	struct vs_progress_state st = {"deleted", total, done, failed,
				       elapsed_ms};

	return vs_progress_format(buf, sz, &st, color, width);
}

/* Visible columns: bytes outside escape sequences. */
static size_t visible(const char *s)
{
	size_t n = 0;

	while (*s) {
		if (*s == '\033') {
			while (*s && *s != 'm' && *s != 'K')
				s++;
			if (*s)
				s++;
			continue;
		}
		n++;
		s++;
	}
	return n;
}

static void test_format(void **state)
{
	char b[512];

	(void)state;
	/* Nothing ended yet: no rate, no ETA. */
	fmt(b, sizeof(b), 500, 0, 0, 0, 0, 100);
	assert_string_equal(b, "[--------------------]  0/500  0 deleted  "
			       "0 failed  500 left");
	/* Half-way after 10 s: 25/s, 10 s to go. */
	fmt(b, sizeof(b), 500, 240, 10, 10000, 0, 100);
	assert_string_equal(b, "[##########----------]  250/500  240 deleted "
			       " 10 failed  250 left  25.0/s  ETA 10s");
	/* All done: no ETA. */
	fmt(b, sizeof(b), 4, 4, 0, 2000, 0, 100);
	assert_string_equal(b, "[####################]  4/4  4 deleted  "
			       "0 failed  0 left  2.0/s");
	/* An empty plan is a full bar, not a division by zero. */
	fmt(b, sizeof(b), 0, 0, 0, 5000, 0, 100);
	assert_string_equal(b, "[####################]  0/0  0 deleted  "
			       "0 failed  0 left");
	/* Long runs: the ETA in larger units. */
	fmt(b, sizeof(b), 10000, 10, 0, 10000, 0, 120);
	assert_non_null(strstr(b, "1.0/s  ETA 2h46m30s"));
	assert_null(strchr(b, '\033'));
	assert_null(strchr(b, '\r'));
	assert_null(strchr(b, '\n'));
}

static void test_color_only_on_the_bar(void **state)
{
	char b[512];

	(void)state;
	fmt(b, sizeof(b), 10, 5, 1, 2000, 1, 100);
	assert_string_equal(b, "[\033[32m############\033[0m--------]  6/10  "
			       "5 deleted  1 failed  4 left  3.0/s  ETA 2s");
	/* No escape for an empty bar. */
	fmt(b, sizeof(b), 10, 0, 0, 0, 1, 100);
	assert_null(strchr(b, '\033'));
}

/* Never wider than the terminal less one column, at any width. */
static void test_fits_the_width(void **state)
{
	char b[512];
	int w;

	(void)state;
	for (w = 0; w <= 140; w++) {
		fmt(b, sizeof(b), 123456, 61234, 789, 33000, 1, w);
		assert_true(visible(b) <= (size_t)(w > 0 ? w - 1 : 0));
		if (w >= 100)
			assert_int_equal(b[0], '[');
		if (w < 60)
			assert_null(strchr(b, '['));
	}
	/* A tiny buffer is cut, terminated. */
	assert_int_equal(fmt(b, 8, 500, 1, 2, 3, 0, 200), 7);
	assert_int_equal(strlen(b), 7);
}

static void test_wanted(void **state)
{
	int fd;
	char path[] = "/tmp/vs_test_progress_XXXXXX";
	const char *term = getenv("TERM"), *nc = getenv("NO_COLOR");
	char *kt = term ? strdup(term) : NULL, *kn = nc ? strdup(nc) : NULL;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	/* A file, a closed descriptor: never. */
	assert_false(vs_progress_wanted(fd, 0));
	assert_false(vs_progress_wanted(-1, 0));
	close(fd);

	setenv("TERM", "xterm", 1);
	unsetenv("NO_COLOR");
	assert_true(vs_progress_color_allowed());
	setenv("NO_COLOR", "", 1);
	assert_true(vs_progress_color_allowed());
	setenv("NO_COLOR", "1", 1);
	assert_false(vs_progress_color_allowed());
	unsetenv("NO_COLOR");
	setenv("TERM", "dumb", 1);
	assert_false(vs_progress_color_allowed());

	if (kt)
		setenv("TERM", kt, 1);
	else
		unsetenv("TERM");
	if (kn)
		setenv("NO_COLOR", kn, 1);
	else
		unsetenv("NO_COLOR");
	free(kt);
	free(kn);
}

/*
 * The real thing against a file standing in for the terminal: workers
 * count and log while the line is redrawn every millisecond.  Every log
 * line must arrive whole with no progress bytes inside it, and the last
 * thing before it must be an erase (or nothing): never a drawn line that
 * the log text would be glued to.
 */
#define THREADS 4
#define LINES	500

static struct vs_progress *shared;

static void *worker(void *arg)
{
	int id = (int)(intptr_t)arg, i;

	for (i = 0; i < LINES; i++) {
		vs_progress_add(shared, i % 7 != 0, i % 7 == 0);
		vs_log(VS_LOG_INFO, "w", "t=%d i=%d end", id, i);
	}
	return NULL;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *s;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	s = malloc((size_t)n + 1);
	assert_non_null(s);
	assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
	s[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return s;
}

static void test_never_tears_log_lines(void **state)
{
	struct vs_progress_opts po = {1, 100, 1};
	struct vs_log_opts lo = {VS_LOG_INFO, VS_LOG_TEXT, -1, NULL, 0};
	struct vs_error err;
	char path[] = "/tmp/vs_test_progress_XXXXXX";
	pthread_t t[THREADS];
	int fd, i, lines = 0, draws = 0;
	int next[THREADS] = {0};
	size_t len;
	char *s, *line, *nl;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	lo.fd = fd;
	assert_int_equal(vs_log_setup(&lo, NULL), 0);
	vs_error_clear(&err);
	shared = vs_progress_new(&po, &err);
	assert_non_null(shared);
	assert_int_equal(
		vs_progress_begin(shared, "deleted", THREADS * LINES, &err), 0);
	for (i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, worker,
						(void *)(intptr_t)i),
				 0);
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	vs_progress_end(shared);
	/* After the end, a log line goes out alone. */
	vs_log(VS_LOG_INFO, "w", "summary");
	vs_progress_free(shared);
	vs_log_teardown();

	s = slurp(path, &len);
	assert_true(len > 0);
	assert_non_null(strstr(s, "INFO w: summary\n"));
	assert_int_equal(s[len - 1], '\n');
	for (line = s; (nl = strchr(line, '\n')); line = nl + 1) {
		int id = -1, k = -1, n = 0, drawn = 0;

		*nl = '\0';
		/* Segments "\r...\033[K": a draw, or an erase when empty. */
		while (*line == '\r') {
			char *e = strstr(line, "\033[K");

			assert_non_null(e);
			drawn = e > line + 1;
			draws += drawn;
			if (drawn)
				assert_int_equal(line[1], '[');
			line = e + 3;
		}
		assert_false(drawn);
		if (strcmp(line, "INFO w: summary") == 0)
			continue;
		assert_null(strchr(line, '\r'));
		assert_null(strchr(line, '\033'));
		if (sscanf(line, "INFO w: t=%d i=%d end%n", &id, &k, &n) != 2 ||
		    line[n] != '\0')
			fail_msg("torn line: %.80s", line);
		assert_true(id >= 0 && id < THREADS);
		assert_int_equal(k, next[id]);
		next[id]++;
		lines++;
	}
	/* Nothing follows the last newline: the end erased the line. */
	assert_int_equal(*line, '\0');
	assert_int_equal(lines, THREADS * LINES);
	/* begin draws at once, so there was at least one draw. */
	assert_true(draws >= 1);
	free(s);
	close(fd);
	unlink(path);
}

/* The counters of the last draw add up to what the workers reported. */
static void test_final_counts(void **state)
{
	struct vs_progress_opts po = {0, 200, 1000};
	struct vs_log_opts lo = {VS_LOG_INFO, VS_LOG_TEXT, -1, NULL, 0};
	struct vs_error err;
	char path[] = "/tmp/vs_test_progress_XXXXXX";
	struct vs_progress *p;
	int fd;
	size_t len;
	char *s;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	lo.fd = fd;
	assert_int_equal(vs_log_setup(&lo, NULL), 0);
	vs_error_clear(&err);
	p = vs_progress_new(&po, &err);
	assert_non_null(p);
	/* NULL is harmless everywhere. */
	vs_progress_add(NULL, 1, 1);
	vs_progress_end(NULL);
	assert_int_equal(vs_progress_begin(NULL, "x", 1, &err), 0);
	vs_progress_free(NULL);

	assert_int_equal(vs_progress_begin(p, "probed", 7, &err), 0);
	vs_progress_add(p, 5, 2);
	vs_progress_end(p);
	vs_progress_end(p);
	vs_progress_free(p);
	vs_log_teardown();
	s = slurp(path, &len);
	/* The first draw (at begin) and the final erase. */
	assert_int_equal(strncmp(s, "\r[", 2), 0);
	assert_non_null(strstr(s, "/7  "));
	assert_non_null(strstr(s, " probed  "));
	assert_int_equal(strcmp(s + len - 4, "\r\033[K"), 0);
	free(s);
	close(fd);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_color_only_on_the_bar),
		cmocka_unit_test(test_fits_the_width),
		cmocka_unit_test(test_wanted),
		cmocka_unit_test(test_never_tears_log_lines),
		cmocka_unit_test(test_final_counts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
