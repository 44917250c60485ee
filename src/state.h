/*
 * state.h - the state store: first-seen ages and the run journal, in one
 * SQLite database (docs/state.md).
 *
 * First seen.  vSphere's REST API gives no creation time, so vmsweep
 * remembers when it first listed each (provider name, VM id).  Every
 * listing (plans and dry runs included, so that a dry run predicts what a
 * later run does) records it with vs_state_observe(), which also gives
 * each VM the age its provider's age_source asks for (config.h enum
 * vs_age_policy) and prunes VMs not listed for state.retention.  Ages
 * fail closed: without a usable store, first-seen ages are unknown and
 * age rules never select those VMs.
 *
 * Journal.  A run is recorded as it goes: the run and its plan when it
 * starts (vs_state_run_begin), a "started" mark before each delete
 * attempt (vs_state_vm_started, which returns only once the mark is on
 * disk), each VM's outcome when it ends (vs_state_vm_ended, queued), and
 * everything final before the report is written (vs_state_run_end).  So
 * a run killed at any point leaves a journal from which
 * vs_state_load_run() rebuilds its report: every VM whose DELETE may
 * have been sent shows as started (requested) or with its outcome.
 *
 * Writes from workers go through an in-memory queue to one writer
 * thread, which commits them in batches (at most VS_STATE_BATCH_ROWS
 * rows or VS_STATE_BATCH_DELAY_MS after the first one waited).  A started
 * mark is urgent: its worker waits on a condition until the batch holding
 * its sequence number is committed, and the writer commits without delay
 * while anyone waits, so the marks of many workers share one fsync (group
 * commit).  The database is in WAL mode with synchronous=FULL: a
 * committed transaction survives a crash of the process or the machine.
 *
 * Failures.  The store is a help, not a precondition: when it cannot be
 * opened or read, or a write fails, one warning is logged (per store and
 * concern: ages, journal) naming the path and the reason, first-seen
 * ages are unknown, the journal stops, and the run goes on.  A corrupt
 * or foreign file is never overwritten.
 *
 * Ownership: vs_state_open() returns a heap object freed by
 * vs_state_free(); vs_state_list_runs() returns an array freed with
 * free().  Strings passed in are copied.
 *
 * Threading: vs_state_vm_started() and vs_state_vm_ended() are safe from
 * any thread (worker threads, between vs_state_run_begin() and
 * vs_state_run_end()); they take the queue lock, never the database.
 * Everything else is called from one thread (the sweep's owner).  The
 * connection is used under the store's database lock, by the owner or by
 * the writer thread.  Two processes may share one database: SQLite's
 * locks serialise them and a busy timeout (state.busy_timeout) makes one
 * wait for the other.
 */
#ifndef VS_STATE_H
#define VS_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "provider.h"
#include "report.h"

#define VS_STATE_SCHEMA_VERSION 2
#define VS_STATE_BATCH_ROWS	256
#define VS_STATE_BATCH_DELAY_MS 50

/* vs_state_load_run(): the journal holds no such run (or none at all). */
#define VS_STATE_NO_RUN (-2)

struct vs_state;

struct vs_state_opts {
	const char *path;	 /* the database file */
	int64_t busy_timeout_ms; /* wait this long for another process */
	int64_t retention_ms;	 /* prune first-seen records and runs */
	int no_create;		 /* 1: a missing file is an error (readers) */
};

/*
 * The database path for cfg: state.path when set, else state.db in
 * $STATE_DIRECTORY (systemd's StateDirectory=, first entry), in
 * $XDG_STATE_HOME/vmsweep or in $HOME/.local/state/vmsweep (the state
 * directory of paths.h; the last two created, mode 0700, when missing and
 * create is 1).  Appends to out.
 * Returns VS_ERR with err filled (class config) when no place is known.
 */
int vs_state_path_for(const struct vs_config *cfg, int create,
		      struct vs_buf *out, struct vs_error *err);

/*
 * Open (creating when allowed, mode 0600) and migrate the store: WAL,
 * synchronous=FULL, the busy timeout, the schema brought to
 * VS_STATE_SCHEMA_VERSION (PRAGMA user_version).  Returns NULL with err
 * filled ("state store 'PATH': REASON", class config) when the file
 * cannot be opened, is not a database, is locked past the busy timeout,
 * or has a newer schema.
 */
struct vs_state *vs_state_open(const struct vs_state_opts *o,
			       struct vs_error *err);

/*
 * vs_state_open() of the store cfg names (state.*), for a run or a plan:
 * on failure logs one warning ("state store ...; first-seen ages are
 * unknown and no journal is kept") and returns NULL.
 */
struct vs_state *vs_state_open_config(const struct vs_config *cfg);

/*
 * vs_state_open() of the store cfg names, for reading (history, report):
 * never created.  NULL with err filled when it is missing or unusable.
 */
struct vs_state *vs_state_open_existing(const struct vs_config *cfg,
					struct vs_error *err);

void vs_state_free(struct vs_state *st);
const char *vs_state_path(const struct vs_state *st);

/* ------------------------------------------------------------------ */
/* First seen.                                                          */

/*
 * Record provider's listing at now (Unix seconds): each VM's first_seen
 * (kept when known) and last_seen (now), in one transaction that also
 * prunes records not seen for the retention.  Then give every VM its
 * age by policy: created keeps the platform's creation time (unknown
 * when it has none); first_seen sets vm->created to the first sighting
 * and vm->age_source to VS_AGE_FIRST_SEEN; auto does the former when the
 * VM has a creation time (vm->age_source VS_AGE_CREATED), else the
 * latter.  caps are the plugin's (VS_CAP_CREATED); policy created on a
 * plugin without it logs a warning.
 *
 * st may be NULL (no store).  Without a store, or when the transaction
 * fails, first-seen ages are unknown (created VS_TIME_UNKNOWN, source
 * VS_AGE_NONE); the first failure is logged as a warning and the store
 * is not asked again for ages.  Returns 0, or VS_ERR when first-seen
 * ages are unknown for that reason.
 */
int vs_state_observe(struct vs_state *st, const char *provider,
		     enum vs_age_policy policy, unsigned int caps,
		     struct vs_vm_list *vms, int64_t now);

/* ------------------------------------------------------------------ */
/* The journal.                                                         */

/*
 * Record a run about to start: r's run id, mode, start, version, config
 * path, retry_of and pid; its providers, planned VMs and kept VMs.  One
 * transaction, durable on return; runs older than the retention are
 * pruned in it.  Then the writer thread starts.  Calling it again for
 * the run already begun does nothing.  Returns VS_ERR (logged
 * once as a warning) when it could not; the journal then stays off for
 * this store and every journal call below is a no-op.
 */
int vs_state_run_begin(struct vs_state *st, const struct vs_report *r,
		       long pid);

/*
 * Mark planned VM idx (its index in r->vms) as started (its delete is
 * about to be sent; attempt number and start time from v) and wait until
 * the mark is committed.  Returns 0 once it is durable; VS_ERR when the
 * journal is off or failed (the caller goes on: the report remains the
 * record).  Any thread.  st may be NULL.
 */
int vs_state_vm_started(struct vs_state *st, size_t idx,
			const struct vs_report_vm *v);

/*
 * Queue VM idx's outcome as it stands in v (copied); committed in the
 * next batch.  Any thread; never waits for the disk.  st may be NULL.
 */
void vs_state_vm_ended(struct vs_state *st, size_t idx,
		       const struct vs_report_vm *v);

/*
 * For each VM of r that failed, count the runs of the same mode in a
 * row, newest first, in which it failed, this one included; when that
 * is at least flag_after (> 0), set its failing_runs to the count.  Reads
 * only earlier runs.  Returns how many VMs were flagged.  st may be NULL.
 */
size_t vs_state_flag_failing(struct vs_state *st, struct vs_report *r,
			     int flag_after);

/*
 * Finish the run: commit what is queued, stop the writer, then write
 * every VM's final outcome (and failing_runs) and the run's end in one
 * transaction, durable on return.  Call before the report is written.
 * Returns VS_ERR (logged once) when it could not.  st may be NULL.
 */
int vs_state_run_end(struct vs_state *st, const struct vs_report *r);

/* ------------------------------------------------------------------ */
/* Reading the journal.                                                 */

enum vs_state_run_status {
	VS_RUN_FINISHED = 0, /* vs_state_run_end() recorded its end */
	VS_RUN_RUNNING,	     /* no end yet, and its process is alive */
	VS_RUN_UNFINISHED,   /* no end, and its process is gone (killed) */
};

struct vs_state_run {
	char id[64];
	int dry_run;
	int64_t started_ms;
	int64_t finished_ms; /* 0 when not finished */
	long pid;
	enum vs_state_run_status status;
	long n_vms;		     /* planned */
	long n_kept;		     /* kept */
	long outcomes[VS_OUT_COUNT]; /* as vs_state_load_run() would give */
	long flagged;		     /* VMs with failing_runs set */
};

/*
 * Rebuild the report of run id (NULL: the newest run) into r, which is
 * initialised first and must hold nothing.  VMs of an unfinished run
 * that were started but have no outcome become requested ("delete
 * started; the run ended before its outcome was recorded"), those never
 * started not_attempted; a journaled interim outcome stays.  info (if not
 * NULL) gets the run's summary.  Returns 0, VS_STATE_NO_RUN (err filled,
 * class config) when there is no such run, or VS_ERR with err filled.
 */
int vs_state_load_run(struct vs_state *st, const char *id, struct vs_report *r,
		      struct vs_state_run *info, struct vs_error *err);

/*
 * The newest limit runs (limit 0: all), newest first, into *runs (free()
 * it) and *n.  Returns VS_ERR with err filled.
 */
int vs_state_list_runs(struct vs_state *st, size_t limit,
		       struct vs_state_run **runs, size_t *n,
		       struct vs_error *err);

/* Stable name of a status: "finished", "running", "unfinished". */
const char *vs_state_run_status_name(enum vs_state_run_status s);

#endif
