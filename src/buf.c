/*
 * buf.c - the growable byte buffer with a hard size cap.
 *
 * An initialised but empty buffer points at a shared empty string, so
 * init cannot fail and an unused buffer costs no allocation (git's
 * strbuf_slopbuf).  Nothing ever writes through that pointer: every
 * write path grows the buffer first, and reset only writes when alloc is
 * non-zero.
 */
#include "buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provider.h" /* VS_ERR */

static char vs_buf_empty[1];

void vs_buf_init(struct vs_buf *b, size_t cap)
{
	b->s = vs_buf_empty;
	b->len = 0;
	b->alloc = 0;
	b->cap = cap ? cap : VS_BUF_DEFAULT_CAP;
	/* The NUL needs room past the cap: cap + 1 must not wrap to 0. */
	if (b->cap == SIZE_MAX)
		b->cap = SIZE_MAX - 1;
}

void vs_buf_release(struct vs_buf *b)
{
	if (!b)
		return;
	if (b->alloc)
		free(b->s);
	b->s = vs_buf_empty;
	b->len = 0;
	b->alloc = 0;
}

void vs_buf_reset(struct vs_buf *b)
{
	b->len = 0;
	if (b->alloc)
		b->s[0] = '\0';
}

/*
 * Make room for extra more bytes plus the terminating NUL.  Fails
 * without touching the buffer when len + extra would pass the cap.
 */
static int grow(struct vs_buf *b, size_t extra)
{
	size_t need, na;
	char *ns;

	if (extra > b->cap || b->len > b->cap - extra)
		return VS_BUF_TOO_BIG;
	need = b->len + extra + 1;
	if (need <= b->alloc)
		return 0;
	/* Double, but never beyond what the cap can ever use. */
	na = b->alloc ? b->alloc : 64;
	while (na < need)
		na = na > SIZE_MAX / 2 ? need : na * 2;
	if (na > b->cap + 1)
		na = b->cap + 1;
	ns = realloc(b->alloc ? b->s : NULL, na);
	if (!ns)
		return VS_BUF_NOMEM;
	if (!b->alloc)
		ns[0] = '\0';
	b->s = ns;
	b->alloc = na;
	return 0;
}

int vs_buf_add(struct vs_buf *b, const void *data, size_t len)
{
	int rc = grow(b, len);

	if (rc)
		return rc;
	if (len)
		memcpy(b->s + b->len, data, len);
	b->len += len;
	b->s[b->len] = '\0';
	return 0;
}

int vs_buf_adds(struct vs_buf *b, const char *s)
{
	return vs_buf_add(b, s, strlen(s));
}

int vs_buf_addc(struct vs_buf *b, char c)
{
	return vs_buf_add(b, &c, 1);
}

int vs_buf_vaddf(struct vs_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	size_t room;
	int n, rc;

	/* First try in the room we have; most lines fit. */
	room = b->alloc ? b->alloc - b->len : 0;
	va_copy(cp, ap);
	n = vsnprintf(room ? b->s + b->len : NULL, room, fmt, cp);
	va_end(cp);
	if (n < 0) {
		if (b->alloc)
			b->s[b->len] = '\0';
		return VS_ERR;
	}
	if ((size_t)n < room && (size_t)n <= b->cap - b->len) {
		b->len += (size_t)n;
		return 0;
	}
	/* Undo whatever a truncated attempt left past len. */
	if (b->alloc)
		b->s[b->len] = '\0';
	rc = grow(b, (size_t)n);
	if (rc)
		return rc;
	va_copy(cp, ap);
	n = vsnprintf(b->s + b->len, b->alloc - b->len, fmt, cp);
	va_end(cp);
	if (n < 0) {
		b->s[b->len] = '\0';
		return VS_ERR;
	}
	b->len += (size_t)n;
	return 0;
}

int vs_buf_addf(struct vs_buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vs_buf_vaddf(b, fmt, ap);
	va_end(ap);
	return rc;
}

/* Percent-encode s onto b, leaving unreserved characters as they are. */
static int add_pct(struct vs_buf *b, const char *s, int keep_dot)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t start = b->len;
	int rc = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' ||
		    (c == '.' && keep_dot) || c == '_' || c == '~') {
			rc = vs_buf_addc(b, (char)c);
		} else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};
			rc = vs_buf_add(b, e, 3);
		}
		if (rc)
			break;
	}
	if (rc) {
		/* All or nothing, like every other append. */
		b->len = start;
		if (b->alloc)
			b->s[start] = '\0';
	}
	return rc;
}

int vs_buf_add_urlencoded(struct vs_buf *b, const char *s)
{
	return add_pct(b, s, 1);
}

int vs_buf_add_pct(struct vs_buf *b, const char *s)
{
	return add_pct(b, s, 0);
}

char *vs_buf_detach(struct vs_buf *b, size_t *len)
{
	char *s;

	if (b->alloc) {
		s = b->s;
	} else {
		s = malloc(1);
		if (!s)
			return NULL;
		s[0] = '\0';
	}
	if (len)
		*len = b->len;
	b->s = vs_buf_empty;
	b->len = 0;
	b->alloc = 0;
	return s;
}
