/*
 * sweep.c - one run: inventory, plan, gates, fan-out, confirmation,
 * retry rounds, report.
 *
 * DESIGN: all provider calls run on one worker pool; each worker owns a
 * struct vs_http made from the sweep's one vs_http_shared (connection,
 * DNS and TLS session cache).  The owner thread only sequences stages.
 *
 *   inventory   one task per provider: open, then list into inv[i].
 *   fan-out     one task per planned VM; pool groups are the providers
 *               and their limits each provider's max_concurrency, so a
 *               saturated provider never holds back a free worker.  A
 *               task writes only its own report entry vms[i] and vst[i];
 *               failures go onto the shared failure queue (thread-safe).
 *   confirm     one task per provider that has REQUESTED VMs: it polls
 *               ops->confirm() for all of them every confirm_interval
 *               until each is gone, failed or past its delete_timeout.
 *               It writes only that provider's entries.
 *   retry       the owner drains the failure queue and runs the same
 *               fan-out and confirm stages again on what is retryable.
 *   fan_out     a provider's per-item calls (the host service, e.g. a
 *               vSphere listing's tag lookups) run as a nested map
 *               (vs_pool_nested) from inside its task: the task's worker
 *               and idle workers run them, each on its own struct
 *               vs_http, at most the provider's max_concurrency at once,
 *               so no handle or connection is made for them.
 *   breaker     one circuit per provider (breaker.h, its own lock):
 *               tasks count each delete that ended and skip, as
 *               not_attempted, the VMs of a provider whose circuit
 *               opened, in this round and every later one.
 *   window      one adaptive concurrency limiter per provider (aimd.h,
 *               its own lock), unless adaptive_concurrency is off: a
 *               task sets its provider's limiter on the worker's
 *               struct vs_http, which takes a slot per request; the
 *               fan-out's group limit follows the window (twice it), so
 *               a worker picks another provider's VM rather than wait
 *               for a slot.  A task
 *               ending in class throttled (vSphere's RESOURCE_BUSY)
 *               counts as pushback too.
 *
 * Between stages the owner reads what the workers wrote; the pool's
 * starmap returns only after every task finished, under the pool lock,
 * which orders those writes before the owner's reads.
 *
 * Cancellation (vs_sweep_cancel, from any thread): an atomic flag, the
 * host's process-wide flag (wakes provider and retry sleeps), the pool's
 * flag (nothing new starts) and the HTTP share's (backoffs end).  Tasks
 * that never ran end not_attempted; polled VMs end requested.
 */
#include "sweep.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "aimd.h"
#include "breaker.h"
#include "buf.h"
#include "error.h"
#include "http.h"
#include "log.h"
#include "plugin.h"
#include "pool.h"
#include "queue.h"
#include "select.h"
#include "state.h"
#include "timeutil.h"

#ifndef VS_VERSION
#define VS_VERSION "0.0.0"
#endif

#define TAG "vmsweep"

struct sw_prov {
	const struct vs_sweep_target *t;
	void *state; /* the open instance, or NULL */
	int ok;	     /* opened (and listed, unless open_only) */
	struct vs_error error;
};

/* Per planned VM, beside its report entry. */
struct sw_vm {
	int pending;	     /* REQUESTED, waiting for confirm() */
	int64_t deadline_ms; /* monotonic; when pending ends as requested */
	long timeout_ms;     /* the delete_timeout that applies */
};

struct sw_ctx {
	struct vs_sweep *s;
	struct vs_http *http;
	/* The provider this worker's task works for: fan_out's limit. */
	size_t prov;
};

/* A provider's fan_out (the host service), nested on the pool. */
struct sw_fan {
	size_t prov;
	void (*call)(struct vs_http *http, size_t i, void *arg);
	void *arg;
};

struct sw_task {
	size_t index; /* a report VM (fan-out) or a provider (others) */
};

/* The confirm stage's task: one provider and its pending VMs (a slice
 * of an array the owner built; slices do not overlap). */
struct sw_ctask {
	size_t prov;
	size_t *idx;
	size_t n;
};

struct sw_failure {
	size_t vm;
};

struct vs_sweep {
	const struct vs_config *cfg;
	struct vs_sweep_opts opts;
	struct sw_prov *prov;
	struct vs_inventory *inv; /* parallel to prov, for vs_select */
	unsigned int *limits;	  /* per provider, the pool group limits */
	struct vs_aimd **aimd;	  /* per provider; NULL: not adaptive */
	size_t n_prov;

	struct vs_http_shared *http_sh;
	struct vs_http *http; /* the owner thread's, for close() */
	struct vs_pool *pool;
	struct vs_queue *failures;
	struct vs_breaker *breaker; /* per provider, over every round */

	struct vs_report report;
	struct sw_vm *vst; /* parallel to report.vms once planned */
	int inventoried, inventory_code, planned, ran;
	atomic_int cancelled;
};

/* ------------------------------------------------------------------ */
/* Small helpers.                                                       */

static int sweep_cancelled(struct vs_sweep *s)
{
	return atomic_load(&s->cancelled) || vs_plugin_cancelled();
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/*
 * The worker's task now works for provider prov: fan_out calls go to
 * that provider, and the worker's HTTP client has its requests gated by
 * prov's window.  sw_unbind() when the task ends, so that no later task
 * runs under another provider's window.  Returns the worker's client.
 */
static struct vs_http *sw_bind(struct sw_ctx *c, size_t prov)
{
	c->prov = prov;
	vs_http_set_limiter(c->http, c->s->aimd[prov]);
	return c->http;
}

static void sw_unbind(struct sw_ctx *c)
{
	c->prov = (size_t)-1;
	vs_http_set_limiter(c->http, NULL);
}

static void nested_call(void *ctx, size_t i, void *udata)
{
	struct sw_ctx *c = ctx;
	const struct sw_fan *f = udata;
	size_t was = c->prov;

	/* The caller itself runs items too: give its binding back. */
	sw_bind(c, f->prov);
	f->call(c->http, i, f->arg);
	if (was < c->s->n_prov)
		sw_bind(c, was);
	else
		sw_unbind(c);
}

/*
 * The runner behind the host's fan_out on a worker's handle (http.h):
 * the calls of the provider whose task runs on this worker go onto the
 * pool, never wider than its max_concurrency, so that it keeps to the
 * connections its deletes use too.
 */
static size_t
sw_fan_out(void *udata, struct vs_http *h, size_t n, unsigned int width,
	   void (*call)(struct vs_http *http, size_t i, void *arg), void *arg)
{
	struct sw_ctx *c = udata;
	struct vs_sweep *s = c->s;
	struct sw_fan f = {c->prov, call, arg};
	unsigned int limit = 0;

	assert(h == c->http);
	(void)h;
	if (c->prov < s->n_prov)
		limit = s->limits[c->prov];
	if (!width || (limit && width > limit))
		width = limit;
	return vs_pool_nested(s->pool, c, n, width, nested_call, &f);
}

static void *ctx_new(int worker_index, void *udata)
{
	struct vs_sweep *s = udata;
	struct sw_ctx *c;
	struct vs_error err;

	(void)worker_index;
	vs_error_clear(&err);
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->s = s;
	c->http = vs_http_new(s->http_sh, &err);
	if (!c->http) {
		vs_log(VS_LOG_ERROR, TAG, "cannot create an HTTP handle: %s",
		       err.message);
		free(c);
		return NULL;
	}
	c->prov = (size_t)-1;
	vs_http_set_fan_out(c->http, sw_fan_out, c);
	return c;
}

static void ctx_free(void *ctx)
{
	struct sw_ctx *c = ctx;

	if (!c)
		return;
	vs_http_free(c->http);
	free(c);
}

static size_t group_of_vm(const void *arg, void *udata)
{
	const struct sw_task *t = arg;
	const struct vs_sweep *s = udata;

	return s->report.vms[t->index].provider_index;
}

/*
 * A provider's group limit: max_concurrency, or twice its window when
 * that is less.  The window bounds the requests on the wire (the HTTP
 * client takes a slot per try); a task waiting out a backoff or a
 * Retry-After holds none, so as many tasks again may be under way.
 * Following the window exactly would let those waits idle the provider
 * (the soak ran half again as long); not following it at all would let
 * a throttled provider hold max_concurrency workers waiting for slots
 * while other providers have work.
 */
static unsigned int limit_of_provider(size_t i, void *udata)
{
	const struct vs_sweep *s = udata;
	unsigned int w;

	if (!s->aimd[i])
		return s->limits[i];
	w = vs_aimd_limit(s->aimd[i]);
	return w < s->limits[i] / 2 ? 2 * w : s->limits[i];
}

static void failure_free(void *item)
{
	free(item);
}

/* ------------------------------------------------------------------ */
/* Lifecycle.                                                           */

static int target_selected(const struct vs_sweep_opts *o, const char *name)
{
	size_t i;

	if (!o->n_only)
		return 1;
	for (i = 0; i < o->n_only; i++)
		if (strcmp(o->only[i], name) == 0)
			return 1;
	return 0;
}

static int check_only(const struct vs_sweep_target *targets, size_t n,
		      const struct vs_sweep_opts *o, struct vs_error *err)
{
	struct vs_buf names;
	size_t i, j;
	int rc = VS_OK;

	vs_buf_init(&names, 4096);
	for (i = 0; i < o->n_only && rc == VS_OK; i++) {
		for (j = 0; j < n; j++)
			if (strcmp(targets[j].cp->name, o->only[i]) == 0)
				break;
		if (j < n)
			continue;
		for (j = 0; j < n; j++)
			vs_buf_addf(&names, "%s%s", j ? ", " : "",
				    targets[j].cp->name);
		rc = vs_error_set(err, VS_EC_CONFIG, 0, 0,
				  "unknown provider '%s' (--provider); the "
				  "configuration has: %s",
				  o->only[i], n ? names.s : "none");
	}
	vs_buf_release(&names);
	return rc;
}

/* One circuit per provider of the sweep (breaker.h). */
static int make_breaker(struct vs_sweep *s)
{
	struct vs_breaker_config bc;
	const char **names;
	size_t i;

	bc.consecutive = s->cfg->breaker_consecutive;
	bc.percent = s->cfg->breaker_percent;
	bc.min_attempts = s->cfg->breaker_min_attempts;
	names = calloc(s->n_prov ? s->n_prov : 1, sizeof(*names));
	if (!names)
		return VS_ERR;
	for (i = 0; i < s->n_prov; i++)
		names[i] = s->prov[i].t->cp->name;
	s->breaker = vs_breaker_new(&bc, names, s->n_prov);
	free((void *)names);
	return s->breaker ? VS_OK : VS_ERR;
}

struct vs_sweep *vs_sweep_new(const struct vs_config *cfg,
			      const struct vs_sweep_target *targets, size_t n,
			      const struct vs_sweep_opts *opts,
			      struct vs_error *err)
{
	struct vs_sweep *s = NULL;
	struct vs_http_policy policy;
	size_t i, k;
	int workers;

	if (check_only(targets, n, opts, err) != VS_OK)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		goto nomem;
	s->cfg = cfg;
	s->opts = *opts;
	atomic_init(&s->cancelled, 0);
	vs_report_init(&s->report);
	s->prov = calloc(n ? n : 1, sizeof(*s->prov));
	s->inv = calloc(n ? n : 1, sizeof(*s->inv));
	s->limits = calloc(n ? n : 1, sizeof(*s->limits));
	s->aimd = calloc(n ? n : 1, sizeof(*s->aimd));
	if (!s->prov || !s->inv || !s->limits || !s->aimd)
		goto nomem;
	for (i = 0, k = 0; i < n; i++) {
		if (!target_selected(opts, targets[i].cp->name))
			continue;
		s->prov[k].t = &targets[i];
		s->inv[k].provider = targets[i].cp;
		s->inv[k].type = targets[i].cp->type;
		s->limits[k] = targets[i].pc->max_concurrency;
		k++;
	}
	s->n_prov = k;
	if (make_breaker(s) != VS_OK)
		goto nomem;

	vs_http_policy_defaults(&policy);
	if (cfg->request_timeout_ms > 0)
		policy.timeout_ms = (long)cfg->request_timeout_ms;
	s->http_sh = vs_http_shared_new(&policy, err);
	if (!s->http_sh)
		goto fail;
	s->http = vs_http_new(s->http_sh, err);
	if (!s->http)
		goto fail;
	s->failures = vs_queue_new(failure_free);
	if (!s->failures)
		goto nomem;
	workers = opts->workers > 0 ? opts->workers : cfg->workers;
	if (workers < 1)
		workers = 1;
	/* No more requests than workers can be in flight: the ceiling. */
	for (i = 0; i < s->n_prov; i++) {
		unsigned int max = s->limits[i];

		if (!s->prov[i].t->cp->adaptive_concurrency)
			continue;
		if (max > (unsigned int)workers)
			max = (unsigned int)workers;
		s->aimd[i] = vs_aimd_new(s->prov[i].t->cp->name, max);
		if (!s->aimd[i])
			goto nomem;
	}
	s->pool = vs_pool_new(workers, ctx_new, ctx_free, s, err);
	if (!s->pool)
		goto fail;
	return s;
nomem:
	vs_error_set(err, VS_EC_INTERNAL, 0, 0, "out of memory");
fail:
	vs_sweep_free(s);
	return NULL;
}

static int task_close(void *ctx, void *arg)
{
	struct sw_ctx *c = ctx;
	size_t i = ((const struct sw_task *)arg)->index;
	struct sw_prov *p = &c->s->prov[i];

	p->t->ops->close(p->state, sw_bind(c, i));
	sw_unbind(c);
	p->state = NULL;
	return VS_OK;
}

/*
 * Close the open instances on the workers, whose connections to each
 * endpoint are open already: a logout from the owner's handle would be
 * one more connection (and TLS handshake) per provider.  The pool is
 * idle between starmaps, so no task runs while an instance closes.
 * What a cancelled pool does not run, vs_sweep_free() closes itself.
 */
static void close_on_workers(struct vs_sweep *s)
{
	struct sw_task *tasks;
	int *results;
	size_t i, n = 0;

	if (!s->pool || vs_pool_cancelled(s->pool))
		return;
	tasks = calloc(s->n_prov ? s->n_prov : 1, sizeof(*tasks));
	results = calloc(s->n_prov ? s->n_prov : 1, sizeof(*results));
	if (tasks && results) {
		for (i = 0; i < s->n_prov; i++)
			if (s->prov[i].state)
				tasks[n++].index = i;
		if (n)
			vs_pool_starmap(s->pool, task_close, tasks, n,
					sizeof(*tasks), results, NULL);
	}
	free(tasks);
	free(results);
}

void vs_sweep_free(struct vs_sweep *s)
{
	size_t i;

	if (!s)
		return;
	close_on_workers(s);
	/* Workers first: nothing may run while instances are closed. */
	vs_pool_free(s->pool);
	for (i = 0; i < s->n_prov; i++)
		if (s->prov[i].state)
			s->prov[i].t->ops->close(s->prov[i].state, s->http);
	vs_report_release(&s->report);
	for (i = 0; s->inv && i < s->n_prov; i++)
		vs_vm_list_release(&s->inv[i].vms);
	vs_queue_free(s->failures);
	vs_breaker_free(s->breaker);
	vs_http_free(s->http);
	vs_http_shared_free(s->http_sh);
	for (i = 0; s->aimd && i < s->n_prov; i++)
		vs_aimd_free(s->aimd[i]);
	free(s->aimd);
	free(s->vst);
	free(s->limits);
	free(s->inv);
	free(s->prov);
	free(s);
}

void vs_sweep_cancel(struct vs_sweep *s)
{
	size_t i;

	vs_plugin_cancel();
	if (!s)
		return;
	atomic_store(&s->cancelled, 1);
	if (s->pool)
		vs_pool_cancel(s->pool);
	if (s->http_sh)
		vs_http_shared_cancel(s->http_sh);
	/* Requests waiting for a slot give up too. */
	for (i = 0; s->aimd && i < s->n_prov; i++)
		vs_aimd_cancel(s->aimd[i]);
}

void vs_sweep_abort(struct vs_sweep *s)
{
	vs_sweep_cancel(s);
	if (s && s->http_sh)
		vs_http_shared_abort(s->http_sh);
}

size_t vs_sweep_provider_listed(const struct vs_sweep *s, size_t i)
{
	return s->inv ? s->inv[i].vms.n : 0;
}

size_t vs_sweep_n_providers(const struct vs_sweep *s)
{
	return s->n_prov;
}

const char *vs_sweep_provider_name(const struct vs_sweep *s, size_t i)
{
	return s->prov[i].t->cp->name;
}

const struct vs_error *vs_sweep_provider_error(const struct vs_sweep *s,
					       size_t i)
{
	return s->prov[i].ok ? NULL : &s->prov[i].error;
}

const struct vs_report *vs_sweep_report(const struct vs_sweep *s)
{
	return &s->report;
}

/* ------------------------------------------------------------------ */
/* Inventory.                                                           */

static int inventory_one(struct sw_ctx *c, void *arg)
{
	struct vs_sweep *s = c->s;
	size_t i = ((const struct sw_task *)arg)->index;
	struct sw_prov *p = &s->prov[i];
	const struct vs_provider_ops *ops = p->t->ops;
	const char *name = p->t->cp->name;
	struct vs_error err;
	void *state = NULL;

	vs_error_clear(&err);
	sw_bind(c, i);
	if (sweep_cancelled(s)) {
		vs_error_set(&p->error, VS_EC_CANCELLED, 0, 0,
			     "%s: not opened: run interrupted", name);
		return VS_ERR;
	}
	if (ops->open(&state, p->t->pc, vs_plugin_host(), c->http, &err) !=
	    VS_OK) {
		if (err.cls == VS_EC_NONE)
			vs_error_set(&err, VS_EC_INTERNAL, 0, 0,
				     "%s: open failed without a reason", name);
		/*
		 * open_only callers (vmsweep check) report it themselves.
		 * The message names the instance (provider.h): not the tag.
		 */
		vs_log(s->opts.open_only ? VS_LOG_DEBUG : VS_LOG_ERROR, TAG,
		       "cannot open provider: %s: %s",
		       vs_err_class_name(err.cls), err.message);
		p->error = err;
		return VS_ERR;
	}
	p->state = state;
	if (s->opts.open_only) {
		p->ok = 1;
		return VS_OK;
	}
	if (ops->list(state, c->http, &s->inv[i].vms, &err) != VS_OK) {
		if (err.cls == VS_EC_NONE)
			vs_error_set(&err, VS_EC_INTERNAL, 0, 0,
				     "%s: list failed without a reason", name);
		vs_log(VS_LOG_ERROR, TAG, "cannot list VMs: %s: %s",
		       vs_err_class_name(err.cls), err.message);
		/* A partial inventory would make the percent gate lie. */
		vs_vm_list_release(&s->inv[i].vms);
		p->error = err;
		return VS_ERR;
	}
	vs_log(VS_LOG_INFO, name, "listed %zu VMs", s->inv[i].vms.n);
	p->ok = 1;
	return VS_OK;
}

static int task_inventory(void *ctx, void *arg)
{
	int rc = inventory_one(ctx, arg);

	sw_unbind(ctx);
	return rc;
}

/*
 * Whether a provider failed on its configuration (a key the plugin
 * refused at open, a clouds.yaml --strict refuses): the run's fault is
 * then the file, exit 2, not the platform, exit 3.
 */
static int any_config_error(const struct vs_sweep *s)
{
	size_t i;

	for (i = 0; i < s->n_prov; i++)
		if (!s->prov[i].ok && s->prov[i].error.cls == VS_EC_CONFIG)
			return 1;
	return 0;
}

int vs_sweep_inventory(struct vs_sweep *s, struct vs_error *err)
{
	struct sw_task *tasks = NULL;
	int *results = NULL;
	size_t i, n_ok = 0;

	if (s->inventoried)
		goto done;
	tasks = calloc(s->n_prov ? s->n_prov : 1, sizeof(*tasks));
	results = calloc(s->n_prov ? s->n_prov : 1, sizeof(*results));
	if (!tasks || !results) {
		free(tasks);
		free(results);
		vs_error_set(err, VS_EC_INTERNAL, 0, 0, "out of memory");
		return VS_EXIT_FAILED;
	}
	for (i = 0; i < s->n_prov; i++)
		tasks[i].index = i;
	vs_pool_starmap(s->pool, task_inventory, tasks, s->n_prov,
			sizeof(*tasks), results, NULL);
	for (i = 0; i < s->n_prov; i++) {
		struct sw_prov *p = &s->prov[i];

		if (results[i] == VS_POOL_NOT_RUN)
			vs_error_set(&p->error, VS_EC_CANCELLED, 0, 0,
				     "%s: not opened: run interrupted",
				     p->t->cp->name);
		s->inv[i].ok = p->ok;
		s->inv[i].error = p->error;
	}
	free(tasks);
	free(results);
	s->inventoried = 1;
	for (i = 0; i < s->n_prov; i++)
		n_ok += s->prov[i].ok;
	if (s->n_prov && n_ok == 0)
		s->inventory_code =
			any_config_error(s) ? VS_EXIT_USAGE : VS_EXIT_PROVIDER;
	else if (n_ok < s->n_prov)
		s->inventory_code = VS_EXIT_FAILED;
	else
		s->inventory_code = VS_EXIT_OK;
done:
	if (s->inventory_code == VS_EXIT_PROVIDER ||
	    s->inventory_code == VS_EXIT_USAGE) {
		/* The message already names the instance (provider.h). */
		if (s->n_prov == 1)
			vs_error_set(err, s->prov[0].error.cls, 0, 0, "%s",
				     s->prov[0].error.message);
		else
			vs_error_set(err,
				     s->inventory_code == VS_EXIT_USAGE
					     ? VS_EC_CONFIG
					     : VS_EC_TRANSPORT,
				     0, 0,
				     "none of the %zu providers could be %s",
				     s->n_prov,
				     s->opts.open_only ? "opened" : "listed");
	}
	return s->inventory_code;
}

/* ------------------------------------------------------------------ */
/* Plan and gates.                                                      */

static struct vs_report_provider *report_provider(struct vs_report *r,
						  const char *name)
{
	size_t i;

	for (i = 0; i < r->n_providers; i++)
		if (strcmp(r->providers[i].name, name) == 0)
			return &r->providers[i];
	return NULL;
}

int vs_sweep_plan(struct vs_sweep *s, struct vs_error *err)
{
	struct vs_report_provider *rp;
	int64_t now = vs_time_now();
	size_t i;

	if (s->planned)
		return VS_OK;
	if (!s->inventoried)
		vs_sweep_inventory(s, NULL);
	/* First-seen ages (state.h), before any rule reads an age. */
	for (i = 0; i < s->n_prov; i++)
		if (s->prov[i].ok)
			vs_state_observe(s->opts.state, s->prov[i].t->cp->name,
					 (enum vs_age_policy)s->prov[i]
						 .t->cp->age_source,
					 s->prov[i].t->ops->caps,
					 &s->inv[i].vms, now);
	if (s->opts.select
		    ? s->opts.select(&s->report, s->cfg, s->inv, s->n_prov, now,
				     s->opts.select_udata, err)
		    : vs_select(&s->report, s->cfg, s->inv, s->n_prov, now,
				err))
		return VS_ERR;
	/* Whatever select recorded, the report says which provider could
	 * not be listed and why. */
	for (i = 0; i < s->n_prov; i++) {
		const struct vs_config_provider *cp = s->prov[i].t->cp;

		rp = report_provider(&s->report, cp->name);
		if (!rp)
			rp = vs_report_add_provider(&s->report, cp->name,
						    cp->type);
		if (!rp)
			return vs_error_set(err, VS_EC_INTERNAL, 0, 0,
					    "out of memory");
		if (s->prov[i].ok) {
			rp->listed = (long)s->inv[i].vms.n;
		} else {
			rp->listed = -1;
			rp->error = s->prov[i].error;
		}
	}
	s->vst = calloc(s->report.n_vms ? s->report.n_vms : 1, sizeof(*s->vst));
	if (!s->vst)
		return vs_error_set(err, VS_EC_INTERNAL, 0, 0, "out of memory");
	for (i = 0; i < s->report.n_vms; i++)
		assert(s->report.vms[i].outcome != VS_OUT_NONE ||
		       s->report.vms[i].provider_index < s->n_prov);
	s->report.is_plan = 1;
	s->report.created_ms = vs_time_now_ms();
	free(s->report.version);
	s->report.version = strdup(VS_VERSION);
	free(s->report.config_path);
	s->report.config_path = dup_or_null(s->cfg->path);
	vs_report_tally(&s->report);
	s->planned = 1;
	return VS_OK;
}

#define GATE_HINT "review with 'vmsweep plan' or pass --force-limits"

struct gate_walk {
	int n;
	int log;
	char *msg;
	size_t sz;
};

static void gate_hit(struct gate_walk *g, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void gate_hit(struct gate_walk *g, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (g->log)
		vs_log(VS_LOG_WARN, TAG, "%s", line);
	if (g->n == 0 && g->msg && g->sz)
		snprintf(g->msg, g->sz, "%s", line);
	g->n++;
}

int vs_sweep_check_gates(const struct vs_report *plan,
			 const struct vs_config *cfg, int log, char *msg,
			 size_t sz)
{
	struct gate_walk g = {0, log, msg, sz};
	size_t i, j;
	long total = 0;

	/* Entries that already have an outcome (retry) delete nothing. */
	for (j = 0; j < plan->n_vms; j++)
		total += plan->vms[j].outcome == VS_OUT_NONE;

	if (cfg->max_deletes >= 0 && total > cfg->max_deletes)
		gate_hit(&g,
			 "safety gate: %ld VMs selected, max_deletes is %ld "
			 "(over by %ld); " GATE_HINT,
			 total, cfg->max_deletes, total - cfg->max_deletes);
	for (i = 0; i < plan->n_providers; i++) {
		const struct vs_report_provider *p = &plan->providers[i];
		long sel = 0, allowed;

		for (j = 0; j < plan->n_vms; j++)
			if (plan->vms[j].outcome == VS_OUT_NONE &&
			    strcmp(plan->vms[j].provider, p->name) == 0)
				sel++;
		if (cfg->max_deletes_per_provider >= 0 &&
		    sel > cfg->max_deletes_per_provider)
			gate_hit(&g,
				 "safety gate: %ld VMs selected on %s, "
				 "max_deletes_per_provider is %ld (over by "
				 "%ld); " GATE_HINT,
				 sel, p->name, cfg->max_deletes_per_provider,
				 sel - cfg->max_deletes_per_provider);
		if (cfg->max_delete_percent < 100 && p->listed > 0) {
			allowed = p->listed * cfg->max_delete_percent / 100;
			if (sel > allowed)
				gate_hit(&g,
					 "safety gate: %ld of %ld VMs (%ld%%) "
					 "selected on %s, max_delete_percent "
					 "is %d (over by %ld VMs); " GATE_HINT,
					 sel, p->listed, sel * 100 / p->listed,
					 p->name, cfg->max_delete_percent,
					 sel - allowed);
		}
	}
	return g.n;
}

/* ------------------------------------------------------------------ */
/* Fan-out.                                                             */

static void finish(struct vs_report_vm *v, enum vs_outcome o)
{
	v->outcome = o;
	v->finished_ms = vs_time_now_ms();
}

static void not_attempted(struct vs_report_vm *v, const char *why)
{
	/* A VM that failed in an earlier round keeps that outcome: it was
	 * attempted, and its error says why it is not gone. */
	if (v->attempts > 0 && v->outcome == VS_OUT_FAILED)
		return;
	vs_error_clear(&v->error);
	/* Retryable: nothing was wrong with the VM itself. */
	vs_error_set(&v->error, VS_EC_CANCELLED, 0, 1, "%s", why);
	v->outcome = VS_OUT_NOT_ATTEMPTED;
}

/*
 * Count a delete (or probe) of VM i that ended, failed or not, in its
 * provider's circuit breaker; the call that opens it logs so, once.
 */
static void breaker_count(struct vs_sweep *s, size_t i, int failed)
{
	char why[VS_BREAKER_REASON_MAX];

	if (vs_breaker_record(s->breaker, s->report.vms[i].provider_index,
			      failed, why, sizeof(why)))
		vs_log(VS_LOG_WARN, TAG,
		       "%s; the deletes left there are not attempted", why);
}

static void record_failure(struct vs_sweep *s, size_t i,
			   const struct vs_error *err, const char *what)
{
	struct vs_report_vm *v = &s->report.vms[i];
	struct sw_failure *f;

	v->error = *err;
	v->rounds_failed++;
	finish(v, VS_OUT_FAILED);
	breaker_count(s, i, 1);
	vs_progress_add(s->opts.progress, 0, 1);
	/* The message names the provider (provider.h): not again here. */
	vs_log(VS_LOG_WARN, TAG, "%s failed: %s: %s: %s%s", what, v->name,
	       vs_err_class_name(err->cls), err->message,
	       err->retryable ? " (retryable)" : "");
	f = malloc(sizeof(*f));
	if (f) {
		f->vm = i;
		if (vs_queue_push(s->failures, f) == VS_OK)
			return;
	}
	free(f);
	/* Without the queue entry the VM is simply not retried. */
	vs_log(VS_LOG_ERROR, v->provider, "cannot queue %s for retry", v->name);
}

static long vm_delete_timeout(const struct vs_sweep *s,
			      const struct vs_report_vm *v)
{
	const struct vs_provider_config *pc = s->prov[v->provider_index].t->pc;

	if (pc->delete_timeout_ms > 0)
		return pc->delete_timeout_ms;
	return (long)s->cfg->delete_timeout_ms;
}

static int task_delete(void *ctx, void *arg)
{
	struct sw_ctx *c = ctx;
	struct vs_sweep *s = c->s;
	size_t i = ((const struct sw_task *)arg)->index;
	struct vs_report_vm *v = &s->report.vms[i];
	struct sw_prov *p = &s->prov[v->provider_index];
	const struct vs_provider_ops *ops = p->t->ops;
	const char *what = s->opts.dry_run ? "Probe" : "Delete";
	enum vs_remove_status st = 0;
	struct vs_error err;
	char why[VS_BREAKER_REASON_MAX], msg[VS_BREAKER_REASON_MAX + 32];
	int rc;

	if (sweep_cancelled(s)) {
		not_attempted(v, "not attempted: run interrupted");
		return VS_OK;
	}
	/* An open breaker stops this provider's deletes, retries too. */
	if (!vs_breaker_allow(s->breaker, v->provider_index, why,
			      sizeof(why))) {
		snprintf(msg, sizeof(msg), "not attempted: %s", why);
		not_attempted(v, msg);
		return VS_OK;
	}
	/* A retry takes the VM back from the failed count. */
	if (v->outcome == VS_OUT_FAILED)
		vs_progress_add(s->opts.progress, 0, -1);
	vs_error_clear(&err);
	vs_error_clear(&v->error);
	if (!v->started_ms)
		v->started_ms = vs_time_now_ms();
	v->attempts++;
	if (s->opts.dry_run) {
		rc = ops->probe(p->state, c->http, v->vm, &st, &err);
	} else {
		/* Journal (state.h): the mark is on disk before the delete. */
		vs_state_vm_started(s->opts.state, i, v);
		rc = ops->remove(p->state, c->http, v->vm, &st, &err);
	}
	if (rc != VS_OK) {
		if (err.cls == VS_EC_NONE)
			vs_error_set(&err, VS_EC_INTERNAL, 0, 0,
				     "%s: provider failed without a reason",
				     v->provider);
		if (err.cls == VS_EC_PROTECTED) {
			v->error = err;
			finish(v, VS_OUT_PROTECTED);
			vs_progress_add(s->opts.progress, 0, 1);
			vs_log(VS_LOG_WARN, TAG, "Protected: %s: %s", v->name,
			       err.message);
			return VS_OK;
		}
		record_failure(s, i, &err, what);
		return VS_ERR;
	}
	switch (st) {
	case VS_REMOVE_DELETED:
		if (s->opts.dry_run)
			break;
		finish(v, VS_OUT_DELETED);
		breaker_count(s, i, 0);
		vs_progress_add(s->opts.progress, 1, 0);
		vs_log(VS_LOG_INFO, v->provider, "Deleted: %s on %s", v->name,
		       v->provider);
		return VS_OK;
	case VS_REMOVE_ABSENT:
		finish(v, VS_OUT_ALREADY_ABSENT);
		breaker_count(s, i, 0);
		vs_progress_add(s->opts.progress, 1, 0);
		vs_log(VS_LOG_INFO, v->provider, "Already absent: %s on %s",
		       v->name, v->provider);
		return VS_OK;
	case VS_REMOVE_REQUESTED:
		if (s->opts.dry_run)
			break;
		vs_log(VS_LOG_INFO, v->provider, "Delete requested: %s on %s",
		       v->name, v->provider);
		if (!ops->confirm) {
			vs_error_set(&v->error, VS_EC_TIMEOUT, 0, 0,
				     "deletion accepted, the provider cannot "
				     "confirm it");
			finish(v, VS_OUT_REQUESTED);
			vs_progress_add(s->opts.progress, 0, 1);
			return VS_OK;
		}
		s->vst[i].timeout_ms = vm_delete_timeout(s, v);
		s->vst[i].deadline_ms =
			vs_time_mono_ms() + s->vst[i].timeout_ms;
		s->vst[i].pending = 1;
		v->outcome = VS_OUT_REQUESTED;
		return VS_OK;
	case VS_REMOVE_PROTECTED:
		if (err.cls == VS_EC_NONE)
			vs_error_set(&err, VS_EC_PROTECTED, 0, 0,
				     "%s: the platform protects it",
				     v->provider);
		err.cls = VS_EC_PROTECTED;
		err.retryable = 0;
		v->error = err;
		finish(v, VS_OUT_PROTECTED);
		vs_progress_add(s->opts.progress, 0, 1);
		vs_log(VS_LOG_WARN, TAG, "Protected: %s: %s", v->name,
		       err.message);
		return VS_OK;
	case VS_REMOVE_PRESENT:
		if (!s->opts.dry_run)
			break;
		finish(v, VS_OUT_PRETEND);
		breaker_count(s, i, 0);
		vs_progress_add(s->opts.progress, 1, 0);
		vs_log(VS_LOG_INFO, v->provider, "Pretend delete: %s on %s",
		       v->name, v->provider);
		return VS_OK;
	}
	vs_error_clear(&err);
	vs_error_set(&err, VS_EC_INTERNAL, 0, 0,
		     "%s: provider returned status %d from %s", v->provider,
		     (int)st, s->opts.dry_run ? "probe" : "remove");
	record_failure(s, i, &err, what);
	return VS_ERR;
}

/* ------------------------------------------------------------------ */
/* Confirmation.                                                        */

static void confirm_timeout(struct vs_sweep *s, size_t i)
{
	struct vs_report_vm *v = &s->report.vms[i];
	char d[32];

	vs_duration_format(d, sizeof(d), s->vst[i].timeout_ms);
	vs_error_clear(&v->error);
	vs_error_set(&v->error, VS_EC_TIMEOUT, 0, 1,
		     "deletion not confirmed within %s", d);
	s->vst[i].pending = 0;
	finish(v, VS_OUT_REQUESTED);
	vs_progress_add(s->opts.progress, 0, 1);
	vs_log(VS_LOG_WARN, v->provider, "Not confirmed: %s on %s: %s", v->name,
	       v->provider, v->error.message);
}

static void confirm_stopped(struct vs_sweep *s, size_t i)
{
	struct vs_report_vm *v = &s->report.vms[i];

	vs_error_clear(&v->error);
	vs_error_set(&v->error, VS_EC_CANCELLED, 0, 1,
		     "deletion not confirmed: run interrupted");
	s->vst[i].pending = 0;
	finish(v, VS_OUT_REQUESTED);
}

/* Apply one confirm() answer for VM i; returns 1 when it is settled. */
static int confirm_apply(struct vs_sweep *s, size_t i,
			 enum vs_confirm_state state,
			 const struct vs_error *verr, int64_t now)
{
	struct vs_report_vm *v = &s->report.vms[i];
	struct vs_error e;

	switch (state) {
	case VS_CONFIRM_GONE:
		s->vst[i].pending = 0;
		vs_error_clear(&v->error);
		finish(v, VS_OUT_DELETED);
		breaker_count(s, i, 0);
		vs_progress_add(s->opts.progress, 1, 0);
		vs_log(VS_LOG_INFO, v->provider, "Deleted: %s on %s", v->name,
		       v->provider);
		return 1;
	case VS_CONFIRM_FAILED:
		s->vst[i].pending = 0;
		e = *verr;
		if (e.cls == VS_EC_NONE)
			vs_error_set(&e, VS_EC_SERVER, 0, 0,
				     "%s: deletion ended in error",
				     v->provider);
		record_failure(s, i, &e, "Delete");
		return 1;
	case VS_CONFIRM_PENDING:
		break;
	}
	if (now >= s->vst[i].deadline_ms) {
		confirm_timeout(s, i);
		return 1;
	}
	return 0;
}

/* Confirmation passes failing in a row before VMs past their deadline
 * end unconfirmed without another look. */
#define CONFIRM_FAILED_PASSES 3

static int task_confirm(void *ctx, void *arg)
{
	struct sw_ctx *c = ctx;
	struct vs_sweep *s = c->s;
	const struct sw_ctask *t = arg;
	struct sw_prov *p = &s->prov[t->prov];
	size_t *idx = t->idx, n = t->n, k, m;
	const struct vs_vm **vms = NULL;
	enum vs_confirm_state *states = NULL;
	struct vs_error *errs = NULL, err;
	struct vs_http *http = sw_bind(c, t->prov);
	int64_t started, when;
	unsigned long gen;
	int looks = 0, failed = 0, rc = VS_OK;

	vms = calloc(n, sizeof(*vms));
	states = calloc(n, sizeof(*states));
	errs = calloc(n, sizeof(*errs));
	if (!vms || !states || !errs) {
		/* Cannot look: they end as unconfirmed. */
		for (k = 0; k < n; k++)
			confirm_timeout(s, idx[k]);
		rc = VS_ERR;
		goto out;
	}
	while (n > 0) {
		/*
		 * The first look comes as soon as the fan-out is over: the
		 * deletes went out while it ran, and on a platform that
		 * deletes at once, or in a run long enough, most of them are
		 * gone by then.  Later looks wait confirm_interval.
		 */
		if ((looks++ &&
		     vs_plugin_sleep_ms((long)s->cfg->confirm_interval_ms)) ||
		    sweep_cancelled(s))
			break;
		for (k = 0; k < n; k++) {
			vms[k] = s->report.vms[idx[k]].vm;
			states[k] = VS_CONFIRM_PENDING;
			vs_error_clear(&errs[k]);
		}
		vs_error_clear(&err);
		started = vs_time_mono_ms();
		gen = vs_aimd_generation(s->aimd[t->prov]);
		if (p->t->ops->confirm(p->state, http, vms, n, states, errs,
				       &err) != VS_OK) {
			vs_log(VS_LOG_WARN, TAG,
			       "cannot confirm deletions: %s: %s",
			       vs_err_class_name(err.cls), err.message);
			if (err.cls == VS_EC_THROTTLED)
				vs_aimd_signal(s->aimd[t->prov], gen,
					       VS_AIMD_PUSHBACK);
			for (k = 0; k < n; k++)
				states[k] = VS_CONFIRM_PENDING;
			failed++;
		} else {
			failed = 0;
		}
		/*
		 * A VM times out only on a look that began after its
		 * deadline.  Its clock ran while the other VMs were deleted,
		 * and one pass over many VMs can outlast delete_timeout, so
		 * judging by the end of the pass would give up on VMs
		 * looked at only before their time was up.  A pass that
		 * failed as a whole looked at nothing; only after
		 * CONFIRM_FAILED_PASSES of them in a row do the VMs past
		 * their deadline time out regardless, so that a provider
		 * that cannot answer does not hold the run.
		 */
		when = failed == 0 || failed >= CONFIRM_FAILED_PASSES
			       ? started
			       : INT64_MIN;
		for (k = 0, m = 0; k < n; k++)
			if (!confirm_apply(s, idx[k], states[k], &errs[k],
					   when))
				idx[m++] = idx[k];
			else
				vs_state_vm_ended(s->opts.state, idx[k],
						  &s->report.vms[idx[k]]);
		n = m;
	}
	for (k = 0; k < n; k++)
		confirm_stopped(s, idx[k]);
out:
	sw_unbind(c);
	free(vms);
	free(states);
	free(errs);
	return rc;
}

/*
 * Poll every provider's requested VMs at once, one task per provider.
 * Returns VS_ERR only when out of memory (then nothing was polled).
 */
static int confirm_stage(struct vs_sweep *s)
{
	struct sw_ctask *tasks = NULL;
	size_t *count = NULL, *idx = NULL, i, np = 0, off = 0, total = 0;
	int *results = NULL, rc = VS_ERR;

	count = calloc(s->n_prov ? s->n_prov : 1, sizeof(*count));
	if (!count)
		goto out;
	for (i = 0; i < s->report.n_vms; i++)
		if (s->vst[i].pending) {
			count[s->report.vms[i].provider_index]++;
			total++;
		}
	if (!total) {
		rc = VS_OK;
		goto out;
	}
	idx = calloc(total, sizeof(*idx));
	tasks = calloc(s->n_prov, sizeof(*tasks));
	results = calloc(s->n_prov, sizeof(*results));
	if (!idx || !tasks || !results)
		goto out;
	for (i = 0; i < s->n_prov; i++) {
		if (!count[i])
			continue;
		tasks[np].prov = i;
		tasks[np].idx = idx + off;
		off += count[i];
		np++;
	}
	/* Fill each provider's slice in VM order. */
	for (i = 0; i < np; i++)
		count[tasks[i].prov] = i;
	for (i = 0; i < s->report.n_vms; i++)
		if (s->vst[i].pending) {
			struct sw_ctask *t =
				&tasks[count[s->report.vms[i].provider_index]];
			t->idx[t->n++] = i;
		}
	vs_pool_starmap(s->pool, task_confirm, tasks, np, sizeof(*tasks),
			results, NULL);
	rc = VS_OK;
out:
	free(count);
	free(idx);
	free(tasks);
	free(results);
	return rc;
}

/*
 * task_delete under the VM's provider's window, then the VM's outcome
 * into the journal once it has one.  A delete that failed as throttled
 * (a 429 the HTTP layer could not retry away, vSphere's RESOURCE_BUSY)
 * is pushback: the provider says so by the class, the core needs no
 * knowledge of its error bodies.
 */
static int task_delete_journaled(void *ctx, void *arg)
{
	struct vs_sweep *s = ((struct sw_ctx *)ctx)->s;
	size_t i = ((const struct sw_task *)arg)->index;
	size_t p = s->report.vms[i].provider_index;
	unsigned long gen = vs_aimd_generation(s->aimd[p]);
	int rc;

	sw_bind(ctx, p);
	rc = task_delete(ctx, arg);
	sw_unbind(ctx);
	if (rc != VS_OK && s->report.vms[i].error.cls == VS_EC_THROTTLED)
		vs_aimd_signal(s->aimd[p], gen, VS_AIMD_PUSHBACK);
	if (!s->vst[i].pending)
		vs_state_vm_ended(s->opts.state, i, &s->report.vms[i]);
	return rc;
}

/*
 * One round: delete (or probe) the VMs idx[0..n), then poll what was
 * only requested.  Returns VS_ERR only when out of memory.
 */
static int round_run(struct vs_sweep *s, const size_t *idx, size_t n)
{
	struct sw_task *tasks = NULL;
	int *results = NULL;
	struct vs_pool_groups groups;
	size_t i;
	int rc = VS_ERR;

	if (!n)
		return VS_OK;
	tasks = calloc(n, sizeof(*tasks));
	results = calloc(n, sizeof(*results));
	if (!tasks || !results)
		goto out;
	for (i = 0; i < n; i++)
		tasks[i].index = idx[i];
	memset(&groups, 0, sizeof(groups));
	groups.group_of = group_of_vm;
	groups.udata = s;
	groups.limits = s->limits;
	groups.limit_of = limit_of_provider;
	groups.n_groups = s->n_prov;
	vs_pool_starmap(s->pool, task_delete_journaled, tasks, n,
			sizeof(*tasks), results, &groups);
	for (i = 0; i < n; i++)
		if (results[i] == VS_POOL_NOT_RUN)
			not_attempted(&s->report.vms[idx[i]],
				      "not attempted: run interrupted");

	confirm_stage(s);
	/* Polling that never started (cancelled) leaves VMs pending. */
	for (i = 0; i < s->report.n_vms; i++)
		if (s->vst[i].pending)
			confirm_stopped(s, i);
	rc = VS_OK;
out:
	free(tasks);
	free(results);
	return rc;
}

/* Drain the failure queue into the VMs worth another round. */
static size_t retry_candidates(struct vs_sweep *s, size_t *idx)
{
	void **items = NULL;
	size_t n, i, k = 0;

	n = vs_queue_drain(s->failures, &items);
	for (i = 0; i < n; i++) {
		const struct sw_failure *f = items[i];
		const struct vs_report_vm *v = &s->report.vms[f->vm];

		if (v->outcome == VS_OUT_FAILED && v->error.retryable)
			idx[k++] = f->vm;
		free(items[i]);
	}
	free(items);
	return k;
}

/* Whether a VM's delete starts with a power-off: it was listed on. */
static int listed_running(const struct vs_report_vm *v)
{
	return v->vm && (v->vm->power == VS_POWER_ON ||
			 v->vm->power == VS_POWER_SUSPENDED);
}

/*
 * The first round's order into idx; returns the count, or (size_t)-1
 * when out of memory.  The plan's order, except that a real run moves
 * each provider's last VMs not listed running (up to two per worker) to
 * the end: a VM that runs needs a power-off before its delete, the
 * longest way down, and a fan-out that ends on such chains leaves most
 * workers idle while the last ones finish.  Everything else keeps its
 * place, so failures meet the circuit breaker as the plan has them.  A
 * dry run, all probes, keeps the plan order.
 */
static size_t first_round_order(struct vs_sweep *s, size_t *idx)
{
	size_t quota = 2 * (size_t)vs_pool_workers(s->pool), n = 0, i;
	size_t *left = NULL;
	unsigned char *late = NULL;

	left = calloc(s->n_prov ? s->n_prov : 1, sizeof(*left));
	late = calloc(s->report.n_vms ? s->report.n_vms : 1, 1);
	if (!left || !late) {
		free(left);
		free(late);
		return (size_t)-1;
	}
	for (i = 0; i < s->n_prov; i++)
		left[i] = s->opts.dry_run ? 0 : quota;
	for (i = s->report.n_vms; i-- > 0;) {
		const struct vs_report_vm *v = &s->report.vms[i];

		if (v->outcome != VS_OUT_NONE || listed_running(v) ||
		    v->provider_index >= s->n_prov || !left[v->provider_index])
			continue;
		left[v->provider_index]--;
		late[i] = 1;
	}
	for (i = 0; i < s->report.n_vms; i++)
		if (s->report.vms[i].outcome == VS_OUT_NONE && !late[i])
			idx[n++] = i;
	for (i = 0; i < s->report.n_vms; i++)
		if (late[i])
			idx[n++] = i;
	free(left);
	free(late);
	return n;
}

static int execute(struct vs_sweep *s)
{
	size_t *idx = NULL, n = 0;
	int round, rc = VS_ERR;

	idx = calloc(s->report.n_vms ? s->report.n_vms : 1, sizeof(*idx));
	if (!idx)
		return VS_ERR;
	n = first_round_order(s, idx);
	if (n == (size_t)-1) {
		free(idx);
		return VS_ERR;
	}
	if (round_run(s, idx, n) != VS_OK)
		goto out;
	for (round = 1; round <= s->cfg->retry_rounds; round++) {
		n = retry_candidates(s, idx);
		if (!n || sweep_cancelled(s))
			break;
		vs_log(VS_LOG_INFO, TAG, "retry round %d of %d: %zu VMs", round,
		       s->cfg->retry_rounds, n);
		if (vs_plugin_sleep_ms((long)s->cfg->retry_delay_ms) ||
		    sweep_cancelled(s))
			break;
		if (round_run(s, idx, n) != VS_OK)
			goto out;
	}
	rc = VS_OK;
out:
	/* What is still queued failed for good. */
	retry_candidates(s, idx);
	free(idx);
	return rc;
}

/* ------------------------------------------------------------------ */
/* The run.                                                             */

static void make_run_id(char *out, size_t sz)
{
	unsigned char b[8];
	size_t i;
	int fd;

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
		fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
		if (fd < 0 || read(fd, b, sizeof(b)) != (ssize_t)sizeof(b)) {
			/* Unique enough for a file name in this one case. */
			int64_t t = vs_time_now_ms() ^ (int64_t)getpid();
			memcpy(b, &t, sizeof(b));
		}
		if (fd >= 0)
			close(fd);
	}
	for (i = 0; i < sizeof(b) && 2 * i + 2 < sz; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* report.dir/vmsweep-20241125T174044Z-<id>.json */
static int default_report_path(struct vs_buf *b, const struct vs_sweep *s)
{
	char ts[32], compact[32];
	size_t i, k = 0;

	vs_time_format(ts, sizeof(ts), s->report.created_ms / 1000);
	for (i = 0; ts[i] && k + 1 < sizeof(compact); i++)
		if (ts[i] != '-' && ts[i] != ':')
			compact[k++] = ts[i];
	compact[k] = '\0';
	return vs_buf_addf(b, "%s/vmsweep-%s-%s.json",
			   s->cfg->report_dir ? s->cfg->report_dir : ".",
			   compact, s->report.run_id);
}

static int write_report(struct vs_sweep *s)
{
	struct vs_buf path;
	struct vs_error err;
	const char *where = s->opts.report_path;
	int rc = VS_OK;

	if (s->opts.no_report_file)
		return VS_OK;
	vs_buf_init(&path, 4096);
	vs_error_clear(&err);
	if (!where) {
		if (default_report_path(&path, s) != 0) {
			vs_log(VS_LOG_ERROR, TAG, "report path too long");
			rc = VS_ERR;
			goto out;
		}
		where = path.s;
	}
	if (vs_report_write_json(&s->report, where, &err) != VS_OK) {
		vs_log(VS_LOG_ERROR, TAG, "%s", err.message);
		rc = VS_ERR;
		goto out;
	}
	vs_log(VS_LOG_INFO, TAG, "report written to %s", where);
out:
	vs_buf_release(&path);
	return rc;
}

static void print_summary(const struct vs_sweep *s, const char *gate_msg)
{
	size_t i, late = 0;

	if (!s->opts.summary)
		return;
	vs_report_print_summary(&s->report, s->opts.summary);
	for (i = 0; i < s->report.n_vms; i++) {
		const struct vs_report_vm *v = &s->report.vms[i];

		if (v->rounds_failed > 0 &&
		    (v->outcome == VS_OUT_DELETED ||
		     v->outcome == VS_OUT_ALREADY_ABSENT ||
		     v->outcome == VS_OUT_PRETEND))
			late++;
	}
	if (late)
		fprintf(s->opts.summary,
			"warning: %zu VM%s succeeded only after failed "
			"attempts\n",
			late, late == 1 ? "" : "s");
	if (gate_msg && *gate_msg)
		fprintf(s->opts.summary, "%s\n", gate_msg);
	fflush(s->opts.summary);
}

/*
 * Each provider's adaptive concurrency into its report summary, and a
 * line in the log when the platform made us slow down.
 */
static void record_concurrency(struct vs_sweep *s)
{
	struct vs_aimd_stats st;
	size_t i, k;

	for (i = 0; i < s->report.n_providers; i++) {
		struct vs_report_provider *rp = &s->report.providers[i];

		for (k = 0; k < s->n_prov; k++)
			if (strcmp(s->prov[k].t->cp->name, rp->name) == 0)
				break;
		if (k == s->n_prov || !s->aimd[k])
			continue;
		vs_aimd_stats(s->aimd[k], &st);
		rp->concurrency.max = st.max;
		rp->concurrency.final = st.limit;
		rp->concurrency.min = st.min;
		rp->concurrency.decreases = st.decreases;
		if (st.decreases)
			vs_log(VS_LOG_INFO, rp->name,
			       "%s pushed back %lu time%s: requests in flight "
			       "cut %lu time%s, to %u at the lowest, %u of %u "
			       "at the end",
			       rp->name, st.pushbacks,
			       st.pushbacks == 1 ? "" : "s", st.decreases,
			       st.decreases == 1 ? "" : "s", st.min, st.limit,
			       st.max);
	}
}

/* Mark every planned VM with one outcome and close the model. */
static void finalize(struct vs_sweep *s)
{
	size_t i;

	for (i = 0; i < s->report.n_vms; i++) {
		/* Every planned VM ends with exactly one final outcome. */
		assert(!s->vst[i].pending);
		assert(s->report.vms[i].outcome != VS_OUT_NONE);
	}
	s->report.finished_ms = vs_time_now_ms();
	record_concurrency(s);
	/* The journal (state.h), durable before the report is written; a
	 * run stopped by a gate or the providers is journaled here whole. */
	vs_state_run_begin(s->opts.state, &s->report, (long)getpid());
	vs_state_flag_failing(s->opts.state, &s->report,
			      s->cfg->state_flag_after);
	vs_state_run_end(s->opts.state, &s->report);
	vs_report_tally(&s->report);
}

static int start_report(struct vs_sweep *s)
{
	char id[17] = "";

	make_run_id(id, sizeof(id));
	free(s->report.run_id);
	s->report.run_id = strdup(id);
	s->report.is_plan = 0;
	s->report.dry_run = s->opts.dry_run;
	s->report.created_ms = vs_time_now_ms();
	return s->report.run_id ? VS_OK : VS_ERR;
}

static size_t count_selected_providers(const struct vs_sweep *s,
				       struct vs_buf *names)
{
	size_t i, j, n = 0;

	for (i = 0; i < s->n_prov; i++) {
		for (j = 0; j < s->report.n_vms; j++)
			if (s->report.vms[j].provider_index == i)
				break;
		if (j == s->report.n_vms)
			continue;
		if (names)
			vs_buf_addf(names, "%s%s", n ? ", " : "",
				    s->prov[i].t->cp->name);
		n++;
	}
	return n;
}

int vs_sweep_run(struct vs_sweep *s, struct vs_error *err)
{
	char gate_msg[512] = "";
	int inv_code, code, gates, rc_exec;
	int64_t started;
	size_t i, to_run;

	assert(!s->ran);
	s->ran = 1;
	started = vs_time_now_ms();
	inv_code = vs_sweep_inventory(s, err);
	if (vs_sweep_plan(s, err) != VS_OK)
		return err && err->cls == VS_EC_CONFIG ? VS_EXIT_USAGE
						       : VS_EXIT_FAILED;
	if (start_report(s) != VS_OK) {
		vs_error_set(err, VS_EC_INTERNAL, 0, 0, "out of memory");
		return VS_EXIT_FAILED;
	}
	s->report.created_ms = started;

	if (inv_code == VS_EXIT_PROVIDER || inv_code == VS_EXIT_USAGE) {
		finalize(s);
		write_report(s);
		print_summary(s, NULL);
		return inv_code;
	}

	gates = vs_sweep_check_gates(&s->report, s->cfg, 1, gate_msg,
				     sizeof(gate_msg));
	if (gates && s->opts.force_limits) {
		vs_log(VS_LOG_WARN, TAG,
		       "--force-limits: going on past %d safety gate%s", gates,
		       gates == 1 ? "" : "s");
		gates = 0;
		gate_msg[0] = '\0';
	}
	if (gates && !s->opts.dry_run) {
		for (i = 0; i < s->report.n_vms; i++)
			if (s->report.vms[i].outcome == VS_OUT_NONE)
				not_attempted(&s->report.vms[i], gate_msg);
		finalize(s);
		write_report(s);
		print_summary(s, gate_msg);
		vs_error_set(err, VS_EC_CONFIG, 0, 0, "%s", gate_msg);
		return VS_EXIT_GATE;
	}

	for (i = 0, to_run = 0; i < s->report.n_vms; i++)
		to_run += s->report.vms[i].outcome == VS_OUT_NONE;
	if (!s->opts.dry_run && !s->opts.yes && to_run > 0) {
		if (!s->opts.confirm) {
			vs_error_set(err, VS_EC_CONFIG, 0, 0,
				     "refusing to delete %zu VMs without "
				     "--yes; pass --yes to delete, or "
				     "--dry-run to see what would be deleted",
				     to_run);
			return VS_EXIT_USAGE;
		}
		if (!s->opts.confirm(&s->report, s->opts.confirm_udata)) {
			vs_error_set(err, VS_EC_CONFIG, 0, 0,
				     "deletion not confirmed; nothing was "
				     "deleted");
			return VS_EXIT_USAGE;
		}
	}

	/* The journal (state.h): the run and its plan, before any delete. */
	vs_state_run_begin(s->opts.state, &s->report, (long)getpid());
	if (to_run) {
		struct vs_buf names;

		vs_buf_init(&names, 4096);
		count_selected_providers(s, &names);
		vs_log(VS_LOG_INFO, TAG, "%s %zu VMs on %s",
		       s->opts.dry_run ? "dry run: probing" : "deleting",
		       to_run, names.s);
		vs_buf_release(&names);
	} else {
		vs_log(VS_LOG_INFO, TAG, "nothing selected");
	}
	if (s->report.n_vms)
		vs_progress_begin(s->opts.progress,
				  s->opts.dry_run ? "probed" : "deleted",
				  s->report.n_vms, NULL);
	rc_exec = execute(s);
	vs_progress_end(s->opts.progress);
	if (rc_exec != VS_OK) {
		/* Out of memory mid-run: what has no outcome was not tried. */
		for (i = 0; i < s->report.n_vms; i++) {
			if (s->vst[i].pending)
				confirm_stopped(s, i);
			if (s->report.vms[i].outcome == VS_OUT_NONE)
				not_attempted(&s->report.vms[i],
					      "not attempted: out of memory");
		}
	}
	finalize(s);
	write_report(s);
	print_summary(s, gate_msg);

	code = vs_report_exit_code(&s->report);
	if (inv_code == VS_EXIT_FAILED && code == VS_EXIT_OK)
		code = VS_EXIT_FAILED;
	if (gates)
		code = VS_EXIT_GATE;
	if (sweep_cancelled(s))
		code = VS_EXIT_INTERRUPTED;
	return code;
}
