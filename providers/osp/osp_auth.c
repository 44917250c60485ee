/*
 * osp_auth.c - Keystone v3 authentication, and the one token every worker
 * of an instance shares.
 *
 * The sharing (one re-authentication for a burst of 401s, a refusal
 * shared, the renewal before expiry) is common/pv_cred.c's; this file
 * talks to Keystone.  No lock is held across HTTP.
 */
#include "osp_internal.h"

#include <stdlib.h>
#include <string.h>

static int osp_reauthenticate(void *ctx, struct vs_http *http, char **token,
			      int64_t *expires_at, struct vs_error *err);

static const struct pv_cred_ops osp_cred_ops = {
	.login = osp_reauthenticate,
	.failed = "re-authentication failed",
	.renewed_level = VS_LOG_DEBUG,
	.renewed = "re-authenticated",
	.noun = "token",
};

int osp_session_init(struct osp_session *s, const struct vs_host *host,
		     const char *tag, const struct osp_settings *set,
		     long timeout_ms, struct vs_error *err)
{
	memset(s, 0, sizeof(*s));
	s->host = host;
	s->tag = tag;
	s->set = set;
	s->timeout_ms = timeout_ms;
	s->tokens_url = osp_tokens_url(set->auth_url);
	if (!s->tokens_url)
		return vs_error_set(err, VS_EC_CONFIG, 0, 0,
				    "%s: auth_url is not an http(s) URL", tag);
	if (pv_cred_init(&s->cred, host, tag, &osp_cred_ops, s, err)) {
		free(s->tokens_url);
		s->tokens_url = NULL;
		return VS_ERR;
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
	pv_free_secret(body);
	return rc;
}

int osp_session_login(struct osp_session *s, struct vs_http *http,
		      struct vs_error *err)
{
	struct osp_token t;

	memset(&t, 0, sizeof(t));
	if (osp_authenticate(s, http, &t, err))
		return VS_ERR;
	free(s->compute_url);
	s->compute_url = t.compute_url;
	pv_cred_set(&s->cred, t.token, t.expires_at);
	return VS_OK;
}

/* A new token for every worker (pv_cred's login callback). */
static int osp_reauthenticate(void *ctx, struct vs_http *http, char **token,
			      int64_t *expires_at, struct vs_error *err)
{
	struct osp_session *s = ctx;
	struct osp_token t;

	memset(&t, 0, sizeof(t));
	if (osp_authenticate(s, http, &t, err))
		return VS_ERR;
	/* The endpoint stays the one the inventory was listed from. */
	free(t.compute_url);
	*token = t.token;
	*expires_at = t.expires_at;
	return VS_OK;
}

void osp_session_release(struct osp_session *s, struct vs_http *http)
{
	if (!s || !s->tokens_url)
		return;
	if (http && s->cred.token) {
		/* Revoke the token: a leaked one then dies with the run. */
		struct vs_buf h1, h2;
		const char *headers[3];
		struct vs_http_request req;
		struct vs_http_response resp;
		struct vs_error err;

		vs_buf_init(&h1, 0);
		vs_buf_init(&h2, 0);
		if (vs_buf_addf(&h1, "X-Auth-Token: %s", s->cred.token) == 0 &&
		    vs_buf_addf(&h2, "X-Subject-Token: %s", s->cred.token) ==
			    0) {
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
		pv_buf_release_secret(&h1);
		pv_buf_release_secret(&h2);
	}
	pv_cred_release(&s->cred);
	free(s->compute_url);
	free(s->tokens_url);
	memset(s, 0, sizeof(*s));
}
