/*
 * ssid_parts: what the daemon remembers per input partition it owns, beside
 * what librdkafka knows: a rebuild's replay range, the model walk, and the
 * progress figures of a rebuild. Bookkeeping only (no I/O, no clock), so
 * the rules are testable on their own.
 *
 * Rebuild. When Redis has lost ssid's data (or on `ssid --rebuild`), an
 * owned partition is read again from the start of its retained log
 * ("from") up to the offset the group had committed ("until"): those
 * messages were processed before, so they are a replay; their rejections
 * are not dead-lettered again and their alerts are not published. The
 * users' applied-offset marks make the replay count every event once.
 *
 * Model walk. After a model change, each owned partition's roster (its
 * decay schedule) is walked and every rep rescored, a chunk at a time
 * between live batches; "<prefix>mv:<partition>" then records the version,
 * so a partition that changes owner mid-walk is walked again by the next
 * owner (rescoring twice is harmless: a rep already under the new model
 * does not publish again).
 */
#ifndef SSID_PARTS_H
#define SSID_PARTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ssid_part {
	bool owned;
	int64_t replay_from;	   /* first offset read again */
	int64_t replay_until;	   /* offsets below it are a replay; 0: none */
	int64_t position;	   /* next offset after the last durable message */
	bool model_check;	   /* compare the roster's model version */
	bool walking;		   /* model walk under way */
	unsigned long long cursor; /* the walk's place in the roster (ssid_store_roster) */
	int64_t next_fetch;	   /* the offset the next message should carry; -1: unknown */
};

/* Partitions indexed by number. Zero-initialise; release with ssid_parts_free. */
struct ssid_parts {
	struct ssid_part *p;
	size_t n, cap; /* partitions 0..n-1 known; room for cap */
};

void ssid_parts_free(struct ssid_parts *ps);
/* The record of partition (created, unowned, when new); NULL on -ENOMEM or a negative number. */
struct ssid_part *ssid_parts_get(struct ssid_parts *ps, int32_t partition);

/* Assignment: owned, and its model version to be checked. -ENOMEM. */
int ssid_parts_assign(struct ssid_parts *ps, int32_t partition);
/* Revocation: forget the walk and the replay; the next owner redoes them. */
void ssid_parts_revoke(struct ssid_parts *ps, int32_t partition);

/* How many partitions are owned. */
int ssid_parts_owned(const struct ssid_parts *ps);

/* Whether offset of partition is a rebuild's replay. */
bool ssid_parts_is_replay(const struct ssid_parts *ps, int32_t partition, int64_t offset);
/* Messages up to offset of partition are durable. */
void ssid_parts_advance(struct ssid_parts *ps, int32_t partition, int64_t offset);

/*
 * Data loss. The consumer will deliver partition from offset next (its
 * committed offset, or where a rebuild seeks; negative: unknown, as when the
 * group has none) and the messages after it in order. ssid_parts_fetched
 * takes each message's offset: it returns the offset that was expected
 * when this one lies beyond it (offsets were skipped), else -1.
 */
void ssid_parts_expect(struct ssid_parts *ps, int32_t partition, int64_t next);
int64_t ssid_parts_fetched(struct ssid_parts *ps, int32_t partition, int64_t offset);

/* Every owned partition's model version must be checked again (a new model). */
void ssid_parts_model_changed(struct ssid_parts *ps);

struct ssid_rebuild_progress {
	int partitions; /* owned partitions still replaying */
	int64_t done;	/* messages replayed, finished partitions included */
	int64_t left;	/* messages still to replay */
};

/* Sum the replays under way; false when none is. */
bool ssid_parts_rebuild_progress(const struct ssid_parts *ps, struct ssid_rebuild_progress *out);

#endif
