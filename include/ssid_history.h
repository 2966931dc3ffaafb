/*
 * ssid_history: where reps' daily score histories (ssi_history) live in
 * Redis, and a reader and writer of them over a connection of its own.
 * README "Per-user state" tells the story.
 *
 * Where: fields "h" and "d" (below) of the rep's hash "<prefix>u:{<user_id>}",
 * beside the state (s) and the published score (p): one slot and one DEL
 * per rep. The daemon's histories ride on ssid_store's per-batch read and
 * write of that hash (no round trip of their own); this module's
 * connection serves ssictl (ssid_history_load) and tools and tests
 * (ssid_history_record_batch: one pipelined round of HMGETs, one of HSETs
 * for the reps that changed). Read-modify-write, safe because one partition
 * owner at a time writes a rep; a retried batch records the same scores
 * again, which changes nothing.
 *
 * A stored history that does not decode (corrupt, or written by a newer
 * build) is never overwritten: its items report why and the rest of the
 * batch goes on. Any transport error drops the connection; the next call
 * reconnects, so callers retry whole batches.
 */
#ifndef SSID_HISTORY_H
#define SSID_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "ssi_history.h"
#include "ssi_score.h"
#include "ssid_redis.h"

/*
 * The hash fields: "h" the encoded history, rewritten at most once per rep
 * per day; "d" its latest entry, "v1 day brand people insights
 * relationships", written with every score. A reader takes h and then d
 * over it (d wins for its day).
 */
#define SSID_HISTORY_FIELD     "h"
#define SSID_HISTORY_DAY_FIELD "d"

/* The latest entry of h as field d's value, as snprintf; -ENOENT when h is empty. */
int ssid_history_day_format(const struct ssi_history *h, char *buf, size_t len);
/* Lay field d's value over h. 0, -EBADMSG (h unchanged), -ENOMEM. */
int ssid_history_day_merge(struct ssi_history *h, const char *value, size_t len);

/* One rep's score of one day, and what became of it. */
struct ssid_history_item {
	const char *user_id; /* NUL-terminated, 1..SSI_ID_MAX bytes; owned by the caller */
	int32_t day;	     /* UTC day number the score is the latest of */
	struct ssi_score score;
	/*
	 * Set by ssid_history_record_batch when it returns 0: 1 the history
	 * changed and was written, 0 nothing to write (the same score, or a
	 * day older than the retention), -EBADMSG or -EPROTONOSUPPORT the
	 * stored history is unreadable and was left alone.
	 */
	int status;
};

struct ssid_history;

/*
 * Allocate a history store for the Redis of opts (copied; only the
 * connection settings and key_prefix are used), keeping retention_days
 * (1..SSI_HISTORY_RETENTION_MAX) per rep. Does not connect yet. 0, -EINVAL
 * or -ENOMEM.
 */
int ssid_history_new(struct ssid_history **out, const struct ssid_redis_opts *opts,
		     int retention_days);
void ssid_history_free(struct ssid_history *hs);

/* Connect if not connected; 0 when Redis answers PING, -EIO, -EACCES, -ENOMEM. */
int ssid_history_ping(struct ssid_history *hs);
/* The last error, for logs and status ("Connection refused"). */
const char *ssid_history_errstr(const struct ssid_history *hs);

/*
 * Record items[0..n) (several items of one rep apply in array order) and
 * set each one's status. Returns 0, -EINVAL when an item has no user id, a
 * user id too long or a score or day ssi_history_record refuses (nothing is
 * sent then), -EIO (see errstr; nothing or only some reps written: retry
 * the batch), -ENOMEM.
 */
int ssid_history_record_batch(struct ssid_history *hs, struct ssid_history_item *items, size_t n);

/*
 * Read user_id's history into out (initialised; replaced). Returns 1 when
 * one was stored, 0 when none was (out left empty), -EBADMSG or
 * -EPROTONOSUPPORT when the stored one is unreadable, -EIO, -ENOMEM.
 */
int ssid_history_load(struct ssid_history *hs, const char *user_id, struct ssi_history *out);

#endif
