/*
 * sim_util.c - the simulator's small shared helpers: the seeded random
 * generator, credentials, request accessors, response builders, time
 * and base64.
 */
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "timeutil.h"

static const char *const platform_names[SIM_NPLATFORMS] = {"vmware", "rhv",
							   "osp"};

const char *sim_platform_name(enum sim_platform p)
{
	return (unsigned)p < SIM_NPLATFORMS ? platform_names[p] : "?";
}

/* ------------------------------------------------------------------ */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void sim_rng_seed(struct sim_rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t sim_rng_next(struct sim_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

uint64_t sim_rng_below(struct sim_rng *r, uint64_t n)
{
	uint64_t x, lim;

	if (n == 0)
		return 0;
	/* Reject the top sliver so every value is equally likely. */
	lim = UINT64_MAX - UINT64_MAX % n;
	do
		x = sim_rng_next(r);
	while (x >= lim);
	return x % n;
}

double sim_rng_unit(struct sim_rng *r)
{
	return (double)(sim_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

void sim_rng_hex(struct sim_rng *r, char *out, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	uint64_t x = 0;

	for (size_t i = 0; i < n; i++) {
		if (i % 16 == 0)
			x = sim_rng_next(r);
		out[i] = hex[x & 15];
		x >>= 4;
	}
	out[n] = '\0';
}

void sim_rng_uuid(struct sim_rng *r, char out[37])
{
	char h[33];

	sim_rng_hex(r, h, 32);
	h[12] = '4';
	h[16] = "89ab"[sim_rng_below(r, 4)];
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16,
		 h + 20);
}

/* ------------------------------------------------------------------ */

/* Compare without an early exit so timing says nothing about the
 * secret; the simulator is a test tool, but it costs nothing. */
static bool str_eq_ct(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char d = la != lb;

	for (size_t i = 0; i < la && i < lb; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

bool sim_check_user(const struct sim *sim, const char *user,
		    const char *password)
{
	const char *want = sim->opts.user;
	size_t wl = strlen(want);

	if (user == NULL || password == NULL)
		return false;
	if (strcmp(user, want) != 0 &&
	    !(strncmp(user, want, wl) == 0 && user[wl] == '@'))
		return false;
	return str_eq_ct(password, sim->opts.password);
}

bool sim_check_basic(const struct sim *sim, const char *authorization,
		     char *user, size_t usersz)
{
	char dec[512];
	char *colon;

	if (authorization == NULL || strncasecmp(authorization, "Basic ", 6))
		return false;
	authorization += 6;
	while (*authorization == ' ')
		authorization++;
	if (sim_base64_decode(authorization, dec, sizeof(dec)) < 0)
		return false;
	colon = strchr(dec, ':');
	if (colon == NULL)
		return false;
	*colon = '\0';
	if (!sim_check_user(sim, dec, colon + 1))
		return false;
	if (user != NULL && usersz > 0)
		snprintf(user, usersz, "%s", dec);
	return true;
}

static int b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int sim_base64_decode(const char *in, char *out, size_t outsz)
{
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0;

	for (; *in && *in != '='; in++) {
		int v = b64val((unsigned char)*in);

		if (v < 0)
			return -1;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o + 1 >= outsz)
				return -1;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	while (*in == '=')
		in++;
	if (*in)
		return -1;
	if (outsz == 0)
		return -1;
	out[o] = '\0';
	/* An embedded NUL would silently cut a credential short. */
	return memchr(out, '\0', o) ? -1 : (int)o;
}

/* ------------------------------------------------------------------ */

const char *sim_req_query(const struct sim_req *req, const char *key)
{
	for (size_t i = 0; i < req->nquery; i++)
		if (strcmp(req->query[i].key, key) == 0)
			return req->query[i].value;
	return NULL;
}

size_t sim_req_query_all(const struct sim_req *req, const char *key,
			 const char **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < req->nquery; i++) {
		if (strcmp(req->query[i].key, key) != 0)
			continue;
		if (n < max)
			out[n] = req->query[i].value;
		n++;
	}
	return n;
}

const char *sim_req_header(const struct sim_req *req, const char *name)
{
	for (size_t i = 0; i < req->nheaders; i++)
		if (strcasecmp(req->headers[i].key, name) == 0)
			return req->headers[i].value;
	return NULL;
}

const char *sim_req_param(const struct sim_req *req, const char *name)
{
	for (size_t i = 0; i < req->nparams; i++)
		if (strcmp(req->params[i].key, name) == 0)
			return req->params[i].value;
	return NULL;
}

json_t *sim_req_json(const struct sim_req *req)
{
	if (req->body_len == 0)
		return NULL;
	return json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES,
			  NULL);
}

const char *sim_req_base_url(const struct sim_req *req, char *out, size_t outsz)
{
	snprintf(out, outsz, "%s://%s", req->scheme, req->host);
	return out;
}

/* ------------------------------------------------------------------ */

void sim_resp_header(struct sim_resp *resp, const char *name, const char *value)
{
	char *k, *v;

	if (resp->nheaders >= SIM_MAX_RESP_HEADERS) {
		fprintf(stderr, "vmsweep-sim: too many headers, dropped %s\n",
			name);
		return;
	}
	k = strdup(name);
	v = strdup(value);
	if (k == NULL || v == NULL) {
		free(k);
		free(v);
		return;
	}
	resp->headers[resp->nheaders].key = k;
	resp->headers[resp->nheaders].value = v;
	resp->nheaders++;
}

static void resp_set_body(struct sim_resp *resp, char *body, size_t len)
{
	free(resp->body);
	resp->body = body;
	resp->body_len = body ? len : 0;
}

void sim_resp_json(struct sim_resp *resp, int status, json_t *body)
{
	resp->action = SIM_SEND;
	resp->status = status;
	if (body == NULL) {
		resp_set_body(resp, NULL, 0);
		return;
	}
	char *s = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(body);
	resp_set_body(resp, s, s ? strlen(s) : 0);
	sim_resp_header(resp, "Content-Type", "application/json");
}

void sim_resp_body(struct sim_resp *resp, int status, const char *ctype,
		   const char *body, size_t len)
{
	char *copy = malloc(len + 1);

	resp->action = SIM_SEND;
	resp->status = status;
	if (copy == NULL) {
		resp_set_body(resp, NULL, 0);
		return;
	}
	memcpy(copy, body, len);
	copy[len] = '\0';
	resp_set_body(resp, copy, len);
	if (ctype != NULL)
		sim_resp_header(resp, "Content-Type", ctype);
}

void sim_resp_empty(struct sim_resp *resp, int status)
{
	resp->action = SIM_SEND;
	resp->status = status;
	resp_set_body(resp, NULL, 0);
}

/* ------------------------------------------------------------------ */

const char *sim_time_str(int64_t t, char *out, size_t outsz)
{
	vs_time_format(out, outsz, t);
	return out;
}

json_t *sim_json_time(int64_t t)
{
	char buf[40];

	if (t == 0)
		return json_null();
	return json_string(sim_time_str(t, buf, sizeof(buf)));
}
