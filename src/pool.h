/*
 * pool.h - a fixed pool of worker threads with a starmap.
 *
 * vs_pool_starmap() runs fn once per element of an array of argument
 * tuples and returns every status in input order, as Python's
 * Pool.starmap does.  Each worker owns a context made once by ctx_new
 * (each worker keeps its own curl handle there) and passes it to fn.
 *
 * Optional groups bound concurrency per key (a provider's
 * max_concurrency) without stalling other groups: a worker only takes
 * a task of a group below its limit, so a saturated group never blocks a
 * free worker while other work waits.  Among eligible groups a worker
 * keeps to the group of its last task (its connection to that host is
 * warm); on its first task, or when that group has no eligible task
 * left, it takes the eligible group with the fewest tasks running (ties:
 * the group with the earliest task), so workers spread fairly across
 * groups.  Within a group tasks start in input order.
 *
 * A task may fan out in turn: vs_pool_nested() runs a function over n
 * items on the task's own worker and on idle ones, and returns when all
 * are done (a nested parallel call; see pool.c for why it cannot
 * deadlock).
 *
 * Cancellation is cooperative: after vs_pool_cancel() no new task starts;
 * tasks not started come back as VS_POOL_NOT_RUN; running tasks finish
 * (fn may poll vs_pool_cancelled()).
 *
 * Threading: vs_pool_starmap() is called by one thread at a time (the
 * owner).  vs_pool_cancel() and vs_pool_cancelled() are safe from any
 * thread, including a signal-watching thread (not from a signal handler)
 * and fn itself (a circuit breaker).  fn runs with no pool lock held and
 * must not call back into the pool except vs_pool_cancel(),
 * vs_pool_cancelled() and vs_pool_nested().  Each worker sets its log
 * worker id
 * (vs_log_set_worker) to its index.
 */
#ifndef VS_POOL_H
#define VS_POOL_H

#include <stddef.h>

#include "provider.h"

#define VS_POOL_NOT_RUN (-1000) /* status of a task cancelled before start */

struct vs_pool;

typedef void *(*vs_pool_ctx_new_fn)(int worker_index, void *udata);
typedef void (*vs_pool_ctx_free_fn)(void *ctx);
/* A task: returns a status stored in the caller's results array. */
typedef int (*vs_pool_fn)(void *ctx, void *arg);

/*
 * Start n_workers threads (>= 1).  ctx_new(i, udata) is called once per
 * worker, i in [0, n_workers), in the calling thread before the threads
 * start; worker i passes that context to every fn it runs.  ctx_new may
 * be NULL (ctx is NULL) or return NULL to fail the creation.  The pool
 * owns the contexts and hands each to ctx_free (may be NULL) in
 * vs_pool_free.  Returns NULL with err filled (class internal).
 */
struct vs_pool *vs_pool_new(int n_workers, vs_pool_ctx_new_fn ctx_new,
			    vs_pool_ctx_free_fn ctx_free, void *udata,
			    struct vs_error *err);
/* Stop and join the workers, free the contexts; NULL is fine. */
void vs_pool_free(struct vs_pool *pool);
int vs_pool_workers(const struct vs_pool *pool);

struct vs_pool_groups {
	/* Group index of an argument, < n_groups. */
	size_t (*group_of)(const void *arg, void *udata);
	void *udata;
	const unsigned int *limits; /* per group; 0 means no limit */
	size_t n_groups;
	/*
	 * Optional: a group's limit now (0: none), read instead of limits
	 * each time a task is picked or ends, so that a limit may change
	 * during the starmap (adaptive concurrency).  It runs with the pool
	 * lock held: it must be quick and must not block.  A group above a
	 * lowered limit keeps its running tasks and starts no new one until
	 * enough of them ended.
	 */
	unsigned int (*limit_of)(size_t group, void *udata);
};

/*
 * Run fn over args[0..n) (each argument is args + i * arg_size) and wait
 * for all; results[i] receives fn's return value or VS_POOL_NOT_RUN.
 * groups may be NULL; group_of runs in the calling thread, once per
 * argument, and must return an index below n_groups.  Returns the number
 * of tasks that ran.  If the pool is cancelled (before or during the
 * call), tasks not yet started are not run.  If the schedule cannot be
 * allocated nothing runs and an error is logged.
 */
size_t vs_pool_starmap(struct vs_pool *pool, vs_pool_fn fn, void *args,
		       size_t n, size_t arg_size, int *results,
		       const struct vs_pool_groups *groups);

/*
 * Stop dispatching: no task is picked after this returns.  Running tasks
 * finish; the current starmap then returns.  Sticky until reset.
 */
void vs_pool_cancel(struct vs_pool *pool);
/* 1 once vs_pool_cancel was called (lock-free). */
int vs_pool_cancelled(const struct vs_pool *pool);
/* Clear the cancellation flag before the next starmap. */
void vs_pool_reset_cancel(struct vs_pool *pool);

/* One item of a nested map: ctx is the context of the worker running it. */
typedef void (*vs_pool_each_fn)(void *ctx, size_t i, void *udata);

/*
 * From inside a task running on pool, with the ctx that task was given:
 * run fn(ctx', i, udata) once for every i in [0, n), where ctx' is the
 * context of whichever worker runs item i (the caller's ctx included),
 * at most width items at once (0: no limit beyond the workers).  Items
 * start in index order; idle workers take them before any task of the
 * current starmap.  Returns when every started item has finished: the
 * number that ran.  When the pool is cancelled, items not yet started
 * are skipped.  With one worker, or width 1, the caller runs them all in
 * order.  Safe from several tasks at once; fn may call it again.
 */
size_t vs_pool_nested(struct vs_pool *pool, void *ctx, size_t n,
		      unsigned int width, vs_pool_each_fn fn, void *udata);

/* Most tasks seen running at once since vs_pool_new (for tests, bench). */
int vs_pool_max_in_flight(const struct vs_pool *pool);

#endif
