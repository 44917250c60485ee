/*
 * config.h - the YAML configuration.
 *
 * vs_config_load() reads one file with libyaml into a struct vs_config.
 * Keys are declared once as data (key, type, default, bounds, help) in
 * config.c; the loader and `vmsweep config-keys` (docs) follow from that
 * table.  Loading is strict: an unknown key, a wrong type, a value out of
 * bounds, a missing required key or a duplicate provider name is an error
 * "FILE:LINE:COL: message" in err.  Secrets are only read through
 * KEY_env (an environment variable) or KEY_file (a file), and their value
 * never appears in any message.
 *
 * Provider entries keep keys the core does not know in extra (with their
 * position); vs_config_check_provider_keys() validates them against the
 * provider plugin's key table once the plugin is loaded.
 *
 * Ownership: everything hangs off the struct vs_config and is freed by
 * vs_config_release().  Not thread-safe while loading; read-only after.
 */
#ifndef VS_CONFIG_H
#define VS_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "provider.h"

struct vs_config_kv {
	char *key;
	char *value;
	int line, col;   /* 1-based position of the key */
	int secret;      /* resolved from KEY_env / KEY_file */
};

struct vs_config_provider {
	char *name;
	char *type;
	char *url;
	char *username;
	char *password;          /* resolved secret, or NULL */
	char *ca_file;
	int insecure;
	unsigned int max_concurrency; /* default 8 */
	char **protect_names;    /* per-provider protection globs */
	size_t n_protect_names;
	struct vs_config_kv *extra; /* provider-specific keys */
	size_t n_extra;
	int line, col;           /* position of the entry */
};

struct vs_config_rule {
	char *name;
	char **match;            /* globs */
	size_t n_match;
	char **regex;            /* POSIX extended regexes */
	size_t n_regex;
	int case_sensitive;      /* default 1 */
	int64_t older_than_ms;   /* -1 when not set */
	int64_t newer_than_ms;   /* -1 when not set */
	char **power_states;     /* "on", "off", "suspended"; none = any */
	size_t n_power_states;
	char **providers;        /* provider names; none = all */
	size_t n_providers;
	int line, col;
};

struct vs_config {
	char *path;

	struct vs_config_provider *providers;
	size_t n_providers;
	struct vs_config_rule *rules;
	size_t n_rules;

	char **protect_names;
	size_t n_protect_names;
	char *protect_marker;        /* default "vmsweep:keep" */
	char *expiry_marker;         /* default "vmsweep:expires" */

	long max_deletes;            /* default 200; -1 = unlimited */
	long max_deletes_per_provider; /* -1 = unlimited */
	int max_delete_percent;      /* default 50; 100 = unlimited */

	int workers;                 /* default 16 */
	int retry_rounds;            /* default 2 */
	int64_t retry_delay_ms;      /* default 5s */
	int64_t delete_timeout_ms;   /* default 10m */
	int64_t request_timeout_ms;  /* default 60s */
	int64_t confirm_interval_ms; /* default 2s */

	char *report_dir;            /* default "./reports" */
	int report_keep;             /* 0 = keep all */

	int log_level;               /* enum vs_log_level; default INFO */
	int log_format;              /* enum vs_log_format; default TEXT */
	char *log_file;              /* NULL = none */
};

/* Fill the defaults (what an empty file gives). */
void vs_config_init(struct vs_config *cfg);
void vs_config_release(struct vs_config *cfg);

/* Load and validate path; on failure err holds "path:line:col: message". */
int vs_config_load(struct vs_config *cfg, const char *path,
		   struct vs_error *err);

/*
 * Check a provider entry's extra keys against a plugin's key table; an
 * unknown key or a value of the wrong type is "path:line:col: message".
 */
int vs_config_check_provider_keys(const struct vs_config *cfg,
				  const struct vs_config_provider *p,
				  const struct vs_key_spec *keys,
				  struct vs_error *err);

/*
 * Where the configuration is: explicit if not NULL, else $VMSWEEP_CONFIG,
 * else ./vmsweep.yaml if it exists, else /etc/vmsweep/vmsweep.yaml.
 * Returns a pointer to explicit, the environment or a static string.
 */
const char *vs_config_default_path(const char *explicit_path);

/* Write the key reference (Markdown) generated from the key table. */
void vs_config_write_reference(FILE *out);

#endif
