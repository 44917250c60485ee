/*
 * fuzz_vmw_parse.c - every vSphere answer parser on the same bytes: VM
 * lists of both API generations, vAPI faults, session tokens, power
 * states, folder and host ids, attached tags, tag names and VI/JSON
 * config infos.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "timeutil.h"
#include "vmware/vmw_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *body = malloc(size + 1);
	struct vmw_summaries sums;
	struct vmw_fault fault;
	struct vmw_attached *att = NULL;
	struct vs_error err;
	enum vs_err_class cls;
	enum vs_power power;
	char *token = NULL, *name = NULL, *cat = NULL;
	char **ids = NULL;
	size_t n = 0;
	int64_t created;
	int retryable, is_template;

	if (!body)
		return 0;
	memcpy(body, data, size);
	body[size] = '\0';

	memset(&sums, 0, sizeof(sums));
	vs_error_clear(&err);
	vmw_vm_list_parse("fuzz", body, size, &sums, &err);
	vmw_summaries_release(&sums);

	vmw_fault_parse(body, size, &fault);
	vmw_fault_class(500, &fault, &cls, &retryable);
	(void)vmw_fault_too_many(400, &fault);
	(void)vmw_fault_is(&fault, "NOT_FOUND");

	vs_error_clear(&err);
	if (vmw_token_parse("fuzz", body, size, &token, &err) == VS_OK)
		pv_free_secret(token);

	vs_error_clear(&err);
	vmw_power_parse("fuzz", body, size, &power, &err);

	vs_error_clear(&err);
	if (vmw_ids_parse("fuzz", body, size, "folder", &ids, &n, &err) ==
	    VS_OK)
		vmw_ids_free(ids, n);

	vs_error_clear(&err);
	n = 0;
	if (vmw_attached_parse("fuzz", body, size, &att, &n, &err) == VS_OK)
		vmw_attached_free(att, n);

	vs_error_clear(&err);
	if (vmw_named_parse("fuzz", body, size, &name, &cat, &err) == VS_OK) {
		free(name);
		free(cat);
	}

	vs_error_clear(&err);
	vmw_vi_config_parse("fuzz", body, size, vs_time_parse, &created,
			    &is_template, &err);

	free(body);
	return 0;
}
