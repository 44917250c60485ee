/*
 * metrics.c - the Prometheus text exposition of a run.
 *
 * Series per provider and outcome are written even when zero, so that a
 * query or an alert sees a 0 rather than no data; failures per class are
 * written only for the classes that occurred (fifteen classes times each
 * provider would be mostly zeros), and an alert on them should use
 * "> 0" or absent().
 */
#include "metrics.h"

#include <string.h>

#include "error.h"

#define P "vmsweep_"

/* Append s as a label value: \\, \" and \n escaped, bad UTF-8 as U+FFFD. */
static int add_label_value(struct vs_buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	int rc = 0;

	for (; *p && !rc; p++) {
		if (*p == '\\')
			rc = vs_buf_adds(b, "\\\\");
		else if (*p == '"')
			rc = vs_buf_adds(b, "\\\"");
		else if (*p == '\n')
			rc = vs_buf_adds(b, "\\n");
		else if (*p < 0x80)
			rc = vs_buf_addc(b, (char)*p);
		else {
			/* Copy a well-formed sequence whole, else U+FFFD. */
			size_t n = *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : 2, i;
			int ok = *p >= 0xc2 && *p <= 0xf4;

			for (i = 1; ok && i < n; i++)
				ok = (p[i] & 0xc0) == 0x80;
			if (ok && n == 3 &&
			    ((p[0] == 0xe0 && p[1] < 0xa0) ||
			     (p[0] == 0xed && p[1] >= 0xa0)))
				ok = 0;
			if (ok && n == 4 &&
			    ((p[0] == 0xf0 && p[1] < 0x90) ||
			     (p[0] == 0xf4 && p[1] >= 0x90)))
				ok = 0;
			if (ok) {
				rc = vs_buf_add(b, p, n);
				p += n - 1;
			} else {
				rc = vs_buf_adds(b, "\xef\xbf\xbd");
			}
		}
	}
	return rc ? VS_ERR : 0;
}

static int head(struct vs_buf *b, const char *name, const char *help)
{
	return vs_buf_addf(b, "# HELP " P "%s %s\n# TYPE " P "%s gauge\n", name,
			   help, name)
		       ? VS_ERR
		       : 0;
}

/* name{provider="..."[,key="value"]} value */
static int sample(struct vs_buf *b, const char *name, const char *provider,
		  const char *key, const char *value, long long v)
{
	if (vs_buf_addf(b, P "%s{provider=\"", name) ||
	    add_label_value(b, provider))
		return VS_ERR;
	if (key &&
	    (vs_buf_addf(b, "\",%s=\"", key) || add_label_value(b, value)))
		return VS_ERR;
	return vs_buf_addf(b, "\"} %lld\n", v) ? VS_ERR : 0;
}

/*
 * Adaptive concurrency (aimd.h), for the providers that had it: the
 * ceiling, the window at the end, its lowest point and the cuts.
 */
static int concurrency(struct vs_buf *b, const struct vs_report *r)
{
	static const struct {
		const char *name, *help;
	} m[] = {
		{"concurrency_max",
		 "Ceiling of the provider's adaptive window (max_concurrency, "
		 "or the workers when fewer)."},
		{"concurrency_limit",
		 "Requests in flight the provider's adaptive window allowed at "
		 "the end of the run."},
		{"concurrency_min",
		 "Lowest the provider's adaptive window went during the run."},
		{"concurrency_decreases",
		 "Times the provider's adaptive window was halved after "
		 "pushback (HTTP 429, 503, RESOURCE_BUSY) during the run."},
	};
	const struct vs_report_concurrency *c;
	long long v;
	size_t i, k, n = 0;

	for (i = 0; i < r->n_providers; i++)
		n += r->providers[i].concurrency.max > 0;
	if (!n)
		return 0;
	for (k = 0; k < sizeof(m) / sizeof(m[0]); k++) {
		if (head(b, m[k].name, m[k].help))
			return VS_ERR;
		for (i = 0; i < r->n_providers; i++) {
			c = &r->providers[i].concurrency;
			if (!c->max)
				continue;
			v = k == 0   ? c->max
			    : k == 1 ? c->final
			    : k == 2 ? c->min
				     : (long long)c->decreases;
			if (sample(b, m[k].name, r->providers[i].name, NULL,
				   NULL, v))
				return VS_ERR;
		}
	}
	return 0;
}

static int per_provider(struct vs_buf *b, const struct vs_report *r)
{
	const struct vs_report_provider *p;
	long fails[VS_EC_INTERNAL + 1];
	size_t i, j;
	int o, c;

	if (head(b, "provider_up",
		 "1 when the provider was opened and listed, else 0."))
		return VS_ERR;
	for (i = 0; i < r->n_providers; i++) {
		p = &r->providers[i];
		if (sample(b, "provider_up", p->name, NULL, NULL,
			   p->listed >= 0 && p->error.cls == VS_EC_NONE))
			return VS_ERR;
	}
	if (head(b, "vms_listed",
		 "VMs in the provider's inventory (absent when not listed)."))
		return VS_ERR;
	for (i = 0; i < r->n_providers; i++) {
		p = &r->providers[i];
		if (p->listed >= 0 &&
		    sample(b, "vms_listed", p->name, NULL, NULL, p->listed))
			return VS_ERR;
	}
	if (head(b, "vms_selected", "VMs planned for deletion."))
		return VS_ERR;
	for (i = 0; i < r->n_providers; i++)
		if (sample(b, "vms_selected", r->providers[i].name, NULL, NULL,
			   r->providers[i].selected))
			return VS_ERR;
	if (head(b, "vms_kept",
		 "VMs a rule matched that were kept (protected, too young)."))
		return VS_ERR;
	for (i = 0; i < r->n_providers; i++)
		if (sample(b, "vms_kept", r->providers[i].name, NULL, NULL,
			   r->providers[i].kept))
			return VS_ERR;
	if (head(b, "vms", "Planned VMs by final outcome."))
		return VS_ERR;
	for (i = 0; i < r->n_providers; i++)
		for (o = 0; o < VS_OUT_COUNT; o++) {
			p = &r->providers[i];
			if (o == VS_OUT_NONE && !p->outcomes[o])
				continue;
			if (sample(b, "vms", p->name, "outcome",
				   vs_outcome_name((enum vs_outcome)o),
				   p->outcomes[o]))
				return VS_ERR;
		}
	if (head(b, "failures",
		 "VMs left failed, unconfirmed or not attempted, by error "
		 "class (only classes that occurred)."))
		return VS_ERR;
	for (i = 0; i < r->n_providers; i++) {
		p = &r->providers[i];
		memset(fails, 0, sizeof(fails));
		for (j = 0; j < r->n_vms; j++) {
			const struct vs_report_vm *v = &r->vms[j];

			if (strcmp(v->provider, p->name) != 0 ||
			    (v->outcome != VS_OUT_FAILED &&
			     v->outcome != VS_OUT_REQUESTED &&
			     v->outcome != VS_OUT_NOT_ATTEMPTED))
				continue;
			c = (unsigned int)v->error.cls <= VS_EC_INTERNAL
				    ? (int)v->error.cls
				    : VS_EC_INTERNAL;
			/* A failure without a cause is vmsweep's fault. */
			fails[c ? c : VS_EC_INTERNAL]++;
		}
		for (c = 1; c <= VS_EC_INTERNAL; c++)
			if (fails[c] &&
			    sample(b, "failures", p->name, "class",
				   vs_err_class_name((enum vs_err_class)c),
				   fails[c]))
				return VS_ERR;
	}
	return concurrency(b, r);
}

int vs_metrics_format(struct vs_buf *b, const struct vs_report *r,
		      int exit_code, int64_t now_ms)
{
	int64_t end = r && r->finished_ms ? r->finished_ms : now_ms;
	int64_t dur = r && r->created_ms && end >= r->created_ms
			      ? end - r->created_ms
			      : 0;

	if (head(b, "last_run_timestamp_seconds",
		 "When the last run ended, in Unix time.") ||
	    vs_buf_addf(b, P "last_run_timestamp_seconds %lld.%03lld\n",
			(long long)(end / 1000), (long long)(end % 1000)) ||
	    head(b, "last_run_success",
		 "1 when the last run exited 0 (nothing failed), else 0.") ||
	    vs_buf_addf(b, P "last_run_success %d\n", exit_code == 0) ||
	    head(b, "last_run_exit_code", "The exit status of the last run.") ||
	    vs_buf_addf(b, P "last_run_exit_code %d\n", exit_code) ||
	    head(b, "last_run_dry_run", "1 when the last run was a dry run.") ||
	    vs_buf_addf(b, P "last_run_dry_run %d\n", r ? r->dry_run : 0) ||
	    head(b, "run_duration_seconds",
		 "How long the last run took, in seconds.") ||
	    vs_buf_addf(b, P "run_duration_seconds %lld.%03lld\n",
			(long long)(dur / 1000), (long long)(dur % 1000)))
		return VS_ERR;
	return r ? per_provider(b, r) : 0;
}

int vs_metrics_write(const char *path, const struct vs_report *r, int exit_code,
		     int64_t now_ms, struct vs_error *err)
{
	struct vs_buf b;
	int ret;

	vs_buf_init(&b, (size_t)16 * 1024 * 1024);
	if (vs_metrics_format(&b, r, exit_code, now_ms)) {
		vs_buf_release(&b);
		return vs_error_set(err, VS_EC_INTERNAL, 0, 0,
				    "cannot write '%s': out of memory", path);
	}
	ret = vs_report_write_atomic(path, b.s, b.len, err);
	vs_buf_release(&b);
	return ret;
}
