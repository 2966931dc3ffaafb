/* ssi_score: the formula, caps, rates, rounding and the next change. */
#include <math.h>
#include <stdlib.h>
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

/* --- the optimised evaluation against the formula, on random states -------- */

/* Each counter's daily cap, from the public variable table (sessions: none). */
static int reference_cap(const struct ssi_model *m, int c)
{
	for (int v = 0; v < SSI_V__COUNT; v++) {
		const struct ssi_var_info *vi = ssi_var_info((enum ssi_variable)v);

		if (vi->kind == SSI_KIND_ACTIVE_DAYS && vi->counter[0] == c)
			return SSI_COUNT_MAX;
		if ((vi->kind == SSI_KIND_COUNT || vi->kind == SSI_KIND_RATE) &&
		    (vi->counter[0] == c || vi->counter[1] == c))
			return m->var[v].daily_cap;
	}
	ck_abort_msg("counter %d belongs to no variable", c);
	return 0;
}

static double reference_saturate(double x, double half)
{
	return x <= 0 ? 0.0 : 1.0 - exp2(-x / half);
}

/*
 * The score as the README states the formula, computed the plain way: every
 * counter of every row, every variable in order, lround per pillar. The
 * engine evaluates it with vector sums and skips what is zero; the two must
 * agree to the last bit of every variable's points.
 */
static void reference_score(const struct ssi_state *s, const struct ssi_model *m, int64_t now_ms,
			    double points[SSI_V__COUNT], struct ssi_score *out)
{
	int32_t first_day = ssi_time_day(now_ms) - m->window_days + 1;
	double count[SSI_C__COUNT] = {0}, pillar[SSI_PILLAR__COUNT] = {0};
	const struct ssi_profile *pr = &s->profile;
	const double *w = m->profile_field;
	int active_days = 0;

	for (uint32_t r = 0; r < s->nrows; r++) {
		if (s->rows[r].day < first_day)
			continue;
		for (int c = 0; c < SSI_C__COUNT; c++) {
			int cap = reference_cap(m, c);

			count[c] += s->rows[r].count[c] < cap ? s->rows[r].count[c] : cap;
		}
		active_days += s->rows[r].count[SSI_C_SESSION] > 0;
	}
	for (int v = 0; v < SSI_V__COUNT; v++) {
		const struct ssi_var_info *vi = ssi_var_info((enum ssi_variable)v);
		const struct ssi_var_params *p = &m->var[v];
		double f = 0, x = 0, hits, volume, rate;

		switch (vi->kind) {
		case SSI_KIND_PROFILE:
			f = w[SSI_PF_PHOTO] * pr->photo +
			    w[SSI_PF_BACKGROUND_PHOTO] * pr->background_photo +
			    w[SSI_PF_HEADLINE] * pr->headline + w[SSI_PF_SUMMARY] * pr->summary +
			    w[SSI_PF_EXPERIENCE] * pr->experience +
			    w[SSI_PF_SKILLS] * (pr->skills >= m->skills_target
						    ? 1.0
						    : (double)pr->skills / m->skills_target) +
			    w[SSI_PF_FEATURED_MEDIA] *
				(pr->featured_media >= m->featured_media_target
				     ? 1.0
				     : (double)pr->featured_media / m->featured_media_target);
			break;
		case SSI_KIND_COUNT:
			x = count[vi->counter[0]];
			if (vi->counter[1] >= 0)
				x += m->search_filter_weight * count[vi->counter[1]];
			f = reference_saturate(x, p->half);
			break;
		case SSI_KIND_ACTIVE_DAYS:
			f = reference_saturate(active_days, p->half);
			break;
		case SSI_KIND_RATE:
			hits = count[vi->counter[0]];
			volume = count[vi->counter[1]] > hits ? count[vi->counter[1]] : hits;
			rate = (hits + p->prior * p->prior_weight) / (volume + p->prior_weight);
			f = (rate > 1.0 ? 1.0 : rate) * reference_saturate(volume, p->half);
			break;
		case SSI_KIND_CONNECTIONS:
			for (int k = 0; k < SSI_SEN__COUNT; k++)
				if (s->connections[k] > 0)
					x += m->seniority_weight[k] * s->connections[k];
			f = reference_saturate(x, p->half);
			break;
		case SSI_KIND_INTERNAL:
			f = reference_saturate(
			    s->internal_connections > 0 ? s->internal_connections : 0, p->half);
			break;
		}
		points[v] = p->weight * f;
		pillar[vi->pillar] += points[v];
	}
	out->total = 0;
	for (int p = 0; p < SSI_PILLAR__COUNT; p++) {
		long cp = lround(pillar[p] * 100.0);

		out->pillar[p] = cp < 0 ? 0 : cp > 2500 ? 2500 : (int)cp;
		out->total += out->pillar[p];
	}
}

/* A day's count: mostly small, sometimes at or past a daily cap. */
static uint8_t random_count(struct t_rng *r)
{
	switch (t_below(r, 4)) {
	case 0:
		return SSI_COUNT_MAX;
	case 1:
		return (uint8_t)(1 + t_below(r, 60));
	default:
		return (uint8_t)(1 + t_below(r, 4));
	}
}

/*
 * A valid state (ascending unique days, masks matching counts) of up to 400
 * rows, sparse or dense, around the window ending at now_ms; rows may also
 * lie before the window.
 */
static void random_state(struct ssi_state *s, struct t_rng *r, int64_t now_ms, int window_days)
{
	int32_t today = ssi_time_day(now_ms);
	int32_t day = today - window_days - 20 + (int32_t)t_below(r, (uint64_t)window_days + 20);
	bool dense = t_below(r, 3) == 0;
	uint32_t want = t_below(r, 5) == 0 ? 0 : (uint32_t)t_below(r, dense ? 401 : 40);

	ssi_state_init(s);
	s->rows = calloc(want + 1, sizeof(*s->rows));
	ck_assert_ptr_nonnull(s->rows);
	s->rows_cap = want + 1;
	for (uint32_t i = 0; i < want && day <= today; i++) {
		struct ssi_day_row *row = &s->rows[s->nrows++];
		int n = dense ? SSI_C__COUNT : 1 + (int)t_below(r, 4);

		row->day = day;
		for (int k = 0; k < n; k++) {
			int c = dense ? k : (int)t_below(r, SSI_C__COUNT);

			row->count[c] = random_count(r);
			row->mask |= 1u << c;
		}
		day += 1 + (dense ? 0 : (int32_t)t_below(r, 5));
	}
	if (t_below(r, 3) > 0) {
		s->profile.photo = t_below(r, 2);
		s->profile.background_photo = t_below(r, 2);
		s->profile.headline = t_below(r, 2);
		s->profile.summary = t_below(r, 2);
		s->profile.experience = t_below(r, 2);
		s->profile.skills = (uint8_t)t_below(r, 256);
		s->profile.featured_media = (uint8_t)t_below(r, 8);
		s->profile_key.at_ms = now_ms - T_DAY;
		s->profile_key.fp = t_rand(r);
	}
	if (t_below(r, 2) == 0)
		for (int k = 0; k < SSI_SEN__COUNT; k++)
			s->connections[k] = (int32_t)t_below(r, 900) - 100;
	if (t_below(r, 2) == 0)
		s->internal_connections = (int32_t)t_below(r, 120) - 20;
	ck_assert_uint_gt(ssi_state_encoded_size(s), 0); /* the decoder would accept it */
}

/*
 * The default model, or one with other halves, caps, window and weights,
 * with or without its saturation tables derived again.
 */
static void random_model(struct ssi_model *m, struct t_rng *r)
{
	ssi_model_default(m);
	if (t_below(r, 2) == 0)
		return;
	m->window_days = 1 + (int)t_below(r, SSI_WINDOW_MAX_DAYS);
	for (int v = 0; v < SSI_V__COUNT; v++) {
		m->var[v].half = 0.5 + (double)t_below(r, 600) / 4;
		m->var[v].daily_cap = 1 + (int)t_below(r, SSI_COUNT_MAX);
	}
	m->search_filter_weight = 1 + (double)t_below(r, 40) / 8;
	for (int k = 0; k < SSI_SEN__COUNT; k++)
		m->seniority_weight[k] = (double)t_below(r, 50) / 10;
	m->skills_target = 1 + (int)t_below(r, 20);
	m->featured_media_target = 1 + (int)t_below(r, 6);
	ck_assert_int_eq(ssi_model_validate(m, NULL), 0);
	/* Half the time the saturation tables still hold the default halves. */
	if (t_below(r, 2) == 0)
		ssi_model_derive(m);
}

START_TEST (score_is_the_plain_formula) {
	struct t_rng r = {20261120};

	for (int i = 0; i < 3000; i++) {
		struct ssi_model m;
		struct ssi_state s;
		struct ssi_score got, want;
		struct ssi_explain ex;
		double points[SSI_V__COUNT];
		int64_t now = T_NOW + (int64_t)t_below(&r, 40 * T_DAY) - 20 * T_DAY;

		random_model(&m, &r);
		random_state(&s, &r, now, m.window_days);
		reference_score(&s, &m, now, points, &want);
		ssi_score(&s, &m, now, &got);
		ck_assert_mem_eq(&got, &want, sizeof(got));
		ck_assert_int_eq(ssi_explain(&s, &m, now, &ex), 0);
		ck_assert_mem_eq(&ex.score, &want, sizeof(want));
		for (int v = 0; v < SSI_V__COUNT; v++)
			ck_assert_msg(ex.var[v].points == points[v], "case %d, %s: %.17g != %.17g",
				      i, ssi_var_info((enum ssi_variable)v)->name, ex.var[v].points,
				      points[v]);
		ssi_state_clear(&s);
	}
}
END_TEST

/* next_change by its definition: rescore at each instant a counted day leaves. */
static int64_t reference_next_change(const struct ssi_state *s, const struct ssi_model *m,
				     int64_t now_ms)
{
	int32_t first_day = ssi_time_day(now_ms) - m->window_days + 1;
	struct ssi_score now, then;

	ssi_score(s, m, now_ms, &now);
	for (uint32_t r = 0; r < s->nrows; r++) {
		int64_t t = ssi_time_day_start(s->rows[r].day + m->window_days);

		if (s->rows[r].day < first_day)
			continue;
		ssi_score(s, m, t, &then);
		if (memcmp(then.pillar, now.pillar, sizeof(now.pillar)) != 0)
			return t;
	}
	return INT64_MAX;
}

/* Random states, including out-of-order rows the incremental search must not trust. */
START_TEST (next_change_is_the_first_instant_the_score_moves) {
	struct t_rng r = {777};
	int later = 0;

	for (int i = 0; i < 3000; i++) {
		struct ssi_model m;
		struct ssi_state s;
		struct ssi_score sc, both;
		int64_t now = T_NOW + (int64_t)t_below(&r, 40 * T_DAY) - 20 * T_DAY;
		int64_t want, first = INT64_MAX;

		random_model(&m, &r);
		random_state(&s, &r, now, m.window_days);
		if (s.nrows > 2 && t_below(&r, 10) == 0) {
			struct ssi_day_row first_row = s.rows[0];

			s.rows[0] = s.rows[s.nrows - 1];
			s.rows[s.nrows - 1] = first_row;
		}
		want = reference_next_change(&s, &m, now);
		ck_assert_int_eq(ssi_score_next_change(&s, &m, now), want);
		ssi_score(&s, &m, now, &sc);
		ck_assert_int_eq(ssi_score_and_next_change(&s, &m, now, &both), want);
		ck_assert_mem_eq(&both, &sc, sizeof(sc));
		/* Count the cases where the first counted day leaving changes nothing. */
		for (uint32_t k = 0; k < s.nrows && first == INT64_MAX; k++)
			if (s.rows[k].day >= ssi_time_day(now) - m.window_days + 1)
				first = ssi_time_day_start(s.rows[k].day + m.window_days);
		later += want != INT64_MAX && want > first;
		ssi_state_clear(&s);
	}
	ck_assert_int_gt(later, 10); /* the search past the first candidate was exercised */
}
END_TEST

/* 300 days of 255 sessions and searches: sums past what 16 bits can hold. */
START_TEST (long_windows_sum_past_16_bits) {
	struct ssi_explain ex;

	model.window_days = SSI_WINDOW_MAX_DAYS;
	model.var[SSI_V_SEARCHES].daily_cap = SSI_COUNT_MAX;
	st.rows = calloc(300, sizeof(*st.rows));
	ck_assert_ptr_nonnull(st.rows);
	st.nrows = st.rows_cap = 300;
	for (int32_t r = 0; r < 300; r++) {
		st.rows[r].day = ssi_time_day(T_NOW) - 299 + r;
		st.rows[r].count[SSI_C_SESSION] = SSI_COUNT_MAX;
		st.rows[r].count[SSI_C_SEARCH] = SSI_COUNT_MAX;
		st.rows[r].mask = (1u << SSI_C_SESSION) | (1u << SSI_C_SEARCH);
	}
	ck_assert_int_eq(ssi_explain(&st, &model, T_NOW, &ex), 0);
	ck_assert_double_eq(ex.var[SSI_V_SEARCHES].x, 300.0 * SSI_COUNT_MAX);
	ck_assert_double_eq(ex.var[SSI_V_ACTIVE_DAYS].x, 300);
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

	tcase_set_timeout(tc, 60); /* long loops take seconds under ASan beside other suites */

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
	tcase_add_test(tc, score_is_the_plain_formula);
	tcase_add_test(tc, next_change_is_the_first_instant_the_score_moves);
	tcase_add_test(tc, long_windows_sum_past_16_bits);
	suite_add_tcase(s, tc);
	return s;
}
