/*
 * vmw_internal.h - what the files of the vSphere provider share.
 *
 * The provider is split by responsibility:
 *   vmw.c          the ops table, open/close, the request helper, error
 *                  mapping, remove and probe
 *   vmw_session.c  the vAPI session every worker shares (login in either
 *                  API generation, one shared re-login per expiry, logout)
 *   vmw_list.c     listing: the 4000-result cap and its partitioning,
 *                  CIS tags, VI/JSON creation dates
 *   vmw_parse.c    pure JSON work: tokens, error envelopes, VM summaries,
 *                  power, folders and hosts, tag associations, VI/JSON
 *   vmw_util.c     an id set over a listing
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
 * the struct and freed by its _release function.  The parsers and helpers
 * are reentrant; the only state shared between threads is struct
 * vmw_session (its own mutex).  The tag caches of struct vmw_instance are
 * touched by list()'s own thread alone; its VI/JSON mode and token also
 * by the calls list() fans out, under the lister's lock (vmw_list.c).
 */
#ifndef VMW_INTERNAL_H
#define VMW_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "common/pv_cred.h"
#include "common/pv_util.h"
#include "provider.h"

#pragma GCC visibility push(hidden)

#define VMW_SESSION_HEADER "vmware-api-session-id"
/* Longest text taken from a response into an error message. */
#define VMW_MSG_MAX	       240
#define VMW_DEFAULT_TAG_BATCH  500
#define VMW_MAX_TAG_BATCH      2000
#define VMW_DEFAULT_VI_RELEASE "8.0.1.0"
/* Re-logins one request may cause (each for a newer expired session). */
#define VMW_MAX_LOGINS_PER_CALL 2
/* A listing needing more calls than this is a broken or hostile server. */
#define VMW_MAX_PART_REQUESTS 100000

/* ------------------------------------------------------------------ */
/* vmw_util.c                                                           */

/*
 * A set of VM ids naming entries of a struct vs_vm_list by index, so
 * that it survives the list's reallocation.  It does not own the ids.
 */
struct vmw_idset {
	size_t *slots; /* index + 1; 0 is empty */
	size_t n, cap;
};
void vmw_idset_release(struct vmw_idset *s);
/* The index of id in l, or (size_t)-1. */
size_t vmw_idset_find(const struct vmw_idset *s, const struct vs_vm_list *l,
		      const char *id);
/* Remember that l->items[idx] holds its id; 0, or VS_ERR out of memory. */
int vmw_idset_add(struct vmw_idset *s, const struct vs_vm_list *l, size_t idx);

/* ------------------------------------------------------------------ */
/* vmw_parse.c                                                          */

typedef int (*vmw_time_fn)(const char *s, int64_t *out);

/* A vAPI error body, either envelope. */
struct vmw_fault {
	/* "NOT_FOUND", upper case; "" when the body is no vAPI error. */
	char type[64];
	char id[128];		   /* the first message's id, or "" */
	char message[VMW_MSG_MAX]; /* its default_message, cleaned, or "" */
};

/*
 * Read a vAPI error: /api's {"error_type", "messages"} or /rest's
 * {"type": "com.vmware.vapi.std.errors.<snake>", "value": {...}} (the
 * type from value.error_type, else from the snake name).  Anything else
 * gives an empty fault.  Never fails.
 */
void vmw_fault_parse(const char *body, size_t len, struct vmw_fault *f);
/* 1 when f is of this type (upper case, e.g. "NOT_FOUND"). */
int vmw_fault_is(const struct vmw_fault *f, const char *type);
/* The error class and retryability of a failed call. */
void vmw_fault_class(long status, const struct vmw_fault *f,
		     enum vs_err_class *cls, int *retryable);
/*
 * 1 when the list call hit the result cap: UNABLE_TO_ALLOCATE_RESOURCE
 * (500 on /api, 400 on /rest) or the too_many_matches message id.
 */
int vmw_fault_too_many(long status, const struct vmw_fault *f);

/*
 * The session token of a login answer: a bare JSON string (/api) or
 * {"value": "..."} (/rest).  It must be printable ASCII without spaces,
 * since it goes into a header.  0 with *token (caller frees with
 * pv_free_secret), or VS_ERR with class invalid_response.
 */
int vmw_token_parse(const char *tag, const char *body, size_t len, char **token,
		    struct vs_error *err);

/* A VM summary as the list call gives it. */
struct vmw_summary {
	struct vs_vm vm;    /* id, name, power, status (the power_state word) */
	int64_t cpu_count;  /* -1 when absent */
	int64_t memory_mib; /* -1 when absent */
};

struct vmw_summaries {
	struct vmw_summary *items;
	size_t n, alloc;
	size_t skipped;	       /* malformed entries left out */
	char skip_reason[160]; /* why the first one was left out */
};
void vmw_summaries_release(struct vmw_summaries *s);

/*
 * Parse a list answer: an array of summaries (/api) or {"value": [...]}
 * (/rest).  A body that is neither fails with class invalid_response.
 * An entry without a usable "vm" or "name" is left out and counted (it
 * is then never deleted); an unknown power_state reads as unknown;
 * cpu_count and memory_size_MiB (any letter case) are optional.
 */
int vmw_vm_list_parse(const char *tag, const char *body, size_t len,
		      struct vmw_summaries *out, struct vs_error *err);

/*
 * The power state of GET .../power: {"state": ...} or {"value":
 * {"state": ...}}.  0 with *power, or VS_ERR (invalid_response).
 */
int vmw_power_parse(const char *tag, const char *body, size_t len,
		    enum vs_power *power, struct vs_error *err);
/* POWERED_ON / POWERED_OFF / SUSPENDED, else unknown. */
enum vs_power vmw_power_of(const char *s);

/*
 * The ids (field, e.g. "folder" or "host") of a folder or host list,
 * bare or wrapped in "value".  Entries without the field are skipped.
 * 0 with *ids (caller frees each and the array), or VS_ERR.
 */
int vmw_ids_parse(const char *tag, const char *body, size_t len,
		  const char *field, char ***ids, size_t *n,
		  struct vs_error *err);
void vmw_ids_free(char **ids, size_t n);

/*
 * The body of list-attached-tags-on-objects for VMs ids[0..n-1]:
 * {"object_ids":[{"type":"VirtualMachine","id":...},...]}; the same for
 * both generations.  Caller frees; NULL when out of memory.
 */
char *vmw_tag_request_body(const char *const *ids, size_t n);

/* One object's attached tags. */
struct vmw_attached {
	char *object_id;
	char **tag_ids;
	size_t n_tags;
};
void vmw_attached_free(struct vmw_attached *a, size_t n);
/*
 * Parse the answer [{"object_id":{"type","id"},"tag_ids":[...]}] (or
 * wrapped in "value").  Entries that are not VirtualMachine objects are
 * skipped; a non-string tag id fails the whole answer, since a marker may
 * hide behind it.  0 with *out, or VS_ERR (invalid_response).
 */
int vmw_attached_parse(const char *tag, const char *body, size_t len,
		       struct vmw_attached **out, size_t *n,
		       struct vs_error *err);

/*
 * GET of a tag or category: {"name", "category_id"?...}, bare or wrapped.
 * 0 with *name and (when category_id is not NULL) *category_id (NULL when
 * absent); caller frees.  VS_ERR (invalid_response) without a name.
 */
int vmw_named_parse(const char *tag, const char *body, size_t len, char **name,
		    char **category_id, struct vs_error *err);

/* {"userName":..., "password":...}; caller frees with pv_free_secret. */
char *vmw_vi_login_body(const char *user, const char *password);

/*
 * VI/JSON VirtualMachineConfigInfo: *created from "createDate"
 * (VS_TIME_UNKNOWN when absent, null or unparsable) and *is_template from
 * "template".  A null body (the property is unset) gives unknown.  VS_ERR
 * (invalid_response) for a body that is neither an object nor null.
 */
int vmw_vi_config_parse(const char *tag, const char *body, size_t len,
			vmw_time_fn parse_time, int64_t *created,
			int *is_template, struct vs_error *err);

/* ------------------------------------------------------------------ */
/* vmw_session.c: the vAPI session every worker shares.                 */

struct vmw_session {
	const struct vs_host *host;
	const char *tag;
	const char *base; /* the vCenter URL, no trailing slash */
	const char *user;
	const char *password;
	const char *ca_file;
	int insecure;
	long timeout_ms;
	/*
	 * 1 when the vCenter speaks only /rest; decided by the first login
	 * (open) and fixed after.  Read with vmw_session_legacy().
	 */
	int legacy;
	/*
	 * The session token all workers share: copy it with
	 * pv_cred_token(), and on a 401 log in again once for all of them
	 * with pv_cred_refresh() (common/pv_cred.h).
	 */
	struct pv_cred cred;
};

int vmw_session_init(struct vmw_session *s, const struct vs_host *host,
		     const char *tag, const char *base, const char *user,
		     const char *password, const char *ca_file, int insecure,
		     long timeout_ms, struct vs_error *err);
/* End the session (best effort, when http is not NULL) and free. */
void vmw_session_release(struct vmw_session *s, struct vs_http *http);
/* The first login: POST /api/session, or the legacy path on 404. */
int vmw_session_login(struct vmw_session *s, struct vs_http *http,
		      struct vs_error *err);
/* Whether the session is on the legacy /rest API (safe from any thread). */
int vmw_session_legacy(struct vmw_session *s);

/* ------------------------------------------------------------------ */
/* The instance (vmw.c), with what vmw_list.c needs.                    */

enum vmw_vi_mode {
	VMW_VI_OFF = 0, /* vi_json: off, or found missing */
	VMW_VI_UNKNOWN, /* not tried yet */
	VMW_VI_SHARED,	/* the vAPI session works on VI/JSON */
	VMW_VI_OWN,	/* a VI/JSON login of its own */
};

struct vmw_instance {
	const struct vs_host *host;
	char *tag;
	char *base;
	char *user, *password;
	char *ca_file;
	int insecure;
	long timeout_ms;
	struct vmw_session sess;
	int sess_ready;

	/* Scope filters (ids), comma-separated as configured, or NULL. */
	char **datacenters, **clusters, **folders;
	size_t n_datacenters, n_clusters, n_folders;
	long tag_batch;

	/* VI/JSON; used by list() and the calls it fans out (vmw_list.c). */
	int vi_required; /* vi_json: on */
	enum vmw_vi_mode vi_mode;
	char *vi_release;
	char *vi_token; /* VMW_VI_OWN */

	/* Tag and category names by id, kept for the instance's life. */
	struct pv_strmap tag_names, tag_category, category_names;
};

/*
 * One vAPI request with the shared session.  A 401 logs in again once
 * per expired session (shared by all workers) and sends the request
 * again, at most VMW_MAX_LOGINS_PER_CALL times.  path starts with
 * '/' and is appended to the base URL.  0 with resp filled whatever the
 * status, or VS_ERR with err naming the instance and what.
 */
int vmw_do(struct vmw_instance *in, struct vs_http *http, const char *method,
	   const char *path, const char *body, const char *what,
	   struct vs_http_response *resp, struct vs_error *err);
/*
 * Like vmw_do with an explicit token (or the shared one when NULL) and
 * no re-login: for VI/JSON.
 */
int vmw_do_token(struct vmw_instance *in, struct vs_http *http,
		 const char *method, const char *path, const char *body,
		 const char *token, const char *what,
		 struct vs_http_response *resp, struct vs_error *err);
/* Map an answer we did not expect to err; returns VS_ERR. */
int vmw_fail(struct vmw_instance *in, const struct vs_http_response *resp,
	     const char *what, struct vs_error *err);

/* vmw_list.c: the ops->list of the provider. */
int vmw_list(void *state, struct vs_http *http, struct vs_vm_list *out,
	     struct vs_error *err);
/* Log out of VI/JSON when it has a session of its own (close). */
void vmw_vi_logout(struct vmw_instance *in, struct vs_http *http);

#pragma GCC visibility pop

#endif
