/*
 * ssid_boards, its pure parts: how two leaderboards differ (members, order,
 * scores) and the coalescing of leaderboard.changed on an injected clock.
 * Reading and publishing boards is tested against Redis and end to end
 * (tests/daemon/test_rank.c, test_ranks_e2e.c).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <check.h>

#include "ssid_boards.h"
#include "suites.h"

static void entry_set(struct ssid_rank_entry *e, const char *id, int total)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->user_id, sizeof(e->user_id), "%s", id);
	e->total = total;
}

START_TEST (test_board_diff) {
	struct ssid_rank_entry a[3], b[3];

	entry_set(&a[0], "x", 900);
	entry_set(&a[1], "y", 800);
	entry_set(&a[2], "z", 700);
	memcpy(b, a, sizeof(a));
	ck_assert_uint_eq(ssid_boards_diff(a, 3, b, 3), 0);
	ck_assert_uint_eq(ssid_boards_diff(a, 0, b, 0), 0);
	/* Same order, one total moved. */
	b[2].total = 750;
	ck_assert_uint_eq(ssid_boards_diff(a, 3, b, 3), SSID_BOARD_SCORES);
	/* Order: y overtakes x. */
	entry_set(&b[0], "y", 950);
	entry_set(&b[1], "x", 900);
	entry_set(&b[2], "z", 700);
	ck_assert_uint_eq(ssid_boards_diff(a, 3, b, 3), SSID_BOARD_ORDER | SSID_BOARD_SCORES);
	/* Membership: w replaces z at the bottom, the others keep their order. */
	memcpy(b, a, sizeof(a));
	entry_set(&b[2], "w", 710);
	ck_assert_uint_eq(ssid_boards_diff(a, 3, b, 3), SSID_BOARD_MEMBERS);
	/* Membership and order: w enters on top, y drops below z, x leaves. */
	entry_set(&b[0], "w", 990);
	entry_set(&b[1], "z", 700);
	entry_set(&b[2], "y", 800);
	ck_assert_uint_eq(ssid_boards_diff(a, 3, b, 3), SSID_BOARD_MEMBERS | SSID_BOARD_ORDER);
	/* A board that grows or empties. */
	ck_assert_uint_eq(ssid_boards_diff(a, 2, a, 3), SSID_BOARD_MEMBERS);
	ck_assert_uint_eq(ssid_boards_diff(a, 3, a, 0), SSID_BOARD_MEMBERS);
}
END_TEST

START_TEST (test_coalesce) {
	struct ssid_boards_coalesce c;

	ssid_boards_coalesce_init(&c, SSID_RANK_DEFAULT_INTERVAL_MS);
	ck_assert_int_eq(ssid_boards_coalesce_next(&c), INT64_MAX);
	ck_assert(!ssid_boards_coalesce_due(&c, 5000));
	/* The first change goes out at once. */
	ck_assert(ssid_boards_coalesce_offer(&c, 5000));
	/* Changes within the interval wait, and collapse into one. */
	ck_assert(!ssid_boards_coalesce_offer(&c, 5300));
	ck_assert(!ssid_boards_coalesce_offer(&c, 5900));
	ck_assert_int_eq(ssid_boards_coalesce_next(&c), 6000);
	ck_assert(!ssid_boards_coalesce_due(&c, 5999));
	ck_assert(ssid_boards_coalesce_due(&c, 6000));
	ck_assert(!ssid_boards_coalesce_due(&c, 6001));
	ck_assert_int_eq(ssid_boards_coalesce_next(&c), INT64_MAX);
	/* The interval counts from the last publication (6000). */
	ck_assert(!ssid_boards_coalesce_offer(&c, 6500));
	ck_assert(ssid_boards_coalesce_offer(&c, 7000));
	ck_assert_int_eq(ssid_boards_coalesce_next(&c), INT64_MAX);
	ck_assert(!ssid_boards_coalesce_due(&c, 9000));
	/* Quiet for long: the next change goes out at once again. */
	ck_assert(ssid_boards_coalesce_offer(&c, 20000));
	/* A clock that stepped back does not publish early. */
	ck_assert(!ssid_boards_coalesce_offer(&c, 19000));
	ck_assert(!ssid_boards_coalesce_due(&c, 20999));
	ck_assert(ssid_boards_coalesce_due(&c, 21000));
}
END_TEST

Suite *boards_suite(void)
{
	Suite *s = suite_create("boards");
	TCase *tc = tcase_create("pure");

	tcase_add_test(tc, test_board_diff);
	tcase_add_test(tc, test_coalesce);
	suite_add_tcase(s, tc);
	return s;
}
