/*
 * test_osp_parse.c - the OpenStack provider's pure parsers, fed with the
 * real Keystone and Nova samples from ${VS_SHARED:-../shared}/api/samples
 * and with hostile bodies: tokens and catalogs, endpoint choice, server
 * pages, fault bodies, auth request bodies, next links, percent-encoding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osp/osp_internal.h"
#include "timeutil.h"

#define TAG "osp-lab"

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

/* The X-Subject-Token value of the sample response headers. */
static char *sample_subject_token(void)
{
	char *h = sample("osp_token_response_headers.txt", NULL);
	char *p = strstr(h, "X-Subject-Token: "), *tok;

	assert_non_null(p);
	p += strlen("X-Subject-Token: ");
	tok = strndup(p, strcspn(p, "\r\n"));
	free(h);
	return tok;
}

static int64_t t(const char *s)
{
	int64_t v;

	assert_int_equal(vs_time_parse(s, &v), 0);
	return v;
}

/* ------------------------------------------------------------------ */

static void test_tokens_url(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"https://k.example.com:5000/v3",
		 "https://k.example.com:5000/v3/auth/tokens"},
		{"https://k.example.com:5000/v3/",
		 "https://k.example.com:5000/v3/auth/tokens"},
		{"https://k.example.com:5000",
		 "https://k.example.com:5000/v3/auth/tokens"},
		{"https://k.example.com:5000///",
		 "https://k.example.com:5000/v3/auth/tokens"},
		{"http://127.0.0.1/identity",
		 "http://127.0.0.1/identity/v3/auth/tokens"},
		{"http://127.0.0.1/identity/v3",
		 "http://127.0.0.1/identity/v3/auth/tokens"},
		{"https://k:5000/v2.0", "https://k:5000/v3/auth/tokens"},
		{"https://k:5000/v2.0/", "https://k:5000/v3/auth/tokens"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *u = osp_tokens_url(cases[i].in);
		assert_non_null(u);
		assert_string_equal(u, cases[i].out);
		free(u);
	}
	assert_null(osp_tokens_url("ftp://k/v3"));
	assert_null(osp_tokens_url("k.example.com:5000"));
	assert_null(osp_tokens_url(NULL));
}

static void test_token_sample(void **state)
{
	size_t len;
	char *body = sample("osp_token.json", &len);
	char *subject = sample_subject_token();
	struct osp_token tok;
	struct vs_error err;

	(void)state;
	vs_error_clear(&err);
	assert_int_equal(osp_token_parse(TAG, 201, subject, body, len, "public",
					 "RegionOne", vs_time_parse, &tok,
					 &err),
			 VS_OK);
	assert_string_equal(tok.token, "gAAAAABmM1Ab0-example-fernet-token");
	assert_string_equal(tok.compute_url,
			    "http://127.0.0.1:8774/v2.1/"
			    "a99e9b4e620e4db09a2dfb6e42a01e66");
	assert_int_equal(tok.expires_at, t("2024-05-03T09:14:03Z"));
	osp_token_release(&tok);
	assert_null(tok.token);

	/* No region: any region. */
	assert_int_equal(osp_token_parse(TAG, 201, subject, body, len,
					 "internal", NULL, vs_time_parse, &tok,
					 &err),
			 VS_OK);
	assert_non_null(tok.compute_url);
	osp_token_release(&tok);

	/* A region the catalog lacks. */
	assert_int_equal(osp_token_parse(TAG, 201, subject, body, len, "public",
					 "RegionTwo", vs_time_parse, &tok,
					 &err),
			 VS_ERR);
	assert_int_equal(err.cls, VS_EC_CONFIG);
	assert_int_equal(err.retryable, 0);
	assert_string_equal(err.message,
			    "osp-lab: no compute endpoint for region "
			    "'RegionTwo' interface 'public' in the catalog");
	assert_null(tok.token);
	assert_null(tok.compute_url);

	/* 201 without the header is not a token. */
	vs_error_clear(&err);
	assert_int_equal(osp_token_parse(TAG, 201, NULL, body, len, "public",
					 NULL, vs_time_parse, &tok, &err),
			 VS_ERR);
	assert_int_equal(err.cls, VS_EC_INVALID_RESPONSE);
	free(body);
	free(subject);
}

static void test_catalog_identity_and_interfaces(void **state)
{
	size_t len;
	char *body = sample("osp_token.json", &len);
	struct vs_error err;
	char *url;

	(void)state;
	vs_error_clear(&err);
	assert_int_equal(osp_catalog_find(TAG, body, len, "identity", "public",
					  "RegionOne", &url, &err),
			 VS_OK);
	assert_string_equal(url, "http://127.0.0.1:5000/v3");
	free(url);
	assert_int_equal(osp_catalog_find(TAG, body, len, "identity", "admin",
					  NULL, &url, &err),
			 VS_ERR);
	assert_null(url);
	assert_string_equal(err.message,
			    "osp-lab: no identity endpoint for interface "
			    "'admin' in the catalog");
	free(body);
}

/* Endpoint choice: region or region_id, first match, bad entries. */
static void test_catalog_variants(void **state)
{
	const char *body =
		"{\"token\":{\"catalog\":["
		"  5, \"x\", {\"type\":7},"
		"  {\"type\":\"compute\",\"endpoints\":\"nope\"},"
		"  {\"type\":\"compute\",\"endpoints\":["
		"    {\"interface\":\"public\",\"region_id\":\"R1\","
		"     \"url\":\"ftp://bad\"},"
		"    {\"interface\":\"public\",\"region_id\":\"R1\",\"url\":7},"
		"    {\"interface\":\"public\",\"region_id\":\"R2\","
		"     \"url\":\"https://r2.example.com/compute/v2.1/\"},"
		"    {\"interface\":\"public\",\"region\":\"R1\","
		"     \"url\":\"https://r1a.example.com/v2.1\"},"
		"    {\"interface\":\"public\",\"region_id\":\"R1\","
		"     \"url\":\"https://r1b.example.com/v2.1\"},"
		"    {\"interface\":\"internal\",\"region_id\":\"R1\","
		"     \"url\":\"http://r1-int:8774/v2.1\"}"
		"  ]}]}}";
	struct vs_error err;
	char *url;

	(void)state;
	vs_error_clear(&err);
	assert_int_equal(osp_catalog_find(TAG, body, strlen(body), "compute",
					  "public", "R2", &url, &err),
			 VS_OK);
	/* The trailing slash goes so that paths join cleanly. */
	assert_string_equal(url, "https://r2.example.com/compute/v2.1");
	free(url);
	assert_int_equal(osp_catalog_find(TAG, body, strlen(body), "compute",
					  "public", "R1", &url, &err),
			 VS_OK);
	assert_string_equal(url, "https://r1a.example.com/v2.1");
	free(url);
	assert_int_equal(osp_catalog_find(TAG, body, strlen(body), "compute",
					  "public", NULL, &url, &err),
			 VS_OK);
	assert_string_equal(url, "https://r2.example.com/compute/v2.1");
	free(url);
	assert_int_equal(osp_catalog_find(TAG, body, strlen(body), "compute",
					  "internal", "R1", &url, &err),
			 VS_OK);
	assert_string_equal(url, "http://r1-int:8774/v2.1");
	free(url);
	assert_int_equal(osp_catalog_find(TAG, body, strlen(body), "compute",
					  "admin", "R1", &url, &err),
			 VS_ERR);
	assert_int_equal(err.cls, VS_EC_CONFIG);
}

static void test_catalog_missing(void **state)
{
	const char *none = "{\"token\":{\"expires_at\":\"x\"}}";
	const char *bad = "{\"token\":{\"catalog\":{}}}";
	struct osp_token tok;
	struct vs_error err;

	(void)state;
	vs_error_clear(&err);
	assert_int_equal(osp_token_parse(TAG, 201, "tok", none, strlen(none),
					 "public", "RegionOne", vs_time_parse,
					 &tok, &err),
			 VS_ERR);
	assert_int_equal(err.cls, VS_EC_CONFIG);
	assert_non_null(strstr(err.message, "the token has no catalog"));
	vs_error_clear(&err);
	assert_int_equal(osp_token_parse(TAG, 201, "tok", bad, strlen(bad),
					 "public", NULL, vs_time_parse, &tok,
					 &err),
			 VS_ERR);
	assert_int_equal(err.cls, VS_EC_INVALID_RESPONSE);
}

static void test_keystone_401(void **state)
{
	size_t len;
	char *body = sample("osp_keystone_error_401.json", &len);
	struct osp_token tok;
	struct vs_error err;

	(void)state;
	vs_error_clear(&err);
	assert_int_equal(osp_token_parse(TAG, 401, NULL, body, len, "public",
					 NULL, vs_time_parse, &tok, &err),
			 VS_ERR);
	assert_int_equal(err.cls, VS_EC_AUTH);
	assert_int_equal(err.http_status, 401);
	assert_int_equal(err.retryable, 0);
	assert_string_equal(err.message,
			    "osp-lab: Keystone refused authentication: HTTP "
			    "401: The request you have made requires "
			    "authentication.");
	assert_null(tok.token);

	/* Not JSON at all: still one clean line. */
	vs_error_clear(&err);
	assert_int_equal(osp_token_parse(TAG, 503, NULL, "<html>\n</html>", 14,
					 "public", NULL, vs_time_parse, &tok,
					 &err),
			 VS_ERR);
	assert_int_equal(err.cls, VS_EC_SERVER);
	assert_int_equal(err.retryable, 1);
	assert_string_equal(err.message, "osp-lab: Keystone refused "
					 "authentication: HTTP 503");
	vs_error_clear(&err);
	assert_int_equal(osp_token_parse(TAG, 404, NULL, NULL, 0, "public",
					 NULL, vs_time_parse, &tok, &err),
			 VS_ERR);
	assert_int_equal(err.cls, VS_EC_CONFIG);
	free(body);
}

/* ------------------------------------------------------------------ */

static const char *md(const struct vs_vm *vm, const char *key)
{
	size_t i;

	for (i = 0; i < vm->n_metadata; i++)
		if (strcmp(vm->metadata[i].key, key) == 0)
			return vm->metadata[i].value;
	return NULL;
}

static void test_servers_page1(void **state)
{
	size_t len;
	char *body = sample("osp_servers_detail_page1.json", &len);
	struct osp_page p;
	struct vs_error err;
	const struct vs_vm *a, *b;

	(void)state;
	memset(&p, 0, sizeof(p));
	vs_error_clear(&err);
	assert_int_equal(
		osp_servers_parse(TAG, body, len, vs_time_parse, &p, &err),
		VS_OK);
	assert_int_equal(p.n, 2);
	assert_int_equal(p.skipped, 0);
	assert_string_equal(p.next, "http://127.0.0.1:8774/v2.1/"
				    "a99e9b4e620e4db09a2dfb6e42a01e66/servers/"
				    "detail?limit=2&marker="
				    "9b1c2d3e-4f5a-4b6c-8d7e-0f1a2b3c4d5e");
	a = &p.items[0].vm;
	assert_string_equal(a->id, "f5dc173b-6804-445a-a6d8-c705dad5b5eb");
	assert_string_equal(a->name, "ci-build-7f3a");
	assert_int_equal(a->created, t("2024-05-01T04:01:32Z"));
	assert_int_equal(a->age_source, VS_AGE_CREATED);
	assert_int_equal(a->power, VS_POWER_ON);
	assert_string_equal(a->status, "ACTIVE");
	assert_null(a->task_state);
	assert_null(a->description);
	assert_null(a->platform_protection);
	assert_int_equal(a->n_tags, 0);
	assert_int_equal(a->n_metadata, 1);
	assert_string_equal(md(a, "owner"), "ci");
	assert_null(p.items[0].fault);

	b = &p.items[1].vm;
	assert_string_equal(b->name, "db-primary");
	assert_int_equal(b->power, VS_POWER_OFF);
	assert_string_equal(b->platform_protection, "locked");
	assert_string_equal(b->description, "production database");
	assert_int_equal(b->n_tags, 1);
	assert_string_equal(b->tags[0], "keep");
	assert_string_equal(md(b, "keep"), "true");
	osp_page_release(&p);
	free(body);
}

static void test_servers_page2_and_deleting(void **state)
{
	size_t len;
	char *body = sample("osp_servers_detail_page2.json", &len);
	struct osp_page p;
	struct vs_error err;

	(void)state;
	memset(&p, 0, sizeof(p));
	vs_error_clear(&err);
	assert_int_equal(
		osp_servers_parse(TAG, body, len, vs_time_parse, &p, &err),
		VS_OK);
	assert_int_equal(p.n, 1);
	assert_null(p.next);
	assert_string_equal(p.items[0].vm.status, "ERROR");
	assert_int_equal(p.items[0].vm.power, VS_POWER_UNKNOWN);
	assert_string_equal(p.items[0].fault, "No valid host was found. ");
	osp_page_release(&p);
	free(body);

	body = sample("osp_servers_detail_deleting.json", &len);
	memset(&p, 0, sizeof(p));
	assert_int_equal(
		osp_servers_parse(TAG, body, len, vs_time_parse, &p, &err),
		VS_OK);
	assert_int_equal(p.n, 1);
	assert_string_equal(p.items[0].vm.task_state, "deleting");
	/* A missing "locked" (older microversion) is no protection. */
	assert_null(p.items[0].vm.platform_protection);
	osp_page_release(&p);
	free(body);
}

/* Pages accumulate into one struct osp_page. */
static void test_servers_two_pages_accumulate(void **state)
{
	size_t l1, l2;
	char *b1 = sample("osp_servers_detail_page1.json", &l1);
	char *b2 = sample("osp_servers_detail_page2.json", &l2);
	struct osp_page p;
	struct vs_error err;

	(void)state;
	memset(&p, 0, sizeof(p));
	vs_error_clear(&err);
	assert_int_equal(
		osp_servers_parse(TAG, b1, l1, vs_time_parse, &p, &err), VS_OK);
	free(p.next);
	p.next = NULL;
	assert_int_equal(
		osp_servers_parse(TAG, b2, l2, vs_time_parse, &p, &err), VS_OK);
	assert_int_equal(p.n, 3);
	assert_string_equal(p.items[2].vm.name, "ci-build-91bc");
	osp_page_release(&p);
	free(b1);
	free(b2);
}

static void test_server_single(void **state)
{
	const char *ok = "{\"server\":{\"id\":\"x/y\",\"name\":\"n\","
			 "\"status\":\"SUSPENDED\",\"locked\":true,"
			 "\"created\":\"not a time\"}}";
	const char *gone = "{\"server\":{\"id\":\"x\",\"name\":\"n\","
			   "\"status\":\"DELETED\"}}";
	struct osp_server s;
	struct vs_error err;

	(void)state;
	vs_error_clear(&err);
	assert_int_equal(
		osp_server_parse(TAG, ok, strlen(ok), vs_time_parse, &s, &err),
		VS_OK);
	assert_string_equal(s.vm.id, "x/y");
	assert_int_equal(s.vm.power, VS_POWER_SUSPENDED);
	assert_string_equal(s.vm.platform_protection, "locked");
	assert_int_equal(s.vm.created, VS_TIME_UNKNOWN);
	assert_int_equal(s.vm.age_source, VS_AGE_NONE);
	osp_server_release(&s);

	assert_int_equal(osp_server_parse(TAG, gone, strlen(gone),
					  vs_time_parse, &s, &err),
			 VS_OK);
	assert_string_equal(s.vm.status, "DELETED");
	osp_server_release(&s);

	assert_int_equal(osp_server_parse(TAG, "{\"server\":[]}", 13,
					  vs_time_parse, &s, &err),
			 VS_ERR);
	assert_int_equal(err.cls, VS_EC_INVALID_RESPONSE);
	assert_null(s.vm.id);
}

/* Each hostile entry is decided on its own; the page survives. */
static void test_servers_hostile_entries(void **state)
{
	const char *body =
		"{\"servers\":["
		" 42,"
		" {\"name\":\"no-id\"},"
		" {\"id\":\"\",\"name\":\"empty-id\"},"
		" {\"id\":7,\"name\":\"numeric-id\"},"
		" {\"id\":\"n1\"},"
		" {\"id\":\"t1\",\"name\":\"tags-object\",\"tags\":{}},"
		" {\"id\":\"t2\",\"name\":\"tag-number\",\"tags\":[\"a\",5]},"
		" {\"id\":\"m1\",\"name\":\"md-array\",\"metadata\":[]},"
		" {\"id\":\"gone\",\"name\":\"deleted\",\"status\":\"DELETED\"}"
		","
		" {\"id\":\"ok1\",\"name\":\"odd-types\",\"status\":5,"
		"  \"created\":12345,\"OS-EXT-STS:task_state\":[],"
		"  \"description\":{},\"locked\":\"yes\",\"tags\":null,"
		"  \"metadata\":{\"n\":5,\"b\":true,\"z\":null,\"o\":{\"k\":1},"
		"  \"s\":\"v\"},\"fault\":\"oops\"},"
		" {\"id\":\"ok2\",\"name\":\"\",\"created\":\"2024-05-01\","
		"  \"locked\":null}"
		"]}";
	struct osp_page p;
	struct vs_error err;
	const struct vs_vm *vm;

	(void)state;
	memset(&p, 0, sizeof(p));
	vs_error_clear(&err);
	assert_int_equal(osp_servers_parse(TAG, body, strlen(body),
					   vs_time_parse, &p, &err),
			 VS_OK);
	assert_int_equal(p.n, 2);
	assert_int_equal(p.skipped, 8);
	assert_string_equal(p.skip_reason, "an entry is not an object");
	assert_null(p.next);

	vm = &p.items[0].vm;
	assert_string_equal(vm->id, "ok1");
	assert_null(vm->status);
	assert_int_equal(vm->power, VS_POWER_UNKNOWN);
	assert_int_equal(vm->created, VS_TIME_UNKNOWN);
	assert_int_equal(vm->age_source, VS_AGE_NONE);
	assert_null(vm->task_state);
	assert_null(vm->description);
	/* A "locked" we cannot read protects. */
	assert_string_equal(vm->platform_protection, "locked");
	assert_int_equal(vm->n_tags, 0);
	assert_int_equal(vm->n_metadata, 5);
	assert_string_equal(md(vm, "n"), "5");
	assert_string_equal(md(vm, "b"), "true");
	assert_string_equal(md(vm, "z"), "null");
	assert_string_equal(md(vm, "o"), "{\"k\":1}");
	assert_string_equal(md(vm, "s"), "v");
	assert_null(p.items[0].fault);

	vm = &p.items[1].vm;
	assert_string_equal(vm->id, "ok2");
	assert_string_equal(vm->name, "");
	assert_int_equal(vm->created, t("2024-05-01T00:00:00Z"));
	assert_null(vm->platform_protection);
	osp_page_release(&p);
}

static void test_servers_hostile_pages(void **state)
{
	static const char *const bad[] = {
		"",
		"not json",
		"[]",
		"{}",
		"{\"servers\":{}}",
		"{\"servers\":null}",
		"{\"servers\":[],\"servers_links\":\"x\"}",
		"{\"servers\":[],\"servers_links\":[{\"rel\":\"next\"}]}",
		"{\"servers\":[],\"servers_links\":[{\"rel\":\"next\","
		"\"href\":5}]}",
		/* Invalid UTF-8 in a name. */
		"{\"servers\":[{\"id\":\"a\",\"name\":\"\xff\xfe\"}]}",
		/* A NUL hidden in a string. */
		"{\"servers\":[{\"id\":\"a\\u0000b\",\"name\":\"x\"}]}",
		/* Trailing garbage. */
		"{\"servers\":[]} {}",
	};
	struct osp_page p;
	struct vs_error err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&p, 0, sizeof(p));
		vs_error_clear(&err);
		assert_int_equal(osp_servers_parse(TAG, bad[i], strlen(bad[i]),
						   vs_time_parse, &p, &err),
				 VS_ERR);
		assert_int_equal(err.cls, VS_EC_INVALID_RESPONSE);
		assert_null(strchr(err.message, '\n'));
		assert_int_equal(strncmp(err.message, "osp-lab: ", 9), 0);
		osp_page_release(&p);
	}
	/* NULL body (an empty response). */
	memset(&p, 0, sizeof(p));
	vs_error_clear(&err);
	assert_int_equal(
		osp_servers_parse(TAG, NULL, 0, vs_time_parse, &p, &err),
		VS_ERR);
	osp_page_release(&p);
}

static void test_servers_deep_nesting(void **state)
{
	size_t depth = 100000, i;
	char *body = malloc(2 * depth + 64), *q = body;
	struct osp_page p;
	struct vs_error err;

	(void)state;
	assert_non_null(body);
	q += snprintf(q, 64,
		      "{\"servers\":[{\"id\":\"a\",\"name\":\"b\",\"x\":");
	for (i = 0; i < depth; i++)
		*q++ = '[';
	for (i = 0; i < depth; i++)
		*q++ = ']';
	memcpy(q, "}]}", 4);
	memset(&p, 0, sizeof(p));
	vs_error_clear(&err);
	assert_int_equal(osp_servers_parse(TAG, body, strlen(body),
					   vs_time_parse, &p, &err),
			 VS_ERR);
	assert_int_equal(err.cls, VS_EC_INVALID_RESPONSE);
	osp_page_release(&p);
	free(body);
}

static void test_servers_many(void **state)
{
	struct vs_buf b;
	struct osp_page p;
	struct vs_error err;
	size_t i, n = 5000;

	(void)state;
	vs_buf_init(&b, 0);
	assert_int_equal(vs_buf_adds(&b, "{\"servers\":["), 0);
	for (i = 0; i < n; i++)
		assert_int_equal(vs_buf_addf(&b,
					     "%s{\"id\":\"id-%zu\",\"name\":"
					     "\"vm-%zu\",\"tags\":[\"t\"],"
					     "\"metadata\":{\"k\":\"v\"}}",
					     i ? "," : "", i, i),
				 0);
	assert_int_equal(vs_buf_adds(&b, "]}"), 0);
	memset(&p, 0, sizeof(p));
	vs_error_clear(&err);
	assert_int_equal(
		osp_servers_parse(TAG, b.s, b.len, vs_time_parse, &p, &err),
		VS_OK);
	assert_int_equal(p.n, n);
	assert_string_equal(p.items[n - 1].vm.id, "id-4999");
	osp_page_release(&p);
	vs_buf_release(&b);
}

/* ------------------------------------------------------------------ */

static void test_fault_messages(void **state)
{
	static const struct {
		const char *file, *msg;
		int locked;
	} cases[] = {
		{"osp_error_badrequest_marker.json",
		 "marker [deadbeef-0000-0000-0000-000000000000] not found", 0},
		{"osp_error_conflict_locked.json",
		 "Instance 9b1c2d3e-4f5a-4b6c-8d7e-0f1a2b3c4d5e is locked", 1},
		{"osp_error_conflict_state.json",
		 "Cannot 'stop' instance bdfd176d-2dd8-439b-ab91-b5ff211d2734 "
		 "while it is in vm_state stopped",
		 0},
		{"osp_error_itemnotfound.json",
		 "Instance f5dc173b-6804-445a-a6d8-c705dad5b5eb could not be "
		 "found.",
		 0},
		{"osp_error_overlimit.json",
		 "Too many requests, please retry later.", 0},
		{"osp_keystone_error_401.json",
		 "The request you have made requires authentication.", 0},
	};
	const char *esc = "{\"x\":{\"message\":\"a\\nb\\u001b[31m\"}}";
	char msg[OSP_MSG_MAX];
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *body = sample(cases[i].file, &len);
		osp_fault_message(body, len, msg, sizeof(msg));
		assert_string_equal(msg, cases[i].msg);
		assert_int_equal(osp_fault_is_locked(msg), cases[i].locked);
		free(body);
	}
	assert_string_equal(osp_fault_message("<html>", 6, msg, sizeof(msg)),
			    "");
	assert_string_equal(osp_fault_message(NULL, 0, msg, sizeof(msg)), "");
	assert_string_equal(osp_fault_message("{\"x\":{\"message\":5}}", 19,
					      msg, sizeof(msg)),
			    "");
	/* Control characters never reach a log line. */
	osp_fault_message(esc, strlen(esc), msg, sizeof(msg));
	assert_string_equal(msg, "a?b?[31m");
	assert_int_equal(osp_fault_is_locked(NULL), 0);
}

static void test_fault_message_cut(void **state)
{
	struct vs_buf b;
	char msg[32];

	(void)state;
	vs_buf_init(&b, 0);
	assert_int_equal(vs_buf_adds(&b, "{\"e\":{\"message\":\""), 0);
	for (int i = 0; i < 100; i++)
		assert_int_equal(vs_buf_adds(&b, "\xc3\xa9"), 0); /* é */
	assert_int_equal(vs_buf_adds(&b, "\"}}"), 0);
	osp_fault_message(b.s, b.len, msg, sizeof(msg));
	assert_true(strlen(msg) < sizeof(msg));
	assert_string_equal(msg + strlen(msg) - 3, "...");
	/* Cut on a character boundary: an even number of bytes of é. */
	assert_int_equal((strlen(msg) - 3) % 2, 0);
	vs_buf_release(&b);
}

/* ------------------------------------------------------------------ */

static void assert_json_equal_sample(const char *body, const char *file)
{
	size_t len;
	char *want = sample(file, &len);
	json_t *a = json_loads(body, 0, NULL),
	       *b = json_loadb(want, len, 0, NULL);

	assert_non_null(a);
	assert_non_null(b);
	if (!json_equal(a, b))
		fail_msg("%s differs from %s", body, file);
	json_decref(a);
	json_decref(b);
	free(want);
}

static void test_auth_bodies(void **state)
{
	struct osp_settings s;
	struct vs_error err;
	char *body;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.method = OSP_AUTH_PASSWORD;
	s.username = (char *)"ci-cleaner";
	s.password = (char *)"s3cret";
	s.project_name = (char *)"ci";
	vs_error_clear(&err);
	/* Both domains default to "Default" by name. */
	assert_int_equal(osp_auth_body(TAG, &s, &body, &err), VS_OK);
	assert_json_equal_sample(body, "osp_auth_password_request.json");
	pv_free_secret(body);

	s.user_domain_name = (char *)"Default";
	s.project_domain_name = (char *)"Default";
	assert_int_equal(osp_auth_body(TAG, &s, &body, &err), VS_OK);
	assert_json_equal_sample(body, "osp_auth_password_request.json");
	pv_free_secret(body);

	memset(&s, 0, sizeof(s));
	s.method = OSP_AUTH_APPCRED;
	s.appcred_id = (char *)"423f19a4ac1e4f48bbb4180756e6eb6c";
	s.appcred_secret = (char *)"rEaqvJka48mpv";
	s.project_name = (char *)"ignored: bound to the credential";
	assert_int_equal(osp_auth_body(TAG, &s, &body, &err), VS_OK);
	assert_json_equal_sample(body, "osp_auth_appcred_request.json");
	pv_free_secret(body);
}

static void test_auth_body_variants(void **state)
{
	struct osp_settings s;
	struct vs_error err;
	json_t *got, *want;
	char *body;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.method = OSP_AUTH_PASSWORD;
	s.user_id = (char *)"u1";
	s.username = (char *)"ignored";
	s.password = (char *)"p\"w";
	s.project_id = (char *)"p1";
	s.project_name = (char *)"ignored";
	vs_error_clear(&err);
	assert_int_equal(osp_auth_body(TAG, &s, &body, &err), VS_OK);
	got = json_loads(body, 0, NULL);
	want = json_pack("{s:{s:{s:[s],s:{s:{s:s,s:s}}},s:{s:{s:s}}}}", "auth",
			 "identity", "methods", "password", "password", "user",
			 "id", "u1", "password", "p\"w", "scope", "project",
			 "id", "p1");
	assert_true(json_equal(got, want));
	json_decref(got);
	json_decref(want);
	pv_free_secret(body);

	/* Domains by id; no project: no scope. */
	s.user_id = NULL;
	s.username = (char *)"u";
	s.user_domain_id = (char *)"d1";
	s.project_id = NULL;
	s.project_name = NULL;
	assert_int_equal(osp_auth_body(TAG, &s, &body, &err), VS_OK);
	got = json_loads(body, 0, NULL);
	want = json_pack("{s:{s:{s:[s],s:{s:{s:s,s:{s:s},s:s}}}}}", "auth",
			 "identity", "methods", "password", "password", "user",
			 "name", "u", "domain", "id", "d1", "password", "p\"w");
	assert_true(json_equal(got, want));
	json_decref(got);
	json_decref(want);
	pv_free_secret(body);

	/* Application credential by name needs its user. */
	memset(&s, 0, sizeof(s));
	s.method = OSP_AUTH_APPCRED;
	s.appcred_name = (char *)"cleaner";
	s.appcred_secret = (char *)"sec";
	assert_int_equal(osp_auth_body(TAG, &s, &body, &err), VS_ERR);
	assert_int_equal(err.cls, VS_EC_CONFIG);
	assert_null(body);
	vs_error_clear(&err);
	s.username = (char *)"u";
	assert_int_equal(osp_auth_body(TAG, &s, &body, &err), VS_OK);
	got = json_loads(body, 0, NULL);
	want = json_pack("{s:{s:{s:[s],s:{s:s,s:s,s:{s:s,s:{s:s}}}}}}", "auth",
			 "identity", "methods", "application_credential",
			 "application_credential", "name", "cleaner", "secret",
			 "sec", "user", "name", "u", "domain", "name",
			 "Default");
	assert_true(json_equal(got, want));
	json_decref(got);
	json_decref(want);
	pv_free_secret(body);

	/* Missing pieces are config errors that name no secret. */
	s.appcred_secret = NULL;
	vs_error_clear(&err);
	assert_int_equal(osp_auth_body(TAG, &s, &body, &err), VS_ERR);
	assert_string_equal(err.message,
			    "osp-lab: no application_credential_secret");
	memset(&s, 0, sizeof(s));
	s.method = OSP_AUTH_PASSWORD;
	s.username = (char *)"u";
	vs_error_clear(&err);
	assert_int_equal(osp_auth_body(TAG, &s, &body, &err), VS_ERR);
	assert_int_equal(err.cls, VS_EC_CONFIG);
	assert_non_null(strstr(err.message, "no password"));
	s.username = NULL;
	s.password = (char *)"x";
	vs_error_clear(&err);
	assert_int_equal(osp_auth_body(TAG, &s, &body, &err), VS_ERR);
	assert_string_equal(err.message, "osp-lab: no username or user_id");
}

/* ------------------------------------------------------------------ */

static void test_same_origin(void **state)
{
	(void)state;
	assert_true(osp_same_origin("http://h:8774/v2.1", "http://H:8774/x"));
	assert_true(osp_same_origin("https://h/v2.1", "https://h:443/a?b"));
	assert_true(osp_same_origin("http://h", "http://u:p@h:80/"));
	assert_true(
		osp_same_origin("http://[::1]:8774/a", "http://[::1]:8774"));
	assert_false(osp_same_origin("http://h/v2.1", "https://h/v2.1"));
	assert_false(osp_same_origin("http://h:8774/", "http://h:8775/"));
	assert_false(osp_same_origin("http://h/", "http://h.evil/"));
	assert_false(osp_same_origin("http://h/", "http://h@evil/"));
	assert_false(osp_same_origin("http://[::1]:1/", "http://[::2]:1/"));
	assert_false(osp_same_origin("http://h:99999/", "http://h:99999/"));
	assert_false(osp_same_origin("http://h:x/", "http://h:x/"));
	assert_false(osp_same_origin("http:///", "http:///"));
	assert_false(osp_same_origin("file:///etc", "file:///etc"));
	assert_false(osp_same_origin(NULL, "http://h/"));
}

static void test_next_url(void **state)
{
	const char *c = "https://nova.example.com/compute/v2.1/p1";
	char *u;

	(void)state;
	u = osp_next_url(c, "https://nova.example.com/compute/v2.1/p1/servers/"
			    "detail?limit=2&marker=abc");
	assert_string_equal(u, "https://nova.example.com/compute/v2.1/p1/"
			       "servers/detail?limit=2&marker=abc");
	free(u);
	u = osp_next_url(c, "/compute/v2.1/p1/servers/detail?marker=abc");
	assert_string_equal(u, "https://nova.example.com/compute/v2.1/p1/"
			       "servers/detail?marker=abc");
	free(u);
	/* Another origin: the token stays home, the marker is kept. */
	u = osp_next_url(c, "http://10.0.0.5:8774/v2.1/p1/servers/detail?"
			    "limit=2&marker=abc#frag");
	assert_string_equal(u, "https://nova.example.com/compute/v2.1/p1/"
			       "servers/detail?limit=2&marker=abc");
	free(u);
	assert_null(osp_next_url(c, "http://evil.example.com/no-query"));
	assert_null(osp_next_url(c, "javascript:alert(1)"));
	assert_null(osp_next_url(c, "//evil.example.com/x?marker=a"));
	assert_null(osp_next_url(c, "/x?marker=a b"));
	assert_null(osp_next_url(c, "/x?marker=a\nb"));
	assert_null(osp_next_url(c, ""));
	assert_null(osp_next_url("not a url", "/x"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tokens_url),
		cmocka_unit_test(test_token_sample),
		cmocka_unit_test(test_catalog_identity_and_interfaces),
		cmocka_unit_test(test_catalog_variants),
		cmocka_unit_test(test_catalog_missing),
		cmocka_unit_test(test_keystone_401),
		cmocka_unit_test(test_servers_page1),
		cmocka_unit_test(test_servers_page2_and_deleting),
		cmocka_unit_test(test_servers_two_pages_accumulate),
		cmocka_unit_test(test_server_single),
		cmocka_unit_test(test_servers_hostile_entries),
		cmocka_unit_test(test_servers_hostile_pages),
		cmocka_unit_test(test_servers_deep_nesting),
		cmocka_unit_test(test_servers_many),
		cmocka_unit_test(test_fault_messages),
		cmocka_unit_test(test_fault_message_cut),
		cmocka_unit_test(test_auth_bodies),
		cmocka_unit_test(test_auth_body_variants),
		cmocka_unit_test(test_same_origin),
		cmocka_unit_test(test_next_url),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
