/*
 * test_rhv_parse.c - the oVirt / RHV provider's pure parsers, fed with the
 * real engine samples from ${VS_SHARED:-../shared}/api/samples and with
 * hostile bodies: URLs, settings, form bodies, SSO answers, VM
 * collections as the engine really writes them, tags, fault bodies of
 * both shapes, action answers, percent-encoding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rhv/rhv_internal.h"

#define TAG "rhv-lab"

/* A sample file's content (NUL-terminated; caller frees). */
static char *sample(const char *name, size_t *len)
{
	const char *dir = getenv("VS_SHARED");
	char path[1024];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/api/samples/%s",
		 dir && *dir ? dir : "../shared", name);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open sample %s (set VS_SHARED)", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

/* Parse a literal collection body; the caller releases page. */
static int parse_page(const char *body, int want_tags, struct rhv_page *page,
		      struct vs_error *err)
{
	memset(page, 0, sizeof(*page));
	vs_error_clear(err);
	return rhv_vms_parse(TAG, body, strlen(body), want_tags, page, err);
}

/* Parse one VM object literal as the only entry of a page. */
static struct vs_vm *one_vm(const char *obj, int want_tags,
			    struct rhv_page *page)
{
	char body[4096];
	struct vs_error err;

	snprintf(body, sizeof(body), "{\"vm\":[%s]}", obj);
	assert_int_equal(parse_page(body, want_tags, page, &err), VS_OK);
	assert_int_equal(page->entries, 1);
	return page->n == 1 ? &page->items[0] : NULL;
}

/* ------------------------------------------------------------------ */

static void test_urls(void **state)
{
	static const char *const same[] = {
		"https://engine.example.com",
		"https://engine.example.com/",
		"https://engine.example.com/ovirt-engine",
		"https://engine.example.com/ovirt-engine/",
		"https://engine.example.com/ovirt-engine/api",
		"https://engine.example.com/ovirt-engine/api/",
		"https://engine.example.com/ovirt-engine/api/v4",
		"https://engine.example.com/ovirt-engine/api/v4/",
		"https://engine.example.com//ovirt-engine/api//",
	};
	static const char *const bad[] = {
		"engine.example.com",
		"ftp://engine/ovirt-engine/api",
		"https://",
		"https:///ovirt-engine/api",
		"https://engine/ovirt-engine/api?x=1",
		"https://engine/ovirt-engine/api#frag",
		"https://admin:pw@engine/ovirt-engine/api",
		"https://engine/ovirt engine/api",
		"https://engine/ovirt-engine/api\n",
		"",
	};
	struct rhv_urls u;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		assert_int_equal(rhv_urls_make(same[i], &u), VS_OK);
		assert_string_equal(u.base, "https://engine.example.com");
		assert_string_equal(
			u.api, "https://engine.example.com/ovirt-engine/api");
		assert_string_equal(u.sso, "https://engine.example.com/"
					   "ovirt-engine/sso/oauth/token");
		assert_string_equal(u.logout,
				    "https://engine.example.com/"
				    "ovirt-engine/services/sso-logout");
		rhv_urls_release(&u);
	}
	/* Plain HTTP (the simulator), a port, a reverse proxy's prefix. */
	assert_int_equal(
		rhv_urls_make("http://127.0.0.1:8443/ovirt-engine/api", &u),
		VS_OK);
	assert_string_equal(u.api, "http://127.0.0.1:8443/ovirt-engine/api");
	rhv_urls_release(&u);
	assert_int_equal(rhv_urls_make("https://gw/rhv/ovirt-engine/api/", &u),
			 VS_OK);
	assert_string_equal(u.base, "https://gw/rhv");
	assert_string_equal(u.sso,
			    "https://gw/rhv/ovirt-engine/sso/oauth/token");
	rhv_urls_release(&u);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(rhv_urls_make(bad[i], &u), VS_ERR);
		assert_null(u.base);
		assert_null(u.api);
	}
	assert_int_equal(rhv_urls_make(NULL, &u), VS_ERR);
	rhv_urls_release(NULL);
}

static void test_list_and_vm_urls(void **state)
{
	char *u;

	(void)state;
	u = rhv_list_url("https://e/ovirt-engine/api", 500, NULL, 1, 0);
	assert_string_equal(u, "https://e/ovirt-engine/api/vms?max=500&"
			       "search=page%201");
	free(u);
	u = rhv_list_url("https://e/ovirt-engine/api", 50,
			 "name=ci-* or name=test_*", 12, 1);
	assert_string_equal(u, "https://e/ovirt-engine/api/vms?max=50&"
			       "search=name%3Dci-%2A%20or%20name%3Dtest_%2A"
			       "%20page%2012&follow=tags");
	free(u);
	u = rhv_list_url("https://e/ovirt-engine/api", 10, "", 2, 0);
	assert_string_equal(u, "https://e/ovirt-engine/api/vms?max=10&"
			       "search=page%202");
	free(u);

	u = rhv_vm_url("https://e/ovirt-engine/api",
		       "1c4bd2e1-9a0f-4c7e-8f6b-2b3e4a5d6c7f", "/stop");
	assert_string_equal(u, "https://e/ovirt-engine/api/vms/"
			       "1c4bd2e1-9a0f-4c7e-8f6b-2b3e4a5d6c7f/stop");
	free(u);
	/* A hostile id cannot climb out of /vms/ or add a query. */
	u = rhv_vm_url("https://e/api", "../../x?force=true#", "");
	assert_string_equal(u, "https://e/api/vms/%2E%2E%2F%2E%2E%2Fx%3Fforce"
			       "%3Dtrue%23");
	free(u);
	u = rhv_vm_url("https://e/api", "a b\xc3\xa9", "?force=true");
	assert_string_equal(u, "https://e/api/vms/a%20b%C3%A9?force=true");
	free(u);
}

static void test_form_bodies(void **state)
{
	char *b;

	(void)state;
	b = rhv_sso_body("admin@internal", "p&s=s w+rd%");
	assert_string_equal(b, "grant_type=password&scope=ovirt-app-api&"
			       "username=admin%40internal&"
			       "password=p%26s%3Ds%20w%2Brd%25");
	pv_free_secret(b);
	b = rhv_sso_body(NULL, NULL);
	assert_string_equal(b, "grant_type=password&scope=ovirt-app-api&"
			       "username=&password=");
	pv_free_secret(b);
	b = rhv_logout_body("fqbR1ftzh8wBCviLxJcYuV5oSDI=");
	assert_string_equal(b, "scope=ovirt-app-api&"
			       "token=fqbR1ftzh8wBCviLxJcYuV5oSDI%3D");
	pv_free_secret(b);
	pv_free_secret(NULL);
}

/* ------------------------------------------------------------------ */
/* SSO.                                                                 */

static void test_token_sample(void **state)
{
	size_t len;
	char *body = sample("rhv_sso_token.json", &len);
	const char *lit;
	struct rhv_token tok;
	struct vs_error err;

	(void)state;
	vs_error_clear(&err);
	assert_int_equal(rhv_token_parse(TAG, 200, body, len, &tok, &err),
			 VS_OK);
	assert_string_equal(tok.access_token, "fqbR1ftzh8wBCviLxJcYuV5oSDI=");
	/* "exp" is epoch milliseconds as a string. */
	assert_int_equal(tok.expires_at, 1714647243);
	rhv_token_release(&tok);
	assert_null(tok.access_token);
	free(body);

	/* exp as a number, absent, or nonsense. */
	lit = "{\"access_token\":\"t\",\"exp\":1714647243511}";
	assert_int_equal(
		rhv_token_parse(TAG, 200, lit, strlen(lit), &tok, &err), VS_OK);
	assert_int_equal(tok.expires_at, 1714647243);
	rhv_token_release(&tok);
	lit = "{\"access_token\":\"t\",\"exp\":\"soon\"}";
	assert_int_equal(
		rhv_token_parse(TAG, 200, lit, strlen(lit), &tok, &err), VS_OK);
	assert_int_equal(tok.expires_at, VS_TIME_UNKNOWN);
	rhv_token_release(&tok);
	lit = "{\"access_token\":\"t\"}";
	assert_int_equal(
		rhv_token_parse(TAG, 200, lit, strlen(lit), &tok, &err), VS_OK);
	assert_int_equal(tok.expires_at, VS_TIME_UNKNOWN);
	rhv_token_release(&tok);
	assert_int_equal(err.cls, VS_EC_NONE);
}

static void test_token_errors(void **state)
{
	static const struct {
		long status;
		const char *body;
		enum vs_err_class cls;
		int retryable;
		const char *msg;
	} cases[] = {
		/* The other SSO error shape (non-REST scopes). */
		{400,
		 "{\"error\":\"invalid_grant\",\"error_description\":"
		 "\"Cannot authenticate user 'x@internal': no such user.\"}",
		 VS_EC_AUTH, 0,
		 "rhv-lab: SSO login refused: Cannot authenticate user "
		 "'x@internal': no such user."},
		{401, "", VS_EC_AUTH, 0,
		 "rhv-lab: SSO login refused: no reason given"},
		{404, "<html>Not Found</html>", VS_EC_CONFIG, 0,
		 "rhv-lab: no SSO endpoint at the url (HTTP 404); is it the "
		 "engine?"},
		{500, "{\"error\":\"server_error\"}", VS_EC_SERVER, 1,
		 "rhv-lab: SSO login failed: HTTP 500: server_error"},
		{302, "", VS_EC_INVALID_RESPONSE, 0,
		 "rhv-lab: SSO login: unexpected HTTP 302"},
		{200, "not json", VS_EC_INVALID_RESPONSE, 0,
		 "rhv-lab: SSO login: the answer is not a JSON object"},
		{200, "[\"access_token\"]", VS_EC_INVALID_RESPONSE, 0,
		 "rhv-lab: SSO login: the answer is not a JSON object"},
		{200, "{\"access_token\":5}", VS_EC_INVALID_RESPONSE, 0,
		 "rhv-lab: SSO login: no access_token in the answer"},
		{200, "{\"access_token\":\"\"}", VS_EC_INVALID_RESPONSE, 0,
		 "rhv-lab: SSO login: no access_token in the answer"},
		/* An SSO that says no with 200. */
		{200, "{\"error_code\":\"access_denied\",\"error\":\"nope\"}",
		 VS_EC_AUTH, 0, "rhv-lab: SSO login refused: nope"},
		/* A token that would split the Authorization header. */
		{200, "{\"access_token\":\"abc\\r\\nX-Evil: 1\"}",
		 VS_EC_INVALID_RESPONSE, 0,
		 "rhv-lab: SSO login: the access_token holds control "
		 "characters"},
	};
	size_t len, i;
	char *body = sample("rhv_sso_error.json", &len);
	struct rhv_token tok;
	struct vs_error err;

	(void)state;
	vs_error_clear(&err);
	assert_int_equal(rhv_token_parse(TAG, 400, body, len, &tok, &err),
			 VS_ERR);
	assert_int_equal(err.cls, VS_EC_AUTH);
	assert_int_equal(err.http_status, 400);
	assert_int_equal(err.retryable, 0);
	assert_string_equal(err.message,
			    "rhv-lab: SSO login refused: Cannot authenticate "
			    "user 'admin@internal': The username or password "
			    "is incorrect..");
	assert_null(tok.access_token);
	free(body);

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		vs_error_clear(&err);
		assert_int_equal(
			rhv_token_parse(TAG, cases[i].status, cases[i].body,
					strlen(cases[i].body), &tok, &err),
			VS_ERR);
		assert_int_equal(err.cls, cases[i].cls);
		assert_int_equal(err.retryable, cases[i].retryable);
		assert_string_equal(err.message, cases[i].msg);
		assert_null(tok.access_token);
	}
	/* No body at all. */
	vs_error_clear(&err);
	assert_int_equal(rhv_token_parse(TAG, 200, NULL, 0, &tok, &err),
			 VS_ERR);
	assert_int_equal(err.cls, VS_EC_INVALID_RESPONSE);
}

/* ------------------------------------------------------------------ */
/* VM collections.                                                      */

static void test_vms_sample(void **state)
{
	size_t len;
	char *body = sample("rhv_vms.json", &len);
	struct rhv_page page;
	struct vs_error err;
	struct vs_vm *a, *b;

	(void)state;
	memset(&page, 0, sizeof(page));
	vs_error_clear(&err);
	assert_int_equal(rhv_vms_parse(TAG, body, len, 0, &page, &err), VS_OK);
	assert_int_equal(page.n, 2);
	assert_int_equal(page.entries, 2);
	assert_int_equal(page.skipped, 0);
	a = &page.items[0];
	assert_string_equal(a->id, "1c4bd2e1-9a0f-4c7e-8f6b-2b3e4a5d6c7f");
	assert_string_equal(a->name, "ci-build-7f3a");
	assert_string_equal(a->status, "up");
	assert_int_equal(a->power, VS_POWER_ON);
	assert_int_equal(a->created, 1714640043); /* ms -> s */
	assert_int_equal(a->age_source, VS_AGE_CREATED);
	assert_null(a->platform_protection);
	/* An empty description and a comment: the comment alone. */
	assert_string_equal(a->description, "owner=ci ttl=2d");
	assert_int_equal(a->n_tags, 0);
	assert_null(a->task_state);

	b = &page.items[1];
	assert_string_equal(b->name, "db-primary");
	assert_int_equal(b->power, VS_POWER_OFF);
	assert_int_equal(b->created, 1683104400);
	assert_string_equal(b->platform_protection, "delete_protected");
	assert_string_equal(b->description, "production database - KEEP");
	rhv_page_release(&page);

	/* Asking for tags: the sample has none inlined, so each is flagged. */
	memset(&page, 0, sizeof(page));
	assert_int_equal(rhv_vms_parse(TAG, body, len, 1, &page, &err), VS_OK);
	assert_int_equal(page.n, 2);
	assert_int_equal(page.no_tags[0], 1);
	assert_int_equal(page.no_tags[1], 1);
	rhv_page_release(&page);
	free(body);

	/* {} is the engine's empty collection. */
	body = sample("rhv_vms_empty.json", &len);
	memset(&page, 0, sizeof(page));
	assert_int_equal(rhv_vms_parse(TAG, body, len, 1, &page, &err), VS_OK);
	assert_int_equal(page.n, 0);
	assert_int_equal(page.entries, 0);
	rhv_page_release(&page);
	free(body);
	assert_int_equal(parse_page("{\"vm\":[]}", 0, &page, &err), VS_OK);
	assert_int_equal(page.n, 0);
	rhv_page_release(&page);
	assert_int_equal(parse_page("{\"vm\":null}", 0, &page, &err), VS_OK);
	assert_int_equal(page.n, 0);
	rhv_page_release(&page);
	assert_int_equal(err.cls, VS_EC_NONE);
}

static void test_vms_bad_pages(void **state)
{
	static const char *const bad[] = {
		"",
		"not json",
		"[]",
		"[{\"id\":\"a\"}]",
		"\"vm\"",
		"{\"vm\":{}}",
		"{\"vm\":\"a\"}",
		"{\"vm\":5}",
		"null",
		/* Beyond 64 bits: the whole page, never a wrong number. */
		"{\"vm\":[{\"id\":\"a\",\"name\":\"b\",\"creation_time\":"
		"123456789012345678901234567890}]}",
	};
	struct rhv_page page;
	struct vs_error err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse_page(bad[i], 0, &page, &err), VS_ERR);
		assert_int_equal(err.cls, VS_EC_INVALID_RESPONSE);
		assert_int_equal(err.retryable, 0);
		assert_non_null(strstr(err.message, "rhv-lab: listing VMs: "));
		rhv_page_release(&page);
	}
	assert_int_equal(rhv_vms_parse(TAG, NULL, 0, 0, &page, &err), VS_ERR);
	rhv_page_release(&page);
}

/* Entries that cannot be read safely are left out, counted, kept. */
static void test_vms_skipped_entries(void **state)
{
	const char *body = "{\"vm\":[5, \"x\", null, [],"
			   " {\"name\":\"no-id\"},"
			   " {\"id\":7,\"name\":\"numeric-id\"},"
			   " {\"id\":\"\",\"name\":\"empty-id\"},"
			   " {\"id\":\"i1\"},"
			   " {\"id\":\"i2\",\"name\":\"\"},"
			   " {\"id\":\"i3\",\"name\":[\"x\"]},"
			   " {\"id\":\"ok\",\"name\":\"fine\"}]}";
	struct rhv_page page;
	struct vs_error err;

	(void)state;
	assert_int_equal(parse_page(body, 0, &page, &err), VS_OK);
	assert_int_equal(page.entries, 11);
	assert_int_equal(page.n, 1);
	assert_int_equal(page.skipped, 10);
	assert_string_equal(page.skip_reason, "an entry that is not an object");
	assert_string_equal(page.items[0].name, "fine");
	/* Nothing known: unknown age, status, power, protection. */
	assert_int_equal(page.items[0].created, VS_TIME_UNKNOWN);
	assert_int_equal(page.items[0].age_source, VS_AGE_NONE);
	assert_null(page.items[0].status);
	assert_int_equal(page.items[0].power, VS_POWER_UNKNOWN);
	assert_null(page.items[0].description);
	rhv_page_release(&page);

	assert_int_equal(
		parse_page("{\"vm\":[{\"id\":\"i1\"}]}", 0, &page, &err),
		VS_OK);
	assert_string_equal(page.skip_reason, "VM i1 has no usable name");
	rhv_page_release(&page);
}

/* creation_time in every shape the engine (or a broken one) writes. */
static void test_vms_creation_time(void **state)
{
	static const struct {
		const char *json;
		int64_t want;
	} cases[] = {
		{"1714640043511", 1714640043},
		{"\"1714640043511\"", 1714640043},
		{"1714640043511.0", 1714640043},
		{"1999", 1},
		{"0", VS_TIME_UNKNOWN},
		{"-5000", VS_TIME_UNKNOWN},
		{"\"-5000\"", VS_TIME_UNKNOWN},
		{"\"\"", VS_TIME_UNKNOWN},
		{"\"17146400435x1\"", VS_TIME_UNKNOWN},
		{"\" 1714640043511\"", VS_TIME_UNKNOWN},
		{"\"2024-05-02T08:54:03Z\"", VS_TIME_UNKNOWN},
		{"\"99999999999999999999999\"", VS_TIME_UNKNOWN},
		/* Past the year 9999, in range of int64. */
		{"9000000000000000000", VS_TIME_UNKNOWN},
		{"\"9223372036854775807\"", VS_TIME_UNKNOWN},
		{"1e300", VS_TIME_UNKNOWN},
		{"true", VS_TIME_UNKNOWN},
		{"null", VS_TIME_UNKNOWN},
		{"{}", VS_TIME_UNKNOWN},
		{"[1714640043511]", VS_TIME_UNKNOWN},
	};
	struct rhv_page page;
	char obj[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vs_vm *vm;

		snprintf(obj, sizeof(obj),
			 "{\"id\":\"a\",\"name\":\"b\",\"creation_time\":%s}",
			 cases[i].json);
		vm = one_vm(obj, 0, &page);
		assert_non_null(vm);
		if (vm->created != cases[i].want)
			fail_msg("creation_time %s: got %lld", cases[i].json,
				 (long long)vm->created);
		assert_int_equal(vm->age_source,
				 cases[i].want == VS_TIME_UNKNOWN
					 ? VS_AGE_NONE
					 : VS_AGE_CREATED);
		rhv_page_release(&page);
	}
	assert_int_equal(rhv_ms_to_time("1714640043511"), 1714640043);
	assert_int_equal(rhv_ms_to_time(NULL), VS_TIME_UNKNOWN);
	assert_int_equal(rhv_ms_to_time("+1"), VS_TIME_UNKNOWN);
	assert_int_equal(rhv_ms_to_time("253402300799999"), 253402300799);
	assert_int_equal(rhv_ms_to_time("253402300800000"), VS_TIME_UNKNOWN);
}

/* delete_protected: anything but a clear "false" protects. */
static void test_vms_delete_protected(void **state)
{
	static const struct {
		const char *json;
		int protected_;
	} cases[] = {
		{"\"true\"", 1},  {"true", 1},	{"\"TRUE\"", 1},
		{"\"yes\"", 1},	  {"1", 1},	{"{}", 1},
		{"[]", 1},	  {"\"\"", 1},	{"\"false\"", 0},
		{"\"False\"", 0}, {"false", 0}, {"null", 0},
	};
	struct rhv_page page;
	char obj[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vs_vm *vm;

		snprintf(
			obj, sizeof(obj),
			"{\"id\":\"a\",\"name\":\"b\",\"delete_protected\":%s}",
			cases[i].json);
		vm = one_vm(obj, 0, &page);
		assert_non_null(vm);
		if (cases[i].protected_)
			assert_string_equal(vm->platform_protection,
					    "delete_protected");
		else if (vm->platform_protection)
			fail_msg("delete_protected %s protected the VM",
				 cases[i].json);
		rhv_page_release(&page);
	}
	/* Absent: not protected. */
	assert_null(one_vm("{\"id\":\"a\",\"name\":\"b\"}", 0, &page)
			    ->platform_protection);
	rhv_page_release(&page);
}

/* Status, power, description and comment, wrong types. */
static void test_vms_fields(void **state)
{
	static const struct {
		const char *status;
		enum vs_power power;
	} powers[] = {
		{"up", VS_POWER_ON},
		{"powering_up", VS_POWER_ON},
		{"powering_down", VS_POWER_ON},
		{"migrating", VS_POWER_ON},
		{"reboot_in_progress", VS_POWER_ON},
		{"wait_for_launch", VS_POWER_ON},
		{"UP", VS_POWER_ON},
		{"down", VS_POWER_OFF},
		{"suspended", VS_POWER_SUSPENDED},
		{"paused", VS_POWER_SUSPENDED},
		{"image_locked", VS_POWER_UNKNOWN},
		{"not_responding", VS_POWER_UNKNOWN},
		{"unknown", VS_POWER_UNKNOWN},
		{"unassigned", VS_POWER_UNKNOWN},
		{"saving_state", VS_POWER_UNKNOWN},
		{"", VS_POWER_UNKNOWN},
	};
	struct rhv_page page;
	struct vs_vm *vm;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(powers) / sizeof(powers[0]); i++)
		assert_int_equal(rhv_power(powers[i].status), powers[i].power);
	assert_int_equal(rhv_power(NULL), VS_POWER_UNKNOWN);

	vm = one_vm("{\"id\":\"a\",\"name\":\"b\",\"status\":5,"
		    "\"description\":7,\"comment\":{\"x\":1}}",
		    0, &page);
	assert_null(vm->status);
	assert_int_equal(vm->power, VS_POWER_UNKNOWN);
	assert_null(vm->description);
	rhv_page_release(&page);

	/* Both texts: joined by a newline so a marker in either is seen. */
	vm = one_vm("{\"id\":\"a\",\"name\":\"b\",\"status\":\"down\","
		    "\"description\":\"owner: ci\","
		    "\"comment\":\"vmsweep:keep\"}",
		    0, &page);
	assert_string_equal(vm->description, "owner: ci\nvmsweep:keep");
	assert_int_equal(vm->power, VS_POWER_OFF);
	rhv_page_release(&page);
	vm = one_vm("{\"id\":\"a\",\"name\":\"b\",\"description\":\"d\"}", 0,
		    &page);
	assert_string_equal(vm->description, "d");
	rhv_page_release(&page);

	/* An id far too long to be one is not trusted. */
	{
		char obj[2400], id[1100];

		memset(id, 'x', sizeof(id) - 1);
		id[sizeof(id) - 1] = '\0';
		snprintf(obj, sizeof(obj), "{\"id\":\"%s\",\"name\":\"b\"}",
			 id);
		assert_null(one_vm(obj, 0, &page));
		assert_int_equal(page.skipped, 1);
		rhv_page_release(&page);
	}

	assert_true(rhv_status_transient("image_locked"));
	assert_true(rhv_status_transient("migrating"));
	assert_true(rhv_status_transient("powering_up"));
	assert_true(rhv_status_transient("saving_state"));
	assert_true(rhv_status_transient("restoring_state"));
	assert_true(rhv_status_transient("wait_for_launch"));
	assert_false(rhv_status_transient("up"));
	assert_false(rhv_status_transient("powering_down"));
	assert_false(rhv_status_transient(NULL));
	assert_true(rhv_status_deletable("down"));
	assert_true(rhv_status_deletable("unassigned"));
	assert_false(rhv_status_deletable("suspended"));
	assert_false(rhv_status_deletable(NULL));
}

/* Tags inlined by follow=tags, and their wrong shapes. */
static void test_vms_inline_tags(void **state)
{
	struct rhv_page page;
	struct vs_vm *vm;

	(void)state;
	vm = one_vm("{\"id\":\"a\",\"name\":\"b\",\"tags\":{\"tag\":["
		    "{\"id\":\"t1\",\"name\":\"vmsweep:keep\"},"
		    "{\"id\":\"t2\",\"name\":\"owner=ci\"}]}}",
		    1, &page);
	assert_int_equal(vm->n_tags, 2);
	assert_string_equal(vm->tags[0], "vmsweep:keep");
	assert_string_equal(vm->tags[1], "owner=ci");
	assert_int_equal(page.no_tags[0], 0);
	rhv_page_release(&page);

	/* {} inlined: no tags, nothing to fetch. */
	vm = one_vm("{\"id\":\"a\",\"name\":\"b\",\"tags\":{}}", 1, &page);
	assert_int_equal(vm->n_tags, 0);
	assert_int_equal(page.no_tags[0], 0);
	rhv_page_release(&page);

	/* A bare array is read too. */
	vm = one_vm("{\"id\":\"a\",\"name\":\"b\",\"tags\":[{\"name\":\"k\"}]}",
		    1, &page);
	assert_int_equal(vm->n_tags, 1);
	rhv_page_release(&page);

	/* Not asked: tags are ignored whatever their shape. */
	vm = one_vm("{\"id\":\"a\",\"name\":\"b\",\"tags\":5}", 0, &page);
	assert_non_null(vm);
	assert_int_equal(vm->n_tags, 0);
	rhv_page_release(&page);

	/* Asked, but unreadable: the VM is left out (it may be marked). */
	assert_null(
		one_vm("{\"id\":\"a\",\"name\":\"b\",\"tags\":5}", 1, &page));
	assert_string_equal(page.skip_reason,
			    "VM a: \"tags\" is not an object");
	rhv_page_release(&page);
	assert_null(one_vm("{\"id\":\"a\",\"name\":\"b\","
			   "\"tags\":{\"tag\":{\"name\":\"k\"}}}",
			   1, &page));
	rhv_page_release(&page);
	assert_null(
		one_vm("{\"id\":\"a\",\"name\":\"b\","
		       "\"tags\":{\"tag\":[{\"name\":\"k\"},{\"id\":\"x\"}]}}",
		       1, &page));
	assert_string_equal(page.skip_reason, "VM a: a tag without a name");
	rhv_page_release(&page);
	assert_null(one_vm("{\"id\":\"a\",\"name\":\"b\","
			   "\"tags\":{\"tag\":[\"k\"]}}",
			   1, &page));
	rhv_page_release(&page);
}

static void test_vm_single(void **state)
{
	const char *body = "{\"href\":\"/ovirt-engine/api/vms/x\",\"id\":\"x\","
			   "\"name\":\"test_vm_1\",\"status\":\"image_locked\","
			   "\"creation_time\":\"1714640043511\","
			   "\"delete_protected\":\"false\"}";
	struct vs_vm vm;
	struct vs_error err;

	(void)state;
	vs_error_clear(&err);
	assert_int_equal(rhv_vm_parse(TAG, body, strlen(body), &vm, &err),
			 VS_OK);
	assert_string_equal(vm.id, "x");
	assert_string_equal(vm.status, "image_locked");
	assert_int_equal(vm.created, 1714640043);
	assert_null(vm.platform_protection);
	vs_vm_release(&vm);

	assert_int_equal(rhv_vm_parse(TAG, "[]", 2, &vm, &err), VS_ERR);
	assert_int_equal(err.cls, VS_EC_INVALID_RESPONSE);
	assert_null(vm.id);
	vs_error_clear(&err);
	assert_int_equal(rhv_vm_parse(TAG, "", 0, &vm, &err), VS_ERR);
	vs_error_clear(&err);
	assert_int_equal(rhv_vm_parse(TAG, "{\"id\":\"x\"}", 10, &vm, &err),
			 VS_ERR);
	assert_string_equal(err.message,
			    "rhv-lab: reading a VM: VM x has no usable name");
	assert_null(vm.id);
}

static void test_tags_sample(void **state)
{
	static const char *const bad[] = {"[]", "x", "{\"tag\":5}",
					  "{\"tag\":{}}", "{\"tag\":[7]}"};
	size_t len, i;
	char *body = sample("rhv_vm_tags.json", &len);
	struct vs_vm vm;
	struct vs_error err;

	(void)state;
	memset(&vm, 0, sizeof(vm));
	vs_error_clear(&err);
	assert_int_equal(rhv_tags_parse(TAG, body, len, &vm, &err), VS_OK);
	assert_int_equal(vm.n_tags, 1);
	assert_string_equal(vm.tags[0], "keep");
	/* Appends to what is there. */
	assert_int_equal(rhv_tags_parse(TAG, body, len, &vm, &err), VS_OK);
	assert_int_equal(vm.n_tags, 2);
	vs_vm_release(&vm);
	free(body);

	assert_int_equal(rhv_tags_parse(TAG, "{}", 2, &vm, &err), VS_OK);
	assert_int_equal(vm.n_tags, 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		vs_error_clear(&err);
		assert_int_equal(
			rhv_tags_parse(TAG, bad[i], strlen(bad[i]), &vm, &err),
			VS_ERR);
		assert_int_equal(err.cls, VS_EC_INVALID_RESPONSE);
		vs_vm_release(&vm);
	}
}

/* ------------------------------------------------------------------ */
/* Faults and actions.                                                  */

static void test_fault_samples(void **state)
{
	static const struct {
		const char *file, *msg;
		enum rhv_fault_kind kind;
		int action_failed;
	} cases[] = {
		{"rhv_fault_delete_protected.json",
		 "Cannot remove VM. Delete protection is enabled. In order to "
		 "delete, disable Delete protection first.",
		 RHV_FAULT_PROTECTED, 0},
		{"rhv_fault_vm_running.json",
		 "Cannot remove VM. VM is running.", RHV_FAULT_RUNNING, 0},
		{"rhv_action_failed.json",
		 "Cannot stop VM. VM is locked. Please try again in a few "
		 "minutes.",
		 RHV_FAULT_LOCKED, 1},
		{"rhv_action_complete.json", "", RHV_FAULT_OTHER, 0},
		{"rhv_stop_request.json", "", RHV_FAULT_OTHER, 0},
		{"rhv_sso_error.json",
		 "Cannot authenticate user 'admin@internal': The username or "
		 "password is incorrect..",
		 RHV_FAULT_OTHER, 0},
	};
	char msg[RHV_MSG_MAX], amsg[RHV_MSG_MAX];
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *body = sample(cases[i].file, &len);

		rhv_fault_message(body, len, msg, sizeof(msg));
		assert_string_equal(msg, cases[i].msg);
		assert_int_equal(rhv_fault_kind(msg), cases[i].kind);
		assert_int_equal(
			rhv_action_failed(body, len, amsg, sizeof(amsg)),
			cases[i].action_failed);
		if (cases[i].action_failed)
			assert_string_equal(amsg, cases[i].msg);
		else
			assert_string_equal(amsg, "");
		free(body);
	}
}

static void test_fault_variants(void **state)
{
	static const struct {
		const char *body, *msg;
		enum rhv_fault_kind kind;
	} cases[] = {
		/* The suspended refusal carries a newline. */
		{"{\"reason\":\"Operation Failed\",\"detail\":\"[Cannot remove "
		 "VM that its state is not down.\\n-Please stop the VM "
		 "first.]\"}",
		 "Cannot remove VM that its state is not down. -Please stop "
		 "the VM first.",
		 RHV_FAULT_RUNNING},
		{"{\"reason\":\"Operation Failed\",\"detail\":\"[Cannot remove "
		 "VM: VM is locked. Please try again in a few minutes.]\"}",
		 "Cannot remove VM: VM is locked. Please try again in a few "
		 "minutes.",
		 RHV_FAULT_LOCKED},
		/* Reason only; no brackets; several messages. */
		{"{\"reason\":\"Conflict\"}", "Conflict", RHV_FAULT_OTHER},
		{"{\"detail\":\"plain\"}", "plain", RHV_FAULT_OTHER},
		{"{\"detail\":\"[a, b]\"}", "a, b", RHV_FAULT_OTHER},
		{"{\"detail\":\"[\"}", "[", RHV_FAULT_OTHER},
		{"{\"detail\":\"[]\"}", "", RHV_FAULT_OTHER},
		/* The detail wins; an empty one does not. */
		{"{\"reason\":\"R\",\"detail\":\"\"}", "R", RHV_FAULT_OTHER},
		{"{\"status\":\"failed\",\"fault\":{\"reason\":\"R\"}}", "R",
		 RHV_FAULT_OTHER},
		/* Control bytes never reach a log line. */
		{"{\"detail\":\"a\\u001b[31mb\\u0007c\"}", "a?[31mb?c",
		 RHV_FAULT_OTHER},
		/* jansson refuses NUL in strings: the body reads as none. */
		{"{\"detail\":\"a\\u0000b\"}", "", RHV_FAULT_OTHER},
		/* Wrong types and not JSON: nothing. */
		{"{\"detail\":5,\"reason\":[]}", "", RHV_FAULT_OTHER},
		{"{\"fault\":\"x\"}", "", RHV_FAULT_OTHER},
		{"[\"detail\"]", "", RHV_FAULT_OTHER},
		{"<html>Bad Gateway</html>", "", RHV_FAULT_OTHER},
		{"", "", RHV_FAULT_OTHER},
	};
	char msg[RHV_MSG_MAX], small[16];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rhv_fault_message(cases[i].body, strlen(cases[i].body), msg,
				  sizeof(msg));
		assert_string_equal(msg, cases[i].msg);
		assert_int_equal(rhv_fault_kind(msg), cases[i].kind);
	}
	rhv_fault_message(NULL, 0, msg, sizeof(msg));
	assert_string_equal(msg, "");
	assert_int_equal(rhv_fault_kind(NULL), RHV_FAULT_OTHER);
	/* A long message is cut with an ellipsis. */
	rhv_fault_message("{\"detail\":\"[0123456789abcdefghij]\"}", 35, small,
			  sizeof(small));
	assert_string_equal(small, "0123456789ab...");

	/* An action that answers 200 but says failed; and pending. */
	assert_int_equal(rhv_action_failed("{\"status\":\"FAILED\"}", 19, msg,
					   sizeof(msg)),
			 1);
	assert_string_equal(msg, "the action failed");
	assert_int_equal(rhv_action_failed("{\"status\":\"pending\"}", 20, msg,
					   sizeof(msg)),
			 0);
	assert_int_equal(
		rhv_action_failed("{\"status\":5}", 12, msg, sizeof(msg)), 0);
	assert_int_equal(rhv_action_failed(NULL, 0, msg, sizeof(msg)), 0);
}

/* ------------------------------------------------------------------ */
/* Settings.                                                            */

static void cfg_init(struct vs_provider_config *c, struct vs_kv *kv, size_t n)
{
	memset(c, 0, sizeof(*c));
	c->name = TAG;
	c->type = "rhv";
	c->url = "https://rhvm.lab.example.com/ovirt-engine/api/";
	c->username = "admin@internal";
	c->password = "s3cret";
	c->request_timeout_ms = 60000;
	c->delete_timeout_ms = 600000;
	c->extra = kv;
	c->n_extra = n;
}

static void test_settings(void **state)
{
	struct vs_kv kv[] = {
		{(char *)"auth", (char *)"basic"},
		{(char *)"page_size", (char *)"50"},
		{(char *)"search",
		 (char *)"name=ci-* or name=test_* sortby name asc"},
		{(char *)"tags", (char *)"true"},
		{(char *)"force", (char *)"true"},
		{(char *)"stop_recheck_after", (char *)"0"},
	};
	struct vs_provider_config c;
	struct rhv_settings s;
	struct vs_error err;

	(void)state;
	vs_error_clear(&err);
	cfg_init(&c, NULL, 0);
	c.delete_timeout_ms = 0;
	c.ca_file = "/etc/pki/lab-ca.pem";
	assert_int_equal(rhv_settings_from_config(&c, &s, &err), VS_OK);
	assert_int_equal(s.auth, RHV_AUTH_SSO);
	assert_int_equal(s.page_size, RHV_DEFAULT_PAGE_SIZE);
	assert_null(s.search);
	assert_int_equal(s.tags, 0);
	assert_int_equal(s.force, 0);
	assert_string_equal(s.urls.api,
			    "https://rhvm.lab.example.com/ovirt-engine/api");
	assert_string_equal(s.username, "admin@internal");
	assert_string_equal(s.password, "s3cret");
	assert_string_equal(s.ca_file, "/etc/pki/lab-ca.pem");
	assert_int_equal(s.delete_timeout_ms, RHV_DEFAULT_DELETE_TIMEOUT_MS);
	assert_int_equal(s.stop_recheck_after_ms, RHV_DEFAULT_STOP_RECHECK_MS);
	rhv_settings_release(&s);

	cfg_init(&c, kv, 6);
	assert_int_equal(rhv_settings_from_config(&c, &s, &err), VS_OK);
	assert_int_equal(s.auth, RHV_AUTH_BASIC);
	assert_int_equal(s.page_size, 50);
	assert_string_equal(s.search,
			    "name=ci-* or name=test_* sortby name asc");
	assert_int_equal(s.tags, 1);
	assert_int_equal(s.force, 1);
	assert_int_equal(s.delete_timeout_ms, 600000);
	assert_int_equal(s.stop_recheck_after_ms, 0);
	rhv_settings_release(&s);
	rhv_settings_release(NULL);
}

static void test_settings_errors(void **state)
{
	static const struct {
		const char *key, *value, *msg;
	} cases[] = {
		{"auth", "kerberos", "rhv-lab: auth must be sso or basic"},
		{"page_size", "0", "rhv-lab: page_size must be 1-10000"},
		{"page_size", "10001", "rhv-lab: page_size must be 1-10000"},
		{"page_size", "5x", "rhv-lab: page_size must be 1-10000"},
		{"page_size", "99999999999999999999",
		 "rhv-lab: page_size must be 1-10000"},
		{"tags", "yes", "rhv-lab: tags must be true or false"},
		{"force", "1", "rhv-lab: force must be true or false"},
		{"stop_recheck_after", "-1",
		 "rhv-lab: stop_recheck_after must be a duration such as 30s, "
		 "or 0"},
		{"search", "name=ci-* page 2",
		 "rhv-lab: search must be one line without a page clause "
		 "(the listing adds its own)"},
		{"search", "PAGE 1",
		 "rhv-lab: search must be one line without a page clause "
		 "(the listing adds its own)"},
		{"search", "name=a\nname=b",
		 "rhv-lab: search must be one line without a page clause "
		 "(the listing adds its own)"},
	};
	struct vs_provider_config c;
	struct rhv_settings s;
	struct vs_error err;
	struct vs_kv kv;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		kv.key = (char *)cases[i].key;
		kv.value = (char *)cases[i].value;
		cfg_init(&c, &kv, 1);
		vs_error_clear(&err);
		assert_int_equal(rhv_settings_from_config(&c, &s, &err),
				 VS_ERR);
		assert_int_equal(err.cls, VS_EC_CONFIG);
		assert_string_equal(err.message, cases[i].msg);
		rhv_settings_release(&s);
	}
	/* A name that merely contains "page" is fine. */
	kv.key = (char *)"search";
	kv.value = (char *)"name=homepage-* or name=pager";
	cfg_init(&c, &kv, 1);
	assert_int_equal(rhv_settings_from_config(&c, &s, &err), VS_OK);
	rhv_settings_release(&s);

	cfg_init(&c, NULL, 0);
	c.url = NULL;
	vs_error_clear(&err);
	assert_int_equal(rhv_settings_from_config(&c, &s, &err), VS_ERR);
	assert_non_null(strstr(err.message, "url is required"));
	rhv_settings_release(&s);
	cfg_init(&c, NULL, 0);
	c.url = "rhvm.lab.example.com";
	vs_error_clear(&err);
	assert_int_equal(rhv_settings_from_config(&c, &s, &err), VS_ERR);
	assert_non_null(strstr(err.message, "url must be an http(s) URL"));
	rhv_settings_release(&s);
	cfg_init(&c, NULL, 0);
	c.username = "";
	vs_error_clear(&err);
	assert_int_equal(rhv_settings_from_config(&c, &s, &err), VS_ERR);
	assert_non_null(strstr(err.message, "username is required"));
	rhv_settings_release(&s);
	cfg_init(&c, NULL, 0);
	c.password = NULL;
	vs_error_clear(&err);
	assert_int_equal(rhv_settings_from_config(&c, &s, &err), VS_ERR);
	assert_non_null(strstr(err.message, "a password is required"));
	/* The password never appears in a message. */
	assert_null(strstr(err.message, "s3cret"));
	rhv_settings_release(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_urls),
		cmocka_unit_test(test_list_and_vm_urls),
		cmocka_unit_test(test_form_bodies),
		cmocka_unit_test(test_token_sample),
		cmocka_unit_test(test_token_errors),
		cmocka_unit_test(test_vms_sample),
		cmocka_unit_test(test_vms_bad_pages),
		cmocka_unit_test(test_vms_skipped_entries),
		cmocka_unit_test(test_vms_creation_time),
		cmocka_unit_test(test_vms_delete_protected),
		cmocka_unit_test(test_vms_fields),
		cmocka_unit_test(test_vms_inline_tags),
		cmocka_unit_test(test_vm_single),
		cmocka_unit_test(test_tags_sample),
		cmocka_unit_test(test_fault_samples),
		cmocka_unit_test(test_fault_variants),
		cmocka_unit_test(test_settings),
		cmocka_unit_test(test_settings_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
