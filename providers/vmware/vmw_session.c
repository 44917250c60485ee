/*
 * vmw_session.c - the vAPI session every worker of an instance shares.
 *
 * DESIGN: the token and a generation number live under one mutex.  A
 * worker copies the token and remembers its generation g before a
 * request.  When vCenter refuses the token (401: the session expired,
 * 30 minutes idle by default), the worker calls vmw_session_refresh(g).
 * If the generation has moved on since g, someone already logged in again
 * and the worker just retries.  Otherwise the first such worker becomes
 * the refresher: it marks the session refreshing, drops the lock and logs
 * in; every other worker that arrives for g waits on the condition
 * variable and then shares the outcome, success or failure.  So a burst
 * of 401s from sixteen workers costs vCenter one login, not sixteen.  No
 * lock is held across HTTP.
 *
 * The API generation (modern /api, or legacy /rest of 6.5-7.0) is decided
 * by the first login: /api/session answering 404 means a vCenter that
 * predates /api.  Every later call uses the generation found then.
 */
#include "vmw_internal.h"

#include <stdlib.h>
#include <string.h>

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
	struct vmw_buf url;
	int have_resp = 0, rc = VS_ERR;

	*status = 0;
	*token = NULL;
	vmw_buf_init(&url, 0);
	if (vmw_buf_adds(&url, s->base) || vmw_buf_adds(&url, path))
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
	vmw_buf_release(&url);
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
	pthread_mutex_lock(&s->lock);
	vmw_free_secret(s->token);
	s->token = token;
	s->legacy = legacy;
	s->gen++;
	pthread_mutex_unlock(&s->lock);
	return VS_OK;
}

int vmw_session_legacy(struct vmw_session *s)
{
	int legacy;

	pthread_mutex_lock(&s->lock);
	legacy = s->legacy;
	pthread_mutex_unlock(&s->lock);
	return legacy;
}

int vmw_session_refresh(struct vmw_session *s, struct vs_http *http,
			unsigned long gen, struct vs_error *err)
{
	struct vs_error aerr;
	char *token = NULL;
	unsigned long mine;
	int legacy, rc;

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
	legacy = s->legacy;
	pthread_mutex_unlock(&s->lock);

	vs_error_clear(&aerr);
	rc = vmw_authenticate(s, http, 1, &legacy, &token, &aerr);

	pthread_mutex_lock(&s->lock);
	if (rc == VS_OK) {
		vmw_free_secret(s->token);
		s->token = token;
		s->gen++;
		s->relogins++;
	} else {
		if (aerr.cls == VS_EC_NONE)
			vs_error_set(&aerr, VS_EC_INTERNAL, 0, 0,
				     "%s: logging in again failed", s->tag);
		s->last_err = aerr;
		/*
		 * vCenter said no for good (a changed password): later
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
		return vs_error_set(err, aerr.cls, aerr.http_status,
				    aerr.retryable, "%s", aerr.message);
	s->host->log(VS_LOG_INFO, s->tag,
		     "the vCenter session expired; logged in again");
	return VS_OK;

shared_failure:
	aerr = s->last_err;
	pthread_mutex_unlock(&s->lock);
	return vs_error_set(err, aerr.cls, aerr.http_status, aerr.retryable,
			    "%s", aerr.message);
}

int vmw_session_token(struct vmw_session *s, char **token, unsigned long *gen,
		      struct vs_error *err)
{
	pthread_mutex_lock(&s->lock);
	*gen = s->gen;
	*token = s->token ? strdup(s->token) : NULL;
	pthread_mutex_unlock(&s->lock);
	if (!*token)
		return vs_error_set(err, VS_EC_INTERNAL, 0, 0,
				    "%s: no session (out of memory?)", s->tag);
	return VS_OK;
}

void vmw_session_release(struct vmw_session *s, struct vs_http *http)
{
	if (!s || !s->host)
		return;
	if (http && s->token) {
		/* End the session: a leaked one then dies with the run. */
		struct vmw_buf hdr, url;
		const char *headers[2];
		struct vs_http_request req;
		struct vs_http_response resp;
		struct vs_error err;

		vmw_buf_init(&hdr, 0);
		vmw_buf_init(&url, 0);
		if (vmw_buf_addf(&hdr, "%s: %s", VMW_SESSION_HEADER,
				 s->token) == 0 &&
		    vmw_buf_adds(&url, s->base) == 0 &&
		    vmw_buf_adds(&url, s->legacy
					       ? "/rest/com/vmware/cis/session"
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
		vmw_buf_release_secret(&hdr);
		vmw_buf_release(&url);
	}
	vmw_free_secret(s->token);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	memset(s, 0, sizeof(*s));
}
