/*
 * ssid_rank against a plain in-test model of the segments, the oracle:
 * random batches of new scores, ties, moves, unknown segments and removals
 * over five partitions, owned by one instance or by three that trade them;
 * every position before and after each batch, every leaderboard and the
 * stored aggregates checked against the model. A test case of the rank
 * suite (test_rank.c).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <hiredis/hiredis.h>

#include "fixture.h"
#include "rank_util.h"
#include "ssi_rank.h"
#include "ssid_boards.h"
#include "ssid_rank.h"
#include "suites.h"

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
	out->avg_total_cp = (int)round((double)sum[0] / (double)members);
	for (int p = 0; p < SSI_PILLAR__COUNT; p++)
		out->avg_pillar_cp[p] = (int)round((double)sum[1 + p] / (double)members);
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
	ck_assert_msg(got->avg_total_cp == want->avg_total_cp,
		      "%s %s %s: average %d cp, expected %d", who,
		      ssid_rank_kind_name((enum ssid_rank_kind)kind), when, got->avg_total_cp,
		      want->avg_total_cp);
	for (int p = 0; p < SSI_PILLAR__COUNT; p++)
		ck_assert_msg(got->avg_pillar_cp[p] == want->avg_pillar_cp[p],
			      "%s %s %s: %s average %d cp, expected %d", who,
			      ssid_rank_kind_name((enum ssid_rank_kind)kind), when,
			      ssi_pillar_name((enum ssi_pillar)p), got->avg_pillar_cp[p],
			      want->avg_pillar_cp[p]);
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
static void random_against_model(int min_members, int top_n, uint64_t seed, int ninst,
				 int replay_rounds)
{
	static const char *const tenants[] = {"", "acme", "beta", "gamma"};
	static const char *const teams[] = {"", "red", "blue"};
	static const char *const industries[] = {"", "software", "retail"};
	static const int tie_values[] = {0, 500, 1250, 2500};
	struct model_rep reps[MODEL_REPS], cur[MODEL_REPS], before[MODEL_REPS];
	struct ssid_rank *inst[MODEL_INSTANCES_MAX];
	int owner[MODEL_PARTS];
	redisContext *c = fx_redis_peek(&rank_redis);
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
		/* A rebuild first: mostly replayed changes, now and then a rescore. */
		bool replaying = round < replay_rounds;

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
			ch[i].quiet = replaying && t_below(&rng, 6) != 0;
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
			ck_assert_msg(rank_apply(inst[x], grp, gn, true) == 0, "round %d: %s",
				      round, ssid_rank_errstr(inst[x]));
			/* A replay's ranks are not read back; the others' count what is counted. */
			for (size_t i = 0; i < gn; i++)
				for (int k = 0; k < SSID_RANK__COUNT && grp[i].quiet; k++)
					ck_assert(!grp[i].result[k].after.present &&
						  !grp[i].result[k].board_old &&
						  !grp[i].result[k].board_new);
			if (replaying)
				continue;
			check_changes(grp, gwho, gn, before, cur, min_members, "batch");
			check_boards(inst[x], grp, gwho, gn, before, cur, min_members, top_n, true);
			/* Now and then the same batch again: nothing may move (idempotence). */
			if (round % 10 == 9) {
				ck_assert_int_eq(rank_apply(inst[x], grp, gn, true), 0);
				check_changes(grp, gwho, gn, cur, cur, min_members, "again");
				for (size_t i = 0; i < gn; i++)
					for (int k = 0; k < SSID_RANK__COUNT; k++)
						ck_assert(!grp[i].result[k].board_old &&
							  !grp[i].result[k].board_new);
			}
		}
		if (replaying && round + 1 < replay_rounds)
			continue;
		if (replaying) {
			/*
			 * The replay is over: the daemon settles each partition
			 * (instance 0 here) or, without a word, a refresh 4
			 * refresh_ms after the last replayed change does (the
			 * others), before check_at_rest reads them.
			 */
			for (int x = 0; x < ninst; x++) {
				struct ssid_rank_stats st;

				ssid_rank_get_stats(inst[x], &st);
				ck_assert_msg(st.deferred > 0, "instance %d deferred nothing", x);
				for (int p = 0; p < MODEL_PARTS && x == 0; p++)
					ck_assert_int_eq(ssid_rank_settle(inst[x], p), 0);
				for (int again = 0; again < 10 && x > 0; again++)
					ck_assert_int_eq(ssid_rank_refresh(inst[x], 0, true), 0);
			}
		}
		check_at_rest(inst, ninst, reps, min_members, top_n);
		if (replaying) {
			uint64_t settled = 0;

			for (int x = 0; x < ninst; x++) {
				struct ssid_rank_stats st;

				ssid_rank_get_stats(inst[x], &st);
				settled += st.settled;
			}
			ck_assert_msg(settled > 0, "no record was settled");
		}
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
		ck_assert_int_eq(rank_apply(fresh, probe, MODEL_PARTS, true), 0);
		check_at_rest(&fresh, 1, reps, min_members, top_n);
		ssid_rank_free(fresh);
	}
	redisFree(c);
}

/* The runs: floor, board length, seed, instances, rounds of replay first. */
static const struct {
	int min_members, top_n;
	uint64_t seed;
	int ninst;
	int replay_rounds;
} runs[] = {
    {3, 4, 20261120, 1, 0}, /* one instance */
    {6, 2, 77, 1, 0},	    /* a floor above the board length: joins and leaves can show a board */
    {3, 4, 4242, 3, 0},	    /* three instances sharing five partitions, trading them now and then */
    {5, 3, 99, 3, 0},	    /* three instances, a floor above the board length */
    {3, 4, 31337, 1, 12},   /* a rebuild first, settled by the daemon's call */
    {4, 3, 2718, 3, 12},    /* a rebuild shared by three instances trading partitions */
};

START_TEST (test_random_against_model) {
	random_against_model(runs[_i].min_members, runs[_i].top_n, runs[_i].seed, runs[_i].ninst,
			     runs[_i].replay_rounds);
}
END_TEST

TCase *rank_model_tcase(void)
{
	TCase *tc = tcase_create("model");

	tcase_add_checked_fixture(tc, rank_setup, rank_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_random_against_model, 0,
			    (int)(sizeof(runs) / sizeof(runs[0])));
	return tc;
}
