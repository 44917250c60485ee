/*
 * sim.h - the shared core of vmsweep-sim, the provider simulator.
 *
 * DESIGN
 *
 * One libmicrohttpd daemon (sim_main.c) serves every platform on one
 * port.  The core owns the listening socket, the request dispatcher,
 * fault injection, latency, sessions, statistics, the inventory model,
 * the inventory generator and loader, and the /_sim/... endpoints.  Each
 * platform (sim_vmware.c, sim_rhv.c, sim_osp.c) owns only its routes and
 * how it renders the inventory on the wire.  A platform file exports one
 * function, sim_<platform>_register(), that sim_main.c calls once at
 * start-up; it hands the core a const struct sim_platform_ops with the
 * path prefixes it owns, a route table and an error renderer.
 *
 * A request to a platform prefix goes through these steps:
 *
 *   1. the dispatcher reads the whole body (at most SIM_BODY_MAX bytes;
 *      more gets ops->error(413));
 *   2. it matches the route table (route name known from here on, for
 *      the statistics); no route gives ops->error(404), a path with
 *      routes but not for this method gives ops->error(405);
 *   3. it rolls the request faults configured for the platform (--fault
 *      PROVIDER:500|502|503|429|drop|hang); a hit skips the handler:
 *      a status is rendered by ops->error() (429 with a Retry-After
 *      header already set on the response), drop closes the connection,
 *      hang suspends it until shutdown;
 *   4. it calls the route's handler, which fills struct sim_resp;
 *   5. it delays the response by --latency without holding a thread
 *      (the connection is suspended and a timer thread resumes it).
 *
 * The /_sim/ endpoints never see faults or latency.  The core renders
 * /_sim/state from struct sim_vm for all platforms ("power_state" is
 * vm->state, "protected" is locked, is_template or a keep marker), so a
 * platform needs no code for it.  The inventory generator and the
 * inventory file loader are shared too (sim_gen.c, sim_inv.c) and fill
 * every platform-specific field below; a platform derives anything else
 * it needs (vSphere tag ids, say) from those fields, deterministically,
 * rather than keeping state of its own.
 *
 * THREADS
 *
 * Handlers run on the daemon's pool threads, several at once.  Each
 * platform's inventory has its own mutex (struct sim_inv.lock): take it
 * around any read or write of its VMs and never hold two inventory locks
 * at once.  Functions named *_nolock expect that lock held.  The session,
 * fault and random helpers lock internally and are safe from any thread.
 * struct sim_opts is read-only once the daemon runs.
 *
 * OWNERSHIP
 *
 * Everything a struct sim_req points at belongs to the dispatcher and
 * lives until the handler returns.  Strings and JSON put into a struct
 * sim_resp through the helpers below are copied or stolen; the
 * dispatcher frees them.  VMs belong to their inventory; a handler may
 * keep a struct sim_vm pointer only while it holds the inventory lock,
 * because POST /_sim/reset?inventory=1 rebuilds the inventories.
 */
#ifndef SIM_H
#define SIM_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------ */
/* Platforms and limits. */

enum sim_platform { SIM_VMWARE, SIM_RHV, SIM_OSP, SIM_NPLATFORMS };

struct sim;

/* "vmware", "rhv", "osp"; the names --fault, --generate and the
 * inventory file use. */
const char *sim_platform_name(enum sim_platform p);

#define SIM_BODY_MAX  ((size_t)1024 * 1024) /* request body cap */
#define SIM_ID_MAX    48 /* "vm-1021", a UUID, ... plus NUL */
#define SIM_STATE_MAX 24 /* "POWERED_ON", "image_locked", ... plus NUL */
#define SIM_TOKEN_MAX 65 /* session token, hex, plus NUL */

/* The markers vmsweep's default configuration protects with. */
#define SIM_MARK_KEEP	 "vmsweep:keep"
#define SIM_MARK_EXPIRES "vmsweep:expires"

/* ------------------------------------------------------------------ */
/* The inventory model. */

struct sim_kv {
	char *key;
	char *value;
};

/* Where a VM is in its deletion; see sim_vm_delete_nolock(). */
enum sim_del {
	SIM_DEL_NONE,	 /* not being deleted (or a failed delete ended) */
	SIM_DEL_PENDING, /* accepted; visible for del_polls more looks */
	SIM_DEL_STUCK,	 /* accepted; stays visible as deleting forever */
	SIM_DEL_FAILING, /* accepted; after del_polls looks it fails */
	SIM_DEL_FAILED	 /* failed: back in the inventory, fault_msg set */
};

/*
 * One VM.  A single struct serves all platforms; the comment on each
 * field says which platform renders it and in what vocabulary.  Strings
 * are heap-owned by the VM (NULL where absent).  Guarded by the owning
 * inventory's lock.
 */
struct sim_vm {
	char id[SIM_ID_MAX]; /* vmware "vm-1021"; rhv and osp a UUID */
	char *name;	     /* never NULL; duplicates are allowed */
	int64_t created;     /* Unix seconds; 0 when unknown */
	int64_t updated;     /* Unix seconds; last change (osp "updated") */
	/*
	 * The power state or status in the platform's own words:
	 *   vmware  POWERED_ON | POWERED_OFF | SUSPENDED
	 *   rhv     up | down | suspended | paused | powering_down |
	 *           image_locked | ... (lower case, as the engine sends)
	 *   osp     ACTIVE | SHUTOFF | PAUSED | SUSPENDED | ERROR |
	 *           SOFT_DELETED | BUILD | ...
	 */
	char state[SIM_STATE_MAX];
	/*
	 * A transition in progress (rhv stop -> powering_down -> down):
	 * after trans_polls more looks (sim_vm_observe_nolock) state
	 * becomes trans_to.  0 means none.
	 */
	int trans_polls;
	char trans_to[SIM_STATE_MAX];
	/*
	 * The platform's own protection: rhv delete_protected, osp locked.
	 * vmware has none; it uses is_template and tags.
	 */
	bool locked;
	bool is_template;	 /* vmware: a template (not in the vm list) */
	bool config_unavailable; /* vmware: omit cpu_count, memory_size_MiB */
	int cpu_count;		 /* vmware, rhv */
	int64_t memory_mib;	 /* vmware, rhv (rhv sends bytes) */
	char *folder;		 /* vmware folder id ("group-v1001") */
	char *cluster;		 /* vmware/rhv cluster name, informational */
	char *description;	 /* rhv description, osp description (2.19) */
	char *comment;		 /* rhv comment */
	/* Tags: vmware CIS tag names, rhv tag names, osp server tags. */
	char **tags;
	size_t ntags;
	/* Metadata: osp server metadata.  Unused by the others. */
	struct sim_kv *meta;
	size_t nmeta;

	/* Deletion, driven by sim_vm_delete_nolock/sim_vm_observe_nolock. */
	enum sim_del del;
	int del_polls;	  /* looks left before gone (or failed) */
	int64_t del_time; /* Unix seconds the delete was accepted */
	char *fault_msg;  /* why the delete failed (SIM_DEL_FAILED) */
	int64_t fault_time;
	bool gone; /* deleted: invisible, kept only for markers */

	size_t pos; /* index in inv->vms; owned by the inventory */
};

/*
 * A platform's inventory: its VMs in listing order (newest first, the
 * order Nova lists in) plus an id index.  Deleted VMs stay in the array
 * with gone set (so an OpenStack marker naming a deleted server still
 * pages, as Nova reads markers with read_deleted) and are skipped by
 * every reader.
 */
struct sim_inv {
	pthread_mutex_t lock;
	struct sim_vm **vms; /* listing order, gone ones included */
	size_t n;	     /* entries in vms */
	size_t live;	     /* entries not gone */
	/* The id index (open addressing); private to sim_inv.c. */
	struct sim_vm **slots;
	size_t nslots;
};

/* The live VM with this id, or NULL (gone VMs are not found). */
struct sim_vm *sim_inv_find_nolock(struct sim_inv *inv, const char *id);
/* Like sim_inv_find_nolock() but also finds gone VMs. */
struct sim_vm *sim_inv_find_any_nolock(struct sim_inv *inv, const char *id);

/*
 * Start deleting vm now, with the outcome --fault PROVIDER:delete-error
 * or delete-stuck pick for this platform: SIM_DEL_PENDING (gone after
 * --delete-polls more looks; at once when that is 0), SIM_DEL_FAILING
 * (after that many looks it becomes SIM_DEL_FAILED: visible again with
 * fault_msg; osp shows it as status ERROR) or SIM_DEL_STUCK.  Pass
 * polls < 0 for the --delete-polls default.  A platform whose delete is
 * synchronous (vSphere) passes 0 and checks vm->gone afterwards.
 * Returns the state chosen.
 */
enum sim_del sim_vm_delete_nolock(struct sim *sim, enum sim_platform p,
				  struct sim_vm *vm, int polls);

/* Remove vm from the inventory at once (it becomes gone). */
void sim_vm_remove_nolock(struct sim_inv *inv, struct sim_vm *vm);

/*
 * One look at vm by a client (a GET of it, or a listing that includes
 * it): advances its delete countdown and its state transition.  Returns
 * false when the VM is (now) gone and must not be shown.  The
 * /_sim/state endpoint does not count as a look.
 */
bool sim_vm_observe_nolock(struct sim *sim, struct sim_inv *inv,
			   struct sim_vm *vm);

/* Whether a marker protects vm: a tag or metadata key "vmsweep:keep",
 * or the marker in its description or comment. */
bool sim_vm_marked_keep(const struct sim_vm *vm);
/*
 * The expiry vm carries, Unix seconds, or 0: a tag
 * "vmsweep:expires=<RFC 3339>", a metadata key "vmsweep:expires", or
 * "vmsweep:expires=<RFC 3339>" in the description or comment.
 */
int64_t sim_vm_expires(const struct sim_vm *vm);
/* Whether vm has exactly this tag. */
bool sim_vm_has_tag(const struct sim_vm *vm, const char *tag);
/* The metadata value for key, or NULL. */
const char *sim_vm_meta(const struct sim_vm *vm, const char *key);

/* ------------------------------------------------------------------ */
/* Random numbers: one seeded generator type for everything. */

struct sim_rng {
	uint64_t s[4]; /* xoshiro256** state */
};

void sim_rng_seed(struct sim_rng *r, uint64_t seed);
uint64_t sim_rng_next(struct sim_rng *r);
/* Uniform in [0, n); n == 0 gives 0. */
uint64_t sim_rng_below(struct sim_rng *r, uint64_t n);
/* Uniform in [0, 1). */
double sim_rng_unit(struct sim_rng *r);
/* A random (version 4 shaped) UUID, lower case, into out[37]. */
void sim_rng_uuid(struct sim_rng *r, char out[37]);
/* n random lower-case hex digits and a NUL into out[n + 1]. */
void sim_rng_hex(struct sim_rng *r, char *out, size_t n);

/* ------------------------------------------------------------------ */
/* Options and the simulator. */

enum sim_fault_kind {
	SIM_FAULT_500,
	SIM_FAULT_502,
	SIM_FAULT_503,
	SIM_FAULT_429,
	SIM_FAULT_DROP,
	SIM_FAULT_HANG,
	SIM_FAULT_DELETE_ERROR,
	SIM_FAULT_DELETE_STUCK,
	SIM_FAULT_PROTECT_LATE, /* rhv: protected right after a listing */
	SIM_FAULT_NKINDS
};

/* Parsed command line; read-only once the daemon runs (except the
 * fault rates, which POST /_sim/fault may change under fault_lock). */
struct sim_opts {
	char listen_addr[64]; /* "127.0.0.1" */
	unsigned listen_port; /* 0 = pick one */
	const char *port_file;
	const char *tls_cert, *tls_key;
	const char *inventory_file;
	size_t generate[SIM_NPLATFORMS];
	uint64_t seed;
	const char *user;     /* default "admin" */
	const char *password; /* default "secret" */
	unsigned latency_ms, jitter_ms;
	double fault[SIM_NPLATFORMS][SIM_FAULT_NKINDS]; /* rate 0..1 */
	unsigned session_ttl; /* requests per token; 0 = unlimited */
	int delete_polls;     /* default 2 */
	bool vsphere_legacy;  /* serve only the 6.5-6.7 /rest API */
	unsigned vsphere_cap; /* vm list cap, default 4000 */
	const char *request_log;
};

struct sim_platform_ops;
struct sim_core; /* private to sim_main.c */

struct sim {
	struct sim_opts opts;
	struct sim_inv inv[SIM_NPLATFORMS];
	const struct sim_platform_ops *ops[SIM_NPLATFORMS];
	bool tls;	       /* the daemon speaks HTTPS */
	int64_t started;       /* Unix seconds */
	struct sim_core *core; /* dispatcher, stats, sessions, timer */
};

/*
 * Whether user and password are the configured credentials.  The user
 * matches --user exactly or with any "@domain" suffix ("admin",
 * "admin@internal", "admin@vsphere.local" all match --user admin).
 */
bool sim_check_user(const struct sim *sim, const char *user,
		    const char *password);
/*
 * Check an "Authorization: Basic ..." header value against the
 * credentials; on success copies the user name into user (may be NULL).
 */
bool sim_check_basic(const struct sim *sim, const char *authorization,
		     char *user, size_t usersz);

/* A random value from the simulator's shared generator (locked). */
uint64_t sim_random(struct sim *sim);

/* ------------------------------------------------------------------ */
/* Sessions (tokens) with the --session-ttl request budget. */

#define SIM_SESSION_OK	    0
#define SIM_SESSION_UNKNOWN (-1) /* never issued, or ended */
#define SIM_SESSION_EXPIRED (-2) /* used up its --session-ttl requests */

struct sim_session_info {
	char user[64];
	int64_t created;       /* Unix seconds */
	int64_t last;	       /* Unix seconds of the previous use */
	unsigned uses;	       /* uses so far, this one included */
	char project[64];      /* osp: the scoped project id, or "" */
	char project_name[64]; /* osp: the scoped project name, or "" */
};

/*
 * Issue a token for user on platform p into tok (SIM_TOKEN_MAX bytes,
 * 32 hex digits).  project may be NULL.
 */
void sim_session_new(struct sim *sim, enum sim_platform p, const char *user,
		     const char *project, char *tok);
/* Like sim_session_new() with a project id and name (either NULL). */
void sim_session_new_scoped(struct sim *sim, enum sim_platform p,
			    const char *user, const char *project_id,
			    const char *project_name, char *tok);
/*
 * Count one request made with tok and check it: SIM_SESSION_OK, or
 * SIM_SESSION_UNKNOWN / SIM_SESSION_EXPIRED (a token expires once it
 * was used for --session-ttl requests; the failing request does not
 * count).  info (may be NULL) receives the session.
 */
int sim_session_use(struct sim *sim, enum sim_platform p, const char *tok,
		    struct sim_session_info *info);
/* Like sim_session_use() but without counting a use. */
int sim_session_peek(struct sim *sim, enum sim_platform p, const char *tok,
		     struct sim_session_info *info);
/* Forget tok (logout).  Returns 0, or SIM_SESSION_UNKNOWN. */
int sim_session_end(struct sim *sim, enum sim_platform p, const char *tok);

/* ------------------------------------------------------------------ */
/* Requests and responses. */

struct sim_param {
	const char *key;
	const char *value;
};

#define SIM_MAX_PARAMS 8

struct sim_req {
	struct sim *sim;
	enum sim_platform platform;
	const char *method; /* "GET", "POST", ... */
	const char *path;   /* percent-decoded path without the query */
	/* Query parameters in order, percent-decoded; keys may repeat
	 * (names=a&names=b).  A key without '=' has value "". */
	const struct sim_param *query;
	size_t nquery;
	const struct sim_param *headers; /* names as sent */
	size_t nheaders;
	const char *body; /* NUL-terminated; "" when none */
	size_t body_len;
	const char *scheme; /* "http" or "https" */
	const char *host;   /* Host header, or "127.0.0.1:PORT" */
	/* Filled by the route matcher. */
	const char *route;			 /* "osp GET /servers/detail" */
	struct sim_param params[SIM_MAX_PARAMS]; /* {name} captures */
	size_t nparams;
};

/* The first query value for key, or NULL. */
const char *sim_req_query(const struct sim_req *req, const char *key);
/* All values for key into out[max]; returns how many there are. */
size_t sim_req_query_all(const struct sim_req *req, const char *key,
			 const char **out, size_t max);
/* A request header (case-insensitive name), or NULL. */
const char *sim_req_header(const struct sim_req *req, const char *name);
/* A path capture ("{vm}" in the route pattern -> "vm"), or NULL. */
const char *sim_req_param(const struct sim_req *req, const char *name);
/* The body parsed as JSON (new reference; caller decrefs), or NULL. */
json_t *sim_req_json(const struct sim_req *req);
/* "scheme://host" for links that point back at the simulator, into
 * out; returns out. */
const char *sim_req_base_url(const struct sim_req *req, char *out,
			     size_t outsz);

enum sim_action {
	SIM_SEND, /* send status, headers and body */
	SIM_DROP, /* close the connection without a response */
	SIM_HANG  /* never answer (until shutdown) */
};

#define SIM_MAX_RESP_HEADERS 16

struct sim_resp {
	enum sim_action action;
	int status;					/* default 200 */
	struct sim_param headers[SIM_MAX_RESP_HEADERS]; /* owned copies */
	size_t nheaders;
	char *body; /* owned; NULL means empty */
	size_t body_len;
};

/* Add a response header (both strings copied).  Over the limit it is
 * dropped with a message on stderr. */
void sim_resp_header(struct sim_resp *resp, const char *name,
		     const char *value);
/*
 * Set status and a JSON body (compact), Content-Type
 * application/json.  body is stolen (decref'd); NULL sends no body.
 */
void sim_resp_json(struct sim_resp *resp, int status, json_t *body);
/* Set status and a body of the given Content-Type (copied). */
void sim_resp_body(struct sim_resp *resp, int status, const char *ctype,
		   const char *body, size_t len);
/* Set status with no body (204, 404 with empty body, ...). */
void sim_resp_empty(struct sim_resp *resp, int status);

/* ------------------------------------------------------------------ */
/* Platforms register routes. */

typedef void (*sim_route_fn)(struct sim_req *req, struct sim_resp *resp);

/*
 * One route.  pattern is a path whose segments are literal or "{name}"
 * (one non-empty segment, captured; read it with sim_req_param()).  A
 * trailing "/" in the request path is ignored.  Routes are tried in
 * table order; the first match wins.
 */
struct sim_route {
	const char *method;  /* "GET", "POST", "DELETE", ...; NULL = any */
	const char *pattern; /* "/api/vcenter/vm/{vm}" */
	/* Route name in the statistics, without the platform ("GET
	 * /servers/detail"); NULL means "METHOD pattern". */
	const char *name;
	sim_route_fn fn;
};

struct sim_platform_ops {
	enum sim_platform platform;
	/* Path prefixes the platform owns ("/api/", "/rest/"), NULL
	 * terminated.  A request whose path starts with one (or equals it
	 * without the trailing "/") goes to this platform. */
	const char *const *prefixes;
	const struct sim_route *routes;
	size_t nroutes;
	/*
	 * Render an error the platform's way (status and body; add headers
	 * as needed): injected faults 500/502/503/429 (the core has already
	 * added "Retry-After" for 429; retry_after is its value in
	 * seconds), 404 and 405 for unknown routes, 413 for a body over
	 * SIM_BODY_MAX.  msg is a short English reason, never NULL.
	 */
	void (*error)(struct sim_req *req, struct sim_resp *resp, int status,
		      const char *msg, unsigned retry_after);
	/* Called by POST /_sim/reset?inventory=1 after the inventories
	 * were rebuilt, to drop platform state (may be NULL). */
	void (*reset)(struct sim *sim);
};

/* Register a platform; called from sim_<platform>_register(). */
void sim_platform_add(struct sim *sim, const struct sim_platform_ops *ops);

/* The platform files' entry points; sim_main.c calls each once. */
void sim_vmware_register(struct sim *sim);
void sim_rhv_register(struct sim *sim);
void sim_osp_register(struct sim *sim);

/* ------------------------------------------------------------------ */
/* Inventory generation and loading (sim_gen.c, sim_inv.c). */

/*
 * Fill sim->inv[p] with n VMs drawn from r, like a real lab: names such
 * as test_vm_12, jenkins-4411, ci-build-7f3a, prod-db-2, infra-dns-1,
 * web-3-keep; creation times from minutes to months before now; mixed
 * power states in p's vocabulary; a share locked by the platform's own
 * means, a share carrying the keep marker, some under an expiry marker
 * (past and future), some in ERROR (osp) or with config unavailable
 * (vmware), a few templates (vmware) and SOFT_DELETED servers (osp).
 * The same seed always gives the same lab (relative to now).
 * Returns 0, or -1 when out of memory.
 */
int sim_generate(struct sim *sim, enum sim_platform p, size_t n,
		 struct sim_rng *r);

/*
 * Load an inventory file (JSON, or YAML when the name ends in .yaml or
 * .yml) into all platforms; ids are generated from r when absent.  On
 * failure returns -1 with a one-line reason in err.
 */
int sim_inventory_load(struct sim *sim, const char *path, struct sim_rng *r,
		       char *err, size_t errsz);

/* Initialise an empty inventory / free all its VMs (empty again). */
void sim_inv_init(struct sim_inv *inv);
void sim_inv_clear(struct sim_inv *inv);
void sim_inv_release(struct sim_inv *inv);
/*
 * Append vm (taken over) to inv; call sim_inv_sort_nolock() after a
 * batch.  Returns 0, or -1 when out of memory (vm freed).
 */
int sim_inv_add_nolock(struct sim_inv *inv, struct sim_vm *vm);
/* Put inv in listing order: created descending, then id. */
void sim_inv_sort_nolock(struct sim_inv *inv);
/* A new zeroed VM with the given name (NULL when out of memory). */
struct sim_vm *sim_vm_new(const char *name);
void sim_vm_free(struct sim_vm *vm);
/* Append a tag / set a metadata pair (copied); 0 or -1 (no memory). */
int sim_vm_add_tag(struct sim_vm *vm, const char *tag);
int sim_vm_set_meta(struct sim_vm *vm, const char *key, const char *value);
/* Replace a string field (copied; NULL clears it); 0 or -1. */
int sim_vm_set_str(char **field, const char *value);

/* ------------------------------------------------------------------ */
/* Small helpers. */

/* Format Unix seconds as RFC 3339 "2024-05-01T04:01:32Z" into out. */
const char *sim_time_str(int64_t t, char *out, size_t outsz);
/* A JSON string of sim_time_str(t), or JSON null when t is 0. */
json_t *sim_json_time(int64_t t);
/* Decode standard base64 (NUL-terminated out); -1 when malformed or
 * too long for out. */
int sim_base64_decode(const char *in, char *out, size_t outsz);

#endif
