/*
 * rhv_auth.c - the engine's SSO token, shared by every worker of an
 * instance.
 *
 * The sharing (one new login for a burst of 401s, a refusal shared, the
 * renewal before "exp") is common/pv_cred.c's; this file talks to the
 * SSO service.  No lock is held across HTTP.
 *
 * The SSO service has no refresh grant (api/README.md §B.1): a new token
 * is a new password login.  HTTP Basic (auth: basic) needs no session at
 * all and does not come here.
 */
#include "rhv_internal.h"

#include <stdlib.h>
#include <string.h>

static int rhv_relogin(void *ctx, struct vs_http *http, char **token,
		       int64_t *expires_at, struct vs_error *err);

static const struct pv_cred_ops rhv_cred_ops = {
	.login = rhv_relogin,
	.failed = "SSO login failed",
	.renewed_level = VS_LOG_DEBUG,
	.renewed = "obtained a new SSO token",
	.noun = "token",
};

int rhv_session_init(struct rhv_session *s, const struct vs_host *host,
		     const char *tag, const struct rhv_settings *set,
		     struct vs_error *err)
{
	memset(s, 0, sizeof(*s));
	s->host = host;
	s->tag = tag;
	s->set = set;
	if (pv_cred_init(&s->cred, host, tag, &rhv_cred_ops, s, err)) {
		s->host = NULL;
		return VS_ERR;
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
	pv_free_secret(body);
	return rc;
}

int rhv_session_login(struct rhv_session *s, struct vs_http *http,
		      struct vs_error *err)
{
	struct rhv_token t;

	memset(&t, 0, sizeof(t));
	if (rhv_authenticate(s, http, &t, err))
		return VS_ERR;
	pv_cred_set(&s->cred, t.access_token, t.expires_at);
	return VS_OK;
}

/* A new token for every worker (pv_cred's login callback). */
static int rhv_relogin(void *ctx, struct vs_http *http, char **token,
		       int64_t *expires_at, struct vs_error *err)
{
	struct rhv_session *s = ctx;
	struct rhv_token t;

	memset(&t, 0, sizeof(t));
	if (rhv_authenticate(s, http, &t, err))
		return VS_ERR;
	*token = t.access_token;
	*expires_at = t.expires_at;
	return VS_OK;
}

void rhv_session_release(struct rhv_session *s, struct vs_http *http)
{
	if (!s || !s->host)
		return;
	if (http && s->cred.token) {
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
		char *body = rhv_logout_body(s->cred.token);

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
			pv_free_secret(body);
		}
	}
	pv_cred_release(&s->cred);
	memset(s, 0, sizeof(*s));
}
