/*
 * pv_json.c - a strict JSON skimmer for large listing pages.
 *
 * pv_json_check mirrors jansson's reader (load.c, 2.14) rule by rule, so
 * that a page is refused exactly when json_loadb would refuse it and the
 * providers' verdict on a hostile page does not change:
 *   - the whole text is strict UTF-8 (no overlong forms, no surrogates,
 *     nothing above U+10FFFF); bytes 0x00-0x1F never appear in a string;
 *   - escapes are the eight short ones or \u with four hex digits; a high
 *     surrogate escape is followed by a low one, a low one never stands
 *     alone, and \u0000 is refused (jansson without JSON_ALLOW_NUL);
 *   - numbers follow the grammar (no leading zeros, digits after '.' and
 *     after the exponent); an integer must fit a long long and a real
 *     must not overflow a double.  The few numbers that could break
 *     either limit (19 digits or more, or a large exponent) are handed
 *     to json_loadb itself, so the limit is jansson's to the last digit;
 *   - a value nested deeper than PV_JSON_MAX_DEPTH is refused, counted
 *     as jansson counts (the top value is at depth 1);
 *   - only ' ', '\t', '\n', '\r' are white space, and nothing but white
 *     space may follow the top value.
 *
 * One difference, on the strict side: jansson 2.14 skips a NUL byte that
 * comes right after a number or a literal (its reader pushes the byte
 * back and then takes it for the end of its look-ahead buffer); here a
 * NUL byte outside a string is refused wherever it is.
 *
 * The check keeps its nesting in a bit stack on the C stack (256 bytes)
 * and does not allocate, but for those rare numbers.  The walkers after
 * it (pv_json_get, the iterator) trust the span they are given and only
 * look for the ends of strings and containers, but they never read past
 * the span either.
 *
 * Speed: strings are scanned eight bytes at a time for the bytes that
 * end plain ASCII, and a listing walks each entry once
 * (pv_json_iter_get), so a page costs two passes over its bytes.
 */
#include "common/pv_json.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Byte classes inside a string. */
enum {
	C_OK = 0, /* ASCII that stands for itself */
	C_QUOTE,
	C_BSLASH,
	C_CTRL, /* 0x00-0x1F: refused */
	C_LEAD2,
	C_LEAD3,
	C_LEAD4,
	C_BAD, /* a continuation byte, 0xC0, 0xC1, 0xF5-0xFF */
};

#define R4(x)  x, x, x, x
#define R16(x) R4(x), R4(x), R4(x), R4(x)

static const unsigned char str_class[256] = {
	/* 0x00 */ R16(C_CTRL),
	/* 0x10 */ R16(C_CTRL),
	/* 0x20 */ C_OK,
	C_OK,
	C_QUOTE,
	C_OK,
	R4(C_OK),
	R4(C_OK),
	R4(C_OK),
	/* 0x30 */ R16(C_OK),
	/* 0x40 */ R16(C_OK),
	/* 0x50 */ R4(C_OK),
	R4(C_OK),
	R4(C_OK),
	C_BSLASH,
	C_OK,
	C_OK,
	C_OK,
	/* 0x60 */ R16(C_OK),
	/* 0x70 */ R16(C_OK),
	/* 0x80 */ R16(C_BAD),
	/* 0x90 */ R16(C_BAD),
	/* 0xA0 */ R16(C_BAD),
	/* 0xB0 */ R16(C_BAD),
	/* 0xC0 */ C_BAD,
	C_BAD,
	C_LEAD2,
	C_LEAD2,
	R4(C_LEAD2),
	R4(C_LEAD2),
	R4(C_LEAD2),
	/* 0xD0 */ R16(C_LEAD2),
	/* 0xE0 */ R16(C_LEAD3),
	/* 0xF0 */ R4(C_LEAD4),
	C_LEAD4,
	C_BAD,
	C_BAD,
	C_BAD,
	R4(C_BAD),
	R4(C_BAD),
};

static inline int is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static inline int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Eight bytes at a time: the bit 0x80 of each byte of the result is set
 * where the byte is below n (n <= 0x80), or equal to c.  Exact for
 * "is there any such byte", which is all the loops below ask.
 */
#define ONES  UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

static inline uint64_t load8(const unsigned char *p)
{
	uint64_t w;

	memcpy(&w, p, sizeof(w));
	return w;
}

static inline uint64_t below8(uint64_t w, unsigned n)
{
	return (w - ONES * n) & ~w & HIGHS;
}

static inline uint64_t eq8(uint64_t w, unsigned c)
{
	return below8(w ^ (ONES * c), 1);
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Four hex digits at p (p + 4 <= end checked by the caller), or -1. */
static long hex4(const unsigned char *p)
{
	long v = 0;
	int i, h;

	for (i = 0; i < 4; i++) {
		if ((h = hexval(p[i])) < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

struct scan {
	const unsigned char *start, *end;
	const char *msg; /* set on failure */
	const unsigned char *at;
	/* The top object's members wanted (pv_json_check_get). */
	const char *const *keys;
	size_t n;
	struct pv_json_span *vals;
	long midx; /* the key of the member being read, or -1 */
	const unsigned char *mstart;
};

static long key_index(const char *p, const char *end, const char *const *keys,
		      size_t n);

static const unsigned char *fail(struct scan *s, const unsigned char *at,
				 const char *msg)
{
	s->msg = msg;
	s->at = at;
	return NULL;
}

/*
 * Check the escape at p (just after the backslash); the byte after it,
 * or NULL.
 */
static const unsigned char *check_escape(struct scan *s, const unsigned char *p)
{
	const unsigned char *end = s->end;
	long u, lo;

	if (p >= end)
		return fail(s, p, "unterminated string");
	switch (*p) {
	case '"':
	case '\\':
	case '/':
	case 'b':
	case 'f':
	case 'n':
	case 'r':
	case 't':
		return p + 1;
	case 'u':
		break;
	default:
		return fail(s, p, "invalid escape");
	}
	if (end - p < 5 || (u = hex4(p + 1)) < 0)
		return fail(s, p, "invalid escape");
	p += 5;
	if (u == 0)
		return fail(s, p, "\\u0000 in a string");
	if (u >= 0xDC00 && u <= 0xDFFF)
		return fail(s, p, "a lone low surrogate");
	if (u < 0xD800 || u > 0xDBFF)
		return p;
	if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
		return fail(s, p, "a high surrogate without its pair");
	if ((lo = hex4(p + 2)) < 0)
		return fail(s, p, "invalid escape");
	if (lo < 0xDC00 || lo > 0xDFFF)
		return fail(s, p, "a high surrogate without its pair");
	return p + 6;
}

/* Check the multi-byte UTF-8 character at p of class cls; past it, or
 * NULL. */
static const unsigned char *check_utf8(struct scan *s, const unsigned char *p,
				       int cls)
{
	size_t n = cls == C_LEAD2 ? 2 : cls == C_LEAD3 ? 3 : 4;
	unsigned char lo = 0x80, hi = 0xBF;
	size_t i;

	if ((size_t)(s->end - p) < n)
		return fail(s, p, "invalid UTF-8");
	/* The second byte's range rules out overlong forms, surrogates and
	 * code points above U+10FFFF (RFC 3629 table). */
	if (p[0] == 0xE0)
		lo = 0xA0;
	else if (p[0] == 0xED)
		hi = 0x9F;
	else if (p[0] == 0xF0)
		lo = 0x90;
	else if (p[0] == 0xF4)
		hi = 0x8F;
	if (p[1] < lo || p[1] > hi)
		return fail(s, p, "invalid UTF-8");
	for (i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xBF)
			return fail(s, p, "invalid UTF-8");
	return p + n;
}

/* Check the string whose opening quote is at p; past its closing quote,
 * or NULL. */
static const unsigned char *check_string(struct scan *s, const unsigned char *p)
{
	const unsigned char *end = s->end;

	p++;
	for (;;) {
		int cls;

		/* The common case: plain ASCII, eight bytes at a time. */
		while (end - p >= 8) {
			uint64_t w = load8(p);

			if ((below8(w, 0x20) | eq8(w, '"') | eq8(w, '\\') |
			     (w & HIGHS)) != 0)
				break;
			p += 8;
		}
		while (p < end && str_class[*p] == C_OK)
			p++;
		if (p >= end)
			return fail(s, p, "unterminated string");
		cls = str_class[*p];
		switch (cls) {
		case C_OK:
			p++;
			break;
		case C_QUOTE:
			return p + 1;
		case C_BSLASH:
			if (!(p = check_escape(s, p + 1)))
				return NULL;
			break;
		case C_CTRL:
			return fail(s, p, "a control character in a string");
		case C_BAD:
			return fail(s, p, "invalid UTF-8");
		default:
			if (!(p = check_utf8(s, p, cls)))
				return NULL;
		}
	}
}

/*
 * Whether a number jansson might refuse for its size (which the grammar
 * check cannot tell) is refused by it: let json_loadb decide.
 */
static int number_fits(const unsigned char *p, size_t len)
{
	json_error_t jerr;
	json_t *v = json_loadb((const char *)p, len, JSON_DECODE_ANY, &jerr);

	if (!v)
		return 0;
	json_decref(v);
	return 1;
}

/* Check the number at p; past it, or NULL. */
static const unsigned char *check_number(struct scan *s, const unsigned char *p)
{
	const unsigned char *start = p, *end = s->end;
	long digits = 0, exp = 0;
	int real = 0, exp_neg = 0;

	if (*p == '-')
		p++;
	if (p >= end)
		return fail(s, p, "invalid number");
	if (*p == '0') {
		p++;
		if (p < end && is_digit(*p))
			return fail(s, p, "a number with a leading zero");
	} else if (is_digit(*p)) {
		while (p < end && is_digit(*p)) {
			p++;
			digits++;
		}
	} else {
		return fail(s, p, "invalid number");
	}
	if (p < end && *p == '.') {
		p++;
		if (p >= end || !is_digit(*p))
			return fail(s, p, "invalid number");
		while (p < end && is_digit(*p))
			p++;
		real = 1;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			exp_neg = *p++ == '-';
		if (p >= end || !is_digit(*p))
			return fail(s, p, "invalid number");
		while (p < end && is_digit(*p)) {
			if (exp < 100000)
				exp = exp * 10 + (*p - '0');
			p++;
		}
		real = 1;
	}
	/*
	 * Below 19 digits an integer fits a long long; below 10^307 a real
	 * fits a double.  Beyond, ask jansson.
	 */
	if (!real && digits >= 19 && !number_fits(start, (size_t)(p - start)))
		return fail(s, start, "an integer too big");
	if (real && digits + (exp_neg ? -exp : exp) > 307 &&
	    !number_fits(start, (size_t)(p - start)))
		return fail(s, start, "a real number overflows");
	return p;
}

static const unsigned char *skip_ws(const unsigned char *p,
				    const unsigned char *end)
{
	while (p < end && is_ws(*p))
		p++;
	return p;
}

/* Check one value and what follows it; see the top of the file. */
static int check_text(struct scan *s, int flags, const unsigned char **vstart,
		      const unsigned char **vend)
{
	unsigned char stack[PV_JSON_MAX_DEPTH / 8]; /* bit set: an object */
	const unsigned char *p = s->start, *end = s->end, *kstart;
	size_t open = 0; /* containers open around the current position */

	p = skip_ws(p, end);
	if (p >= end) {
		fail(s, p, "no value");
		return -1;
	}
	if (!(flags & PV_JSON_ANY) && *p != '{' && *p != '[') {
		fail(s, p, "'[' or '{' expected");
		return -1;
	}
	*vstart = p;
value:
	if (open + 1 > PV_JSON_MAX_DEPTH) {
		fail(s, p, "nested too deeply");
		return -1;
	}
	if (p >= end) {
		fail(s, p, "a value expected");
		return -1;
	}
	switch (*p) {
	case '{':
		stack[open / 8] |= (unsigned char)(1u << (open % 8));
		open++;
		p = skip_ws(p + 1, end);
		if (p < end && *p == '}') {
			p++;
			open--;
			goto after;
		}
		goto key;
	case '[':
		stack[open / 8] &= (unsigned char)~(1u << (open % 8));
		open++;
		p = skip_ws(p + 1, end);
		if (p < end && *p == ']') {
			p++;
			open--;
			goto after;
		}
		goto value;
	case '"':
		p = check_string(s, p);
		break;
	case 't':
		p = end - p >= 4 && memcmp(p, "true", 4) == 0
			    ? p + 4
			    : fail(s, p, "invalid literal");
		break;
	case 'f':
		p = end - p >= 5 && memcmp(p, "false", 5) == 0
			    ? p + 5
			    : fail(s, p, "invalid literal");
		break;
	case 'n':
		p = end - p >= 4 && memcmp(p, "null", 4) == 0
			    ? p + 4
			    : fail(s, p, "invalid literal");
		break;
	default:
		if (*p == '-' || is_digit(*p))
			p = check_number(s, p);
		else
			p = fail(s, p, "invalid token");
	}
	if (!p)
		return -1;
after:
	if (open == 1 && s->midx >= 0) {
		s->vals[s->midx].p = (const char *)s->mstart;
		s->vals[s->midx].len = (size_t)(p - s->mstart);
		s->midx = -1;
	}
	if (!open) {
		*vend = p;
		p = skip_ws(p, end);
		if (p < end) {
			fail(s, p, "end of text expected");
			return -1;
		}
		return 0;
	}
	p = skip_ws(p, end);
	if (p >= end) {
		fail(s, p, "unterminated object or array");
		return -1;
	}
	if (*p == ',') {
		p = skip_ws(p + 1, end);
		if (stack[(open - 1) / 8] & (1u << ((open - 1) % 8)))
			goto key;
		goto value;
	}
	if (*p ==
	    ((stack[(open - 1) / 8] & (1u << ((open - 1) % 8))) ? '}' : ']')) {
		p++;
		open--;
		goto after;
	}
	fail(s, p, "',' or the end of an object or array expected");
	return -1;
key:
	if (p >= end || *p != '"') {
		fail(s, p, "a key or '}' expected");
		return -1;
	}
	kstart = p;
	if (!(p = check_string(s, p)))
		return -1;
	if (open == 1 && s->n)
		s->midx = key_index((const char *)kstart, (const char *)p,
				    s->keys, s->n);
	p = skip_ws(p, end);
	if (p >= end || *p != ':') {
		fail(s, p, "':' expected");
		return -1;
	}
	p = skip_ws(p + 1, end);
	if (open == 1)
		s->mstart = p;
	goto value;
}

int pv_json_check_get(const char *text, size_t len, int flags,
		      struct pv_json_span *root, const char *const *keys,
		      size_t n, struct pv_json_span *vals, char *why,
		      size_t whysz)
{
	struct scan s;
	const unsigned char *vs = NULL, *ve = NULL;
	size_t i;

	root->p = NULL;
	root->len = 0;
	for (i = 0; i < n; i++) {
		vals[i].p = NULL;
		vals[i].len = 0;
	}
	if (why && whysz)
		why[0] = '\0';
	if (!text) {
		if (why && whysz)
			snprintf(why, whysz, "no text");
		return -1;
	}
	s.start = (const unsigned char *)text;
	s.end = s.start + len;
	s.msg = NULL;
	s.at = s.start;
	s.keys = keys;
	s.n = n;
	s.vals = vals;
	s.midx = -1;
	s.mstart = NULL;
	if (check_text(&s, flags, &vs, &ve) != 0) {
		for (i = 0; i < n; i++) {
			vals[i].p = NULL;
			vals[i].len = 0;
		}
		if (why && whysz)
			snprintf(why, whysz, "%s at byte %zu", s.msg,
				 (size_t)(s.at - s.start));
		return -1;
	}
	root->p = (const char *)vs;
	root->len = (size_t)(ve - vs);
	return 0;
}

int pv_json_check(const char *text, size_t len, int flags,
		  struct pv_json_span *root, char *why, size_t whysz)
{
	return pv_json_check_get(text, len, flags, root, NULL, 0, NULL, why,
				 whysz);
}

/* ------------------------------------------------------------------ */
/* Walking checked text.                                                */

enum pv_json_type pv_json_type(const struct pv_json_span *v)
{
	if (!v || !v->p || !v->len)
		return PV_JSON_NONE;
	switch (v->p[0]) {
	case '{':
		return PV_JSON_OBJECT;
	case '[':
		return PV_JSON_ARRAY;
	case '"':
		return PV_JSON_STRING;
	case 't':
		return PV_JSON_TRUE;
	case 'f':
		return PV_JSON_FALSE;
	case 'n':
		return PV_JSON_NULL;
	default:
		return PV_JSON_NUMBER;
	}
}

/* Past the checked string whose opening quote is at p. */
static const char *skip_string(const char *p, const char *end)
{
	const unsigned char *u = (const unsigned char *)p + 1;
	const unsigned char *e = (const unsigned char *)end;

	for (;;) {
		while (e - u >= 8) {
			uint64_t w = load8(u);

			if ((eq8(w, '"') | eq8(w, '\\')) != 0)
				break;
			u += 8;
		}
		while (u < e && *u != '"' && *u != '\\')
			u++;
		if (u >= e)
			return end;
		if (*u == '"')
			return (const char *)u + 1;
		/* An escape: the byte after the backslash is not the end. */
		u += e - u >= 2 ? 2 : 1;
	}
}

/* Bytes a skip over a container stops at: strings and brackets. */
static const unsigned char skip_stop[256] = {
	['"'] = 1, ['{'] = 1, ['}'] = 1, ['['] = 1, [']'] = 1,
};

/* Past the checked value at p. */
static const char *skip_value(const char *p, const char *end)
{
	size_t depth = 0;

	if (p >= end)
		return end;
	if (*p == '"')
		return skip_string(p, end);
	if (*p != '{' && *p != '[') {
		while (p < end && !is_ws((unsigned char)*p) && *p != ',' &&
		       *p != ']' && *p != '}')
			p++;
		return p;
	}
	while (p < end) {
		unsigned char c = (unsigned char)*p;

		if (!skip_stop[c]) {
			p++;
			continue;
		}
		if (c == '"') {
			p = skip_string(p, end);
			continue;
		}
		p++;
		if (c == '{' || c == '[')
			depth++;
		else if (--depth == 0)
			return p;
	}
	return end;
}

static const char *skip_ws_c(const char *p, const char *end)
{
	while (p < end && is_ws((unsigned char)*p))
		p++;
	return p;
}

/* Append the UTF-8 form of code point u to dst[*n, cap); 0, or -1 when
 * it does not fit. */
static int put_utf8(char *dst, size_t cap, size_t *n, unsigned long u)
{
	unsigned char b[4];
	size_t k, i;

	if (u < 0x80) {
		b[0] = (unsigned char)u;
		k = 1;
	} else if (u < 0x800) {
		b[0] = (unsigned char)(0xC0 | (u >> 6));
		b[1] = (unsigned char)(0x80 | (u & 0x3F));
		k = 2;
	} else if (u < 0x10000) {
		b[0] = (unsigned char)(0xE0 | (u >> 12));
		b[1] = (unsigned char)(0x80 | ((u >> 6) & 0x3F));
		b[2] = (unsigned char)(0x80 | (u & 0x3F));
		k = 3;
	} else {
		b[0] = (unsigned char)(0xF0 | (u >> 18));
		b[1] = (unsigned char)(0x80 | ((u >> 12) & 0x3F));
		b[2] = (unsigned char)(0x80 | ((u >> 6) & 0x3F));
		b[3] = (unsigned char)(0x80 | (u & 0x3F));
		k = 4;
	}
	if (cap - *n < k)
		return -1;
	for (i = 0; i < k; i++)
		dst[(*n)++] = (char)b[i];
	return 0;
}

/*
 * Decode the checked string body [p, end) (escapes in it) into dst; its
 * length, or (size_t)-1 when it is longer than cap.
 */
static size_t unescape(const char *p, const char *end, char *dst, size_t cap)
{
	size_t n = 0;

	while (p < end) {
		unsigned long u;
		char c = *p++;

		if (c != '\\') {
			if (n == cap)
				return (size_t)-1;
			dst[n++] = c;
			continue;
		}
		/* Checked text has whole escapes; stop short of the end if not. */
		if (p >= end)
			break;
		c = *p++;
		if (c == 'u' && end - p < 4)
			break;
		switch (c) {
		case 'b':
			c = '\b';
			break;
		case 'f':
			c = '\f';
			break;
		case 'n':
			c = '\n';
			break;
		case 'r':
			c = '\r';
			break;
		case 't':
			c = '\t';
			break;
		case 'u':
			u = (unsigned long)hex4((const unsigned char *)p);
			p += 4;
			if (u >= 0xD800 && u <= 0xDBFF && end - p >= 6) {
				unsigned long lo = (unsigned long)hex4(
					(const unsigned char *)p + 2);

				u = 0x10000 + ((u - 0xD800) << 10) +
				    (lo - 0xDC00);
				p += 6;
			}
			if (put_utf8(dst, cap, &n, u))
				return (size_t)-1;
			continue;
		default: /* '"', '\\', '/' stand for themselves */
			break;
		}
		if (n == cap)
			return (size_t)-1;
		dst[n++] = c;
	}
	return n;
}

/* Longest key pv_json_get compares when the text escapes it. */
#define KEY_MAX 256

/* Which of keys the checked key string [p, end) (quotes included) is,
 * or -1. */
static long key_index(const char *p, const char *end, const char *const *keys,
		      size_t n)
{
	const char *body = p + 1;
	size_t len = (size_t)(end - body) - 1, i;
	char buf[KEY_MAX];

	if (memchr(body, '\\', len)) {
		len = unescape(body, body + len, buf, sizeof(buf));
		if (len == (size_t)-1)
			return -1;
		body = buf;
	}
	/* The first byte rules most keys out; the text has no NUL in it. */
	for (i = 0; i < n; i++)
		if (keys[i][0] == (len ? body[0] : '\0') &&
		    strncmp(keys[i], body, len) == 0 && keys[i][len] == '\0')
			return (long)i;
	return -1;
}

/* A member of an object: its key, quotes included, and its value. */
struct member {
	const char *k, *ke, *v, *ve;
};

/* The members of the object whose '{' was just passed. */
struct members {
	const char *p, *end;
	int done;
};

/*
 * The next member into m: 1, or 0 at the object's end, where it->p is
 * then left (at its '}' in checked text).  Text that is not checked
 * ends the walk where it stops making sense, rather than be misread.
 */
static int next_member(struct members *it, struct member *m)
{
	const char *p;

	if (it->done)
		return 0;
	it->done = 1;
	p = it->p = skip_ws_c(it->p, it->end);
	if (p >= it->end || *p != '"')
		return 0;
	m->k = p;
	m->ke = skip_string(p, it->end);
	if (m->ke - m->k < 2 || m->ke[-1] != '"')
		return 0;
	p = it->p = skip_ws_c(m->ke, it->end);
	if (p >= it->end || *p != ':')
		return 0;
	m->v = skip_ws_c(p + 1, it->end);
	m->ve = skip_value(m->v, it->end);
	p = it->p = skip_ws_c(m->ve, it->end);
	if (p < it->end && *p == ',') {
		it->p = p + 1;
		it->done = 0;
	}
	return 1;
}

/*
 * Walk the members of the checked object whose '{' is at p, keeping the
 * last value of each of keys in vals (cleared first); past its '}'.
 */
static const char *walk_object(const char *p, const char *end,
			       const char *const *keys, size_t n,
			       struct pv_json_span *vals, size_t *found)
{
	struct members it;
	struct member m;
	size_t i;

	*found = 0;
	for (i = 0; i < n; i++) {
		vals[i].p = NULL;
		vals[i].len = 0;
	}
	it.p = p + 1;
	it.end = end;
	it.done = 0;
	while (next_member(&it, &m)) {
		long idx = n ? key_index(m.k, m.ke, keys, n) : -1;

		if (idx >= 0) {
			if (!vals[idx].len)
				(*found)++;
			vals[idx].p = m.v;
			vals[idx].len = (size_t)(m.ve - m.v);
		}
	}
	p = it.p;
	/* At the '}' of a checked object. */
	return p < end ? p + 1 : end;
}

size_t pv_json_get(const struct pv_json_span *obj, const char *const *keys,
		   size_t n, struct pv_json_span *vals)
{
	size_t i, found = 0;

	if (pv_json_type(obj) != PV_JSON_OBJECT) {
		for (i = 0; i < n; i++) {
			vals[i].p = NULL;
			vals[i].len = 0;
		}
		return 0;
	}
	walk_object(obj->p, obj->p + obj->len, keys, n, vals, &found);
	return found;
}

/*
 * Calls fn for each member of the checked object at obj->p, in order,
 * with the key's text (quotes included) and the value; stops early when
 * fn returns non-zero and returns that.
 */
static int each_member(const struct pv_json_span *obj,
		       int (*fn)(void *ctx, const char *k, const char *ke,
				 const struct pv_json_span *v),
		       void *ctx)
{
	const char *p = obj->p + 1, *end = obj->p + obj->len;

	for (;;) {
		const char *k, *ke;
		struct pv_json_span v;
		int r;

		p = skip_ws_c(p, end);
		if (p >= end || *p != '"')
			return 0;
		k = p;
		ke = skip_string(p, end);
		if (ke - k < 2 || ke[-1] != '"')
			return 0; /* not checked text: stop, do not misread */
		p = skip_ws_c(ke, end);
		if (p >= end || *p != ':')
			return 0;
		v.p = skip_ws_c(p + 1, end);
		p = skip_value(v.p, end);
		v.len = (size_t)(p - v.p);
		if ((r = fn(ctx, k, ke, &v)) != 0)
			return r;
		p = skip_ws_c(p, end);
		if (p >= end || *p != ',')
			return 0;
		p++;
	}
}

static int other_key(void *ctx, const char *k, const char *ke,
		     const struct pv_json_span *v)
{
	const char *const *key = ctx;

	(void)v;
	return key_index(k, ke, key, 1) < 0;
}

int pv_json_only_key(const struct pv_json_span *obj, const char *key)
{
	const char *q;

	if (pv_json_type(obj) != PV_JSON_OBJECT)
		return 0;
	q = skip_ws_c(obj->p + 1, obj->p + obj->len);
	if (q >= obj->p + obj->len || *q == '}')
		return 0;
	return each_member(obj, other_key, &key) == 0;
}

void pv_json_iter_init(struct pv_json_iter *it, const struct pv_json_span *arr)
{
	it->p = it->end = NULL;
	if (pv_json_type(arr) != PV_JSON_ARRAY)
		return;
	it->p = skip_ws_c(arr->p + 1, arr->p + arr->len);
	it->end = arr->p + arr->len;
	if (it->p < it->end && *it->p == ']')
		it->p = it->end;
}

/* Past the element at it->p: to the next one, or to the end. */
static void iter_step(struct pv_json_iter *it, const char *after)
{
	const char *p = skip_ws_c(after, it->end);

	/* After an element comes ',' and the next one, or the ']'. */
	it->p = p < it->end && *p == ',' ? skip_ws_c(p + 1, it->end) : it->end;
}

int pv_json_iter_next(struct pv_json_iter *it, struct pv_json_span *elem)
{
	const char *p;

	if (!it->p || it->p >= it->end)
		return 0;
	p = skip_value(it->p, it->end);
	elem->p = it->p;
	elem->len = (size_t)(p - it->p);
	iter_step(it, p);
	return 1;
}

int pv_json_iter_get(struct pv_json_iter *it, struct pv_json_span *elem,
		     const char *const *keys, size_t n,
		     struct pv_json_span *vals)
{
	const char *p;
	size_t i, found;

	if (!it->p || it->p >= it->end)
		return 0;
	if (*it->p != '{') {
		for (i = 0; i < n; i++) {
			vals[i].p = NULL;
			vals[i].len = 0;
		}
		return pv_json_iter_next(it, elem);
	}
	/* One walk finds both the members and the end of the element. */
	p = walk_object(it->p, it->end, keys, n, vals, &found);
	elem->p = it->p;
	elem->len = (size_t)(p - it->p);
	iter_step(it, p);
	return 1;
}

size_t pv_json_count(const struct pv_json_span *arr)
{
	struct pv_json_iter it;
	struct pv_json_span e;
	size_t n = 0;

	pv_json_iter_init(&it, arr);
	while (pv_json_iter_next(&it, &e))
		n++;
	return n;
}

/* ------------------------------------------------------------------ */
/* To jansson.                                                          */

/* Below this depth containers are built here; deeper, by json_loadb. */
#define DECODE_DEPTH 32

static json_t *decode(const char *p, size_t len, int depth);

/*
 * The checked string body [p, p + len) in *out: p itself when it has no
 * escape, else a malloc'd copy in *copy (NULL when memory ran out).
 */
static int string_body(const char *p, size_t len, const char **out,
		       size_t *outlen, char **copy)
{
	*copy = NULL;
	if (!memchr(p, '\\', len)) {
		*out = p;
		*outlen = len;
		return 0;
	}
	/* Decoded, a string is never longer than its text. */
	*copy = malloc(len ? len : 1);
	if (!*copy)
		return -1;
	*outlen = unescape(p, p + len, *copy, len);
	*out = *copy;
	return 0;
}

static json_t *decode_array(const char *p, size_t len, int depth)
{
	struct pv_json_span arr = {p, len}, e;
	struct pv_json_iter it;
	json_t *a = json_array();

	if (!a)
		return NULL;
	pv_json_iter_init(&it, &arr);
	while (pv_json_iter_next(&it, &e)) {
		json_t *v = decode(e.p, e.len, depth + 1);

		if (!v || json_array_append_new(a, v)) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *decode_object(const char *p, size_t len, int depth)
{
	struct members it = {p + 1, p + len, 0};
	struct member m;
	json_t *o = json_object();

	if (!o)
		return NULL;
	while (next_member(&it, &m)) {
		const char *key;
		size_t klen;
		char *copy;
		json_t *val;

		if (string_body(m.k + 1, (size_t)(m.ke - m.k) - 2, &key, &klen,
				&copy))
			goto fail;
		/* Set in order: a later duplicate replaces, as in jansson. */
		val = decode(m.v, (size_t)(m.ve - m.v), depth + 1);
		if (!val || json_object_setn_new_nocheck(o, key, klen, val)) {
			free(copy);
			goto fail;
		}
		free(copy);
	}
	return o;
fail:
	json_decref(o);
	return NULL;
}

static json_t *decode(const char *p, size_t len, int depth)
{
	struct pv_json_span v = {p, len};
	json_error_t jerr;
	const char *body;
	size_t blen;
	char *copy;
	json_t *j;

	switch (pv_json_type(&v)) {
	case PV_JSON_NONE:
		return NULL;
	case PV_JSON_TRUE:
		return json_true();
	case PV_JSON_FALSE:
		return json_false();
	case PV_JSON_NULL:
		return json_null();
	case PV_JSON_STRING:
		/* Checked: valid UTF-8 and no NUL, escapes or not. */
		if (len < 2 || string_body(p + 1, len - 2, &body, &blen, &copy))
			return NULL;
		j = json_stringn_nocheck(body, blen);
		free(copy);
		return j;
	case PV_JSON_NUMBER:
		/* Short integers here; reals and long ones as jansson reads
		 * them (strtod, strtoll). */
		if (len < 19 && !memchr(p, '.', len) && !memchr(p, 'e', len) &&
		    !memchr(p, 'E', len)) {
			json_int_t n = 0;
			size_t i = p[0] == '-';

			for (; i < len; i++)
				n = n * 10 + (p[i] - '0');
			return json_integer(p[0] == '-' ? -n : n);
		}
		break;
	case PV_JSON_ARRAY:
		if (depth < DECODE_DEPTH)
			return decode_array(p, len, depth);
		break;
	case PV_JSON_OBJECT:
		if (depth < DECODE_DEPTH)
			return decode_object(p, len, depth);
		break;
	}
	return json_loadb(p, len, JSON_DECODE_ANY, &jerr);
}

json_t *pv_json_decode(const struct pv_json_span *v)
{
	if (!v || !v->p)
		return NULL;
	return decode(v->p, v->len, 0);
}

json_t *pv_json_object_of(const char *const *keys, size_t n,
			  const struct pv_json_span *vals)
{
	json_t *o = json_object();
	size_t i;

	if (!o)
		return NULL;
	for (i = 0; i < n; i++) {
		json_t *v;

		if (!vals[i].len)
			continue;
		v = pv_json_decode(&vals[i]);
		if (!v || json_object_set_new_nocheck(o, keys[i], v)) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

json_t *pv_json_pick(const struct pv_json_span *obj, const char *const *keys,
		     size_t n)
{
	struct pv_json_span vals[PV_JSON_KEYS_MAX];

	if (n > PV_JSON_KEYS_MAX || pv_json_type(obj) != PV_JSON_OBJECT)
		return NULL;
	pv_json_get(obj, keys, n, vals);
	return pv_json_object_of(keys, n, vals);
}

struct pick_ci {
	const char *const *keys;
	size_t n;
	json_t *o;
};

static int pick_ci_member(void *ctx, const char *k, const char *ke,
			  const struct pv_json_span *v)
{
	struct pick_ci *pc = ctx;
	const char *key;
	size_t klen, i;
	char *copy;
	json_t *val;
	int rc = 0;

	if (string_body(k + 1, (size_t)(ke - k) - 2, &key, &klen, &copy))
		return -1;
	for (i = 0; i < pc->n; i++)
		if (strlen(pc->keys[i]) == klen &&
		    strncasecmp(pc->keys[i], key, klen) == 0)
			break;
	if (i < pc->n) {
		/* In order: a later duplicate replaces, as in jansson. */
		val = decode(v->p, v->len, 1);
		if (!val || json_object_setn_new_nocheck(pc->o, key, klen, val))
			rc = -1;
	}
	free(copy);
	return rc;
}

json_t *pv_json_pick_ci(const struct pv_json_span *obj, const char *const *keys,
			size_t n)
{
	struct pick_ci pc = {keys, n, NULL};

	if (pv_json_type(obj) != PV_JSON_OBJECT)
		return NULL;
	if (!(pc.o = json_object()))
		return NULL;
	if (each_member(obj, pick_ci_member, &pc) != 0) {
		json_decref(pc.o);
		return NULL;
	}
	return pc.o;
}
