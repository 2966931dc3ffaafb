/*
 * Properties on seeded random streams: the invariants the daemon relies on,
 * checked on many streams rather than a few hand-picked cases.
 */
#include <stdlib.h>
#include <string.h>

#include "suites.h"
#include "ssi_score.h"
#include "ssi_time.h"
#include "testutil.h"

#define STREAM_MAX 600

static struct ssi_model model;
static struct ssi_event stream[STREAM_MAX];

static int make_stream(int seed)
{
	struct t_rng r = {.s = (uint64_t)seed * 7919u + 1};
	int n = 50 + (int)t_below(&r, STREAM_MAX - 50);

	ssi_model_default(&model);
	for (int i = 0; i < n; i++)
		t_event_random(&stream[i], &r, T_NOW, model.window_days,
			       (uint64_t)seed * 100000 + i);
	return n;
}

static void shuffle(struct ssi_event *ev, int n, struct t_rng *r)
{
	for (int i = n - 1; i > 0; i--) {
		int j = (int)t_below(r, (uint64_t)i + 1);
		struct ssi_event tmp = ev[i];

		ev[i] = ev[j];
		ev[j] = tmp;
	}
}

static void apply_all(struct ssi_state *st, const struct ssi_event *ev, int n)
{
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(ssi_state_apply(st, &model, &ev[i]), 1);
}

static void assert_same_score(const struct ssi_state *a, const struct ssi_state *b, int64_t t)
{
	struct ssi_score sa, sb;

	ssi_score(a, &model, t, &sa);
	ssi_score(b, &model, t, &sb);
	ck_assert_int_eq(sa.total, sb.total);
	for (int p = 0; p < SSI_PILLAR__COUNT; p++)
		ck_assert_int_eq(sa.pillar[p], sb.pillar[p]);
}

START_TEST (order_does_not_matter) {
	int n = make_stream(_i);
	struct t_rng r = {.s = (uint64_t)_i};
	struct ssi_state a, b;

	ssi_state_init(&a);
	ssi_state_init(&b);
	apply_all(&a, stream, n);
	shuffle(stream, n, &r);
	apply_all(&b, stream, n);
	ck_assert(ssi_state_equal(&a, &b));
	assert_same_score(&a, &b, T_NOW);
	ssi_state_clear(&a);
	ssi_state_clear(&b);
}
END_TEST

/*
 * The daemon folds events in batches into a state decoded from Redis and
 * re-encoded after each batch; the result must equal one pass over all.
 */
START_TEST (incremental_equals_recompute) {
	int n = make_stream(_i);
	struct ssi_state inc, full;
	uint8_t *buf = malloc(SSI_STATE_ENCODED_MAX);

	ssi_state_init(&inc);
	ssi_state_init(&full);
	for (int i = 0; i < n; i++) {
		long len;

		ck_assert_int_eq(ssi_state_apply(&inc, &model, &stream[i]), 1);
		if (i % 7 == 0) {
			struct ssi_score s;

			ssi_score(&inc, &model, T_NOW, &s);
			len = ssi_state_encode(&inc, buf, SSI_STATE_ENCODED_MAX);
			ck_assert_int_gt(len, 0);
			ck_assert_int_eq(ssi_state_decode(&inc, buf, (size_t)len), 0);
		}
	}
	apply_all(&full, stream, n);
	ck_assert(ssi_state_equal(&inc, &full));
	assert_same_score(&inc, &full, T_NOW);
	ssi_state_clear(&inc);
	ssi_state_clear(&full);
	free(buf);
}
END_TEST

/*
 * A duplicate is recognised while its key is among the dedup_recent newest
 * of the user's events: re-applying such an event changes nothing.
 */
START_TEST (duplicates_within_the_horizon_are_ignored) {
	int n = make_stream(_i);
	struct ssi_state st, before;
	int caught = 0;

	ssi_state_init(&st);
	ssi_state_init(&before);
	for (int i = 0; i < n; i++) {
		bool remembered = false;

		ck_assert_int_eq(ssi_state_apply(&st, &model, &stream[i]), 1);
		for (uint32_t k = 0; k < st.nrecent; k++)
			remembered |= st.recent[k].fp == stream[i].fingerprint;
		if (!remembered)
			continue;
		ck_assert_int_eq(ssi_state_copy(&before, &st), 0);
		ck_assert_int_eq(ssi_state_apply(&st, &model, &stream[i]), 0);
		ck_assert(ssi_state_equal(&st, &before));
		caught++;
	}
	ck_assert_int_ge(caught, model.dedup_recent);
	ssi_state_clear(&st);
	ssi_state_clear(&before);
}
END_TEST

/* In event-time order (what one Kafka partition usually carries) every
 * immediate redelivery is caught, whatever the horizon. */
START_TEST (adjacent_duplicates_in_time_order_are_ignored) {
	int n = make_stream(_i);
	struct ssi_state once, twice;

	for (int i = 1; i < n; i++) {
		struct ssi_event key = stream[i];
		int j = i - 1;

		while (j >= 0 && stream[j].occurred_at_ms > key.occurred_at_ms) {
			stream[j + 1] = stream[j];
			j--;
		}
		stream[j + 1] = key;
	}
	ssi_state_init(&once);
	ssi_state_init(&twice);
	for (int i = 0; i < n; i++) {
		ck_assert_int_eq(ssi_state_apply(&once, &model, &stream[i]), 1);
		ck_assert_int_eq(ssi_state_apply(&twice, &model, &stream[i]), 1);
		ck_assert_int_eq(ssi_state_apply(&twice, &model, &stream[i]), 0);
	}
	ck_assert(ssi_state_equal(&once, &twice));
	ssi_state_clear(&once);
	ssi_state_clear(&twice);
}
END_TEST

START_TEST (scores_stay_in_bounds) {
	int n = make_stream(_i);
	struct t_rng r = {.s = (uint64_t)_i + 99};
	struct ssi_state st;
	uint64_t seq = 1u << 30;

	ssi_state_init(&st);
	apply_all(&st, stream, n);
	/* Plus a bot's day of everything, to push every variable to its cap. */
	for (int t = 0; t < SSI_EV__COUNT; t++)
		if (t != SSI_EV_CONNECTION_REMOVED)
			t_apply_n(&st, &model, (enum ssi_event_type)t,
				  T_NOW - (int64_t)t_below(&r, 30) * T_DAY, 400, &seq);
	for (int64_t t = T_NOW; t < T_NOW + 100 * T_DAY; t += 7 * T_DAY) {
		struct ssi_score s;
		int sum = 0;

		ssi_score(&st, &model, t, &s);
		for (int p = 0; p < SSI_PILLAR__COUNT; p++) {
			ck_assert_int_ge(s.pillar[p], 0);
			ck_assert_int_le(s.pillar[p], 2500);
			sum += s.pillar[p];
		}
		ck_assert_int_eq(s.total, sum);
		ck_assert_int_le(s.total, 10000);
	}
	ssi_state_clear(&st);
}
END_TEST

/* After a whole window of silence only the non-windowed part is left. */
START_TEST (idle_user_decays_to_the_unwindowed_part) {
	int n = make_stream(_i);
	struct ssi_state st, unwindowed;
	int64_t later = T_NOW + (int64_t)model.window_days * T_DAY;
	struct ssi_score s_later, s_now;

	ssi_state_init(&st);
	ssi_state_init(&unwindowed);
	apply_all(&st, stream, n);
	ck_assert_int_eq(ssi_state_copy(&unwindowed, &st), 0);
	unwindowed.nrows = 0;
	ssi_score(&st, &model, T_NOW, &s_now);
	ssi_score(&st, &model, later, &s_later);
	assert_same_score(&st, &unwindowed, later);
	ck_assert_int_le(s_later.total, s_now.total);
	ssi_state_prune(&st, &model, later);
	ck_assert_uint_eq(st.nrows, 0);
	ssi_state_clear(&st);
	ssi_state_clear(&unwindowed);
}
END_TEST

/* next_change is exact: the score holds until then and differs at it. */
START_TEST (next_change_is_exact) {
	int n = make_stream(_i);
	struct ssi_state st;
	int64_t t = T_NOW;

	ssi_state_init(&st);
	apply_all(&st, stream, n);
	for (int step = 0; step < 5; step++) {
		int64_t next = ssi_score_next_change(&st, &model, t);
		struct ssi_score at_t, before_next, at_next;

		if (next == INT64_MAX)
			break;
		ck_assert_int_gt(next, t);
		ssi_score(&st, &model, t, &at_t);
		ssi_score(&st, &model, next - 1, &before_next);
		ssi_score(&st, &model, next, &at_next);
		ck_assert_int_eq(at_t.total, before_next.total);
		ck_assert(memcmp(at_t.pillar, at_next.pillar, sizeof(at_t.pillar)) != 0);
		t = next;
	}
	ssi_state_clear(&st);
}
END_TEST

Suite *property_suite(void)
{
	Suite *s = suite_create("property");
	TCase *tc = tcase_create("random streams");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, order_does_not_matter, 0, 40);
	tcase_add_loop_test(tc, incremental_equals_recompute, 0, 40);
	tcase_add_loop_test(tc, duplicates_within_the_horizon_are_ignored, 0, 40);
	tcase_add_loop_test(tc, adjacent_duplicates_in_time_order_are_ignored, 0, 20);
	tcase_add_loop_test(tc, scores_stay_in_bounds, 0, 20);
	tcase_add_loop_test(tc, idle_user_decays_to_the_unwindowed_part, 0, 40);
	tcase_add_loop_test(tc, next_change_is_exact, 0, 40);
	suite_add_tcase(s, tc);
	return s;
}
