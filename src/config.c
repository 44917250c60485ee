/*
 * config.c - the YAML configuration, declared as data.
 *
 * Every key of every section is one row of a static table below (key,
 * type, default, bounds, help, where it is stored).  vs_config_init()
 * applies the defaults by parsing the rows' default text with the same
 * parsers the loader uses, vs_config_load() checks and stores values by
 * row, and vs_config_write_reference() prints the rows; so the defaults,
 * the checks and docs/configuration.md cannot drift apart.
 *
 * The file is read whole (capped), turned into a small tree by libyaml's
 * event API and then walked.  The event API is used rather than the
 * document API because only events say where an anchor or alias is: we
 * reject both, since a configuration that deletes VMs should read the
 * same to a human as to the program, and aliases make exponential
 * expansion ("billion laughs") possible.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <regex.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "buf.h"
#include "log.h"
#include "timeutil.h"

#define CONFIG_MAX_BYTES ((size_t)1024 * 1024)
#define SECRET_MAX_BYTES ((size_t)64 * 1024)
/* Deeper than any valid file; bounds the recursion over the tree. */
#define MAX_DEPTH 32
/* Room for a user-supplied string (a path, say) quoted in a message. */
#define QBUF 160

/* ------------------------------------------------------------------ */
/* The key tables.                                                      */

enum ktype {
	K_STRING = 1,
	K_PATH,	    /* a string; relative means relative to the config's dir */
	K_BOOL,	    /* int */
	K_INT,	    /* int, unsigned int, long or int64_t, by size */
	K_DURATION, /* int64_t milliseconds; -1 when not set */
	K_ENUM,	    /* int: the index in choices */
	K_LIST,	    /* char ** and a size_t count */
	K_SECRET,   /* char *, only from KEY_env / KEY_file */
};

#define KF_REQUIRED  0x1u
#define KF_NAME	     0x2u /* [A-Za-z0-9_.-]+ */
#define KF_UNLIMITED 0x4u /* -1 or "unlimited" mean no limit */
#define KF_REGEX     0x8u /* every item must compile */

struct key_def {
	const char *key;
	enum ktype type;
	unsigned int flags;
	size_t off, size, off_n;
	/* Default as text, parsed by init and printed by the reference. */
	const char *def;
	long long min, max;	    /* K_INT; K_DURATION in milliseconds */
	const char *const *choices; /* K_ENUM, and K_LIST items; NULL-ended */
	const char *help;
};

#define AT(st, f)      .off = offsetof(st, f), .size = sizeof(((st *)0)->f)
#define LIST_AT(st, f) AT(st, f), .off_n = offsetof(st, n_##f)
#define NKEYS(t)       (sizeof(t) / sizeof((t)[0]))

#define SEC_MS	1000LL
#define MIN_MS	(60 * SEC_MS)
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS	(24 * HOUR_MS)

/*
 * String defaults live in writable static storage so that a struct
 * vs_config can point at them without allocating (init cannot fail);
 * release frees a string field only when it no longer points here.
 */
static char def_marker[] = "vmsweep:keep";
static char def_expiry_marker[] = "vmsweep:expires";
static char def_report_dir[] = "./reports";

static const char *const power_choices[] = {"on", "off", "suspended", NULL};
/* In the order of enum vs_log_level and enum vs_log_format. */
static const char *const level_choices[] = {"error", "warn",  "info",
					    "debug", "trace", NULL};
static const char *const format_choices[] = {"text", "json", NULL};
/* In the order of enum vs_age_policy. */
static const char *const age_source_choices[] = {"auto", "created",
						 "first_seen", NULL};

#define P struct vs_config_provider
static const struct key_def provider_keys[] = {
	{.key = "name",
	 .type = K_STRING,
	 .flags = KF_REQUIRED | KF_NAME,
	 AT(P, name),
	 .help = "Unique name of this endpoint; used in logs, reports and "
		 "--provider"},
	{.key = "type",
	 .type = K_STRING,
	 .flags = KF_REQUIRED | KF_NAME,
	 AT(P, type),
	 .help = "Provider plugin: vmware, rhv, osp (any loaded plugin's "
		 "type)"},
	{.key = "url",
	 .type = K_STRING,
	 AT(P, url),
	 .help = "API endpoint, e.g. https://vcenter.example.com or "
		 "https://rhvm.example.com/ovirt-engine/api"},
	{.key = "username",
	 .type = K_STRING,
	 AT(P, username),
	 .help = "Account that lists and deletes VMs"},
	{.key = "password",
	 .type = K_SECRET,
	 AT(P, password),
	 .help = "Password of username: only as password_env (a variable "
		 "name) or password_file (a path)"},
	{.key = "ca_file",
	 .type = K_PATH,
	 AT(P, ca_file),
	 .help = "PEM file of CAs trusted for this endpoint instead of the "
		 "system store"},
	{.key = "insecure",
	 .type = K_BOOL,
	 AT(P, insecure),
	 .def = "false",
	 .help = "Do not verify the TLS certificate (warned; excludes "
		 "ca_file)"},
	{.key = "max_concurrency",
	 .type = K_INT,
	 AT(P, max_concurrency),
	 .def = "8",
	 .min = 1,
	 .max = 256,
	 .help = "Requests in flight to this endpoint at most"},
	{.key = "adaptive_concurrency",
	 .type = K_BOOL,
	 AT(P, adaptive_concurrency),
	 .def = "true",
	 .help = "Halve the requests in flight when the endpoint pushes back "
		 "(HTTP 429, 503, vSphere RESOURCE_BUSY) and grow them back "
		 "by one per window of successes, up to max_concurrency"},
	{.key = "protect_names",
	 .type = K_LIST,
	 LIST_AT(P, protect_names),
	 .help = "Name globs never deleted on this endpoint (in addition to "
		 "protect.names)"},
	{.key = "age_source",
	 .type = K_ENUM,
	 AT(P, age_source),
	 .def = "auto",
	 .choices = age_source_choices,
	 .help = "Where a VM's age comes from: created (the platform's "
		 "creation time), first_seen (when vmsweep first listed it, "
		 "see docs/state.md) or auto (created when the VM has one, "
		 "else first_seen)"},
};
#undef P

#define R struct vs_config_rule
static const struct key_def rule_keys[] = {
	{.key = "name",
	 .type = K_STRING,
	 .flags = KF_REQUIRED | KF_NAME,
	 AT(R, name),
	 .help = "Unique rule name; plans and reports give it as the reason"},
	{.key = "match",
	 .type = K_LIST,
	 LIST_AT(R, match),
	 .help = "Name globs (`*`, `?`, `[...]`) that select a VM"},
	{.key = "regex",
	 .type = K_LIST,
	 .flags = KF_REGEX,
	 LIST_AT(R, regex),
	 .help = "POSIX extended regular expressions searched for in the "
		 "name (anchor with `^` and `$`)"},
	{.key = "case_sensitive",
	 .type = K_BOOL,
	 AT(R, case_sensitive),
	 .def = "true",
	 .help = "Whether match and regex respect case"},
	{.key = "older_than",
	 .type = K_DURATION,
	 AT(R, older_than_ms),
	 .min = 0,
	 .max = INT64_MAX,
	 .help = "Select only VMs created longer ago than this; a VM of "
		 "unknown age is then never selected"},
	{.key = "newer_than",
	 .type = K_DURATION,
	 AT(R, newer_than_ms),
	 .min = 0,
	 .max = INT64_MAX,
	 .help = "Select only VMs created less long ago than this (longer "
		 "than older_than)"},
	{.key = "power_states",
	 .type = K_LIST,
	 LIST_AT(R, power_states),
	 .choices = power_choices,
	 .help = "Select only VMs in one of these power states; none means "
		 "any"},
	{.key = "providers",
	 .type = K_LIST,
	 LIST_AT(R, providers),
	 .help = "Apply only to these configured provider names; none means "
		 "all"},
};
#undef R

#define C struct vs_config
static const struct key_def protect_keys[] = {
	{.key = "names",
	 .type = K_LIST,
	 LIST_AT(C, protect_names),
	 .help = "Name globs never deleted on any provider"},
	{.key = "marker",
	 .type = K_STRING,
	 AT(C, protect_marker),
	 .def = def_marker,
	 .help = "Tag, metadata key or description text that protects a VM"},
	{.key = "expiry_marker",
	 .type = K_STRING,
	 AT(C, expiry_marker),
	 .def = def_expiry_marker,
	 .help = "Tag or metadata key whose RFC 3339 date protects a VM "
		 "until then"},
};

static const struct key_def limits_keys[] = {
	{.key = "max_deletes",
	 .type = K_INT,
	 .flags = KF_UNLIMITED,
	 AT(C, max_deletes),
	 .def = "200",
	 .min = 0,
	 .max = 1000000000,
	 .help = "Stop before deleting anything when the plan holds more VMs"},
	{.key = "max_deletes_per_provider",
	 .type = K_INT,
	 .flags = KF_UNLIMITED,
	 AT(C, max_deletes_per_provider),
	 .def = "unlimited",
	 .min = 0,
	 .max = 1000000000,
	 .help = "The same, for the VMs of one provider"},
	{.key = "max_delete_percent",
	 .type = K_INT,
	 AT(C, max_delete_percent),
	 .def = "50",
	 .min = 0,
	 .max = 100,
	 .help = "Stop when the plan would delete more than this share of a "
		 "provider's inventory (100: no limit)"},
	{.key = "max_plan_age",
	 .type = K_DURATION,
	 AT(C, max_plan_age_ms),
	 .def = "24h",
	 .min = MIN_MS,
	 .max = 30 * DAY_MS,
	 .help = "vmsweep apply refuses a plan made longer ago than this"},
};

static const struct key_def run_keys[] = {
	{.key = "workers",
	 .type = K_INT,
	 AT(C, workers),
	 .def = "16",
	 .min = 1,
	 .max = 1024,
	 .help = "Worker threads deleting in parallel (--workers overrides)"},
	{.key = "retry_rounds",
	 .type = K_INT,
	 AT(C, retry_rounds),
	 .def = "2",
	 .min = 0,
	 .max = 10,
	 .help = "Rounds that retry retryable failures after the first pass"},
	{.key = "retry_delay",
	 .type = K_DURATION,
	 AT(C, retry_delay_ms),
	 .def = "5s",
	 .min = 0,
	 .max = HOUR_MS,
	 .help = "Pause before each retry round"},
	{.key = "delete_timeout",
	 .type = K_DURATION,
	 AT(C, delete_timeout_ms),
	 .def = "10m",
	 .min = SEC_MS,
	 .max = DAY_MS,
	 .help = "Time one VM's prepare, delete and confirmation may take"},
	{.key = "request_timeout",
	 .type = K_DURATION,
	 AT(C, request_timeout_ms),
	 .def = "60s",
	 .min = SEC_MS,
	 .max = HOUR_MS,
	 .help = "Time one HTTP request may take in total"},
	{.key = "confirm_interval",
	 .type = K_DURATION,
	 AT(C, confirm_interval_ms),
	 .def = "2s",
	 .min = 100,
	 .max = 10 * MIN_MS,
	 .help = "Pause between checks that a requested deletion finished"},
	{.key = "grace",
	 .type = K_DURATION,
	 AT(C, grace_ms),
	 .def = "30s",
	 .min = 0,
	 .max = HOUR_MS,
	 .help = "After SIGINT, SIGTERM or max_runtime: time deletions in "
		 "flight get to finish before their requests are cut (a "
		 "second signal cuts at once)"},
	{.key = "max_runtime",
	 .type = K_DURATION,
	 AT(C, max_runtime_ms),
	 .min = SEC_MS,
	 .max = 30 * DAY_MS,
	 .help = "Stop a run this long after it started, as SIGTERM would "
		 "(--max-runtime overrides)"},
	{.key = "lock_file",
	 .type = K_STRING,
	 AT(C, lock_file),
	 .help = "Lock file held by a deleting run; none means "
		 "vmsweep.lock in $RUNTIME_DIRECTORY, $XDG_RUNTIME_DIR, "
		 "$STATE_DIRECTORY or the state directory (see "
		 "docs/operations.md)"},
	{.key = "breaker_consecutive",
	 .type = K_INT,
	 AT(C, breaker_consecutive),
	 .def = "10",
	 .min = 0,
	 .max = 1000000,
	 .help = "Circuit breaker: stop sending deletes to a provider after "
		 "this many failures in a row; the rest are not_attempted "
		 "(0: off)"},
	{.key = "breaker_percent",
	 .type = K_INT,
	 AT(C, breaker_percent),
	 .def = "50",
	 .min = 0,
	 .max = 100,
	 .help = "Circuit breaker: stop sending deletes to a provider when "
		 "more than this share of its attempts failed, once it had "
		 "breaker_min_attempts (0: off)"},
	{.key = "breaker_min_attempts",
	 .type = K_INT,
	 AT(C, breaker_min_attempts),
	 .def = "20",
	 .min = 1,
	 .max = 1000000,
	 .help = "Attempts on a provider before breaker_percent applies"},
};

static const struct key_def report_keys[] = {
	{.key = "dir",
	 .type = K_STRING,
	 AT(C, report_dir),
	 .def = def_report_dir,
	 .help = "Directory of the reports (relative to the working "
		 "directory)"},
	{.key = "keep",
	 .type = K_INT,
	 AT(C, report_keep),
	 .def = "0",
	 .min = 0,
	 .max = 1000000,
	 .help = "Reports kept in dir, older ones pruned; 0 keeps all"},
	{.key = "keep_age",
	 .type = K_DURATION,
	 AT(C, report_keep_age_ms),
	 .min = 0,
	 .max = INT64_MAX,
	 .help = "Reports in dir that started longer ago than this are "
		 "pruned (with keep, whichever prunes more)"},
	{.key = "metrics_file",
	 .type = K_STRING,
	 AT(C, metrics_file),
	 .help = "Prometheus text file (node_exporter textfile collector) "
		 "rewritten after every real run and retry (relative to the "
		 "working directory; --metrics-file overrides)"},
};

static const struct key_def state_keys[] = {
	{.key = "path",
	 .type = K_STRING,
	 AT(C, state_path),
	 .help = "The state store (SQLite: first-seen ages and the run "
		 "journal); none means state.db in $STATE_DIRECTORY, "
		 "$XDG_STATE_HOME/vmsweep or ~/.local/state/vmsweep (relative "
		 "to the working directory; see docs/state.md)"},
	{.key = "retention",
	 .type = K_DURATION,
	 AT(C, state_retention_ms),
	 .def = "30d",
	 .min = HOUR_MS,
	 .max = 3650 * DAY_MS,
	 .help = "First-seen records of VMs not listed for this long, and "
		 "journaled runs older than this, are pruned"},
	{.key = "flag_after",
	 .type = K_INT,
	 AT(C, state_flag_after),
	 .def = "3",
	 .min = 0,
	 .max = 1000,
	 .help = "Flag a VM in the report when it failed in this many runs "
		 "in a row, this one included (0: never)"},
	{.key = "busy_timeout",
	 .type = K_DURATION,
	 AT(C, state_busy_timeout_ms),
	 .def = "5s",
	 .min = 0,
	 .max = 10 * MIN_MS,
	 .help = "How long to wait for another process that holds the "
		 "state store before giving up on it (with a warning)"},
};

static const struct key_def log_keys[] = {
	{.key = "level",
	 .type = K_ENUM,
	 AT(C, log_level),
	 .def = "info",
	 .choices = level_choices,
	 .help = "Least severe level logged (-v and -q override)"},
	{.key = "format",
	 .type = K_ENUM,
	 AT(C, log_format),
	 .def = "text",
	 .choices = format_choices,
	 .help = "Text lines or JSON lines (--log-format overrides)"},
	{.key = "file",
	 .type = K_STRING,
	 AT(C, log_file),
	 .help = "Also append log lines to this file (relative to the "
		 "working directory)"},
};
#undef C

enum sec_shape { SEC_MAP, SEC_LIST };

struct section {
	const char *name;
	enum sec_shape shape;
	const struct key_def *keys;
	size_t nkeys;
	const char *help;
};

static const struct section sections[] = {
	{"providers", SEC_LIST, provider_keys, NKEYS(provider_keys),
	 "A list of endpoints, one provider instance each.  Keys not listed "
	 "here are provider-specific: they are kept and checked against the "
	 "plugin's own keys (see the provider's documentation)."},
	{"rules", SEC_LIST, rule_keys, NKEYS(rule_keys),
	 "A list of rules; a VM is selected when any rule selects it.  A rule "
	 "needs match or regex; all its conditions must hold."},
	{"protect", SEC_MAP, protect_keys, NKEYS(protect_keys),
	 "Protections; they always win over rules."},
	{"limits", SEC_MAP, limits_keys, NKEYS(limits_keys),
	 "Safety gates checked before anything is deleted."},
	{"run", SEC_MAP, run_keys, NKEYS(run_keys),
	 "How a run deletes: parallelism, retries, timeouts."},
	{"report", SEC_MAP, report_keys, NKEYS(report_keys),
	 "Where reports go and how many are kept."},
	{"state", SEC_MAP, state_keys, NKEYS(state_keys),
	 "The state store: first-seen ages and the run journal "
	 "(docs/state.md)."},
	{"log", SEC_MAP, log_keys, NKEYS(log_keys),
	 "Logging to stderr and optionally a file."},
};

/* ------------------------------------------------------------------ */
/* Value parsers shared by the defaults, the loader and the plugin keys. */

static int parse_bool(const char *s, int *out)
{
	static const char *const yes[] = {"true", "yes", "on"};
	static const char *const no[] = {"false", "no", "off"};
	size_t i;

	for (i = 0; i < 3; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return VS_ERR;
}

/* A whole decimal integer; no spaces, no junk, no overflow. */
static int parse_ll(const char *s, long long *out)
{
	char *end;
	long long v;

	if (!((*s >= '0' && *s <= '9') ||
	      ((*s == '-' || *s == '+') && s[1] >= '0' && s[1] <= '9')))
		return VS_ERR;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return VS_ERR;
	*out = v;
	return 0;
}

static int parse_enum(const char *const *choices, const char *s, int *out)
{
	int i;

	for (i = 0; choices[i]; i++) {
		if (strcasecmp(choices[i], s) == 0) {
			*out = i;
			return 0;
		}
	}
	return VS_ERR;
}

static int valid_name(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' ||
		      *s == '-'))
			return 0;
	return 1;
}

/* An environment variable's name, so a pasted password is not echoed. */
static int valid_env_name(const char *s)
{
	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
	      *s == '_'))
		return 0;
	for (s++; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}

/* ------------------------------------------------------------------ */
/* Fields.                                                              */

static void *field(void *base, const struct key_def *kd)
{
	return (char *)base + kd->off;
}

/* memcpy keeps this free of aliasing trouble between int/long/int64_t. */
static void store_int(void *f, size_t size, long long v)
{
	if (size == sizeof(int32_t)) {
		int32_t t = (int32_t)v;
		memcpy(f, &t, sizeof(t));
	} else {
		int64_t t = (int64_t)v;
		memcpy(f, &t, sizeof(t));
	}
}

static void store_flag(void *f, int v)
{
	memcpy(f, &v, sizeof(v));
}

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static void free_list(char **items, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(items[i]);
	free(items);
}

/*
 * The table's defaults are known-good text; a row whose default did not
 * parse would be a bug caught by the tests (the field keeps 0).
 */
static void init_fields(const struct key_def *keys, size_t n, void *base)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const struct key_def *kd = &keys[i];
		void *f = field(base, kd);
		long long v = 0;
		int64_t ms = -1;
		int b = 0, e = 0;

		switch (kd->type) {
		case K_STRING:
		case K_PATH:
			*(char **)f = (char *)kd->def;
			break;
		case K_SECRET:
			*(char **)f = NULL;
			break;
		case K_BOOL:
			if (kd->def && parse_bool(kd->def, &b) != 0)
				b = 0;
			store_flag(f, b);
			break;
		case K_INT:
			if (kd->def && (kd->flags & KF_UNLIMITED) &&
			    strcasecmp(kd->def, "unlimited") == 0)
				v = -1;
			else if (kd->def && parse_ll(kd->def, &v) != 0)
				v = 0;
			store_int(f, kd->size, v);
			break;
		case K_DURATION:
			if (kd->def && vs_duration_parse(kd->def, &ms) != 0)
				ms = -1;
			store_int(f, sizeof(int64_t), ms);
			break;
		case K_ENUM:
			if (kd->def &&
			    parse_enum(kd->choices, kd->def, &e) != 0)
				e = 0;
			store_flag(f, e);
			break;
		case K_LIST:
			*(char ***)f = NULL;
			*(size_t *)((char *)base + kd->off_n) = 0;
			break;
		}
	}
}

static void release_fields(const struct key_def *keys, size_t n, void *base)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const struct key_def *kd = &keys[i];
		void *f = field(base, kd);

		switch (kd->type) {
		case K_STRING:
		case K_PATH:
			if (*(char **)f != kd->def)
				free(*(char **)f);
			break;
		case K_SECRET:
			wipe_free(*(char **)f);
			break;
		case K_LIST:
			free_list(*(char ***)f,
				  *(size_t *)((char *)base + kd->off_n));
			break;
		default:
			break;
		}
	}
	init_fields(keys, n, base);
}

static void release_kv(struct vs_config_kv *kv)
{
	if (kv->secret)
		wipe_free(kv->value);
	else
		free(kv->value);
	free(kv->key);
	free(kv->yaml_key);
	free(kv->yaml_value);
}

void vs_config_init(struct vs_config *cfg)
{
	size_t i;

	memset(cfg, 0, sizeof(*cfg));
	for (i = 0; i < NKEYS(sections); i++)
		if (sections[i].shape == SEC_MAP)
			init_fields(sections[i].keys, sections[i].nkeys, cfg);
}

void vs_config_release(struct vs_config *cfg)
{
	size_t i, j;

	if (!cfg)
		return;
	for (i = 0; i < cfg->n_providers; i++) {
		struct vs_config_provider *p = &cfg->providers[i];

		release_fields(provider_keys, NKEYS(provider_keys), p);
		for (j = 0; j < p->n_extra; j++)
			release_kv(&p->extra[j]);
		free(p->extra);
	}
	free(cfg->providers);
	for (i = 0; i < cfg->n_rules; i++)
		release_fields(rule_keys, NKEYS(rule_keys), &cfg->rules[i]);
	free(cfg->rules);
	for (i = 0; i < NKEYS(sections); i++)
		if (sections[i].shape == SEC_MAP)
			release_fields(sections[i].keys, sections[i].nkeys,
				       cfg);
	free(cfg->path);
	vs_config_init(cfg);
}

/* ------------------------------------------------------------------ */
/* The tree libyaml's events are turned into.                           */

enum node_kind { N_SCALAR, N_SEQ, N_MAP };

struct node {
	enum node_kind kind;
	int line, col;	   /* 1-based */
	int null;	   /* a plain "", "~" or "null": no value */
	char *s;	   /* N_SCALAR */
	struct node **kid; /* N_SEQ items; N_MAP key, value, key, value... */
	size_t n, alloc;
	struct node *parent;
};

static void node_free(struct node *nd)
{
	size_t i;

	if (!nd)
		return;
	for (i = 0; i < nd->n; i++)
		node_free(nd->kid[i]);
	free(nd->kid);
	free(nd->s);
	free(nd);
}

/* "a mapping", for "must be X, not a mapping". */
static const char *a_kind(const struct node *nd)
{
	switch (nd->kind) {
	case N_SEQ:
		return "a sequence";
	case N_MAP:
		return "a mapping";
	default:
		return nd->null ? "an empty value" : "a scalar";
	}
}

/* The value node of key in map nd, or NULL. */
static const struct node *map_get(const struct node *nd, const char *key)
{
	size_t i;

	if (!nd || nd->kind != N_MAP)
		return NULL;
	for (i = 0; i + 1 < nd->n; i += 2)
		if (nd->kid[i]->kind == N_SCALAR &&
		    strcmp(nd->kid[i]->s, key) == 0)
			return nd->kid[i + 1];
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Messages.                                                            */

struct ctx {
	struct vs_config *cfg;
	const char *path;
	char *dir; /* of path, for relative files; NULL: the working dir */
	struct vs_error *err;
	int strict; /* a secret file others can read is an error */
};

/*
 * Copy a user-supplied string for a message: control characters escaped,
 * long values cut, so one line stays one line.
 */
static const char *q(char *dst, const char *s)
{
	size_t o = 0;

	for (; *s && o < QBUF - 8; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch < 0x20 || ch == 0x7f)
			o += (size_t)snprintf(dst + o, QBUF - o, "\\x%02x", ch);
		else
			dst[o++] = (char)ch;
	}
	if (*s) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
	return dst;
}

static int fail(struct ctx *c, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(struct ctx *c, int line, int col, const char *fmt, ...)
{
	char msg[VS_ERROR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return vs_error_set(c->err, VS_EC_CONFIG, 0, 0, "%s:%d:%d: %s", c->path,
			    line, col, msg);
}

static int nomem(struct ctx *c)
{
	return vs_error_set(c->err, VS_EC_INTERNAL, 0, 0, "%s: out of memory",
			    c->path);
}

/* ------------------------------------------------------------------ */
/* Reading files.                                                       */

static void errno_text(int e, char *buf, size_t sz)
{
	const char *s = strerror_r(e, buf, sz);

	if (s != buf)
		snprintf(buf, sz, "%s", s);
}

/*
 * Read fd into b (whose cap bounds the size).  Returns 0, VS_BUF_TOO_BIG,
 * VS_BUF_NOMEM, or VS_ERR with errno set.
 */
static int read_fd(int fd, struct vs_buf *b)
{
	char chunk[8192];

	for (;;) {
		ssize_t r = read(fd, chunk, sizeof(chunk));
		int rc;

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return VS_ERR;
		if (r == 0)
			break;
		rc = vs_buf_add(b, chunk, (size_t)r);
		explicit_bzero(chunk, sizeof(chunk));
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* path relative to the configuration file's directory; malloc'ed. */
static char *resolve_path(const struct ctx *c, const char *path)
{
	size_t dl, pl;
	char *r;

	if (path[0] == '/' || !c->dir)
		return strdup(path);
	dl = strlen(c->dir);
	pl = strlen(path);
	r = malloc(dl + pl + 2);
	if (!r)
		return NULL;
	memcpy(r, c->dir, dl);
	if (dl && r[dl - 1] != '/')
		r[dl++] = '/';
	memcpy(r + dl, path, pl + 1);
	return r;
}

/* The warning, or with --strict the error, for a file others can read. */
#define LOOSE_SECRET_FMT                                                  \
	"secret file '%s' for '%s' is readable by group or others (mode " \
	"%04o); chmod 600 it"

/*
 * Read a secret from file (as written: shown; resolved: path) for key
 * into *out.  The content never reaches a message or the log.  A file
 * group or others can read is a warning, or an error when c->strict.
 */
static int read_secret_file(struct ctx *c, const char *shown, const char *key,
			    int line, int col, char **out)
{
	char qb[QBUF], eb[128];
	struct vs_buf b;
	struct stat st;
	char *path = NULL;
	int fd = -1, rc = VS_ERR, r;

	vs_buf_init(&b, SECRET_MAX_BYTES);
	path = resolve_path(c, shown);
	if (!path) {
		nomem(c);
		goto out;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) != 0) {
		errno_text(errno, eb, sizeof(eb));
		fail(c, line, col, "cannot read '%s' for '%s': %s", q(qb, path),
		     key, eb);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		fail(c, line, col, "'%s' for '%s' is not a regular file",
		     q(qb, path), key);
		goto out;
	}
	/*
	 * Any group or other read bit counts, whoever the group is: a
	 * dedicated group is still more readers than the one account that
	 * runs vmsweep, and the rule stays one a reader can check with ls.
	 */
	if (st.st_mode & (S_IRGRP | S_IROTH)) {
		if (c->strict) {
			fail(c, line, col, LOOSE_SECRET_FMT, q(qb, path), key,
			     (unsigned int)(st.st_mode & 07777));
			goto out;
		}
		vs_log(VS_LOG_WARN, "config", "%s:%d:%d: " LOOSE_SECRET_FMT,
		       c->path, line, col, q(qb, path), key,
		       (unsigned int)(st.st_mode & 07777));
	}
	r = read_fd(fd, &b);
	if (r == VS_BUF_TOO_BIG) {
		fail(c, line, col, "'%s' for '%s' is larger than %zu KiB",
		     q(qb, path), key, SECRET_MAX_BYTES / 1024);
		goto out;
	} else if (r == VS_BUF_NOMEM) {
		nomem(c);
		goto out;
	} else if (r != 0) {
		errno_text(errno, eb, sizeof(eb));
		fail(c, line, col, "cannot read '%s' for '%s': %s", q(qb, path),
		     key, eb);
		goto out;
	}
	/* Editors end a file with a newline; it is not part of the secret. */
	if (b.len && b.s[b.len - 1] == '\n') {
		b.s[--b.len] = '\0';
		if (b.len && b.s[b.len - 1] == '\r')
			b.s[--b.len] = '\0';
	}
	if (b.len == 0) {
		fail(c, line, col, "'%s' for '%s' is empty", q(qb, path), key);
		goto out;
	}
	if (memchr(b.s, '\0', b.len) || strchr(b.s, '\n') ||
	    strchr(b.s, '\r')) {
		fail(c, line, col,
		     "'%s' for '%s' must hold one line without NUL bytes",
		     q(qb, path), key);
		goto out;
	}
	*out = strdup(b.s);
	if (!*out) {
		nomem(c);
		goto out;
	}
	rc = 0;
out:
	if (b.alloc)
		explicit_bzero(b.s, b.alloc);
	vs_buf_release(&b);
	if (fd >= 0)
		close(fd);
	free(path);
	return rc;
}

/*
 * Whether a variable's name may be quoted in a message: the usual
 * upper-case form.  "Hunter2x" is a valid name too, but more likely a
 * password pasted where the name belongs.
 */
static int env_name_shown(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '_'))
			return 0;
	return 1;
}

/* Resolve KEY_env / KEY_file (via "env" or "file") given as v. */
static int resolve_secret(struct ctx *c, const char *key, const char *via,
			  const struct node *v, char **out)
{
	char qb[QBUF], var[QBUF + 32];
	const char *val, *problem = NULL;

	if (strcmp(via, "env") == 0) {
		if (!valid_env_name(v->s))
			return fail(
				c, v->line, v->col,
				"'%s_env' must name an environment variable "
				"(letters, digits, '_')",
				key);
		if (env_name_shown(v->s))
			snprintf(var, sizeof(var), "environment variable '%s'",
				 q(qb, v->s));
		else
			snprintf(var, sizeof(var),
				 "environment variable (name not shown: it "
				 "may be a pasted secret)");
		val = getenv(v->s);
		if (!val)
			problem = "is not set";
		else if (!*val)
			problem = "is empty";
		else if (strchr(val, '\n') || strchr(val, '\r'))
			problem = "must hold one line";
		if (problem)
			return fail(c, v->line, v->col, "%s for '%s' %s", var,
				    key, problem);
		*out = strdup(val);
		return *out ? 0 : nomem(c);
	}
	return read_secret_file(c, v->s, key, v->line, v->col, out);
}

/* ------------------------------------------------------------------ */
/* YAML to tree.                                                        */

static int yaml_fail(struct ctx *c, const yaml_parser_t *p, const char *text,
		     size_t len)
{
	size_t line = p->problem_mark.line + 1,
	       col = p->problem_mark.column + 1;
	const char *problem = p->problem ? p->problem : "cannot parse";

	if (p->error == YAML_MEMORY_ERROR)
		return nomem(c);
	if (p->error == YAML_READER_ERROR) {
		/* Reader errors carry a byte offset, not a mark. */
		size_t i,
			end = p->problem_offset < len ? p->problem_offset : len;

		line = 1;
		col = 1;
		for (i = 0; i < end; i++) {
			if (text[i] == '\n') {
				line++;
				col = 1;
			} else {
				col++;
			}
		}
	}
	if (p->context)
		return fail(c, (int)line, (int)col, "%s (%s at line %zu)",
			    problem, p->context, p->context_mark.line + 1);
	return fail(c, (int)line, (int)col, "%s", problem);
}

static int node_new(struct ctx *c, enum node_kind kind, const yaml_event_t *ev,
		    struct node **out)
{
	struct node *nd = calloc(1, sizeof(*nd));

	if (!nd)
		return nomem(c);
	nd->kind = kind;
	nd->line = (int)ev->start_mark.line + 1;
	nd->col = (int)ev->start_mark.column + 1;
	*out = nd;
	return 0;
}

static int node_add(struct ctx *c, struct node *parent, struct node *kid)
{
	if (parent->n == parent->alloc) {
		size_t na = parent->alloc ? parent->alloc * 2 : 8;
		struct node **nk = realloc(parent->kid, na * sizeof(*nk));

		if (!nk)
			return nomem(c);
		parent->kid = nk;
		parent->alloc = na;
	}
	parent->kid[parent->n++] = kid;
	kid->parent = parent;
	return 0;
}

/*
 * An unquoted value starting with '*' is an alias to YAML, which is the
 * likeliest way to meet this error ("*-keep"), so say how to fix that.
 */
static int anchor_fail(struct ctx *c, const yaml_event_t *ev,
		       const yaml_char_t *anchor, int alias)
{
	char qb[QBUF];
	int line = (int)ev->start_mark.line + 1;
	int col = (int)ev->start_mark.column + 1;

	if (alias)
		return fail(c, line, col,
			    "anchors and aliases are not supported ('*%s'); "
			    "quote a value that starts with '*'",
			    q(qb, (const char *)anchor));
	return fail(c, line, col,
		    "anchors and aliases are not supported ('&%s'); write the "
		    "value out",
		    q(qb, (const char *)anchor));
}

static int scalar_node(struct ctx *c, const yaml_event_t *ev, struct node **out)
{
	const char *v = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	struct node *nd = NULL;

	if (node_new(c, N_SCALAR, ev, &nd) != 0)
		return VS_ERR;
	*out = nd;
	if (memchr(v, '\0', len))
		return fail(c, nd->line, nd->col,
			    "a value holds a NUL character");
	nd->s = strndup(v, len);
	if (!nd->s)
		return nomem(c);
	nd->null = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
		   (len == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
		    strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0);
	return 0;
}

/*
 * Parse text into *root (NULL for an empty stream).  One document only,
 * no anchors or aliases, nesting bounded by MAX_DEPTH.
 */
static int parse_tree(struct ctx *c, const char *text, size_t len,
		      struct node **root)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	struct node *cur = NULL, *nd = NULL;
	int have_ev = 0, done = 0, docs = 0, depth = 0, rc = VS_ERR;

	*root = NULL;
	if (!yaml_parser_initialize(&parser))
		return nomem(c);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	while (!done) {
		const yaml_char_t *anchor = NULL;

		if (!yaml_parser_parse(&parser, &ev)) {
			yaml_fail(c, &parser, text, len);
			goto out;
		}
		have_ev = 1;
		nd = NULL;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1) {
				fail(c, (int)ev.start_mark.line + 1,
				     (int)ev.start_mark.column + 1,
				     "only one YAML document is allowed");
				goto out;
			}
			break;
		case YAML_ALIAS_EVENT:
			anchor_fail(c, &ev, ev.data.alias.anchor, 1);
			goto out;
		case YAML_SCALAR_EVENT:
			anchor = ev.data.scalar.anchor;
			if (scalar_node(c, &ev, &nd) != 0)
				goto attach_fail;
			break;
		case YAML_SEQUENCE_START_EVENT:
			anchor = ev.data.sequence_start.anchor;
			if (node_new(c, N_SEQ, &ev, &nd) != 0)
				goto out;
			break;
		case YAML_MAPPING_START_EVENT:
			anchor = ev.data.mapping_start.anchor;
			if (node_new(c, N_MAP, &ev, &nd) != 0)
				goto out;
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			cur = cur->parent;
			depth--;
			break;
		default:
			break;
		}
		if (nd) {
			if (anchor) {
				anchor_fail(c, &ev, anchor, 0);
				goto attach_fail;
			}
			if (cur) {
				if (node_add(c, cur, nd) != 0)
					goto attach_fail;
			} else {
				*root = nd;
			}
			if (nd->kind != N_SCALAR) {
				if (++depth > MAX_DEPTH) {
					fail(c, nd->line, nd->col,
					     "nested deeper than %d levels",
					     MAX_DEPTH);
					goto out;
				}
				cur = nd;
			}
			nd = NULL;
		}
		yaml_event_delete(&ev);
		have_ev = 0;
	}
	rc = 0;
	goto out;
attach_fail:
	/* nd is not in the tree yet; everything else is freed via root. */
	node_free(nd);
out:
	if (have_ev)
		yaml_event_delete(&ev);
	yaml_parser_delete(&parser);
	if (rc != 0) {
		node_free(*root);
		*root = NULL;
	}
	return rc;
}

/* ------------------------------------------------------------------ */
/* Tree to struct, by the tables.                                       */

static const char *type_name(const struct key_def *kd)
{
	switch (kd->type) {
	case K_BOOL:
		return "true or false";
	case K_INT:
		return "an integer";
	case K_DURATION:
		return "a duration";
	case K_LIST:
		return "a string or a list of strings";
	default:
		return "a string";
	}
}

/* Keys of a mapping are non-empty scalars, each once. */
static int check_keys(struct ctx *c, const struct node *map)
{
	char qb[QBUF];
	size_t i, j;

	for (i = 0; i + 1 < map->n; i += 2) {
		const struct node *k = map->kid[i];

		if (k->kind != N_SCALAR || k->s[0] == '\0')
			return fail(c, k->line, k->col,
				    "a key must be a non-empty string");
		for (j = 0; j < i; j += 2)
			if (strcmp(map->kid[j]->s, k->s) == 0)
				return fail(c, k->line, k->col,
					    "duplicate key '%s' (first at "
					    "line %d)",
					    q(qb, k->s), map->kid[j]->line);
	}
	return 0;
}

/* A scalar value with content, for key kd in label. */
static int want_scalar(struct ctx *c, const struct key_def *kd, const char *key,
		       const char *label, const struct node *v)
{
	if (v->kind != N_SCALAR)
		return fail(c, v->line, v->col, "'%s' in %s must be %s, not %s",
			    key, label, type_name(kd), a_kind(v));
	if (v->null)
		return fail(c, v->line, v->col, "'%s' in %s has no value", key,
			    label);
	if (v->s[0] == '\0')
		return fail(c, v->line, v->col, "'%s' in %s must not be empty",
			    key, label);
	return 0;
}

static void join_choices(char *buf, size_t sz, const char *const *choices)
{
	size_t i, o = 0;

	buf[0] = '\0';
	for (i = 0; choices[i] && o < sz; i++)
		o += (size_t)snprintf(buf + o, sz - o, "%s%s", i ? ", " : "",
				      choices[i]);
}

static int set_list(struct ctx *c, const struct key_def *kd, void *base,
		    const char *label, const struct node *v)
{
	char qb[QBUF], eb[160], all[64];
	const struct node *const *items = &v;
	size_t i, n = 1;
	char **list;

	if (v->kind == N_SEQ) {
		items = (const struct node *const *)v->kid;
		n = v->n;
	} else if (want_scalar(c, kd, kd->key, label, v) != 0) {
		return VS_ERR;
	}
	list = calloc(n ? n : 1, sizeof(*list));
	if (!list)
		return nomem(c);
	*(char ***)field(base, kd) = list;
	for (i = 0; i < n; i++) {
		const struct node *it = items[i];
		int e = 0;

		if (it->kind != N_SCALAR || it->null || !it->s[0])
			return fail(c, it->line, it->col,
				    "items of '%s' in %s must be non-empty "
				    "strings",
				    kd->key, label);
		if (kd->choices && parse_enum(kd->choices, it->s, &e) != 0) {
			join_choices(all, sizeof(all), kd->choices);
			return fail(c, it->line, it->col,
				    "'%s' in %s: '%s' is not one of %s",
				    kd->key, label, q(qb, it->s), all);
		}
		if (kd->flags & KF_REGEX) {
			regex_t re;
			int rr = regcomp(&re, it->s, REG_EXTENDED | REG_NOSUB);

			if (rr != 0) {
				regerror(rr, &re, eb, sizeof(eb));
				return fail(c, it->line, it->col,
					    "'%s' in %s: bad regular "
					    "expression '%s': %s",
					    kd->key, label, q(qb, it->s), eb);
			}
			regfree(&re);
		}
		/* Stored as written, lower-case for the fixed choices. */
		list[i] = strdup(kd->choices ? kd->choices[e] : it->s);
		if (!list[i])
			return nomem(c);
		*(size_t *)((char *)base + kd->off_n) = i + 1;
	}
	return 0;
}

static void format_bound_ms(char *buf, size_t sz, long long ms)
{
	if (ms == INT64_MAX)
		snprintf(buf, sz, "any");
	else
		vs_duration_format(buf, sz, ms);
}

/*
 * Check and store value v of row kd (written as key, which differs from
 * kd->key for KEY_env / KEY_file) into base.
 */
static int set_value(struct ctx *c, const struct key_def *kd, void *base,
		     const char *key, const char *label, const struct node *v)
{
	char qb[QBUF], b1[32], b2[32];
	void *f = field(base, kd);
	long long n;
	int64_t ms;
	int iv;
	char *s;

	if (kd->type == K_LIST)
		return set_list(c, kd, base, label, v);
	if (want_scalar(c, kd, key, label, v) != 0)
		return VS_ERR;
	switch (kd->type) {
	case K_STRING:
	case K_PATH:
		if ((kd->flags & KF_NAME) && !valid_name(v->s))
			return fail(c, v->line, v->col,
				    "'%s' in %s may hold only letters, digits, "
				    "'_', '.' and '-', not '%s'",
				    key, label, q(qb, v->s));
		s = kd->type == K_PATH ? resolve_path(c, v->s) : strdup(v->s);
		if (!s)
			return nomem(c);
		*(char **)f = s;
		return 0;
	case K_SECRET:
		s = NULL;
		if (resolve_secret(c, kd->key, key + strlen(kd->key) + 1, v,
				   &s) != 0)
			return VS_ERR;
		*(char **)f = s;
		return 0;
	case K_BOOL:
		if (parse_bool(v->s, &iv) != 0)
			return fail(c, v->line, v->col,
				    "'%s' in %s must be true or false, not "
				    "'%s'",
				    key, label, q(qb, v->s));
		store_flag(f, iv);
		return 0;
	case K_ENUM:
		if (parse_enum(kd->choices, v->s, &iv) != 0) {
			char all[64];

			join_choices(all, sizeof(all), kd->choices);
			return fail(c, v->line, v->col,
				    "'%s' in %s must be one of %s, not '%s'",
				    key, label, all, q(qb, v->s));
		}
		store_flag(f, iv);
		return 0;
	case K_INT:
		if ((kd->flags & KF_UNLIMITED) &&
		    strcasecmp(v->s, "unlimited") == 0) {
			store_int(f, kd->size, -1);
			return 0;
		}
		if (parse_ll(v->s, &n) != 0)
			return fail(c, v->line, v->col,
				    "'%s' in %s must be an integer, not '%s'",
				    key, label, q(qb, v->s));
		if ((kd->flags & KF_UNLIMITED) && n == -1) {
			store_int(f, kd->size, -1);
			return 0;
		}
		if (n < kd->min || n > kd->max)
			return fail(c, v->line, v->col,
				    "'%s' in %s must be between %lld and "
				    "%lld%s, not %lld",
				    key, label, kd->min, kd->max,
				    (kd->flags & KF_UNLIMITED)
					    ? " (or unlimited)"
					    : "",
				    n);
		store_int(f, kd->size, n);
		return 0;
	case K_DURATION:
		if (v->s[0] == '-' || vs_duration_parse(v->s, &ms) != 0)
			return fail(c, v->line, v->col,
				    "'%s' in %s is not a duration: '%s' "
				    "(write e.g. 90s, 15m, 4h, 1h30m, 7d)",
				    key, label, q(qb, v->s));
		if (ms < kd->min || ms > kd->max) {
			format_bound_ms(b1, sizeof(b1), kd->min);
			format_bound_ms(b2, sizeof(b2), kd->max);
			return fail(c, v->line, v->col,
				    "'%s' in %s must be between %s and %s, "
				    "not '%s'",
				    key, label, b1, b2, q(qb, v->s));
		}
		store_int(f, sizeof(int64_t), ms);
		return 0;
	default:
		return 0;
	}
}

/* When key is "<row>_env" or "<row>_file" for a secret row, the suffix. */
static const char *secret_via(const char *key, const char *row)
{
	size_t rl = strlen(row);

	if (strncmp(key, row, rl) != 0 || key[rl] != '_')
		return NULL;
	if (strcmp(key + rl + 1, "env") == 0 ||
	    strcmp(key + rl + 1, "file") == 0)
		return key + rl + 1;
	return NULL;
}

static int add_extra(struct ctx *c, struct vs_config_provider *p,
		     const char *label, const struct node *k,
		     const struct node *v);

/*
 * Store the mapping map by the rows keys into base.  label names the
 * place in messages ("'run'", "rule 'nightly'").  Keys without a row go
 * to extra when it is not NULL (provider entries), else are an error.
 */
static int parse_map(struct ctx *c, const struct node *map,
		     const struct key_def *keys, size_t nkeys, void *base,
		     const char *label, struct vs_config_provider *extra)
{
	const struct node *seen[16] = {NULL};
	char qb[QBUF];
	size_t i, r;

	assert(nkeys <= sizeof(seen) / sizeof(seen[0]));
	if (check_keys(c, map) != 0)
		return VS_ERR;
	for (i = 0; i + 1 < map->n; i += 2) {
		const struct node *k = map->kid[i], *v = map->kid[i + 1];
		const struct key_def *kd = NULL;

		for (r = 0; r < nkeys && !kd; r++) {
			if (keys[r].type == K_SECRET &&
			    strcmp(k->s, keys[r].key) == 0)
				return fail(c, k->line, k->col,
					    "'%s' in %s must not be written in "
					    "the file: use %s_env or %s_file",
					    k->s, label, k->s, k->s);
			if (keys[r].type == K_SECRET
				    ? secret_via(k->s, keys[r].key) != NULL
				    : strcmp(k->s, keys[r].key) == 0)
				kd = &keys[r];
		}
		if (!kd) {
			if (extra) {
				if (add_extra(c, extra, label, k, v) != 0)
					return VS_ERR;
				continue;
			}
			return fail(c, k->line, k->col,
				    "unknown key '%s' in %s", q(qb, k->s),
				    label);
		}
		r = (size_t)(kd - keys);
		if (seen[r])
			return fail(c, k->line, k->col,
				    "'%s' and '%s' in %s exclude each other",
				    seen[r]->s, k->s, label);
		seen[r] = k;
		if (set_value(c, kd, base, k->s, label, v) != 0)
			return VS_ERR;
	}
	for (r = 0; r < nkeys; r++)
		if ((keys[r].flags & KF_REQUIRED) && !seen[r])
			return fail(c, map->line, map->col,
				    "missing required key '%s' in %s",
				    keys[r].key, label);
	return 0;
}

/*
 * A provider-specific key: kept with its position and its value as
 * written; the plugin's key table judges it later.
 */
static int add_extra(struct ctx *c, struct vs_config_provider *p,
		     const char *label, const struct node *k,
		     const struct node *v)
{
	struct vs_config_kv *kv, *nx;
	enum vs_config_node shape = VS_CONFIG_SCALAR;
	struct vs_buf b;
	size_t i;

	vs_buf_init(&b, 0);
	if (v->kind == N_SEQ) {
		shape = VS_CONFIG_SEQUENCE;
		for (i = 0; i < v->n; i++) {
			const struct node *it = v->kid[i];

			if (it->kind != N_SCALAR || it->null) {
				shape = VS_CONFIG_OTHER;
				break;
			}
			if (strchr(it->s, ',')) {
				vs_buf_release(&b);
				return fail(c, it->line, it->col,
					    "items of '%s' in %s must not "
					    "hold ','",
					    k->s, label);
			}
			if ((i && vs_buf_addc(&b, ',') != 0) ||
			    vs_buf_adds(&b, it->s) != 0) {
				vs_buf_release(&b);
				return nomem(c);
			}
		}
	} else if (v->kind == N_MAP) {
		shape = VS_CONFIG_OTHER;
	} else if (!v->null && vs_buf_adds(&b, v->s) != 0) {
		vs_buf_release(&b);
		return nomem(c);
	}
	if (shape == VS_CONFIG_OTHER)
		vs_buf_reset(&b);
	nx = realloc(p->extra, (p->n_extra + 1) * sizeof(*nx));
	if (!nx) {
		vs_buf_release(&b);
		return nomem(c);
	}
	p->extra = nx;
	kv = &p->extra[p->n_extra];
	memset(kv, 0, sizeof(*kv));
	kv->line = k->line;
	kv->col = k->col;
	kv->value_line = v->line;
	kv->value_col = v->col;
	kv->node = shape;
	kv->yaml_value = vs_buf_detach(&b, NULL);
	kv->yaml_key = strdup(k->s);
	kv->key = strdup(k->s);
	kv->value = kv->yaml_value ? strdup(kv->yaml_value) : NULL;
	p->n_extra++;
	if (!kv->yaml_value || !kv->yaml_key || !kv->key || !kv->value)
		return nomem(c);
	return 0;
}

/* "provider 'x'" for messages, or "provider #N" before the name is known. */
static void entry_label(char *buf, size_t sz, const char *what,
			const struct node *entry, size_t idx)
{
	char qb[QBUF];
	const struct node *nm = map_get(entry, "name");

	if (nm && nm->kind == N_SCALAR && !nm->null && nm->s[0])
		snprintf(buf, sz, "%s '%s'", what, q(qb, nm->s));
	else
		snprintf(buf, sz, "%s #%zu", what, idx + 1);
}

static int load_providers(struct ctx *c, const struct node *seq)
{
	struct vs_config *cfg = c->cfg;
	char label[QBUF + 16], qb[QBUF];
	size_t i, j;

	cfg->providers = calloc(seq->n ? seq->n : 1, sizeof(*cfg->providers));
	if (!cfg->providers)
		return nomem(c);
	for (i = 0; i < seq->n; i++) {
		const struct node *e = seq->kid[i];
		struct vs_config_provider *p = &cfg->providers[i];
		const struct node *nm, *ins;

		init_fields(provider_keys, NKEYS(provider_keys), p);
		cfg->n_providers = i + 1;
		p->line = e->line;
		p->col = e->col;
		if (e->kind != N_MAP)
			return fail(c, e->line, e->col,
				    "each entry of 'providers' must be a "
				    "mapping, not %s",
				    a_kind(e));
		entry_label(label, sizeof(label), "provider", e, i);
		if (parse_map(c, e, provider_keys, NKEYS(provider_keys), p,
			      label, p) != 0)
			return VS_ERR;
		nm = map_get(e, "name");
		for (j = 0; j < i; j++)
			if (strcmp(cfg->providers[j].name, p->name) == 0)
				return fail(c, nm->line, nm->col,
					    "duplicate provider name '%s' "
					    "(first at line %d)",
					    q(qb, p->name),
					    cfg->providers[j].line);
		ins = map_get(e, "insecure");
		if (p->insecure && p->ca_file)
			return fail(c, ins->line, ins->col,
				    "'insecure' and 'ca_file' in %s exclude "
				    "each other",
				    label);
		if (p->insecure)
			vs_log(VS_LOG_WARN, "config",
			       "%s:%d:%d: %s does not verify TLS "
			       "certificates (insecure: true)",
			       c->path, ins->line, ins->col, label);
	}
	return 0;
}

static int load_rules(struct ctx *c, const struct node *seq)
{
	struct vs_config *cfg = c->cfg;
	char label[QBUF + 16], qb[QBUF];
	size_t i, j;

	cfg->rules = calloc(seq->n ? seq->n : 1, sizeof(*cfg->rules));
	if (!cfg->rules)
		return nomem(c);
	for (i = 0; i < seq->n; i++) {
		const struct node *e = seq->kid[i], *nm, *nt;
		struct vs_config_rule *r = &cfg->rules[i];

		init_fields(rule_keys, NKEYS(rule_keys), r);
		cfg->n_rules = i + 1;
		r->line = e->line;
		r->col = e->col;
		if (e->kind != N_MAP)
			return fail(c, e->line, e->col,
				    "each entry of 'rules' must be a mapping, "
				    "not %s",
				    a_kind(e));
		entry_label(label, sizeof(label), "rule", e, i);
		if (parse_map(c, e, rule_keys, NKEYS(rule_keys), r, label,
			      NULL) != 0)
			return VS_ERR;
		nm = map_get(e, "name");
		for (j = 0; j < i; j++)
			if (strcmp(cfg->rules[j].name, r->name) == 0)
				return fail(c, nm->line, nm->col,
					    "duplicate rule name '%s' (first "
					    "at line %d)",
					    q(qb, r->name), cfg->rules[j].line);
		if (r->n_match == 0 && r->n_regex == 0)
			return fail(c, e->line, e->col,
				    "%s needs 'match' or 'regex'", label);
		nt = map_get(e, "newer_than");
		if (r->older_than_ms >= 0 && r->newer_than_ms >= 0 &&
		    r->newer_than_ms <= r->older_than_ms)
			return fail(c, nt->line, nt->col,
				    "'newer_than' in %s must be longer than "
				    "'older_than', or no VM can match",
				    label);
	}
	return 0;
}

/* Rules may name providers declared further down, so check at the end. */
static int check_rule_refs(struct ctx *c, const struct node *rules)
{
	char qb[QBUF];
	size_t i, j;

	for (i = 0; rules && i < c->cfg->n_rules; i++) {
		const struct vs_config_rule *r = &c->cfg->rules[i];
		const struct node *pv = map_get(rules->kid[i], "providers");

		for (j = 0; j < r->n_providers; j++) {
			const struct node *it =
				pv->kind == N_SEQ ? pv->kid[j] : pv;

			if (!vs_config_find_provider(c->cfg, r->providers[j]))
				return fail(c, it->line, it->col,
					    "rule '%s' names provider '%s', "
					    "which is not configured",
					    r->name, q(qb, r->providers[j]));
		}
	}
	return 0;
}

static int load_root(struct ctx *c, const struct node *root)
{
	const struct node *rules = NULL;
	char qb[QBUF], label[48];
	size_t i, s;

	if (!root || (root->kind == N_SCALAR && root->null))
		return 0;
	if (root->kind != N_MAP)
		return fail(c, root->line, root->col,
			    "the top level must be a mapping of sections "
			    "(providers, rules, protect, limits, run, report, "
			    "log)");
	if (check_keys(c, root) != 0)
		return VS_ERR;
	for (i = 0; i + 1 < root->n; i += 2) {
		const struct node *k = root->kid[i], *v = root->kid[i + 1];
		const struct section *sec = NULL;

		for (s = 0; s < NKEYS(sections) && !sec; s++)
			if (strcmp(sections[s].name, k->s) == 0)
				sec = &sections[s];
		if (!sec)
			return fail(c, k->line, k->col,
				    "unknown section '%s' (known: providers, "
				    "rules, protect, limits, run, report, log)",
				    q(qb, k->s));
		/* An empty section ("run:") means its defaults. */
		if (v->kind == N_SCALAR && v->null)
			continue;
		if (sec->shape == SEC_LIST && v->kind != N_SEQ)
			return fail(c, v->line, v->col,
				    "'%s' must be a sequence of mappings, not "
				    "%s",
				    sec->name, a_kind(v));
		if (sec->shape == SEC_MAP && v->kind != N_MAP)
			return fail(c, v->line, v->col,
				    "'%s' must be a mapping, not %s", sec->name,
				    a_kind(v));
		if (sec->keys == provider_keys) {
			if (load_providers(c, v) != 0)
				return VS_ERR;
		} else if (sec->keys == rule_keys) {
			rules = v;
			if (load_rules(c, v) != 0)
				return VS_ERR;
		} else {
			snprintf(label, sizeof(label), "'%s'", sec->name);
			if (parse_map(c, v, sec->keys, sec->nkeys, c->cfg,
				      label, NULL) != 0)
				return VS_ERR;
		}
	}
	return check_rule_refs(c, rules);
}

int vs_config_load(struct vs_config *cfg, const char *path,
		   struct vs_error *err)
{
	return vs_config_load_flags(cfg, path, 0, err);
}

int vs_config_load_flags(struct vs_config *cfg, const char *path,
			 unsigned int flags, struct vs_error *err)
{
	struct ctx c = {.cfg = cfg, .path = path, .err = err};
	struct node *root = NULL;
	struct vs_buf b;
	const char *slash;
	char eb[128];
	int fd = -1, rc = VS_ERR, r;

	vs_config_init(cfg);
	cfg->strict = (flags & VS_CONFIG_STRICT) != 0;
	c.strict = cfg->strict;
	vs_buf_init(&b, CONFIG_MAX_BYTES);
	cfg->path = strdup(path);
	if (!cfg->path) {
		nomem(&c);
		goto out;
	}
	slash = strrchr(path, '/');
	if (slash) {
		c.dir = strndup(path,
				slash == path ? 1 : (size_t)(slash - path));
		if (!c.dir) {
			nomem(&c);
			goto out;
		}
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		errno_text(errno, eb, sizeof(eb));
		vs_error_set(err, VS_EC_CONFIG, 0, 0, "%s: cannot open: %s",
			     path, eb);
		goto out;
	}
	r = read_fd(fd, &b);
	if (r == VS_BUF_TOO_BIG) {
		vs_error_set(err, VS_EC_CONFIG, 0, 0, "%s: larger than %zu KiB",
			     path, CONFIG_MAX_BYTES / 1024);
		goto out;
	} else if (r == VS_BUF_NOMEM) {
		nomem(&c);
		goto out;
	} else if (r != 0) {
		errno_text(errno, eb, sizeof(eb));
		vs_error_set(err, VS_EC_CONFIG, 0, 0, "%s: cannot read: %s",
			     path, eb);
		goto out;
	}
	if (parse_tree(&c, b.s, b.len, &root) != 0)
		goto out;
	rc = load_root(&c, root);
out:
	node_free(root);
	vs_buf_release(&b);
	if (fd >= 0)
		close(fd);
	free(c.dir);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Provider-specific keys.                                              */

static int kv_fail(const struct vs_config *cfg, struct vs_error *err, int line,
		   int col, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static int kv_fail(const struct vs_config *cfg, struct vs_error *err, int line,
		   int col, const char *fmt, ...)
{
	char msg[VS_ERROR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return vs_error_set(err, VS_EC_CONFIG, 0, 0, "%s:%d:%d: %s",
			    cfg->path ? cfg->path : "(config)", line, col, msg);
}

static const char *spec_type_name(enum vs_key_type t)
{
	switch (t) {
	case VS_KEY_BOOL:
		return "true or false";
	case VS_KEY_INT:
		return "an integer";
	case VS_KEY_DURATION:
		return "a duration such as 90s, 4h or 1h30m";
	case VS_KEY_LIST:
		return "a string or a list of strings";
	default:
		return "a string";
	}
}

/* The normalised value of kv under spec (a secret resolved by via). */
static int normalise_kv(const struct vs_config *cfg,
			const struct vs_config_provider *p,
			const struct vs_config_kv *kv,
			const struct vs_key_spec *spec, const char *via,
			char **out, struct vs_error *err)
{
	const char *v = kv->yaml_value;
	char num[32], *dir = NULL, *slash;
	long long n;
	int64_t ms;
	int b, rc;

	if (kv->node == VS_CONFIG_OTHER ||
	    (kv->node == VS_CONFIG_SEQUENCE && spec->type != VS_KEY_LIST))
		return kv_fail(cfg, err, kv->value_line, kv->value_col,
			       "'%s' for provider '%s' must be %s",
			       kv->yaml_key, p->name,
			       spec_type_name(spec->type));
	if (kv->node == VS_CONFIG_SCALAR && v[0] == '\0')
		return kv_fail(cfg, err, kv->value_line, kv->value_col,
			       "'%s' for provider '%s' has no value",
			       kv->yaml_key, p->name);
	switch (spec->type) {
	case VS_KEY_BOOL:
		if (parse_bool(v, &b) != 0)
			break;
		*out = strdup(b ? "true" : "false");
		return *out ? 0 : VS_ERR;
	case VS_KEY_INT:
		if (parse_ll(v, &n) != 0)
			break;
		snprintf(num, sizeof(num), "%lld", n);
		*out = strdup(num);
		return *out ? 0 : VS_ERR;
	case VS_KEY_DURATION:
		if (v[0] == '-' || vs_duration_parse(v, &ms) != 0)
			break;
		snprintf(num, sizeof(num), "%lld", (long long)ms);
		*out = strdup(num);
		return *out ? 0 : VS_ERR;
	case VS_KEY_SECRET: {
		struct ctx c = {.path = cfg->path ? cfg->path : "(config)",
				.err = err,
				.strict = cfg->strict};
		struct node nd = {.kind = N_SCALAR,
				  .line = kv->value_line,
				  .col = kv->value_col,
				  .s = kv->yaml_value};

		if (cfg->path && (slash = strrchr(cfg->path, '/')) != NULL) {
			dir = strndup(cfg->path,
				      slash == cfg->path
					      ? 1
					      : (size_t)(slash - cfg->path));
			if (!dir)
				return nomem(&c);
		}
		c.dir = dir;
		rc = resolve_secret(&c, spec->key, via, &nd, out);
		free(dir);
		return rc;
	}
	default:
		*out = strdup(v);
		return *out ? 0 : VS_ERR;
	}
	return kv_fail(cfg, err, kv->value_line, kv->value_col,
		       "'%s' for provider '%s' must be %s", kv->yaml_key,
		       p->name, spec_type_name(spec->type));
}

int vs_config_check_provider_keys(const struct vs_config *cfg,
				  const struct vs_config_provider *p,
				  const struct vs_key_spec *keys,
				  struct vs_error *err)
{
	char qb[QBUF];
	size_t i, j;

	for (i = 0; i < p->n_extra; i++) {
		/*
		 * p is const to the caller's eye, but what extra points to
		 * is not: normalising in place is how the plugin sees
		 * finished values without a second copy to keep in sync.
		 */
		struct vs_config_kv *kv = &p->extra[i];
		const struct vs_key_spec *spec = NULL;
		const char *via = NULL;
		char *key = NULL, *value = NULL;

		for (j = 0; keys && keys[j].key && !spec; j++)
			if (strcmp(kv->yaml_key, keys[j].key) == 0)
				spec = &keys[j];
		for (j = 0; keys && keys[j].key && !spec; j++)
			if (keys[j].type == VS_KEY_SECRET &&
			    (via = secret_via(kv->yaml_key, keys[j].key)))
				spec = &keys[j];
		if (!spec)
			return kv_fail(cfg, err, kv->line, kv->col,
				       "unknown key '%s' for provider '%s' "
				       "(type %s)",
				       q(qb, kv->yaml_key), p->name, p->type);
		if (spec->type == VS_KEY_SECRET && !via)
			return kv_fail(cfg, err, kv->line, kv->col,
				       "'%s' for provider '%s' must not be "
				       "written in the file: use %s_env or "
				       "%s_file",
				       spec->key, p->name, spec->key,
				       spec->key);
		if (via)
			for (j = 0; j < i; j++)
				if (secret_via(p->extra[j].yaml_key, spec->key))
					return kv_fail(
						cfg, err, kv->line, kv->col,
						"'%s' and '%s' for provider "
						"'%s' exclude each other",
						p->extra[j].yaml_key,
						kv->yaml_key, p->name);
		if (normalise_kv(cfg, p, kv, spec, via, &value, err) != 0)
			return vs_error_set(err, VS_EC_INTERNAL, 0, 0,
					    "out of memory");
		key = strdup(spec->key);
		if (!key) {
			wipe_free(value);
			return vs_error_set(err, VS_EC_INTERNAL, 0, 0,
					    "out of memory");
		}
		if (kv->secret)
			wipe_free(kv->value);
		else
			free(kv->value);
		free(kv->key);
		kv->key = key;
		kv->value = value;
		kv->secret = via != NULL;
	}
	return 0;
}

const struct vs_config_provider *
vs_config_find_provider(const struct vs_config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->n_providers; i++)
		if (cfg->providers[i].name &&
		    strcmp(cfg->providers[i].name, name) == 0)
			return &cfg->providers[i];
	return NULL;
}

const char *vs_config_default_path(const char *explicit_path)
{
	const char *env;

	if (explicit_path)
		return explicit_path;
	env = getenv("VMSWEEP_CONFIG");
	if (env && *env)
		return env;
	if (access("vmsweep.yaml", F_OK) == 0)
		return "./vmsweep.yaml";
	return "/etc/vmsweep/vmsweep.yaml";
}

/* ------------------------------------------------------------------ */
/* The reference.                                                       */

static void write_bounds(FILE *out, const struct key_def *kd)
{
	char b1[32], b2[32];
	size_t i;

	switch (kd->type) {
	case K_INT:
		fprintf(out, "%lld..%lld", kd->min, kd->max);
		if (kd->flags & KF_UNLIMITED)
			fprintf(out, ", or `-1` / `unlimited` for no limit");
		break;
	case K_DURATION:
		format_bound_ms(b1, sizeof(b1), kd->min);
		if (kd->max == INT64_MAX) {
			fprintf(out, "at least %s", b1);
		} else {
			format_bound_ms(b2, sizeof(b2), kd->max);
			fprintf(out, "%s..%s", b1, b2);
		}
		break;
	case K_ENUM:
	case K_LIST:
		if (kd->choices) {
			for (i = 0; kd->choices[i]; i++)
				fprintf(out, "%s`%s`", i ? ", " : "",
					kd->choices[i]);
		} else if (kd->flags & KF_REGEX) {
			fprintf(out, "valid regular expressions");
		}
		break;
	case K_BOOL:
		fprintf(out, "true/false, yes/no, on/off");
		break;
	default:
		if (kd->flags & KF_NAME)
			fprintf(out, "`[A-Za-z0-9_.-]+`");
		break;
	}
}

static const char *ref_type(const struct key_def *kd)
{
	switch (kd->type) {
	case K_PATH:
		return "path";
	case K_BOOL:
		return "bool";
	case K_INT:
		return "integer";
	case K_DURATION:
		return "duration";
	case K_ENUM:
		return "one of";
	case K_LIST:
		return "list of strings";
	case K_SECRET:
		return "secret";
	default:
		return "string";
	}
}

void vs_config_write_reference(FILE *out)
{
	size_t s, i;

	for (s = 0; s < NKEYS(sections); s++) {
		const struct section *sec = &sections[s];

		fprintf(out, "### `%s`%s\n\n%s\n\n", sec->name,
			sec->shape == SEC_LIST ? " (a list)" : "", sec->help);
		fprintf(out, "| key | type | default | allowed | meaning |\n");
		fprintf(out, "|---|---|---|---|---|\n");
		for (i = 0; i < sec->nkeys; i++) {
			const struct key_def *kd = &sec->keys[i];

			if (kd->type == K_SECRET)
				fprintf(out, "| `%s_env`, `%s_file` ", kd->key,
					kd->key);
			else
				fprintf(out, "| `%s` ", kd->key);
			fprintf(out, "| %s | ", ref_type(kd));
			if (kd->flags & KF_REQUIRED)
				fprintf(out, "required");
			else if (kd->def)
				fprintf(out, "`%s`", kd->def);
			else
				fprintf(out, "none");
			fprintf(out, " | ");
			write_bounds(out, kd);
			fprintf(out, " | %s |\n", kd->help);
		}
		fprintf(out, "\n");
	}
}
