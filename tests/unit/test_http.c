/*
 * test_http.c - the HTTP client against an in-process libmicrohttpd
 * server on 127.0.0.1 (plain and TLS): retries, Retry-After, the body
 * cap, timeouts, TLS trust, connection reuse, cancellation, threads, the
 * adaptive concurrency limiter's slots and signals.
 *
 * DESIGN: the server runs a thread per connection.  Its per-path hit
 * counters, connection counter and "hold" gate are protected by one
 * mutex; a held request waits on a condition variable that teardown
 * releases, so no server thread outlives its test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "aimd.h"
#include "http.h"
#include "log.h"

/* ------------------------------------------------------------------ */
/* The server.                                                          */

enum path_id {
	P_OK,
	P_FLAKY,
	P_RA,
	P_RA_DATE,
	P_RA_LONG,
	P_ALWAYS503,
	P_ALWAYS429,
	P_S500,
	P_BIG,
	P_HOLD,
	P_AUTH,
	P_ECHO,
	P_POST503,
	P_OTHER,
	P_COUNT
};

static const char *const path_names[P_COUNT] = {
	"/ok",	      "/flaky",	    "/ra",	"/ra-date", "/ra-long",
	"/always503", "/always429", "/s500",	"/big",	    "/hold",
	"/auth",      "/echo",	    "/post503", "",
};

struct srv {
	struct MHD_Daemon *d;
	int port;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int hits[P_COUNT];
	int connections;
	int release;
	char last_method[16];
};

/* One request being received. */
struct req_ctx {
	char body[1024];
	size_t len;
};

static char big_body[64 * 1024];

static enum path_id path_of(const char *url)
{
	int i;

	for (i = 0; i < P_OTHER; i++)
		if (strcmp(url, path_names[i]) == 0)
			return (enum path_id)i;
	return P_OTHER;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned int code,
			     const char *body, size_t len, const char *hname,
			     const char *hvalue, const char *ctype)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, (void *)body,
					    MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	if (hname)
		MHD_add_response_header(r, hname, hvalue);
	if (ctype)
		MHD_add_response_header(r, "Content-Type", ctype);
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result replys(struct MHD_Connection *c, unsigned int code,
			      const char *body)
{
	return reply(c, code, body, strlen(body), NULL, NULL, "text/plain");
}

/* An IMF-fixdate secs seconds from now. */
static void http_date(char *buf, size_t sz, time_t secs)
{
	time_t t = time(NULL) + secs;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, sz, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static void hold(struct srv *s)
{
	struct timespec dl;

	/* Bounded, so a broken test cannot hang the server forever. */
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 10;
	pthread_mutex_lock(&s->mu);
	while (!s->release)
		if (pthread_cond_timedwait(&s->cv, &s->mu, &dl) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&s->mu);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c,
			       const char *url, const char *method,
			       const char *version, const char *upload,
			       size_t *upload_size, void **con_cls)
{
	struct srv *s = cls;
	struct req_ctx *rc = *con_cls;
	enum path_id p;
	int n;
	char buf[1200];
	const char *auth;

	(void)version;
	if (!rc) {
		rc = calloc(1, sizeof(*rc));
		if (!rc)
			return MHD_NO;
		*con_cls = rc;
		return MHD_YES;
	}
	if (*upload_size) {
		size_t room = sizeof(rc->body) - 1 - rc->len;
		size_t take = *upload_size < room ? *upload_size : room;
		memcpy(rc->body + rc->len, upload, take);
		rc->len += take;
		*upload_size = 0;
		return MHD_YES;
	}

	p = path_of(url);
	pthread_mutex_lock(&s->mu);
	n = ++s->hits[p];
	snprintf(s->last_method, sizeof(s->last_method), "%s", method);
	pthread_mutex_unlock(&s->mu);

	switch (p) {
	case P_OK:
		return reply(c, 200, "hello", 5, "X-Test", "  spaced value  ",
			     "text/plain");
	case P_FLAKY:
		/* X-Busy only on the 503s: a client must not keep it. */
		return n < 3 ? reply(c, 503, "busy", 4, "X-Busy", "1",
				     "text/plain")
			     : replys(c, 200, "done");
	case P_RA:
		return n < 2 ? reply(c, 503, "wait", 4, "Retry-After", "1",
				     NULL)
			     : replys(c, 200, "done");
	case P_RA_DATE:
		if (n < 2) {
			char d[64];
			http_date(d, sizeof(d), 3);
			return reply(c, 429, "slow down", 9, "Retry-After", d,
				     NULL);
		}
		return replys(c, 200, "done");
	case P_RA_LONG:
		return reply(c, 503, "wait", 4, "Retry-After", "30", NULL);
	case P_ALWAYS503:
		return reply(c, 503, "<html>service down\n\t  try later</html>",
			     38, NULL, NULL, "text/html");
	case P_ALWAYS429:
		return reply(c, 429, "{\"error\": \"over limit\"}", 23, NULL,
			     NULL, "application/json");
	case P_S500:
		return replys(c, 500, "broken");
	case P_BIG:
		return reply(c, 200, big_body, sizeof(big_body), NULL, NULL,
			     "application/octet-stream");
	case P_HOLD:
		hold(s);
		return replys(c, 200, "late");
	case P_AUTH:
		auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						   "Authorization");
		return replys(c, 200, auth ? auth : "(none)");
	case P_ECHO:
		rc->body[rc->len] = '\0';
		snprintf(buf, sizeof(buf), "%s:%s", method, rc->body);
		return replys(c, 200, buf);
	case P_POST503:
		return replys(c, 503, "not now");
	case P_OTHER:
	case P_COUNT:
	default:
		return replys(c, 404, "no such path");
	}
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	free(*con_cls);
	*con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c,
			  void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct srv *s = cls;

	(void)c;
	(void)socket_context;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		pthread_mutex_lock(&s->mu);
		s->connections++;
		pthread_mutex_unlock(&s->mu);
	}
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *s = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (s = calloc(1, (size_t)n + 1)) &&
	    fread(s, 1, (size_t)n, f) != (size_t)n) {
		free(s);
		s = NULL;
	}
	fclose(f);
	return s;
}

static const char *certs_dir(void)
{
	const char *d = getenv("VS_TEST_CERTS");
	return d && *d ? d : "build/certs";
}

static void cert_path(char *buf, size_t sz, const char *name)
{
	snprintf(buf, sz, "%s/%s", certs_dir(), name);
}

/* Start a server; tls_name "server" or "untrusted" for HTTPS, else NULL. */
static struct srv *srv_start(const char *tls_name)
{
	struct srv *s = calloc(1, sizeof(*s));
	struct sockaddr_in sa;
	const union MHD_DaemonInfo *info;
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD |
			     MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG;

	assert_non_null(s);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = 0;
	if (tls_name) {
		char kp[512], cp[512], name[64];
		char *key, *cert;

		snprintf(name, sizeof(name), "%s.key", tls_name);
		cert_path(kp, sizeof(kp), name);
		snprintf(name, sizeof(name), "%s.pem", tls_name);
		cert_path(cp, sizeof(cp), name);
		key = slurp(kp);
		cert = slurp(cp);
		if (!key || !cert)
			fail_msg("cannot read %s and %s (make certs)", kp, cp);
		s->d = MHD_start_daemon(
			(flags & ~MHD_USE_ERROR_LOG) | MHD_USE_TLS, 0, NULL,
			NULL, handler, s, MHD_OPTION_SOCK_ADDR,
			(struct sockaddr *)&sa, MHD_OPTION_HTTPS_MEM_KEY, key,
			MHD_OPTION_HTTPS_MEM_CERT, cert,
			MHD_OPTION_NOTIFY_COMPLETED, completed, s,
			MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
			MHD_OPTION_END);
		free(key);
		free(cert);
	} else {
		s->d = MHD_start_daemon(
			flags, 0, NULL, NULL, handler, s, MHD_OPTION_SOCK_ADDR,
			(struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED,
			completed, s, MHD_OPTION_NOTIFY_CONNECTION,
			on_connection, s, MHD_OPTION_END);
	}
	assert_non_null(s->d);
	info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	assert_non_null(info);
	s->port = info->port;
	assert_true(s->port > 0);
	return s;
}

static void srv_stop(struct srv *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->release = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	MHD_stop_daemon(s->d);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

static int srv_hits(struct srv *s, enum path_id p)
{
	int n;

	pthread_mutex_lock(&s->mu);
	n = s->hits[p];
	pthread_mutex_unlock(&s->mu);
	return n;
}

static int srv_connections(struct srv *s)
{
	int n;

	pthread_mutex_lock(&s->mu);
	n = s->connections;
	pthread_mutex_unlock(&s->mu);
	return n;
}

/* ------------------------------------------------------------------ */
/* Fixture.                                                             */

struct fx {
	struct srv *srv;
	struct vs_http_shared *sh;
	struct vs_http *h;
	struct vs_http_policy pol;
	char url[256];
};

/* Fast retries so the tests stay short. */
static void test_policy(struct vs_http_policy *p)
{
	vs_http_policy_defaults(p);
	p->max_retries = 3;
	p->backoff_base_ms = 5;
	p->backoff_max_ms = 20;
	p->connect_timeout_ms = 2000;
	p->timeout_ms = 5000;
}

static void fx_client(struct fx *f)
{
	struct vs_error err;

	vs_error_clear(&err);
	f->sh = vs_http_shared_new(&f->pol, &err);
	assert_non_null(f->sh);
	f->h = vs_http_new(f->sh, &err);
	assert_non_null(f->h);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->srv = srv_start(NULL);
	test_policy(&f->pol);
	fx_client(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	vs_http_free(f->h);
	vs_http_shared_free(f->sh);
	srv_stop(f->srv);
	free(f);
	return 0;
}

static const char *url_of(struct fx *f, const char *path)
{
	snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d%s", f->srv->port,
		 path);
	return f->url;
}

static int do_req(struct fx *f, const char *method, const char *path,
		  int idempotent, struct vs_http_response *resp,
		  struct vs_error *err)
{
	struct vs_http_request req;

	memset(&req, 0, sizeof(req));
	req.method = method;
	req.url = url_of(f, path);
	req.idempotent = idempotent;
	vs_error_clear(err);
	return vs_http_do(f->h, &req, resp, err);
}

static struct vs_http_stats stats(struct fx *f)
{
	struct vs_http_stats st;
	vs_http_shared_stats(f->sh, &st);
	return st;
}

/* ------------------------------------------------------------------ */
/* Pure helpers.                                                        */

static void test_parse_retry_after(void **state)
{
	const long long t = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */

	(void)state;
	assert_int_equal(vs_http_parse_retry_after("120", t), 120000);
	assert_int_equal(vs_http_parse_retry_after(" 5 ", t), 5000);
	assert_int_equal(vs_http_parse_retry_after("0", t), 0);
	assert_int_equal(vs_http_parse_retry_after(NULL, t), -1);
	assert_int_equal(vs_http_parse_retry_after("", t), -1);
	assert_int_equal(vs_http_parse_retry_after("5s", t), -1);
	assert_int_equal(vs_http_parse_retry_after("-5", t), -1);
	assert_int_equal(vs_http_parse_retry_after("soon", t), -1);
	/* Absurd values are clamped, not overflowed. */
	assert_int_equal(vs_http_parse_retry_after("99999999999999999999", t),
			 1000000000L * 1000);

	assert_int_equal(vs_http_parse_retry_after(
				 "Sun, 06 Nov 1994 08:49:37 GMT", t - 10),
			 10000);
	assert_int_equal(vs_http_parse_retry_after(
				 "Sunday, 06-Nov-94 08:49:37 GMT", t - 10),
			 10000);
	assert_int_equal(
		vs_http_parse_retry_after("Sun Nov  6 08:49:37 1994", t - 10),
		10000);
	assert_int_equal(
		vs_http_parse_retry_after("Thu Nov 16 08:49:37 1994", t),
		10 * 86400 * 1000L);
	/* A date in the past means now. */
	assert_int_equal(vs_http_parse_retry_after(
				 "Sun, 06 Nov 1994 08:49:37 GMT", t + 100),
			 0);
	/* Leap years and the turn of a century. */
	assert_int_equal(vs_http_parse_retry_after(
				 "Thu, 01 Mar 2000 00:00:00 GMT", 951782400),
			 86400 * 1000L);

	assert_int_equal(vs_http_parse_retry_after(
				 "Sun, 06 Nov 1994 08:49:37 PST", t - 10),
			 -1);
	assert_int_equal(vs_http_parse_retry_after(
				 "Sun, 06 Foo 1994 08:49:37 GMT", t - 10),
			 -1);
	assert_int_equal(vs_http_parse_retry_after(
				 "Sun, 06 Nov 1994 25:49:37 GMT", t - 10),
			 -1);
	assert_int_equal(vs_http_parse_retry_after(
				 "Sun, 06 Nov 1994 08:49:37 GMT x", t - 10),
			 -1);
	assert_int_equal(vs_http_parse_retry_after("Sun, 06 Nov 1994", t - 10),
			 -1);
}

static void test_retry_delay(void **state)
{
	struct vs_http_policy p;
	uint64_t x = 88172645463325252ULL;
	int i;

	(void)state;
	vs_http_policy_defaults(&p);
	p.backoff_base_ms = 100;
	p.backoff_max_ms = 1000;
	p.retry_after_max_ms = 5000;

	/* Full jitter: rnd maps onto [0, ceiling]. */
	assert_int_equal(vs_http_retry_delay_ms(&p, 0, -1, 0), 0);
	assert_int_equal(vs_http_retry_delay_ms(&p, 0, -1, 100), 100);
	assert_int_equal(vs_http_retry_delay_ms(&p, 0, -1, 101), 0);
	assert_int_equal(vs_http_retry_delay_ms(&p, 3, -1, 800), 800);
	assert_int_equal(vs_http_retry_delay_ms(&p, 3, -1, 801), 0);
	/* The ceiling stops at backoff_max_ms, however many retries. */
	assert_int_equal(vs_http_retry_delay_ms(&p, 10, -1, 1000), 1000);
	assert_int_equal(vs_http_retry_delay_ms(&p, 10, -1, 1001), 0);
	assert_int_equal(vs_http_retry_delay_ms(&p, 1000, -1, 1000), 1000);
	for (i = 0; i < 1000; i++) {
		long d;
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		d = vs_http_retry_delay_ms(&p, i % 12, -1, x);
		assert_true(d >= 0 && d <= 1000);
	}

	/* Retry-After wins over jitter, capped by retry_after_max_ms. */
	assert_int_equal(vs_http_retry_delay_ms(&p, 0, 2000, 12345), 2000);
	assert_int_equal(vs_http_retry_delay_ms(&p, 0, 0, 12345), 0);
	assert_int_equal(vs_http_retry_delay_ms(&p, 5, 9000, 1), 5000);

	/* A maximum near LONG_MAX: doubling must stop at it, not wrap. */
	p.backoff_base_ms = 1;
	p.backoff_max_ms = LONG_MAX;
	assert_int_equal(vs_http_retry_delay_ms(&p, 100, -1, UINT64_MAX),
			 (long)(UINT64_MAX % ((uint64_t)LONG_MAX + 1)));
	for (i = 0; i < 100; i++)
		assert_true(vs_http_retry_delay_ms(&p, i, -1,
						   x + (uint64_t)i) >= 0);
}

static void test_policy_rejected(void **state)
{
	struct vs_http_policy p;
	struct vs_error err;

	(void)state;
	vs_http_policy_defaults(&p);
	p.max_retries = -1;
	vs_error_clear(&err);
	assert_null(vs_http_shared_new(&p, &err));
	assert_int_equal(err.cls, VS_EC_CONFIG);
	assert_non_null(strstr(err.message, "max_retries"));

	vs_http_policy_defaults(&p);
	p.backoff_max_ms = p.backoff_base_ms - 1;
	vs_error_clear(&err);
	assert_null(vs_http_shared_new(&p, &err));
	assert_int_equal(err.cls, VS_EC_CONFIG);
}

/* ------------------------------------------------------------------ */
/* Against the server.                                                  */

static void test_ok_headers(void **state)
{
	struct fx *f = *state;
	struct vs_http_response resp;
	struct vs_error err;

	assert_int_equal(do_req(f, "GET", "/ok", 1, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.body_len, 5);
	assert_string_equal(resp.body, "hello");
	assert_int_equal(resp.attempts, 1);
	assert_string_equal(vs_http_header(&resp, "x-test"), "spaced value");
	assert_string_equal(vs_http_header(&resp, "CONTENT-TYPE"),
			    "text/plain");
	assert_null(vs_http_header(&resp, "X-Missing"));
	vs_http_response_release(&resp);
	assert_null(resp.body);
	assert_int_equal(resp.n_headers, 0);
	assert_int_equal(stats(f).requests, 1);
	assert_int_equal(stats(f).retries, 0);
}

static void test_status_not_retried(void **state)
{
	struct fx *f = *state;
	struct vs_http_response resp;
	struct vs_error err;

	/* 404 and 500 are answers, not transient failures. */
	assert_int_equal(do_req(f, "GET", "/nowhere", 1, &resp, &err), 0);
	assert_int_equal(resp.status, 404);
	vs_http_response_release(&resp);
	assert_int_equal(do_req(f, "GET", "/s500", 1, &resp, &err), 0);
	assert_int_equal(resp.status, 500);
	assert_string_equal(resp.body, "broken");
	vs_http_response_release(&resp);
	assert_int_equal(srv_hits(f->srv, P_S500), 1);
	assert_int_equal(stats(f).retries, 0);
}

static void test_retry_then_success(void **state)
{
	struct fx *f = *state;
	struct vs_http_response resp;
	struct vs_error err;

	assert_int_equal(do_req(f, "GET", "/flaky", 1, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.body, "done");
	assert_int_equal(resp.attempts, 3);
	/* Headers of the last response only. */
	assert_null(vs_http_header(&resp, "X-Busy"));
	assert_string_equal(vs_http_header(&resp, "Content-Type"),
			    "text/plain");
	vs_http_response_release(&resp);
	assert_int_equal(srv_hits(f->srv, P_FLAKY), 3);
	assert_int_equal(stats(f).requests, 3);
	assert_int_equal(stats(f).retries, 2);
	/* Jitter stays within the policy's ceiling. */
	assert_true(stats(f).backoff_ms <= 2 * 20);
}

static void test_retry_after_seconds(void **state)
{
	struct fx *f = *state;
	struct vs_http_response resp;
	struct vs_error err;

	assert_int_equal(do_req(f, "GET", "/ra", 1, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.attempts, 2);
	vs_http_response_release(&resp);
	assert_int_equal(srv_hits(f->srv, P_RA), 2);
	/* The wait chosen is the server's Retry-After: 1, not jitter. */
	assert_int_equal(stats(f).backoff_ms, 1000);
}

static void test_retry_after_date_429(void **state)
{
	struct fx *f = *state;
	struct vs_http_response resp;
	struct vs_error err;

	/*
	 * The server asks for 3 s by date; the cap of 300 ms applies.  Jitter
	 * alone could never reach 300 ms (backoff_max_ms is 20), so a wait of
	 * exactly 300 ms shows the date was parsed and honoured.
	 */
	vs_http_free(f->h);
	vs_http_shared_free(f->sh);
	f->pol.retry_after_max_ms = 300;
	fx_client(f);
	assert_int_equal(do_req(f, "GET", "/ra-date", 1, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.attempts, 2);
	vs_http_response_release(&resp);
	assert_int_equal(srv_hits(f->srv, P_RA_DATE), 2);
	assert_int_equal(stats(f).backoff_ms, 300);
}

static void test_retries_exhausted_server(void **state)
{
	struct fx *f = *state;
	struct vs_http_response resp;
	struct vs_error err;
	char needle[64];

	assert_int_equal(
		do_req(f, "GET", "/always503?token=SECRET123", 1, &resp, &err),
		VS_ERR);
	assert_int_equal(err.cls, VS_EC_SERVER);
	assert_int_equal(err.http_status, 503);
	assert_int_equal(err.retryable, 1);
	assert_int_equal(srv_hits(f->srv, P_ALWAYS503), 4);
	assert_null(resp.body);
	snprintf(needle, sizeof(needle), "GET 127.0.0.1:%d", f->srv->port);
	assert_non_null(strstr(err.message, needle));
	assert_non_null(strstr(err.message, "HTTP 503 after 4 tries"));
	/* A one-line excerpt of the text body. */
	assert_non_null(strstr(err.message, "service down try later"));
	assert_null(strchr(err.message, '\n'));
	/* Never the query string. */
	assert_null(strstr(err.message, "SECRET123"));
	assert_null(strstr(err.message, "token"));
}

static void test_retries_exhausted_throttled(void **state)
{
	struct fx *f = *state;
	struct vs_http_response resp;
	struct vs_error err;

	assert_int_equal(do_req(f, "GET", "/always429", 1, &resp, &err),
			 VS_ERR);
	assert_int_equal(err.cls, VS_EC_THROTTLED);
	assert_int_equal(err.http_status, 429);
	assert_int_equal(err.retryable, 1);
	assert_non_null(strstr(err.message, "over limit"));
	assert_int_equal(srv_hits(f->srv, P_ALWAYS429), 4);
	assert_int_equal(stats(f).retries, 3);
}

static void test_post_not_retried_after_response(void **state)
{
	struct fx *f = *state;
	struct vs_http_request req;
	struct vs_http_response resp;
	struct vs_error err;
	static const char body[] = "{\"a\":1}";

	/* The server answered: a non-idempotent request gets that answer. */
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = url_of(f, "/post503");
	req.body = body;
	req.body_len = strlen(body);
	vs_error_clear(&err);
	assert_int_equal(vs_http_do(f->h, &req, &resp, &err), 0);
	assert_int_equal(resp.status, 503);
	assert_int_equal(resp.attempts, 1);
	vs_http_response_release(&resp);
	assert_int_equal(srv_hits(f->srv, P_POST503), 1);
	assert_int_equal(stats(f).retries, 0);
}

static void test_methods_and_bodies(void **state)
{
	struct fx *f = *state;
	struct vs_http_request req;
	struct vs_http_response resp;
	struct vs_error err;
	static const char *const hdrs[] = {"Content-Type: application/json",
					   NULL};

	memset(&req, 0, sizeof(req));
	req.url = url_of(f, "/echo");
	req.headers = hdrs;
	req.idempotent = 1;

	req.method = "PUT";
	req.body = "{\"x\":2}";
	req.body_len = 7;
	vs_error_clear(&err);
	assert_int_equal(vs_http_do(f->h, &req, &resp, &err), 0);
	assert_string_equal(resp.body, "PUT:{\"x\":2}");
	vs_http_response_release(&resp);

	req.method = "DELETE";
	req.body = NULL;
	req.body_len = 0;
	assert_int_equal(vs_http_do(f->h, &req, &resp, &err), 0);
	assert_string_equal(resp.body, "DELETE:");
	vs_http_response_release(&resp);

	req.method = "POST";
	req.body = "a=b";
	req.body_len = 3;
	assert_int_equal(vs_http_do(f->h, &req, &resp, &err), 0);
	assert_string_equal(resp.body, "POST:a=b");
	vs_http_response_release(&resp);

	/* After a POST the handle goes back to GET. */
	req.method = "GET";
	req.body = NULL;
	req.body_len = 0;
	assert_int_equal(vs_http_do(f->h, &req, &resp, &err), 0);
	assert_string_equal(resp.body, "GET:");
	vs_http_response_release(&resp);

	req.method = "get me";
	assert_int_equal(vs_http_do(f->h, &req, &resp, &err), VS_ERR);
	assert_int_equal(err.cls, VS_EC_CONFIG);
}

static void test_size_cap(void **state)
{
	struct fx *f = *state;
	struct vs_http_request req;
	struct vs_http_response resp;
	struct vs_error err;

	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.url = url_of(f, "/big");
	req.idempotent = 1;
	req.max_body = 1024;
	vs_error_clear(&err);
	assert_int_equal(vs_http_do(f->h, &req, &resp, &err), VS_ERR);
	assert_int_equal(err.cls, VS_EC_INVALID_RESPONSE);
	assert_non_null(strstr(err.message, "1024 byte cap"));
	assert_null(resp.body);
	/* Not a transient failure: sent once. */
	assert_int_equal(srv_hits(f->srv, P_BIG), 1);

	/* The policy's default cap lets it through. */
	req.max_body = 0;
	vs_error_clear(&err);
	assert_int_equal(vs_http_do(f->h, &req, &resp, &err), 0);
	assert_int_equal(resp.body_len, sizeof(big_body));
	assert_memory_equal(resp.body, big_body, sizeof(big_body));
	vs_http_response_release(&resp);
}

static void test_timeout(void **state)
{
	struct fx *f = *state;
	struct vs_http_request req;
	struct vs_http_response resp;
	struct vs_error err;

	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.url = url_of(f, "/hold");
	req.idempotent = 1;
	req.timeout_ms = 300;
	vs_http_free(f->h);
	vs_http_shared_free(f->sh);
	f->pol.max_retries = 1;
	fx_client(f);
	vs_error_clear(&err);
	assert_int_equal(vs_http_do(f->h, &req, &resp, &err), VS_ERR);
	assert_int_equal(err.cls, VS_EC_TIMEOUT);
	assert_int_equal(err.retryable, 1);
	assert_non_null(strstr(err.message, "timed out"));
	/* Idempotent: tried again once. */
	assert_int_equal(stats(f).requests, 2);

	/* A POST that may have reached the server is not sent again. */
	req.method = "POST";
	req.idempotent = 0;
	vs_error_clear(&err);
	assert_int_equal(vs_http_do(f->h, &req, &resp, &err), VS_ERR);
	assert_int_equal(err.cls, VS_EC_TIMEOUT);
	assert_int_equal(stats(f).requests, 3);
}

/* A port nobody listens on: bound, never listening, so connect is refused. */
static int refused_port(int *fd)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	*fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(*fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(*fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(*fd, (struct sockaddr *)&sa, &len), 0);
	return ntohs(sa.sin_port);
}

static void test_connection_refused(void **state)
{
	struct fx *f = *state;
	struct vs_http_request req;
	struct vs_http_response resp;
	struct vs_error err;
	char url[128], needle[64];
	int fd, port = refused_port(&fd);

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x?password=hunter2",
		 port);
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = url;
	req.idempotent = 0;
	vs_error_clear(&err);
	assert_int_equal(vs_http_do(f->h, &req, &resp, &err), VS_ERR);
	assert_int_equal(err.cls, VS_EC_TRANSPORT);
	assert_int_equal(err.retryable, 1);
	snprintf(needle, sizeof(needle), "POST 127.0.0.1:%d", port);
	assert_non_null(strstr(err.message, needle));
	assert_null(strstr(err.message, "hunter2"));
	/* Never connected, so even a POST is retried. */
	assert_int_equal(stats(f).requests, 4);
	assert_int_equal(stats(f).retries, 3);
	close(fd);
}

static void test_basic_auth(void **state)
{
	struct fx *f = *state;
	struct vs_http_request req;
	struct vs_http_response resp;
	struct vs_error err;

	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.url = url_of(f, "/auth");
	req.idempotent = 1;
	req.basic_user = "admin";
	req.basic_password = "s3cret";
	vs_error_clear(&err);
	assert_int_equal(vs_http_do(f->h, &req, &resp, &err), 0);
	assert_string_equal(resp.body, "Basic YWRtaW46czNjcmV0");
	vs_http_response_release(&resp);

	/* Credentials do not stick to the handle. */
	req.basic_user = NULL;
	req.basic_password = NULL;
	assert_int_equal(vs_http_do(f->h, &req, &resp, &err), 0);
	assert_string_equal(resp.body, "(none)");
	vs_http_response_release(&resp);
}

static void test_connection_reuse(void **state)
{
	struct fx *f = *state;
	struct vs_http_response resp;
	struct vs_error err;
	struct vs_http *h2;
	int i;

	for (i = 0; i < 3; i++) {
		assert_int_equal(do_req(f, "GET", "/ok", 1, &resp, &err), 0);
		vs_http_response_release(&resp);
	}
	assert_int_equal(srv_hits(f->srv, P_OK), 3);
	assert_int_equal(srv_connections(f->srv), 1);
	assert_int_equal(stats(f).connects, 1);

	/*
	 * A second handle on the same share does not take the first one's
	 * idle connection: libcurl does not support a connection cache
	 * shared between threads, so each handle opens its own and then
	 * keeps reusing it, whichever handle ran last.
	 */
	vs_error_clear(&err);
	h2 = vs_http_new(f->sh, &err);
	assert_non_null(h2);
	for (i = 0; i < 3; i++) {
		struct vs_http *keep = f->h;

		f->h = h2;
		assert_int_equal(do_req(f, "GET", "/ok", 1, &resp, &err), 0);
		vs_http_response_release(&resp);
		f->h = keep;
		assert_int_equal(do_req(f, "GET", "/ok", 1, &resp, &err), 0);
		vs_http_response_release(&resp);
	}
	vs_http_free(h2);
	assert_int_equal(srv_hits(f->srv, P_OK), 9);
	assert_int_equal(srv_connections(f->srv), 2);
	assert_int_equal(stats(f).connects, 2);
}

struct cancel_arg {
	struct fx *f;
	int rc;
	struct vs_error err;
};

static void *cancel_worker(void *p)
{
	struct cancel_arg *a = p;
	struct vs_http_response resp;

	a->rc = do_req(a->f, "GET", "/ra-long", 1, &resp, &a->err);
	if (a->rc == 0)
		vs_http_response_release(&resp);
	return NULL;
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_cancel_during_backoff(void **state)
{
	struct fx *f = *state;
	struct cancel_arg a;
	struct vs_http_response resp;
	struct vs_error err;
	pthread_t t;
	int64_t t0;
	int i;

	memset(&a, 0, sizeof(a));
	a.f = f;
	t0 = mono_ms();
	assert_int_equal(pthread_create(&t, NULL, cancel_worker, &a), 0);
	/* Wait (bounded) until the server has answered 503 + 30 s. */
	for (i = 0; i < 500 && srv_hits(f->srv, P_RA_LONG) < 1; i++)
		usleep(10000);
	assert_int_equal(srv_hits(f->srv, P_RA_LONG), 1);
	assert_false(vs_http_shared_cancelled(f->sh));
	vs_http_shared_cancel(f->sh);
	assert_true(vs_http_shared_cancelled(f->sh));
	pthread_join(t, NULL);
	assert_int_equal(a.rc, VS_ERR);
	assert_int_equal(a.err.cls, VS_EC_CANCELLED);
	/* Far short of the 30 s the server asked for. */
	assert_true(mono_ms() - t0 < 15000);
	assert_int_equal(srv_hits(f->srv, P_RA_LONG), 1);

	/* Later requests fail at once without reaching the server. */
	assert_int_equal(do_req(f, "GET", "/ok", 1, &resp, &err), VS_ERR);
	assert_int_equal(err.cls, VS_EC_CANCELLED);
	assert_int_equal(srv_hits(f->srv, P_OK), 0);
}

/* ------------------------------------------------------------------ */
/* Adaptive concurrency (aimd.h).                                       */

static struct vs_aimd_stats aimd_stats(struct vs_aimd *a)
{
	struct vs_aimd_stats st;

	vs_aimd_stats(a, &st);
	return st;
}

/* 429 and 503 cut the window, also when retried here; answers grow it. */
static void test_limiter_signals(void **state)
{
	struct fx *f = *state;
	struct vs_aimd *a = vs_aimd_new("t", 16);
	struct vs_http_request req;
	struct vs_http_response resp;
	struct vs_error err;

	assert_non_null(a);
	vs_http_set_limiter(f->h, a);
	assert_ptr_equal(vs_http_limiter(f->h), a);
	/* Two 503s then 200: each retry was sent after the cut before. */
	assert_int_equal(do_req(f, "GET", "/flaky", 1, &resp, &err), 0);
	vs_http_response_release(&resp);
	assert_int_equal(aimd_stats(a).decreases, 2);
	assert_int_equal(aimd_stats(a).min, 4);
	/* w = 4 + 1/4 after the 200. */
	assert_int_equal(vs_aimd_limit(a), 4);
	/* 429s until the retries run out: four tries, each sent after the
	 * cut before, cut 4.25 to 2.1, 1.1 and 1; the fourth finds 1. */
	assert_int_equal(do_req(f, "GET", "/always429", 1, &resp, &err),
			 VS_ERR);
	assert_int_equal(err.cls, VS_EC_THROTTLED);
	assert_int_equal(aimd_stats(a).decreases, 5);
	assert_int_equal(vs_aimd_limit(a), 1);
	/* A 404 and a 500 are answers: the window grows. */
	assert_int_equal(do_req(f, "GET", "/nowhere", 1, &resp, &err), 0);
	vs_http_response_release(&resp);
	assert_int_equal(vs_aimd_limit(a), 2);
	assert_int_equal(do_req(f, "GET", "/s500", 1, &resp, &err), 0);
	vs_http_response_release(&resp);
	/* A 503 to a POST is handed back, not retried, and still counts. */
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = url_of(f, "/post503");
	vs_error_clear(&err);
	assert_int_equal(vs_http_do(f->h, &req, &resp, &err), 0);
	assert_int_equal(resp.status, 503);
	vs_http_response_release(&resp);
	assert_int_equal(aimd_stats(a).decreases, 6);
	assert_int_equal(aimd_stats(a).pushbacks, 7);
	assert_int_equal(aimd_stats(a).in_flight, 0);

	/* A cancelled limiter refuses new requests before the wire. */
	vs_aimd_cancel(a);
	assert_int_equal(do_req(f, "GET", "/ok", 1, &resp, &err), VS_ERR);
	assert_int_equal(err.cls, VS_EC_CANCELLED);
	assert_int_equal(srv_hits(f->srv, P_OK), 0);
	/* Without the limiter the handle is ungated again. */
	vs_http_set_limiter(f->h, NULL);
	assert_int_equal(do_req(f, "GET", "/ok", 1, &resp, &err), 0);
	vs_http_response_release(&resp);
	vs_aimd_free(a);
}

/*
 * A request waiting out a Retry-After holds no slot: with a window of
 * one, another handle on the same limiter gets through meanwhile.
 */
static void test_limiter_not_held_in_backoff(void **state)
{
	struct fx *f = *state;
	struct vs_aimd *a = vs_aimd_new("t", 2);
	struct vs_http *h2;
	struct cancel_arg ca;
	struct vs_http_request req;
	struct vs_http_response resp;
	struct vs_error err;
	pthread_t t;
	int i;

	assert_non_null(a);
	vs_http_set_limiter(f->h, a);
	memset(&ca, 0, sizeof(ca));
	ca.f = f;
	assert_int_equal(pthread_create(&t, NULL, cancel_worker, &ca), 0);
	/* Bounded wait for the 503 + 30 s to have come back and cut. */
	for (i = 0; i < 500 && !(srv_hits(f->srv, P_RA_LONG) == 1 &&
				 aimd_stats(a).decreases == 1);
	     i++)
		usleep(10000);
	assert_int_equal(aimd_stats(a).decreases, 1);
	assert_int_equal(vs_aimd_limit(a), 1);
	assert_int_equal(aimd_stats(a).in_flight, 0);

	vs_error_clear(&err);
	h2 = vs_http_new(f->sh, &err);
	assert_non_null(h2);
	vs_http_set_limiter(h2, a);
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.url = url_of(f, "/ok");
	req.idempotent = 1;
	assert_int_equal(vs_http_do(h2, &req, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	vs_http_response_release(&resp);
	assert_int_equal(aimd_stats(a).waits, 0);
	vs_http_free(h2);

	vs_http_shared_cancel(f->sh);
	pthread_join(t, NULL);
	assert_int_equal(ca.rc, VS_ERR);
	assert_int_equal(ca.err.cls, VS_EC_CANCELLED);
	assert_int_equal(aimd_stats(a).in_flight, 0);
	vs_aimd_free(a);
}

struct hold_arg {
	struct fx *f;
	const char *method;
	int rc;
	struct vs_error err;
};

static void *hold_worker(void *p)
{
	struct hold_arg *a = p;
	struct vs_http_response resp;

	a->rc = do_req(a->f, a->method, "/hold", 1, &resp, &a->err);
	if (a->rc == 0)
		vs_http_response_release(&resp);
	return NULL;
}

/*
 * A cancel leaves a transfer on the wire alone; an abort ends it, long
 * before the server answers or the request times out, and nothing is
 * retried.
 */
static void test_abort_in_flight(void **state)
{
	struct fx *f = *state;
	struct hold_arg a;
	struct vs_http_response resp;
	struct vs_error err;
	pthread_t t;
	int i;

	vs_http_free(f->h);
	vs_http_shared_free(f->sh);
	f->pol.timeout_ms = 60000;
	fx_client(f);
	memset(&a, 0, sizeof(a));
	a.f = f;
	a.method = "DELETE";
	assert_int_equal(pthread_create(&t, NULL, hold_worker, &a), 0);
	for (i = 0; i < 500 && srv_hits(f->srv, P_HOLD) < 1; i++)
		usleep(10000);
	assert_int_equal(srv_hits(f->srv, P_HOLD), 1);
	vs_http_shared_abort(f->sh);
	assert_true(vs_http_shared_cancelled(f->sh));
	pthread_join(t, NULL);
	/* The server still holds the request: only the abort ended it. */
	assert_int_equal(a.rc, VS_ERR);
	assert_int_equal(a.err.cls, VS_EC_CANCELLED);
	assert_non_null(strstr(a.err.message, "aborted in flight"));
	assert_int_equal(srv_hits(f->srv, P_HOLD), 1);
	assert_int_equal(stats(f).requests, 1);

	assert_int_equal(do_req(f, "GET", "/ok", 1, &resp, &err), VS_ERR);
	assert_int_equal(err.cls, VS_EC_CANCELLED);
	assert_int_equal(srv_hits(f->srv, P_OK), 0);
}

#define N_THREADS    4
#define N_PER_THREAD 25

struct thread_arg {
	struct fx *f;
	int port;
	int ok;
};

static void *thread_worker(void *p)
{
	struct thread_arg *a = p;
	struct vs_error err;
	struct vs_http *h;
	struct vs_http_request req;
	struct vs_http_response resp;
	char url[128];
	int i;

	vs_error_clear(&err);
	h = vs_http_new(a->f->sh, &err);
	if (!h)
		return NULL;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/ok", a->port);
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.url = url;
	req.idempotent = 1;
	for (i = 0; i < N_PER_THREAD; i++) {
		vs_error_clear(&err);
		if (vs_http_do(h, &req, &resp, &err) == 0) {
			if (resp.status == 200 &&
			    strcmp(resp.body, "hello") == 0)
				a->ok++;
			vs_http_response_release(&resp);
		}
	}
	vs_http_free(h);
	return NULL;
}

static void test_threads_share(void **state)
{
	struct fx *f = *state;
	struct thread_arg a[N_THREADS];
	pthread_t t[N_THREADS];
	int i;

	for (i = 0; i < N_THREADS; i++) {
		a[i].f = f;
		a[i].port = f->srv->port;
		a[i].ok = 0;
		assert_int_equal(
			pthread_create(&t[i], NULL, thread_worker, &a[i]), 0);
	}
	for (i = 0; i < N_THREADS; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(a[i].ok, N_PER_THREAD);
	}
	assert_int_equal(srv_hits(f->srv, P_OK), N_THREADS * N_PER_THREAD);
	assert_int_equal(stats(f).requests, N_THREADS * N_PER_THREAD);
	/*
	 * Each worker's handle opens one connection and reuses it for all
	 * its requests; no handle takes another's, so there is exactly one
	 * per worker.
	 */
	assert_int_equal(srv_connections(f->srv), N_THREADS);
	assert_int_equal(stats(f).connects, N_THREADS);
}

/*
 * A one-shot raw server for what libmicrohttpd will not send: an interim
 * response with headers, folded header lines, a flood of headers.  It
 * accepts one connection, reads the request head, writes the canned
 * bytes and closes.
 */
struct raw_srv {
	int fd;
	int port;
	const char *response;
	pthread_t thread;
};

static void *raw_serve(void *p)
{
	struct raw_srv *r = p;
	char buf[4096];
	size_t got = 0;
	int c = accept(r->fd, NULL, NULL);

	if (c < 0)
		return NULL;
	while (got < sizeof(buf) - 1) {
		ssize_t n = read(c, buf + got, sizeof(buf) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		buf[got] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			break;
	}
	got = strlen(r->response);
	for (size_t off = 0; off < got;) {
		ssize_t n = send(c, r->response + off, got - off, MSG_NOSIGNAL);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(c);
	return NULL;
}

static void raw_start(struct raw_srv *r, const char *response)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	r->response = response;
	r->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(r->fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(r->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(r->fd, 1), 0);
	assert_int_equal(getsockname(r->fd, (struct sockaddr *)&sa, &len), 0);
	r->port = ntohs(sa.sin_port);
	assert_int_equal(pthread_create(&r->thread, NULL, raw_serve, r), 0);
}

static void raw_stop(struct raw_srv *r)
{
	pthread_join(r->thread, NULL);
	close(r->fd);
}

static int raw_get(struct fx *f, struct raw_srv *r,
		   struct vs_http_response *resp, struct vs_error *err)
{
	struct vs_http_request req;
	char url[128];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/raw", r->port);
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.url = url;
	/* Not idempotent: the one-shot server answers exactly once. */
	req.idempotent = 0;
	vs_error_clear(err);
	return vs_http_do(f->h, &req, resp, err);
}

static void test_headers_of_final_response(void **state)
{
	struct fx *f = *state;
	struct raw_srv r;
	struct vs_http_response resp;
	struct vs_error err;

	raw_start(&r, "HTTP/1.1 100 Continue\r\n"
		      "X-Interim: 1\r\n"
		      "\r\n"
		      "HTTP/1.1 200 OK\r\n"
		      "Content-Length: 2\r\n"
		      "X-Folded: first\r\n"
		      "\t  second  \r\n"
		      "X-Empty:\r\n"
		      "Connection: close\r\n"
		      "\r\n"
		      "ok");
	assert_int_equal(raw_get(f, &r, &resp, &err), 0);
	raw_stop(&r);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.body, "ok");
	assert_null(vs_http_header(&resp, "X-Interim"));
	assert_string_equal(vs_http_header(&resp, "X-Folded"), "first second");
	assert_string_equal(vs_http_header(&resp, "X-Empty"), "");
	assert_int_equal(resp.n_headers, 4);
	vs_http_response_release(&resp);
}

static void test_too_many_headers(void **state)
{
	struct fx *f = *state;
	struct raw_srv r;
	struct vs_http_response resp;
	struct vs_error err;
	static char flood[32 * 1024];
	size_t n = 0;
	int i;

	n += (size_t)snprintf(flood + n, sizeof(flood) - n,
			      "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n");
	for (i = 0; i < 400; i++)
		n += (size_t)snprintf(flood + n, sizeof(flood) - n,
				      "X-H%d: v\r\n", i);
	snprintf(flood + n, sizeof(flood) - n, "\r\n");
	raw_start(&r, flood);
	assert_int_equal(raw_get(f, &r, &resp, &err), VS_ERR);
	raw_stop(&r);
	assert_int_equal(err.cls, VS_EC_INVALID_RESPONSE);
	assert_non_null(strstr(err.message, "headers"));
	assert_null(resp.headers);
}

/* ------------------------------------------------------------------ */
/* TLS.                                                                 */

static int tls_supported(void)
{
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) == MHD_YES)
		return 1;
	print_message("libmicrohttpd without TLS: skipping TLS tests\n");
	return 0;
}

static int tls_get(struct vs_http *h, int port, const char *ca_file,
		   int insecure, struct vs_http_response *resp,
		   struct vs_error *err)
{
	struct vs_http_request req;
	char url[128];

	snprintf(url, sizeof(url), "https://127.0.0.1:%d/ok", port);
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.url = url;
	req.idempotent = 1;
	req.ca_file = ca_file;
	req.insecure = insecure;
	vs_error_clear(err);
	return vs_http_do(h, &req, resp, err);
}

static void test_tls_untrusted(void **state)
{
	struct fx *f = *state;
	struct srv *s;
	struct vs_http_response resp;
	struct vs_error err;
	char ca[512], needle[64];

	if (!tls_supported())
		skip();
	cert_path(ca, sizeof(ca), "ca.pem");
	s = srv_start("untrusted");

	/* Not trusted by the system store, nor by our CA. */
	assert_int_equal(tls_get(f->h, s->port, NULL, 0, &resp, &err), VS_ERR);
	assert_int_equal(err.cls, VS_EC_TLS);
	assert_int_equal(err.retryable, 0);
	snprintf(needle, sizeof(needle),
		 "TLS certificate of 127.0.0.1:%d not trusted", s->port);
	assert_non_null(strstr(err.message, needle));
	assert_non_null(strstr(err.message, "set ca_file or insecure"));
	assert_int_equal(stats(f).requests, 1);

	assert_int_equal(tls_get(f->h, s->port, ca, 0, &resp, &err), VS_ERR);
	assert_int_equal(err.cls, VS_EC_TLS);

	/* insecure is the explicit way out. */
	assert_int_equal(tls_get(f->h, s->port, NULL, 1, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	vs_http_response_release(&resp);

	/* ... and does not stick to the handle. */
	assert_int_equal(tls_get(f->h, s->port, NULL, 0, &resp, &err), VS_ERR);
	assert_int_equal(err.cls, VS_EC_TLS);

	srv_stop(s);
}

static void test_tls_ca_file(void **state)
{
	struct fx *f = *state;
	struct srv *s;
	struct vs_http_response resp;
	struct vs_error err;
	char ca[512], wrong[512];

	if (!tls_supported())
		skip();
	cert_path(ca, sizeof(ca), "ca.pem");
	cert_path(wrong, sizeof(wrong), "untrusted.pem");
	s = srv_start("server");

	assert_int_equal(tls_get(f->h, s->port, ca, 0, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.body, "hello");
	vs_http_response_release(&resp);

	assert_int_equal(tls_get(f->h, s->port, wrong, 0, &resp, &err), VS_ERR);
	assert_int_equal(err.cls, VS_EC_TLS);
	assert_non_null(strstr(err.message, "not trusted"));

	assert_int_equal(
		tls_get(f->h, s->port, "/nonexistent/ca.pem", 0, &resp, &err),
		VS_ERR);
	assert_int_equal(err.cls, VS_EC_TLS);

	srv_stop(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_retry_after),
		cmocka_unit_test(test_retry_delay),
		cmocka_unit_test(test_policy_rejected),
		cmocka_unit_test_setup_teardown(test_ok_headers, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_status_not_retried, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_retry_then_success, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_retry_after_seconds, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_retry_after_date_429,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_retries_exhausted_server,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_retries_exhausted_throttled, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_post_not_retried_after_response, setup, teardown),
		cmocka_unit_test_setup_teardown(test_methods_and_bodies, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_size_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connection_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_basic_auth, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_connection_reuse, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cancel_during_backoff,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_limiter_signals, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_limiter_not_held_in_backoff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abort_in_flight, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_threads_share, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_headers_of_final_response,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_many_headers, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_tls_untrusted, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_tls_ca_file, setup,
						teardown),
	};
	struct vs_log_opts lo = {
		.level = VS_LOG_DEBUG,
		.format = VS_LOG_TEXT,
		/* Quiet unless asked: the retry warnings are expected. */
		.fd = getenv("VS_TEST_VERBOSE") ? 2 : -1,
		.file = NULL,
		.timestamps = 1,
	};
	struct vs_error err;
	int rc;

	/* Loopback only: a proxy from the environment must not step in. */
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("https_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	memset(big_body, 'x', sizeof(big_body));
	vs_error_clear(&err);
	if (vs_log_setup(&lo, &err) || vs_http_global_init(&err)) {
		fprintf(stderr, "test_http: %s\n", err.message);
		return 1;
	}
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	vs_http_global_cleanup();
	vs_log_teardown();
	return rc;
}
