/*
 * ssid_store's insides, shared by its two files: ssid_store.c (rep records,
 * loads and saves) and ssid_store_part.c (partition-wide keys). Not for
 * other modules.
 */
#ifndef SSID_STORE_INT_H
#define SSID_STORE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "ssid_cache.h"
#include "ssid_redis.h"
#include "ssid_store.h"

struct ssid_store {
	struct ssid_redis *rd;	  /* owned */
	struct ssid_cache *cache; /* owned; NULL: every load reads Redis */
	uint8_t *enc;		  /* scratch for encoding one state */
	uint8_t *henc;		  /* ... one history */
	uint8_t join[SSID_STORE_STATE_PART * SSID_STORE_STATE_PARTS]; /* a state's parts, read */
	uint8_t alert_fresh[SSI_ALERT_ENCODED_MAX]; /* a fresh alert state, encoded */
	size_t alert_fresh_len;
	struct ssid_sched **sched; /* owned; [partition], NULL until asked for */
	size_t nsched;
};

struct ssid_buf;

/* ssid_store.c: the state's part fields, "s", "s1", ... (SSID_STORE_STATE_FIELDS). */
extern const char *const store_part_fields[SSID_STORE_STATE_PARTS];

/*
 * ssid_store_sched.c: the key of partition's roster, "<prefix>ro:<partition>",
 * and of an older build's schedule, "<prefix>dz:<partition>", as snprintf.
 */
int store_roster_key(const struct ssid_redis *rd, int32_t partition, char *buf, size_t len);
int store_schedule_key(const struct ssid_redis *rd, int32_t partition, char *buf, size_t len);
/* One roster entry for id (len bytes, 1..SSI_ID_MAX) onto b. */
void store_roster_put(struct ssid_buf *b, const char *id, size_t len);
/* Field z's value for due_ms into buf (SSI_TEXT_LL_MAX bytes); its length. */
int store_due_format(int64_t due_ms, char *buf);
/* Partition's schedule, read from Redis when not in memory. 0, -EIO, -ENOMEM, -EINVAL. */
int store_sched(struct ssid_store *s, int32_t partition, struct ssid_sched **out);
/*
 * Partition's schedule as Redis holds it, read on rd (ssid_store_schedule_read);
 * without dues, only who is in it (every rep due at 0).
 */
int store_schedule_read(struct ssid_redis *rd, int32_t partition, bool dues,
			struct ssid_sched **out);
/* Forget partition's schedule (all of them when < 0): the next use reads Redis. */
void store_sched_drop(struct ssid_store *s, int32_t partition);
/*
 * Set the due instants users[0..n) save (save_due) in their partitions'
 * schedules and queue an APPEND per partition of the reps new to its
 * roster, before any command of the save's own; *sent counts commands. On
 * a failure of the save the caller drops those partitions' schedules.
 */
int store_sched_stage(struct ssid_store *s, const struct ssid_user *users, size_t n, size_t *sent);

#endif
