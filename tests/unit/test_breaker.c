/*
 * test_breaker.c - the circuit breaker on its own: each trigger, its
 * threshold exactly, the off switches, one "opened" per circuit,
 * circuits independent of each other, and many workers reporting at once
 * (also run under ThreadSanitizer).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "breaker.h"

static const char *const names[] = {"osp-lab", "vc-lab"};

static struct vs_breaker *mk(int k, int pct, int min)
{
	struct vs_breaker_config c = {k, pct, min};
	struct vs_breaker *b = vs_breaker_new(&c, names, 2);

	assert_non_null(b);
	return b;
}

static void test_consecutive(void **state)
{
	struct vs_breaker *b = mk(3, 0, 20);
	char why[VS_BREAKER_REASON_MAX] = "";
	int i;

	(void)state;
	assert_true(vs_breaker_allow(b, 0, why, sizeof(why)));
	/* Two failures, a success: the run starts again. */
	assert_int_equal(vs_breaker_record(b, 0, 1, why, sizeof(why)), 0);
	assert_int_equal(vs_breaker_record(b, 0, 1, why, sizeof(why)), 0);
	assert_int_equal(vs_breaker_record(b, 0, 0, why, sizeof(why)), 0);
	for (i = 0; i < 2; i++)
		assert_int_equal(vs_breaker_record(b, 0, 1, why, sizeof(why)),
				 0);
	assert_true(vs_breaker_allow(b, 0, NULL, 0));
	/* The third in a row opens it, once. */
	assert_int_equal(vs_breaker_record(b, 0, 1, why, sizeof(why)), 1);
	assert_string_equal(why,
			    "circuit breaker open for osp-lab: 3 consecutive "
			    "failures");
	assert_int_equal(vs_breaker_record(b, 0, 1, why, sizeof(why)), 0);
	assert_int_equal(vs_breaker_record(b, 0, 0, why, sizeof(why)), 0);
	memset(why, 0, sizeof(why));
	assert_false(vs_breaker_allow(b, 0, why, sizeof(why)));
	assert_string_equal(why,
			    "circuit breaker open for osp-lab: 3 consecutive "
			    "failures");
	assert_true(vs_breaker_is_open(b, 0));
	/* The other provider is untouched. */
	assert_true(vs_breaker_allow(b, 1, why, sizeof(why)));
	assert_false(vs_breaker_is_open(b, 1));
	vs_breaker_free(b);
}

static void test_percent(void **state)
{
	struct vs_breaker *b = mk(0, 50, 10);
	char why[VS_BREAKER_REASON_MAX] = "";
	int i;

	(void)state;
	/* 9 attempts, all failed: fewer than min_attempts. */
	for (i = 0; i < 9; i++)
		assert_int_equal(vs_breaker_record(b, 1, 1, why, sizeof(why)),
				 0);
	assert_true(vs_breaker_allow(b, 1, NULL, 0));
	vs_breaker_free(b);

	/* Exactly 50% of 10 is not over 50%. */
	b = mk(0, 50, 10);
	for (i = 0; i < 10; i++)
		assert_int_equal(
			vs_breaker_record(b, 1, i % 2, why, sizeof(why)), 0);
	assert_true(vs_breaker_allow(b, 1, NULL, 0));
	/* 6 of 11 is. */
	assert_int_equal(vs_breaker_record(b, 1, 1, why, sizeof(why)), 1);
	assert_string_equal(why,
			    "circuit breaker open for vc-lab: 6 of 11 attempts "
			    "failed (over 50%)");
	assert_false(vs_breaker_allow(b, 1, NULL, 0));
	assert_true(vs_breaker_allow(b, 0, NULL, 0));
	vs_breaker_free(b);
}

static void test_off_and_null(void **state)
{
	struct vs_breaker *b = mk(0, 0, 1);
	char why[8] = "x";
	int i;

	(void)state;
	for (i = 0; i < 1000; i++)
		assert_int_equal(vs_breaker_record(b, 0, 1, why, sizeof(why)),
				 0);
	assert_true(vs_breaker_allow(b, 0, why, sizeof(why)));
	/* Out of range and NULL allow everything and count nothing. */
	assert_true(vs_breaker_allow(b, 7, why, sizeof(why)));
	assert_int_equal(vs_breaker_record(b, 7, 1, why, sizeof(why)), 0);
	vs_breaker_free(b);
	assert_true(vs_breaker_allow(NULL, 0, why, sizeof(why)));
	assert_int_equal(vs_breaker_record(NULL, 0, 1, why, sizeof(why)), 0);
	assert_false(vs_breaker_is_open(NULL, 0));
	vs_breaker_free(NULL);

	/* A reason cut to a small buffer stays terminated. */
	b = mk(1, 0, 1);
	assert_int_equal(vs_breaker_record(b, 0, 1, why, sizeof(why)), 1);
	assert_int_equal(strlen(why), sizeof(why) - 1);
	vs_breaker_free(b);
}

#define THREADS 8
#define PER	2000

struct race {
	struct vs_breaker *b;
	atomic_int opened[2];
	atomic_int refused;
};

struct worker {
	struct race *r;
	int id;
};

static void *hammer(void *arg)
{
	struct worker *w = arg;
	char why[VS_BREAKER_REASON_MAX];
	int i;

	for (i = 0; i < PER; i++) {
		/* Provider 0 always fails; provider 1 always succeeds. */
		size_t p = (size_t)((i + w->id) % 2);

		if (!vs_breaker_allow(w->r->b, p, why, sizeof(why))) {
			atomic_fetch_add(&w->r->refused, 1);
			continue;
		}
		if (vs_breaker_record(w->r->b, p, p == 0, why, sizeof(why)))
			atomic_fetch_add(&w->r->opened[p], 1);
	}
	return NULL;
}

/* Workers report at once: the circuit opens exactly once, the healthy
 * one never, and nothing is lost or torn (TSan watches the rest). */
static void test_concurrent(void **state)
{
	struct race r;
	struct worker w[THREADS];
	pthread_t t[THREADS];
	int i;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.b = mk(50, 50, 20);
	for (i = 0; i < THREADS; i++) {
		w[i].r = &r;
		w[i].id = i;
		assert_int_equal(pthread_create(&t[i], NULL, hammer, &w[i]), 0);
	}
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(atomic_load(&r.opened[0]), 1);
	assert_int_equal(atomic_load(&r.opened[1]), 0);
	assert_true(vs_breaker_is_open(r.b, 0));
	assert_false(vs_breaker_is_open(r.b, 1));
	/* Provider 0 got half of every worker's calls; all but the few
	 * before it opened (and those in flight then) were refused. */
	assert_true(atomic_load(&r.refused) > THREADS * PER / 2 - 200);
	vs_breaker_free(r.b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_consecutive),
		cmocka_unit_test(test_percent),
		cmocka_unit_test(test_off_and_null),
		cmocka_unit_test(test_concurrent),
	};
	alarm(120); /* a hang is a failure */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
