/*
 * test_osp_clouds.c - where the OpenStack provider gets its settings:
 * the sample clouds.yaml, secure.yaml merged over it, the search order
 * (in temporary directories with a fake environment), OS_CLOUD, the OS_*
 * fallback, precedence, validation, and hostile YAML.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "osp/osp_internal.h"

#define TAG "osp-lab"

/* ------------------------------------------------------------------ */
/* A fake environment and a scratch tree.                               */

struct fake {
	const char *names[32];
	const char *values[32];
	size_t n;
	char root[64];
	char paths[64][512]; /* created files and dirs, to remove */
	size_t n_paths;
	char cwd[512], etc[512], home[512], xdg[512];
	struct osp_env env;
};

static const char *fake_get(void *ctx, const char *name)
{
	struct fake *f = ctx;
	size_t i;

	for (i = 0; i < f->n; i++)
		if (strcmp(f->names[i], name) == 0)
			return f->values[i];
	return NULL;
}

static void setenv_fake(struct fake *f, const char *name, const char *value)
{
	size_t i;

	for (i = 0; i < f->n; i++) {
		if (strcmp(f->names[i], name) == 0) {
			f->values[i] = value;
			return;
		}
	}
	assert_true(f->n < 32);
	f->names[f->n] = name;
	f->values[f->n++] = value;
}

static const char *mkpath(struct fake *f, const char *rel)
{
	assert_true(f->n_paths < 64);
	snprintf(f->paths[f->n_paths], sizeof(f->paths[0]), "%s/%s", f->root,
		 rel);
	return f->paths[f->n_paths++];
}

static void mkdir_fake(struct fake *f, const char *rel)
{
	assert_int_equal(mkdir(mkpath(f, rel), 0700), 0);
}

/* Write a file under the scratch root; returns its path. */
static const char *write_fake(struct fake *f, const char *rel, const char *text)
{
	const char *p = mkpath(f, rel);
	FILE *fp = fopen(p, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
	assert_int_equal(fclose(fp), 0);
	return p;
}

static int setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->root, sizeof(f->root), "/tmp/test-osp-clouds-XXXXXX");
	assert_non_null(mkdtemp(f->root));
	mkdir_fake(f, "cwd");
	mkdir_fake(f, "etc");
	mkdir_fake(f, "home");
	mkdir_fake(f, "home/.config");
	mkdir_fake(f, "home/.config/openstack");
	mkdir_fake(f, "xdg");
	mkdir_fake(f, "xdg/openstack");
	snprintf(f->cwd, sizeof(f->cwd), "%s/cwd", f->root);
	snprintf(f->etc, sizeof(f->etc), "%s/etc", f->root);
	snprintf(f->home, sizeof(f->home), "%s/home", f->root);
	snprintf(f->xdg, sizeof(f->xdg), "%s/xdg", f->root);
	setenv_fake(f, "HOME", f->home);
	f->env.get = fake_get;
	f->env.ctx = f;
	f->env.cwd_dir = f->cwd;
	f->env.etc_dir = f->etc;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fake *f = *state;

	/* Files and dirs in reverse order of creation. */
	while (f->n_paths > 0) {
		const char *p = f->paths[--f->n_paths];
		if (unlink(p) != 0)
			rmdir(p);
	}
	rmdir(f->root);
	free(f);
	return 0;
}

static char *sample_path(void)
{
	const char *dir = getenv("VS_SHARED");
	char path[1024];

	snprintf(path, sizeof(path), "%s/api/samples/osp_clouds.yaml",
		 dir && *dir ? dir : "../shared");
	return strdup(path);
}

/* A provider config with name TAG and extra keys (key, value, ..., NULL). */
struct cfg {
	struct vs_provider_config c;
	struct vs_kv kv[16];
};

static void cfg_init(struct cfg *c, ...)
{
	va_list ap;
	const char *k;
	size_t n = 0;

	memset(c, 0, sizeof(*c));
	c->c.name = TAG;
	c->c.type = "osp";
	va_start(ap, c);
	while ((k = va_arg(ap, const char *)) != NULL) {
		c->kv[n].key = (char *)k;
		c->kv[n].value = va_arg(ap, char *);
		n++;
	}
	va_end(ap);
	c->c.extra = c->kv;
	c->c.n_extra = n;
}

static const char cloud_yaml[] = "clouds:\n"
				 "  lab:\n"
				 "    auth:\n"
				 "      auth_url: https://k.%s.example.com/v3\n"
				 "      username: cleaner\n"
				 "      password: pw-%s\n"
				 "      project_name: ci\n"
				 "    region_name: %s\n";

/* A clouds file whose cloud "lab" says where it came from. */
static const char *write_cloud(struct fake *f, const char *rel,
			       const char *where)
{
	char text[512];

	snprintf(text, sizeof(text), cloud_yaml, where, where, where);
	return write_fake(f, rel, text);
}

/* ------------------------------------------------------------------ */

static void test_sample_password_cloud(void **state)
{
	struct fake *f = *state;
	char *path = sample_path();
	struct osp_settings s;
	struct vs_error err;
	struct cfg c;

	setenv_fake(f, "OS_CLIENT_CONFIG_FILE", path);
	cfg_init(&c, "cloud", "ci", NULL);
	vs_error_clear(&err);
	assert_int_equal(osp_settings_resolve(&c.c, &f->env, &s, &err), VS_OK);
	assert_int_equal(s.method, OSP_AUTH_PASSWORD);
	assert_string_equal(s.auth_url, "https://keystone.example.com:5000/v3");
	assert_string_equal(s.username, "ci-cleaner");
	assert_string_equal(s.password, "s3cret");
	assert_string_equal(s.project_name, "ci");
	assert_string_equal(s.user_domain_name, "Default");
	assert_string_equal(s.project_domain_name, "Default");
	assert_string_equal(s.region, "RegionOne");
	assert_string_equal(s.interface, "public");
	assert_string_equal(s.ca_file, "/etc/pki/tls/certs/my-ca.pem");
	assert_int_equal(s.insecure, 0);
	assert_int_equal(s.page_size, 1000);
	assert_string_equal(s.microversion, "2.26");
	assert_non_null(strstr(s.source, "(cloud 'ci')"));
	assert_non_null(strstr(s.source, path));
	osp_settings_release(&s);
	free(path);
}

static void test_sample_appcred_cloud(void **state)
{
	struct fake *f = *state;
	char *path = sample_path();
	struct osp_settings s;
	struct vs_error err;
	struct cfg c;

	setenv_fake(f, "OS_CLIENT_CONFIG_FILE", path);
	/* OS_CLOUD picks the cloud when the configuration names none. */
	setenv_fake(f, "OS_CLOUD", "ci-appcred");
	cfg_init(&c, NULL);
	vs_error_clear(&err);
	assert_int_equal(osp_settings_resolve(&c.c, &f->env, &s, &err), VS_OK);
	assert_int_equal(s.method, OSP_AUTH_APPCRED);
	assert_string_equal(s.appcred_id, "423f19a4ac1e4f48bbb4180756e6eb6c");
	assert_string_equal(s.appcred_secret, "rEaqvJka48mpv");
	assert_null(s.password);
	assert_int_equal(s.insecure, 1);
	assert_int_equal(s.insecure_from_clouds, 1);
	assert_null(s.ca_file);
	osp_settings_release(&s);

	/* An explicit ca_file wants verification despite verify: false. */
	c.c.ca_file = "/etc/ssl/lab.pem";
	assert_int_equal(osp_settings_resolve(&c.c, &f->env, &s, &err), VS_OK);
	assert_int_equal(s.insecure, 0);
	assert_string_equal(s.ca_file, "/etc/ssl/lab.pem");
	osp_settings_release(&s);
	free(path);
}

static void test_missing_cloud(void **state)
{
	struct fake *f = *state;
	char *path = sample_path();
	struct osp_settings s;
	struct vs_error err;
	struct cfg c;
	char want[1200];

	setenv_fake(f, "OS_CLIENT_CONFIG_FILE", path);
	cfg_init(&c, "cloud", "lab", NULL);
	vs_error_clear(&err);
	assert_int_equal(osp_settings_resolve(&c.c, &f->env, &s, &err), VS_ERR);
	assert_int_equal(err.cls, VS_EC_CONFIG);
	snprintf(want, sizeof(want), "osp-lab: cloud 'lab' not found in %s",
		 path);
	assert_string_equal(err.message, want);
	assert_null(s.auth_url);

	/* No file anywhere. */
	setenv_fake(f, "OS_CLIENT_CONFIG_FILE", NULL);
	vs_error_clear(&err);
	assert_int_equal(osp_settings_resolve(&c.c, &f->env, &s, &err), VS_ERR);
	assert_int_equal(strncmp(err.message,
				 "osp-lab: cloud 'lab' not found: no "
				 "clouds.yaml in ",
				 45),
			 0);
	free(path);
}

static void test_search_order(void **state)
{
	struct fake *f = *state;
	const char *paths[6];
	char *found;

	assert_null(osp_clouds_find(&f->env, 0));
	paths[0] = write_cloud(f, "etc/clouds.yaml", "etc");
	found = osp_clouds_find(&f->env, 0);
	assert_string_equal(found, paths[0]);
	free(found);
	paths[1] = write_cloud(f, "home/.config/openstack/clouds.json", "home");
	found = osp_clouds_find(&f->env, 0);
	assert_string_equal(found, paths[1]);
	free(found);
	paths[2] = write_cloud(f, "xdg/openstack/clouds.yaml", "xdg");
	setenv_fake(f, "XDG_CONFIG_HOME", f->xdg);
	found = osp_clouds_find(&f->env, 0);
	assert_string_equal(found, paths[2]);
	free(found);
	/* In one directory, .yaml before .yml before .json. */
	paths[3] = write_cloud(f, "cwd/clouds.yml", "cwd-yml");
	found = osp_clouds_find(&f->env, 0);
	assert_string_equal(found, paths[3]);
	free(found);
	paths[4] = write_cloud(f, "cwd/clouds.yaml", "cwd");
	found = osp_clouds_find(&f->env, 0);
	assert_string_equal(found, paths[4]);
	free(found);
	/* OS_CLIENT_CONFIG_FILE goes first, when it exists. */
	paths[5] = write_cloud(f, "explicit.yaml", "explicit");
	setenv_fake(f, "OS_CLIENT_CONFIG_FILE", paths[5]);
	found = osp_clouds_find(&f->env, 0);
	assert_string_equal(found, paths[5]);
	free(found);
	setenv_fake(f, "OS_CLIENT_CONFIG_FILE", "/nonexistent/clouds.yaml");
	found = osp_clouds_find(&f->env, 0);
	assert_string_equal(found, paths[4]);
	free(found);
	/* A directory is not a file. */
	setenv_fake(f, "OS_CLIENT_CONFIG_FILE", f->etc);
	found = osp_clouds_find(&f->env, 0);
	assert_string_equal(found, paths[4]);
	free(found);
	assert_null(osp_clouds_find(&f->env, 1));
}

static void test_search_order_resolves(void **state)
{
	struct fake *f = *state;
	struct osp_settings s;
	struct vs_error err;
	struct cfg c;

	write_cloud(f, "etc/clouds.yaml", "etc");
	write_cloud(f, "home/.config/openstack/clouds.yaml", "home");
	cfg_init(&c, "cloud", "lab", NULL);
	vs_error_clear(&err);
	assert_int_equal(osp_settings_resolve(&c.c, &f->env, &s, &err), VS_OK);
	assert_string_equal(s.region, "home");
	assert_string_equal(s.password, "pw-home");
	assert_string_equal(s.auth_url, "https://k.home.example.com/v3");
	osp_settings_release(&s);
}

static void test_secure_merge(void **state)
{
	struct fake *f = *state;
	struct osp_settings s;
	struct vs_error err;
	struct cfg c;
	const char *sec;

	write_fake(f, "cwd/clouds.yaml",
		   "clouds:\n"
		   "  lab:\n"
		   "    auth:\n"
		   "      auth_url: https://keystone.example.com\n"
		   "      username: cleaner\n"
		   "      project_id: p1\n"
		   "    region_name: R1\n");
	sec = write_fake(f, "etc/secure.yaml",
			 "clouds:\n"
			 "  lab:\n"
			 "    auth:\n"
			 "      password: from-secure\n"
			 "    region_name: R2\n");
	cfg_init(&c, "cloud", "lab", NULL);
	vs_error_clear(&err);
	assert_int_equal(osp_settings_resolve(&c.c, &f->env, &s, &err), VS_OK);
	assert_string_equal(s.password, "from-secure");
	assert_string_equal(s.username, "cleaner");
	assert_string_equal(s.project_id, "p1");
	assert_string_equal(s.region, "R2");
	osp_settings_release(&s);

	/* OS_CLIENT_SECURE_FILE goes first. */
	setenv_fake(f, "OS_CLIENT_SECURE_FILE",
		    write_fake(f, "secure-explicit.json",
			       "{\"clouds\":{\"lab\":{\"auth\":{\"password\":"
			       "\"from-json\"}}}}"));
	assert_int_equal(osp_settings_resolve(&c.c, &f->env, &s, &err), VS_OK);
	assert_string_equal(s.password, "from-json");
	assert_string_equal(s.region, "R1");
	osp_settings_release(&s);
	(void)sec;
}

static void test_os_env_fallback(void **state)
{
	struct fake *f = *state;
	struct osp_settings s;
	struct vs_error err;
	struct cfg c;

	setenv_fake(f, "OS_AUTH_URL", "https://keystone.example.com:5000");
	setenv_fake(f, "OS_USERNAME", "env-user");
	setenv_fake(f, "OS_PASSWORD", "env-pass");
	setenv_fake(f, "OS_TENANT_NAME", "legacy-project");
	setenv_fake(f, "OS_USER_DOMAIN_NAME", "Users");
	setenv_fake(f, "OS_PROJECT_DOMAIN_ID", "pd1");
	setenv_fake(f, "OS_REGION_NAME", "RegionEnv");
	setenv_fake(f, "OS_ENDPOINT_TYPE", "internalURL");
	setenv_fake(f, "OS_CACERT", "/etc/env-ca.pem");
	cfg_init(&c, NULL);
	vs_error_clear(&err);
	assert_int_equal(osp_settings_resolve(&c.c, &f->env, &s, &err), VS_OK);
	assert_int_equal(s.method, OSP_AUTH_PASSWORD);
	assert_string_equal(s.auth_url, "https://keystone.example.com:5000");
	assert_string_equal(s.username, "env-user");
	assert_string_equal(s.password, "env-pass");
	assert_string_equal(s.project_name, "legacy-project");
	assert_string_equal(s.user_domain_name, "Users");
	assert_string_equal(s.project_domain_id, "pd1");
	assert_string_equal(s.region, "RegionEnv");
	assert_string_equal(s.interface, "internal");
	assert_string_equal(s.ca_file, "/etc/env-ca.pem");
	assert_string_equal(s.source, "the OS_* environment");
	osp_settings_release(&s);

	/* Explicit keys win field by field; the rest still comes from OS_*. */
	setenv_fake(f, "OS_PROJECT_NAME", "modern-project");
	cfg_init(&c, "region", "RegionKey", "interface", "ADMIN", NULL);
	c.c.username = "key-user";
	c.c.password = "key-pass";
	assert_int_equal(osp_settings_resolve(&c.c, &f->env, &s, &err), VS_OK);
	assert_string_equal(s.username, "key-user");
	assert_string_equal(s.password, "key-pass");
	assert_string_equal(s.region, "RegionKey");
	assert_string_equal(s.interface, "admin");
	assert_string_equal(s.project_name, "modern-project");
	assert_string_equal(s.source, "the provider configuration and the OS_* "
				      "environment");
	osp_settings_release(&s);

	/* Application credential from the environment. */
	setenv_fake(f, "OS_AUTH_TYPE", "v3applicationcredential");
	setenv_fake(f, "OS_APPLICATION_CREDENTIAL_ID", "ac1");
	setenv_fake(f, "OS_APPLICATION_CREDENTIAL_SECRET", "acs");
	cfg_init(&c, NULL);
	assert_int_equal(osp_settings_resolve(&c.c, &f->env, &s, &err), VS_OK);
	assert_int_equal(s.method, OSP_AUTH_APPCRED);
	assert_string_equal(s.appcred_id, "ac1");
	osp_settings_release(&s);
}

static void test_precedence_with_cloud(void **state)
{
	struct fake *f = *state;
	struct osp_settings s;
	struct vs_error err;
	struct cfg c;

	write_cloud(f, "cwd/clouds.yaml", "cwd");
	/* A sourced openrc of another cloud must not leak in. */
	setenv_fake(f, "OS_PROJECT_ID", "other-cloud-project");
	setenv_fake(f, "OS_PASSWORD", "other-cloud-password");
	setenv_fake(f, "OS_CLOUD", "lab");
	cfg_init(&c, "region", "Explicit", NULL);
	vs_error_clear(&err);
	assert_int_equal(osp_settings_resolve(&c.c, &f->env, &s, &err), VS_OK);
	assert_null(s.project_id);
	assert_string_equal(s.password, "pw-cwd");
	assert_string_equal(s.region, "Explicit");
	osp_settings_release(&s);

	/* A credential key means: not OS_CLOUD, the OS_* layer instead. */
	cfg_init(&c, "auth_url", "https://explicit.example.com/v3", NULL);
	c.c.username = "u";
	assert_int_equal(osp_settings_resolve(&c.c, &f->env, &s, &err), VS_OK);
	assert_string_equal(s.auth_url, "https://explicit.example.com/v3");
	assert_string_equal(s.password, "other-cloud-password");
	assert_string_equal(s.project_id, "other-cloud-project");
	osp_settings_release(&s);

	/* The common url key is an auth_url too; auth_url wins over it. */
	cfg_init(&c, NULL);
	c.c.url = "https://url-key.example.com";
	c.c.username = "u";
	assert_int_equal(osp_settings_resolve(&c.c, &f->env, &s, &err), VS_OK);
	assert_string_equal(s.auth_url, "https://url-key.example.com");
	osp_settings_release(&s);

	/* Explicit application credential keys over a cloud's password. */
	cfg_init(&c, "cloud", "lab", "application_credential_id", "ac",
		 "application_credential_secret", "acs", NULL);
	assert_int_equal(osp_settings_resolve(&c.c, &f->env, &s, &err), VS_OK);
	assert_int_equal(s.method, OSP_AUTH_APPCRED);
	assert_string_equal(s.appcred_id, "ac");
	osp_settings_release(&s);
}

static void test_no_auth_url(void **state)
{
	struct fake *f = *state;
	struct osp_settings s;
	struct vs_error err;
	struct cfg c;

	cfg_init(&c, NULL);
	c.c.username = "u";
	c.c.password = "secret-not-in-messages";
	vs_error_clear(&err);
	assert_int_equal(osp_settings_resolve(&c.c, &f->env, &s, &err), VS_ERR);
	assert_int_equal(err.cls, VS_EC_CONFIG);
	assert_string_equal(err.message, "osp-lab: no auth_url (set auth_url, "
					 "cloud or OS_AUTH_URL)");
}

static void test_validation(void **state)
{
	static const char *const bad[][2] = {
		{"interface", "private"},  {"page_size", "0"},
		{"page_size", "10001"},	   {"page_size", "12abc"},
		{"page_size", "-5"},	   {"page_size", " 5"},
		{"microversion", "2.25"},  {"microversion", "2.x"},
		{"microversion", "3.0"},   {"microversion", "latest"},
		{"microversion", "2.26a"}, {"auth_url", "keystone:5000"},
	};
	struct fake *f = *state;
	struct osp_settings s;
	struct vs_error err;
	struct cfg c;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* The first of two equal keys wins: the bad one. */
		cfg_init(&c, bad[i][0], bad[i][1], "auth_url",
			 "https://k.example.com", NULL);
		c.c.username = "u";
		c.c.password = "p";
		vs_error_clear(&err);
		if (osp_settings_resolve(&c.c, &f->env, &s, &err) == VS_OK)
			fail_msg("%s: %s was accepted", bad[i][0], bad[i][1]);
		assert_int_equal(err.cls, VS_EC_CONFIG);
		assert_int_equal(strncmp(err.message, "osp-lab: ", 9), 0);
	}
	cfg_init(&c, "auth_url", "https://k.example.com", "page_size", "50",
		 "microversion", "2.90", "interface", "publicURL", NULL);
	c.c.username = "u";
	assert_int_equal(osp_settings_resolve(&c.c, &f->env, &s, &err), VS_OK);
	assert_int_equal(s.page_size, 50);
	assert_string_equal(s.microversion, "2.90");
	assert_string_equal(s.interface, "public");
	/* No password yet is for the auth body to refuse, not the loader. */
	assert_null(s.password);
	osp_settings_release(&s);
}

static void test_cloud_details(void **state)
{
	struct fake *f = *state;
	struct osp_settings s;
	struct vs_error err;
	struct cfg c;

	write_fake(f, "cwd/clouds.yaml",
		   "defaults: &defaults\n"
		   "  auth:\n"
		   "    auth_url: https://anchored.example.com\n"
		   "  interface: internal\n"
		   "  verify: 'no'\n"
		   "clouds:\n"
		   "  merged:\n"
		   "    <<: *defaults\n"
		   "    auth_type: password\n"
		   "    username: top-level-user\n"
		   "    password: \"quoted: pw\"\n"
		   "    default_domain: dd\n"
		   "    regions:\n"
		   "      - name: First\n"
		   "      - Second\n"
		   "  token:\n"
		   "    auth_type: token\n"
		   "    auth: {auth_url: 'https://k', token: abc}\n"
		   "  notamap: 5\n");
	cfg_init(&c, "cloud", "merged", NULL);
	vs_error_clear(&err);
	assert_int_equal(osp_settings_resolve(&c.c, &f->env, &s, &err), VS_OK);
	assert_string_equal(s.auth_url, "https://anchored.example.com");
	assert_string_equal(s.interface, "internal");
	assert_int_equal(s.insecure, 1);
	assert_string_equal(s.username, "top-level-user");
	assert_string_equal(s.password, "quoted: pw");
	assert_string_equal(s.user_domain_id, "dd");
	assert_string_equal(s.project_domain_id, "dd");
	assert_string_equal(s.region, "First");
	osp_settings_release(&s);

	cfg_init(&c, "cloud", "token", NULL);
	vs_error_clear(&err);
	assert_int_equal(osp_settings_resolve(&c.c, &f->env, &s, &err), VS_ERR);
	assert_string_equal(err.message,
			    "osp-lab: auth_type 'token' is not supported (use "
			    "password or v3applicationcredential)");
	cfg_init(&c, "cloud", "notamap", NULL);
	vs_error_clear(&err);
	assert_int_equal(osp_settings_resolve(&c.c, &f->env, &s, &err), VS_ERR);
	assert_non_null(strstr(err.message, "cloud 'notamap' not found in"));
}

/* Each hostile file fails with one config line and no secret in it. */
static void test_hostile_yaml(void **state)
{
	struct fake *f = *state;
	static const char *const texts[] = {
		"clouds: [unclosed\n",
		"- a\n- b\n",
		"just a string\n",
		"clouds: 5\n",
		"clouds:\n  lab: &a [*a]\n",
		"clouds:\n  lab: {auth: {password: s3cret-hostile}\n",
		"\xff\xfe\x00\x01",
		/* A billion laughs: aliases expand past any sane size. */
		"a: &a [x, x, x, x, x, x, x, x, x, x]\n"
		"b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
		"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
		"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
		"e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
		"f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
		"clouds: {lab: {auth: {auth_url: 'https://k'}}}\n",
	};
	struct osp_settings s;
	struct vs_error err;
	struct cfg c;
	char name[32], *deep;
	size_t i, n = 1000;

	cfg_init(&c, "cloud", "lab", NULL);
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		snprintf(name, sizeof(name), "hostile-%zu.yaml", i);
		setenv_fake(f, "OS_CLIENT_CONFIG_FILE",
			    write_fake(f, name, texts[i]));
		vs_error_clear(&err);
		if (osp_settings_resolve(&c.c, &f->env, &s, &err) == VS_OK)
			fail_msg("hostile file %zu was accepted", i);
		assert_int_equal(err.cls, VS_EC_CONFIG);
		assert_null(strstr(err.message, "s3cret"));
		assert_null(strchr(err.message, '\n'));
	}

	/* Deep nesting stops at the depth limit. */
	deep = malloc(2 * n + 64);
	assert_non_null(deep);
	memcpy(deep, "clouds: ", 8);
	for (i = 0; i < n; i++)
		deep[8 + i] = '[';
	for (i = 0; i < n; i++)
		deep[8 + n + i] = ']';
	deep[8 + 2 * n] = '\0';
	setenv_fake(f, "OS_CLIENT_CONFIG_FILE",
		    write_fake(f, "deep.yaml", deep));
	free(deep);
	vs_error_clear(&err);
	assert_int_equal(osp_settings_resolve(&c.c, &f->env, &s, &err), VS_ERR);
	assert_int_equal(err.cls, VS_EC_CONFIG);
}

static void test_too_large(void **state)
{
	struct fake *f = *state;
	struct osp_settings s;
	struct vs_error err;
	struct cfg c;
	size_t n = 1024 * 1024 + 10;
	char *big = malloc(n + 1);

	assert_non_null(big);
	memset(big, '#', n);
	big[n] = '\0';
	setenv_fake(f, "OS_CLIENT_CONFIG_FILE", write_fake(f, "big.yaml", big));
	free(big);
	cfg_init(&c, "cloud", "lab", NULL);
	vs_error_clear(&err);
	assert_int_equal(osp_settings_resolve(&c.c, &f->env, &s, &err), VS_ERR);
	assert_non_null(strstr(err.message, "larger than 1 MiB"));
}

static void test_empty_and_unreadable(void **state)
{
	struct fake *f = *state;
	struct osp_settings s;
	struct vs_error err;
	struct cfg c;
	const char *p;

	cfg_init(&c, "cloud", "lab", NULL);
	setenv_fake(f, "OS_CLIENT_CONFIG_FILE",
		    write_fake(f, "empty.yaml", ""));
	vs_error_clear(&err);
	assert_int_equal(osp_settings_resolve(&c.c, &f->env, &s, &err), VS_ERR);
	assert_non_null(strstr(err.message, "cloud 'lab' not found in"));

	if (geteuid() == 0)
		return; /* root reads anything */
	p = write_cloud(f, "unreadable.yaml", "x");
	assert_int_equal(chmod(p, 0), 0);
	setenv_fake(f, "OS_CLIENT_CONFIG_FILE", p);
	vs_error_clear(&err);
	assert_int_equal(osp_settings_resolve(&c.c, &f->env, &s, &err), VS_ERR);
	assert_non_null(strstr(err.message, "permission denied"));
}

/* "'path' holds secrets (what) and is readable ... (mode m); chmod ..." */
static void expect_exposed(const char *msg, const char *path, const char *what,
			   const char *mode)
{
	char want[1200];

	snprintf(want, sizeof(want),
		 "'%s' holds secrets (%s) and is readable by group or others "
		 "(mode %s); chmod 600 it",
		 path, what, mode);
	assert_string_equal(msg, want);
}

/*
 * A clouds.yaml or secure.yaml that holds a secret and that group or
 * others can read: a warning for open to log, or with strict the error.
 * A private file, or a readable one without secrets, is fine.
 */
static void test_exposed_files(void **state)
{
	struct fake *f = *state;
	struct osp_settings s;
	struct vs_error err;
	struct cfg c;
	const char *clouds, *sec;
	char want[1200];

	clouds = write_cloud(f, "cwd/clouds.yaml", "cwd");
	assert_int_equal(chmod(clouds, 0644), 0);
	cfg_init(&c, "cloud", "lab", NULL);
	vs_error_clear(&err);
	assert_int_equal(osp_settings_resolve(&c.c, &f->env, &s, &err), VS_OK);
	assert_int_equal(s.n_exposed, 1);
	expect_exposed(s.exposed[0].message, clouds, "password", "0644");
	assert_null(strstr(s.exposed[0].message, "pw-cwd"));
	assert_true(s.exposed[0].ino != 0);
	osp_settings_release(&s);

	/* Strict: the same text is the error, and nothing is resolved. */
	c.c.strict = 1;
	vs_error_clear(&err);
	assert_int_equal(osp_settings_resolve(&c.c, &f->env, &s, &err), VS_ERR);
	assert_int_equal(err.cls, VS_EC_CONFIG);
	snprintf(want, sizeof(want),
		 TAG ": '%s' holds secrets (password) and is readable by "
		     "group or others (mode 0644); chmod 600 it",
		 clouds);
	assert_string_equal(err.message, want);
	assert_null(strstr(err.message, "pw-cwd"));
	assert_null(s.password);

	/* Group read alone counts. */
	assert_int_equal(chmod(clouds, 0640), 0);
	vs_error_clear(&err);
	assert_int_equal(osp_settings_resolve(&c.c, &f->env, &s, &err), VS_ERR);
	assert_non_null(strstr(err.message, "(mode 0640)"));

	/* Private: nothing to say, strict or not. */
	assert_int_equal(chmod(clouds, 0600), 0);
	vs_error_clear(&err);
	assert_int_equal(osp_settings_resolve(&c.c, &f->env, &s, &err), VS_OK);
	assert_int_equal(s.n_exposed, 0);
	osp_settings_release(&s);

	/*
	 * Secrets in a private secure.yaml: a world-readable clouds.yaml
	 * without any is fine.  Every kind found is named.
	 */
	clouds = write_fake(f, "cwd/clouds.yaml",
			    "clouds:\n"
			    "  lab:\n"
			    "    auth:\n"
			    "      auth_url: https://keystone.example.com\n"
			    "      username: cleaner\n"
			    "      project_id: p1\n");
	assert_int_equal(chmod(clouds, 0644), 0);
	sec = write_fake(f, "etc/secure.yaml",
			 "clouds:\n"
			 "  lab:\n"
			 "    auth:\n"
			 "      password: from-secure\n"
			 "  other:\n"
			 "    auth:\n"
			 "      application_credential_secret: ac-secret\n"
			 "  empty:\n"
			 "    auth:\n"
			 "      token: ''\n");
	assert_int_equal(chmod(sec, 0600), 0);
	vs_error_clear(&err);
	assert_int_equal(osp_settings_resolve(&c.c, &f->env, &s, &err), VS_OK);
	assert_int_equal(s.n_exposed, 0);
	assert_string_equal(s.password, "from-secure");
	osp_settings_release(&s);

	assert_int_equal(chmod(sec, 0604), 0);
	vs_error_clear(&err);
	assert_int_equal(osp_settings_resolve(&c.c, &f->env, &s, &err), VS_ERR);
	assert_non_null(strstr(err.message, sec));
	assert_non_null(strstr(err.message, "(password, "
					    "application_credential_secret)"));
	assert_null(strstr(err.message, "from-secure"));
	assert_null(strstr(err.message, "ac-secret"));

	c.c.strict = 0;
	vs_error_clear(&err);
	assert_int_equal(osp_settings_resolve(&c.c, &f->env, &s, &err), VS_OK);
	assert_int_equal(s.n_exposed, 1);
	expect_exposed(s.exposed[0].message, sec,
		       "password, application_credential_secret", "0604");
	osp_settings_release(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sample_password_cloud,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_sample_appcred_cloud,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_cloud, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_search_order, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_search_order_resolves,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_secure_merge, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_os_env_fallback, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_precedence_with_cloud,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_auth_url, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_validation, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cloud_details, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_hostile_yaml, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_too_large, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_empty_and_unreadable,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_exposed_files, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
