/*
 * test_timeutil.c - RFC 3339 parsing and formatting, durations.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <time.h>

#include "timeutil.h"

/* VMSWEEP_NOW's shift: the wall clock reads the time set, then runs on;
 * the monotonic clock is not touched. */
static void test_set_now(void **state)
{
	int64_t mono = vs_time_mono_ms(), real = vs_time_now(), t;

	(void)state;
	vs_time_set_now(1893456000); /* 2030-01-01T00:00:00Z */
	t = vs_time_now();
	assert_true(t >= 1893456000 && t <= 1893456000 + 5);
	assert_true(vs_time_now_ms() / 1000 >= 1893456000);
	assert_true(vs_time_mono_ms() - mono < 5000);
	vs_time_set_now(-3600);
	assert_true(vs_time_now() >= -3600 && vs_time_now() <= -3600 + 5);
	/* Back to (about) the real clock for the other tests. */
	vs_time_set_now(real);
}

static void test_parse_valid(void **state)
{
	static const struct {
		const char *s;
		int64_t t;
	} cases[] = {
		{"1970-01-01T00:00:00Z", 0},
		{"2024-05-01T04:01:32Z", 1714536092},
		{"2024-05-01T04:01:32.774549", 1714536092},
		{"2024-05-01T04:01:32.774549Z", 1714536092},
		{"2024-05-01t04:01:32z", 1714536092},
		{"2024-05-01 04:01:32", 1714536092},
		{"2024-05-01T06:01:32+02:00", 1714536092},
		{"2024-05-01T06:01:32.5+0200", 1714536092},
		{"2024-04-30T23:31:32-04:30", 1714536092},
		{"2024-05-01T04:01:32+00:00", 1714536092},
		{"2024-05-01", 1714521600},
		{"2024-02-29T12:00:00Z", 1709208000},
		{"2000-02-29T00:00:00Z", 951782400},
		{"1969-12-31T23:59:59Z", -1},
		{"1900-01-01T00:00:00Z", -2208988800LL},
		{"2038-01-19T03:14:08Z", 2147483648LL},
		{"9999-12-31T23:59:59Z", 253402300799LL},
		{"2016-12-31T23:59:60Z", 1483228800}, /* leap second */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t t = 12345;
		assert_int_equal(vs_time_parse(cases[i].s, &t), 0);
		if (t != cases[i].t)
			fail_msg("%s: %lld, want %lld", cases[i].s,
				 (long long)t, (long long)cases[i].t);
	}
}

static void test_parse_invalid(void **state)
{
	static const char *const bad[] = {
		"",
		"now",
		"2024",
		"2024-05",
		"2024-5-01T00:00:00Z",
		"2024-05-01T",
		"2024-05-01T04:01Z",
		"2024-05-01T04:01:32ZZ",
		"2024-05-01T04:01:32 Z",
		"2024-05-01T04:01:32.",
		"2024-05-01T04:01:32.Z",
		"2024-05-01T04:01:32+2",
		"2024-05-01T04:01:32+02:",
		"2024-05-01T04:01:32+24:00",
		"2024-13-01T00:00:00Z",
		"2024-00-01T00:00:00Z",
		"2024-02-30T00:00:00Z",
		"2023-02-29T00:00:00Z",
		"1900-02-29T00:00:00Z",
		"2024-04-31T00:00:00Z",
		"2024-05-01T24:00:00Z",
		"2024-05-01T23:60:00Z",
		"2024-05-01T23:59:61Z",
		"2024-05-01T04:01:32Zjunk",
		" 2024-05-01T04:01:32Z",
		"-2024-05-01T04:01:32Z",
		"+12024-05-01T04:01:32Z",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t t = 777;
		if (vs_time_parse(bad[i], &t) != -1)
			fail_msg("accepted '%s'", bad[i]);
		assert_int_equal(t, 777); /* untouched on failure */
	}
	assert_int_equal(vs_time_parse(NULL, NULL), -1);
}

static void test_format(void **state)
{
	char buf[32];

	(void)state;
	vs_time_format(buf, sizeof(buf), 0);
	assert_string_equal(buf, "1970-01-01T00:00:00Z");
	vs_time_format(buf, sizeof(buf), 1714536092);
	assert_string_equal(buf, "2024-05-01T04:01:32Z");
	vs_time_format(buf, sizeof(buf), -1);
	assert_string_equal(buf, "1969-12-31T23:59:59Z");
	vs_time_format(buf, 21, 1709208000);
	assert_string_equal(buf, "2024-02-29T12:00:00Z");
	/* Far beyond 4-digit years: clamped, still RFC 3339. */
	vs_time_format(buf, sizeof(buf), INT64_MAX);
	assert_string_equal(buf, "9999-12-31T23:59:59Z");
	vs_time_format(buf, sizeof(buf), INT64_MIN);
	assert_string_equal(buf, "0000-01-01T00:00:00Z");
	/* Truncated, still terminated. */
	vs_time_format(buf, 5, 0);
	assert_string_equal(buf, "1970");

	vs_time_format_ms(buf, 25, 1714536092123LL);
	assert_string_equal(buf, "2024-05-01T04:01:32.123Z");
	vs_time_format_ms(buf, sizeof(buf), 5);
	assert_string_equal(buf, "1970-01-01T00:00:00.005Z");
	vs_time_format_ms(buf, sizeof(buf), -1);
	assert_string_equal(buf, "1969-12-31T23:59:59.999Z");
	vs_time_format_ms(buf, sizeof(buf), INT64_MIN);
	assert_string_equal(buf, "0000-01-01T00:00:00.000Z");
}

/* Every second of a walk across four centuries survives a round trip,
 * and agrees with the C library's own UTC conversion. */
static void test_round_trip(void **state)
{
	char buf[32], ref[32];
	int64_t t, back;

	(void)state;
	for (t = -2208988800LL; t < 4102444800LL; t += 86400 * 7 + 3671) {
		time_t tt = (time_t)t;
		struct tm tm;

		vs_time_format(buf, sizeof(buf), t);
		assert_non_null(gmtime_r(&tt, &tm));
		strftime(ref, sizeof(ref), "%Y-%m-%dT%H:%M:%SZ", &tm);
		assert_string_equal(buf, ref);
		assert_int_equal(vs_time_parse(buf, &back), 0);
		assert_int_equal(back, t);
	}
}

static void test_now(void **state)
{
	int64_t s, ms, m1, m2;

	(void)state;
	s = vs_time_now();
	ms = vs_time_now_ms();
	assert_true(s > 1700000000); /* after 2023: the clock is set */
	assert_true(ms / 1000 >= s);
	m1 = vs_time_mono_ms();
	m2 = vs_time_mono_ms();
	assert_true(m2 >= m1);
}

static void test_duration_valid(void **state)
{
	static const struct {
		const char *s;
		int64_t ms;
	} cases[] = {
		{"90s", 90000},
		{"4h", 4 * 3600000LL},
		{"7d", 7 * 86400000LL},
		{"1h30m", 5400000},
		{"250ms", 250},
		{"2w", 14 * 86400000LL},
		{"45", 45000},
		{"0", 0},
		{"0s", 0},
		{"1w2d3h4m5s6ms",
		 (9 * 86400LL + 3 * 3600 + 4 * 60 + 5) * 1000 + 6},
		{"1m30s", 90000},
		{"10m", 600000},
		{" 5m ", 300000},
		{"9223372036854775807ms", INT64_MAX},
		{"9223372036854775s", 9223372036854775000LL},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t ms = -5;
		if (vs_duration_parse(cases[i].s, &ms) != 0)
			fail_msg("rejected '%s'", cases[i].s);
		if (ms != cases[i].ms)
			fail_msg("%s: %lld, want %lld", cases[i].s,
				 (long long)ms, (long long)cases[i].ms);
	}
}

static void test_duration_invalid(void **state)
{
	static const char *const bad[] = {
		"",
		" ",
		"h",
		"-5s",
		"+5s",
		"1.5h",
		"5x",
		"5 s",
		"1h30",
		"30m1h",
		"1h1h",
		"1s1m",
		"5msx",
		"1y",
		"9223372036854775808",
		"9223372036854775808ms",
		"9223372036854776s",
		"106751991167301d",
		"15250284452472w",
		"9223372036854775807ms1ms",
		"99999999999999999999999999h",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t ms = 777;
		if (vs_duration_parse(bad[i], &ms) != -1)
			fail_msg("accepted '%s'", bad[i]);
		assert_int_equal(ms, 777);
	}
	assert_int_equal(vs_duration_parse(NULL, NULL), -1);
}

static void test_duration_format(void **state)
{
	static const struct {
		int64_t ms;
		const char *s;
	} cases[] = {
		{0, "0s"},
		{250, "250ms"},
		{90000, "1m30s"},
		{4 * 3600000LL, "4h"},
		{5400000, "1h30m"},
		{14 * 86400000LL, "14d"},
		{86400000LL + 1, "1d1ms"},
		{-1500, "-1s500ms"},
	};
	int64_t samples[] = {1,	      999,	1000,		61001,
			     3599999, 86399999, 123456789012LL, INT64_MAX};
	char buf[64];
	int64_t back;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		vs_duration_format(buf, sizeof(buf), cases[i].ms);
		assert_string_equal(buf, cases[i].s);
	}
	/* Formatting then parsing gives the same value back. */
	for (i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		vs_duration_format(buf, sizeof(buf), samples[i]);
		assert_int_equal(vs_duration_parse(buf, &back), 0);
		assert_int_equal(back, samples[i]);
	}
	vs_duration_format(buf, sizeof(buf), INT64_MIN);
	assert_int_equal(buf[0], '-');
	vs_duration_format(buf, 4, 5400000); /* truncated, terminated */
	assert_int_equal(strlen(buf), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_valid),
		cmocka_unit_test(test_set_now),
		cmocka_unit_test(test_parse_invalid),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_now),
		cmocka_unit_test(test_duration_valid),
		cmocka_unit_test(test_duration_invalid),
		cmocka_unit_test(test_duration_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
