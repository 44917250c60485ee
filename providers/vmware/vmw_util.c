/*
 * vmw_util.c - small helpers of the vSphere provider.
 *
 * A provider cannot link the core, so it carries its own capped buffer
 * (the core's contract: a hard cap, unchanged on failure), plus the two
 * hash tables listing needs: a string map for the tag-name caches and an
 * id set that merges the parts of a partitioned listing.
 */
#include "vmw_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char vmw_buf_empty[1];

void vmw_buf_init(struct vmw_buf *b, size_t cap)
{
	b->s = vmw_buf_empty;
	b->len = 0;
	b->alloc = 0;
	b->cap = cap ? cap : (size_t)64 * 1024 * 1024;
}

void vmw_buf_release(struct vmw_buf *b)
{
	if (!b)
		return;
	if (b->alloc)
		free(b->s);
	b->s = vmw_buf_empty;
	b->len = 0;
	b->alloc = 0;
}

void vmw_buf_release_secret(struct vmw_buf *b)
{
	if (b && b->alloc) {
		/* volatile so that the compiler keeps the wipe before free. */
		volatile char *p = b->s;
		for (size_t i = 0; i < b->alloc; i++)
			p[i] = '\0';
	}
	vmw_buf_release(b);
}

static int vmw_buf_grow(struct vmw_buf *b, size_t extra)
{
	size_t need, na;
	char *ns;

	if (extra > b->cap || b->len > b->cap - extra)
		return VMW_BUF_TOO_BIG;
	need = b->len + extra + 1;
	if (need <= b->alloc)
		return 0;
	na = b->alloc ? b->alloc : 64;
	while (na < need)
		na *= 2;
	if (na > b->cap + 1)
		na = b->cap + 1;
	ns = realloc(b->alloc ? b->s : NULL, na);
	if (!ns)
		return VMW_BUF_NOMEM;
	if (!b->alloc)
		ns[0] = '\0';
	b->s = ns;
	b->alloc = na;
	return 0;
}

int vmw_buf_add(struct vmw_buf *b, const void *data, size_t len)
{
	int rc = vmw_buf_grow(b, len);

	if (rc)
		return rc;
	if (len)
		memcpy(b->s + b->len, data, len);
	b->len += len;
	b->s[b->len] = '\0';
	return 0;
}

int vmw_buf_adds(struct vmw_buf *b, const char *s)
{
	return vmw_buf_add(b, s, strlen(s));
}

int vmw_buf_addf(struct vmw_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return VS_ERR;
	rc = vmw_buf_grow(b, (size_t)n);
	if (rc)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

int vmw_buf_add_pct(struct vmw_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t start = b->len;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char enc[3];
		int rc;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    c == '~') {
			rc = vmw_buf_add(b, s, 1);
		} else {
			enc[0] = '%';
			enc[1] = hex[c >> 4];
			enc[2] = hex[c & 15];
			rc = vmw_buf_add(b, enc, 3);
		}
		if (rc) {
			/* Keep the promise: unchanged on failure. */
			b->len = start;
			if (b->alloc)
				b->s[start] = '\0';
			return rc;
		}
	}
	return 0;
}

char *vmw_buf_detach(struct vmw_buf *b)
{
	char *s = b->alloc ? b->s : strdup("");

	b->s = vmw_buf_empty;
	b->len = 0;
	b->alloc = 0;
	return s;
}

char *vmw_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

void vmw_free_secret(char *s)
{
	if (!s)
		return;
	for (volatile char *p = s; *p; p++)
		*p = '\0';
	free(s);
}

const char *vmw_clean(char *dst, size_t dstsz, const char *s)
{
	size_t i = 0;

	if (!dstsz)
		return dst;
	if (!s)
		s = "";
	for (; *s && i + 1 < dstsz; s++, i++) {
		unsigned char c = (unsigned char)*s;
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

int vmw_streq_ci(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	for (; *a && *b; a++, b++) {
		char ca = *a, cb = *b;
		if (ca >= 'A' && ca <= 'Z')
			ca = (char)(ca - 'A' + 'a');
		if (cb >= 'A' && cb <= 'Z')
			cb = (char)(cb - 'A' + 'a');
		if (ca != cb)
			return 0;
	}
	return *a == *b;
}

/* FNV-1a: ids are short and not chosen to collide with each other. */
uint64_t vmw_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* ------------------------------------------------------------------ */
/* String map: open addressing, linear probing, at most half full.     */

void vmw_strmap_release(struct vmw_strmap *m)
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

static size_t vmw_strmap_slot(const struct vmw_strmap *m, const char *key)
{
	size_t i = (size_t)vmw_hash(key) & (m->cap - 1);

	while (m->keys[i] && strcmp(m->keys[i], key) != 0)
		i = (i + 1) & (m->cap - 1);
	return i;
}

const char *vmw_strmap_get(const struct vmw_strmap *m, const char *key,
			   int *found)
{
	size_t i;

	*found = 0;
	if (!m->cap)
		return NULL;
	i = vmw_strmap_slot(m, key);
	if (!m->keys[i])
		return NULL;
	*found = 1;
	return m->values[i];
}

static int vmw_strmap_grow(struct vmw_strmap *m)
{
	struct vmw_strmap nm;
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
		j = vmw_strmap_slot(&nm, m->keys[i]);
		nm.keys[j] = m->keys[i];
		nm.values[j] = m->values[i];
	}
	free(m->keys);
	free(m->values);
	*m = nm;
	return VS_OK;
}

int vmw_strmap_put(struct vmw_strmap *m, const char *key, const char *value)
{
	char *v = NULL, *k;
	size_t i;

	if ((m->n + 1) * 2 > m->cap && vmw_strmap_grow(m))
		return VS_ERR;
	if (value && !(v = strdup(value)))
		return VS_ERR;
	i = vmw_strmap_slot(m, key);
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

/* ------------------------------------------------------------------ */
/* Id set over a vs_vm_list.                                           */

void vmw_idset_release(struct vmw_idset *s)
{
	if (!s)
		return;
	free(s->slots);
	memset(s, 0, sizeof(*s));
}

static size_t vmw_idset_slot(const struct vmw_idset *s,
			     const struct vs_vm_list *l, const char *id)
{
	size_t i = (size_t)vmw_hash(id) & (s->cap - 1);

	while (s->slots[i] && strcmp(l->items[s->slots[i] - 1].id, id) != 0)
		i = (i + 1) & (s->cap - 1);
	return i;
}

size_t vmw_idset_find(const struct vmw_idset *s, const struct vs_vm_list *l,
		      const char *id)
{
	size_t i;

	if (!s->cap)
		return (size_t)-1;
	i = vmw_idset_slot(s, l, id);
	return s->slots[i] ? s->slots[i] - 1 : (size_t)-1;
}

int vmw_idset_add(struct vmw_idset *s, const struct vs_vm_list *l, size_t idx)
{
	size_t i;

	if ((s->n + 1) * 2 > s->cap) {
		struct vmw_idset ns;

		ns.cap = s->cap ? s->cap * 2 : 1024;
		ns.n = s->n;
		ns.slots = calloc(ns.cap, sizeof(*ns.slots));
		if (!ns.slots)
			return VS_ERR;
		for (i = 0; i < s->cap; i++)
			if (s->slots[i])
				ns.slots[vmw_idset_slot(
					&ns, l, l->items[s->slots[i] - 1].id)] =
					s->slots[i];
		free(s->slots);
		*s = ns;
	}
	i = vmw_idset_slot(s, l, l->items[idx].id);
	if (!s->slots[i]) {
		s->slots[i] = idx + 1;
		s->n++;
	}
	return VS_OK;
}
