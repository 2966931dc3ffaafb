/*
 * ssi_forecast: the idle score over the coming days, what-if answers and the
 * actions that hold a line longest (include/ssi_forecast.h).
 *
 * No formula here: every score comes from ssi_score_vars(), the evaluation
 * behind ssi_score() and ssi_explain(), and every change to a state from
 * ssi_state_apply(). An idle state's score changes only when a counted day
 * leaves the window, at the start of day (d + window_days); on a day
 * boundary at which no row leaves, the score is the previous one, and the
 * scorer is not called.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "ssi_forecast.h"
#include "ssi_score_priv.h"
#include "ssi_time.h"

/* The row of day in st's ascending rows, from *cursor on (advanced), or NULL. */
static const struct ssi_day_row *row_of_day(const struct ssi_state *st, int32_t day,
					    uint32_t *cursor)
{
	while (*cursor < st->nrows && st->rows[*cursor].day < day)
		(*cursor)++;
	if (*cursor < st->nrows && st->rows[*cursor].day == day)
		return &st->rows[*cursor];
	return NULL;
}

static unsigned capped(const struct ssi_day_row *row, int counter, int cap)
{
	return row->count[counter] < cap ? row->count[counter] : (unsigned)cap;
}

/* The units of variable v that leave the window with row. */
static unsigned aged_units(const struct ssi_model *m, enum ssi_variable v,
			   const struct ssi_day_row *row)
{
	const struct ssi_var_info *vi = ssi_var_info(v);
	int cap = m->var[v].daily_cap;
	unsigned a, b;

	if (!row)
		return 0;
	switch (vi->kind) {
	case SSI_KIND_COUNT:
		a = capped(row, vi->counter[0], cap);
		return a + (vi->counter[1] >= 0 ? capped(row, vi->counter[1], cap) : 0);
	case SSI_KIND_ACTIVE_DAYS:
		return row->count[SSI_C_SESSION] > 0;
	case SSI_KIND_RATE:
		a = capped(row, vi->counter[0], cap);
		b = capped(row, vi->counter[1], cap);
		return a > b ? a : b;
	default:
		return 0;
	}
}

/* The variables that lost at least a centipoint between prev and cur, biggest first. */
static void fill_losses(struct ssi_forecast_day *d, const struct ssi_model *m,
			const struct ssi_explain_var prev[SSI_V__COUNT],
			const struct ssi_explain_var cur[SSI_V__COUNT],
			const struct ssi_day_row *row)
{
	d->nlosses = 0;
	for (int v = 0; v < SSI_V__COUNT; v++) {
		int lost = (int)lround(100.0 * (prev[v].points - cur[v].points));
		int at = d->nlosses;

		if (lost <= 0)
			continue;
		while (at > 0 && d->loss[at - 1].lost_cp < lost)
			at--;
		memmove(&d->loss[at + 1], &d->loss[at],
			(size_t)(d->nlosses - at) * sizeof(d->loss[0]));
		d->loss[at] = (struct ssi_forecast_loss){
		    .var = (enum ssi_variable)v,
		    .lost_cp = lost,
		    .aged = aged_units(m, (enum ssi_variable)v, row),
		};
		d->nlosses++;
	}
}

static bool rows_ascending(const struct ssi_state *st)
{
	for (uint32_t r = 1; r < st->nrows; r++)
		if (st->rows[r].day <= st->rows[r - 1].day)
			return false;
	return true;
}

int ssi_forecast(const struct ssi_state *st, const struct ssi_model *m, int64_t now_ms, int days,
		 struct ssi_forecast_day out[])
{
	struct ssi_explain_var var[2][SSI_V__COUNT];
	struct ssi_score score;
	int32_t today;
	uint32_t cursor = 0;
	bool ascending = rows_ascending(st);
	int cur = 0;

	if (days < 1 || days > SSI_FORECAST_DAYS_MAX || now_ms < SSI_TIME_MIN_MS ||
	    now_ms > SSI_TIME_MAX_MS)
		return -EINVAL;
	today = ssi_time_day(now_ms);
	ssi_score_vars(st, m, now_ms, var[cur], &score);
	for (int k = 0; k < days; k++) {
		struct ssi_forecast_day *d = &out[k];
		const struct ssi_day_row *row;

		d->day = today + 1 + k;
		d->at_ms = ssi_time_day_start(d->day);
		d->aged_day = d->day - m->window_days;
		d->nlosses = 0;
		cursor = ascending ? cursor : 0;
		row = row_of_day(st, d->aged_day, &cursor);
		if (!row && ascending) {
			d->score = score; /* nothing left the window: nothing changed */
			continue;
		}
		ssi_score_vars(st, m, d->at_ms, var[!cur], &d->score);
		fill_losses(d, m, var[cur], var[!cur], row);
		score = d->score;
		cur = !cur;
	}
	return 0;
}

int ssi_forecast_crossing(const struct ssi_forecast_day out[], int days, int points_cp)
{
	for (int k = 0; k < days; k++)
		if (out[k].score.total < points_cp)
			return k;
	return -1;
}

/* The synthetic event of one what-if action, dated now_ms, with fingerprint fp. */
static void action_event(enum ssi_event_type type, int64_t now_ms, uint64_t fp,
			 struct ssi_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = type;
	ev->occurred_at_ms = now_ms;
	ev->fingerprint = fp;
	if (type == SSI_EV_PROFILE_VIEWED)
		ev->attrs.view.degree = 2;
}

/* The next fingerprint at or below *fp that no event remembered by st carries. */
static uint64_t fresh_fingerprint(const struct ssi_state *st, uint64_t *fp)
{
	for (;;) {
		bool taken = false;

		for (uint32_t i = 0; i < st->nrecent && !taken; i++)
			taken = st->recent[i].fp == *fp;
		if (!taken)
			return (*fp)--;
		(*fp)--;
	}
}

static bool actions_valid(const struct ssi_whatif_action *a, int n)
{
	if (!a || n < 1 || n > SSI_WHATIF_ACTIONS_MAX)
		return false;
	for (int i = 0; i < n; i++)
		if ((unsigned)a[i].type >= SSI_EV__COUNT || a[i].type == SSI_EV_PROFILE_UPDATED ||
		    a[i].count < 1 || a[i].count > SSI_WHATIF_COUNT_MAX)
			return false;
	return true;
}

int ssi_whatif(const struct ssi_state *st, const struct ssi_model *m, int64_t now_ms,
	       const struct ssi_whatif_action *actions, int n, struct ssi_whatif *out)
{
	struct ssi_state trial;
	uint64_t fp = UINT64_MAX;
	int r;

	if (!actions_valid(actions, n) || now_ms < SSI_TIME_MIN_MS || now_ms > SSI_TIME_MAX_MS)
		return -EINVAL;
	ssi_state_init(&trial);
	r = ssi_state_copy(&trial, st);
	for (int i = 0; r >= 0 && i < n; i++)
		for (int k = 0; r >= 0 && k < actions[i].count; k++) {
			struct ssi_event ev;

			/* Fingerprints from the top down, none the original state remembers. */
			action_event(actions[i].type, now_ms, fresh_fingerprint(st, &fp), &ev);
			r = ssi_state_apply(&trial, m, &ev);
		}
	if (r >= 0) {
		ssi_score(st, m, now_ms, &out->before);
		ssi_score(&trial, m, now_ms, &out->after);
		r = 0;
	}
	ssi_state_clear(&trial);
	return r;
}

/*
 * The idle days from tomorrow on (up to SSI_FORECAST_DAYS_MAX) before the
 * total first falls below points_cp: the forecast, stopped at the crossing.
 */
static int days_above(const struct ssi_state *st, const struct ssi_model *m, int64_t now_ms,
		      int points_cp)
{
	struct ssi_forecast_day fc[SSI_FORECAST_DAYS_MAX];
	int k;

	ssi_forecast(st, m, now_ms, SSI_FORECAST_DAYS_MAX, fc);
	k = ssi_forecast_crossing(fc, SSI_FORECAST_DAYS_MAX, points_cp);
	return k < 0 ? SSI_FORECAST_DAYS_MAX : k;
}

static bool action_better(const struct ssi_forecast_action *a, const struct ssi_forecast_action *b)
{
	return a->days_above > b->days_above ||
	       (a->days_above == b->days_above && a->gain > b->gain);
}

int ssi_forecast_actions(const struct ssi_state *st, const struct ssi_model *m, int64_t now_ms,
			 int points_cp, struct ssi_forecast_action out[SSI_EXPLAIN_ACTIONS])
{
	struct ssi_state trial;
	struct ssi_score now;
	int base, n = 0, r = 0;

	if (now_ms < SSI_TIME_MIN_MS || now_ms > SSI_TIME_MAX_MS)
		return -EINVAL;
	ssi_score(st, m, now_ms, &now);
	base = days_above(st, m, now_ms, points_cp);
	ssi_state_init(&trial);
	for (size_t i = 0; i < ssi_action_count(); i++) {
		struct ssi_forecast_action a;
		struct ssi_score after;
		int at;

		r = ssi_state_copy(&trial, st);
		if (r >= 0)
			r = ssi_action_apply(&trial, m, now_ms, i);
		if (r < 0)
			break;
		ssi_score(&trial, m, now_ms, &after);
		a = (struct ssi_forecast_action){
		    .text = ssi_action_text(i),
		    .pillar = ssi_gaining_pillar(&now, &after),
		    .gain = after.total - now.total,
		    .days_above = days_above(&trial, m, now_ms, points_cp),
		};
		if (a.gain <= 0 && a.days_above <= base)
			continue;
		for (at = n; at > 0 && action_better(&a, &out[at - 1]); at--)
			;
		if (at >= SSI_EXPLAIN_ACTIONS)
			continue;
		if (n < SSI_EXPLAIN_ACTIONS)
			n++;
		memmove(&out[at + 1], &out[at], (size_t)(n - 1 - at) * sizeof(out[0]));
		out[at] = a;
	}
	ssi_state_clear(&trial);
	return r < 0 ? r : n;
}
