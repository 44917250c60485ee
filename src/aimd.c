/*
 * aimd.c - the adaptive concurrency limiter of one provider.
 *
 * DESIGN: the window is a double so that the additive increase can be
 * 1/w per success (TCP's congestion avoidance: one more slot per window
 * of successes) while the waiters compare against floor(w).  Everything
 * lives under one mutex per limiter, held for a few arithmetic
 * operations; waiters sleep on one condition variable and are all woken
 * on every release, since a release may free one slot or, when it grew
 * the window, more than one.  floor(w) is mirrored in an atomic so that
 * the pool can read it under its own lock without taking ours.
 *
 * The generation is the number of cuts so far.  A request carries the
 * generation it started in; its pushback cuts only when no cut happened
 * since it started, so one burst of rejections costs one halving, and
 * later rejections, from requests sent at the reduced rate, cut again.
 *
 * Nothing here can deadlock a run: a slot is held only while a request
 * is on the wire (bounded by its timeout), floor(w) is never below 1, so
 * a waiter always gets a slot once the requests ahead of it end, and
 * vs_aimd_cancel() wakes every waiter.
 */
#include "aimd.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "log.h"

struct vs_aimd {
	pthread_mutex_t lock;
	pthread_cond_t slot; /* a slot may be free, or cancelled */
	char *name;
	double w;
	unsigned int max;
	unsigned int in_flight, waiting;
	unsigned int min;
	unsigned long gen; /* cuts so far */
	unsigned long pushbacks, waits;
	int cancelled;
	atomic_uint limit; /* floor(w) */
};

struct vs_aimd *vs_aimd_new(const char *name, unsigned int max)
{
	struct vs_aimd *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->name = strdup(name ? name : "");
	if (!a->name || pthread_mutex_init(&a->lock, NULL) != 0) {
		free(a->name);
		free(a);
		return NULL;
	}
	if (pthread_cond_init(&a->slot, NULL) != 0) {
		pthread_mutex_destroy(&a->lock);
		free(a->name);
		free(a);
		return NULL;
	}
	if (max < 1)
		max = 1;
	a->max = a->min = max;
	a->w = max;
	atomic_init(&a->limit, max);
	return a;
}

void vs_aimd_free(struct vs_aimd *a)
{
	if (!a)
		return;
	pthread_cond_destroy(&a->slot);
	pthread_mutex_destroy(&a->lock);
	free(a->name);
	free(a);
}

static unsigned int limit_nolock(const struct vs_aimd *a)
{
	return (unsigned int)a->w;
}

/*
 * Apply sig to the window; returns the limit before a cut, or 0 when
 * nothing was cut (for the caller's log line, written unlocked).
 */
static unsigned int adapt_nolock(struct vs_aimd *a, unsigned long ticket,
				 enum vs_aimd_signal sig)
{
	unsigned int before = limit_nolock(a);

	switch (sig) {
	case VS_AIMD_NONE:
		return 0;
	case VS_AIMD_SUCCESS:
		a->w += 1.0 / a->w;
		if (a->w > a->max)
			a->w = a->max;
		break;
	case VS_AIMD_PUSHBACK:
		a->pushbacks++;
		/*
		 * A request older than the last cut met the same overload;
		 * at a window of 1 there is nothing left to cut.
		 */
		if (ticket != a->gen || a->w <= 1)
			return 0;
		a->gen++;
		a->w /= 2;
		if (a->w < 1)
			a->w = 1;
		if (limit_nolock(a) < a->min)
			a->min = limit_nolock(a);
		atomic_store(&a->limit, limit_nolock(a));
		return before;
	}
	if (limit_nolock(a) != before)
		atomic_store(&a->limit, limit_nolock(a));
	return 0;
}

static void log_cut(const struct vs_aimd *a, unsigned int before,
		    unsigned int after)
{
	if (before)
		vs_log(VS_LOG_DEBUG, a->name,
		       "%s pushed back: requests in flight at most %u, was %u",
		       a->name, after, before);
}

int vs_aimd_acquire(struct vs_aimd *a, unsigned long *ticket)
{
	*ticket = 0;
	if (!a)
		return 0;
	pthread_mutex_lock(&a->lock);
	if (!a->cancelled && a->in_flight >= limit_nolock(a)) {
		a->waits++;
		a->waiting++;
		while (!a->cancelled && a->in_flight >= limit_nolock(a))
			pthread_cond_wait(&a->slot, &a->lock);
		a->waiting--;
	}
	if (a->cancelled) {
		pthread_mutex_unlock(&a->lock);
		return VS_ERR;
	}
	a->in_flight++;
	*ticket = a->gen;
	pthread_mutex_unlock(&a->lock);
	return 0;
}

void vs_aimd_release(struct vs_aimd *a, unsigned long ticket,
		     enum vs_aimd_signal sig)
{
	unsigned int before, after;

	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	/* A release without an acquire is a bug in the caller. */
	if (a->in_flight > 0)
		a->in_flight--;
	before = adapt_nolock(a, ticket, sig);
	after = limit_nolock(a);
	pthread_cond_broadcast(&a->slot);
	pthread_mutex_unlock(&a->lock);
	log_cut(a, before, after);
}

void vs_aimd_signal(struct vs_aimd *a, unsigned long ticket,
		    enum vs_aimd_signal sig)
{
	unsigned int before, after;

	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	before = adapt_nolock(a, ticket, sig);
	after = limit_nolock(a);
	/* A success may have grown the window: waiters look again. */
	pthread_cond_broadcast(&a->slot);
	pthread_mutex_unlock(&a->lock);
	log_cut(a, before, after);
}

unsigned long vs_aimd_generation(struct vs_aimd *a)
{
	unsigned long g;

	if (!a)
		return 0;
	pthread_mutex_lock(&a->lock);
	g = a->gen;
	pthread_mutex_unlock(&a->lock);
	return g;
}

unsigned int vs_aimd_limit(const struct vs_aimd *a)
{
	return a ? atomic_load(&((struct vs_aimd *)a)->limit) : 0;
}

void vs_aimd_cancel(struct vs_aimd *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	a->cancelled = 1;
	pthread_cond_broadcast(&a->slot);
	pthread_mutex_unlock(&a->lock);
}

void vs_aimd_stats(struct vs_aimd *a, struct vs_aimd_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	st->max = a->max;
	st->limit = limit_nolock(a);
	st->min = a->min;
	st->decreases = a->gen;
	st->pushbacks = a->pushbacks;
	st->waits = a->waits;
	st->in_flight = a->in_flight;
	st->waiting = a->waiting;
	pthread_mutex_unlock(&a->lock);
}
