/*
 * ssid_rank_read against a real redis-server, over ranks written by the
 * daemon's own writer (ssid_rank_apply) across several partitions, checked
 * against a plain in-test oracle of the reps: the partition list, records
 * found in the partition they were written to, unknown users, segments
 * merged over the partitions (sizes, sums, histograms, top lists with ties),
 * totals of known and unknown ids, walks over every record (several HSCAN
 * steps per partition), and data that is not ssid_rank's (-EBADMSG, the
 * connection kept in step), Redis down (-EIO).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <hiredis/hiredis.h>

#include "fixture.h"
#include "ssi_rank.h"
#include "ssi_wire.h"
#include "ssid_rank.h"
#include "ssid_rank_read.h"
#include "ssid_store.h"
#include "rank_util.h"
#include "suites.h"

#define TOP_N 10 /* the writer's rank.top_n: the top lists stored per partition */

static struct fx_redis redis;

static void setup(void)
{
	fx_redis_setup(&redis);
}

static void teardown(void)
{
	fx_redis_teardown(&redis);
}

/* ---- the reps and their oracle ----------------------------------------------- */

struct rep {
	char id[32];
	int32_t partition;
	const char *seg[SSI_SEG__COUNT];
	struct ssi_score score;
};

static const char *const tenants[] = {"acme", "globex", ""};
static const char *const teams[] = {"emea", "apac", ""};
static const char *const industries[] = {"software", "retail", "", "a:b {c}"};

/* n reps over the partitions in parts[0..nparts), coarse totals (many ties). */
static void make_reps(struct rep *reps, size_t n, const int32_t *parts, size_t nparts,
		      uint64_t seed)
{
	struct t_rng rng = {.s = seed};

	for (size_t i = 0; i < n; i++) {
		struct rep *r = &reps[i];
		int rest;

		snprintf(r->id, sizeof(r->id), "rep-%05zu", i);
		r->partition = parts[t_below(&rng, nparts)];
		r->seg[SSI_SEG_TENANT] = tenants[t_below(&rng, 3)];
		r->seg[SSI_SEG_TEAM] = teams[t_below(&rng, 3)];
		r->seg[SSI_SEG_INDUSTRY] = industries[t_below(&rng, 4)];
		rest = (int)t_below(&rng, 41) * 250;
		memset(&r->score, 0, sizeof(r->score));
		r->score.total = rest;
		for (int p = 0; p < SSI_PILLAR__COUNT; p++) {
			r->score.pillar[p] = rest > 2500 ? 2500 : rest;
			rest -= r->score.pillar[p];
		}
	}
}

/* Write the reps through ssid_rank, as the daemon does. */
static void write_reps(const struct rep *reps, size_t n)
{
	struct ssid_redis_opts so = fx_redis_opts(&redis);
	struct ssid_rank_opts ro = {.min_members = 1, .top_n = TOP_N, .refresh_ms = 0};
	struct ssid_rank_change *ch = calloc(n, sizeof(*ch));
	struct ssid_rank *r = NULL;

	ck_assert_ptr_nonnull(ch);
	ck_assert_int_eq(ssid_rank_new(&r, &so, &ro), 0);
	for (size_t i = 0; i < n; i++) {
		ch[i].user_id = reps[i].id;
		ch[i].partition = reps[i].partition;
		memcpy(ch[i].segment, reps[i].seg, sizeof(ch[i].segment));
		ch[i].score = reps[i].score;
	}
	ck_assert_msg(rank_apply_at(&so, r, ch, n, true) == 0, "%s", ssid_rank_errstr(r));
	ssid_rank_free(r);
	free(ch);
}

static bool known(const char *s)
{
	return s && s[0];
}

/* Whether a rep is in the segment of kind whose values are seg (the rules of ssid_rank.h). */
static bool rep_in(const struct rep *r, enum ssid_rank_kind kind, const char *const seg[])
{
	switch (kind) {
	case SSID_RANK_GLOBAL:
		return true;
	case SSID_RANK_INDUSTRY:
		return known(r->seg[SSI_SEG_INDUSTRY]) &&
		       strcmp(r->seg[SSI_SEG_INDUSTRY], seg[SSI_SEG_INDUSTRY]) == 0;
	case SSID_RANK_TENANT:
		return known(r->seg[SSI_SEG_TENANT]) &&
		       strcmp(r->seg[SSI_SEG_TENANT], seg[SSI_SEG_TENANT]) == 0;
	default:
		return known(r->seg[SSI_SEG_TENANT]) && known(r->seg[SSI_SEG_TEAM]) &&
		       strcmp(r->seg[SSI_SEG_TENANT], seg[SSI_SEG_TENANT]) == 0 &&
		       strcmp(r->seg[SSI_SEG_TEAM], seg[SSI_SEG_TEAM]) == 0;
	}
}

static int by_member_order(const void *x, const void *y)
{
	const struct ssi_rank_member *a = x, *b = y;

	return ssi_rank_member_before(a, b) ? -1 : ssi_rank_member_before(b, a) ? 1 : 0;
}

/* The merged aggregate of a segment must be the oracle's, top list included. */
static void check_segment(const struct rep *reps, size_t n, enum ssid_rank_kind kind,
			  const char *const seg[], const struct ssi_rankagg *a, size_t top_keep)
{
	struct ssi_rank_member *m = calloc(n ? n : 1, sizeof(*m));
	int64_t sum[SSI_RANK_SUMS] = {0};
	size_t nm = 0;

	ck_assert_ptr_nonnull(m);
	for (size_t i = 0; i < n; i++) {
		if (!rep_in(&reps[i], kind, seg))
			continue;
		memcpy(m[nm].user_id, reps[i].id, sizeof(reps[i].id));
		m[nm++].total = reps[i].score.total;
		sum[0] += reps[i].score.total;
		for (int p = 0; p < SSI_PILLAR__COUNT; p++)
			sum[1 + p] += reps[i].score.pillar[p];
	}
	ck_assert_int_eq(a->n, (int64_t)nm);
	ck_assert_uint_eq(a->hist.members, nm);
	for (int s = 0; s < SSI_RANK_SUMS; s++)
		ck_assert_int_eq(a->sum[s], sum[s]);
	for (int v = -1; v <= SSI_RANK_MAX_TOTAL; v += 125) {
		uint64_t above = 0, at = 0;

		for (size_t i = 0; i < nm; i++) {
			above += m[i].total > v;
			at += m[i].total == v;
		}
		ck_assert_uint_eq(ssi_hist_above(&a->hist, v), above);
		ck_assert_uint_eq(ssi_hist_get(&a->hist, v), at);
	}
	qsort(m, nm, sizeof(*m), by_member_order);
	ck_assert_uint_eq(a->top.n, nm < top_keep ? nm : top_keep);
	for (size_t i = 0; i < a->top.n; i++) {
		ck_assert_str_eq(a->top.m[i].user_id, m[i].user_id);
		ck_assert_int_eq(a->top.m[i].total, m[i].total);
	}
	free(m);
}

/* ---- the tests ------------------------------------------------------------------ */

static const int32_t written_parts[] = {0, 2, 7};
#define NWRITTEN (sizeof(written_parts) / sizeof(written_parts[0]))

START_TEST (rank_read_records) {
	enum { N = 120 };
	static struct rep reps[N];
	struct ssid_redis *rd = fx_redis_client(&redis);
	struct ssi_rank_record rec;
	int32_t *parts = NULL;
	size_t nparts = 99;

	/* Nothing ranked: no partitions, nobody. */
	ck_assert_int_eq(ssid_rank_read_partitions(rd, &parts, &nparts), 0);
	ck_assert_ptr_null(parts);
	ck_assert_uint_eq(nparts, 0);
	ck_assert_int_eq(ssid_rank_read_record(rd, "rep-00000", &rec), 0);

	make_reps(reps, N, written_parts, NWRITTEN, 0x5eed0101);
	write_reps(reps, N);
	ck_assert_int_eq(ssid_rank_read_partitions(rd, &parts, &nparts), 0);
	ck_assert_uint_eq(nparts, NWRITTEN);
	for (size_t i = 0; i < NWRITTEN; i++)
		ck_assert_int_eq(parts[i], written_parts[i]);
	for (size_t i = 0; i < N; i++) {
		ck_assert_int_eq(ssid_rank_read_record(rd, reps[i].id, &rec), 1);
		ck_assert(memcmp(&rec.score, &reps[i].score, sizeof(rec.score)) == 0);
		for (int s = 0; s < SSI_SEG__COUNT; s++)
			ck_assert_str_eq(rec.segment[s], reps[i].seg[s]);
	}
	/* Unknown users. */
	ck_assert_int_eq(ssid_rank_read_record(rd, "nobody", &rec), 0);
	ck_assert_int_eq(rec.score.total, 0);
	free(parts);
	ssid_redis_free(rd);
}
END_TEST

START_TEST (rank_read_segments) {
	enum { N = 400 };
	static struct rep reps[N];
	struct ssid_redis *rd = fx_redis_client(&redis);
	struct ssi_rankagg a;
	int32_t *parts = NULL;
	size_t nparts = 0;
	const char *none[SSI_SEG__COUNT] = {0};

	make_reps(reps, N, written_parts, NWRITTEN, 0x5eed0102);
	write_reps(reps, N);
	ck_assert_int_eq(ssid_rank_read_partitions(rd, &parts, &nparts), 0);
	ck_assert_uint_eq(nparts, NWRITTEN);
	ssi_rankagg_init(&a);
	/* Every segment some rep is in, each with a short and a full top list. */
	for (size_t i = 0; i < N; i++)
		for (int k = 0; k < SSID_RANK__COUNT; k++) {
			const size_t keeps[] = {1, 4, TOP_N};
			size_t keep = keeps[i % 3];

			if (i % 17 && k == SSID_RANK_GLOBAL)
				continue; /* the global segment a few times is enough */
			if (ssid_rank_read_segment(rd, parts, nparts, (enum ssid_rank_kind)k,
						   reps[i].seg, keep, &a) == -ENOENT) {
				ck_assert(!rep_in(&reps[i], (enum ssid_rank_kind)k, reps[i].seg));
				continue;
			}
			check_segment(reps, N, (enum ssid_rank_kind)k, reps[i].seg, &a, keep);
		}
	/* No top list asked for; a segment nobody is in is empty; no segment at all. */
	ck_assert_int_eq(ssid_rank_read_segment(rd, parts, nparts, SSID_RANK_GLOBAL, none, 0, &a),
			 0);
	ck_assert_int_eq(a.n, N);
	ck_assert_uint_eq(a.top.n, 0);
	{
		const char *nowhere[SSI_SEG__COUNT] = {[SSI_SEG_INDUSTRY] = "nowhere"};

		ck_assert_int_eq(ssid_rank_read_segment(rd, parts, nparts, SSID_RANK_INDUSTRY,
							nowhere, TOP_N, &a),
				 0);
		ck_assert_int_eq(a.n, 0);
		ck_assert_uint_eq(a.hist.members, 0);
		ck_assert_uint_eq(a.top.n, 0);
	}
	ck_assert_int_eq(ssid_rank_read_segment(rd, parts, nparts, SSID_RANK_TEAM, none, 1, &a),
			 -ENOENT);
	ck_assert_int_eq(a.n, 0);
	ssi_rankagg_clear(&a);
	free(parts);
	ssid_redis_free(rd);
}
END_TEST

START_TEST (rank_read_totals) {
	enum { N = 90 };
	static struct rep reps[N];
	struct ssid_redis *rd = fx_redis_client(&redis);
	const char *ids[2 * N + 1];
	int totals[2 * N + 1];
	char unknown[N][24];
	int32_t *parts = NULL;
	size_t nparts = 0, n = 0;

	make_reps(reps, N, written_parts, NWRITTEN, 0x5eed0103);
	write_reps(reps, N);
	ck_assert_int_eq(ssid_rank_read_partitions(rd, &parts, &nparts), 0);
	/* Known and unknown ids interleaved. */
	for (size_t i = 0; i < N; i++) {
		snprintf(unknown[i], sizeof(unknown[i]), "stranger-%zu", i);
		ids[n++] = reps[i].id;
		ids[n++] = unknown[i];
	}
	ids[n++] = reps[0].id; /* twice */
	for (size_t i = 0; i < n; i++)
		totals[i] = 12345;
	ck_assert_int_eq(ssid_store_queue_totals(rd, ids, n), 0);
	ck_assert_int_eq(ssid_store_take_totals(rd, n, totals), 0);
	for (size_t i = 0; i < N; i++) {
		ck_assert_int_eq(totals[2 * i], reps[i].score.total);
		ck_assert_int_eq(totals[2 * i + 1], -1);
	}
	ck_assert_int_eq(totals[2 * N], reps[0].score.total);
	ck_assert_int_eq(ssid_store_queue_totals(rd, ids, 0), 0);
	ck_assert_int_eq(ssid_store_take_totals(rd, 0, totals), 0);
	free(parts);
	ssid_redis_free(rd);
}
END_TEST

struct seen {
	size_t n, calls;
	unsigned char *count; /* per rep */
	const struct rep *reps;
	size_t nreps;
	int stop_after; /* < 0: never */
};

static int count_record(void *ctx, const char *user_id, const struct ssi_rank_record *rec)
{
	struct seen *s = ctx;
	unsigned long i;
	char *end;

	s->calls++;
	if (s->stop_after >= 0 && s->calls > (size_t)s->stop_after)
		return -ECANCELED;
	ck_assert(strncmp(user_id, "rep-", 4) == 0);
	i = strtoul(user_id + 4, &end, 10);
	ck_assert(*end == '\0' && i < s->nreps);
	ck_assert(memcmp(&rec->score, &s->reps[i].score, sizeof(rec->score)) == 0);
	ck_assert_str_eq(rec->segment[SSI_SEG_INDUSTRY], s->reps[i].seg[SSI_SEG_INDUSTRY]);
	if (s->count[i]++ == 0)
		s->n++;
	return 0;
}

static int count_only(void *ctx, const char *user_id, const struct ssi_rank_record *rec)
{
	(void)user_id;
	(void)rec;
	((struct seen *)ctx)->calls++;
	return 0;
}

/* Enough reps that every partition's walk takes several pipelines. */
START_TEST (rank_read_each) {
	enum { N = 4000 };
	static struct rep reps[N];
	static unsigned char count[N];
	struct ssid_redis *rd = fx_redis_client(&redis);
	redisContext *c = fx_redis_peek(&redis);
	struct seen s = {.count = count, .reps = reps, .nreps = N, .stop_after = -1};
	struct ssi_rank_record rec;
	long long hmget_before, hmget;
	int32_t *parts = NULL;
	size_t nparts = 0;
	redisReply *reply;

	make_reps(reps, N, written_parts, NWRITTEN, 0x5eed0104);
	write_reps(reps, N);
	ck_assert_int_eq(ssid_rank_read_partitions(rd, &parts, &nparts), 0);
	reply = redisCommand(c, "INFO commandstats");
	ck_assert_ptr_nonnull(reply);
	hmget_before = strtoll(strstr(reply->str, "cmdstat_hmget:calls=") + 20, NULL, 10);
	freeReplyObject(reply);
	ck_assert_int_eq(ssid_rank_read_each(rd, parts, nparts, count_record, &s), 0);
	ck_assert_uint_eq(s.n, N); /* everyone, none twice (no writes during the walk) */
	ck_assert_uint_eq(s.calls, N);
	reply = redisCommand(c, "INFO commandstats");
	ck_assert_ptr_nonnull(reply);
	hmget = strtoll(strstr(reply->str, "cmdstat_hmget:calls=") + 20, NULL, 10) - hmget_before;
	freeReplyObject(reply);
	ck_assert_int_eq(hmget, N); /* a rep's hash each */

	/* A callback that stops: its value, and the connection serves the next call. */
	memset(count, 0, sizeof(count));
	s = (struct seen){.count = count, .reps = reps, .nreps = N, .stop_after = 5};
	ck_assert_int_eq(ssid_rank_read_each(rd, parts, nparts, count_record, &s), -ECANCELED);
	ck_assert_uint_eq(s.n, 5);
	ck_assert_int_eq(ssid_rank_read_record(rd, reps[3].id, &rec), 1);
	/* No partitions: nothing to walk. */
	s.calls = 0;
	ck_assert_int_eq(ssid_rank_read_each(rd, parts, 0, count_record, &s), 0);
	ck_assert_uint_eq(s.calls, 0);
	free(parts);
	ssid_redis_free(rd);
	redisFree(c);
}
END_TEST

/* A valid frame of a newer version than this build reads. */
/* An empty state as a newer ssid would write it: its version one up, its CRC right. */
static size_t newer_state(uint8_t *buf, size_t cap)
{
	struct ssi_state st;
	long len;
	uint32_t crc;

	ssi_state_init(&st);
	len = ssi_state_encode(&st, buf, cap);
	ssi_state_clear(&st);
	ck_assert_int_gt(len, SSI_WIRE_TRAILER_BYTES + 2);
	buf[2]++;
	crc = ssi_crc32c(buf, (size_t)len - SSI_WIRE_TRAILER_BYTES);
	for (int i = 0; i < 4; i++)
		buf[(size_t)len - SSI_WIRE_TRAILER_BYTES + (size_t)i] = (uint8_t)(crc >> (8 * i));
	return (size_t)len;
}

START_TEST (rank_read_unreadable) {
	enum { N = 30 };
	static struct rep reps[N];
	struct ssid_redis *rd = fx_redis_client(&redis);
	redisContext *c = fx_redis_peek(&redis);
	struct ssi_rank_record rec;
	struct ssi_rankagg a;
	char akey[64], pkey[64], field[16];
	const char *ids[2];
	int totals[2];
	int32_t *parts = NULL;
	size_t nparts = 0;
	struct seen s = {.stop_after = -1};
	uint8_t frame[SSI_STATE_ENCODED_MAX];
	size_t flen;

	make_reps(reps, N, written_parts, NWRITTEN, 0x5eed0105);
	write_reps(reps, N);
	ck_assert_int_eq(ssid_rank_read_partitions(rd, &parts, &nparts), 0);
	ssi_rankagg_init(&a);
	ssid_rank_key_aggs("ssi:", 7, akey, sizeof(akey));
	ssid_rank_key_parts("ssi:", pkey, sizeof(pkey));

	/* A record that is not one (p unreadable): read alone, among totals, in a walk. */
	fx_redis_peek_ok(c, redisCommand(c, "HSET ssi:u:{intruder} p %s s %s", "v2 garbage", "x"));
	fx_redis_peek_ok(c, redisCommand(c, "APPEND ssi:ro:2 %b", "\010intruder", (size_t)9));
	ck_assert_int_eq(ssid_rank_read_record(rd, "intruder", &rec), -EBADMSG);
	ck_assert_msg(strstr(ssid_redis_errstr(rd), "rank record 'intruder' (p and s of its "
						    "hash): unreadable"),
		      "%s", ssid_redis_errstr(rd));
	ids[0] = reps[0].id;
	ids[1] = "intruder";
	ck_assert_int_eq(ssid_store_queue_totals(rd, ids, 2), 0);
	ck_assert_int_eq(ssid_store_take_totals(rd, 2, totals), 0);
	ck_assert(totals[0] == reps[0].score.total && totals[1] == -1);
	/* A walk leaves it out, as ranks do: it is no known rep. */
	ck_assert_int_eq(ssid_rank_read_each(rd, parts, nparts, count_only, &s), 0);
	ck_assert_uint_eq(s.calls, N);
	/* The connection stayed in step: the next read is right. */
	ck_assert_int_eq(ssid_rank_read_record(rd, reps[1].id, &rec), 1);
	ck_assert_int_eq(rec.score.total, reps[1].score.total);

	/* A state of a newer ssid. */
	flen = newer_state(frame, sizeof(frame));
	fx_redis_peek_ok(c, redisCommand(c, "HSET ssi:u:{intruder} p %s s %b", "v1 100 25 25 25 25",
					 frame, flen));
	ck_assert_int_eq(ssid_rank_read_record(rd, "intruder", &rec), -EBADMSG);
	ck_assert_msg(strstr(ssid_redis_errstr(rd), "written by a newer ssid"), "%s",
		      ssid_redis_errstr(rd));
	fx_redis_peek_ok(c, redisCommand(c, "DEL ssi:u:{intruder}"));

	/* An aggregate that is not one. */
	ck_assert_int_eq(
	    ssid_rank_segment_field(SSID_RANK_GLOBAL, reps[0].seg, field, sizeof(field)), 1);
	fx_redis_peek_ok(c, redisCommand(c, "HSET %s %s %s", akey, field, "SA\x01 garbage"));
	ck_assert_int_eq(
	    ssid_rank_read_segment(rd, parts, nparts, SSID_RANK_GLOBAL, reps[0].seg, 3, &a),
	    -EBADMSG);
	ck_assert_int_eq(a.n, 0);
	ck_assert_msg(strstr(ssid_redis_errstr(rd), "segment 'g' in ssi:rk:{p7}:s"), "%s",
		      ssid_redis_errstr(rd));
	/* A key of the wrong type. */
	fx_redis_peek_ok(c, redisCommand(c, "DEL %s", akey));
	fx_redis_peek_ok(c, redisCommand(c, "SET %s x", akey));
	ck_assert_int_eq(
	    ssid_rank_read_segment(rd, parts, nparts, SSID_RANK_GLOBAL, reps[0].seg, 3, &a),
	    -EBADMSG);
	ck_assert_msg(strstr(ssid_redis_errstr(rd), "WRONGTYPE"), "%s", ssid_redis_errstr(rd));

	/* A partition list with a member that is not a partition, then not a set. */
	fx_redis_peek_ok(c, redisCommand(c, "SADD %s p3", pkey));
	free(parts);
	ck_assert_int_eq(ssid_rank_read_partitions(rd, &parts, &nparts), -EBADMSG);
	ck_assert_ptr_null(parts);
	ck_assert_uint_eq(nparts, 0);
	fx_redis_peek_ok(c, redisCommand(c, "DEL %s", pkey));
	fx_redis_peek_ok(c, redisCommand(c, "SET %s 1", pkey));
	ck_assert_int_eq(ssid_rank_read_partitions(rd, &parts, &nparts), -EBADMSG);

	/* Redis gone: -EIO. */
	ck_assert_int_eq(fx_redis_stop(&redis), 0);
	ck_assert_int_eq(ssid_rank_read_partitions(rd, &parts, &nparts), -EIO);
	ck_assert_int_eq(ssid_rank_read_record(rd, "x", &rec), -EIO);
	ck_assert_int_eq(ssid_rank_read_each(rd, written_parts, NWRITTEN, count_only, &s), -EIO);
	ssi_rankagg_clear(&a);
	ssid_redis_free(rd);
	redisFree(c);
}
END_TEST

Suite *rank_read_suite(void)
{
	Suite *s = suite_create("rank_read");
	TCase *tc = tcase_create("rank_read");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, rank_read_records);
	tcase_add_test(tc, rank_read_segments);
	tcase_add_test(tc, rank_read_totals);
	tcase_add_test(tc, rank_read_each);
	tcase_add_test(tc, rank_read_unreadable);
	suite_add_tcase(s, tc);
	return s;
}
