/*
 * fuzz_report.c - the plan and report reader (vs_report_read_json) on a
 * file holding the input; what it accepts is written back out and read
 * again, which must succeed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[256], out[300];
	struct vs_report r, again;
	struct vs_error err;

	if (fuzz_tmpfile(data, size, path, sizeof(path)) != 0)
		return 0;
	vs_error_clear(&err);
	vs_report_init(&r);
	if (vs_report_read_json(&r, path, &err) == VS_OK) {
		FILE *null = fopen("/dev/null", "w");
		if (null) {
			if (r.is_plan)
				vs_report_print_plan(&r, null);
			else
				vs_report_print_summary(&r, null);
			fclose(null);
		}
		(void)vs_report_exit_code(&r);
		snprintf(out, sizeof(out), "%s.out", path);
		vs_error_clear(&err);
		if (vs_report_write_json(&r, out, &err) == VS_OK) {
			vs_report_init(&again);
			vs_error_clear(&err);
			if (vs_report_read_json(&again, out, &err) != VS_OK) {
				fprintf(stderr, "re-read failed: %s\n",
					err.message);
				abort();
			}
			vs_report_release(&again);
			unlink(out);
		}
	}
	vs_report_release(&r);
	unlink(path);
	return 0;
}
