/*
 * rhv_util.c - small helpers of the oVirt / RHV provider.
 *
 * A provider cannot link the core's buffer (nor another provider's), so
 * it carries its own: the same contract (a hard cap, unchanged on
 * failure), far fewer functions.
 */
#include "rhv_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char rhv_buf_empty[1];

void rhv_buf_init(struct rhv_buf *b, size_t cap)
{
	b->s = rhv_buf_empty;
	b->len = 0;
	b->alloc = 0;
	b->cap = cap ? cap : (size_t)64 * 1024 * 1024;
}

void rhv_buf_release_secret(struct rhv_buf *b)
{
	if (b && b->alloc) {
		/* volatile so that the compiler keeps the wipe before free. */
		for (volatile char *p = b->s; p < b->s + b->alloc; p++)
			*p = '\0';
	}
	rhv_buf_release(b);
}

void rhv_buf_release(struct rhv_buf *b)
{
	if (!b)
		return;
	if (b->alloc)
		free(b->s);
	b->s = rhv_buf_empty;
	b->len = 0;
	b->alloc = 0;
}

static int rhv_buf_grow(struct rhv_buf *b, size_t extra)
{
	size_t need, na;
	char *ns;

	if (extra > b->cap || b->len > b->cap - extra)
		return RHV_BUF_TOO_BIG;
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
		return RHV_BUF_NOMEM;
	if (!b->alloc)
		ns[0] = '\0';
	b->s = ns;
	b->alloc = na;
	return 0;
}

int rhv_buf_add(struct rhv_buf *b, const void *data, size_t len)
{
	int rc = rhv_buf_grow(b, len);

	if (rc)
		return rc;
	if (len)
		memcpy(b->s + b->len, data, len);
	b->len += len;
	b->s[b->len] = '\0';
	return 0;
}

int rhv_buf_adds(struct rhv_buf *b, const char *s)
{
	return rhv_buf_add(b, s, strlen(s));
}

int rhv_buf_addf(struct rhv_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return VS_ERR;
	rc = rhv_buf_grow(b, (size_t)n);
	if (rc)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

int rhv_buf_add_pct(struct rhv_buf *b, const char *s)
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
			rc = rhv_buf_add(b, s, 1);
		} else {
			enc[0] = '%';
			enc[1] = hex[c >> 4];
			enc[2] = hex[c & 15];
			rc = rhv_buf_add(b, enc, 3);
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

char *rhv_buf_detach(struct rhv_buf *b)
{
	char *s = b->alloc ? b->s : strdup("");

	b->s = rhv_buf_empty;
	b->len = 0;
	b->alloc = 0;
	return s;
}

char *rhv_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

void rhv_free_secret(char *s)
{
	if (!s)
		return;
	/* volatile so that the compiler keeps the wipe before free. */
	for (volatile char *p = s; *p; p++)
		*p = '\0';
	free(s);
}

const char *rhv_clean(char *dst, size_t dstsz, const char *s)
{
	size_t i = 0;

	if (!dstsz)
		return dst;
	if (!s)
		s = "";
	for (; *s && i + 1 < dstsz; s++, i++) {
		unsigned char c = (unsigned char)*s;
		/* The engine's details carry "\n-Please stop the VM first." */
		if (c == '\n' || c == '\r' || c == '\t')
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

int rhv_streq_ci(const char *a, const char *b)
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

static char rhv_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

int rhv_contains_ci(const char *hay, const char *needle)
{
	size_t i;

	if (!hay || !needle)
		return 0;
	for (; *hay; hay++) {
		for (i = 0; needle[i] && hay[i]; i++)
			if (rhv_lower(hay[i]) != rhv_lower(needle[i]))
				break;
		if (!needle[i])
			return 1;
	}
	return !*needle;
}
