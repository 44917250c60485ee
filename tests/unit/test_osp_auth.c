/*
 * test_osp_auth.c - Keystone authentication for the token every worker
 * of an OpenStack instance shares: the login and its catalog, a
 * re-authentication through the shared credential, Keystone's refusal,
 * a transient failure, and the refresh before expires_at.  Keystone is a
 * fake http_do.  How workers share one re-authentication is
 * test_pv_cred.c's.
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

#include "osp/osp_internal.h"
#include "timeutil.h"

#define TAG "osp-lab"

/* The fake Keystone: what it answers and how often it was asked. */
static pthread_mutex_t fk_lock = PTHREAD_MUTEX_INITIALIZER;
static int fk_calls;
static long fk_status = 201;
static int64_t fk_expires; /* Unix seconds of expires_at */
static char fk_last_body[2048];
static int fk_bad_request; /* cmocka asserts only on the main thread */

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	assert_non_null(d);
	return d;
}

static int fake_http_do(struct vs_http *http, const struct vs_http_request *req,
			struct vs_http_response *resp, struct vs_error *err)
{
	char body[1024], exp[32], tok[32];
	long status;
	int n;

	(void)http;
	pthread_mutex_lock(&fk_lock);
	n = ++fk_calls;
	status = fk_status;
	vs_time_format(exp, sizeof(exp), fk_expires);
	if (req->body)
		snprintf(fk_last_body, sizeof(fk_last_body), "%s", req->body);
	pthread_mutex_unlock(&fk_lock);
	if (strcmp(req->method, "POST") != 0 ||
	    strcmp(req->url, "https://keystone.example.com/v3/auth/tokens") !=
		    0) {
		pthread_mutex_lock(&fk_lock);
		fk_bad_request = 1;
		pthread_mutex_unlock(&fk_lock);
	}
	/* Long enough for every other thread to pile up behind it. */
	{
		struct timespec ts = {0, 30 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	if (status == 0)
		return vs_error_set(err, VS_EC_TRANSPORT, 0, 1,
				    "http: POST keystone: connection refused");
	memset(resp, 0, sizeof(*resp));
	resp->status = status;
	if (status == 201) {
		snprintf(tok, sizeof(tok), "tok-%d", n);
		snprintf(body, sizeof(body),
			 "{\"token\":{\"expires_at\":\"%s\",\"catalog\":[{"
			 "\"type\":\"compute\",\"endpoints\":[{\"interface\":"
			 "\"public\",\"region_id\":\"R\",\"url\":"
			 "\"https://nova.example.com/v2.1\"}]}]}}",
			 exp);
		resp->headers = calloc(1, sizeof(*resp->headers));
		assert_non_null(resp->headers);
		resp->headers[0].name = xstrdup("X-Subject-Token");
		resp->headers[0].value = xstrdup(tok);
		resp->n_headers = 1;
	} else {
		snprintf(body, sizeof(body),
			 "{\"error\":{\"code\":%ld,\"message\":\"nope %ld\"}}",
			 status, status);
	}
	resp->body = xstrdup(body);
	resp->body_len = strlen(body);
	return 0;
}

static void fake_release(struct vs_http_response *resp)
{
	size_t i;

	for (i = 0; i < resp->n_headers; i++) {
		free(resp->headers[i].name);
		free(resp->headers[i].value);
	}
	free(resp->headers);
	free(resp->body);
	memset(resp, 0, sizeof(*resp));
}

static const char *fake_header(const struct vs_http_response *resp,
			       const char *name)
{
	size_t i;

	for (i = 0; i < resp->n_headers; i++)
		if (pv_streq_ci(resp->headers[i].name, name))
			return resp->headers[i].value;
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

static const struct vs_host fake_host = {
	.abi_version = VS_PROVIDER_ABI_VERSION,
	.http_do = fake_http_do,
	.http_response_release = fake_release,
	.http_header = fake_header,
	.log = fake_log,
	.log_enabled = fake_log_enabled,
	.cancelled = fake_cancelled,
	.sleep_ms = fake_sleep,
	.parse_time = vs_time_parse,
};

struct fixture {
	struct osp_settings set;
	struct osp_session sess;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct vs_error err;

	assert_non_null(f);
	fk_calls = 0;
	fk_bad_request = 0;
	fk_status = 201;
	fk_expires = vs_time_now() + 3600;
	f->set.method = OSP_AUTH_PASSWORD;
	f->set.auth_url = xstrdup("https://keystone.example.com");
	f->set.username = xstrdup("cleaner");
	f->set.password = xstrdup("pw");
	f->set.project_name = xstrdup("ci");
	f->set.interface = xstrdup("public");
	f->set.microversion = xstrdup("2.26");
	vs_error_clear(&err);
	assert_int_equal(osp_session_init(&f->sess, &fake_host, TAG, &f->set,
					  1000, &err),
			 VS_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(fk_bad_request, 0);
	/* No http: no revocation request to the fake. */
	osp_session_release(&f->sess, NULL);
	osp_settings_release(&f->set);
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
	assert_int_equal(osp_session_login(&f->sess, NULL, &err), VS_OK);
	assert_int_equal(fk_calls, 1);
	assert_string_equal(f->sess.compute_url,
			    "https://nova.example.com/v2.1");
	assert_int_equal(pv_cred_token(&f->sess.cred, NULL, &tok, &gen, &err),
			 VS_OK);
	assert_string_equal(tok, "tok-1");
	assert_int_equal(gen, 1);
	pv_free_secret(tok);
	/* The password went to Keystone and nowhere else. */
	assert_non_null(strstr(fk_last_body, "\"password\":\"pw\""));
	assert_int_equal(fk_calls, 1);
}

static void test_refresh(void **state)
{
	struct fixture *f = *state;
	struct vs_error err;
	unsigned long gen;
	char *tok;

	vs_error_clear(&err);
	assert_int_equal(osp_session_login(&f->sess, NULL, &err), VS_OK);
	assert_int_equal(pv_cred_refresh(&f->sess.cred, NULL, 1, &err), VS_OK);
	assert_int_equal(fk_calls, 2);
	assert_int_equal(pv_cred_token(&f->sess.cred, NULL, &tok, &gen, &err),
			 VS_OK);
	assert_string_equal(tok, "tok-2");
	assert_int_equal(gen, 2);
	pv_free_secret(tok);
	/* The endpoint stays the one the inventory was listed from. */
	assert_string_equal(f->sess.compute_url,
			    "https://nova.example.com/v2.1");
}

static void test_refusal(void **state)
{
	struct fixture *f = *state;
	struct vs_error err;

	vs_error_clear(&err);
	assert_int_equal(osp_session_login(&f->sess, NULL, &err), VS_OK);
	fk_status = 401; /* the password changed under us */
	vs_error_clear(&err);
	assert_int_equal(pv_cred_refresh(&f->sess.cred, NULL, 1, &err), VS_ERR);
	assert_int_equal(err.cls, VS_EC_AUTH);
	assert_int_equal(err.retryable, 0);
	assert_string_equal(err.message,
			    "osp-lab: Keystone refused authentication: "
			    "HTTP 401: nope 401");
	assert_int_equal(fk_calls, 2);
}

static void test_transient_failure(void **state)
{
	struct fixture *f = *state;
	struct vs_error err;

	vs_error_clear(&err);
	assert_int_equal(osp_session_login(&f->sess, NULL, &err), VS_OK);
	fk_status = 0; /* connection refused */
	vs_error_clear(&err);
	assert_int_equal(pv_cred_refresh(&f->sess.cred, NULL, 1, &err), VS_ERR);
	assert_int_equal(err.cls, VS_EC_TRANSPORT);
	assert_int_equal(err.retryable, 1);
	/* Named once, by the provider. */
	assert_string_equal(err.message,
			    "osp-lab: http: POST keystone: connection refused");
	fk_status = 201;
	vs_error_clear(&err);
	assert_int_equal(pv_cred_refresh(&f->sess.cred, NULL, 1, &err), VS_OK);
	assert_int_equal(fk_calls, 3);
}

static void test_refresh_before_expiry(void **state)
{
	struct fixture *f = *state;
	struct vs_error err;
	unsigned long gen;
	char *tok;

	fk_expires = vs_time_now() + 30; /* within the one-minute margin */
	vs_error_clear(&err);
	assert_int_equal(osp_session_login(&f->sess, NULL, &err), VS_OK);
	fk_expires = vs_time_now() + 3600;
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
	assert_int_equal(osp_session_login(&f->sess, NULL, &err), VS_ERR);
	assert_int_equal(err.cls, VS_EC_AUTH);
	assert_int_equal(err.http_status, 401);
	assert_null(strstr(err.message, "pw"));
	assert_null(f->sess.cred.token);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_login, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refresh, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transient_failure, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_refresh_before_expiry,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_login_failure, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
