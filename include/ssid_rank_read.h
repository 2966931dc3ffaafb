/*
 * ssid_rank_read: ranks read straight from Redis, for ssictl and network
 * ranks. The layout is ssid_rank's (ssid_rank.h: rk:{pN}:u records, rk:{pN}:s
 * aggregates, rk:parts); this module only reads it, never writes, and every
 * command names keys of one slot.
 *
 * Cost. A rep's record and a segment's aggregate are one HGET per partition
 * (one round trip for all partitions); totals of many reps one HMGET per
 * partition per chunk; a walk over every record (around, and top beyond
 * the stored top lists) HSCANs every partition: O(reps).
 *
 * Library code: no logging; errors in ssid_redis_errstr of the connection.
 */
#ifndef SSID_RANK_READ_H
#define SSID_RANK_READ_H

#include <stddef.h>
#include <stdint.h>

#include "ssi_rank.h"
#include "ssid_rank.h"
#include "ssid_redis.h"

/*
 * The partitions holding rank data (rk:parts), ascending, into a fresh array
 * (*parts, free()). 0, -EIO, -EBADMSG, -ENOMEM.
 */
int ssid_rank_read_partitions(struct ssid_redis *rd, int32_t **parts, size_t *n);

/*
 * The rank record of user in any of parts[0..nparts): 1 found (*partition
 * says where, may be NULL), 0 not ranked, -EIO, -EBADMSG (unreadable record,
 * errstr names it), -ENOMEM.
 */
int ssid_rank_read_record(struct ssid_redis *rd, const int32_t *parts, size_t nparts,
			  const char *user_id, struct ssi_rank_record *rec, int32_t *partition);

/*
 * The aggregate of one segment over every partition into out (initialised;
 * replaced): members, sums, histogram, and the best top_keep members of the
 * partitions' top lists. A segment nobody is in is an empty aggregate.
 * 0, -ENOENT (the rep has no segment of that kind), -EIO, -EBADMSG, -ENOMEM.
 */
int ssid_rank_read_segment(struct ssid_redis *rd, const int32_t *parts, size_t nparts,
			   enum ssid_rank_kind kind, const char *const segment[SSI_SEG__COUNT],
			   size_t top_keep, struct ssi_rankagg *out);

/*
 * Totals of ids[0..n) (any reps, ranked or not) into totals[]: -1 for an id
 * with no rank record. In two halves, so that several lookups share a
 * round trip: queue each (nparts commands, no reply read; -EIO or -ENOMEM
 * drop the connection), then take each in the same order with the same
 * arguments (0, -EIO, -EBADMSG).
 */
int ssid_rank_queue_totals(struct ssid_redis *rd, const int32_t *parts, size_t nparts,
			   const char *const *ids, size_t n);
int ssid_rank_take_totals(struct ssid_redis *rd, const int32_t *parts, size_t nparts,
			  const char *const *ids, size_t n, int *totals);
/* Both halves in one round trip. 0, -EIO, -EBADMSG, -ENOMEM. */
int ssid_rank_read_totals(struct ssid_redis *rd, const int32_t *parts, size_t nparts,
			  const char *const *ids, size_t n, int *totals);

/*
 * Call fn for every rank record of every partition (HSCAN; a record present
 * throughout is seen at least once, and a repeat is possible while ssid
 * writes). fn returns 0 to go on, < 0 to stop with that value.
 */
typedef int ssid_rank_read_fn(void *ctx, const char *user_id, const struct ssi_rank_record *rec);
int ssid_rank_read_each(struct ssid_redis *rd, const int32_t *parts, size_t nparts,
			ssid_rank_read_fn *fn, void *ctx);

#endif
