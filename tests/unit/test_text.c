/* ssi_text: versioned integer lists, round trips and what is refused. */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include <check.h>

#include "ssi_text.h"
#include "suites.h"

START_TEST (test_round_trip) {
	const long long v[] = {0, -1, 2500, LLONG_MAX, LLONG_MIN, 20424};
	long long back[6];
	char buf[SSI_TEXT_INTS_MAX];
	size_t used;
	int ver, n;

	n = ssi_text_ints_format(buf, sizeof(buf), 2, v, 6);
	ck_assert_str_eq(buf, "v2 0 -1 2500 9223372036854775807 -9223372036854775808 20424");
	ck_assert_int_eq(n, (int)strlen(buf));
	ck_assert_int_eq(ssi_text_ints_parse(buf, (size_t)n, &ver, back, 6, &used), 0);
	ck_assert_int_eq(ver, 2);
	ck_assert_uint_eq(used, (size_t)n);
	ck_assert_mem_eq(back, v, sizeof(v));
	/* Fewer numbers than there are: used says where they stopped. */
	ck_assert_int_eq(ssi_text_ints_parse(buf, (size_t)n, &ver, back, 2, &used), 0);
	ck_assert_uint_eq(used, strlen("v2 0 -1"));
	/* Several spaces and a plus sign read as scanf's %d would. */
	ck_assert_int_eq(ssi_text_ints_parse("v1  +7 8", 8, &ver, back, 2, &used), 0);
	ck_assert(back[0] == 7 && back[1] == 8 && used == 8);
	/* Not NUL-terminated: only len bytes are read. */
	ck_assert_int_eq(ssi_text_ints_parse("v1 12345", 5, &ver, back, 1, &used), 0);
	ck_assert(back[0] == 12 && used == 5);
}
END_TEST

START_TEST (test_refused) {
	static const char *const bad[] = {
	    "",
	    "v",
	    "1 2",
	    "vx 1",
	    "v1",
	    "v1 ",
	    "v1 -",
	    "v1 1 x",
	    "v1 1,2",
	    "v1 9223372036854775808",
	    "v1 -9223372036854775809",
	    "v99999999999 1 2",
	};
	long long v[2];
	size_t used;
	int ver;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(ssi_text_ints_parse(bad[i], strlen(bad[i]), &ver, v, 2, &used) ==
				  -EBADMSG,
			      "accepted \"%s\"", bad[i]);
}
END_TEST

START_TEST (test_format_bounds) {
	const long long v[] = {123, 456};
	char buf[16];

	/* "v1 123 456" needs 11 bytes with its NUL. */
	ck_assert_int_eq(ssi_text_ints_format(buf, 10, 1, v, 2), -ENOSPC);
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(ssi_text_ints_format(buf, 4, 1, v, 2), -ENOSPC);
	ck_assert_int_eq(ssi_text_ints_format(buf, 11, 1, v, 2), 10);
	ck_assert_str_eq(buf, "v1 123 456");
	ck_assert(ssi_text_ints_fit_int(v, 2));
	ck_assert(!ssi_text_ints_fit_int((const long long[]){(long long)INT_MAX + 1}, 1));
}
END_TEST

Suite *text_suite(void)
{
	Suite *s = suite_create("text");
	TCase *tc = tcase_create("text");

	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_refused);
	tcase_add_test(tc, test_format_bounds);
	suite_add_tcase(s, tc);
	return s;
}
