/*
 * ssid_history: where reps' daily score histories (ssi_history) live in
 * Redis, and a reader of them over a connection of its own.
 * README "Per-user state" tells the story.
 *
 * Where: field "h" (below) of the rep's hash "<prefix>u:{<user_id>}",
 * beside the state (s) and the delivered score (p): one slot and one DEL
 * per rep. Its one writer is ssid_store: the daemon's histories ride on
 * its per-batch read and write of that hash (no round trip of their own), a
 * rep's history written with its delivered score (ssid_store_stage_delivered,
 * ssid_store_save). This module reads one rep's history for ssictl, tools and
 * tests (ssid_history_load), and gives ssid_store the rule that lays the
 * latest entry over h (ssid_history_latest_merge).
 *
 * A stored history that does not decode (corrupt, or written by a newer
 * build) reads as unreadable, and ssid_store never overwrites it. Any
 * transport error drops the connection; the next call reconnects.
 */
#ifndef SSID_HISTORY_H
#define SSID_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "ssi_history.h"
#include "ssi_score.h"
#include "ssid_redis.h"
#include "ssid_store.h"

/*
 * The hash fields: "h" the encoded history, rewritten at most once per rep
 * per day. Its latest entry is the delivered score, field p, written with
 * every score: the day of p's as_of_ms, p's pillars. Older builds wrote that
 * entry as field "d", "v1 day brand people insights relationships", beside
 * a p that may not record its as_of_ms ("v1 ..."); ssid_store empties d at
 * a rep's next delivery. A reader takes h and then the latest entry over
 * it, which wins for its day.
 */
#define SSID_HISTORY_FIELD     "h"
#define SSID_HISTORY_DAY_FIELD "d"

/*
 * Lay the latest entry over h: from the delivered score pub (NULL: none
 * stored) when it records its as_of_ms, else from field d's value (day,
 * day_len; NULL or empty: none). 0, -ENOENT when neither gives one (h
 * unchanged), -EBADMSG (h unchanged), -ENOMEM.
 */
int ssid_history_latest_merge(struct ssi_history *h, const struct ssid_published *pub,
			      const char *day, size_t day_len);

struct ssid_history;

/*
 * Allocate a history reader for the Redis of opts (copied; only the
 * connection settings and key_prefix are used). Does not connect yet. 0 or
 * -ENOMEM.
 */
int ssid_history_new(struct ssid_history **out, const struct ssid_redis_opts *opts);
void ssid_history_free(struct ssid_history *hs);

/* Connect if not connected; 0 when Redis answers PING, -EIO, -EACCES, -ENOMEM. */
int ssid_history_ping(struct ssid_history *hs);
/* The last error, for logs and status ("Connection refused"). */
const char *ssid_history_errstr(const struct ssid_history *hs);

/*
 * Read user_id's history (h with the latest entry over it) into out
 * (initialised; replaced). Returns 1 when one was stored, 0 when none was
 * (out left empty), -EBADMSG or -EPROTONOSUPPORT when the stored one is
 * unreadable, -EINVAL for a user id empty or longer than SSI_ID_MAX
 * (nothing sent), -EIO, -ENOMEM.
 */
int ssid_history_load(struct ssid_history *hs, const char *user_id, struct ssi_history *out);

#endif
