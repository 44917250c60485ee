/*
 * cli_run.c - vmsweep run: delete the selected VMs, or pretend to with
 * --dry-run.
 *
 * A real run is always explicit: --yes, or, when stdin and stderr are a
 * terminal, typing the names of the providers that will lose VMs.  Names
 * rather than "yes": a reflexive "y" must not delete a lab, and typing
 * "osp-prod" makes the reader look at where the deletes will go.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "error.h"
#include "report.h"
#include "sweep.h"

static void run_usage(FILE *out)
{
	fprintf(out,
		"usage: vmsweep run [--dry-run] [--yes] [--report FILE] "
		"[--provider NAME]...\n"
		"                   [--workers N] [--force-limits]\n"
		"\n"
		"List every provider, select the leaked VMs, check the safety "
		"gates and\n"
		"delete the selection in parallel; retry what failed; write "
		"a JSON report\n"
		"and print a summary.\n"
		"\n"
		"  -n, --dry-run        probe instead of deleting (\"Pretend "
		"delete: ...\")\n"
		"  -y, --yes            delete without asking (required when "
		"not on a terminal)\n"
		"      --report FILE    write the report here (default: "
		"report.dir/vmsweep-\n"
		"                       <UTC time>-<run id>.json)\n"
		"      --provider NAME  only this provider (repeatable)\n"
		"      --workers N      worker threads (default: run.workers)\n"
		"      --force-limits   go on past the safety gates "
		"(limits.max_deletes,\n"
		"                       max_deletes_per_provider, "
		"max_delete_percent)\n"
		"  -h, --help           this help\n"
		"\n"
		"Without --yes on a terminal, vmsweep shows what will be "
		"deleted and asks\n"
		"for the names of the providers concerned.\n"
		"\n"
		"exit status: 0 done; 1 some VMs failed, were not confirmed "
		"or not attempted,\n"
		"or some providers could not be listed; 2 usage, "
		"configuration, or no --yes;\n"
		"3 no provider could be listed; 4 a safety gate (a dry run "
		"reports it too);\n"
		"6 interrupted.\n");
}

/* Whitespace-separated words of line, each checked against the names
 * of the providers that have selected VMs; every one exactly once. */
static int names_match(const struct vs_report *plan, char *line)
{
	size_t i, n_need = 0, n_seen = 0;
	unsigned char *seen;
	char *p = line, *w;
	int ok = 1;

	seen = calloc(plan->n_providers ? plan->n_providers : 1, 1);
	if (!seen)
		return 0;
	for (i = 0; i < plan->n_providers; i++)
		n_need += plan->providers[i].selected > 0;
	while (ok) {
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		if (!*p)
			break;
		w = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\n' &&
		       *p != '\r')
			p++;
		if (*p)
			*p++ = '\0';
		for (i = 0; i < plan->n_providers; i++)
			if (plan->providers[i].selected > 0 &&
			    strcmp(plan->providers[i].name, w) == 0)
				break;
		if (i == plan->n_providers || seen[i])
			ok = 0;
		else
			seen[i] = 1, n_seen++;
	}
	free(seen);
	return ok && n_seen == n_need;
}

static int ask_on_terminal(const struct vs_report *plan, void *udata)
{
	char line[4096];
	size_t i, k = 0;

	(void)udata;
	fprintf(stderr, "vmsweep: about to delete %zu VM%s:", plan->n_vms,
		plan->n_vms == 1 ? "" : "s");
	for (i = 0; i < plan->n_providers; i++)
		if (plan->providers[i].selected > 0)
			fprintf(stderr, "%s %s (%ld)", k++ ? "," : "",
				plan->providers[i].name,
				plan->providers[i].selected);
	fprintf(stderr,
		"\nreview them with 'vmsweep plan'; to go on, type "
		"the provider name%s:",
		k == 1 ? "" : "s");
	for (i = 0; i < plan->n_providers; i++)
		if (plan->providers[i].selected > 0)
			fprintf(stderr, " %s", plan->providers[i].name);
	fprintf(stderr, "\n> ");
	fflush(stderr);
	if (!fgets(line, sizeof(line), stdin))
		return 0;
	return names_match(plan, line);
}

int vs_cli_run(struct vs_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{"dry-run", no_argument, NULL, 'n'},
		{"yes", no_argument, NULL, 'y'},
		{"report", required_argument, NULL, 'r'},
		{"provider", required_argument, NULL, 'p'},
		{"workers", required_argument, NULL, 'w'},
		{"force-limits", no_argument, NULL, 'F'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct vs_sweep_opts so;
	struct vs_sweep *s = NULL;
	struct vs_error err;
	const char **only = NULL;
	size_t n_only = 0;
	long workers = 0;
	int c, rc;

	memset(&so, 0, sizeof(so));
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:nyh", opts, NULL)) != -1) {
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
		case 'p':
			if (vs_cli_push_arg(&only, &n_only, optarg) != VS_OK) {
				vs_cli_error("out of memory");
				rc = VS_EXIT_FAILED;
				goto out;
			}
			break;
		case 'w':
			if (vs_cli_parse_int(optarg, 1, 1024, &workers) !=
			    VS_OK) {
				rc = vs_cli_usage_error(
					"run",
					"--workers takes a number "
					"from 1 to 1024, not '%s'",
					optarg);
				goto out;
			}
			break;
		case 'F':
			so.force_limits = 1;
			break;
		case 'h':
			run_usage(stdout);
			rc = VS_EXIT_OK;
			goto out;
		default:
			rc = vs_cli_bad_option("run", c, argv);
			goto out;
		}
	}
	if (optind < argc) {
		rc = vs_cli_usage_error("run", "unexpected argument '%s'",
					argv[optind]);
		goto out;
	}
	if ((rc = vs_cli_load_config(cli)) != VS_EXIT_OK ||
	    (rc = vs_cli_setup_log(cli)) != VS_EXIT_OK)
		goto out;
	if (vs_cli_make_targets(cli)) {
		rc = VS_EXIT_USAGE;
		goto out;
	}

	so.only = only;
	so.n_only = n_only;
	so.workers = (int)workers;
	so.summary = stdout;
	if (!so.yes && !so.dry_run && isatty(0) && isatty(2))
		so.confirm = ask_on_terminal;
	vs_error_clear(&err);
	s = vs_sweep_new(&cli->cfg, cli->targets, cli->n_targets, &so, &err);
	if (!s) {
		vs_cli_error("%s", err.message);
		rc = err.cls == VS_EC_CONFIG ? VS_EXIT_USAGE : VS_EXIT_FAILED;
		goto out;
	}
	/*
	 * TODO(signals): a SIGINT/SIGTERM-watching thread (sigwait) calls
	 * vs_sweep_cancel(s) here; the sweep already turns that into
	 * not_attempted outcomes and exit 6.
	 */
	rc = vs_sweep_run(s, &err);
	if (err.cls != VS_EC_NONE &&
	    (rc == VS_EXIT_USAGE || rc == VS_EXIT_PROVIDER ||
	     rc == VS_EXIT_GATE || rc == VS_EXIT_FAILED))
		vs_cli_error("%s", err.message);
	else if (rc == VS_EXIT_INTERRUPTED)
		vs_cli_error("interrupted; the report says what was done");
out:
	vs_sweep_free(s);
	free((void *)only);
	return rc;
}
