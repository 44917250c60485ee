/*
 * cli_check.c - vmsweep check: the configuration, every provider's
 * plugin and keys, and authentication to every provider.  Every problem
 * found is one line on stderr; what is fine is one line on stdout.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "error.h"
#include "sweep.h"

static void check_usage(FILE *out)
{
	fprintf(out,
		"usage: vmsweep check\n"
		"\n"
		"Load the configuration, the plugin of every provider, check "
		"each provider's\n"
		"keys, open (authenticate to) every provider and list its "
		"VMs, to show\n"
		"the size of each inventory.  Nothing is changed.  Every "
		"problem is\n"
		"reported, one line each, and so is a secret file that group "
		"or others\n"
		"can read (an error with 'vmsweep --strict check').\n"
		"\n"
		"exit status: 0 all fine; 2 a configuration or plugin "
		"problem; 3 a provider\n"
		"unreachable or authentication failed.\n");
}

int vs_cli_check(struct vs_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct vs_sweep_opts so;
	struct vs_sweep *s = NULL;
	struct vs_error err;
	size_t problems, failed = 0, i;
	int c, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		if (c == 'h') {
			check_usage(stdout);
			return VS_EXIT_OK;
		}
		return vs_cli_bad_option("check", c, argv);
	}
	if (optind < argc)
		return vs_cli_usage_error("check", "unexpected argument '%s'",
					  argv[optind]);
	if ((rc = vs_cli_load_config(cli)) != VS_EXIT_OK ||
	    (rc = vs_cli_setup_log(cli)) != VS_EXIT_OK)
		return rc;
	printf("%s: configuration ok (%zu provider%s, %zu rule%s)\n",
	       cli->cfg.path, cli->cfg.n_providers,
	       cli->cfg.n_providers == 1 ? "" : "s", cli->cfg.n_rules,
	       cli->cfg.n_rules == 1 ? "" : "s");
	if (!cli->cfg.n_providers)
		vs_cli_error("%s: no providers configured", cli->cfg.path);
	if (!cli->cfg.n_rules)
		vs_cli_error("%s: no rules: nothing would ever be selected",
			     cli->cfg.path);
	problems = vs_cli_make_targets(cli);

	if (cli->n_targets) {
		memset(&so, 0, sizeof(so));
		/* Listing is read-only, and shows what a run would see. */
		so.no_report_file = 1;
		vs_error_clear(&err);
		s = vs_sweep_new(&cli->cfg, cli->targets, cli->n_targets, &so,
				 &err);
		if (!s) {
			vs_cli_error("%s", err.message);
			return VS_EXIT_FAILED;
		}
		vs_sweep_inventory(s, NULL);
		for (i = 0; i < vs_sweep_n_providers(s); i++) {
			const struct vs_error *e =
				vs_sweep_provider_error(s, i);
			const char *name = vs_sweep_provider_name(s, i);

			if (!e) {
				size_t n = vs_sweep_provider_listed(s, i);

				printf("%s: ok (plugin %s, authenticated, %zu "
				       "VM%s listed)\n",
				       name, cli->targets[i].ops->type, n,
				       n == 1 ? "" : "s");
				continue;
			}
			/* The message names the instance (provider.h). */
			vs_cli_error("cannot open or list: %s: %s",
				     vs_err_class_name(e->cls), e->message);
			/* The file is wrong, not the platform: exit 2. */
			if (e->cls == VS_EC_CONFIG)
				problems++;
			else
				failed++;
		}
		vs_sweep_free(s);
	}
	fflush(stdout);
	if (problems)
		return VS_EXIT_USAGE;
	if (failed)
		return VS_EXIT_PROVIDER;
	return VS_EXIT_OK;
}
