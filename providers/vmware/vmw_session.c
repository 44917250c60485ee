/*
 * vmw_session.c - the vAPI session every worker of an instance shares.
 *
 * The sharing (one re-login for a burst of 401s: the session expired,
 * 30 minutes idle by default; a refusal shared) is common/pv_cred.c's;
 * this file logs in and out.  No lock is held across HTTP.
 *
 * The API generation (modern /api, or legacy /rest of 6.5-7.0) is decided
 * by the first login: /api/session answering 404 means a vCenter that
 * predates /api.  Every later call uses the generation found then.
 */
#include "vmw_internal.h"

#include <stdlib.h>
#include <string.h>

static int vmw_relogin(void *ctx, struct vs_http *http, char **token,
		       int64_t *expires_at, struct vs_error *err);

static const struct pv_cred_ops vmw_cred_ops = {
	.login = vmw_relogin,
	.failed = "logging in again failed",
	.renewed_level = VS_LOG_INFO,
	.renewed = "the vCenter session expired; logged in again",
	.noun = "session",
};

int vmw_session_init(struct vmw_session *s, const struct vs_host *host,
		     const char *tag, const char *base, const char *user,
		     const char *password, const char *ca_file, int insecure,
		     long timeout_ms, struct vs_error *err)
{
	memset(s, 0, sizeof(*s));
	s->host = host;
	s->tag = tag;
	s->base = base;
	s->user = user;
	s->password = password;
	s->ca_file = ca_file;
	s->insecure = insecure;
	s->timeout_ms = timeout_ms;
	if (pv_cred_init(&s->cred, host, tag, &vmw_cred_ops, s, err)) {
		s->host = NULL;
		return VS_ERR;
	}
	return VS_OK;
}

/*
 * One login POST on path; fills *token on 200/201.  *status receives the
 * HTTP status (0 when none arrived).  Holds no lock.
 */
static int vmw_login_at(struct vmw_session *s, struct vs_http *http,
			const char *path, long *status, char **token,
			struct vs_error *err)
{
	/* Without it vCenter also sets a session cookie we do not want. */
	static const char *const headers[] = {"Accept: application/json",
					      "vmware-use-header-authn: true",
					      NULL};
	struct vs_http_request req;
	struct vs_http_response resp;
	struct vs_error e;
	struct vs_buf url;
	int have_resp = 0, rc = VS_ERR;

	*status = 0;
	*token = NULL;
	vs_buf_init(&url, 0);
	if (vs_buf_adds(&url, s->base) || vs_buf_adds(&url, path))
		return vs_error_set(err, VS_EC_INTERNAL, 0, 0,
				    "%s: out of memory", s->tag);
	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	vs_error_clear(&e);
	req.method = "POST";
	req.url = url.s;
	req.headers = headers;
	req.basic_user = s->user;
	req.basic_password = s->password;
	req.ca_file = s->ca_file;
	req.insecure = s->insecure;
	/* A second session does no harm: logging in may be repeated. */
	req.idempotent = 1;
	req.timeout_ms = s->timeout_ms;
	req.max_body = 64 * 1024;
	if (s->host->http_do(http, &req, &resp, &e)) {
		vs_error_set(err, e.cls, e.http_status, e.retryable,
			     "%s: login: %s", s->tag, e.message);
		goto out;
	}
	have_resp = 1;
	*status = resp.status;
	if (resp.status == 200 || resp.status == 201) {
		rc = vmw_token_parse(s->tag, resp.body, resp.body_len, token,
				     err);
	} else if (resp.status == 404) {
		rc = VS_OK; /* the caller decides what a missing path means */
	} else {
		struct vmw_fault f;
		enum vs_err_class cls;
		int retry;

		vmw_fault_parse(resp.body, resp.body_len, &f);
		vmw_fault_class(resp.status, &f, &cls, &retry);
		if (resp.status == 401 || resp.status == 403)
			cls = VS_EC_AUTH;
		vs_error_set(err, cls, (int)resp.status, retry,
			     "%s: login refused: HTTP %ld%s%s%s%s", s->tag,
			     resp.status, f.type[0] ? " " : "", f.type,
			     f.message[0] ? ": " : "", f.message);
	}
out:
	if (have_resp)
		s->host->http_response_release(&resp);
	vs_buf_release(&url);
	return rc;
}

/* Log in with the generation already known, or find it (first login). */
static int vmw_authenticate(struct vmw_session *s, struct vs_http *http,
			    int decided, int *legacy, char **token,
			    struct vs_error *err)
{
	long st;

	if (!decided || !*legacy) {
		if (vmw_login_at(s, http, "/api/session", &st, token, err))
			return VS_ERR;
		if (st != 404) {
			*legacy = 0;
			return VS_OK;
		}
		if (decided)
			return vs_error_set(err, VS_EC_SERVER, 404, 1,
					    "%s: login: /api/session is gone "
					    "(HTTP 404)",
					    s->tag);
	}
	if (vmw_login_at(s, http, "/rest/com/vmware/cis/session", &st, token,
			 err))
		return VS_ERR;
	if (st == 404)
		return vs_error_set(err, VS_EC_CONFIG, 404, 0,
				    "%s: login: neither /api/session nor "
				    "/rest/com/vmware/cis/session exists at "
				    "the url; is it a vCenter?",
				    s->tag);
	*legacy = 1;
	return VS_OK;
}

int vmw_session_login(struct vmw_session *s, struct vs_http *http,
		      struct vs_error *err)
{
	char *token = NULL;
	int legacy = 0;

	if (vmw_authenticate(s, http, 0, &legacy, &token, err))
		return VS_ERR;
	pthread_mutex_lock(&s->cred.lock);
	s->legacy = legacy;
	pthread_mutex_unlock(&s->cred.lock);
	pv_cred_set(&s->cred, token, VS_TIME_UNKNOWN);
	return VS_OK;
}

int vmw_session_legacy(struct vmw_session *s)
{
	int legacy;

	pthread_mutex_lock(&s->cred.lock);
	legacy = s->legacy;
	pthread_mutex_unlock(&s->cred.lock);
	return legacy;
}

/* Log in again with the generation found (pv_cred's login callback). */
static int vmw_relogin(void *ctx, struct vs_http *http, char **token,
		       int64_t *expires_at, struct vs_error *err)
{
	struct vmw_session *s = ctx;
	int legacy = vmw_session_legacy(s);

	/* vCenter says nothing of when a session ends: it idles out. */
	*expires_at = VS_TIME_UNKNOWN;
	return vmw_authenticate(s, http, 1, &legacy, token, err);
}

void vmw_session_release(struct vmw_session *s, struct vs_http *http)
{
	if (!s || !s->host)
		return;
	if (http && s->cred.token) {
		/* End the session: a leaked one then dies with the run. */
		struct vs_buf hdr, url;
		const char *headers[2];
		struct vs_http_request req;
		struct vs_http_response resp;
		struct vs_error err;

		vs_buf_init(&hdr, 0);
		vs_buf_init(&url, 0);
		if (vs_buf_addf(&hdr, "%s: %s", VMW_SESSION_HEADER,
				s->cred.token) == 0 &&
		    vs_buf_adds(&url, s->base) == 0 &&
		    vs_buf_adds(&url, s->legacy ? "/rest/com/vmware/cis/session"
						: "/api/session") == 0) {
			headers[0] = hdr.s;
			headers[1] = NULL;
			memset(&req, 0, sizeof(req));
			memset(&resp, 0, sizeof(resp));
			vs_error_clear(&err);
			req.method = "DELETE";
			req.url = url.s;
			req.headers = headers;
			req.ca_file = s->ca_file;
			req.insecure = s->insecure;
			req.idempotent = 1;
			req.timeout_ms = s->timeout_ms;
			req.max_body = 64 * 1024;
			if (s->host->http_do(http, &req, &resp, &err) == 0)
				s->host->http_response_release(&resp);
		}
		pv_buf_release_secret(&hdr);
		vs_buf_release(&url);
	}
	pv_cred_release(&s->cred);
	memset(s, 0, sizeof(*s));
}
