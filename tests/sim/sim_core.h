/*
 * sim_core.h - what the simulator's core files (sim_main.c, sim_http.c,
 * sim_inv.c, sim_gen.c) share among themselves.  Platform files use
 * sim.h only.
 */
#ifndef SIM_CORE_H
#define SIM_CORE_H

#include <stdio.h>

#include "sim.h"

struct MHD_Daemon;
struct sim_session;
struct sim_timer_entry;

/*
 * The core's private state.  Each group has its own lock; none is ever
 * taken while holding another, except stats_lock inside nothing else.
 */
struct sim_core {
	/* The shared random generator (tokens, fault dice, jitter). */
	pthread_mutex_t rng_lock;
	struct sim_rng rng;
	/* Guards sim->opts.fault, which POST /_sim/fault may change. */
	pthread_mutex_t fault_lock;

	/* Sessions: a chained hash table keyed by token. */
	pthread_mutex_t sess_lock;
	struct sim_session **sess;
	size_t nsess_buckets;
	size_t nsess;

	/* Statistics; by_route and by_status map names to integers. */
	pthread_mutex_t stats_lock;
	uint64_t requests, connections, tls_handshakes;
	int64_t in_flight, max_in_flight;
	json_t *by_route, *by_status;

	/* The daemon and the latency timer (a min-heap by due time). */
	struct MHD_Daemon *daemon;
	unsigned port;
	char *tls_cert_pem, *tls_key_pem;
	pthread_t timer;
	bool timer_started;
	pthread_mutex_t timer_lock;
	pthread_cond_t timer_cond;
	struct sim_timer_entry *heap;
	size_t nheap, heap_alloc;
	bool stopping;

	/* --request-log, one JSON object per line. */
	pthread_mutex_t log_lock;
	FILE *request_log;
};

/*
 * Allocate sim->core (sessions, fault lock, statistics, shared random
 * generator seeded with seed).  0, or -1 when out of memory.
 */
int sim_core_init(struct sim *sim);
void sim_core_release(struct sim *sim);

/* The current rate of a fault kind on platform p (locked read). */
double sim_fault_rate(struct sim *sim, enum sim_platform p,
		      enum sim_fault_kind k);
/* Roll the dice for fault kind k on p: true when it fires. */
bool sim_fault_roll(struct sim *sim, enum sim_platform p,
		    enum sim_fault_kind k);
/* The name of fault kind k, as --fault spells it. */
const char *sim_fault_name(enum sim_fault_kind k);
/* Parse "PROVIDER:KIND[:RATE]" into opts->fault; -1 with a reason. */
int sim_fault_parse(struct sim_opts *opts, const char *spec, char *err,
		    size_t errsz);

/*
 * (Re)build every inventory from --inventory or --generate with the
 * original seed, replacing what is there.  -1 with a reason in err.
 */
int sim_inventory_build(struct sim *sim, char *err, size_t errsz);

/* Forget every session (used by the inventory reset). */
void sim_session_clear(struct sim *sim);

/*
 * Start the daemon on opts.listen_addr:listen_port, write the port file,
 * and return 0; -1 with a reason in err.  sim_http_stop() resumes every
 * suspended connection and stops the daemon.
 */
int sim_http_start(struct sim *sim, char *err, size_t errsz);
void sim_http_stop(struct sim *sim);
/* The port the daemon listens on. */
unsigned sim_http_port(const struct sim *sim);

#endif
