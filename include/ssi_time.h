/*
 * ssi_time: RFC 3339 timestamps and UTC day arithmetic.
 *
 * All times inside ssid are int64 milliseconds since the Unix epoch (UTC).
 * Nothing here reads a clock: callers pass "now" in, so every test can
 * drive time by hand.
 */
#ifndef SSI_TIME_H
#define SSI_TIME_H

#include <stddef.h>
#include <stdint.h>

#define SSI_MS_PER_DAY 86400000LL

/* "2026-11-20T10:00:00.250Z" plus NUL; offsets are always written as Z. */
#define SSI_TIME_BUFLEN 32

/* Earliest and latest instants an event may carry (1970-01-01, 9999-12-31). */
#define SSI_TIME_MIN_MS 0LL
#define SSI_TIME_MAX_MS 253402300799999LL

/*
 * Parse an RFC 3339 date-time ("2026-11-20T11:00:00.250+01:00", "...Z").
 * Accepts 't'/'z' in lower case and up to 9 fractional digits (truncated to
 * milliseconds). Rejects calendar-invalid dates, leap seconds (":60"),
 * offsets beyond +-23:59 and years outside 1970..9999.
 * Returns 0 and sets *ms, or -EINVAL.
 */
int ssi_time_parse(const char *s, size_t len, int64_t *ms);

/* Format ms as "YYYY-MM-DDTHH:MM:SS.mmmZ"; returns the length written. */
size_t ssi_time_format(int64_t ms, char buf[SSI_TIME_BUFLEN]);

/* The UTC day number (days since 1970-01-01) holding instant ms. */
static inline int32_t ssi_time_day(int64_t ms)
{
	int64_t d = ms / SSI_MS_PER_DAY;

	if (ms % SSI_MS_PER_DAY < 0)
		d--;
	return (int32_t)d;
}

/* The first millisecond of UTC day number day. */
static inline int64_t ssi_time_day_start(int32_t day)
{
	return (int64_t)day * SSI_MS_PER_DAY;
}

/* Days since 1970-01-01 of a proleptic Gregorian civil date. */
int64_t ssi_time_days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
