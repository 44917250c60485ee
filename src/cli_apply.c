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
#include <getopt.h>
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

static int configured(const struct vs_cli *cli, const char *name)
{
	size_t i;

	for (i = 0; i < cli->n_targets; i++)
		if (strcmp(cli->targets[i].cp->name, name) == 0)
			return 1;
	return 0;
}

/*
 * The configured providers that hold a VM of the plan, each once, into
 * *only.  Returns 0, or -1 when out of memory.
 */
static int providers_to_list(const struct vs_cli *cli,
			     const struct vs_report *plan, const char ***only,
			     size_t *n_only)
{
	size_t i, k;

	for (i = 0; i < plan->n_vms; i++) {
		const char *p = plan->vms[i].provider;

		if (!configured(cli, p))
			continue;
		for (k = 0; k < *n_only; k++)
			if (strcmp((*only)[k], p) == 0)
				break;
		if (k == *n_only && vs_cli_push_arg(only, n_only, p) != VS_OK)
			return -1;
	}
	return 0;
}

int vs_cli_apply(struct vs_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{"dry-run", no_argument, NULL, 'n'},
		{"yes", no_argument, NULL, 'y'},
		{"report", required_argument, NULL, 'r'},
		{"metrics-file", required_argument, NULL, 'm'},
		{"workers", required_argument, NULL, 'w'},
		{"force-limits", no_argument, NULL, 'F'},
		{"max-runtime", required_argument, NULL, 'M'},
		{"no-progress", no_argument, NULL, 'N'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct vs_cli_exec x = {vs_time_mono_ms(), -1, 0, NULL};
	struct vs_sweep_opts so;
	struct vs_report plan;
	struct vs_retry rt = {0};
	struct vs_error err;
	const char **only = NULL, *path = NULL;
	size_t n_only = 0;
	long workers = 0;
	int c, rc;

	memset(&so, 0, sizeof(so));
	vs_report_init(&plan);
	optind = 0;
	opterr = 0;
	/* No '+': PLAN.json may come before the options. */
	while ((c = getopt_long(argc, argv, ":nyh", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			so.dry_run = 1;
			break;
		case 'y':
			so.yes = 1;
			break;
		case 'r':
			so.report_path = optarg;
			break;
		case 'm':
			x.metrics_file = optarg;
			break;
		case 'w':
			if (vs_cli_parse_int(optarg, 1, 1024, &workers) !=
			    VS_OK) {
				rc = vs_cli_usage_error(
					"apply",
					"--workers takes a number from 1 to "
					"1024, not '%s'",
					optarg);
				goto out;
			}
			break;
		case 'F':
			so.force_limits = 1;
			break;
		case 'M':
			if (vs_duration_parse(optarg, &x.max_runtime_ms) != 0 ||
			    x.max_runtime_ms < 1000) {
				rc = vs_cli_usage_error(
					"apply",
					"--max-runtime takes a duration of "
					"at least 1s, not '%s'",
					optarg);
				goto out;
			}
			break;
		case 'N':
			x.no_progress = 1;
			break;
		case 'h':
			apply_usage(stdout);
			rc = VS_EXIT_OK;
			goto out;
		default:
			rc = vs_cli_bad_option("apply", c, argv);
			goto out;
		}
	}
	if (optind >= argc) {
		rc = vs_cli_usage_error("apply", "which plan? (PLAN.json)");
		goto out;
	}
	path = argv[optind++];
	if (optind < argc) {
		rc = vs_cli_usage_error("apply", "unexpected argument '%s'",
					argv[optind]);
		goto out;
	}
	if (so.yes && so.dry_run) {
		rc = vs_cli_usage_error("apply",
					"--yes and --dry-run exclude each "
					"other");
		goto out;
	}

	/* The configuration first: it holds limits.max_plan_age. */
	if ((rc = vs_cli_load_config(cli)) != VS_EXIT_OK ||
	    (rc = vs_cli_setup_log(cli)) != VS_EXIT_OK)
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
	if (providers_to_list(cli, &plan, &only, &n_only) != 0) {
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
	so.workers = (int)workers;
	so.select = vs_retry_select;
	so.select_udata = &rt;
	rc = vs_cli_execute(cli, &so, &x);
out:
	vs_report_release(&plan);
	free((void *)only);
	return rc;
}
