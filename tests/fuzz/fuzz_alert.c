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
