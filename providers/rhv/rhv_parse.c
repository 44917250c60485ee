/*
 * rhv_parse.c - the pure work of the oVirt / RHV provider: settings,
 * URLs, form bodies, and reading the engine's JSON as it really is.
 *
 * Nothing here does I/O or keeps state, so the unit tests feed it the
 * real engine samples and hostile bodies directly.
 *
 * The engine's JSON (api/README.md §B.2): booleans are the strings
 * "true"/"false", dates are epoch milliseconds, integers come as numbers
 * or as strings, and an empty collection is {} without its key.  Each
 * reader accepts every one of these shapes, plus real JSON booleans.
 *
 * What a malformed VM entry costs is decided per field, always in the
 * direction of keeping a VM rather than deleting it:
 *   - the page itself (not JSON, not an object, "vm" not an array) fails
 *     the whole listing: a silently shortened inventory would skew the
 *     percentage gate;
 *   - an entry without a usable id or name, or whose tags have the wrong
 *     shape (they may hold a protection marker we cannot read), is left
 *     out of the inventory, so it is never deleted, and counted;
 *   - "creation_time" missing, not a number or absurd gives an unknown
 *     age (never selected by an age rule);
 *   - "delete_protected" other than false / "false" / null / absent
 *     protects the VM;
 *   - "status", "description" and "comment" of the wrong type read as
 *     absent.
 */
#include "rhv_internal.h"

#include "common/pv_json.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The last second of the year 9999: later is not a creation time. */
#define RHV_TIME_MAX INT64_C(253402300799)

/* Bodies are capped by the HTTP layer; jansson caps nesting depth. */
static json_t *rhv_json_load(const char *body, size_t len)
{
	json_error_t jerr;

	if (!body || !len)
		return NULL;
	return json_loadb(body, len, 0, &jerr);
}

static const char *rhv_json_str(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* ------------------------------------------------------------------ */
/* URLs.                                                                */

static int rhv_ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len >= n && strncmp(s + len - n, suffix, n) == 0;
}

void rhv_urls_release(struct rhv_urls *u)
{
	if (!u)
		return;
	free(u->base);
	free(u->api);
	free(u->sso);
	free(u->logout);
	memset(u, 0, sizeof(*u));
}

static char *rhv_join(const char *a, const char *b)
{
	struct vs_buf buf;

	vs_buf_init(&buf, 64 * 1024);
	if (vs_buf_adds(&buf, a) || vs_buf_adds(&buf, b)) {
		vs_buf_release(&buf);
		return NULL;
	}
	return vs_buf_detach(&buf, NULL);
}

int rhv_urls_make(const char *url, struct rhv_urls *out)
{
	const char *auth, *path, *p;
	size_t len;
	int changed;

	memset(out, 0, sizeof(*out));
	if (!url)
		return VS_ERR;
	if (strncmp(url, "https://", 8) == 0)
		auth = url + 8;
	else if (strncmp(url, "http://", 7) == 0)
		auth = url + 7;
	else
		return VS_ERR;
	for (p = url; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '?' ||
		    *p == '#')
			return VS_ERR;
	path = auth + strcspn(auth, "/");
	if (path == auth || memchr(auth, '@', (size_t)(path - auth)))
		return VS_ERR;
	len = strlen(url);
	/* Peel the known endings in any combination the user may write. */
	do {
		changed = 0;
		while (len > (size_t)(path - url) && url[len - 1] == '/') {
			len--;
			changed = 1;
		}
		if (rhv_ends_with(url, len, "/ovirt-engine/api/v4")) {
			len -= 3;
			changed = 1;
		} else if (rhv_ends_with(url, len, "/ovirt-engine/api")) {
			len -= 4;
			changed = 1;
		} else if (rhv_ends_with(url, len, "/ovirt-engine")) {
			len -= 13;
			changed = 1;
		}
	} while (changed);
	if (len < (size_t)(path - url))
		return VS_ERR;
	out->base = strndup(url, len);
	if (!out->base)
		goto fail;
	out->api = rhv_join(out->base, "/ovirt-engine/api");
	out->sso = rhv_join(out->base, "/ovirt-engine/sso/oauth/token");
	out->logout = rhv_join(out->base, "/ovirt-engine/services/sso-logout");
	if (!out->api || !out->sso || !out->logout)
		goto fail;
	return VS_OK;
fail:
	rhv_urls_release(out);
	return VS_ERR;
}

char *rhv_list_url(const char *api, long max, const char *search, long page,
		   int follow_tags)
{
	struct vs_buf b, q;
	char *url = NULL;

	vs_buf_init(&b, 64 * 1024);
	vs_buf_init(&q, 64 * 1024);
	/* The page clause ends the query, after any sortby the user wrote. */
	if (search && *search && vs_buf_addf(&q, "%s ", search))
		goto out;
	if (vs_buf_addf(&q, "page %ld", page) ||
	    vs_buf_addf(&b, "%s/vms?max=%ld&search=", api, max) ||
	    vs_buf_add_pct(&b, q.s) ||
	    (follow_tags && vs_buf_adds(&b, "&follow=tags")))
		goto out;
	url = vs_buf_detach(&b, NULL);
out:
	vs_buf_release(&b);
	vs_buf_release(&q);
	return url;
}

char *rhv_vm_url(const char *api, const char *id, const char *suffix)
{
	struct vs_buf b;

	vs_buf_init(&b, 64 * 1024);
	if (vs_buf_adds(&b, api) || vs_buf_adds(&b, "/vms/") ||
	    vs_buf_add_pct(&b, id) || vs_buf_adds(&b, suffix)) {
		vs_buf_release(&b);
		return NULL;
	}
	return vs_buf_detach(&b, NULL);
}

char *rhv_sso_body(const char *username, const char *password)
{
	struct vs_buf b;

	vs_buf_init(&b, 64 * 1024);
	if (vs_buf_adds(&b, "grant_type=password&scope=ovirt-app-api"
			    "&username=") ||
	    vs_buf_add_pct(&b, username ? username : "") ||
	    vs_buf_adds(&b, "&password=") ||
	    vs_buf_add_pct(&b, password ? password : "")) {
		pv_buf_release_secret(&b);
		return NULL;
	}
	return vs_buf_detach(&b, NULL);
}

char *rhv_logout_body(const char *token)
{
	struct vs_buf b;

	vs_buf_init(&b, 64 * 1024);
	if (vs_buf_adds(&b, "scope=ovirt-app-api&token=") ||
	    vs_buf_add_pct(&b, token ? token : "")) {
		pv_buf_release_secret(&b);
		return NULL;
	}
	return vs_buf_detach(&b, NULL);
}

/* ------------------------------------------------------------------ */
/* Settings.                                                            */

void rhv_settings_release(struct rhv_settings *s)
{
	if (!s)
		return;
	rhv_urls_release(&s->urls);
	free(s->username);
	pv_free_secret(s->password);
	free(s->ca_file);
	free(s->search);
	memset(s, 0, sizeof(*s));
}

/* A decimal integer in [min, max]; 0, or VS_ERR. */
static int rhv_parse_long(const char *v, long min, long max, long *out)
{
	char *end;
	long n;

	if (!v || !*v)
		return VS_ERR;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || *end || n < min || n > max)
		return VS_ERR;
	*out = n;
	return VS_OK;
}

/* "true" / "false" (the loader normalises booleans); else VS_ERR. */
static int rhv_parse_bool(const char *v, int *out)
{
	if (!v) {
		*out = 0;
		return VS_OK;
	}
	if (strcmp(v, "true") == 0)
		*out = 1;
	else if (strcmp(v, "false") == 0)
		*out = 0;
	else
		return VS_ERR;
	return VS_OK;
}

/*
 * A search expression the listing can page: one line, and no "page"
 * clause of its own (the provider appends one per page).
 */
static int rhv_search_ok(const char *s)
{
	const char *p = s;

	for (; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return 0;
	for (p = s; *p;) {
		size_t n;

		while (*p == ' ')
			p++;
		n = strcspn(p, " ");
		if (n == 4 && strncasecmp(p, "page", 4) == 0)
			return 0;
		p += n;
	}
	return 1;
}

int rhv_settings_from_config(const struct vs_provider_config *cfg,
			     struct rhv_settings *out, struct vs_error *err)
{
	const char *tag = cfg->name ? cfg->name : "rhv";
	const char *v;

	memset(out, 0, sizeof(*out));
	out->auth = RHV_AUTH_SSO;
	out->page_size = RHV_DEFAULT_PAGE_SIZE;
	out->insecure = cfg->insecure;
	out->timeout_ms = cfg->request_timeout_ms;
	out->delete_timeout_ms = cfg->delete_timeout_ms > 0
					 ? cfg->delete_timeout_ms
					 : RHV_DEFAULT_DELETE_TIMEOUT_MS;
	out->stop_recheck_after_ms = RHV_DEFAULT_STOP_RECHECK_MS;
	if (!cfg->url || !*cfg->url)
		return vs_error_set(err, VS_EC_CONFIG, 0, 0,
				    "%s: url is required (https://engine, "
				    "optionally ending in /ovirt-engine/api)",
				    tag);
	if (rhv_urls_make(cfg->url, &out->urls))
		return vs_error_set(
			err, VS_EC_CONFIG, 0, 0,
			"%s: url must be an http(s) URL with a host "
			"and no query, e.g. "
			"https://engine.example.com/ovirt-engine/api",
			tag);
	if (!cfg->username || !*cfg->username)
		return vs_error_set(err, VS_EC_CONFIG, 0, 0,
				    "%s: username is required (e.g. "
				    "admin@internal)",
				    tag);
	if (!cfg->password)
		return vs_error_set(err, VS_EC_CONFIG, 0, 0,
				    "%s: a password is required (password_env "
				    "or password_file)",
				    tag);
	v = vs_provider_config_get(cfg, "auth");
	if (v && strcmp(v, "basic") == 0)
		out->auth = RHV_AUTH_BASIC;
	else if (v && strcmp(v, "sso") != 0)
		return vs_error_set(err, VS_EC_CONFIG, 0, 0,
				    "%s: auth must be sso or basic", tag);
	v = vs_provider_config_get(cfg, "page_size");
	if (v && rhv_parse_long(v, 1, RHV_MAX_PAGE_SIZE, &out->page_size))
		return vs_error_set(err, VS_EC_CONFIG, 0, 0,
				    "%s: page_size must be 1-%d", tag,
				    RHV_MAX_PAGE_SIZE);
	if (rhv_parse_bool(vs_provider_config_get(cfg, "tags"), &out->tags))
		return vs_error_set(err, VS_EC_CONFIG, 0, 0,
				    "%s: tags must be true or false", tag);
	if (rhv_parse_bool(vs_provider_config_get(cfg, "force"), &out->force))
		return vs_error_set(err, VS_EC_CONFIG, 0, 0,
				    "%s: force must be true or false", tag);
	v = vs_provider_config_get(cfg, "stop_recheck_after");
	if (v && rhv_parse_long(v, 0, LONG_MAX, &out->stop_recheck_after_ms))
		return vs_error_set(err, VS_EC_CONFIG, 0, 0,
				    "%s: stop_recheck_after must be a duration "
				    "such as 30s, or 0",
				    tag);
	v = vs_provider_config_get(cfg, "search");
	if (v && *v && !rhv_search_ok(v))
		return vs_error_set(err, VS_EC_CONFIG, 0, 0,
				    "%s: search must be one line without a "
				    "page clause (the listing adds its own)",
				    tag);
	out->username = strdup(cfg->username);
	out->password = strdup(cfg->password);
	if (!out->username || !out->password ||
	    (cfg->ca_file && !(out->ca_file = strdup(cfg->ca_file))) ||
	    (v && *v && !(out->search = strdup(v))))
		return vs_error_set(err, VS_EC_INTERNAL, 0, 0,
				    "%s: out of memory", tag);
	return VS_OK;
}

/* ------------------------------------------------------------------ */
/* Numbers, booleans, times.                                            */

int64_t rhv_ms_to_time(const char *s)
{
	int64_t ms = 0;
	const char *p = s;

	if (!s || !*s)
		return VS_TIME_UNKNOWN;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return VS_TIME_UNKNOWN;
		if (ms > (INT64_MAX - 9) / 10)
			return VS_TIME_UNKNOWN;
		ms = ms * 10 + (*p - '0');
	}
	if (ms <= 0 || ms / 1000 > RHV_TIME_MAX)
		return VS_TIME_UNKNOWN;
	return ms / 1000;
}

/* A JSON value of epoch milliseconds in Unix seconds, or unknown. */
static int64_t rhv_json_ms(const json_t *v)
{
	if (json_is_integer(v)) {
		json_int_t ms = json_integer_value(v);

		if (ms <= 0 || ms / 1000 > RHV_TIME_MAX)
			return VS_TIME_UNKNOWN;
		return (int64_t)(ms / 1000);
	}
	if (json_is_real(v)) {
		double ms = json_real_value(v);

		if (!isfinite(ms) || ms <= 0 ||
		    ms / 1000 > (double)RHV_TIME_MAX)
			return VS_TIME_UNKNOWN;
		return (int64_t)(ms / 1000);
	}
	if (json_is_string(v))
		return rhv_ms_to_time(json_string_value(v));
	return VS_TIME_UNKNOWN;
}

/*
 * Whether a protection flag is set: false, "false" (any case), null and
 * absent are not; anything else is, since an engine that says something
 * else than "false" did not say the VM may go.
 */
static int rhv_json_flag(const json_t *v)
{
	if (!v || json_is_null(v) || json_is_false(v))
		return 0;
	if (json_is_string(v) && pv_streq_ci(json_string_value(v), "false"))
		return 0;
	return 1;
}

/* ------------------------------------------------------------------ */
/* Faults and the SSO answer.                                           */

/* text without the "[...]" the engine wraps a message list in. */
static const char *rhv_unbracket(char *dst, size_t dstsz, const char *text)
{
	size_t n = strlen(text);

	if (n >= 2 && text[0] == '[' && text[n - 1] == ']') {
		char *inner = strndup(text + 1, n - 2);

		if (inner) {
			pv_clean_ws(dst, dstsz, inner);
			free(inner);
			return dst;
		}
	}
	return pv_clean_ws(dst, dstsz, text);
}

static const char *rhv_fault_text(const json_t *root)
{
	const json_t *f = json_object_get(root, "fault");
	const char *t;

	if ((t = rhv_json_str(root, "detail")) && *t)
		return t;
	if (json_is_object(f)) {
		if ((t = rhv_json_str(f, "detail")) && *t)
			return t;
		if ((t = rhv_json_str(f, "reason")) && *t)
			return t;
	}
	if ((t = rhv_json_str(root, "reason")) && *t)
		return t;
	/* SSO: {"error","error_description"} or {"error_code","error"}. */
	if ((t = rhv_json_str(root, "error_description")) && *t)
		return t;
	if ((t = rhv_json_str(root, "error")) && *t)
		return t;
	return NULL;
}

const char *rhv_fault_message(const char *body, size_t len, char *dst,
			      size_t dstsz)
{
	json_t *root = rhv_json_load(body, len);
	const char *t = json_is_object(root) ? rhv_fault_text(root) : NULL;

	if (dstsz)
		dst[0] = '\0';
	if (t)
		rhv_unbracket(dst, dstsz, t);
	json_decref(root);
	return dst;
}

enum rhv_fault_kind rhv_fault_kind(const char *m)
{
	if (!m)
		return RHV_FAULT_OTHER;
	if (pv_contains_ci(m, "delete protection"))
		return RHV_FAULT_PROTECTED;
	if (pv_contains_ci(m, "locked"))
		return RHV_FAULT_LOCKED;
	if (pv_contains_ci(m, "is running") ||
	    pv_contains_ci(m, "is not down") ||
	    pv_contains_ci(m, "state is not down") ||
	    pv_contains_ci(m, "stop the vm first"))
		return RHV_FAULT_RUNNING;
	return RHV_FAULT_OTHER;
}

int rhv_action_failed(const char *body, size_t len, char *msg, size_t msgsz)
{
	json_t *root = rhv_json_load(body, len);
	const char *st = rhv_json_str(root, "status");
	int failed = st && pv_streq_ci(st, "failed");
	const char *t;

	if (msgsz)
		msg[0] = '\0';
	if (failed) {
		t = rhv_fault_text(root);
		rhv_unbracket(msg, msgsz, t ? t : "the action failed");
	}
	json_decref(root);
	return failed;
}

void rhv_token_release(struct rhv_token *t)
{
	if (!t)
		return;
	pv_free_secret(t->access_token);
	memset(t, 0, sizeof(*t));
}

int rhv_token_parse(const char *tag, long status, const char *body, size_t len,
		    struct rhv_token *out, struct vs_error *err)
{
	char msg[RHV_MSG_MAX];
	json_t *root = NULL;
	const char *tok;
	int rc = VS_ERR;

	memset(out, 0, sizeof(*out));
	out->expires_at = VS_TIME_UNKNOWN;
	if (status != 200) {
		rhv_fault_message(body, len, msg, sizeof(msg));
		if (status == 400 || status == 401 || status == 403)
			return vs_error_set(err, VS_EC_AUTH, (int)status, 0,
					    "%s: SSO login refused: %s", tag,
					    msg[0] ? msg : "no reason given");
		if (status == 404)
			return vs_error_set(err, VS_EC_CONFIG, 404, 0,
					    "%s: no SSO endpoint at the url "
					    "(HTTP 404); is it the engine?",
					    tag);
		if (status >= 500)
			return vs_error_set(
				err, VS_EC_SERVER, (int)status, 1,
				"%s: SSO login failed: HTTP %ld%s%s", tag,
				status, msg[0] ? ": " : "", msg);
		return vs_error_set(err, VS_EC_INVALID_RESPONSE, (int)status, 0,
				    "%s: SSO login: unexpected HTTP %ld", tag,
				    status);
	}
	root = rhv_json_load(body, len);
	if (!json_is_object(root)) {
		vs_error_set(err, VS_EC_INVALID_RESPONSE, 200, 0,
			     "%s: SSO login: the answer is not a JSON object",
			     tag);
		goto out;
	}
	tok = rhv_json_str(root, "access_token");
	if (!tok || !*tok) {
		/* An SSO that answers 200 with an error body. */
		const char *t = rhv_fault_text(root);

		if (t) {
			vs_error_set(err, VS_EC_AUTH, 200, 0,
				     "%s: SSO login refused: %s", tag,
				     rhv_unbracket(msg, sizeof(msg), t));
			goto out;
		}
		vs_error_set(err, VS_EC_INVALID_RESPONSE, 200, 0,
			     "%s: SSO login: no access_token in the answer",
			     tag);
		goto out;
	}
	for (const char *p = tok; *p; p++) {
		/* It goes into a header line as it is. */
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			vs_error_set(err, VS_EC_INVALID_RESPONSE, 200, 0,
				     "%s: SSO login: the access_token holds "
				     "control characters",
				     tag);
			goto out;
		}
	}
	out->access_token = strdup(tok);
	if (!out->access_token) {
		vs_error_set(err, VS_EC_INTERNAL, 0, 0, "%s: out of memory",
			     tag);
		goto out;
	}
	out->expires_at = rhv_json_ms(json_object_get(root, "exp"));
	rc = VS_OK;
out:
	json_decref(root);
	return rc;
}

/* ------------------------------------------------------------------ */
/* VMs.                                                                 */

enum vs_power rhv_power(const char *st)
{
	static const char *const on[] = {
		"up",	     "powering_up",	   "powering_down",
		"migrating", "reboot_in_progress", "wait_for_launch",
	};
	size_t i;

	if (!st)
		return VS_POWER_UNKNOWN;
	for (i = 0; i < sizeof(on) / sizeof(on[0]); i++)
		if (pv_streq_ci(st, on[i]))
			return VS_POWER_ON;
	if (pv_streq_ci(st, "down"))
		return VS_POWER_OFF;
	if (pv_streq_ci(st, "suspended") || pv_streq_ci(st, "paused"))
		return VS_POWER_SUSPENDED;
	return VS_POWER_UNKNOWN;
}

int rhv_status_transient(const char *st)
{
	static const char *const tr[] = {
		"image_locked", "saving_state",	   "restoring_state",
		"migrating",	"wait_for_launch", "powering_up",
	};
	size_t i;

	for (i = 0; st && i < sizeof(tr) / sizeof(tr[0]); i++)
		if (pv_streq_ci(st, tr[i]))
			return 1;
	return 0;
}

int rhv_status_deletable(const char *st)
{
	return st && (pv_streq_ci(st, "down") || pv_streq_ci(st, "unassigned"));
}

static int rhv_dup(char **dst, const char *s)
{
	if (!s)
		return 0;
	*dst = strdup(s);
	return *dst ? 0 : -1;
}

/* Append one tag name; -1 when out of memory. */
static int rhv_add_tag(struct vs_vm *vm, const char *name)
{
	char **nt = realloc(vm->tags, (vm->n_tags + 1) * sizeof(*nt));

	if (!nt)
		return -1;
	vm->tags = nt;
	if (!(nt[vm->n_tags] = strdup(name)))
		return -1;
	vm->n_tags++;
	return 0;
}

/*
 * Append the names of a tag array.  0, 1 when an element is not a tag
 * with a name (why filled), -1 when out of memory.
 */
static int rhv_read_tag_array(const json_t *arr, struct vs_vm *vm, char *why,
			      size_t whysz)
{
	const json_t *t;
	size_t i;

	json_array_foreach(arr, i, t)
	{
		const char *name = rhv_json_str(t, "name");

		if (!name) {
			snprintf(why, whysz, "a tag without a name");
			return 1;
		}
		if (rhv_add_tag(vm, name))
			return -1;
	}
	return 0;
}

/*
 * Read inlined tags (follow=tags): "tags": {"tag": [...]}, {} when none.
 * *none_inlined is set when the VM carries no "tags" at all (an engine
 * that ignored follow, or one that omits empty links).
 */
static int rhv_read_tags(const json_t *v, struct vs_vm *vm, int *none_inlined,
			 char *why, size_t whysz)
{
	const json_t *arr;

	*none_inlined = 0;
	if (!v || json_is_null(v)) {
		*none_inlined = 1;
		return 0;
	}
	if (json_is_array(v))
		return rhv_read_tag_array(v, vm, why, whysz);
	if (!json_is_object(v)) {
		snprintf(why, whysz, "\"tags\" is not an object");
		return 1;
	}
	arr = json_object_get(v, "tag");
	if (!arr || json_is_null(arr))
		return 0;
	if (!json_is_array(arr)) {
		snprintf(why, whysz, "\"tags.tag\" is not an array");
		return 1;
	}
	return rhv_read_tag_array(arr, vm, why, whysz);
}

/* "description\ncomment", either alone, or NULL. */
static int rhv_read_text(const json_t *o, struct vs_vm *vm)
{
	const char *d = rhv_json_str(o, "description");
	const char *c = rhv_json_str(o, "comment");
	struct vs_buf b;

	if (d && !*d)
		d = NULL;
	if (c && !*c)
		c = NULL;
	if (!d && !c)
		return 0;
	vs_buf_init(&b, 0);
	if ((d && vs_buf_adds(&b, d)) || (d && c && vs_buf_adds(&b, "\n")) ||
	    (c && vs_buf_adds(&b, c))) {
		vs_buf_release(&b);
		return -1;
	}
	vm->description = vs_buf_detach(&b, NULL);
	return vm->description ? 0 : -1;
}

/*
 * Read one VM object into vm (zeroed, created unknown).  0; 1 when the
 * entry is left out (why filled, vm released); -1 out of memory.
 */
static int rhv_vm_read(const json_t *o, int want_tags, struct vs_vm *vm,
		       int *no_tags, char *why, size_t whysz)
{
	const char *id, *name;
	int rc;

	*no_tags = 0;
	if (!json_is_object(o)) {
		snprintf(why, whysz, "an entry that is not an object");
		return 1;
	}
	id = rhv_json_str(o, "id");
	if (!id || !*id || strlen(id) > 1024) {
		snprintf(why, whysz, "an entry without a usable id");
		return 1;
	}
	name = rhv_json_str(o, "name");
	if (!name || !*name) {
		snprintf(why, whysz, "VM %.64s has no usable name", id);
		return 1;
	}
	if (rhv_dup(&vm->id, id) || rhv_dup(&vm->name, name) ||
	    rhv_dup(&vm->status, rhv_json_str(o, "status")) ||
	    rhv_read_text(o, vm))
		goto nomem;
	vm->power = rhv_power(vm->status);
	vm->created = rhv_json_ms(json_object_get(o, "creation_time"));
	vm->age_source =
		vm->created == VS_TIME_UNKNOWN ? VS_AGE_NONE : VS_AGE_CREATED;
	if (rhv_json_flag(json_object_get(o, "delete_protected")) &&
	    rhv_dup(&vm->platform_protection, "delete_protected"))
		goto nomem;
	if (want_tags) {
		char reason[96];

		rc = rhv_read_tags(json_object_get(o, "tags"), vm, no_tags,
				   reason, sizeof(reason));
		if (rc < 0)
			goto nomem;
		if (rc > 0) {
			/* Ids are UUIDs; a longer one is cut, not the reason. */
			if (snprintf(why, whysz, "VM %.40s: %.80s", id,
				     reason) < 0)
				why[0] = '\0';
			vs_vm_release(vm);
			return 1;
		}
	}
	return 0;
nomem:
	vs_vm_release(vm);
	return -1;
}

void rhv_page_release(struct rhv_page *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->n; i++)
		vs_vm_release(&p->items[i]);
	free(p->items);
	free(p->no_tags);
	memset(p, 0, sizeof(*p));
}

static int rhv_page_push(struct rhv_page *p, struct vs_vm **vm,
			 unsigned char **flag)
{
	if (p->n == p->alloc) {
		size_t na = p->alloc ? p->alloc * 2 : 64;
		struct vs_vm *ni = realloc(p->items, na * sizeof(*ni));
		unsigned char *nf;

		if (!ni)
			return -1;
		p->items = ni;
		nf = realloc(p->no_tags, na);
		if (!nf)
			return -1;
		p->no_tags = nf;
		p->alloc = na;
	}
	*vm = &p->items[p->n];
	*flag = &p->no_tags[p->n];
	memset(*vm, 0, sizeof(**vm));
	(*vm)->created = VS_TIME_UNKNOWN;
	**flag = 0;
	return 0;
}

/* The members of a VM rhv_vm_read looks at, "tags" last (read only when
 * they were asked for); the rest of the entry is never decoded. */
static const char *const rhv_vm_keys[] = {
	"id",	   "name",	    "status",		"description",
	"comment", "creation_time", "delete_protected", "tags",
};

/*
 * A page is checked whole first (pv_json: what json_loadb would refuse
 * fails the listing as before), then each entry is cut down to the
 * members above and read by the same rhv_vm_read as a single VM.
 */
int rhv_vms_parse(const char *tag, const char *body, size_t len, int want_tags,
		  struct rhv_page *out, struct vs_error *err)
{
	static const char *const top[] = {"vm"};
	const size_t nkeys = sizeof(rhv_vm_keys) / sizeof(rhv_vm_keys[0]);
	struct pv_json_span root, arr, elem, vals[PV_JSON_KEYS_MAX];
	const size_t nk = want_tags ? nkeys : nkeys - 1;
	struct pv_json_iter it;
	char why[160];
	int rc = VS_ERR;

	if (!body || !len ||
	    pv_json_check_get(body, len, 0, &root, top, 1, &arr, NULL, 0) ||
	    pv_json_type(&root) != PV_JSON_OBJECT) {
		vs_error_set(err, VS_EC_INVALID_RESPONSE, 0, 0,
			     "%s: listing VMs: the answer is not a JSON object",
			     tag);
		goto out;
	}
	if (pv_json_type(&arr) == PV_JSON_NONE ||
	    pv_json_type(&arr) == PV_JSON_NULL) {
		/* The engine's empty collection: {} without "vm". */
		rc = VS_OK;
		goto out;
	}
	if (pv_json_type(&arr) != PV_JSON_ARRAY) {
		vs_error_set(err, VS_EC_INVALID_RESPONSE, 0, 0,
			     "%s: listing VMs: \"vm\" is not an array", tag);
		goto out;
	}
	pv_json_iter_init(&it, &arr);
	while (pv_json_iter_get(&it, &elem, rhv_vm_keys, nk, vals)) {
		struct vs_vm *vm;
		unsigned char *flag;
		json_t *entry = NULL;
		int no_tags, r;

		out->entries++;
		if (rhv_page_push(out, &vm, &flag))
			goto nomem;
		/* Not an object: rhv_vm_read says so, as for NULL. */
		if (pv_json_type(&elem) == PV_JSON_OBJECT &&
		    !(entry = pv_json_object_of(rhv_vm_keys, nk, vals)))
			goto nomem;
		r = rhv_vm_read(entry, want_tags, vm, &no_tags, why,
				sizeof(why));
		json_decref(entry);
		if (r < 0)
			goto nomem;
		if (r > 0) {
			if (!out->skipped++)
				snprintf(out->skip_reason,
					 sizeof(out->skip_reason), "%s", why);
			continue;
		}
		*flag = (unsigned char)no_tags;
		out->n++;
	}
	rc = VS_OK;
	goto out;
nomem:
	vs_error_set(err, VS_EC_INTERNAL, 0, 0, "%s: out of memory reading VMs",
		     tag);
out:
	return rc;
}

int rhv_vm_parse(const char *tag, const char *body, size_t len,
		 struct vs_vm *out, struct vs_error *err)
{
	json_t *root = rhv_json_load(body, len);
	char why[160];
	int no_tags, r, rc = VS_ERR;

	memset(out, 0, sizeof(*out));
	out->created = VS_TIME_UNKNOWN;
	if (!json_is_object(root)) {
		vs_error_set(err, VS_EC_INVALID_RESPONSE, 0, 0,
			     "%s: reading a VM: the answer is not a JSON "
			     "object",
			     tag);
		goto out;
	}
	r = rhv_vm_read(root, 0, out, &no_tags, why, sizeof(why));
	if (r < 0) {
		vs_error_set(err, VS_EC_INTERNAL, 0, 0, "%s: out of memory",
			     tag);
		goto out;
	}
	if (r > 0) {
		vs_error_set(err, VS_EC_INVALID_RESPONSE, 0, 0,
			     "%s: reading a VM: %s", tag, why);
		goto out;
	}
	rc = VS_OK;
out:
	json_decref(root);
	return rc;
}

int rhv_tags_parse(const char *tag, const char *body, size_t len,
		   struct vs_vm *vm, struct vs_error *err)
{
	json_t *root = rhv_json_load(body, len);
	const json_t *arr;
	char why[160];
	int r, rc = VS_ERR;

	if (!json_is_object(root)) {
		vs_error_set(err, VS_EC_INVALID_RESPONSE, 0, 0,
			     "%s: reading tags: the answer is not a JSON "
			     "object",
			     tag);
		goto out;
	}
	arr = json_object_get(root, "tag");
	if (!arr || json_is_null(arr)) {
		rc = VS_OK;
		goto out;
	}
	if (!json_is_array(arr)) {
		vs_error_set(err, VS_EC_INVALID_RESPONSE, 0, 0,
			     "%s: reading tags: \"tag\" is not an array", tag);
		goto out;
	}
	r = rhv_read_tag_array(arr, vm, why, sizeof(why));
	if (r < 0) {
		vs_error_set(err, VS_EC_INTERNAL, 0, 0, "%s: out of memory",
			     tag);
		goto out;
	}
	if (r > 0) {
		vs_error_set(err, VS_EC_INVALID_RESPONSE, 0, 0,
			     "%s: reading tags: %s", tag, why);
		goto out;
	}
	rc = VS_OK;
out:
	json_decref(root);
	return rc;
}
