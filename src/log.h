/*
 * log.h - the lock-protected logger.
 *
 * One process-wide logger writes to stderr (and optionally a file).  A
 * call checks the level first, formats the whole line into a local buffer
 * (timestamp, level, worker id, tag, message), escapes control characters,
 * redacts credentials (Authorization, X-Auth-Token, X-Subject-Token,
 * vmware-api-session-id, Cookie/Set-Cookie, password/secret/token fields)
 * and then holds one mutex only for a single write(2) per destination.
 * Lines never interleave.
 *
 * Threading: every function is safe from any thread, except
 * vs_log_setup() and vs_log_teardown(), which run before and after the
 * threads.  The worker id is thread-local (vs_log_set_worker).
 */
#ifndef VS_LOG_H
#define VS_LOG_H

#include "provider.h" /* enum vs_log_level */

/*
 * The longest line written, newline included.  A longer message is cut
 * at a character boundary and ends with "...[truncated]"; a JSON line
 * stays valid JSON.
 */
#define VS_LOG_LINE_MAX 8192

enum vs_log_format {
	VS_LOG_TEXT = 0, /* 2026-11-25T17:40:44.123Z INFO [w3] osp-lab: msg */
	VS_LOG_JSON, /* {"ts":..,"level":..,"worker":..,"tag":..,"msg":..} */
};

struct vs_log_opts {
	enum vs_log_level level;
	enum vs_log_format format;
	int fd;		  /* destination, usually 2; -1 for none */
	const char *file; /* optional extra file, appended; NULL none */
	int timestamps;	  /* 0 to leave them out (journald) */
};

/*
 * Configure the process logger.  Before any call it logs INFO text to
 * stderr.  Returns VS_ERR with err filled (class config) if file cannot
 * be opened; the previous settings then stay.  The logger does not own
 * opts->fd (it never closes it); it owns the file it opens.  Not
 * thread-safe: call before the threads start.
 */
int vs_log_setup(const struct vs_log_opts *opts, struct vs_error *err);
/* Close the log file and return to the defaults (INFO text to stderr). */
void vs_log_teardown(void);
/*
 * Reopen the log file by its path (after logrotate), swapping the
 * descriptor under the lock; safe while other threads log.  0 when no
 * file is configured; VS_ERR with err filled when it cannot be opened
 * (the old descriptor stays in use).
 */
int vs_log_reopen(struct vs_error *err);

/* 1 when a line of this level would be written (cheap, lock-free). */
int vs_log_enabled(enum vs_log_level level);
/*
 * Write one line (text or JSON per the setup) unless level is filtered
 * out, which costs no formatting.  tag may be NULL.  Never fails: a
 * destination that cannot be written loses the line.
 */
void vs_log(enum vs_log_level level, const char *tag, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void vs_logv(enum vs_log_level level, const char *tag, const char *fmt,
	     va_list ap) __attribute__((format(printf, 3, 0)));

/* Thread-local worker id shown in lines; -1 (the default) shows none. */
void vs_log_set_worker(int id);

/*
 * Journal mode, for when fd is journald's stream
 * (vs_log_stream_is_journal): on 1, lines to fd start with a syslog
 * priority, <3> error, <4> warn, <6> info, <7> debug and trace, and carry
 * no timestamp (journald adds both); the file keeps the usual lines.
 * vs_log_setup() and vs_log_teardown() turn it off, so call it after
 * vs_log_setup(), before the threads.
 */
void vs_log_set_journal(int on);
/*
 * 1 when fd is the stream journald gave this process: $JOURNAL_STREAM
 * ("DEV:INODE") names fd's device and inode.  A descriptor merely
 * inherited by a child that redirected it does not match.  Thread-safe.
 */
int vs_log_stream_is_journal(int fd);

/*
 * The terminal hook, for the progress line: hook(fd, udata) runs with the
 * logger's mutex held right before each line goes to fd (the logger's
 * destination), so that it can erase what it drew there.  NULL removes
 * it; once this returns the old hook no longer runs.  The hook must not
 * log.
 */
void vs_log_set_tty_hook(void (*hook)(int fd, void *udata), void *udata);
/*
 * Run fn(fd, udata) with the logger's mutex held, fd being the logger's
 * destination (-1 for none): output written there this way never lands
 * inside a log line.  fn must not log.
 */
void vs_log_with_lock(void (*fn)(int fd, void *udata), void *udata);

/* Parse "error|warn|info|debug|trace" (any case, "warning" too); -1 when
 * unknown. */
int vs_log_level_parse(const char *s, enum vs_log_level *out);
/* Parse "text|json"; -1 when unknown. */
int vs_log_format_parse(const char *s, enum vs_log_format *out);
/* "error", "warn", ... (static storage). */
const char *vs_log_level_name(enum vs_log_level level);

/*
 * Copy src into dst (size dstsz, always NUL-terminated) with control
 * characters and invalid UTF-8 escaped (\n, \t, \xNN) and credentials
 * redacted ("password":"[REDACTED]", Authorization: [REDACTED]).  A
 * result that does not fit is cut at a character boundary and ends with
 * "...[truncated]" when dstsz leaves room for it.  Exposed for the
 * report writers and the tests.  Thread-safe.
 */
void vs_log_sanitize(char *dst, size_t dstsz, const char *src);

#endif
