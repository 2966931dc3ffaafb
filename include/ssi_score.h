/*
 * ssi_score: the Social Selling Index of a state at an instant, what would
 * raise it, and when it will next change on its own.
 *
 * Scores are integers in hundredths of a point ("centipoints") so that they
 * compare exactly and print with two decimals without rounding surprises:
 * each pillar is rounded once and the total is the sum of the rounded pillars.
 */
#ifndef SSI_SCORE_H
#define SSI_SCORE_H

#include <stdint.h>

#include "ssi_model.h"
#include "ssi_state.h"

struct ssi_score {
	int pillar[SSI_PILLAR__COUNT]; /* 0..2500 */
	int total;		       /* 0..10000 */
};

/* Pure: the score of st at now_ms under model m. */
void ssi_score(const struct ssi_state *st, const struct ssi_model *m, int64_t now_ms,
	       struct ssi_score *out);

/*
 * The next instant after now_ms at which the score changes with no new event
 * (a counted day leaving the window), or INT64_MAX when it never will.
 */
int64_t ssi_score_next_change(const struct ssi_state *st, const struct ssi_model *m,
			      int64_t now_ms);

/*
 * Both at once, as ssid needs them for every user it scores: *out as
 * ssi_score() gives it, and the next change as ssi_score_next_change(),
 * for little more than the cost of the second alone.
 */
int64_t ssi_score_and_next_change(const struct ssi_state *st, const struct ssi_model *m,
				  int64_t now_ms, struct ssi_score *out);

struct ssi_explain_var {
	double x;	 /* the measured quantity (capped count, days, rate...) */
	double fraction; /* f(x) in [0, 1] */
	double points;	 /* weight * fraction */
	double headroom; /* weight - points */
};

/* One thing the user could do now, and what it would add. */
struct ssi_action {
	const char *text;	/* "publish one article" */
	enum ssi_pillar pillar; /* where the gain lands */
	int gain;		/* centipoints added to the total */
};

#define SSI_EXPLAIN_ACTIONS 3

struct ssi_explain {
	struct ssi_score score;
	struct ssi_explain_var var[SSI_V__COUNT];
	struct ssi_action action[SSI_EXPLAIN_ACTIONS]; /* best first */
	int nactions;
};

/*
 * Per variable: contribution and headroom; plus the SSI_EXPLAIN_ACTIONS single
 * actions that would raise the total most right now, found by applying each
 * candidate to a copy of st. Returns 0 or -ENOMEM.
 */
int ssi_explain(const struct ssi_state *st, const struct ssi_model *m, int64_t now_ms,
		struct ssi_explain *out);

/* Write centipoints as "61.07" into buf (at least 8 bytes); returns length. */
int ssi_score_format(int centipoints, char *buf, size_t len);

#endif
