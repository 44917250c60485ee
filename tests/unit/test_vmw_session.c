/*
 * test_vmw_session.c - the vAPI login for the session every worker of a
 * vSphere instance shares: login in either API generation, a refused
 * login, a re-login through the shared credential (kept in the
 * generation found, and another for the next expiry), a refused re-login,
 * and the logout.  vCenter is a fake http_do.  How workers share one
 * re-login is test_pv_cred.c's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmware/vmw_internal.h"

#define TAG  "vc-lab"
#define BASE "https://vc.example.com"

/* The fake vCenter: what it answers and what it was asked. */
static pthread_mutex_t fk_lock = PTHREAD_MUTEX_INITIALIZER;
static int fk_api_logins, fk_rest_logins, fk_deletes, fk_other;
static long fk_api_status = 201, fk_rest_status = 200;
static int fk_bad_request; /* cmocka asserts only on the main thread */
static char fk_delete_url[256], fk_delete_hdr[256];

static void fk_reset(long api_status, long rest_status)
{
	pthread_mutex_lock(&fk_lock);
	fk_api_logins = fk_rest_logins = fk_deletes = fk_other = 0;
	fk_api_status = api_status;
	fk_rest_status = rest_status;
	fk_bad_request = 0;
	fk_delete_url[0] = fk_delete_hdr[0] = '\0';
	pthread_mutex_unlock(&fk_lock);
}

static int has_header(const struct vs_http_request *req, const char *line)
{
	const char *const *h;

	for (h = req->headers; h && *h; h++)
		if (strcmp(*h, line) == 0)
			return 1;
	return 0;
}

static int fake_http_do(struct vs_http *http, const struct vs_http_request *req,
			struct vs_http_response *resp, struct vs_error *err)
{
	char body[512];
	long status = 0;
	int n = 0, legacy = 0;

	(void)http;
	(void)err;
	memset(resp, 0, sizeof(*resp));
	pthread_mutex_lock(&fk_lock);
	if (strcmp(req->method, "DELETE") == 0) {
		fk_deletes++;
		snprintf(fk_delete_url, sizeof(fk_delete_url), "%s", req->url);
		snprintf(fk_delete_hdr, sizeof(fk_delete_hdr), "%s",
			 req->headers && req->headers[0] ? req->headers[0]
							 : "");
		status = 204;
	} else if (strcmp(req->url, BASE "/api/session") == 0) {
		n = ++fk_api_logins;
		status = fk_api_status;
	} else if (strcmp(req->url, BASE "/rest/com/vmware/cis/session") == 0) {
		n = ++fk_rest_logins;
		status = fk_rest_status;
		legacy = 1;
	} else {
		fk_other++;
	}
	if (status != 204 &&
	    (strcmp(req->method, "POST") != 0 || !req->basic_user ||
	     strcmp(req->basic_user, "cleanup@vsphere.local") != 0 ||
	     !req->basic_password || strcmp(req->basic_password, "pw") != 0 ||
	     !has_header(req, "vmware-use-header-authn: true")))
		fk_bad_request = 1;
	pthread_mutex_unlock(&fk_lock);
	if (status != 204) {
		/* Long enough for every other thread to pile up behind it. */
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	resp->status = status ? status : 404;
	if (status == 201)
		snprintf(body, sizeof(body), "\"tok-%d\"", n);
	else if (status == 200 && legacy)
		snprintf(body, sizeof(body), "{\"value\":\"ltok-%d\"}", n);
	else if (status == 401)
		snprintf(body, sizeof(body),
			 "{\"error_type\":\"UNAUTHENTICATED\",\"messages\":[{"
			 "\"args\":[],\"default_message\":\"Authentication "
			 "required.\",\"id\":\"x\"}]}");
	else
		body[0] = '\0';
	resp->body = strdup(body);
	assert_non_null(resp->body);
	resp->body_len = strlen(body);
	return 0;
}

static void fake_release(struct vs_http_response *resp)
{
	free(resp->body);
	memset(resp, 0, sizeof(*resp));
}

static const char *fake_header(const struct vs_http_response *resp,
			       const char *name)
{
	(void)resp;
	(void)name;
	return NULL;
}

static void fake_log(enum vs_log_level level, const char *tag, const char *fmt,
		     ...)
{
	(void)level;
	(void)tag;
	(void)fmt;
}

static int fake_log_enabled(enum vs_log_level level)
{
	(void)level;
	return 0;
}

static int fake_cancelled(void)
{
	return 0;
}

static int fake_sleep(long ms)
{
	(void)ms;
	return 0;
}

static const struct vs_host host = {
	.abi_version = VS_PROVIDER_ABI_VERSION,
	.http_do = fake_http_do,
	.http_response_release = fake_release,
	.http_header = fake_header,
	.log = fake_log,
	.log_enabled = fake_log_enabled,
	.cancelled = fake_cancelled,
	.sleep_ms = fake_sleep,
};

/* Any non-NULL pointer will do: the fake ignores it. */
static struct vs_http *const fake_http = (struct vs_http *)&host;

static void sess_init(struct vmw_session *s)
{
	struct vs_error err;

	vs_error_clear(&err);
	assert_int_equal(vmw_session_init(s, &host, TAG, BASE,
					  "cleanup@vsphere.local", "pw", NULL,
					  0, 1000, &err),
			 0);
}

static char *token_of(struct vmw_session *s, unsigned long *gen)
{
	struct vs_error err;
	char *tok = NULL;

	vs_error_clear(&err);
	assert_int_equal(pv_cred_token(&s->cred, NULL, &tok, gen, &err), 0);
	return tok;
}

/* ------------------------------------------------------------------ */

static void test_login_modern(void **state)
{
	struct vmw_session s;
	struct vs_error err;
	unsigned long gen;
	char *tok;

	(void)state;
	fk_reset(201, 200);
	sess_init(&s);
	vs_error_clear(&err);
	assert_int_equal(vmw_session_login(&s, fake_http, &err), 0);
	assert_int_equal(vmw_session_legacy(&s), 0);
	tok = token_of(&s, &gen);
	assert_string_equal(tok, "tok-1");
	assert_int_equal(gen, 1);
	pv_free_secret(tok);
	assert_int_equal(fk_rest_logins, 0);
	assert_int_equal(fk_bad_request, 0);
	vmw_session_release(&s, fake_http);
	/* The session is ended, with its token, at the /api path. */
	assert_int_equal(fk_deletes, 1);
	assert_string_equal(fk_delete_url, BASE "/api/session");
	assert_string_equal(fk_delete_hdr, "vmware-api-session-id: tok-1");
}

static void test_login_legacy(void **state)
{
	struct vmw_session s;
	struct vs_error err;
	unsigned long gen;
	char *tok;

	(void)state;
	fk_reset(404, 200);
	sess_init(&s);
	vs_error_clear(&err);
	assert_int_equal(vmw_session_login(&s, fake_http, &err), 0);
	assert_int_equal(vmw_session_legacy(&s), 1);
	tok = token_of(&s, &gen);
	assert_string_equal(tok, "ltok-1");
	pv_free_secret(tok);
	/* A re-login stays with the generation found: no /api try. */
	assert_int_equal(pv_cred_refresh(&s.cred, fake_http, gen, &err), 0);
	tok = token_of(&s, &gen);
	assert_string_equal(tok, "ltok-2");
	assert_int_equal(gen, 2);
	pv_free_secret(tok);
	assert_int_equal(fk_api_logins, 1);
	assert_int_equal(fk_rest_logins, 2);
	vmw_session_release(&s, fake_http);
	assert_string_equal(fk_delete_url, BASE "/rest/com/vmware/cis/session");
}

static void test_login_refused(void **state)
{
	struct vmw_session s;
	struct vs_error err;

	(void)state;
	fk_reset(401, 200);
	sess_init(&s);
	vs_error_clear(&err);
	assert_int_equal(vmw_session_login(&s, fake_http, &err), VS_ERR);
	assert_int_equal(err.cls, VS_EC_AUTH);
	assert_int_equal(err.http_status, 401);
	assert_int_equal(err.retryable, 0);
	assert_non_null(strstr(err.message, TAG ": login refused"));
	assert_non_null(strstr(err.message, "Authentication required."));
	assert_null(strstr(err.message, "pw"));
	/* Refused is refused: the legacy path is not tried. */
	assert_int_equal(fk_rest_logins, 0);
	/* Nothing to end without a session. */
	vmw_session_release(&s, fake_http);
	assert_int_equal(fk_deletes, 0);
}

static void test_login_nowhere(void **state)
{
	struct vmw_session s;
	struct vs_error err;

	(void)state;
	fk_reset(404, 404);
	sess_init(&s);
	vs_error_clear(&err);
	assert_int_equal(vmw_session_login(&s, fake_http, &err), VS_ERR);
	assert_int_equal(err.cls, VS_EC_CONFIG);
	assert_non_null(strstr(err.message, "is it a vCenter"));
	vmw_session_release(&s, NULL);
}

static void test_relogin(void **state)
{
	struct vmw_session s;
	struct vs_error err;
	unsigned long gen;
	char *tok;

	(void)state;
	fk_reset(201, 200);
	sess_init(&s);
	vs_error_clear(&err);
	assert_int_equal(vmw_session_login(&s, fake_http, &err), 0);
	pv_free_secret(token_of(&s, &gen));
	assert_int_equal(pv_cred_refresh(&s.cred, fake_http, gen, &err), 0);
	assert_int_equal(fk_api_logins, 2);
	tok = token_of(&s, &gen);
	assert_string_equal(tok, "tok-2");
	assert_int_equal(gen, 2);
	pv_free_secret(tok);
	/* The next expiry is the next generation: one more login. */
	assert_int_equal(pv_cred_refresh(&s.cred, fake_http, 2, &err), 0);
	assert_int_equal(fk_api_logins, 3);
	assert_int_equal(fk_rest_logins, 0);
	assert_int_equal(fk_bad_request, 0);
	vmw_session_release(&s, fake_http);
}

static void test_relogin_refused(void **state)
{
	struct vmw_session s;
	struct vs_error err;
	unsigned long gen;

	(void)state;
	fk_reset(201, 200);
	sess_init(&s);
	vs_error_clear(&err);
	assert_int_equal(vmw_session_login(&s, fake_http, &err), 0);
	pv_free_secret(token_of(&s, &gen));
	/* The password changed under the run. */
	pthread_mutex_lock(&fk_lock);
	fk_api_status = 401;
	pthread_mutex_unlock(&fk_lock);
	vs_error_clear(&err);
	assert_int_equal(pv_cred_refresh(&s.cred, fake_http, gen, &err),
			 VS_ERR);
	assert_int_equal(err.cls, VS_EC_AUTH);
	assert_int_equal(err.retryable, 0);
	assert_non_null(strstr(err.message, TAG ": login refused"));
	assert_int_equal(fk_api_logins, 2);
	/* Refused is refused: the legacy path is not tried. */
	assert_int_equal(fk_rest_logins, 0);
	vmw_session_release(&s, fake_http);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_login_modern),
		cmocka_unit_test(test_login_legacy),
		cmocka_unit_test(test_login_refused),
		cmocka_unit_test(test_login_nowhere),
		cmocka_unit_test(test_relogin),
		cmocka_unit_test(test_relogin_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
