/*
 * pv_cred.h - one credential (a token, a session id) that every worker
 * of a provider instance shares, renewed once per expiry for all of them.
 *
 * Part of the helpers our own providers share (see pv_util.h), not of the
 * plugin ABI.  The platform's login stays in the provider and arrives as
 * a callback; this module only decides who calls it and who waits.
 *
 * A worker copies the token with pv_cred_token() and remembers its
 * generation.  When the platform refuses it (401), the worker calls
 * pv_cred_refresh() with that generation: the first such caller logs in
 * again, every other caller for the same generation waits and shares the
 * outcome, and a caller whose generation is already old just retries.
 * A refusal for good (a non-retryable error: a changed password) is kept
 * for its generation and handed to every later caller without asking the
 * platform again; a transient failure is shared only with those already
 * waiting, and the next caller tries again.
 *
 * Threading: pv_cred_token, pv_cred_refresh and pv_cred_set are safe from
 * any number of threads; they take the credential's mutex, never across
 * the login callback.  pv_cred_init and pv_cred_release run alone.
 */
#ifndef VS_PV_CRED_H
#define VS_PV_CRED_H

#include <pthread.h>
#include <stdint.h>

#include "provider.h"

#pragma GCC visibility push(hidden)

/* A token this close to its expiry is renewed before use. */
#define PV_CRED_EXPIRY_MARGIN_S 60

/*
 * One login at the platform, called without any lock held.  On success
 * returns VS_OK with *token (heap, a secret: the credential frees it with
 * pv_free_secret) and *expires_at (Unix seconds, or VS_TIME_UNKNOWN when
 * the platform does not say); otherwise VS_ERR with err filled.
 */
typedef int (*pv_cred_login_fn)(void *ctx, struct vs_http *http, char **token,
				int64_t *expires_at, struct vs_error *err);

/* What differs between providers; a const table each. */
struct pv_cred_ops {
	pv_cred_login_fn login;
	/* After "<tag>: ", when a login failed without saying why. */
	const char *failed;
	/* Logged at renewed_level after each successful refresh. */
	enum vs_log_level renewed_level;
	const char *renewed;
	/* What the credential is called: "no <noun> (out of memory?)". */
	const char *noun;
};

struct pv_cred {
	const struct vs_host *host; /* NULL until init succeeded */
	const char *tag;	    /* the instance name, for messages */
	const struct pv_cred_ops *ops;
	void *ctx; /* handed to ops->login */

	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* Under lock: */
	char *token;
	int64_t expires_at;
	unsigned long gen; /* bumped by each token put in place */
	int refreshing;	   /* a worker is logging in */
	unsigned long attempts_started, attempts_done;
	struct vs_error last_err; /* why the last refresh failed */
	/* A refused refresh (bad credentials) is final for its gen. */
	int dead;
	unsigned long dead_gen;
	unsigned long refreshes; /* successful ones */
};

/*
 * An empty credential (no token, generation 0).  tag, ops and ctx are
 * borrowed for its life.  VS_ERR (class internal) when no mutex or
 * condition variable can be made.
 */
int pv_cred_init(struct pv_cred *c, const struct vs_host *host, const char *tag,
		 const struct pv_cred_ops *ops, void *ctx,
		 struct vs_error *err);
/* Wipe and free the token and leave c zeroed; twice or uninitialised is
 * harmless. */
void pv_cred_release(struct pv_cred *c);

/* Put a token in place (taking it over) and start a new generation: the
 * first login. */
void pv_cred_set(struct pv_cred *c, char *token, int64_t expires_at);

/*
 * A copy of the current token (caller frees with pv_free_secret) and its
 * generation.  When the token expires within PV_CRED_EXPIRY_MARGIN_S,
 * refresh it first (with http).  VS_ERR when that fails or when there is
 * no token.
 */
int pv_cred_token(struct pv_cred *c, struct vs_http *http, char **token,
		  unsigned long *gen, struct vs_error *err);

/*
 * The token of generation gen was refused: log in again once for all
 * workers (see the top of this file).  VS_OK when a newer token is in
 * place; VS_ERR with the login's error, the caller's own or shared.
 */
int pv_cred_refresh(struct pv_cred *c, struct vs_http *http, unsigned long gen,
		    struct vs_error *err);

#pragma GCC visibility pop

#endif
