/*
 * ssi_time: RFC 3339 timestamps and UTC day arithmetic.
 *
 * Pure arithmetic on the proleptic Gregorian calendar: no timegm(), no TZ,
 * no locale, so the result never depends on the host's configuration.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>

#include "ssi_time.h"

#define DAYS_PER_400_YEARS 146097
/* Days from 0000-03-01 (the start of the shifted calendar) to 1970-01-01. */
#define DAYS_0000_03_01_TO_EPOCH 719468

/*
 * Counting years from March puts the leap day at the very end of the year,
 * so the day of the year becomes a closed formula of the month and the leap
 * rule only shows up in the whole-year terms.
 */
int64_t ssi_time_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t year = m <= 2 ? y - 1 : y;
	int64_t era = (year >= 0 ? year : year - 399) / 400;
	int64_t year_of_era = year - era * 400;				/* 0..399 */
	int64_t month_from_march = m > 2 ? m - 3 : m + 9;		/* 0..11 */
	int64_t day_of_year = (153 * month_from_march + 2) / 5 + d - 1; /* 0..365 */
	int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;

	return era * DAYS_PER_400_YEARS + day_of_era - DAYS_0000_03_01_TO_EPOCH;
}

/* The inverse of ssi_time_days_from_civil, built on the same March-based year. */
static void civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t z = days + DAYS_0000_03_01_TO_EPOCH;
	int64_t era = (z >= 0 ? z : z - (DAYS_PER_400_YEARS - 1)) / DAYS_PER_400_YEARS;
	int64_t day_of_era = z - era * DAYS_PER_400_YEARS; /* 0..146096 */
	int64_t year_of_era =
	    (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
	int64_t day_of_year =
	    day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
	int64_t month_from_march = (5 * day_of_year + 2) / 153;

	*d = (unsigned)(day_of_year - (153 * month_from_march + 2) / 5 + 1);
	*m = (unsigned)(month_from_march < 10 ? month_from_march + 3 : month_from_march - 9);
	*y = year_of_era + era * 400 + (*m <= 2);
}

static bool is_leap_year(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
	static const unsigned char days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return m == 2 && is_leap_year(y) ? 29 : days[m - 1];
}

/* Reads exactly n decimal digits at s; false if any of them is not a digit. */
static bool read_digits(const char *s, unsigned n, unsigned *out)
{
	unsigned v = 0;

	for (unsigned i = 0; i < n; i++) {
		unsigned digit = (unsigned)(unsigned char)s[i] - '0';

		if (digit > 9)
			return false;
		v = v * 10 + digit;
	}
	*out = v;
	return true;
}

/*
 * The grammar is fixed-width up to the seconds, so the parser checks
 * positions instead of scanning; only the fraction and the offset vary.
 */
int ssi_time_parse(const char *s, size_t len, int64_t *ms)
{
	unsigned year, month, day, hour, minute, second;
	unsigned frac_ms = 0;
	int64_t offset_min = 0;
	size_t i = 19;
	int64_t t;

	/* "YYYY-MM-DDTHH:MM:SS" and at least "Z" */
	if (len < 20)
		return -EINVAL;
	if (!read_digits(s, 4, &year) || s[4] != '-' || !read_digits(s + 5, 2, &month) ||
	    s[7] != '-' || !read_digits(s + 8, 2, &day) || (s[10] != 'T' && s[10] != 't') ||
	    !read_digits(s + 11, 2, &hour) || s[13] != ':' || !read_digits(s + 14, 2, &minute) ||
	    s[16] != ':' || !read_digits(s + 17, 2, &second))
		return -EINVAL;
	if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 ||
	    minute > 59 || second > 59)
		return -EINVAL;

	if (s[i] == '.') {
		unsigned ndigits = 0;

		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, ndigits++)
			if (ndigits < 3)
				frac_ms = frac_ms * 10 + (unsigned)(s[i] - '0');
		if (ndigits == 0 || ndigits > 9)
			return -EINVAL;
		for (; ndigits < 3; ndigits++)
			frac_ms *= 10;
	}

	if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i < len && (s[i] == '+' || s[i] == '-')) {
		unsigned off_hour, off_minute;

		if (len - i < 6 || !read_digits(s + i + 1, 2, &off_hour) || s[i + 3] != ':' ||
		    !read_digits(s + i + 4, 2, &off_minute) || off_hour > 23 || off_minute > 59)
			return -EINVAL;
		offset_min = (int64_t)off_hour * 60 + off_minute;
		if (s[i] == '-')
			offset_min = -offset_min;
		i += 6;
	} else {
		return -EINVAL;
	}
	if (i != len)
		return -EINVAL;

	t = ssi_time_days_from_civil(year, month, day) * SSI_MS_PER_DAY +
	    (((int64_t)hour * 60 + minute) * 60 + second) * 1000 + frac_ms - offset_min * 60000;
	if (t < SSI_TIME_MIN_MS || t > SSI_TIME_MAX_MS)
		return -EINVAL;
	*ms = t;
	return 0;
}

static char *put_digits(char *p, unsigned v, unsigned n)
{
	for (unsigned i = n; i > 0; i--) {
		p[i - 1] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + n;
}

/*
 * Hand-rolled digits because the daemon formats a timestamp into every
 * score update; snprintf only serves the years that need no fixed width.
 */
size_t ssi_time_format(int64_t ms, char buf[SSI_TIME_BUFLEN])
{
	/* Not ssi_time_day(): any int64 must format without overflow. */
	int64_t ms_of_day = ms % SSI_MS_PER_DAY;
	int64_t day = ms / SSI_MS_PER_DAY;
	unsigned sec_of_day, month, mday;
	int64_t year;
	char *p = buf;

	if (ms_of_day < 0) {
		ms_of_day += SSI_MS_PER_DAY;
		day--;
	}
	sec_of_day = (unsigned)(ms_of_day / 1000);
	civil_from_days(day, &year, &month, &mday);
	if (year < 0 || year > 9999) {
		int n =
		    snprintf(buf, SSI_TIME_BUFLEN, "%04" PRId64 "-%02u-%02uT%02u:%02u:%02u.%03uZ",
			     year, month, mday, sec_of_day / 3600, sec_of_day / 60 % 60,
			     sec_of_day % 60, (unsigned)(ms_of_day % 1000));

		return n < 0 ? 0 : (size_t)n;
	}
	p = put_digits(p, (unsigned)year, 4);
	*p++ = '-';
	p = put_digits(p, month, 2);
	*p++ = '-';
	p = put_digits(p, mday, 2);
	*p++ = 'T';
	p = put_digits(p, sec_of_day / 3600, 2);
	*p++ = ':';
	p = put_digits(p, sec_of_day / 60 % 60, 2);
	*p++ = ':';
	p = put_digits(p, sec_of_day % 60, 2);
	*p++ = '.';
	p = put_digits(p, (unsigned)(ms_of_day % 1000), 3);
	*p++ = 'Z';
	*p = '\0';
	return (size_t)(p - buf);
}
