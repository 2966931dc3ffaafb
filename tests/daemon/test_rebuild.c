/*
 * What ssid rebuilds, end to end (ssid in a thread, e2e.h): every state,
 * rank and dead letter after Redis came back empty mid-stream (replayed
 * without a second alert), and every score after a model change on SIGHUP
 * (the background walk, cause "model", no alert).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "e2e.h"
#include "ssi_rank.h"
#include "ssid_file.h"
#include "ssid_rank.h"
#include "ssid_rank_read.h"
#include "suites.h"

/* Every rep counted once in the global segment, with its exact total. */
static void check_ranks(struct e2e_env *e, int n)
{
	struct ssid_redis *rd = fx_redis_client(&e->fx.redis);
	struct ssi_rankagg global;
	const char *none[SSI_SEG__COUNT] = {NULL, NULL, NULL};
	int32_t *parts = NULL;
	size_t nparts = 0;
	char key[64];

	ck_assert_int_eq(ssid_rank_read_partitions(rd, &parts, &nparts), 0);
	ssi_rankagg_init(&global);
	ck_assert_int_eq(
	    ssid_rank_read_segment(rd, parts, nparts, SSID_RANK_GLOBAL, none, 10, &global), 0);
	ck_assert_int_eq(global.n, n);
	ssi_rankagg_clear(&global);
	for (int u = 0; u < n; u++) {
		struct ssi_score want;
		struct ssi_rank_record rec;

		e2e_ref_score(e, u, e->fx.stream.n, &e->fx.model, FX_NOW_MS, &want);
		fx_user_id(&e->fx.stream, u, key, sizeof(key));
		ck_assert_msg(ssid_rank_read_record(rd, key, &rec) == 1, "%s has no rank record",
			      key);
		ck_assert_msg(rec.score.total == want.total, "%s ranks with %d, its total is %d",
			      key, rec.score.total, want.total);
	}
	free(parts);
	ssid_redis_free(rd);
}

/* Whether every partition's model marker names version. */
static bool model_marked(struct ssid_redis *c, int partitions, const char *version)
{
	int done = 0;

	for (int p = 0; p < partitions; p++) {
		redisReply *r = e2e_rcmd(c, "GET ssi:mv:%d", p);

		done += r->type == REDIS_REPLY_STRING && strcmp(r->str, version) == 0;
		freeReplyObject(r);
	}
	return done == partitions;
}

/*
 * ssid starts on an emptied Redis with the group's offsets committed: it
 * replays every partition from empty rosters, so every rep is scored under
 * the model and no model walk follows (the marker is set at once), and the
 * replayed reps, counted in bulk when the replay ends, rank exactly.
 */
static void restart_on_empty_redis(struct e2e_env *e, int n)
{
	struct ssid_redis *c = fx_redis_client(&e->fx.redis);
	int64_t deadline = fx_deadline(FX_WAIT_MS);
	size_t before = 0;
	char *log = fx_read_file(e->daemon.log_path, &before), *run;

	free(log);
	freeReplyObject(e2e_rcmd(c, "FLUSHALL"));
	e2e_start(e, &(struct e2e_run){.batch = 8});
	for (;;) {
		size_t len = 0;

		log = fx_read_file(e->daemon.log_path, &len);
		ck_assert(log && len >= before);
		run = log + before; /* what this run logged */
		if (strstr(run, "rebuild complete") &&
		    model_marked(c, e->fx.kafka.partitions, e->fx.model.version))
			break;
		free(log);
		ck_assert_msg(!fx_expired(deadline), "no rebuild after %d ms (log: %s)", FX_WAIT_MS,
			      e->daemon.log_path);
		fx_pause();
	}
	ck_assert_int_eq(fx_daemon_stop(&e->daemon), 0);
	ck_assert_msg(strstr(run, "redis holds no ssid data yet"), "Redis not empty: %s", run);
	ck_assert_msg(!strstr(run, "rescoring the reps"), "a model walk after the rebuild: %s",
		      run);
	free(log);
	ssid_redis_free(c);
	fx_check_states(&e->fx.redis, &e->fx.stream, &e->fx.model);
	check_ranks(e, n);
}

/* ---- Redis loses everything ------------------------------------------------- */

/*
 * Redis comes back empty mid-stream: ssid notices, replays its partitions,
 * and ends with every state exact, no dead letter twice and no alert for
 * the replayed past.
 */
START_TEST (test_redis_emptied) {
	enum { N = 12, DOWN = 4 };
	struct t_rng rng = {.s = 0xE3971};
	struct ssid_daemon_stats st;
	struct fx_msgs dlq;
	struct e2e_outs os;
	struct e2e_env e;
	char attrs[256], key[64];
	size_t profiles, downs, first, alerts_before, nbad = 0;

	e2e_open(&e, "empty", N, false);
	for (int u = 0; u < N; u++)
		e.seg[u] = (struct e2e_seg){"acme", u % 2 ? "alpha" : "beta", "software"};
	e2e_start(&e, &(struct e2e_run){.batch = 8});

	/* Full profiles, activity with dead letters in it, then some profiles emptied. */
	for (int u = 0; u < N; u++)
		e2e_add_ev(&e, u, SSI_EV_PROFILE_UPDATED, FX_NOW_MS - 40 * DAY,
			   e2e_profile(attrs, sizeof(attrs), E2E_PF_ALL, 10, 3));
	profiles = e.fx.stream.n;
	e2e_produce_wave(&e, 0);
	for (int i = 0; i < 100; i++) {
		e2e_add_ev(&e, (int)t_below(&rng, N), e2e_plain_types[t_below(&rng, E2E_NPLAIN)],
			   FX_NOW_MS - (int64_t)(1 + t_below(&rng, 20)) * DAY, "");
		if (i % 40 == 20) {
			fx_user_id(&e.fx.stream, i % N, key, sizeof(key));
			ck_assert_int_eq(
			    fx_stream_add_raw(&e.fx.stream, key, -1, "not json", 8, "invalid_json"),
			    0);
			nbad++;
		}
	}
	e2e_produce_wave(&e, profiles);
	downs = e.fx.stream.n;
	for (int u = 0; u < DOWN; u++)
		e2e_add_ev(&e, u, SSI_EV_PROFILE_UPDATED, FX_NOW_MS - 30 * DAY,
			   e2e_profile(attrs, sizeof(attrs), 0, 0, 0));
	e2e_produce_wave(&e, downs);
	/* A replay could not see both profiles in one batch: more than 8 messages between. */
	for (int u = 0; u < DOWN; u++)
		ck_assert_int_gt(
		    e.fx.stream.ev[downs + (size_t)u].offset - e.fx.stream.ev[u].offset, 8);
	e2e_outs_read(&e, &os);
	alerts_before = e2e_count_type(&os, "alert");
	ck_assert_msg(alerts_before >= DOWN, "emptied profiles should have fired alerts, %zu did",
		      alerts_before);
	e2e_outs_free(&os);

	/* Redis goes away and comes back empty while more events (and dead letters) wait. */
	ck_assert_int_eq(fx_redis_stop(&e.fx.redis), 0);
	first = e.fx.stream.n;
	for (int u = 0; u < N; u++)
		e2e_add_ev(&e, u, SSI_EV_POST_SHARED, FX_NOW_MS - T_HOUR, "");
	fx_user_id(&e.fx.stream, 0, key, sizeof(key));
	ck_assert_int_eq(fx_stream_add_raw(&e.fx.stream, key, -1, "[1]", 3, "not_an_object"), 0);
	nbad++;
	ck_assert_int_eq(fx_produce(&e.fx.kafka, &e.fx.stream, first, e.fx.stream.n), 0);
	e2e_wait_stat(&e.daemon, E2E_STAT(failures), 1, "failed batches while redis is down");
	ck_assert_msg(fx_redis_start(&e.fx.redis, e.fx.redis.dir, false) == 0,
		      "redis-server did not restart (see %s/redis.log)", e.fx.redis.dir);
	fx_wait_drained(&e.fx.kafka, &e.fx.stream, e.daemon.log_path);
	e2e_wait_stat(&e.daemon, E2E_STAT(rebuilds), 1, "rebuilds");
	fx_daemon_stats(&e.daemon, &st);
	ck_assert_int_eq(fx_daemon_stop(&e.daemon), 0);
	ck_assert_uint_eq(st.rebuilds, 1);
	ck_assert_int_eq(st.degraded, 0);

	/* Every event counted once, every score right, ranks rebuilt. */
	fx_check_states(&e.fx.redis, &e.fx.stream, &e.fx.model);
	fx_check_outputs(&e.fx.kafka, &e.fx.stream, &e.fx.model, false);
	check_ranks(&e, N);

	/* The replayed past fired no alert again, and no dead letter went twice. */
	e2e_outs_read(&e, &os);
	ck_assert_uint_eq(e2e_count_type(&os, "alert"), alerts_before);
	e2e_outs_free(&os);
	ck_assert_int_eq(fx_kafka_read_topic(&e.fx.kafka, e.fx.kafka.dlq, &dlq), 0);
	ck_assert_uint_eq(dlq.n, nbad);
	for (size_t i = 0; i < dlq.n; i++)
		for (size_t k = 0; k < i; k++) {
			char pi[32], oi[32], pk[32], ok[32];

			fx_msg_header(&dlq.m[i], "ssi.source.partition", pi, sizeof(pi));
			fx_msg_header(&dlq.m[i], "ssi.source.offset", oi, sizeof(oi));
			fx_msg_header(&dlq.m[k], "ssi.source.partition", pk, sizeof(pk));
			fx_msg_header(&dlq.m[k], "ssi.source.offset", ok, sizeof(ok));
			ck_assert_msg(strcmp(pi, pk) != 0 || strcmp(oi, ok) != 0,
				      "%s/%s dead-lettered twice", pi, oi);
		}
	fx_msgs_free(&dlq);
	restart_on_empty_redis(&e, N);
	e2e_close(&e);
}
END_TEST

/* ---- model change --------------------------------------------------------------- */

/*
 * A new model on SIGHUP: the background walk rescores every rep with cause
 * "model" without any new event, and the 6-point fall fires no alert.
 */
START_TEST (test_model_change) {
	enum { N = 12 };
	struct t_rng rng = {.s = 0x30DE1};
	struct ssi_model second;
	struct ssid_daemon_stats st;
	struct e2e_outs os;
	struct e2e_env e;
	char attrs[256], path[PATH_MAX];
	int64_t deadline;

	e2e_open(&e, "model", N, false);
	for (int u = 0; u < N; u++) {
		e.seg[u] = (struct e2e_seg){"acme", u % 2 ? "alpha" : "beta", "software"};
		e2e_add_ev(&e, u, SSI_EV_PROFILE_UPDATED, FX_NOW_MS - 40 * DAY,
			   e2e_profile(attrs, sizeof(attrs), E2E_PF_ALL, 10, 3));
		for (int i = 0; i < 6; i++)
			e2e_add_ev(&e, u, e2e_plain_types[t_below(&rng, E2E_NPLAIN)],
				   FX_NOW_MS - (int64_t)(1 + t_below(&rng, 20)) * DAY, "");
	}
	fx_path(path, sizeof(path), "model.json");
	fx_write_model(path, NULL, 7);
	e2e_start(&e, &(struct e2e_run){.model_file = path});
	e2e_produce_wave(&e, 0);

	/* The profile is worth 1 point instead of 7: every rep loses 6 (alerts would say so). */
	fx_write_model(path, "ssi-test-model-2", 1);
	ck_assert_int_eq(ssid_file_load_model(&second, path, NULL), 0);
	for (int u = 0; u < N; u++) {
		struct ssi_score a, b;

		e2e_ref_score(&e, u, e.fx.stream.n, &e.fx.model, FX_NOW_MS, &a);
		e2e_ref_score(&e, u, e.fx.stream.n, &second, FX_NOW_MS, &b);
		ck_assert_int_ge(a.total - b.total, 500);
		ck_assert_int_ge(a.pillar[SSI_BRAND] - b.pillar[SSI_BRAND], 300);
	}
	fx_daemon_reload(&e.daemon);
	e2e_wait_stat(&e.daemon, E2E_STAT(reloads), 1, "reloads");

	/* No event comes: the walk rescores every partition's roster and records the version. */
	deadline = fx_deadline(FX_WAIT_MS);
	for (;;) {
		struct ssid_redis *c = fx_redis_client(&e.fx.redis);
		int done = 0;

		for (int p = 0; p < e.fx.kafka.partitions; p++) {
			redisReply *r = e2e_rcmd(c, "GET ssi:mv:%d", p);

			done +=
			    r->type == REDIS_REPLY_STRING && strcmp(r->str, second.version) == 0;
			freeReplyObject(r);
		}
		ssid_redis_free(c);
		if (done == e.fx.kafka.partitions)
			break;
		if (fx_expired(deadline))
			fx_dump_log(e.daemon.log_path);
		ck_assert_msg(!fx_expired(deadline), "the model walk did not finish in %d ms",
			      FX_WAIT_MS);
		fx_pause();
	}
	fx_daemon_stats(&e.daemon, &st);
	ck_assert_int_eq(fx_daemon_stop(&e.daemon), 0);
	ck_assert_uint_ge(st.model_rescored, N);
	ck_assert_uint_eq(st.alerts, 0);
	fx_check_outputs(&e.fx.kafka, &e.fx.stream, &second, false);

	e2e_outs_read(&e, &os);
	ck_assert_uint_eq(e2e_count_type(&os, "alert"), 0);
	for (int u = 0; u < N; u++) {
		struct ssi_score old, want, sc, prev;
		int model = 0;

		e2e_ref_score(&e, u, e.fx.stream.n, &e.fx.model, FX_NOW_MS, &old);
		e2e_ref_score(&e, u, e.fx.stream.n, &second, FX_NOW_MS, &want);
		for (size_t i = 0; i < os.n; i++) {
			const json_t *j = os.o[i].j;

			if (os.o[i].user != u || !e2e_is_type(&os.o[i], "score.updated") ||
			    strcmp(e2e_str_of(j, "cause"), "model") != 0)
				continue;
			model++;
			ck_assert_str_eq(e2e_str_of(j, "model_version"), second.version);
			e2e_score_of(j, &sc);
			ck_assert(e2e_score_eq(&sc, &want));
			e2e_pillars_of(json_object_get(j, "previous_pillars"), &prev);
			ck_assert(e2e_score_eq(&prev, &old));
		}
		ck_assert_msg(model == 1, "rep %d: %d score.updated with cause model", u, model);
	}
	e2e_outs_free(&os);
	e2e_close(&e);
}
END_TEST

Suite *rebuild_suite(void)
{
	const TTest *const tests[] = {test_model_change};
	Suite *s = e2e_suite("rebuild", tests, 1);
	/* Stops and restarts one redis-server: not on a 3x3 cluster (check-cluster3). */
	TCase *restart = T_TCASE("restart", fx_setup, fx_teardown, 120, test_redis_emptied);

	tcase_set_tags(restart, "restart");
	suite_add_tcase(s, restart);
	return s;
}
