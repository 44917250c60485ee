/*
 * vmw_parse.c - the pure JSON work of the vSphere provider.
 *
 * Nothing here does I/O or keeps state, so the unit tests feed it the
 * real vSphere samples and hostile bodies directly.
 *
 * The two API generations differ on the wire in one systematic way: the
 * legacy /rest wraps every successful answer as {"value": ...}.  The
 * parsers accept both shapes rather than being told which to expect, so
 * a vCenter that answers one path in the other style still parses.
 *
 * What a malformed entry costs is decided in the direction of keeping a
 * VM rather than deleting it: an unreadable list body fails the whole
 * listing (a shortened inventory skews the percentage gate); an entry
 * without a usable id or name is left out (and so never deleted); a tag
 * answer that cannot be read fails, because a protection marker may hide
 * in it; an unreadable creation date is an unknown age.
 */
#include "vmw_internal.h"

#include "common/pv_json.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bodies are capped by the HTTP layer; jansson caps nesting depth. */
static json_t *vmw_json_load(const char *body, size_t len)
{
	json_error_t jerr;

	if (!body || !len)
		return NULL;
	return json_loadb(body, len, JSON_DECODE_ANY, &jerr);
}

static const char *vmw_json_str(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The legacy {"value": X} wrapper's X, else root itself. */
static json_t *vmw_unwrap(json_t *root)
{
	json_t *v;

	if (json_is_object(root) && json_object_size(root) == 1 &&
	    (v = json_object_get(root, "value")) != NULL)
		return v;
	return root;
}

/* ------------------------------------------------------------------ */
/* Errors.                                                              */

/* "com.vmware.vapi.std.errors.not_found" -> "NOT_FOUND". */
static void vmw_type_from_snake(const char *full, char *out, size_t outsz)
{
	static const char prefix[] = "com.vmware.vapi.std.errors.";
	const char *s = full;
	size_t i;

	if (strncmp(s, prefix, sizeof(prefix) - 1) == 0)
		s += sizeof(prefix) - 1;
	else if (strrchr(s, '.'))
		s = strrchr(s, '.') + 1;
	for (i = 0; s[i] && i + 1 < outsz; i++) {
		char c = s[i];

		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		else if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			   c == '_'))
			c = '?';
		out[i] = c;
	}
	out[i] = '\0';
}

void vmw_fault_parse(const char *body, size_t len, struct vmw_fault *f)
{
	json_t *root = vmw_json_load(body, len), *inner = NULL, *msgs, *m0;
	const char *s;

	memset(f, 0, sizeof(*f));
	if (!json_is_object(root))
		goto out;
	if ((s = vmw_json_str(root, "error_type")) != NULL) {
		inner = root;
		vmw_type_from_snake(s, f->type, sizeof(f->type));
	} else if ((s = vmw_json_str(root, "type")) != NULL &&
		   json_is_object(json_object_get(root, "value"))) {
		const char *et;

		inner = json_object_get(root, "value");
		/* 6.x may omit value.error_type: then the type name says. */
		et = vmw_json_str(inner, "error_type");
		vmw_type_from_snake(et ? et : s, f->type, sizeof(f->type));
	} else {
		goto out;
	}
	msgs = json_object_get(inner, "messages");
	m0 = json_is_array(msgs) ? json_array_get(msgs, 0) : NULL;
	if (json_is_object(m0)) {
		pv_clean(f->id, sizeof(f->id), vmw_json_str(m0, "id"));
		pv_clean(f->message, sizeof(f->message),
			 vmw_json_str(m0, "default_message"));
	}
out:
	json_decref(root);
}

int vmw_fault_is(const struct vmw_fault *f, const char *type)
{
	return strcmp(f->type, type) == 0;
}

void vmw_fault_class(long status, const struct vmw_fault *f,
		     enum vs_err_class *cls, int *retryable)
{
	/* The type first: /rest reports most errors as a plain 400. */
	static const struct {
		const char *type;
		enum vs_err_class cls;
		int retryable;
	} map[] = {
		{"UNAUTHENTICATED", VS_EC_AUTH, 0},
		{"UNAUTHORIZED", VS_EC_AUTH, 0},
		{"NOT_FOUND", VS_EC_NOT_FOUND, 0},
		/*
		 * vCenter's way of saying "not now": the core counts class
		 * throttled as pushback and sends fewer requests at once.
		 */
		{"RESOURCE_BUSY", VS_EC_THROTTLED, 1},
		{"RESOURCE_IN_USE", VS_EC_LOCKED, 1},
		{"NOT_ALLOWED_IN_CURRENT_STATE", VS_EC_CONFLICT, 1},
		{"CONCURRENT_CHANGE", VS_EC_CONFLICT, 1},
		{"SERVICE_UNAVAILABLE", VS_EC_SERVER, 1},
		{"TIMED_OUT", VS_EC_TIMEOUT, 1},
		{"UNABLE_TO_ALLOCATE_RESOURCE", VS_EC_SERVER, 0},
		{"RESOURCE_INACCESSIBLE", VS_EC_SERVER, 1},
		{"INVALID_ARGUMENT", VS_EC_CLIENT, 0},
		{"INVALID_REQUEST", VS_EC_CLIENT, 0},
		{"OPERATION_NOT_FOUND", VS_EC_CLIENT, 0},
		{"UNSUPPORTED", VS_EC_CLIENT, 0},
	};
	size_t i;

	for (i = 0; f && i < sizeof(map) / sizeof(map[0]); i++) {
		if (strcmp(f->type, map[i].type) == 0) {
			*cls = map[i].cls;
			*retryable = map[i].retryable;
			return;
		}
	}
	*retryable = 0;
	if (status == 401 || status == 403) {
		*cls = VS_EC_AUTH;
	} else if (status == 404) {
		*cls = VS_EC_NOT_FOUND;
	} else if (status == 409) {
		*cls = VS_EC_CONFLICT;
		*retryable = 1;
	} else if (status == 429) {
		*cls = VS_EC_THROTTLED;
		*retryable = 1;
	} else if (status >= 500) {
		*cls = VS_EC_SERVER;
		*retryable = 1;
	} else if (status >= 400) {
		*cls = VS_EC_CLIENT;
	} else {
		*cls = VS_EC_INVALID_RESPONSE;
	}
}

int vmw_fault_too_many(long status, const struct vmw_fault *f)
{
	if (status != 500 && status != 400)
		return 0;
	return vmw_fault_is(f, "UNABLE_TO_ALLOCATE_RESOURCE") ||
	       strcmp(f->id, "com.vmware.api.vcenter.vm.too_many_matches") == 0;
}

/* ------------------------------------------------------------------ */
/* Sessions.                                                            */

int vmw_token_parse(const char *tag, const char *body, size_t len, char **token,
		    struct vs_error *err)
{
	json_t *root = vmw_json_load(body, len), *v;
	const char *s, *p;
	int rc = VS_ERR;

	*token = NULL;
	v = vmw_unwrap(root);
	s = json_is_string(v) ? json_string_value(v) : NULL;
	if (!s || !*s || strlen(s) > 4096) {
		vs_error_set(err, VS_EC_INVALID_RESPONSE, 0, 0,
			     "%s: login: the answer holds no session token",
			     tag);
		goto out;
	}
	/* It goes into a header line: no spaces, controls or non-ASCII. */
	for (p = s; *p; p++) {
		if (*p <= ' ' || *p >= 0x7f) {
			vs_error_set(err, VS_EC_INVALID_RESPONSE, 0, 0,
				     "%s: login: the session token holds "
				     "characters a header cannot carry",
				     tag);
			goto out;
		}
	}
	if (!(*token = strdup(s))) {
		vs_error_set(err, VS_EC_INTERNAL, 0, 0, "%s: out of memory",
			     tag);
		goto out;
	}
	rc = VS_OK;
out:
	if (root && json_is_string(v))
		/* The token text sits in jansson's copy; wipe it too. */
		memset((char *)json_string_value(v), 0, json_string_length(v));
	json_decref(root);
	return rc;
}

/* ------------------------------------------------------------------ */
/* VM summaries.                                                        */

void vmw_summaries_release(struct vmw_summaries *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->n; i++)
		vs_vm_release(&s->items[i].vm);
	free(s->items);
	memset(s, 0, sizeof(*s));
}

enum vs_power vmw_power_of(const char *s)
{
	if (!s)
		return VS_POWER_UNKNOWN;
	if (strcmp(s, "POWERED_ON") == 0)
		return VS_POWER_ON;
	if (strcmp(s, "POWERED_OFF") == 0)
		return VS_POWER_OFF;
	if (strcmp(s, "SUSPENDED") == 0)
		return VS_POWER_SUSPENDED;
	return VS_POWER_UNKNOWN;
}

/* An integer field under any letter case of key, or -1. */
static int64_t vmw_int_ci(json_t *obj, const char *key)
{
	const char *k;
	json_t *v;

	json_object_foreach(obj, k, v)
	{
		if (pv_streq_ci(k, key) && json_is_integer(v))
			return (int64_t)json_integer_value(v);
	}
	return -1;
}

static void vmw_skip(struct vmw_summaries *out, size_t i, const char *why)
{
	if (!out->skipped++)
		snprintf(out->skip_reason, sizeof(out->skip_reason),
			 "entry %zu: %s", i, why);
}

/*
 * The array of a list answer, bare or in the legacy {"value": [...]}:
 * checked whole by pv_json (what json_loadb would refuse is refused)
 * without building a tree of it.  0, or -1 when it is no such list.
 */
static int vmw_list_array(const char *body, size_t len,
			  struct pv_json_span *arr)
{
	static const char *const value[] = {"value"};
	struct pv_json_span root, v;

	if (!body || !len ||
	    pv_json_check_get(body, len, PV_JSON_ANY, &root, value, 1, &v, NULL,
			      0))
		return -1;
	*arr = pv_json_only_key(&root, "value") ? v : root;
	return pv_json_type(arr) == PV_JSON_ARRAY ? 0 : -1;
}

/* Read entry i of a VM list into out; 0, or -1 out of memory. */
static int vmw_summary_read(json_t *e, size_t i, struct vmw_summaries *out)
{
	const char *id, *name, *ps;
	struct vmw_summary *sm;

	if (!json_is_object(e)) {
		vmw_skip(out, i, "not an object");
		return 0;
	}
	id = vmw_json_str(e, "vm");
	name = vmw_json_str(e, "name");
	if (!id || !*id) {
		vmw_skip(out, i, "no usable \"vm\" id");
		return 0;
	}
	if (!name || !*name) {
		vmw_skip(out, i, "no usable \"name\"");
		return 0;
	}
	if (out->n == out->alloc) {
		size_t na = out->alloc ? out->alloc * 2 : 64;
		struct vmw_summary *ni = realloc(out->items, na * sizeof(*ni));

		if (!ni)
			return -1;
		out->items = ni;
		out->alloc = na;
	}
	sm = &out->items[out->n];
	memset(sm, 0, sizeof(*sm));
	sm->vm.created = VS_TIME_UNKNOWN;
	sm->vm.age_source = VS_AGE_NONE;
	ps = vmw_json_str(e, "power_state");
	sm->vm.power = vmw_power_of(ps);
	sm->cpu_count = vmw_int_ci(e, "cpu_count");
	sm->memory_mib = vmw_int_ci(e, "memory_size_MiB");
	sm->vm.id = strdup(id);
	sm->vm.name = strdup(name);
	sm->vm.status = ps ? strdup(ps) : NULL;
	out->n++;
	if (!sm->vm.id || !sm->vm.name || (ps && !sm->vm.status))
		return -1;
	return 0;
}

/*
 * Each entry is cut down to the members vmw_summary_read looks at (the
 * sizes in any case, as vmw_int_ci reads them) before it is read.
 */
int vmw_vm_list_parse(const char *tag, const char *body, size_t len,
		      struct vmw_summaries *out, struct vs_error *err)
{
	static const char *const keys[] = {"vm", "name", "power_state",
					   "cpu_count", "memory_size_MiB"};
	struct pv_json_span arr, e;
	struct pv_json_iter it;
	size_t i = 0;

	if (vmw_list_array(body, len, &arr))
		return vs_error_set(err, VS_EC_INVALID_RESPONSE, 0, 0,
				    "%s: listing VMs: the answer is not a VM "
				    "list",
				    tag);
	pv_json_iter_init(&it, &arr);
	for (; pv_json_iter_next(&it, &e); i++) {
		json_t *entry = NULL;
		int r;

		/* Not an object: vmw_summary_read says so, as for NULL. */
		if (pv_json_type(&e) == PV_JSON_OBJECT &&
		    !(entry = pv_json_pick_ci(&e, keys,
					      sizeof(keys) / sizeof(keys[0]))))
			goto nomem;
		r = vmw_summary_read(entry, i, out);
		json_decref(entry);
		if (r)
			goto nomem;
	}
	return VS_OK;
nomem:
	return vs_error_set(err, VS_EC_INTERNAL, 0, 0,
			    "%s: out of memory reading the VM list", tag);
}

int vmw_power_parse(const char *tag, const char *body, size_t len,
		    enum vs_power *power, struct vs_error *err)
{
	json_t *root = vmw_json_load(body, len), *o = vmw_unwrap(root);
	const char *s = json_is_object(o) ? vmw_json_str(o, "state") : NULL;
	int rc = VS_OK;

	*power = vmw_power_of(s);
	if (!s)
		rc = vs_error_set(err, VS_EC_INVALID_RESPONSE, 0, 0,
				  "%s: reading the power state: no \"state\"",
				  tag);
	json_decref(root);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Folders, hosts.                                                      */

void vmw_ids_free(char **ids, size_t n)
{
	size_t i;

	if (!ids)
		return;
	for (i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}

int vmw_ids_parse(const char *tag, const char *body, size_t len,
		  const char *field, char ***ids, size_t *n,
		  struct vs_error *err)
{
	json_t *root = vmw_json_load(body, len), *arr = vmw_unwrap(root), *e;
	size_t i;
	int rc = VS_ERR;

	*ids = NULL;
	*n = 0;
	if (!json_is_array(arr)) {
		vs_error_set(err, VS_EC_INVALID_RESPONSE, 0, 0,
			     "%s: the %s list is not a list", tag, field);
		goto out;
	}
	*ids = calloc(json_array_size(arr) + 1, sizeof(**ids));
	if (!*ids)
		goto nomem;
	json_array_foreach(arr, i, e)
	{
		const char *s = vmw_json_str(e, field);

		if (!s || !*s)
			continue;
		if (!((*ids)[*n] = strdup(s)))
			goto nomem;
		(*n)++;
	}
	rc = VS_OK;
	goto out;
nomem:
	vmw_ids_free(*ids, *n);
	*ids = NULL;
	*n = 0;
	vs_error_set(err, VS_EC_INTERNAL, 0, 0, "%s: out of memory", tag);
out:
	json_decref(root);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Tags.                                                                */

/*
 * Append s as a JSON string.  s came out of a decoded JSON document, so
 * it is valid UTF-8 without NUL; only quotes, backslashes and control
 * characters need escaping.
 */
static int vmw_add_json_string(struct vs_buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s;
	char esc[7];

	if (vs_buf_addc(b, '"'))
		return VS_ERR;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		if (vs_buf_add(b, run, (size_t)(s - run)))
			return VS_ERR;
		esc[0] = '\\';
		esc[1] = 'u';
		esc[2] = '0';
		esc[3] = '0';
		esc[4] = hex[c >> 4];
		esc[5] = hex[c & 15];
		if (vs_buf_add(b, esc, 6))
			return VS_ERR;
		run = s + 1;
	}
	if (vs_buf_add(b, run, (size_t)(s - run)) || vs_buf_addc(b, '"'))
		return VS_ERR;
	return VS_OK;
}

char *vmw_tag_request_body(const char *const *ids, size_t n)
{
	struct vs_buf b;
	size_t i;

	/* Written directly: jansson's tree cost 10,000 instructions a VM. */
	vs_buf_init(&b, 0);
	if (vs_buf_adds(&b, "{\"object_ids\":["))
		goto fail;
	for (i = 0; i < n; i++)
		if (vs_buf_adds(&b,
				i ? ",{\"type\":\"VirtualMachine\",\"id\":"
				  : "{\"type\":\"VirtualMachine\",\"id\":") ||
		    vmw_add_json_string(&b, ids[i]) || vs_buf_addc(&b, '}'))
			goto fail;
	if (vs_buf_adds(&b, "]}"))
		goto fail;
	return vs_buf_detach(&b, NULL);
fail:
	vs_buf_release(&b);
	return NULL;
}

void vmw_attached_free(struct vmw_attached *a, size_t n)
{
	size_t i, j;

	if (!a)
		return;
	for (i = 0; i < n; i++) {
		free(a[i].object_id);
		for (j = 0; j < a[i].n_tags; j++)
			free(a[i].tag_ids[j]);
		free(a[i].tag_ids);
	}
	free(a);
}

/*
 * Read association entry i (object_id and tag_ids only) into a[*na]:
 * 0, 1 to stop with err filled, -1 out of memory.
 */
static int vmw_attached_read(const char *tag, json_t *e, size_t i,
			     struct vmw_attached *a, size_t *na,
			     struct vs_error *err)
{
	json_t *obj = json_object_get(e, "object_id");
	json_t *tids = json_object_get(e, "tag_ids"), *t;
	const char *type = vmw_json_str(obj, "type");
	const char *id = vmw_json_str(obj, "id");
	struct vmw_attached *cur;
	size_t j;

	if (!type || !id || strcmp(type, "VirtualMachine") != 0)
		return 0;
	if (!json_is_array(tids)) {
		vs_error_set(err, VS_EC_INVALID_RESPONSE, 0, 0,
			     "%s: reading tags: entry %zu has no "
			     "tag_ids list",
			     tag, i);
		return 1;
	}
	cur = &a[(*na)++];
	if (!(cur->object_id = strdup(id)))
		return -1;
	cur->tag_ids = calloc(json_array_size(tids) + 1, sizeof(*cur->tag_ids));
	if (!cur->tag_ids)
		return -1;
	json_array_foreach(tids, j, t)
	{
		if (!json_is_string(t) || !json_string_value(t)[0]) {
			vs_error_set(err, VS_EC_INVALID_RESPONSE, 0, 0,
				     "%s: reading tags: entry %zu has "
				     "a tag id that is not a string",
				     tag, i);
			return 1;
		}
		if (!(cur->tag_ids[cur->n_tags] = strdup(json_string_value(t))))
			return -1;
		cur->n_tags++;
	}
	return 0;
}

int vmw_attached_parse(const char *tag, const char *body, size_t len,
		       struct vmw_attached **out, size_t *n,
		       struct vs_error *err)
{
	static const char *const keys[] = {"object_id", "tag_ids"};
	struct pv_json_span arr, e, vals[2];
	struct pv_json_iter it;
	struct vmw_attached *a = NULL;
	size_t i = 0, na = 0;
	int rc = VS_ERR;

	*out = NULL;
	*n = 0;
	if (vmw_list_array(body, len, &arr)) {
		vs_error_set(err, VS_EC_INVALID_RESPONSE, 0, 0,
			     "%s: reading tags: the answer is not a list", tag);
		goto out;
	}
	a = calloc(pv_json_count(&arr) + 1, sizeof(*a));
	if (!a)
		goto nomem;
	pv_json_iter_init(&it, &arr);
	for (; pv_json_iter_get(&it, &e, keys, 2, vals); i++) {
		json_t *entry = NULL;
		int r;

		if (pv_json_type(&e) == PV_JSON_OBJECT &&
		    !(entry = pv_json_object_of(keys, 2, vals)))
			goto nomem;
		r = vmw_attached_read(tag, entry, i, a, &na, err);
		json_decref(entry);
		if (r < 0)
			goto nomem;
		if (r > 0)
			goto out;
	}
	*out = a;
	*n = na;
	a = NULL;
	rc = VS_OK;
	goto out;
nomem:
	vs_error_set(err, VS_EC_INTERNAL, 0, 0, "%s: out of memory", tag);
out:
	vmw_attached_free(a, na);
	return rc;
}

int vmw_named_parse(const char *tag, const char *body, size_t len, char **name,
		    char **category_id, struct vs_error *err)
{
	json_t *root = vmw_json_load(body, len), *o = vmw_unwrap(root);
	const char *nm = json_is_object(o) ? vmw_json_str(o, "name") : NULL;
	const char *cat =
		json_is_object(o) ? vmw_json_str(o, "category_id") : NULL;
	int rc = VS_ERR;

	*name = NULL;
	if (category_id)
		*category_id = NULL;
	if (!nm) {
		vs_error_set(err, VS_EC_INVALID_RESPONSE, 0, 0,
			     "%s: reading a tag: no \"name\"", tag);
		goto out;
	}
	if (!(*name = strdup(nm)))
		goto nomem;
	if (category_id && cat && !(*category_id = strdup(cat))) {
		free(*name);
		*name = NULL;
		goto nomem;
	}
	rc = VS_OK;
	goto out;
nomem:
	vs_error_set(err, VS_EC_INTERNAL, 0, 0, "%s: out of memory", tag);
out:
	json_decref(root);
	return rc;
}

/* ------------------------------------------------------------------ */
/* VI/JSON.                                                             */

char *vmw_vi_login_body(const char *user, const char *password)
{
	json_t *o = json_pack("{s:s,s:s}", "userName", user ? user : "",
			      "password", password ? password : "");
	char *s;

	if (!o)
		return NULL;
	s = json_dumps(o, JSON_COMPACT);
	/* Wipe jansson's copy of the password before it is freed. */
	{
		json_t *pw = json_object_get(o, "password");
		memset((char *)json_string_value(pw), 0,
		       json_string_length(pw));
	}
	json_decref(o);
	return s;
}

int vmw_vi_config_parse(const char *tag, const char *body, size_t len,
			vmw_time_fn parse_time, int64_t *created,
			int *is_template, struct vs_error *err)
{
	json_t *root = vmw_json_load(body, len);
	const char *cd;
	int64_t t;
	int rc = VS_OK;

	*created = VS_TIME_UNKNOWN;
	*is_template = 0;
	if (json_is_null(root))
		goto out;
	if (!json_is_object(root)) {
		rc = vs_error_set(err, VS_EC_INVALID_RESPONSE, 0, 0,
				  "%s: VI/JSON: the VM config is not an "
				  "object",
				  tag);
		goto out;
	}
	cd = vmw_json_str(root, "createDate");
	if (cd && parse_time(cd, &t) == 0)
		*created = t;
	*is_template = json_is_true(json_object_get(root, "template"));
out:
	json_decref(root);
	return rc;
}
