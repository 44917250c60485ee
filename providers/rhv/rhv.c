/*
 * rhv.c - the oVirt / Red Hat Virtualization provider: the engine's REST
 * API v4 (/ovirt-engine/api), JSON, with an SSO token or HTTP Basic.
 *
 * The engine deletes only VMs that are down, so remove() stops the VM
 * first (a hard power-off, as the engine's Ansible modules do before
 * removing), waiting out the statuses a VM leaves on its own
 * (image_locked, migrating, ...).  A VM listed down goes straight to its
 * DELETE, and a stopped one too: only when the engine refuses it as not
 * down yet does remove() poll until it is.  After DELETE the VM
 * lingers in image_locked while its disks are removed, so remove()
 * returns REQUESTED and confirm() watches until the engine answers 404.
 * The engine's own protection is delete_protected: such a VM is
 * reported as protected, never as a failure, and never stopped.
 *
 * Threading: list and open/close run on one thread; remove, probe and
 * confirm run on many workers with their own struct vs_http.  The only
 * shared mutable state is the SSO token (rhv_auth.c); everything else in
 * the instance is read-only after open.
 */
#include "rhv_internal.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Below this many VMs confirm asks about each; above, it lists. */
#define RHV_CONFIRM_LIST_MIN 20
/* Polling a VM's status: first wait, doubling up to the cap. */
#define RHV_POLL_FIRST_MS 50
#define RHV_POLL_MAX_MS	  2000
/* Looks at a VM still not going down before sending stop again. */
#define RHV_RESTOP_POLLS 8
#define RHV_MAX_STOPS	 3

struct rhv_instance {
	const struct vs_host *host;
	char *tag;
	struct rhv_settings set;
	struct rhv_session sess;
	int sess_ready;
	/* When the last listing began (rhv_now_ms()); 0: none yet. */
	_Atomic int64_t listed_ms;
};

static const struct vs_key_spec rhv_keys[] = {
	{"auth", VS_KEY_STRING,
	 "sso (default): one OAuth token from /ovirt-engine/sso/oauth/token "
	 "shared by all workers and renewed on 401; basic: HTTP Basic on "
	 "every request (deprecated by the engine, for engines without "
	 "SSO)"},
	{"page_size", VS_KEY_INT,
	 "VMs per page of GET /vms (the max parameter), 1-10000 (default "
	 "500)"},
	{"search", VS_KEY_STRING,
	 "engine search expression that narrows the listing, e.g. "
	 "\"name=ci-* or name=test_*\"; a VM it excludes is never "
	 "considered (not listed, not kept, not deleted); no page clause"},
	{"tags", VS_KEY_BOOL,
	 "read each VM's tags (follow=tags in the listing) so that a tag "
	 "marker protects it (default false: markers only in description "
	 "and comment)"},
	{"force", VS_KEY_BOOL,
	 "DELETE with force=true: also remove VMs whose disks are locked "
	 "(default false)"},
	{"stop_recheck_after", VS_KEY_DURATION,
	 "a VM the listing showed running is stopped without looking at it "
	 "again (GET) while the listing is younger than this; older, the "
	 "look re-checks delete_protected and the status first (default "
	 "30s; 0: always look)"},
	{NULL, 0, NULL},
};

static int64_t rhv_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ */
/* Requests.                                                            */

/*
 * One API request.  With SSO a 401 renews the token once (shared by all
 * workers) and sends the request again; with Basic a 401 is returned
 * like any status.  0 with resp filled whatever the status, or VS_ERR.
 */
static int rhv_api_do(struct rhv_instance *in, struct vs_http *http,
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
	int attempt, sso = in->set.auth == RHV_AUTH_SSO, rc = VS_ERR;

	vs_buf_init(&auth, 64 * 1024);
	for (attempt = 0; attempt < 2; attempt++) {
		size_t nh = 0;

		if (in->host->cancelled()) {
			vs_error_set(err, VS_EC_CANCELLED, 0, 0, "%s: stopped",
				     in->tag);
			goto out;
		}
		if (sso) {
			if (pv_cred_token(&in->sess.cred, http, &token, &gen,
					  err))
				goto out;
			pv_buf_release_secret(&auth);
			if (vs_buf_addf(&auth, "Authorization: Bearer %s",
					token)) {
				vs_error_set(err, VS_EC_INTERNAL, 0, 0,
					     "%s: token too large", in->tag);
				goto out;
			}
			pv_free_secret(token);
			token = NULL;
			headers[nh++] = auth.s;
		}
		headers[nh++] = "Version: 4";
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
		if (!sso) {
			req.basic_user = in->set.username;
			req.basic_password = in->set.password;
		}
		req.ca_file = in->set.ca_file;
		req.insecure = in->set.insecure;
		req.idempotent = idempotent;
		req.timeout_ms = in->set.timeout_ms;
		vs_error_clear(&e);
		if (in->host->http_do(http, &req, resp, &e)) {
			/* The core's message names no provider: add who. */
			vs_error_set(err, e.cls, e.http_status, e.retryable,
				     "%s: %s", in->tag, e.message);
			goto out;
		}
		if (resp->status != 401 || !sso || attempt == 1)
			break;
		in->host->http_response_release(resp);
		memset(resp, 0, sizeof(*resp));
		if (pv_cred_refresh(&in->sess.cred, http, gen, err))
			goto out;
	}
	rc = VS_OK;
out:
	pv_free_secret(token);
	pv_buf_release_secret(&auth);
	return rc;
}

/* Map an answer we did not expect to an error. */
static int rhv_fail(struct rhv_instance *in,
		    const struct vs_http_response *resp, const char *what,
		    struct vs_error *err)
{
	char msg[RHV_MSG_MAX];
	enum vs_err_class cls = VS_EC_CLIENT;
	int retry = 0;
	long st = resp->status;

	rhv_fault_message(resp->body, resp->body_len, msg, sizeof(msg));
	if (st == 401 || st == 403) {
		cls = VS_EC_AUTH;
	} else if (st == 404) {
		cls = VS_EC_NOT_FOUND;
	} else if (st == 409) {
		switch (rhv_fault_kind(msg)) {
		case RHV_FAULT_PROTECTED:
			cls = VS_EC_PROTECTED;
			break;
		case RHV_FAULT_LOCKED:
			cls = VS_EC_LOCKED;
			retry = 1;
			break;
		default:
			cls = VS_EC_CONFLICT;
			retry = 1;
			break;
		}
	} else if (st == 429) {
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
static const char *rhv_what(char *dst, size_t sz, const char *verb,
			    const struct vs_vm *vm)
{
	char name[96];

	snprintf(dst, sz, "%s of '%s'", verb,
		 pv_clean_ws(name, sizeof(name), vm->name ? vm->name : vm->id));
	return dst;
}

static int rhv_check_vm(struct rhv_instance *in, const struct vs_vm *vm,
			struct vs_error *err)
{
	/* An empty id would address the collection, not a VM. */
	if (!vm || !vm->id || !*vm->id)
		return vs_error_set(err, VS_EC_INTERNAL, 0, 0,
				    "%s: a VM without an id", in->tag);
	return VS_OK;
}

/*
 * GET /vms/{id}: 0 with *found and cur filled (when found; release with
 * vs_vm_release either way), or VS_ERR.
 */
static int rhv_get(struct rhv_instance *in, struct vs_http *http,
		   const struct vs_vm *vm, int *found, struct vs_vm *cur,
		   struct vs_error *err)
{
	struct vs_http_response resp;
	char what[160];
	char *url = rhv_vm_url(in->set.urls.api, vm->id, "");
	int rc = VS_ERR;

	*found = 0;
	memset(cur, 0, sizeof(*cur));
	cur->created = VS_TIME_UNKNOWN;
	if (!url)
		return vs_error_set(err, VS_EC_INTERNAL, 0, 0,
				    "%s: out of memory", in->tag);
	if (rhv_api_do(in, http, "GET", url, NULL, 1, &resp, err)) {
		free(url);
		return VS_ERR;
	}
	free(url);
	if (resp.status == 404) {
		rc = VS_OK;
	} else if (resp.status == 200) {
		rc = rhv_vm_parse(in->tag, resp.body, resp.body_len, cur, err);
		*found = rc == VS_OK;
	} else {
		rhv_fail(in, &resp, rhv_what(what, sizeof(what), "lookup", vm),
			 err);
	}
	in->host->http_response_release(&resp);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Listing.                                                             */

/* Read the tags of the VMs the listing did not inline them for. */
static int rhv_fetch_tags(struct rhv_instance *in, struct vs_http *http,
			  struct rhv_page *page, struct vs_error *err)
{
	struct vs_http_response resp;
	char what[160];
	size_t i, asked = 0;

	for (i = 0; i < page->n; i++) {
		struct vs_vm *vm = &page->items[i];
		char *url;
		int rc;

		if (!page->no_tags[i])
			continue;
		url = rhv_vm_url(in->set.urls.api, vm->id, "/tags");
		if (!url)
			return vs_error_set(err, VS_EC_INTERNAL, 0, 0,
					    "%s: out of memory", in->tag);
		rc = rhv_api_do(in, http, "GET", url, NULL, 1, &resp, err);
		free(url);
		if (rc)
			return VS_ERR;
		asked++;
		if (resp.status == 404) {
			/* Gone since the listing: it cannot be deleted. */
			rc = VS_OK;
		} else if (resp.status != 200) {
			rc = rhv_fail(in, &resp,
				      rhv_what(what, sizeof(what),
					       "reading the tags", vm),
				      err);
		} else {
			rc = rhv_tags_parse(in->tag, resp.body, resp.body_len,
					    vm, err);
		}
		in->host->http_response_release(&resp);
		if (rc)
			return VS_ERR;
		page->no_tags[i] = 0;
	}
	if (asked)
		in->host->log(VS_LOG_DEBUG, in->tag,
			      "read the tags of %zu VM(s) one by one (not "
			      "inlined by follow=tags)",
			      asked);
	return VS_OK;
}

typedef int (*rhv_page_fn)(void *ctx, struct rhv_page *page);

/*
 * Walk GET /vms page by page (max=page_size, search "... page K"),
 * handing each parsed page to fn, until a short page.  A VM seen on an
 * earlier page is dropped from later ones (the order shifted under us);
 * a page holding nothing new means the engine ignores paging, and the
 * walk fails rather than loop or return a guess.
 */
static int rhv_walk(struct rhv_instance *in, struct vs_http *http,
		    const char *search, int want_tags, rhv_page_fn fn,
		    void *ctx, struct vs_error *err)
{
	struct vs_http_response resp;
	struct rhv_page page;
	struct pv_strmap seen; /* ids, with no values */
	char *url = NULL;
	long k;
	int have_resp = 0, rc = VS_ERR;

	memset(&page, 0, sizeof(page));
	memset(&seen, 0, sizeof(seen));
	for (k = 1;; k++) {
		size_t i, m, fresh = 0;

		if (k > RHV_MAX_PAGES) {
			vs_error_set(err, VS_EC_INVALID_RESPONSE, 0, 0,
				     "%s: listing VMs: more than %d pages, "
				     "giving up",
				     in->tag, RHV_MAX_PAGES);
			goto out;
		}
		free(url);
		url = rhv_list_url(in->set.urls.api, in->set.page_size, search,
				   k, want_tags);
		if (!url)
			goto nomem;
		if (rhv_api_do(in, http, "GET", url, NULL, 1, &resp, err))
			goto out;
		have_resp = 1;
		if (resp.status != 200) {
			rhv_fail(in, &resp, "listing VMs", err);
			goto out;
		}
		if (rhv_vms_parse(in->tag, resp.body, resp.body_len, want_tags,
				  &page, err))
			goto out;
		in->host->http_response_release(&resp);
		have_resp = 0;
		if (page.skipped)
			in->host->log(VS_LOG_WARN, in->tag,
				      "%zu VM(s) left out of the inventory "
				      "(kept): %s",
				      page.skipped, page.skip_reason);
		for (i = 0, m = 0; i < page.n; i++) {
			int dup;

			pv_strmap_get(&seen, page.items[i].id, &dup);
			if (dup) {
				vs_vm_release(&page.items[i]);
				continue;
			}
			if (pv_strmap_put(&seen, page.items[i].id, NULL))
				goto nomem;
			fresh++;
			page.items[m] = page.items[i];
			page.no_tags[m] = page.no_tags[i];
			m++;
		}
		if (page.n > 0 && fresh == 0) {
			page.n = m;
			vs_error_set(err, VS_EC_INVALID_RESPONSE, 0, 0,
				     "%s: listing VMs: page %ld repeats VMs "
				     "of earlier pages; the engine ignores "
				     "paging (search \"page N\" with max)",
				     in->tag, k);
			goto out;
		}
		page.n = m;
		in->host->log(VS_LOG_DEBUG, in->tag,
			      "VMs page %ld: %zu entr%s, %zu new", k,
			      page.entries, page.entries == 1 ? "y" : "ies",
			      fresh);
		if (want_tags && rhv_fetch_tags(in, http, &page, err))
			goto out;
		if (fn(ctx, &page))
			goto nomem;
		/* A short page is the last one. */
		if (page.entries < (size_t)in->set.page_size)
			break;
		rhv_page_release(&page);
	}
	rc = VS_OK;
	goto out;
nomem:
	vs_error_set(err, VS_EC_INTERNAL, 0, 0, "%s: out of memory listing VMs",
		     in->tag);
out:
	if (have_resp)
		in->host->http_response_release(&resp);
	rhv_page_release(&page);
	pv_strmap_release(&seen);
	free(url);
	return rc;
}

/* Move a page's VMs into a vs_vm_list. */
static int rhv_collect(void *ctx, struct rhv_page *page)
{
	struct vs_vm_list *out = ctx;
	size_t i;

	for (i = 0; i < page->n; i++) {
		struct vs_vm *vm = vs_vm_list_push(out);

		if (!vm)
			return -1;
		*vm = page->items[i];
		memset(&page->items[i], 0, sizeof(page->items[i]));
		page->items[i].created = VS_TIME_UNKNOWN;
	}
	return 0;
}

static int rhv_list(void *state, struct vs_http *http, struct vs_vm_list *out,
		    struct vs_error *err)
{
	struct rhv_instance *in = state;
	size_t before = out->n;

	atomic_store(&in->listed_ms, rhv_now_ms());
	if (rhv_walk(in, http, in->set.search, in->set.tags, rhv_collect, out,
		     err)) {
		/* All or nothing: a partial inventory skews the gates. */
		while (out->n > before)
			vs_vm_release(&out->items[--out->n]);
		return VS_ERR;
	}
	in->host->log(VS_LOG_DEBUG, in->tag, "listed %zu VM(s)%s%s",
		      out->n - before,
		      in->set.search ? " matching search " : "",
		      in->set.search ? in->set.search : "");
	return VS_OK;
}

/* ------------------------------------------------------------------ */
/* Delete and probe.                                                    */

/*
 * POST /vms/{id}/stop {} (a hard power-off).  0 when the engine took it
 * (or the VM is gone: *gone), VS_ERR with the engine's reason otherwise.
 */
static int rhv_stop(struct rhv_instance *in, struct vs_http *http,
		    const struct vs_vm *vm, int *gone, struct vs_error *err)
{
	struct vs_http_response resp;
	char what[160], msg[RHV_MSG_MAX];
	char *url = rhv_vm_url(in->set.urls.api, vm->id, "/stop");
	int rc = VS_ERR;

	*gone = 0;
	if (!url)
		return vs_error_set(err, VS_EC_INTERNAL, 0, 0,
				    "%s: out of memory", in->tag);
	rhv_what(what, sizeof(what), "stop", vm);
	/* Stopping twice ends the same way: safe to send again. */
	if (rhv_api_do(in, http, "POST", url, "{}", 1, &resp, err)) {
		free(url);
		return VS_ERR;
	}
	free(url);
	if (resp.status == 404) {
		*gone = 1;
		rc = VS_OK;
	} else if (resp.status >= 200 && resp.status < 300) {
		if (rhv_action_failed(resp.body, resp.body_len, msg,
				      sizeof(msg)))
			vs_error_set(err,
				     rhv_fault_kind(msg) == RHV_FAULT_LOCKED
					     ? VS_EC_LOCKED
					     : VS_EC_CONFLICT,
				     (int)resp.status, 1, "%s: %s failed: %s",
				     in->tag, what, msg);
		else
			rc = VS_OK;
	} else {
		rhv_fail(in, &resp, what, err);
	}
	in->host->http_response_release(&resp);
	if (rc == VS_OK && !*gone)
		in->host->log(VS_LOG_DEBUG, in->tag, "%s sent", what);
	return rc;
}

/*
 * A refused stop that says the VM is not running: it went down since we
 * looked (the engine's "VM is not running", or "VM <name> is Down").
 */
static int rhv_not_running(const char *msg)
{
	return pv_contains_ci(msg, "not running") ||
	       pv_contains_ci(msg, "is down");
}

/* Why remove() may send the DELETE now. */
enum rhv_ready {
	RHV_READY_GUESS = 1, /* the listing, or a stop refused as not running */
	RHV_READY_SEEN,	     /* our own look found the VM down */
	RHV_READY_STOPPED,   /* the engine completed our stop just now */
};

/* One VM's way down, kept across its looks and DELETEs. */
struct rhv_prep {
	int64_t deadline;
	long delay;	    /* the next wait between looks */
	int stops;	    /* stops the engine took */
	int since_stop;	    /* waits since the last one */
	int not_running;    /* stops refused as "not running" */
	int trust_listing;  /* stop at once, as listed (rhv_listing_fresh) */
	enum rhv_ready why; /* set when rhv_prepare() returns ready */
};

/*
 * Whether vm may be stopped without a look first: the listing showed it
 * running (or paused, suspended: not down and not in a transient status),
 * unprotected, and began less than stop_recheck_after ago.  The look
 * re-checks delete_protected, which the engine enforces for DELETE but
 * not for stop; a fresh listing is as good a look for that, so a long
 * run looks again once its listing has aged.
 */
static int rhv_listing_fresh(struct rhv_instance *in, const struct vs_vm *vm)
{
	int64_t listed = atomic_load(&in->listed_ms);

	return listed > 0 && in->set.stop_recheck_after_ms > 0 &&
	       rhv_now_ms() - listed < in->set.stop_recheck_after_ms &&
	       !vm->platform_protection && vm->status && *vm->status &&
	       !rhv_status_deletable(vm->status) &&
	       !rhv_status_transient(vm->status);
}

/*
 * Bring the VM to where a DELETE may succeed: look at it (GET), wait out
 * transient statuses, stop it when it runs; bounded by the deadline and
 * cut short by cancellation.  With wait_first the first look comes after
 * a wait (the VM was just stopped and is not down yet).  *outcome is 0
 * (send the DELETE now; p->why says why), VS_REMOVE_ABSENT or
 * VS_REMOVE_PROTECTED.
 *
 * The look before a stop is what keeps a VM protected since the listing
 * from being powered off: the engine refuses to delete a
 * delete_protected VM but stops it all the same.  With p->trust_listing
 * (a fresh listing, rhv_listing_fresh) the first look is the listing's
 * own and the stop goes out at once.  After a stop the engine
 * completed, the DELETE is sent without another look; it is refused
 * (409) while the VM is not down yet, and then the looks resume.
 */
static int rhv_prepare(struct rhv_instance *in, struct vs_http *http,
		       const struct vs_vm *vm, struct rhv_prep *p,
		       int wait_first, int *outcome, struct vs_error *err)
{
	struct vs_error stop_err;
	struct vs_vm cur;
	char what[160], name[96], status[48] = "";
	int found, gone, stop_failed = 0;

	*outcome = 0;
	rhv_what(what, sizeof(what), "delete", vm);
	vs_error_clear(&stop_err);
	for (;;) {
		const char *st;

		if (wait_first) {
			if (rhv_now_ms() >= p->deadline)
				return vs_error_set(
					err,
					pv_streq_ci(status, "image_locked")
						? VS_EC_LOCKED
						: VS_EC_TIMEOUT,
					0, 1,
					"%s: %s: still %s when the delete "
					"timeout ran out",
					in->tag, what,
					status[0] ? status : "not down");
			if (in->host->sleep_ms(p->delay))
				return vs_error_set(
					err, VS_EC_CANCELLED, 0, 0,
					"%s: %s: stopped while waiting for "
					"the VM to go down",
					in->tag, what);
			p->delay = p->delay * 2 > RHV_POLL_MAX_MS
					   ? RHV_POLL_MAX_MS
					   : p->delay * 2;
			p->since_stop++;
		}
		wait_first = 1;
		if (p->trust_listing) {
			p->trust_listing = 0;
			pv_clean_ws(status, sizeof(status), vm->status);
			goto stop;
		}
		if (rhv_get(in, http, vm, &found, &cur, err))
			return VS_ERR;
		if (!found) {
			*outcome = VS_REMOVE_ABSENT;
			return VS_OK;
		}
		if (cur.platform_protection) {
			vs_vm_release(&cur);
			*outcome = VS_REMOVE_PROTECTED;
			vs_error_set(err, VS_EC_PROTECTED, 0, 0,
				     "%s: '%s' has delete protection enabled",
				     in->tag,
				     pv_clean_ws(name, sizeof(name), vm->name));
			return VS_OK;
		}
		st = cur.status ? cur.status : "";
		pv_clean_ws(status, sizeof(status), st);
		if (rhv_status_deletable(st) ||
		    (in->set.force && pv_streq_ci(st, "image_locked"))) {
			vs_vm_release(&cur);
			p->why = RHV_READY_SEEN;
			return VS_OK;
		}
		vs_vm_release(&cur);
		if (stop_failed) {
			/* The stop was refused and the VM is still up. */
			*err = stop_err;
			return VS_ERR;
		}
		if (rhv_status_transient(status) ||
		    (p->stops > 0 && (pv_streq_ci(status, "powering_down") ||
				      p->since_stop < RHV_RESTOP_POLLS ||
				      p->stops >= RHV_MAX_STOPS)))
			continue;
	stop:
		/* Running, paused, suspended, not responding. */
		vs_error_clear(&stop_err);
		if (rhv_stop(in, http, vm, &gone, &stop_err)) {
			if (stop_err.cls == VS_EC_AUTH ||
			    stop_err.cls == VS_EC_CANCELLED) {
				*err = stop_err;
				return VS_ERR;
			}
			if (rhv_not_running(stop_err.message) &&
			    !p->not_running++) {
				/* Down since our look: the DELETE tells. */
				p->why = RHV_READY_GUESS;
				return VS_OK;
			}
			/* Look once more: it may have gone down. */
			stop_failed = 1;
			wait_first = 0;
			continue;
		}
		if (gone) {
			*outcome = VS_REMOVE_ABSENT;
			return VS_OK;
		}
		p->stops++;
		p->since_stop = 0;
		p->why = RHV_READY_STOPPED;
		return VS_OK;
	}
}

static int rhv_remove(void *state, struct vs_http *http, const struct vs_vm *vm,
		      enum vs_remove_status *status, struct vs_error *err)
{
	struct rhv_instance *in = state;
	struct vs_http_response resp;
	struct rhv_prep prep;
	char what[160], msg[RHV_MSG_MAX];
	char *url = NULL;
	enum rhv_fault_kind kind;
	int outcome, restarted = 0, look, wait = 0, have_resp = 0, rc = VS_ERR;

	if (rhv_check_vm(in, vm, err))
		return VS_ERR;
	rhv_what(what, sizeof(what), "delete", vm);
	memset(&prep, 0, sizeof(prep));
	prep.deadline = rhv_now_ms() + in->set.delete_timeout_ms;
	prep.delay = RHV_POLL_FIRST_MS;
	url = rhv_vm_url(in->set.urls.api, vm->id,
			 in->set.force ? "?force=true" : "");
	if (!url) {
		vs_error_set(err, VS_EC_INTERNAL, 0, 0, "%s: out of memory",
			     in->tag);
		goto out;
	}
	/*
	 * A VM the listing showed down goes straight to its DELETE: the
	 * engine itself refuses to delete one that is delete_protected or
	 * running now, and either answer is handled below.  Every other VM
	 * is looked at first (rhv_prepare).
	 */
	look = !rhv_status_deletable(vm->status) || vm->platform_protection;
	prep.trust_listing = look && rhv_listing_fresh(in, vm);
	prep.why = RHV_READY_GUESS;
	for (;;) {
		if (look) {
			if (rhv_prepare(in, http, vm, &prep, wait, &outcome,
					err))
				goto out;
			if (outcome) {
				*status = (enum vs_remove_status)outcome;
				rc = VS_OK;
				goto out;
			}
		}
		if (rhv_api_do(in, http, "DELETE", url, NULL, 1, &resp, err))
			goto out;
		have_resp = 1;
		if (resp.status == 200 || resp.status == 202 ||
		    resp.status == 204) {
			if (rhv_action_failed(resp.body, resp.body_len, msg,
					      sizeof(msg))) {
				vs_error_set(err, VS_EC_SERVER,
					     (int)resp.status, 1,
					     "%s: %s failed: %s", in->tag, what,
					     msg);
				goto out;
			}
			/* It lingers image_locked until its disks are gone. */
			*status = VS_REMOVE_REQUESTED;
			break;
		}
		if (resp.status == 404) {
			*status = VS_REMOVE_ABSENT;
			break;
		}
		kind = resp.status == 409 ? rhv_fault_kind(rhv_fault_message(
						    resp.body, resp.body_len,
						    msg, sizeof(msg)))
					  : RHV_FAULT_OTHER;
		if (kind == RHV_FAULT_PROTECTED) {
			*status = VS_REMOVE_PROTECTED;
			vs_error_set(err, VS_EC_PROTECTED, 409, 0,
				     "%s: %s refused: %s", in->tag, what, msg);
			break;
		}
		if ((kind == RHV_FAULT_RUNNING || kind == RHV_FAULT_LOCKED) &&
		    prep.why != RHV_READY_SEEN) {
			/*
			 * Stopped but not down yet: look again after a
			 * wait, until it is.  Not as the listing said:
			 * look now.
			 */
			wait = prep.why == RHV_READY_STOPPED;
		} else if (kind == RHV_FAULT_RUNNING && !restarted) {
			/* Started again between our look and the delete. */
			in->host->log(VS_LOG_INFO, in->tag,
				      "%s: %s; stopping again", what, msg);
			restarted = 1;
			prep.stops = 0;
			wait = 0;
		} else {
			rhv_fail(in, &resp, what, err);
			goto out;
		}
		in->host->http_response_release(&resp);
		have_resp = 0;
		look = 1;
	}
	rc = VS_OK;
out:
	if (have_resp)
		in->host->http_response_release(&resp);
	free(url);
	return rc;
}

static int rhv_probe(void *state, struct vs_http *http, const struct vs_vm *vm,
		     enum vs_remove_status *status, struct vs_error *err)
{
	struct rhv_instance *in = state;
	struct vs_vm cur;
	int found;

	if (rhv_check_vm(in, vm, err) ||
	    rhv_get(in, http, vm, &found, &cur, err))
		return VS_ERR;
	if (!found)
		*status = VS_REMOVE_ABSENT;
	else if (cur.platform_protection)
		*status = VS_REMOVE_PROTECTED;
	else
		*status = VS_REMOVE_PRESENT;
	vs_vm_release(&cur);
	return VS_OK;
}

/* ------------------------------------------------------------------ */
/* Confirm.                                                             */

/*
 * What the engine shows of a VM whose DELETE it accepted.  cur is NULL
 * when the VM is gone.  While the disks go the engine keeps the VM
 * image_locked; a VM that is back in another status is one whose removal
 * failed (the engine unlocks it again), so it is not waited for.
 */
static enum vs_confirm_state rhv_judge(struct rhv_instance *in,
				       const struct vs_vm *vm,
				       const struct vs_vm *cur,
				       struct vs_error *e)
{
	char name[96], status[48];

	if (!cur)
		return VS_CONFIRM_GONE;
	if (!cur->status || pv_streq_ci(cur->status, "image_locked"))
		return VS_CONFIRM_PENDING;
	vs_error_set(e, VS_EC_SERVER, 0, 1,
		     "%s: delete of '%s' did not complete: the VM is back in "
		     "status %s",
		     in->tag, pv_clean_ws(name, sizeof(name), vm->name),
		     pv_clean_ws(status, sizeof(status), cur->status));
	return VS_CONFIRM_FAILED;
}

/* Ask about one VM (pv_confirm_each): one GET, then judge what it says. */
static int rhv_confirm_one(void *ctx, struct vs_http *http,
			   const struct vs_vm *vm, enum vs_confirm_state *state,
			   struct vs_error *vm_err, struct vs_error *e)
{
	struct rhv_instance *in = ctx;
	struct vs_vm cur;
	int found;

	if (rhv_check_vm(in, vm, e) || rhv_get(in, http, vm, &found, &cur, e))
		return VS_ERR;
	*state = rhv_judge(in, vm, found ? &cur : NULL, vm_err);
	vs_vm_release(&cur);
	return VS_OK;
}

struct rhv_confirm_ctx {
	const struct vs_vm *const *vms;
	size_t *order; /* indexes of vms sorted by id */
	size_t n;
	struct vs_vm *found; /* by index of vms; id NULL: not seen */
	size_t pages;	     /* pages the walk read */
	size_t skipped;	     /* entries left out as unreadable */
};

static int rhv_order_cmp(const void *a, const void *b, void *ctx)
{
	const struct vs_vm *const *vms = ctx;

	return strcmp(vms[*(const size_t *)a]->id, vms[*(const size_t *)b]->id);
}

static int rhv_confirm_page(void *ctx, struct rhv_page *page)
{
	struct rhv_confirm_ctx *c = ctx;
	size_t i;

	c->pages++;
	c->skipped += page->skipped;
	for (i = 0; i < page->n; i++) {
		const char *id = page->items[i].id;
		size_t lo = 0, hi = c->n;

		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			int cmp = strcmp(id, c->vms[c->order[mid]]->id);

			if (cmp == 0) {
				struct vs_vm *dst = &c->found[c->order[mid]];

				vs_vm_release(dst);
				*dst = page->items[i];
				memset(&page->items[i], 0,
				       sizeof(page->items[i]));
				page->items[i].created = VS_TIME_UNKNOWN;
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

static int rhv_confirm(void *state, struct vs_http *http,
		       const struct vs_vm *const *vms, size_t n,
		       enum vs_confirm_state *states, struct vs_error *errs,
		       struct vs_error *err)
{
	struct rhv_instance *in = state;
	struct rhv_confirm_ctx c;
	size_t *unseen = NULL, n_unseen = 0, i;
	int rc = VS_ERR;

	for (i = 0; i < n; i++) {
		states[i] = VS_CONFIRM_PENDING;
		vs_error_clear(&errs[i]);
	}
	if (n < RHV_CONFIRM_LIST_MIN)
		return pv_confirm_each(in, rhv_confirm_one, http, vms, NULL, n,
				       states, errs, err);
	memset(&c, 0, sizeof(c));
	c.vms = vms;
	c.n = n;
	c.order = calloc(n, sizeof(*c.order));
	c.found = calloc(n, sizeof(*c.found));
	unseen = calloc(n, sizeof(*unseen));
	if (!c.order || !c.found || !unseen) {
		vs_error_set(err, VS_EC_INTERNAL, 0, 0, "%s: out of memory",
			     in->tag);
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (rhv_check_vm(in, vms[i], err))
			goto out;
		c.order[i] = i;
		c.found[i].created = VS_TIME_UNKNOWN;
	}
	qsort_r(c.order, n, sizeof(*c.order), rhv_order_cmp, (void *)vms);
	/*
	 * The whole inventory, not the user's search: a search on status or
	 * anything else that changes during removal would hide a VM still
	 * there, and hidden must not read as gone.
	 */
	if (rhv_walk(in, http, NULL, 0, rhv_confirm_page, &c, err))
		goto out;
	/*
	 * The engine pages by offset, and VMs vanishing while we page shift
	 * later ones onto pages already read: absent from the listing does
	 * not prove gone.  Each VM not seen is asked about by id, so the
	 * listing saves requests only for the VMs still there; a VM gone
	 * costs one GET once.  Unless the whole inventory came in one short
	 * page with every entry readable: one answer, nothing shifted, so
	 * a VM not in it is gone, as a 404 would say.  That spares the
	 * usual case, all of them gone, a GET each in sequence.
	 */
	for (i = 0; i < n; i++) {
		if (c.found[i].id)
			states[i] =
				rhv_judge(in, vms[i], &c.found[i], &errs[i]);
		else if (c.pages == 1 && c.skipped == 0)
			states[i] = rhv_judge(in, vms[i], NULL, &errs[i]);
		else
			unseen[n_unseen++] = i;
	}
	rc = n_unseen ? pv_confirm_each(in, rhv_confirm_one, http, vms, unseen,
					n_unseen, states, errs, err)
		      : VS_OK;
out:
	if (c.found)
		for (i = 0; i < n; i++)
			vs_vm_release(&c.found[i]);
	free(c.found);
	free(c.order);
	free(unseen);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Open and close.                                                      */

static void rhv_close(void *state, struct vs_http *http)
{
	struct rhv_instance *in = state;

	if (!in)
		return;
	if (in->sess_ready)
		rhv_session_release(&in->sess, http);
	rhv_settings_release(&in->set);
	free(in->tag);
	free(in);
}

/* With Basic there is no login: one GET of the API root checks it. */
static int rhv_check_basic(struct rhv_instance *in, struct vs_http *http,
			   struct vs_error *err)
{
	struct vs_http_response resp;
	int rc = VS_OK;

	if (rhv_api_do(in, http, "GET", in->set.urls.api, NULL, 1, &resp, err))
		return VS_ERR;
	if (resp.status == 401 || resp.status == 403)
		rc = vs_error_set(err, VS_EC_AUTH, (int)resp.status, 0,
				  "%s: the engine refused user '%s' (HTTP %ld)",
				  in->tag, in->set.username, resp.status);
	else if (resp.status != 200)
		rc = rhv_fail(in, &resp, "reading the API root", err);
	in->host->http_response_release(&resp);
	return rc;
}

static int rhv_open(void **state, const struct vs_provider_config *cfg,
		    const struct vs_host *host, struct vs_http *http,
		    struct vs_error *err)
{
	struct rhv_instance *in;
	int rc = VS_ERR;

	*state = NULL;
	in = calloc(1, sizeof(*in));
	if (!in || !(in->tag = strdup(cfg->name ? cfg->name : "rhv"))) {
		free(in);
		return vs_error_set(err, VS_EC_INTERNAL, 0, 0,
				    "rhv: out of memory");
	}
	in->host = host;
	if (rhv_settings_from_config(cfg, &in->set, err))
		goto out;
	if (in->set.auth == RHV_AUTH_SSO) {
		if (rhv_session_init(&in->sess, host, in->tag, &in->set, err))
			goto out;
		in->sess_ready = 1;
		if (rhv_session_login(&in->sess, http, err))
			goto out;
	} else if (rhv_check_basic(in, http, err)) {
		goto out;
	}
	host->log(VS_LOG_INFO, in->tag, "authenticated as %s with %s at %s",
		  in->set.username,
		  in->set.auth == RHV_AUTH_SSO ? "an SSO token" : "HTTP Basic",
		  in->set.urls.api);
	*state = in;
	in = NULL;
	rc = VS_OK;
out:
	/* No token was issued on failure: nothing to log out. */
	rhv_close(in, NULL);
	return rc;
}

__attribute__((visibility("default")))
const struct vs_provider_ops vmsweep_provider = {
	.abi_version = VS_PROVIDER_ABI_VERSION,
	.type = "rhv",
	.description = "oVirt / Red Hat Virtualization VMs (REST API v4)",
	.caps = VS_CAP_CREATED | VS_CAP_CONFIRM,
	.keys = rhv_keys,
	.open = rhv_open,
	.list = rhv_list,
	.remove = rhv_remove,
	.probe = rhv_probe,
	.confirm = rhv_confirm,
	.close = rhv_close,
};
