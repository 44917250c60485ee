/*
 * test_rhv_auth.c - the SSO login for the token every worker of an oVirt
 * instance shares: the login form, a new login through the shared
 * credential (and another for the next refused token), the engine's
 * refusal, a transient failure, the renewal before "exp", and the logout
 * on release.  The engine's SSO service is a fake http_do.  How workers
 * share one login is test_pv_cred.c's.
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

#include "rhv/rhv_internal.h"

#define TAG	   "rhv-lab"
#define SSO_URL	   "https://rhvm.example.com/ovirt-engine/sso/oauth/token"
#define LOGOUT_URL "https://rhvm.example.com/ovirt-engine/services/sso-logout"

/* The fake SSO service: what it answers and how often it was asked. */
static pthread_mutex_t fk_lock = PTHREAD_MUTEX_INITIALIZER;
static int fk_calls, fk_logouts;
static long fk_status = 200;
static int64_t fk_exp; /* Unix seconds of "exp" */
static char fk_last_body[2048];
static int fk_bad_request; /* cmocka asserts only on the main thread */

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	assert_non_null(d);
	return d;
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
	char body[1024];
	long status;
	int n, bad, logout;

	(void)http;
	logout = strcmp(req->url, LOGOUT_URL) == 0;
	bad = strcmp(req->method, "POST") != 0 ||
	      (!logout && strcmp(req->url, SSO_URL) != 0) ||
	      !has_header(req, "Content-Type: "
			       "application/x-www-form-urlencoded") ||
	      !has_header(req, "Accept: application/json") || !req->body ||
	      req->basic_user || req->timeout_ms != 1000;
	pthread_mutex_lock(&fk_lock);
	if (bad)
		fk_bad_request = 1;
	if (req->body)
		snprintf(fk_last_body, sizeof(fk_last_body), "%s", req->body);
	if (logout) {
		fk_logouts++;
		pthread_mutex_unlock(&fk_lock);
		memset(resp, 0, sizeof(*resp));
		resp->status = 200;
		return 0;
	}
	n = ++fk_calls;
	status = fk_status;
	snprintf(body, sizeof(body),
		 "{\"access_token\":\"tok-%d\",\"scope\":\"ovirt-app-api\","
		 "\"exp\":\"%lld\",\"token_type\":\"bearer\"}",
		 n, (long long)fk_exp * 1000);
	pthread_mutex_unlock(&fk_lock);
	/* Long enough for every other thread to pile up behind it. */
	{
		struct timespec ts = {0, 30 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	if (status == 0)
		return vs_error_set(err, VS_EC_TRANSPORT, 0, 1,
				    "http: POST rhvm: connection refused");
	memset(resp, 0, sizeof(*resp));
	resp->status = status;
	if (status != 200)
		snprintf(body, sizeof(body),
			 "{\"error_code\":\"access_denied\",\"error\":"
			 "\"Cannot authenticate user 'admin@internal': The "
			 "username or password is incorrect..\"}");
	resp->body = xstrdup(body);
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

static int fake_parse_time(const char *s, int64_t *out)
{
	(void)s;
	(void)out;
	return VS_ERR;
}

static const struct vs_host fake_host = {
	.abi_version = VS_PROVIDER_ABI_VERSION,
	.http_do = fake_http_do,
	.http_response_release = fake_release,
	.http_header = fake_header,
	.log = fake_log,
	.log_enabled = fake_log_enabled,
	.cancelled = fake_cancelled,
	.sleep_ms = fake_sleep,
	.parse_time = fake_parse_time,
};

struct fixture {
	struct rhv_settings set;
	struct rhv_session sess;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct vs_error err;

	assert_non_null(f);
	fk_calls = 0;
	fk_logouts = 0;
	fk_bad_request = 0;
	fk_status = 200;
	fk_exp = (int64_t)time(NULL) + 3600;
	f->set.auth = RHV_AUTH_SSO;
	assert_int_equal(rhv_urls_make("https://rhvm.example.com/ovirt-engine/"
				       "api",
				       &f->set.urls),
			 VS_OK);
	f->set.username = xstrdup("admin@internal");
	f->set.password = xstrdup("p&ss w=rd");
	f->set.timeout_ms = 1000;
	vs_error_clear(&err);
	assert_int_equal(
		rhv_session_init(&f->sess, &fake_host, TAG, &f->set, &err),
		VS_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(fk_bad_request, 0);
	/* No http: no logout request to the fake. */
	rhv_session_release(&f->sess, NULL);
	rhv_settings_release(&f->set);
	free(f);
	return 0;
}

static void test_login(void **state)
{
	struct fixture *f = *state;
	struct vs_error err;
	unsigned long gen;
	char *tok;

	vs_error_clear(&err);
	assert_int_equal(rhv_session_login(&f->sess, NULL, &err), VS_OK);
	assert_int_equal(fk_calls, 1);
	/* The password form, percent-encoded; it went nowhere else. */
	assert_string_equal(
		fk_last_body,
		"grant_type=password&scope=ovirt-app-api&"
		"username=admin%40internal&password=p%26ss%20w%3Drd");
	assert_int_equal(f->sess.cred.expires_at, fk_exp);
	assert_int_equal(pv_cred_token(&f->sess.cred, NULL, &tok, &gen, &err),
			 VS_OK);
	assert_string_equal(tok, "tok-1");
	assert_int_equal(gen, 1);
	pv_free_secret(tok);
	assert_int_equal(fk_calls, 1);
}

static void test_new_login(void **state)
{
	struct fixture *f = *state;
	struct vs_error err;
	unsigned long gen;
	char *tok;

	vs_error_clear(&err);
	assert_int_equal(rhv_session_login(&f->sess, NULL, &err), VS_OK);
	assert_int_equal(pv_cred_refresh(&f->sess.cred, NULL, 1, &err), VS_OK);
	assert_int_equal(fk_calls, 2);
	assert_int_equal(pv_cred_token(&f->sess.cred, NULL, &tok, &gen, &err),
			 VS_OK);
	assert_string_equal(tok, "tok-2");
	assert_int_equal(gen, 2);
	pv_free_secret(tok);
	/* A refusal of the new token is a new login. */
	assert_int_equal(pv_cred_refresh(&f->sess.cred, NULL, 2, &err), VS_OK);
	assert_int_equal(fk_calls, 3);
	assert_string_equal(
		fk_last_body,
		"grant_type=password&scope=ovirt-app-api&"
		"username=admin%40internal&password=p%26ss%20w%3Drd");
}

static void test_refusal(void **state)
{
	struct fixture *f = *state;
	struct vs_error err;

	vs_error_clear(&err);
	assert_int_equal(rhv_session_login(&f->sess, NULL, &err), VS_OK);
	fk_status = 400; /* the password changed under us */
	vs_error_clear(&err);
	assert_int_equal(pv_cred_refresh(&f->sess.cred, NULL, 1, &err), VS_ERR);
	assert_int_equal(err.cls, VS_EC_AUTH);
	assert_int_equal(err.http_status, 400);
	assert_int_equal(err.retryable, 0);
	assert_string_equal(err.message,
			    "rhv-lab: SSO login refused: Cannot "
			    "authenticate user 'admin@internal': The "
			    "username or password is incorrect..");
	assert_int_equal(fk_calls, 2);
}

static void test_transient_failure(void **state)
{
	struct fixture *f = *state;
	struct vs_error err;

	vs_error_clear(&err);
	assert_int_equal(rhv_session_login(&f->sess, NULL, &err), VS_OK);
	fk_status = 0; /* connection refused */
	vs_error_clear(&err);
	assert_int_equal(pv_cred_refresh(&f->sess.cred, NULL, 1, &err), VS_ERR);
	assert_int_equal(err.cls, VS_EC_TRANSPORT);
	assert_int_equal(err.retryable, 1);
	assert_string_equal(err.message,
			    "rhv-lab: http: POST rhvm: connection refused");
	fk_status = 200;
	vs_error_clear(&err);
	assert_int_equal(pv_cred_refresh(&f->sess.cred, NULL, 1, &err), VS_OK);
	assert_int_equal(fk_calls, 3);
}

static void test_renewal_before_expiry(void **state)
{
	struct fixture *f = *state;
	struct vs_error err;
	unsigned long gen;
	char *tok;

	fk_exp = (int64_t)time(NULL) + 30; /* within the one-minute margin */
	vs_error_clear(&err);
	assert_int_equal(rhv_session_login(&f->sess, NULL, &err), VS_OK);
	fk_exp = (int64_t)time(NULL) + 3600;
	assert_int_equal(pv_cred_token(&f->sess.cred, NULL, &tok, &gen, &err),
			 VS_OK);
	assert_string_equal(tok, "tok-2");
	assert_int_equal(gen, 2);
	pv_free_secret(tok);
	assert_int_equal(pv_cred_token(&f->sess.cred, NULL, &tok, &gen, &err),
			 VS_OK);
	assert_string_equal(tok, "tok-2");
	pv_free_secret(tok);
	assert_int_equal(fk_calls, 2);
}

static void test_login_failure(void **state)
{
	struct fixture *f = *state;
	struct vs_error err;

	fk_status = 401;
	vs_error_clear(&err);
	assert_int_equal(rhv_session_login(&f->sess, NULL, &err), VS_ERR);
	assert_int_equal(err.cls, VS_EC_AUTH);
	assert_int_equal(err.http_status, 401);
	assert_null(strstr(err.message, "p&ss"));
	assert_null(f->sess.cred.token);
}

static void test_logout_on_release(void **state)
{
	struct fixture *f = *state;
	struct vs_error err;
	int dummy = 0;

	vs_error_clear(&err);
	assert_int_equal(rhv_session_login(&f->sess, NULL, &err), VS_OK);
	rhv_session_release(&f->sess, (struct vs_http *)&dummy);
	assert_int_equal(fk_logouts, 1);
	assert_string_equal(fk_last_body, "scope=ovirt-app-api&token=tok-1");
	assert_null(f->sess.cred.token);
	/* Released twice (teardown): harmless. */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_login, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_login, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_refusal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transient_failure, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_renewal_before_expiry,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_login_failure, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_logout_on_release, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
