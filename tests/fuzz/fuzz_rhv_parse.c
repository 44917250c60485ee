/*
 * fuzz_rhv_parse.c - every oVirt/RHV answer parser on the same bytes: VM
 * collections with and without inlined tags, single VMs and their tags,
 * fault and action bodies, and SSO token answers.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "rhv/rhv_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *body = malloc(size + 1);
	struct rhv_page page;
	struct rhv_token tok;
	struct vs_vm vm;
	struct vs_error err;
	char msg[RHV_MSG_MAX];
	int want_tags;

	if (!body)
		return 0;
	memcpy(body, data, size);
	body[size] = '\0';

	for (want_tags = 0; want_tags < 2; want_tags++) {
		memset(&page, 0, sizeof(page));
		vs_error_clear(&err);
		rhv_vms_parse("fuzz", body, size, want_tags, &page, &err);
		rhv_page_release(&page);
	}

	memset(&vm, 0, sizeof(vm));
	vm.created = VS_TIME_UNKNOWN;
	vs_error_clear(&err);
	rhv_vm_parse("fuzz", body, size, &vm, &err);
	vs_vm_release(&vm);

	memset(&vm, 0, sizeof(vm));
	vs_error_clear(&err);
	rhv_tags_parse("fuzz", body, size, &vm, &err);
	vs_vm_release(&vm);

	rhv_fault_message(body, size, msg, sizeof(msg));
	(void)rhv_fault_kind(msg);
	rhv_action_failed(body, size, msg, sizeof(msg));
	(void)rhv_power(body);
	(void)rhv_ms_to_time(body);

	memset(&tok, 0, sizeof(tok));
	vs_error_clear(&err);
	rhv_token_parse("fuzz", 200, body, size, &tok, &err);
	rhv_token_release(&tok);
	memset(&tok, 0, sizeof(tok));
	vs_error_clear(&err);
	rhv_token_parse("fuzz", 400, body, size, &tok, &err);
	rhv_token_release(&tok);

	free(body);
	return 0;
}
