/*
 * vmw_list.c - the inventory of one vCenter: VMs, their CIS tags and,
 * where VI/JSON is offered, their creation dates.
 *
 * The VM list call has no paging.  It answers at most 4000 VMs (1000 on
 * 6.5) and beyond that fails with UNABLE_TO_ALLOCATE_RESOURCE.  We then
 * partition: by power state (three parts), a part still too large by VM
 * folder, one still too large by host, until every part fits.  Parts
 * are merged through a set of VM ids, so a VM seen twice (a nested folder,
 * a VM that moved between two calls) is listed once.  Templates are not
 * returned by this call at all, so they can never be planned.
 *
 * Tags come in bulk (list-attached-tags-on-objects, tag_batch VMs per
 * call) and their names are looked up once per tag id and kept for the
 * instance.  A VM gets each tag's name and also "category:name", so that
 * a tag "keep" in a category "vmsweep" carries the marker "vmsweep:keep".
 * A tag call that fails fails the listing: a VM whose tags we could not
 * read may carry a protection marker.
 *
 * REST has no creation time.  VI/JSON (vCenter 8.0U1+) has
 * config.createDate, one request per VM, made here in sequence (list()
 * has a single HTTP handle).  The /api session is tried on VI/JSON first
 * and a VI/JSON login of its own is made only if it is refused.  A 404
 * on the first call means the vCenter has no VI/JSON: ages stay unknown,
 * which the selection treats as never old enough.
 *
 * list() runs on one thread per instance; the caches and VI/JSON state it
 * keeps in struct vmw_instance are not touched by the workers.
 */
#include "vmw_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Consecutive VI/JSON failures after which the rest are not asked. */
#define VMW_VI_GIVE_UP 10

static const char *const vmw_power_states[] = {"POWERED_ON", "POWERED_OFF",
					       "SUSPENDED"};

struct vmw_lister {
	struct vmw_instance *in;
	struct vs_http *http;
	int legacy;
	struct vs_vm_list got;
	struct vmw_idset seen;
	size_t requests, parts, duplicates, skipped;
	char skip_reason[160];
	int split_power, split_folder, split_host;
	/* Fetched once, when a split needs them. */
	char **all_folders, **all_hosts;
	size_t n_all_folders, n_all_hosts;
	int have_folders, have_hosts;
};

/* ------------------------------------------------------------------ */
/* Query strings.                                                       */

/* Append "&kind=v" (legacy: "&filter.kind=v") for each value. */
static int vmw_q(struct vs_buf *b, int legacy, const char *kind,
		 char *const *values, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (vs_buf_adds(b, b->len && strchr(b->s, '?') ? "&" : "?") ||
		    vs_buf_addf(b, "%s%s=", legacy ? "filter." : "", kind) ||
		    vs_buf_add_pct(b, values[i]))
			return VS_ERR;
	return VS_OK;
}

struct vmw_part {
	const char *power;  /* NULL: any */
	const char *folder; /* NULL: the scope's folders */
	const char *host;   /* NULL: any */
};

static char *vmw_list_path(struct vmw_lister *L, const struct vmw_part *p)
{
	struct vmw_instance *in = L->in;
	struct vs_buf b;
	char *one[1];

	vs_buf_init(&b, 1024 * 1024);
	if (vs_buf_adds(&b,
			L->legacy ? "/rest/vcenter/vm" : "/api/vcenter/vm") ||
	    vmw_q(&b, L->legacy, "datacenters", in->datacenters,
		  in->n_datacenters) ||
	    vmw_q(&b, L->legacy, "clusters", in->clusters, in->n_clusters))
		goto fail;
	if (p->folder) {
		one[0] = (char *)p->folder;
		if (vmw_q(&b, L->legacy, "folders", one, 1))
			goto fail;
	} else if (vmw_q(&b, L->legacy, "folders", in->folders,
			 in->n_folders)) {
		goto fail;
	}
	if (p->power) {
		one[0] = (char *)p->power;
		if (vmw_q(&b, L->legacy, "power_states", one, 1))
			goto fail;
	}
	if (p->host) {
		one[0] = (char *)p->host;
		if (vmw_q(&b, L->legacy, "hosts", one, 1))
			goto fail;
	}
	return vs_buf_detach(&b, NULL);
fail:
	vs_buf_release(&b);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Listing and partitioning.                                            */

/* Move a part's summaries into the merged list, once per id. */
static int vmw_merge(struct vmw_lister *L, struct vmw_summaries *s)
{
	size_t i;

	if (s->skipped) {
		if (!L->skipped)
			memcpy(L->skip_reason, s->skip_reason,
			       sizeof(L->skip_reason));
		L->skipped += s->skipped;
	}
	for (i = 0; i < s->n; i++) {
		struct vs_vm *vm;

		if (vmw_idset_find(&L->seen, &L->got, s->items[i].vm.id) !=
		    (size_t)-1) {
			L->duplicates++;
			continue;
		}
		if (!(vm = vs_vm_list_push(&L->got)))
			return VS_ERR;
		*vm = s->items[i].vm;
		memset(&s->items[i].vm, 0, sizeof(s->items[i].vm));
		s->items[i].vm.created = VS_TIME_UNKNOWN;
		if (vmw_idset_add(&L->seen, &L->got, L->got.n - 1))
			return VS_ERR;
	}
	return VS_OK;
}

/* GET a folder or host list (path), ids from field. */
static int vmw_fetch_ids(struct vmw_lister *L, const char *path,
			 const char *field, const char *what, char ***ids,
			 size_t *n, struct vs_error *err)
{
	struct vmw_instance *in = L->in;
	struct vs_http_response resp;
	int rc = VS_ERR;

	L->requests++;
	if (vmw_do(in, L->http, "GET", path, NULL, what, &resp, err))
		return VS_ERR;
	if (resp.status == 200)
		rc = vmw_ids_parse(in->tag, resp.body, resp.body_len, field,
				   ids, n, err);
	else
		vmw_fail(in, &resp, what, err);
	in->host->http_response_release(&resp);
	return rc;
}

static int vmw_folders(struct vmw_lister *L, struct vs_error *err)
{
	struct vmw_instance *in = L->in;
	struct vs_buf b;
	int rc;

	if (L->have_folders)
		return VS_OK;
	vs_buf_init(&b, 1024 * 1024);
	if (vs_buf_adds(&b, L->legacy ? "/rest/vcenter/folder"
				      : "/api/vcenter/folder") ||
	    vs_buf_addf(&b, "?%stype=VIRTUAL_MACHINE",
			L->legacy ? "filter." : "") ||
	    vmw_q(&b, L->legacy, "datacenters", in->datacenters,
		  in->n_datacenters)) {
		vs_buf_release(&b);
		return vs_error_set(err, VS_EC_INTERNAL, 0, 0,
				    "%s: out of memory", in->tag);
	}
	rc = vmw_fetch_ids(L, b.s, "folder", "listing VM folders",
			   &L->all_folders, &L->n_all_folders, err);
	vs_buf_release(&b);
	L->have_folders = rc == VS_OK;
	return rc;
}

static int vmw_hosts(struct vmw_lister *L, struct vs_error *err)
{
	struct vmw_instance *in = L->in;
	struct vs_buf b;
	int rc;

	if (L->have_hosts)
		return VS_OK;
	vs_buf_init(&b, 1024 * 1024);
	if (vs_buf_adds(&b, L->legacy ? "/rest/vcenter/host"
				      : "/api/vcenter/host") ||
	    vmw_q(&b, L->legacy, "datacenters", in->datacenters,
		  in->n_datacenters) ||
	    vmw_q(&b, L->legacy, "clusters", in->clusters, in->n_clusters)) {
		vs_buf_release(&b);
		return vs_error_set(err, VS_EC_INTERNAL, 0, 0,
				    "%s: out of memory", in->tag);
	}
	rc = vmw_fetch_ids(L, b.s, "host", "listing hosts", &L->all_hosts,
			   &L->n_all_hosts, err);
	vs_buf_release(&b);
	L->have_hosts = rc == VS_OK;
	return rc;
}

/*
 * List one part.  level says which splits were made above it: 0 none,
 * 1 power state, 2 folder, 3 host.
 */
static int vmw_list_part(struct vmw_lister *L, const struct vmw_part *p,
			 int level, struct vs_error *err)
{
	struct vmw_instance *in = L->in;
	struct vs_http_response resp;
	struct vmw_summaries sums;
	struct vmw_fault f;
	char *path = NULL;
	size_t i;
	int have_resp = 0, rc = VS_ERR;

	memset(&sums, 0, sizeof(sums));
	if (L->requests >= VMW_MAX_PART_REQUESTS) {
		vs_error_set(err, VS_EC_INVALID_RESPONSE, 0, 0,
			     "%s: listing VMs: more than %d calls, giving up",
			     in->tag, VMW_MAX_PART_REQUESTS);
		goto out;
	}
	if (!(path = vmw_list_path(L, p))) {
		vs_error_set(err, VS_EC_INTERNAL, 0, 0, "%s: out of memory",
			     in->tag);
		goto out;
	}
	L->requests++;
	if (vmw_do(in, L->http, "GET", path, NULL, "listing VMs", &resp, err))
		goto out;
	have_resp = 1;
	if (resp.status == 200) {
		if (vmw_vm_list_parse(in->tag, resp.body, resp.body_len, &sums,
				      err))
			goto out;
		L->parts++;
		if (vmw_merge(L, &sums)) {
			vs_error_set(err, VS_EC_INTERNAL, 0, 0,
				     "%s: out of memory listing VMs", in->tag);
			goto out;
		}
		rc = VS_OK;
		goto out;
	}
	vmw_fault_parse(resp.body, resp.body_len, &f);
	if (!vmw_fault_too_many(resp.status, &f)) {
		vmw_fail(in, &resp, "listing VMs", err);
		goto out;
	}
	in->host->http_response_release(&resp);
	have_resp = 0;

	/* Too many matches: split this part one dimension further. */
	if (level == 0) {
		L->split_power = 1;
		for (i = 0; i < 3; i++) {
			struct vmw_part q = *p;

			q.power = vmw_power_states[i];
			if (vmw_list_part(L, &q, 1, err))
				goto out;
		}
		rc = VS_OK;
	} else if (level == 1 && in->n_folders != 1) {
		char **folders;
		size_t n;

		if (in->n_folders) {
			folders = in->folders;
			n = in->n_folders;
		} else {
			if (vmw_folders(L, err))
				goto out;
			folders = L->all_folders;
			n = L->n_all_folders;
		}
		L->split_folder = 1;
		for (i = 0; i < n; i++) {
			struct vmw_part q = *p;

			q.folder = folders[i];
			if (vmw_list_part(L, &q, 2, err))
				goto out;
		}
		rc = VS_OK;
	} else if (level <= 2) {
		if (vmw_hosts(L, err))
			goto out;
		L->split_host = 1;
		for (i = 0; i < L->n_all_hosts; i++) {
			struct vmw_part q = *p;

			q.host = L->all_hosts[i];
			if (vmw_list_part(L, &q, 3, err))
				goto out;
		}
		rc = VS_OK;
	} else {
		char fo[96], ho[96];

		vs_error_set(
			err, VS_EC_SERVER, (int)resp.status, 0,
			"%s: listing VMs: still too many VMs for one "
			"call with power state %s, folder '%s' and host "
			"'%s'; narrow the scope (datacenters, clusters, "
			"folders)",
			in->tag, p->power ? p->power : "any",
			pv_clean(fo, sizeof(fo), p->folder ? p->folder : "any"),
			pv_clean(ho, sizeof(ho), p->host ? p->host : "any"));
	}
out:
	if (have_resp)
		in->host->http_response_release(&resp);
	vmw_summaries_release(&sums);
	free(path);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Tags.                                                                */

/*
 * GET a tag or category by id and cache its name (NULL: gone).  For a
 * tag, its category id goes into tag_category.
 */
static int vmw_resolve(struct vmw_lister *L, const char *id, int category,
		       struct vs_error *err)
{
	struct vmw_instance *in = L->in;
	struct vs_http_response resp;
	struct vs_buf b;
	char *name = NULL, *cat = NULL;
	const char *what =
		category ? "reading a tag category" : "reading a tag";
	int have_resp = 0, rc = VS_ERR;

	vs_buf_init(&b, 64 * 1024);
	/* /rest names the object as "id:<id>" in the path. */
	if (vs_buf_adds(&b, L->legacy ? "/rest/com/vmware/cis/tagging/"
				      : "/api/cis/tagging/") ||
	    vs_buf_adds(&b, category ? "category/" : "tag/") ||
	    (L->legacy && vs_buf_adds(&b, "id:")) || vs_buf_add_pct(&b, id)) {
		vs_error_set(err, VS_EC_INTERNAL, 0, 0, "%s: out of memory",
			     in->tag);
		goto out;
	}
	L->requests++;
	if (vmw_do(in, L->http, "GET", b.s, NULL, what, &resp, err))
		goto out;
	have_resp = 1;
	if (resp.status == 404) {
		/* Deleted since it was attached: it protects nothing. */
		name = NULL;
	} else if (resp.status == 200) {
		if (vmw_named_parse(in->tag, resp.body, resp.body_len, &name,
				    category ? NULL : &cat, err))
			goto out;
	} else {
		vmw_fail(in, &resp, what, err);
		goto out;
	}
	if (pv_strmap_put(category ? &in->category_names : &in->tag_names, id,
			  name) ||
	    (!category && cat && pv_strmap_put(&in->tag_category, id, cat))) {
		vs_error_set(err, VS_EC_INTERNAL, 0, 0, "%s: out of memory",
			     in->tag);
		goto out;
	}
	rc = VS_OK;
out:
	if (have_resp)
		in->host->http_response_release(&resp);
	vs_buf_release(&b);
	free(name);
	free(cat);
	return rc;
}

static int vmw_add_tag(struct vs_vm *vm, const char *tag)
{
	char **nt = realloc(vm->tags, (vm->n_tags + 1) * sizeof(*nt));

	if (!nt)
		return VS_ERR;
	vm->tags = nt;
	if (!(vm->tags[vm->n_tags] = strdup(tag)))
		return VS_ERR;
	vm->n_tags++;
	return VS_OK;
}

/* Give vm the name of tag id, and "category:name". */
static int vmw_attach(struct vmw_lister *L, struct vs_vm *vm, const char *id,
		      struct vs_error *err)
{
	struct vmw_instance *in = L->in;
	const char *name, *cat_id, *cat;
	struct vs_buf b;
	int found, rc = VS_ERR;

	name = pv_strmap_get(&in->tag_names, id, &found);
	if (!found) {
		if (vmw_resolve(L, id, 0, err))
			return VS_ERR;
		name = pv_strmap_get(&in->tag_names, id, &found);
	}
	if (!name)
		return VS_OK;
	cat_id = pv_strmap_get(&in->tag_category, id, &found);
	cat = NULL;
	if (cat_id) {
		cat = pv_strmap_get(&in->category_names, cat_id, &found);
		if (!found) {
			if (vmw_resolve(L, cat_id, 1, err))
				return VS_ERR;
			cat = pv_strmap_get(&in->category_names, cat_id,
					    &found);
		}
	}
	vs_buf_init(&b, 64 * 1024);
	if (vmw_add_tag(vm, name) ||
	    (cat &&
	     (vs_buf_addf(&b, "%s:%s", cat, name) || vmw_add_tag(vm, b.s)))) {
		vs_error_set(err, VS_EC_INTERNAL, 0, 0, "%s: out of memory",
			     in->tag);
		goto out;
	}
	rc = VS_OK;
out:
	vs_buf_release(&b);
	return rc;
}

static int vmw_tags(struct vmw_lister *L, struct vs_error *err)
{
	struct vmw_instance *in = L->in;
	const char *path = L->legacy
				   ? "/rest/com/vmware/cis/tagging/"
				     "tag-association?~action="
				     "list-attached-tags-on-objects"
				   : "/api/cis/tagging/tag-association?action="
				     "list-attached-tags-on-objects";
	const char **ids = NULL;
	struct vmw_attached *att = NULL;
	size_t n_att = 0, start, i, j, tagged = 0;
	char *body = NULL;
	int rc = VS_ERR;

	if (!L->got.n)
		return VS_OK;
	ids = calloc((size_t)in->tag_batch, sizeof(*ids));
	if (!ids)
		goto nomem;
	for (start = 0; start < L->got.n; start += (size_t)in->tag_batch) {
		struct vs_http_response resp;
		size_t n = L->got.n - start;

		if (n > (size_t)in->tag_batch)
			n = (size_t)in->tag_batch;
		for (i = 0; i < n; i++)
			ids[i] = L->got.items[start + i].id;
		free(body);
		if (!(body = vmw_tag_request_body(ids, n)))
			goto nomem;
		L->requests++;
		if (vmw_do(in, L->http, "POST", path, body, "reading tags",
			   &resp, err))
			goto out;
		if (resp.status != 200) {
			vmw_fail(in, &resp, "reading tags", err);
			in->host->http_response_release(&resp);
			goto out;
		}
		rc = vmw_attached_parse(in->tag, resp.body, resp.body_len, &att,
					&n_att, err);
		in->host->http_response_release(&resp);
		if (rc)
			goto out;
		rc = VS_ERR;
		for (i = 0; i < n_att; i++) {
			size_t k = vmw_idset_find(&L->seen, &L->got,
						  att[i].object_id);

			if (k == (size_t)-1)
				continue;
			if (att[i].n_tags)
				tagged++;
			for (j = 0; j < att[i].n_tags; j++)
				if (vmw_attach(L, &L->got.items[k],
					       att[i].tag_ids[j], err))
					goto out;
		}
		vmw_attached_free(att, n_att);
		att = NULL;
		n_att = 0;
	}
	in->host->log(VS_LOG_DEBUG, in->tag, "%zu VM(s) carry tags", tagged);
	rc = VS_OK;
	goto out;
nomem:
	vs_error_set(err, VS_EC_INTERNAL, 0, 0,
		     "%s: out of memory reading tags", in->tag);
out:
	vmw_attached_free(att, n_att);
	free(body);
	free(ids);
	return rc;
}

/* ------------------------------------------------------------------ */
/* VI/JSON creation dates.                                              */

static char *vmw_vi_path(struct vmw_instance *in, const char *suffix_a,
			 const char *moid, const char *suffix_b)
{
	struct vs_buf b;

	vs_buf_init(&b, 64 * 1024);
	if (vs_buf_addf(&b, "/sdk/vim25/%s/%s", in->vi_release, suffix_a) ||
	    (moid && vs_buf_add_pct(&b, moid)) ||
	    (suffix_b && vs_buf_adds(&b, suffix_b))) {
		vs_buf_release(&b);
		return NULL;
	}
	return vs_buf_detach(&b, NULL);
}

/*
 * A VI/JSON login of its own.  *missing is set when the endpoint does
 * not exist (404).
 */
static int vmw_vi_login(struct vmw_instance *in, struct vs_http *http,
			int *missing, struct vs_error *err)
{
	static const char *const headers[] = {"Content-Type: application/json",
					      "Accept: application/json", NULL};
	struct vs_http_request req;
	struct vs_http_response resp;
	struct vs_error e;
	char *path = NULL, *body = NULL;
	struct vs_buf url;
	const char *tok, *p;
	int have_resp = 0, rc = VS_ERR;

	*missing = 0;
	vs_buf_init(&url, 0);
	path = vmw_vi_path(in, "SessionManager/SessionManager/Login", NULL,
			   NULL);
	body = vmw_vi_login_body(in->user, in->password);
	if (!path || !body || vs_buf_adds(&url, in->base) ||
	    vs_buf_adds(&url, path)) {
		vs_error_set(err, VS_EC_INTERNAL, 0, 0, "%s: out of memory",
			     in->tag);
		goto out;
	}
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = url.s;
	req.headers = headers;
	req.body = body;
	req.body_len = strlen(body);
	req.ca_file = in->ca_file;
	req.insecure = in->insecure;
	req.idempotent = 1;
	req.timeout_ms = in->timeout_ms;
	req.max_body = 1024 * 1024;
	vs_error_clear(&e);
	if (in->host->http_do(http, &req, &resp, &e)) {
		vs_error_set(err, e.cls, e.http_status, e.retryable,
			     "%s: VI/JSON login: %s", in->tag, e.message);
		goto out;
	}
	have_resp = 1;
	if (resp.status == 404) {
		*missing = 1;
		vs_error_set(err, VS_EC_NOT_FOUND, 404, 0,
			     "%s: VI/JSON login: no such endpoint", in->tag);
		goto out;
	}
	if (resp.status != 200) {
		vs_error_set(err,
			     resp.status == 401 || resp.status == 403 ||
					     resp.status == 500
				     ? VS_EC_AUTH
				     : VS_EC_SERVER,
			     (int)resp.status, 0,
			     "%s: VI/JSON login refused: HTTP %ld", in->tag,
			     resp.status);
		goto out;
	}
	tok = in->host->http_header(&resp, VMW_SESSION_HEADER);
	for (p = tok; p && *p; p++)
		if (*p <= ' ' || *p >= 0x7f)
			break;
	if (!tok || !*tok || *p || strlen(tok) > 4096) {
		vs_error_set(err, VS_EC_INVALID_RESPONSE, 200, 0,
			     "%s: VI/JSON login: no usable %s header", in->tag,
			     VMW_SESSION_HEADER);
		goto out;
	}
	pv_free_secret(in->vi_token);
	if (!(in->vi_token = strdup(tok))) {
		vs_error_set(err, VS_EC_INTERNAL, 0, 0, "%s: out of memory",
			     in->tag);
		goto out;
	}
	in->vi_mode = VMW_VI_OWN;
	rc = VS_OK;
out:
	if (have_resp)
		in->host->http_response_release(&resp);
	pv_free_secret(body);
	vs_buf_release(&url);
	free(path);
	return rc;
}

void vmw_vi_logout(struct vmw_instance *in, struct vs_http *http)
{
	struct vs_http_response resp;
	struct vs_error e;
	char *path;

	if (!http || in->vi_mode != VMW_VI_OWN || !in->vi_token)
		return;
	path = vmw_vi_path(in, "SessionManager/SessionManager/Logout", NULL,
			   NULL);
	vs_error_clear(&e);
	if (path && vmw_do_token(in, http, "POST", path, NULL, in->vi_token,
				 "VI/JSON logout", &resp, &e) == 0)
		in->host->http_response_release(&resp);
	free(path);
}

/* VI/JSON turned out to be missing: say so once, fail when required. */
static int vmw_vi_missing(struct vmw_instance *in, struct vs_error *err)
{
	in->vi_mode = VMW_VI_OFF;
	if (in->vi_required)
		return vs_error_set(err, VS_EC_CONFIG, 404, 0,
				    "%s: vi_json is on but the vCenter has no "
				    "VI/JSON API at /sdk/vim25/%s",
				    in->tag, in->vi_release);
	in->host->log(VS_LOG_INFO, in->tag,
		      "no VI/JSON API at /sdk/vim25/%s: VM creation times "
		      "are unknown (age rules will keep these VMs)",
		      in->vi_release);
	return VS_OK;
}

/*
 * GET .../VirtualMachine/{moid}/config with whichever session works.
 * 0 with resp filled (any status), or VS_ERR.  When VI/JSON turns out to
 * be missing, in->vi_mode becomes OFF and resp is left empty with 0.
 */
static int vmw_vi_get(struct vmw_lister *L, const char *path,
		      struct vs_http_response *resp, struct vs_error *err)
{
	struct vmw_instance *in = L->in;
	const char *what = "VI/JSON config";
	int missing, rc;

	memset(resp, 0, sizeof(*resp));
	L->requests++;
	switch (in->vi_mode) {
	case VMW_VI_UNKNOWN:
		/* Does the vAPI session work here?  One try, no re-login. */
		if (vmw_do_token(in, L->http, "GET", path, NULL, NULL, what,
				 resp, err))
			return VS_ERR;
		if (resp->status == 404) {
			in->host->http_response_release(resp);
			memset(resp, 0, sizeof(*resp));
			return vmw_vi_missing(in, err);
		}
		if (resp->status != 401) {
			in->vi_mode = VMW_VI_SHARED;
			in->host->log(VS_LOG_DEBUG, in->tag,
				      "VI/JSON accepts the vAPI session");
			return VS_OK;
		}
		in->host->http_response_release(resp);
		memset(resp, 0, sizeof(*resp));
		/* Refused: try a session of its own. */
		if (vmw_vi_login(in, L->http, &missing, err)) {
			if (missing) {
				vs_error_clear(err);
				return vmw_vi_missing(in, err);
			}
			/* Not usable with these credentials: stop asking. */
			in->vi_mode = VMW_VI_OFF;
			return VS_ERR;
		}
		in->host->log(VS_LOG_DEBUG, in->tag,
			      "VI/JSON refused the vAPI session; logged in to "
			      "VI/JSON");
		break;
	case VMW_VI_SHARED:
		if (vmw_do(in, L->http, "GET", path, NULL, what, resp, err))
			return VS_ERR;
		if (resp->status != 401)
			return VS_OK;
		in->host->http_response_release(resp);
		memset(resp, 0, sizeof(*resp));
		if (vmw_vi_login(in, L->http, &missing, err))
			return VS_ERR;
		break;
	case VMW_VI_OWN:
		break;
	default:
		return VS_OK;
	}
	rc = vmw_do_token(in, L->http, "GET", path, NULL, in->vi_token, what,
			  resp, err);
	if (rc || resp->status != 401)
		return rc;
	/* Our VI/JSON session expired: once more with a new one. */
	in->host->http_response_release(resp);
	memset(resp, 0, sizeof(*resp));
	if (vmw_vi_login(in, L->http, &missing, err))
		return VS_ERR;
	return vmw_do_token(in, L->http, "GET", path, NULL, in->vi_token, what,
			    resp, err);
}

static int vmw_ages(struct vmw_lister *L, struct vs_error *err)
{
	struct vmw_instance *in = L->in;
	size_t i, known = 0, failed = 0, templates = 0, streak = 0;
	struct vs_error first;

	vs_error_clear(&first);
	if (in->vi_mode == VMW_VI_OFF) {
		in->host->log(VS_LOG_DEBUG, in->tag,
			      "VI/JSON off: VM creation times are unknown");
		return VS_OK;
	}
	for (i = 0; i < L->got.n && in->vi_mode != VMW_VI_OFF; i++) {
		struct vs_vm *vm = &L->got.items[i];
		struct vs_http_response resp;
		struct vs_error e;
		int64_t created;
		int tmpl;
		char *path;

		vs_error_clear(&e);
		path = vmw_vi_path(in, "VirtualMachine/", vm->id, "/config");
		if (!path)
			return vs_error_set(err, VS_EC_INTERNAL, 0, 0,
					    "%s: out of memory", in->tag);
		if (vmw_vi_get(L, path, &resp, &e)) {
			free(path);
			if (e.cls == VS_EC_CANCELLED || e.cls == VS_EC_CONFIG ||
			    e.cls == VS_EC_INTERNAL ||
			    (in->vi_required && in->vi_mode == VMW_VI_OFF)) {
				*err = e;
				return VS_ERR;
			}
			goto failed;
		}
		free(path);
		if (in->vi_mode == VMW_VI_OFF)
			break;
		if (resp.status == 200) {
			if (vmw_vi_config_parse(in->tag, resp.body,
						resp.body_len,
						in->host->parse_time, &created,
						&tmpl, &e) == 0) {
				streak = 0;
				if (created != VS_TIME_UNKNOWN) {
					vm->created = created;
					vm->age_source = VS_AGE_CREATED;
					known++;
				}
				if (tmpl && !vm->platform_protection) {
					vm->platform_protection =
						strdup("template");
					if (!vm->platform_protection) {
						in->host->http_response_release(
							&resp);
						return vs_error_set(
							err, VS_EC_INTERNAL, 0,
							0, "%s: out of memory",
							in->tag);
					}
					templates++;
				}
			}
			in->host->http_response_release(&resp);
			if (e.cls == VS_EC_NONE)
				continue;
			goto failed;
		}
		/* ManagedObjectNotFound: deleted since the listing. */
		if (resp.status == 500 && resp.body &&
		    strstr(resp.body, "ManagedObjectNotFound")) {
			in->host->http_response_release(&resp);
			streak = 0;
			continue;
		}
		vs_error_set(&e, resp.status == 401 ? VS_EC_AUTH : VS_EC_SERVER,
			     (int)resp.status, 0,
			     "%s: VI/JSON config: HTTP %ld", in->tag,
			     resp.status);
		in->host->http_response_release(&resp);
	failed:
		if (!failed++)
			first = e;
		if (++streak == VMW_VI_GIVE_UP) {
			in->host->log(VS_LOG_WARN, in->tag,
				      "VI/JSON failed %d times in a row; the "
				      "remaining VMs get no creation time",
				      VMW_VI_GIVE_UP);
			break;
		}
	}
	if (failed)
		in->host->log(VS_LOG_WARN, in->tag,
			      "no creation time for %zu VM(s) (age unknown, "
			      "kept by age rules); first error: %s",
			      failed, first.message);
	if (in->vi_mode != VMW_VI_OFF)
		in->host->log(VS_LOG_DEBUG, in->tag,
			      "VI/JSON: creation time for %zu of %zu VM(s)%s",
			      known, L->got.n,
			      templates ? "; templates seen" : "");
	return VS_OK;
}

/* ------------------------------------------------------------------ */

int vmw_list(void *state, struct vs_http *http, struct vs_vm_list *out,
	     struct vs_error *err)
{
	struct vmw_instance *in = state;
	struct vmw_lister L;
	struct vmw_part all;
	size_t i;
	int rc = VS_ERR;

	memset(&L, 0, sizeof(L));
	memset(&all, 0, sizeof(all));
	L.in = in;
	L.http = http;
	L.legacy = vmw_session_legacy(&in->sess);
	if (vmw_list_part(&L, &all, 0, err) || vmw_tags(&L, err) ||
	    vmw_ages(&L, err))
		goto out;
	if (L.skipped)
		in->host->log(VS_LOG_WARN, in->tag,
			      "%zu VM(s) left out of the inventory (kept): %s",
			      L.skipped, L.skip_reason);
	if (L.split_power)
		in->host->log(VS_LOG_INFO, in->tag,
			      "the VM list hit vCenter's result cap; listed "
			      "in %zu parts by power state%s%s",
			      L.parts, L.split_folder ? ", folder" : "",
			      L.split_host ? ", host" : "");
	/* All or nothing: a partial inventory skews the gates. */
	for (i = 0; i < L.got.n; i++) {
		struct vs_vm *vm = vs_vm_list_push(out);

		if (!vm) {
			vs_error_set(err, VS_EC_INTERNAL, 0, 0,
				     "%s: out of memory", in->tag);
			/* Drop the copies: L.got still owns those records. */
			out->n -= i;
			goto out;
		}
		*vm = L.got.items[i];
	}
	free(L.got.items);
	memset(&L.got, 0, sizeof(L.got));
	in->host->log(VS_LOG_DEBUG, in->tag,
		      "listed %zu VM(s) in %zu request(s)", i, L.requests);
	rc = VS_OK;
out:
	vs_vm_list_release(&L.got);
	vmw_idset_release(&L.seen);
	vmw_ids_free(L.all_folders, L.n_all_folders);
	vmw_ids_free(L.all_hosts, L.n_all_hosts);
	return rc;
}
