/*
 * ssid_history against a real redis-server: batches in a constant number of
 * round trips (told by the server's own command and read counters), retention
 * over 500 simulated days, unreadable histories left alone, reconnection.
 * Days are injected: nothing here reads a clock.
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
};

static struct ssid_redis_opts store_opts(const struct env *e)
{
	return (struct ssid_redis_opts){.host = "127.0.0.1",
					.port = e->redis.port,
					.connect_timeout_ms = 2000,
					.command_timeout_ms = 10000,
					.key_prefix = PREFIX};
}

static void env_open(struct env *e, int retention_days, bool persistent)
{
	struct ssid_redis_opts o;

	memset(e, 0, sizeof(*e));
	fx_redis_start_in_scratch(&e->redis, persistent);
	e->probe = fx_redis_peek(&e->redis);
	o = store_opts(e);
	ck_assert_int_eq(ssid_history_new(&e->hs, &o, retention_days), 0);
	ck_assert_msg(ssid_history_ping(e->hs) == 0, "%s", ssid_history_errstr(e->hs));
}

static void env_close(struct env *e)
{
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

static void record_ok(struct env *e, struct ssid_history_item *items, size_t n)
{
	ck_assert_msg(ssid_history_record_batch(e->hs, items, n) == 0, "record: %s",
		      ssid_history_errstr(e->hs));
}

START_TEST (test_batch_round_trips) {
	static char ids[BATCH_N][ID_LEN];
	static struct ssid_history_item items[BATCH_N];
	struct t_rng rng = {.s = 0xB47C4};
	struct counters before, after, d;
	struct ssi_history h;
	struct env e;

	env_open(&e, SSI_HISTORY_RETENTION_DEFAULT, false);
	for (size_t i = 0; i < BATCH_N; i++) {
		snprintf(ids[i], ID_LEN, "rep-%05zu", i);
		items[i] = (struct ssid_history_item){
		    .user_id = ids[i], .day = TODAY, .score = random_score(&rng), .status = 7};
	}

	before = counters_now(&e);
	record_ok(&e, items, BATCH_N);
	after = counters_now(&e);
	d = counters_delta(&before, &after);
	printf("history store: %d reps in %lld commands (%lld HMGET, %lld HSET) and %lld server "
	       "reads\n",
	       BATCH_N, d.commands, d.hget, d.hset, d.reads);
	ck_assert_int_eq(d.hget, BATCH_N);
	ck_assert_int_eq(d.hset, BATCH_N);
	ck_assert_int_eq(d.commands, 2 * BATCH_N);
	/* One command a round trip would take a read each: 10,000 here. */
	ck_assert_msg(d.reads <= BATCH_N / 20, "%lld reads for %d commands: not pipelined", d.reads,
		      2 * BATCH_N);
	for (size_t i = 0; i < BATCH_N; i++)
		ck_assert_int_eq(items[i].status, 1);

	/* The same batch again, as after a failure: read, nothing to write. */
	before = counters_now(&e);
	record_ok(&e, items, BATCH_N);
	after = counters_now(&e);
	d = counters_delta(&before, &after);
	ck_assert_int_eq(d.hget, BATCH_N);
	ck_assert_int_eq(d.hset, 0);
	ck_assert_int_eq(d.commands, BATCH_N);
	for (size_t i = 0; i < BATCH_N; i++)
		ck_assert_int_eq(items[i].status, 0);

	/* The next day: one new snapshot each. */
	for (size_t i = 0; i < BATCH_N; i++) {
		items[i].day = TODAY + 1;
		items[i].score = random_score(&rng);
	}
	record_ok(&e, items, BATCH_N);
	ssi_history_init(&h);
	for (size_t i = 0; i < BATCH_N; i += 499) {
		ck_assert_int_eq(ssid_history_load(e.hs, ids[i], &h), 1);
		ck_assert_uint_eq(h.n, 2);
		ck_assert_int_eq(h.entries[0].day, TODAY);
		ck_assert_int_eq(h.entries[1].day, TODAY + 1);
		assert_same_score(&h.entries[1].score, &items[i].score);
	}
	ssi_history_clear(&h);
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
	struct ssid_history_item items[SIM_REPS + 1];
	char ids[SIM_REPS][ID_LEN];
	struct t_rng rng = {.s = 0x500D};
	int32_t first = TODAY - SIM_DAYS + 1;
	long long largest = 0, typical = 0;
	struct ssi_history h;
	struct env e;

	env_open(&e, SSI_HISTORY_RETENTION_DEFAULT, false);
	for (int r = 0; r < SIM_REPS; r++)
		snprintf(ids[r], ID_LEN, "sim-%02d", r);
	for (int32_t d = first; d <= TODAY; d++) {
		size_t n = 0;

		for (int r = 0; r < SIM_REPS; r++) {
			struct ssi_score *today = &truth[r][d - first];

			*today = d > first ? truth[r][d - first - 1] : score_of(0, 0, 0, 0);
			if (!rep_changes(r, d, first))
				continue;
			*today = random_score(&rng);
			items[n++] = (struct ssid_history_item){
			    .user_id = ids[r], .day = d, .score = *today};
		}
		/* A late duplicate of yesterday's score changes nothing. */
		if (d > first)
			items[n++] = (struct ssid_history_item){
			    .user_id = ids[0], .day = d - 1, .score = truth[0][d - first - 1]};
		record_ok(&e, items, n);
		ck_assert_int_eq(items[0].status, 1);
		ck_assert_int_eq(items[n - 1].status, d > first ? 0 : 1);
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
		len = probe_command(&e, "HSTRLEN " PREFIX "u:{%s} h", ids[r]);
		ck_assert_int_eq(len->type, REDIS_REPLY_INTEGER);
		ck_assert_int_eq(len->integer, (long long)ssi_history_encoded_size(&h));
		if (len->integer > largest)
			largest = len->integer;
		if (r == 3)
			typical = len->integer;
		freeReplyObject(len);
		if (r == 0) {
			ck_assert_uint_eq(h.n, SSI_HISTORY_RETENTION_DEFAULT);
		} else if (r == 1) {
			/* Never rewritten since its first day: nothing made it grow. */
			ck_assert_uint_eq(h.n, 1);
			ck_assert_int_eq(h.entries[0].day, first);
		}

		/* As of today, for a reader: every retained day has its score. */
		ck_assert_int_ge(ssi_history_compact(&h, TODAY, SSI_HISTORY_RETENTION_DEFAULT), 0);
		ck_assert_int_eq(h.entries[0].day, TODAY - SSI_HISTORY_RETENTION_DEFAULT + 1);
		for (int32_t d = TODAY - SSI_HISTORY_RETENTION_DEFAULT + 1; d <= TODAY; d++) {
			ck_assert_int_eq(ssi_history_at(&h, d, &sc), 0);
			assert_same_score(&sc, &truth[r][d - first]);
		}
		ck_assert_int_eq(ssi_history_at(&h, TODAY - SSI_HISTORY_RETENTION_DEFAULT, &sc),
				 -ENOENT);
		for (int32_t d = TODAY - ALERT_WIN + 1; d <= TODAY; d++)
			if (truth[r][d - first].total > want_max)
				want_max = truth[r][d - first].total;
		ck_assert_int_eq(ssi_history_max_since(&h, TODAY - ALERT_WIN + 1), want_max);
	}
	printf("history store: after %d days of random scores, %lld bytes for a rep changing on "
	       "~60%% of days, %lld bytes the largest\n",
	       SIM_DAYS, typical, largest);
	ssi_history_clear(&h);
	env_close(&e);
}
END_TEST

/* The history shares the rep's hash with ssid_store's fields and leaves them alone. */
START_TEST (test_beside_the_store) {
	struct ssid_redis_opts o;
	struct ssid_store *store;
	struct ssid_user u;
	struct ssi_score published = score_of(1, 2, 3, 4);
	struct ssid_history_item it = {
	    .user_id = "rep-shared", .day = TODAY, .score = score_of(100, 200, 300, 400)};
	struct ssi_history h;
	char key[256];
	redisReply *r;
	struct env e;

	env_open(&e, SSI_HISTORY_RETENTION_DEFAULT, false);
	o = store_opts(&e);
	ck_assert_int_eq(ssid_store_new(&store, &o), 0);
	ssid_user_init(&u, "rep-shared");
	ssi_state_mark_set(&u.state, 3, 77);
	ssid_store_stage_state(&u, false);
	ssid_store_stage_delivered(&u, &published, 0, "", NULL);
	ck_assert_int_eq(ssid_store_save(store, &u, 1), 0);
	record_ok(&e, &it, 1);
	ck_assert_int_eq(it.status, 1);

	ssid_store_key(store, u.id, key, sizeof(key));
	r = probe_command(&e, "HKEYS %s", key);
	ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
	ck_assert_uint_eq(r->elements, 6); /* s, p, k, a, h and d */
	freeReplyObject(r);
	r = probe_command(&e, "HEXISTS %s " SSID_HISTORY_FIELD, key);
	ck_assert_int_eq(r->integer, 1);
	freeReplyObject(r);

	ssi_state_clear(&u.state);
	u.has_published = false;
	ck_assert_int_eq(ssid_store_load(store, &u, 1), 0);
	ck_assert_int_eq(u.load_status, 0);
	ck_assert_int_eq(ssi_state_mark_get(&u.state, 3), 77);
	ck_assert(u.has_published);
	ck_assert_int_eq(u.published.total, 10);

	ssi_history_init(&h);
	ck_assert_int_eq(ssid_history_load(e.hs, "rep-shared", &h), 1);
	ck_assert_uint_eq(h.n, 1);
	ck_assert_int_eq(h.entries[0].score.total, 1000);
	ck_assert_int_eq(ssid_history_load(e.hs, "rep-nobody", &h), 0);
	ck_assert_uint_eq(h.n, 0);
	ssi_history_clear(&h);
	ssid_user_clear(&u);
	ssid_store_free(store);
	env_close(&e);
}
END_TEST

/* A well-sealed blob of a newer version, as a newer ssid would write it. */
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

START_TEST (test_unreadable_left_alone) {
	struct ssid_history_item items[] = {
	    {.user_id = "rep-corrupt", .day = TODAY, .score = score_of(1, 1, 1, 1)},
	    {.user_id = "rep-newer", .day = TODAY, .score = score_of(2, 2, 2, 2)},
	    {.user_id = "rep-fine", .day = TODAY, .score = score_of(3, 3, 3, 3)},
	    {.user_id = "rep-corrupt", .day = TODAY + 1, .score = score_of(4, 4, 4, 4)},
	};
	uint8_t newer[16];
	size_t newer_len = newer_blob(newer);
	struct ssi_history h;
	redisReply *r;
	struct env e;

	env_open(&e, SSI_HISTORY_RETENTION_DEFAULT, false);
	freeReplyObject(
	    probe_command(&e, "HSET " PREFIX "u:{rep-corrupt} h %b", "SH\x01junk", (size_t)7));
	freeReplyObject(probe_command(&e, "HSET " PREFIX "u:{rep-newer} h %b", newer, newer_len));
	record_ok(&e, items, 4);
	ck_assert_int_eq(items[0].status, -EBADMSG);
	ck_assert_int_eq(items[1].status, -EPROTONOSUPPORT);
	ck_assert_int_eq(items[2].status, 1);
	ck_assert_int_eq(items[3].status, -EBADMSG);
	assert_stored(&e, "rep-corrupt", "SH\x01junk", 7);
	assert_stored(&e, "rep-newer", newer, newer_len);

	ssi_history_init(&h);
	ck_assert_int_eq(ssid_history_load(e.hs, "rep-corrupt", &h), -EBADMSG);
	ck_assert_int_eq(ssid_history_load(e.hs, "rep-newer", &h), -EPROTONOSUPPORT);
	ck_assert_uint_eq(h.n, 0);
	ck_assert_int_eq(ssid_history_load(e.hs, "rep-fine", &h), 1);
	ck_assert_int_eq(h.entries[0].score.total, 12);

	/* A key of another type fails the batch, and the connection still serves the next. */
	freeReplyObject(probe_command(&e, "SET " PREFIX "u:{rep-string} x"));
	items[0].user_id = "rep-string";
	ck_assert_int_eq(ssid_history_record_batch(e.hs, items, 3), -EIO);
	ck_assert_msg(strstr(ssid_history_errstr(e.hs), "WRONGTYPE"), "%s",
		      ssid_history_errstr(e.hs));
	ck_assert_int_eq(ssid_history_load(e.hs, "rep-string", &h), -EIO);
	items[0].user_id = "rep-other";
	record_ok(&e, items, 3);
	ck_assert_int_eq(items[0].status, 1);
	r = probe_command(&e, "GET " PREFIX "u:{rep-string}");
	ck_assert_str_eq(r->str, "x");
	freeReplyObject(r);
	ssi_history_clear(&h);
	env_close(&e);
}
END_TEST

/* Several items of one rep in a batch: one read, one write, applied in order. */
START_TEST (test_one_rep_many_items) {
	struct ssid_history_item items[] = {
	    {.user_id = "rep-a", .day = TODAY - 1, .score = score_of(10, 0, 0, 0)},
	    {.user_id = "rep-b", .day = TODAY - 1, .score = score_of(20, 0, 0, 0)},
	    {.user_id = "rep-a", .day = TODAY, .score = score_of(30, 0, 0, 0)},
	    {.user_id = "rep-a", .day = TODAY, .score = score_of(40, 0, 0, 0)},
	    {.user_id = "rep-a", .day = TODAY - 400, .score = score_of(50, 0, 0, 0)},
	};
	struct counters before, after, d;
	struct ssi_history h;
	struct env e;

	env_open(&e, SSI_HISTORY_RETENTION_DEFAULT, false);
	before = counters_now(&e);
	record_ok(&e, items, 5);
	after = counters_now(&e);
	d = counters_delta(&before, &after);
	ck_assert_int_eq(d.hget, 2);
	ck_assert_int_eq(d.hset, 2);
	ck_assert_int_eq(d.commands, 4);
	ck_assert_int_eq(items[0].status, 1);
	ck_assert_int_eq(items[2].status, 1);
	ck_assert_int_eq(items[3].status, 1);
	ck_assert_int_eq(items[4].status, 0);

	ssi_history_init(&h);
	ck_assert_int_eq(ssid_history_load(e.hs, "rep-a", &h), 1);
	ck_assert_uint_eq(h.n, 2);
	ck_assert_int_eq(h.entries[0].day, TODAY - 1);
	ck_assert_int_eq(h.entries[0].score.total, 10);
	ck_assert_int_eq(h.entries[1].day, TODAY);
	ck_assert_int_eq(h.entries[1].score.total, 40);
	ssi_history_clear(&h);
	env_close(&e);
}
END_TEST

START_TEST (test_refuses_bad_items) {
	char long_id[SSI_ID_MAX + 2];
	struct ssid_history_item good = {.user_id = "rep-a", .day = TODAY, .score = {{0}, 0}};
	struct ssid_history_item bad[] = {good, good, good, good, good};
	struct counters before, after;
	struct ssid_redis_opts o;
	struct ssid_history *hs;
	struct env e;

	memset(long_id, 'x', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	bad[0].user_id = NULL;
	bad[1].user_id = "";
	bad[2].user_id = long_id;
	bad[3].score.total = 1;
	bad[4].day = -1;

	env_open(&e, SSI_HISTORY_RETENTION_DEFAULT, false);
	before = counters_now(&e);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ssid_history_item pair[2] = {good, bad[i]};

		ck_assert_int_eq(ssid_history_record_batch(e.hs, pair, 2), -EINVAL);
	}
	after = counters_now(&e);
	ck_assert_int_eq(counters_delta(&before, &after).commands, 0);
	ck_assert_int_eq(ssid_history_record_batch(e.hs, NULL, 0), 0);

	o = store_opts(&e);
	ck_assert_int_eq(ssid_history_new(&hs, &o, 0), -EINVAL);
	ck_assert_int_eq(ssid_history_new(&hs, &o, SSI_HISTORY_RETENTION_MAX + 1), -EINVAL);
	ck_assert_int_eq(ssid_history_new(&hs, &o, SSI_HISTORY_RETENTION_MAX), 0);
	ssid_history_free(hs);
	ssid_history_free(NULL);
	env_close(&e);
}
END_TEST

/* Redis goes away between two batches: an error, then the next call reconnects. */
START_TEST (test_reconnects) {
	struct ssid_history_item it = {
	    .user_id = "rep-r", .day = TODAY, .score = score_of(5, 5, 5, 5)};
	struct ssi_history h;
	char dir[PATH_MAX];
	struct env e;

	env_open(&e, SSI_HISTORY_RETENTION_DEFAULT, true);
	record_ok(&e, &it, 1);
	redisFree(e.probe);
	e.probe = NULL;
	ck_assert_int_eq(fx_redis_stop(&e.redis), 0);

	it.day = TODAY + 1;
	it.score = score_of(6, 6, 6, 6);
	ck_assert_int_eq(ssid_history_record_batch(e.hs, &it, 1), -EIO);
	ck_assert_ptr_nonnull(ssid_history_errstr(e.hs));
	ck_assert_int_ne(ssid_history_ping(e.hs), 0);

	ck_assert_int_eq(fx_redis_start(&e.redis, fx_path(dir, sizeof(dir), "redis"), true), 0);
	e.probe = fx_redis_peek(&e.redis);
	record_ok(&e, &it, 1);
	ck_assert_int_eq(it.status, 1);
	ssi_history_init(&h);
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
	tcase_add_test(tc, test_unreadable_left_alone);
	tcase_add_test(tc, test_one_rep_many_items);
	tcase_add_test(tc, test_refuses_bad_items);
	tcase_add_test(tc, test_reconnects);
	suite_add_tcase(s, tc);
	return s;
}
