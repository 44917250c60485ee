/*
 * test_vmw_parse.c - the vSphere provider's pure parsers, fed with the
 * real samples from ${VS_SHARED:-../shared}/api/samples and with hostile
 * bodies: session tokens, error envelopes of both generations, the
 * result cap, VM lists, power states, folder lists, tag associations,
 * VI/JSON configs, plus the helpers (percent-encoding, the string map,
 * the id set, cleaning).
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

#include "timeutil.h"
#include "vmware/vmw_internal.h"

#define TAG  "vc-lab"
#define S(x) (x), strlen(x)

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

static void fault_of_sample(const char *name, struct vmw_fault *f)
{
	size_t len;
	char *b = sample(name, &len);

	vmw_fault_parse(b, len, f);
	free(b);
}

/* ------------------------------------------------------------------ */
/* Sessions.                                                            */

static void test_token_samples(void **state)
{
	static const char *const names[] = {
		"vmware_session_create.json",
		"vmware_session_create_legacy.json"};
	size_t i;

	(void)state;
	for (i = 0; i < 2; i++) {
		struct vs_error err;
		size_t len;
		char *b = sample(names[i], &len), *tok = NULL;

		vs_error_clear(&err);
		assert_int_equal(vmw_token_parse(TAG, b, len, &tok, &err), 0);
		assert_string_equal(tok, "b00db39f948d13ea1e59b4d6fce8a2c9");
		pv_free_secret(tok);
		free(b);
	}
}

static void test_token_hostile(void **state)
{
	static const char *const bad[] = {
		"",
		"not json",
		"\"\"",
		"42",
		"null",
		"{\"value\": 42}",
		"{\"value\": \"\"}",
		"{\"token\": \"abc\"}",
		"{\"value\": \"abc\", \"more\": 1}",
		"[\"abc\"]",
		"\"abc def\"",
		"\"abc\\r\\nX-Evil: 1\"",
		"\"abc\\u00e9\"",
		"\"abc",
	};
	char big[6000];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vs_error err;
		char *tok = (char *)"x";

		vs_error_clear(&err);
		assert_int_equal(vmw_token_parse(TAG, S(bad[i]), &tok, &err),
				 VS_ERR);
		assert_null(tok);
		assert_int_equal(err.cls, VS_EC_INVALID_RESPONSE);
		assert_non_null(strstr(err.message, TAG));
		/* The message never echoes the body (a token). */
		assert_null(strstr(err.message, "abc"));
	}
	/* A token longer than any header should hold. */
	big[0] = '"';
	memset(big + 1, 'a', sizeof(big) - 3);
	big[sizeof(big) - 2] = '"';
	big[sizeof(big) - 1] = '\0';
	{
		struct vs_error err;
		char *tok = NULL;

		vs_error_clear(&err);
		assert_int_equal(vmw_token_parse(TAG, S(big), &tok, &err),
				 VS_ERR);
	}
	/* The session info answer is no token. */
	{
		struct vs_error err;
		size_t len;
		char *b = sample("vmware_session_get.json", &len), *tok = NULL;

		vs_error_clear(&err);
		assert_int_equal(vmw_token_parse(TAG, b, len, &tok, &err),
				 VS_ERR);
		free(b);
	}
}

/* ------------------------------------------------------------------ */
/* Errors.                                                              */

static void test_fault_samples(void **state)
{
	struct vmw_fault f;
	enum vs_err_class cls;
	int retry;

	(void)state;
	fault_of_sample("vmware_error_notfound.json", &f);
	assert_string_equal(f.type, "NOT_FOUND");
	assert_string_equal(f.id, "com.vmware.api.vcenter.vm.not_found");
	assert_non_null(strstr(f.message, "does not exist"));
	vmw_fault_class(404, &f, &cls, &retry);
	assert_int_equal(cls, VS_EC_NOT_FOUND);
	assert_int_equal(retry, 0);

	fault_of_sample("vmware_error_notfound_legacy.json", &f);
	assert_string_equal(f.type, "NOT_FOUND");
	assert_non_null(strstr(f.message, "vm-3192"));

	fault_of_sample("vmware_error_unauthenticated.json", &f);
	assert_string_equal(f.type, "UNAUTHENTICATED");
	assert_string_equal(f.message, "Authentication required.");
	vmw_fault_class(401, &f, &cls, &retry);
	assert_int_equal(cls, VS_EC_AUTH);

	/* 6.x omits value.error_type: the type name says it. */
	fault_of_sample("vmware_error_unauthenticated_legacy.json", &f);
	assert_string_equal(f.type, "UNAUTHENTICATED");
	assert_string_equal(f.message, "Authentication required.");
	vmw_fault_class(401, &f, &cls, &retry);
	assert_int_equal(cls, VS_EC_AUTH);

	fault_of_sample("vmware_error_delete_powered_on.json", &f);
	assert_true(vmw_fault_is(&f, "NOT_ALLOWED_IN_CURRENT_STATE"));
	vmw_fault_class(400, &f, &cls, &retry);
	assert_int_equal(cls, VS_EC_CONFLICT);
	assert_int_equal(retry, 1);
	assert_false(vmw_fault_too_many(400, &f));

	fault_of_sample("vmware_error_already_powered_off.json", &f);
	assert_true(vmw_fault_is(&f, "ALREADY_IN_DESIRED_STATE"));
	assert_string_equal(
		f.id, "com.vmware.api.vcenter.vm.power.already_powered_off");
}

static void test_too_many(void **state)
{
	struct vmw_fault f;
	enum vs_err_class cls;
	int retry;

	(void)state;
	fault_of_sample("vmware_error_too_many_vms.json", &f);
	assert_string_equal(f.type, "UNABLE_TO_ALLOCATE_RESOURCE");
	assert_true(vmw_fault_too_many(500, &f));
	assert_false(vmw_fault_too_many(503, &f));
	assert_false(vmw_fault_too_many(200, &f));
	vmw_fault_class(500, &f, &cls, &retry);
	assert_int_equal(cls, VS_EC_SERVER);
	assert_int_equal(retry, 0);

	fault_of_sample("vmware_error_too_many_vms_legacy.json", &f);
	assert_string_equal(f.type, "UNABLE_TO_ALLOCATE_RESOURCE");
	assert_true(vmw_fault_too_many(400, &f));

	/* The message id alone is enough (a /rest body without the type). */
	vmw_fault_parse(S("{\"type\":\"com.vmware.vapi.std.errors.error\","
			  "\"value\":{\"messages\":[{\"args\":[],"
			  "\"default_message\":\"x\",\"id\":"
			  "\"com.vmware.api.vcenter.vm.too_many_matches\"}]}}"),
			&f);
	assert_string_equal(f.type, "ERROR");
	assert_true(vmw_fault_too_many(400, &f));
}

static void test_fault_classes(void **state)
{
	static const struct {
		const char *body;
		long status;
		enum vs_err_class cls;
		int retry;
	} cases[] = {
		/* Busy is pushback: throttled, so the core slows down. */
		{"{\"error_type\":\"RESOURCE_BUSY\",\"messages\":[]}", 500,
		 VS_EC_THROTTLED, 1},
		/* /rest reports a busy VM as a plain 400. */
		{"{\"type\":\"com.vmware.vapi.std.errors.resource_busy\","
		 "\"value\":{\"messages\":[]}}",
		 400, VS_EC_THROTTLED, 1},
		{"{\"error_type\":\"RESOURCE_IN_USE\",\"messages\":[]}", 500,
		 VS_EC_LOCKED, 1},
		{"{\"error_type\":\"SERVICE_UNAVAILABLE\",\"messages\":[]}",
		 503, VS_EC_SERVER, 1},
		{"{\"error_type\":\"UNAUTHORIZED\",\"messages\":[]}", 403,
		 VS_EC_AUTH, 0},
		{"{\"error_type\":\"INVALID_ARGUMENT\",\"messages\":[]}", 400,
		 VS_EC_CLIENT, 0},
		{"{\"error_type\":\"TIMED_OUT\",\"messages\":[]}", 500,
		 VS_EC_TIMEOUT, 1},
		{"{\"error_type\":\"ERROR\",\"messages\":[]}", 500,
		 VS_EC_SERVER, 1},
		{"Bad Gateway\n", 502, VS_EC_SERVER, 1},
		{"Too Many Requests\n", 429, VS_EC_THROTTLED, 1},
		{"", 404, VS_EC_NOT_FOUND, 0},
		{"", 401, VS_EC_AUTH, 0},
		{"<html>", 400, VS_EC_CLIENT, 0},
		{"", 409, VS_EC_CONFLICT, 1},
		{"{}", 200, VS_EC_INVALID_RESPONSE, 0},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vmw_fault f;
		enum vs_err_class cls;
		int retry;

		vmw_fault_parse(S(cases[i].body), &f);
		vmw_fault_class(cases[i].status, &f, &cls, &retry);
		assert_int_equal(cls, cases[i].cls);
		assert_int_equal(retry, cases[i].retry);
	}
}

static void test_fault_hostile(void **state)
{
	static const char *const bodies[] = {
		"",
		"null",
		"[]",
		"\"x\"",
		"{\"error_type\": 5}",
		"{\"error_type\": \"X\", \"messages\": 5}",
		"{\"error_type\": \"X\", \"messages\": [5]}",
		"{\"error_type\": \"X\", \"messages\": [{\"id\": 5, "
		"\"default_message\": []}]}",
		"{\"type\": \"com.vmware.vapi.std.errors.x\", \"value\": 7}",
		"{\"type\": 7, \"value\": {}}",
		"{\"error_type\": \"X\"",
	};
	struct vmw_fault f;
	char big[2048];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		vmw_fault_parse(S(bodies[i]), &f);
		assert_string_equal(f.message, "");
		assert_string_equal(f.id, "");
	}
	/* Control characters become '?', long messages are cut. */
	vmw_fault_parse(S("{\"error_type\":\"not_found\\n\",\"messages\":[{"
			  "\"default_message\":\"a\\nb\\u001bc\",\"id\":\"i\","
			  "\"args\":[]}]}"),
			&f);
	assert_string_equal(f.message, "a?b?c");
	assert_string_equal(f.type, "NOT_FOUND?");
	snprintf(big, sizeof(big),
		 "{\"error_type\":\"ERROR\",\"messages\":[{\"default_message\""
		 ":\"%01500d\",\"id\":\"x\",\"args\":[]}]}",
		 0);
	vmw_fault_parse(S(big), &f);
	assert_true(strlen(f.message) < VMW_MSG_MAX);
	assert_non_null(strstr(f.message, "..."));
	/* A NULL body is no error body. */
	vmw_fault_parse(NULL, 0, &f);
	assert_string_equal(f.type, "");
}

/* ------------------------------------------------------------------ */
/* VM lists.                                                            */

static void test_vm_list_samples(void **state)
{
	struct vmw_summaries s;
	struct vs_error err;
	size_t len;
	char *b;

	(void)state;
	b = sample("vmware_vm_list.json", &len);
	memset(&s, 0, sizeof(s));
	vs_error_clear(&err);
	assert_int_equal(vmw_vm_list_parse(TAG, b, len, &s, &err), 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.skipped, 0);
	assert_string_equal(s.items[0].vm.id, "vm-1021");
	assert_string_equal(s.items[0].vm.name, "ci-build-7f3a");
	assert_int_equal(s.items[0].vm.power, VS_POWER_ON);
	assert_string_equal(s.items[0].vm.status, "POWERED_ON");
	assert_int_equal(s.items[0].cpu_count, 2);
	assert_int_equal(s.items[0].memory_mib, 4096);
	assert_true(s.items[0].vm.created == VS_TIME_UNKNOWN);
	assert_int_equal(s.items[0].vm.age_source, VS_AGE_NONE);
	assert_null(s.items[0].vm.platform_protection);
	assert_int_equal(s.items[1].vm.power, VS_POWER_OFF);
	assert_int_equal(s.items[1].memory_mib, 8192);
	/* Config unavailable: no cpu_count, no memory. */
	assert_string_equal(s.items[2].vm.name, "half-created-vm");
	assert_int_equal(s.items[2].cpu_count, -1);
	assert_int_equal(s.items[2].memory_mib, -1);
	vmw_summaries_release(&s);
	free(b);

	b = sample("vmware_vm_list_legacy.json", &len);
	memset(&s, 0, sizeof(s));
	assert_int_equal(vmw_vm_list_parse(TAG, b, len, &s, &err), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.items[1].vm.power, VS_POWER_SUSPENDED);
	assert_string_equal(s.items[1].vm.id, "vm-1022");
	vmw_summaries_release(&s);
	free(b);
}

static void test_vm_list_fields(void **state)
{
	struct vmw_summaries s;
	struct vs_error err;

	(void)state;
	memset(&s, 0, sizeof(s));
	vs_error_clear(&err);
	/* memory_size_mib in any case; an unknown power state. */
	assert_int_equal(
		vmw_vm_list_parse(
			TAG,
			S("[{\"vm\":\"vm-1\",\"name\":\"a\",\"power_state\":"
			  "\"POWERED_ON\",\"memory_size_mib\":512},"
			  "{\"vm\":\"vm-2\",\"name\":\"b\",\"power_state\":"
			  "\"WEIRD\",\"MEMORY_SIZE_MIB\":7,\"cpu_count\":"
			  "\"4\"},"
			  "{\"vm\":\"vm-3\",\"name\":\"c\"}]"),
			&s, &err),
		0);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.items[0].memory_mib, 512);
	assert_int_equal(s.items[1].memory_mib, 7);
	assert_int_equal(s.items[1].vm.power, VS_POWER_UNKNOWN);
	assert_string_equal(s.items[1].vm.status, "WEIRD");
	/* A string where a number belongs reads as absent. */
	assert_int_equal(s.items[1].cpu_count, -1);
	assert_int_equal(s.items[2].vm.power, VS_POWER_UNKNOWN);
	assert_null(s.items[2].vm.status);
	vmw_summaries_release(&s);

	/* An empty list is a list. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(vmw_vm_list_parse(TAG, S("[]"), &s, &err), 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(vmw_vm_list_parse(TAG, S("{\"value\":[]}"), &s, &err),
			 0);
	assert_int_equal(s.n, 0);
	vmw_summaries_release(&s);
}

static void test_vm_list_hostile(void **state)
{
	static const char *const bad[] = {
		"",
		"nope",
		"{}",
		"{\"value\": {}}",
		"{\"value\": [], \"x\": 1}",
		"null",
		"\"[]\"",
		"[{\"vm\":\"vm-1\",\"name\":\"a\"}",
	};
	struct vmw_summaries s;
	struct vs_error err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&s, 0, sizeof(s));
		vs_error_clear(&err);
		assert_int_equal(vmw_vm_list_parse(TAG, S(bad[i]), &s, &err),
				 VS_ERR);
		assert_int_equal(err.cls, VS_EC_INVALID_RESPONSE);
		vmw_summaries_release(&s);
	}
	/* Broken entries are left out (never deleted) and counted. */
	memset(&s, 0, sizeof(s));
	vs_error_clear(&err);
	assert_int_equal(
		vmw_vm_list_parse(TAG,
				  S("[5, null, [], {\"name\":\"no-id\"},"
				    "{\"vm\":\"\",\"name\":\"empty-id\"},"
				    "{\"vm\":7,\"name\":\"num-id\"},"
				    "{\"vm\":\"vm-9\"},"
				    "{\"vm\":\"vm-10\",\"name\":\"\"},"
				    "{\"vm\":\"vm-11\",\"name\":\"ok\"}]"),
				  &s, &err),
		0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.items[0].vm.id, "vm-11");
	assert_int_equal(s.skipped, 8);
	assert_non_null(strstr(s.skip_reason, "entry 0"));
	vmw_summaries_release(&s);
}

/* ------------------------------------------------------------------ */
/* Power, folders.                                                      */

static void test_power(void **state)
{
	struct vs_error err;
	enum vs_power p;
	size_t len;
	char *b = sample("vmware_power_get.json", &len);

	(void)state;
	vs_error_clear(&err);
	assert_int_equal(vmw_power_parse(TAG, b, len, &p, &err), 0);
	assert_int_equal(p, VS_POWER_OFF);
	free(b);
	assert_int_equal(vmw_power_parse(TAG,
					 S("{\"value\":{\"state\":"
					   "\"POWERED_ON\"}}"),
					 &p, &err),
			 0);
	assert_int_equal(p, VS_POWER_ON);
	assert_int_equal(
		vmw_power_parse(TAG, S("{\"state\":\"SUSPENDED\"}"), &p, &err),
		0);
	assert_int_equal(p, VS_POWER_SUSPENDED);
	/* An unknown word is unknown (and then stopped to be safe). */
	assert_int_equal(
		vmw_power_parse(TAG, S("{\"state\":\"BLUE\"}"), &p, &err), 0);
	assert_int_equal(p, VS_POWER_UNKNOWN);
	assert_int_equal(vmw_power_parse(TAG, S("{\"state\":1}"), &p, &err),
			 VS_ERR);
	vs_error_clear(&err);
	assert_int_equal(vmw_power_parse(TAG, S("[]"), &p, &err), VS_ERR);
	assert_int_equal(err.cls, VS_EC_INVALID_RESPONSE);
	vs_error_clear(&err);
	assert_int_equal(vmw_power_parse(TAG, S(""), &p, &err), VS_ERR);
	/* The VM info sample carries no power answer shape. */
	b = sample("vmware_vm_get.json", &len);
	vs_error_clear(&err);
	assert_int_equal(vmw_power_parse(TAG, b, len, &p, &err), VS_ERR);
	free(b);
}

static void test_ids(void **state)
{
	struct vs_error err;
	char **ids;
	size_t n;

	(void)state;
	vs_error_clear(&err);
	assert_int_equal(
		vmw_ids_parse(TAG,
			      S("[{\"folder\":\"group-v1001\",\"name\":\"ci\","
				"\"type\":\"VIRTUAL_MACHINE\"},{\"name\":"
				"\"x\"},5,{\"folder\":7},{\"folder\":"
				"\"group-v3\"}]"),
			      "folder", &ids, &n, &err),
		0);
	assert_int_equal(n, 2);
	assert_string_equal(ids[0], "group-v1001");
	assert_string_equal(ids[1], "group-v3");
	vmw_ids_free(ids, n);
	assert_int_equal(vmw_ids_parse(TAG,
				       S("{\"value\":[{\"host\":"
					 "\"host-9\"}]}"),
				       "host", &ids, &n, &err),
			 0);
	assert_int_equal(n, 1);
	assert_string_equal(ids[0], "host-9");
	vmw_ids_free(ids, n);
	assert_int_equal(vmw_ids_parse(TAG, S("{}"), "host", &ids, &n, &err),
			 VS_ERR);
	assert_null(ids);
	assert_int_equal(n, 0);
}

/* ------------------------------------------------------------------ */
/* Tags.                                                                */

static void test_tag_request(void **state)
{
	const char *ids[] = {"vm-1021", "vm-\"2\"", "vm-\\3\n\x01\xc3\xa9"};
	json_t *got, *want, *objs;
	json_error_t jerr;
	size_t len;
	char *body, *b = sample("vmware_tag_list_attached_request.json", &len);

	(void)state;
	want = json_loadb(b, len, 0, &jerr);
	assert_non_null(want);
	body = vmw_tag_request_body(ids, 3);
	assert_non_null(body);
	got = json_loads(body, 0, &jerr);
	assert_non_null(got);
	objs = json_object_get(got, "object_ids");
	assert_int_equal(json_array_size(objs), 3);
	/* Backslashes, control characters and UTF-8 come back as sent. */
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(objs, 2), "id")),
			    ids[2]);
	/* Each element is the sample's object_id for one VM. */
	assert_true(json_equal(json_array_get(objs, 0),
			       json_object_get(want, "object_id")));
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(objs, 1), "id")),
			    "vm-\"2\"");
	json_decref(got);
	json_decref(want);
	free(body);
	free(b);

	body = vmw_tag_request_body(NULL, 0);
	assert_string_equal(body, "{\"object_ids\":[]}");
	free(body);
}

/* The bulk answer, built around the single-object sample's tag ids. */
static void test_tag_attached(void **state)
{
	struct vmw_attached *a;
	struct vs_error err;
	json_t *ids, *root;
	json_error_t jerr;
	size_t len, n;
	char *b = sample("vmware_tag_list_attached_response.json", &len), *s;

	(void)state;
	ids = json_loadb(b, len, 0, &jerr);
	assert_true(json_is_array(ids));
	root = json_pack("[{s:{s:s,s:s},s:O},{s:{s:s,s:s},s:[]},"
			 "{s:{s:s,s:s},s:O}]",
			 "object_id", "type", "VirtualMachine", "id", "vm-1021",
			 "tag_ids", ids, "object_id", "type", "VirtualMachine",
			 "id", "vm-1022", "tag_ids", "object_id", "type",
			 "HostSystem", "id", "host-1", "tag_ids", ids);
	s = json_dumps(root, JSON_COMPACT);
	vs_error_clear(&err);
	assert_int_equal(vmw_attached_parse(TAG, S(s), &a, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(a[0].object_id, "vm-1021");
	assert_int_equal(a[0].n_tags, 1);
	assert_string_equal(a[0].tag_ids[0],
			    json_string_value(json_array_get(ids, 0)));
	assert_int_equal(a[1].n_tags, 0);
	vmw_attached_free(a, n);
	free(s);

	/* The legacy wrapper. */
	s = NULL;
	{
		json_t *w = json_pack("{s:O}", "value", root);
		s = json_dumps(w, JSON_COMPACT);
		json_decref(w);
	}
	assert_int_equal(vmw_attached_parse(TAG, S(s), &a, &n, &err), 0);
	assert_int_equal(n, 2);
	vmw_attached_free(a, n);
	free(s);
	json_decref(root);
	json_decref(ids);
	free(b);

	/* The single-object answer (a list of ids) holds no objects. */
	b = sample("vmware_tag_list_attached_response.json", &len);
	assert_int_equal(vmw_attached_parse(TAG, b, len, &a, &n, &err), 0);
	assert_int_equal(n, 0);
	vmw_attached_free(a, n);
	free(b);
}

static void test_tag_attached_hostile(void **state)
{
	static const char *const bad[] = {
		"",
		"{}",
		"{\"value\": 5}",
		/* A tag we cannot read could be the keep marker: fail. */
		"[{\"object_id\":{\"type\":\"VirtualMachine\",\"id\":\"vm-1\"},"
		"\"tag_ids\":[5]}]",
		"[{\"object_id\":{\"type\":\"VirtualMachine\",\"id\":\"vm-1\"},"
		"\"tag_ids\":[\"\"]}]",
		"[{\"object_id\":{\"type\":\"VirtualMachine\",\"id\":\"vm-1\"},"
		"\"tag_ids\":\"urn:x\"}]",
		"[{\"object_id\":{\"type\":\"VirtualMachine\",\"id\":\"vm-1\"}}"
		"]",
	};
	struct vmw_attached *a;
	struct vs_error err;
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		vs_error_clear(&err);
		assert_int_equal(
			vmw_attached_parse(TAG, S(bad[i]), &a, &n, &err),
			VS_ERR);
		assert_int_equal(err.cls, VS_EC_INVALID_RESPONSE);
		assert_null(a);
		assert_int_equal(n, 0);
	}
	/* Objects without a usable id or type are not ours: skipped. */
	vs_error_clear(&err);
	assert_int_equal(vmw_attached_parse(TAG,
					    S("[5,{},{\"object_id\":5},"
					      "{\"object_id\":{\"type\":"
					      "\"VirtualMachine\"},"
					      "\"tag_ids\":[]}]"),
					    &a, &n, &err),
			 0);
	assert_int_equal(n, 0);
	vmw_attached_free(a, n);
}

static void test_named(void **state)
{
	struct vs_error err;
	char *name, *cat;
	size_t len;
	char *b = sample("vmware_tag_get.json", &len);

	(void)state;
	vs_error_clear(&err);
	assert_int_equal(vmw_named_parse(TAG, b, len, &name, &cat, &err), 0);
	assert_string_equal(name, "do-not-delete");
	assert_string_equal(cat, "urn:vmomi:InventoryServiceCategory:1f2e3d4c-"
				 "5b6a-4978-8695-a4b3c2d1e0f9:GLOBAL");
	free(name);
	free(cat);
	free(b);
	assert_int_equal(vmw_named_parse(TAG, S("{\"value\":{\"name\":\"k\"}}"),
					 &name, &cat, &err),
			 0);
	assert_string_equal(name, "k");
	assert_null(cat);
	free(name);
	assert_int_equal(
		vmw_named_parse(TAG, S("{\"name\":\"c\"}"), &name, NULL, &err),
		0);
	free(name);
	assert_int_equal(
		vmw_named_parse(TAG, S("{\"name\":5}"), &name, &cat, &err),
		VS_ERR);
	assert_null(name);
	vs_error_clear(&err);
	assert_int_equal(vmw_named_parse(TAG, S("[]"), &name, &cat, &err),
			 VS_ERR);
	assert_int_equal(err.cls, VS_EC_INVALID_RESPONSE);
}

/* ------------------------------------------------------------------ */
/* VI/JSON.                                                             */

static void test_vi_config(void **state)
{
	struct vs_error err;
	int64_t created, want;
	int tmpl;

	(void)state;
	vs_error_clear(&err);
	assert_int_equal(vs_time_parse("2024-05-02T09:14:03.511Z", &want), 0);
	assert_int_equal(
		vmw_vi_config_parse(
			TAG,
			S("{\"_typeName\":\"VirtualMachineConfigInfo\","
			  "\"name\":\"a\",\"template\":false,\"createDate\":"
			  "\"2024-05-02T09:14:03.511Z\"}"),
			vs_time_parse, &created, &tmpl, &err),
		0);
	assert_true(created == want);
	assert_int_equal(tmpl, 0);
	assert_int_equal(vmw_vi_config_parse(TAG,
					     S("{\"template\":true,"
					       "\"createDate\":\"yesterday\"}"),
					     vs_time_parse, &created, &tmpl,
					     &err),
			 0);
	assert_true(created == VS_TIME_UNKNOWN);
	assert_int_equal(tmpl, 1);
	/* Before 6.7 there is no createDate; an unset config reads null. */
	assert_int_equal(vmw_vi_config_parse(TAG, S("{\"name\":\"a\"}"),
					     vs_time_parse, &created, &tmpl,
					     &err),
			 0);
	assert_true(created == VS_TIME_UNKNOWN);
	assert_int_equal(vmw_vi_config_parse(TAG, S("null"), vs_time_parse,
					     &created, &tmpl, &err),
			 0);
	assert_true(created == VS_TIME_UNKNOWN);
	assert_int_equal(vmw_vi_config_parse(TAG, S("{\"createDate\":5}"),
					     vs_time_parse, &created, &tmpl,
					     &err),
			 0);
	assert_true(created == VS_TIME_UNKNOWN);
	assert_int_equal(vmw_vi_config_parse(TAG, S("[1]"), vs_time_parse,
					     &created, &tmpl, &err),
			 VS_ERR);
	assert_int_equal(err.cls, VS_EC_INVALID_RESPONSE);
	vs_error_clear(&err);
	assert_int_equal(vmw_vi_config_parse(TAG, S("{"), vs_time_parse,
					     &created, &tmpl, &err),
			 VS_ERR);
}

static void test_vi_login_body(void **state)
{
	json_error_t jerr;
	json_t *o;
	char *b = vmw_vi_login_body("admin@vsphere.local", "p\"w\\");

	(void)state;
	assert_non_null(b);
	o = json_loads(b, 0, &jerr);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "userName")),
			    "admin@vsphere.local");
	assert_string_equal(json_string_value(json_object_get(o, "password")),
			    "p\"w\\");
	json_decref(o);
	pv_free_secret(b);
}

/* ------------------------------------------------------------------ */
/* Helpers.                                                             */

static void test_idset(void **state)
{
	struct vs_vm_list l;
	struct vmw_idset s;
	char id[32];
	size_t i;

	(void)state;
	memset(&l, 0, sizeof(l));
	memset(&s, 0, sizeof(s));
	assert_true(vmw_idset_find(&s, &l, "vm-1") == (size_t)-1);
	for (i = 0; i < 9000; i++) {
		struct vs_vm *vm = vs_vm_list_push(&l);

		assert_non_null(vm);
		snprintf(id, sizeof(id), "vm-%zu", 1001 + i);
		vm->id = strdup(id);
		assert_int_equal(vmw_idset_add(&s, &l, l.n - 1), 0);
	}
	/* Adding an id again changes nothing. */
	assert_int_equal(vmw_idset_add(&s, &l, 5), 0);
	assert_int_equal(s.n, 9000);
	for (i = 0; i < 9000; i++) {
		snprintf(id, sizeof(id), "vm-%zu", 1001 + i);
		assert_int_equal(vmw_idset_find(&s, &l, id), i);
	}
	assert_true(vmw_idset_find(&s, &l, "vm-1") == (size_t)-1);
	vmw_idset_release(&s);
	vs_vm_list_release(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_samples),
		cmocka_unit_test(test_token_hostile),
		cmocka_unit_test(test_fault_samples),
		cmocka_unit_test(test_too_many),
		cmocka_unit_test(test_fault_classes),
		cmocka_unit_test(test_fault_hostile),
		cmocka_unit_test(test_vm_list_samples),
		cmocka_unit_test(test_vm_list_fields),
		cmocka_unit_test(test_vm_list_hostile),
		cmocka_unit_test(test_power),
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_tag_request),
		cmocka_unit_test(test_tag_attached),
		cmocka_unit_test(test_tag_attached_hostile),
		cmocka_unit_test(test_named),
		cmocka_unit_test(test_vi_config),
		cmocka_unit_test(test_vi_login_body),
		cmocka_unit_test(test_idset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
