/*
 * timeutil.h - time and duration helpers (all reentrant, UTC only).
 */
#ifndef VS_TIMEUTIL_H
#define VS_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Wall clock, Unix seconds / milliseconds. */
int64_t vs_time_now(void);
int64_t vs_time_now_ms(void);
/* Monotonic milliseconds, for intervals. */
int64_t vs_time_mono_ms(void);

/*
 * Parse RFC 3339 / ISO 8601 ("2024-05-01T04:01:32Z", "...32.774549",
 * "...+02:00"; no zone means UTC) into Unix seconds.  0 or -1.
 */
int vs_time_parse(const char *s, int64_t *out);
/* Format Unix seconds as "2024-05-01T04:01:32Z" into buf (>= 21 bytes). */
void vs_time_format(char *buf, size_t sz, int64_t t);
/* Format Unix milliseconds as "2024-05-01T04:01:32.123Z" (>= 25 bytes). */
void vs_time_format_ms(char *buf, size_t sz, int64_t t_ms);

/*
 * Parse a duration: an integer with a unit, or several ("90s", "4h",
 * "7d", "1h30m", "250ms", "2w").  A bare number is seconds.  Result in
 * milliseconds; -1 when malformed or overflowing.
 */
int vs_duration_parse(const char *s, int64_t *ms);
/* Format milliseconds compactly ("4h", "1h30m", "250ms") into buf. */
void vs_duration_format(char *buf, size_t sz, int64_t ms);

#endif
