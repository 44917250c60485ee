/*
 * test_retry.c - a retry takes exactly the failed and requested VMs of a
 * report, and re-checks each against a fresh inventory: gone, renamed,
 * recreated under the same name, now protected, provider gone or down.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "retry.h"

#define S(x) ((char *)(x))
#define H    (3600LL)
#define NOW  ((int64_t)1780000000)

struct fx {
	struct vs_config cfg;
	struct vs_config_provider provs[2];
	struct vs_inventory inv[2];
	struct vs_report from; /* the earlier report */
	struct vs_report plan;
};

static char *g_keep_globs[] = {S("*-keep")};

static void fx_init(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	f->cfg.providers = f->provs;
	f->cfg.n_providers = 2;
	f->cfg.protect_marker = S("vmsweep:keep");
	f->cfg.expiry_marker = S("vmsweep:expires");
	f->cfg.protect_names = g_keep_globs;
	f->cfg.n_protect_names = 1;
	f->provs[0].name = S("osp-lab");
	f->provs[0].type = S("osp");
	f->provs[1].name = S("rhv-lab");
	f->provs[1].type = S("rhv");
	f->inv[0].provider = &f->provs[0];
	f->inv[0].type = "osp";
	f->inv[0].ok = 1;
	f->inv[1].provider = &f->provs[1];
	f->inv[1].type = "rhv";
	f->inv[1].ok = 1;
	vs_report_init(&f->from);
	vs_report_init(&f->plan);
	f->plan.is_plan = 1;
	assert_non_null(vs_report_add_provider(&f->from, "osp-lab", "osp"));
	assert_non_null(vs_report_add_provider(&f->from, "rhv-lab", "rhv"));
	assert_non_null(vs_report_add_provider(&f->from, "vc-old", "vmware"));
}

static void fx_release(struct fx *f)
{
	vs_vm_list_release(&f->inv[0].vms);
	vs_vm_list_release(&f->inv[1].vms);
	vs_report_release(&f->from);
	vs_report_release(&f->plan);
}

static struct vs_vm *inv_add(struct fx *f, int which, const char *id,
			     const char *name)
{
	struct vs_vm *vm = vs_vm_list_push(&f->inv[which].vms);

	assert_non_null(vm);
	vm->id = strdup(id);
	vm->name = strdup(name);
	vm->created = NOW - 10 * H;
	vm->age_source = VS_AGE_CREATED;
	return vm;
}

static void from_add(struct fx *f, const char *prov, const char *id,
		     const char *name, enum vs_outcome o)
{
	struct vs_vm vm;
	struct vs_report_vm *v;

	memset(&vm, 0, sizeof(vm));
	vm.id = S(id);
	vm.name = S(name);
	vm.created = NOW - 10 * H;
	vm.age_source = VS_AGE_CREATED;
	v = vs_report_add_vm(&f->from, prov, &vm, (size_t)-1);
	assert_non_null(v);
	v->vm = NULL;
	v->outcome = o;
	assert_int_equal(vs_report_vm_add_rule(v, "ci-leftovers"), 0);
	v->reason = strdup("rule 'ci-leftovers'");
	if (o == VS_OUT_FAILED)
		vs_error_set(&v->error, VS_EC_SERVER, 500, 1, "boom");
}

static int run_select_as(struct fx *f, int apply)
{
	struct vs_retry rt = {&f->from, "plan.json", apply};
	struct vs_error err;
	int rc;

	vs_error_clear(&err);
	rc = vs_retry_select(&f->plan, &f->cfg, f->inv, 2, NOW, &rt, &err);
	if (rc)
		print_error("%s\n", err.message);
	return rc;
}

static int run_select(struct fx *f)
{
	return run_select_as(f, 0);
}

static const struct vs_report_vm *plan_vm(const struct fx *f, const char *id)
{
	size_t i;

	for (i = 0; i < f->plan.n_vms; i++)
		if (strcmp(f->plan.vms[i].id, id) == 0)
			return &f->plan.vms[i];
	return NULL;
}

static const struct vs_report_kept *plan_kept(const struct fx *f,
					      const char *id)
{
	size_t i;

	for (i = 0; i < f->plan.n_kept; i++)
		if (strcmp(f->plan.kept[i].id, id) == 0)
			return &f->plan.kept[i];
	return NULL;
}

/* Only failed and requested entries are taken, each once, in order. */
static void test_takes_failed_and_requested(void **state)
{
	struct fx f;
	const struct vs_report_vm *v;
	const char *ids[] = {"a", "b", "c", "d", "e", "f", "g"};
	enum vs_outcome outs[] = {VS_OUT_FAILED,    VS_OUT_DELETED,
				  VS_OUT_REQUESTED, VS_OUT_NOT_ATTEMPTED,
				  VS_OUT_PRETEND,   VS_OUT_ALREADY_ABSENT,
				  VS_OUT_PROTECTED};
	size_t i;
	char name[16];

	(void)state;
	fx_init(&f);
	for (i = 0; i < 7; i++) {
		snprintf(name, sizeof(name), "test_%s", ids[i]);
		inv_add(&f, 0, ids[i], name);
		from_add(&f, "osp-lab", ids[i], name, outs[i]);
	}
	/* The same VM twice in a hand-edited report is retried once. */
	from_add(&f, "osp-lab", "a", "test_a", VS_OUT_FAILED);
	assert_int_equal(vs_retry_count(&f.from), 3);
	assert_int_equal(run_select(&f), 0);
	assert_int_equal(f.plan.n_vms, 2);
	assert_string_equal(f.plan.vms[0].id, "a");
	assert_string_equal(f.plan.vms[1].id, "c");
	for (i = 0; i < 2; i++) {
		v = &f.plan.vms[i];
		assert_int_equal(v->outcome, VS_OUT_NONE);
		assert_non_null(v->vm);
		assert_int_equal(v->provider_index, 0);
		assert_int_equal(v->n_rules, 1);
		assert_string_equal(v->rules[0], "ci-leftovers");
		assert_int_equal(v->attempts, 0);
		assert_int_equal(v->error.cls, VS_EC_NONE);
	}
	assert_int_equal(f.plan.n_kept, 0);
	assert_non_null(f.plan.retry_of);
	assert_null(f.plan.plan_path);
	assert_int_equal(f.plan.n_providers, 2);
	assert_int_equal(f.plan.providers[0].listed, 7);
	assert_int_equal(f.plan.providers[0].selected, 2);
	fx_release(&f);
}

/* Gone: already_absent.  Same name, new id: not touched. */
static void test_gone_and_recreated(void **state)
{
	struct fx f;
	const struct vs_report_vm *v;

	(void)state;
	fx_init(&f);
	from_add(&f, "osp-lab", "old-id", "test_vm_1", VS_OUT_FAILED);
	inv_add(&f, 0, "new-id", "test_vm_1");
	assert_int_equal(run_select(&f), 0);
	assert_int_equal(f.plan.n_vms, 1);
	v = plan_vm(&f, "old-id");
	assert_non_null(v);
	assert_int_equal(v->outcome, VS_OUT_ALREADY_ABSENT);
	assert_null(v->vm);
	assert_null(plan_vm(&f, "new-id"));
	assert_null(plan_kept(&f, "new-id"));
	fx_release(&f);
}

/* Renamed, or recreated with the same id: kept with the reason. */
static void test_renamed_and_changed(void **state)
{
	struct fx f;
	const struct vs_report_kept *k;
	struct vs_vm *vm;

	(void)state;
	fx_init(&f);
	from_add(&f, "osp-lab", "r1", "test_vm_1", VS_OUT_FAILED);
	inv_add(&f, 0, "r1", "test_vm_1-rescued");
	from_add(&f, "osp-lab", "r2", "test_vm_2", VS_OUT_REQUESTED);
	vm = inv_add(&f, 0, "r2", "test_vm_2");
	vm->created = NOW - 1 * H;
	assert_int_equal(run_select(&f), 0);
	assert_int_equal(f.plan.n_vms, 0);
	assert_int_equal(f.plan.n_kept, 2);
	k = plan_kept(&f, "r1");
	assert_non_null(k);
	assert_string_equal(k->name, "test_vm_1-rescued");
	assert_non_null(strstr(k->reason, "renamed since"));
	assert_non_null(strstr(k->reason, "'test_vm_1'"));
	k = plan_kept(&f, "r2");
	assert_non_null(k);
	assert_non_null(strstr(k->reason, "creation time changed"));
	assert_int_equal(f.plan.providers[0].kept, 2);
	fx_release(&f);
}

/* A VM protected since the report is kept, whatever protects it. */
static void test_protected_since(void **state)
{
	struct fx f;
	struct vs_vm *vm;
	const struct vs_report_kept *k;

	(void)state;
	fx_init(&f);
	from_add(&f, "osp-lab", "p1", "test_locked", VS_OUT_FAILED);
	vm = inv_add(&f, 0, "p1", "test_locked");
	vm->platform_protection = strdup("locked");
	from_add(&f, "osp-lab", "p2", "test_tagged", VS_OUT_FAILED);
	vm = inv_add(&f, 0, "p2", "test_tagged");
	vm->tags = calloc(1, sizeof(*vm->tags));
	vm->tags[0] = strdup("vmsweep:keep");
	vm->n_tags = 1;
	from_add(&f, "osp-lab", "p3", "db-keep", VS_OUT_FAILED);
	inv_add(&f, 0, "p3", "db-keep");
	from_add(&f, "osp-lab", "p4", "test_plain", VS_OUT_FAILED);
	inv_add(&f, 0, "p4", "test_plain");
	assert_int_equal(run_select(&f), 0);
	assert_int_equal(f.plan.n_vms, 1);
	assert_string_equal(f.plan.vms[0].id, "p4");
	k = plan_kept(&f, "p1");
	assert_non_null(k);
	assert_string_equal(k->reason, "protected by the platform: locked");
	k = plan_kept(&f, "p2");
	assert_non_null(k);
	assert_non_null(strstr(k->reason, "marker 'vmsweep:keep'"));
	k = plan_kept(&f, "p3");
	assert_non_null(k);
	assert_non_null(strstr(k->reason, "'*-keep'"));
	fx_release(&f);
}

/* A provider no longer configured, or not listed: not_attempted. */
static void test_provider_gone_or_down(void **state)
{
	struct fx f;
	const struct vs_report_vm *v;
	size_t i;

	(void)state;
	fx_init(&f);
	from_add(&f, "vc-old", "vm-1", "test_vc", VS_OUT_FAILED);
	from_add(&f, "rhv-lab", "x1", "test_rhv", VS_OUT_FAILED);
	f.inv[1].ok = 0;
	vs_error_set(&f.inv[1].error, VS_EC_AUTH, 401, 0, "bad password");
	assert_int_equal(run_select(&f), 0);
	assert_int_equal(f.plan.n_vms, 2);
	v = plan_vm(&f, "vm-1");
	assert_non_null(v);
	assert_int_equal(v->outcome, VS_OUT_NOT_ATTEMPTED);
	assert_int_equal(v->error.cls, VS_EC_CONFIG);
	assert_int_equal(v->provider_index, (size_t)-1);
	v = plan_vm(&f, "x1");
	assert_non_null(v);
	assert_int_equal(v->outcome, VS_OUT_NOT_ATTEMPTED);
	assert_int_equal(v->error.cls, VS_EC_AUTH);
	assert_non_null(strstr(v->error.message, "bad password"));
	/* Every VM's provider has a summary, so the report reads back. */
	assert_int_equal(f.plan.n_providers, 3);
	for (i = 0; i < f.plan.n_providers; i++)
		if (strcmp(f.plan.providers[i].name, "vc-old") == 0)
			break;
	assert_true(i < f.plan.n_providers);
	assert_int_equal(f.plan.providers[i].listed, -1);
	assert_string_equal(f.plan.providers[i].type, "vmware");
	assert_int_equal(f.plan.providers[i].error.cls, VS_EC_CONFIG);
	assert_int_equal(f.plan.providers[1].listed, -1);
	assert_int_equal(f.plan.providers[1].error.cls, VS_EC_AUTH);
	fx_release(&f);
}

/* Plans and dry runs are refused. */
static void test_check_source(void **state)
{
	struct vs_report r;
	struct vs_error err;

	(void)state;
	vs_report_init(&r);
	vs_error_clear(&err);
	r.is_plan = 1;
	assert_int_equal(vs_retry_check_source(&r, "p.json", &err), VS_ERR);
	assert_int_equal(err.cls, VS_EC_CONFIG);
	assert_non_null(strstr(err.message, "p.json: is a plan"));
	r.is_plan = 0;
	r.dry_run = 1;
	vs_error_clear(&err);
	assert_int_equal(vs_retry_check_source(&r, "d.json", &err), VS_ERR);
	assert_non_null(strstr(err.message, "dry run"));
	r.dry_run = 0;
	vs_error_clear(&err);
	assert_int_equal(vs_retry_check_source(&r, "r.json", &err), VS_OK);
	assert_int_equal(err.cls, VS_EC_NONE);
	vs_report_release(&r);
}

/* Apply: every entry of a plan, the same re-check, the plan named. */
static void test_apply_plan(void **state)
{
	struct fx f;
	struct vs_vm *vm;
	const struct vs_report_kept *k;
	const struct vs_report_vm *v;

	(void)state;
	fx_init(&f);
	f.from.is_plan = 1;
	inv_add(&f, 0, "a", "test_a");
	inv_add(&f, 0, "b", "test_b-renamed");
	vm = inv_add(&f, 0, "c", "test_c");
	vm->created = NOW - 1 * H; /* recreated with the same id */
	vm = inv_add(&f, 1, "d", "test_d");
	vm->platform_protection = strdup("delete_protected");
	from_add(&f, "osp-lab", "a", "test_a", VS_OUT_NONE);
	from_add(&f, "osp-lab", "b", "test_b", VS_OUT_NONE);
	from_add(&f, "osp-lab", "c", "test_c", VS_OUT_NONE);
	from_add(&f, "rhv-lab", "d", "test_d", VS_OUT_NONE);
	from_add(&f, "rhv-lab", "e", "test_e", VS_OUT_NONE);
	assert_int_equal(run_select_as(&f, 1), 0);
	assert_null(f.plan.retry_of);
	assert_non_null(f.plan.plan_path);
	/* a is deleted; e is gone already. */
	v = plan_vm(&f, "a");
	assert_non_null(v);
	assert_int_equal(v->outcome, VS_OUT_NONE);
	assert_non_null(v->vm);
	assert_string_equal(v->rules[0], "ci-leftovers");
	v = plan_vm(&f, "e");
	assert_non_null(v);
	assert_int_equal(v->outcome, VS_OUT_ALREADY_ABSENT);
	assert_int_equal(f.plan.n_vms, 2);
	k = plan_kept(&f, "b");
	assert_non_null(k);
	assert_string_equal(k->reason,
			    "renamed since plan.json: was 'test_b', now "
			    "'test_b-renamed'; not applied");
	k = plan_kept(&f, "c");
	assert_non_null(k);
	assert_non_null(strstr(k->reason, "creation time changed since "
					  "plan.json"));
	assert_non_null(strstr(k->reason, "; not applied"));
	k = plan_kept(&f, "d");
	assert_non_null(k);
	assert_string_equal(k->reason,
			    "protected by the platform: delete_protected");
	fx_release(&f);
}

/* Reports, stale plans and plans from the future are refused. */
static void test_apply_check_source(void **state)
{
	struct vs_report r;
	struct vs_error err;
	int64_t now = NOW * 1000, day = 24 * H * 1000;

	(void)state;
	vs_report_init(&r);
	vs_error_clear(&err);
	assert_int_equal(vs_apply_check_source(&r, "r.json", now, day, &err),
			 VS_ERR);
	assert_int_equal(err.cls, VS_EC_CONFIG);
	assert_non_null(strstr(err.message, "r.json: is a report, not a plan"));
	r.is_plan = 1;
	r.created_ms = now - day - 3 * H * 1000;
	vs_error_clear(&err);
	assert_int_equal(vs_apply_check_source(&r, "p.json", now, day, &err),
			 VS_ERR);
	assert_string_equal(err.message,
			    "p.json: the plan is 1d3h old, limits.max_plan_age "
			    "is 1d; make a new plan with 'vmsweep plan -o'");
	r.created_ms = now + 3600 * 1000;
	vs_error_clear(&err);
	assert_int_equal(vs_apply_check_source(&r, "p.json", now, day, &err),
			 VS_ERR);
	assert_non_null(strstr(err.message, "in the future"));
	r.created_ms = now - day + 1000;
	vs_error_clear(&err);
	assert_int_equal(vs_apply_check_source(&r, "p.json", now, day, &err),
			 VS_OK);
	vs_report_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_takes_failed_and_requested),
		cmocka_unit_test(test_gone_and_recreated),
		cmocka_unit_test(test_renamed_and_changed),
		cmocka_unit_test(test_protected_since),
		cmocka_unit_test(test_provider_gone_or_down),
		cmocka_unit_test(test_check_source),
		cmocka_unit_test(test_apply_plan),
		cmocka_unit_test(test_apply_check_source),
	};
	struct vs_log_opts lo;
	struct vs_error err;

	memset(&lo, 0, sizeof(lo));
	lo.fd = -1;
	lo.level = VS_LOG_ERROR;
	vs_error_clear(&err);
	vs_log_setup(&lo, &err);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
