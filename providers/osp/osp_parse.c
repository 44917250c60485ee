/*
 * osp_parse.c - the pure JSON and URL work of the OpenStack provider.
 *
 * Nothing here does I/O or keeps state, so the unit tests feed it real
 * Keystone and Nova samples and hostile bodies directly.
 *
 * What a malformed server entry costs is decided per field, always in the
 * direction of keeping a VM rather than deleting it:
 *   - the page itself (not JSON, not an object, no "servers" array, a
 *     non-string next href) fails the whole listing: a silently shortened
 *     inventory would skew the percentage gate;
 *   - an entry without a usable id or name, or whose tags or metadata have
 *     the wrong type (they may hold a protection marker we cannot read), is
 *     left out of the inventory, so it is never deleted, and counted;
 *   - "created" missing or unparsable gives an unknown age (never selected
 *     by an age rule); "status", "task_state", "description" of the wrong
 *     type read as absent;
 *   - "locked" other than false/null/absent protects the VM;
 *   - metadata values that are not strings are kept as compact JSON text
 *     ("true", "5", "null") so that a marker key is never lost.
 */
#include "osp_internal.h"

#include "common/pv_json.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Bodies are capped by the HTTP layer; jansson caps nesting depth. */
static json_t *osp_json_load(const char *body, size_t len)
{
	json_error_t jerr;

	if (!body || !len)
		return NULL;
	return json_loadb(body, len, 0, &jerr);
}

static const char *osp_json_str(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* ------------------------------------------------------------------ */
/* URLs.                                                                */

static int osp_is_http_url(const char *u)
{
	return u && (strncmp(u, "http://", 7) == 0 ||
		     strncmp(u, "https://", 8) == 0);
}

char *osp_tokens_url(const char *auth_url)
{
	struct vs_buf b;
	size_t len;

	if (!osp_is_http_url(auth_url))
		return NULL;
	len = strlen(auth_url);
	while (len > 0 && auth_url[len - 1] == '/')
		len--;
	vs_buf_init(&b, 0);
	if (len >= 5 && strncmp(auth_url + len - 5, "/v2.0", 5) == 0)
		len -= 5; /* Keystone v2 is gone; its v3 lives next door. */
	if (vs_buf_add(&b, auth_url, len))
		goto fail;
	if (!(len >= 3 && strncmp(auth_url + len - 3, "/v3", 3) == 0) &&
	    vs_buf_adds(&b, "/v3"))
		goto fail;
	if (vs_buf_adds(&b, "/auth/tokens"))
		goto fail;
	return vs_buf_detach(&b, NULL);
fail:
	vs_buf_release(&b);
	return NULL;
}

/* The parts of an absolute http(s) URL that make its origin. */
struct osp_origin {
	int https;
	const char *host;
	size_t host_len;
	long port;
	const char *rest; /* path, query, fragment */
};

static int osp_origin_parse(const char *u, struct osp_origin *o)
{
	const char *auth, *end, *at, *p, *colon = NULL;

	if (strncmp(u, "http://", 7) == 0) {
		o->https = 0;
		auth = u + 7;
	} else if (strncmp(u, "https://", 8) == 0) {
		o->https = 1;
		auth = u + 8;
	} else {
		return -1;
	}
	end = auth + strcspn(auth, "/?#");
	o->rest = end;
	/* Drop userinfo: the last '@' before the path ends it. */
	at = NULL;
	for (p = auth; p < end; p++)
		if (*p == '@')
			at = p;
	if (at)
		auth = at + 1;
	if (*auth == '[') {
		const char *rb = memchr(auth, ']', (size_t)(end - auth));
		if (!rb)
			return -1;
		o->host = auth;
		o->host_len = (size_t)(rb + 1 - auth);
		if (rb + 1 < end) {
			if (rb[1] != ':')
				return -1;
			colon = rb + 1;
		}
	} else {
		for (p = auth; p < end; p++)
			if (*p == ':')
				colon = p;
		o->host = auth;
		o->host_len = (size_t)((colon ? colon : end) - auth);
	}
	if (o->host_len == 0)
		return -1;
	o->port = o->https ? 443 : 80;
	if (colon && colon + 1 < end) {
		long port = 0;
		for (p = colon + 1; p < end; p++) {
			if (*p < '0' || *p > '9' || port > 65535)
				return -1;
			port = port * 10 + (*p - '0');
		}
		if (port <= 0 || port > 65535)
			return -1;
		o->port = port;
	}
	return 0;
}

int osp_same_origin(const char *a, const char *b)
{
	struct osp_origin oa, ob;
	size_t i;

	if (!a || !b || osp_origin_parse(a, &oa) || osp_origin_parse(b, &ob))
		return 0;
	if (oa.https != ob.https || oa.port != ob.port ||
	    oa.host_len != ob.host_len)
		return 0;
	for (i = 0; i < oa.host_len; i++) {
		char ca = oa.host[i], cb = ob.host[i];
		if (ca >= 'A' && ca <= 'Z')
			ca = (char)(ca - 'A' + 'a');
		if (cb >= 'A' && cb <= 'Z')
			cb = (char)(cb - 'A' + 'a');
		if (ca != cb)
			return 0;
	}
	return 1;
}

char *osp_next_url(const char *compute, const char *href)
{
	struct osp_origin oc;
	struct vs_buf b;
	const char *p, *q;

	if (!compute || !href || !*href || osp_origin_parse(compute, &oc))
		return NULL;
	for (p = href; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return NULL;
	vs_buf_init(&b, 64 * 1024);
	if (href[0] == '/' && href[1] != '/') {
		if (vs_buf_add(&b, compute, (size_t)(oc.rest - compute)) ||
		    vs_buf_adds(&b, href))
			goto fail;
		return vs_buf_detach(&b, NULL);
	}
	if (!osp_is_http_url(href))
		goto fail;
	if (osp_same_origin(compute, href)) {
		if (vs_buf_adds(&b, href))
			goto fail;
		return vs_buf_detach(&b, NULL);
	}
	/*
	 * Another origin (a Nova behind a proxy that does not know its public
	 * name, or a hostile one): the token must not travel there.  The
	 * marker is all that matters, so ask our own endpoint for it.
	 */
	q = strchr(href, '?');
	if (!q)
		goto fail;
	if (vs_buf_adds(&b, compute) || vs_buf_adds(&b, "/servers/detail") ||
	    vs_buf_add(&b, q, strcspn(q, "#")))
		goto fail;
	return vs_buf_detach(&b, NULL);
fail:
	vs_buf_release(&b);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Keystone.                                                            */

/* {"id": id} or {"name": name} for a domain, defaulting to "Default". */
static json_t *osp_domain(const char *id, const char *name)
{
	if (id)
		return json_pack("{s:s}", "id", id);
	return json_pack("{s:s}", "name", name ? name : "Default");
}

/* A user by id, or by name and domain. */
static json_t *osp_user(const struct osp_settings *s)
{
	json_t *dom;

	if (s->user_id)
		return json_pack("{s:s}", "id", s->user_id);
	if (!s->username)
		return NULL;
	dom = osp_domain(s->user_domain_id, s->user_domain_name);
	if (!dom)
		return NULL;
	return json_pack("{s:s,s:o}", "name", s->username, "domain", dom);
}

int osp_auth_body(const char *tag, const struct osp_settings *s, char **body,
		  struct vs_error *err)
{
	json_t *root = NULL, *ident = NULL, *user = NULL, *cred = NULL;
	json_t *scope = NULL;
	int rc = VS_ERR;

	*body = NULL;
	if (s->method == OSP_AUTH_APPCRED) {
		if (!s->appcred_secret) {
			vs_error_set(err, VS_EC_CONFIG, 0, 0,
				     "%s: no application_credential_secret",
				     tag);
			goto out;
		}
		if (s->appcred_id) {
			cred = json_pack("{s:s,s:s}", "id", s->appcred_id,
					 "secret", s->appcred_secret);
		} else if (s->appcred_name) {
			user = osp_user(s);
			if (!user && !s->user_id && !s->username) {
				vs_error_set(err, VS_EC_CONFIG, 0, 0,
					     "%s: application_credential_name "
					     "needs user_id or username",
					     tag);
				goto out;
			}
			cred = json_pack("{s:s,s:s,s:O}", "name",
					 s->appcred_name, "secret",
					 s->appcred_secret, "user", user);
		} else {
			vs_error_set(err, VS_EC_CONFIG, 0, 0,
				     "%s: no application_credential_id or "
				     "application_credential_name",
				     tag);
			goto out;
		}
		if (cred)
			ident = json_pack("{s:[s],s:O}", "methods",
					  "application_credential",
					  "application_credential", cred);
		/* The credential carries its project: no scope. */
		if (ident)
			root = json_pack("{s:{s:O}}", "auth", "identity",
					 ident);
	} else {
		if (!s->user_id && !s->username) {
			vs_error_set(err, VS_EC_CONFIG, 0, 0,
				     "%s: no username or user_id", tag);
			goto out;
		}
		if (!s->password) {
			vs_error_set(err, VS_EC_CONFIG, 0, 0,
				     "%s: no password (set password_env, "
				     "password_file, a clouds.yaml password or "
				     "OS_PASSWORD)",
				     tag);
			goto out;
		}
		user = osp_user(s);
		if (user && json_object_set_new(user, "password",
						json_string(s->password)))
			goto nomem;
		if (user)
			ident = json_pack("{s:[s],s:{s:O}}", "methods",
					  "password", "password", "user", user);
		if (s->project_id) {
			scope = json_pack("{s:{s:s}}", "project", "id",
					  s->project_id);
		} else if (s->project_name) {
			json_t *dom = osp_domain(s->project_domain_id,
						 s->project_domain_name);
			if (dom)
				scope = json_pack("{s:{s:s,s:o}}", "project",
						  "name", s->project_name,
						  "domain", dom);
			if (!scope)
				goto nomem;
		}
		if (ident) {
			root = scope ? json_pack("{s:{s:O,s:O}}", "auth",
						 "identity", ident, "scope",
						 scope)
				     : json_pack("{s:{s:O}}", "auth",
						 "identity", ident);
		}
	}
	if (!root)
		goto nomem;
	*body = json_dumps(root, JSON_COMPACT);
	if (!*body)
		goto nomem;
	rc = VS_OK;
	goto out;
nomem:
	vs_error_set(err, VS_EC_INTERNAL, 0, 0,
		     "%s: out of memory building the auth request", tag);
out:
	json_decref(root);
	json_decref(ident);
	json_decref(user);
	json_decref(cred);
	json_decref(scope);
	return rc;
}

void osp_token_release(struct osp_token *t)
{
	if (!t)
		return;
	pv_free_secret(t->token);
	free(t->compute_url);
	memset(t, 0, sizeof(*t));
	t->expires_at = VS_TIME_UNKNOWN;
}

/* Catalog search on a parsed token object (the value of "token"). */
static int osp_catalog_search(const char *tag, const json_t *tok,
			      const char *type, const char *interface,
			      const char *region, char **url,
			      struct vs_error *err)
{
	const json_t *catalog = json_object_get(tok, "catalog");
	const json_t *svc, *ep;
	size_t i, j;

	*url = NULL;
	if (catalog && !json_is_array(catalog))
		return vs_error_set(err, VS_EC_INVALID_RESPONSE, 0, 0,
				    "%s: Keystone token catalog is not a list",
				    tag);
	json_array_foreach(catalog, i, svc)
	{
		const char *t = osp_json_str(svc, "type");
		const json_t *eps = json_object_get(svc, "endpoints");

		if (!t || strcmp(t, type) != 0 || !json_is_array(eps))
			continue;
		json_array_foreach(eps, j, ep)
		{
			const char *ifc = osp_json_str(ep, "interface");
			const char *r = osp_json_str(ep, "region");
			const char *rid = osp_json_str(ep, "region_id");
			const char *u = osp_json_str(ep, "url");
			size_t len;

			if (!ifc || strcmp(ifc, interface) != 0)
				continue;
			if (region && !(r && strcmp(r, region) == 0) &&
			    !(rid && strcmp(rid, region) == 0))
				continue;
			if (!osp_is_http_url(u))
				continue;
			len = strlen(u);
			while (len > 0 && u[len - 1] == '/')
				len--;
			*url = strndup(u, len);
			if (!*url)
				return vs_error_set(err, VS_EC_INTERNAL, 0, 0,
						    "%s: out of memory", tag);
			return VS_OK;
		}
	}
	if (region)
		return vs_error_set(err, VS_EC_CONFIG, 0, 0,
				    "%s: no %s endpoint for region '%s' "
				    "interface '%s' in the catalog%s",
				    tag, type, region, interface,
				    json_array_size(catalog)
					    ? ""
					    : " (the token has no catalog: "
					      "set a project)");
	return vs_error_set(
		err, VS_EC_CONFIG, 0, 0,
		"%s: no %s endpoint for interface '%s' in the "
		"catalog%s",
		tag, type, interface,
		json_array_size(catalog)
			? ""
			: " (the token has no catalog: set a project)");
}

int osp_catalog_find(const char *tag, const char *body, size_t len,
		     const char *type, const char *interface,
		     const char *region, char **url, struct vs_error *err)
{
	json_t *root = osp_json_load(body, len);
	const json_t *tok = json_object_get(root, "token");
	int rc;

	*url = NULL;
	if (!json_is_object(tok)) {
		json_decref(root);
		return vs_error_set(err, VS_EC_INVALID_RESPONSE, 0, 0,
				    "%s: Keystone answered without a token "
				    "object",
				    tag);
	}
	rc = osp_catalog_search(tag, tok, type, interface, region, url, err);
	json_decref(root);
	return rc;
}

const char *osp_fault_message(const char *body, size_t len, char *dst,
			      size_t dstsz)
{
	json_t *root = osp_json_load(body, len);
	const char *key, *msg = NULL;
	json_t *v;

	if (dstsz)
		dst[0] = '\0';
	if (!json_is_object(root))
		goto out;
	/* Keystone: {"error": {...}}; Nova: {"<faultName>": {...}}. */
	msg = osp_json_str(json_object_get(root, "error"), "message");
	if (!msg) {
		json_object_foreach(root, key, v)
		{
			msg = osp_json_str(v, "message");
			if (msg)
				break;
		}
	}
	if (msg)
		pv_clean(dst, dstsz, msg);
out:
	json_decref(root);
	return dst;
}

int osp_fault_is_locked(const char *message)
{
	const char *p;

	/* Nova's InstanceIsLocked: "Instance <uuid> is locked". */
	for (p = message ? message : ""; *p; p++)
		if (strncasecmp(p, "locked", 6) == 0)
			return 1;
	return 0;
}

int osp_token_parse(const char *tag, long status, const char *subject_token,
		    const char *body, size_t len, const char *interface,
		    const char *region, osp_time_fn parse_time,
		    struct osp_token *out, struct vs_error *err)
{
	char msg[OSP_MSG_MAX];
	json_t *root = NULL;
	const json_t *tok;
	const char *exp;
	int rc = VS_ERR;

	memset(out, 0, sizeof(*out));
	out->expires_at = VS_TIME_UNKNOWN;
	if (status != 201 && status != 200) {
		enum vs_err_class cls = VS_EC_CLIENT;
		int retry = 0;

		osp_fault_message(body, len, msg, sizeof(msg));
		if (status == 401 || status == 403) {
			cls = VS_EC_AUTH;
		} else if (status == 400 || status == 404) {
			cls = VS_EC_CONFIG;
		} else if (status == 429 || status == 413) {
			cls = VS_EC_THROTTLED;
			retry = 1;
		} else if (status >= 500) {
			cls = VS_EC_SERVER;
			retry = 1;
		}
		vs_error_set(
			err, cls, (int)status, retry,
			"%s: Keystone refused authentication: HTTP %ld%s%s",
			tag, status, msg[0] ? ": " : "", msg);
		goto out;
	}
	if (!subject_token || !*subject_token) {
		vs_error_set(err, VS_EC_INVALID_RESPONSE, (int)status, 0,
			     "%s: Keystone answered without X-Subject-Token",
			     tag);
		goto out;
	}
	root = osp_json_load(body, len);
	tok = json_object_get(root, "token");
	if (!json_is_object(tok)) {
		vs_error_set(err, VS_EC_INVALID_RESPONSE, (int)status, 0,
			     "%s: Keystone answered without a token object",
			     tag);
		goto out;
	}
	exp = osp_json_str(tok, "expires_at");
	if (exp && parse_time(exp, &out->expires_at) != 0)
		out->expires_at = VS_TIME_UNKNOWN;
	if (osp_catalog_search(tag, tok, "compute", interface, region,
			       &out->compute_url, err))
		goto out;
	out->token = strdup(subject_token);
	if (!out->token) {
		vs_error_set(err, VS_EC_INTERNAL, 0, 0, "%s: out of memory",
			     tag);
		goto out;
	}
	rc = VS_OK;
out:
	if (rc)
		osp_token_release(out);
	json_decref(root);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Nova servers.                                                        */

void osp_server_release(struct osp_server *s)
{
	if (!s)
		return;
	vs_vm_release(&s->vm);
	free(s->fault);
	s->fault = NULL;
}

void osp_page_release(struct osp_page *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->n; i++)
		osp_server_release(&p->items[i]);
	free(p->items);
	free(p->next);
	memset(p, 0, sizeof(*p));
}

static enum vs_power osp_power(const char *status)
{
	if (!status)
		return VS_POWER_UNKNOWN;
	if (strcmp(status, "ACTIVE") == 0)
		return VS_POWER_ON;
	if (strcmp(status, "SHUTOFF") == 0)
		return VS_POWER_OFF;
	if (strcmp(status, "SUSPENDED") == 0 || strcmp(status, "PAUSED") == 0)
		return VS_POWER_SUSPENDED;
	return VS_POWER_UNKNOWN;
}

/* Results of osp_server_read besides 0. */
#define OSP_SKIP  (-1) /* malformed: left out, why says why */
#define OSP_GONE  (-2) /* status DELETED: left out silently */
#define OSP_NOMEM (-3)

static int osp_dup(char **dst, const char *s)
{
	if (!s)
		return 0;
	*dst = strdup(s);
	return *dst ? 0 : OSP_NOMEM;
}

static int osp_read_tags(const json_t *tags, struct vs_vm *vm)
{
	const json_t *t;
	size_t i, n = json_array_size(tags);

	for (i = 0; i < n; i++)
		if (!json_is_string(json_array_get(tags, i)))
			return OSP_SKIP;
	if (!n)
		return 0;
	vm->tags = calloc(n, sizeof(*vm->tags));
	if (!vm->tags)
		return OSP_NOMEM;
	json_array_foreach(tags, i, t)
	{
		vm->tags[i] = strdup(json_string_value(t));
		if (!vm->tags[i])
			return OSP_NOMEM;
		vm->n_tags = i + 1;
	}
	return 0;
}

static int osp_read_metadata(const json_t *md, struct vs_vm *vm)
{
	size_t n = json_object_size(md);
	const char *key;
	json_t *v;

	if (!n)
		return 0;
	vm->metadata = calloc(n, sizeof(*vm->metadata));
	if (!vm->metadata)
		return OSP_NOMEM;
	json_object_foreach((json_t *)md, key, v)
	{
		struct vs_kv *kv = &vm->metadata[vm->n_metadata];

		kv->key = strdup(key);
		if (!kv->key)
			return OSP_NOMEM;
		vm->n_metadata++;
		if (json_is_string(v))
			kv->value = strdup(json_string_value(v));
		else
			kv->value =
				json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!kv->value)
			return OSP_NOMEM;
	}
	return 0;
}

/* Read one server object into out; see the top of the file for policy. */
static int osp_server_read(const json_t *o, osp_time_fn parse_time,
			   struct osp_server *out, char *why, size_t whysz)
{
	const json_t *tags, *md, *locked;
	const char *id, *name, *status, *created;
	int rc;

	memset(out, 0, sizeof(*out));
	out->vm.created = VS_TIME_UNKNOWN;
	if (!json_is_object(o)) {
		snprintf(why, whysz, "an entry is not an object");
		return OSP_SKIP;
	}
	id = osp_json_str(o, "id");
	if (!id || !*id) {
		snprintf(why, whysz, "an entry has no id");
		return OSP_SKIP;
	}
	name = osp_json_str(o, "name");
	if (!name) {
		snprintf(why, whysz, "server %.64s has no name", id);
		return OSP_SKIP;
	}
	status = osp_json_str(o, "status");
	if (status && strcmp(status, "DELETED") == 0)
		return OSP_GONE;
	tags = json_object_get(o, "tags");
	md = json_object_get(o, "metadata");
	if ((tags && !json_is_null(tags) && !json_is_array(tags)) ||
	    (md && !json_is_null(md) && !json_is_object(md))) {
		snprintf(why, whysz,
			 "server %.64s has tags or metadata of the wrong type",
			 id);
		return OSP_SKIP;
	}
	if ((rc = osp_read_tags(tags, &out->vm)) != 0) {
		if (rc == OSP_SKIP)
			snprintf(why, whysz,
				 "server %.64s has a tag that is not a string",
				 id);
		return rc;
	}
	if ((rc = osp_read_metadata(md, &out->vm)) != 0)
		return rc;
	if (osp_dup(&out->vm.id, id) || osp_dup(&out->vm.name, name) ||
	    osp_dup(&out->vm.status, status) ||
	    osp_dup(&out->vm.task_state,
		    osp_json_str(o, "OS-EXT-STS:task_state")) ||
	    osp_dup(&out->vm.description, osp_json_str(o, "description")) ||
	    osp_dup(&out->fault,
		    osp_json_str(json_object_get(o, "fault"), "message")))
		return OSP_NOMEM;
	created = osp_json_str(o, "created");
	if (created && parse_time(created, &out->vm.created) == 0) {
		out->vm.age_source = VS_AGE_CREATED;
	} else {
		out->vm.created = VS_TIME_UNKNOWN;
		out->vm.age_source = VS_AGE_NONE;
	}
	out->vm.power = osp_power(status);
	locked = json_object_get(o, "locked");
	if (locked && !json_is_false(locked) && !json_is_null(locked) &&
	    osp_dup(&out->vm.platform_protection, "locked"))
		return OSP_NOMEM;
	return 0;
}

/* The members of a server osp_server_read looks at; the rest of the
 * entry (links, flavor, image, addresses, ...) is never decoded. */
static const char *const osp_server_keys[] = {
	"id",	   "name",     "status",      "OS-EXT-STS:task_state",
	"tags",	   "metadata", "description", "fault",
	"created", "locked",
};

/*
 * A page is checked whole first (pv_json: what json_loadb would refuse
 * fails the listing as before), then each entry is cut down to the
 * members above and read by the same osp_server_read as a single server.
 */
int osp_servers_parse(const char *tag, const char *body, size_t len,
		      osp_time_fn parse_time, struct osp_page *out,
		      struct vs_error *err)
{
	static const char *const top[] = {"servers", "servers_links"};
	const size_t nkeys =
		sizeof(osp_server_keys) / sizeof(osp_server_keys[0]);
	struct pv_json_span root, part[2], elem, vals[PV_JSON_KEYS_MAX];
	struct pv_json_iter it;
	json_t *links = NULL;
	const json_t *o;
	char why[sizeof(out->skip_reason)];
	size_t i;
	int rc = VS_ERR;

	if (!body || !len ||
	    pv_json_check_get(body, len, 0, &root, top, 2, part, NULL, 0) ||
	    pv_json_type(&part[0]) != PV_JSON_ARRAY) {
		vs_error_set(err, VS_EC_INVALID_RESPONSE, 0, 0,
			     "%s: Nova's server list is not {\"servers\": "
			     "[...]}",
			     tag);
		goto out;
	}
	if (part[1].len && !(links = pv_json_decode(&part[1])))
		goto nomem;
	if (links && !json_is_null(links) && !json_is_array(links)) {
		vs_error_set(err, VS_EC_INVALID_RESPONSE, 0, 0,
			     "%s: Nova's servers_links is not a list", tag);
		goto out;
	}
	json_array_foreach(links, i, o)
	{
		const char *rel = osp_json_str(o, "rel");
		const json_t *href = json_object_get(o, "href");

		if (!rel || strcmp(rel, "next") != 0)
			continue;
		if (!json_is_string(href)) {
			vs_error_set(err, VS_EC_INVALID_RESPONSE, 0, 0,
				     "%s: Nova's next link has no href", tag);
			goto out;
		}
		if (!out->next) {
			out->next = strdup(json_string_value(href));
			if (!out->next)
				goto nomem;
		}
	}
	pv_json_iter_init(&it, &part[0]);
	while (pv_json_iter_get(&it, &elem, osp_server_keys, nkeys, vals)) {
		struct osp_server *s;
		json_t *entry = NULL;
		int r;

		if (out->n == out->alloc) {
			size_t na = out->alloc ? out->alloc * 2 : 64;
			struct osp_server *ni =
				realloc(out->items, na * sizeof(*out->items));

			if (!ni)
				goto nomem;
			out->items = ni;
			out->alloc = na;
		}
		s = &out->items[out->n];
		/* Not an object: osp_server_read says so, as for NULL. */
		if (pv_json_type(&elem) == PV_JSON_OBJECT &&
		    !(entry = pv_json_object_of(osp_server_keys, nkeys, vals)))
			goto nomem;
		r = osp_server_read(entry, parse_time, s, why, sizeof(why));
		json_decref(entry);
		if (r == 0) {
			out->n++;
			continue;
		}
		osp_server_release(s);
		if (r == OSP_NOMEM)
			goto nomem;
		if (r == OSP_SKIP) {
			if (!out->skipped)
				pv_clean(out->skip_reason,
					 sizeof(out->skip_reason), why);
			out->skipped++;
		}
	}
	rc = VS_OK;
	goto out;
nomem:
	vs_error_set(err, VS_EC_INTERNAL, 0, 0,
		     "%s: out of memory reading the server list", tag);
out:
	json_decref(links);
	return rc;
}

int osp_server_parse(const char *tag, const char *body, size_t len,
		     osp_time_fn parse_time, struct osp_server *out,
		     struct vs_error *err)
{
	json_t *root = osp_json_load(body, len);
	char why[160], clean[160];
	int r;

	r = osp_server_read(json_object_get(root, "server"), parse_time, out,
			    why, sizeof(why));
	json_decref(root);
	if (r == 0)
		return VS_OK;
	if (r == OSP_GONE) {
		/* Status DELETED: report it as such, with the id unknown. */
		out->vm.status = strdup("DELETED");
		if (!out->vm.status)
			return vs_error_set(err, VS_EC_INTERNAL, 0, 0,
					    "%s: out of memory", tag);
		return VS_OK;
	}
	osp_server_release(out);
	if (r == OSP_NOMEM)
		return vs_error_set(err, VS_EC_INTERNAL, 0, 0,
				    "%s: out of memory reading a server", tag);
	return vs_error_set(err, VS_EC_INVALID_RESPONSE, 0, 0,
			    "%s: Nova's server is unreadable: %s", tag,
			    pv_clean(clean, sizeof(clean), why));
}
