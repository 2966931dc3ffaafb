/*
 * ssi_forecast: the idle forecast is the scorer at each day boundary, bit
 * for bit; what-if is the real parse-and-apply path; the actions that hold
 * a line are ranked by days kept above it.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"
#include "ssi_forecast.h"
#include "ssi_time.h"
#include "testutil.h"

/* The default model, or one with another window, halves, caps and weights. */
static void random_model(struct ssi_model *m, struct t_rng *r)
{
	ssi_model_default(m);
	if (t_below(r, 2) == 0)
		return;
	m->window_days = 1 + (int)t_below(r, 120);
	for (int v = 0; v < SSI_V__COUNT; v++) {
		m->var[v].half = 0.5 + (double)t_below(r, 200) / 4;
		m->var[v].daily_cap = 1 + (int)t_below(r, SSI_COUNT_MAX);
	}
	m->search_filter_weight = 1 + (double)t_below(r, 40) / 8;
	for (int k = 0; k < SSI_SEN__COUNT; k++)
		m->seniority_weight[k] = (double)t_below(r, 50) / 10;
	ck_assert_int_eq(ssi_model_validate(m, NULL), 0);
	if (t_below(r, 2) == 0)
		ssi_model_derive(m);
}

/* A state built from random real events of the window, plus connections. */
static void random_state(struct ssi_state *s, const struct ssi_model *m, struct t_rng *r,
			 int64_t now_ms, uint64_t *seq)
{
	int n = (int)t_below(r, 400);

	ssi_state_init(s);
	for (int i = 0; i < n; i++) {
		struct ssi_event ev;

		t_event_random(&ev, r, now_ms, m->window_days, (*seq)++);
		ck_assert_int_ge(ssi_state_apply(s, m, &ev), 0);
	}
}

static bool has_row(const struct ssi_state *st, int32_t day)
{
	for (uint32_t r = 0; r < st->nrows; r++)
		if (st->rows[r].day == day)
			return true;
	return false;
}

/* Each forecast day is ssi_score at its instant, and its losses are explain's differences. */
START_TEST (forecast_is_the_scorer_at_each_boundary) {
	struct t_rng r = {.s = 9001u + (uint64_t)_i * 7919u};
	static struct ssi_forecast_day fc[SSI_FORECAST_DAYS_MAX];
	struct ssi_model m;
	struct ssi_state st;
	uint64_t seq = 1;
	int64_t now = T_NOW + (int64_t)t_below(&r, T_DAY);
	int days = 1 + (int)t_below(&r, SSI_FORECAST_DAYS_MAX);
	struct ssi_explain prev, cur;

	random_model(&m, &r);
	random_state(&st, &m, &r, now, &seq);
	ck_assert_int_eq(ssi_forecast(&st, &m, now, days, fc), 0);
	ck_assert_int_eq(ssi_explain(&st, &m, now, &prev), 0);
	for (int k = 0; k < days; k++) {
		struct ssi_score want;
		int nlost = 0;

		ck_assert_int_eq(fc[k].day, ssi_time_day(now) + 1 + k);
		ck_assert_int_eq(fc[k].at_ms, ssi_time_day_start(fc[k].day));
		ck_assert_int_eq(fc[k].aged_day, fc[k].day - m.window_days);
		ssi_score(&st, &m, fc[k].at_ms, &want);
		ck_assert_mem_eq(&fc[k].score, &want, sizeof(want));
		if (!has_row(&st, fc[k].aged_day)) {
			/* The window lost nothing: the same variables, so nothing lost. */
			ck_assert_int_eq(fc[k].nlosses, 0);
			continue;
		}
		ck_assert_int_eq(ssi_explain(&st, &m, fc[k].at_ms, &cur), 0);
		for (int v = 0; v < SSI_V__COUNT; v++) {
			int lost = (int)lround(100.0 * (prev.var[v].points - cur.var[v].points));

			if (lost <= 0)
				continue;
			ck_assert_int_lt(nlost, fc[k].nlosses);
			nlost++;
			for (int i = 0; i < fc[k].nlosses; i++)
				if (fc[k].loss[i].var == (enum ssi_variable)v)
					ck_assert_int_eq(fc[k].loss[i].lost_cp, lost);
		}
		ck_assert_int_eq(fc[k].nlosses, nlost);
		for (int i = 1; i < fc[k].nlosses; i++)
			ck_assert_int_ge(fc[k].loss[i - 1].lost_cp, fc[k].loss[i].lost_cp);
		prev = cur;
	}
	ssi_state_clear(&st);
}
END_TEST

/* A known case: 4 posts (3 counted) from the second day of the window leave tomorrow, nothing else.
 */
START_TEST (posts_age_out_on_the_right_day) {
	struct ssi_forecast_day fc[14];
	struct ssi_model m;
	struct ssi_state st;
	struct ssi_score now, day2;
	uint64_t seq = 1;
	int32_t today = ssi_time_day(T_NOW);
	int64_t old_day = ssi_time_day_start(today - 88) + 10 * T_HOUR;

	ssi_model_default(&m);
	ssi_state_init(&st);
	t_apply_n(&st, &m, SSI_EV_POST_SHARED, old_day, 4, &seq);
	t_apply_n(&st, &m, SSI_EV_REACTION_GIVEN, T_NOW - 3 * T_DAY, 5, &seq);
	ck_assert_int_eq(m.window_days, 90);
	ck_assert_int_eq(ssi_forecast(&st, &m, T_NOW + 5 * T_HOUR, 14, fc), 0);
	ssi_score(&st, &m, T_NOW, &now);
	/* Day today - 88 leaves at the start of today + 2: fc[1]. */
	ck_assert_mem_eq(&fc[0].score, &now, sizeof(now));
	ck_assert_int_eq(fc[0].nlosses, 0);
	ck_assert_int_eq(fc[1].aged_day, today - 88);
	ck_assert_int_eq(fc[1].nlosses, 1);
	ck_assert_int_eq(fc[1].loss[0].var, SSI_V_POSTS);
	/* The default daily cap of posts is 3: 3 of the 4 counted. */
	ck_assert_int_eq(m.var[SSI_V_POSTS].daily_cap, 3);
	ck_assert_int_eq(fc[1].loss[0].aged, 3);
	/* posts: weight * (1 - 2^(-3/half)) points, all of it. */
	ck_assert_int_eq(fc[1].loss[0].lost_cp,
			 (int)lround(100.0 * m.var[SSI_V_POSTS].weight *
				     (1 - exp2(-3.0 / m.var[SSI_V_POSTS].half))));
	ssi_score(&st, &m, ssi_time_day_start(today + 2), &day2);
	ck_assert_mem_eq(&fc[1].score, &day2, sizeof(day2));
	ck_assert_int_lt(fc[1].score.total, now.total);
	for (int k = 2; k < 14; k++) {
		ck_assert_mem_eq(&fc[k].score, &day2, sizeof(day2));
		ck_assert_int_eq(fc[k].nlosses, 0);
	}
	ck_assert_int_eq(ssi_forecast_crossing(fc, 14, now.total), 1);
	ck_assert_int_eq(ssi_forecast_crossing(fc, 14, day2.total), -1);
	ssi_state_clear(&st);
}
END_TEST

START_TEST (forecast_rejects_bad_arguments) {
	struct ssi_forecast_day fc[1];
	struct ssi_model m;
	struct ssi_state st;

	ssi_model_default(&m);
	ssi_state_init(&st);
	ck_assert_int_eq(ssi_forecast(&st, &m, T_NOW, 0, fc), -EINVAL);
	ck_assert_int_eq(ssi_forecast(&st, &m, T_NOW, SSI_FORECAST_DAYS_MAX + 1, fc), -EINVAL);
	ck_assert_int_eq(ssi_forecast(&st, &m, -1, 1, fc), -EINVAL);
	ck_assert_int_eq(ssi_forecast(&st, &m, T_NOW, 1, fc), 0);
	ck_assert_int_eq(fc[0].score.total, 0);
}
END_TEST

/* The JSON of an event as a producer would send it; attributes as ssi_whatif documents. */
static size_t event_json(char *buf, size_t cap, enum ssi_event_type t, int64_t at_ms, int seq)
{
	char when[SSI_TIME_BUFLEN];
	const char *attrs = t == SSI_EV_PROFILE_VIEWED ? ",\"attrs\":{\"degree\":2}" : "";

	ssi_time_format(at_ms, when);
	return (size_t)snprintf(buf, cap,
				"{\"event_id\":\"whatif-%d\",\"user_id\":\"u1\",\"type\":\"%s\","
				"\"occurred_at\":\"%s\"%s}",
				seq, ssi_event_type_name(t), when, attrs);
}

/* What-if equals parsing and applying the same events for real. */
START_TEST (whatif_is_the_real_path) {
	struct t_rng r = {.s = 4242u + (uint64_t)_i * 104729u};
	struct ssi_whatif_action act[SSI_WHATIF_ACTIONS_MAX];
	struct ssi_model m;
	struct ssi_state st, real;
	struct ssi_whatif w;
	struct ssi_score want;
	uint64_t seq = 1;
	int64_t now = T_NOW + (int64_t)t_below(&r, T_DAY);
	int n = 1 + (int)t_below(&r, 6), ev_seq = 0;

	random_model(&m, &r);
	random_state(&st, &m, &r, now, &seq);
	for (int i = 0; i < n; i++) {
		do
			act[i].type = (enum ssi_event_type)t_below(&r, SSI_EV__COUNT);
		while (act[i].type == SSI_EV_PROFILE_UPDATED);
		act[i].count = 1 + (int)t_below(&r, t_below(&r, 4) == 0 ? 300 : 6);
	}
	ck_assert_int_eq(ssi_whatif(&st, &m, now, act, n, &w), 0);

	ssi_state_init(&real);
	ck_assert_int_eq(ssi_state_copy(&real, &st), 0);
	for (int i = 0; i < n; i++)
		for (int k = 0; k < act[i].count; k++) {
			char json[512];
			struct ssi_event ev;
			size_t len = event_json(json, sizeof(json), act[i].type, now, ev_seq++);

			ck_assert_int_eq(ssi_event_parse(json, len, NULL, &ev, NULL), 0);
			ck_assert_int_eq(ssi_state_apply(&real, &m, &ev), 1);
		}
	ssi_score(&real, &m, now, &want);
	ck_assert_mem_eq(&w.after, &want, sizeof(want));
	ssi_score(&st, &m, now, &want);
	ck_assert_mem_eq(&w.before, &want, sizeof(want));
	ssi_state_clear(&real);
	ssi_state_clear(&st);
}
END_TEST

/* Caps hold: the 6th post of a day adds nothing when the cap is 5. */
START_TEST (whatif_respects_the_daily_cap) {
	struct ssi_model m;
	struct ssi_state st;
	struct ssi_whatif five, six;

	ssi_model_default(&m);
	m.var[SSI_V_POSTS].daily_cap = 5;
	ssi_state_init(&st);
	ck_assert_int_eq(ssi_whatif(&st, &m, T_NOW,
				    (struct ssi_whatif_action[]){{SSI_EV_POST_SHARED, 5}}, 1,
				    &five),
			 0);
	ck_assert_int_eq(ssi_whatif(&st, &m, T_NOW,
				    (struct ssi_whatif_action[]){{SSI_EV_POST_SHARED, 6}}, 1, &six),
			 0);
	ck_assert_int_eq(five.before.total, 0);
	ck_assert_int_eq(five.after.pillar[SSI_INSIGHTS],
			 (int)lround(100.0 * m.var[SSI_V_POSTS].weight *
				     (1 - exp2(-5.0 / m.var[SSI_V_POSTS].half))));
	ck_assert_mem_eq(&five.after, &six.after, sizeof(six.after));
	ssi_state_clear(&st);
}
END_TEST

START_TEST (whatif_rejects_bad_actions) {
	struct ssi_model m;
	struct ssi_state st;
	struct ssi_whatif w;
	struct ssi_whatif_action many[SSI_WHATIF_ACTIONS_MAX + 1];

	ssi_model_default(&m);
	ssi_state_init(&st);
	for (int i = 0; i <= SSI_WHATIF_ACTIONS_MAX; i++)
		many[i] = (struct ssi_whatif_action){SSI_EV_POST_SHARED, 1};
	ck_assert_int_eq(ssi_whatif(&st, &m, T_NOW, many, 0, &w), -EINVAL);
	ck_assert_int_eq(ssi_whatif(&st, &m, T_NOW, many, SSI_WHATIF_ACTIONS_MAX + 1, &w), -EINVAL);
	ck_assert_int_eq(ssi_whatif(&st, &m, T_NOW, many, SSI_WHATIF_ACTIONS_MAX, &w), 0);
	ck_assert_int_eq(ssi_whatif(&st, &m, T_NOW,
				    (struct ssi_whatif_action[]){{SSI_EV_PROFILE_UPDATED, 1}}, 1,
				    &w),
			 -EINVAL);
	ck_assert_int_eq(
	    ssi_whatif(&st, &m, T_NOW, (struct ssi_whatif_action[]){{SSI_EV__COUNT, 1}}, 1, &w),
	    -EINVAL);
	ck_assert_int_eq(ssi_whatif(&st, &m, T_NOW,
				    (struct ssi_whatif_action[]){{SSI_EV_POST_SHARED, 0}}, 1, &w),
			 -EINVAL);
	ck_assert_int_eq(
	    ssi_whatif(&st, &m, T_NOW,
		       (struct ssi_whatif_action[]){{SSI_EV_POST_SHARED, SSI_WHATIF_COUNT_MAX + 1}},
		       1, &w),
	    -EINVAL);
}
END_TEST

/* The days a state stays at or above points over the next 90 idle days. */
static int days_kept(const struct ssi_state *st, const struct ssi_model *m, int64_t now, int points)
{
	static struct ssi_forecast_day fc[SSI_FORECAST_DAYS_MAX];
	int k;

	ck_assert_int_eq(ssi_forecast(st, m, now, SSI_FORECAST_DAYS_MAX, fc), 0);
	k = ssi_forecast_crossing(fc, SSI_FORECAST_DAYS_MAX, points);
	return k < 0 ? SSI_FORECAST_DAYS_MAX : k;
}

/* The event behind an explain action that needs no attributes, or -1. */
static int plain_action_type(const char *text)
{
	static const struct {
		const char *text;
		enum ssi_event_type type;
	} plain[] = {
	    {"publish one article", SSI_EV_ARTICLE_PUBLISHED},
	    {"log in today", SSI_EV_SESSION_STARTED},
	    {"save one lead", SSI_EV_LEAD_SAVED},
	    {"share one post", SSI_EV_POST_SHARED},
	    {"react to one post", SSI_EV_REACTION_GIVEN},
	    {"comment on one post", SSI_EV_COMMENT_GIVEN},
	    {"send one message", SSI_EV_MESSAGE_SENT},
	    {"join one group", SSI_EV_GROUP_JOINED},
	    {"post once in a group", SSI_EV_GROUP_ACTIVITY},
	    {"share one piece of a prospect's content", SSI_EV_PROSPECT_CONTENT_SHARED},
	};

	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
		if (strcmp(text, plain[i].text) == 0)
			return (int)plain[i].type;
	return -1;
}

/* Each listed action is judged by the forecast of the state with it done. */
START_TEST (actions_are_ranked_by_days_kept_above) {
	struct ssi_forecast_action a[SSI_EXPLAIN_ACTIONS];
	struct ssi_model m;
	struct ssi_state st;
	struct ssi_event ev;
	struct ssi_score now;
	uint64_t seq = 1;
	int32_t today = ssi_time_day(T_NOW);
	int n, line, checked = 0;

	ssi_model_default(&m);
	ssi_state_init(&st);
	t_event(&ev, SSI_EV_PROFILE_UPDATED, T_NOW - 200 * T_DAY, seq++);
	ev.attrs.profile = (struct ssi_profile){true, true, true, true, true, 255, 255};
	ck_assert_int_eq(ssi_state_apply(&st, &m, &ev), 1);
	for (int d = 0; d < 30; d++) {
		int64_t day = ssi_time_day_start(today - 85 + d);

		t_apply_n(&st, &m, SSI_EV_POST_SHARED, day, 1, &seq);
		t_apply_n(&st, &m, SSI_EV_SESSION_STARTED, day, 1, &seq);
		t_apply_n(&st, &m, SSI_EV_MESSAGE_SENT, day, 2, &seq);
	}
	ssi_score(&st, &m, T_NOW, &now);
	line = now.total - 50;
	ck_assert_int_lt(days_kept(&st, &m, T_NOW, line), 10);
	n = ssi_forecast_actions(&st, &m, T_NOW, line, a);
	ck_assert_int_eq(n, SSI_EXPLAIN_ACTIONS);
	for (int i = 1; i < n; i++)
		ck_assert(a[i - 1].days_above > a[i].days_above ||
			  (a[i - 1].days_above == a[i].days_above && a[i - 1].gain >= a[i].gain));
	ck_assert_int_gt(a[0].days_above, days_kept(&st, &m, T_NOW, line));
	for (int i = 0; i < n; i++) {
		int type = plain_action_type(a[i].text);
		struct ssi_state with;
		struct ssi_score after;

		if (type < 0)
			continue;
		ssi_state_init(&with);
		ck_assert_int_eq(ssi_state_copy(&with, &st), 0);
		t_event(&ev, (enum ssi_event_type)type, T_NOW, 999999);
		ck_assert_int_eq(ssi_state_apply(&with, &m, &ev), 1);
		ssi_score(&with, &m, T_NOW, &after);
		ck_assert_int_eq(a[i].gain, after.total - now.total);
		ck_assert_int_eq(a[i].days_above, days_kept(&with, &m, T_NOW, line));
		ssi_state_clear(&with);
		checked++;
	}
	ck_assert_int_ge(checked, 1);
	ssi_state_clear(&st);
}
END_TEST

Suite *forecast_suite(void)
{
	Suite *s = suite_create("forecast");
	TCase *tc = tcase_create("forecast");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, forecast_is_the_scorer_at_each_boundary, 0, 60);
	tcase_add_test(tc, posts_age_out_on_the_right_day);
	tcase_add_test(tc, forecast_rejects_bad_arguments);
	tcase_add_loop_test(tc, whatif_is_the_real_path, 0, 60);
	tcase_add_test(tc, whatif_respects_the_daily_cap);
	tcase_add_test(tc, whatif_rejects_bad_actions);
	tcase_add_test(tc, actions_are_ranked_by_days_kept_above);
	suite_add_tcase(s, tc);
	return s;
}
