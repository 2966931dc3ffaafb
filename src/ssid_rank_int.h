/*
 * ssid_rank's insides, shared by its three files: ssid_rank.c keeps ranks in
 * memory (records, segments, histograms, top lists), ssid_rank_apply.c
 * applies changes to them and reads positions and boards, ssid_rank_sync.c
 * moves them to and from Redis (loading a partition's records from its
 * reps' hashes, writing the aggregates that changed, reading other
 * instances' partitions). Not for other modules.
 */
#ifndef SSID_RANK_INT_H
#define SSID_RANK_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ssi_array.h"
#include "ssi_warmup.h"
#include "ssid_buf.h"
#include "ssid_rank.h"
#include "ssid_time.h"

#define NONE UINT32_MAX
/*
 * A deferred partition that no replayed change reached for this many
 * refreshes (4 refresh_ms) is settled by the next: its replay stalled, or
 * ended without ssid_rank_settle. Batches need not touch every partition.
 */
#define QUIET_PERIODS 8

/* What one rep is counted with, in memory. */
struct rec {
	struct rec *next; /* hash chain */
	uint64_t hash;
	int32_t part;
	struct ssi_score score;
	/* Tenant, team, industry; "" unknown. Interned (rank_rec_set_segments). */
	const char *segment[SSI_SEG__COUNT];
	uint32_t seg[SSID_RANK__COUNT];	 /* segment index, NONE when not a member */
	uint32_t slot[SSID_RANK__COUNT]; /* place in that segment's share's members */
	size_t idlen;
	char id[]; /* NUL-terminated, idlen bytes before the NUL */
};

/*
 * One owned partition's share of a segment. top holds the best of its
 * members, exactly the best top.n of them while top_ok: a member counted in
 * is offered when it beats the list's last, a member counted out is taken
 * off; the list is built again from every member only when it falls below
 * what must be shown (rank_share_top), so a batch costs no scan of a
 * segment's members.
 */
struct share {
	int32_t part;
	bool dirty;
	bool top_ok;
	struct ssi_rankagg agg; /* its top list is what is written: the best top_n */
	struct ssi_rank_top top;
	struct rec **member;
	uint32_t nmember;
	size_t cap;
};

struct seg {
	char *field;
	uint64_t hash;
	enum ssid_rank_kind kind;
	struct ssi_rankagg all; /* every partition: owned ones live, others as last read */
	struct share *share;	/* owned partitions */
	uint32_t nshare;
	size_t cap;
	struct ssi_warmup warm; /* sizes sampled when touched by an apply */
	uint64_t warm_gen;	/* the apply whose first touch warm_start saw */
	uint64_t warm_start;	/* members when that apply first touched it */
};

struct remote_entry {
	uint32_t seg;
	struct ssi_rankagg agg; /* with the owner's top list */
};

struct part {
	int32_t id;
	bool local;
	bool wanted; /* assigned here: loaded at the next refresh if not yet */
	/* owned */
	bool full; /* rewrite every aggregate (just loaded) */
	/*
	 * Being replayed into: the records that replayed changes left are kept
	 * (and written) but counted in no segment until it settles
	 * (rank_settle), in bulk; its other changes' records are counted.
	 */
	bool deferred;
	uint64_t quiet_period; /* the refresh period of its last replayed change */
	uint32_t *dirty_seg;   /* segments whose share changed */
	uint32_t ndirty;
	size_t dcap;
	/* another instance's, as last read */
	long long version;
	struct remote_entry *e;
	uint32_t ne;
};

struct ssid_rank {
	struct ssid_redis *rd;
	struct ssid_rank_opts ro;
	struct ssid_rank_stats stats;
	struct rec **rtab;
	size_t rcap, nrec;
	struct segval **vtab; /* interned segment values, hash buckets */
	size_t vcap, nval;
	struct segval *vgone; /* values whose last reference went (rank_values_sweep) */
	struct seg **segv; /* by index */
	uint32_t nseg;
	size_t segcap;
	uint32_t *stab; /* hash buckets of segment indexes + 1 */
	size_t scap;
	struct part *parts;
	uint32_t nparts;
	size_t pcap;
	int64_t refreshed_ms;
	bool refreshed;
	uint64_t period;	 /* refreshes so far */
	int64_t aggs_written_ms; /* monotonic: aggregates last written (INT64_MIN / 2: never) */
	int64_t clock_ms;	 /* ssid's clock, for segment warm-up (ssid_rank_set_clock) */
	uint64_t apply_gen;	 /* moved by every apply */
	/* A write sent, not yet waited for (rank_collect): its replies; aggregates or not. */
	size_t unread;
	bool unread_aggs;
	/* scratch */
	struct ssid_buf enc; /* one command's encoded values; argv points into it by offset */
	const char **argv;
	size_t *argl;
	size_t argcap;
	size_t *argoff; /* offsets into enc, resolved before sending */
};

/* ssid_rank.c */
uint64_t rank_hash_str(const char *s);
/* The same, and s's length in *len: one pass over s. */
uint64_t rank_hash_strlen(const char *s, size_t *len);
struct rec *rank_rec_find(const struct ssid_rank *r, const char *id);
/* The same, for id's rank_hash_str h. */
struct rec *rank_rec_find_hashed(const struct ssid_rank *r, const char *id, uint64_t h);
/*
 * A hint for a lookup of hash h a few steps ahead: start loading its bucket
 * (stage 0), then the record the bucket leads to (1), then that record's id
 * (2), each stage a few lookups after the one before. Never faults.
 */
void rank_rec_prefetch(const struct ssid_rank *r, uint64_t h, int stage);
/*
 * A new record for id (whose rank_hash_str is h) in partition part, counted
 * nowhere yet; NULL: out of memory.
 */
struct rec *rank_rec_new(struct ssid_rank *r, const char *id, uint64_t h, int32_t part);
void rank_rec_unlink(struct ssid_rank *r, struct rec *rc);
/*
 * Sets rc's segment values to v (NULL or "" unknown), interned: one string
 * per distinct value, shared by the records holding it. 0, -ENOMEM (rc unchanged).
 */
int rank_rec_set_segments(struct ssid_rank *r, struct rec *rc, const char *const v[SSI_SEG__COUNT]);
/*
 * Free the values whose last reference went since the last sweep (a
 * value outlives it till then: the last apply's old_segment may name it).
 */
void rank_values_sweep(struct ssid_rank *r);
/* Count rc in (in) or out of every segment its record names. 0, -ENOMEM, -ERANGE. */
int rank_count_all(struct ssid_rank *r, struct rec *rc, bool in);
uint32_t rank_seg_find(const struct ssid_rank *r, const char *field);
uint32_t rank_seg_lookup(struct ssid_rank *r, const char *field, bool create);
struct part *rank_part_find(struct ssid_rank *r, int32_t id);
struct part *rank_part_get(struct ssid_rank *r, int32_t id);
struct share *rank_share_find(struct seg *g, int32_t part);
int rank_mark_dirty(struct ssid_rank *r, uint32_t segi, struct share *s);
void rank_forget_all(struct ssid_rank *r);
/* Sample segment g's size for warm-up after an apply touched it. */
void rank_seg_note(struct ssid_rank *r, struct seg *g);
/* Whether segment g has settled (ssi_warmup) at the clock; its size is g->all's members. */
bool rank_seg_settled(const struct ssid_rank *r, const struct seg *g);
/* The share's best members, built again if need be. 0, -ENOMEM. */
int rank_share_top(const struct ssid_rank *r, struct share *s);
/* Forget what was read of another's partition, and what waits to be written of an owned one. */
void rank_part_free_remote(struct part *p);
void rank_part_free_pending(struct part *p);

/*
 * Count every uncounted record of a deferred partition in at once, sampling its
 * segments' growth as an apply would. 0, -ENOMEM, -ERANGE (nothing half
 * counted is kept: the caller forgets all on an error).
 */
int rank_settle(struct ssid_rank *r, struct part *p);
/* Whether no rep of p is counted in any segment. */
bool rank_part_uncounted(const struct ssid_rank *r, const struct part *p);
/* Only rc's score changed: move it within its shares. 0, -ERANGE, -ENOMEM. */
int rank_rescore_in_place(struct ssid_rank *r, struct rec *rc, const struct ssi_score *sc);

/* ssid_rank_apply.c */
/* Own partition: load it now unless loaded. 0, -EIO, -EBADMSG, -ENOMEM. */
int rank_own(struct ssid_rank *r, int32_t partition);

/* ssid_rank_sync.c */
/* Read an owned partition's records and count them. 0, -EIO, -EBADMSG, -ENOMEM. */
int rank_load_partition(struct ssid_rank *r, struct part *p);
/* Forget an owned partition's records and shares (they stay in Redis). */
void rank_unload_partition(struct ssid_rank *r, struct part *p);
/* Whether an owned partition has something to write. */
bool rank_pending(const struct part *p);
/*
 * Write what waits: changed records always, the aggregates too with aggs
 * (one MULTI per partition then). With wait, the replies are read before
 * returning; without, by rank_collect, which every call that reads or
 * changes what is pending runs first. 0, -EIO, -ENOMEM.
 */
int rank_write(struct ssid_rank *r, bool aggs, bool wait);
/*
 * Read the replies of the write sent last, and clear what it wrote. 0 or
 * -EIO (what it held stays pending); 0 too when its connection is gone,
 * as only a failed send, which returned the error, leaves it so.
 */
int rank_collect(struct ssid_rank *r);
/*
 * Whether a write now takes the aggregates too: at most every half
 * refresh_ms, since only other instances and ssictl read them (every half too).
 */
bool rank_aggs_due(const struct ssid_rank *r);

#endif
