/*
 * ssi_alert_forecast: forecast_below's daily check (ssi_alert.h has the
 * rule's semantics): whether a rep's idle forecast is due, arming from a
 * safe forecast, firing with the fall's day, what ages out by then and the
 * actions that hold the line longest.
 */
#include <errno.h>
#include <string.h>

#include "ssi_alert.h"
#include "ssi_alert_int.h"

bool ssi_alert_forecast_due(const struct ssi_alert_state *st, const struct ssi_alert_rules *r,
			    int64_t now_ms, int total)
{
	return r->enabled[SSI_ALERT_FORECAST_BELOW] && st->based &&
	       st->forecast_day != ssi_time_day(now_ms) && total >= r->forecast_cp;
}

/* The lowest total of the forecast's first days days, and now. */
static int forecast_min(const struct ssi_alert_forecast_input *in, int days)
{
	int low = in->score.total;

	for (int k = 0; k < days; k++)
		if (in->forecast[k].score.total < low)
			low = in->forecast[k].score.total;
	return low;
}

static bool forecast_input_valid(const struct ssi_alert_rules *r,
				 const struct ssi_alert_forecast_input *in)
{
	if (!in->forecast || in->ndays < r->forecast_days || in->ndays > SSI_FORECAST_DAYS_MAX ||
	    in->now_ms < SSI_TIME_MIN_MS || in->now_ms > SSI_TIME_MAX_MS ||
	    (in->cause != SSI_ALERT_CAUSE_EVENT && in->cause != SSI_ALERT_CAUSE_DECAY) ||
	    !ssi_alert_score_valid(&in->score) || in->nactions < 0 ||
	    (in->nactions > 0 && !in->actions))
		return false;
	for (int k = 0; k < in->ndays; k++)
		if (!ssi_alert_score_valid(&in->forecast[k].score) ||
		    in->forecast[k].day != ssi_time_day(in->now_ms) + 1 + k)
			return false;
	return true;
}

/* The variables that lose most from now to forecast day k, summed over the days. */
static void forecast_losses(struct ssi_alert *a, const struct ssi_forecast_day *fc, int k)
{
	int lost[SSI_V__COUNT] = {0};
	unsigned aged[SSI_V__COUNT] = {0};

	for (int d = 0; d <= k; d++)
		for (int i = 0; i < fc[d].nlosses; i++) {
			lost[fc[d].loss[i].var] += fc[d].loss[i].lost_cp;
			aged[fc[d].loss[i].var] += fc[d].loss[i].aged;
		}
	a->nlosses = 0;
	for (int var = 0; var < SSI_V__COUNT; var++)
		ssi_alert_offer_loss(a, (enum ssi_variable)var, lost[var], aged[var]);
}

static void fill_forecast_alert(struct ssi_alert *a, const struct ssi_alert_rules *r,
				const struct ssi_alert_forecast_input *in, int k)
{
	const struct ssi_forecast_day *d = &in->forecast[k];

	*a = (struct ssi_alert){
	    .rule = SSI_ALERT_FORECAST_BELOW,
	    .cause = in->cause,
	    .old_value = in->score.total,
	    .new_value = d->score.total,
	    .reference = r->forecast_cp,
	    .threshold = r->forecast_cp,
	    .forecast_day = d->day,
	};
	for (int p = 0; p < SSI_PILLAR__COUNT; p++)
		a->pillar_lost_cp[p] = in->score.pillar[p] - d->score.pillar[p];
	forecast_losses(a, in->forecast, k);
	for (int i = 0; i < in->nactions && i < SSI_EXPLAIN_ACTIONS; i++) {
		a->action[i] = (struct ssi_action){
		    .text = in->actions[i].text,
		    .pillar = in->actions[i].pillar,
		    .gain = in->actions[i].gain,
		};
		a->action_days[i] = in->actions[i].days_above;
		a->nactions++;
	}
	ssi_alert_write_why(a, r, in->cause, in->window_days);
}

int ssi_alert_evaluate_forecast(struct ssi_alert_state *st, const struct ssi_alert_rules *r,
				const struct ssi_alert_forecast_input *in, struct ssi_alert *out)
{
	const int rule = SSI_ALERT_FORECAST_BELOW;
	int32_t today;
	bool first_check;
	int k;

	if (!st || !in || !out || ssi_alert_rules_validate(r) < 0 || !forecast_input_valid(r, in))
		return -EINVAL;
	if (!ssi_alert_forecast_due(st, r, in->now_ms, in->score.total))
		return 0;
	today = ssi_time_day(in->now_ms);
	first_check = st->forecast_day == SSI_ALERT_DAY_NEVER;
	st->forecast_day = today;
	k = ssi_forecast_crossing(in->forecast, r->forecast_days, r->forecast_cp);
	if (first_check || !(st->armed & FC_ARMED)) {
		/* Armed from a safe forecast only: a first check or a re-arm never fires. */
		if (k < 0 && forecast_min(in, r->forecast_days) >=
				 r->forecast_cp + (first_check ? 0 : r->forecast_rearm_cp))
			st->armed |= FC_ARMED;
		return 0;
	}
	if (k < 0 || st->last_fired_day[rule] == today)
		return 0;
	st->armed &= (uint8_t)~FC_ARMED;
	st->last_fired_day[rule] = today;
	fill_forecast_alert(out, r, in, k);
	return 1;
}
