/*
 * fuzz_osp_clouds.c - the clouds.yaml loader: the input is the
 * clouds.yaml that OS_CLIENT_CONFIG_FILE names, resolved for cloud "ci"
 * (the sample's) and again through OS_CLOUD, in a fake environment.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "osp/osp_internal.h"

struct fenv {
	const char *clouds;
	const char *cloud;
};

static const char *fenv_get(void *ctx, const char *name)
{
	struct fenv *f = ctx;

	if (strcmp(name, "OS_CLIENT_CONFIG_FILE") == 0)
		return f->clouds;
	if (strcmp(name, "OS_CLIENT_SECURE_FILE") == 0)
		return "/nonexistent/secure.yaml";
	if (strcmp(name, "OS_CLOUD") == 0)
		return f->cloud;
	if (strcmp(name, "HOME") == 0 || strcmp(name, "XDG_CONFIG_HOME") == 0)
		return "/nonexistent";
	return NULL;
}

static void resolve(struct osp_env *env, const struct vs_kv *kv, size_t n)
{
	struct vs_provider_config c;
	struct osp_settings s;
	struct vs_error err;

	memset(&c, 0, sizeof(c));
	c.name = "fuzz";
	c.type = "osp";
	c.extra = kv;
	c.n_extra = n;
	memset(&s, 0, sizeof(s));
	vs_error_clear(&err);
	if (osp_settings_resolve(&c, env, &s, &err) == VS_OK)
		osp_settings_release(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[256];
	struct fenv f = {NULL, NULL};
	struct osp_env env;
	struct vs_kv cloud[] = {{(char *)"cloud", (char *)"ci"}};
	struct vs_kv region[] = {{(char *)"region", (char *)"RegionOne"}};

	if (fuzz_tmpfile(data, size, path, sizeof(path)) != 0)
		return 0;
	f.clouds = path;
	env.get = fenv_get;
	env.ctx = &f;
	env.cwd_dir = "/nonexistent";
	env.etc_dir = "/nonexistent";
	resolve(&env, cloud, 1);
	f.cloud = "lab";
	resolve(&env, region, 1);
	unlink(path);
	return 0;
}
