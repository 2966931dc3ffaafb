/* ssid_parts: replay ranges, rebuild progress and the model walk flags. */
#include <check.h>
#include <stdlib.h>

#include "ssid_parts.h"
#include "suites.h"

/* A replay covers [from, until) of an owned partition, nothing else. */
START_TEST (test_replay_range) {
	struct ssid_parts ps = {0};
	struct ssid_part *p;

	ck_assert_int_eq(ssid_parts_assign(&ps, 3), 0);
	ck_assert_uint_eq(ps.n, 4);
	ck_assert(!ps.p[0].owned && ps.p[3].owned && ps.p[3].model_check);
	p = ssid_parts_get(&ps, 3);
	p->replay_from = p->position = 100;
	p->replay_until = 250;
	ck_assert(ssid_parts_is_replay(&ps, 3, 100));
	ck_assert(ssid_parts_is_replay(&ps, 3, 249));
	ck_assert(!ssid_parts_is_replay(&ps, 3, 250));
	ck_assert(!ssid_parts_is_replay(&ps, 2, 100));
	ck_assert(!ssid_parts_is_replay(&ps, 9, 100));
	ck_assert(!ssid_parts_is_replay(&ps, -1, 100));
	ck_assert_ptr_null(ssid_parts_get(&ps, -1));

	/* A revoked partition's replay is the next owner's business. */
	ssid_parts_revoke(&ps, 3);
	ck_assert(!ssid_parts_is_replay(&ps, 3, 120));
	ck_assert(!ps.p[3].owned);
	ssid_parts_revoke(&ps, 42); /* unknown: harmless */
	ssid_parts_free(&ps);
	ssid_parts_free(&ps);
}
END_TEST

/* Done and to-go add up over the owned partitions still replaying. */
START_TEST (test_progress) {
	struct ssid_parts ps = {0};
	struct ssid_rebuild_progress pr;
	struct ssid_part *a, *b;

	ck_assert(!ssid_parts_rebuild_progress(&ps, &pr));
	ck_assert_int_eq(ssid_parts_assign(&ps, 0), 0);
	ck_assert_int_eq(ssid_parts_assign(&ps, 1), 0);
	a = ssid_parts_get(&ps, 0);
	a->replay_from = a->position = 1000;
	a->replay_until = 2000;
	b = ssid_parts_get(&ps, 1);
	b->replay_from = b->position = 0;
	b->replay_until = 500;
	ck_assert(ssid_parts_rebuild_progress(&ps, &pr));
	ck_assert_int_eq(pr.partitions, 2);
	ck_assert_int_eq(pr.done, 0);
	ck_assert_int_eq(pr.left, 1500);

	ssid_parts_advance(&ps, 0, 1499); /* messages up to 1499 are durable */
	ssid_parts_advance(&ps, 0, 1200); /* an older offset never moves it back */
	ssid_parts_advance(&ps, 1, 99);
	ck_assert(ssid_parts_rebuild_progress(&ps, &pr));
	ck_assert_int_eq(pr.done, 600);
	ck_assert_int_eq(pr.left, 900);

	ssid_parts_advance(&ps, 1, 499);
	ck_assert(ssid_parts_rebuild_progress(&ps, &pr));
	ck_assert_int_eq(pr.partitions, 1);
	ck_assert_int_eq(pr.done, 1000); /* a partition replayed to its end still counts */
	ck_assert_int_eq(pr.left, 500);

	ssid_parts_advance(&ps, 0, 1999);
	ck_assert(!ssid_parts_rebuild_progress(&ps, &pr));
	ck_assert_int_eq(pr.left, 0);
	ssid_parts_free(&ps);
}
END_TEST

/* A new model makes every owned partition check its version again, from the start. */
START_TEST (test_model_changed) {
	struct ssid_parts ps = {0};

	ck_assert_int_eq(ssid_parts_assign(&ps, 0), 0);
	ck_assert_int_eq(ssid_parts_assign(&ps, 2), 0);
	for (size_t i = 0; i < ps.n; i++) {
		ps.p[i].model_check = false;
		ps.p[i].walking = true;
		ps.p[i].cursor = 77;
	}
	ssid_parts_model_changed(&ps);
	ck_assert(ps.p[0].model_check && !ps.p[0].walking && ps.p[0].cursor == 0);
	ck_assert(ps.p[2].model_check && !ps.p[2].walking);
	ck_assert(!ps.p[1].model_check); /* not owned */
	ssid_parts_revoke(&ps, 2);
	ck_assert(!ps.p[2].model_check && !ps.p[2].walking);
	ssid_parts_free(&ps);
}
END_TEST

Suite *parts_suite(void)
{
	Suite *s = suite_create("parts");
	TCase *tc = tcase_create("parts");

	tcase_add_test(tc, test_replay_range);
	tcase_add_test(tc, test_progress);
	tcase_add_test(tc, test_model_changed);
	suite_add_tcase(s, tc);
	return s;
}
