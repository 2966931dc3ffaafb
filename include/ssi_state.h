/*
 * ssi_state: one user's scoring state, how events change it, and its compact
 * binary encoding (one Redis value per user).
 *
 * The state is built so that applying a set of distinct events in any order
 * yields the same state:
 *  - windowed counters are per-UTC-day counts combined by saturating
 *    addition (min(SSI_COUNT_MAX, a + b) is commutative and associative);
 *  - the profile snapshot and each segment are last-writer-wins on
 *    (occurred_at, event fingerprint), a total order;
 *  - connection counts are plain sums (removals subtract; scoring clamps at 0);
 *  - the duplicate filter keeps the dedup_recent greatest (occurred_at,
 *    fingerprint) keys, a set that does not depend on arrival order.
 */
#ifndef SSI_STATE_H
#define SSI_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ssi_event.h"
#include "ssi_model.h"
#include "ssi_wire.h" /* ssi_crc32c, the checksum that ends an encoded state */

#define SSI_STATE_VERSION 2
#define SSI_MARKS_MAX	  4

/* The counts of one UTC day. mask has bit c set iff count[c] > 0. */
struct ssi_day_row {
	int32_t day;
	uint32_t mask;
	uint8_t count[SSI_C__COUNT];
};

/* A last-writer-wins register's key. */
struct ssi_lww {
	int64_t at_ms; /* INT64_MIN: never written */
	uint64_t fp;
};

struct ssi_recent {
	int64_t at_ms;
	uint64_t fp;
};

/*
 * Applied-offset watermark for the daemon: the highest Kafka offset of a
 * partition already folded into this state. Opaque to the engine, which
 * only stores and encodes it.
 */
struct ssi_mark {
	int32_t partition;
	int64_t offset;
};

/*
 * The members every apply and score touches come first, the small ones
 * before the arrays, so that a state out of cache costs few cache lines: the
 * row array and the counts, marks and register keys in the first 200 bytes,
 * then the filled part of recent[]; each segment string is one more line.
 * (The encoding does not depend on this order.)
 */
struct ssi_state {
	struct ssi_day_row *rows; /* ascending by day, unique; owned */
	uint32_t nrows, rows_cap;
	uint32_t nrecent;
	uint32_t nmarks;
	struct ssi_mark marks[SSI_MARKS_MAX];

	struct ssi_lww segment_key[SSI_SEG__COUNT];
	struct ssi_lww profile_key;

	int32_t connections[SSI_SEN__COUNT]; /* may go negative transiently */
	int32_t internal_connections;
	struct ssi_profile profile;

	struct ssi_recent recent[SSI_DEDUP_MAX]; /* ascending by (at_ms, fp) */

	char segment[SSI_SEG__COUNT][SSI_ID_MAX + 1]; /* "" when unknown */
};

/* Initialise an empty state (no allocation). */
void ssi_state_init(struct ssi_state *st);
/* Release what the state owns and leave it empty; accepts NULL. */
void ssi_state_clear(struct ssi_state *st);
/*
 * Release what the state owns and leave it unusable until ssi_state_init:
 * for a caller that initialises it again anyway (a state is 1.6 KB to
 * empty). Accepts NULL.
 */
void ssi_state_release(struct ssi_state *st);
/* Deep copy src into dst (dst initialised or cleared); 0 or -ENOMEM. */
int ssi_state_copy(struct ssi_state *dst, const struct ssi_state *src);
/* True when both hold the same scoring-relevant content, marks included. */
bool ssi_state_equal(const struct ssi_state *a, const struct ssi_state *b);

/*
 * Fold one parsed, time-checked event into the state.
 * Returns 1 when applied, 0 when recognised as a duplicate (state unchanged),
 * -ENOMEM when a day row could not be added (state unchanged).
 */
int ssi_state_apply(struct ssi_state *st, const struct ssi_model *m, const struct ssi_event *ev);

/*
 * A hint that st is about to be applied to or scored: starts loading what
 * every apply and score read (the first lines of the state; with rows, also
 * its day rows, which needs st's first line already loaded). A caller
 * walking many states out of cache, as ssid does over a batch's users,
 * overlaps their misses by asking for the state two users ahead and for
 * the rows of the next:
 *
 *	ssi_state_prefetch(&users[u + 2].state, false);
 *	ssi_state_prefetch(&users[u + 1].state, true);
 *
 * Never changes anything and never faults; a waste of a few instructions
 * when the state is already in cache.
 */
void ssi_state_prefetch(const struct ssi_state *st, bool rows);

/* Drop day rows that have left the window ending at now_ms. */
void ssi_state_prune(struct ssi_state *st, const struct ssi_model *m, int64_t now_ms);

/* The watermark for partition, or -1 when none is recorded. */
int64_t ssi_state_mark_get(const struct ssi_state *st, int32_t partition);
/* Record offset for partition (keeps the SSI_MARKS_MAX most recently set). */
void ssi_state_mark_set(struct ssi_state *st, int32_t partition, int64_t offset);

/*
 * Binary encoding, version SSI_STATE_VERSION: "SI", version, flags, varint
 * sections, CRC-32C trailer. See src/ssi_state_codec.c for the layout.
 */
#define SSI_STATE_ENCODED_MAX                                                                      \
	(64 + 7 * 8 + 16 + SSI_SEG__COUNT * (SSI_ID_MAX + 24) + SSI_DEDUP_MAX * 18 +               \
	 SSI_MARKS_MAX * 16 + SSI_WINDOW_MAX_DAYS * (10 + SSI_C__COUNT))

/* Encoded size of st in bytes; 0 when st breaks an invariant (encode says -EINVAL). */
size_t ssi_state_encoded_size(const struct ssi_state *st);
/*
 * Encode into buf; returns bytes written, -ENOBUFS if cap is too small, or
 * -EINVAL if st breaks an invariant the decoder checks (rows not ascending or
 * mask not matching counts, recent not ascending, duplicate mark partitions,
 * an unwritten register that is not blank, too many entries).
 */
long ssi_state_encode(const struct ssi_state *st, uint8_t *buf, size_t cap);
/*
 * Decode into st (initialised; previous content is cleared). Returns 0,
 * -EBADMSG for truncated or corrupt input, -EPROTONOSUPPORT for a version
 * newer than this build, -ENOMEM. On error st is left empty.
 */
int ssi_state_decode(struct ssi_state *st, const uint8_t *buf, size_t len);

#endif
