/*
 * The output producer's fatal error, in a thread of the test process
 * against the mock cluster: the broker answers ssid's first Produce request
 * with OUT_OF_ORDER_SEQUENCE_NUMBER, which an idempotent producer cannot
 * recover from (librdkafka raises a fatal error). ssid must replace the
 * producer and run the batch again: every event scored once, one
 * score.updated per rep, and not degraded.
 */
#include "fixture.h"
#include "fx_http.h"
#include "suites.h"

/* Kafka's Produce API key (librdkafka does not install rdkafka_protocol.h). */
#define API_PRODUCE 0

START_TEST (test_fatal_producer_renewed) {
	struct t_rng rng = {.s = 0xFA7A1};
	struct ssid_daemon_stats st;
	struct fx_daemon daemon;
	struct fx_env e;
	struct fx_msgs out;
	size_t applied = 0, scores = 0;
	int per_user[16] = {0};
	char conf[4096], err[1024], extra[128];
	struct fx_http_reply scrape;
	int port = fx_free_port();

	fx_env_open(&e, "fatal", 16, false);
	ck_assert_int_eq(fx_stream_add_each_user(&e.stream, &rng, SSI_EV_POST_SHARED), 0);
	ck_assert_int_eq(fx_stream_add_each_user(&e.stream, &rng, SSI_EV_SESSION_STARTED), 0);
	ck_assert_int_eq(fx_produce(&e.kafka, &e.stream, 0, e.stream.n), 0);
	/* The test's own events are in: the next Produce request is ssid's first. */
	rd_kafka_mock_push_request_errors(ssid_mock_cluster(e.kafka.mock), API_PRODUCE, 1,
					  RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
	ck_assert_int_gt(port, 0);
	snprintf(extra, sizeof(extra), "metrics.listen = 127.0.0.1:%d\n", port);
	ck_assert_int_eq(
	    fx_config_text(conf, sizeof(conf), &e.kafka, &e.redis,
			   &(struct fx_conf){.batch_max_events = 1000, .extra = extra}),
	    0);
	ck_assert_msg(fx_daemon_start(&daemon, conf, err, sizeof(err)) == 0, "ssid: %s", err);
	fx_wait_drained(&e.kafka, &e.stream, daemon.log_path);
	fx_daemon_wait_events(&daemon, e.stream.n, &st);
	/* The replacement is counted where operators look for it. */
	ck_assert_int_eq(fx_http(port, "GET", "/metrics", &scrape), 0);
	ck_assert_int_eq(scrape.status, 200);
	ck_assert(fx_metric(scrape.body, "ssid_kafka_producers_renewed_total") == 1);
	fx_http_reply_free(&scrape);
	ck_assert_int_eq(fx_daemon_stop_stats(&daemon, &st), 0);

	ck_assert_uint_eq(st.producers_renewed, 1);
	ck_assert_uint_eq(st.failures, 0);
	ck_assert_int_eq(st.degraded, 0);
	ck_assert_msg(fx_file_contains(daemon.log_path, "kafka producer: fatal error "
							"OUT_OF_ORDER_SEQUENCE_NUMBER"),
		      "no fatal error logged (log: %s)", daemon.log_path);
	ck_assert_msg(fx_file_contains(daemon.log_path, "replaced by a new producer"),
		      "no renewal logged (log: %s)", daemon.log_path);
	for (int u = 0; u < e.stream.nusers; u++) {
		struct ssi_state ref;

		ssi_state_init(&ref);
		ck_assert_int_eq(
		    fx_reference_state(&e.stream, u, e.stream.n, &e.model, &ref, &applied, NULL),
		    0);
		ssi_state_clear(&ref);
	}
	ck_assert_uint_eq(st.applied, applied);
	ck_assert_uint_eq(st.events, e.stream.n);
	fx_check_states(&e.redis, &e.stream, &e.model);
	ck_assert_uint_eq(fx_check_outputs(&e.kafka, &e.stream, &e.model, true), st.outputs);

	/* Exactly one score.updated per rep: nothing of the failed attempt got through twice. */
	ck_assert_int_eq(fx_kafka_read_topic(&e.kafka, e.kafka.output, &out), 0);
	for (size_t i = 0; i < out.n; i++) {
		struct fx_output o;

		if (!fx_output_is_score(&out.m[i]))
			continue;
		ck_assert_int_ge(fx_parse_output(&e.stream, &out.m[i], i, &o), 0);
		per_user[o.user]++;
		scores++;
	}
	fx_msgs_free(&out);
	ck_assert_uint_eq(scores, (size_t)e.stream.nusers);
	for (int u = 0; u < e.stream.nusers; u++)
		ck_assert_msg(per_user[u] == 1, "rep %d has %d score.updated", u, per_user[u]);
	fx_env_close(&e);
}
END_TEST

TCase *producer_tcase(void)
{
	TCase *tc = tcase_create("producer");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
	tcase_add_test(tc, test_fatal_producer_renewed);
	return tc;
}
