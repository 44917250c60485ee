/*
 * select.h - rules and protections turn an inventory into a plan.
 *
 * Protections always win over rules.  An unknown creation time never
 * satisfies an age rule (fail closed).  Every selected VM records each
 * rule that selected it; every kept VM (matched by a rule's name pattern
 * but not selected) records why.
 *
 * Pure functions over their arguments; thread-safe.
 */
#ifndef VS_SELECT_H
#define VS_SELECT_H

#include <stdint.h>

#include "config.h"
#include "report.h"

/* One provider's listing, as the sweep collected it. */
struct vs_inventory {
	const struct vs_config_provider *provider;
	const char *type;
	int ok;		       /* 0 when open or list failed */
	struct vs_error error; /* why, when !ok */
	struct vs_vm_list vms;
};

/*
 * Append to plan one provider summary per inventory and the selected and
 * kept VMs, in inventory order.  now is Unix seconds.  vms[i].vm points
 * into inv[].vms, so inv must outlive plan's use of those links.
 * Returns VS_ERR with err filled on a bad regex or out of memory.
 *
 * Details (docs/report-format.md shows the reasons):
 * - A rule applies to the providers it names (all when none); its name
 *   patterns are globs (vs_glob_match) and POSIX extended regexes, both
 *   honouring case_sensitive.  A rule with no pattern matches nothing.
 * - Protections, checked first and matched without regard to case:
 *   cfg->protect_names and the provider's protect_names globs; the
 *   marker as a tag, a metadata key (any value) or a token of the
 *   description; the expiry marker (tag "M=DATE", metadata key M, or
 *   "M=DATE" in the description) until DATE, the latest date winning and
 *   an unreadable date protecting for good; vm->platform_protection.
 * - older_than / newer_than compare now - created (strictly); an unknown
 *   creation time never satisfies them; a power rule never selects a VM
 *   whose power state is unknown.
 * - Kept: VMs a rule's pattern matched that are not selected, each with
 *   a reason; other VMs are only counted in listed.  A warning with the
 *   count of VMs kept for an unknown age is logged once per provider.
 * - A failed inventory gives listed = -1 and its error.
 * - plan->created_ms is set to now when it is 0; providers' selected and
 *   kept are tallied at the end.
 */
int vs_select(struct vs_report *plan, const struct vs_config *cfg,
	      const struct vs_inventory *inv, size_t n_inv, int64_t now,
	      struct vs_error *err);

/*
 * The protections alone (no rules), as vs_select checks them first: 1
 * with the reason ("protected by marker 'vmsweep:keep' (tag)") in why
 * (cut to sz, always terminated) when anything protects vm on provider
 * prov (may be NULL), else 0.  For re-checking a VM chosen earlier
 * (vmsweep retry).
 */
int vs_select_protected(const struct vs_config *cfg,
			const struct vs_config_provider *prov,
			const struct vs_vm *vm, int64_t now, char *why,
			size_t sz);

/* What one VM comes to (vs_select_explain). */
enum vs_verdict {
	VS_VERDICT_IGNORED = 0, /* no rule's pattern matches its name */
	VS_VERDICT_KEPT,	/* a rule matched; protected or not selected */
	VS_VERDICT_SELECTED,	/* a plan would delete it */
};

enum vs_step_kind {
	VS_STEP_PROTECTION = 1,
	VS_STEP_RULE,
};

/* One check made while evaluating a VM. */
struct vs_select_step {
	enum vs_step_kind kind;
	/*
	 * A rule's name, or the protection's configuration key:
	 * "protect.names", "providers[].protect_names", "protect.marker",
	 * "protect.expiry_marker" or "platform".
	 */
	char *name;
	int hit;    /* a rule that selects; a protection that protects */
	char *text; /* one line: what was compared and how it came out */
};

/*
 * Every step of one VM's evaluation, in the order they are checked:
 * first the protections that apply (and an expiry that has passed),
 * then each rule in configuration order (out of scope, name not matched,
 * age or power state not met, or what it selects on).  reason is what a
 * plan would say (the selection's or the kept reason); NULL when
 * IGNORED.
 */
struct vs_select_trace {
	struct vs_select_step *steps;
	size_t n, alloc;
	enum vs_verdict verdict;
	char *reason;
	int oom; /* internal */
};

/*
 * Evaluate vm on provider prov (may be NULL) exactly as vs_select()
 * does, recording every step into t (initialised here; release with
 * vs_select_trace_release() on success).  Returns VS_ERR with err filled
 * on a bad rule or out of memory (t then holds nothing).
 */
int vs_select_explain(struct vs_select_trace *t, const struct vs_config *cfg,
		      const struct vs_config_provider *prov,
		      const struct vs_vm *vm, int64_t now,
		      struct vs_error *err);
/* Free what t holds; NULL is fine. */
void vs_select_trace_release(struct vs_select_trace *t);

/*
 * fnmatch-style glob match ("*", "?", "[...]", "[!...]", backslash escapes;
 * bytes, not characters), optionally caseless (ASCII).  1 on a match.
 */
int vs_glob_match(const char *pattern, const char *s, int case_sensitive);

#endif
