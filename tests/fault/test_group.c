/*
 * Three ssid in one consumer group on 8 partitions while events keep
 * flowing: one is killed with SIGKILL (its partitions move to the others
 * when its session expires), then a fourth joins (the cooperative rebalance
 * hands it some partitions without stopping the rest). The final states
 * must be the engine's, and each user's decay schedule entry must have moved
 * with its partition: every user with a state is in exactly one roster
 * ssi:ro:<N>, N being the input partition of its events.
 */
#include <stdio.h>
#include <string.h>

#include "fault.h"
#include "suites.h"

#define GROUP_EVENTS	 60000
#define GROUP_USERS	 6000
#define GROUP_PARTITIONS 8
#define GROUP_BATCH	 1000

/* Bounded wait until ssid's log says it was given partitions. */
static void wait_assigned(const char *log_path, struct fx_proc *const procs[], size_t n)
{
	int64_t deadline = fx_deadline(FX_WAIT_MS);

	while (!fx_file_contains(log_path, "assigned")) {
		fault_check_alive(procs, n, log_path);
		if (fx_expired(deadline)) {
			fx_dump_log(log_path);
			ck_abort_msg("no partition assigned in %d ms (log: %s)", FX_WAIT_MS,
				     log_path);
		}
		fx_pause();
	}
}

/*
 * Bounded wait until every partition's committed offset has moved past
 * before[], or, once the feeder is done, reached the partition's end (a
 * partition that got no event after the kill has nothing to move past).
 */
static void wait_all_moved(struct fx_kafka *k, const struct fx_stream *s,
			   const struct fault_feeder *feed, const int64_t before[FX_PARTITIONS_MAX],
			   struct fx_proc *const procs[], size_t n, const char *log_path)
{
	int64_t deadline = fx_deadline(FX_WAIT_MS), got[FX_PARTITIONS_MAX];
	int64_t ends[FX_PARTITIONS_MAX] = {0};
	bool fed = false;

	for (;;) {
		bool all = fx_kafka_committed(k, got) == 0;

		if (!fed && atomic_load(&feed->produced) == feed->to - feed->from) {
			fed = true;
			for (size_t i = 0; i < s->n; i++)
				if (s->ev[i].offset + 1 > ends[s->ev[i].partition])
					ends[s->ev[i].partition] = s->ev[i].offset + 1;
		}
		for (int p = 0; p < k->partitions && all; p++)
			all = got[p] > before[p] || (fed && got[p] == ends[p]);
		if (all)
			return;
		fault_check_alive(procs, n, log_path);
		ck_assert_msg(!fx_expired(deadline),
			      "some partition made no progress in %d ms after the kill (log: %s)",
			      FX_WAIT_MS, log_path);
		fx_pause();
	}
}

START_TEST (test_group_kill_and_add) {
	struct t_rng rng = {.s = 0x64009};
	struct fault_opts o = {
	    .users = GROUP_USERS, .partitions = GROUP_PARTITIONS, .batch_max_events = GROUP_BATCH};
	struct fault_result res = {0};
	struct fault_feeder feed;
	struct fault_env e;
	struct fx_proc a, b, c, d;
	char log_a[PATH_MAX], log_b[PATH_MAX], log_c[PATH_MAX], log_d[PATH_MAX];
	int64_t at_kill[FX_PARTITIONS_MAX], t_kill, t_moved, t_add, t_done;
	size_t tenth;
	char fault[160];

	fault_env_open(&e, "group", &o);
	ck_assert_int_eq(fx_stream_add_random(&e.stream, &rng, GROUP_EVENTS), 0);
	tenth = e.stream.n / 10;
	ck_assert_int_eq(fx_produce(&e.kafka, &e.stream, 0, tenth), 0);

	fault_spawn(&e, &a, NULL, fault_log_path(log_a, sizeof(log_a), "ssid-a.log"));
	fault_spawn(&e, &b, NULL, fault_log_path(log_b, sizeof(log_b), "ssid-b.log"));
	fault_spawn(&e, &c, NULL, fault_log_path(log_c, sizeof(log_c), "ssid-c.log"));
	{
		struct fx_proc *const abc[] = {&a, &b, &c};

		wait_assigned(log_a, abc, 3);
		wait_assigned(log_b, abc, 3);
		wait_assigned(log_c, abc, 3);
	}
	fault_feed_start(&feed, &e.kafka, &e.stream, tenth, e.stream.n, 1000, 100);
	{
		struct fx_proc *const abc[] = {&a, &b, &c};

		fault_wait_total(&e.kafka, (int64_t)e.stream.n / 4, abc, 3, log_b);
	}

	/* One member dies: its partitions move when its session expires. */
	ck_assert_int_eq(fx_kafka_committed(&e.kafka, at_kill), 0);
	t_kill = fault_now_ms();
	fault_kill9(&b);
	{
		struct fx_proc *const ac[] = {&a, &c};

		wait_all_moved(&e.kafka, &e.stream, &feed, at_kill, ac, 2, log_a);
	}
	t_moved = fault_now_ms();

	/* One member joins: it takes some partitions over from the others. */
	t_add = fault_now_ms();
	fault_spawn(&e, &d, NULL, fault_log_path(log_d, sizeof(log_d), "ssid-d.log"));
	{
		struct fx_proc *const acd[] = {&a, &c, &d};

		wait_assigned(log_d, acd, 3);
		fault_feed_join(&feed);
		fault_check_alive(acd, 3, log_a);
	}
	fx_wait_drained(&e.kafka, &e.stream, log_a);
	t_done = fault_now_ms();
	fx_ssid_stop_cleanly(&a, log_a);
	fx_ssid_stop_cleanly(&c, log_c);
	fx_ssid_stop_cleanly(&d, log_d);

	fault_check_states(&e, &res, true);
	fault_check_ranks(&e, &res);
	fault_check_outputs(&e, &res);
	fault_check_dead_letters(&e, &res);
	fault_check_decay_schedule_follows_partitions(&e, &res);
	snprintf(fault, sizeof(fault),
		 "3 instances, 1 killed -9 (partitions moved in %.1f s), 1 added (drained %.1f s "
		 "after)",
		 (double)(t_moved - t_kill) / 1000.0, (double)(t_done - t_add) / 1000.0);
	fault_report("group", &res, fault, 0, (double)(t_moved - t_kill) / 1000.0);
	fault_assert(&res);
	fault_env_close(&e);
}
END_TEST

TCase *fault_group_tcase(void)
{
	TCase *tc = tcase_create("group");

	tcase_add_checked_fixture(tc, fault_setup, fault_teardown);
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, test_group_kill_and_add);
	return tc;
}
