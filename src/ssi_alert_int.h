/*
 * ssi_alert_int.h: what ssi_alert.c (the score rules and the state's
 * encoding) and ssi_alert_forecast.c (forecast_below's daily check) share,
 * and no other file.
 */
#ifndef SSI_ALERT_INT_H
#define SSI_ALERT_INT_H

#include <stdbool.h>

#include "ssi_alert.h"

/* forecast_below's bit in ssi_alert_state.armed. */
#define FC_ARMED (1u << SSI_ALERT_FORECAST_BELOW)

/* Pillars in 0..2500 that add up to the total. */
bool ssi_alert_score_valid(const struct ssi_score *sc);
/*
 * Offer variable var's loss to a's list, kept biggest first (ties: the
 * variable offered first), at most SSI_ALERT_LOSSES long.
 */
void ssi_alert_offer_loss(struct ssi_alert *a, enum ssi_variable var, int lost_cp, unsigned aged);
/* a->why from a's rule, values and losses (the headline, then what was lost). */
void ssi_alert_write_why(struct ssi_alert *a, const struct ssi_alert_rules *r,
			 enum ssi_alert_cause cause, int window_days);

#endif
