/*
 * Fuzz the alert state decoder. The first input byte picks the mode: odd, the
 * rest gets a valid CRC-32C appended so that mutations reach the body parser
 * instead of dying at the checksum; even, the rest is decoded as is.
 *
 * Whatever decodes must re-encode to exactly the same bytes (the encoding is
 * canonical) and survive an evaluation that keeps it encodable; whatever
 * fails must be refused with a documented error and leave a fresh state.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ssi_alert.h"
#include "ssi_wire.h"
#include "fuzz_blob.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_fresh(const struct ssi_alert_state *st)
{
	if (st->based || st->armed || st->pillar_armed || st->rebase_day != SSI_ALERT_DAY_NEVER)
		abort();
	for (int rule = 0; rule < SSI_ALERT__COUNT; rule++)
		if (st->last_fired_day[rule] != SSI_ALERT_DAY_NEVER)
			abort();
}

static void check_reencodes(const struct ssi_alert_state *st, const uint8_t *blob, size_t len)
{
	uint8_t again[SSI_ALERT_ENCODED_MAX];

	if (len > SSI_ALERT_ENCODED_MAX || ssi_alert_state_encoded_size(st) != len ||
	    ssi_alert_state_encode(st, again, sizeof(again)) != (long)len ||
	    memcmp(again, blob, len) != 0)
		abort();
}

/*
 * forecast_below's daily check on whatever decoded and was evaluated: a
 * forecast whose totals come from the input, at most one alert, at most one
 * check a day, and a state that still encodes.
 */
static void check_forecast(struct ssi_alert_state *st, const struct ssi_alert_rules *rules,
			   int64_t now_ms, struct ssi_score now, const uint8_t *data, size_t size)
{
	static struct ssi_forecast_day fc[SSI_FORECAST_DAYS_MAX];
	struct ssi_alert_forecast_input in = {
	    .now_ms = now_ms,
	    .cause = SSI_ALERT_CAUSE_DECAY,
	    .score = now,
	    .forecast = fc,
	    .ndays = rules->forecast_days,
	};
	struct ssi_alert a;
	bool due = ssi_alert_forecast_due(st, rules, now_ms, now.total);
	int n;

	for (int k = 0; k < in.ndays; k++) {
		int total = size > 0 ? (data[k % size] * 47) % 10001 : 0;

		memset(&fc[k], 0, sizeof(fc[k]));
		fc[k].day = ssi_time_day(now_ms) + 1 + k;
		for (int p = 0; p < SSI_PILLAR__COUNT; p++) {
			fc[k].score.pillar[p] = total > 2500 ? 2500 : total;
			total -= fc[k].score.pillar[p];
			fc[k].score.total += fc[k].score.pillar[p];
		}
	}
	n = ssi_alert_evaluate_forecast(st, rules, &in, &a);
	if (n < 0 || n > 1 || (n == 1 && !due) || ssi_alert_state_encoded_size(st) == 0 ||
	    (due && st->forecast_day != ssi_time_day(now_ms)) ||
	    ssi_alert_forecast_due(st, rules, now_ms, now.total))
		abort();
}

/* An evaluation on whatever decoded fires at most once per rule and stays encodable. */
static void check_evaluates(struct ssi_alert_state *st, const uint8_t *data, size_t size)
{
	struct ssi_alert_rules rules;
	struct ssi_alert out[SSI_ALERT__COUNT];
	struct ssi_alert_input in = {
	    .now_ms = (int64_t)(data[0] % 8) * 20000 * SSI_MS_PER_DAY,
	    .cause = (enum ssi_alert_cause)(data[0] % 3),
	    .has_old = size > 1,
	    .old_score = {.pillar = {2500, 0, 1000, 10}, .total = 3510},
	    .new_score = {.pillar = {(size * 37) % 2501, 0, 0, 7}},
	    .max_total = (int)(size % 64) * 150 - 1,
	    .old_top_percent = 10,
	    .new_top_percent = (int)(size % 101),
	};
	int n;

	in.new_score.total = in.new_score.pillar[0] + in.new_score.pillar[3];
	ssi_alert_rules_default(&rules);
	n = ssi_alert_evaluate(st, &rules, &in, out, SSI_ALERT__COUNT);
	if (n < 0 || n > SSI_ALERT__COUNT || ssi_alert_state_encoded_size(st) == 0)
		abort();
	check_forecast(st, &rules, in.now_ms, in.new_score, data, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ssi_alert_state st;
	uint8_t *blob;
	size_t len;
	int ret;

	blob = fuzz_blob(data, size, &len);
	if (!blob)
		return 0;

	ret = ssi_alert_state_decode(&st, blob, len);
	if (ret == 0) {
		check_reencodes(&st, blob, len);
		check_evaluates(&st, data, size);
	} else if (ret == -EBADMSG || ret == -EPROTONOSUPPORT) {
		check_fresh(&st);
	} else {
		abort();
	}
	free(blob);
	return 0;
}
