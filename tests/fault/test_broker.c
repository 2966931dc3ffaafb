/*
 * The Kafka broker itself goes away mid-stream, twice: first killed with
 * SIGKILL (a crash: the controller must expire its old incarnation before
 * it is back), then stopped cleanly, each time for a few seconds while a
 * producer keeps trying to send. ssid keeps running through both (librdkafka
 * reconnects; batches whose outputs cannot be delivered are retried) and
 * must end with every state equal to the engine's.
 *
 * It restarts the suite's broker, so it runs last.
 */
#include <stdio.h>
#include <string.h>

#include "fault.h"
#include "suites.h"

#define BROKER_EVENTS	  30000
#define BROKER_USERS	  3000
#define BROKER_PARTITIONS 8
#define BROKER_DOWN_MS	  3000
#define BROKER_BATCH	  2000

START_TEST (test_broker_down_and_back) {
	struct t_rng rng = {.s = 0xB40CE5};
	struct fault_opts o = {.users = BROKER_USERS,
			       .partitions = BROKER_PARTITIONS,
			       .batch_max_events = BROKER_BATCH};
	struct fault_result res = {0};
	struct fault_feeder feed;
	struct fault_env e;
	struct fx_proc p;
	struct fx_proc *const procs[] = {&p};
	int64_t t_kill, t_kill_back, t_stop, t_stop_back, t_done;
	size_t third;
	char fault[160];

	fault_env_open(&e, "broker", &o);
	ck_assert_int_eq(fx_stream_add_random(&e.stream, &rng, BROKER_EVENTS), 0);
	third = e.stream.n / 3;
	ck_assert_int_eq(fx_produce(&e.kafka, &e.stream, 0, third), 0);
	fault_spawn(&e, &p, NULL, NULL);
	fault_wait_total(&e.kafka, (int64_t)third / 2, procs, 1, e.log_path);
	fault_feed_start(&feed, &e.kafka, &e.stream, third, e.stream.n, 500, 40);

	/* A crash of the broker. */
	t_kill = fault_now_ms();
	ck_assert_int_eq(fx_broker_kill(&fault_broker), 0);
	fault_hold(BROKER_DOWN_MS, procs, 1, e.log_path);
	ck_assert_msg(fx_broker_restart(&fault_broker) == 0,
		      "the broker did not come back after kill -9 (log: %s/broker.log)",
		      fault_broker.dir);
	t_kill_back = fault_now_ms();
	fault_wait_total(&e.kafka, (int64_t)e.stream.n / 2, procs, 1, e.log_path);

	/* A clean stop, as for an upgrade. */
	t_stop = fault_now_ms();
	ck_assert_int_eq(fx_broker_stop(&fault_broker), 0);
	fault_hold(BROKER_DOWN_MS, procs, 1, e.log_path);
	ck_assert_msg(fx_broker_restart(&fault_broker) == 0,
		      "the broker did not come back after a clean stop (log: %s/broker.log)",
		      fault_broker.dir);
	t_stop_back = fault_now_ms();

	fault_feed_join(&feed);
	fx_wait_drained(&e.kafka, &e.stream, e.log_path);
	t_done = fault_now_ms();
	fx_ssid_stop_cleanly(&p, e.log_path);

	fault_check_states(&e, &res, true);
	fault_check_outputs(&e, &res);
	fault_check_dead_letters(&e, &res);
	snprintf(fault, sizeof(fault), "broker kill -9 (down %.1f s) then clean stop (down %.1f s)",
		 (double)(t_kill_back - t_kill) / 1000.0, (double)(t_stop_back - t_stop) / 1000.0);
	fault_report("broker", &res, fault,
		     (double)(t_kill_back - t_kill + t_stop_back - t_stop) / 1000.0,
		     (double)(t_done - t_stop_back) / 1000.0);
	fault_assert(&res);
	fault_env_close(&e);
}
END_TEST

TCase *fault_broker_tcase(void)
{
	TCase *tc = tcase_create("broker");

	tcase_add_checked_fixture(tc, fault_setup, fault_teardown);
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, test_broker_down_and_back);
	return tc;
}
