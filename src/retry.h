/*
 * retry.h - vmsweep retry: the plan of a run that retries an earlier
 * report's failed and unconfirmed VMs.
 *
 * A retry takes exactly the VMs whose outcome in the earlier report is
 * failed or requested, and re-checks each against a fresh inventory
 * before anything is deleted:
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
	const struct vs_report *from; /* the earlier report */
	const char *from_path;	      /* its file, for run.retry_of */
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
 * The vs_sweep_select_fn of a retry (udata is a struct vs_retry): fills
 * plan as the table above says, in the earlier report's order, with one
 * provider summary per inventory and one for each provider of the earlier
 * report that is no longer configured, and sets plan->retry_of to
 * from_path (made absolute when it names a file).  Returns VS_ERR with
 * err filled when out of memory.
 */
int vs_retry_select(struct vs_report *plan, const struct vs_config *cfg,
		    const struct vs_inventory *inv, size_t n_inv, int64_t now,
		    void *udata, struct vs_error *err);

#endif
