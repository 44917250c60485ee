/*
 * timeutil.c - clocks, RFC 3339 timestamps and durations.
 *
 * Calendar arithmetic is done here (days_from_civil / civil_from_days,
 * after Howard Hinnant's public-domain algorithms) instead of timegm()
 * and gmtime_r(): they are exact for any proleptic Gregorian date, need
 * no time zone state and cannot be surprised by a 32-bit time_t.
 */
#include "timeutil.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "provider.h" /* VS_ERR */

/* Years we accept when parsing; keeps every product far from overflow. */
#define YEAR_MIN 0
#define YEAR_MAX 9999

/* What vs_time_set_now() added; written before threads start. */
static int64_t clock_shift_ms;

static int64_t real_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t vs_time_now(void)
{
	int64_t ms = vs_time_now_ms();

	return ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
}

int64_t vs_time_now_ms(void)
{
	return real_now_ms() + clock_shift_ms;
}

void vs_time_set_now(int64_t now_s)
{
	clock_shift_ms = now_s * 1000 - real_now_ms();
}

int64_t vs_time_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
	static const int dm[] = {31, 28, 31, 30, 31, 30,
				 31, 31, 30, 31, 30, 31};
	return m == 2 && is_leap(y) ? 29 : dm[m - 1];
}

/* Exactly n digits at *p, advancing it; -1 when they are not there. */
static int digits(const char **p, int n, int *out)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

int vs_time_parse(const char *s, int64_t *out)
{
	const char *p = s;
	int y, mo, d, h = 0, mi = 0, sec = 0, oh = 0, om = 0, sign = 0;
	int64_t t;

	if (!s)
		return VS_ERR;
	if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) ||
	    *p++ != '-' || digits(&p, 2, &d))
		return VS_ERR;
	if (y < YEAR_MIN || y > YEAR_MAX || mo < 1 || mo > 12 || d < 1 ||
	    d > days_in_month(y, mo))
		return VS_ERR;
	/* A bare date is midnight UTC (expiry markers are often written so). */
	if (*p == '\0')
		goto done;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return VS_ERR;
	p++;
	if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) ||
	    *p++ != ':' || digits(&p, 2, &sec))
		return VS_ERR;
	/* 60 is a leap second; it lands on the next minute's first second. */
	if (h > 23 || mi > 59 || sec > 60)
		return VS_ERR;
	if (*p == '.' || *p == ',') {
		p++;
		if (*p < '0' || *p > '9')
			return VS_ERR;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '-' ? -1 : 1;
		if (digits(&p, 2, &oh))
			return VS_ERR;
		if (*p == ':')
			p++;
		if (digits(&p, 2, &om))
			return VS_ERR;
		if (oh > 23 || om > 59)
			return VS_ERR;
	}
	if (*p != '\0')
		return VS_ERR;
done:
	t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	t -= sign * (oh * 3600 + om * 60);
	*out = t;
	return 0;
}

/* Split Unix seconds into calendar fields (floor semantics for t < 0). */
static void split(int64_t t, int64_t *y, int *mo, int *d, int *h, int *mi,
		  int *sec)
{
	int64_t days = t / 86400, rem = t % 86400;

	if (rem < 0) {
		rem += 86400;
		days--;
	}
	civil_from_days(days, y, mo, d);
	*h = (int)(rem / 3600);
	*mi = (int)(rem / 60 % 60);
	*sec = (int)(rem % 60);
}

/* Seconds whose year is beyond 4 digits; clamped so formats stay RFC 3339. */
#define T_MIN (-62167219200LL) /* 0000-01-01T00:00:00Z */
#define T_MAX (253402300799LL) /* 9999-12-31T23:59:59Z */

void vs_time_format(char *buf, size_t sz, int64_t t)
{
	int64_t y;
	int mo, d, h, mi, sec;

	if (!sz)
		return;
	if (t < T_MIN)
		t = T_MIN;
	if (t > T_MAX)
		t = T_MAX;
	split(t, &y, &mo, &d, &h, &mi, &sec);
	snprintf(buf, sz, "%04lld-%02d-%02dT%02d:%02d:%02dZ", (long long)y, mo,
		 d, h, mi, sec);
}

void vs_time_format_ms(char *buf, size_t sz, int64_t t_ms)
{
	int64_t secs = t_ms / 1000, ms = t_ms % 1000, y;
	int mo, d, h, mi, sec;

	if (!sz)
		return;
	if (ms < 0) {
		ms += 1000;
		secs--;
	}
	if (secs < T_MIN) {
		secs = T_MIN;
		ms = 0;
	}
	if (secs > T_MAX) {
		secs = T_MAX;
		ms = 999;
	}
	split(secs, &y, &mo, &d, &h, &mi, &sec);
	snprintf(buf, sz, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", (long long)y,
		 mo, d, h, mi, sec, (int)ms);
}

/*
 * Duration units.  "ms" comes before "m" so the longer name matches
 * first; the order parts must appear in (largest first) follows from ms.
 */
static const struct {
	const char *name;
	int64_t ms;
} units[] = {
	{"w", 7LL * 86400 * 1000}, {"d", 86400LL * 1000},
	{"h", 3600LL * 1000},	   {"ms", 1},
	{"m", 60LL * 1000},	   {"s", 1000},
};

int vs_duration_parse(const char *s, int64_t *ms)
{
	const char *p = s;
	int64_t total = 0, last = INT64_MAX;
	int parts = 0;

	if (!s)
		return VS_ERR;
	while (*p == ' ')
		p++;
	if (*p == '\0')
		return VS_ERR;
	while (*p && *p != ' ') {
		int64_t v = 0, mul;
		size_t i, ulen = 0;
		const char *start = p;

		while (*p >= '0' && *p <= '9') {
			if (v > (INT64_MAX - (*p - '0')) / 10)
				return VS_ERR;
			v = v * 10 + (*p - '0');
			p++;
		}
		if (p == start)
			return VS_ERR;
		/* A bare number, alone, is seconds. */
		if ((*p == '\0' || *p == ' ') && parts == 0) {
			mul = 1000;
			goto add;
		}
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			ulen = strlen(units[i].name);
			if (strncmp(p, units[i].name, ulen) == 0)
				break;
		}
		if (i == sizeof(units) / sizeof(units[0]))
			return VS_ERR;
		mul = units[i].ms;
		/* Each unit once, largest first: "1h30m", never "30m1h". */
		if (mul >= last)
			return VS_ERR;
		last = mul;
		p += ulen;
	add:
		if (v > INT64_MAX / mul || total > INT64_MAX - v * mul)
			return VS_ERR;
		total += v * mul;
		parts++;
	}
	while (*p == ' ')
		p++;
	if (*p != '\0')
		return VS_ERR;
	*ms = total;
	return 0;
}

void vs_duration_format(char *buf, size_t sz, int64_t ms)
{
	static const struct {
		const char *name;
		int64_t ms;
	} parts[] = {
		{"d", 86400LL * 1000},
		{"h", 3600LL * 1000},
		{"m", 60LL * 1000},
		{"s", 1000},
		{"ms", 1},
	};
	uint64_t rest;
	size_t off = 0, i;

	if (!sz)
		return;
	buf[0] = '\0';
	if (ms == 0) {
		snprintf(buf, sz, "0s");
		return;
	}
	if (ms < 0) {
		off += (size_t)snprintf(buf, sz, "-");
		rest = (uint64_t)(-(ms + 1)) + 1; /* INT64_MIN-safe */
	} else {
		rest = (uint64_t)ms;
	}
	for (i = 0; i < sizeof(parts) / sizeof(parts[0]) && off < sz; i++) {
		uint64_t n = rest / (uint64_t)parts[i].ms;
		if (!n)
			continue;
		rest -= n * (uint64_t)parts[i].ms;
		off += (size_t)snprintf(buf + off, sz - off, "%llu%s",
					(unsigned long long)n, parts[i].name);
	}
}
