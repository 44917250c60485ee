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
	int ok;                   /* 0 when open or list failed */
	struct vs_error error;    /* why, when !ok */
	struct vs_vm_list vms;
};

/*
 * Append to plan one provider summary per inventory and the selected and
 * kept VMs, in inventory order.  now is Unix seconds.  vms[i].vm points
 * into inv[].vms, so inv must outlive plan's use of those links.
 * Returns VS_ERR with err filled on a bad regex or out of memory.
 */
int vs_select(struct vs_report *plan, const struct vs_config *cfg,
	      const struct vs_inventory *inv, size_t n_inv, int64_t now,
	      struct vs_error *err);

/* fnmatch-style glob match ("*", "?", "[...]"), optionally caseless. */
int vs_glob_match(const char *pattern, const char *s, int case_sensitive);

#endif
