/*
 * ssi_score: from state to Social Selling Index.
 *
 * Each variable yields a fraction f in [0, 1] of its weight; a pillar is the
 * sum of its variables' points (weights add up to 25 per pillar); the total
 * is the sum of the pillars. Counted variables follow 1 - 2^(-x/half):
 * every unit adds less than the one before (diminishing returns), the
 * `half`-th unit brings half the weight, and the per-day cap applied before
 * summing stops a flood on one day from buying the score.
 */
#include <math.h>
#include <stdint.h>

#include "ssi_score_priv.h"
#include "ssi_time.h"

/* Sums over the window: capped counts per counter and active days. */
struct window_sums {
	double count[SSI_C__COUNT];
	int active_days;
};

/* The variable each counter belongs to; its daily cap applies to the counter. */
static const uint8_t counter_var[SSI_C__COUNT] = {
    [SSI_C_SESSION] = SSI_V_ACTIVE_DAYS,
    [SSI_C_REACTION_GIVEN] = SSI_V_REACTIONS_GIVEN,
    [SSI_C_VIEW_IN_NETWORK] = SSI_V_VIEWS_IN_NETWORK,
    [SSI_C_MESSAGE_SENT] = SSI_V_MESSAGES,
    [SSI_C_POST_SHARED] = SSI_V_POSTS,
    [SSI_C_REACTION_RECEIVED] = SSI_V_REACTIONS_RECEIVED,
    [SSI_C_VIEW_OUT_NETWORK] = SSI_V_VIEWS_OUT_NETWORK,
    [SSI_C_COMMENT_GIVEN] = SSI_V_COMMENTS_GIVEN,
    [SSI_C_SEARCH] = SSI_V_SEARCHES,
    [SSI_C_SEARCH_FILTERED] = SSI_V_SEARCHES,
    [SSI_C_VIEW_RECEIVED] = SSI_V_VIEWS_RECEIVED,
    [SSI_C_COMMENT_RECEIVED] = SSI_V_COMMENTS_RECEIVED,
    [SSI_C_INVITATION_SENT] = SSI_V_ACCEPTANCE_RATE,
    [SSI_C_INVITATION_ACCEPTED] = SSI_V_ACCEPTANCE_RATE,
    [SSI_C_LEAD_SAVED] = SSI_V_LEADS_SAVED,
    [SSI_C_RESHARE_RECEIVED] = SSI_V_RESHARES_RECEIVED,
    [SSI_C_ENDORSEMENT_RECEIVED] = SSI_V_ENDORSEMENTS,
    [SSI_C_FOLLOWER_GAINED] = SSI_V_FOLLOWERS,
    [SSI_C_INMAIL_SENT] = SSI_V_INMAIL_REPLY_RATE,
    [SSI_C_INMAIL_REPLIED] = SSI_V_INMAIL_REPLY_RATE,
    [SSI_C_GROUP_ACTIVITY] = SSI_V_GROUP_ACTIVITY,
    [SSI_C_GROUP_JOINED] = SSI_V_GROUPS_JOINED,
    [SSI_C_ARTICLE_PUBLISHED] = SSI_V_ARTICLES,
    [SSI_C_PROSPECT_CONTENT_SHARED] = SSI_V_PROSPECT_CONTENT,
};

/* Sessions count distinct days, so their daily cap is irrelevant. */
static int counter_cap(const struct ssi_model *m, int c)
{
	return c == SSI_C_SESSION ? SSI_COUNT_MAX : m->var[counter_var[c]].daily_cap;
}

static void window_sum(const struct ssi_state *st, const struct ssi_model *m, int64_t now_ms,
		       struct window_sums *out)
{
	int32_t first_day = ssi_time_day(now_ms) - m->window_days + 1;
	uint32_t counts[SSI_C__COUNT] = {0};
	uint8_t cap[SSI_C__COUNT];

	for (int c = 0; c < SSI_C__COUNT; c++)
		cap[c] = (uint8_t)counter_cap(m, c);
	out->active_days = 0;
	for (uint32_t r = 0; r < st->nrows; r++) {
		const struct ssi_day_row *row = &st->rows[r];

		if (row->day < first_day)
			continue;
		/* Dense and branch-free: the compiler turns it into a few vector ops. */
		for (int c = 0; c < SSI_C__COUNT; c++)
			counts[c] += row->count[c] < cap[c] ? row->count[c] : cap[c];
		if (row->count[SSI_C_SESSION] > 0)
			out->active_days++;
	}
	for (int c = 0; c < SSI_C__COUNT; c++)
		out->count[c] = counts[c];
}

static double saturate(double x, double half)
{
	return x <= 0 ? 0.0 : 1.0 - exp2(-x / half);
}

static double profile_fraction(const struct ssi_model *m, const struct ssi_profile *p)
{
	const double *w = m->profile_field;
	double skills = p->skills >= m->skills_target ? 1.0 : (double)p->skills / m->skills_target;
	double featured = p->featured_media >= m->featured_media_target
			      ? 1.0
			      : (double)p->featured_media / m->featured_media_target;

	return w[SSI_PF_PHOTO] * p->photo + w[SSI_PF_BACKGROUND_PHOTO] * p->background_photo +
	       w[SSI_PF_HEADLINE] * p->headline + w[SSI_PF_SUMMARY] * p->summary +
	       w[SSI_PF_EXPERIENCE] * p->experience + w[SSI_PF_SKILLS] * skills +
	       w[SSI_PF_FEATURED_MEDIA] * featured;
}

/*
 * A rate smoothed toward its prior (1 accepted of 1 sent is not 100%), times
 * how much volume backs it: a good rate on no activity is worth nothing.
 */
static double rate_fraction(const struct ssi_var_params *p, double hits, double tries, double *x)
{
	double volume = tries > hits ? tries : hits;
	double rate = (hits + p->prior * p->prior_weight) / (volume + p->prior_weight);

	*x = volume > 0 ? hits / volume : 0.0;
	return (rate > 1.0 ? 1.0 : rate) * saturate(volume, p->half);
}

static double connections_x(const struct ssi_model *m, const struct ssi_state *st)
{
	double x = 0;

	for (int s = 0; s < SSI_SEN__COUNT; s++)
		if (st->connections[s] > 0)
			x += m->seniority_weight[s] * st->connections[s];
	return x;
}

/* The measured quantity and fraction of one variable. */
static void variable_eval(const struct ssi_state *st, const struct ssi_model *m,
			  const struct window_sums *ws, enum ssi_variable v,
			  struct ssi_explain_var *out)
{
	const struct ssi_var_info *vi = ssi_var_info(v);
	const struct ssi_var_params *p = &m->var[v];
	double f = 0, x = 0;

	switch (vi->kind) {
	case SSI_KIND_PROFILE:
		f = x = profile_fraction(m, &st->profile);
		break;
	case SSI_KIND_COUNT:
		x = ws->count[vi->counter[0]];
		if (vi->counter[1] >= 0)
			x += m->search_filter_weight * ws->count[vi->counter[1]];
		f = saturate(x, p->half);
		break;
	case SSI_KIND_ACTIVE_DAYS:
		x = ws->active_days;
		f = saturate(x, p->half);
		break;
	case SSI_KIND_RATE:
		f = rate_fraction(p, ws->count[vi->counter[0]], ws->count[vi->counter[1]], &x);
		break;
	case SSI_KIND_CONNECTIONS:
		x = connections_x(m, st);
		f = saturate(x, p->half);
		break;
	case SSI_KIND_INTERNAL:
		x = st->internal_connections > 0 ? st->internal_connections : 0;
		f = saturate(x, p->half);
		break;
	}
	out->x = x;
	out->fraction = f;
	out->points = p->weight * f;
	out->headroom = p->weight - out->points;
}

static int to_centipoints(double points)
{
	long cp = lround(points * 100.0);

	if (cp < 0)
		return 0;
	return cp > (long)(SSI_PILLAR_MAX * 100) ? (int)(SSI_PILLAR_MAX * 100) : (int)cp;
}

/* Shared by ssi_score and ssi_explain so both always agree. */
void ssi_score_vars(const struct ssi_state *st, const struct ssi_model *m, int64_t now_ms,
		    struct ssi_explain_var var[SSI_V__COUNT], struct ssi_score *out)
{
	struct window_sums ws;
	double pillar[SSI_PILLAR__COUNT] = {0};

	window_sum(st, m, now_ms, &ws);
	for (int v = 0; v < SSI_V__COUNT; v++) {
		variable_eval(st, m, &ws, (enum ssi_variable)v, &var[v]);
		pillar[ssi_var_info((enum ssi_variable)v)->pillar] += var[v].points;
	}
	out->total = 0;
	for (int p = 0; p < SSI_PILLAR__COUNT; p++) {
		out->pillar[p] = to_centipoints(pillar[p]);
		out->total += out->pillar[p];
	}
}

void ssi_score(const struct ssi_state *st, const struct ssi_model *m, int64_t now_ms,
	       struct ssi_score *out)
{
	struct ssi_explain_var var[SSI_V__COUNT];

	ssi_score_vars(st, m, now_ms, var, out);
}

static bool score_equal(const struct ssi_score *a, const struct ssi_score *b)
{
	for (int p = 0; p < SSI_PILLAR__COUNT; p++)
		if (a->pillar[p] != b->pillar[p])
			return false;
	return true;
}

/*
 * Scores change on their own only when a day leaves the window, i.e. at the
 * start of day (d + window) for a counted day d. Try those instants in order
 * and return the first at which the score really differs: a day whose counts
 * no longer matter (capped away, zero weight) is not a change.
 */
int64_t ssi_score_next_change(const struct ssi_state *st, const struct ssi_model *m, int64_t now_ms)
{
	int32_t first_day = ssi_time_day(now_ms) - m->window_days + 1;
	struct ssi_score now, then;

	ssi_score(st, m, now_ms, &now);
	for (uint32_t r = 0; r < st->nrows; r++) {
		int64_t t;

		if (st->rows[r].day < first_day)
			continue;
		t = ssi_time_day_start(st->rows[r].day + m->window_days);
		ssi_score(st, m, t, &then);
		if (!score_equal(&now, &then))
			return t;
	}
	return INT64_MAX;
}

/*
 * By hand rather than with snprintf: the daemon formats a dozen of these per
 * output message, and snprintf was a tenth of its CPU time.
 */
int ssi_score_format(int centipoints, char *buf, size_t len)
{
	char rev[16];
	unsigned u = centipoints < 0 ? 0u - (unsigned)centipoints : (unsigned)centipoints;
	int n = 0;

	rev[n++] = (char)('0' + u % 10);
	u /= 10;
	rev[n++] = (char)('0' + u % 10);
	u /= 10;
	rev[n++] = '.';
	do {
		rev[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (centipoints < 0)
		rev[n++] = '-';
	if (len == 0)
		return n;
	for (int i = 0; i < n && (size_t)i < len - 1; i++)
		buf[i] = rev[n - 1 - i];
	buf[(size_t)n < len ? (size_t)n : len - 1] = '\0';
	return n;
}
