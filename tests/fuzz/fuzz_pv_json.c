/*
 * fuzz_pv_json.c - the JSON skimmer against jansson on the same bytes.
 *
 * The providers' listings rely on pv_json_check accepting exactly what
 * json_loadb accepts, and on the spans it hands out decoding to what
 * jansson's tree holds.  Any difference aborts: a page the two judge
 * differently, an element or member that decodes to something else, a
 * picked object that is not the tree's object cut down to those keys.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/pv_json.h"
#include "fuzz.h"

/*
 * Bounds on the work per input: objects can have many keys, and each
 * level decodes its whole subtree again (the top level's decode already
 * compares everything below).
 */
#define KEYS_MAX  32
#define ELEMS_MAX 256
#define DEPTH_MAX 16

static void compare(const struct pv_json_span *v, const json_t *want,
		    int depth);

/* pv_json_pick_ci against the tree's members whose keys match. */
static void compare_ci(const struct pv_json_span *v, const json_t *want)
{
	static const char *const ci[] = {"ID", "Name", "value", "a"};
	json_t *got = pv_json_pick_ci(v, ci, 4), *ref = json_object(), *val;
	const char *key;
	size_t i;

	if (!got || !ref)
		abort();
	json_object_foreach((json_t *)want, key, val)
	{
		for (i = 0; i < 4; i++)
			if (strcasecmp(key, ci[i]) == 0)
				json_object_set(ref, key, val);
	}
	if (!json_equal(got, ref))
		abort();
	json_decref(got);
	json_decref(ref);
}

static void compare_object(const struct pv_json_span *v, const json_t *want,
			   int depth)
{
	const char *keys[KEYS_MAX + 1];
	struct pv_json_span vals[KEYS_MAX + 1];
	const char *key;
	json_t *val, *picked;
	size_t n = 0, i;

	json_object_foreach((json_t *)want, key, val)
	{
		if (strlen(key) >= 200)
			continue;
		keys[n++] = key;
		if (n == KEYS_MAX)
			break;
	}
	/* A key that is not there stays empty. */
	keys[n] = "\x01never";
	if (pv_json_get(v, keys, n + 1, vals) != n || vals[n].len)
		abort();
	for (i = 0; i < n; i++)
		compare(&vals[i], json_object_get(want, keys[i]), depth + 1);
	picked = pv_json_pick(v, keys, n + 1);
	if (!picked || json_object_size(picked) != n)
		abort();
	for (i = 0; i < n; i++)
		if (!json_equal(json_object_get(picked, keys[i]),
				json_object_get(want, keys[i])))
			abort();
	json_decref(picked);
	compare_ci(v, want);
	if (pv_json_only_key(v, "value") !=
	    (json_object_size(want) == 1 && json_object_get(want, "value")))
		abort();
	if (n && pv_json_only_key(v, keys[0]) != (json_object_size(want) == 1))
		abort();
}

/* The keys iter_get looks for in the elements of an array. */
static const char *const elem_keys[] = {"id", "name", "a", "", "tags"};
#define NELEM_KEYS (sizeof(elem_keys) / sizeof(elem_keys[0]))

static void compare_array(const struct pv_json_span *v, const json_t *want,
			  int depth)
{
	struct pv_json_iter it, it2;
	struct pv_json_span e, e2, vals[NELEM_KEYS], vals2[NELEM_KEYS];
	size_t i = 0, k;

	if (pv_json_count(v) != json_array_size(want))
		abort();
	pv_json_iter_init(&it, v);
	pv_json_iter_init(&it2, v);
	while (i < ELEMS_MAX && pv_json_iter_next(&it, &e)) {
		/* The one-pass walk sees the same element and members. */
		if (!pv_json_iter_get(&it2, &e2, elem_keys, NELEM_KEYS, vals) ||
		    e2.p != e.p || e2.len != e.len)
			abort();
		pv_json_get(&e, elem_keys, NELEM_KEYS, vals2);
		for (k = 0; k < NELEM_KEYS; k++)
			if (vals[k].p != vals2[k].p ||
			    vals[k].len != vals2[k].len)
				abort();
		compare(&e, json_array_get(want, i++), depth + 1);
	}
}

static void compare(const struct pv_json_span *v, const json_t *want, int depth)
{
	json_t *got;

	if (depth > DEPTH_MAX)
		return;
	got = pv_json_decode(v);
	if (!got || !json_equal(got, want))
		abort();
	json_decref(got);
	switch (pv_json_type(v)) {
	case PV_JSON_OBJECT:
		compare_object(v, want, depth);
		break;
	case PV_JSON_ARRAY:
		compare_array(v, want, depth);
		break;
	default:
		break;
	}
}

/* The top object's members found while checking are pv_json_get's. */
static void check_get(const char *text, size_t len, int any,
		      const struct pv_json_span *root)
{
	struct pv_json_span r, vals[NELEM_KEYS], vals2[NELEM_KEYS];
	size_t k;

	if (pv_json_check_get(text, len, any ? PV_JSON_ANY : 0, &r, elem_keys,
			      NELEM_KEYS, vals, NULL, 0) != 0 ||
	    r.p != root->p || r.len != root->len)
		abort();
	pv_json_get(root, elem_keys, NELEM_KEYS, vals2);
	for (k = 0; k < NELEM_KEYS; k++)
		if (vals[k].p != vals2[k].p || vals[k].len != vals2[k].len)
			abort();
}

/*
 * The copy of data without the NUL bytes jansson 2.14 skips and the
 * skimmer refuses: one right after a number or a literal (see pv_json.c).
 * Malloc'd; *n is its length.
 */
static char *strip_nuls(const uint8_t *data, size_t size, size_t *n)
{
	char *c = malloc(size ? size : 1);
	size_t i;

	if (!c)
		abort();
	*n = 0;
	for (i = 0; i < size; i++) {
		if (data[i] == 0 && i > 0 &&
		    ((data[i - 1] >= '0' && data[i - 1] <= '9') ||
		     (data[i - 1] >= 'a' && data[i - 1] <= 'z')))
			continue;
		c[(*n)++] = (char)data[i];
	}
	return c;
}

static void one(const uint8_t *data, size_t size, int any)
{
	struct pv_json_span root;
	json_error_t jerr;
	json_t *tree;
	char why[96], *stripped = NULL;
	size_t n;
	int ok;

	ok = pv_json_check((const char *)data, size, any ? PV_JSON_ANY : 0,
			   &root, why, sizeof(why)) == 0;
	tree = json_loadb((const char *)data, size, any ? JSON_DECODE_ANY : 0,
			  &jerr);
	if (!ok && tree) {
		/* Only jansson's skipped NUL bytes may tell them apart. */
		stripped = strip_nuls(data, size, &n);
		if (n == size ||
		    pv_json_check(stripped, n, any ? PV_JSON_ANY : 0, &root,
				  why, sizeof(why)) != 0)
			abort();
		ok = 1;
	}
	if (ok != (tree != NULL))
		abort();
	if (tree) {
		compare(&root, tree, 0);
		check_get(stripped ? stripped : (const char *)data,
			  stripped ? n : size, any, &root);
	} else if (!why[0])
		abort();
	json_decref(tree);
	free(stripped);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	one(data, size, 0);
	one(data, size, 1);
	return 0;
}
