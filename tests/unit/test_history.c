/*
 * ssi_history: recording, retention, queries, and the binary form (round
 * trips, canonical form, sizes, refusal of every damaged or foreign blob).
 *
 * One module's suite, kept whole: ssi_history.c, whose binary form is its own.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ssi_history.h"
#include "ssi_state.h"
#include "suites.h"
#include "testutil.h"

/* 2026-11-20, the day of T_NOW. */
#define TODAY	   20777
#define BLOB_SLACK 16

static uint8_t blob[SSI_HISTORY_ENCODED_MAX + BLOB_SLACK];
static uint8_t again[SSI_HISTORY_ENCODED_MAX + BLOB_SLACK];

static struct ssi_score score_of(int brand, int people, int insights, int relationships)
{
	struct ssi_score sc = {.pillar = {brand, people, insights, relationships}};

	sc.total = brand + people + insights + relationships;
	return sc;
}

/* A score whose pillars are all v: total 4 v. */
static struct ssi_score flat(int v)
{
	return score_of(v, v, v, v);
}

static int record_score(struct ssi_history *h, int32_t day, int brand, int people, int insights,
			int relationships)
{
	struct ssi_score sc = score_of(brand, people, insights, relationships);

	return ssi_history_record(h, day, &sc);
}

static int record_flat(struct ssi_history *h, int32_t day, int v)
{
	return record_score(h, day, v, v, v, v);
}

static void assert_entry(const struct ssi_history *h, uint32_t i, int32_t day, int total)
{
	ck_assert_uint_lt(i, h->n);
	ck_assert_int_eq(h->entries[i].day, day);
	ck_assert_int_eq(h->entries[i].score.total, total);
}

static int total_at(const struct ssi_history *h, int32_t day)
{
	struct ssi_score sc;
	int r = ssi_history_at(h, day, &sc);

	return r < 0 ? r : sc.total;
}

static void assert_empty(const struct ssi_history *h)
{
	ck_assert_uint_eq(h->n, 0);
	ck_assert_ptr_null(h->entries);
	ck_assert_uint_eq(h->cap, 0);
}

/* Encode h into blob, checking the size agrees; returns the length. */
static size_t encode(const struct ssi_history *h)
{
	size_t size = ssi_history_encoded_size(h);
	long len = ssi_history_encode(h, blob, sizeof(blob));

	ck_assert_int_gt(len, 0);
	ck_assert_uint_eq((size_t)len, size);
	ck_assert_uint_le(size, SSI_HISTORY_ENCODED_MAX);
	return size;
}

/* "SH" version body CRC into out; returns the length. */
static size_t seal(uint8_t version, const uint8_t *body, size_t body_len, uint8_t *out)
{
	uint32_t crc;

	out[0] = 'S';
	out[1] = 'H';
	out[2] = version;
	memcpy(out + 3, body, body_len);
	crc = ssi_crc32c(out, 3 + body_len);
	for (int i = 0; i < 4; i++)
		out[3 + body_len + i] = (uint8_t)(crc >> (8 * i));
	return 3 + body_len + 4;
}

static int decode_body(const uint8_t *body, size_t body_len, struct ssi_history *h)
{
	uint8_t buf[64];

	ck_assert_uint_le(body_len + 7, sizeof(buf));
	return ssi_history_decode(h, buf, seal(SSI_HISTORY_VERSION, body, body_len, buf));
}

START_TEST (test_record_replace) {
	struct ssi_history h;
	struct ssi_score sc;

	ssi_history_init(&h);
	ck_assert_int_eq(h.retention_days, SSI_HISTORY_RETENTION_DEFAULT);
	ck_assert_int_eq(total_at(&h, TODAY), -ENOENT);

	ck_assert_int_eq(record_flat(&h, TODAY, 1000), 1);
	ck_assert_int_eq(record_flat(&h, TODAY, 1000), 0);
	ck_assert_int_eq(record_score(&h, TODAY, 1200, 1100, 900, 800), 1);
	ck_assert_uint_eq(h.n, 1);
	assert_entry(&h, 0, TODAY, 4000);
	ck_assert_int_eq(ssi_history_at(&h, TODAY, &sc), 0);
	ck_assert_int_eq(sc.pillar[SSI_BRAND], 1200);
	ck_assert_int_eq(sc.pillar[SSI_PEOPLE], 1100);
	ck_assert_int_eq(sc.pillar[SSI_INSIGHTS], 900);
	ck_assert_int_eq(sc.pillar[SSI_RELATIONSHIPS], 800);

	ck_assert_int_eq(record_flat(&h, TODAY + 3, 500), 1);
	ck_assert_uint_eq(h.n, 2);
	ck_assert_int_eq(total_at(&h, TODAY - 1), -ENOENT);
	ck_assert_int_eq(total_at(&h, TODAY), 4000);
	ck_assert_int_eq(total_at(&h, TODAY + 2), 4000);
	ck_assert_int_eq(total_at(&h, TODAY + 3), 2000);
	ck_assert_int_eq(total_at(&h, TODAY + 300), 2000);

	/* A snapshot equal to the one before is kept: the day's score was recorded. */
	ck_assert_int_eq(record_flat(&h, TODAY + 4, 500), 1);
	ck_assert_uint_eq(h.n, 3);
	ssi_history_clear(&h);
	assert_empty(&h);
	ssi_history_clear(NULL);
}
END_TEST

START_TEST (test_out_of_order) {
	static const int32_t days[] = {TODAY, TODAY - 5, TODAY - 3, TODAY - 5, TODAY - 4};
	static const int totals[] = {4000, 400, 1200, 800, 2000};
	struct ssi_history_entry pts[10];
	struct ssi_history h;

	ssi_history_init(&h);
	for (size_t i = 0; i < sizeof(days) / sizeof(days[0]); i++)
		ck_assert_int_eq(record_flat(&h, days[i], totals[i] / 4), 1);
	ck_assert_uint_eq(h.n, 4);
	assert_entry(&h, 0, TODAY - 5, 800);
	assert_entry(&h, 1, TODAY - 4, 2000);
	assert_entry(&h, 2, TODAY - 3, 1200);
	assert_entry(&h, 3, TODAY, 4000);

	ck_assert_int_eq(ssi_history_get(&h, TODAY - 7, TODAY + 1, pts, 10), 7);
	for (int k = 0; k < 7; k++)
		ck_assert_int_eq(pts[k].day, TODAY - 5 + k);
	ck_assert_int_eq(pts[0].score.total, 800);
	ck_assert_int_eq(pts[1].score.total, 2000);
	ck_assert_int_eq(pts[2].score.total, 1200);
	ck_assert_int_eq(pts[3].score.total, 1200);
	ck_assert_int_eq(pts[4].score.total, 1200);
	ck_assert_int_eq(pts[5].score.total, 4000);
	ck_assert_int_eq(pts[6].score.total, 4000);
	ssi_history_clear(&h);
}
END_TEST

START_TEST (test_refuses_invalid) {
	struct ssi_history h;
	struct ssi_score bad_total = flat(100);

	ssi_history_init(&h);
	ck_assert_int_eq(record_flat(&h, TODAY, 100), 1);
	bad_total.total = 401;
	ck_assert_int_eq(ssi_history_record(&h, TODAY, &bad_total), -EINVAL);
	ck_assert_int_eq(record_score(&h, TODAY, 2501, 0, 0, 0), -EINVAL);
	ck_assert_int_eq(record_score(&h, TODAY, 0, -1, 0, 0), -EINVAL);
	ck_assert_int_eq(record_flat(&h, -1, 1), -EINVAL);
	ck_assert_int_eq(record_flat(&h, SSI_HISTORY_DAY_MAX + 1, 1), -EINVAL);
	ck_assert(!ssi_history_snapshot_is_valid(TODAY, &bad_total));
	ck_assert(!ssi_history_snapshot_is_valid(-1, &h.entries[0].score));
	ck_assert(ssi_history_snapshot_is_valid(TODAY, &h.entries[0].score));
	ck_assert_uint_eq(h.n, 1);
	assert_entry(&h, 0, TODAY, 400);

	ck_assert_int_eq(ssi_history_set_retention(&h, 0), -EINVAL);
	ck_assert_int_eq(ssi_history_set_retention(&h, SSI_HISTORY_RETENTION_MAX + 1), -EINVAL);
	ck_assert_int_eq(h.retention_days, SSI_HISTORY_RETENTION_DEFAULT);
	ck_assert_int_eq(ssi_history_compact(&h, TODAY, 0), -EINVAL);
	ck_assert_int_eq(ssi_history_compact(&h, -1, 10), -EINVAL);
	ck_assert_int_eq(ssi_history_compact(&h, TODAY, SSI_HISTORY_RETENTION_MAX + 1), -EINVAL);

	/* The extremes of the ranges are fine. */
	ck_assert_int_eq(ssi_history_set_retention(&h, SSI_HISTORY_RETENTION_MAX), 0);
	ck_assert_int_eq(record_flat(&h, SSI_HISTORY_DAY_MAX, 2500), 1);
	ck_assert_uint_eq(h.n, 2);
	assert_entry(&h, 0, SSI_HISTORY_DAY_MAX - SSI_HISTORY_RETENTION_MAX + 1, 400);
	assert_entry(&h, 1, SSI_HISTORY_DAY_MAX, 10000);
	ssi_history_clear(&h);
	ck_assert_int_eq(record_flat(&h, 0, 0), 1);
	assert_entry(&h, 0, 0, 0);
	ck_assert_int_eq(total_at(&h, 0), 0);
	ssi_history_clear(&h);
}
END_TEST

/*
 * Retention 10 counted back from the newest snapshot: the first kept day is
 * newest - 9, and the snapshot in effect on it moves onto it.
 */
START_TEST (test_retention_on_record) {
	struct ssi_history h;

	ssi_history_init(&h);
	ck_assert_int_eq(ssi_history_set_retention(&h, 10), 0);
	ck_assert_int_eq(record_flat(&h, 100, 100), 1);
	ck_assert_int_eq(record_flat(&h, 105, 200), 1);
	ck_assert_int_eq(record_flat(&h, 112, 300), 1);
	ck_assert_uint_eq(h.n, 3);
	assert_entry(&h, 0, 103, 400);
	assert_entry(&h, 1, 105, 800);
	assert_entry(&h, 2, 112, 1200);

	/* Older than the retention: dropped, nothing changes. */
	ck_assert_int_eq(record_flat(&h, 102, 50), 0);
	ck_assert_uint_eq(h.n, 3);
	assert_entry(&h, 0, 103, 400);
	/* The first retained day itself is still open to late scores. */
	ck_assert_int_eq(record_flat(&h, 103, 150), 1);
	assert_entry(&h, 0, 103, 600);

	ck_assert_int_eq(record_flat(&h, 120, 400), 1);
	ck_assert_uint_eq(h.n, 3);
	assert_entry(&h, 0, 111, 800);
	assert_entry(&h, 1, 112, 1200);
	assert_entry(&h, 2, 120, 1600);
	ck_assert_int_eq(total_at(&h, 110), -ENOENT);
	ck_assert_int_eq(total_at(&h, 111), 800);

	/* A snapshot on the first retained day makes every older one go. */
	ck_assert_int_eq(record_flat(&h, 130, 500), 1);
	ck_assert_uint_eq(h.n, 2);
	assert_entry(&h, 0, 121, 1600);
	assert_entry(&h, 1, 130, 2000);
	ck_assert_int_eq(record_flat(&h, 131, 600), 1);
	ck_assert_uint_eq(h.n, 3);
	assert_entry(&h, 0, 122, 1600);
	ck_assert_int_eq(record_flat(&h, 122, 700), 1);
	ck_assert_uint_eq(h.n, 3);
	assert_entry(&h, 0, 122, 2800);
	assert_entry(&h, 1, 130, 2000);
	assert_entry(&h, 2, 131, 2400);

	/* A shrunk retention applies at the next record, even one that is dropped. */
	ck_assert_int_eq(ssi_history_set_retention(&h, 2), 0);
	ck_assert_int_eq(record_flat(&h, 100, 1), 1);
	ck_assert_uint_eq(h.n, 2);
	assert_entry(&h, 0, 130, 2000);
	assert_entry(&h, 1, 131, 2400);
	ck_assert_int_eq(record_flat(&h, 100, 1), 0);

	/* Retention 1 keeps the newest day only. */
	ck_assert_int_eq(ssi_history_set_retention(&h, 1), 0);
	ck_assert_int_eq(record_flat(&h, 132, 2), 1);
	ck_assert_uint_eq(h.n, 1);
	assert_entry(&h, 0, 132, 8);
	ssi_history_clear(&h);
}
END_TEST

START_TEST (test_compact) {
	struct ssi_history h;

	ssi_history_init(&h);
	ck_assert_int_eq(ssi_history_compact(&h, TODAY, 400), 0);
	ck_assert_int_eq(record_flat(&h, 10, 10), 1);
	ck_assert_int_eq(record_flat(&h, 20, 20), 1);
	ck_assert_int_eq(record_flat(&h, 30, 30), 1);

	/* Nothing before the first kept day (today - 9 = 10). */
	ck_assert_int_eq(ssi_history_compact(&h, 19, 10), 0);
	ck_assert_uint_eq(h.n, 3);
	/* 25 .. : day 20's score moves onto 25, day 10's goes. */
	ck_assert_int_eq(ssi_history_compact(&h, 34, 10), 1);
	ck_assert_uint_eq(h.n, 2);
	assert_entry(&h, 0, 25, 80);
	assert_entry(&h, 1, 30, 120);
	/* Exactly on a snapshot: the older one goes. */
	ck_assert_int_eq(ssi_history_compact(&h, 39, 10), 1);
	ck_assert_uint_eq(h.n, 1);
	assert_entry(&h, 0, 30, 120);
	/* A rep whose score has not moved for a long time keeps it. */
	ck_assert_int_eq(ssi_history_compact(&h, 5000, 400), 1);
	ck_assert_uint_eq(h.n, 1);
	assert_entry(&h, 0, 4601, 120);
	ck_assert_int_eq(ssi_history_compact(&h, 5000, 400), 0);
	ck_assert_int_eq(ssi_history_max_since(&h, 4800), 120);
	ssi_history_clear(&h);
}
END_TEST

/* Compaction never changes the score of a retained day. */
START_TEST (test_compact_keeps_retained_days) {
	struct t_rng rng = {.s = 0xC0AC7};

	for (int round = 0; round < 200; round++) {
		struct ssi_history h, before;
		int32_t today = 1000 + (int32_t)t_below(&rng, 300);
		int retention = 1 + (int)t_below(&rng, 120);
		int64_t cutoff = (int64_t)today - retention + 1;
		int n = (int)t_below(&rng, 60);

		ssi_history_init(&h);
		ssi_history_init(&before);
		ck_assert_int_eq(ssi_history_set_retention(&h, SSI_HISTORY_RETENTION_MAX), 0);
		for (int i = 0; i < n; i++) {
			int32_t day = 900 + (int32_t)t_below(&rng, 450);

			ck_assert_int_ge(record_flat(&h, day, (int)t_below(&rng, 2501)), 0);
		}
		ck_assert_int_eq(ssi_history_set_retention(&before, SSI_HISTORY_RETENTION_MAX), 0);
		for (uint32_t i = 0; i < h.n; i++)
			ck_assert_int_eq(
			    ssi_history_record(&before, h.entries[i].day, &h.entries[i].score), 1);
		ck_assert(ssi_history_equal(&h, &before));

		ck_assert_int_ge(ssi_history_compact(&h, today, retention), 0);
		ck_assert(h.n == 0 || h.entries[0].day >= cutoff);
		for (int32_t d = (int32_t)cutoff; d < 1400; d++)
			ck_assert_int_eq(total_at(&h, d), total_at(&before, d));
		ck_assert_int_eq(total_at(&h, (int32_t)cutoff - 1), -ENOENT);
		ssi_history_clear(&h);
		ssi_history_clear(&before);
	}
}
END_TEST

START_TEST (test_max_since) {
	struct ssi_history h;

	ssi_history_init(&h);
	ck_assert_int_eq(ssi_history_max_since(&h, TODAY), -ENOENT);
	ck_assert_int_eq(record_flat(&h, 10, 1250), 1);
	ck_assert_int_eq(record_flat(&h, 20, 1750), 1);
	ck_assert_int_eq(record_flat(&h, 30, 1500), 1);
	ck_assert_int_eq(record_flat(&h, 40, 1000), 1);

	ck_assert_int_eq(ssi_history_max_since(&h, 0), 7000);
	ck_assert_int_eq(ssi_history_max_since(&h, 20), 7000);
	/* Day 20's score was still the score on day 29. */
	ck_assert_int_eq(ssi_history_max_since(&h, 29), 7000);
	ck_assert_int_eq(ssi_history_max_since(&h, 30), 6000);
	ck_assert_int_eq(ssi_history_max_since(&h, 39), 6000);
	ck_assert_int_eq(ssi_history_max_since(&h, 40), 4000);
	ck_assert_int_eq(ssi_history_max_since(&h, 1000), 4000);
	ssi_history_clear(&h);
}
END_TEST

START_TEST (test_get) {
	struct ssi_history_entry pts[8];
	struct ssi_history h;

	ssi_history_init(&h);
	ck_assert_int_eq(ssi_history_get(&h, 0, 100, pts, 8), 0);
	ck_assert_int_eq(record_score(&h, 50, 10, 20, 30, 40), 1);
	ck_assert_int_eq(record_score(&h, 52, 11, 20, 30, 40), 1);

	ck_assert_int_eq(ssi_history_get(&h, 51, 50, pts, 8), -EINVAL);
	ck_assert_int_eq(ssi_history_get(&h, 0, 49, pts, 8), 0);
	/* The count of all points even when out holds fewer. */
	ck_assert_int_eq(ssi_history_get(&h, 0, 59, pts, 2), 10);
	ck_assert_int_eq(pts[0].day, 50);
	ck_assert_int_eq(pts[1].day, 51);
	ck_assert_int_eq(pts[1].score.total, 100);
	ck_assert_int_eq(pts[1].score.pillar[SSI_INSIGHTS], 30);
	ck_assert_int_eq(ssi_history_get(&h, 52, 52, pts, 8), 1);
	ck_assert_int_eq(pts[0].score.pillar[SSI_BRAND], 11);
	ck_assert_int_eq(ssi_history_get(&h, 0, SSI_HISTORY_DAY_MAX, NULL, 0),
			 (long)SSI_HISTORY_DAY_MAX - 50 + 1);
	ssi_history_clear(&h);
}
END_TEST

/*
 * Records in random order against the plainest model there is: every
 * accepted record by day, the latest accepted day winning.
 */
START_TEST (test_record_matches_model) {
	enum { SPAN = 1500, OPS = 1500 };
	static const int retentions[] = {1, 7, 30, 400};
	struct t_rng rng = {.s = 0x4157};

	for (int round = 0; round < 8; round++) {
		static int model[SPAN]; /* total + 1, 0 for none */
		int retention = retentions[round % 4];
		int32_t newest = -1;
		struct ssi_history h;

		memset(model, 0, sizeof(model));
		ssi_history_init(&h);
		ck_assert_int_eq(ssi_history_set_retention(&h, retention), 0);
		for (int op = 0; op < OPS; op++) {
			/* Mostly near the newest day, sometimes far behind or ahead. */
			int32_t day =
			    newest < 0 || t_below(&rng, 4) == 0
				? (int32_t)t_below(&rng, SPAN)
				: newest - retention + (int32_t)t_below(&rng, 2 * retention);
			int v = (int)t_below(&rng, 2501);
			int32_t ref;
			int r;

			if (day < 0 || day >= SPAN)
				continue;
			ref = day > newest ? day : newest;
			r = record_flat(&h, day, v);
			ck_assert_int_ge(r, 0);
			if (day < ref - retention + 1) {
				ck_assert_msg(r == 0, "op %d: day %d too old, yet taken", op, day);
				continue;
			}
			ck_assert_msg(r == 1 || model[day] == 4 * v + 1, "op %d: day %d not taken",
				      op, day);
			model[day] = 4 * v + 1;
			newest = ref;
		}
		ck_assert_uint_le(h.n, (uint32_t)retention);
		for (int32_t d = newest - retention + 1; d <= newest; d++) {
			int want = -ENOENT;

			for (int32_t e = d; e >= 0; e--)
				if (model[e]) {
					want = model[e] - 1;
					break;
				}
			ck_assert_msg(total_at(&h, d) == want, "retention %d day %d: %d, want %d",
				      retention, d, total_at(&h, d), want);
		}
		ck_assert_int_eq(total_at(&h, newest - retention), -ENOENT);
		ssi_history_clear(&h);
	}
}
END_TEST

/* 500 days of scores, one a day, under the default retention of 400. */
START_TEST (test_five_hundred_days) {
	struct ssi_history h;
	int32_t first = TODAY - 499;

	ssi_history_init(&h);
	for (int32_t d = first; d <= TODAY; d++)
		ck_assert_int_eq(record_score(&h, d, d % 2500, 7, (d * 7) % 2500, 0), 1);
	ck_assert_uint_eq(h.n, 400);
	for (uint32_t i = 0; i < h.n; i++) {
		int32_t d = first + 100 + (int32_t)i;

		ck_assert_int_eq(h.entries[i].day, d);
		ck_assert_int_eq(h.entries[i].score.pillar[SSI_BRAND], d % 2500);
		ck_assert_int_eq(h.entries[i].score.pillar[SSI_INSIGHTS], (d * 7) % 2500);
	}
	ck_assert_int_eq(total_at(&h, first + 99), -ENOENT);
	ssi_history_clear(&h);
}
END_TEST

/* A pillar walk: mostly small steps, sometimes big ones, and the extremes. */
static int walk(struct t_rng *rng, int pillar)
{
	int64_t v;

	switch (t_below(rng, 8)) {
	case 0:
		return 0;
	case 1:
		return SSI_HISTORY_PILLAR_MAX;
	case 2:
		return (int)t_below(rng, SSI_HISTORY_PILLAR_MAX + 1);
	case 3:
		return pillar;
	default:
		v = pillar + (int64_t)t_below(rng, 201) - 100;
		return (int)(v < 0 ? 0 : v > SSI_HISTORY_PILLAR_MAX ? SSI_HISTORY_PILLAR_MAX : v);
	}
}

/* Any valid history, built directly: n snapshots, gaps of 1..max_gap, any day. */
static void random_history(struct t_rng *rng, struct ssi_history *h)
{
	static const uint64_t max_gaps[] = {1, 3, 40, 400};
	uint64_t max_gap = max_gaps[t_below(rng, 4)];
	uint32_t n = (uint32_t)t_below(rng, 4) == 0 ? (uint32_t)t_below(rng, 3)
						    : 1 + (uint32_t)t_below(rng, 600);
	int32_t first;
	struct ssi_score sc = {0};

	switch (t_below(rng, 3)) {
	case 0:
		first = 0;
		break;
	case 1:
		first = SSI_HISTORY_DAY_MAX - SSI_HISTORY_RETENTION_MAX + 1;
		break;
	default:
		first = TODAY - (int32_t)t_below(rng, 800);
	}
	ssi_history_clear(h);
	h->entries = n ? calloc(n, sizeof(*h->entries)) : NULL;
	ck_assert(n == 0 || h->entries);
	h->cap = n;
	for (uint32_t i = 0; i < n; i++) {
		int32_t day =
		    i == 0 ? first : h->entries[i - 1].day + 1 + (int32_t)t_below(rng, max_gap);

		if ((int64_t)day - first >= SSI_HISTORY_RETENTION_MAX)
			break;
		sc.total = 0;
		for (int p = 0; p < SSI_PILLAR__COUNT; p++) {
			sc.pillar[p] = walk(rng, sc.pillar[p]);
			sc.total += sc.pillar[p];
		}
		h->entries[i] = (struct ssi_history_entry){.day = day, .score = sc};
		h->n = i + 1;
	}
}

START_TEST (test_round_trip_random) {
	struct t_rng rng = {.s = 0x5EED0001};
	struct ssi_history h, back, replayed;

	ssi_history_init(&h);
	ssi_history_init(&back);
	ssi_history_init(&replayed);
	for (int round = 0; round < 500; round++) {
		size_t len;

		random_history(&rng, &h);
		len = encode(&h);
		ck_assert_int_eq(ssi_history_decode(&back, blob, len), 0);
		ck_assert_msg(ssi_history_equal(&h, &back), "round %d: %u snapshots differ", round,
			      h.n);
		ck_assert_int_eq(ssi_history_encode(&back, again, sizeof(again)), (long)len);
		ck_assert(memcmp(blob, again, len) == 0);
		ck_assert_int_eq(ssi_history_encode(&h, blob, len - 1), -ENOBUFS);

		/* record builds the same history from its snapshots, in any order. */
		ssi_history_clear(&replayed);
		ck_assert_int_eq(ssi_history_set_retention(&replayed, SSI_HISTORY_RETENTION_MAX),
				 0);
		for (uint32_t i = h.n; i-- > 0;)
			ck_assert_int_eq(
			    ssi_history_record(&replayed, h.entries[i].day, &h.entries[i].score),
			    1);
		ck_assert(ssi_history_equal(&h, &replayed));
	}
	ssi_history_clear(&h);
	ssi_history_clear(&back);
	ssi_history_clear(&replayed);
}
END_TEST

START_TEST (test_encode_refuses) {
	struct ssi_history_entry e[2] = {{.day = 10, .score = {{0}, 0}},
					 {.day = 11, .score = {{0}, 0}}};
	struct ssi_history h = {.entries = e, .n = 2, .cap = 2, .retention_days = 400};

	ck_assert_int_gt(ssi_history_encode(&h, blob, sizeof(blob)), 0);
	e[1].day = 10;
	ck_assert_int_eq(ssi_history_encode(&h, blob, sizeof(blob)), -EINVAL);
	ck_assert_uint_eq(ssi_history_encoded_size(&h), 0);
	e[1].day = 10 + SSI_HISTORY_RETENTION_MAX;
	ck_assert_int_eq(ssi_history_encode(&h, blob, sizeof(blob)), -EINVAL);
	e[1].day = 9 + SSI_HISTORY_RETENTION_MAX;
	ck_assert_int_gt(ssi_history_encode(&h, blob, sizeof(blob)), 0);
	e[1].score.total = 1;
	ck_assert_int_eq(ssi_history_encode(&h, blob, sizeof(blob)), -EINVAL);
	e[1].score = flat(2501);
	ck_assert_int_eq(ssi_history_encode(&h, blob, sizeof(blob)), -EINVAL);
	e[1].score = flat(0);
	e[0].day = -1;
	ck_assert_int_eq(ssi_history_encode(&h, blob, sizeof(blob)), -EINVAL);
	h.n = 0;
	ck_assert_int_eq(ssi_history_encode(&h, blob, 7), -ENOBUFS);
	ck_assert_int_eq(ssi_history_encode(&h, blob, 8), 8);
}
END_TEST

/* A day a snapshot, byte for byte: "SH" 1, n, first day, per day head and deltas. */
START_TEST (test_layout) {
	static const uint8_t want[] = {'S',  'H',  1,	 3,
				       0x85, 0xa2, 0x01,       /* n 3, day 20741 */
				       0x03, 0xc8, 0x01, 0x02, /* +100 +1 */
				       0x22, 0x01,	       /* gap 3, -1 */
				       0x10};		       /* gap 2, same */
	struct ssi_history h;
	size_t len;

	ssi_history_init(&h);
	ck_assert_int_eq(record_score(&h, 20741, 100, 1, 0, 0), 1);
	ck_assert_int_eq(record_score(&h, 20744, 100, 0, 0, 0), 1);
	ck_assert_int_eq(record_score(&h, 20746, 100, 0, 0, 0), 1);
	len = encode(&h);
	ck_assert_uint_eq(len, sizeof(want) + 4);
	ck_assert(memcmp(blob, want, sizeof(want)) == 0);
	ck_assert_uint_eq(blob[len - 4] | blob[len - 3] << 8 | (uint32_t)blob[len - 2] << 16 |
			      (uint32_t)blob[len - 1] << 24,
			  ssi_crc32c(want, sizeof(want)));

	ssi_history_clear(&h);
	len = encode(&h);
	ck_assert_uint_eq(len, 8);
	ck_assert(memcmp(blob, "SH\x01\x00", 4) == 0);
	ck_assert_int_eq(ssi_history_decode(&h, blob, len), 0);
	assert_empty(&h);
}
END_TEST

static void check_damage_refused(const struct ssi_history *h)
{
	struct ssi_history back;
	size_t len = encode(h);

	ssi_history_init(&back);
	for (size_t cut = 0; cut < len; cut++) {
		ck_assert_msg(ssi_history_decode(&back, blob, cut) == -EBADMSG,
			      "%zu of %zu bytes decoded", cut, len);
		assert_empty(&back);
	}
	for (size_t bit = 0; bit < len * 8; bit++) {
		blob[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		ck_assert_msg(ssi_history_decode(&back, blob, len) == -EBADMSG,
			      "flipping bit %zu of %zu bytes went unnoticed", bit, len);
		assert_empty(&back);
		blob[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	ck_assert_int_eq(ssi_history_decode(&back, blob, len), 0);
	ck_assert(ssi_history_equal(h, &back));
	ck_assert_int_eq(ssi_history_decode(&back, NULL, 0), -EBADMSG);
	assert_empty(&back);
	ssi_history_clear(&back);
}

START_TEST (test_truncation_and_bit_flips) {
	struct t_rng rng = {.s = 0xF11B};
	struct ssi_history h;

	ssi_history_init(&h);
	check_damage_refused(&h);
	for (int round = 0; round < 12; round++) {
		random_history(&rng, &h);
		check_damage_refused(&h);
	}
	ssi_history_clear(&h);
}
END_TEST

/* Well-sealed bodies that break a rule of the format one at a time. */
START_TEST (test_body_rules) {
	static const struct {
		const char *what;
		uint8_t body[16];
		size_t len;
		int want;
	} cases[] = {
	    {"one snapshot", {1, 5, 0x01, 0x02}, 4, 0},
	    {"non-shortest delta", {1, 5, 0x01, 0x82, 0x00}, 5, -EBADMSG},
	    {"non-shortest count", {0x81, 0x00, 5, 0x01, 0x02}, 5, -EBADMSG},
	    {"zero delta", {1, 5, 0x01, 0x00}, 4, -EBADMSG},
	    {"bits shifted out of a varint",
	     {1, 5, 0x01, 0x82, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02},
	     13,
	     -EBADMSG},
	    {"pillar at the maximum", {1, 5, 0x01, 0x88, 0x27}, 5, 0},
	    {"pillar above the maximum", {1, 5, 0x01, 0x8a, 0x27}, 5, -EBADMSG},
	    {"pillar below zero", {2, 5, 0x00, 0x01, 0x01}, 5, -EBADMSG},
	    {"pillar climbing above the maximum",
	     {2, 5, 0x01, 0x88, 0x27, 0x01, 0x02},
	     7,
	     -EBADMSG},
	    {"gap on the first snapshot", {1, 5, 0x10}, 3, -EBADMSG},
	    {"gap of 999 days", {2, 0, 0x00, 0xe0, 0x7c}, 5, 0},
	    {"gap of 1000 days", {2, 0, 0x00, 0xf0, 0x7c}, 5, -EBADMSG},
	    {"span of 1000 days", {3, 0, 0x00, 0xb0, 0x3e, 0xb0, 0x3e}, 7, -EBADMSG},
	    {"span of 999 days", {3, 0, 0x00, 0xb0, 0x3e, 0xa0, 0x3e}, 7, 0},
	    {"trailing byte", {1, 5, 0x00, 0x00}, 4, -EBADMSG},
	    {"trailing byte after nothing", {0, 0}, 2, -EBADMSG},
	    {"count above the bytes", {3, 5, 0x00, 0x00}, 4, -EBADMSG},
	    {"count above the maximum", {0xe9, 0x07, 0}, 3, -EBADMSG},
	    {"last day", {1, 0xa0, 0x81, 0xb3, 0x01, 0x00}, 6, 0},
	    {"after the last day", {1, 0xa1, 0x81, 0xb3, 0x01, 0x00}, 6, -EBADMSG},
	    {"gap past the last day", {2, 0xa0, 0x81, 0xb3, 0x01, 0x00, 0x00}, 7, -EBADMSG},
	    {"unfinished varint", {1, 0x85}, 2, -EBADMSG},
	    {"empty body", {0}, 0, -EBADMSG},
	};
	struct ssi_history h;

	/* Guard the hand-written day constants above. */
	ck_assert_int_eq(SSI_HISTORY_DAY_MAX, 2932896);
	ck_assert_int_eq(0x20 | 0x01 << 7 | 0x33 << 14 | 0x01 << 21, 2932896);
	ssi_history_init(&h);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = decode_body(cases[i].body, cases[i].len, &h);

		ck_assert_msg(r == cases[i].want, "%s: %d, want %d", cases[i].what, r,
			      cases[i].want);
		if (r < 0) {
			assert_empty(&h);
		} else {
			/* Whatever is accepted is canonical: it encodes back to itself. */
			uint8_t sealed[64];
			size_t len = seal(1, cases[i].body, cases[i].len, sealed);

			ck_assert_int_eq(ssi_history_encode(&h, again, sizeof(again)), (long)len);
			ck_assert(memcmp(again, sealed, len) == 0);
		}
	}
	ck_assert_int_eq(decode_body((const uint8_t[]){1, 5, 0x01, 0x88, 0x27}, 5, &h), 0);
	assert_entry(&h, 0, 5, 2500);
	ssi_history_clear(&h);
}
END_TEST

START_TEST (test_foreign_versions) {
	static const uint8_t body[] = {1, 5, 0x01, 0x02};
	struct ssi_history h;
	uint8_t buf[32];
	size_t len;

	ssi_history_init(&h);
	len = seal(SSI_HISTORY_VERSION + 1, body, sizeof(body), buf);
	ck_assert_int_eq(ssi_history_decode(&h, buf, len), -EPROTONOSUPPORT);
	assert_empty(&h);
	/* A newer version may change the body entirely: it is not even looked at. */
	len = seal(255, (const uint8_t *)"\xff\xff\xff", 3, buf);
	ck_assert_int_eq(ssi_history_decode(&h, buf, len), -EPROTONOSUPPORT);
	len = seal(0, body, sizeof(body), buf);
	ck_assert_int_eq(ssi_history_decode(&h, buf, len), -EBADMSG);
	/* A state is no history. */
	len = seal(SSI_HISTORY_VERSION, body, sizeof(body), buf);
	buf[1] = 'I';
	ck_assert_int_eq(ssi_history_decode(&h, buf, len), -EBADMSG);
	assert_empty(&h);
}
END_TEST

/*
 * A rep's day-to-day move: each pillar moves with probability 3/5, three
 * times in four by under 0.64 points (decay, a few counted events), else
 * by 0.64 to 2.50 (an article, a burst of connections); up two times in three.
 */
static void typical_day(struct t_rng *rng, struct ssi_score *sc)
{
	bool moved = false;

	while (!moved) {
		sc->total = 0;
		for (int p = 0; p < SSI_PILLAR__COUNT; p++) {
			int step, v = sc->pillar[p];

			if (t_below(rng, 5) < 3) {
				step = t_below(rng, 4) < 3 ? 1 + (int)t_below(rng, 63)
							   : 64 + (int)t_below(rng, 187);
				v += t_below(rng, 3) < 2 ? step : -step;
				v = v < 0			 ? 0
				    : v > SSI_HISTORY_PILLAR_MAX ? SSI_HISTORY_PILLAR_MAX
								 : v;
				moved |= v != sc->pillar[p];
			}
			sc->pillar[p] = v;
			sc->total += v;
		}
	}
}

/* 400 days of one rep, the score changing on change_pct percent of the days. */
static size_t typical_bytes(uint64_t seed, int change_pct)
{
	struct t_rng rng = {.s = seed};
	struct ssi_score sc = score_of(1200, 1000, 800, 1100);
	struct ssi_history h;
	size_t len;

	ssi_history_init(&h);
	for (int32_t d = TODAY - 399; d <= TODAY; d++) {
		if (d > TODAY - 399 && (int)t_below(&rng, 100) >= change_pct)
			continue;
		typical_day(&rng, &sc);
		ck_assert_int_eq(ssi_history_record(&h, d, &sc), 1);
	}
	ck_assert_int_eq(h.entries[0].day, TODAY - 399);
	len = encode(&h);
	ssi_history_clear(&h);
	return len;
}

START_TEST (test_sizes) {
	struct ssi_history h;
	size_t daily, sixty, worst, largest;

	daily = typical_bytes(0x51CE, 100);
	sixty = typical_bytes(0x51CE, 60);

	/* Every pillar jumping between 0 and 25 points every day: 9 bytes a day. */
	ssi_history_init(&h);
	for (int32_t d = TODAY - 399; d <= TODAY; d++)
		ck_assert_int_eq(record_flat(&h, d, (TODAY - d) % 2 ? 2500 : 0), 1);
	ck_assert_int_eq(h.entries[0].score.total, 10000);
	worst = encode(&h);
	ck_assert_uint_eq(worst, 3 + 2 + 3 + 400 * 9 + 4);

	/* The same over the longest retention, at the far end of the calendar. */
	ssi_history_clear(&h);
	ck_assert_int_eq(ssi_history_set_retention(&h, SSI_HISTORY_RETENTION_MAX), 0);
	for (int32_t d = SSI_HISTORY_DAY_MAX - 999; d <= SSI_HISTORY_DAY_MAX; d++)
		ck_assert_int_eq(record_flat(&h, d, (SSI_HISTORY_DAY_MAX - d) % 2 ? 2500 : 0), 1);
	ck_assert_uint_eq(h.n, SSI_HISTORY_RETENTION_MAX);
	largest = encode(&h);
	ck_assert_uint_eq(largest, 3 + 2 + 4 + 1000 * 9 + 4);
	ssi_history_clear(&h);

	printf("history: 400 days, a change every day %zu bytes, on 60%% of days %zu bytes; "
	       "every pillar jumping every day %zu bytes (400 days), %zu bytes (1000 days, "
	       "SSI_HISTORY_ENCODED_MAX %d)\n",
	       daily, sixty, worst, largest, SSI_HISTORY_ENCODED_MAX);
	ck_assert_uint_le(daily, 1600);
	ck_assert_uint_le(sixty, 1024);
	ck_assert_uint_lt(sixty, daily);
}
END_TEST

Suite *history_suite(void)
{
	Suite *s = suite_create("history");
	TCase *tc = tcase_create("history");

	tcase_set_timeout(tc, 60); /* long loops take seconds under ASan beside other suites */

	tcase_add_test(tc, test_record_replace);
	tcase_add_test(tc, test_out_of_order);
	tcase_add_test(tc, test_refuses_invalid);
	tcase_add_test(tc, test_retention_on_record);
	tcase_add_test(tc, test_compact);
	tcase_add_test(tc, test_compact_keeps_retained_days);
	tcase_add_test(tc, test_max_since);
	tcase_add_test(tc, test_get);
	tcase_add_test(tc, test_record_matches_model);
	tcase_add_test(tc, test_five_hundred_days);
	tcase_add_test(tc, test_round_trip_random);
	tcase_add_test(tc, test_encode_refuses);
	tcase_add_test(tc, test_layout);
	tcase_add_test(tc, test_truncation_and_bit_flips);
	tcase_add_test(tc, test_body_rules);
	tcase_add_test(tc, test_foreign_versions);
	tcase_add_test(tc, test_sizes);
	suite_add_tcase(s, tc);
	return s;
}
