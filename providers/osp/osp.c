/*
 * osp.c - the OpenStack provider: Keystone v3 for the token, Nova v2.1
 * for the servers.
 *
 * Nova deletes asynchronously: DELETE answers 204 and the server lingers
 * with task_state "deleting" until it is gone, so remove() returns
 * REQUESTED and confirm() watches.  A server that went SOFT_DELETED
 * (reclaim_instance_interval) is purged with forceDelete.  Nova's own
 * protection is "locked": a locked server refuses the delete with 409
 * and is reported as protected, never as a failure.
 *
 * Threading: list and open/close run on one thread; remove, probe and
 * confirm run on many workers with their own struct vs_http.  The only
 * shared mutable state is the token (osp_auth.c) and the list of
 * clouds files already warned about (osp_warned, under its own mutex:
 * instances open in parallel); everything else in the instance is
 * read-only after open.
 */
#include "osp_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Below this many VMs confirm asks about each; above, it lists. */
#define OSP_CONFIRM_LIST_MIN 20

struct osp_instance {
	const struct vs_host *host;
	char *tag;
	struct osp_settings set;
	struct osp_session sess;
	int sess_ready;
	long timeout_ms;
	char mv_nova[64]; /* X-OpenStack-Nova-API-Version: 2.26 */
	char mv_std[64];  /* OpenStack-API-Version: compute 2.26 */
};

static const struct vs_key_spec osp_keys[] = {
	{"cloud", VS_KEY_STRING,
	 "entry of clouds.yaml to use (default: $OS_CLOUD when no credential "
	 "key is set)"},
	{"region", VS_KEY_STRING,
	 "region of the compute endpoint in the catalog (default: the "
	 "cloud's region_name, $OS_REGION_NAME, else the first match)"},
	{"interface", VS_KEY_STRING,
	 "catalog interface: public, internal or admin (default public)"},
	{"auth_url", VS_KEY_STRING,
	 "Keystone URL, e.g. https://keystone:5000/v3 (the common url key "
	 "works too; /v3 is appended when missing)"},
	{"project_name", VS_KEY_STRING, "project to scope the token to"},
	{"project_id", VS_KEY_STRING,
	 "project to scope the token to, by id (wins over project_name)"},
	{"project_domain_name", VS_KEY_STRING,
	 "domain of project_name (default: Default)"},
	{"project_domain_id", VS_KEY_STRING, "domain of project_name, by id"},
	{"user_domain_name", VS_KEY_STRING,
	 "domain of username (default: Default)"},
	{"user_domain_id", VS_KEY_STRING, "domain of username, by id"},
	{"user_id", VS_KEY_STRING, "user by id instead of username"},
	{"application_credential_id", VS_KEY_STRING,
	 "application credential id (authenticates with the secret)"},
	{"application_credential_name", VS_KEY_STRING,
	 "application credential name (needs username or user_id)"},
	{"application_credential_secret", VS_KEY_SECRET,
	 "application credential secret"},
	{"page_size", VS_KEY_INT,
	 "servers per page of GET /servers/detail, 1-10000 (default 1000; "
	 "Nova caps it at its max_limit)"},
	{"microversion", VS_KEY_STRING,
	 "Nova API microversion, 2.26 or later (default 2.26: tags and "
	 "locked)"},
	{NULL, 0, NULL},
};

/* ------------------------------------------------------------------ */
/* Requests.                                                            */

/* Sends of one request when Nova keeps refusing fresh tokens. */
#define OSP_MAX_SENDS 3

/*
 * One Nova request with the shared token.  A 401 re-authenticates (once
 * for all workers, see osp_auth.c) and sends the request again.  Real
 * tokens live for hours, so one retry is what matters; the third send is
 * for sessions that die within a few requests (a proxy, the simulator's
 * --session-ttl) while other workers keep renewing them.  0 with resp
 * filled whatever the status, or VS_ERR.
 */
static int osp_nova_do(struct osp_instance *in, struct vs_http *http,
		       const char *method, const char *url, const char *body,
		       int idempotent, struct vs_http_response *resp,
		       struct vs_error *err)
{
	struct vs_http_request req;
	struct vs_error e;
	struct vs_buf auth;
	const char *headers[6];
	char *token = NULL;
	unsigned long gen = 0;
	int attempt, rc = VS_ERR;

	vs_buf_init(&auth, 64 * 1024);
	for (attempt = 0; attempt < OSP_MAX_SENDS; attempt++) {
		size_t nh = 0;

		if (in->host->cancelled()) {
			vs_error_set(err, VS_EC_CANCELLED, 0, 0, "%s: stopped",
				     in->tag);
			goto out;
		}
		if (pv_cred_token(&in->sess.cred, http, &token, &gen, err))
			goto out;
		vs_buf_release(&auth);
		if (vs_buf_addf(&auth, "X-Auth-Token: %s", token)) {
			vs_error_set(err, VS_EC_INTERNAL, 0, 0,
				     "%s: token too large", in->tag);
			goto out;
		}
		pv_free_secret(token);
		token = NULL;
		headers[nh++] = auth.s;
		headers[nh++] = in->mv_nova;
		headers[nh++] = in->mv_std;
		headers[nh++] = "Accept: application/json";
		if (body)
			headers[nh++] = "Content-Type: application/json";
		headers[nh] = NULL;

		memset(&req, 0, sizeof(req));
		memset(resp, 0, sizeof(*resp));
		req.method = method;
		req.url = url;
		req.headers = headers;
		req.body = body;
		req.body_len = body ? strlen(body) : 0;
		req.ca_file = in->set.ca_file;
		req.insecure = in->set.insecure;
		req.idempotent = idempotent;
		req.timeout_ms = in->timeout_ms;
		vs_error_clear(&e);
		if (in->host->http_do(http, &req, resp, &e)) {
			/* The core's message names no provider: add who. */
			vs_error_set(err, e.cls, e.http_status, e.retryable,
				     "%s: %s", in->tag, e.message);
			goto out;
		}
		if (resp->status != 401 || attempt == OSP_MAX_SENDS - 1)
			break;
		in->host->http_response_release(resp);
		memset(resp, 0, sizeof(*resp));
		if (pv_cred_refresh(&in->sess.cred, http, gen, err))
			goto out;
	}
	rc = VS_OK;
out:
	pv_free_secret(token);
	if (auth.alloc)
		memset(auth.s, 0, auth.alloc);
	vs_buf_release(&auth);
	return rc;
}

/* Map a Nova answer we did not expect to an error. */
static int osp_fail(struct osp_instance *in,
		    const struct vs_http_response *resp, const char *what,
		    struct vs_error *err)
{
	char msg[OSP_MSG_MAX];
	enum vs_err_class cls = VS_EC_CLIENT;
	int retry = 0;
	long st = resp->status;

	osp_fault_message(resp->body, resp->body_len, msg, sizeof(msg));
	if (st == 401 || st == 403) {
		cls = VS_EC_AUTH;
	} else if (st == 404) {
		cls = VS_EC_NOT_FOUND;
	} else if (st == 409) {
		cls = VS_EC_CONFLICT;
		retry = 1;
	} else if (st == 413 || st == 429) {
		cls = VS_EC_THROTTLED;
		retry = 1;
	} else if (st >= 500) {
		cls = VS_EC_SERVER;
		retry = 1;
	} else if (st >= 200 && st < 300) {
		cls = VS_EC_INVALID_RESPONSE;
	}
	return vs_error_set(err, cls, (int)st, retry,
			    "%s: %s failed: HTTP %ld%s%s", in->tag, what, st,
			    msg[0] ? ": " : "", msg);
}

/* "delete of 'name'" with the untrusted name cleaned and cut. */
static const char *osp_what(char *dst, size_t sz, const char *verb,
			    const struct vs_vm *vm)
{
	char name[96];

	snprintf(dst, sz, "%s of '%s'", verb,
		 pv_clean(name, sizeof(name), vm->name ? vm->name : vm->id));
	return dst;
}

/* {compute}/servers/{id}{suffix}, the id percent-encoded. */
static char *osp_server_url(struct osp_instance *in, const char *id,
			    const char *suffix)
{
	struct vs_buf b;

	vs_buf_init(&b, 64 * 1024);
	if (vs_buf_adds(&b, in->sess.compute_url) ||
	    vs_buf_adds(&b, "/servers/") || vs_buf_add_pct(&b, id) ||
	    vs_buf_adds(&b, suffix)) {
		vs_buf_release(&b);
		return NULL;
	}
	return vs_buf_detach(&b, NULL);
}

static int osp_check_vm(struct osp_instance *in, const struct vs_vm *vm,
			struct vs_error *err)
{
	/* An empty id would address the collection, not a server. */
	if (!vm || !vm->id || !*vm->id)
		return vs_error_set(err, VS_EC_INTERNAL, 0, 0,
				    "%s: a VM without an id", in->tag);
	return VS_OK;
}

/* ------------------------------------------------------------------ */
/* Listing.                                                             */

typedef int (*osp_page_fn)(void *ctx, struct osp_page *page);

/*
 * Walk GET /servers/detail page by page, handing each parsed page to fn.
 * Fails on a page that is not a server list, on a next link that comes
 * back (a loop) and after OSP_MAX_PAGES pages.
 */
static int osp_walk(struct osp_instance *in, struct vs_http *http,
		    osp_page_fn fn, void *ctx, struct vs_error *err)
{
	struct vs_http_response resp;
	struct osp_page page;
	uint64_t *seen = NULL;
	char *url = NULL;
	size_t pages = 0, i;
	int have_resp = 0, rc = VS_ERR;
	struct vs_buf b;

	memset(&page, 0, sizeof(page));
	vs_buf_init(&b, 64 * 1024);
	if (vs_buf_addf(&b, "%s/servers/detail?limit=%ld", in->sess.compute_url,
			in->set.page_size))
		goto nomem;
	url = vs_buf_detach(&b, NULL);
	seen = calloc(OSP_MAX_PAGES, sizeof(*seen));
	if (!url || !seen)
		goto nomem;
	for (;;) {
		char *next;
		uint64_t h;

		if (pages == OSP_MAX_PAGES) {
			vs_error_set(err, VS_EC_INVALID_RESPONSE, 0, 0,
				     "%s: listing servers: more than %d pages, "
				     "giving up",
				     in->tag, OSP_MAX_PAGES);
			goto out;
		}
		h = pv_hash(url);
		for (i = 0; i < pages; i++) {
			if (seen[i] == h) {
				vs_error_set(err, VS_EC_INVALID_RESPONSE, 0, 0,
					     "%s: listing servers: Nova's next "
					     "link repeats an earlier page",
					     in->tag);
				goto out;
			}
		}
		seen[pages++] = h;
		if (osp_nova_do(in, http, "GET", url, NULL, 1, &resp, err))
			goto out;
		have_resp = 1;
		if (resp.status != 200) {
			osp_fail(in, &resp, "listing servers", err);
			goto out;
		}
		if (osp_servers_parse(in->tag, resp.body, resp.body_len,
				      in->host->parse_time, &page, err))
			goto out;
		in->host->http_response_release(&resp);
		have_resp = 0;
		if (page.skipped)
			in->host->log(VS_LOG_WARN, in->tag,
				      "%zu server(s) left out of the inventory "
				      "(kept): %s",
				      page.skipped, page.skip_reason);
		in->host->log(VS_LOG_DEBUG, in->tag,
			      "servers page %zu: %zu server(s)", pages, page.n);
		if (fn(ctx, &page))
			goto nomem;
		/* Nova links a next page only after a full one. */
		if (!page.next || (page.n == 0 && page.skipped == 0))
			break;
		next = osp_next_url(in->sess.compute_url, page.next);
		if (!next) {
			vs_error_set(err, VS_EC_INVALID_RESPONSE, 0, 0,
				     "%s: listing servers: unusable next link",
				     in->tag);
			goto out;
		}
		free(url);
		url = next;
		osp_page_release(&page);
	}
	rc = VS_OK;
	goto out;
nomem:
	vs_error_set(err, VS_EC_INTERNAL, 0, 0,
		     "%s: out of memory listing servers", in->tag);
out:
	if (have_resp)
		in->host->http_response_release(&resp);
	osp_page_release(&page);
	vs_buf_release(&b);
	free(url);
	free(seen);
	return rc;
}

/* Move a page's servers into a vs_vm_list. */
static int osp_collect(void *ctx, struct osp_page *page)
{
	struct vs_vm_list *out = ctx;
	size_t i;

	for (i = 0; i < page->n; i++) {
		struct vs_vm *vm = vs_vm_list_push(out);

		if (!vm)
			return -1;
		*vm = page->items[i].vm;
		memset(&page->items[i].vm, 0, sizeof(page->items[i].vm));
		page->items[i].vm.created = VS_TIME_UNKNOWN;
	}
	return 0;
}

static int osp_list(void *state, struct vs_http *http, struct vs_vm_list *out,
		    struct vs_error *err)
{
	struct osp_instance *in = state;
	size_t before = out->n;

	if (osp_walk(in, http, osp_collect, out, err)) {
		/* All or nothing: a partial inventory skews the gates. */
		while (out->n > before)
			vs_vm_release(&out->items[--out->n]);
		return VS_ERR;
	}
	in->host->log(VS_LOG_DEBUG, in->tag, "listed %zu server(s)",
		      out->n - before);
	return VS_OK;
}

/* ------------------------------------------------------------------ */
/* Delete and probe.                                                    */

/* POST /servers/{id}/action {"forceDelete": null} for SOFT_DELETED. */
static int osp_force_delete(struct osp_instance *in, struct vs_http *http,
			    const struct vs_vm *vm, long *status,
			    struct vs_http_response *resp, struct vs_error *err)
{
	char *url = osp_server_url(in, vm->id, "/action");
	int rc;

	if (!url)
		return vs_error_set(err, VS_EC_INTERNAL, 0, 0,
				    "%s: out of memory", in->tag);
	/* Purging twice is harmless: the second gets 404 or 409. */
	rc = osp_nova_do(in, http, "POST", url, "{\"forceDelete\":null}", 1,
			 resp, err);
	free(url);
	if (rc == VS_OK)
		*status = resp->status;
	return rc;
}

static int osp_remove(void *state, struct vs_http *http, const struct vs_vm *vm,
		      enum vs_remove_status *status, struct vs_error *err)
{
	struct osp_instance *in = state;
	struct vs_http_response resp;
	char what[160], msg[OSP_MSG_MAX];
	char *url = NULL;
	long st = 0;
	int soft, have_resp = 0, rc = VS_ERR;

	if (osp_check_vm(in, vm, err))
		return VS_ERR;
	soft = vm->status && strcmp(vm->status, "SOFT_DELETED") == 0;
	osp_what(what, sizeof(what), soft ? "force-delete" : "delete", vm);
	if (soft) {
		if (osp_force_delete(in, http, vm, &st, &resp, err))
			goto out;
	} else {
		url = osp_server_url(in, vm->id, "");
		if (!url) {
			vs_error_set(err, VS_EC_INTERNAL, 0, 0,
				     "%s: out of memory", in->tag);
			goto out;
		}
		if (osp_nova_do(in, http, "DELETE", url, NULL, 1, &resp, err))
			goto out;
		st = resp.status;
	}
	have_resp = 1;
	if (st == 204 || st == 202 || st == 200) {
		*status = VS_REMOVE_REQUESTED;
	} else if (st == 404) {
		*status = VS_REMOVE_ABSENT;
	} else if (st == 409 &&
		   osp_fault_is_locked(osp_fault_message(
			   resp.body, resp.body_len, msg, sizeof(msg)))) {
		*status = VS_REMOVE_PROTECTED;
		in->host->log(VS_LOG_INFO, in->tag, "%s refused: %s", what,
			      msg);
	} else {
		osp_fail(in, &resp, what, err);
		goto out;
	}
	rc = VS_OK;
out:
	if (have_resp)
		in->host->http_response_release(&resp);
	free(url);
	return rc;
}

/* GET /servers/{id}: 0 with *found and s filled (when found). */
static int osp_get(struct osp_instance *in, struct vs_http *http,
		   const struct vs_vm *vm, int *found, struct osp_server *s,
		   struct vs_error *err)
{
	struct vs_http_response resp;
	char what[160];
	char *url = osp_server_url(in, vm->id, "");
	int rc = VS_ERR;

	*found = 0;
	memset(s, 0, sizeof(*s));
	s->vm.created = VS_TIME_UNKNOWN;
	if (!url)
		return vs_error_set(err, VS_EC_INTERNAL, 0, 0,
				    "%s: out of memory", in->tag);
	if (osp_nova_do(in, http, "GET", url, NULL, 1, &resp, err)) {
		free(url);
		return VS_ERR;
	}
	free(url);
	if (resp.status == 404) {
		rc = VS_OK;
	} else if (resp.status == 200) {
		rc = osp_server_parse(in->tag, resp.body, resp.body_len,
				      in->host->parse_time, s, err);
		if (rc == VS_OK)
			*found = !(s->vm.status &&
				   strcmp(s->vm.status, "DELETED") == 0);
	} else {
		osp_fail(in, &resp, osp_what(what, sizeof(what), "lookup", vm),
			 err);
	}
	in->host->http_response_release(&resp);
	return rc;
}

static int osp_probe(void *state, struct vs_http *http, const struct vs_vm *vm,
		     enum vs_remove_status *status, struct vs_error *err)
{
	struct osp_instance *in = state;
	struct osp_server s;
	int found;

	if (osp_check_vm(in, vm, err) || osp_get(in, http, vm, &found, &s, err))
		return VS_ERR;
	if (!found)
		*status = VS_REMOVE_ABSENT;
	else if (s.vm.platform_protection)
		*status = VS_REMOVE_PROTECTED;
	else
		*status = VS_REMOVE_PRESENT;
	osp_server_release(&s);
	return VS_OK;
}

/* ------------------------------------------------------------------ */
/* Confirm.                                                             */

/*
 * What one VM's server says about its deletion.  s is NULL when the
 * server is gone.  SOFT_DELETED gets its forceDelete here.
 */
static enum vs_confirm_state
osp_judge(struct osp_instance *in, struct vs_http *http, const struct vs_vm *vm,
	  const struct osp_server *s, struct vs_error *e)
{
	const char *st = s ? s->vm.status : NULL;
	const char *ts = s ? s->vm.task_state : NULL;
	char name[96], fault[OSP_MSG_MAX];

	if (!s || (st && strcmp(st, "DELETED") == 0))
		return VS_CONFIRM_GONE;
	/* A forceDelete already under way shows task_state "deleting". */
	if (st && strcmp(st, "SOFT_DELETED") == 0 && !(ts && *ts)) {
		struct vs_http_response resp;
		struct vs_error ferr;
		long code = 0;

		vs_error_clear(&ferr);
		if (osp_force_delete(in, http, vm, &code, &resp, &ferr) == 0) {
			in->host->http_response_release(&resp);
			if (code == 404)
				return VS_CONFIRM_GONE;
			if (code != 202 && code != 204 && code != 200)
				in->host->log(
					VS_LOG_DEBUG, in->tag,
					"force-delete of '%s': HTTP %ld",
					pv_clean(name, sizeof(name), vm->name),
					code);
		} else {
			in->host->log(VS_LOG_WARN, in->tag, "%s", ferr.message);
		}
		return VS_CONFIRM_PENDING;
	}
	/*
	 * A server already in ERROR before the delete keeps that status
	 * while task_state says "deleting"; only an ERROR with no task left
	 * means the deletion itself failed.
	 */
	if (st && strcmp(st, "ERROR") == 0 && !(ts && *ts)) {
		vs_error_set(e, VS_EC_SERVER, 0, 1,
			     "%s: delete of '%s' ended in ERROR: %s", in->tag,
			     pv_clean(name, sizeof(name), vm->name),
			     s->fault ? pv_clean(fault, sizeof(fault), s->fault)
				      : "no fault message");
		return VS_CONFIRM_FAILED;
	}
	return VS_CONFIRM_PENDING;
}

/* Ask about one VM (pv_confirm_each): one GET, then judge what it says. */
static int osp_confirm_one(void *ctx, struct vs_http *http,
			   const struct vs_vm *vm, enum vs_confirm_state *state,
			   struct vs_error *vm_err, struct vs_error *e)
{
	struct osp_instance *in = ctx;
	struct osp_server s;
	int found;

	if (osp_check_vm(in, vm, e) || osp_get(in, http, vm, &found, &s, e))
		return VS_ERR;
	*state = osp_judge(in, http, vm, found ? &s : NULL, vm_err);
	osp_server_release(&s);
	return VS_OK;
}

struct osp_confirm_ctx {
	const struct vs_vm *const *vms;
	size_t *order; /* indexes of vms sorted by id */
	size_t n;
	struct osp_server *found; /* by index of vms; vm.id NULL: not seen */
};

/* qsort has no context argument; the array is reached through this. */
static int osp_order_cmp(const void *a, const void *b, void *ctx)
{
	const struct vs_vm *const *vms = ctx;

	return strcmp(vms[*(const size_t *)a]->id, vms[*(const size_t *)b]->id);
}

static int osp_confirm_match(void *ctx, struct osp_page *page)
{
	struct osp_confirm_ctx *c = ctx;
	size_t i;

	for (i = 0; i < page->n; i++) {
		const char *id = page->items[i].vm.id;
		size_t lo = 0, hi = c->n;

		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			int cmp = strcmp(id, c->vms[c->order[mid]]->id);

			if (cmp == 0) {
				struct osp_server *dst =
					&c->found[c->order[mid]];
				osp_server_release(dst);
				*dst = page->items[i];
				memset(&page->items[i], 0,
				       sizeof(page->items[i]));
				page->items[i].vm.created = VS_TIME_UNKNOWN;
				break;
			}
			if (cmp < 0)
				hi = mid;
			else
				lo = mid + 1;
		}
	}
	return 0;
}

/* Counts left-out entries across pages. */
struct osp_confirm_walk {
	struct osp_confirm_ctx c;
	size_t skipped;
};

static int osp_confirm_page(void *ctx, struct osp_page *page)
{
	struct osp_confirm_walk *w = ctx;

	w->skipped += page->skipped;
	return osp_confirm_match(&w->c, page);
}

static int osp_confirm(void *state, struct vs_http *http,
		       const struct vs_vm *const *vms, size_t n,
		       enum vs_confirm_state *states, struct vs_error *errs,
		       struct vs_error *err)
{
	struct osp_instance *in = state;
	struct osp_confirm_walk w;
	size_t *unseen = NULL, *src = NULL, n_unseen = 0, i;
	int rc = VS_ERR;

	for (i = 0; i < n; i++) {
		states[i] = VS_CONFIRM_PENDING;
		vs_error_clear(&errs[i]);
	}
	if (n < OSP_CONFIRM_LIST_MIN)
		return pv_confirm_each(in, osp_confirm_one, http, vms, NULL, n,
				       states, errs, err);
	memset(&w, 0, sizeof(w));
	w.c.vms = vms;
	w.c.n = n;
	w.c.order = calloc(n, sizeof(*w.c.order));
	w.c.found = calloc(n, sizeof(*w.c.found));
	unseen = calloc(n, sizeof(*unseen));
	src = calloc(n, sizeof(*src));
	if (!w.c.order || !w.c.found || !unseen || !src) {
		vs_error_set(err, VS_EC_INTERNAL, 0, 0, "%s: out of memory",
			     in->tag);
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (osp_check_vm(in, vms[i], err))
			goto out;
		w.c.order[i] = i;
		w.c.found[i].vm.created = VS_TIME_UNKNOWN;
	}
	qsort_r(w.c.order, n, sizeof(*w.c.order), osp_order_cmp, (void *)vms);
	if (osp_walk(in, http, osp_confirm_page, &w, err))
		goto out;
	/* A VM asked about twice shares the one slot the server went to. */
	for (i = 0; i < n; i++)
		src[i] = i;
	for (i = 0; i < n;) {
		size_t j = i, hit = n, k;

		while (j < n && strcmp(vms[w.c.order[i]]->id,
				       vms[w.c.order[j]]->id) == 0) {
			if (w.c.found[w.c.order[j]].vm.id)
				hit = w.c.order[j];
			j++;
		}
		for (k = i; hit < n && k < j; k++)
			src[w.c.order[k]] = hit;
		i = j;
	}
	for (i = 0; i < n; i++) {
		if (w.c.found[src[i]].vm.id) {
			states[i] = osp_judge(in, http, vms[i],
					      &w.c.found[src[i]], &errs[i]);
		} else if (w.skipped) {
			/* An unreadable entry may be this one: ask. */
			unseen[n_unseen++] = i;
		} else {
			states[i] = VS_CONFIRM_GONE;
		}
	}
	rc = n_unseen ? pv_confirm_each(in, osp_confirm_one, http, vms, unseen,
					n_unseen, states, errs, err)
		      : VS_OK;
out:
	if (w.c.found)
		for (i = 0; i < n; i++)
			osp_server_release(&w.c.found[i]);
	free(w.c.found);
	free(w.c.order);
	free(unseen);
	free(src);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Open and close.                                                      */

/*
 * The clouds files whose exposure was logged in this process, so that
 * several instances reading one clouds.yaml warn once.  Fixed storage:
 * nothing to free when the plugin is unloaded.
 */
#define OSP_MAX_WARNED 32
static pthread_mutex_t osp_warned_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	unsigned long long dev, ino;
} osp_warned[OSP_MAX_WARNED];
static size_t osp_n_warned;

/* 1 the first time file (dev, ino) is seen, else 0. */
static int osp_first_warning(unsigned long long dev, unsigned long long ino)
{
	size_t i;
	int first = 1;

	pthread_mutex_lock(&osp_warned_lock);
	for (i = 0; i < osp_n_warned && first; i++)
		if (osp_warned[i].dev == dev && osp_warned[i].ino == ino)
			first = 0;
	if (first && osp_n_warned < OSP_MAX_WARNED) {
		osp_warned[osp_n_warned].dev = dev;
		osp_warned[osp_n_warned++].ino = ino;
	}
	pthread_mutex_unlock(&osp_warned_lock);
	return first;
}

static void osp_close(void *state, struct vs_http *http)
{
	struct osp_instance *in = state;

	if (!in)
		return;
	if (in->sess_ready)
		osp_session_release(&in->sess, http);
	osp_settings_release(&in->set);
	free(in->tag);
	free(in);
}

static int osp_open(void **state, const struct vs_provider_config *cfg,
		    const struct vs_host *host, struct vs_http *http,
		    struct vs_error *err)
{
	struct osp_instance *in;
	struct osp_env env;
	int rc = VS_ERR;
	size_t i;

	*state = NULL;
	in = calloc(1, sizeof(*in));
	if (!in || !(in->tag = strdup(cfg->name ? cfg->name : "osp"))) {
		free(in);
		return vs_error_set(err, VS_EC_INTERNAL, 0, 0,
				    "osp: out of memory");
	}
	in->host = host;
	in->timeout_ms = cfg->request_timeout_ms;
	osp_env_default(&env);
	if (osp_settings_resolve(cfg, &env, &in->set, err))
		goto out;
	snprintf(in->mv_nova, sizeof(in->mv_nova),
		 "X-OpenStack-Nova-API-Version: %s", in->set.microversion);
	snprintf(in->mv_std, sizeof(in->mv_std),
		 "OpenStack-API-Version: compute %s", in->set.microversion);
	for (i = 0; i < in->set.n_exposed; i++)
		if (osp_first_warning(in->set.exposed[i].dev,
				      in->set.exposed[i].ino))
			host->log(VS_LOG_WARN, in->tag, "%s",
				  in->set.exposed[i].message);
	if (in->set.insecure_from_clouds)
		host->log(VS_LOG_WARN, in->tag,
			  "TLS verification is off (clouds.yaml verify: "
			  "false)");
	if (osp_session_init(&in->sess, host, in->tag, &in->set, in->timeout_ms,
			     err))
		goto out;
	in->sess_ready = 1;
	if (osp_session_login(&in->sess, http, err))
		goto out;
	host->log(VS_LOG_INFO, in->tag,
		  "authenticated with %s from %s; compute endpoint %s",
		  in->set.method == OSP_AUTH_APPCRED
			  ? "an application credential"
			  : "a password",
		  in->set.source, in->sess.compute_url);
	*state = in;
	in = NULL;
	rc = VS_OK;
out:
	/* No token was issued on failure: nothing to revoke. */
	osp_close(in, NULL);
	return rc;
}

__attribute__((visibility("default")))
const struct vs_provider_ops vmsweep_provider = {
	.abi_version = VS_PROVIDER_ABI_VERSION,
	.type = "osp",
	.description = "OpenStack Nova servers (Keystone v3)",
	.caps = VS_CAP_CREATED | VS_CAP_CONFIRM,
	.keys = osp_keys,
	.open = osp_open,
	.list = osp_list,
	.remove = osp_remove,
	.probe = osp_probe,
	.confirm = osp_confirm,
	.close = osp_close,
};
