/*
 * ssid_cache: the stored fields of owned reps' records, kept in memory so a
 * rep written in an earlier batch is not read back from Redis.
 *
 * Partition ownership is exclusive, so while this instance owns a rep's
 * partition nobody else writes the rep's record and the cached bytes equal
 * Redis'. The cache must therefore be emptied of a partition when it is
 * revoked (ssid_cache_drop_partition), and emptied whole when Redis lost its
 * data or a rebuild starts (ssid_cache_clear). A write that may not have
 * landed drops its reps (ssid_cache_drop): Redis is the truth.
 *
 * It holds exact copies of the field values (bytes, as encoded by
 * ssid_store, which owns their format), at most max_bytes of them: past
 * that, the reps cached longest ago go first. Library code, no I/O.
 */
#ifndef SSID_CACHE_H
#define SSID_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Fields per record: room for every field ssid_store keeps. */
#define SSID_CACHE_FIELDS 8

struct ssid_cache_field {
	const void *p; /* the value's bytes; owned by the cache once stored */
	size_t len;
	bool has; /* the field exists */
};

struct ssid_cache_stats {
	uint64_t hits, misses, evictions;
	size_t entries, bytes;
};

struct ssid_cache;

/* max_bytes 0: a cache that keeps nothing. 0 or -ENOMEM. */
int ssid_cache_new(struct ssid_cache **out, size_t max_bytes);
void ssid_cache_free(struct ssid_cache *c);

/*
 * The cached fields of id into f[0..SSID_CACHE_FIELDS) (valid until the next
 * put, drop or clear): true on a hit.
 */
bool ssid_cache_get(struct ssid_cache *c, const char *id, struct ssid_cache_field *f);

/*
 * Store fields of id, a rep of partition: with whole, f describes the whole
 * record (fields without has are absent); without, only the fields with has
 * are replaced and the others kept (nothing is stored unless id is cached).
 * 0 or -ENOMEM (id is then dropped).
 */
int ssid_cache_put(struct ssid_cache *c, const char *id, int32_t partition,
		   const struct ssid_cache_field *f, bool whole);

/*
 * A hint that id is looked up a few reps from now: start loading its
 * bucket (stage 0), then, a few reps later, the entry it leads to (stage 1).
 * Never changes anything and never faults.
 */
void ssid_cache_prefetch(const struct ssid_cache *c, const char *id, int stage);

void ssid_cache_drop(struct ssid_cache *c, const char *id);
void ssid_cache_drop_partition(struct ssid_cache *c, int32_t partition);
void ssid_cache_clear(struct ssid_cache *c);
void ssid_cache_get_stats(const struct ssid_cache *c, struct ssid_cache_stats *out);

#endif
