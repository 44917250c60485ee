/*
 * cli_retry.c - vmsweep retry REPORT.json: delete again exactly the VMs an
 * earlier run left failed or unconfirmed.
 *
 * The plan comes from the report instead of the rules (retry.h says how
 * each VM is re-checked); the rest is a run: the same lock, gates, --yes
 * rule, deletes, retry rounds, report (with run.retry_of set), metrics
 * and pruning.  Only the providers that hold a VM to retry are listed.
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

int vs_cli_retry(struct vs_cli *cli, int argc, char **argv)
{
	struct vs_cli_exec x = {vs_time_mono_ms(), -1, 0, NULL};
	struct vs_sweep_opts so;
	struct vs_report from;
	struct vs_retry rt = {0};
	struct vs_error err;
	const char **only = NULL, *path = NULL;
	size_t n_only = 0, n_retry;
	long missing;
	int rc;

	memset(&so, 0, sizeof(so));
	vs_report_init(&from);
	rc = vs_cli_parse_file_args("retry", "which report? (REPORT.json)",
				    retry_usage, argc, argv, &so, &x, &path);
	if (rc != VS_EXIT_OK || !path)
		goto out;

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

	if ((rc = vs_cli_setup_targets(cli)) != VS_EXIT_OK)
		goto out;
	missing = vs_cli_report_providers(cli, &from, vs_retry_wanted, &only,
					  &n_only);
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
	so.select = vs_retry_select;
	so.select_udata = &rt;
	rc = vs_cli_execute(cli, &so, &x);
out:
	vs_report_release(&from);
	free((void *)only);
	return rc;
}
