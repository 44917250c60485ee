/*
 * cli_common.c - helpers every subcommand shares: messages, loading the
 * configuration and the plugins, setting up the logger.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "error.h"
#include "log.h"
#include "sweep.h"
#include "timeutil.h"

void vs_cli_init(struct vs_cli *cli)
{
	memset(cli, 0, sizeof(*cli));
	cli->log_format = -1;
	vs_config_init(&cli->cfg);
}

void vs_cli_release(struct vs_cli *cli)
{
	size_t i;

	for (i = 0; i < cli->n_targets; i++)
		vs_plugin_config_release(&cli->pcs[i]);
	free(cli->pcs);
	free(cli->targets);
	if (cli->plugins_ready)
		vs_plugin_set_release(&cli->plugins);
	vs_config_release(&cli->cfg);
	memset(cli, 0, sizeof(*cli));
}

void vs_cli_error(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "vmsweep: %s\n", line);
}

int vs_cli_usage_error(const char *cmd, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "vmsweep%s%s: %s\n", cmd ? " " : "", cmd ? cmd : "",
		line);
	fprintf(stderr, "see 'vmsweep%s%s --help'\n", cmd ? " " : "",
		cmd ? cmd : "");
	return VS_EXIT_USAGE;
}

int vs_cli_bad_option(const char *cmd, int c, char **argv)
{
	if (c == ':')
		return vs_cli_usage_error(cmd, "'%s' needs a value",
					  argv[optind - 1]);
	if (optopt)
		return vs_cli_usage_error(cmd, "unknown option '-%c'", optopt);
	return vs_cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
}

int vs_cli_parse_int(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	if (!s || !*s)
		return VS_ERR;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return VS_ERR;
	*out = v;
	return VS_OK;
}

int vs_cli_push_arg(const char ***list, size_t *n, const char *value)
{
	const char **nl = realloc((void *)*list, (*n + 1) * sizeof(*nl));

	if (!nl)
		return VS_ERR;
	nl[(*n)++] = value;
	*list = nl;
	return VS_OK;
}

int vs_cli_load_config(struct vs_cli *cli)
{
	struct vs_error err;
	const char *path;

	vs_error_clear(&err);
	path = vs_config_default_path(cli->config_arg);
	vs_config_release(&cli->cfg);
	if (vs_config_load_flags(&cli->cfg, path,
				 cli->strict ? VS_CONFIG_STRICT : 0,
				 &err) != VS_OK) {
		/* Already "file:line:col: message". */
		fprintf(stderr, "%s\n", err.message);
		if (!cli->config_arg && !getenv("VMSWEEP_CONFIG") &&
		    access(path, F_OK) != 0)
			vs_cli_error("no configuration given: pass -c FILE "
				     "or set VMSWEEP_CONFIG");
		vs_config_release(&cli->cfg);
		return VS_EXIT_USAGE;
	}
	cli->cfg_loaded = 1;
	return VS_EXIT_OK;
}

int vs_cli_setup_log(struct vs_cli *cli)
{
	struct vs_log_opts lo;
	struct vs_error err;
	int level = VS_LOG_INFO;

	memset(&lo, 0, sizeof(lo));
	vs_error_clear(&err);
	lo.format = VS_LOG_TEXT;
	lo.fd = 2;
	lo.timestamps = 1;
	if (cli->cfg_loaded) {
		level = cli->cfg.log_level;
		lo.format = (enum vs_log_format)cli->cfg.log_format;
		lo.file = cli->cfg.log_file;
	}
	level += cli->verbosity;
	if (level < VS_LOG_ERROR)
		level = VS_LOG_ERROR;
	if (level > VS_LOG_TRACE)
		level = VS_LOG_TRACE;
	lo.level = (enum vs_log_level)level;
	if (cli->log_format >= 0)
		lo.format = (enum vs_log_format)cli->log_format;
	if (vs_log_setup(&lo, &err) != VS_OK) {
		vs_cli_error("%s", err.message);
		return VS_EXIT_USAGE;
	}
	/* Under systemd, journald adds the time and reads a priority. */
	if (vs_log_stream_is_journal(lo.fd))
		vs_log_set_journal(1);
	return VS_EXIT_OK;
}

int vs_cli_init_plugins(struct vs_cli *cli)
{
	struct vs_error err;

	if (cli->plugins_ready)
		return VS_EXIT_OK;
	vs_error_clear(&err);
	if (vs_plugin_set_init(&cli->plugins, cli->plugin_dir, &err) != VS_OK) {
		vs_cli_error("%s", err.message);
		return VS_EXIT_FAILED;
	}
	cli->plugins_ready = 1;
	return VS_EXIT_OK;
}

size_t vs_cli_make_targets(struct vs_cli *cli)
{
	const struct vs_config *cfg = &cli->cfg;
	size_t i, problems = 0, n = cfg->n_providers;

	if (vs_cli_init_plugins(cli) != VS_EXIT_OK)
		return 1;
	cli->targets = calloc(n ? n : 1, sizeof(*cli->targets));
	cli->pcs = calloc(n ? n : 1, sizeof(*cli->pcs));
	if (!cli->targets || !cli->pcs) {
		vs_cli_error("out of memory");
		return 1;
	}
	for (i = 0; i < n; i++) {
		const struct vs_config_provider *cp = &cfg->providers[i];
		const struct vs_plugin *pl = NULL;
		struct vs_error err;
		size_t k = cli->n_targets;

		vs_error_clear(&err);
		if (vs_plugin_set_get(&cli->plugins, cp->type, &pl, &err) !=
		    VS_OK) {
			/* Where in the file, then what the loader said. */
			fprintf(stderr, "%s:%d:%d: provider '%s': %s\n",
				cfg->path, cp->line, cp->col, cp->name,
				err.message);
			problems++;
			continue;
		}
		if (vs_plugin_make_config(&cli->pcs[k], pl->ops, cfg, cp,
					  &err) != VS_OK) {
			fprintf(stderr, "%s\n", err.message);
			problems++;
			continue;
		}
		cli->targets[k].cp = cp;
		cli->targets[k].ops = pl->ops;
		cli->targets[k].pc = &cli->pcs[k];
		cli->n_targets++;
	}
	return problems;
}

int vs_cli_run_option(const char *cmd, int c, const char *arg,
		      struct vs_sweep_opts *so, struct vs_cli_exec *x)
{
	long workers;

	switch (c) {
	case 'n':
		so->dry_run = 1;
		return VS_EXIT_OK;
	case 'y':
		so->yes = 1;
		return VS_EXIT_OK;
	case 'r':
		so->report_path = arg;
		return VS_EXIT_OK;
	case 'm':
		x->metrics_file = arg;
		return VS_EXIT_OK;
	case 'w':
		if (vs_cli_parse_int(arg, 1, 1024, &workers) != VS_OK)
			return vs_cli_usage_error(cmd,
						  "--workers takes a number "
						  "from 1 to 1024, not '%s'",
						  arg);
		so->workers = (int)workers;
		return VS_EXIT_OK;
	case 'F':
		so->force_limits = 1;
		return VS_EXIT_OK;
	case 'M':
		if (vs_duration_parse(arg, &x->max_runtime_ms) != 0 ||
		    x->max_runtime_ms < 1000)
			return vs_cli_usage_error(
				cmd,
				"--max-runtime takes a duration of at least "
				"1s (\"45m\", \"2h\"), not '%s'",
				arg);
		return VS_EXIT_OK;
	case 'N':
		x->no_progress = 1;
		return VS_EXIT_OK;
	default:
		return -1;
	}
}

int vs_cli_parse_file_args(const char *cmd, const char *what,
			   void (*usage)(FILE *), int argc, char **argv,
			   struct vs_sweep_opts *so, struct vs_cli_exec *x,
			   const char **path)
{
	static const struct option opts[] = {
		VS_CLI_RUN_OPTIONS,
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c, rc;

	*path = NULL;
	optind = 0;
	opterr = 0;
	/* No '+': FILE may come before the options. */
	while ((c = getopt_long(argc, argv, ":nyh", opts, NULL)) != -1) {
		if ((rc = vs_cli_run_option(cmd, c, optarg, so, x)) >= 0) {
			if (rc != VS_EXIT_OK)
				return rc;
			continue;
		}
		if (c == 'h') {
			usage(stdout);
			return VS_EXIT_OK;
		}
		return vs_cli_bad_option(cmd, c, argv);
	}
	if (optind >= argc)
		return vs_cli_usage_error(cmd, "%s", what);
	*path = argv[optind++];
	if ((rc = vs_cli_no_more_args(cmd, argc, argv)) != VS_EXIT_OK) {
		*path = NULL;
		return rc;
	}
	if (so->yes && so->dry_run) {
		*path = NULL;
		return vs_cli_usage_error(cmd, "--yes and --dry-run exclude "
					       "each other");
	}
	return VS_EXIT_OK;
}

int vs_cli_add_provider(const char ***only, size_t *n_only, const char *name)
{
	if (vs_cli_push_arg(only, n_only, name) != VS_OK) {
		vs_cli_error("out of memory");
		return VS_EXIT_FAILED;
	}
	return VS_EXIT_OK;
}

int vs_cli_no_more_args(const char *cmd, int argc, char **argv)
{
	if (optind < argc)
		return vs_cli_usage_error(cmd, "unexpected argument '%s'",
					  argv[optind]);
	return VS_EXIT_OK;
}

int vs_cli_setup(struct vs_cli *cli)
{
	int rc;

	if ((rc = vs_cli_load_config(cli)) != VS_EXIT_OK)
		return rc;
	return vs_cli_setup_log(cli);
}

int vs_cli_setup_targets(struct vs_cli *cli)
{
	int rc;

	if ((rc = vs_cli_setup(cli)) != VS_EXIT_OK)
		return rc;
	return vs_cli_make_targets(cli) ? VS_EXIT_USAGE : VS_EXIT_OK;
}

struct vs_sweep *vs_cli_plan_sweep(struct vs_cli *cli, struct vs_sweep_opts *so,
				   int *rc)
{
	struct vs_sweep *s;
	struct vs_error err;

	so->no_report_file = 1;
	vs_error_clear(&err);
	s = vs_sweep_new(&cli->cfg, cli->targets, cli->n_targets, so, &err);
	if (!s) {
		vs_cli_error("%s", err.message);
		*rc = err.cls == VS_EC_CONFIG ? VS_EXIT_USAGE : VS_EXIT_FAILED;
		return NULL;
	}
	*rc = vs_sweep_inventory(s, &err);
	if (*rc == VS_EXIT_PROVIDER || *rc == VS_EXIT_USAGE) {
		vs_cli_error("%s", err.message);
		goto fail;
	}
	if (vs_sweep_plan(s, &err) != VS_OK) {
		vs_cli_error("%s", err.message);
		*rc = err.cls == VS_EC_CONFIG ? VS_EXIT_USAGE : VS_EXIT_FAILED;
		goto fail;
	}
	return s;
fail:
	vs_sweep_free(s);
	return NULL;
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

long vs_cli_report_providers(const struct vs_cli *cli,
			     const struct vs_report *r,
			     int (*wanted)(enum vs_outcome), const char ***only,
			     size_t *n_only)
{
	size_t i, k;
	long missing = 0;

	for (i = 0; i < r->n_vms; i++) {
		const char *p = r->vms[i].provider;

		if (wanted && !wanted(r->vms[i].outcome))
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
