/*
 * ssictl's score, history and alerts commands (ssictl_run, in-process)
 * against a real redis-server and the mock cluster, over the known state of
 * ctl_util.h: every command's text and --json output checked against that
 * state; alerts read from and followed on the output topic; the reader of
 * the mock cluster's bootstrap file. The suite's other files: rank, around
 * and top (test_ssictl_rank.c), exit codes and usage (test_ssictl_exit.c),
 * network ranks (test_network.c).
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <hiredis/hiredis.h>
#include <jansson.h>

#include "ctl_util.h"
#include "fixture.h"
#include "ssictl.h"
#include "ssid_kafka.h"
#include "suites.h"

/* What `score USER` must print for a state, the published line given. */
static void score_text(char *buf, size_t len, const char *user, const struct ssi_state *st,
		       const char *published)
{
	struct ssi_score sc;
	char b[5][16];

	ssi_score(st, &ctl_model, FX_NOW_MS, &sc);
	snprintf(buf, len,
		 "user           %s\n"
		 "as of          2026-11-20T12:00:00.000Z\n"
		 "model          %s\n"
		 "SSI            %s\n"
		 "brand          %s\n"
		 "people         %s\n"
		 "insights       %s\n"
		 "relationships  %s\n"
		 "tenant         %s\n"
		 "team           %s\n"
		 "industry       %s\n"
		 "published      %s\n",
		 user, ctl_model.version, pts(sc.total, b[0]), pts(sc.pillar[0], b[1]),
		 pts(sc.pillar[1], b[2]), pts(sc.pillar[2], b[3]), pts(sc.pillar[3], b[4]),
		 st->segment[SSI_SEG_TENANT][0] ? st->segment[SSI_SEG_TENANT] : "-",
		 st->segment[SSI_SEG_TEAM][0] ? st->segment[SSI_SEG_TEAM] : "-",
		 st->segment[SSI_SEG_INDUSTRY][0] ? st->segment[SSI_SEG_INDUSTRY] : "-", published);
}

START_TEST (ctl_score_text) {
	struct ssi_state st;
	struct ssi_score sc;
	struct run r;
	char want[2048];
	struct ssid_redis *c;

	populate();
	build_state(&st, "r1", "acme", "emea", "software");
	ssi_score(&st, &ctl_model, FX_NOW_MS, &sc);
	ck_assert_int_gt(sc.total, 0);
	score_text(want, sizeof(want), "r1", &st,
		   "80.00 (brand 25.00, people 25.00, insights 25.00, relationships "
		   "5.00) as of "
		   "2026-11-20T10:00:00.000Z, model test-model-7");
	ctl(&r, "score", "r1");
	expect_out(&r, want);
	run_free(&r);
	ssi_state_clear(&st);

	/* Nothing published yet; segments unknown. */
	build_state(&st, "alice", "initech", "", "");
	score_text(want, sizeof(want), "alice", &st, "none");
	ctl(&r, "score", "alice");
	expect_out(&r, want);
	run_free(&r);

	/* The published score of older builds ("v1 ..."), then one this build cannot
	 * read. */
	c = fx_redis_client(&ctl_redis);
	peek(c, "HSET ssi:u:{alice} p %s", "v1 1234 1000 234 0 0");
	score_text(want, sizeof(want), "alice", &st,
		   "12.34 (brand 10.00, people 2.34, insights 0.00, relationships 0.00)");
	ctl(&r, "score", "alice");
	expect_out(&r, want);
	run_free(&r);
	peek(c, "HSET ssi:u:{alice} p %s", "v1 1234 1000 234 0 1");
	score_text(want, sizeof(want), "alice", &st, "unreadable");
	ctl(&r, "score", "alice");
	expect_out(&r, want);
	run_free(&r);
	ssid_redis_free(c);
	ssi_state_clear(&st);
}
END_TEST

START_TEST (ctl_score_explain) {
	struct ssi_state st;
	struct ssi_explain ex;
	struct run r;
	char line[256], b[2][16];
	json_t *j, *pil, *acts;
	size_t nvars = 0;

	populate();
	build_state(&st, "r1", "acme", "emea", "software");
	ck_assert_int_eq(ssi_explain(&st, &ctl_model, FX_NOW_MS, &ex), 0);
	ck_assert_int_eq(ex.nactions, SSI_EXPLAIN_ACTIONS);

	ctl(&r, "score", "--explain", "r1");
	expect_rc(&r, 0);
	ck_assert_msg(strstr(r.out, "\npillar / variable           value   points  headroom\n"),
		      "%s", r.out);
	for (int p = 0; p < SSI_PILLAR__COUNT; p++) {
		snprintf(line, sizeof(line), "\n%-24s %8s %8s %9s\n",
			 ssi_pillar_name((enum ssi_pillar)p), "", pts(ex.score.pillar[p], b[0]),
			 pts(2500 - ex.score.pillar[p], b[1]));
		ck_assert_msg(strstr(r.out, line), "no line\n%s\nin\n%s", line, r.out);
	}
	for (int v = 0; v < SSI_V__COUNT; v++) {
		snprintf(line, sizeof(line), "\n  %-22s %8.2f %8.2f %9.2f\n",
			 ssi_var_info((enum ssi_variable)v)->name, ex.var[v].x, ex.var[v].points,
			 ex.var[v].headroom);
		ck_assert_msg(strstr(r.out, line), "no line\n%s\nin\n%s", line, r.out);
	}
	for (int i = 0; i < ex.nactions; i++) {
		snprintf(line, sizeof(line), "\n  %d. %-44s +%-6s %s\n", i + 1, ex.action[i].text,
			 pts(ex.action[i].gain, b[0]), ssi_pillar_name(ex.action[i].pillar));
		ck_assert_msg(strstr(r.out, line), "no line\n%s\nin\n%s", line, r.out);
	}
	run_free(&r);

	ctl(&r, "--json", "score", "r1", "--explain");
	j = expect_json(&r);
	ck_assert_str_eq(jstr(j, "user_id"), "r1");
	ck_assert_str_eq(jstr(j, "as_of"), FX_AS_OF);
	ck_assert_str_eq(jstr(j, "model_version"), ctl_model.version);
	ck_assert(jnum(j, "score.ssi") == ex.score.total / 100.0);
	ck_assert(jnum(j, "score.pillars.relationships") == ex.score.pillar[3] / 100.0);
	ck_assert_str_eq(jstr(j, "segments.team"), "emea");
	ck_assert(jnum(j, "published.ssi") == 80.0);
	ck_assert_str_eq(jstr(j, "published.as_of"), "2026-11-20T10:00:00.000Z");
	ck_assert_str_eq(jstr(j, "published.model_version"), "test-model-7");
	pil = jget(j, "explain.pillars");
	ck_assert_int_eq(json_array_size(pil), SSI_PILLAR__COUNT);
	for (size_t p = 0; p < json_array_size(pil); p++) {
		json_t *po = json_array_get(pil, p), *vars = json_object_get(po, "variables");

		ck_assert_str_eq(jstr(po, "pillar"), ssi_pillar_name((enum ssi_pillar)p));
		ck_assert(jnum(po, "headroom") == (2500 - ex.score.pillar[p]) / 100.0);
		for (size_t i = 0; i < json_array_size(vars); i++, nvars++) {
			json_t *vo = json_array_get(vars, i);

			ck_assert_str_eq(jstr(vo, "name"),
					 ssi_var_info((enum ssi_variable)nvars)->name);
			ck_assert(fabs(jnum(vo, "points") - ex.var[nvars].points) < 1e-9);
			ck_assert(fabs(jnum(vo, "fraction") - ex.var[nvars].fraction) < 1e-9);
		}
	}
	ck_assert_int_eq(nvars, SSI_V__COUNT);
	acts = jget(j, "explain.actions");
	ck_assert_int_eq(json_array_size(acts), ex.nactions);
	for (int i = 0; i < ex.nactions; i++) {
		json_t *a = json_array_get(acts, (size_t)i);

		ck_assert_str_eq(jstr(a, "text"), ex.action[i].text);
		ck_assert(jnum(a, "gain") == ex.action[i].gain / 100.0);
	}
	json_decref(j);
	run_free(&r);

	/* Without --explain there is no explain. */
	ctl(&r, "score", "r1", "--json");
	j = expect_json(&r);
	ck_assert_ptr_null(jget(j, "explain"));
	json_decref(j);
	run_free(&r);
	ssi_state_clear(&st);
}
END_TEST

START_TEST (ctl_history) {
	struct run r;
	json_t *j, *d;

	populate();
	ctl(&r, "history", "r1", "--days", "7");
	expect_out(&r, "date           SSI   brand  people  insights  relationships\n"
		       "2026-11-15   50.00   20.00   15.00     10.00           5.00\n"
		       "2026-11-16   50.00   20.00   15.00     10.00           5.00\n"
		       "2026-11-17   51.00   21.00   15.00     10.00           5.00\n"
		       "2026-11-18   51.00   21.00   15.00     10.00           5.00\n"
		       "2026-11-19   51.00   21.00   15.00     10.00           5.00\n"
		       "2026-11-20   80.00   25.00   25.00     25.00           5.00\n");
	run_free(&r);
	ctl(&r, "history", "r1", "--days", "2");
	expect_out(&r, "date           SSI   brand  people  insights  relationships\n"
		       "2026-11-19   51.00   21.00   15.00     10.00           5.00\n"
		       "2026-11-20   80.00   25.00   25.00     25.00           5.00\n");
	run_free(&r);
	/* A known user with nothing recorded yet. */
	ctl(&r, "history", "alice");
	expect_out(&r, "no score recorded in the last 30 days\n");
	run_free(&r);

	ctl(&r, "--json", "history", "r1");
	j = expect_json(&r);
	ck_assert_str_eq(jstr(j, "from"), "2026-10-22");
	ck_assert_str_eq(jstr(j, "to"), "2026-11-20");
	d = jget(j, "days");
	ck_assert_int_eq(json_array_size(d), 6);
	ck_assert_str_eq(jstr(json_array_get(d, 0), "date"), "2026-11-15");
	ck_assert(jnum(json_array_get(d, 0), "ssi") == 50.0);
	ck_assert_str_eq(jstr(json_array_get(d, 5), "date"), "2026-11-20");
	ck_assert(jnum(json_array_get(d, 5), "pillars.insights") == 25.0);
	json_decref(j);
	run_free(&r);
}
END_TEST

/* ---- alerts -----------------------------------------------------------------
 */

static void produce(struct fx_kafka *k, int32_t partition, const char *value)
{
	rd_kafka_resp_err_t err = rd_kafka_producev(
	    k->producer, RD_KAFKA_V_TOPIC(k->output), RD_KAFKA_V_PARTITION(partition),
	    RD_KAFKA_V_VALUE((void *)value, strlen(value)),
	    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);

	ck_assert_msg(err == RD_KAFKA_RESP_ERR_NO_ERROR, "produce: %s", rd_kafka_err2str(err));
	ck_assert_int_eq(rd_kafka_flush(k->producer, FX_WAIT_MS), RD_KAFKA_RESP_ERR_NO_ERROR);
}

static const char *alert_msg(char *buf, size_t len, const char *user, const char *rule,
			     const char *as_of, const char *why)
{
	snprintf(buf, len,
		 "{\"schema\":1,\"type\":\"alert\",\"user_id\":\"%s\",\"rule\":\"%s\","
		 "\"cause\":\"decay\",\"why\":\"%s\",\"as_of\":\"%s\",\"ssi\":61.5}",
		 user, rule, why, as_of);
	return buf;
}

static void alerts_conf(char *path, size_t len, const struct fx_kafka *k)
{
	ck_assert_int_eq(fx_config_file(path, len, "alerts.conf", k, &ctl_redis, NULL), 0);
}

START_TEST (ctl_alerts) {
	struct fx_kafka k;
	char conf[PATH_MAX], mock_conf[PATH_MAX], bs_file[PATH_MAX], m[512];
	struct run r, r2;
	json_t *j, *a;
	static const char *const want = "2026-11-19T08:00:00.000Z  rep-long-name  "
					"below_threshold  SSI 68.50 fell below 70\n"
					"2026-11-20T11:00:00.000Z  u1             "
					"score_drop       4 posts aged out of the "
					"90-day window\n"
					"2026-11-20T12:00:00.000Z  u2             "
					"pillar_drop      brand fell 3.5 points\n";

	ck_assert_int_eq(fx_kafka_start(&k, "ctl", 2), 0);
	alerts_conf(conf, sizeof(conf), &k);
	ctl_conf(&r, conf, "alerts", (const char *)NULL);
	expect_out(&r, "no alerts in ctl.scores\n");
	run_free(&r);

	/* Out of time order over two partitions, among score updates; a newline in
	 * why. */
	produce(&k, 1,
		alert_msg(m, sizeof(m), "u2", "pillar_drop", FX_AS_OF, "brand fell 3.5 points"));
	produce(&k, 0,
		"{\"schema\":1,\"type\":\"score.updated\",\"user_id\":\"u1\",\"ssi\":"
		"50}");
	produce(&k, 0,
		alert_msg(m, sizeof(m), "u1", "score_drop", "2026-11-20T11:00:00.000Z",
			  "4 posts aged out\\nof the 90-day window"));
	produce(&k, 1, "not json at all");
	produce(&k, 0,
		alert_msg(m, sizeof(m), "rep-long-name", "below_threshold",
			  "2026-11-19T08:00:00.000Z", "SSI 68.50 fell below 70"));
	ctl_conf(&r, conf, "alerts", (const char *)NULL);
	expect_out(&r, want);
	run_free(&r);

	ctl_conf(&r, conf, "alerts", "--json", (const char *)NULL);
	j = expect_json(&r);
	ck_assert_str_eq(jstr(j, "topic"), "ctl.scores");
	a = jget(j, "alerts");
	ck_assert_int_eq(json_array_size(a), 3);
	ck_assert_str_eq(jstr(json_array_get(a, 0), "user_id"), "rep-long-name");
	ck_assert_str_eq(jstr(json_array_get(a, 1), "why"),
			 "4 posts aged out\nof the 90-day window");
	ck_assert_str_eq(jstr(json_array_get(a, 2), "rule"), "pillar_drop");
	ck_assert(jnum(json_array_get(a, 2), "ssi") == 61.5);
	json_decref(j);
	run_free(&r);

	/* The embedded cluster of another process, found through its bootstrap file.
	 */
	fx_path(bs_file, sizeof(bs_file), "bootstrap");
	{
		char text[PATH_MAX + 1024];

		snprintf(text, sizeof(text),
			 "output.topic = %s\nredis.port = %d\nmock_cluster.brokers = 1\n"
			 "mock_cluster.bootstrap_file = %s\n",
			 k.output, ctl_redis.port, bs_file);
		fx_path(mock_conf, sizeof(mock_conf), "mock.conf");
		ck_assert_int_eq(fx_write_file(mock_conf, text, strlen(text)), 0);
	}
	ctl_conf(&r, mock_conf, "alerts", (const char *)NULL);
	expect_err(&r, SSICTL_EXIT_UNAVAILABLE, "cannot read the mock cluster's address");
	run_free(&r);
	ck_assert_int_eq(fx_write_file(bs_file, k.bootstraps, strlen(k.bootstraps)), 0);
	ctl_conf(&r2, mock_conf, "alerts", (const char *)NULL);
	expect_out(&r2, want);
	run_free(&r2);
	{
		char text[1024];

		snprintf(text, sizeof(text), "mock_cluster.brokers = 1\n");
		ck_assert_int_eq(fx_write_file(mock_conf, text, strlen(text)), 0);
	}
	ctl_conf(&r, mock_conf, "alerts", (const char *)NULL);
	expect_err(&r, SSICTL_EXIT_CONFIG, "mock_cluster.bootstrap_file");
	run_free(&r);
	fx_kafka_free(&k);
}
END_TEST

struct follow {
	char conf[PATH_MAX], out[PATH_MAX], err[PATH_MAX];
	bool json;
	int rc;
};

static void *follow_thread(void *arg)
{
	struct follow *f = arg;
	FILE *out = fopen(f->out, "w"), *err = fopen(f->err, "w");
	char *argv[] = {"ssictl", "-c", f->conf, "alerts", "--follow", "--json", NULL};

	f->rc = -1;
	if (out && err)
		f->rc = ssictl_run(f->json ? 6 : 5, argv, out, err);
	if (out)
		fclose(out);
	if (err)
		fclose(err);
	return NULL;
}

/* Poll until path holds at least n lines; returns its text (free it). */
static char *wait_lines(const char *path, int n)
{
	int64_t deadline = fx_deadline(FX_WAIT_MS);

	for (;;) {
		size_t len = 0;
		char *text = fx_read_file(path, &len);
		int lines = 0;

		for (size_t i = 0; text && i < len; i++)
			lines += text[i] == '\n';
		if (text && lines >= n)
			return text;
		free(text);
		ck_assert_msg(!fx_expired(deadline), "%s: fewer than %d lines", path, n);
		fx_pause();
	}
}

static void follow_run(struct fx_kafka *k, bool json, const char *tag, const char *want)
{
	struct follow f = {.json = json};
	pthread_t th;
	char m[512], errname[64], *err, *out;

	alerts_conf(f.conf, sizeof(f.conf), k);
	fx_path(f.out, sizeof(f.out), tag);
	snprintf(errname, sizeof(errname), "%s.err", tag);
	fx_path(f.err, sizeof(f.err), errname);
	ck_assert_int_eq(pthread_create(&th, NULL, follow_thread, &f), 0);
	err = wait_lines(f.err, 1);
	ck_assert_msg(strstr(err, "ssictl: following ctlf.scores (2 partitions) from its end"),
		      "%s", err);
	free(err);
	produce(k, 1, "{\"schema\":1,\"type\":\"score.updated\",\"user_id\":\"u3\"}");
	produce(k, 1,
		alert_msg(m, sizeof(m), "u3", "left_top_percent", "2026-11-20T12:00:01.000Z",
			  "left the top 15% of software"));
	produce(k, 1,
		alert_msg(m, sizeof(m), "u4", "score_drop", "2026-11-20T12:00:02.000Z",
			  "SSI fell 6.10 below its 7-day maximum"));
	out = wait_lines(f.out, 2);
	ssictl_request_stop();
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_int_eq(f.rc, 0);
	ck_assert_msg(strcmp(out, want) == 0, "followed:\n%s\nwant:\n%s", out, want);
	free(out);
}

START_TEST (ctl_alerts_follow) {
	struct fx_kafka k;
	char m[512];

	ck_assert_int_eq(fx_kafka_start(&k, "ctlf", 2), 0);
	/* Already there when following starts: not shown. */
	produce(&k, 0, alert_msg(m, sizeof(m), "old", "score_drop", FX_AS_OF, "before"));
	follow_run(&k, false, "follow.out",
		   "2026-11-20T12:00:01.000Z  u3            left_top_percent  left the top "
		   "15% "
		   "of software\n"
		   "2026-11-20T12:00:02.000Z  u4            score_drop        SSI fell 6.10 "
		   "below its 7-day maximum\n");
	follow_run(&k, true, "follow.json",
		   "{\"schema\":1,\"type\":\"alert\",\"user_id\":\"u3\",\"rule\":"
		   "\"left_top_percent\",\"cause\":\"decay\",\"why\":\"left the top 15% of "
		   "software\",\"as_of\":\"2026-11-20T12:00:01.000Z\",\"ssi\":61.5}\n"
		   "{\"schema\":1,\"type\":\"alert\",\"user_id\":\"u4\",\"rule\":\"score_"
		   "drop\","
		   "\"cause\":\"decay\",\"why\":\"SSI fell 6.10 below its 7-day maximum\","
		   "\"as_of\":\"2026-11-20T12:00:02.000Z\",\"ssi\":61.5}\n");
	fx_kafka_free(&k);
}
END_TEST

/*
 * The one reader of the file through which ssictl, ssi-loadgen and ssi-watch
 * find another process's embedded cluster (ssid_mock_read_bootstrap_file).
 */
START_TEST (ctl_bootstrap_file) {
	static const struct {
		const char *text, *want;
		int rc;
	} cases[] = {
	    {"127.0.0.1:1,127.0.0.1:2\n", "127.0.0.1:1,127.0.0.1:2", 0},
	    {"127.0.0.1:1", "127.0.0.1:1", 0},
	    {"127.0.0.1:1\r\nignored\n", "127.0.0.1:1", 0},
	    {"127.0.0.1:1 trailing\n", "127.0.0.1:1", 0},
	    {"", NULL, -ENODATA},
	    {"\n127.0.0.1:1\n", NULL, -ENODATA},
	    {"127.0.0.1:1,127.0.0.1:2,127.0.0.1:3", NULL, -EOVERFLOW},
	};
	char path[PATH_MAX], buf[32];

	fx_path(path, sizeof(path), "bootstrap");
	ck_assert_int_eq(ssid_mock_read_bootstrap_file(path, buf, sizeof(buf)), -ENOENT);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_eq(fx_write_file(path, cases[i].text, strlen(cases[i].text)), 0);
		ck_assert_int_eq(ssid_mock_read_bootstrap_file(path, buf, sizeof(buf)),
				 cases[i].rc);
		if (cases[i].want)
			ck_assert_str_eq(buf, cases[i].want);
	}
}
END_TEST

Suite *ssictl_suite(void)
{
	Suite *s = suite_create("ssictl");

	suite_add_tcase(s, T_TCASE("ctl", ctl_setup, ctl_teardown, 120, ctl_score_text,
				   ctl_score_explain, ctl_history, ctl_alerts, ctl_alerts_follow,
				   ctl_bootstrap_file));
	suite_add_tcase(s, ssictl_rank_tcase());
	suite_add_tcase(s, ssictl_exit_tcase());
	suite_add_tcase(s, ssictl_forecast_tcase());
	suite_add_tcase(s, network_tcase());
	return s;
}
