/*
 * test_metrics.c - the Prometheus text exposition: every metric with
 * HELP and TYPE once, the values the report implies, label escaping, a
 * run without a report, and the atomic file write.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "metrics.h"

#define S(x) ((char *)(x))

static void add(struct vs_report *r, const char *prov, const char *id,
		enum vs_outcome o, enum vs_err_class cls)
{
	struct vs_vm vm;
	struct vs_report_vm *v;

	memset(&vm, 0, sizeof(vm));
	vm.id = S(id);
	vm.name = S(id);
	vm.created = VS_TIME_UNKNOWN;
	v = vs_report_add_vm(r, prov, &vm, (size_t)-1);
	assert_non_null(v);
	v->vm = NULL;
	v->outcome = o;
	if (cls != VS_EC_NONE)
		vs_error_set(&v->error, cls, 0, 1, "x");
}

static void fill(struct vs_report *r)
{
	struct vs_report_provider *p;
	struct vs_vm kept;

	vs_report_init(r);
	r->created_ms = 1764092444123;
	r->finished_ms = 1764092505357;
	p = vs_report_add_provider(r, "osp-lab", "osp");
	assert_non_null(p);
	p->listed = 120;
	p->concurrency.max = 8;
	p->concurrency.final = 5;
	p->concurrency.min = 2;
	p->concurrency.decreases = 3;
	p = vs_report_add_provider(r, "we\"ird\\na\nme", "osp");
	assert_non_null(p);
	p->listed = -1;
	vs_error_set(&p->error, VS_EC_AUTH, 401, 0, "no");
	add(r, "osp-lab", "a", VS_OUT_DELETED, VS_EC_NONE);
	add(r, "osp-lab", "b", VS_OUT_FAILED, VS_EC_SERVER);
	add(r, "osp-lab", "c", VS_OUT_FAILED, VS_EC_SERVER);
	add(r, "osp-lab", "d", VS_OUT_REQUESTED, VS_EC_TIMEOUT);
	add(r, "osp-lab", "e", VS_OUT_PROTECTED, VS_EC_PROTECTED);
	/* A VM a refused run never got to is planned, not a failure. */
	add(r, "osp-lab", "f", VS_OUT_NONE, VS_EC_NONE);
	memset(&kept, 0, sizeof(kept));
	kept.id = S("k");
	kept.name = S("k-keep");
	assert_non_null(vs_report_add_kept(r, "osp-lab", &kept, "why"));
	vs_report_tally(r);
}

/* Each metric family: exactly one HELP and one TYPE gauge line, before
 * its samples, and samples of one family are contiguous. */
static void check_families(const char *text)
{
	static const char *const names[] = {
		"last_run_timestamp_seconds",
		"last_run_success",
		"last_run_exit_code",
		"last_run_dry_run",
		"run_duration_seconds",
		"provider_up",
		"vms_listed",
		"vms_selected",
		"vms_kept",
		"vms",
		"failures",
		"concurrency_max",
		"concurrency_limit",
		"concurrency_min",
		"concurrency_decreases",
	};
	char help[96], type[96];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *h;

		snprintf(help, sizeof(help), "# HELP vmsweep_%s ", names[i]);
		snprintf(type, sizeof(type), "# TYPE vmsweep_%s gauge\n",
			 names[i]);
		h = strstr(text, help);
		assert_non_null(h);
		assert_null(strstr(h + 1, help));
		assert_non_null(strstr(text, type));
		assert_null(strstr(strstr(text, type) + 1, type));
		assert_true(strstr(text, type) > h);
	}
	assert_int_equal(text[strlen(text) - 1], '\n');
}

static char *format(const struct vs_report *r, int code)
{
	struct vs_buf b;

	vs_buf_init(&b, 0);
	assert_int_equal(vs_metrics_format(&b, r, code, 1764092600000), 0);
	return vs_buf_detach(&b, NULL);
}

static void test_values(void **state)
{
	struct vs_report r;
	char *t;

	(void)state;
	fill(&r);
	t = format(&r, 1);
	check_families(t);
	assert_non_null(strstr(
		t, "\nvmsweep_last_run_timestamp_seconds 1764092505.357\n"));
	assert_non_null(strstr(t, "\nvmsweep_last_run_success 0\n"));
	assert_non_null(strstr(t, "\nvmsweep_last_run_exit_code 1\n"));
	assert_non_null(strstr(t, "\nvmsweep_run_duration_seconds 61.234\n"));
	assert_non_null(
		strstr(t, "\nvmsweep_provider_up{provider=\"osp-lab\"} 1\n"));
	assert_non_null(
		strstr(t, "\nvmsweep_vms_listed{provider=\"osp-lab\"} 120\n"));
	assert_non_null(
		strstr(t, "\nvmsweep_vms_selected{provider=\"osp-lab\"} 6\n"));
	assert_non_null(
		strstr(t, "\nvmsweep_vms_kept{provider=\"osp-lab\"} 1\n"));
	assert_non_null(strstr(t, "\nvmsweep_vms{provider=\"osp-lab\",outcome="
				  "\"deleted\"} 1\n"));
	assert_non_null(strstr(t, "\nvmsweep_vms{provider=\"osp-lab\",outcome="
				  "\"failed\"} 2\n"));
	assert_non_null(strstr(t, "\nvmsweep_vms{provider=\"osp-lab\",outcome="
				  "\"pretend\"} 0\n"));
	assert_non_null(strstr(t, "\nvmsweep_vms{provider=\"osp-lab\",outcome="
				  "\"planned\"} 1\n"));
	assert_null(strstr(t, "class=\"internal\""));
	assert_non_null(strstr(t, "\nvmsweep_failures{provider=\"osp-lab\","
				  "class=\"server\"} 2\n"));
	assert_non_null(strstr(t, "\nvmsweep_failures{provider=\"osp-lab\","
				  "class=\"timeout\"} 1\n"));
	/* protected is not a failure; zero classes are left out. */
	assert_null(strstr(t, "class=\"protected\""));
	assert_null(strstr(t, "class=\"auth\""));
	/* The provider that was not listed: down, no listed sample. */
	assert_non_null(strstr(t, "\nvmsweep_provider_up{provider=\"we\\\"ird"
				  "\\\\na\\nme\"} 0\n"));
	assert_null(strstr(t, "vmsweep_vms_listed{provider=\"we"));
	/* Adaptive concurrency, only for the provider that had it. */
	assert_non_null(strstr(
		t, "\nvmsweep_concurrency_max{provider=\"osp-lab\"} 8\n"));
	assert_non_null(strstr(
		t, "\nvmsweep_concurrency_limit{provider=\"osp-lab\"} 5\n"));
	assert_non_null(strstr(
		t, "\nvmsweep_concurrency_min{provider=\"osp-lab\"} 2\n"));
	assert_non_null(strstr(t, "\nvmsweep_concurrency_decreases{provider="
				  "\"osp-lab\"} 3\n"));
	assert_null(strstr(t, "vmsweep_concurrency_max{provider=\"we"));
	free(t);
	t = format(&r, 0);
	assert_non_null(strstr(t, "\nvmsweep_last_run_success 1\n"));
	free(t);
	vs_report_release(&r);
}

static void test_no_report(void **state)
{
	char *t;

	(void)state;
	t = format(NULL, 2);
	assert_non_null(strstr(
		t, "\nvmsweep_last_run_timestamp_seconds 1764092600.000\n"));
	assert_non_null(strstr(t, "\nvmsweep_last_run_success 0\n"));
	assert_non_null(strstr(t, "\nvmsweep_last_run_exit_code 2\n"));
	assert_null(strstr(t, "provider="));
	assert_null(strstr(t, "concurrency"));
	free(t);
}

static void test_write(void **state)
{
	char dir[] = "/tmp/vs-metrics-XXXXXX", path[128], buf[8192];
	struct vs_report r;
	struct vs_error err;
	struct stat st;
	FILE *f;
	size_t n;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sub/vmsweep.prom", dir);
	fill(&r);
	vs_error_clear(&err);
	assert_int_equal(vs_metrics_write(path, &r, 1, 0, &err), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	check_families(buf);
	/* A directory in the way is an error naming the path. */
	snprintf(path, sizeof(path), "%s/sub", dir);
	vs_error_clear(&err);
	assert_int_equal(vs_metrics_write(path, &r, 1, 0, &err), VS_ERR);
	assert_non_null(strstr(err.message, path));
	snprintf(path, sizeof(path), "%s/sub/vmsweep.prom", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/sub", dir);
	rmdir(path);
	rmdir(dir);
	vs_report_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_no_report),
		cmocka_unit_test(test_write),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
