/*
 * ssi_rank, the pure arithmetic of ranks: histograms (the switch from sparse
 * to dense, counts and members strictly above checked against a plain
 * array over random additions and withdrawals), aggregates merged and
 * withdrawn, the encodings (round trips, every damaged byte refused), the
 * one rank formula (competition rank, top percent, rounded averages, the
 * privacy floor) and top lists (order, ties, length).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "ssi_rank.h"
#include "suites.h"
#include "testutil.h"

/* ---- histograms -------------------------------------------------------------- */

/* The histogram must match a plain array of counts everywhere. */
static void check_hist(const struct ssi_hist *h, const uint32_t *want)
{
	uint64_t above = 0, members = 0;
	uint32_t count;
	int v, next;

	for (v = 0; v <= SSI_RANK_MAX_TOTAL; v++)
		members += want[v];
	ck_assert_uint_eq(h->members, members);
	ck_assert_uint_eq(ssi_hist_above(h, -1), members);
	for (v = SSI_RANK_MAX_TOTAL; v >= 0; v--) {
		ck_assert_uint_eq(ssi_hist_get(h, v), want[v]);
		ck_assert_uint_eq(ssi_hist_above(h, v), above);
		above += want[v];
	}
	/* ssi_hist_next visits exactly the non-zero counts, ascending. */
	next = ssi_hist_next(h, 0, &count);
	for (v = 0; v <= SSI_RANK_MAX_TOTAL; v++) {
		if (!want[v])
			continue;
		ck_assert_int_eq(next, v);
		ck_assert_uint_eq(count, want[v]);
		next = ssi_hist_next(h, v + 1, &count);
	}
	ck_assert_int_eq(next, -1);
}

START_TEST (rank_hist_sparse_to_dense) {
	static uint32_t want[SSI_RANK_VALUES];
	struct ssi_hist h;

	memset(want, 0, sizeof(want));
	ssi_hist_init(&h);
	/* SSI_HIST_SPARSE_MAX distinct values, some twice: still sparse. */
	for (int i = 0; i < SSI_HIST_SPARSE_MAX; i++) {
		int v = 10000 - 37 * i;

		ck_assert_int_eq(ssi_hist_add(&h, v, 1 + i % 2), 0);
		want[v] += 1 + i % 2;
	}
	ck_assert_ptr_null(h.tree);
	ck_assert_uint_eq(h.n, SSI_HIST_SPARSE_MAX);
	/* More of a value it has does not switch it. */
	ck_assert_int_eq(ssi_hist_add(&h, 10000, 5), 0);
	want[10000] += 5;
	ck_assert_ptr_null(h.tree);
	check_hist(&h, want);
	/* One more distinct value: dense, and nothing lost. */
	ck_assert_int_eq(ssi_hist_add(&h, 1, 3), 0);
	want[1] += 3;
	ck_assert_ptr_nonnull(h.tree);
	check_hist(&h, want);
	/* Withdrawals work the same dense. */
	ck_assert_int_eq(ssi_hist_add(&h, 10000, -6), 0);
	want[10000] -= 6;
	check_hist(&h, want);
	ssi_hist_clear(&h);
	ck_assert_ptr_null(h.tree);
	ck_assert_uint_eq(h.members, 0);
}
END_TEST

START_TEST (rank_hist_errors) {
	struct ssi_hist h;

	ssi_hist_init(&h);
	ck_assert_int_eq(ssi_hist_add(&h, -1, 1), -ERANGE);
	ck_assert_int_eq(ssi_hist_add(&h, SSI_RANK_MAX_TOTAL + 1, 1), -ERANGE);
	ck_assert_int_eq(ssi_hist_add(&h, 500, -1), -ERANGE); /* below 0 */
	ck_assert_int_eq(ssi_hist_add(&h, 500, 2), 0);
	ck_assert_int_eq(ssi_hist_add(&h, 500, -3), -ERANGE);
	ck_assert_uint_eq(ssi_hist_get(&h, 500), 2);
	ck_assert_int_eq(ssi_hist_add(&h, 500, 0), 0);
	ck_assert_int_eq(ssi_hist_add(&h, 500, -2), 0);
	ck_assert_uint_eq(h.n, 0); /* a count back to 0 is gone */
	ck_assert_uint_eq(h.members, 0);
	ck_assert_uint_eq(ssi_hist_get(&h, -5), 0);
	ck_assert_uint_eq(ssi_hist_above(&h, SSI_RANK_MAX_TOTAL), 0);
	ssi_hist_clear(&h);
}
END_TEST

/*
 * Random additions and withdrawals, few distinct values (sparse) and many
 * (dense), into an indexed histogram and a counts-only one (no tree ever).
 */
START_TEST (rank_hist_random) {
	static uint32_t want[SSI_RANK_VALUES];
	const int spread[] = {40, SSI_RANK_VALUES};
	struct t_rng rng = {.s = 0x5eed0201};

	for (int round = 0; round < 4; round++) {
		struct ssi_hist h;
		bool counts_only = round >= 2;

		memset(want, 0, sizeof(want));
		if (counts_only)
			ssi_hist_init_counts(&h);
		else
			ssi_hist_init(&h);
		for (int i = 0; i < 6000; i++) {
			int v =
			    (int)t_below(&rng, (uint64_t)spread[round % 2]) * (round % 2 ? 1 : 250);
			int64_t d = (int64_t)t_below(&rng, 4) - 1;

			if ((int64_t)want[v] + d < 0)
				d = -d;
			ck_assert_int_eq(ssi_hist_add(&h, v, d), 0);
			want[v] = (uint32_t)((int64_t)want[v] + d);
			if (i % 1000 == 999)
				check_hist(&h, want);
		}
		ck_assert(h.dense == (round % 2 == 1));
		ck_assert(h.tree == NULL ? !h.dense || counts_only : !counts_only);
		check_hist(&h, want);
		ssi_hist_clear(&h);
		ck_assert(h.counts_only == counts_only && !h.dense && !h.tree);
	}
}
END_TEST

/* ---- aggregates ------------------------------------------------------------------ */

static void check_same_agg(const struct ssi_rankagg *a, const struct ssi_rankagg *b)
{
	uint32_t ca, cb;
	int va, vb;

	ck_assert_int_eq(a->n, b->n);
	for (int i = 0; i < SSI_RANK_SUMS; i++)
		ck_assert_int_eq(a->sum[i], b->sum[i]);
	ck_assert_uint_eq(a->hist.members, b->hist.members);
	for (va = ssi_hist_next(&a->hist, 0, &ca), vb = ssi_hist_next(&b->hist, 0, &cb);
	     va >= 0 || vb >= 0;
	     va = ssi_hist_next(&a->hist, va + 1, &ca), vb = ssi_hist_next(&b->hist, vb + 1, &cb)) {
		ck_assert_int_eq(va, vb);
		ck_assert_uint_eq(ca, cb);
	}
}

START_TEST (rank_agg_merge) {
	struct ssi_rankagg a, b, sum, empty;
	struct t_rng rng = {.s = 0x5eed0202};

	ssi_rankagg_init(&a);
	ssi_rankagg_init(&b);
	ssi_rankagg_init(&sum);
	ssi_rankagg_init(&empty);
	/* a sparse, b dense: merging moves between the two forms. */
	for (int i = 0; i < 50; i++) {
		struct ssi_score s = t_spread((int)t_below(&rng, 20) * 500);

		ck_assert_int_eq(ssi_rankagg_add(&a, &s, 1), 0);
	}
	for (int i = 0; i < 2000; i++) {
		struct ssi_score s = t_spread((int)t_below(&rng, SSI_RANK_VALUES));

		ck_assert_int_eq(ssi_rankagg_add(&b, &s, 1), 0);
	}
	ck_assert_ptr_null(a.hist.tree);
	ck_assert_ptr_nonnull(b.hist.tree);
	ck_assert_int_eq(ssi_rankagg_merge(&sum, &a, 1), 0);
	check_same_agg(&sum, &a);
	ck_assert_int_eq(ssi_rankagg_merge(&sum, &b, 1), 0);
	ck_assert_int_eq(sum.n, a.n + b.n);
	for (int i = 0; i < SSI_RANK_SUMS; i++)
		ck_assert_int_eq(sum.sum[i], a.sum[i] + b.sum[i]);
	for (int v = -1; v <= SSI_RANK_MAX_TOTAL; v += 97)
		ck_assert_uint_eq(ssi_hist_above(&sum.hist, v),
				  ssi_hist_above(&a.hist, v) + ssi_hist_above(&b.hist, v));
	/* Withdrawn again: back to a, then to nothing. */
	ck_assert_int_eq(ssi_rankagg_merge(&sum, &b, -1), 0);
	check_same_agg(&sum, &a);
	ck_assert_int_eq(ssi_rankagg_merge(&sum, &a, -1), 0);
	check_same_agg(&sum, &empty);
	/* Withdrawing what is not there is refused. */
	ck_assert_int_eq(ssi_rankagg_merge(&sum, &a, -1), -ERANGE);
	ssi_rankagg_clear(&a);
	ssi_rankagg_clear(&b);
	ssi_rankagg_clear(&sum);
}
END_TEST

/* A move is a withdrawal and an add: same counts and sums, sparse and dense, equal totals too. */
START_TEST (rank_agg_move) {
	enum { MEMBERS = 300 };
	struct ssi_rankagg moved, ref;
	struct ssi_score member[MEMBERS];
	struct t_rng rng = {.s = 0x5eed0303};

	ssi_rankagg_init(&moved);
	ssi_rankagg_init(&ref);
	for (int i = 0; i < MEMBERS; i++) {
		member[i] = t_spread((int)t_below(&rng, 40) * 250);
		ck_assert_int_eq(ssi_rankagg_add(&moved, &member[i], 1), 0);
		ck_assert_int_eq(ssi_rankagg_add(&ref, &member[i], 1), 0);
	}
	for (int step = 0; step < 3000; step++) {
		int i = (int)t_below(&rng, MEMBERS);
		struct ssi_score to = member[i];

		if (step % 3 == 0) { /* same total, other pillars */
			int give = to.pillar[0] < 100 ? to.pillar[0] : 100;

			to.pillar[0] -= give;
			to.pillar[1] += give;
		} else
			to = t_spread((int)t_below(&rng, SSI_RANK_VALUES));
		ck_assert_int_eq(ssi_rankagg_move(&moved, &member[i], &to), 0);
		ck_assert_int_eq(ssi_rankagg_add(&ref, &member[i], -1), 0);
		ck_assert_int_eq(ssi_rankagg_add(&ref, &to, 1), 0);
		member[i] = to;
		if (step % 100 == 99)
			check_same_agg(&moved, &ref);
	}
	ck_assert_ptr_nonnull(moved.hist.tree); /* went dense on the way */
	check_same_agg(&moved, &ref);
	/* Moving from a total no member holds is refused. */
	{
		struct ssi_score none = t_spread(0), any = t_spread(5000);

		while (ssi_hist_get(&moved.hist, none.total) > 0)
			none = t_spread(none.total + 1);
		ck_assert_int_eq(ssi_rankagg_move(&moved, &none, &any), -ERANGE);
	}
	ssi_rankagg_clear(&moved);
	ssi_rankagg_clear(&ref);
}
END_TEST

/* ---- encodings ------------------------------------------------------------------- */

START_TEST (rank_agg_encoding) {
	struct ssi_rankagg a, back, counts;
	struct t_rng rng = {.s = 0x5eed0203};
	static uint8_t buf[64 * 1024], again[64 * 1024];
	size_t len;

	ssi_rankagg_init(&a);
	ssi_rankagg_init(&back);
	ssi_rankagg_init_counts(&counts);
	for (int round = 0; round < 2; round++) {
		int n = round ? 3000 : 40; /* sparse, then dense */

		for (int i = 0; i < n; i++) {
			struct ssi_score s = t_spread((int)t_below(&rng, SSI_RANK_VALUES));
			char id[32];

			snprintf(id, sizeof(id), "u%d-%d", round, i);
			ck_assert_int_eq(ssi_rankagg_add(&a, &s, 1), 0);
			ck_assert_int_eq(ssi_rank_top_offer(&a.top, 10, id, s.total), 0);
		}
		/* Too little room: the length it needs, and then it fits. */
		len = ssi_rankagg_encode(&a, buf, 8);
		ck_assert_uint_gt(len, 8);
		ck_assert_uint_le(len, sizeof(buf));
		ck_assert_uint_eq(ssi_rankagg_encode(&a, buf, sizeof(buf)), len);
		ck_assert_int_eq(ssi_rankagg_decode(&back, buf, len), 0);
		check_same_agg(&back, &a);
		ck_assert_uint_eq(back.top.n, a.top.n);
		for (size_t i = 0; i < a.top.n; i++) {
			ck_assert_str_eq(back.top.m[i].user_id, a.top.m[i].user_id);
			ck_assert_int_eq(back.top.m[i].total, a.top.m[i].total);
		}
		/* Into a counts-only aggregate: the same, no tree, and the same bytes back. */
		ck_assert_int_eq(ssi_rankagg_decode(&counts, buf, len), 0);
		check_same_agg(&counts, &a);
		ck_assert(counts.hist.counts_only && counts.hist.tree == NULL);
		ck_assert_int_eq(counts.hist.dense, round == 1);
		ck_assert_uint_eq(ssi_rankagg_encode(&counts, again, sizeof(again)), len);
		ck_assert_mem_eq(again, buf, len);
	}
	/* Any damaged byte, or a cut, is refused and leaves an empty aggregate. */
	for (size_t i = 0; i < len; i += 1 + len / 300) {
		buf[i] ^= 0x41;
		ck_assert_int_eq(ssi_rankagg_decode(&back, buf, len), -EBADMSG);
		ck_assert_int_eq(back.n, 0);
		ck_assert_uint_eq(back.hist.members, 0);
		ck_assert_uint_eq(back.top.n, 0);
		buf[i] ^= 0x41;
	}
	ck_assert_int_eq(ssi_rankagg_decode(&back, buf, len - 1), -EBADMSG);
	ck_assert_int_eq(ssi_rankagg_decode(&back, buf, 0), -EBADMSG);
	ck_assert_int_eq(ssi_rankagg_decode(&back, buf, len), 0);
	ssi_rankagg_clear(&a);
	ssi_rankagg_clear(&back);
	ssi_rankagg_clear(&counts);
}
END_TEST
/* ---- the rank formula ----------------------------------------------------------- */

START_TEST (rank_place_of) {
	int64_t sum[SSI_RANK_SUMS] = {37000, 15000, 12000, 6000, 4000};
	struct ssi_rank_place pl;

	/* 90, 80, 80, 70, 50, 0: rank 1 + members strictly above. */
	ssi_rank_place_of(1, 6, sum, 3, &pl);
	ck_assert(!pl.hidden);
	ck_assert_int_eq(pl.rank, 2);
	ck_assert_int_eq(pl.of, 6);
	ck_assert_int_eq(pl.top_percent, 34);	 /* ceil(200 / 6) */
	ck_assert_int_eq(pl.avg_total_cp, 6167); /* 6166.67 centipoints rounded */
	ck_assert_int_eq(pl.avg_pillar_cp[0], 2500);
	ck_assert_int_eq(pl.avg_pillar_cp[1], 2000);
	ck_assert_int_eq(pl.avg_pillar_cp[2], 1000);
	ck_assert_int_eq(pl.avg_pillar_cp[3], 667);
	ssi_rank_place_of(0, 6, sum, 3, &pl);
	ck_assert_int_eq(pl.top_percent, 17);
	ssi_rank_place_of(5, 6, sum, 3, &pl);
	ck_assert_int_eq(pl.top_percent, 100);
	/* Half a centipoint rounds away from zero. */
	sum[0] = 3;
	ssi_rank_place_of(0, 2, sum, 1, &pl);
	ck_assert_int_eq(pl.avg_total_cp, 2);
	/* The privacy floor: under it, the size only; at it, everything. */
	ssi_rank_place_of(1, 2, sum, 3, &pl);
	ck_assert(pl.hidden);
	ck_assert_int_eq(pl.of, 2);
	ck_assert_int_eq(pl.rank, 0);
	ck_assert_int_eq(pl.top_percent, 0);
	ck_assert(pl.avg_total_cp == 0 && pl.avg_pillar_cp[0] == 0);
	ssi_rank_place_of(1, 3, sum, 3, &pl);
	ck_assert(!pl.hidden);
	ck_assert_int_eq(pl.rank, 2);
	ssi_rank_place_of(0, 0, sum, 1, &pl);
	ck_assert(pl.hidden);
}
END_TEST

START_TEST (rank_agg_place) {
	const int totals[] = {9000, 8000, 8000, 7000};
	const int64_t want_rank[] = {1, 2, 2, 4};
	struct ssi_rankagg a;
	struct ssi_rank_place pl;

	ssi_rankagg_init(&a);
	for (int i = 0; i < 4; i++) {
		struct ssi_score s = t_spread(totals[i]);

		ck_assert_int_eq(ssi_rankagg_add(&a, &s, 1), 0);
	}
	for (int i = 0; i < 4; i++) {
		ssi_rankagg_place(&a, totals[i], 1, &pl);
		ck_assert_int_eq(pl.rank, want_rank[i]);
		ck_assert_int_eq(pl.of, 4);
		ck_assert_int_eq(pl.avg_total_cp, 8000);
	}
	ssi_rankagg_place(&a, 9000, 5, &pl);
	ck_assert(pl.hidden);
	/* Withdrawn: the rank of the others moves up. */
	ck_assert_int_eq(ssi_rankagg_add(&a, (const struct ssi_score[]){t_spread(9000)}, -1), 0);
	ssi_rankagg_place(&a, 8000, 1, &pl);
	ck_assert_int_eq(pl.rank, 1);
	ck_assert_int_eq(pl.of, 3);
	ssi_rankagg_clear(&a);
}
END_TEST

/* ---- top lists --------------------------------------------------------------------- */

START_TEST (rank_top_order) {
	static const struct ssi_rank_member offers[] = {
	    {"r2", 7000}, {"r6", 4000}, {"r1", 8000},  {"r3", 7000},
	    {"r5", 5000}, {"r4", 6000}, {"r30", 7000}, {"a", 8000},
	};
	static const char *const order[] = {"r1", "a", "r30", "r3", "r2", "r4", "r5", "r6"};
	struct ssi_rank_top t = {0}, t3 = {0};

	for (size_t i = 0; i < sizeof(offers) / sizeof(offers[0]); i++) {
		ck_assert_int_eq(ssi_rank_top_offer(&t, 100, offers[i].user_id, offers[i].total),
				 0);
		ck_assert_int_eq(ssi_rank_top_offer(&t3, 3, offers[i].user_id, offers[i].total), 0);
	}
	/* Total descending, equal totals by user id descending (bytes). */
	ck_assert_uint_eq(t.n, 8);
	for (size_t i = 0; i < t.n; i++)
		ck_assert_str_eq(t.m[i].user_id, order[i]);
	ck_assert_uint_eq(t3.n, 3);
	ck_assert_uint_le(t3.cap, 3);
	for (size_t i = 0; i < t3.n; i++)
		ck_assert_str_eq(t3.m[i].user_id, order[i]);
	ck_assert(ssi_rank_member_before(&offers[2], &offers[7])); /* "r1" > "a" */
	ck_assert(!ssi_rank_member_before(&offers[7], &offers[2]));
	ck_assert(!ssi_rank_member_before(&offers[0], &offers[0]));
	/* Nothing kept when asked to keep nothing; an id too long is not listed. */
	{
		struct ssi_rank_top none = {0};
		char long_id[SSI_ID_MAX + 2];

		memset(long_id, 'x', sizeof(long_id) - 1);
		long_id[sizeof(long_id) - 1] = '\0';
		ck_assert_int_eq(ssi_rank_top_offer(&none, 0, "r1", 100), 0);
		ck_assert_int_eq(ssi_rank_top_offer(&none, 5, long_id, 100), 0);
		ck_assert_uint_eq(none.n, 0);
		ssi_rank_top_clear(&none);
	}
	ssi_rank_top_clear(&t);
	ssi_rank_top_clear(&t3);
	ck_assert_ptr_null(t.m);
}
END_TEST

Suite *rank_engine_suite(void)
{
	Suite *s = suite_create("rank_engine");
	TCase *tc = tcase_create("rank_engine");

	tcase_set_timeout(tc, 60); /* long loops take seconds under ASan beside other suites */

	tcase_add_test(tc, rank_hist_sparse_to_dense);
	tcase_add_test(tc, rank_hist_errors);
	tcase_add_test(tc, rank_hist_random);
	tcase_add_test(tc, rank_agg_merge);
	tcase_add_test(tc, rank_agg_move);
	tcase_add_test(tc, rank_agg_encoding);
	tcase_add_test(tc, rank_place_of);
	tcase_add_test(tc, rank_agg_place);
	tcase_add_test(tc, rank_top_order);
	suite_add_tcase(s, tc);
	return s;
}
