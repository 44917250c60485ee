/*
 * cli_apply.c - vmsweep apply PLAN.json: delete exactly the VMs of a
 * reviewed plan.
 *
 * The plan comes from the file instead of the rules, and each of its VMs
 * is re-checked against a fresh listing first, by the same code as retry
 * (retry.h): same id, name and creation time, and still not protected.
 * A plan older than limits.max_plan_age, or a report passed as a plan,
 * is refused.  The rest is a run (vs_cli_execute): the same lock, gates,
 * circuit breaker, --yes rule, deletes, retry rounds, report (with
 * run.plan naming the plan), metrics and pruning.  Only the providers
 * that hold a VM of the plan are listed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "error.h"
#include "report.h"
#include "retry.h"
#include "sweep.h"
#include "timeutil.h"

static void apply_usage(FILE *out)
{
	fprintf(out,
		"usage: vmsweep apply PLAN.json [--yes|--dry-run] [--report "
		"FILE]\n"
		"                     [--metrics-file FILE] [--workers N] "
		"[--force-limits]\n"
		"                     [--max-runtime DURATION] "
		"[--no-progress]\n"
		"\n"
		"Delete exactly the VMs listed in PLAN.json (written by "
		"'vmsweep plan -o'),\n"
		"and nothing else.  Each is re-checked first: a VM gone since "
		"is\n"
		"already_absent; one renamed, recreated or protected since is "
		"kept with the\n"
		"reason.  A plan older than limits.max_plan_age (default 24h) "
		"is refused.\n"
		"The report's run.plan names PLAN.json.\n"
		"\n"
		"  -n, --dry-run        probe instead of deleting\n"
		"  -y, --yes            delete without asking (required when "
		"not on a terminal)\n"
		"      --report FILE    write the report here (default: "
		"report.dir)\n"
		"      --metrics-file F write Prometheus metrics to F (default "
		"for real runs:\n"
		"                       report.metrics_file)\n"
		"      --workers N      worker threads (default: run.workers)\n"
		"      --force-limits   go on past the safety gates\n"
		"      --max-runtime D  stop after D, as SIGTERM would\n"
		"      --no-progress    no progress line on a terminal\n"
		"  -h, --help           this help\n"
		"\n"
		"exit status: as for run; 0 also when the plan selects no VM; "
		"2 for a report,\n"
		"a plan too old or unreadable, or none of its providers "
		"configured.\n");
}

int vs_cli_apply(struct vs_cli *cli, int argc, char **argv)
{
	struct vs_cli_exec x = {vs_time_mono_ms(), -1, 0, NULL};
	struct vs_sweep_opts so;
	struct vs_report plan;
	struct vs_retry rt = {0};
	struct vs_error err;
	const char **only = NULL, *path = NULL;
	size_t n_only = 0;
	int rc;

	memset(&so, 0, sizeof(so));
	vs_report_init(&plan);
	rc = vs_cli_parse_file_args("apply", "which plan? (PLAN.json)",
				    apply_usage, argc, argv, &so, &x, &path);
	if (rc != VS_EXIT_OK || !path)
		goto out;

	/* The configuration first: it holds limits.max_plan_age. */
	if ((rc = vs_cli_setup(cli)) != VS_EXIT_OK)
		goto out;
	vs_error_clear(&err);
	if (vs_report_read_json(&plan, path, &err) != VS_OK ||
	    vs_apply_check_source(&plan, path, vs_time_now_ms(),
				  cli->cfg.max_plan_age_ms, &err) != VS_OK) {
		vs_cli_error("%s", err.message);
		rc = VS_EXIT_USAGE;
		goto out;
	}
	if (plan.n_vms == 0) {
		printf("nothing to apply: %s selects no VMs\n", path);
		rc = VS_EXIT_OK;
		goto out;
	}
	if (vs_cli_make_targets(cli)) {
		rc = VS_EXIT_USAGE;
		goto out;
	}
	if (vs_cli_report_providers(cli, &plan, NULL, &only, &n_only) < 0) {
		vs_cli_error("out of memory");
		rc = VS_EXIT_FAILED;
		goto out;
	}
	if (n_only == 0) {
		/* Likely the wrong configuration file: say so, list nothing. */
		vs_cli_error("%s: none of the providers of its %zu VM%s is in "
			     "the configuration %s",
			     path, plan.n_vms, plan.n_vms == 1 ? "" : "s",
			     cli->cfg.path ? cli->cfg.path : "");
		rc = VS_EXIT_USAGE;
		goto out;
	}

	rt.from = &plan;
	rt.from_path = path;
	rt.apply = 1;
	so.only = only;
	so.n_only = n_only;
	so.select = vs_retry_select;
	so.select_udata = &rt;
	rc = vs_cli_execute(cli, &so, &x);
out:
	vs_report_release(&plan);
	free((void *)only);
	return rc;
}
