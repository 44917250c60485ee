/*
 * pool.c - fixed worker threads and the starmap.
 *
 * DESIGN: one mutex guards the current job; workers sleep on `work`, the
 * owner sleeps on `done`.  A worker picks a task under the lock, drops
 * the lock, runs fn, then takes the lock again to store the result and
 * release the task's group slot.  fn never runs with the lock held.
 *
 * Scheduling: each group keeps its not-started tasks as a FIFO of
 * indices (one `next` array shared by all groups) and a running count.
 * A worker keeps to the group of its last task while that group has a
 * not-started task and a free slot (connection affinity: its connection
 * to that host is warm); otherwise, or on its first task of a job, it
 * takes the eligible group with the fewest tasks running, ties going to
 * the group whose first task is earliest (a fair share across groups).
 * A pick costs O(groups) and reads the limit (limit_of) afresh each
 * time, so a lowered or raised limit takes effect at the next pick.
 * Nothing wakes workers when a limit rises: a sleeping worker is woken
 * (one per finished task of the group) when a task ends, which is as
 * fast as the adaptive limit (aimd.c) grows anyway.  A full group is
 * simply skipped, so it can never make a free worker wait while another
 * group has work.  Without groups there is one
 * unlimited group and the pick is a plain FIFO.
 *
 * Nested maps (vs_pool_nested) come from inside a task: the task's
 * worker publishes a struct nest on the pool's list and runs its items
 * itself, while idle workers take items from it before any task of the
 * job (the waiting task holds its group slot until they are done).  Items
 * are handed out in index order, at most `width` running at once, the
 * caller's own included; the caller sleeps on the nest's condition only
 * when every remaining item is running elsewhere, so nesting cannot
 * deadlock: whoever waits has nothing left to start, and the items it
 * waits for are running.  With one worker the caller runs them all.
 *
 * Cancellation sets an atomic flag, then wakes everyone under the lock;
 * workers check the flag under the lock before each pick, so no task is
 * picked after vs_pool_cancel() returns.  Results are pre-filled with
 * VS_POOL_NOT_RUN, so whatever never ran already says so.
 */
#include "pool.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define NONE ((size_t)-1)

struct group {
	size_t head, tail; /* FIFO of not-started task indices */
	unsigned int running;
	unsigned int limit; /* 0: none */
};

struct job {
	vs_pool_fn fn;
	char *args;
	size_t arg_size;
	int *results;
	size_t *next; /* per task: the next task of the same group */
	struct group *groups;
	size_t n_groups;
	size_t seq;  /* tells this job from the worker's last one */
	size_t left; /* not started */
	unsigned int (*limit_of)(size_t group, void *udata);
	void *udata;
	size_t started;
	size_t active; /* started and not finished */
};

/* A nested map on the pool's list; lives on its caller's stack. */
struct nest {
	vs_pool_each_fn fn;
	void *udata;
	size_t n, next; /* next: the first item not handed out */
	size_t running, ran;
	unsigned int width;  /* 0: no limit */
	pthread_cond_t cond; /* the caller: an item of it finished */
	struct nest *prev, *link;
};

struct worker {
	struct vs_pool *pool;
	int index;
	pthread_t thread;
	void *ctx;
	size_t last_seq, last_group; /* the group of its last task, and job */
};

struct vs_pool {
	pthread_mutex_t lock;
	pthread_cond_t work; /* workers: a task may be pickable, or shutdown */
	pthread_cond_t done; /* owner: the job may be over */
	struct job *job;     /* under lock; NULL between starmaps */
	struct nest *nests;  /* under lock; nested maps running */
	int shutdown;	     /* under lock */
	int in_flight;	     /* under lock */
	size_t job_seq;	     /* under lock; starmaps so far */
	atomic_int max_in_flight;
	atomic_int cancelled;
	int n_workers;
	struct worker *workers;
	vs_pool_ctx_free_fn ctx_free;
};

/* ------------------------------------------------------------------ */
/* Choosing a group.  All of it runs under the pool lock.               */

static int group_eligible(const struct job *j, size_t g)
{
	const struct group *gr = &j->groups[g];
	unsigned int limit = j->limit_of ? j->limit_of(g, j->udata) : gr->limit;

	return gr->head != NONE && (!limit || gr->running < limit);
}

/*
 * The group worker w takes its next task from, or NONE: the group of its
 * last task while that one is eligible (its connection there is warm),
 * else the eligible group with the fewest tasks running, ties going to
 * the earliest first task.  O(groups).
 */
static size_t group_choose(const struct job *j, size_t last)
{
	size_t g, best = NONE;

	if (last != NONE && group_eligible(j, last))
		return last;
	for (g = 0; g < j->n_groups; g++) {
		const struct group *gr = &j->groups[g];

		if (!group_eligible(j, g))
			continue;
		if (best == NONE || gr->running < j->groups[best].running ||
		    (gr->running == j->groups[best].running &&
		     gr->head < j->groups[best].head))
			best = g;
	}
	return best;
}

/* ------------------------------------------------------------------ */
/* Workers.                                                               */

static int nest_startable_nolock(struct vs_pool *pool, const struct nest *nt)
{
	return nt->next < nt->n && (!nt->width || nt->running < nt->width) &&
	       !atomic_load(&pool->cancelled);
}

/* A nested map with an item to start, or NULL. */
static struct nest *nest_find_nolock(struct vs_pool *pool)
{
	struct nest *nt;

	for (nt = pool->nests; nt; nt = nt->link)
		if (nest_startable_nolock(pool, nt))
			return nt;
	return NULL;
}

/* Run item nt->next, dropping the lock around fn. */
static void nest_run_one_nolock(struct vs_pool *pool, struct nest *nt,
				void *ctx)
{
	size_t i = nt->next++;

	nt->running++;
	pthread_mutex_unlock(&pool->lock);
	nt->fn(ctx, i, nt->udata);
	pthread_mutex_lock(&pool->lock);
	nt->running--;
	nt->ran++;
	pthread_cond_signal(&nt->cond);
}

/*
 * Take worker w's next task (see group_choose), or return NONE when
 * there is none (no job, cancelled, every group empty or full).  The
 * lock is held.
 */
static size_t pick_nolock(struct vs_pool *pool, struct worker *w, size_t *group)
{
	struct job *j = pool->job;
	size_t g, i;
	struct group *gr;

	if (!j || atomic_load(&pool->cancelled))
		return NONE;
	g = group_choose(j, w->last_seq == j->seq ? w->last_group : NONE);
	if (g == NONE)
		return NONE;
	gr = &j->groups[g];
	i = gr->head;
	gr->head = j->next[i];
	if (gr->head == NONE)
		gr->tail = NONE;
	gr->running++;
	j->left--;
	j->started++;
	j->active++;
	w->last_seq = j->seq;
	w->last_group = g;
	pool->in_flight++;
	if (pool->in_flight > atomic_load(&pool->max_in_flight))
		atomic_store(&pool->max_in_flight, pool->in_flight);
	*group = g;
	return i;
}

static void finish_nolock(struct vs_pool *pool, size_t i, size_t g, int rc)
{
	struct job *j = pool->job;
	struct group *gr = &j->groups[g];

	j->results[i] = rc;
	gr->running--;
	j->active--;
	pool->in_flight--;
	/* A slot came free: a waiting worker may take it. */
	if (group_eligible(j, g))
		pthread_cond_signal(&pool->work);
	if (j->active == 0 && (j->left == 0 || atomic_load(&pool->cancelled)))
		pthread_cond_signal(&pool->done);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct vs_pool *pool = w->pool;

	vs_log_set_worker(w->index);
	pthread_mutex_lock(&pool->lock);
	for (;;) {
		struct job *j;
		struct nest *nt = NULL;
		size_t i = NONE, g = 0;
		int rc;

		while (!pool->shutdown && !(nt = nest_find_nolock(pool)) &&
		       (i = pick_nolock(pool, w, &g)) == NONE)
			pthread_cond_wait(&pool->work, &pool->lock);
		if (pool->shutdown)
			break;
		/* Nested items first: a task is waiting for them. */
		if (nt) {
			nest_run_one_nolock(pool, nt, w->ctx);
			continue;
		}
		j = pool->job;
		pthread_mutex_unlock(&pool->lock);

		rc = j->fn(w->ctx, j->args + i * j->arg_size);

		pthread_mutex_lock(&pool->lock);
		finish_nolock(pool, i, g, rc);
	}
	pthread_mutex_unlock(&pool->lock);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Life cycle.                                                            */

/* Stop and join the first n workers. */
static void stop_workers(struct vs_pool *pool, int n)
{
	int i;

	pthread_mutex_lock(&pool->lock);
	pool->shutdown = 1;
	pthread_cond_broadcast(&pool->work);
	pthread_mutex_unlock(&pool->lock);
	for (i = 0; i < n; i++)
		pthread_join(pool->workers[i].thread, NULL);
}

static void destroy(struct vs_pool *pool)
{
	int i;

	for (i = 0; i < pool->n_workers; i++)
		if (pool->workers[i].ctx && pool->ctx_free)
			pool->ctx_free(pool->workers[i].ctx);
	pthread_cond_destroy(&pool->done);
	pthread_cond_destroy(&pool->work);
	pthread_mutex_destroy(&pool->lock);
	free(pool->workers);
	free(pool);
}

struct vs_pool *vs_pool_new(int n_workers, vs_pool_ctx_new_fn ctx_new,
			    vs_pool_ctx_free_fn ctx_free, void *udata,
			    struct vs_error *err)
{
	struct vs_pool *pool = NULL;
	int i, started = 0;

	if (n_workers < 1) {
		vs_error_set(err, VS_EC_INTERNAL, 0, 0,
			     "a pool needs at least one worker, not %d",
			     n_workers);
		return NULL;
	}
	pool = calloc(1, sizeof(*pool));
	if (!pool)
		goto nomem;
	pool->workers = calloc((size_t)n_workers, sizeof(*pool->workers));
	if (!pool->workers) {
		free(pool);
		goto nomem;
	}
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->work, NULL);
	pthread_cond_init(&pool->done, NULL);
	pool->n_workers = n_workers;
	pool->ctx_free = ctx_free;

	/* Contexts first, so a failing ctx_new leaves no thread to stop. */
	for (i = 0; ctx_new && i < n_workers; i++) {
		pool->workers[i].ctx = ctx_new(i, udata);
		if (!pool->workers[i].ctx) {
			vs_error_set(err, VS_EC_INTERNAL, 0, 0,
				     "cannot create the context of worker %d",
				     i);
			goto fail;
		}
	}
	for (i = 0; i < n_workers; i++) {
		pool->workers[i].pool = pool;
		pool->workers[i].index = i;
		if (pthread_create(&pool->workers[i].thread, NULL, worker_main,
				   &pool->workers[i])) {
			vs_error_set(err, VS_EC_INTERNAL, 0, 0,
				     "cannot start worker thread %d of %d", i,
				     n_workers);
			goto fail;
		}
		started++;
	}
	return pool;

fail:
	stop_workers(pool, started);
	destroy(pool);
	return NULL;
nomem:
	vs_error_set(err, VS_EC_INTERNAL, 0, 0, "out of memory");
	return NULL;
}

void vs_pool_free(struct vs_pool *pool)
{
	if (!pool)
		return;
	stop_workers(pool, pool->n_workers);
	destroy(pool);
}

int vs_pool_workers(const struct vs_pool *pool)
{
	return pool->n_workers;
}

/* ------------------------------------------------------------------ */
/* The starmap.                                                           */

/* Fill the per-group FIFOs; 0 or VS_ERR (out of memory). */
static int job_init(struct job *j, size_t n,
		    const struct vs_pool_groups *groups)
{
	size_t i, g;

	/* No groups, or an empty table: one unlimited group. */
	if (groups && (!groups->n_groups || !groups->group_of))
		groups = NULL;
	j->n_groups = groups ? groups->n_groups : 1;
	if (groups) {
		j->limit_of = groups->limit_of;
		j->udata = groups->udata;
	}
	j->next = malloc(n * sizeof(*j->next));
	j->groups = calloc(j->n_groups, sizeof(*j->groups));
	if (!j->next || !j->groups)
		return VS_ERR;
	for (g = 0; g < j->n_groups; g++) {
		j->groups[g].head = j->groups[g].tail = NONE;
		j->groups[g].limit =
			groups && groups->limits ? groups->limits[g] : 0;
	}
	for (i = 0; i < n; i++) {
		struct group *gr;

		g = 0;
		if (groups)
			g = groups->group_of(j->args + i * j->arg_size,
					     groups->udata);
		/* A group outside the table is a bug in the caller. */
		assert(g < j->n_groups);
		gr = &j->groups[g];
		j->next[i] = NONE;
		if (gr->tail == NONE)
			gr->head = i;
		else
			j->next[gr->tail] = i;
		gr->tail = i;
	}
	j->left = n;
	return 0;
}

size_t vs_pool_starmap(struct vs_pool *pool, vs_pool_fn fn, void *args,
		       size_t n, size_t arg_size, int *results,
		       const struct vs_pool_groups *groups)
{
	struct job j;
	size_t i, ran = 0;

	for (i = 0; i < n; i++)
		results[i] = VS_POOL_NOT_RUN;
	if (n == 0 || atomic_load(&pool->cancelled))
		return 0;

	memset(&j, 0, sizeof(j));
	j.fn = fn;
	j.args = args;
	j.arg_size = arg_size;
	j.results = results;
	if (job_init(&j, n, groups)) {
		/* Nothing ran; every result already says VS_POOL_NOT_RUN. */
		vs_log(VS_LOG_ERROR, "pool",
		       "out of memory scheduling %zu tasks", n);
		goto out;
	}

	pthread_mutex_lock(&pool->lock);
	j.seq = ++pool->job_seq;
	pool->job = &j;
	pthread_cond_broadcast(&pool->work);
	while (!(j.active == 0 &&
		 (j.left == 0 || atomic_load(&pool->cancelled))))
		pthread_cond_wait(&pool->done, &pool->lock);
	pool->job = NULL;
	ran = j.started;
	pthread_mutex_unlock(&pool->lock);
out:
	free(j.next);
	free(j.groups);
	return ran;
}

void vs_pool_cancel(struct vs_pool *pool)
{
	atomic_store(&pool->cancelled, 1);
	/*
	 * Taking the lock orders the flag before any later pick, and wakes
	 * an owner whose job now ends with tasks not started.
	 */
	pthread_mutex_lock(&pool->lock);
	pthread_cond_broadcast(&pool->done);
	pthread_cond_broadcast(&pool->work);
	pthread_mutex_unlock(&pool->lock);
}

int vs_pool_cancelled(const struct vs_pool *pool)
{
	return atomic_load(&((struct vs_pool *)pool)->cancelled);
}

void vs_pool_reset_cancel(struct vs_pool *pool)
{
	atomic_store(&pool->cancelled, 0);
}

int vs_pool_max_in_flight(const struct vs_pool *pool)
{
	return atomic_load(&((struct vs_pool *)pool)->max_in_flight);
}

/* ------------------------------------------------------------------ */
/* Nested maps.                                                           */

size_t vs_pool_nested(struct vs_pool *pool, void *ctx, size_t n,
		      unsigned int width, vs_pool_each_fn fn, void *udata)
{
	struct nest nt;
	size_t ran;

	if (n == 0 || atomic_load(&pool->cancelled))
		return 0;
	memset(&nt, 0, sizeof(nt));
	nt.fn = fn;
	nt.udata = udata;
	nt.n = n;
	nt.width = width;
	pthread_cond_init(&nt.cond, NULL);

	pthread_mutex_lock(&pool->lock);
	nt.link = pool->nests;
	if (pool->nests)
		pool->nests->prev = &nt;
	pool->nests = &nt;
	/* Only helpers are needed: the caller runs one item at a time. */
	if (width != 1 && n > 1)
		pthread_cond_broadcast(&pool->work);
	for (;;) {
		if (nest_startable_nolock(pool, &nt))
			nest_run_one_nolock(pool, &nt, ctx);
		else if (nt.running)
			pthread_cond_wait(&nt.cond, &pool->lock);
		else
			break;
	}
	if (nt.prev)
		nt.prev->link = nt.link;
	else
		pool->nests = nt.link;
	if (nt.link)
		nt.link->prev = nt.prev;
	ran = nt.ran;
	pthread_mutex_unlock(&pool->lock);
	pthread_cond_destroy(&nt.cond);
	return ran;
}
