/*
 * sim_session.c - the core's shared state outside HTTP: the random
 * generator, fault rates and dice, and sessions with their request
 * budget (--session-ttl).
 */
#include "sim_core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timeutil.h"

/* A client that logs in for every request must not grow the table
 * without bound; past this many live sessions the table starts over
 * and clients see 401 and log in again, as after a server restart. */
#define SESSIONS_MAX 100000
#define SESS_BUCKETS 4096

struct sim_session {
	struct sim_session *next;
	enum sim_platform platform;
	char token[SIM_TOKEN_MAX];
	struct sim_session_info info;
};

int sim_core_init(struct sim *sim)
{
	struct sim_core *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return -1;
	c->sess = calloc(SESS_BUCKETS, sizeof(*c->sess));
	c->by_route = json_object();
	c->by_status = json_object();
	if (c->sess == NULL || c->by_route == NULL || c->by_status == NULL) {
		free(c->sess);
		json_decref(c->by_route);
		json_decref(c->by_status);
		free(c);
		return -1;
	}
	c->nsess_buckets = SESS_BUCKETS;
	pthread_mutex_init(&c->rng_lock, NULL);
	pthread_mutex_init(&c->fault_lock, NULL);
	pthread_mutex_init(&c->sess_lock, NULL);
	pthread_mutex_init(&c->stats_lock, NULL);
	pthread_mutex_init(&c->timer_lock, NULL);
	pthread_cond_init(&c->timer_cond, NULL);
	pthread_mutex_init(&c->log_lock, NULL);
	/* Tokens and fault dice need not repeat with the inventory seed,
	 * but a fixed derivation keeps fault runs reproducible. */
	sim_rng_seed(&c->rng, sim->opts.seed ^ 0x5eed5eed5eed5eedULL);
	sim->core = c;
	return 0;
}

void sim_core_release(struct sim *sim)
{
	struct sim_core *c = sim->core;

	if (c == NULL)
		return;
	sim_session_clear(sim);
	free(c->sess);
	json_decref(c->by_route);
	json_decref(c->by_status);
	free(c->heap);
	free(c->tls_cert_pem);
	free(c->tls_key_pem);
	if (c->request_log)
		fclose(c->request_log);
	pthread_mutex_destroy(&c->rng_lock);
	pthread_mutex_destroy(&c->fault_lock);
	pthread_mutex_destroy(&c->sess_lock);
	pthread_mutex_destroy(&c->stats_lock);
	pthread_mutex_destroy(&c->timer_lock);
	pthread_cond_destroy(&c->timer_cond);
	pthread_mutex_destroy(&c->log_lock);
	free(c);
	sim->core = NULL;
}

uint64_t sim_random(struct sim *sim)
{
	uint64_t x;

	pthread_mutex_lock(&sim->core->rng_lock);
	x = sim_rng_next(&sim->core->rng);
	pthread_mutex_unlock(&sim->core->rng_lock);
	return x;
}

/* ------------------------------------------------------------------ */

double sim_fault_rate(struct sim *sim, enum sim_platform p,
		      enum sim_fault_kind k)
{
	double r;

	pthread_mutex_lock(&sim->core->fault_lock);
	r = sim->opts.fault[p][k];
	pthread_mutex_unlock(&sim->core->fault_lock);
	return r;
}

bool sim_fault_roll(struct sim *sim, enum sim_platform p, enum sim_fault_kind k)
{
	double rate = sim_fault_rate(sim, p, k);

	if (rate <= 0.0)
		return false;
	if (rate >= 1.0)
		return true;
	return (double)(sim_random(sim) >> 11) * (1.0 / 9007199254740992.0) <
	       rate;
}

static const char *const fault_names[SIM_FAULT_NKINDS] = {
	"500",	"502",		"503",		"429",	       "drop",
	"hang", "delete-error", "delete-stuck", "protect-late"};

const char *sim_fault_name(enum sim_fault_kind k)
{
	return fault_names[k];
}

int sim_fault_parse(struct sim_opts *opts, const char *spec, char *err,
		    size_t errsz)
{
	char prov[16], kind[32];
	const char *c1 = strchr(spec, ':'), *c2;
	double rate = 1.0;
	int p = -1, k = -1;
	size_t n;

	if (c1 == NULL || (n = (size_t)(c1 - spec)) >= sizeof(prov))
		goto bad;
	memcpy(prov, spec, n);
	prov[n] = '\0';
	c2 = strchr(c1 + 1, ':');
	n = c2 ? (size_t)(c2 - c1 - 1) : strlen(c1 + 1);
	if (n >= sizeof(kind))
		goto bad;
	memcpy(kind, c1 + 1, n);
	kind[n] = '\0';
	if (c2 != NULL) {
		char *end;

		rate = strtod(c2 + 1, &end);
		if (end == c2 + 1 || *end || !(rate >= 0.0 && rate <= 1.0)) {
			snprintf(err, errsz,
				 "bad fault rate in '%s' (want 0..1)", spec);
			return -1;
		}
	}
	for (int i = 0; i < SIM_FAULT_NKINDS; i++)
		if (!strcmp(kind, fault_names[i]))
			k = i;
	if (strcmp(prov, "all") != 0) {
		for (int i = 0; i < SIM_NPLATFORMS; i++)
			if (!strcmp(prov, sim_platform_name(i)))
				p = i;
		if (p < 0) {
			snprintf(err, errsz,
				 "unknown fault provider '%s' (vmware, rhv, "
				 "osp or all)",
				 prov);
			return -1;
		}
	}
	if (k < 0) {
		snprintf(err, errsz,
			 "unknown fault kind '%s' (500, 502, 503, 429, drop, "
			 "hang, delete-error, delete-stuck, protect-late)",
			 kind);
		return -1;
	}
	if (k == SIM_FAULT_PROTECT_LATE && p != SIM_RHV) {
		snprintf(err, errsz, "fault kind protect-late is for rhv only");
		return -1;
	}
	for (int i = 0; i < SIM_NPLATFORMS; i++)
		if (p < 0 || p == i)
			opts->fault[i][k] = rate;
	return 0;
bad:
	snprintf(err, errsz, "bad fault '%s' (want PROVIDER:KIND[:RATE])",
		 spec);
	return -1;
}

/* ------------------------------------------------------------------ */

static size_t bucket_of(const struct sim_core *c, const char *tok)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *tok; tok++)
		h = (h ^ (unsigned char)*tok) * 0x100000001b3ULL;
	return (size_t)(h % c->nsess_buckets);
}

static void clear_nolock(struct sim_core *c)
{
	for (size_t i = 0; i < c->nsess_buckets; i++) {
		struct sim_session *s = c->sess[i], *next;

		for (; s != NULL; s = next) {
			next = s->next;
			free(s);
		}
		c->sess[i] = NULL;
	}
	c->nsess = 0;
}

void sim_session_clear(struct sim *sim)
{
	pthread_mutex_lock(&sim->core->sess_lock);
	clear_nolock(sim->core);
	pthread_mutex_unlock(&sim->core->sess_lock);
}

void sim_session_new(struct sim *sim, enum sim_platform p, const char *user,
		     const char *project, char *tok)
{
	sim_session_new_scoped(sim, p, user, project, NULL, tok);
}

void sim_session_new_scoped(struct sim *sim, enum sim_platform p,
			    const char *user, const char *project,
			    const char *project_name, char *tok)
{
	struct sim_core *c = sim->core;
	struct sim_session *s = calloc(1, sizeof(*s));
	struct sim_rng r;
	size_t b;

	/* A private generator seeded from the shared one keeps the
	 * shared lock short. */
	sim_rng_seed(&r, sim_random(sim));
	sim_rng_hex(&r, tok, 32);
	if (s == NULL)
		return; /* the token will simply not validate */
	s->platform = p;
	memcpy(s->token, tok, 33);
	snprintf(s->info.user, sizeof(s->info.user), "%s", user ? user : "");
	snprintf(s->info.project, sizeof(s->info.project), "%s",
		 project ? project : "");
	snprintf(s->info.project_name, sizeof(s->info.project_name), "%s",
		 project_name ? project_name : "");
	s->info.created = s->info.last = vs_time_now();
	pthread_mutex_lock(&c->sess_lock);
	if (c->nsess >= SESSIONS_MAX)
		clear_nolock(c);
	b = bucket_of(c, tok);
	s->next = c->sess[b];
	c->sess[b] = s;
	c->nsess++;
	pthread_mutex_unlock(&c->sess_lock);
}

static int lookup(struct sim *sim, enum sim_platform p, const char *tok,
		  struct sim_session_info *info, bool count)
{
	struct sim_core *c = sim->core;
	struct sim_session *s;
	int rc = SIM_SESSION_UNKNOWN;

	if (tok == NULL || *tok == '\0')
		return SIM_SESSION_UNKNOWN;
	pthread_mutex_lock(&c->sess_lock);
	for (s = c->sess[bucket_of(c, tok)]; s != NULL; s = s->next) {
		if (s->platform != p || strcmp(s->token, tok) != 0)
			continue;
		if (count && sim->opts.session_ttl > 0 &&
		    s->info.uses >= sim->opts.session_ttl) {
			rc = SIM_SESSION_EXPIRED;
			break;
		}
		if (info != NULL)
			*info = s->info; /* the previous use, for "last" */
		if (count) {
			s->info.uses++;
			s->info.last = vs_time_now();
			if (info != NULL)
				info->uses = s->info.uses;
		}
		rc = SIM_SESSION_OK;
		break;
	}
	pthread_mutex_unlock(&c->sess_lock);
	return rc;
}

int sim_session_use(struct sim *sim, enum sim_platform p, const char *tok,
		    struct sim_session_info *info)
{
	return lookup(sim, p, tok, info, true);
}

int sim_session_peek(struct sim *sim, enum sim_platform p, const char *tok,
		     struct sim_session_info *info)
{
	return lookup(sim, p, tok, info, false);
}

int sim_session_end(struct sim *sim, enum sim_platform p, const char *tok)
{
	struct sim_core *c = sim->core;
	struct sim_session **pp;
	int rc = SIM_SESSION_UNKNOWN;

	if (tok == NULL)
		return rc;
	pthread_mutex_lock(&c->sess_lock);
	for (pp = &c->sess[bucket_of(c, tok)]; *pp; pp = &(*pp)->next) {
		struct sim_session *s = *pp;

		if (s->platform == p && strcmp(s->token, tok) == 0) {
			*pp = s->next;
			free(s);
			c->nsess--;
			rc = SIM_SESSION_OK;
			break;
		}
	}
	pthread_mutex_unlock(&c->sess_lock);
	return rc;
}
