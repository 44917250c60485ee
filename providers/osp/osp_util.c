/*
 * osp_util.c - small helpers of the OpenStack provider.
 *
 * The provider cannot link the core's buffer, so it carries its own: the
 * same contract (a hard cap, unchanged on failure), far fewer functions.
 */
#include "osp_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char osp_buf_empty[1];

void osp_buf_init(struct osp_buf *b, size_t cap)
{
	b->s = osp_buf_empty;
	b->len = 0;
	b->alloc = 0;
	b->cap = cap ? cap : (size_t)64 * 1024 * 1024;
}

void osp_buf_release(struct osp_buf *b)
{
	if (!b)
		return;
	if (b->alloc)
		free(b->s);
	b->s = osp_buf_empty;
	b->len = 0;
	b->alloc = 0;
}

static int osp_buf_grow(struct osp_buf *b, size_t extra)
{
	size_t need, na;
	char *ns;

	if (extra > b->cap || b->len > b->cap - extra)
		return OSP_BUF_TOO_BIG;
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
		return OSP_BUF_NOMEM;
	if (!b->alloc)
		ns[0] = '\0';
	b->s = ns;
	b->alloc = na;
	return 0;
}

int osp_buf_add(struct osp_buf *b, const void *data, size_t len)
{
	int rc = osp_buf_grow(b, len);

	if (rc)
		return rc;
	if (len)
		memcpy(b->s + b->len, data, len);
	b->len += len;
	b->s[b->len] = '\0';
	return 0;
}

int osp_buf_adds(struct osp_buf *b, const char *s)
{
	return osp_buf_add(b, s, strlen(s));
}

int osp_buf_addf(struct osp_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return VS_ERR;
	rc = osp_buf_grow(b, (size_t)n);
	if (rc)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

int osp_buf_add_pct(struct osp_buf *b, const char *s)
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
			rc = osp_buf_add(b, s, 1);
		} else {
			enc[0] = '%';
			enc[1] = hex[c >> 4];
			enc[2] = hex[c & 15];
			rc = osp_buf_add(b, enc, 3);
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

char *osp_buf_detach(struct osp_buf *b)
{
	char *s = b->alloc ? b->s : strdup("");

	b->s = osp_buf_empty;
	b->len = 0;
	b->alloc = 0;
	return s;
}

char *osp_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

void osp_free_secret(char *s)
{
	if (!s)
		return;
	/* volatile so that the compiler keeps the wipe before free. */
	for (volatile char *p = s; *p; p++)
		*p = '\0';
	free(s);
}

const char *osp_clean(char *dst, size_t dstsz, const char *s)
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

int osp_streq_ci(const char *a, const char *b)
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
