/*
 * cli_run.c - vmsweep run: delete the selected VMs, or pretend to with
 * --dry-run.
 *
 * A real run is always explicit: --yes, or, when stdin and stderr are a
 * terminal, typing the names of the providers that will lose VMs.  Names
 * rather than "yes": a reflexive "y" must not delete a lab, and typing
 * "osp-prod" makes the reader look at where the deletes will go.
 *
 * A real run holds the run lock (lock.h) from before the inventory to
 * the end of the report, so two runs never delete at once; a dry run
 * changes nothing and takes no lock.  While the sweep runs, the signal
 * watcher is armed: SIGINT, SIGTERM or --max-runtime stop it (nothing
 * new starts), the grace period lets deletions in flight end, a second
 * signal or the end of the grace cuts them, and the report is written
 * either way; the exit code is then 6.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "error.h"
#include "lock.h"
#include "log.h"
#include "metrics.h"
#include "progress.h"
#include "report.h"
#include "reportdir.h"
#include "signals.h"
#include "state.h"
#include "sweep.h"
#include "timeutil.h"

static void run_usage(FILE *out)
{
	fprintf(out,
		"usage: vmsweep run [--dry-run] [--yes] [--report FILE] "
		"[--provider NAME]...\n"
		"                   [--workers N] [--force-limits] "
		"[--max-runtime DURATION]\n"
		"                   [--no-progress] [--metrics-file FILE]\n"
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
		"      --max-runtime D  stop the run after D (\"45m\"), as "
		"SIGTERM would:\n"
		"                       nothing new starts, the rest is "
		"not_attempted, exit 6\n"
		"                       (default: run.max_runtime)\n"
		"      --no-progress    no progress line on a terminal\n"
		"      --metrics-file F write Prometheus metrics to F (default "
		"for real runs:\n"
		"                       report.metrics_file)\n"
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
		"5 another run holds the lock; 6 interrupted (SIGINT, SIGTERM "
		"or --max-runtime).\n");
}

/*
 * The VMs of provider i that the run will really try to delete: entries
 * that already have an outcome (a retry or an apply found them gone, or
 * could not retry them) lose nothing, and a provider with only those is
 * not asked for.
 */
static long to_delete(const struct vs_report *plan, size_t i)
{
	size_t j;
	long n = 0;

	for (j = 0; j < plan->n_vms; j++)
		n += plan->vms[j].outcome == VS_OUT_NONE &&
		     strcmp(plan->vms[j].provider, plan->providers[i].name) ==
			     0;
	return n;
}

/* Whitespace-separated words of line, each checked against the names
 * of the providers that will lose VMs; every one exactly once. */
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
		n_need += to_delete(plan, i) > 0;
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
			if (to_delete(plan, i) > 0 &&
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
	long total = 0;

	(void)udata;
	for (i = 0; i < plan->n_providers; i++)
		total += to_delete(plan, i);
	fprintf(stderr, "vmsweep: about to delete %ld VM%s:", total,
		total == 1 ? "" : "s");
	for (i = 0; i < plan->n_providers; i++)
		if (to_delete(plan, i) > 0)
			fprintf(stderr, "%s %s (%ld)", k++ ? "," : "",
				plan->providers[i].name, to_delete(plan, i));
	fprintf(stderr,
		"\nreview them with 'vmsweep plan'; to go on, type "
		"the provider name%s:",
		k == 1 ? "" : "s");
	for (i = 0; i < plan->n_providers; i++)
		if (to_delete(plan, i) > 0)
			fprintf(stderr, " %s", plan->providers[i].name);
	fprintf(stderr, "\n> ");
	fflush(stderr);
	if (!fgets(line, sizeof(line), stdin))
		return 0;
	return names_match(plan, line);
}

static void stop_sweep(void *udata)
{
	vs_sweep_cancel(udata);
}

static void abort_sweep(void *udata)
{
	vs_sweep_abort(udata);
}

/* Take the run lock (cfg's run.lock_file or the default place). */
static int take_lock(const struct vs_config *cfg, struct vs_lock **lock)
{
	char path[4096];
	struct vs_error err;
	const char *p = cfg->lock_file;
	int rc;

	vs_error_clear(&err);
	if (!p) {
		if (vs_lock_default_path(path, sizeof(path), &err) != VS_OK) {
			vs_cli_error("%s", err.message);
			return VS_EXIT_USAGE;
		}
		p = path;
	}
	rc = vs_lock_acquire(p, lock, &err);
	if (rc == VS_LOCK_BUSY) {
		vs_cli_error("%s", err.message);
		return VS_EXIT_LOCKED;
	}
	if (rc != VS_OK) {
		vs_cli_error("%s", err.message);
		return VS_EXIT_USAGE;
	}
	return VS_EXIT_OK;
}

/*
 * After the sweep: the metrics file (also for a refused or failed run;
 * not when another run holds the lock, whose own metrics will follow)
 * and pruning report.dir once a report was written.
 */
static void after_sweep(struct vs_cli *cli, const struct vs_sweep_opts *so,
			const struct vs_cli_exec *x, const struct vs_sweep *s,
			int rc)
{
	const struct vs_config *cfg = &cli->cfg;
	const char *metrics = x->metrics_file;
	struct vs_error err;
	size_t removed = 0;

	/* The configured file is for the scheduled real runs: a dry run
	 * tried by hand must not overwrite what monitoring reads. */
	if (!metrics && !so->dry_run)
		metrics = cfg->metrics_file;
	vs_error_clear(&err);
	if (metrics && rc != VS_EXIT_LOCKED &&
	    vs_metrics_write(metrics, s ? vs_sweep_report(s) : NULL, rc,
			     vs_time_now_ms(), &err) != VS_OK)
		vs_cli_error("%s", err.message);
	if (!s || rc == VS_EXIT_LOCKED || !cfg->report_dir)
		return;
	if (cfg->report_keep <= 0 && cfg->report_keep_age_ms < 0)
		return;
	vs_error_clear(&err);
	if (vs_reportdir_prune(cfg->report_dir, cfg->report_keep,
			       cfg->report_keep_age_ms, vs_time_now(), &removed,
			       &err) != VS_OK)
		vs_cli_error("%s", err.message);
	if (removed)
		vs_log(VS_LOG_INFO, "vmsweep",
		       "pruned %zu old report%s from %s (report.keep)", removed,
		       removed == 1 ? "" : "s", cfg->report_dir);
}

int vs_cli_execute(struct vs_cli *cli, struct vs_sweep_opts *so,
		   const struct vs_cli_exec *x)
{
	struct vs_sweep *s = NULL;
	struct vs_error err;
	struct vs_lock *lock = NULL;
	struct vs_progress *progress = NULL;
	struct vs_state *state = NULL;
	struct vs_signals_hooks hooks;
	int64_t max_runtime = x->max_runtime_ms;
	int rc, armed = 0, why, ran = 0;

	if (!so->dry_run && (rc = take_lock(&cli->cfg, &lock)) != VS_EXIT_OK)
		goto out;
	if (max_runtime < 0)
		max_runtime = cli->cfg.max_runtime_ms;
	if (vs_progress_wanted(2, x->no_progress)) {
		struct vs_progress_opts po = {vs_progress_color_allowed(), 0,
					      0};

		vs_error_clear(&err);
		progress = vs_progress_new(&po, &err);
	}

	so->summary = stdout;
	so->progress = progress;
	/* First-seen ages and the run journal (state.h); NULL: warned. */
	so->state = state = vs_state_open_config(&cli->cfg);
	if (!so->yes && !so->dry_run && isatty(0) && isatty(2))
		so->confirm = ask_on_terminal;
	vs_error_clear(&err);
	s = vs_sweep_new(&cli->cfg, cli->targets, cli->n_targets, so, &err);
	if (!s) {
		vs_cli_error("%s", err.message);
		rc = err.cls == VS_EC_CONFIG ? VS_EXIT_USAGE : VS_EXIT_FAILED;
		goto out;
	}
	memset(&hooks, 0, sizeof(hooks));
	hooks.stop = stop_sweep;
	hooks.abort = abort_sweep;
	hooks.udata = s;
	hooks.grace_ms = cli->cfg.grace_ms;
	hooks.deadline_ms =
		max_runtime >= 0 ? x->started_mono_ms + max_runtime : -1;
	if (cli->signals) {
		vs_signals_arm(cli->signals, &hooks);
		armed = 1;
	}
	rc = vs_sweep_run(s, &err);
	ran = 1;
	if (armed)
		vs_signals_disarm(cli->signals);
	/* Stopped while listing, say: still an interruption, not a fault. */
	why = cli->signals ? vs_signals_reason(cli->signals) : 0;
	if (why != 0)
		rc = VS_EXIT_INTERRUPTED;
	if (err.cls != VS_EC_NONE &&
	    (rc == VS_EXIT_USAGE || rc == VS_EXIT_PROVIDER ||
	     rc == VS_EXIT_GATE || rc == VS_EXIT_FAILED))
		vs_cli_error("%s", err.message);
	else if (rc == VS_EXIT_INTERRUPTED && why == VS_SIGNALS_DEADLINE)
		vs_cli_error("stopped at the maximum run time; the report says "
			     "what was done");
	else if (rc == VS_EXIT_INTERRUPTED)
		vs_cli_error("interrupted; the report says what was done");
out:
	after_sweep(cli, so, x, ran ? s : NULL, rc);
	vs_sweep_free(s);
	vs_state_free(state);
	vs_progress_free(progress);
	vs_lock_free(lock);
	return rc;
}

int vs_cli_run(struct vs_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		VS_CLI_RUN_OPTIONS,
		{"provider", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct vs_sweep_opts so;
	struct vs_cli_exec x = {vs_time_mono_ms(), -1, 0, NULL};
	const char **only = NULL;
	size_t n_only = 0;
	int c, rc;

	memset(&so, 0, sizeof(so));
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:nyh", opts, NULL)) != -1) {
		if ((rc = vs_cli_run_option("run", c, optarg, &so, &x)) >= 0) {
			if (rc != VS_EXIT_OK)
				goto out;
			continue;
		}
		switch (c) {
		case 'p':
			if ((rc = vs_cli_add_provider(&only, &n_only,
						      optarg)) != VS_EXIT_OK)
				goto out;
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
	if ((rc = vs_cli_no_more_args("run", argc, argv)) != VS_EXIT_OK)
		goto out;
	if ((rc = vs_cli_setup_targets(cli)) != VS_EXIT_OK)
		goto out;
	so.only = only;
	so.n_only = n_only;
	rc = vs_cli_execute(cli, &so, &x);
out:
	free((void *)only);
	return rc;
}
