/*
 * ssid_rank against a real redis-server: ranks, sizes, percentiles and
 * averages checked against a plain in-test model of the segments (one
 * instance, and three instances sharing the partitions and trading them),
 * what is stored per partition, privacy floor, leaderboards, errors, and
 * the commands a 10,000-rep batch costs (INFO commandstats). Band
 * crossings are tests/unit/test_band.c's; board diffs and coalescing,
 * tests/unit/test_boards.c's.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <hiredis/hiredis.h>

#include "fixture.h"
#include "ssi_rank.h"
#include "ssid_boards.h"
#include "ssid_rank.h"
#include "suites.h"

static struct fx_redis redis;

static void setup(void)
{
	fx_redis_setup(&redis);
}

static void teardown(void)
{
	fx_redis_teardown(&redis);
}

static struct ssid_rank *rank_open(int min_members, int top_n)
{
	struct ssid_redis_opts so = fx_redis_opts(&redis);
	struct ssid_rank_opts ro = {.min_members = min_members, .top_n = top_n, .refresh_ms = 0};
	struct ssid_rank *r = NULL;

	ck_assert_int_eq(ssid_rank_new(&r, &so, &ro), 0);
	return r;
}

static long long peek_int(redisContext *c, const char *fmt, const char *arg1, const char *arg2)
{
	redisReply *reply = redisCommand(c, fmt, arg1, arg2);
	long long v = -1;

	ck_assert_ptr_nonnull(reply);
	if (reply->type == REDIS_REPLY_INTEGER)
		v = reply->integer;
	else if (reply->type == REDIS_REPLY_STRING)
		v = strtoll(reply->str, NULL, 10);
	else if (reply->type == REDIS_REPLY_NIL)
		v = 0;
	freeReplyObject(reply);
	return v;
}

/*
 * The stored aggregate of segment field in partition part (empty when the
 * field is absent), decoded; *present says whether the field exists.
 */
static void stored_agg(redisContext *c, int32_t part, const char *field, struct ssi_rankagg *out,
		       bool *present)
{
	char key[64];
	redisReply *reply;

	ssid_rank_key_aggs("ssi:", part, key, sizeof(key));
	reply = redisCommand(c, "HGET %s %s", key, field);
	ck_assert_ptr_nonnull(reply);
	ssi_rankagg_init(out);
	*present = reply->type == REDIS_REPLY_STRING;
	if (*present)
		ck_assert_int_eq(ssi_rankagg_decode(out, (const uint8_t *)reply->str, reply->len),
				 0);
	freeReplyObject(reply);
}

/* Members (sum 0) or a sum (1 total, 2.. pillars) of a segment, stored over parts partitions. */
static long long stored_sum(redisContext *c, int parts, const char *field, int sum)
{
	long long v = 0;

	for (int32_t p = 0; p < parts; p++) {
		struct ssi_rankagg a;
		bool present;

		stored_agg(c, p, field, &a, &present);
		v += sum == 0 ? a.n : a.sum[sum - 1];
		ssi_rankagg_clear(&a);
	}
	return v;
}

static bool stored_record(redisContext *c, int32_t part, const char *id,
			  struct ssi_rank_record *rec)
{
	char key[64];
	redisReply *reply;
	bool found;

	ssid_rank_key_records("ssi:", part, key, sizeof(key));
	reply = redisCommand(c, "HGET %s %s", key, id);
	ck_assert_ptr_nonnull(reply);
	found = reply->type == REDIS_REPLY_STRING;
	if (found)
		ck_assert_int_eq(
		    ssi_rank_record_decode(rec, (const uint8_t *)reply->str, reply->len), 0);
	freeReplyObject(reply);
	return found;
}

static void change_set(struct ssid_rank_change *c, const char *id, const char *tenant,
		       const char *team, const char *industry, int b, int p, int i, int r)
{
	memset(c, 0, sizeof(*c));
	c->user_id = id;
	c->segment[SSI_SEG_TENANT] = tenant;
	c->segment[SSI_SEG_TEAM] = team;
	c->segment[SSI_SEG_INDUSTRY] = industry;
	c->score.pillar[SSI_BRAND] = b;
	c->score.pillar[SSI_PEOPLE] = p;
	c->score.pillar[SSI_INSIGHTS] = i;
	c->score.pillar[SSI_RELATIONSHIPS] = r;
	c->score.total = b + p + i + r;
}

/* One rep whose total is all in the brand pillar (up to 2500) and spills over. */
static void change_total(struct ssid_rank_change *c, const char *id, const char *tenant,
			 const char *team, const char *industry, int total)
{
	int pillar[SSI_PILLAR__COUNT] = {0};

	for (int p = 0; p < SSI_PILLAR__COUNT && total > 0; p++) {
		pillar[p] = total > 2500 ? 2500 : total;
		total -= pillar[p];
	}
	change_set(c, id, tenant, team, industry, pillar[0], pillar[1], pillar[2], pillar[3]);
}

static long cents(double points)
{
	return lround(points * 100.0);
}

/* ---- a plain model of the segments, the oracle ---------------------------- */

#define MODEL_REPS 80

struct model_rep {
	char id[16];
	bool present;
	char seg[SSI_SEG__COUNT][16];
	struct ssi_score score;
};

/* The segment of kind the rep is in, as "kind|values"; false when none. */
static bool model_segment(const struct model_rep *m, int kind, char *buf, size_t len)
{
	const char *tenant = m->seg[SSI_SEG_TENANT], *team = m->seg[SSI_SEG_TEAM],
		   *industry = m->seg[SSI_SEG_INDUSTRY];

	if (!m->present)
		return false;
	switch (kind) {
	case SSID_RANK_GLOBAL:
		snprintf(buf, len, "global");
		return true;
	case SSID_RANK_INDUSTRY:
		snprintf(buf, len, "industry|%s", industry);
		return industry[0];
	case SSID_RANK_TENANT:
		snprintf(buf, len, "tenant|%s", tenant);
		return tenant[0];
	default:
		snprintf(buf, len, "team|%s|%s", tenant, team);
		return tenant[0] && team[0];
	}
}

static void model_pos(const struct model_rep *reps, size_t n, size_t who, int kind, int min_members,
		      struct ssid_rank_pos *out)
{
	char mine[64], theirs[64];
	int64_t members = 0, higher = 0, sum[1 + SSI_PILLAR__COUNT] = {0};

	memset(out, 0, sizeof(*out));
	if (!model_segment(&reps[who], kind, mine, sizeof(mine)))
		return;
	for (size_t j = 0; j < n; j++) {
		if (!model_segment(&reps[j], kind, theirs, sizeof(theirs)) ||
		    strcmp(mine, theirs) != 0)
			continue;
		members++;
		higher += reps[j].score.total > reps[who].score.total;
		sum[0] += reps[j].score.total;
		for (int p = 0; p < SSI_PILLAR__COUNT; p++)
			sum[1 + p] += reps[j].score.pillar[p];
	}
	out->present = true;
	out->of = members;
	if (members < min_members) {
		out->hidden = true;
		return;
	}
	out->rank = higher + 1;
	out->top_percent = (int)ceil(100.0 * (double)out->rank / (double)members);
	out->avg_total = round((double)sum[0] / (double)members) / 100.0;
	for (int p = 0; p < SSI_PILLAR__COUNT; p++)
		out->avg_pillar[p] = round((double)sum[1 + p] / (double)members) / 100.0;
}

static void check_pos(const struct ssid_rank_pos *got, const struct ssid_rank_pos *want,
		      const char *who, int kind, const char *when)
{
	ck_assert_msg(got->present == want->present && got->hidden == want->hidden &&
			  got->rank == want->rank && got->of == want->of &&
			  got->top_percent == want->top_percent,
		      "%s %s %s: present %d hidden %d rank %lld of %lld top %d%%, expected "
		      "%d %d %lld of %lld top %d%%",
		      who, ssid_rank_kind_name((enum ssid_rank_kind)kind), when, got->present,
		      got->hidden, (long long)got->rank, (long long)got->of, got->top_percent,
		      want->present, want->hidden, (long long)want->rank, (long long)want->of,
		      want->top_percent);
	ck_assert_msg(cents(got->avg_total) == cents(want->avg_total),
		      "%s %s %s: average %.2f, expected %.2f", who,
		      ssid_rank_kind_name((enum ssid_rank_kind)kind), when, got->avg_total,
		      want->avg_total);
	for (int p = 0; p < SSI_PILLAR__COUNT; p++)
		ck_assert_msg(cents(got->avg_pillar[p]) == cents(want->avg_pillar[p]),
			      "%s %s %s: %s average %.2f, expected %.2f", who,
			      ssid_rank_kind_name((enum ssid_rank_kind)kind), when,
			      ssi_pillar_name((enum ssi_pillar)p), got->avg_pillar[p],
			      want->avg_pillar[p]);
}

static int cmp_entry(const void *a, const void *b)
{
	const struct ssid_rank_entry *x = a, *y = b;

	if (x->total != y->total)
		return x->total > y->total ? -1 : 1;
	return -strcmp(x->user_id, y->user_id); /* Redis: ties by descending id */
}

/*
 * The model's leaderboard of the segment named seg: the top_n in Redis' order,
 * or no entries and hidden below the privacy floor.
 */
static size_t model_board(const struct model_rep *reps, size_t n, int kind, const char *seg,
			  int min_members, int top_n, struct ssid_rank_entry *out, bool *hidden)
{
	struct ssid_rank_entry all[MODEL_REPS];
	char theirs[64];
	size_t members = 0;

	memset(all, 0, sizeof(all));
	for (size_t j = 0; j < n; j++)
		if (model_segment(&reps[j], kind, theirs, sizeof(theirs)) &&
		    strcmp(seg, theirs) == 0) {
			snprintf(all[members].user_id, sizeof(all[members].user_id), "%s",
				 reps[j].id);
			all[members].total = reps[j].score.total;
			members++;
		}
	*hidden = members < (size_t)min_members;
	if (*hidden)
		return 0;
	qsort(all, members, sizeof(all[0]), cmp_entry);
	for (size_t e = 0; e < members; e++)
		all[e].rank =
		    e > 0 && all[e].total == all[e - 1].total ? all[e - 1].rank : (int64_t)e + 1;
	if (members > (size_t)top_n)
		members = (size_t)top_n;
	memcpy(out, all, members * sizeof(all[0]));
	return members;
}

/* Sums the model gives for a segment, against the aggregates stored over parts partitions. */
static void check_aggregates(redisContext *c, const struct model_rep *reps, size_t n, int parts,
			     int kind, const char *model_seg, const char *field)
{
	long long want[1 + SSI_RANK_SUMS] = {0};
	char theirs[64];

	for (size_t j = 0; j < n; j++) {
		if (!model_segment(&reps[j], kind, theirs, sizeof(theirs)) ||
		    strcmp(model_seg, theirs) != 0)
			continue;
		want[0]++;
		want[1] += reps[j].score.total;
		for (int p = 0; p < SSI_PILLAR__COUNT; p++)
			want[2 + p] += reps[j].score.pillar[p];
	}
	for (int f = 0; f <= SSI_RANK_SUMS; f++) {
		long long got = stored_sum(c, parts, field, f);

		ck_assert_msg(got == want[f], "%s sum %d is %lld, expected %lld", field, f, got,
			      want[f]);
	}
}

/* ---- ranks, sizes, percentiles ------------------------------------------- */

START_TEST (test_ranks_with_ties) {
	static const int total[12] = {9000, 8000, 8000, 7000, 7000, 7000,
				      6000, 5000, 5000, 4000, 3000, 1000};
	static const int rank[12] = {1, 2, 2, 4, 4, 4, 7, 8, 8, 10, 11, 12};
	static const int top[12] = {9, 17, 17, 34, 34, 34, 59, 67, 67, 84, 92, 100};
	struct ssid_rank *r = rank_open(5, 10);
	struct ssid_rank_change ch[12];
	char id[12][16];

	for (int i = 0; i < 12; i++) {
		snprintf(id[i], sizeof(id[i]), "r%02d", i);
		/* Even reps in team emea, odd ones in apac. */
		change_total(&ch[i], id[i], "acme", i % 2 ? "apac" : "emea", "software", total[i]);
	}
	ck_assert_int_eq(ssid_rank_apply(r, ch, 12, true), 0);
	for (int i = 0; i < 12; i++) {
		for (int k = SSID_RANK_GLOBAL; k <= SSID_RANK_TENANT; k++) {
			const struct ssid_rank_pos *a = &ch[i].result[k].after;

			ck_assert(!ch[i].had_record);
			ck_assert(!ch[i].result[k].before.present);
			ck_assert(a->present && !a->hidden);
			ck_assert_int_eq(a->rank, rank[i]);
			ck_assert_int_eq(a->of, 12);
			ck_assert_int_eq(a->top_percent, top[i]);
		}
	}
	/* Team emea holds 9000 8000 7000 6000 5000 3000, apac 8000 7000 7000 5000 4000 1000. */
	{
		static const int emea_rank[6] = {1, 2, 3, 4, 5, 6};
		static const int apac_rank[6] = {1, 2, 2, 4, 5, 6};

		for (int i = 0; i < 12; i++) {
			const struct ssid_rank_pos *a = &ch[i].result[SSID_RANK_TEAM].after;
			int want = i % 2 ? apac_rank[i / 2] : emea_rank[i / 2];

			ck_assert_int_eq(a->of, 6);
			ck_assert_int_eq(a->rank, want);
			ck_assert_int_eq(a->top_percent, (100 * want + 5) / 6);
		}
	}
	/* Re-applying the same scores moves nothing: before equals after. */
	ck_assert_int_eq(ssid_rank_apply(r, ch, 12, true), 0);
	for (int i = 0; i < 12; i++)
		for (int k = 0; k < SSID_RANK__COUNT; k++) {
			const struct ssid_rank_result *res = &ch[i].result[k];

			ck_assert(ch[i].had_record);
			ck_assert_int_eq(ch[i].old_score.total, total[i]);
			ck_assert_int_eq(res->before.rank, res->after.rank);
			ck_assert_int_eq(res->before.of, res->after.of);
			ck_assert(!res->moved && !res->board_old && !res->board_new);
		}
	/* A rep without tenant or industry is only in the global segment. */
	change_total(&ch[0], "loner", "", "red", NULL, 10000);
	ck_assert_int_eq(ssid_rank_apply(r, ch, 1, true), 0);
	ck_assert_int_eq(ch[0].result[SSID_RANK_GLOBAL].after.rank, 1);
	ck_assert_int_eq(ch[0].result[SSID_RANK_GLOBAL].after.of, 13);
	ck_assert_int_eq(ch[0].result[SSID_RANK_GLOBAL].after.top_percent, 8);
	for (int k = SSID_RANK_INDUSTRY; k < SSID_RANK__COUNT; k++)
		ck_assert(!ch[0].result[k].after.present);
	ssid_rank_free(r);
}
END_TEST

/* ---- averages: updates, moves, removal ------------------------------------ */

START_TEST (test_averages) {
	struct ssid_rank *r = rank_open(1, 10);
	redisContext *c = fx_redis_peek(&redis);
	struct ssid_rank_change ch[3];
	const struct ssid_rank_pos *p;

	change_set(&ch[0], "a", "acme", "red", "software", 1000, 500, 250, 250);
	change_set(&ch[1], "b", "acme", "red", "software", 2000, 1000, 0, 0);
	change_set(&ch[2], "c", "beta", "red", "retail", 100, 100, 100, 100);
	ck_assert_int_eq(ssid_rank_apply(r, ch, 3, true), 0);
	p = &ch[0].result[SSID_RANK_TENANT].after;
	ck_assert_int_eq(cents(p->avg_total), 2500);
	ck_assert_int_eq(cents(p->avg_pillar[SSI_BRAND]), 1500);
	ck_assert_int_eq(cents(p->avg_pillar[SSI_PEOPLE]), 750);
	ck_assert_int_eq(cents(p->avg_pillar[SSI_INSIGHTS]), 125);
	ck_assert_int_eq(cents(p->avg_pillar[SSI_RELATIONSHIPS]), 125);
	p = &ch[2].result[SSID_RANK_GLOBAL].after;
	ck_assert_int_eq(cents(p->avg_total), 1800); /* (2000 + 3000 + 400) / 3 */
	ck_assert_int_eq(cents(p->avg_pillar[SSI_BRAND]), 1033);

	/* An update moves the sums by the delta: (2501 + 3000) / 2 = 2750.5, rounded up. */
	change_set(&ch[0], "a", "acme", "red", "software", 1500, 500, 250, 251);
	ck_assert_int_eq(ssid_rank_apply(r, ch, 1, true), 0);
	p = &ch[0].result[SSID_RANK_TENANT].after;
	ck_assert_int_eq(cents(p->avg_total), 2751);
	ck_assert_int_eq(cents(p->avg_pillar[SSI_RELATIONSHIPS]), 126);
	ck_assert_int_eq(cents(ch[0].result[SSID_RANK_TENANT].before.avg_total), 2500);
	ck_assert_int_eq(stored_sum(c, 1, "t:acme", 1), 5501);

	/* b changes tenant: its whole contribution moves from acme to beta. */
	change_set(&ch[0], "b", "beta", "blue", "software", 2000, 1000, 0, 0);
	ck_assert_int_eq(ssid_rank_apply(r, ch, 1, true), 0);
	ck_assert(ch[0].result[SSID_RANK_TENANT].moved);
	ck_assert(ch[0].result[SSID_RANK_TEAM].moved);
	ck_assert(!ch[0].result[SSID_RANK_INDUSTRY].moved);
	ck_assert_str_eq(ch[0].old_segment[SSI_SEG_TENANT], "acme");
	ck_assert_int_eq(cents(ch[0].result[SSID_RANK_TENANT].before.avg_total), 2751);
	ck_assert_int_eq(ch[0].result[SSID_RANK_TENANT].before.of, 2);
	ck_assert_int_eq(cents(ch[0].result[SSID_RANK_TENANT].after.avg_total), 1700);
	ck_assert_int_eq(ch[0].result[SSID_RANK_TENANT].after.of, 2);
	ck_assert_int_eq(stored_sum(c, 1, "t:acme", 0), 1);
	ck_assert_int_eq(stored_sum(c, 1, "t:acme", 1), 2501);
	ck_assert_int_eq(stored_sum(c, 1, "t:beta", 1), 3400);
	ck_assert_int_eq(stored_sum(c, 1, "m:acme:red", 0), 1);
	ck_assert_int_eq(stored_sum(c, 1, "m:beta:blue", 0), 1);

	/* a changes team within its tenant: the tenant does not move. */
	change_set(&ch[0], "a", "acme", "green", "software", 1500, 500, 250, 251);
	ck_assert_int_eq(ssid_rank_apply(r, ch, 1, true), 0);
	ck_assert(!ch[0].result[SSID_RANK_TENANT].moved);
	ck_assert(ch[0].result[SSID_RANK_TEAM].moved);
	/* An emptied segment's field is deleted. */
	ck_assert_int_eq(peek_int(c, "HEXISTS %s %s", "ssi:rk:{p0}:s", "m:acme:red"), 0);
	ck_assert_int_eq(stored_sum(c, 1, "m:acme:green", 1), 2501);
	ck_assert_int_eq(stored_sum(c, 1, "t:acme", 1), 2501);

	/* Removal withdraws c everywhere; its record goes too. */
	memset(&ch[0], 0, sizeof(ch[0]));
	ch[0].user_id = "c";
	ch[0].removed = true;
	ck_assert_int_eq(ssid_rank_apply(r, ch, 1, true), 0);
	ck_assert(ch[0].result[SSID_RANK_GLOBAL].before.present);
	ck_assert(!ch[0].result[SSID_RANK_GLOBAL].after.present);
	ck_assert_int_eq(stored_sum(c, 1, "t:beta", 0), 1);
	ck_assert_int_eq(stored_sum(c, 1, "t:beta", 1), 3000);
	ck_assert_int_eq(stored_sum(c, 1, "i:retail", 0), 0);
	ck_assert_int_eq(stored_sum(c, 1, "g", 0), 2);
	ck_assert_int_eq(stored_sum(c, 1, "g", 1), 5501);
	ck_assert_int_eq(peek_int(c, "HLEN %s", "ssi:rk:{p0}:u", NULL), 2);
	ck_assert_int_eq(peek_int(c, "HEXISTS %s %s", "ssi:rk:{p0}:u", "c"), 0);
	/* Removing a rep that is not there changes nothing. */
	ck_assert_int_eq(ssid_rank_apply(r, ch, 1, true), 0);
	ck_assert(!ch[0].had_record);
	ck_assert_int_eq(stored_sum(c, 1, "g", 0), 2);
	redisFree(c);
	ssid_rank_free(r);
}
END_TEST

/*
 * Random batches of new scores, ties, moves, unknown segments and removals,
 * every position before and after checked against the model, the aggregates
 * in Redis against the model's sums, leaderboards against the model's, and
 * every board that changed flagged by some change of the batch.
 */
#define MODEL_PARTS	    5
#define MODEL_INSTANCES_MAX 3

/* Positions of changes ch[0..n) (reps who[]) against the model before and after them. */
static void check_changes(const struct ssid_rank_change *ch, const size_t *who, size_t n,
			  const struct model_rep *before, const struct model_rep *after,
			  int min_members, const char *when)
{
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < SSID_RANK__COUNT; k++) {
			struct ssid_rank_pos want;

			ck_assert(ch[i].had_record == before[who[i]].present);
			model_pos(before, MODEL_REPS, who[i], k, min_members, &want);
			check_pos(&ch[i].result[k].before, &want, after[who[i]].id, k, when);
			model_pos(after, MODEL_REPS, who[i], k, min_members, &want);
			check_pos(&ch[i].result[k].after, &want, after[who[i]].id, k, when);
		}
}

/* Every team and tenant board: r agrees with the model, and a change was flagged. */
static void check_boards(struct ssid_rank *r, const struct ssid_rank_change *ch, const size_t *who,
			 size_t n, const struct model_rep *before, const struct model_rep *after,
			 int min_members, int top_n, bool flags)
{
	static const char *const tenants[] = {"", "acme", "beta", "gamma"};
	static const char *const teams[] = {"", "red", "blue"};

	for (int k = SSID_RANK_TENANT; k <= SSID_RANK_TEAM; k++)
		for (size_t t = 1; t < 4; t++)
			for (size_t m = k == SSID_RANK_TEAM ? 1 : 0;
			     m < (k == SSID_RANK_TEAM ? 3u : 1u); m++) {
				struct ssid_rank_entry old_top[MODEL_REPS], new_top[MODEL_REPS],
				    got[SSID_RANK_TOP_MAX];
				struct ssid_rank_board bd = {.kind = (enum ssid_rank_kind)k,
							     .entry = got};
				char seg[64];
				size_t nold, nnew;
				bool flagged = false, old_hidden, new_hidden;

				if (k == SSID_RANK_TEAM)
					snprintf(seg, sizeof(seg), "team|%s|%s", tenants[t],
						 teams[m]);
				else
					snprintf(seg, sizeof(seg), "tenant|%s", tenants[t]);
				nold = model_board(before, MODEL_REPS, k, seg, min_members, top_n,
						   old_top, &old_hidden);
				nnew = model_board(after, MODEL_REPS, k, seg, min_members, top_n,
						   new_top, &new_hidden);
				bd.segment[SSI_SEG_TENANT] = tenants[t];
				bd.segment[SSI_SEG_TEAM] = teams[m];
				ck_assert_int_eq(ssid_rank_boards(r, &bd, 1), 0);
				ck_assert(bd.hidden == new_hidden);
				ck_assert_uint_eq(bd.n, nnew);
				ck_assert_uint_eq(ssid_boards_diff(got, bd.n, new_top, nnew), 0);
				for (size_t e = 0; e < bd.n; e++)
					ck_assert_int_eq(got[e].rank, new_top[e].rank);
				if (!flags || (old_hidden == new_hidden &&
					       ssid_boards_diff(old_top, nold, new_top, nnew) == 0))
					continue;
				for (size_t i = 0; i < n; i++) {
					const struct ssid_rank_result *res = &ch[i].result[k];
					char o[64], w[64];

					if (res->board_old &&
					    model_segment(&before[who[i]], k, o, sizeof(o)) &&
					    strcmp(o, seg) == 0)
						flagged = true;
					if (res->board_new &&
					    model_segment(&after[who[i]], k, w, sizeof(w)) &&
					    strcmp(w, seg) == 0)
						flagged = true;
				}
				ck_assert_msg(flagged, "board %s changed unflagged", seg);
			}
}

/* At rest: every instance places every rep as the model does. */
static void check_at_rest(struct ssid_rank **inst, int ninst, const struct model_rep *reps,
			  int min_members, int top_n)
{
	for (int x = 0; x < ninst; x++) {
		ck_assert_msg(ssid_rank_refresh(inst[x], 0, true) == 0, "%s",
			      ssid_rank_errstr(inst[x]));
		for (size_t j = 0; j < MODEL_REPS; j++)
			for (int k = 0; k < SSID_RANK__COUNT && reps[j].present; k++) {
				const char *seg[SSI_SEG__COUNT] = {reps[j].seg[0], reps[j].seg[1],
								   reps[j].seg[2]};
				struct ssid_rank_pos got, want;
				int rc =
				    ssid_rank_place(inst[x], k, seg, reps[j].score.total, &got);

				model_pos(reps, MODEL_REPS, j, k, min_members, &want);
				ck_assert_int_eq(rc, want.present ? 0 : -ENOENT);
				if (rc == 0)
					check_pos(&got, &want, reps[j].id, k, "at rest");
			}
		check_boards(inst[x], NULL, NULL, 0, reps, reps, min_members, top_n, false);
	}
}

/*
 * Random batches of new scores, ties, moves, unknown segments and removals
 * over MODEL_PARTS partitions owned by ninst instances, a partition moving
 * to another instance now and then. Each instance's batch is checked
 * against the model before and after it (the instance refreshed first, as
 * the daemon does between batches), and after each round every instance,
 * refreshed, must place every rep as the model does (exact at rest), and
 * agree on every board; finally the stored aggregates add up to the model.
 */
static void random_against_model(int min_members, int top_n, uint64_t seed, int ninst)
{
	static const char *const tenants[] = {"", "acme", "beta", "gamma"};
	static const char *const teams[] = {"", "red", "blue"};
	static const char *const industries[] = {"", "software", "retail"};
	static const int tie_values[] = {0, 500, 1250, 2500};
	struct model_rep reps[MODEL_REPS], cur[MODEL_REPS], before[MODEL_REPS];
	struct ssid_rank *inst[MODEL_INSTANCES_MAX];
	int owner[MODEL_PARTS];
	redisContext *c = fx_redis_peek(&redis);
	struct t_rng rng = {.s = seed};
	struct ssid_rank_change ch[24], grp[24];
	size_t who[24], gwho[24];

	for (int x = 0; x < ninst; x++)
		inst[x] = rank_open(min_members, top_n);
	for (int p = 0; p < MODEL_PARTS; p++)
		owner[p] = p % ninst;
	memset(reps, 0, sizeof(reps));
	for (size_t j = 0; j < MODEL_REPS; j++)
		snprintf(reps[j].id, sizeof(reps[j].id), "rep-%02zu", j);
	memcpy(cur, reps, sizeof(reps));
	for (int round = 0; round < 60; round++) {
		size_t n = 1 + (size_t)t_below(&rng, 24);
		bool taken[MODEL_REPS] = {false};

		if (ninst > 1 && t_below(&rng, 3) == 0) {
			int p = (int)t_below(&rng, MODEL_PARTS), from = owner[p];

			ssid_rank_drop_partition(inst[from], p);
			owner[p] = (from + 1 + (int)t_below(&rng, (uint64_t)ninst - 1)) % ninst;
		}
		for (size_t i = 0; i < n; i++) {
			struct model_rep *m;

			do
				who[i] = (size_t)t_below(&rng, MODEL_REPS);
			while (taken[who[i]]);
			taken[who[i]] = true;
			m = &reps[who[i]];
			memset(&ch[i], 0, sizeof(ch[i]));
			ch[i].user_id = m->id;
			ch[i].partition = (int32_t)(who[i] % MODEL_PARTS);
			if (m->present && t_below(&rng, 10) == 0) {
				m->present = false;
				ch[i].removed = true;
				continue;
			}
			if (!m->present || t_below(&rng, 4) == 0) {
				snprintf(m->seg[SSI_SEG_TENANT], 16, "%s",
					 tenants[t_below(&rng, 4)]);
				snprintf(m->seg[SSI_SEG_TEAM], 16, "%s", teams[t_below(&rng, 3)]);
				snprintf(m->seg[SSI_SEG_INDUSTRY], 16, "%s",
					 industries[t_below(&rng, 3)]);
			}
			m->present = true;
			m->score.total = 0;
			for (int p = 0; p < SSI_PILLAR__COUNT; p++) {
				m->score.pillar[p] = t_below(&rng, 2) ? tie_values[t_below(&rng, 4)]
								      : (int)t_below(&rng, 2501);
				m->score.total += m->score.pillar[p];
			}
			ch[i].score = m->score;
			for (int g = 0; g < SSI_SEG__COUNT; g++)
				ch[i].segment[g] = m->seg[g];
		}
		/* Each instance applies the changes of the partitions it owns. */
		for (int x = 0; x < ninst; x++) {
			size_t gn = 0;

			for (size_t i = 0; i < n; i++)
				if (owner[ch[i].partition] == x) {
					grp[gn] = ch[i];
					gwho[gn++] = who[i];
				}
			if (gn == 0)
				continue;
			memcpy(before, cur, sizeof(cur));
			for (size_t i = 0; i < gn; i++)
				cur[gwho[i]] = reps[gwho[i]];
			ck_assert_int_eq(ssid_rank_refresh(inst[x], 0, true), 0);
			ck_assert_msg(ssid_rank_apply(inst[x], grp, gn, true) == 0, "round %d: %s",
				      round, ssid_rank_errstr(inst[x]));
			check_changes(grp, gwho, gn, before, cur, min_members, "batch");
			check_boards(inst[x], grp, gwho, gn, before, cur, min_members, top_n, true);
			/* Now and then the same batch again: nothing may move (idempotence). */
			if (round % 10 == 9) {
				ck_assert_int_eq(ssid_rank_apply(inst[x], grp, gn, true), 0);
				check_changes(grp, gwho, gn, cur, cur, min_members, "again");
				for (size_t i = 0; i < gn; i++)
					for (int k = 0; k < SSID_RANK__COUNT; k++)
						ck_assert(!grp[i].result[k].board_old &&
							  !grp[i].result[k].board_new);
			}
		}
		check_at_rest(inst, ninst, reps, min_members, top_n);
	}
	check_aggregates(c, reps, MODEL_REPS, MODEL_PARTS, SSID_RANK_GLOBAL, "global", "g");
	check_aggregates(c, reps, MODEL_REPS, MODEL_PARTS, SSID_RANK_TENANT, "tenant|beta",
			 "t:beta");
	check_aggregates(c, reps, MODEL_REPS, MODEL_PARTS, SSID_RANK_TEAM, "team|acme|red",
			 "m:acme:red");
	check_aggregates(c, reps, MODEL_REPS, MODEL_PARTS, SSID_RANK_INDUSTRY, "industry|retail",
			 "i:retail");
	/* A new instance that owns everything rebuilds the same view from the records alone. */
	{
		struct ssid_rank *fresh = rank_open(min_members, top_n);
		struct ssid_rank_change probe[MODEL_PARTS];
		char ids[MODEL_PARTS][32];

		/* Removing reps that do not exist loads each partition and changes nothing. */
		for (int p = 0; p < MODEL_PARTS; p++) {
			memset(&probe[p], 0, sizeof(probe[p]));
			snprintf(ids[p], sizeof(ids[p]), "nobody-%d", p);
			probe[p].user_id = ids[p];
			probe[p].partition = p;
			probe[p].removed = true;
		}
		for (int x = 0; x < ninst; x++)
			ssid_rank_free(inst[x]);
		ck_assert_int_eq(ssid_rank_apply(fresh, probe, MODEL_PARTS, true), 0);
		check_at_rest(&fresh, 1, reps, min_members, top_n);
		ssid_rank_free(fresh);
	}
	redisFree(c);
}

START_TEST (test_random_against_model) {
	random_against_model(3, 4, 20261120, 1);
}
END_TEST

/* A privacy floor above the board length: joins and leaves can show a board. */
START_TEST (test_random_floor_beyond_board) {
	random_against_model(6, 2, 77, 1);
}
END_TEST

/* Three instances sharing five partitions, trading them now and then. */
START_TEST (test_random_three_instances) {
	random_against_model(3, 4, 4242, 3);
}
END_TEST

START_TEST (test_random_three_instances_floor) {
	random_against_model(5, 3, 99, 3);
}
END_TEST

/* ---- privacy floor -------------------------------------------------------- */

START_TEST (test_privacy_floor) {
	struct ssid_rank *r = rank_open(SSID_RANK_DEFAULT_MIN_MEMBERS, 10);
	struct ssid_rank_change ch[10];
	struct ssid_rank_entry entry[10];
	struct ssid_rank_board bd = {.kind = SSID_RANK_TEAM, .entry = entry};
	char id[10][16];

	for (int i = 0; i < 10; i++) {
		snprintf(id[i], sizeof(id[i]), "p%d", i);
		change_total(&ch[i], id[i], "acme", "small", NULL, 1000 * (i + 1));
	}
	ck_assert_int_eq(ssid_rank_apply(r, ch, 9, true), 0);
	for (int i = 0; i < 9; i++)
		for (int k = 0; k < SSID_RANK__COUNT; k++) {
			const struct ssid_rank_pos *a = &ch[i].result[k].after;

			if (k == SSID_RANK_INDUSTRY) {
				ck_assert(!a->present);
				continue;
			}
			ck_assert(a->present && a->hidden);
			ck_assert_int_eq(a->of, 9);
			ck_assert_int_eq(a->rank, 0);
			ck_assert_int_eq(a->top_percent, 0);
			ck_assert_int_eq(cents(a->avg_total), 0);
		}
	bd.segment[SSI_SEG_TENANT] = "acme";
	bd.segment[SSI_SEG_TEAM] = "small";
	ck_assert_int_eq(ssid_rank_boards(r, &bd, 1), 0);
	ck_assert(bd.hidden);
	ck_assert_int_eq(bd.of, 9);
	ck_assert_uint_eq(bd.n, 0);

	/* The tenth member lifts the floor: everyone shows, and so does the board. */
	ck_assert_int_eq(ssid_rank_apply(r, &ch[9], 1, true), 0);
	ck_assert(ch[9].result[SSID_RANK_TEAM].before.present == false);
	ck_assert(!ch[9].result[SSID_RANK_TEAM].after.hidden);
	ck_assert_int_eq(ch[9].result[SSID_RANK_TEAM].after.rank, 1);
	ck_assert_int_eq(ch[9].result[SSID_RANK_TEAM].after.top_percent, 10);
	ck_assert_int_eq(cents(ch[9].result[SSID_RANK_TEAM].after.avg_total), 5500);
	ck_assert(ch[9].result[SSID_RANK_TEAM].board_new);
	ck_assert_int_eq(ssid_rank_apply(r, ch, 9, true), 0);
	ck_assert(!ch[0].result[SSID_RANK_TEAM].after.hidden);
	ck_assert_int_eq(ch[0].result[SSID_RANK_TEAM].after.rank, 10);
	ck_assert_int_eq(ssid_rank_boards(r, &bd, 1), 0);
	ck_assert(!bd.hidden);
	ck_assert_uint_eq(bd.n, 10);
	ck_assert_str_eq(bd.entry[0].user_id, "p9");

	/* One leaves: hidden again, the leaver's board flagged. */
	memset(&ch[0], 0, sizeof(ch[0]));
	ch[0].user_id = "p0";
	ch[0].removed = true;
	ck_assert_int_eq(ssid_rank_apply(r, ch, 1, true), 0);
	ck_assert(!ch[0].result[SSID_RANK_TEAM].before.hidden);
	ck_assert(ch[0].result[SSID_RANK_TEAM].board_old);
	change_total(&ch[1], "p1", "acme", "small", NULL, 2001);
	ck_assert_int_eq(ssid_rank_apply(r, &ch[1], 1, true), 0);
	ck_assert(ch[1].result[SSID_RANK_TEAM].after.hidden);
	ck_assert_int_eq(ch[1].result[SSID_RANK_TEAM].after.of, 9);
	ssid_rank_free(r);
}
END_TEST

/* ---- leaderboards ----------------------------------------------------------- */

START_TEST (test_boards) {
	struct ssid_rank *r = rank_open(3, 5);
	struct ssid_rank_change ch[8];
	struct ssid_rank_entry e0[5], e1[5], e2[5];
	struct ssid_rank_board bd[3] = {
	    {.kind = SSID_RANK_TEAM, .segment = {"acme", "red", NULL}, .entry = e0},
	    {.kind = SSID_RANK_TENANT, .segment = {"acme", NULL, NULL}, .entry = e1},
	    {.kind = SSID_RANK_TEAM, .segment = {"acme", "blue", NULL}, .entry = e2},
	};
	static const char *const ids[8] = {"a", "b", "c", "d", "e", "f", "g", "h"};
	static const int totals[8] = {5000, 7000, 7000, 7000, 3000, 2000, 1000, 500};
	struct ssid_rank_stats st0, st1;

	for (int i = 0; i < 8; i++)
		change_total(&ch[i], ids[i], "acme", i < 7 ? "red" : "blue", NULL, totals[i]);
	ck_assert_int_eq(ssid_rank_apply(r, ch, 8, true), 0);
	ssid_rank_get_stats(r, &st0);
	ck_assert_int_eq(ssid_rank_boards(r, bd, 3), 0);
	ssid_rank_get_stats(r, &st1);
	ck_assert_uint_eq(st1.round_trips - st0.round_trips, 0); /* from memory */
	/* Ties share rank 1 and are listed d, c, b (descending ids, Redis' order). */
	ck_assert(!bd[0].hidden);
	ck_assert_int_eq(bd[0].of, 7);
	ck_assert_uint_eq(bd[0].n, 5);
	ck_assert_str_eq(e0[0].user_id, "d");
	ck_assert_str_eq(e0[1].user_id, "c");
	ck_assert_str_eq(e0[2].user_id, "b");
	ck_assert_str_eq(e0[3].user_id, "a");
	ck_assert_str_eq(e0[4].user_id, "e");
	ck_assert_int_eq(e0[0].rank, 1);
	ck_assert_int_eq(e0[2].rank, 1);
	ck_assert_int_eq(e0[3].rank, 4);
	ck_assert_int_eq(e0[3].total, 5000);
	ck_assert_int_eq(e0[4].rank, 5);
	ck_assert_int_eq(bd[1].of, 8);
	ck_assert(bd[2].hidden);
	ck_assert_uint_eq(bd[2].n, 0);

	/* g climbs from 7th to 6th: outside the top 5 before and after, no board moved. */
	change_total(&ch[0], "g", "acme", "red", NULL, 2500);
	ck_assert_int_eq(ssid_rank_apply(r, ch, 1, true), 0);
	ck_assert_int_eq(ch[0].result[SSID_RANK_TEAM].before.rank, 7);
	ck_assert_int_eq(ch[0].result[SSID_RANK_TEAM].after.rank, 6);
	ck_assert(!ch[0].result[SSID_RANK_TEAM].board_old);
	ck_assert(!ch[0].result[SSID_RANK_TEAM].board_new);
	/* g enters the top 5. */
	change_total(&ch[0], "g", "acme", "red", NULL, 4000);
	ck_assert_int_eq(ssid_rank_apply(r, ch, 1, true), 0);
	ck_assert(ch[0].result[SSID_RANK_TEAM].board_new);
	ck_assert(ch[0].result[SSID_RANK_TENANT].board_new);
	memcpy(e1, e0, sizeof(e0));
	ck_assert_int_eq(ssid_rank_boards(r, bd, 1), 0);
	ck_assert_str_eq(e0[4].user_id, "g");
	ck_assert_uint_eq(ssid_boards_diff(e1, 5, e0, 5), SSID_BOARD_MEMBERS);
	/* d moves to team blue: both boards of the team kind are flagged. */
	change_total(&ch[0], "d", "acme", "blue", NULL, 7000);
	ck_assert_int_eq(ssid_rank_apply(r, ch, 1, true), 0);
	ck_assert(ch[0].result[SSID_RANK_TEAM].moved);
	ck_assert(ch[0].result[SSID_RANK_TEAM].board_old);
	ck_assert(ch[0].result[SSID_RANK_TEAM].board_new);
	ck_assert_str_eq(ch[0].old_segment[SSI_SEG_TEAM], "red");
	/* A board of an unknown segment is a caller's error. */
	bd[0].segment[SSI_SEG_TENANT] = "";
	ck_assert_int_eq(ssid_rank_boards(r, bd, 1), -ENOENT);
	ssid_rank_free(r);
}
END_TEST

/* ---- cost of a big batch ------------------------------------------------------ */

#define BIG 10000

static int cmp_int_desc(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x < y) - (x > y);
}

/* 1 + how many of sorted (descending) are strictly above total. */
static int64_t rank_in(const int *sorted, size_t n, int total)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (sorted[mid] > total)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (int64_t)lo + 1;
}

/*
 * 10,000 reps over 4 partitions in one call: one round trip to write them,
 * one MULTI per partition holding one HSET of records and one of
 * aggregates, whatever the number of reps; positions exact.
 */
START_TEST (test_big_batch_round_trips) {
	struct ssid_rank *r = rank_open(SSID_RANK_DEFAULT_MIN_MEMBERS, SSID_RANK_DEFAULT_TOP_N);
	struct ssid_rank_change *ch = calloc(BIG, sizeof(*ch));
	char(*id)[16] = calloc(BIG, sizeof(*id));
	char tenant[20][16], team[5][16], industry[8][16];
	int *sorted = calloc(BIG, sizeof(*sorted));
	struct ssid_rank_board *bd = calloc(100, sizeof(*bd));
	struct ssid_rank_entry(*entries)[SSID_RANK_DEFAULT_TOP_N] = calloc(100, sizeof(*entries));
	redisContext *c = fx_redis_peek(&redis);
	struct t_rng rng = {.s = 10000};
	struct ssid_rank_stats st0, st1;
	long long hset0, exec0, multi0, total0;
	const int parts = 4;

	ck_assert(ch && id && sorted && bd && entries);
	for (int t = 0; t < 20; t++)
		snprintf(tenant[t], sizeof(tenant[t]), "t%02d", t);
	for (int m = 0; m < 5; m++)
		snprintf(team[m], sizeof(team[m]), "m%d", m);
	for (int i = 0; i < 8; i++)
		snprintf(industry[i], sizeof(industry[i]), "i%d", i);
	for (int pass = 0; pass < 2; pass++) {
		ssid_rank_get_stats(r, &st0);
		hset0 = fx_redis_command_calls(c, "hset");
		exec0 = fx_redis_command_calls(c, "exec");
		multi0 = fx_redis_command_calls(c, "multi");
		total0 = hset0 + exec0 + multi0 + fx_redis_command_calls(c, "del") +
			 fx_redis_command_calls(c, "incr") + fx_redis_command_calls(c, "hdel") +
			 fx_redis_command_calls(c, "sadd") + fx_redis_command_calls(c, "hscan");
		for (int i = 0; i < BIG; i++) {
			snprintf(id[i], sizeof(id[i]), "big-%05d", i);
			/* The second pass changes every total, so that every rep is written. */
			int total =
			    pass == 0 ? (int)t_below(&rng, 10001)
				      : (ch[i].score.total + 1 + (int)t_below(&rng, 10000)) % 10001;

			change_total(&ch[i], id[i], tenant[i % 20], team[(i / 20) % 5],
				     industry[i % 8], total);
			ch[i].partition = i % parts;
			sorted[i] = ch[i].score.total;
		}
		ck_assert_msg(ssid_rank_apply(r, ch, BIG, true) == 0, "%s", ssid_rank_errstr(r));
		ssid_rank_get_stats(r, &st1);
		/*
		 * The first pass meets the partitions: per partition an SADD and
		 * an HSCAN of its (empty) records; then one round trip writes all.
		 */
		ck_assert_uint_eq(st1.round_trips - st0.round_trips, pass == 0 ? 1 + 2 * parts : 1);
		ck_assert_int_eq(fx_redis_command_calls(c, "multi") - multi0, parts);
		ck_assert_int_eq(fx_redis_command_calls(c, "exec") - exec0, parts);
		/* Per partition: one HSET of its records, one of its aggregates. */
		ck_assert_int_eq(fx_redis_command_calls(c, "hset") - hset0, 2 * parts);
		/* The client's count is the server's. */
		ck_assert_uint_eq(st1.commands - st0.commands,
				  (uint64_t)(fx_redis_command_calls(c, "hset") +
					     fx_redis_command_calls(c, "exec") +
					     fx_redis_command_calls(c, "multi") +
					     fx_redis_command_calls(c, "del") +
					     fx_redis_command_calls(c, "incr") +
					     fx_redis_command_calls(c, "hdel") +
					     fx_redis_command_calls(c, "sadd") +
					     fx_redis_command_calls(c, "hscan") - total0));
		qsort(sorted, BIG, sizeof(*sorted), cmp_int_desc);
		for (int i = 0; i < BIG; i++) {
			const struct ssid_rank_pos *g = &ch[i].result[SSID_RANK_GLOBAL].after;

			ck_assert_int_eq(g->of, BIG);
			ck_assert_int_eq(g->rank, rank_in(sorted, BIG, ch[i].score.total));
			ck_assert_int_eq(ch[i].result[SSID_RANK_TEAM].after.of, BIG / 100);
			ck_assert_int_eq(ch[i].result[SSID_RANK_TENANT].after.of, BIG / 20);
			ck_assert_int_eq(ch[i].result[SSID_RANK_INDUSTRY].after.of, BIG / 8);
		}
	}
	ck_assert_int_eq(peek_int(c, "HLEN %s", "ssi:rk:{p0}:u", NULL), BIG / parts);
	/* Every team's leaderboard from memory: no round trip. */
	for (int b = 0; b < 100; b++) {
		bd[b].kind = SSID_RANK_TEAM;
		bd[b].segment[SSI_SEG_TENANT] = tenant[b / 5];
		bd[b].segment[SSI_SEG_TEAM] = team[b % 5];
		bd[b].entry = entries[b];
	}
	ssid_rank_get_stats(r, &st0);
	ck_assert_int_eq(ssid_rank_boards(r, bd, 100), 0);
	ssid_rank_get_stats(r, &st1);
	ck_assert_uint_eq(st1.round_trips - st0.round_trips, 0);
	for (int b = 0; b < 100; b++) {
		ck_assert_uint_eq(bd[b].n, SSID_RANK_DEFAULT_TOP_N);
		for (size_t j = 1; j < bd[b].n; j++)
			ck_assert_int_ge(bd[b].entry[j - 1].total, bd[b].entry[j].total);
	}
	redisFree(c);
	free(entries);
	free(bd);
	free(sorted);
	free(id);
	free(ch);
	ssid_rank_free(r);
}
END_TEST

/* ---- errors, key layout, reconnection ------------------------------------- */

START_TEST (test_invalid_changes) {
	struct ssid_rank *r = rank_open(1, 10);
	struct ssid_rank_change ch[2];
	char long_id[SSI_ID_MAX + 2];
	struct ssid_rank_stats st;

	change_total(&ch[0], "x", "acme", "red", NULL, 100);
	change_total(&ch[1], "x", "acme", "red", NULL, 200);
	ck_assert_int_eq(ssid_rank_apply(r, ch, 2, true), -EINVAL);
	ck_assert_ptr_nonnull(strstr(ssid_rank_errstr(r), "twice"));
	change_total(&ch[1], "y", "acme", "red", NULL, 200);
	ch[1].score.total = 201;
	ck_assert_int_eq(ssid_rank_apply(r, ch, 2, true), -EINVAL);
	change_total(&ch[1], "y", "acme", "red", NULL, 200);
	ch[1].score.pillar[SSI_BRAND] = 2600;
	ch[1].score.pillar[SSI_PEOPLE] = -2400;
	ck_assert_int_eq(ssid_rank_apply(r, ch, 2, true), -EINVAL);
	memset(long_id, 'a', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	change_total(&ch[1], long_id, "acme", "red", NULL, 200);
	ck_assert_int_eq(ssid_rank_apply(r, ch, 2, true), -EINVAL);
	change_total(&ch[1], "y", long_id, "red", NULL, 200);
	ck_assert_int_eq(ssid_rank_apply(r, ch, 2, true), -EINVAL);
	change_total(&ch[1], "", "acme", "red", NULL, 200);
	ck_assert_int_eq(ssid_rank_apply(r, ch, 2, true), -EINVAL);
	/* Nothing was sent for any of them. */
	ssid_rank_get_stats(r, &st);
	ck_assert_uint_eq(st.commands, 0);
	ck_assert_int_eq(ssid_rank_apply(r, ch, 0, true), 0);
	ssid_rank_free(r);
}
END_TEST

/* A damaged record is dropped when its partition is loaded, and deleted at the next write. */
START_TEST (test_unreadable_record) {
	struct ssid_rank *r = rank_open(1, 10);
	redisContext *c = fx_redis_peek(&redis);
	struct ssid_rank_change ch[2];
	struct ssid_rank_stats st;
	redisReply *reply;

	change_total(&ch[0], "kept", "acme", "red", NULL, 300);
	ck_assert_int_eq(ssid_rank_apply(r, ch, 1, true), 0);
	ssid_rank_free(r);
	reply = redisCommand(c, "HSET ssi:rk:{p0}:u bad garbage");
	freeReplyObject(reply);
	r = rank_open(1, 10);
	change_total(&ch[0], "good", "acme", "red", NULL, 200);
	change_total(&ch[1], "bad", "acme", "red", NULL, 100);
	ch[1].partition = 1;
	ck_assert_int_eq(ssid_rank_apply(r, ch, 1, true), 0);
	ssid_rank_get_stats(r, &st);
	ck_assert_uint_eq(st.loaded, 1); /* kept */
	ck_assert_int_eq(ch[0].result[SSID_RANK_GLOBAL].after.of, 2);
	ck_assert_int_eq(ch[0].result[SSID_RANK_GLOBAL].after.rank, 2);
	ck_assert_int_eq(peek_int(c, "HEXISTS %s %s", "ssi:rk:{p0}:u", "bad"), 0);
	ck_assert_int_eq(stored_sum(c, 1, "g", 1), 500);
	/* The damaged rep counts again from its next score. */
	change_total(&ch[0], "bad", "acme", "red", NULL, 100);
	ck_assert_int_eq(ssid_rank_apply(r, ch, 1, true), 0);
	ck_assert(!ch[0].had_record);
	ck_assert_int_eq(ch[0].result[SSID_RANK_GLOBAL].after.of, 3);
	/* A key of the wrong type is an error of the call, nothing is counted. */
	reply = redisCommand(c, "SET ssi:rk:{p7}:u x");
	freeReplyObject(reply);
	ch[1].partition = 7;
	ck_assert_int_eq(ssid_rank_apply(r, &ch[1], 1, true), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(ssid_rank_errstr(r), "ssi:rk:{p7}:u"));
	ck_assert_int_eq(ssid_rank_apply(r, ch, 1, true), 0);
	ck_assert_int_eq(ch[0].result[SSID_RANK_GLOBAL].after.of, 3);
	redisFree(c);
	ssid_rank_free(r);
}
END_TEST

START_TEST (test_key_layout) {
	struct ssid_rank *r = rank_open(1, 10);
	redisContext *c = fx_redis_peek(&redis);
	const char *odd[SSI_SEG__COUNT] = {"a:b{c}", "x y%", "soft"};
	const char *plain[SSI_SEG__COUNT] = {"acme", "", "retail"};
	struct ssid_rank_change ch;
	struct ssi_rank_record rec;
	struct ssi_rankagg agg;
	char key[256];
	bool present;

	ck_assert_int_eq(ssid_rank_segment_field(SSID_RANK_TEAM, odd, key, sizeof(key)),
			 (int)strlen("m:a%3Ab%7Bc%7D:x%20y%25"));
	ck_assert_str_eq(key, "m:a%3Ab%7Bc%7D:x%20y%25");
	ck_assert_int_gt(ssid_rank_segment_field(SSID_RANK_GLOBAL, plain, key, sizeof(key)), 0);
	ck_assert_str_eq(key, "g");
	ck_assert_int_gt(ssid_rank_segment_field(SSID_RANK_INDUSTRY, plain, key, sizeof(key)), 0);
	ck_assert_str_eq(key, "i:retail");
	ck_assert_int_gt(ssid_rank_segment_field(SSID_RANK_TENANT, plain, key, sizeof(key)), 0);
	ck_assert_str_eq(key, "t:acme");
	ck_assert_int_eq(ssid_rank_segment_field(SSID_RANK_TEAM, plain, key, sizeof(key)), -ENOENT);
	ssid_rank_key_records("ssi:", 12, key, sizeof(key));
	ck_assert_str_eq(key, "ssi:rk:{p12}:u");
	ssid_rank_key_aggs("ssi:", 12, key, sizeof(key));
	ck_assert_str_eq(key, "ssi:rk:{p12}:s");
	ssid_rank_key_version("ssi:", 12, key, sizeof(key));
	ck_assert_str_eq(key, "ssi:rk:{p12}:v");
	ssid_rank_key_parts("ssi:", key, sizeof(key));
	ck_assert_str_eq(key, "ssi:rk:parts");

	change_set(&ch, "rep-1", "a:b{c}", "x y%", NULL, 100, 200, 300, 400);
	ch.partition = 3;
	ck_assert_int_eq(ssid_rank_apply(r, &ch, 1, true), 0);
	ck_assert(stored_record(c, 3, "rep-1", &rec));
	ck_assert_int_eq(rec.score.total, 1000);
	ck_assert_int_eq(rec.score.pillar[SSI_RELATIONSHIPS], 400);
	ck_assert_str_eq(rec.segment[SSI_SEG_TENANT], "a:b{c}");
	ck_assert_str_eq(rec.segment[SSI_SEG_TEAM], "x y%");
	ck_assert_str_eq(rec.segment[SSI_SEG_INDUSTRY], "");
	stored_agg(c, 3, "m:a%3Ab%7Bc%7D:x%20y%25", &agg, &present);
	ck_assert(present);
	ck_assert_int_eq(agg.n, 1);
	ck_assert_uint_eq(agg.top.n, 1);
	ck_assert_str_eq(agg.top.m[0].user_id, "rep-1");
	ssi_rankagg_clear(&agg);
	ck_assert_int_eq(peek_int(c, "SISMEMBER %s %s", "ssi:rk:parts", "3"), 1);
	ck_assert_int_eq(peek_int(c, "GET %s", "ssi:rk:{p3}:v", NULL), 1);
	redisFree(c);
	ssid_rank_free(r);
}
END_TEST

/*
 * Records go to Redis with every batch; aggregates, which only other
 * instances and ssictl read, at most every half refresh_ms and at a refresh.
 */
START_TEST (test_aggregates_written_lazily) {
	struct ssid_redis_opts so = fx_redis_opts(&redis);
	struct ssid_rank_opts ro = {.min_members = 1, .top_n = 10, .refresh_ms = 3600000};
	struct ssid_rank *r = NULL;
	redisContext *c = fx_redis_peek(&redis);
	struct ssid_rank_change ch;
	struct ssi_rank_record rec;

	ck_assert_int_eq(ssid_rank_new(&r, &so, &ro), 0);
	/* The first write of a partition is due (nothing was written yet). */
	change_total(&ch, "a", "acme", "red", NULL, 100);
	ck_assert_int_eq(ssid_rank_apply(r, &ch, 1, true), 0);
	ck_assert_int_eq(stored_sum(c, 1, "g", 0), 1);
	change_total(&ch, "b", "acme", "red", NULL, 300);
	ck_assert_int_eq(ssid_rank_apply(r, &ch, 1, true), 0);
	ck_assert(stored_record(c, 0, "b", &rec));
	ck_assert_int_eq(rec.score.total, 300);
	ck_assert_int_eq(stored_sum(c, 1, "g", 0), 1);		   /* not yet */
	ck_assert_int_eq(ch.result[SSID_RANK_GLOBAL].after.of, 2); /* in memory, at once */
	ck_assert_int_eq(ssid_rank_refresh(r, 0, true), 0);
	ck_assert_int_eq(stored_sum(c, 1, "g", 0), 2);
	ck_assert_int_eq(stored_sum(c, 1, "g", 1), 400);
	redisFree(c);
	ssid_rank_free(r);
}
END_TEST

START_TEST (test_redis_down_then_back) {
	struct ssid_rank *r = rank_open(1, 10);
	struct ssid_rank_change ch;
	char dir[PATH_MAX];

	change_total(&ch, "u", "acme", "red", NULL, 100);
	ck_assert_int_eq(ssid_rank_apply(r, &ch, 1, true), 0);
	ck_assert_int_eq(fx_redis_stop(&redis), 0);
	change_total(&ch, "u", "acme", "red", NULL, 200);
	ck_assert_int_eq(ssid_rank_apply(r, &ch, 1, true), -EIO);
	ck_assert_str_ne(ssid_rank_errstr(r), "");
	ck_assert_int_eq(ssid_rank_apply(r, &ch, 1, true), -EIO);
	ck_assert_ptr_nonnull(strstr(ssid_rank_errstr(r), "connect"));
	ck_assert_int_eq(fx_redis_start(&redis, fx_path(dir, sizeof(dir), "redis"), false), 0);
	/* A fresh, empty server (the daemon sees its new epoch and resets): the rep is new there.
	 */
	ssid_rank_reset(r);
	ck_assert_int_eq(ssid_rank_apply(r, &ch, 1, true), 0);
	ck_assert(!ch.had_record);
	ck_assert_int_eq(ch.result[SSID_RANK_TENANT].after.of, 1);
	ssid_rank_free(r);
}
END_TEST

START_TEST (test_new_rejects_bad_options) {
	struct ssid_redis_opts so = {.host = "127.0.0.1", .port = 1, .key_prefix = "ssi:"};
	struct ssid_rank_opts ro = {.min_members = 0, .top_n = 10};
	struct ssid_rank *r = NULL;

	ck_assert_int_eq(ssid_rank_new(&r, &so, &ro), -EINVAL);
	ro.min_members = 10;
	ro.top_n = SSID_RANK_TOP_MAX + 1;
	ck_assert_int_eq(ssid_rank_new(&r, &so, &ro), -EINVAL);
	ck_assert_int_eq(ssid_rank_new(&r, &so, NULL), 0);
	ssid_rank_free(r);
	ssid_rank_free(NULL);
	ck_assert_str_eq(ssid_rank_kind_name(SSID_RANK_TEAM), "team");
}
END_TEST

Suite *rank_suite(void)
{
	Suite *s = suite_create("rank");
	TCase *redis_tc = tcase_create("redis");
	TCase *pure = tcase_create("pure");

	tcase_add_checked_fixture(redis_tc, setup, teardown);
	tcase_set_timeout(redis_tc, 120);
	tcase_add_test(redis_tc, test_ranks_with_ties);
	tcase_add_test(redis_tc, test_averages);
	tcase_add_test(redis_tc, test_random_against_model);
	tcase_add_test(redis_tc, test_random_floor_beyond_board);
	tcase_add_test(redis_tc, test_random_three_instances);
	tcase_add_test(redis_tc, test_random_three_instances_floor);
	tcase_add_test(redis_tc, test_privacy_floor);
	tcase_add_test(redis_tc, test_boards);
	tcase_add_test(redis_tc, test_big_batch_round_trips);
	tcase_add_test(redis_tc, test_invalid_changes);
	tcase_add_test(redis_tc, test_unreadable_record);
	tcase_add_test(redis_tc, test_key_layout);
	tcase_add_test(redis_tc, test_redis_down_then_back);
	tcase_add_test(redis_tc, test_aggregates_written_lazily);
	suite_add_tcase(s, redis_tc);
	tcase_add_test(pure, test_new_rejects_bad_options);
	suite_add_tcase(s, pure);
	return s;
}
