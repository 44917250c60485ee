/*
 * http.h - the HTTP client (libcurl underneath).
 *
 * One struct vs_http_shared per process holds a curl share handle (DNS
 * cache, TLS sessions, connections) with its locks and the retry policy.
 * Each worker thread owns one struct vs_http (one easy handle) attached to
 * it, so connections and TLS sessions are reused across requests and
 * workers.
 *
 * vs_http_do() sends one request (struct vs_http_request in provider.h)
 * and retries transport errors and 429/502/503/504 with exponential
 * backoff and full jitter, honouring Retry-After (seconds or HTTP-date,
 * capped).  A non-idempotent request is retried only when it cannot have
 * reached the server (connect failures).  Responses beyond max_body fail
 * with class invalid_response.  TLS is verified unless the request says
 * insecure.  Proxies come from the environment (libcurl's own handling).
 *
 * curl_global_init() must have run (vs_http_global_init, in main) before
 * any thread starts.
 *
 * Threading: vs_http_shared_* are called by the owner thread before and
 * after the workers, except vs_http_shared_cancel(), safe anywhere (not
 * a signal handler).  A struct vs_http is used by one thread at a time.
 */
#ifndef VS_HTTP_H
#define VS_HTTP_H

#include "provider.h"

struct vs_http_shared;

struct vs_http_policy {
	int max_retries;          /* retries after the first try; default 4 */
	long backoff_base_ms;     /* default 200 */
	long backoff_max_ms;      /* default 10000 */
	long retry_after_max_ms;  /* cap on Retry-After; default 60000 */
	long connect_timeout_ms;  /* default 10000 */
	long timeout_ms;          /* total per try; default 60000 */
	size_t max_body;          /* default 64 MiB */
	const char *user_agent;   /* default "vmsweep/VERSION" */
};

/* Fill p with the defaults above. */
void vs_http_policy_defaults(struct vs_http_policy *p);

/* Once per process, before threads: curl_global_init. */
int vs_http_global_init(struct vs_error *err);
void vs_http_global_cleanup(void);

struct vs_http_shared *vs_http_shared_new(const struct vs_http_policy *p,
					  struct vs_error *err);
void vs_http_shared_free(struct vs_http_shared *sh);
/* Make waits (backoff, Retry-After) end early and new requests fail with
 * class cancelled. */
void vs_http_shared_cancel(struct vs_http_shared *sh);
int vs_http_shared_cancelled(const struct vs_http_shared *sh);

struct vs_http *vs_http_new(struct vs_http_shared *sh, struct vs_error *err);
void vs_http_free(struct vs_http *h);

int vs_http_do(struct vs_http *h, const struct vs_http_request *req,
	       struct vs_http_response *resp, struct vs_error *err);
void vs_http_response_release(struct vs_http_response *resp);
const char *vs_http_header(const struct vs_http_response *resp,
			   const char *name);

/* Counters for tests and the benchmark (summed over all handles). */
struct vs_http_stats {
	unsigned long requests;     /* tries sent */
	unsigned long retries;
	unsigned long connects;     /* new connections opened */
};
void vs_http_shared_stats(struct vs_http_shared *sh, struct vs_http_stats *st);

/*
 * Parse a Retry-After value (delta-seconds or HTTP-date) relative to now
 * (Unix seconds); returns milliseconds, or -1 when unparsable.
 */
long vs_http_parse_retry_after(const char *value, long long now);

#endif
