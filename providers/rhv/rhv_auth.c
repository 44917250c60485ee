/*
 * rhv_auth.c - the engine's SSO token, shared by every worker of an
 * instance.
 *
 * DESIGN: the token, its expiry and a generation number live under one
 * mutex.  A worker copies the token and remembers its generation g before
 * a request.  When the engine refuses the token (401), or it is about to
 * expire, the worker calls rhv_session_refresh(g).  If the generation has
 * moved on since g, someone already obtained a new token and the worker
 * just retries.  Otherwise the first such worker becomes the refresher:
 * it marks the session refreshing, drops the lock and asks the SSO
 * service; every other worker that arrives for g waits on the condition
 * variable and then shares the outcome, success or failure.  So a burst
 * of 401s from many workers costs the engine one login, not one per
 * worker.  No lock is held across HTTP.
 *
 * The SSO service has no refresh grant (api/README.md §B.1): a new token
 * is a new password login.  HTTP Basic (auth: basic) needs no session at
 * all and does not come here.
 */
#include "rhv_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Renew this long before the token's "exp". */
#define RHV_EXPIRY_MARGIN_S 60

int rhv_session_init(struct rhv_session *s, const struct vs_host *host,
		     const char *tag, const struct rhv_settings *set,
		     struct vs_error *err)
{
	memset(s, 0, sizeof(*s));
	s->host = host;
	s->tag = tag;
	s->set = set;
	s->expires_at = VS_TIME_UNKNOWN;
	if (pthread_mutex_init(&s->lock, NULL))
		return vs_error_set(err, VS_EC_INTERNAL, 0, 0,
				    "%s: cannot create a mutex", tag);
	if (pthread_cond_init(&s->cond, NULL)) {
		pthread_mutex_destroy(&s->lock);
		return vs_error_set(err, VS_EC_INTERNAL, 0, 0,
				    "%s: cannot create a condition variable",
				    tag);
	}
	return VS_OK;
}

/* One password login at the SSO service; fills t.  Holds no lock. */
static int rhv_authenticate(struct rhv_session *s, struct vs_http *http,
			    struct rhv_token *t, struct vs_error *err)
{
	static const char *const headers[] = {
		"Content-Type: application/x-www-form-urlencoded",
		"Accept: application/json", NULL};
	struct vs_http_request req;
	struct vs_http_response resp;
	struct vs_error e;
	char *body = NULL;
	int have_resp = 0, rc = VS_ERR;

	memset(&resp, 0, sizeof(resp));
	body = rhv_sso_body(s->set->username, s->set->password);
	if (!body) {
		vs_error_set(err, VS_EC_INTERNAL, 0, 0, "%s: out of memory",
			     s->tag);
		goto out;
	}
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = s->set->urls.sso;
	req.headers = headers;
	req.body = body;
	req.body_len = strlen(body);
	req.ca_file = s->set->ca_file;
	req.insecure = s->set->insecure;
	/* Asking for a token twice does no harm. */
	req.idempotent = 1;
	req.timeout_ms = s->set->timeout_ms;
	req.max_body = 1024 * 1024;
	vs_error_clear(&e);
	if (s->host->http_do(http, &req, &resp, &e)) {
		/* The core's message names no provider: add who. */
		vs_error_set(err, e.cls, e.http_status, e.retryable, "%s: %s",
			     s->tag, e.message);
		goto out;
	}
	have_resp = 1;
	rc = rhv_token_parse(s->tag, resp.status, resp.body, resp.body_len, t,
			     err);
out:
	if (have_resp)
		s->host->http_response_release(&resp);
	rhv_free_secret(body);
	return rc;
}

int rhv_session_login(struct rhv_session *s, struct vs_http *http,
		      struct vs_error *err)
{
	struct rhv_token t;

	memset(&t, 0, sizeof(t));
	if (rhv_authenticate(s, http, &t, err))
		return VS_ERR;
	pthread_mutex_lock(&s->lock);
	rhv_free_secret(s->token);
	s->token = t.access_token;
	s->expires_at = t.expires_at;
	s->gen++;
	pthread_mutex_unlock(&s->lock);
	return VS_OK;
}

static int rhv_expiring_nolock(const struct rhv_session *s)
{
	return s->expires_at != VS_TIME_UNKNOWN &&
	       (int64_t)time(NULL) >= s->expires_at - RHV_EXPIRY_MARGIN_S;
}

int rhv_session_refresh(struct rhv_session *s, struct vs_http *http,
			unsigned long gen, struct vs_error *err)
{
	struct rhv_token t;
	struct vs_error aerr;
	unsigned long mine;
	int rc;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		if (s->gen != gen) {
			pthread_mutex_unlock(&s->lock);
			return VS_OK;
		}
		if (s->dead && s->dead_gen == gen)
			goto shared_failure;
		if (!s->refreshing)
			break;
		/* Wait for the login in flight and share its outcome. */
		mine = s->attempts_started;
		while (s->attempts_done < mine)
			pthread_cond_wait(&s->cond, &s->lock);
		if (s->gen == gen)
			goto shared_failure;
	}
	s->refreshing = 1;
	mine = ++s->attempts_started;
	pthread_mutex_unlock(&s->lock);

	memset(&t, 0, sizeof(t));
	vs_error_clear(&aerr);
	rc = rhv_authenticate(s, http, &t, &aerr);

	pthread_mutex_lock(&s->lock);
	if (rc == VS_OK) {
		rhv_free_secret(s->token);
		s->token = t.access_token;
		s->expires_at = t.expires_at;
		s->gen++;
	} else {
		if (aerr.cls == VS_EC_NONE)
			vs_error_set(&aerr, VS_EC_INTERNAL, 0, 0,
				     "%s: SSO login failed", s->tag);
		s->last_err = aerr;
		/*
		 * The engine said no for good (a changed password): later
		 * workers share that instead of asking again.  A transient
		 * failure is shared only by those waiting now.
		 */
		if (!aerr.retryable) {
			s->dead = 1;
			s->dead_gen = gen;
		}
	}
	s->attempts_done = mine;
	s->refreshing = 0;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (rc)
		vs_error_set(err, aerr.cls, aerr.http_status, aerr.retryable,
			     "%s", aerr.message);
	else
		s->host->log(VS_LOG_DEBUG, s->tag, "obtained a new SSO token");
	return rc;

shared_failure:
	aerr = s->last_err;
	pthread_mutex_unlock(&s->lock);
	return vs_error_set(err, aerr.cls, aerr.http_status, aerr.retryable,
			    "%s", aerr.message);
}

int rhv_session_token(struct rhv_session *s, struct vs_http *http, char **token,
		      unsigned long *gen, struct vs_error *err)
{
	unsigned long g;
	int expiring;

	*token = NULL;
	pthread_mutex_lock(&s->lock);
	g = s->gen;
	expiring = rhv_expiring_nolock(s);
	pthread_mutex_unlock(&s->lock);
	if (expiring && rhv_session_refresh(s, http, g, err))
		return VS_ERR;
	pthread_mutex_lock(&s->lock);
	*gen = s->gen;
	*token = s->token ? strdup(s->token) : NULL;
	pthread_mutex_unlock(&s->lock);
	if (!*token)
		return vs_error_set(err, VS_EC_INTERNAL, 0, 0,
				    "%s: no token (out of memory?)", s->tag);
	return VS_OK;
}

void rhv_session_release(struct rhv_session *s, struct vs_http *http)
{
	if (!s || !s->host)
		return;
	if (http && s->token) {
		/*
		 * Log out (what the engine's own SDKs do on close): the SSO
		 * session would otherwise live on until its idle timeout.
		 */
		static const char *const headers[] = {
			"Content-Type: application/x-www-form-urlencoded",
			"Accept: application/json", NULL};
		struct vs_http_request req;
		struct vs_http_response resp;
		struct vs_error err;
		char *body = rhv_logout_body(s->token);

		if (body) {
			memset(&req, 0, sizeof(req));
			memset(&resp, 0, sizeof(resp));
			vs_error_clear(&err);
			req.method = "POST";
			req.url = s->set->urls.logout;
			req.headers = headers;
			req.body = body;
			req.body_len = strlen(body);
			req.ca_file = s->set->ca_file;
			req.insecure = s->set->insecure;
			req.idempotent = 1;
			req.timeout_ms = s->set->timeout_ms;
			req.max_body = 64 * 1024;
			if (s->host->http_do(http, &req, &resp, &err) == 0)
				s->host->http_response_release(&resp);
			rhv_free_secret(body);
		}
	}
	rhv_free_secret(s->token);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	memset(s, 0, sizeof(*s));
}
