/*
 * ssid_rank: where each rep stands in their segments (global, industry,
 * tenant, team within a tenant), segment averages and leaderboards, kept in
 * memory by the instance that owns the reps' Kafka partitions and shared
 * through Redis. A rep's network rank is not kept here: ssid_network
 * computes it on demand from the reps' records. README "Ranks,
 * percentiles and leaderboards" tells the story.
 *
 * Ranking. Equal totals share a rank (standard competition ranking): rank =
 * 1 + the number of members with a strictly higher total; top_percent =
 * ceil(100 * rank / size). A segment with fewer than min_members reps is
 * hidden. The arithmetic is ssi_rank's (pure); this module keeps the data.
 * Percentile bands are ssi_band's; which boards to publish, ssid_boards'.
 *
 * Segments. Every scored rep is in the global segment; in the industry and
 * tenant segments of their industry and tenant when known (non-empty); and in
 * the team segment when both tenant and team are known. A segment's field
 * name is "g", "i:<industry>", "t:<tenant>" or "m:<tenant>:<team>", with
 * '%', ':', '{', '}', spaces and control bytes of the values written %XX.
 *
 * Design. A rep belongs to the partition its events come from, and a
 * partition has one owner. A rep's record, the score and segments it is
 * counted with, is not stored by ranks: it is its hash's delivered score
 * (p) in the segments of its stored state (s), which ssid_store writes in
 * the same save as the delivery that moved the rep here
 * (ssid_store_read_records). Per partition N, in one hash slot:
 *   P rk:{pN}:s   field segment -> the partition's aggregate of that segment
 *                 (ssi_rankagg encoding: members, sums, histogram of totals,
 *                 top rank.top_n members)
 *   P rk:{pN}:v   a counter moved by every write of its aggregates
 *   P rk:parts    set of the partitions that have rank data
 * The owner reads the records of the partition's roster (ssid_store) when
 * it first meets the partition, rebuilds the aggregates from them, and
 * from then on updates both in memory: a rep's rank in a segment is 1 +
 * the members strictly above in the sum of every partition's histogram, a
 * Fenwick query. The changed segments are written at most every half
 * refresh_ms, in one MULTI/EXEC per partition (one slot: Redis Cluster
 * safe), so Redis work grows with partitions and segments touched, not
 * with reps x segments, and a batch costs ranks no command at all between
 * two such writes. A replay reads nothing back: replayed changes into a
 * partition with no rep counted yet (a rebuild) update the records in
 * memory only, and the partition's reps are counted in bulk when its
 * replay is over (settle). Older builds kept the records in a hash
 * rk:{pN}:u; the owner deletes it when it reads the partition.
 * Partitions owned by other instances are read every refresh_ms (only
 * those whose version moved), so while events flow a rank may lag other
 * instances' changes by at most refresh_ms, and at rest it is exact.
 *
 * Idempotence. The in-memory record says what is counted for a rep, so
 * applying the same score twice changes nothing. The records are the truth:
 * an instance assigned a partition rewrites its aggregates from them
 * (ssid_rank_assign), mending what a dead owner left unwritten. A rep
 * whose segments changed in a save that delivered no score is counted in
 * its old segments by the owner that applied it, and in its new ones by
 * the next owner, which reads the state (both agree with their aggregates;
 * the next delivery moves it for either). A removed rep (a change with
 * removed) leaves memory only: its hash is its caller's to delete.
 *
 * Library code: no logging, errors in ssid_rank_errstr. Its own ssid_redis
 * connection; any Redis error drops it and the next call reconnects.
 *
 * Limits: user ids and segment values up to SSI_ID_MAX bytes, each rep at
 * most once per apply; top_n up to SSID_RANK_TOP_MAX; a rep's events come
 * from one partition (a rep met in another owned partition is moved there).
 */
#ifndef SSID_RANK_H
#define SSID_RANK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ssi_event.h"
#include "ssi_rank.h"
#include "ssi_score.h"
#include "ssid_redis.h"

enum ssid_rank_kind {
	SSID_RANK_GLOBAL,
	SSID_RANK_INDUSTRY,
	SSID_RANK_TENANT,
	SSID_RANK_TEAM,
	SSID_RANK__COUNT
};

#define SSID_RANK_DEFAULT_MIN_MEMBERS	10
#define SSID_RANK_DEFAULT_TOP_N		10
#define SSID_RANK_DEFAULT_INTERVAL_MS	1000
#define SSID_RANK_DEFAULT_REFRESH_MS	1000
#define SSID_RANK_DEFAULT_WARMUP_MS	600000
#define SSID_RANK_DEFAULT_WARMUP_GROWTH 10
#define SSID_RANK_TOP_MAX		SSI_RANK_TOP_KEEP

struct ssid_rank_opts {
	int min_members;    /* privacy floor k: smaller segments are hidden */
	int top_n;	    /* leaderboard length, and the top list each aggregate keeps */
	int64_t refresh_ms; /* read other instances' partitions at most this often */
	/*
	 * A segment that grew by more than warmup_growth percent over the last
	 * warmup_ms (ssid's clock, see ssid_rank_set_clock) is still filling
	 * up: its positions say warming (ssi_warmup.h). 0 ms: never.
	 */
	int64_t warmup_ms;
	int warmup_growth;
};

void ssid_rank_opts_default(struct ssid_rank_opts *o);

/* A rep's position in one segment, before or after a change. */
struct ssid_rank_pos {
	bool present; /* the rep is a member of a segment of this kind */
	bool hidden;  /* present, but the segment is below the privacy floor */
	bool warming; /* the segment is still filling up: its percentile moves with newcomers */
	int top_percent;
	int64_t rank;	  /* 1 = best; 0 when hidden or absent */
	int64_t of;	  /* the segment's size (also when hidden) */
	int avg_total_cp; /* segment averages in centipoints (ssi_rank_place) */
	int avg_pillar_cp[SSI_PILLAR__COUNT];
};

/* pos from ssi_rank's place (present). */
void ssid_rank_pos_set(struct ssid_rank_pos *pos, const struct ssi_rank_place *pl);

struct ssid_rank_result {
	struct ssid_rank_pos before, after; /* just before this rep's change; after the call */
	bool moved;			    /* before and after are in different segments */
	/*
	 * The leaderboard of the segment before the change (old_segment) and
	 * of the segment after it (segment) may have changed because of this
	 * rep: read it again (ssid_rank_boards) when the kind has a board.
	 */
	bool board_old, board_new;
};

struct ssid_rank_change {
	/* in */
	const char *user_id;
	int32_t partition;		     /* where the rep's events come from */
	const char *segment[SSI_SEG__COUNT]; /* tenant, team, industry; NULL or "" unknown */
	bool removed;			     /* the rep leaves every segment; score unused */
	struct ssi_score score;		     /* the rep's current score */
	/*
	 * A replayed change: nothing is read back (result is left empty), and
	 * into a partition with no rep counted yet (a rebuild) the counting
	 * waits for the partition to settle (ssid_rank_settle).
	 */
	bool quiet;
	/*
	 * result[].before holds only present, hidden and of (rank, top_percent
	 * and averages left 0): for a caller that reads no more of it.
	 */
	bool brief_before;
	/* out */
	bool had_record;
	struct ssi_score old_score; /* what was counted before, when had_record */
	/* As counted before, "" unknown: valid until the next ssid_rank_apply or ssid_rank_free. */
	const char *old_segment[SSI_SEG__COUNT];
	struct ssid_rank_result result[SSID_RANK__COUNT];
};

struct ssid_rank_stats {
	uint64_t round_trips; /* pipelines sent and read back */
	uint64_t commands;    /* Redis commands sent, MULTI/EXEC included */
	uint64_t loaded;      /* rank records read when partitions were first met */
	uint64_t refreshes;   /* other instances' partitions read again */
	uint64_t deferred;    /* replayed changes applied to records only (ssid_rank_settle) */
	uint64_t settled;     /* records counted in bulk when a replay ended */
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
 * A partition met for the first time is loaded first. With persist, the
 * changed aggregates are written before returning (one round trip) when
 * half refresh_ms has passed since the last write; without (a replay),
 * they wait for ssid_rank_flush or the next refresh. The records are the
 * caller's to store (ssid_store: p and s, in the same save). 0; -EINVAL for
 * a bad change (errstr names it), -EIO for Redis, -EBADMSG for stored data
 * that is not ours, -ENOMEM. On an error nothing is half-applied in memory
 * that a retry would count twice.
 */
int ssid_rank_apply(struct ssid_rank *r, struct ssid_rank_change *changes, size_t n, bool persist);

/*
 * Send what ssid_rank_apply (without persist) left unwritten as it would
 * have written it, without waiting: Redis does it while the caller goes on,
 * and ssid_rank_collect waits for it (every other call that touches Redis
 * or what is pending collects first). 0, -EIO, -ENOMEM.
 */
int ssid_rank_send(struct ssid_rank *r);

/*
 * ssid's clock (event time, as the pipeline's now_ms) for the applies and
 * places that follow: segment warm-up is measured in it.
 */
void ssid_rank_set_clock(struct ssid_rank *r, int64_t now_ms);
/*
 * The partition's replay is over: count the records that quiet changes left
 * uncounted, all at once (its aggregates are then written in full). A
 * refresh does it too once no quiet change reached the partition for 4
 * refresh_ms (a stalled replay). 0 or -ENOMEM.
 */
int ssid_rank_settle(struct ssid_rank *r, int32_t partition);
/* Write what apply left unwritten, and wait for it. 0, -EIO, -ENOMEM. */
int ssid_rank_flush(struct ssid_rank *r);
/*
 * Wait for the write ssid_rank_send sent: once this returns 0 it is in
 * Redis. 0 (also when nothing was sent), -EIO (what it held stays
 * pending and is sent again by the next write).
 */
int ssid_rank_collect(struct ssid_rank *r);

/*
 * If half refresh_ms passed since the last call that did (always with
 * force): load the partitions assigned here, write what waits, and read
 * the partitions this instance does not own. now_ms is monotonic. 0, -EIO,
 * -EBADMSG, -ENOMEM.
 */
int ssid_rank_refresh(struct ssid_rank *r, int64_t now_ms, bool force);

/*
 * Where a rep with total would stand in the segment of kind given its
 * segment values, in this instance's view (others' partitions as last
 * refreshed). 0, -ENOENT (no such segment for these values), -EINVAL.
 */
int ssid_rank_place(const struct ssid_rank *r, enum ssid_rank_kind kind,
		    const char *const segment[SSI_SEG__COUNT], int total,
		    struct ssid_rank_pos *pos);

/*
 * The partition was assigned here: its records are read (and its aggregates
 * rewritten from them) at the next refresh at the latest, even if none of
 * its reps changes, so that what a dead owner left half-written is mended.
 */
void ssid_rank_assign(struct ssid_rank *r, int32_t partition);

/* The partition was revoked: write what waits, then forget it (it becomes another's). */
void ssid_rank_drop_partition(struct ssid_rank *r, int32_t partition);
/* Redis lost its data: forget everything, own and others'. */
void ssid_rank_reset(struct ssid_rank *r);

/* A segment's field name (see above) as snprintf; -ENOENT when the rep has no such segment. */
int ssid_rank_segment_field(enum ssid_rank_kind kind, const char *const segment[SSI_SEG__COUNT],
			    char *buf, size_t len);

const char *ssid_rank_kind_name(enum ssid_rank_kind kind);

/* ---- the stored layout, read by ssictl and network ranks ------------------ */

/*
 * "<prefix>rk:{p<partition>}:s", ":v", and "<prefix>rk:parts", as snprintf;
 * ":u" is an older build's records, deleted when the partition is read.
 */
int ssid_rank_key_records(const char *prefix, int32_t partition, char *buf, size_t len);
int ssid_rank_key_aggs(const char *prefix, int32_t partition, char *buf, size_t len);
int ssid_rank_key_version(const char *prefix, int32_t partition, char *buf, size_t len);
int ssid_rank_key_parts(const char *prefix, char *buf, size_t len);

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
 * Read boards[0..n) from memory, in this instance's view (as
 * ssid_rank_place): the top_n members, best first; equal totals are listed
 * in descending byte order of user id, with equal ranks. A segment nobody
 * is in is hidden, of 0. 0, -ENOENT for segment values that name no segment
 * of the board's kind (errstr names it), -ENOMEM.
 */
int ssid_rank_boards(struct ssid_rank *r, struct ssid_rank_board *boards, size_t n);

#endif
