/*
 * cli_plan.c - vmsweep plan: list every provider, apply the rules and
 * show what a run would delete and what it keeps.  Read-only.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "error.h"
#include "report.h"
#include "state.h"
#include "sweep.h"

static void plan_usage(FILE *out)
{
	fprintf(out,
		"usage: vmsweep plan [-o FILE] [--format table|json] "
		"[--provider NAME]...\n"
		"\n"
		"List every configured provider, apply the rules and "
		"protections, and show\n"
		"what 'vmsweep run' would delete and what it keeps.  Nothing "
		"is changed.\n"
		"\n"
		"  -o, --output FILE    also write the plan as JSON to FILE "
		"(atomically)\n"
		"      --format FMT     table (default) or json on stdout\n"
		"      --provider NAME  only this provider (repeatable)\n"
		"  -h, --help           this help\n"
		"\n"
		"Safety gates the plan would trip are logged as warnings.  "
		"Exit status: 0,\n"
		"1 when some providers could not be listed, 2 usage or "
		"configuration error,\n"
		"3 when none could.\n");
}

int vs_cli_plan(struct vs_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'},
		{"format", required_argument, NULL, 'f'},
		{"provider", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct vs_sweep_opts so;
	struct vs_sweep *s = NULL;
	struct vs_state *state = NULL;
	const struct vs_report *r;
	struct vs_error err;
	const char **only = NULL;
	const char *output = NULL;
	size_t n_only = 0;
	int c, json = 0, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			output = optarg;
			break;
		case 'f':
			if (strcmp(optarg, "json") == 0)
				json = 1;
			else if (strcmp(optarg, "table") != 0) {
				rc = vs_cli_usage_error(
					"plan",
					"unknown format '%s' (table "
					"or json)",
					optarg);
				goto out;
			}
			break;
		case 'p':
			if ((rc = vs_cli_add_provider(&only, &n_only,
						      optarg)) != VS_EXIT_OK)
				goto out;
			break;
		case 'h':
			plan_usage(stdout);
			rc = VS_EXIT_OK;
			goto out;
		default:
			rc = vs_cli_bad_option("plan", c, argv);
			goto out;
		}
	}
	if ((rc = vs_cli_no_more_args("plan", argc, argv)) != VS_EXIT_OK)
		goto out;
	if ((rc = vs_cli_setup_targets(cli)) != VS_EXIT_OK)
		goto out;

	memset(&so, 0, sizeof(so));
	so.only = only;
	so.n_only = n_only;
	/* Plans record first-seen times too (state.h). */
	so.state = state = vs_state_open_config(&cli->cfg);
	s = vs_cli_plan_sweep(cli, &so, &rc);
	if (!s)
		goto out;
	r = vs_sweep_report(s);
	vs_sweep_check_gates(r, &cli->cfg, 1, NULL, 0);
	vs_error_clear(&err);
	if (output && vs_report_write_json(r, output, &err) != VS_OK) {
		vs_cli_error("%s", err.message);
		rc = VS_EXIT_FAILED;
		goto out;
	}
	if (json) {
		if (vs_report_write_json(r, "-", &err) != VS_OK) {
			vs_cli_error("%s", err.message);
			rc = VS_EXIT_FAILED;
			goto out;
		}
	} else {
		vs_report_print_plan(r, stdout);
		fflush(stdout);
	}
out:
	vs_sweep_free(s);
	vs_state_free(state);
	free((void *)only);
	return rc;
}
