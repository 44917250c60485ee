/*
 * test_buf.c - the capped buffer: content, the cap, all-or-nothing
 * appends, percent-encoding, detach and reuse.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

static void test_init_empty(void **state)
{
	struct vs_buf b;

	(void)state;
	vs_buf_init(&b, 100);
	assert_non_null(b.s);
	assert_string_equal(b.s, "");
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 100);
	vs_buf_release(&b);
	assert_non_null(b.s);
	assert_string_equal(b.s, "");

	vs_buf_init(&b, 0);
	assert_int_equal(b.cap, VS_BUF_DEFAULT_CAP);
	vs_buf_reset(&b); /* on the shared empty string: must not write */
	assert_string_equal(b.s, "");
	vs_buf_release(&b);
	vs_buf_release(NULL);
}

static void test_appends(void **state)
{
	struct vs_buf b;

	(void)state;
	vs_buf_init(&b, 1000);
	assert_int_equal(vs_buf_adds(&b, "abc"), 0);
	assert_int_equal(vs_buf_addc(&b, '-'), 0);
	assert_int_equal(vs_buf_add(&b, "xyz", 2), 0);
	assert_int_equal(vs_buf_addf(&b, "[%d:%s]", 42, "q"), 0);
	assert_int_equal(vs_buf_add(&b, NULL, 0), 0);
	assert_string_equal(b.s, "abc-xy[42:q]");
	assert_int_equal(b.len, strlen("abc-xy[42:q]"));
	vs_buf_release(&b);
}

static void test_growth(void **state)
{
	struct vs_buf b;
	char big[300];
	size_t i;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	vs_buf_init(&b, 1 << 20);
	for (i = 0; i < 1000; i++)
		assert_int_equal(vs_buf_addf(&b, "%s%zu", big, i % 10), 0);
	assert_int_equal(b.len, 1000 * 300);
	for (i = 0; i < 1000; i++) {
		assert_int_equal(b.s[i * 300 + 298], 'x');
		assert_int_equal(b.s[i * 300 + 299], (char)('0' + i % 10));
	}
	assert_int_equal(b.s[b.len], '\0');
	vs_buf_release(&b);
}

static void test_cap_exact_and_refused(void **state)
{
	struct vs_buf b;
	size_t alloc;

	(void)state;
	vs_buf_init(&b, 10);
	assert_int_equal(vs_buf_adds(&b, "0123456789"), 0); /* exactly cap */
	assert_int_equal(b.len, 10);
	assert_true(b.alloc <= 11);
	assert_int_equal(vs_buf_addc(&b, 'x'), VS_BUF_TOO_BIG);
	assert_int_equal(vs_buf_addf(&b, "%d", 1), VS_BUF_TOO_BIG);
	assert_int_equal(vs_buf_add_urlencoded(&b, "a"), VS_BUF_TOO_BIG);
	assert_string_equal(b.s, "0123456789");
	assert_int_equal(b.len, 10);

	/* A refused append leaves earlier content intact, even when part of
	 * it would have fitted in memory already allocated. */
	vs_buf_reset(&b);
	alloc = b.alloc;
	assert_int_equal(b.len, 0);
	assert_int_equal(b.alloc, alloc);
	assert_int_equal(vs_buf_adds(&b, "abc"), 0);
	assert_int_equal(vs_buf_addf(&b, "%s", "12345678"), VS_BUF_TOO_BIG);
	assert_string_equal(b.s, "abc");
	assert_int_equal(vs_buf_add(&b, "12345678", 8), VS_BUF_TOO_BIG);
	assert_string_equal(b.s, "abc");
	assert_int_equal(vs_buf_add_urlencoded(&b, "ab  c"), VS_BUF_TOO_BIG);
	assert_string_equal(b.s, "abc");
	assert_int_equal(b.len, 3);
	assert_int_equal(vs_buf_addf(&b, "%s", "1234567"), 0);
	assert_string_equal(b.s, "abc1234567");

	/* A huge length cannot wrap the arithmetic. */
	assert_int_equal(vs_buf_add(&b, "x", SIZE_MAX), VS_BUF_TOO_BIG);
	vs_buf_release(&b);

	/*
	 * "No practical limit" written as SIZE_MAX (a provider's max_body,
	 * say): the allocation must still hold the content and its NUL.
	 */
	vs_buf_init(&b, SIZE_MAX);
	assert_int_equal(vs_buf_adds(&b, "abc"), 0);
	assert_int_equal(vs_buf_addf(&b, "%d", 42), 0);
	assert_string_equal(b.s, "abc42");
	assert_true(b.alloc > b.len);
	assert_int_equal(vs_buf_add(&b, "x", SIZE_MAX), VS_BUF_TOO_BIG);
	vs_buf_release(&b);
}

static void test_urlencode(void **state)
{
	struct vs_buf b;

	(void)state;
	vs_buf_init(&b, 0);
	assert_int_equal(vs_buf_add_urlencoded(&b, "a b/c?d=e&f~._-\xc3\xa9%"),
			 0);
	assert_string_equal(b.s, "a%20b%2Fc%3Fd%3De%26f~._-%C3%A9%25");
	vs_buf_release(&b);
}

/* Path segments, query and form values: '.' is encoded too. */
static void test_pct(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"f5dc173b-6804-445a-a6d8-c705dad5b5eb",
		 "f5dc173b-6804-445a-a6d8-c705dad5b5eb"},
		{"vm-1021", "vm-1021"},
		{"a/b", "a%2Fb"},
		{"..", "%2E%2E"},
		{"../servers", "%2E%2E%2Fservers"},
		{"../x?y=1&z#/ \xc3\xa9",
		 "%2E%2E%2Fx%3Fy%3D1%26z%23%2F%20%C3%A9"},
		{"urn:vmomi:InventoryServiceTag:1:GLOBAL",
		 "urn%3Avmomi%3AInventoryServiceTag%3A1%3AGLOBAL"},
		{"100%", "100%25"},
		{"a b\nc", "a%20b%0Ac"},
		{"?x=1&y#z", "%3Fx%3D1%26y%23z"},
		{"\xc3\xa9", "%C3%A9"},
		{"_~-", "_~-"},
	};
	struct vs_buf b;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		vs_buf_init(&b, 0);
		assert_int_equal(vs_buf_add_pct(&b, cases[i].in), 0);
		assert_string_equal(b.s, cases[i].out);
		vs_buf_release(&b);
	}
	/* Over the cap: nothing appended. */
	vs_buf_init(&b, 8);
	assert_int_equal(vs_buf_adds(&b, "ab"), 0);
	assert_int_equal(vs_buf_add_pct(&b, "////"), VS_BUF_TOO_BIG);
	assert_string_equal(b.s, "ab");
	vs_buf_release(&b);
	/* Even when the first characters would have fitted. */
	vs_buf_init(&b, 8);
	assert_int_equal(vs_buf_adds(&b, "12345"), 0);
	assert_int_equal(vs_buf_add_pct(&b, "a b"), VS_BUF_TOO_BIG);
	assert_string_equal(b.s, "12345");
	assert_int_equal(b.len, 5);
	vs_buf_release(&b);
}

static void test_detach(void **state)
{
	struct vs_buf b;
	size_t len = 99;
	char *s;

	(void)state;
	vs_buf_init(&b, 50);
	s = vs_buf_detach(&b, &len); /* empty: still a heap string */
	assert_non_null(s);
	assert_string_equal(s, "");
	assert_int_equal(len, 0);
	free(s);

	assert_int_equal(vs_buf_adds(&b, "hello"), 0);
	s = vs_buf_detach(&b, &len);
	assert_string_equal(s, "hello");
	assert_int_equal(len, 5);
	free(s);
	/* Re-initialised with the same cap, and usable. */
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 50);
	assert_string_equal(b.s, "");
	assert_int_equal(vs_buf_adds(&b, "again"), 0);
	s = vs_buf_detach(&b, NULL);
	assert_string_equal(s, "again");
	free(s);
	vs_buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_empty),
		cmocka_unit_test(test_appends),
		cmocka_unit_test(test_growth),
		cmocka_unit_test(test_cap_exact_and_refused),
		cmocka_unit_test(test_urlencode),
		cmocka_unit_test(test_pct),
		cmocka_unit_test(test_detach),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
