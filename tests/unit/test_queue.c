/*
 * test_queue.c - the failure queue: FIFO order, close and reopen,
 * ownership of leftovers, and many producers and consumers at once.
 *
 * A watchdog alarm turns a lost wake-up (a pop that never returns) into
 * a failed test instead of a hung one.
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

#include "queue.h"

#define P(n) ((void *)(uintptr_t)(n))
#define N(p) ((size_t)(uintptr_t)(p))

static atomic_int freed;

static void count_free(void *item)
{
	atomic_fetch_add(&freed, 1);
	free(item);
}

static void test_fifo(void **state)
{
	struct vs_queue *q = vs_queue_new(NULL);
	void *it = NULL;
	size_t i;

	(void)state;
	assert_non_null(q);
	assert_int_equal(vs_queue_try_pop(q, &it), VS_QUEUE_EMPTY);
	for (i = 1; i <= 100; i++)
		assert_int_equal(vs_queue_push(q, P(i)), 0);
	assert_int_equal(vs_queue_len(q), 100);
	for (i = 1; i <= 50; i++) {
		assert_int_equal(vs_queue_pop(q, &it), 0);
		assert_int_equal(N(it), i);
	}
	for (i = 51; i <= 100; i++) {
		assert_int_equal(vs_queue_try_pop(q, &it), 0);
		assert_int_equal(N(it), i);
	}
	assert_int_equal(vs_queue_len(q), 0);
	assert_int_equal(vs_queue_try_pop(q, &it), VS_QUEUE_EMPTY);
	/* Emptied and refilled: the tail pointer must have been reset. */
	assert_int_equal(vs_queue_push(q, P(7)), 0);
	assert_int_equal(vs_queue_pop(q, &it), 0);
	assert_int_equal(N(it), 7);
	vs_queue_free(q);
	vs_queue_free(NULL);
}

static void test_close_reopen(void **state)
{
	struct vs_queue *q = vs_queue_new(NULL);
	void *it = NULL;

	(void)state;
	assert_int_equal(vs_queue_push(q, P(1)), 0);
	assert_int_equal(vs_queue_push(q, P(2)), 0);
	vs_queue_close(q);
	assert_int_equal(vs_queue_push(q, P(3)), VS_QUEUE_CLOSED);
	assert_int_equal(vs_queue_len(q), 2);
	/* Closed but not empty: items still come out, in order. */
	assert_int_equal(vs_queue_pop(q, &it), 0);
	assert_int_equal(N(it), 1);
	assert_int_equal(vs_queue_try_pop(q, &it), 0);
	assert_int_equal(N(it), 2);
	it = P(99);
	assert_int_equal(vs_queue_pop(q, &it), VS_QUEUE_CLOSED);
	assert_int_equal(vs_queue_try_pop(q, &it), VS_QUEUE_CLOSED);
	assert_int_equal(N(it), 99);
	vs_queue_reopen(q);
	assert_int_equal(vs_queue_try_pop(q, &it), VS_QUEUE_EMPTY);
	assert_int_equal(vs_queue_push(q, P(4)), 0);
	assert_int_equal(vs_queue_pop(q, &it), 0);
	assert_int_equal(N(it), 4);
	vs_queue_free(q);
}

static void *blocked_pop(void *arg)
{
	struct vs_queue *q = arg;
	void *it;

	return P(vs_queue_pop(q, &it) == VS_QUEUE_CLOSED ? 1 : 0);
}

/* Close wakes every waiting pop (whether it began waiting before the
 * close or not, each must come back with VS_QUEUE_CLOSED). */
static void test_close_wakes_waiters(void **state)
{
	struct vs_queue *q = vs_queue_new(NULL);
	pthread_t t[4];
	void *rv;
	int i;

	(void)state;
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, blocked_pop, q),
				 0);
	vs_queue_close(q);
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], &rv), 0);
		assert_int_equal(N(rv), 1);
	}
	vs_queue_free(q);
}

static void test_drain_and_ownership(void **state)
{
	struct vs_queue *q = vs_queue_new(count_free);
	void **items = P(1);
	size_t n, i;

	(void)state;
	atomic_store(&freed, 0);
	assert_int_equal(vs_queue_drain(q, &items), 0);
	assert_null(items);
	for (i = 0; i < 10; i++) {
		size_t *v = malloc(sizeof(*v));
		assert_non_null(v);
		*v = i;
		assert_int_equal(vs_queue_push(q, v), 0);
	}
	n = vs_queue_drain(q, &items);
	assert_int_equal(n, 10);
	assert_int_equal(vs_queue_len(q), 0);
	for (i = 0; i < n; i++) {
		assert_int_equal(*(size_t *)items[i], i);
		free(items[i]); /* the caller owns drained items */
	}
	free(items);
	assert_int_equal(atomic_load(&freed), 0);

	/* Whatever is left at free goes to the callback, exactly once. */
	for (i = 0; i < 5; i++)
		assert_int_equal(vs_queue_push(q, malloc(8)), 0);
	vs_queue_close(q);
	vs_queue_free(q);
	assert_int_equal(atomic_load(&freed), 5);
}

/* ------------------------------------------------------------------ */

#define PRODUCERS    8
#define CONSUMERS    4
#define PER_PRODUCER 50000
#define TOTAL	     (PRODUCERS * PER_PRODUCER)

struct stress {
	struct vs_queue *q;
	atomic_uchar seen[TOTAL];
	atomic_int order_errors;
	atomic_int push_errors;
};

struct worker_arg {
	struct stress *s;
	size_t id;
};

static void *producer(void *arg)
{
	struct worker_arg *w = arg;
	size_t i;

	for (i = 0; i < PER_PRODUCER; i++)
		/* Item k + 1, so no item is the NULL pointer. */
		if (vs_queue_push(w->s->q, P(w->id * PER_PRODUCER + i + 1)))
			atomic_fetch_add(&w->s->push_errors, 1);
	return NULL;
}

static void *consumer(void *arg)
{
	struct worker_arg *w = arg;
	size_t last[PRODUCERS];
	void *it;
	size_t got = 0;

	memset(last, 0, sizeof(last));
	while (vs_queue_pop(w->s->q, &it) == 0) {
		size_t k = N(it) - 1, p = k / PER_PRODUCER;
		atomic_fetch_add(&w->s->seen[k], 1);
		/* FIFO: one consumer sees each producer's items in order. */
		if (k % PER_PRODUCER + 1 <= last[p])
			atomic_fetch_add(&w->s->order_errors, 1);
		last[p] = k % PER_PRODUCER + 1;
		got++;
	}
	return P(got);
}

static void test_many_producers_consumers(void **state)
{
	struct stress *s = calloc(1, sizeof(*s));
	struct worker_arg pa[PRODUCERS], ca[CONSUMERS];
	pthread_t pt[PRODUCERS], ct[CONSUMERS];
	size_t i, total = 0, missing = 0, doubled = 0;
	void *rv;

	(void)state;
	assert_non_null(s);
	s->q = vs_queue_new(NULL);
	for (i = 0; i < CONSUMERS; i++) {
		ca[i].s = s;
		ca[i].id = i;
		assert_int_equal(pthread_create(&ct[i], NULL, consumer, &ca[i]),
				 0);
	}
	for (i = 0; i < PRODUCERS; i++) {
		pa[i].s = s;
		pa[i].id = i;
		assert_int_equal(pthread_create(&pt[i], NULL, producer, &pa[i]),
				 0);
	}
	for (i = 0; i < PRODUCERS; i++)
		pthread_join(pt[i], NULL);
	/* Consumers stop only once the queue is closed and empty. */
	vs_queue_close(s->q);
	for (i = 0; i < CONSUMERS; i++) {
		pthread_join(ct[i], &rv);
		total += N(rv);
	}
	for (i = 0; i < TOTAL; i++) {
		unsigned char c = atomic_load(&s->seen[i]);
		missing += c == 0;
		doubled += c > 1;
	}
	assert_int_equal(atomic_load(&s->push_errors), 0);
	assert_int_equal(missing, 0);
	assert_int_equal(doubled, 0);
	assert_int_equal(total, TOTAL);
	assert_int_equal(atomic_load(&s->order_errors), 0);
	assert_int_equal(vs_queue_len(s->q), 0);
	vs_queue_free(s->q);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fifo),
		cmocka_unit_test(test_close_reopen),
		cmocka_unit_test(test_close_wakes_waiters),
		cmocka_unit_test(test_drain_and_ownership),
		cmocka_unit_test(test_many_producers_consumers),
	};
	alarm(120); /* a hang is a failure */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
