/*
 * metrics.h - a run's numbers in the Prometheus text exposition format,
 * for node_exporter's textfile collector.
 *
 * The file is rewritten after every run (the atomic write of
 * vs_report_write_atomic(): node_exporter never reads half a file), also
 * when the run failed, was refused or was stopped by a gate, so a broken
 * nightly run shows as vmsweep_last_run_success 0 rather than as stale
 * numbers.  The metrics (all gauges) are listed in docs/report-format.md.
 *
 * Label values are escaped as the format requires (backslash, double
 * quote, newline) and bytes that are not UTF-8 become U+FFFD.
 *
 * Ownership: nothing is kept; the report is only read.  Thread-safe on
 * distinct arguments.
 */
#ifndef VS_METRICS_H
#define VS_METRICS_H

#include <stdint.h>

#include "buf.h"
#include "report.h"

/*
 * Append the exposition of report r to b: the run ended with exit code
 * exit_code at now_ms (Unix milliseconds; used when r has no finish
 * time).  r may be NULL when the run never got as far as a report (only
 * the run-level metrics then).  Returns 0, or VS_ERR when b is full.
 */
int vs_metrics_format(struct vs_buf *b, const struct vs_report *r,
		      int exit_code, int64_t now_ms);

/*
 * Format and write atomically to path.  Returns VS_ERR with err filled
 * (naming path) when it cannot be written.
 */
int vs_metrics_write(const char *path, const struct vs_report *r, int exit_code,
		     int64_t now_ms, struct vs_error *err);

#endif
