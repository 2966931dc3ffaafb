/*
 * ssid_store: users' records in Redis, read and written a batch at a time.
 *
 * One hash per user, key "<prefix>u:{<user_id>}" (the braces are a Redis
 * Cluster hash tag, so a user's keys stay in one slot), with fields
 *   s  the encoded ssi_state (engine format, with the applied-offset marks)
 *   p  the score last delivered to the output topic ("v1 total b p i r")
 * Every call pipelines all of its commands: one round trip per batch, not
 * per event. Any transport error drops the connection; the next call
 * reconnects, so callers retry whole batches after a backoff.
 */
#ifndef SSID_STORE_H
#define SSID_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "ssi_score.h"
#include "ssi_state.h"
#include "ssid_redis.h"

/* One user's record and what to do with it. */
struct ssid_user {
	const char *id; /* NUL-terminated; owned by the caller */
	struct ssi_state state;
	int load_status; /* 0, or why the stored state cannot be used */
	bool has_published;
	struct ssi_score published;
	bool save_state;     /* ssid_store_save writes field s */
	bool save_published; /* ssid_store_save writes field p from published */
};

struct ssid_store;

/* Allocate a store (copies opts); does not connect yet. 0 or -ENOMEM. */
int ssid_store_new(struct ssid_store **out, const struct ssid_redis_opts *opts);
void ssid_store_free(struct ssid_store *s);

/* Connect if not connected; 0 when Redis answers PING. */
int ssid_store_ping(struct ssid_store *s);
bool ssid_store_connected(const struct ssid_store *s);
/* The last error, for logs and status ("Connection refused"). */
const char *ssid_store_errstr(const struct ssid_store *s);

/*
 * Read the records of users[0..n). Each users[i].state must be initialised;
 * it is replaced by the stored state or left empty for a new user. A stored
 * state that does not decode sets load_status (-EBADMSG, -EPROTONOSUPPORT)
 * and is not an error of the call. Returns 0 or -EIO (see errstr).
 */
int ssid_store_load(struct ssid_store *s, struct ssid_user *users, size_t n);

/* Write what each user's save_* flags ask for. 0, -EIO or -ENOMEM. */
int ssid_store_save(struct ssid_store *s, struct ssid_user *users, size_t n);

/* The hash key of a user, for tools and tests. Returns its length. */
int ssid_store_key(const struct ssid_store *s, const char *user_id, char *buf, size_t len);

/* Run one command and return the reply (freeReplyObject it); tools and tests. */
void *ssid_store_command(struct ssid_store *s, const char *fmt, ...);

#endif
