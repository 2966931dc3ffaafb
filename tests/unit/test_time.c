/*
 * RFC 3339 parsing, formatting and the day arithmetic under it. Expected
 * instants were computed independently (Python's datetime) and are written
 * out as numbers; the exhaustive checks compare against a calendar walked
 * day by day with the test's own leap-year rule.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "ssi_time.h"
#include "suites.h"

/* 2026-11-20T10:00:00Z */
#define T_2026_11_20_10H 1795168800000LL

static int parse(const char *s, int64_t *ms)
{
	return ssi_time_parse(s, strlen(s), ms);
}

static int64_t parse_ok(const char *s)
{
	int64_t ms = -1;

	ck_assert_msg(parse(s, &ms) == 0, "\"%s\" should parse", s);
	return ms;
}

static void assert_rejected(const char *s)
{
	int64_t ms = 12345;

	ck_assert_msg(parse(s, &ms) == -EINVAL, "\"%s\" should be rejected", s);
	ck_assert_msg(ms == 12345, "a rejected parse must not write *ms (\"%s\")", s);
}

static int test_is_leap(long y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

START_TEST (test_parse_basic) {
	ck_assert_int_eq(parse_ok("2026-11-20T10:00:00Z"), T_2026_11_20_10H);
	ck_assert_int_eq(parse_ok("1970-01-01T00:00:00Z"), 0);
	ck_assert_int_eq(parse_ok("2000-02-29T12:34:56.789Z"), 951827696789LL);
	ck_assert_int_eq(parse_ok("2016-12-31T23:59:59Z"), 1483228799000LL);
}
END_TEST

START_TEST (test_parse_lower_case) {
	ck_assert_int_eq(parse_ok("2026-11-20t10:00:00z"), T_2026_11_20_10H);
	ck_assert_int_eq(parse_ok("2026-11-20t10:00:00Z"), T_2026_11_20_10H);
	ck_assert_int_eq(parse_ok("2026-11-20T10:00:00z"), T_2026_11_20_10H);
	assert_rejected("2026-11-20 10:00:00Z");
	assert_rejected("2026-11-20x10:00:00Z");
	assert_rejected("2026-11-20T10:00:00x");
}
END_TEST

START_TEST (test_parse_fraction) {
	ck_assert_int_eq(parse_ok("2026-11-20T10:00:00.2Z"), T_2026_11_20_10H + 200);
	ck_assert_int_eq(parse_ok("2026-11-20T10:00:00.25Z"), T_2026_11_20_10H + 250);
	ck_assert_int_eq(parse_ok("2026-11-20T10:00:00.250Z"), T_2026_11_20_10H + 250);
	/* extra digits are truncated, not rounded */
	ck_assert_int_eq(parse_ok("2026-11-20T10:00:00.2509Z"), T_2026_11_20_10H + 250);
	ck_assert_int_eq(parse_ok("2026-11-20T10:00:00.999999999Z"), T_2026_11_20_10H + 999);
	ck_assert_int_eq(parse_ok("2026-11-20T10:00:00.000000001Z"), T_2026_11_20_10H);
	assert_rejected("2026-11-20T10:00:00.9999999999Z"); /* 10 digits */
	assert_rejected("2026-11-20T10:00:00.Z");
	assert_rejected("2026-11-20T10:00:00.");
	assert_rejected("2026-11-20T10:00:00,250Z");
	assert_rejected("2026-11-20T10:00:00.2a0Z");
}
END_TEST

START_TEST (test_parse_offsets) {
	ck_assert_int_eq(parse_ok("2026-11-20T11:00:00.250+01:00"), T_2026_11_20_10H + 250);
	ck_assert_int_eq(parse_ok("2026-11-20T04:30:00-05:30"), T_2026_11_20_10H);
	ck_assert_int_eq(parse_ok("2026-11-20T10:00:00+00:00"), T_2026_11_20_10H);
	ck_assert_int_eq(parse_ok("2026-11-20T10:00:00-00:00"), T_2026_11_20_10H);
	/* the offset may move the instant across a day, a month and a year */
	ck_assert_int_eq(parse_ok("2026-11-21T09:59:00+23:59"), T_2026_11_20_10H);
	ck_assert_int_eq(parse_ok("2026-11-19T10:01:00-23:59"), T_2026_11_20_10H);
	ck_assert_int_eq(parse_ok("2027-01-01T00:30:00+01:00"), parse_ok("2026-12-31T23:30:00Z"));
	assert_rejected("2026-11-20T10:00:00+24:00");
	assert_rejected("2026-11-20T10:00:00+01:60");
	assert_rejected("2026-11-20T10:00:00+0100");
	assert_rejected("2026-11-20T10:00:00+01");
	assert_rejected("2026-11-20T10:00:00+1:00");
	assert_rejected("2026-11-20T10:00:00");
	assert_rejected("2026-11-20T10:00:00ZZ");
	assert_rejected("2026-11-20T10:00:00+01:00Z");
	assert_rejected("2026-11-20T10:00:00 Z");
}
END_TEST

START_TEST (test_parse_calendar) {
	ck_assert_int_eq(parse_ok("2024-02-29T00:00:00Z"), 1709164800000LL);
	parse_ok("2000-02-29T00:00:00Z");
	assert_rejected("2023-02-29T00:00:00Z");
	assert_rejected("2100-02-29T00:00:00Z");
	assert_rejected("1900-02-29T00:00:00Z");
	assert_rejected("2024-02-30T00:00:00Z");
	assert_rejected("2026-04-31T00:00:00Z");
	assert_rejected("2026-06-31T00:00:00Z");
	parse_ok("2026-12-31T00:00:00Z");
	assert_rejected("2026-12-32T00:00:00Z");
	assert_rejected("2026-00-10T00:00:00Z");
	assert_rejected("2026-13-10T00:00:00Z");
	assert_rejected("2026-11-00T00:00:00Z");
	parse_ok("2026-11-20T23:59:59Z");
	assert_rejected("2026-11-20T24:00:00Z");
	assert_rejected("2026-11-20T10:60:00Z");
}
END_TEST

START_TEST (test_parse_leap_second) {
	/* 2016-12-31 had a real leap second; ssid's clock has none */
	assert_rejected("2016-12-31T23:59:60Z");
	assert_rejected("2016-12-31T23:59:60.500Z");
	assert_rejected("2026-11-20T10:00:61Z");
}
END_TEST

START_TEST (test_parse_range) {
	ck_assert_int_eq(parse_ok("9999-12-31T23:59:59.999Z"), SSI_TIME_MAX_MS);
	ck_assert_int_eq(parse_ok("1970-01-01T00:00:00.000Z"), SSI_TIME_MIN_MS);
	ck_assert_int_eq(parse_ok("1970-01-01T01:00:00+01:00"), SSI_TIME_MIN_MS);
	assert_rejected("1969-12-31T23:59:59Z");
	assert_rejected("1969-12-31T23:59:59.999Z");
	assert_rejected("1970-01-01T00:30:00+01:00");	  /* 1969 in UTC */
	assert_rejected("9999-12-31T23:59:59.999-00:01"); /* 10000 in UTC */
	assert_rejected("10000-01-01T00:00:00Z");
	assert_rejected("0000-01-01T00:00:00Z");
	assert_rejected("+2026-11-20T10:00:00Z");
	assert_rejected("-2026-11-20T10:00:00Z");
}
END_TEST

START_TEST (test_parse_garbage) {
	static const char valid[] = "2026-11-20T11:00:00.250+01:00";
	int64_t ms;

	assert_rejected("");
	assert_rejected("yesterday");
	assert_rejected("2O26-11-20T10:00:00Z");
	assert_rejected("2026/11/20T10:00:00Z");
	assert_rejected("2026-11-20T10-00-00Z");
	assert_rejected("1795168800000");
	/* every proper prefix of a valid timestamp is invalid */
	for (size_t n = 0; n < sizeof(valid) - 1; n++)
		ck_assert_msg(ssi_time_parse(valid, n, &ms) == -EINVAL,
			      "prefix of %zu bytes parsed", n);
	/* len is honoured: a NUL or anything after the timestamp is trailing junk */
	ck_assert_int_eq(ssi_time_parse("2026-11-20T10:00:00Z\0", 21, &ms), -EINVAL);
	ck_assert_int_eq(ssi_time_parse("2026-11-20T10:00:00Zjunk", 20, &ms), 0);
	ck_assert_int_eq(ms, T_2026_11_20_10H);
}
END_TEST

START_TEST (test_days_from_civil) {
	ck_assert_int_eq(ssi_time_days_from_civil(1970, 1, 1), 0);
	ck_assert_int_eq(ssi_time_days_from_civil(1969, 12, 31), -1);
	ck_assert_int_eq(ssi_time_days_from_civil(2000, 3, 1), 11017);
	ck_assert_int_eq(ssi_time_days_from_civil(2026, 11, 20), 20777);
	ck_assert_int_eq(ssi_time_days_from_civil(9999, 12, 31), 2932896);
	ck_assert_int_eq(ssi_time_days_from_civil(0, 3, 1), -719468);
}
END_TEST

/* Walks the calendar one date at a time from 1970 to 9999: no gaps, no repeats. */
START_TEST (test_days_from_civil_walk) {
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int64_t expect = 0;

	for (long y = 1970; y <= 9999; y++)
		for (unsigned m = 1; m <= 12; m++) {
			unsigned n = (unsigned)mdays[m - 1] + (m == 2 && test_is_leap(y));

			for (unsigned d = 1; d <= n; d++, expect++)
				if (ssi_time_days_from_civil(y, m, d) != expect)
					ck_abort_msg("%04ld-%02u-%02u gave %lld, expected %lld", y,
						     m, d,
						     (long long)ssi_time_days_from_civil(y, m, d),
						     (long long)expect);
		}
	ck_assert_int_eq(expect - 1, ssi_time_days_from_civil(9999, 12, 31));
}
END_TEST

START_TEST (test_format) {
	char buf[SSI_TIME_BUFLEN];

	ck_assert_uint_eq(ssi_time_format(0, buf), 24);
	ck_assert_str_eq(buf, "1970-01-01T00:00:00.000Z");
	ssi_time_format(T_2026_11_20_10H + 250, buf);
	ck_assert_str_eq(buf, "2026-11-20T10:00:00.250Z");
	ssi_time_format(1234567890123LL, buf);
	ck_assert_str_eq(buf, "2009-02-13T23:31:30.123Z");
	ssi_time_format(SSI_TIME_MAX_MS, buf);
	ck_assert_str_eq(buf, "9999-12-31T23:59:59.999Z");
	ssi_time_format(951782400000LL, buf);
	ck_assert_str_eq(buf, "2000-02-29T00:00:00.000Z");
	ssi_time_format(-1, buf);
	ck_assert_str_eq(buf, "1969-12-31T23:59:59.999Z");
}
END_TEST

START_TEST (test_format_extremes) {
	char buf[SSI_TIME_BUFLEN];
	int64_t ms;
	size_t n;

	n = ssi_time_format(SSI_TIME_MAX_MS + 1, buf);
	ck_assert_str_eq(buf, "10000-01-01T00:00:00.000Z");
	ck_assert_uint_eq(n, strlen(buf));
	ck_assert_int_eq(ssi_time_parse(buf, n, &ms), -EINVAL);

	n = ssi_time_format(INT64_MAX, buf);
	ck_assert_uint_eq(n, strlen(buf));
	ck_assert_uint_lt(n, SSI_TIME_BUFLEN);
	n = ssi_time_format(INT64_MIN, buf);
	ck_assert_uint_eq(n, strlen(buf));
	ck_assert_uint_lt(n, SSI_TIME_BUFLEN);
	ck_assert_int_eq(buf[0], '-');
}
END_TEST

/* xorshift64*: a fixed seed keeps the test deterministic. */
static uint64_t next_random(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

/* Inside the long loops: a Check assertion per iteration costs a pipe write. */
static void check_roundtrip(int64_t ms)
{
	char buf[SSI_TIME_BUFLEN];
	size_t n = ssi_time_format(ms, buf);
	int64_t back = -1;

	if (n != 24 || ssi_time_parse(buf, n, &back) != 0 || back != ms)
		ck_abort_msg("%lld formatted as \"%s\" parsed back as %lld", (long long)ms, buf,
			     (long long)back);
}

START_TEST (test_format_parse_roundtrip) {
	uint64_t seed = 0x5eed0001;

	for (int i = 0; i < 100000; i++)
		check_roundtrip((int64_t)(next_random(&seed) % (uint64_t)(SSI_TIME_MAX_MS + 1)));
	/* every day of the range, at its first and last millisecond */
	for (int32_t day = 0; day <= ssi_time_day(SSI_TIME_MAX_MS); day++) {
		int64_t first = ssi_time_day_start(day), last = first + SSI_MS_PER_DAY - 1;

		check_roundtrip(first);
		check_roundtrip(last);
		if (ssi_time_day(first) != day || ssi_time_day(last) != day)
			ck_abort_msg("day %d does not hold its own first and last ms", day);
	}
}
END_TEST

START_TEST (test_day) {
	ck_assert_int_eq(ssi_time_day(0), 0);
	ck_assert_int_eq(ssi_time_day(SSI_MS_PER_DAY - 1), 0);
	ck_assert_int_eq(ssi_time_day(SSI_MS_PER_DAY), 1);
	ck_assert_int_eq(ssi_time_day(-1), -1);
	ck_assert_int_eq(ssi_time_day(-SSI_MS_PER_DAY), -1);
	ck_assert_int_eq(ssi_time_day(-SSI_MS_PER_DAY - 1), -2);
	ck_assert_int_eq(ssi_time_day(T_2026_11_20_10H), 20777);
	ck_assert_int_eq(ssi_time_day_start(20777), T_2026_11_20_10H - 10 * 3600000LL);
}
END_TEST

Suite *time_suite(void)
{
	Suite *s = suite_create("time");
	TCase *tc = tcase_create("rfc3339");

	tcase_add_test(tc, test_parse_basic);
	tcase_add_test(tc, test_parse_lower_case);
	tcase_add_test(tc, test_parse_fraction);
	tcase_add_test(tc, test_parse_offsets);
	tcase_add_test(tc, test_parse_calendar);
	tcase_add_test(tc, test_parse_leap_second);
	tcase_add_test(tc, test_parse_range);
	tcase_add_test(tc, test_parse_garbage);
	tcase_add_test(tc, test_format);
	tcase_add_test(tc, test_format_extremes);
	suite_add_tcase(s, tc);

	tc = tcase_create("days");
	/* the exhaustive walks take a few seconds under valgrind */
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_days_from_civil);
	tcase_add_test(tc, test_days_from_civil_walk);
	tcase_add_test(tc, test_format_parse_roundtrip);
	tcase_add_test(tc, test_day);
	suite_add_tcase(s, tc);
	return s;
}
