/*
 * ssid_network against a real redis-server: network ranks checked against a
 * plain in-test oracle over random networks (unknown connections, the rep in
 * their own set, ties, the privacy floor), integer-encoded sets, a 30,000
 * connection network and what it costs (round trips and commands, SSCAN,
 * HGET and HMGET calls counted by the server), connections written by
 * ssid_store (field c, the set past it, an older build's set), and errors.
 * The rank records
 * are written by ssid_rank, spread over RANK_PARTS partitions.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>
#include <hiredis/hiredis.h>

#include "fixture.h"
#include "ssid_network.h"
#include "ssid_rank.h"
#include "ssid_store.h"
#include "rank_util.h"
#include "suites.h"

/* Ranked reps go to partition i % RANK_PARTS, as if their events came from there. */
#define RANK_PARTS 3

static struct fx_redis redis;

static void setup(void)
{
	fx_redis_setup(&redis);
}

static void teardown(void)
{
	fx_redis_teardown(&redis);
}

/* Rank reps ids[0..n) with totals[] in the global segment, through ssid_rank,
 * in batches; rep i in partition i % RANK_PARTS. */
static void rank_reps(char (*ids)[24], const int *totals, size_t n)
{
	struct ssid_redis_opts o = fx_redis_opts(&redis);
	struct ssid_rank *r = NULL;
	struct ssid_rank_change *ch = calloc(n ? n : 1, sizeof(*ch));

	ck_assert_ptr_nonnull(ch);
	ck_assert_int_eq(ssid_rank_new(&r, &o, NULL), 0);
	for (size_t i = 0; i < n; i++) {
		int rest = totals[i];

		ch[i].user_id = ids[i];
		ch[i].partition = (int32_t)(i % RANK_PARTS);
		for (int p = 0; p < SSI_PILLAR__COUNT; p++) {
			ch[i].score.pillar[p] = rest > 2500 ? 2500 : rest;
			rest -= ch[i].score.pillar[p];
		}
		ch[i].score.total = totals[i];
	}
	for (size_t at = 0; at < n; at += 10000) {
		size_t k = n - at < 10000 ? n - at : 10000;

		ck_assert_msg(rank_apply_at(&o, r, ch + at, k, true) == 0, "%s",
			      ssid_rank_errstr(r));
	}
	ssid_rank_free(r);
	free(ch);
}

/* SADD members[0..n) to user's connection set, pipelined. */
static void connect_all(redisContext *c, const char *user, char (*members)[24], size_t n)
{
	char key[256];

	/* As an older build kept them: all in the set, no field c to say otherwise. */
	fx_redis_peek_ok(c, redisCommand(c, "HDEL ssi:u:{%s} c", user));
	snprintf(key, sizeof(key), "ssi:net:{%s}", user);
	for (size_t i = 0; i < n; i++)
		redisAppendCommand(c, "SADD %s %s", key, members[i]);
	for (size_t i = 0; i < n; i++) {
		redisReply *reply = NULL;

		ck_assert_int_eq(redisGetReply(c, (void **)&reply), REDIS_OK);
		fx_redis_peek_ok(c, reply);
	}
}

/* The oracle: what the network position must be. */
static void oracle(int own, const int *known_totals, size_t nknown, int min_members,
		   struct ssid_rank_pos *want)
{
	int64_t of = 1 + (int64_t)nknown, higher = 0;
	double sum = own;

	memset(want, 0, sizeof(*want));
	want->present = true;
	want->of = of;
	for (size_t i = 0; i < nknown; i++) {
		higher += known_totals[i] > own;
		sum += known_totals[i];
	}
	if (of < min_members) {
		want->hidden = true;
		return;
	}
	want->rank = higher + 1;
	want->top_percent = (int)ceil(100.0 * (double)want->rank / (double)of);
	want->avg_total_cp = (int)round(sum / (double)of);
}

static void check_pos(const struct ssid_rank_pos *got, const struct ssid_rank_pos *want,
		      const char *who)
{
	ck_assert_msg(
	    got->present == want->present && got->hidden == want->hidden && got->of == want->of &&
		got->rank == want->rank && got->top_percent == want->top_percent &&
		got->avg_total_cp == want->avg_total_cp,
	    "%s: got present %d hidden %d rank %lld of %lld top %d avg %d cp; "
	    "want present %d hidden %d rank %lld of %lld top %d avg %d cp",
	    who, got->present, got->hidden, (long long)got->rank, (long long)got->of,
	    got->top_percent, got->avg_total_cp, want->present, want->hidden, (long long)want->rank,
	    (long long)want->of, want->top_percent, want->avg_total_cp);
	for (int p = 0; p < SSI_PILLAR__COUNT; p++)
		ck_assert_int_eq(got->avg_pillar_cp[p], 0);
}

START_TEST (network_small_exact) {
	char ids[6][24] = {"me", "a", "b", "c", "d", "loner"};
	int totals[6] = {5000, 6000, 5000, 5000, 4000, 7000};
	char conns[6][24] = {"a", "b", "c", "d", "me", "stranger"};
	redisContext *c = fx_redis_peek(&redis);
	struct ssid_redis *rd = fx_redis_client(&redis);
	struct ssid_network_stats st;
	struct ssid_rank_pos pos;
	char key[64];

	rank_reps(ids, totals, 6);
	connect_all(c, "me", conns, 6);
	ck_assert_int_eq(ssid_conns_set_key(rd, "me", key, sizeof(key)), 12);
	ck_assert_str_eq(key, "ssi:net:{me}");

	/* me 50.00; a 60.00 higher; b, c 50.00 equal (not higher); d lower; stranger
	 * unknown. */
	ck_assert_int_eq(ssid_network_rank(rd, "me", 5, &pos, &st), 0);
	ck_assert(pos.present && !pos.hidden);
	ck_assert_int_eq(pos.rank, 2);
	ck_assert_int_eq(pos.of, 5);
	ck_assert_int_eq(pos.top_percent, 40);
	ck_assert_int_eq(pos.avg_total_cp, 5000);
	ck_assert_int_eq(st.scanned, 6);
	ck_assert_int_eq(st.connections, 5); /* the rep's own id left out */
	ck_assert_int_eq(st.known, 4);
	/*
	 * The rep's record, its field c (none: its set holds everything), one
	 * SSCAN chunk, its lookups (an HGET of each connection's p).
	 */
	ck_assert_int_eq(st.round_trips, 4);
	ck_assert_int_eq(st.commands, 1 + 1 + 1 + 5);

	/* The privacy floor: 5 members under a floor of 6 are hidden, size kept. */
	ck_assert_int_eq(ssid_network_rank(rd, "me", 6, &pos, NULL), 0);
	ck_assert(pos.present && pos.hidden);
	ck_assert_int_eq(pos.of, 5);
	ck_assert_int_eq(pos.rank, 0);
	ck_assert_int_eq(pos.top_percent, 0);
	ck_assert_int_eq(pos.avg_total_cp, 0);

	/* No connection at all (its c says so, no set read): a network of one. */
	ck_assert_int_eq(ssid_network_rank(rd, "loner", 1, &pos, &st), 0);
	ck_assert(pos.present && !pos.hidden);
	ck_assert_int_eq(pos.rank, 1);
	ck_assert_int_eq(pos.of, 1);
	ck_assert_int_eq(pos.top_percent, 100);
	ck_assert_int_eq(pos.avg_total_cp, 7000);
	ck_assert_int_eq(st.round_trips, 2); /* the record, c: nothing to look up */
	ck_assert_int_eq(st.commands, 1 + 1);

	/* A rep never ranked has no network position, whatever their set holds:
	 * their set is not even read. */
	connect_all(c, "ghost", conns, 6);
	ck_assert_int_eq(ssid_network_rank(rd, "ghost", 1, &pos, &st), 0);
	ck_assert(!pos.present && !pos.hidden);
	ck_assert_int_eq(pos.of, 0);
	ck_assert_int_eq(st.round_trips, 1); /* its record: none */
	ck_assert_int_eq(st.scanned, 0);

	ssid_redis_free(rd);
	redisFree(c);
}
END_TEST

/*
 * Random networks over 300 ranked reps, every rep checked against the
 * oracle, one at a time and then all at once as the daemon asks
 * (ssid_network_rank_batch: its round trips do not grow with the reps).
 */
START_TEST (network_random_oracle) {
	enum { REPS = 300, EXTRA = 40, BATCH_FLOOR = 5 };
	static char ids[REPS + EXTRA][24];
	static int totals[REPS];
	static char conns[REPS + EXTRA][24];
	static int known[REPS][REPS + EXTRA];
	static size_t nknown[REPS];
	static struct ssid_network_ask asks[REPS];
	struct ssid_network_stats st;
	long long sscan, hget, smembers;
	struct t_rng rng = {.s = 0x5eed0001};
	redisContext *c = fx_redis_peek(&redis);
	struct ssid_redis *rd = fx_redis_client(&redis);

	for (int i = 0; i < REPS + EXTRA; i++)
		snprintf(ids[i], sizeof(ids[i]), "rep-%03d", i); /* the last EXTRA unranked */
	for (int i = 0; i < REPS; i++)
		totals[i] = (int)t_below(&rng, 41) * 250; /* coarse: many ties */
	rank_reps(ids, totals, REPS);
	for (int i = 0; i < REPS; i++) {
		size_t n = 0;
		int floor = 1 + (int)t_below(&rng, 12);
		struct ssid_rank_pos got, want;
		bool in[REPS + EXTRA] = {0};

		for (int j = 0, want_n = (int)t_below(&rng, 60); j < want_n; j++) {
			int who = (int)t_below(&rng, REPS + EXTRA);

			if (in[who])
				continue;
			in[who] = true;
			memcpy(conns[n++], ids[who], sizeof(ids[who]));
			if (who != i && who < REPS)
				known[i][nknown[i]++] = totals[who];
		}
		connect_all(c, ids[i], conns, n);
		oracle(totals[i], known[i], nknown[i], floor, &want);
		ck_assert_int_eq(ssid_network_rank(rd, ids[i], floor, &got, NULL), 0);
		check_pos(&got, &want, ids[i]);
	}
	for (int i = 0; i < REPS; i++) {
		asks[i].user_id = ids[i];
		asks[i].total = totals[i];
	}
	sscan = -fx_redis_command_calls(c, "sscan");
	hget = -fx_redis_command_calls(c, "hget");
	smembers = -fx_redis_command_calls(c, "smembers");
	ck_assert_int_eq(ssid_network_rank_batch(rd, asks, REPS, BATCH_FLOOR, &st), 0);
	sscan += fx_redis_command_calls(c, "sscan");
	hget += fx_redis_command_calls(c, "hget");
	smembers += fx_redis_command_calls(c, "smembers");
	for (int i = 0; i < REPS; i++) {
		struct ssid_rank_pos want;

		oracle(totals[i], known[i], nknown[i], BATCH_FLOOR, &want);
		check_pos(&asks[i].pos, &want, ids[i]);
	}
	/* Small sets come back whole: one SSCAN round, one lookup round. */
	ck_assert_int_eq(smembers, 0);
	ck_assert_int_eq(sscan, REPS);
	ck_assert_int_eq(st.commands, sscan + hget);
	ck_assert_int_eq(st.round_trips, 2);
	/* Bad asks are refused before anything is sent. */
	asks[0].total = -1;
	ck_assert_int_eq(ssid_network_rank_batch(rd, asks, REPS, BATCH_FLOOR, NULL), -EINVAL);
	asks[0].total = totals[0];
	ck_assert_int_eq(ssid_network_rank_batch(rd, asks, REPS, 0, NULL), -EINVAL);
	ck_assert_int_eq(ssid_network_rank_batch(rd, asks, 0, BATCH_FLOOR, NULL), 0);
	ssid_redis_free(rd);
	redisFree(c);
}
END_TEST

/* Numeric ids make an integer-encoded set; SSCAN hands it back whole. */
START_TEST (network_intset) {
	char ids[4][24] = {"1001", "1002", "1003", "1004"};
	int totals[4] = {3000, 3100, 2900, 3000};
	char conns[4][24] = {"1002", "1003", "1004", "99999"};
	redisContext *c = fx_redis_peek(&redis);
	struct ssid_redis *rd = fx_redis_client(&redis);
	struct ssid_rank_pos pos;
	redisReply *enc;

	rank_reps(ids, totals, 4);
	connect_all(c, "1001", conns, 4);
	enc = redisCommand(c, "OBJECT ENCODING ssi:net:{1001}");
	ck_assert_ptr_nonnull(enc);
	ck_assert_str_eq(enc->str, "intset");
	freeReplyObject(enc);
	ck_assert_int_eq(ssid_network_rank(rd, "1001", 2, &pos, NULL), 0);
	ck_assert_int_eq(pos.rank, 2);
	ck_assert_int_eq(pos.of, 4);
	ck_assert_int_eq(pos.top_percent, 50);
	ck_assert_int_eq(pos.avg_total_cp, 3000); /* (3000 + 3100 + 2900 + 3000) / 4 */
	ssid_redis_free(rd);
	redisFree(c);
}
END_TEST

/*
 * A 30,000-connection network, 20,000 of them known: exact, and the cost the
 * header states, checked against the server's own counts: the partition
 * list once, one HGET per partition for the rep's record, one for its
 * field c (none here), then per SSCAN
 * chunk one round trip for the SSCAN and one for its lookups (one HMGET per
 * partition, at most SSID_NETWORK_CHUNK ids each).
 */
START_TEST (network_large_cost) {
	enum { CONNS = 30000, KNOWN = 20000 };
	char(*ids)[24] = calloc(CONNS + 1, sizeof(*ids));
	int *totals = calloc(CONNS + 1, sizeof(*totals));
	struct t_rng rng = {.s = 0x5eed0002};
	redisContext *c = fx_redis_peek(&redis);
	struct ssid_redis *rd = fx_redis_client(&redis);
	struct ssid_network_stats st;
	struct ssid_rank_pos got, want;
	struct timespec t0, t1;
	long long hmget, sscan, hget, smembers;
	double ms;

	ck_assert(ids && totals);
	snprintf(ids[0], sizeof(ids[0]), "hub");
	totals[0] = 5555;
	for (int i = 1; i <= CONNS; i++) {
		snprintf(ids[i], sizeof(ids[i]), "conn-%05d", i);
		totals[i] = (int)t_below(&rng, 10001);
	}
	rank_reps(ids, totals, 1 + KNOWN); /* the hub and the first 20,000 connections */
	connect_all(c, "hub", ids + 1, CONNS);
	oracle(totals[0], totals + 1, KNOWN, 10, &want);
	hmget = -fx_redis_command_calls(c, "hmget");
	sscan = -fx_redis_command_calls(c, "sscan");
	hget = -fx_redis_command_calls(c, "hget");
	smembers = -fx_redis_command_calls(c, "smembers");

	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(ssid_network_rank(rd, "hub", 10, &got, &st), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	hmget += fx_redis_command_calls(c, "hmget");
	sscan += fx_redis_command_calls(c, "sscan");
	hget += fx_redis_command_calls(c, "hget");
	smembers += fx_redis_command_calls(c, "smembers");
	check_pos(&got, &want, "hub");
	ck_assert_int_eq(st.connections, CONNS);
	ck_assert_int_eq(st.known, KNOWN);
	ck_assert_uint_ge(st.scanned, CONNS);
	ck_assert_int_eq(smembers, 0);
	ck_assert_int_eq(hmget, 1); /* the rep's record */
	/* Its field c, then one HGET of p per connection met (each once). */
	ck_assert_int_eq(hget, 1 + CONNS);
	ck_assert_msg(sscan <= 2 + 2 * (CONNS / SSID_NETWORK_CHUNK), "%lld SSCANs", sscan);
	/* The stats say what the server saw. */
	ck_assert_int_eq(st.commands, hmget + hget + sscan);
	/* The record, c; each SSCAN a round trip, then one for its lookups. */
	ck_assert_int_le(st.round_trips, 2 + 2 * sscan);
	ck_assert_int_ge(st.round_trips, 2 + sscan + 1);
	fprintf(stderr,
		"network rank of %d connections (%d known, %d partitions): %.1f ms, "
		"%llu round trips, %llu commands\n",
		CONNS, KNOWN, RANK_PARTS, ms, (unsigned long long)st.round_trips,
		(unsigned long long)st.commands);
	ssid_redis_free(rd);
	redisFree(c);
	free(ids);
	free(totals);
}
END_TEST

START_TEST (network_errors) {
	char ids[1][24] = {"me"};
	int totals[1] = {1234};
	char long_id[SSI_ID_MAX + 2];
	redisContext *c = fx_redis_peek(&redis);
	struct ssid_redis *rd = fx_redis_client(&redis);
	struct ssid_rank_pos pos;

	rank_reps(ids, totals, 1);
	/* As an older build wrote it: no c, so its set is read. */
	fx_redis_peek_ok(c, redisCommand(c, "HDEL ssi:u:{me} c"));
	memset(long_id, 'x', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	ck_assert_int_eq(ssid_network_rank(rd, "", 1, &pos, NULL), -EINVAL);
	ck_assert_int_eq(ssid_network_rank(rd, NULL, 1, &pos, NULL), -EINVAL);
	ck_assert_int_eq(ssid_network_rank(rd, long_id, 1, &pos, NULL), -EINVAL);
	ck_assert_int_eq(ssid_network_rank(rd, "me", 0, &pos, NULL), -EINVAL);

	/* A connection key of the wrong type is not ours: said, and nothing
	 * half-read. */
	fx_redis_peek_ok(c, redisCommand(c, "SET ssi:net:{me} oops"));
	ck_assert_int_eq(ssid_network_rank(rd, "me", 1, &pos, NULL), -EBADMSG);
	ck_assert_msg(strstr(ssid_redis_errstr(rd), "WRONGTYPE"), "%s", ssid_redis_errstr(rd));
	fx_redis_peek_ok(c, redisCommand(c, "DEL ssi:net:{me}"));
	ck_assert_int_eq(ssid_network_rank(rd, "me", 1, &pos, NULL), 0);
	ck_assert_int_eq(pos.of, 1);

	/*
	 * A rank record that is not one (p of the rep's hash): the rep's own is
	 * an error, a connection's makes it no known rep.
	 */
	{
		redisReply *good = redisCommand(c, "HGET ssi:u:{me} p");

		ck_assert(good && good->type == REDIS_REPLY_STRING);
		fx_redis_peek_ok(c, redisCommand(c, "HSET ssi:u:{me} p %s", "not a score"));
		ck_assert_int_eq(ssid_network_rank(rd, "me", 1, &pos, NULL), -EBADMSG);
		ck_assert_msg(strstr(ssid_redis_errstr(rd), "rank record 'me'"), "%s",
			      ssid_redis_errstr(rd));
		fx_redis_peek_ok(c, redisCommand(c, "HSET ssi:u:{me} p %b", good->str, good->len));
		freeReplyObject(good);
		ck_assert_int_eq(ssid_network_rank(rd, "me", 1, &pos, NULL), 0);
		fx_redis_peek_ok(c, redisCommand(c, "HSET ssi:u:{friend} p %s", "RR\x01junk"));
		fx_redis_peek_ok(c, redisCommand(c, "SADD ssi:net:{me} friend"));
		ck_assert_int_eq(ssid_network_rank(rd, "me", 1, &pos, NULL), 0);
		ck_assert(pos.present && pos.of == 1);
		/* Read whole: the connection serves the next call. */
		fx_redis_peek_ok(c, redisCommand(c, "DEL ssi:u:{friend}"));
		ck_assert_int_eq(ssid_network_rank(rd, "me", 1, &pos, NULL), 0);
		ck_assert(pos.present && pos.of == 1);
	}

	/* Redis gone: -EIO, and the next call after it is back reconnects. */
	ck_assert_int_eq(fx_redis_stop(&redis), 0);
	ck_assert_int_eq(ssid_network_rank(rd, "me", 1, &pos, NULL), -EIO);
	redisFree(c);
	{
		char dir[PATH_MAX];

		ck_assert_int_eq(fx_redis_start(&redis, fx_path(dir, sizeof(dir), "redis"), false),
				 0);
	}
	rank_reps(ids, totals, 1);
	ck_assert_int_eq(ssid_network_rank(rd, "me", 1, &pos, NULL), 0);
	ck_assert(pos.present && pos.rank == 1 && pos.of == 1);
	ssid_redis_free(rd);
}
END_TEST

/* Apply ops ("+id" adds, "-id" removes) to user's connections through ssid_store, as ssid does. */
static void store_conns(struct ssid_store *s, const char *user, const char *const *ops, size_t n)
{
	struct ssid_net_op net[16];
	struct ssid_user u;

	ck_assert_uint_le(n, 16);
	for (size_t i = 0; i < n; i++)
		net[i] = (struct ssid_net_op){.add = ops[i][0] == '+', .connection_id = ops[i] + 1};
	ssid_user_init(&u, user);
	u.partition = 0; /* cached by a store that caches */
	ck_assert_int_eq(ssid_store_load(s, &u, 1), 0);
	u.net = net;
	u.nnet = n;
	ssid_store_stage_state(&u, false);
	ck_assert_int_eq(ssid_store_save(s, &u, 1), 0);
	ssid_user_clear(&u);
}

/* One rep's network through ssid_network_rank_batch, from its field c as the store loads it. */
static void batch_rank(struct ssid_store *s, struct ssid_redis *rd, const char *user, int total,
		       struct ssid_rank_pos *pos, struct ssid_network_stats *st)
{
	struct ssid_user u;
	struct ssid_network_ask ask = {.user_id = user, .total = total};

	ssid_user_init(&u, user);
	u.partition = 0;
	ck_assert_int_eq(ssid_store_load(s, &u, 1), 0);
	ask.conns = &u.conns;
	ck_assert_int_eq(ssid_network_rank_batch(rd, &ask, 1, 1, st), 0);
	*pos = ask.pos;
	ssid_user_clear(&u);
}

/*
 * Connections as the daemon writes them: in the rep's field c while they
 * fit (no set, no SSCAN: 2 round trips for a batch), the rest in the set
 * (scanned because c says so), removals from both, and a rep an older build
 * left with its set only: all counted once, as the oracle says.
 */
START_TEST (network_packed_and_spilled) {
	static char ids[8][24] = {"me",
				  "a",
				  "b",
				  "d",
				  "small",
				  "old",
				  "rep-long-id-00000000001",
				  "rep-long-id-00000000002"};
	static const int totals[8] = {5000, 6000, 4000, 7000, 3000, 5500, 5000, 2000};
	static const char *const me_ops[] = {"+a",
					     "+b",
					     "+d",
					     "+me",
					     "+stranger",
					     "+rep-long-id-00000000001",
					     "+rep-long-id-00000000002",
					     "-b",
					     "+a"};
	static const char *const small_ops[] = {"+a", "+d", "-d", "+small"};
	static const char *const old_ops[] = {"+b"};
	struct ssid_redis_opts o = fx_redis_opts(&redis);
	redisContext *c = fx_redis_peek(&redis);
	struct ssid_redis *rd = fx_redis_client(&redis);
	struct ssid_network_stats st;
	struct ssid_rank_pos got, want;
	struct ssid_store *s = NULL;
	long long sscan;
	redisReply *r;

	rank_reps(ids, totals, 8);
	ck_assert_int_eq(ssid_store_new(&s, &o), 0);

	/* me: a, d and the first long id fit in c; the second goes to the set, b leaves both. */
	store_conns(s, "me", me_ops, sizeof(me_ops) / sizeof(me_ops[0]));
	r = redisCommand(c, "HGET ssi:u:{me} c");
	ck_assert(r && r->type == REDIS_REPLY_STRING);
	ck_assert_int_eq(r->len, 1 + 2 + 2 + 3 + 9 + 24); /* flags, a, d, me, stranger, a long id */
	ck_assert_int_eq(r->str[0], SSID_CONNS_SPILLED);
	ck_assert(ssid_conns_valid(r->str, r->len));
	freeReplyObject(r);
	r = redisCommand(c, "SMEMBERS ssi:net:{me}");
	ck_assert(r && r->type == REDIS_REPLY_ARRAY && r->elements == 1);
	ck_assert_str_eq(r->element[0]->str, "rep-long-id-00000000002");
	freeReplyObject(r);
	{
		const int known[] = {6000, 7000, 5000, 2000}; /* a, d, both long ids */

		oracle(5000, known, 4, 1, &want);
	}
	ck_assert_int_eq(ssid_network_rank(rd, "me", 1, &got, &st), 0);
	check_pos(&got, &want, "me");
	ck_assert_int_eq(st.connections, 5); /* stranger too */
	batch_rank(s, rd, "me", 5000, &got, &st);
	check_pos(&got, &want, "me (batch)");
	ck_assert_int_eq(st.round_trips, 3); /* c's lookups, SSCAN, its lookups */

	/* small: c alone, no set and no SSCAN. */
	store_conns(s, "small", small_ops, sizeof(small_ops) / sizeof(small_ops[0]));
	r = redisCommand(c, "EXISTS ssi:net:{small}");
	ck_assert(r && r->integer == 0);
	freeReplyObject(r);
	{
		const int known[] = {6000}; /* a; d removed; small is the rep */

		oracle(3000, known, 1, 1, &want);
	}
	sscan = -fx_redis_command_calls(c, "sscan");
	batch_rank(s, rd, "small", 3000, &got, &st);
	ck_assert_int_eq(ssid_network_rank(rd, "small", 1, &got, NULL), 0);
	sscan += fx_redis_command_calls(c, "sscan");
	check_pos(&got, &want, "small");
	ck_assert_int_eq(sscan, 0);
	ck_assert_int_eq(st.round_trips, 1); /* c's lookups */
	ck_assert_int_eq(st.commands, 1);

	/* The same through a store that caches: c as saved is what the next batch loads. */
	{
		struct ssid_store *cs = NULL;
		struct ssid_cache_stats cst;

		ck_assert_int_eq(ssid_store_new(&cs, &o), 0);
		ck_assert_int_eq(ssid_store_cache(cs, 1 << 20), 0);
		store_conns(cs, "small", small_ops, 1); /* +a again: nothing changes */
		batch_rank(cs, rd, "small", 3000, &got, &st);
		ssid_store_cache_stats(cs, &cst);
		ck_assert_uint_eq(cst.hits, 1);
		check_pos(&got, &want, "small (cached)");
		ck_assert_int_eq(st.round_trips, 1);
		ssid_store_free(cs);
	}

	/* old: a state but no field c, its connections in the set (an older build's). */
	store_conns(s, "old", NULL, 0);
	fx_redis_peek_ok(c, redisCommand(c, "HDEL ssi:u:{old} c"));
	fx_redis_peek_ok(c, redisCommand(c, "SADD ssi:net:{old} a d"));
	{
		const int known[] = {6000, 7000};

		oracle(5500, known, 2, 1, &want);
	}
	batch_rank(s, rd, "old", 5500, &got, &st);
	check_pos(&got, &want, "old (set only)");
	store_conns(s, "old", old_ops, 1); /* c is written, spilled: the set still counts */
	r = redisCommand(c, "HGET ssi:u:{old} c");
	ck_assert(r && r->type == REDIS_REPLY_STRING && r->len == 3 &&
		  memcmp(r->str,
			 "\x01\x01"
			 "b",
			 3) == 0);
	freeReplyObject(r);
	{
		const int known[] = {6000, 7000, 4000};

		oracle(5500, known, 3, 1, &want);
	}
	batch_rank(s, rd, "old", 5500, &got, &st);
	check_pos(&got, &want, "old (set and c)");
	ck_assert_int_eq(ssid_network_rank(rd, "old", 1, &got, NULL), 0);
	check_pos(&got, &want, "old (set and c, one rep)");

	/* A field c that does not read is left as it is; the set takes the changes. */
	fx_redis_peek_ok(c, redisCommand(c, "HSET ssi:u:{small} c %b", "\x07junk", (size_t)5));
	store_conns(s, "small", old_ops, 1);
	r = redisCommand(c, "HGET ssi:u:{small} c");
	ck_assert(r && r->type == REDIS_REPLY_STRING && r->len == 5);
	freeReplyObject(r);
	{
		const int known[] = {4000}; /* b, from the set */

		oracle(3000, known, 1, 1, &want);
	}
	ck_assert_int_eq(ssid_network_rank(rd, "small", 1, &got, NULL), 0);
	check_pos(&got, &want, "small (c unreadable)");
	ssid_store_free(s);
	ssid_redis_free(rd);
	redisFree(c);
}
END_TEST

/* The network tests run inside the ssictl suite (tests/daemon/test_ssictl.c).
 */
TCase *network_tcase(void)
{
	TCase *tc = tcase_create("network");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, network_small_exact);
	tcase_add_test(tc, network_random_oracle);
	tcase_add_test(tc, network_intset);
	tcase_add_test(tc, network_large_cost);
	tcase_add_test(tc, network_packed_and_spilled);
	tcase_add_test(tc, network_errors);
	return tc;
}
