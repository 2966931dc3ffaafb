/*
 * The poison corpus (tests/poison) through the whole daemon: every entry,
 * interleaved with a stream of valid events for several users over several
 * partitions, produced to the mock cluster and consumed by ssid in a thread.
 * Each bad message must land in the dead-letter topic once, with the
 * manifest's reason, its source position and its original key and bytes;
 * every valid one, the corpus's own controls included, must be scored
 * exactly as the engine scores it; and the group must commit every offset,
 * so no message can stall a partition. The stream and the checks are
 * fx_poison_run_* (fixture.h), shared with the fault suite's run of the same
 * corpus on a real broker (tests/fault/test_poison_broker.c).
 */
#include "fixture.h"
#include "suites.h"

#define POISON_USERS 8

START_TEST (test_poison_corpus) {
	struct ssid_daemon_stats st;
	struct fx_poison_run pr;
	struct fx_daemon daemon;
	struct fx_env e;
	char conf[4096], err[1024];

	fx_env_open(&e, "poison", POISON_USERS, false);
	fx_poison_run_build(&pr, &e.stream, &e.model);
	ck_assert_int_eq(fx_poison_run_produce(&e.kafka, &e.stream, &pr), 0);

	/* ssid's producer keeps librdkafka's default message.max.bytes (1,000,000). */
	ck_assert_int_eq(fx_config_text(conf, sizeof(conf), &e.kafka, &e.redis,
					&(struct fx_conf){.batch_max_events = 32}),
			 0);
	ck_assert_msg(fx_daemon_start(&daemon, conf, err, sizeof(err)) == 0, "ssid: %s", err);
	fx_wait_drained(&e.kafka, &e.stream, daemon.log_path);
	fx_daemon_wait_events(&daemon, e.stream.n, &st);
	ck_assert_int_eq(fx_daemon_stop(&daemon), 0);

	ck_assert_uint_eq(st.events, e.stream.n);
	ck_assert_uint_eq(st.rejected, pr.nbad);
	ck_assert_uint_eq(st.failures, 0);
	ck_assert_int_eq(st.degraded, 0);
	fx_poison_run_check_dead_letters(&e.kafka, &e.stream, &pr);
	fx_check_states(&e.redis, &e.stream, &e.model);
	fx_poison_run_check_controls(&e.redis, &e.stream, &pr, &e.model);
	fx_poison_run_check_outputs(&e.kafka, &e.stream, &pr, &e.model);
	ck_assert_int_eq(fx_redis_user_keys(&e.redis), POISON_USERS + (long)pr.nvalid);

	fx_poison_run_free(&pr);
	fx_env_close(&e);
}
END_TEST

Suite *poison_suite(void)
{
	Suite *s = suite_create("poison");
	TCase *tc = tcase_create("corpus");

	tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_poison_corpus);
	suite_add_tcase(s, tc);
	return s;
}
