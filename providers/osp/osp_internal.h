/*
 * osp_internal.h - what the files of the OpenStack provider share.
 *
 * The provider is split by responsibility:
 *   osp.c         the ops table, open/close, list, remove, probe, confirm
 *   osp_auth.c    Keystone v3 authentication and the token all workers share
 *   osp_clouds.c  settings from the provider keys, clouds.yaml and OS_*
 *   osp_parse.c   pure JSON work: auth bodies, tokens and catalogs, server
 *                 pages, fault bodies, URLs
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
 * reentrant; only osp_auth.c holds shared state (struct osp_session, with
 * its own mutex).
 */
#ifndef OSP_INTERNAL_H
#define OSP_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "common/pv_cred.h"
#include "common/pv_util.h"
#include "provider.h"

#pragma GCC visibility push(hidden)

/* The lowest Nova microversion with both "locked" (2.9) and "tags" (2.26). */
#define OSP_DEFAULT_MICROVERSION   "2.26"
#define OSP_MIN_MICROVERSION_MINOR 26
#define OSP_DEFAULT_PAGE_SIZE	   1000
#define OSP_MAX_PAGE_SIZE	   10000
/* A listing longer than this many pages is a broken or hostile server. */
#define OSP_MAX_PAGES 10000
/* Longest text taken from a response into an error message. */
#define OSP_MSG_MAX 240

/* ------------------------------------------------------------------ */
/* osp_clouds.c: the settings of one instance.                          */

enum osp_auth_method {
	OSP_AUTH_PASSWORD = 1,
	OSP_AUTH_APPCRED,
};

struct osp_settings {
	enum osp_auth_method method;
	char *auth_url;
	char *username, *user_id, *password;
	char *user_domain_name, *user_domain_id;
	char *project_name, *project_id;
	char *project_domain_name, *project_domain_id;
	char *appcred_id, *appcred_name, *appcred_secret;
	char *region;	 /* NULL: any region */
	char *interface; /* "public", "internal" or "admin" */
	char *ca_file;	 /* NULL: the system store */
	int insecure;
	long page_size;
	char *microversion;
	/* Where the credentials came from, for messages and the log. */
	char *source;
	int insecure_from_clouds; /* clouds.yaml said verify: false */
	/*
	 * The clouds.yaml and secure.yaml read that hold secrets and that
	 * group or others can read (without cfg->strict; with it that is an
	 * error): the warning for each, and the file's identity so that
	 * open warns once per file however many instances read it.
	 */
	struct osp_exposed {
		char *message;
		unsigned long long dev, ino;
	} exposed[2];
	size_t n_exposed;
};

/*
 * Where to look for clouds.yaml and how to read the environment.  The
 * provider uses the process environment, "." and "/etc/openstack"; tests
 * substitute their own.
 */
struct osp_env {
	const char *(*get)(void *ctx, const char *name);
	void *ctx;
	const char *cwd_dir; /* "." */
	const char *etc_dir; /* "/etc/openstack" */
};

/* The real environment (getenv, ".", "/etc/openstack"). */
void osp_env_default(struct osp_env *env);

/*
 * Resolve the settings of instance cfg->name from its keys, then the
 * clouds.yaml cloud (the "cloud" key, or OS_CLOUD when no credential key
 * is given), then the OS_* environment (only when no cloud is in play).
 * A clouds.yaml or secure.yaml that holds a secret anywhere (password,
 * application_credential_secret, token, ...) and whose mode has any
 * group or other read bit is "'PATH' holds secrets (password) and is
 * readable by group or others (mode 0644); chmod 600 it": an error with
 * cfg->strict, else one of out->exposed.  Fills out (release with
 * osp_settings_release) or returns VS_ERR with err filled (class config;
 * internal when out of memory).
 */
int osp_settings_resolve(const struct vs_provider_config *cfg,
			 const struct osp_env *env, struct osp_settings *out,
			 struct vs_error *err);
void osp_settings_release(struct osp_settings *s);

/*
 * The clouds.yaml / secure.yaml file found by the search order (first
 * found wins), or NULL.  secure selects secure.{yaml,yml,json} and
 * OS_CLIENT_SECURE_FILE instead.  Caller frees.
 */
char *osp_clouds_find(const struct osp_env *env, int secure);

/* ------------------------------------------------------------------ */
/* osp_parse.c                                                          */

typedef int (*osp_time_fn)(const char *s, int64_t *out);

/*
 * The Keystone tokens URL for an auth_url: trailing slashes dropped,
 * "/v3" appended unless the URL already ends in it (a "/v2.0" ending is
 * replaced).  NULL when out of memory or when auth_url is not http(s).
 */
char *osp_tokens_url(const char *auth_url);

/*
 * The JSON body of POST /v3/auth/tokens for s (password with project
 * scope, or application credential).  Caller frees with pv_free_secret:
 * it holds the password.  Returns VS_ERR with err filled (class config)
 * when s lacks what the method needs.
 */
int osp_auth_body(const char *tag, const struct osp_settings *s, char **body,
		  struct vs_error *err);

/* What a Keystone token response yields. */
struct osp_token {
	char *token;	    /* X-Subject-Token */
	int64_t expires_at; /* VS_TIME_UNKNOWN when absent or unparsable */
	char *compute_url;  /* chosen endpoint, without a trailing slash */
};
void osp_token_release(struct osp_token *t);

/*
 * Interpret a Keystone answer: status, the X-Subject-Token header value
 * (or NULL) and the body.  On 201 (or 200) pick the compute endpoint for
 * interface and region (NULL: any).  Keystone's refusals become class
 * auth (401, 403) or config (400, 404) with Keystone's own message.
 */
int osp_token_parse(const char *tag, long status, const char *subject_token,
		    const char *body, size_t len, const char *interface,
		    const char *region, osp_time_fn parse_time,
		    struct osp_token *out, struct vs_error *err);

/*
 * The first endpoint of service type type matching interface and region
 * (region or region_id; NULL region matches any) in a token body's
 * catalog.  0 with *url (caller frees), or VS_ERR (class config when
 * nothing matches, invalid_response when the body is malformed).
 */
int osp_catalog_find(const char *tag, const char *body, size_t len,
		     const char *type, const char *interface,
		     const char *region, char **url, struct vs_error *err);

/* One server as parsed, with what only confirm needs. */
struct osp_server {
	struct vs_vm vm;
	char *fault; /* fault.message of an ERROR server, or NULL */
};
void osp_server_release(struct osp_server *s);

/* One page of GET /servers/detail. */
struct osp_page {
	struct osp_server *items;
	size_t n, alloc;
	char *next;	       /* servers_links rel=next href, or NULL */
	size_t skipped;	       /* malformed entries left out */
	char skip_reason[160]; /* why the first one was left out */
};
void osp_page_release(struct osp_page *p);

/*
 * Parse a servers page into out (zeroed by the caller).  A body that is
 * not JSON, not an object or lacks a "servers" array fails with class
 * invalid_response.  An entry that cannot be read safely (not an
 * object, no usable id or name, tags or metadata of the wrong type) is
 * left out and counted in skipped; servers with status DELETED are left
 * out silently.
 */
int osp_servers_parse(const char *tag, const char *body, size_t len,
		      osp_time_fn parse_time, struct osp_page *out,
		      struct vs_error *err);

/*
 * Parse GET /servers/{id}: {"server": {...}}.  0 with out filled, or
 * VS_ERR with class invalid_response.
 */
int osp_server_parse(const char *tag, const char *body, size_t len,
		     osp_time_fn parse_time, struct osp_server *out,
		     struct vs_error *err);

/*
 * The message of a Nova fault body {"<name>": {"code", "message"}} or a
 * Keystone error {"error": {"message"}} cleaned into dst; "" when the
 * body is none of these.  Returns dst.
 */
const char *osp_fault_message(const char *body, size_t len, char *dst,
			      size_t dstsz);

/* 1 when a 409 message says the server is locked. */
int osp_fault_is_locked(const char *message);

/*
 * Decide which URL fetches the next page.  href is the servers_links
 * next href; compute the endpoint.  When href has the endpoint's scheme,
 * host and port it is used as it is; a relative href is resolved against
 * the endpoint; an href naming another origin is not followed (the token
 * would go there): its query string is applied to the endpoint's own
 * servers/detail instead.  NULL when out of memory or href is unusable.
 */
char *osp_next_url(const char *compute, const char *href);

/* 1 when a and b have the same scheme, host and port. */
int osp_same_origin(const char *a, const char *b);

/* ------------------------------------------------------------------ */
/* osp_auth.c: the session every worker shares.                         */

struct osp_session {
	const struct vs_host *host;
	const char *tag;		/* the instance name */
	const struct osp_settings *set; /* borrowed from the instance */
	char *tokens_url;
	long timeout_ms;
	/* Set by the first authentication (open), then fixed. */
	char *compute_url;
	/*
	 * The token all workers share: copy it with pv_cred_token(), and on
	 * a 401 re-authenticate once for all of them with pv_cred_refresh()
	 * (common/pv_cred.h); a token that expires within a minute is
	 * renewed before use.
	 */
	struct pv_cred cred;
};

int osp_session_init(struct osp_session *s, const struct vs_host *host,
		     const char *tag, const struct osp_settings *set,
		     long timeout_ms, struct vs_error *err);
/* Revoke the token (best effort, when http is not NULL) and free. */
void osp_session_release(struct osp_session *s, struct vs_http *http);

/* Authenticate for the first time (open). */
int osp_session_login(struct osp_session *s, struct vs_http *http,
		      struct vs_error *err);

#pragma GCC visibility pop

#endif
