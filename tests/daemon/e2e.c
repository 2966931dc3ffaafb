/* The end-to-end suites' shared pieces; see e2e.h. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "e2e.h"
#include "ssid_sched.h"
#include "ssid_store.h"

/* A waiting wave must never close on time: it closes when it is full. */
#define WAVE_MAX_WAIT "batch.max_wait_ms = 10000\n"

Suite *e2e_suite(const char *name, const TTest *const tests[], size_t n)
{
	Suite *s = suite_create(name);
	TCase *tc = tcase_create("thread");

	tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
	tcase_set_timeout(tc, 120);
	for (size_t i = 0; i < n; i++)
		tcase_add_test(tc, tests[i]);
	suite_add_tcase(s, tc);
	return s;
}

void e2e_open(struct e2e_env *e, const char *tag, int users, bool persistent_redis)
{
	ck_assert_int_le(users, E2E_MAX_REPS);
	memset(e, 0, sizeof(*e));
	fx_env_open(&e->fx, tag, users, persistent_redis);
	fx_path(e->clock_path, sizeof(e->clock_path), "clock");
	snprintf(e->clock, sizeof(e->clock), "file:%s", e->clock_path);
}

void e2e_close(struct e2e_env *e)
{
	fx_env_close(&e->fx);
}

/*
 * Replace the first "from" of the configuration text with "to": the
 * fixture writes some keys itself, and a key may appear only once.
 */
static void conf_replace(char *conf, size_t cap, const char *from, const char *to)
{
	char *at = strstr(conf, from);
	size_t fl = strlen(from), tl = strlen(to);

	ck_assert_msg(at, "the fixture's configuration has no \"%s\"", from);
	ck_assert_uint_lt(strlen(conf) - fl + tl, cap);
	memmove(at + tl, at + fl, strlen(at + fl) + 1);
	memcpy(at, to, tl);
}

void e2e_conf(struct e2e_env *e, const struct e2e_run *r)
{
	struct fx_conf c = {
	    .batch_max_events = r->batch,
	    .model_file = r->model_file,
	    .clock = r->file_clock ? e->clock : NULL,
	    .extra = r->extra,
	    .onboarding = r->onboarding,
	};

	ck_assert_int_eq(fx_config_text(e->conf, sizeof(e->conf), &e->fx.kafka, &e->fx.redis, &c),
			 0);
	if (r->waves)
		conf_replace(e->conf, sizeof(e->conf), "batch.max_wait_ms = 20\n", WAVE_MAX_WAIT);
	else if (r->gather_long)
		conf_replace(e->conf, sizeof(e->conf), "batch.max_wait_ms = 20\n",
			     "batch.max_wait_ms = 500\n");
	e->wave = r->waves ? r->batch : 0;
}

void e2e_start(struct e2e_env *e, const struct e2e_run *r)
{
	char err[1024];

	e2e_conf(e, r);
	ck_assert_msg(fx_daemon_start(&e->daemon, e->conf, err, sizeof(err)) == 0, "ssid: %s", err);
}

void e2e_clock_set(const struct e2e_env *e, int64_t ms)
{
	char when[SSI_TIME_BUFLEN];
	size_t n = ssi_time_format(ms, when);

	ck_assert_int_eq(fx_write_file(e->clock_path, when, n), 0);
}

/* ---- events --------------------------------------------------------------- */

const char *e2e_profile(char *buf, size_t len, unsigned fields, int skills, int media)
{
	snprintf(
	    buf, len,
	    ",\"attrs\":{\"photo\":%s,\"background_photo\":%s,\"headline\":%s,"
	    "\"summary\":%s,\"experience\":%s,\"skills\":%d,\"featured_media\":%d}",
	    fields & E2E_PF_PHOTO ? "true" : "false", fields & E2E_PF_BACKGROUND ? "true" : "false",
	    fields & E2E_PF_HEADLINE ? "true" : "false", fields & E2E_PF_SUMMARY ? "true" : "false",
	    fields & E2E_PF_EXPERIENCE ? "true" : "false", skills, media);
	return buf;
}

void e2e_add_ev(struct e2e_env *e, int u, enum ssi_event_type t, int64_t at_ms, const char *attrs)
{
	const struct e2e_seg *g = &e->seg[u];
	const char *v[SSI_SEG__COUNT];
	char json[1024], when[SSI_TIME_BUFLEN], id[64], segs[512] = "";
	size_t off = 0;

	v[SSI_SEG_TENANT] = g->tenant;
	v[SSI_SEG_TEAM] = g->team;
	v[SSI_SEG_INDUSTRY] = g->industry;
	for (int s = 0; s < SSI_SEG__COUNT; s++)
		if (v[s] && v[s][0])
			off += (size_t)snprintf(segs + off, sizeof(segs) - off, ",\"%s\":\"%s\"",
						ssi_segment_name((enum ssi_segment)s), v[s]);
	fx_user_id(&e->fx.stream, u, id, sizeof(id));
	ssi_time_format(at_ms, when);
	snprintf(json, sizeof(json),
		 "{\"event_id\":\"%s-x%llu\",\"user_id\":\"%s\",\"type\":\"%s\","
		 "\"occurred_at\":\"%s\"%s%s}",
		 e->fx.stream.tag, (unsigned long long)e->seq++, id, ssi_event_type_name(t), when,
		 segs, attrs ? attrs : "");
	ck_assert_int_eq(fx_stream_add_raw(&e->fx.stream, id, u, json, strlen(json), ""), 0);
}

/* Activity that only ever adds points (no rates that an event can lower). */
const enum ssi_event_type e2e_plain_types[E2E_NPLAIN] = {
    SSI_EV_ENDORSEMENT_RECEIVED, SSI_EV_FOLLOWER_GAINED,       SSI_EV_SESSION_STARTED,
    SSI_EV_LEAD_SAVED,		 SSI_EV_POST_SHARED,	       SSI_EV_REACTION_RECEIVED,
    SSI_EV_COMMENT_RECEIVED,	 SSI_EV_RESHARE_RECEIVED,      SSI_EV_REACTION_GIVEN,
    SSI_EV_COMMENT_GIVEN,	 SSI_EV_MESSAGE_SENT,	       SSI_EV_GROUP_JOINED,
    SSI_EV_GROUP_ACTIVITY,	 SSI_EV_PROFILE_VIEW_RECEIVED,
};

void e2e_add_articles(struct e2e_env *e, int u, int n, int back)
{
	for (int i = 0; i < n; i++)
		e2e_add_ev(e, u, SSI_EV_ARTICLE_PUBLISHED,
			   FX_NOW_MS - (int64_t)(back + i / 2) * DAY - (i % 2 + 1) * T_HOUR, "");
}

/* ---- the daemon ------------------------------------------------------------ */

/* One counter of the stats by its offset, so one poll loop serves them all. */
static uint64_t stat_of(const struct ssid_daemon_stats *st, size_t off)
{
	uint64_t v;

	memcpy(&v, (const char *)st + off, sizeof(v));
	return v;
}

void e2e_wait_stat(const struct fx_daemon *d, size_t off, uint64_t want, const char *what)
{
	int64_t deadline = fx_deadline(FX_WAIT_MS);
	struct ssid_daemon_stats st;

	for (;;) {
		fx_daemon_stats(d, &st);
		if (stat_of(&st, off) >= want)
			return;
		if (fx_daemon_returned(d) || fx_expired(deadline))
			fx_dump_log(d->log_path);
		ck_assert_msg(!fx_daemon_returned(d), "ssid stopped (log: %s)", d->log_path);
		ck_assert_msg(!fx_expired(deadline), "%s: %llu of %llu after %d ms (log: %s)", what,
			      (unsigned long long)stat_of(&st, off), (unsigned long long)want,
			      FX_WAIT_MS, d->log_path);
		fx_pause();
	}
}

void e2e_produce_range(struct e2e_env *e, size_t from, size_t to)
{
	size_t n = e->fx.stream.n;

	if (e->wave > 0)
		ck_assert_msg((to - from) % (size_t)e->wave == 0,
			      "a wave of %zu events is not a whole number of %d-event batches",
			      to - from, e->wave);
	ck_assert_int_eq(fx_produce(&e->fx.kafka, &e->fx.stream, from, to), 0);
	/* Drained means: up to the events produced so far. */
	e->fx.stream.n = to;
	fx_wait_drained(&e->fx.kafka, &e->fx.stream, e->daemon.log_path);
	e->fx.stream.n = n;
	e2e_wait_stat(&e->daemon, E2E_STAT(events), to, "events taken in");
}

void e2e_produce_wave(struct e2e_env *e, size_t from)
{
	e2e_produce_range(e, from, e->fx.stream.n);
}

void e2e_reload_with(struct e2e_env *e, const char *extra, uint64_t reloads)
{
	struct e2e_run r = {.extra = extra, .batch = e->wave, .waves = e->wave > 0};
	char path[PATH_MAX];

	e2e_conf(e, &r);
	fx_path(path, sizeof(path), "ssid-thread.conf");
	ck_assert_int_eq(fx_write_file(path, e->conf, strlen(e->conf)), 0);
	fx_daemon_reload(&e->daemon);
	e2e_wait_stat(&e->daemon, E2E_STAT(reloads), reloads, "reloads");
}

/* ---- reference scores ------------------------------------------------------ */

void e2e_ref_score(const struct e2e_env *e, int u, size_t upto, const struct ssi_model *m,
		   int64_t at_ms, struct ssi_score *out)
{
	struct ssi_state st;

	ssi_state_init(&st);
	ck_assert_int_eq(fx_reference_state(&e->fx.stream, u, upto, m, &st, NULL, NULL), 0);
	ssi_score(&st, m, at_ms, out);
	ssi_state_clear(&st);
}

void e2e_ref_state(const struct e2e_env *e, int u, struct ssi_state *st)
{
	ssi_state_init(st);
	ck_assert_int_eq(
	    fx_reference_state(&e->fx.stream, u, e->fx.stream.n, &e->fx.model, st, NULL, NULL), 0);
}

/* ---- Redis --------------------------------------------------------------- */

redisReply *e2e_rcmd(struct ssid_redis *c, const char *fmt, ...)
{
	redisReply *r;
	va_list ap;

	va_start(ap, fmt);
	r = ssid_redis_vcommand(c, fmt, ap);
	va_end(ap);
	ck_assert_msg(r && r->type != REDIS_REPLY_ERROR, "redis %s: %s", fmt,
		      r ? r->str : ssid_redis_errstr(c));
	return r;
}

/* ---- outputs ----------------------------------------------------------------- */

/* Which rep of the stream id names, -1 for none. */
static int user_index(const struct e2e_env *e, const char *id)
{
	char want[64];

	for (int u = 0; id && u < e->fx.stream.nusers; u++)
		if (strcmp(fx_user_id(&e->fx.stream, u, want, sizeof(want)), id) == 0)
			return u;
	return -1;
}

void e2e_outs_read(const struct e2e_env *e, struct e2e_outs *os)
{
	struct fx_msgs msgs;

	ck_assert_int_eq(
	    fx_kafka_read_topic((struct fx_kafka *)&e->fx.kafka, e->fx.kafka.output, &msgs), 0);
	os->n = msgs.n;
	os->o = calloc(msgs.n + 1, sizeof(*os->o));
	ck_assert_ptr_nonnull(os->o);
	for (size_t i = 0; i < msgs.n; i++) {
		struct e2e_out *o = &os->o[i];
		json_error_t jerr;
		const char *id;

		o->j = json_loadb(msgs.m[i].value, msgs.m[i].len, 0, &jerr);
		ck_assert_msg(o->j && json_is_object(o->j), "output %zu is not a JSON object: %s",
			      i, msgs.m[i].value);
		ck_assert_int_eq(json_integer_value(json_object_get(o->j, "schema")), 1);
		o->type = json_string_value(json_object_get(o->j, "type"));
		ck_assert_msg(o->type, "output %zu has no type", i);
		id = json_string_value(json_object_get(o->j, "user_id"));
		o->user = user_index(e, id);
		if (id)
			ck_assert_msg(msgs.m[i].key && strcmp(msgs.m[i].key, id) == 0,
				      "output %zu is not keyed by its user", i);
	}
	fx_msgs_free(&msgs);
}

void e2e_outs_free(struct e2e_outs *os)
{
	for (size_t i = 0; i < os->n; i++)
		json_decref(os->o[i].j);
	free(os->o);
	memset(os, 0, sizeof(*os));
}

bool e2e_is_type(const struct e2e_out *o, const char *type)
{
	return strcmp(o->type, type) == 0;
}

size_t e2e_count_type(const struct e2e_outs *os, const char *type)
{
	size_t n = 0;

	for (size_t i = 0; i < os->n; i++)
		n += e2e_is_type(&os->o[i], type);
	return n;
}

int e2e_cp(const json_t *v)
{
	ck_assert_msg(json_is_number(v), "not a number");
	return (int)lround(json_number_value(v) * 100.0);
}

const char *e2e_str_of(const json_t *j, const char *key)
{
	const char *s = json_string_value(json_object_get(j, key));

	ck_assert_msg(s, "no string \"%s\"", key);
	return s;
}

void e2e_pillars_of(const json_t *obj, struct ssi_score *s)
{
	ck_assert_msg(json_is_object(obj), "pillars are not an object");
	s->total = 0;
	for (int p = 0; p < SSI_PILLAR__COUNT; p++) {
		s->pillar[p] = e2e_cp(json_object_get(obj, ssi_pillar_name((enum ssi_pillar)p)));
		s->total += s->pillar[p];
	}
}

void e2e_score_of(const json_t *j, struct ssi_score *s)
{
	e2e_pillars_of(json_object_get(j, "pillars"), s);
	ck_assert_int_eq(e2e_cp(json_object_get(j, "ssi")), s->total);
}

int64_t e2e_as_of(const json_t *j)
{
	const char *s = e2e_str_of(j, "as_of");
	int64_t ms;

	ck_assert_int_eq(ssi_time_parse(s, strlen(s), &ms), 0);
	return ms;
}

bool e2e_score_eq(const struct ssi_score *a, const struct ssi_score *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

const json_t *e2e_last_score(const struct e2e_outs *os, int u)
{
	const json_t *j = NULL;

	for (size_t i = 0; i < os->n; i++)
		if (os->o[i].user == u && e2e_is_type(&os->o[i], "score.updated"))
			j = os->o[i].j;
	return j;
}

/* ---- the decay schedule ---------------------------------------------------- */

long long e2e_rint(struct ssid_redis *c, const char *fmt, ...)
{
	redisReply *r;
	long long v;
	va_list ap;

	va_start(ap, fmt);
	r = ssid_redis_vcommand(c, fmt, ap);
	va_end(ap);
	ck_assert_msg(r && r->type == REDIS_REPLY_INTEGER, "redis %s: no integer", fmt);
	v = r->integer;
	freeReplyObject(r);
	return v;
}

long long e2e_due_count(struct ssid_redis *c, int partitions, int64_t at_ms)
{
	long long n = 0;

	for (int p = 0; p < partitions; p++) {
		struct ssid_sched *sc = NULL;

		ck_assert_msg(ssid_store_schedule_read(c, p, &sc) == 0,
			      "the schedule of partition %d: %s", p, ssid_redis_errstr(c));
		n += (long long)ssid_sched_count(sc, at_ms);
		ssid_sched_free(sc);
	}
	return n;
}

long long e2e_step_clock(const struct e2e_env *e, const struct fx_daemon *const *d, int nd,
			 int64_t at_ms)
{
	struct ssid_redis *c = fx_redis_client(&e->fx.redis);
	long long due = e2e_due_count(c, e->fx.kafka.partitions, at_ms);
	uint64_t before = 0, now;
	int64_t deadline = fx_deadline(FX_WAIT_MS);

	for (int i = 0; i < nd; i++) {
		struct ssid_daemon_stats st;

		fx_daemon_stats(d[i], &st);
		before += st.decayed;
	}
	e2e_clock_set(e, at_ms);
	for (;;) {
		now = 0;
		for (int i = 0; i < nd; i++) {
			struct ssid_daemon_stats st;

			fx_daemon_stats(d[i], &st);
			now += st.decayed;
			ck_assert_msg(!fx_daemon_returned(d[i]), "ssid stopped");
		}
		if (now >= before + (uint64_t)due &&
		    e2e_due_count(c, e->fx.kafka.partitions, at_ms) == 0)
			break;
		if (fx_expired(deadline))
			fx_dump_log(d[0]->log_path);
		ck_assert_msg(
		    !fx_expired(deadline), "clock %lld: %llu of %lld due reps rescored after %d ms",
		    (long long)at_ms, (unsigned long long)(now - before), due, FX_WAIT_MS);
		fx_pause();
	}
	ck_assert_msg(now == before + (uint64_t)due,
		      "clock %lld: %llu reps rescored, %lld were due", (long long)at_ms,
		      (unsigned long long)(now - before), due);
	ssid_redis_free(c);
	return due;
}
