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
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "ssi_score_priv.h"
#include "ssi_time.h"

/* Sums over the window: capped counts per counter and active days. */
struct window_sums {
	uint32_t count[SSI_C__COUNT];
	int active_days;
	uint32_t vars;		   /* bit v set when a windowed input of variable v is non-zero */
	uint8_t cap[SSI_C__COUNT]; /* each counter's daily cap */
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

/* Variables that do not depend on the window: evaluated whatever the counts. */
#define STATE_VARS                                                                                 \
	((1u << SSI_V_PROFILE_COMPLETENESS) | (1u << SSI_V_CONNECTIONS) |                          \
	 (1u << SSI_V_INTERNAL_CONNECTIONS))
#define ALL_VARS ((1u << SSI_V__COUNT) - 1)

/* Sessions count distinct days, so their daily cap is irrelevant. */
static int counter_cap(const struct ssi_model *m, int c)
{
	return c == SSI_C_SESSION ? SSI_COUNT_MAX : m->var[counter_var[c]].daily_cap;
}

/*
 * Per 256 rows, 16-bit sums of the capped counts (256 * SSI_COUNT_MAX fits):
 * the window sum is the one loop whose length grows with the state, so on
 * x86-64 it is written with SSE2 (one 24-byte row is a 16- and an 8-byte
 * load, a min and three widening adds); elsewhere plain C the compiler may
 * vectorise.
 */
#define SUM16_ROWS 256

/* Sessions count distinct days, so their daily cap is irrelevant. */
static void counter_caps(const struct ssi_model *m, uint8_t cap[SSI_C__COUNT])
{
#pragma GCC unroll 24
	for (int c = 0; c < SSI_C__COUNT; c++)
		cap[c] = (uint8_t)counter_cap(m, c);
}

/* The variables fed by the counters in bits. */
static uint32_t counters_to_vars(uint32_t bits)
{
	uint32_t vars = 0;

	for (; bits != 0; bits &= bits - 1)
		vars |= 1u << counter_var[__builtin_ctz(bits)];
	return vars;
}

#ifdef __SSE2__
/* Rows r..r+n (n <= SUM16_ROWS) added into s[3], 16-bit lanes of 8 counters each. */
static void sum_rows(const struct ssi_day_row *rows, uint32_t n, int32_t first_day,
		     const uint8_t cap[SSI_C__COUNT], __m128i s[3], int *active_days)
{
	const __m128i zero = _mm_setzero_si128();
	const __m128i cap_lo = _mm_loadu_si128((const __m128i *)cap);
	const __m128i cap_hi = _mm_loadl_epi64((const __m128i *)(cap + 16));
	__m128i s0 = zero, s1 = zero, s2 = zero;

	for (uint32_t r = 0; r < n; r++) {
		const struct ssi_day_row *row = &rows[r];
		__m128i lo, hi;

		if (row->day < first_day)
			continue;
		lo = _mm_min_epu8(_mm_loadu_si128((const __m128i *)row->count), cap_lo);
		hi = _mm_min_epu8(_mm_loadl_epi64((const __m128i *)(row->count + 16)), cap_hi);
		s0 = _mm_add_epi16(s0, _mm_unpacklo_epi8(lo, zero));
		s1 = _mm_add_epi16(s1, _mm_unpackhi_epi8(lo, zero));
		s2 = _mm_add_epi16(s2, _mm_unpacklo_epi8(hi, zero));
		*active_days += row->count[SSI_C_SESSION] > 0;
	}
	s[0] = s0;
	s[1] = s1;
	s[2] = s2;
}
_Static_assert(SSI_C__COUNT == 24, "sum_rows loads a row's counters as 16 + 8 bytes");

static void window_sum(const struct ssi_state *st, const struct ssi_model *m, int64_t now_ms,
		       struct window_sums *out)
{
	int32_t first_day = ssi_time_day(now_ms) - m->window_days + 1;
	const __m128i zero = _mm_setzero_si128();
	__m128i total[6] = {zero, zero, zero, zero, zero, zero}; /* 32-bit lanes, 4 counters */
	uint32_t nonzero = 0;
	int active_days = 0;

	counter_caps(m, out->cap);
	for (uint32_t r = 0; r < st->nrows; r += SUM16_ROWS) {
		uint32_t n = st->nrows - r < SUM16_ROWS ? st->nrows - r : SUM16_ROWS;
		__m128i s[3];

		sum_rows(st->rows + r, n, first_day, out->cap, s, &active_days);
		for (int k = 0; k < 3; k++) {
			total[2 * k] = _mm_add_epi32(total[2 * k], _mm_unpacklo_epi16(s[k], zero));
			total[2 * k + 1] =
			    _mm_add_epi32(total[2 * k + 1], _mm_unpackhi_epi16(s[k], zero));
		}
	}
	for (int k = 0; k < 6; k++) {
		__m128i is_zero = _mm_cmpeq_epi32(total[k], zero);

		_mm_storeu_si128((__m128i *)(out->count + 4 * k), total[k]);
		nonzero |= (~(uint32_t)_mm_movemask_ps(_mm_castsi128_ps(is_zero)) & 15u) << (4 * k);
	}
	out->active_days = active_days;
	out->vars = counters_to_vars(nonzero);
}
#else
static void window_sum(const struct ssi_state *st, const struct ssi_model *m, int64_t now_ms,
		       struct window_sums *out)
{
	int32_t first_day = ssi_time_day(now_ms) - m->window_days + 1;
	uint32_t nonzero = 0;
	int active_days = 0;

	counter_caps(m, out->cap);
	memset(out->count, 0, sizeof(out->count));
	for (uint32_t r = 0; r < st->nrows; r += SUM16_ROWS) {
		uint32_t n = st->nrows - r < SUM16_ROWS ? st->nrows - r : SUM16_ROWS;
		uint16_t sum[SSI_C__COUNT] = {0};

		for (uint32_t k = r; k < r + n; k++) {
			const struct ssi_day_row *row = &st->rows[k];

			if (row->day < first_day)
				continue;
			for (int c = 0; c < SSI_C__COUNT; c++)
				sum[c] += row->count[c] < out->cap[c] ? row->count[c] : out->cap[c];
			active_days += row->count[SSI_C_SESSION] > 0;
		}
		for (int c = 0; c < SSI_C__COUNT; c++)
			out->count[c] += sum[c];
	}
	for (int c = 0; c < SSI_C__COUNT; c++)
		nonzero |= (uint32_t)(out->count[c] > 0) << c;
	out->active_days = active_days;
	out->vars = counters_to_vars(nonzero);
}
#endif

static double saturate(double x, double half)
{
	return ssi_saturate(x, half);
}

/* saturate() at a whole x, read from the model's table when it has one for this half. */
static inline double saturate_n(const struct ssi_model *m, enum ssi_variable v, uint32_t x)
{
	const struct ssi_sat_table *t = &m->sat[v];
	double half = m->var[v].half;

	if (x < SSI_SAT_TABLE && t->half == half && half > 0)
		return t->f[x];
	return saturate(x, half);
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
static double rate_fraction(const struct ssi_model *m, enum ssi_variable v, uint32_t hits,
			    uint32_t tries, double *x)
{
	const struct ssi_var_params *p = &m->var[v];
	uint32_t volume = tries > hits ? tries : hits;
	double rate = (hits + p->prior * p->prior_weight) / (volume + p->prior_weight);

	*x = volume > 0 ? (double)hits / volume : 0.0;
	return (rate > 1.0 ? 1.0 : rate) * saturate_n(m, v, volume);
}

static double connections_x(const struct ssi_model *m, const struct ssi_state *st)
{
	double x = 0;

	for (int s = 0; s < SSI_SEN__COUNT; s++)
		if (st->connections[s] > 0)
			x += m->seniority_weight[s] * st->connections[s];
	return x;
}

/* The measured quantity x of one variable; returns its fraction f(x). */
static inline __attribute__((always_inline)) double
variable_eval(const struct ssi_state *st, const struct ssi_model *m, const struct window_sums *ws,
	      enum ssi_variable v, double *out_x)
{
	const struct ssi_var_info *vi = &ssi_var_table[v];
	const struct ssi_var_params *p = &m->var[v];
	double f = 0, x = 0;

	switch (vi->kind) {
	case SSI_KIND_PROFILE:
		f = x = profile_fraction(m, &st->profile);
		break;
	case SSI_KIND_COUNT:
		x = ws->count[vi->counter[0]];
		if (vi->counter[1] < 0) {
			f = saturate_n(m, v, ws->count[vi->counter[0]]);
			break;
		}
		x += m->search_filter_weight * ws->count[vi->counter[1]];
		f = saturate(x, p->half);
		break;
	case SSI_KIND_ACTIVE_DAYS:
		x = ws->active_days;
		f = saturate_n(m, v, (uint32_t)ws->active_days);
		break;
	case SSI_KIND_RATE:
		f = rate_fraction(m, v, ws->count[vi->counter[0]], ws->count[vi->counter[1]], &x);
		break;
	case SSI_KIND_CONNECTIONS:
		x = connections_x(m, st);
		f = saturate(x, p->half);
		break;
	case SSI_KIND_INTERNAL:
		x = st->internal_connections > 0 ? st->internal_connections : 0;
		f = saturate_n(m, v, (uint32_t)x);
		break;
	}
	*out_x = x;
	return f;
}

/* lround(points * 100) clamped to 0..2500, without a libm call per pillar. */
static int to_centipoints(double points)
{
	double y = points * 100.0;
	long cp;

	if (!(y > 0)) /* also NaN, which lround leaves unspecified */
		return 0;
	if (y >= SSI_PILLAR_MAX * 100)
		return (int)(SSI_PILLAR_MAX * 100);
	cp = (long)y;	   /* floor, for y >= 0 */
	if (y - cp >= 0.5) /* exact: y and floor(y) are within a factor 2 */
		cp++;
	return (int)cp;
}

/* Each pillar rounded once; the total is the sum of the rounded pillars. */
static void score_round(const double pillar[SSI_PILLAR__COUNT], struct ssi_score *out)
{
	out->total = 0;
	for (int p = 0; p < SSI_PILLAR__COUNT; p++) {
		out->pillar[p] = to_centipoints(pillar[p]);
		out->total += out->pillar[p];
	}
}

/*
 * The one evaluation behind ssi_score and ssi_explain, so both always agree.
 * A windowed variable whose counts are all zero has f = 0 and adds exactly
 * +0.0 to its pillar, so without var[] to fill only the variables with input
 * are evaluated, in variable order (the sums round the same way).
 */
static inline __attribute__((always_inline)) void
score_eval(const struct ssi_state *st, const struct ssi_model *m, int64_t now_ms,
	   struct ssi_explain_var *var, struct ssi_score *out)
{
	struct window_sums ws;
	double pillar[SSI_PILLAR__COUNT] = {0};

	window_sum(st, m, now_ms, &ws);
	for (uint32_t todo = var ? ALL_VARS : ws.vars | STATE_VARS; todo != 0; todo &= todo - 1) {
		enum ssi_variable v = (enum ssi_variable)__builtin_ctz(todo);
		double x, f = variable_eval(st, m, &ws, v, &x);
		double points = m->var[v].weight * f;

		if (var) {
			var[v].x = x;
			var[v].fraction = f;
			var[v].points = points;
			var[v].headroom = m->var[v].weight - points;
		}
		pillar[ssi_var_table[v].pillar] += points;
	}
	score_round(pillar, out);
}

void ssi_score_vars(const struct ssi_state *st, const struct ssi_model *m, int64_t now_ms,
		    struct ssi_explain_var var[SSI_V__COUNT], struct ssi_score *out)
{
	score_eval(st, m, now_ms, var, out);
}

void ssi_score(const struct ssi_state *st, const struct ssi_model *m, int64_t now_ms,
	       struct ssi_score *out)
{
	score_eval(st, m, now_ms, NULL, out);
}

static bool score_equal(const struct ssi_score *a, const struct ssi_score *b)
{
	for (int p = 0; p < SSI_PILLAR__COUNT; p++)
		if (a->pillar[p] != b->pillar[p])
			return false;
	return true;
}

static bool rows_ascending(const struct ssi_state *st)
{
	for (uint32_t r = 1; r < st->nrows; r++)
		if (st->rows[r].day <= st->rows[r - 1].day)
			return false;
	return true;
}

/* The definition: score the state at each instant a day leaves the window. */
static int64_t next_change_by_rescoring(const struct ssi_state *st, const struct ssi_model *m,
					int64_t now_ms)
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

/* The variables of each pillar, as bits (the enum lists them in pillar order). */
#define VARS_FROM_TO(a, b) ((1u << (b)) - (1u << (a)))
static const uint32_t pillar_vars[SSI_PILLAR__COUNT] = {
    [SSI_BRAND] = VARS_FROM_TO(SSI_V_PROFILE_COMPLETENESS, SSI_V_SEARCHES),
    [SSI_PEOPLE] = VARS_FROM_TO(SSI_V_SEARCHES, SSI_V_POSTS),
    [SSI_INSIGHTS] = VARS_FROM_TO(SSI_V_POSTS, SSI_V_CONNECTIONS),
    [SSI_RELATIONSHIPS] = VARS_FROM_TO(SSI_V_CONNECTIONS, SSI_V__COUNT),
};

/* A pillar's centipoints from the points of the variables in vars, added in order. */
static int pillar_centipoints(const double points[SSI_V__COUNT], uint32_t vars)
{
	double sum = 0;

	for (; vars != 0; vars &= vars - 1)
		sum += points[__builtin_ctz(vars)];
	return to_centipoints(sum);
}

/* The counters with a non-zero count in a row, as bits. */
static uint32_t row_counters(const struct ssi_day_row *row)
{
	uint32_t bits = 0;

#pragma GCC unroll 24
	for (int c = 0; c < SSI_C__COUNT; c++)
		bits |= (uint32_t)(row->count[c] > 0) << c;
	return bits;
}

/*
 * Scores change on their own only when a day leaves the window, i.e. at the
 * start of day (d + window) for a counted day d. Try those instants in order
 * and return the first at which the score really differs: a day whose counts
 * no longer matter (capped away, zero weight) is not a change.
 *
 * With rows in ascending order (the state's invariant), the window at the
 * instant row r leaves holds exactly the rows after r, so the sums are
 * updated by subtracting one row at a time, only the variables that row
 * feeds are evaluated again, and only their pillars are added up again:
 * the same values, added in the same order, as rescoring from scratch
 * (next_change_by_rescoring), for a fraction of the work. A variable whose
 * inputs are zero now stays zero later (sums only shrink), so it is left
 * out of the sums as score_eval leaves it out; the pillars at now_ms come
 * out as ssi_score would give them. The daemon asks this of every user it
 * scores.
 */
int64_t ssi_score_and_next_change(const struct ssi_state *st, const struct ssi_model *m,
				  int64_t now_ms, struct ssi_score *out)
{
	int32_t first_day = ssi_time_day(now_ms) - m->window_days + 1;
	double points[SSI_V__COUNT];
	int now[SSI_PILLAR__COUNT];
	struct window_sums ws;
	uint32_t live;

	if (!rows_ascending(st)) {
		ssi_score(st, m, now_ms, out);
		return next_change_by_rescoring(st, m, now_ms);
	}
	window_sum(st, m, now_ms, &ws);
	live = ws.vars | STATE_VARS;
	for (uint32_t todo = live; todo != 0; todo &= todo - 1) {
		enum ssi_variable v = (enum ssi_variable)__builtin_ctz(todo);
		double x;

		points[v] = m->var[v].weight * variable_eval(st, m, &ws, v, &x);
	}
	out->total = 0;
	for (int p = 0; p < SSI_PILLAR__COUNT; p++) {
		now[p] = out->pillar[p] = pillar_centipoints(points, live & pillar_vars[p]);
		out->total += now[p];
	}
	for (uint32_t r = 0; r < st->nrows; r++) {
		const struct ssi_day_row *row = &st->rows[r];
		uint32_t changed = 0;

		if (row->day < first_day)
			continue;
		for (uint32_t cs = row_counters(row); cs != 0; cs &= cs - 1) {
			int c = __builtin_ctz(cs);

			ws.count[c] -= row->count[c] < ws.cap[c] ? row->count[c] : ws.cap[c];
			changed |= 1u << counter_var[c];
		}
		ws.active_days -= row->count[SSI_C_SESSION] > 0;
		for (uint32_t todo = changed; todo != 0; todo &= todo - 1) {
			enum ssi_variable v = (enum ssi_variable)__builtin_ctz(todo);
			double x;

			points[v] = m->var[v].weight * variable_eval(st, m, &ws, v, &x);
		}
		/* Only the pillars of the variables this row fed can have moved. */
		for (int p = 0; changed != 0 && p < SSI_PILLAR__COUNT; p++)
			if ((changed & pillar_vars[p]) &&
			    pillar_centipoints(points, live & pillar_vars[p]) != now[p])
				return ssi_time_day_start(row->day + m->window_days);
	}
	return INT64_MAX;
}

int64_t ssi_score_next_change(const struct ssi_state *st, const struct ssi_model *m, int64_t now_ms)
{
	struct ssi_score now;

	return ssi_score_and_next_change(st, m, now_ms, &now);
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
