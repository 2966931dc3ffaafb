/* ssi_explain: contributions, headroom and the best next actions. */
#include <math.h>
#include <string.h>

#include "suites.h"
#include "ssi_score.h"
#include "testutil.h"

static struct ssi_model model;
static struct ssi_state st;

static void setup(void)
{
	ssi_model_default(&model);
	ssi_state_init(&st);
}

static void teardown(void)
{
	ssi_state_clear(&st);
}

static void some_activity(void)
{
	uint64_t seq = 1;
	struct ssi_event ev;

	t_event(&ev, SSI_EV_PROFILE_UPDATED, T_NOW - 30 * T_DAY, seq++);
	ev.attrs.profile = (struct ssi_profile){true, false, true, false, true, 4, 0};
	ssi_state_apply(&st, &model, &ev);
	for (int d = 0; d < 20; d++) {
		t_apply_n(&st, &model, SSI_EV_SESSION_STARTED, T_NOW - d * T_DAY, 1, &seq);
		t_apply_n(&st, &model, SSI_EV_REACTION_GIVEN, T_NOW - d * T_DAY, 3, &seq);
	}
}

START_TEST (contributions_add_up_to_the_score) {
	struct ssi_explain ex;
	double pillar[SSI_PILLAR__COUNT] = {0};

	some_activity();
	ck_assert_int_eq(ssi_explain(&st, &model, T_NOW, &ex), 0);
	for (int v = 0; v < SSI_V__COUNT; v++) {
		ck_assert_double_eq_tol(ex.var[v].points + ex.var[v].headroom, model.var[v].weight,
					1e-9);
		ck_assert(ex.var[v].fraction >= 0 && ex.var[v].fraction <= 1);
		pillar[ssi_var_info((enum ssi_variable)v)->pillar] += ex.var[v].points;
	}
	for (int p = 0; p < SSI_PILLAR__COUNT; p++)
		ck_assert_int_eq(ex.score.pillar[p], (int)lround(pillar[p] * 100));
	ck_assert_double_eq(ex.var[SSI_V_ACTIVE_DAYS].x, 20);
	ck_assert_double_eq(ex.var[SSI_V_REACTIONS_GIVEN].x, 60);
}
END_TEST

START_TEST (actions_are_best_first_and_real) {
	struct ssi_explain ex;
	struct ssi_score before, after;
	struct ssi_event ev;

	some_activity();
	ck_assert_int_eq(ssi_explain(&st, &model, T_NOW, &ex), 0);
	ck_assert_int_eq(ex.nactions, SSI_EXPLAIN_ACTIONS);
	for (int i = 1; i < ex.nactions; i++)
		ck_assert_int_ge(ex.action[i - 1].gain, ex.action[i].gain);

	/* The article action's gain is what publishing one really adds. */
	ssi_score(&st, &model, T_NOW, &before);
	t_event(&ev, SSI_EV_ARTICLE_PUBLISHED, T_NOW, 999);
	ssi_state_apply(&st, &model, &ev);
	ssi_score(&st, &model, T_NOW, &after);
	for (int i = 0; i < ex.nactions; i++) {
		if (strcmp(ex.action[i].text, "publish one article") == 0) {
			ck_assert_int_eq(ex.action[i].gain, after.total - before.total);
			ck_assert_int_eq(ex.action[i].pillar, SSI_BRAND);
		}
	}
	/* Nothing beats the best action. */
	ck_assert_int_ge(ex.action[0].gain, after.total - before.total);
}
END_TEST

START_TEST (explain_does_not_touch_the_state) {
	struct ssi_explain ex;
	struct ssi_state copy;

	some_activity();
	ssi_state_init(&copy);
	ck_assert_int_eq(ssi_state_copy(&copy, &st), 0);
	ck_assert_int_eq(ssi_explain(&st, &model, T_NOW, &ex), 0);
	ck_assert(ssi_state_equal(&copy, &st));
	ssi_state_clear(&copy);
}
END_TEST

START_TEST (capped_actions_are_not_offered) {
	struct ssi_explain ex;
	uint64_t seq = 1;

	/* Today's article cap is reached: one more article adds nothing today. */
	t_apply_n(&st, &model, SSI_EV_ARTICLE_PUBLISHED, T_NOW, model.var[SSI_V_ARTICLES].daily_cap,
		  &seq);
	ck_assert_int_eq(ssi_explain(&st, &model, T_NOW, &ex), 0);
	for (int i = 0; i < ex.nactions; i++) {
		ck_assert_str_ne(ex.action[i].text, "publish one article");
		ck_assert_int_gt(ex.action[i].gain, 0);
	}
}
END_TEST

Suite *explain_suite(void)
{
	Suite *s = suite_create("explain");
	TCase *tc = tcase_create("explain");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, contributions_add_up_to_the_score);
	tcase_add_test(tc, actions_are_best_first_and_real);
	tcase_add_test(tc, explain_does_not_touch_the_state);
	tcase_add_test(tc, capped_actions_are_not_offered);
	suite_add_tcase(s, tc);
	return s;
}
