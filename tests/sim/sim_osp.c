/*
 * sim_osp.c - OpenStack: Keystone v3 under /identity, Nova 2.1 under
 * /compute, and just enough Glance (/image), Neutron (/network) and
 * Cinder (/volume) for the real `openstack server list/show/delete`.
 *
 * The shapes follow the samples in api/samples/osp_* and Nova's own
 * code (wsgi.Fault bodies, next-link-when-full paging, microversion
 * headers).  Keystone knows one user (--user/--password, domain
 * Default), any project name, and one application credential whose id
 * and name are "sim-appcred" and whose secret is --password.
 */
#include "sim.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "timeutil.h"

#define MV_MAX	      96 /* microversion 2.96 */
#define MV_MAX_STR    "2.96"
#define MAX_LIMIT     1000 /* Nova's [api]max_limit */
#define DEFAULT_PROJ  "admin"
#define APPCRED	      "sim-appcred"
#define TOKEN_SECONDS 3600
#define IMAGE_ID      "1c2a3e5f-8e53-4b8a-9d2f-6b0f1f5c1a01"

static const char *const osp_prefixes[] = {"/identity/", "/compute/", "/image/",
					   "/network/",	 "/volume/",  NULL};

static const struct {
	const char *id, *name;
	int vcpus, ram, disk;
} flavors[] = {
	{"1", "m1.tiny", 1, 512, 1},
	{"2", "m1.small", 1, 2048, 20},
	{"3", "m1.medium", 2, 4096, 40},
	{"4", "m1.large", 4, 8192, 80},
};
#define NFLAVORS (sizeof(flavors) / sizeof(flavors[0]))

/* ------------------------------------------------------------------ */
/* Identities: stable ids derived from names. */

static void derive_id(const char *kind, const char *name, char out[33])
{
	uint64_t h1 = 0xcbf29ce484222325ULL, h2 = 0x84222325cbf29ce4ULL;

	for (const char *s = kind; *s; s++)
		h1 = (h1 ^ (unsigned char)*s) * 0x100000001b3ULL;
	for (const char *s = name; *s; s++) {
		h1 = (h1 ^ (unsigned char)*s) * 0x100000001b3ULL;
		h2 = (h2 ^ (unsigned char)*s) * 0x100000001b3ULL;
		h2 ^= h2 >> 29;
	}
	snprintf(out, 33, "%016llx%016llx", (unsigned long long)h1,
		 (unsigned long long)h2);
}

static void add_request_id(struct sim_req *req, struct sim_resp *resp)
{
	struct sim_rng r;
	char uuid[37], id[48];

	sim_rng_seed(&r, sim_random(req->sim));
	sim_rng_uuid(&r, uuid);
	snprintf(id, sizeof(id), "req-%s", uuid);
	sim_resp_header(resp, "x-openstack-request-id", id);
}

/* Keystone's error body: {"error":{"code","title","message"}}. */
static void keystone_error(struct sim_req *req, struct sim_resp *resp,
			   int status, const char *title, const char *msg)
{
	if (status == 401) {
		char base[300], hdr[400];

		sim_req_base_url(req, base, sizeof(base));
		snprintf(hdr, sizeof(hdr), "Keystone uri=\"%s/identity\"",
			 base);
		sim_resp_header(resp, "WWW-Authenticate", hdr);
	}
	sim_resp_json(resp, status,
		      json_pack("{s{sissss}}", "error", "code", status, "title",
				title, "message", msg));
}

static void unauthorized(struct sim_req *req, struct sim_resp *resp)
{
	keystone_error(req, resp, 401, "Unauthorized",
		       "The request you have made requires authentication.");
}

static const char *fault_name(int status)
{
	switch (status) {
	case 400:
		return "badRequest";
	case 401:
		return "unauthorized";
	case 403:
		return "forbidden";
	case 404:
		return "itemNotFound";
	case 405:
		return "badMethod";
	case 406:
		return "notAcceptable";
	case 409:
		return "conflictingRequest";
	case 413:
	case 429:
		return "overLimit";
	case 415:
		return "badMediaType";
	case 501:
		return "notImplemented";
	case 503:
		return "serviceUnavailable";
	default:
		return "computeFault";
	}
}

/* Nova's wsgi.Fault body; Content-Type as Nova sends it. */
static void nova_error(struct sim_resp *resp, int status, const char *msg)
{
	json_t *inner = json_pack("{siss}", "code", status, "message", msg);
	json_t *body = json_object();
	char *s;

	json_object_set_new(body, fault_name(status), inner);
	s = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	sim_resp_body(resp, status, "application/json; charset=UTF-8",
		      s ? s : "{}", s ? strlen(s) : 2);
	free(s);
}

/* ------------------------------------------------------------------ */
/* Request context for the service APIs. */

struct osp_ctx {
	int mv; /* microversion 2.mv */
	char base[300];
	const char *project; /* project id in the path, or NULL */
	struct sim_session_info sess;
};

/*
 * The requested compute microversion (minor number): 1 without a
 * header.  -1 and an error response when it is malformed or outside
 * 2.1..2.MV_MAX.
 */
static int parse_microversion(struct sim_req *req, struct sim_resp *resp)
{
	const char *h = sim_req_header(req, "OpenStack-API-Version");
	const char *v = NULL;
	char buf[32], msg[160];
	char *end;
	long minor;
	size_t n;

	if (h != NULL) {
		/* "compute 2.26", possibly in a comma-separated list. */
		const char *p = strcasestr(h, "compute");

		if (p != NULL) {
			p += strlen("compute");
			while (*p == ' ')
				p++;
			v = p;
		}
	}
	if (v == NULL)
		v = sim_req_header(req, "X-OpenStack-Nova-API-Version");
	if (v == NULL)
		return 1;
	n = strcspn(v, ", ");
	if (n >= sizeof(buf))
		n = sizeof(buf) - 1;
	memcpy(buf, v, n);
	buf[n] = '\0';
	if (!strcasecmp(buf, "latest"))
		return MV_MAX;
	if (strncmp(buf, "2.", 2) != 0 || buf[2] < '0' || buf[2] > '9')
		goto bad;
	minor = strtol(buf + 2, &end, 10);
	if (*end != '\0')
		goto bad;
	if (minor < 1 || minor > MV_MAX) {
		snprintf(msg, sizeof(msg),
			 "Version %s is not supported by the API. Minimum is "
			 "2.1 and maximum is " MV_MAX_STR ".",
			 buf);
		nova_error(resp, 406, msg);
		return -1;
	}
	return (int)minor;
bad:
	snprintf(msg, sizeof(msg),
		 "API Version String %.40s is of invalid format. Must be of "
		 "format MajorNum.MinorNum.",
		 buf);
	nova_error(resp, 400, msg);
	return -1;
}

static void version_headers(struct sim_resp *resp, int mv)
{
	char v[16], both[32];

	snprintf(v, sizeof(v), "2.%d", mv);
	snprintf(both, sizeof(both), "compute 2.%d", mv);
	sim_resp_header(resp, "OpenStack-API-Version", both);
	sim_resp_header(resp, "X-OpenStack-Nova-API-Version", v);
	sim_resp_header(resp, "Vary",
			"OpenStack-API-Version, X-OpenStack-Nova-API-Version");
}

/* Authenticate a service request (and, for Nova, read the
 * microversion).  false when resp already carries the error. */
static bool begin(struct sim_req *req, struct sim_resp *resp,
		  struct osp_ctx *ctx, bool nova)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->mv = 1;
	sim_req_base_url(req, ctx->base, sizeof(ctx->base));
	ctx->project = sim_req_param(req, "project_id");
	add_request_id(req, resp);
	if (nova) {
		int mv = parse_microversion(req, resp);

		if (mv < 0)
			return false;
		ctx->mv = mv;
		version_headers(resp, mv);
	}
	if (sim_session_use(req->sim, SIM_OSP,
			    sim_req_header(req, "X-Auth-Token"),
			    &ctx->sess) != SIM_SESSION_OK) {
		unauthorized(req, resp);
		return false;
	}
	if (ctx->project != NULL && strcmp(ctx->project, ctx->sess.project)) {
		char msg[200];

		snprintf(msg, sizeof(msg),
			 "Malformed request URL: URL's project_id '%.40s' "
			 "doesn't match Context's project_id '%.40s'",
			 ctx->project, ctx->sess.project);
		nova_error(resp, 400, msg);
		return false;
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* Keystone. */

static const char *k_updated = "2020-04-07T00:00:00Z";

static json_t *identity_version(const char *base)
{
	char href[400];

	snprintf(href, sizeof(href), "%s/identity/v3/", base);
	return json_pack("{sssssss[{ssss}]s[{ssss}]}", "id", "v3.14", "status",
			 "stable", "updated", k_updated, "links", "rel", "self",
			 "href", href, "media-types", "base",
			 "application/json", "type",
			 "application/vnd.openstack.identity-v3+json");
}

static void ks_root(struct sim_req *req, struct sim_resp *resp)
{
	char base[300];

	sim_req_base_url(req, base, sizeof(base));
	add_request_id(req, resp);
	sim_resp_json(resp, 300,
		      json_pack("{s{s[o]}}", "versions", "values",
				identity_version(base)));
}

static void ks_v3(struct sim_req *req, struct sim_resp *resp)
{
	char base[300];

	sim_req_base_url(req, base, sizeof(base));
	add_request_id(req, resp);
	sim_resp_json(resp, 200,
		      json_pack("{so}", "version", identity_version(base)));
}

static json_t *endpoint(const char *service, const char *iface, const char *url)
{
	char key[128], id[33];

	snprintf(key, sizeof(key), "%s/%s", service, iface);
	derive_id("endpoint", key, id);
	return json_pack("{ssssssssss}", "id", id, "interface", iface, "region",
			 "RegionOne", "region_id", "RegionOne", "url", url);
}

static json_t *catalog_entry(const char *type, const char *name,
			     const char *url)
{
	static const char *const ifaces[] = {"public", "internal", "admin"};
	json_t *eps = json_array();
	char id[33];

	for (size_t i = 0; i < 3; i++)
		json_array_append_new(eps, endpoint(type, ifaces[i], url));
	derive_id("service", type, id);
	return json_pack("{sossssss}", "endpoints", eps, "id", id, "type", type,
			 "name", name);
}

static json_t *catalog(const char *base, const char *project_id)
{
	char url[400];
	json_t *c = json_array();

	snprintf(url, sizeof(url), "%s/compute/v2.1", base);
	json_array_append_new(c, catalog_entry("compute", "nova", url));
	snprintf(url, sizeof(url), "%s/identity", base);
	json_array_append_new(c, catalog_entry("identity", "keystone", url));
	snprintf(url, sizeof(url), "%s/image", base);
	json_array_append_new(c, catalog_entry("image", "glance", url));
	snprintf(url, sizeof(url), "%s/network", base);
	json_array_append_new(c, catalog_entry("network", "neutron", url));
	snprintf(url, sizeof(url), "%s/volume/v3/%s", base, project_id);
	json_array_append_new(c, catalog_entry("volumev3", "cinderv3", url));
	return c;
}

/* Keystone prints microseconds: "2024-05-03T09:14:03.000000Z". */
static json_t *ks_time(int64_t t)
{
	char s[40], out[48];

	sim_time_str(t, s, sizeof(s));
	snprintf(out, sizeof(out), "%.19s.000000Z", s);
	return json_string(out);
}

static json_t *token_body(struct sim_req *req, const char *method,
			  const struct sim_session_info *si, bool appcred)
{
	char base[300], user_id[33], role_id[33], audit[23];
	const char *project_name = si->project_name;
	struct sim_rng r;
	json_t *tok;

	sim_req_base_url(req, base, sizeof(base));
	derive_id("user", si->user, user_id);
	derive_id("role", "member", role_id);
	sim_rng_seed(&r, sim_random(req->sim));
	sim_rng_hex(&r, audit, 22);
	tok = json_pack(
		"{s[s]s[{ssss}]sososbs[s]s{s{ssss}ssss}s{s{ssss}sssssn}so}",
		"methods", method, "roles", "id", role_id, "name", "member",
		"expires_at", ks_time(si->created + TOKEN_SECONDS), "issued_at",
		ks_time(si->created), "is_domain", 0, "audit_ids", audit,
		"project", "domain", "id", "default", "name", "Default", "id",
		si->project, "name", project_name, "user", "domain", "id",
		"default", "name", "Default", "id", user_id, "name", si->user,
		"password_expires_at", "catalog", catalog(base, si->project));
	if (tok != NULL && appcred)
		json_object_set_new(tok, "application_credential",
				    json_pack("{sssssb}", "id", APPCRED, "name",
					      APPCRED, "restricted", 1));
	return json_pack("{so}", "token", tok);
}

static bool domain_ok(json_t *dom)
{
	const char *id = json_string_value(json_object_get(dom, "id"));
	const char *name = json_string_value(json_object_get(dom, "name"));

	if (dom == NULL)
		return false;
	return (id && !strcmp(id, "default")) ||
	       (name && !strcasecmp(name, "Default"));
}

/* The user object of a password or application credential body: its
 * name when it is ours (by name and domain, or by id), else NULL. */
static const char *user_ok(struct sim *sim, json_t *user)
{
	const char *id = json_string_value(json_object_get(user, "id"));
	const char *name = json_string_value(json_object_get(user, "name"));
	char want[33];

	if (id != NULL) {
		derive_id("user", sim->opts.user, want);
		return strcmp(id, want) == 0 ? sim->opts.user : NULL;
	}
	if (name != NULL && domain_ok(json_object_get(user, "domain")) &&
	    strcmp(name, sim->opts.user) == 0)
		return sim->opts.user;
	return NULL;
}

/* POST /identity/v3/auth/tokens */
static void ks_tokens(struct sim_req *req, struct sim_resp *resp)
{
	struct sim *sim = req->sim;
	json_t *body = sim_req_json(req), *ident, *methods, *scope, *proj;
	const char *method, *user = NULL, *pname = DEFAULT_PROJ;
	char tok[SIM_TOKEN_MAX], pid[33];
	struct sim_session_info si;
	bool appcred = false;

	add_request_id(req, resp);
	ident = json_object_get(json_object_get(body, "auth"), "identity");
	methods = json_object_get(ident, "methods");
	method = json_string_value(json_array_get(methods, 0));
	if (!json_is_object(ident) || method == NULL) {
		keystone_error(req, resp, 400, "Bad Request",
			       "Expecting to find identity in auth. The server "
			       "could not comply with the request since it is "
			       "either malformed or otherwise incorrect. The "
			       "client is assumed to be in error.");
		goto out;
	}
	if (!strcmp(method, "password")) {
		json_t *pw = json_object_get(ident, "password");
		json_t *u = json_object_get(pw, "user");
		const char *secret =
			json_string_value(json_object_get(u, "password"));

		user = user_ok(sim, u);
		if (user && !sim_check_user(sim, user, secret ? secret : ""))
			user = NULL;
	} else if (!strcmp(method, "application_credential")) {
		json_t *ac = json_object_get(ident, "application_credential");
		const char *id = json_string_value(json_object_get(ac, "id"));
		const char *name =
			json_string_value(json_object_get(ac, "name"));
		const char *secret =
			json_string_value(json_object_get(ac, "secret"));

		appcred = true;
		if ((id && !strcmp(id, APPCRED)) ||
		    (name && !strcmp(name, APPCRED) &&
		     user_ok(sim, json_object_get(ac, "user"))))
			user = sim->opts.user;
		if (user && !sim_check_user(sim, user, secret ? secret : ""))
			user = NULL;
	} else if (!strcmp(method, "token")) {
		const char *old = json_string_value(
			json_object_get(json_object_get(ident, "token"), "id"));

		if (sim_session_peek(sim, SIM_OSP, old, &si) == SIM_SESSION_OK)
			user = sim->opts.user;
	}
	if (user == NULL) {
		unauthorized(req, resp);
		goto out;
	}
	scope = json_object_get(json_object_get(body, "auth"), "scope");
	proj = json_object_get(scope, "project");
	if (!appcred && proj != NULL) {
		const char *id = json_string_value(json_object_get(proj, "id"));
		const char *name =
			json_string_value(json_object_get(proj, "name"));

		if (name != NULL && domain_ok(json_object_get(proj, "domain")))
			pname = name;
		else if (id != NULL)
			pname = id;
		else {
			unauthorized(req, resp);
			goto out;
		}
	}
	/* A project given by id keeps that id; by name, the id is
	 * derived from the name. */
	if (proj != NULL && json_object_get(proj, "name") == NULL)
		snprintf(pid, sizeof(pid), "%.32s", pname);
	else
		derive_id("project", pname, pid);
	sim_session_new_scoped(sim, SIM_OSP, user, pid, pname, tok);
	if (sim_session_peek(sim, SIM_OSP, tok, &si) != SIM_SESSION_OK) {
		nova_error(resp, 500, "out of memory");
		goto out;
	}
	sim_resp_header(resp, "X-Subject-Token", tok);
	sim_resp_header(resp, "Vary", "X-Auth-Token");
	sim_resp_json(resp, 201,
		      token_body(req,
				 appcred ? "application_credential" : method,
				 &si, appcred));
out:
	json_decref(body);
}

/* GET /identity/v3/auth/tokens: validate X-Subject-Token. */
static void ks_validate(struct sim_req *req, struct sim_resp *resp)
{
	struct sim *sim = req->sim;
	const char *subject = sim_req_header(req, "X-Subject-Token");
	struct sim_session_info si;

	add_request_id(req, resp);
	if (sim_session_use(sim, SIM_OSP, sim_req_header(req, "X-Auth-Token"),
			    NULL) != SIM_SESSION_OK) {
		unauthorized(req, resp);
		return;
	}
	if (sim_session_peek(sim, SIM_OSP, subject, &si) != SIM_SESSION_OK) {
		keystone_error(req, resp, 404, "Not Found",
			       "Could not find token.");
		return;
	}
	sim_resp_header(resp, "X-Subject-Token", subject);
	sim_resp_json(resp, 200, token_body(req, "password", &si, false));
}

/* DELETE /identity/v3/auth/tokens: revoke. */
static void ks_revoke(struct sim_req *req, struct sim_resp *resp)
{
	struct sim *sim = req->sim;

	add_request_id(req, resp);
	if (sim_session_use(sim, SIM_OSP, sim_req_header(req, "X-Auth-Token"),
			    NULL) != SIM_SESSION_OK) {
		unauthorized(req, resp);
		return;
	}
	if (sim_session_end(sim, SIM_OSP,
			    sim_req_header(req, "X-Subject-Token")) < 0) {
		keystone_error(req, resp, 404, "Not Found",
			       "Could not find token.");
		return;
	}
	sim_resp_empty(resp, 204);
}

/* ------------------------------------------------------------------ */
/* Nova: rendering. */

struct osp_state {
	const char *vm_state;
	int power_state;
};

static struct osp_state vm_state_of(const char *status)
{
	static const struct {
		const char *status, *vm_state;
		int power;
	} map[] = {
		{"ACTIVE", "active", 1},
		{"SHUTOFF", "stopped", 4},
		{"PAUSED", "paused", 3},
		{"SUSPENDED", "suspended", 7},
		{"ERROR", "error", 0},
		{"SOFT_DELETED", "soft-delete", 4},
		{"BUILD", "building", 0},
		{"SHELVED_OFFLOADED", "shelved_offloaded", 4},
		{"SHELVED", "shelved", 4},
		{"RESCUE", "rescued", 1},
	};
	struct osp_state st = {"active", 1};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (!strcmp(map[i].status, status)) {
			st.vm_state = map[i].vm_state;
			st.power_state = map[i].power;
		}
	}
	return st;
}

/* The status Nova shows: a failed delete leaves the server in ERROR. */
static const char *status_of(const struct sim_vm *vm)
{
	return vm->del == SIM_DEL_FAILED ? "ERROR" : vm->state;
}

static bool is_deleting(const struct sim_vm *vm)
{
	return vm->del == SIM_DEL_PENDING || vm->del == SIM_DEL_STUCK ||
	       vm->del == SIM_DEL_FAILING;
}

static size_t flavor_of(const struct sim_vm *vm)
{
	size_t h = 0;

	for (const char *s = vm->id; *s; s++)
		h = h * 31 + (unsigned char)*s;
	return h % NFLAVORS;
}

/* "<base>/compute/v2.1[/<project>]/<what>" and the bookmark form. */
static json_t *links(const struct osp_ctx *ctx, const char *what)
{
	char self[600], bookmark[600];
	const char *p = ctx->project;

	snprintf(self, sizeof(self), "%s/compute/v2.1%s%s/%s", ctx->base,
		 p ? "/" : "", p ? p : "", what);
	snprintf(bookmark, sizeof(bookmark), "%s/compute%s%s/%s", ctx->base,
		 p ? "/" : "", p ? p : "", what);
	return json_pack("[{ssss}{ssss}]", "href", self, "rel", "self", "href",
			 bookmark, "rel", "bookmark");
}

static json_t *flavor_json(const struct osp_ctx *ctx, size_t f, int mv,
			   bool in_server)
{
	char what[64];
	json_t *j;

	if (in_server && mv >= 47)
		return json_pack("{sisisisisissso}", "vcpus", flavors[f].vcpus,
				 "ram", flavors[f].ram, "disk", flavors[f].disk,
				 "ephemeral", 0, "swap", 0, "original_name",
				 flavors[f].name, "extra_specs", json_object());
	snprintf(what, sizeof(what), "flavors/%s", flavors[f].id);
	if (in_server)
		return json_pack("{ssso}", "id", flavors[f].id, "links",
				 links(ctx, what));
	j = json_pack("{sssssisisisosssbsbsisf}", "id", flavors[f].id, "name",
		      flavors[f].name, "ram", flavors[f].ram, "disk",
		      flavors[f].disk, "vcpus", flavors[f].vcpus, "links",
		      links(ctx, what), "swap", "", "OS-FLV-DISABLED:disabled",
		      0, "os-flavor-access:is_public", 1,
		      "OS-FLV-EXT-DATA:ephemeral", 0, "rxtx_factor", 1.0);
	if (j != NULL && mv >= 55)
		json_object_set_new(j, "description", json_null());
	if (j != NULL && mv >= 61)
		json_object_set_new(j, "extra_specs", json_object());
	return j;
}

/* The launch time Nova prints: no zone, microseconds. */
static json_t *usage_time(int64_t t)
{
	char s[40], out[48];

	if (t == 0)
		return json_null();
	sim_time_str(t, s, sizeof(s));
	snprintf(out, sizeof(out), "%.19s.000000", s);
	return json_string(out);
}

static json_t *server_json(const struct osp_ctx *ctx, const struct sim_vm *vm,
			   bool detail)
{
	char what[80], user_id[33], img[64];
	const char *status = status_of(vm);
	struct osp_state st = vm_state_of(status);
	bool launched = strcmp(vm->state, "BUILD") != 0 &&
			!(vm->fault_msg && !strcmp(vm->state, "ERROR"));
	json_t *j, *meta, *tags;

	snprintf(what, sizeof(what), "servers/%s", vm->id);
	if (!detail)
		return json_pack("{ssssso}", "id", vm->id, "name", vm->name,
				 "links", links(ctx, what));
	derive_id("user", ctx->sess.user, user_id);
	snprintf(img, sizeof(img), "images/%s", IMAGE_ID);
	meta = json_object();
	for (size_t i = 0; i < vm->nmeta; i++)
		json_object_set_new(meta, vm->meta[i].key,
				    json_string(vm->meta[i].value));
	if ((j = json_object()) == NULL) {
		json_decref(meta);
		return NULL;
	}
	json_object_set_new(j, "id", json_string(vm->id));
	json_object_set_new(j, "name", json_string(vm->name));
	json_object_set_new(j, "status", json_string(status));
	json_object_set_new(j, "created", sim_json_time(vm->created));
	json_object_set_new(
		j, "updated",
		sim_json_time(vm->updated ? vm->updated : vm->created));
	json_object_set_new(j, "tenant_id", json_string(ctx->sess.project));
	json_object_set_new(j, "user_id", json_string(user_id));
	json_object_set_new(j, "metadata", meta);
	json_object_set_new(j, "hostId", json_string(""));
	json_object_set_new(
		j, "image",
		json_pack("{ssso}", "id", IMAGE_ID, "links", links(ctx, img)));
	json_object_set_new(j, "flavor",
			    flavor_json(ctx, flavor_of(vm), ctx->mv, true));
	json_object_set_new(j, "addresses", json_object());
	json_object_set_new(j, "accessIPv4", json_string(""));
	json_object_set_new(j, "links", links(ctx, what));
	json_object_set_new(j, "key_name", json_null());
	json_object_set_new(j, "config_drive", json_string(""));
	json_object_set_new(j, "progress", json_integer(0));
	json_object_set_new(j, "OS-DCF:diskConfig", json_string("MANUAL"));
	json_object_set_new(j, "OS-EXT-AZ:availability_zone",
			    json_string("nova"));
	json_object_set_new(j, "OS-EXT-STS:task_state",
			    is_deleting(vm) ? json_string("deleting")
					    : json_null());
	json_object_set_new(j, "OS-EXT-STS:vm_state", json_string(st.vm_state));
	json_object_set_new(j, "OS-EXT-STS:power_state",
			    json_integer(st.power_state));
	json_object_set_new(j, "OS-SRV-USG:launched_at",
			    launched ? usage_time(vm->created + 40)
				     : json_null());
	json_object_set_new(j, "OS-SRV-USG:terminated_at", json_null());
	json_object_set_new(j, "os-extended-volumes:volumes_attached",
			    json_array());
	json_object_set_new(j, "security_groups",
			    json_pack("[{ss}]", "name", "default"));
	json_object_set_new(j, "accessIPv6", json_string(""));
	if (ctx->mv >= 9)
		json_object_set_new(j, "locked", json_boolean(vm->locked));
	if (ctx->mv >= 19)
		json_object_set_new(j, "description",
				    vm->description
					    ? json_string(vm->description)
					    : json_null());
	if (ctx->mv >= 26) {
		tags = json_array();
		for (size_t i = 0; i < vm->ntags; i++)
			json_array_append_new(tags, json_string(vm->tags[i]));
		json_object_set_new(j, "tags", tags);
	}
	if (ctx->mv >= 63)
		json_object_set_new(j, "trusted_image_certificates",
				    json_null());
	if (ctx->mv >= 73)
		json_object_set_new(j, "locked_reason", json_null());
	if (ctx->mv >= 90)
		json_object_set_new(j, "OS-EXT-SRV-ATTR:hostname",
				    json_string(vm->name));
	if (ctx->mv >= 96)
		json_object_set_new(j, "pinned_availability_zone", json_null());
	if (!strcmp(status, "ERROR")) {
		json_object_set_new(
			j, "fault",
			json_pack("{sisoss}", "code", 500, "created",
				  sim_json_time(vm->fault_time ? vm->fault_time
							       : vm->updated),
				  "message",
				  vm->fault_msg ? vm->fault_msg
						: "Unknown error"));
	}
	return j;
}

/* ------------------------------------------------------------------ */
/* Nova: listing. */

struct list_filter {
	bool have_regex;
	regex_t regex;
	const char *status[8];
	size_t nstatus;
	const char *tags, *tags_any, *not_tags, *not_tags_any;
	int locked; /* -1 any */
};

/* Whether vm carries every (all) or any (!all) tag of the list. */
static bool tags_match(const struct sim_vm *vm, const char *list, bool all)
{
	char tag[128];
	const char *p = list;

	while (*p) {
		size_t n = strcspn(p, ",");
		bool has;

		snprintf(tag, sizeof(tag), "%.*s", (int)n, p);
		has = sim_vm_has_tag(vm, tag);
		if (all && !has)
			return false;
		if (!all && has)
			return true;
		p += n;
		if (*p == ',')
			p++;
	}
	return all;
}

static bool filter_match(const struct list_filter *f, const struct sim_vm *vm)
{
	if (f->have_regex && regexec(&f->regex, vm->name, 0, NULL, 0) != 0)
		return false;
	if (f->nstatus > 0) {
		bool any = false;

		for (size_t i = 0; i < f->nstatus; i++)
			if (!strcasecmp(f->status[i], status_of(vm)))
				any = true;
		if (!any)
			return false;
	}
	if (f->tags && !tags_match(vm, f->tags, true))
		return false;
	if (f->tags_any && !tags_match(vm, f->tags_any, false))
		return false;
	if (f->not_tags && tags_match(vm, f->not_tags, true))
		return false;
	if (f->not_tags_any && tags_match(vm, f->not_tags_any, false))
		return false;
	if (f->locked >= 0 && vm->locked != (f->locked == 1))
		return false;
	return true;
}

/* The next link as Nova builds it: the request's parameters with the
 * marker set to the last id. */
static char *next_link(struct sim_req *req, const struct osp_ctx *ctx,
		       const char *collection, const char *last_id)
{
	struct vs_buf b;
	bool marker_done = false;
	const char *p = ctx->project;

	vs_buf_init(&b, 64 * 1024);
	vs_buf_addf(&b, "%s/compute/v2.1%s%s/%s?", ctx->base, p ? "/" : "",
		    p ? p : "", collection);
	for (size_t i = 0; i < req->nquery; i++) {
		const char *k = req->query[i].key;
		const char *v = req->query[i].value;

		if (!strcmp(k, "marker")) {
			if (marker_done)
				continue;
			v = last_id;
			marker_done = true;
		}
		if (b.s[b.len - 1] != '?')
			vs_buf_addc(&b, '&');
		vs_buf_add_urlencoded(&b, k);
		vs_buf_addc(&b, '=');
		vs_buf_add_urlencoded(&b, v);
	}
	if (!marker_done) {
		if (b.s[b.len - 1] != '?')
			vs_buf_addc(&b, '&');
		vs_buf_adds(&b, "marker=");
		vs_buf_add_urlencoded(&b, last_id);
	}
	return vs_buf_detach(&b, NULL);
}

static bool parse_filter(struct sim_req *req, struct sim_resp *resp,
			 const struct osp_ctx *ctx, struct list_filter *f)
{
	const char *name = sim_req_query(req, "name");
	const char *locked = sim_req_query(req, "locked");

	memset(f, 0, sizeof(*f));
	f->locked = -1;
	if (name != NULL && *name) {
		/* Nova hands the pattern to the database's REGEXP, which
		 * on MySQL's default collation ignores case. */
		if (regcomp(&f->regex, name,
			    REG_EXTENDED | REG_NOSUB | REG_ICASE) != 0) {
			nova_error(resp, 400,
				   "Invalid regular expression in "
				   "the name filter.");
			return false;
		}
		f->have_regex = true;
	}
	f->nstatus = sim_req_query_all(req, "status", f->status, 8);
	if (f->nstatus > 8)
		f->nstatus = 8;
	if (ctx->mv >= 26) {
		f->tags = sim_req_query(req, "tags");
		f->tags_any = sim_req_query(req, "tags-any");
		f->not_tags = sim_req_query(req, "not-tags");
		f->not_tags_any = sim_req_query(req, "not-tags-any");
	}
	if (ctx->mv >= 73 && locked != NULL)
		f->locked = !strcasecmp(locked, "true") || !strcmp(locked, "1");
	return true;
}

static int dump_cb(const char *buffer, size_t size, void *data)
{
	return vs_buf_add(data, buffer, size) == 0 ? 0 : -1;
}

/* Append j (stolen) to b as compact JSON. */
static void dump_into(struct vs_buf *b, json_t *j)
{
	if (j == NULL)
		return;
	json_dump_callback(j, dump_cb, b, JSON_COMPACT);
	json_decref(j);
}

static void list_servers(struct sim_req *req, struct sim_resp *resp,
			 bool detail)
{
	struct sim *sim = req->sim;
	struct sim_inv *inv = &sim->inv[SIM_OSP];
	const char *lim = sim_req_query(req, "limit");
	const char *marker = sim_req_query(req, "marker");
	struct osp_ctx ctx;
	struct list_filter f;
	long limit = MAX_LIMIT;
	size_t start = 0, count = 0;
	const char *last = NULL;
	char last_id[SIM_ID_MAX];
	struct vs_buf out;
	json_t *links_j;
	char *text;
	size_t len;

	if (!begin(req, resp, &ctx, true))
		return;
	if (lim != NULL) {
		char *end;

		limit = strtol(lim, &end, 10);
		if (*lim == '\0' || *end != '\0') {
			nova_error(resp, 400, "limit param must be an integer");
			return;
		}
		if (limit < 0) {
			nova_error(resp, 400, "limit param must be positive");
			return;
		}
		if (limit == 0 || limit > MAX_LIMIT)
			limit = MAX_LIMIT;
	}
	if (!parse_filter(req, resp, &ctx, &f))
		return;
	/* Each server is serialised as soon as it is built, so a page of
	 * a thousand never exists as one big JSON tree. */
	vs_buf_init(&out, 0);
	vs_buf_adds(&out, "{\"servers\":[");
	pthread_mutex_lock(&inv->lock);
	if (marker != NULL) {
		struct sim_vm *m = sim_inv_find_any_nolock(inv, marker);

		if (m == NULL) {
			char msg[160];

			pthread_mutex_unlock(&inv->lock);
			snprintf(msg, sizeof(msg), "marker [%.64s] not found",
				 marker);
			nova_error(resp, 400, msg);
			vs_buf_release(&out);
			goto out;
		}
		start = m->pos + 1;
	}
	for (size_t i = start; i < inv->n && count < (size_t)limit; i++) {
		struct sim_vm *vm = inv->vms[i];

		if (vm->gone || !filter_match(&f, vm))
			continue;
		if (!sim_vm_observe_nolock(sim, inv, vm))
			continue;
		if (count > 0)
			vs_buf_addc(&out, ',');
		dump_into(&out, server_json(&ctx, vm, detail));
		last = vm->id;
		count++;
	}
	if (last != NULL)
		snprintf(last_id, sizeof(last_id), "%s", last);
	pthread_mutex_unlock(&inv->lock);
	vs_buf_addc(&out, ']');
	if (count == (size_t)limit && last != NULL) {
		char *href = next_link(req, &ctx,
				       detail ? "servers/detail" : "servers",
				       last_id);

		links_j = json_pack("[{ssss}]", "href", href ? href : "", "rel",
				    "next");
		vs_buf_adds(&out, ",\"servers_links\":");
		dump_into(&out, links_j);
		free(href);
	}
	vs_buf_addc(&out, '}');
	text = vs_buf_detach(&out, &len);
	if (text == NULL) {
		nova_error(resp, 500, "out of memory");
		goto out;
	}
	/* Hand the page over without another copy. */
	sim_resp_empty(resp, 200);
	resp->body = text;
	resp->body_len = len;
	sim_resp_header(resp, "Content-Type", "application/json");
out:
	if (f.have_regex)
		regfree(&f.regex);
}

static void nova_servers(struct sim_req *req, struct sim_resp *resp)
{
	list_servers(req, resp, false);
}

static void nova_servers_detail(struct sim_req *req, struct sim_resp *resp)
{
	list_servers(req, resp, true);
}

/* ------------------------------------------------------------------ */
/* Nova: one server. */

static void not_found(struct sim_resp *resp, const char *id)
{
	char msg[160];

	snprintf(msg, sizeof(msg), "Instance %.64s could not be found.", id);
	nova_error(resp, 404, msg);
}

static void nova_server_get(struct sim_req *req, struct sim_resp *resp)
{
	struct sim *sim = req->sim;
	struct sim_inv *inv = &sim->inv[SIM_OSP];
	const char *id = sim_req_param(req, "id");
	struct osp_ctx ctx;
	struct sim_vm *vm;
	json_t *j = NULL;

	if (!begin(req, resp, &ctx, true))
		return;
	pthread_mutex_lock(&inv->lock);
	vm = sim_inv_find_nolock(inv, id);
	if (vm != NULL && sim_vm_observe_nolock(sim, inv, vm))
		j = server_json(&ctx, vm, true);
	pthread_mutex_unlock(&inv->lock);
	if (j == NULL) {
		not_found(resp, id);
		return;
	}
	sim_resp_json(resp, 200, json_pack("{so}", "server", j));
}

static void locked_conflict(struct sim_resp *resp, const char *id)
{
	char msg[160];

	snprintf(msg, sizeof(msg), "Instance %.64s is locked", id);
	nova_error(resp, 409, msg);
}

static void nova_server_delete(struct sim_req *req, struct sim_resp *resp)
{
	struct sim *sim = req->sim;
	struct sim_inv *inv = &sim->inv[SIM_OSP];
	const char *id = sim_req_param(req, "id");
	struct osp_ctx ctx;
	struct sim_vm *vm;
	int status = 204;

	if (!begin(req, resp, &ctx, true))
		return;
	pthread_mutex_lock(&inv->lock);
	vm = sim_inv_find_nolock(inv, id);
	if (vm == NULL)
		status = 404;
	else if (vm->locked)
		status = 409;
	else if (!is_deleting(vm))
		sim_vm_delete_nolock(sim, SIM_OSP, vm, -1);
	/* A second delete while one runs is accepted and changes
	 * nothing, as in Nova. */
	pthread_mutex_unlock(&inv->lock);
	if (status == 404)
		not_found(resp, id);
	else if (status == 409)
		locked_conflict(resp, id);
	else
		sim_resp_empty(resp, 204);
}

static void state_conflict(struct sim_resp *resp, const char *action,
			   const char *id, const char *vm_state)
{
	char msg[240];

	snprintf(msg, sizeof(msg),
		 "Cannot '%.40s' instance %.64s while it is in vm_state %.32s",
		 action, id, vm_state);
	nova_error(resp, 409, msg);
}

/* POST /servers/{id}/action: forceDelete, restore, os-stop, os-start,
 * lock, unlock. */
static void nova_server_action(struct sim_req *req, struct sim_resp *resp)
{
	struct sim *sim = req->sim;
	struct sim_inv *inv = &sim->inv[SIM_OSP];
	const char *id = sim_req_param(req, "id");
	json_t *body = sim_req_json(req);
	const char *action = NULL;
	struct osp_ctx ctx;
	struct sim_vm *vm;
	char msg[200];

	if (!begin(req, resp, &ctx, true))
		goto out;
	if (!json_is_object(body) || json_object_size(body) != 1) {
		nova_error(resp, 400, "Malformed request body");
		goto out;
	}
	action = json_object_iter_key(json_object_iter(body));
	pthread_mutex_lock(&inv->lock);
	vm = sim_inv_find_nolock(inv, id);
	if (vm == NULL) {
		pthread_mutex_unlock(&inv->lock);
		not_found(resp, id);
		goto out;
	}
	msg[0] = '\0';
	if (vm->locked && strcmp(action, "unlock") != 0 &&
	    strcmp(action, "lock") != 0) {
		pthread_mutex_unlock(&inv->lock);
		locked_conflict(resp, id);
		goto out;
	}
	if (!strcmp(action, "forceDelete") || !strcmp(action, "restore")) {
		if (strcmp(vm->state, "SOFT_DELETED") != 0 || is_deleting(vm))
			snprintf(msg, sizeof(msg), "%s",
				 vm_state_of(status_of(vm)).vm_state);
		else if (!strcmp(action, "restore"))
			snprintf(vm->state, sizeof(vm->state), "ACTIVE");
		else
			sim_vm_delete_nolock(sim, SIM_OSP, vm, -1);
	} else if (!strcmp(action, "os-stop") || !strcmp(action, "os-start")) {
		bool stop = !strcmp(action, "os-stop");
		const char *from = stop ? "ACTIVE" : "SHUTOFF";

		if (strcmp(status_of(vm), from) != 0 || is_deleting(vm))
			snprintf(msg, sizeof(msg), "%s",
				 vm_state_of(status_of(vm)).vm_state);
		else
			snprintf(vm->state, sizeof(vm->state), "%s",
				 stop ? "SHUTOFF" : "ACTIVE");
	} else if (!strcmp(action, "lock") || !strcmp(action, "unlock")) {
		vm->locked = action[0] == 'l';
	} else {
		pthread_mutex_unlock(&inv->lock);
		snprintf(msg, sizeof(msg), "There is no such action: %.64s",
			 action);
		nova_error(resp, 400, msg);
		goto out;
	}
	if (msg[0] == '\0')
		vm->updated = vs_time_now();
	pthread_mutex_unlock(&inv->lock);
	if (msg[0] != '\0')
		state_conflict(resp, action, id, msg);
	else
		sim_resp_empty(resp, 202);
out:
	json_decref(body);
}

static void nova_server_tags(struct sim_req *req, struct sim_resp *resp)
{
	struct sim_inv *inv = &req->sim->inv[SIM_OSP];
	const char *id = sim_req_param(req, "id");
	struct osp_ctx ctx;
	struct sim_vm *vm;
	json_t *tags = NULL;

	if (!begin(req, resp, &ctx, true))
		return;
	if (ctx.mv < 26) {
		nova_error(resp, 404, "The resource could not be found.");
		return;
	}
	pthread_mutex_lock(&inv->lock);
	if ((vm = sim_inv_find_nolock(inv, id)) != NULL) {
		tags = json_array();
		for (size_t i = 0; i < vm->ntags; i++)
			json_array_append_new(tags, json_string(vm->tags[i]));
	}
	pthread_mutex_unlock(&inv->lock);
	if (tags == NULL)
		not_found(resp, id);
	else
		sim_resp_json(resp, 200, json_pack("{so}", "tags", tags));
}

static void nova_server_metadata(struct sim_req *req, struct sim_resp *resp)
{
	struct sim_inv *inv = &req->sim->inv[SIM_OSP];
	const char *id = sim_req_param(req, "id");
	struct osp_ctx ctx;
	struct sim_vm *vm;
	json_t *meta = NULL;

	if (!begin(req, resp, &ctx, true))
		return;
	pthread_mutex_lock(&inv->lock);
	if ((vm = sim_inv_find_nolock(inv, id)) != NULL) {
		meta = json_object();
		for (size_t i = 0; i < vm->nmeta; i++)
			json_object_set_new(meta, vm->meta[i].key,
					    json_string(vm->meta[i].value));
	}
	pthread_mutex_unlock(&inv->lock);
	if (meta == NULL)
		not_found(resp, id);
	else
		sim_resp_json(resp, 200, json_pack("{so}", "metadata", meta));
}

/* ------------------------------------------------------------------ */
/* Nova: flavors, versions, limits. */

static void nova_flavor(struct sim_req *req, struct sim_resp *resp)
{
	const char *id = sim_req_param(req, "flavor");
	struct osp_ctx ctx;
	char msg[120];

	if (!begin(req, resp, &ctx, true))
		return;
	for (size_t f = 0; f < NFLAVORS; f++) {
		if (!strcmp(flavors[f].id, id) ||
		    !strcmp(flavors[f].name, id)) {
			sim_resp_json(
				resp, 200,
				json_pack("{so}", "flavor",
					  flavor_json(&ctx, f, ctx.mv, false)));
			return;
		}
	}
	snprintf(msg, sizeof(msg), "Flavor %.64s could not be found.", id);
	nova_error(resp, 404, msg);
}

static void flavor_list(struct sim_req *req, struct sim_resp *resp, bool detail)
{
	struct osp_ctx ctx;
	json_t *list;

	if (!begin(req, resp, &ctx, true))
		return;
	list = json_array();
	for (size_t f = 0; f < NFLAVORS; f++) {
		char what[64];

		snprintf(what, sizeof(what), "flavors/%s", flavors[f].id);
		json_array_append_new(
			list,
			detail ? flavor_json(&ctx, f, ctx.mv, false)
			       : json_pack("{sssssoso}", "id", flavors[f].id,
					   "name", flavors[f].name, "links",
					   links(&ctx, what), "description",
					   json_null()));
	}
	sim_resp_json(resp, 200, json_pack("{so}", "flavors", list));
}

static void nova_flavors(struct sim_req *req, struct sim_resp *resp)
{
	flavor_list(req, resp, false);
}

static void nova_flavors_detail(struct sim_req *req, struct sim_resp *resp)
{
	flavor_list(req, resp, true);
}

static void nova_limits(struct sim_req *req, struct sim_resp *resp)
{
	struct osp_ctx ctx;

	if (!begin(req, resp, &ctx, true))
		return;
	sim_resp_json(resp, 200,
		      json_pack("{s{s[]s{sisisisisisisisisisisi}}}", "limits",
				"rate", "absolute", "maxTotalInstances", 100000,
				"maxTotalCores", 100000, "maxTotalRAMSize",
				100000000, "maxServerMeta", 128, "maxImageMeta",
				128, "maxPersonality", 5, "maxPersonalitySize",
				10240, "totalInstancesUsed", 0,
				"totalCoresUsed", 0, "totalRAMUsed", 0,
				"maxServerGroups", 10));
}

static json_t *compute_version(const char *base, bool current)
{
	char href[400];

	snprintf(href, sizeof(href), "%s/compute/v2.1/", base);
	return json_pack("{sssssssssss[{ssss}]s[{ssss}]}", "id", "v2.1",
			 "status", current ? "CURRENT" : "CURRENT", "version",
			 MV_MAX_STR, "min_version", "2.1", "updated",
			 "2013-07-23T11:33:21Z", "links", "rel", "self", "href",
			 href, "media-types", "base", "application/json",
			 "type",
			 "application/vnd.openstack.compute+json;version=2.1");
}

static void nova_root(struct sim_req *req, struct sim_resp *resp)
{
	char base[300];

	sim_req_base_url(req, base, sizeof(base));
	add_request_id(req, resp);
	sim_resp_json(
		resp, 200,
		json_pack("{s[o]}", "versions", compute_version(base, true)));
}

static void nova_version(struct sim_req *req, struct sim_resp *resp)
{
	char base[300];
	int mv = parse_microversion(req, resp);

	if (mv < 0)
		return;
	version_headers(resp, mv);
	sim_req_base_url(req, base, sizeof(base));
	add_request_id(req, resp);
	sim_resp_json(
		resp, 200,
		json_pack("{so}", "version", compute_version(base, true)));
}

/* ------------------------------------------------------------------ */
/* Glance, Neutron, Cinder: only what the client's lookups ask. */

static void service_versions(struct sim_req *req, struct sim_resp *resp,
			     int status, const char *id, const char *path,
			     const char *version)
{
	char base[300], href[400];
	json_t *v;

	sim_req_base_url(req, base, sizeof(base));
	snprintf(href, sizeof(href), "%s%s", base, path);
	add_request_id(req, resp);
	v = json_pack("{sssss[{ssss}]}", "id", id, "status", "CURRENT", "links",
		      "href", href, "rel", "self");
	if (v != NULL && version != NULL) {
		json_object_set_new(v, "version", json_string(version));
		json_object_set_new(v, "min_version", json_string("3.0"));
	}
	sim_resp_json(resp, status, json_pack("{s[o]}", "versions", v));
}

static void image_root(struct sim_req *req, struct sim_resp *resp)
{
	service_versions(req, resp, 300, "v2.16", "/image/v2/", NULL);
}

static void network_root(struct sim_req *req, struct sim_resp *resp)
{
	service_versions(req, resp, 200, "v2.0", "/network/v2.0/", NULL);
}

static void volume_root(struct sim_req *req, struct sim_resp *resp)
{
	service_versions(req, resp, 300, "v3.0", "/volume/v3/", "3.70");
}

static json_t *image_json(const char *base)
{
	char self[400], file[400];

	snprintf(self, sizeof(self), "/v2/images/%s", IMAGE_ID);
	snprintf(file, sizeof(file), "/v2/images/%s/file", IMAGE_ID);
	(void)base;
	return json_pack("{sssssssssssisssssssbsbsssssissso}", "id", IMAGE_ID,
			 "name", "cirros-0.6.2-x86_64-disk", "status", "active",
			 "container_format", "bare", "disk_format", "qcow2",
			 "size", 21430272, "visibility", "public", "created_at",
			 "2024-01-10T10:00:00Z", "updated_at",
			 "2024-01-10T10:00:05Z", "protected", 0, "os_hidden", 0,
			 "self", self, "file", file, "min_disk", 0, "schema",
			 "/v2/schemas/image", "tags", json_array());
}

static void image_list(struct sim_req *req, struct sim_resp *resp)
{
	struct osp_ctx ctx;

	if (!begin(req, resp, &ctx, false))
		return;
	sim_resp_json(resp, 200,
		      json_pack("{s[o]ssss}", "images", image_json(ctx.base),
				"first", "/v2/images", "schema",
				"/v2/schemas/images"));
}

static void image_get(struct sim_req *req, struct sim_resp *resp)
{
	struct osp_ctx ctx;
	const char *id = sim_req_param(req, "id");
	char msg[160];

	if (!begin(req, resp, &ctx, false))
		return;
	if (!strcmp(id, IMAGE_ID)) {
		sim_resp_json(resp, 200, image_json(ctx.base));
		return;
	}
	snprintf(msg, sizeof(msg), "No image found with ID %.64s", id);
	sim_resp_body(resp, 404, "text/plain; charset=UTF-8", msg, strlen(msg));
}

/* Any Neutron or Cinder collection: empty.  "security-groups" is
 * answered as {"security_groups": []}. */
static void empty_collection(struct sim_req *req, struct sim_resp *resp)
{
	const char *res = sim_req_param(req, "resource");
	char key[64];
	size_t n;
	struct osp_ctx ctx;

	if (!begin(req, resp, &ctx, false))
		return;
	n = strcspn(res, ".");
	if (n >= sizeof(key))
		n = sizeof(key) - 1;
	for (size_t i = 0; i < n; i++)
		key[i] = res[i] == '-' ? '_' : res[i];
	key[n] = '\0';
	sim_resp_json(resp, 200, json_pack("{s[]}", key));
}

static void volumes_detail(struct sim_req *req, struct sim_resp *resp)
{
	struct osp_ctx ctx;

	if (!begin(req, resp, &ctx, false))
		return;
	sim_resp_json(resp, 200, json_pack("{s[]}", "volumes"));
}

static void neutron_not_found(struct sim_req *req, struct sim_resp *resp)
{
	struct osp_ctx ctx;
	char msg[200];

	if (!begin(req, resp, &ctx, false))
		return;
	snprintf(msg, sizeof(msg), "%.60s %.64s could not be found.",
		 sim_req_param(req, "resource"), sim_req_param(req, "id"));
	sim_resp_json(resp, 404,
		      json_pack("{s{ssssss}}", "NeutronError", "type",
				"NotFound", "message", msg, "detail", ""));
}

/* ------------------------------------------------------------------ */

/* Every injected fault and unknown route, the way each service's
 * front end would say it. */
static void osp_error(struct sim_req *req, struct sim_resp *resp, int status,
		      const char *msg, unsigned retry_after)
{
	add_request_id(req, resp);
	if (status == 502) {
		/* A gateway in front of the API, not the API itself. */
		static const char html[] =
			"<html><body><h1>502 Bad Gateway</h1>\nThe server "
			"returned an invalid or incomplete response.\n"
			"</body></html>\n";

		sim_resp_body(resp, 502, "text/html", html, strlen(html));
		return;
	}
	if (!strncmp(req->path, "/identity", 9)) {
		keystone_error(req, resp, status,
			       status == 429   ? "Too Many Requests"
			       : status == 404 ? "Not Found"
			       : status == 405 ? "Method Not Allowed"
			       : status == 413 ? "Request Entity Too Large"
			       : status == 503 ? "Service Unavailable"
					       : "Internal Server Error",
			       msg);
		return;
	}
	if (!strncmp(req->path, "/compute", 8)) {
		int mv = 1;
		struct sim_resp tmp;

		/* Echo the microversion like Nova does on any response;
		 * a malformed one just falls back to 2.1 here. */
		memset(&tmp, 0, sizeof(tmp));
		mv = parse_microversion(req, &tmp);
		free(tmp.body);
		for (size_t i = 0; i < tmp.nheaders; i++) {
			free((char *)tmp.headers[i].key);
			free((char *)tmp.headers[i].value);
		}
		version_headers(resp, mv < 0 ? 1 : mv);
	}
	if (status == 429 || status == 413) {
		char ra[16];
		json_t *body;
		char *s;

		snprintf(ra, sizeof(ra), "%u", retry_after);
		body = json_pack("{s{siss}}", "overLimit", "code", status,
				 "message", msg);
		if (retry_after > 0)
			json_object_set_new(json_object_get(body, "overLimit"),
					    "retryAfter", json_string(ra));
		s = json_dumps(body, JSON_COMPACT);
		json_decref(body);
		sim_resp_body(resp, status, "application/json; charset=UTF-8",
			      s ? s : "{}", s ? strlen(s) : 2);
		free(s);
		return;
	}
	nova_error(resp, status, msg);
}

#define V21  "/compute/v2.1"
#define V21P "/compute/v2.1/{project_id}"

static const struct sim_route osp_routes[] = {
	{"GET", "/identity", "GET /identity", ks_root},
	{"GET", "/identity/v3", "GET /identity/v3", ks_v3},
	{"POST", "/identity/v3/auth/tokens", NULL, ks_tokens},
	{"GET", "/identity/v3/auth/tokens", NULL, ks_validate},
	{"DELETE", "/identity/v3/auth/tokens", NULL, ks_revoke},

	{"GET", "/compute", "GET /compute", nova_root},
	{"GET", V21, "GET /", nova_version},
	{"GET", V21 "/servers", "GET /servers", nova_servers},
	{"GET", V21 "/servers/detail", "GET /servers/detail",
	 nova_servers_detail},
	{"GET", V21 "/servers/{id}", "GET /servers/{id}", nova_server_get},
	{"DELETE", V21 "/servers/{id}", "DELETE /servers/{id}",
	 nova_server_delete},
	{"POST", V21 "/servers/{id}/action", "POST /servers/{id}/action",
	 nova_server_action},
	{"GET", V21 "/servers/{id}/tags", "GET /servers/{id}/tags",
	 nova_server_tags},
	{"GET", V21 "/servers/{id}/metadata", "GET /servers/{id}/metadata",
	 nova_server_metadata},
	{"GET", V21 "/flavors", "GET /flavors", nova_flavors},
	{"GET", V21 "/flavors/detail", "GET /flavors/detail",
	 nova_flavors_detail},
	{"GET", V21 "/flavors/{flavor}", "GET /flavors/{id}", nova_flavor},
	{"GET", V21 "/limits", "GET /limits", nova_limits},
	{"GET", V21P "/servers", "GET /servers", nova_servers},
	{"GET", V21P "/servers/detail", "GET /servers/detail",
	 nova_servers_detail},
	{"GET", V21P "/servers/{id}", "GET /servers/{id}", nova_server_get},
	{"DELETE", V21P "/servers/{id}", "DELETE /servers/{id}",
	 nova_server_delete},
	{"POST", V21P "/servers/{id}/action", "POST /servers/{id}/action",
	 nova_server_action},
	{"GET", V21P "/servers/{id}/tags", "GET /servers/{id}/tags",
	 nova_server_tags},
	{"GET", V21P "/servers/{id}/metadata", "GET /servers/{id}/metadata",
	 nova_server_metadata},
	{"GET", V21P "/flavors", "GET /flavors", nova_flavors},
	{"GET", V21P "/flavors/detail", "GET /flavors/detail",
	 nova_flavors_detail},
	{"GET", V21P "/flavors/{flavor}", "GET /flavors/{id}", nova_flavor},
	{"GET", V21P "/limits", "GET /limits", nova_limits},

	{"GET", "/image", "GET /image", image_root},
	{"GET", "/image/v2/images", "GET /image/v2/images", image_list},
	{"GET", "/image/v2/images/{id}", "GET /image/v2/images/{id}",
	 image_get},

	{"GET", "/network", "GET /network", network_root},
	{"GET", "/network/v2.0/{resource}", "GET /network/v2.0/{resource}",
	 empty_collection},
	{"GET", "/network/v2.0/{resource}/{id}",
	 "GET /network/v2.0/{resource}/{id}", neutron_not_found},

	{"GET", "/volume", "GET /volume", volume_root},
	{"GET", "/volume/v3/{project_id}/volumes/detail",
	 "GET /volume/v3/volumes/detail", volumes_detail},
	{"GET", "/volume/v3/{project_id}/{resource}",
	 "GET /volume/v3/{resource}", empty_collection},
};

static const struct sim_platform_ops osp_ops = {
	.platform = SIM_OSP,
	.prefixes = osp_prefixes,
	.routes = osp_routes,
	.nroutes = sizeof(osp_routes) / sizeof(osp_routes[0]),
	.error = osp_error,
	.reset = NULL,
};

void sim_osp_register(struct sim *sim)
{
	sim_platform_add(sim, &osp_ops);
}
