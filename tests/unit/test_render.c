/*
 * test_render.c - JUnit XML and Markdown renderings: which outcome passes,
 * skips or fails, the counts, and escaping of hostile names and messages.
 * (The integration test parses the XML with a real parser.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"

#define S(x) ((char *)(x))

/* A name that tries XML, Markdown, a terminal escape, a bad byte and a
 * newline at once. */
#define HOSTILE "a<b>&\"c'|d*_e\x1b[31m\xff\nf"

static struct vs_report_vm *add(struct vs_report *r, const char *prov,
				const char *id, const char *name,
				enum vs_outcome o)
{
	struct vs_vm vm;
	struct vs_report_vm *v;

	memset(&vm, 0, sizeof(vm));
	vm.id = S(id);
	vm.name = S(name);
	vm.created = VS_TIME_UNKNOWN;
	v = vs_report_add_vm(r, prov, &vm, (size_t)-1);
	assert_non_null(v);
	v->vm = NULL;
	v->outcome = o;
	v->attempts = o == VS_OUT_PRETEND ? 1 : 2;
	v->started_ms = 1764092445143;
	v->finished_ms = 1764092447603;
	return v;
}

static void fill(struct vs_report *r)
{
	struct vs_report_provider *p;
	struct vs_report_vm *v;

	vs_report_init(r);
	r->run_id = strdup("4f2a9c1e");
	r->created_ms = 1764092444123;
	r->finished_ms = 1764092505357;
	p = vs_report_add_provider(r, "osp-lab", "osp");
	assert_non_null(p);
	p->listed = 10;
	p = vs_report_add_provider(r, "vc-lab", "vmware");
	assert_non_null(p);
	p->listed = -1;
	vs_error_set(&p->error, VS_EC_AUTH, 401, 0, "POST /api/session: 401");
	add(r, "osp-lab", "id-1", "test_ok", VS_OUT_DELETED);
	v = add(r, "osp-lab", "id-2", HOSTILE, VS_OUT_FAILED);
	vs_error_set(&v->error, VS_EC_SERVER, 500, 1, "x");
	/* vs_error_set flattens newlines; a file may still hold them. */
	snprintf(v->error.message, sizeof(v->error.message), "%s",
		 "DELETE </failure> & \"q\"\nline2 | ]]>");
	v = add(r, "osp-lab", "id-3", "test_late", VS_OUT_DELETED);
	v->rounds_failed = 1;
	add(r, "osp-lab", "id-4", "test_gone", VS_OUT_ALREADY_ABSENT);
	v = add(r, "osp-lab", "id-5", "test_locked", VS_OUT_PROTECTED);
	vs_error_set(&v->error, VS_EC_PROTECTED, 409, 0, "locked");
	v = add(r, "osp-lab", "id-6", "test_slow", VS_OUT_REQUESTED);
	vs_error_set(&v->error, VS_EC_TIMEOUT, 0, 1,
		     "deletion not confirmed within 10m");
	v = add(r, "osp-lab", "id-7", "test_stop", VS_OUT_NOT_ATTEMPTED);
	vs_error_set(&v->error, VS_EC_CANCELLED, 0, 1, "run interrupted");
	vs_report_tally(r);
}

static char *render(int junit, const struct vs_report *r)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	assert_int_equal(junit ? vs_render_junit(r, f)
			       : vs_render_markdown(r, f),
			 VS_OK);
	assert_int_equal(fclose(f), 0);
	return text;
}

/* The text between the first occurrence of from and the next until. */
static char *between(const char *s, const char *from, const char *until)
{
	const char *a = strstr(s, from), *b;

	assert_non_null(a);
	b = strstr(a + 1, until);
	assert_non_null(b);
	return strndup(a, (size_t)(b - a));
}

static void no_raw_controls(const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p; p++) {
		assert_true(*p >= 0x20 || *p == '\n');
		assert_true(*p != 0x7f && *p != 0xff);
	}
}

static void test_junit_verdicts(void **state)
{
	struct vs_report r;
	char *x, *tc;

	(void)state;
	fill(&r);
	x = render(1, &r);
	no_raw_controls(x);
	assert_non_null(
		strstr(x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
	/* 7 VMs + 1 inventory case on osp-lab; failures: failed,
	 * requested, not_attempted; skipped: protected. */
	assert_non_null(strstr(x, "<testsuite name=\"osp-lab\" tests=\"8\" "
				  "failures=\"3\" errors=\"0\" skipped=\"1\""));
	assert_non_null(strstr(x, "<testsuite name=\"vc-lab\" tests=\"1\" "
				  "failures=\"1\" errors=\"0\" skipped=\"0\""));
	assert_non_null(strstr(x, "<testsuites name=\"vmsweep\" tests=\"9\" "
				  "failures=\"4\""));
	assert_non_null(strstr(x, "<testcase classname=\"osp-lab\" "
				  "name=\"test_ok\" time=\"2.460\"/>"));
	tc = between(x, "name=\"test_slow\"", "</testcase>");
	assert_non_null(strstr(tc, "<failure message=\"requested: timeout: "
				   "deletion not confirmed within 10m\" "
				   "type=\"timeout\">"));
	free(tc);
	tc = between(x, "name=\"test_stop\"", "</testcase>");
	assert_non_null(strstr(tc, "type=\"cancelled\""));
	free(tc);
	tc = between(x, "name=\"test_locked\"", "</testcase>");
	assert_non_null(strstr(tc, "<skipped message=\"protected: protected, "
				   "HTTP 409: locked\"/>"));
	assert_null(strstr(tc, "<failure"));
	free(tc);
	tc = between(x, "name=\"test_gone\"", "</testcase>");
	assert_null(strstr(tc, "<failure"));
	assert_null(strstr(tc, "<skipped"));
	free(tc);
	tc = between(x, "name=\"test_late\"", "</testcase>");
	assert_non_null(strstr(tc, "after failing in 1 earlier round"));
	assert_null(strstr(tc, "<failure"));
	free(tc);
	tc = between(x, "<testsuite name=\"vc-lab\"", "</testsuite>");
	assert_non_null(strstr(tc, "name=\"(inventory)\""));
	assert_non_null(strstr(tc, "type=\"auth\""));
	free(tc);
	free(x);
	vs_report_release(&r);
}

static void test_junit_escaping(void **state)
{
	struct vs_report r;
	char *x, *tc;

	(void)state;
	fill(&r);
	x = render(1, &r);
	/* Attribute: everything markup-like as references; the newline as
	 * &#10;, the escape and the bad byte as visible text. */
	assert_non_null(
		strstr(x, "name=\"a&lt;b&gt;&amp;&quot;c&apos;|d*_e\\x1b[31m"
			  "\\xff&#10;f\""));
	tc = between(x, "<failure message=\"failed: server, HTTP 500: ",
		     "</failure>");
	assert_non_null(strstr(tc, "DELETE &lt;/failure&gt; &amp; &quot;q&quot;"
				   "&#10;line2 | ]]&gt;\" type=\"server\">"));
	/* In the body, text escaping: the newline stays a newline. */
	assert_non_null(strstr(tc, "message: DELETE &lt;/failure&gt; &amp; "
				   "&quot;q&quot;\nline2 | ]]&gt;"));
	assert_non_null(strstr(tc, "retryable: yes"));
	assert_non_null(strstr(tc, "http status: 500"));
	assert_non_null(strstr(tc, "attempts: 2"));
	free(tc);
	free(x);
	vs_report_release(&r);
}

static void test_markdown(void **state)
{
	struct vs_report r;
	char *m, *row, *line;
	size_t pipes;

	(void)state;
	fill(&r);
	m = render(0, &r);
	no_raw_controls(m);
	assert_non_null(strstr(m, "### vmsweep run 4f2a9c1e (real): needs "
				  "attention"));
	assert_non_null(strstr(m, "| provider | deleted | already_absent | "
				  "requested | failed | not_attempted | "
				  "protected | total |"));
	assert_non_null(strstr(m, "| osp-lab | 2 | 1 | 1 | 1 | 1 | 1 | 7 |"));
	assert_non_null(strstr(m, "**Providers not listed (1)**"));
	assert_non_null(strstr(m, "| vc-lab | auth | 401 | POST /api/session: "
				  "401 |"));
	assert_non_null(strstr(m, "**Failures (3)**"));
	/* The hostile row: every pipe escaped, so the row keeps its 10
	 * cell borders; the newline and escape shown as text. */
	row = between(m, "| osp-lab | a\\<b\\>", "\n| osp-lab | test\\_slow");
	assert_non_null(strstr(row, "a\\<b\\>\\&\"c'\\|d\\*\\_e\\\\x1b\\[31m"
				    "\\\\xff\\\\nf"));
	assert_non_null(strstr(row, "DELETE \\</failure\\> \\& \"q\"\\\\n"
				    "line2 \\| \\]\\]\\>"));
	pipes = 0;
	for (line = row; *line; line++)
		if (*line == '|' && (line == row || line[-1] != '\\'))
			pipes++;
	assert_int_equal(pipes, 10);
	assert_null(strchr(row, '\n'));
	free(row);
	assert_non_null(strstr(m, "**Warnings (1)**"));
	assert_non_null(strstr(m, "| osp-lab | test\\_late | deleted | 1 |"));
	free(m);
	vs_report_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_junit_verdicts),
		cmocka_unit_test(test_junit_escaping),
		cmocka_unit_test(test_markdown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
