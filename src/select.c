/*
 * select.c - rules and protections turn an inventory into a plan.
 *
 * Everything here errs toward keeping a VM: protections are checked
 * before any rule may select, protection globs and markers match without
 * regard to case, an unknown creation time or power state never satisfies
 * a rule that asks for one, and an expiry marker we cannot read protects.
 * Regexes are compiled once per call, so the work is O(VMs x rules).
 *
 * One evaluator, evaluate(), decides for plans (vs_select) and for
 * vmsweep explain (vs_select_explain), so that what explain says is what
 * a run does; explain only asks it to record each step.
 */
#include "select.h"

#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "log.h"
#include "timeutil.h"

#define POWER_ON	(1u << 0)
#define POWER_OFF	(1u << 1)
#define POWER_SUSPENDED (1u << 2)

/* Reasons are short; the cap only guards against absurd rule sets. */
#define REASON_CAP (16 * 1024)
/* The most of an expiry value we quote back. */
#define EXPIRY_MAX 64

/* A rule ready to use: regexes compiled, thresholds formatted. */
struct crule {
	const struct vs_config_rule *rule;
	regex_t *re;
	size_t n_re; /* compiled so far (all of them once ready) */
	unsigned int power;
	char older[32], newer[32];
};

/* ------------------------------------------------------------------ */
/* Globs.                                                               */

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static int upper(int c)
{
	return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

static int in_range(int lo, int hi, int c, int cs)
{
	if (lo <= c && c <= hi)
		return 1;
	if (cs)
		return 0;
	return (lo <= lower(c) && lower(c) <= hi) ||
	       (lo <= upper(c) && upper(c) <= hi);
}

/*
 * p is at '['.  Returns 1 or 0 for whether c is in the set and sets *end
 * past the ']', or -1 when there is no closing ']' (then '[' is literal,
 * as fnmatch treats it).
 */
static int bracket(const char *p, int c, int cs, const char **end)
{
	const unsigned char *q = (const unsigned char *)p + 1, *first;
	int neg = 0, hit = 0, lo, hi;

	if (*q == '!' || *q == '^') {
		neg = 1;
		q++;
	}
	first = q;
	while (*q && (*q != ']' || q == first)) {
		if (*q == '\\' && q[1])
			q++;
		lo = hi = *q++;
		if (*q == '-' && q[1] && q[1] != ']') {
			q++;
			if (*q == '\\' && q[1])
				q++;
			hi = *q++;
		}
		if (in_range(lo, hi, c, cs))
			hit = 1;
	}
	if (*q != ']')
		return -1;
	*end = (const char *)q + 1;
	return hit != neg;
}

/* Match one pattern element (not '*') against c; *next is past it. */
static int element(const char *p, int c, int cs, const char **next)
{
	int b;

	if (*p == '?') {
		*next = p + 1;
		return 1;
	}
	if (*p == '[') {
		b = bracket(p, c, cs, next);
		if (b >= 0)
			return b;
	}
	if (*p == '\\' && p[1])
		p++;
	*next = p + 1;
	return cs ? (unsigned char)*p == c
		  : lower((unsigned char)*p) == lower(c);
}

/*
 * The classic iterative matcher: on a mismatch, retry from the last '*'
 * one character further on.  Only the last star needs revisiting, so it
 * runs in O(len(pattern) x len(s)) with no recursion for a hostile name.
 */
int vs_glob_match(const char *pattern, const char *s, int case_sensitive)
{
	const char *p = pattern, *star_p = NULL, *star_s = NULL, *next;

	if (!pattern || !s)
		return 0;
	while (*s) {
		if (*p == '*') {
			while (*p == '*')
				p++;
			if (!*p)
				return 1;
			star_p = p;
			star_s = s;
			continue;
		}
		if (*p &&
		    element(p, (unsigned char)*s, case_sensitive, &next)) {
			p = next;
			s++;
			continue;
		}
		if (!star_p)
			return 0;
		p = star_p;
		s = ++star_s;
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

/* ------------------------------------------------------------------ */
/* Rules.                                                               */

static void crules_free(struct crule *cr, size_t n)
{
	size_t i, j;

	if (!cr)
		return;
	for (i = 0; i < n; i++) {
		for (j = 0; j < cr[i].n_re; j++)
			regfree(&cr[i].re[j]);
		free(cr[i].re);
	}
	free(cr);
}

static int crule_prepare(struct crule *c, const struct vs_config_rule *rule,
			 struct vs_error *err)
{
	char msg[256];
	size_t i;
	int rc, flags;

	c->rule = rule;
	if (rule->n_regex) {
		c->re = calloc(rule->n_regex, sizeof(*c->re));
		if (!c->re)
			return vs_error_set(err, VS_EC_INTERNAL, 0, 0,
					    "out of memory");
	}
	flags = REG_EXTENDED | REG_NOSUB |
		(rule->case_sensitive ? 0 : REG_ICASE);
	for (i = 0; i < rule->n_regex; i++) {
		rc = regcomp(&c->re[i], rule->regex[i], flags);
		if (rc) {
			regerror(rc, &c->re[i], msg, sizeof(msg));
			return vs_error_set(err, VS_EC_CONFIG, 0, 0,
					    "rule '%s': regex '%s': %s",
					    rule->name, rule->regex[i], msg);
		}
		c->n_re++;
	}
	for (i = 0; i < rule->n_power_states; i++) {
		const char *ps = rule->power_states[i];

		if (strcasecmp(ps, "on") == 0)
			c->power |= POWER_ON;
		else if (strcasecmp(ps, "off") == 0)
			c->power |= POWER_OFF;
		else if (strcasecmp(ps, "suspended") == 0)
			c->power |= POWER_SUSPENDED;
		else
			return vs_error_set(err, VS_EC_CONFIG, 0, 0,
					    "rule '%s': power_states: unknown "
					    "state '%s' (on, off, suspended)",
					    rule->name, ps);
	}
	if (rule->older_than_ms >= 0)
		vs_duration_format(c->older, sizeof(c->older),
				   rule->older_than_ms);
	if (rule->newer_than_ms >= 0)
		vs_duration_format(c->newer, sizeof(c->newer),
				   rule->newer_than_ms);
	return 0;
}

static int rule_in_scope(const struct vs_config_rule *rule, const char *prov)
{
	size_t i;

	if (!rule->n_providers)
		return 1;
	for (i = 0; i < rule->n_providers; i++)
		if (prov && strcmp(rule->providers[i], prov) == 0)
			return 1;
	return 0;
}

/*
 * The first of the rule's patterns that matches name, described for a
 * reason ("'test_*'" / "regex '^ci-'") into buf; 0 when none does.  A
 * rule without patterns matches nothing: "every VM" must be written as
 * "*" so that it is a decision someone made.
 */
static int rule_match(const struct crule *c, const char *name, char *buf,
		      size_t sz)
{
	const struct vs_config_rule *rule = c->rule;
	size_t i;

	for (i = 0; i < rule->n_match; i++) {
		if (vs_glob_match(rule->match[i], name, rule->case_sensitive)) {
			snprintf(buf, sz, "'%s'", rule->match[i]);
			return 1;
		}
	}
	for (i = 0; i < c->n_re; i++) {
		if (regexec(&c->re[i], name, 0, NULL, 0) == 0) {
			snprintf(buf, sz, "regex '%s'", rule->regex[i]);
			return 1;
		}
	}
	return 0;
}

static const char *power_name(enum vs_power p)
{
	switch (p) {
	case VS_POWER_ON:
		return "on";
	case VS_POWER_OFF:
		return "off";
	case VS_POWER_SUSPENDED:
		return "suspended";
	default:
		return "unknown";
	}
}

static unsigned int power_bit(enum vs_power p)
{
	switch (p) {
	case VS_POWER_ON:
		return POWER_ON;
	case VS_POWER_OFF:
		return POWER_OFF;
	case VS_POWER_SUSPENDED:
		return POWER_SUSPENDED;
	default:
		return 0;
	}
}

static void add_power_list(struct vs_buf *b, unsigned int mask)
{
	const char *sep = "";

	if (mask & POWER_ON) {
		vs_buf_addf(b, "%son", sep);
		sep = ", ";
	}
	if (mask & POWER_OFF) {
		vs_buf_addf(b, "%soff", sep);
		sep = ", ";
	}
	if (mask & POWER_SUSPENDED)
		vs_buf_addf(b, "%ssuspended", sep);
}

/*
 * Does the rule (whose pattern matched, described by pat) select vm?
 * Yes: 1, with the selection reason in sel when sel is not NULL.  No: 0,
 * with why appended to why; *unknown_age set when the age was unknown.
 */
static int rule_eval(const struct crule *c, const struct vs_vm *vm, int64_t now,
		     const char *pat, struct vs_buf *sel, struct vs_buf *why,
		     int *unknown_age)
{
	const struct vs_config_rule *rule = c->rule;
	int needs_age = rule->older_than_ms >= 0 || rule->newer_than_ms >= 0;
	int64_t age_s = 0, age_ms = 0;
	char age[32] = "";

	if (needs_age) {
		if (vm->age_source == VS_AGE_NONE ||
		    vm->created == VS_TIME_UNKNOWN ||
		    __builtin_sub_overflow(now, vm->created, &age_s)) {
			*unknown_age = 1;
			vs_buf_addf(why,
				    "unknown creation time (rule '%s' needs "
				    "%s %s)",
				    rule->name,
				    rule->older_than_ms >= 0 ? "older_than"
							     : "newer_than",
				    rule->older_than_ms >= 0 ? c->older
							     : c->newer);
			return 0;
		}
		if (__builtin_mul_overflow(age_s, 1000, &age_ms))
			age_ms = age_s > 0 ? INT64_MAX : INT64_MIN;
		vs_report_format_age(age, sizeof(age), age_s);
		/* Say when the age is only vmsweep's first sighting. */
		if (vm->age_source == VS_AGE_FIRST_SEEN)
			snprintf(age + strlen(age), sizeof(age) - strlen(age),
				 " (first seen)");
		if (rule->older_than_ms >= 0 &&
		    !(age_ms > rule->older_than_ms)) {
			vs_buf_addf(why,
				    "rule '%s': age %s is not over "
				    "older_than %s",
				    rule->name, age, c->older);
			return 0;
		}
		if (rule->newer_than_ms >= 0 &&
		    !(age_ms < rule->newer_than_ms)) {
			vs_buf_addf(why,
				    "rule '%s': age %s is not under "
				    "newer_than %s",
				    rule->name, age, c->newer);
			return 0;
		}
	}
	if (c->power && !(c->power & power_bit(vm->power))) {
		vs_buf_addf(why, "rule '%s': power state %s (needs ",
			    rule->name, power_name(vm->power));
		add_power_list(why, c->power);
		vs_buf_adds(why, ")");
		return 0;
	}
	if (!sel)
		return 1;
	vs_buf_addf(sel, "rule '%s': name matches %s", rule->name, pat);
	if (rule->older_than_ms >= 0)
		vs_buf_addf(sel, ", age %s > %s", age, c->older);
	if (rule->newer_than_ms >= 0)
		vs_buf_addf(sel, ", age %s < %s", age, c->newer);
	if (c->power)
		vs_buf_addf(sel, ", power %s", power_name(vm->power));
	return 1;
}

/* ------------------------------------------------------------------ */
/* Protections.                                                         */

/* Characters that continue a marker token ("vmsweep:keeper" is not one). */
static int token_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-' || c == ':';
}

/*
 * The next occurrence of marker in text (caseless) at or after *from that
 * stands as a token of its own; NULL when there is none.  *from moves on.
 */
static const char *find_token(const char *text, const char **from,
			      const char *marker)
{
	size_t ml = strlen(marker);
	const char *hit;

	while ((hit = strcasestr(*from, marker)) != NULL) {
		*from = hit + 1;
		if (hit > text && token_char((unsigned char)hit[-1]))
			continue;
		if (token_char((unsigned char)hit[ml]))
			continue;
		return hit;
	}
	return NULL;
}

static int has_prefix_ci(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* One expiry value, from where, folded into the running verdict. */
struct expiry {
	int found, bad;
	int64_t until;
	char bad_value[EXPIRY_MAX + 1];
	const char *bad_where;
};

static void expiry_consider(struct expiry *e, const char *value, size_t len,
			    const char *where)
{
	char v[EXPIRY_MAX + 1];
	int64_t t;

	while (len && (*value == ' ' || *value == '\t')) {
		value++;
		len--;
	}
	while (len && (value[len - 1] == ' ' || value[len - 1] == '\t'))
		len--;
	snprintf(v, sizeof(v), "%.*s",
		 (int)(len > EXPIRY_MAX ? EXPIRY_MAX : len), value);
	if (len > EXPIRY_MAX || vs_time_parse(v, &t) != 0) {
		if (!e->bad) {
			e->bad = 1;
			memcpy(e->bad_value, v, sizeof(v));
			e->bad_where = where;
		}
		return;
	}
	/* Several markers: the latest date wins; it protects the longest. */
	if (!e->found || t > e->until)
		e->until = t;
	e->found = 1;
}

static void expiry_scan(struct expiry *e, const struct vs_vm *vm,
			const char *marker)
{
	size_t ml = strlen(marker), i, n;
	const char *from, *hit, *v;

	for (i = 0; i < vm->n_tags; i++) {
		const char *tag = vm->tags[i];

		if (!tag || !has_prefix_ci(tag, marker))
			continue;
		if (tag[ml] == '=')
			expiry_consider(e, tag + ml + 1, strlen(tag + ml + 1),
					"tag");
		else if (tag[ml] == '\0')
			expiry_consider(e, "", 0, "tag");
	}
	for (i = 0; i < vm->n_metadata; i++) {
		const struct vs_kv *kv = &vm->metadata[i];

		if (kv->key && strcasecmp(kv->key, marker) == 0)
			expiry_consider(e, kv->value ? kv->value : "",
					kv->value ? strlen(kv->value) : 0,
					"metadata");
	}
	if (!vm->description)
		return;
	/* "vmsweep:expires=2026-12-01T00:00:00Z" in free text. */
	from = vm->description;
	while ((hit = strcasestr(from, marker)) != NULL) {
		from = hit + 1;
		if (hit > vm->description && token_char((unsigned char)hit[-1]))
			continue;
		if (hit[ml] != '=') {
			if (!token_char((unsigned char)hit[ml]))
				expiry_consider(e, "", 0, "description");
			continue;
		}
		v = hit + ml + 1;
		for (n = 0; v[n] && v[n] != ' ' && v[n] != '\t' &&
			    v[n] != '\n' && v[n] != '\r';
		     n++)
			;
		/* Sentence punctuation after the date is not part of it. */
		while (n && strchr(".,;)]\"'", v[n - 1]))
			n--;
		expiry_consider(e, v, n, "description");
	}
}

/* ------------------------------------------------------------------ */
/* Traces, for vmsweep explain.                                         */

void vs_select_trace_release(struct vs_select_trace *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->n; i++) {
		free(t->steps[i].name);
		free(t->steps[i].text);
	}
	free(t->steps);
	free(t->reason);
	memset(t, 0, sizeof(*t));
}

/* Record one step; a step lost to memory only sets t->oom. */
static void trace_add(struct vs_select_trace *t, enum vs_step_kind kind,
		      const char *name, int hit, const char *text)
{
	struct vs_select_step *st;
	size_t na;

	if (!t)
		return;
	if (t->n == t->alloc) {
		na = t->alloc ? 2 * t->alloc : 8;
		st = realloc(t->steps, na * sizeof(*st));
		if (!st) {
			t->oom = 1;
			return;
		}
		t->steps = st;
		t->alloc = na;
	}
	st = &t->steps[t->n];
	st->kind = kind;
	st->hit = hit;
	st->name = strdup(name);
	st->text = strdup(text ? text : "");
	if (!st->name || !st->text) {
		free(st->name);
		free(st->text);
		t->oom = 1;
		return;
	}
	t->n++;
}

/* ------------------------------------------------------------------ */
/* Protections.                                                         */

/*
 * Walks the protections.  Without a trace the first one that applies
 * ends the walk (a plan needs one reason); with a trace every one is
 * checked and recorded, and the first still gives the reason.
 */
struct pwalk {
	struct vs_buf *why; /* the first protection's reason */
	struct vs_select_trace *trace;
	int n; /* protections that applied */
};

static int prot_hit(struct pwalk *w, const char *kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Returns 1 when the walk should stop. */
static int prot_hit(struct pwalk *w, const char *kind, const char *fmt, ...)
{
	struct vs_buf line;
	va_list ap;

	vs_buf_init(&line, REASON_CAP);
	va_start(ap, fmt);
	vs_buf_vaddf(&line, fmt, ap);
	va_end(ap);
	if (w->n == 0)
		vs_buf_adds(w->why, line.s ? line.s : "");
	trace_add(w->trace, VS_STEP_PROTECTION, kind, 1, line.s);
	vs_buf_release(&line);
	w->n++;
	return w->trace == NULL;
}

static int names_protect(struct pwalk *w, const char *kind, char *const *globs,
			 size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (vs_glob_match(globs[i], name, 0))
			return prot_hit(w, kind,
					"protected by name pattern '%s'",
					globs[i]);
	return 0;
}

static int marker_protects(struct pwalk *w, const char *marker,
			   const struct vs_vm *vm)
{
	const char *from = vm->description;
	size_t i;

	for (i = 0; i < vm->n_tags; i++)
		if (vm->tags[i] && strcasecmp(vm->tags[i], marker) == 0)
			return prot_hit(w, "protect.marker",
					"protected by marker '%s' (tag)",
					marker);
	/* Any value counts, even "false": a marker means intent. */
	for (i = 0; i < vm->n_metadata; i++)
		if (vm->metadata[i].key &&
		    strcasecmp(vm->metadata[i].key, marker) == 0)
			return prot_hit(w, "protect.marker",
					"protected by marker '%s' (metadata)",
					marker);
	if (from && find_token(vm->description, &from, marker))
		return prot_hit(w, "protect.marker",
				"protected by marker '%s' (description)",
				marker);
	return 0;
}

static int expiry_protects(struct pwalk *w, const char *marker,
			   const struct vs_vm *vm, int64_t now)
{
	struct expiry e;
	char when[32], line[160];

	memset(&e, 0, sizeof(e));
	expiry_scan(&e, vm, marker);
	if (e.bad)
		return prot_hit(w, "protect.expiry_marker",
				"protected: unparsable expiry '%s' (%s '%s')",
				e.bad_value, e.bad_where, marker);
	if (!e.found)
		return 0;
	vs_time_format(when, sizeof(when), e.until);
	if (e.until > now)
		return prot_hit(w, "protect.expiry_marker",
				"protected until %s by '%s'", when, marker);
	/* Explain shows an expiry that no longer protects, too. */
	snprintf(line, sizeof(line), "expiry %s by '%s' has passed", when,
		 marker);
	trace_add(w->trace, VS_STEP_PROTECTION, "protect.expiry_marker", 0,
		  line);
	return 0;
}

/* 1 with the (first) reason in why when anything protects vm. */
static int protected_by(const struct vs_config *cfg,
			const struct vs_config_provider *prov,
			const struct vs_vm *vm, const char *name, int64_t now,
			struct vs_buf *why, struct vs_select_trace *trace)
{
	struct pwalk w = {why, trace, 0};

	if (names_protect(&w, "protect.names", cfg->protect_names,
			  cfg->n_protect_names, name))
		goto out;
	if (prov &&
	    names_protect(&w, "providers[].protect_names", prov->protect_names,
			  prov->n_protect_names, name))
		goto out;
	if (cfg->protect_marker && *cfg->protect_marker &&
	    marker_protects(&w, cfg->protect_marker, vm))
		goto out;
	if (cfg->expiry_marker && *cfg->expiry_marker &&
	    expiry_protects(&w, cfg->expiry_marker, vm, now))
		goto out;
	if (vm->platform_protection)
		prot_hit(&w, "platform", "protected by the platform: %s",
			 *vm->platform_protection ? vm->platform_protection
						  : "protected");
out:
	return w.n > 0;
}

int vs_select_protected(const struct vs_config *cfg,
			const struct vs_config_provider *prov,
			const struct vs_vm *vm, int64_t now, char *why,
			size_t sz)
{
	struct vs_buf b;
	int rc;

	vs_buf_init(&b, REASON_CAP);
	rc = protected_by(cfg, prov, vm, vm->name ? vm->name : "", now, &b,
			  NULL);
	if (why && sz)
		snprintf(why, sz, "%s", rc && b.s ? b.s : "");
	vs_buf_release(&b);
	return rc;
}

/* ------------------------------------------------------------------ */
/* One VM against every rule and protection.                           */

/* Rules ready for a provider, and room for one VM's evaluation. */
struct evalctx {
	const struct vs_config *cfg;
	struct crule *cr;
	unsigned char *scope;	/* per rule: applies to this provider */
	unsigned char *matched; /* per rule: its pattern matched the name */
	unsigned char *chosen;	/* per rule: it selects the VM */
	char (*pats)[160];	/* per rule: the pattern that matched */
	struct vs_buf sel, why, one;
	int unknown; /* kept (also) because an age was unknown */
};

static void rule_trace_miss(struct evalctx *e, size_t j, const char *prov,
			    const char *name, struct vs_select_trace *t)
{
	const struct vs_config_rule *rule = &e->cfg->rules[j];
	struct vs_buf b;
	size_t i;

	vs_buf_init(&b, REASON_CAP);
	if (!e->scope[j]) {
		vs_buf_addf(&b, "not applied to provider '%s' (providers: ",
			    prov ? prov : "");
		for (i = 0; i < rule->n_providers; i++)
			vs_buf_addf(&b, "%s%s", i ? ", " : "",
				    rule->providers[i]);
		vs_buf_adds(&b, ")");
	} else {
		vs_buf_addf(&b, "name '%s' matches none of ", name);
		for (i = 0; i < rule->n_match; i++)
			vs_buf_addf(&b, "%s'%s'", i ? ", " : "",
				    rule->match[i]);
		for (i = 0; i < rule->n_regex; i++)
			vs_buf_addf(&b, "%sregex '%s'",
				    i || rule->n_match ? ", " : "",
				    rule->regex[i]);
		if (!rule->n_match && !rule->n_regex)
			vs_buf_adds(&b, "(no pattern)");
		vs_buf_addf(&b, "%s",
			    rule->case_sensitive ? "" : " (ignoring case)");
	}
	trace_add(t, VS_STEP_RULE, rule->name, 0, b.s);
	vs_buf_release(&b);
}

/*
 * The one evaluator: plan and explain both come here.  Returns the
 * verdict; e->sel holds the reason of a selected VM (the first rule that
 * selects it) and e->chosen[] every rule that does; e->why the reason of
 * a kept one.  With a trace, every rule and every protection is recorded
 * too, and the rules are evaluated even for a protected VM (to show what
 * the protection saved it from); the verdict is the same either way.
 */
static enum vs_verdict evaluate(struct evalctx *e,
				const struct vs_config_provider *prov,
				const struct vs_vm *vm, int64_t now,
				struct vs_select_trace *t)
{
	const char *pname = prov ? prov->name : NULL;
	const char *name = vm->name ? vm->name : "";
	size_t j, n_rules = e->cfg->n_rules, n_matched = 0;
	int prot, chosen = 0, unknown = 0;

	vs_buf_reset(&e->sel);
	vs_buf_reset(&e->why);
	e->unknown = 0;
	for (j = 0; j < n_rules; j++) {
		e->chosen[j] = 0;
		e->matched[j] =
			e->scope[j] && rule_match(&e->cr[j], name, e->pats[j],
						  sizeof(e->pats[j]));
		n_matched += e->matched[j];
	}
	if (!n_matched && !t)
		return VS_VERDICT_IGNORED;
	prot = protected_by(e->cfg, prov, vm, name, now, &e->why, t);
	if (prot && !t)
		return VS_VERDICT_KEPT;
	for (j = 0; j < n_rules; j++) {
		if (!e->matched[j]) {
			if (t)
				rule_trace_miss(e, j, pname, name, t);
			continue;
		}
		vs_buf_reset(&e->one);
		if (!rule_eval(&e->cr[j], vm, now, e->pats[j], &e->one, &e->one,
			       &unknown)) {
			trace_add(t, VS_STEP_RULE, e->cfg->rules[j].name, 0,
				  e->one.s);
			if (prot)
				continue;
			if (e->why.len)
				vs_buf_adds(&e->why, "; ");
			vs_buf_adds(&e->why, e->one.s ? e->one.s : "");
			continue;
		}
		trace_add(t, VS_STEP_RULE, e->cfg->rules[j].name, 1, e->one.s);
		e->chosen[j] = 1;
		if (!chosen)
			vs_buf_adds(&e->sel, e->one.s ? e->one.s : "");
		chosen = 1;
	}
	if (!n_matched)
		return VS_VERDICT_IGNORED;
	if (prot)
		return VS_VERDICT_KEPT;
	if (chosen)
		return VS_VERDICT_SELECTED;
	e->unknown = unknown;
	return VS_VERDICT_KEPT;
}

static void evalctx_release(struct evalctx *e)
{
	crules_free(e->cr, e->cfg ? e->cfg->n_rules : 0);
	free(e->scope);
	free(e->matched);
	free(e->chosen);
	free(e->pats);
	vs_buf_release(&e->sel);
	vs_buf_release(&e->why);
	vs_buf_release(&e->one);
	memset(e, 0, sizeof(*e));
}

/* Compile cfg's rules into e.  VS_ERR with err filled on failure. */
static int evalctx_init(struct evalctx *e, const struct vs_config *cfg,
			struct vs_error *err)
{
	size_t i, n = cfg->n_rules ? cfg->n_rules : 1;

	memset(e, 0, sizeof(*e));
	e->cfg = cfg;
	vs_buf_init(&e->sel, REASON_CAP);
	vs_buf_init(&e->why, REASON_CAP);
	vs_buf_init(&e->one, REASON_CAP);
	e->cr = calloc(n, sizeof(*e->cr));
	e->scope = calloc(n, 1);
	e->matched = calloc(n, 1);
	e->chosen = calloc(n, 1);
	e->pats = calloc(n, sizeof(*e->pats));
	if (!e->cr || !e->scope || !e->matched || !e->chosen || !e->pats)
		return vs_error_set(err, VS_EC_INTERNAL, 0, 0, "out of memory");
	for (i = 0; i < cfg->n_rules; i++)
		if (crule_prepare(&e->cr[i], &cfg->rules[i], err))
			return VS_ERR;
	return VS_OK;
}

static void evalctx_scope(struct evalctx *e, const char *prov)
{
	size_t j;

	for (j = 0; j < e->cfg->n_rules; j++)
		e->scope[j] =
			(unsigned char)rule_in_scope(&e->cfg->rules[j], prov);
}

/* ------------------------------------------------------------------ */

static int select_one(struct vs_report *plan, const struct vs_config *cfg,
		      const struct vs_inventory *inv, size_t pidx,
		      struct evalctx *e, int64_t now, struct vs_error *err)
{
	const char *prov = inv->provider ? inv->provider->name : NULL;
	struct vs_report_vm *v;
	size_t i, j, n_unknown = 0;

	evalctx_scope(e, prov);
	for (i = 0; i < inv->vms.n; i++) {
		const struct vs_vm *vm = &inv->vms.items[i];

		switch (evaluate(e, inv->provider, vm, now, NULL)) {
		case VS_VERDICT_IGNORED:
			break;
		case VS_VERDICT_KEPT:
			n_unknown += e->unknown;
			if (!vs_report_add_kept(plan, prov, vm, e->why.s))
				goto oom;
			break;
		case VS_VERDICT_SELECTED:
			v = vs_report_add_vm(plan, prov, vm, pidx);
			if (!v)
				goto oom;
			for (j = 0; j < cfg->n_rules; j++)
				if (e->chosen[j] &&
				    vs_report_vm_add_rule(v,
							  cfg->rules[j].name))
					goto oom;
			v->reason = strdup(e->sel.s ? e->sel.s : "");
			if (!v->reason)
				goto oom;
			break;
		}
	}
	if (n_unknown)
		vs_log(VS_LOG_WARN, prov,
		       "%zu VM%s matched a rule but %s no known creation "
		       "time; kept (age rules never select them)",
		       n_unknown, n_unknown == 1 ? "" : "s",
		       n_unknown == 1 ? "has" : "have");
	return VS_OK;
oom:
	return vs_error_set(err, VS_EC_INTERNAL, 0, 0, "out of memory");
}

int vs_select(struct vs_report *plan, const struct vs_config *cfg,
	      const struct vs_inventory *inv, size_t n_inv, int64_t now,
	      struct vs_error *err)
{
	struct evalctx e;
	struct vs_report_provider *p;
	size_t i;
	int ret = VS_ERR;

	if (evalctx_init(&e, cfg, err))
		goto out;
	if (!plan->created_ms)
		plan->created_ms = now * 1000;
	for (i = 0; i < n_inv; i++) {
		const char *name = inv[i].provider ? inv[i].provider->name : "";
		const char *type = inv[i].type	     ? inv[i].type
				   : inv[i].provider ? inv[i].provider->type
						     : "";

		p = vs_report_add_provider(plan, name, type);
		if (!p) {
			vs_error_set(err, VS_EC_INTERNAL, 0, 0,
				     "out of memory");
			goto out;
		}
		if (!inv[i].ok) {
			p->listed = -1;
			p->error = inv[i].error;
			/* A failed listing must show as one, cause or not. */
			if (p->error.cls == VS_EC_NONE)
				vs_error_set(&p->error, VS_EC_INTERNAL, 0, 0,
					     "listing failed");
			continue;
		}
		p->listed = (long)inv[i].vms.n;
		if (select_one(plan, cfg, &inv[i], plan->n_providers - 1, &e,
			       now, err))
			goto out;
	}
	vs_report_tally(plan);
	ret = 0;
out:
	evalctx_release(&e);
	return ret;
}

int vs_select_explain(struct vs_select_trace *t, const struct vs_config *cfg,
		      const struct vs_config_provider *prov,
		      const struct vs_vm *vm, int64_t now, struct vs_error *err)
{
	struct evalctx e;
	int ret = VS_ERR;

	memset(t, 0, sizeof(*t));
	if (evalctx_init(&e, cfg, err))
		goto out;
	evalctx_scope(&e, prov ? prov->name : NULL);
	t->verdict = evaluate(&e, prov, vm, now, t);
	if (t->verdict != VS_VERDICT_IGNORED) {
		t->reason = strdup(t->verdict == VS_VERDICT_SELECTED && e.sel.s
					   ? e.sel.s
				   : e.why.s ? e.why.s
					     : "");
		if (!t->reason)
			t->oom = 1;
	}
	if (t->oom) {
		vs_error_set(err, VS_EC_INTERNAL, 0, 0, "out of memory");
		vs_select_trace_release(t);
		goto out;
	}
	ret = VS_OK;
out:
	evalctx_release(&e);
	return ret;
}
