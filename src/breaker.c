/*
 * breaker.c - per-provider circuit breakers for the delete fan-out.
 *
 * DESIGN: the counters are tiny and updated once per delete, so one
 * mutex for all circuits costs nothing next to an HTTP request and keeps
 * the two triggers consistent with each other.  A circuit never closes
 * again within a run: a provider that failed K times in a row is not
 * given a second chance in the next retry round either, which is the
 * point (a broken endpoint, expired credentials, a lab being rebuilt).
 */
#include "breaker.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct circuit {
	char *name;
	long attempts, failures, run; /* run: failures in a row */
	int open;
	char reason[VS_BREAKER_REASON_MAX];
};

struct vs_breaker {
	pthread_mutex_t lock;
	struct vs_breaker_config cfg;
	struct circuit *c;
	size_t n;
};

struct vs_breaker *vs_breaker_new(const struct vs_breaker_config *cfg,
				  const char *const *names, size_t n)
{
	struct vs_breaker *b;
	size_t i;

	b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->cfg = *cfg;
	if (b->cfg.min_attempts < 1)
		b->cfg.min_attempts = 1;
	b->c = calloc(n ? n : 1, sizeof(*b->c));
	if (!b->c || pthread_mutex_init(&b->lock, NULL) != 0) {
		free(b->c);
		free(b);
		return NULL;
	}
	b->n = n;
	for (i = 0; i < n; i++) {
		b->c[i].name = strdup(names[i] ? names[i] : "");
		if (!b->c[i].name) {
			vs_breaker_free(b);
			return NULL;
		}
	}
	return b;
}

void vs_breaker_free(struct vs_breaker *b)
{
	size_t i;

	if (!b)
		return;
	for (i = 0; i < b->n; i++)
		free(b->c[i].name);
	free(b->c);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

static void copy_reason(const struct circuit *c, char *why, size_t sz)
{
	if (why && sz)
		snprintf(why, sz, "%s", c->reason);
}

int vs_breaker_allow(struct vs_breaker *b, size_t i, char *why, size_t sz)
{
	int ok;

	if (!b || i >= b->n)
		return 1;
	pthread_mutex_lock(&b->lock);
	ok = !b->c[i].open;
	if (!ok)
		copy_reason(&b->c[i], why, sz);
	pthread_mutex_unlock(&b->lock);
	return ok;
}

/* Open c when a trigger fires; 1 when it did just now.  Lock held. */
static int trip_nolock(const struct vs_breaker_config *cfg, struct circuit *c)
{
	if (c->open)
		return 0;
	if (cfg->consecutive > 0 && c->run >= cfg->consecutive) {
		snprintf(c->reason, sizeof(c->reason),
			 "circuit breaker open for %s: %ld consecutive "
			 "failures",
			 c->name, c->run);
	} else if (cfg->percent > 0 && c->attempts >= cfg->min_attempts &&
		   c->failures * 100 > (long)cfg->percent * c->attempts) {
		snprintf(c->reason, sizeof(c->reason),
			 "circuit breaker open for %s: %ld of %ld attempts "
			 "failed (over %d%%)",
			 c->name, c->failures, c->attempts, cfg->percent);
	} else {
		return 0;
	}
	c->open = 1;
	return 1;
}

int vs_breaker_record(struct vs_breaker *b, size_t i, int failed, char *why,
		      size_t sz)
{
	struct circuit *c;
	int opened;

	if (!b || i >= b->n)
		return 0;
	pthread_mutex_lock(&b->lock);
	c = &b->c[i];
	c->attempts++;
	if (failed) {
		c->failures++;
		c->run++;
	} else {
		c->run = 0;
	}
	opened = trip_nolock(&b->cfg, c);
	if (opened)
		copy_reason(c, why, sz);
	pthread_mutex_unlock(&b->lock);
	return opened;
}

int vs_breaker_is_open(struct vs_breaker *b, size_t i)
{
	int open;

	if (!b || i >= b->n)
		return 0;
	pthread_mutex_lock(&b->lock);
	open = b->c[i].open;
	pthread_mutex_unlock(&b->lock);
	return open;
}
