/*
 * signals.h - stop signals, the run's deadline and SIGHUP, taken by one
 * watching thread instead of signal handlers.
 *
 * main() calls vs_signals_block() before any thread exists, so every
 * thread inherits a mask that blocks SIGINT, SIGTERM, SIGHUP and SIGUSR1
 * (the watcher's own wake-up; one sent from outside is ignored).  Then
 * vs_signals_new() starts the thread that takes them with sigtimedwait().
 * No code runs in a signal handler, so the reactions below may lock,
 * log and allocate.
 *
 * Until a run arms the watcher, SIGINT and SIGTERM keep their usual
 * effect: the process ends by that signal.  While armed:
 *
 *   first SIGINT/SIGTERM, or the deadline   hooks->stop(udata): start
 *                                           nothing new; what is in
 *                                           flight gets grace_ms
 *   another SIGINT/SIGTERM, or the grace    hooks->abort(udata): what
 *   period passing                          is in flight fails fast
 *   any later one                           logged, nothing else
 *
 * Once a stop happened, SIGINT and SIGTERM never end the process, armed
 * or not: the caller finishes its report and exits by itself.  SIGHUP
 * always reopens the log file (vs_log_reopen) for logrotate.
 *
 * Ownership: vs_signals_new() returns a heap object freed (the thread
 * joined) by vs_signals_free(); the mask stays blocked afterwards.
 *
 * Threading: vs_signals_block() runs in main before threads.  The other
 * functions may be called from any thread but the watcher itself (a hook
 * must not call them).  Hooks run on the watcher thread with the
 * watcher's lock held, so once vs_signals_disarm() returns no hook runs
 * or will run: the caller may then free what udata points to.
 */
#ifndef VS_SIGNALS_H
#define VS_SIGNALS_H

#include <stdint.h>

#include "provider.h"

/* vs_signals_reason(): the deadline stopped the run. */
#define VS_SIGNALS_DEADLINE (-1)

struct vs_signals;

struct vs_signals_hooks {
	void (*stop)(void *udata);  /* may be NULL */
	void (*abort)(void *udata); /* may be NULL */
	void *udata;
	int64_t grace_ms;    /* from the stop to the abort; 0: at once */
	int64_t deadline_ms; /* vs_time_mono_ms() value, or -1 for none */
};

/*
 * Block the watched signals in the calling thread (main, before any
 * thread starts).  Returns VS_ERR with err filled (class internal) when
 * the mask cannot be set.
 */
int vs_signals_block(struct vs_error *err);

/*
 * Start the watcher (blocking the signals in the caller too, in case
 * vs_signals_block() was not called).  NULL with err filled (class
 * internal) on failure.
 */
struct vs_signals *vs_signals_new(struct vs_error *err);
/* Stop and join the watcher, free it; NULL is fine. */
void vs_signals_free(struct vs_signals *w);

/*
 * Arm the watcher with a copy of hooks (see above); replaces any earlier
 * arming.  A deadline already past stops the run at once.
 */
void vs_signals_arm(struct vs_signals *w, const struct vs_signals_hooks *hooks);
/* No hook runs after this returns.  Idempotent. */
void vs_signals_disarm(struct vs_signals *w);

/*
 * What stopped the run: 0 (nothing), SIGINT, SIGTERM or
 * VS_SIGNALS_DEADLINE.  The first one stays.
 */
int vs_signals_reason(const struct vs_signals *w);
/* 1 once the abort stage was reached (second signal or grace over). */
int vs_signals_aborted(const struct vs_signals *w);

#endif
