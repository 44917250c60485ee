/*
 * cli.h - the command line: global options, shared helpers and one entry
 * point per subcommand (cli_<command>.c).
 *
 * main() parses the global options into a struct vs_cli and hands the
 * rest of argv (argv[0] is the command name) to the command.  A command
 * returns an exit code of DESIGN.md section 9 (enum vs_exit); only main()
 * exits.  Messages for the user go to stderr as one line each, starting
 * "vmsweep: "; results go to stdout.
 *
 * Ownership: everything a struct vs_cli loads (configuration, plugins,
 * targets) is freed by vs_cli_release().  Single-threaded: the sweep
 * owns the threads.
 */
#ifndef VS_CLI_H
#define VS_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "plugin.h"
#include "report.h"
#include "sweep.h"

struct vs_cli {
	/* Global options. */
	const char *config_arg; /* -c FILE, or NULL */
	const char *plugin_dir; /* --plugin-dir DIR, or NULL */
	int verbosity;		/* +1 per -v, -1 per -q */
	int log_format;		/* enum vs_log_format, or -1: the config's */
	int strict; /* --strict: secret files others can read are errors */
	/* The signal-watching thread main() started (signals.h). */
	struct vs_signals *signals;

	/* What the helpers load. */
	struct vs_config cfg;
	int cfg_loaded;
	struct vs_plugin_set plugins;
	int plugins_ready;
	/* One per provider whose plugin loaded and whose keys are valid. */
	struct vs_sweep_target *targets;
	struct vs_provider_config *pcs;
	size_t n_targets;
};

/* A subcommand: argv[0] is its name. */
int vs_cli_plan(struct vs_cli *cli, int argc, char **argv);
int vs_cli_run(struct vs_cli *cli, int argc, char **argv);
int vs_cli_check(struct vs_cli *cli, int argc, char **argv);
int vs_cli_providers(struct vs_cli *cli, int argc, char **argv);
int vs_cli_report(struct vs_cli *cli, int argc, char **argv);
int vs_cli_history(struct vs_cli *cli, int argc, char **argv);
int vs_cli_retry(struct vs_cli *cli, int argc, char **argv);
int vs_cli_apply(struct vs_cli *cli, int argc, char **argv);
int vs_cli_explain(struct vs_cli *cli, int argc, char **argv);

/* How vs_cli_execute() runs a sweep, beyond struct vs_sweep_opts. */
struct vs_cli_exec {
	int64_t started_mono_ms;  /* when the command started */
	int64_t max_runtime_ms;	  /* --max-runtime, or -1: the config's */
	int no_progress;	  /* --no-progress */
	const char *metrics_file; /* --metrics-file, or NULL */
};

/*
 * Run one sweep the way run and retry do (cli_run.c): the run lock for a
 * real run, the progress line, confirmation on a terminal without --yes,
 * the signal watcher armed around it, one line for a failure; then the
 * metrics file (--metrics-file, else report.metrics_file for real runs)
 * and pruning of report.dir (report.keep, report.keep_age).  The
 * configuration and targets must be loaded; so is completed (summary,
 * progress, confirm).  Returns the exit code.
 */
int vs_cli_execute(struct vs_cli *cli, struct vs_sweep_opts *so,
		   const struct vs_cli_exec *x);

void vs_cli_init(struct vs_cli *cli);
void vs_cli_release(struct vs_cli *cli);

/* "vmsweep: <message>" on stderr. */
void vs_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * "vmsweep CMD: <message>" and a pointer to CMD --help on stderr;
 * returns VS_EXIT_USAGE.
 */
int vs_cli_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Find and load the configuration (-c, $VMSWEEP_CONFIG, ./vmsweep.yaml,
 * /etc/vmsweep/vmsweep.yaml), strictly with --strict (VS_CONFIG_STRICT),
 * printing "file:line:col: message" on failure.  Returns 0 or
 * VS_EXIT_USAGE.
 */
int vs_cli_load_config(struct vs_cli *cli);

/*
 * Set up the logger from the configuration's log section (when loaded),
 * then -v/-q and --log-format.  Returns 0 or VS_EXIT_USAGE.
 */
int vs_cli_setup_log(struct vs_cli *cli);

/* Compute the plugin search directories (once). */
int vs_cli_init_plugins(struct vs_cli *cli);

/*
 * Load the plugin of every configured provider and build its provider
 * configuration (checking its provider-specific keys).  Each problem is
 * printed as one line; the providers without one become cli->targets.
 * Returns the number of problems.
 */
size_t vs_cli_make_targets(struct vs_cli *cli);

/*
 * Report what getopt_long returned for a bad option ('?' or ':') in
 * command cmd; returns VS_EXIT_USAGE.
 */
int vs_cli_bad_option(const char *cmd, int c, char **argv);

/*
 * Parse a --workers style value: a decimal in [lo, hi].
 * Returns 0 or VS_ERR.
 */
int vs_cli_parse_int(const char *s, long lo, long hi, long *out);

/*
 * Collect a repeatable option value into a growing array (the strings
 * stay argv's).  Returns 0 or VS_ERR when out of memory.
 */
int vs_cli_push_arg(const char ***list, size_t *n, const char *value);

/*
 * The options run, retry and apply share, for their struct option
 * tables; vs_cli_run_option() handles them.
 */
/* clang-format off */
#define VS_CLI_RUN_OPTIONS \
	{"dry-run", no_argument, NULL, 'n'}, \
	{"yes", no_argument, NULL, 'y'}, \
	{"report", required_argument, NULL, 'r'}, \
	{"metrics-file", required_argument, NULL, 'm'}, \
	{"workers", required_argument, NULL, 'w'}, \
	{"force-limits", no_argument, NULL, 'F'}, \
	{"max-runtime", required_argument, NULL, 'M'}, \
	{"no-progress", no_argument, NULL, 'N'}
/* clang-format on */

/*
 * Handle what getopt_long returned (c, with its value arg) when it is
 * one of VS_CLI_RUN_OPTIONS of command cmd, into so and x.  Returns
 * VS_EXIT_OK when handled, VS_EXIT_USAGE (after the message) for a bad
 * value, or -1 when c is none of them.
 */
int vs_cli_run_option(const char *cmd, int c, const char *arg,
		      struct vs_sweep_opts *so, struct vs_cli_exec *x);

/*
 * Parse the arguments of a command that deletes the VMs a file names
 * (retry, apply): VS_CLI_RUN_OPTIONS and --help (usage on stdout), in
 * any order with the one FILE (what is the message when it is
 * missing).  Returns VS_EXIT_OK with *path argv's FILE, or
 * with *path NULL after --help; else VS_EXIT_USAGE after the message.
 */
int vs_cli_parse_file_args(const char *cmd, const char *what,
			   void (*usage)(FILE *), int argc, char **argv,
			   struct vs_sweep_opts *so, struct vs_cli_exec *x,
			   const char **path);

/*
 * Add a --provider value to *only.  Returns VS_EXIT_OK, or
 * VS_EXIT_FAILED after the message when out of memory.
 */
int vs_cli_add_provider(const char ***only, size_t *n_only, const char *name);

/*
 * Refuse an argument left after the options (argv[optind]) of command
 * cmd.  Returns VS_EXIT_OK when none is left, else VS_EXIT_USAGE.
 */
int vs_cli_no_more_args(const char *cmd, int argc, char **argv);

/*
 * Load the configuration and set up the logger from it
 * (vs_cli_load_config, vs_cli_setup_log).  Returns 0 or VS_EXIT_USAGE.
 */
int vs_cli_setup(struct vs_cli *cli);

/*
 * vs_cli_setup(), then the targets (vs_cli_make_targets); any problem
 * with a provider is a usage error.  Returns 0 or VS_EXIT_USAGE.
 */
int vs_cli_setup_targets(struct vs_cli *cli);

/*
 * Plan without deleting, as plan and explain do: a sweep over the
 * targets with so (no report file is written), its providers listed and
 * its plan made.  Returns the sweep (the caller frees it) with *rc 0, or
 * VS_EXIT_FAILED when some providers could not be listed; or NULL after
 * printing the failure, with *rc its exit code.
 */
struct vs_sweep *vs_cli_plan_sweep(struct vs_cli *cli, struct vs_sweep_opts *so,
				   int *rc);

/*
 * The configured providers that hold a VM of r (those whose outcome
 * wanted accepts, or all when wanted is NULL), each once, into *only
 * (the strings stay r's).  Returns the number of such VMs on providers
 * that are not configured, or -1 when out of memory.
 */
long vs_cli_report_providers(const struct vs_cli *cli,
			     const struct vs_report *r,
			     int (*wanted)(enum vs_outcome), const char ***only,
			     size_t *n_only);

#endif
