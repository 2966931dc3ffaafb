/* ssi_score: the formula, caps, rates, rounding and the next change. */
#include <math.h>
#include <string.h>

#include "suites.h"
#include "ssi_score.h"
#include "ssi_time.h"
#include "testutil.h"

static struct ssi_model model;
static struct ssi_state st;
static uint64_t seq;

static void setup(void)
{
	ssi_model_default(&model);
	ssi_state_init(&st);
	seq = 1;
}

static void teardown(void)
{
	ssi_state_clear(&st);
}

/* Expected centipoints of a counted variable, straight from the formula. */
static int expected_count_cp(enum ssi_variable v, double x)
{
	return (int)lround(100.0 * model.var[v].weight * (1.0 - exp2(-x / model.var[v].half)));
}

START_TEST (empty_state_scores_zero) {
	struct ssi_score s;

	ssi_score(&st, &model, T_NOW, &s);
	ck_assert_int_eq(s.total, 0);
	for (int p = 0; p < SSI_PILLAR__COUNT; p++)
		ck_assert_int_eq(s.pillar[p], 0);
	ck_assert_int_eq(ssi_score_next_change(&st, &model, T_NOW), INT64_MAX);
}
END_TEST

START_TEST (complete_profile_earns_its_weight) {
	struct ssi_event ev;
	struct ssi_score s;

	t_event(&ev, SSI_EV_PROFILE_UPDATED, T_NOW, seq++);
	ev.attrs.profile = (struct ssi_profile){true, true, true, true, true, 10, 3};
	ssi_state_apply(&st, &model, &ev);
	ssi_score(&st, &model, T_NOW, &s);
	ck_assert_int_eq(s.pillar[SSI_BRAND],
			 (int)lround(100 * model.var[SSI_V_PROFILE_COMPLETENESS].weight));
	ck_assert_int_eq(s.total, s.pillar[SSI_BRAND]);

	/* Half the skills target is half the skills share. */
	t_event(&ev, SSI_EV_PROFILE_UPDATED, T_NOW + 1, seq++);
	ev.attrs.profile = (struct ssi_profile){false, false, false, false, false, 5, 0};
	ssi_state_apply(&st, &model, &ev);
	ssi_score(&st, &model, T_NOW + 1, &s);
	ck_assert_int_eq(s.pillar[SSI_BRAND],
			 (int)lround(100 * model.var[SSI_V_PROFILE_COMPLETENESS].weight *
				     model.profile_field[SSI_PF_SKILLS] * 0.5));
}
END_TEST

START_TEST (counts_follow_the_saturation_curve) {
	struct ssi_score s;
	int prev_gain = 1 << 30;
	int prev = 0;

	for (int n = 1; n <= 12; n++) {
		/* One article a day, under the daily cap. */
		t_apply_n(&st, &model, SSI_EV_ARTICLE_PUBLISHED, T_NOW - n * T_DAY, 1, &seq);
		ssi_score(&st, &model, T_NOW, &s);
		ck_assert_int_eq(s.pillar[SSI_BRAND], expected_count_cp(SSI_V_ARTICLES, n));
		/* Diminishing returns: each article adds no more than the one before. */
		ck_assert_int_le(s.pillar[SSI_BRAND] - prev, prev_gain);
		prev_gain = s.pillar[SSI_BRAND] - prev;
		prev = s.pillar[SSI_BRAND];
	}
	ck_assert_int_lt(s.pillar[SSI_BRAND], (int)(100 * model.var[SSI_V_ARTICLES].weight));
}
END_TEST

START_TEST (daily_cap_stops_a_flood) {
	struct ssi_score flood, busy;
	struct ssi_state human;
	int cap = model.var[SSI_V_MESSAGES].daily_cap;

	t_apply_n(&st, &model, SSI_EV_MESSAGE_SENT, T_NOW, 5000, &seq);
	ssi_state_init(&human);
	t_apply_n(&human, &model, SSI_EV_MESSAGE_SENT, T_NOW, cap, &seq);
	ssi_score(&st, &model, T_NOW, &flood);
	ssi_score(&human, &model, T_NOW, &busy);
	ck_assert_int_eq(flood.total, busy.total);
	ck_assert_int_eq(flood.pillar[SSI_INSIGHTS], expected_count_cp(SSI_V_MESSAGES, cap));
	ssi_state_clear(&human);
}
END_TEST

START_TEST (filtered_searches_count_more) {
	struct ssi_event ev;
	struct ssi_score s;

	t_event(&ev, SSI_EV_SEARCH_PERFORMED, T_NOW, seq++);
	ev.attrs.search.filters = 2;
	ssi_state_apply(&st, &model, &ev);
	t_apply_n(&st, &model, SSI_EV_SEARCH_PERFORMED, T_NOW, 1, &seq);
	ssi_score(&st, &model, T_NOW, &s);
	ck_assert_int_eq(s.pillar[SSI_PEOPLE],
			 expected_count_cp(SSI_V_SEARCHES, 1 + model.search_filter_weight));
}
END_TEST

START_TEST (rate_is_smoothed_toward_its_prior) {
	const struct ssi_var_params *p = &model.var[SSI_V_ACCEPTANCE_RATE];
	struct ssi_score s;
	double rate, expect;

	/* 1 accepted of 1 sent is not a perfect rate. */
	t_apply_n(&st, &model, SSI_EV_INVITATION_SENT, T_NOW, 1, &seq);
	t_apply_n(&st, &model, SSI_EV_INVITATION_ACCEPTED, T_NOW, 1, &seq);
	ssi_score(&st, &model, T_NOW, &s);
	rate = (1 + p->prior * p->prior_weight) / (1 + p->prior_weight);
	expect = p->weight * rate * (1 - exp2(-1 / p->half));
	ck_assert_int_eq(s.pillar[SSI_RELATIONSHIPS], (int)lround(100 * expect));
	ck_assert_double_lt(rate, 1.0);

	/* A bot's blast of invitations nobody accepts scores below a careful sender. */
	{
		struct ssi_state careful, bot;
		struct ssi_score sc, sb;

		ssi_state_init(&careful);
		ssi_state_init(&bot);
		for (int d = 0; d < 20; d++) {
			t_apply_n(&careful, &model, SSI_EV_INVITATION_SENT, T_NOW - d * T_DAY, 5,
				  &seq);
			t_apply_n(&careful, &model, SSI_EV_INVITATION_ACCEPTED, T_NOW - d * T_DAY,
				  3, &seq);
			t_apply_n(&bot, &model, SSI_EV_INVITATION_SENT, T_NOW - d * T_DAY, 5000,
				  &seq);
			t_apply_n(&bot, &model, SSI_EV_INVITATION_ACCEPTED, T_NOW - d * T_DAY, 3,
				  &seq);
		}
		ssi_score(&careful, &model, T_NOW, &sc);
		ssi_score(&bot, &model, T_NOW, &sb);
		ck_assert_int_gt(sc.pillar[SSI_RELATIONSHIPS], sb.pillar[SSI_RELATIONSHIPS]);
		ssi_state_clear(&careful);
		ssi_state_clear(&bot);
	}
}
END_TEST

START_TEST (negative_connections_clamp_to_zero) {
	struct ssi_event ev;
	struct ssi_score s;

	t_event(&ev, SSI_EV_CONNECTION_REMOVED, T_NOW, seq++);
	ev.attrs.connection.seniority = SSI_SEN_CXO;
	ev.attrs.connection.same_company = true;
	ssi_state_apply(&st, &model, &ev);
	ssi_score(&st, &model, T_NOW, &s);
	ck_assert_int_eq(s.total, 0);
}
END_TEST

START_TEST (active_days_count_distinct_days) {
	struct ssi_score s;

	t_apply_n(&st, &model, SSI_EV_SESSION_STARTED, T_NOW, 9, &seq);
	t_apply_n(&st, &model, SSI_EV_SESSION_STARTED, T_NOW - T_DAY, 1, &seq);
	ssi_score(&st, &model, T_NOW, &s);
	ck_assert_int_eq(s.pillar[SSI_PEOPLE],
			 (int)lround(100 * model.var[SSI_V_ACTIVE_DAYS].weight *
				     (1 - exp2(-2 / model.var[SSI_V_ACTIVE_DAYS].half))));
}
END_TEST

START_TEST (window_edges) {
	struct ssi_score s;
	int64_t oldest = T_NOW - (model.window_days - 1) * T_DAY;

	t_apply_n(&st, &model, SSI_EV_POST_SHARED, oldest, 1, &seq);
	ssi_score(&st, &model, T_NOW + T_DAY - 1, &s);
	ck_assert_int_gt(s.total, 0);
	ssi_score(&st, &model, T_NOW + T_DAY, &s);
	ck_assert_int_eq(s.total, 0);
	ck_assert_int_eq(ssi_score_next_change(&st, &model, T_NOW), T_NOW + T_DAY);
}
END_TEST

START_TEST (next_change_skips_days_that_do_not_matter) {
	t_apply_n(&st, &model, SSI_EV_POST_SHARED, T_NOW - 50 * T_DAY, 2, &seq);
	t_apply_n(&st, &model, SSI_EV_MESSAGE_SENT, T_NOW - 10 * T_DAY, 1, &seq);
	ck_assert_int_eq(ssi_score_next_change(&st, &model, T_NOW),
			 T_NOW + (model.window_days - 50) * T_DAY);

	/* Posts weigh nothing now: the first change is the message leaving. */
	model.var[SSI_V_POSTS].weight = 0;
	ck_assert_int_eq(ssi_score_next_change(&st, &model, T_NOW),
			 T_NOW + (model.window_days - 10) * T_DAY);

	/* And once nothing that counts is left, nothing will change. */
	model.var[SSI_V_MESSAGES].weight = 0;
	ck_assert_int_eq(ssi_score_next_change(&st, &model, T_NOW), INT64_MAX);
}
END_TEST

START_TEST (format_two_decimals) {
	char buf[16];

	ssi_score_format(6107, buf, sizeof(buf));
	ck_assert_str_eq(buf, "61.07");
	ssi_score_format(0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "0.00");
	ssi_score_format(10000, buf, sizeof(buf));
	ck_assert_str_eq(buf, "100.00");
	ssi_score_format(-505, buf, sizeof(buf));
	ck_assert_str_eq(buf, "-5.05");
}
END_TEST

Suite *score_suite(void)
{
	Suite *s = suite_create("score");
	TCase *tc = tcase_create("formula");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, empty_state_scores_zero);
	tcase_add_test(tc, complete_profile_earns_its_weight);
	tcase_add_test(tc, counts_follow_the_saturation_curve);
	tcase_add_test(tc, daily_cap_stops_a_flood);
	tcase_add_test(tc, filtered_searches_count_more);
	tcase_add_test(tc, rate_is_smoothed_toward_its_prior);
	tcase_add_test(tc, negative_connections_clamp_to_zero);
	tcase_add_test(tc, active_days_count_distinct_days);
	tcase_add_test(tc, window_edges);
	tcase_add_test(tc, next_change_skips_days_that_do_not_matter);
	tcase_add_test(tc, format_two_decimals);
	suite_add_tcase(s, tc);
	return s;
}
