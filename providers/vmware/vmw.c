/*
 * vmw.c - the vSphere provider: the vSphere Automation REST API of
 * vCenter 6.5 and later, in whichever generation the vCenter speaks
 * (/api, or the legacy /rest), plus VI/JSON for creation dates.
 *
 * Deleting is synchronous on vSphere: a powered-on or suspended VM is
 * stopped (hard power-off) and DELETE returns once the VM is gone.
 * remove() then returns REQUESTED, and confirm() checks that the VMs are
 * gone with one list call filtered by up to 200 ids, instead of a GET
 * each on the workers.  vSphere's own protection is a template;
 * templates do not appear in the REST VM list, and a VM that VI/JSON
 * reports as a template is marked protected.
 *
 * Threading: list and open/close run on one thread; remove, probe and
 * confirm run on many workers with their own struct vs_http.  The only
 * shared mutable state they touch is the session (vmw_session.c); the
 * rest of the instance is read-only after open.
 */
#include "vmw_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct vs_key_spec vmw_keys[] = {
	{"datacenters", VS_KEY_LIST,
	 "list only VMs in these datacenters (ids such as datacenter-21; "
	 "default: all)"},
	{"clusters", VS_KEY_LIST,
	 "list only VMs in these clusters (ids such as domain-c8; default: "
	 "all)"},
	{"folders", VS_KEY_LIST,
	 "list only VMs directly in these VM folders (ids such as "
	 "group-v1001; default: all)"},
	{"vi_json", VS_KEY_STRING,
	 "read creation dates (config.createDate) over VI/JSON, one request "
	 "per VM: auto (when the vCenter offers it), on (required) or off "
	 "(ages unknown); default auto"},
	{"vi_json_release", VS_KEY_STRING,
	 "VI/JSON API release in the /sdk/vim25/{release}/ paths (default "
	 "8.0.1.0)"},
	{"tag_batch", VS_KEY_INT,
	 "VMs per list-attached-tags-on-objects call, 1-2000 (default 500)"},
	{NULL, 0, NULL},
};

/* ------------------------------------------------------------------ */
/* Requests.                                                            */

/* One request with token; no re-login. */
static int vmw_send(struct vmw_instance *in, struct vs_http *http,
		    const char *method, const char *path, const char *body,
		    const char *token, const char *what,
		    struct vs_http_response *resp, struct vs_error *err)
{
	struct vs_http_request req;
	struct vs_buf auth, url;
	const char *headers[4];
	struct vs_error e;
	size_t nh = 0;
	int rc = VS_ERR;

	vs_buf_init(&auth, 64 * 1024);
	vs_buf_init(&url, 0);
	memset(resp, 0, sizeof(*resp));
	if (in->host->cancelled()) {
		vs_error_set(err, VS_EC_CANCELLED, 0, 0, "%s: %s: stopped",
			     in->tag, what);
		goto out;
	}
	if (vs_buf_addf(&auth, "%s: %s", VMW_SESSION_HEADER, token) ||
	    vs_buf_adds(&url, in->base) || vs_buf_adds(&url, path)) {
		vs_error_set(err, VS_EC_INTERNAL, 0, 0, "%s: %s: out of memory",
			     in->tag, what);
		goto out;
	}
	headers[nh++] = auth.s;
	headers[nh++] = "Accept: application/json";
	if (body)
		headers[nh++] = "Content-Type: application/json";
	headers[nh] = NULL;
	memset(&req, 0, sizeof(req));
	req.method = method;
	req.url = url.s;
	req.headers = headers;
	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	req.ca_file = in->ca_file;
	req.insecure = in->insecure;
	/*
	 * Every call the provider makes may be repeated: reads, a stop of a
	 * VM that is already off (ALREADY_IN_DESIRED_STATE), a DELETE of a
	 * VM already gone (404), tag look-ups that are POSTs only by form.
	 */
	req.idempotent = 1;
	req.timeout_ms = in->timeout_ms;
	vs_error_clear(&e);
	if (in->host->http_do(http, &req, resp, &e)) {
		/* The core's message names no provider: add who and what. */
		vs_error_set(err, e.cls, e.http_status, e.retryable,
			     "%s: %s: %s", in->tag, what, e.message);
		memset(resp, 0, sizeof(*resp));
		goto out;
	}
	rc = VS_OK;
out:
	pv_buf_release_secret(&auth);
	vs_buf_release(&url);
	return rc;
}

int vmw_do_token(struct vmw_instance *in, struct vs_http *http,
		 const char *method, const char *path, const char *body,
		 const char *token, const char *what,
		 struct vs_http_response *resp, struct vs_error *err)
{
	unsigned long gen;
	char *own = NULL;
	int rc;

	if (!token) {
		if (pv_cred_token(&in->sess.cred, http, &own, &gen, err))
			return VS_ERR;
		token = own;
	}
	rc = vmw_send(in, http, method, path, body, token, what, resp, err);
	pv_free_secret(own);
	return rc;
}

int vmw_do(struct vmw_instance *in, struct vs_http *http, const char *method,
	   const char *path, const char *body, const char *what,
	   struct vs_http_response *resp, struct vs_error *err)
{
	char *token = NULL;
	unsigned long gen = 0;
	int attempt, rc = VS_ERR;

	/*
	 * A 401 re-logs in for the generation of the token that was
	 * refused.  Under a short session lifetime and many workers the new
	 * token can itself expire before this worker uses it: that is a new
	 * generation, so a second re-login is still one per expiry.
	 */
	for (attempt = 0; attempt < VMW_MAX_LOGINS_PER_CALL + 1; attempt++) {
		if (pv_cred_token(&in->sess.cred, http, &token, &gen, err))
			goto out;
		rc = vmw_send(in, http, method, path, body, token, what, resp,
			      err);
		pv_free_secret(token);
		token = NULL;
		if (rc || resp->status != 401 ||
		    attempt == VMW_MAX_LOGINS_PER_CALL)
			goto out;
		in->host->http_response_release(resp);
		memset(resp, 0, sizeof(*resp));
		rc = VS_ERR;
		if (pv_cred_refresh(&in->sess.cred, http, gen, err))
			goto out;
	}
out:
	pv_free_secret(token);
	return rc;
}

int vmw_fail(struct vmw_instance *in, const struct vs_http_response *resp,
	     const char *what, struct vs_error *err)
{
	struct vmw_fault f;
	enum vs_err_class cls;
	int retry;

	vmw_fault_parse(resp->body, resp->body_len, &f);
	vmw_fault_class(resp->status, &f, &cls, &retry);
	return vs_error_set(err, cls, (int)resp->status, retry,
			    "%s: %s failed: HTTP %ld%s%s%s%s", in->tag, what,
			    resp->status, f.type[0] ? " " : "", f.type,
			    f.message[0] ? ": " : "", f.message);
}

/* "delete of 'name'" with the untrusted name cleaned and cut. */
static const char *vmw_what(char *dst, size_t sz, const char *verb,
			    const struct vs_vm *vm)
{
	char name[96];

	snprintf(dst, sz, "%s of '%s'", verb,
		 pv_clean(name, sizeof(name), vm->name ? vm->name : vm->id));
	return dst;
}

/* {/api|/rest}/vcenter/vm/{id}{suffix}, the id percent-encoded. */
static char *vmw_vm_path(struct vmw_instance *in, const char *id,
			 const char *suffix)
{
	struct vs_buf b;

	vs_buf_init(&b, 64 * 1024);
	if (vs_buf_adds(&b, vmw_session_legacy(&in->sess) ? "/rest" : "/api") ||
	    vs_buf_adds(&b, "/vcenter/vm/") || vs_buf_add_pct(&b, id) ||
	    vs_buf_adds(&b, suffix)) {
		vs_buf_release(&b);
		return NULL;
	}
	return vs_buf_detach(&b, NULL);
}

static int vmw_check_vm(struct vmw_instance *in, const struct vs_vm *vm,
			struct vs_error *err)
{
	/* An empty id would address the collection, not a VM. */
	if (!vm || !vm->id || !*vm->id)
		return vs_error_set(err, VS_EC_INTERNAL, 0, 0,
				    "%s: a VM without an id", in->tag);
	return VS_OK;
}

/* ------------------------------------------------------------------ */
/* Remove and probe.                                                    */

/*
 * One call on a VM: GET/POST/DELETE of {vm}{suffix}.  0 with *status, or
 * VS_ERR.  body, when not NULL, receives the response (release it).
 */
static int vmw_vm_call(struct vmw_instance *in, struct vs_http *http,
		       const char *method, const struct vs_vm *vm,
		       const char *suffix, const char *what, long *status,
		       struct vs_http_response *resp, struct vs_error *err)
{
	char *path = vmw_vm_path(in, vm->id, suffix);
	int rc;

	if (!path)
		return vs_error_set(err, VS_EC_INTERNAL, 0, 0,
				    "%s: %s: out of memory", in->tag, what);
	rc = vmw_do(in, http, method, path, NULL, what, resp, err);
	free(path);
	if (rc == VS_OK)
		*status = resp->status;
	return rc;
}

/* GET .../power: *found 0 on 404, else *power. */
static int vmw_power_get(struct vmw_instance *in, struct vs_http *http,
			 const struct vs_vm *vm, int *found,
			 enum vs_power *power, struct vs_error *err)
{
	struct vs_http_response resp;
	char what[160];
	long st;
	int rc = VS_ERR;

	*found = 0;
	*power = VS_POWER_UNKNOWN;
	vmw_what(what, sizeof(what), "power state", vm);
	if (vmw_vm_call(in, http, "GET", vm, "/power", what, &st, &resp, err))
		return VS_ERR;
	if (st == 404) {
		rc = VS_OK;
	} else if (st == 200) {
		rc = vmw_power_parse(in->tag, resp.body, resp.body_len, power,
				     err);
		*found = rc == VS_OK;
	} else {
		vmw_fail(in, &resp, what, err);
	}
	in->host->http_response_release(&resp);
	return rc;
}

/* Hard power-off; *found 0 when the VM turned out to be gone. */
static int vmw_stop(struct vmw_instance *in, struct vs_http *http,
		    const struct vs_vm *vm, int *found, struct vs_error *err)
{
	struct vs_http_response resp;
	struct vmw_fault f;
	char what[160];
	long st;
	int rc = VS_ERR;

	*found = 1;
	vmw_what(what, sizeof(what), "power-off", vm);
	if (vmw_vm_call(in, http, "POST", vm,
			vmw_session_legacy(&in->sess) ? "/power/stop"
						      : "/power?action=stop",
			what, &st, &resp, err))
		return VS_ERR;
	vmw_fault_parse(resp.body, resp.body_len, &f);
	if (st == 200 || st == 204) {
		rc = VS_OK;
		in->host->log(VS_LOG_DEBUG, in->tag, "%s done", what);
	} else if (st == 404) {
		*found = 0;
		rc = VS_OK;
	} else if (vmw_fault_is(&f, "ALREADY_IN_DESIRED_STATE")) {
		/* Someone else powered it off meanwhile: what we wanted. */
		rc = VS_OK;
	} else {
		vmw_fail(in, &resp, what, err);
	}
	in->host->http_response_release(&resp);
	return rc;
}

/* Read the power state and stop the VM unless it is off. */
static int vmw_prepare(struct vmw_instance *in, struct vs_http *http,
		       const struct vs_vm *vm, int *found, struct vs_error *err)
{
	enum vs_power power;

	if (vmw_power_get(in, http, vm, found, &power, err))
		return VS_ERR;
	if (!*found)
		return VS_OK;
	if (power == VS_POWER_OFF)
		return VS_OK;
	return vmw_stop(in, http, vm, found, err);
}

static int vmw_remove(void *state, struct vs_http *http, const struct vs_vm *vm,
		      enum vs_remove_status *status, struct vs_error *err)
{
	struct vmw_instance *in = state;
	struct vs_http_response resp;
	struct vmw_fault f;
	char what[160];
	long st;
	int found, tries, have_resp = 0, rc = VS_ERR;

	if (vmw_check_vm(in, vm, err))
		return VS_ERR;
	if (vm->platform_protection) {
		*status = VS_REMOVE_PROTECTED;
		return VS_OK;
	}
	vmw_what(what, sizeof(what), "delete", vm);
	/*
	 * The listing's power state saves a GET per VM: an off VM goes
	 * straight to its DELETE, a running one straight to its stop.  A
	 * VM started since is caught below (its DELETE is refused, and we
	 * look and stop it again); one stopped since answers the stop with
	 * ALREADY_IN_DESIRED_STATE, which vmw_stop() takes as done.
	 */
	if (vm->power == VS_POWER_OFF)
		found = 1;
	else if (vm->power == VS_POWER_ON || vm->power == VS_POWER_SUSPENDED
			 ? vmw_stop(in, http, vm, &found, err)
			 : vmw_prepare(in, http, vm, &found, err))
		goto out;
	if (!found) {
		*status = VS_REMOVE_ABSENT;
		rc = VS_OK;
		goto out;
	}
	for (tries = 0;; tries++) {
		if (vmw_vm_call(in, http, "DELETE", vm, "", what, &st, &resp,
				err))
			goto out;
		have_resp = 1;
		if (st == 200 || st == 204)
			break;
		if (st == 404) {
			*status = VS_REMOVE_ABSENT;
			rc = VS_OK;
			goto out;
		}
		vmw_fault_parse(resp.body, resp.body_len, &f);
		/*
		 * Powered on between our stop and the delete (a HA restart,
		 * a person): stop it again, once.
		 */
		if (tries == 0 &&
		    vmw_fault_is(&f, "NOT_ALLOWED_IN_CURRENT_STATE")) {
			in->host->http_response_release(&resp);
			have_resp = 0;
			if (vmw_prepare(in, http, vm, &found, err))
				goto out;
			if (!found) {
				*status = VS_REMOVE_ABSENT;
				rc = VS_OK;
				goto out;
			}
			continue;
		}
		vmw_fail(in, &resp, what, err);
		goto out;
	}
	/*
	 * DELETE returns when the task ended.  confirm() checks that the VM
	 * is gone, with one list call for many VMs instead of a GET each.
	 */
	*status = VS_REMOVE_REQUESTED;
	rc = VS_OK;
out:
	if (have_resp)
		in->host->http_response_release(&resp);
	return rc;
}

static int vmw_probe(void *state, struct vs_http *http, const struct vs_vm *vm,
		     enum vs_remove_status *status, struct vs_error *err)
{
	struct vmw_instance *in = state;
	struct vs_http_response resp;
	char what[160];
	long st;
	int rc = VS_ERR;

	if (vmw_check_vm(in, vm, err))
		return VS_ERR;
	vmw_what(what, sizeof(what), "lookup", vm);
	if (vmw_vm_call(in, http, "GET", vm, "", what, &st, &resp, err))
		return VS_ERR;
	if (st == 404) {
		*status = VS_REMOVE_ABSENT;
		rc = VS_OK;
	} else if (st == 200) {
		*status = vm->platform_protection ? VS_REMOVE_PROTECTED
						  : VS_REMOVE_PRESENT;
		rc = VS_OK;
	} else {
		vmw_fail(in, &resp, what, err);
	}
	in->host->http_response_release(&resp);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Confirm.                                                             */

/*
 * One confirmation list call asks about at most this many VMs, in a path
 * and query of at most this many bytes.  One id matches one VM at most,
 * so the answer stays below the result cap (1000 on 6.5); the URL stays
 * far inside the 8 KiB request line servers commonly accept, and the
 * number of query parameters modest (a server keeps each one, and the
 * simulator's stops answering at about 500).
 */
#define VMW_CONFIRM_BATCH    200
#define VMW_CONFIRM_PATH_MAX 4096

/* A VM still there after its DELETE returned: the delete failed. */
static enum vs_confirm_state vmw_still_there(struct vmw_instance *in,
					     const struct vs_vm *vm,
					     struct vs_error *e)
{
	char what[160];

	vs_error_set(e, VS_EC_SERVER, 200, 1,
		     "%s: %s: the VM is still there after its delete "
		     "returned",
		     in->tag,
		     vmw_what(what, sizeof(what), "confirming the delete", vm));
	return VS_CONFIRM_FAILED;
}

/* Ask about one VM (pv_confirm_each): GET {vm}, 404 is gone. */
static int vmw_confirm_one(void *ctx, struct vs_http *http,
			   const struct vs_vm *vm, enum vs_confirm_state *state,
			   struct vs_error *vm_err, struct vs_error *e)
{
	struct vmw_instance *in = ctx;
	struct vs_http_response resp;
	char what[160];
	long st;
	int rc = VS_OK;

	vmw_what(what, sizeof(what), "confirming the delete", vm);
	if (vmw_vm_call(in, http, "GET", vm, "", what, &st, &resp, e))
		return VS_ERR;
	if (st == 404)
		*state = VS_CONFIRM_GONE;
	else if (st == 200)
		*state = vmw_still_there(in, vm, vm_err);
	else
		rc = vmw_fail(in, &resp, what, e);
	in->host->http_response_release(&resp);
	return rc;
}

/*
 * The list call path, filtered by the ids of vms[*next...], as many as
 * fit: VMW_CONFIRM_BATCH and VMW_CONFIRM_PATH_MAX.  0 with their indexes
 * in idx[0..*m) and *next past them; 1 when the first id alone does not
 * fit (it is idx[0], to be asked about by GET); VS_ERR out of memory.
 */
static int vmw_confirm_path(struct vmw_instance *in,
			    const struct vs_vm *const *vms, size_t n,
			    size_t *next, size_t *idx, size_t *m,
			    struct vs_buf *path, struct vs_error *err)
{
	int legacy = vmw_session_legacy(&in->sess), rc = VS_OK;
	struct vs_buf one;

	vs_buf_init(&one, 0);
	vs_buf_release(path);
	vs_buf_init(path, VMW_CONFIRM_PATH_MAX);
	*m = 0;
	if (vs_buf_adds(path, legacy ? "/rest/vcenter/vm" : "/api/vcenter/vm"))
		rc = VS_ERR;
	for (; rc == VS_OK && *next < n && *m < VMW_CONFIRM_BATCH; ++*next) {
		vs_buf_reset(&one);
		if (vs_buf_adds(&one, *m ? "&" : "?") ||
		    vs_buf_adds(&one, legacy ? "filter.vms=" : "vms=") ||
		    vs_buf_add_pct(&one, vms[*next]->id))
			rc = VS_BUF_TOO_BIG;
		else
			rc = vs_buf_add(path, one.s, one.len);
		if (rc == VS_BUF_TOO_BIG) {
			/* Full: the id goes into the next call. */
			if (*m) {
				rc = VS_OK;
				break;
			}
			idx[(*m)++] = (*next)++;
			rc = 1;
			break;
		}
		if (rc == VS_OK)
			idx[(*m)++] = *next;
	}
	vs_buf_release(&one);
	if (rc < 0)
		return vs_error_set(err, VS_EC_INTERNAL, 0, 0,
				    "%s: confirming deletes: out of memory",
				    in->tag);
	return rc;
}

/*
 * One list call on path, filtered by the ids of vms[idx[0..n)]: a VM the
 * answer holds is still there, one it lacks is gone.  *ask_each is set,
 * and nothing judged, when the answer cannot tell: the vCenter refused
 * the filter (400, 404, the result cap) or left an entry out as
 * unreadable.
 */
static int vmw_confirm_batch(struct vmw_instance *in, struct vs_http *http,
			     const char *path, const struct vs_vm *const *vms,
			     const size_t *idx, size_t n,
			     enum vs_confirm_state *states,
			     struct vs_error *errs, int *ask_each,
			     struct vs_error *err)
{
	struct vs_http_response resp;
	struct vmw_summaries sums;
	struct vmw_fault f;
	size_t i, j;
	int rc = VS_ERR;

	*ask_each = 0;
	memset(&sums, 0, sizeof(sums));
	if (vmw_do(in, http, "GET", path, NULL, "confirming deletes", &resp,
		   err))
		return VS_ERR;
	vmw_fault_parse(resp.body, resp.body_len, &f);
	if (resp.status == 400 || resp.status == 404 ||
	    vmw_fault_too_many(resp.status, &f)) {
		*ask_each = 1;
		rc = VS_OK;
	} else if (resp.status != 200) {
		vmw_fail(in, &resp, "confirming deletes", err);
	} else if (vmw_vm_list_parse(in->tag, resp.body, resp.body_len, &sums,
				     err) == VS_OK) {
		*ask_each = sums.skipped > 0;
		for (i = 0; i < n && !*ask_each; i++) {
			const struct vs_vm *vm = vms[idx[i]];

			states[idx[i]] = VS_CONFIRM_GONE;
			for (j = 0; j < sums.n; j++)
				if (strcmp(sums.items[j].vm.id, vm->id) == 0) {
					states[idx[i]] = vmw_still_there(
						in, vm, &errs[idx[i]]);
					break;
				}
		}
		rc = VS_OK;
	}
	in->host->http_response_release(&resp);
	vmw_summaries_release(&sums);
	return rc;
}

/* One confirmation call: its VMs' indexes and the path asking for them. */
struct vmw_cbatch {
	struct vs_buf path;
	size_t idx[VMW_CONFIRM_BATCH];
	size_t m;
	int ask_each; /* the first id alone does not fit a path: GET it */
};

struct vmw_cjob {
	struct vmw_instance *in;
	const struct vs_vm *const *vms;
	enum vs_confirm_state *states;
	struct vs_error *errs;
	struct vmw_cbatch *b;
};

/*
 * Batch i of a confirmation (host fan_out): batches hold disjoint VMs,
 * so concurrent calls write disjoint states[] and errs[].
 */
static int vmw_confirm_call(struct vs_http *http, size_t i, void *udata,
			    struct vs_error *err)
{
	struct vmw_cjob *j = udata;
	struct vmw_cbatch *b = &j->b[i];
	int ask_each = b->ask_each;

	if (!ask_each &&
	    vmw_confirm_batch(j->in, http, b->path.s, j->vms, b->idx, b->m,
			      j->states, j->errs, &ask_each, err))
		return VS_ERR;
	if (ask_each && pv_confirm_each(j->in, vmw_confirm_one, http, j->vms,
					b->idx, b->m, j->states, j->errs, err))
		return VS_ERR;
	return VS_OK;
}

/*
 * The VMs whose DELETE returned, looked for with the list call's vms
 * filter, many in one call, rather than with one GET each; the calls go
 * out side by side on the workers (host fan_out).
 */
static int vmw_confirm(void *state, struct vs_http *http,
		       const struct vs_vm *const *vms, size_t n,
		       enum vs_confirm_state *states, struct vs_error *errs,
		       struct vs_error *err)
{
	struct vmw_instance *in = state;
	struct vmw_cjob job = {in, vms, states, errs, NULL};
	size_t next = 0, nb = 0, cap = 0, k;
	int r, rc = VS_ERR;

	for (k = 0; k < n; k++) {
		states[k] = VS_CONFIRM_PENDING;
		vs_error_clear(&errs[k]);
		if (vmw_check_vm(in, vms[k], err))
			return VS_ERR;
	}
	while (next < n) {
		struct vmw_cbatch *b;

		if (nb == cap) {
			size_t ncap = cap ? 2 * cap : 8;
			void *nbuf = realloc(job.b, ncap * sizeof(*job.b));

			if (!nbuf) {
				vs_error_set(err, VS_EC_INTERNAL, 0, 0,
					     "%s: out of memory", in->tag);
				goto out;
			}
			job.b = nbuf;
			cap = ncap;
		}
		b = &job.b[nb++];
		vs_buf_init(&b->path, 0);
		r = vmw_confirm_path(in, vms, n, &next, b->idx, &b->m, &b->path,
				     err);
		if (r < 0)
			goto out;
		b->ask_each = r;
	}
	rc = in->host->fan_out(http, nb, 0, vmw_confirm_call, &job, err);
out:
	for (k = 0; k < nb; k++)
		vs_buf_release(&job.b[k].path);
	free(job.b);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Open and close.                                                      */

/* Split a comma-joined list key into trimmed, non-empty items. */
static int vmw_split(const char *s, char ***items, size_t *n)
{
	const char *p = s;
	size_t cap = 1;

	*items = NULL;
	*n = 0;
	if (!s || !*s)
		return VS_OK;
	for (; *p; p++)
		cap += *p == ',';
	*items = calloc(cap, sizeof(**items));
	if (!*items)
		return VS_ERR;
	for (p = s; *p;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *a = p, *b = p + len;

		while (a < b && (*a == ' ' || *a == '\t'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		if (b > a) {
			if (!((*items)[*n] = strndup(a, (size_t)(b - a))))
				return VS_ERR;
			(*n)++;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	return VS_OK;
}

static void vmw_close(void *state, struct vs_http *http)
{
	struct vmw_instance *in = state;

	if (!in)
		return;
	if (in->sess_ready) {
		vmw_vi_logout(in, http);
		vmw_session_release(&in->sess, http);
	}
	vmw_ids_free(in->datacenters, in->n_datacenters);
	vmw_ids_free(in->clusters, in->n_clusters);
	vmw_ids_free(in->folders, in->n_folders);
	pv_strmap_release(&in->tag_names);
	pv_strmap_release(&in->tag_category);
	pv_strmap_release(&in->category_names);
	pv_free_secret(in->vi_token);
	pv_free_secret(in->password);
	free(in->vi_release);
	free(in->user);
	free(in->ca_file);
	free(in->base);
	free(in->tag);
	free(in);
}

/* Read the provider-specific keys into in; VS_ERR with a config error. */
static int vmw_settings(struct vmw_instance *in,
			const struct vs_provider_config *cfg,
			struct vs_error *err)
{
	const char *v;
	size_t len;

	if (!cfg->url || !*cfg->url)
		return vs_error_set(err, VS_EC_CONFIG, 0, 0,
				    "%s: url is required (https://vcenter...)",
				    in->tag);
	if (strncmp(cfg->url, "https://", 8) != 0 &&
	    strncmp(cfg->url, "http://", 7) != 0)
		return vs_error_set(err, VS_EC_CONFIG, 0, 0,
				    "%s: url must start with https://",
				    in->tag);
	if (!cfg->username || !*cfg->username || !cfg->password)
		return vs_error_set(err, VS_EC_CONFIG, 0, 0,
				    "%s: username and password (password_env "
				    "or password_file) are required",
				    in->tag);
	len = strlen(cfg->url);
	while (len > 0 && cfg->url[len - 1] == '/')
		len--;
	/* Users paste the API root; the paths below add it themselves. */
	if (len >= 4 && strncmp(cfg->url + len - 4, "/api", 4) == 0)
		len -= 4;
	else if (len >= 5 && strncmp(cfg->url + len - 5, "/rest", 5) == 0)
		len -= 5;
	if (!(in->base = strndup(cfg->url, len)) ||
	    !(in->user = strdup(cfg->username)) ||
	    !(in->password = strdup(cfg->password)) ||
	    (cfg->ca_file && !(in->ca_file = strdup(cfg->ca_file))))
		goto nomem;
	in->insecure = cfg->insecure;
	in->timeout_ms = cfg->request_timeout_ms;

	if (vmw_split(vs_provider_config_get(cfg, "datacenters"),
		      &in->datacenters, &in->n_datacenters) ||
	    vmw_split(vs_provider_config_get(cfg, "clusters"), &in->clusters,
		      &in->n_clusters) ||
	    vmw_split(vs_provider_config_get(cfg, "folders"), &in->folders,
		      &in->n_folders))
		goto nomem;

	v = vs_provider_config_get(cfg, "vi_json");
	if (!v || strcmp(v, "auto") == 0) {
		in->vi_mode = VMW_VI_UNKNOWN;
	} else if (strcmp(v, "on") == 0 || strcmp(v, "true") == 0) {
		in->vi_mode = VMW_VI_UNKNOWN;
		in->vi_required = 1;
	} else if (strcmp(v, "off") == 0 || strcmp(v, "false") == 0) {
		in->vi_mode = VMW_VI_OFF;
	} else {
		return vs_error_set(err, VS_EC_CONFIG, 0, 0,
				    "%s: vi_json must be auto, on or off",
				    in->tag);
	}
	v = vs_provider_config_get(cfg, "vi_json_release");
	if (!v)
		v = VMW_DEFAULT_VI_RELEASE;
	/* It becomes a path segment: digits and dots only. */
	if (!*v || strlen(v) > 32 || strspn(v, "0123456789.") != strlen(v) ||
	    *v == '.')
		return vs_error_set(err, VS_EC_CONFIG, 0, 0,
				    "%s: vi_json_release must look like "
				    "8.0.1.0",
				    in->tag);
	if (!(in->vi_release = strdup(v)))
		goto nomem;

	in->tag_batch = VMW_DEFAULT_TAG_BATCH;
	v = vs_provider_config_get(cfg, "tag_batch");
	if (v) {
		char *end;
		long n = strtol(v, &end, 10);

		if (*end || n < 1 || n > VMW_MAX_TAG_BATCH)
			return vs_error_set(err, VS_EC_CONFIG, 0, 0,
					    "%s: tag_batch must be 1-%d",
					    in->tag, VMW_MAX_TAG_BATCH);
		in->tag_batch = n;
	}
	return VS_OK;
nomem:
	return vs_error_set(err, VS_EC_INTERNAL, 0, 0, "%s: out of memory",
			    in->tag);
}

static int vmw_open(void **state, const struct vs_provider_config *cfg,
		    const struct vs_host *host, struct vs_http *http,
		    struct vs_error *err)
{
	struct vmw_instance *in;
	int rc = VS_ERR;

	*state = NULL;
	in = calloc(1, sizeof(*in));
	if (!in || !(in->tag = strdup(cfg->name ? cfg->name : "vmware"))) {
		free(in);
		return vs_error_set(err, VS_EC_INTERNAL, 0, 0,
				    "vmware: out of memory");
	}
	in->host = host;
	if (vmw_settings(in, cfg, err))
		goto out;
	if (vmw_session_init(&in->sess, host, in->tag, in->base, in->user,
			     in->password, in->ca_file, in->insecure,
			     in->timeout_ms, err))
		goto out;
	in->sess_ready = 1;
	if (vmw_session_login(&in->sess, http, err))
		goto out;
	host->log(VS_LOG_INFO, in->tag, "logged in to %s (%s API)", in->base,
		  vmw_session_legacy(&in->sess) ? "legacy /rest" : "/api");
	*state = in;
	in = NULL;
	rc = VS_OK;
out:
	/* No session was created on failure: nothing to end. */
	vmw_close(in, NULL);
	return rc;
}

__attribute__((visibility("default")))
const struct vs_provider_ops vmsweep_provider = {
	.abi_version = VS_PROVIDER_ABI_VERSION,
	.type = "vmware",
	.description = "VMware vSphere VMs (vCenter REST /api or /rest)",
	.caps = VS_CAP_CREATED | VS_CAP_CONFIRM,
	.keys = vmw_keys,
	.open = vmw_open,
	.list = vmw_list,
	.remove = vmw_remove,
	.probe = vmw_probe,
	.confirm = vmw_confirm,
	.close = vmw_close,
};
