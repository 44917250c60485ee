/*
 * cli_history.c - vmsweep history: the recent runs of the state store's
 * journal (state.h), newest first, with their outcome counts.  Read-only;
 * 'vmsweep report --run ID' shows one of them in full.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "error.h"
#include "report.h"
#include "state.h"
#include "timeutil.h"

static void history_usage(FILE *out)
{
	fprintf(out,
		"usage: vmsweep history [--format table|json] [--limit N]\n"
		"\n"
		"List the recent runs recorded in the state store's journal, "
		"newest first:\n"
		"id, mode, start, status (finished, running, or unfinished: "
		"killed before\n"
		"its end), planned VMs and a count per outcome.  'vmsweep "
		"report --run ID'\n"
		"shows one run in full.\n"
		"\n"
		"      --format FMT     table (default) or json\n"
		"  -n, --limit N        at most N runs (default 20; 0: all)\n"
		"  -h, --help           this help\n"
		"\n"
		"exit status: 0 listed; 2 usage, or no readable state "
		"store.\n");
}

static json_t *run_json(const struct vs_state_run *run)
{
	char ts[40];
	json_t *o = json_object(), *counts = json_object();
	int k;

	if (!o || !counts) {
		json_decref(o);
		json_decref(counts);
		return NULL;
	}
	json_object_set_new(o, "id", json_string(run->id));
	json_object_set_new(o, "mode",
			    json_string(run->dry_run ? "dry_run" : "real"));
	vs_time_format_ms(ts, sizeof(ts), run->started_ms);
	json_object_set_new(o, "started", json_string(ts));
	if (run->finished_ms) {
		vs_time_format_ms(ts, sizeof(ts), run->finished_ms);
		json_object_set_new(o, "finished", json_string(ts));
	} else {
		json_object_set_new(o, "finished", json_null());
	}
	json_object_set_new(o, "status",
			    json_string(vs_state_run_status_name(run->status)));
	json_object_set_new(o, "pid", json_integer(run->pid));
	json_object_set_new(o, "planned", json_integer(run->n_vms));
	json_object_set_new(o, "kept", json_integer(run->n_kept));
	json_object_set_new(o, "flagged", json_integer(run->flagged));
	for (k = VS_OUT_NONE + 1; k < VS_OUT_COUNT; k++)
		if (run->outcomes[k])
			json_object_set_new(counts,
					    vs_outcome_name((enum vs_outcome)k),
					    json_integer(run->outcomes[k]));
	json_object_set_new(o, "outcomes", counts);
	return o;
}

static int print_json(const struct vs_state_run *runs, size_t n)
{
	json_t *a = json_array();
	size_t i;
	int rc;

	for (i = 0; a && i < n; i++)
		if (json_array_append_new(a, run_json(&runs[i])) != 0) {
			json_decref(a);
			a = NULL;
		}
	if (!a)
		return VS_ERR;
	rc = json_dumpf(a, stdout, JSON_INDENT(2)) == 0 ? VS_OK : VS_ERR;
	fputc('\n', stdout);
	json_decref(a);
	return rc;
}

static void print_table(const struct vs_state_run *runs, size_t n)
{
	char ts[32];
	size_t i;

	printf("%-16s  %-7s  %-20s  %-10s  %7s  %7s  %7s  %9s  %7s\n", "RUN",
	       "MODE", "STARTED", "STATUS", "PLANNED", "DONE", "FAILED",
	       "REQUESTED", "OTHER");
	for (i = 0; i < n; i++) {
		const struct vs_state_run *r = &runs[i];
		long done = r->outcomes[VS_OUT_DELETED] +
			    r->outcomes[VS_OUT_ALREADY_ABSENT] +
			    r->outcomes[VS_OUT_PRETEND];
		long other = r->n_vms - done - r->outcomes[VS_OUT_FAILED] -
			     r->outcomes[VS_OUT_REQUESTED];

		vs_time_format(ts, sizeof(ts), r->started_ms / 1000);
		printf("%-16s  %-7s  %-20s  %-10s  %7ld  %7ld  %7ld  %9ld  "
		       "%7ld\n",
		       r->id, r->dry_run ? "dry_run" : "real", ts,
		       vs_state_run_status_name(r->status), r->n_vms, done,
		       r->outcomes[VS_OUT_FAILED],
		       r->outcomes[VS_OUT_REQUESTED], other);
	}
	if (!n)
		printf("(no runs recorded)\n");
}

int vs_cli_history(struct vs_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{"format", required_argument, NULL, 'f'},
		{"limit", required_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct vs_state *st = NULL;
	struct vs_state_run *runs = NULL;
	struct vs_error err;
	size_t n = 0;
	long limit = 20;
	int c, rc, json = 0;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:n:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (strcmp(optarg, "json") == 0) {
				json = 1;
			} else if (strcmp(optarg, "table") != 0) {
				rc = vs_cli_usage_error(
					"history",
					"unknown format '%s' (table or json)",
					optarg);
				goto out;
			}
			break;
		case 'n':
			if (vs_cli_parse_int(optarg, 0, 1000000, &limit) !=
			    VS_OK) {
				rc = vs_cli_usage_error(
					"history",
					"--limit takes a number from 0 to "
					"1000000, not '%s'",
					optarg);
				goto out;
			}
			break;
		case 'h':
			history_usage(stdout);
			rc = VS_EXIT_OK;
			goto out;
		default:
			rc = vs_cli_bad_option("history", c, argv);
			goto out;
		}
	}
	if (optind < argc) {
		rc = vs_cli_usage_error("history", "unexpected argument '%s'",
					argv[optind]);
		goto out;
	}
	if ((rc = vs_cli_load_config(cli)) != VS_EXIT_OK ||
	    (rc = vs_cli_setup_log(cli)) != VS_EXIT_OK)
		goto out;
	vs_error_clear(&err);
	st = vs_state_open_existing(&cli->cfg, &err);
	if (!st ||
	    vs_state_list_runs(st, (size_t)limit, &runs, &n, &err) != VS_OK) {
		vs_cli_error("%s", err.message);
		rc = VS_EXIT_USAGE;
		goto out;
	}
	if (json) {
		if (print_json(runs, n) != VS_OK) {
			vs_cli_error("cannot write to stdout");
			rc = VS_EXIT_FAILED;
			goto out;
		}
	} else {
		print_table(runs, n);
	}
	rc = fflush(stdout) == 0 ? VS_EXIT_OK : VS_EXIT_FAILED;
out:
	free(runs);
	vs_state_free(st);
	return rc;
}
