/*
 * buf.h - the one growable byte buffer, with a mandatory size cap.
 *
 * A struct vs_buf is caller-allocated: vs_buf_init() then vs_buf_release().
 * The content is always NUL-terminated (buf->s is never NULL after init).
 * Appending past the cap fails with VS_BUF_TOO_BIG and leaves the buffer
 * as it was, so a hostile peer cannot make us allocate without bound.
 * Not thread-safe: one owner at a time.
 */
#ifndef VS_BUF_H
#define VS_BUF_H

#include <stdarg.h>
#include <stddef.h>

#define VS_BUF_TOO_BIG (-2)
#define VS_BUF_NOMEM   (-3)

/* The cap vs_buf_init() uses when given 0. */
#define VS_BUF_DEFAULT_CAP ((size_t)64 * 1024 * 1024)

struct vs_buf {
	char *s;
	size_t len;
	size_t alloc;
	size_t cap; /* the most len may ever be */
};

/*
 * Initialise an empty buffer whose len may never pass cap (0 means
 * VS_BUF_DEFAULT_CAP).  Allocates nothing, cannot fail.
 */
void vs_buf_init(struct vs_buf *b, size_t cap);
/* Free the memory and leave an empty buffer (usable again); NULL is fine. */
void vs_buf_release(struct vs_buf *b);
/* Empty the buffer, keeping its memory. */
void vs_buf_reset(struct vs_buf *b);
/*
 * Appends.  Each returns 0, VS_BUF_TOO_BIG when the result would pass the
 * cap, VS_BUF_NOMEM when out of memory (VS_ERR from the formatted ones on
 * an encoding error); on failure the buffer is unchanged.
 */
int vs_buf_add(struct vs_buf *b, const void *data, size_t len);
int vs_buf_adds(struct vs_buf *b, const char *s);
int vs_buf_addc(struct vs_buf *b, char c);
int vs_buf_addf(struct vs_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int vs_buf_vaddf(struct vs_buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Append s with characters outside RFC 3986 unreserved percent-encoded. */
int vs_buf_add_urlencoded(struct vs_buf *b, const char *s);
/*
 * Append s percent-encoded for one URL path segment, query value or form
 * value: everything but ALPHA, DIGIT, '-', '_' and '~' is encoded.  Unlike
 * vs_buf_add_urlencoded, '.' is encoded too, so that an id of ".." can
 * never become a dot segment that a URL normaliser would resolve to a
 * parent collection.
 */
int vs_buf_add_pct(struct vs_buf *b, const char *s);
/*
 * Hand the content to the caller (who frees it) and re-initialise the
 * buffer with the same cap.  Returns NULL only when out of memory.
 */
char *vs_buf_detach(struct vs_buf *b, size_t *len);

#endif
