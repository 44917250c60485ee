/*
 * fake_provider.c - an in-memory provider for the plugin loader tests.
 *
 * Built three ways (Makefile): vmsweep-fake.so as a correct plugin,
 * vmsweep-badabi.so with -DFAKE_ABI=999 (an ABI version vmsweep must
 * refuse) and vmsweep-nosym.so with -DFAKE_NOSYM (the entry point under
 * another name).  It is written against providers/provider.h alone, as a
 * third-party provider would be.
 *
 * Keys: vms (how many VMs list() returns, default 3), fail_open (open
 * fails with class auth), token (a secret, only checked for presence).
 * VMs are named fake-0, fake-1, ...; remove() deletes from the in-memory
 * set, probe() reports PRESENT or ABSENT.  Thread-safe with one mutex.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "provider.h"

#ifndef FAKE_ABI
#define FAKE_ABI VS_PROVIDER_ABI_VERSION
#endif

#define FAKE_MAX_VMS 1000

struct fake {
	const struct vs_host *host;
	char *name;
	pthread_mutex_t mu;
	int n;
	unsigned char gone[FAKE_MAX_VMS];
};

static const struct vs_key_spec fake_keys[] = {
	{"vms", VS_KEY_INT, "number of VMs to list"},
	{"fail_open", VS_KEY_BOOL, "make open fail with an auth error"},
	{"token", VS_KEY_SECRET, "a secret that is never used"},
	{NULL, 0, NULL},
};

static int fake_index(const struct fake *f, const struct vs_vm *vm)
{
	long i;
	char *end;

	if (!vm->id || strncmp(vm->id, "id-", 3) != 0)
		return -1;
	i = strtol(vm->id + 3, &end, 10);
	if (*end || i < 0 || i >= f->n)
		return -1;
	return (int)i;
}

static int fake_open(void **state, const struct vs_provider_config *cfg,
		     const struct vs_host *host, struct vs_http *http,
		     struct vs_error *err)
{
	struct fake *f;
	const char *v;
	long n = 3;

	(void)http;
	v = vs_provider_config_get(cfg, "fail_open");
	if (v && strcmp(v, "true") == 0)
		return vs_error_set(err, VS_EC_AUTH, 401, 0,
				    "fake: credentials refused");
	v = vs_provider_config_get(cfg, "vms");
	if (v)
		n = strtol(v, NULL, 10);
	if (n < 0 || n > FAKE_MAX_VMS)
		return vs_error_set(err, VS_EC_CONFIG, 0, 0,
				    "fake: vms out of range");
	f = calloc(1, sizeof(*f));
	if (!f)
		return vs_error_set(err, VS_EC_INTERNAL, 0, 0, "out of memory");
	f->name = strdup(cfg->name ? cfg->name : "fake");
	if (!f->name) {
		free(f);
		return vs_error_set(err, VS_EC_INTERNAL, 0, 0, "out of memory");
	}
	pthread_mutex_init(&f->mu, NULL);
	f->host = host;
	f->n = (int)n;
	host->log(VS_LOG_DEBUG, f->name, "fake provider with %d VMs", f->n);
	*state = f;
	return VS_OK;
}

static int fake_list(void *state, struct vs_http *http, struct vs_vm_list *out,
		     struct vs_error *err)
{
	struct fake *f = state;
	char buf[64];
	int i;

	(void)http;
	pthread_mutex_lock(&f->mu);
	for (i = 0; i < f->n; i++) {
		struct vs_vm *vm;

		if (f->gone[i])
			continue;
		vm = vs_vm_list_push(out);
		if (!vm)
			goto nomem;
		snprintf(buf, sizeof(buf), "id-%d", i);
		vm->id = strdup(buf);
		snprintf(buf, sizeof(buf), "fake-%d", i);
		vm->name = strdup(buf);
		if (!vm->id || !vm->name)
			goto nomem;
		vm->created = (int64_t)time(NULL) - 86400;
		vm->age_source = VS_AGE_CREATED;
		vm->power = VS_POWER_OFF;
	}
	pthread_mutex_unlock(&f->mu);
	return VS_OK;
nomem:
	pthread_mutex_unlock(&f->mu);
	return vs_error_set(err, VS_EC_INTERNAL, 0, 0, "out of memory");
}

static int fake_remove(void *state, struct vs_http *http,
		       const struct vs_vm *vm, enum vs_remove_status *status,
		       struct vs_error *err)
{
	struct fake *f = state;
	int i = fake_index(f, vm);

	(void)http;
	(void)err;
	pthread_mutex_lock(&f->mu);
	if (i < 0 || f->gone[i]) {
		*status = VS_REMOVE_ABSENT;
	} else {
		f->gone[i] = 1;
		*status = VS_REMOVE_DELETED;
	}
	pthread_mutex_unlock(&f->mu);
	return VS_OK;
}

static int fake_probe(void *state, struct vs_http *http, const struct vs_vm *vm,
		      enum vs_remove_status *status, struct vs_error *err)
{
	struct fake *f = state;
	int i = fake_index(f, vm);

	(void)http;
	(void)err;
	pthread_mutex_lock(&f->mu);
	*status = (i < 0 || f->gone[i]) ? VS_REMOVE_ABSENT : VS_REMOVE_PRESENT;
	pthread_mutex_unlock(&f->mu);
	return VS_OK;
}

static void fake_close(void *state, struct vs_http *http)
{
	struct fake *f = state;

	(void)http;
	if (!f)
		return;
	pthread_mutex_destroy(&f->mu);
	free(f->name);
	free(f);
}

#ifdef FAKE_NOSYM
#define FAKE_SYMBOL vmsweep_provider_under_another_name
#else
#define FAKE_SYMBOL vmsweep_provider
#endif

extern const struct vs_provider_ops FAKE_SYMBOL;
const struct vs_provider_ops FAKE_SYMBOL = {
	.abi_version = FAKE_ABI,
	.type = "fake",
	.description = "in-memory provider for tests",
	.caps = VS_CAP_CREATED,
	.keys = fake_keys,
	.open = fake_open,
	.list = fake_list,
	.remove = fake_remove,
	.probe = fake_probe,
	.confirm = NULL,
	.close = fake_close,
};
