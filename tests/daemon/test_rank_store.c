/*
 * What ssid_rank stores and what it costs, against a real redis-server: the
 * key layout and field names, records written with every batch and
 * aggregates lazily, unreadable records and keys, invalid changes refused
 * before anything is sent, Redis down and back, and the round trips and
 * commands of a 10,000-rep batch (INFO commandstats). A test case of the
 * rank suite (test_rank.c).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <hiredis/hiredis.h>

#include "fixture.h"
#include "rank_util.h"
#include "ssi_rank.h"
#include "ssid_rank.h"
#include "suites.h"

/* ---- cost of a big batch ------------------------------------------------------ */

#define BIG 10000

static int cmp_int_desc(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x < y) - (x > y);
}

/* 1 + how many of sorted (descending) are strictly above total. */
static int64_t rank_in(const int *sorted, size_t n, int total)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (sorted[mid] > total)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (int64_t)lo + 1;
}

/*
 * 10,000 reps over 4 partitions in one call: one round trip to write them,
 * one MULTI per partition holding one HSET of records and one of
 * aggregates, whatever the number of reps; positions exact.
 */
START_TEST (test_big_batch_round_trips) {
	struct ssid_rank *r = rank_open(SSID_RANK_DEFAULT_MIN_MEMBERS, SSID_RANK_DEFAULT_TOP_N);
	struct ssid_rank_change *ch = calloc(BIG, sizeof(*ch));
	char(*id)[16] = calloc(BIG, sizeof(*id));
	char tenant[20][16], team[5][16], industry[8][16];
	int *sorted = calloc(BIG, sizeof(*sorted));
	struct ssid_rank_board *bd = calloc(100, sizeof(*bd));
	struct ssid_rank_entry(*entries)[SSID_RANK_DEFAULT_TOP_N] = calloc(100, sizeof(*entries));
	redisContext *c = fx_redis_peek(&rank_redis);
	struct t_rng rng = {.s = 10000};
	struct ssid_rank_stats st0, st1;
	long long hset0, exec0, multi0, total0;
	const int parts = 4;

	ck_assert(ch && id && sorted && bd && entries);
	for (int t = 0; t < 20; t++)
		snprintf(tenant[t], sizeof(tenant[t]), "t%02d", t);
	for (int m = 0; m < 5; m++)
		snprintf(team[m], sizeof(team[m]), "m%d", m);
	for (int i = 0; i < 8; i++)
		snprintf(industry[i], sizeof(industry[i]), "i%d", i);
	for (int pass = 0; pass < 2; pass++) {
		ssid_rank_get_stats(r, &st0);
		hset0 = fx_redis_command_calls(c, "hset");
		exec0 = fx_redis_command_calls(c, "exec");
		multi0 = fx_redis_command_calls(c, "multi");
		total0 = hset0 + exec0 + multi0 + fx_redis_command_calls(c, "del") +
			 fx_redis_command_calls(c, "incr") + fx_redis_command_calls(c, "hdel") +
			 fx_redis_command_calls(c, "sadd") + fx_redis_command_calls(c, "get") +
			 fx_redis_command_calls(c, "zrange") + fx_redis_command_calls(c, "hmget");
		for (int i = 0; i < BIG; i++) {
			snprintf(id[i], sizeof(id[i]), "big-%05d", i);
			/* The second pass changes every total, so that every rep is written. */
			int total =
			    pass == 0 ? (int)t_below(&rng, 10001)
				      : (ch[i].score.total + 1 + (int)t_below(&rng, 10000)) % 10001;

			change_total(&ch[i], id[i], tenant[i % 20], team[(i / 20) % 5],
				     industry[i % 8], total);
			ch[i].partition = i % parts;
			sorted[i] = ch[i].score.total;
		}
		/* Ranks alone: what the store writes with them is not theirs to count. */
		ck_assert_msg(ssid_rank_apply(r, ch, BIG, true) == 0, "%s", ssid_rank_errstr(r));
		ssid_rank_get_stats(r, &st1);
		/*
		 * The first pass meets the partitions: per partition a DEL of an
		 * older build's records with the SADD, a GET of its (empty) roster
		 * and a ZRANGE of an older build's schedule; then one round trip
		 * writes all.
		 */
		ck_assert_uint_eq(st1.round_trips - st0.round_trips, pass == 0 ? 1 + 3 * parts : 1);
		ck_assert_int_eq(fx_redis_command_calls(c, "multi") - multi0, parts);
		ck_assert_int_eq(fx_redis_command_calls(c, "exec") - exec0, parts);
		/* Per partition: one HSET of its aggregates (the records are the reps' hashes). */
		ck_assert_int_eq(fx_redis_command_calls(c, "hset") - hset0, parts);
		/* The client's count is the server's. */
		ck_assert_uint_eq(st1.commands - st0.commands,
				  (uint64_t)(fx_redis_command_calls(c, "hset") +
					     fx_redis_command_calls(c, "exec") +
					     fx_redis_command_calls(c, "multi") +
					     fx_redis_command_calls(c, "del") +
					     fx_redis_command_calls(c, "incr") +
					     fx_redis_command_calls(c, "hdel") +
					     fx_redis_command_calls(c, "sadd") +
					     fx_redis_command_calls(c, "get") +
					     fx_redis_command_calls(c, "zrange") +
					     fx_redis_command_calls(c, "hmget") - total0));
		qsort(sorted, BIG, sizeof(*sorted), cmp_int_desc);
		for (int i = 0; i < BIG; i++) {
			const struct ssid_rank_pos *g = &ch[i].result[SSID_RANK_GLOBAL].after;

			ck_assert_int_eq(g->of, BIG);
			ck_assert_int_eq(g->rank, rank_in(sorted, BIG, ch[i].score.total));
			ck_assert_int_eq(ch[i].result[SSID_RANK_TEAM].after.of, BIG / 100);
			ck_assert_int_eq(ch[i].result[SSID_RANK_TENANT].after.of, BIG / 20);
			ck_assert_int_eq(ch[i].result[SSID_RANK_INDUSTRY].after.of, BIG / 8);
		}
	}
	/* Every team's leaderboard from memory: no round trip. */
	for (int b = 0; b < 100; b++) {
		bd[b].kind = SSID_RANK_TEAM;
		bd[b].segment[SSI_SEG_TENANT] = tenant[b / 5];
		bd[b].segment[SSI_SEG_TEAM] = team[b % 5];
		bd[b].entry = entries[b];
	}
	ssid_rank_get_stats(r, &st0);
	ck_assert_int_eq(ssid_rank_boards(r, bd, 100), 0);
	ssid_rank_get_stats(r, &st1);
	ck_assert_uint_eq(st1.round_trips - st0.round_trips, 0);
	for (int b = 0; b < 100; b++) {
		ck_assert_uint_eq(bd[b].n, SSID_RANK_DEFAULT_TOP_N);
		for (size_t j = 1; j < bd[b].n; j++)
			ck_assert_int_ge(bd[b].entry[j - 1].total, bd[b].entry[j].total);
	}
	redisFree(c);
	free(entries);
	free(bd);
	free(sorted);
	free(id);
	free(ch);
	ssid_rank_free(r);
}
END_TEST

/* ---- errors, key layout, reconnection ------------------------------------- */

START_TEST (test_invalid_changes) {
	struct ssid_rank *r = rank_open(1, 10);
	struct ssid_rank_change ch[2];
	char long_id[SSI_ID_MAX + 2];
	struct ssid_rank_stats st;

	change_total(&ch[0], "x", "acme", "red", NULL, 100);
	change_total(&ch[1], "x", "acme", "red", NULL, 200);
	ck_assert_int_eq(rank_apply(r, ch, 2, true), -EINVAL);
	ck_assert_ptr_nonnull(strstr(ssid_rank_errstr(r), "twice"));
	change_total(&ch[1], "y", "acme", "red", NULL, 200);
	ch[1].score.total = 201;
	ck_assert_int_eq(rank_apply(r, ch, 2, true), -EINVAL);
	change_total(&ch[1], "y", "acme", "red", NULL, 200);
	ch[1].score.pillar[SSI_BRAND] = 2600;
	ch[1].score.pillar[SSI_PEOPLE] = -2400;
	ck_assert_int_eq(rank_apply(r, ch, 2, true), -EINVAL);
	memset(long_id, 'a', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	change_total(&ch[1], long_id, "acme", "red", NULL, 200);
	ck_assert_int_eq(rank_apply(r, ch, 2, true), -EINVAL);
	change_total(&ch[1], "y", long_id, "red", NULL, 200);
	ck_assert_int_eq(rank_apply(r, ch, 2, true), -EINVAL);
	change_total(&ch[1], "", "acme", "red", NULL, 200);
	ck_assert_int_eq(rank_apply(r, ch, 2, true), -EINVAL);
	/* Nothing was sent for any of them. */
	ssid_rank_get_stats(r, &st);
	ck_assert_uint_eq(st.commands, 0);
	ck_assert_int_eq(rank_apply(r, ch, 0, true), 0);
	ssid_rank_free(r);
}
END_TEST

/*
 * A rep whose record cannot be read (its p, or its state, damaged: its
 * events go to the dead letters) is not counted when its partition is
 * loaded, and counts again from its next score; a roster that cannot be
 * read is an error of the call that names it, and nothing is counted.
 */
START_TEST (test_unreadable_record) {
	struct ssid_rank *r = rank_open(1, 10);
	redisContext *c = fx_redis_peek(&rank_redis);
	struct ssid_rank_change ch[2];
	struct ssid_rank_stats st;
	redisReply *reply;

	change_total(&ch[0], "kept", "acme", "red", NULL, 300);
	change_total(&ch[1], "bad", "acme", "red", NULL, 100);
	ck_assert_int_eq(rank_apply(r, ch, 2, true), 0);
	ssid_rank_free(r);
	reply = redisCommand(c, "HSET ssi:u:{bad} p garbage");
	freeReplyObject(reply);
	r = rank_open(1, 10);
	change_total(&ch[0], "good", "acme", "red", NULL, 200);
	ck_assert_int_eq(rank_apply(r, ch, 1, true), 0);
	ssid_rank_get_stats(r, &st);
	ck_assert_uint_eq(st.loaded, 1); /* kept */
	ck_assert_int_eq(ch[0].result[SSID_RANK_GLOBAL].after.of, 2);
	ck_assert_int_eq(ch[0].result[SSID_RANK_GLOBAL].after.rank, 2);
	ck_assert_int_eq(stored_sum(c, 1, "g", 1), 500);
	/* The damaged rep counts again from its next score. */
	change_total(&ch[0], "bad", "acme", "red", NULL, 100);
	ck_assert_int_eq(rank_apply(r, ch, 1, true), 0);
	ck_assert(!ch[0].had_record);
	ck_assert_int_eq(ch[0].result[SSID_RANK_GLOBAL].after.of, 3);
	/* A roster of the wrong type is an error of the call, nothing is counted. */
	reply = redisCommand(c, "HSET ssi:ro:7 x y");
	freeReplyObject(reply);
	change_total(&ch[1], "other", "acme", "red", NULL, 100);
	ch[1].partition = 7;
	ck_assert_int_eq(ssid_rank_apply(r, &ch[1], 1, true), -EIO);
	ck_assert_msg(strstr(ssid_rank_errstr(r), "ssi:ro:7"), "%s", ssid_rank_errstr(r));
	ck_assert_int_eq(rank_apply(r, ch, 1, true), 0);
	ck_assert_int_eq(ch[0].result[SSID_RANK_GLOBAL].after.of, 3);
	redisFree(c);
	ssid_rank_free(r);
}
END_TEST

START_TEST (test_key_layout) {
	struct ssid_rank *r = rank_open(1, 10);
	redisContext *c = fx_redis_peek(&rank_redis);
	const char *odd[SSI_SEG__COUNT] = {"a:b{c}", "x y%", "soft"};
	const char *plain[SSI_SEG__COUNT] = {"acme", "", "retail"};
	struct ssid_rank_change ch;
	struct ssi_rank_record rec;
	struct ssi_rankagg agg;
	char key[256];
	bool present;

	ck_assert_int_eq(ssid_rank_segment_field(SSID_RANK_TEAM, odd, key, sizeof(key)),
			 (int)strlen("m:a%3Ab%7Bc%7D:x%20y%25"));
	ck_assert_str_eq(key, "m:a%3Ab%7Bc%7D:x%20y%25");
	ck_assert_int_gt(ssid_rank_segment_field(SSID_RANK_GLOBAL, plain, key, sizeof(key)), 0);
	ck_assert_str_eq(key, "g");
	ck_assert_int_gt(ssid_rank_segment_field(SSID_RANK_INDUSTRY, plain, key, sizeof(key)), 0);
	ck_assert_str_eq(key, "i:retail");
	ck_assert_int_gt(ssid_rank_segment_field(SSID_RANK_TENANT, plain, key, sizeof(key)), 0);
	ck_assert_str_eq(key, "t:acme");
	ck_assert_int_eq(ssid_rank_segment_field(SSID_RANK_TEAM, plain, key, sizeof(key)), -ENOENT);
	ssid_rank_key_records("ssi:", 12, key, sizeof(key));
	ck_assert_str_eq(key, "ssi:rk:{p12}:u");
	ssid_rank_key_aggs("ssi:", 12, key, sizeof(key));
	ck_assert_str_eq(key, "ssi:rk:{p12}:s");
	ssid_rank_key_version("ssi:", 12, key, sizeof(key));
	ck_assert_str_eq(key, "ssi:rk:{p12}:v");
	ssid_rank_key_parts("ssi:", key, sizeof(key));
	ck_assert_str_eq(key, "ssi:rk:parts");

	change_set(&ch, "rep-1", "a:b{c}", "x y%", NULL, 100, 200, 300, 400);
	ch.partition = 3;
	ck_assert_int_eq(rank_apply(r, &ch, 1, true), 0);
	ck_assert(stored_record("rep-1", &rec));
	ck_assert_int_eq(rec.score.total, 1000);
	ck_assert_int_eq(rec.score.pillar[SSI_RELATIONSHIPS], 400);
	ck_assert_str_eq(rec.segment[SSI_SEG_TENANT], "a:b{c}");
	ck_assert_str_eq(rec.segment[SSI_SEG_TEAM], "x y%");
	ck_assert_str_eq(rec.segment[SSI_SEG_INDUSTRY], "");
	stored_agg(c, 3, "m:a%3Ab%7Bc%7D:x%20y%25", &agg, &present);
	ck_assert(present);
	ck_assert_int_eq(agg.n, 1);
	ck_assert_uint_eq(agg.top.n, 1);
	ck_assert_str_eq(agg.top.m[0].user_id, "rep-1");
	ssi_rankagg_clear(&agg);
	ck_assert_int_eq(peek_int(c, "SISMEMBER %s %s", "ssi:rk:parts", "3"), 1);
	ck_assert_int_eq(peek_int(c, "GET %s", "ssi:rk:{p3}:v", NULL), 1);
	redisFree(c);
	ssid_rank_free(r);
}
END_TEST

/*
 * Records are the reps' hashes, which the store writes with every batch;
 * aggregates, which only other instances and ssictl read, go to Redis at
 * most every half refresh_ms and at a refresh.
 */
START_TEST (test_aggregates_written_lazily) {
	struct ssid_redis_opts so = fx_redis_opts(&rank_redis);
	struct ssid_rank_opts ro = {.min_members = 1, .top_n = 10, .refresh_ms = 3600000};
	struct ssid_rank *r = NULL;
	redisContext *c = fx_redis_peek(&rank_redis);
	struct ssid_rank_change ch;
	struct ssi_rank_record rec;

	ck_assert_int_eq(ssid_rank_new(&r, &so, &ro), 0);
	/* The first write of a partition is due (nothing was written yet). */
	change_total(&ch, "a", "acme", "red", NULL, 100);
	ck_assert_int_eq(rank_apply(r, &ch, 1, true), 0);
	ck_assert_int_eq(stored_sum(c, 1, "g", 0), 1);
	change_total(&ch, "b", "acme", "red", NULL, 300);
	ck_assert_int_eq(rank_apply(r, &ch, 1, true), 0);
	ck_assert(stored_record("b", &rec));
	ck_assert_int_eq(rec.score.total, 300);
	ck_assert_int_eq(stored_sum(c, 1, "g", 0), 1);		   /* not yet */
	ck_assert_int_eq(ch.result[SSID_RANK_GLOBAL].after.of, 2); /* in memory, at once */
	ck_assert_int_eq(ssid_rank_refresh(r, 0, true), 0);
	ck_assert_int_eq(stored_sum(c, 1, "g", 0), 2);
	ck_assert_int_eq(stored_sum(c, 1, "g", 1), 400);
	redisFree(c);
	ssid_rank_free(r);
}
END_TEST

START_TEST (test_redis_down_then_back) {
	struct ssid_rank *r = rank_open(1, 10);
	struct ssid_rank_change ch;
	char dir[PATH_MAX];

	change_total(&ch, "u", "acme", "red", NULL, 100);
	ck_assert_int_eq(rank_apply(r, &ch, 1, true), 0);
	ck_assert_int_eq(fx_redis_stop(&rank_redis), 0);
	change_total(&ch, "u", "acme", "red", NULL, 200);
	ck_assert_int_eq(rank_apply(r, &ch, 1, true), -EIO);
	ck_assert_str_ne(ssid_rank_errstr(r), "");
	ck_assert_int_eq(rank_apply(r, &ch, 1, true), -EIO);
	ck_assert_ptr_nonnull(strstr(ssid_rank_errstr(r), "connect"));
	ck_assert_int_eq(fx_redis_start(&rank_redis, fx_path(dir, sizeof(dir), "redis"), false), 0);
	/* A fresh, empty server (the daemon sees its new epoch and resets): the rep is new there.
	 */
	ssid_rank_reset(r);
	ck_assert_int_eq(rank_apply(r, &ch, 1, true), 0);
	ck_assert(!ch.had_record);
	ck_assert_int_eq(ch.result[SSID_RANK_TENANT].after.of, 1);
	ssid_rank_free(r);
}
END_TEST

/* As the pipeline does: in memory, then the write sent, not waited for. */
static int apply_sent(struct ssid_rank *r, struct ssid_rank_change *ch)
{
	int e = ssid_rank_apply(r, ch, 1, false);

	return e < 0 ? e : ssid_rank_send(r);
}

/*
 * The pipeline's write (the aggregates: refresh_ms 0 writes them with every
 * batch) is sent and waited for later (ssid_rank_collect). A write whose
 * replies never come (its connection killed while Redis held writes back,
 * so it never ran) stays pending, fails the collect, and goes out again
 * with the next write; a call that touches Redis collects first.
 */
START_TEST (test_sent_then_collected) {
	struct ssid_rank *r = rank_open(1, 10);
	redisContext *c = fx_redis_peek(&rank_redis);
	struct ssid_rank_change ch;
	redisReply *rp;

	change_total(&ch, "a", "acme", "red", NULL, 100);
	ck_assert_int_eq(apply_sent(r, &ch), 0);
	ck_assert_int_eq(ssid_rank_collect(r), 0);
	ck_assert_int_eq(ssid_rank_collect(r), 0); /* nothing left to wait for */
	ck_assert_int_eq(stored_sum(c, 1, "g", 1), 100);

	/* Held back, then its connection killed: the write never runs. */
	rp = redisCommand(c, "CLIENT PAUSE 10000 WRITE");
	ck_assert(rp && rp->type == REDIS_REPLY_STATUS);
	freeReplyObject(rp);
	change_total(&ch, "a", "acme", "red", NULL, 200);
	ck_assert_int_eq(apply_sent(r, &ch), 0);
	rp = redisCommand(c, "CLIENT KILL TYPE normal SKIPME yes");
	ck_assert(rp && rp->type == REDIS_REPLY_INTEGER && rp->integer >= 1);
	freeReplyObject(rp);
	rp = redisCommand(c, "CLIENT UNPAUSE");
	freeReplyObject(rp);
	ck_assert_int_eq(ssid_rank_collect(r), -EIO);
	ck_assert_int_eq(stored_sum(c, 1, "g", 1), 100);

	/* Another rep's write carries a's again, and a synchronous apply collects first. */
	change_total(&ch, "b", "acme", "red", NULL, 300);
	ck_assert_int_eq(apply_sent(r, &ch), 0);
	change_total(&ch, "c", "acme", "red", NULL, 400);
	ck_assert_int_eq(ssid_rank_apply(r, &ch, 1, true), 0);
	ck_assert_int_eq(stored_sum(c, 1, "g", 0), 3);
	ck_assert_int_eq(stored_sum(c, 1, "g", 1), 200 + 300 + 400);
	redisFree(c);
	ssid_rank_free(r);
}
END_TEST

TCase *rank_store_tcase(void)
{
	return T_TCASE("store", rank_setup, rank_teardown, 120, test_big_batch_round_trips,
		       test_invalid_changes, test_unreadable_record, test_key_layout,
		       test_redis_down_then_back, test_aggregates_written_lazily,
		       test_sent_then_collected);
}
