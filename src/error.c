/*
 * error.c - stable names of the error classes.
 */
#include "error.h"

#include <string.h>

/* Indexed by enum vs_err_class; these strings are part of the report. */
static const char *const class_names[] = {
	[VS_EC_NONE] = "none",
	[VS_EC_AUTH] = "auth",
	[VS_EC_THROTTLED] = "throttled",
	[VS_EC_CONFLICT] = "conflict",
	[VS_EC_LOCKED] = "locked",
	[VS_EC_PROTECTED] = "protected",
	[VS_EC_NOT_FOUND] = "not_found",
	[VS_EC_SERVER] = "server",
	[VS_EC_CLIENT] = "client",
	[VS_EC_TRANSPORT] = "transport",
	[VS_EC_TIMEOUT] = "timeout",
	[VS_EC_TLS] = "tls",
	[VS_EC_INVALID_RESPONSE] = "invalid_response",
	[VS_EC_CANCELLED] = "cancelled",
	[VS_EC_CONFIG] = "config",
	[VS_EC_INTERNAL] = "internal",
};

#define N_CLASSES (sizeof(class_names) / sizeof(class_names[0]))

const char *vs_err_class_name(enum vs_err_class cls)
{
	/* An out-of-range value is a bug; say so rather than crash a report. */
	if ((unsigned int)cls >= N_CLASSES || !class_names[cls])
		return "internal";
	return class_names[cls];
}

int vs_err_class_parse(const char *name, enum vs_err_class *out)
{
	size_t i;

	if (!name)
		return -1;
	for (i = 0; i < N_CLASSES; i++) {
		if (class_names[i] && strcmp(class_names[i], name) == 0) {
			*out = (enum vs_err_class)i;
			return 0;
		}
	}
	return -1;
}
