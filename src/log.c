/*
 * log.c - the process logger.
 *
 * DESIGN: a line is built entirely on the caller's stack: the level is
 * checked first, the message is formatted with vsnprintf into a local
 * buffer, then redacted and escaped into a second local buffer that
 * already holds the timestamp, level, worker id and tag.  Only then is
 * the one mutex taken, for exactly one write_all() per destination, so
 * lines never interleave and a slow formatter never holds up another
 * thread.  The mutex also guards the file descriptor that
 * vs_log_reopen() swaps while workers are logging.
 *
 * Settings other than the level are written by vs_log_setup() and
 * vs_log_teardown() only, before and after the threads, so they are read
 * without the lock.
 *
 * Journal mode (stderr connected to journald): the line for the fd
 * starts with a syslog priority "<N>" and carries no timestamp, since
 * journald adds both; the file, if any, still gets timestamped lines, so
 * such a line is formatted twice.
 *
 * The terminal hook lets the progress line share the terminal: the
 * logger calls it with the mutex held just before a line goes to the fd
 * (it erases the progress line), and the progress thread redraws through
 * vs_log_with_lock(), so a redraw never lands inside a log line.  The level is atomic because vs_log_enabled() is
 * called from everywhere and costs must stay near zero when disabled.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "timeutil.h"

/* Room kept at the end of a line for the marker and the closing bytes. */
#define TRUNC_MARKER "...[truncated]"
#define RESERVE	     32
#define REDACTED     "[REDACTED]"

static struct {
	pthread_mutex_t lock;
	atomic_int level;
	enum vs_log_format format;
	int fd;
	int file_fd; /* under lock: vs_log_reopen swaps it */
	char *file_path;
	int timestamps;
	int journal;
	/* Under lock. */
	void (*tty_hook)(int fd, void *udata);
	void *tty_udata;
} g = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.level = VS_LOG_INFO,
	.format = VS_LOG_TEXT,
	.fd = 2,
	.file_fd = -1,
	.file_path = NULL,
	.timestamps = 1,
};

static _Thread_local int tl_worker = -1;

static const char *const level_upper[] = {"ERROR", "WARN", "INFO", "DEBUG",
					  "TRACE"};
static const char *const level_lower[] = {"error", "warn", "info", "debug",
					  "trace"};
/* syslog priorities: err, warning, info, debug, debug. */
static const char *const level_prio[] = {"<3>", "<4>", "<6>", "<7>", "<7>"};

/* ------------------------------------------------------------------ */
/* Bounded output: whole units or nothing, so an escape sequence or a    */
/* UTF-8 character is never cut in half by truncation.                   */

struct out {
	char *p;
	size_t len;
	size_t lim; /* content may use p[0..lim) */
	int full;   /* a unit did not fit; everything after is dropped */
};

static void out_unit(struct out *o, const char *s, size_t n)
{
	if (o->full)
		return;
	if (n > o->lim - o->len) {
		o->full = 1;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void out_str(struct out *o, const char *s)
{
	out_unit(o, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
	size_t n, i;
	unsigned int cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n > avail)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, UTF-16 surrogates and beyond U+10FFFF. */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

/*
 * Escape one character (or UTF-8 sequence) at s and return how many
 * source bytes it used.  Text: \n \r \t \xNN for control bytes and
 * invalid UTF-8.  JSON: the JSON escapes, \u00NN, and U+FFFD for
 * invalid UTF-8, so every line is valid JSON whatever the input.
 */
static size_t out_escaped(struct out *o, const unsigned char *s, size_t avail,
			  int json)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char c = s[0];
	char e[8];
	size_t n;

	switch (c) {
	case '\n':
		out_unit(o, "\\n", 2);
		return 1;
	case '\r':
		out_unit(o, "\\r", 2);
		return 1;
	case '\t':
		out_unit(o, "\\t", 2);
		return 1;
	case '"':
		out_unit(o, json ? "\\\"" : "\"", json ? 2 : 1);
		return 1;
	case '\\':
		out_unit(o, json ? "\\\\" : "\\", json ? 2 : 1);
		return 1;
	default:
		break;
	}
	if (c < 0x20 || c == 0x7f) {
		if (json) {
			memcpy(e, "\\u00", 4);
			e[4] = hex[c >> 4];
			e[5] = hex[c & 15];
			out_unit(o, e, 6);
		} else {
			e[0] = '\\';
			e[1] = 'x';
			e[2] = hex[c >> 4];
			e[3] = hex[c & 15];
			out_unit(o, e, 4);
		}
		return 1;
	}
	n = utf8_len(s, avail);
	if (n) {
		out_unit(o, (const char *)s, n);
		return n;
	}
	if (json) {
		out_unit(o, "\xef\xbf\xbd", 3);
	} else {
		e[0] = '\\';
		e[1] = 'x';
		e[2] = hex[c >> 4];
		e[3] = hex[c & 15];
		out_unit(o, e, 4);
	}
	return 1;
}

/* ------------------------------------------------------------------ */
/* Redaction.                                                            */

/*
 * Names whose value is a credential.  Header names hide everything up to
 * the end of the line after "Name:"; field names hide one JSON value,
 * one form/URL value after "name=", or the rest of the line after
 * "name:".  Matching is case-insensitive and on whole words only, so
 * "tokens" or "token_id" stay readable.
 */
static const struct {
	const char *name;
	int header;
} secret_keys[] = {
	{"authorization", 1},
	{"proxy-authorization", 1},
	{"x-auth-token", 1},
	{"x-subject-token", 1},
	{"vmware-api-session-id", 1},
	{"set-cookie", 1},
	{"cookie", 1},
	{"password", 0},
	{"passwd", 0},
	{"secret", 0},
	{"client_secret", 0},
	{"application_credential_secret", 0},
	{"token", 0},
	{"access_token", 0},
	{"refresh_token", 0},
	{"id_token", 0},
	{"api_key", 0},
};

static int is_word(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static int is_blank(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* Index just past the closing quote's start: the unescaped quote at or
 * after i (q is "\"" or "\\\"" for JSON embedded in JSON), or len. */
static size_t find_quote(const char *s, size_t i, size_t len, const char *q)
{
	size_t ql = strlen(q);

	while (i < len) {
		if (ql == 1 && s[i] == '\\' && i + 1 < len) {
			i += 2;
			continue;
		}
		if (i + ql <= len && memcmp(s + i, q, ql) == 0)
			return i;
		i++;
	}
	return len;
}

/*
 * If a credential name starts at s[i], set [*vs, *ve) to the value to
 * hide and return 1.  Returns 0 when nothing is to be hidden here.
 */
static int match_secret(const char *s, size_t i, size_t len, size_t *vs,
			size_t *ve)
{
	const char *q = NULL;
	size_t k, j, kl;
	int in_quotes = i > 0 && s[i - 1] == '"';
	/*
	 * A field name may also end a longer one ("OS_PASSWORD",
	 * "db-password", "auth_token"): that is still a credential.
	 */
	int suffix = i > 0 && (s[i - 1] == '_' || s[i - 1] == '-');

	if (i > 0 && is_word((unsigned char)s[i - 1]) && !suffix)
		return 0;
	/*
	 * The last segment of a path ("POST /sso/oauth/token: 503") names
	 * an endpoint, not a field; a query's "?token=" is still caught.
	 */
	if (i > 0 && s[i - 1] == '/')
		return 0;
	for (k = 0; k < sizeof(secret_keys) / sizeof(secret_keys[0]); k++) {
		if (suffix && secret_keys[k].header)
			continue;
		kl = strlen(secret_keys[k].name);
		if (kl <= len - i &&
		    strncasecmp(s + i, secret_keys[k].name, kl) == 0 &&
		    (i + kl == len || !is_word((unsigned char)s[i + kl])))
			break;
	}
	if (k == sizeof(secret_keys) / sizeof(secret_keys[0]))
		return 0;
	j = i + kl;
	/* A quoted key: "password": "x", 'password': 'x', \"password\":... */
	if (j < len && (s[j] == '"' || s[j] == '\'')) {
		j++;
		in_quotes = 1;
	} else if (j + 1 < len && s[j] == '\\' && s[j + 1] == '"') {
		j += 2;
		in_quotes = 1;
	}
	while (j < len && is_blank((unsigned char)s[j]))
		j++;
	if (j < len && s[j] == '=') {
		/* name=value, name = value, name="value" or name='value'. */
		j++;
		while (j < len && is_blank((unsigned char)s[j]))
			j++;
		if (j < len && (s[j] == '"' || s[j] == '\'')) {
			q = s[j] == '"' ? "\"" : "'";
			*vs = j + 1;
			*ve = find_quote(s, *vs, len, q);
			return 1;
		}
		*vs = j;
		while (j < len && !strchr("& \t\r\n;\"',", s[j]))
			j++;
		*ve = j;
		return *ve > *vs;
	}
	if (j >= len || s[j] != ':')
		return 0;
	j++;
	while (j < len && is_blank((unsigned char)s[j]))
		j++;
	if (j < len && s[j] == '"')
		q = "\"";
	else if (j < len && s[j] == '\'')
		q = "'";
	else if (j + 1 < len && s[j] == '\\' && s[j + 1] == '"')
		q = "\\\"";
	if (q) {
		/* A quoted value: hide what is between the quotes. */
		*vs = j + strlen(q);
		*ve = find_quote(s, *vs, len, q);
		return 1;
	}
	/* Structures under a field name ("token": {...}) are not secrets. */
	if (!secret_keys[k].header && j < len && (s[j] == '{' || s[j] == '['))
		return 0;
	*vs = j;
	if (in_quotes && !secret_keys[k].header) {
		/* An unquoted JSON scalar. */
		while (j < len && !strchr(",}] \t\r\n", s[j]))
			j++;
	} else if (in_quotes) {
		/* "Authorization: Bearer x" inside a quoted string. */
		while (j < len && s[j] != '"' && s[j] != '\r' && s[j] != '\n')
			j++;
	} else {
		while (j < len && s[j] != '\r' && s[j] != '\n')
			j++;
	}
	*ve = j;
	return *ve > *vs;
}

/*
 * If s[i] starts the "://" of a URL whose authority holds a password
 * ("https://user:password@host"), set [*vs, *ve) to the password and
 * return 1.
 */
static int match_userinfo(const char *s, size_t i, size_t len, size_t *vs,
			  size_t *ve)
{
	size_t j, end, at = 0, colon = 0;

	if (len - i < 3 || memcmp(s + i, "://", 3) != 0)
		return 0;
	/* The authority ends at the path, query, fragment or the text. */
	for (end = i + 3; end < len && !strchr("/?#\"'<> \t\r\n", s[end]);
	     end++)
		if (s[end] == '@')
			at = end; /* the last '@': a password may hold one */
	if (!at)
		return 0;
	for (j = i + 3; j < at && !colon; j++)
		if (s[j] == ':')
			colon = j;
	if (!colon)
		return 0;
	*vs = colon + 1;
	*ve = at;
	return 1;
}

/* Append src[0..len) redacted and escaped. */
static void out_sanitized(struct out *o, const char *src, size_t len, int json)
{
	size_t i = 0, vs, ve;

	while (i < len && !o->full) {
		unsigned char c = (unsigned char)src[i];
		if ((((c | 0x20) >= 'a' && (c | 0x20) <= 'z') &&
		     match_secret(src, i, len, &vs, &ve)) ||
		    (c == ':' && match_userinfo(src, i, len, &vs, &ve))) {
			while (i < vs && !o->full)
				i += out_escaped(o,
						 (const unsigned char *)src + i,
						 len - i, json);
			out_str(o, REDACTED);
			i = ve;
			continue;
		}
		i += out_escaped(o, (const unsigned char *)src + i, len - i,
				 json);
	}
}

void vs_log_sanitize(char *dst, size_t dstsz, const char *src)
{
	struct out o;
	size_t marker = sizeof(TRUNC_MARKER) - 1;

	if (!dstsz)
		return;
	o.p = dst;
	o.len = 0;
	o.full = 0;
	/* Keep room for the marker when there is room for anything else. */
	o.lim = dstsz - 1 > marker * 2 ? dstsz - 1 - marker : dstsz - 1;
	out_sanitized(&o, src, strlen(src), 0);
	if (o.full && o.lim != dstsz - 1) {
		o.lim = dstsz - 1;
		o.full = 0;
		out_str(&o, TRUNC_MARKER);
	}
	dst[o.len] = '\0';
}

/* ------------------------------------------------------------------ */
/* Writing.                                                              */

/* Write all of p, across partial writes and signals; drop it on error. */
static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return; /* nowhere left to report it */
		}
		p += w;
		n -= (size_t)w;
	}
}

/* flen 0: the file gets line too. */
static void emit(const char *line, size_t len, const char *fline, size_t flen)
{
	pthread_mutex_lock(&g.lock);
	if (g.fd >= 0) {
		if (g.tty_hook)
			g.tty_hook(g.fd, g.tty_udata);
		write_all(g.fd, line, len);
	}
	if (g.file_fd >= 0) {
		if (flen)
			write_all(g.file_fd, fline, flen);
		else
			write_all(g.file_fd, line, len);
	}
	pthread_mutex_unlock(&g.lock);
}

int vs_log_enabled(enum vs_log_level level)
{
	return (int)level <=
	       atomic_load_explicit(&g.level, memory_order_relaxed);
}

/*
 * Build one whole line of msg (already formatted) into line[0..sz):
 * prio (or NULL) first, then the timestamp when ts is set.  Returns its
 * length, newline included.
 */
static size_t format_line(char *line, size_t sz, enum vs_log_level level,
			  const char *tag, int worker, const char *msg,
			  int truncated, int ts, const char *prio)
{
	char num[32];
	struct out o = {line, 0, sz - RESERVE, 0};
	int json = g.format == VS_LOG_JSON;

	if (prio)
		out_str(&o, prio);
	if (json)
		out_str(&o, "{");
	if (ts) {
		char tsb[32];
		vs_time_format_ms(tsb, sizeof(tsb), vs_time_now_ms());
		out_str(&o, json ? "\"ts\":\"" : "");
		out_str(&o, tsb);
		out_str(&o, json ? "\"," : " ");
	}
	if (json) {
		out_str(&o, "\"level\":\"");
		out_str(&o, level_lower[level]);
		out_str(&o, "\"");
		if (worker >= 0) {
			snprintf(num, sizeof(num), ",\"worker\":%d", worker);
			out_str(&o, num);
		}
		if (tag) {
			out_str(&o, ",\"tag\":\"");
			out_sanitized(&o, tag, strlen(tag), 1);
			out_str(&o, "\"");
		}
		out_str(&o, ",\"msg\":\"");
	} else {
		out_str(&o, level_upper[level]);
		if (worker >= 0) {
			snprintf(num, sizeof(num), " [w%d]", worker);
			out_str(&o, num);
		}
		out_str(&o, " ");
		if (tag) {
			out_sanitized(&o, tag, strlen(tag), 0);
			out_str(&o, ": ");
		}
	}
	out_sanitized(&o, msg, strlen(msg), json);
	/* The reserve always holds the marker and the closing bytes. */
	truncated |= o.full;
	o.lim = sz;
	o.full = 0;
	if (truncated)
		out_str(&o, TRUNC_MARKER);
	if (json)
		out_str(&o, "\"}");
	out_str(&o, "\n");
	return o.len;
}

void vs_logv(enum vs_log_level level, const char *tag, const char *fmt,
	     va_list ap)
{
	char msg[VS_LOG_LINE_MAX];
	char line[VS_LOG_LINE_MAX];
	char fline[VS_LOG_LINE_MAX];
	size_t len, flen = 0;
	int n, worker = tl_worker;
	int truncated;

	if (!vs_log_enabled(level))
		return;
	if ((unsigned int)level > VS_LOG_TRACE)
		level = VS_LOG_TRACE;
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0) {
		snprintf(msg, sizeof(msg), "(unformattable log message)");
		n = 0;
	}
	truncated = (size_t)n >= sizeof(msg);

	if (g.journal) {
		len = format_line(line, sizeof(line), level, tag, worker, msg,
				  truncated, 0, level_prio[level]);
		if (g.file_path)
			flen = format_line(fline, sizeof(fline), level, tag,
					   worker, msg, truncated, g.timestamps,
					   NULL);
	} else {
		len = format_line(line, sizeof(line), level, tag, worker, msg,
				  truncated, g.timestamps, NULL);
	}
	emit(line, len, fline, flen);
}

void vs_log(enum vs_log_level level, const char *tag, const char *fmt, ...)
{
	va_list ap;

	if (!vs_log_enabled(level))
		return;
	va_start(ap, fmt);
	vs_logv(level, tag, fmt, ap);
	va_end(ap);
}

void vs_log_set_worker(int id)
{
	tl_worker = id;
}

/* ------------------------------------------------------------------ */
/* Set-up.                                                               */

static int open_file(const char *path, int *fd, struct vs_error *err)
{
	char eb[128];

	*fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (*fd < 0)
		return vs_error_set(err, VS_EC_CONFIG, 0, 0,
				    "cannot open log file '%s': %s", path,
				    strerror_r(errno, eb, sizeof(eb)));
	return 0;
}

int vs_log_setup(const struct vs_log_opts *opts, struct vs_error *err)
{
	int fd = -1;
	char *path = NULL;

	if (!opts) {
		vs_log_teardown();
		return 0;
	}
	if (opts->file) {
		path = strdup(opts->file);
		if (!path)
			return vs_error_set(err, VS_EC_INTERNAL, 0, 0,
					    "out of memory");
		if (open_file(path, &fd, err)) {
			free(path);
			return VS_ERR;
		}
	}
	vs_log_teardown();
	atomic_store(&g.level, (int)opts->level);
	g.format = opts->format;
	g.fd = opts->fd;
	g.timestamps = opts->timestamps;
	g.journal = 0;
	g.file_fd = fd;
	g.file_path = path;
	return 0;
}

void vs_log_teardown(void)
{
	pthread_mutex_lock(&g.lock);
	if (g.file_fd >= 0)
		close(g.file_fd);
	g.file_fd = -1;
	pthread_mutex_unlock(&g.lock);
	free(g.file_path);
	g.file_path = NULL;
	atomic_store(&g.level, VS_LOG_INFO);
	g.format = VS_LOG_TEXT;
	g.fd = 2;
	g.timestamps = 1;
	g.journal = 0;
}

int vs_log_reopen(struct vs_error *err)
{
	int fd, old;

	if (!g.file_path)
		return 0;
	/* Open outside the lock; only the swap happens under it. */
	if (open_file(g.file_path, &fd, err))
		return VS_ERR;
	pthread_mutex_lock(&g.lock);
	old = g.file_fd;
	g.file_fd = fd;
	pthread_mutex_unlock(&g.lock);
	if (old >= 0)
		close(old);
	return 0;
}

int vs_log_stream_is_journal(int fd)
{
	const char *v = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char *end;

	if (!v || fd < 0)
		return 0;
	/* "DEVICE:INODE", both decimal (systemd.exec(5)). */
	errno = 0;
	dev = strtoull(v, &end, 10);
	if (errno || end == v || *end != ':')
		return 0;
	v = end + 1;
	ino = strtoull(v, &end, 10);
	if (errno || end == v || *end != '\0')
		return 0;
	if (fstat(fd, &st) != 0)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

void vs_log_set_journal(int on)
{
	g.journal = on != 0;
}

void vs_log_set_tty_hook(void (*hook)(int fd, void *udata), void *udata)
{
	pthread_mutex_lock(&g.lock);
	g.tty_hook = hook;
	g.tty_udata = udata;
	pthread_mutex_unlock(&g.lock);
}

void vs_log_with_lock(void (*fn)(int fd, void *udata), void *udata)
{
	pthread_mutex_lock(&g.lock);
	fn(g.fd, udata);
	pthread_mutex_unlock(&g.lock);
}

int vs_log_level_parse(const char *s, enum vs_log_level *out)
{
	int i;

	if (!s)
		return -1;
	if (strcasecmp(s, "warning") == 0) {
		*out = VS_LOG_WARN;
		return 0;
	}
	for (i = 0; i <= VS_LOG_TRACE; i++) {
		if (strcasecmp(s, level_lower[i]) == 0) {
			*out = (enum vs_log_level)i;
			return 0;
		}
	}
	return -1;
}

int vs_log_format_parse(const char *s, enum vs_log_format *out)
{
	if (s && strcasecmp(s, "text") == 0)
		*out = VS_LOG_TEXT;
	else if (s && strcasecmp(s, "json") == 0)
		*out = VS_LOG_JSON;
	else
		return -1;
	return 0;
}

const char *vs_log_level_name(enum vs_log_level level)
{
	if ((unsigned int)level > VS_LOG_TRACE)
		return "trace";
	return level_lower[level];
}
