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

#include "config.h"
#include "plugin.h"
#include "sweep.h"

struct vs_cli {
	/* Global options. */
	const char *config_arg; /* -c FILE, or NULL */
	const char *plugin_dir; /* --plugin-dir DIR, or NULL */
	int verbosity;		/* +1 per -v, -1 per -q */
	int log_format;		/* enum vs_log_format, or -1: the config's */
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
 * /etc/vmsweep/vmsweep.yaml), printing "file:line:col: message" on
 * failure.  Returns 0 or VS_EXIT_USAGE.
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

#endif
