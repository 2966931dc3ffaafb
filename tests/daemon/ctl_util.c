/* What the ssictl suite's files share; see ctl_util.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "ctl_util.h"
#include "rank_util.h"
#include "ssi_history.h"
#include "ssi_time.h"
#include "ssictl.h"
#include "ssid_file.h"
#include "ssid_rank.h"
#include "ssid_store.h"

#define TODAY ((int32_t)(FX_NOW_MS / SSI_MS_PER_DAY)) /* 2026-11-20 */

struct fx_redis ctl_redis;
char ctl_conf_path[PATH_MAX];
struct ssi_model ctl_model;

void write_conf(const char *path, int port, const char *extra)
{
	char text[4096], cluster[sizeof(ctl_redis.seeds) + 64] = "";

	/* A 3x3 cluster's (SSID_TEST_REDIS_CLUSTER=3) seeds, unless another port is asked for. */
	if (ctl_redis.node && port == ctl_redis.port)
		snprintf(cluster, sizeof(cluster), "redis.cluster = yes\nredis.nodes = %s\n",
			 ctl_redis.seeds);
	snprintf(text, sizeof(text),
		 "# ssictl tests\n"
		 "redis.host = 127.0.0.1\n"
		 "redis.port = %d\n"
		 "redis.connect_timeout_ms = 2000\n"
		 "model.file = \"%s\"\n"
		 "clock = %s\n"
		 "kafka.bootstrap.servers = 127.0.0.1:9\n"
		 "rank.min_members = 3\n"
		 "%s%s",
		 port, fx_model_path(), FX_CLOCK, extra ? extra : "", cluster);
	ck_assert_int_eq(fx_write_file(path, text, strlen(text)), 0);
}

void ctl_setup(void)
{
	struct ssi_model_error me;

	fx_redis_setup(&ctl_redis);
	fx_path(ctl_conf_path, sizeof(ctl_conf_path), "ssid.conf");
	write_conf(ctl_conf_path, ctl_redis.port, NULL);
	ck_assert_int_eq(ssid_file_load_model(&ctl_model, fx_model_path(), &me), 0);
}

void ctl_teardown(void)
{
	fx_redis_teardown(&ctl_redis);
}

/* ---- running ssictl -------------------------------------------------------
 */

void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

/* ssictl -c conf args... (NULL-terminated); conf NULL: the test's ssid.conf. */
void ctl_conf(struct run *r, const char *conf, ...)
{
	char *argv[32];
	int argc = 0;
	FILE *out, *err;
	va_list ap;
	const char *a;

	memset(r, 0, sizeof(*r));
	argv[argc++] = "ssictl";
	argv[argc++] = "-c";
	argv[argc++] = (char *)(conf ? conf : ctl_conf_path);
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

void expect_rc(const struct run *r, int rc)
{
	ck_assert_msg(r->rc == rc, "exit %d, want %d; stdout:\n%s\nstderr:\n%s", r->rc, rc, r->out,
		      r->err);
}

void expect_out(const struct run *r, const char *want)
{
	expect_rc(r, 0);
	ck_assert_msg(strcmp(r->out, want) == 0, "stdout:\n%s\nwant:\n%s\nstderr:\n%s", r->out,
		      want, r->err);
}

void expect_err(const struct run *r, int rc, const char *needle)
{
	expect_rc(r, rc);
	ck_assert_msg(strstr(r->err, needle), "stderr lacks \"%s\":\n%s", needle, r->err);
	ck_assert_msg(r->out[0] == '\0', "stdout not empty:\n%s", r->out);
}

json_t *expect_json(const struct run *r)
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
json_t *jget(json_t *j, const char *path)
{
	char buf[256], *save = NULL, *key;

	snprintf(buf, sizeof(buf), "%s", path);
	for (key = strtok_r(buf, ".", &save); key && j; key = strtok_r(NULL, ".", &save))
		j = json_object_get(j, key);
	return j;
}

long long jint(json_t *j, const char *path)
{
	json_t *v = jget(j, path);

	ck_assert_msg(json_is_integer(v), "%s is not an integer", path);
	return json_integer_value(v);
}

double jnum(json_t *j, const char *path)
{
	json_t *v = jget(j, path);

	ck_assert_msg(json_is_number(v), "%s is not a number", path);
	return json_number_value(v);
}

const char *jstr(json_t *j, const char *path)
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

static void put_ranks(void)
{
	struct ssid_redis_opts o = fx_redis_opts(&ctl_redis);
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
		ch[i].score = t_spread(reps[i].total);
	}
	ck_assert_msg(rank_apply_at(&o, r, ch, NREPS, true) == 0, "%s", ssid_rank_errstr(r));
	ssid_rank_free(r);
}

void peek(struct ssid_redis *c, const char *fmt, ...)
{
	redisReply *reply;
	va_list ap;

	va_start(ap, fmt);
	reply = ssid_redis_vcommand(c, fmt, ap);
	va_end(ap);
	ck_assert_msg(reply && reply->type != REDIS_REPLY_ERROR, "redis: %s",
		      reply ? reply->str : ssid_redis_errstr(c));
	freeReplyObject(reply);
}

/* The connection sets, as the daemon keeps them from connection_added events.
 */
static void put_networks(struct ssid_redis *c)
{
	/* As an older build kept them: all in the sets, no field c to say otherwise. */
	peek(c, "HDEL ssi:u:{r1} c");
	peek(c, "HDEL ssi:u:{r2} c");
	peek(c, "HDEL ssi:u:{r5} c");
	peek(c, "SADD ssi:net:{r1} r2 r4 r6 stranger r1");
	peek(c, "SADD ssi:net:{r2} r1 r3 r4");
	peek(c, "SADD ssi:net:{r5} r6");
}

/* r1's activity: a profile, sessions, posts, connections; segments from the
 * events. */
void build_state(struct ssi_state *st, const char *user, const char *tenant, const char *team,
		 const char *industry)
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
	ck_assert_int_eq(ssi_state_apply(st, &ctl_model, &ev), 1);
	for (int d = 1; d <= 10; d++) {
		t_apply_n(st, &ctl_model, SSI_EV_SESSION_STARTED, FX_NOW_MS - d * T_DAY, 1, &seq);
		t_apply_n(st, &ctl_model, SSI_EV_POST_SHARED, FX_NOW_MS - d * T_DAY, d % 3, &seq);
		t_apply_n(st, &ctl_model, SSI_EV_PROFILE_VIEWED, FX_NOW_MS - d * T_DAY, 2, &seq);
	}
	for (int i = 0; i < 25; i++) {
		t_event(&ev, SSI_EV_CONNECTION_ADDED, FX_NOW_MS - 40 * T_DAY + i * T_HOUR, seq++);
		ev.attrs.connection.seniority = (enum ssi_seniority)(1 + i % 8);
		ck_assert_int_eq(ssi_state_apply(st, &ctl_model, &ev), 1);
	}
}

/* States through ssid_store_save: r1 (in acme/emea, software) and alice (no
 * rank yet). */
static void put_states(void)
{
	struct ssid_redis_opts o = fx_redis_opts(&ctl_redis);
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
 * r1's history: 50.00 five days ago, 51.00 three days ago, 80.00 today
 * (the score it ranks with, put_ranks'),
 * each delivered on its day as ssid does (after put_states: r1's state stays).
 */
static void put_history(void)
{
	struct ssid_redis_opts o = fx_redis_opts(&ctl_redis);
	struct ssid_store *store = NULL;
	struct fx_delivery d[3] = {
	    {.user_id = "r1", .day = TODAY - 5, .score = pillars(2000, 1500, 1000, 500)},
	    {.user_id = "r1", .day = TODAY - 3, .score = pillars(2100, 1500, 1000, 500)},
	    {.user_id = "r1", .day = TODAY, .score = pillars(2500, 2500, 2500, 500)},
	};

	ck_assert_int_eq(ssid_store_new(&store, &o), 0);
	for (int i = 0; i < 3; i++) {
		ck_assert_msg(fx_deliver(store, &d[i], 1, SSI_HISTORY_RETENTION_DEFAULT) == 0, "%s",
			      ssid_store_errstr(store));
		ck_assert_int_eq(d[i].history_status, 0);
	}
	ssid_store_free(store);
}

void populate(void)
{
	struct ssid_redis *c = fx_redis_client(&ctl_redis);

	put_ranks();
	put_networks(c);
	put_states();
	put_history();
	/* The published score as the store writes it (ssid_store.h: "v2 ... as_of
	 * model"). */
	peek(c, "HSET ssi:u:{r1} p %s", "v2 8000 2500 2500 2500 500 1795168800000 test-model-7");
	/* bob: a state and a history this build cannot read. */
	peek(c, "HSET ssi:u:{bob} s garbage h garbage");
	ssid_redis_free(c);
}

const char *pts(int centipoints, char *buf)
{
	ssi_score_format(centipoints, buf, 16);
	return buf;
}
