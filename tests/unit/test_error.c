/*
 * test_error.c - error class names are stable and round-trip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "error.h"

static void test_names_round_trip(void **state)
{
	static const char *const names[] = {
		"none",
		"auth",
		"throttled",
		"conflict",
		"locked",
		"protected",
		"not_found",
		"server",
		"client",
		"transport",
		"timeout",
		"tls",
		"invalid_response",
		"cancelled",
		"config",
		"internal",
	};
	enum vs_err_class c;
	size_t i;

	(void)state;
	assert_int_equal(sizeof(names) / sizeof(names[0]), VS_EC_INTERNAL + 1);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_string_equal(vs_err_class_name((enum vs_err_class)i),
				    names[i]);
		assert_int_equal(vs_err_class_parse(names[i], &c), 0);
		assert_int_equal(c, (enum vs_err_class)i);
	}
	assert_string_equal(vs_err_class_name(VS_EC_THROTTLED), "throttled");
	assert_string_equal(vs_err_class_name(VS_EC_INVALID_RESPONSE),
			    "invalid_response");
}

static void test_unknown(void **state)
{
	enum vs_err_class c = VS_EC_AUTH;

	(void)state;
	assert_int_equal(vs_err_class_parse("Auth", &c), -1);
	assert_int_equal(vs_err_class_parse("", &c), -1);
	assert_int_equal(vs_err_class_parse(NULL, &c), -1);
	assert_int_equal(c, VS_EC_AUTH);
	assert_string_equal(vs_err_class_name((enum vs_err_class)99),
			    "internal");
}

static void test_first_failure_wins(void **state)
{
	struct vs_error err;

	(void)state;
	vs_error_clear(&err);
	assert_int_equal(
		vs_error_set(&err, VS_EC_TIMEOUT, 0, 1, "first\n%d", 1),
		VS_ERR);
	vs_error_set(&err, VS_EC_SERVER, 500, 0, "second");
	assert_int_equal(err.cls, VS_EC_TIMEOUT);
	assert_int_equal(err.retryable, 1);
	assert_string_equal(err.message, "first 1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_round_trip),
		cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_first_failure_wins),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
