/*
 * What the rank suite's files share (rank_util.c defines it): a
 * redis-server per test, ssid_rank opened on it, changes built in a line,
 * and readers of what ssid_rank stored per partition. The suite's files:
 * test_rank.c (ranks, averages, privacy floor, boards, options),
 * test_rank_model.c (random batches against a plain model, one and three
 * instances), test_rank_store.c (what is stored and what it costs, errors).
 */
#ifndef SSID_TEST_RANK_UTIL_H
#define SSID_TEST_RANK_UTIL_H

#include <stdbool.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "fixture.h"
#include "ssi_rank.h"
#include "ssid_rank.h"

/* Started by rank_setup, stopped by rank_teardown: the suite's checked fixture. */
extern struct fx_redis rank_redis;
void rank_setup(void);
void rank_teardown(void);

/* ssid_rank on rank_redis: this floor and board length, refresh_ms 0 (aggregates with every
 * batch, other instances' partitions read at every refresh). */
struct ssid_rank *rank_open(int min_members, int top_n);

/*
 * ssid_rank_apply, then what the daemon's store writes with it: each
 * changed rep's hash (its delivered score p and a state in its segments)
 * and roster entry, since those are the rank records (ssid_store.h); a
 * removed rep's hash is deleted. rank_apply does it on rank_redis. Returns
 * ssid_rank_apply's result (nothing is stored unless 0).
 */
int rank_apply_at(const struct ssid_redis_opts *o, struct ssid_rank *r, struct ssid_rank_change *ch,
		  size_t n, bool persist);
int rank_apply(struct ssid_rank *r, struct ssid_rank_change *ch, size_t n, bool persist);
/* Store the records of ch[0..n) on o's Redis as the daemon's store would. */
void rank_store_changes(const struct ssid_redis_opts *o, const struct ssid_rank_change *ch,
			size_t n);

/* A command's integer or integer string reply (0 for nil). */
long long peek_int(redisContext *c, const char *fmt, const char *arg1, const char *arg2);
/*
 * The stored aggregate of segment field in partition part (empty when the
 * field is absent), decoded; *present says whether the field exists.
 */
void stored_agg(redisContext *c, int32_t part, const char *field, struct ssi_rankagg *out,
		bool *present);
/* Members (sum 0) or a sum (1 total, 2.. pillars) of a segment, stored over parts partitions. */
long long stored_sum(redisContext *c, int parts, const char *field, int sum);
/* id's rank record as stored on rank_redis (its hash's p and s); false when there is none. */
bool stored_record(const char *id, struct ssi_rank_record *rec);

/* One rep's change, pillar by pillar (partition 0). */
void change_set(struct ssid_rank_change *c, const char *id, const char *tenant, const char *team,
		const char *industry, int b, int p, int i, int r);
/* One rep whose total is all in the brand pillar (up to 2500) and spills over. */
void change_total(struct ssid_rank_change *c, const char *id, const char *tenant, const char *team,
		  const char *industry, int total);

#endif
