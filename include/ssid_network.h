/*
 * ssid_network: a rep's network rank, LinkedIn's "rank in your network".
 *
 * A rep's network segment is the rep plus their 1st-degree connections who
 * are known users, that is reps with a rank record: a delivered score,
 * field p of their hash (ssid_store.h, read through ssid_store_queue_totals).
 * Ranks follow ssid_rank's rule, computed by ssi_rank_place_of: competition
 * ranking, rank = 1 + the number of members with a strictly higher total,
 * top_percent = ceil(100 * rank / size), and a segment under the privacy
 * floor (min_members) is hidden.
 *
 * Where the connections are (ssid_conns.h): field c of the rep's hash while
 * they fit in it, and the set "<prefix>net:{<user_id>}" for the others (or
 * all of them, for a rep an older build wrote). The set is scanned only
 * when field c says it may hold some.
 *
 * Why it is computed on demand. Every rep has a network of their own, so
 * there is no shared aggregate to keep: keeping network ranks current on
 * every score change would cost, for each changed rep, an update of every
 * network the rep is in (up to 30,000 for a well-connected rep). Instead a
 * network rank is computed when asked for (ssictl rank, or a caller on its
 * own schedule), from the rep's connections and the reps' rank records, and an
 * event never costs O(network).
 *
 * What one call costs, for a rep with C connections (every command names
 * one key, so one hash slot):
 *   - Redis: one HMGET of the rep's record (p and s of its hash), one HGET
 *     of its field c (the daemon's batches have it already), the ids of c
 *     looked up with one HGET of p each, then, when c says so, SSCAN of the
 *     set in chunks of about SSID_NETWORK_CHUNK ids, the new ids of each
 *     chunk looked up with one HGET each: O(C) work in all, and no single
 *     command runs longer than a chunk's, so Redis is never blocked for the
 *     whole network.
 *   - Round trips: 2 (the record, c), 1 for the lookups of c's ids when it
 *     has some, then per chunk of the set one for its SSCAN and one for its
 *     lookups (none when it brings no new id); commands: 2, one per id of
 *     c, then per chunk 1 and one per new id. SSCAN's COUNT is a hint, so
 *     chunks vary.
 *   - Many reps at once (ssid_network_rank_batch, the daemon's way): the
 *     lookups of every rep's c ids in one round trip, then the reps' scans
 *     in lockstep, each round one round trip for all their SSCANs and one
 *     for all their lookups: a batch of reps whose connections fit in c
 *     costs 1 round trip, 3 when some have small sets.
 *   - Client memory: one chunk's reply at a time per rep, plus 8 bytes per distinct
 *     connection (a table of 64-bit fingerprints) to skip the members SSCAN
 *     may return twice when the set is resized during the scan.
 * The result is not a snapshot: a score or a connection that changes during
 * the scan is seen either before or after its change.
 *
 * Averages: the network's average total comes from the connections' totals;
 * pillar averages are not computed (avg_pillar_cp is left 0).
 *
 * Library code: no logging; errors in ssid_redis_errstr of the connection.
 */
#ifndef SSID_NETWORK_H
#define SSID_NETWORK_H

#include <stddef.h>
#include <stdint.h>

#include "ssid_conns.h"
#include "ssid_rank.h"
#include "ssid_redis.h"

/* Ids asked for per SSCAN, and most fields per HMGET. */
#define SSID_NETWORK_CHUNK 1000

/* What a call did, for tests and for sizing. */
struct ssid_network_stats {
	uint64_t round_trips; /* pipelines sent and read back */
	uint64_t commands;    /* Redis commands sent */
	uint64_t scanned;     /* ids SSCAN returned, repeats included */
	uint64_t connections; /* distinct connections, the rep left out */
	uint64_t known;	      /* of those, known users (with a rank record) */
};

/*
 * The network position of user_id into out: present false when the rep has
 * no rank record (never ranked); else of = 1 + the known connections, hidden
 * when of < min_members, else rank, top_percent and avg_total_cp. stats may be
 * NULL. Returns 0; -EINVAL for an empty or too long user id or min_members
 * < 1; -EIO (connection dropped), -EBADMSG (a key of the wrong type or a
 * rank record this build cannot read; errstr says which, the connection
 * stays usable), -EACCES or -ENOMEM.
 */
int ssid_network_rank(struct ssid_redis *rd, const char *user_id, int min_members,
		      struct ssid_rank_pos *out, struct ssid_network_stats *stats);

/* One rep of ssid_network_rank_batch. */
struct ssid_network_ask {
	const char *user_id;		/* in; borrowed */
	int total;			/* in: the rep's own total, as it was just ranked */
	const struct ssid_conns *conns; /* in: its field c as loaded, borrowed; NULL: unknown */
	struct ssid_rank_pos pos;	/* out */
};

/*
 * The network positions of asks[0..n) as ssid_network_rank computes them,
 * but from the totals given (the reps are ranked, so present), all in
 * lockstep (see the costs above); stats, when not NULL, sums the reps'.
 * 0, -EINVAL (a bad id or total, min_members < 1), and as ssid_network_rank.
 */
int ssid_network_rank_batch(struct ssid_redis *rd, struct ssid_network_ask *asks, size_t n,
			    int min_members, struct ssid_network_stats *stats);

#endif
