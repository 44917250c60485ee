/*
 * error.h - names of error classes and outcomes, shared by the report,
 * the logger and the CLI.  struct vs_error itself lives in provider.h
 * because providers fill it.  All functions are pure and thread-safe.
 */
#ifndef VS_ERROR_H
#define VS_ERROR_H

#include "provider.h"

/*
 * Stable lower-case name ("auth", "throttled", ...); "none" for NONE.  A
 * value outside the enum (a bug) reads "internal".  Static storage.
 */
const char *vs_err_class_name(enum vs_err_class cls);
/* Inverse of vs_err_class_name; returns -1 for an unknown name. */
int vs_err_class_parse(const char *name, enum vs_err_class *out);

/* Exit codes of the command line (DESIGN.md section 9). */
enum vs_exit {
	VS_EXIT_OK = 0,
	VS_EXIT_FAILED = 1,
	VS_EXIT_USAGE = 2,
	VS_EXIT_PROVIDER = 3,
	VS_EXIT_GATE = 4,
	VS_EXIT_LOCKED = 5,
	VS_EXIT_INTERRUPTED = 6,
};

#endif
