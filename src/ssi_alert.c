/*
 * ssi_alert: alert rules with hysteresis and a once-a-day cap, and the
 * compact binary form of a rep's alert state (include/ssi_alert.h has the
 * rules' semantics).
 *
 * forecast_below's daily check is in ssi_alert_forecast.c (ssi_alert_int.h).
 *
 * Body of version 1 of the state's encoding (ssi_wire's frame, magic "SA";
 * varint: unsigned LEB128 in its shortest form):
 *
 *   flags     u8: bit 0 based, bits 1..3 armed score_drop, below_threshold,
 *             left_top_percent, bits 4..7 pillar_drop armed per pillar.
 *   present   u8: bits 0..3 the rule has fired (last_fired_day set), bit 4
 *             a model change is remembered (rebase_day set), bit 5
 *             forecast_below armed, bit 6 forecast_below has fired, bit 7
 *             forecast_below was checked (forecast_day set). States written
 *             before forecast_below have bits 5..7 clear: never checked.
 *   fired     per bit 0..3 of present, ascending: varint day, at most
 *             SSI_ALERT_DAY_MAX.
 *   rebase    if bit 4: varint day (at most SSI_ALERT_DAY_MAX), varint
 *             highest total (at most 10000).
 *   forecast  if bit 6: varint day forecast_below fired; if bit 7: varint
 *             forecast_day, then varint forecast_visit + 1, 0 for none
 *             (each day at most SSI_ALERT_DAY_MAX; a visit comes after
 *             forecast_day). Bit 5 requires bit 7.
 *   pillars   four varints, the pillar references in pillar order, at most
 *             2500 each.
 *
 * A state that is not based has every other field at its initial value.
 * Every state has one encoding and the decoder accepts nothing else, so
 * encode(decode(b)) is b byte for byte.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ssi_alert.h"
#include "ssi_alert_int.h"
#include "ssi_history.h"
#include "ssi_wire.h"

#define TOTAL_MAX  (SSI_PILLAR__COUNT * SSI_HISTORY_PILLAR_MAX)
#define PILLAR_MAX SSI_HISTORY_PILLAR_MAX

#define FLAG_BASED	 0x01u
#define FLAG_ARMED(rule) (0x02u << (rule))
#define FLAG_PILLAR(p)	 (0x10u << (p))
#define PRESENT_FIRED(r) (0x01u << (r))
#define PRESENT_REBASE	 0x10u
#define PRESENT_FC_ARMED 0x20u
#define PRESENT_FC_FIRED 0x40u
#define PRESENT_FC_DAY	 0x80u
#define PRESENT_ALL	 0xffu
#define RULE_ARMED_ALL	 (0x07u | FC_ARMED)
/* The rules ssi_alert_evaluate checks: forecast_below has its own function. */
#define SCORE_RULES	 SSI_ALERT_FORECAST_BELOW
#define PILLAR_ARMED_ALL 0x0fu

static const struct ssi_wire_format alert_format = {
    .magic = {'S', 'A'},
    .version = SSI_ALERT_VERSION,
};

static const char *const rule_names[SSI_ALERT__COUNT] = {
    [SSI_ALERT_SCORE_DROP] = "score_drop",
    [SSI_ALERT_BELOW_THRESHOLD] = "below_threshold",
    [SSI_ALERT_LEFT_TOP_PERCENT] = "left_top_percent",
    [SSI_ALERT_PILLAR_DROP] = "pillar_drop",
    [SSI_ALERT_FORECAST_BELOW] = "forecast_below",
};

const char *ssi_alert_rule_name(enum ssi_alert_rule rule)
{
	if ((unsigned)rule >= SSI_ALERT__COUNT)
		return NULL;
	return rule_names[rule];
}

void ssi_alert_rules_default(struct ssi_alert_rules *r)
{
	*r = (struct ssi_alert_rules){
	    .enabled = {true, true, true, true, true},
	    .drop_cp = 500,
	    .drop_days = 7,
	    .drop_rearm_cp = 250,
	    .threshold_cp = 7000,
	    .threshold_rearm_cp = 200,
	    .top_percent = 15,
	    .top_rearm_percent = 2,
	    .pillar_drop_cp = 300,
	    .pillar_rearm_cp = 150,
	    .forecast_cp = 7000,
	    .forecast_days = 7,
	    .forecast_rearm_cp = 200,
	};
}

static bool in_range(int v, int lo, int hi)
{
	return v >= lo && v <= hi;
}

/*
 * Each re-arm line must lie strictly on the safe side of its trip line, or
 * one value would both re-arm and trip a rule and hovering would fire daily.
 */
int ssi_alert_rules_validate(const struct ssi_alert_rules *r)
{
	if (!r || !in_range(r->drop_cp, 1, TOTAL_MAX) ||
	    !in_range(r->drop_days, 1, SSI_HISTORY_RETENTION_MAX) ||
	    !in_range(r->drop_rearm_cp, 0, r->drop_cp - 1) ||
	    !in_range(r->threshold_cp, 1, TOTAL_MAX) ||
	    !in_range(r->threshold_rearm_cp, 0, TOTAL_MAX - r->threshold_cp) ||
	    !in_range(r->top_percent, 1, 99) ||
	    !in_range(r->top_rearm_percent, 0, r->top_percent - 1) ||
	    !in_range(r->pillar_drop_cp, 1, PILLAR_MAX) ||
	    !in_range(r->pillar_rearm_cp, 0, PILLAR_MAX) ||
	    !in_range(r->forecast_cp, 1, TOTAL_MAX) ||
	    !in_range(r->forecast_days, 1, SSI_FORECAST_DAYS_MAX) ||
	    !in_range(r->forecast_rearm_cp, 0, TOTAL_MAX - r->forecast_cp))
		return -EINVAL;
	return 0;
}

void ssi_alert_state_init(struct ssi_alert_state *st)
{
	*st = (struct ssi_alert_state){.rebase_day = SSI_ALERT_DAY_NEVER,
				       .forecast_day = SSI_ALERT_DAY_NEVER,
				       .forecast_visit = SSI_ALERT_DAY_NEVER};
	for (int rule = 0; rule < SSI_ALERT__COUNT; rule++)
		st->last_fired_day[rule] = SSI_ALERT_DAY_NEVER;
}

bool ssi_alert_score_valid(const struct ssi_score *sc)
{
	int sum = 0;

	for (int p = 0; p < SSI_PILLAR__COUNT; p++) {
		if (!in_range(sc->pillar[p], 0, PILLAR_MAX))
			return false;
		sum += sc->pillar[p];
	}
	return sc->total == sum;
}

static bool top_is_valid(int top)
{
	return top == SSI_ALERT_TOP_UNKNOWN || in_range(top, 1, 100);
}

static bool input_is_valid(const struct ssi_alert_input *in)
{
	return in->now_ms >= SSI_TIME_MIN_MS && in->now_ms <= SSI_TIME_MAX_MS &&
	       (in->cause == SSI_ALERT_CAUSE_EVENT || in->cause == SSI_ALERT_CAUSE_DECAY ||
		in->cause == SSI_ALERT_CAUSE_MODEL) &&
	       (!in->has_old || ssi_alert_score_valid(&in->old_score)) &&
	       ssi_alert_score_valid(&in->new_score) && in_range(in->max_total, -1, TOTAL_MAX) &&
	       top_is_valid(in->old_top_percent) && top_is_valid(in->new_top_percent);
}

static int max_int(int a, int b)
{
	return a > b ? a : b;
}

/*
 * The score_drop reference for total, or -1 when unknown. For drop_days days
 * after a model change the history's maximum mixes in the old model's
 * scores, so the highest total seen since the change stands in for it.
 */
static int drop_reference(const struct ssi_alert_state *st, const struct ssi_alert_rules *r,
			  int max_total, int32_t today, int total)
{
	if (st->rebase_day != SSI_ALERT_DAY_NEVER && today - st->rebase_day < r->drop_days)
		return max_int(st->rebase_max, total);
	if (max_total < 0)
		return -1;
	return max_int(max_total, total);
}

static bool drop_trips(const struct ssi_alert_rules *r, int reference, int total)
{
	return reference >= 0 && reference - total >= r->drop_cp;
}

static bool top_trips(const struct ssi_alert_rules *r, int top)
{
	return top != SSI_ALERT_TOP_UNKNOWN && top > r->top_percent;
}

/*
 * Arm every rule that score (and top) does not already trip and start the
 * pillar peaks there: what a fresh state or a model change starts from, so
 * that only a fall from this point on fires. forecast_below is left
 * disarmed: only a forecast says whether it is safe to arm.
 */
static void base_on(struct ssi_alert_state *st, const struct ssi_alert_rules *r,
		    const struct ssi_score *score, int top, int drop_ref)
{
	st->based = true;
	st->armed = 0;
	if (!drop_trips(r, drop_ref, score->total))
		st->armed |= 1u << SSI_ALERT_SCORE_DROP;
	if (score->total >= r->threshold_cp)
		st->armed |= 1u << SSI_ALERT_BELOW_THRESHOLD;
	if (top != SSI_ALERT_TOP_UNKNOWN && !top_trips(r, top))
		st->armed |= 1u << SSI_ALERT_LEFT_TOP_PERCENT;
	st->pillar_armed = PILLAR_ARMED_ALL;
	for (int p = 0; p < SSI_PILLAR__COUNT; p++)
		st->pillar_ref[p] = score->pillar[p];
}

static void rebase_on_model(struct ssi_alert_state *st, const struct ssi_alert_rules *r,
			    const struct ssi_alert_input *in, int32_t today)
{
	st->rebase_day = today;
	st->rebase_max = in->new_score.total;
	base_on(st, r, &in->new_score, in->new_top_percent, in->new_score.total);
}

/* A fresh state starts from the previous score, so a fall to this one still fires. */
static void base_fresh(struct ssi_alert_state *st, const struct ssi_alert_rules *r,
		       const struct ssi_alert_input *in, int32_t today)
{
	const struct ssi_score *base = in->has_old ? &in->old_score : &in->new_score;
	int top = in->old_top_percent != SSI_ALERT_TOP_UNKNOWN ? in->old_top_percent
							       : in->new_top_percent;

	base_on(st, r, base, top, drop_reference(st, r, in->max_total, today, base->total));
}

/* What one rule decided: whether it trips now and, if so, the values that tripped it. */
struct verdict {
	bool trips;
	int old_value, new_value, reference, threshold;
	enum ssi_pillar pillar;
	unsigned pillar_mask;
};

/* Both halves of the hysteresis: trip while armed, re-arm once recovered. */
static struct verdict check_score_drop(struct ssi_alert_state *st, const struct ssi_alert_rules *r,
				       const struct ssi_alert_input *in, int32_t today)
{
	int total = in->new_score.total;
	int reference = drop_reference(st, r, in->max_total, today, total);
	struct verdict v = {0};

	if (reference < 0)
		return v;
	if (!(st->armed & (1u << SSI_ALERT_SCORE_DROP))) {
		if (reference - total <= r->drop_rearm_cp)
			st->armed |= 1u << SSI_ALERT_SCORE_DROP;
		return v;
	}
	v.trips = drop_trips(r, reference, total);
	v.old_value = in->has_old ? in->old_score.total : -1;
	v.new_value = total;
	v.reference = reference;
	v.threshold = r->drop_cp;
	return v;
}

static struct verdict check_below_threshold(struct ssi_alert_state *st,
					    const struct ssi_alert_rules *r,
					    const struct ssi_alert_input *in)
{
	int total = in->new_score.total;
	struct verdict v = {0};

	if (!(st->armed & (1u << SSI_ALERT_BELOW_THRESHOLD))) {
		if (total >= r->threshold_cp + r->threshold_rearm_cp)
			st->armed |= 1u << SSI_ALERT_BELOW_THRESHOLD;
		return v;
	}
	v.trips = total < r->threshold_cp;
	v.old_value = in->has_old ? in->old_score.total : -1;
	v.new_value = total;
	v.reference = v.threshold = r->threshold_cp;
	return v;
}

static struct verdict check_left_top(struct ssi_alert_state *st, const struct ssi_alert_rules *r,
				     const struct ssi_alert_input *in)
{
	int top = in->new_top_percent;
	struct verdict v = {0};

	if (top == SSI_ALERT_TOP_UNKNOWN)
		return v;
	if (!(st->armed & (1u << SSI_ALERT_LEFT_TOP_PERCENT))) {
		if (top <= r->top_percent - r->top_rearm_percent)
			st->armed |= 1u << SSI_ALERT_LEFT_TOP_PERCENT;
		return v;
	}
	v.trips = top_trips(r, top);
	v.old_value = in->old_top_percent != SSI_ALERT_TOP_UNKNOWN ? in->old_top_percent : -1;
	v.new_value = top;
	v.reference = v.threshold = r->top_percent;
	return v;
}

/*
 * Moves every pillar's reference (peak while armed, trough while not) and
 * re-arms the recovered ones; reports the armed pillar that fell most below
 * its peak, ties going to the first pillar.
 */
static struct verdict check_pillar_drop(struct ssi_alert_state *st, const struct ssi_alert_rules *r,
					const struct ssi_alert_input *in)
{
	struct verdict v = {0};
	int worst = -1;

	for (int p = 0; p < SSI_PILLAR__COUNT; p++) {
		int value = in->new_score.pillar[p];
		int fall;

		if (!(st->pillar_armed & (1u << p))) {
			if (value < st->pillar_ref[p])
				st->pillar_ref[p] = value;
			else if (value - st->pillar_ref[p] >= r->pillar_rearm_cp) {
				st->pillar_armed |= 1u << p;
				st->pillar_ref[p] = value;
			}
			continue;
		}
		st->pillar_ref[p] = max_int(st->pillar_ref[p], value);
		fall = st->pillar_ref[p] - value;
		if (fall < r->pillar_drop_cp)
			continue;
		v.pillar_mask |= 1u << p;
		if (fall > worst) {
			worst = fall;
			v.pillar = (enum ssi_pillar)p;
		}
	}
	if (v.pillar_mask == 0)
		return v;
	v.trips = true;
	v.old_value = in->has_old ? in->old_score.pillar[v.pillar] : -1;
	v.new_value = in->new_score.pillar[v.pillar];
	v.reference = st->pillar_ref[v.pillar];
	v.threshold = r->pillar_drop_cp;
	return v;
}

/* Firing disarms: the tripped pillars' references become the trough to recover from. */
static void disarm(struct ssi_alert_state *st, enum ssi_alert_rule rule, const struct verdict *v,
		   const struct ssi_score *score)
{
	if (rule != SSI_ALERT_PILLAR_DROP) {
		st->armed &= (uint8_t) ~(1u << rule);
		return;
	}
	for (int p = 0; p < SSI_PILLAR__COUNT; p++)
		if (v->pillar_mask & (1u << p)) {
			st->pillar_armed &= (uint8_t) ~(1u << p);
			st->pillar_ref[p] = score->pillar[p];
		}
}

static int lost_cp(const struct ssi_explain *prev, const struct ssi_explain *cur, int var)
{
	return (int)lround(100.0 * (prev->var[var].points - cur->var[var].points));
}

void ssi_alert_offer_loss(struct ssi_alert *a, enum ssi_variable var, int lost_cp, unsigned aged)
{
	int at = a->nlosses, n;

	if (lost_cp <= 0)
		return;
	while (at > 0 && a->loss[at - 1].lost_cp < lost_cp)
		at--;
	if (at >= SSI_ALERT_LOSSES)
		return;
	n = a->nlosses < SSI_ALERT_LOSSES ? a->nlosses + 1 : SSI_ALERT_LOSSES;
	for (int i = n - 1; i > at; i--)
		a->loss[i] = a->loss[i - 1];
	a->loss[at] = (struct ssi_alert_loss){.var = var, .lost_cp = lost_cp, .aged = aged};
	a->nlosses = n;
}

/* The variables (of pillar_mask's pillars) that lost most, biggest first, ties by variable. */
static void fill_losses(struct ssi_alert *a, const struct ssi_alert_input *in, unsigned pillar_mask)
{
	const struct ssi_explain *prev = in->prev_explain, *cur = in->cur_explain;

	a->nlosses = 0;
	if (!prev || !cur)
		return;
	for (int var = 0; var < SSI_V__COUNT; var++) {
		int lost = lost_cp(prev, cur, var);

		if (pillar_mask & (1u << ssi_var_info(var)->pillar))
			ssi_alert_offer_loss(a, (enum ssi_variable)var, lost, 0);
	}
}

/* snprintf that appends and never overruns: a truncated sentence is still a sentence. */
__attribute__((format(printf, 3, 4))) static void append(char *buf, size_t cap, const char *fmt,
							 ...)
{
	size_t len = strnlen(buf, cap);
	va_list ap;

	if (len + 1 >= cap)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + len, cap - len, fmt, ap);
	va_end(ap);
}

static void write_headline(struct ssi_alert *a, const struct ssi_alert_rules *r)
{
	char value[16], reference[16], amount[16];

	ssi_score_format(a->new_value, value, sizeof(value));
	ssi_score_format(a->reference, reference, sizeof(reference));
	switch (a->rule) {
	case SSI_ALERT_SCORE_DROP:
		ssi_score_format(a->reference - a->new_value, amount, sizeof(amount));
		append(a->why, sizeof(a->why), "SSI %s is %s below its %d-day high of %s", value,
		       amount, r->drop_days, reference);
		break;
	case SSI_ALERT_BELOW_THRESHOLD:
		append(a->why, sizeof(a->why), "SSI fell below %s to %s", reference, value);
		break;
	case SSI_ALERT_LEFT_TOP_PERCENT:
		append(a->why, sizeof(a->why), "left the top %d%% of the industry (now top %d%%)",
		       a->reference, a->new_value);
		break;
	case SSI_ALERT_FORECAST_BELOW: {
		char date[SSI_TIME_BUFLEN];

		ssi_score_format(a->old_value, amount, sizeof(amount));
		ssi_time_format(ssi_time_day_start(a->forecast_day), date);
		date[10] = '\0';
		append(a->why, sizeof(a->why), "SSI %s will fall below %s on %s (to %s) if idle",
		       amount, reference, date, value);
		break;
	}
	case SSI_ALERT_PILLAR_DROP:
	case SSI_ALERT__COUNT:
		ssi_score_format(a->reference - a->new_value, amount, sizeof(amount));
		append(a->why, sizeof(a->why), "%s fell %s from its high of %s to %s",
		       ssi_pillar_name(a->pillar), amount, reference, value);
		break;
	}
}

/* "<headline>; posts: -2.10, messages: -0.40 (activity aged out of the 90-day window)" */
void ssi_alert_write_why(struct ssi_alert *a, const struct ssi_alert_rules *r,
			 enum ssi_alert_cause cause, int window_days)
{
	a->why[0] = '\0';
	write_headline(a, r);
	for (int i = 0; i < a->nlosses; i++) {
		char lost[16];

		ssi_score_format(-a->loss[i].lost_cp, lost, sizeof(lost));
		append(a->why, sizeof(a->why), "%s%s: %s", i == 0 ? "; " : ", ",
		       ssi_var_info(a->loss[i].var)->name, lost);
	}
	if (a->nlosses == 0)
		return;
	if (a->rule == SSI_ALERT_FORECAST_BELOW && window_days > 0)
		append(a->why, sizeof(a->why), " (activity ageing out of the %d-day window)",
		       window_days);
	else if (a->rule == SSI_ALERT_FORECAST_BELOW)
		append(a->why, sizeof(a->why), " (activity ageing out of the window)");
	else if (cause == SSI_ALERT_CAUSE_EVENT)
		append(a->why, sizeof(a->why), " (after new activity)");
	else if (window_days > 0)
		append(a->why, sizeof(a->why), " (activity aged out of the %d-day window)",
		       window_days);
	else
		append(a->why, sizeof(a->why), " (activity aged out of the window)");
}

static void fill_alert(struct ssi_alert *a, enum ssi_alert_rule rule, const struct verdict *v,
		       const struct ssi_alert_rules *r, const struct ssi_alert_input *in)
{
	*a = (struct ssi_alert){
	    .rule = rule,
	    .cause = in->cause,
	    .old_value = v->old_value,
	    .new_value = v->new_value,
	    .reference = v->reference,
	    .threshold = v->threshold,
	    .pillar = v->pillar,
	    .pillar_mask = v->pillar_mask,
	};
	if (in->has_old)
		for (int p = 0; p < SSI_PILLAR__COUNT; p++)
			a->pillar_lost_cp[p] = in->old_score.pillar[p] - in->new_score.pillar[p];
	fill_losses(a, in, rule == SSI_ALERT_PILLAR_DROP ? v->pillar_mask : PILLAR_ARMED_ALL);
	if (in->cur_explain) {
		a->nactions = in->cur_explain->nactions;
		if (a->nactions < 0)
			a->nactions = 0;
		if (a->nactions > SSI_EXPLAIN_ACTIONS)
			a->nactions = SSI_EXPLAIN_ACTIONS;
		memcpy(a->action, in->cur_explain->action,
		       sizeof(a->action[0]) * (size_t)a->nactions);
	}
	ssi_alert_write_why(a, r, in->cause, in->window_days);
}

static struct verdict check_rule(struct ssi_alert_state *st, enum ssi_alert_rule rule,
				 const struct ssi_alert_rules *r, const struct ssi_alert_input *in,
				 int32_t today)
{
	switch (rule) {
	case SSI_ALERT_SCORE_DROP:
		return check_score_drop(st, r, in, today);
	case SSI_ALERT_BELOW_THRESHOLD:
		return check_below_threshold(st, r, in);
	case SSI_ALERT_LEFT_TOP_PERCENT:
		return check_left_top(st, r, in);
	case SSI_ALERT_PILLAR_DROP:
	case SSI_ALERT_FORECAST_BELOW:
	case SSI_ALERT__COUNT:
		break;
	}
	return check_pillar_drop(st, r, in);
}

int ssi_alert_evaluate(struct ssi_alert_state *st, const struct ssi_alert_rules *r,
		       const struct ssi_alert_input *in, struct ssi_alert *out, int max_out)
{
	int32_t today;
	int fired = 0;

	if (!st || !in || ssi_alert_rules_validate(r) < 0 || !input_is_valid(in) ||
	    max_out < SSI_ALERT__COUNT || !out)
		return -EINVAL;
	today = ssi_time_day(in->now_ms);

	/* Old enough to be out of every drop_days window: the history's maximum holds again. */
	if (st->rebase_day != SSI_ALERT_DAY_NEVER && today - st->rebase_day >= r->drop_days) {
		st->rebase_day = SSI_ALERT_DAY_NEVER;
		st->rebase_max = 0;
	}
	if (in->cause == SSI_ALERT_CAUSE_MODEL) {
		rebase_on_model(st, r, in, today);
		return 0;
	}
	if (st->rebase_day != SSI_ALERT_DAY_NEVER)
		st->rebase_max = max_int(st->rebase_max, in->new_score.total);
	if (!st->based)
		base_fresh(st, r, in, today);

	for (int rule = 0; rule < SCORE_RULES; rule++) {
		struct verdict v;

		/* A disabled rule still follows the score, so enabling it starts from now. */
		v = check_rule(st, (enum ssi_alert_rule)rule, r, in, today);
		if (!v.trips || st->last_fired_day[rule] == today)
			continue;
		disarm(st, (enum ssi_alert_rule)rule, &v, &in->new_score);
		if (!r->enabled[rule])
			continue;
		st->last_fired_day[rule] = today;
		fill_alert(&out[fired++], (enum ssi_alert_rule)rule, &v, r, in);
	}
	return fired;
}

static bool day_is_valid(int32_t day)
{
	return day >= 0 && day <= SSI_ALERT_DAY_MAX;
}

static bool state_is_initial(const struct ssi_alert_state *st)
{
	struct ssi_alert_state fresh;

	ssi_alert_state_init(&fresh);
	if (st->based != fresh.based || st->armed != fresh.armed ||
	    st->pillar_armed != fresh.pillar_armed || st->rebase_day != fresh.rebase_day ||
	    st->rebase_max != fresh.rebase_max || st->forecast_day != fresh.forecast_day ||
	    st->forecast_visit != fresh.forecast_visit)
		return false;
	for (int p = 0; p < SSI_PILLAR__COUNT; p++)
		if (st->pillar_ref[p] != fresh.pillar_ref[p])
			return false;
	for (int rule = 0; rule < SSI_ALERT__COUNT; rule++)
		if (st->last_fired_day[rule] != fresh.last_fired_day[rule])
			return false;
	return true;
}

/* The invariants the decoder checks, so that whatever is stored reads back. */
static bool state_is_encodable(const struct ssi_alert_state *st)
{
	if (!st->based)
		return state_is_initial(st);
	if ((st->armed & ~RULE_ARMED_ALL) || (st->pillar_armed & ~PILLAR_ARMED_ALL))
		return false;
	for (int rule = 0; rule < SSI_ALERT__COUNT; rule++)
		if (st->last_fired_day[rule] != SSI_ALERT_DAY_NEVER &&
		    !day_is_valid(st->last_fired_day[rule]))
			return false;
	if (st->forecast_day == SSI_ALERT_DAY_NEVER ? (st->armed & FC_ARMED) != 0
						    : !day_is_valid(st->forecast_day))
		return false;
	if (st->forecast_visit != SSI_ALERT_DAY_NEVER &&
	    (st->forecast_day == SSI_ALERT_DAY_NEVER || !day_is_valid(st->forecast_visit) ||
	     st->forecast_visit <= st->forecast_day))
		return false;
	if (st->rebase_day == SSI_ALERT_DAY_NEVER
		? st->rebase_max != 0
		: !day_is_valid(st->rebase_day) || !in_range(st->rebase_max, 0, TOTAL_MAX))
		return false;
	for (int p = 0; p < SSI_PILLAR__COUNT; p++)
		if (!in_range(st->pillar_ref[p], 0, PILLAR_MAX))
			return false;
	return true;
}

static void put_state(struct ssi_wire_writer *w, const struct ssi_alert_state *st)
{
	uint8_t flags = st->based ? FLAG_BASED : 0, present = 0;

	for (int rule = 0; rule < SSI_ALERT_PILLAR_DROP; rule++)
		if (st->armed & (1u << rule))
			flags |= FLAG_ARMED(rule);
	for (int p = 0; p < SSI_PILLAR__COUNT; p++)
		if (st->pillar_armed & (1u << p))
			flags |= FLAG_PILLAR(p);
	for (int rule = 0; rule < SCORE_RULES; rule++)
		if (st->last_fired_day[rule] != SSI_ALERT_DAY_NEVER)
			present |= PRESENT_FIRED(rule);
	if (st->rebase_day != SSI_ALERT_DAY_NEVER)
		present |= PRESENT_REBASE;
	if (st->armed & FC_ARMED)
		present |= PRESENT_FC_ARMED;
	if (st->last_fired_day[SSI_ALERT_FORECAST_BELOW] != SSI_ALERT_DAY_NEVER)
		present |= PRESENT_FC_FIRED;
	if (st->forecast_day != SSI_ALERT_DAY_NEVER)
		present |= PRESENT_FC_DAY;

	ssi_wire_put_header(w, &alert_format);
	ssi_wire_put_u8(w, flags);
	ssi_wire_put_u8(w, present);
	for (int rule = 0; rule < SCORE_RULES; rule++)
		if (present & PRESENT_FIRED(rule))
			ssi_wire_put_varint(w, (uint64_t)st->last_fired_day[rule]);
	if (present & PRESENT_REBASE) {
		ssi_wire_put_varint(w, (uint64_t)st->rebase_day);
		ssi_wire_put_varint(w, (uint64_t)st->rebase_max);
	}
	if (present & PRESENT_FC_FIRED)
		ssi_wire_put_varint(w, (uint64_t)st->last_fired_day[SSI_ALERT_FORECAST_BELOW]);
	if (present & PRESENT_FC_DAY) {
		ssi_wire_put_varint(w, (uint64_t)st->forecast_day);
		ssi_wire_put_varint(w, st->forecast_visit == SSI_ALERT_DAY_NEVER
					   ? 0
					   : (uint64_t)st->forecast_visit + 1);
	}
	for (int p = 0; p < SSI_PILLAR__COUNT; p++)
		ssi_wire_put_varint(w, (uint64_t)st->pillar_ref[p]);
}

size_t ssi_alert_state_encoded_size(const struct ssi_alert_state *st)
{
	struct ssi_wire_writer w = {0};

	if (!state_is_encodable(st))
		return 0;
	put_state(&w, st);
	return ssi_wire_framed_size(&w);
}

long ssi_alert_state_encode(const struct ssi_alert_state *st, uint8_t *buf, size_t cap)
{
	struct ssi_wire_writer w = {.buf = buf, .cap = cap};

	if (!state_is_encodable(st))
		return -EINVAL;
	put_state(&w, st);
	return ssi_wire_put_trailer(&w);
}

static int get_day(struct ssi_wire_reader *r, int32_t *day)
{
	uint64_t v;

	if (ssi_wire_get_varint_max(r, SSI_ALERT_DAY_MAX, &v) < 0)
		return -EBADMSG;
	*day = (int32_t)v;
	return 0;
}

static int get_body(struct ssi_wire_reader *r, struct ssi_alert_state *st)
{
	uint8_t flags, present;
	uint64_t v;

	if (ssi_wire_get_u8(r, &flags) < 0 || ssi_wire_get_u8(r, &present) < 0 ||
	    (present & ~PRESENT_ALL))
		return -EBADMSG;
	st->based = flags & FLAG_BASED;
	for (int rule = 0; rule < SSI_ALERT_PILLAR_DROP; rule++)
		if (flags & FLAG_ARMED(rule))
			st->armed |= (uint8_t)(1u << rule);
	for (int p = 0; p < SSI_PILLAR__COUNT; p++)
		if (flags & FLAG_PILLAR(p))
			st->pillar_armed |= (uint8_t)(1u << p);
	for (int rule = 0; rule < SCORE_RULES; rule++)
		if ((present & PRESENT_FIRED(rule)) && get_day(r, &st->last_fired_day[rule]) < 0)
			return -EBADMSG;
	if (present & PRESENT_REBASE) {
		if (get_day(r, &st->rebase_day) < 0 ||
		    ssi_wire_get_varint_max(r, TOTAL_MAX, &v) < 0)
			return -EBADMSG;
		st->rebase_max = (int)v;
	}
	if (present & PRESENT_FC_ARMED)
		st->armed |= FC_ARMED;
	if ((present & PRESENT_FC_FIRED) &&
	    get_day(r, &st->last_fired_day[SSI_ALERT_FORECAST_BELOW]) < 0)
		return -EBADMSG;
	if (present & PRESENT_FC_DAY) {
		if (get_day(r, &st->forecast_day) < 0 ||
		    ssi_wire_get_varint_max(r, (uint64_t)SSI_ALERT_DAY_MAX + 1, &v) < 0 ||
		    (v > 0 && (int64_t)v - 1 <= st->forecast_day))
			return -EBADMSG;
		st->forecast_visit = v == 0 ? SSI_ALERT_DAY_NEVER : (int32_t)(v - 1);
	}
	for (int p = 0; p < SSI_PILLAR__COUNT; p++) {
		if (ssi_wire_get_varint_max(r, PILLAR_MAX, &v) < 0)
			return -EBADMSG;
		st->pillar_ref[p] = (int)v;
	}
	if (ssi_wire_left(r) != 0 || !state_is_encodable(st))
		return -EBADMSG;
	return 0;
}

int ssi_alert_state_decode(struct ssi_alert_state *st, const uint8_t *buf, size_t len)
{
	struct ssi_wire_reader r;
	int ret;

	ssi_alert_state_init(st);
	ret = ssi_wire_open(&alert_format, buf, len, &r);
	if (ret < 0)
		return ret;
	ret = get_body(&r, st);
	if (ret < 0)
		ssi_alert_state_init(st);
	return ret;
}
