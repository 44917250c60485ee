/*
 * main.c - vmsweep's entry point: global options, then one subcommand.
 *
 *   vmsweep [-c FILE] [--plugin-dir DIR] [-v|-q] [--log-format text|json]
 *           [--strict] COMMAND ...
 *
 * The only place that exits.  curl_global_init runs here, before any
 * thread exists, and so does the blocking of the signals that the
 * signal-watching thread takes (signals.h): every later thread inherits
 * the mask.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "error.h"
#include "http.h"
#include "log.h"
#include "signals.h"
#include "timeutil.h"

#ifndef VS_VERSION
#define VS_VERSION "0.0.0"
#endif

struct command {
	const char *name;
	int (*fn)(struct vs_cli *cli, int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{"plan", vs_cli_plan,
	 "list every provider and show what would be "
	 "deleted and what is kept"},
	{"run", vs_cli_run, "delete the selected VMs (or --dry-run: pretend)"},
	{"apply", vs_cli_apply,
	 "delete exactly the VMs of a plan file, each re-checked first"},
	{"explain", vs_cli_explain,
	 "show why a VM would be deleted or kept: every rule and "
	 "protection"},
	{"retry", vs_cli_retry,
	 "delete again the failed and unconfirmed VMs of a report"},
	{"report", vs_cli_report,
	 "show a report as text, json, junit or markdown"},
	{"history", vs_cli_history,
	 "list the recent runs of the journal with their counts"},
	{"check", vs_cli_check,
	 "check the configuration, the plugins and "
	 "authentication to every provider"},
	{"providers", vs_cli_providers, "list the provider plugins found"},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
	size_t i;

	fprintf(out,
		"usage: vmsweep [-c FILE] [--plugin-dir DIR] [-v|-q] "
		"[--log-format text|json]\n"
		"               [--strict] COMMAND [OPTIONS]\n"
		"\n"
		"Find leaked virtual machines on VMware vSphere, oVirt/RHV "
		"and OpenStack\n"
		"and delete them, safely and with a report.\n"
		"\n"
		"commands:\n");
	for (i = 0; i < N_COMMANDS; i++)
		fprintf(out, "  %-10s %s\n", commands[i].name,
			commands[i].summary);
	fprintf(out,
		"\n"
		"global options:\n"
		"  -c, --config FILE     configuration (default: "
		"$VMSWEEP_CONFIG,\n"
		"                        ./vmsweep.yaml, "
		"/etc/vmsweep/vmsweep.yaml)\n"
		"      --plugin-dir DIR  look for provider plugins here first\n"
		"  -v, --verbose         more log output (repeat for more)\n"
		"  -q, --quiet           less log output (repeat for less)\n"
		"      --log-format FMT  text or json log lines on stderr\n"
		"      --strict          a file holding secrets that group or "
		"others can\n"
		"                        read is an error, not a warning\n"
		"  -h, --help            this help; 'vmsweep COMMAND --help' "
		"for a command\n"
		"  -V, --version         the version and provider ABI\n"
		"\n"
		"exit status:\n"
		"  0  done, nothing failed\n"
		"  1  some VMs failed, were not confirmed or not attempted, "
		"or some\n"
		"     providers could not be listed\n"
		"  2  usage or configuration error\n"
		"  3  no provider reachable, or authentication failed\n"
		"  4  a safety gate stopped the run\n"
		"  5  another run holds the lock\n"
		"  6  interrupted (SIGINT, SIGTERM or --max-runtime)\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"plugin-dir", required_argument, NULL, 'P'},
		{"verbose", no_argument, NULL, 'v'},
		{"quiet", no_argument, NULL, 'q'},
		{"log-format", required_argument, NULL, 'F'},
		{"strict", no_argument, NULL, 'S'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	struct vs_cli cli;
	struct vs_error err;
	const struct command *cmd = NULL;
	const char *now;
	int64_t now_s;
	size_t i;
	int c, rc;

	vs_cli_init(&cli);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:c:vqhV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			cli.config_arg = optarg;
			break;
		case 'P':
			cli.plugin_dir = optarg;
			break;
		case 'S':
			cli.strict = 1;
			break;
		case 'v':
			cli.verbosity++;
			break;
		case 'q':
			cli.verbosity--;
			break;
		case 'F':
			if (strcmp(optarg, "text") == 0)
				cli.log_format = VS_LOG_TEXT;
			else if (strcmp(optarg, "json") == 0)
				cli.log_format = VS_LOG_JSON;
			else
				return vs_cli_usage_error(
					NULL,
					"unknown log format '%s' (text "
					"or json)",
					optarg);
			break;
		case 'h':
			usage(stdout);
			return VS_EXIT_OK;
		case 'V':
			printf("vmsweep %s (provider ABI %u)\n", VS_VERSION,
			       VS_PROVIDER_ABI_VERSION);
			return VS_EXIT_OK;
		case ':':
			return vs_cli_usage_error(NULL, "'%s' needs a value",
						  argv[optind - 1]);
		default:
			if (optopt)
				return vs_cli_usage_error(
					NULL, "unknown option '-%c'", optopt);
			return vs_cli_usage_error(NULL, "unknown option '%s'",
						  argv[optind - 1]);
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return VS_EXIT_USAGE;
	}
	for (i = 0; i < N_COMMANDS; i++)
		if (strcmp(argv[optind], commands[i].name) == 0)
			cmd = &commands[i];
	if (!cmd)
		return vs_cli_usage_error(NULL, "unknown command '%s'",
					  argv[optind]);

	/* The one place the testing clock is read (docs/state.md). */
	if ((now = getenv("VMSWEEP_NOW")) != NULL && *now) {
		if (vs_time_parse(now, &now_s) != 0)
			return vs_cli_usage_error(NULL,
						  "VMSWEEP_NOW is not an RFC "
						  "3339 time: '%s'",
						  now);
		vs_time_set_now(now_s);
	}

	vs_error_clear(&err);
	if (vs_signals_block(&err) != VS_OK ||
	    !(cli.signals = vs_signals_new(&err))) {
		vs_cli_error("%s", err.message);
		return VS_EXIT_FAILED;
	}
	if (vs_http_global_init(&err) != VS_OK) {
		vs_cli_error("%s", err.message);
		return VS_EXIT_FAILED;
	}
	rc = cmd->fn(&cli, argc - optind, argv + optind);
	vs_signals_free(cli.signals);
	vs_cli_release(&cli);
	vs_log_teardown();
	vs_http_global_cleanup();
	return rc;
}
