/*
 * rhv_internal.h - what the files of the oVirt / RHV provider share.
 *
 * The provider is split by responsibility:
 *   rhv.c        the ops table, open/close, list, remove, probe, confirm
 *   rhv_auth.c   the SSO token every worker shares, and its renewal
 *   rhv_parse.c  pure work: settings from the provider keys, URLs, form
 *                bodies, SSO answers, VM collections, tags, fault bodies
 *
 * It builds strings in the core's capped struct vs_buf (buf.h) and uses
 * the helpers our providers share (common/pv_util.h, common/pv_cred.h).
 *
 * Nothing here is exported from the shared object: the version script
 * keeps only vmsweep_provider, and the pragma below makes every name in
 * this header hidden as well, so a stray symbol cannot clash with another
 * provider loaded into the same process.
 *
 * Ownership: every char * in the structs below is a heap string owned by
 * the struct and freed by its _release function.  All functions here are
 * reentrant; only rhv_auth.c holds shared state (struct rhv_session, with
 * its own mutex).
 */
#ifndef RHV_INTERNAL_H
#define RHV_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "common/pv_cred.h"
#include "common/pv_util.h"
#include "provider.h"

#pragma GCC visibility push(hidden)

#define RHV_DEFAULT_PAGE_SIZE 500
#define RHV_MAX_PAGE_SIZE     10000
/* A listing longer than this many pages is a broken or hostile engine. */
#define RHV_MAX_PAGES 100000
/* Longest text taken from a response into an error message. */
#define RHV_MSG_MAX 240
/* Used when the configuration gives no delete timeout. */
#define RHV_DEFAULT_DELETE_TIMEOUT_MS (10L * 60 * 1000)
/* Listing age up to which a listed-running VM is stopped without a look. */
#define RHV_DEFAULT_STOP_RECHECK_MS (30L * 1000)

/* ------------------------------------------------------------------ */
/* rhv_parse.c: settings and URLs.                                      */

enum rhv_auth_mode {
	RHV_AUTH_SSO = 1,
	RHV_AUTH_BASIC,
};

/* The engine's URLs, all derived from the one the user gave. */
struct rhv_urls {
	char *base;   /* https://engine[/prefix], no trailing slash */
	char *api;    /* {base}/ovirt-engine/api */
	char *sso;    /* {base}/ovirt-engine/sso/oauth/token */
	char *logout; /* {base}/ovirt-engine/services/sso-logout */
};

/*
 * Derive the URLs from what the user wrote: "https://engine",
 * "https://engine/ovirt-engine" and "https://engine/ovirt-engine/api"
 * (also ".../api/v4"), with or without trailing slashes, give the same
 * result; a path before "/ovirt-engine" (a reverse proxy) is kept.  0,
 * or VS_ERR when url is not http(s), has no host, or carries a query,
 * a fragment, user information or a control byte (out is then empty).
 */
int rhv_urls_make(const char *url, struct rhv_urls *out);
void rhv_urls_release(struct rhv_urls *u);

struct rhv_settings {
	enum rhv_auth_mode auth;
	struct rhv_urls urls;
	char *username;
	char *password; /* wiped on release */
	char *ca_file;	/* NULL: the system store */
	int insecure;
	long page_size;
	char *search; /* the user's search expression, or NULL */
	int tags;     /* read tags (follow=tags) */
	int force;    /* DELETE ?force=true */
	long timeout_ms;
	long delete_timeout_ms;
	long stop_recheck_after_ms; /* 0: look before every stop */
};

/*
 * Build the settings of instance cfg from its common and provider keys.
 * Returns VS_ERR with err filled (class config naming the key; internal
 * when out of memory).  Release with rhv_settings_release either way.
 */
int rhv_settings_from_config(const struct vs_provider_config *cfg,
			     struct rhv_settings *out, struct vs_error *err);
void rhv_settings_release(struct rhv_settings *s);

/*
 * One listing URL: {api}/vms?max=N&search=<search >page K[&follow=tags].
 * search may be NULL.  NULL when out of memory.
 */
char *rhv_list_url(const char *api, long max, const char *search, long page,
		   int follow_tags);

/*
 * {api}/vms/{id}{suffix} with the id percent-encoded, suffix verbatim
 * ("", "/stop", "?force=true").  NULL when out of memory.
 */
char *rhv_vm_url(const char *api, const char *id, const char *suffix);

/* The SSO form bodies (caller frees with pv_free_secret); NULL: OOM. */
char *rhv_sso_body(const char *username, const char *password);
char *rhv_logout_body(const char *token);

/* ------------------------------------------------------------------ */
/* rhv_parse.c: answers.                                                */

struct rhv_token {
	char *access_token;
	int64_t expires_at; /* Unix seconds, or VS_TIME_UNKNOWN */
};
void rhv_token_release(struct rhv_token *t);

/*
 * Interpret the SSO answer.  200 with an access_token fills out.  The
 * engine's refusals ({"error_code","error"} or {"error",
 * "error_description"}, usually HTTP 400) become one line, class auth,
 * not retryable; a missing endpoint (404) is class config; 5xx server,
 * retryable; anything else invalid_response.
 */
int rhv_token_parse(const char *tag, long status, const char *body, size_t len,
		    struct rhv_token *out, struct vs_error *err);

/*
 * The message of a fault body, either shape: top-level {"reason",
 * "detail"} (GET, DELETE) or {"status":"failed","fault":{"reason",
 * "detail"}} (actions); also the SSO error shapes.  The detail wins over
 * the reason; the brackets the engine puts around it are dropped.  ""
 * when the body holds none of these.  Returns dst.
 */
const char *rhv_fault_message(const char *body, size_t len, char *dst,
			      size_t dstsz);

enum rhv_fault_kind {
	RHV_FAULT_OTHER = 0,
	RHV_FAULT_PROTECTED, /* delete protection is enabled */
	RHV_FAULT_LOCKED,    /* the VM or its disks are locked */
	RHV_FAULT_RUNNING,   /* not down: "VM is running", "not down" */
};
/* What a fault message says, by the engine's wording. */
enum rhv_fault_kind rhv_fault_kind(const char *message);

/*
 * An action answer ({"status": "complete" | "pending" | "failed", ...}).
 * Returns 1 when it says failed (msg filled with the fault's message), 0
 * otherwise (also for an empty or unreadable body: the HTTP status
 * already said it worked).
 */
int rhv_action_failed(const char *body, size_t len, char *msg, size_t msgsz);

/* The engine's VM status words. */
enum vs_power rhv_power(const char *status);
/* A status the VM leaves on its own (image_locked, migrating, ...). */
int rhv_status_transient(const char *status);
/* The statuses the engine deletes in: down and unassigned. */
int rhv_status_deletable(const char *status);

/* One page of GET /vms. */
struct rhv_page {
	struct vs_vm *items;
	unsigned char *no_tags; /* per item: tags asked for, not inlined */
	size_t n, alloc;
	size_t skipped;	       /* malformed entries left out */
	size_t entries;	       /* entries in the page, skipped included */
	char skip_reason[160]; /* why the first one was left out */
};
void rhv_page_release(struct rhv_page *p);

/*
 * Parse a VM collection ({"vm": [...]}, or {} for none) into out (zeroed
 * by the caller).  want_tags: read inlined tags ("tags": {"tag": [...]})
 * and flag entries that have none inlined.  A body that is not a JSON
 * object, or whose "vm" is not an array, fails with class
 * invalid_response.  An entry that cannot be read safely (not an object,
 * no usable id or name, tags of the wrong shape) is left out and
 * counted in skipped.
 */
int rhv_vms_parse(const char *tag, const char *body, size_t len, int want_tags,
		  struct rhv_page *out, struct vs_error *err);

/*
 * Parse GET /vms/{id}: one VM object.  0 with out filled (release with
 * vs_vm_release), or VS_ERR with class invalid_response.
 */
int rhv_vm_parse(const char *tag, const char *body, size_t len,
		 struct vs_vm *out, struct vs_error *err);

/*
 * Parse GET /vms/{id}/tags ({"tag": [...]} or {}) and append the tag
 * names to vm.  VS_ERR (class invalid_response) for another shape.
 */
int rhv_tags_parse(const char *tag, const char *body, size_t len,
		   struct vs_vm *vm, struct vs_error *err);

/*
 * An epoch-millisecond value as the engine sends it (a number, or a
 * numeric string) in Unix seconds; VS_TIME_UNKNOWN when it is missing,
 * not a number, not positive or past the year 9999.
 */
int64_t rhv_ms_to_time(const char *s);

/* ------------------------------------------------------------------ */
/* rhv_auth.c: the session every worker shares.                         */

struct rhv_session {
	const struct vs_host *host;
	const char *tag;		/* the instance name */
	const struct rhv_settings *set; /* borrowed from the instance */
	/*
	 * The SSO token all workers share: copy it with pv_cred_token(),
	 * and on a 401 obtain a new one once for all of them with
	 * pv_cred_refresh() (common/pv_cred.h); a token that expires within
	 * a minute is renewed before use.
	 */
	struct pv_cred cred;
};

int rhv_session_init(struct rhv_session *s, const struct vs_host *host,
		     const char *tag, const struct rhv_settings *set,
		     struct vs_error *err);
/* Revoke the token (best effort, when http is not NULL) and free. */
void rhv_session_release(struct rhv_session *s, struct vs_http *http);

/* Obtain the first token (open). */
int rhv_session_login(struct rhv_session *s, struct vs_http *http,
		      struct vs_error *err);

#pragma GCC visibility pop

#endif
