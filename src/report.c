/*
 * report.c - the plan/report model, its JSON form and the text renderers.
 *
 * The JSON shape is documented field by field in docs/report-format.md;
 * keep the two in step.  The writer builds a jansson tree and writes it
 * atomically; the reader walks a parsed tree with a JSON path in hand so
 * that every complaint names the file and the exact field.
 */
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "buf.h"
#include "error.h"
#include "timeutil.h"

#ifndef VS_VERSION
#define VS_VERSION "unknown"
#endif

/* Indexed by enum vs_outcome; these strings are part of the report. */
static const char *const outcome_names[VS_OUT_COUNT] = {
	[VS_OUT_NONE] = "planned",
	[VS_OUT_DELETED] = "deleted",
	[VS_OUT_ALREADY_ABSENT] = "already_absent",
	[VS_OUT_REQUESTED] = "requested",
	[VS_OUT_FAILED] = "failed",
	[VS_OUT_PRETEND] = "pretend",
	[VS_OUT_NOT_ATTEMPTED] = "not_attempted",
	[VS_OUT_PROTECTED] = "protected",
};

static const char *const age_source_names[] = {
	[VS_AGE_NONE] = "unknown",
	[VS_AGE_CREATED] = "created",
	[VS_AGE_FIRST_SEEN] = "first_seen",
};

const char *vs_outcome_name(enum vs_outcome o)
{
	if ((unsigned int)o >= VS_OUT_COUNT)
		return "planned";
	return outcome_names[o];
}

int vs_outcome_parse(const char *name, enum vs_outcome *out)
{
	int i;

	if (!name)
		return VS_ERR;
	for (i = 0; i < VS_OUT_COUNT; i++) {
		if (strcmp(outcome_names[i], name) == 0) {
			*out = (enum vs_outcome)i;
			return 0;
		}
	}
	return VS_ERR;
}

/* ------------------------------------------------------------------ */
/* The model.                                                           */

void vs_report_init(struct vs_report *r)
{
	memset(r, 0, sizeof(*r));
	r->schema_version = VS_REPORT_SCHEMA_VERSION;
}

static void vm_entry_release(struct vs_report_vm *v)
{
	size_t i;

	free(v->provider);
	free(v->id);
	free(v->name);
	for (i = 0; i < v->n_rules; i++)
		free(v->rules[i]);
	free(v->rules);
	free(v->reason);
}

static void kept_entry_release(struct vs_report_kept *k)
{
	free(k->provider);
	free(k->id);
	free(k->name);
	free(k->reason);
}

void vs_report_release(struct vs_report *r)
{
	size_t i;

	if (!r)
		return;
	free(r->run_id);
	free(r->version);
	free(r->config_path);
	free(r->retry_of);
	free(r->plan_path);
	for (i = 0; i < r->n_providers; i++) {
		free(r->providers[i].name);
		free(r->providers[i].type);
	}
	free(r->providers);
	for (i = 0; i < r->n_vms; i++)
		vm_entry_release(&r->vms[i]);
	free(r->vms);
	for (i = 0; i < r->n_kept; i++)
		kept_entry_release(&r->kept[i]);
	free(r->kept);
	vs_report_init(r);
}

/* strdup that treats NULL as "" (a provider that left a field empty). */
static char *dup_str(const char *s)
{
	return strdup(s ? s : "");
}

static int grow(void **items, size_t *alloc, size_t n, size_t size)
{
	size_t na;
	void *ni;

	if (n < *alloc)
		return 0;
	na = *alloc ? *alloc * 2 : 16;
	if (na > SIZE_MAX / size)
		return VS_ERR;
	ni = realloc(*items, na * size);
	if (!ni)
		return VS_ERR;
	*items = ni;
	*alloc = na;
	return 0;
}

struct vs_report_provider *
vs_report_add_provider(struct vs_report *r, const char *name, const char *type)
{
	struct vs_report_provider *p, *np;

	/* A handful of providers: growing one at a time is fine. */
	np = realloc(r->providers, (r->n_providers + 1) * sizeof(*np));
	if (!np)
		return NULL;
	r->providers = np;
	p = &np[r->n_providers];
	memset(p, 0, sizeof(*p));
	p->name = dup_str(name);
	p->type = dup_str(type);
	if (!p->name || !p->type) {
		free(p->name);
		free(p->type);
		return NULL;
	}
	r->n_providers++;
	return p;
}

struct vs_report_vm *vs_report_add_vm(struct vs_report *r, const char *provider,
				      const struct vs_vm *vm,
				      size_t provider_index)
{
	struct vs_report_vm *v;

	if (grow((void **)&r->vms, &r->alloc_vms, r->n_vms, sizeof(*v)))
		return NULL;
	v = &r->vms[r->n_vms];
	memset(v, 0, sizeof(*v));
	v->provider = dup_str(provider);
	v->id = dup_str(vm ? vm->id : NULL);
	v->name = dup_str(vm ? vm->name : NULL);
	if (!v->provider || !v->id || !v->name) {
		vm_entry_release(v);
		return NULL;
	}
	v->created = vm ? vm->created : VS_TIME_UNKNOWN;
	v->age_source = vm ? vm->age_source : VS_AGE_NONE;
	v->outcome = VS_OUT_NONE;
	v->vm = vm;
	v->provider_index = provider_index;
	r->n_vms++;
	return v;
}

struct vs_report_kept *vs_report_add_kept(struct vs_report *r,
					  const char *provider,
					  const struct vs_vm *vm,
					  const char *reason)
{
	struct vs_report_kept *k;

	if (grow((void **)&r->kept, &r->alloc_kept, r->n_kept, sizeof(*k)))
		return NULL;
	k = &r->kept[r->n_kept];
	memset(k, 0, sizeof(*k));
	k->provider = dup_str(provider);
	k->id = dup_str(vm ? vm->id : NULL);
	k->name = dup_str(vm ? vm->name : NULL);
	k->reason = dup_str(reason);
	if (!k->provider || !k->id || !k->name || !k->reason) {
		kept_entry_release(k);
		return NULL;
	}
	r->n_kept++;
	return k;
}

int vs_report_vm_add_rule(struct vs_report_vm *vm, const char *rule)
{
	char **nr, *copy;

	copy = dup_str(rule);
	if (!copy)
		return VS_ERR;
	nr = realloc(vm->rules, (vm->n_rules + 1) * sizeof(*nr));
	if (!nr) {
		free(copy);
		return VS_ERR;
	}
	nr[vm->n_rules++] = copy;
	vm->rules = nr;
	return 0;
}

static struct vs_report_provider *find_provider(const struct vs_report *r,
						size_t index, const char *name)
{
	size_t i;

	if (index < r->n_providers)
		return &r->providers[index];
	for (i = 0; i < r->n_providers; i++)
		if (name && strcmp(r->providers[i].name, name) == 0)
			return &r->providers[i];
	return NULL;
}

void vs_report_tally(struct vs_report *r)
{
	struct vs_report_provider *p;
	size_t i;

	for (i = 0; i < r->n_providers; i++) {
		p = &r->providers[i];
		p->selected = 0;
		p->kept = 0;
		memset(p->outcomes, 0, sizeof(p->outcomes));
	}
	for (i = 0; i < r->n_vms; i++) {
		const struct vs_report_vm *v = &r->vms[i];
		p = find_provider(r, v->provider_index, v->provider);
		if (!p)
			continue;
		p->selected++;
		if ((unsigned int)v->outcome < VS_OUT_COUNT)
			p->outcomes[v->outcome]++;
	}
	for (i = 0; i < r->n_kept; i++) {
		p = find_provider(r, (size_t)-1, r->kept[i].provider);
		if (p)
			p->kept++;
	}
}

int vs_report_exit_code(const struct vs_report *r)
{
	size_t i;

	if (r->is_plan)
		return VS_EXIT_OK;
	for (i = 0; i < r->n_vms; i++) {
		switch (r->vms[i].outcome) {
		case VS_OUT_FAILED:
		case VS_OUT_REQUESTED:
		case VS_OUT_NOT_ATTEMPTED:
		/* A report entry that never ran is not a success either. */
		case VS_OUT_NONE:
			return VS_EXIT_FAILED;
		default:
			break;
		}
	}
	/* As the run itself exits: a provider not listed was not swept. */
	for (i = 0; i < r->n_providers; i++)
		if (r->providers[i].listed < 0)
			return VS_EXIT_FAILED;
	return VS_EXIT_OK;
}

void vs_report_format_age(char *buf, size_t sz, int64_t secs)
{
	const char *sign = "";
	uint64_t s;

	if (secs < 0) {
		sign = "-";
		s = (uint64_t)(-(secs + 1)) + 1;
	} else {
		s = (uint64_t)secs;
	}
	if (s < 60)
		snprintf(buf, sz, "%s%llus", sign, (unsigned long long)s);
	else if (s < 3600)
		snprintf(buf, sz, "%s%llum", sign,
			 (unsigned long long)(s / 60));
	else if (s < 86400)
		snprintf(buf, sz, "%s%lluh%llum", sign,
			 (unsigned long long)(s / 3600),
			 (unsigned long long)(s / 60 % 60));
	else if (s < 100 * 86400ULL)
		snprintf(buf, sz, "%s%llud%lluh", sign,
			 (unsigned long long)(s / 86400),
			 (unsigned long long)(s / 3600 % 24));
	else
		snprintf(buf, sz, "%s%llud", sign,
			 (unsigned long long)(s / 86400));
}

/* ------------------------------------------------------------------ */
/* UTF-8 and escaping.                                                  */

/* See report.h. */
size_t vs_utf8_seq(const unsigned char *p, uint32_t *cp)
{
	uint32_t c;
	size_t n, i;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		c = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		c = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		c = p[0] & 0x07;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3f);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && c < 0x10000) || c > 0x10ffff ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/* See report.h. */
int vs_cp_is_unsafe(uint32_t c)
{
	return c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f) ||
	       (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

/*
 * Escape s for a terminal into b: controls as \n, \t, \r, \xNN or
 * \u{NNNN}; bytes that are not UTF-8 as \xNN.  Returns the display
 * width (one column per code point written), or (size_t)-1 when b is
 * full (the text so far stays).
 */
static size_t escape_text(struct vs_buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t width = 0, n;
	uint32_t c;
	int rc;

	while (*p) {
		n = vs_utf8_seq(p, &c);
		if (n == 0) {
			rc = vs_buf_addf(b, "\\x%02x", *p);
			width += 4;
			n = 1;
		} else if (c == '\n') {
			rc = vs_buf_adds(b, "\\n");
			width += 2;
		} else if (c == '\t') {
			rc = vs_buf_adds(b, "\\t");
			width += 2;
		} else if (c == '\r') {
			rc = vs_buf_adds(b, "\\r");
			width += 2;
		} else if (c < 0x80 && vs_cp_is_unsafe(c)) {
			rc = vs_buf_addf(b, "\\x%02x", (unsigned int)c);
			width += 4;
		} else if (vs_cp_is_unsafe(c)) {
			rc = vs_buf_addf(b, "\\u{%04x}", (unsigned int)c);
			width += 8;
		} else {
			rc = vs_buf_add(b, p, n);
			width++;
		}
		if (rc)
			return (size_t)-1;
		p += n;
	}
	return width;
}

static int utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t c;
	size_t n;

	for (; *p; p += n)
		if ((n = vs_utf8_seq(p, &c)) == 0)
			return 0;
	return 1;
}

/* A copy of s with U+FFFD for each byte that is not UTF-8, or NULL. */
static char *utf8_fix(const char *s)
{
	const unsigned char *p;
	struct vs_buf b;
	uint32_t c;
	size_t n;

	vs_buf_init(&b, 0);
	for (p = (const unsigned char *)s; *p; p += n) {
		n = vs_utf8_seq(p, &c);
		if (n == 0) {
			n = 1;
			if (vs_buf_adds(&b, "\xef\xbf\xbd"))
				goto fail;
		} else if (vs_buf_add(&b, p, n)) {
			goto fail;
		}
	}
	return vs_buf_detach(&b, NULL);
fail:
	vs_buf_release(&b);
	return NULL;
}

/*
 * A JSON string of s (null for NULL).  Ids and names may hold any byte,
 * but JSON holds only UTF-8: a bad byte becomes U+FFFD.  The file then
 * differs from the platform's name, so apply's re-check refuses that VM
 * rather than delete something it cannot name exactly.
 */
static json_t *jstr(const char *s)
{
	json_t *j;
	char *fixed;

	if (!s)
		return json_null();
	if (utf8_valid(s))
		return json_string(s);
	fixed = utf8_fix(s);
	j = fixed ? json_string(fixed) : NULL;
	free(fixed);
	return j;
}

/* ------------------------------------------------------------------ */
/* The JSON writer.                                                     */

/* Set o[key] = v, taking v; -1 when v is NULL (out of memory). */
static int jset(json_t *o, const char *key, json_t *v)
{
	if (!v)
		return -1;
	return json_object_set_new(o, key, v);
}

static json_t *jtime_s(int64_t t)
{
	char buf[32];

	if (t == VS_TIME_UNKNOWN)
		return json_null();
	vs_time_format(buf, sizeof(buf), t);
	return json_string(buf);
}

static json_t *jtime_ms(int64_t t_ms)
{
	char buf[40];

	if (t_ms == 0)
		return json_null();
	vs_time_format_ms(buf, sizeof(buf), t_ms);
	return json_string(buf);
}

static json_t *jerror(const struct vs_error *e)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	if (jset(o, "class", json_string(vs_err_class_name(e->cls))) ||
	    jset(o, "http_status",
		 e->http_status ? json_integer(e->http_status) : json_null()) ||
	    jset(o, "message", jstr(e->message)) ||
	    jset(o, "retryable", json_boolean(e->retryable))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *jconcurrency(const struct vs_report_concurrency *c)
{
	json_t *o = json_object();

	if (!o || jset(o, "max", json_integer(c->max)) ||
	    jset(o, "final", json_integer(c->final)) ||
	    jset(o, "min", json_integer(c->min)) ||
	    jset(o, "decreases", json_integer((json_int_t)c->decreases))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *jsummary(const struct vs_report *r)
{
	json_t *sum = json_object(), *p = NULL, *outs;
	char *fixed = NULL;
	size_t i;
	int o;

	if (!sum)
		return NULL;
	for (i = 0; i < r->n_providers; i++) {
		const struct vs_report_provider *rp = &r->providers[i];

		p = json_object();
		if (!p)
			goto fail;
		if (jset(p, "type", jstr(rp->type)) ||
		    jset(p, "listed",
			 rp->listed < 0 ? json_null()
					: json_integer(rp->listed)) ||
		    jset(p, "selected", json_integer(rp->selected)) ||
		    jset(p, "kept", json_integer(rp->kept)))
			goto fail;
		if (!r->is_plan) {
			outs = json_object();
			if (jset(p, "outcomes", outs))
				goto fail;
			/* "planned" appears only when a VM never ran. */
			for (o = 0; o < VS_OUT_COUNT; o++)
				if ((o != VS_OUT_NONE || rp->outcomes[o]) &&
				    jset(outs, outcome_names[o],
					 json_integer(rp->outcomes[o])))
					goto fail;
		}
		if (rp->error.cls != VS_EC_NONE &&
		    jset(p, "error", jerror(&rp->error)))
			goto fail;
		if (!r->is_plan && rp->concurrency.max &&
		    jset(p, "concurrency", jconcurrency(&rp->concurrency)))
			goto fail;
		/* Keys must be UTF-8 too. */
		if (!utf8_valid(rp->name) && !(fixed = utf8_fix(rp->name)))
			goto fail;
		if (json_object_set_new(sum, fixed ? fixed : rp->name, p))
			goto fail_sum;
		p = NULL;
		free(fixed);
		fixed = NULL;
	}
	return sum;
fail:
	json_decref(p);
fail_sum:
	free(fixed);
	json_decref(sum);
	return NULL;
}

static json_t *jvm(const struct vs_report *r, const struct vs_report_vm *v)
{
	json_t *o = json_object(), *rules;
	size_t i;

	if (!o)
		return NULL;
	if (jset(o, "provider", jstr(v->provider)) ||
	    jset(o, "id", jstr(v->id)) || jset(o, "name", jstr(v->name)) ||
	    jset(o, "created", jtime_s(v->created)) ||
	    jset(o, "age_source",
		 json_string((unsigned int)v->age_source <= VS_AGE_FIRST_SEEN
				     ? age_source_names[v->age_source]
				     : "unknown")))
		goto fail;
	rules = json_array();
	if (jset(o, "rules", rules))
		goto fail;
	for (i = 0; i < v->n_rules; i++)
		if (json_array_append_new(rules, jstr(v->rules[i])))
			goto fail;
	if (jset(o, "reason", jstr(v->reason ? v->reason : "")))
		goto fail;
	if (r->is_plan)
		return o;
	if (jset(o, "outcome", json_string(vs_outcome_name(v->outcome))) ||
	    jset(o, "attempts", json_integer(v->attempts)) ||
	    jset(o, "rounds_failed", json_integer(v->rounds_failed)) ||
	    jset(o, "started", jtime_ms(v->started_ms)) ||
	    jset(o, "finished", jtime_ms(v->finished_ms)) ||
	    jset(o, "duration_ms",
		 v->started_ms && v->finished_ms >= v->started_ms
			 ? json_integer(v->finished_ms - v->started_ms)
			 : json_null()))
		goto fail;
	if (v->error.cls != VS_EC_NONE && jset(o, "error", jerror(&v->error)))
		goto fail;
	if (v->failing_runs > 0 &&
	    jset(o, "failing_runs", json_integer(v->failing_runs)))
		goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}

static json_t *jkept(const struct vs_report_kept *k)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	if (jset(o, "provider", jstr(k->provider)) ||
	    jset(o, "id", jstr(k->id)) || jset(o, "name", jstr(k->name)) ||
	    jset(o, "reason", jstr(k->reason))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *build_json(const struct vs_report *r)
{
	json_t *root = json_object(), *run, *arr;
	const char *version = r->version ? r->version : VS_VERSION;
	size_t i;

	if (!root)
		return NULL;
	if (jset(root, "schema_version",
		 json_integer(VS_REPORT_SCHEMA_VERSION)) ||
	    jset(root, "kind", json_string(r->is_plan ? "plan" : "report")))
		goto fail;
	if (r->is_plan) {
		if (jset(root, "created", jtime_ms(r->created_ms)) ||
		    jset(root, "vmsweep_version", jstr(version)) ||
		    jset(root, "config", jstr(r->config_path)))
			goto fail;
	} else {
		run = json_object();
		if (jset(root, "run", run) ||
		    jset(run, "id", jstr(r->run_id)) ||
		    jset(run, "mode",
			 json_string(r->dry_run ? "dry_run" : "real")) ||
		    jset(run, "started", jtime_ms(r->created_ms)) ||
		    jset(run, "finished", jtime_ms(r->finished_ms)) ||
		    jset(run, "vmsweep_version", jstr(version)) ||
		    jset(run, "config", jstr(r->config_path)) ||
		    jset(run, "retry_of", jstr(r->retry_of)))
			goto fail;
		/* Only in the report of vmsweep apply. */
		if (r->plan_path && jset(run, "plan", jstr(r->plan_path)))
			goto fail;
	}
	if (jset(root, "summary", jsummary(r)))
		goto fail;
	arr = json_array();
	if (jset(root, "vms", arr))
		goto fail;
	for (i = 0; i < r->n_vms; i++)
		if (json_array_append_new(arr, jvm(r, &r->vms[i])))
			goto fail;
	arr = json_array();
	if (jset(root, "kept", arr))
		goto fail;
	for (i = 0; i < r->n_kept; i++)
		if (json_array_append_new(arr, jkept(&r->kept[i])))
			goto fail;
	return root;
fail:
	json_decref(root);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Atomic write.                                                        */

static const char *errno_text(int e, char *buf, size_t sz)
{
	/* The GNU strerror_r (we build with _GNU_SOURCE) returns the text. */
	return strerror_r(e, buf, sz);
}

static int io_error(struct vs_error *err, const char *what, const char *path,
		    int e)
{
	char eb[128];

	return vs_error_set(err, VS_EC_INTERNAL, 0, 0, "cannot %s '%s': %s",
			    what, path, errno_text(e, eb, sizeof(eb)));
}

static int write_all(int fd, const char *data, size_t len)
{
	ssize_t n;

	while (len) {
		n = write(fd, data, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* mkdir -p with mode 0750 for what it creates. */
static int make_dirs(const char *dir, struct vs_error *err)
{
	char *copy = strdup(dir), *p;
	struct stat st;
	int ret = VS_ERR;

	if (!copy)
		return vs_error_set(err, VS_EC_INTERNAL, 0, 0, "out of memory");
	for (p = copy + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		/* Some systems say EACCES or EROFS for a directory that exists;
		 * only a prefix that is not a directory is a failure. */
		if (mkdir(copy, 0750) != 0 && errno != EEXIST &&
		    !(stat(copy, &st) == 0 && S_ISDIR(st.st_mode))) {
			io_error(err, "create directory", copy, errno);
			goto out;
		}
		*p = c;
		if (c == '\0')
			break;
	}
	if (stat(dir, &st) != 0) {
		io_error(err, "create directory", dir, errno);
		goto out;
	}
	if (!S_ISDIR(st.st_mode)) {
		io_error(err, "create directory", dir, ENOTDIR);
		goto out;
	}
	ret = 0;
out:
	free(copy);
	return ret;
}

/*
 * Write data to path so that a reader sees either the old file or the
 * whole new one, and a crash right after we return cannot lose it.
 */
static int write_atomic(const char *path, const char *data, size_t len,
			struct vs_error *err)
{
	struct vs_buf dir, tmp;
	const char *slash = strrchr(path, '/'), *base;
	int fd = -1, dfd = -1, ret = VS_ERR, tmp_made = 0;

	vs_buf_init(&dir, PATH_MAX);
	vs_buf_init(&tmp, PATH_MAX);
	base = slash ? slash + 1 : path;
	if (*base == '\0') {
		io_error(err, "write", path, EISDIR);
		goto out;
	}
	if (!slash ? vs_buf_adds(&dir, ".")
		   : vs_buf_add(&dir, path,
				slash == path ? 1 : (size_t)(slash - path))) {
		io_error(err, "write", path, ENAMETOOLONG);
		goto out;
	}
	if (make_dirs(dir.s, err))
		goto out;
	if (vs_buf_addf(&tmp, "%s/.%s.XXXXXX", dir.s, base)) {
		io_error(err, "write", path, ENAMETOOLONG);
		goto out;
	}
	fd = mkostemp(tmp.s, O_CLOEXEC);
	if (fd < 0) {
		io_error(err, "create a temporary file for", path, errno);
		goto out;
	}
	tmp_made = 1;
	/* mkstemp makes 0600; reports are for the operators' group too. */
	if (fchmod(fd, 0640) != 0 || write_all(fd, data, len) != 0 ||
	    fsync(fd) != 0) {
		io_error(err, "write", tmp.s, errno);
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		io_error(err, "write", tmp.s, errno);
		goto out;
	}
	fd = -1;
	if (rename(tmp.s, path) != 0) {
		io_error(err, "rename a temporary file to", path, errno);
		goto out;
	}
	tmp_made = 0;
	/* The rename lives in the directory; make it durable too. */
	dfd = open(dir.s, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || (fsync(dfd) != 0 && errno != EINVAL)) {
		io_error(err, "sync directory", dir.s, errno);
		goto out;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	if (tmp_made)
		unlink(tmp.s);
	vs_buf_release(&dir);
	vs_buf_release(&tmp);
	return ret;
}

int vs_report_write_atomic(const char *path, const char *data, size_t len,
			   struct vs_error *err)
{
	return write_atomic(path, data, len, err);
}

int vs_report_write_json(const struct vs_report *r, const char *path,
			 struct vs_error *err)
{
	json_t *root = NULL;
	char *text = NULL;
	size_t len;
	int ret = VS_ERR;

	root = build_json(r);
	if (root)
		text = json_dumps(root, JSON_INDENT(2));
	if (!text) {
		vs_error_set(err, VS_EC_INTERNAL, 0, 0,
			     "cannot write '%s': out of memory", path);
		goto out;
	}
	len = strlen(text);
	if (strcmp(path, "-") == 0) {
		if (fwrite(text, 1, len, stdout) != len ||
		    fputc('\n', stdout) == EOF || fflush(stdout) != 0) {
			io_error(err, "write", "-", errno);
			goto out;
		}
		ret = 0;
		goto out;
	}
	/* json_dumps leaves no final newline; add one for the shell's sake. */
	{
		char *nt = realloc(text, len + 2);
		if (!nt) {
			vs_error_set(err, VS_EC_INTERNAL, 0, 0,
				     "cannot write '%s': out of memory", path);
			goto out;
		}
		text = nt;
		text[len++] = '\n';
		text[len] = '\0';
	}
	ret = write_atomic(path, text, len, err);
out:
	free(text);
	json_decref(root);
	return ret;
}

/* ------------------------------------------------------------------ */
/* The reader.                                                          */

struct rd {
	const char *file;
	struct vs_error *err;
};

/* "prefix.key", "prefix[3]" or "key" into buf. */
static const char *jpath(char *buf, size_t sz, const char *prefix,
			 const char *key)
{
	snprintf(buf, sz, "%s%s%s", prefix, *prefix && key[0] != '[' ? "." : "",
		 key);
	return buf;
}

static int rd_fail(struct rd *rd, const char *prefix, const char *key,
		   const char *what)
{
	struct vs_buf esc;
	char p[256];

	/* Object keys come from the file: escape them for the terminal. */
	vs_buf_init(&esc, 256);
	escape_text(&esc, jpath(p, sizeof(p), prefix, key));
	vs_error_set(rd->err, VS_EC_CONFIG, 0, 0, "%s: %s: %s", rd->file, esc.s,
		     what);
	vs_buf_release(&esc);
	return VS_ERR;
}

static int rd_oom(struct rd *rd)
{
	return vs_error_set(rd->err, VS_EC_INTERNAL, 0, 0, "%s: out of memory",
			    rd->file);
}

/* The member key of o; missing is an error unless optional. */
static int rd_get(struct rd *rd, json_t *o, const char *prefix, const char *key,
		  int optional, json_t **out)
{
	*out = json_object_get(o, key);
	if (!*out && !optional)
		return rd_fail(rd, prefix, key, "missing");
	return 0;
}

/* A string (copied), or NULL for null when nullable. */
static int rd_str(struct rd *rd, json_t *o, const char *prefix, const char *key,
		  int nullable, char **out)
{
	json_t *v;

	if (rd_get(rd, o, prefix, key, 0, &v))
		return VS_ERR;
	if (nullable && json_is_null(v)) {
		*out = NULL;
		return 0;
	}
	if (!json_is_string(v))
		return rd_fail(rd, prefix, key,
			       nullable ? "expected a string or null"
					: "expected a string");
	*out = strdup(json_string_value(v));
	return *out ? 0 : rd_oom(rd);
}

/* An integer in [min, max]; null gives null_value when nullable. */
static int rd_int(struct rd *rd, json_t *o, const char *prefix, const char *key,
		  int64_t min, int64_t max, int nullable, int64_t null_value,
		  int64_t *out)
{
	json_t *v;
	json_int_t n;
	char what[96];

	if (rd_get(rd, o, prefix, key, 0, &v))
		return VS_ERR;
	if (nullable && json_is_null(v)) {
		*out = null_value;
		return 0;
	}
	if (!json_is_integer(v))
		return rd_fail(rd, prefix, key,
			       nullable ? "expected an integer or null"
					: "expected an integer");
	n = json_integer_value(v);
	if (n < min || n > max) {
		snprintf(what, sizeof(what),
			 "%lld is out of range [%lld, %lld]", (long long)n,
			 (long long)min, (long long)max);
		return rd_fail(rd, prefix, key, what);
	}
	*out = n;
	return 0;
}

static int rd_bool(struct rd *rd, json_t *o, const char *prefix,
		   const char *key, int *out)
{
	json_t *v;

	if (rd_get(rd, o, prefix, key, 0, &v))
		return VS_ERR;
	if (!json_is_boolean(v))
		return rd_fail(rd, prefix, key, "expected true or false");
	*out = json_is_true(v);
	return 0;
}

/*
 * Milliseconds from an RFC 3339 time; vs_time_parse gives the seconds and
 * has checked the shape, so a fraction starts at offset 19 if at all.
 */
static int parse_time_ms(const char *s, int64_t *out)
{
	int64_t secs, ms = 0;
	const char *q;
	int i;

	if (vs_time_parse(s, &secs))
		return VS_ERR;
	if (strlen(s) > 20 && (s[19] == '.' || s[19] == ',')) {
		q = s + 20;
		for (i = 0; i < 3; i++) {
			ms *= 10;
			if (*q >= '0' && *q <= '9')
				ms += *q++ - '0';
		}
	}
	*out = secs * 1000 + ms;
	return 0;
}

/* An RFC 3339 time or null; ms selects milliseconds (null: 0). */
static int rd_time(struct rd *rd, json_t *o, const char *prefix,
		   const char *key, int ms, int64_t *out)
{
	json_t *v;
	int64_t t;

	if (rd_get(rd, o, prefix, key, 0, &v))
		return VS_ERR;
	if (json_is_null(v)) {
		*out = ms ? 0 : VS_TIME_UNKNOWN;
		return 0;
	}
	if (!json_is_string(v))
		return rd_fail(rd, prefix, key,
			       "expected an RFC 3339 time or null");
	if (ms ? parse_time_ms(json_string_value(v), &t)
	       : vs_time_parse(json_string_value(v), &t))
		return rd_fail(rd, prefix, key, "not an RFC 3339 time");
	/* Zero means "not set" in the model; the epoch itself is no run. */
	if (ms && t == 0)
		t = 1;
	*out = t;
	return 0;
}

static int rd_error(struct rd *rd, json_t *o, const char *prefix,
		    const char *key, struct vs_error *e)
{
	json_t *v;
	char *msg = NULL, sub[256];
	int64_t status;
	int retryable = 0, ret = VS_ERR;

	vs_error_clear(e);
	v = json_object_get(o, key);
	if (!v)
		return 0;
	jpath(sub, sizeof(sub), prefix, key);
	if (!json_is_object(v))
		return rd_fail(rd, prefix, key, "expected an object");
	if (rd_str(rd, v, sub, "class", 0, &msg))
		goto out;
	if (vs_err_class_parse(msg, &e->cls) || e->cls == VS_EC_NONE) {
		rd_fail(rd, sub, "class", "unknown error class");
		goto out;
	}
	free(msg);
	msg = NULL;
	if (rd_int(rd, v, sub, "http_status", 0, 999, 1, 0, &status) ||
	    rd_str(rd, v, sub, "message", 0, &msg) ||
	    rd_bool(rd, v, sub, "retryable", &retryable))
		goto out;
	e->http_status = (int)status;
	e->retryable = retryable;
	snprintf(e->message, sizeof(e->message), "%s", msg);
	ret = 0;
out:
	free(msg);
	if (ret)
		vs_error_clear(e);
	return ret;
}

/* The optional "concurrency" of a provider summary (newer reports). */
static int rd_concurrency(struct rd *rd, json_t *p, const char *name,
			  struct vs_report_concurrency *c)
{
	json_t *o;
	char pre[256];
	int64_t n;

	if (rd_get(rd, p, "", "concurrency", 1, &o) || !o)
		return 0;
	snprintf(pre, sizeof(pre), "summary.%s", name);
	if (!json_is_object(o))
		return rd_fail(rd, pre, "concurrency", "expected an object");
	snprintf(pre, sizeof(pre), "summary.%s.concurrency", name);
	if (rd_int(rd, o, pre, "max", 1, UINT_MAX, 0, 0, &n))
		return VS_ERR;
	c->max = (unsigned int)n;
	if (rd_int(rd, o, pre, "final", 1, c->max, 0, 0, &n))
		return VS_ERR;
	c->final = (unsigned int)n;
	if (rd_int(rd, o, pre, "min", 1, c->final, 0, 0, &n))
		return VS_ERR;
	c->min = (unsigned int)n;
	if (rd_int(rd, o, pre, "decreases", 0, LONG_MAX, 0, 0, &n))
		return VS_ERR;
	c->decreases = (unsigned long)n;
	return 0;
}

static int rd_summary(struct rd *rd, struct vs_report *r, json_t *root)
{
	json_t *sum, *p, *outs, *v;
	const char *name;
	char pre[256], *type = NULL;
	struct vs_report_provider *rp;
	int64_t n;
	int o, ret = VS_ERR;

	if (rd_get(rd, root, "", "summary", 0, &sum))
		return VS_ERR;
	if (!json_is_object(sum))
		return rd_fail(rd, "", "summary", "expected an object");
	json_object_foreach(sum, name, p)
	{
		snprintf(pre, sizeof(pre), "summary.%s", name);
		if (!json_is_object(p)) {
			rd_fail(rd, "summary", name, "expected an object");
			goto out;
		}
		if (rd_str(rd, p, pre, "type", 0, &type))
			goto out;
		rp = vs_report_add_provider(r, name, type);
		free(type);
		type = NULL;
		if (!rp) {
			rd_oom(rd);
			goto out;
		}
		if (rd_int(rd, p, pre, "listed", 0, LONG_MAX, 1, -1, &n))
			goto out;
		rp->listed = (long)n;
		if (rd_int(rd, p, pre, "selected", 0, LONG_MAX, 0, 0, &n))
			goto out;
		rp->selected = (long)n;
		if (rd_int(rd, p, pre, "kept", 0, LONG_MAX, 0, 0, &n))
			goto out;
		rp->kept = (long)n;
		if (rd_error(rd, p, pre, "error", &rp->error))
			goto out;
		if (r->is_plan)
			continue;
		if (rd_concurrency(rd, p, name, &rp->concurrency))
			goto out;
		if (rd_get(rd, p, pre, "outcomes", 0, &outs))
			goto out;
		if (!json_is_object(outs)) {
			rd_fail(rd, pre, "outcomes", "expected an object");
			goto out;
		}
		snprintf(pre, sizeof(pre), "summary.%s.outcomes", name);
		for (o = 0; o < VS_OUT_COUNT; o++) {
			v = json_object_get(outs, outcome_names[o]);
			if (!v && o == VS_OUT_NONE)
				continue;
			if (rd_int(rd, outs, pre, outcome_names[o], 0, LONG_MAX,
				   0, 0, &n))
				goto out;
			rp->outcomes[o] = (long)n;
		}
	}
	ret = 0;
out:
	free(type);
	return ret;
}

static int rd_vm(struct rd *rd, struct vs_report *r, json_t *o, size_t idx)
{
	struct vs_report_vm *v;
	json_t *rules, *item;
	char pre[64], sub[96], *s = NULL;
	int64_t n;
	size_t i;
	int ret = VS_ERR;

	snprintf(pre, sizeof(pre), "vms[%zu]", idx);
	if (!json_is_object(o))
		return rd_fail(rd, "vms", pre + 3, "expected an object");
	v = vs_report_add_vm(r, "", NULL, (size_t)-1);
	if (!v)
		return rd_oom(rd);
	free(v->provider);
	free(v->id);
	free(v->name);
	v->provider = v->id = v->name = NULL;
	if (rd_str(rd, o, pre, "provider", 0, &v->provider) ||
	    rd_str(rd, o, pre, "id", 0, &v->id) ||
	    rd_str(rd, o, pre, "name", 0, &v->name) ||
	    rd_time(rd, o, pre, "created", 0, &v->created) ||
	    rd_str(rd, o, pre, "age_source", 0, &s))
		goto out;
	if (!find_provider(r, (size_t)-1, v->provider)) {
		rd_fail(rd, pre, "provider", "not a provider in summary");
		goto out;
	}
	for (i = 0; i <= VS_AGE_FIRST_SEEN; i++)
		if (strcmp(s, age_source_names[i]) == 0)
			break;
	if (i > VS_AGE_FIRST_SEEN) {
		rd_fail(rd, pre, "age_source",
			"expected \"created\", \"first_seen\" or \"unknown\"");
		goto out;
	}
	v->age_source = (enum vs_age_source)i;
	free(s);
	s = NULL;
	if (rd_get(rd, o, pre, "rules", 0, &rules))
		goto out;
	if (!json_is_array(rules)) {
		rd_fail(rd, pre, "rules", "expected an array");
		goto out;
	}
	json_array_foreach(rules, i, item)
	{
		if (!json_is_string(item)) {
			snprintf(sub, sizeof(sub), "rules[%zu]", i);
			rd_fail(rd, pre, sub, "expected a string");
			goto out;
		}
		if (vs_report_vm_add_rule(v, json_string_value(item))) {
			rd_oom(rd);
			goto out;
		}
	}
	if (rd_str(rd, o, pre, "reason", 0, &v->reason))
		goto out;
	if (r->is_plan) {
		ret = 0;
		goto out;
	}
	if (rd_str(rd, o, pre, "outcome", 0, &s))
		goto out;
	if (vs_outcome_parse(s, &v->outcome)) {
		rd_fail(rd, pre, "outcome", "unknown outcome");
		goto out;
	}
	if (rd_int(rd, o, pre, "attempts", 0, INT_MAX, 0, 0, &n))
		goto out;
	v->attempts = (int)n;
	if (rd_int(rd, o, pre, "rounds_failed", 0, INT_MAX, 0, 0, &n))
		goto out;
	v->rounds_failed = (int)n;
	if (rd_time(rd, o, pre, "started", 1, &v->started_ms) ||
	    rd_time(rd, o, pre, "finished", 1, &v->finished_ms) ||
	    rd_int(rd, o, pre, "duration_ms", 0, INT64_MAX, 1, 0, &n) ||
	    rd_error(rd, o, pre, "error", &v->error))
		goto out;
	/* Only on flagged VMs (state.flag_after). */
	if (json_object_get(o, "failing_runs")) {
		if (rd_int(rd, o, pre, "failing_runs", 1, INT_MAX, 0, 0, &n))
			goto out;
		v->failing_runs = (int)n;
	}
	ret = 0;
out:
	free(s);
	return ret;
}

static int rd_kept(struct rd *rd, struct vs_report *r, json_t *o, size_t idx)
{
	struct vs_report_kept *k;
	char pre[64];

	snprintf(pre, sizeof(pre), "kept[%zu]", idx);
	if (!json_is_object(o))
		return rd_fail(rd, "kept", pre + 4, "expected an object");
	k = vs_report_add_kept(r, "", NULL, "");
	if (!k)
		return rd_oom(rd);
	kept_entry_release(k);
	memset(k, 0, sizeof(*k));
	if (rd_str(rd, o, pre, "provider", 0, &k->provider) ||
	    rd_str(rd, o, pre, "id", 0, &k->id) ||
	    rd_str(rd, o, pre, "name", 0, &k->name) ||
	    rd_str(rd, o, pre, "reason", 0, &k->reason))
		return VS_ERR;
	if (!find_provider(r, (size_t)-1, k->provider))
		return rd_fail(rd, pre, "provider",
			       "not a provider in summary");
	return 0;
}

static int rd_root(struct rd *rd, struct vs_report *r, json_t *root)
{
	json_t *v, *run, *arr;
	char *s = NULL, what[96];
	size_t i;
	int ret = VS_ERR;

	if (!json_is_object(root))
		return vs_error_set(rd->err, VS_EC_CONFIG, 0, 0,
				    "%s: expected a JSON object", rd->file);
	if (rd_get(rd, root, "", "schema_version", 0, &v))
		goto out;
	if (!json_is_integer(v)) {
		rd_fail(rd, "", "schema_version", "expected an integer");
		goto out;
	}
	if (json_integer_value(v) != VS_REPORT_SCHEMA_VERSION) {
		snprintf(what, sizeof(what),
			 "unsupported version %lld (this vmsweep reads %d)",
			 (long long)json_integer_value(v),
			 VS_REPORT_SCHEMA_VERSION);
		rd_fail(rd, "", "schema_version", what);
		goto out;
	}
	if (rd_str(rd, root, "", "kind", 0, &s))
		goto out;
	if (strcmp(s, "plan") == 0) {
		r->is_plan = 1;
	} else if (strcmp(s, "report") != 0) {
		rd_fail(rd, "", "kind", "expected \"plan\" or \"report\"");
		goto out;
	}
	free(s);
	s = NULL;
	if (r->is_plan) {
		if (rd_time(rd, root, "", "created", 1, &r->created_ms) ||
		    rd_str(rd, root, "", "vmsweep_version", 0, &r->version) ||
		    rd_str(rd, root, "", "config", 1, &r->config_path))
			goto out;
	} else {
		if (rd_get(rd, root, "", "run", 0, &run))
			goto out;
		if (!json_is_object(run)) {
			rd_fail(rd, "", "run", "expected an object");
			goto out;
		}
		if (rd_str(rd, run, "run", "id", 0, &r->run_id) ||
		    rd_str(rd, run, "run", "mode", 0, &s))
			goto out;
		if (strcmp(s, "dry_run") == 0) {
			r->dry_run = 1;
		} else if (strcmp(s, "real") != 0) {
			rd_fail(rd, "run", "mode",
				"expected \"real\" or \"dry_run\"");
			goto out;
		}
		if (rd_time(rd, run, "run", "started", 1, &r->created_ms) ||
		    rd_time(rd, run, "run", "finished", 1, &r->finished_ms) ||
		    rd_str(rd, run, "run", "vmsweep_version", 0, &r->version) ||
		    rd_str(rd, run, "run", "config", 1, &r->config_path) ||
		    rd_str(rd, run, "run", "retry_of", 1, &r->retry_of))
			goto out;
		if (json_object_get(run, "plan") &&
		    rd_str(rd, run, "run", "plan", 1, &r->plan_path))
			goto out;
	}
	if (rd_summary(rd, r, root))
		goto out;
	if (rd_get(rd, root, "", "vms", 0, &arr))
		goto out;
	if (!json_is_array(arr)) {
		rd_fail(rd, "", "vms", "expected an array");
		goto out;
	}
	json_array_foreach(arr, i, v)
	{
		if (rd_vm(rd, r, v, i))
			goto out;
	}
	if (rd_get(rd, root, "", "kept", 0, &arr))
		goto out;
	if (!json_is_array(arr)) {
		rd_fail(rd, "", "kept", "expected an array");
		goto out;
	}
	json_array_foreach(arr, i, v)
	{
		if (rd_kept(rd, r, v, i))
			goto out;
	}
	ret = 0;
out:
	free(s);
	return ret;
}

/* Read the whole file into b (capped); "-" is stdin. */
static int read_file(const char *path, struct vs_buf *b, struct vs_error *err)
{
	char chunk[65536], eb[128];
	struct stat st;
	ssize_t n;
	int is_stdin = strcmp(path, "-") == 0, fd, ret = VS_ERR, rc;

	fd = is_stdin ? 0 : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return vs_error_set(err, VS_EC_CONFIG, 0, 0, "%s: %s", path,
				    errno_text(errno, eb, sizeof(eb)));
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		vs_error_set(err, VS_EC_CONFIG, 0, 0, "%s: is a directory",
			     path);
		goto out;
	}
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > VS_REPORT_MAX_FILE)
		goto too_big;
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			vs_error_set(err, VS_EC_CONFIG, 0, 0, "%s: %s", path,
				     errno_text(errno, eb, sizeof(eb)));
			goto out;
		}
		if (n == 0)
			break;
		rc = vs_buf_add(b, chunk, (size_t)n);
		if (rc == VS_BUF_TOO_BIG)
			goto too_big;
		if (rc) {
			vs_error_set(err, VS_EC_INTERNAL, 0, 0,
				     "%s: out of memory", path);
			goto out;
		}
	}
	ret = 0;
	goto out;
too_big:
	vs_error_set(err, VS_EC_CONFIG, 0, 0, "%s: larger than %zu MiB", path,
		     VS_REPORT_MAX_FILE / (1024 * 1024));
out:
	if (!is_stdin)
		close(fd);
	return ret;
}

int vs_report_read_json(struct vs_report *r, const char *path,
			struct vs_error *err)
{
	struct vs_buf b, esc;
	struct rd rd = {path, err};
	json_error_t jerr;
	json_t *root = NULL;
	int ret = VS_ERR;

	vs_report_init(r);
	vs_buf_init(&b, VS_REPORT_MAX_FILE);
	vs_buf_init(&esc, 256);
	if (read_file(path, &b, err))
		goto out;
	root = json_loadb(b.s, b.len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		/* jansson quotes the input near the error; escape it. */
		escape_text(&esc, jerr.text);
		vs_error_set(err, VS_EC_CONFIG, 0, 0, "%s:%d:%d: %s", path,
			     jerr.line, jerr.column, esc.s);
		goto out;
	}
	if (rd_root(&rd, r, root))
		goto out;
	ret = 0;
out:
	if (ret)
		vs_report_release(r);
	json_decref(root);
	vs_buf_release(&b);
	vs_buf_release(&esc);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Text renderers.                                                      */

/* A cell: escaped text padded to width columns (no padding when 0). */
static void put_cell(FILE *out, const char *s, size_t width)
{
	struct vs_buf b;
	size_t w;

	vs_buf_init(&b, 4096);
	w = escape_text(&b, s);
	fputs(b.s, out);
	if (w == (size_t)-1)
		fputs("...", out);
	for (; w != (size_t)-1 && w < width; w++)
		fputc(' ', out);
	vs_buf_release(&b);
}

static size_t text_width(const char *s)
{
	struct vs_buf b;
	size_t w;

	vs_buf_init(&b, 4096);
	w = escape_text(&b, s);
	vs_buf_release(&b);
	return w == (size_t)-1 ? 4096 : w;
}

/* Column widths stop growing here; a longer name just overflows. */
#define COL_MAX 48

static void widen(size_t *w, const char *s)
{
	size_t n = text_width(s);

	if (n > COL_MAX)
		n = COL_MAX;
	if (n > *w)
		*w = n;
}

/* Ids are long UUIDs on some platforms; the table shows a prefix. */
static void short_id(char *buf, size_t sz, const char *id)
{
	if (strlen(id) > 12)
		snprintf(buf, sz, "%.8s...", id);
	else
		snprintf(buf, sz, "%s", id);
}

static void vm_age(char *buf, size_t sz, const struct vs_report *r,
		   const struct vs_report_vm *v)
{
	int64_t now = r->created_ms / 1000;

	if (v->created == VS_TIME_UNKNOWN || v->age_source == VS_AGE_NONE ||
	    r->created_ms == 0) {
		snprintf(buf, sz, "unknown");
		return;
	}
	if (v->created < now - INT64_MAX / 2 ||
	    v->created > now + INT64_MAX / 2) {
		snprintf(buf, sz, "unknown");
		return;
	}
	/* "~": an age from vmsweep's first sighting, not the platform. */
	if (v->age_source == VS_AGE_FIRST_SEEN && sz > 1) {
		buf[0] = '~';
		buf++;
		sz--;
	}
	vs_report_format_age(buf, sz, now - v->created);
}

static void join_rules(struct vs_buf *b, const struct vs_report_vm *v)
{
	size_t i;

	for (i = 0; i < v->n_rules; i++) {
		if (i)
			vs_buf_adds(b, ",");
		vs_buf_adds(b, v->rules[i]);
	}
	if (!v->n_rules)
		vs_buf_adds(b, "-");
}

void vs_report_print_plan(const struct vs_report *r, FILE *out)
{
	size_t i, wp = 8, wn = 4, wi = 2, wa = 3, wt = 4;
	char id[32], age[32];
	struct vs_buf rules;

	vs_buf_init(&rules, 4096);
	for (i = 0; i < r->n_vms; i++) {
		widen(&wp, r->vms[i].provider);
		widen(&wn, r->vms[i].name);
		short_id(id, sizeof(id), r->vms[i].id);
		widen(&wi, id);
		vm_age(age, sizeof(age), r, &r->vms[i]);
		widen(&wa, age);
	}
	if (r->n_vms) {
		fprintf(out, "%-*s  %-*s  %-*s  %-*s  %s\n", (int)wp,
			"PROVIDER", (int)wn, "NAME", (int)wi, "ID", (int)wa,
			"AGE", "RULES");
	}
	for (i = 0; i < r->n_vms; i++) {
		const struct vs_report_vm *v = &r->vms[i];

		put_cell(out, v->provider, wp + 2);
		put_cell(out, v->name, wn + 2);
		short_id(id, sizeof(id), v->id);
		put_cell(out, id, wi + 2);
		vm_age(age, sizeof(age), r, v);
		put_cell(out, age, wa + 2);
		vs_buf_reset(&rules);
		join_rules(&rules, v);
		put_cell(out, rules.s, 0);
		fputc('\n', out);
	}
	fprintf(out, "%zu VM%s would be deleted.\n", r->n_vms,
		r->n_vms == 1 ? "" : "s");
	for (i = 0; i < r->n_vms; i++)
		if (r->vms[i].age_source == VS_AGE_FIRST_SEEN) {
			fprintf(out, "~ age since vmsweep first saw the VM "
				     "(the platform gives no creation time; "
				     "docs/state.md)\n");
			break;
		}

	if (r->n_kept) {
		wp = 8;
		wn = 4;
		wi = 2;
		for (i = 0; i < r->n_kept; i++) {
			widen(&wp, r->kept[i].provider);
			widen(&wn, r->kept[i].name);
			short_id(id, sizeof(id), r->kept[i].id);
			widen(&wi, id);
		}
		fprintf(out, "\nKept (%zu):\n", r->n_kept);
		fprintf(out, "%-*s  %-*s  %-*s  %s\n", (int)wp, "PROVIDER",
			(int)wn, "NAME", (int)wi, "ID", "REASON");
		for (i = 0; i < r->n_kept; i++) {
			const struct vs_report_kept *k = &r->kept[i];

			put_cell(out, k->provider, wp + 2);
			put_cell(out, k->name, wn + 2);
			short_id(id, sizeof(id), k->id);
			put_cell(out, id, wi + 2);
			put_cell(out, k->reason, 0);
			fputc('\n', out);
		}
	}

	wp = 8;
	wt = 4;
	for (i = 0; i < r->n_providers; i++) {
		widen(&wp, r->providers[i].name);
		widen(&wt, r->providers[i].type);
	}
	fprintf(out, "\n%-*s  %-*s  %8s  %8s  %8s\n", (int)wp, "PROVIDER",
		(int)wt, "TYPE", "LISTED", "SELECTED", "KEPT");
	for (i = 0; i < r->n_providers; i++) {
		const struct vs_report_provider *p = &r->providers[i];

		put_cell(out, p->name, wp + 2);
		put_cell(out, p->type, wt + 2);
		if (p->listed < 0) {
			fprintf(out, "not listed: %s: ",
				vs_err_class_name(p->error.cls));
			put_cell(out, p->error.message, 0);
			fputc('\n', out);
			continue;
		}
		fprintf(out, "%8ld  %8ld  %8ld\n", p->listed, p->selected,
			p->kept);
	}
	vs_buf_release(&rules);
}

/* 1 for the outcomes that make the exit code 1. */
static int outcome_is_problem(const struct vs_report *r, enum vs_outcome o)
{
	return o == VS_OUT_FAILED || o == VS_OUT_REQUESTED ||
	       o == VS_OUT_NOT_ATTEMPTED || (o == VS_OUT_NONE && !r->is_plan);
}

static void print_problem(FILE *out, const struct vs_report_vm *v)
{
	fputs("  ", out);
	put_cell(out, v->provider, 0);
	fputs(" ", out);
	put_cell(out, v->name, 0);
	fputs(" (id ", out);
	put_cell(out, v->id, 0);
	fprintf(out, "): %s, %d attempt%s", vs_outcome_name(v->outcome),
		v->attempts, v->attempts == 1 ? "" : "s");
	if (v->error.cls != VS_EC_NONE) {
		fprintf(out, ", %s", vs_err_class_name(v->error.cls));
		if (v->error.http_status)
			fprintf(out, ", HTTP %d", v->error.http_status);
		fprintf(out, "%s: ", v->error.retryable ? ", retryable" : "");
		put_cell(out, v->error.message, 0);
	}
	fputc('\n', out);
}

static void upper(char *dst, size_t sz, const char *s)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < sz; i++)
		dst[i] = s[i] >= 'a' && s[i] <= 'z' ? (char)(s[i] - 'a' + 'A')
						    : s[i];
	dst[i] = '\0';
}

/* An outcome column is as wide as its name, at least 5. */
static int col_width(int o)
{
	size_t k = strlen(outcome_names[o]);

	return k < 5 ? 5 : (int)k;
}

/* The providers whose adaptive concurrency was cut, if any. */
static void print_concurrency(const struct vs_report *r, FILE *out)
{
	const struct vs_report_concurrency *c;
	size_t i, n = 0;

	for (i = 0; i < r->n_providers; i++)
		n += r->providers[i].concurrency.decreases > 0;
	if (!n)
		return;
	fputs("\nRequests in flight cut after pushback (HTTP 429, 503, "
	      "RESOURCE_BUSY):\n",
	      out);
	for (i = 0; i < r->n_providers; i++) {
		c = &r->providers[i].concurrency;
		if (!c->decreases)
			continue;
		fputs("  ", out);
		put_cell(out, r->providers[i].name, 0);
		fprintf(out,
			": %u at most, %u at the lowest, %u at the end (%lu "
			"cut%s)\n",
			c->max, c->min, c->final, c->decreases,
			c->decreases == 1 ? "" : "s");
	}
}

void vs_report_print_summary(const struct vs_report *r, FILE *out)
{
	long col_total[VS_OUT_COUNT] = {0}, row;
	int show[VS_OUT_COUNT], o;
	size_t i, wp = 8, n_problems = 0, n_warn = 0, n_bad = 0;
	char head[32];

	for (i = 0; i < r->n_providers; i++) {
		widen(&wp, r->providers[i].name);
		for (o = 0; o < VS_OUT_COUNT; o++)
			col_total[o] += r->providers[i].outcomes[o];
		if (r->providers[i].error.cls != VS_EC_NONE)
			n_bad++;
	}
	if (r->run_id || r->created_ms) {
		fputs("run ", out);
		put_cell(out, r->run_id ? r->run_id : "-", 0);
		fprintf(out, " (%s): %zu VM%s planned\n",
			r->dry_run ? "dry run" : "real", r->n_vms,
			r->n_vms == 1 ? "" : "s");
	}
	fprintf(out, "%-*s", (int)wp, "PROVIDER");
	for (o = 0; o < VS_OUT_COUNT; o++) {
		show[o] = col_total[o] != 0;
		if (!show[o])
			continue;
		upper(head, sizeof(head), outcome_names[o]);
		fprintf(out, "  %*s", col_width(o), head);
	}
	fprintf(out, "  %5s\n", "TOTAL");
	for (i = 0; i <= r->n_providers; i++) {
		const long *counts;

		if (i == r->n_providers) {
			if (r->n_providers < 2)
				break;
			fprintf(out, "%-*s", (int)wp, "TOTAL");
			counts = col_total;
		} else {
			put_cell(out, r->providers[i].name, wp);
			counts = r->providers[i].outcomes;
		}
		row = 0;
		for (o = 0; o < VS_OUT_COUNT; o++) {
			row += counts[o];
			if (show[o])
				fprintf(out, "  %*ld", col_width(o), counts[o]);
		}
		fprintf(out, "  %5ld\n", row);
	}

	if (n_bad) {
		fprintf(out, "\nProviders not listed (%zu):\n", n_bad);
		for (i = 0; i < r->n_providers; i++) {
			const struct vs_report_provider *p = &r->providers[i];

			if (p->error.cls == VS_EC_NONE)
				continue;
			fputs("  ", out);
			put_cell(out, p->name, 0);
			fprintf(out, ": %s", vs_err_class_name(p->error.cls));
			if (p->error.http_status)
				fprintf(out, ", HTTP %d", p->error.http_status);
			fputs(": ", out);
			put_cell(out, p->error.message, 0);
			fputc('\n', out);
		}
	}

	print_concurrency(r, out);

	for (i = 0; i < r->n_vms; i++) {
		if (outcome_is_problem(r, r->vms[i].outcome))
			n_problems++;
		else if (r->vms[i].rounds_failed > 0)
			n_warn++;
	}
	if (n_problems) {
		fprintf(out, "\nFailures (%zu):\n", n_problems);
		for (i = 0; i < r->n_vms; i++)
			if (outcome_is_problem(r, r->vms[i].outcome))
				print_problem(out, &r->vms[i]);
	}
	if (n_warn) {
		fprintf(out, "\nWarnings (%zu):\n", n_warn);
		for (i = 0; i < r->n_vms; i++) {
			const struct vs_report_vm *v = &r->vms[i];

			if (outcome_is_problem(r, v->outcome) ||
			    v->rounds_failed <= 0)
				continue;
			fputs("  ", out);
			put_cell(out, v->provider, 0);
			fputs(" ", out);
			put_cell(out, v->name, 0);
			fprintf(out,
				": %s after failing in %d earlier round%s\n",
				vs_outcome_name(v->outcome), v->rounds_failed,
				v->rounds_failed == 1 ? "" : "s");
		}
	}
	for (i = 0, n_warn = 0; i < r->n_vms; i++)
		n_warn += r->vms[i].failing_runs > 0;
	if (n_warn) {
		fprintf(out, "\nFailing run after run (%zu):\n", n_warn);
		for (i = 0; i < r->n_vms; i++) {
			const struct vs_report_vm *v = &r->vms[i];

			if (v->failing_runs <= 0)
				continue;
			fputs("  ", out);
			put_cell(out, v->provider, 0);
			fputs(" ", out);
			put_cell(out, v->name, 0);
			fprintf(out, ": failed in each of the last %d runs\n",
				v->failing_runs);
		}
	}
}
