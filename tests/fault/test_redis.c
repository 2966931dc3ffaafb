/*
 * redis-server stopped for 30 s in the middle of a stream while events keep
 * arriving, then started again: once with its data (AOF, fsync always), once
 * empty, in a new directory. With its data ssid simply resumes. Empty, it
 * must notice (its sentinel hash ssi:meta is gone) and rebuild every state
 * from the input topic, from the start of the model window, publishing no
 * dead letters for the replayed past. Either way the final states must be
 * the engine's over the same events, and no event that arrived during the
 * outage may be committed before Redis holds it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"
#include "suites.h"

#define REDIS_EVENTS	 30000
#define REDIS_USERS	 3000
#define REDIS_PARTITIONS 8
#define REDIS_BAD	 24
#define REDIS_OUTAGE_MS	 30000
#define REDIS_BATCH	 2000

/* A few kinds of bad message, each with the reason ssid must give. */
static const struct {
	const char *value, *code;
} bad_kinds[] = {
    {"not json at all", "invalid_json"},
    {"[1, 2, 3]", "not_an_object"},
    {"{\"event_id\":\"bad\",\"user_id\":\"x\",\"type\":\"no_such_type\","
     "\"occurred_at\":\"2026-11-20T10:00:00Z\"}",
     "unknown_type"},
};

/*
 * The first tenth of the stream carries the bad events (so they are
 * committed before the outage, and a replay that dead-lettered them again
 * would show); the rest is valid. Returns where the bad part ends.
 */
static size_t build_stream(struct fault_env *e, struct t_rng *rng)
{
	size_t per = REDIS_EVENTS / 10 / REDIS_BAD, end;

	for (int b = 0; b < REDIS_BAD; b++) {
		const size_t k = (size_t)b % (sizeof(bad_kinds) / sizeof(bad_kinds[0]));
		char key[64];

		ck_assert_int_eq(fx_stream_add_random(&e->stream, rng, per), 0);
		fx_user_id(&e->stream, (b * 97) % REDIS_USERS, key, sizeof(key));
		ck_assert_int_eq(fx_stream_add_raw(&e->stream, key, -1, bad_kinds[k].value,
						   strlen(bad_kinds[k].value), bad_kinds[k].code),
				 0);
	}
	end = e->stream.n;
	ck_assert_int_eq(fx_stream_add_random(&e->stream, rng, REDIS_EVENTS - (end - REDIS_BAD)),
			 0);
	return end;
}

/* Per partition, the offset after the last event of ev[0, upto). */
static void prefix_ends(const struct fx_stream *s, size_t upto, int64_t ends[FX_PARTITIONS_MAX])
{
	for (int p = 0; p < FX_PARTITIONS_MAX; p++)
		ends[p] = 0;
	for (size_t i = 0; i < upto; i++)
		if (s->ev[i].offset + 1 > ends[s->ev[i].partition])
			ends[s->ev[i].partition] = s->ev[i].offset + 1;
}

/* Bounded wait until Redis holds a state for every user of the stream. */
static void wait_all_users(struct fault_env *e, struct fx_proc *p)
{
	int64_t deadline = fx_deadline(FX_WAIT_MS);
	struct fx_proc *const procs[] = {p};
	long got;

	while ((got = fx_redis_user_keys(&e->redis)) < e->stream.nusers) {
		if (fx_expired(deadline)) {
			fx_dump_log(e->log_path);
			ck_abort_msg("%ld of %d users have a state %d ms after Redis came back "
				     "empty: no rebuild (log: %s)",
				     got, e->stream.nusers, FX_WAIT_MS, e->log_path);
		}
		fault_check_alive(procs, 1, e->log_path);
		fx_pause();
	}
}

static void redis_outage(const char *tag, bool come_back_empty)
{
	struct t_rng rng = {.s = come_back_empty ? 0xE4917 : 0xDA7A};
	struct fault_opts o = {.users = REDIS_USERS,
			       .partitions = REDIS_PARTITIONS,
			       .persistent_redis = true,
			       .batch_max_events = REDIS_BATCH};
	struct fault_result res = {0};
	struct fault_feeder feed;
	struct fault_env e;
	struct fx_proc p;
	struct fx_proc *const procs[] = {&p};
	int64_t ends_before[FX_PARTITIONS_MAX], committed[FX_PARTITIONS_MAX];
	int64_t t_stop, t_back, t_done;
	size_t half, bad_end;
	char dir[PATH_MAX], fault[160];

	fault_env_open(&e, tag, &o);
	bad_end = build_stream(&e, &rng);
	half = e.stream.n / 2;
	ck_assert_int_eq(fx_produce(&e.kafka, &e.stream, 0, half), 0);
	fault_spawn(&e, &p, NULL, NULL);
	fault_wait_prefix(&e.kafka, &e.stream, bad_end > half / 2 ? bad_end : half / 2, procs, 1,
			  e.log_path);

	/* Away mid-stream, while the second half of the events arrives. */
	t_stop = fault_now_ms();
	ck_assert_int_eq(fx_redis_stop(&e.redis), 0);
	fault_feed_start(&feed, &e.kafka, &e.stream, half, e.stream.n, 1000, 50);
	fault_hold(REDIS_OUTAGE_MS - (fault_now_ms() - t_stop), procs, 1, e.log_path);
	fault_feed_join(&feed);

	/* Nothing that arrived during the outage is committed: Redis could not hold it. */
	prefix_ends(&e.stream, half, ends_before);
	ck_assert_int_eq(fx_kafka_committed(&e.kafka, committed), 0);
	for (int i = 0; i < e.kafka.partitions; i++)
		ck_assert_msg(committed[i] <= ends_before[i],
			      "partition %d: committed %lld during the Redis outage, only %lld "
			      "events had arrived before it",
			      i, (long long)committed[i], (long long)ends_before[i]);

	if (come_back_empty)
		ck_assert_int_eq(
		    fx_redis_start(&e.redis, fx_path(dir, sizeof(dir), "redis-empty"), true), 0);
	else
		ck_assert_int_eq(fx_redis_start(&e.redis, e.redis.dir, true), 0);
	t_back = fault_now_ms();
	fx_wait_drained(&e.kafka, &e.stream, e.log_path);
	if (come_back_empty)
		wait_all_users(&e, &p);
	t_done = fault_now_ms();
	fx_ssid_stop_cleanly(&p, e.log_path);

	/* After a rebuild a user's "published" score may be absent; if present it is right. */
	fault_check_states(&e, &res, !come_back_empty);
	fault_check_ranks(&e, &res);
	fault_check_outputs(&e, &res);
	fault_check_dead_letters(&e, &res);
	snprintf(fault, sizeof(fault), "redis-server stopped, back %s",
		 come_back_empty ? "EMPTY (rebuild)" : "with its data (AOF)");
	fault_report(tag, &res, fault, (double)(t_back - t_stop) / 1000.0,
		     (double)(t_done - t_back) / 1000.0);
	fault_assert(&res);
	fault_env_close(&e);
}

START_TEST (test_redis_back_with_data) {
	redis_outage("redis-data", false);
}
END_TEST

START_TEST (test_redis_back_empty) {
	redis_outage("redis-empty", true);
}
END_TEST

TCase *fault_redis_tcase(void)
{
	TCase *tc = tcase_create("redis_outage");

	tcase_add_checked_fixture(tc, fault_setup, fault_teardown);
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, test_redis_back_with_data);
	tcase_add_test(tc, test_redis_back_empty);
	return tc;
}
