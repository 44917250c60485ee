/*
 * test_pool.c - the worker pool: results in input order, per-worker
 * contexts, concurrency bounds (pool and groups), a saturated group not
 * stalling the others, a group limit lowered mid-run, cancellation, many
 * tiny tasks, nested maps from inside a task (every item once, the width,
 * idle workers helping, cancellation).
 *
 * Nothing here asserts on timing.  Tests that need tasks to overlap use
 * gates (a mutex and a condition); a gate wait has a generous timeout
 * only so that a scheduling bug fails the test instead of hanging it,
 * and a watchdog alarm bounds the whole program.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "pool.h"

#define GATE_TIMEOUT_S 30

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* A short random pause so tasks finish out of order. */
static void jitter(uint64_t seed)
{
	struct timespec ts = {0, (long)(xorshift(&seed) % 200) * 1000};

	if (seed % 3 == 0)
		nanosleep(&ts, NULL);
}

/* A condition a task can wait for, with a bound that turns a scheduling
 * bug into a test failure.  Returns 0, or -1 on timeout. */
struct gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int count;
};

#define GATE_INIT                                                      \
	{                                                              \
		PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 \
	}

static void gate_add(struct gate *g, int n)
{
	pthread_mutex_lock(&g->lock);
	g->count += n;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

static int gate_wait(struct gate *g, int at_least)
{
	struct timespec dl;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += GATE_TIMEOUT_S;
	pthread_mutex_lock(&g->lock);
	while (g->count < at_least && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&g->cond, &g->lock, &dl);
	rc = g->count >= at_least ? 0 : -1;
	pthread_mutex_unlock(&g->lock);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Contexts.                                                            */

struct ctx {
	int index;
	atomic_int tasks;
	int *freed_mask;
};

struct ctx_book {
	int fail_at; /* ctx_new fails for this index; -1 never */
	atomic_int made;
	int freed_mask;
	atomic_int tasks_total;
};

static void *ctx_new(int index, void *udata)
{
	struct ctx_book *b = udata;
	struct ctx *c;

	if (index == b->fail_at)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->index = index;
	c->freed_mask = &b->freed_mask;
	atomic_fetch_add(&b->made, 1);
	return c;
}

static void ctx_free(void *p)
{
	struct ctx *c = p;

	*c->freed_mask |= 1 << c->index;
	free(c);
}

/* ------------------------------------------------------------------ */

struct task {
	size_t index;
	uint64_t seed;
	size_t group;
};

static int order_fn(void *ctx, void *arg)
{
	struct ctx *c = ctx;
	struct task *t = arg;

	atomic_fetch_add(&c->tasks, 1);
	jitter(t->seed);
	return (int)(t->index * 3 + 1);
}

static void test_order_and_contexts(void **state)
{
	enum { N = 3000, W = 8 };
	struct ctx_book book = {.fail_at = -1};
	struct vs_error err;
	struct vs_pool *pool;
	struct task *args = calloc(N, sizeof(*args));
	int *results = calloc(N, sizeof(*results));
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	size_t i;

	(void)state;
	vs_error_clear(&err);
	pool = vs_pool_new(W, ctx_new, ctx_free, &book, &err);
	assert_non_null(pool);
	assert_int_equal(vs_pool_workers(pool), W);
	assert_int_equal(atomic_load(&book.made), W);
	for (i = 0; i < N; i++) {
		args[i].index = i;
		args[i].seed = xorshift(&seed) | 1;
	}
	assert_int_equal(vs_pool_starmap(pool, order_fn, args, N, sizeof(*args),
					 results, NULL),
			 N);
	for (i = 0; i < N; i++)
		assert_int_equal(results[i], (int)(i * 3 + 1));
	/* The pool can be used again. */
	assert_int_equal(vs_pool_starmap(pool, order_fn, args + 10, 7,
					 sizeof(*args), results, NULL),
			 7);
	for (i = 0; i < 7; i++)
		assert_int_equal(results[i], (int)((i + 10) * 3 + 1));
	assert_int_equal(vs_pool_starmap(pool, order_fn, args, 0, sizeof(*args),
					 results, NULL),
			 0);
	/* An empty group table means no groups (group_of is not called). */
	{
		struct vs_pool_groups none = {NULL, NULL, NULL, 0, NULL};
		assert_int_equal(vs_pool_starmap(pool, order_fn, args, 5,
						 sizeof(*args), results, &none),
				 5);
		assert_int_equal(results[4], 4 * 3 + 1);
	}
	assert_true(vs_pool_max_in_flight(pool) >= 1);
	assert_true(vs_pool_max_in_flight(pool) <= W);
	vs_pool_free(pool);
	/* Every context was freed once, by the pool. */
	assert_int_equal(book.freed_mask, (1 << W) - 1);
	vs_pool_free(NULL);
	free(args);
	free(results);
}

static void test_new_failures(void **state)
{
	struct ctx_book book = {.fail_at = 2};
	struct vs_error err;

	(void)state;
	vs_error_clear(&err);
	assert_null(vs_pool_new(4, ctx_new, ctx_free, &book, &err));
	assert_int_equal(err.cls, VS_EC_INTERNAL);
	assert_non_null(strstr(err.message, "worker 2"));
	/* The contexts made before the failure were freed. */
	assert_int_equal(atomic_load(&book.made), 2);
	assert_int_equal(book.freed_mask, 3);

	vs_error_clear(&err);
	assert_null(vs_pool_new(0, NULL, NULL, NULL, &err));
	assert_int_equal(err.cls, VS_EC_INTERNAL);
}

/* ------------------------------------------------------------------ */
/* Concurrency bounds.                                                  */

#define NG 5
static const unsigned int bound_limits[NG] = {1, 2, 3, 0, 2};

struct bounds {
	atomic_int in_flight, max_in_flight;
	atomic_int g_in[NG], g_max[NG];
};
static struct bounds bounds;

static void atomic_max(atomic_int *m, int v)
{
	int cur = atomic_load(m);

	while (v > cur && !atomic_compare_exchange_weak(m, &cur, v))
		;
}

static size_t group_of(const void *arg, void *udata)
{
	(void)udata;
	return ((const struct task *)arg)->group;
}

static int bounded_fn(void *ctx, void *arg)
{
	struct task *t = arg;
	int v;

	(void)ctx;
	v = atomic_fetch_add(&bounds.in_flight, 1) + 1;
	atomic_max(&bounds.max_in_flight, v);
	v = atomic_fetch_add(&bounds.g_in[t->group], 1) + 1;
	atomic_max(&bounds.g_max[t->group], v);
	jitter(t->seed);
	atomic_fetch_sub(&bounds.g_in[t->group], 1);
	atomic_fetch_sub(&bounds.in_flight, 1);
	return (int)t->index;
}

static void test_bounds(void **state)
{
	enum { N = 4000, W = 8 };
	struct vs_pool *pool = vs_pool_new(W, NULL, NULL, NULL, NULL);
	struct task *args = calloc(N, sizeof(*args));
	int *results = calloc(N, sizeof(*results));
	struct vs_pool_groups groups = {group_of, NULL, bound_limits, NG, NULL};
	uint64_t seed = 12345;
	size_t i, g;

	(void)state;
	assert_non_null(pool);
	memset(&bounds, 0, sizeof(bounds));
	for (i = 0; i < N; i++) {
		args[i].index = i;
		args[i].seed = xorshift(&seed) | 1;
		args[i].group = (size_t)(xorshift(&seed) % NG);
	}
	assert_int_equal(vs_pool_starmap(pool, bounded_fn, args, N,
					 sizeof(*args), results, &groups),
			 N);
	for (i = 0; i < N; i++)
		assert_int_equal(results[i], (int)i);
	assert_true(atomic_load(&bounds.max_in_flight) <= W);
	assert_true(vs_pool_max_in_flight(pool) <= W);
	for (g = 0; g < NG; g++) {
		int m = atomic_load(&bounds.g_max[g]);
		assert_true(m >= 1);
		if (bound_limits[g] && m > (int)bound_limits[g])
			fail_msg("group %zu ran %d at once, limit %u", g, m,
				 bound_limits[g]);
	}
	vs_pool_free(pool);
	free(args);
	free(results);
}

/* ------------------------------------------------------------------ */
/* A saturated group must not stall the others.                         */

enum { GROUP_A = 0, GROUP_B = 1, N_B = 300 };
static struct gate b_done = GATE_INIT;
static atomic_int a_timeouts, a_running, a_max;

static int stall_fn(void *ctx, void *arg)
{
	struct task *t = arg;

	(void)ctx;
	if (t->group == GROUP_B) {
		gate_add(&b_done, 1);
		return 2;
	}
	atomic_max(&a_max, atomic_fetch_add(&a_running, 1) + 1);
	/*
	 * Group A's first task holds its only slot until every B task is
	 * done.  If a worker waited for A's slot instead of taking B work,
	 * the B tasks could not all run and this would time out.
	 */
	if (t->index == 0 && gate_wait(&b_done, N_B))
		atomic_fetch_add(&a_timeouts, 1);
	atomic_fetch_sub(&a_running, 1);
	return 1;
}

static void test_saturated_group_does_not_stall(void **state)
{
	enum { N_A = 6, N = N_A + N_B, W = 2 };
	static const unsigned int limits[2] = {1, 0};
	struct vs_pool_groups groups = {group_of, NULL, limits, 2, NULL};
	struct vs_pool *pool = vs_pool_new(W, NULL, NULL, NULL, NULL);
	struct task args[N];
	int results[N];
	size_t i;

	(void)state;
	/* A tasks first, so an earliest-first pick meets them first. */
	for (i = 0; i < N; i++) {
		args[i].index = i;
		args[i].group = i < N_A ? GROUP_A : GROUP_B;
	}
	assert_int_equal(vs_pool_starmap(pool, stall_fn, args, N, sizeof(*args),
					 results, &groups),
			 N);
	assert_int_equal(atomic_load(&a_timeouts), 0);
	assert_int_equal(atomic_load(&a_max), 1);
	for (i = 0; i < N; i++)
		assert_int_equal(results[i], i < N_A ? 1 : 2);
	vs_pool_free(pool);
}

/* ------------------------------------------------------------------ */
/* A limit that changes during the starmap (limit_of).                  */

static atomic_uint dyn_limit;
static struct gate dyn_started = GATE_INIT, dyn_lowered = GATE_INIT;
static atomic_int dyn_running, dyn_late_max, dyn_timeouts;

static unsigned int dyn_limit_of(size_t group, void *udata)
{
	(void)udata;
	return group == GROUP_A ? atomic_load(&dyn_limit) : 0;
}

static int dyn_fn(void *ctx, void *arg)
{
	struct task *t = arg;
	int now;

	(void)ctx;
	if (t->group == GROUP_B)
		return 2;
	now = atomic_fetch_add(&dyn_running, 1) + 1;
	if (t->index < 2) {
		/*
		 * The first two A tasks run together under a limit of 2, and
		 * the first lowers it to 1 while both still run.  Neither
		 * ends before that, so every later A task is picked under
		 * the new limit.
		 */
		gate_add(&dyn_started, 1);
		if (gate_wait(&dyn_started, 2))
			atomic_fetch_add(&dyn_timeouts, 1);
		if (t->index == 0) {
			atomic_store(&dyn_limit, 1);
			gate_add(&dyn_lowered, 1);
		} else if (gate_wait(&dyn_lowered, 1)) {
			atomic_fetch_add(&dyn_timeouts, 1);
		}
	} else {
		atomic_max(&dyn_late_max, now);
	}
	atomic_fetch_sub(&dyn_running, 1);
	return 1;
}

static void test_limit_lowered_mid_run(void **state)
{
	enum { N_A = 12, N = N_A + 40, W = 4 };
	struct vs_pool_groups groups = {group_of, NULL, NULL, 2, dyn_limit_of};
	struct vs_pool *pool = vs_pool_new(W, NULL, NULL, NULL, NULL);
	struct task args[N];
	int results[N];
	size_t i;

	(void)state;
	atomic_store(&dyn_limit, 2);
	for (i = 0; i < N; i++) {
		args[i].index = i;
		args[i].group = i < N_A ? GROUP_A : GROUP_B;
	}
	assert_int_equal(vs_pool_starmap(pool, dyn_fn, args, N, sizeof(*args),
					 results, &groups),
			 N);
	assert_int_equal(atomic_load(&dyn_timeouts), 0);
	/* After the cut the A tasks ran one at a time. */
	assert_int_equal(atomic_load(&dyn_late_max), 1);
	for (i = 0; i < N; i++)
		assert_int_equal(results[i], i < N_A ? 1 : 2);
	vs_pool_free(pool);
}

/* ------------------------------------------------------------------ */
/* Cancellation.                                                        */

struct cancel_test {
	struct vs_pool *pool;
	struct gate started;  /* tasks that began */
	struct gate released; /* opened by the canceller */
	atomic_int ran[100];
	atomic_int timeouts;
};
static struct cancel_test ct;

static int gated_fn(void *ctx, void *arg)
{
	struct task *t = arg;

	(void)ctx;
	atomic_fetch_add(&ct.ran[t->index], 1);
	gate_add(&ct.started, 1);
	if (gate_wait(&ct.released, 1))
		atomic_fetch_add(&ct.timeouts, 1);
	return (int)t->index;
}

static void *canceller(void *arg)
{
	(void)arg;
	/* Every worker is inside a task: none can pick another now. */
	if (gate_wait(&ct.started, 4))
		atomic_fetch_add(&ct.timeouts, 1);
	vs_pool_cancel(ct.pool);
	gate_add(&ct.released, 1);
	return NULL;
}

static void test_cancel_mid_way(void **state)
{
	enum { N = 100, W = 4 };
	struct task args[N];
	int results[N];
	pthread_t th;
	size_t i, ran = 0, not_run = 0;

	(void)state;
	memset(&ct, 0, sizeof(ct));
	pthread_mutex_init(&ct.started.lock, NULL);
	pthread_cond_init(&ct.started.cond, NULL);
	pthread_mutex_init(&ct.released.lock, NULL);
	pthread_cond_init(&ct.released.cond, NULL);
	ct.pool = vs_pool_new(W, NULL, NULL, NULL, NULL);
	assert_non_null(ct.pool);
	for (i = 0; i < N; i++)
		args[i].index = i;
	assert_int_equal(pthread_create(&th, NULL, canceller, NULL), 0);
	assert_int_equal(vs_pool_starmap(ct.pool, gated_fn, args, N,
					 sizeof(*args), results, NULL),
			 W);
	pthread_join(th, NULL);
	assert_int_equal(atomic_load(&ct.timeouts), 0);
	assert_true(vs_pool_cancelled(ct.pool));
	for (i = 0; i < N; i++) {
		int r = atomic_load(&ct.ran[i]);
		assert_true(r <= 1);
		/* A result says "not run" exactly when the task did not run. */
		if (r) {
			assert_int_equal(results[i], (int)i);
			ran++;
		} else {
			assert_int_equal(results[i], VS_POOL_NOT_RUN);
			not_run++;
		}
	}
	assert_int_equal(ran, W);
	assert_int_equal(not_run, N - W);
	/* All four ran at the same time, so the pool saw four in flight. */
	assert_int_equal(vs_pool_max_in_flight(ct.pool), W);

	/* Still cancelled: nothing runs. */
	memset(ct.ran, 0, sizeof(ct.ran));
	assert_int_equal(vs_pool_starmap(ct.pool, gated_fn, args, N,
					 sizeof(*args), results, NULL),
			 0);
	for (i = 0; i < N; i++) {
		assert_int_equal(results[i], VS_POOL_NOT_RUN);
		assert_int_equal(atomic_load(&ct.ran[i]), 0);
	}
	/* Reset: everything runs (the gate is open now). */
	vs_pool_reset_cancel(ct.pool);
	assert_false(vs_pool_cancelled(ct.pool));
	assert_int_equal(vs_pool_starmap(ct.pool, gated_fn, args, N,
					 sizeof(*args), results, NULL),
			 N);
	for (i = 0; i < N; i++)
		assert_int_equal(results[i], (int)i);
	vs_pool_free(ct.pool);
}

static struct vs_pool *self_cancel_pool;

static int self_cancel_fn(void *ctx, void *arg)
{
	struct task *t = arg;

	(void)ctx;
	if (t->index == 10)
		vs_pool_cancel(self_cancel_pool);
	return 7;
}

/* One worker, a task that trips the breaker: exactly tasks 0..10 ran. */
static void test_cancel_from_task(void **state)
{
	enum { N = 50 };
	struct task args[N];
	int results[N];
	size_t i;

	(void)state;
	self_cancel_pool = vs_pool_new(1, NULL, NULL, NULL, NULL);
	for (i = 0; i < N; i++)
		args[i].index = i;
	assert_int_equal(vs_pool_starmap(self_cancel_pool, self_cancel_fn, args,
					 N, sizeof(*args), results, NULL),
			 11);
	for (i = 0; i < N; i++)
		assert_int_equal(results[i], i <= 10 ? 7 : VS_POOL_NOT_RUN);
	vs_pool_free(self_cancel_pool);
}

/* ------------------------------------------------------------------ */

static int tiny_fn(void *ctx, void *arg)
{
	(void)ctx;
	return *(const int *)arg ^ 0x5a5a;
}

static size_t tiny_group(const void *arg, void *udata)
{
	(void)udata;
	return (size_t)(*(const int *)arg % 16);
}

static void test_many_tiny_tasks(void **state)
{
	enum { N = 100000 };
	static const unsigned int limits[16] = {1, 2, 3, 4, 0, 1, 2, 3,
						4, 0, 1, 2, 3, 4, 0, 1};
	struct vs_pool_groups groups = {tiny_group, NULL, limits, 16, NULL};
	struct vs_pool *pool = vs_pool_new(8, NULL, NULL, NULL, NULL);
	int *args = malloc(N * sizeof(*args));
	int *results = malloc(N * sizeof(*results));
	size_t i;

	(void)state;
	for (i = 0; i < N; i++)
		args[i] = (int)i;
	assert_int_equal(vs_pool_starmap(pool, tiny_fn, args, N, sizeof(*args),
					 results, NULL),
			 N);
	for (i = 0; i < N; i++)
		assert_int_equal(results[i], (int)i ^ 0x5a5a);
	memset(results, 0, N * sizeof(*results));
	assert_int_equal(vs_pool_starmap(pool, tiny_fn, args, N, sizeof(*args),
					 results, &groups),
			 N);
	for (i = 0; i < N; i++)
		assert_int_equal(results[i], (int)i ^ 0x5a5a);
	vs_pool_free(pool);
	free(args);
	free(results);
}

/* ------------------------------------------------------------------ */
/* Each worker logs under its own index, the one its context got.       */

static int log_fn(void *ctx, void *arg)
{
	(void)arg;
	vs_log(VS_LOG_INFO, "t", "ctx=%d", ((struct ctx *)ctx)->index);
	return 0;
}

static void test_worker_log_ids(void **state)
{
	enum { N = 200, W = 4 };
	char path[] = "/tmp/vs_test_pool_XXXXXX";
	struct vs_log_opts lo = {VS_LOG_INFO, VS_LOG_TEXT, -1, path, 0};
	struct ctx_book book = {.fail_at = -1};
	struct vs_pool *pool;
	int args[N], results[N], fd, lines = 0;
	char line[256];
	FILE *f;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(vs_log_setup(&lo, NULL), 0);
	pool = vs_pool_new(W, ctx_new, ctx_free, &book, NULL);
	assert_int_equal(vs_pool_starmap(pool, log_fn, args, N, sizeof(int),
					 results, NULL),
			 N);
	vs_pool_free(pool);
	vs_log_teardown();
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		int w = -1, c = -2;
		assert_int_equal(sscanf(line, "INFO [w%d] t: ctx=%d", &w, &c),
				 2);
		assert_int_equal(w, c);
		assert_true(w >= 0 && w < W);
		lines++;
	}
	fclose(f);
	unlink(path);
	assert_int_equal(lines, N);
}

/* ------------------------------------------------------------------ */
/* Nested maps.                                                         */

enum { NEST_TASKS = 3, NEST_N = 400 };

struct nest_book {
	struct vs_pool *pool;
	unsigned int width;
	int inner; /* each item nests once more, n = 2 */
	atomic_int count[NEST_TASKS][NEST_N];
	atomic_int inner_count[NEST_TASKS][NEST_N][2];
	atomic_int running[NEST_TASKS];
	atomic_int max_running[NEST_TASKS];
	atomic_int by_worker[16];
	size_t ran[NEST_TASKS];
};

static struct nest_book nb;

struct nest_item {
	size_t task;
	size_t i;
};

static void note_max(atomic_int *max, int v)
{
	int m = atomic_load(max);

	while (v > m && !atomic_compare_exchange_weak(max, &m, v))
		;
}

static void inner_fn(void *ctx, size_t i, void *udata)
{
	const struct nest_item *it = udata;

	(void)ctx;
	atomic_fetch_add(&nb.inner_count[it->task][it->i][i], 1);
}

static void nest_fn(void *ctx, size_t i, void *udata)
{
	struct ctx *c = ctx;
	size_t t = (size_t)(uintptr_t)udata;
	int now = atomic_fetch_add(&nb.running[t], 1) + 1;

	note_max(&nb.max_running[t], now);
	atomic_fetch_add(&nb.count[t][i], 1);
	atomic_fetch_add(&nb.by_worker[c->index], 1);
	jitter(i * 7919 + t + 1);
	if (nb.inner) {
		struct nest_item it = {t, i};

		assert_int_equal(
			vs_pool_nested(nb.pool, ctx, 2, 0, inner_fn, &it), 2);
	}
	atomic_fetch_sub(&nb.running[t], 1);
}

static int nesting_task(void *ctx, void *arg)
{
	const struct task *t = arg;

	nb.ran[t->index] = vs_pool_nested(nb.pool, ctx, NEST_N, nb.width,
					  nest_fn, (void *)(uintptr_t)t->index);
	return 0;
}

/* Every item of every nested map runs once, within the width. */
static void check_nested(int workers, unsigned int width, int inner)
{
	struct ctx_book book = {-1, 0, 0, 0};
	struct task args[NEST_TASKS];
	int results[NEST_TASKS];
	size_t t, i, total = 0;
	int w;

	memset(&nb, 0, sizeof(nb));
	nb.width = width;
	nb.inner = inner;
	nb.pool = vs_pool_new(workers, ctx_new, ctx_free, &book, NULL);
	assert_non_null(nb.pool);
	for (t = 0; t < NEST_TASKS; t++)
		args[t].index = t;
	assert_int_equal(vs_pool_starmap(nb.pool, nesting_task, args,
					 NEST_TASKS, sizeof(*args), results,
					 NULL),
			 NEST_TASKS);
	for (t = 0; t < NEST_TASKS; t++) {
		assert_int_equal(results[t], 0);
		assert_int_equal(nb.ran[t], NEST_N);
		for (i = 0; i < NEST_N; i++) {
			assert_int_equal(atomic_load(&nb.count[t][i]), 1);
			if (inner) {
				assert_int_equal(
					atomic_load(&nb.inner_count[t][i][0]),
					1);
				assert_int_equal(
					atomic_load(&nb.inner_count[t][i][1]),
					1);
			}
		}
		assert_true(atomic_load(&nb.max_running[t]) >= 1);
		if (width)
			assert_true(atomic_load(&nb.max_running[t]) <=
				    (int)width);
		assert_true(atomic_load(&nb.max_running[t]) <= workers);
	}
	for (w = 0; w < 16; w++)
		total += (size_t)atomic_load(&nb.by_worker[w]);
	assert_int_equal(total, NEST_TASKS * NEST_N);
	/* One worker: the calling task ran every item itself. */
	if (workers == 1)
		assert_int_equal(atomic_load(&nb.by_worker[0]),
				 NEST_TASKS * NEST_N);
	vs_pool_free(nb.pool);
}

static void test_nested_one_worker(void **state)
{
	(void)state;
	check_nested(1, 0, 0);
	check_nested(1, 4, 1);
}

static void test_nested_many_workers(void **state)
{
	(void)state;
	check_nested(8, 3, 0);
	check_nested(8, 1, 0);
	check_nested(8, 0, 0);
	check_nested(4, 0, 1);
	check_nested(16, 5, 1);
}

/* Idle workers take part: four items of one nested map wait for each
 * other, which only works when four workers run them at once. */
static struct gate nest_gate = GATE_INIT;
static atomic_int nest_gate_timeouts;

static void meet_fn(void *ctx, size_t i, void *udata)
{
	(void)ctx;
	(void)i;
	(void)udata;
	gate_add(&nest_gate, 1);
	if (gate_wait(&nest_gate, 4))
		atomic_fetch_add(&nest_gate_timeouts, 1);
}

static struct vs_pool *meet_pool;

static int meet_task(void *ctx, void *arg)
{
	(void)arg;
	return (int)vs_pool_nested(meet_pool, ctx, 4, 4, meet_fn, NULL);
}

static void test_nested_uses_idle_workers(void **state)
{
	struct task arg = {0, 0, 0};
	int result;

	(void)state;
	meet_pool = vs_pool_new(4, NULL, NULL, NULL, NULL);
	assert_non_null(meet_pool);
	assert_int_equal(vs_pool_starmap(meet_pool, meet_task, &arg, 1,
					 sizeof(arg), &result, NULL),
			 1);
	assert_int_equal(result, 4);
	assert_int_equal(atomic_load(&nest_gate_timeouts), 0);
	vs_pool_free(meet_pool);
}

/* Cancelled from item 10: nothing after the items already running. */
static struct vs_pool *nc_pool;
static unsigned int nc_width;
static atomic_int nc_ran[100];

static void nc_fn(void *ctx, size_t i, void *udata)
{
	(void)ctx;
	(void)udata;
	atomic_fetch_add(&nc_ran[i], 1);
	if (i == 10)
		vs_pool_cancel(nc_pool);
}

static int nc_task(void *ctx, void *arg)
{
	(void)arg;
	return (int)vs_pool_nested(nc_pool, ctx, 100, nc_width, nc_fn, NULL);
}

static void check_nested_cancel(int workers, unsigned int width)
{
	struct task arg = {0, 0, 0};
	int result, sum = 0;
	size_t i;

	memset(nc_ran, 0, sizeof(nc_ran));
	nc_width = width;
	nc_pool = vs_pool_new(workers, NULL, NULL, NULL, NULL);
	assert_non_null(nc_pool);
	assert_int_equal(vs_pool_starmap(nc_pool, nc_task, &arg, 1, sizeof(arg),
					 &result, NULL),
			 1);
	for (i = 0; i < 100; i++) {
		int r = atomic_load(&nc_ran[i]);

		assert_true(r <= 1);
		/* Items start in order: 0..10 did, and at most width - 1
		 * more were running when 10 cancelled. */
		if (i <= 10)
			assert_int_equal(r, 1);
		if (i >= 10 + (width ? width : (unsigned int)workers))
			assert_int_equal(r, 0);
		sum += r;
	}
	assert_int_equal(result, sum);
	if (width == 1 || workers == 1)
		assert_int_equal(result, 11);
	/* Cancelled before it starts: nothing runs. */
	memset(nc_ran, 0, sizeof(nc_ran));
	assert_int_equal(vs_pool_nested(nc_pool, NULL, 100, 0, nc_fn, NULL), 0);
	assert_int_equal(atomic_load(&nc_ran[0]), 0);
	vs_pool_free(nc_pool);
}

/*
 * Fair share and affinity: 3 groups of AF_PER tasks in group order, 6
 * workers, no limits.  The first 6 tasks wait until all 6 started, so
 * they are the workers' first picks: 2 per group.  Each worker's second
 * task waits until all 6 workers started one, so all second picks see 8
 * tasks left in each group: each comes from the worker's first group.
 * Afterwards a worker leaves a group only once it is empty, so it never
 * comes back to a group it left.
 */
#define AF_WORKERS 6
#define AF_GROUPS  3
#define AF_PER	   10
#define AF_N	   (AF_GROUPS * AF_PER)

static struct gate af_first = GATE_INIT, af_second = GATE_INIT;
static atomic_int af_started, af_timeouts;
static size_t af_seq[AF_WORKERS][AF_N]; /* groups each worker ran, in order */
static int af_len[AF_WORKERS];		/* written by its own worker only */

static int affinity_fn(void *ctx, void *arg)
{
	struct ctx *c = ctx;
	struct task *t = arg;
	int k = atomic_fetch_add(&af_started, 1);
	int mine = af_len[c->index];

	af_seq[c->index][af_len[c->index]++] = t->group;
	if (k < AF_WORKERS) {
		gate_add(&af_first, 1);
		if (gate_wait(&af_first, AF_WORKERS))
			atomic_fetch_add(&af_timeouts, 1);
	} else if (mine == 1) {
		gate_add(&af_second, 1);
		if (gate_wait(&af_second, AF_WORKERS))
			atomic_fetch_add(&af_timeouts, 1);
	}
	return (int)t->index;
}

static void test_fair_share_and_affinity(void **state)
{
	struct ctx_book book = {.fail_at = -1};
	struct vs_error err = {0};
	struct vs_pool *pool;
	struct task args[AF_N];
	int results[AF_N], per_group[AF_GROUPS] = {0};
	struct vs_pool_groups groups = {group_of, NULL, NULL, AF_GROUPS, NULL};
	size_t i;
	int w, k, total = 0;

	(void)state;
	for (i = 0; i < AF_N; i++)
		args[i] = (struct task){i, 0, i / AF_PER};
	pool = vs_pool_new(AF_WORKERS, ctx_new, ctx_free, &book, &err);
	assert_non_null(pool);
	assert_int_equal(vs_pool_starmap(pool, affinity_fn, args, AF_N,
					 sizeof(args[0]), results, &groups),
			 AF_N);
	vs_pool_free(pool);
	assert_int_equal(atomic_load(&af_timeouts), 0);
	for (i = 0; i < AF_N; i++)
		assert_int_equal(results[i], (int)i);

	for (w = 0; w < AF_WORKERS; w++) {
		int left[AF_GROUPS] = {0};

		total += af_len[w];
		assert_true(af_len[w] >= 2);
		per_group[af_seq[w][0]]++;
		/* Second task: from the first one's group. */
		assert_int_equal(af_seq[w][1], af_seq[w][0]);
		/* A group once left is never taken again. */
		for (k = 1; k < af_len[w]; k++) {
			if (af_seq[w][k] == af_seq[w][k - 1])
				continue;
			left[af_seq[w][k - 1]] = 1;
			assert_false(left[af_seq[w][k]]);
		}
	}
	assert_int_equal(total, AF_N);
	for (k = 0; k < AF_GROUPS; k++)
		assert_int_equal(per_group[k], AF_WORKERS / AF_GROUPS);
}

static void test_nested_cancel(void **state)
{
	(void)state;
	check_nested_cancel(1, 0);
	check_nested_cancel(4, 1);
	check_nested_cancel(4, 3);
	check_nested_cancel(8, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_and_contexts),
		cmocka_unit_test(test_new_failures),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_saturated_group_does_not_stall),
		cmocka_unit_test(test_limit_lowered_mid_run),
		cmocka_unit_test(test_fair_share_and_affinity),
		cmocka_unit_test(test_cancel_mid_way),
		cmocka_unit_test(test_cancel_from_task),
		cmocka_unit_test(test_many_tiny_tasks),
		cmocka_unit_test(test_worker_log_ids),
		cmocka_unit_test(test_nested_one_worker),
		cmocka_unit_test(test_nested_many_workers),
		cmocka_unit_test(test_nested_uses_idle_workers),
		cmocka_unit_test(test_nested_cancel),
	};
	alarm(300); /* a hang is a failure */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
