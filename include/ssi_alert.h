/*
 * ssi_alert: the alert rules a rep's score is checked against each time it
 * is published, and the compact per-rep state that keeps them from firing
 * again and again (no I/O, no clock: the caller passes now_ms in).
 *
 * Rules. Score values are centipoints (ssi_score.h); top_percent is the
 * rep's industry percentile from ssid_rank (1 = best, 100 = last; 0 when
 * unknown or hidden under the privacy floor).
 *
 *   score_drop        the total is at least drop_cp below its reference: the
 *                     highest total of the last drop_days days, which the
 *                     caller reads from the history (ssi_history_max_since
 *                     with from_day = today - drop_days + 1) and passes in.
 *                     Re-arms once the total is back within drop_rearm_cp of
 *                     the reference.
 *   below_threshold   the total went below threshold_cp. Re-arms once it is
 *                     back at threshold_cp + threshold_rearm_cp or above.
 *   left_top_percent  the rep's industry top_percent went above top_percent
 *                     (left the top P%). Re-arms once back at top_percent -
 *                     top_rearm_percent or better. An unknown or hidden
 *                     percentile neither fires nor re-arms.
 *   pillar_drop       a pillar is at least pillar_drop_cp below its
 *                     reference: the pillar's highest value since the rule
 *                     was last armed for it (its value when armed, raised by
 *                     every higher value seen since). The previous published
 *                     score would miss a slow slide, a fixed baseline would go
 *                     stale as the pillar rises; the running peak catches
 *                     both. Once fired for a pillar, its reference follows the
 *                     pillar's lowest value, and the rule re-arms for it when
 *                     the pillar has climbed pillar_rearm_cp above that
 *                     trough (the reference restarts from there). Each pillar
 *                     is armed separately; one evaluation reports one
 *                     pillar_drop, for the pillar that fell most, listing
 *                     every pillar that tripped.
 *
 *   forecast_below    the total is at least forecast_cp now and its idle
 *                     forecast (ssi_forecast) falls below forecast_cp within
 *                     forecast_days days: a warning while there is time to
 *                     act. Checked by ssi_alert_evaluate_forecast, at most
 *                     once per rep per UTC day (forecast_day); the first
 *                     check of a rep only arms it when the forecast is safe.
 *                     Re-arms once the total and every forecast day are at
 *                     forecast_cp + forecast_rearm_cp or above. A model
 *                     change disarms it (the next safe forecast re-arms it);
 *                     a disabled rule is not checked and does not follow.
 *
 * A rule fires only while armed, and firing disarms it: a score hovering at
 * a threshold fires once, not at every wobble. On top of that each rule fires
 * at most once per UTC day; a rule that trips again on a day it already
 * fired stays armed and fires at the first evaluation of a later day at
 * which it still trips. A disabled rule never fires but still follows the
 * score (arming, disarming, pillar references), so enabling it does not
 * report a fall that happened while it was off.
 *
 * Causes. event and decay are treated alike (only the sentence differs); a
 * model change never fires: it re-bases the state on the new score (every
 * rule armed unless the new score already trips it, pillar references reset,
 * and the score_drop reference taken from the scores seen since the change
 * for drop_days days, as the history still holds the old model's scores).
 *
 * The first evaluation of a fresh state bases it the same way on the
 * previous score (the new one when there is none), then evaluates the new
 * score: a first score never fires, a fall from a known previous score does.
 */
#ifndef SSI_ALERT_H
#define SSI_ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ssi_forecast.h"
#include "ssi_score.h"
#include "ssi_time.h"

enum ssi_alert_rule {
	SSI_ALERT_SCORE_DROP,
	SSI_ALERT_BELOW_THRESHOLD,
	SSI_ALERT_LEFT_TOP_PERCENT,
	SSI_ALERT_PILLAR_DROP,
	SSI_ALERT_FORECAST_BELOW,
	SSI_ALERT__COUNT
};

enum ssi_alert_cause { SSI_ALERT_CAUSE_EVENT, SSI_ALERT_CAUSE_DECAY, SSI_ALERT_CAUSE_MODEL };

/* "score_drop" for SSI_ALERT_SCORE_DROP; NULL when out of range. */
const char *ssi_alert_rule_name(enum ssi_alert_rule rule);

struct ssi_alert_rules {
	bool enabled[SSI_ALERT__COUNT];
	int drop_cp;		/* X: 500 (5 points), 1..10000 */
	int drop_days;		/* D: 7, 1..SSI_HISTORY_RETENTION_MAX */
	int drop_rearm_cp;	/* 250 (X / 2), 0..drop_cp - 1 */
	int threshold_cp;	/* T: 7000, 1..10000 */
	int threshold_rearm_cp; /* h: 200, 0..10000 - T */
	int top_percent;	/* P: 15, 1..99 */
	int top_rearm_percent;	/* 2, 0..P - 1 */
	int pillar_drop_cp;	/* Y: 300, 1..2500 */
	int pillar_rearm_cp;	/* 150, 0..2500 */
	int forecast_cp;	/* F: 7000, 1..10000 */
	int forecast_days;	/* 7, 1..SSI_FORECAST_DAYS_MAX */
	int forecast_rearm_cp;	/* 200, 0..10000 - F */
};

/* Every rule enabled, with the thresholds above. */
void ssi_alert_rules_default(struct ssi_alert_rules *r);
/* 0, or -EINVAL when a threshold is outside the range given above. */
int ssi_alert_rules_validate(const struct ssi_alert_rules *r);

/* The state's UTC day numbers, and "never". */
#define SSI_ALERT_DAY_NEVER (-1)
#define SSI_ALERT_DAY_MAX   ((int32_t)(SSI_TIME_MAX_MS / SSI_MS_PER_DAY))

struct ssi_alert_state {
	bool based;				  /* false until the first evaluation */
	uint8_t armed;				  /* bit per rule, SSI_ALERT_PILLAR_DROP excluded */
	uint8_t pillar_armed;			  /* bit per pillar */
	int pillar_ref[SSI_PILLAR__COUNT];	  /* armed: peak; disarmed: trough; 0..2500 */
	int32_t last_fired_day[SSI_ALERT__COUNT]; /* 0..SSI_ALERT_DAY_MAX or NEVER */
	int32_t rebase_day;   /* day of the last model change while it matters, or NEVER */
	int rebase_max;	      /* the highest total since then, 0..10000 */
	int32_t forecast_day; /* the last day forecast_below was checked, or NEVER */
	/*
	 * The day that check asked to be made again although the score may not
	 * change before (the caller's schedule brings the rep back then), or
	 * NEVER; after forecast_day when set.
	 */
	int32_t forecast_visit;
};

/* A fresh state: not based, nothing armed, nothing fired. */
void ssi_alert_state_init(struct ssi_alert_state *st);

#define SSI_ALERT_TOP_UNKNOWN 0

struct ssi_alert_input {
	int64_t now_ms; /* SSI_TIME_MIN_MS..SSI_TIME_MAX_MS: picks the UTC day */
	enum ssi_alert_cause cause;
	bool has_old;
	struct ssi_score old_score; /* the previous published score, if has_old */
	struct ssi_score new_score;
	int max_total;	     /* highest total of the last drop_days days, or -1 unknown */
	int old_top_percent; /* 1..100, or SSI_ALERT_TOP_UNKNOWN */
	int new_top_percent;
	int window_days; /* the model's window, for the sentence; 0 when unknown */
	const struct ssi_explain *prev_explain; /* of old_score; may be NULL */
	const struct ssi_explain *cur_explain;	/* of new_score; may be NULL */
};

#define SSI_ALERT_LOSSES  3
#define SSI_ALERT_WHY_MAX 320

/* A variable whose contribution fell between the previous and current explain. */
struct ssi_alert_loss {
	enum ssi_variable var;
	int lost_cp;   /* > 0 */
	unsigned aged; /* forecast_below: units ageing out by then (ssi_forecast_loss); else 0 */
};

struct ssi_alert {
	enum ssi_alert_rule rule;
	enum ssi_alert_cause cause;
	/*
	 * What tripped it. score_drop: total, reference = the drop_days high,
	 * threshold = drop_cp. below_threshold: total, reference = threshold =
	 * threshold_cp. left_top_percent: top_percent, reference = threshold =
	 * top_percent. pillar_drop: the pillar, reference = its peak, threshold
	 * = pillar_drop_cp. forecast_below: old_value = the total now,
	 * new_value = the forecast total on forecast_day, reference =
	 * threshold = forecast_cp. old_value is -1 when unknown.
	 */
	int old_value;
	int new_value;
	int reference;
	int threshold;
	enum ssi_pillar pillar;		       /* pillar_drop: the pillar that fell most */
	unsigned pillar_mask;		       /* pillar_drop: every pillar that tripped */
	int pillar_lost_cp[SSI_PILLAR__COUNT]; /* old - new per pillar (0 without old) */
	/* The variables that lost most, biggest first (pillar_drop: of the tripped pillars). */
	struct ssi_alert_loss loss[SSI_ALERT_LOSSES];
	int nlosses;
	/*
	 * What would win points back: the current explain's best actions;
	 * forecast_below: the actions that keep the rep above the line longest,
	 * with the idle days each keeps it there (action_days).
	 */
	struct ssi_action action[SSI_EXPLAIN_ACTIONS];
	int action_days[SSI_EXPLAIN_ACTIONS];
	int nactions;
	int32_t forecast_day; /* forecast_below: the UTC day the forecast falls below; else 0 */
	char why[SSI_ALERT_WHY_MAX]; /* one human sentence */
};

/*
 * Check in's new score against the rules, update st and write the alerts
 * that fire into out (which must hold max_out >= SSI_ALERT__COUNT alerts:
 * at most one per rule fires). Returns how many fired, or -EINVAL for
 * invalid rules, a time, cause, score, max_total or top_percent out of
 * range, or too small an out (st is then unchanged).
 */
int ssi_alert_evaluate(struct ssi_alert_state *st, const struct ssi_alert_rules *r,
		       const struct ssi_alert_input *in, struct ssi_alert *out, int max_out);

/*
 * Whether forecast_below wants the rep's idle forecast at now_ms: the rule
 * is enabled, st has been evaluated once (based), the rep was not checked
 * yet on now_ms's UTC day, and total is at least forecast_cp.
 */
bool ssi_alert_forecast_due(const struct ssi_alert_state *st, const struct ssi_alert_rules *r,
			    int64_t now_ms, int total);

struct ssi_alert_forecast_input {
	int64_t now_ms;		    /* as in ssi_alert_input */
	enum ssi_alert_cause cause; /* event or decay */
	struct ssi_score score;	    /* the score at now_ms */
	/* ssi_forecast(state, model, now_ms, ndays), ndays >= forecast_days. */
	const struct ssi_forecast_day *forecast;
	int ndays;
	int window_days; /* the model's window, for the sentence; 0 when unknown */
	/* ssi_forecast_actions(state, model, now_ms, forecast_cp); may be NULL. */
	const struct ssi_forecast_action *actions;
	int nactions;
};

/*
 * Check forecast_below once for the day (see the rules above; call it when
 * ssi_alert_forecast_due says so): records the check in st->forecast_day,
 * arms, re-arms or fires. Writes the alert to *out and returns 1 when it
 * fires, 0 when not (also when the check is not due), -EINVAL for invalid
 * rules or input (st is then unchanged). A dry run on a copy of st says
 * whether the actions are worth computing.
 */
int ssi_alert_evaluate_forecast(struct ssi_alert_state *st, const struct ssi_alert_rules *r,
				const struct ssi_alert_forecast_input *in, struct ssi_alert *out);

/*
 * Binary encoding, version SSI_ALERT_VERSION: "SA", version, body, CRC-32C
 * trailer (ssi_wire's frame); src/ssi_alert.c documents the body. A fresh
 * state takes 13 bytes, a rep who had alerts 20 to 35, none more than
 * SSI_ALERT_ENCODED_MAX.
 */
#define SSI_ALERT_VERSION     1
#define SSI_ALERT_ENCODED_MAX 51

/* Encoded size of st; 0 when st breaks an invariant (encode says -EINVAL). */
size_t ssi_alert_state_encoded_size(const struct ssi_alert_state *st);
/* Returns bytes written, -ENOBUFS if cap is too small, -EINVAL for a broken state. */
long ssi_alert_state_encode(const struct ssi_alert_state *st, uint8_t *buf, size_t cap);
/*
 * Decode into st. Returns 0, -EBADMSG for truncated or corrupt input, or
 * -EPROTONOSUPPORT for a version newer than this build; on error st is a
 * fresh state.
 */
int ssi_alert_state_decode(struct ssi_alert_state *st, const uint8_t *buf, size_t len);

#endif
