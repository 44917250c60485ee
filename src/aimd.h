/*
 * aimd.h - adaptive concurrency: how many requests may be in flight to
 * one provider, cut when the platform pushes back and grown back on
 * success (additive increase, multiplicative decrease).
 *
 * A limiter holds a window w in [1, max], starting at max.  Each request
 * takes a slot with vs_aimd_acquire(), which waits while floor(w)
 * requests are already in flight, and gives it back with
 * vs_aimd_release() saying how it went:
 *
 *   pushback   the platform asked us to slow down (HTTP 429 or 503, a
 *              vSphere RESOURCE_BUSY): w = max(1, w / 2)
 *   success    any other answer: w = min(max, w + 1 / w), about one more
 *              slot per window of successes
 *   none       no answer (transport error, timeout): w stays
 *
 * A window is cut at most once per generation: acquire hands out the
 * number of cuts so far as a ticket, and a pushback whose ticket is older
 * than the last cut does not cut again.  The requests already in flight
 * when the platform first pushed back met the same overload; counting
 * each of them would take 64 simultaneous 429s down to a window of 1.
 *
 * Ownership: the caller owns the limiter (vs_aimd_new/vs_aimd_free); the
 * name is copied.  Every function accepts a NULL limiter and then does
 * nothing (acquire always succeeds at once), so a caller without
 * adaptive concurrency needs no special case.
 *
 * Threading: every function but _new/_free is safe from any thread (not
 * from a signal handler).  One mutex per limiter, held only to update a
 * few numbers; acquire sleeps on a condition variable.  vs_aimd_limit()
 * takes no lock.
 */
#ifndef VS_AIMD_H
#define VS_AIMD_H

struct vs_aimd;

enum vs_aimd_signal {
	VS_AIMD_NONE = 0, /* no answer: the window stays */
	VS_AIMD_SUCCESS,
	VS_AIMD_PUSHBACK,
};

struct vs_aimd_stats {
	unsigned int max;	 /* the window's ceiling */
	unsigned int limit;	 /* floor(w) now: the final one after a run */
	unsigned int min;	 /* the lowest floor(w) reached */
	unsigned long decreases; /* cuts made (none at a window of 1) */
	unsigned long pushbacks; /* pushbacks seen, cut or not */
	unsigned long waits;	 /* acquires that had to wait for a slot */
	unsigned int in_flight;
	unsigned int waiting; /* threads in vs_aimd_acquire, waiting */
};

/*
 * A limiter for the endpoint called name (for the log), with a window of
 * max (>= 1) slots.  Returns NULL when out of memory.
 */
struct vs_aimd *vs_aimd_new(const char *name, unsigned int max);
/* NULL is fine.  No thread may be using it. */
void vs_aimd_free(struct vs_aimd *a);

/*
 * Wait for a slot: until fewer than floor(w) requests are in flight.
 * Returns 0 with the slot taken and *ticket set (for release), or VS_ERR
 * without a slot once vs_aimd_cancel() ran (also when it runs during the
 * wait).
 */
int vs_aimd_acquire(struct vs_aimd *a, unsigned long *ticket);
/* Give back a slot taken with ticket, and adapt the window to sig. */
void vs_aimd_release(struct vs_aimd *a, unsigned long ticket,
		     enum vs_aimd_signal sig);

/*
 * Adapt the window to sig without a slot: for pushback seen above the
 * HTTP layer (a provider's error class).  ticket is vs_aimd_generation()
 * read before the work that was pushed back began.
 */
void vs_aimd_signal(struct vs_aimd *a, unsigned long ticket,
		    enum vs_aimd_signal sig);
/* The current generation (cuts so far), as a ticket for vs_aimd_signal. */
unsigned long vs_aimd_generation(struct vs_aimd *a);

/* floor(w): how many requests may be in flight now.  Lock-free. */
unsigned int vs_aimd_limit(const struct vs_aimd *a);

/*
 * Make every waiting and later acquire fail.  Slots already taken are
 * still released normally.  Irreversible.
 */
void vs_aimd_cancel(struct vs_aimd *a);

/* A snapshot of the numbers above; all zero for NULL. */
void vs_aimd_stats(struct vs_aimd *a, struct vs_aimd_stats *st);

#endif
