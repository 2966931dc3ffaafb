/*
 * Loud data loss on the real broker: an input topic with a tiny
 * retention.bytes (and 1 MiB segments) loses its closed segments within a
 * second (deploy/kafka/server.properties.in checks retention every second).
 * While ssid is paused (Redis away, one event in hand), 3 MiB more are
 * produced to the topic, the broker deletes what ssid had not read, and when
 * Redis is back ssid's next offset is gone: librdkafka resets to the log
 * start, and ssid must log the partition and the exact number of offsets
 * skipped, and count them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"
#include "suites.h"

static bool has_reset(const struct ssid_daemon_stats *st)
{
	return st->offset_resets > 0;
}

/* Wait until the group has committed partition 0 up to offset end. */
static void wait_committed(struct fault_env *e, int64_t end, const char *log_path)
{
	int64_t deadline = fx_deadline(FX_WAIT_MS), committed[FX_PARTITIONS_MAX];

	for (;;) {
		ck_assert_int_eq(fx_kafka_committed(&e->kafka, committed), 0);
		if (committed[0] >= end)
			return;
		ck_assert_msg(!fx_expired(deadline), "committed %lld of %lld in %d ms (log: %s)",
			      (long long)committed[0], (long long)end, FX_WAIT_MS, log_path);
		fx_pause();
	}
}

START_TEST (test_retention_loss_logged) {
	static const char *const input_config[] = {"retention.bytes", "1", "segment.bytes",
						   "1048576", NULL};
	struct fault_opts o = {
	    .users = 4, .partitions = 1, .persistent_redis = true, .input_config = input_config};
	static char junk[8192];
	struct ssid_daemon_stats st;
	struct fx_daemon daemon = {0};
	struct t_rng rng = {.s = 0x2E7E};
	struct fault_env e;
	char *conf, err[1024], field[64];
	int64_t lo = -1, hi = -1, next, resumed, deadline;
	size_t first;

	fault_env_open(&e, "retention", &o);
	ck_assert_int_eq(fx_stream_add_random(&e.stream, &rng, 40), 0);
	ck_assert_int_eq(fx_produce(&e.kafka, &e.stream, 0, e.stream.n), 0);
	conf = fx_read_file(e.conf_path, NULL);
	ck_assert_ptr_nonnull(conf);
	ck_assert_msg(fx_daemon_start(&daemon, conf, err, sizeof(err)) == 0, "ssid: %s", err);
	free(conf);
	fx_wait_drained(&e.kafka, &e.stream, daemon.log_path);
	fx_daemon_wait_events(&daemon, e.stream.n, &st);

	ck_assert_int_eq(fx_redis_stop(&e.redis), 0);
	first = e.stream.n;
	ck_assert_int_eq(fx_stream_add_each_user(&e.stream, &rng, SSI_EV_POST_SHARED), 0);
	ck_assert_int_eq(fx_produce(&e.kafka, &e.stream, first, first + 1), 0);
	fx_daemon_wait_until(&daemon, fx_daemon_is_degraded, "degraded state while Redis is down",
			     &st);
	next = e.stream.ev[first].offset + 1;

	memset(junk, 'x', sizeof(junk));
	for (int i = 0; i < 384; i++) {
		rd_kafka_resp_err_t kerr;

		while ((kerr = rd_kafka_producev(e.kafka.producer, RD_KAFKA_V_TOPIC(e.kafka.input),
						 RD_KAFKA_V_PARTITION(0),
						 RD_KAFKA_V_VALUE(junk, sizeof(junk)),
						 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
						 RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
			rd_kafka_poll(e.kafka.producer, 10);
		ck_assert_int_eq(kerr, 0);
	}
	ck_assert_int_eq(rd_kafka_flush(e.kafka.producer, FX_WAIT_MS), 0);
	/* The broker deletes the closed segments within a second or two. */
	deadline = fx_deadline(FX_WAIT_MS);
	do {
		fx_pause();
		ck_assert_int_eq(rd_kafka_query_watermark_offsets(e.kafka.producer, e.kafka.input,
								  0, &lo, &hi, 10000),
				 0);
		ck_assert_msg(!fx_expired(deadline), "retention kept offset %lld (log start %lld)",
			      (long long)next, (long long)lo);
	} while (lo <= next);
	ck_assert_int_eq(hi, next + 384);

	ck_assert_msg(fx_redis_start(&e.redis, e.redis.dir, true) == 0,
		      "redis-server did not restart (see %s/redis.log)", e.redis.dir);
	fx_daemon_wait_until(&daemon, has_reset, "offset reset", &st);
	wait_committed(&e, hi, daemon.log_path);
	ck_assert_int_eq(fx_daemon_stop_stats(&daemon, &st), 0);
	ck_assert_uint_eq(st.offset_resets, 1);
	/*
	 * Retention may delete more segments after the test looked (lo): ssid
	 * resumed where the log started at its reset, and every message from
	 * there is junk, rejected. The skipped offsets are exactly the gap.
	 */
	resumed = hi - (int64_t)st.rejected;
	ck_assert_int_ge(resumed, lo);
	ck_assert_uint_eq(st.offsets_skipped, (uint64_t)(resumed - next));
	ck_assert_uint_eq(st.events, first + 1 + st.rejected);
	snprintf(field, sizeof(field), "SSID_OFFSETS_SKIPPED=%lld", (long long)(resumed - next));
	ck_assert_msg(fx_file_contains(daemon.log_path, field), "no %s in %s", field,
		      daemon.log_path);
	ck_assert(fx_file_contains(daemon.log_path, "SSID_PARTITION=0"));
	ck_assert(fx_file_contains(daemon.log_path, "error: data loss: partition 0"));
	fprintf(stderr,
		"fault retention: %lld offsets deleted by retention.bytes while paused, "
		"logged and counted\n",
		(long long)(resumed - next));
	fault_env_close(&e);
}
END_TEST

TCase *fault_retention_tcase(void)
{
	TCase *tc = tcase_create("retention");

	tcase_add_checked_fixture(tc, fault_setup, fault_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_retention_loss_logged);
	return tc;
}
