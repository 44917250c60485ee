/*
 * sim_gen.c - a reproducible lab inventory from a seed.
 *
 * The mix follows what a CI lab looks like: most VMs are pipeline
 * leftovers (test_vm_*, jenkins-*, ci-*), a few are long-lived
 * infrastructure and production machines, and people protect some of
 * them by each platform's own means or by the shared markers.  Every
 * choice draws from the caller's generator in a fixed order, so one seed
 * always gives the same lab, with times relative to now.
 */
#include "sim_core.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "timeutil.h"

#define MINUTE 60
#define DAY    86400

static const char *const people[] = {"alice", "bob",   "carol", "dave",
				     "erin",  "frank", "grace", "heidi"};
static const char *const suites[] = {"smoke", "e2e",	 "upgrade",
				     "perf",  "install", "regress"};
static const char *const infra[] = {"dns", "ntp", "ldap", "proxy", "repo"};
static const char *const prod[] = {"db", "web", "api", "cache", "mq"};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* One name, and whether it is a long-lived kind (older, more often on). */
static bool make_name(struct sim_rng *r, char *out, size_t sz)
{
	uint64_t k = sim_rng_below(r, 100);
	char hex[5];

	sim_rng_hex(r, hex, 4);
	if (k < 22) {
		snprintf(out, sz, "test_vm_%u",
			 (unsigned)sim_rng_below(r, 500));
	} else if (k < 40) {
		snprintf(out, sz, "jenkins-%u",
			 (unsigned)(1000 + sim_rng_below(r, 9000)));
	} else if (k < 56) {
		snprintf(out, sz, "ci-build-%s", hex);
	} else if (k < 66) {
		snprintf(out, sz, "ci-%s-%u",
			 suites[sim_rng_below(r, NELEM(suites))],
			 (unsigned)sim_rng_below(r, 1000));
	} else if (k < 74) {
		snprintf(out, sz, "dev-%s-%u",
			 people[sim_rng_below(r, NELEM(people))],
			 (unsigned)(1 + sim_rng_below(r, 9)));
	} else if (k < 79) {
		snprintf(out, sz, "tmp-%s", hex);
	} else if (k < 84) {
		snprintf(out, sz, "k8s-worker-%u",
			 (unsigned)(1 + sim_rng_below(r, 40)));
	} else if (k < 89) {
		snprintf(out, sz, "web-%u-keep",
			 (unsigned)(1 + sim_rng_below(r, 9)));
		return true;
	} else if (k < 95) {
		snprintf(out, sz, "prod-%s-%u",
			 prod[sim_rng_below(r, NELEM(prod))],
			 (unsigned)(1 + sim_rng_below(r, 6)));
		return true;
	} else {
		snprintf(out, sz, "infra-%s-%u",
			 infra[sim_rng_below(r, NELEM(infra))],
			 (unsigned)(1 + sim_rng_below(r, 3)));
		return true;
	}
	return false;
}

/* Age in seconds: log-uniform from 5 minutes to ~6 months, so minutes,
 * hours, days and months are all well represented. */
static int64_t make_age(struct sim_rng *r, bool long_lived)
{
	double lo = log(5.0 * MINUTE), hi = log(180.0 * DAY);

	if (long_lived)
		lo = log(20.0 * DAY), hi = log(400.0 * DAY);
	return (int64_t)exp(lo + (hi - lo) * sim_rng_unit(r));
}

static const char *pick(struct sim_rng *r, const char *const *states,
			const unsigned *weights, size_t n)
{
	unsigned total = 0, x;

	for (size_t i = 0; i < n; i++)
		total += weights[i];
	x = (unsigned)sim_rng_below(r, total);
	for (size_t i = 0; i < n; i++) {
		if (x < weights[i])
			return states[i];
		x -= weights[i];
	}
	return states[0];
}

static int make_expiry(struct sim_vm *vm, struct sim_rng *r,
		       enum sim_platform p, int64_t now)
{
	/* Half already past (the VM is fair game), half still ahead. */
	int64_t when =
		now + (sim_rng_below(r, 2) ? 1 : -1) *
			      (int64_t)(MINUTE *
					(30 + sim_rng_below(r, 30 * 24 * 60)));
	char stamp[40], tag[80];

	sim_time_str(when, stamp, sizeof(stamp));
	snprintf(tag, sizeof(tag), "%s=%s", SIM_MARK_EXPIRES, stamp);
	switch (p) {
	case SIM_OSP:
		if (sim_rng_below(r, 2))
			return sim_vm_set_meta(vm, SIM_MARK_EXPIRES, stamp);
		return sim_vm_add_tag(vm, tag);
	case SIM_RHV:
		if (sim_rng_below(r, 2))
			return sim_vm_set_str(&vm->description, tag);
		return sim_vm_add_tag(vm, tag);
	default:
		return sim_vm_add_tag(vm, tag);
	}
}

static int gen_vmware(struct sim_vm *vm, struct sim_rng *r, size_t i)
{
	static const char *const st[] = {"POWERED_ON", "POWERED_OFF",
					 "SUSPENDED"};
	static const unsigned w[] = {60, 35, 5};
	char folder[32];

	snprintf(vm->id, sizeof(vm->id), "vm-%u", (unsigned)(1001 + i));
	snprintf(vm->state, sizeof(vm->state), "%s", pick(r, st, w, 3));
	snprintf(folder, sizeof(folder), "group-v%u",
		 (unsigned)(1001 + sim_rng_below(r, 4)));
	if (sim_vm_set_str(&vm->folder, folder) < 0 ||
	    sim_vm_set_str(&vm->cluster,
			   sim_rng_below(r, 2) ? "Cluster-A" : "Cluster-B") < 0)
		return -1;
	vm->is_template = sim_rng_below(r, 100) < 2;
	if (vm->is_template)
		snprintf(vm->state, sizeof(vm->state), "POWERED_OFF");
	vm->config_unavailable = sim_rng_below(r, 100) < 2;
	vm->cpu_count = 1 << sim_rng_below(r, 4);
	vm->memory_mib = 1024LL << sim_rng_below(r, 5);
	return 0;
}

static int gen_rhv(struct sim_vm *vm, struct sim_rng *r)
{
	static const char *const st[] = {"up", "down", "suspended", "paused"};
	static const unsigned w[] = {55, 40, 3, 2};

	sim_rng_uuid(r, vm->id);
	snprintf(vm->state, sizeof(vm->state), "%s", pick(r, st, w, 4));
	vm->locked = sim_rng_below(r, 100) < 8; /* delete_protected */
	vm->cpu_count = 1 << sim_rng_below(r, 4);
	vm->memory_mib = 1024LL << sim_rng_below(r, 5);
	if (sim_vm_set_str(&vm->cluster, "Default") < 0)
		return -1;
	if (sim_rng_below(r, 100) < 4 &&
	    sim_vm_set_str(&vm->description, "owner: ci; " SIM_MARK_KEEP) < 0)
		return -1;
	return 0;
}

static int gen_osp(struct sim_vm *vm, struct sim_rng *r, int64_t now)
{
	static const char *const st[] = {"ACTIVE", "SHUTOFF",	"ERROR",
					 "PAUSED", "SUSPENDED", "SOFT_DELETED"};
	static const unsigned w[] = {60, 25, 7, 2, 2, 2};

	sim_rng_uuid(r, vm->id);
	snprintf(vm->state, sizeof(vm->state), "%s", pick(r, st, w, 6));
	vm->locked = sim_rng_below(r, 100) < 6;
	if (sim_vm_set_meta(vm, "owner",
			    people[sim_rng_below(r, NELEM(people))]) < 0)
		return -1;
	if (sim_rng_below(r, 100) < 3 &&
	    sim_vm_set_meta(vm, SIM_MARK_KEEP, "true") < 0)
		return -1;
	if (!strcmp(vm->state, "ERROR")) {
		if (sim_vm_set_str(&vm->fault_msg,
				   "No valid host was found. ") < 0)
			return -1;
		vm->fault_time = vm->created + 120;
	}
	vm->updated = vm->created + 60 + (int64_t)sim_rng_below(r, 3600);
	if (vm->updated > now)
		vm->updated = now;
	return 0;
}

int sim_generate(struct sim *sim, enum sim_platform p, size_t n,
		 struct sim_rng *r)
{
	struct sim_inv *inv = &sim->inv[p];
	int64_t now = vs_time_now();
	int rc = 0;

	pthread_mutex_lock(&inv->lock);
	for (size_t i = 0; i < n && rc == 0; i++) {
		char name[64];
		bool long_lived = make_name(r, name, sizeof(name));
		struct sim_vm *vm = sim_vm_new(name);

		if (vm == NULL) {
			rc = -1;
			break;
		}
		vm->created = now - make_age(r, long_lived);
		vm->updated = vm->created;
		switch (p) {
		case SIM_VMWARE:
			rc = gen_vmware(vm, r, i);
			break;
		case SIM_RHV:
			rc = gen_rhv(vm, r);
			break;
		default:
			rc = gen_osp(vm, r, now);
			break;
		}
		/* The shared markers, on every platform. */
		if (rc == 0 && sim_rng_below(r, 100) < (long_lived ? 25 : 4))
			rc = sim_vm_add_tag(vm, SIM_MARK_KEEP);
		if (rc == 0 && sim_rng_below(r, 100) < 6)
			rc = make_expiry(vm, r, p, now);
		if (rc == 0 && long_lived && strstr(name, "prod-") &&
		    p == SIM_VMWARE)
			rc = sim_vm_add_tag(vm, "production");
		if (rc < 0) {
			sim_vm_free(vm);
			break;
		}
		rc = sim_inv_add_nolock(inv, vm);
	}
	sim_inv_sort_nolock(inv);
	pthread_mutex_unlock(&inv->lock);
	return rc;
}
