/*
 * provider.h - the vmsweep provider plugin ABI.
 *
 * A provider is a shared object named vmsweep-<type>.so that exports one
 * symbol, VS_PROVIDER_SYMBOL ("vmsweep_provider"), a const struct
 * vs_provider_ops whose first field is VS_PROVIDER_ABI_VERSION.  The core
 * refuses a plugin whose version differs.  This header is self-contained:
 * a third party builds a provider against it alone, without linking
 * anything of vmsweep.  Everything a provider needs from the core (HTTP,
 * logging, cancellation) arrives through struct vs_host.  (The providers
 * shipped with vmsweep also compile in a few shared helpers, src/buf.c and
 * providers/common/; that is how we build ours, not part of this ABI.)
 *
 * Ownership: strings inside a struct vs_vm are heap strings (malloc) owned
 * by the record; vs_vm_release() frees them.  Core and provider share one
 * libc, so either side may free what the other allocated.
 *
 * Threading: open, list and close are called from one thread at a time per
 * instance.  remove, probe and confirm may be called from several worker
 * threads at once on the same instance, each with its own struct vs_http;
 * the provider protects its shared state (tokens, caches) itself.
 */
#ifndef VMSWEEP_PROVIDER_H
#define VMSWEEP_PROVIDER_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VS_PROVIDER_ABI_VERSION 2u
#define VS_PROVIDER_SYMBOL	"vmsweep_provider"

/* Return values shared by every vmsweep function that can fail. */
#define VS_OK  0
#define VS_ERR (-1)

/* A creation time that is not known. */
#define VS_TIME_UNKNOWN INT64_MIN

/*
 * Error classes.  Every failure carries exactly one.  The string names
 * (vs_err_class_name in the core) appear in reports and are stable.
 */
enum vs_err_class {
	VS_EC_NONE = 0,
	VS_EC_AUTH,	 /* 401/403, bad credentials, token refused */
	VS_EC_THROTTLED, /* 429, overLimit */
	VS_EC_CONFLICT,	 /* 409 or the platform's "wrong state" */
	VS_EC_LOCKED,	 /* VM or its disks locked for now */
	VS_EC_PROTECTED, /* the platform refuses: delete protection */
	VS_EC_NOT_FOUND, /* 404 where the caller cares */
	VS_EC_SERVER,	 /* 5xx, or an operation that ended in error */
	VS_EC_CLIENT,	 /* other 4xx: we sent something wrong */
	VS_EC_TRANSPORT, /* connection refused, reset, DNS */
	VS_EC_TIMEOUT,	 /* connect/total timeout, confirmation timeout */
	VS_EC_TLS,	 /* certificate or handshake failure */
	VS_EC_INVALID_RESPONSE, /* unparsable or unexpected body */
	VS_EC_CANCELLED,	/* stopped by a signal or deadline */
	VS_EC_CONFIG,		/* bad configuration or arguments */
	VS_EC_INTERNAL,		/* out of memory, a bug */
};

#define VS_ERROR_MSG_MAX 512

/*
 * The caller-owned error detail.  Filled where the failure happens and not
 * overwritten on the way up.  message is one line, never holds a secret.
 *
 * A provider's message starts with its instance name (cfg->name), as in
 * "osp-lab: delete of 'x' ended in ERROR: ...", including a failure of
 * host->http_do, whose message names only the method and host:port: the
 * provider adds its name in front.  The core prints a provider's message
 * as it is and never names the instance again (no prefix, no "on NAME",
 * not as the log line's tag); it adds only what the provider cannot know,
 * such as the operation, the VM and the error class.  A message the core
 * makes on a provider's behalf (one that failed without a reason) starts
 * with the instance name too.
 */
struct vs_error {
	enum vs_err_class cls;
	int http_status; /* 0 when no HTTP status applies */
	int retryable;	 /* 1 when trying again later may succeed */
	char message[VS_ERROR_MSG_MAX];
};

/* Fill err (if not NULL and not already set) and return VS_ERR. */
static inline int vs_error_vset(struct vs_error *err, enum vs_err_class cls,
				int http_status, int retryable, const char *fmt,
				va_list ap)
{
	if (!err || err->cls != VS_EC_NONE)
		return VS_ERR;
	err->cls = cls;
	err->http_status = http_status;
	err->retryable = retryable;
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	for (char *p = err->message; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	return VS_ERR;
}

static inline int vs_error_set(struct vs_error *err, enum vs_err_class cls,
			       int http_status, int retryable, const char *fmt,
			       ...) __attribute__((format(printf, 5, 6)));
static inline int vs_error_set(struct vs_error *err, enum vs_err_class cls,
			       int http_status, int retryable, const char *fmt,
			       ...)
{
	va_list ap;
	va_start(ap, fmt);
	vs_error_vset(err, cls, http_status, retryable, fmt, ap);
	va_end(ap);
	return VS_ERR;
}

static inline void vs_error_clear(struct vs_error *err)
{
	memset(err, 0, sizeof(*err));
}

/* ------------------------------------------------------------------ */
/* The VM record.                                                       */

enum vs_power {
	VS_POWER_UNKNOWN = 0,
	VS_POWER_ON,
	VS_POWER_OFF,
	VS_POWER_SUSPENDED,
};

/* Where a VM's age came from. */
enum vs_age_source {
	VS_AGE_NONE = 0,  /* unknown: age rules never select the VM */
	VS_AGE_CREATED,	  /* the platform's own creation time */
	VS_AGE_FIRST_SEEN /* vmsweep's first-seen record */
};

struct vs_kv {
	char *key;
	char *value;
};

struct vs_vm {
	char *id; /* the platform's id; opaque, may hold any byte */
	char *name;
	int64_t created; /* Unix seconds UTC, or VS_TIME_UNKNOWN */
	enum vs_age_source age_source;
	enum vs_power power;
	char *status;	   /* the platform's own status word, or NULL */
	char *task_state;  /* e.g. Nova "deleting", or NULL */
	char *description; /* description/comment text searched for markers */
	/*
	 * Set by the provider when the platform itself protects the VM
	 * (Nova locked, oVirt delete_protected, a vSphere template): a short
	 * reason such as "locked".  NULL when not protected by the platform.
	 */
	char *platform_protection;
	char **tags;
	size_t n_tags;
	struct vs_kv *metadata;
	size_t n_metadata;
};

static inline void vs_vm_release(struct vs_vm *vm)
{
	size_t i;
	if (!vm)
		return;
	free(vm->id);
	free(vm->name);
	free(vm->status);
	free(vm->task_state);
	free(vm->description);
	free(vm->platform_protection);
	for (i = 0; i < vm->n_tags; i++)
		free(vm->tags[i]);
	free(vm->tags);
	for (i = 0; i < vm->n_metadata; i++) {
		free(vm->metadata[i].key);
		free(vm->metadata[i].value);
	}
	free(vm->metadata);
	memset(vm, 0, sizeof(*vm));
	vm->created = VS_TIME_UNKNOWN;
}

/* A growable array of VM records; the list owns the records. */
struct vs_vm_list {
	struct vs_vm *items;
	size_t n, alloc;
};

/*
 * Append a zeroed record (created = VS_TIME_UNKNOWN) and return it, or
 * NULL when out of memory.  The pointer is valid until the next push.
 */
static inline struct vs_vm *vs_vm_list_push(struct vs_vm_list *l)
{
	struct vs_vm *vm;
	if (l->n == l->alloc) {
		size_t na = l->alloc ? l->alloc * 2 : 64;
		struct vs_vm *ni =
			(struct vs_vm *)realloc(l->items, na * sizeof(*ni));
		if (!ni)
			return NULL;
		l->items = ni;
		l->alloc = na;
	}
	vm = &l->items[l->n++];
	memset(vm, 0, sizeof(*vm));
	vm->created = VS_TIME_UNKNOWN;
	return vm;
}

static inline void vs_vm_list_release(struct vs_vm_list *l)
{
	size_t i;
	for (i = 0; i < l->n; i++)
		vs_vm_release(&l->items[i]);
	free(l->items);
	memset(l, 0, sizeof(*l));
}

/* ------------------------------------------------------------------ */
/* HTTP, as the core offers it.                                         */

struct vs_http; /* one per worker thread; opaque to providers */

struct vs_http_header {
	char *name;
	char *value;
};

struct vs_http_request {
	const char *method;	    /* "GET", "POST", "DELETE", ... */
	const char *url;	    /* absolute; ids already percent-encoded */
	const char *const *headers; /* "Name: value" lines, NULL-terminated */
	const char *body;	    /* may be NULL */
	size_t body_len;
	const char *basic_user; /* HTTP Basic auth when not NULL */
	const char *basic_password;
	const char *ca_file; /* trust anchors; NULL: system store */
	int insecure;	     /* 1: skip TLS verification (explicit) */
	/*
	 * 1 when the request may be sent again after it may have reached the
	 * server (GET, DELETE of a VM, ...).  0 for POSTs that are not safe to
	 * repeat; those are retried only when the connection never opened.
	 */
	int idempotent;
	long timeout_ms; /* total; 0: the client's default */
	size_t max_body; /* response cap; 0: the client's default */
};

struct vs_http_response {
	long status;
	char *body; /* NUL-terminated; owned */
	size_t body_len;
	struct vs_http_header *headers; /* owned; names as received */
	size_t n_headers;
	int attempts; /* requests sent, retries included */
};

/* ------------------------------------------------------------------ */
/* What the core hands a provider.                                      */

enum vs_log_level {
	VS_LOG_ERROR = 0,
	VS_LOG_WARN,
	VS_LOG_INFO,
	VS_LOG_DEBUG,
	VS_LOG_TRACE,
};

struct vs_host {
	unsigned int abi_version;

	/*
	 * Send one request with the worker's handle, retrying transient
	 * failures (transport errors, 429, 502, 503, 504) with backoff.
	 * Returns 0 when a response arrived, whatever its status; then resp
	 * must be released with http_response_release.  Returns VS_ERR with
	 * err filled (class transport, timeout, tls, throttled, server, or
	 * invalid_response for an oversized body) when none did or the
	 * retries ran out on a retryable status.  Safe from any thread, each
	 * with its own struct vs_http.
	 */
	int (*http_do)(struct vs_http *http, const struct vs_http_request *req,
		       struct vs_http_response *resp, struct vs_error *err);
	void (*http_response_release)(struct vs_http_response *resp);
	/* Header value by case-insensitive name, or NULL. */
	const char *(*http_header)(const struct vs_http_response *resp,
				   const char *name);

	/*
	 * Log one line through the core's logger.  tag names the provider
	 * instance.  Untrusted text is escaped and secrets are redacted by the
	 * logger, but providers still never pass credentials.
	 */
	void (*log)(enum vs_log_level level, const char *tag, const char *fmt,
		    ...) __attribute__((format(printf, 3, 4)));
	/* 1 when the logger would emit level (to skip costly formatting). */
	int (*log_enabled)(enum vs_log_level level);

	/* 1 once the run is being stopped (signal, deadline). */
	int (*cancelled)(void);
	/* Sleep up to ms milliseconds; returns early (1) when cancelled. */
	int (*sleep_ms)(long ms);

	/*
	 * Parse an RFC 3339 / ISO 8601 timestamp ("2024-05-01T04:01:32Z",
	 * fractions, offsets; no zone means UTC) into Unix seconds.
	 * Returns 0, or VS_ERR when it is not one.
	 */
	int (*parse_time)(const char *s, int64_t *out);

	/*
	 * Run fn(http, i, udata, err) for every i in [0, n) on the core's
	 * workers, each call with that worker's own struct vs_http, at most
	 * width calls at once (0: the instance's max_concurrency); http is
	 * the caller's handle (the one list() or remove() was given), which
	 * runs calls too.  For list() work that is one request per item
	 * (names of tags, per-VM properties).  Returns 0 when every call
	 * returned 0; otherwise VS_ERR with err copied from the first call
	 * that failed (by index); calls not yet started when the run is
	 * cancelled are skipped and count as cancelled.  Without workers
	 * (tests, a one-thread host) the calls run in order on http.
	 * Calls start in index order but run on several threads at once:
	 * fn guards what it shares and uses only the handle it is given.
	 * Once a call failed, calls above its index may be skipped.
	 */
	int (*fan_out)(struct vs_http *http, size_t n, unsigned int width,
		       int (*fn)(struct vs_http *http, size_t i, void *udata,
				 struct vs_error *err),
		       void *udata, struct vs_error *err);
};

/* ------------------------------------------------------------------ */
/* Configuration handed to a provider instance.                         */

enum vs_key_type {
	VS_KEY_STRING = 1,
	VS_KEY_BOOL,
	VS_KEY_INT,
	VS_KEY_DURATION, /* delivered as milliseconds in decimal */
	VS_KEY_SECRET,	 /* set in YAML only as KEY_env or KEY_file */
	VS_KEY_LIST, /* a YAML sequence of strings, delivered joined by ',' */
};

/* A provider-specific configuration key, declared as data. */
struct vs_key_spec {
	const char *key;
	enum vs_key_type type;
	const char *help;
};

struct vs_provider_config {
	const char *name; /* instance name, unique in the config */
	const char *type;
	const char *url; /* may be NULL for osp with clouds.yaml */
	const char *username;
	const char *password; /* resolved secret, or NULL */
	const char *ca_file;
	int insecure;
	unsigned int max_concurrency;
	long delete_timeout_ms;
	long request_timeout_ms;
	/*
	 * Provider-specific keys, validated against ops->keys.  Secrets are
	 * already resolved: the value of key "secret" when the YAML said
	 * "secret_env" or "secret_file".  Booleans are "true"/"false".
	 */
	const struct vs_kv *extra;
	size_t n_extra;
	const char *config_path; /* for messages */
	/*
	 * --strict: a provider's own file holding secrets (clouds.yaml,
	 * secure.yaml) readable by group or others is an error (class
	 * config), not a warning.
	 */
	int strict;
};

/* Value of a provider-specific key, or NULL when not configured. */
static inline const char *
vs_provider_config_get(const struct vs_provider_config *c, const char *key)
{
	size_t i;
	for (i = 0; i < c->n_extra; i++)
		if (strcmp(c->extra[i].key, key) == 0)
			return c->extra[i].value;
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Operations.                                                          */

/* How a remove or probe ended when it did not fail. */
enum vs_remove_status {
	VS_REMOVE_DELETED = 1, /* gone, confirmed */
	VS_REMOVE_ABSENT,      /* it was already gone (404) */
	VS_REMOVE_REQUESTED,   /* accepted; confirm() will tell */
	VS_REMOVE_PROTECTED,   /* the platform protects it; kept */
	VS_REMOVE_PRESENT,     /* probe only: exists and looks deletable */
};

/* One VM's state as seen by confirm(). */
enum vs_confirm_state {
	VS_CONFIRM_PENDING = 0, /* still there, still being deleted */
	VS_CONFIRM_GONE,	/* confirmed gone */
	VS_CONFIRM_FAILED,	/* deletion ended in error; errs[i] says why */
};

/* Capabilities. */
#define VS_CAP_CREATED (1u << 0) /* list() fills vm->created */
#define VS_CAP_CONFIRM (1u << 1) /* remove() may return REQUESTED */

struct vs_provider_ops {
	unsigned int abi_version; /* VS_PROVIDER_ABI_VERSION; must be first */
	const char *type;	  /* "osp", "rhv", "vmware" */
	const char *description;
	unsigned int caps;
	const struct vs_key_spec *keys; /* terminated by {NULL} */

	/*
	 * Create an instance and authenticate.  On success *state is the
	 * instance, freed by close().  On failure nothing is left to free.
	 */
	int (*open)(void **state, const struct vs_provider_config *cfg,
		    const struct vs_host *host, struct vs_http *http,
		    struct vs_error *err);

	/* Append the full inventory to out (paginated as needed). */
	int (*list)(void *state, struct vs_http *http, struct vs_vm_list *out,
		    struct vs_error *err);

	/*
	 * Prepare (power off when needed) and delete one VM.  On success
	 * *status is DELETED, ABSENT, REQUESTED (when VS_CAP_CONFIRM) or
	 * PROTECTED.  On failure err says why and whether retrying may help.
	 */
	int (*remove)(void *state, struct vs_http *http, const struct vs_vm *vm,
		      enum vs_remove_status *status, struct vs_error *err);

	/*
	 * Read-only check for dry runs and re-validation: *status is PRESENT,
	 * ABSENT or PROTECTED.  Sends nothing that changes state.
	 */
	int (*probe)(void *state, struct vs_http *http, const struct vs_vm *vm,
		     enum vs_remove_status *status, struct vs_error *err);

	/*
	 * Optional (NULL when remove always confirms itself).  Look once at
	 * VMs whose deletion was REQUESTED and set states[i]; for FAILED fill
	 * errs[i].  It may nudge a VM on (Nova forceDelete of SOFT_DELETED).
	 * Cheap for many VMs: one listing, not one request per VM.  Returns
	 * VS_ERR with err filled only when it could not look at all.
	 */
	int (*confirm)(void *state, struct vs_http *http,
		       const struct vs_vm *const *vms, size_t n,
		       enum vs_confirm_state *states, struct vs_error *errs,
		       struct vs_error *err);

	/* End the session (best effort) and free the instance; NULL is fine. */
	void (*close)(void *state, struct vs_http *http);
};

#endif /* VMSWEEP_PROVIDER_H */
