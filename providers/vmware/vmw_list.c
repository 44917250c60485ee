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
 * instance: after each batch, the tags it brings that are not cached yet
 * are looked up in parallel through the host's fan_out, then their
 * categories the same way.  A VM gets each tag's name and also "category:name", so that
 * a tag "keep" in a category "vmsweep" carries the marker "vmsweep:keep".
 * A tag call that fails fails the listing: a VM whose tags we could not
 * read may carry a protection marker.
 *
 * REST has no creation time.  VI/JSON (vCenter 8.0U1+) has
 * config.createDate, one request per VM: the first VM alone (it decides
 * which session VI/JSON takes), the rest through fan_out.  The /api
 * session is tried on VI/JSON first
 * and a VI/JSON login of its own is made only if it is refused.  A 404
 * on the first call means the vCenter has no VI/JSON: ages stay unknown,
 * which the selection treats as never old enough.
 *
 * Threading: list() runs on one thread per instance, and so does
 * everything here that writes the tag caches or the lister.  The calls
 * fan_out runs on the workers, each with the handle it is given, use
 * only the shared vAPI session (its own lock, single-flight re-login),
 * read the listing, and write their own result slot; the VI/JSON mode and
 * token, which a 401 may change while they run, are under the lister's
 * vi_lock.  Results are then applied in VM order by list()'s thread, so
 * the inventory is the one a sequential loop would have made.
 */
#include "vmw_internal.h"

#include <pthread.h>
#include <stdatomic.h>
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
	/*
	 * VI/JSON: in->vi_mode and in->vi_token are read and written under
	 * vi_lock once the creation dates fan out; vi_gen counts the
	 * VI/JSON logins made since, so that one 401 logs in once.
	 */
	pthread_mutex_t vi_lock;
	unsigned long vi_gen;
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
 * GET a tag or category by id: 0 with *name (NULL: deleted since it was
 * attached, so it protects nothing) and, for a tag, *cat_id (NULL when
 * absent); the caller frees both.  Touches no shared state: it runs on
 * whichever worker handle it is given.
 */
static int vmw_fetch_named(struct vmw_instance *in, struct vs_http *http,
			   int legacy, const char *id, int category,
			   char **name, char **cat_id, struct vs_error *err)
{
	struct vs_http_response resp;
	struct vs_buf b;
	const char *what =
		category ? "reading a tag category" : "reading a tag";
	int have_resp = 0, rc = VS_ERR;

	*name = NULL;
	if (cat_id)
		*cat_id = NULL;
	vs_buf_init(&b, 64 * 1024);
	/* /rest names the object as "id:<id>" in the path. */
	if (vs_buf_adds(&b, legacy ? "/rest/com/vmware/cis/tagging/"
				   : "/api/cis/tagging/") ||
	    vs_buf_adds(&b, category ? "category/" : "tag/") ||
	    (legacy && vs_buf_adds(&b, "id:")) || vs_buf_add_pct(&b, id)) {
		vs_error_set(err, VS_EC_INTERNAL, 0, 0, "%s: out of memory",
			     in->tag);
		goto out;
	}
	if (vmw_do(in, http, "GET", b.s, NULL, what, &resp, err))
		goto out;
	have_resp = 1;
	if (resp.status == 404) {
		rc = VS_OK;
	} else if (resp.status == 200) {
		rc = vmw_named_parse(in->tag, resp.body, resp.body_len, name,
				     category ? NULL : cat_id, err);
	} else {
		vmw_fail(in, &resp, what, err);
	}
out:
	if (have_resp)
		in->host->http_response_release(&resp);
	vs_buf_release(&b);
	return rc;
}

/* Cache the name of a tag (and its category id) or category. */
static int vmw_cache_named(struct vmw_instance *in, const char *id,
			   int category, const char *name, const char *cat_id,
			   struct vs_error *err)
{
	if (pv_strmap_put(category ? &in->category_names : &in->tag_names, id,
			  name) ||
	    (!category && cat_id &&
	     pv_strmap_put(&in->tag_category, id, cat_id)))
		return vs_error_set(err, VS_EC_INTERNAL, 0, 0,
				    "%s: out of memory", in->tag);
	return VS_OK;
}

/* GET a tag or category by id on the lister's handle and cache it. */
static int vmw_resolve(struct vmw_lister *L, const char *id, int category,
		       struct vs_error *err)
{
	char *name = NULL, *cat = NULL;
	int rc;

	L->requests++;
	rc = vmw_fetch_named(L->in, L->http, L->legacy, id, category, &name,
			     category ? NULL : &cat, err);
	if (rc == VS_OK)
		rc = vmw_cache_named(L->in, id, category, name, cat, err);
	free(name);
	free(cat);
	return rc;
}

/*
 * The tags or categories of one batch whose names are not cached yet,
 * looked up through the host's fan_out: each call fills only its own
 * slot, and the cache is written afterwards by list()'s thread.
 */
struct vmw_lookup {
	struct vmw_instance *in;
	int legacy, category;
	const char **ids; /* borrowed */
	char **names, **cat_ids;
	size_t n, alloc;
	struct pv_strmap queued; /* ids already in ids[] */
};

static void vmw_lookup_release(struct vmw_lookup *lk)
{
	size_t i;

	for (i = 0; i < lk->n; i++) {
		free(lk->names[i]);
		free(lk->cat_ids[i]);
	}
	free(lk->ids);
	free(lk->names);
	free(lk->cat_ids);
	pv_strmap_release(&lk->queued);
	memset(lk, 0, sizeof(*lk));
}

/* Queue id once; 0, or VS_ERR out of memory. */
static int vmw_lookup_add(struct vmw_lookup *lk, const char *id)
{
	int found;

	pv_strmap_get(&lk->queued, id, &found);
	if (found)
		return VS_OK;
	if (lk->n == lk->alloc) {
		size_t na = lk->alloc ? 2 * lk->alloc : 64;
		const char **ni = realloc(lk->ids, na * sizeof(*ni));
		char **nn, **nc;

		if (!ni)
			return VS_ERR;
		lk->ids = ni;
		nn = realloc(lk->names, na * sizeof(*nn));
		if (!nn)
			return VS_ERR;
		lk->names = nn;
		nc = realloc(lk->cat_ids, na * sizeof(*nc));
		if (!nc)
			return VS_ERR;
		lk->cat_ids = nc;
		lk->alloc = na;
	}
	if (pv_strmap_put(&lk->queued, id, NULL))
		return VS_ERR;
	lk->ids[lk->n] = id;
	lk->names[lk->n] = lk->cat_ids[lk->n] = NULL;
	lk->n++;
	return VS_OK;
}

static int vmw_lookup_call(struct vs_http *http, size_t i, void *udata,
			   struct vs_error *err)
{
	struct vmw_lookup *lk = udata;

	return vmw_fetch_named(lk->in, http, lk->legacy, lk->ids[i],
			       lk->category, &lk->names[i],
			       lk->category ? NULL : &lk->cat_ids[i], err);
}

/*
 * The host's fan_out over n calls.  A failed call's error names the
 * instance already; the host's own (cancelled before every call ran)
 * gets it added.
 */
static int vmw_fan_out(struct vmw_instance *in, struct vs_http *http, size_t n,
		       int (*fn)(struct vs_http *http, size_t i, void *udata,
				 struct vs_error *err),
		       void *udata, const char *what, struct vs_error *err)
{
	struct vs_error e;
	size_t tl = strlen(in->tag);

	vs_error_clear(&e);
	if (in->host->fan_out(http, n, 0, fn, udata, &e) == VS_OK)
		return VS_OK;
	if (strncmp(e.message, in->tag, tl) == 0 && e.message[tl] == ':')
		return vs_error_set(err, e.cls, e.http_status, e.retryable,
				    "%s", e.message);
	return vs_error_set(err, e.cls, e.http_status, e.retryable,
			    "%s: %s: %s", in->tag, what, e.message);
}

/* Look up what lk holds and cache it, in queue order. */
static int vmw_lookup_run(struct vmw_lister *L, struct vmw_lookup *lk,
			  struct vs_error *err)
{
	size_t i;

	if (!lk->n)
		return VS_OK;
	L->requests += lk->n;
	if (vmw_fan_out(L->in, L->http, lk->n, vmw_lookup_call, lk,
			lk->category ? "reading tag categories"
				     : "reading tags",
			err))
		return VS_ERR;
	for (i = 0; i < lk->n; i++)
		if (vmw_cache_named(L->in, lk->ids[i], lk->category,
				    lk->names[i], lk->cat_ids[i], err))
			return VS_ERR;
	return VS_OK;
}

/*
 * Name every tag and category the batch att[0..n) attaches to listed
 * VMs that is not cached yet: the tags first, then their categories,
 * each set in parallel through the host's fan_out.
 */
static int vmw_names_prefetch(struct vmw_lister *L,
			      const struct vmw_attached *att, size_t n,
			      struct vs_error *err)
{
	struct vmw_instance *in = L->in;
	struct vmw_lookup tags, cats;
	size_t i, j;
	int found, rc = VS_ERR;

	memset(&tags, 0, sizeof(tags));
	memset(&cats, 0, sizeof(cats));
	tags.in = cats.in = in;
	tags.legacy = cats.legacy = L->legacy;
	cats.category = 1;
	for (i = 0; i < n; i++) {
		if (vmw_idset_find(&L->seen, &L->got, att[i].object_id) ==
		    (size_t)-1)
			continue;
		for (j = 0; j < att[i].n_tags; j++) {
			pv_strmap_get(&in->tag_names, att[i].tag_ids[j],
				      &found);
			if (!found && vmw_lookup_add(&tags, att[i].tag_ids[j]))
				goto nomem;
		}
	}
	if (vmw_lookup_run(L, &tags, err))
		goto out;
	for (i = 0; i < n; i++) {
		if (vmw_idset_find(&L->seen, &L->got, att[i].object_id) ==
		    (size_t)-1)
			continue;
		for (j = 0; j < att[i].n_tags; j++) {
			const char *cat_id = pv_strmap_get(
				&in->tag_category, att[i].tag_ids[j], &found);

			if (!cat_id)
				continue;
			pv_strmap_get(&in->category_names, cat_id, &found);
			if (!found && vmw_lookup_add(&cats, cat_id))
				goto nomem;
		}
	}
	rc = vmw_lookup_run(L, &cats, err);
	goto out;
nomem:
	vs_error_set(err, VS_EC_INTERNAL, 0, 0,
		     "%s: out of memory reading tags", in->tag);
out:
	vmw_lookup_release(&tags);
	vmw_lookup_release(&cats);
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
		if (rc || (rc = vmw_names_prefetch(L, att, n_att, err)))
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

/* The VI/JSON mode, and a copy of the own session's token and its login
 * generation; VS_ERR out of memory. */
static int vmw_vi_snapshot(struct vmw_lister *L, enum vmw_vi_mode *mode,
			   unsigned long *gen, char **token,
			   struct vs_error *err)
{
	struct vmw_instance *in = L->in;
	int rc = VS_OK;

	pthread_mutex_lock(&L->vi_lock);
	*mode = in->vi_mode;
	*gen = L->vi_gen;
	*token = NULL;
	if (*mode == VMW_VI_OWN && !(*token = strdup(in->vi_token)))
		rc = vs_error_set(err, VS_EC_INTERNAL, 0, 0,
				  "%s: out of memory", in->tag);
	pthread_mutex_unlock(&L->vi_lock);
	return rc;
}

/*
 * VI/JSON refused the session of login generation *gen: log in once for
 * every caller of that generation (a caller of an older one takes the
 * newer session), then *token is a copy of the new session's token and
 * *gen its generation.  The lock is held across the login: whoever
 * waits for it needs its outcome anyway.
 */
static int vmw_vi_relogin(struct vmw_lister *L, struct vs_http *http,
			  unsigned long *gen, char **token,
			  struct vs_error *err)
{
	struct vmw_instance *in = L->in;
	int missing, rc = VS_OK;

	pthread_mutex_lock(&L->vi_lock);
	if (L->vi_gen == *gen) {
		rc = vmw_vi_login(in, http, &missing, err);
		if (rc == VS_OK)
			L->vi_gen++;
	}
	if (rc == VS_OK) {
		pv_free_secret(*token);
		*gen = L->vi_gen;
		if (!(*token = strdup(in->vi_token)))
			rc = vs_error_set(err, VS_EC_INTERNAL, 0, 0,
					  "%s: out of memory", in->tag);
	}
	pthread_mutex_unlock(&L->vi_lock);
	return rc;
}

/*
 * GET .../VirtualMachine/{moid}/config with whichever session works, on
 * http.  0 with resp filled (any status), or VS_ERR.  When VI/JSON turns
 * out to be missing, in->vi_mode becomes OFF and resp is left empty with
 * 0.  The first call (mode unknown) decides the mode and must run alone;
 * once it is SHARED or OWN, calls may run on several workers at once.
 */
static int vmw_vi_get(struct vmw_lister *L, struct vs_http *http,
		      const char *path, struct vs_http_response *resp,
		      struct vs_error *err)
{
	struct vmw_instance *in = L->in;
	const char *what = "VI/JSON config";
	enum vmw_vi_mode mode;
	unsigned long gen;
	char *token = NULL;
	int missing, rc = VS_ERR;

	memset(resp, 0, sizeof(*resp));
	if (vmw_vi_snapshot(L, &mode, &gen, &token, err))
		return VS_ERR;
	switch (mode) {
	case VMW_VI_UNKNOWN:
		/* Does the vAPI session work here?  One try, no re-login. */
		if (vmw_do_token(in, http, "GET", path, NULL, NULL, what, resp,
				 err))
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
		if (vmw_vi_login(in, http, &missing, err)) {
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
		if (vmw_vi_snapshot(L, &mode, &gen, &token, err))
			return VS_ERR;
		break;
	case VMW_VI_SHARED:
		if (vmw_do(in, http, "GET", path, NULL, what, resp, err))
			goto out;
		if (resp->status != 401) {
			rc = VS_OK;
			goto out;
		}
		in->host->http_response_release(resp);
		memset(resp, 0, sizeof(*resp));
		if (vmw_vi_relogin(L, http, &gen, &token, err))
			goto out;
		break;
	case VMW_VI_OWN:
		break;
	default:
		return VS_OK;
	}
	rc = vmw_do_token(in, http, "GET", path, NULL, token, what, resp, err);
	if (rc || resp->status != 401)
		goto out;
	/* Our VI/JSON session expired: once more with a new one. */
	in->host->http_response_release(resp);
	memset(resp, 0, sizeof(*resp));
	rc = VS_ERR;
	if (vmw_vi_relogin(L, http, &gen, &token, err))
		goto out;
	rc = vmw_do_token(in, http, "GET", path, NULL, token, what, resp, err);
out:
	pv_free_secret(token);
	return rc;
}

/*
 * The creation dates.  Each VM's answer is kept in its own slot and the
 * slots are read in VM order afterwards, exactly as one loop over the
 * VMs would have read them: the VMs after VMW_VI_GIVE_UP failures in a
 * row get nothing, and the first fatal error (cancelled, config,
 * internal) fails the listing.  Calls whose answer cannot matter any
 * more (past a fatal error, past a give-up already certain) are not
 * sent.
 */
enum vmw_age_kind {
	VMW_AGE_NONE = 0, /* not asked */
	VMW_AGE_OK,	  /* created (maybe unknown) and the template flag */
	VMW_AGE_GONE,	  /* deleted since the listing */
	VMW_AGE_FAILED,	  /* no creation time; counts toward giving up */
	VMW_AGE_FATAL,	  /* fails the listing */
	VMW_AGE_STOP,	  /* VI/JSON turned out to be missing: the end */
};

struct vmw_age {
	int64_t created;
	unsigned char kind, tmpl, last; /* last: nothing after it counts */
};

struct vmw_ages {
	struct vmw_lister *L;
	struct vmw_age *a; /* per VM of L->got; under lock once fanned out */
	size_t n, base;	   /* base: the first VM of the fan-out */
	atomic_size_t stop_at, requests;
	pthread_mutex_t lock;
	size_t first_failed, first_fatal;
	struct vs_error failed_err, fatal_err; /* theirs */
};

/* Keep VM i's answer; e is its error (FAILED, FATAL). */
static void vmw_age_put(struct vmw_ages *A, size_t i, enum vmw_age_kind kind,
			int64_t created, int tmpl, int last,
			const struct vs_error *e)
{
	size_t lo = i, hi = i;

	pthread_mutex_lock(&A->lock);
	A->a[i].kind = (unsigned char)kind;
	A->a[i].created = created;
	A->a[i].tmpl = (unsigned char)tmpl;
	A->a[i].last = (unsigned char)last;
	if (kind == VMW_AGE_FAILED && i < A->first_failed) {
		A->first_failed = i;
		A->failed_err = *e;
	}
	if (kind == VMW_AGE_FATAL && i < A->first_fatal) {
		A->first_fatal = i;
		A->fatal_err = *e;
	}
	if (kind == VMW_AGE_FATAL || kind == VMW_AGE_STOP || last) {
		if (i < atomic_load(&A->stop_at))
			atomic_store(&A->stop_at, i);
	} else if (kind == VMW_AGE_FAILED) {
		/* VMW_VI_GIVE_UP failures in a row: nothing after counts. */
		while (lo > 0 && A->a[lo - 1].kind == VMW_AGE_FAILED)
			lo--;
		while (hi + 1 < A->n && A->a[hi + 1].kind == VMW_AGE_FAILED)
			hi++;
		if (hi - lo + 1 >= VMW_VI_GIVE_UP &&
		    lo + VMW_VI_GIVE_UP - 1 < atomic_load(&A->stop_at))
			atomic_store(&A->stop_at, lo + VMW_VI_GIVE_UP - 1);
	}
	pthread_mutex_unlock(&A->lock);
}

static enum vmw_vi_mode vmw_vi_mode_now(struct vmw_lister *L)
{
	enum vmw_vi_mode m;

	pthread_mutex_lock(&L->vi_lock);
	m = L->in->vi_mode;
	pthread_mutex_unlock(&L->vi_lock);
	return m;
}

/* Ask VI/JSON about VM i on http and keep the answer. */
static void vmw_age_one(struct vmw_ages *A, struct vs_http *http, size_t i)
{
	struct vmw_lister *L = A->L;
	struct vmw_instance *in = L->in;
	const struct vs_vm *vm = &L->got.items[i];
	struct vs_http_response resp;
	struct vs_error e;
	int64_t created = VS_TIME_UNKNOWN;
	int tmpl = 0;
	char *path;

	if (i > atomic_load(&A->stop_at))
		return;
	vs_error_clear(&e);
	path = vmw_vi_path(in, "VirtualMachine/", vm->id, "/config");
	if (!path) {
		vs_error_set(&e, VS_EC_INTERNAL, 0, 0, "%s: out of memory",
			     in->tag);
		vmw_age_put(A, i, VMW_AGE_FATAL, created, 0, 1, &e);
		return;
	}
	atomic_fetch_add(&A->requests, 1);
	if (vmw_vi_get(A->L, http, path, &resp, &e)) {
		enum vmw_vi_mode m = vmw_vi_mode_now(L);

		free(path);
		if (e.cls == VS_EC_CANCELLED || e.cls == VS_EC_CONFIG ||
		    e.cls == VS_EC_INTERNAL ||
		    (in->vi_required && m == VMW_VI_OFF))
			vmw_age_put(A, i, VMW_AGE_FATAL, created, 0, 1, &e);
		else
			vmw_age_put(A, i, VMW_AGE_FAILED, created, 0,
				    m == VMW_VI_OFF, &e);
		return;
	}
	free(path);
	if (vmw_vi_mode_now(L) == VMW_VI_OFF) {
		vmw_age_put(A, i, VMW_AGE_STOP, created, 0, 1, NULL);
		return;
	}
	if (resp.status == 200) {
		int rc = vmw_vi_config_parse(in->tag, resp.body, resp.body_len,
					     in->host->parse_time, &created,
					     &tmpl, &e);

		in->host->http_response_release(&resp);
		vmw_age_put(A, i, rc ? VMW_AGE_FAILED : VMW_AGE_OK, created,
			    tmpl, 0, &e);
		return;
	}
	/* ManagedObjectNotFound: deleted since the listing. */
	if (resp.status == 500 && resp.body &&
	    strstr(resp.body, "ManagedObjectNotFound")) {
		in->host->http_response_release(&resp);
		vmw_age_put(A, i, VMW_AGE_GONE, created, 0, 0, NULL);
		return;
	}
	vs_error_set(&e, resp.status == 401 ? VS_EC_AUTH : VS_EC_SERVER,
		     (int)resp.status, 0, "%s: VI/JSON config: HTTP %ld",
		     in->tag, resp.status);
	in->host->http_response_release(&resp);
	vmw_age_put(A, i, VMW_AGE_FAILED, created, 0, 0, &e);
}

static int vmw_age_call(struct vs_http *http, size_t k, void *udata,
			struct vs_error *err)
{
	struct vmw_ages *A = udata;

	(void)err;
	vmw_age_one(A, http, A->base + k);
	return VS_OK;
}

/* Apply the answers in VM order; see struct vmw_ages. */
static int vmw_ages_apply(struct vmw_ages *A, struct vs_error *err)
{
	struct vmw_lister *L = A->L;
	struct vmw_instance *in = L->in;
	size_t i, known = 0, failed = 0, templates = 0, streak = 0;

	for (i = 0; i < A->n; i++) {
		struct vs_vm *vm = &L->got.items[i];
		const struct vmw_age *a = &A->a[i];

		if (a->kind == VMW_AGE_NONE || a->kind == VMW_AGE_STOP)
			break;
		if (a->kind == VMW_AGE_FATAL) {
			*err = A->fatal_err;
			return VS_ERR;
		}
		if (a->kind == VMW_AGE_GONE) {
			streak = 0;
		} else if (a->kind == VMW_AGE_OK) {
			streak = 0;
			if (a->created != VS_TIME_UNKNOWN) {
				vm->created = a->created;
				vm->age_source = VS_AGE_CREATED;
				known++;
			}
			if (a->tmpl && !vm->platform_protection) {
				vm->platform_protection = strdup("template");
				if (!vm->platform_protection)
					return vs_error_set(
						err, VS_EC_INTERNAL, 0, 0,
						"%s: out of memory", in->tag);
				templates++;
			}
		} else {
			failed++;
			if (++streak == VMW_VI_GIVE_UP) {
				in->host->log(VS_LOG_WARN, in->tag,
					      "VI/JSON failed %d times in a "
					      "row; the remaining VMs get no "
					      "creation time",
					      VMW_VI_GIVE_UP);
				break;
			}
		}
		if (a->last)
			break;
	}
	if (failed)
		in->host->log(VS_LOG_WARN, in->tag,
			      "no creation time for %zu VM(s) (age unknown, "
			      "kept by age rules); first error: %s",
			      failed, A->failed_err.message);
	if (in->vi_mode != VMW_VI_OFF)
		in->host->log(VS_LOG_DEBUG, in->tag,
			      "VI/JSON: creation time for %zu of %zu VM(s)%s",
			      known, L->got.n,
			      templates ? "; templates seen" : "");
	return VS_OK;
}

/*
 * The first VMs are asked in turn until VI/JSON's mode is known (usually
 * after one); the rest fan out on the workers through the host.
 */
static int vmw_ages(struct vmw_lister *L, struct vs_error *err)
{
	struct vmw_instance *in = L->in;
	struct vmw_ages A;
	enum vmw_vi_mode m;
	size_t i;
	int rc = VS_ERR;

	if (in->vi_mode == VMW_VI_OFF) {
		in->host->log(VS_LOG_DEBUG, in->tag,
			      "VI/JSON off: VM creation times are unknown");
		return VS_OK;
	}
	if (!L->got.n)
		return VS_OK;
	memset(&A, 0, sizeof(A));
	A.L = L;
	A.n = L->got.n;
	atomic_init(&A.stop_at, (size_t)-1);
	atomic_init(&A.requests, 0);
	A.first_failed = A.first_fatal = (size_t)-1;
	pthread_mutex_init(&A.lock, NULL);
	if (!(A.a = calloc(A.n, sizeof(*A.a)))) {
		vs_error_set(err, VS_EC_INTERNAL, 0, 0, "%s: out of memory",
			     in->tag);
		goto out;
	}
	for (i = 0; i < A.n && i <= atomic_load(&A.stop_at) &&
		    vmw_vi_mode_now(L) == VMW_VI_UNKNOWN;
	     i++)
		vmw_age_one(&A, L->http, i);
	m = vmw_vi_mode_now(L);
	if (i < A.n && i <= atomic_load(&A.stop_at) &&
	    (m == VMW_VI_SHARED || m == VMW_VI_OWN)) {
		A.base = i;
		if (vmw_fan_out(in, L->http, A.n - i, vmw_age_call, &A,
				"reading creation dates", err))
			goto out;
	}
	rc = vmw_ages_apply(&A, err);
out:
	L->requests += atomic_load(&A.requests);
	pthread_mutex_destroy(&A.lock);
	free(A.a);
	return rc;
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
	pthread_mutex_init(&L.vi_lock, NULL);
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
	pthread_mutex_destroy(&L.vi_lock);
	return rc;
}
