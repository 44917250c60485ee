/*
 * fuzz_config.c - the configuration loader (vs_config_load) on a file
 * holding the input.  Secrets named by *_env resolve against a fixed
 * variable, so inputs can reach the code past them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[256];
	struct vs_config cfg;
	struct vs_error err;

	setenv("FUZZ_PW", "fuzz-secret", 0);
	if (fuzz_tmpfile(data, size, path, sizeof(path)) != 0)
		return 0;
	vs_error_clear(&err);
	vs_config_init(&cfg);
	vs_config_load(&cfg, path, &err);
	vs_config_release(&cfg);
	unlink(path);
	return 0;
}
