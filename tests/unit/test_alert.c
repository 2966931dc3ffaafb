/*
 * ssi_alert: every rule at its exact boundary, hysteresis against hovering
 * scores, the once-a-day cap, model changes that never fire, the "why", and
 * the binary form of the state (round trips, damage, newer versions).
 *
 * One module's suite, kept whole: ssi_alert.c, whose state's binary form is
 * its own.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ssi_alert.h"
#include "ssi_wire.h"
#include "suites.h"
#include "testutil.h"

#define DAY0	  (T_NOW + 10 * T_HOUR)
#define TODAY	  20777
#define AT(d, h)  (DAY0 + (d)*T_DAY + (h)*T_HOUR)
#define MAX_ALERT SSI_ALERT__COUNT

static struct ssi_score score_of(int brand, int people, int insights, int relationships)
{
	struct ssi_score sc = {.pillar = {brand, people, insights, relationships}};

	sc.total = brand + people + insights + relationships;
	return sc;
}

/* A score of total t spread over the pillars, the remainder on brand. */
static struct ssi_score total_of(int t)
{
	return score_of(t / 4 + t % 4, t / 4, t / 4, t / 4);
}

/* Only rule enabled, defaults otherwise. */
static struct ssi_alert_rules only(enum ssi_alert_rule rule)
{
	struct ssi_alert_rules r;

	ssi_alert_rules_default(&r);
	for (int i = 0; i < SSI_ALERT__COUNT; i++)
		r.enabled[i] = i == (int)rule;
	return r;
}

/* An event-caused evaluation of total t at now with the history maximum max. */
static struct ssi_alert_input input_total(int64_t now, int t, int max)
{
	return (struct ssi_alert_input){
	    .now_ms = now,
	    .cause = SSI_ALERT_CAUSE_EVENT,
	    .new_score = total_of(t),
	    .max_total = max,
	    .window_days = 90,
	};
}

/* Evaluate and carry the new score over as the next call's old one. */
struct driver {
	struct ssi_alert_state st;
	struct ssi_alert_rules rules;
	struct ssi_alert_input last;
	struct ssi_alert out[MAX_ALERT];
	bool has_last;
};

static void driver_init(struct driver *d, const struct ssi_alert_rules *r)
{
	memset(d, 0, sizeof(*d));
	ssi_alert_state_init(&d->st);
	d->rules = *r;
}

static int drive(struct driver *d, struct ssi_alert_input in)
{
	int n;

	if (d->has_last) {
		in.has_old = true;
		in.old_score = d->last.new_score;
		in.old_top_percent = d->last.new_top_percent;
	}
	n = ssi_alert_evaluate(&d->st, &d->rules, &in, d->out, MAX_ALERT);
	ck_assert_int_ge(n, 0);
	d->last = in;
	d->has_last = true;
	return n;
}

static int drive_total(struct driver *d, int64_t now, int t, int max)
{
	return drive(d, input_total(now, t, max));
}

static int drive_top(struct driver *d, int64_t now, int top)
{
	struct ssi_alert_input in = input_total(now, 8000, 8000);

	in.new_top_percent = top;
	return drive(d, in);
}

static int drive_pillars(struct driver *d, int64_t now, struct ssi_score sc)
{
	struct ssi_alert_input in = input_total(now, 0, -1);

	in.new_score = sc;
	return drive(d, in);
}

START_TEST (test_rules_default_and_validate) {
	struct ssi_alert_rules r, bad;

	ssi_alert_rules_default(&r);
	ck_assert_int_eq(ssi_alert_rules_validate(&r), 0);
	ck_assert_int_eq(r.drop_cp, 500);
	ck_assert_int_eq(r.drop_days, 7);
	ck_assert_int_eq(r.threshold_cp, 7000);
	ck_assert_int_eq(r.top_percent, 15);
	ck_assert_int_eq(r.pillar_drop_cp, 300);
	for (int i = 0; i < SSI_ALERT__COUNT; i++)
		ck_assert(r.enabled[i]);
	ck_assert_int_eq(ssi_alert_rules_validate(NULL), -EINVAL);

	bad = r, bad.drop_rearm_cp = bad.drop_cp;
	ck_assert_int_eq(ssi_alert_rules_validate(&bad), -EINVAL);
	bad = r, bad.drop_cp = 0;
	ck_assert_int_eq(ssi_alert_rules_validate(&bad), -EINVAL);
	bad = r, bad.drop_days = 0;
	ck_assert_int_eq(ssi_alert_rules_validate(&bad), -EINVAL);
	bad = r, bad.threshold_rearm_cp = 10000 - bad.threshold_cp + 1;
	ck_assert_int_eq(ssi_alert_rules_validate(&bad), -EINVAL);
	bad = r, bad.top_percent = 100;
	ck_assert_int_eq(ssi_alert_rules_validate(&bad), -EINVAL);
	bad = r, bad.top_rearm_percent = bad.top_percent;
	ck_assert_int_eq(ssi_alert_rules_validate(&bad), -EINVAL);
	bad = r, bad.pillar_drop_cp = 2501;
	ck_assert_int_eq(ssi_alert_rules_validate(&bad), -EINVAL);
	bad = r, bad.pillar_rearm_cp = -1;
	ck_assert_int_eq(ssi_alert_rules_validate(&bad), -EINVAL);

	ck_assert_str_eq(ssi_alert_rule_name(SSI_ALERT_LEFT_TOP_PERCENT), "left_top_percent");
	ck_assert_ptr_null(ssi_alert_rule_name(SSI_ALERT__COUNT));
}
END_TEST

START_TEST (test_evaluate_rejects_bad_input) {
	struct ssi_alert_rules r;
	struct ssi_alert_state st, before;
	struct ssi_alert out[MAX_ALERT];
	struct ssi_alert_input in = input_total(DAY0, 7000, 7000), bad;

	ssi_alert_rules_default(&r);
	ssi_alert_state_init(&st);
	before = st;
	bad = in, bad.now_ms = -1;
	ck_assert_int_eq(ssi_alert_evaluate(&st, &r, &bad, out, MAX_ALERT), -EINVAL);
	bad = in, bad.new_score.total++;
	ck_assert_int_eq(ssi_alert_evaluate(&st, &r, &bad, out, MAX_ALERT), -EINVAL);
	bad = in, bad.has_old = true, bad.old_score = score_of(2501, 0, 0, 0);
	ck_assert_int_eq(ssi_alert_evaluate(&st, &r, &bad, out, MAX_ALERT), -EINVAL);
	bad = in, bad.max_total = 10001;
	ck_assert_int_eq(ssi_alert_evaluate(&st, &r, &bad, out, MAX_ALERT), -EINVAL);
	bad = in, bad.new_top_percent = 101;
	ck_assert_int_eq(ssi_alert_evaluate(&st, &r, &bad, out, MAX_ALERT), -EINVAL);
	bad = in, bad.cause = (enum ssi_alert_cause)3;
	ck_assert_int_eq(ssi_alert_evaluate(&st, &r, &bad, out, MAX_ALERT), -EINVAL);
	ck_assert_int_eq(ssi_alert_evaluate(&st, &r, &in, out, MAX_ALERT - 1), -EINVAL);
	r.drop_cp = 0;
	ck_assert_int_eq(ssi_alert_evaluate(&st, &r, &in, out, MAX_ALERT), -EINVAL);
	ck_assert_mem_eq(&st, &before, sizeof(st));
}
END_TEST

START_TEST (test_score_drop_boundary) {
	struct ssi_alert_rules r = only(SSI_ALERT_SCORE_DROP);
	struct driver d;

	driver_init(&d, &r);
	ck_assert_int_eq(drive_total(&d, AT(0, 0), 7500, 7500), 0);
	ck_assert_int_eq(drive_total(&d, AT(0, 1), 7001, 7500), 0);
	ck_assert_int_eq(drive_total(&d, AT(0, 2), 7000, 7500), 1);
	ck_assert_int_eq(d.out[0].rule, SSI_ALERT_SCORE_DROP);
	ck_assert_int_eq(d.out[0].old_value, 7001);
	ck_assert_int_eq(d.out[0].new_value, 7000);
	ck_assert_int_eq(d.out[0].reference, 7500);
	ck_assert_int_eq(d.out[0].threshold, 500);
	ck_assert_str_eq(d.out[0].why, "SSI 70.00 is 5.00 below its 7-day high of 75.00");
}
END_TEST

START_TEST (test_score_drop_unknown_max_never_fires) {
	struct ssi_alert_rules r = only(SSI_ALERT_SCORE_DROP);
	struct driver d;

	driver_init(&d, &r);
	ck_assert_int_eq(drive_total(&d, AT(0, 0), 9000, -1), 0);
	ck_assert_int_eq(drive_total(&d, AT(0, 1), 1000, -1), 0);
	/* The history's maximum is what counts, not the previous score. */
	ck_assert_int_eq(drive_total(&d, AT(1, 0), 1000, 1499), 0);
	ck_assert_int_eq(drive_total(&d, AT(1, 1), 1000, 1500), 1);
}
END_TEST

START_TEST (test_below_threshold_boundary) {
	struct ssi_alert_rules r = only(SSI_ALERT_BELOW_THRESHOLD);
	struct driver d;

	driver_init(&d, &r);
	ck_assert_int_eq(drive_total(&d, AT(0, 0), 7200, 7200), 0);
	ck_assert_int_eq(drive_total(&d, AT(0, 1), 7000, 7200), 0);
	ck_assert_int_eq(drive_total(&d, AT(0, 2), 6999, 7200), 1);
	ck_assert_int_eq(d.out[0].rule, SSI_ALERT_BELOW_THRESHOLD);
	ck_assert_int_eq(d.out[0].old_value, 7000);
	ck_assert_int_eq(d.out[0].new_value, 6999);
	ck_assert_int_eq(d.out[0].reference, 7000);
	ck_assert_str_eq(d.out[0].why, "SSI fell below 70.00 to 69.99");
}
END_TEST

START_TEST (test_left_top_boundary) {
	struct ssi_alert_rules r = only(SSI_ALERT_LEFT_TOP_PERCENT);
	struct driver d;

	driver_init(&d, &r);
	ck_assert_int_eq(drive_top(&d, AT(0, 0), 10), 0);
	ck_assert_int_eq(drive_top(&d, AT(0, 1), 15), 0);
	ck_assert_int_eq(drive_top(&d, AT(0, 2), SSI_ALERT_TOP_UNKNOWN), 0);
	ck_assert_int_eq(drive_top(&d, AT(0, 3), 16), 1);
	ck_assert_int_eq(d.out[0].old_value, -1);
	ck_assert_int_eq(d.out[0].new_value, 16);
	ck_assert_int_eq(d.out[0].reference, 15);
	ck_assert_str_eq(d.out[0].why, "left the top 15% of the industry (now top 16%)");
}
END_TEST

START_TEST (test_left_top_hidden_never_arms) {
	struct ssi_alert_rules r = only(SSI_ALERT_LEFT_TOP_PERCENT);
	struct driver d;

	driver_init(&d, &r);
	ck_assert_int_eq(drive_top(&d, AT(0, 0), SSI_ALERT_TOP_UNKNOWN), 0);
	ck_assert_int_eq(drive_top(&d, AT(0, 1), 40), 0);
	ck_assert_int_eq(drive_top(&d, AT(1, 0), 14), 0);
	ck_assert_int_eq(drive_top(&d, AT(1, 1), 13), 0);
	ck_assert_int_eq(drive_top(&d, AT(1, 2), 40), 1);
}
END_TEST

START_TEST (test_pillar_drop_boundary) {
	struct ssi_alert_rules r = only(SSI_ALERT_PILLAR_DROP);
	struct driver d;

	driver_init(&d, &r);
	ck_assert_int_eq(drive_pillars(&d, AT(0, 0), score_of(2000, 1500, 1500, 1500)), 0);
	/* The peak rises with the pillar: the fall is measured from 2200. */
	ck_assert_int_eq(drive_pillars(&d, AT(0, 1), score_of(2200, 1500, 1500, 1500)), 0);
	ck_assert_int_eq(drive_pillars(&d, AT(0, 2), score_of(1901, 1300, 1500, 1500)), 0);
	ck_assert_int_eq(drive_pillars(&d, AT(0, 3), score_of(1900, 1200, 1500, 1500)), 1);
	ck_assert_int_eq(d.out[0].rule, SSI_ALERT_PILLAR_DROP);
	/* Both tripped by 300; the tie goes to the first pillar. */
	ck_assert_int_eq(d.out[0].pillar, SSI_BRAND);
	ck_assert_uint_eq(d.out[0].pillar_mask, (1u << SSI_BRAND) | (1u << SSI_PEOPLE));
	ck_assert_int_eq(d.out[0].old_value, 1901);
	ck_assert_int_eq(d.out[0].new_value, 1900);
	ck_assert_int_eq(d.out[0].reference, 2200);
	ck_assert_int_eq(d.out[0].threshold, 300);
	ck_assert_int_eq(d.out[0].pillar_lost_cp[SSI_PEOPLE], 100);
	ck_assert_str_eq(d.out[0].why, "brand fell 3.00 from its high of 22.00 to 19.00");
}
END_TEST

/* A slow slide of 0.50 a day, which no step-to-step comparison would catch. */
START_TEST (test_pillar_drop_slow_slide) {
	struct ssi_alert_rules r = only(SSI_ALERT_PILLAR_DROP);
	struct driver d;
	int fired = 0, day_fired = -1;

	driver_init(&d, &r);
	for (int day = 0; day <= 10; day++) {
		int n = drive_pillars(&d, AT(day, 0), score_of(2000 - 50 * day, 1000, 1000, 1000));

		if (n > 0 && day_fired < 0)
			day_fired = day;
		fired += n;
	}
	ck_assert_int_eq(day_fired, 6);
	/* Disarmed while it keeps sliding: one alert for one slide. */
	ck_assert_int_eq(fired, 1);
}
END_TEST

/* Hovering around each rule's line fires once, however long it lasts. */
START_TEST (test_hovering_fires_once) {
	static const int wobble[] = {-1, 0, 1, -2, 0, -1, 1, 0, -1, 2};
	struct driver below, drop, top, pillar;
	struct ssi_alert_rules r;
	int fired[4] = {0};

	r = only(SSI_ALERT_BELOW_THRESHOLD);
	driver_init(&below, &r);
	r = only(SSI_ALERT_SCORE_DROP);
	driver_init(&drop, &r);
	r = only(SSI_ALERT_LEFT_TOP_PERCENT);
	driver_init(&top, &r);
	r = only(SSI_ALERT_PILLAR_DROP);
	driver_init(&pillar, &r);
	drive_total(&below, AT(0, 0), 8000, 8000);
	drive_total(&drop, AT(0, 0), 8000, 8000);
	drive_top(&top, AT(0, 0), 5);
	drive_pillars(&pillar, AT(0, 0), score_of(2000, 0, 0, 0));
	for (int day = 0; day < 5; day++)
		for (int i = 0; i < 10; i++) {
			int64_t now = AT(day, 1) + i;
			int w = wobble[i];

			fired[0] += drive_total(&below, now, 7000 + w, 8000);
			fired[1] += drive_total(&drop, now, 7500 + w, 8000);
			fired[2] += drive_top(&top, now, 15 + (w > 0 ? 1 : 0));
			fired[3] += drive_pillars(&pillar, now, score_of(1700 + w, 0, 0, 0));
		}
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(fired[i], 1);
}
END_TEST

/* Recovery re-arms; a new fall fires again, on another day. */
START_TEST (test_recovery_then_new_fall) {
	struct ssi_alert_rules r = only(SSI_ALERT_BELOW_THRESHOLD);
	struct driver d;

	driver_init(&d, &r);
	drive_total(&d, AT(0, 0), 7500, 7500);
	ck_assert_int_eq(drive_total(&d, AT(0, 1), 6900, 7500), 1);
	/* 71.99 is not recovery, 72.00 is. */
	ck_assert_int_eq(drive_total(&d, AT(1, 0), 7199, 7500), 0);
	ck_assert_int_eq(drive_total(&d, AT(1, 1), 6900, 7500), 0);
	ck_assert_int_eq(drive_total(&d, AT(2, 0), 7200, 7500), 0);
	ck_assert_int_eq(drive_total(&d, AT(2, 1), 6999, 7500), 1);
}
END_TEST

START_TEST (test_once_per_day) {
	struct ssi_alert_rules r = only(SSI_ALERT_BELOW_THRESHOLD);
	struct driver d;

	driver_init(&d, &r);
	drive_total(&d, AT(0, 0), 7500, 7500);
	ck_assert_int_eq(drive_total(&d, AT(0, 1), 6900, 7500), 1);
	ck_assert_int_eq(drive_total(&d, AT(0, 2), 7300, 7500), 0);
	/* Re-armed, trips again the same UTC day: held back, still armed. */
	ck_assert_int_eq(drive_total(&d, AT(0, 3), 6900, 7500), 0);
	ck_assert_int_eq(drive_total(&d, T_NOW + T_DAY - 1, 6800, 7500), 0);
	/* The first evaluation of the next day that still trips reports it. */
	ck_assert_int_eq(drive_total(&d, T_NOW + T_DAY, 6850, 7500), 1);
	ck_assert_int_eq(d.st.last_fired_day[SSI_ALERT_BELOW_THRESHOLD], TODAY + 1);
}
END_TEST

START_TEST (test_several_rules_fire_together) {
	struct ssi_alert_rules r;
	struct driver d;
	struct ssi_alert_input in;

	ssi_alert_rules_default(&r);
	driver_init(&d, &r);
	in = input_total(AT(0, 0), 8000, 8000);
	in.new_top_percent = 10;
	drive(&d, in);
	in = input_total(AT(0, 1), 6800, 8000);
	in.new_top_percent = 30;
	ck_assert_int_eq(drive(&d, in), 4);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(d.out[i].rule, i);
	ck_assert_uint_eq(d.out[3].pillar_mask, 0xf);
}
END_TEST

START_TEST (test_first_score_never_fires_known_old_does) {
	struct ssi_alert_rules r;
	struct ssi_alert_state st;
	struct ssi_alert out[MAX_ALERT];
	struct ssi_alert_input in = input_total(DAY0, 3000, 9000);

	ssi_alert_rules_default(&r);
	in.new_top_percent = 90;
	ssi_alert_state_init(&st);
	ck_assert_int_eq(ssi_alert_evaluate(&st, &r, &in, out, MAX_ALERT), 0);
	ck_assert(st.based);

	/* A lost alert state with the previous score known: the fall still counts. */
	ssi_alert_state_init(&st);
	in.has_old = true;
	in.old_score = total_of(9000);
	in.old_top_percent = 5;
	ck_assert_int_eq(ssi_alert_evaluate(&st, &r, &in, out, MAX_ALERT), 4);
}
END_TEST

START_TEST (test_model_change_never_fires_and_rebases) {
	struct ssi_alert_rules r;
	struct driver d;
	struct ssi_alert_input in;

	ssi_alert_rules_default(&r);
	driver_init(&d, &r);
	in = input_total(AT(0, 0), 8000, 8000);
	in.new_top_percent = 10;
	drive(&d, in);

	/* The new model scores everyone lower: every rule would trip, none fires. */
	in = input_total(AT(0, 1), 6000, 8000);
	in.cause = SSI_ALERT_CAUSE_MODEL;
	in.new_top_percent = 40;
	ck_assert_int_eq(drive(&d, in), 0);
	ck_assert_int_eq(d.st.rebase_day, TODAY);

	/* The history still holds 80.00, but the reference is 60.00 now. */
	in = input_total(AT(1, 0), 5501, 8000);
	in.new_top_percent = 45;
	ck_assert_int_eq(drive(&d, in), 0);
	in = input_total(AT(1, 1), 5500, 8000);
	in.new_top_percent = 45;
	ck_assert_int_eq(drive(&d, in), 1);
	ck_assert_int_eq(d.out[0].rule, SSI_ALERT_SCORE_DROP);
	ck_assert_int_eq(d.out[0].reference, 6000);

	/* drop_days later the history holds only the new model again. */
	in = input_total(AT(7, 0), 5600, 5700);
	in.new_top_percent = 45;
	ck_assert_int_eq(drive(&d, in), 0);
	ck_assert_int_eq(d.st.rebase_day, SSI_ALERT_DAY_NEVER);
}
END_TEST

START_TEST (test_model_change_rearms_for_a_real_fall) {
	struct ssi_alert_rules r = only(SSI_ALERT_BELOW_THRESHOLD);
	struct driver d;
	struct ssi_alert_input in;

	driver_init(&d, &r);
	drive_total(&d, AT(0, 0), 6500, 6500);
	/* Below 70 and disarmed under the old model; the new model lifts it to 70.50. */
	in = input_total(AT(0, 1), 7050, 7050);
	in.cause = SSI_ALERT_CAUSE_MODEL;
	ck_assert_int_eq(drive(&d, in), 0);
	ck_assert_int_eq(drive_total(&d, AT(0, 2), 6999, 7050), 1);
}
END_TEST

static void explain_with(struct ssi_explain *e, const int points_cp[SSI_V__COUNT])
{
	memset(e, 0, sizeof(*e));
	for (int v = 0; v < SSI_V__COUNT; v++)
		e->var[v].points = points_cp[v] / 100.0;
}

START_TEST (test_why_lists_losses_and_actions) {
	struct ssi_alert_rules r = only(SSI_ALERT_BELOW_THRESHOLD);
	struct ssi_explain prev, cur;
	int before[SSI_V__COUNT] = {0}, after[SSI_V__COUNT] = {0};
	struct driver d;
	struct ssi_alert_input in;

	before[SSI_V_POSTS] = 500, after[SSI_V_POSTS] = 290;		 /* -2.10 */
	before[SSI_V_MESSAGES] = 300, after[SSI_V_MESSAGES] = 260;	 /* -0.40 */
	before[SSI_V_SEARCHES] = 300, after[SSI_V_SEARCHES] = 260;	 /* -0.40, earlier */
	before[SSI_V_ARTICLES] = 100, after[SSI_V_ARTICLES] = 90;	 /* -0.10, 4th */
	before[SSI_V_CONNECTIONS] = 100, after[SSI_V_CONNECTIONS] = 400; /* a gain */
	explain_with(&prev, before);
	explain_with(&cur, after);
	cur.nactions = 2;
	cur.action[0] = (struct ssi_action){"share one post", SSI_INSIGHTS, 180};
	cur.action[1] = (struct ssi_action){"log in today", SSI_PEOPLE, 40};

	driver_init(&d, &r);
	drive_total(&d, AT(0, 0), 7200, 7200);
	in = input_total(AT(0, 1), 6950, 7200);
	in.cause = SSI_ALERT_CAUSE_DECAY;
	in.prev_explain = &prev;
	in.cur_explain = &cur;
	ck_assert_int_eq(drive(&d, in), 1);
	ck_assert_int_eq(d.out[0].cause, SSI_ALERT_CAUSE_DECAY);
	ck_assert_int_eq(d.out[0].nlosses, 3);
	ck_assert_int_eq(d.out[0].loss[0].var, SSI_V_POSTS);
	ck_assert_int_eq(d.out[0].loss[0].lost_cp, 210);
	ck_assert_int_eq(d.out[0].loss[1].var, SSI_V_SEARCHES);
	ck_assert_int_eq(d.out[0].loss[2].var, SSI_V_MESSAGES);
	ck_assert_int_eq(d.out[0].loss[2].lost_cp, 40);
	ck_assert_int_eq(d.out[0].nactions, 2);
	ck_assert_str_eq(d.out[0].action[0].text, "share one post");
	ck_assert_int_eq(d.out[0].action[1].gain, 40);
	ck_assert_str_eq(d.out[0].why, "SSI fell below 70.00 to 69.50; posts: -2.10, searches: "
				       "-0.40, messages: -0.40 (activity aged out of the 90-day "
				       "window)");
}
END_TEST

START_TEST (test_why_of_pillar_drop_keeps_to_its_pillar) {
	struct ssi_alert_rules r = only(SSI_ALERT_PILLAR_DROP);
	struct ssi_explain prev, cur;
	int before[SSI_V__COUNT] = {0}, after[SSI_V__COUNT] = {0};
	struct driver d;
	struct ssi_alert_input in;

	before[SSI_V_POSTS] = 900, after[SSI_V_POSTS] = 0;		/* insights */
	before[SSI_V_FOLLOWERS] = 400, after[SSI_V_FOLLOWERS] = 0;	/* brand */
	before[SSI_V_ENDORSEMENTS] = 50, after[SSI_V_ENDORSEMENTS] = 0; /* brand */
	explain_with(&prev, before);
	explain_with(&cur, after);

	driver_init(&d, &r);
	drive_pillars(&d, AT(0, 0), score_of(2000, 1000, 1000, 1000));
	in = input_total(AT(0, 1), 0, -1);
	in.new_score = score_of(1600, 1000, 1100, 1000);
	in.prev_explain = &prev;
	in.cur_explain = &cur;
	ck_assert_int_eq(drive(&d, in), 1);
	ck_assert_int_eq(d.out[0].nlosses, 2);
	ck_assert_int_eq(d.out[0].loss[0].var, SSI_V_FOLLOWERS);
	ck_assert_int_eq(d.out[0].loss[1].var, SSI_V_ENDORSEMENTS);
	ck_assert_int_eq(d.out[0].nactions, 0);
	ck_assert_str_eq(d.out[0].why,
			 "brand fell 4.00 from its high of 20.00 to 16.00; "
			 "followers: -4.00, endorsements: -0.50 (after new activity)");
}
END_TEST

/* Decay fires like events do; a pillar that fell re-arms after climbing back. */
START_TEST (test_decay_fires_and_pillar_rearms) {
	struct ssi_alert_rules r = only(SSI_ALERT_PILLAR_DROP);
	struct driver d;
	struct ssi_alert_input in;

	driver_init(&d, &r);
	drive_pillars(&d, AT(0, 0), score_of(2000, 0, 0, 0));
	in = input_total(AT(0, 1), 0, -1);
	in.cause = SSI_ALERT_CAUSE_DECAY;
	in.new_score = score_of(1700, 0, 0, 0);
	ck_assert_int_eq(drive(&d, in), 1);
	ck_assert_int_eq(d.out[0].cause, SSI_ALERT_CAUSE_DECAY);
	/* Trough 15.00; 16.49 is not recovery (1.50 is), so 13.49 does not fire. */
	ck_assert_int_eq(drive_pillars(&d, AT(1, 0), score_of(1500, 0, 0, 0)), 0);
	ck_assert_int_eq(drive_pillars(&d, AT(1, 1), score_of(1649, 0, 0, 0)), 0);
	ck_assert_int_eq(drive_pillars(&d, AT(1, 2), score_of(1349, 0, 0, 0)), 0);
	ck_assert_int_eq(drive_pillars(&d, AT(2, 0), score_of(1499, 0, 0, 0)), 0);
	ck_assert_int_eq(drive_pillars(&d, AT(2, 1), score_of(1199, 0, 0, 0)), 1);
	ck_assert_int_eq(d.out[0].reference, 1499);
}
END_TEST

START_TEST (test_disabled_rule_never_fires) {
	struct ssi_alert_rules r;
	struct driver d;

	ssi_alert_rules_default(&r);
	for (int i = 0; i < SSI_ALERT__COUNT; i++)
		r.enabled[i] = false;
	driver_init(&d, &r);
	drive_total(&d, AT(0, 0), 9000, 9000);
	ck_assert_int_eq(drive_total(&d, AT(0, 1), 1000, 9000), 0);
	/* Enabled later, it starts from where the score is: already tripped and disarmed. */
	d.rules.enabled[SSI_ALERT_BELOW_THRESHOLD] = true;
	ck_assert_int_eq(drive_total(&d, AT(0, 2), 1000, 9000), 0);
}
END_TEST

static struct ssi_alert_state busy_state(void)
{
	struct ssi_alert_state st;

	ssi_alert_state_init(&st);
	st.based = true;
	st.armed = 0x5;
	st.pillar_armed = 0xa;
	st.pillar_ref[0] = 2500;
	st.pillar_ref[1] = 0;
	st.pillar_ref[2] = 1234;
	st.pillar_ref[3] = 127;
	st.last_fired_day[0] = SSI_ALERT_DAY_MAX;
	st.last_fired_day[2] = 0;
	st.last_fired_day[3] = TODAY;
	st.rebase_day = TODAY - 2;
	st.rebase_max = 10000;
	st.armed |= 1u << SSI_ALERT_FORECAST_BELOW;
	st.last_fired_day[SSI_ALERT_FORECAST_BELOW] = TODAY - 1;
	st.forecast_day = TODAY;
	st.forecast_visit = TODAY + 4;
	return st;
}

static void assert_state_eq(const struct ssi_alert_state *a, const struct ssi_alert_state *b)
{
	ck_assert_int_eq(a->based, b->based);
	ck_assert_uint_eq(a->armed, b->armed);
	ck_assert_uint_eq(a->pillar_armed, b->pillar_armed);
	for (int p = 0; p < SSI_PILLAR__COUNT; p++)
		ck_assert_int_eq(a->pillar_ref[p], b->pillar_ref[p]);
	for (int i = 0; i < SSI_ALERT__COUNT; i++)
		ck_assert_int_eq(a->last_fired_day[i], b->last_fired_day[i]);
	ck_assert_int_eq(a->rebase_day, b->rebase_day);
	ck_assert_int_eq(a->rebase_max, b->rebase_max);
	ck_assert_int_eq(a->forecast_day, b->forecast_day);
	ck_assert_int_eq(a->forecast_visit, b->forecast_visit);
}

static long encode(const struct ssi_alert_state *st, uint8_t *buf, size_t cap)
{
	long n = ssi_alert_state_encode(st, buf, cap);

	ck_assert_int_gt(n, 0);
	ck_assert_uint_eq(ssi_alert_state_encoded_size(st), (size_t)n);
	return n;
}

START_TEST (test_codec_round_trips) {
	struct ssi_alert_state fresh, busy = busy_state(), back;
	uint8_t buf[SSI_ALERT_ENCODED_MAX], again[SSI_ALERT_ENCODED_MAX];
	long n;

	ssi_alert_state_init(&fresh);
	n = encode(&fresh, buf, sizeof(buf));
	ck_assert_int_eq(n, 3 + 2 + 4 + 4);
	ck_assert_int_eq(ssi_alert_state_decode(&back, buf, (size_t)n), 0);
	assert_state_eq(&back, &fresh);

	/* The largest state is exactly SSI_ALERT_ENCODED_MAX. */
	busy.last_fired_day[1] = SSI_ALERT_DAY_MAX;
	busy.last_fired_day[2] = SSI_ALERT_DAY_MAX;
	busy.last_fired_day[3] = SSI_ALERT_DAY_MAX;
	busy.rebase_day = SSI_ALERT_DAY_MAX;
	busy.last_fired_day[SSI_ALERT_FORECAST_BELOW] = SSI_ALERT_DAY_MAX;
	busy.forecast_day = SSI_ALERT_DAY_MAX - 1;
	busy.forecast_visit = SSI_ALERT_DAY_MAX;
	for (int p = 0; p < SSI_PILLAR__COUNT; p++)
		busy.pillar_ref[p] = 2500;
	n = encode(&busy, buf, sizeof(buf));
	ck_assert_int_eq(n, SSI_ALERT_ENCODED_MAX);
	ck_assert_int_eq(ssi_alert_state_decode(&back, buf, (size_t)n), 0);
	assert_state_eq(&back, &busy);
	ck_assert_int_eq(ssi_alert_state_encode(&back, again, sizeof(again)), n);
	ck_assert_mem_eq(again, buf, (size_t)n);
	ck_assert_int_eq(ssi_alert_state_encode(&busy, buf, (size_t)n - 1), -ENOBUFS);
}
END_TEST

/* States that came out of real evaluations read back exactly. */
START_TEST (test_codec_round_trips_evaluated_states) {
	struct t_rng rng = {.s = 14};
	struct ssi_alert_rules r;
	struct driver d;
	uint8_t buf[SSI_ALERT_ENCODED_MAX];

	ssi_alert_rules_default(&r);
	driver_init(&d, &r);
	for (int i = 0; i < 2000; i++) {
		struct ssi_alert_input in = input_total(AT(i / 10, i % 10), 0, -1);
		struct ssi_alert_state back;
		long n;

		in.new_score = score_of((int)t_below(&rng, 2501), (int)t_below(&rng, 2501),
					(int)t_below(&rng, 2501), (int)t_below(&rng, 2501));
		in.max_total = (int)t_below(&rng, 10002) - 1;
		in.new_top_percent = (int)t_below(&rng, 101);
		in.cause = (enum ssi_alert_cause)t_below(&rng, 3);
		ck_assert_int_le(drive(&d, in), SSI_ALERT__COUNT);
		n = encode(&d.st, buf, sizeof(buf));
		ck_assert_int_eq(ssi_alert_state_decode(&back, buf, (size_t)n), 0);
		assert_state_eq(&back, &d.st);
		for (int rule = 0; rule < SSI_ALERT__COUNT; rule++)
			ck_assert_int_le(d.st.last_fired_day[rule], TODAY + i / 10);
	}
}
END_TEST

static void assert_decode_fails(const uint8_t *buf, size_t len, int expected)
{
	struct ssi_alert_state st = busy_state(), fresh;

	ssi_alert_state_init(&fresh);
	ck_assert_int_eq(ssi_alert_state_decode(&st, buf, len), expected);
	assert_state_eq(&st, &fresh);
}

START_TEST (test_codec_refuses_damage) {
	struct ssi_alert_state busy = busy_state();
	uint8_t buf[SSI_ALERT_ENCODED_MAX], bad[SSI_ALERT_ENCODED_MAX];
	long n = encode(&busy, buf, sizeof(buf));

	assert_decode_fails(NULL, 0, -EBADMSG);
	for (long len = 0; len < n; len++) {
		memcpy(bad, buf, (size_t)len);
		assert_decode_fails(bad, (size_t)len, -EBADMSG);
	}
	for (long bit = 0; bit < 8 * n; bit++) {
		memcpy(bad, buf, (size_t)n);
		bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_decode_fails(bad, (size_t)n, -EBADMSG);
	}
}
END_TEST

/* A frame with a checksum that holds around the given header and body. */
static size_t frame(uint8_t *buf, uint8_t version, const uint8_t *body, size_t len)
{
	uint32_t crc;

	buf[0] = 'S', buf[1] = 'A', buf[2] = version;
	memcpy(buf + 3, body, len);
	crc = ssi_crc32c(buf, 3 + len);
	for (int i = 0; i < 4; i++)
		buf[3 + len + i] = (uint8_t)(crc >> (8 * i));
	return 3 + len + 4;
}

START_TEST (test_codec_refuses_bad_bodies) {
	/* Each is intact as a frame; the body breaks one rule. */
	static const struct {
		uint8_t body[12];
		size_t len;
	} bad[] = {
	    {{0x00, 0x00, 0, 0, 0}, 5},		    /* one pillar missing */
	    {{0x00, 0x00, 0, 0, 0, 0, 0}, 7},	    /* a byte left over */
	    {{0x02, 0x00, 0, 0, 0, 0}, 6},	    /* armed but not based */
	    {{0x01, 0x20, 0, 0, 0, 0}, 6},	    /* unknown present bit */
	    {{0x01, 0x00, 0xc5, 0x13, 0, 0, 0}, 7}, /* pillar 2501 */
	    {{0x01, 0x00, 0x80, 0x00, 0, 0, 0}, 7}, /* varint not in shortest form */
	    {{0x01, 0x01, 0x80, 0x80, 0x80, 0x02, 0, 0, 0, 0}, 10}, /* day beyond 9999 */
	    {{0x01, 0x10, 0x05, 0x91, 0x4e, 0, 0, 0, 0}, 9},	    /* rebase max 10001 */
	    {{0x01, 0x80, 0x05, 0x06, 0, 0, 0, 0}, 8}, /* forecast visit on its check's day */
	    {{0x01, 0x80, 0x05, 0x05, 0, 0, 0, 0}, 8}, /* forecast visit before it */
	    {{0x01, 0x80, 0x05, 0, 0, 0, 0}, 7},       /* forecast visit missing */
	};
	static const uint8_t good[] = {0x01, 0x11, 0x05, 0x06, 0x90, 0x4e, 0x01, 0x02, 0x03, 0x04};
	uint8_t buf[32];
	struct ssi_alert_state st;
	size_t len;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_decode_fails(buf, frame(buf, 1, bad[i].body, bad[i].len), -EBADMSG);
	ck_assert_int_eq(ssi_alert_state_decode(&st, buf, frame(buf, 1, good, sizeof(good))), 0);
	ck_assert_int_eq(st.last_fired_day[0], 5);
	ck_assert_int_eq(st.rebase_day, 6);
	ck_assert_int_eq(st.rebase_max, 10000);
	ck_assert_int_eq(st.pillar_ref[3], 4);
	/* Version 0 never existed: damage. */
	assert_decode_fails(buf, frame(buf, 0, good, sizeof(good)), -EBADMSG);
	/* A newer build's state, intact: not ours to read (nor to overwrite). */
	assert_decode_fails(buf, frame(buf, SSI_ALERT_VERSION + 1, good, sizeof(good)),
			    -EPROTONOSUPPORT);
	len = frame(buf, 1, good, sizeof(good));
	buf[1] = 'H';
	assert_decode_fails(buf, len, -EBADMSG);
}
END_TEST

START_TEST (test_codec_refuses_broken_states) {
	struct ssi_alert_state st;
	uint8_t buf[SSI_ALERT_ENCODED_MAX];

	st = busy_state(), st.pillar_ref[1] = 2501;
	ck_assert_int_eq(ssi_alert_state_encode(&st, buf, sizeof(buf)), -EINVAL);
	ck_assert_uint_eq(ssi_alert_state_encoded_size(&st), 0);
	st = busy_state(), st.armed = 0x8;
	ck_assert_int_eq(ssi_alert_state_encode(&st, buf, sizeof(buf)), -EINVAL);
	st = busy_state(), st.last_fired_day[0] = -2;
	ck_assert_int_eq(ssi_alert_state_encode(&st, buf, sizeof(buf)), -EINVAL);
	st = busy_state(), st.rebase_day = SSI_ALERT_DAY_NEVER;
	ck_assert_int_eq(ssi_alert_state_encode(&st, buf, sizeof(buf)), -EINVAL);
	ssi_alert_state_init(&st), st.pillar_armed = 1;
	ck_assert_int_eq(ssi_alert_state_encode(&st, buf, sizeof(buf)), -EINVAL);
	st = busy_state(), st.forecast_visit = st.forecast_day;
	ck_assert_int_eq(ssi_alert_state_encode(&st, buf, sizeof(buf)), -EINVAL);
	st = busy_state(), st.forecast_day = SSI_ALERT_DAY_NEVER,
	st.armed &= (uint8_t) ~(1u << SSI_ALERT_FORECAST_BELOW);
	ck_assert_int_eq(ssi_alert_state_encode(&st, buf, sizeof(buf)), -EINVAL);
	ssi_alert_state_init(&st), st.forecast_visit = TODAY;
	ck_assert_int_eq(ssi_alert_state_encode(&st, buf, sizeof(buf)), -EINVAL);
}
END_TEST

Suite *alert_suite(void)
{
	Suite *s = suite_create("alert");
	TCase *rules = tcase_create("rules");
	TCase *hysteresis = tcase_create("hysteresis");
	TCase *model = tcase_create("model");
	TCase *why = tcase_create("why");
	TCase *codec = tcase_create("codec");

	tcase_add_test(rules, test_rules_default_and_validate);
	tcase_add_test(rules, test_evaluate_rejects_bad_input);
	tcase_add_test(rules, test_score_drop_boundary);
	tcase_add_test(rules, test_score_drop_unknown_max_never_fires);
	tcase_add_test(rules, test_below_threshold_boundary);
	tcase_add_test(rules, test_left_top_boundary);
	tcase_add_test(rules, test_left_top_hidden_never_arms);
	tcase_add_test(rules, test_pillar_drop_boundary);
	tcase_add_test(rules, test_pillar_drop_slow_slide);
	tcase_add_test(rules, test_several_rules_fire_together);
	tcase_add_test(rules, test_first_score_never_fires_known_old_does);
	tcase_add_test(rules, test_disabled_rule_never_fires);
	tcase_add_test(hysteresis, test_hovering_fires_once);
	tcase_add_test(hysteresis, test_recovery_then_new_fall);
	tcase_add_test(hysteresis, test_once_per_day);
	tcase_add_test(hysteresis, test_decay_fires_and_pillar_rearms);
	tcase_add_test(model, test_model_change_never_fires_and_rebases);
	tcase_add_test(model, test_model_change_rearms_for_a_real_fall);
	tcase_add_test(why, test_why_lists_losses_and_actions);
	tcase_add_test(why, test_why_of_pillar_drop_keeps_to_its_pillar);
	tcase_add_test(codec, test_codec_round_trips);
	tcase_add_test(codec, test_codec_round_trips_evaluated_states);
	tcase_add_test(codec, test_codec_refuses_damage);
	tcase_add_test(codec, test_codec_refuses_bad_bodies);
	tcase_add_test(codec, test_codec_refuses_broken_states);
	suite_add_tcase(s, rules);
	suite_add_tcase(s, hysteresis);
	suite_add_tcase(s, model);
	suite_add_tcase(s, why);
	suite_add_tcase(s, codec);
	return s;
}
