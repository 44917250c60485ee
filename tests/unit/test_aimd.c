/*
 * test_aimd.c - the adaptive concurrency limiter: the arithmetic of the
 * additive increase and the multiplicative decrease, one cut per
 * generation, the floor of 1 and the cap at max, acquire waiting for a
 * slot and waking on release and on cancellation, and many threads at
 * once (also run under ThreadSanitizer).
 *
 * Waiting is observed through the limiter's own count of waiting
 * threads, never through sleeps of a chosen length.
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

#include "aimd.h"
#include "error.h"

static struct vs_aimd_stats stats(struct vs_aimd *a)
{
	struct vs_aimd_stats st;

	vs_aimd_stats(a, &st);
	return st;
}

static unsigned long take(struct vs_aimd *a)
{
	unsigned long t = 99;

	assert_int_equal(vs_aimd_acquire(a, &t), 0);
	return t;
}

/* Spin until n threads wait in acquire (no timing assumed). */
static void until_waiting(struct vs_aimd *a, unsigned int n)
{
	while (stats(a).waiting != n)
		usleep(1000);
}

static void test_starts_at_max(void **state)
{
	struct vs_aimd *a = vs_aimd_new("osp-lab", 8);
	struct vs_aimd_stats st;

	(void)state;
	assert_non_null(a);
	st = stats(a);
	assert_int_equal(st.max, 8);
	assert_int_equal(st.limit, 8);
	assert_int_equal(st.min, 8);
	assert_int_equal(st.decreases, 0);
	assert_int_equal(vs_aimd_limit(a), 8);
	assert_int_equal(vs_aimd_generation(a), 0);
	vs_aimd_free(a);

	/* A max of 0 is taken as 1: a provider always gets one request. */
	a = vs_aimd_new("x", 0);
	assert_non_null(a);
	assert_int_equal(vs_aimd_limit(a), 1);
	vs_aimd_free(a);
}

static void test_halves_on_pushback(void **state)
{
	struct vs_aimd *a = vs_aimd_new("osp-lab", 64);
	struct vs_aimd_stats st;
	unsigned long t;

	(void)state;
	t = take(a);
	assert_int_equal(t, 0);
	vs_aimd_release(a, t, VS_AIMD_PUSHBACK);
	st = stats(a);
	assert_int_equal(st.limit, 32);
	assert_int_equal(st.min, 32);
	assert_int_equal(st.decreases, 1);
	assert_int_equal(st.pushbacks, 1);
	assert_int_equal(st.in_flight, 0);
	assert_int_equal(vs_aimd_generation(a), 1);
	/* 32 -> 16 -> 8 -> 4 -> 2 -> 1, and never below 1: at 1 a pushback
	 * cuts nothing and is not counted as a decrease. */
	for (int i = 0; i < 10; i++)
		vs_aimd_release(a, take(a), VS_AIMD_PUSHBACK);
	st = stats(a);
	assert_int_equal(st.limit, 1);
	assert_int_equal(st.min, 1);
	assert_int_equal(st.decreases, 6);
	assert_int_equal(st.pushbacks, 11);
	assert_int_equal(vs_aimd_limit(a), 1);
	vs_aimd_free(a);
}

/* 64 requests in flight all rejected: one halving, not 64. */
static void test_one_cut_per_generation(void **state)
{
	struct vs_aimd *a = vs_aimd_new("vc-lab", 64);
	unsigned long t[64], u;
	struct vs_aimd_stats st;
	int i;

	(void)state;
	for (i = 0; i < 64; i++)
		t[i] = take(a);
	for (i = 0; i < 64; i++)
		vs_aimd_release(a, t[i], VS_AIMD_PUSHBACK);
	st = stats(a);
	assert_int_equal(st.limit, 32);
	assert_int_equal(st.decreases, 1);
	assert_int_equal(st.pushbacks, 64);
	assert_int_equal(st.in_flight, 0);

	/* A request sent after the cut is rejected too: cut again. */
	u = take(a);
	assert_int_equal(u, 1);
	vs_aimd_release(a, u, VS_AIMD_PUSHBACK);
	assert_int_equal(vs_aimd_limit(a), 16);
	vs_aimd_free(a);
}

static void test_additive_increase(void **state)
{
	struct vs_aimd *a = vs_aimd_new("rhv-lab", 4);
	int i, n;

	(void)state;
	for (i = 0; i < 3; i++)
		vs_aimd_release(a, take(a), VS_AIMD_PUSHBACK);
	assert_int_equal(vs_aimd_limit(a), 1);
	/* w = 1: one success gives a second slot. */
	vs_aimd_release(a, take(a), VS_AIMD_SUCCESS);
	assert_int_equal(vs_aimd_limit(a), 2);
	/* w = 2: 2 + 1/2 + 1/2.5 = 2.9, still 2; the third makes 3.24. */
	vs_aimd_release(a, take(a), VS_AIMD_SUCCESS);
	vs_aimd_release(a, take(a), VS_AIMD_SUCCESS);
	assert_int_equal(vs_aimd_limit(a), 2);
	vs_aimd_release(a, take(a), VS_AIMD_SUCCESS);
	assert_int_equal(vs_aimd_limit(a), 3);
	/* About one more slot per window of successes: 3 -> 4 in 3 or 4. */
	for (n = 0; vs_aimd_limit(a) < 4; n++)
		vs_aimd_release(a, take(a), VS_AIMD_SUCCESS);
	assert_true(n >= 2 && n <= 4);
	/* Capped at max. */
	for (i = 0; i < 100; i++)
		vs_aimd_release(a, take(a), VS_AIMD_SUCCESS);
	assert_int_equal(vs_aimd_limit(a), 4);
	assert_int_equal(stats(a).max, 4);
	/* The lowest point stays on record; no answer changes nothing. */
	assert_int_equal(stats(a).min, 1);
	vs_aimd_release(a, take(a), VS_AIMD_NONE);
	assert_int_equal(vs_aimd_limit(a), 4);
	assert_int_equal(stats(a).decreases, 2);
	vs_aimd_free(a);
}

/* A transport error neither grows nor cuts. */
static void test_none_is_neutral(void **state)
{
	struct vs_aimd *a = vs_aimd_new("osp-lab", 8);

	(void)state;
	vs_aimd_release(a, take(a), VS_AIMD_PUSHBACK);
	vs_aimd_release(a, take(a), VS_AIMD_NONE);
	vs_aimd_release(a, take(a), VS_AIMD_NONE);
	assert_int_equal(vs_aimd_limit(a), 4);
	assert_int_equal(stats(a).decreases, 1);
	vs_aimd_free(a);
}

/* Pushback seen above HTTP (an error class): the same generation rule. */
static void test_signal_without_slot(void **state)
{
	struct vs_aimd *a = vs_aimd_new("vc-lab", 16);
	unsigned long g = vs_aimd_generation(a), t;

	(void)state;
	t = take(a);
	vs_aimd_release(a, t, VS_AIMD_PUSHBACK); /* 16 -> 8 */
	/* The work that began before that cut: no second cut. */
	vs_aimd_signal(a, g, VS_AIMD_PUSHBACK);
	assert_int_equal(vs_aimd_limit(a), 8);
	g = vs_aimd_generation(a);
	vs_aimd_signal(a, g, VS_AIMD_PUSHBACK);
	assert_int_equal(vs_aimd_limit(a), 4);
	vs_aimd_signal(a, vs_aimd_generation(a), VS_AIMD_SUCCESS);
	assert_int_equal(vs_aimd_limit(a), 4);
	assert_int_equal(stats(a).in_flight, 0);
	assert_int_equal(stats(a).pushbacks, 3);
	vs_aimd_free(a);
}

struct waiter {
	struct vs_aimd *a;
	atomic_int done;
	int rc;
	unsigned long ticket;
};

static void *wait_for_slot(void *arg)
{
	struct waiter *w = arg;

	w->rc = vs_aimd_acquire(w->a, &w->ticket);
	atomic_store(&w->done, 1);
	return NULL;
}

static void test_waits_for_a_slot(void **state)
{
	struct vs_aimd *a = vs_aimd_new("osp-lab", 2);
	struct waiter w = {.a = a};
	unsigned long t1, t2;
	pthread_t th;

	(void)state;
	t1 = take(a);
	t2 = take(a);
	assert_int_equal(pthread_create(&th, NULL, wait_for_slot, &w), 0);
	until_waiting(a, 1);
	assert_int_equal(atomic_load(&w.done), 0);
	assert_int_equal(stats(a).in_flight, 2);
	vs_aimd_release(a, t1, VS_AIMD_SUCCESS);
	pthread_join(th, NULL);
	assert_int_equal(w.rc, 0);
	assert_int_equal(stats(a).in_flight, 2);
	assert_int_equal(stats(a).waits, 1);
	assert_int_equal(stats(a).waiting, 0);
	vs_aimd_release(a, t2, VS_AIMD_SUCCESS);
	vs_aimd_release(a, w.ticket, VS_AIMD_SUCCESS);
	assert_int_equal(stats(a).in_flight, 0);
	vs_aimd_free(a);
}

/*
 * After a cut the requests in flight above the new window finish first:
 * a new one starts only once fewer than floor(w) are in flight.
 */
static void test_cut_holds_new_requests(void **state)
{
	struct vs_aimd *a = vs_aimd_new("vc-lab", 4);
	struct waiter w = {.a = a};
	unsigned long t[4];
	pthread_t th;
	int i;

	(void)state;
	for (i = 0; i < 4; i++)
		t[i] = take(a);
	vs_aimd_release(a, t[0], VS_AIMD_PUSHBACK); /* 4 -> 2, 3 in flight */
	assert_int_equal(vs_aimd_limit(a), 2);
	assert_int_equal(pthread_create(&th, NULL, wait_for_slot, &w), 0);
	until_waiting(a, 1);
	vs_aimd_release(a, t[1], VS_AIMD_PUSHBACK); /* stale: no cut */
	assert_int_equal(vs_aimd_limit(a), 2);
	/* Two in flight, window 2: still waiting. */
	assert_int_equal(stats(a).waiting, 1);
	assert_int_equal(atomic_load(&w.done), 0);
	vs_aimd_release(a, t[2], VS_AIMD_SUCCESS);
	pthread_join(th, NULL);
	assert_int_equal(w.rc, 0);
	assert_int_equal(w.ticket, 1);
	vs_aimd_release(a, t[3], VS_AIMD_NONE);
	vs_aimd_release(a, w.ticket, VS_AIMD_NONE);
	assert_int_equal(stats(a).in_flight, 0);
	vs_aimd_free(a);
}

static void test_cancel_wakes_waiters(void **state)
{
	struct vs_aimd *a = vs_aimd_new("rhv-lab", 1);
	struct waiter w[3];
	pthread_t th[3];
	unsigned long t, u;
	int i;

	(void)state;
	t = take(a);
	for (i = 0; i < 3; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].a = a;
		assert_int_equal(
			pthread_create(&th[i], NULL, wait_for_slot, &w[i]), 0);
	}
	until_waiting(a, 3);
	vs_aimd_cancel(a);
	for (i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].rc, VS_ERR);
	}
	/* Later acquires fail too; the slot taken before still returns. */
	assert_int_equal(vs_aimd_acquire(a, &u), VS_ERR);
	vs_aimd_release(a, t, VS_AIMD_SUCCESS);
	assert_int_equal(stats(a).in_flight, 0);
	assert_int_equal(vs_aimd_acquire(a, &u), VS_ERR);
	vs_aimd_free(a);
}

static void test_null(void **state)
{
	unsigned long t = 5;
	struct vs_aimd_stats st;

	(void)state;
	assert_int_equal(vs_aimd_acquire(NULL, &t), 0);
	assert_int_equal(t, 0);
	vs_aimd_release(NULL, t, VS_AIMD_PUSHBACK);
	vs_aimd_signal(NULL, t, VS_AIMD_PUSHBACK);
	vs_aimd_cancel(NULL);
	assert_int_equal(vs_aimd_limit(NULL), 0);
	assert_int_equal(vs_aimd_generation(NULL), 0);
	vs_aimd_stats(NULL, &st);
	assert_int_equal(st.max, 0);
	vs_aimd_free(NULL);
}

#define THREADS 8
#define ROUNDS	2000
#define MAX	6

struct hammer {
	struct vs_aimd *a;
	atomic_int *holders, *peak;
	uint64_t seed;
};

static void *hammer(void *arg)
{
	struct hammer *h = arg;
	int i, now, peak;

	for (i = 0; i < ROUNDS; i++) {
		unsigned long t;
		uint64_t r;

		assert_int_equal(vs_aimd_acquire(h->a, &t), 0);
		now = atomic_fetch_add(h->holders, 1) + 1;
		peak = atomic_load(h->peak);
		while (now > peak &&
		       !atomic_compare_exchange_weak(h->peak, &peak, now))
			;
		h->seed ^= h->seed << 13;
		h->seed ^= h->seed >> 7;
		h->seed ^= h->seed << 17;
		r = h->seed % 100;
		atomic_fetch_sub(h->holders, 1);
		vs_aimd_release(h->a, t,
				r < 10	 ? VS_AIMD_PUSHBACK
				: r < 15 ? VS_AIMD_NONE
					 : VS_AIMD_SUCCESS);
	}
	return NULL;
}

static void test_concurrent(void **state)
{
	struct vs_aimd *a = vs_aimd_new("osp-lab", MAX);
	atomic_int holders = 0, peak = 0;
	struct hammer h[THREADS];
	pthread_t th[THREADS];
	struct vs_aimd_stats st;
	int i;

	(void)state;
	for (i = 0; i < THREADS; i++) {
		h[i].a = a;
		h[i].holders = &holders;
		h[i].peak = &peak;
		h[i].seed = 0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1);
		assert_int_equal(pthread_create(&th[i], NULL, hammer, &h[i]),
				 0);
	}
	for (i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	st = stats(a);
	/* Never more in flight than the ceiling, whatever the order. */
	assert_true(atomic_load(&peak) <= MAX);
	assert_int_equal(st.in_flight, 0);
	assert_int_equal(st.waiting, 0);
	assert_true(st.min >= 1 && st.min <= st.limit);
	assert_true(st.limit >= 1 && st.limit <= MAX);
	assert_true(st.decreases >= 1);
	assert_true(st.decreases <= st.pushbacks);
	vs_aimd_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_starts_at_max),
		cmocka_unit_test(test_halves_on_pushback),
		cmocka_unit_test(test_one_cut_per_generation),
		cmocka_unit_test(test_additive_increase),
		cmocka_unit_test(test_none_is_neutral),
		cmocka_unit_test(test_signal_without_slot),
		cmocka_unit_test(test_waits_for_a_slot),
		cmocka_unit_test(test_cut_holds_new_requests),
		cmocka_unit_test(test_cancel_wakes_waiters),
		cmocka_unit_test(test_null),
		cmocka_unit_test(test_concurrent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
