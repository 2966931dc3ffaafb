/*
 * ssid_rank: where each rep stands in their segments (global, industry,
 * tenant, team within a tenant), segment averages, percentile bands and
 * leaderboards, kept in Redis a batch at a time.
 *
 * Design
 *
 * Ranking. Equal totals share a rank (standard competition ranking): a rep's
 * rank is 1 + the number of members of the segment with a strictly higher
 * total, so totals 90, 80, 80, 70 rank 1, 2, 2, 4. top_percent is
 * ceil(100 * rank / size), from 1 (best) to 100. A segment with fewer than
 * min_members reps (the privacy floor, default 10) shows no rank, percentile,
 * average or leaderboard: the position is flagged hidden.
 *
 * Segments. Every scored rep is in the global segment; in the industry and
 * tenant segments of their industry and tenant when known (non-empty); and in
 * the team segment when both tenant and team are known, a team being scoped
 * by its tenant. The network segment (a rep's 1st-degree connections who are
 * known users) is not kept here: it is one segment per rep, not a shared set,
 * so it cannot be maintained by ZADD on a shared key. Its extension point is
 * the segment kind enum and segment_tag() in ssid_rank.c; it would be ranked
 * by ZMSCORE of the rep's known connections in the global sorted set.
 *
 * Key layout, prefix P (redis.key_prefix, e.g. "ssi:"). <seg> is the segment's
 * hash tag: "g" for global, "i:<industry>", "t:<tenant>", "m:<tenant>:<team>",
 * with '%', ':', '{', '}', spaces and control bytes of the values written %XX
 * so that the tag is unambiguous and stays one Redis Cluster slot:
 *   P rk:{<seg>}:z      sorted set: member user id, score total (centipoints)
 *   P rk:{<seg>}:a      hash: n (members), t (sum of totals), b p i r (sums of
 *                       the pillars), all integers in centipoints
 *   P rk:u:{<user_id>}  hash: what this module last applied for the rep:
 *                       s "v1 total b p i r", t tenant, m team, i industry
 *                       ("" when unknown); same slot as the rep's record
 * Averages are sum / n, maintained by HINCRBY of deltas and never by scanning
 * a segment: a rep's contribution is moved when their tenant, team or industry
 * changes and withdrawn when they are removed.
 *
 * Idempotence and cost. The per-rep record makes ssid_rank_apply idempotent:
 * deltas are computed from what Redis says was last applied, never from the
 * caller's belief, so a batch retried after a failure whose writes did land
 * changes nothing. A batch takes two round trips: (1) HMGET the reps'
 * records; (2) one MULTI/EXEC holding the reads of the positions before the
 * batch, the writes (one ZADD and one ZREM per segment with all of the
 * batch's members, HINCRBY per segment of the batch's summed deltas, one
 * HSET or DEL per rep) and the reads of the positions after it (ZCOUNT per
 * rep and segment; ZCARD and HMGET per distinct segment). The transaction
 * makes before and after consistent snapshots and applies all or nothing. A
 * rep must have one writer at a time, as for its state: the consumer owning
 * its Kafka partition (records are not WATCHed: Redis checks every watched
 * key against the others, 350 ms for 10,000 keys). The EXEC of a
 * 10,000-rep batch keeps Redis busy about 90 ms; split bigger batches.
 * Leaderboards are read by ssid_rank_boards, one round trip for any number
 * of boards. The transaction spans segments, so it needs one Redis node (as
 * ssid_store's single connection does): the hash tags keep each segment's
 * keys together for a future per-slot split.
 *
 * ssid_rank has its own ssid_redis connection, opened on first use from the
 * daemon's ssid_redis_opts; any error drops it and the next call reconnects.
 * Library code: no logging, errors in ssid_rank_errstr.
 *
 * Limits: user ids and segment values up to SSI_ID_MAX bytes, each rep at
 * most once per batch; top_n up to SSID_RANK_TOP_MAX; up to
 * SSID_RANK_BANDS_MAX percentile bands.
 */
#ifndef SSID_RANK_H
#define SSID_RANK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ssi_event.h"
#include "ssi_score.h"
#include "ssid_redis.h"

enum ssid_rank_kind {
	SSID_RANK_GLOBAL,
	SSID_RANK_INDUSTRY,
	SSID_RANK_TENANT,
	SSID_RANK_TEAM,
	SSID_RANK__COUNT
};

#define SSID_RANK_DEFAULT_MIN_MEMBERS 10
#define SSID_RANK_DEFAULT_TOP_N	      10
#define SSID_RANK_DEFAULT_INTERVAL_MS 1000
#define SSID_RANK_TOP_MAX	      1000
#define SSID_RANK_BANDS_MAX	      16

struct ssid_rank_opts {
	int min_members; /* privacy floor k: smaller segments are hidden */
	int top_n;	 /* leaderboard length */
	/*
	 * Kinds (bit 1 << kind) whose position before the batch is not read:
	 * their result.before stays empty, and their board flags assume the
	 * rep may have been on the board. A caller that keeps percentiles of
	 * its own saves a ZCOUNT per rep and kind (0: read them all).
	 */
	unsigned no_before;
};

void ssid_rank_opts_default(struct ssid_rank_opts *o);

/* A rep's position in one segment, before or after a batch. */
struct ssid_rank_pos {
	bool present; /* the rep is a member of a segment of this kind */
	bool hidden;  /* present, but the segment is below the privacy floor */
	int64_t rank; /* 1 = best; 0 when hidden or absent */
	int64_t of;   /* the segment's size (also when hidden) */
	int top_percent;
	double avg_total; /* segment averages in points, rounded to hundredths */
	double avg_pillar[SSI_PILLAR__COUNT];
};

struct ssid_rank_result {
	struct ssid_rank_pos before, after;
	bool moved; /* before and after are in different segments */
	/*
	 * The leaderboard of the segment before the batch (old_segment) and of
	 * the segment after it (segment) may have changed because of this rep:
	 * read it again (ssid_rank_boards) when the kind has a board.
	 */
	bool board_old, board_new;
};

struct ssid_rank_change {
	/* in */
	const char *user_id;
	const char *segment[SSI_SEG__COUNT]; /* tenant, team, industry; NULL or "" unknown */
	bool removed;			     /* the rep leaves every segment; score unused */
	struct ssi_score score;		     /* the rep's current score */
	/* out */
	int status; /* 0, or -EBADMSG: the stored record is unreadable, change skipped */
	bool had_record;
	struct ssi_score old_score; /* what was applied before, when had_record */
	char old_segment[SSI_SEG__COUNT][SSI_ID_MAX + 1]; /* as applied before, "" unknown */
	struct ssid_rank_result result[SSID_RANK__COUNT];
};

struct ssid_rank_stats {
	uint64_t round_trips; /* pipelines sent and read back */
	uint64_t commands;    /* Redis commands sent, MULTI/EXEC included */
};

struct ssid_rank;

/* Copies both option sets (ro NULL: defaults); does not connect. 0, -EINVAL, -ENOMEM. */
int ssid_rank_new(struct ssid_rank **out, const struct ssid_redis_opts *o,
		  const struct ssid_rank_opts *ro);
void ssid_rank_free(struct ssid_rank *r);

const char *ssid_rank_errstr(const struct ssid_rank *r);
void ssid_rank_get_stats(const struct ssid_rank *r, struct ssid_rank_stats *out);

/*
 * Apply changes[0..n) (each user_id at most once) and fill their outputs.
 * 0; -EINVAL for a bad change (errstr names it), -EIO for Redis, -EBADMSG
 * for an aggregate that is not ours, -ENOMEM.
 */
int ssid_rank_apply(struct ssid_rank *r, struct ssid_rank_change *changes, size_t n);

/*
 * The sorted-set key of a segment of kind given a rep's segment values, as
 * snprintf (the length it needs); -ENOENT when the rep has no such segment.
 */
int ssid_rank_segment_key(const struct ssid_rank *r, enum ssid_rank_kind kind,
			  const char *const segment[SSI_SEG__COUNT], char *buf, size_t len);

const char *ssid_rank_kind_name(enum ssid_rank_kind kind);

/* ---- leaderboards ------------------------------------------------------- */

struct ssid_rank_entry {
	char user_id[SSI_ID_MAX + 1];
	int total;    /* centipoints */
	int64_t rank; /* competition rank in the segment */
};

struct ssid_rank_board {
	/* in */
	enum ssid_rank_kind kind;
	const char *segment[SSI_SEG__COUNT];
	struct ssid_rank_entry *entry; /* room for top_n entries */
	/* out */
	bool hidden; /* below the privacy floor: no entries */
	int64_t of;  /* the segment's size */
	size_t n;
};

/*
 * Read boards[0..n): the top_n members, best first; equal totals are listed
 * in descending byte order of user id (Redis' order), with equal ranks.
 * One round trip. 0, -ENOENT for a board whose segment is not known
 * (errstr names it), -EIO, -EBADMSG for a foreign member or score.
 */
int ssid_rank_boards(struct ssid_rank *r, struct ssid_rank_board *boards, size_t n);

enum {
	SSID_RANK_BOARD_MEMBERS = 1 << 0, /* someone entered or left */
	SSID_RANK_BOARD_ORDER = 1 << 1,	  /* members kept in both lists changed order */
	SSID_RANK_BOARD_SCORES = 1 << 2,  /* a member kept in both changed total */
};

/*
 * Pure: how board b differs from board a, as SSID_RANK_BOARD_* flags (0: same).
 * A leaderboard.changed is due on MEMBERS or ORDER.
 */
unsigned ssid_rank_board_diff(const struct ssid_rank_entry *a, size_t na,
			      const struct ssid_rank_entry *b, size_t nb);

/*
 * Coalescing of leaderboard.changed: at most one per board per interval.
 * Pure, the caller passes a monotonic now_ms. offer() reports a change:
 * true means publish now; false means it is pending, and due() becomes true
 * (once) when the interval since the last publication has passed; next()
 * says when, for a timer.
 */
struct ssid_rank_coalesce {
	int64_t interval_ms;
	int64_t last_ms; /* last publication, when published */
	bool published;
	bool pending;
};

void ssid_rank_coalesce_init(struct ssid_rank_coalesce *c, int64_t interval_ms);
bool ssid_rank_coalesce_offer(struct ssid_rank_coalesce *c, int64_t now_ms);
bool ssid_rank_coalesce_due(struct ssid_rank_coalesce *c, int64_t now_ms);
/* When the pending change is due, INT64_MAX when none is pending. */
int64_t ssid_rank_coalesce_next(const struct ssid_rank_coalesce *c);

/* ---- percentile bands --------------------------------------------------- */

/* Strictly increasing top percentages, e.g. 1 5 10 15 25 50. */
struct ssid_rank_bands {
	size_t n;
	int top[SSID_RANK_BANDS_MAX];
};

void ssid_rank_bands_default(struct ssid_rank_bands *b);
/* "1,5,10,15,25,50": strictly increasing integers in 1..100. 0 or -EINVAL. */
int ssid_rank_bands_parse(struct ssid_rank_bands *b, const char *text);

/* The tightest band holding top_percent (5 for 3% with the defaults), 0 for none. */
int ssid_rank_band_of(const struct ssid_rank_bands *b, int top_percent);

struct ssid_rank_crossing {
	int direction; /* +1 into a better band, -1 out of a band, 0 no crossing */
	int band;      /* up: the band entered; down: the band left */
	int from, to;  /* ssid_rank_band_of old and new */
};

/*
 * Pure: whether moving from old_top to new_top percent (within one segment)
 * crossed a band boundary. A top_percent <= 0 (hidden, absent) is no
 * position: no crossing. Returns direction.
 */
int ssid_rank_band_crossing(const struct ssid_rank_bands *b, int old_top, int new_top,
			    struct ssid_rank_crossing *out);

#endif
