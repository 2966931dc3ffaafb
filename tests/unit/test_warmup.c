/*
 * ssi_warmup: a segment is settled when it grew by at most growth_percent
 * over the last window, measured against the newest sample at or before
 * now - window; a first note seeds it with the size before, a window back.
 */
#include <check.h>

#include "ssi_warmup.h"
#include "suites.h"

#define W  600000 /* the default window, 10 minutes */
#define T0 1795176000000LL

static const struct ssi_warmup_rule rule = {.window_ms = W, .growth_percent = 10};

/* A segment met with members is settled at that size; growth then counts. */
START_TEST (test_met_with_members) {
	struct ssi_warmup w;

	ssi_warmup_init(&w);
	ck_assert(ssi_warmup_settled(&w, &rule, T0, 1000)); /* never noted */
	ssi_warmup_note(&w, &rule, T0, 1000, 1001);
	ck_assert(ssi_warmup_settled(&w, &rule, T0, 1001));
	ck_assert(ssi_warmup_settled(&w, &rule, T0, 1100));  /* exactly 10% */
	ck_assert(!ssi_warmup_settled(&w, &rule, T0, 1101)); /* just over */
}
END_TEST

/* A new segment grew from nothing: it settles a window after it stops growing. */
START_TEST (test_new_segment_settles) {
	struct ssi_warmup w;
	int64_t t = T0, size = 0;

	ssi_warmup_init(&w);
	/* Filled over 20 minutes, a member every 6 seconds. */
	for (int i = 0; i < 200; i++, t += 6000) {
		ssi_warmup_note(&w, &rule, t, size, size + 1);
		size++;
		ck_assert_msg(!ssi_warmup_settled(&w, &rule, t, size), "settled at %d members", i);
	}
	/* Then quiet: still filling up until a whole window has passed. */
	ck_assert(!ssi_warmup_settled(&w, &rule, t + W / 2, size));
	ssi_warmup_note(&w, &rule, t + W / 2, size, size);
	ck_assert(!ssi_warmup_settled(&w, &rule, t + W / 2, size));
	/* A window and a ninth after the last growth, at the latest, it has settled. */
	ck_assert(ssi_warmup_settled(&w, &rule, t + W + W / 9 + 1, size));
}
END_TEST

/* Slow growth (under 10% a window) never counts as filling up. */
START_TEST (test_slow_growth) {
	struct ssi_warmup w;
	int64_t t = T0, size = 1000;

	ssi_warmup_init(&w);
	for (int i = 0; i < 500; i++, t += 10000) {
		ssi_warmup_note(&w, &rule, t, size, size + 1);
		size++; /* 60 per 10 minutes: 6% */
		ck_assert_msg(ssi_warmup_settled(&w, &rule, t, size), "filling up at step %d", i);
	}
}
END_TEST

/* Window 0 turns the rule off; a clock set back starts over conservatively. */
START_TEST (test_off_and_clock_back) {
	const struct ssi_warmup_rule off = {.window_ms = 0, .growth_percent = 10};
	struct ssi_warmup w;

	ssi_warmup_init(&w);
	ssi_warmup_note(&w, &off, T0, 0, 1000);
	ck_assert(ssi_warmup_settled(&w, &off, T0, 1000));

	ssi_warmup_init(&w);
	ssi_warmup_note(&w, &rule, T0, 100, 100);
	ssi_warmup_note(&w, &rule, T0 - 5 * W, 100, 200);
	ck_assert(!ssi_warmup_settled(&w, &rule, T0 - 5 * W, 200));
	ck_assert(ssi_warmup_settled(&w, &rule, T0 - 5 * W, 110));
}
END_TEST

Suite *warmup_suite(void)
{
	Suite *s = suite_create("warmup");
	TCase *tc = tcase_create("warmup");

	tcase_add_test(tc, test_met_with_members);
	tcase_add_test(tc, test_new_segment_settles);
	tcase_add_test(tc, test_slow_growth);
	tcase_add_test(tc, test_off_and_clock_back);
	suite_add_tcase(s, tc);
	return s;
}
