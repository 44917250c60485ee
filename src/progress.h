/*
 * progress.h - the progress line of a long run on a terminal.
 *
 * One line, redrawn in place a few times a second while VMs are deleted
 * (or probed, in a dry run):
 *
 *   [########------------]  120/500  117 deleted  3 failed  380 left
 *   12.3/s  ETA 31s
 *
 * (one line on the terminal, cut to its width so it never wraps).  It
 * shares the terminal with the log: the logger erases it (through the
 * terminal hook of log.h, under the logger's mutex) before each log line
 * and the next tick draws it again below, and redraws go through
 * vs_log_with_lock(), so a log line and the progress line never tear or
 * interleave.  Escapes used: "\r" and erase-line ("\033[K") always;
 * colour (green bar, red failure count) only when opts->color is set,
 * which the CLI clears under NO_COLOR or TERM=dumb.
 *
 * vs_progress_wanted() says whether to show it at all: only when the
 * descriptor is a terminal and TERM is not "dumb" (never in a pipe, a
 * file, journald or cron) and not turned off (--no-progress).
 *
 * Ownership: vs_progress_new() returns a heap object freed by
 * vs_progress_free() (which ends a line still shown).
 *
 * Threading: vs_progress_add() is lock-free and safe from any thread
 * (the workers call it).  begin, end and free are called by one owner
 * thread.  Between begin and end a drawing thread runs.
 */
#ifndef VS_PROGRESS_H
#define VS_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

#include "provider.h"

struct vs_progress;

struct vs_progress_opts {
	int color;	  /* colour the bar and the failures */
	int width;	  /* columns; 0: ask the terminal (80 if it cannot) */
	long interval_ms; /* between redraws; 0: 250 */
};

/* What one line shows (the input of vs_progress_format). */
struct vs_progress_state {
	const char *done_word; /* "deleted", "probed" */
	size_t total;
	size_t done;   /* ended well */
	size_t failed; /* ended otherwise */
	int64_t elapsed_ms;
};

/*
 * 1 when fd is a terminal, TERM is not "dumb" and disabled is 0.
 * Thread-safe.
 */
int vs_progress_wanted(int fd, int disabled);
/*
 * 1 when colour may be used: NO_COLOR unset or empty (no-color.org) and
 * TERM not "dumb".
 */
int vs_progress_color_allowed(void);

/* NULL with err filled (class internal) when out of memory. */
struct vs_progress *vs_progress_new(const struct vs_progress_opts *opts,
				    struct vs_error *err);
/* vs_progress_end() if needed, then free; NULL is fine. */
void vs_progress_free(struct vs_progress *p);

/*
 * Start showing progress towards total VMs (counters reset) on the
 * logger's descriptor, done_word naming a good end ("deleted").  Returns
 * VS_ERR with err filled (class internal) when the drawing thread cannot
 * start; nothing is shown then.  p NULL: nothing to do, 0.
 */
int vs_progress_begin(struct vs_progress *p, const char *done_word,
		      size_t total, struct vs_error *err);
/*
 * Count VMs that ended: done well, failed otherwise.  Negative values
 * take back an earlier count (a failed VM that a retry round takes up
 * again).  p NULL is fine.
 */
void vs_progress_add(struct vs_progress *p, long done, long failed);
/*
 * Stop drawing and erase the line, so that what follows (the summary)
 * starts on a clean line.  Idempotent; p NULL is fine.
 */
void vs_progress_end(struct vs_progress *p);

/*
 * Format one line for st into buf (sz bytes, always terminated): no
 * "\r", no newline, at most width - 1 visible columns; colour escapes
 * around the bar and the failure count when color is set.  Returns the
 * length in bytes.  Pure; exposed for the tests.
 */
size_t vs_progress_format(char *buf, size_t sz,
			  const struct vs_progress_state *st, int color,
			  int width);

#endif
