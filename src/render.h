/*
 * render.h - a report for other readers: JUnit XML for CI servers and
 * Markdown for tickets and chat.  (The text summary is
 * vs_report_print_summary(); JSON is vs_report_write_json().)
 *
 * JUnit: one <testsuite> per provider, one <testcase> per planned VM
 * (classname the provider, name the VM's name) plus one named
 * "(inventory)" per provider that fails when the provider could not be
 * listed.  deleted and already_absent pass; pretend and protected are
 * skipped (nothing was deleted, and that is not a failure); failed,
 * requested, not_attempted and planned fail, with the error class as the
 * failure's type.  docs/report-format.md shows both formats.
 *
 * Every string that came from a platform or a file is escaped for the
 * format: XML escaping (and control characters, which XML 1.0 cannot
 * hold even as references, shown as \xNN); Markdown punctuation, pipes
 * and newlines in table cells.  Bytes that are not UTF-8 are shown as
 * \xNN in both.
 *
 * The functions only read the report; they write to out and return 0,
 * or VS_ERR when out reports a write error.  Thread-safe on distinct
 * streams.
 */
#ifndef VS_RENDER_H
#define VS_RENDER_H

#include <stdio.h>

#include "report.h"

int vs_render_junit(const struct vs_report *r, FILE *out);
int vs_render_markdown(const struct vs_report *r, FILE *out);

#endif
