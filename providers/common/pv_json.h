/*
 * pv_json.h - a strict JSON skimmer for large listing pages.
 *
 * jansson builds a tree of every value on a page, with a hash table per
 * object; a Nova or oVirt listing page is mostly objects we never read
 * ("links", "flavor", "addresses", ...), and building and freeing them
 * was most of a large listing's CPU.  This module checks a page once,
 * without allocating, and then hands out the parts a provider reads as
 * byte ranges of the page; the provider decodes only those with jansson
 * (pv_json_decode, pv_json_pick) and reads them with its usual code.
 *
 * pv_json_check accepts what json_loadb accepts (see pv_json.c for the
 * one byte where it is stricter):
 * strict UTF-8 everywhere, no "\u0000", paired surrogates, no integer
 * beyond long long, no real that overflows a double, no more than
 * PV_JSON_MAX_DEPTH nested values, nothing but white space after the
 * value.  Duplicate keys: the last one wins, as in jansson.
 *
 * Every other function takes a span that came out of a successful
 * pv_json_check on the same text (or out of the functions below) and
 * relies on it being valid; none reads outside the span.
 *
 * Ownership: spans point into the caller's text and live as long as it;
 * the json_t values returned are new references for the caller.
 * Threading: no state; safe from any thread.
 */
#ifndef VS_PV_JSON_H
#define VS_PV_JSON_H

#include <jansson.h>
#include <stddef.h>

#pragma GCC visibility push(hidden)

/* jansson's JSON_PARSER_MAX_DEPTH: a value nested deeper is refused. */
#define PV_JSON_MAX_DEPTH 2048

/* The most keys pv_json_pick takes at once; keys compared against text
 * that escapes them must be shorter than 256 bytes. */
#define PV_JSON_KEYS_MAX 32

/* One JSON value as the bytes [p, p + len) of a text. */
struct pv_json_span {
	const char *p;
	size_t len;
};

enum pv_json_type {
	PV_JSON_NONE = 0, /* an empty span: absent */
	PV_JSON_OBJECT,
	PV_JSON_ARRAY,
	PV_JSON_STRING,
	PV_JSON_NUMBER,
	PV_JSON_TRUE,
	PV_JSON_FALSE,
	PV_JSON_NULL,
};

/* Accept any value at the top, not only an object or an array. */
#define PV_JSON_ANY 0x1

/*
 * Check that text[0, len) is one JSON value as json_loadb(text, len,
 * flags) would read it (PV_JSON_ANY for JSON_DECODE_ANY).  0 with *root
 * set to the value (white space around it left out); -1 when it is not,
 * with a short reason and the byte offset in why (may be NULL).
 */
int pv_json_check(const char *text, size_t len, int flags,
		  struct pv_json_span *root, char *why, size_t whysz);

/*
 * pv_json_check, and when the top value is an object, pv_json_get of
 * its members named in keys in the same pass (vals all empty when the
 * text is refused or the top value is not an object).
 */
int pv_json_check_get(const char *text, size_t len, int flags,
		      struct pv_json_span *root, const char *const *keys,
		      size_t n, struct pv_json_span *vals, char *why,
		      size_t whysz);

/* The type of a checked value, PV_JSON_NONE for an empty span. */
enum pv_json_type pv_json_type(const struct pv_json_span *v);

/*
 * Look up n keys in a checked object at once: vals[i] is the value of
 * the last member named keys[i] (escapes in the text's keys decoded), or
 * an empty span.  Returns how many keys were found; 0 when obj is not
 * an object.
 */
size_t pv_json_get(const struct pv_json_span *obj, const char *const *keys,
		   size_t n, struct pv_json_span *vals);

/* Whether obj is an object with members, every one named key: the
 * legacy vSphere {"value": ...} wrapper. */
int pv_json_only_key(const struct pv_json_span *obj, const char *key);

/* Walks the elements of a checked array; zero it, then set arr. */
struct pv_json_iter {
	const char *p, *end;
};
/* Start at the first element of arr; an iterator over nothing when arr
 * is not an array. */
void pv_json_iter_init(struct pv_json_iter *it, const struct pv_json_span *arr);
/* The next element in *elem: 1, or 0 at the end. */
int pv_json_iter_next(struct pv_json_iter *it, struct pv_json_span *elem);
/*
 * pv_json_iter_next, and when the element is an object, its members
 * named in keys as pv_json_get would find them, in the same pass over
 * the element (vals all empty for another element).
 */
int pv_json_iter_get(struct pv_json_iter *it, struct pv_json_span *elem,
		     const char *const *keys, size_t n,
		     struct pv_json_span *vals);
/* The number of elements of a checked array (0 when not an array). */
size_t pv_json_count(const struct pv_json_span *arr);

/*
 * A checked value as a jansson value (a new reference), NULL when v is
 * empty or memory ran out: what json_loadb would give for it.  Built
 * directly but for reals, integers of 19 digits or more and containers
 * nested deeper than 32, which go through json_loadb.
 */
json_t *pv_json_decode(const struct pv_json_span *v);

/*
 * A new jansson object holding only the members of the checked object
 * obj named in keys (the last of duplicates): what json_loadb would give
 * with every other member left out.  NULL when obj is not an object or
 * memory ran out (tell them apart with pv_json_type).
 */
json_t *pv_json_pick(const struct pv_json_span *obj, const char *const *keys,
		     size_t n);
/*
 * The same from values pv_json_get or pv_json_iter_get found: an object
 * of keys[i]: vals[i] for every non-empty vals[i]; NULL out of memory.
 */
json_t *pv_json_object_of(const char *const *keys, size_t n,
			  const struct pv_json_span *vals);

/*
 * pv_json_pick for readers that match keys without regard to ASCII case:
 * every member whose key equals one of keys but for case, under its own
 * key and in the text's order (a later duplicate replaces the value, as
 * in jansson).  NULL when obj is not an object or memory ran out.
 */
json_t *pv_json_pick_ci(const struct pv_json_span *obj, const char *const *keys,
			size_t n);

#pragma GCC visibility pop

#endif
