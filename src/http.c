/*
 * http.c - the HTTP client on libcurl.
 *
 * DESIGN
 *
 * Threads.  Each worker owns one struct vs_http and so one easy handle;
 * libcurl forbids using an easy handle from two threads at once, and we
 * never do.  The handles of all workers meet in one CURLSH that shares
 * the DNS cache and TLS sessions, so a worker's first connection to a host
 * skips the lookup and resumes a session another worker negotiated.  The
 * connection cache is not shared: libcurl does not support sharing it
 * between handles that run in different threads at once
 * (CURLSHOPT_SHARE).  Each easy handle keeps its own connections instead,
 * which curl_easy_reset() leaves alone, so a worker reuses one connection
 * per host across all its requests.  libcurl asks for a lock per kind of
 * shared data through share_lock/share_unlock; we keep one mutex per
 * curl_lock_data value, as libcurl recommends, so a DNS lookup never
 * waits for a TLS session lookup.
 *
 * Waiting.  The backoff between tries sleeps on a condition variable of
 * the shared state with a deadline on CLOCK_MONOTONIC, so that
 * vs_http_shared_cancel() (an atomic flag plus a broadcast under the
 * mutex) ends every wait at once and wall-clock jumps do not stretch one.
 * A transfer already on the wire is not interrupted: it is bounded by its
 * own timeout, and cutting a DELETE in half would leave the caller not
 * knowing whether it happened.  Only vs_http_shared_abort(), for when the
 * grace period after a stop signal is over, cuts transfers short: the
 * progress callback, which libcurl calls at least once a second, reads
 * the flag and makes the transfer fail.
 *
 * Randomness.  Full jitter needs random numbers in several threads; each
 * handle carries its own xorshift64* state, seeded from the clock, its
 * address and a shared atomic counter, so nothing is shared and nothing
 * is locked.
 *
 * Counters are relaxed atomics: they are statistics, not synchronisation.
 *
 * Adaptive concurrency.  A handle may carry its provider's limiter
 * (aimd.h).  Each try takes a slot just before curl_easy_perform() and
 * gives it back as soon as the transfer ended, saying how it went (429
 * and 503 push back, any other status is a success, no answer is
 * neither), so a 429 retried here still cuts the window.  The slot is
 * not held during the backoff or Retry-After wait: a request waiting to
 * retry is not in flight.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "aimd.h"
#include "buf.h"
#include "http.h"
#include "log.h"
#include "timeutil.h"

#ifndef VS_VERSION
#define VS_VERSION "0"
#endif

#define LOG_TAG "http"

/* A response with more header lines than this is not one we can use. */
#define MAX_HEADERS 256
/* How much of an error body goes into a message. */
#define EXCERPT_MAX 160
/* Bounds on the policy, to catch nonsense early. */
#define MAX_RETRIES_LIMIT 100
/*
 * Delta-seconds beyond this (about 31 years, less where long is 32 bits
 * so that the milliseconds still fit) are clamped.
 */
#define RETRY_AFTER_MAX_S                                              \
	(LONG_MAX / 1000 < 1000000000LL ? (long long)(LONG_MAX / 1000) \
					: 1000000000LL)

struct vs_http_shared {
	struct vs_http_policy pol;
	char *user_agent;
	CURLSH *share;
	pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
	int n_locks; /* how many of locks[] are initialised */
	pthread_mutex_t wait_mu;
	pthread_cond_t wait_cv;
	int wait_ready;
	atomic_int cancelled;
	atomic_int aborted;
	atomic_ulong requests;
	atomic_ulong retries;
	atomic_ulong connects;
	atomic_ulong backoff_ms;
	atomic_ulong seeds;
};

struct vs_http {
	struct vs_http_shared *sh;
	struct vs_aimd *aimd; /* the provider's limiter, or NULL */
	CURL *curl;
	uint64_t rng;
	char errbuf[CURL_ERROR_SIZE];
	/* The transfer under way. */
	struct vs_buf body;
	struct vs_http_header *hdrs;
	size_t n_hdrs, alloc_hdrs;
	int too_big;
	int too_many_headers;
	int nomem;
	/* Who runs the host's fan_out for calls made with this handle. */
	vs_http_fan_out_fn fan_out;
	void *fan_out_udata;
};

/* What a request is called in messages and logs: never the query. */
struct target {
	const char *method;
	char hostport[300];
	char path[512];
};

/* How a curl result is handled. */
enum fail_kind {
	FK_CONNECT,   /* never reached the server: safe to retry always */
	FK_TRANSPORT, /* may have reached it: retry only when idempotent */
	FK_TIMEOUT,
	FK_TLS,
	FK_CONFIG,
	FK_NOMEM,
	FK_INVALID,
	FK_FATAL, /* other transport failure, not worth retrying */
};

/* ------------------------------------------------------------------ */
/* Policy and small helpers.                                            */

void vs_http_policy_defaults(struct vs_http_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->max_retries = 4;
	p->backoff_base_ms = 200;
	p->backoff_max_ms = 10000;
	p->retry_after_max_ms = 60000;
	p->connect_timeout_ms = 10000;
	p->timeout_ms = 60000;
	p->max_body = (size_t)64 * 1024 * 1024;
	p->user_agent = NULL;
}

long vs_http_retry_delay_ms(const struct vs_http_policy *p, int retry,
			    long retry_after_ms, uint64_t rnd)
{
	long long ceiling;
	int i;

	if (retry_after_ms >= 0)
		return retry_after_ms < p->retry_after_max_ms
			       ? retry_after_ms
			       : p->retry_after_max_ms;
	/* Doubling in a loop, stopping at the maximum, cannot overflow. */
	ceiling = p->backoff_base_ms;
	for (i = 0; i < retry && ceiling < p->backoff_max_ms; i++)
		ceiling = ceiling > p->backoff_max_ms / 2 ? p->backoff_max_ms
							  : ceiling * 2;
	if (ceiling > p->backoff_max_ms)
		ceiling = p->backoff_max_ms;
	if (ceiling <= 0)
		return 0;
	return (long)(rnd % ((uint64_t)ceiling + 1));
}

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t xorshift64s(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* ------------------------------------------------------------------ */
/* Retry-After.                                                         */

static long long days_from_civil(long long y, int m, int d)
{
	long long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int parse_month(const char *p)
{
	static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	int i;

	for (i = 0; i < 12; i++)
		if (strncmp(p, names + 3 * i, 3) == 0)
			return i + 1;
	return 0;
}

/* n decimal digits at p into *v; 0 or -1. */
static int digits(const char *p, int n, int *v)
{
	int i, x = 0;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)p[i]))
			return -1;
		x = x * 10 + (p[i] - '0');
	}
	*v = x;
	return 0;
}

/* "08:49:37" */
static int parse_hms(const char *p, int *h, int *mi, int *s)
{
	if (digits(p, 2, h) || p[2] != ':' || digits(p + 3, 2, mi) ||
	    p[5] != ':' || digits(p + 6, 2, s))
		return -1;
	return 0;
}

/*
 * The three HTTP-date forms of RFC 9110 section 5.6.7:
 *   Sun, 06 Nov 1994 08:49:37 GMT    (IMF-fixdate)
 *   Sunday, 06-Nov-94 08:49:37 GMT   (obsolete RFC 850)
 *   Sun Nov  6 08:49:37 1994         (obsolete asctime)
 * Computed from the civil date, so no timegm and no time zone state.
 */
static int parse_http_date(const char *s, long long *out)
{
	const char *p = s;
	int y = 0, mo, d, h, mi, sec, n = 0;

	while (isalpha((unsigned char)*p)) {
		p++;
		n++;
	}
	if (n < 3)
		return -1;
	if (p[0] == ',' && p[1] == ' ') {
		p += 2;
		if (digits(p, 2, &d))
			return -1;
		if (p[2] == ' ') {
			mo = parse_month(p + 3);
			if (!mo || p[6] != ' ' || digits(p + 7, 4, &y) ||
			    p[11] != ' ' || parse_hms(p + 12, &h, &mi, &sec) ||
			    strncmp(p + 20, " GMT", 4) != 0)
				return -1;
			p += 24;
		} else if (p[2] == '-') {
			mo = parse_month(p + 3);
			if (!mo || p[6] != '-' || digits(p + 7, 2, &y) ||
			    p[9] != ' ' || parse_hms(p + 10, &h, &mi, &sec) ||
			    strncmp(p + 18, " GMT", 4) != 0)
				return -1;
			/* RFC 850 years: a two-digit year is 19xx or 20xx. */
			y += y < 70 ? 2000 : 1900;
			p += 22;
		} else {
			return -1;
		}
	} else if (p[0] == ' ') {
		p++;
		mo = parse_month(p);
		if (!mo || p[3] != ' ')
			return -1;
		p += 4;
		if (p[0] == ' ' && !digits(p + 1, 1, &d))
			p += 2;
		else if (!digits(p, 2, &d))
			p += 2;
		else
			return -1;
		if (p[0] != ' ' || parse_hms(p + 1, &h, &mi, &sec) ||
		    p[9] != ' ' || digits(p + 10, 4, &y))
			return -1;
		p += 14;
	} else {
		return -1;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -1;
	*out = days_from_civil(y, mo, d) * 86400 + h * 3600LL + mi * 60LL + sec;
	return 0;
}

long vs_http_parse_retry_after(const char *value, long long now)
{
	const char *p = value;
	long long secs = 0, t;

	if (!p)
		return -1;
	while (*p == ' ' || *p == '\t')
		p++;
	if (isdigit((unsigned char)*p)) {
		while (isdigit((unsigned char)*p)) {
			if (secs < RETRY_AFTER_MAX_S)
				secs = secs * 10 + (*p - '0');
			p++;
		}
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p)
			return -1;
		if (secs > RETRY_AFTER_MAX_S)
			secs = RETRY_AFTER_MAX_S;
		return (long)(secs * 1000);
	}
	if (parse_http_date(p, &t))
		return -1;
	if (t <= now)
		return 0;
	secs = t - now;
	if (secs > RETRY_AFTER_MAX_S)
		secs = RETRY_AFTER_MAX_S;
	return (long)(secs * 1000);
}

/* ------------------------------------------------------------------ */
/* Global and shared state.                                             */

int vs_http_global_init(struct vs_error *err)
{
	CURLcode cc = curl_global_init(CURL_GLOBAL_DEFAULT);

	if (cc != CURLE_OK)
		return vs_error_set(err, VS_EC_INTERNAL, 0, 0,
				    "cannot initialise libcurl: %s",
				    curl_easy_strerror(cc));
	return 0;
}

void vs_http_global_cleanup(void)
{
	curl_global_cleanup();
}

static void share_lock(CURL *handle, curl_lock_data data,
		       curl_lock_access access, void *userptr)
{
	struct vs_http_shared *sh = userptr;

	(void)handle;
	(void)access;
	if ((int)data >= 0 && (int)data < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&sh->locks[data]);
}

static void share_unlock(CURL *handle, curl_lock_data data, void *userptr)
{
	struct vs_http_shared *sh = userptr;

	(void)handle;
	if ((int)data >= 0 && (int)data < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&sh->locks[data]);
}

static int policy_check(const struct vs_http_policy *p, struct vs_error *err)
{
	if (p->max_retries < 0 || p->max_retries > MAX_RETRIES_LIMIT)
		return vs_error_set(err, VS_EC_CONFIG, 0, 0,
				    "http max_retries %d out of range 0..%d",
				    p->max_retries, MAX_RETRIES_LIMIT);
	if (p->backoff_base_ms < 0 || p->backoff_max_ms < p->backoff_base_ms)
		return vs_error_set(err, VS_EC_CONFIG, 0, 0,
				    "http backoff %ld..%ld ms is not a range",
				    p->backoff_base_ms, p->backoff_max_ms);
	if (p->retry_after_max_ms < 0)
		return vs_error_set(err, VS_EC_CONFIG, 0, 0,
				    "http retry_after_max %ld ms is negative",
				    p->retry_after_max_ms);
	if (p->connect_timeout_ms <= 0 || p->timeout_ms <= 0)
		return vs_error_set(err, VS_EC_CONFIG, 0, 0,
				    "http timeouts must be positive");
	if (p->max_body == 0)
		return vs_error_set(err, VS_EC_CONFIG, 0, 0,
				    "http max_body must be positive");
	return 0;
}

void vs_http_shared_free(struct vs_http_shared *sh)
{
	int i;

	if (!sh)
		return;
	if (sh->share && curl_share_cleanup(sh->share) != CURLSHE_OK)
		/* A vs_http still attached: a bug in the caller. */
		vs_log(VS_LOG_ERROR, LOG_TAG,
		       "shared http state freed while clients use it");
	for (i = 0; i < sh->n_locks; i++)
		pthread_mutex_destroy(&sh->locks[i]);
	if (sh->wait_ready) {
		pthread_cond_destroy(&sh->wait_cv);
		pthread_mutex_destroy(&sh->wait_mu);
	}
	free(sh->user_agent);
	free(sh);
}

struct vs_http_shared *vs_http_shared_new(const struct vs_http_policy *p,
					  struct vs_error *err)
{
	struct vs_http_shared *sh = NULL, *ret = NULL;
	pthread_condattr_t ca;
	const char *ua;
	CURLSHcode sc = CURLSHE_OK;

	sh = calloc(1, sizeof(*sh));
	if (!sh) {
		vs_error_set(err, VS_EC_INTERNAL, 0, 0, "out of memory");
		goto out;
	}
	if (p)
		sh->pol = *p;
	else
		vs_http_policy_defaults(&sh->pol);
	if (policy_check(&sh->pol, err))
		goto out;
	ua = sh->pol.user_agent ? sh->pol.user_agent : "vmsweep/" VS_VERSION;
	sh->user_agent = strdup(ua);
	if (!sh->user_agent) {
		vs_error_set(err, VS_EC_INTERNAL, 0, 0, "out of memory");
		goto out;
	}
	sh->pol.user_agent = sh->user_agent;
	for (; sh->n_locks < CURL_LOCK_DATA_LAST; sh->n_locks++)
		if (pthread_mutex_init(&sh->locks[sh->n_locks], NULL)) {
			vs_error_set(err, VS_EC_INTERNAL, 0, 0,
				     "cannot create http locks");
			goto out;
		}
	if (pthread_condattr_init(&ca)) {
		vs_error_set(err, VS_EC_INTERNAL, 0, 0,
			     "cannot create http wait condition");
		goto out;
	}
	/* Backoff deadlines are monotonic: clock steps do not stretch them. */
	if (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) ||
	    pthread_cond_init(&sh->wait_cv, &ca)) {
		pthread_condattr_destroy(&ca);
		vs_error_set(err, VS_EC_INTERNAL, 0, 0,
			     "cannot create http wait condition");
		goto out;
	}
	pthread_condattr_destroy(&ca);
	if (pthread_mutex_init(&sh->wait_mu, NULL)) {
		pthread_cond_destroy(&sh->wait_cv);
		vs_error_set(err, VS_EC_INTERNAL, 0, 0,
			     "cannot create http wait lock");
		goto out;
	}
	sh->wait_ready = 1;
	atomic_init(&sh->cancelled, 0);
	atomic_init(&sh->aborted, 0);
	atomic_init(&sh->requests, 0);
	atomic_init(&sh->retries, 0);
	atomic_init(&sh->connects, 0);
	atomic_init(&sh->backoff_ms, 0);
	atomic_init(&sh->seeds, 0);

	sh->share = curl_share_init();
	if (!sh->share) {
		vs_error_set(err, VS_EC_INTERNAL, 0, 0,
			     "cannot create curl share handle");
		goto out;
	}
	if ((sc = curl_share_setopt(sh->share, CURLSHOPT_LOCKFUNC,
				    share_lock)) != CURLSHE_OK ||
	    (sc = curl_share_setopt(sh->share, CURLSHOPT_UNLOCKFUNC,
				    share_unlock)) != CURLSHE_OK ||
	    (sc = curl_share_setopt(sh->share, CURLSHOPT_USERDATA, sh)) !=
		    CURLSHE_OK ||
	    (sc = curl_share_setopt(sh->share, CURLSHOPT_SHARE,
				    CURL_LOCK_DATA_DNS)) != CURLSHE_OK ||
	    (sc = curl_share_setopt(sh->share, CURLSHOPT_SHARE,
				    CURL_LOCK_DATA_SSL_SESSION)) !=
		    CURLSHE_OK) {
		vs_error_set(err, VS_EC_INTERNAL, 0, 0,
			     "cannot set up curl share handle: %s",
			     curl_share_strerror(sc));
		goto out;
	}
	ret = sh;
	sh = NULL;
out:
	vs_http_shared_free(sh);
	return ret;
}

void vs_http_shared_cancel(struct vs_http_shared *sh)
{
	atomic_store(&sh->cancelled, 1);
	/*
	 * The broadcast under the mutex pairs with the waiter, which checks
	 * the flag with the mutex held: a waiter cannot miss the wake-up.
	 */
	pthread_mutex_lock(&sh->wait_mu);
	pthread_cond_broadcast(&sh->wait_cv);
	pthread_mutex_unlock(&sh->wait_mu);
}

void vs_http_shared_abort(struct vs_http_shared *sh)
{
	atomic_store(&sh->aborted, 1);
	vs_http_shared_cancel(sh);
}

int vs_http_shared_cancelled(const struct vs_http_shared *sh)
{
	return atomic_load(&((struct vs_http_shared *)sh)->cancelled);
}

void vs_http_shared_stats(struct vs_http_shared *sh, struct vs_http_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->requests =
		atomic_load_explicit(&sh->requests, memory_order_relaxed);
	st->retries = atomic_load_explicit(&sh->retries, memory_order_relaxed);
	st->connects =
		atomic_load_explicit(&sh->connects, memory_order_relaxed);
	st->backoff_ms =
		atomic_load_explicit(&sh->backoff_ms, memory_order_relaxed);
}

/* Sleep up to ms on the shared condition; 1 when cancelled. */
static int wait_ms(struct vs_http_shared *sh, long ms)
{
	struct timespec dl;
	int cancelled;

	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += ms / 1000;
	dl.tv_nsec += (ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&sh->wait_mu);
	while (!atomic_load(&sh->cancelled))
		if (pthread_cond_timedwait(&sh->wait_cv, &sh->wait_mu, &dl) ==
		    ETIMEDOUT)
			break;
	cancelled = atomic_load(&sh->cancelled);
	pthread_mutex_unlock(&sh->wait_mu);
	return cancelled;
}

/* ------------------------------------------------------------------ */
/* Clients.                                                             */

static void headers_free(struct vs_http_header *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].value);
	}
	free(v);
}

/* Forget the headers collected so far (a new response began). */
static void headers_clear(struct vs_http *h)
{
	size_t i;

	for (i = 0; i < h->n_hdrs; i++) {
		free(h->hdrs[i].name);
		free(h->hdrs[i].value);
	}
	h->n_hdrs = 0;
}

struct vs_http *vs_http_new(struct vs_http_shared *sh, struct vs_error *err)
{
	struct vs_http *h = NULL, *ret = NULL;
	uint64_t seed;

	h = calloc(1, sizeof(*h));
	if (!h) {
		vs_error_set(err, VS_EC_INTERNAL, 0, 0, "out of memory");
		goto out;
	}
	h->sh = sh;
	vs_buf_init(&h->body, sh->pol.max_body);
	h->curl = curl_easy_init();
	if (!h->curl) {
		vs_error_set(err, VS_EC_INTERNAL, 0, 0,
			     "cannot create curl handle");
		goto out;
	}
	/* curl_easy_reset() keeps the share, so this is set once. */
	if (curl_easy_setopt(h->curl, CURLOPT_SHARE, sh->share) != CURLE_OK) {
		vs_error_set(err, VS_EC_INTERNAL, 0, 0,
			     "cannot attach curl handle to the share");
		goto out;
	}
	seed = (uint64_t)vs_time_now_ms() ^ (uint64_t)(uintptr_t)h ^
	       ((uint64_t)atomic_fetch_add(&sh->seeds, 1) << 32);
	h->rng = splitmix64(seed);
	if (!h->rng)
		h->rng = 0x9e3779b97f4a7c15ULL;
	ret = h;
	h = NULL;
out:
	vs_http_free(h);
	return ret;
}

void vs_http_free(struct vs_http *h)
{
	if (!h)
		return;
	if (h->curl)
		curl_easy_cleanup(h->curl);
	vs_buf_release(&h->body);
	headers_free(h->hdrs, h->n_hdrs);
	free(h);
}

void vs_http_set_fan_out(struct vs_http *h, vs_http_fan_out_fn fn, void *udata)
{
	h->fan_out = fn;
	h->fan_out_udata = udata;
}

vs_http_fan_out_fn vs_http_get_fan_out(const struct vs_http *h, void **udata)
{
	*udata = h->fan_out_udata;
	return h->fan_out;
}

void vs_http_set_limiter(struct vs_http *h, struct vs_aimd *a)
{
	h->aimd = a;
}

struct vs_aimd *vs_http_limiter(const struct vs_http *h)
{
	return h->aimd;
}

void vs_http_response_release(struct vs_http_response *resp)
{
	if (!resp)
		return;
	free(resp->body);
	headers_free(resp->headers, resp->n_headers);
	memset(resp, 0, sizeof(*resp));
}

const char *vs_http_header(const struct vs_http_response *resp,
			   const char *name)
{
	size_t i;

	/* The last one wins, as for a header repeated by a proxy. */
	for (i = resp->n_headers; i > 0; i--)
		if (strcasecmp(resp->headers[i - 1].name, name) == 0)
			return resp->headers[i - 1].value;
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Transfer callbacks.                                                  */

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
	struct vs_http *h = ud;
	size_t len = size * nmemb;
	int rc = vs_buf_add(&h->body, data, len);

	/* Returning short makes curl abort with CURLE_WRITE_ERROR. */
	if (rc == VS_BUF_TOO_BIG) {
		h->too_big = 1;
		return 0;
	}
	if (rc) {
		h->nomem = 1;
		return 0;
	}
	return len;
}

static void trim(const char **s, const char **e)
{
	while (*s < *e && (**s == ' ' || **s == '\t'))
		(*s)++;
	while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
		(*e)--;
}

/* Append a folded continuation line to the last header's value. */
static int header_fold(struct vs_http *h, const char *s, const char *e)
{
	struct vs_http_header *last = &h->hdrs[h->n_hdrs - 1];
	size_t old = strlen(last->value), add = (size_t)(e - s);
	char *v = realloc(last->value, old + 1 + add + 1);

	if (!v)
		return -1;
	v[old] = ' ';
	memcpy(v + old + 1, s, add);
	v[old + 1 + add] = '\0';
	last->value = v;
	return 0;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
	struct vs_http *h = ud;
	size_t total = size * nmemb;
	const char *s = data, *e = data + total, *colon, *ns, *ne;
	struct vs_http_header *hd;

	while (e > s && (e[-1] == '\r' || e[-1] == '\n'))
		e--;
	/*
	 * A status line starts a new response (after a 100 Continue or a
	 * proxy's CONNECT): only the last response's headers are kept.
	 */
	if (e - s >= 5 && strncmp(s, "HTTP/", 5) == 0) {
		headers_clear(h);
		return total;
	}
	if (s == e)
		return total;
	if (*s == ' ' || *s == '\t') {
		trim(&s, &e);
		if (h->n_hdrs && s < e && header_fold(h, s, e)) {
			h->nomem = 1;
			return 0;
		}
		return total;
	}
	colon = memchr(s, ':', (size_t)(e - s));
	if (!colon)
		return total;
	ns = s;
	ne = colon;
	trim(&ns, &ne);
	s = colon + 1;
	trim(&s, &e);
	if (ns == ne)
		return total;
	if (h->n_hdrs >= MAX_HEADERS) {
		h->too_many_headers = 1;
		return 0;
	}
	if (h->n_hdrs == h->alloc_hdrs) {
		size_t na = h->alloc_hdrs ? h->alloc_hdrs * 2 : 16;
		hd = realloc(h->hdrs, na * sizeof(*hd));
		if (!hd) {
			h->nomem = 1;
			return 0;
		}
		h->hdrs = hd;
		h->alloc_hdrs = na;
	}
	hd = &h->hdrs[h->n_hdrs];
	hd->name = strndup(ns, (size_t)(ne - ns));
	hd->value = strndup(s, (size_t)(e - s));
	if (!hd->name || !hd->value) {
		free(hd->name);
		free(hd->value);
		h->nomem = 1;
		return 0;
	}
	h->n_hdrs++;
	return total;
}

/* ------------------------------------------------------------------ */
/* Requests.                                                            */

static int method_valid(const char *m)
{
	size_t n = 0;

	for (; m[n]; n++)
		if (!isupper((unsigned char)m[n]) || n >= 16)
			return 0;
	return n > 0;
}

/* Split the URL into the parts messages may show. */
static int target_parse(struct target *t, const struct vs_http_request *req,
			struct vs_error *err)
{
	CURLU *u = NULL;
	char *host = NULL, *port = NULL, *path = NULL;
	int rc = VS_ERR;

	memset(t, 0, sizeof(*t));
	t->method = req->method;
	u = curl_url();
	if (!u) {
		vs_error_set(err, VS_EC_INTERNAL, 0, 0, "out of memory");
		goto out;
	}
	if (!req->url || curl_url_set(u, CURLUPART_URL, req->url, 0) ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT)) {
		/* The URL itself is not shown: it may carry a token. */
		vs_error_set(err, VS_EC_CONFIG, 0, 0, "%s: malformed url",
			     req->method);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_PATH, &path, 0))
		path = NULL;
	snprintf(t->hostport, sizeof(t->hostport), "%s:%s", host, port);
	snprintf(t->path, sizeof(t->path), "%s", path ? path : "/");
	rc = 0;
out:
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_url_cleanup(u);
	return rc;
}

#define SETOPT(opt, val)                            \
	do {                                        \
		cc = curl_easy_setopt(c, opt, val); \
		if (cc != CURLE_OK)                 \
			goto out;                   \
	} while (0)

/* Nonzero makes libcurl end the transfer (CURLE_ABORTED_BY_CALLBACK). */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow,
		       curl_off_t ultotal, curl_off_t ulnow)
{
	struct vs_http *h = ud;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return atomic_load_explicit(&h->sh->aborted, memory_order_relaxed);
}

/*
 * Set every option of one request on a freshly reset handle.  *hl gets
 * the header list, which must outlive the transfer.
 */
static CURLcode setup(struct vs_http *h, const struct vs_http_request *req,
		      struct curl_slist **hl)
{
	const struct vs_http_policy *pol = &h->sh->pol;
	CURL *c = h->curl;
	CURLcode cc = CURLE_OK;
	struct curl_slist *l = NULL, *nl;
	const char *const *hp;
	const char *m = req->method;
	int send_body;

	/* Keeps connections, DNS and TLS caches and the share. */
	curl_easy_reset(c);
	SETOPT(CURLOPT_URL, req->url);
	SETOPT(CURLOPT_NOSIGNAL, 1L);
	SETOPT(CURLOPT_ERRORBUFFER, h->errbuf);
	SETOPT(CURLOPT_WRITEFUNCTION, on_body);
	SETOPT(CURLOPT_WRITEDATA, h);
	SETOPT(CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(CURLOPT_HEADERDATA, h);
	SETOPT(CURLOPT_XFERINFOFUNCTION, on_progress);
	SETOPT(CURLOPT_XFERINFODATA, h);
	SETOPT(CURLOPT_NOPROGRESS, 0L);
	SETOPT(CURLOPT_CONNECTTIMEOUT_MS, pol->connect_timeout_ms);
	SETOPT(CURLOPT_TIMEOUT_MS,
	       req->timeout_ms > 0 ? req->timeout_ms : pol->timeout_ms);
	SETOPT(CURLOPT_USERAGENT, h->sh->user_agent);
	SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
#else
	SETOPT(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	SETOPT(CURLOPT_SSL_VERIFYPEER, req->insecure ? 0L : 1L);
	SETOPT(CURLOPT_SSL_VERIFYHOST, req->insecure ? 0L : 2L);
	if (req->ca_file) {
		/*
		 * ca_file replaces the system store: without this, the CA
		 * directory libcurl was built with (Debian: /etc/ssl/certs)
		 * would still be trusted, and libcurl would not cache the
		 * store it parsed from ca_file, parsing it again on every
		 * new connection (OpenSSL 3 decodes each key slowly).
		 */
		SETOPT(CURLOPT_CAINFO, req->ca_file);
		SETOPT(CURLOPT_CAPATH, NULL);
	}
	if (req->basic_user) {
		SETOPT(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		SETOPT(CURLOPT_USERNAME, req->basic_user);
		SETOPT(CURLOPT_PASSWORD,
		       req->basic_password ? req->basic_password : "");
	}

	for (hp = req->headers; hp && *hp; hp++) {
		nl = curl_slist_append(l, *hp);
		if (!nl) {
			cc = CURLE_OUT_OF_MEMORY;
			goto out;
		}
		l = nl;
	}
	/* No 100-continue round trip: APIs answer small bodies directly. */
	nl = curl_slist_append(l, "Expect:");
	if (!nl) {
		cc = CURLE_OUT_OF_MEMORY;
		goto out;
	}
	l = nl;
	SETOPT(CURLOPT_HTTPHEADER, l);

	send_body = req->body || strcmp(m, "POST") == 0 ||
		    strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0;
	if (strcmp(m, "HEAD") == 0) {
		SETOPT(CURLOPT_NOBODY, 1L);
	} else if (send_body) {
		/* A body-less POST or PUT still says Content-Length: 0. */
		SETOPT(CURLOPT_POSTFIELDSIZE_LARGE,
		       (curl_off_t)(req->body ? req->body_len : 0));
		SETOPT(CURLOPT_POSTFIELDS, req->body ? req->body : "");
		if (strcmp(m, "POST") != 0)
			SETOPT(CURLOPT_CUSTOMREQUEST, m);
	} else {
		SETOPT(CURLOPT_HTTPGET, 1L);
		if (strcmp(m, "GET") != 0)
			SETOPT(CURLOPT_CUSTOMREQUEST, m);
	}
out:
	*hl = l;
	return cc;
}

#undef SETOPT

static enum fail_kind classify(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
		return FK_CONNECT;
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return FK_TRANSPORT;
	case CURLE_OPERATION_TIMEDOUT:
		return FK_TIMEOUT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_USE_SSL_FAILED:
		return FK_TLS;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_BAD_FUNCTION_ARGUMENT:
		return FK_CONFIG;
	case CURLE_OUT_OF_MEMORY:
		return FK_NOMEM;
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_BAD_CONTENT_ENCODING:
		return FK_INVALID;
	default:
		return FK_FATAL;
	}
}

/* What a finished try tells the provider's limiter. */
static enum vs_aimd_signal aimd_signal(CURLcode cc, long status)
{
	if (cc != CURLE_OK)
		return VS_AIMD_NONE;
	return status == 429 || status == 503 ? VS_AIMD_PUSHBACK
					      : VS_AIMD_SUCCESS;
}

static int status_retryable(long st)
{
	return st == 429 || st == 502 || st == 503 || st == 504;
}

/* Does the body look like text worth quoting in a message? */
static int body_is_text(const struct vs_http *h)
{
	struct vs_http_response view = {.headers = h->hdrs,
					.n_headers = h->n_hdrs};
	const char *ct = vs_http_header(&view, "Content-Type");
	size_t i;

	if (ct)
		return strncasecmp(ct, "text/", 5) == 0 ||
		       strcasestr(ct, "json") || strcasestr(ct, "xml");
	for (i = 0; i < h->body.len && i < EXCERPT_MAX; i++) {
		unsigned char ch = (unsigned char)h->body.s[i];
		if (ch < 0x20 && ch != '\n' && ch != '\r' && ch != '\t')
			return 0;
	}
	return 1;
}

/*
 * A short, one-line excerpt of an error body for a message: whitespace
 * runs folded, control bytes dropped, cut at EXCERPT_MAX without
 * splitting a UTF-8 sequence, credentials redacted by the logger's
 * sanitizer.  Empty when the body is not text.
 */
static void body_excerpt(const struct vs_http *h, char *dst, size_t dstsz)
{
	char tmp[EXCERPT_MAX + 4];
	size_t i, n = 0;
	int space = 0;

	dst[0] = '\0';
	if (!h->body.len || !body_is_text(h))
		return;
	for (i = 0; i < h->body.len && n < EXCERPT_MAX; i++) {
		unsigned char ch = (unsigned char)h->body.s[i];
		if (isspace(ch)) {
			space = n > 0;
			continue;
		}
		if (ch < 0x20 || ch == 0x7f)
			continue;
		if (space && n < EXCERPT_MAX - 1)
			tmp[n++] = ' ';
		space = 0;
		tmp[n++] = (char)ch;
	}
	/* Drop a UTF-8 sequence the cut left incomplete. */
	if (n && ((unsigned char)tmp[n - 1] & 0x80)) {
		size_t k = n;
		while (k > 0 && ((unsigned char)tmp[k - 1] & 0xc0) == 0x80)
			k--;
		if (k > 0 && ((unsigned char)tmp[k - 1] & 0xc0) == 0xc0) {
			unsigned char lead = (unsigned char)tmp[k - 1];
			size_t want = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
			if (n - (k - 1) < want)
				n = k - 1;
		}
	}
	tmp[n] = '\0';
	if (n)
		vs_log_sanitize(dst, dstsz, tmp);
}

/* The error for a curl failure on the last try. */
static int fail_curl(const struct vs_http *h, const struct target *t,
		     CURLcode cc, enum fail_kind k, int tries,
		     struct vs_error *err)
{
	const char *why = h->errbuf[0] ? h->errbuf : curl_easy_strerror(cc);
	char after[32] = "";

	if (tries > 1)
		snprintf(after, sizeof(after), " (after %d tries)", tries);
	switch (k) {
	case FK_CONNECT:
	case FK_TRANSPORT:
		return vs_error_set(err, VS_EC_TRANSPORT, 0, 1, "%s %s: %s%s",
				    t->method, t->hostport, why, after);
	case FK_TIMEOUT:
		return vs_error_set(err, VS_EC_TIMEOUT, 0, 1,
				    "%s %s: timed out: %s%s", t->method,
				    t->hostport, why, after);
	case FK_TLS:
		if (cc == CURLE_PEER_FAILED_VERIFICATION)
			return vs_error_set(
				err, VS_EC_TLS, 0, 0,
				"TLS certificate of %s not trusted: %s; set "
				"ca_file or insecure",
				t->hostport, why);
		if (cc == CURLE_SSL_CACERT_BADFILE)
			return vs_error_set(err, VS_EC_TLS, 0, 0,
					    "cannot use ca_file for %s: %s",
					    t->hostport, why);
		return vs_error_set(err, VS_EC_TLS, 0, 0,
				    "TLS handshake with %s failed: %s",
				    t->hostport, why);
	case FK_CONFIG:
		return vs_error_set(err, VS_EC_CONFIG, 0, 0, "%s %s: %s",
				    t->method, t->hostport, why);
	case FK_NOMEM:
		return vs_error_set(err, VS_EC_INTERNAL, 0, 0, "out of memory");
	case FK_INVALID:
		return vs_error_set(err, VS_EC_INVALID_RESPONSE, 0, 0,
				    "%s %s: %s", t->method, t->hostport, why);
	case FK_FATAL:
	default:
		return vs_error_set(err, VS_EC_TRANSPORT, 0, 0, "%s %s: %s",
				    t->method, t->hostport, why);
	}
}

static void log_try(const struct target *t, long status, CURLcode cc,
		    int64_t ms, int try)
{
	if (!vs_log_enabled(VS_LOG_DEBUG))
		return;
	if (cc == CURLE_OK)
		vs_log(VS_LOG_DEBUG, LOG_TAG,
		       "%s %s%s -> %ld in %lld ms (try %d)", t->method,
		       t->hostport, t->path, status, (long long)ms, try);
	else
		vs_log(VS_LOG_DEBUG, LOG_TAG,
		       "%s %s%s -> %s in %lld ms (try %d)", t->method,
		       t->hostport, t->path, curl_easy_strerror(cc),
		       (long long)ms, try);
}

/* Move the finished transfer into resp. */
static int take_response(struct vs_http *h, long status, int tries,
			 struct vs_http_response *resp, struct vs_error *err)
{
	resp->body = vs_buf_detach(&h->body, &resp->body_len);
	if (!resp->body)
		return vs_error_set(err, VS_EC_INTERNAL, 0, 0, "out of memory");
	resp->status = status;
	resp->headers = h->hdrs;
	resp->n_headers = h->n_hdrs;
	resp->attempts = tries;
	h->hdrs = NULL;
	h->n_hdrs = h->alloc_hdrs = 0;
	return 0;
}

int vs_http_do(struct vs_http *h, const struct vs_http_request *req,
	       struct vs_http_response *resp, struct vs_error *err)
{
	struct vs_http_shared *sh = h->sh;
	const struct vs_http_policy *pol = &sh->pol;
	struct vs_http_request r = *req;
	struct curl_slist *hl = NULL;
	struct target t;
	size_t cap = req->max_body ? req->max_body : pol->max_body;
	int tries = 0, rc = VS_ERR;

	memset(resp, 0, sizeof(*resp));
	if (!r.method)
		r.method = "GET";
	if (!method_valid(r.method)) {
		vs_error_set(err, VS_EC_CONFIG, 0, 0,
			     "invalid http method for a request");
		goto out;
	}
	if (target_parse(&t, &r, err))
		goto out;

	for (;;) {
		CURLcode cc;
		enum fail_kind k = FK_FATAL;
		long status = 0, conns = 0, ra = -1, delay;
		unsigned long ticket;
		int64_t t0;
		int retry;
		char why[160];

		if (atomic_load(&sh->cancelled)) {
			vs_error_set(err, VS_EC_CANCELLED, 0, 0,
				     "%s %s: cancelled", t.method, t.hostport);
			goto out;
		}
		curl_slist_free_all(hl);
		hl = NULL;
		cc = setup(h, &r, &hl);
		if (cc != CURLE_OK) {
			vs_error_set(err,
				     cc == CURLE_OUT_OF_MEMORY ? VS_EC_INTERNAL
							       : VS_EC_CONFIG,
				     0, 0, "%s %s: cannot set up request: %s",
				     t.method, t.hostport,
				     curl_easy_strerror(cc));
			goto out;
		}
		vs_buf_release(&h->body);
		vs_buf_init(&h->body, cap);
		headers_clear(h);
		h->errbuf[0] = '\0';
		h->too_big = h->too_many_headers = h->nomem = 0;

		/* A slot of the provider's window for this try only. */
		if (vs_aimd_acquire(h->aimd, &ticket)) {
			vs_error_set(err, VS_EC_CANCELLED, 0, 0,
				     "%s %s: cancelled", t.method, t.hostport);
			goto out;
		}
		t0 = vs_time_mono_ms();
		cc = curl_easy_perform(h->curl);
		tries++;
		atomic_fetch_add_explicit(&sh->requests, 1,
					  memory_order_relaxed);
		if (curl_easy_getinfo(h->curl, CURLINFO_NUM_CONNECTS, &conns) ==
			    CURLE_OK &&
		    conns > 0)
			atomic_fetch_add_explicit(&sh->connects,
						  (unsigned long)conns,
						  memory_order_relaxed);
		curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
		vs_aimd_release(h->aimd, ticket, aimd_signal(cc, status));
		log_try(&t, status, cc, vs_time_mono_ms() - t0, tries);

		if (h->too_big) {
			vs_error_set(err, VS_EC_INVALID_RESPONSE, 0, 0,
				     "%s %s: response body larger than the "
				     "%zu byte cap",
				     t.method, t.hostport, cap);
			goto out;
		}
		if (h->too_many_headers) {
			vs_error_set(err, VS_EC_INVALID_RESPONSE, 0, 0,
				     "%s %s: response has more than %d headers",
				     t.method, t.hostport, MAX_HEADERS);
			goto out;
		}
		if (h->nomem) {
			vs_error_set(err, VS_EC_INTERNAL, 0, 0,
				     "out of memory");
			goto out;
		}
		if (cc == CURLE_ABORTED_BY_CALLBACK) {
			vs_error_set(err, VS_EC_CANCELLED, 0, 0,
				     "%s %s: aborted in flight", t.method,
				     t.hostport);
			goto out;
		}

		if (cc == CURLE_OK) {
			if (!status_retryable(status) || !r.idempotent) {
				rc = take_response(h, status, tries, resp, err);
				goto out;
			}
			retry = 1;
			if (status == 429 || status == 503) {
				struct vs_http_response view = {
					.headers = h->hdrs,
					.n_headers = h->n_hdrs};
				ra = vs_http_parse_retry_after(
					vs_http_header(&view, "Retry-After"),
					(long long)vs_time_now());
			}
			snprintf(why, sizeof(why), "HTTP %ld", status);
		} else {
			k = classify(cc);
			retry = k == FK_CONNECT ||
				((k == FK_TRANSPORT || k == FK_TIMEOUT) &&
				 r.idempotent);
			snprintf(why, sizeof(why), "%s",
				 curl_easy_strerror(cc));
		}

		if (!retry || tries > pol->max_retries) {
			if (cc != CURLE_OK) {
				fail_curl(h, &t, cc, k, tries, err);
			} else {
				char ex[EXCERPT_MAX * 2 + 8];
				body_excerpt(h, ex, sizeof(ex));
				vs_error_set(err,
					     status == 429 ? VS_EC_THROTTLED
							   : VS_EC_SERVER,
					     (int)status, 1,
					     "%s %s: HTTP %ld after %d %s%s%s",
					     t.method, t.hostport, status,
					     tries,
					     tries == 1 ? "try" : "tries",
					     ex[0] ? ": " : "", ex);
			}
			goto out;
		}

		delay = vs_http_retry_delay_ms(pol, tries - 1, ra,
					       xorshift64s(&h->rng));
		atomic_fetch_add_explicit(&sh->retries, 1,
					  memory_order_relaxed);
		atomic_fetch_add_explicit(&sh->backoff_ms, (unsigned long)delay,
					  memory_order_relaxed);
		vs_log(VS_LOG_WARN, LOG_TAG,
		       "%s %s%s: %s; retry %d of %d in %ld ms%s", t.method,
		       t.hostport, t.path, why, tries, pol->max_retries, delay,
		       ra >= 0 ? " (Retry-After)" : "");
		if (wait_ms(sh, delay)) {
			vs_error_set(err, VS_EC_CANCELLED, 0, 0,
				     "%s %s: cancelled while waiting to retry "
				     "after %s",
				     t.method, t.hostport, why);
			goto out;
		}
	}
out:
	curl_slist_free_all(hl);
	/* Do not keep a large body or stale headers between requests. */
	vs_buf_release(&h->body);
	headers_clear(h);
	if (rc)
		vs_http_response_release(resp);
	return rc;
}
