/*
 * ssid end to end, in a thread of the test process: a real redis-server,
 * librdkafka's mock cluster over the real protocol, and the engine itself as
 * the oracle for every state and score the daemon produces.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "ssid_file.h"
#include "suites.h"

/* fx_env, and ssid in a thread with its configuration. */
struct env {
	struct fx_env fx;
	struct fx_daemon daemon;
	char conf[4096];
};

static void env_start_daemon(struct env *e, const struct fx_conf *c)
{
	char err[1024];

	ck_assert_int_eq(fx_config_text(e->conf, sizeof(e->conf), &e->fx.kafka, &e->fx.redis, c),
			 0);
	ck_assert_msg(fx_daemon_start(&e->daemon, e->conf, err, sizeof(err)) == 0, "ssid: %s", err);
}

START_TEST (test_happy_path) {
	struct t_rng rng = {.s = 0x55D1A001};
	struct ssid_daemon_stats st;
	struct fx_msgs dlq;
	struct env e;
	size_t applied, duplicates, outputs;

	fx_env_open(&e.fx, "happy", 20, false);
	ck_assert_int_eq(fx_stream_add_random(&e.fx.stream, &rng, 400), 0);
	ck_assert_int_eq(fx_produce(&e.fx.kafka, &e.fx.stream, 0, e.fx.stream.n), 0);
	env_start_daemon(&e, NULL);

	fx_wait_drained(&e.fx.kafka, &e.fx.stream, e.daemon.log_path);
	fx_daemon_wait_events(&e.daemon, e.fx.stream.n, &st);
	/* The counters as it stopped: a decay or board may still go out after the last event. */
	ck_assert_int_eq(fx_daemon_stop_stats(&e.daemon, &st), 0);

	fx_reference_counts(&e.fx.stream, &e.fx.model, &applied, &duplicates);
	ck_assert_msg(duplicates > 0, "the stream should resend some events");
	ck_assert_uint_eq(st.events, e.fx.stream.n);
	ck_assert_uint_eq(st.applied, applied);
	ck_assert_uint_eq(st.duplicates, duplicates);
	ck_assert_uint_eq(st.replayed, 0);
	ck_assert_uint_eq(st.rejected, 0);
	ck_assert_uint_eq(st.failures, 0);
	ck_assert_int_eq(st.degraded, 0);

	fx_check_states(&e.fx.redis, &e.fx.stream, &e.fx.model);
	outputs = fx_check_outputs(&e.fx.kafka, &e.fx.stream, &e.fx.model, true);
	ck_assert_uint_eq(outputs, st.outputs);
	ck_assert_int_eq(fx_kafka_read_topic(&e.fx.kafka, e.fx.kafka.dlq, &dlq), 0);
	ck_assert_uint_eq(dlq.n, 0);
	fx_msgs_free(&dlq);
	fx_env_close(&e.fx);
}
END_TEST

/* rank.enabled = no: the same scores, and no rank anywhere, in Kafka or Redis. */
START_TEST (test_ranks_disabled) {
	struct t_rng rng = {.s = 0x4A4B01};
	struct ssid_daemon_stats st;
	struct fx_msgs out;
	struct env e;

	fx_env_open(&e.fx, "noranks", 12, false);
	ck_assert_int_eq(fx_stream_add_random(&e.fx.stream, &rng, 200), 0);
	ck_assert_int_eq(fx_produce(&e.fx.kafka, &e.fx.stream, 0, e.fx.stream.n), 0);
	env_start_daemon(&e, &(struct fx_conf){.extra = "rank.enabled = no\n"});
	fx_wait_drained(&e.fx.kafka, &e.fx.stream, e.daemon.log_path);
	fx_daemon_wait_events(&e.daemon, e.fx.stream.n, &st);
	ck_assert_int_eq(fx_daemon_stop_stats(&e.daemon, &st), 0);

	fx_check_states(&e.fx.redis, &e.fx.stream, &e.fx.model);
	ck_assert_uint_eq(fx_check_outputs(&e.fx.kafka, &e.fx.stream, &e.fx.model, true),
			  st.outputs);
	ck_assert_uint_eq(st.rank_changes + st.boards, 0);
	ck_assert_int_eq(fx_kafka_read_topic(&e.fx.kafka, e.fx.kafka.output, &out), 0);
	ck_assert_uint_gt(out.n, 0);
	for (size_t i = 0; i < out.n; i++) {
		ck_assert_msg(fx_output_is_score(&out.m[i]) || strstr(out.m[i].value, "\"alert\""),
			      "output %zu is neither a score nor an alert: %s", i, out.m[i].value);
		ck_assert_msg(!strstr(out.m[i].value, "\"ranks\""), "output %zu has ranks: %s", i,
			      out.m[i].value);
	}
	fx_msgs_free(&out);
	ck_assert_int_eq(fx_redis_count_keys(&e.fx.redis, "ssi:rk:*"), 0);
	ck_assert_int_gt(fx_redis_count_keys(&e.fx.redis, "ssi:ro:*"), 0);
	fx_env_close(&e.fx);
}
END_TEST

/*
 * batch.max_wait_ms bounds the wait for new events, not the batch: with no
 * wait at all, a backlog still goes in batches as large as the consumer
 * holds, never one event at a time. (That the batch also takes what came
 * in while the last one ran is a matter of latency: make bench shows it.)
 */
START_TEST (test_backlog_fills_batches) {
	struct t_rng rng = {.s = 0xBA7C4};
	struct ssid_daemon_stats st;
	struct env e;

	fx_env_open(&e.fx, "backlog", 12, false);
	ck_assert_int_eq(fx_stream_add_random(&e.fx.stream, &rng, 2000), 0);
	ck_assert_int_eq(fx_produce(&e.fx.kafka, &e.fx.stream, 0, e.fx.stream.n), 0);
	env_start_daemon(&e, &(struct fx_conf){.batch_max_wait_ms = -1, .batch_max_events = 500});
	fx_wait_drained(&e.fx.kafka, &e.fx.stream, e.daemon.log_path);
	fx_daemon_wait_events(&e.daemon, e.fx.stream.n, &st);
	ck_assert_int_eq(fx_daemon_stop_stats(&e.daemon, &st), 0);
	ck_assert_uint_eq(st.events, e.fx.stream.n);
	ck_assert_msg(st.batches <= 40, "%llu batches for %zu events",
		      (unsigned long long)st.batches, e.fx.stream.n);
	fx_check_states(&e.fx.redis, &e.fx.stream, &e.fx.model);
	fx_env_close(&e.fx);
}
END_TEST

/* A malformed message and the reason code it must be dead-lettered with. */
struct bad_event {
	const char *json; /* NULL: use raw/len */
	const char *raw;
	size_t len;
	const char *code;
};

#define RAW(bytes) NULL, bytes, sizeof(bytes) - 1

START_TEST (test_dead_letters) {
	static const struct bad_event bad[] = {
	    {"this is not json", NULL, 0, "invalid_json"},
	    {"[1,2,3]", NULL, 0, "not_an_object"},
	    {"{\"event_id\":\"d1\",\"type\":\"post_shared\","
	     "\"occurred_at\":\"2026-11-19T10:00:00Z\"}",
	     NULL, 0, "missing_field:user_id"},
	    {"{\"event_id\":\"d2\",\"user_id\":42,\"type\":\"post_shared\","
	     "\"occurred_at\":\"2026-11-19T10:00:00Z\"}",
	     NULL, 0, "wrong_type:user_id"},
	    {"{\"event_id\":\"d3\",\"user_id\":\"dlq-u01\",\"type\":\"telepathy\","
	     "\"occurred_at\":\"2026-11-19T10:00:00Z\"}",
	     NULL, 0, "unknown_type"},
	    {"{\"event_id\":\"d4\",\"user_id\":\"dlq-u02\",\"type\":\"post_shared\","
	     "\"occurred_at\":\"yesterday\"}",
	     NULL, 0, "bad_timestamp"},
	    {"{\"event_id\":\"d5\",\"user_id\":\"dlq-u03\",\"type\":\"profile_viewed\","
	     "\"occurred_at\":\"2026-11-19T10:00:00Z\",\"attrs\":{\"degree\":7}}",
	     NULL, 0, "bad_attr:attrs.degree"},
	    {"{\"event_id\":\"d6\",\"user_id\":\"dlq-u04\",\"type\":\"post_shared\","
	     "\"occurred_at\":\"2025-01-01T00:00:00Z\"}",
	     NULL, 0, "too_old"},
	    {"{\"event_id\":\"d7\",\"user_id\":\"dlq-u05\",\"type\":\"post_shared\","
	     "\"occurred_at\":\"2026-11-21T12:00:00Z\"}",
	     NULL, 0, "in_future"},
	    {"{\"a\":[[[[[[[[[[1]]]]]]]]]]}", NULL, 0, "too_deep"},
	    {RAW("{\"event_id\":\"d8\",\0\"user_id\":\"x\"}"), "nul_byte"},
	    {RAW("{\"event_id\":\"d9\xff\",\"user_id\":\"x\"}"), "invalid_utf8"},
	    {"{\"event_id\":\"\",\"user_id\":\"dlq-u06\",\"type\":\"post_shared\","
	     "\"occurred_at\":\"2026-11-19T10:00:00Z\"}",
	     NULL, 0, "empty_field:event_id"},
	};
	const size_t nbad = sizeof(bad) / sizeof(bad[0]);
	struct t_rng rng = {.s = 0xD1E5};
	struct ssid_daemon_stats st;
	struct fx_msgs dlq;
	struct env e;
	size_t matched = 0;

	fx_env_open(&e.fx, "dlq", 12, false);
	/* Valid events, each bad one after some of them, and valid ones after the last. */
	ck_assert_int_eq(fx_stream_add_random(&e.fx.stream, &rng, 40), 0);
	for (size_t i = 0; i < nbad; i++) {
		char key[64];
		int user = (int)(i % (size_t)e.fx.stream.nusers);
		const char *v = bad[i].json ? bad[i].json : bad[i].raw;
		size_t len = bad[i].json ? strlen(bad[i].json) : bad[i].len;

		fx_user_id(&e.fx.stream, user, key, sizeof(key));
		ck_assert_int_eq(fx_stream_add_raw(&e.fx.stream, key, -1, v, len, bad[i].code), 0);
		ck_assert_int_eq(fx_stream_add_random(&e.fx.stream, &rng, 7), 0);
	}
	ck_assert_int_eq(fx_stream_add_random(&e.fx.stream, &rng, 40), 0);
	ck_assert_int_eq(fx_produce(&e.fx.kafka, &e.fx.stream, 0, e.fx.stream.n), 0);
	env_start_daemon(&e, &(struct fx_conf){.batch_max_events = 16});

	fx_wait_drained(&e.fx.kafka, &e.fx.stream, e.daemon.log_path);
	fx_daemon_wait_events(&e.daemon, e.fx.stream.n, &st);
	ck_assert_int_eq(fx_daemon_stop(&e.daemon), 0);
	ck_assert_uint_eq(st.rejected, nbad);
	ck_assert_uint_eq(st.failures, 0);
	ck_assert_msg(st.batches > 1, "the bad events should be spread over several batches");

	ck_assert_int_eq(fx_kafka_read_topic(&e.fx.kafka, e.fx.kafka.dlq, &dlq), 0);
	ck_assert_uint_eq(dlq.n, nbad);
	for (size_t i = 0; i < dlq.n; i++) {
		const struct fx_msg *m = &dlq.m[i];
		char reason[128], topic[128], part[32], off[32], message[256];
		const struct fx_event *src = NULL;

		ck_assert_ptr_nonnull(fx_msg_header(m, "ssi.source.partition", part, sizeof(part)));
		ck_assert_ptr_nonnull(fx_msg_header(m, "ssi.source.offset", off, sizeof(off)));
		for (size_t k = 0; k < e.fx.stream.n && !src; k++)
			if (e.fx.stream.ev[k].partition == atoi(part) &&
			    e.fx.stream.ev[k].offset == atoll(off))
				src = &e.fx.stream.ev[k];
		ck_assert_msg(src, "DLQ message %zu names %s/%s, which was not produced", i, part,
			      off);
		ck_assert_msg(src->expect_code[0], "valid event at %s/%s was dead-lettered: %s",
			      part, off, fx_msg_header(m, "ssi.reason", reason, sizeof(reason)));
		ck_assert_str_eq(fx_msg_header(m, "ssi.reason", reason, sizeof(reason)),
				 src->expect_code);
		ck_assert_str_eq(fx_msg_header(m, "ssi.source.topic", topic, sizeof(topic)),
				 e.fx.kafka.input);
		ck_assert_ptr_nonnull(fx_msg_header(m, "ssi.message", message, sizeof(message)));
		ck_assert_msg(message[0], "empty ssi.message for %s", src->expect_code);
		ck_assert_uint_eq(m->len, src->len);
		ck_assert_msg(memcmp(m->value, src->value, src->len) == 0,
			      "DLQ value of %s differs from the original bytes", src->expect_code);
		ck_assert_str_eq(m->key, src->key);
		matched++;
	}
	ck_assert_uint_eq(matched, nbad);
	fx_msgs_free(&dlq);

	fx_check_states(&e.fx.redis, &e.fx.stream, &e.fx.model);
	fx_check_outputs(&e.fx.kafka, &e.fx.stream, &e.fx.model, true);
	fx_env_close(&e.fx);
}
END_TEST

START_TEST (test_redis_restart) {
	struct t_rng rng = {.s = 0x4ED15};
	struct ssid_daemon_stats st;
	struct env e;
	size_t first;

	fx_env_open(&e.fx, "redis", 16, true);
	ck_assert_int_eq(fx_stream_add_random(&e.fx.stream, &rng, 150), 0);
	ck_assert_int_eq(fx_produce(&e.fx.kafka, &e.fx.stream, 0, e.fx.stream.n), 0);
	env_start_daemon(&e, NULL);
	fx_wait_drained(&e.fx.kafka, &e.fx.stream, e.daemon.log_path);
	fx_daemon_wait_events(&e.daemon, e.fx.stream.n, &st);
	ck_assert_uint_eq(st.failures, 0);

	/* Redis goes away between two batches; the next ones cannot be loaded. */
	ck_assert_int_eq(fx_redis_stop(&e.fx.redis), 0);
	first = e.fx.stream.n;
	ck_assert_int_eq(fx_stream_add_each_user(&e.fx.stream, &rng, SSI_EV_POST_SHARED), 0);
	ck_assert_int_eq(fx_stream_add_random(&e.fx.stream, &rng, 150), 0);
	ck_assert_int_eq(fx_produce(&e.fx.kafka, &e.fx.stream, first, e.fx.stream.n), 0);
	fx_daemon_wait_until(&e.daemon, fx_daemon_is_degraded, "degraded state while Redis is down",
			     &st);
	ck_assert_uint_lt(st.events, e.fx.stream.n);

	/* The same server, port and data directory: its append-only file kept the states. */
	ck_assert_msg(fx_redis_start(&e.fx.redis, e.fx.redis.dir, true) == 0,
		      "redis-server did not restart (see %s/redis.log)", e.fx.redis.dir);
	fx_wait_drained(&e.fx.kafka, &e.fx.stream, e.daemon.log_path);
	fx_daemon_wait_events(&e.daemon, e.fx.stream.n, &st);
	ck_assert_int_eq(st.degraded, 0);
	ck_assert_uint_gt(st.failures, 0);
	ck_assert_uint_eq(st.events, e.fx.stream.n);
	ck_assert_int_eq(fx_daemon_stop(&e.daemon), 0);

	fx_check_states(&e.fx.redis, &e.fx.stream, &e.fx.model);
	fx_check_outputs(&e.fx.kafka, &e.fx.stream, &e.fx.model, true);
	fx_env_close(&e.fx);
}
END_TEST

/*
 * Outputs that cannot be delivered: the broker answers every metadata
 * request for the output topic with an error, so the producer never learns
 * a leader and the short message timeout fails the deliveries. ssid must
 * treat the batch as failed, pause, retry it, and once the topic is back
 * end with every output delivered and every state exact.
 */
START_TEST (test_delivery_failure) {
	struct t_rng rng = {.s = 0xDE11};
	struct ssid_daemon_stats st;
	struct fx_conf c = {
	    .extra = "kafka.producer.message.timeout.ms = 1500\n",
	};
	struct env e;

	fx_env_open(&e.fx, "delivery", 12, false);
	ck_assert_int_eq(fx_stream_add_random(&e.fx.stream, &rng, 200), 0);
	ck_assert_int_eq(fx_produce(&e.fx.kafka, &e.fx.stream, 0, e.fx.stream.n), 0);
	rd_kafka_mock_topic_set_error(ssid_mock_cluster(e.fx.kafka.mock), e.fx.kafka.output,
				      RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE);
	env_start_daemon(&e, &c);
	fx_daemon_wait_until(&e.daemon, fx_daemon_is_degraded,
			     "degraded state while outputs cannot be delivered", &st);
	ck_assert_uint_lt(st.events, e.fx.stream.n);

	rd_kafka_mock_topic_set_error(ssid_mock_cluster(e.fx.kafka.mock), e.fx.kafka.output,
				      RD_KAFKA_RESP_ERR_NO_ERROR);
	fx_wait_drained(&e.fx.kafka, &e.fx.stream, e.daemon.log_path);
	fx_daemon_wait_events(&e.daemon, e.fx.stream.n, &st);
	ck_assert_int_eq(st.degraded, 0);
	ck_assert_uint_gt(st.failures, 0);
	ck_assert_int_eq(fx_daemon_stop(&e.daemon), 0);

	fx_check_states(&e.fx.redis, &e.fx.stream, &e.fx.model);
	fx_check_outputs(&e.fx.kafka, &e.fx.stream, &e.fx.model, false);
	fx_env_close(&e.fx);
}
END_TEST

static bool reloaded_once(const struct ssid_daemon_stats *st)
{
	return st->reloads == 1;
}

/* How many outputs each partition of the output topic holds now. */
static void output_ends(struct env *e, int64_t ends[FX_PARTITIONS_MAX])
{
	struct fx_msgs msgs;

	for (int p = 0; p < FX_PARTITIONS_MAX; p++)
		ends[p] = 0;
	ck_assert_int_eq(fx_kafka_read_topic(&e->fx.kafka, e->fx.kafka.output, &msgs), 0);
	for (size_t i = 0; i < msgs.n; i++)
		if (msgs.m[i].offset + 1 > ends[msgs.m[i].partition])
			ends[msgs.m[i].partition] = msgs.m[i].offset + 1;
	fx_msgs_free(&msgs);
}

START_TEST (test_reload_model) {
	struct t_rng rng = {.s = 0x2E10AD};
	struct ssid_daemon_stats st;
	struct ssi_model second;
	struct env e;
	struct fx_msgs msgs;
	char model_path[PATH_MAX];
	int64_t before_reload[FX_PARTITIONS_MAX];
	size_t first, after_a = 0, after_b = 0;
	bool score_moved = false, rescored[10] = {false};
	int64_t deadline;

	fx_env_open(&e.fx, "reload", 10, false);
	fx_path(model_path, sizeof(model_path), "model.json");
	fx_write_model(model_path, e.fx.model.version, 7);
	env_start_daemon(&e, &(struct fx_conf){.model_file = model_path});
	ck_assert_int_eq(fx_stream_add_random(&e.fx.stream, &rng, 120), 0);
	ck_assert_int_eq(fx_produce(&e.fx.kafka, &e.fx.stream, 0, e.fx.stream.n), 0);
	fx_wait_drained(&e.fx.kafka, &e.fx.stream, e.daemon.log_path);
	fx_daemon_wait_events(&e.daemon, e.fx.stream.n, &st);
	fx_check_outputs(&e.fx.kafka, &e.fx.stream, &e.fx.model, true);
	output_ends(&e, before_reload);

	/* A valid new model: the next outputs carry its version and its scores. */
	fx_write_model(model_path, "ssi-test-reload-2", 3);
	ck_assert_int_eq(ssid_file_load_model(&second, model_path, NULL), 0);
	fx_daemon_reload(&e.daemon);
	fx_daemon_wait_until(&e.daemon, reloaded_once, "reload", &st);
	first = e.fx.stream.n;
	ck_assert_int_eq(fx_stream_add_each_user(&e.fx.stream, &rng, SSI_EV_SESSION_STARTED), 0);
	ck_assert_int_eq(fx_produce(&e.fx.kafka, &e.fx.stream, first, e.fx.stream.n), 0);
	fx_wait_drained(&e.fx.kafka, &e.fx.stream, e.daemon.log_path);
	fx_daemon_wait_events(&e.daemon, e.fx.stream.n, &st);
	fx_check_outputs(&e.fx.kafka, &e.fx.stream, &second, false);
	ck_assert_int_eq(fx_kafka_read_topic(&e.fx.kafka, e.fx.kafka.output, &msgs), 0);
	for (size_t i = 0; i < msgs.n; i++) {
		struct fx_output o;

		if (!fx_output_is_score(&msgs.m[i]))
			continue;
		fx_parse_output(&e.fx.stream, &msgs.m[i], i, &o);
		if (msgs.m[i].offset < before_reload[msgs.m[i].partition]) {
			ck_assert_str_eq(o.model_version, e.fx.model.version);
			ck_assert_str_ne(o.cause, "model");
			after_a++;
		} else {
			/* A rep's first score under the new model says so: never a drop. */
			ck_assert_str_eq(o.model_version, second.version);
			if (!rescored[o.user])
				ck_assert_str_eq(o.cause, "model");
			rescored[o.user] = true;
			after_b++;
		}
	}
	fx_msgs_free(&msgs);
	ck_assert_uint_gt(after_a, 0);
	ck_assert_uint_gt(after_b, 0);
	for (int u = 0; u < e.fx.stream.nusers; u++) {
		struct ssi_state ref;
		struct ssi_score a, b;

		ssi_state_init(&ref);
		ck_assert_int_eq(
		    fx_reference_state(&e.fx.stream, u, e.fx.stream.n, &second, &ref, NULL, NULL),
		    0);
		ssi_score(&ref, &e.fx.model, FX_NOW_MS, &a);
		ssi_score(&ref, &second, FX_NOW_MS, &b);
		score_moved |= a.total != b.total;
		ssi_state_clear(&ref);
	}
	ck_assert_msg(score_moved, "the second model should score someone differently");

	/* A broken model: logged, the running one stays, and so does the daemon. */
	ck_assert_int_eq(fx_write_file(model_path, "{\"model_version\": ", 18), 0);
	fx_daemon_reload(&e.daemon);
	deadline = fx_deadline(FX_WAIT_MS);
	while (!fx_file_contains(e.daemon.log_path, "keeping model ssi-test-reload-2")) {
		ck_assert_msg(!fx_expired(deadline), "no failed reload in %s", e.daemon.log_path);
		fx_pause();
	}
	first = e.fx.stream.n;
	ck_assert_int_eq(fx_stream_add_each_user(&e.fx.stream, &rng, SSI_EV_POST_SHARED), 0);
	ck_assert_int_eq(fx_produce(&e.fx.kafka, &e.fx.stream, first, e.fx.stream.n), 0);
	fx_wait_drained(&e.fx.kafka, &e.fx.stream, e.daemon.log_path);
	fx_daemon_wait_events(&e.daemon, e.fx.stream.n, &st);
	ck_assert_uint_eq(st.reloads, 1);
	ck_assert(!fx_daemon_returned(&e.daemon));
	ck_assert_int_eq(fx_daemon_stop(&e.daemon), 0);
	fx_check_outputs(&e.fx.kafka, &e.fx.stream, &second, false);
	fx_check_states(&e.fx.redis, &e.fx.stream, &second);
	fx_env_close(&e.fx);
}
END_TEST

Suite *integration_suite(void)
{
	Suite *s = suite_create("integration");
	TCase *tc = T_TCASE("thread", fx_setup, fx_teardown, 120, test_happy_path,
			    test_dead_letters, test_delivery_failure, test_reload_model,
			    test_ranks_disabled, test_backlog_fills_batches);
	/* Stops and restarts one redis-server: not on a 3x3 cluster (check-cluster3). */
	TCase *restart = T_TCASE("restart", fx_setup, fx_teardown, 120, test_redis_restart);

	tcase_set_tags(restart, "restart");
	suite_add_tcase(s, tc);
	suite_add_tcase(s, restart);
	return s;
}
