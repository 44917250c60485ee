/*
 * test_pv_util.c - the helpers our providers share: wiping a buffer that
 * held a secret, escaping untrusted text for a message, ASCII case-blind
 * comparisons and the string map.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/pv_util.h"
#include "provider.h"

static void test_buf_release_secret(void **state)
{
	struct vs_buf b;

	(void)state;
	vs_buf_init(&b, 8);
	assert_int_equal(vs_buf_adds(&b, "12345"), 0);
	assert_int_equal(vs_buf_addf(&b, "%d", 1234), VS_BUF_TOO_BIG);
	assert_int_equal(vs_buf_addf(&b, "%d", 678), 0);
	assert_string_equal(b.s, "12345678");
	pv_buf_release_secret(&b);
	assert_string_equal(b.s, "");
	assert_int_equal(b.len, 0);
	/* Released again, or never used: harmless. */
	pv_buf_release_secret(&b);
	pv_buf_release_secret(NULL);
}

static void test_strdup_and_free_secret(void **state)
{
	char *s;

	(void)state;
	assert_null(pv_strdup(NULL));
	s = pv_strdup("pw");
	assert_non_null(s);
	assert_string_equal(s, "pw");
	pv_free_secret(s);
	pv_free_secret(NULL);
}

static void test_clean(void **state)
{
	char d[8];

	(void)state;
	assert_string_equal(pv_clean(d, sizeof(d), "ab\tc"), "ab?c");
	assert_string_equal(pv_clean(d, sizeof(d), "a\tb"), "a?b");
	assert_string_equal(pv_clean(d, sizeof(d), "abcdefghij"), "abcd...");
	assert_string_equal(pv_clean(d, sizeof(d), NULL), "");
	assert_string_equal(pv_clean(d, sizeof(d), "\x7f"), "?");
	/* Cut on a character boundary: "é" is two bytes. */
	assert_string_equal(pv_clean(d, sizeof(d), "abc\xc3\xa9xyz"), "abc...");
}

/* The engine's details carry "\n-Please stop the VM first.". */
static void test_clean_ws(void **state)
{
	char dst[8];

	(void)state;
	assert_string_equal(pv_clean_ws(dst, sizeof(dst), "a\tb\nc"), "a b c");
	assert_string_equal(pv_clean_ws(dst, sizeof(dst), "a\rb\x01"), "a b?");
	assert_string_equal(pv_clean_ws(dst, sizeof(dst), "0123456789"),
			    "0123...");
	assert_string_equal(pv_clean_ws(dst, sizeof(dst), NULL), "");
}

static void test_ci(void **state)
{
	(void)state;
	assert_true(pv_streq_ci("Public", "PUBLIC"));
	assert_true(pv_streq_ci("Image_Locked", "image_locked"));
	assert_true(pv_streq_ci("Memory_Size_MiB", "memory_size_mib"));
	assert_false(pv_streq_ci("public", "publi"));
	assert_false(pv_streq_ci("down", "dow"));
	assert_false(pv_streq_ci("memory", "memory_size_mib"));
	assert_true(pv_streq_ci(NULL, NULL));
	assert_false(pv_streq_ci(NULL, "x"));
	assert_false(pv_streq_ci("a", NULL));
	assert_true(pv_contains_ci("Cannot remove VM. VM is RUNNING.",
				   "vm is running"));
	assert_false(pv_contains_ci("VM is run", "vm is running"));
	assert_true(pv_contains_ci("x", ""));
	assert_false(pv_contains_ci(NULL, "a"));
}

static void test_hash(void **state)
{
	(void)state;
	/* FNV-1a's step over the offset the providers always used. */
	assert_true(pv_hash("") == 1469598103934665603ull);
	assert_true(pv_hash("a") ==
		    (1469598103934665603ull ^ 'a') * 1099511628211ull);
	assert_true(pv_hash("vm-1") == pv_hash("vm-1"));
	assert_true(pv_hash("vm-1") != pv_hash("vm-2"));
}

static void test_strmap(void **state)
{
	struct pv_strmap m;
	char k[32], v[32];
	int found;
	size_t i;

	(void)state;
	memset(&m, 0, sizeof(m));
	assert_null(pv_strmap_get(&m, "x", &found));
	assert_int_equal(found, 0);
	for (i = 0; i < 1000; i++) {
		snprintf(k, sizeof(k), "urn:tag:%zu", i);
		snprintf(v, sizeof(v), "name-%zu", i);
		assert_int_equal(pv_strmap_put(&m, k, i % 7 ? v : NULL), 0);
	}
	assert_int_equal(m.n, 1000);
	for (i = 0; i < 1000; i++) {
		const char *got;

		snprintf(k, sizeof(k), "urn:tag:%zu", i);
		snprintf(v, sizeof(v), "name-%zu", i);
		got = pv_strmap_get(&m, k, &found);
		assert_int_equal(found, 1);
		if (i % 7)
			assert_string_equal(got, v);
		else
			assert_null(got);
	}
	assert_null(pv_strmap_get(&m, "urn:tag:1000", &found));
	assert_int_equal(found, 0);
	assert_int_equal(pv_strmap_put(&m, "urn:tag:1", "again"), 0);
	assert_int_equal(m.n, 1000);
	assert_string_equal(pv_strmap_get(&m, "urn:tag:1", &found), "again");
	pv_strmap_release(&m);
	assert_int_equal(m.n, 0);
	pv_strmap_release(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_release_secret),
		cmocka_unit_test(test_strdup_and_free_secret),
		cmocka_unit_test(test_clean),
		cmocka_unit_test(test_clean_ws),
		cmocka_unit_test(test_ci),
		cmocka_unit_test(test_hash),
		cmocka_unit_test(test_strmap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
