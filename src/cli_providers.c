/*
 * cli_providers.c - vmsweep providers: the provider plugins found in the
 * search directories, with their ABI version, file and description.
 * Needs no configuration.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "error.h"

static void providers_usage(FILE *out)
{
	fprintf(out,
		"usage: vmsweep providers\n"
		"\n"
		"List the provider plugins (vmsweep-TYPE.so) found in, in "
		"order: --plugin-dir,\n"
		"$VMSWEEP_PLUGIN_DIR, the build tree next to the binary and "
		"the install\n"
		"directory.  The first file of a type wins.  A file that "
		"cannot be loaded is\n"
		"reported on stderr.\n"
		"\n"
		"exit status: 0 all found plugins load; 2 none found, or one "
		"was refused.\n");
}

static void on_refused(const char *path, const struct vs_error *err,
		       void *udata)
{
	(void)path;
	(void)udata;
	/* The message already names the file. */
	vs_cli_error("%s", err->message);
}

int vs_cli_providers(struct vs_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	size_t refused, i, wt = 4, wp = 4;
	int c, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		if (c == 'h') {
			providers_usage(stdout);
			return VS_EXIT_OK;
		}
		return vs_cli_bad_option("providers", c, argv);
	}
	if (optind < argc)
		return vs_cli_usage_error(
			"providers", "unexpected argument '%s'", argv[optind]);
	if ((rc = vs_cli_setup_log(cli)) != VS_EXIT_OK ||
	    (rc = vs_cli_init_plugins(cli)) != VS_EXIT_OK)
		return rc;
	refused = vs_plugin_set_load_all(&cli->plugins, on_refused, NULL);
	if (!cli->plugins.n) {
		vs_cli_error("no provider plugins found; looked in:");
		for (i = 0; i < cli->plugins.n_dirs; i++)
			fprintf(stderr, "  %s\n", cli->plugins.dirs[i]);
		return VS_EXIT_USAGE;
	}
	for (i = 0; i < cli->plugins.n; i++) {
		const struct vs_plugin *p = cli->plugins.items[i];

		if (strlen(p->ops->type) > wt)
			wt = strlen(p->ops->type);
		if (strlen(p->path) > wp)
			wp = strlen(p->path);
	}
	printf("%-*s  %-3s  %-*s  %s\n", (int)wt, "TYPE", "ABI", (int)wp,
	       "PATH", "DESCRIPTION");
	for (i = 0; i < cli->plugins.n; i++) {
		const struct vs_plugin *p = cli->plugins.items[i];

		printf("%-*s  %-3u  %-*s  %s\n", (int)wt, p->ops->type,
		       p->ops->abi_version, (int)wp, p->path,
		       p->ops->description ? p->ops->description : "");
	}
	fflush(stdout);
	return refused ? VS_EXIT_USAGE : VS_EXIT_OK;
}
