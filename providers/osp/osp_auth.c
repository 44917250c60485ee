/*
 * osp_auth.c - Keystone v3 authentication and the one token every worker
 * of an instance shares.
 *
 * DESIGN: the token, its expiry and a generation number live under one
 * mutex.  A worker copies the token and remembers its generation g before
 * a request.  When Nova refuses the token (401), or it is about to expire,
 * the worker calls osp_session_refresh(g).  If the generation has moved on
 * since g, someone already re-authenticated and the worker just retries.
 * Otherwise the first such worker becomes the refresher: it marks the
 * session refreshing, drops the lock and talks to Keystone; every other
 * worker that arrives for g waits on the condition variable and then
 * shares the outcome, success or failure.  So a burst of 401s from many
 * workers costs Keystone one request, not one per worker.  No lock is
 * held across HTTP.
 */
#include "osp_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Refresh this long before Keystone's expires_at. */
#define OSP_EXPIRY_MARGIN_S 60

int osp_session_init(struct osp_session *s, const struct vs_host *host,
		     const char *tag, const struct osp_settings *set,
		     long timeout_ms, struct vs_error *err)
{
	memset(s, 0, sizeof(*s));
	s->host = host;
	s->tag = tag;
	s->set = set;
	s->timeout_ms = timeout_ms;
	s->expires_at = VS_TIME_UNKNOWN;
	s->tokens_url = osp_tokens_url(set->auth_url);
	if (!s->tokens_url)
		return vs_error_set(err, VS_EC_CONFIG, 0, 0,
				    "%s: auth_url is not an http(s) URL", tag);
	if (pthread_mutex_init(&s->lock, NULL)) {
		free(s->tokens_url);
		s->tokens_url = NULL;
		return vs_error_set(err, VS_EC_INTERNAL, 0, 0,
				    "%s: cannot create a mutex", tag);
	}
	if (pthread_cond_init(&s->cond, NULL)) {
		pthread_mutex_destroy(&s->lock);
		free(s->tokens_url);
		s->tokens_url = NULL;
		return vs_error_set(err, VS_EC_INTERNAL, 0, 0,
				    "%s: cannot create a condition variable",
				    tag);
	}
	return VS_OK;
}

/* One POST to Keystone; fills t.  Holds no lock. */
static int osp_authenticate(struct osp_session *s, struct vs_http *http,
			    struct osp_token *t, struct vs_error *err)
{
	static const char *const headers[] = {"Content-Type: application/json",
					      "Accept: application/json", NULL};
	struct vs_http_request req;
	struct vs_http_response resp;
	struct vs_error e;
	char *body = NULL;
	int have_resp = 0, rc = VS_ERR;

	memset(&resp, 0, sizeof(resp));
	if (osp_auth_body(s->tag, s->set, &body, err))
		goto out;
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = s->tokens_url;
	req.headers = headers;
	req.body = body;
	req.body_len = strlen(body);
	req.ca_file = s->set->ca_file;
	req.insecure = s->set->insecure;
	/* Asking for a token twice does no harm. */
	req.idempotent = 1;
	req.timeout_ms = s->timeout_ms;
	req.max_body = 16 * 1024 * 1024; /* catalogs are large, not huge */
	vs_error_clear(&e);
	if (s->host->http_do(http, &req, &resp, &e)) {
		/* The core's message names no provider: add who. */
		vs_error_set(err, e.cls, e.http_status, e.retryable, "%s: %s",
			     s->tag, e.message);
		goto out;
	}
	have_resp = 1;
	rc = osp_token_parse(s->tag, resp.status,
			     s->host->http_header(&resp, "X-Subject-Token"),
			     resp.body, resp.body_len, s->set->interface,
			     s->set->region, s->host->parse_time, t, err);
out:
	if (have_resp)
		s->host->http_response_release(&resp);
	osp_free_secret(body);
	return rc;
}

int osp_session_login(struct osp_session *s, struct vs_http *http,
		      struct vs_error *err)
{
	struct osp_token t;

	memset(&t, 0, sizeof(t));
	if (osp_authenticate(s, http, &t, err))
		return VS_ERR;
	pthread_mutex_lock(&s->lock);
	osp_free_secret(s->token);
	free(s->compute_url);
	s->token = t.token;
	s->compute_url = t.compute_url;
	s->expires_at = t.expires_at;
	s->gen++;
	pthread_mutex_unlock(&s->lock);
	return VS_OK;
}

static int osp_expiring_nolock(const struct osp_session *s)
{
	return s->expires_at != VS_TIME_UNKNOWN &&
	       (int64_t)time(NULL) >= s->expires_at - OSP_EXPIRY_MARGIN_S;
}

int osp_session_refresh(struct osp_session *s, struct vs_http *http,
			unsigned long gen, struct vs_error *err)
{
	struct osp_token t;
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
		/* Wait for the attempt in flight and share its outcome. */
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
	rc = osp_authenticate(s, http, &t, &aerr);

	pthread_mutex_lock(&s->lock);
	if (rc == VS_OK) {
		osp_free_secret(s->token);
		s->token = t.token;
		s->expires_at = t.expires_at;
		/* The endpoint stays the one the inventory was listed from. */
		free(t.compute_url);
		s->gen++;
	} else {
		if (aerr.cls == VS_EC_NONE)
			vs_error_set(&aerr, VS_EC_INTERNAL, 0, 0,
				     "%s: re-authentication failed", s->tag);
		s->last_err = aerr;
		/*
		 * Keystone said no for good (a changed password): later
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
		s->host->log(VS_LOG_DEBUG, s->tag, "re-authenticated");
	return rc;

shared_failure:
	aerr = s->last_err;
	pthread_mutex_unlock(&s->lock);
	return vs_error_set(err, aerr.cls, aerr.http_status, aerr.retryable,
			    "%s", aerr.message);
}

int osp_session_token(struct osp_session *s, struct vs_http *http, char **token,
		      unsigned long *gen, struct vs_error *err)
{
	unsigned long g;
	int expiring;

	*token = NULL;
	pthread_mutex_lock(&s->lock);
	g = s->gen;
	expiring = osp_expiring_nolock(s);
	pthread_mutex_unlock(&s->lock);
	if (expiring && osp_session_refresh(s, http, g, err))
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

void osp_session_release(struct osp_session *s, struct vs_http *http)
{
	if (!s || !s->tokens_url)
		return;
	if (http && s->token) {
		/* Revoke the token: a leaked one then dies with the run. */
		struct osp_buf h1, h2;
		const char *headers[3];
		struct vs_http_request req;
		struct vs_http_response resp;
		struct vs_error err;

		osp_buf_init(&h1, 0);
		osp_buf_init(&h2, 0);
		if (osp_buf_addf(&h1, "X-Auth-Token: %s", s->token) == 0 &&
		    osp_buf_addf(&h2, "X-Subject-Token: %s", s->token) == 0) {
			headers[0] = h1.s;
			headers[1] = h2.s;
			headers[2] = NULL;
			memset(&req, 0, sizeof(req));
			memset(&resp, 0, sizeof(resp));
			vs_error_clear(&err);
			req.method = "DELETE";
			req.url = s->tokens_url;
			req.headers = headers;
			req.ca_file = s->set->ca_file;
			req.insecure = s->set->insecure;
			req.idempotent = 1;
			req.timeout_ms = s->timeout_ms;
			req.max_body = 64 * 1024;
			if (s->host->http_do(http, &req, &resp, &err) == 0)
				s->host->http_response_release(&resp);
		}
		if (h1.alloc)
			memset(h1.s, 0, h1.alloc);
		if (h2.alloc)
			memset(h2.s, 0, h2.alloc);
		osp_buf_release(&h1);
		osp_buf_release(&h2);
	}
	osp_free_secret(s->token);
	free(s->compute_url);
	free(s->tokens_url);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	memset(s, 0, sizeof(*s));
}
