/*
 * signals.c - the signal-watching thread.
 *
 * DESIGN: the watched signals are blocked in every thread (main blocks
 * them before creating any), so the kernel leaves them pending until the
 * watcher takes one with sigtimedwait().  The watcher sleeps until a
 * signal arrives or the next timer is due: the deadline while the run
 * goes on, the end of the grace period while it stops.  Its state is
 * guarded by one mutex, which it also holds while a hook runs; that is
 * what lets vs_signals_disarm() promise that no hook runs afterwards.
 *
 * vs_signals_free() wakes the watcher by sending SIGUSR1 to that thread
 * alone (pthread_kill); a SIGUSR1 from outside finds no quit flag and is
 * ignored.
 *
 * An unarmed SIGINT or SIGTERM before any stop gets its default action:
 * the watcher restores it, unblocks the signal in its own thread and
 * raises it there, so the process dies by the signal as its parent
 * expects (a shell then reports 130 or 143).
 */
#include "signals.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "timeutil.h"

#define TAG "vmsweep"

enum phase {
	PH_RUNNING = 0,
	PH_STOPPING, /* stop ran; the grace period is under way */
	PH_ABORTED,  /* abort ran */
};

struct vs_signals {
	pthread_t thread;
	pthread_mutex_t mu;
	/* Under mu. */
	int armed;
	struct vs_signals_hooks hooks;
	enum phase phase;
	int64_t grace_end_ms;
	int quit;
	/* Written under mu, read anywhere. */
	atomic_int reason;
	atomic_int aborted;
};

static void watched(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGUSR1);
}

int vs_signals_block(struct vs_error *err)
{
	sigset_t set;
	int rc;

	watched(&set);
	rc = pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (rc != 0)
		return vs_error_set(err, VS_EC_INTERNAL, 0, 0,
				    "cannot block signals: error %d", rc);
	return 0;
}

static const char *sig_name(int sig)
{
	switch (sig) {
	case SIGINT:
		return "SIGINT";
	case SIGTERM:
		return "SIGTERM";
	case SIGHUP:
		return "SIGHUP";
	default:
		return "a signal";
	}
}

/* The reactions, all with w->mu held. */

static void do_abort_nolock(struct vs_signals *w, const char *why)
{
	w->phase = PH_ABORTED;
	atomic_store(&w->aborted, 1);
	vs_log(VS_LOG_WARN, TAG,
	       "%s: cancelling the requests in flight; the report is still "
	       "written",
	       why);
	if (w->hooks.abort)
		w->hooks.abort(w->hooks.udata);
}

static void do_stop_nolock(struct vs_signals *w, int reason, const char *why)
{
	char grace[32];

	atomic_store(&w->reason, reason);
	w->phase = PH_STOPPING;
	vs_duration_format(grace, sizeof(grace), w->hooks.grace_ms);
	vs_log(VS_LOG_WARN, TAG,
	       "%s: stopping; nothing new starts, deletions in flight get %s",
	       why, grace);
	if (w->hooks.stop)
		w->hooks.stop(w->hooks.udata);
	w->grace_end_ms = vs_time_mono_ms() + w->hooks.grace_ms;
	if (w->hooks.grace_ms <= 0)
		do_abort_nolock(w, "no grace period");
}

/* The default action of sig, from this thread.  Does not return when the
 * signal ends the process (it does for SIGINT and SIGTERM). */
static void die_by(int sig)
{
	sigset_t one;

	signal(sig, SIG_DFL);
	sigemptyset(&one);
	sigaddset(&one, sig);
	pthread_sigmask(SIG_UNBLOCK, &one, NULL);
	raise(sig);
	pthread_sigmask(SIG_BLOCK, &one, NULL);
}

static void on_stop_signal(struct vs_signals *w, int sig)
{
	char why[64];
	int die = 0;

	pthread_mutex_lock(&w->mu);
	if (w->armed && w->phase == PH_RUNNING) {
		snprintf(why, sizeof(why), "received %s", sig_name(sig));
		do_stop_nolock(w, sig, why);
	} else if (w->armed && w->phase == PH_STOPPING) {
		snprintf(why, sizeof(why), "received %s again", sig_name(sig));
		do_abort_nolock(w, why);
	} else if (atomic_load(&w->reason) != 0) {
		vs_log(VS_LOG_WARN, TAG,
		       "received %s: already stopping, finishing the report",
		       sig_name(sig));
	} else {
		die = 1;
	}
	pthread_mutex_unlock(&w->mu);
	if (die)
		die_by(sig);
}

static void on_hup(void)
{
	struct vs_error err;

	vs_error_clear(&err);
	if (vs_log_reopen(&err) != 0)
		vs_log(VS_LOG_WARN, TAG, "SIGHUP: %s", err.message);
	else
		vs_log(VS_LOG_DEBUG, TAG, "SIGHUP: log file reopened");
}

/*
 * Run what is due now; return the monotonic time of the next timer, or
 * -1 for none, and set *quit when the watcher is to end.
 */
static int64_t timers(struct vs_signals *w, int *quit)
{
	int64_t due = -1;
	char d[32], why[96];

	pthread_mutex_lock(&w->mu);
	*quit = w->quit;
	if (!w->quit && w->armed) {
		int64_t now = vs_time_mono_ms();

		if (w->phase == PH_RUNNING && w->hooks.deadline_ms >= 0 &&
		    now >= w->hooks.deadline_ms)
			do_stop_nolock(w, VS_SIGNALS_DEADLINE,
				       "maximum run time reached");
		if (w->phase == PH_STOPPING && now >= w->grace_end_ms) {
			vs_duration_format(d, sizeof(d), w->hooks.grace_ms);
			snprintf(why, sizeof(why), "grace period of %s over",
				 d);
			do_abort_nolock(w, why);
		}
		if (w->phase == PH_RUNNING && w->hooks.deadline_ms >= 0)
			due = w->hooks.deadline_ms;
		else if (w->phase == PH_STOPPING)
			due = w->grace_end_ms;
	}
	pthread_mutex_unlock(&w->mu);
	return due;
}

static void *watch(void *arg)
{
	struct vs_signals *w = arg;
	sigset_t set;
	siginfo_t si;
	int quit, sig;

	watched(&set);
	for (;;) {
		int64_t due = timers(w, &quit);

		if (quit)
			break;
		if (due < 0) {
			sig = sigwaitinfo(&set, &si);
		} else {
			int64_t left = due - vs_time_mono_ms();
			struct timespec ts;

			if (left < 0)
				left = 0;
			ts.tv_sec = (time_t)(left / 1000);
			ts.tv_nsec = (long)(left % 1000) * 1000000L;
			sig = sigtimedwait(&set, &si, &ts);
		}
		if (sig < 0)
			continue; /* EAGAIN (a timer is due) or EINTR */
		if (sig == SIGINT || sig == SIGTERM)
			on_stop_signal(w, sig);
		else if (sig == SIGHUP)
			on_hup();
		/* SIGUSR1: the loop checks the quit flag. */
	}
	return NULL;
}

struct vs_signals *vs_signals_new(struct vs_error *err)
{
	struct vs_signals *w;
	int rc;

	if (vs_signals_block(err) != 0)
		return NULL;
	w = calloc(1, sizeof(*w));
	if (!w) {
		vs_error_set(err, VS_EC_INTERNAL, 0, 0, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&w->mu, NULL);
	atomic_init(&w->reason, 0);
	atomic_init(&w->aborted, 0);
	rc = pthread_create(&w->thread, NULL, watch, w);
	if (rc != 0) {
		vs_error_set(err, VS_EC_INTERNAL, 0, 0,
			     "cannot start the signal thread: error %d", rc);
		pthread_mutex_destroy(&w->mu);
		free(w);
		return NULL;
	}
	return w;
}

void vs_signals_free(struct vs_signals *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->quit = 1;
	w->armed = 0;
	pthread_mutex_unlock(&w->mu);
	pthread_kill(w->thread, SIGUSR1);
	pthread_join(w->thread, NULL);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

void vs_signals_arm(struct vs_signals *w, const struct vs_signals_hooks *hooks)
{
	pthread_mutex_lock(&w->mu);
	w->hooks = *hooks;
	w->armed = 1;
	w->phase = PH_RUNNING;
	pthread_mutex_unlock(&w->mu);
	/* Let the watcher recompute its sleep for the new deadline. */
	pthread_kill(w->thread, SIGUSR1);
}

void vs_signals_disarm(struct vs_signals *w)
{
	pthread_mutex_lock(&w->mu);
	w->armed = 0;
	memset(&w->hooks, 0, sizeof(w->hooks));
	pthread_mutex_unlock(&w->mu);
}

int vs_signals_reason(const struct vs_signals *w)
{
	return atomic_load(&((struct vs_signals *)w)->reason);
}

int vs_signals_aborted(const struct vs_signals *w)
{
	return atomic_load(&((struct vs_signals *)w)->aborted);
}
