/* ssi_warmup: whether a segment is still filling up; see ssi_warmup.h. */
#include "ssi_warmup.h"

#include <string.h>

void ssi_warmup_init(struct ssi_warmup *w)
{
	memset(w, 0, sizeof(*w));
}

static void push(struct ssi_warmup *w, int64_t at, int64_t size)
{
	if (w->count > 0)
		w->head = (uint8_t)((w->head + 1) % SSI_WARMUP_SAMPLES);
	if (w->count < SSI_WARMUP_SAMPLES)
		w->count++;
	w->at[w->head] = at;
	w->size[w->head] = size;
}

void ssi_warmup_note(struct ssi_warmup *w, const struct ssi_warmup_rule *rule, int64_t now_ms,
		     int64_t size_before, int64_t size)
{
	/* Nine gaps of at least a ninth: the ring always reaches back a whole window. */
	int64_t step = (rule->window_ms + 8) / 9;

	if (rule->window_ms <= 0)
		return;
	if (w->count == 0)
		push(w, now_ms - rule->window_ms, size_before);
	/* A clock set back (a test, a corrected host) restarts the samples' order. */
	if (now_ms < w->at[w->head]) {
		w->count = 0;
		push(w, now_ms - rule->window_ms, size_before);
	}
	if (now_ms - w->at[w->head] >= step)
		push(w, now_ms, size);
}

bool ssi_warmup_settled(const struct ssi_warmup *w, const struct ssi_warmup_rule *rule,
			int64_t now_ms, int64_t size)
{
	int64_t edge = now_ms - rule->window_ms;

	if (rule->window_ms <= 0 || w->count == 0)
		return true;
	for (int i = 0; i < w->count; i++) {
		int j = (w->head + SSI_WARMUP_SAMPLES - i) % SSI_WARMUP_SAMPLES;

		if (w->at[j] <= edge)
			return size * 100 <= w->size[j] * (100 + (int64_t)rule->growth_percent);
	}
	/* Only after a clock jump back: no sample reaches back far enough. */
	return false;
}
