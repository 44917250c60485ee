/*
 * report.h - the plan and report model, its JSON form and renderers.
 *
 * One model serves a plan (what would be deleted and what is kept) and a
 * report (the same plus one outcome per planned VM).  select fills the
 * plan part, sweep the outcomes; the writers turn it into JSON (atomic:
 * temporary file, fsync, rename), a text table or a summary; the reader
 * loads a plan or report file back (for apply, retry and report).
 *
 * Ownership: every string in the model is owned by it and freed by
 * vs_report_release().  vm and provider_index are links into the run's
 * inventory; they are NULL / (size_t)-1 in a model read from a file.
 * Not thread-safe: sweep's workers each write only their own vms[i].
 */
#ifndef VS_REPORT_H
#define VS_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "provider.h"

#define VS_REPORT_SCHEMA_VERSION 1

enum vs_outcome {
	VS_OUT_NONE = 0, /* planned, not yet run (a plan) */
	VS_OUT_DELETED,
	VS_OUT_ALREADY_ABSENT,
	VS_OUT_REQUESTED, /* accepted, not confirmed in time */
	VS_OUT_FAILED,
	VS_OUT_PRETEND,	      /* dry run */
	VS_OUT_NOT_ATTEMPTED, /* signal, deadline, circuit breaker */
	VS_OUT_PROTECTED,     /* the platform refused: locked, protected */
	VS_OUT_COUNT
};

/* Stable names: "deleted", "already_absent", ... ("planned" for NONE). */
const char *vs_outcome_name(enum vs_outcome o);
int vs_outcome_parse(const char *name, enum vs_outcome *out);

struct vs_report_vm {
	char *provider; /* instance name */
	char *id;
	char *name;
	int64_t created; /* Unix seconds or VS_TIME_UNKNOWN */
	enum vs_age_source age_source;
	char **rules; /* names of the rules that selected it */
	size_t n_rules;
	char *reason; /* human text: why it was selected */

	enum vs_outcome outcome;
	int attempts;	   /* delete attempts (HTTP retries not counted) */
	int rounds_failed; /* failed rounds before the final outcome */
	/* Runs in a row it failed in, this one included, when that reached
	 * state.flag_after (state.h); else 0. */
	int failing_runs;
	int64_t started_ms; /* 0 when not started */
	int64_t finished_ms;
	struct vs_error error; /* for failed, requested, not_attempted,
				    protected; cls NONE otherwise */

	const struct vs_vm *vm; /* link into the inventory, or NULL */
	size_t provider_index;	/* index in providers[], or (size_t)-1 */
};

struct vs_report_kept {
	char *provider;
	char *id;
	char *name;
	char *reason;
};

/*
 * A provider's adaptive concurrency over a run (aimd.h): the ceiling, the
 * window at the end, the lowest it went and how many times it was cut.
 * max is 0 when there is none (turned off, a plan, an older report).
 */
struct vs_report_concurrency {
	unsigned int max, final, min;
	unsigned long decreases;
};

struct vs_report_provider {
	char *name;
	char *type;
	long listed; /* -1 when the listing failed */
	long selected;
	long kept;
	long outcomes[VS_OUT_COUNT];
	struct vs_error error; /* why it could not be opened or listed */
	struct vs_report_concurrency concurrency;
};

struct vs_report {
	int schema_version;
	int is_plan; /* a plan file, not a report */
	char *run_id;
	int dry_run;
	int64_t created_ms; /* plan: when made; report: run start */
	int64_t finished_ms;
	char *version;
	char *config_path;
	char *retry_of;	 /* report this run retried, or NULL */
	char *plan_path; /* plan this run applied (vmsweep apply), or NULL */

	struct vs_report_provider *providers;
	size_t n_providers;
	struct vs_report_vm *vms;
	size_t n_vms, alloc_vms;
	struct vs_report_kept *kept;
	size_t n_kept, alloc_kept;
};

void vs_report_init(struct vs_report *r);
void vs_report_release(struct vs_report *r);

/* Append a provider summary, a planned VM or a kept VM (copies strings).
 * Return the new entry, or NULL when out of memory. */
struct vs_report_provider *
vs_report_add_provider(struct vs_report *r, const char *name, const char *type);
struct vs_report_vm *vs_report_add_vm(struct vs_report *r, const char *provider,
				      const struct vs_vm *vm,
				      size_t provider_index);
struct vs_report_kept *vs_report_add_kept(struct vs_report *r,
					  const char *provider,
					  const struct vs_vm *vm,
					  const char *reason);
/* Add a rule name to vm (copied). */
int vs_report_vm_add_rule(struct vs_report_vm *vm, const char *rule);

/* Recount providers[].selected/kept/outcomes from vms[] and kept[]. */
void vs_report_tally(struct vs_report *r);

/*
 * Write the model as JSON: a plan (is_plan) or a report.  path "-" is
 * stdout; anything else is written atomically (temporary file in the
 * same directory, fsync, rename, fsync of the directory), creating the
 * directory (mode 0750) when missing; the file is mode 0640.  Strings
 * that are not valid UTF-8 are written with U+FFFD in place of the bad
 * bytes.  Errors name the path and the system's reason.  The format is
 * docs/report-format.md.
 */
int vs_report_write_json(const struct vs_report *r, const char *path,
			 struct vs_error *err);
/*
 * Write len bytes of data to path atomically, as vs_report_write_json()
 * writes a report file (directory made, mode 0640, fsync, rename, fsync
 * of the directory); for the other files a run leaves (metrics).
 */
int vs_report_write_atomic(const char *path, const char *data, size_t len,
			   struct vs_error *err);
/*
 * Read a plan or report file ("-" is stdin) into r, which is
 * (re)initialised first, so it must not hold anything.  Strict: a wrong
 * schema_version, a missing field or a wrong type is a one-line error
 * naming the file and the JSON path ("plan.json: vms[3].id: expected a
 * string"), class VS_EC_CONFIG.  Unknown fields are ignored (additive
 * schema changes keep the version).  Files over VS_REPORT_MAX_FILE are
 * refused.  On failure r is left empty.
 */
#define VS_REPORT_MAX_FILE ((size_t)256 * 1024 * 1024)
int vs_report_read_json(struct vs_report *r, const char *path,
			struct vs_error *err);

/*
 * The plan as a table: provider, VM, short id, age (at created_ms), rules;
 * then the kept VMs with their reasons; then per-provider counts.  Text
 * that came from a platform is printed with control characters escaped.
 */
void vs_report_print_plan(const struct vs_report *r, FILE *out);
/*
 * Provider x outcome table (only outcomes that occurred, plus a total),
 * then providers that could not be listed, then every VM that makes the
 * exit code 1 with its error class, HTTP status, message and attempts,
 * then warnings for VMs that succeeded only after failing a round.
 */
void vs_report_print_summary(const struct vs_report *r, FILE *out);

/* The exit code the report implies, as the run that wrote it exits when
 * no gate, signal or listing failure of every provider ended it: 1 if
 * any VM failed or is only requested (unconfirmed) or not attempted (or,
 * in a report, never got an outcome at all), or a provider could not be
 * listed; else 0.  A plan is always 0. */
int vs_report_exit_code(const struct vs_report *r);

/* Format an age in seconds compactly: "45s", "12m", "5h12m", "3d4h",
 * "120d"; a negative age (clock skew) gets a leading '-'. */
void vs_report_format_age(char *buf, size_t sz, int64_t secs);

/*
 * Length of the well-formed UTF-8 sequence at p (1..4), or 0 when the
 * bytes there are not one: overlongs, surrogates and values past
 * U+10FFFF are refused, as jansson refuses them.  *cp gets the value.
 * Shared by the escapers here and in render.c; thread-safe.
 */
size_t vs_utf8_seq(const unsigned char *p, uint32_t *cp);

/*
 * 1 for the code points a terminal may act on or that make text read
 * differently from what it is: C0/C1 controls, DEL and the
 * bidirectional overrides.
 */
int vs_cp_is_unsafe(uint32_t c);

#endif
