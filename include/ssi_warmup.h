/*
 * ssi_warmup: is a segment still filling up? A percentile taken in a
 * segment that is being loaded (a tenant's history backfilled through the
 * live stream) moves with every newcomer, so rank.changed and the
 * left_top_percent alert wait until it has settled: it has not grown by
 * more than growth_percent over the last window_ms. README "Alerts" tells
 * the story.
 *
 * A segment's sizes are sampled when it is touched, at least a ninth of
 * window_ms apart, in a ring that always reaches back past window_ms; the
 * reference is the newest sample at or before now - window_ms, so the
 * window looked at is between window_ms and 10/9 of it (longer when the
 * segment was not touched for a while). The first note
 * seeds the ring with the size before that touch, dated window_ms back: a
 * segment met with members (loaded from Redis at a start) counts as
 * settled at that size, and a new one as grown from nothing.
 *
 * Pure: the caller passes now (ssid's clock) in. About 120 bytes a segment.
 */
#ifndef SSI_WARMUP_H
#define SSI_WARMUP_H

#include <stdbool.h>
#include <stdint.h>

#define SSI_WARMUP_SAMPLES 10

struct ssi_warmup_rule {
	int64_t window_ms;  /* 0: every segment is settled */
	int growth_percent; /* most growth over the window that still counts as settled */
};

struct ssi_warmup {
	int64_t at[SSI_WARMUP_SAMPLES];
	int64_t size[SSI_WARMUP_SAMPLES];
	uint8_t head;  /* index of the newest sample */
	uint8_t count; /* 0: not seeded yet */
};

/* A segment with no samples yet. */
void ssi_warmup_init(struct ssi_warmup *w);

/*
 * The segment was touched at now_ms: it had size_before members just before
 * (used only to seed the first time) and has size now.
 */
void ssi_warmup_note(struct ssi_warmup *w, const struct ssi_warmup_rule *rule, int64_t now_ms,
		     int64_t size_before, int64_t size);

/*
 * Whether a segment of size members has settled at now_ms: it has grown by
 * at most growth_percent since the reference sample. A segment never noted
 * is settled (nothing says it grows).
 */
bool ssi_warmup_settled(const struct ssi_warmup *w, const struct ssi_warmup_rule *rule,
			int64_t now_ms, int64_t size);

#endif
