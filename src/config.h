/*
 * config.h - the YAML configuration.
 *
 * vs_config_load() reads one file with libyaml into a struct vs_config.
 * Keys are declared once as data (key, type, default, bounds, help) in
 * config.c; the loader, vs_config_init() (the defaults) and
 * vs_config_write_reference() (docs/configuration.md) all follow from that
 * table.  Loading is strict: an unknown key, a wrong type, a value out of
 * bounds, a bad duration, a duplicate key, a missing required key, a
 * duplicate or unknown provider or rule name, an anchor or alias, or YAML
 * libyaml cannot parse is an error "FILE:LINE:COL: message" (1-based) in
 * err, class VS_EC_CONFIG.  An empty file is valid: the defaults and no
 * providers.  Secrets are only read through KEY_env (an environment
 * variable) or KEY_file (a file); their value never appears in any message.
 * Relative ca_file and KEY_file paths are taken relative to the directory
 * of the configuration file.
 *
 * Provider entries keep keys the core does not know in extra (with their
 * position); vs_config_check_provider_keys() validates and normalises them
 * against the provider plugin's key table once the plugin is loaded.
 *
 * Ownership: everything hangs off the struct vs_config and is freed by
 * vs_config_release(); secrets are wiped before they are freed.
 * Threading: vs_config_load() and vs_config_check_provider_keys() modify
 * the configuration and run before any thread uses it; afterwards it is
 * read-only and may be read from any thread.
 */
#ifndef VS_CONFIG_H
#define VS_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "provider.h"

/* The YAML shape of a provider-specific value. */
enum vs_config_node {
	VS_CONFIG_SCALAR = 0,
	VS_CONFIG_SEQUENCE, /* of scalars */
	VS_CONFIG_OTHER,    /* a mapping, or a sequence holding more */
};

struct vs_config_kv {
	/*
	 * key and value as the plugin sees them.  Before
	 * vs_config_check_provider_keys() they are the key as written and
	 * the scalar (a sequence joined by ','; "" for anything else); after
	 * it, the key of a secret loses its _env/_file suffix and the value
	 * is normalised (secret resolved, bool "true"/"false", integer and
	 * duration in decimal, duration in milliseconds).
	 */
	char *key;
	char *value;
	int line, col; /* 1-based position of the key */
	int secret;    /* resolved from KEY_env / KEY_file */
	/* As written in the file; the check always starts from these. */
	char *yaml_key;
	char *yaml_value;
	enum vs_config_node node;
	int value_line, value_col;
};

struct vs_config_provider {
	char *name;
	char *type;
	char *url;
	char *username;
	char *password; /* resolved secret, or NULL */
	char *ca_file;	/* made relative to the config's directory */
	int insecure;
	unsigned int max_concurrency; /* default 8 */
	int adaptive_concurrency;     /* default 1: AIMD below the max */
	char **protect_names;	      /* per-provider protection globs */
	size_t n_protect_names;
	int age_source;		    /* enum vs_age_policy; default auto */
	struct vs_config_kv *extra; /* provider-specific keys */
	size_t n_extra;
	int line, col; /* position of the entry */
};

/* Where a provider's VM ages come from (providers[].age_source). */
enum vs_age_policy {
	VS_AGE_POLICY_AUTO = 0,	  /* created when known, else first seen */
	VS_AGE_POLICY_CREATED,	  /* the platform's creation time only */
	VS_AGE_POLICY_FIRST_SEEN, /* vmsweep's first-seen record only */
};

struct vs_config_rule {
	char *name;
	char **match; /* globs */
	size_t n_match;
	char **regex; /* POSIX extended regexes (checked at load) */
	size_t n_regex;
	int case_sensitive;    /* default 1 */
	int64_t older_than_ms; /* -1 when not set */
	int64_t newer_than_ms; /* -1 when not set */
	char **power_states;   /* "on", "off", "suspended"; none = any */
	size_t n_power_states;
	char **providers; /* provider names; none = all */
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
	char *protect_marker; /* default "vmsweep:keep" */
	char *expiry_marker;  /* default "vmsweep:expires" */

	long max_deletes;	       /* default 200; -1 = unlimited */
	long max_deletes_per_provider; /* -1 = unlimited */
	int max_delete_percent;	       /* default 50; 100 = unlimited */
	int64_t max_plan_age_ms;       /* default 24h: apply refuses older */

	int workers;		     /* default 16 */
	int retry_rounds;	     /* default 2 */
	int64_t retry_delay_ms;	     /* default 5s */
	int64_t delete_timeout_ms;   /* default 10m */
	int64_t request_timeout_ms;  /* default 60s */
	int64_t confirm_interval_ms; /* default 2s */
	int64_t grace_ms;	/* default 30s: in-flight work after a stop */
	int64_t max_runtime_ms; /* -1 = no limit */
	char *lock_file;	/* NULL = the default place (lock.h) */
	/* The circuit breaker (breaker.h); 0 turns a trigger off. */
	int breaker_consecutive;  /* default 10 failures in a row */
	int breaker_percent;	  /* default 50: more than 50% failed ... */
	int breaker_min_attempts; /* ... of at least 20 attempts */

	char *report_dir;	    /* default "./reports" */
	int report_keep;	    /* 0 = keep all */
	int64_t report_keep_age_ms; /* -1 = no age limit */

	char *state_path;	       /* NULL = the default place (state.h) */
	int64_t state_retention_ms;    /* default 30d */
	int state_flag_after;	       /* default 3; 0 = never */
	int64_t state_busy_timeout_ms; /* default 5s */
	char *metrics_file;	       /* NULL = none */

	int log_level;	/* enum vs_log_level; default INFO */
	int log_format; /* enum vs_log_format; default TEXT */
	char *log_file; /* NULL = none */

	/*
	 * Not a key: VS_CONFIG_STRICT (--strict) as loaded.  A secret file
	 * group or others can read is then an error, here and in
	 * vs_config_check_provider_keys(), and providers are told
	 * (struct vs_provider_config.strict).
	 */
	int strict;
};

/*
 * Fill the defaults (what an empty file gives).  Allocates nothing and
 * cannot fail; the string defaults point at static storage that
 * vs_config_release() knows not to free.  A caller that replaces a string
 * field stores a malloc'ed string.
 */
void vs_config_init(struct vs_config *cfg);
/* Free everything cfg owns and leave it as vs_config_init() does. */
void vs_config_release(struct vs_config *cfg);

/*
 * Initialise cfg (calling vs_config_init() first is allowed, not needed),
 * then load and validate path.  On failure err holds
 * "path:line:col: message" (or "path: message" when the file cannot be
 * read), class VS_EC_CONFIG, and cfg holds what was read so far: release
 * it either way.
 */
int vs_config_load(struct vs_config *cfg, const char *path,
		   struct vs_error *err);

/* Flags of vs_config_load_flags(). */
#define VS_CONFIG_STRICT 0x1u /* --strict */

/*
 * vs_config_load() with flags.  A KEY_file secret whose mode lets group
 * or others read it (any S_IRGRP or S_IROTH bit, whatever the group) is
 * logged as a warning "path:line:col: secret file 'F' for 'KEY' is
 * readable by group or others (mode 0644); chmod 600 it"; with
 * VS_CONFIG_STRICT the same text is the error instead, class
 * VS_EC_CONFIG.  The file's content never appears in either.
 */
int vs_config_load_flags(struct vs_config *cfg, const char *path,
			 unsigned int flags, struct vs_error *err);

/*
 * Check a provider entry's extra keys against a plugin's key table
 * (terminated by {NULL}) and normalise them in place, as described at
 * struct vs_config_kv.  An unknown key ("unknown key 'x' for provider 'y'
 * (type t)"), a value of the wrong type, a secret written as a literal, an
 * unset secret variable, an unreadable secret file or (with cfg->strict)
 * one group or others can read is "path:line:col: message", class
 * VS_EC_CONFIG; without cfg->strict the latter is a warning, as at
 * vs_config_load_flags().  Calling it again is
 * harmless: it starts from the values as written each time.
 */
int vs_config_check_provider_keys(const struct vs_config *cfg,
				  const struct vs_config_provider *p,
				  const struct vs_key_spec *keys,
				  struct vs_error *err);

/* The entry named name, or NULL. */
const struct vs_config_provider *
vs_config_find_provider(const struct vs_config *cfg, const char *name);

/*
 * Where the configuration is: explicit if not NULL, else $VMSWEEP_CONFIG
 * (when set and not empty), else ./vmsweep.yaml if it exists, else
 * /etc/vmsweep/vmsweep.yaml.  Returns explicit, the environment's string
 * or a static string; never NULL.
 */
const char *vs_config_default_path(const char *explicit_path);

/*
 * Write the key reference (Markdown: one table per section with every
 * key's type, default, bounds and help) generated from the key table.
 */
void vs_config_write_reference(FILE *out);

#endif
