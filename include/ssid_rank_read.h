/*
 * ssid_rank_read: ranks read straight from Redis, for ssictl and network
 * ranks. The layout is ssid_rank's (ssid_rank.h: rk:{pN}:s aggregates,
 * rk:parts) and ssid_store's (a rep's record is its hash's p and s, each
 * partition's reps its roster); this module only reads them, never writes,
 * and every command names keys of one slot.
 *
 * Cost. A rep's record is one HMGET of its hash; a segment's aggregate one
 * HGET per partition (one round trip for all partitions); a walk over
 * every record (around, and top beyond the stored top lists) reads every
 * partition's roster and every rep's hash: O(reps). A rep's total alone
 * (network ranks) is ssid_store_queue_totals'.
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
 * The rank record of user: 1 found, 0 not ranked (never scored), -EIO,
 * -EBADMSG (unreadable record, errstr names it), -ENOMEM.
 */
int ssid_rank_read_record(struct ssid_redis *rd, const char *user_id, struct ssi_rank_record *rec);

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
 * Call fn for every rank record of parts[0..nparts) (their rosters, in
 * order: a rep present throughout is seen once, or once per roster it is
 * in). fn returns 0 to go on, < 0 to stop with that value.
 */
typedef int ssid_rank_read_fn(void *ctx, const char *user_id, const struct ssi_rank_record *rec);
int ssid_rank_read_each(struct ssid_redis *rd, const int32_t *parts, size_t nparts,
			ssid_rank_read_fn *fn, void *ctx);

#endif
