/*
 * ssi_band: the tightest band holding a percentile, crossings up into a
 * band and down out of one (several boundaries at once, none without a
 * position), and parsing rank.bands.
 */
#include <errno.h>

#include <check.h>

#include "ssi_band.h"
#include "suites.h"

START_TEST (test_band_crossings) {
	struct ssi_bands b;
	struct ssi_band_crossing x;

	ssi_bands_default(&b);
	ck_assert_uint_eq(b.n, 6);
	ck_assert_int_eq(ssi_band_of(&b, 1), 1);
	ck_assert_int_eq(ssi_band_of(&b, 3), 5);
	ck_assert_int_eq(ssi_band_of(&b, 15), 15);
	ck_assert_int_eq(ssi_band_of(&b, 16), 25);
	ck_assert_int_eq(ssi_band_of(&b, 51), 0);
	ck_assert_int_eq(ssi_band_of(&b, 0), 0);

	ck_assert_int_eq(ssi_band_crossing(&b, 30, 12, &x), +1);
	ck_assert_int_eq(x.band, 15);
	ck_assert_int_eq(x.from, 50);
	ck_assert_int_eq(x.to, 15);
	ck_assert_int_eq(ssi_band_crossing(&b, 12, 30, &x), -1);
	ck_assert_int_eq(x.band, 15);
	ck_assert_int_eq(ssi_band_crossing(&b, 2, 1, &x), +1);
	ck_assert_int_eq(x.band, 1);
	ck_assert_int_eq(ssi_band_crossing(&b, 1, 2, &x), -1);
	ck_assert_int_eq(x.band, 1);
	ck_assert_int_eq(ssi_band_crossing(&b, 60, 50, &x), +1);
	ck_assert_int_eq(x.band, 50);
	ck_assert_int_eq(x.from, 0);
	ck_assert_int_eq(ssi_band_crossing(&b, 50, 51, &x), -1);
	ck_assert_int_eq(x.band, 50);
	ck_assert_int_eq(x.to, 0);
	/* Several boundaries at once: the tightest band reached or left. */
	ck_assert_int_eq(ssi_band_crossing(&b, 80, 4, &x), +1);
	ck_assert_int_eq(x.band, 5);
	ck_assert_int_eq(ssi_band_crossing(&b, 4, 80, &x), -1);
	ck_assert_int_eq(x.band, 5);
	/* Within a band, outside all of them, or without a position: nothing. */
	ck_assert_int_eq(ssi_band_crossing(&b, 4, 3, &x), 0);
	ck_assert_int_eq(ssi_band_crossing(&b, 70, 90, &x), 0);
	ck_assert_int_eq(ssi_band_crossing(&b, 0, 3, &x), 0);
	ck_assert_int_eq(ssi_band_crossing(&b, 3, 0, &x), 0);
	ck_assert_int_eq(x.direction, 0);

	ck_assert_int_eq(ssi_bands_parse(&b, " 2, 20 ,40"), 0);
	ck_assert_uint_eq(b.n, 3);
	ck_assert_int_eq(b.top[1], 20);
	ck_assert_int_eq(ssi_band_crossing(&b, 25, 15, &x), +1);
	ck_assert_int_eq(x.band, 20);
	ck_assert_int_eq(ssi_bands_parse(&b, "100"), 0);
	ck_assert_int_eq(ssi_bands_parse(&b, ""), -EINVAL);
	ck_assert_int_eq(ssi_bands_parse(&b, "5,1"), -EINVAL);
	ck_assert_int_eq(ssi_bands_parse(&b, "5,5"), -EINVAL);
	ck_assert_int_eq(ssi_bands_parse(&b, "0,5"), -EINVAL);
	ck_assert_int_eq(ssi_bands_parse(&b, "101"), -EINVAL);
	ck_assert_int_eq(ssi_bands_parse(&b, "1,,5"), -EINVAL);
	ck_assert_int_eq(ssi_bands_parse(&b, "1,5,"), -EINVAL);
	ck_assert_int_eq(ssi_bands_parse(&b, "-1"), -EINVAL);
	ck_assert_int_eq(ssi_bands_parse(&b, "1;5"), -EINVAL);
	ck_assert_int_eq(ssi_bands_parse(&b, "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17"), -EINVAL);
	/* A failed parse leaves the bands as they were. */
	ck_assert_uint_eq(b.n, 1);
	ck_assert_int_eq(b.top[0], 100);
}
END_TEST

Suite *band_suite(void)
{
	Suite *s = suite_create("band");
	TCase *tc = tcase_create("band");

	tcase_add_test(tc, test_band_crossings);
	suite_add_tcase(s, tc);
	return s;
}
