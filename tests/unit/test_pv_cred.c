/*
 * test_pv_cred.c - the credential every worker of a provider instance
 * shares: one login for a burst of refusals from many threads, a late
 * worker that just retries, a refusal for good shared with everyone
 * after, a transient failure shared only with those waiting, the renewal
 * before expiry and the messages.  The platform is a fake login callback
 * that sleeps long enough for every thread to pile up behind it.
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

#include "common/pv_cred.h"
#include "common/pv_util.h"

#define TAG	"lab"
#define THREADS 8

enum fake_answer {
	FAKE_OK,
	FAKE_REFUSED,	/* bad credentials: final */
	FAKE_TRANSIENT, /* connection refused: may work later */
	FAKE_SILENT,	/* fails without saying why */
};

/* The fake platform: what it answers and how often it was asked. */
static pthread_mutex_t fk_lock = PTHREAD_MUTEX_INITIALIZER;
static int fk_calls, fk_logs, fk_log_level;
static char fk_log_line[128];
static enum fake_answer fk_answer;
static int64_t fk_expires;

static int fake_login(void *ctx, struct vs_http *http, char **token,
		      int64_t *expires_at, struct vs_error *err)
{
	struct timespec ts = {0, 30 * 1000 * 1000};
	enum fake_answer answer;
	char tok[32];
	int n;

	(void)http;
	pthread_mutex_lock(&fk_lock);
	n = ++fk_calls;
	answer = fk_answer;
	*expires_at = fk_expires;
	pthread_mutex_unlock(&fk_lock);
	/* The credential hands over what it was given. */
	if (ctx != &fk_calls)
		return vs_error_set(err, VS_EC_INTERNAL, 0, 0, "bad ctx");
	/* Long enough for every other thread to pile up behind it. */
	nanosleep(&ts, NULL);
	switch (answer) {
	case FAKE_OK:
		snprintf(tok, sizeof(tok), "tok-%d", n);
		*token = strdup(tok);
		return *token ? VS_OK : VS_ERR;
	case FAKE_REFUSED:
		return vs_error_set(err, VS_EC_AUTH, 401, 0,
				    TAG ": login refused: HTTP 401");
	case FAKE_TRANSIENT:
		return vs_error_set(err, VS_EC_TRANSPORT, 0, 1,
				    TAG ": POST sso: connection refused");
	case FAKE_SILENT:
		break;
	}
	return VS_ERR;
}

static void fake_log(enum vs_log_level level, const char *tag, const char *fmt,
		     ...)
{
	va_list ap;

	pthread_mutex_lock(&fk_lock);
	fk_logs++;
	fk_log_level = (int)level;
	va_start(ap, fmt);
	vsnprintf(fk_log_line, sizeof(fk_log_line), fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&fk_lock);
	(void)tag;
}

static const struct vs_host fake_host = {
	.abi_version = VS_PROVIDER_ABI_VERSION,
	.log = fake_log,
};

static const struct pv_cred_ops fake_ops = {
	.login = fake_login,
	.failed = "logging in again failed",
	.renewed_level = VS_LOG_INFO,
	.renewed = "logged in again",
	.noun = "session",
};

static int setup(void **state)
{
	struct pv_cred *c = calloc(1, sizeof(*c));
	struct vs_error err;

	assert_non_null(c);
	fk_calls = fk_logs = fk_log_level = 0;
	fk_log_line[0] = '\0';
	fk_answer = FAKE_OK;
	fk_expires = VS_TIME_UNKNOWN;
	vs_error_clear(&err);
	assert_int_equal(
		pv_cred_init(c, &fake_host, TAG, &fake_ops, &fk_calls, &err),
		VS_OK);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct pv_cred *c = *state;

	pv_cred_release(c);
	/* Twice is harmless. */
	pv_cred_release(c);
	free(c);
	return 0;
}

/* The first token, put in place by the provider's own first login. */
static void first_login(struct pv_cred *c, int64_t expires_at)
{
	char *t = strdup("tok-0");

	assert_non_null(t);
	pv_cred_set(c, t, expires_at);
}

static void expect_token(struct pv_cred *c, const char *want,
			 unsigned long want_gen)
{
	struct vs_error err;
	unsigned long gen = 0;
	char *tok = NULL;

	vs_error_clear(&err);
	assert_int_equal(pv_cred_token(c, NULL, &tok, &gen, &err), VS_OK);
	assert_string_equal(tok, want);
	assert_int_equal(gen, want_gen);
	pv_free_secret(tok);
}

struct worker {
	struct pv_cred *c;
	unsigned long gen;
	int rc;
	struct vs_error err;
};

static void *refresher(void *arg)
{
	struct worker *w = arg;

	vs_error_clear(&w->err);
	w->rc = pv_cred_refresh(w->c, NULL, w->gen, &w->err);
	return NULL;
}

/* All workers refused with generation gen at once. */
static void burst(struct pv_cred *c, unsigned long gen, struct worker *w)
{
	pthread_t t[THREADS];
	int i;

	for (i = 0; i < THREADS; i++) {
		w[i].c = c;
		w[i].gen = gen;
		assert_int_equal(pthread_create(&t[i], NULL, refresher, &w[i]),
				 0);
	}
	for (i = 0; i < THREADS; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
}

/* ------------------------------------------------------------------ */

static void test_no_token_yet(void **state)
{
	struct pv_cred *c = *state;
	struct vs_error err;
	unsigned long gen = 99;
	char *tok = (char *)"x";

	vs_error_clear(&err);
	assert_int_equal(pv_cred_token(c, NULL, &tok, &gen, &err), VS_ERR);
	assert_null(tok);
	assert_int_equal(err.cls, VS_EC_INTERNAL);
	assert_string_equal(err.message, "lab: no session (out of memory?)");
	assert_int_equal(fk_calls, 0);
}

static void test_set_starts_a_generation(void **state)
{
	struct pv_cred *c = *state;

	first_login(c, VS_TIME_UNKNOWN);
	expect_token(c, "tok-0", 1);
	/* A token with no known expiry is never renewed ahead of time. */
	expect_token(c, "tok-0", 1);
	assert_int_equal(fk_calls, 0);
	pv_cred_set(c, strdup("tok-x"), VS_TIME_UNKNOWN);
	expect_token(c, "tok-x", 2);
}

static void test_one_refresh_for_many(void **state)
{
	struct pv_cred *c = *state;
	struct worker w[THREADS];
	struct vs_error err;
	int i;

	first_login(c, VS_TIME_UNKNOWN);
	burst(c, 1, w);
	for (i = 0; i < THREADS; i++)
		assert_int_equal(w[i].rc, VS_OK);
	/* Eight workers saw the refusal; the platform saw one login. */
	assert_int_equal(fk_calls, 1);
	expect_token(c, "tok-1", 2);
	assert_int_equal(c->refreshes, 1);
	assert_int_equal(fk_logs, 1);
	assert_int_equal(fk_log_level, VS_LOG_INFO);
	assert_string_equal(fk_log_line, "logged in again");
	/* A late worker still holding generation 1 just retries. */
	vs_error_clear(&err);
	assert_int_equal(pv_cred_refresh(c, NULL, 1, &err), VS_OK);
	assert_int_equal(fk_calls, 1);
	/* A refusal of the new token is a new login, once. */
	burst(c, 2, w);
	for (i = 0; i < THREADS; i++)
		assert_int_equal(w[i].rc, VS_OK);
	assert_int_equal(fk_calls, 2);
	expect_token(c, "tok-2", 3);
}

static void test_refusal_is_shared(void **state)
{
	struct pv_cred *c = *state;
	struct worker w[THREADS];
	struct vs_error err;
	int i;

	first_login(c, VS_TIME_UNKNOWN);
	fk_answer = FAKE_REFUSED; /* the password changed under us */
	burst(c, 1, w);
	for (i = 0; i < THREADS; i++) {
		assert_int_equal(w[i].rc, VS_ERR);
		assert_int_equal(w[i].err.cls, VS_EC_AUTH);
		assert_int_equal(w[i].err.http_status, 401);
		assert_int_equal(w[i].err.retryable, 0);
		assert_string_equal(w[i].err.message,
				    "lab: login refused: HTTP 401");
	}
	assert_int_equal(fk_calls, 1);
	/* Final for that token: later callers do not ask again. */
	vs_error_clear(&err);
	assert_int_equal(pv_cred_refresh(c, NULL, 1, &err), VS_ERR);
	assert_int_equal(err.cls, VS_EC_AUTH);
	assert_string_equal(err.message, "lab: login refused: HTTP 401");
	assert_int_equal(fk_calls, 1);
	/* The old token is still the one handed out; nothing was logged. */
	expect_token(c, "tok-0", 1);
	assert_int_equal(fk_logs, 0);
}

static void test_transient_failure_retried_later(void **state)
{
	struct pv_cred *c = *state;
	struct worker w[THREADS];
	struct vs_error err;
	int i, calls;

	first_login(c, VS_TIME_UNKNOWN);
	fk_answer = FAKE_TRANSIENT;
	burst(c, 1, w);
	for (i = 0; i < THREADS; i++) {
		assert_int_equal(w[i].rc, VS_ERR);
		assert_int_equal(w[i].err.cls, VS_EC_TRANSPORT);
		assert_int_equal(w[i].err.retryable, 1);
		assert_string_equal(w[i].err.message,
				    "lab: POST sso: connection refused");
	}
	calls = fk_calls;
	/* Most waited for the one attempt; very few could have tried again. */
	assert_true(calls >= 1 && calls <= THREADS);
	/* Not final: the next caller asks again, and it works. */
	fk_answer = FAKE_OK;
	vs_error_clear(&err);
	assert_int_equal(pv_cred_refresh(c, NULL, 1, &err), VS_OK);
	assert_int_equal(fk_calls, calls + 1);
	assert_int_equal(c->gen, 2);
}

static void test_failure_without_reason(void **state)
{
	struct pv_cred *c = *state;
	struct vs_error err;

	first_login(c, VS_TIME_UNKNOWN);
	fk_answer = FAKE_SILENT;
	vs_error_clear(&err);
	assert_int_equal(pv_cred_refresh(c, NULL, 1, &err), VS_ERR);
	assert_int_equal(err.cls, VS_EC_INTERNAL);
	assert_int_equal(err.retryable, 0);
	assert_string_equal(err.message, "lab: logging in again failed");
	/* Not retryable, so final for the generation. */
	vs_error_clear(&err);
	assert_int_equal(pv_cred_refresh(c, NULL, 1, &err), VS_ERR);
	assert_string_equal(err.message, "lab: logging in again failed");
	assert_int_equal(fk_calls, 1);
}

static void test_refresh_before_expiry(void **state)
{
	struct pv_cred *c = *state;

	/* Within the one-minute margin: renewed before it is handed out. */
	first_login(c, (int64_t)time(NULL) + PV_CRED_EXPIRY_MARGIN_S / 2);
	fk_expires = (int64_t)time(NULL) + 3600;
	expect_token(c, "tok-1", 2);
	assert_int_equal(c->expires_at, fk_expires);
	/* The new one is good for an hour: no second login. */
	expect_token(c, "tok-1", 2);
	assert_int_equal(fk_calls, 1);
}

static void test_not_yet_expiring(void **state)
{
	struct pv_cred *c = *state;

	first_login(c, (int64_t)time(NULL) + 2 * PV_CRED_EXPIRY_MARGIN_S);
	expect_token(c, "tok-0", 1);
	assert_int_equal(fk_calls, 0);
}

static void test_renewal_failure(void **state)
{
	struct pv_cred *c = *state;
	struct vs_error err;
	unsigned long gen = 0;
	char *tok = (char *)"x";

	first_login(c, (int64_t)time(NULL) + 10);
	fk_answer = FAKE_REFUSED;
	vs_error_clear(&err);
	assert_int_equal(pv_cred_token(c, NULL, &tok, &gen, &err), VS_ERR);
	assert_null(tok);
	assert_int_equal(err.cls, VS_EC_AUTH);
	assert_string_equal(err.message, "lab: login refused: HTTP 401");
	assert_int_equal(fk_calls, 1);
}

static void test_release_uninitialised(void **state)
{
	struct pv_cred c;

	(void)state;
	memset(&c, 0, sizeof(c));
	pv_cred_release(&c);
	pv_cred_release(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_no_token_yet, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_set_starts_a_generation,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_refresh_for_many,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusal_is_shared, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_transient_failure_retried_later, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_without_reason,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_refresh_before_expiry,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_yet_expiring, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_renewal_failure, setup,
						teardown),
		cmocka_unit_test(test_release_uninitialised),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
