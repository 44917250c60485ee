/*
 * sim_rhv.c - the oVirt / RHV half of vmsweep-sim.
 *
 * Serves the engine's SSO token endpoint and the v4 REST API under
 * /ovirt-engine, in JSON written the way the engine writes it: booleans
 * as the strings "true"/"false", dates as epoch-millisecond numbers,
 * small integers as strings and memory as a number, an empty collection
 * as {} with no key, objects with href/id and link arrays.  Paths work
 * with and without the /v4 prefix; a "Version" header other than 4 is
 * refused.
 *
 * The VM lifecycle follows the engine: stop moves a VM to powering_down
 * and, a look or two later, to down; DELETE validates like
 * RemoveVmCommand (delete protection, running, suspended, locked unless
 * force) and then the VM lingers image_locked for --delete-polls looks
 * before GET gives 404.  The injected delete faults: delete-error
 * accepts the DELETE, lingers image_locked for --delete-polls looks and
 * then brings the VM back as it was (down), as when removing its disks
 * fails; delete-stuck accepts it and lingers image_locked forever.
 *
 * Tag ids are hashes of the tag names, so they need no state of their
 * own and stay stable across runs.
 */
#include "sim.h"
#include "sim_core.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "timeutil.h"

#define RHV_API "/ovirt-engine/api"

/* ------------------------------------------------------------------ */
/* Small helpers. */

/* FNV-1a, so derived ids are stable across runs and seeds. */
static uint64_t rhv_hash(const char *s, uint64_t seed)
{
	uint64_t h = 1469598103934665603ULL ^ seed;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

static void rhv_uuid_from(uint64_t a, uint64_t b, char out[37])
{
	snprintf(out, 37, "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(a >> 32),
		 (unsigned)(a >> 16) & 0xffff, (unsigned)a & 0xfff,
		 (unsigned)(0x8000 | ((b >> 48) & 0x3fff)),
		 (unsigned long long)(b & 0xffffffffffffULL));
}

/* A UUID derived from s into out[37]. */
static void rhv_uuid_of(const char *s, uint64_t seed, char out[37])
{
	rhv_uuid_from(rhv_hash(s, seed), rhv_hash(s, seed ^ 0x5bd1e995ULL),
		      out);
}

static json_t *rhv_bool(bool b)
{
	return json_string(b ? "true" : "false");
}

/* {"href": RHV_API "/<coll>/<id>", "id": id} */
static json_t *rhv_ref(const char *coll, const char *id)
{
	char href[160];

	snprintf(href, sizeof(href), RHV_API "/%s/%s", coll, id);
	return json_pack("{s:s,s:s}", "href", href, "id", id);
}

static json_t *rhv_link(const char *vmid, const char *rel)
{
	char href[160];

	snprintf(href, sizeof(href), RHV_API "/vms/%s/%s", vmid, rel);
	return json_pack("{s:s,s:s}", "href", href, "rel", rel);
}

/* The fault body the engine sends for a failed non-action request. */
static void rhv_fault(struct sim_resp *resp, int status, const char *detail)
{
	sim_resp_json(resp, status,
		      json_pack("{s:s,s:s}", "reason", "Operation Failed",
				"detail", detail));
}

/* The fault body of a failed action (stop, shutdown). */
static void rhv_action_fault(struct sim_resp *resp, int status,
			     const char *detail)
{
	sim_resp_json(resp, status,
		      json_pack("{s:s,s:{s:s,s:s}}", "status", "failed",
				"fault", "reason", "Operation Failed", "detail",
				detail));
}

/* What Apache in front of the engine says when the engine is away or a
 * proxy throttles: HTML, not JSON. */
static void rhv_html(struct sim_resp *resp, int status, const char *title)
{
	char body[256];
	int n = snprintf(body, sizeof(body),
			 "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">"
			 "\n<html><head><title>%d %s</title></head><body>"
			 "<h1>%s</h1></body></html>\n",
			 status, title, title);

	sim_resp_body(resp, status, "text/html; charset=iso-8859-1", body,
		      n > 0 && (size_t)n < sizeof(body) ? (size_t)n : 0);
}

static void rhv_render_error(struct sim_req *req, struct sim_resp *resp,
			     int status, const char *msg, unsigned retry_after)
{
	char detail[200];

	(void)req;
	(void)retry_after;
	switch (status) {
	case 404:
	case 405:
		sim_resp_empty(resp, status);
		break;
	case 502:
		rhv_html(resp, status, "Proxy Error");
		break;
	case 503:
		rhv_html(resp, status, "Service Unavailable");
		break;
	case 429:
		rhv_html(resp, status, "Too Many Requests");
		break;
	default:
		snprintf(detail, sizeof(detail), "[%s]", msg);
		rhv_fault(resp, status, detail);
		break;
	}
}

/* ------------------------------------------------------------------ */
/* Authentication. */

/*
 * Check Bearer (an SSO token, counted against --session-ttl) or Basic
 * and the Version header; on failure the answer is already rendered.
 */
static int rhv_auth(struct sim_req *req, struct sim_resp *resp)
{
	const char *auth = sim_req_header(req, "Authorization");
	const char *version = sim_req_header(req, "Version");
	bool ok = false;

	if (auth != NULL && strncasecmp(auth, "Bearer ", 7) == 0) {
		auth += 7;
		while (*auth == ' ')
			auth++;
		ok = sim_session_use(req->sim, SIM_RHV, auth, NULL) ==
		     SIM_SESSION_OK;
	} else if (auth != NULL) {
		ok = sim_check_basic(req->sim, auth, NULL, 0);
	}
	if (!ok) {
		sim_resp_empty(resp, 401);
		sim_resp_header(resp, "WWW-Authenticate",
				"Basic realm=\"RESTAPI\"");
		return -1;
	}
	if (version != NULL && strcmp(version, "4") != 0 &&
	    strncmp(req->path, RHV_API "/v4", sizeof(RHV_API "/v4") - 1) != 0) {
		rhv_fault(resp, 400,
			  "[Version 3 of the API is no longer supported.]");
		return -1;
	}
	return 0;
}

/* Decode %XX and '+' in place (form and matrix encoding). */
static void rhv_form_unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (*s == '+') {
			*o++ = ' ';
		} else if (*s == '%' && isxdigit((unsigned char)s[1]) &&
			   isxdigit((unsigned char)s[2])) {
			char hex[3] = {s[1], s[2], '\0'};

			*o++ = (char)strtol(hex, NULL, 16);
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

/* The value of key in a decoded "a=b&c=d" form copied into out (""
 * when absent); false when absent. */
static bool rhv_form_get(const char *form, const char *key, char *out,
			 size_t outsz)
{
	size_t kl = strlen(key);
	const char *p = form;

	out[0] = '\0';
	while (p != NULL && *p) {
		const char *amp = strchr(p, '&');
		size_t n = amp ? (size_t)(amp - p) : strlen(p);

		if (n > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
			char *v = malloc(n - kl);

			if (v == NULL)
				return false;
			memcpy(v, p + kl + 1, n - kl - 1);
			v[n - kl - 1] = '\0';
			rhv_form_unescape(v);
			snprintf(out, outsz, "%s", v);
			free(v);
			return true;
		}
		p = amp ? amp + 1 : NULL;
	}
	return false;
}

/* A token parameter from the form body, or else from the query. */
static bool rhv_sso_param(const struct sim_req *req, const char *key, char *out,
			  size_t outsz)
{
	const char *q;

	if (rhv_form_get(req->body, key, out, outsz))
		return true;
	if ((q = sim_req_query(req, key)) != NULL) {
		snprintf(out, outsz, "%s", q);
		return true;
	}
	return false;
}

static void rhv_sso_token(struct sim_req *req, struct sim_resp *resp)
{
	char grant[64], scope[512], user[256], pw[256], msg[400], exp[32];
	char tok[SIM_TOKEN_MAX];
	bool have_user, have_pw;

	rhv_sso_param(req, "grant_type", grant, sizeof(grant));
	rhv_sso_param(req, "scope", scope, sizeof(scope));
	have_user = rhv_sso_param(req, "username", user, sizeof(user));
	have_pw = rhv_sso_param(req, "password", pw, sizeof(pw));
	/* Without the REST API scope the engine answers in the generic
	 * OAuth shape. */
	if (strstr(scope, "ovirt-app-api") == NULL) {
		sim_resp_json(resp, 400,
			      json_pack("{s:s,s:s}", "error", "invalid_scope",
					"error_description",
					"The scope 'ovirt-app-api' is "
					"required."));
		return;
	}
	if (strcmp(grant, "password") != 0) {
		sim_resp_json(resp, 400,
			      json_pack("{s:s,s:s}", "error_code",
					"unsupported_grant_type", "error",
					"Unsupported grant type."));
		return;
	}
	if (!have_user || !have_pw || !sim_check_user(req->sim, user, pw)) {
		snprintf(msg, sizeof(msg),
			 "Cannot authenticate user '%.200s': The username or "
			 "password is incorrect..",
			 user);
		sim_resp_json(resp, 400,
			      json_pack("{s:s,s:s}", "error_code",
					"access_denied", "error", msg));
		return;
	}
	sim_session_new(req->sim, SIM_RHV, user, NULL, tok);
	/* Expiry is informational: tokens really end by --session-ttl. */
	snprintf(exp, sizeof(exp), "%lld",
		 (long long)(vs_time_now_ms() + 10LL * 3600 * 1000));
	sim_resp_json(resp, 200,
		      json_pack("{s:s,s:s,s:s,s:s}", "access_token", tok,
				"scope",
				"ovirt-app-api ovirt-ext=token-info:authz-"
				"search ovirt-ext=token-info:public-authz-"
				"search ovirt-ext=token-info:validate",
				"exp", exp, "token_type", "bearer"));
}

/*
 * /ovirt-engine/services/sso-logout (form or query "token"): ends the
 * token.  The SDKs only look for an "error" key in the answer, and an
 * unknown token is not one, so logout is idempotent: always 200 {}.
 */
static void rhv_sso_logout(struct sim_req *req, struct sim_resp *resp)
{
	char tok[SIM_TOKEN_MAX + 8];

	if (rhv_sso_param(req, "token", tok, sizeof(tok)))
		sim_session_end(req->sim, SIM_RHV, tok);
	sim_resp_json(resp, 200, json_object());
}

/* ------------------------------------------------------------------ */
/* Rendering VMs. */

static bool rhv_deleting(const struct sim_vm *vm)
{
	return vm->del == SIM_DEL_PENDING || vm->del == SIM_DEL_STUCK ||
	       vm->del == SIM_DEL_FAILING;
}

/* The status a client sees: a VM being removed shows image_locked. */
static const char *rhv_status(const struct sim_vm *vm)
{
	return rhv_deleting(vm) ? "image_locked" : vm->state;
}

static bool rhv_on_host(const char *status)
{
	static const char *const on[] = {"up",
					 "paused",
					 "powering_down",
					 "migrating",
					 "reboot_in_progress",
					 "saving_state",
					 "powering_up",
					 "not_responding",
					 "wait_for_launch"};

	for (size_t i = 0; i < sizeof(on) / sizeof(on[0]); i++)
		if (strcmp(status, on[i]) == 0)
			return true;
	return false;
}

static json_t *rhv_vm_tags(const struct sim_vm *vm)
{
	json_t *list, *o;
	char tid[37], href[200];

	if (vm->ntags == 0)
		return json_object();
	list = json_array();
	for (size_t i = 0; i < vm->ntags; i++) {
		rhv_uuid_of(vm->tags[i], 21, tid);
		snprintf(href, sizeof(href), RHV_API "/vms/%s/tags/%s", vm->id,
			 tid);
		json_array_append_new(list,
				      json_pack("{s:s,s:s,s:s,s:s,s:o}", "href",
						href, "id", tid, "name",
						vm->tags[i], "description", "",
						"vm", rhv_ref("vms", vm->id)));
	}
	o = json_object();
	json_object_set_new(o, "tag", list);
	return o;
}

static json_t *rhv_vm_json(const struct sim_vm *vm, bool follow_tags)
{
	const char *status = rhv_status(vm);
	const char *cluster = vm->cluster ? vm->cluster : "Default";
	char cid[37], hid[37], sockets[16], hostkey[160], href[160];
	json_t *o, *actions, *links;
	static const char *const acts[] = {"stop", "shutdown", "start"};
	static const char *const rels[] = {"tags", "diskattachments", "nics"};

	rhv_uuid_of(cluster, 31, cid);
	snprintf(sockets, sizeof(sockets), "%d",
		 vm->cpu_count > 0 ? vm->cpu_count : 1);
	snprintf(href, sizeof(href), RHV_API "/vms/%s", vm->id);
	o = json_object();
	json_object_set_new(o, "href", json_string(href));
	json_object_set_new(o, "id", json_string(vm->id));
	json_object_set_new(o, "name", json_string(vm->name));
	json_object_set_new(
		o, "description",
		json_string(vm->description ? vm->description : ""));
	json_object_set_new(o, "comment",
			    json_string(vm->comment ? vm->comment : ""));
	json_object_set_new(o, "status", json_string(status));
	if (vm->created != 0)
		json_object_set_new(
			o, "creation_time",
			json_integer((json_int_t)vm->created * 1000));
	if (rhv_on_host(status) && vm->created != 0)
		json_object_set_new(
			o, "start_time",
			json_integer((json_int_t)(vm->created + 60) * 1000));
	if (strcmp(status, "down") == 0 && vm->updated != 0)
		json_object_set_new(
			o, "stop_time",
			json_integer((json_int_t)vm->updated * 1000));
	json_object_set_new(o, "delete_protected", rhv_bool(vm->locked));
	json_object_set_new(o, "stateless", rhv_bool(false));
	json_object_set_new(o, "type", json_string("server"));
	json_object_set_new(o, "origin", json_string("ovirt"));
	json_object_set_new(
		o, "memory",
		json_integer((json_int_t)vm->memory_mib * 1024 * 1024));
	json_object_set_new(o, "cpu",
			    json_pack("{s:s,s:{s:s,s:s,s:s}}", "architecture",
				      "x86_64", "topology", "cores", "1",
				      "sockets", sockets, "threads", "1"));
	json_object_set_new(o, "cluster", rhv_ref("clusters", cid));
	if (rhv_on_host(status)) {
		snprintf(hostkey, sizeof(hostkey), "%s/host-%u", cluster,
			 (unsigned)(rhv_hash(vm->id, 3) % 4));
		rhv_uuid_of(hostkey, 37, hid);
		json_object_set_new(o, "host", rhv_ref("hosts", hid));
	}
	json_object_set_new(
		o, "template",
		rhv_ref("templates", "00000000-0000-0000-0000-000000000000"));
	actions = json_array();
	for (size_t i = 0; i < sizeof(acts) / sizeof(acts[0]); i++)
		json_array_append_new(actions, rhv_link(vm->id, acts[i]));
	json_object_set_new(o, "actions", json_pack("{s:o}", "link", actions));
	links = json_array();
	for (size_t i = 0; i < sizeof(rels) / sizeof(rels[0]); i++)
		json_array_append_new(links, rhv_link(vm->id, rels[i]));
	json_object_set_new(o, "link", links);
	if (follow_tags)
		json_object_set_new(o, "tags", rhv_vm_tags(vm));
	return o;
}

static bool rhv_follow_tags(const struct sim_req *req)
{
	const char *f = sim_req_query(req, "follow");

	return f != NULL && strstr(f, "tags") != NULL;
}

/* ------------------------------------------------------------------ */
/* Matrix parameters: "/vms/<id>;force=true" and "/vms;max=10". */

/*
 * Split seg at its first ';' into the id (copied into id) and a matrix
 * parameter string (a pointer into seg, "" when none).
 */
static const char *rhv_split_matrix(const char *seg, char *id, size_t idsz)
{
	const char *semi = strchr(seg, ';');

	if (semi == NULL) {
		snprintf(id, idsz, "%s", seg);
		return "";
	}
	snprintf(id, idsz, "%.*s", (int)(semi - seg), seg);
	return semi + 1;
}

/* The value of key among ';'-separated matrix parameters, or false. */
static bool rhv_matrix_get(const char *matrix, const char *key, char *out,
			   size_t outsz)
{
	size_t kl = strlen(key);
	const char *p = matrix;

	while (p != NULL && *p) {
		const char *semi = strchr(p, ';');
		size_t n = semi ? (size_t)(semi - p) : strlen(p);

		if (n > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
			snprintf(out, outsz, "%.*s", (int)(n - kl - 1),
				 p + kl + 1);
			return true;
		}
		p = semi ? semi + 1 : NULL;
	}
	return false;
}

/* A boolean parameter from the query or the matrix. */
static bool rhv_flag(const struct sim_req *req, const char *matrix,
		     const char *key)
{
	const char *q = sim_req_query(req, key);
	char v[16];

	if (q != NULL)
		return strcasecmp(q, "true") == 0;
	return rhv_matrix_get(matrix, key, v, sizeof(v)) &&
	       strcasecmp(v, "true") == 0;
}

/* ------------------------------------------------------------------ */
/* The search language: a reasonable subset of the engine's. */

enum rhv_field {
	RHV_F_NAME,
	RHV_F_STATUS,
	RHV_F_TAG,
	RHV_F_ID,
	RHV_F_DESCRIPTION,
	RHV_F_COMMENT,
	RHV_F_CLUSTER
};

static const char *const rhv_field_names[] = {
	"name", "status", "tag", "id", "description", "comment", "cluster"};

static const char *const rhv_statuses[] = {"unassigned",
					   "down",
					   "up",
					   "powering_up",
					   "paused",
					   "migrating",
					   "unknown",
					   "not_responding",
					   "wait_for_launch",
					   "reboot_in_progress",
					   "saving_state",
					   "restoring_state",
					   "suspended",
					   "image_locked",
					   "powering_down"};

#define RHV_MAX_CONDS 16
#define RHV_VALUE_MAX 256

struct rhv_cond {
	enum rhv_field field;
	bool neg;
	int group; /* conditions in one group are ANDed; groups ORed */
	char value[RHV_VALUE_MAX];
};

struct rhv_query {
	struct rhv_cond conds[RHV_MAX_CONDS];
	size_t n;
	int ngroups;
	int sortby; /* -1 none, 0 name, 1 creationdate, 2 status */
	bool desc;
	long page; /* 1-based */
	bool case_sensitive;
};

static bool rhv_space(char c)
{
	return c == ' ' || c == '\t' || c == '+';
}

/* A word of [A-Za-z0-9_.-] at *s into out (lower-cased); its length. */
static size_t rhv_word(const char **s, char *out, size_t outsz)
{
	size_t n = 0;

	while (isalnum((unsigned char)**s) || **s == '_' || **s == '.' ||
	       **s == '-') {
		if (n + 1 < outsz)
			out[n++] = (char)tolower((unsigned char)**s);
		(*s)++;
	}
	out[n] = '\0';
	return n;
}

/*
 * Parse a search expression into q.  On failure returns -1 with a
 * reason in why.  Accepts an optional "Vms:" prefix, conditions
 * FIELD=VALUE / FIELD!=VALUE (VALUE may be "quoted"; '*' is a wildcard),
 * "and" (or nothing) between conditions, "or" between groups,
 * "sortby FIELD [asc|desc]" and "page N".
 */
static int rhv_parse_search(const char *s, struct rhv_query *q, char *why,
			    size_t whysz)
{
	char word[64];
	bool need_cond = false;

	while (rhv_space(*s))
		s++;
	if (strncasecmp(s, "vms:", 4) == 0)
		s += 4;
	for (;;) {
		const char *at;

		while (rhv_space(*s))
			s++;
		if (*s == '\0')
			break;
		at = s;
		if (rhv_word(&s, word, sizeof(word)) == 0) {
			snprintf(why, whysz, "unexpected '%.20s'", at);
			return -1;
		}
		while (rhv_space(*s))
			s++;
		if (*s == '=' || (s[0] == '!' && s[1] == '=')) {
			struct rhv_cond *c;
			size_t f, n = 0;

			for (f = 0; f < sizeof(rhv_field_names) /
						sizeof(rhv_field_names[0]);
			     f++)
				if (strcmp(word, rhv_field_names[f]) == 0)
					break;
			if (f == sizeof(rhv_field_names) /
					 sizeof(rhv_field_names[0])) {
				snprintf(why, whysz, "unknown field '%s'",
					 word);
				return -1;
			}
			if (q->n == RHV_MAX_CONDS) {
				snprintf(why, whysz, "too many conditions");
				return -1;
			}
			c = &q->conds[q->n];
			c->field = (enum rhv_field)f;
			c->neg = *s == '!';
			c->group = q->ngroups > 0 ? q->ngroups - 1 : 0;
			s += c->neg ? 2 : 1;
			while (rhv_space(*s))
				s++;
			if (*s == '"') {
				const char *end = strchr(++s, '"');

				if (end == NULL) {
					snprintf(why, whysz,
						 "unterminated quote");
					return -1;
				}
				n = (size_t)(end - s);
				if (n >= RHV_VALUE_MAX)
					n = RHV_VALUE_MAX - 1;
				memcpy(c->value, s, n);
				s = end + 1;
			} else {
				while (s[n] && !rhv_space(s[n]))
					n++;
				if (n >= RHV_VALUE_MAX) {
					snprintf(why, whysz, "value too long");
					return -1;
				}
				memcpy(c->value, s, n);
				s += n;
			}
			c->value[n] = '\0';
			if (n == 0) {
				snprintf(why, whysz, "missing value for '%s'",
					 word);
				return -1;
			}
			if (q->ngroups == 0)
				q->ngroups = 1;
			q->n++;
			need_cond = false;
		} else if (strcmp(word, "and") == 0 ||
			   strcmp(word, "or") == 0) {
			if (q->n == 0 || need_cond) {
				snprintf(why, whysz, "'%s' without a condition",
					 word);
				return -1;
			}
			if (word[0] == 'o')
				q->ngroups++;
			need_cond = true;
		} else if (strcmp(word, "sortby") == 0) {
			rhv_word(&s, word, sizeof(word));
			if (strcmp(word, "name") == 0)
				q->sortby = 0;
			else if (strcmp(word, "creationdate") == 0 ||
				 strcmp(word, "creation_date") == 0)
				q->sortby = 1;
			else if (strcmp(word, "status") == 0)
				q->sortby = 2;
			else {
				snprintf(why, whysz, "cannot sort by '%s'",
					 word);
				return -1;
			}
			while (rhv_space(*s))
				s++;
			at = s;
			rhv_word(&s, word, sizeof(word));
			if (strcmp(word, "desc") == 0)
				q->desc = true;
			else if (strcmp(word, "asc") != 0)
				s = at;
		} else if (strcmp(word, "page") == 0) {
			char *end;
			long v = strtol(s, &end, 10);

			if (end == s || v < 1) {
				snprintf(why, whysz, "bad page number");
				return -1;
			}
			q->page = v;
			s = end;
		} else {
			snprintf(why, whysz, "unexpected '%s'", word);
			return -1;
		}
	}
	if (need_cond) {
		snprintf(why, whysz, "dangling 'and'/'or'");
		return -1;
	}
	for (size_t i = 0; i < q->n; i++) {
		bool known = false;

		if (q->conds[i].field != RHV_F_STATUS)
			continue;
		for (size_t k = 0;
		     k < sizeof(rhv_statuses) / sizeof(rhv_statuses[0]); k++)
			if (strcasecmp(q->conds[i].value, rhv_statuses[k]) == 0)
				known = true;
		if (!known) {
			snprintf(why, whysz, "unknown status '%.40s'",
				 q->conds[i].value);
			return -1;
		}
	}
	return 0;
}

/* Glob with '*' only, case-insensitive unless cs. */
static bool rhv_glob(const char *pat, const char *s, bool cs)
{
	const char *star = NULL, *back = NULL;

	while (*s) {
		if (*pat == '*') {
			star = pat++;
			back = s;
		} else if (*pat &&
			   (cs ? *pat == *s
			       : tolower((unsigned char)*pat) ==
					    tolower((unsigned char)*s))) {
			pat++;
			s++;
		} else if (star != NULL) {
			pat = star + 1;
			s = ++back;
		} else {
			return false;
		}
	}
	while (*pat == '*')
		pat++;
	return *pat == '\0';
}

static bool rhv_cond_ok(const struct rhv_cond *c, const struct sim_vm *vm,
			bool cs)
{
	bool hit = false;

	switch (c->field) {
	case RHV_F_NAME:
		hit = rhv_glob(c->value, vm->name, cs);
		break;
	case RHV_F_STATUS:
		hit = strcasecmp(c->value, rhv_status(vm)) == 0;
		break;
	case RHV_F_TAG:
		for (size_t i = 0; i < vm->ntags && !hit; i++)
			hit = rhv_glob(c->value, vm->tags[i], cs);
		break;
	case RHV_F_ID:
		hit = rhv_glob(c->value, vm->id, false);
		break;
	case RHV_F_DESCRIPTION:
		hit = rhv_glob(c->value, vm->description ? vm->description : "",
			       cs);
		break;
	case RHV_F_COMMENT:
		hit = rhv_glob(c->value, vm->comment ? vm->comment : "", cs);
		break;
	case RHV_F_CLUSTER:
		hit = rhv_glob(c->value, vm->cluster ? vm->cluster : "Default",
			       cs);
		break;
	}
	return c->neg ? !hit : hit;
}

static bool rhv_query_ok(const struct rhv_query *q, const struct sim_vm *vm)
{
	if (q->n == 0)
		return true;
	for (int g = 0; g < q->ngroups; g++) {
		bool all = true, any = false;

		for (size_t i = 0; i < q->n && all; i++) {
			if (q->conds[i].group != g)
				continue;
			any = true;
			all = rhv_cond_ok(&q->conds[i], vm, q->case_sensitive);
		}
		if (any && all)
			return true;
	}
	return false;
}

static int rhv_cmp_vm(const void *a, const void *b, void *arg)
{
	int key = *(const int *)arg;
	const struct sim_vm *x = *(const struct sim_vm *const *)a;
	const struct sim_vm *y = *(const struct sim_vm *const *)b;
	int c = 0;

	if (key == 0)
		c = strcasecmp(x->name, y->name);
	else if (key == 1)
		c = (x->created > y->created) - (x->created < y->created);
	else
		c = strcmp(rhv_status(x), rhv_status(y));
	return c ? c : strcmp(x->id, y->id);
}

/* ------------------------------------------------------------------ */
/* Routes. */

static void rhv_api_root(struct sim_req *req, struct sim_resp *resp)
{
	struct sim_inv *inv = &req->sim->inv[SIM_RHV];
	static const char *const colls[] = {"clusters", "hosts", "tags",
					    "templates", "vms"};
	unsigned total = 0, active = 0;
	char stotal[16], sactive[16], href[64];
	json_t *links;

	if (rhv_auth(req, resp) < 0)
		return;
	pthread_mutex_lock(&inv->lock);
	for (size_t i = 0; i < inv->n; i++) {
		if (inv->vms[i]->gone)
			continue;
		total++;
		if (strcmp(rhv_status(inv->vms[i]), "up") == 0)
			active++;
	}
	pthread_mutex_unlock(&inv->lock);
	snprintf(stotal, sizeof(stotal), "%u", total);
	snprintf(sactive, sizeof(sactive), "%u", active);
	links = json_array();
	for (size_t i = 0; i < sizeof(colls) / sizeof(colls[0]); i++) {
		snprintf(href, sizeof(href), RHV_API "/%s", colls[i]);
		json_array_append_new(links, json_pack("{s:s,s:s}", "href",
						       href, "rel", colls[i]));
	}
	sim_resp_json(
		resp, 200,
		json_pack("{s:{s:s,s:s,s:s,s:{s:s,s:s,s:s,s:s,s:s}},"
			  "s:{s:{s:s,s:s}},s:I,s:o,s:o,s:o}",
			  "product_info", "instance_id",
			  "5e8b9c1a-0b4d-11ef-9c3a-00163e000000", "name",
			  "oVirt Engine", "vendor", "ovirt.org", "version",
			  "build", "5", "full_version", "4.5.5-1.el8", "major",
			  "4", "minor", "5", "revision", "0", "summary", "vms",
			  "active", sactive, "total", stotal, "time",
			  (json_int_t)vs_time_now_ms(), "authenticated_user",
			  rhv_ref("users",
				  "0a1b2c3d-0000-4000-8000-000000000001"),
			  "effective_user",
			  rhv_ref("users",
				  "0a1b2c3d-0000-4000-8000-000000000001"),
			  "link", links));
}

/* GET /vms, with the matrix parameters of a "/vms;max=N" segment. */
static void rhv_vm_list_matrix(struct sim_req *req, struct sim_resp *resp,
			       const char *matrix)
{
	struct sim *sim = req->sim;
	struct sim_inv *inv = &sim->inv[SIM_RHV];
	struct rhv_query *q = calloc(1, sizeof(*q));
	const char *search = sim_req_query(req, "search");
	const char *maxs = sim_req_query(req, "max");
	const char *cs = sim_req_query(req, "case_sensitive");
	bool follow = rhv_follow_tags(req);
	char why[160], detail[240], mbuf[32];
	struct sim_vm **hits = NULL;
	size_t nhits = 0, first, last;
	long max = -1;
	json_t *list, *body;

	if (q == NULL) {
		rhv_fault(resp, 500, "[Out of memory]");
		return;
	}
	if (rhv_auth(req, resp) < 0)
		goto out;
	q->sortby = -1;
	q->page = 1;
	q->case_sensitive = cs != NULL && strcasecmp(cs, "true") == 0;
	if (maxs == NULL && rhv_matrix_get(matrix, "max", mbuf, sizeof(mbuf)))
		maxs = mbuf;
	if (maxs != NULL) {
		char *end;

		max = strtol(maxs, &end, 10);
		if (end == maxs || *end != '\0' || max < -1) {
			snprintf(detail, sizeof(detail),
				 "[Invalid value '%.32s' for parameter "
				 "'max'.]",
				 maxs);
			rhv_fault(resp, 400, detail);
			goto out;
		}
	}
	if (search != NULL &&
	    rhv_parse_search(search, q, why, sizeof(why)) < 0) {
		snprintf(detail, sizeof(detail), "[Invalid search query: %s.]",
			 why);
		rhv_fault(resp, 400, detail);
		goto out;
	}
	list = json_array();
	pthread_mutex_lock(&inv->lock);
	hits = malloc((inv->n ? inv->n : 1) * sizeof(*hits));
	for (size_t i = 0; hits != NULL && i < inv->n; i++) {
		struct sim_vm *vm = inv->vms[i];

		if (vm->gone || !rhv_query_ok(q, vm))
			continue;
		if (!sim_vm_observe_nolock(sim, inv, vm))
			continue;
		hits[nhits++] = vm;
	}
	if (hits != NULL && q->sortby >= 0) {
		qsort_r(hits, nhits, sizeof(*hits), rhv_cmp_vm, &q->sortby);
		if (q->desc)
			for (size_t i = 0; i < nhits / 2; i++) {
				struct sim_vm *t = hits[i];

				hits[i] = hits[nhits - 1 - i];
				hits[nhits - 1 - i] = t;
			}
	}
	/* Without max everything is one page, so later pages are empty. */
	if (max < 0) {
		first = q->page == 1 ? 0 : nhits;
		last = nhits;
	} else {
		first = (size_t)(q->page - 1) * (size_t)max;
		if (first > nhits || (q->page > 1 && (size_t)max == 0))
			first = nhits;
		last = first + (size_t)max > nhits ? nhits
						   : first + (size_t)max;
	}
	for (size_t i = first; hits != NULL && i < last; i++)
		json_array_append_new(list, rhv_vm_json(hits[i], follow));
	/*
	 * --fault rhv:protect-late: a running VM this page shows unprotected
	 * gets delete_protected right after, as if someone protected it
	 * while the client was busy with the listing.
	 */
	for (size_t i = first; hits != NULL && i < last; i++)
		if (!hits[i]->locked && strcmp(hits[i]->state, "down") != 0 &&
		    sim_fault_roll(sim, SIM_RHV, SIM_FAULT_PROTECT_LATE))
			hits[i]->locked = true;
	pthread_mutex_unlock(&inv->lock);
	/* The engine leaves an empty collection out altogether: {}. */
	body = json_object();
	if (json_array_size(list) > 0)
		json_object_set_new(body, "vm", list);
	else
		json_decref(list);
	sim_resp_json(resp, 200, body);
out:
	free(hits);
	free(q);
}

static void rhv_vm_list(struct sim_req *req, struct sim_resp *resp)
{
	rhv_vm_list_matrix(req, resp, "");
}

/* GET /ovirt-engine/api/{coll}: only "vms;matrix" is ours. */
static void rhv_coll_matrix(struct sim_req *req, struct sim_resp *resp)
{
	const char *coll = sim_req_param(req, "coll");

	if (coll != NULL && strncmp(coll, "vms;", 4) == 0) {
		rhv_vm_list_matrix(req, resp, coll + 4);
		return;
	}
	sim_resp_empty(resp, 404);
}

/* The VM named by {vm} (matrix parameters stripped into *matrix), or
 * NULL.  Call with the inventory lock held. */
static struct sim_vm *rhv_find_nolock(struct sim_req *req, const char **matrix)
{
	char id[SIM_ID_MAX + 1];
	const char *seg = sim_req_param(req, "vm");

	*matrix = "";
	if (seg == NULL)
		return NULL;
	*matrix = rhv_split_matrix(seg, id, sizeof(id));
	/* A longer id was cut short and must not match a shorter one. */
	if (strlen(id) != (size_t)(strchrnul(seg, ';') - seg))
		return NULL;
	return sim_inv_find_nolock(&req->sim->inv[SIM_RHV], id);
}

static void rhv_vm_get(struct sim_req *req, struct sim_resp *resp)
{
	struct sim_inv *inv = &req->sim->inv[SIM_RHV];
	const char *matrix;
	struct sim_vm *vm;
	json_t *o = NULL;

	if (rhv_auth(req, resp) < 0)
		return;
	pthread_mutex_lock(&inv->lock);
	vm = rhv_find_nolock(req, &matrix);
	if (vm != NULL && sim_vm_observe_nolock(req->sim, inv, vm))
		o = rhv_vm_json(vm, rhv_follow_tags(req));
	pthread_mutex_unlock(&inv->lock);
	if (o == NULL)
		sim_resp_empty(resp, 404);
	else
		sim_resp_json(resp, 200, o);
}

static void rhv_vm_tags_get(struct sim_req *req, struct sim_resp *resp)
{
	struct sim_inv *inv = &req->sim->inv[SIM_RHV];
	const char *matrix;
	struct sim_vm *vm;
	json_t *o = NULL;

	if (rhv_auth(req, resp) < 0)
		return;
	pthread_mutex_lock(&inv->lock);
	if ((vm = rhv_find_nolock(req, &matrix)) != NULL)
		o = rhv_vm_tags(vm);
	pthread_mutex_unlock(&inv->lock);
	if (o == NULL)
		sim_resp_empty(resp, 404);
	else
		sim_resp_json(resp, 200, o);
}

/* GET /tags: every tag name any VM carries (deleted ones too; a tag
 * outlives its VMs). */
static void rhv_tags_list(struct sim_req *req, struct sim_resp *resp)
{
	struct sim_inv *inv = &req->sim->inv[SIM_RHV];
	json_t *seen = json_object(), *list = json_array(), *body;
	char tid[37];

	if (rhv_auth(req, resp) < 0) {
		json_decref(seen);
		json_decref(list);
		return;
	}
	pthread_mutex_lock(&inv->lock);
	for (size_t i = 0; i < inv->n; i++) {
		const struct sim_vm *vm = inv->vms[i];

		for (size_t t = 0; t < vm->ntags; t++) {
			json_t *tag;

			if (json_object_get(seen, vm->tags[t]) != NULL)
				continue;
			json_object_set_new(seen, vm->tags[t], json_true());
			rhv_uuid_of(vm->tags[t], 21, tid);
			tag = rhv_ref("tags", tid);
			json_object_set_new(tag, "name",
					    json_string(vm->tags[t]));
			json_object_set_new(tag, "description",
					    json_string(""));
			json_array_append_new(list, tag);
		}
	}
	pthread_mutex_unlock(&inv->lock);
	json_decref(seen);
	body = json_object();
	if (json_array_size(list) > 0)
		json_object_set_new(body, "tag", list);
	else
		json_decref(list);
	sim_resp_json(resp, 200, body);
}

/* Why the engine would refuse to remove vm, or NULL; *locked says the
 * refusal is the lock that force=true overrides. */
static const char *rhv_remove_refusal(const struct sim_vm *vm, bool *locked)
{
	const char *st = rhv_status(vm);

	*locked = false;
	if (vm->locked)
		return "[Cannot remove VM. Delete protection is enabled. In "
		       "order to delete, disable Delete protection first.]";
	if (strcmp(st, "image_locked") == 0) {
		*locked = true;
		return "[Cannot remove VM: VM is locked. Please try again in "
		       "a few minutes.]";
	}
	if (strcmp(st, "down") == 0 || strcmp(st, "unassigned") == 0)
		return NULL;
	if (strcmp(st, "suspended") == 0)
		return "[Cannot remove VM that its state is not down.\n-Please "
		       "stop the VM first.]";
	return "[Cannot remove VM. VM is running.]";
}

static void rhv_vm_delete(struct sim_req *req, struct sim_resp *resp)
{
	struct sim *sim = req->sim;
	struct sim_inv *inv = &sim->inv[SIM_RHV];
	const char *matrix, *refusal = NULL;
	struct sim_vm *vm;
	bool locked = false, force, async;

	if (rhv_auth(req, resp) < 0)
		return;
	pthread_mutex_lock(&inv->lock);
	vm = rhv_find_nolock(req, &matrix);
	force = rhv_flag(req, matrix, "force");
	async = rhv_flag(req, matrix, "async");
	if (vm != NULL) {
		refusal = rhv_remove_refusal(vm, &locked);
		if (locked && force)
			refusal = NULL;
		/* A removal already under way is not started twice. */
		if (refusal == NULL && !rhv_deleting(vm))
			sim_vm_delete_nolock(sim, SIM_RHV, vm, -1);
	}
	pthread_mutex_unlock(&inv->lock);
	if (vm == NULL)
		sim_resp_empty(resp, 404);
	else if (refusal != NULL)
		rhv_fault(resp, 409, refusal);
	else if (async)
		sim_resp_empty(resp, 202);
	else
		sim_resp_json(resp, 200,
			      json_pack("{s:s}", "status", "complete"));
}

/* The body of an action: empty, a JSON object, or XML "<action/>". */
static bool rhv_action_body_ok(const struct sim_req *req)
{
	const char *b = req->body;
	json_t *j;
	bool ok;

	while (*b == ' ' || *b == '\n' || *b == '\r' || *b == '\t')
		b++;
	if (*b == '\0' || *b == '<')
		return true;
	j = sim_req_json(req);
	ok = json_is_object(j);
	json_decref(j);
	return ok;
}

static json_t *rhv_action_complete(struct sim *sim)
{
	char jid[37];

	rhv_uuid_from(sim_random(sim), sim_random(sim), jid);
	return json_pack("{s:s,s:o}", "status", "complete", "job",
			 rhv_ref("jobs", jid));
}

/* POST /vms/{vm}/stop and /shutdown: both end in down here. */
static void rhv_vm_stop(struct sim_req *req, struct sim_resp *resp)
{
	struct sim *sim = req->sim;
	struct sim_inv *inv = &sim->inv[SIM_RHV];
	bool shutdown = strstr(req->path, "/shutdown") != NULL;
	const char *matrix, *fault = NULL;
	struct sim_vm *vm;
	char detail[160];
	int polls = sim->opts.delete_polls;

	if (rhv_auth(req, resp) < 0)
		return;
	if (!rhv_action_body_ok(req)) {
		rhv_action_fault(resp, 400,
				 "[Request body is not a valid action.]");
		return;
	}
	pthread_mutex_lock(&inv->lock);
	if ((vm = rhv_find_nolock(req, &matrix)) != NULL) {
		const char *st = rhv_status(vm);

		if (strcmp(st, "image_locked") == 0) {
			fault = "VM is locked. Please try again in a few "
				"minutes.";
		} else if (strcmp(st, "down") == 0) {
			fault = "VM is not running.";
		} else if (strcmp(st, "powering_down") != 0) {
			/* --delete-polls 0 asks for no lingering states. */
			if (polls <= 0) {
				snprintf(vm->state, sizeof(vm->state), "down");
			} else {
				snprintf(vm->state, sizeof(vm->state),
					 "powering_down");
				snprintf(vm->trans_to, sizeof(vm->trans_to),
					 "down");
				vm->trans_polls = (polls > 2 ? 2 : polls) + 1;
			}
			vm->updated = vs_time_now();
		}
	}
	pthread_mutex_unlock(&inv->lock);
	if (vm == NULL) {
		sim_resp_empty(resp, 404);
	} else if (fault != NULL) {
		snprintf(detail, sizeof(detail), "[Cannot %s VM. %s]",
			 shutdown ? "shut down" : "stop", fault);
		rhv_action_fault(resp, 409, detail);
	} else {
		sim_resp_json(resp, 200, rhv_action_complete(sim));
	}
}

/* ------------------------------------------------------------------ */
/* Registration. */

/* Every API route twice: as /ovirt-engine/api/... and under /v4, with
 * one statistics name. */
#define RHV_ROUTE(m, p, fn)                             \
	{m, RHV_API p, m " " RHV_API p, fn},            \
	{                                               \
		m, RHV_API "/v4" p, m " " RHV_API p, fn \
	}

static const struct sim_route rhv_routes[] = {
	{"POST", "/ovirt-engine/sso/oauth/token", NULL, rhv_sso_token},
	{"POST", "/ovirt-engine/services/sso-logout", NULL, rhv_sso_logout},
	{"GET", "/ovirt-engine/services/sso-logout", NULL, rhv_sso_logout},
	RHV_ROUTE("GET", "", rhv_api_root),
	RHV_ROUTE("GET", "/vms", rhv_vm_list),
	RHV_ROUTE("GET", "/tags", rhv_tags_list),
	RHV_ROUTE("GET", "/vms/{vm}", rhv_vm_get),
	RHV_ROUTE("DELETE", "/vms/{vm}", rhv_vm_delete),
	RHV_ROUTE("POST", "/vms/{vm}/stop", rhv_vm_stop),
	RHV_ROUTE("POST", "/vms/{vm}/shutdown", rhv_vm_stop),
	RHV_ROUTE("GET", "/vms/{vm}/tags", rhv_vm_tags_get),
	{"GET", RHV_API "/{coll}", "GET " RHV_API "/vms;matrix",
	 rhv_coll_matrix},
	{"GET", RHV_API "/v4/{coll}", "GET " RHV_API "/vms;matrix",
	 rhv_coll_matrix},
};

static const char *const rhv_prefixes[] = {"/ovirt-engine/", NULL};

static const struct sim_platform_ops rhv_ops = {
	.platform = SIM_RHV,
	.prefixes = rhv_prefixes,
	.routes = rhv_routes,
	.nroutes = sizeof(rhv_routes) / sizeof(rhv_routes[0]),
	.error = rhv_render_error,
	.reset = NULL,
};

void sim_rhv_register(struct sim *sim)
{
	sim_platform_add(sim, &rhv_ops);
}
