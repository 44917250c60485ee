/*
 * test_select.c - rules select, protections always win, unknown ages are
 * kept, and every kept VM says why.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "select.h"
#include "timeutil.h"

#define S(x) ((char *)(x))
#define H    (3600LL)
#define NOW  ((int64_t)1780000000) /* 2026-05-28T20:26:40Z */

/* One configuration with up to four rules and two providers. */
struct fx {
	struct vs_config cfg;
	struct vs_config_rule rules[4];
	struct vs_config_provider provs[2];
	struct vs_inventory inv[2];
	struct vs_report plan;
};

static void rule_init(struct vs_config_rule *r, const char *name)
{
	memset(r, 0, sizeof(*r));
	r->name = S(name);
	r->case_sensitive = 1;
	r->older_than_ms = -1;
	r->newer_than_ms = -1;
}

static char *g_test_glob[] = {S("test_*")};
static char *g_jenkins_glob[] = {S("jenkins-*")};
static char *g_ci_regex[] = {S("^ci-[0-9]+$")};
static char *g_power_off[] = {S("off")};
static char *g_osp_only[] = {S("osp-lab")};
static char *g_keep_globs[] = {S("*-keep")};
static char *g_infra_globs[] = {S("infra-*")};

/* cfg with rule 0 = "ci-leftovers": test_* older than 4h; 2 providers. */
static void fx_init(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	f->cfg.rules = f->rules;
	f->cfg.n_rules = 1;
	f->cfg.providers = f->provs;
	f->cfg.n_providers = 2;
	f->cfg.protect_marker = S("vmsweep:keep");
	f->cfg.expiry_marker = S("vmsweep:expires");
	f->cfg.protect_names = g_keep_globs;
	f->cfg.n_protect_names = 1;
	rule_init(&f->rules[0], "ci-leftovers");
	f->rules[0].match = g_test_glob;
	f->rules[0].n_match = 1;
	f->rules[0].older_than_ms = 4 * H * 1000;
	f->provs[0].name = S("vc-lab");
	f->provs[0].type = S("vmware");
	f->provs[0].protect_names = g_infra_globs;
	f->provs[0].n_protect_names = 1;
	f->provs[1].name = S("osp-lab");
	f->provs[1].type = S("osp");
	f->inv[0].provider = &f->provs[0];
	f->inv[0].type = "vmware";
	f->inv[0].ok = 1;
	f->inv[1].provider = &f->provs[1];
	f->inv[1].type = "osp";
	f->inv[1].ok = 1;
	vs_report_init(&f->plan);
	f->plan.is_plan = 1;
}

static void fx_release(struct fx *f)
{
	vs_vm_list_release(&f->inv[0].vms);
	vs_vm_list_release(&f->inv[1].vms);
	vs_report_release(&f->plan);
}

static struct vs_vm *vm_add(struct fx *f, int which, const char *id,
			    const char *name, int64_t age_s)
{
	struct vs_vm *vm = vs_vm_list_push(&f->inv[which].vms);

	assert_non_null(vm);
	vm->id = strdup(id);
	vm->name = strdup(name);
	if (age_s != VS_TIME_UNKNOWN) {
		vm->created = NOW - age_s;
		vm->age_source = VS_AGE_CREATED;
	}
	vm->power = VS_POWER_ON;
	return vm;
}

static void vm_tag(struct vs_vm *vm, const char *tag)
{
	vm->tags = realloc(vm->tags, (vm->n_tags + 1) * sizeof(*vm->tags));
	assert_non_null(vm->tags);
	vm->tags[vm->n_tags++] = strdup(tag);
}

static void vm_meta(struct vs_vm *vm, const char *k, const char *v)
{
	vm->metadata = realloc(vm->metadata,
			       (vm->n_metadata + 1) * sizeof(*vm->metadata));
	assert_non_null(vm->metadata);
	vm->metadata[vm->n_metadata].key = strdup(k);
	vm->metadata[vm->n_metadata].value = strdup(v);
	vm->n_metadata++;
}

static void run(struct fx *f, size_t n_inv)
{
	struct vs_error err;

	vs_error_clear(&err);
	assert_int_equal(vs_select(&f->plan, &f->cfg, f->inv, n_inv, NOW, &err),
			 0);
	assert_int_equal(err.cls, VS_EC_NONE);
}

static const struct vs_report_vm *find_sel(const struct fx *f, const char *id)
{
	size_t i;

	for (i = 0; i < f->plan.n_vms; i++)
		if (strcmp(f->plan.vms[i].id, id) == 0)
			return &f->plan.vms[i];
	return NULL;
}

static const struct vs_report_kept *find_kept(const struct fx *f,
					      const char *id)
{
	size_t i;

	for (i = 0; i < f->plan.n_kept; i++)
		if (strcmp(f->plan.kept[i].id, id) == 0)
			return &f->plan.kept[i];
	return NULL;
}

/* Kept, not selected, with every fragment in the reason. */
static void assert_kept(const struct fx *f, const char *id, const char *frag1,
			const char *frag2)
{
	const struct vs_report_kept *k = find_kept(f, id);

	if (!k || find_sel(f, id))
		fail_msg("%s: expected kept, not selected", id);
	if (frag1 && !strstr(k->reason, frag1))
		fail_msg("%s: reason '%s' lacks '%s'", id, k->reason, frag1);
	if (frag2 && !strstr(k->reason, frag2))
		fail_msg("%s: reason '%s' lacks '%s'", id, k->reason, frag2);
}

/* ------------------------------------------------------------------ */

static void test_glob(void **state)
{
	char longname[4096];

	(void)state;
	assert_true(vs_glob_match("test_*", "test_vm_1", 1));
	assert_false(vs_glob_match("test_*", "xtest_vm_1", 1));
	assert_true(vs_glob_match("*", "", 1));
	assert_true(vs_glob_match("", "", 1));
	assert_false(vs_glob_match("", "a", 1));
	assert_true(vs_glob_match("a?c", "abc", 1));
	assert_false(vs_glob_match("a?c", "ac", 1));
	assert_true(vs_glob_match("*-keep", "db-keep", 1));
	assert_false(vs_glob_match("*-keep", "db-keeper", 1));
	assert_true(vs_glob_match("vm[0-9]", "vm7", 1));
	assert_false(vs_glob_match("vm[0-9]", "vmx", 1));
	assert_true(vs_glob_match("vm[!0-9]", "vmx", 1));
	assert_false(vs_glob_match("vm[!0-9]", "vm3", 1));
	assert_true(vs_glob_match("vm[^0-9]", "vmx", 1));
	assert_true(vs_glob_match("[]x]", "]", 1));
	assert_true(vs_glob_match("a[bc", "a[bc", 1)); /* unclosed: literal */
	assert_true(vs_glob_match("a\\*b", "a*b", 1));
	assert_false(vs_glob_match("a\\*b", "axb", 1));
	assert_true(vs_glob_match("*a*b*c", "xxaxxbxxc", 1));
	assert_false(vs_glob_match("*a*b*c", "xxaxxbxx", 1));
	/* Case. */
	assert_false(vs_glob_match("Test_*", "test_1", 1));
	assert_true(vs_glob_match("Test_*", "TEST_1", 0));
	assert_true(vs_glob_match("vm[a-c]", "VMB", 0));
	assert_false(vs_glob_match("vm[a-c]", "VMB", 1));
	assert_false(vs_glob_match(NULL, "a", 1));
	/* A pathological pattern stays linear-ish, not exponential. */
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_false(vs_glob_match("*a*a*a*a*a*a*a*a*a*b", longname, 1));
}

static void test_age_rule(void **state)
{
	struct fx f;
	const struct vs_report_vm *v;

	(void)state;
	fx_init(&f);
	vm_add(&f, 0, "vm-1", "test_old", 5 * H + 12 * 60);
	vm_add(&f, 0, "vm-2", "test_young", 2 * H + 3 * 60);
	vm_add(&f, 0, "vm-3", "prod-db", 900 * H);
	vm_add(&f, 0, "vm-4", "test_exact", 4 * H); /* not over 4h */
	run(&f, 1);
	assert_int_equal(f.plan.n_vms, 1);
	v = find_sel(&f, "vm-1");
	assert_non_null(v);
	assert_string_equal(v->reason, "rule 'ci-leftovers': name matches "
				       "'test_*', age 5h12m > 4h");
	assert_int_equal(v->n_rules, 1);
	assert_string_equal(v->rules[0], "ci-leftovers");
	assert_string_equal(v->provider, "vc-lab");
	assert_string_equal(v->name, "test_old");
	assert_int_equal(v->created, NOW - 5 * H - 12 * 60);
	assert_int_equal(v->age_source, VS_AGE_CREATED);
	assert_ptr_equal(v->vm, &f.inv[0].vms.items[0]);
	assert_int_equal(v->provider_index, 0);
	assert_int_equal(v->outcome, VS_OUT_NONE);
	assert_kept(&f, "vm-2", "age 2h3m", "older_than 4h");
	assert_kept(&f, "vm-4", "age 4h0m", "older_than 4h");
	/* Matched by no rule: neither selected nor kept, only listed. */
	assert_null(find_sel(&f, "vm-3"));
	assert_null(find_kept(&f, "vm-3"));
	assert_int_equal(f.plan.n_providers, 1);
	assert_string_equal(f.plan.providers[0].name, "vc-lab");
	assert_string_equal(f.plan.providers[0].type, "vmware");
	assert_int_equal(f.plan.providers[0].listed, 4);
	assert_int_equal(f.plan.providers[0].selected, 1);
	assert_int_equal(f.plan.providers[0].kept, 2);
	assert_int_equal(f.plan.created_ms, NOW * 1000);
	fx_release(&f);
}

static void test_unknown_age_never_selected(void **state)
{
	struct fx f;
	struct vs_vm *vm;
	char logpath[] = "/tmp/test_select_log.XXXXXX", text[512];
	struct vs_log_opts lo = {VS_LOG_WARN, VS_LOG_TEXT, -1, NULL, 0};
	struct vs_error err;
	ssize_t n;
	int fd;

	(void)state;
	fd = mkstemp(logpath);
	assert_true(fd >= 0);
	lo.fd = fd;
	vs_error_clear(&err);
	assert_int_equal(vs_log_setup(&lo, &err), 0);

	fx_init(&f);
	vm_add(&f, 0, "vm-1", "test_a", VS_TIME_UNKNOWN);
	/* A time without a source is not a known age either. */
	vm = vm_add(&f, 0, "vm-2", "test_b", 900 * H);
	vm->age_source = VS_AGE_NONE;
	/* First-seen ages count. */
	vm = vm_add(&f, 0, "vm-3", "test_c", 900 * H);
	vm->age_source = VS_AGE_FIRST_SEEN;
	run(&f, 1);
	assert_kept(&f, "vm-1",
		    "unknown creation time (rule 'ci-leftovers' needs "
		    "older_than 4h)",
		    NULL);
	assert_kept(&f, "vm-2", "unknown creation time", NULL);
	assert_non_null(find_sel(&f, "vm-3"));
	assert_int_equal(find_sel(&f, "vm-3")->age_source, VS_AGE_FIRST_SEEN);

	vs_log_teardown();
	n = pread(fd, text, sizeof(text) - 1, 0);
	assert_true(n > 0);
	text[n] = '\0';
	close(fd);
	unlink(logpath);
	assert_non_null(strstr(text, "vc-lab"));
	assert_non_null(strstr(text, "2 VMs matched a rule but have no known "
				     "creation time"));
	/* Once per provider, not once per VM. */
	assert_null(strstr(strstr(text, "2 VMs") + 1, "2 VMs"));
	fx_release(&f);

	/* A rule without an age test takes an unknown-age VM. */
	fx_init(&f);
	f.rules[0].older_than_ms = -1;
	vm_add(&f, 0, "vm-1", "test_a", VS_TIME_UNKNOWN);
	run(&f, 1);
	assert_non_null(find_sel(&f, "vm-1"));
	assert_string_equal(find_sel(&f, "vm-1")->reason,
			    "rule 'ci-leftovers': name matches 'test_*'");
	fx_release(&f);
}

/*
 * Every protection against every kind of rule: the VM would be selected
 * without the protection, and is kept with the protection's reason.
 */
enum prot {
	P_GLOBAL_NAME,
	P_PROVIDER_NAME,
	P_TAG,
	P_TAG_CASE,
	P_META,
	P_META_FALSE,
	P_DESC,
	P_EXP_TAG,
	P_EXP_META,
	P_EXP_DESC,
	P_EXP_DATE_ONLY,
	P_EXP_GARBAGE_TAG,
	P_EXP_GARBAGE_META,
	P_EXP_GARBAGE_DESC,
	P_EXP_EMPTY,
	P_PLATFORM,
	P_COUNT
};

static const char *const prot_frag[P_COUNT] = {
	[P_GLOBAL_NAME] = "protected by name pattern '",
	[P_PROVIDER_NAME] = "protected by name pattern '",
	[P_TAG] = "protected by marker 'vmsweep:keep' (tag)",
	[P_TAG_CASE] = "protected by marker 'vmsweep:keep' (tag)",
	[P_META] = "protected by marker 'vmsweep:keep' (metadata)",
	[P_META_FALSE] = "protected by marker 'vmsweep:keep' (metadata)",
	[P_DESC] = "protected by marker 'vmsweep:keep' (description)",
	[P_EXP_TAG] = "protected until 2026-12-01T00:00:00Z by "
		      "'vmsweep:expires'",
	[P_EXP_META] = "protected until 2026-12-01T10:30:00Z by "
		       "'vmsweep:expires'",
	[P_EXP_DESC] = "protected until 2026-12-01T00:00:00Z by "
		       "'vmsweep:expires'",
	[P_EXP_DATE_ONLY] = "protected until 2026-12-01T00:00:00Z",
	[P_EXP_GARBAGE_TAG] = "unparsable expiry 'next-week'",
	[P_EXP_GARBAGE_META] = "unparsable expiry '2026-13-01'",
	[P_EXP_GARBAGE_DESC] = "unparsable expiry 'soon'",
	[P_EXP_EMPTY] = "unparsable expiry ''",
	[P_PLATFORM] = "protected by the platform: locked",
};

enum rkind { R_AGE, R_REGEX, R_POWER, R_NEWER, R_COUNT };

static void setup_rule(struct fx *f, enum rkind k)
{
	struct vs_config_rule *r = &f->rules[0];

	switch (k) {
	case R_AGE:
		break;
	case R_REGEX:
		r->match = NULL;
		r->n_match = 0;
		r->regex = g_ci_regex;
		r->n_regex = 1;
		break;
	case R_POWER:
		r->older_than_ms = -1;
		r->power_states = g_power_off;
		r->n_power_states = 1;
		break;
	case R_NEWER:
		r->older_than_ms = -1;
		r->newer_than_ms = 1000 * 1000 * H;
		break;
	default:
		break;
	}
}

static void test_protections_beat_rules(void **state)
{
	static char *ci_protect[] = {S("CI-*")};
	struct fx f;
	struct vs_vm *vm;
	int p, k;
	char name[64];

	(void)state;
	for (k = 0; k < R_COUNT; k++) {
		/* Without any protection the rule selects the VM. */
		fx_init(&f);
		setup_rule(&f, (enum rkind)k);
		vm = vm_add(&f, 0, "id", k == R_REGEX ? "ci-1" : "test_vm",
			    30 * 24 * H);
		vm->power = VS_POWER_OFF;
		run(&f, 1);
		if (!find_sel(&f, "id"))
			fail_msg("rule kind %d does not select the bare VM", k);
		fx_release(&f);

		for (p = 0; p < P_COUNT; p++) {
			fx_init(&f);
			setup_rule(&f, (enum rkind)k);
			/* Name protections need a name both match. */
			if (p == P_GLOBAL_NAME)
				snprintf(name, sizeof(name), "%s",
					 k == R_REGEX ? "ci-1"
						      : "test_vm-keep");
			else if (p == P_PROVIDER_NAME)
				snprintf(name, sizeof(name), "%s",
					 k == R_REGEX ? "ci-2" : "test_vm");
			else
				snprintf(name, sizeof(name), "%s",
					 k == R_REGEX ? "ci-3" : "test_vm");
			vm = vm_add(&f, 0, "id", name, 30 * 24 * H);
			vm->power = VS_POWER_OFF;
			switch ((enum prot)p) {
			case P_GLOBAL_NAME:
				/* Caseless, as every protection glob. */
				if (k == R_REGEX)
					f.cfg.protect_names = ci_protect;
				break;
			case P_PROVIDER_NAME:
				if (k == R_REGEX)
					f.provs[0].protect_names[0] = S("ci-*");
				else
					f.provs[0].protect_names[0] =
						S("TEST_*");
				break;
			case P_TAG:
				vm_tag(vm, "vmsweep:keep");
				break;
			case P_TAG_CASE:
				vm_tag(vm, "VMSweep:Keep");
				break;
			case P_META:
				vm_meta(vm, "vmsweep:keep", "true");
				break;
			case P_META_FALSE:
				vm_meta(vm, "vmsweep:keep", "false");
				break;
			case P_DESC:
				vm->description =
					strdup("owner: qa.\nPlease "
					       "vmsweep:keep, thanks");
				break;
			case P_EXP_TAG:
				vm_tag(vm,
				       "vmsweep:expires=2026-12-01T00:00:00Z");
				break;
			case P_EXP_META:
				vm_meta(vm, "vmsweep:expires",
					"2026-12-01T12:30:00+02:00");
				break;
			case P_EXP_DESC:
				vm->description =
					strdup("keep for the demo "
					       "(vmsweep:expires=2026-12-01T00:"
					       "00:00Z).");
				break;
			case P_EXP_DATE_ONLY:
				vm_tag(vm, "vmsweep:expires=2026-12-01");
				break;
			case P_EXP_GARBAGE_TAG:
				vm_tag(vm, "vmsweep:expires=next-week");
				break;
			case P_EXP_GARBAGE_META:
				vm_meta(vm, "vmsweep:expires", "2026-13-01");
				break;
			case P_EXP_GARBAGE_DESC:
				vm->description =
					strdup("vmsweep:expires=soon please");
				break;
			case P_EXP_EMPTY:
				vm_tag(vm, "vmsweep:expires=");
				break;
			case P_PLATFORM:
				vm->platform_protection = strdup("locked");
				break;
			default:
				break;
			}
			run(&f, 1);
			if (!find_kept(&f, "id") || find_sel(&f, "id"))
				fail_msg("protection %d did not beat rule "
					 "kind %d",
					 p, k);
			assert_kept(&f, "id", prot_frag[p], NULL);
			/* Restore the shared pattern array. */
			g_infra_globs[0] = S("infra-*");
			fx_release(&f);
		}
	}
}

static void test_marker_tokens_and_expiry_past(void **state)
{
	struct fx f;
	struct vs_vm *vm;

	(void)state;
	fx_init(&f);
	/* Not whole tokens: no protection. */
	vm = vm_add(&f, 0, "a", "test_a", 30 * H);
	vm->description = strdup("see vmsweep:keeper and xvmsweep:keep");
	vm = vm_add(&f, 0, "b", "test_b", 30 * H);
	vm_tag(vm, "vmsweep:keep-not");
	vm_meta(vm, "owner", "vmsweep:keep"); /* a value, not the key */
	/* Expired markers, everywhere: the rules apply again. */
	vm = vm_add(&f, 0, "c", "test_c", 30 * H);
	vm_tag(vm, "vmsweep:expires=2026-01-01T00:00:00Z");
	vm_meta(vm, "vmsweep:expires", "2025-06-01");
	vm->description = strdup("vmsweep:expires=2024-01-01T00:00:00Z");
	/* One past and one future date: the latest wins. */
	vm = vm_add(&f, 0, "d", "test_d", 30 * H);
	vm_tag(vm, "vmsweep:expires=2026-01-01T00:00:00Z");
	vm_meta(vm, "vmsweep:expires", "2027-01-01T00:00:00Z");
	/* An unreadable date beats a past one. */
	vm = vm_add(&f, 0, "e", "test_e", 30 * H);
	vm_tag(vm, "vmsweep:expires=2026-01-01T00:00:00Z");
	vm_tag(vm, "vmsweep:expires=tomorrow");
	run(&f, 1);
	assert_non_null(find_sel(&f, "a"));
	assert_non_null(find_sel(&f, "b"));
	assert_non_null(find_sel(&f, "c"));
	assert_kept(&f, "d", "protected until 2027-01-01T00:00:00Z", NULL);
	assert_kept(&f, "e", "unparsable expiry 'tomorrow'", NULL);
	fx_release(&f);

	/* Empty markers in the configuration disable them. */
	fx_init(&f);
	f.cfg.protect_marker = S("");
	f.cfg.expiry_marker = NULL;
	vm = vm_add(&f, 0, "a", "test_a", 30 * H);
	vm_tag(vm, "vmsweep:keep");
	vm_tag(vm, "vmsweep:expires=garbage");
	run(&f, 1);
	assert_non_null(find_sel(&f, "a"));
	fx_release(&f);
}

static void test_several_rules(void **state)
{
	struct fx f;
	const struct vs_report_vm *v;
	struct vs_vm *vm;

	(void)state;
	fx_init(&f);
	f.cfg.n_rules = 3;
	rule_init(&f.rules[1], "anything-old");
	f.rules[1].match = g_test_glob;
	f.rules[1].n_match = 1;
	f.rules[1].older_than_ms = 24 * H * 1000;
	rule_init(&f.rules[2], "jenkins");
	f.rules[2].match = g_jenkins_glob;
	f.rules[2].n_match = 1;
	f.rules[2].older_than_ms = 12 * H * 1000;

	vm_add(&f, 0, "both", "test_1", 48 * H);
	vm_add(&f, 0, "first", "test_2", 5 * H);
	vm_add(&f, 0, "j-young", "jenkins-9", 5 * H);
	vm = vm_add(&f, 0, "j-old", "jenkins-10", 13 * H);
	vm->power = VS_POWER_SUSPENDED;
	vm_add(&f, 0, "none", "test_3", 1 * H);
	run(&f, 1);

	v = find_sel(&f, "both");
	assert_non_null(v);
	assert_int_equal(v->n_rules, 2);
	assert_string_equal(v->rules[0], "ci-leftovers");
	assert_string_equal(v->rules[1], "anything-old");
	assert_string_equal(v->reason, "rule 'ci-leftovers': name matches "
				       "'test_*', age 2d0h > 4h");
	v = find_sel(&f, "first");
	assert_non_null(v);
	assert_int_equal(v->n_rules, 1);
	assert_string_equal(v->rules[0], "ci-leftovers");
	assert_kept(&f, "j-young", "rule 'jenkins'", "older_than 12h");
	v = find_sel(&f, "j-old");
	assert_non_null(v);
	assert_string_equal(v->rules[0], "jenkins");
	/* Kept by both rules: both say why. */
	assert_kept(&f, "none", "rule 'ci-leftovers': age 1h0m",
		    "rule 'anything-old': age 1h0m is not over older_than 1d");
	/* Inventory order. */
	assert_string_equal(f.plan.vms[0].id, "both");
	assert_string_equal(f.plan.vms[1].id, "first");
	assert_string_equal(f.plan.vms[2].id, "j-old");
	assert_string_equal(f.plan.kept[0].id, "j-young");
	assert_string_equal(f.plan.kept[1].id, "none");
	fx_release(&f);
}

static void test_regex_and_case(void **state)
{
	static char *bad_regex[] = {S("ci-(")};
	struct fx f;
	struct vs_error err;

	(void)state;
	fx_init(&f);
	f.rules[0].match = NULL;
	f.rules[0].n_match = 0;
	f.rules[0].regex = g_ci_regex;
	f.rules[0].n_regex = 1;
	vm_add(&f, 0, "a", "ci-42", 5 * H);
	vm_add(&f, 0, "b", "ci-42x", 5 * H); /* anchored as written */
	vm_add(&f, 0, "c", "CI-43", 5 * H);
	run(&f, 1);
	assert_non_null(find_sel(&f, "a"));
	assert_string_equal(find_sel(&f, "a")->reason,
			    "rule 'ci-leftovers': name matches regex "
			    "'^ci-[0-9]+$', age 5h0m > 4h");
	assert_null(find_sel(&f, "b"));
	assert_null(find_kept(&f, "b"));
	assert_null(find_sel(&f, "c"));
	fx_release(&f);

	/* case_sensitive: false reaches regexes and globs. */
	fx_init(&f);
	f.rules[0].regex = g_ci_regex;
	f.rules[0].n_regex = 1;
	f.rules[0].case_sensitive = 0;
	vm_add(&f, 0, "c", "CI-43", 5 * H);
	vm_add(&f, 0, "d", "TEST_x", 5 * H);
	run(&f, 1);
	assert_non_null(find_sel(&f, "c"));
	assert_non_null(find_sel(&f, "d"));
	fx_release(&f);

	/* A case-sensitive glob does not take TEST_x. */
	fx_init(&f);
	vm_add(&f, 0, "d", "TEST_x", 5 * H);
	run(&f, 1);
	assert_int_equal(f.plan.n_vms, 0);
	fx_release(&f);

	/* A bad regex is a configuration error naming rule and regex. */
	fx_init(&f);
	f.rules[0].regex = bad_regex;
	f.rules[0].n_regex = 1;
	vm_add(&f, 0, "a", "ci-42", 5 * H);
	vs_error_clear(&err);
	assert_int_equal(vs_select(&f.plan, &f.cfg, f.inv, 1, NOW, &err),
			 VS_ERR);
	assert_int_equal(err.cls, VS_EC_CONFIG);
	assert_non_null(strstr(err.message, "rule 'ci-leftovers'"));
	assert_non_null(strstr(err.message, "'ci-('"));
	fx_release(&f);

	/* A rule with no pattern selects nothing. */
	fx_init(&f);
	f.rules[0].match = NULL;
	f.rules[0].n_match = 0;
	vm_add(&f, 0, "a", "test_a", 50 * H);
	run(&f, 1);
	assert_int_equal(f.plan.n_vms, 0);
	assert_int_equal(f.plan.n_kept, 0);
	fx_release(&f);
}

static void test_power_states(void **state)
{
	static char *bad_power[] = {S("hibernating")};
	struct fx f;
	struct vs_vm *vm;
	struct vs_error err;

	(void)state;
	fx_init(&f);
	f.rules[0].power_states = g_power_off;
	f.rules[0].n_power_states = 1;
	vm = vm_add(&f, 0, "off", "test_off", 5 * H);
	vm->power = VS_POWER_OFF;
	vm_add(&f, 0, "on", "test_on", 5 * H);
	vm = vm_add(&f, 0, "unk", "test_unk", 5 * H);
	vm->power = VS_POWER_UNKNOWN;
	vm = vm_add(&f, 0, "susp", "test_susp", 5 * H);
	vm->power = VS_POWER_SUSPENDED;
	run(&f, 1);
	assert_non_null(find_sel(&f, "off"));
	assert_non_null(strstr(find_sel(&f, "off")->reason, "power off"));
	assert_kept(&f, "on", "power state on", "(needs off)");
	assert_kept(&f, "unk", "power state unknown", "(needs off)");
	assert_kept(&f, "susp", "power state suspended", NULL);
	fx_release(&f);

	fx_init(&f);
	f.rules[0].power_states = bad_power;
	f.rules[0].n_power_states = 1;
	vs_error_clear(&err);
	assert_int_equal(vs_select(&f.plan, &f.cfg, f.inv, 1, NOW, &err),
			 VS_ERR);
	assert_non_null(strstr(err.message, "hibernating"));
	fx_release(&f);
}

static void test_newer_than(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f);
	f.rules[0].older_than_ms = 1 * H * 1000;
	f.rules[0].newer_than_ms = 24 * H * 1000;
	vm_add(&f, 0, "mid", "test_mid", 3 * H);
	vm_add(&f, 0, "old", "test_old", 48 * H);
	vm_add(&f, 0, "new", "test_new", 60);
	run(&f, 1);
	assert_non_null(find_sel(&f, "mid"));
	assert_string_equal(find_sel(&f, "mid")->reason,
			    "rule 'ci-leftovers': name matches 'test_*', "
			    "age 3h0m > 1h, age 3h0m < 1d");
	assert_kept(&f, "old", "age 2d0h is not under newer_than 1d", NULL);
	assert_kept(&f, "new", "age 1m is not over older_than 1h", NULL);
	fx_release(&f);
}

static void test_provider_scope_and_failed_listing(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f);
	f.rules[0].providers = g_osp_only;
	f.rules[0].n_providers = 1;
	vm_add(&f, 0, "vc-1", "test_a", 50 * H);
	vm_add(&f, 1, "osp-1", "test_a", 50 * H);
	vm_add(&f, 1, "osp-2", "test_b", 50 * H);
	run(&f, 2);
	assert_null(find_sel(&f, "vc-1"));
	assert_null(find_kept(&f, "vc-1"));
	assert_non_null(find_sel(&f, "osp-1"));
	assert_string_equal(find_sel(&f, "osp-1")->provider, "osp-lab");
	assert_int_equal(find_sel(&f, "osp-1")->provider_index, 1);
	assert_int_equal(f.plan.n_providers, 2);
	assert_int_equal(f.plan.providers[0].listed, 1);
	assert_int_equal(f.plan.providers[0].selected, 0);
	assert_int_equal(f.plan.providers[1].listed, 2);
	assert_int_equal(f.plan.providers[1].selected, 2);
	fx_release(&f);

	/* A provider that could not be listed shows -1 and why. */
	fx_init(&f);
	vm_add(&f, 1, "osp-1", "test_a", 50 * H);
	f.inv[0].ok = 0;
	vs_error_set(&f.inv[0].error, VS_EC_AUTH, 401, 0,
		     "authentication refused");
	run(&f, 2);
	assert_int_equal(f.plan.providers[0].listed, -1);
	assert_int_equal(f.plan.providers[0].error.cls, VS_EC_AUTH);
	assert_int_equal(f.plan.providers[0].error.http_status, 401);
	assert_string_equal(f.plan.providers[0].error.message,
			    "authentication refused");
	assert_int_equal(f.plan.providers[1].error.cls, VS_EC_NONE);
	assert_int_equal(f.plan.n_vms, 1);
	fx_release(&f);
}

static void test_many_vms_quickly(void **state)
{
	struct fx f;
	struct vs_vm *vm;
	char name[64], id[64];
	int64_t t0, ms;
	size_t i, n = 100000;

	(void)state;
	fx_init(&f);
	f.cfg.n_rules = 3;
	rule_init(&f.rules[1], "jenkins");
	f.rules[1].match = g_jenkins_glob;
	f.rules[1].n_match = 1;
	f.rules[1].older_than_ms = 12 * H * 1000;
	rule_init(&f.rules[2], "ci");
	f.rules[2].regex = g_ci_regex;
	f.rules[2].n_regex = 1;
	for (i = 0; i < n; i++) {
		static const char *const pre[] = {"test_vm_", "jenkins-", "ci-",
						  "prod-db-"};
		snprintf(name, sizeof(name), "%s%zu", pre[i % 4], i);
		snprintf(id, sizeof(id), "vm-%zu", i);
		vm = vm_add(&f, 0, id, name, (int64_t)(i % 48) * H);
		if (i % 10 == 0)
			vm_tag(vm, "vmsweep:keep");
	}
	t0 = vs_time_mono_ms();
	run(&f, 1);
	ms = vs_time_mono_ms() - t0;
	print_message("selected %zu, kept %zu of %zu in %lld ms\n",
		      f.plan.n_vms, f.plan.n_kept, n, (long long)ms);
	assert_int_equal(f.plan.n_vms + f.plan.n_kept, n / 4 * 3);
	assert_true(f.plan.n_vms > n / 3);
	/* Generous for a sanitizer build on a busy machine. */
	assert_true(ms < 10000);
	fx_release(&f);
}

/* ------------------------------------------------------------------ */
/* Explain: the same evaluator, every step recorded.                    */

static const struct vs_select_step *
step(const struct vs_select_trace *t, enum vs_step_kind kind, const char *name)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (t->steps[i].kind == kind &&
		    strcmp(t->steps[i].name, name) == 0)
			return &t->steps[i];
	fail_msg("no %s step '%s'",
		 kind == VS_STEP_RULE ? "rule" : "protection", name);
	return NULL;
}

static void explain(const struct fx *f, int which, const struct vs_vm *vm,
		    struct vs_select_trace *t)
{
	struct vs_error err;

	vs_error_clear(&err);
	assert_int_equal(vs_select_explain(t, &f->cfg, f->inv[which].provider,
					   vm, NOW, &err),
			 0);
}

static void test_explain_steps(void **state)
{
	struct fx f;
	struct vs_select_trace t;
	const struct vs_select_step *st;
	struct vs_vm *young, *old, *kept, *other;

	(void)state;
	fx_init(&f);
	f.cfg.n_rules = 3;
	rule_init(&f.rules[1], "jenkins");
	f.rules[1].match = g_jenkins_glob;
	f.rules[1].n_match = 1;
	rule_init(&f.rules[2], "osp-off");
	f.rules[2].match = g_test_glob;
	f.rules[2].n_match = 1;
	f.rules[2].power_states = g_power_off;
	f.rules[2].n_power_states = 1;
	f.rules[2].providers = g_osp_only;
	f.rules[2].n_providers = 1;
	young = vm_add(&f, 1, "a", "test_young", 1 * H);
	old = vm_add(&f, 1, "b", "test_old", 9 * H);
	kept = vm_add(&f, 1, "c", "test_db-keep", 9 * H);
	vm_tag(kept, "vmsweep:keep");
	vm_tag(kept, "vmsweep:expires=2020-01-01T00:00:00Z");
	other = vm_add(&f, 0, "d", "prod-db-2", 900 * H);

	explain(&f, 1, young, &t);
	assert_int_equal(t.verdict, VS_VERDICT_KEPT);
	st = step(&t, VS_STEP_RULE, "ci-leftovers");
	assert_false(st->hit);
	assert_non_null(strstr(st->text, "is not over older_than 4h"));
	st = step(&t, VS_STEP_RULE, "jenkins");
	assert_false(st->hit);
	assert_non_null(strstr(st->text, "matches none of 'jenkins-*'"));
	st = step(&t, VS_STEP_RULE, "osp-off");
	assert_non_null(strstr(st->text, "power state on (needs off)"));
	assert_non_null(strstr(t.reason, "is not over older_than 4h"));
	vs_select_trace_release(&t);

	explain(&f, 1, old, &t);
	assert_int_equal(t.verdict, VS_VERDICT_SELECTED);
	assert_true(step(&t, VS_STEP_RULE, "ci-leftovers")->hit);
	assert_non_null(strstr(t.reason, "rule 'ci-leftovers': name matches "
					 "'test_*', age 9h0m > 4h"));
	vs_select_trace_release(&t);

	/* Both protections are listed, the passed expiry too, and the rule
	 * the protection overrode still shows that it would select. */
	explain(&f, 1, kept, &t);
	assert_int_equal(t.verdict, VS_VERDICT_KEPT);
	st = step(&t, VS_STEP_PROTECTION, "protect.names");
	assert_true(st->hit);
	assert_string_equal(st->text, "protected by name pattern '*-keep'");
	assert_true(step(&t, VS_STEP_PROTECTION, "protect.marker")->hit);
	st = step(&t, VS_STEP_PROTECTION, "protect.expiry_marker");
	assert_false(st->hit);
	assert_non_null(strstr(st->text, "has passed"));
	assert_true(step(&t, VS_STEP_RULE, "ci-leftovers")->hit);
	assert_string_equal(t.reason, "protected by name pattern '*-keep'");
	vs_select_trace_release(&t);

	/* No rule matches, and one is out of scope on vc-lab. */
	explain(&f, 0, other, &t);
	assert_int_equal(t.verdict, VS_VERDICT_IGNORED);
	assert_null(t.reason);
	st = step(&t, VS_STEP_RULE, "osp-off");
	assert_string_equal(st->text, "not applied to provider 'vc-lab' "
				      "(providers: osp-lab)");
	vs_select_trace_release(&t);
	fx_release(&f);
}

/* Explain agrees with the plan on every VM of a mixed inventory. */
static void test_explain_agrees_with_select(void **state)
{
	struct fx f;
	struct vs_select_trace t;
	const struct vs_report_vm *v;
	const struct vs_report_kept *k;
	char name[64], id[32];
	struct vs_vm *vm;
	size_t i, w;

	(void)state;
	fx_init(&f);
	f.cfg.n_rules = 2;
	rule_init(&f.rules[1], "ci");
	f.rules[1].regex = g_ci_regex;
	f.rules[1].n_regex = 1;
	f.rules[1].power_states = g_power_off;
	f.rules[1].n_power_states = 1;
	for (i = 0; i < 200; i++) {
		static const char *const pre[] = {"test_vm_", "ci-", "infra-",
						  "x-"};
		snprintf(name, sizeof(name), "%s%zu", pre[i % 4], i);
		snprintf(id, sizeof(id), "vm-%zu", i);
		vm = vm_add(&f, (int)(i % 2), id, name,
			    i % 7 == 0 ? VS_TIME_UNKNOWN
				       : (int64_t)(i % 9) * H);
		vm->power = i % 3 ? VS_POWER_OFF : VS_POWER_ON;
		if (i % 11 == 0)
			vm_meta(vm, "vmsweep:keep", "");
		if (i % 13 == 0)
			vm->platform_protection = strdup("locked");
	}
	run(&f, 2);
	for (w = 0; w < 2; w++) {
		for (i = 0; i < f.inv[w].vms.n; i++) {
			vm = &f.inv[w].vms.items[i];
			explain(&f, (int)w, vm, &t);
			v = find_sel(&f, vm->id);
			k = find_kept(&f, vm->id);
			switch (t.verdict) {
			case VS_VERDICT_SELECTED:
				assert_non_null(v);
				assert_string_equal(t.reason, v->reason);
				break;
			case VS_VERDICT_KEPT:
				assert_non_null(k);
				assert_string_equal(t.reason, k->reason);
				break;
			case VS_VERDICT_IGNORED:
				assert_null(v);
				assert_null(k);
				break;
			}
			vs_select_trace_release(&t);
		}
	}
	fx_release(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_glob),
		cmocka_unit_test(test_age_rule),
		cmocka_unit_test(test_unknown_age_never_selected),
		cmocka_unit_test(test_protections_beat_rules),
		cmocka_unit_test(test_marker_tokens_and_expiry_past),
		cmocka_unit_test(test_several_rules),
		cmocka_unit_test(test_regex_and_case),
		cmocka_unit_test(test_power_states),
		cmocka_unit_test(test_newer_than),
		cmocka_unit_test(test_provider_scope_and_failed_listing),
		cmocka_unit_test(test_many_vms_quickly),
		cmocka_unit_test(test_explain_steps),
		cmocka_unit_test(test_explain_agrees_with_select),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
