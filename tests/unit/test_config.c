/*
 * test_config.c - the configuration loader, its errors and its reference.
 *
 * YAML snippets go to files in a private temporary directory; errors are
 * checked for their exact "file:line:col:" prefix and the message.
 * VS_SRCDIR (default ".") is the repository root, for the example file
 * and docs/configuration.md.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

/* Short enough that every path built from it fits in PATH_MAX. */
static char tmpdir[256];

static const char *srcdir(void)
{
	const char *s = getenv("VS_SRCDIR");

	return s && *s ? s : ".";
}

/* Write content to a new file in tmpdir; the name goes to path. */
static void write_tmp(char *path, size_t sz, const char *content, size_t len)
{
	int fd;

	snprintf(path, sz, "%s/cfg-XXXXXX", tmpdir);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

/* Write content to tmpdir/name with mode. */
static void write_named(const char *name, const char *content, mode_t mode)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(write(fd, content, strlen(content)),
			 (ssize_t)strlen(content));
	assert_int_equal(close(fd), 0);
}

static int load_str(struct vs_config *cfg, const char *yaml, char *path,
		    size_t sz, struct vs_error *err)
{
	write_tmp(path, sz, yaml, strlen(yaml));
	vs_error_clear(err);
	return vs_config_load(cfg, path, err);
}

/*
 * Load yaml, expect failure with "PATH:line:col: " and want in the
 * message; the message is returned in msg for further checks.
 */
static void expect_error_at(const char *yaml, int line, int col,
			    const char *want, char *msg, size_t msgsz)
{
	char path[PATH_MAX], prefix[PATH_MAX + 32];
	struct vs_config cfg;
	struct vs_error err;

	assert_int_equal(load_str(&cfg, yaml, path, sizeof(path), &err),
			 VS_ERR);
	snprintf(prefix, sizeof(prefix), "%s:%d:%d: ", path, line, col);
	if (strncmp(err.message, prefix, strlen(prefix)) != 0 ||
	    !strstr(err.message, want) || err.cls != VS_EC_CONFIG) {
		print_error("yaml:\n%s\nwant: %s...%s\ngot:  %s (class %d)\n",
			    yaml, prefix, want, err.message, (int)err.cls);
		fail();
	}
	assert_null(strchr(err.message, '\n'));
	if (msg)
		snprintf(msg, msgsz, "%s", err.message);
	vs_config_release(&cfg);
}

static void expect_error(const char *yaml, int line, int col, const char *want)
{
	expect_error_at(yaml, line, col, want, NULL, 0);
}

static void expect_ok(const char *yaml, struct vs_config *cfg)
{
	char path[PATH_MAX];
	struct vs_error err;

	if (load_str(cfg, yaml, path, sizeof(path), &err) != 0) {
		print_error("yaml:\n%s\nunexpected error: %s\n", yaml,
			    err.message);
		fail();
	}
}

/* ------------------------------------------------------------------ */

static void assert_defaults(const struct vs_config *cfg)
{
	assert_int_equal(cfg->n_providers, 0);
	assert_int_equal(cfg->n_rules, 0);
	assert_int_equal(cfg->n_protect_names, 0);
	assert_string_equal(cfg->protect_marker, "vmsweep:keep");
	assert_string_equal(cfg->expiry_marker, "vmsweep:expires");
	assert_int_equal(cfg->max_deletes, 200);
	assert_int_equal(cfg->max_deletes_per_provider, -1);
	assert_int_equal(cfg->max_delete_percent, 50);
	assert_int_equal(cfg->max_plan_age_ms, 24 * 3600 * 1000LL);
	assert_int_equal(cfg->breaker_consecutive, 10);
	assert_int_equal(cfg->breaker_percent, 50);
	assert_int_equal(cfg->breaker_min_attempts, 20);
	assert_int_equal(cfg->workers, 16);
	assert_int_equal(cfg->retry_rounds, 2);
	assert_int_equal(cfg->retry_delay_ms, 5000);
	assert_int_equal(cfg->delete_timeout_ms, 600000);
	assert_int_equal(cfg->request_timeout_ms, 60000);
	assert_int_equal(cfg->confirm_interval_ms, 2000);
	assert_string_equal(cfg->report_dir, "./reports");
	assert_int_equal(cfg->report_keep, 0);
	assert_int_equal(cfg->log_level, VS_LOG_INFO);
	assert_int_equal(cfg->log_format, VS_LOG_TEXT);
	assert_null(cfg->log_file);
}

static void test_init_defaults(void **state)
{
	struct vs_config cfg;

	(void)state;
	vs_config_init(&cfg);
	assert_defaults(&cfg);
	assert_null(cfg.path);
	vs_config_release(&cfg);
	assert_defaults(&cfg);
	vs_config_release(&cfg); /* twice is fine */
}

static void test_empty_files(void **state)
{
	static const char *const empties[] = {
		"",
		"\n",
		"# only a comment\n",
		"---\n",
		"---\n...\n",
		"run:\nlimits:\nprotect: ~\nproviders:\nrules: null\n",
	};
	struct vs_config cfg;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
		expect_ok(empties[i], &cfg);
		assert_non_null(cfg.path);
		assert_defaults(&cfg);
		vs_config_release(&cfg);
	}
}

static void test_init_then_load(void **state)
{
	char path[PATH_MAX];
	struct vs_config cfg;
	struct vs_error err;

	(void)state;
	/* init first must not leak: the defaults allocate nothing. */
	vs_config_init(&cfg);
	assert_int_equal(load_str(&cfg, "report:\n  dir: /srv/r\n", path,
				  sizeof(path), &err),
			 0);
	assert_string_equal(cfg.report_dir, "/srv/r");
	assert_string_equal(cfg.path, path);
	vs_config_release(&cfg);
	assert_string_equal(cfg.report_dir, "./reports");
}

static void test_missing_file(void **state)
{
	struct vs_config cfg;
	struct vs_error err;
	char path[PATH_MAX];

	(void)state;
	snprintf(path, sizeof(path), "%s/does-not-exist.yaml", tmpdir);
	vs_error_clear(&err);
	assert_int_equal(vs_config_load(&cfg, path, &err), VS_ERR);
	assert_int_equal(err.cls, VS_EC_CONFIG);
	assert_non_null(strstr(err.message, path));
	assert_non_null(strstr(err.message, "No such file"));
	vs_config_release(&cfg);
}

static void test_too_large(void **state)
{
	struct vs_config cfg;
	struct vs_error err;
	char path[PATH_MAX];
	size_t n = 1024 * 1024 + 16;
	char *big = malloc(n);

	(void)state;
	assert_non_null(big);
	memset(big, '#', n);
	write_tmp(path, sizeof(path), big, n);
	free(big);
	vs_error_clear(&err);
	assert_int_equal(vs_config_load(&cfg, path, &err), VS_ERR);
	assert_non_null(strstr(err.message, "larger than"));
	vs_config_release(&cfg);
}

/* ------------------------------------------------------------------ */

/* The osp plugin's keys as the tests assume them. */
static const struct vs_key_spec osp_keys[] = {
	{"cloud", VS_KEY_STRING, "clouds.yaml entry"},
	{"region", VS_KEY_STRING, "region"},
	{"interface", VS_KEY_STRING, "endpoint interface"},
	{"auth_url", VS_KEY_STRING, "keystone"},
	{"project_name", VS_KEY_STRING, "project"},
	{"project_id", VS_KEY_STRING, "project id"},
	{"user_domain_name", VS_KEY_STRING, "user domain"},
	{"project_domain_name", VS_KEY_STRING, "project domain"},
	{"application_credential_id", VS_KEY_STRING, "app cred id"},
	{"application_credential_secret", VS_KEY_SECRET, "app cred secret"},
	{NULL, 0, NULL},
};

static const char *extra(const struct vs_config_provider *p, const char *k)
{
	size_t i;

	for (i = 0; i < p->n_extra; i++)
		if (strcmp(p->extra[i].key, k) == 0)
			return p->extra[i].value;
	return NULL;
}

static void test_example(void **state)
{
	char path[PATH_MAX];
	struct vs_config cfg;
	struct vs_error err;
	const struct vs_config_provider *vc, *rhv, *osp;
	const struct vs_config_rule *r;
	size_t i;

	(void)state;
	setenv("VC_LAB_PASSWORD", "vc-pass", 1);
	setenv("RHV_LAB_PASSWORD", "rhv-pass", 1);
	snprintf(path, sizeof(path), "%s/config/vmsweep.example.yaml",
		 srcdir());
	vs_error_clear(&err);
	if (vs_config_load(&cfg, path, &err) != 0) {
		print_error("%s\n", err.message);
		fail();
	}
	assert_int_equal(cfg.n_providers, 3);
	vc = vs_config_find_provider(&cfg, "vc-lab");
	rhv = vs_config_find_provider(&cfg, "rhv-lab");
	osp = vs_config_find_provider(&cfg, "osp-lab");
	assert_ptr_equal(vc, &cfg.providers[0]);
	assert_ptr_equal(rhv, &cfg.providers[1]);
	assert_ptr_equal(osp, &cfg.providers[2]);
	assert_null(vs_config_find_provider(&cfg, "nope"));

	assert_string_equal(vc->type, "vmware");
	assert_string_equal(vc->url, "https://vcenter.lab.example.com");
	assert_string_equal(vc->username, "cleanup@vsphere.local");
	assert_string_equal(vc->password, "vc-pass");
	assert_string_equal(vc->ca_file, "/etc/pki/lab-ca.pem");
	assert_int_equal(vc->insecure, 0);
	assert_int_equal(vc->max_concurrency, 8);
	assert_int_equal(vc->adaptive_concurrency, 1);
	assert_int_equal(vc->n_protect_names, 2);
	assert_string_equal(vc->protect_names[0], "vcsa-*");
	assert_int_equal(vc->n_extra, 0);

	assert_string_equal(rhv->type, "rhv");
	assert_string_equal(rhv->password, "rhv-pass");
	assert_int_equal(rhv->max_concurrency, 4);
	/* Not in the example's entry: the default. */
	assert_int_equal(rhv->adaptive_concurrency, 1);
	assert_null(rhv->ca_file);

	assert_string_equal(osp->type, "osp");
	assert_null(osp->url);
	assert_null(osp->password);
	assert_int_equal(osp->max_concurrency, 16);
	assert_int_equal(osp->n_extra, 3);
	assert_string_equal(extra(osp, "cloud"), "lab");
	assert_string_equal(extra(osp, "region"), "RegionOne");
	assert_string_equal(extra(osp, "interface"), "public");
	vs_error_clear(&err);
	assert_int_equal(
		vs_config_check_provider_keys(&cfg, osp, osp_keys, &err), 0);
	for (i = 0; i < cfg.n_providers; i++)
		assert_int_equal(
			vs_config_check_provider_keys(&cfg, &cfg.providers[i],
						      osp_keys, &err),
			0);

	assert_int_equal(cfg.n_rules, 2);
	r = &cfg.rules[0];
	assert_string_equal(r->name, "ci-leftovers");
	assert_int_equal(r->n_match, 2);
	assert_string_equal(r->match[1], "jenkins-*");
	assert_int_equal(r->older_than_ms, 4 * 3600 * 1000LL);
	assert_int_equal(r->newer_than_ms, -1);
	assert_int_equal(r->case_sensitive, 1);
	assert_int_equal(r->n_providers, 0);
	r = &cfg.rules[1];
	assert_string_equal(r->name, "nightly");
	assert_int_equal(r->n_match, 1);
	assert_string_equal(r->match[0], "ci-*");
	assert_int_equal(r->n_regex, 1);
	assert_int_equal(r->older_than_ms, 24 * 3600 * 1000LL);
	assert_int_equal(r->newer_than_ms, 90 * 86400 * 1000LL);
	assert_int_equal(r->n_power_states, 2);
	assert_string_equal(r->power_states[0], "off");
	assert_string_equal(r->power_states[1], "suspended");
	assert_int_equal(r->n_providers, 1);
	assert_string_equal(r->providers[0], "osp-lab");

	assert_int_equal(cfg.n_protect_names, 2);
	assert_string_equal(cfg.protect_names[1], "infra-*");
	assert_string_equal(cfg.protect_marker, "vmsweep:keep");
	assert_int_equal(cfg.max_deletes, 200);
	assert_int_equal(cfg.max_deletes_per_provider, -1);
	assert_int_equal(cfg.max_delete_percent, 50);
	assert_int_equal(cfg.workers, 16);
	assert_int_equal(cfg.delete_timeout_ms, 600000);
	assert_string_equal(cfg.report_dir, "./reports");
	assert_int_equal(cfg.report_keep, 30);
	assert_int_equal(cfg.log_level, VS_LOG_INFO);
	assert_int_equal(cfg.log_format, VS_LOG_TEXT);
	/* The keys it sets to their defaults, and those it comments out. */
	assert_int_equal(vc->age_source, VS_AGE_POLICY_AUTO);
	assert_int_equal(cfg.max_plan_age_ms, 24 * 3600 * 1000LL);
	assert_int_equal(cfg.grace_ms, 30000);
	assert_int_equal(cfg.max_runtime_ms, -1);
	assert_null(cfg.lock_file);
	assert_int_equal(cfg.breaker_consecutive, 10);
	assert_int_equal(cfg.breaker_percent, 50);
	assert_int_equal(cfg.breaker_min_attempts, 20);
	assert_int_equal(cfg.report_keep_age_ms, -1);
	assert_null(cfg.metrics_file);
	assert_null(cfg.state_path);
	assert_int_equal(cfg.state_retention_ms, 30 * 86400 * 1000LL);
	assert_int_equal(cfg.state_flag_after, 3);
	assert_int_equal(cfg.state_busy_timeout_ms, 5000);
	assert_null(cfg.log_file);
	vs_config_release(&cfg);

	/* Without the variables the example says which one is missing. */
	unsetenv("VC_LAB_PASSWORD");
	vs_error_clear(&err);
	assert_int_equal(vs_config_load(&cfg, path, &err), VS_ERR);
	assert_non_null(strstr(err.message, "environment variable "
					    "'VC_LAB_PASSWORD' for 'password' "
					    "is not set"));
	vs_config_release(&cfg);
	unsetenv("RHV_LAB_PASSWORD");
}

static void test_values(void **state)
{
	struct vs_config cfg;

	(void)state;
	expect_ok("limits:\n"
		  "  max_deletes: unlimited\n"
		  "  max_deletes_per_provider: 7\n"
		  "  max_delete_percent: 100\n"
		  "run:\n"
		  "  workers: 1024\n"
		  "  retry_rounds: 0\n"
		  "  retry_delay: 0\n"
		  "  delete_timeout: 1h30m\n"
		  "  request_timeout: \"90\"\n"
		  "  confirm_interval: 250ms\n"
		  "report:\n"
		  "  keep: 0\n"
		  "log:\n"
		  "  level: DEBUG\n"
		  "  format: json\n"
		  "  file: /var/log/vmsweep.log\n"
		  "providers:\n"
		  "  - name: a.b_c-1\n"
		  "    type: osp\n"
		  "    insecure: YES\n"
		  "    protect_names: solo-*\n"
		  "rules:\n"
		  "  - name: r\n"
		  "    regex: '^x'\n"
		  "    case_sensitive: off\n"
		  "    power_states: [ON, Suspended]\n"
		  "    providers: a.b_c-1\n"
		  "    newer_than: 2d\n",
		  &cfg);
	assert_int_equal(cfg.max_deletes, -1);
	assert_int_equal(cfg.max_deletes_per_provider, 7);
	assert_int_equal(cfg.max_delete_percent, 100);
	assert_int_equal(cfg.workers, 1024);
	assert_int_equal(cfg.retry_rounds, 0);
	assert_int_equal(cfg.retry_delay_ms, 0);
	assert_int_equal(cfg.delete_timeout_ms, 5400000);
	assert_int_equal(cfg.request_timeout_ms, 90000);
	assert_int_equal(cfg.confirm_interval_ms, 250);
	assert_int_equal(cfg.log_level, VS_LOG_DEBUG);
	assert_int_equal(cfg.log_format, VS_LOG_JSON);
	assert_string_equal(cfg.log_file, "/var/log/vmsweep.log");
	assert_int_equal(cfg.providers[0].insecure, 1);
	assert_int_equal(cfg.providers[0].n_protect_names, 1);
	assert_string_equal(cfg.providers[0].protect_names[0], "solo-*");
	assert_int_equal(cfg.rules[0].case_sensitive, 0);
	assert_int_equal(cfg.rules[0].older_than_ms, -1);
	assert_int_equal(cfg.rules[0].newer_than_ms, 2 * 86400000LL);
	assert_string_equal(cfg.rules[0].power_states[0], "on");
	assert_string_equal(cfg.rules[0].power_states[1], "suspended");
	assert_int_equal(cfg.rules[0].n_providers, 1);
	assert_int_equal(cfg.rules[0].line, 24);
	assert_int_equal(cfg.rules[0].col, 5);
	assert_int_equal(cfg.providers[0].line, 19);
	vs_config_release(&cfg);

	expect_ok("limits:\n  max_deletes: -1\n  max_deletes_per_provider: "
		  "UNLIMITED\n",
		  &cfg);
	assert_int_equal(cfg.max_deletes, -1);
	assert_int_equal(cfg.max_deletes_per_provider, -1);
	vs_config_release(&cfg);
}

/* ------------------------------------------------------------------ */

static void test_errors_structure(void **state)
{
	(void)state;
	expect_error("stats:\n  dir: x\n", 1, 1, "unknown section 'stats'");
	expect_error("run:\n  workers: 4\n  wokers: 5\n", 3, 3,
		     "unknown key 'wokers' in 'run'");
	expect_error("rules:\n  - name: r\n    match: x\n    olderthan: 4h\n",
		     4, 5, "unknown key 'olderthan' in rule 'r'");
	expect_error("run:\n  workers: 4\n  workers: 5\n", 3, 3,
		     "duplicate key 'workers' (first at line 2)");
	expect_error("run: 4\n", 1, 6, "'run' must be a mapping, not a scalar");
	expect_error("providers:\n  name: a\n", 2, 3,
		     "'providers' must be a sequence of mappings, not a "
		     "mapping");
	expect_error("providers:\n  - a\n", 2, 5,
		     "each entry of 'providers' must be a mapping");
	expect_error(
		"rules:\n  -\n", 2, 4,
		"each entry of 'rules' must be a mapping, not an empty value");
	expect_error("- a\n- b\n", 1, 1, "the top level must be a mapping");
	expect_error("just text\n", 1, 1, "the top level must be a mapping");
	expect_error("run:\n  ? [a]\n  : 1\n", 2, 5,
		     "a key must be a non-empty string");
	expect_error("run: {}\n---\nlog: {}\n", 2, 1,
		     "only one YAML document is allowed");
	expect_error("log:\n  file: \"a\\0b\"\n", 2, 9,
		     "a value holds a NUL character");
}

static void test_errors_values(void **state)
{
	(void)state;
	expect_error("run:\n  workers:\n    a: 1\n", 3, 5,
		     "'workers' in 'run' must be an integer, not a mapping");
	expect_error("run:\n  workers: [1]\n", 2, 12,
		     "'workers' in 'run' must be an integer, not a sequence");
	expect_error("run:\n  workers: 4.5\n", 2, 12,
		     "'workers' in 'run' must be an integer, not '4.5'");
	expect_error("run:\n  workers: 12abc\n", 2, 12, "not '12abc'");
	expect_error("run:\n  workers: 99999999999999999999\n", 2, 12,
		     "must be an integer");
	expect_error("run:\n  workers: 0\n", 2, 12,
		     "'workers' in 'run' must be between 1 and 1024, not 0");
	expect_error("run:\n  workers: 1025\n", 2, 12, "not 1025");
	expect_error("run:\n  workers:\n", 2, 11,
		     "'workers' in 'run' has no value");
	expect_error("log:\n  file: \"\"\n", 2, 9,
		     "'file' in 'log' must not be empty");
	expect_error("limits:\n  max_delete_percent: 101\n", 2, 23,
		     "must be between 0 and 100");
	expect_error("limits:\n  max_delete_percent: unlimited\n", 2, 23,
		     "must be an integer");
	expect_error("limits:\n  max_deletes: -5\n", 2, 16,
		     "must be between 0 and 1000000000 (or unlimited), not -5");
	expect_error("providers:\n  - name: a\n    type: osp\n"
		     "    insecure: maybe\n",
		     4, 15,
		     "'insecure' in provider 'a' must be true or false, not "
		     "'maybe'");
	expect_error("providers:\n  - name: a\n    type: osp\n"
		     "    max_concurrency: 257\n",
		     4, 22, "must be between 1 and 256");
	expect_error("providers:\n  - name: a\n    type: osp\n"
		     "    adaptive_concurrency: sometimes\n",
		     4, 27,
		     "'adaptive_concurrency' in provider 'a' must be true or "
		     "false, not 'sometimes'");
	expect_error("log:\n  level: loud\n", 2, 10,
		     "'level' in 'log' must be one of error, warn, info, "
		     "debug, trace, not 'loud'");
	expect_error("log:\n  format: xml\n", 2, 11, "one of text, json");
	/* Durations. */
	expect_error("rules:\n  - name: r\n    match: x\n"
		     "    older_than: 4 hours\n",
		     4, 17,
		     "'older_than' in rule 'r' is not a duration: '4 hours'");
	expect_error("rules:\n  - name: r\n    match: x\n    older_than: -1h\n",
		     4, 17, "is not a duration: '-1h'");
	expect_error("rules:\n  - name: r\n    match: x\n"
		     "    older_than: 99999999999999999999h\n",
		     4, 17, "is not a duration");
	expect_error("rules:\n  - name: r\n    match: x\n"
		     "    older_than: 3000000000000w\n",
		     4, 17, "is not a duration");
	expect_error(
		"rules:\n  - name: r\n    match: x\n    older_than: 30m1h\n", 4,
		17, "is not a duration");
	expect_error("run:\n  delete_timeout: 0s\n", 2, 19,
		     "'delete_timeout' in 'run' must be between 1s and 1d, "
		     "not '0s'");
	expect_error("run:\n  retry_delay: 2h\n", 2, 16,
		     "must be between 0s and 1h");
	/* Lists. */
	expect_error("protect:\n  names: [a, [b]]\n", 2, 14,
		     "items of 'names' in 'protect' must be non-empty strings");
	expect_error("protect:\n  names: {a: 1}\n", 2, 10,
		     "'names' in 'protect' must be a string or a list of "
		     "strings, not a mapping");
	expect_error("protect:\n  names: [a, \"\"]\n", 2, 14,
		     "must be non-empty strings");
	expect_error("rules:\n  - name: r\n    match: x\n"
		     "    power_states: [on, sleeping]\n",
		     4, 24,
		     "'power_states' in rule 'r': 'sleeping' is not one of "
		     "on, off, suspended");
	expect_error("rules:\n  - name: r\n    regex: [ok, \"a(b\"]\n", 3, 17,
		     "'regex' in rule 'r': bad regular expression 'a(b'");
	/* Control characters never break the line of a message. */
	expect_error("run:\n  workers: \"1\\n2\"\n", 2, 12, "not '1\\x0a2'");
}

static void test_errors_entries(void **state)
{
	(void)state;
	expect_error("providers:\n  - type: osp\n", 2, 5,
		     "missing required key 'name' in provider #1");
	expect_error("providers:\n  - name: a\n    type: osp\n  - name: b\n", 4,
		     5, "missing required key 'type' in provider 'b'");
	expect_error("providers:\n  - name: a\n    type: osp\n"
		     "  - name: a\n    type: rhv\n",
		     4, 11, "duplicate provider name 'a' (first at line 2)");
	expect_error("providers:\n  - name: a b\n    type: osp\n", 2, 11,
		     "'name' in provider 'a b' may hold only letters, digits");
	expect_error("providers:\n  - name: a\n    type: osp\n"
		     "    ca_file: /x.pem\n    insecure: true\n",
		     5, 15,
		     "'insecure' and 'ca_file' in provider 'a' exclude each "
		     "other");
	expect_error("rules:\n  - name: r\n    older_than: 4h\n", 2, 5,
		     "rule 'r' needs 'match' or 'regex'");
	expect_error("rules:\n  - name: r\n    match: []\n", 2, 5,
		     "needs 'match' or 'regex'");
	expect_error("rules:\n  - name: r\n    match: x\n"
		     "  - name: r\n    match: y\n",
		     4, 11, "duplicate rule name 'r' (first at line 2)");
	expect_error("rules:\n  - match: x\n", 2, 5,
		     "missing required key 'name' in rule #1");
	expect_error("rules:\n  - name: r\n    match: x\n    older_than: 4h\n"
		     "    newer_than: 4h\n",
		     5, 17,
		     "'newer_than' in rule 'r' must be longer than "
		     "'older_than'");
	/* A rule may name a provider declared further down. */
	expect_error("rules:\n  - name: r\n    match: x\n"
		     "    providers: [a, b]\n"
		     "providers:\n  - name: a\n    type: osp\n",
		     4, 20,
		     "rule 'r' names provider 'b', which is not configured");
	expect_error("rules:\n  - name: r\n    match: x\n    providers: zz\n",
		     4, 16, "names provider 'zz'");
}

static void test_errors_yaml(void **state)
{
	char msg[VS_ERROR_MSG_MAX];

	(void)state;
	/* libyaml's own problem, at its position, made 1-based. */
	expect_error_at("run:\n  workers: [1, 2\nlog: {}\n", 3, 4,
			"did not find expected ',' or ']'", msg, sizeof(msg));
	assert_non_null(strstr(msg, "while parsing a flow sequence at line 2"));
	expect_error("run:\n\tworkers: 4\n", 2, 1,
		     "found character that cannot start any token");
	expect_error("run:\n  workers: 4\n bad: 1\n", 3, 2,
		     "did not find expected key (while parsing a block mapping "
		     "at line 1)");
	expect_error("log: \"unterminated\n", 2, 1, "unexpected end of stream");
	/* Reader errors carry an offset; it is turned into line:col too. */
	expect_error("run:\n  workers: \xff\n", 2, 12, "invalid");
	/* Anchors and aliases are refused where they stand. */
	expect_error("run: &r\n  workers: 4\n", 1, 6,
		     "anchors and aliases are not supported ('&r'); write the "
		     "value out");
	expect_error("protect:\n  names: [a, &n b]\n", 2, 14,
		     "anchors and aliases are not supported ('&n')");
	expect_error("run:\n  workers: *x\n", 2, 12,
		     "anchors and aliases are not supported ('*x')");
	/* The usual way to meet one: a glob left unquoted. */
	expect_error("protect:\n  names: [*-keep]\n", 2, 11,
		     "('*-keep'); quote a value that starts with '*'");
	/* Nesting is bounded. */
	expect_error("run:\n  workers: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
		     "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n",
		     2, 42, "nested deeper than 32 levels");
}

/* ------------------------------------------------------------------ */
/* Secrets.                                                             */

#define SECRET "S3cr3t-Value-42"

static void test_secret_env(void **state)
{
	struct vs_config cfg;
	char msg[VS_ERROR_MSG_MAX];

	(void)state;
	setenv("VS_TEST_PW", SECRET, 1);
	expect_ok("providers:\n  - name: a\n    type: osp\n"
		  "    password_env: VS_TEST_PW\n",
		  &cfg);
	assert_string_equal(cfg.providers[0].password, SECRET);
	vs_config_release(&cfg);

	unsetenv("VS_TEST_UNSET_PW");
	expect_error("providers:\n  - name: a\n    type: osp\n"
		     "    password_env: VS_TEST_UNSET_PW\n",
		     4, 19,
		     "environment variable 'VS_TEST_UNSET_PW' for 'password' "
		     "is not set");
	setenv("VS_TEST_EMPTY_PW", "", 1);
	expect_error("providers:\n  - name: a\n    type: osp\n"
		     "    password_env: VS_TEST_EMPTY_PW\n",
		     4, 19,
		     "environment variable 'VS_TEST_EMPTY_PW' for 'password' "
		     "is empty");
	/* A password pasted where the variable's name belongs is not shown. */
	expect_error_at("providers:\n  - name: a\n    type: osp\n"
			"    password_env: \"hunter2!$\"\n",
			4, 19,
			"'password_env' must name an environment variable", msg,
			sizeof(msg));
	assert_null(strstr(msg, "hunter2"));
	/* So is one that happens to be a valid variable name. */
	unsetenv("Hunter2pass");
	expect_error_at("providers:\n  - name: a\n    type: osp\n"
			"    password_env: Hunter2pass\n",
			4, 19, "for 'password' is not set", msg, sizeof(msg));
	assert_null(strstr(msg, "Hunter2"));
	/* A literal password is refused and not repeated. */
	expect_error_at("providers:\n  - name: a\n    type: osp\n"
			"    password: " SECRET "\n",
			4, 5,
			"'password' in provider 'a' must not be written in the "
			"file: use password_env or password_file",
			msg, sizeof(msg));
	assert_null(strstr(msg, SECRET));
	expect_error("providers:\n  - name: a\n    type: osp\n"
		     "    password_env: VS_TEST_PW\n"
		     "    password_file: /x\n",
		     5, 5,
		     "'password_env' and 'password_file' in provider 'a' "
		     "exclude each other");
	/* An error next to a resolved secret does not carry it. */
	expect_error_at("providers:\n  - name: a\n    type: osp\n"
			"    password_env: VS_TEST_PW\n"
			"    max_concurrency: lots\n",
			5, 22, "must be an integer, not 'lots'", msg,
			sizeof(msg));
	assert_null(strstr(msg, SECRET));
	assert_null(strstr(msg, "S3cr3t"));
	unsetenv("VS_TEST_PW");
	unsetenv("VS_TEST_EMPTY_PW");
}

static void test_secret_file(void **state)
{
	char path[PATH_MAX], msg[VS_ERROR_MSG_MAX], cwd[PATH_MAX];
	struct vs_config cfg;
	struct vs_error err;

	(void)state;
	write_named("pw", SECRET "\n", 0600);
	write_named("pw-crlf", SECRET "\r\n", 0600);
	write_named("pw-bare", SECRET, 0600);
	write_named("pw-two", SECRET "\nmore\n", 0600);
	write_named("pw-empty", "\n", 0600);
	write_named("pw-blank", "\n\n", 0600);

	/* Relative to the configuration's directory, not the working one. */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir("/"), 0);
	expect_ok("providers:\n  - name: a\n    type: osp\n"
		  "    password_file: pw\n    ca_file: sub/ca.pem\n"
		  "  - name: b\n    type: osp\n    password_file: pw-crlf\n"
		  "    ca_file: /abs/ca.pem\n"
		  "  - name: c\n    type: osp\n    password_file: pw-bare\n",
		  &cfg);
	assert_int_equal(chdir(cwd), 0);
	assert_string_equal(cfg.providers[0].password, SECRET);
	assert_string_equal(cfg.providers[1].password, SECRET);
	assert_string_equal(cfg.providers[2].password, SECRET);
	snprintf(path, sizeof(path), "%s/sub/ca.pem", tmpdir);
	assert_string_equal(cfg.providers[0].ca_file, path);
	assert_string_equal(cfg.providers[1].ca_file, "/abs/ca.pem");
	vs_config_release(&cfg);

	expect_error_at("providers:\n  - name: a\n    type: osp\n"
			"    password_file: pw-two\n",
			4, 20, "must hold one line", msg, sizeof(msg));
	assert_null(strstr(msg, SECRET));
	expect_error("providers:\n  - name: a\n    type: osp\n"
		     "    password_file: pw-empty\n",
		     4, 20, "is empty");
	expect_error("providers:\n  - name: a\n    type: osp\n"
		     "    password_file: pw-blank\n",
		     4, 20, "must hold one line");
	snprintf(path, sizeof(path), "%s/pw-missing", tmpdir);
	expect_error_at("providers:\n  - name: a\n    type: osp\n"
			"    password_file: pw-missing\n",
			4, 20, "cannot read '", msg, sizeof(msg));
	assert_non_null(strstr(msg, path));
	assert_non_null(strstr(msg, "No such file or directory"));
	expect_error("providers:\n  - name: a\n    type: osp\n"
		     "    password_file: /\n",
		     4, 20, "'/' for 'password' is not a regular file");

	/* An error right after the secret line never shows the secret. */
	expect_error_at("providers:\n  - name: a\n    type: osp\n"
			"    password_file: pw\n    insecure: maybe\n",
			5, 15, "must be true or false, not 'maybe'", msg,
			sizeof(msg));
	assert_null(strstr(msg, SECRET));
	assert_null(strstr(msg, "S3cr3t"));
	/* The same when the bad line comes first and the secret after. */
	expect_error_at("providers:\n  - name: a\n    type: osp\n"
			"    insecure: maybe\n    password_file: pw\n",
			4, 15, "must be true or false", msg, sizeof(msg));
	assert_null(strstr(msg, "S3cr3t"));
	expect_error_at("providers:\n  - name: a\n    type: osp\n"
			"    password_file: pw\n    url: [x]\n",
			5, 10, "must be a string, not a sequence", msg,
			sizeof(msg));
	assert_null(strstr(msg, SECRET));

	/* Too big. */
	{
		size_t n = 64 * 1024 + 1;
		char *big = malloc(n + 1);

		assert_non_null(big);
		memset(big, 'x', n);
		big[n] = '\0';
		write_named("pw-big", big, 0600);
		free(big);
	}
	expect_error("providers:\n  - name: a\n    type: osp\n"
		     "    password_file: pw-big\n",
		     4, 20, "is larger than 64 KiB");

	/* Loading twice into one config after a release works. */
	assert_int_equal(load_str(&cfg, "log:\n  level: warn\n", path,
				  sizeof(path), &err),
			 0);
	vs_config_release(&cfg);
}

/* Read what the logger wrote to fd since offset 0. */
static void read_log(int fd, char *buf, size_t sz)
{
	ssize_t n = pread(fd, buf, sz - 1, 0);

	assert_true(n >= 0);
	buf[n] = '\0';
}

/* Log INFO and up into a fresh file in tmpdir; its descriptor. */
static int log_capture(void)
{
	struct vs_log_opts opts = {VS_LOG_INFO, VS_LOG_TEXT, -1, NULL, 0};
	char logpath[PATH_MAX];
	struct vs_error err;

	snprintf(logpath, sizeof(logpath), "%s/log-XXXXXX", tmpdir);
	opts.fd = mkstemp(logpath);
	assert_true(opts.fd >= 0);
	vs_error_clear(&err);
	assert_int_equal(vs_log_setup(&opts, &err), 0);
	return opts.fd;
}

static void test_warnings_logged(void **state)
{
	char text[4096];
	struct vs_config cfg;
	int fd;

	(void)state;
	fd = log_capture();

	write_named("pw-open", SECRET "\n", 0644);
	expect_ok("providers:\n  - name: a\n    type: osp\n"
		  "    password_file: pw-open\n"
		  "  - name: b\n    type: osp\n    insecure: true\n",
		  &cfg);
	assert_string_equal(cfg.providers[0].password, SECRET);
	vs_config_release(&cfg);
	read_log(fd, text, sizeof(text));
	assert_non_null(strstr(text, "pw-open' for 'password' is readable by "
				     "group or others"));
	assert_non_null(strstr(text, "provider 'b' does not verify TLS"));
	assert_null(strstr(text, SECRET));

	/* A private file draws no warning. */
	assert_int_equal(ftruncate(fd, 0), 0);
	expect_ok("providers:\n  - name: a\n    type: osp\n"
		  "    password_file: pw\n",
		  &cfg);
	vs_config_release(&cfg);
	read_log(fd, text, sizeof(text));
	assert_null(strstr(text, "readable"));

	vs_log_teardown();
	close(fd);
}

/*
 * --strict (VS_CONFIG_STRICT): a secret file group or others can read is
 * the error, one line at the key's value, that is otherwise a warning;
 * the same for a plugin's own secret key.  A private file passes.
 */
static void test_secret_file_strict(void **state)
{
	char path[PATH_MAX], want[2 * PATH_MAX + 128];
	char text[4096];
	static const struct vs_key_spec keys[] = {
		{"token", VS_KEY_SECRET, "a secret"},
		{NULL, 0, NULL},
	};
	const char *yaml = "providers:\n  - name: a\n    type: osp\n"
			   "    password_file: pw-loose\n";
	struct vs_config cfg;
	struct vs_error err;
	int fd;

	(void)state;
	fd = log_capture();
	write_named("pw-loose", SECRET "\n", 0644);
	write_named("pw-group", SECRET "\n", 0640);
	write_named("pw", SECRET "\n", 0600);

	/* Without the flag: loaded, with the warning. */
	expect_ok(yaml, &cfg);
	assert_int_equal(cfg.strict, 0);
	assert_string_equal(cfg.providers[0].password, SECRET);
	vs_config_release(&cfg);
	read_log(fd, text, sizeof(text));
	assert_non_null(strstr(text, "pw-loose' for 'password' is readable by "
				     "group or others (mode 0644); chmod "
				     "600 it"));

	/* With it: the error, at the value, and nothing logged. */
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	write_tmp(path, sizeof(path), yaml, strlen(yaml));
	vs_error_clear(&err);
	assert_int_equal(
		vs_config_load_flags(&cfg, path, VS_CONFIG_STRICT, &err),
		VS_ERR);
	assert_int_equal(err.cls, VS_EC_CONFIG);
	snprintf(want, sizeof(want),
		 "%s:4:20: secret file '%s/pw-loose' for 'password' is "
		 "readable by group or others (mode 0644); chmod 600 it",
		 path, tmpdir);
	assert_string_equal(err.message, want);
	assert_null(strstr(err.message, SECRET));
	vs_config_release(&cfg);
	read_log(fd, text, sizeof(text));
	assert_null(strstr(text, "readable"));

	/* Group read alone counts, whatever the group. */
	yaml = "providers:\n  - name: a\n    type: osp\n"
	       "    password_file: pw-group\n";
	write_tmp(path, sizeof(path), yaml, strlen(yaml));
	vs_error_clear(&err);
	assert_int_equal(
		vs_config_load_flags(&cfg, path, VS_CONFIG_STRICT, &err),
		VS_ERR);
	assert_non_null(strstr(err.message, "(mode 0640)"));
	vs_config_release(&cfg);

	/* A private file passes, and cfg remembers the flag. */
	yaml = "providers:\n  - name: a\n    type: osp\n"
	       "    password_file: pw\n    token_file: pw-loose\n";
	write_tmp(path, sizeof(path), yaml, strlen(yaml));
	vs_error_clear(&err);
	assert_int_equal(
		vs_config_load_flags(&cfg, path, VS_CONFIG_STRICT, &err),
		VS_OK);
	assert_int_equal(cfg.strict, 1);
	assert_string_equal(cfg.providers[0].password, SECRET);

	/* A plugin's secret key follows cfg.strict too. */
	vs_error_clear(&err);
	assert_int_equal(vs_config_check_provider_keys(&cfg, &cfg.providers[0],
						       keys, &err),
			 VS_ERR);
	assert_int_equal(err.cls, VS_EC_CONFIG);
	assert_non_null(strstr(err.message, ":5:17: secret file '"));
	assert_non_null(strstr(err.message, "pw-loose' for 'token' is "
					    "readable by group or others "
					    "(mode 0644)"));
	assert_null(strstr(err.message, SECRET));
	cfg.strict = 0;
	vs_error_clear(&err);
	assert_int_equal(vs_config_check_provider_keys(&cfg, &cfg.providers[0],
						       keys, &err),
			 VS_OK);
	read_log(fd, text, sizeof(text));
	assert_non_null(strstr(text, "pw-loose' for 'token' is readable"));
	assert_null(strstr(text, SECRET));
	vs_config_release(&cfg);
	assert_int_equal(cfg.strict, 0);

	vs_log_teardown();
	close(fd);
}

/* ------------------------------------------------------------------ */
/* Provider-specific keys.                                              */

static const struct vs_key_spec test_keys[] = {
	{"region", VS_KEY_STRING, "a string"},
	{"verify", VS_KEY_BOOL, "a bool"},
	{"page_size", VS_KEY_INT, "an int"},
	{"poll", VS_KEY_DURATION, "a duration"},
	{"zones", VS_KEY_LIST, "a list"},
	{"token", VS_KEY_SECRET, "a secret"},
	{"clouds_file", VS_KEY_STRING, "a path that is not a secret"},
	{NULL, 0, NULL},
};

static void test_extra_keys(void **state)
{
	char path[PATH_MAX], want[PATH_MAX + 128];
	struct vs_config cfg;
	struct vs_error err;
	const struct vs_config_provider *p;
	int round;

	(void)state;
	setenv("VS_TEST_TOKEN", SECRET, 1);
	assert_int_equal(
		load_str(&cfg,
			 "providers:\n"
			 "  - name: p\n"
			 "    type: osp\n"
			 "    region: RegionOne\n"
			 "    verify: Yes\n"
			 "    page_size: 0500\n"
			 "    poll: 1m30s\n"
			 "    zones: [az1, az2]\n"
			 "    token_env: VS_TEST_TOKEN\n"
			 "    clouds_file: /etc/openstack/clouds.yaml\n",
			 path, sizeof(path), &err),
		0);
	p = &cfg.providers[0];
	assert_int_equal(p->n_extra, 7);
	/* Kept as written, with positions, before the check. */
	assert_string_equal(p->extra[0].key, "region");
	assert_int_equal(p->extra[0].line, 4);
	assert_int_equal(p->extra[0].col, 5);
	assert_int_equal(p->extra[0].value_line, 4);
	assert_int_equal(p->extra[0].value_col, 13);
	assert_string_equal(p->extra[4].value, "az1,az2");
	assert_int_equal(p->extra[4].node, VS_CONFIG_SEQUENCE);
	assert_string_equal(p->extra[5].key, "token_env");
	assert_string_equal(p->extra[5].value, "VS_TEST_TOKEN");
	assert_int_equal(p->extra[5].secret, 0);

	/* Checking twice gives the same: it starts from the YAML each time. */
	for (round = 0; round < 2; round++) {
		vs_error_clear(&err);
		assert_int_equal(
			vs_config_check_provider_keys(&cfg, p, test_keys, &err),
			0);
		assert_string_equal(p->extra[0].value, "RegionOne");
		assert_string_equal(p->extra[1].value, "true");
		assert_string_equal(p->extra[2].value, "500");
		assert_string_equal(p->extra[3].value, "90000");
		assert_string_equal(p->extra[4].value, "az1,az2");
		assert_string_equal(p->extra[5].key, "token");
		assert_string_equal(p->extra[5].value, SECRET);
		assert_int_equal(p->extra[5].secret, 1);
		assert_string_equal(p->extra[6].key, "clouds_file");
		assert_string_equal(p->extra[6].value,
				    "/etc/openstack/clouds.yaml");
		assert_int_equal(p->extra[6].secret, 0);
		assert_int_equal(p->extra[5].line, 9);
	}
	vs_config_release(&cfg);

	/* Each kind of bad key: the exact position and message. */
	{
		static const struct {
			const char *yaml;
			int line, col;
			const char *msg;
		} bad[] = {
			{"    regoin: x\n", 4, 5,
			 "unknown key 'regoin' for provider 'p' (type osp)"},
			{"    region: [a, b]\n", 4, 13,
			 "'region' for provider 'p' must be a string"},
			{"    region: {a: 1}\n", 4, 13,
			 "'region' for provider 'p' must be a string"},
			{"    region:\n", 4, 12,
			 "'region' for provider 'p' has no value"},
			{"    verify: maybe\n", 4, 13,
			 "'verify' for provider 'p' must be true or false"},
			{"    page_size: 1.5\n", 4, 16,
			 "'page_size' for provider 'p' must be an integer"},
			{"    poll: 4 hours\n", 4, 11,
			 "'poll' for provider 'p' must be a duration"},
			{"    poll: -4h\n", 4, 11, "must be a duration"},
			{"    zones: [[a]]\n", 4, 12,
			 "'zones' for provider 'p' must be a string or a list"},
			{"    token: " SECRET "\n", 4, 5,
			 "'token' for provider 'p' must not be written in the "
			 "file: use token_env or token_file"},
			{"    token_env: VS_TEST_NO_SUCH_VAR\n", 4, 16,
			 "environment variable 'VS_TEST_NO_SUCH_VAR' for "
			 "'token' is not set"},
			{"    token_file: no-such-file\n", 4, 17,
			 "cannot read '"},
			{"    token_env: VS_TEST_TOKEN\n    token_file: pw\n",
			 5, 5,
			 "'token_env' and 'token_file' for provider 'p' "
			 "exclude each other"},
			{"    region_env: VS_TEST_TOKEN\n", 4, 5,
			 "unknown key 'region_env'"},
		};
		size_t i;

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			char yaml[512];

			snprintf(yaml, sizeof(yaml),
				 "providers:\n  - name: p\n    type: osp\n%s",
				 bad[i].yaml);
			assert_int_equal(
				load_str(&cfg, yaml, path, sizeof(path), &err),
				0);
			vs_error_clear(&err);
			assert_int_equal(vs_config_check_provider_keys(
						 &cfg, &cfg.providers[0],
						 test_keys, &err),
					 VS_ERR);
			snprintf(want, sizeof(want), "%s:%d:%d: ", path,
				 bad[i].line, bad[i].col);
			if (strncmp(err.message, want, strlen(want)) != 0 ||
			    !strstr(err.message, bad[i].msg) ||
			    err.cls != VS_EC_CONFIG) {
				print_error("case %zu: want %s...%s\ngot %s\n",
					    i, want, bad[i].msg, err.message);
				fail();
			}
			assert_null(strstr(err.message, SECRET));
			vs_config_release(&cfg);
		}
	}

	/* A secret file for a plugin key, relative to the config's dir. */
	write_named("tok", SECRET "\n", 0600);
	assert_int_equal(load_str(&cfg,
				  "providers:\n  - name: p\n    type: osp\n"
				  "    token_file: tok\n",
				  path, sizeof(path), &err),
			 0);
	vs_error_clear(&err);
	assert_int_equal(vs_config_check_provider_keys(&cfg, &cfg.providers[0],
						       test_keys, &err),
			 0);
	assert_string_equal(cfg.providers[0].extra[0].key, "token");
	assert_string_equal(cfg.providers[0].extra[0].value, SECRET);
	vs_config_release(&cfg);

	/* A list item holding the separator cannot be delivered. */
	expect_error("providers:\n  - name: p\n    type: osp\n"
		     "    zones: [a, \"b,c\"]\n",
		     4, 16,
		     "items of 'zones' in provider 'p' must not hold ','");
	unsetenv("VS_TEST_TOKEN");
}

/* ------------------------------------------------------------------ */

static void test_default_path(void **state)
{
	char cwd[PATH_MAX];

	(void)state;
	setenv("VMSWEEP_CONFIG", "/from/env.yaml", 1);
	assert_string_equal(vs_config_default_path("/x.yaml"), "/x.yaml");
	assert_string_equal(vs_config_default_path(NULL), "/from/env.yaml");
	setenv("VMSWEEP_CONFIG", "", 1);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(tmpdir), 0);
	unlink("vmsweep.yaml");
	assert_string_equal(vs_config_default_path(NULL),
			    "/etc/vmsweep/vmsweep.yaml");
	write_named("vmsweep.yaml", "", 0600);
	assert_string_equal(vs_config_default_path(NULL), "./vmsweep.yaml");
	unsetenv("VMSWEEP_CONFIG");
	assert_string_equal(vs_config_default_path(NULL), "./vmsweep.yaml");
	unlink("vmsweep.yaml");
	assert_int_equal(chdir(cwd), 0);
}

/* Every key a user may write, per DESIGN.md section 9. */
static const char *const all_keys[] = {
	"providers",
	"name",
	"type",
	"url",
	"username",
	"password_env",
	"password_file",
	"ca_file",
	"insecure",
	"max_concurrency",
	"adaptive_concurrency",
	"protect_names",
	"age_source",
	"rules",
	"match",
	"regex",
	"case_sensitive",
	"older_than",
	"newer_than",
	"power_states",
	"protect",
	"names",
	"marker",
	"expiry_marker",
	"limits",
	"max_deletes",
	"max_deletes_per_provider",
	"max_delete_percent",
	"max_plan_age",
	"breaker_consecutive",
	"breaker_percent",
	"breaker_min_attempts",
	"run",
	"workers",
	"retry_rounds",
	"retry_delay",
	"delete_timeout",
	"request_timeout",
	"confirm_interval",
	"report",
	"dir",
	"keep",
	"keep_age",
	"metrics_file",
	"state",
	"path",
	"retention",
	"flag_after",
	"busy_timeout",
	"log",
	"level",
	"format",
	"file",
};

static char *read_whole(const char *path)
{
	FILE *f = fopen(path, "r");
	char *s;
	long n;

	if (!f)
		return NULL;
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	s = malloc((size_t)n + 1);
	assert_non_null(s);
	assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
	s[n] = '\0';
	fclose(f);
	return s;
}

static void test_reference_in_docs(void **state)
{
	char path[PATH_MAX], *ref = NULL, *doc, *line, *save = NULL;
	char key[128];
	size_t reflen = 0, i;
	FILE *mem;

	(void)state;
	mem = open_memstream(&ref, &reflen);
	assert_non_null(mem);
	vs_config_write_reference(mem);
	assert_int_equal(fclose(mem), 0);

	for (i = 0; i < sizeof(all_keys) / sizeof(all_keys[0]); i++) {
		snprintf(key, sizeof(key), "`%s", all_keys[i]);
		if (!strstr(ref, key)) {
			print_error("reference lacks '%s'\n", all_keys[i]);
			fail();
		}
	}
	assert_non_null(strstr(ref, "| `max_concurrency` | integer | `8` | "
				    "1..256 |"));
	assert_non_null(strstr(ref, "| `password_env`, `password_file` | "
				    "secret | none |"));
	assert_non_null(strstr(ref, "| `delete_timeout` | duration | `10m` | "
				    "1s..1d |"));

	snprintf(path, sizeof(path), "%s/docs/configuration.md", srcdir());
	doc = read_whole(path);
	assert_non_null(doc);
	/* Every key row of the generated tables is in the document. */
	for (line = strtok_r(ref, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (!strstr(doc, line)) {
			print_error("%s lacks the generated line:\n%s\n"
				    "regenerate the reference section\n",
				    path, line);
			fail();
		}
	}
	free(doc);
	free(ref);
}

/* The whole generated reference appears verbatim in the document. */
static void test_reference_verbatim(void **state)
{
	char path[PATH_MAX], *ref = NULL, *doc;
	size_t reflen = 0;
	FILE *mem;

	(void)state;
	mem = open_memstream(&ref, &reflen);
	assert_non_null(mem);
	vs_config_write_reference(mem);
	assert_int_equal(fclose(mem), 0);
	snprintf(path, sizeof(path), "%s/docs/configuration.md", srcdir());
	doc = read_whole(path);
	assert_non_null(doc);
	if (!strstr(doc, ref)) {
		print_error("%s does not contain the generated reference; "
			    "it should read:\n%s\n",
			    path, ref);
		fail();
	}
	free(doc);
	free(ref);
}

/*
 * The block of the example file under the top-level key name: from the
 * line "NAME:" to the next line that starts another top-level key.
 * *len gets its length; NULL when the section is missing.
 */
static const char *example_section(const char *yaml, const char *name,
				   size_t *len)
{
	size_t n = strlen(name);
	const char *p = yaml, *end;

	for (;;) {
		if (strncmp(p, name, n) == 0 && p[n] == ':')
			break;
		p = strchr(p, '\n');
		if (!p)
			return NULL;
		p++;
	}
	for (end = strchr(p, '\n'); end; end = strchr(end + 1, '\n'))
		if (end[1] >= 'a' && end[1] <= 'z')
			break;
	*len = end ? (size_t)(end - p) : strlen(p);
	return p;
}

/*
 * Whether a line of block (len bytes) sets key, as "key:" after the
 * indentation, a list item's "- " or a comment's "#": a key commented
 * out counts, since its comment documents it.
 */
static int example_has_key(const char *block, size_t len, const char *key)
{
	const char *p = block, *end = block + len;
	size_t n = strlen(key);

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));

		if (!eol)
			eol = end;
		while (p < eol && *p == ' ')
			p++;
		if (p < eol && *p == '#')
			for (p++; p < eol && *p == ' '; p++)
				;
		if (eol - p > 2 && p[0] == '-' && p[1] == ' ')
			p += 2;
		if ((size_t)(eol - p) > n && strncmp(p, key, n) == 0 &&
		    p[n] == ':')
			return 1;
		p = eol + 1;
	}
	return 0;
}

/*
 * Every key of the key tables is in config/vmsweep.example.yaml, in its
 * section.  The tables are walked through the generated reference: a
 * section's heading "### `NAME`", then one row per key whose first cell
 * names it ("`password_env`, `password_file`" for a secret).
 */
static void test_example_has_every_key(void **state)
{
	char path[PATH_MAX], section[64] = "", key[64];
	char *ref = NULL, *yaml;
	const char *line, *next, *block = NULL, *cell, *tick;
	size_t reflen = 0, blen = 0, keys = 0, missing = 0;
	FILE *mem;

	(void)state;
	mem = open_memstream(&ref, &reflen);
	assert_non_null(mem);
	vs_config_write_reference(mem);
	assert_int_equal(fclose(mem), 0);
	snprintf(path, sizeof(path), "%s/config/vmsweep.example.yaml",
		 srcdir());
	yaml = read_whole(path);
	assert_non_null(yaml);

	for (line = ref; *line; line = next) {
		next = strchr(line, '\n');
		next = next ? next + 1 : line + strlen(line);
		if (sscanf(line, "### `%63[^`]`", section) == 1) {
			block = example_section(yaml, section, &blen);
			if (!block) {
				print_error("%s lacks the section '%s'\n", path,
					    section);
				missing++;
			}
			continue;
		}
		if (strncmp(line, "| `", 3) != 0)
			continue;
		assert_true(section[0] != '\0');
		/* Each `name` of the first cell. */
		cell = strstr(line + 1, " |");
		assert_non_null(cell);
		for (tick = line + 2; tick < cell;) {
			const char *close = strchr(tick + 1, '`');

			assert_true(close && close < cell);
			assert_true((size_t)(close - tick) < sizeof(key));
			snprintf(key, sizeof(key), "%.*s",
				 (int)(close - tick - 1), tick + 1);
			keys++;
			if (block && !example_has_key(block, blen, key)) {
				print_error("%s lacks %s.%s (set it, or "
					    "comment it out, with a comment "
					    "saying what it does)\n",
					    path, section, key);
				missing++;
			}
			tick = strchr(close + 1, '`');
			if (!tick)
				break;
		}
	}
	/* The walk found the tables, not an empty or reshaped reference. */
	assert_true(keys > 40);
	assert_int_equal(missing, 0);
	free(yaml);
	free(ref);
}

/* ------------------------------------------------------------------ */

static int setup(void **state)
{
	const char *base = getenv("TMPDIR");

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "%s/vs-config-XXXXXX",
		 base && *base ? base : "/tmp");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_one(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	(void)state;
	/* The directory holds only files this test wrote. */
	return nftw(tmpdir, remove_one, 8, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_defaults),
		cmocka_unit_test(test_empty_files),
		cmocka_unit_test(test_init_then_load),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_example),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_errors_structure),
		cmocka_unit_test(test_errors_values),
		cmocka_unit_test(test_errors_entries),
		cmocka_unit_test(test_errors_yaml),
		cmocka_unit_test(test_secret_env),
		cmocka_unit_test(test_secret_file),
		cmocka_unit_test(test_secret_file_strict),
		cmocka_unit_test(test_warnings_logged),
		cmocka_unit_test(test_extra_keys),
		cmocka_unit_test(test_default_path),
		cmocka_unit_test(test_reference_in_docs),
		cmocka_unit_test(test_reference_verbatim),
		cmocka_unit_test(test_example_has_every_key),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
