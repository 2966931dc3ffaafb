/*
 * ssid_derive: what a published score implies besides itself, for the reps
 * of a batch to publish: band crossings (rank.changed), alerts and today's
 * history entry, and the daily forecast_below check of every rep scored
 * (published or not). Fills p->crossings and p->alerts; see
 * ssid_pipeline_int.h.
 */
#include <errno.h>
#include <stdlib.h>

#include "ssi_array.h"
#include "ssid_pipeline_int.h"

static int push_crossing(struct ssid_pipeline *p, uint32_t u, enum ssid_rank_kind kind,
			 const struct ssi_band_crossing *c)
{
	if (SSI_GROW(p->crossings, &p->crossings_cap, p->ncrossings + 1, 64) < 0)
		return -ENOMEM;
	p->crossings[p->ncrossings++] = (struct crossing){.user = u, .kind = kind, .c = *c};
	return 0;
}

static int push_alert(struct ssid_pipeline *p, uint32_t u, const struct ssi_alert *a)
{
	if (SSI_GROW(p->alerts, &p->alerts_cap, p->nalerts + 1, 16) < 0)
		return -ENOMEM;
	p->alerts[p->nalerts].user = u;
	p->alerts[p->nalerts++].a = *a;
	return 0;
}

/* Band crossings since the rep's last delivered percentiles, per segment kind. */
static int rank_crossings(struct ssid_pipeline *p, uint32_t u)
{
	struct user_work *w = &p->work[u];

	for (int k = 0; k < SSID_RANK__COUNT; k++) {
		const struct ssid_rank_pos *pos = work_rank(p, w, k);
		struct ssi_band_crossing c;

		w->top[k] = pos->present && !pos->hidden ? pos->top_percent : 0;
		/* Not about the past, nor in a segment still filling up (README "Alerts"). */
		if (!w->replay && !w->backfill && !pos->warming &&
		    ssi_band_crossing(&p->o.bands, p->users[u].published_top[k], w->top[k], &c) !=
			0 &&
		    push_crossing(p, u, (enum ssid_rank_kind)k, &c) < 0)
			return -ENOMEM;
	}
	return 0;
}

static enum ssi_alert_cause alert_cause(enum ssid_cause c)
{
	return c == SSID_CAUSE_DECAY   ? SSI_ALERT_CAUSE_DECAY
	       : c == SSID_CAUSE_MODEL ? SSI_ALERT_CAUSE_MODEL
				       : SSI_ALERT_CAUSE_EVENT;
}

/*
 * Check the rules. Explains are computed only for a rep an alert fires for
 * (a dry run on a copy of the rule state says whether): they cost a
 * rescoring per candidate action.
 */
static int evaluate_alerts(struct ssid_pipeline *p, uint32_t u, int64_t now_ms, int32_t today)
{
	struct ssid_user *user = &p->users[u];
	struct user_work *w = &p->work[u];
	struct ssi_alert_input in = {
	    .now_ms = now_ms,
	    .cause = alert_cause(w->cause),
	    .has_old = user->has_published,
	    .old_score = user->published,
	    .new_score = w->score,
	    .max_total = -1,
	    .old_top_percent = user->published_top[SSID_RANK_INDUSTRY],
	    /* A segment still filling up says nothing about the rep. */
	    .new_top_percent = work_rank(p, w, SSID_RANK_INDUSTRY)->warming
				   ? SSI_ALERT_TOP_UNKNOWN
				   : w->top[SSID_RANK_INDUSTRY],
	    .window_days = p->model->window_days,
	};
	struct ssi_alert out[SSI_ALERT__COUNT];
	struct ssi_alert_state trial = user->alert;
	struct ssi_explain before, now;
	int n;

	if (user->history_status == 0 && user->history.n > 0) {
		int max = ssi_history_max_since(&user->history, today - p->o.alerts.drop_days + 1);

		in.max_total = max >= 0 ? max : -1;
	}
	n = ssi_alert_evaluate(&trial, &p->o.alerts, &in, out, SSI_ALERT__COUNT);
	if (n <= 0) {
		/* -EINVAL would be a bug of ours: keep the rule state, lose no batch. */
		if (n == 0)
			user->alert = trial;
		return 0;
	}
	if (ssi_explain(w->has_before ? &w->before : &user->state, p->model,
			user->published_ms > 0 ? user->published_ms : now_ms, &before) < 0 ||
	    ssi_explain(&user->state, p->model, now_ms, &now) < 0)
		return -ENOMEM;
	in.prev_explain = &before;
	in.cur_explain = &now;
	n = ssi_alert_evaluate(&user->alert, &p->o.alerts, &in, out, SSI_ALERT__COUNT);
	for (int i = 0; i < n; i++)
		if (push_alert(p, u, &out[i]) < 0)
			return -ENOMEM;
	return 0;
}

/*
 * The next day the rep's forecast must be checked although its score may
 * not change before: the day a crossing found beyond the rule's window
 * enters it, or, with none in the horizon, the first day whose window
 * reaches past it. The decay schedule brings the rep back then (or sooner).
 */
static void schedule_forecast(struct ssid_pipeline *p, uint32_t u, int horizon)
{
	const struct ssi_alert_rules *r = &p->o.alerts;
	struct ssid_user *user = &p->users[u];
	int k = ssi_forecast_crossing(p->forecast, horizon, r->forecast_cp);

	user->alert.forecast_visit = SSI_ALERT_DAY_NEVER;
	if (user->due_ms == SSID_DUE_NEVER)
		return; /* no counted day left to leave: the score never changes */
	if (k >= r->forecast_days)
		user->alert.forecast_visit = p->forecast[k].day - r->forecast_days;
	else if (k < 0 && horizon > r->forecast_days)
		user->alert.forecast_visit = p->forecast[horizon - 1].day - r->forecast_days + 1;
}

/*
 * The rep comes back for its forecast on the day the last check asked for,
 * or sooner: every save of the schedule keeps that visit, not only the one
 * of the check (a later batch the same day rewrites the schedule).
 */
static void keep_forecast_visit(struct ssid_user *user, int32_t today)
{
	int64_t at;

	/* A visit that is due already was made (or the rule no longer applies). */
	if (user->alert.forecast_visit == SSI_ALERT_DAY_NEVER ||
	    user->alert.forecast_visit <= today || user->due_ms == SSID_DUE_NEVER ||
	    !user->save_due)
		return;
	at = ssi_time_day_start(user->alert.forecast_visit);
	if (at < user->due_ms)
		user->due_ms = at;
}

/*
 * forecast_below: the rep's idle forecast, at most once per rep per UTC day
 * (the rule state says when it is due), over twice the rule's days so the
 * next check can be scheduled. Not for a replay, a backfill or a model
 * change. Its actions (a forecast per candidate) only when it fires, found
 * by a dry run on a copy of the rule state, as for the other rules.
 */
static int evaluate_forecast(struct ssid_pipeline *p, uint32_t u, int64_t now_ms)
{
	const struct ssi_alert_rules *r = &p->o.alerts;
	struct ssid_user *user = &p->users[u];
	struct user_work *w = &p->work[u];
	struct ssi_forecast_action acts[SSI_EXPLAIN_ACTIONS];
	struct ssi_alert_state trial = user->alert;
	struct ssi_alert a;
	int horizon = 2 * r->forecast_days, n;
	struct ssi_alert_forecast_input in = {
	    .now_ms = now_ms,
	    .cause = w->cause == SSID_CAUSE_DECAY ? SSI_ALERT_CAUSE_DECAY : SSI_ALERT_CAUSE_EVENT,
	    .score = w->score,
	    .window_days = p->model->window_days,
	};

	if (w->cause == SSID_CAUSE_MODEL || w->replay || w->backfill ||
	    !ssi_alert_forecast_due(&user->alert, r, now_ms, w->score.total))
		return 0;
	if (!p->forecast) {
		p->forecast = calloc(SSI_FORECAST_DAYS_MAX, sizeof(*p->forecast));
		if (!p->forecast)
			return -ENOMEM;
	}
	if (horizon > SSI_FORECAST_DAYS_MAX)
		horizon = SSI_FORECAST_DAYS_MAX;
	if (ssi_forecast(&user->state, p->model, now_ms, horizon, p->forecast) < 0)
		return 0; /* a clock out of range: nothing to say */
	in.forecast = p->forecast;
	in.ndays = horizon;
	n = ssi_alert_evaluate_forecast(&trial, r, &in, &a);
	if (n == 1) {
		n = ssi_forecast_actions(&user->state, p->model, now_ms, r->forecast_cp, acts);
		if (n < 0)
			return -ENOMEM;
		in.actions = acts;
		in.nactions = n;
		n = ssi_alert_evaluate_forecast(&user->alert, r, &in, &a);
		if (n == 1 && push_alert(p, u, &a) < 0)
			return -ENOMEM;
	} else if (n == 0) {
		user->alert = trial;
	}
	if (!w->publish)
		ssid_store_stage_alert(user);
	schedule_forecast(p, u, horizon);
	return 0;
}

int pipe_derive(struct ssid_pipeline *p, int64_t now_ms)
{
	int32_t today = (int32_t)(now_ms / SSI_MS_PER_DAY);

	for (uint32_t u = 0; u < p->nusers; u++) {
		struct ssid_user *user = &p->users[u];
		int r;

		if (user->load_status < 0)
			continue;
		/* Not published: only the day's forecast, if the record is written anyway. */
		if (!p->work[u].publish) {
			r = user->save_state ? evaluate_forecast(p, u, now_ms) : 0;
			if (r < 0)
				return r;
			keep_forecast_visit(user, today);
			continue;
		}
		r = rank_crossings(p, u);
		if (r == 0 && !p->work[u].replay && !p->work[u].backfill)
			r = evaluate_alerts(p, u, now_ms, today);
		if (r == 0)
			r = evaluate_forecast(p, u, now_ms);
		keep_forecast_visit(user, today);
		if (r == 0 && user->history_status == 0 &&
		    ssi_history_set_retention(&user->history, p->o.history_retention_days) == 0 &&
		    ssi_history_record(&user->history, today, &p->work[u].score) == -ENOMEM)
			r = -ENOMEM;
		if (r < 0)
			return r;
	}
	return 0;
}
