/*
 * cli_explain.c - vmsweep explain NAME|ID: why a VM would be deleted or
 * kept.
 *
 * Lists the providers as plan does, finds every VM whose id or name is
 * exactly the argument, and prints, for each, every protection that
 * applies, every rule (out of scope, name not matched, age or power state
 * not met, or selecting), and the verdict.  The verdict comes from the
 * evaluator plans use (vs_select_explain), with the same clock and the
 * same first-seen ages (recorded as a plan records them), so what
 * explain says is what a run would do.  Deletes nothing.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "error.h"
#include "report.h"
#include "select.h"
#include "state.h"
#include "sweep.h"
#include "timeutil.h"

/* Output cap: a name matching thousands of VMs still ends. */
#define EXPLAIN_CAP (8 * 1024 * 1024)

struct explain {
	const char *target;
	struct vs_buf out;
	size_t found;
	size_t unlisted; /* providers that could not be listed */
};

static void explain_usage(FILE *out)
{
	fprintf(out,
		"usage: vmsweep explain NAME|ID [--provider NAME]...\n"
		"\n"
		"List the providers, find every VM whose id or name is exactly "
		"NAME|ID, and\n"
		"show for each one every protection that applies, every rule "
		"(matched or\n"
		"not, and why: pattern, age against the threshold, power "
		"state, provider\n"
		"scope) and the verdict: would be deleted, or kept and why.  "
		"Nothing is\n"
		"changed.\n"
		"\n"
		"      --provider NAME  only this provider (repeatable)\n"
		"  -h, --help           this help\n"
		"\n"
		"exit status: 0 found; 1 no such VM (or some providers could "
		"not be listed\n"
		"and it was not found on the others); 2 usage or "
		"configuration error;\n"
		"3 no provider could be listed.\n");
}

/* Untrusted text (names, ids, tags) with control characters escaped. */
static void add_safe(struct vs_buf *b, const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)(s ? s : ""); *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			vs_buf_addf(b, "\\x%02x", *p);
		else
			vs_buf_add(b, (const char *)p, 1);
	}
}

static const char *power_word(enum vs_power p)
{
	switch (p) {
	case VS_POWER_ON:
		return "on";
	case VS_POWER_OFF:
		return "off";
	case VS_POWER_SUSPENDED:
		return "suspended";
	default:
		return "unknown";
	}
}

static void add_age(struct vs_buf *b, const struct vs_vm *vm, int64_t now)
{
	char when[32], age[32];

	if (vm->age_source == VS_AGE_NONE || vm->created == VS_TIME_UNKNOWN) {
		vs_buf_adds(b, "  age: unknown (age rules never select it)\n");
		return;
	}
	vs_time_format(when, sizeof(when), vm->created);
	vs_report_format_age(age, sizeof(age), now - vm->created);
	vs_buf_addf(b, "  age: %s (since %s, %s)\n", age, when,
		    vm->age_source == VS_AGE_FIRST_SEEN
			    ? "when vmsweep first saw it"
			    : "created");
}

static void add_vm(struct vs_buf *b, const struct vs_config_provider *prov,
		   const struct vs_vm *vm, const struct vs_select_trace *t,
		   int64_t now)
{
	size_t i, n_prot = 0;

	add_safe(b, prov ? prov->name : "");
	vs_buf_adds(b, " ");
	add_safe(b, vm->name);
	vs_buf_adds(b, " (id ");
	add_safe(b, vm->id);
	vs_buf_adds(b, ")\n");
	add_age(b, vm, now);
	vs_buf_addf(b, "  power: %s", power_word(vm->power));
	if (vm->status) {
		vs_buf_adds(b, ", status ");
		add_safe(b, vm->status);
	}
	vs_buf_adds(b, "\n  protections:\n");
	for (i = 0; i < t->n; i++) {
		if (t->steps[i].kind != VS_STEP_PROTECTION)
			continue;
		vs_buf_addf(b, "    %s %s: ",
			    t->steps[i].hit ? "applies" : "expired",
			    t->steps[i].name);
		add_safe(b, t->steps[i].text);
		vs_buf_adds(b, "\n");
		n_prot += t->steps[i].hit;
	}
	if (!n_prot)
		vs_buf_adds(b, "    none applies\n");
	vs_buf_adds(b, "  rules:\n");
	for (i = 0; i < t->n; i++) {
		if (t->steps[i].kind != VS_STEP_RULE)
			continue;
		vs_buf_addf(b,
			    "    %s %s: ", t->steps[i].hit ? "selects" : "no",
			    t->steps[i].name);
		add_safe(b, t->steps[i].text);
		vs_buf_adds(b, "\n");
	}
	switch (t->verdict) {
	case VS_VERDICT_SELECTED:
		vs_buf_adds(b, "  verdict: would be deleted: ");
		add_safe(b, t->reason);
		break;
	case VS_VERDICT_KEPT:
		vs_buf_adds(b, "  verdict: kept: ");
		add_safe(b, t->reason);
		break;
	case VS_VERDICT_IGNORED:
		vs_buf_adds(b, "  verdict: not selected: no rule matches its "
			       "name");
		if (n_prot)
			vs_buf_adds(b, " (and it is protected)");
		break;
	}
	vs_buf_adds(b, "\n\n");
}

/*
 * The sweep's select hook: the plan as usual (vs_select), and every VM
 * named like the target explained with the same inventory and clock.
 */
static int explain_select(struct vs_report *plan, const struct vs_config *cfg,
			  const struct vs_inventory *inv, size_t n_inv,
			  int64_t now, void *udata, struct vs_error *err)
{
	struct explain *x = udata;
	struct vs_select_trace t;
	size_t i, j;

	if (vs_select(plan, cfg, inv, n_inv, now, err) != VS_OK)
		return VS_ERR;
	for (i = 0; i < n_inv; i++) {
		if (!inv[i].ok) {
			x->unlisted++;
			continue;
		}
		for (j = 0; j < inv[i].vms.n; j++) {
			const struct vs_vm *vm = &inv[i].vms.items[j];

			if ((!vm->id || strcmp(vm->id, x->target) != 0) &&
			    (!vm->name || strcmp(vm->name, x->target) != 0))
				continue;
			if (vs_select_explain(&t, cfg, inv[i].provider, vm, now,
					      err) != VS_OK)
				return VS_ERR;
			add_vm(&x->out, inv[i].provider, vm, &t, now);
			vs_select_trace_release(&t);
			x->found++;
		}
	}
	return VS_OK;
}

int vs_cli_explain(struct vs_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{"provider", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct vs_sweep_opts so;
	struct vs_sweep *s = NULL;
	struct vs_state *state = NULL;
	struct explain x;
	const char **only = NULL;
	size_t n_only = 0;
	int c, rc;

	memset(&x, 0, sizeof(x));
	vs_buf_init(&x.out, EXPLAIN_CAP);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if ((rc = vs_cli_add_provider(&only, &n_only,
						      optarg)) != VS_EXIT_OK)
				goto out;
			break;
		case 'h':
			explain_usage(stdout);
			rc = VS_EXIT_OK;
			goto out;
		default:
			rc = vs_cli_bad_option("explain", c, argv);
			goto out;
		}
	}
	if (optind >= argc) {
		rc = vs_cli_usage_error("explain", "which VM? (NAME or ID)");
		goto out;
	}
	x.target = argv[optind++];
	if ((rc = vs_cli_no_more_args("explain", argc, argv)) != VS_EXIT_OK)
		goto out;
	if ((rc = vs_cli_setup_targets(cli)) != VS_EXIT_OK)
		goto out;

	memset(&so, 0, sizeof(so));
	so.only = only;
	so.n_only = n_only;
	so.select = explain_select;
	so.select_udata = &x;
	/* First-seen ages as a plan sees them (state.h). */
	so.state = state = vs_state_open_config(&cli->cfg);
	s = vs_cli_plan_sweep(cli, &so, &rc);
	if (!s)
		goto out;
	if (x.out.len)
		fwrite(x.out.s, 1, x.out.len, stdout);
	fflush(stdout);
	if (x.found) {
		if (x.unlisted)
			vs_cli_error("%zu provider%s could not be listed; "
				     "there may be more VMs named '%s'",
				     x.unlisted, x.unlisted == 1 ? "" : "s",
				     x.target);
		rc = VS_EXIT_OK;
		goto out;
	}
	vs_cli_error("no VM with the id or name '%s' on %s%s", x.target,
		     n_only ? "the providers given" : "any provider",
		     x.unlisted ? " that could be listed" : "");
	rc = VS_EXIT_FAILED;
out:
	vs_sweep_free(s);
	vs_state_free(state);
	vs_buf_release(&x.out);
	free((void *)only);
	return rc;
}
