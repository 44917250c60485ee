/*
 * test_sweep.c - the sweep through its public API with in-process fake
 * providers (no dlopen, no network).  Also built and run under TSan.
 *
 * Each fake VM carries a script in its name: "t-ok-N" is deleted,
 * "t-absent-N" is already gone, "t-prot-N" is protected by the platform,
 * "t-flakyK-N" fails (retryable) K times then is deleted, "t-busyK-N"
 * is throttled (pushback) K times then deleted, "t-fatal-N"
 * fails for good, "t-reqK-N" is only requested and confirmed gone after K
 * looks, "t-reqfail-N" is requested and ends in error, "t-never-N" is
 * requested and never confirmed.  "keep-N" matches no rule.  The fakes
 * count every call with atomics and track how many removes of one
 * provider run at once.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "error.h"
#include "http.h"
#include "log.h"
#include "plugin.h"
#include "report.h"
#include "sweep.h"

#define MAX_VMS	  128
#define MAX_PROVS 3
#define FAN_MAX	  400

enum script {
	S_OK,
	S_ABSENT,
	S_PROT,
	S_FLAKY,
	S_BUSY,
	S_FATAL,
	S_REQ,
	S_REQFAIL,
	S_NEVER,
	S_KEEP,
};

struct fvm {
	char name[32];
	enum script script;
	int k;
	int off; /* listed powered off (else on) */
	atomic_int removes, probes, looks;
};

struct fprov {
	const char *name;
	int fail_open, fail_list;
	int cancel_on_remove; /* cancel the sweep from inside remove() */
	/* The first confirm_slow confirm() calls take 300 ms (longer than
	 * delete_timeout) before looking; the first confirm_fail of them
	 * then fail as a whole without looking. */
	int confirm_slow, confirm_fail;
	struct fvm vms[MAX_VMS];
	size_t n;
	atomic_int opens, lists, closes, removes, probes, confirms;
	atomic_int in_flight, max_in_flight, confirm_in_flight;
	atomic_int bad; /* a contract violation seen by the fake */
	/*
	 * list() fans fan_n calls out through the host (width fan_width);
	 * calls fan_fail[] fail, call fan_cancel_at (when > 0) cancels the
	 * sweep, and the first fan_meet calls wait until they all run at
	 * once.  The fake records each call and the handles in use.
	 */
	const struct vs_host *host;
	size_t fan_n;
	unsigned int fan_width;
	long fan_fail[3];
	long fan_cancel_at;
	int fan_cancel_done; /* under fan_lock: the cancel has run */
	int fan_meet;
	atomic_int fan_calls[FAN_MAX];
	atomic_int fan_in_flight, fan_max_in_flight;
	size_t fan_order[FAN_MAX];    /* with one worker: the call order */
	size_t remove_order[MAX_VMS]; /* with one worker: remove()'s order */
	atomic_size_t remove_seq;
	atomic_size_t fan_seq;
	pthread_mutex_t fan_lock;
	pthread_cond_t fan_cond;
	int fan_met;
	struct vs_http *fan_busy[64]; /* handles of the calls running */
};

static struct fprov provs[MAX_PROVS];
static size_t n_provs;
static struct vs_sweep *current; /* for cancel_on_remove */

/* ------------------------------------------------------------------ */
/* The fake provider.                                                   */

static struct fprov *fake_find(const char *name)
{
	size_t i;

	for (i = 0; i < n_provs; i++)
		if (strcmp(provs[i].name, name) == 0)
			return &provs[i];
	return NULL;
}

static struct fvm *fake_vm(struct fprov *p, const struct vs_vm *vm)
{
	long i = strtol(vm->id, NULL, 10);

	if (i < 0 || (size_t)i >= p->n) {
		atomic_fetch_add(&p->bad, 1);
		return NULL;
	}
	return &p->vms[i];
}

static int fake_open(void **state, const struct vs_provider_config *cfg,
		     const struct vs_host *host, struct vs_http *http,
		     struct vs_error *err)
{
	struct fprov *p = fake_find(cfg->name);

	(void)http;
	if (!p)
		return vs_error_set(err, VS_EC_CONFIG, 0, 0, "no such fake");
	atomic_fetch_add(&p->opens, 1);
	if (p->fail_open)
		return vs_error_set(err, VS_EC_AUTH, 401, 0,
				    "credentials refused");
	p->host = host;
	*state = p;
	return VS_OK;
}

/* Mark http busy; a handle already busy means two calls share one. */
static void fan_busy(struct fprov *p, struct vs_http *http, int on)
{
	size_t k, slot = SIZE_MAX;

	pthread_mutex_lock(&p->fan_lock);
	for (k = 0; k < 64; k++) {
		if (on && p->fan_busy[k] == http)
			atomic_fetch_add(&p->bad, 1);
		if (on ? !p->fan_busy[k] && slot == SIZE_MAX
		       : p->fan_busy[k] == http)
			slot = k;
	}
	if (slot != SIZE_MAX)
		p->fan_busy[slot] = on ? http : NULL;
	pthread_mutex_unlock(&p->fan_lock);
}

static int fan_call(struct vs_http *http, size_t i, void *udata,
		    struct vs_error *err)
{
	struct fprov *p = udata;
	int now, m, rc = VS_OK;
	size_t k;

	if (!http || i >= p->fan_n)
		atomic_fetch_add(&p->bad, 1);
	fan_busy(p, http, 1);
	now = atomic_fetch_add(&p->fan_in_flight, 1) + 1;
	m = atomic_load(&p->fan_max_in_flight);
	while (now > m &&
	       !atomic_compare_exchange_weak(&p->fan_max_in_flight, &m, now))
		;
	atomic_fetch_add(&p->fan_calls[i], 1);
	p->fan_order[atomic_fetch_add(&p->fan_seq, 1) % FAN_MAX] = i;
	if ((int)i < p->fan_meet) {
		struct timespec dl;

		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += 30;
		pthread_mutex_lock(&p->fan_lock);
		p->fan_met++;
		pthread_cond_broadcast(&p->fan_cond);
		while (p->fan_met < p->fan_meet &&
		       pthread_cond_timedwait(&p->fan_cond, &p->fan_lock,
					      &dl) == 0)
			;
		if (p->fan_met < p->fan_meet)
			atomic_fetch_add(&p->bad, 1);
		pthread_mutex_unlock(&p->fan_lock);
	}
	if (p->fan_cancel_at > 0 && (long)i == p->fan_cancel_at) {
		vs_sweep_cancel(current);
		pthread_mutex_lock(&p->fan_lock);
		p->fan_cancel_done = 1;
		pthread_cond_broadcast(&p->fan_cond);
		pthread_mutex_unlock(&p->fan_lock);
	} else if (p->fan_cancel_at > 0 && (long)i > p->fan_cancel_at) {
		/*
		 * Calls started beside the cancelling one end only after
		 * the cancel: else they could end and let later calls start
		 * before it, and which ran would depend on the scheduler.
		 */
		struct timespec dl;

		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += 30;
		pthread_mutex_lock(&p->fan_lock);
		while (!p->fan_cancel_done &&
		       pthread_cond_timedwait(&p->fan_cond, &p->fan_lock,
					      &dl) == 0)
			;
		if (!p->fan_cancel_done)
			atomic_fetch_add(&p->bad, 1);
		pthread_mutex_unlock(&p->fan_lock);
	}
	for (k = 0; k < 3; k++)
		if (p->fan_fail[k] > 0 && (long)i == p->fan_fail[k])
			rc = vs_error_set(err, VS_EC_SERVER, 500, 1,
					  "%s: call %zu failed", p->name, i);
	atomic_fetch_sub(&p->fan_in_flight, 1);
	fan_busy(p, http, 0);
	return rc;
}

static int fake_list(void *state, struct vs_http *http, struct vs_vm_list *out,
		     struct vs_error *err)
{
	struct fprov *p = state;
	char id[32];
	size_t i;

	atomic_fetch_add(&p->lists, 1);
	if (p->fail_list)
		return vs_error_set(err, VS_EC_SERVER, 500, 1,
				    "listing failed");
	if (p->fan_n && p->host->fan_out(http, p->fan_n, p->fan_width, fan_call,
					 p, err) != VS_OK)
		return VS_ERR;
	for (i = 0; i < p->n; i++) {
		struct vs_vm *vm = vs_vm_list_push(out);

		assert_non_null(vm);
		snprintf(id, sizeof(id), "%zu", i);
		vm->id = strdup(id);
		vm->name = strdup(p->vms[i].name);
		assert_non_null(vm->id);
		assert_non_null(vm->name);
		vm->created = (int64_t)time(NULL) - 86400;
		vm->age_source = VS_AGE_CREATED;
		vm->power = p->vms[i].off ? VS_POWER_OFF : VS_POWER_ON;
	}
	return VS_OK;
}

static void *canceller(void *arg)
{
	(void)arg;
	vs_sweep_cancel(current);
	return NULL;
}

static int fake_remove(void *state, struct vs_http *http,
		       const struct vs_vm *vm, enum vs_remove_status *status,
		       struct vs_error *err)
{
	struct fprov *p = state;
	struct fvm *v = fake_vm(p, vm);
	struct timespec ts = {0, 2000000};
	int now, max, n, rc = VS_OK;

	(void)http;
	if (!v)
		return vs_error_set(err, VS_EC_INTERNAL, 0, 0, "bad id");
	atomic_fetch_add(&p->removes, 1);
	p->remove_order[atomic_fetch_add(&p->remove_seq, 1) % MAX_VMS] =
		(size_t)(v - p->vms);
	now = atomic_fetch_add(&p->in_flight, 1) + 1;
	max = atomic_load(&p->max_in_flight);
	while (now > max &&
	       !atomic_compare_exchange_weak(&p->max_in_flight, &max, now))
		;
	/* Long enough for removes to overlap; no test relies on it. */
	nanosleep(&ts, NULL);
	n = atomic_fetch_add(&v->removes, 1);
	switch (v->script) {
	case S_OK:
	case S_KEEP:
		*status = VS_REMOVE_DELETED;
		break;
	case S_ABSENT:
		*status = VS_REMOVE_ABSENT;
		break;
	case S_PROT:
		*status = VS_REMOVE_PROTECTED;
		vs_error_set(err, VS_EC_PROTECTED, 0, 0, "locked");
		break;
	case S_FLAKY:
		if (n < v->k)
			rc = vs_error_set(err, VS_EC_SERVER, 503, 1,
					  "service unavailable");
		else
			*status = VS_REMOVE_DELETED;
		break;
	case S_BUSY:
		if (n < v->k)
			rc = vs_error_set(err, VS_EC_THROTTLED, 500, 1,
					  "RESOURCE_BUSY");
		else
			*status = VS_REMOVE_DELETED;
		break;
	case S_FATAL:
		rc = vs_error_set(err, VS_EC_CLIENT, 400, 0, "bad request");
		break;
	case S_REQ:
	case S_REQFAIL:
	case S_NEVER:
		*status = VS_REMOVE_REQUESTED;
		break;
	}
	atomic_fetch_sub(&p->in_flight, 1);
	if (p->cancel_on_remove) {
		/* As a signal-watching thread would: never from a pool task
		 * itself. */
		pthread_t t;

		assert_int_equal(pthread_create(&t, NULL, canceller, NULL), 0);
		assert_int_equal(pthread_join(t, NULL), 0);
	}
	return rc;
}

static int fake_probe(void *state, struct vs_http *http, const struct vs_vm *vm,
		      enum vs_remove_status *status, struct vs_error *err)
{
	struct fprov *p = state;
	struct fvm *v = fake_vm(p, vm);

	(void)http;
	if (!v)
		return vs_error_set(err, VS_EC_INTERNAL, 0, 0, "bad id");
	atomic_fetch_add(&p->probes, 1);
	atomic_fetch_add(&v->probes, 1);
	if (v->script == S_ABSENT)
		*status = VS_REMOVE_ABSENT;
	else if (v->script == S_PROT)
		*status = VS_REMOVE_PROTECTED;
	else
		*status = VS_REMOVE_PRESENT;
	return VS_OK;
}

static int fake_confirm(void *state, struct vs_http *http,
			const struct vs_vm *const *vms, size_t n,
			enum vs_confirm_state *states, struct vs_error *errs,
			struct vs_error *err)
{
	struct fprov *p = state;
	size_t i;

	int call;

	(void)http;
	call = atomic_fetch_add(&p->confirms, 1);
	if (atomic_fetch_add(&p->confirm_in_flight, 1) != 0)
		atomic_fetch_add(&p->bad, 1);
	if (call < p->confirm_slow) {
		struct timespec ts = {0, 300 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	if (call < p->confirm_fail) {
		atomic_fetch_sub(&p->confirm_in_flight, 1);
		return vs_error_set(err, VS_EC_SERVER, 503, 1,
				    "%s: service unavailable", p->name);
	}
	for (i = 0; i < n; i++) {
		struct fvm *v = fake_vm(p, vms[i]);
		int looks;

		if (!v)
			continue;
		looks = atomic_fetch_add(&v->looks, 1) + 1;
		switch (v->script) {
		case S_REQ:
			states[i] = looks >= v->k ? VS_CONFIRM_GONE
						  : VS_CONFIRM_PENDING;
			break;
		case S_REQFAIL:
			states[i] = VS_CONFIRM_FAILED;
			vs_error_set(&errs[i], VS_EC_SERVER, 0, 0,
				     "deletion ended in ERROR");
			break;
		case S_NEVER:
			states[i] = VS_CONFIRM_PENDING;
			break;
		default:
			/* Only requested VMs may be asked about. */
			atomic_fetch_add(&p->bad, 1);
			break;
		}
	}
	atomic_fetch_sub(&p->confirm_in_flight, 1);
	return VS_OK;
}

static void fake_close(void *state, struct vs_http *http)
{
	struct fprov *p = state;

	(void)http;
	atomic_fetch_add(&p->closes, 1);
}

static const struct vs_provider_ops fake_ops = {
	.abi_version = VS_PROVIDER_ABI_VERSION,
	.type = "fake",
	.description = "scripted test provider",
	.caps = VS_CAP_CREATED | VS_CAP_CONFIRM,
	.keys = NULL,
	.open = fake_open,
	.list = fake_list,
	.remove = fake_remove,
	.probe = fake_probe,
	.confirm = fake_confirm,
	.close = fake_close,
};

/* ------------------------------------------------------------------ */
/* Fixtures.                                                            */

/* Add provider name with VMs described by specs ("ok", "flaky2", ...)
 * repeated count times each. */
static struct fprov *add_prov(const char *name, const char *const *specs,
			      size_t n_specs, size_t count)
{
	struct fprov *p = &provs[n_provs++];
	size_t i, j;

	assert_true(n_provs <= MAX_PROVS);
	memset(p, 0, sizeof(*p));
	p->name = name;
	pthread_mutex_init(&p->fan_lock, NULL);
	pthread_cond_init(&p->fan_cond, NULL);
	for (j = 0; j < count; j++) {
		for (i = 0; i < n_specs; i++) {
			struct fvm *v = &p->vms[p->n];
			const char *s = specs[i];
			char word[16];
			int k = 0;

			assert_true(p->n < MAX_VMS);
			assert_true(sscanf(s, "%15[a-z]%d", word, &k) >= 1);
			v->k = k;
			if (strcmp(word, "ok") == 0)
				v->script = S_OK;
			else if (strcmp(word, "absent") == 0)
				v->script = S_ABSENT;
			else if (strcmp(word, "prot") == 0)
				v->script = S_PROT;
			else if (strcmp(word, "flaky") == 0)
				v->script = S_FLAKY;
			else if (strcmp(word, "busy") == 0)
				v->script = S_BUSY;
			else if (strcmp(word, "fatal") == 0)
				v->script = S_FATAL;
			else if (strcmp(word, "req") == 0)
				v->script = S_REQ;
			else if (strcmp(word, "reqfail") == 0)
				v->script = S_REQFAIL;
			else if (strcmp(word, "never") == 0)
				v->script = S_NEVER;
			else if (strcmp(word, "keep") == 0)
				v->script = S_KEEP;
			else
				fail_msg("bad spec %s", s);
			if (v->script == S_KEEP)
				snprintf(v->name, sizeof(v->name), "keep-%zu",
					 p->n);
			else
				snprintf(v->name, sizeof(v->name), "t-%s-%zu",
					 s, p->n);
			p->n++;
		}
	}
	return p;
}

static char **str_list(const char *s)
{
	char **l = calloc(1, sizeof(*l));

	assert_non_null(l);
	l[0] = strdup(s);
	assert_non_null(l[0]);
	return l;
}

struct fixture {
	struct vs_config cfg;
	struct vs_sweep_target targets[MAX_PROVS];
	struct vs_provider_config pcs[MAX_PROVS];
	struct vs_sweep_opts opts;
	struct vs_sweep *s;
	struct vs_error err;
};

/* A configuration in code: one rule selecting t-* older than an hour,
 * tiny durations, no limits; limits[i] is provider i's concurrency. */
static void fx_init(struct fixture *fx, const unsigned int *limits)
{
	struct vs_config *cfg = &fx->cfg;
	size_t i;

	memset(fx, 0, sizeof(*fx));
	vs_config_init(cfg);
	cfg->providers = calloc(n_provs, sizeof(*cfg->providers));
	assert_non_null(cfg->providers);
	cfg->n_providers = n_provs;
	for (i = 0; i < n_provs; i++) {
		struct vs_config_provider *cp = &cfg->providers[i];

		cp->name = strdup(provs[i].name);
		cp->type = strdup("fake");
		assert_non_null(cp->name);
		assert_non_null(cp->type);
		cp->max_concurrency = limits ? limits[i] : 4;
	}
	cfg->rules = calloc(1, sizeof(*cfg->rules));
	assert_non_null(cfg->rules);
	cfg->n_rules = 1;
	cfg->rules[0].name = strdup("leftovers");
	cfg->rules[0].match = str_list("t-*");
	cfg->rules[0].n_match = 1;
	cfg->rules[0].case_sensitive = 1;
	cfg->rules[0].older_than_ms = 3600 * 1000;
	cfg->rules[0].newer_than_ms = -1;
	cfg->max_deletes = -1;
	cfg->max_deletes_per_provider = -1;
	cfg->max_delete_percent = 100;
	cfg->workers = 8;
	cfg->retry_rounds = 2;
	cfg->retry_delay_ms = 1;
	cfg->delete_timeout_ms = 200;
	cfg->confirm_interval_ms = 10;
	cfg->request_timeout_ms = 5000;
	fx->opts.yes = 1;
	fx->opts.no_report_file = 1;
	vs_error_clear(&fx->err);
}

/* Make the targets and the sweep; assert it was created. */
static void fx_sweep(struct fixture *fx)
{
	size_t i;

	for (i = 0; i < fx->cfg.n_providers; i++) {
		assert_int_equal(
			vs_plugin_make_config(&fx->pcs[i], &fake_ops, &fx->cfg,
					      &fx->cfg.providers[i], &fx->err),
			VS_OK);
		fx->targets[i].cp = &fx->cfg.providers[i];
		fx->targets[i].ops = &fake_ops;
		fx->targets[i].pc = &fx->pcs[i];
	}
	fx->s = vs_sweep_new(&fx->cfg, fx->targets, fx->cfg.n_providers,
			     &fx->opts, &fx->err);
	assert_non_null(fx->s);
	current = fx->s;
}

static int fx_run(struct fixture *fx)
{
	fx_sweep(fx);
	return vs_sweep_run(fx->s, &fx->err);
}

static void fx_release(struct fixture *fx)
{
	size_t i;

	vs_sweep_free(fx->s);
	current = NULL;
	for (i = 0; i < fx->cfg.n_providers; i++)
		vs_plugin_config_release(&fx->pcs[i]);
	vs_config_release(&fx->cfg);
	for (i = 0; i < n_provs; i++)
		assert_int_equal(atomic_load(&provs[i].bad), 0);
	n_provs = 0;
	vs_plugin_reset_cancel();
}

static const struct vs_report_vm *find_vm(const struct vs_report *r,
					  const char *name)
{
	size_t i;

	for (i = 0; i < r->n_vms; i++)
		if (strcmp(r->vms[i].name, name) == 0)
			return &r->vms[i];
	fail_msg("no VM %s in the report", name);
	return NULL;
}

/* Every planned VM has exactly one final outcome, and the per-provider
 * tallies add up to the plan. */
static void assert_one_outcome_each(const struct vs_report *r)
{
	long total = 0;
	size_t i;
	int o;

	assert_false(r->is_plan);
	for (i = 0; i < r->n_vms; i++) {
		assert_int_not_equal(r->vms[i].outcome, VS_OUT_NONE);
		assert_true(r->vms[i].outcome < VS_OUT_COUNT);
	}
	for (i = 0; i < r->n_providers; i++) {
		assert_int_equal(r->providers[i].outcomes[VS_OUT_NONE], 0);
		for (o = 0; o < VS_OUT_COUNT; o++)
			total += r->providers[i].outcomes[o];
	}
	assert_int_equal(total, (long)r->n_vms);
}

static long removes_total(void)
{
	long n = 0;
	size_t i;

	for (i = 0; i < n_provs; i++)
		n += atomic_load(&provs[i].removes);
	return n;
}

/* ------------------------------------------------------------------ */
/* Tests.                                                               */

static void test_every_outcome(void **st)
{
	static const char *const specs[] = {
		"ok",	"absent",  "prot",  "flaky1", "fatal",
		"req2", "reqfail", "never", "keep",
	};
	struct fixture fx;
	const struct vs_report *r;
	const struct vs_report_vm *v;
	char path[] = "/tmp/vs-test-sweep-XXXXXX";
	struct vs_report back;
	int fd;

	(void)st;
	add_prov("a", specs, 9, 1);
	fx_init(&fx, NULL);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	fx.opts.no_report_file = 0;
	fx.opts.report_path = path;
	assert_int_equal(fx_run(&fx), VS_EXIT_FAILED);
	r = vs_sweep_report(fx.s);
	assert_int_equal(r->n_vms, 8);
	/* keep-8 matches no rule: neither planned nor kept. */
	assert_int_equal(r->n_kept, 0);
	assert_one_outcome_each(r);

	v = find_vm(r, "t-ok-0");
	assert_int_equal(v->outcome, VS_OUT_DELETED);
	assert_int_equal(v->attempts, 1);
	assert_true(v->started_ms > 0 && v->finished_ms >= v->started_ms);
	assert_int_equal(find_vm(r, "t-absent-1")->outcome,
			 VS_OUT_ALREADY_ABSENT);
	v = find_vm(r, "t-prot-2");
	assert_int_equal(v->outcome, VS_OUT_PROTECTED);
	assert_int_equal(v->attempts, 1);
	assert_int_equal(v->error.cls, VS_EC_PROTECTED);
	v = find_vm(r, "t-flaky1-3");
	assert_int_equal(v->outcome, VS_OUT_DELETED);
	assert_int_equal(v->attempts, 2);
	assert_int_equal(v->rounds_failed, 1);
	v = find_vm(r, "t-fatal-4");
	assert_int_equal(v->outcome, VS_OUT_FAILED);
	assert_int_equal(v->attempts, 1);
	assert_int_equal(v->error.cls, VS_EC_CLIENT);
	assert_int_equal(v->error.http_status, 400);
	assert_false(v->error.retryable);
	v = find_vm(r, "t-req2-5");
	assert_int_equal(v->outcome, VS_OUT_DELETED);
	assert_int_equal(atomic_load(&provs[0].vms[5].looks), 2);
	v = find_vm(r, "t-reqfail-6");
	assert_int_equal(v->outcome, VS_OUT_FAILED);
	assert_int_equal(v->error.cls, VS_EC_SERVER);
	v = find_vm(r, "t-never-7");
	assert_int_equal(v->outcome, VS_OUT_REQUESTED);
	assert_int_equal(v->error.cls, VS_EC_TIMEOUT);
	assert_string_equal(v->error.message,
			    "deletion not confirmed within 200ms");
	/* Never-confirmed VMs are not deleted again. */
	assert_int_equal(atomic_load(&provs[0].vms[7].removes), 1);
	assert_int_equal(atomic_load(&provs[0].vms[8].removes), 0);
	assert_int_equal(atomic_load(&provs[0].probes), 0);
	assert_int_equal(atomic_load(&provs[0].opens), 1);
	assert_int_equal(r->providers[0].listed, 9);
	assert_non_null(r->run_id);
	assert_int_equal(strlen(r->run_id), 16);

	/* The report file holds the same outcomes. */
	vs_report_init(&back);
	assert_int_equal(vs_report_read_json(&back, path, &fx.err), VS_OK);
	assert_int_equal(back.n_vms, 8);
	assert_int_equal(back.dry_run, 0);
	assert_int_equal(back.vms[6].outcome, r->vms[6].outcome);
	vs_report_release(&back);
	unlink(path);

	fx_release(&fx);
	assert_int_equal(atomic_load(&provs[0].closes), 1);
}

/*
 * A VM's delete clock runs while the others are deleted and polled, so
 * at scale a VM can be past its delete_timeout before confirmation gets
 * to it.  It must not end unconfirmed without a look that began after
 * its deadline: not after a pass that failed as a whole, nor after a
 * pass that started in time and lasted past it.  A provider that cannot
 * confirm at all still lets the run end.
 */
static void test_confirm_after_deadline(void **st)
{
	static const char *const gone1[] = {"req1"};
	static const char *const gone2[] = {"req2"};
	static const char *const never[] = {"never"};
	struct fixture fx;
	const struct vs_report *r;
	struct fprov *a, *b, *c;

	(void)st;
	/* The first pass sleeps past the deadline and fails. */
	a = add_prov("a", gone1, 1, 1);
	a->confirm_slow = 1;
	a->confirm_fail = 1;
	/* The first pass starts in time and ends past the deadline. */
	b = add_prov("b", gone2, 1, 1);
	b->confirm_slow = 1;
	/* Every pass fails. */
	c = add_prov("c", never, 1, 1);
	c->confirm_fail = 1000000;
	fx_init(&fx, NULL);
	assert_int_equal(fx_run(&fx), VS_EXIT_FAILED);
	r = vs_sweep_report(fx.s);
	assert_one_outcome_each(r);
	assert_int_equal(find_vm(r, "t-req1-0")->outcome, VS_OUT_DELETED);
	assert_int_equal(atomic_load(&a->confirms), 2);
	assert_int_equal(find_vm(r, "t-req2-0")->outcome, VS_OUT_DELETED);
	assert_int_equal(atomic_load(&b->vms[0].looks), 2);
	assert_int_equal(find_vm(r, "t-never-0")->outcome, VS_OUT_REQUESTED);
	assert_int_equal(find_vm(r, "t-never-0")->error.cls, VS_EC_TIMEOUT);
	assert_int_equal(atomic_load(&c->vms[0].looks), 0);
	fx_release(&fx);
}

static void test_retry_rounds(void **st)
{
	static const char *const specs[] = {"flaky9", "fatal", "flaky2"};
	struct fixture fx;
	const struct vs_report *r;

	(void)st;
	add_prov("a", specs, 3, 1);
	fx_init(&fx, NULL);
	fx.cfg.retry_rounds = 2;
	assert_int_equal(fx_run(&fx), VS_EXIT_FAILED);
	r = vs_sweep_report(fx.s);
	assert_one_outcome_each(r);
	/* Retryable: the first try and two rounds, then it stays failed. */
	assert_int_equal(atomic_load(&provs[0].vms[0].removes), 3);
	assert_int_equal(r->vms[0].outcome, VS_OUT_FAILED);
	assert_int_equal(r->vms[0].rounds_failed, 3);
	assert_true(r->vms[0].error.retryable);
	/* Not retryable: tried once. */
	assert_int_equal(atomic_load(&provs[0].vms[1].removes), 1);
	assert_int_equal(r->vms[1].outcome, VS_OUT_FAILED);
	/* Succeeds in the last round. */
	assert_int_equal(atomic_load(&provs[0].vms[2].removes), 3);
	assert_int_equal(r->vms[2].outcome, VS_OUT_DELETED);
	assert_int_equal(r->vms[2].rounds_failed, 2);
	fx_release(&fx);

	/* No retry rounds: one try each. */
	add_prov("a", specs, 3, 1);
	fx_init(&fx, NULL);
	fx.cfg.retry_rounds = 0;
	assert_int_equal(fx_run(&fx), VS_EXIT_FAILED);
	assert_int_equal(removes_total(), 3);
	assert_int_equal(vs_sweep_report(fx.s)->vms[2].outcome, VS_OUT_FAILED);
	fx_release(&fx);
}

static char *read_all(FILE *f)
{
	long n;
	char *s;

	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	s = calloc(1, (size_t)n + 1);
	assert_non_null(s);
	assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
	return s;
}

static void log_to(FILE *f, enum vs_log_level level)
{
	struct vs_log_opts lo = {level, VS_LOG_TEXT, f ? fileno(f) : 2, NULL,
				 0};
	struct vs_error err;

	vs_error_clear(&err);
	assert_int_equal(vs_log_setup(&lo, &err), VS_OK);
}

static void test_dry_run_probes_only(void **st)
{
	static const char *const specs[] = {"ok",   "absent", "prot",
					    "req2", "fatal",  "keep"};
	struct fixture fx;
	const struct vs_report *r;
	FILE *logf, *sum;
	char *text;

	(void)st;
	add_prov("lab", specs, 6, 2);
	fx_init(&fx, NULL);
	fx.opts.dry_run = 1;
	fx.opts.yes = 0; /* a dry run needs no confirmation */
	logf = tmpfile();
	sum = tmpfile();
	assert_non_null(logf);
	assert_non_null(sum);
	fx.opts.summary = sum;
	log_to(logf, VS_LOG_INFO);
	assert_int_equal(fx_run(&fx), VS_EXIT_OK);
	log_to(NULL, VS_LOG_ERROR);
	r = vs_sweep_report(fx.s);
	assert_int_equal(r->dry_run, 1);
	assert_int_equal(r->n_vms, 10);
	assert_one_outcome_each(r);
	assert_int_equal(atomic_load(&provs[0].removes), 0);
	assert_int_equal(atomic_load(&provs[0].confirms), 0);
	assert_int_equal(atomic_load(&provs[0].probes), 10);
	assert_int_equal(find_vm(r, "t-ok-0")->outcome, VS_OUT_PRETEND);
	assert_int_equal(find_vm(r, "t-req2-3")->outcome, VS_OUT_PRETEND);
	assert_int_equal(find_vm(r, "t-fatal-4")->outcome, VS_OUT_PRETEND);
	assert_int_equal(find_vm(r, "t-absent-1")->outcome,
			 VS_OUT_ALREADY_ABSENT);
	assert_int_equal(find_vm(r, "t-prot-2")->outcome, VS_OUT_PROTECTED);

	text = read_all(logf);
	assert_non_null(strstr(text, "Pretend delete: t-ok-0 on lab\n"));
	assert_non_null(strstr(text, "Pretend delete: t-ok-6 on lab\n"));
	assert_null(strstr(text, "Deleted:"));
	free(text);
	text = read_all(sum);
	assert_true(strlen(text) > 0);
	free(text);
	fclose(logf);
	fclose(sum);
	fx_release(&fx);
}

/*
 * A real run keeps the plan's order but for each provider's last VMs not
 * listed running, two per worker, which go to the end (the fan-out ends
 * on short deletes); with one worker: the last two powered-off VMs.
 */
static void test_short_tasks_last(void **st)
{
	static const char *const ok[] = {"ok"};
	static const size_t want[] = {0, 1, 3, 4, 6, 2, 5};
	struct fixture fx;
	struct fprov *a;
	size_t i;

	(void)st;
	a = add_prov("a", ok, 1, 7);
	a->vms[0].off = a->vms[2].off = a->vms[5].off = 1;
	fx_init(&fx, NULL);
	fx.opts.workers = 1;
	assert_int_equal(fx_run(&fx), VS_EXIT_OK);
	assert_int_equal(atomic_load(&a->removes), 7);
	for (i = 0; i < 7; i++)
		assert_int_equal(a->remove_order[i], want[i]);
	fx_release(&fx);
}

static void test_concurrency_per_provider(void **st)
{
	static const char *const ok[] = {"ok"};
	static const unsigned int limits[] = {2, 3, 1};
	struct fixture fx;
	const struct vs_report *r;
	size_t i;

	(void)st;
	add_prov("a", ok, 1, 40);
	add_prov("b", ok, 1, 40);
	add_prov("c", ok, 1, 10);
	fx_init(&fx, limits);
	fx.opts.workers = 8;
	assert_int_equal(fx_run(&fx), VS_EXIT_OK);
	r = vs_sweep_report(fx.s);
	assert_int_equal(r->n_vms, 90);
	assert_one_outcome_each(r);
	for (i = 0; i < r->n_vms; i++) {
		assert_int_equal(r->vms[i].outcome, VS_OUT_DELETED);
		assert_int_equal(r->vms[i].attempts, 1);
	}
	for (i = 0; i < 3; i++) {
		assert_true(atomic_load(&provs[i].max_in_flight) >= 1);
		assert_true(atomic_load(&provs[i].max_in_flight) <=
			    (int)limits[i]);
	}
	assert_int_equal(removes_total(), 90);
	fx_release(&fx);
}

/*
 * Adaptive concurrency: a provider whose deletes come back throttled
 * has its window cut (once per generation, not once per VM), runs no
 * more removes at once than its ceiling, and ends every VM deleted in
 * the retry round; its neighbour without pushback keeps its window, and
 * one with adaptive_concurrency off has none in the report.
 */
static void test_adaptive_concurrency(void **st)
{
	static const char *const busy[] = {"busy1"};
	static const char *const ok[] = {"ok"};
	static const unsigned int limits[] = {4, 3, 2};
	struct fixture fx;
	const struct vs_report *r;
	const struct vs_report_concurrency *c;
	size_t i;

	(void)st;
	add_prov("a", busy, 1, 30);
	add_prov("b", ok, 1, 20);
	add_prov("c", ok, 1, 10);
	fx_init(&fx, limits);
	fx.cfg.providers[0].adaptive_concurrency = 1;
	fx.cfg.providers[1].adaptive_concurrency = 1;
	/* Every VM of a fails once: not a reason to open its circuit. */
	fx.cfg.breaker_consecutive = 0;
	fx.cfg.breaker_percent = 0;
	fx.opts.workers = 8;
	assert_int_equal(fx_run(&fx), VS_EXIT_OK);
	r = vs_sweep_report(fx.s);
	assert_one_outcome_each(r);
	for (i = 0; i < r->n_vms; i++)
		assert_int_equal(r->vms[i].outcome, VS_OUT_DELETED);
	assert_true(atomic_load(&provs[0].max_in_flight) <= 4);
	c = &r->providers[0].concurrency;
	assert_int_equal(c->max, 4);
	/* 30 pushbacks, but at most 4 -> 2 -> 1: a cut per generation. */
	assert_true(c->decreases >= 1 && c->decreases <= 2);
	assert_true(c->min < c->max);
	assert_true(c->final >= c->min && c->final <= c->max);
	c = &r->providers[1].concurrency;
	assert_int_equal(c->max, 3);
	assert_int_equal(c->min, 3);
	assert_int_equal(c->final, 3);
	assert_int_equal(c->decreases, 0);
	assert_int_equal(r->providers[2].concurrency.max, 0);
	fx_release(&fx);

	/* The ceiling is the workers when there are fewer. */
	add_prov("a", ok, 1, 4);
	fx_init(&fx, limits);
	fx.cfg.providers[0].adaptive_concurrency = 1;
	fx.opts.workers = 2;
	assert_int_equal(fx_run(&fx), VS_EXIT_OK);
	assert_int_equal(vs_sweep_report(fx.s)->providers[0].concurrency.max,
			 2);
	fx_release(&fx);
}

static void test_gates(void **st)
{
	static const char *const specs[] = {"ok"};
	static const char *const half[] = {"ok", "keep"};
	struct fixture fx;
	FILE *sum;
	char *text;

	(void)st;
	/* max_deletes: nothing removed, exit 4, the message says by how
	 * much. */
	add_prov("a", specs, 1, 7);
	add_prov("b", specs, 1, 5);
	fx_init(&fx, NULL);
	fx.cfg.max_deletes = 10;
	assert_int_equal(fx_run(&fx), VS_EXIT_GATE);
	assert_string_equal(fx.err.message,
			    "safety gate: 12 VMs selected, max_deletes is 10 "
			    "(over by 2); review with 'vmsweep plan' or pass "
			    "--force-limits");
	assert_int_equal(removes_total(), 0);
	assert_one_outcome_each(vs_sweep_report(fx.s));
	assert_int_equal(vs_sweep_report(fx.s)->vms[0].outcome,
			 VS_OUT_NOT_ATTEMPTED);
	fx_release(&fx);

	/* --force-limits goes on. */
	add_prov("a", specs, 1, 7);
	add_prov("b", specs, 1, 5);
	fx_init(&fx, NULL);
	fx.cfg.max_deletes = 10;
	fx.opts.force_limits = 1;
	assert_int_equal(fx_run(&fx), VS_EXIT_OK);
	assert_int_equal(removes_total(), 12);
	fx_release(&fx);

	/* Per provider. */
	add_prov("a", specs, 1, 7);
	add_prov("b", specs, 1, 5);
	fx_init(&fx, NULL);
	fx.cfg.max_deletes_per_provider = 6;
	assert_int_equal(fx_run(&fx), VS_EXIT_GATE);
	assert_non_null(strstr(fx.err.message, "7 VMs selected on a"));
	assert_non_null(strstr(fx.err.message, "over by 1"));
	assert_int_equal(removes_total(), 0);
	fx_release(&fx);

	/* Percent of the listed inventory: 4 of 8 is fine at 50%, 4 of 8 is
	 * over at 40% (3 allowed). */
	add_prov("a", half, 2, 4);
	fx_init(&fx, NULL);
	fx.cfg.max_delete_percent = 50;
	assert_int_equal(fx_run(&fx), VS_EXIT_OK);
	assert_int_equal(removes_total(), 4);
	fx_release(&fx);

	add_prov("a", half, 2, 4);
	fx_init(&fx, NULL);
	fx.cfg.max_delete_percent = 40;
	assert_int_equal(fx_run(&fx), VS_EXIT_GATE);
	assert_non_null(strstr(fx.err.message, "4 of 8 VMs (50%)"));
	assert_non_null(strstr(fx.err.message, "max_delete_percent is 40"));
	assert_non_null(strstr(fx.err.message, "over by 1"));
	assert_int_equal(removes_total(), 0);
	fx_release(&fx);

	/* A dry run reports the gate, probes, removes nothing, exits 4. */
	add_prov("a", specs, 1, 7);
	fx_init(&fx, NULL);
	fx.cfg.max_deletes = 3;
	fx.opts.dry_run = 1;
	sum = tmpfile();
	assert_non_null(sum);
	fx.opts.summary = sum;
	assert_int_equal(fx_run(&fx), VS_EXIT_GATE);
	assert_int_equal(removes_total(), 0);
	assert_int_equal(atomic_load(&provs[0].probes), 7);
	text = read_all(sum);
	assert_non_null(strstr(text, "safety gate: 7 VMs selected"));
	free(text);
	fclose(sum);
	fx_release(&fx);
}

static void test_provider_failures(void **st)
{
	static const char *const specs[] = {"ok"};
	struct fixture fx;
	const struct vs_report *r;

	(void)st;
	/* One cannot open, one cannot list: the third goes on; exit 1. */
	add_prov("a", specs, 1, 3)->fail_open = 1;
	add_prov("b", specs, 1, 3)->fail_list = 1;
	add_prov("c", specs, 1, 3);
	fx_init(&fx, NULL);
	assert_int_equal(fx_run(&fx), VS_EXIT_FAILED);
	r = vs_sweep_report(fx.s);
	assert_int_equal(r->n_vms, 3);
	assert_one_outcome_each(r);
	assert_int_equal(atomic_load(&provs[2].removes), 3);
	assert_int_equal(r->providers[0].listed, -1);
	assert_int_equal(r->providers[0].error.cls, VS_EC_AUTH);
	assert_int_equal(r->providers[1].listed, -1);
	assert_int_equal(r->providers[1].error.cls, VS_EC_SERVER);
	assert_int_equal(r->providers[2].listed, 3);
	assert_null(vs_sweep_provider_error(fx.s, 2));
	assert_non_null(vs_sweep_provider_error(fx.s, 0));
	fx_release(&fx);
	/* The one that failed to open is not closed; the others are. */
	assert_int_equal(atomic_load(&provs[0].closes), 0);
	assert_int_equal(atomic_load(&provs[1].closes), 1);
	assert_int_equal(atomic_load(&provs[2].closes), 1);

	/* None listed: exit 3, nothing removed. */
	add_prov("a", specs, 1, 3)->fail_open = 1;
	add_prov("b", specs, 1, 3)->fail_list = 1;
	fx_init(&fx, NULL);
	assert_int_equal(fx_run(&fx), VS_EXIT_PROVIDER);
	assert_int_equal(fx.err.cls != VS_EC_NONE, 1);
	assert_int_equal(removes_total(), 0);
	fx_release(&fx);
}

static int confirm_answer;
static int confirm_asked;

static int ask(const struct vs_report *plan, void *udata)
{
	(void)udata;
	confirm_asked++;
	assert_int_equal(plan->n_vms, 2);
	return confirm_answer;
}

static void test_real_run_needs_yes(void **st)
{
	static const char *const specs[] = {"ok"};
	static const char *const keep[] = {"keep"};
	struct fixture fx;

	(void)st;
	/* Neither --yes nor a terminal: usage error, nothing removed. */
	add_prov("a", specs, 1, 2);
	fx_init(&fx, NULL);
	fx.opts.yes = 0;
	assert_int_equal(fx_run(&fx), VS_EXIT_USAGE);
	assert_non_null(strstr(fx.err.message, "--yes"));
	assert_non_null(strstr(fx.err.message, "--dry-run"));
	assert_int_equal(removes_total(), 0);
	fx_release(&fx);

	/* Asked and declined. */
	add_prov("a", specs, 1, 2);
	fx_init(&fx, NULL);
	fx.opts.yes = 0;
	fx.opts.confirm = ask;
	confirm_asked = 0;
	confirm_answer = 0;
	assert_int_equal(fx_run(&fx), VS_EXIT_USAGE);
	assert_int_equal(confirm_asked, 1);
	assert_int_equal(removes_total(), 0);
	fx_release(&fx);

	/* Asked and confirmed. */
	add_prov("a", specs, 1, 2);
	fx_init(&fx, NULL);
	fx.opts.yes = 0;
	fx.opts.confirm = ask;
	confirm_asked = 0;
	confirm_answer = 1;
	assert_int_equal(fx_run(&fx), VS_EXIT_OK);
	assert_int_equal(confirm_asked, 1);
	assert_int_equal(removes_total(), 2);
	fx_release(&fx);

	/* An empty selection is a success and asks nothing. */
	add_prov("a", keep, 1, 3);
	fx_init(&fx, NULL);
	fx.opts.yes = 0;
	fx.opts.confirm = ask;
	confirm_asked = 0;
	assert_int_equal(fx_run(&fx), VS_EXIT_OK);
	assert_int_equal(confirm_asked, 0);
	assert_int_equal(vs_sweep_report(fx.s)->n_vms, 0);
	assert_int_equal(vs_sweep_report(fx.s)->n_kept, 0);
	fx_release(&fx);
}

static void test_provider_filter(void **st)
{
	static const char *const specs[] = {"ok"};
	static const char *const only_b[] = {"b"};
	static const char *const bogus[] = {"b", "nope"};
	struct fixture fx;
	size_t i;

	(void)st;
	add_prov("a", specs, 1, 2);
	add_prov("b", specs, 1, 2);
	fx_init(&fx, NULL);
	fx.opts.only = only_b;
	fx.opts.n_only = 1;
	assert_int_equal(fx_run(&fx), VS_EXIT_OK);
	assert_int_equal(vs_sweep_n_providers(fx.s), 1);
	assert_string_equal(vs_sweep_provider_name(fx.s, 0), "b");
	assert_int_equal(atomic_load(&provs[0].opens), 0);
	assert_int_equal(atomic_load(&provs[1].removes), 2);
	fx_release(&fx);

	add_prov("a", specs, 1, 2);
	add_prov("b", specs, 1, 2);
	fx_init(&fx, NULL);
	fx.opts.only = bogus;
	fx.opts.n_only = 2;
	for (i = 0; i < fx.cfg.n_providers; i++) {
		assert_int_equal(
			vs_plugin_make_config(&fx.pcs[i], &fake_ops, &fx.cfg,
					      &fx.cfg.providers[i], &fx.err),
			VS_OK);
		fx.targets[i].cp = &fx.cfg.providers[i];
		fx.targets[i].ops = &fake_ops;
		fx.targets[i].pc = &fx.pcs[i];
	}
	assert_null(vs_sweep_new(&fx.cfg, fx.targets, 2, &fx.opts, &fx.err));
	assert_int_equal(fx.err.cls, VS_EC_CONFIG);
	assert_non_null(strstr(fx.err.message, "'nope'"));
	fx_release(&fx);
}

static void test_cancel(void **st)
{
	static const char *const specs[] = {"ok"};
	static const unsigned int one[] = {1};
	struct fixture fx;
	const struct vs_report *r;
	size_t i, deleted = 0, skipped = 0;

	(void)st;
	/* The first remove cancels the run: with one worker nothing else
	 * starts, and everything else ends not_attempted. */
	add_prov("a", specs, 1, 6)->cancel_on_remove = 1;
	fx_init(&fx, one);
	fx.opts.workers = 1;
	assert_int_equal(fx_run(&fx), VS_EXIT_INTERRUPTED);
	r = vs_sweep_report(fx.s);
	assert_one_outcome_each(r);
	for (i = 0; i < r->n_vms; i++) {
		if (r->vms[i].outcome == VS_OUT_DELETED)
			deleted++;
		if (r->vms[i].outcome == VS_OUT_NOT_ATTEMPTED) {
			skipped++;
			assert_int_equal(r->vms[i].attempts, 0);
			assert_int_equal(r->vms[i].error.cls, VS_EC_CANCELLED);
		}
	}
	assert_int_equal(deleted, 1);
	assert_int_equal(skipped, 5);
	assert_int_equal(removes_total(), 1);
	fx_release(&fx);
}

static void test_check_gates_direct(void **st)
{
	static const char *const half[] = {"ok", "keep"};
	struct fixture fx;
	char msg[256];

	(void)st;
	add_prov("a", half, 2, 5);
	fx_init(&fx, NULL);
	fx_sweep(&fx);
	assert_int_equal(vs_sweep_plan(fx.s, &fx.err), VS_OK);
	assert_true(vs_sweep_report(fx.s)->is_plan);
	assert_int_equal(vs_sweep_report(fx.s)->n_vms, 5);
	fx.cfg.max_deletes = 1;
	fx.cfg.max_deletes_per_provider = 2;
	fx.cfg.max_delete_percent = 10;
	assert_int_equal(vs_sweep_check_gates(vs_sweep_report(fx.s), &fx.cfg, 0,
					      msg, sizeof(msg)),
			 3);
	assert_non_null(strstr(msg, "max_deletes is 1 (over by 4)"));
	fx.cfg.max_deletes = -1;
	fx.cfg.max_deletes_per_provider = -1;
	fx.cfg.max_delete_percent = 100;
	assert_int_equal(vs_sweep_check_gates(vs_sweep_report(fx.s), &fx.cfg, 0,
					      NULL, 0),
			 0);
	assert_int_equal(removes_total(), 0);
	fx_release(&fx);
}

/* The circuit breaker: after K failures in a row on one provider, the
 * rest there is not attempted (in retry rounds too); others go on. */
static void test_breaker_consecutive(void **st)
{
	static const char *const fatal[] = {"fatal"};
	static const char *const flaky[] = {"flaky9"};
	static const char *const ok[] = {"ok"};
	static const unsigned int serial[] = {1, 4};
	struct fixture fx;
	const struct vs_report *r;
	size_t i, n_na = 0;

	(void)st;
	add_prov("a", fatal, 1, 12);
	add_prov("b", ok, 1, 3);
	fx_init(&fx, serial);
	fx.cfg.breaker_consecutive = 3;
	fx.cfg.breaker_percent = 0;
	assert_int_equal(fx_run(&fx), VS_EXIT_FAILED);
	r = vs_sweep_report(fx.s);
	assert_one_outcome_each(r);
	assert_int_equal(atomic_load(&provs[0].removes), 3);
	assert_int_equal(atomic_load(&provs[1].removes), 3);
	for (i = 0; i < r->n_vms; i++) {
		const struct vs_report_vm *v = &r->vms[i];

		if (strcmp(v->provider, "b") == 0) {
			assert_int_equal(v->outcome, VS_OUT_DELETED);
			continue;
		}
		if (v->outcome == VS_OUT_FAILED)
			continue;
		assert_int_equal(v->outcome, VS_OUT_NOT_ATTEMPTED);
		assert_int_equal(v->attempts, 0);
		assert_string_equal(v->error.message,
				    "not attempted: circuit breaker open for "
				    "a: 3 consecutive failures");
		n_na++;
	}
	assert_int_equal(n_na, 9);
	fx_release(&fx);

	/* Retry rounds do not send the failed ones again either. */
	add_prov("a", flaky, 1, 5);
	fx_init(&fx, serial);
	fx.cfg.breaker_consecutive = 3;
	fx.cfg.breaker_percent = 0;
	fx.cfg.retry_rounds = 2;
	assert_int_equal(fx_run(&fx), VS_EXIT_FAILED);
	r = vs_sweep_report(fx.s);
	assert_one_outcome_each(r);
	assert_int_equal(removes_total(), 3);
	for (i = 0; i < 3; i++) {
		assert_int_equal(r->vms[i].outcome, VS_OUT_FAILED);
		assert_int_equal(r->vms[i].attempts, 1);
	}
	for (; i < 5; i++)
		assert_int_equal(r->vms[i].outcome, VS_OUT_NOT_ATTEMPTED);
	fx_release(&fx);

	/* 0 turns it off: every VM is tried. */
	add_prov("a", fatal, 1, 12);
	fx_init(&fx, serial);
	fx.cfg.breaker_consecutive = 0;
	fx.cfg.breaker_percent = 0;
	assert_int_equal(fx_run(&fx), VS_EXIT_FAILED);
	assert_int_equal(removes_total(), 12);
	fx_release(&fx);
}

/* More than X% of at least N attempts failed. */
static void test_breaker_percent(void **st)
{
	static const char *const mix[] = {"fatal", "fatal", "ok"};
	static const unsigned int serial[] = {1};
	struct fixture fx;
	const struct vs_report *r;
	size_t i, n_na = 0;

	(void)st;
	add_prov("a", mix, 3, 10);
	fx_init(&fx, serial);
	fx.cfg.breaker_consecutive = 0;
	fx.cfg.breaker_percent = 60;
	fx.cfg.breaker_min_attempts = 10;
	fx.cfg.retry_rounds = 0;
	assert_int_equal(fx_run(&fx), VS_EXIT_FAILED);
	r = vs_sweep_report(fx.s);
	assert_one_outcome_each(r);
	/* f f o f f o f f o f: 7 of 10 failed, over 60%. */
	assert_int_equal(removes_total(), 10);
	for (i = 0; i < r->n_vms; i++)
		if (r->vms[i].outcome == VS_OUT_NOT_ATTEMPTED) {
			assert_string_equal(r->vms[i].error.message,
					    "not attempted: circuit breaker "
					    "open for a: 7 of 10 attempts "
					    "failed (over 60%)");
			n_na++;
		}
	assert_int_equal(n_na, 20);
	fx_release(&fx);
}

/* ------------------------------------------------------------------ */
/* The host's fan_out, nested on the pool from inside list().           */

static void assert_fan_each_once(struct fprov *p, size_t upto)
{
	size_t i;

	for (i = 0; i < p->fan_n; i++)
		assert_int_equal(atomic_load(&p->fan_calls[i]), i < upto);
}

static void test_fan_out_on_workers(void **st)
{
	static const char *const ok[] = {"ok"};
	static const unsigned int limits[] = {4, 2};
	struct fixture fx;
	struct fprov *a, *b;

	(void)st;
	a = add_prov("a", ok, 1, 5);
	b = add_prov("b", ok, 1, 5);
	a->fan_n = b->fan_n = FAN_MAX;
	a->fan_meet = 4;   /* four calls at once: idle workers help */
	b->fan_width = 16; /* wider than max_concurrency: capped */
	fx_init(&fx, limits);
	fx.opts.workers = 8;
	fx_sweep(&fx);
	assert_int_equal(vs_sweep_inventory(fx.s, &fx.err), VS_EXIT_OK);
	assert_fan_each_once(a, FAN_MAX);
	assert_fan_each_once(b, FAN_MAX);
	assert_int_equal(atomic_load(&a->fan_max_in_flight), 4);
	assert_true(atomic_load(&b->fan_max_in_flight) <= 2);
	assert_int_equal(vs_sweep_provider_listed(fx.s, 0), 5);
	assert_int_equal(vs_sweep_provider_listed(fx.s, 1), 5);
	fx_release(&fx);
}

static void test_fan_out_one_worker(void **st)
{
	static const char *const ok[] = {"ok"};
	static const unsigned int limits[] = {4};
	struct fixture fx;
	struct fprov *a;
	size_t i;

	(void)st;
	a = add_prov("a", ok, 1, 3);
	a->fan_n = 100;
	fx_init(&fx, limits);
	fx.opts.workers = 1;
	fx_sweep(&fx);
	assert_int_equal(vs_sweep_inventory(fx.s, &fx.err), VS_EXIT_OK);
	assert_fan_each_once(a, 100);
	/* The listing task's own worker ran them, in order. */
	assert_int_equal(atomic_load(&a->fan_max_in_flight), 1);
	for (i = 0; i < 100; i++)
		assert_int_equal(a->fan_order[i], i);
	fx_release(&fx);
}

/* The failure with the lowest index is the one reported, whatever order
 * the calls ran in; calls after it may be skipped, none before it. */
static void test_fan_out_first_error(void **st)
{
	static const char *const ok[] = {"ok"};
	static const unsigned int limits[] = {0};
	int workers[] = {1, 3, 8};
	struct fixture fx;
	struct fprov *a;
	size_t w, i;

	(void)st;
	for (w = 0; w < 3; w++) {
		a = add_prov("a", ok, 1, 3);
		a->fan_n = FAN_MAX;
		a->fan_fail[0] = 250;
		a->fan_fail[1] = 37;
		a->fan_fail[2] = 38;
		fx_init(&fx, limits);
		fx.opts.workers = workers[w];
		fx_sweep(&fx);
		assert_int_equal(vs_sweep_inventory(fx.s, &fx.err),
				 VS_EXIT_PROVIDER);
		assert_non_null(vs_sweep_provider_error(fx.s, 0));
		assert_string_equal(vs_sweep_provider_error(fx.s, 0)->message,
				    "a: call 37 failed");
		assert_int_equal(vs_sweep_provider_error(fx.s, 0)->cls,
				 VS_EC_SERVER);
		for (i = 0; i < FAN_MAX; i++) {
			int n = atomic_load(&a->fan_calls[i]);

			assert_true(n <= 1);
			if (i <= 37)
				assert_int_equal(n, 1);
			if (workers[w] == 1 && i > 37)
				assert_int_equal(n, 0);
		}
		fx_release(&fx);
	}
}

/* Cancelled from call 10: calls not started are skipped, the listing
 * fails as cancelled. */
static void test_fan_out_cancel(void **st)
{
	static const char *const ok[] = {"ok"};
	static const unsigned int limits[] = {3};
	int workers[] = {1, 6};
	struct fixture fx;
	struct fprov *a;
	size_t w, i;

	(void)st;
	for (w = 0; w < 2; w++) {
		a = add_prov("a", ok, 1, 3);
		a->fan_n = FAN_MAX;
		a->fan_cancel_at = 10;
		fx_init(&fx, limits);
		fx.opts.workers = workers[w];
		fx_sweep(&fx);
		assert_int_equal(vs_sweep_inventory(fx.s, &fx.err),
				 VS_EXIT_PROVIDER);
		assert_int_equal(vs_sweep_provider_error(fx.s, 0)->cls,
				 VS_EC_CANCELLED);
		for (i = 0; i < FAN_MAX; i++) {
			int n = atomic_load(&a->fan_calls[i]);

			assert_true(n <= 1);
			/*
			 * With several workers a call picked before call 10
			 * may meet the cancel before it begins and be
			 * skipped; with one, every call before 10 ran.
			 */
			if (i == 10 || (workers[w] == 1 && i < 10))
				assert_int_equal(n, 1);
			/* At most width - 1 others were running at 10. */
			if (i >= 10 + 3 || (workers[w] == 1 && i > 10))
				assert_int_equal(n, 0);
		}
		fx_release(&fx);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_outcome),
		cmocka_unit_test(test_confirm_after_deadline),
		cmocka_unit_test(test_retry_rounds),
		cmocka_unit_test(test_dry_run_probes_only),
		cmocka_unit_test(test_short_tasks_last),
		cmocka_unit_test(test_concurrency_per_provider),
		cmocka_unit_test(test_adaptive_concurrency),
		cmocka_unit_test(test_gates),
		cmocka_unit_test(test_provider_failures),
		cmocka_unit_test(test_real_run_needs_yes),
		cmocka_unit_test(test_provider_filter),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_check_gates_direct),
		cmocka_unit_test(test_breaker_consecutive),
		cmocka_unit_test(test_breaker_percent),
		cmocka_unit_test(test_fan_out_on_workers),
		cmocka_unit_test(test_fan_out_one_worker),
		cmocka_unit_test(test_fan_out_first_error),
		cmocka_unit_test(test_fan_out_cancel),
	};
	struct vs_error err;
	int rc;

	vs_error_clear(&err);
	if (vs_http_global_init(&err) != VS_OK)
		return 1;
	/* Quiet: the tests read what they need from their own log file. */
	log_to(NULL, VS_LOG_ERROR);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	vs_log_teardown();
	vs_http_global_cleanup();
	return rc;
}
