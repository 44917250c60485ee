/*
 * test_pv_json.c - the JSON skimmer: it refuses what jansson refuses
 * (every rule of the check, each on its own), finds members and elements
 * of checked text, and decodes them to what jansson's tree holds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/pv_json.h"

/* Whether pv_json_check and json_loadb agree on text; the verdict. */
static int agree(const char *text, size_t len, int any)
{
	struct pv_json_span root;
	json_error_t jerr;
	json_t *tree = json_loadb(text, len, any ? JSON_DECODE_ANY : 0, &jerr);
	char why[96];
	int ok = pv_json_check(text, len, any ? PV_JSON_ANY : 0, &root, why,
			       sizeof(why)) == 0;

	if (ok != (tree != NULL))
		fail_msg("'%.*s': skimmer %s, jansson %s", (int)len, text,
			 ok ? "accepts" : "refuses",
			 tree ? "accepts" : "refuses");
	if (!ok)
		assert_true(why[0] != '\0');
	json_decref(tree);
	return ok;
}

#define AGREE(s, any) agree((s), sizeof(s) - 1, (any))

static void test_check_accepts(void **state)
{
	(void)state;
	assert_true(AGREE("{}", 0));
	assert_true(AGREE(" [ ] \r\n\t", 0));
	assert_true(AGREE("{\"a\":[1,-0,0.5,1e3,-2E-2,true,false,null]}", 0));
	assert_true(AGREE("[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\"]", 0));
	/* A surrogate pair, and UTF-8 of two, three and four bytes. */
	assert_true(AGREE("[\"\\ud83d\\ude00\"]", 0));
	assert_true(AGREE("[\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"]", 0));
	assert_true(AGREE("[\"\xf4\x8f\xbf\xbf\x7f\"]", 0));
	/* The limits of a long long and of a double. */
	assert_true(AGREE("[9223372036854775807,-9223372036854775808]", 0));
	assert_true(AGREE("[1.7976931348623157e308,1e-400,0.1e309]", 0));
	/* Scalars at the top only when asked for. */
	assert_false(AGREE("\"s\"", 0));
	assert_true(AGREE("\"s\"", 1));
	assert_true(AGREE(" 42 ", 1));
	assert_true(AGREE("null", 1));
}

static void test_check_refuses(void **state)
{
	static const char *const bad[] = {
		"",
		"   ",
		"{",
		"[1,]",
		"[,1]",
		"{\"a\"}",
		"{\"a\":}",
		"{\"a\":1,}",
		"{1:2}",
		"[1 2]",
		"{\"a\":1}x",
		"{\"a\":1}{}",
		"[01]",
		"[-]",
		"[1.]",
		"[.5]",
		"[1e]",
		"[1e+]",
		"[+1]",
		"[tru]",
		"[truex]",
		"[nul]",
		"[True]",
		"[\"abc]",
		"[\"a\tb\"]",
		"[\"\\x\"]",
		"[\"\\u12\"]",
		"[\"\\u12g4\"]",
		"[\"\\u0000\"]",
		"{\"\\u0000\":1}",
		"[\"\\udc00\"]",
		"[\"\\ud800\"]",
		"[\"\\ud800x\"]",
		"[\"\\ud800\\u0041\"]",
		"[\"\\ud800\\n\"]",
		"[\"\x80\"]",
		"[\"\xc0\xaf\"]",
		"[\"\xc3\"]",
		"[\"\xe0\x80\xaf\"]",
		"[\"\xed\xa0\x80\"]",
		"[\"\xf0\x8f\xbf\xbf\"]",
		"[\"\xf4\x90\x80\x80\"]",
		"[\"\xf5\x80\x80\x80\"]",
		"[\xc3\xa9]",
		"[9223372036854775808]",
		"[-9223372036854775809]",
		"[1.8e308]",
		"[-1e309]",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(agree(bad[i], strlen(bad[i]), 0));
		assert_false(agree(bad[i], strlen(bad[i]), 1));
	}
	/* A NUL byte in a string, and one outside. */
	assert_false(agree("[\"a\0b\"]", 7, 0));
	assert_false(agree("[1,\0 2]", 7, 0));
}

/* n arrays around inner, in a new string (its length in *len). */
static char *nest(size_t n, const char *inner, size_t *len)
{
	size_t k = strlen(inner);
	char *t = malloc(2 * n + k + 1);

	assert_non_null(t);
	memset(t, '[', n);
	memcpy(t + n, inner, k);
	memset(t + n + k, ']', n);
	*len = 2 * n + k;
	t[*len] = '\0';
	return t;
}

/* Nesting: 2048 values deep is jansson's limit, counted the same. */
static void test_check_depth(void **state)
{
	size_t n = PV_JSON_MAX_DEPTH + 1, len, i;
	struct pv_json_span root;
	char why[96], *t;

	(void)state;
	/* 2049 arrays: refused; 2048: accepted. */
	t = nest(PV_JSON_MAX_DEPTH + 1, "", &len);
	assert_false(agree(t, len, 0));
	free(t);
	t = nest(PV_JSON_MAX_DEPTH, "", &len);
	assert_true(agree(t, len, 0));
	free(t);
	/* A value inside 2048 arrays is at depth 2049; inside 2047, not. */
	t = nest(PV_JSON_MAX_DEPTH, "1", &len);
	assert_false(agree(t, len, 0));
	free(t);
	t = nest(PV_JSON_MAX_DEPTH - 1, "\"s\"", &len);
	assert_true(agree(t, len, 0));
	free(t);
	/* Deep objects too, with the reason and where. */
	t = malloc(6 * n + 2);
	assert_non_null(t);
	for (i = 0; i < n; i++)
		memcpy(t + 5 * i, "{\"a\":", 5);
	t[5 * n] = '1';
	memset(t + 5 * n + 1, '}', n);
	assert_int_equal(
		pv_json_check(t, 6 * n + 1, 0, &root, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "nested too deeply at byte"));
	assert_null(root.p);
	free(t);
}

static void test_get(void **state)
{
	static const char text[] =
		" {\"id\": \"x\", \"links\": [{\"id\": \"no\"}, \"}\\\"{\"], "
		"\"n\\u0061me\": \"first\", \"name\" : \"last\", "
		"\"obj\": {\"id\": 1}, \"num\": -1.5e2, \"t\": true} ";
	static const char *const keys[] = {"id", "name", "num", "missing", "t"};
	struct pv_json_span root, vals[5], top[5];
	char why[96];

	(void)state;
	assert_int_equal(pv_json_check_get(text, sizeof(text) - 1, 0, &root,
					   keys, 5, top, why, sizeof(why)),
			 0);
	assert_int_equal(pv_json_type(&root), PV_JSON_OBJECT);
	assert_int_equal(root.p - text, 1);
	assert_int_equal(pv_json_get(&root, keys, 5, vals), 4);
	assert_int_equal(vals[0].len, 3);
	assert_memory_equal(vals[0].p, "\"x\"", 3);
	/* Duplicates: the last wins, escaped keys decoded. */
	assert_memory_equal(vals[1].p, "\"last\"", vals[1].len);
	assert_memory_equal(vals[2].p, "-1.5e2", vals[2].len);
	assert_int_equal(pv_json_type(&vals[2]), PV_JSON_NUMBER);
	assert_null(vals[3].p);
	assert_int_equal(pv_json_type(&vals[3]), PV_JSON_NONE);
	assert_int_equal(pv_json_type(&vals[4]), PV_JSON_TRUE);
	/* The check found the same members on its way. */
	assert_memory_equal(top, vals, sizeof(vals));
	/* Not an object: nothing found. */
	assert_int_equal(pv_json_get(&vals[0], keys, 5, vals), 0);
}

static void test_iterate(void **state)
{
	static const char text[] = "[ {\"id\":\"a\",\"x\":[1,{}]} , 7,\"s\",[],"
				   "{\"id\":\"b\",\"id\":\"c\"},{} ]";
	static const char *const keys[] = {"id"};
	struct pv_json_span root, e, vals[1];
	struct pv_json_iter it;
	const char *want[] = {"a", NULL, NULL, NULL, "c", NULL};
	size_t i = 0;

	(void)state;
	assert_int_equal(
		pv_json_check(text, sizeof(text) - 1, 0, &root, NULL, 0), 0);
	assert_int_equal(pv_json_count(&root), 6);
	pv_json_iter_init(&it, &root);
	while (pv_json_iter_get(&it, &e, keys, 1, vals)) {
		assert_true(i < 6);
		if (want[i]) {
			assert_int_equal(vals[0].len, 3);
			assert_memory_equal(vals[0].p + 1, want[i], 1);
		} else {
			assert_null(vals[0].p);
		}
		i++;
	}
	assert_int_equal(i, 6);
	/* Empty arrays and non-arrays give nothing. */
	assert_int_equal(pv_json_check("[ ]", 3, 0, &root, NULL, 0), 0);
	pv_json_iter_init(&it, &root);
	assert_int_equal(pv_json_iter_next(&it, &e), 0);
	assert_int_equal(pv_json_count(&vals[0]), 0);
}

/* Decoded values equal jansson's, for every kind of value. */
static void test_decode_and_pick(void **state)
{
	static const char text[] =
		"{\"s\":\"plain\",\"e\":\"a\\\"b\\u00e9\\ud83d\\ude00\\n\","
		"\"i\":-123456789012345678,\"big\":1234567890123456789,"
		"\"r\":0.25,\"t\":true,\"f\":false,\"z\":null,"
		"\"a\":[1,[2,[3]],{\"k\":\"v\"}],"
		"\"o\":{\"x\\u0079\":{},\"dup\":1,\"dup\":2},"
		"\"links\":[{\"href\":\"...\"}]}";
	static const char *const keys[] = {"s", "e", "i", "big", "r", "t",
					   "f", "z", "a", "o",	 "no"};
	struct pv_json_span root, vals[11];
	json_error_t jerr;
	json_t *tree, *picked, *v;
	size_t i;

	(void)state;
	tree = json_loadb(text, sizeof(text) - 1, 0, &jerr);
	assert_non_null(tree);
	assert_int_equal(
		pv_json_check(text, sizeof(text) - 1, 0, &root, NULL, 0), 0);
	v = pv_json_decode(&root);
	assert_true(json_equal(v, tree));
	json_decref(v);
	assert_int_equal(pv_json_get(&root, keys, 11, vals), 10);
	for (i = 0; i < 10; i++) {
		v = pv_json_decode(&vals[i]);
		assert_non_null(v);
		assert_true(json_equal(v, json_object_get(tree, keys[i])));
		json_decref(v);
	}
	assert_null(pv_json_decode(&vals[10]));
	/* The picked object is the tree without "links". */
	picked = pv_json_pick(&root, keys, 11);
	assert_non_null(picked);
	assert_int_equal(json_object_size(picked), 10);
	assert_int_equal(json_object_del(tree, "links"), 0);
	assert_true(json_equal(picked, tree));
	json_decref(picked);
	/* Only objects can be picked from. */
	assert_null(pv_json_pick(&vals[8], keys, 11));
	json_decref(tree);
}

/* Check a NUL-terminated text, which must pass. */
static struct pv_json_span checked(const char *text)
{
	struct pv_json_span root;

	assert_int_equal(pv_json_check(text, strlen(text), 0, &root, NULL, 0),
			 0);
	return root;
}

/* The legacy vSphere wrapper, and keys matched without regard to case. */
static void test_wrapper_and_ci(void **state)
{
	static const char *const ci[] = {"cpu_count", "vm"};
	static const char text[] =
		"{\"CPU_Count\":2,\"name\":\"x\",\"cpu_count\":\"s\","
		"\"vm\":\"vm-1\",\"VM\":\"vm-2\",\"cpu_count\":3}";
	struct pv_json_span root;
	json_t *o;

	(void)state;
	root = checked("{\"value\":[1],\"value\":[]}");
	assert_true(pv_json_only_key(&root, "value"));
	root = checked("{\"value\":[1],\"v\":[]}");
	assert_false(pv_json_only_key(&root, "value"));
	root = checked("{ }");
	assert_false(pv_json_only_key(&root, "value"));
	root = checked("[]");
	assert_false(pv_json_only_key(&root, "value"));
	root = checked(text);
	o = pv_json_pick_ci(&root, ci, 2);
	assert_non_null(o);
	/* Every spelling kept under its own key, the last duplicate wins;
	 * "name" is not asked for. */
	assert_int_equal(json_object_size(o), 4);
	assert_int_equal(json_integer_value(json_object_get(o, "CPU_Count")),
			 2);
	assert_int_equal(json_integer_value(json_object_get(o, "cpu_count")),
			 3);
	assert_string_equal(json_string_value(json_object_get(o, "VM")),
			    "vm-2");
	assert_null(json_object_get(o, "name"));
	/* In the text's order, as jansson iterates: CPU_Count first. */
	assert_string_equal(json_object_iter_key(json_object_iter(o)),
			    "CPU_Count");
	json_decref(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_accepts),
		cmocka_unit_test(test_check_refuses),
		cmocka_unit_test(test_check_depth),
		cmocka_unit_test(test_get),
		cmocka_unit_test(test_iterate),
		cmocka_unit_test(test_decode_and_pick),
		cmocka_unit_test(test_wrapper_and_ci),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
