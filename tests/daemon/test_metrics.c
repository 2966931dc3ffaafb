/*
 * ssid's metrics and health endpoints, scraped over HTTP from ssid running in
 * a thread against a real redis-server and the mock cluster: every counter
 * checked exactly against what the test sent and what ssid published, the
 * exposition validated by promtool, counters kept across a reload; health
 * and readiness through a Redis outage; and loud data loss: the mock
 * cluster's bounded log drops events while ssid is paused, and ssid must
 * say which partition lost how many offsets.
 *
 * The real prometheus server scraping ssid (test_prometheus_server) has the
 * tag "server": make runs it natively only, not under ASan or valgrind.
 */
#include <errno.h>
#include <signal.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sysexits.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fixture.h"
#include "fx_http.h"
#include "suites.h"

struct env {
	struct fx_env fx;
	struct fx_daemon daemon;
	int port;
	char conf[4096];
};

static void start(struct env *e, const char *tag, int users, bool persistent)
{
	char extra[128], err[1024];

	fx_env_open(&e->fx, tag, users, persistent);
	e->port = fx_free_port();
	ck_assert_int_gt(e->port, 0);
	snprintf(extra, sizeof(extra), "metrics.listen = 127.0.0.1:%d\n", e->port);
	ck_assert_int_eq(fx_config_text(e->conf, sizeof(e->conf), &e->fx.kafka, &e->fx.redis,
					&(struct fx_conf){.extra = extra}),
			 0);
	ck_assert_msg(fx_daemon_start(&e->daemon, e->conf, err, sizeof(err)) == 0, "ssid: %s", err);
}

/* GET /metrics: the body (free it). */
static char *scrape(const struct env *e)
{
	struct fx_http_reply r;

	ck_assert_int_eq(fx_http(e->port, "GET", "/metrics", &r), 0);
	ck_assert_int_eq(r.status, 200);
	return r.body;
}

static void expect(const char *text, const char *series, double value)
{
	double got = fx_metric(text, series);

	ck_assert_msg(got == value, "%s: expected %.0f, got %.0f", series, value, got);
}

/* GET path: its status and body. */
static void expect_get(const struct env *e, const char *path, int status, const char *body)
{
	struct fx_http_reply r;

	ck_assert_int_eq(fx_http(e->port, "GET", path, &r), 0);
	ck_assert_msg(r.status == status && strcmp(r.body, body) == 0, "GET %s: %d %s", path,
		      r.status, r.body);
	fx_http_reply_free(&r);
}

/* Poll /metrics until series reads value (gauges refresh once a second). */
static void wait_metric(const struct env *e, const char *series, double value)
{
	int64_t deadline = fx_deadline(FX_WAIT_MS);

	for (;;) {
		char *text = scrape(e);
		double got = fx_metric(text, series);

		free(text);
		if (got == value)
			return;
		ck_assert_msg(!fx_expired(deadline), "%s stayed %.0f, expected %.0f", series, got,
			      value);
		fx_pause();
	}
}

/* The output topic's messages by type, and score.updated by cause. */
struct outputs {
	size_t scores[3]; /* event, decay, model */
	size_t ranks, alerts, boards;
};

static void read_outputs(struct env *e, struct outputs *o)
{
	static const char *const causes[] = {"\"cause\":\"event\"", "\"cause\":\"decay\"",
					     "\"cause\":\"model\""};
	struct fx_msgs out;

	memset(o, 0, sizeof(*o));
	ck_assert_int_eq(fx_kafka_read_topic(&e->fx.kafka, e->fx.kafka.output, &out), 0);
	for (size_t i = 0; i < out.n; i++) {
		const char *v = out.m[i].value;

		if (fx_output_is_score(&out.m[i])) {
			for (int c = 0; c < 3; c++)
				o->scores[c] += strstr(v, causes[c]) != NULL;
		} else if (strstr(v, "\"type\":\"rank.changed\"")) {
			o->ranks++;
		} else if (strstr(v, "\"type\":\"leaderboard.changed\"")) {
			o->boards++;
		} else {
			ck_assert_msg(strstr(v, "\"type\":\"alert\"") != NULL, "what is %s", v);
			o->alerts++;
		}
	}
	fx_msgs_free(&out);
}

static double sum_series(const char *text, const char *prefix)
{
	double sum = 0;
	size_t n = strlen(prefix);

	for (const char *line = text; line && *line; line = strchr(line, '\n'), line += !!line)
		if (strncmp(line, prefix, n) == 0)
			sum += strtod(strchr(line, ' ') + 1, NULL);
	return sum;
}

static void add_bad(struct fx_stream *s, const char *json, const char *code)
{
	ck_assert_int_eq(fx_stream_add_raw(s, "bad", -1, json, strlen(json), code), 0);
}

static bool has_reloaded(const struct ssid_daemon_stats *st)
{
	return st->reloads == 1;
}

START_TEST (test_scrape_exact) {
	struct t_rng rng = {.s = 0x3E7E1C5};
	struct ssid_daemon_stats st;
	struct env e;
	struct outputs o;
	size_t applied, duplicates, first;
	char *text, *again, out[4096], series[256];

	start(&e, "metrics", 14, false);
	ck_assert_int_eq(fx_stream_add_random(&e.fx.stream, &rng, 300), 0);
	add_bad(&e.fx.stream, "not json", "invalid_json");
	add_bad(&e.fx.stream, "{\"oops\"", "invalid_json");
	add_bad(&e.fx.stream, "[]", "not_an_object");
	add_bad(&e.fx.stream,
		"{\"event_id\":\"m1\",\"type\":\"post_shared\","
		"\"occurred_at\":\"2026-11-19T10:00:00Z\"}",
		"missing_field:user_id");
	add_bad(&e.fx.stream, "what", "invalid_json");
	ck_assert_int_eq(fx_produce(&e.fx.kafka, &e.fx.stream, 0, e.fx.stream.n), 0);
	fx_wait_drained(&e.fx.kafka, &e.fx.stream, e.daemon.log_path);
	fx_daemon_wait_events(&e.daemon, e.fx.stream.n, &st);
	for (int i = 0; i < 4; i++) {
		char lag[64];

		snprintf(lag, sizeof(lag), "ssid_consumer_lag{partition=\"%d\"}", i);
		wait_metric(&e, lag, 0);
	}
	/* Nothing to replay, and the decay pass keeps up (counted every 5 s). */
	wait_metric(&e, "ssid_rebuild_events_left", 0);
	wait_metric(&e, "ssid_decay_backlog", 0);

	text = scrape(&e);
	fx_daemon_stats(&e.daemon, &st);
	fx_reference_counts(&e.fx.stream, &e.fx.model, &applied, &duplicates);
	ck_assert_uint_gt(duplicates, 0);
	expect(text, "ssid_events_total{result=\"scored\"}", (double)applied);
	expect(text, "ssid_events_total{result=\"duplicate\"}", (double)duplicates);
	expect(text, "ssid_events_total{result=\"below_mark\"}", 0);
	expect(text, "ssid_events_total{result=\"dead_lettered\"}", 5);
	expect(text, "ssid_events_total{result=\"replay_rejected\"}", 0);
	expect(text, "ssid_dead_letters_total{reason=\"invalid_json\"}", 3);
	expect(text, "ssid_dead_letters_total{reason=\"not_an_object\"}", 1);
	expect(text, "ssid_dead_letters_total{reason=\"missing_field:user_id\"}", 1);
	expect(text, "ssid_published_messages_total{type=\"dead_letter\",cause=\"none\"}", 5);

	/* Every published message, by type and cause, is one on the output topic. */
	read_outputs(&e, &o);
	ck_assert_uint_gt(o.scores[0], 13);
	expect(text, "ssid_published_messages_total{type=\"score_updated\",cause=\"event\"}",
	       (double)o.scores[0]);
	expect(text, "ssid_published_messages_total{type=\"score_updated\",cause=\"decay\"}",
	       (double)o.scores[1]);
	expect(text, "ssid_published_messages_total{type=\"score_updated\",cause=\"model\"}",
	       (double)o.scores[2]);
	ck_assert_uint_eq(o.scores[0] + o.scores[1] + o.scores[2], st.outputs);
	ck_assert(sum_series(text, "ssid_published_messages_total{type=\"rank_changed\"") ==
		  (double)o.ranks);
	ck_assert(sum_series(text, "ssid_published_messages_total{type=\"alert\"") ==
		  (double)o.alerts);
	ck_assert(sum_series(text, "ssid_alerts_total{") == (double)o.alerts);
	expect(text, "ssid_published_messages_total{type=\"leaderboard_changed\",cause=\"none\"}",
	       (double)o.boards);
	/* Each event score's latency observed once; batches are those the daemon counted. */
	expect(text, "ssid_event_publish_latency_seconds_count", (double)o.scores[0]);
	expect(text, "ssid_batch_size_events_count", (double)st.batches);
	expect(text, "ssid_batch_size_events_sum", (double)e.fx.stream.n);
	expect(text, "ssid_batch_duration_seconds_count", (double)st.batches);
	ck_assert(fx_metric(text, "ssid_redis_commands_total") >=
		  fx_metric(text, "ssid_redis_round_trips_total"));
	ck_assert(fx_metric(text, "ssid_redis_round_trips_total") > (double)st.batches);
	expect(text, "ssid_redis_errors_total", 0);
	expect(text, "ssid_offset_resets_total", 0);
	expect(text, "ssid_offsets_skipped_total", 0);
	expect(text, "ssid_kafka_producers_renewed_total", 0);
	expect(text, "ssid_partitions_assigned", 4);
	expect(text, "ssid_consumer_lag{partition=\"0\"}", 0);
	snprintf(series, sizeof(series),
		 "ssid_build_info{version=\"" SSID_VERSION "\",model_version=\"%s\"}",
		 e.fx.model.version);
	expect(text, series, 1);
	ck_assert_msg(fx_promtool_check(text, out, sizeof(out)) == 0 && !out[0], "promtool: %s",
		      out);
	expect_get(&e, "/healthz", 200, "ok\n");
	expect_get(&e, "/readyz", 200, "ok\n");

	/* A reload keeps every counter; it only adds itself. */
	fx_daemon_reload(&e.daemon);
	fx_daemon_wait_until(&e.daemon, has_reloaded, "reload", &st);
	again = scrape(&e);
	expect(again, "ssid_reloads_total", 1);
	expect(again, "ssid_events_total{result=\"scored\"}", (double)applied);
	expect(again, "ssid_dead_letters_total{reason=\"invalid_json\"}", 3);
	expect(again, "ssid_published_messages_total{type=\"score_updated\",cause=\"event\"}",
	       (double)o.scores[0]);
	free(again);

	/* And they go on counting from there. */
	first = e.fx.stream.n;
	ck_assert_int_eq(fx_stream_add_each_user(&e.fx.stream, &rng, SSI_EV_POST_SHARED), 0);
	add_bad(&e.fx.stream, "nope", "invalid_json");
	ck_assert_int_eq(fx_produce(&e.fx.kafka, &e.fx.stream, first, e.fx.stream.n), 0);
	fx_wait_drained(&e.fx.kafka, &e.fx.stream, e.daemon.log_path);
	fx_daemon_wait_events(&e.daemon, e.fx.stream.n, &st);
	fx_reference_counts(&e.fx.stream, &e.fx.model, &applied, &duplicates);
	again = scrape(&e);
	expect(again, "ssid_events_total{result=\"scored\"}", (double)applied);
	expect(again, "ssid_events_total{result=\"duplicate\"}", (double)duplicates);
	expect(again, "ssid_dead_letters_total{reason=\"invalid_json\"}", 4);
	expect(again, "ssid_batch_size_events_sum", (double)e.fx.stream.n);
	read_outputs(&e, &o);
	expect(again, "ssid_published_messages_total{type=\"score_updated\",cause=\"event\"}",
	       (double)o.scores[0]);
	free(again);
	free(text);
	ck_assert_int_eq(fx_daemon_stop(&e.daemon), 0);
	fx_env_close(&e.fx);
}
END_TEST

/* A datagram socket standing in for systemd's, at <scratch>/notify, named by NOTIFY_SOCKET. */
static int notify_socket(void)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct timeval timeout = {.tv_sec = 5};
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	fx_path(addr.sun_path, sizeof(addr.sun_path), "notify");
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)), 0);
	setenv("NOTIFY_SOCKET", addr.sun_path, 1);
	return fd;
}

/* Read the notifications until a STATUS= line contains needle. */
static void wait_status(int fd, const char *needle)
{
	int64_t deadline = fx_deadline(FX_WAIT_MS);
	char buf[4096];

	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);

		ck_assert_msg(n >= 0 && !fx_expired(deadline), "no status with \"%s\"", needle);
		buf[n] = '\0';
		if (strncmp(buf, "STATUS=", 7) == 0 && strstr(buf, needle))
			return;
	}
}

/* Junk messages of 8 KiB to one partition of the input topic, n of them. */
static void flood(struct fx_kafka *k, int32_t partition, int n)
{
	static char junk[8192];

	memset(junk, 'x', sizeof(junk));
	for (int i = 0; i < n; i++) {
		rd_kafka_resp_err_t err;

		do {
			err = rd_kafka_producev(
			    k->producer, RD_KAFKA_V_TOPIC(k->input),
			    RD_KAFKA_V_PARTITION(partition), RD_KAFKA_V_VALUE(junk, sizeof(junk)),
			    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
			if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
				rd_kafka_poll(k->producer, 10);
		} while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL);
		ck_assert_int_eq(err, 0);
	}
	ck_assert_int_eq(rd_kafka_flush(k->producer, FX_WAIT_MS), 0);
}

/*
 * Redis goes away, so ssid pauses its partitions with one event in hand;
 * meanwhile far more than the mock cluster keeps (about 5 MB per partition)
 * is produced to that event's partition. When Redis is back, ssid's next
 * offset there is gone: it must log the partition and the exact number of
 * offsets skipped, count them, and dead-letter what is left of the junk.
 */
START_TEST (test_offset_reset_logged) {
	struct t_rng rng = {.s = 0x105E};
	struct ssid_daemon_stats st;
	struct env e;
	size_t first;
	int64_t lo = -1, hi = -1, next;
	int32_t partition;
	char *text, field[64];
	int notify_fd;

	start(&e, "loss", 6, true);
	ck_assert_int_eq(fx_stream_add_random(&e.fx.stream, &rng, 60), 0);
	ck_assert_int_eq(fx_produce(&e.fx.kafka, &e.fx.stream, 0, e.fx.stream.n), 0);
	fx_wait_drained(&e.fx.kafka, &e.fx.stream, e.daemon.log_path);
	fx_daemon_wait_events(&e.daemon, e.fx.stream.n, &st);

	ck_assert_int_eq(fx_redis_stop(&e.fx.redis), 0);
	first = e.fx.stream.n;
	ck_assert_int_eq(fx_stream_add_each_user(&e.fx.stream, &rng, SSI_EV_POST_SHARED), 0);
	ck_assert_int_eq(fx_produce(&e.fx.kafka, &e.fx.stream, first, first + 1), 0);
	fx_daemon_wait_until(&e.daemon, fx_daemon_is_degraded, "degraded state while Redis is down",
			     &st);
	/* Paused: alive, not ready. */
	wait_metric(&e, "ssid_batch_failures_total", (double)st.failures);
	expect_get(&e, "/healthz", 200, "ok\n");
	expect_get(&e, "/readyz", 503, "redis not answering\n");

	partition = e.fx.stream.ev[first].partition;
	next = e.fx.stream.ev[first].offset + 1;
	flood(&e.fx.kafka, partition, 1000);
	ck_assert_int_eq(rd_kafka_query_watermark_offsets(e.fx.kafka.producer, e.fx.kafka.input,
							  partition, &lo, &hi, 10000),
			 0);
	ck_assert_msg(lo > next, "the mock log kept offset %lld (starts at %lld)", (long long)next,
		      (long long)lo);
	ck_assert_int_eq(hi, next + 1000);

	/* From here the status line goes to a socket of ours, read while we wait. */
	notify_fd = notify_socket();
	ck_assert_msg(fx_redis_start(&e.fx.redis, e.fx.redis.dir, true) == 0,
		      "redis-server did not restart (see %s/redis.log)", e.fx.redis.dir);
	snprintf(field, sizeof(field), "DATA LOST: %lld offsets skipped in 1 resets",
		 (long long)(lo - next));
	wait_status(notify_fd, field);
	unsetenv("NOTIFY_SOCKET");
	close(notify_fd);
	fx_daemon_stats(&e.daemon, &st);
	ck_assert_uint_eq(st.offset_resets, 1);
	ck_assert_uint_eq(st.offsets_skipped, (uint64_t)(lo - next));
	fx_daemon_wait_events(&e.daemon, first + 1 + (uint64_t)(hi - lo), &st);
	snprintf(field, sizeof(field), "SSID_PARTITION=%d", (int)partition);
	ck_assert_msg(fx_file_contains(e.daemon.log_path, field), "no %s in %s", field,
		      e.daemon.log_path);
	snprintf(field, sizeof(field), "SSID_OFFSETS_SKIPPED=%lld", (long long)(lo - next));
	ck_assert_msg(fx_file_contains(e.daemon.log_path, field), "no %s", field);
	ck_assert(fx_file_contains(e.daemon.log_path, "error: data loss: partition"));
	ck_assert(fx_file_contains(e.daemon.log_path, "SSID_EVENT=offset_reset"));

	wait_metric(&e, "ssid_events_total{result=\"dead_lettered\"}", (double)(hi - lo));
	text = scrape(&e);
	expect(text, "ssid_offset_resets_total", 1);
	expect(text, "ssid_offsets_skipped_total", (double)(lo - next));
	expect(text, "ssid_dead_letters_total{reason=\"invalid_json\"}", (double)(hi - lo));
	ck_assert(fx_metric(text, "ssid_redis_errors_total") > 0);
	free(text);
	expect_get(&e, "/readyz", 200, "ok\n");
	ck_assert_int_eq(fx_daemon_stop(&e.daemon), 0);
	fx_env_close(&e.fx);
}
END_TEST

/* The value of the one sample an instant query of prometheus at port returns; -1: none yet. */
static double prom_query(int port, const char *query)
{
	struct fx_http_reply r;
	char path[512];
	json_t *root, *result, *value;
	double v = -1;

	snprintf(path, sizeof(path), "/api/v1/query?query=%s", query);
	if (fx_http(port, "GET", path, &r) < 0)
		return -1;
	root = r.status == 200 ? json_loads(r.body, 0, NULL) : NULL;
	result = json_object_get(json_object_get(root, "data"), "result");
	value = json_array_get(json_object_get(json_array_get(result, 0), "value"), 1);
	if (json_array_size(result) == 1 && json_is_string(value))
		v = strtod(json_string_value(value), NULL);
	json_decref(root);
	fx_http_reply_free(&r);
	return v;
}

static void wait_prom(int port, const char *query, double want, const char *log)
{
	int64_t deadline = fx_deadline(FX_WAIT_MS);
	double got;

	while ((got = prom_query(port, query)) != want) {
		ck_assert_msg(!fx_expired(deadline), "prometheus: %s is %g, expected %g (see %s)",
			      query, got, want, log);
		fx_pause();
	}
}

/*
 * A real prometheus server on loopback scrapes ssid every second; through
 * its HTTP API, ssid is up and its scored-events counter is what was sent.
 */
START_TEST (test_prometheus_server) {
	struct t_rng rng = {.s = 0x9A0E};
	struct ssid_daemon_stats st;
	struct fx_proc prom;
	struct env e;
	size_t applied, duplicates;
	char conf[PATH_MAX], data[PATH_MAX], log[PATH_MAX], text[512], arg_conf[PATH_MAX + 16],
	    arg_data[PATH_MAX + 32], arg_listen[64];
	int port = fx_free_port();

	start(&e, "prom", 8, false);
	ck_assert_int_eq(fx_stream_add_random(&e.fx.stream, &rng, 80), 0);
	ck_assert_int_eq(fx_produce(&e.fx.kafka, &e.fx.stream, 0, e.fx.stream.n), 0);
	fx_wait_drained(&e.fx.kafka, &e.fx.stream, e.daemon.log_path);
	fx_daemon_wait_events(&e.daemon, e.fx.stream.n, &st);
	fx_reference_counts(&e.fx.stream, &e.fx.model, &applied, &duplicates);

	snprintf(text, sizeof(text),
		 "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
		 "scrape_configs:\n  - job_name: ssid\n    static_configs:\n"
		 "      - targets: ['127.0.0.1:%d']\n",
		 e.port);
	fx_path(conf, sizeof(conf), "prometheus.yml");
	ck_assert_int_eq(fx_write_file(conf, text, strlen(text)), 0);
	fx_path(data, sizeof(data), "prometheus-data");
	fx_path(log, sizeof(log), "prometheus.log");
	snprintf(arg_conf, sizeof(arg_conf), "--config.file=%s", conf);
	snprintf(arg_data, sizeof(arg_data), "--storage.tsdb.path=%s", data);
	snprintf(arg_listen, sizeof(arg_listen), "--web.listen-address=127.0.0.1:%d", port);
	ck_assert_int_gt(port, 0);
	ck_assert_int_eq(fx_spawn(&prom,
				  (const char *const[]){"prometheus", arg_conf, arg_data,
							arg_listen, "--log.level=warn", NULL},
				  NULL, log, log),
			 0);
	wait_prom(port, "up%7Bjob%3D%22ssid%22%7D", 1, log);
	wait_prom(port, "ssid_events_total%7Bjob%3D%22ssid%22%2Cresult%3D%22scored%22%7D",
		  (double)applied, log);
	ck_assert_int_eq(fx_proc_signal(&prom, SIGTERM), 0);
	ck_assert_int_eq(fx_proc_wait(&prom, FX_WAIT_MS), 0);
	ck_assert_int_eq(fx_daemon_stop(&e.daemon), 0);
	fx_env_close(&e.fx);
}
END_TEST

/* metrics.listen: a bad value names the file, line and key; a port in use stops ssid at start. */
START_TEST (test_listen_errors) {
	struct fx_env fx;
	struct fx_daemon d;
	struct ssid_config cfg;
	struct ssid_config_error ce;
	char path[PATH_MAX], text[4096], extra[128], err[1024];
	int fd, port;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);

	fx_env_open(&fx, "listen", 2, false);
	ck_assert_int_eq(fx_config_file(path, sizeof(path), "bad.conf", &fx.kafka, &fx.redis,
					&(struct fx_conf){.extra = "metrics.listen = 127.0.0.1\n"}),
			 0);
	ck_assert_int_eq(ssid_config_load(&cfg, path, &ce), -EINVAL);
	ck_assert_str_eq(ce.key, "metrics.listen");
	ck_assert_uint_gt(ce.line, 20);
	ck_assert_msg(strstr(ce.message, "host:port") != NULL, "%s", ce.message);

	/* Someone else holds the port: ssid says so and stops with EX_UNAVAILABLE. */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 1), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	snprintf(extra, sizeof(extra), "metrics.listen = 127.0.0.1:%d\n", port);
	ck_assert_int_eq(fx_config_text(text, sizeof(text), &fx.kafka, &fx.redis,
					&(struct fx_conf){.extra = extra}),
			 0);
	ck_assert_msg(fx_daemon_start(&d, text, err, sizeof(err)) == 0, "ssid: %s", err);
	ck_assert_int_eq(fx_daemon_stop(&d), EX_UNAVAILABLE);
	snprintf(text, sizeof(text),
		 "metrics.listen: cannot listen on 127.0.0.1:%d: Address already in use", port);
	ck_assert_msg(fx_file_contains(d.log_path, text), "no \"%s\" in %s", text, d.log_path);
	close(fd);
	fx_env_close(&fx);
}
END_TEST

Suite *metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("metrics");

	tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, test_scrape_exact);
	tcase_add_test(tc, test_offset_reset_logged);
	tcase_add_test(tc, test_listen_errors);
	suite_add_tcase(s, tc);
	/* One heavy external server: run natively only (make excludes "server" under ASan and
	 * valgrind). */
	tc = tcase_create("prometheus");
	tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
	tcase_set_tags(tc, "server");
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, test_prometheus_server);
	suite_add_tcase(s, tc);
	return s;
}
