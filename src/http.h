/*
 * http.h - the HTTP client (libcurl underneath).
 *
 * One struct vs_http_shared per process holds a curl share handle (DNS
 * cache and TLS sessions) with its locks and the retry policy.  Each
 * worker thread owns one struct vs_http (one easy handle) attached to it.
 * DNS answers and TLS sessions are reused across workers; connections are
 * not shared (libcurl does not support sharing them between threads), so
 * each struct vs_http keeps its own and reuses them across its requests:
 * about one connection per worker per host.
 *
 * vs_http_do() sends one request (struct vs_http_request in provider.h)
 * and retries transport errors and 429/502/503/504 with exponential
 * backoff and full jitter, honouring Retry-After (seconds or HTTP-date,
 * capped).  A non-idempotent request is retried only when it cannot have
 * reached the server (connect failures).  Responses beyond max_body fail
 * with class invalid_response.  TLS is verified unless the request says
 * insecure.  Proxies come from the environment (libcurl's own handling).
 * Redirects are not followed: a 3xx is returned like any other status.
 *
 * curl_global_init() must have run (vs_http_global_init, in main) before
 * any thread starts.
 *
 * Threading: vs_http_shared_* are called by the owner thread before and
 * after the workers, except vs_http_shared_cancel(),
 * vs_http_shared_abort(), vs_http_shared_cancelled() and
 * vs_http_shared_stats(), safe anywhere
 * (not in a signal handler).  A struct vs_http is used by one thread at a
 * time; several threads may each use their own struct vs_http attached to
 * the same struct vs_http_shared at once.
 */
#ifndef VS_HTTP_H
#define VS_HTTP_H

#include <stdint.h>

#include "provider.h"

struct vs_http_shared;

struct vs_http_policy {
	int max_retries;	 /* retries after the first try; default 4 */
	long backoff_base_ms;	 /* default 200 */
	long backoff_max_ms;	 /* default 10000 */
	long retry_after_max_ms; /* cap on Retry-After; default 60000 */
	long connect_timeout_ms; /* default 10000 */
	long timeout_ms;	 /* total per try; default 60000 */
	size_t max_body;	 /* default 64 MiB */
	const char *user_agent;	 /* default "vmsweep/VERSION" */
};

/* Fill p with the defaults above. */
void vs_http_policy_defaults(struct vs_http_policy *p);

/*
 * Once per process, before threads: curl_global_init.  Returns VS_ERR
 * with class internal when libcurl cannot initialise.
 */
int vs_http_global_init(struct vs_error *err);
void vs_http_global_cleanup(void);

/*
 * Create the shared state with a copy of p (NULL: the defaults; the
 * user_agent string is copied too).  Returns NULL with err filled (class
 * config for a policy out of range, internal otherwise).  The caller owns
 * the result and frees it with vs_http_shared_free() after every struct
 * vs_http attached to it is freed.
 */
struct vs_http_shared *vs_http_shared_new(const struct vs_http_policy *p,
					  struct vs_error *err);
/* Free the shared state; NULL is fine. */
void vs_http_shared_free(struct vs_http_shared *sh);
/*
 * Make waits (backoff, Retry-After) end early and new requests fail with
 * class cancelled.  A transfer already on the wire runs to its end (it is
 * bounded by its timeout) so that a delete in flight is not cut in half.
 * Irreversible.  Safe from any thread, not from a signal handler.
 */
void vs_http_shared_cancel(struct vs_http_shared *sh);
/*
 * vs_http_shared_cancel(), and also end transfers already on the wire
 * (within about a second): they fail with class cancelled, "aborted in
 * flight", and whether the server acted on them is unknown.  For when a
 * grace period is over.  Irreversible.  Safe from any thread, not from a
 * signal handler.
 */
void vs_http_shared_abort(struct vs_http_shared *sh);
/* 1 once vs_http_shared_cancel() ran.  Safe from any thread. */
int vs_http_shared_cancelled(const struct vs_http_shared *sh);

/*
 * A client (one easy handle) attached to sh.  Returns NULL with err
 * filled (class internal) on failure.  The caller owns it; one thread at
 * a time uses it.
 */
struct vs_http *vs_http_new(struct vs_http_shared *sh, struct vs_error *err);
/* Free a client; NULL is fine. */
void vs_http_free(struct vs_http *h);

struct vs_aimd; /* aimd.h */
/*
 * Gate h's requests by limiter a (NULL: no gate): from now on every try
 * of vs_http_do() on h takes one of a's slots while it is on the wire
 * and tells a how it went (429 and 503: pushback; other statuses:
 * success; no answer: neither).  Borrowed: a must outlive its use on h.
 * Called by the thread that owns h, between requests.
 */
void vs_http_set_limiter(struct vs_http *h, struct vs_aimd *a);
/* The limiter set on h, or NULL. */
struct vs_aimd *vs_http_limiter(const struct vs_http *h);

/*
 * What runs the host's fan_out (provider.h) for a provider that calls it
 * with handle h: call(h', i, arg) once for every i in [0, n), where h'
 * is the handle of whichever worker runs item i (h itself among them),
 * at most width at once (0: the runner's default for the provider h is
 * working for).  Returns when every started call has finished: the
 * number that ran (fewer when the run was cancelled).
 */
typedef size_t (*vs_http_fan_out_fn)(
	void *udata, struct vs_http *h, size_t n, unsigned int width,
	void (*call)(struct vs_http *http, size_t i, void *arg), void *arg);
/*
 * Register (or, with fn NULL, remove) the fan-out runner of h: the
 * sweep sets one on each worker's handle; without one the host runs the
 * calls in order on h.  Set by h's owner while no request is running on
 * it; udata is borrowed.
 */
void vs_http_set_fan_out(struct vs_http *h, vs_http_fan_out_fn fn, void *udata);
/* The runner of h (NULL when none) and its udata. */
vs_http_fan_out_fn vs_http_get_fan_out(const struct vs_http *h, void **udata);

/*
 * The http_do of struct vs_host (see provider.h).  Returns 0 when a
 * response arrived, whatever its status; resp is then filled and owned by
 * the caller (vs_http_response_release).  Returns VS_ERR with err filled
 * and resp empty otherwise:
 *   transport         connection refused or reset, DNS failure, empty reply
 *   timeout           connect or total timeout
 *   tls               certificate not trusted, handshake failure
 *   throttled/server  429 / 502, 503, 504 when the retries ran out
 *                     (http_status set, message with a body excerpt)
 *   invalid_response  the body passed max_body (the message says the cap)
 *   cancelled         vs_http_shared_cancel() ran before or while waiting,
 *                     or the limiter (vs_http_set_limiter) was cancelled
 *   config            a malformed URL or method
 *   internal          out of memory
 * retryable is 1 for the transient classes (transport, timeout,
 * throttled, server).
 *
 * Retry rules: transport errors and timeouts are retried when the
 * request is idempotent, or when the connection never opened (DNS,
 * connection refused).  429/502/503/504 are retried only for idempotent
 * requests: a status means the server has seen the request, so a
 * non-idempotent request gets that response back (return 0) and its
 * caller decides.  Error messages name the method and host:port, never
 * the query string or headers.
 */
int vs_http_do(struct vs_http *h, const struct vs_http_request *req,
	       struct vs_http_response *resp, struct vs_error *err);
/* Free what a response owns and zero it; NULL or a zeroed one is fine. */
void vs_http_response_release(struct vs_http_response *resp);
/*
 * The value of the last header called name (case-insensitive), or NULL.
 * The pointer lives as long as resp.
 */
const char *vs_http_header(const struct vs_http_response *resp,
			   const char *name);

/* Counters for tests and the benchmark (summed over all handles). */
struct vs_http_stats {
	unsigned long requests; /* tries sent */
	unsigned long retries;
	unsigned long connects;	  /* new connections opened */
	unsigned long backoff_ms; /* sum of the waits chosen before retries */
};
/* A snapshot of the counters; safe from any thread. */
void vs_http_shared_stats(struct vs_http_shared *sh, struct vs_http_stats *st);

/*
 * Parse a Retry-After value (delta-seconds or HTTP-date: IMF-fixdate,
 * RFC 850 and asctime forms) relative to now (Unix seconds); returns
 * milliseconds (0 for a date in the past), or -1 when unparsable.  Pure.
 */
long vs_http_parse_retry_after(const char *value, long long now);

/*
 * The wait before retry number retry (0 for the first retry): the
 * server's retry_after_ms capped by p->retry_after_max_ms when it is
 * >= 0, else full jitter, rnd mapped into [0, min(backoff_max_ms,
 * backoff_base_ms * 2^retry)].  Pure; exposed for the tests.
 */
long vs_http_retry_delay_ms(const struct vs_http_policy *p, int retry,
			    long retry_after_ms, uint64_t rnd);

#endif
