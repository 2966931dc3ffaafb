/*
 * Ranks, leaderboards, alerts, inactivity decay, history, rebuilds and
 * model changes, end to end: ssid in a thread against a real redis-server
 * and librdkafka's mock cluster, with the engine (scores, next changes,
 * alert rules, history) as the oracle for what the daemon publishes.
 *
 * A rep's rank depends on who else is in the segment when the batch is
 * scored, so the rank tests make each wave of events exactly one batch:
 * batch.max_events is the size of a wave, batch.max_wait_ms is long, and a
 * wave is produced only once the previous one is committed. The time tests
 * drive the scoring clock through a file (clock = file:<path>) and, after
 * each step, wait until the daemon has rescored every rep the schedule in
 * Redis said was due: no sleeps, no timed assertions.
 */
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "fixture.h"
#include "ssi_alert.h"
#include "ssi_history.h"
#include "ssi_time.h"
#include "ssid_log.h"
#include "ssid_rank.h"
#include "ssid_rank_read.h"
#include "ssid_store.h"
#include "suites.h"
#include "ssid_file.h"

#define MAX_REPS 48
#define DAY	 SSI_MS_PER_DAY
/* A waiting wave must never close on time: it closes when it is full. */
#define WAVE_MAX_WAIT "batch.max_wait_ms = 10000\n"

/* A rep's segments; NULL or "" for none. */
struct seg {
	const char *tenant, *team, *industry;
};

/* Everything one test runs against; torn down by env_close. */
struct env {
	struct fx_redis redis;
	struct fx_kafka kafka;
	struct fx_stream stream;
	struct fx_daemon daemon;
	struct ssi_model model;
	struct seg seg[MAX_REPS];
	uint64_t seq;
	int wave; /* events per batch when waves are batches, else 0 */
	char clock_path[PATH_MAX];
	char clock[PATH_MAX + 8];
	char conf[8192];
};

/* A redis-server, a 4-partition mock cluster and an empty stream of users reps. */
static void env_open(struct env *e, const char *tag, int users, bool persistent_redis)
{
	char dir[PATH_MAX];

	ck_assert_int_le(users, MAX_REPS);
	memset(e, 0, sizeof(*e));
	ck_assert_int_eq(ssid_file_load_model(&e->model, fx_model_path(), NULL), 0);
	ck_assert_msg(
	    fx_redis_start(&e->redis, fx_path(dir, sizeof(dir), "redis"), persistent_redis) == 0,
	    "redis-server did not start (see %s/redis.log)", dir);
	ck_assert_int_eq(fx_kafka_start(&e->kafka, tag, 4), 0);
	fx_stream_init(&e->stream, tag, users);
	fx_path(e->clock_path, sizeof(e->clock_path), "clock");
	snprintf(e->clock, sizeof(e->clock), "file:%s", e->clock_path);
}

/* Everything env_open started; the daemon must be stopped already. */
static void env_close(struct env *e)
{
	fx_stream_free(&e->stream);
	fx_kafka_free(&e->kafka);
	ck_assert_int_eq(fx_redis_stop(&e->redis), 0);
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

/* How a test runs the daemon. */
struct run {
	const char *extra;	/* more configuration lines, or NULL */
	int batch;		/* batch.max_events; 0: the default */
	bool waves;		/* every wave of batch events is exactly one batch */
	bool file_clock;	/* the scoring clock is read from e->clock_path */
	const char *model_file; /* NULL: config/model.json */
};

/* The configuration text of r into e->conf. */
static void env_conf(struct env *e, const struct run *r)
{
	struct fx_conf c = {
	    .batch_max_events = r->batch,
	    .model_file = r->model_file,
	    .clock = r->file_clock ? e->clock : NULL,
	    .extra = r->extra,
	};

	ck_assert_int_eq(fx_config_text(e->conf, sizeof(e->conf), &e->kafka, &e->redis, &c), 0);
	if (r->waves)
		conf_replace(e->conf, sizeof(e->conf), "batch.max_wait_ms = 20\n", WAVE_MAX_WAIT);
	e->wave = r->waves ? r->batch : 0;
}

/* ssid in a thread with r's configuration (also what a reload rereads). */
static void env_start(struct env *e, const struct run *r)
{
	char err[1024];

	env_conf(e, r);
	ck_assert_msg(fx_daemon_start(&e->daemon, e->conf, err, sizeof(err)) == 0, "ssid: %s", err);
}

/* Write the scoring clock the daemon reads (atomically: rename). */
static void clock_set(const struct env *e, int64_t ms)
{
	char when[SSI_TIME_BUFLEN];
	size_t n = ssi_time_format(ms, when);

	ck_assert_int_eq(fx_write_file(e->clock_path, when, n), 0);
}

/* ---- events --------------------------------------------------------------- */

/* Profile fields, for profile(). */
enum {
	PF_PHOTO = 1,
	PF_BACKGROUND = 2,
	PF_HEADLINE = 4,
	PF_SUMMARY = 8,
	PF_EXPERIENCE = 16,
	PF_ALL = 31,
};

/* The attrs of a profile_updated snapshot. */
static const char *profile(char *buf, size_t len, unsigned fields, int skills, int media)
{
	snprintf(buf, len,
		 ",\"attrs\":{\"photo\":%s,\"background_photo\":%s,\"headline\":%s,"
		 "\"summary\":%s,\"experience\":%s,\"skills\":%d,\"featured_media\":%d}",
		 fields & PF_PHOTO ? "true" : "false", fields & PF_BACKGROUND ? "true" : "false",
		 fields & PF_HEADLINE ? "true" : "false", fields & PF_SUMMARY ? "true" : "false",
		 fields & PF_EXPERIENCE ? "true" : "false", skills, media);
	return buf;
}

/* One valid event of user u at at_ms, with all of u's segments and attrs ("" or ",\"attrs\":...").
 */
static void add_ev(struct env *e, int u, enum ssi_event_type t, int64_t at_ms, const char *attrs)
{
	const struct seg *g = &e->seg[u];
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
	fx_user_id(&e->stream, u, id, sizeof(id));
	ssi_time_format(at_ms, when);
	snprintf(json, sizeof(json),
		 "{\"event_id\":\"%s-x%llu\",\"user_id\":\"%s\",\"type\":\"%s\","
		 "\"occurred_at\":\"%s\"%s%s}",
		 e->stream.tag, (unsigned long long)e->seq++, id, ssi_event_type_name(t), when,
		 segs, attrs ? attrs : "");
	ck_assert_int_eq(fx_stream_add_raw(&e->stream, id, u, json, strlen(json), ""), 0);
}

/* Activity that only ever adds points (no rates that an event can lower). */
static const enum ssi_event_type plain_types[] = {
    SSI_EV_ENDORSEMENT_RECEIVED, SSI_EV_FOLLOWER_GAINED,       SSI_EV_SESSION_STARTED,
    SSI_EV_LEAD_SAVED,		 SSI_EV_POST_SHARED,	       SSI_EV_REACTION_RECEIVED,
    SSI_EV_COMMENT_RECEIVED,	 SSI_EV_RESHARE_RECEIVED,      SSI_EV_REACTION_GIVEN,
    SSI_EV_COMMENT_GIVEN,	 SSI_EV_MESSAGE_SENT,	       SSI_EV_GROUP_JOINED,
    SSI_EV_GROUP_ACTIVITY,	 SSI_EV_PROFILE_VIEW_RECEIVED,
};
#define NPLAIN (sizeof(plain_types) / sizeof(plain_types[0]))

/* n articles of user u, two a day (the daily cap), from back days ago backwards. */
static void add_articles(struct env *e, int u, int n, int back)
{
	for (int i = 0; i < n; i++)
		add_ev(e, u, SSI_EV_ARTICLE_PUBLISHED,
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

#define STAT(field) offsetof(struct ssid_daemon_stats, field)

/* Poll d's counter at off until it reaches at least want. */
static void wait_stat(const struct fx_daemon *d, size_t off, uint64_t want, const char *what)
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

/* Produce stream[from, to) and wait until it is committed and counted. */
static void produce_range(struct env *e, size_t from, size_t to)
{
	size_t n = e->stream.n;

	if (e->wave > 0)
		ck_assert_msg((to - from) % (size_t)e->wave == 0,
			      "a wave of %zu events is not a whole number of %d-event batches",
			      to - from, e->wave);
	ck_assert_int_eq(fx_produce(&e->kafka, &e->stream, from, to), 0);
	/* Drained means: up to the events produced so far. */
	e->stream.n = to;
	fx_wait_drained(&e->kafka, &e->stream, e->daemon.log_path);
	e->stream.n = n;
	wait_stat(&e->daemon, STAT(events), to, "events taken in");
}

/* Produce stream[from, n), the latest wave. */
static void produce_wave(struct env *e, size_t from)
{
	produce_range(e, from, e->stream.n);
}

/* Rewrite the daemon's configuration file with extra lines and reload it. */
static void reload_with(struct env *e, const char *extra, uint64_t reloads)
{
	struct run r = {.extra = extra, .batch = e->wave, .waves = e->wave > 0};
	char path[PATH_MAX];

	env_conf(e, &r);
	fx_path(path, sizeof(path), "ssid-thread.conf");
	ck_assert_int_eq(fx_write_file(path, e->conf, strlen(e->conf)), 0);
	fx_daemon_reload(&e->daemon);
	wait_stat(&e->daemon, STAT(reloads), reloads, "reloads");
}

/* ---- reference scores ------------------------------------------------------ */

/* The engine's score of user u's events ev[0, upto) at at_ms under m. */
static void ref_score(const struct env *e, int u, size_t upto, const struct ssi_model *m,
		      int64_t at_ms, struct ssi_score *out)
{
	struct ssi_state st;

	ssi_state_init(&st);
	ck_assert_int_eq(fx_reference_state(&e->stream, u, upto, m, &st, NULL, NULL), 0);
	ssi_score(&st, m, at_ms, out);
	ssi_state_clear(&st);
}

/* The engine's state of user u after the whole stream (initialises st). */
static void ref_state(const struct env *e, int u, struct ssi_state *st)
{
	ssi_state_init(st);
	ck_assert_int_eq(fx_reference_state(&e->stream, u, e->stream.n, &e->model, st, NULL, NULL),
			 0);
}

/* ---- Redis --------------------------------------------------------------- */

/* A connection of the test's own to the server, for what ssid stored. */
static redisContext *redis_open(const struct env *e)
{
	struct timeval tv = {.tv_sec = 5, .tv_usec = 0};
	redisContext *c = redisConnectWithTimeout("127.0.0.1", e->redis.port, tv);

	ck_assert_msg(c && !c->err, "cannot connect to redis-server on port %d", e->redis.port);
	redisSetTimeout(c, tv);
	return c;
}

/* A command that must not fail; the caller frees the reply. */
static redisReply *rcmd(redisContext *c, const char *fmt, ...)
{
	redisReply *r;
	va_list ap;

	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	ck_assert_msg(r && r->type != REDIS_REPLY_ERROR, "redis %s: %s", fmt,
		      r ? r->str : c->errstr);
	return r;
}

/* A command whose reply must be an integer (ZCOUNT, ZCARD). */
static long long rint_cmd(redisContext *c, const char *fmt, ...)
{
	redisReply *r;
	long long v;
	va_list ap;

	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	ck_assert_msg(r && r->type == REDIS_REPLY_INTEGER, "redis %s: no integer", fmt);
	v = r->integer;
	freeReplyObject(r);
	return v;
}

/* Reps due at or before at_ms in the schedules of all partitions. */
static long long due_count(redisContext *c, int partitions, int64_t at_ms)
{
	long long n = 0;

	for (int p = 0; p < partitions; p++)
		n += rint_cmd(c, "ZCOUNT ssi:dz:%d -inf %lld", p, (long long)at_ms);
	return n;
}

/*
 * Where user id is scheduled: the one partition whose set holds it (-1 when
 * none; two is a failure), and its due time (SSID_DUE_NEVER for +inf).
 */
static int scheduled(redisContext *c, int partitions, const char *id, int64_t *due)
{
	int where = -1;

	for (int p = 0; p < partitions; p++) {
		redisReply *r = rcmd(c, "ZSCORE ssi:dz:%d %s", p, id);

		if (r->type == REDIS_REPLY_STRING) {
			ck_assert_msg(where < 0, "%s is in the schedules of partitions %d and %d",
				      id, where, p);
			where = p;
			*due = strcmp(r->str, "inf") == 0 ? SSID_DUE_NEVER : atoll(r->str);
		}
		freeReplyObject(r);
	}
	return where;
}

/* The partition all of user u's events went to. */
static int32_t user_partition(const struct env *e, int u)
{
	int32_t p = -1;

	for (size_t i = 0; i < e->stream.n; i++)
		if (e->stream.ev[i].user == u && !e->stream.ev[i].expect_code[0]) {
			ck_assert(p < 0 || p == e->stream.ev[i].partition);
			p = e->stream.ev[i].partition;
		}
	ck_assert_int_ge(p, 0);
	return p;
}

/*
 * Every rep with a state is in exactly one schedule, its events' partition,
 * due when the engine says its score next changes after at_ms.
 */
static void check_schedule(const struct env *e, int64_t at_ms)
{
	redisContext *c = redis_open(e);
	long long total = 0;

	for (int u = 0; u < e->stream.nusers; u++) {
		struct ssi_state st;
		char id[64];
		int64_t due = 0, want;

		fx_user_id(&e->stream, u, id, sizeof(id));
		ck_assert_int_eq(scheduled(c, e->kafka.partitions, id, &due), user_partition(e, u));
		ref_state(e, u, &st);
		want = ssi_score_next_change(&st, &e->model, at_ms);
		ssi_state_clear(&st);
		ck_assert_msg(due == want, "%s is due at %lld, the engine says %lld", id,
			      (long long)due, (long long)want);
	}
	for (int p = 0; p < e->kafka.partitions; p++)
		total += rint_cmd(c, "ZCARD ssi:dz:%d", p);
	ck_assert_int_eq(total, e->stream.nusers);
	redisFree(c);
}

/* ---- outputs ----------------------------------------------------------------- */

/* One message of the output topic, parsed. */
struct out {
	json_t *j;
	const char *type;
	int user; /* index in the stream, -1 when it names no user of the stream */
};

struct outs {
	struct out *o;
	size_t n;
};

/* Which rep of the stream id names, -1 for none. */
static int user_index(const struct env *e, const char *id)
{
	char want[64];

	for (int u = 0; id && u < e->stream.nusers; u++)
		if (strcmp(fx_user_id(&e->stream, u, want, sizeof(want)), id) == 0)
			return u;
	return -1;
}

/*
 * The whole output topic. A user's messages are keyed by the user and so
 * in one partition, in the order they were produced.
 */
static void outs_read(const struct env *e, struct outs *os)
{
	struct fx_msgs msgs;

	ck_assert_int_eq(fx_kafka_read_topic((struct fx_kafka *)&e->kafka, e->kafka.output, &msgs),
			 0);
	os->n = msgs.n;
	os->o = calloc(msgs.n + 1, sizeof(*os->o));
	ck_assert_ptr_nonnull(os->o);
	for (size_t i = 0; i < msgs.n; i++) {
		struct out *o = &os->o[i];
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

/* Release what outs_read parsed. */
static void outs_free(struct outs *os)
{
	for (size_t i = 0; i < os->n; i++)
		json_decref(os->o[i].j);
	free(os->o);
	memset(os, 0, sizeof(*os));
}

/* Whether o is a message of type ("score.updated", "alert"...). */
static bool is_type(const struct out *o, const char *type)
{
	return strcmp(o->type, type) == 0;
}

/* How many messages of type the topic holds. */
static size_t count_type(const struct outs *os, const char *type)
{
	size_t n = 0;

	for (size_t i = 0; i < os->n; i++)
		n += is_type(&os->o[i], type);
	return n;
}

/* A JSON number of points in centipoints, how the engine counts. */
static int cp(const json_t *v)
{
	ck_assert_msg(json_is_number(v), "not a number");
	return (int)lround(json_number_value(v) * 100.0);
}

/* A string member that must be there. */
static const char *str_of(const json_t *j, const char *key)
{
	const char *s = json_string_value(json_object_get(j, key));

	ck_assert_msg(s, "no string \"%s\"", key);
	return s;
}

/* A pillars object and its total into s. */
static void pillars_of(const json_t *obj, struct ssi_score *s)
{
	ck_assert_msg(json_is_object(obj), "pillars are not an object");
	s->total = 0;
	for (int p = 0; p < SSI_PILLAR__COUNT; p++) {
		s->pillar[p] = cp(json_object_get(obj, ssi_pillar_name((enum ssi_pillar)p)));
		s->total += s->pillar[p];
	}
}

/* The score a message carries: its pillars, whose sum must be its ssi. */
static void score_of(const json_t *j, struct ssi_score *s)
{
	pillars_of(json_object_get(j, "pillars"), s);
	ck_assert_int_eq(cp(json_object_get(j, "ssi")), s->total);
}

/* The scoring clock a message was made at. */
static int64_t as_of(const json_t *j)
{
	const char *s = str_of(j, "as_of");
	int64_t ms;

	ck_assert_int_eq(ssi_time_parse(s, strlen(s), &ms), 0);
	return ms;
}

/* Same total and pillars: scores are exact integers, never compared with a tolerance. */
static bool score_eq(const struct ssi_score *a, const struct ssi_score *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

/* The last score.updated of user u, or NULL. */
static const json_t *last_score(const struct outs *os, int u)
{
	const json_t *j = NULL;

	for (size_t i = 0; i < os->n; i++)
		if (os->o[i].user == u && is_type(&os->o[i], "score.updated"))
			j = os->o[i].j;
	return j;
}

/* ---- ranks ----------------------------------------------------------------- */

/* Competition rank of u among members[0..n) by total: 1 + how many are strictly higher. */
static int rank_among(const struct ssi_score *s, const int *members, int n, int u)
{
	int higher = 0;

	for (int i = 0; i < n; i++)
		higher += s[members[i]].total > s[u].total;
	return higher + 1;
}

/* ceil(100 * rank / of): the ranking rule of ssid_rank.h. */
static int top_percent(int rank, int of)
{
	return (100 * rank + of - 1) / of;
}

/* The tightest of the default bands 1 5 10 15 25 50 holding top, 0 for none. */
static int band_of(int top)
{
	static const int bands[] = {1, 5, 10, 15, 25, 50};

	for (size_t i = 0; i < sizeof(bands) / sizeof(bands[0]); i++)
		if (top <= bands[i])
			return bands[i];
	return 0;
}

/*
 * The position object of rep u in a segment of members[0..n): hidden under
 * the floor of 10, else its rank, size, percentile and the averages of the
 * members' totals and pillars (rounded to hundredths).
 */
static void check_pos(const json_t *pos, const char *what, const struct ssi_score *s,
		      const int *members, int n, int u)
{
	long long sum[1 + SSI_PILLAR__COUNT] = {0};
	const json_t *avg;
	int rank;

	ck_assert_msg(json_is_object(pos), "rep %d: no ranks.%s", u, what);
	if (n < 10) {
		ck_assert_msg(
		    json_object_size(pos) == 1 && json_is_true(json_object_get(pos, "hidden")),
		    "rep %d: ranks.%s of %d members is not {\"hidden\":true}", u, what, n);
		return;
	}
	ck_assert_msg(!json_object_get(pos, "hidden"), "rep %d: ranks.%s hidden", u, what);
	for (int i = 0; i < n; i++) {
		sum[0] += s[members[i]].total;
		for (int p = 0; p < SSI_PILLAR__COUNT; p++)
			sum[1 + p] += s[members[i]].pillar[p];
	}
	rank = rank_among(s, members, n, u);
	ck_assert_msg(json_integer_value(json_object_get(pos, "rank")) == rank,
		      "rep %d: ranks.%s.rank is %lld, expected %d", u, what,
		      (long long)json_integer_value(json_object_get(pos, "rank")), rank);
	ck_assert_int_eq(json_integer_value(json_object_get(pos, "of")), n);
	ck_assert_int_eq(json_integer_value(json_object_get(pos, "top_percent")),
			 top_percent(rank, n));
	ck_assert_msg(cp(json_object_get(pos, "average")) == lround((double)sum[0] / n),
		      "rep %d: ranks.%s.average %d, expected %ld", u, what,
		      cp(json_object_get(pos, "average")), lround((double)sum[0] / n));
	avg = json_object_get(pos, "average_pillars");
	ck_assert_msg(json_is_object(avg), "rep %d: ranks.%s has no average_pillars", u, what);
	for (int p = 0; p < SSI_PILLAR__COUNT; p++)
		ck_assert_int_eq(cp(json_object_get(avg, ssi_pillar_name((enum ssi_pillar)p))),
				 lround((double)sum[1 + p] / n));
}

/*
 * The rank tests' population: reps 0..9 are team alpha, 10..12 team beta,
 * all of tenant acme and industry software.
 */
#define RANK_REPS  13
#define ALPHA_REPS 10

/* Segments of the rank tests' reps (see RANK_REPS). */
static void rank_population(struct env *e)
{
	for (int u = 0; u < RANK_REPS; u++)
		e->seg[u] = (struct seg){"acme", u < ALPHA_REPS ? "alpha" : "beta", "software"};
}

/* The members of each segment kind of rep u in the rank population. */
static int segment_members(int kind, int u, int *members)
{
	int n = 0;

	for (int v = 0; v < RANK_REPS; v++)
		if (kind != SSID_RANK_TEAM || (v < ALPHA_REPS) == (u < ALPHA_REPS))
			members[n++] = v;
	return n;
}

/*
 * Every rep's last score.updated says where it stands in each segment, as
 * computed from the engine's scores of everyone: competition rank, size,
 * percentile, averages; the 3-rep team is hidden by the privacy floor.
 */
START_TEST (test_ranks_in_scores) {
	static const char *const kinds[SSID_RANK__COUNT] = {"global", "industry", "tenant", "team"};
	struct ssi_score mid[RANK_REPS], fin[RANK_REPS];
	struct outs os;
	struct env e;
	char attrs[256];
	size_t first;

	env_open(&e, "ranks", RANK_REPS, false);
	rank_population(&e);
	env_start(&e, &(struct run){.batch = RANK_REPS, .waves = true});

	/* Two batches of profiles and activity, then one batch touching everyone. */
	for (int u = 0; u < RANK_REPS; u++) {
		add_ev(&e, u, SSI_EV_PROFILE_UPDATED, FX_NOW_MS - 30 * DAY,
		       profile(attrs, sizeof(attrs), (unsigned)(u * 7) % 32, u, u % 4));
		add_ev(&e, u, plain_types[u % NPLAIN], FX_NOW_MS - (u + 1) * DAY, "");
	}
	produce_wave(&e, 0);
	first = e.stream.n;
	for (int u = 0; u < RANK_REPS; u++)
		add_ev(&e, u, SSI_EV_ARTICLE_PUBLISHED, FX_NOW_MS - 2 * T_HOUR, "");
	for (int u = 0; u < RANK_REPS; u++) {
		ref_score(&e, u, first, &e.model, FX_NOW_MS, &mid[u]);
		ref_score(&e, u, e.stream.n, &e.model, FX_NOW_MS, &fin[u]);
		ck_assert_msg(!score_eq(&mid[u], &fin[u]), "the last wave must move rep %d", u);
	}
	produce_wave(&e, first);
	ck_assert_int_eq(fx_daemon_stop(&e.daemon), 0);
	fx_check_states(&e.redis, &e.stream, &e.model);
	fx_check_outputs(&e.kafka, &e.stream, &e.model, true);

	/* Every rep's last score.updated says where it stands after the last batch. */
	outs_read(&e, &os);
	for (int u = 0; u < RANK_REPS; u++) {
		const json_t *j = last_score(&os, u), *ranks;

		ck_assert_ptr_nonnull(j);
		ranks = json_object_get(j, "ranks");
		ck_assert_msg(json_is_object(ranks), "rep %d: score.updated without ranks", u);
		for (int k = 0; k < SSID_RANK__COUNT; k++) {
			int members[RANK_REPS], n = segment_members(k, u, members);

			check_pos(json_object_get(ranks, kinds[k]), kinds[k], fin, members, n, u);
		}
	}
	outs_free(&os);
	env_close(&e);
}
END_TEST

/* The segment kind named in a message. */
static int kind_of(const char *name)
{
	for (int k = 0; k < SSID_RANK__COUNT; k++)
		if (strcmp(ssid_rank_kind_name((enum ssid_rank_kind)k), name) == 0)
			return k;
	ck_abort_msg("unknown segment kind %s", name);
	return 0;
}

/* The expected position of u in each segment kind, by the totals in s. */
static void positions(const struct ssi_score *s, int u, int top[SSID_RANK__COUNT],
		      int rank[SSID_RANK__COUNT], int of[SSID_RANK__COUNT])
{
	for (int k = 0; k < SSID_RANK__COUNT; k++) {
		int members[RANK_REPS], n = segment_members(k, u, members);

		of[k] = n;
		rank[k] = rank_among(s, members, n, u);
		top[k] = n < 10 ? 0 : top_percent(rank[k], n);
	}
}

/*
 * A rep jumping from last to first crosses bands in all four segments and
 * gets one rank.changed each; a rep that moves within its bands, none.
 */
START_TEST (test_rank_changed) {
	static const char *const kinds[SSID_RANK__COUNT] = {"global", "industry", "tenant", "team"};
	static const char *const values[SSID_RANK__COUNT] = {NULL, "software", "acme",
							     "acme/alpha"};
	const int x = 9; /* the rep pushed from the bottom to the top */
	struct ssi_score before[RANK_REPS], after[RANK_REPS];
	int seen[SSID_RANK__COUNT] = {0};
	struct outs os;
	struct env e;
	char attrs[256];
	size_t first, nchanged = 0;
	int y = -1; /* a rep that moves too but stays in its bands */

	env_open(&e, "bands", RANK_REPS, false);
	rank_population(&e);
	env_start(&e, &(struct run){.batch = RANK_REPS, .waves = true});

	/* One batch of profiles: x has none of it, the others more and more. */
	for (int u = 0; u < RANK_REPS; u++)
		add_ev(&e, u, SSI_EV_PROFILE_UPDATED, FX_NOW_MS - 30 * DAY,
		       u == x ? profile(attrs, sizeof(attrs), 0, 0, 0)
			      : profile(attrs, sizeof(attrs), PF_PHOTO | (unsigned)(u % 8) * 2, u,
					u % 4));
	produce_wave(&e, 0);
	first = e.stream.n;
	for (int u = 0; u < RANK_REPS; u++)
		ref_score(&e, u, first, &e.model, FX_NOW_MS, &before[u]);

	/* The second batch: x gets a full profile and 11 articles; y one session. */
	add_ev(&e, x, SSI_EV_PROFILE_UPDATED, FX_NOW_MS - 3 * T_HOUR,
	       profile(attrs, sizeof(attrs), PF_ALL, 10, 3));
	add_articles(&e, x, 11, 1);
	for (int u = 0; u < ALPHA_REPS && y < 0; u++) {
		int tb[SSID_RANK__COUNT], ta[SSID_RANK__COUNT], r[SSID_RANK__COUNT],
		    of[SSID_RANK__COUNT];
		bool same = true;

		if (u == x)
			continue;
		memcpy(after, before, sizeof(after));
		after[x].total = 10000; /* x ends on top */
		after[u].total += 1;	/* a session adds a little */
		positions(before, u, tb, r, of);
		positions(after, u, ta, r, of);
		for (int k = 0; k < SSID_RANK__COUNT; k++)
			same &= band_of(tb[k]) == band_of(ta[k]) && tb[k] != ta[k];
		if (same)
			y = u;
	}
	ck_assert_msg(y >= 0, "no rep of alpha would move without crossing a band");
	add_ev(&e, y, SSI_EV_SESSION_STARTED, FX_NOW_MS - T_HOUR, "");
	for (int u = 0; u < RANK_REPS; u++)
		ref_score(&e, u, e.stream.n, &e.model, FX_NOW_MS, &after[u]);
	ck_assert(!score_eq(&before[y], &after[y]));
	for (int k = 0; k < SSID_RANK__COUNT; k++) {
		int tb[SSID_RANK__COUNT], ta[SSID_RANK__COUNT], r[SSID_RANK__COUNT],
		    of[SSID_RANK__COUNT];

		positions(before, y, tb, r, of);
		positions(after, y, ta, r, of);
		ck_assert_msg(band_of(tb[k]) == band_of(ta[k]) && tb[k] != ta[k],
			      "rep %d should move within its band in %s: %d%% -> %d%%", y, kinds[k],
			      tb[k], ta[k]);
	}
	produce_wave(&e, first);
	ck_assert_int_eq(fx_daemon_stop(&e.daemon), 0);
	fx_check_outputs(&e.kafka, &e.stream, &e.model, true);

	outs_read(&e, &os);
	for (size_t i = 0; i < os.n; i++) {
		const json_t *j = os.o[i].j;
		int u = os.o[i].user, tb[SSID_RANK__COUNT], ta[SSID_RANK__COUNT],
		    r[SSID_RANK__COUNT], of[SSID_RANK__COUNT], k;
		const char *seg;

		if (!is_type(&os.o[i], "rank.changed"))
			continue;
		nchanged++;
		ck_assert_msg(u >= 0, "rank.changed for a stranger");
		seg = str_of(j, "segment");
		k = kind_of(seg);
		positions(before, u, tb, r, of);
		positions(after, u, ta, r, of);
		/* Only a rep whose band really changed, once per segment. */
		ck_assert_msg(u != y && band_of(tb[k]) != band_of(ta[k]),
			      "rep %d got a rank.changed in %s without crossing a band (%d%% -> "
			      "%d%%)",
			      u, seg, tb[k], ta[k]);
		ck_assert_msg(u == x, "rep %d did not publish, yet got a rank.changed", u);
		ck_assert_int_eq(seen[k]++, 0);
		ck_assert_str_eq(str_of(j, "direction"), "up");
		ck_assert_int_eq(json_integer_value(json_object_get(j, "band")), band_of(ta[k]));
		ck_assert_int_eq(json_integer_value(json_object_get(j, "top_percent")), ta[k]);
		ck_assert_int_eq(json_integer_value(json_object_get(j, "from_top_percent")), tb[k]);
		ck_assert_int_eq(json_integer_value(json_object_get(j, "rank")), r[k]);
		ck_assert_int_eq(json_integer_value(json_object_get(j, "of")), of[k]);
		ck_assert_str_eq(str_of(j, "cause"), "event");
		if (values[k])
			ck_assert_str_eq(str_of(j, "segment_value"), values[k]);
		else
			ck_assert_ptr_null(json_object_get(j, "segment_value"));
	}
	/* x went from last to first in all four segments (its team has 10 members). */
	for (int k = 0; k < SSID_RANK__COUNT; k++) {
		int tb[SSID_RANK__COUNT], ta[SSID_RANK__COUNT], r[SSID_RANK__COUNT],
		    of[SSID_RANK__COUNT];

		positions(before, x, tb, r, of);
		ck_assert_int_eq(tb[k], 100);
		positions(after, x, ta, r, of);
		ck_assert_int_eq(r[k], 1);
		ck_assert_msg(seen[k] == 1, "x got no rank.changed in %s", kinds[k]);
	}
	ck_assert_uint_eq(nchanged, SSID_RANK__COUNT);
	outs_free(&os);
	env_close(&e);
}
END_TEST

/* ---- leaderboards ---------------------------------------------------------- */

#define TOP_N 3

/* The expected top TOP_N of members[0..n): best total first, equal totals by descending id. */
static void expected_top(const struct env *e, const struct ssi_score *s, const int *members, int n,
			 int top[TOP_N])
{
	int order[RANK_REPS];

	memcpy(order, members, (size_t)n * sizeof(*order));
	for (int i = 1; i < n; i++)
		for (int k = i; k > 0; k--) {
			int a = order[k - 1], b = order[k];
			char ia[64], ib[64];
			bool swap = s[b].total > s[a].total ||
				    (s[b].total == s[a].total &&
				     strcmp(fx_user_id(&e->stream, b, ib, sizeof(ib)),
					    fx_user_id(&e->stream, a, ia, sizeof(ia))) > 0);

			if (!swap)
				break;
			order[k - 1] = b;
			order[k] = a;
		}
	memcpy(top, order, TOP_N * sizeof(*top));
}

/* A leaderboard.changed lists exactly top[] with the members' ranks and totals. */
static void check_board(const struct env *e, const json_t *j, const char *segment,
			const struct ssi_score *s, const int *members, int n, const int top[TOP_N],
			bool members_changed)
{
	const json_t *list = json_object_get(j, "top");
	char id[64];

	ck_assert_str_eq(str_of(j, "segment"), segment);
	ck_assert_str_eq(str_of(j, "tenant"), "acme");
	if (strcmp(segment, "team") == 0)
		ck_assert_str_eq(str_of(j, "team"), "alpha");
	else
		ck_assert_ptr_null(json_object_get(j, "team"));
	ck_assert_int_eq(json_integer_value(json_object_get(j, "of")), n);
	ck_assert(json_is_true(json_object_get(j, "order_changed")));
	ck_assert_int_eq(json_is_true(json_object_get(j, "members_changed")), members_changed);
	ck_assert_msg(json_array_size(list) == TOP_N, "a %s board of %zu entries", segment,
		      json_array_size(list));
	for (size_t i = 0; i < TOP_N; i++) {
		const json_t *ent = json_array_get(list, i);

		ck_assert_msg(strcmp(str_of(ent, "user_id"),
				     fx_user_id(&e->stream, top[i], id, sizeof(id))) == 0,
			      "%s board entry %zu is %s, expected %s", segment, i,
			      str_of(ent, "user_id"), id);
		ck_assert_int_eq(cp(json_object_get(ent, "ssi")), s[top[i]].total);
		ck_assert_int_eq(json_integer_value(json_object_get(ent, "rank")),
				 rank_among(s, members, n, top[i]));
	}
}

/* The leaderboard.changed messages of one segment kind, in order. */
static size_t boards_of(const struct outs *os, const char *segment, const json_t **out, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < os->n; i++)
		if (is_type(&os->o[i], "leaderboard.changed") &&
		    strcmp(str_of(os->o[i].j, "segment"), segment) == 0) {
			ck_assert_uint_lt(n, cap);
			out[n++] = os->o[i].j;
		}
	return n;
}

/* The totals after stream[0, upto) and the top of the team and the tenant. */
static void boards_at(const struct env *e, size_t upto, struct ssi_score s[RANK_REPS],
		      int team_top[TOP_N], int tenant_top[TOP_N])
{
	int team[RANK_REPS], tenant[RANK_REPS], nteam, ntenant;

	for (int u = 0; u < RANK_REPS; u++)
		ref_score(e, u, upto, &e->model, FX_NOW_MS, &s[u]);
	nteam = segment_members(SSID_RANK_TEAM, 0, team);
	ntenant = segment_members(SSID_RANK_TENANT, 0, tenant);
	expected_top(e, s, team, nteam, team_top);
	expected_top(e, s, tenant, ntenant, tenant_top);
}

/* Same members in the same order. */
static bool same_top(const int a[TOP_N], const int b[TOP_N])
{
	return memcmp(a, b, TOP_N * sizeof(*a)) == 0;
}

/*
 * leaderboard.changed carries the exact new top 3 when its order changes,
 * nothing when only scores move, and with a long interval two reorderings
 * make one message, with the latest list, once the interval is over.
 */
START_TEST (test_leaderboards) {
	static const char *const boards = "rank.top_n = 3\nrank.board_interval_ms = 0\n";
	static const char *const slow = "rank.top_n = 3\nrank.board_interval_ms = 600000\n";
	static const char *const fast = "rank.top_n = 3\nrank.board_interval_ms = 0\n";
	struct ssi_score s[5][RANK_REPS];
	int team_top[5][TOP_N], tenant_top[5][TOP_N], team[RANK_REPS], tenant[RANK_REPS];
	size_t ends[5];
	const json_t *got[8];
	struct ssid_daemon_stats st;
	struct outs os;
	struct env e;
	char attrs[256];
	int nteam, ntenant;

	env_open(&e, "boards", RANK_REPS, false);
	rank_population(&e);
	nteam = segment_members(SSID_RANK_TEAM, 0, team);
	ntenant = segment_members(SSID_RANK_TENANT, 0, tenant);
	env_start(&e, &(struct run){.extra = boards, .batch = RANK_REPS, .waves = true});

	/* Wave 0: profiles, better and better with the rep's number in alpha; beta has none. */
	for (int u = 0; u < RANK_REPS; u++)
		add_ev(&e, u, SSI_EV_PROFILE_UPDATED, FX_NOW_MS - 30 * DAY,
		       u < ALPHA_REPS ? profile(attrs, sizeof(attrs), PF_PHOTO | PF_HEADLINE, u, 0)
				      : profile(attrs, sizeof(attrs), 0, 0, 0));
	ends[0] = e.stream.n;
	/* Wave 1: the third (7) overtakes both. Wave 2: it pulls further ahead, nobody moves. */
	add_articles(&e, 7, RANK_REPS, 1);
	ends[1] = e.stream.n;
	add_articles(&e, 7, RANK_REPS, 20);
	ends[2] = e.stream.n;
	/* Waves 3 and 4, with a long interval: 8 overtakes 9, then 9 everyone. */
	add_articles(&e, 8, RANK_REPS, 1);
	ends[3] = e.stream.n;
	add_ev(&e, 9, SSI_EV_PROFILE_UPDATED, FX_NOW_MS - 3 * T_HOUR,
	       profile(attrs, sizeof(attrs), PF_ALL, 10, 3));
	add_articles(&e, 9, RANK_REPS - 1, 1);
	ends[4] = e.stream.n;
	for (int w = 0; w < 5; w++) {
		boards_at(&e, ends[w], s[w], team_top[w], tenant_top[w]);
		ck_assert_msg(same_top(team_top[w], tenant_top[w]),
			      "wave %d: the tenant's top should be the team's", w);
	}
	ck_assert_msg(!same_top(team_top[0], team_top[1]), "wave 1 must reorder the top");
	ck_assert_msg(same_top(team_top[1], team_top[2]), "wave 2 must keep the order");
	ck_assert_msg(s[1][team_top[1][0]].total != s[2][team_top[1][0]].total,
		      "wave 2 must change a score in the top");
	ck_assert_msg(!same_top(team_top[2], team_top[3]) && !same_top(team_top[3], team_top[4]),
		      "waves 3 and 4 must both reorder the top");
	ck_assert_msg(!same_top(team_top[2], team_top[4]), "wave 4 must differ from wave 2");

	produce_range(&e, 0, ends[0]);
	wait_stat(&e.daemon, STAT(boards), 2, "leaderboard.changed of wave 0");
	produce_range(&e, ends[0], ends[1]);
	wait_stat(&e.daemon, STAT(boards), 4, "leaderboard.changed of wave 1");
	produce_range(&e, ends[1], ends[2]);
	fx_daemon_stats(&e.daemon, &st);
	ck_assert_uint_eq(st.boards, 4);

	/* At most one per board per 10 minutes: both reorderings wait... */
	reload_with(&e, slow, 1);
	produce_range(&e, ends[2], ends[3]);
	produce_range(&e, ends[3], ends[4]);
	fx_daemon_stats(&e.daemon, &st);
	ck_assert_uint_eq(st.boards, 4);
	/* ...until the interval ends (here: is shortened), and then only the latest list goes. */
	reload_with(&e, fast, 2);
	wait_stat(&e.daemon, STAT(boards), 6, "the coalesced leaderboard.changed");
	ck_assert_int_eq(fx_daemon_stop(&e.daemon), 0);

	outs_read(&e, &os);
	ck_assert_uint_eq(count_type(&os, "leaderboard.changed"), 6);
	ck_assert_uint_eq(boards_of(&os, "team", got, 8), 3);
	check_board(&e, got[0], "team", s[0], team, nteam, team_top[0], true);
	check_board(&e, got[1], "team", s[1], team, nteam, team_top[1], false);
	check_board(&e, got[2], "team", s[4], team, nteam, team_top[4], false);
	ck_assert_uint_eq(boards_of(&os, "tenant", got, 8), 3);
	check_board(&e, got[0], "tenant", s[0], tenant, ntenant, tenant_top[0], true);
	check_board(&e, got[1], "tenant", s[1], tenant, ntenant, tenant_top[1], false);
	check_board(&e, got[2], "tenant", s[4], tenant, ntenant, tenant_top[4], false);
	outs_free(&os);
	fx_check_states(&e.redis, &e.stream, &e.model);
	env_close(&e);
}
END_TEST

/* ---- decay, alerts, history -------------------------------------------------- */

#define DECAY_REPS 12
#define HOVER	   11 /* the rep whose score hovers at the threshold */

/* Whether v is a windowed variable (its points can age out). */
static bool windowed_var(const char *name)
{
	for (int v = 0; v < SSI_V__COUNT; v++) {
		const struct ssi_var_info *vi = ssi_var_info((enum ssi_variable)v);

		if (strcmp(vi->name, name) == 0)
			return vi->kind != SSI_KIND_PROFILE && vi->kind != SSI_KIND_CONNECTIONS &&
			       vi->kind != SSI_KIND_INTERNAL;
	}
	ck_abort_msg("unknown variable %s", name);
	return false;
}

/* The alert rule a message names. */
static int rule_of(const char *name)
{
	for (int r = 0; r < SSI_ALERT__COUNT; r++)
		if (strcmp(ssi_alert_rule_name((enum ssi_alert_rule)r), name) == 0)
			return r;
	ck_abort_msg("unknown rule %s", name);
	return -1;
}

/* Per rep: what the oracle follows while walking its messages. */
struct follow {
	bool has_prev;
	struct ssi_score prev;
	struct ssi_history hist;
	struct ssi_alert_state alert;
	unsigned expect; /* rules the oracle fired at the last score.updated */
	unsigned got;	 /* rules seen since */
	struct ssi_alert fired[SSI_ALERT__COUNT];
	int nfired;
	int64_t at;
	int32_t fired_day[SSI_ALERT__COUNT];
	int count[SSI_ALERT__COUNT];
};

/* The alerts after a score.updated are exactly those the oracle fired. */
static void follow_close(const struct follow *f, int u)
{
	ck_assert_msg(f->got == f->expect,
		      "rep %d at %lld: alerts 0x%x fired, the rules say 0x%x (score_drop 1, "
		      "below_threshold 2, pillar_drop 8)",
		      u, (long long)f->at, f->got, f->expect);
}

/*
 * Walk all messages of rep u in order. Each score.updated is run through
 * the alert rules (ssi_alert_evaluate with the previous published score
 * and the 7-day maximum of the history kept alongside, as the daemon must)
 * and the alerts that follow it must be those that fire (left_top_percent,
 * which needs the industry's ranks, only by its own properties). Every
 * alert is checked on its own too: at most one per rule and day, values
 * consistent with the rule, causes that can age out, actions to take.
 */
static void check_alerts(const struct outs *os, int u, const struct ssi_alert_rules *rules,
			 const struct ssi_model *m, int retention, struct ssi_history *hist_out,
			 int *drops_by_decay)
{
	struct ssi_alert_rules oracle = *rules;
	struct follow f;

	memset(&f, 0, sizeof(f));
	ssi_history_init(&f.hist);
	ck_assert_int_eq(ssi_history_set_retention(&f.hist, retention), 0);
	ssi_alert_state_init(&f.alert);
	for (int r = 0; r < SSI_ALERT__COUNT; r++)
		f.fired_day[r] = -1;
	oracle.enabled[SSI_ALERT_LEFT_TOP_PERCENT] = false;
	for (size_t i = 0; i < os->n; i++) {
		const json_t *j = os->o[i].j;

		if (os->o[i].user != u)
			continue;
		if (is_type(&os->o[i], "score.updated")) {
			struct ssi_score sc;
			struct ssi_alert_input in;
			int32_t today;
			int n, max;

			follow_close(&f, u);
			score_of(j, &sc);
			f.at = as_of(j);
			today = ssi_time_day(f.at);
			max = f.hist.n > 0
				  ? ssi_history_max_since(&f.hist, today - rules->drop_days + 1)
				  : -1;
			in = (struct ssi_alert_input){
			    .now_ms = f.at,
			    .cause =
				strcmp(str_of(j, "cause"), "decay") == 0   ? SSI_ALERT_CAUSE_DECAY
				: strcmp(str_of(j, "cause"), "model") == 0 ? SSI_ALERT_CAUSE_MODEL
									   : SSI_ALERT_CAUSE_EVENT,
			    .has_old = f.has_prev,
			    .old_score = f.prev,
			    .new_score = sc,
			    .max_total = max >= 0 ? max : -1,
			    .window_days = m->window_days,
			};
			n = ssi_alert_evaluate(&f.alert, &oracle, &in, f.fired, SSI_ALERT__COUNT);
			ck_assert_int_ge(n, 0);
			f.nfired = n;
			f.expect = f.got = 0;
			for (int k = 0; k < n; k++)
				f.expect |= 1u << f.fired[k].rule;
			ck_assert_int_ge(ssi_history_record(&f.hist, today, &sc), 0);
			f.prev = sc;
			f.has_prev = true;
		} else if (is_type(&os->o[i], "alert")) {
			int r = rule_of(str_of(j, "rule"));
			int32_t day = ssi_time_day(as_of(j));
			const json_t *causes = json_object_get(j, "causes");
			const json_t *actions = json_object_get(j, "actions");
			const char *cause = str_of(j, "cause");

			ck_assert_msg(f.has_prev, "rep %d: an alert before any score", u);
			ck_assert_int_eq(as_of(j), f.at);
			ck_assert_msg(f.fired_day[r] != day, "rep %d: two %s alerts on day %d", u,
				      str_of(j, "rule"), day);
			f.fired_day[r] = day;
			f.count[r]++;
			ck_assert_str_eq(cause, f.at > FX_NOW_MS ? "decay" : "event");
			ck_assert_int_eq(cp(json_object_get(j, "ssi")), f.prev.total);
			ck_assert_msg(json_array_size(actions) > 0, "rep %d: %s without actions", u,
				      str_of(j, "rule"));
			if (r != SSI_ALERT_LEFT_TOP_PERCENT) {
				const struct ssi_alert *a = NULL;

				for (int k = 0; k < f.nfired; k++)
					if ((int)f.fired[k].rule == r)
						a = &f.fired[k];
				ck_assert_msg(a,
					      "rep %d at %lld: %s fired, the rules say it does not",
					      u, (long long)f.at, str_of(j, "rule"));
				ck_assert_int_eq(cp(json_object_get(j, "value")), a->new_value);
				ck_assert_int_eq(cp(json_object_get(j, "reference")), a->reference);
				ck_assert_int_eq(cp(json_object_get(j, "threshold")), a->threshold);
			}
			if (r == SSI_ALERT_SCORE_DROP) {
				ck_assert_int_le(cp(json_object_get(j, "value")),
						 cp(json_object_get(j, "reference")) -
						     rules->drop_cp);
				if (strcmp(cause, "decay") == 0)
					(*drops_by_decay)++;
			}
			if (strcmp(cause, "decay") == 0 && r == SSI_ALERT_SCORE_DROP) {
				ck_assert_msg(
				    json_array_size(causes) > 0,
				    "rep %d: a score_drop by decay names no variable that "
				    "aged out: %s",
				    u, json_dumps(j, JSON_COMPACT));
				for (size_t k = 0; k < json_array_size(causes); k++)
					ck_assert_msg(
					    windowed_var(
						str_of(json_array_get(causes, k), "variable")),
					    "rep %d: %s cannot age out", u,
					    str_of(json_array_get(causes, k), "variable"));
			}
			if (r != SSI_ALERT_LEFT_TOP_PERCENT)
				f.got |= 1u << r;
		}
	}
	follow_close(&f, u);
	*hist_out = f.hist;
}

/* The history the daemon stored for user id (field h). */
static void stored_history(const struct env *e, const char *id, struct ssi_history *h)
{
	redisContext *c = redis_open(e);
	redisReply *r = rcmd(c, "HGET ssi:u:{%s} h", id);

	ck_assert_msg(r->type == REDIS_REPLY_STRING, "%s: no history", id);
	ssi_history_init(h);
	ck_assert_int_eq(ssi_history_decode(h, (const uint8_t *)r->str, r->len), 0);
	freeReplyObject(r);
	redisFree(c);
}

/*
 * One clock step: count the reps the schedule says are due, move the clock,
 * and wait until the daemons have rescored exactly those and none is left
 * due. Returns how many there were.
 */
static long long step_clock(const struct env *e, const struct fx_daemon *const *d, int nd,
			    int64_t at_ms)
{
	redisContext *c = redis_open(e);
	long long due = due_count(c, e->kafka.partitions, at_ms);
	uint64_t before = 0, now;
	int64_t deadline = fx_deadline(FX_WAIT_MS);

	for (int i = 0; i < nd; i++) {
		struct ssid_daemon_stats st;

		fx_daemon_stats(d[i], &st);
		before += st.decayed;
	}
	clock_set(e, at_ms);
	for (;;) {
		now = 0;
		for (int i = 0; i < nd; i++) {
			struct ssid_daemon_stats st;

			fx_daemon_stats(d[i], &st);
			now += st.decayed;
			ck_assert_msg(!fx_daemon_returned(d[i]), "ssid stopped");
		}
		if (now >= before + (uint64_t)due && due_count(c, e->kafka.partitions, at_ms) == 0)
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
	redisFree(c);
	return due;
}

/*
 * No event for 90 days: the clock moves a day at a time and every rep
 * decays to its profile's score, one decay output per day its score moved,
 * with the alerts the rules fire (at most one per rule and day, none again
 * while a score hovers at the threshold) and a 30-day history.
 */
START_TEST (test_decay_alerts_history) {
	struct t_rng rng = {.s = 0xDECA7};
	const struct fx_daemon *daemons[1];
	struct ssi_score s0[DECAY_REPS], on, off;
	struct ssi_alert_rules rules;
	int64_t steps[32], final_ms;
	int nsteps = 0, threshold, crossers = 0, drops_by_decay = 0, below_total = 0,
	    hover_below = 0;
	struct outs os;
	struct env e;
	char attrs[256], extra[256];
	size_t first;

	env_open(&e, "decay", DECAY_REPS, false);
	for (int u = 0; u < DECAY_REPS; u++)
		e.seg[u] = (struct seg){"acme", "alpha", "software"};

	/* A profile (never ages), activity over three weeks, a session today. */
	for (int u = 0; u < DECAY_REPS; u++) {
		int n = 8 + (int)t_below(&rng, 18);

		add_ev(&e, u, SSI_EV_PROFILE_UPDATED, FX_NOW_MS - 25 * DAY,
		       profile(attrs, sizeof(attrs), PF_ALL, 10, 3));
		for (int i = 0; i < n; i++)
			add_ev(&e, u, plain_types[t_below(&rng, NPLAIN)],
			       FX_NOW_MS - (int64_t)(1 + t_below(&rng, 20)) * DAY -
				   (int64_t)t_below(&rng, 20) * T_HOUR,
			       "");
		add_articles(&e, u, 1 + (int)t_below(&rng, 6), 2 + (int)t_below(&rng, 15));
		add_ev(&e, u, SSI_EV_SESSION_STARTED, FX_NOW_MS - 2 * T_HOUR, "");
	}
	first = e.stream.n;
	/* Then one rep's photo goes, comes back, goes...: its score hovers at the threshold. */
	for (int i = 0; i < 5; i++)
		add_ev(&e, HOVER, SSI_EV_PROFILE_UPDATED, FX_NOW_MS - (90 - i) * 60000,
		       profile(attrs, sizeof(attrs), i % 2 ? PF_ALL : PF_ALL & ~PF_PHOTO, 10, 3));
	ref_score(&e, HOVER, first, &e.model, FX_NOW_MS, &on);
	ref_score(&e, HOVER, first + 1, &e.model, FX_NOW_MS, &off);
	threshold = off.total + (on.total - off.total) / 2;
	ssi_alert_rules_default(&rules);
	rules.threshold_cp = threshold;
	ck_assert_msg(threshold > off.total && on.total >= threshold &&
			  on.total < threshold + rules.threshold_rearm_cp,
		      "a photo moves rep %d from %d to %d: no hovering", HOVER, off.total,
		      on.total);
	snprintf(extra, sizeof(extra),
		 "history.retention_days = 30\nalert.below_threshold.points = %d.%02d\n",
		 threshold / 100, threshold % 100);

	clock_set(&e, FX_NOW_MS);
	env_start(&e, &(struct run){.extra = extra, .file_clock = true});
	produce_range(&e, 0, first);
	/* Below, above by less than the re-arm margin, below...: one batch each. */
	for (size_t i = first; i < e.stream.n; i++)
		produce_range(&e, i, i + 1);
	check_schedule(&e, FX_NOW_MS);

	/* Nothing ages out for 66 days (the oldest activity is 22 days old); then daily. */
	steps[nsteps++] = FX_NOW_MS + 66 * DAY;
	for (int d = 67; d <= 90; d++)
		steps[nsteps++] = FX_NOW_MS + d * DAY;
	final_ms = steps[nsteps - 1];
	daemons[0] = &e.daemon;
	ck_assert_int_eq(step_clock(&e, daemons, 1, steps[0]), 0);
	for (int i = 1; i < nsteps; i++)
		step_clock(&e, daemons, 1, steps[i]);
	check_schedule(&e, final_ms);
	ck_assert_int_eq(fx_daemon_stop(&e.daemon), 0);

	outs_read(&e, &os);
	for (int u = 0; u < DECAY_REPS; u++) {
		struct ssi_score last = {.total = -1}, want, empty;
		struct ssi_history hist, stored;
		struct fx_record rec;
		struct ssi_state st;
		char id[64];
		size_t step = 0, decays = 0;
		int32_t final_day = ssi_time_day(final_ms);

		fx_user_id(&e.stream, u, id, sizeof(id));
		ref_state(&e, u, &st);
		ssi_score(&st, &e.model, FX_NOW_MS, &s0[u]);
		/* Event outputs at the start, then one decay output per step that moved the score.
		 */
		for (size_t i = 0; i < os.n; i++) {
			const json_t *j = os.o[i].j;
			struct ssi_score sc, prev;

			if (os.o[i].user != u || !is_type(&os.o[i], "score.updated"))
				continue;
			score_of(j, &sc);
			if (strcmp(str_of(j, "cause"), "event") == 0) {
				ck_assert_msg(step == 0, "%s: an event output during the decay",
					      id);
				ck_assert_int_eq(as_of(j), FX_NOW_MS);
				last = sc;
				continue;
			}
			ck_assert_str_eq(str_of(j, "cause"), "decay");
			ck_assert_msg(decays > 0 || score_eq(&last, &s0[u]),
				      "%s: the last event output is %d, the engine says %d", id,
				      last.total, s0[u].total);
			decays++;
			for (; step < (size_t)nsteps; step++) {
				ssi_score(&st, &e.model, steps[step], &want);
				if (!score_eq(&want, &last))
					break;
			}
			ck_assert_msg(step < (size_t)nsteps, "%s: a decay output nothing explains",
				      id);
			ck_assert_msg(as_of(j) == steps[step],
				      "%s: decay output as of %s, the score changed at step %zu",
				      id, str_of(j, "as_of"), step);
			ck_assert_msg(score_eq(&sc, &want), "%s: decay to %d, the engine says %d",
				      id, sc.total, want.total);
			pillars_of(json_object_get(j, "previous_pillars"), &prev);
			ck_assert(score_eq(&prev, &last));
			last = want;
			step++;
		}
		/* No step that moved the score went unpublished. */
		for (; step < (size_t)nsteps; step++) {
			ssi_score(&st, &e.model, steps[step], &want);
			ck_assert_msg(score_eq(&want, &last), "%s: no decay output at step %zu", id,
				      step);
		}
		/* What is left is what never ages: the score of the profile alone. */
		ssi_score(&st, &e.model, final_ms + 400 * DAY, &empty);
		ck_assert_msg(score_eq(&last, &empty), "%s: ends at %d, not at its profile's %d",
			      id, last.total, empty.total);
		ck_assert_int_lt(last.total, s0[u].total);
		ck_assert_int_eq(fx_redis_record(&e.redis, id, &rec), 0);
		ck_assert(rec.has_published && score_eq(&rec.published, &last));
		fx_record_clear(&rec);
		if (u != HOVER && s0[u].total >= threshold && last.total < threshold)
			crossers++;
		ssi_state_clear(&st);

		/* Alerts, and the history the daemon must have kept meanwhile. */
		check_alerts(&os, u, &rules, &e.model, 30, &hist, &drops_by_decay);
		stored_history(&e, id, &stored);
		ck_assert_msg(ssi_history_equal(&stored, &hist),
			      "%s: stored history of %u days, expected %u", id, stored.n, hist.n);
		ck_assert_uint_gt(stored.n, 0);
		ck_assert_int_eq(stored.entries[stored.n - 1].day, final_day);
		ck_assert_msg(stored.entries[0].day >= final_day - 29,
			      "%s: a snapshot of day %d, more than 30 days before day %d", id,
			      stored.entries[0].day, final_day);
		for (uint32_t k = 0; k < stored.n; k++) {
			struct ssi_score sc;

			ref_state(&e, u, &st);
			ssi_score(&st, &e.model,
				  ssi_time_day_start(stored.entries[k].day) + 12 * T_HOUR, &sc);
			ssi_state_clear(&st);
			ck_assert_msg(score_eq(&sc, &stored.entries[k].score),
				      "%s: the snapshot of day %d is not that day's score", id,
				      stored.entries[k].day);
		}
		ssi_history_clear(&hist);
		ssi_history_clear(&stored);
	}
	for (size_t i = 0; i < os.n; i++)
		if (is_type(&os.o[i], "alert") &&
		    strcmp(str_of(os.o[i].j, "rule"), "below_threshold") == 0) {
			below_total++;
			hover_below += os.o[i].user == HOVER;
		}
	/* Three times below, twice back above: one alert, when it first went below. */
	ck_assert_int_eq(hover_below, 1);
	ck_assert_msg(crossers > 0, "no rep decayed through the threshold");
	ck_assert_msg(drops_by_decay > 0, "no score_drop by decay");
	ck_assert_msg(below_total >= crossers + 1, "below_threshold: %d alerts, %d crossings",
		      below_total, crossers + 1);
	outs_free(&os);
	env_close(&e);
}
END_TEST

/* ---- rebalance ---------------------------------------------------------------- */

#define REBALANCE_REPS 40

/*
 * Two consumers of one group each decay their own partitions' reps; when
 * one leaves, the other takes its schedules over: every rep decays exactly
 * once per due instant and stays in its partition's schedule only.
 */
START_TEST (test_rebalance_schedule) {
	const int64_t t1 = FX_NOW_MS + 88 * DAY, t2 = FX_NOW_MS + 90 * DAY;
	const struct fx_daemon *both[2], *alone[1];
	struct fx_daemon a;
	struct ssid_daemon_stats sa, sb;
	struct outs os;
	struct env e;
	char err[1024], log_path[PATH_MAX];
	int log_fd;

	env_open(&e, "rebal", REBALANCE_REPS, false);
	for (int u = 0; u < REBALANCE_REPS; u++) {
		e.seg[u] = (struct seg){"acme", u % 2 ? "alpha" : "beta", "software"};
		for (int d = 2; d >= 0; d -= 2) {
			add_ev(&e, u, SSI_EV_SESSION_STARTED, FX_NOW_MS - d * DAY - 3 * T_HOUR, "");
			add_ev(&e, u, SSI_EV_POST_SHARED, FX_NOW_MS - d * DAY - 2 * T_HOUR, "");
		}
	}
	clock_set(&e, FX_NOW_MS);
	/* Two consumers of one group, started together: the first join gives each two partitions.
	 */
	env_conf(&e, &(struct run){.file_clock = true});
	ck_assert_msg(fx_daemon_start(&a, e.conf, err, sizeof(err)) == 0, "ssid a: %s", err);
	ck_assert_msg(fx_daemon_start(&e.daemon, e.conf, err, sizeof(err)) == 0, "ssid b: %s", err);
	ck_assert_int_eq(fx_produce(&e.kafka, &e.stream, 0, e.stream.n), 0);
	fx_wait_drained(&e.kafka, &e.stream, e.daemon.log_path);
	fx_daemon_stats(&a, &sa);
	fx_daemon_stats(&e.daemon, &sb);
	ck_assert_msg(sa.events > 0 && sb.events > 0,
		      "both consumers should own partitions: %llu and %llu events",
		      (unsigned long long)sa.events, (unsigned long long)sb.events);
	check_schedule(&e, FX_NOW_MS);

	/* The first days leave the window while both run: each decays its own partitions. */
	both[0] = &a;
	both[1] = &e.daemon;
	ck_assert_int_eq(step_clock(&e, both, 2, t1), REBALANCE_REPS);
	fx_daemon_stats(&a, &sa);
	fx_daemon_stats(&e.daemon, &sb);
	ck_assert_msg(sa.decayed > 0 && sb.decayed > 0, "decayed: a %llu, b %llu",
		      (unsigned long long)sa.decayed, (unsigned long long)sb.decayed);
	ck_assert_uint_eq(sa.decayed + sb.decayed, REBALANCE_REPS);
	check_schedule(&e, t1);

	/* a leaves; its partitions and their schedules move to b. */
	fx_daemon_stats(&a, &sa);
	ck_assert_int_eq(fx_daemon_stop(&a), 0);
	snprintf(log_path, sizeof(log_path), "%s", e.daemon.log_path);
	log_fd = open(log_path, O_WRONLY | O_APPEND | O_CLOEXEC);
	ck_assert_int_ge(log_fd, 0);
	ssid_log_set_fd(log_fd); /* a's stop took the shared log away from b */
	alone[0] = &e.daemon;
	ck_assert_int_eq(step_clock(&e, alone, 1, t2), REBALANCE_REPS);
	check_schedule(&e, t2);
	fx_daemon_stats(&e.daemon, &sb);
	ck_assert_uint_eq(sa.decayed + sb.decayed, 2 * REBALANCE_REPS);
	ck_assert_int_eq(fx_daemon_stop(&e.daemon), 0);
	close(log_fd);

	/* Exactly one decay output per rep and step, with the engine's score. */
	outs_read(&e, &os);
	for (int u = 0; u < REBALANCE_REPS; u++) {
		struct ssi_state st;
		struct ssi_score w1, w2, sc;
		int at1 = 0, at2 = 0;

		ref_state(&e, u, &st);
		ssi_score(&st, &e.model, t1, &w1);
		ssi_score(&st, &e.model, t2, &w2);
		ssi_state_clear(&st);
		for (size_t i = 0; i < os.n; i++) {
			const json_t *j = os.o[i].j;

			if (os.o[i].user != u || !is_type(&os.o[i], "score.updated") ||
			    strcmp(str_of(j, "cause"), "event") == 0)
				continue;
			ck_assert_str_eq(str_of(j, "cause"), "decay");
			score_of(j, &sc);
			if (as_of(j) == t1) {
				at1++;
				ck_assert(score_eq(&sc, &w1));
			} else {
				ck_assert_int_eq(as_of(j), t2);
				at2++;
				ck_assert(score_eq(&sc, &w2));
			}
		}
		ck_assert_msg(at1 == 1 && at2 == 1, "rep %d: %d decay outputs at t1, %d at t2", u,
			      at1, at2);
	}
	outs_free(&os);
	env_close(&e);
}
END_TEST

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
	struct outs os;
	struct env e;
	char attrs[256], key[64];
	size_t profiles, downs, first, alerts_before, nbad = 0;

	env_open(&e, "empty", N, false);
	for (int u = 0; u < N; u++)
		e.seg[u] = (struct seg){"acme", u % 2 ? "alpha" : "beta", "software"};
	env_start(&e, &(struct run){.batch = 8});

	/* Full profiles, activity with dead letters in it, then some profiles emptied. */
	for (int u = 0; u < N; u++)
		add_ev(&e, u, SSI_EV_PROFILE_UPDATED, FX_NOW_MS - 40 * DAY,
		       profile(attrs, sizeof(attrs), PF_ALL, 10, 3));
	profiles = e.stream.n;
	produce_wave(&e, 0);
	for (int i = 0; i < 100; i++) {
		add_ev(&e, (int)t_below(&rng, N), plain_types[t_below(&rng, NPLAIN)],
		       FX_NOW_MS - (int64_t)(1 + t_below(&rng, 20)) * DAY, "");
		if (i % 40 == 20) {
			fx_user_id(&e.stream, i % N, key, sizeof(key));
			ck_assert_int_eq(
			    fx_stream_add_raw(&e.stream, key, -1, "not json", 8, "invalid_json"),
			    0);
			nbad++;
		}
	}
	produce_wave(&e, profiles);
	downs = e.stream.n;
	for (int u = 0; u < DOWN; u++)
		add_ev(&e, u, SSI_EV_PROFILE_UPDATED, FX_NOW_MS - 30 * DAY,
		       profile(attrs, sizeof(attrs), 0, 0, 0));
	produce_wave(&e, downs);
	/* A replay could not see both profiles in one batch: more than 8 messages between. */
	for (int u = 0; u < DOWN; u++)
		ck_assert_int_gt(e.stream.ev[downs + (size_t)u].offset - e.stream.ev[u].offset, 8);
	outs_read(&e, &os);
	alerts_before = count_type(&os, "alert");
	ck_assert_msg(alerts_before >= DOWN, "emptied profiles should have fired alerts, %zu did",
		      alerts_before);
	outs_free(&os);

	/* Redis goes away and comes back empty while more events (and dead letters) wait. */
	ck_assert_int_eq(fx_redis_stop(&e.redis), 0);
	first = e.stream.n;
	for (int u = 0; u < N; u++)
		add_ev(&e, u, SSI_EV_POST_SHARED, FX_NOW_MS - T_HOUR, "");
	fx_user_id(&e.stream, 0, key, sizeof(key));
	ck_assert_int_eq(fx_stream_add_raw(&e.stream, key, -1, "[1]", 3, "not_an_object"), 0);
	nbad++;
	ck_assert_int_eq(fx_produce(&e.kafka, &e.stream, first, e.stream.n), 0);
	wait_stat(&e.daemon, STAT(failures), 1, "failed batches while redis is down");
	ck_assert_msg(fx_redis_start(&e.redis, e.redis.dir, false) == 0,
		      "redis-server did not restart (see %s/redis.log)", e.redis.dir);
	fx_wait_drained(&e.kafka, &e.stream, e.daemon.log_path);
	wait_stat(&e.daemon, STAT(rebuilds), 1, "rebuilds");
	fx_daemon_stats(&e.daemon, &st);
	ck_assert_int_eq(fx_daemon_stop(&e.daemon), 0);
	ck_assert_uint_eq(st.rebuilds, 1);
	ck_assert_int_eq(st.degraded, 0);

	/* Every event counted once, every score right, ranks rebuilt. */
	fx_check_states(&e.redis, &e.stream, &e.model);
	fx_check_outputs(&e.kafka, &e.stream, &e.model, false);
	{
		struct ssid_redis_opts so = fx_redis_opts(&e.redis);
		struct ssid_redis *rd = NULL;
		struct ssi_rankagg global;
		const char *none[SSI_SEG__COUNT] = {NULL, NULL, NULL};
		int32_t *parts = NULL;
		size_t nparts = 0;

		ck_assert_int_eq(ssid_redis_new(&rd, &so), 0);
		ck_assert_int_eq(ssid_rank_read_partitions(rd, &parts, &nparts), 0);
		ssi_rankagg_init(&global);
		ck_assert_int_eq(
		    ssid_rank_read_segment(rd, parts, nparts, SSID_RANK_GLOBAL, none, 10, &global),
		    0);
		ck_assert_int_eq(global.n, N);
		ssi_rankagg_clear(&global);
		for (int u = 0; u < N; u++) {
			struct ssi_score want;
			struct ssi_rank_record rec;

			ref_score(&e, u, e.stream.n, &e.model, FX_NOW_MS, &want);
			fx_user_id(&e.stream, u, key, sizeof(key));
			ck_assert_msg(ssid_rank_read_record(rd, parts, nparts, key, &rec, NULL) ==
					  1,
				      "%s has no rank record", key);
			ck_assert_msg(rec.score.total == want.total,
				      "%s ranks with %d, its total is %d", key, rec.score.total,
				      want.total);
		}
		free(parts);
		ssid_redis_free(rd);
	}

	/* The replayed past fired no alert again, and no dead letter went twice. */
	outs_read(&e, &os);
	ck_assert_uint_eq(count_type(&os, "alert"), alerts_before);
	outs_free(&os);
	ck_assert_int_eq(fx_kafka_read_topic(&e.kafka, e.kafka.dlq, &dlq), 0);
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
	env_close(&e);
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
	struct outs os;
	struct env e;
	char attrs[256], path[PATH_MAX];
	int64_t deadline;

	env_open(&e, "model", N, false);
	for (int u = 0; u < N; u++) {
		e.seg[u] = (struct seg){"acme", u % 2 ? "alpha" : "beta", "software"};
		add_ev(&e, u, SSI_EV_PROFILE_UPDATED, FX_NOW_MS - 40 * DAY,
		       profile(attrs, sizeof(attrs), PF_ALL, 10, 3));
		for (int i = 0; i < 6; i++)
			add_ev(&e, u, plain_types[t_below(&rng, NPLAIN)],
			       FX_NOW_MS - (int64_t)(1 + t_below(&rng, 20)) * DAY, "");
	}
	fx_path(path, sizeof(path), "model.json");
	fx_write_model(path, NULL, 7);
	env_start(&e, &(struct run){.model_file = path});
	produce_wave(&e, 0);

	/* The profile is worth 1 point instead of 7: every rep loses 6 (alerts would say so). */
	fx_write_model(path, "ssi-test-insights-2", 1);
	ck_assert_int_eq(ssid_file_load_model(&second, path, NULL), 0);
	for (int u = 0; u < N; u++) {
		struct ssi_score a, b;

		ref_score(&e, u, e.stream.n, &e.model, FX_NOW_MS, &a);
		ref_score(&e, u, e.stream.n, &second, FX_NOW_MS, &b);
		ck_assert_int_ge(a.total - b.total, 500);
		ck_assert_int_ge(a.pillar[SSI_BRAND] - b.pillar[SSI_BRAND], 300);
	}
	fx_daemon_reload(&e.daemon);
	wait_stat(&e.daemon, STAT(reloads), 1, "reloads");

	/* No event comes: the walk rescores every partition's roster and records the version. */
	deadline = fx_deadline(FX_WAIT_MS);
	for (;;) {
		redisContext *c = redis_open(&e);
		int done = 0;

		for (int p = 0; p < e.kafka.partitions; p++) {
			redisReply *r = rcmd(c, "GET ssi:mv:%d", p);

			done +=
			    r->type == REDIS_REPLY_STRING && strcmp(r->str, second.version) == 0;
			freeReplyObject(r);
		}
		redisFree(c);
		if (done == e.kafka.partitions)
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
	fx_check_outputs(&e.kafka, &e.stream, &second, false);

	outs_read(&e, &os);
	ck_assert_uint_eq(count_type(&os, "alert"), 0);
	for (int u = 0; u < N; u++) {
		struct ssi_score old, want, sc, prev;
		int model = 0;

		ref_score(&e, u, e.stream.n, &e.model, FX_NOW_MS, &old);
		ref_score(&e, u, e.stream.n, &second, FX_NOW_MS, &want);
		for (size_t i = 0; i < os.n; i++) {
			const json_t *j = os.o[i].j;

			if (os.o[i].user != u || !is_type(&os.o[i], "score.updated") ||
			    strcmp(str_of(j, "cause"), "model") != 0)
				continue;
			model++;
			ck_assert_str_eq(str_of(j, "model_version"), second.version);
			score_of(j, &sc);
			ck_assert(score_eq(&sc, &want));
			pillars_of(json_object_get(j, "previous_pillars"), &prev);
			ck_assert(score_eq(&prev, &old));
		}
		ck_assert_msg(model == 1, "rep %d: %d score.updated with cause model", u, model);
	}
	outs_free(&os);
	env_close(&e);
}
END_TEST

Suite *insights_suite(void)
{
	Suite *s = suite_create("insights");
	TCase *tc = tcase_create("thread");

	tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_ranks_in_scores);
	tcase_add_test(tc, test_rank_changed);
	tcase_add_test(tc, test_leaderboards);
	tcase_add_test(tc, test_decay_alerts_history);
	tcase_add_test(tc, test_rebalance_schedule);
	tcase_add_test(tc, test_redis_emptied);
	tcase_add_test(tc, test_model_change);
	suite_add_tcase(s, tc);
	return s;
}
