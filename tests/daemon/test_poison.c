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
#include <limits.h>

#include "fixture.h"
#include "suites.h"
#include "ssid_file.h"

#define POISON_USERS 8

static void wait_consumed(const struct fx_daemon *d, uint64_t n, struct ssid_daemon_stats *st)
{
	int64_t deadline = fx_deadline(FX_WAIT_MS);

	for (;;) {
		fx_daemon_stats(d, st);
		if (st->events >= n)
			return;
		ck_assert_msg(!fx_daemon_returned(d), "ssid stopped (log: %s)", d->log_path);
		ck_assert_msg(!fx_expired(deadline), "ssid took in %llu of %llu messages (log: %s)",
			      (unsigned long long)st->events, (unsigned long long)n, d->log_path);
		fx_pause();
	}
}

START_TEST (test_poison_corpus) {
	struct ssid_daemon_stats st;
	struct fx_poison_run pr;
	/* The fixtures expect zeroed structs (port 0: pick a free one). */
	struct fx_redis redis = {0};
	struct fx_kafka kafka = {0};
	struct fx_stream stream = {0};
	struct fx_daemon daemon = {0};
	struct ssi_model model;
	char dir[PATH_MAX], conf[4096], err[1024];

	ck_assert_int_eq(ssid_file_load_model(&model, fx_model_path(), NULL), 0);
	ck_assert_msg(fx_redis_start(&redis, fx_path(dir, sizeof(dir), "redis"), false) == 0,
		      "redis-server did not start (see %s/redis.log)", dir);
	ck_assert_int_eq(fx_kafka_start(&kafka, "poison", 4), 0);
	fx_stream_init(&stream, "poison", POISON_USERS);
	fx_poison_run_build(&pr, &stream, &model);
	ck_assert_int_eq(fx_poison_run_produce(&kafka, &stream, &pr), 0);

	/* ssid's producer keeps librdkafka's default message.max.bytes (1,000,000). */
	ck_assert_int_eq(fx_config_text(conf, sizeof(conf), &kafka, &redis,
					&(struct fx_conf){.batch_max_events = 32}),
			 0);
	ck_assert_msg(fx_daemon_start(&daemon, conf, err, sizeof(err)) == 0, "ssid: %s", err);
	fx_wait_drained(&kafka, &stream, daemon.log_path);
	wait_consumed(&daemon, stream.n, &st);
	ck_assert_int_eq(fx_daemon_stop(&daemon), 0);

	ck_assert_uint_eq(st.events, stream.n);
	ck_assert_uint_eq(st.rejected, pr.nbad);
	ck_assert_uint_eq(st.failures, 0);
	ck_assert_int_eq(st.degraded, 0);
	fx_poison_run_check_dead_letters(&kafka, &stream, &pr);
	fx_check_states(&redis, &stream, &model);
	fx_poison_run_check_controls(&redis, &stream, &pr, &model);
	fx_poison_run_check_outputs(&kafka, &stream, &pr, &model);
	ck_assert_int_eq(fx_redis_user_keys(&redis), POISON_USERS + (long)pr.nvalid);

	fx_poison_run_free(&pr);
	fx_stream_free(&stream);
	fx_kafka_free(&kafka);
	ck_assert_int_eq(fx_redis_stop(&redis), 0);
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
