/*
 * fuzz_osp_parse.c - every OpenStack answer parser on the same bytes:
 * server pages and single servers, Nova and Keystone fault bodies, token
 * answers with their catalog, and next-page links.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "osp/osp_internal.h"
#include "timeutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Bodies arrive NUL-terminated from the HTTP layer (provider.h). */
	char *body = malloc(size + 1);
	struct osp_page page;
	struct osp_server one;
	struct osp_token tok;
	struct vs_error err;
	char msg[OSP_MSG_MAX];
	char *url;

	if (!body)
		return 0;
	memcpy(body, data, size);
	body[size] = '\0';

	memset(&page, 0, sizeof(page));
	vs_error_clear(&err);
	osp_servers_parse("fuzz", body, size, vs_time_parse, &page, &err);
	if (page.next) {
		url = osp_next_url("http://127.0.0.1:1/compute/v2.1",
				   page.next);
		free(url);
	}
	osp_page_release(&page);

	memset(&one, 0, sizeof(one));
	vs_error_clear(&err);
	if (osp_server_parse("fuzz", body, size, vs_time_parse, &one, &err) ==
	    VS_OK)
		osp_server_release(&one);

	osp_fault_message(body, size, msg, sizeof(msg));
	(void)osp_fault_is_locked(msg);

	memset(&tok, 0, sizeof(tok));
	vs_error_clear(&err);
	if (osp_token_parse("fuzz", 201, "tok", body, size, "public",
			    "RegionOne", vs_time_parse, &tok, &err) == VS_OK)
		osp_token_release(&tok);
	memset(&tok, 0, sizeof(tok));
	vs_error_clear(&err);
	if (osp_token_parse("fuzz", 401, NULL, body, size, "internal", NULL,
			    vs_time_parse, &tok, &err) == VS_OK)
		osp_token_release(&tok);

	/* The body as a link, as servers_links would hand it over. */
	url = osp_next_url("https://nova.example.com:8774/v2.1/p", body);
	free(url);
	url = osp_tokens_url(body);
	free(url);

	free(body);
	return 0;
}
