/*
 * osp_clouds.c - where an OpenStack instance gets its settings.
 *
 * Three layers, field by field, the first that has a value wins:
 *
 *   1. the provider's own keys (and the common url, username, password,
 *      ca_file, insecure of the vmsweep configuration);
 *   2. the clouds.yaml cloud named by the "cloud" key, or by OS_CLOUD when
 *      the configuration names no cloud and gives no credential key;
 *   3. the OS_* environment, only when no cloud is in play: a shell that
 *      sourced some other cloud's openrc must not leak a project or a
 *      password into a cloud chosen by name.
 *
 * clouds.yaml is found the way openstacksdk finds it (the first file
 * found wins; OS_CLIENT_CONFIG_FILE goes first) and secure.yaml is merged
 * over it.  YAML is turned into a jansson tree so that clouds.json and
 * clouds.yaml share one reader.  Scalars stay strings; booleans are read
 * where a boolean is expected.
 */
#include "osp_internal.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <yaml.h>

/* A clouds.yaml larger than this is not a clouds.yaml. */
#define OSP_CLOUDS_MAX_BYTES (1024 * 1024)
/* Guards against alias bombs and alias cycles. */
#define OSP_YAML_MAX_NODES 100000
#define OSP_YAML_MAX_DEPTH 64

static const char *const osp_file_names[] = {"clouds.yaml", "clouds.yml",
					     "clouds.json"};
static const char *const osp_secure_names[] = {"secure.yaml", "secure.yml",
					       "secure.json"};

/* ------------------------------------------------------------------ */
/* The environment.                                                     */

static const char *osp_real_getenv(void *ctx, const char *name)
{
	(void)ctx;
	return getenv(name);
}

void osp_env_default(struct osp_env *env)
{
	env->get = osp_real_getenv;
	env->ctx = NULL;
	env->cwd_dir = ".";
	env->etc_dir = "/etc/openstack";
}

/* An environment value, NULL when unset or empty. */
static const char *osp_getenv(const struct osp_env *env, const char *name)
{
	const char *v = env->get(env->ctx, name);

	return v && *v ? v : NULL;
}

static int osp_is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* dir/name when it is a file, else NULL. */
static char *osp_try(const char *dir, const char *sub, const char *name)
{
	struct vs_buf b;

	vs_buf_init(&b, 8192);
	if (vs_buf_addf(&b, "%s%s/%s", dir, sub, name)) {
		vs_buf_release(&b);
		return NULL;
	}
	if (!osp_is_file(b.s)) {
		vs_buf_release(&b);
		return NULL;
	}
	return vs_buf_detach(&b, NULL);
}

char *osp_clouds_find(const struct osp_env *env, int secure)
{
	const char *const *names = secure ? osp_secure_names : osp_file_names;
	const char *first = osp_getenv(env, secure ? "OS_CLIENT_SECURE_FILE"
						   : "OS_CLIENT_CONFIG_FILE");
	const char *xdg = osp_getenv(env, "XDG_CONFIG_HOME");
	const char *home = osp_getenv(env, "HOME");
	struct {
		const char *dir, *sub;
	} dirs[4];
	size_t nd = 0, i, j;
	char *found;

	if (first && osp_is_file(first))
		return strdup(first);
	dirs[nd].dir = env->cwd_dir;
	dirs[nd++].sub = "";
	if (xdg) {
		dirs[nd].dir = xdg;
		dirs[nd++].sub = "/openstack";
	}
	if (home) {
		dirs[nd].dir = home;
		dirs[nd++].sub = "/.config/openstack";
	}
	dirs[nd].dir = env->etc_dir;
	dirs[nd++].sub = "";
	for (i = 0; i < nd; i++)
		for (j = 0; j < 3; j++)
			if ((found = osp_try(dirs[i].dir, dirs[i].sub,
					     names[j])) != NULL)
				return found;
	return NULL;
}

/* ------------------------------------------------------------------ */
/* YAML to jansson.                                                     */

struct osp_yaml {
	yaml_document_t *doc;
	size_t nodes;
};

static json_t *osp_yaml_node(struct osp_yaml *y, int index, int depth);

static json_t *osp_yaml_scalar(const yaml_node_t *n)
{
	const char *v = (const char *)n->data.scalar.value;
	size_t len = n->data.scalar.length;

	if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    (len == 0 || strcmp(v, "~") == 0 || strcasecmp(v, "null") == 0))
		return json_null();
	return json_stringn(v, len);
}

/* Copy the keys of src that dst lacks (a YAML "<<" merge). */
static int osp_merge_missing(json_t *dst, json_t *src)
{
	const char *k;
	json_t *v;

	if (!json_is_object(src))
		return -1;
	json_object_foreach(src, k, v)
	{
		if (!json_object_get(dst, k) && json_object_set(dst, k, v) != 0)
			return -1;
	}
	return 0;
}

static json_t *osp_yaml_mapping(struct osp_yaml *y, yaml_node_t *n, int depth)
{
	json_t *obj = json_object(), *merges = json_array();
	yaml_node_pair_t *p;
	size_t i;

	if (!obj || !merges)
		goto fail;
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(y->doc, p->key);
		json_t *v;

		if (!k || k->type != YAML_SCALAR_NODE)
			goto fail;
		v = osp_yaml_node(y, p->value, depth + 1);
		if (!v)
			goto fail;
		if (strcmp((const char *)k->data.scalar.value, "<<") == 0 &&
		    k->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
			if (json_array_append_new(merges, v))
				goto fail;
			continue;
		}
		if (json_object_set_new(obj, (const char *)k->data.scalar.value,
					v))
			goto fail;
	}
	/* Explicit keys win over merged ones. */
	for (i = 0; i < json_array_size(merges); i++) {
		json_t *m = json_array_get(merges, i), *e;
		size_t j;

		if (json_is_array(m)) {
			json_array_foreach(m, j, e)
			{
				if (osp_merge_missing(obj, e))
					goto fail;
			}
		} else if (osp_merge_missing(obj, m)) {
			goto fail;
		}
	}
	json_decref(merges);
	return obj;
fail:
	json_decref(obj);
	json_decref(merges);
	return NULL;
}

static json_t *osp_yaml_node(struct osp_yaml *y, int index, int depth)
{
	yaml_node_t *n = yaml_document_get_node(y->doc, index);
	yaml_node_item_t *it;
	json_t *arr;

	/* Aliases share nodes: count what we build, not what was written. */
	if (!n || depth > OSP_YAML_MAX_DEPTH || ++y->nodes > OSP_YAML_MAX_NODES)
		return NULL;
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return osp_yaml_scalar(n);
	case YAML_MAPPING_NODE:
		return osp_yaml_mapping(y, n, depth);
	case YAML_SEQUENCE_NODE:
		arr = json_array();
		if (!arr)
			return NULL;
		for (it = n->data.sequence.items.start;
		     it < n->data.sequence.items.top; it++) {
			json_t *v = osp_yaml_node(y, *it, depth + 1);
			if (!v || json_array_append_new(arr, v)) {
				json_decref(arr);
				return NULL;
			}
		}
		return arr;
	default:
		return NULL;
	}
}

/*
 * Parse a YAML (or JSON) text into a tree.  NULL with why filled on
 * failure.
 */
static json_t *osp_yaml_load(const char *text, size_t len, char *why,
			     size_t whysz)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	struct osp_yaml y = {&doc, 0};
	json_t *root = NULL;

	if (!yaml_parser_initialize(&parser)) {
		snprintf(why, whysz, "out of memory");
		return NULL;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(why, whysz, "line %zu: %s",
			 parser.problem_mark.line + 1,
			 parser.problem ? parser.problem : "invalid YAML");
		yaml_parser_delete(&parser);
		return NULL;
	}
	if (!yaml_document_get_root_node(&doc)) {
		root = json_object(); /* an empty file */
	} else {
		root = osp_yaml_node(&y, 1, 0);
		if (!root)
			snprintf(why, whysz,
				 "too deep, too large or not plain data");
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return root;
}

/*
 * Read and parse one clouds/secure file; *st is what fstat said of the
 * file read (not of whatever the path names a moment later).
 */
static json_t *osp_file_load(const char *tag, const char *path, struct stat *st,
			     struct vs_error *err)
{
	FILE *f = fopen(path, "rb");
	char *text = NULL, why[200];
	json_t *root = NULL;
	size_t len;
	int e;

	if (!f) {
		e = errno;
		vs_error_set(err, VS_EC_CONFIG, 0, 0, "%s: cannot read %s: %s",
			     tag, path,
			     e == EACCES   ? "permission denied"
			     : e == ENOENT ? "no such file"
					   : "open failed");
		goto out;
	}
	if (fstat(fileno(f), st) != 0) {
		vs_error_set(err, VS_EC_CONFIG, 0, 0, "%s: cannot stat %s", tag,
			     path);
		goto out;
	}
	text = malloc(OSP_CLOUDS_MAX_BYTES + 1);
	if (!text) {
		vs_error_set(err, VS_EC_INTERNAL, 0, 0, "%s: out of memory",
			     tag);
		goto out;
	}
	len = fread(text, 1, OSP_CLOUDS_MAX_BYTES + 1, f);
	if (ferror(f) || len > OSP_CLOUDS_MAX_BYTES) {
		vs_error_set(err, VS_EC_CONFIG, 0, 0, "%s: %s: %s", tag, path,
			     ferror(f) ? "read error" : "larger than 1 MiB");
		goto out;
	}
	text[len] = '\0';
	root = osp_yaml_load(text, len, why, sizeof(why));
	if (!root) {
		vs_error_set(err, VS_EC_CONFIG, 0, 0, "%s: %s: %s", tag, path,
			     why);
		goto out;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		root = NULL;
		vs_error_set(err, VS_EC_CONFIG, 0, 0,
			     "%s: %s: not a mapping at the top", tag, path);
	}
out:
	if (text)
		memset(text, 0, OSP_CLOUDS_MAX_BYTES + 1); /* passwords */
	free(text);
	if (f)
		fclose(f);
	return root;
}

/* ------------------------------------------------------------------ */
/* Files holding secrets that others can read.                         */

/*
 * The keys whose value is a secret in clouds.yaml, in the order they are
 * named in a message: what keystoneauth's password, application
 * credential, token, TOTP and OpenID Connect plugins take.
 */
static const char *const osp_secret_keys[] = {
	"password",	 "application_credential_secret",
	"token",	 "passcode",
	"client_secret", "access_token",
	"access_secret",
};
#define OSP_N_SECRET_KEYS (sizeof(osp_secret_keys) / sizeof(osp_secret_keys[0]))

/* Set bit i of *found for each osp_secret_keys[i] holding a value in v. */
static void osp_find_secrets(const json_t *v, int depth, unsigned int *found)
{
	const char *k;
	json_t *x;
	size_t i;

	if (depth > OSP_YAML_MAX_DEPTH)
		return;
	if (json_is_array(v)) {
		json_array_foreach(v, i, x)
		{
			osp_find_secrets(x, depth + 1, found);
		}
		return;
	}
	json_object_foreach((json_t *)v, k, x)
	{
		for (i = 0; i < OSP_N_SECRET_KEYS; i++)
			if (strcmp(k, osp_secret_keys[i]) == 0 &&
			    json_is_string(x) && *json_string_value(x))
				*found |= 1u << i;
		osp_find_secrets(x, depth + 1, found);
	}
}

/*
 * Check a file just read (path, its stat st, its tree root): a file that
 * holds a secret and that group or others can read is an error when
 * strict, else a warning added to out->exposed.  Any S_IRGRP or S_IROTH
 * bit counts, whatever the group: the rule is the one the core applies
 * to password_file.  Only key names reach the message, never a value.
 */
static int osp_check_exposed(const char *tag, const char *path,
			     const struct stat *st, const json_t *root,
			     int strict, struct osp_settings *out,
			     struct vs_error *err)
{
	struct osp_exposed *x;
	unsigned int found = 0;
	struct vs_buf b;
	size_t i;

	if (!(st->st_mode & (S_IRGRP | S_IROTH)))
		return VS_OK;
	osp_find_secrets(root, 0, &found);
	if (!found)
		return VS_OK;
	vs_buf_init(&b, 8192);
	if (vs_buf_addf(&b, "'%s' holds secrets (", path))
		goto nomem;
	for (i = 0; i < OSP_N_SECRET_KEYS; i++)
		if ((found & (1u << i)) &&
		    vs_buf_addf(&b, "%s%s", b.s[b.len - 1] == '(' ? "" : ", ",
				osp_secret_keys[i]))
			goto nomem;
	if (vs_buf_addf(&b,
			") and is readable by group or others (mode %04o); "
			"chmod 600 it",
			(unsigned int)(st->st_mode & 07777)))
		goto nomem;
	if (strict) {
		vs_error_set(err, VS_EC_CONFIG, 0, 0, "%s: %s", tag, b.s);
		vs_buf_release(&b);
		return VS_ERR;
	}
	/* Two files at most (clouds, secure), and each is checked once. */
	if (out->n_exposed >= sizeof(out->exposed) / sizeof(out->exposed[0])) {
		vs_buf_release(&b);
		return VS_OK;
	}
	x = &out->exposed[out->n_exposed++];
	x->dev = (unsigned long long)st->st_dev;
	x->ino = (unsigned long long)st->st_ino;
	x->message = vs_buf_detach(&b, NULL);
	if (!x->message)
		goto nomem;
	return VS_OK;
nomem:
	vs_buf_release(&b);
	return vs_error_set(err, VS_EC_INTERNAL, 0, 0, "%s: out of memory",
			    tag);
}

/* Merge src over dst, objects recursively (secure.yaml over clouds.yaml). */
static int osp_merge_over(json_t *dst, json_t *src, int depth)
{
	const char *k;
	json_t *v;

	if (depth > OSP_YAML_MAX_DEPTH)
		return -1;
	json_object_foreach(src, k, v)
	{
		json_t *d = json_object_get(dst, k);

		if (json_is_object(d) && json_is_object(v)) {
			/* d may be shared through a YAML "<<": copy first. */
			json_t *copy = json_deep_copy(d);
			if (!copy || osp_merge_over(copy, v, depth + 1) ||
			    json_object_set_new(dst, k, copy)) {
				json_decref(copy);
				return -1;
			}
		} else if (json_object_set(dst, k, v)) {
			return -1;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* The layers.                                                          */

enum osp_field {
	F_AUTH_URL,
	F_USERNAME,
	F_USER_ID,
	F_PASSWORD,
	F_USER_DOMAIN_NAME,
	F_USER_DOMAIN_ID,
	F_PROJECT_NAME,
	F_PROJECT_ID,
	F_PROJECT_DOMAIN_NAME,
	F_PROJECT_DOMAIN_ID,
	F_APPCRED_ID,
	F_APPCRED_NAME,
	F_APPCRED_SECRET,
	F_REGION,
	F_INTERFACE,
	F_CACERT,
	F_AUTH_TYPE,
	F_DEFAULT_DOMAIN,
	F_COUNT
};

/*
 * How each field is spelled: as a provider key (NULL: a common key or
 * none), in clouds.yaml (auth: or top level), and in the environment
 * (with a legacy alias).
 */
static const struct {
	const char *key;
	const char *cloud;
	int in_auth;
	const char *env, *env_alias;
} osp_fields[F_COUNT] = {
	[F_AUTH_URL] = {"auth_url", "auth_url", 1, "OS_AUTH_URL", NULL},
	[F_USERNAME] = {NULL, "username", 1, "OS_USERNAME", NULL},
	[F_USER_ID] = {"user_id", "user_id", 1, "OS_USER_ID", NULL},
	[F_PASSWORD] = {NULL, "password", 1, "OS_PASSWORD", NULL},
	[F_USER_DOMAIN_NAME] = {"user_domain_name", "user_domain_name", 1,
				"OS_USER_DOMAIN_NAME", NULL},
	[F_USER_DOMAIN_ID] = {"user_domain_id", "user_domain_id", 1,
			      "OS_USER_DOMAIN_ID", NULL},
	[F_PROJECT_NAME] = {"project_name", "project_name", 1,
			    "OS_PROJECT_NAME", "OS_TENANT_NAME"},
	[F_PROJECT_ID] = {"project_id", "project_id", 1, "OS_PROJECT_ID",
			  "OS_TENANT_ID"},
	[F_PROJECT_DOMAIN_NAME] = {"project_domain_name", "project_domain_name",
				   1, "OS_PROJECT_DOMAIN_NAME", NULL},
	[F_PROJECT_DOMAIN_ID] = {"project_domain_id", "project_domain_id", 1,
				 "OS_PROJECT_DOMAIN_ID", NULL},
	[F_APPCRED_ID] = {"application_credential_id",
			  "application_credential_id", 1,
			  "OS_APPLICATION_CREDENTIAL_ID", NULL},
	[F_APPCRED_NAME] = {"application_credential_name",
			    "application_credential_name", 1,
			    "OS_APPLICATION_CREDENTIAL_NAME", NULL},
	[F_APPCRED_SECRET] = {"application_credential_secret",
			      "application_credential_secret", 1,
			      "OS_APPLICATION_CREDENTIAL_SECRET", NULL},
	[F_REGION] = {"region", "region_name", 0, "OS_REGION_NAME", NULL},
	[F_INTERFACE] = {"interface", "interface", 0, "OS_INTERFACE",
			 "OS_ENDPOINT_TYPE"},
	[F_CACERT] = {NULL, "cacert", 0, "OS_CACERT", NULL},
	[F_AUTH_TYPE] = {NULL, "auth_type", 0, "OS_AUTH_TYPE", NULL},
	[F_DEFAULT_DOMAIN] = {NULL, "default_domain", 1, "OS_DEFAULT_DOMAIN",
			      NULL},
};

/* A value of a cloud: a string, or NULL. */
static const char *osp_cloud_str(const json_t *cloud, enum osp_field f)
{
	const json_t *auth = json_object_get(cloud, "auth");
	const json_t *v = NULL;

	if (osp_fields[f].in_auth)
		v = json_object_get(auth, osp_fields[f].cloud);
	/* openstacksdk also accepts auth keys beside "auth". */
	if (!json_is_string(v))
		v = json_object_get(cloud, osp_fields[f].cloud);
	if (!json_is_string(v) || !*json_string_value(v))
		return NULL;
	return json_string_value(v);
}

/* 1 true, 0 false, -1 absent or unreadable. */
static int osp_bool(const json_t *v)
{
	const char *s;

	if (json_is_boolean(v))
		return json_is_true(v);
	if (!json_is_string(v))
		return -1;
	s = json_string_value(v);
	if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") ||
	    !strcasecmp(s, "on") || !strcmp(s, "1"))
		return 1;
	if (!strcasecmp(s, "false") || !strcasecmp(s, "no") ||
	    !strcasecmp(s, "off") || !strcmp(s, "0"))
		return 0;
	return -1;
}

/* The explicit layer: provider keys plus the common ones. */
static void osp_explicit(const struct vs_provider_config *cfg, const char **v)
{
	const char *s;
	int f;

	for (f = 0; f < F_COUNT; f++) {
		if (!osp_fields[f].key)
			continue;
		s = vs_provider_config_get(cfg, osp_fields[f].key);
		v[f] = s && *s ? s : NULL;
	}
	if (!v[F_AUTH_URL] && cfg->url && *cfg->url)
		v[F_AUTH_URL] = cfg->url;
	if (cfg->username && *cfg->username)
		v[F_USERNAME] = cfg->username;
	if (cfg->password && *cfg->password)
		v[F_PASSWORD] = cfg->password;
	if (cfg->ca_file && *cfg->ca_file)
		v[F_CACERT] = cfg->ca_file;
}

static int osp_has_credential_key(const char **v)
{
	return v[F_AUTH_URL] || v[F_USERNAME] || v[F_USER_ID] ||
	       v[F_PASSWORD] || v[F_APPCRED_ID] || v[F_APPCRED_NAME] ||
	       v[F_APPCRED_SECRET];
}

/* "public", "publicURL", "PUBLIC" -> "public"; NULL when unknown. */
static const char *osp_interface(const char *s)
{
	static const char *const known[] = {"public", "internal", "admin"};
	size_t i, n;

	if (!s)
		return "public";
	n = strlen(s);
	if (n > 3 && strcasecmp(s + n - 3, "URL") == 0)
		n -= 3;
	for (i = 0; i < 3; i++)
		if (strlen(known[i]) == n && strncasecmp(s, known[i], n) == 0)
			return known[i];
	return NULL;
}

/* Strict decimal in [lo, hi]. */
static int osp_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* "2.N" with N >= 26 (tags) and N < 1000. */
static int osp_microversion_ok(const char *s)
{
	long minor;

	if (strncmp(s, "2.", 2) != 0 || osp_long(s + 2, 0, 999, &minor))
		return 0;
	return minor >= OSP_MIN_MICROVERSION_MINOR;
}

static int osp_method(const char *tag, const char *auth_type,
		      enum osp_auth_method *m, struct vs_error *err)
{
	if (!auth_type)
		return 1; /* infer */
	if (!strcmp(auth_type, "password") ||
	    !strcmp(auth_type, "v3password")) {
		*m = OSP_AUTH_PASSWORD;
		return 0;
	}
	if (!strcmp(auth_type, "v3applicationcredential") ||
	    !strcmp(auth_type, "applicationcredential") ||
	    !strcmp(auth_type, "application_credential")) {
		*m = OSP_AUTH_APPCRED;
		return 0;
	}
	return vs_error_set(err, VS_EC_CONFIG, 0, 0,
			    "%s: auth_type '%.64s' is not supported (use "
			    "password or v3applicationcredential)",
			    tag, auth_type);
}

void osp_settings_release(struct osp_settings *s)
{
	size_t i;

	if (!s)
		return;
	free(s->auth_url);
	free(s->username);
	free(s->user_id);
	pv_free_secret(s->password);
	free(s->user_domain_name);
	free(s->user_domain_id);
	free(s->project_name);
	free(s->project_id);
	free(s->project_domain_name);
	free(s->project_domain_id);
	free(s->appcred_id);
	free(s->appcred_name);
	pv_free_secret(s->appcred_secret);
	free(s->region);
	free(s->interface);
	free(s->ca_file);
	free(s->microversion);
	free(s->source);
	for (i = 0; i < s->n_exposed; i++)
		free(s->exposed[i].message);
	memset(s, 0, sizeof(*s));
}

/*
 * Load the cloud called name into *cloud (a new reference), checking
 * each file read as osp_check_exposed() does.
 */
static int osp_load_cloud(const char *tag, const struct osp_env *env,
			  const char *name, int strict, json_t **root_out,
			  const json_t **cloud, char **path_out,
			  struct osp_settings *out, struct vs_error *err)
{
	char *path = NULL, *spath = NULL;
	json_t *root = NULL, *sec = NULL;
	const json_t *c;
	struct stat st;
	int rc = VS_ERR;

	path = osp_clouds_find(env, 0);
	if (!path) {
		vs_error_set(err, VS_EC_CONFIG, 0, 0,
			     "%s: cloud '%.64s' not found: no clouds.yaml in "
			     "OS_CLIENT_CONFIG_FILE, ./, ~/.config/openstack/ "
			     "or /etc/openstack/",
			     tag, name);
		goto out;
	}
	root = osp_file_load(tag, path, &st, err);
	if (!root || osp_check_exposed(tag, path, &st, root, strict, out, err))
		goto out;
	spath = osp_clouds_find(env, 1);
	if (spath) {
		sec = osp_file_load(tag, spath, &st, err);
		if (!sec ||
		    osp_check_exposed(tag, spath, &st, sec, strict, out, err))
			goto out;
		if (osp_merge_over(root, sec, 0)) {
			vs_error_set(err, VS_EC_CONFIG, 0, 0,
				     "%s: cannot merge %s over %s", tag, spath,
				     path);
			goto out;
		}
	}
	c = json_object_get(json_object_get(root, "clouds"), name);
	if (!json_is_object(c)) {
		vs_error_set(err, VS_EC_CONFIG, 0, 0,
			     "%s: cloud '%.64s' not found in %s", tag, name,
			     path);
		goto out;
	}
	*cloud = c;
	*root_out = root;
	*path_out = path;
	root = NULL;
	path = NULL;
	rc = VS_OK;
out:
	json_decref(root);
	json_decref(sec);
	free(path);
	free(spath);
	return rc;
}

int osp_settings_resolve(const struct vs_provider_config *cfg,
			 const struct osp_env *env, struct osp_settings *out,
			 struct vs_error *err)
{
	const char *tag = cfg->name ? cfg->name : "osp";
	const char *ex[F_COUNT] = {0}, *cl[F_COUNT] = {0}, *en[F_COUNT] = {0};
	const char *v[F_COUNT] = {0};
	const char *cloud_name, *s, *iface;
	const json_t *cloud = NULL;
	json_t *root = NULL;
	char *path = NULL;
	int f, from_ex = 0, from_cl = 0, from_en = 0, r, verify = -1;
	enum osp_auth_method method = OSP_AUTH_PASSWORD;
	struct vs_buf src;
	int rc = VS_ERR;

	memset(out, 0, sizeof(*out));
	vs_buf_init(&src, 4096);
	osp_explicit(cfg, ex);
	cloud_name = vs_provider_config_get(cfg, "cloud");
	if (cloud_name && !*cloud_name)
		cloud_name = NULL;
	if (!cloud_name && !osp_has_credential_key(ex))
		cloud_name = osp_getenv(env, "OS_CLOUD");

	if (cloud_name) {
		if (osp_load_cloud(tag, env, cloud_name, cfg->strict, &root,
				   &cloud, &path, out, err))
			goto out;
		for (f = 0; f < F_COUNT; f++)
			cl[f] = osp_cloud_str(cloud, f);
		if (!cl[F_REGION]) {
			/* "regions": the first one, a name or {name: ...}. */
			const json_t *r0 = json_array_get(
				json_object_get(cloud, "regions"), 0);
			if (json_is_object(r0))
				r0 = json_object_get(r0, "name");
			if (json_is_string(r0) && *json_string_value(r0))
				cl[F_REGION] = json_string_value(r0);
		}
		verify = osp_bool(json_object_get(cloud, "verify"));
		if (verify < 0) {
			r = osp_bool(json_object_get(cloud, "insecure"));
			verify = r < 0 ? -1 : !r;
		}
	} else {
		for (f = 0; f < F_COUNT; f++) {
			en[f] = osp_getenv(env, osp_fields[f].env);
			if (!en[f] && osp_fields[f].env_alias)
				en[f] = osp_getenv(env,
						   osp_fields[f].env_alias);
		}
	}
	for (f = 0; f < F_COUNT; f++) {
		if (ex[f]) {
			v[f] = ex[f];
			from_ex = 1;
		} else if (cl[f]) {
			v[f] = cl[f];
			from_cl = 1;
		} else if (en[f]) {
			v[f] = en[f];
			from_en = 1;
		}
	}
	/* clouds.yaml "default_domain" fills whichever domain is unset. */
	if (v[F_DEFAULT_DOMAIN]) {
		if (!v[F_USER_DOMAIN_ID] && !v[F_USER_DOMAIN_NAME])
			v[F_USER_DOMAIN_ID] = v[F_DEFAULT_DOMAIN];
		if (!v[F_PROJECT_DOMAIN_ID] && !v[F_PROJECT_DOMAIN_NAME])
			v[F_PROJECT_DOMAIN_ID] = v[F_DEFAULT_DOMAIN];
	}

	if (!v[F_AUTH_URL]) {
		vs_error_set(err, VS_EC_CONFIG, 0, 0,
			     "%s: no auth_url (set auth_url, cloud or "
			     "OS_AUTH_URL)",
			     tag);
		goto out;
	}
	if (strncmp(v[F_AUTH_URL], "http://", 7) != 0 &&
	    strncmp(v[F_AUTH_URL], "https://", 8) != 0) {
		vs_error_set(err, VS_EC_CONFIG, 0, 0,
			     "%s: auth_url '%.120s' is not an http(s) URL", tag,
			     v[F_AUTH_URL]);
		goto out;
	}

	/* The method: explicit keys first, then auth_type, then inference. */
	if (ex[F_APPCRED_ID] || ex[F_APPCRED_NAME])
		method = OSP_AUTH_APPCRED;
	else if (ex[F_USERNAME] || ex[F_USER_ID] || ex[F_PASSWORD])
		method = OSP_AUTH_PASSWORD;
	else if ((r = osp_method(tag, v[F_AUTH_TYPE], &method, err)) < 0)
		goto out;
	else if (r > 0)
		method = (v[F_APPCRED_ID] || v[F_APPCRED_NAME])
				 ? OSP_AUTH_APPCRED
				 : OSP_AUTH_PASSWORD;
	out->method = method;

	iface = osp_interface(v[F_INTERFACE]);
	if (!iface) {
		vs_error_set(err, VS_EC_CONFIG, 0, 0,
			     "%s: interface '%.32s' is not public, internal or "
			     "admin",
			     tag, v[F_INTERFACE]);
		goto out;
	}

	out->page_size = OSP_DEFAULT_PAGE_SIZE;
	s = vs_provider_config_get(cfg, "page_size");
	if (s && osp_long(s, 1, OSP_MAX_PAGE_SIZE, &out->page_size)) {
		vs_error_set(err, VS_EC_CONFIG, 0, 0,
			     "%s: page_size '%.32s' is not a number from 1 to "
			     "%d",
			     tag, s, OSP_MAX_PAGE_SIZE);
		goto out;
	}
	s = vs_provider_config_get(cfg, "microversion");
	if (!s || !*s)
		s = OSP_DEFAULT_MICROVERSION;
	if (!osp_microversion_ok(s)) {
		vs_error_set(err, VS_EC_CONFIG, 0, 0,
			     "%s: microversion '%.32s' must be 2.%d or later "
			     "(server tags need it)",
			     tag, s, OSP_MIN_MICROVERSION_MINOR);
		goto out;
	}

	/*
	 * TLS: an explicit ca_file means the operator wants verification, so
	 * it outranks clouds.yaml "verify: false".
	 */
	out->insecure = cfg->insecure ? 1 : 0;
	if (!out->insecure && !ex[F_CACERT] && verify == 0) {
		out->insecure = 1;
		out->insecure_from_clouds = 1;
	}

	if (from_cl &&
	    vs_buf_addf(&src, "%s (cloud '%.64s')", path, cloud_name))
		goto nomem;
	if (from_ex && vs_buf_addf(&src, "%sthe provider configuration",
				   src.len ? " and " : ""))
		goto nomem;
	if (from_en &&
	    vs_buf_addf(&src, "%sthe OS_* environment", src.len ? " and " : ""))
		goto nomem;

	if ((v[F_AUTH_URL] && !(out->auth_url = strdup(v[F_AUTH_URL]))) ||
	    (v[F_USERNAME] && !(out->username = strdup(v[F_USERNAME]))) ||
	    (v[F_USER_ID] && !(out->user_id = strdup(v[F_USER_ID]))) ||
	    (v[F_PASSWORD] && !(out->password = strdup(v[F_PASSWORD]))) ||
	    (v[F_USER_DOMAIN_NAME] &&
	     !(out->user_domain_name = strdup(v[F_USER_DOMAIN_NAME]))) ||
	    (v[F_USER_DOMAIN_ID] &&
	     !(out->user_domain_id = strdup(v[F_USER_DOMAIN_ID]))) ||
	    (v[F_PROJECT_NAME] &&
	     !(out->project_name = strdup(v[F_PROJECT_NAME]))) ||
	    (v[F_PROJECT_ID] && !(out->project_id = strdup(v[F_PROJECT_ID]))) ||
	    (v[F_PROJECT_DOMAIN_NAME] &&
	     !(out->project_domain_name = strdup(v[F_PROJECT_DOMAIN_NAME]))) ||
	    (v[F_PROJECT_DOMAIN_ID] &&
	     !(out->project_domain_id = strdup(v[F_PROJECT_DOMAIN_ID]))) ||
	    (v[F_APPCRED_ID] && !(out->appcred_id = strdup(v[F_APPCRED_ID]))) ||
	    (v[F_APPCRED_NAME] &&
	     !(out->appcred_name = strdup(v[F_APPCRED_NAME]))) ||
	    (v[F_APPCRED_SECRET] &&
	     !(out->appcred_secret = strdup(v[F_APPCRED_SECRET]))) ||
	    (v[F_REGION] && !(out->region = strdup(v[F_REGION]))) ||
	    !(out->interface = strdup(iface)) ||
	    (v[F_CACERT] && !out->insecure &&
	     !(out->ca_file = strdup(v[F_CACERT]))) ||
	    !(out->microversion = strdup(s)) ||
	    !(out->source = strdup(src.len ? src.s : "defaults")))
		goto nomem;
	rc = VS_OK;
	goto out;
nomem:
	vs_error_set(err, VS_EC_INTERNAL, 0, 0,
		     "%s: out of memory reading the settings", tag);
out:
	if (rc)
		osp_settings_release(out);
	vs_buf_release(&src);
	json_decref(root);
	free(path);
	return rc;
}
