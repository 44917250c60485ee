/*
 * sweep.h - inventory, plan, safety gates, fan-out, confirmation, retry
 * rounds and the report: one run of vmsweep.
 *
 * A sweep is made from the configuration and one target per configured
 * provider (its config entry, its operations table and the configuration
 * its open() receives).  The caller loads plugins and builds targets;
 * tests hand in their own operations tables.  Then:
 *
 *   vs_sweep_inventory()  open and list every provider concurrently
 *   vs_sweep_plan()       rules and protections (vs_select) -> report
 *   vs_sweep_run()        both of the above if not done, the gates, the
 *                         confirmation, the deletes (or, in a dry run,
 *                         the read-only probes), confirmation polling,
 *                         retry rounds, the report file and the summary
 *
 * Dry runs and real runs share every step; only the provider's remove()
 * is replaced by probe().
 *
 * Return values: vs_sweep_new() returns NULL with err filled (class
 * config for a usage error such as an unknown --provider name).
 * vs_sweep_inventory() and vs_sweep_run() return an exit code of
 * DESIGN.md section 9 (enum vs_exit), with err filled for 2, 3 and 4.
 *
 * Ownership: the sweep borrows cfg, targets (and what they point to) and
 * the strings in opts; they must outlive it.  The report belongs to the
 * sweep.
 *
 * Threading: everything is called from one thread, except
 * vs_sweep_cancel(), which is safe from any thread (a signal-watching
 * thread; not a signal handler).  Provider operations run on the sweep's
 * worker pool.
 */
#ifndef VS_SWEEP_H
#define VS_SWEEP_H

#include <stdio.h>

#include "config.h"
#include "progress.h"
#include "provider.h"
#include "report.h"

struct vs_sweep;

struct vs_sweep_target {
	const struct vs_config_provider *cp; /* name, rule scope, protections */
	const struct vs_provider_ops *ops;
	const struct vs_provider_config *pc; /* handed to ops->open() */
};

/*
 * Asked before a real run that has no --yes.  Returns 1 to go ahead.  The
 * CLI passes one only when stdin and stderr are a terminal.
 */
typedef int (*vs_sweep_confirm_fn)(const struct vs_report *plan, void *udata);

struct vs_inventory; /* select.h */
struct vs_state;     /* state.h */

/*
 * Makes the plan from the inventory instead of the rules (vs_select):
 * vmsweep retry builds it from an earlier report.  The contract is
 * vs_select's (one provider summary per inventory, vms[].vm linked into
 * inv, err filled on failure), with one addition: an entry may already
 * carry its final outcome (a VM gone since: already_absent; one that
 * cannot be retried: not_attempted, provider_index (size_t)-1 allowed).
 * Those are reported as they are and never run or counted by the gates.
 */
typedef int (*vs_sweep_select_fn)(struct vs_report *plan,
				  const struct vs_config *cfg,
				  const struct vs_inventory *inv, size_t n_inv,
				  int64_t now, void *udata,
				  struct vs_error *err);

struct vs_sweep_opts {
	int dry_run;
	int yes;		 /* real deletion was explicitly asked for */
	int force_limits;	 /* the safety gates only warn */
	int workers;		 /* 0: the configuration's run.workers */
	const char *const *only; /* --provider names; n_only 0 means all */
	size_t n_only;
	/*
	 * Where the report goes: NULL for report.dir/vmsweep-<UTC time>-<run
	 * id>.json; no_report_file to write none (plan, tests).
	 */
	const char *report_path;
	int no_report_file;
	FILE *summary; /* the text summary at the end; NULL for none */
	vs_sweep_confirm_fn confirm;
	void *confirm_udata;
	/*
	 * The progress line (progress.h), or NULL: begun when the deletes
	 * (or probes) start, counted as VMs end, ended before the summary.
	 */
	struct vs_progress *progress;
	/* Only open each provider (vmsweep check): no listing, and open
	 * failures are left to the caller to report. */
	int open_only;
	/* The plan from something else than the rules; NULL: vs_select. */
	vs_sweep_select_fn select;
	void *select_udata;
	/*
	 * The state store (state.h), borrowed, or NULL: the plan records
	 * first-seen times and gives ages by each provider's age_source
	 * (without a store first-seen ages are unknown); a run is journaled
	 * from its start, with a durable mark before each delete.
	 */
	struct vs_state *state;
};

struct vs_sweep *vs_sweep_new(const struct vs_config *cfg,
			      const struct vs_sweep_target *targets, size_t n,
			      const struct vs_sweep_opts *opts,
			      struct vs_error *err);
/* Close every opened provider, stop the workers, free; NULL is fine. */
void vs_sweep_free(struct vs_sweep *s);

/*
 * Open (and, unless opts->open_only, list) every selected provider at
 * once.  A provider that fails is recorded and the others go on.  Returns
 * 0 when all succeeded, VS_EXIT_FAILED when some did, VS_EXIT_PROVIDER
 * (err filled) when none did.
 */
int vs_sweep_inventory(struct vs_sweep *s, struct vs_error *err);

/* The providers of the sweep (after --provider) and how each one went. */
size_t vs_sweep_n_providers(const struct vs_sweep *s);
const char *vs_sweep_provider_name(const struct vs_sweep *s, size_t i);
/* How many VMs provider i listed (0 before or without a listing). */
size_t vs_sweep_provider_listed(const struct vs_sweep *s, size_t i);
/* NULL when provider i opened (and listed) fine. */
const struct vs_error *vs_sweep_provider_error(const struct vs_sweep *s,
					       size_t i);

/*
 * Select (vs_select) from the inventory into the report model, as a plan
 * (is_plan set).  Runs the inventory first when it has not run.
 * Returns VS_ERR with err filled (a bad rule, out of memory).
 */
int vs_sweep_plan(struct vs_sweep *s, struct vs_error *err);

/* The plan or, after vs_sweep_run(), the report; owned by the sweep. */
const struct vs_report *vs_sweep_report(const struct vs_sweep *s);

/*
 * Run everything (see above) and return the exit code: 0 all done; 1
 * some VMs failed, stayed unconfirmed or were not attempted, or some
 * providers could not be listed; 2 a real run without --yes or
 * confirmation; 3 no provider could be listed; 4 a safety gate (a dry run
 * goes on and reports it, then returns 4 too); 6 cancelled.
 */
int vs_sweep_run(struct vs_sweep *s, struct vs_error *err);

/*
 * Stop the run: no new delete starts, sleeps and HTTP backoffs end,
 * not-yet-run VMs become not_attempted, requested ones stop being
 * polled.  Safe from any thread; idempotent.
 */
void vs_sweep_cancel(struct vs_sweep *s);
/*
 * vs_sweep_cancel(), and cut the HTTP requests in flight too (they fail
 * with class cancelled): for when the grace period after a stop is over.
 * Safe from any thread; idempotent.
 */
void vs_sweep_abort(struct vs_sweep *s);

/*
 * Check the safety gates of a plan against cfg (limits.max_deletes,
 * max_deletes_per_provider, max_delete_percent of a provider's listed
 * inventory).  Returns the number tripped; each one is logged at WARN
 * when log is set, and the first message ("safety gate: ...") is copied
 * into msg when msg is not NULL.
 */
int vs_sweep_check_gates(const struct vs_report *plan,
			 const struct vs_config *cfg, int log, char *msg,
			 size_t sz);

#endif
