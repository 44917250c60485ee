/*
 * test_report.c - the report model, its JSON round trip, hostile files,
 * atomic writes, exit codes and the text renderers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "report.h"

#define S(x) ((char *)(x))

static char g_dir[64]; /* short, so paths built from it fit */

static int setup_dir(void **state)
{
	char tmpl[] = "/tmp/test_report.XXXXXX";

	(void)state;
	if (!mkdtemp(tmpl))
		return -1;
	snprintf(g_dir, sizeof(g_dir), "%s", tmpl);
	umask(022);
	return 0;
}

static int teardown_dir(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void path_in(char *buf, size_t sz, const char *name)
{
	snprintf(buf, sz, "%s/%s", g_dir, name);
}

static struct vs_report_vm *add(struct vs_report *r, const char *prov,
				size_t pidx, const char *id, const char *name,
				int64_t created, enum vs_age_source src)
{
	struct vs_vm vm;
	struct vs_report_vm *v;

	memset(&vm, 0, sizeof(vm));
	vm.id = S(id);
	vm.name = S(name);
	vm.created = created;
	vm.age_source = src;
	v = vs_report_add_vm(r, prov, &vm, pidx);
	assert_non_null(v);
	assert_ptr_equal(v->vm, &vm);
	v->vm = NULL; /* vm is about to go out of scope */
	return v;
}

static void add_kept(struct vs_report *r, const char *prov, const char *id,
		     const char *name, const char *reason)
{
	struct vs_vm vm;

	memset(&vm, 0, sizeof(vm));
	vm.id = S(id);
	vm.name = S(name);
	assert_non_null(vs_report_add_kept(r, prov, &vm, reason));
}

#define T0 ((int64_t)1764092444123) /* 2025-11-25T17:40:44.123Z */

/* A report with every outcome, an unlisted provider and odd names. */
static void build_report(struct vs_report *r)
{
	struct vs_report_provider *p;
	struct vs_report_vm *v;

	vs_report_init(r);
	r->run_id = strdup("20251125T174044Z-4f2a");
	r->created_ms = T0;
	r->finished_ms = T0 + 61000;
	r->version = strdup("0.1.0");
	r->config_path = strdup("/etc/vmsweep/vmsweep.yaml");
	r->retry_of = strdup("reports/vmsweep-20251124T000000Z-aaaa.json");

	p = vs_report_add_provider(r, "osp-lab", "osp");
	assert_non_null(p);
	p->listed = 120;
	p->concurrency.max = 16;
	p->concurrency.final = 9;
	p->concurrency.min = 2;
	p->concurrency.decreases = 4;
	p = vs_report_add_provider(r, "vc-lab", "vmware");
	p->listed = -1;
	vs_error_set(&p->error, VS_EC_AUTH, 401, 0, "invalid credentials");
	p = vs_report_add_provider(r, "rhv-lab", "rhv");
	p->listed = 10;

	v = add(r, "osp-lab", 0, "3f2a9c1e-0d1b-4c8e-9a7f-2b6d5e4c3a21",
		"test_vm_1", 1764000000, VS_AGE_CREATED);
	vs_report_vm_add_rule(v, "ci-leftovers");
	vs_report_vm_add_rule(v, "nightly");
	v->reason = strdup("rule 'ci-leftovers': name matches 'test_*', age "
			   "1d1h > 4h");
	v->outcome = VS_OUT_DELETED;
	v->attempts = 1;
	v->started_ms = T0 + 1000;
	v->finished_ms = T0 + 3500;

	v = add(r, "osp-lab", 0, "b1", "test_vm_2", 1764000000, VS_AGE_CREATED);
	vs_report_vm_add_rule(v, "ci-leftovers");
	v->reason = strdup("r");
	v->outcome = VS_OUT_FAILED;
	v->attempts = 3;
	v->rounds_failed = 2;
	v->started_ms = T0 + 1000;
	v->finished_ms = T0 + 50000;
	vs_error_set(&v->error, VS_EC_SERVER, 500, 1,
		     "Internal Server Error: compute host down");

	v = add(r, "osp-lab", 0, "b2", "tëst-ü", VS_TIME_UNKNOWN, VS_AGE_NONE);
	vs_report_vm_add_rule(v, "nightly");
	v->reason = strdup("r");
	v->outcome = VS_OUT_REQUESTED;
	v->attempts = 1;
	vs_error_set(&v->error, VS_EC_TIMEOUT, 0, 1,
		     "not gone after 10m (task_state deleting)");

	v = add(r, "rhv-lab", 2, "r1", "jenkins-1", 1763000000,
		VS_AGE_FIRST_SEEN);
	vs_report_vm_add_rule(v, "jenkins");
	v->reason = strdup("r");
	v->outcome = VS_OUT_ALREADY_ABSENT;
	v->attempts = 1;
	v->rounds_failed = 1;
	v->started_ms = T0 + 2000;
	v->finished_ms = T0 + 2001;

	v = add(r, "rhv-lab", 2, "r2", "jenkins-2", 1763000000, VS_AGE_CREATED);
	vs_report_vm_add_rule(v, "jenkins");
	v->reason = strdup("r");
	v->outcome = VS_OUT_NOT_ATTEMPTED;
	vs_error_set(&v->error, VS_EC_CANCELLED, 0, 1,
		     "interrupted by SIGTERM");

	v = add(r, "rhv-lab", 2, "r3", "jenkins-3", 1763000000, VS_AGE_CREATED);
	vs_report_vm_add_rule(v, "jenkins");
	v->reason = strdup("r");
	v->outcome = VS_OUT_PROTECTED;
	v->attempts = 1;
	v->started_ms = T0 + 2000;
	v->finished_ms = T0 + 2100;
	vs_error_set(&v->error, VS_EC_PROTECTED, 409, 0,
		     "delete_protected is set");

	v = add(r, "rhv-lab", 2, "r4", "jenkins-4", 1763000000, VS_AGE_CREATED);
	vs_report_vm_add_rule(v, "jenkins");
	v->reason = strdup("r");
	v->outcome = VS_OUT_DELETED;
	v->attempts = 2;
	v->rounds_failed = 1;
	v->started_ms = T0 + 2000;
	v->finished_ms = T0 + 9000;

	add_kept(r, "osp-lab", "k1", "test_keep-keep",
		 "protected by name pattern '*-keep'");
	add_kept(r, "rhv-lab", "k2", "jenkins-new",
		 "rule 'jenkins': age 1h0m is not over older_than 12h");
	vs_report_tally(r);
}

static void assert_error_equal(const struct vs_error *a,
			       const struct vs_error *b)
{
	assert_int_equal(a->cls, b->cls);
	assert_int_equal(a->http_status, b->http_status);
	assert_int_equal(a->retryable, b->retryable);
	assert_string_equal(a->message, b->message);
}

static void assert_str_or_null(const char *a, const char *b)
{
	if (!a || !b)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

static void assert_reports_equal(const struct vs_report *a,
				 const struct vs_report *b)
{
	size_t i, j;
	int o;

	assert_int_equal(a->schema_version, b->schema_version);
	assert_int_equal(a->is_plan, b->is_plan);
	assert_int_equal(a->created_ms, b->created_ms);
	assert_str_or_null(a->version, b->version);
	assert_str_or_null(a->config_path, b->config_path);
	if (!a->is_plan) {
		assert_str_or_null(a->run_id, b->run_id);
		assert_int_equal(a->dry_run, b->dry_run);
		assert_int_equal(a->finished_ms, b->finished_ms);
		assert_str_or_null(a->retry_of, b->retry_of);
		assert_str_or_null(a->plan_path, b->plan_path);
	}
	assert_int_equal(a->n_providers, b->n_providers);
	for (i = 0; i < a->n_providers; i++) {
		const struct vs_report_provider *x = &a->providers[i],
						*y = &b->providers[i];
		assert_string_equal(x->name, y->name);
		assert_string_equal(x->type, y->type);
		assert_int_equal(x->listed, y->listed);
		assert_int_equal(x->selected, y->selected);
		assert_int_equal(x->kept, y->kept);
		for (o = 0; o < VS_OUT_COUNT && !a->is_plan; o++)
			assert_int_equal(x->outcomes[o], y->outcomes[o]);
		assert_error_equal(&x->error, &y->error);
		if (a->is_plan)
			continue;
		assert_int_equal(x->concurrency.max, y->concurrency.max);
		assert_int_equal(x->concurrency.final, y->concurrency.final);
		assert_int_equal(x->concurrency.min, y->concurrency.min);
		assert_int_equal(x->concurrency.decreases,
				 y->concurrency.decreases);
	}
	assert_int_equal(a->n_vms, b->n_vms);
	for (i = 0; i < a->n_vms; i++) {
		const struct vs_report_vm *x = &a->vms[i], *y = &b->vms[i];
		assert_string_equal(x->provider, y->provider);
		assert_string_equal(x->id, y->id);
		assert_string_equal(x->name, y->name);
		assert_int_equal(x->created, y->created);
		assert_int_equal(x->age_source, y->age_source);
		assert_int_equal(x->n_rules, y->n_rules);
		for (j = 0; j < x->n_rules; j++)
			assert_string_equal(x->rules[j], y->rules[j]);
		assert_str_or_null(x->reason, y->reason);
		if (a->is_plan)
			continue;
		assert_int_equal(x->outcome, y->outcome);
		assert_int_equal(x->attempts, y->attempts);
		assert_int_equal(x->rounds_failed, y->rounds_failed);
		assert_int_equal(x->started_ms, y->started_ms);
		assert_int_equal(x->finished_ms, y->finished_ms);
		assert_error_equal(&x->error, &y->error);
	}
	assert_int_equal(a->n_kept, b->n_kept);
	for (i = 0; i < a->n_kept; i++) {
		assert_string_equal(a->kept[i].provider, b->kept[i].provider);
		assert_string_equal(a->kept[i].id, b->kept[i].id);
		assert_string_equal(a->kept[i].name, b->kept[i].name);
		assert_string_equal(a->kept[i].reason, b->kept[i].reason);
	}
}

/* ------------------------------------------------------------------ */

static void test_outcome_names(void **state)
{
	static const char *const names[VS_OUT_COUNT] = {
		"planned", "deleted", "already_absent", "requested",
		"failed",  "pretend", "not_attempted",	"protected",
	};
	enum vs_outcome o;
	int i;

	(void)state;
	for (i = 0; i < VS_OUT_COUNT; i++) {
		assert_string_equal(vs_outcome_name((enum vs_outcome)i),
				    names[i]);
		assert_int_equal(vs_outcome_parse(names[i], &o), 0);
		assert_int_equal(o, i);
	}
	assert_int_equal(vs_outcome_parse("Deleted", &o), VS_ERR);
	assert_int_equal(vs_outcome_parse(NULL, &o), VS_ERR);
}

static void test_exit_code_and_tally(void **state)
{
	static const enum vs_outcome ok[] = {VS_OUT_DELETED,
					     VS_OUT_ALREADY_ABSENT,
					     VS_OUT_PRETEND, VS_OUT_PROTECTED};
	static const enum vs_outcome bad[] = {VS_OUT_FAILED, VS_OUT_REQUESTED,
					      VS_OUT_NOT_ATTEMPTED,
					      VS_OUT_NONE};
	struct vs_report r;
	struct vs_report_vm *v;
	size_t i;

	(void)state;
	vs_report_init(&r);
	assert_int_equal(vs_report_exit_code(&r), 0);
	assert_non_null(vs_report_add_provider(&r, "p", "osp"));
	for (i = 0; i < 4; i++)
		add(&r, "p", 0, "a", "a", VS_TIME_UNKNOWN, VS_AGE_NONE)
			->outcome = ok[i];
	assert_int_equal(vs_report_exit_code(&r), 0);
	v = add(&r, "p", (size_t)-1, "b", "b", VS_TIME_UNKNOWN, VS_AGE_NONE);
	for (i = 0; i < 4; i++) {
		v->outcome = bad[i];
		assert_int_equal(vs_report_exit_code(&r), 1);
	}
	/* A provider that could not be listed fails the run, as the sweep
	 * exits 1 for it. */
	v->outcome = VS_OUT_DELETED;
	assert_int_equal(vs_report_exit_code(&r), 0);
	assert_non_null(vs_report_add_provider(&r, "down", "osp"));
	r.providers[r.n_providers - 1].listed = -1;
	assert_int_equal(vs_report_exit_code(&r), 1);
	/* A plan has no outcomes and never fails. */
	r.is_plan = 1;
	assert_int_equal(vs_report_exit_code(&r), 0);

	/* The tally links by index or, failing that, by name. */
	v->outcome = VS_OUT_FAILED;
	add_kept(&r, "p", "k", "k", "why");
	add_kept(&r, "ghost", "k", "k", "why");
	r.providers[0].selected = 99;
	vs_report_tally(&r);
	assert_int_equal(r.providers[0].selected, 5);
	assert_int_equal(r.providers[0].kept, 1);
	assert_int_equal(r.providers[0].outcomes[VS_OUT_FAILED], 1);
	assert_int_equal(r.providers[0].outcomes[VS_OUT_DELETED], 1);
	assert_int_equal(r.providers[0].outcomes[VS_OUT_NONE], 0);
	vs_report_release(&r);
	assert_int_equal(r.n_vms, 0);
	vs_report_release(&r); /* twice is harmless */
}

static void test_format_age(void **state)
{
	char b[32];

	(void)state;
	vs_report_format_age(b, sizeof(b), 0);
	assert_string_equal(b, "0s");
	vs_report_format_age(b, sizeof(b), 59);
	assert_string_equal(b, "59s");
	vs_report_format_age(b, sizeof(b), 12 * 60 + 5);
	assert_string_equal(b, "12m");
	vs_report_format_age(b, sizeof(b), 5 * 3600 + 12 * 60 + 59);
	assert_string_equal(b, "5h12m");
	vs_report_format_age(b, sizeof(b), 3 * 86400 + 4 * 3600);
	assert_string_equal(b, "3d4h");
	vs_report_format_age(b, sizeof(b), 120 * 86400 + 4 * 3600);
	assert_string_equal(b, "120d");
	vs_report_format_age(b, sizeof(b), -300);
	assert_string_equal(b, "-5m");
	vs_report_format_age(b, sizeof(b), INT64_MIN);
	assert_true(b[0] == '-');
}

static json_t *load_json(const char *path)
{
	json_error_t e;
	json_t *j = json_load_file(path, 0, &e);

	if (!j)
		fail_msg("%s: %s", path, e.text);
	return j;
}

static void test_round_trip_report(void **state)
{
	struct vs_report a, b;
	struct vs_error err;
	char path[PATH_MAX];
	json_t *j, *x;

	(void)state;
	build_report(&a);
	path_in(path, sizeof(path), "r.json");
	vs_error_clear(&err);
	assert_int_equal(vs_report_write_json(&a, path, &err), 0);
	assert_int_equal(vs_report_read_json(&b, path, &err), 0);
	assert_int_equal(err.cls, VS_EC_NONE);
	assert_reports_equal(&a, &b);
	assert_null(b.vms[0].vm);
	assert_int_equal(b.vms[0].provider_index, (size_t)-1);
	/* The tally of a read report agrees with its summary. */
	vs_report_tally(&b);
	assert_reports_equal(&a, &b);
	assert_int_equal(vs_report_exit_code(&b), 1);

	/* The shape documented in docs/report-format.md. */
	j = load_json(path);
	assert_int_equal(
		json_integer_value(json_object_get(j, "schema_version")), 1);
	assert_string_equal(json_string_value(json_object_get(j, "kind")),
			    "report");
	x = json_object_get(j, "run");
	assert_string_equal(json_string_value(json_object_get(x, "mode")),
			    "real");
	assert_string_equal(json_string_value(json_object_get(x, "started")),
			    "2025-11-25T17:40:44.123Z");
	x = json_object_get(json_object_get(j, "summary"), "vc-lab");
	assert_true(json_is_null(json_object_get(x, "listed")));
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(x, "error"), "class")),
			    "auth");
	/* Adaptive concurrency: only where there was one. */
	x = json_object_get(json_object_get(j, "summary"), "osp-lab");
	x = json_object_get(x, "concurrency");
	assert_int_equal(json_integer_value(json_object_get(x, "max")), 16);
	assert_int_equal(json_integer_value(json_object_get(x, "final")), 9);
	assert_int_equal(json_integer_value(json_object_get(x, "min")), 2);
	assert_int_equal(json_integer_value(json_object_get(x, "decreases")),
			 4);
	assert_null(json_object_get(
		json_object_get(json_object_get(j, "summary"), "rhv-lab"),
		"concurrency"));
	x = json_object_get(json_object_get(j, "summary"), "osp-lab");
	x = json_object_get(x, "outcomes");
	assert_int_equal(json_integer_value(json_object_get(x, "failed")), 1);
	assert_int_equal(json_integer_value(json_object_get(x, "pretend")), 0);
	assert_null(json_object_get(x, "planned"));
	x = json_array_get(json_object_get(j, "vms"), 1);
	assert_int_equal(json_integer_value(json_object_get(x, "duration_ms")),
			 49000);
	assert_string_equal(json_string_value(json_object_get(x, "created")),
			    "2025-11-24T16:00:00Z");
	x = json_object_get(x, "error");
	assert_int_equal(json_integer_value(json_object_get(x, "http_status")),
			 500);
	assert_true(json_is_true(json_object_get(x, "retryable")));
	x = json_array_get(json_object_get(j, "vms"), 2);
	assert_true(json_is_null(json_object_get(x, "created")));
	assert_true(json_is_null(json_object_get(x, "started")));
	assert_true(json_is_null(json_object_get(x, "duration_ms")));
	assert_string_equal(json_string_value(json_object_get(x, "age_source")),
			    "unknown");
	assert_true(json_is_null(
		json_object_get(json_object_get(x, "error"), "http_status")));
	x = json_array_get(json_object_get(j, "vms"), 0);
	assert_null(json_object_get(x, "error"));
	json_decref(j);

	/* A dry run with no retry_of. */
	a.dry_run = 1;
	free(a.retry_of);
	a.retry_of = NULL;
	vs_report_release(&b);
	assert_int_equal(vs_report_write_json(&a, path, &err), 0);
	assert_int_equal(vs_report_read_json(&b, path, &err), 0);
	assert_reports_equal(&a, &b);

	/* The report of an apply names its plan (run.plan); others have
	 * no such key. */
	assert_null(b.plan_path);
	a.plan_path = strdup("/srv/plans/plan.json");
	assert_non_null(a.plan_path);
	vs_report_release(&b);
	assert_int_equal(vs_report_write_json(&a, path, &err), 0);
	assert_int_equal(vs_report_read_json(&b, path, &err), 0);
	assert_reports_equal(&a, &b);
	j = json_load_file(path, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(j, "run"), "plan")),
			    "/srv/plans/plan.json");
	json_decref(j);
	vs_report_release(&a);
	vs_report_release(&b);
}

static void test_round_trip_plan(void **state)
{
	struct vs_report a, b;
	struct vs_error err;
	char path[PATH_MAX];
	json_t *j, *v;

	(void)state;
	build_report(&a);
	a.is_plan = 1;
	path_in(path, sizeof(path), "plan.json");
	vs_error_clear(&err);
	assert_int_equal(vs_report_write_json(&a, path, &err), 0);
	assert_int_equal(vs_report_read_json(&b, path, &err), 0);
	assert_int_equal(b.is_plan, 1);
	assert_reports_equal(&a, &b);
	assert_int_equal(b.vms[0].outcome, VS_OUT_NONE);
	assert_int_equal(b.vms[1].error.cls, VS_EC_NONE);

	j = load_json(path);
	assert_string_equal(json_string_value(json_object_get(j, "kind")),
			    "plan");
	assert_null(json_object_get(j, "run"));
	assert_string_equal(json_string_value(json_object_get(j, "created")),
			    "2025-11-25T17:40:44.123Z");
	v = json_array_get(json_object_get(j, "vms"), 0);
	assert_null(json_object_get(v, "outcome"));
	assert_int_equal(json_array_size(json_object_get(v, "rules")), 2);
	assert_null(json_object_get(
		json_object_get(json_object_get(j, "summary"), "osp-lab"),
		"outcomes"));
	json_decref(j);
	vs_report_release(&a);
	vs_report_release(&b);
}

static void test_invalid_utf8_written_valid(void **state)
{
	struct vs_report a, b;
	struct vs_error err;
	char path[PATH_MAX];

	(void)state;
	vs_report_init(&a);
	a.is_plan = 1;
	a.created_ms = T0;
	vs_report_add_provider(&a, "p\xff", "osp");
	add(&a, "p\xff", 0, "id\xc3", "bad\xed\xa0\x80name", 5, VS_AGE_CREATED)
		->reason = strdup("r\xfe");
	path_in(path, sizeof(path), "utf8.json");
	vs_error_clear(&err);
	assert_int_equal(vs_report_write_json(&a, path, &err), 0);
	assert_int_equal(vs_report_read_json(&b, path, &err), 0);
	assert_string_equal(b.providers[0].name, "p\xef\xbf\xbd");
	assert_string_equal(b.vms[0].id, "id\xef\xbf\xbd");
	assert_string_equal(b.vms[0].name,
			    "bad\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdname");
	vs_report_release(&a);
	vs_report_release(&b);
}

/* Entries in dir besides . and .. (temporary files included). */
static size_t count_entries(const char *dir)
{
	struct dirent **list;
	int n, i;
	size_t count = 0;

	n = scandir(dir, &list, NULL, NULL);
	assert_true(n >= 0);
	for (i = 0; i < n; i++) {
		if (strcmp(list[i]->d_name, ".") &&
		    strcmp(list[i]->d_name, ".."))
			count++;
		free(list[i]);
	}
	free(list);
	return count;
}

static void test_atomic_write(void **state)
{
	struct vs_report a, b;
	struct vs_error err;
	char dir[256], path[PATH_MAX], bad[PATH_MAX];
	struct stat st;
	FILE *f;

	(void)state;
	build_report(&a);
	path_in(dir, sizeof(dir), "reports/nested");
	snprintf(path, sizeof(path), "%s/vmsweep-x.json", dir);
	vs_error_clear(&err);
	assert_int_equal(vs_report_write_json(&a, path, &err), 0);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0750);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	assert_int_equal(count_entries(dir), 1);

	/* Replacing: a second write leaves the new content and no temp. */
	free(a.run_id);
	a.run_id = strdup("second");
	assert_int_equal(vs_report_write_json(&a, path, &err), 0);
	assert_int_equal(count_entries(dir), 1);
	assert_int_equal(vs_report_read_json(&b, path, &err), 0);
	assert_string_equal(b.run_id, "second");
	vs_report_release(&b);

	/* A relative path with no directory part works too. */
	assert_int_equal(chdir(dir), 0);
	assert_int_equal(vs_report_write_json(&a, "here.json", &err), 0);
	assert_int_equal(count_entries(dir), 2);
	assert_int_equal(chdir("/"), 0);

	/* Failures name the path and the reason, and leave nothing. */
	path_in(bad, sizeof(bad), "afile");
	f = fopen(bad, "w");
	assert_non_null(f);
	fclose(f);
	path_in(bad, sizeof(bad), "afile/sub/r.json");
	assert_int_equal(vs_report_write_json(&a, bad, &err), VS_ERR);
	assert_non_null(strstr(err.message, "afile"));
	assert_non_null(strstr(err.message, "Not a directory"));
	vs_error_clear(&err);
	path_in(bad, sizeof(bad), "reports/");
	assert_int_equal(vs_report_write_json(&a, bad, &err), VS_ERR);
	assert_non_null(strstr(err.message, "reports/"));
	vs_error_clear(&err);
	/* The target is a directory: rename fails, the temp file goes. */
	assert_int_equal(vs_report_write_json(&a, dir, &err), VS_ERR);
	assert_non_null(strstr(err.message, "nested"));
	path_in(bad, sizeof(bad), "reports");
	assert_int_equal(count_entries(bad), 1);
	vs_report_release(&a);
}

/* Write text to name in the test directory and read it as a report. */
static void expect_read_error(const char *name, const char *text, size_t len,
			      const char *frag)
{
	struct vs_report r;
	struct vs_error err;
	char path[PATH_MAX];
	FILE *f;

	path_in(path, sizeof(path), name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
	vs_error_clear(&err);
	memset(&r, 0x5a, sizeof(r)); /* the reader initialises it */
	if (vs_report_read_json(&r, path, &err) != VS_ERR)
		fail_msg("%s: read succeeded, expected '%s'", name,
			 frag ? frag : "an error");
	assert_int_not_equal(err.cls, VS_EC_NONE);
	assert_int_equal(r.n_vms, 0);
	assert_null(r.vms);
	assert_non_null(strstr(err.message, path));
	assert_null(strchr(err.message, '\n'));
	if (frag && !strstr(err.message, frag))
		fail_msg("%s: message '%s' lacks '%s'", name, err.message,
			 frag);
	vs_report_release(&r);
}

/* Serialise a mutated copy of the sample report and expect frag. */
static void expect_mutation_error(json_t *good, const char *frag,
				  void (*mut)(json_t *root))
{
	json_t *copy = json_deep_copy(good);
	char *text;

	mut(copy);
	text = json_dumps(copy, JSON_COMPACT);
	assert_non_null(text);
	expect_read_error("mut.json", text, strlen(text), frag);
	free(text);
	json_decref(copy);
}

static json_t *vm0(json_t *root, size_t i)
{
	return json_array_get(json_object_get(root, "vms"), i);
}

#define MUT(fn, body)                \
	static void fn(json_t *root) \
	{                            \
		body;                \
	}

MUT(m_schema2, json_object_set_new(root, "schema_version", json_integer(2)))
MUT(m_schema_str, json_object_set_new(root, "schema_version", json_string("1")))
MUT(m_kind, json_object_set_new(root, "kind", json_string("banana")))
MUT(m_no_kind, json_object_del(root, "kind"))
MUT(m_no_id, json_object_del(vm0(root, 0), "id"))
MUT(m_id_int, json_object_set_new(vm0(root, 1), "id", json_integer(5)))
MUT(m_attempts_real,
    json_object_set_new(vm0(root, 0), "attempts", json_real(1e30)))
MUT(m_attempts_huge, json_object_set_new(vm0(root, 0), "attempts",
					 json_integer(9223372036854775807LL)))
MUT(m_attempts_neg,
    json_object_set_new(vm0(root, 0), "attempts", json_integer(-1)))
MUT(m_rules_str, json_object_set_new(vm0(root, 0), "rules", json_string("x")))
MUT(m_rule_int, json_array_set_new(json_object_get(vm0(root, 0), "rules"), 0,
				   json_integer(1)))
MUT(m_created,
    json_object_set_new(vm0(root, 0), "created", json_string("yesterday")))
MUT(m_outcome,
    json_object_set_new(vm0(root, 0), "outcome", json_string("exploded")))
MUT(m_err_class, json_object_set_new(json_object_get(vm0(root, 1), "error"),
				     "class", json_string("bogus")))
MUT(m_err_retry, json_object_set_new(json_object_get(vm0(root, 1), "error"),
				     "retryable", json_integer(1)))
MUT(m_err_status, json_object_set_new(json_object_get(vm0(root, 1), "error"),
				      "http_status", json_integer(100000)))
MUT(m_outcome_count,
    json_object_set_new(
	    json_object_get(json_object_get(json_object_get(root, "summary"),
					    "osp-lab"),
			    "outcomes"),
	    "deleted", json_string("3")))
MUT(m_summary_arr, json_object_set_new(root, "summary", json_array()))
MUT(m_mode, json_object_set_new(json_object_get(root, "run"), "mode",
				json_string("maybe")))
MUT(m_provider,
    json_object_set_new(vm0(root, 0), "provider", json_string("nope")))
MUT(m_kept_int,
    json_array_set_new(json_object_get(root, "kept"), 0, json_integer(3)))
MUT(m_vms_obj, json_object_set_new(root, "vms", json_object()))
MUT(m_started, json_object_set_new(json_object_get(root, "run"), "started",
				   json_string("2025-02-30T00:00:00Z")))
MUT(m_age_source,
    json_object_set_new(vm0(root, 0), "age_source", json_string("guess")))
MUT(m_ctl_key, json_object_set_new(json_object_get(root, "summary"),
				   "evil\x1b[2J", json_integer(1)))
static json_t *conc(json_t *root)
{
	return json_object_get(
		json_object_get(json_object_get(root, "summary"), "osp-lab"),
		"concurrency");
}
MUT(m_conc_arr,
    json_object_set_new(json_object_get(json_object_get(root, "summary"),
					"osp-lab"),
			"concurrency", json_array()))
MUT(m_conc_no_min, json_object_del(conc(root), "min"))
MUT(m_conc_min_high, json_object_set_new(conc(root), "min", json_integer(10)))
MUT(m_conc_zero, json_object_set_new(conc(root), "max", json_integer(0)))

static void test_hostile_files(void **state)
{
	static const struct {
		const char *frag;
		void (*mut)(json_t *);
	} muts[] = {
		{"schema_version: unsupported version 2", m_schema2},
		{"schema_version: expected an integer", m_schema_str},
		{"kind: expected \"plan\" or \"report\"", m_kind},
		{"kind: missing", m_no_kind},
		{"vms[0].id: missing", m_no_id},
		{"vms[1].id: expected a string", m_id_int},
		{"vms[0].attempts: expected an integer", m_attempts_real},
		{"vms[0].attempts: 9223372036854775807 is out of range",
		 m_attempts_huge},
		{"vms[0].attempts: -1 is out of range", m_attempts_neg},
		{"vms[0].rules: expected an array", m_rules_str},
		{"vms[0].rules[0]: expected a string", m_rule_int},
		{"vms[0].created: not an RFC 3339 time", m_created},
		{"vms[0].outcome: unknown outcome", m_outcome},
		{"vms[1].error.class: unknown error class", m_err_class},
		{"vms[1].error.retryable: expected true or false", m_err_retry},
		{"vms[1].error.http_status: 100000 is out of range",
		 m_err_status},
		{"summary.osp-lab.outcomes.deleted: expected an integer",
		 m_outcome_count},
		{"summary: expected an object", m_summary_arr},
		{"run.mode: expected \"real\" or \"dry_run\"", m_mode},
		{"vms[0].provider: not a provider in summary", m_provider},
		{"kept[0]: expected an object", m_kept_int},
		{"vms: expected an array", m_vms_obj},
		{"run.started: not an RFC 3339 time", m_started},
		{"vms[0].age_source: expected", m_age_source},
		{"summary.evil\\x1b[2J: expected an object", m_ctl_key},
		{"summary.osp-lab.concurrency: expected an object", m_conc_arr},
		{"summary.osp-lab.concurrency.min: missing", m_conc_no_min},
		{"summary.osp-lab.concurrency.min: 10 is out of range [1, 9]",
		 m_conc_min_high},
		{"summary.osp-lab.concurrency.max: 0 is out of range",
		 m_conc_zero},
	};
	static const struct {
		const char *text, *frag;
	} raw[] = {
		{"", NULL},
		{"{", NULL},
		{"[]", "expected a JSON object"},
		{"null", NULL},
		{"{\"schema_version\":99999999999999999999999}", "too big"},
		{"{\"schema_version\":1e999}", NULL},
		{"{\"schema_version\":1,\"kind\":\"pl\xff\xfe\"}",
		 "decode byte 0xff"},
		{"{\"schema_version\":1,\"kind\":\"pl\\u0000an\"}", NULL},
		{"{\"schema_version\":1,\"schema_version\":1}", "duplicate"},
		{"{\"schema_version\":1,\"kind\":\"plan\",\"created\":null,"
		 "\"vmsweep_version\":\"x\",\"config\":null,\"summary\":{},"
		 "\"vms\":[],\"kept\":[]} trailing",
		 NULL},
	};
	struct vs_report a, ok;
	struct vs_error err;
	char path[PATH_MAX], *text, *deep;
	json_t *good;
	size_t i, len, depth = 200000;
	int fd;

	(void)state;
	build_report(&a);
	path_in(path, sizeof(path), "good.json");
	vs_error_clear(&err);
	assert_int_equal(vs_report_write_json(&a, path, &err), 0);
	good = load_json(path);

	for (i = 0; i < sizeof(muts) / sizeof(muts[0]); i++)
		expect_mutation_error(good, muts[i].frag, muts[i].mut);
	for (i = 0; i < sizeof(raw) / sizeof(raw[0]); i++)
		expect_read_error("raw.json", raw[i].text, strlen(raw[i].text),
				  raw[i].frag);

	/* Every truncation of a valid file is an error, never a crash. */
	text = json_dumps(good, JSON_INDENT(2));
	assert_non_null(text);
	len = strlen(text);
	for (i = 0; i < len; i += 1 + i / 64)
		expect_read_error("trunc.json", text, i, NULL);
	free(text);

	/* Deep nesting hits the parser's limit, not our stack. */
	deep = malloc(depth);
	assert_non_null(deep);
	memset(deep, '[', depth);
	expect_read_error("deep.json", deep, depth, NULL);
	free(deep);

	/* Oversized: refused before reading (a sparse file). */
	path_in(path, sizeof(path), "big.json");
	fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)VS_REPORT_MAX_FILE + 1), 0);
	close(fd);
	vs_error_clear(&err);
	assert_int_equal(vs_report_read_json(&ok, path, &err), VS_ERR);
	assert_non_null(strstr(err.message, "larger than 256 MiB"));
	unlink(path);

	/* Missing file, directory. */
	path_in(path, sizeof(path), "missing.json");
	vs_error_clear(&err);
	assert_int_equal(vs_report_read_json(&ok, path, &err), VS_ERR);
	assert_non_null(strstr(err.message, "missing.json"));
	assert_non_null(strstr(err.message, "No such file"));
	vs_error_clear(&err);
	assert_int_equal(vs_report_read_json(&ok, g_dir, &err), VS_ERR);
	assert_non_null(strstr(err.message, "is a directory"));

	/* Unknown fields are ignored (additive schema changes). */
	json_object_set_new(good, "future_field", json_integer(1));
	json_object_set_new(vm0(good, 0), "future_field", json_string("x"));
	path_in(path, sizeof(path), "future.json");
	assert_int_equal(json_dump_file(good, path, 0), 0);
	vs_error_clear(&err);
	assert_int_equal(vs_report_read_json(&ok, path, &err), 0);
	assert_reports_equal(&a, &ok);
	vs_report_release(&ok);
	json_decref(good);
	vs_report_release(&a);
}

/* Render into a string. */
static char *render(const struct vs_report *r, int plan)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	if (plan)
		vs_report_print_plan(r, f);
	else
		vs_report_print_summary(r, f);
	fclose(f);
	return buf;
}

/* No byte a terminal would act on: C0 (but newline), DEL, C1. */
static void assert_no_raw_controls(const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p; p++) {
		if ((*p < 0x20 && *p != '\n') || *p == 0x7f)
			fail_msg("raw control byte 0x%02x in output", *p);
		if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			fail_msg("raw C1 control in output");
	}
}

static void test_summary_render(void **state)
{
	struct vs_report r;
	char *out, *line;

	(void)state;
	build_report(&r);
	free(r.vms[1].name);
	r.vms[1].name = strdup("evil\x1b[31mred\x1b[0m\r\n");
	snprintf(r.vms[1].error.message, sizeof(r.vms[1].error.message),
		 "bad\x07 gateway \xc2\x9b"
		 "2J \xe2\x80\xae"
		 "reversed");
	out = render(&r, 0);
	print_message("%s", out);
	assert_no_raw_controls(out);
	/* Only outcomes that occurred are columns, plus a total. */
	line = strstr(out, "PROVIDER");
	assert_non_null(line);
	assert_non_null(strstr(out, "DELETED"));
	assert_non_null(strstr(out, "FAILED"));
	assert_non_null(strstr(out, "NOT_ATTEMPTED"));
	assert_non_null(strstr(out, "TOTAL"));
	assert_null(strstr(out, "PRETEND"));
	assert_null(strstr(out, "PLANNED"));
	/* The failure, with every detail, escaped. */
	assert_non_null(strstr(out, "osp-lab evil\\x1b[31mred\\x1b[0m\\r\\n "
				    "(id b1): failed, 3 attempts, server, "
				    "HTTP 500, retryable: bad\\x07 gateway "
				    "\\u{009b}2J \\u{202e}reversed"));
	assert_non_null(strstr(out, "requested"));
	assert_non_null(strstr(out, "timeout"));
	assert_non_null(strstr(out, "not_attempted"));
	assert_non_null(strstr(out, "interrupted by SIGTERM"));
	/* Unlisted provider. */
	assert_non_null(strstr(out, "vc-lab: auth, HTTP 401: invalid "
				    "credentials"));
	/* Succeeded after failing a round: warned. */
	assert_non_null(strstr(out, "jenkins-4: deleted after failing in 1 "
				    "earlier round"));
	assert_non_null(strstr(out, "jenkins-1: already_absent after"));
	/* Per-provider rows: osp-lab deleted 1 failed 1 requested 1 = 3. */
	assert_non_null(strstr(out, "TOTAL"));
	/* A cut window is shown; a provider without one is not. */
	assert_non_null(strstr(out, "Requests in flight cut after pushback"));
	assert_non_null(strstr(out, "  osp-lab: 16 at most, 2 at the lowest, "
				    "9 at the end (4 cuts)\n"));
	assert_null(strstr(out, "  rhv-lab: "));
	free(out);
	/* A window never cut is not worth a line. */
	r.providers[0].concurrency.decreases = 0;
	r.providers[0].concurrency.min = 16;
	out = render(&r, 0);
	assert_null(strstr(out, "Requests in flight cut"));
	free(out);

	/* All fine: no failure section at all. */
	vs_report_release(&r);
	vs_report_init(&r);
	vs_report_add_provider(&r, "p", "osp");
	add(&r, "p", 0, "a", "a", 1, VS_AGE_CREATED)->outcome = VS_OUT_PRETEND;
	vs_report_tally(&r);
	out = render(&r, 0);
	assert_non_null(strstr(out, "PRETEND"));
	assert_null(strstr(out, "DELETED"));
	assert_null(strstr(out, "Failures"));
	assert_null(strstr(out, "Warnings"));
	free(out);
	vs_report_release(&r);
}

static void test_plan_render(void **state)
{
	struct vs_report r;
	char *out;

	(void)state;
	build_report(&r);
	r.is_plan = 1;
	r.vms[0].created = r.created_ms / 1000 - (5 * 3600 + 12 * 60);
	free(r.kept[1].reason);
	r.kept[1].reason = strdup("protected by marker\x1b]0;pwned\x07");
	out = render(&r, 1);
	print_message("%s", out);
	assert_no_raw_controls(out);
	assert_non_null(strstr(out, "PROVIDER"));
	assert_non_null(strstr(out, "test_vm_1"));
	assert_non_null(strstr(out, "3f2a9c1e..."));
	assert_null(strstr(out, "3f2a9c1e-0d1b"));
	assert_non_null(strstr(out, "5h12m"));
	assert_non_null(strstr(out, "ci-leftovers,nightly"));
	assert_non_null(strstr(out, "unknown")); /* tëst-ü has no age */
	assert_non_null(strstr(out, "tëst-ü"));	 /* UTF-8 stays readable */
	assert_non_null(strstr(out, "7 VMs would be deleted."));
	assert_non_null(strstr(out, "Kept (2):"));
	assert_non_null(strstr(out, "protected by name pattern '*-keep'"));
	assert_non_null(strstr(out, "protected by marker\\x1b]0;pwned\\x07"));
	assert_non_null(strstr(out, "not listed: auth: invalid credentials"));
	assert_non_null(strstr(out, "120"));
	free(out);
	vs_report_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_outcome_names),
		cmocka_unit_test(test_exit_code_and_tally),
		cmocka_unit_test(test_format_age),
		cmocka_unit_test(test_round_trip_report),
		cmocka_unit_test(test_round_trip_plan),
		cmocka_unit_test(test_invalid_utf8_written_valid),
		cmocka_unit_test(test_atomic_write),
		cmocka_unit_test(test_hostile_files),
		cmocka_unit_test(test_summary_render),
		cmocka_unit_test(test_plan_render),
	};

	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
