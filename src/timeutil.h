/*
 * timeutil.h - time and duration helpers (all reentrant and thread-safe,
 * UTC only, no time zone state).
 */
#ifndef VS_TIMEUTIL_H
#define VS_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Wall clock, Unix seconds / milliseconds (shifted by vs_time_set_now). */
int64_t vs_time_now(void);
int64_t vs_time_now_ms(void);
/*
 * A testing aid (VMSWEEP_NOW, read by main): shift the wall clock above so
 * that it reads now_s at this moment and runs on from there.  Call before
 * any thread starts; monotonic time is not shifted.
 */
void vs_time_set_now(int64_t now_s);
/* Monotonic milliseconds, for intervals. */
int64_t vs_time_mono_ms(void);

/*
 * Parse RFC 3339 / ISO 8601 ("2024-05-01T04:01:32Z", "...32.774549",
 * "...+02:00", "+0200"; 't' or ' ' for 'T'; no zone means UTC; a bare
 * date "2024-05-01" is midnight UTC) into Unix seconds, fractions
 * dropped.  Years 0000-9999, real calendar dates only; a leap second
 * (:60) counts as the next minute.  0, or -1 with *out untouched.
 */
int vs_time_parse(const char *s, int64_t *out);
/*
 * Format Unix seconds as "2024-05-01T04:01:32Z" into buf (>= 21 bytes;
 * shorter is cut but terminated).  Clamped to years 0000-9999.
 */
void vs_time_format(char *buf, size_t sz, int64_t t);
/* Format Unix milliseconds as "2024-05-01T04:01:32.123Z" (>= 25 bytes). */
void vs_time_format_ms(char *buf, size_t sz, int64_t t_ms);

/*
 * Parse a duration: an integer with a unit, or several ("90s", "4h",
 * "7d", "1h30m", "250ms", "2w"); units w d h m s ms, each at most once,
 * largest first; spaces around the whole are ignored.  A bare number is
 * seconds.  Result in milliseconds; -1 (*ms untouched) when malformed,
 * negative or overflowing int64.
 */
int vs_duration_parse(const char *s, int64_t *ms);
/*
 * Format milliseconds compactly ("4h", "1h30m", "250ms", "14d", "0s",
 * negative with a leading '-') into buf; vs_duration_parse reads every
 * non-negative result back.
 */
void vs_duration_format(char *buf, size_t sz, int64_t ms);

#endif
