/* Shared between the score and explain modules; not part of the public API. */
#ifndef SSI_SCORE_PRIV_H
#define SSI_SCORE_PRIV_H

#include "ssi_score.h"

/* Evaluate every variable and the pillar totals in one pass. */
void ssi_score_vars(const struct ssi_state *st, const struct ssi_model *m, int64_t now_ms,
		    struct ssi_explain_var var[SSI_V__COUNT], struct ssi_score *out);

#endif
