/*
 * breaker.h - the circuit breaker: stop sending deletes to a provider
 * that keeps failing.
 *
 * One breaker holds one circuit per provider.  Workers report each
 * delete (or probe) that ended: a failure, or a success (deleted, already
 * absent, confirmed gone).  A circuit opens, for good within the run,
 * when either trigger fires:
 *
 *   consecutive   K failures in a row                  (K = 0: off)
 *   percent       more than X% of at least N attempts   (X = 0: off)
 *                 failed
 *
 * Once open, vs_breaker_allow() refuses that provider with the reason
 * ("circuit breaker open for osp-lab: 10 consecutive failures"), and the
 * sweep marks what is left there not_attempted.  Deletes already in
 * flight finish and are still reported.
 *
 * Ownership: the breaker copies the provider names.  Threading: every
 * function but _new/_free is safe from any thread; one mutex guards all
 * circuits (held only to update a few counters).
 */
#ifndef VS_BREAKER_H
#define VS_BREAKER_H

#include <stddef.h>

struct vs_breaker;

struct vs_breaker_config {
	int consecutive;  /* K; 0 turns the trigger off */
	int percent;	  /* X; 0 turns the trigger off */
	int min_attempts; /* N; at least 1 */
};

#define VS_BREAKER_REASON_MAX 160

/*
 * A breaker with one closed circuit per name (n may be 0).  Returns NULL
 * when out of memory.
 */
struct vs_breaker *vs_breaker_new(const struct vs_breaker_config *cfg,
				  const char *const *names, size_t n);
/* NULL is fine. */
void vs_breaker_free(struct vs_breaker *b);

/*
 * 1 when a delete may be sent to provider i; 0 when its circuit is open,
 * with the reason copied into why (cut to sz, terminated) when why is not
 * NULL.  A NULL breaker allows everything.
 */
int vs_breaker_allow(struct vs_breaker *b, size_t i, char *why, size_t sz);

/*
 * Count one attempt on provider i that ended: failed (1) or not (0).
 * Returns 1 exactly once per circuit, from the call that opened it (the
 * caller logs it then), with the reason in why as above; else 0.  After
 * the circuit opened, results are still counted (deletes in flight).
 */
int vs_breaker_record(struct vs_breaker *b, size_t i, int failed, char *why,
		      size_t sz);

/* 1 when provider i's circuit is open. */
int vs_breaker_is_open(struct vs_breaker *b, size_t i);

#endif
