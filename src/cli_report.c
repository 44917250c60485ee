/*
 * cli_report.c - vmsweep report REPORT.json|--last: render a report again
 * as text, JSON, JUnit XML or Markdown.
 *
 * Reading a file needs no configuration; --last and --run do (report.dir
 * and the state store).  What --last means is decided by load_last()
 * alone: the newest run of the journal (state.h), which also knows runs
 * killed before they wrote a report, unless report.dir holds a report of
 * a later run (one made without the store, say).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "error.h"
#include "render.h"
#include "report.h"
#include "reportdir.h"
#include "state.h"
#include "timeutil.h"

enum fmt { F_TEXT, F_JSON, F_JUNIT, F_MARKDOWN };

static void report_usage(FILE *out)
{
	fprintf(out,
		"usage: vmsweep report REPORT.json|--last|--run ID "
		"[--format text|json|junit|markdown]\n"
		"                      [--exit-code]\n"
		"\n"
		"Show a report again: a provider x outcome table and every "
		"failure (text),\n"
		"the report itself (json), one test case per VM for CI "
		"servers (junit), or\n"
		"tables to paste into a ticket or chat (markdown).  '-' "
		"reads stdin.\n"
		"\n"
		"      --last           the newest run: from the state "
		"store's journal (a run\n"
		"                       that was killed too), or the newest "
		"report in\n"
		"                       report.dir when that is newer (needs "
		"the configuration)\n"
		"      --run ID         that run, from the journal ('vmsweep "
		"history' lists them)\n"
		"  -f, --format FMT     text (default), json, junit or "
		"markdown\n"
		"      --exit-code      exit 1 when the report holds VMs that "
		"failed, were\n"
		"                       not confirmed or not attempted\n"
		"  -h, --help           this help\n"
		"\n"
		"exit status: 0 shown (with --exit-code: and nothing failed); "
		"1 with\n"
		"--exit-code, the report holds failures; 2 usage, an "
		"unreadable file, or\n"
		"no such run or report.\n");
}

static int parse_format(const char *s, enum fmt *f)
{
	static const char *const names[] = {"text", "json", "junit",
					    "markdown"};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0) {
			*f = (enum fmt)i;
			return VS_OK;
		}
	/* Common spellings a CI script may use. */
	if (strcmp(s, "xml") == 0) {
		*f = F_JUNIT;
		return VS_OK;
	}
	if (strcmp(s, "md") == 0) {
		*f = F_MARKDOWN;
		return VS_OK;
	}
	return VS_ERR;
}

static int render(const struct vs_report *r, enum fmt f, const char *path)
{
	struct vs_error err;
	int rc = VS_OK;

	vs_error_clear(&err);
	switch (f) {
	case F_TEXT:
		if (r->is_plan) {
			vs_report_print_plan(r, stdout);
			break;
		}
		if (r->retry_of) {
			fputs("retry of ", stdout);
			/* A path from a file: no control characters. */
			for (const char *p = r->retry_of; *p; p++)
				fputc((unsigned char)*p < 0x20 ? '?' : *p,
				      stdout);
			fputc('\n', stdout);
		}
		vs_report_print_summary(r, stdout);
		break;
	case F_JSON:
		rc = vs_report_write_json(r, "-", &err);
		break;
	case F_JUNIT:
	case F_MARKDOWN:
		if (r->is_plan) {
			vs_cli_error("%s: is a plan, not a report; only text "
				     "and json show a plan",
				     path);
			return VS_EXIT_USAGE;
		}
		rc = f == F_JUNIT ? vs_render_junit(r, stdout)
				  : vs_render_markdown(r, stdout);
		break;
	}
	if (fflush(stdout) != 0 || ferror(stdout))
		rc = VS_ERR;
	if (rc != VS_OK) {
		vs_cli_error("cannot write to stdout%s%s", err.cls ? ": " : "",
			     err.cls ? err.message : "");
		return VS_EXIT_FAILED;
	}
	return VS_EXIT_OK;
}

/* Say on stderr when a run from the journal did not finish. */
static void note_unfinished(const struct vs_state_run *run)
{
	char ts[32];

	if (run->status == VS_RUN_FINISHED)
		return;
	vs_time_format(ts, sizeof(ts), run->started_ms / 1000);
	vs_cli_error("run %s (pid %ld, started %s) %s: VMs started without "
		     "a recorded outcome show as requested, the others as "
		     "not_attempted",
		     run->id, run->pid, ts,
		     run->status == VS_RUN_RUNNING ? "is still running"
						   : "did not finish");
}

/*
 * The run --run ID (id) or --last (id NULL) names, into r; where gets
 * what to call it in messages.  The one place that decides what --last
 * means (see the top of the file).  Returns an exit code.
 */
static int load_last(struct vs_cli *cli, const char *id, struct vs_report *r,
		     struct vs_buf *where)
{
	const char *dir = cli->cfg.report_dir ? cli->cfg.report_dir : ".";
	struct vs_state_run run;
	struct vs_state *st;
	struct vs_error err, jerr;
	struct vs_buf file;
	int64_t file_time = 0;
	int rc = VS_EXIT_USAGE, have_file, have_run = 0;
	const char *base;

	vs_error_clear(&err);
	vs_error_clear(&jerr);
	vs_buf_init(&file, 8192);
	st = vs_state_open_existing(&cli->cfg, &jerr);
	if (st && vs_state_load_run(st, id, r, &run, &jerr) == VS_OK)
		have_run = 1;
	vs_state_free(st);
	if (id) {
		if (!have_run) {
			vs_cli_error("%s", jerr.message);
			goto out;
		}
		goto journal;
	}
	have_file = vs_reportdir_latest(dir, &file, &err) == VS_OK;
	if (have_file) {
		base = strrchr(file.s, '/');
		vs_reportdir_match(base ? base + 1 : file.s, &file_time);
	}
	if (have_run && (!have_file || run.started_ms / 1000 >= file_time))
		goto journal;
	vs_report_release(r);
	vs_report_init(r);
	if (!have_file) {
		vs_cli_error("%s", have_run || jerr.cls == VS_EC_NONE
					   ? err.message
					   : jerr.message);
		goto out;
	}
	if (vs_report_read_json(r, file.s, &err) != VS_OK) {
		vs_cli_error("%s", err.message);
		goto out;
	}
	vs_buf_adds(where, file.s);
	rc = VS_EXIT_OK;
	goto out;
journal:
	note_unfinished(&run);
	vs_buf_addf(where, "run %s", run.id);
	rc = VS_EXIT_OK;
out:
	vs_buf_release(&file);
	return rc;
}

int vs_cli_report(struct vs_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{"format", required_argument, NULL, 'f'},
		{"last", no_argument, NULL, 'L'},
		{"run", required_argument, NULL, 'R'},
		{"exit-code", no_argument, NULL, 'E'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct vs_report r;
	struct vs_error err;
	struct vs_buf last;
	const char *path = NULL, *run_id = NULL;
	enum fmt f = F_TEXT;
	int c, rc, want_last = 0, exit_code = 0;

	vs_report_init(&r);
	vs_buf_init(&last, 8192);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (parse_format(optarg, &f) != VS_OK) {
				rc = vs_cli_usage_error(
					"report",
					"unknown format '%s' (text, json, "
					"junit or markdown)",
					optarg);
				goto out;
			}
			break;
		case 'L':
			want_last = 1;
			break;
		case 'R':
			run_id = optarg;
			want_last = 1;
			break;
		case 'E':
			exit_code = 1;
			break;
		case 'h':
			report_usage(stdout);
			rc = VS_EXIT_OK;
			goto out;
		default:
			rc = vs_cli_bad_option("report", c, argv);
			goto out;
		}
	}
	if (optind < argc)
		path = argv[optind++];
	if (optind < argc) {
		rc = vs_cli_usage_error("report", "unexpected argument '%s'",
					argv[optind]);
		goto out;
	}
	if (!path == !want_last) {
		rc = vs_cli_usage_error("report", "give one of REPORT.json, "
						  "--last or --run ID");
		goto out;
	}
	vs_error_clear(&err);
	if (want_last) {
		if ((rc = vs_cli_load_config(cli)) != VS_EXIT_OK ||
		    (rc = vs_cli_setup_log(cli)) != VS_EXIT_OK ||
		    (rc = load_last(cli, run_id, &r, &last)) != VS_EXIT_OK)
			goto out;
		path = last.s;
	} else if (vs_report_read_json(&r, path, &err) != VS_OK) {
		vs_cli_error("%s", err.message);
		rc = VS_EXIT_USAGE;
		goto out;
	}
	rc = render(&r, f, path);
	if (rc == VS_EXIT_OK && exit_code)
		rc = vs_report_exit_code(&r);
out:
	vs_report_release(&r);
	vs_buf_release(&last);
	return rc;
}
