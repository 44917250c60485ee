/*
 * retry.c - the plan of vmsweep retry and vmsweep apply, rebuilt from an
 * earlier report or a reviewed plan.
 *
 * The sweep calls vs_retry_select() in place of the rules once every
 * provider is listed; from there on a retry or an apply is an ordinary
 * run (gates, confirmation, deletes, confirmation polling, retry rounds,
 * report).  Everything here is about not deleting the wrong VM: the id
 * must still be there, with the same name and creation time, and nothing
 * may protect it now.  Both commands share this one re-check.
 */
#include "retry.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "error.h"
#include "log.h"
#include "timeutil.h"

#define REASON_CAP 4096
/* Clock skew we forgive a plan that seems to come from the future. */
#define PLAN_SKEW_MS (5 * 60 * 1000LL)

int vs_retry_wanted(enum vs_outcome o)
{
	return o == VS_OUT_FAILED || o == VS_OUT_REQUESTED;
}

size_t vs_retry_count(const struct vs_report *r)
{
	size_t i, n = 0;

	for (i = 0; i < r->n_vms; i++)
		n += (size_t)vs_retry_wanted(r->vms[i].outcome);
	return n;
}

int vs_retry_check_source(const struct vs_report *r, const char *path,
			  struct vs_error *err)
{
	if (r->is_plan)
		return vs_error_set(err, VS_EC_CONFIG, 0, 0,
				    "%s: is a plan, not a report; retry takes "
				    "the report of a run",
				    path);
	if (r->dry_run)
		return vs_error_set(err, VS_EC_CONFIG, 0, 0,
				    "%s: is the report of a dry run, which "
				    "deleted nothing; use 'vmsweep run'",
				    path);
	return VS_OK;
}

int vs_apply_check_source(const struct vs_report *r, const char *path,
			  int64_t now_ms, int64_t max_age_ms,
			  struct vs_error *err)
{
	char age[32], limit[32];

	if (!r->is_plan)
		return vs_error_set(err, VS_EC_CONFIG, 0, 0,
				    "%s: is a report, not a plan; apply takes "
				    "a plan written by 'vmsweep plan -o' (to "
				    "delete again what a run left, use "
				    "'vmsweep retry')",
				    path);
	vs_duration_format(limit, sizeof(limit), max_age_ms);
	if (r->created_ms > now_ms + PLAN_SKEW_MS)
		return vs_error_set(err, VS_EC_CONFIG, 0, 0,
				    "%s: the plan was made in the future "
				    "(created is after now); make a new plan",
				    path);
	if (now_ms - r->created_ms > max_age_ms) {
		vs_report_format_age(age, sizeof(age),
				     (now_ms - r->created_ms) / 1000);
		return vs_error_set(err, VS_EC_CONFIG, 0, 0,
				    "%s: the plan is %s old, "
				    "limits.max_plan_age is %s; make a new "
				    "plan with 'vmsweep plan -o'",
				    path, age, limit);
	}
	return VS_OK;
}

/* 1 when entry o of the earlier file is to be deleted again. */
static int wanted(const struct vs_retry *rt, enum vs_outcome o)
{
	return rt->apply ? o == VS_OUT_NONE : vs_retry_wanted(o);
}

/* How the messages say that a VM is left alone. */
static const char *not_done(const struct vs_retry *rt)
{
	return rt->apply ? "not applied" : "not retried";
}

static const char *tag(const struct vs_retry *rt)
{
	return rt->apply ? "apply" : "retry";
}

static const struct vs_report_provider *old_provider(const struct vs_report *r,
						     const char *name)
{
	size_t i;

	for (i = 0; i < r->n_providers; i++)
		if (strcmp(r->providers[i].name, name) == 0)
			return &r->providers[i];
	return NULL;
}

static struct vs_report_provider *plan_provider(struct vs_report *plan,
						const char *name)
{
	size_t i;

	for (i = 0; i < plan->n_providers; i++)
		if (strcmp(plan->providers[i].name, name) == 0)
			return &plan->providers[i];
	return NULL;
}

static size_t find_inventory(const struct vs_inventory *inv, size_t n_inv,
			     const char *name)
{
	size_t i;

	for (i = 0; i < n_inv; i++)
		if (inv[i].provider && strcmp(inv[i].provider->name, name) == 0)
			return i;
	return (size_t)-1;
}

static const struct vs_vm *find_vm(const struct vs_vm_list *l, const char *id)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->items[i].id && strcmp(l->items[i].id, id) == 0)
			return &l->items[i];
	return NULL;
}

/* 1 when an earlier entry of from names the same VM as entry j. */
static int seen_before(const struct vs_retry *rt, size_t j)
{
	const struct vs_report *from = rt->from;
	const struct vs_report_vm *v = &from->vms[j];
	size_t i;

	for (i = 0; i < j; i++)
		if (wanted(rt, from->vms[i].outcome) &&
		    strcmp(from->vms[i].provider, v->provider) == 0 &&
		    strcmp(from->vms[i].id, v->id) == 0)
			return 1;
	return 0;
}

/*
 * Add the earlier entry old to plan: linked to vm (in inventory pidx)
 * when it is to run, else carrying old's identity.  Rules and reason are
 * the earlier run's.  Returns the entry or NULL when out of memory.
 */
static struct vs_report_vm *add_entry(struct vs_report *plan,
				      const struct vs_report_vm *old,
				      const struct vs_vm *vm, size_t pidx)
{
	struct vs_report_vm *v;
	struct vs_vm id;
	size_t i;

	memset(&id, 0, sizeof(id));
	id.id = old->id;
	id.name = old->name;
	id.created = old->created;
	id.age_source = old->age_source;
	v = vs_report_add_vm(plan, old->provider, vm ? vm : &id, pidx);
	if (!v)
		return NULL;
	if (!vm)
		v->vm = NULL;
	for (i = 0; i < old->n_rules; i++)
		if (vs_report_vm_add_rule(v, old->rules[i]))
			return NULL;
	v->reason = strdup(old->reason ? old->reason : "");
	return v->reason ? v : NULL;
}

/* Why vm should not be retried although its id is still there, or 0. */
static int changed_since(const struct vs_report_vm *old, const struct vs_vm *vm,
			 const struct vs_retry *rt, struct vs_buf *why)
{
	const char *from_path = rt->from_path;
	char was[32], now[32];

	if (strcmp(old->name, vm->name ? vm->name : "") != 0) {
		vs_buf_addf(why, "renamed since %s: was '%s', now '%s'; %s",
			    from_path, old->name, vm->name ? vm->name : "",
			    not_done(rt));
		return 1;
	}
	if (old->created != VS_TIME_UNKNOWN && vm->created != VS_TIME_UNKNOWN &&
	    old->age_source == vm->age_source && old->created != vm->created) {
		vs_time_format(was, sizeof(was), old->created);
		vs_time_format(now, sizeof(now), vm->created);
		vs_buf_addf(why,
			    "creation time changed since %s: was %s, now %s; "
			    "%s",
			    from_path, was, now, not_done(rt));
		return 1;
	}
	return 0;
}

static char *absolute_path(const char *path)
{
	char *abs;

	if (strcmp(path, "-") == 0)
		return strdup(path);
	abs = realpath(path, NULL);
	return abs ? abs : strdup(path);
}

/* One wanted entry of the earlier report into plan. */
static int retry_one(struct vs_report *plan, const struct vs_config *cfg,
		     const struct vs_inventory *inv, size_t n_inv, int64_t now,
		     const struct vs_retry *rt, const struct vs_report_vm *old)
{
	const struct vs_report_provider *op;
	struct vs_report_provider *pp;
	struct vs_report_vm *v;
	const struct vs_vm *vm;
	struct vs_buf why;
	char reason[1024];
	size_t k;
	int ret = VS_ERR;

	vs_buf_init(&why, REASON_CAP);
	k = find_inventory(inv, n_inv, old->provider);
	if (k == (size_t)-1) {
		pp = plan_provider(plan, old->provider);
		if (!pp) {
			op = old_provider(rt->from, old->provider);
			pp = vs_report_add_provider(plan, old->provider,
						    op ? op->type : "");
			if (!pp)
				goto out;
			pp->listed = -1;
			vs_error_set(&pp->error, VS_EC_CONFIG, 0, 0,
				     "provider '%s' is not in the "
				     "configuration",
				     old->provider);
		}
		if (!(v = add_entry(plan, old, NULL, (size_t)-1)))
			goto out;
		v->outcome = VS_OUT_NOT_ATTEMPTED;
		vs_error_set(&v->error, VS_EC_CONFIG, 0, 0,
			     "%s: provider '%s' is not in the configuration",
			     not_done(rt), old->provider);
		vs_log(VS_LOG_WARN, tag(rt), "%s: %s on %s: %s", not_done(rt),
		       old->name, old->provider,
		       "the provider is not configured");
		ret = VS_OK;
		goto out;
	}
	if (!inv[k].ok) {
		if (!(v = add_entry(plan, old, NULL, k)))
			goto out;
		v->outcome = VS_OUT_NOT_ATTEMPTED;
		vs_error_set(&v->error,
			     inv[k].error.cls ? inv[k].error.cls
					      : VS_EC_INTERNAL,
			     inv[k].error.http_status, 1,
			     "%s: provider could not be listed: %s",
			     not_done(rt), inv[k].error.message);
		ret = VS_OK;
		goto out;
	}
	vm = find_vm(&inv[k].vms, old->id);
	if (!vm) {
		if (!(v = add_entry(plan, old, NULL, k)))
			goto out;
		v->outcome = VS_OUT_ALREADY_ABSENT;
		vs_log(VS_LOG_INFO, old->provider,
		       "Already absent: %s on %s (gone since %s)", old->name,
		       old->provider, rt->from_path);
		ret = VS_OK;
		goto out;
	}
	if (changed_since(old, vm, rt, &why) ||
	    vs_select_protected(cfg, inv[k].provider, vm, now, reason,
				sizeof(reason))) {
		const char *r = why.len ? why.s : reason;

		if (!vs_report_add_kept(plan, old->provider, vm, r))
			goto out;
		vs_log(VS_LOG_WARN, old->provider, "Kept: %s on %s: %s",
		       old->name, old->provider, r);
		ret = VS_OK;
		goto out;
	}
	if (!add_entry(plan, old, vm, k))
		goto out;
	ret = VS_OK;
out:
	vs_buf_release(&why);
	return ret;
}

int vs_retry_select(struct vs_report *plan, const struct vs_config *cfg,
		    const struct vs_inventory *inv, size_t n_inv, int64_t now,
		    void *udata, struct vs_error *err)
{
	const struct vs_retry *rt = udata;
	const struct vs_report *from = rt->from;
	struct vs_report_provider *p;
	char *path;
	size_t i;

	if (!plan->created_ms)
		plan->created_ms = now * 1000;
	path = absolute_path(rt->from_path ? rt->from_path : "-");
	if (!path)
		goto nomem;
	if (rt->apply) {
		free(plan->plan_path);
		plan->plan_path = path;
	} else {
		free(plan->retry_of);
		plan->retry_of = path;
	}
	for (i = 0; i < n_inv; i++) {
		p = vs_report_add_provider(
			plan, inv[i].provider ? inv[i].provider->name : "",
			inv[i].type ? inv[i].type : "");
		if (!p)
			goto nomem;
		if (inv[i].ok) {
			p->listed = (long)inv[i].vms.n;
			continue;
		}
		p->listed = -1;
		p->error = inv[i].error;
		if (p->error.cls == VS_EC_NONE)
			vs_error_set(&p->error, VS_EC_INTERNAL, 0, 0,
				     "listing failed");
	}
	for (i = 0; i < from->n_vms; i++) {
		if (!wanted(rt, from->vms[i].outcome) || seen_before(rt, i))
			continue;
		if (retry_one(plan, cfg, inv, n_inv, now, rt, &from->vms[i]))
			goto nomem;
	}
	vs_report_tally(plan);
	return VS_OK;
nomem:
	return vs_error_set(err, VS_EC_INTERNAL, 0, 0, "out of memory");
}
