/*
 * ssid_history: where reps' daily score histories (ssi_history) live in
 * Redis, and a reader of them over a connection of its own.
 * README "Per-user state" tells the story.
 *
 * Where: fields "h" and "d" (below) of the rep's hash "<prefix>u:{<user_id>}",
 * beside the state (s) and the published score (p): one slot and one DEL
 * per rep. Their one writer is ssid_store: the daemon's histories ride on
 * its per-batch read and write of that hash (no round trip of their own), a
 * rep's history written with its delivered score (ssid_store_stage_delivered,
 * ssid_store_save). This module reads one rep's history for ssictl, tools and
 * tests (ssid_history_load), and gives ssid_store the codec of field d.
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
 * Read user_id's history into out (initialised; replaced). Returns 1 when
 * one was stored, 0 when none was (out left empty), -EBADMSG or
 * -EPROTONOSUPPORT when the stored one is unreadable, -EINVAL for a user id
 * empty or longer than SSI_ID_MAX (nothing sent), -EIO, -ENOMEM.
 */
int ssid_history_load(struct ssid_history *hs, const char *user_id, struct ssi_history *out);

#endif
