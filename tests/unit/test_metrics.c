/*
 * ssid_metrics and ssid_http on their own: the exposition's exact text,
 * promtool's verdict on it, the health verdicts, every path and method of
 * the HTTP endpoint on a real loopback socket, metrics.listen's syntax, and
 * the offset bookkeeping behind the data-loss check (ssid_parts).
 */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fx_http.h"
#include "ssid_http.h"
#include "ssid_metrics.h"
#include "ssid_parts.h"
#include "ssid_time.h"
#include "suites.h"

static char *render(struct ssid_metrics *m)
{
	struct ssid_buf b = {0};

	ck_assert_int_eq(ssid_metrics_render(m, &b), 0);
	return b.data;
}

static void expect(const char *text, const char *series, double value)
{
	double got = fx_metric(text, series);

	ck_assert_msg(got == value, "%s: expected %g, got %g", series, value, got);
}

START_TEST (test_render_exact) {
	struct ssid_metrics *m;
	struct ssid_hist_local l = {0};
	char *text;

	ck_assert_int_eq(ssid_metrics_new(&m), 0);
	ssid_metrics_add(&m->events[SSID_RESULT_SCORED], 7);
	ssid_metrics_add(&m->events[SSID_RESULT_DUPLICATE], 2);
	ssid_metrics_add(&m->published[SSID_MSG_SCORE][1], 3); /* decay */
	ssid_metrics_add(&m->published[SSID_MSG_BOARD][SSID_METRIC_CAUSE_NONE], 4);
	ssid_metrics_add(&m->alerts[SSI_ALERT_BELOW_THRESHOLD], 5);
	ssid_metrics_dead_letter(m, "invalid_json");
	ssid_metrics_dead_letter(m, "missing_field:user_id");
	ssid_metrics_dead_letter(m, "invalid_json");
	ssid_metrics_dead_letter(m, "odd\"one\\");
	ssid_hist_observe(&m->batch_size, 1);	/* le=1 */
	ssid_hist_observe(&m->batch_size, 100); /* le=100 */
	ssid_hist_observe(&m->batch_size, 1e9); /* +Inf */
	ssid_hist_local_observe(&m->publish_latency, &l, 0.02);
	ssid_hist_local_observe(&m->publish_latency, &l, 0.5);
	ssid_hist_merge(&m->publish_latency, &l);
	ssid_metrics_add(&m->redis.commands, 11);
	ssid_metrics_set_lag(m, (int32_t[]){0, 3}, (int64_t[]){12, 0}, 2);
	ssid_metrics_set_model(m, "seed-2026.11");
	atomic_store(&m->decay_backlog, 9);
	text = render(m);

	expect(text, "ssid_events_total{result=\"scored\"}", 7);
	expect(text, "ssid_events_total{result=\"duplicate\"}", 2);
	expect(text, "ssid_events_total{result=\"below_mark\"}", 0);
	expect(text, "ssid_events_total{result=\"dead_lettered\"}", 0);
	expect(text, "ssid_published_messages_total{type=\"score_updated\",cause=\"decay\"}", 3);
	expect(text, "ssid_published_messages_total{type=\"score_updated\",cause=\"event\"}", 0);
	expect(text, "ssid_published_messages_total{type=\"leaderboard_changed\",cause=\"none\"}",
	       4);
	ck_assert_ptr_null(strstr(
	    text, "ssid_published_messages_total{type=\"leaderboard_changed\",cause=\"event"));
	expect(text, "ssid_alerts_total{rule=\"below_threshold\"}", 5);
	expect(text, "ssid_alerts_total{rule=\"score_drop\"}", 0);
	expect(text, "ssid_dead_letters_total{reason=\"invalid_json\"}", 2);
	expect(text, "ssid_dead_letters_total{reason=\"missing_field:user_id\"}", 1);
	expect(text, "ssid_dead_letters_total{reason=\"odd\\\"one\\\\\"}", 1);
	expect(text, "ssid_batch_size_events_bucket{le=\"1\"}", 1);
	expect(text, "ssid_batch_size_events_bucket{le=\"50\"}", 1);
	expect(text, "ssid_batch_size_events_bucket{le=\"100\"}", 2);
	expect(text, "ssid_batch_size_events_bucket{le=\"30000\"}", 2); /* a default full batch */
	expect(text, "ssid_batch_size_events_bucket{le=\"50000\"}", 2);
	expect(text, "ssid_batch_size_events_bucket{le=\"100000\"}", 2);
	expect(text, "ssid_batch_size_events_bucket{le=\"+Inf\"}", 3);
	expect(text, "ssid_batch_size_events_count", 3);
	expect(text, "ssid_batch_size_events_sum", 1e9 + 101);
	expect(text, "ssid_event_publish_latency_seconds_bucket{le=\"0.01\"}", 0);
	expect(text, "ssid_event_publish_latency_seconds_bucket{le=\"0.025\"}", 1);
	expect(text, "ssid_event_publish_latency_seconds_bucket{le=\"0.5\"}", 2);
	expect(text, "ssid_event_publish_latency_seconds_sum", 0.52);
	expect(text, "ssid_event_publish_latency_seconds_count", 2);
	expect(text, "ssid_redis_commands_total", 11);
	expect(text, "ssid_consumer_lag{partition=\"0\"}", 12);
	expect(text, "ssid_consumer_lag{partition=\"3\"}", 0);
	expect(text, "ssid_decay_backlog", 9);
	expect(text, "ssid_rebuild_events_left", -1); /* unknown: not exposed */
	expect(text, "ssid_build_info{version=\"" SSID_VERSION "\",model_version=\"seed-2026.11\"}",
	       1);
	ck_assert_msg(fx_metric(text, "process_resident_memory_bytes") > 0, "no RSS");
	ck_assert_msg(fx_metric(text, "process_open_fds") >= 3, "no fds");
	ck_assert_msg(fx_metric(text, "process_cpu_seconds_total") >= 0, "no CPU");
	free(text);
	ssid_metrics_free(m);
}
END_TEST

/* More distinct reasons than the table holds: the rest are "other", none is lost. */
START_TEST (test_reasons_overflow) {
	struct ssid_metrics *m;
	char reason[32], *text;

	ck_assert_int_eq(ssid_metrics_new(&m), 0);
	for (int i = 0; i < SSID_METRICS_REASONS + 5; i++) {
		snprintf(reason, sizeof(reason), "r%d", i);
		ssid_metrics_dead_letter(m, reason);
	}
	ssid_metrics_dead_letter(m, "r0");
	text = render(m);
	expect(text, "ssid_dead_letters_total{reason=\"r0\"}", 2);
	expect(text, "ssid_dead_letters_total{reason=\"r63\"}", 1);
	expect(text, "ssid_dead_letters_total{reason=\"r64\"}", -1);
	expect(text, "ssid_dead_letters_total{reason=\"other\"}", 5);
	free(text);
	ssid_metrics_free(m);
}
END_TEST

START_TEST (test_promtool_accepts) {
	struct ssid_metrics *m;
	char out[4096], *text;

	ck_assert_int_eq(ssid_metrics_new(&m), 0);
	ssid_metrics_dead_letter(m, "invalid_json");
	ssid_hist_observe(&m->batch_seconds, 0.2);
	ssid_metrics_set_lag(m, (int32_t[]){1}, (int64_t[]){4}, 1);
	atomic_store(&m->rebuild_events_left, 0);
	text = render(m);
	ck_assert_msg(fx_promtool_check(text, out, sizeof(out)) == 0, "promtool: %s", out);
	ck_assert_msg(out[0] == '\0', "promtool said: %s", out);
	/* And it does reject what is not the format: the check can fail. */
	ck_assert_int_ne(fx_promtool_check("ssid_x{ 1\n", out, sizeof(out)), 0);
	free(text);
	ssid_metrics_free(m);
}
END_TEST

START_TEST (test_health) {
	struct ssid_metrics *m;
	char why[160];
	int64_t now = ssid_time_mono_ms();

	ck_assert_int_eq(ssid_metrics_new(&m), 0);
	ck_assert(!ssid_metrics_live(m, now, why, sizeof(why)));
	ck_assert_str_eq(why, "starting: the main loop has not ticked yet");
	ssid_metrics_tick(m, now - SSID_METRICS_LIVENESS_MS - 1500);
	ck_assert(!ssid_metrics_live(m, now, why, sizeof(why)));
	ck_assert_str_eq(why, "the main loop last ticked 31.5 s ago");
	ssid_metrics_tick(m, now);
	ck_assert(ssid_metrics_live(m, now, why, sizeof(why)));
	ck_assert(!ssid_metrics_ready(m, now, why, sizeof(why)));
	ck_assert_str_eq(why, "no partition assigned");
	atomic_store(&m->partitions, 2);
	ck_assert(!ssid_metrics_ready(m, now, why, sizeof(why)));
	ck_assert_str_eq(why, "redis not answering");
	atomic_store(&m->redis_ok, 1);
	ck_assert(ssid_metrics_ready(m, now, why, sizeof(why)));
	ck_assert_str_eq(why, "ok");
	ssid_metrics_free(m);
}
END_TEST

static void get(int port, const char *method, const char *path, int status, const char *body)
{
	struct fx_http_reply r;

	ck_assert_int_eq(fx_http(port, method, path, &r), 0);
	ck_assert_msg(r.status == status, "%s %s: %d, expected %d", method, path, r.status, status);
	if (body)
		ck_assert_str_eq(r.body, body);
	fx_http_reply_free(&r);
}

START_TEST (test_http_paths) {
	struct ssid_metrics *m;
	struct ssid_http *h;
	struct fx_http_reply r;
	char err[256];
	int port;

	ck_assert_int_eq(ssid_metrics_new(&m), 0);
	ck_assert_msg(ssid_http_start(&h, "127.0.0.1:0", m, err, sizeof(err)) == 0, "%s", err);
	port = ssid_http_port(h);
	ck_assert_int_gt(port, 0);

	ssid_metrics_add(&m->events[SSID_RESULT_SCORED], 42);
	ck_assert_int_eq(fx_http(port, "GET", "/metrics", &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.headers, "Content-Type: text/plain; version=0.0.4"));
	expect(r.body, "ssid_events_total{result=\"scored\"}", 42);
	fx_http_reply_free(&r);
	ck_assert_int_eq(fx_http(port, "HEAD", "/metrics", &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(r.len, 0);
	fx_http_reply_free(&r);

	get(port, "GET", "/healthz", 503, "starting: the main loop has not ticked yet\n");
	get(port, "GET", "/readyz", 503, "starting: the main loop has not ticked yet\n");
	ssid_metrics_tick(m, ssid_time_mono_ms());
	get(port, "GET", "/healthz", 200, "ok\n");
	get(port, "GET", "/readyz", 503, "no partition assigned\n");
	atomic_store(&m->partitions, 1);
	atomic_store(&m->redis_ok, 1);
	get(port, "GET", "/readyz", 200, "ok\n");
	atomic_store(&m->redis_ok, 0);
	/* A Redis outage is not ready, and still alive. */
	get(port, "GET", "/readyz", 503, "redis not answering\n");
	get(port, "GET", "/healthz", 200, "ok\n");

	get(port, "GET", "/", 404, NULL);
	get(port, "GET", "/metrics/x", 404, NULL);
	get(port, "GET", "/metricsx", 404, NULL);
	ck_assert_int_eq(fx_http(port, "POST", "/metrics", &r), 0);
	ck_assert_int_eq(r.status, 405);
	ck_assert_ptr_nonnull(strstr(r.headers, "Allow: GET, HEAD"));
	fx_http_reply_free(&r);
	get(port, "DELETE", "/healthz", 405, "method not allowed: use GET\n");
	get(port, "PUT", "/readyz", 405, NULL);
	ssid_http_stop(h);
	ssid_metrics_free(m);
}
END_TEST

START_TEST (test_http_listen_errors) {
	struct ssid_metrics *m;
	struct ssid_http *h, *h2;
	char err[256], listen[64];

	ck_assert_int_eq(ssid_metrics_new(&m), 0);
	ck_assert_int_eq(ssid_http_start(&h, "127.0.0.1", m, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "\"127.0.0.1\": expected host:port, [v6 address]:port or :port");
	ck_assert_int_eq(ssid_http_start(&h, "127.0.0.1:99999", m, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "\"127.0.0.1:99999\": the port must be a number in 0..65535");
	ck_assert_int_eq(ssid_http_start(&h, "127.0.0.1:", m, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(ssid_http_start(&h, "no.such.host.invalid:80", m, err, sizeof(err)),
			 -EINVAL);
	ck_assert_msg(ssid_http_start(&h, "127.0.0.1:0", m, err, sizeof(err)) == 0, "%s", err);
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", ssid_http_port(h));
	ck_assert_int_eq(ssid_http_start(&h2, listen, m, err, sizeof(err)), -EADDRINUSE);
	ck_assert_msg(strstr(err, "Address already in use") != NULL, "%s", err);
	ssid_http_stop(h);
	ssid_metrics_free(m);
}
END_TEST

START_TEST (test_parse_listen) {
	char host[64], err[128];
	int port;

	ck_assert_int_eq(
	    ssid_http_parse_listen("127.0.0.1:9464", host, sizeof(host), &port, err, sizeof(err)),
	    0);
	ck_assert_str_eq(host, "127.0.0.1");
	ck_assert_int_eq(port, 9464);
	ck_assert_int_eq(
	    ssid_http_parse_listen(":9464", host, sizeof(host), &port, err, sizeof(err)), 0);
	ck_assert_str_eq(host, "");
	ck_assert_int_eq(
	    ssid_http_parse_listen("[::1]:80", host, sizeof(host), &port, err, sizeof(err)), 0);
	ck_assert_str_eq(host, "::1");
	ck_assert_int_eq(port, 80);
	ck_assert_int_eq(
	    ssid_http_parse_listen("::1:80", host, sizeof(host), &port, err, sizeof(err)), 0);
	ck_assert_int_eq(
	    ssid_http_parse_listen("[::1:80", host, sizeof(host), &port, err, sizeof(err)),
	    -EINVAL);
	ck_assert_int_eq(
	    ssid_http_parse_listen("h:-1", host, sizeof(host), &port, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(
	    ssid_http_parse_listen("h:8x", host, sizeof(host), &port, err, sizeof(err)), -EINVAL);
}
END_TEST

/* The offset bookkeeping of the data-loss check. */
START_TEST (test_parts_fetched) {
	struct ssid_parts ps = {0};

	ck_assert_int_eq(ssid_parts_assign(&ps, 2), 0);
	/* Unknown start (no committed offset): the first message sets it. */
	ck_assert_int_eq(ssid_parts_fetched(&ps, 2, 500), -1);
	ck_assert_int_eq(ssid_parts_fetched(&ps, 2, 501), -1);
	ck_assert_int_eq(ssid_parts_fetched(&ps, 2, 510), 502); /* 502..509 skipped */
	ck_assert_int_eq(ssid_parts_fetched(&ps, 2, 511), -1);
	/* Read again from before (a retry after a rebalance) is no gap. */
	ck_assert_int_eq(ssid_parts_fetched(&ps, 2, 400), -1);
	ssid_parts_expect(&ps, 2, 1000);
	ck_assert_int_eq(ssid_parts_fetched(&ps, 2, 1000), -1);
	ssid_parts_expect(&ps, 2, 1000);
	ck_assert_int_eq(ssid_parts_fetched(&ps, 2, 4242), 1000);
	/* A revoked partition forgets; an unknown one is never a gap. */
	ssid_parts_revoke(&ps, 2);
	ck_assert_int_eq(ssid_parts_fetched(&ps, 2, 9000), -1);
	ck_assert_int_eq(ssid_parts_fetched(&ps, 7, 9000), -1);
	ssid_parts_expect(&ps, 3, -1001 /* RD_KAFKA_OFFSET_INVALID */);
	ck_assert_int_eq(ssid_parts_fetched(&ps, 3, 9000), -1);
	ck_assert_int_eq(ssid_parts_owned(&ps), 0);
	ck_assert_int_eq(ssid_parts_assign(&ps, 0), 0);
	ck_assert_int_eq(ssid_parts_assign(&ps, 3), 0);
	ck_assert_int_eq(ssid_parts_owned(&ps), 2);
	ssid_parts_free(&ps);
}
END_TEST

/* Whether the exposition has a family for name (or name is a histogram's _bucket/_sum/_count). */
static bool exported(const char *text, const char *name)
{
	static const char *const parts[] = {"_bucket", "_sum", "_count"};
	char needle[320];
	size_t n = strlen(name);

	snprintf(needle, sizeof(needle), "\n# TYPE %s ", name);
	if (strstr(text, needle))
		return true;
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		size_t pl = strlen(parts[i]);

		if (n > pl && strcmp(name + n - pl, parts[i]) == 0) {
			snprintf(needle, sizeof(needle), "\n# TYPE %.*s histogram\n", (int)(n - pl),
				 name);
			if (strstr(text, needle))
				return true;
		}
	}
	return false;
}

/* Check every ssid_* and process_* name in a PromQL expression; how many there were. */
static int check_expr(const char *text, const char *expr, char *bad, size_t badlen)
{
	int found = 0;

	for (const char *p = expr; *p;) {
		const char *start = p;
		char name[256];

		if (!(isalpha((unsigned char)*p) || *p == '_')) {
			/* Skip label values and the like: they are no metric names. */
			if (*p == '"')
				for (p++; *p && *p != '"'; p++)
					;
			p += *p != '\0';
			continue;
		}
		while (isalnum((unsigned char)*p) || *p == '_' || *p == ':')
			p++;
		snprintf(name, sizeof(name), "%.*s", (int)(p - start), start);
		if (strncmp(name, "ssid_", 5) != 0 && strncmp(name, "process_", 8) != 0)
			continue;
		found++;
		if (!exported(text, name) && !bad[0])
			snprintf(bad, badlen, "%s (in %s)", name, expr);
	}
	return found;
}

/*
 * deploy/grafana/ssid.json queries only what ssid exports: every metric
 * name in every panel's and variable's query is a family of the exposition.
 */
START_TEST (test_grafana_names) {
	json_error_t jerr;
	json_t *dash = json_load_file("deploy/grafana/ssid.json", 0, &jerr), *panel, *target, *var;
	struct ssid_metrics *m;
	char *text, bad[512] = "";
	size_t i, j;
	int names = 0, exprs = 0;

	ck_assert_msg(dash != NULL, "deploy/grafana/ssid.json:%d: %s", jerr.line, jerr.text);
	ck_assert_int_eq(ssid_metrics_new(&m), 0);
	text = render(m);
	json_array_foreach(json_object_get(dash, "panels"), i, panel)
	{
		json_array_foreach(json_object_get(panel, "targets"), j, target)
		{
			const char *expr = json_string_value(json_object_get(target, "expr"));

			ck_assert_msg(expr != NULL, "panel %zu target %zu has no expr", i, j);
			names += check_expr(text, expr, bad, sizeof(bad));
			exprs++;
		}
	}
	json_array_foreach(json_object_get(json_object_get(dash, "templating"), "list"), i, var)
	{
		const char *def = json_string_value(json_object_get(var, "definition"));

		if (def)
			names += check_expr(text, def, bad, sizeof(bad));
	}
	ck_assert_msg(!bad[0], "the dashboard queries what ssid does not export: %s", bad);
	ck_assert_int_ge(exprs, 20);
	ck_assert_int_ge(names, exprs);
	/* The check itself catches a name ssid does not export. */
	ck_assert_int_eq(
	    check_expr(text, "rate(ssid_made_up_total{x=\"ssid_y\"}[1m])", bad, sizeof(bad)), 1);
	ck_assert_str_eq(bad, "ssid_made_up_total (in rate(ssid_made_up_total{x=\"ssid_y\"}[1m]))");
	free(text);
	ssid_metrics_free(m);
	json_decref(dash);
}
END_TEST

Suite *metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("metrics");

	tcase_add_test(tc, test_render_exact);
	tcase_add_test(tc, test_reasons_overflow);
	tcase_add_test(tc, test_promtool_accepts);
	tcase_add_test(tc, test_health);
	tcase_add_test(tc, test_http_paths);
	tcase_add_test(tc, test_http_listen_errors);
	tcase_add_test(tc, test_parse_listen);
	tcase_add_test(tc, test_parts_fetched);
	tcase_add_test(tc, test_grafana_names);
	suite_add_tcase(s, tc);
	return s;
}
