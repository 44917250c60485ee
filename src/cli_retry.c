/*
 * cli_retry.c - vmsweep retry REPORT.json: delete again exactly the VMs an
 * earlier run left failed or unconfirmed.
 *
 * The plan comes from the report instead of the rules (retry.h says how
 * each VM is re-checked); the rest is a run: the same lock, gates, --yes
 * rule, deletes, retry rounds, report (with run.retry_of set), metrics
 * and pruning.  Only the providers that hold a VM to retry are listed.
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

static void retry_usage(FILE *out)
{
	fprintf(out,
		"usage: vmsweep retry REPORT.json [--yes|--dry-run] [--report "
		"FILE]\n"
		"                     [--metrics-file FILE] [--workers N] "
		"[--force-limits]\n"
		"                     [--max-runtime DURATION] "
		"[--no-progress]\n"
		"\n"
		"Delete again the VMs whose outcome in REPORT.json is failed "
		"or "
		"requested\n"
		"(not confirmed), and nothing else.  Each is re-checked first: "
		"a VM gone\n"
		"since is already_absent; one renamed, recreated or protected "
		"since is kept\n"
		"with the reason; one whose provider is no longer configured "
		"is\n"
		"not_attempted.  The new report's run.retry_of names "
		"REPORT.json.\n"
		"\n"
		"  -n, --dry-run        probe instead of deleting\n"
		"  -y, --yes            delete without asking (required when "
		"not on a terminal)\n"
		"      --report FILE    write the new report here (default: "
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
		"exit status: as for run; 0 also when REPORT.json has nothing "
		"to retry;\n"
		"2 for a plan file or a dry run's report.\n");
}

/* 1 when some target is named name. */
static int configured(const struct vs_cli *cli, const char *name)
{
	size_t i;

	for (i = 0; i < cli->n_targets; i++)
		if (strcmp(cli->targets[i].cp->name, name) == 0)
			return 1;
	return 0;
}

/*
 * The configured providers that hold a VM to retry, each once, into
 * *only.  Returns the number of VMs on providers that are not
 * configured, or -1 when out of memory.
 */
static long providers_to_list(const struct vs_cli *cli,
			      const struct vs_report *r, const char ***only,
			      size_t *n_only)
{
	size_t i, k;
	long missing = 0;

	for (i = 0; i < r->n_vms; i++) {
		const char *p = r->vms[i].provider;

		if (!vs_retry_wanted(r->vms[i].outcome))
			continue;
		if (!configured(cli, p)) {
			missing++;
			continue;
		}
		for (k = 0; k < *n_only; k++)
			if (strcmp((*only)[k], p) == 0)
				break;
		if (k == *n_only && vs_cli_push_arg(only, n_only, p) != VS_OK)
			return -1;
	}
	return missing;
}

int vs_cli_retry(struct vs_cli *cli, int argc, char **argv)
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
	struct vs_report from;
	struct vs_retry rt = {0};
	struct vs_error err;
	const char **only = NULL, *path = NULL;
	size_t n_only = 0, n_retry;
	long workers = 0, missing;
	int c, rc;

	memset(&so, 0, sizeof(so));
	vs_report_init(&from);
	optind = 0;
	opterr = 0;
	/* No '+': REPORT.json may come before the options. */
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
					"retry",
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
					"retry",
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
			retry_usage(stdout);
			rc = VS_EXIT_OK;
			goto out;
		default:
			rc = vs_cli_bad_option("retry", c, argv);
			goto out;
		}
	}
	if (optind >= argc) {
		rc = vs_cli_usage_error("retry", "which report? (REPORT.json)");
		goto out;
	}
	path = argv[optind++];
	if (optind < argc) {
		rc = vs_cli_usage_error("retry", "unexpected argument '%s'",
					argv[optind]);
		goto out;
	}
	if (so.yes && so.dry_run) {
		rc = vs_cli_usage_error("retry",
					"--yes and --dry-run exclude each "
					"other");
		goto out;
	}

	vs_error_clear(&err);
	if (vs_report_read_json(&from, path, &err) != VS_OK ||
	    vs_retry_check_source(&from, path, &err) != VS_OK) {
		vs_cli_error("%s", err.message);
		rc = VS_EXIT_USAGE;
		goto out;
	}
	n_retry = vs_retry_count(&from);
	if (n_retry == 0) {
		printf("nothing to retry: %s has no failed or unconfirmed "
		       "VMs\n",
		       path);
		rc = VS_EXIT_OK;
		goto out;
	}

	if ((rc = vs_cli_load_config(cli)) != VS_EXIT_OK ||
	    (rc = vs_cli_setup_log(cli)) != VS_EXIT_OK)
		goto out;
	if (vs_cli_make_targets(cli)) {
		rc = VS_EXIT_USAGE;
		goto out;
	}
	missing = providers_to_list(cli, &from, &only, &n_only);
	if (missing < 0) {
		vs_cli_error("out of memory");
		rc = VS_EXIT_FAILED;
		goto out;
	}
	if (n_only == 0) {
		/* Likely the wrong configuration file: say so, list nothing. */
		vs_cli_error("%s: none of the providers of its %zu VM%s to "
			     "retry is in the configuration %s",
			     path, n_retry, n_retry == 1 ? "" : "s",
			     cli->cfg.path ? cli->cfg.path : "");
		rc = VS_EXIT_USAGE;
		goto out;
	}

	rt.from = &from;
	rt.from_path = path;
	so.only = only;
	so.n_only = n_only;
	so.workers = (int)workers;
	so.select = vs_retry_select;
	so.select_udata = &rt;
	rc = vs_cli_execute(cli, &so, &x);
out:
	vs_report_release(&from);
	free((void *)only);
	return rc;
}
