/*
 * ssid_history, the reader, against a real redis-server, over histories
 * written the one way ssid writes them: by ssid_store, with the scores it
 * delivers (fx_deliver). Many reps read back, their histories riding on the
 * store's pipelined batch (told by the server's own command and read
 * counters); retention over 500 simulated days; the store's other fields
 * beside them; unreadable histories left alone and reported; bad user ids
 * refused before anything is sent; reconnection. Days are injected:
 * nothing here reads a clock.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "fixture.h"
#include "ssi_history.h"
#include "ssid_history.h"
#include "ssid_store.h"
#include "suites.h"

/* 2026-11-20, the day of the fixtures' clock. */
#define TODAY	  20777
#define BATCH_N	  5000
#define PREFIX	  "ssi:"
#define ID_LEN	  32
#define SIM_DAYS  500
#define SIM_REPS  24
#define ALERT_WIN 30

struct env {
	struct fx_redis redis;
	redisContext *probe; /* the test's own connection, for INFO and raw access */
	struct ssid_history *hs;
	struct ssid_store *store; /* the writer */
};

static struct ssid_redis_opts store_opts(const struct env *e)
{
	return (struct ssid_redis_opts){.host = "127.0.0.1",
					.port = e->redis.port,
					.connect_timeout_ms = 2000,
					.command_timeout_ms = 10000,
					.key_prefix = PREFIX};
}

static void env_open(struct env *e, bool persistent)
{
	struct ssid_redis_opts o;

	memset(e, 0, sizeof(*e));
	fx_redis_start_in_scratch(&e->redis, persistent);
	e->probe = fx_redis_peek(&e->redis);
	o = store_opts(e);
	ck_assert_int_eq(ssid_history_new(&e->hs, &o), 0);
	ck_assert_msg(ssid_history_ping(e->hs) == 0, "%s", ssid_history_errstr(e->hs));
	ck_assert_int_eq(ssid_store_new(&e->store, &o), 0);
}

static void env_close(struct env *e)
{
	ssid_store_free(e->store);
	ssid_history_free(e->hs);
	redisFree(e->probe);
	ck_assert_int_eq(fx_redis_stop(&e->redis), 0);
}

static redisReply *probe_command(struct env *e, const char *fmt, ...)
{
	redisReply *r;
	va_list ap;

	va_start(ap, fmt);
	r = redisvCommand(e->probe, fmt, ap);
	va_end(ap);
	ck_assert_msg(r, "redis: %s", e->probe->errstr);
	return r;
}

/* The server's counters that tell how a batch talked to it. */
struct counters {
	long long hget, hset, commands, reads;
};

/* The number after "name" in an INFO text, 0 when the line is absent (a command never run). */
static long long info_value(const char *info, const char *name)
{
	const char *at = strstr(info, name);

	return at ? strtoll(at + strlen(name), NULL, 10) : 0;
}

static struct counters counters_now(struct env *e)
{
	redisReply *r = probe_command(e, "INFO everything");
	struct counters c;

	ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
	c.hget = info_value(r->str, "cmdstat_hmget:calls="); /* fields h and d together */
	c.hset = info_value(r->str, "cmdstat_hset:calls=");
	c.commands = info_value(r->str, "total_commands_processed:");
	c.reads = info_value(r->str, "total_reads_processed:");
	freeReplyObject(r);
	return c;
}

/*
 * What happened between two looks, less the probe's own second INFO (one
 * read, counted before it ran) and its first (one command, counted after).
 */
static struct counters counters_delta(const struct counters *a, const struct counters *b)
{
	return (struct counters){.hget = b->hget - a->hget,
				 .hset = b->hset - a->hset,
				 .commands = b->commands - a->commands - 1,
				 .reads = b->reads - a->reads - 1};
}

static struct ssi_score score_of(int brand, int people, int insights, int relationships)
{
	struct ssi_score sc = {.pillar = {brand, people, insights, relationships}};

	sc.total = brand + people + insights + relationships;
	return sc;
}

static struct ssi_score random_score(struct t_rng *rng)
{
	int p[SSI_PILLAR__COUNT];

	for (int i = 0; i < SSI_PILLAR__COUNT; i++)
		p[i] = (int)t_below(rng, SSI_HISTORY_PILLAR_MAX + 1);
	return score_of(p[0], p[1], p[2], p[3]);
}

static void assert_same_score(const struct ssi_score *a, const struct ssi_score *b)
{
	for (int p = 0; p < SSI_PILLAR__COUNT; p++)
		ck_assert_int_eq(a->pillar[p], b->pillar[p]);
	ck_assert_int_eq(a->total, b->total);
}

static void deliver_ok(struct env *e, struct fx_delivery *d, size_t n)
{
	ck_assert_msg(fx_deliver(e->store, d, n, SSI_HISTORY_RETENTION_DEFAULT) == 0, "deliver: %s",
		      ssid_store_errstr(e->store));
}

/* Every 499th rep of d reads back with a snapshot on each of days[0..ndays), the last d's. */
static void assert_read_back(struct env *e, const struct fx_delivery *d, const int32_t *days,
			     size_t ndays)
{
	struct ssi_history h;

	ssi_history_init(&h);
	for (size_t i = 0; i < BATCH_N; i += 499) {
		ck_assert_int_eq(ssid_history_load(e->hs, d[i].user_id, &h), 1);
		ck_assert_uint_eq(h.n, ndays);
		for (size_t k = 0; k < ndays; k++)
			ck_assert_int_eq(h.entries[k].day, days[k]);
		assert_same_score(&h.entries[ndays - 1].score, &d[i].score);
	}
	ssi_history_clear(&h);
}

/*
 * A batch of many reps: their histories ride on the store's one pipelined
 * HMGET and HSET per rep (no command and no round trip of their own), and
 * each rep's reads back.
 */
START_TEST (test_batch_round_trips) {
	static char ids[BATCH_N][ID_LEN];
	static struct fx_delivery d[BATCH_N];
	static const int32_t one_day[] = {TODAY}, two_days[] = {TODAY, TODAY + 1};
	struct t_rng rng = {.s = 0xB47C4};
	struct counters before, after, c;
	struct env e;

	env_open(&e, false);
	for (size_t i = 0; i < BATCH_N; i++) {
		snprintf(ids[i], ID_LEN, "rep-%05zu", i);
		d[i] = (struct fx_delivery){.user_id = ids[i],
					    .day = TODAY,
					    .score = random_score(&rng),
					    .history_status = 7};
	}

	before = counters_now(&e);
	deliver_ok(&e, d, BATCH_N);
	after = counters_now(&e);
	c = counters_delta(&before, &after);
	printf("history store: %d reps in %lld commands (%lld HMGET, %lld HSET) and %lld server "
	       "reads\n",
	       BATCH_N, c.commands, c.hget, c.hset, c.reads);
	ck_assert_int_eq(c.hget, BATCH_N);
	ck_assert_int_eq(c.hset, BATCH_N);
	ck_assert_int_eq(c.commands, 2 * BATCH_N);
	/* One command a round trip would take a read each: 10,000 here. */
	ck_assert_msg(c.reads <= BATCH_N / 20, "%lld reads for %d commands: not pipelined", c.reads,
		      2 * BATCH_N);
	for (size_t i = 0; i < BATCH_N; i++)
		ck_assert_int_eq(d[i].history_status, 0);
	assert_read_back(&e, d, one_day, 1);

	/* The same batch again, as after a failure: the same histories. */
	deliver_ok(&e, d, BATCH_N);
	assert_read_back(&e, d, one_day, 1);

	/* The next day: one new snapshot each. */
	for (size_t i = 0; i < BATCH_N; i++) {
		d[i].day = TODAY + 1;
		d[i].score = random_score(&rng);
	}
	deliver_ok(&e, d, BATCH_N);
	assert_read_back(&e, d, two_days, 2);
	env_close(&e);
}
END_TEST

/* Whether rep r's score changes on day d: rep 0 every day, rep 1 never after its first. */
static bool rep_changes(int rep, int32_t d, int32_t first)
{
	uint64_t x = (uint64_t)rep * 0x9E3779B97F4A7C15ULL ^ (uint64_t)d * 0xBF58476D1CE4E5B9ULL;

	if (d == first)
		return true;
	if (rep == 0 || rep == 1)
		return rep == 0;
	x ^= x >> 31;
	x *= 0x94D049BB133111EBULL;
	x ^= x >> 29;
	return x % 100 < (uint64_t)(rep % 2 ? 60 : 25);
}

START_TEST (test_retention_over_500_days) {
	static struct ssi_score truth[SIM_REPS][SIM_DAYS];
	struct fx_delivery d[SIM_REPS];
	char ids[SIM_REPS][ID_LEN];
	struct t_rng rng = {.s = 0x500D};
	int32_t first = TODAY - SIM_DAYS + 1;
	long long largest = 0, typical = 0;
	struct ssi_history h;
	struct env e;

	env_open(&e, false);
	for (int r = 0; r < SIM_REPS; r++)
		snprintf(ids[r], ID_LEN, "sim-%02d", r);
	for (int32_t day = first; day <= TODAY; day++) {
		size_t n = 0;

		for (int r = 0; r < SIM_REPS; r++) {
			struct ssi_score *today = &truth[r][day - first];

			*today = day > first ? truth[r][day - first - 1] : score_of(0, 0, 0, 0);
			if (!rep_changes(r, day, first))
				continue;
			*today = random_score(&rng);
			d[n++] =
			    (struct fx_delivery){.user_id = ids[r], .day = day, .score = *today};
		}
		deliver_ok(&e, d, n);
		for (size_t i = 0; i < n; i++)
			ck_assert_int_eq(d[i].history_status, 0);
		/* A late duplicate of yesterday's score changes nothing. */
		if (day > first) {
			d[0] = (struct fx_delivery){
			    .user_id = ids[0], .day = day - 1, .score = truth[0][day - first - 1]};
			deliver_ok(&e, d, 1);
		}
	}

	ssi_history_init(&h);
	for (int r = 0; r < SIM_REPS; r++) {
		struct ssi_score sc;
		int want_max = 0;
		redisReply *len;

		ck_assert_int_eq(ssid_history_load(e.hs, ids[r], &h), 1);
		/* Stored as of the rep's newest snapshot: retention days at most. */
		ck_assert_uint_le(h.n, SSI_HISTORY_RETENTION_DEFAULT);
		ck_assert_int_lt(h.entries[h.n - 1].day - h.entries[0].day,
				 SSI_HISTORY_RETENTION_DEFAULT);
		/* Field h as written on the rep's last new day: the whole history then. */
		len = probe_command(&e, "HSTRLEN " PREFIX "u:{%s} h", ids[r]);
		ck_assert_int_eq(len->type, REDIS_REPLY_INTEGER);
		ck_assert_int_eq(len->integer,
				 r == 1 ? 0 : (long long)ssi_history_encoded_size(&h));
		if (len->integer > largest)
			largest = len->integer;
		if (r == 3)
			typical = len->integer;
		freeReplyObject(len);
		if (r == 0) {
			ck_assert_uint_eq(h.n, SSI_HISTORY_RETENTION_DEFAULT);
		} else if (r == 1) {
			/* Delivered on its first day only: that day is field d's, h never written.
			 */
			ck_assert_uint_eq(h.n, 1);
			ck_assert_int_eq(h.entries[0].day, first);
		}

		/* As of today, for a reader: every retained day has its score. */
		ck_assert_int_ge(ssi_history_compact(&h, TODAY, SSI_HISTORY_RETENTION_DEFAULT), 0);
		ck_assert_int_eq(h.entries[0].day, TODAY - SSI_HISTORY_RETENTION_DEFAULT + 1);
		for (int32_t day = TODAY - SSI_HISTORY_RETENTION_DEFAULT + 1; day <= TODAY; day++) {
			ck_assert_int_eq(ssi_history_at(&h, day, &sc), 0);
			assert_same_score(&sc, &truth[r][day - first]);
		}
		ck_assert_int_eq(ssi_history_at(&h, TODAY - SSI_HISTORY_RETENTION_DEFAULT, &sc),
				 -ENOENT);
		for (int32_t day = TODAY - ALERT_WIN + 1; day <= TODAY; day++)
			if (truth[r][day - first].total > want_max)
				want_max = truth[r][day - first].total;
		ck_assert_int_eq(ssi_history_max_since(&h, TODAY - ALERT_WIN + 1), want_max);
	}
	printf("history store: after %d days of random scores, %lld bytes for a rep changing on "
	       "~60%% of days, %lld bytes the largest\n",
	       SIM_DAYS, typical, largest);
	ssi_history_clear(&h);
	env_close(&e);
}
END_TEST

/* The history lives in the rep's hash beside ssid_store's other fields, which keep theirs. */
START_TEST (test_beside_the_store) {
	struct fx_delivery d[] = {
	    {.user_id = "rep-shared", .day = TODAY - 1, .score = score_of(1, 2, 3, 4)},
	    {.user_id = "rep-shared", .day = TODAY, .score = score_of(100, 200, 300, 400)},
	};
	struct ssid_user u;
	struct ssi_history h;
	char key[256];
	redisReply *r;
	struct env e;

	env_open(&e, false);
	ssid_user_init(&u, "rep-shared");
	ck_assert_int_eq(ssid_store_load(e.store, &u, 1), 0); /* as ssid does: nothing yet */
	ssi_state_mark_set(&u.state, 3, 77);
	ssid_store_stage_state(&u, false);
	ck_assert_int_eq(ssid_store_save(e.store, &u, 1), 0);
	deliver_ok(&e, &d[0], 1);
	deliver_ok(&e, &d[1], 1);

	ssid_store_key(e.store, u.id, key, sizeof(key));
	r = probe_command(&e, "HKEYS %s", key);
	ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
	/* s (a small state: one part), c, p (also today's entry), k, a and h */
	ck_assert_uint_eq(r->elements, 6);
	freeReplyObject(r);
	/* A fresh alert state is stored empty. */
	r = probe_command(&e, "HSTRLEN %s a", key);
	ck_assert_int_eq(r->integer, 0);
	freeReplyObject(r);
	r = probe_command(&e, "HEXISTS %s " SSID_HISTORY_FIELD, key);
	ck_assert_int_eq(r->integer, 1);
	freeReplyObject(r);

	ssi_state_clear(&u.state);
	ck_assert_int_eq(ssid_store_load(e.store, &u, 1), 0);
	ck_assert_int_eq(u.load_status, 0);
	ck_assert_int_eq(ssi_state_mark_get(&u.state, 3), 77);
	ck_assert(u.has_published);
	ck_assert_int_eq(u.published.total, 1000);

	ssi_history_init(&h);
	ck_assert_int_eq(ssid_history_load(e.hs, "rep-shared", &h), 1);
	ck_assert_uint_eq(h.n, 2);
	ck_assert_int_eq(h.entries[0].score.total, 10);
	ck_assert_int_eq(h.entries[1].score.total, 1000);
	ck_assert_int_eq(ssid_history_load(e.hs, "rep-nobody", &h), 0);
	ck_assert_uint_eq(h.n, 0);
	ssi_history_clear(&h);
	ssid_user_clear(&u);
	env_close(&e);
}
END_TEST

/* A well-sealed blob of a newer version, as a newer ssid would write it. */
/*
 * Reps written by older builds: field d held the latest entry, beside a p
 * that may not record its time ("v1 ..."). d counts while p does not
 * record one, p wins once it does, and the next delivery empties d.
 */
START_TEST (test_older_day_field) {
	struct fx_delivery d = {
	    .user_id = "rep-old", .day = TODAY + 1, .score = score_of(5, 6, 7, 8)};
	struct ssi_history h;
	struct ssid_user u;
	uint8_t enc[SSI_HISTORY_ENCODED_MAX];
	struct ssi_score one = score_of(1, 2, 3, 4);
	char key[256];
	redisReply *r;
	struct env e;
	long len;

	env_open(&e, false);
	ssi_history_init(&h);
	ck_assert_int_eq(ssi_history_record(&h, TODAY - 1, &one), 1);
	len = ssi_history_encode(&h, enc, sizeof(enc));
	ck_assert_int_gt(len, 0);
	ssid_store_key(e.store, "rep-old", key, sizeof(key));
	r = probe_command(&e, "HSET %s h %b p %s d %s", key, enc, (size_t)len,
			  "v1 1000 100 200 300 400", "v1 20777 100 200 300 400");
	freeReplyObject(r);

	/* p without a time: d is the latest entry, for ssictl and for the store. */
	ck_assert_int_eq(ssid_history_load(e.hs, "rep-old", &h), 1);
	ck_assert_uint_eq(h.n, 2);
	ck_assert_int_eq(h.entries[1].day, TODAY);
	ck_assert_int_eq(h.entries[1].score.total, 1000);
	ssid_user_init(&u, "rep-old");
	ck_assert_int_eq(ssid_store_load(e.store, &u, 1), 0);
	ck_assert_int_eq(u.history_status, 0);
	ck_assert_uint_eq(u.history.n, 2);
	ck_assert_int_eq(u.history.entries[1].score.total, 1000);
	ssid_user_clear(&u);

	/* A delivery writes p with its time and empties d. */
	deliver_ok(&e, &d, 1);
	r = probe_command(&e, "HGET %s d", key);
	ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
	ck_assert_uint_eq(r->len, 0);
	freeReplyObject(r);
	ck_assert_int_eq(ssid_history_load(e.hs, "rep-old", &h), 1);
	ck_assert_uint_eq(h.n, 3);
	ck_assert_int_eq(h.entries[2].day, TODAY + 1);
	ck_assert_int_eq(h.entries[2].score.total, 26);

	/* p records its time: a d left beside it does not count. */
	r = probe_command(&e, "HSET %s d %s", key, "v1 20790 1 1 1 1");
	freeReplyObject(r);
	ck_assert_int_eq(ssid_history_load(e.hs, "rep-old", &h), 1);
	ck_assert_uint_eq(h.n, 3);
	ck_assert_int_eq(h.entries[2].day, TODAY + 1);
	ssi_history_clear(&h);
	env_close(&e);
}
END_TEST

static size_t newer_blob(uint8_t *buf)
{
	uint32_t crc;

	memcpy(buf, "SH\x02\x07\x07", 5);
	crc = ssi_crc32c(buf, 5);
	for (int i = 0; i < 4; i++)
		buf[5 + i] = (uint8_t)(crc >> (8 * i));
	return 9;
}

static void assert_stored(struct env *e, const char *user, const void *bytes, size_t len)
{
	redisReply *r = probe_command(e, "HGET " PREFIX "u:{%s} h", user);

	ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
	ck_assert_uint_eq(r->len, len);
	ck_assert(memcmp(r->str, bytes, len) == 0);
	freeReplyObject(r);
}

static bool field_exists(struct env *e, const char *user, const char *field)
{
	redisReply *r = probe_command(e, "HEXISTS " PREFIX "u:{%s} %s", user, field);
	bool yes = r->type == REDIS_REPLY_INTEGER && r->integer == 1;

	freeReplyObject(r);
	return yes;
}

START_TEST (test_unreadable_left_alone) {
	struct fx_delivery d[] = {
	    {.user_id = "rep-corrupt", .day = TODAY, .score = score_of(1, 1, 1, 1)},
	    {.user_id = "rep-newer", .day = TODAY, .score = score_of(2, 2, 2, 2)},
	    {.user_id = "rep-fine", .day = TODAY, .score = score_of(3, 3, 3, 3)},
	};
	struct fx_delivery later = {
	    .user_id = "rep-corrupt", .day = TODAY + 1, .score = score_of(4, 4, 4, 4)};
	uint8_t newer[16];
	size_t newer_len = newer_blob(newer);
	struct ssi_history h;
	redisReply *r;
	struct env e;

	env_open(&e, false);
	freeReplyObject(
	    probe_command(&e, "HSET " PREFIX "u:{rep-corrupt} h %b", "SH\x01junk", (size_t)7));
	freeReplyObject(probe_command(&e, "HSET " PREFIX "u:{rep-newer} h %b", newer, newer_len));
	deliver_ok(&e, d, 3);
	ck_assert_int_eq(d[0].history_status, -EBADMSG);
	ck_assert_int_eq(d[1].history_status, -EPROTONOSUPPORT);
	ck_assert_int_eq(d[2].history_status, 0);
	deliver_ok(&e, &later, 1);
	ck_assert_int_eq(later.history_status, -EBADMSG);
	/* Neither rewritten nor hidden under a field d. */
	assert_stored(&e, "rep-corrupt", "SH\x01junk", 7);
	assert_stored(&e, "rep-newer", newer, newer_len);
	ck_assert(!field_exists(&e, "rep-corrupt", SSID_HISTORY_DAY_FIELD));
	ck_assert(!field_exists(&e, "rep-newer", SSID_HISTORY_DAY_FIELD));

	ssi_history_init(&h);
	ck_assert_int_eq(ssid_history_load(e.hs, "rep-corrupt", &h), -EBADMSG);
	ck_assert_int_eq(ssid_history_load(e.hs, "rep-newer", &h), -EPROTONOSUPPORT);
	ck_assert_uint_eq(h.n, 0);
	ck_assert_int_eq(ssid_history_load(e.hs, "rep-fine", &h), 1);
	ck_assert_int_eq(h.entries[0].score.total, 12);

	/*
	 * A key of another type: the store's batch fails and writes nothing, the
	 * reader fails, and its connection still serves the next read.
	 */
	freeReplyObject(probe_command(&e, "SET " PREFIX "u:{rep-string} x"));
	d[0].user_id = "rep-string";
	ck_assert_int_eq(fx_deliver(e.store, d, 3, SSI_HISTORY_RETENTION_DEFAULT), -EIO);
	ck_assert_int_eq(ssid_history_load(e.hs, "rep-string", &h), -EIO);
	ck_assert_msg(strstr(ssid_history_errstr(e.hs), "WRONGTYPE"), "%s",
		      ssid_history_errstr(e.hs));
	ck_assert_int_eq(ssid_history_load(e.hs, "rep-fine", &h), 1);
	ck_assert_int_eq(h.entries[0].score.total, 12);
	r = probe_command(&e, "GET " PREFIX "u:{rep-string}");
	ck_assert_str_eq(r->str, "x");
	freeReplyObject(r);
	ssi_history_clear(&h);
	env_close(&e);
}
END_TEST

/* A user id the reader refuses costs no command; one of SSI_ID_MAX bytes is fine. */
START_TEST (test_refuses_bad_user_ids) {
	char long_id[SSI_ID_MAX + 2];
	const char *bad[] = {NULL, "", long_id};
	struct counters before, after;
	struct ssi_history h;
	struct env e;

	memset(long_id, 'x', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	env_open(&e, false);
	ssi_history_init(&h);
	before = counters_now(&e);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(ssid_history_load(e.hs, bad[i], &h), -EINVAL);
		ck_assert_uint_eq(h.n, 0);
	}
	after = counters_now(&e);
	ck_assert_int_eq(counters_delta(&before, &after).commands, 0);
	long_id[SSI_ID_MAX] = '\0';
	ck_assert_int_eq(ssid_history_load(e.hs, long_id, &h), 0);
	ssi_history_clear(&h);
	ssid_history_free(NULL);
	env_close(&e);
}
END_TEST

/* Redis goes away between two reads: an error, then the next call reconnects. */
START_TEST (test_reconnects) {
	struct fx_delivery d[] = {
	    {.user_id = "rep-r", .day = TODAY, .score = score_of(5, 5, 5, 5)},
	    {.user_id = "rep-r", .day = TODAY + 1, .score = score_of(6, 6, 6, 6)},
	};
	struct ssi_history h;
	char dir[PATH_MAX];
	struct env e;

	env_open(&e, true);
	deliver_ok(&e, &d[0], 1);
	deliver_ok(&e, &d[1], 1);
	redisFree(e.probe);
	e.probe = NULL;
	ck_assert_int_eq(fx_redis_stop(&e.redis), 0);

	ssi_history_init(&h);
	ck_assert_int_eq(ssid_history_load(e.hs, "rep-r", &h), -EIO);
	ck_assert_ptr_nonnull(ssid_history_errstr(e.hs));
	ck_assert_int_ne(ssid_history_ping(e.hs), 0);

	ck_assert_int_eq(fx_redis_start(&e.redis, fx_path(dir, sizeof(dir), "redis"), true), 0);
	e.probe = fx_redis_peek(&e.redis);
	ck_assert_int_eq(ssid_history_load(e.hs, "rep-r", &h), 1);
	ck_assert_uint_eq(h.n, 2);
	ck_assert_int_eq(h.entries[0].score.total, 20);
	ck_assert_int_eq(h.entries[1].score.total, 24);
	ssi_history_clear(&h);
	env_close(&e);
}
END_TEST

Suite *history_store_suite(void)
{
	Suite *s = suite_create("history_store");
	TCase *tc = tcase_create("redis");

	tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_batch_round_trips);
	tcase_add_test(tc, test_retention_over_500_days);
	tcase_add_test(tc, test_beside_the_store);
	tcase_add_test(tc, test_older_day_field);
	tcase_add_test(tc, test_unreadable_left_alone);
	tcase_add_test(tc, test_refuses_bad_user_ids);
	tcase_add_test(tc, test_reconnects);
	suite_add_tcase(s, tc);
	return s;
}
