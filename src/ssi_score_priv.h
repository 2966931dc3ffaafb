/* Shared between the score and explain modules; not part of the public API. */
#ifndef SSI_SCORE_PRIV_H
#define SSI_SCORE_PRIV_H

#include <math.h>

#include "ssi_score.h"

/*
 * The fixed facts about every variable (ssi_model.c), for the scoring loop
 * to read without a call per variable; ssi_var_info() returns its entries.
 */
extern const struct ssi_var_info ssi_var_table[SSI_V__COUNT];

/*
 * A counted variable's fraction of its weight: 1 - 2^(-x/half), so every
 * unit adds less than the one before and the half-th unit brings half.
 * Shared by the scorer and the model's precomputed tables, which must
 * agree to the last bit.
 */
static inline double ssi_saturate(double x, double half)
{
	return x <= 0 ? 0.0 : 1.0 - exp2(-x / half);
}

/* Evaluate every variable and the pillar totals in one pass. */
void ssi_score_vars(const struct ssi_state *st, const struct ssi_model *m, int64_t now_ms,
		    struct ssi_explain_var var[SSI_V__COUNT], struct ssi_score *out);

/*
 * Explain's candidate actions (ssi_explain.c), for ssi_forecast to judge by
 * another measure: how many there are, the text of candidate i, and st
 * with candidate i done at now_ms (ssi_state_apply's result).
 */
size_t ssi_action_count(void);
/* The pillar that gained most from before to after (the first of equals). */
enum ssi_pillar ssi_gaining_pillar(const struct ssi_score *before, const struct ssi_score *after);
const char *ssi_action_text(size_t i);
int ssi_action_apply(struct ssi_state *st, const struct ssi_model *m, int64_t now_ms, size_t i);

#endif
