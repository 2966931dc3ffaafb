/*
 * ssi_history: a rep's daily score history, kept as one compact binary value
 * per rep (no I/O here; ssid_history.h says where ssid keeps it in Redis).
 *
 * A history is a list of snapshots, at most one per UTC day, each the score
 * the rep had at the end of that day (the day's last recorded score). A day
 * without a snapshot had the score of the closest snapshot before it: the
 * daemon records a rep only when its score changed, so quiet days cost
 * nothing. Days before the first snapshot have no known score.
 *
 * Retention keeps the score of every day from (newest day - retention + 1)
 * on exactly: older snapshots are dropped, except that the one still in
 * effect on the first retained day is moved onto that day, so a rep whose
 * score has not moved for longer than the retention keeps it.
 */
#ifndef SSI_HISTORY_H
#define SSI_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ssi_score.h"
#include "ssi_time.h"

#define SSI_HISTORY_VERSION	      1
#define SSI_HISTORY_RETENTION_DEFAULT 400
#define SSI_HISTORY_RETENTION_MAX     1000
/* A pillar's maximum in centipoints (SSI_PILLAR_MAX points). */
#define SSI_HISTORY_PILLAR_MAX 2500
/* Day numbers of 1970-01-01 and 9999-12-31, the span event times may have. */
#define SSI_HISTORY_DAY_MIN 0
#define SSI_HISTORY_DAY_MAX ((int32_t)(SSI_TIME_MAX_MS / SSI_MS_PER_DAY))

/* The score at the end of one UTC day. */
struct ssi_history_entry {
	int32_t day;
	struct ssi_score score;
};

struct ssi_history {
	struct ssi_history_entry *entries; /* ascending by day, unique; owned */
	uint32_t n, cap;
	int retention_days; /* 1..SSI_HISTORY_RETENTION_MAX */
};

/* An empty history with the default retention (no allocation). */
void ssi_history_init(struct ssi_history *h);
/* Release the snapshots and leave the history empty (retention kept); accepts NULL. */
void ssi_history_clear(struct ssi_history *h);
/*
 * Days to keep from the newest snapshot back, applied by the next record or
 * compact. 0, or -EINVAL outside 1..SSI_HISTORY_RETENTION_MAX.
 */
int ssi_history_set_retention(struct ssi_history *h, int retention_days);
/* True when both hold the same snapshots (retention aside). */
bool ssi_history_equal(const struct ssi_history *a, const struct ssi_history *b);

/*
 * Set day's snapshot to score, replacing an earlier one of that day; days may
 * come in any order. A day older than the retention, counted back from the
 * newest snapshot (or from day when that is newer), is dropped, and so are
 * the snapshots it makes too old (see compact).
 * Returns 1 when the history changed, 0 when not (same snapshot, or day too
 * old), -EINVAL for a day outside SSI_HISTORY_DAY_MIN..MAX or a score whose
 * pillars are outside 0..SSI_HISTORY_PILLAR_MAX or do not add up to its
 * total, -ENOMEM (history unchanged).
 */
int ssi_history_record(struct ssi_history *h, int32_t day, const struct ssi_score *score);

/* Whether ssi_history_record takes day and score (it would not say -EINVAL). */
bool ssi_history_snapshot_is_valid(int32_t day, const struct ssi_score *score);

/*
 * Keep the days from today - retention_days + 1 on: drop the snapshots before
 * that day, but move the newest of them onto it when it has none of its own,
 * so that the score of every retained day stays what it was.
 * Returns 1 when the history changed, 0 when not, -EINVAL for a retention
 * outside 1..SSI_HISTORY_RETENTION_MAX.
 */
int ssi_history_compact(struct ssi_history *h, int32_t today, int retention_days);

/* The score in effect on day into out: 0, or -ENOENT before the first snapshot. */
int ssi_history_at(const struct ssi_history *h, int32_t day, struct ssi_score *out);

/*
 * One point per day of from_day..to_day whose score is known (from the first
 * snapshot on), in day order, each with the score in effect that day.
 * Writes at most cap points into out and returns how many there are in all
 * (so a return above cap means out was too small), or -EINVAL if from_day >
 * to_day.
 */
long ssi_history_get(const struct ssi_history *h, int32_t from_day, int32_t to_day,
		     struct ssi_history_entry *out, size_t cap);

/*
 * The highest total in effect on any day from from_day on: the reference of
 * a "fell X below its maximum of the last D days" alert (from_day = today -
 * D + 1). Returns it (0..10000), or -ENOENT for an empty history.
 */
int ssi_history_max_since(const struct ssi_history *h, int32_t from_day);

/*
 * Binary encoding, version SSI_HISTORY_VERSION: "SH", version, varint body
 * with day and pillar deltas, CRC-32C trailer; src/ssi_history.c documents
 * the layout. No history that encodes is larger than SSI_HISTORY_ENCODED_MAX.
 */
#define SSI_HISTORY_ENCODED_MAX (3 + 2 + 4 + 10 * SSI_HISTORY_RETENTION_MAX + 4)

/* Encoded size of h in bytes; 0 when h breaks an invariant (encode says -EINVAL). */
size_t ssi_history_encoded_size(const struct ssi_history *h);
/*
 * Encode into buf; returns bytes written, -ENOBUFS if cap is too small, or
 * -EINVAL if h breaks an invariant the decoder checks (days not ascending or
 * out of range, spanning SSI_HISTORY_RETENTION_MAX days or more, a score
 * record would refuse).
 */
long ssi_history_encode(const struct ssi_history *h, uint8_t *buf, size_t cap);
/*
 * Decode into h (initialised; previous snapshots are cleared, retention is
 * kept). Returns 0, -EBADMSG for truncated or corrupt input,
 * -EPROTONOSUPPORT for a version newer than this build, -ENOMEM. On error h
 * is left empty.
 */
int ssi_history_decode(struct ssi_history *h, const uint8_t *buf, size_t len);

#endif
