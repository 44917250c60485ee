/*
 * pv_util.c - the helpers our providers share (see pv_util.h).
 */
#include "pv_util.h"

#include <stdlib.h>
#include <string.h>

#include "provider.h" /* VS_OK, VS_ERR */

void pv_buf_release_secret(struct vs_buf *b)
{
	if (b && b->alloc) {
		/* volatile so that the compiler keeps the wipe before free. */
		volatile char *p = b->s;
		for (size_t i = 0; i < b->alloc; i++)
			p[i] = '\0';
	}
	vs_buf_release(b);
}

char *pv_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

void pv_free_secret(char *s)
{
	if (!s)
		return;
	/* volatile so that the compiler keeps the wipe before free. */
	for (volatile char *p = s; *p; p++)
		*p = '\0';
	free(s);
}

static const char *pv_clean_as(char *dst, size_t dstsz, const char *s,
			       int spaces)
{
	size_t i = 0;

	if (!dstsz)
		return dst;
	if (!s)
		s = "";
	for (; *s && i + 1 < dstsz; s++, i++) {
		unsigned char c = (unsigned char)*s;
		if (spaces && (c == '\n' || c == '\r' || c == '\t'))
			dst[i] = ' ';
		else
			dst[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	dst[i] = '\0';
	if (*s && dstsz > 4) {
		/* Cut on a UTF-8 character boundary before the ellipsis. */
		i = dstsz - 4;
		while (i > 0 && ((unsigned char)dst[i] & 0xC0) == 0x80)
			i--;
		memcpy(dst + i, "...", 4);
	}
	return dst;
}

const char *pv_clean(char *dst, size_t dstsz, const char *s)
{
	return pv_clean_as(dst, dstsz, s, 0);
}

const char *pv_clean_ws(char *dst, size_t dstsz, const char *s)
{
	return pv_clean_as(dst, dstsz, s, 1);
}

static char pv_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

int pv_streq_ci(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	for (; *a && *b; a++, b++)
		if (pv_lower(*a) != pv_lower(*b))
			return 0;
	return *a == *b;
}

int pv_contains_ci(const char *hay, const char *needle)
{
	size_t i;

	if (!hay || !needle)
		return 0;
	for (; *hay; hay++) {
		for (i = 0; needle[i] && hay[i]; i++)
			if (pv_lower(hay[i]) != pv_lower(needle[i]))
				break;
		if (!needle[i])
			return 1;
	}
	return !*needle;
}

uint64_t pv_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* ------------------------------------------------------------------ */
/* String map: open addressing, linear probing, at most half full.     */

void pv_strmap_release(struct pv_strmap *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->cap; i++) {
		free(m->keys[i]);
		free(m->values[i]);
	}
	free(m->keys);
	free(m->values);
	memset(m, 0, sizeof(*m));
}

static size_t pv_strmap_slot(const struct pv_strmap *m, const char *key)
{
	size_t i = (size_t)pv_hash(key) & (m->cap - 1);

	while (m->keys[i] && strcmp(m->keys[i], key) != 0)
		i = (i + 1) & (m->cap - 1);
	return i;
}

const char *pv_strmap_get(const struct pv_strmap *m, const char *key,
			  int *found)
{
	size_t i;

	*found = 0;
	if (!m->cap)
		return NULL;
	i = pv_strmap_slot(m, key);
	if (!m->keys[i])
		return NULL;
	*found = 1;
	return m->values[i];
}

static int pv_strmap_grow(struct pv_strmap *m)
{
	struct pv_strmap nm;
	size_t i;

	nm.cap = m->cap ? m->cap * 2 : 64;
	nm.n = m->n;
	nm.keys = calloc(nm.cap, sizeof(*nm.keys));
	nm.values = calloc(nm.cap, sizeof(*nm.values));
	if (!nm.keys || !nm.values) {
		free(nm.keys);
		free(nm.values);
		return VS_ERR;
	}
	for (i = 0; i < m->cap; i++) {
		size_t j;

		if (!m->keys[i])
			continue;
		j = pv_strmap_slot(&nm, m->keys[i]);
		nm.keys[j] = m->keys[i];
		nm.values[j] = m->values[i];
	}
	free(m->keys);
	free(m->values);
	*m = nm;
	return VS_OK;
}

int pv_strmap_put(struct pv_strmap *m, const char *key, const char *value)
{
	char *v = NULL, *k;
	size_t i;

	if ((m->n + 1) * 2 > m->cap && pv_strmap_grow(m))
		return VS_ERR;
	if (value && !(v = strdup(value)))
		return VS_ERR;
	i = pv_strmap_slot(m, key);
	if (m->keys[i]) {
		free(m->values[i]);
		m->values[i] = v;
		return VS_OK;
	}
	if (!(k = strdup(key))) {
		free(v);
		return VS_ERR;
	}
	m->keys[i] = k;
	m->values[i] = v;
	m->n++;
	return VS_OK;
}

int pv_confirm_each(void *ctx, pv_confirm_one_fn one, struct vs_http *http,
		    const struct vs_vm *const *vms, const size_t *idx, size_t n,
		    enum vs_confirm_state *states, struct vs_error *errs,
		    struct vs_error *err)
{
	struct vs_error first, e;
	size_t i, failed = 0;

	vs_error_clear(&first);
	for (i = 0; i < n; i++) {
		size_t k = idx ? idx[i] : i;

		vs_error_clear(&e);
		states[k] = VS_CONFIRM_PENDING;
		if (one(ctx, http, vms[k], &states[k], &errs[k], &e)) {
			states[k] = VS_CONFIRM_PENDING;
			/* Stop early when asking cannot work at all. */
			if (e.cls == VS_EC_AUTH || e.cls == VS_EC_CANCELLED) {
				*err = e;
				return VS_ERR;
			}
			if (!failed++)
				first = e;
		}
	}
	if (n && failed == n) {
		*err = first;
		return VS_ERR;
	}
	return VS_OK;
}
