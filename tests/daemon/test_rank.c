/*
 * ssid_rank against a real redis-server, by hand-checked cases: ranks,
 * sizes and percentiles with ties, averages through updates, moves and
 * removal, the privacy floor, leaderboards and the flags of the boards a
 * change touches, and the options ssid_rank_new refuses. The suite's other
 * files check ranks against a plain in-test model of the segments (one
 * instance, and three sharing and trading the partitions:
 * test_rank_model.c), and what is stored per partition, errors and the
 * commands a 10,000-rep batch costs (INFO commandstats: test_rank_store.c).
 * Band crossings are tests/unit/test_band.c's; board diffs and coalescing,
 * tests/unit/test_boards.c's.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <check.h>
#include <hiredis/hiredis.h>

#include "fixture.h"
#include "rank_util.h"
#include "ssid_boards.h"
#include "ssid_rank.h"
#include "suites.h"

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
	ck_assert_int_eq(rank_apply(r, ch, 12, true), 0);
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
	ck_assert_int_eq(rank_apply(r, ch, 12, true), 0);
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
	ck_assert_int_eq(rank_apply(r, ch, 1, true), 0);
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
	redisContext *c = fx_redis_peek(&rank_redis);
	struct ssid_rank_change ch[3];
	struct ssi_rank_record rec;
	const struct ssid_rank_pos *p;

	change_set(&ch[0], "a", "acme", "red", "software", 1000, 500, 250, 250);
	change_set(&ch[1], "b", "acme", "red", "software", 2000, 1000, 0, 0);
	change_set(&ch[2], "c", "beta", "red", "retail", 100, 100, 100, 100);
	ck_assert_int_eq(rank_apply(r, ch, 3, true), 0);
	p = &ch[0].result[SSID_RANK_TENANT].after;
	ck_assert_int_eq(p->avg_total_cp, 2500);
	ck_assert_int_eq(p->avg_pillar_cp[SSI_BRAND], 1500);
	ck_assert_int_eq(p->avg_pillar_cp[SSI_PEOPLE], 750);
	ck_assert_int_eq(p->avg_pillar_cp[SSI_INSIGHTS], 125);
	ck_assert_int_eq(p->avg_pillar_cp[SSI_RELATIONSHIPS], 125);
	p = &ch[2].result[SSID_RANK_GLOBAL].after;
	ck_assert_int_eq(p->avg_total_cp, 1800); /* (2000 + 3000 + 400) / 3 */
	ck_assert_int_eq(p->avg_pillar_cp[SSI_BRAND], 1033);

	/* An update moves the sums by the delta: (2501 + 3000) / 2 = 2750.5, rounded up. */
	change_set(&ch[0], "a", "acme", "red", "software", 1500, 500, 250, 251);
	ck_assert_int_eq(rank_apply(r, ch, 1, true), 0);
	p = &ch[0].result[SSID_RANK_TENANT].after;
	ck_assert_int_eq(p->avg_total_cp, 2751);
	ck_assert_int_eq(p->avg_pillar_cp[SSI_RELATIONSHIPS], 126);
	ck_assert_int_eq(ch[0].result[SSID_RANK_TENANT].before.avg_total_cp, 2500);
	ck_assert_int_eq(stored_sum(c, 1, "t:acme", 1), 5501);

	/* b changes tenant: its whole contribution moves from acme to beta. */
	change_set(&ch[0], "b", "beta", "blue", "software", 2000, 1000, 0, 0);
	ck_assert_int_eq(rank_apply(r, ch, 1, true), 0);
	ck_assert(ch[0].result[SSID_RANK_TENANT].moved);
	ck_assert(ch[0].result[SSID_RANK_TEAM].moved);
	ck_assert(!ch[0].result[SSID_RANK_INDUSTRY].moved);
	ck_assert_str_eq(ch[0].old_segment[SSI_SEG_TENANT], "acme");
	ck_assert_int_eq(ch[0].result[SSID_RANK_TENANT].before.avg_total_cp, 2751);
	ck_assert_int_eq(ch[0].result[SSID_RANK_TENANT].before.of, 2);
	ck_assert_int_eq(ch[0].result[SSID_RANK_TENANT].after.avg_total_cp, 1700);
	ck_assert_int_eq(ch[0].result[SSID_RANK_TENANT].after.of, 2);

	/*
	 * c leaves retail, whose last member it was, as z joins it in the same
	 * batch; then z leaves it too. A value gone from every record stays
	 * readable in old_segment until the next apply (ASan and valgrind
	 * watch this), and a value taken again is not freed under its holder.
	 */
	change_set(&ch[0], "c", "beta", "red", "software", 100, 100, 100, 100);
	change_set(&ch[1], "z", "zeta", "red", "retail", 100, 100, 100, 100);
	ck_assert_int_eq(rank_apply(r, ch, 2, true), 0);
	ck_assert_str_eq(ch[0].old_segment[SSI_SEG_INDUSTRY], "retail");
	ck_assert(ch[0].result[SSID_RANK_INDUSTRY].moved);
	ck_assert_int_eq(ch[1].result[SSID_RANK_INDUSTRY].after.of, 1);
	change_set(&ch[0], "z", "zeta", "red", "software", 100, 100, 100, 100);
	ck_assert_int_eq(rank_apply(r, ch, 1, true), 0);
	ck_assert_str_eq(ch[0].old_segment[SSI_SEG_INDUSTRY], "retail");
	ck_assert_str_eq(ch[0].old_segment[SSI_SEG_TEAM], "red");
	ck_assert_int_eq(ch[0].result[SSID_RANK_INDUSTRY].after.of, 4);
	memset(&ch[0], 0, sizeof(ch[0]));
	ch[0].user_id = "z";
	ch[0].removed = true;
	ck_assert_int_eq(rank_apply(r, ch, 1, true), 0);
	ck_assert_str_eq(ch[0].old_segment[SSI_SEG_TENANT], "zeta");
	ck_assert_int_eq(stored_sum(c, 1, "t:acme", 0), 1);
	ck_assert_int_eq(stored_sum(c, 1, "t:acme", 1), 2501);
	ck_assert_int_eq(stored_sum(c, 1, "t:beta", 1), 3400);
	ck_assert_int_eq(stored_sum(c, 1, "m:acme:red", 0), 1);
	ck_assert_int_eq(stored_sum(c, 1, "m:beta:blue", 0), 1);

	/* a changes team within its tenant: the tenant does not move. */
	change_set(&ch[0], "a", "acme", "green", "software", 1500, 500, 250, 251);
	ck_assert_int_eq(rank_apply(r, ch, 1, true), 0);
	ck_assert(!ch[0].result[SSID_RANK_TENANT].moved);
	ck_assert(ch[0].result[SSID_RANK_TEAM].moved);
	/* An emptied segment's field is deleted. */
	ck_assert_int_eq(peek_int(c, "HEXISTS %s %s", "ssi:rk:{p0}:s", "m:acme:red"), 0);
	ck_assert_int_eq(stored_sum(c, 1, "m:acme:green", 1), 2501);
	ck_assert_int_eq(stored_sum(c, 1, "t:acme", 1), 2501);

	/* Removal withdraws c everywhere; its record (its hash) goes too. */
	memset(&ch[0], 0, sizeof(ch[0]));
	ch[0].user_id = "c";
	ch[0].removed = true;
	ck_assert_int_eq(rank_apply(r, ch, 1, true), 0);
	ck_assert(ch[0].result[SSID_RANK_GLOBAL].before.present);
	ck_assert(!ch[0].result[SSID_RANK_GLOBAL].after.present);
	ck_assert_int_eq(stored_sum(c, 1, "t:beta", 0), 1);
	ck_assert_int_eq(stored_sum(c, 1, "t:beta", 1), 3000);
	ck_assert_int_eq(stored_sum(c, 1, "i:retail", 0), 0);
	ck_assert_int_eq(stored_sum(c, 1, "g", 0), 2);
	ck_assert_int_eq(stored_sum(c, 1, "g", 1), 5501);
	ck_assert(stored_record("a", &rec) && stored_record("b", &rec));
	ck_assert(!stored_record("c", &rec));
	/* Removing a rep that is not there changes nothing. */
	ck_assert_int_eq(rank_apply(r, ch, 1, true), 0);
	ck_assert(!ch[0].had_record);
	ck_assert_int_eq(stored_sum(c, 1, "g", 0), 2);
	redisFree(c);
	ssid_rank_free(r);
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
	ck_assert_int_eq(rank_apply(r, ch, 9, true), 0);
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
			ck_assert_int_eq(a->avg_total_cp, 0);
		}
	bd.segment[SSI_SEG_TENANT] = "acme";
	bd.segment[SSI_SEG_TEAM] = "small";
	ck_assert_int_eq(ssid_rank_boards(r, &bd, 1), 0);
	ck_assert(bd.hidden);
	ck_assert_int_eq(bd.of, 9);
	ck_assert_uint_eq(bd.n, 0);

	/* The tenth member lifts the floor: everyone shows, and so does the board. */
	ck_assert_int_eq(rank_apply(r, &ch[9], 1, true), 0);
	ck_assert(ch[9].result[SSID_RANK_TEAM].before.present == false);
	ck_assert(!ch[9].result[SSID_RANK_TEAM].after.hidden);
	ck_assert_int_eq(ch[9].result[SSID_RANK_TEAM].after.rank, 1);
	ck_assert_int_eq(ch[9].result[SSID_RANK_TEAM].after.top_percent, 10);
	ck_assert_int_eq(ch[9].result[SSID_RANK_TEAM].after.avg_total_cp, 5500);
	ck_assert(ch[9].result[SSID_RANK_TEAM].board_new);
	ck_assert_int_eq(rank_apply(r, ch, 9, true), 0);
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
	ck_assert_int_eq(rank_apply(r, ch, 1, true), 0);
	ck_assert(!ch[0].result[SSID_RANK_TEAM].before.hidden);
	ck_assert(ch[0].result[SSID_RANK_TEAM].board_old);
	change_total(&ch[1], "p1", "acme", "small", NULL, 2001);
	ck_assert_int_eq(rank_apply(r, &ch[1], 1, true), 0);
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
	ck_assert_int_eq(rank_apply(r, ch, 8, true), 0);
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
	ck_assert_int_eq(rank_apply(r, ch, 1, true), 0);
	ck_assert_int_eq(ch[0].result[SSID_RANK_TEAM].before.rank, 7);
	ck_assert_int_eq(ch[0].result[SSID_RANK_TEAM].after.rank, 6);
	ck_assert(!ch[0].result[SSID_RANK_TEAM].board_old);
	ck_assert(!ch[0].result[SSID_RANK_TEAM].board_new);
	/* g enters the top 5. */
	change_total(&ch[0], "g", "acme", "red", NULL, 4000);
	ck_assert_int_eq(rank_apply(r, ch, 1, true), 0);
	ck_assert(ch[0].result[SSID_RANK_TEAM].board_new);
	ck_assert(ch[0].result[SSID_RANK_TENANT].board_new);
	memcpy(e1, e0, sizeof(e0));
	ck_assert_int_eq(ssid_rank_boards(r, bd, 1), 0);
	ck_assert_str_eq(e0[4].user_id, "g");
	ck_assert_uint_eq(ssid_boards_diff(e1, 5, e0, 5), SSID_BOARD_MEMBERS);
	/* d moves to team blue: both boards of the team kind are flagged. */
	change_total(&ch[0], "d", "acme", "blue", NULL, 7000);
	ck_assert_int_eq(rank_apply(r, ch, 1, true), 0);
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
/* A batch naming a rep twice is refused whole, wherever the two are, and nothing moves. */
START_TEST (test_repeat_refused) {
	enum { N = 3000 };
	static struct ssid_rank_change ch[N];
	static char id[N][16];
	struct ssid_rank *r = rank_open(1, 10);

	for (int i = 0; i < N; i++) {
		snprintf(id[i], sizeof(id[i]), "r%d", i);
		change_total(&ch[i], id[i], "acme", "emea", "software", 1000 + i);
	}
	ck_assert_int_eq(rank_apply(r, ch, N, true), 0);
	for (int at = 1; at < N; at = at * 3 + 1) {
		char again[16];

		/* The same id in another buffer: compared by value. */
		snprintf(again, sizeof(again), "r%d", at / 2);
		ch[at].user_id = again;
		ck_assert_int_eq(ssid_rank_apply(r, ch, N, false), -EINVAL);
		ck_assert_msg(strstr(ssid_rank_errstr(r), "comes twice") != NULL, "%s",
			      ssid_rank_errstr(r));
		ch[at].user_id = id[at];
	}
	/* Nothing moved: everyone still holds their place. */
	ck_assert_int_eq(ssid_rank_apply(r, ch, N, false), 0);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(ch[i].result[SSID_RANK_GLOBAL].after.rank, N - i);
	ssid_rank_free(r);
}
END_TEST
static bool same_pos(const struct ssid_rank_pos *x, const struct ssid_rank_pos *y)
{
	bool same = x->present == y->present && x->hidden == y->hidden && x->rank == y->rank &&
		    x->of == y->of && x->top_percent == y->top_percent &&
		    x->warming == y->warming && x->avg_total_cp == y->avg_total_cp;

	for (int p = 0; p < SSI_PILLAR__COUNT; p++)
		same = same && x->avg_pillar_cp[p] == y->avg_pillar_cp[p];
	return same;
}

/*
 * brief_before leaves out only before's rank, top_percent and averages:
 * two instances fed the same random batches (moves between teams, the
 * privacy floor crossed both ways), one of them brief, agree on the rest.
 */
START_TEST (test_brief_before) {
	enum { REPS = 40, BATCHES = 60, PER = 12 };
	static const char *const team[] = {"emea", "apac", "amer", ""};
	struct ssid_rank *full = rank_open(5, 3), *brief = rank_open(5, 3);
	struct ssid_rank_change a[PER], b[PER];
	char id[REPS][16];
	struct t_rng rng = {.s = 0xb41ef};

	for (int i = 0; i < REPS; i++)
		snprintf(id[i], sizeof(id[i]), "r%02d", i);
	for (int batch = 0; batch < BATCHES; batch++) {
		int first = (int)t_below(&rng, REPS - PER + 1);

		for (int i = 0; i < PER; i++) {
			change_total(&a[i], id[first + i], "acme", team[t_below(&rng, 4)],
				     "software", (int)t_below(&rng, 101) * 100);
			a[i].removed = t_below(&rng, 10) == 0;
			b[i] = a[i];
			b[i].brief_before = true;
		}
		ck_assert_int_eq(ssid_rank_apply(full, a, PER, false), 0);
		ck_assert_int_eq(ssid_rank_apply(brief, b, PER, false), 0);
		for (int i = 0; i < PER; i++)
			for (int k = 0; k < SSID_RANK__COUNT; k++) {
				const struct ssid_rank_result *x = &a[i].result[k],
							      *y = &b[i].result[k];
				struct ssid_rank_pos want = x->before;

				want.rank = want.top_percent = 0;
				want.warming = false;
				want.avg_total_cp = 0;
				memset(want.avg_pillar_cp, 0, sizeof(want.avg_pillar_cp));
				ck_assert(same_pos(&x->after, &y->after));
				ck_assert(same_pos(&want, &y->before));
				ck_assert(x->moved == y->moved && x->board_old == y->board_old &&
					  x->board_new == y->board_new);
			}
	}
	ssid_rank_free(full);
	ssid_rank_free(brief);
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

	suite_add_tcase(s, T_TCASE("redis", rank_setup, rank_teardown, 120, test_ranks_with_ties,
				   test_averages, test_privacy_floor, test_boards,
				   test_repeat_refused, test_brief_before));
	suite_add_tcase(s, rank_model_tcase());
	suite_add_tcase(s, rank_store_tcase());
	suite_add_tcase(s, T_TCASE("pure", NULL, NULL, 0, test_new_rejects_bad_options));
	return s;
}
