/*
 * ssictl (ssictl_run, in-process) against a real redis-server and the
 * mock cluster, over a known state written by the daemon's own modules:
 * states by ssid_store_save (built with ssi_state_apply), ranks by
 * ssid_rank_apply, histories by ssid_store_save (fx_deliver), connection sets
 * as the daemon keeps them. Every command's text and --json output is
 * checked against that state; then the exit codes of unknown users and
 * segments, unreadable data, bad configurations, bad usage, Redis down; and
 * alerts read from and followed on the output topic.
 *
 * The known ranks (rank.min_members = 3), totals in points:
 *   rep  tenant/team   industry  total   global  industry  tenant  team
 *   r1   acme/emea     software  80      1       1 of 3    1 of 4  1 of 3
 *   r2   acme/emea     software  70      2       2         2       2
 *   r3   acme/emea     retail    70      2       hidden    2       2
 *   r4   acme/apac     software  60      4       3         4       hidden
 *   r5   globex/-      retail    50      5       hidden    hidden  -
 *   r6   -/-           -         40      6       -         -       -
 * Networks: r1 knows r2 r4 r6, "stranger" (no user) and lists itself; r2
 * knows r1 r3 r4; r5 knows r6. Rep i's events come from partition i % 2, so
 * most segments are spread over both partitions' aggregates.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <hiredis/hiredis.h>
#include <jansson.h>

#include "fixture.h"
#include "ssi_history.h"
#include "ssi_time.h"
#include "ssictl.h"
#include "ssid_kafka.h"
#include "ssid_rank.h"
#include "ssid_store.h"
#include "suites.h"
#include "ssid_file.h"

#define TODAY ((int32_t)(FX_NOW_MS / SSI_MS_PER_DAY)) /* 2026-11-20 */

static struct fx_redis redis;
static char conf_path[PATH_MAX];
static struct ssi_model model;

/* ssid.conf for this server: the fixtures' clock, a Kafka nobody talks to,
 * floor 3. */
static void write_conf(const char *path, int port, const char *extra)
{
	char text[4096];

	snprintf(text, sizeof(text),
		 "# ssictl tests\n"
		 "redis.host = 127.0.0.1\n"
		 "redis.port = %d\n"
		 "redis.connect_timeout_ms = 2000\n"
		 "model.file = \"%s\"\n"
		 "clock = %s\n"
		 "kafka.bootstrap.servers = 127.0.0.1:9\n"
		 "rank.min_members = 3\n"
		 "%s",
		 port, fx_model_path(), FX_CLOCK, extra ? extra : "");
	ck_assert_int_eq(fx_write_file(path, text, strlen(text)), 0);
}

static void setup(void)
{
	struct ssi_model_error me;

	fx_redis_setup(&redis);
	fx_path(conf_path, sizeof(conf_path), "ssid.conf");
	write_conf(conf_path, redis.port, NULL);
	ck_assert_int_eq(ssid_file_load_model(&model, fx_model_path(), &me), 0);
}

static void teardown(void)
{
	fx_redis_teardown(&redis);
}

/* ---- running ssictl -------------------------------------------------------
 */

struct run {
	int rc;
	char *out, *err;
	size_t out_len, err_len;
};

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

/* ssictl -c conf args... (NULL-terminated); conf NULL: the test's ssid.conf. */
static void ctl_conf(struct run *r, const char *conf, ...)
{
	char *argv[32];
	int argc = 0;
	FILE *out, *err;
	va_list ap;
	const char *a;

	memset(r, 0, sizeof(*r));
	argv[argc++] = "ssictl";
	argv[argc++] = "-c";
	argv[argc++] = (char *)(conf ? conf : conf_path);
	va_start(ap, conf);
	while ((a = va_arg(ap, const char *)) != NULL && argc < 31)
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	out = open_memstream(&r->out, &r->out_len);
	err = open_memstream(&r->err, &r->err_len);
	ck_assert(out && err);
	r->rc = ssictl_run(argc, argv, out, err);
	fclose(out);
	fclose(err);
}

#define ctl(r, ...) ctl_conf(r, NULL, __VA_ARGS__, (const char *)NULL)

static void expect_rc(const struct run *r, int rc)
{
	ck_assert_msg(r->rc == rc, "exit %d, want %d; stdout:\n%s\nstderr:\n%s", r->rc, rc, r->out,
		      r->err);
}

static void expect_out(const struct run *r, const char *want)
{
	expect_rc(r, 0);
	ck_assert_msg(strcmp(r->out, want) == 0, "stdout:\n%s\nwant:\n%s\nstderr:\n%s", r->out,
		      want, r->err);
}

static void expect_err(const struct run *r, int rc, const char *needle)
{
	expect_rc(r, rc);
	ck_assert_msg(strstr(r->err, needle), "stderr lacks \"%s\":\n%s", needle, r->err);
	ck_assert_msg(r->out[0] == '\0', "stdout not empty:\n%s", r->out);
}

static json_t *expect_json(const struct run *r)
{
	json_error_t e;
	json_t *j;

	expect_rc(r, 0);
	j = json_loads(r->out, 0, &e);
	ck_assert_msg(j, "not JSON (%s):\n%s", e.text, r->out);
	ck_assert_msg(strchr(r->out, '\n') == r->out + strlen(r->out) - 1,
		      "not one document on one line:\n%s", r->out);
	return j;
}

/* The JSON value at a path of object keys, "a.b.c". */
static json_t *jget(json_t *j, const char *path)
{
	char buf[256], *save = NULL, *key;

	snprintf(buf, sizeof(buf), "%s", path);
	for (key = strtok_r(buf, ".", &save); key && j; key = strtok_r(NULL, ".", &save))
		j = json_object_get(j, key);
	return j;
}

static long long jint(json_t *j, const char *path)
{
	json_t *v = jget(j, path);

	ck_assert_msg(json_is_integer(v), "%s is not an integer", path);
	return json_integer_value(v);
}

static double jnum(json_t *j, const char *path)
{
	json_t *v = jget(j, path);

	ck_assert_msg(json_is_number(v), "%s is not a number", path);
	return json_number_value(v);
}

static const char *jstr(json_t *j, const char *path)
{
	json_t *v = jget(j, path);

	ck_assert_msg(json_is_string(v), "%s is not a string", path);
	return json_string_value(v);
}

/* ---- the known state ------------------------------------------------------
 */

struct rep {
	const char *id, *tenant, *team, *industry;
	int total;
};

static const struct rep reps[] = {
    {"r1", "acme", "emea", "software", 8000}, {"r2", "acme", "emea", "software", 7000},
    {"r3", "acme", "emea", "retail", 7000},   {"r4", "acme", "apac", "software", 6000},
    {"r5", "globex", "", "retail", 5000},     {"r6", "", "", "", 4000},
};
#define NREPS (sizeof(reps) / sizeof(reps[0]))

/* A total spread over the pillars, brand first: 80.00 is 25 + 25 + 25 + 5. */
static struct ssi_score spread(int total)
{
	struct ssi_score s = {.total = total};

	for (int p = 0; p < SSI_PILLAR__COUNT; p++) {
		s.pillar[p] = total > 2500 ? 2500 : total;
		total -= s.pillar[p];
	}
	return s;
}

static void put_ranks(void)
{
	struct ssid_redis_opts o = fx_redis_opts(&redis);
	struct ssid_rank_change ch[NREPS];
	struct ssid_rank *r = NULL;

	memset(ch, 0, sizeof(ch));
	ck_assert_int_eq(ssid_rank_new(&r, &o, NULL), 0);
	for (size_t i = 0; i < NREPS; i++) {
		ch[i].user_id = reps[i].id;
		ch[i].partition = (int32_t)(i % 2);
		ch[i].segment[SSI_SEG_TENANT] = reps[i].tenant;
		ch[i].segment[SSI_SEG_TEAM] = reps[i].team;
		ch[i].segment[SSI_SEG_INDUSTRY] = reps[i].industry;
		ch[i].score = spread(reps[i].total);
	}
	ck_assert_msg(ssid_rank_apply(r, ch, NREPS, true) == 0, "%s", ssid_rank_errstr(r));
	ssid_rank_free(r);
}

static void peek(redisContext *c, const char *fmt, ...)
{
	redisReply *reply;
	va_list ap;

	va_start(ap, fmt);
	reply = redisvCommand(c, fmt, ap);
	va_end(ap);
	ck_assert_msg(reply && reply->type != REDIS_REPLY_ERROR, "redis: %s",
		      reply ? reply->str : c->errstr);
	freeReplyObject(reply);
}

/* The connection sets, as the daemon keeps them from connection_added events.
 */
static void put_networks(redisContext *c)
{
	peek(c, "SADD ssi:net:{r1} r2 r4 r6 stranger r1");
	peek(c, "SADD ssi:net:{r2} r1 r3 r4");
	peek(c, "SADD ssi:net:{r5} r6");
}

/* r1's activity: a profile, sessions, posts, connections; segments from the
 * events. */
static void build_state(struct ssi_state *st, const char *user, const char *tenant,
			const char *team, const char *industry)
{
	uint64_t seq = 1;
	struct ssi_event ev;

	ssi_state_init(st);
	t_event(&ev, SSI_EV_PROFILE_UPDATED, FX_NOW_MS - 3 * T_DAY, seq++);
	snprintf(ev.user_id, sizeof(ev.user_id), "%s", user);
	snprintf(ev.segment[SSI_SEG_TENANT], sizeof(ev.segment[0]), "%s", tenant);
	snprintf(ev.segment[SSI_SEG_TEAM], sizeof(ev.segment[0]), "%s", team);
	snprintf(ev.segment[SSI_SEG_INDUSTRY], sizeof(ev.segment[0]), "%s", industry);
	ev.attrs.profile.photo = true;
	ev.attrs.profile.headline = true;
	ev.attrs.profile.skills = 12;
	ck_assert_int_eq(ssi_state_apply(st, &model, &ev), 1);
	for (int d = 1; d <= 10; d++) {
		t_apply_n(st, &model, SSI_EV_SESSION_STARTED, FX_NOW_MS - d * T_DAY, 1, &seq);
		t_apply_n(st, &model, SSI_EV_POST_SHARED, FX_NOW_MS - d * T_DAY, d % 3, &seq);
		t_apply_n(st, &model, SSI_EV_PROFILE_VIEWED, FX_NOW_MS - d * T_DAY, 2, &seq);
	}
	for (int i = 0; i < 25; i++) {
		t_event(&ev, SSI_EV_CONNECTION_ADDED, FX_NOW_MS - 40 * T_DAY + i * T_HOUR, seq++);
		ev.attrs.connection.seniority = (enum ssi_seniority)(1 + i % 8);
		ck_assert_int_eq(ssi_state_apply(st, &model, &ev), 1);
	}
}

/* States through ssid_store_save: r1 (in acme/emea, software) and alice (no
 * rank yet). */
static void put_states(void)
{
	struct ssid_redis_opts o = fx_redis_opts(&redis);
	struct ssid_store *store = NULL;
	struct ssid_user u[2];

	ck_assert_int_eq(ssid_store_new(&store, &o), 0);
	memset(u, 0, sizeof(u));
	u[0].id = "r1";
	build_state(&u[0].state, "r1", "acme", "emea", "software");
	ssid_store_stage_state(&u[0], false);
	u[1].id = "alice";
	build_state(&u[1].state, "alice", "initech", "", "");
	ssid_store_stage_state(&u[1], false);
	ck_assert_msg(ssid_store_save(store, u, 2) == 0, "%s", ssid_store_errstr(store));
	for (int i = 0; i < 2; i++)
		ssi_state_clear(&u[i].state);
	ssid_store_free(store);
}

static struct ssi_score pillars(int b, int p, int i, int r)
{
	return (struct ssi_score){.pillar = {b, p, i, r}, .total = b + p + i + r};
}

/*
 * r1's history: 50.00 five days ago, 51.00 three days ago, 55.00 today,
 * each delivered on its day as ssid does (after put_states: r1's state stays).
 */
static void put_history(void)
{
	struct ssid_redis_opts o = fx_redis_opts(&redis);
	struct ssid_store *store = NULL;
	struct fx_delivery d[3] = {
	    {.user_id = "r1", .day = TODAY - 5, .score = pillars(2000, 1500, 1000, 500)},
	    {.user_id = "r1", .day = TODAY - 3, .score = pillars(2100, 1500, 1000, 500)},
	    {.user_id = "r1", .day = TODAY, .score = pillars(2100, 1600, 1200, 600)},
	};

	ck_assert_int_eq(ssid_store_new(&store, &o), 0);
	for (int i = 0; i < 3; i++) {
		ck_assert_msg(fx_deliver(store, &d[i], 1, SSI_HISTORY_RETENTION_DEFAULT) == 0, "%s",
			      ssid_store_errstr(store));
		ck_assert_int_eq(d[i].history_status, 0);
	}
	ssid_store_free(store);
}

static void populate(void)
{
	redisContext *c = fx_redis_peek(&redis);

	put_ranks();
	put_networks(c);
	put_states();
	put_history();
	/* The published score as the store writes it (ssid_store.h: "v2 ... as_of
	 * model"). */
	peek(c, "HSET ssi:u:{r1} p %s", "v2 5500 2100 1600 1200 600 1795168800000 test-model-7");
	/* bob: a state and a history this build cannot read. */
	peek(c, "HSET ssi:u:{bob} s garbage h garbage");
	redisFree(c);
}

static const char *pts(int centipoints, char *buf)
{
	ssi_score_format(centipoints, buf, 16);
	return buf;
}

/* What `score USER` must print for a state, the published line given. */
static void score_text(char *buf, size_t len, const char *user, const struct ssi_state *st,
		       const char *published)
{
	struct ssi_score sc;
	char b[5][16];

	ssi_score(st, &model, FX_NOW_MS, &sc);
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
		 user, model.version, pts(sc.total, b[0]), pts(sc.pillar[0], b[1]),
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
	redisContext *c;

	populate();
	build_state(&st, "r1", "acme", "emea", "software");
	ssi_score(&st, &model, FX_NOW_MS, &sc);
	ck_assert_int_gt(sc.total, 0);
	score_text(want, sizeof(want), "r1", &st,
		   "55.00 (brand 21.00, people 16.00, insights 12.00, relationships "
		   "6.00) as of "
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
	c = fx_redis_peek(&redis);
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
	redisFree(c);
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
	ck_assert_int_eq(ssi_explain(&st, &model, FX_NOW_MS, &ex), 0);
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
	ck_assert_str_eq(jstr(j, "model_version"), model.version);
	ck_assert(jnum(j, "score.ssi") == ex.score.total / 100.0);
	ck_assert(jnum(j, "score.pillars.relationships") == ex.score.pillar[3] / 100.0);
	ck_assert_str_eq(jstr(j, "segments.team"), "emea");
	ck_assert(jnum(j, "published.ssi") == 55.0);
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

START_TEST (ctl_rank_text) {
	struct run r;

	populate();
	ctl(&r, "rank", "r2");
	expect_out(&r, "segment   value        rank      of  top %  average\n"
		       "global    -               2       6     34    61.67\n"
		       "industry  software        2       3     67    70.00\n"
		       "tenant    acme            2       4     50    70.00\n"
		       "team      acme/emea       2       3     67    73.33\n"
		       "network   -               2       4     50    70.00\n");
	run_free(&r);
	/* r1: first everywhere; its network is r2 r4 r6 (stranger unknown, itself not
	 * twice). */
	ctl(&r, "rank", "r1");
	expect_out(&r, "segment   value        rank      of  top %  average\n"
		       "global    -               1       6     17    61.67\n"
		       "industry  software        1       3     34    70.00\n"
		       "tenant    acme            1       4     25    70.00\n"
		       "team      acme/emea       1       3     34    73.33\n"
		       "network   -               1       4     25    62.50\n");
	run_free(&r);
	ctl(&r, "rank", "r5");
	expect_out(&r, "segment   value     rank      of  top %  average\n"
		       "global    -            5       6     84    61.67\n"
		       "industry  retail hidden (fewer than 3 members)\n"
		       "tenant    globex hidden (fewer than 3 members)\n"
		       "team      -      not in a segment (tenant or team unknown)\n"
		       "network   -      hidden (fewer than 3 members)\n");
	run_free(&r);
	ctl(&r, "rank", "r6");
	expect_out(&r, "segment   value    rank      of  top %  average\n"
		       "global    -           6       6    100    61.67\n"
		       "industry  -     not in a segment (industry unknown)\n"
		       "tenant    -     not in a segment (tenant unknown)\n"
		       "team      -     not in a segment (tenant or team unknown)\n"
		       "network   -     hidden (fewer than 3 members)\n");
	run_free(&r);
}
END_TEST

START_TEST (ctl_rank_json) {
	struct run r;
	json_t *j;

	populate();
	ctl(&r, "rank", "r2", "--json");
	j = expect_json(&r);
	ck_assert_str_eq(jstr(j, "user_id"), "r2");
	ck_assert(jnum(j, "ssi") == 70.0);
	ck_assert_int_eq(jint(j, "min_members"), 3);
	ck_assert(json_is_null(jget(j, "segments.global.value")));
	ck_assert_int_eq(jint(j, "segments.global.rank"), 2);
	ck_assert_int_eq(jint(j, "segments.global.of"), 6);
	ck_assert_int_eq(jint(j, "segments.global.top_percent"), 34);
	ck_assert(jnum(j, "segments.global.average.ssi") == 61.67);
	/* Brand sums to 25 * 6 = 150, people 25 + 25 + 25 + 25 + 25 + 15 = 140. */
	ck_assert(jnum(j, "segments.global.average.pillars.brand") == 25.0);
	ck_assert(jnum(j, "segments.global.average.pillars.people") == 23.33);
	ck_assert_str_eq(jstr(j, "segments.industry.value"), "software");
	ck_assert_int_eq(jint(j, "segments.industry.of"), 3);
	ck_assert_str_eq(jstr(j, "segments.team.value"), "acme/emea");
	ck_assert(jnum(j, "segments.team.average.ssi") == 73.33);
	ck_assert_int_eq(jint(j, "segments.network.rank"), 2);
	ck_assert_int_eq(jint(j, "segments.network.of"), 4);
	ck_assert(jnum(j, "segments.network.average.ssi") == 70.0);
	ck_assert_ptr_null(jget(j, "segments.network.average.pillars"));
	json_decref(j);
	run_free(&r);

	/* Hidden segments carry no rank, size, percentile or average; absent ones are
	 * null. */
	ctl(&r, "--json", "rank", "r5");
	j = expect_json(&r);
	ck_assert_int_eq(jint(j, "segments.global.rank"), 5);
	ck_assert_str_eq(jstr(j, "segments.industry.value"), "retail");
	ck_assert(json_is_true(jget(j, "segments.industry.hidden")));
	ck_assert_int_eq(json_object_size(jget(j, "segments.industry")), 2);
	ck_assert_int_eq(json_object_size(jget(j, "segments.tenant")), 2);
	ck_assert(json_is_null(jget(j, "segments.team")));
	ck_assert(json_is_true(jget(j, "segments.network.hidden")));
	ck_assert_int_eq(json_object_size(jget(j, "segments.network")), 2);
	json_decref(j);
	run_free(&r);
}
END_TEST

START_TEST (ctl_around) {
	struct run r;
	json_t *j, *e;
	static const char *const order[] = {"r1", "r3", "r2", "r4", "r5", "r6"};
	static const int ranks[] = {1, 2, 2, 4, 5, 6};

	populate();
	/* Redis lists equal totals in descending id order: r3 comes before r2, same
	 * rank. */
	ctl(&r, "around", "r2", "-k", "1");
	expect_out(&r, "global: 6 reps\n"
		       "     rank  user    SSI\n"
		       "        2  r3    70.00\n"
		       ">       2  r2    70.00\n"
		       "        4  r4    60.00\n"
		       "\n"
		       "industry software: 3 reps\n"
		       "     rank  user    SSI\n"
		       "        1  r1    80.00\n"
		       ">       2  r2    70.00\n"
		       "        3  r4    60.00\n"
		       "\n"
		       "tenant acme: 4 reps\n"
		       "     rank  user    SSI\n"
		       "        2  r3    70.00\n"
		       ">       2  r2    70.00\n"
		       "        4  r4    60.00\n"
		       "\n"
		       "team acme/emea: 3 reps\n"
		       "     rank  user    SSI\n"
		       "        2  r3    70.00\n"
		       ">       2  r2    70.00\n");
	run_free(&r);
	ctl(&r, "around", "r5");
	expect_out(&r, "global: 6 reps\n"
		       "     rank  user    SSI\n"
		       "        2  r3    70.00\n"
		       "        2  r2    70.00\n"
		       "        4  r4    60.00\n"
		       ">       5  r5    50.00\n"
		       "        6  r6    40.00\n"
		       "\n"
		       "industry retail: hidden (fewer than 3 members)\n"
		       "\n"
		       "tenant globex: hidden (fewer than 3 members)\n"
		       "\n"
		       "team: not in a segment (tenant or team unknown)\n");
	run_free(&r);

	ctl(&r, "--json", "around", "r2");
	j = expect_json(&r);
	ck_assert_int_eq(jint(j, "k"), 3);
	ck_assert_int_eq(jint(j, "segments.global.of"), 6);
	e = jget(j, "segments.global.entries");
	ck_assert_int_eq(json_array_size(e), 6);
	for (size_t i = 0; i < 6; i++) {
		json_t *o = json_array_get(e, i);

		ck_assert_str_eq(jstr(o, "user_id"), order[i]);
		ck_assert_int_eq(jint(o, "rank"), ranks[i]);
		ck_assert(json_is_boolean(jget(o, "self")));
		ck_assert(json_is_true(jget(o, "self")) == (strcmp(order[i], "r2") == 0));
	}
	ck_assert_int_eq(json_array_size(jget(j, "segments.team.entries")), 3);
	json_decref(j);
	run_free(&r);
}
END_TEST

START_TEST (ctl_top) {
	struct run r, r2;
	json_t *j;

	populate();
	ctl(&r, "top", "tenant", "acme");
	expect_out(&r, "tenant acme: top 4 of 4 reps\n"
		       "     rank  user    SSI\n"
		       "        1  r1    80.00\n"
		       "        2  r3    70.00\n"
		       "        2  r2    70.00\n"
		       "        4  r4    60.00\n");
	run_free(&r);
	ctl(&r, "top", "global", "-n", "2");
	expect_out(&r, "global: top 2 of 6 reps\n"
		       "     rank  user    SSI\n"
		       "        1  r1    80.00\n"
		       "        2  r3    70.00\n");
	run_free(&r);
	/* Both spellings of a team. */
	ctl(&r, "top", "team", "acme/emea");
	ctl(&r2, "top", "team", "acme", "emea");
	expect_out(&r, "team acme/emea: top 3 of 3 reps\n"
		       "     rank  user    SSI\n"
		       "        1  r1    80.00\n"
		       "        2  r3    70.00\n"
		       "        2  r2    70.00\n");
	expect_out(&r2, r.out);
	run_free(&r);
	run_free(&r2);
	ctl(&r, "top", "team", "acme/apac");
	expect_out(&r, "team acme/apac: hidden (fewer than 3 members)\n");
	run_free(&r);

	ctl(&r, "--json", "top", "industry", "software", "-n", "2");
	j = expect_json(&r);
	ck_assert_str_eq(jstr(j, "segment"), "industry");
	ck_assert_str_eq(jstr(j, "value"), "software");
	ck_assert_int_eq(jint(j, "of"), 3);
	ck_assert_int_eq(json_array_size(jget(j, "entries")), 2);
	ck_assert_str_eq(jstr(json_array_get(jget(j, "entries"), 1), "user_id"), "r2");
	ck_assert(jnum(json_array_get(jget(j, "entries"), 1), "ssi") == 70.0);
	ck_assert_ptr_null(jget(json_array_get(jget(j, "entries"), 1), "self"));
	json_decref(j);
	run_free(&r);
	ctl(&r, "--json", "top", "industry", "retail");
	j = expect_json(&r);
	ck_assert(json_is_true(jget(j, "hidden")));
	ck_assert_ptr_null(jget(j, "entries"));
	ck_assert_ptr_null(jget(j, "of"));
	json_decref(j);
	run_free(&r);
}
END_TEST

/*
 * A board longer than the top lists ssid stores (rank.top_n) is read by a
 * walk over every record: the same board, ties in the same order, with the
 * same ranks, whichever way it is read.
 */
START_TEST (ctl_top_walk) {
	static const char *const boards[][5] = {
	    {"top", "global", "-n", "5", NULL},		 {"top", "global", "-n", "6", NULL},
	    {"top", "tenant", "acme", NULL, NULL},	 {"top", "team", "acme/emea", NULL, NULL},
	    {"top", "industry", "software", NULL, NULL}, {"--json", "top", "global", NULL, NULL},
	};
	char short_conf[PATH_MAX];
	struct run stored, walked;

	populate();
	fx_path(short_conf, sizeof(short_conf), "short.conf");
	write_conf(short_conf, redis.port, "rank.top_n = 1\n");
	for (size_t i = 0; i < sizeof(boards) / sizeof(boards[0]); i++) {
		ctl_conf(&stored, NULL, boards[i][0], boards[i][1], boards[i][2], boards[i][3],
			 boards[i][4], NULL);
		ctl_conf(&walked, short_conf, boards[i][0], boards[i][1], boards[i][2],
			 boards[i][3], boards[i][4], NULL);
		expect_rc(&stored, 0);
		expect_out(&walked, stored.out);
		run_free(&stored);
		run_free(&walked);
	}
	/* More than there are members: all of them, from the walk. */
	ctl(&stored, "top", "global", "-n", "100");
	expect_out(&stored, "global: top 6 of 6 reps\n"
			    "     rank  user    SSI\n"
			    "        1  r1    80.00\n"
			    "        2  r3    70.00\n"
			    "        2  r2    70.00\n"
			    "        4  r4    60.00\n"
			    "        5  r5    50.00\n"
			    "        6  r6    40.00\n");
	run_free(&stored);
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
		       "2026-11-20   55.00   21.00   16.00     12.00           6.00\n");
	run_free(&r);
	ctl(&r, "history", "r1", "--days", "2");
	expect_out(&r, "date           SSI   brand  people  insights  relationships\n"
		       "2026-11-19   51.00   21.00   15.00     10.00           5.00\n"
		       "2026-11-20   55.00   21.00   16.00     12.00           6.00\n");
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
	ck_assert(jnum(json_array_get(d, 5), "pillars.insights") == 12.0);
	json_decref(j);
	run_free(&r);
}
END_TEST

/* A key of ssid_rank's layout (ssid_rank.h) for partition part. */
static void rank_key(char key[128], int (*fn)(const char *, int32_t, char *, size_t), int32_t part)
{
	ck_assert_int_lt(fn("ssi:", part, key, 128), 128);
}

/* Unknown users exit 2, unknown segments 3, unreadable data 4. */
START_TEST (ctl_unknown_and_unreadable) {
	static const char *const user_cmds[] = {"score", "rank", "around", "history"};
	redisContext *c;
	char key[128];
	struct run r;

	/* An empty Redis: not even the global segment exists. */
	ctl(&r, "top", "global");
	expect_err(&r, SSICTL_EXIT_UNKNOWN_SEGMENT, "unknown segment: global");
	run_free(&r);
	populate();
	for (size_t i = 0; i < 4; i++) {
		ctl(&r, user_cmds[i], "nobody");
		expect_err(&r, SSICTL_EXIT_UNKNOWN_USER, "unknown user 'nobody'");
		run_free(&r);
	}
	ctl(&r, "rank", "alice");
	expect_err(&r, SSICTL_EXIT_UNKNOWN_USER, "user 'alice' has not been ranked yet");
	run_free(&r);
	ctl(&r, "top", "industry", "nowhere");
	expect_err(&r, SSICTL_EXIT_UNKNOWN_SEGMENT, "unknown segment: industry nowhere");
	run_free(&r);
	ctl(&r, "top", "team", "acme/nowhere");
	expect_err(&r, SSICTL_EXIT_UNKNOWN_SEGMENT, "unknown segment: team acme/nowhere");
	run_free(&r);

	ctl(&r, "score", "bob");
	expect_err(&r, SSICTL_EXIT_UNREADABLE, "the stored state of 'bob' is unreadable");
	run_free(&r);
	ctl(&r, "history", "bob");
	expect_err(&r, SSICTL_EXIT_UNREADABLE, "the stored history of 'bob' is unreadable");
	run_free(&r);
	c = fx_redis_peek(&redis);
	/* A rank record this build cannot read: r9's in partition 0. */
	rank_key(key, ssid_rank_key_records, 0);
	peek(c, "HSET %s r9 %s", key, "v1 12");
	ctl(&r, "rank", "r9");
	expect_err(&r, SSICTL_EXIT_UNREADABLE, "rank record of 'r9' is unreadable");
	run_free(&r);
	/* Only what reads every record meets one: around, and top beyond the stored lists. */
	ctl(&r, "rank", "r2");
	expect_rc(&r, 0);
	run_free(&r);
	ctl(&r, "top", "global");
	expect_rc(&r, 0);
	run_free(&r);
	ctl(&r, "around", "r2");
	expect_err(&r, SSICTL_EXIT_UNREADABLE, "data not written by ssid: rank record 'r9'");
	run_free(&r);
	ctl(&r, "top", "global", "-n", "11");
	expect_err(&r, SSICTL_EXIT_UNREADABLE, "data not written by ssid: rank record 'r9'");
	run_free(&r);
	peek(c, "HDEL %s r9", key);
	/* A segment's aggregate someone else wrote, in partition 1. */
	rank_key(key, ssid_rank_key_aggs, 1);
	{
		const char *seg[SSI_SEG__COUNT] = {[SSI_SEG_INDUSTRY] = "software"};
		char field[64];

		ck_assert_int_eq(
		    ssid_rank_segment_field(SSID_RANK_INDUSTRY, seg, field, sizeof(field)), 10);
		peek(c, "HSET %s %s %s", key, field, "SA garbage");
	}
	for (size_t i = 0; i < 3; i++) {
		static const char *const cmds[][3] = {
		    {"rank", "r2", NULL}, {"around", "r2", NULL}, {"top", "industry", "software"}};

		ctl(&r, cmds[i][0], cmds[i][1], cmds[i][2]);
		expect_err(&r, SSICTL_EXIT_UNREADABLE, "segment 'i:software' in ssi:rk:{p1}:s");
		run_free(&r);
	}
	/* The partition list itself. */
	ck_assert_int_lt(ssid_rank_key_parts("ssi:", key, 128), 128);
	peek(c, "SADD %s not-a-partition", key);
	ctl(&r, "top", "global");
	expect_err(&r, SSICTL_EXIT_UNREADABLE, "not a partition");
	run_free(&r);
	redisFree(c);
}
END_TEST

START_TEST (ctl_config_and_redis_errors) {
	char bad[PATH_MAX], no_model[PATH_MAX], want[PATH_MAX + 64];
	struct run r;

	populate();
	fx_path(bad, sizeof(bad), "bad.conf");
	write_conf(bad, redis.port, "no.such.key = 1\n");
	ctl_conf(&r, bad, "rank", "r1", (const char *)NULL);
	snprintf(want, sizeof(want), "%s:9: no.such.key", bad);
	expect_err(&r, SSICTL_EXIT_CONFIG, want);
	run_free(&r);
	ctl_conf(&r, "/nonexistent/ssid.conf", "rank", "r1", (const char *)NULL);
	expect_err(&r, SSICTL_EXIT_CONFIG, "/nonexistent/ssid.conf");
	run_free(&r);
	/* The model is read by score only. */
	fx_path(no_model, sizeof(no_model), "nomodel.conf");
	write_conf(no_model, redis.port, "");
	{
		char text[4096];
		size_t len;
		char *old = fx_read_file(no_model, &len), *at = strstr(old, "model.file");

		ck_assert_ptr_nonnull(at);
		snprintf(text, sizeof(text), "%.*smodel.file = /nonexistent/model.json\n%s",
			 (int)(at - old), old, strchr(at, '\n') + 1);
		ck_assert_int_eq(fx_write_file(no_model, text, strlen(text)), 0);
		free(old);
	}
	ctl_conf(&r, no_model, "score", "r1", (const char *)NULL);
	expect_err(&r, SSICTL_EXIT_CONFIG, "/nonexistent/model.json");
	run_free(&r);
	ctl_conf(&r, no_model, "rank", "r1", (const char *)NULL);
	expect_rc(&r, 0);
	run_free(&r);

	/* Redis down. */
	ck_assert_int_eq(fx_redis_stop(&redis), 0);
	snprintf(want, sizeof(want), "redis 127.0.0.1:%d: connect", redis.port);
	for (size_t i = 0; i < 3; i++) {
		static const char *const cmds[] = {"score", "rank", "history"};

		ctl(&r, cmds[i], "r1");
		expect_err(&r, SSICTL_EXIT_UNAVAILABLE, want);
		run_free(&r);
	}
}
END_TEST

START_TEST (ctl_usage) {
	static const char *const bad[][6] = {
	    {NULL},
	    {"frobnicate", NULL},
	    {"score", NULL},
	    {"score", "a", "b", NULL},
	    {"rank", "r1", "--explain", NULL},
	    {"around", "r1", "-k", "0", NULL},
	    {"around", "r1", "-k", NULL},
	    {"history", "r1", "--days", "0", NULL},
	    {"history", "r1", "--days", "x", NULL},
	    {"top", "global", "-n", "1001", NULL},
	    {"top", "planet", NULL},
	    {"top", "industry", NULL},
	    {"top", "global", "extra", NULL},
	    {"top", "team", "acme", NULL},
	    {"alerts", "now", NULL},
	    {"score", "r1", "--bogus", NULL},
	    {"score", "r1", "-z", NULL},
	};
	struct run r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ctl_conf(&r, NULL, bad[i][0], bad[i][1], bad[i][2], bad[i][3], bad[i][4], NULL);
		expect_err(&r, SSICTL_EXIT_USAGE, "Try 'ssictl --help'.");
		run_free(&r);
	}
	ctl(&r, "--help");
	expect_rc(&r, 0);
	ck_assert_msg(strstr(r.out, "Exit codes:") && strstr(r.out, "  69  Redis or Kafka"), "%s",
		      r.out);
	run_free(&r);
	ctl(&r, "-V");
	expect_out(&r, "ssictl " SSID_VERSION "\n");
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
	ck_assert_int_eq(fx_config_file(path, len, "alerts.conf", k, &redis, NULL), 0);
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
			 k.output, redis.port, bs_file);
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

TCase *network_tcase(void);

Suite *ssictl_suite(void)
{
	Suite *s = suite_create("ssictl");
	TCase *tc = tcase_create("ctl");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, ctl_score_text);
	tcase_add_test(tc, ctl_score_explain);
	tcase_add_test(tc, ctl_rank_text);
	tcase_add_test(tc, ctl_rank_json);
	tcase_add_test(tc, ctl_around);
	tcase_add_test(tc, ctl_top);
	tcase_add_test(tc, ctl_top_walk);
	tcase_add_test(tc, ctl_history);
	tcase_add_test(tc, ctl_unknown_and_unreadable);
	tcase_add_test(tc, ctl_config_and_redis_errors);
	tcase_add_test(tc, ctl_usage);
	tcase_add_test(tc, ctl_alerts);
	tcase_add_test(tc, ctl_alerts_follow);
	tcase_add_test(tc, ctl_bootstrap_file);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, network_tcase());
	return s;
}
