/*
 * forecast_below (ssi_alert_evaluate_forecast): armed only from a safe
 * forecast, fires once when the idle forecast crosses the line, at most one
 * check per rep per day, hysteresis, never after a model change, and the
 * alert it writes, exactly.
 */
#include <errno.h>
#include <string.h>

#include "suites.h"
#include "ssi_alert.h"
#include "testutil.h"

#define DAY0   ((int64_t)20777 * T_DAY)
#define NOW(d) (DAY0 + (d)*T_DAY + 9 * T_HOUR)

static struct ssi_alert_rules rules;
static struct ssi_alert_state st;
static struct ssi_forecast_day fc[SSI_FORECAST_DAYS_MAX];

/* A state evaluated once at 75.00 on day 0, as ssid's first published score leaves it. */
static void setup(void)
{
	struct ssi_alert_input in = {.now_ms = NOW(0),
				     .cause = SSI_ALERT_CAUSE_EVENT,
				     .new_score = t_spread(7500),
				     .max_total = -1};
	struct ssi_alert out[SSI_ALERT__COUNT];

	ssi_alert_rules_default(&rules);
	ssi_alert_state_init(&st);
	ck_assert_int_eq(ssi_alert_evaluate(&st, &rules, &in, out, SSI_ALERT__COUNT), 0);
	ck_assert(st.based);
}

/* The forecast from day d: totals[k] on day d + 1 + k, posts losing on the day of each fall. */
static void forecast(int d, const int *totals, int n)
{
	int prev = -1;

	memset(fc, 0, sizeof(fc));
	for (int k = 0; k < SSI_FORECAST_DAYS_MAX; k++) {
		int total = totals[k < n ? k : n - 1];

		fc[k].day = 20777 + d + 1 + k;
		fc[k].at_ms = (int64_t)fc[k].day * T_DAY;
		fc[k].aged_day = fc[k].day - 90;
		fc[k].score = t_spread(total);
		if (prev > total) {
			fc[k].nlosses = 2;
			fc[k].loss[0] =
			    (struct ssi_forecast_loss){SSI_V_POSTS, prev - total - 10, 3};
			fc[k].loss[1] = (struct ssi_forecast_loss){SSI_V_ACTIVE_DAYS, 10, 1};
		}
		prev = total;
	}
}

static int check(int d, int total, const struct ssi_forecast_action *a, int na,
		 struct ssi_alert *out)
{
	struct ssi_alert_forecast_input in = {
	    .now_ms = NOW(d),
	    .cause = SSI_ALERT_CAUSE_DECAY,
	    .score = t_spread(total),
	    .forecast = fc,
	    .ndays = 7,
	    .window_days = 90,
	    .actions = a,
	    .nactions = na,
	};

	if (!ssi_alert_forecast_due(&st, &rules, in.now_ms, total))
		return -100; /* not due: the daemon would not forecast */
	return ssi_alert_evaluate_forecast(&st, &rules, &in, out);
}

static const int falling[] = {7400, 7400, 7400, 7100, 6950, 6800};
static const int safe[] = {7500};

START_TEST (first_check_arms_only_when_safe) {
	struct ssi_alert a;

	/* A first check that already crosses never fires and leaves the rule disarmed. */
	forecast(0, falling, 6);
	ck_assert_int_eq(check(0, 7500, NULL, 0, &a), 0);
	ck_assert_int_eq(st.forecast_day, 20777);
	ck_assert_uint_eq(st.armed & (1u << SSI_ALERT_FORECAST_BELOW), 0);
	/* Next day: still crossing, still disarmed: nothing. */
	forecast(1, falling + 1, 5);
	ck_assert_int_eq(check(1, 7400, NULL, 0, &a), 0);
	ck_assert_uint_eq(st.last_fired_day[SSI_ALERT_FORECAST_BELOW], SSI_ALERT_DAY_NEVER);
}
END_TEST

START_TEST (fires_once_on_the_day_the_crossing_enters_the_window) {
	static const struct ssi_forecast_action acts[] = {
	    {"share one post", SSI_INSIGHTS, 120, 30},
	    {"log in today", SSI_PEOPLE, 40, 12},
	    {"send one message", SSI_INSIGHTS, 30, 9},
	};
	static const int later[] = {7500, 7500, 7500, 7500, 7500, 7500, 7500, 7500, 7500, 6900};
	struct ssi_alert a;

	forecast(0, safe, 1);
	ck_assert_int_eq(check(0, 7500, NULL, 0, &a), 0);
	ck_assert_uint_ne(st.armed & (1u << SSI_ALERT_FORECAST_BELOW), 0);
	/* Day 1: the fall on day 1 + 10 is beyond the 7 days: nothing. */
	forecast(1, later, 10);
	ck_assert_int_eq(check(1, 7500, acts, 3, &a), 0);
	/* Day 4: it is on day 11 = 4 + 7, the last day of the window: fires. */
	forecast(4, later + 3, 7);
	ck_assert_int_eq(check(4, 7500, acts, 3, &a), 1);
	ck_assert_int_eq(a.rule, SSI_ALERT_FORECAST_BELOW);
	ck_assert_int_eq(a.cause, SSI_ALERT_CAUSE_DECAY);
	ck_assert_int_eq(a.old_value, 7500);
	ck_assert_int_eq(a.new_value, 6900);
	ck_assert_int_eq(a.reference, 7000);
	ck_assert_int_eq(a.threshold, 7000);
	ck_assert_int_eq(a.forecast_day, 20777 + 11);
	/* t_spread fills brand, people, insights, then relationships. */
	ck_assert_int_eq(a.pillar_lost_cp[SSI_INSIGHTS], 600);
	ck_assert_int_eq(a.pillar_lost_cp[SSI_BRAND], 0);
	ck_assert_int_eq(a.nlosses, 2);
	ck_assert_int_eq(a.loss[0].var, SSI_V_POSTS);
	ck_assert_int_eq(a.loss[0].lost_cp, 590);
	ck_assert_uint_eq(a.loss[0].aged, 3);
	ck_assert_int_eq(a.loss[1].var, SSI_V_ACTIVE_DAYS);
	ck_assert_int_eq(a.loss[1].lost_cp, 10);
	ck_assert_int_eq(a.nactions, 3);
	ck_assert_str_eq(a.action[0].text, "share one post");
	ck_assert_int_eq(a.action[0].gain, 120);
	ck_assert_int_eq(a.action_days[0], 30);
	ck_assert_int_eq(a.action_days[2], 9);
	ck_assert_str_eq(a.why, "SSI 75.00 will fall below 70.00 on 2026-12-01 (to 69.00) if idle; "
				"posts: -5.90, active_days: -0.10 (activity ageing out of the "
				"90-day window)");
	ck_assert_int_eq(st.last_fired_day[SSI_ALERT_FORECAST_BELOW], 20777 + 4);
	/* The same day again: not due (one forecast per rep per day). */
	ck_assert_int_eq(check(4, 7500, acts, 3, &a), -100);
	/* Day 5, still crossing: disarmed, so nothing. */
	forecast(5, later + 4, 6);
	ck_assert_int_eq(check(5, 7500, acts, 3, &a), 0);
}
END_TEST

START_TEST (rearms_only_with_margin) {
	static const int near[] = {7100};
	struct ssi_alert a;

	forecast(0, safe, 1);
	ck_assert_int_eq(check(0, 7500, NULL, 0, &a), 0);
	forecast(1, falling, 6);
	ck_assert_int_eq(check(1, 7500, NULL, 0, &a), 1);
	/* Safe, but within the 2.00 re-arm margin: stays disarmed. */
	forecast(2, near, 1);
	ck_assert_int_eq(check(2, 7500, NULL, 0, &a), 0);
	ck_assert_uint_eq(st.armed & (1u << SSI_ALERT_FORECAST_BELOW), 0);
	forecast(3, falling, 6);
	ck_assert_int_eq(check(3, 7500, NULL, 0, &a), 0);
	/* At 72.00 everywhere: re-armed, and the next crossing fires again. */
	forecast(4, (const int[]){7200}, 1);
	ck_assert_int_eq(check(4, 7200, NULL, 0, &a), 0);
	ck_assert_uint_ne(st.armed & (1u << SSI_ALERT_FORECAST_BELOW), 0);
	forecast(5, falling, 6);
	ck_assert_int_eq(check(5, 7500, NULL, 0, &a), 1);
	ck_assert_int_eq(a.forecast_day, 20777 + 5 + 5);
}
END_TEST

START_TEST (a_model_change_never_fires_it) {
	struct ssi_alert_input in = {.now_ms = NOW(1),
				     .cause = SSI_ALERT_CAUSE_MODEL,
				     .new_score = t_spread(7300),
				     .max_total = -1};
	struct ssi_alert out[SSI_ALERT__COUNT], a;

	forecast(0, safe, 1);
	ck_assert_int_eq(check(0, 7500, NULL, 0, &a), 0);
	ck_assert_uint_ne(st.armed & (1u << SSI_ALERT_FORECAST_BELOW), 0);
	ck_assert_int_eq(ssi_alert_evaluate(&st, &rules, &in, out, SSI_ALERT__COUNT), 0);
	ck_assert_uint_eq(st.armed & (1u << SSI_ALERT_FORECAST_BELOW), 0);
	/* Under the new model the forecast crosses: disarmed, nothing fires. */
	forecast(1, falling, 6);
	ck_assert_int_eq(check(1, 7300, NULL, 0, &a), 0);
	forecast(2, falling, 6);
	ck_assert_int_eq(check(2, 7300, NULL, 0, &a), 0);
	ck_assert_int_eq(st.last_fired_day[SSI_ALERT_FORECAST_BELOW], SSI_ALERT_DAY_NEVER);
}
END_TEST

START_TEST (due_only_when_it_can_matter) {
	struct ssi_alert_state fresh;

	ssi_alert_state_init(&fresh);
	ck_assert(ssi_alert_forecast_due(&st, &rules, NOW(0), 7000));
	ck_assert(!ssi_alert_forecast_due(&st, &rules, NOW(0), 6999));
	ck_assert(!ssi_alert_forecast_due(&fresh, &rules, NOW(0), 7500));
	rules.enabled[SSI_ALERT_FORECAST_BELOW] = false;
	ck_assert(!ssi_alert_forecast_due(&st, &rules, NOW(0), 7500));
}
END_TEST

START_TEST (bad_input_changes_nothing) {
	struct ssi_alert_forecast_input in = {.now_ms = NOW(0),
					      .cause = SSI_ALERT_CAUSE_EVENT,
					      .score = t_spread(7500),
					      .forecast = fc,
					      .ndays = 6};
	struct ssi_alert a;

	forecast(0, safe, 1);
	ck_assert_int_eq(ssi_alert_evaluate_forecast(&st, &rules, &in, &a), -EINVAL);
	in.ndays = 7;
	in.cause = SSI_ALERT_CAUSE_MODEL;
	ck_assert_int_eq(ssi_alert_evaluate_forecast(&st, &rules, &in, &a), -EINVAL);
	in.cause = SSI_ALERT_CAUSE_EVENT;
	fc[3].day++;
	ck_assert_int_eq(ssi_alert_evaluate_forecast(&st, &rules, &in, &a), -EINVAL);
	fc[3].day--;
	in.score.total++;
	ck_assert_int_eq(ssi_alert_evaluate_forecast(&st, &rules, &in, &a), -EINVAL);
	ck_assert_int_eq(st.forecast_day, SSI_ALERT_DAY_NEVER);
	in.score.total--;
	ck_assert_int_eq(ssi_alert_evaluate_forecast(&st, &rules, &in, &a), 0);
	ck_assert_int_eq(st.forecast_day, 20777);
}
END_TEST

START_TEST (rules_are_validated) {
	struct ssi_alert_rules bad;

	ck_assert_int_eq(rules.forecast_cp, 7000);
	ck_assert_int_eq(rules.forecast_days, 7);
	ck_assert_int_eq(rules.forecast_rearm_cp, 200);
	ck_assert(rules.enabled[SSI_ALERT_FORECAST_BELOW]);
	ck_assert_str_eq(ssi_alert_rule_name(SSI_ALERT_FORECAST_BELOW), "forecast_below");
	bad = rules, bad.forecast_days = 0;
	ck_assert_int_eq(ssi_alert_rules_validate(&bad), -EINVAL);
	bad = rules, bad.forecast_days = SSI_FORECAST_DAYS_MAX + 1;
	ck_assert_int_eq(ssi_alert_rules_validate(&bad), -EINVAL);
	bad = rules, bad.forecast_cp = 0;
	ck_assert_int_eq(ssi_alert_rules_validate(&bad), -EINVAL);
	bad = rules, bad.forecast_rearm_cp = 10000 - bad.forecast_cp + 1;
	ck_assert_int_eq(ssi_alert_rules_validate(&bad), -EINVAL);
	bad = rules, bad.forecast_days = SSI_FORECAST_DAYS_MAX;
	ck_assert_int_eq(ssi_alert_rules_validate(&bad), 0);
}
END_TEST

/* The forecast state survives the codec; an armed rule without a check day does not encode. */
START_TEST (forecast_state_round_trips) {
	uint8_t buf[SSI_ALERT_ENCODED_MAX];
	struct ssi_alert_state back;
	struct ssi_alert a;
	long n;

	forecast(0, safe, 1);
	ck_assert_int_eq(check(0, 7500, NULL, 0, &a), 0);
	n = ssi_alert_state_encode(&st, buf, sizeof(buf));
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(ssi_alert_state_decode(&back, buf, (size_t)n), 0);
	ck_assert_int_eq(back.forecast_day, 20777);
	ck_assert_uint_eq(back.armed, st.armed);
	st.forecast_day = SSI_ALERT_DAY_NEVER;
	ck_assert_int_eq(ssi_alert_state_encode(&st, buf, sizeof(buf)), -EINVAL);
}
END_TEST

Suite *alert_forecast_suite(void)
{
	Suite *s = suite_create("alert_forecast");

	suite_add_tcase(s,
			T_TCASE("forecast_below", setup, NULL, 0, first_check_arms_only_when_safe,
				fires_once_on_the_day_the_crossing_enters_the_window,
				rearms_only_with_margin, a_model_change_never_fires_it,
				due_only_when_it_can_matter, bad_input_changes_nothing,
				rules_are_validated, forecast_state_round_trips));
	return s;
}
