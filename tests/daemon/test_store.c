/*
 * ssid_store against a real redis-server, counted with INFO commandstats:
 * reps cached after a load or a save are not read again, a revoked
 * partition or a failed write makes them read again; the decay schedule
 * (a roster per partition, field z per rep) costs an APPEND per partition
 * for newcomers only, answers from memory, and reads back, roster order
 * and due instants, in a store that starts afresh (a new owner), moving
 * an older build's sorted set into the roster.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <hiredis/hiredis.h>

#include "fixture.h"
#include "ssid_history.h"
#include "ssid_store.h"
#include "suites.h"

#define REPS 100

static struct fx_redis redis;

static void setup(void)
{
	fx_redis_setup(&redis);
}

static void teardown(void)
{
	fx_redis_teardown(&redis);
}

static long long calls(const char *cmd)
{
	redisContext *c = redisConnect("127.0.0.1", redis.port);
	redisReply *reply;
	char needle[64];
	const char *at;
	long long n = 0;

	ck_assert(c && !c->err);
	reply = redisCommand(c, "INFO commandstats");
	ck_assert(reply && reply->type == REDIS_REPLY_STRING);
	snprintf(needle, sizeof(needle), "cmdstat_%s:calls=", cmd);
	at = strstr(reply->str, needle);
	if (at)
		n = strtoll(at + strlen(needle), NULL, 10);
	freeReplyObject(reply);
	redisFree(c);
	return n;
}

static void users_init(struct ssid_user *u, char (*id)[16])
{
	for (int i = 0; i < REPS; i++) {
		snprintf(id[i], sizeof(id[i]), "rep-%03d", i);
		ssid_user_init(&u[i], id[i]);
		u[i].partition = i % 2;
	}
}

static void users_clear(struct ssid_user *u)
{
	for (int i = 0; i < REPS; i++)
		ssid_user_clear(&u[i]);
}

/* Load every rep and count the HMGETs it took. */
static long long load_all(struct ssid_store *s, struct ssid_user *u, char (*id)[16])
{
	long long before = calls("hmget");

	users_clear(u);
	users_init(u, id);
	ck_assert_msg(ssid_store_load(s, u, REPS) == 0, "%s", ssid_store_errstr(s));
	return calls("hmget") - before;
}

START_TEST (test_cache_saves_reads) {
	struct ssid_redis_opts o = fx_redis_opts(&redis);
	struct ssid_user u[REPS];
	char id[REPS][16], dir[PATH_MAX];
	struct ssid_cache_stats st;
	struct ssid_store *s = NULL;
	long long append;
	int64_t n;

	ck_assert_int_eq(ssid_store_new(&s, &o), 0);
	ck_assert_int_eq(ssid_store_cache(s, 1 << 20), 0);
	users_init(u, id);
	ck_assert_int_eq(load_all(s, u, id), REPS); /* nobody is known yet */
	for (int i = 0; i < REPS; i++) {
		struct ssi_score sc = {.pillar = {i}, .total = i};

		ssi_state_mark_set(&u[i].state, u[i].partition, 10 + i);
		u[i].due_ms = 1000 + i;
		ssid_store_stage_state(&u[i], true);
		ssid_store_stage_delivered(&u[i], &sc, 0, "", NULL);
	}
	append = calls("append");
	ck_assert_int_eq(ssid_store_save(s, u, REPS), 0);
	ck_assert_int_eq(calls("append") - append, 2); /* one per partition */
	append = calls("append");
	ck_assert_int_eq(ssid_store_save(s, u, REPS), 0);
	ck_assert_int_eq(calls("append"), append); /* nobody new */
	ck_assert_int_eq(calls("zadd"), 0);

	/* Read back from memory, exactly as written. */
	ck_assert_int_eq(load_all(s, u, id), 0);
	for (int i = 0; i < REPS; i++) {
		ck_assert_int_eq(u[i].load_status, 0);
		ck_assert_int_eq(ssi_state_mark_get(&u[i].state, i % 2), 10 + i);
		ck_assert(u[i].has_published);
		ck_assert_int_eq(u[i].published.total, i);
	}
	ssid_store_cache_stats(s, &st);
	ck_assert_uint_eq(st.entries, REPS);

	/* Partition 1 was revoked: its reps are read again, partition 0's are not. */
	ssid_store_forget(s, 1);
	ck_assert_int_eq(load_all(s, u, id), REPS / 2);
	for (int i = 0; i < REPS; i++)
		ck_assert_int_eq(ssi_state_mark_get(&u[i].state, i % 2), 10 + i);

	/* A write that fails drops what it wrote: Redis, restarted empty, is the truth. */
	ck_assert_int_eq(fx_redis_stop(&redis), 0);
	for (int i = 0; i < REPS; i++) {
		ssi_state_mark_set(&u[i].state, u[i].partition, 500);
		ssid_store_stage_state(&u[i], true);
	}
	ck_assert_int_lt(ssid_store_save(s, u, REPS), 0);
	ck_assert_int_eq(fx_redis_start(&redis, fx_path(dir, sizeof(dir), "redis"), false), 0);
	ck_assert_int_eq(load_all(s, u, id), REPS);
	for (int i = 0; i < REPS; i++)
		ck_assert(!u[i].has_state);
	ck_assert_int_eq(ssid_store_due_count(s, 0, SSID_DUE_NEVER, &n), 0);
	ck_assert_int_eq(n, 0); /* the schedules it changed are read again too */

	/* Redis lost its data: everything is forgotten. */
	ck_assert_int_eq(load_all(s, u, id), 0);
	ssid_store_forget(s, -1);
	ck_assert_int_eq(load_all(s, u, id), REPS);
	users_clear(u);
	ssid_store_free(s);
}
END_TEST

/* Without a cache every load reads every rep. */
START_TEST (test_no_cache) {
	struct ssid_redis_opts o = fx_redis_opts(&redis);
	struct ssid_user u[REPS];
	char id[REPS][16];
	struct ssid_store *s = NULL;

	ck_assert_int_eq(ssid_store_new(&s, &o), 0);
	users_init(u, id);
	ck_assert_int_eq(load_all(s, u, id), REPS);
	ck_assert_int_eq(load_all(s, u, id), REPS);
	users_clear(u);
	ssid_store_free(s);
}
END_TEST

static bool field_exists(const char *id, const char *field)
{
	redisContext *c = redisConnect("127.0.0.1", redis.port);
	redisReply *reply = redisCommand(c, "HEXISTS ssi:u:{%s} %s", id, field);
	bool yes = reply && reply->type == REDIS_REPLY_INTEGER && reply->integer == 1;

	freeReplyObject(reply);
	redisFree(c);
	return yes;
}

/* Deliver score total on day as ssid does (loaded first: its history is what Redis holds). */
static void save_day(struct ssid_store *s, const char *id, int32_t day, int total)
{
	struct fx_delivery d = {
	    .user_id = id, .day = day, .score = {.pillar = {total, 0, 0, 0}, .total = total}};

	ck_assert_int_eq(fx_deliver(s, &d, 1, SSI_HISTORY_RETENTION_DEFAULT), 0);
}

/*
 * The history: today's entry is the delivered score (field p) with every
 * score, the whole history (h) once a day, when a day before the latest is
 * not final in it yet; a reader lays p over h. With and without the cache.
 */
START_TEST (test_history_once_a_day) {
	struct ssid_redis_opts o = fx_redis_opts(&redis);
	struct ssid_history *hs = NULL;
	struct ssi_history h;
	struct ssi_score got;

	for (int cached = 0; cached < 2; cached++) {
		struct ssid_store *s = NULL;
		const char *id = cached ? "cached" : "plain";
		long long hset;

		ck_assert_int_eq(ssid_store_new(&s, &o), 0);
		ck_assert_int_eq(ssid_store_cache(s, cached ? 1 << 20 : 0), 0);
		save_day(s, id, 100, 1000);
		ck_assert(!field_exists(id, SSID_HISTORY_DAY_FIELD));
		ck_assert(!field_exists(id, SSID_HISTORY_FIELD));
		save_day(s, id, 100, 1100); /* the same day again: p only */
		ck_assert(!field_exists(id, SSID_HISTORY_FIELD));
		hset = calls("hset");
		save_day(s, id, 101, 1200); /* a new day: day 100's last value goes into h */
		ck_assert_int_eq(calls("hset") - hset, 1);
		ck_assert(field_exists(id, SSID_HISTORY_FIELD));
		save_day(s, id, 101, 1300);
		save_day(s, id, 102, 1400);
		/* What any reader sees: every day's last value. */
		ck_assert_int_eq(ssid_history_new(&hs, &o), 0);
		ssi_history_init(&h);
		ck_assert_int_eq(ssid_history_load(hs, id, &h), 1);
		ck_assert_uint_eq(h.n, 3);
		ck_assert_int_eq(ssi_history_at(&h, 100, &got), 0);
		ck_assert_int_eq(got.total, 1100);
		ck_assert_int_eq(ssi_history_at(&h, 101, &got), 0);
		ck_assert_int_eq(got.total, 1300);
		ck_assert_int_eq(ssi_history_at(&h, 102, &got), 0);
		ck_assert_int_eq(got.total, 1400);
		ssi_history_clear(&h);
		ssid_history_free(hs);
		ssid_store_free(s);
	}
}
END_TEST

/*
 * A state whose encoding is exactly len bytes: k recent event ids and n
 * bytes of segment names.
 */
static void state_sized(struct ssi_state *st, size_t len)
{
	uint8_t enc[SSI_STATE_ENCODED_MAX];

	for (uint32_t k = 0; k <= SSI_DEDUP_MAX; k++) {
		st->nrecent = k;
		for (uint32_t i = 0; i < k; i++)
			st->recent[i] = (struct ssi_recent){.at_ms = 1000000 + i, .fp = 77777 * i};
		for (size_t n = 0; n <= SSI_SEG__COUNT * SSI_ID_MAX; n++) {
			for (int g = 0; g < SSI_SEG__COUNT; g++) {
				size_t at = (size_t)g * SSI_ID_MAX;
				size_t m = n <= at ? 0 : n - at < SSI_ID_MAX ? n - at : SSI_ID_MAX;

				memset(st->segment[g], 'a' + g, m);
				st->segment[g][m] = '\0';
				st->segment_key[g].at_ms = 1;
			}
			if (ssi_state_encode(st, enc, sizeof(enc)) == (long)len)
				return;
		}
	}
	ck_abort_msg("no state encodes in %zu bytes", len);
}

static redisReply *peek(const char *fmt, const char *id, const char *field)
{
	redisContext *c = redisConnect("127.0.0.1", redis.port);
	redisReply *reply = redisCommand(c, fmt, id, field);

	ck_assert(reply);
	redisFree(c);
	return reply;
}

/* Save id's state at len bytes, as ssid does (loaded first), and read it back from Redis. */
static void save_sized(struct ssid_store *s, const char *id, size_t len)
{
	struct ssid_user u, back;

	ssid_user_init(&u, id);
	ck_assert_int_eq(ssid_store_load(s, &u, 1), 0);
	state_sized(&u.state, len);
	ssid_store_stage_state(&u, false);
	ck_assert_msg(ssid_store_save(s, &u, 1) == 0, "%s", ssid_store_errstr(s));
	ssid_user_init(&back, id);
	ck_assert_int_eq(ssid_store_load(s, &back, 1), 0);
	ck_assert_msg(back.has_state && back.load_status == 0, "%zu bytes: status %d", len,
		      back.load_status);
	ck_assert(ssi_state_equal(&back.state, &u.state));
	ssid_user_clear(&u);
	ssid_user_clear(&back);
}

static void expect_encoding(const char *id, const char *want)
{
	redisReply *r = peek("OBJECT ENCODING ssi:u:{%s}", id, NULL);

	ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
	ck_assert_str_eq(r->str, want);
	freeReplyObject(r);
}

static size_t field_len(const char *id, const char *field)
{
	redisReply *r = peek("HSTRLEN ssi:u:{%s} %s", id, field);
	size_t n = (size_t)r->integer;

	freeReplyObject(r);
	return n;
}

/*
 * The state in parts of 64 bytes keeps the hash a listpack; it reads back
 * whatever its size did before: parts after a full last part must be empty
 * (a stale one would be joined on), a state too long for the parts is
 * whole in s, and a whole s from an older build reads and is rewritten in
 * parts. Read back from Redis each time (no cache).
 */
START_TEST (test_state_parts) {
	static const size_t sizes[] = {256, 600, 128, 320, 192, 64, 100, 512, 513, 200};
	struct ssid_redis_opts o = fx_redis_opts(&redis);
	uint8_t enc[SSI_STATE_ENCODED_MAX];
	struct ssid_store *s = NULL;
	struct ssid_user u;
	redisContext *c;
	redisReply *r;
	long len;

	ck_assert_int_eq(ssid_store_new(&s, &o), 0);
	save_sized(s, "compact", 230);
	ck_assert_uint_eq(field_len("compact", "s"), SSID_STORE_STATE_PART);
	ck_assert_uint_eq(field_len("compact", "s3"), 230 - 3 * SSID_STORE_STATE_PART);
	expect_encoding("compact", "listpack");
	save_sized(s, "compact", 130);
	ck_assert_uint_eq(field_len("compact", "s3"), 0);
	expect_encoding("compact", "listpack");

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		save_sized(s, "sizes", sizes[i]);
	ck_assert_uint_eq(field_len("sizes", "s"), SSID_STORE_STATE_PART);

	/* A whole state as older builds wrote it. */
	ssid_user_init(&u, "older");
	state_sized(&u.state, 211);
	len = ssi_state_encode(&u.state, enc, sizeof(enc));
	ck_assert_int_eq(len, 211);
	c = redisConnect("127.0.0.1", redis.port);
	r = redisCommand(c, "HSET ssi:u:{older} s %b", enc, (size_t)len);
	ck_assert(r && r->type == REDIS_REPLY_INTEGER);
	freeReplyObject(r);
	redisFree(c);
	ssid_user_clear(&u);
	save_sized(s, "older", 150);
	ck_assert_uint_eq(field_len("older", "s2"), 150 - 2 * SSID_STORE_STATE_PART);
	ssid_store_free(s);
}
END_TEST

/*
 * A state of version 1, as builds before 7 December 2026 wrote it (here in
 * its layout by hand: a profile register and a tenant written by the one
 * recent event, a mark), reads as the same state and is rewritten as
 * version 2 at the rep's next save, its keys then refs into the filter.
 */
START_TEST (test_state_v1_upgraded) {
	/* The key (at_ms zigzag, fp 7) that the recent event, the profile and the tenant share. */
#define KEY 0x80, 0xa0, 0xe6, 0xd0, 0xa3, 0x66, 7, 0, 0, 0, 0, 0, 0, 0
	static const uint8_t body[] = {
	    'S',  'I',	1,		    /* version 1 */
	    0x03,			    /* written: profile, tenant */
	    KEY,  0x05, 3,   1,		    /* profile: fields, skills, media */
	    4,	  'a',	'c', 'm', 'e', KEY, /* tenant */
	    0,				    /* links */
	    1,	  KEY,			    /* recent: one */
	    1,	  0,	10,		    /* marks: partition 0, offset 5 */
	    0,				    /* rows */
	};
#undef KEY
	struct ssid_redis_opts o = fx_redis_opts(&redis);
	uint8_t blob[sizeof(body) + 4];
	struct ssid_store *s = NULL;
	struct ssid_user u, back;
	uint32_t crc = ssi_crc32c(body, sizeof(body));
	redisContext *c;
	redisReply *r;

	memcpy(blob, body, sizeof(body));
	for (int i = 0; i < 4; i++)
		blob[sizeof(body) + i] = (uint8_t)(crc >> (8 * i));
	c = redisConnect("127.0.0.1", redis.port);
	r = redisCommand(c, "HSET ssi:u:{v1rep} s %b", blob, sizeof(blob));
	ck_assert(r && r->type == REDIS_REPLY_INTEGER);
	freeReplyObject(r);
	redisFree(c);

	ck_assert_int_eq(ssid_store_new(&s, &o), 0);
	ssid_user_init(&u, "v1rep");
	ck_assert_int_eq(ssid_store_load(s, &u, 1), 0);
	ck_assert_int_eq(u.load_status, 0);
	ck_assert_int_eq(ssi_state_mark_get(&u.state, 0), 5);
	ck_assert_str_eq(u.state.segment[SSI_SEG_TENANT], "acme");
	ck_assert_uint_eq(u.state.nrecent, 1);
	ck_assert_int_eq(u.state.profile_key.at_ms, u.state.recent[0].at_ms);
	ck_assert_uint_eq(u.state.profile_key.fp, 7);
	ck_assert_uint_eq(u.state.profile.skills, 3);

	ssid_store_stage_state(&u, false);
	ck_assert_msg(ssid_store_save(s, &u, 1) == 0, "%s", ssid_store_errstr(s));
	r = peek("HGET ssi:u:{%s} %s", "v1rep", "s");
	ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
	ck_assert_uint_ge(r->len, 3);
	ck_assert_uint_eq((uint8_t)r->str[2], SSI_STATE_VERSION);
	/* Both keys are now one-byte refs to the recent event: 26 bytes fewer. */
	ck_assert_uint_eq(r->len, sizeof(blob) - 26);
	freeReplyObject(r);
	ssid_user_init(&back, "v1rep");
	ck_assert_int_eq(ssid_store_load(s, &back, 1), 0);
	ck_assert_int_eq(back.load_status, 0);
	ck_assert(ssi_state_equal(&back.state, &u.state));
	ssid_user_clear(&u);
	ssid_user_clear(&back);
	ssid_store_free(s);
}
END_TEST

/* Run one command on a connection of the test's own; the reply is freed. */
static void redis_do(const char *fmt, ...)
{
	redisContext *c = redisConnect("127.0.0.1", redis.port);
	redisReply *reply;
	va_list ap;

	ck_assert(c && !c->err);
	va_start(ap, fmt);
	reply = redisvCommand(c, fmt, ap);
	va_end(ap);
	ck_assert_msg(reply && reply->type != REDIS_REPLY_ERROR, "%s failed", fmt);
	freeReplyObject(reply);
	redisFree(c);
}

/* Save the state of reps id[0..n) of partition with their due instants due[0..n). */
static void save_due(struct ssid_store *s, int32_t partition, const char *const *id,
		     const int64_t *due, int n)
{
	struct ssid_user u[8];

	ck_assert_int_le(n, 8);
	for (int i = 0; i < n; i++) {
		ssid_user_init(&u[i], id[i]);
		u[i].partition = partition;
	}
	ck_assert_int_eq(ssid_store_load(s, u, (size_t)n), 0);
	for (int i = 0; i < n; i++) {
		u[i].due_ms = due[i];
		ssid_store_stage_state(&u[i], true);
	}
	ck_assert_msg(ssid_store_save(s, u, (size_t)n) == 0, "%s", ssid_store_errstr(s));
	for (int i = 0; i < n; i++)
		ssid_user_clear(&u[i]);
}

/* The ids of one answer, space-separated, and free it. */
static void ids_join(char **ids, size_t n, char *buf, size_t len)
{
	size_t at = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n; i++)
		at += (size_t)snprintf(buf + at, len - at, "%s%s", i ? " " : "", ids[i]);
	ck_assert_ptr_null(ids[n]);
	ssid_store_ids_free(ids);
}

static void expect_due(struct ssid_store *s, int32_t partition, int64_t now, size_t max,
		       const char *want)
{
	char **ids, got[256];
	size_t n;

	ck_assert_msg(ssid_store_due(s, partition, now, max, &ids, &n) == 0, "%s",
		      ssid_store_errstr(s));
	ids_join(ids, n, got, sizeof(got));
	ck_assert_msg(strcmp(got, want) == 0, "due at %lld: \"%s\", expected \"%s\"",
		      (long long)now, got, want);
}

/* The whole roster walked count ids at a time. */
static void expect_roster(struct ssid_store *s, int32_t partition, size_t count, const char *want)
{
	unsigned long long cursor = 0;
	char got[256] = "", part[256];
	int steps = 0;

	do {
		char **ids;
		size_t n;

		ck_assert_int_eq(ssid_store_roster(s, partition, &cursor, count, &ids, &n), 0);
		ids_join(ids, n, part, sizeof(part));
		if (n) {
			size_t gl = strlen(got), pl = strlen(part);

			ck_assert_uint_lt(gl + 1 + pl, sizeof(got));
			if (gl)
				got[gl++] = ' ';
			memcpy(got + gl, part, pl + 1);
		}
		ck_assert_int_lt(++steps, 20);
	} while (cursor != 0);
	ck_assert_msg(strcmp(got, want) == 0, "roster \"%s\", expected \"%s\"", got, want);
}

/*
 * The decay schedule: due instants in field z, the roster in the order reps
 * came, questions answered from memory, and a store starting afresh (a new
 * owner) reading both back; an older build's sorted set moved into the
 * roster; a rep twice in the roster counted once; a rep without z due now;
 * a truncated roster refused by name.
 */
START_TEST (test_schedule) {
	struct ssid_redis_opts o = fx_redis_opts(&redis);
	const char *first[3] = {"carol", "alice", "bob"}, *later[2] = {"dave", "alice"};
	const int64_t first_due[3] = {3000, 1000, SSID_DUE_NEVER}, later_due[2] = {2000, 5000};
	struct ssid_store *s = NULL, *t = NULL;
	long long get, hget;
	redisReply *r;
	int64_t n;

	ck_assert_int_eq(ssid_store_new(&s, &o), 0);
	save_due(s, 0, first, first_due, 3);
	save_due(s, 0, later, later_due, 2);
	r = peek("HGET ssi:u:{%s} %s", "bob", "z");
	ck_assert_str_eq(r->str, "9223372036854775807");
	freeReplyObject(r);
	r = peek("GET ssi:ro:%s%s", "0", "");
	ck_assert_int_eq(r->len, 4 * 1 + 5 + 5 + 3 + 4);
	ck_assert(memcmp(r->str, "\005carol\005alice\003bob\004dave", r->len) == 0);
	freeReplyObject(r);

	/* From memory: no Redis command. */
	get = calls("get");
	hget = calls("hget");
	expect_due(s, 0, 999, 10, "");
	expect_due(s, 0, 3000, 10, "dave carol");
	expect_due(s, 0, 5000, 2, "dave carol");
	expect_due(s, 0, INT64_MAX, 10, "dave carol alice bob");
	expect_roster(s, 0, 3, "carol alice bob dave");
	ck_assert_int_eq(ssid_store_due_count(s, 0, 4999, &n), 0);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(ssid_store_due_count(s, 0, SSID_DUE_NEVER, &n), 0);
	ck_assert_int_eq(n, 4);
	ck_assert_int_eq(calls("get"), get);
	ck_assert_int_eq(calls("hget"), hget);

	/* A new owner reads the same schedule: the roster once, each rep's z. */
	ck_assert_int_eq(ssid_store_new(&t, &o), 0);
	expect_due(t, 0, INT64_MAX, 10, "dave carol alice bob");
	expect_roster(t, 0, 10, "carol alice bob dave");
	ck_assert_int_eq(calls("get") - get, 1);
	ck_assert_int_eq(calls("hget") - hget, 4);
	ssid_store_free(t);

	/*
	 * Partition 1 as an older build left it: a sorted set, and a roster
	 * holding one of its reps (twice) and one rep without z.
	 */
	redis_do("ZADD ssi:dz:1 700 erin 800 frank +inf gina");
	redis_do("APPEND ssi:ro:1 %b", "\005frank\004hank\005frank", (size_t)17);
	redis_do("HSET ssi:u:{frank} z 750");
	ck_assert_int_eq(ssid_store_new(&t, &o), 0);
	expect_due(t, 1, INT64_MAX, 10, "hank erin frank gina");
	expect_roster(t, 1, 2, "frank hank erin gina");
	ck_assert_int_eq(fx_redis_count_keys(&redis, "ssi:dz:*"), 0);
	ssid_store_free(t);
	/*
	 * The move is done once and lasts. The moved reps have no z until
	 * their next save: a later reader finds them due now, and their
	 * rescore writes it.
	 */
	ck_assert_int_eq(ssid_store_new(&t, &o), 0);
	expect_roster(t, 1, 10, "frank hank erin gina");
	expect_due(t, 1, 0, 10, "hank erin gina");
	ck_assert_int_eq(ssid_store_due_count(t, 1, 750, &n), 0);
	ck_assert_int_eq(n, 4);
	ssid_store_free(t);

	/* A roster whose last entry is cut short is refused, by its key. */
	redis_do("APPEND ssi:ro:2 %b", "\003ivy\011jo", (size_t)7);
	ck_assert_int_eq(ssid_store_new(&t, &o), 0);
	ck_assert_int_eq(ssid_store_due_count(t, 2, 0, &n), -EIO);
	ck_assert_msg(strstr(ssid_store_errstr(t), "ssi:ro:2"), "%s", ssid_store_errstr(t));
	ssid_store_free(t);
	ssid_store_free(s);
}
END_TEST

Suite *store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("redis");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_cache_saves_reads);
	tcase_add_test(tc, test_no_cache);
	tcase_add_test(tc, test_history_once_a_day);
	tcase_add_test(tc, test_state_parts);
	tcase_add_test(tc, test_state_v1_upgraded);
	tcase_add_test(tc, test_schedule);
	suite_add_tcase(s, tc);
	return s;
}
