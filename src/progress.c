/*
 * progress.c - the progress line.
 *
 * DESIGN: workers only bump two atomic counters.  A drawing thread wakes
 * every interval, formats the line on its stack and writes it through
 * vs_log_with_lock(), that is with the logger's mutex held, as one
 * write: "\r", the line, erase-to-end-of-line.  The logger calls
 * erase_hook() under the same mutex before each log line, which erases
 * the progress line if it is shown; the line comes back at the next
 * tick, below the log line.  `shown` is therefore guarded by the
 * logger's mutex, not by ours.
 *
 * The line is cut to the terminal's width less one column: a line that
 * wraps cannot be redrawn in place with "\r" and would smear down the
 * screen.  The width is asked at each draw, so a resized terminal is
 * followed.
 */
#include "progress.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "timeutil.h"

#define BAR_COLS	 20
#define DEFAULT_INTERVAL 250
#define LINE_MAX_BYTES	 512
#define ERASE		 "\033[K"
#define GREEN		 "\033[32m"
#define RESET		 "\033[0m"

struct vs_progress {
	struct vs_progress_opts opts;
	const char *done_word;
	size_t total;
	atomic_long done;
	atomic_long failed;
	int64_t started_ms;

	pthread_t thread;
	int running; /* owner only */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop; /* under mu */

	int shown; /* under the logger's mutex */
};

int vs_progress_color_allowed(void)
{
	const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");

	if (nc && *nc)
		return 0;
	return !(term && strcmp(term, "dumb") == 0);
}

int vs_progress_wanted(int fd, int disabled)
{
	const char *term = getenv("TERM");

	if (disabled || fd < 0 || !isatty(fd))
		return 0;
	return !(term && strcmp(term, "dumb") == 0);
}

/* Append to buf at *len, never past sz - 1. */
static void put(char *buf, size_t sz, size_t *len, const char *s, size_t n)
{
	if (*len >= sz - 1)
		return;
	if (n > sz - 1 - *len)
		n = sz - 1 - *len;
	memcpy(buf + *len, s, n);
	*len += n;
	buf[*len] = '\0';
}

size_t vs_progress_format(char *buf, size_t sz,
			  const struct vs_progress_state *st, int color,
			  int width)
{
	char text[256], eta[32];
	size_t ended = st->done + st->failed, left, len = 0, tlen, cols, k;
	size_t filled;
	int n;

	if (!sz)
		return 0;
	buf[0] = '\0';
	left = ended < st->total ? st->total - ended : 0;
	n = snprintf(text, sizeof(text),
		     "%zu/%zu  %zu %s  %zu failed  %zu left", ended, st->total,
		     st->done, st->done_word ? st->done_word : "done",
		     st->failed, left);
	if (n < 0)
		return 0;
	tlen = strlen(text);
	/* A rate once there is something to measure over a second. */
	if (ended > 0 && st->elapsed_ms >= 1000) {
		double rate = (double)ended * 1000.0 / (double)st->elapsed_ms;

		n = snprintf(text + tlen, sizeof(text) - tlen, "  %.1f/s",
			     rate);
		if (n > 0)
			tlen = strlen(text);
		if (left > 0) {
			double secs = (double)left / rate;
			/* Whole seconds, rounded up: "0s" only when done. */
			int64_t ms = secs > 8.64e8
					     ? (int64_t)8.64e11
					     : (int64_t)(secs + 0.999) * 1000;

			vs_duration_format(eta, sizeof(eta), ms);
			n = snprintf(text + tlen, sizeof(text) - tlen,
				     "  ETA %s", eta);
			if (n > 0)
				tlen = strlen(text);
		}
	}

	cols = width > 1 ? (size_t)width - 1 : 0;
	/* The bar only when the whole line fits with it. */
	if (cols >= tlen + BAR_COLS + 4) {
		filled = st->total ? ended * BAR_COLS / st->total : BAR_COLS;
		if (filled > BAR_COLS)
			filled = BAR_COLS;
		put(buf, sz, &len, "[", 1);
		if (color && filled)
			put(buf, sz, &len, GREEN, strlen(GREEN));
		for (k = 0; k < filled; k++)
			put(buf, sz, &len, "#", 1);
		if (color && filled)
			put(buf, sz, &len, RESET, strlen(RESET));
		for (; k < BAR_COLS; k++)
			put(buf, sz, &len, "-", 1);
		put(buf, sz, &len, "]  ", 3);
	}
	/* The text is plain ASCII: cutting it by bytes is safe. */
	put(buf, sz, &len, text, tlen < cols ? tlen : cols);
	return len;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

static int term_width(int fd, int fallback)
{
	struct winsize ws;

	if (fallback > 0)
		return fallback;
	if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

/* With the logger's mutex held: draw the line. */
static void draw(int fd, void *udata)
{
	struct vs_progress *p = udata;
	struct vs_progress_state st;
	char line[LINE_MAX_BYTES + 8];
	size_t len = 1;
	long d, f;

	if (fd < 0)
		return;
	st.done_word = p->done_word;
	st.total = p->total;
	d = atomic_load(&p->done);
	f = atomic_load(&p->failed);
	st.done = d > 0 ? (size_t)d : 0;
	st.failed = f > 0 ? (size_t)f : 0;
	st.elapsed_ms = vs_time_mono_ms() - p->started_ms;
	line[0] = '\r';
	len += vs_progress_format(line + 1, LINE_MAX_BYTES, &st, p->opts.color,
				  term_width(fd, p->opts.width));
	memcpy(line + len, ERASE, strlen(ERASE));
	len += strlen(ERASE);
	write_all(fd, line, len);
	p->shown = 1;
}

/* With the logger's mutex held: erase the line if it is shown. */
static void erase(int fd, void *udata)
{
	struct vs_progress *p = udata;

	if (fd >= 0 && p->shown)
		write_all(fd, "\r" ERASE, 1 + strlen(ERASE));
	p->shown = 0;
}

static void *draw_thread(void *arg)
{
	struct vs_progress *p = arg;
	struct timespec dl;
	long iv = p->opts.interval_ms > 0 ? p->opts.interval_ms
					  : DEFAULT_INTERVAL;

	for (;;) {
		vs_log_with_lock(draw, p);
		clock_gettime(CLOCK_MONOTONIC, &dl);
		dl.tv_sec += iv / 1000;
		dl.tv_nsec += (iv % 1000) * 1000000L;
		if (dl.tv_nsec >= 1000000000L) {
			dl.tv_sec++;
			dl.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&p->mu);
		while (!p->stop)
			if (pthread_cond_timedwait(&p->cv, &p->mu, &dl) ==
			    ETIMEDOUT)
				break;
		if (p->stop) {
			pthread_mutex_unlock(&p->mu);
			break;
		}
		pthread_mutex_unlock(&p->mu);
	}
	return NULL;
}

struct vs_progress *vs_progress_new(const struct vs_progress_opts *opts,
				    struct vs_error *err)
{
	struct vs_progress *p = calloc(1, sizeof(*p));
	pthread_condattr_t ca;

	if (!p) {
		vs_error_set(err, VS_EC_INTERNAL, 0, 0, "out of memory");
		return NULL;
	}
	if (opts)
		p->opts = *opts;
	atomic_init(&p->done, 0);
	atomic_init(&p->failed, 0);
	pthread_mutex_init(&p->mu, NULL);
	/* Monotonic, so a clock step does not stall or rush the redraws. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cv, &ca);
	pthread_condattr_destroy(&ca);
	return p;
}

void vs_progress_free(struct vs_progress *p)
{
	if (!p)
		return;
	vs_progress_end(p);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

int vs_progress_begin(struct vs_progress *p, const char *done_word,
		      size_t total, struct vs_error *err)
{
	int rc;

	if (!p)
		return 0;
	vs_progress_end(p);
	p->done_word = done_word;
	p->total = total;
	atomic_store(&p->done, 0);
	atomic_store(&p->failed, 0);
	p->started_ms = vs_time_mono_ms();
	p->stop = 0;
	vs_log_set_tty_hook(erase, p);
	rc = pthread_create(&p->thread, NULL, draw_thread, p);
	if (rc != 0) {
		vs_log_set_tty_hook(NULL, NULL);
		return vs_error_set(err, VS_EC_INTERNAL, 0, 0,
				    "cannot start the progress thread: error "
				    "%d",
				    rc);
	}
	p->running = 1;
	return 0;
}

void vs_progress_add(struct vs_progress *p, long done, long failed)
{
	if (!p)
		return;
	if (done)
		atomic_fetch_add(&p->done, done);
	if (failed)
		atomic_fetch_add(&p->failed, failed);
}

void vs_progress_end(struct vs_progress *p)
{
	if (!p || !p->running)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->thread, NULL);
	p->running = 0;
	vs_log_with_lock(erase, p);
	vs_log_set_tty_hook(NULL, NULL);
}
