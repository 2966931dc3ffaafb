/*
 * ssid_store: users' records in Redis, read and written a batch at a time.
 *
 * One hash per user, key "<prefix>u:{<user_id>}" (the braces are a Redis
 * Cluster hash tag, so a user's keys stay in one slot), with fields
 *   s  the encoded ssi_state (engine format, with the applied-offset marks)
 *   p  the score last delivered to the output topic:
 *      "v2 total b p i r as_of_ms model_version" ("v1 total b p i r" from
 *      older builds is still read); also the history's latest entry, and,
 *      in the segments of s, the rep's rank record (see Rank records)
 *   h  the daily score history (ssi_history encoding, see ssid_history.h),
 *      rewritten at most once per rep per day
 *   d  older builds' copy of that latest entry: read, emptied at the next
 *      delivery (ssid_history.h)
 *   a  the alert rules' state (ssi_alert encoding); empty while it is a
 *      fresh state, as most reps' is
 *   k  the rep's percentile per segment kind when p was delivered:
 *      "v1 global industry tenant team", 0 for none or hidden
 *   n  the rep's network rank as last computed (ssid_network), at most once
 *      a day: "v1 day present hidden rank of top_percent avg_total_cp"
 *   c  the rep's connections while they fit in 64 bytes (ssid_conns.h owns
 *      the encoding), written with the state
 * The state is written in parts of at most SSID_STORE_STATE_PART bytes,
 * fields "s", "s1", ... (SSID_STORE_STATE_FIELDS), so that the hash stays
 * a compact listpack: Redis turns a hash into a hashtable, about 330 bytes
 * more per rep, once a value is longer than hash-max-listpack-value (64 by
 * default). Parts after the last are absent or empty; a state longer than
 * SSID_STORE_STATE_PARTS parts is whole in "s" (as older builds wrote every
 * state), which a reader knows by its length. ssid_store_state_join reads
 * either form.
 * p, h, a, k and n describe what was delivered, so they are written
 * together and only after delivery; s carries the marks that make a replayed event a
 * no-op. A caller stages what is to be written per user
 * (ssid_store_stage_state, ssid_store_stage_delivered) and ssid_store_save
 * writes all of it in one round trip.
 *
 * A rep's 1st-degree connections named by connection_added/_removed
 * events (attrs.connection_id) are field c and, for those that do not fit
 * in it, the set "<prefix>net:{<user_id>}" (ssid_conns.h), changed in the
 * order the events are consumed: the save applies them to c and sends the
 * SADD/SREM of the set's before the HSET of the state. ssid_network ranks
 * a rep among them.
 *
 * The inactivity-decay schedule. Every rep with a state has field
 *   z  the instant (ms, decimal) its score next changes on its own,
 *      SSID_DUE_NEVER's value when it never will (absent: due now)
 * and is listed in the roster of the partition its events come from, the
 * string "<prefix>ro:<partition>": each rep's id as one length byte and
 * the id's bytes, appended when the rep first gets a z (one APPEND per
 * partition per save, for newcomers only; before their HSET). The owner
 * keeps the schedule in memory (ssid_sched.h): read from the roster and
 * the reps' z when first asked about the partition, changed at each save,
 * forgotten with ssid_store_forget. A rep in the roster twice (an APPEND
 * whose reply was lost) counts once. An older build's sorted set
 * "<prefix>dz:<partition>" is moved into the roster at that first read,
 * then deleted. The roster moves with the partition on a rebalance, and
 * model rescoring walks it.
 *
 * Every call pipelines all of its commands: one round trip per batch, not
 * per event. Any transport error drops the connection; the next call
 * reconnects, so callers retry whole batches after a backoff.
 */
#ifndef SSID_STORE_H
#define SSID_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ssi_alert.h"
#include "ssi_history.h"
#include "ssi_score.h"
#include "ssi_state.h"
#include "ssid_cache.h"
#include "ssid_conns.h"
#include "ssid_rank.h"
#include "ssid_redis.h"

/* The due time of a rep whose score never changes on its own. */
#define SSID_DUE_NEVER INT64_MAX

/* A change to a rep's connection set. */
struct ssid_net_op {
	bool add; /* else a removal */
	const char *connection_id;
};

/* The state's parts: their size, how many at most, and their fields in order. */
#define SSID_STORE_STATE_PART	64
#define SSID_STORE_STATE_PARTS	8
#define SSID_STORE_STATE_FIELDS "s s1 s2 s3 s4 s5 s6 s7"

struct redisReply;

/*
 * The stored state from the replies to an HMGET of SSID_STORE_STATE_FIELDS
 * (el[0..SSID_STORE_STATE_PARTS)): *out points into a reply, or into buf
 * (SSID_STORE_STATE_PART * SSID_STORE_STATE_PARTS bytes) where parts are
 * joined. Its length, or -ENOENT when no state is stored.
 */
long ssid_store_state_join(struct redisReply *const *el, uint8_t *buf, const uint8_t **out);

/* One user's record and what to do with it. */
struct ssid_user {
	const char *id;	 /* NUL-terminated; owned by the caller */
	int load_status; /* 0, or why the stored state cannot be used */
	bool has_state;	 /* a state was stored (it may still be unreadable) */
	bool has_published;
	struct ssi_score published;
	int64_t published_ms;				 /* as_of of p; 0 when unknown (v1) */
	char published_model[SSI_MODEL_VERSION_MAX + 1]; /* "" when unknown (v1) */
	struct ssi_history
	    history; /* h with p laid over it; history_status < 0: unreadable, kept */
	int history_status;
	int32_t history_fresh_from;	     /* days before it are final in field h */
	struct ssi_alert_state alert;	     /* a (fresh when absent or unreadable) */
	int published_top[SSID_RANK__COUNT]; /* k */
	int32_t network_day;		     /* n: UTC day it was computed, -1 never */
	struct ssid_rank_pos network;	     /* n */
	int32_t partition;		     /* where its events come from; -1 unknown */
	int64_t due_ms;			     /* next decay, SSID_DUE_NEVER */
	const struct ssid_net_op *net;	     /* written with the state; borrowed */
	size_t nnet;
	struct ssid_conns conns; /* c as loaded; the save applies net to it */
	/*
	 * The store's own: what ssid_store_save writes, set by the
	 * ssid_store_stage_* calls (cleared by ssid_user_init), never by callers.
	 */
	bool save_state;     /* field s (and the net ops) */
	bool save_published; /* fields p (from published), h, a, k, n (and d emptied) */
	bool save_due;	     /* due_ms into partition's schedule */
	bool save_alert;     /* field a alone: a forecast check of a rep not published */
	int state_parts;     /* parts of s that may be non-empty in Redis (as loaded) */
	bool day_field;	     /* an older build's d is stored, to be emptied */
	/*
	 * Last, and most of the record's bytes: ssid_user_init zeroes what
	 * precedes it and empties it once, with ssi_state_init.
	 */
	struct ssi_state state;
};

/* Initialise u for id (borrowed) with an empty record. */
void ssid_user_init(struct ssid_user *u, const char *id);
/* Release what u owns; u can be initialised again. */
void ssid_user_clear(struct ssid_user *u);

struct ssid_store;

/* Allocate a store (copies opts); does not connect yet. 0 or -ENOMEM. */
int ssid_store_new(struct ssid_store **out, const struct ssid_redis_opts *opts);
void ssid_store_free(struct ssid_store *s);

/*
 * Keep the records of reps read or written (at most max_bytes of them, 0:
 * none) so that loading them again reads no Redis (ssid_cache.h says when
 * that is safe). A rep is cached under users[i].partition, which load and
 * save need set (>= 0) to cache it. 0 or -ENOMEM.
 */
int ssid_store_cache(struct ssid_store *s, size_t max_bytes);
/*
 * Forget the cached reps and the decay schedule of partition (revoked), or
 * all of them (< 0).
 */
void ssid_store_forget(struct ssid_store *s, int32_t partition);
void ssid_store_cache_stats(const struct ssid_store *s, struct ssid_cache_stats *out);

/* Connect if not connected; 0 when Redis answers PING. */
int ssid_store_ping(struct ssid_store *s);
/* The last error, for logs and status ("Connection refused"). */
const char *ssid_store_errstr(const struct ssid_store *s);

/*
 * Read the records of users[0..n). Each users[i].state must be initialised;
 * it is replaced by the stored state or left empty for a new user. A stored
 * state that does not decode sets load_status (-EBADMSG, -EPROTONOSUPPORT)
 * and is not an error of the call. Returns 0, -EIO or -EACCES (see errstr),
 * -ENOMEM.
 */
int ssid_store_load(struct ssid_store *s, struct ssid_user *users, size_t n);

/*
 * Stage u's state (field s with its marks, and its connection changes) for
 * the next ssid_store_save; with schedule, its due_ms too (field z, and
 * the partition's decay schedule).
 */
void ssid_store_stage_state(struct ssid_user *u, bool schedule);
/*
 * Record score as delivered at as_of_ms under model_version, with top (NULL:
 * the percentiles as loaded) as its percentiles, and stage what describes
 * the delivery (fields p, h, a, k, n) for the next ssid_store_save.
 */
void ssid_store_stage_delivered(struct ssid_user *u, const struct ssi_score *score,
				int64_t as_of_ms, const char *model_version,
				const int top[SSID_RANK__COUNT]);
/*
 * Stage u's alert state (field a) alone, for a rep whose rule state changed
 * without a delivery (forecast_below's daily check); it joins the HSET of
 * a staged state, so stage the state too to spare a command.
 */
void ssid_store_stage_alert(struct ssid_user *u);
/*
 * Write what was staged for users[0..n), all of it in one round trip.
 * 0, -EIO or -ENOMEM.
 */
int ssid_store_save(struct ssid_store *s, struct ssid_user *users, size_t n);

/* The hash key of a user, for tools and tests. Returns its length. */
int ssid_store_key(const struct ssid_store *s, const char *user_id, char *buf, size_t len);
/* The same for the keys of rd: "<prefix>u:{<user_id>}", as snprintf. */
int ssid_store_user_key(const struct ssid_redis *rd, const char *user_id, char *buf, size_t len);

/*
 * Up to max user ids of partition's schedule due at or before now_ms,
 * earliest first. ids is replaced by a NULL-terminated array the caller
 * frees with ssid_store_ids_free, *n their count. 0, -EIO or -ENOMEM.
 * This and the next two read the partition's schedule from Redis the first
 * time they are asked about it, then answer from memory.
 */
int ssid_store_due(struct ssid_store *s, int32_t partition, int64_t now_ms, size_t max, char ***ids,
		   size_t *n);
/*
 * How many of partition's reps are due at now_ms (the decay backlog) into
 * *n; with SSID_DUE_NEVER, its whole roster. -EIO.
 */
int ssid_store_due_count(struct ssid_store *s, int32_t partition, int64_t now_ms, int64_t *n);
/*
 * One step of a walk over partition's whole roster, in roster order: every
 * rep present throughout is seen once. *cursor starts at 0 and is 0 again
 * when the walk is over. Same ids and returns as ssid_store_due.
 */
int ssid_store_roster(struct ssid_store *s, int32_t partition, unsigned long long *cursor,
		      size_t count, char ***ids, size_t *n);
/*
 * Per-partition markers "<prefix><what>:<partition>": "mv" the model
 * version the partition's roster was last fully rescored under, "rb" the
 * sentinel epoch under which the partition was last replayed. get copies
 * the value into buf (1, or 0 when none); set records it. -EIO.
 */
int ssid_store_partition_get(struct ssid_store *s, const char *what, int32_t partition, char *buf,
			     size_t len);
int ssid_store_partition_set(struct ssid_store *s, const char *what, int32_t partition,
			     const char *value);
void ssid_store_ids_free(char **ids);

/* Called for each id of a roster (len bytes, not NUL-terminated); < 0 stops. */
typedef int ssid_store_roster_fn(void *ctx, const char *id, size_t len);
/* Walk a roster string's ids in order: 0, fn's error, or -EBADMSG (a truncated entry). */
int ssid_store_roster_parse(const char *buf, size_t len, ssid_store_roster_fn *fn, void *ctx);
/*
 * Partition's decay schedule as Redis holds it (the roster, the reps' z,
 * an older build's sorted set), read on rd; for tools and tests, as the
 * daemon's owner keeps it in memory. 0, -EIO or -ENOMEM.
 */
struct ssid_sched;
int ssid_store_schedule_read(struct ssid_redis *rd, int32_t partition, struct ssid_sched **out);

/*
 * Rank records. A rep's record (what ranks count it with) is not stored on
 * its own: it is the score last delivered (p) in the segments of the
 * stored state (s), because ranks move a rep exactly when its score is
 * delivered and the same save writes both. These read it for ssid_rank,
 * ssid_network and ssictl.
 *
 * Called with ids[i]'s record (found 1), none (0: no p or no state) or why
 * it cannot be read (-EBADMSG, -EPROTONOSUPPORT); < 0 stops.
 */
struct ssi_rank_record;
typedef int ssid_store_record_fn(void *ctx, size_t i, int found, const struct ssi_rank_record *rec);
/*
 * The records of ids[0..n): one HMGET each, SSID_STORE_RECORDS_CHUNK per
 * round trip. 0, fn's error, -EIO, -ENOMEM.
 */
#define SSID_STORE_RECORDS_CHUNK 1024
int ssid_store_read_records(struct ssid_redis *rd, const char *const *ids, size_t n,
			    ssid_store_record_fn *fn, void *ctx);
/*
 * The totals of ids[0..n), in two halves so that other reads can share the
 * round trip: queue an HGET of p each, then take the replies in order into
 * totals[] (-1: no record). -EIO.
 */
int ssid_store_queue_totals(struct ssid_redis *rd, const char *const *ids, size_t n);
int ssid_store_take_totals(struct ssid_redis *rd, size_t n, int *totals);
/*
 * Every rep of partition's roster (an older build's schedule included),
 * once each, in roster order, as ssid_store_due gives ids: a GET and a
 * ZRANGE, one round trip each. 0, -EIO, -ENOMEM.
 */
#define SSID_STORE_ROSTER_READ_TRIPS 2
int ssid_store_roster_read(struct ssid_redis *rd, int32_t partition, char ***ids, size_t *n);

/*
 * The sentinel that tells a Redis which lost its data from the one it was:
 * "<prefix>meta" field "epoch", a random value set once. The daemon
 * remembers it; a different (or new) epoch means the data went away.
 * Copies the epoch into buf (at least 17 bytes) and returns 1 when this
 * call created it, 0 when it existed; -EIO.
 */
int ssid_store_sentinel(struct ssid_store *s, char *buf, size_t len);

/* Field p, the last delivered score, in any format a build of ssid wrote. */
struct ssid_published {
	struct ssi_score score;
	int64_t as_of_ms;		       /* 0 when not recorded (v1) */
	char model[SSI_MODEL_VERSION_MAX + 1]; /* "" when not recorded (v1) */
};

/* Parse field p; false for anything else (pillars out of range or not adding up). */
bool ssid_store_published_parse(const char *str, size_t len, struct ssid_published *out);

/* Run one command and return the reply (freeReplyObject it); tools and tests. */
void *ssid_store_command(struct ssid_store *s, const char *fmt, ...);

#endif
