/*
 * sim_http.c - the daemon, the dispatcher, latency without threads,
 * statistics and the /_sim/ endpoints.
 *
 * DESIGN
 *
 * One libmicrohttpd daemon with an epoll thread pool serves everything.
 * A request's state lives in its con_cls (struct rstate) from the first
 * call of the access handler until MHD's completion callback.  A
 * delayed response is computed at once, then the connection is
 * suspended and its entry put on a min-heap; one timer thread sleeps
 * until the earliest due time and resumes the connection, whose handler
 * then queues the stored response.  So a thousand slow requests cost a
 * thousand heap entries, not a thousand threads.  "hang" is a heap
 * entry that is never due; sim_http_stop() resumes everything before it
 * stops the daemon (MHD refuses to stop with suspended connections).
 */
#include "sim_core.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include "buf.h"
#include "timeutil.h"

#define MAX_SEGMENTS 32
#define RETRY_AFTER  1 /* seconds, in injected 429s */

struct sim_timer_entry {
	int64_t due_ms; /* INT64_MAX: hang */
	struct MHD_Connection *conn;
};

struct rstate {
	struct vs_buf body;
	bool too_big;
	bool done;	 /* the response is decided */
	bool suspended;	 /* on the heap */
	bool nul_target; /* the target had a %00 (see uri_seen) */
	struct sim_resp resp;
	int64_t start_ms;
	char route[160];
	enum sim_platform platform;
	bool is_platform;
	/* Storage for struct sim_req. */
	struct sim_param *query, *headers;
	size_t nquery, nheaders, aquery, aheaders;
	char *segbuf;
	char pnames[SIM_MAX_PARAMS][32];
};

/* ------------------------------------------------------------------ */
/* The timer heap.  All under timer_lock. */

static void heap_swap(struct sim_timer_entry *h, size_t a, size_t b)
{
	struct sim_timer_entry t = h[a];

	h[a] = h[b];
	h[b] = t;
}

static int heap_push_nolock(struct sim_core *c, int64_t due,
			    struct MHD_Connection *conn)
{
	size_t i;

	if (c->nheap == c->heap_alloc) {
		size_t n = c->heap_alloc ? c->heap_alloc * 2 : 256;
		struct sim_timer_entry *h = realloc(c->heap, n * sizeof(*h));

		if (h == NULL)
			return -1;
		c->heap = h;
		c->heap_alloc = n;
	}
	i = c->nheap++;
	c->heap[i].due_ms = due;
	c->heap[i].conn = conn;
	while (i > 0 && c->heap[(i - 1) / 2].due_ms > c->heap[i].due_ms) {
		heap_swap(c->heap, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	return 0;
}

static struct MHD_Connection *heap_pop_nolock(struct sim_core *c)
{
	struct MHD_Connection *conn = c->heap[0].conn;
	size_t i = 0;

	c->heap[0] = c->heap[--c->nheap];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < c->nheap && c->heap[l].due_ms < c->heap[m].due_ms)
			m = l;
		if (r < c->nheap && c->heap[r].due_ms < c->heap[m].due_ms)
			m = r;
		if (m == i)
			break;
		heap_swap(c->heap, i, m);
		i = m;
	}
	return conn;
}

static void *timer_main(void *arg)
{
	struct sim_core *c = arg;

	pthread_mutex_lock(&c->timer_lock);
	while (!c->stopping) {
		int64_t now = vs_time_mono_ms();

		if (c->nheap > 0 && c->heap[0].due_ms <= now) {
			MHD_resume_connection(heap_pop_nolock(c));
			continue;
		}
		if (c->nheap == 0 || c->heap[0].due_ms == INT64_MAX) {
			pthread_cond_wait(&c->timer_cond, &c->timer_lock);
		} else {
			/* timer_cond uses CLOCK_MONOTONIC (see start). */
			struct timespec ts;
			int64_t due = c->heap[0].due_ms;

			ts.tv_sec = (time_t)(due / 1000);
			ts.tv_nsec = (long)(due % 1000) * 1000000L;
			pthread_cond_timedwait(&c->timer_cond, &c->timer_lock,
					       &ts);
		}
	}
	/* Stopping: let every waiting and hanging request finish. */
	while (c->nheap > 0)
		MHD_resume_connection(heap_pop_nolock(c));
	pthread_mutex_unlock(&c->timer_lock);
	return NULL;
}

/* Suspend conn until due (INT64_MAX: until shutdown).  -1 when the
 * simulator is stopping or out of memory: answer at once instead. */
static int suspend_until(struct sim_core *c, struct MHD_Connection *conn,
			 int64_t due)
{
	int rc = -1;

	pthread_mutex_lock(&c->timer_lock);
	if (!c->stopping) {
		/* Suspend before the entry is visible to the timer, so a
		 * resume can never come first. */
		MHD_suspend_connection(conn);
		if (heap_push_nolock(c, due, conn) == 0) {
			rc = 0;
			pthread_cond_signal(&c->timer_cond);
		} else {
			MHD_resume_connection(conn);
		}
	}
	pthread_mutex_unlock(&c->timer_lock);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Statistics. */

static void count_key(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (v != NULL)
		json_integer_set(v, json_integer_value(v) + 1);
	else
		json_object_set_new(obj, key, json_integer(1));
}

static void stats_outcome(struct sim *sim, const char *route,
			  const char *status)
{
	struct sim_core *c = sim->core;

	pthread_mutex_lock(&c->stats_lock);
	count_key(c->by_route, route);
	count_key(c->by_status, status);
	pthread_mutex_unlock(&c->stats_lock);
}

static json_t *stats_json(struct sim *sim)
{
	struct sim_core *c = sim->core;
	json_t *j;

	/* Snapshots, so the caller serialises without the lock. */
	pthread_mutex_lock(&c->stats_lock);
	j = json_pack("{sIsIsIsIsIsososb}", "requests", (json_int_t)c->requests,
		      "connections", (json_int_t)c->connections,
		      "tls_handshakes", (json_int_t)c->tls_handshakes,
		      "max_in_flight", (json_int_t)c->max_in_flight,
		      "in_flight", (json_int_t)c->in_flight, "by_route",
		      json_deep_copy(c->by_route), "by_status",
		      json_deep_copy(c->by_status), "tls", sim->tls);
	pthread_mutex_unlock(&c->stats_lock);
	return j;
}

static void stats_reset(struct sim *sim)
{
	struct sim_core *c = sim->core;

	pthread_mutex_lock(&c->stats_lock);
	c->requests = 0;
	c->connections = 0;
	c->tls_handshakes = 0;
	/* The reset request itself is still in flight. */
	c->max_in_flight = c->in_flight;
	json_object_clear(c->by_route);
	json_object_clear(c->by_status);
	pthread_mutex_unlock(&c->stats_lock);
}

static void request_log(struct sim *sim, const char *method, const char *path,
			const struct rstate *rs, const char *outcome)
{
	struct sim_core *c = sim->core;
	char stamp[40];
	json_t *j;
	char *line;

	if (c->request_log == NULL)
		return;
	vs_time_format_ms(stamp, sizeof(stamp), vs_time_now_ms());
	j = json_pack("{sssssssssssI}", "time", stamp, "method", method, "path",
		      path, "route", rs->route, "outcome", outcome, "ms",
		      (json_int_t)(vs_time_mono_ms() - rs->start_ms));
	if (j == NULL)
		return;
	if (rs->nquery > 0) {
		json_t *q = json_object();

		for (size_t i = 0; q && i < rs->nquery; i++)
			json_object_set_new(q, rs->query[i].key,
					    json_string(rs->query[i].value));
		json_object_set_new(j, "query", q);
	}
	line = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (line == NULL)
		return;
	pthread_mutex_lock(&c->log_lock);
	fprintf(c->request_log, "%s\n", line);
	fflush(c->request_log);
	pthread_mutex_unlock(&c->log_lock);
	free(line);
}

/* ------------------------------------------------------------------ */
/* Requests. */

static void resp_clear(struct sim_resp *resp)
{
	for (size_t i = 0; i < resp->nheaders; i++) {
		free((char *)resp->headers[i].key);
		free((char *)resp->headers[i].value);
	}
	free(resp->body);
	memset(resp, 0, sizeof(*resp));
	resp->status = 200;
}

static void rstate_free(struct rstate *rs)
{
	if (rs == NULL)
		return;
	vs_buf_release(&rs->body);
	resp_clear(&rs->resp);
	free(rs->query);
	free(rs->headers);
	free(rs->segbuf);
	free(rs);
}

static int push_param(struct sim_param **v, size_t *n, size_t *a,
		      const char *key, const char *value)
{
	if (*n == *a) {
		size_t na = *a ? *a * 2 : 16;
		struct sim_param *p = realloc(*v, na * sizeof(*p));

		if (p == NULL)
			return -1;
		*v = p;
		*a = na;
	}
	(*v)[*n].key = key;
	(*v)[*n].value = value ? value : "";
	(*n)++;
	return 0;
}

static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind,
				     const char *key, const char *value)
{
	struct rstate *rs = cls;

	(void)kind;
	push_param(&rs->query, &rs->nquery, &rs->aquery, key, value);
	return MHD_YES;
}

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind,
				      const char *key, const char *value)
{
	struct rstate *rs = cls;

	(void)kind;
	push_param(&rs->headers, &rs->nheaders, &rs->aheaders, key, value);
	return MHD_YES;
}

/* Split path into segments in rs->segbuf; -1 when there are too many. */
static int split_path(struct rstate *rs, const char *path, char **segs,
		      size_t *nsegs)
{
	size_t len = strlen(path);
	char *p;

	free(rs->segbuf);
	if ((rs->segbuf = malloc(len + 1)) == NULL)
		return -1;
	memcpy(rs->segbuf, path, len + 1);
	*nsegs = 0;
	p = rs->segbuf;
	while (*p == '/')
		p++;
	while (*p) {
		char *slash = strchr(p, '/');

		if (*nsegs == MAX_SEGMENTS)
			return -1;
		segs[(*nsegs)++] = p;
		if (slash == NULL)
			break;
		*slash = '\0';
		p = slash + 1;
		/* "a//b" keeps an empty segment; only a trailing slash is
		 * forgiven. */
		if (*p == '\0')
			break;
	}
	return 0;
}

/* Match pattern against the path segments; "{name}" captures go into
 * req->params with names copied into names. */
static bool match_route(const char *pattern, char **segs, size_t nsegs,
			struct sim_req *req, char (*names)[32])
{
	const char *p = pattern;
	size_t i = 0;

	req->nparams = 0;
	while (*p == '/')
		p++;
	while (*p) {
		const char *end = strchr(p, '/');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if (i >= nsegs)
			return false;
		if (n >= 2 && p[0] == '{' && p[n - 1] == '}') {
			size_t k = req->nparams;

			if (segs[i][0] == '\0' || k == SIM_MAX_PARAMS ||
			    n - 2 >= 32)
				return false;
			memcpy(names[k], p + 1, n - 2);
			names[k][n - 2] = '\0';
			req->params[k].key = names[k];
			req->params[k].value = segs[i];
			req->nparams++;
		} else if (strlen(segs[i]) != n || memcmp(segs[i], p, n)) {
			return false;
		}
		i++;
		p += n;
		while (*p == '/')
			p++;
	}
	return i == nsegs;
}

/* ------------------------------------------------------------------ */

static struct MHD_Response *make_response(struct sim_resp *resp)
{
	struct MHD_Response *r;

	r = MHD_create_response_from_buffer(
		resp->body_len, resp->body ? resp->body : (void *)"",
		resp->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return NULL;
	resp->body = NULL; /* MHD frees it now */
	resp->body_len = 0;
	for (size_t i = 0; i < resp->nheaders; i++)
		MHD_add_response_header(r, resp->headers[i].key,
					resp->headers[i].value);
	return r;
}

static enum MHD_Result send_resp(struct sim *sim, struct MHD_Connection *conn,
				 struct rstate *rs, const char *method,
				 const char *url)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	char status[16];

	snprintf(status, sizeof(status), "%d", rs->resp.status);
	stats_outcome(sim, rs->route, status);
	request_log(sim, method, url, rs, status);
	r = make_response(&rs->resp);
	if (r == NULL)
		return MHD_NO;
	ret = MHD_queue_response(conn, (unsigned)rs->resp.status, r);
	MHD_destroy_response(r);
	return ret;
}

/* ------------------------------------------------------------------ */
/* /_sim/... */

static json_t *vm_state_json(const struct sim_vm *vm, enum sim_platform p)
{
	static const char *const del_names[] = {"none", "pending", "stuck",
						"failing", "failed"};
	json_t *tags = json_array(), *meta = json_object();
	int64_t exp = sim_vm_expires(vm);
	bool deleting = vm->del == SIM_DEL_PENDING ||
			vm->del == SIM_DEL_STUCK || vm->del == SIM_DEL_FAILING;
	const char *status = vm->state;
	json_t *j;

	for (size_t i = 0; tags && i < vm->ntags; i++)
		json_array_append_new(tags, json_string(vm->tags[i]));
	for (size_t i = 0; meta && i < vm->nmeta; i++)
		json_object_set_new(meta, vm->meta[i].key,
				    json_string(vm->meta[i].value));
	if (p == SIM_OSP && vm->del == SIM_DEL_FAILED)
		status = "ERROR";
	j = json_pack("{sssssosssssbsbsosososssosb}", "id", vm->id, "name",
		      vm->name, "created", sim_json_time(vm->created),
		      "power_state", vm->state, "status", status, "protected",
		      vm->locked || vm->is_template || sim_vm_marked_keep(vm),
		      "locked", vm->locked, "expires", sim_json_time(exp),
		      "tags", tags ? tags : json_array(), "metadata",
		      meta ? meta : json_object(), "delete", del_names[vm->del],
		      "task_state",
		      deleting ? json_string("deleting") : json_null(),
		      "template", vm->is_template);
	if (j == NULL)
		return NULL;
	if (vm->description)
		json_object_set_new(j, "description",
				    json_string(vm->description));
	if (vm->comment)
		json_object_set_new(j, "comment", json_string(vm->comment));
	if (vm->folder)
		json_object_set_new(j, "folder", json_string(vm->folder));
	if (vm->fault_msg)
		json_object_set_new(j, "fault", json_string(vm->fault_msg));
	return j;
}

static json_t *state_json(struct sim *sim)
{
	json_t *root = json_object();

	for (int p = 0; root && p < SIM_NPLATFORMS; p++) {
		struct sim_inv *inv = &sim->inv[p];
		json_t *list = json_array();

		pthread_mutex_lock(&inv->lock);
		for (size_t i = 0; list && i < inv->n; i++) {
			if (!inv->vms[i]->gone)
				json_array_append_new(
					list, vm_state_json(inv->vms[i], p));
		}
		pthread_mutex_unlock(&inv->lock);
		json_object_set_new(root, sim_platform_name(p),
				    list ? list : json_array());
	}
	return root;
}

static bool truthy(const char *s)
{
	return s &&
	       (!strcmp(s, "1") || !strcmp(s, "true") || !strcmp(s, "yes"));
}

static void sim_reset(struct sim_req *req, struct sim_resp *resp)
{
	struct sim *sim = req->sim;
	json_t *body = sim_req_json(req);
	bool inventory = truthy(sim_req_query(req, "inventory")) ||
			 json_is_true(json_object_get(body, "inventory"));
	char err[256];

	json_decref(body);
	if (inventory) {
		if (sim_inventory_build(sim, err, sizeof(err)) < 0) {
			sim_resp_json(resp, 500,
				      json_pack("{ss}", "error", err));
			return;
		}
		sim_session_clear(sim);
		for (int p = 0; p < SIM_NPLATFORMS; p++)
			if (sim->ops[p] && sim->ops[p]->reset)
				sim->ops[p]->reset(sim);
	}
	stats_reset(sim);
	sim_resp_json(resp, 200,
		      json_pack("{sbsb}", "stats", 1, "inventory", inventory));
}

/* POST /_sim/fault: {"set":["osp:500:0.5", ...], "clear":true} or the
 * query form ?clear=1&set=osp:500:0.5. */
static void sim_fault(struct sim_req *req, struct sim_resp *resp)
{
	struct sim *sim = req->sim;
	struct sim_opts tmp;
	json_t *body = sim_req_json(req), *v;
	const char *specs[32];
	size_t n = sim_req_query_all(req, "set", specs, 32), i;
	bool clear = truthy(sim_req_query(req, "clear")) ||
		     json_is_true(json_object_get(body, "clear"));
	char err[256];
	json_t *out;

	pthread_mutex_lock(&sim->core->fault_lock);
	memcpy(tmp.fault, sim->opts.fault, sizeof(tmp.fault));
	pthread_mutex_unlock(&sim->core->fault_lock);
	if (clear)
		memset(tmp.fault, 0, sizeof(tmp.fault));
	for (i = 0; i < n && i < 32; i++) {
		if (sim_fault_parse(&tmp, specs[i], err, sizeof(err)) < 0)
			goto bad;
	}
	json_array_foreach(json_object_get(body, "set"), i, v)
	{
		if (!json_is_string(v)) {
			snprintf(err, sizeof(err), "\"set\" takes strings");
			goto bad;
		}
		if (sim_fault_parse(&tmp, json_string_value(v), err,
				    sizeof(err)) < 0)
			goto bad;
	}
	json_decref(body);
	pthread_mutex_lock(&sim->core->fault_lock);
	memcpy(sim->opts.fault, tmp.fault, sizeof(tmp.fault));
	pthread_mutex_unlock(&sim->core->fault_lock);
	out = json_object();
	for (int p = 0; out && p < SIM_NPLATFORMS; p++) {
		json_t *o = json_object();

		for (int k = 0; o && k < SIM_FAULT_NKINDS; k++)
			if (tmp.fault[p][k] > 0)
				json_object_set_new(o, sim_fault_name(k),
						    json_real(tmp.fault[p][k]));
		json_object_set_new(out, sim_platform_name(p),
				    o ? o : json_object());
	}
	sim_resp_json(resp, 200, out);
	return;
bad:
	json_decref(body);
	sim_resp_json(resp, 400, json_pack("{ss}", "error", err));
}

static void handle_sim(struct sim_req *req, struct sim_resp *resp, char *route,
		       size_t routesz)
{
	const char *p = req->path + strlen("/_sim/");
	bool get = !strcmp(req->method, "GET");
	bool post = !strcmp(req->method, "POST");

	snprintf(route, routesz, "sim %s %s", req->method, req->path);
	if (!strcmp(p, "state") && get) {
		sim_resp_json(resp, 200, state_json(req->sim));
	} else if (!strcmp(p, "stats") && get) {
		sim_resp_json(resp, 200, stats_json(req->sim));
	} else if (!strcmp(p, "reset") && post) {
		sim_reset(req, resp);
	} else if (!strcmp(p, "fault") && post) {
		sim_fault(req, resp);
	} else if (!strcmp(p, "health") && get) {
		sim_resp_json(resp, 200, json_pack("{sb}", "ok", 1));
	} else {
		snprintf(route, routesz, "sim unknown");
		sim_resp_json(resp, 404,
			      json_pack("{ss}", "error",
					"unknown simulator endpoint"));
	}
}

/* ------------------------------------------------------------------ */
/* The dispatcher. */

static const struct sim_platform_ops *find_platform(struct sim *sim,
						    const char *path)
{
	for (int p = 0; p < SIM_NPLATFORMS; p++) {
		const struct sim_platform_ops *ops = sim->ops[p];

		if (ops == NULL || ops->prefixes == NULL)
			continue;
		for (const char *const *px = ops->prefixes; *px; px++) {
			size_t n = strlen(*px);

			if (!strncmp(path, *px, n))
				return ops;
			/* "/identity" for the prefix "/identity/". */
			if (n > 1 && (*px)[n - 1] == '/' &&
			    strlen(path) == n - 1 && !strncmp(path, *px, n - 1))
				return ops;
		}
	}
	return NULL;
}

/* Route the request on ops; returns the route or NULL with *status set
 * to 404 or 405. */
static const struct sim_route *route_request(const struct sim_platform_ops *ops,
					     struct rstate *rs,
					     struct sim_req *req, int *status)
{
	char *segs[MAX_SEGMENTS];
	size_t nsegs;
	bool path_known = false;

	*status = 404;
	if (split_path(rs, req->path, segs, &nsegs) < 0)
		return NULL;
	for (size_t i = 0; i < ops->nroutes; i++) {
		const struct sim_route *rt = &ops->routes[i];

		if (!match_route(rt->pattern, segs, nsegs, req, rs->pnames))
			continue;
		if (rt->method == NULL || !strcmp(rt->method, req->method))
			return rt;
		path_known = true;
	}
	if (path_known)
		*status = 405;
	req->nparams = 0;
	return NULL;
}

static void fill_req(struct sim *sim, struct MHD_Connection *conn,
		     struct rstate *rs, struct sim_req *req, const char *url,
		     const char *method, char *host, size_t hostsz)
{
	const char *h;

	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_query,
				  rs);
	MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_header, rs);
	memset(req, 0, sizeof(*req));
	req->sim = sim;
	req->method = method;
	req->path = url;
	req->query = rs->query;
	req->nquery = rs->nquery;
	req->headers = rs->headers;
	req->nheaders = rs->nheaders;
	req->body = rs->body.s;
	req->body_len = rs->body.len;
	req->scheme = sim->tls ? "https" : "http";
	h = sim_req_header(req, "Host");
	/* The Host header goes into links we hand out; refuse anything
	 * that could break out of a URL. */
	if (h == NULL || *h == '\0' || strlen(h) >= hostsz ||
	    strpbrk(h, "/?#@\\\"<> \t\r\n") != NULL)
		snprintf(host, hostsz, "127.0.0.1:%u", sim->core->port);
	else
		snprintf(host, hostsz, "%s", h);
	req->host = host;
}

/* A request fault for platform p, as the action and status to use. */
static bool roll_faults(struct sim *sim, enum sim_platform p, int *status,
			enum sim_action *action)
{
	static const struct {
		enum sim_fault_kind kind;
		int status;
		enum sim_action action;
	} kinds[] = {
		{SIM_FAULT_DROP, 0, SIM_DROP},	{SIM_FAULT_HANG, 0, SIM_HANG},
		{SIM_FAULT_500, 500, SIM_SEND}, {SIM_FAULT_502, 502, SIM_SEND},
		{SIM_FAULT_503, 503, SIM_SEND}, {SIM_FAULT_429, 429, SIM_SEND},
	};

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (sim_fault_roll(sim, p, kinds[i].kind)) {
			*status = kinds[i].status;
			*action = kinds[i].action;
			return true;
		}
	}
	return false;
}

static void render_error(const struct sim_platform_ops *ops,
			 struct sim_req *req, struct sim_resp *resp, int status,
			 const char *msg)
{
	unsigned retry = 0;

	if (status == 429) {
		retry = RETRY_AFTER;
		sim_resp_header(resp, "Retry-After", "1");
	}
	if (ops->error != NULL)
		ops->error(req, resp, status, msg, retry);
	else
		sim_resp_json(resp, status, json_pack("{ss}", "error", msg));
}

static const char *fault_message(int status)
{
	switch (status) {
	case 429:
		return "Too many requests, please retry later.";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	default:
		return "Internal Server Error";
	}
}

/*
 * Decide the response for a complete request into rs->resp; returns the
 * action.  Route name goes into rs->route.
 */
static enum sim_action dispatch(struct sim *sim, struct MHD_Connection *conn,
				struct rstate *rs, const char *url,
				const char *method)
{
	struct sim_req req;
	char host[256];
	const struct sim_platform_ops *ops;
	const struct sim_route *rt;
	int status;
	enum sim_action action = SIM_SEND;

	fill_req(sim, conn, rs, &req, url, method, host, sizeof(host));
	resp_clear(&rs->resp);
	if (rs->nul_target) {
		/* Refused before routing: the cut path may name another VM. */
		static const char msg[] = "Invalid request: the URL encodes "
					  "a NUL byte";

		ops = find_platform(sim, url);
		if (ops == NULL || !strncmp(url, "/_sim/", 6)) {
			snprintf(rs->route, sizeof(rs->route), "unknown");
			sim_resp_json(&rs->resp, 400,
				      json_pack("{ss}", "error", msg));
			return SIM_SEND;
		}
		rs->is_platform = true;
		rs->platform = ops->platform;
		req.platform = ops->platform;
		snprintf(rs->route, sizeof(rs->route), "%s unknown",
			 sim_platform_name(ops->platform));
		req.route = rs->route;
		render_error(ops, &req, &rs->resp, 400, msg);
		return SIM_SEND;
	}
	if (!strncmp(url, "/_sim/", 6)) {
		handle_sim(&req, &rs->resp, rs->route, sizeof(rs->route));
		return SIM_SEND;
	}
	ops = find_platform(sim, url);
	if (ops == NULL) {
		snprintf(rs->route, sizeof(rs->route), "unknown");
		sim_resp_json(&rs->resp, 404,
			      json_pack("{ss}", "error", "not found"));
		return SIM_SEND;
	}
	rs->is_platform = true;
	rs->platform = ops->platform;
	req.platform = ops->platform;
	rt = route_request(ops, rs, &req, &status);
	if (rt != NULL) {
		snprintf(rs->route, sizeof(rs->route), "%s %s%s%s",
			 sim_platform_name(ops->platform),
			 rt->name     ? ""
			 : rt->method ? rt->method
				      : "ANY",
			 rt->name ? "" : " ",
			 rt->name ? rt->name : rt->pattern);
	} else {
		snprintf(rs->route, sizeof(rs->route), "%s unknown",
			 sim_platform_name(ops->platform));
	}
	req.route = rs->route;
	if (rs->too_big) {
		render_error(ops, &req, &rs->resp, 413,
			     "Request body too large");
	} else if (roll_faults(sim, ops->platform, &status, &action)) {
		if (action == SIM_SEND)
			render_error(ops, &req, &rs->resp, status,
				     fault_message(status));
	} else if (rt == NULL) {
		render_error(ops, &req, &rs->resp, status,
			     status == 405 ? "Method Not Allowed"
					   : "Not Found");
	} else {
		rt->fn(&req, &rs->resp);
		action = rs->resp.action;
	}
	return action;
}

/*
 * The first con_cls of a request whose target encodes a NUL; any
 * address that is never a struct rstate will do.
 */
static char nul_marker;

/*
 * MHD percent-decodes the path and the query before the access handler
 * sees them, as C strings: a "%00" cuts them short, and
 * "/api/vcenter/vm/vm-1001%00junk" would reach the routes as vm-1001.
 * This callback sees the raw target before decoding and marks such a
 * request through the con_cls it returns, so the handler can refuse it
 * with a 400 instead of acting on a shorter id.  A "%" not followed by
 * two hex digits is left alone by MHD, so only "%00" decodes to a NUL.
 */
static void *uri_seen(void *cls, const char *uri, struct MHD_Connection *conn)
{
	(void)cls;
	(void)conn;
	for (const char *p = uri; *p; p++)
		if (p[0] == '%' && p[1] == '0' && p[2] == '0')
			return &nul_marker;
	return NULL;
}

static int64_t latency_ms(struct sim *sim)
{
	int64_t d = sim->opts.latency_ms;

	if (sim->opts.jitter_ms > 0)
		d += (int64_t)(sim_random(sim) % (sim->opts.jitter_ms + 1));
	return d;
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn,
				      const char *url, const char *method,
				      const char *version,
				      const char *upload_data,
				      size_t *upload_data_size, void **con_cls)
{
	struct sim *sim = cls;
	struct sim_core *c = sim->core;
	struct rstate *rs = *con_cls;
	enum sim_action action;

	(void)version;
	if (rs == NULL || (void *)rs == &nul_marker) {
		rs = calloc(1, sizeof(*rs));
		if (rs == NULL)
			return MHD_NO;
		rs->nul_target = *con_cls == &nul_marker;
		vs_buf_init(&rs->body, SIM_BODY_MAX);
		rs->resp.status = 200;
		rs->start_ms = vs_time_mono_ms();
		*con_cls = rs;
		pthread_mutex_lock(&c->stats_lock);
		c->requests++;
		if (++c->in_flight > c->max_in_flight)
			c->max_in_flight = c->in_flight;
		pthread_mutex_unlock(&c->stats_lock);
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		if (!rs->too_big &&
		    vs_buf_add(&rs->body, upload_data, *upload_data_size) < 0) {
			rs->too_big = true;
			vs_buf_release(&rs->body);
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (rs->done) {
		/* Resumed: after a delay, or at shutdown for a hang. */
		if (rs->resp.action == SIM_HANG) {
			stats_outcome(sim, rs->route, "hang");
			request_log(sim, method, url, rs, "hang");
			return MHD_NO;
		}
		return send_resp(sim, conn, rs, method, url);
	}
	rs->done = true;
	action = dispatch(sim, conn, rs, url, method);
	rs->resp.action = action;
	if (action == SIM_DROP) {
		stats_outcome(sim, rs->route, "drop");
		request_log(sim, method, url, rs, "drop");
		return MHD_NO;
	}
	if (action == SIM_HANG) {
		if (suspend_until(c, conn, INT64_MAX) == 0)
			return MHD_YES;
		stats_outcome(sim, rs->route, "hang");
		request_log(sim, method, url, rs, "hang");
		return MHD_NO;
	}
	if (rs->is_platform && (sim->opts.latency_ms || sim->opts.jitter_ms)) {
		int64_t d = latency_ms(sim);

		if (d > 0 && suspend_until(c, conn, vs_time_mono_ms() + d) == 0)
			return MHD_YES;
	}
	return send_resp(sim, conn, rs, method, url);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct sim *sim = cls;
	struct rstate *rs = *con_cls;

	(void)conn;
	(void)toe;
	/* The marker: the handler never got as far as its own state. */
	if (rs == NULL || (void *)rs == &nul_marker)
		return;
	pthread_mutex_lock(&sim->core->stats_lock);
	sim->core->in_flight--;
	pthread_mutex_unlock(&sim->core->stats_lock);
	rstate_free(rs);
	*con_cls = NULL;
}

static void notify_connection(void *cls, struct MHD_Connection *conn,
			      void **socket_context,
			      enum MHD_ConnectionNotificationCode toe)
{
	struct sim *sim = cls;

	(void)conn;
	(void)socket_context;
	if (toe != MHD_CONNECTION_NOTIFY_STARTED)
		return;
	pthread_mutex_lock(&sim->core->stats_lock);
	sim->core->connections++;
	if (sim->tls)
		sim->core->tls_handshakes++;
	pthread_mutex_unlock(&sim->core->stats_lock);
}

/* ------------------------------------------------------------------ */

static char *read_file(const char *path, char *err, size_t errsz)
{
	struct vs_buf b;
	char chunk[4096];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (f == NULL) {
		snprintf(err, errsz, "cannot open '%s'", path);
		return NULL;
	}
	vs_buf_init(&b, 1024 * 1024);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (vs_buf_add(&b, chunk, n) < 0) {
			snprintf(err, errsz, "'%s' is too large", path);
			fclose(f);
			vs_buf_release(&b);
			return NULL;
		}
	}
	fclose(f);
	return vs_buf_detach(&b, NULL);
}

static int write_port_file(const char *path, unsigned port, char *err,
			   size_t errsz)
{
	char tmp[4096], line[16];
	int fd, n;

	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	n = snprintf(line, sizeof(line), "%u\n", port);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, line, (size_t)n) != n || fsync(fd) < 0 ||
	    close(fd) < 0 || rename(tmp, path) < 0) {
		snprintf(err, errsz, "cannot write port file '%s'", path);
		if (fd >= 0)
			unlink(tmp);
		return -1;
	}
	return 0;
}

int sim_http_start(struct sim *sim, char *err, size_t errsz)
{
	struct sim_core *c = sim->core;
	struct sockaddr_in sa;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
			 MHD_ALLOW_SUSPEND_RESUME;
	const union MHD_DaemonInfo *info;
	pthread_condattr_t ca;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)sim->opts.listen_port);
	if (inet_pton(AF_INET, sim->opts.listen_addr, &sa.sin_addr) != 1) {
		snprintf(err, errsz, "bad listen address '%s' (IPv4 only)",
			 sim->opts.listen_addr);
		return -1;
	}
	if (sim->opts.request_log != NULL) {
		c->request_log = fopen(sim->opts.request_log, "a");
		if (c->request_log == NULL) {
			snprintf(err, errsz, "cannot open request log '%s'",
				 sim->opts.request_log);
			return -1;
		}
	}
	if (sim->opts.tls_cert != NULL) {
		c->tls_cert_pem = read_file(sim->opts.tls_cert, err, errsz);
		if (c->tls_cert_pem == NULL)
			return -1;
		c->tls_key_pem = read_file(sim->opts.tls_key, err, errsz);
		if (c->tls_key_pem == NULL)
			return -1;
		flags |= MHD_USE_TLS;
		sim->tls = true;
	}

	/* The timer waits on the monotonic clock, like its due times. */
	pthread_cond_destroy(&c->timer_cond);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->timer_cond, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&c->timer, NULL, timer_main, c) != 0) {
		snprintf(err, errsz, "cannot start the timer thread");
		return -1;
	}
	c->timer_started = true;

	if (sim->tls)
		c->daemon = MHD_start_daemon(
			flags, 0, NULL, NULL, access_handler, sim,
			MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
			MHD_OPTION_THREAD_POOL_SIZE, 4u,
			MHD_OPTION_CONNECTION_LIMIT, 4096u,
			MHD_OPTION_CONNECTION_TIMEOUT, 120u,
			MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
			MHD_OPTION_NOTIFY_COMPLETED, completed, sim,
			MHD_OPTION_NOTIFY_CONNECTION, notify_connection, sim,
			MHD_OPTION_URI_LOG_CALLBACK, uri_seen, sim,
			MHD_OPTION_HTTPS_MEM_CERT, c->tls_cert_pem,
			MHD_OPTION_HTTPS_MEM_KEY, c->tls_key_pem,
			MHD_OPTION_END);
	else
		c->daemon = MHD_start_daemon(
			flags, 0, NULL, NULL, access_handler, sim,
			MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
			MHD_OPTION_THREAD_POOL_SIZE, 4u,
			MHD_OPTION_CONNECTION_LIMIT, 4096u,
			MHD_OPTION_CONNECTION_TIMEOUT, 120u,
			MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
			MHD_OPTION_NOTIFY_COMPLETED, completed, sim,
			MHD_OPTION_NOTIFY_CONNECTION, notify_connection, sim,
			MHD_OPTION_URI_LOG_CALLBACK, uri_seen, sim,
			MHD_OPTION_END);
	if (c->daemon == NULL) {
		snprintf(err, errsz, "cannot listen on %s:%u",
			 sim->opts.listen_addr, sim->opts.listen_port);
		return -1;
	}
	info = MHD_get_daemon_info(c->daemon, MHD_DAEMON_INFO_BIND_PORT);
	c->port = info ? info->port : sim->opts.listen_port;
	if (sim->opts.port_file != NULL &&
	    write_port_file(sim->opts.port_file, c->port, err, errsz) < 0)
		return -1;
	return 0;
}

unsigned sim_http_port(const struct sim *sim)
{
	return sim->core->port;
}

void sim_http_stop(struct sim *sim)
{
	struct sim_core *c = sim->core;

	if (c == NULL)
		return;
	if (c->timer_started) {
		pthread_mutex_lock(&c->timer_lock);
		c->stopping = true;
		pthread_cond_signal(&c->timer_cond);
		pthread_mutex_unlock(&c->timer_lock);
		pthread_join(c->timer, NULL);
		c->timer_started = false;
	}
	if (c->daemon != NULL) {
		MHD_stop_daemon(c->daemon);
		c->daemon = NULL;
	}
}
