/*
 * reportdir.h - the reports a run leaves in report.dir: finding the
 * newest (vmsweep report --last) and pruning old ones (report.keep,
 * report.keep_age).
 *
 * Only names of vmsweep's own pattern are ever considered, let alone
 * deleted:
 *
 *   vmsweep-YYYYMMDDTHHMMSSZ-<run id: lower-case hex>.json
 *
 * (the name vs_sweep_run() gives a report).  Their order is the name's,
 * which is the order of the runs' start times; the time in the name, not
 * the file's mtime, is a report's age, so copying or touching a report
 * changes nothing.  Only regular files count.
 *
 * Not thread-safe against other writers of the directory, and need not
 * be: one run at a time holds the run lock.
 */
#ifndef VS_REPORTDIR_H
#define VS_REPORTDIR_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "provider.h"

/* 1 when name (a base name) is a report name vmsweep gives; when it is
 * and time is not NULL, *time gets the start time (Unix seconds). */
int vs_reportdir_match(const char *name, int64_t *time);

/*
 * The newest report in dir: appends "dir/name" to path.  The one place
 * that decides what "--last" means.  Returns VS_ERR with err filled
 * (class config) when dir cannot be read or holds no report.
 */
int vs_reportdir_latest(const char *dir, struct vs_buf *path,
			struct vs_error *err);

/*
 * Delete the reports of dir beyond the keep newest (keep 0: no limit by
 * count) and those that started more than keep_age_ms before now (Unix
 * seconds; keep_age_ms < 0: no limit by age).  *removed (if not NULL)
 * gets how many went.  A file that cannot be removed is logged and the
 * others still go; returns VS_ERR with err filled for the first such
 * failure or when dir cannot be read.
 */
int vs_reportdir_prune(const char *dir, long keep, int64_t keep_age_ms,
		       int64_t now, size_t *removed, struct vs_error *err);

#endif
