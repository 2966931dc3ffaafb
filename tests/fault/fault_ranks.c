/*
 * The fault suite's rank check: with every ssid stopped, what is stored in
 * Redis must rank every rep as a plain oracle over the reference scores
 * does (exact at rest): each rep's record holds its reference score and
 * segments, and each segment's aggregate over all partitions holds exactly
 * its members' count, sums and totals.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"
#include "ssid_rank_read.h"

struct member {
	char field[4 * SSI_ID_MAX + 8];
	size_t user;
	enum ssid_rank_kind kind;
};

static int cmp_member(const void *a, const void *b)
{
	const struct member *x = a, *y = b;

	return strcmp(x->field, y->field);
}

static void rank_problem(struct fault_result *res, const char *fmt, const char *a, long long got,
			 long long want)
{
	char line[sizeof(res->first_problem)];

	res->ranks_wrong++;
	if (res->first_problem[0])
		return;
	snprintf(line, sizeof(line), fmt, a, got, want);
	snprintf(res->first_problem, sizeof(res->first_problem), "%s", line);
}

/* One segment's members m[0..n): the stored aggregate against them. */
static void check_segment(struct ssid_redis *rd, const int32_t *parts, size_t nparts,
			  struct fault_result *res, const struct member *m, size_t n)
{
	const struct ssi_state *st = &res->ref[m[0].user];
	const char *seg[SSI_SEG__COUNT] = {st->segment[0], st->segment[1], st->segment[2]};
	int64_t want_n = (int64_t)n, want_sum[SSI_RANK_SUMS] = {0};
	struct ssi_rankagg got;

	ssi_rankagg_init(&got);
	ck_assert_msg(ssid_rank_read_segment(rd, parts, nparts, m[0].kind, seg, 1, &got) == 0,
		      "reading segment %s: %s", m[0].field, ssid_redis_errstr(rd));
	for (size_t i = 0; i < n; i++) {
		const struct ssi_score *sc = &res->want[m[i].user];

		want_sum[0] += sc->total;
		for (int p = 0; p < SSI_PILLAR__COUNT; p++)
			want_sum[1 + p] += sc->pillar[p];
	}
	if (got.n != want_n)
		rank_problem(res, "segment %.120s: %lld members stored, the oracle has %lld",
			     m[0].field, got.n, want_n);
	for (int k = 0; k < SSI_RANK_SUMS; k++)
		if (got.sum[k] != want_sum[k])
			rank_problem(res, "segment %.120s: a sum is %lld, the oracle's %lld",
				     m[0].field, got.sum[k], want_sum[k]);
	/* Every member's rank: 1 + members strictly above, against the plain count. */
	for (size_t i = 0; i < n; i++) {
		int mine = res->want[m[i].user].total;
		long long above = 0;

		for (size_t j = 0; j < n; j++)
			above += res->want[m[j].user].total > mine;
		if ((long long)ssi_hist_above(&got.hist, mine) != above)
			rank_problem(res,
				     "segment %.120s: a rep ranks below %lld, the oracle says %lld",
				     m[0].field, (long long)ssi_hist_above(&got.hist, mine), above);
	}
	ssi_rankagg_clear(&got);
}

void fault_check_ranks(const struct fault_env *e, struct fault_result *res)
{
	const struct fx_stream *s = &e->stream;
	struct ssid_redis_opts so = fx_redis_opts(&e->redis);
	struct ssid_redis *rd = NULL;
	struct member *m = calloc(res->users * SSID_RANK__COUNT + 1, sizeof(*m));
	int32_t *parts = NULL;
	size_t nparts = 0, nm = 0, ranked = 0, segments = 0;

	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(ssid_redis_new(&rd, &so), 0);
	ck_assert_msg(ssid_rank_read_partitions(rd, &parts, &nparts) == 0, "%s",
		      ssid_redis_errstr(rd));
	for (size_t u = 0; u < res->users; u++) {
		const struct ssi_state *st = &res->ref[u];
		const char *seg[SSI_SEG__COUNT] = {st->segment[0], st->segment[1], st->segment[2]};
		struct ssi_rank_record rec;
		char id[64];
		int r;

		if (res->user_first[u + 1] == res->user_first[u])
			continue; /* no event: never scored */
		ranked++;
		fx_user_id(s, (int)u, id, sizeof(id));
		r = ssid_rank_read_record(rd, id, &rec);
		ck_assert_msg(r >= 0, "%s: %s", id, ssid_redis_errstr(rd));
		if (r == 0)
			rank_problem(res, "%s: no rank record (%lld, %lld)", id, 0, 1);
		else if (memcmp(&rec.score, &res->want[u], sizeof(rec.score)) != 0)
			rank_problem(res, "%s: ranked with %lld, the engine says %lld", id,
				     rec.score.total, res->want[u].total);
		for (int k = 0; k < SSID_RANK__COUNT; k++)
			if (ssid_rank_segment_field(k, seg, m[nm].field, sizeof(m[nm].field)) >=
			    0) {
				m[nm].user = u;
				m[nm++].kind = k;
			}
	}
	qsort(m, nm, sizeof(*m), cmp_member);
	for (size_t i = 0; i < nm;) {
		size_t j = i;

		while (j < nm && strcmp(m[j].field, m[i].field) == 0)
			j++;
		check_segment(rd, parts, nparts, res, &m[i], j - i);
		segments++;
		i = j;
	}
	fprintf(stderr, "fault-ranks: %zu reps in %zu segments over %zu partitions, %zu wrong\n",
		ranked, segments, nparts, res->ranks_wrong);
	free(parts);
	free(m);
	ssid_redis_free(rd);
}
