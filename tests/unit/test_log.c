/*
 * test_log.c - the logger: formats, level filtering, escaping,
 * redaction, truncation, the log file and reopen, and many threads
 * logging at once.
 *
 * How the concurrency test catches a broken logger: 16 threads write
 * lines of varied length (up to several kilobytes) into one file while
 * another thread keeps calling vs_log_reopen().  Every line must come
 * back whole, parseable, from the right thread, in that thread's order,
 * with the exact count.  A logger that writes a line in more than one
 * write(2) interleaves pieces of lines and fails the parse; one that
 * loses or repeats lines fails the count.  O_APPEND makes each single
 * write land whole even without a lock, so a logger without its mutex is
 * caught by ThreadSanitizer instead (make build/tsan/tests/test_log):
 * the reopen thread swaps the file descriptor that writers read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "timeutil.h"

#if defined(__SANITIZE_THREAD__)
#define LINES_PER_THREAD 2000
#else
#define LINES_PER_THREAD 10000
#endif
#define THREADS 16

static char path[64];

static int setup(void **state)
{
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/vs_test_log_XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	vs_log_teardown();
	unlink(path);
	return 0;
}

/* Log only to the test file, truncated first. */
static void use_file(enum vs_log_level level, enum vs_log_format format,
		     int timestamps)
{
	struct vs_log_opts o = {level, format, -1, path, timestamps};
	int fd = open(path, O_WRONLY | O_TRUNC);

	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(vs_log_setup(&o, NULL), 0);
}

/* The file's content (caller frees); lines counted into *n_lines. */
static char *slurp(size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *s = NULL;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	s = malloc((size_t)n + 1);
	assert_non_null(s);
	assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
	s[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return s;
}

/* The whole log of one call, without its newline. */
static char *one_line(void)
{
	size_t len;
	char *s = slurp(&len);

	assert_true(len > 0);
	assert_int_equal(s[len - 1], '\n');
	s[len - 1] = '\0';
	assert_null(strchr(s, '\n')); /* exactly one line */
	return s;
}

/* ------------------------------------------------------------------ */

static void test_text_format(void **state)
{
	char *s;

	(void)state;
	use_file(VS_LOG_INFO, VS_LOG_TEXT, 0);
	vs_log_set_worker(3);
	vs_log(VS_LOG_INFO, "osp-lab", "deleted %s", "test_vm_1");
	s = one_line();
	assert_string_equal(s, "INFO [w3] osp-lab: deleted test_vm_1");
	free(s);

	use_file(VS_LOG_INFO, VS_LOG_TEXT, 0);
	vs_log_set_worker(-1);
	vs_log(VS_LOG_WARN, NULL, "no tag, no worker");
	s = one_line();
	assert_string_equal(s, "WARN no tag, no worker");
	free(s);

	/* With a timestamp: RFC 3339, UTC, milliseconds, and now. */
	use_file(VS_LOG_INFO, VS_LOG_TEXT, 1);
	{
		int64_t before = vs_time_now(), t;
		char ts[32];

		vs_log(VS_LOG_ERROR, "x", "boom");
		s = one_line();
		assert_true(strlen(s) > 25);
		assert_int_equal(s[23], 'Z');
		assert_int_equal(s[19], '.');
		memcpy(ts, s, 24);
		ts[24] = '\0';
		assert_int_equal(vs_time_parse(ts, &t), 0);
		assert_true(t >= before - 1 && t <= vs_time_now() + 1);
		assert_string_equal(s + 24, " ERROR x: boom");
		free(s);
	}
}

static void test_json_format(void **state)
{
	json_error_t je;
	json_t *j;
	char *s;

	(void)state;
	use_file(VS_LOG_DEBUG, VS_LOG_JSON, 1);
	vs_log_set_worker(3);
	vs_log(VS_LOG_DEBUG, "osp-lab", "listed %d servers", 12);
	s = one_line();
	j = json_loads(s, 0, &je);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "level")),
			    "debug");
	assert_int_equal(json_integer_value(json_object_get(j, "worker")), 3);
	assert_string_equal(json_string_value(json_object_get(j, "tag")),
			    "osp-lab");
	assert_string_equal(json_string_value(json_object_get(j, "msg")),
			    "listed 12 servers");
	assert_int_equal(strlen(json_string_value(json_object_get(j, "ts"))),
			 24);
	json_decref(j);
	free(s);

	/* No timestamp, no worker, no tag: those keys are left out. */
	use_file(VS_LOG_DEBUG, VS_LOG_JSON, 0);
	vs_log_set_worker(-1);
	vs_log(VS_LOG_INFO, NULL, "m");
	s = one_line();
	assert_string_equal(s, "{\"level\":\"info\",\"msg\":\"m\"}");
	free(s);
}

static void test_level_filtering(void **state)
{
	char *s;

	(void)state;
	use_file(VS_LOG_WARN, VS_LOG_TEXT, 0);
	assert_true(vs_log_enabled(VS_LOG_ERROR));
	assert_true(vs_log_enabled(VS_LOG_WARN));
	assert_false(vs_log_enabled(VS_LOG_INFO));
	assert_false(vs_log_enabled(VS_LOG_TRACE));
	vs_log_set_worker(-1);
	vs_log(VS_LOG_TRACE, "t", "trace");
	vs_log(VS_LOG_DEBUG, "t", "debug");
	vs_log(VS_LOG_INFO, "t", "info");
	vs_log(VS_LOG_WARN, "t", "warn");
	vs_log(VS_LOG_ERROR, "t", "error");
	s = slurp(NULL);
	assert_string_equal(s, "WARN t: warn\nERROR t: error\n");
	free(s);

	use_file(VS_LOG_TRACE, VS_LOG_TEXT, 0);
	vs_log(VS_LOG_TRACE, "t", "trace");
	s = slurp(NULL);
	assert_string_equal(s, "TRACE t: trace\n");
	free(s);
}

static void test_level_and_format_parse(void **state)
{
	enum vs_log_level l = VS_LOG_INFO;
	enum vs_log_format f = VS_LOG_TEXT;

	(void)state;
	assert_int_equal(vs_log_level_parse("debug", &l), 0);
	assert_int_equal(l, VS_LOG_DEBUG);
	assert_int_equal(vs_log_level_parse("ERROR", &l), 0);
	assert_int_equal(l, VS_LOG_ERROR);
	assert_int_equal(vs_log_level_parse("warning", &l), 0);
	assert_int_equal(l, VS_LOG_WARN);
	assert_int_equal(vs_log_level_parse("trace", &l), 0);
	assert_int_equal(l, VS_LOG_TRACE);
	assert_int_equal(vs_log_level_parse("verbose", &l), -1);
	assert_int_equal(vs_log_level_parse(NULL, &l), -1);
	assert_int_equal(l, VS_LOG_TRACE);
	assert_int_equal(vs_log_format_parse("json", &f), 0);
	assert_int_equal(f, VS_LOG_JSON);
	assert_int_equal(vs_log_format_parse("yaml", &f), -1);
	assert_string_equal(vs_log_level_name(VS_LOG_WARN), "warn");
}

/* ------------------------------------------------------------------ */

static void test_escaping_text(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"plain", "plain"},
		{"a\nb\rc\td", "a\\nb\\rc\\td"},
		{"bell\x07"
		 "esc\x1b[31m",
		 "bell\\x07esc\\x1b[31m"},
		{"del\x7f", "del\\x7f"},
		{"caf\xc3\xa9 \xe2\x82\xac", "caf\xc3\xa9 \xe2\x82\xac"},
		{"bad\xff\xfe", "bad\\xff\\xfe"},
		{"cut\xc3", "cut\\xc3"},
		{"overlong\xc0\xaf", "overlong\\xc0\\xaf"},
		{"surrogate\xed\xa0\x80", "surrogate\\xed\\xa0\\x80"},
		{"quote\" back\\", "quote\" back\\"},
	};
	char out[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		vs_log_sanitize(out, sizeof(out), cases[i].in);
		assert_string_equal(out, cases[i].out);
	}
	/* A forged line cannot start a new line of its own. */
	use_file(VS_LOG_INFO, VS_LOG_TEXT, 0);
	vs_log_set_worker(-1);
	vs_log(VS_LOG_INFO, "vm\nERROR", "name=%s", "x\nERROR fake");
	{
		char *s = one_line();
		assert_string_equal(s, "INFO vm\\nERROR: name=x\\nERROR fake");
		free(s);
	}
}

static void test_escaping_json(void **state)
{
	json_error_t je;
	json_t *j;
	char *s;

	(void)state;
	use_file(VS_LOG_INFO, VS_LOG_JSON, 0);
	vs_log_set_worker(-1);
	vs_log(VS_LOG_INFO, "t\"ag",
	       "q\" b\\ n\n t\t c\x01 d\x7f e\xc3\xa9 "
	       "bad\xff end");
	s = one_line();
	j = json_loads(s, 0, &je);
	if (!j)
		fail_msg("not JSON (%s): %s", je.text, s);
	assert_string_equal(json_string_value(json_object_get(j, "tag")),
			    "t\"ag");
	assert_string_equal(json_string_value(json_object_get(j, "msg")),
			    "q\" b\\ n\n t\t c\x01 d\x7f e\xc3\xa9 "
			    "bad\xef\xbf\xbd end");
	json_decref(j);
	free(s);
}

/* ------------------------------------------------------------------ */

static void test_redaction(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"Authorization: Bearer abc.def", "Authorization: [REDACTED]"},
		{"authorization: Basic YWRtaW46c2VjcmV0\r\nAccept: x",
		 "authorization: [REDACTED]\\r\\nAccept: x"},
		{"X-Auth-Token: gAAAAABk", "X-Auth-Token: [REDACTED]"},
		{"x-subject-token:gAAAA", "x-subject-token:[REDACTED]"},
		{"vmware-api-session-id: 3f2a\nnext",
		 "vmware-api-session-id: [REDACTED]\\nnext"},
		{"Cookie: JSESSIONID=abc; other=1", "Cookie: [REDACTED]"},
		{"Set-Cookie: s=1; Path=/", "Set-Cookie: [REDACTED]"},
		{"Proxy-Authorization: Basic x",
		 "Proxy-Authorization: [REDACTED]"},
		{"{\"password\":\"x\"}", "{\"password\":\"[REDACTED]\"}"},
		{"{\"password\": \"hun\\\"ter2\", \"user\": \"bob\"}",
		 "{\"password\": \"[REDACTED]\", \"user\": \"bob\"}"},
		{"{\"application_credential_secret\":\"s3\",\"id\":\"1\"}",
		 "{\"application_credential_secret\":\"[REDACTED]\",\"id\":"
		 "\"1\"}"},
		{"{\"access_token\":\"eyJ\",\"token_type\":\"Bearer\"}",
		 "{\"access_token\":\"[REDACTED]\",\"token_type\":\"Bearer\"}"},
		{"{\"secret\": 12345, \"n\": 1}",
		 "{\"secret\": [REDACTED], \"n\": 1}"},
		{"{\"Password\":\"X\"}", "{\"Password\":\"[REDACTED]\"}"},
		{"password=x&user=bob", "password=[REDACTED]&user=bob"},
		{"grant_type=password&username=a&password=p%40ss",
		 "grant_type=password&username=a&password=[REDACTED]"},
		{"GET /x?token=abc&limit=5", "GET /x?token=[REDACTED]&limit=5"},
		{"headers [\"X-Auth-Token: t1\", \"Accept: json\"]",
		 "headers [\"X-Auth-Token: [REDACTED]\", \"Accept: json\"]"},
		{"{\\\"password\\\":\\\"x\\\"}",
		 "{\\\"password\\\":\\\"[REDACTED]\\\"}"},
		{"password: hunter2", "password: [REDACTED]"},
		/* Spaces or quotes around the value of name=value. */
		{"password=\"hun ter2\" user=bob",
		 "password=\"[REDACTED]\" user=bob"},
		{"password='hunter2'", "password='[REDACTED]'"},
		{"password = hunter2 x", "password = [REDACTED] x"},
		/* A credential name at the end of a longer one. */
		{"OS_PASSWORD=hunter2", "OS_PASSWORD=[REDACTED]"},
		{"db-password: hunter2", "db-password: [REDACTED]"},
		{"{\"auth_token\":\"abc\",\"n\":1}",
		 "{\"auth_token\":\"[REDACTED]\",\"n\":1}"},
		{"{\"subject_token\": \"zzz\"}",
		 "{\"subject_token\": \"[REDACTED]\"}"},
		/* A password in a URL. */
		{"GET https://admin:hun@ter2@vc:443/api?x=1",
		 "GET https://admin:[REDACTED]@vc:443/api?x=1"},
		{"https://admin@vc/a https://vc:8443/a@b",
		 "https://admin@vc/a https://vc:8443/a@b"},
		{"password_env=VC_PASS", "password_env=VC_PASS"},
		{"run --password=hunter2", "run --password=[REDACTED]"},
		/* Not credentials: whole words only, and structures stay. */
		{"tokens=5 token_id=3 passwords",
		 "tokens=5 token_id=3 passwords"},
		{"{\"token\": {\"expires_at\": \"2024\"}}",
		 "{\"token\": {\"expires_at\": \"2024\"}}"},
		{"the token expired", "the token expired"},
		{"POST /ovirt-engine/sso/oauth/token: 503, retrying in 200 ms",
		 "POST /ovirt-engine/sso/oauth/token: 503, retrying in 200 ms"},
		{"POST /a/token?password=x",
		 "POST /a/token?password=[REDACTED]"},
		{"password", "password"},
		/* An unterminated secret hides everything after it. */
		{"{\"password\":\"abc", "{\"password\":\"[REDACTED]"},
	};
	char out[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		vs_log_sanitize(out, sizeof(out), cases[i].in);
		if (strcmp(out, cases[i].out) != 0)
			fail_msg("case %zu: '%s' gave '%s', want '%s'", i,
				 cases[i].in, out, cases[i].out);
	}

	/* Through the logger, in both formats, the secret never appears. */
	use_file(VS_LOG_INFO, VS_LOG_JSON, 1);
	vs_log(VS_LOG_INFO, "rhv-lab", "POST body {\"password\":\"S3cr3t!\"}");
	vs_log(VS_LOG_INFO, "rhv-lab", "Authorization: Bearer S3cr3t!");
	vs_log_teardown();
	use_file(VS_LOG_INFO, VS_LOG_TEXT, 1);
	vs_log(VS_LOG_INFO, "rhv-lab", "password=S3cr3t!&x=1");
	{
		char *s = slurp(NULL);
		assert_null(strstr(s, "S3cr3t"));
		assert_non_null(strstr(s, "[REDACTED]"));
		free(s);
	}
}

static void test_truncation(void **state)
{
	char *big = malloc(3 * VS_LOG_LINE_MAX);
	char small[32];
	json_error_t je;
	json_t *j;
	char *s;
	size_t i;

	(void)state;
	assert_non_null(big);
	/* Mixed 1-, 2-, 3- and 6-byte escapes so any cut could split one. */
	for (i = 0; i + 3 < 3 * VS_LOG_LINE_MAX - 1; i += 4)
		memcpy(big + i, "\x01\xc3\xa9z", 4);
	big[i] = '\0';
	use_file(VS_LOG_INFO, VS_LOG_JSON, 1);
	vs_log(VS_LOG_INFO, "t", "%s", big);
	s = one_line();
	assert_true(strlen(s) + 1 <= VS_LOG_LINE_MAX);
	j = json_loads(s, 0, &je);
	if (!j)
		fail_msg("truncated line is not JSON: %s", je.text);
	{
		const char *m = json_string_value(json_object_get(j, "msg"));
		size_t ml = strlen(m);
		assert_true(ml > 1000);
		assert_string_equal(m + ml - strlen("...[truncated]"),
				    "...[truncated]");
	}
	json_decref(j);
	free(s);

	use_file(VS_LOG_INFO, VS_LOG_TEXT, 0);
	vs_log(VS_LOG_INFO, "t", "%s", big);
	s = one_line();
	assert_true(strlen(s) + 1 <= VS_LOG_LINE_MAX);
	assert_string_equal(s + strlen(s) - strlen("...[truncated]"),
			    "...[truncated]");
	free(s);

	/* sanitize: bounded, terminated, never half an escape. */
	vs_log_sanitize(small, sizeof(small),
			"abcdefghij\x01\x01\x01\x01"
			"klmnopqrstuvwxyz0123456789");
	assert_true(strlen(small) < sizeof(small));
	assert_string_equal(small + strlen(small) - 14, "...[truncated]");
	assert_int_equal(strncmp(small, "abcdefghij\\x01", 14), 0);
	vs_log_sanitize(small, 3, "\x01\x01");
	assert_string_equal(small, "");
	vs_log_sanitize(small, 5, "\x01\x01");
	assert_string_equal(small, "\\x01");
	free(big);
}

static void test_file_errors_and_reopen(void **state)
{
	struct vs_log_opts o = {VS_LOG_INFO, VS_LOG_TEXT, -1,
				"/nonexistent-dir/vmsweep.log", 0};
	struct vs_error err;
	char rotated[80];
	char *s;

	(void)state;
	vs_error_clear(&err);
	assert_int_equal(vs_log_setup(&o, &err), VS_ERR);
	assert_int_equal(err.cls, VS_EC_CONFIG);
	assert_non_null(strstr(err.message, "/nonexistent-dir/vmsweep.log"));

	/* Without a file, reopen has nothing to do. */
	vs_log_teardown();
	assert_int_equal(vs_log_reopen(NULL), 0);

	/* logrotate: rename, reopen, new lines go to a new file. */
	use_file(VS_LOG_INFO, VS_LOG_TEXT, 0);
	vs_log_set_worker(-1);
	vs_log(VS_LOG_INFO, NULL, "before");
	snprintf(rotated, sizeof(rotated), "%s.1", path);
	assert_int_equal(rename(path, rotated), 0);
	vs_log(VS_LOG_INFO, NULL, "still old");
	assert_int_equal(vs_log_reopen(NULL), 0);
	vs_log(VS_LOG_INFO, NULL, "after");
	s = slurp(NULL);
	assert_string_equal(s, "INFO after\n");
	free(s);
	{
		FILE *f = fopen(rotated, "r");
		char buf[64] = "";
		size_t n;
		assert_non_null(f);
		n = fread(buf, 1, sizeof(buf) - 1, f);
		buf[n] = '\0';
		fclose(f);
		assert_string_equal(buf, "INFO before\nINFO still old\n");
	}
	unlink(rotated);
	{
		struct stat st;
		assert_int_equal(stat(path, &st), 0);
	}
}

/* ------------------------------------------------------------------ */
/* Many threads.                                                        */

static atomic_int stop_reopen;

static void *log_thread(void *arg)
{
	int id = (int)(intptr_t)arg, i;
	char pad[3000];

	memset(pad, 'a' + id % 26, sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	vs_log_set_worker(id);
	for (i = 0; i < LINES_PER_THREAD; i++) {
		/* Lengths from a few bytes to a few kilobytes. */
		int padlen = (int)((unsigned)(i * 7919 + id * 104729) % 2999);
		vs_log(VS_LOG_INFO, "load", "t=%d i=%d pad=%.*s", id, i, padlen,
		       pad);
	}
	return NULL;
}

static void *reopen_thread(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop_reopen))
		if (vs_log_reopen(NULL))
			return (void *)1;
	return NULL;
}

static void run_threads(void)
{
	pthread_t t[THREADS], r;
	void *rv = NULL;
	int i;

	atomic_store(&stop_reopen, 0);
	assert_int_equal(pthread_create(&r, NULL, reopen_thread, NULL), 0);
	for (i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, log_thread,
						(void *)(intptr_t)i),
				 0);
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	atomic_store(&stop_reopen, 1);
	pthread_join(r, &rv);
	assert_null(rv);
}

/* Check t=, i= and pad of one message; updates the per-thread count. */
static void check_msg(const char *msg, int worker, int *next)
{
	int t = -1, i = -1, n = 0, padlen;
	const char *pad;
	size_t k;

	if (sscanf(msg, "t=%d i=%d pad=%n", &t, &i, &n) != 2 || n == 0)
		fail_msg("mangled message: %.80s", msg);
	assert_true(t >= 0 && t < THREADS);
	assert_int_equal(t, worker);
	/* Each thread's lines arrive whole and in its own order. */
	assert_int_equal(i, next[t]);
	next[t]++;
	pad = msg + n;
	padlen = (int)((unsigned)(i * 7919 + t * 104729) % 2999);
	assert_int_equal(strlen(pad), (size_t)padlen);
	for (k = 0; k < (size_t)padlen; k++)
		if (pad[k] != 'a' + t % 26)
			fail_msg("thread %d line %d: foreign byte in pad", t,
				 i);
}

static void test_threads_json(void **state)
{
	int next[THREADS] = {0}, i;
	size_t len, lines = 0;
	char *s, *line, *save;

	(void)state;
	use_file(VS_LOG_INFO, VS_LOG_JSON, 1);
	run_threads();
	vs_log_teardown();
	s = slurp(&len);
	assert_true(len > 0 && s[len - 1] == '\n');
	for (line = s; (save = strchr(line, '\n')); line = save + 1) {
		json_error_t je;
		json_t *j;
		*save = '\0';
		j = json_loads(line, 0, &je);
		if (!j)
			fail_msg("line %zu is not JSON: %.80s", lines, line);
		assert_string_equal(
			json_string_value(json_object_get(j, "level")), "info");
		assert_string_equal(
			json_string_value(json_object_get(j, "tag")), "load");
		check_msg(json_string_value(json_object_get(j, "msg")),
			  (int)json_integer_value(json_object_get(j, "worker")),
			  next);
		json_decref(j);
		lines++;
	}
	assert_int_equal(lines, (size_t)THREADS * LINES_PER_THREAD);
	for (i = 0; i < THREADS; i++)
		assert_int_equal(next[i], LINES_PER_THREAD);
	free(s);
}

static void test_threads_text(void **state)
{
	int next[THREADS] = {0}, i;
	size_t len, lines = 0;
	char *s, *line, *save;

	(void)state;
	use_file(VS_LOG_INFO, VS_LOG_TEXT, 1);
	run_threads();
	vs_log_teardown();
	s = slurp(&len);
	assert_true(len > 0 && s[len - 1] == '\n');
	for (line = s; (save = strchr(line, '\n')); line = save + 1) {
		int w = -1, n = 0;
		int64_t t;
		char ts[32];
		*save = '\0';
		/* 2026-11-25T17:40:44.123Z INFO [w3] load: t=3 ... */
		if (strlen(line) < 25 || line[24] != ' ')
			fail_msg("line %zu has no timestamp: %.80s", lines,
				 line);
		memcpy(ts, line, 24);
		ts[24] = '\0';
		assert_int_equal(vs_time_parse(ts, &t), 0);
		if (sscanf(line + 25, "INFO [w%d] load: %n", &w, &n) != 1 ||
		    n == 0)
			fail_msg("line %zu is mangled: %.80s", lines, line);
		check_msg(line + 25 + n, w, next);
		lines++;
	}
	assert_int_equal(lines, (size_t)THREADS * LINES_PER_THREAD);
	for (i = 0; i < THREADS; i++)
		assert_int_equal(next[i], LINES_PER_THREAD);
	free(s);
}

/* ------------------------------------------------------------------ */
/* Journal mode and the terminal hook.                                  */

/* A second file standing in for stderr; its descriptor in *fd. */
static char fdpath[64];

static int open_fd_file(void)
{
	int fd;

	snprintf(fdpath, sizeof(fdpath), "/tmp/vs_test_log_fd_XXXXXX");
	fd = mkstemp(fdpath);
	assert_true(fd >= 0);
	return fd;
}

static char *slurp_path(const char *p)
{
	char *s;
	char keep[64];

	memcpy(keep, path, sizeof(keep));
	memcpy(path, p, sizeof(path));
	s = slurp(NULL);
	memcpy(path, keep, sizeof(path));
	return s;
}

static void test_journal_mode(void **state)
{
	struct vs_log_opts o = {VS_LOG_TRACE, VS_LOG_TEXT, -1, NULL, 1};
	int fd = open_fd_file();
	char *s, *f;

	(void)state;
	o.fd = fd;
	o.file = path;
	assert_int_equal(vs_log_setup(&o, NULL), 0);
	vs_log_set_journal(1);
	vs_log_set_worker(2);
	vs_log(VS_LOG_ERROR, "osp-lab", "e");
	vs_log_set_worker(-1);
	vs_log(VS_LOG_WARN, NULL, "w");
	vs_log(VS_LOG_INFO, "t", "i");
	vs_log(VS_LOG_DEBUG, "t", "d");
	vs_log(VS_LOG_TRACE, "t", "password=hunter2\nx");
	s = slurp_path(fdpath);
	/* journald adds the time: no timestamp, a priority first. */
	assert_string_equal(s, "<3>ERROR [w2] osp-lab: e\n"
			       "<4>WARN w\n"
			       "<6>INFO t: i\n"
			       "<7>DEBUG t: d\n"
			       "<7>TRACE t: password=[REDACTED]\\nx\n");
	free(s);
	/* The file keeps its timestamps and has no priorities. */
	f = slurp(NULL);
	assert_null(strstr(f, "<"));
	assert_int_equal(f[23], 'Z');
	assert_non_null(strstr(f, "Z ERROR [w2] osp-lab: e\n"));
	assert_non_null(strstr(f, "Z TRACE t: password=[REDACTED]\\nx\n"));
	free(f);

	/* JSON lines get the priority in front of the object. */
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	o.format = VS_LOG_JSON;
	o.file = NULL;
	assert_int_equal(vs_log_setup(&o, NULL), 0);
	vs_log_set_journal(1);
	vs_log(VS_LOG_WARN, "t", "w");
	s = slurp_path(fdpath);
	assert_string_equal(s, "<4>{\"level\":\"warn\",\"tag\":\"t\","
			       "\"msg\":\"w\"}\n");
	free(s);

	/* A new setup leaves journal mode. */
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	o.format = VS_LOG_TEXT;
	o.timestamps = 0;
	assert_int_equal(vs_log_setup(&o, NULL), 0);
	vs_log(VS_LOG_INFO, NULL, "plain");
	s = slurp_path(fdpath);
	assert_string_equal(s, "INFO plain\n");
	free(s);
	vs_log_teardown();
	close(fd);
	unlink(fdpath);
}

static void test_stream_is_journal(void **state)
{
	int fd = open_fd_file(), other = open(path, O_RDONLY);
	struct stat st;
	char v[64];
	const char *old = getenv("JOURNAL_STREAM");
	char *keep = old ? strdup(old) : NULL;

	(void)state;
	assert_true(other >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	unsetenv("JOURNAL_STREAM");
	assert_false(vs_log_stream_is_journal(fd));
	snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", v, 1);
	assert_true(vs_log_stream_is_journal(fd));
	/* Another file (a redirected stderr) does not match. */
	assert_false(vs_log_stream_is_journal(other));
	assert_false(vs_log_stream_is_journal(-1));
	snprintf(v, sizeof(v), "%llu:%llux", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", v, 1);
	assert_false(vs_log_stream_is_journal(fd));
	setenv("JOURNAL_STREAM", ":", 1);
	assert_false(vs_log_stream_is_journal(fd));
	setenv("JOURNAL_STREAM", "", 1);
	assert_false(vs_log_stream_is_journal(fd));
	if (keep)
		setenv("JOURNAL_STREAM", keep, 1);
	else
		unsetenv("JOURNAL_STREAM");
	free(keep);
	close(other);
	close(fd);
	unlink(fdpath);
}

/*
 * The terminal hook against a drawing thread: "@P@" stands for the
 * progress line (drawn under the logger's lock), "#C#" for its erasure
 * (the hook, before each log line).  Whatever the interleaving, every
 * log line arrives whole, and a drawing in front of it is always erased
 * before the line starts.
 */
#define HOOK_THREADS 4
#define HOOK_LINES   2000

static int drawn; /* under the logger's lock */
static atomic_int hook_calls;
static atomic_int stop_drawing;

static void clear_hook(int fd, void *udata)
{
	assert_int_equal(fd, *(int *)udata);
	atomic_fetch_add(&hook_calls, 1);
	if (drawn && write(fd, "#C#", 3) == 3)
		drawn = 0;
}

static void draw(int fd, void *udata)
{
	(void)udata;
	if (fd >= 0 && write(fd, "@P@", 3) == 3)
		drawn = 1;
}

static void *draw_thread(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop_drawing))
		vs_log_with_lock(draw, NULL);
	return NULL;
}

static void *short_log_thread(void *arg)
{
	int id = (int)(intptr_t)arg, i;

	for (i = 0; i < HOOK_LINES; i++)
		vs_log(VS_LOG_INFO, "load", "t=%d i=%d end", id, i);
	return NULL;
}

static void test_tty_hook(void **state)
{
	struct vs_log_opts o = {VS_LOG_INFO, VS_LOG_TEXT, -1, NULL, 0};
	pthread_t t[HOOK_THREADS], d;
	int fd = open_fd_file(), i, lines = 0;
	int next[HOOK_THREADS] = {0};
	char *s, *line, *nl;

	(void)state;
	o.fd = fd;
	assert_int_equal(vs_log_setup(&o, NULL), 0);
	drawn = 0;
	atomic_store(&hook_calls, 0);
	atomic_store(&stop_drawing, 0);
	vs_log_set_tty_hook(clear_hook, &fd);
	assert_int_equal(pthread_create(&d, NULL, draw_thread, NULL), 0);
	for (i = 0; i < HOOK_THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, short_log_thread,
						(void *)(intptr_t)i),
				 0);
	for (i = 0; i < HOOK_THREADS; i++)
		pthread_join(t[i], NULL);
	atomic_store(&stop_drawing, 1);
	pthread_join(d, NULL);
	vs_log_set_tty_hook(NULL, NULL);
	assert_int_equal(atomic_load(&hook_calls), HOOK_THREADS * HOOK_LINES);
	/* Removed: no more calls. */
	vs_log(VS_LOG_INFO, "load", "t=0 i=%d end", HOOK_LINES);
	assert_int_equal(atomic_load(&hook_calls), HOOK_THREADS * HOOK_LINES);

	s = slurp_path(fdpath);
	for (line = s; (nl = strchr(line, '\n')); line = nl + 1) {
		int id = -1, k = -1, n = 0, pending = 0;

		*nl = '\0';
		/* Drawings and erasures come only before the text. */
		for (;;) {
			if (strncmp(line, "@P@", 3) == 0)
				pending = 1;
			else if (strncmp(line, "#C#", 3) == 0)
				pending = 0;
			else
				break;
			line += 3;
		}
		if (sscanf(line, "INFO load: t=%d i=%d end%n", &id, &k, &n) !=
			    2 ||
		    line[n] != '\0')
			fail_msg("torn line: %.80s", line);
		assert_true(id >= 0 && id < HOOK_THREADS);
		/* The last line came after the hook was removed. */
		if (k == HOOK_LINES)
			continue;
		assert_false(pending);
		assert_int_equal(k, next[id]);
		next[id]++;
		lines++;
	}
	assert_int_equal(lines, HOOK_THREADS * HOOK_LINES);
	free(s);
	vs_log_teardown();
	close(fd);
	unlink(fdpath);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_text_format, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_json_format, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_level_filtering, setup,
						teardown),
		cmocka_unit_test(test_level_and_format_parse),
		cmocka_unit_test_setup_teardown(test_escaping_text, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_escaping_json, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_redaction, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_truncation, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_file_errors_and_reopen,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads_json, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_threads_text, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_journal_mode, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_stream_is_journal, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_tty_hook, setup, teardown),
	};
	alarm(300); /* a hang is a failure */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
