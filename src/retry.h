/*
 * retry.h - the plan of a run that deletes the VMs an earlier file names:
 * vmsweep retry (an earlier report's failed and unconfirmed VMs) and
 * vmsweep apply (every VM of a reviewed plan).
 *
 * A retry takes exactly the VMs whose outcome in the earlier report is
 * failed or requested; an apply every VM of the plan.  Both re-check each
 * against a fresh inventory before anything is deleted (the messages say
 * "not applied" for apply):
 *
 *   provider no longer configured   not_attempted (config): not retried
 *   provider could not be listed    not_attempted with the listing error
 *   no VM with that id any more     already_absent (a success)
 *   same id, another name           kept: "renamed since ..."
 *   same id, another creation time  kept: "creation time changed ..."
 *   now protected (names, markers,  kept with the protection's reason
 *   expiry, the platform's own)
 *   otherwise                       planned: deleted by the sweep
 *
 * A VM with the same name but another id is another VM and is never
 * touched.  Rules are not re-checked: the earlier run chose the VM, and it
 * has only grown older since.
 *
 * Ownership: struct vs_retry borrows the earlier report and its path; they
 * must outlive the sweep that uses it.  Pure functions; thread-safe on
 * distinct arguments.
 */
#ifndef VS_RETRY_H
#define VS_RETRY_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "report.h"
#include "select.h"

struct vs_retry {
	const struct vs_report *from; /* the earlier report or plan */
	const char *from_path;	      /* its file, for run.retry_of / plan */
	int apply;		      /* 1: from is a plan (vmsweep apply) */
};

/* 1 when a VM with outcome o in a report is retried. */
int vs_retry_wanted(enum vs_outcome o);

/* How many VMs of r a retry takes (failed and requested). */
size_t vs_retry_count(const struct vs_report *r);

/*
 * Refuse what cannot be retried: a plan file ("is a plan, not a report:
 * use 'vmsweep apply'") or a dry run's report (nothing was deleted).
 * Returns VS_ERR with err filled (class config, naming path).
 */
int vs_retry_check_source(const struct vs_report *r, const char *path,
			  struct vs_error *err);

/*
 * Refuse what cannot be applied: a report ("is a report, not a plan"),
 * or a plan made more than max_age_ms before now_ms, or in the future
 * (by more than a few minutes of clock skew): its inventory is no longer
 * what someone reviewed.  Returns VS_ERR with err filled (class config,
 * naming path, the plan's age and the limit).
 */
int vs_apply_check_source(const struct vs_report *r, const char *path,
			  int64_t now_ms, int64_t max_age_ms,
			  struct vs_error *err);

/*
 * The vs_sweep_select_fn of a retry (udata is a struct vs_retry): fills
 * plan as the table above says, in the earlier report's order, with one
 * provider summary per inventory and one for each provider of the earlier
 * report that is no longer configured, and sets plan->retry_of (for
 * apply: plan->plan_path) to from_path (made absolute when it names a
 * file).  Returns VS_ERR with
 * err filled when out of memory.
 */
int vs_retry_select(struct vs_report *plan, const struct vs_config *cfg,
		    const struct vs_inventory *inv, size_t n_inv, int64_t now,
		    void *udata, struct vs_error *err);

#endif
