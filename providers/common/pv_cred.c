/*
 * pv_cred.c - the shared credential and its single-flight renewal.
 *
 * DESIGN: the token, its expiry and a generation number live under one
 * mutex.  A refresh for generation g that finds the generation moved on
 * returns at once: someone already logged in again.  Otherwise the first
 * caller marks the credential refreshing, numbers its attempt, drops the
 * lock and logs in; callers arriving meanwhile wait on the condition
 * variable until that attempt is done and then share its outcome.  So a
 * burst of 401s from many workers costs the platform one login, not one
 * per worker.  No lock is held across the login.
 */
#include "pv_cred.h"

#include <string.h>
#include <time.h>

#include "pv_util.h"

int pv_cred_init(struct pv_cred *c, const struct vs_host *host, const char *tag,
		 const struct pv_cred_ops *ops, void *ctx, struct vs_error *err)
{
	memset(c, 0, sizeof(*c));
	c->tag = tag;
	c->ops = ops;
	c->ctx = ctx;
	c->expires_at = VS_TIME_UNKNOWN;
	if (pthread_mutex_init(&c->lock, NULL))
		return vs_error_set(err, VS_EC_INTERNAL, 0, 0,
				    "%s: cannot create a mutex", tag);
	if (pthread_cond_init(&c->cond, NULL)) {
		pthread_mutex_destroy(&c->lock);
		return vs_error_set(err, VS_EC_INTERNAL, 0, 0,
				    "%s: cannot create a condition variable",
				    tag);
	}
	c->host = host;
	return VS_OK;
}

void pv_cred_release(struct pv_cred *c)
{
	if (!c || !c->host)
		return;
	pv_free_secret(c->token);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	memset(c, 0, sizeof(*c));
}

void pv_cred_set(struct pv_cred *c, char *token, int64_t expires_at)
{
	pthread_mutex_lock(&c->lock);
	pv_free_secret(c->token);
	c->token = token;
	c->expires_at = expires_at;
	c->gen++;
	pthread_mutex_unlock(&c->lock);
}

static int pv_cred_expiring_nolock(const struct pv_cred *c)
{
	return c->expires_at != VS_TIME_UNKNOWN &&
	       (int64_t)time(NULL) >= c->expires_at - PV_CRED_EXPIRY_MARGIN_S;
}

int pv_cred_refresh(struct pv_cred *c, struct vs_http *http, unsigned long gen,
		    struct vs_error *err)
{
	struct vs_error aerr;
	char *token = NULL;
	int64_t expires_at = VS_TIME_UNKNOWN;
	unsigned long mine;
	int rc;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		if (c->gen != gen) {
			pthread_mutex_unlock(&c->lock);
			return VS_OK;
		}
		if (c->dead && c->dead_gen == gen)
			goto shared_failure;
		if (!c->refreshing)
			break;
		/* Wait for the login in flight and share its outcome. */
		mine = c->attempts_started;
		while (c->attempts_done < mine)
			pthread_cond_wait(&c->cond, &c->lock);
		if (c->gen == gen)
			goto shared_failure;
	}
	c->refreshing = 1;
	mine = ++c->attempts_started;
	pthread_mutex_unlock(&c->lock);

	vs_error_clear(&aerr);
	rc = c->ops->login(c->ctx, http, &token, &expires_at, &aerr);

	pthread_mutex_lock(&c->lock);
	if (rc == VS_OK) {
		pv_free_secret(c->token);
		c->token = token;
		c->expires_at = expires_at;
		c->gen++;
		c->refreshes++;
	} else {
		if (aerr.cls == VS_EC_NONE)
			vs_error_set(&aerr, VS_EC_INTERNAL, 0, 0, "%s: %s",
				     c->tag, c->ops->failed);
		c->last_err = aerr;
		/*
		 * The platform said no for good (a changed password): later
		 * workers share that instead of asking again.  A transient
		 * failure is shared only by those waiting now.
		 */
		if (!aerr.retryable) {
			c->dead = 1;
			c->dead_gen = gen;
		}
	}
	c->attempts_done = mine;
	c->refreshing = 0;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	if (rc)
		return vs_error_set(err, aerr.cls, aerr.http_status,
				    aerr.retryable, "%s", aerr.message);
	c->host->log(c->ops->renewed_level, c->tag, "%s", c->ops->renewed);
	return VS_OK;

shared_failure:
	aerr = c->last_err;
	pthread_mutex_unlock(&c->lock);
	return vs_error_set(err, aerr.cls, aerr.http_status, aerr.retryable,
			    "%s", aerr.message);
}

int pv_cred_token(struct pv_cred *c, struct vs_http *http, char **token,
		  unsigned long *gen, struct vs_error *err)
{
	unsigned long g;
	int expiring;

	*token = NULL;
	pthread_mutex_lock(&c->lock);
	g = c->gen;
	expiring = pv_cred_expiring_nolock(c);
	pthread_mutex_unlock(&c->lock);
	if (expiring && pv_cred_refresh(c, http, g, err))
		return VS_ERR;
	pthread_mutex_lock(&c->lock);
	*gen = c->gen;
	*token = c->token ? strdup(c->token) : NULL;
	pthread_mutex_unlock(&c->lock);
	if (!*token)
		return vs_error_set(err, VS_EC_INTERNAL, 0, 0,
				    "%s: no %s (out of memory?)", c->tag,
				    c->ops->noun);
	return VS_OK;
}
