/*
 * render.c - JUnit XML and Markdown renderings of a report.
 *
 * Both walk the report once per table and escape every untrusted string
 * on its way out; nothing here allocates but the caller's stdio buffer.
 * The escapers decode UTF-8 (vs_utf8_seq, report.h) so that a byte that
 * is not UTF-8 can never end up in an XML file (which a parser would then
 * refuse) or glue itself to the next character.
 */
#include "render.h"

#include <stdint.h>
#include <string.h>

#include "error.h"
#include "timeutil.h"

/* ------------------------------------------------------------------ */
/* UTF-8 and escaping.                                                  */

/*
 * Code points shown as escapes rather than written: controls, DEL, C1,
 * the bidirectional overrides (text that reads differently from what it
 * is) and the two XML 1.0 cannot hold.
 */
static int cp_unsafe(uint32_t c)
{
	return vs_cp_is_unsafe(c) || c == 0xfffe || c == 0xffff;
}

enum esc_mode {
	ESC_XML_TEXT, /* element content: newlines and tabs kept */
	ESC_XML_ATTR, /* attribute value: newlines and tabs as references */
	ESC_MD_CELL,  /* a Markdown table cell or inline text */
};

/* The visible form of an unsafe code point or a stray byte; in Markdown
 * the backslash itself must be escaped to show. */
static void put_visible(FILE *out, enum esc_mode m, uint32_t c, int raw_byte)
{
	const char *bs = m == ESC_MD_CELL ? "\\\\" : "\\";

	if (!raw_byte && c == '\n')
		fprintf(out, "%sn", bs);
	else if (!raw_byte && c == '\t')
		fprintf(out, "%st", bs);
	else if (!raw_byte && c == '\r')
		fprintf(out, "%sr", bs);
	else if (raw_byte || c < 0x100)
		fprintf(out, "%sx%02x", bs, (unsigned int)c);
	else
		fprintf(out, "%su{%04x}", bs, (unsigned int)c);
}

static void put_escaped(FILE *out, const char *s, enum esc_mode m)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	uint32_t c;
	size_t n;

	while (*p) {
		n = vs_utf8_seq(p, &c);
		if (n == 0) {
			put_visible(out, m, *p, 1);
			p++;
			continue;
		}
		if (m != ESC_MD_CELL) {
			if (c == '&')
				fputs("&amp;", out);
			else if (c == '<')
				fputs("&lt;", out);
			else if (c == '>')
				fputs("&gt;", out);
			else if (c == '"')
				fputs("&quot;", out);
			else if (c == '\'')
				fputs("&apos;", out);
			else if (m == ESC_XML_ATTR && c == '\n')
				fputs("&#10;", out);
			else if (m == ESC_XML_ATTR && c == '\t')
				fputs("&#9;", out);
			else if (c == '\n' || c == '\t')
				fputc((int)c, out);
			else if (cp_unsafe(c))
				put_visible(out, m, c, 0);
			else
				fwrite(p, 1, n, out);
		} else {
			/* Any ASCII punctuation may be backslash-escaped in
			 * CommonMark; these are the ones that format, link,
			 * split a table cell or start HTML. */
			if (c < 0x80 && strchr("\\`*_[]<>|~&!#", (int)c))
				fprintf(out, "\\%c", (int)c);
			else if (cp_unsafe(c))
				put_visible(out, m, c, 0);
			else
				fwrite(p, 1, n, out);
		}
		p += n;
	}
}

static void xml_text(FILE *out, const char *s)
{
	put_escaped(out, s, ESC_XML_TEXT);
}

static void xml_attr(FILE *out, const char *name, const char *value)
{
	fprintf(out, " %s=\"", name);
	put_escaped(out, value, ESC_XML_ATTR);
	fputc('"', out);
}

static void md(FILE *out, const char *s)
{
	put_escaped(out, s, ESC_MD_CELL);
}

/* ------------------------------------------------------------------ */
/* Shared facts.                                                        */

enum verdict { V_PASS, V_SKIP, V_FAIL };

static enum verdict verdict_of(enum vs_outcome o)
{
	switch (o) {
	case VS_OUT_DELETED:
	case VS_OUT_ALREADY_ABSENT:
		return V_PASS;
	case VS_OUT_PRETEND:
	case VS_OUT_PROTECTED:
		return V_SKIP;
	default:
		return V_FAIL;
	}
}

static int provider_listed(const struct vs_report_provider *p)
{
	return p->listed >= 0 && p->error.cls == VS_EC_NONE;
}

/* Seconds with milliseconds, "0.000" when not known. */
static void put_seconds(FILE *out, int64_t from_ms, int64_t to_ms)
{
	int64_t d = from_ms && to_ms >= from_ms ? to_ms - from_ms : 0;

	fprintf(out, "%lld.%03lld", (long long)(d / 1000),
		(long long)(d % 1000));
}

/* JUnit's timestamp: ISO 8601 without a zone (it is UTC). */
static void junit_time(char *buf, size_t sz, int64_t ms)
{
	size_t n;

	vs_time_format(buf, sz, ms / 1000);
	n = strlen(buf);
	if (n && buf[n - 1] == 'Z')
		buf[n - 1] = '\0';
}

/* "server, HTTP 500: DELETE ...: 500" or the outcome when no error. */
static void failure_message(FILE *out, const struct vs_report_vm *v,
			    enum esc_mode m)
{
	char head[64];

	if (v->error.cls == VS_EC_NONE) {
		fprintf(out, "%s", vs_outcome_name(v->outcome));
		return;
	}
	if (v->error.http_status)
		snprintf(head, sizeof(head),
			 "%s: %s, HTTP %d: ", vs_outcome_name(v->outcome),
			 vs_err_class_name(v->error.cls), v->error.http_status);
	else
		snprintf(head, sizeof(head),
			 "%s: %s: ", vs_outcome_name(v->outcome),
			 vs_err_class_name(v->error.cls));
	fputs(head, out);
	put_escaped(out, v->error.message, m);
}

/* ------------------------------------------------------------------ */
/* JUnit XML.                                                           */

struct suite_counts {
	long tests, failures, skipped;
};

static struct suite_counts count_suite(const struct vs_report *r,
				       const struct vs_report_provider *p)
{
	struct suite_counts c = {1, provider_listed(p) ? 0 : 1, 0};
	size_t i;

	for (i = 0; i < r->n_vms; i++) {
		if (strcmp(r->vms[i].provider, p->name) != 0)
			continue;
		c.tests++;
		switch (verdict_of(r->vms[i].outcome)) {
		case V_FAIL:
			c.failures++;
			break;
		case V_SKIP:
			c.skipped++;
			break;
		case V_PASS:
			break;
		}
	}
	return c;
}

static void junit_counts(FILE *out, const struct suite_counts *c)
{
	fprintf(out,
		" tests=\"%ld\" failures=\"%ld\" errors=\"0\" "
		"skipped=\"%ld\"",
		c->tests, c->failures, c->skipped);
}

static void junit_vm(FILE *out, const struct vs_report_vm *v)
{
	enum verdict vd = verdict_of(v->outcome);

	fputs("    <testcase", out);
	xml_attr(out, "classname", v->provider);
	xml_attr(out, "name", v->name);
	fputs(" time=\"", out);
	put_seconds(out, v->started_ms, v->finished_ms);
	fputc('"', out);
	if (vd == V_PASS && v->rounds_failed == 0 &&
	    v->outcome == VS_OUT_DELETED) {
		fputs("/>\n", out);
		return;
	}
	fputs(">\n", out);
	if (vd == V_SKIP) {
		fputs("      <skipped message=\"", out);
		if (v->outcome == VS_OUT_PRETEND)
			fputs("dry run: would be deleted", out);
		else
			failure_message(out, v, ESC_XML_ATTR);
		fputs("\"/>\n", out);
	} else if (vd == V_FAIL) {
		fputs("      <failure message=\"", out);
		failure_message(out, v, ESC_XML_ATTR);
		fprintf(out, "\" type=\"%s\">",
			v->error.cls != VS_EC_NONE
				? vs_err_class_name(v->error.cls)
				: vs_outcome_name(v->outcome));
		fputs("provider: ", out);
		xml_text(out, v->provider);
		fputs("\nvm: ", out);
		xml_text(out, v->name);
		fputs("\nid: ", out);
		xml_text(out, v->id);
		fprintf(out, "\noutcome: %s\nattempts: %d\n",
			vs_outcome_name(v->outcome), v->attempts);
		if (v->error.cls != VS_EC_NONE) {
			fprintf(out, "error class: %s\n",
				vs_err_class_name(v->error.cls));
			if (v->error.http_status)
				fprintf(out, "http status: %d\n",
					v->error.http_status);
			fprintf(out, "retryable: %s\nmessage: ",
				v->error.retryable ? "yes" : "no");
			xml_text(out, v->error.message);
			fputc('\n', out);
		}
		fputs("</failure>\n", out);
	}
	if (v->outcome == VS_OUT_ALREADY_ABSENT)
		fputs("      <system-out>already absent</system-out>\n", out);
	else if (vd == V_PASS && v->rounds_failed > 0)
		fprintf(out,
			"      <system-out>warning: %s after failing in %d "
			"earlier round%s</system-out>\n",
			vs_outcome_name(v->outcome), v->rounds_failed,
			v->rounds_failed == 1 ? "" : "s");
	fputs("    </testcase>\n", out);
}

static void junit_inventory(FILE *out, const struct vs_report_provider *p)
{
	fputs("    <testcase", out);
	xml_attr(out, "classname", p->name);
	fputs(" name=\"(inventory)\" time=\"0.000\"", out);
	if (provider_listed(p)) {
		fputs("/>\n", out);
		return;
	}
	fputs(">\n      <failure message=\"not listed: ", out);
	fputs(vs_err_class_name(p->error.cls), out);
	if (p->error.http_status)
		fprintf(out, ", HTTP %d", p->error.http_status);
	fputs(": ", out);
	put_escaped(out, p->error.message, ESC_XML_ATTR);
	fprintf(out, "\" type=\"%s\">", vs_err_class_name(p->error.cls));
	fputs("provider: ", out);
	xml_text(out, p->name);
	fputs("\nmessage: ", out);
	xml_text(out, p->error.message);
	fputs("\n</failure>\n    </testcase>\n", out);
}

int vs_render_junit(const struct vs_report *r, FILE *out)
{
	struct suite_counts all = {0, 0, 0}, c;
	char ts[40];
	size_t i, j;

	for (i = 0; i < r->n_providers; i++) {
		c = count_suite(r, &r->providers[i]);
		all.tests += c.tests;
		all.failures += c.failures;
		all.skipped += c.skipped;
	}
	junit_time(ts, sizeof(ts), r->created_ms);
	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", out);
	fputs("<testsuites name=\"vmsweep\"", out);
	junit_counts(out, &all);
	fputs(" time=\"", out);
	put_seconds(out, r->created_ms, r->finished_ms);
	fputs("\"", out);
	if (r->created_ms)
		xml_attr(out, "timestamp", ts);
	fputs(">\n", out);
	for (i = 0; i < r->n_providers; i++) {
		const struct vs_report_provider *p = &r->providers[i];

		c = count_suite(r, p);
		fputs("  <testsuite", out);
		xml_attr(out, "name", p->name);
		junit_counts(out, &c);
		fputs(" time=\"", out);
		put_seconds(out, r->created_ms, r->finished_ms);
		fputs("\"", out);
		if (r->created_ms)
			xml_attr(out, "timestamp", ts);
		fputs(">\n    <properties>\n", out);
		fputs("      <property name=\"run_id\"", out);
		xml_attr(out, "value", r->run_id ? r->run_id : "");
		fputs("/>\n      <property name=\"mode\"", out);
		xml_attr(out, "value", r->dry_run ? "dry_run" : "real");
		fputs("/>\n      <property name=\"provider_type\"", out);
		xml_attr(out, "value", p->type);
		fputs("/>\n", out);
		if (r->retry_of) {
			fputs("      <property name=\"retry_of\"", out);
			xml_attr(out, "value", r->retry_of);
			fputs("/>\n", out);
		}
		fputs("    </properties>\n", out);
		junit_inventory(out, p);
		for (j = 0; j < r->n_vms; j++)
			if (strcmp(r->vms[j].provider, p->name) == 0)
				junit_vm(out, &r->vms[j]);
		fputs("  </testsuite>\n", out);
	}
	fputs("</testsuites>\n", out);
	return fflush(out) == 0 && !ferror(out) ? VS_OK : VS_ERR;
}

/* ------------------------------------------------------------------ */
/* Markdown.                                                            */

static int is_problem(enum vs_outcome o)
{
	return verdict_of(o) == V_FAIL;
}

static void md_outcome_table(FILE *out, const struct vs_report *r)
{
	long total[VS_OUT_COUNT] = {0}, row;
	size_t i;
	int o;

	for (i = 0; i < r->n_providers; i++)
		for (o = 0; o < VS_OUT_COUNT; o++)
			total[o] += r->providers[i].outcomes[o];
	fputs("| provider |", out);
	for (o = 0; o < VS_OUT_COUNT; o++)
		if (total[o])
			fprintf(out, " %s |", vs_outcome_name(o));
	fputs(" total |\n|---|", out);
	for (o = 0; o < VS_OUT_COUNT; o++)
		if (total[o])
			fputs("---:|", out);
	fputs("---:|\n", out);
	for (i = 0; i <= r->n_providers; i++) {
		const long *counts =
			i < r->n_providers ? r->providers[i].outcomes : total;

		if (i == r->n_providers && r->n_providers < 2)
			break;
		fputs("| ", out);
		if (i < r->n_providers)
			md(out, r->providers[i].name);
		else
			fputs("**total**", out);
		fputs(" |", out);
		row = 0;
		for (o = 0; o < VS_OUT_COUNT; o++) {
			row += counts[o];
			if (total[o])
				fprintf(out, " %ld |", counts[o]);
		}
		fprintf(out, " %ld |\n", row);
	}
}

int vs_render_markdown(const struct vs_report *r, FILE *out)
{
	size_t i, n_bad = 0, n_problems = 0, n_warn = 0;
	char when[40];
	int code = vs_report_exit_code(r);

	for (i = 0; i < r->n_providers; i++)
		n_bad += !provider_listed(&r->providers[i]);
	for (i = 0; i < r->n_vms; i++) {
		if (is_problem(r->vms[i].outcome))
			n_problems++;
		else if (r->vms[i].rounds_failed > 0)
			n_warn++;
	}

	fputs("### vmsweep run ", out);
	md(out, r->run_id ? r->run_id : "-");
	fprintf(out, " (%s): %s\n\n", r->dry_run ? "dry run" : "real",
		code == VS_EXIT_OK && !n_bad ? "all done" : "needs attention");
	if (r->created_ms) {
		vs_time_format_ms(when, sizeof(when), r->created_ms);
		fprintf(out, "Started %s", when);
		if (r->finished_ms) {
			vs_time_format_ms(when, sizeof(when), r->finished_ms);
			fprintf(out, ", finished %s", when);
		}
		fputs(". ", out);
	}
	fprintf(out, "%zu VM%s planned, %zu failed or unconfirmed", r->n_vms,
		r->n_vms == 1 ? "" : "s", n_problems);
	if (r->retry_of) {
		fputs("; a retry of ", out);
		md(out, r->retry_of);
	}
	fputs(".\n\n", out);
	md_outcome_table(out, r);

	if (n_bad) {
		fprintf(out,
			"\n**Providers not listed (%zu)**\n\n"
			"| provider | class | HTTP | message |\n"
			"|---|---|---:|---|\n",
			n_bad);
		for (i = 0; i < r->n_providers; i++) {
			const struct vs_report_provider *p = &r->providers[i];

			if (provider_listed(p))
				continue;
			fputs("| ", out);
			md(out, p->name);
			fprintf(out, " | %s | ",
				vs_err_class_name(p->error.cls));
			if (p->error.http_status)
				fprintf(out, "%d", p->error.http_status);
			fputs(" | ", out);
			md(out, p->error.message);
			fputs(" |\n", out);
		}
	}
	if (n_problems) {
		fprintf(out,
			"\n**Failures (%zu)**\n\n"
			"| provider | VM | id | outcome | class | HTTP | "
			"retryable | attempts | message |\n"
			"|---|---|---|---|---|---:|---|---:|---|\n",
			n_problems);
		for (i = 0; i < r->n_vms; i++) {
			const struct vs_report_vm *v = &r->vms[i];
			int has = v->error.cls != VS_EC_NONE;

			if (!is_problem(v->outcome))
				continue;
			fputs("| ", out);
			md(out, v->provider);
			fputs(" | ", out);
			md(out, v->name);
			fputs(" | ", out);
			md(out, v->id);
			fprintf(out, " | %s | %s | ",
				vs_outcome_name(v->outcome),
				has ? vs_err_class_name(v->error.cls) : "");
			if (v->error.http_status)
				fprintf(out, "%d", v->error.http_status);
			fprintf(out, " | %s | %d | ",
				has ? (v->error.retryable ? "yes" : "no") : "",
				v->attempts);
			md(out, v->error.message);
			fputs(" |\n", out);
		}
	}
	if (n_warn) {
		fprintf(out,
			"\n**Warnings (%zu)**: deleted only after failing a "
			"round\n\n"
			"| provider | VM | outcome | failed rounds |\n"
			"|---|---|---|---:|\n",
			n_warn);
		for (i = 0; i < r->n_vms; i++) {
			const struct vs_report_vm *v = &r->vms[i];

			if (is_problem(v->outcome) || v->rounds_failed <= 0)
				continue;
			fputs("| ", out);
			md(out, v->provider);
			fputs(" | ", out);
			md(out, v->name);
			fprintf(out, " | %s | %d |\n",
				vs_outcome_name(v->outcome), v->rounds_failed);
		}
	}
	return fflush(out) == 0 && !ferror(out) ? VS_OK : VS_ERR;
}
