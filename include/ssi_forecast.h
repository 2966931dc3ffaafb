/*
 * ssi_forecast: what the score will be if nothing happens, and what it would
 * be if something did (pure: no I/O, no clock; the caller passes now_ms in).
 *
 * ssi_forecast gives the score at each of the next UTC day boundaries as
 * ssi_score() gives it at that instant, bit for bit (it calls the scorer;
 * the formula lives in ssi_score.c only), and names the variables that lose
 * points on each day. ssi_whatif applies synthetic events through
 * ssi_state_apply() on a copy of the state and scores the copy, so daily
 * caps, rates and saturation hold exactly as for real events.
 * ssi_forecast_actions ranks explain's candidate actions by how long each
 * keeps an idle rep at or above a line.
 */
#ifndef SSI_FORECAST_H
#define SSI_FORECAST_H

#include <stdint.h>

#include "ssi_event.h"
#include "ssi_model.h"
#include "ssi_score.h"
#include "ssi_state.h"

#define SSI_FORECAST_DAYS_MAX 90

/* A variable that loses points at a day boundary. */
struct ssi_forecast_loss {
	enum ssi_variable var;
	int lost_cp;   /* centipoints lost at this boundary, > 0 */
	unsigned aged; /* units leaving the window: capped counts, active days (1), tries */
};

struct ssi_forecast_day {
	int32_t day;		/* the UTC day starting at at_ms */
	int64_t at_ms;		/* its first millisecond */
	struct ssi_score score; /* ssi_score(st, m, at_ms) */
	int32_t aged_day;	/* the counted day that leaves the window at at_ms */
	int nlosses;
	struct ssi_forecast_loss loss[SSI_V__COUNT]; /* biggest first, ties by variable */
};

/*
 * The idle score at the start of each of the next days days (1 ..
 * SSI_FORECAST_DAYS_MAX) after now_ms's day into out[0 .. days - 1], each
 * with the variables that lose at least one centipoint against the day
 * before (against now_ms for out[0]). Returns 0 or -EINVAL (days or now_ms
 * out of range).
 */
int ssi_forecast(const struct ssi_state *st, const struct ssi_model *m, int64_t now_ms, int days,
		 struct ssi_forecast_day out[]);

/*
 * The first of the forecast days whose total is below points_cp (0-based
 * index into out), or -1 when none of the days days is.
 */
int ssi_forecast_crossing(const struct ssi_forecast_day out[], int days, int points_cp);

/* One what-if action: count events of type type, dated now. */
struct ssi_whatif_action {
	enum ssi_event_type type;
	int count; /* 1 .. SSI_WHATIF_COUNT_MAX */
};

#define SSI_WHATIF_COUNT_MAX   1000
#define SSI_WHATIF_ACTIONS_MAX 16

struct ssi_whatif {
	struct ssi_score before; /* ssi_score(st, m, now_ms) */
	struct ssi_score after;	 /* the same with the actions applied */
};

/*
 * The score at now_ms if the actions' events had happened at now_ms, applied
 * in order through ssi_state_apply on a copy of st. Their attributes are the
 * plainest: profile_viewed is a view in the network (degree 2),
 * search_performed has no filters, connection_added/_removed are of
 * unknown seniority outside the company. profile_updated is not an action
 * (it sets a whole profile snapshot): -EINVAL, as for an unknown type, a
 * count outside 1..SSI_WHATIF_COUNT_MAX or n outside
 * 1..SSI_WHATIF_ACTIONS_MAX. Returns 0, -EINVAL or -ENOMEM.
 */
int ssi_whatif(const struct ssi_state *st, const struct ssi_model *m, int64_t now_ms,
	       const struct ssi_whatif_action *actions, int n, struct ssi_whatif *out);

/* One of explain's candidate actions, judged against a line. */
struct ssi_forecast_action {
	const char *text;	/* as in ssi_explain */
	enum ssi_pillar pillar; /* where its gain lands */
	int gain;		/* centipoints added now */
	int days_above;		/* idle days from tomorrow at or above the line, 0..90 */
};

/*
 * The SSI_EXPLAIN_ACTIONS candidate actions of ssi_explain that, done at
 * now_ms, keep the idle forecast at or above points_cp for the most days
 * (up to SSI_FORECAST_DAYS_MAX), ties going to the larger gain now, then to
 * explain's order; only actions that add points now or days above the line
 * are listed. Returns how many (0..SSI_EXPLAIN_ACTIONS) or -ENOMEM.
 */
int ssi_forecast_actions(const struct ssi_state *st, const struct ssi_model *m, int64_t now_ms,
			 int points_cp, struct ssi_forecast_action out[SSI_EXPLAIN_ACTIONS]);

#endif
