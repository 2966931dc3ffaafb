/*
 * Ranks end to end (ssid in a thread, e2e.h): where every rep stands in
 * each segment in its score.updated (rank, size, percentile, averages, the
 * privacy floor), rank.changed when a rep crosses a percentile band and
 * only then, and the coalesced leaderboard.changed of teams and tenants, all
 * against ranks computed from the engine's scores of everyone.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "e2e.h"
#include "ssid_conns.h"
#include "ssid_network.h"
#include "ssid_rank.h"
#include "suites.h"

/* ---- ranks ----------------------------------------------------------------- */

/* Competition rank of u among members[0..n) by total: 1 + how many are strictly higher. */
static int rank_among(const struct ssi_score *s, const int *members, int n, int u)
{
	int higher = 0;

	for (int i = 0; i < n; i++)
		higher += s[members[i]].total > s[u].total;
	return higher + 1;
}

/* ceil(100 * rank / of): the ranking rule of ssid_rank.h. */
static int top_percent(int rank, int of)
{
	return (100 * rank + of - 1) / of;
}

/* The tightest of the default bands 1 5 10 15 25 50 holding top, 0 for none. */
static int band_of(int top)
{
	static const int bands[] = {1, 5, 10, 15, 25, 50};

	for (size_t i = 0; i < sizeof(bands) / sizeof(bands[0]); i++)
		if (top <= bands[i])
			return bands[i];
	return 0;
}

/*
 * The position object of rep u in a segment of members[0..n): hidden under
 * the floor of 10, else its rank, size, percentile and the averages of the
 * members' totals and pillars (rounded to hundredths).
 */
static void check_pos(const json_t *pos, const char *what, const struct ssi_score *s,
		      const int *members, int n, int u)
{
	long long sum[1 + SSI_PILLAR__COUNT] = {0};
	const json_t *avg;
	int rank;

	ck_assert_msg(json_is_object(pos), "rep %d: no ranks.%s", u, what);
	if (n < 10) {
		ck_assert_msg(
		    json_object_size(pos) == 1 && json_is_true(json_object_get(pos, "hidden")),
		    "rep %d: ranks.%s of %d members is not {\"hidden\":true}", u, what, n);
		return;
	}
	ck_assert_msg(!json_object_get(pos, "hidden"), "rep %d: ranks.%s hidden", u, what);
	for (int i = 0; i < n; i++) {
		sum[0] += s[members[i]].total;
		for (int p = 0; p < SSI_PILLAR__COUNT; p++)
			sum[1 + p] += s[members[i]].pillar[p];
	}
	rank = rank_among(s, members, n, u);
	ck_assert_msg(json_integer_value(json_object_get(pos, "rank")) == rank,
		      "rep %d: ranks.%s.rank is %lld, expected %d", u, what,
		      (long long)json_integer_value(json_object_get(pos, "rank")), rank);
	ck_assert_int_eq(json_integer_value(json_object_get(pos, "of")), n);
	ck_assert_int_eq(json_integer_value(json_object_get(pos, "top_percent")),
			 top_percent(rank, n));
	ck_assert_msg(e2e_cp(json_object_get(pos, "average")) == lround((double)sum[0] / n),
		      "rep %d: ranks.%s.average %d, expected %ld", u, what,
		      e2e_cp(json_object_get(pos, "average")), lround((double)sum[0] / n));
	avg = json_object_get(pos, "average_pillars");
	ck_assert_msg(json_is_object(avg), "rep %d: ranks.%s has no average_pillars", u, what);
	for (int p = 0; p < SSI_PILLAR__COUNT; p++)
		ck_assert_int_eq(e2e_cp(json_object_get(avg, ssi_pillar_name((enum ssi_pillar)p))),
				 lround((double)sum[1 + p] / n));
}

/*
 * The rank tests' population: reps 0..9 are team alpha, 10..12 team beta,
 * all of tenant acme and industry software.
 */
#define RANK_REPS  13
#define ALPHA_REPS 10

/* Segments of the rank tests' reps (see RANK_REPS). */
static void rank_population(struct e2e_env *e)
{
	for (int u = 0; u < RANK_REPS; u++)
		e->seg[u] = (struct e2e_seg){"acme", u < ALPHA_REPS ? "alpha" : "beta", "software"};
}

/* The members of each segment kind of rep u in the rank population. */
static int segment_members(int kind, int u, int *members)
{
	int n = 0;

	for (int v = 0; v < RANK_REPS; v++)
		if (kind != SSID_RANK_TEAM || (v < ALPHA_REPS) == (u < ALPHA_REPS))
			members[n++] = v;
	return n;
}

/*
 * Every rep's last score.updated says where it stands in each segment, as
 * computed from the engine's scores of everyone: competition rank, size,
 * percentile, averages; the 3-rep team is hidden by the privacy floor.
 */
START_TEST (test_ranks_in_scores) {
	static const char *const kinds[SSID_RANK__COUNT] = {"global", "industry", "tenant", "team"};
	struct ssi_score mid[RANK_REPS], fin[RANK_REPS];
	struct e2e_outs os;
	struct e2e_env e;
	char attrs[256];
	size_t first;

	e2e_open(&e, "ranks", RANK_REPS, false);
	rank_population(&e);
	e2e_start(&e, &(struct e2e_run){.batch = RANK_REPS, .waves = true});

	/* Two batches of profiles and activity, then one batch touching everyone. */
	for (int u = 0; u < RANK_REPS; u++) {
		e2e_add_ev(&e, u, SSI_EV_PROFILE_UPDATED, FX_NOW_MS - 30 * DAY,
			   e2e_profile(attrs, sizeof(attrs), (unsigned)(u * 7) % 32, u, u % 4));
		e2e_add_ev(&e, u, e2e_plain_types[u % E2E_NPLAIN], FX_NOW_MS - (u + 1) * DAY, "");
	}
	e2e_produce_wave(&e, 0);
	first = e.fx.stream.n;
	for (int u = 0; u < RANK_REPS; u++)
		e2e_add_ev(&e, u, SSI_EV_ARTICLE_PUBLISHED, FX_NOW_MS - 2 * T_HOUR, "");
	for (int u = 0; u < RANK_REPS; u++) {
		e2e_ref_score(&e, u, first, &e.fx.model, FX_NOW_MS, &mid[u]);
		e2e_ref_score(&e, u, e.fx.stream.n, &e.fx.model, FX_NOW_MS, &fin[u]);
		ck_assert_msg(!e2e_score_eq(&mid[u], &fin[u]), "the last wave must move rep %d", u);
	}
	e2e_produce_wave(&e, first);
	ck_assert_int_eq(fx_daemon_stop(&e.daemon), 0);
	fx_check_states(&e.fx.redis, &e.fx.stream, &e.fx.model);
	fx_check_outputs(&e.fx.kafka, &e.fx.stream, &e.fx.model, true);

	/* Every rep's last score.updated says where it stands after the last batch. */
	e2e_outs_read(&e, &os);
	for (int u = 0; u < RANK_REPS; u++) {
		const json_t *j = e2e_last_score(&os, u), *ranks;

		ck_assert_ptr_nonnull(j);
		ranks = json_object_get(j, "ranks");
		ck_assert_msg(json_is_object(ranks), "rep %d: score.updated without ranks", u);
		for (int k = 0; k < SSID_RANK__COUNT; k++) {
			int members[RANK_REPS], n = segment_members(k, u, members);

			check_pos(json_object_get(ranks, kinds[k]), kinds[k], fin, members, n, u);
		}
	}
	e2e_outs_free(&os);
	e2e_close(&e);
}
END_TEST

/*
 * The network rank in score.updated: computed once a day per rep, for the
 * batch's reps at once, each from its own total as just ranked. The first
 * batch's connections are written with that batch, after its network ranks,
 * so each rep's network is then the rep alone (the privacy floor lowered to
 * 1 to see it): rank 1 of 1 at its own first total, which later batches the
 * same day show again. At rest the connection is in the rep's field c, no
 * set was made, and ssid_network (ssictl's) counts the peer.
 */
START_TEST (test_network_in_scores) {
	struct ssi_score first_score[RANK_REPS];
	struct e2e_outs os;
	struct e2e_env e;
	char attrs[256], peer[64], today[SSI_TIME_BUFLEN];
	size_t first;

	e2e_open(&e, "network", RANK_REPS, false);
	rank_population(&e);
	e2e_start(&e, &(struct e2e_run){.batch = 2 * RANK_REPS,
					.waves = true,
					.extra = "rank.min_members = 1\n"});
	for (int u = 0; u < RANK_REPS; u++) {
		fx_user_id(&e.fx.stream, (u + 1) % RANK_REPS, peer, sizeof(peer));
		snprintf(attrs, sizeof(attrs),
			 ",\"attrs\":{\"connection_id\":\"%s\",\"seniority\":\"%s\","
			 "\"same_company\":true}",
			 peer, ssi_seniority_name((enum ssi_seniority)1));
		e2e_add_ev(&e, u, e2e_plain_types[u % E2E_NPLAIN], FX_NOW_MS - (u + 1) * DAY, "");
		e2e_add_ev(&e, u, SSI_EV_CONNECTION_ADDED, FX_NOW_MS - DAY, attrs);
	}
	e2e_produce_wave(&e, 0);
	first = e.fx.stream.n;
	for (int u = 0; u < RANK_REPS; u++) {
		e2e_ref_score(&e, u, first, &e.fx.model, FX_NOW_MS, &first_score[u]);
		e2e_add_ev(&e, u, SSI_EV_ARTICLE_PUBLISHED, FX_NOW_MS - 2 * T_HOUR, "");
		e2e_add_ev(&e, u, SSI_EV_SESSION_STARTED, FX_NOW_MS - T_HOUR, "");
	}
	e2e_produce_wave(&e, first);
	ck_assert_int_eq(fx_daemon_stop(&e.daemon), 0);

	ssi_time_format(FX_NOW_MS, today);
	e2e_outs_read(&e, &os);
	for (int u = 0; u < RANK_REPS; u++) {
		const json_t *j = e2e_last_score(&os, u);
		const json_t *net = json_object_get(json_object_get(j, "ranks"), "network");

		ck_assert_msg(json_is_object(net), "rep %d: no ranks.network", u);
		ck_assert_int_eq(json_integer_value(json_object_get(net, "rank")), 1);
		ck_assert_int_eq(json_integer_value(json_object_get(net, "of")), 1);
		ck_assert_int_eq(json_integer_value(json_object_get(net, "top_percent")), 100);
		ck_assert_msg(e2e_cp(json_object_get(net, "average")) == first_score[u].total,
			      "rep %d: network average %d, its first total %d", u,
			      e2e_cp(json_object_get(net, "average")), first_score[u].total);
		ck_assert_ptr_nonnull(e2e_str_of(net, "as_of_day"));
		ck_assert_int_eq(strncmp(e2e_str_of(net, "as_of_day"), today, 10), 0);
	}
	e2e_outs_free(&os);
	{
		struct ssid_redis *rd = fx_redis_client(&e.fx.redis);
		char id[64];

		for (int u = 0; u < RANK_REPS; u++) {
			struct ssid_rank_pos pos;
			redisReply *r;

			fx_user_id(&e.fx.stream, u, id, sizeof(id));
			fx_user_id(&e.fx.stream, (u + 1) % RANK_REPS, peer, sizeof(peer));
			r = e2e_rcmd(rd, "HGET ssi:u:{%s} " SSID_CONNS_FIELD, id);
			ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
			ck_assert_int_eq(r->len, 2 + strlen(peer)); /* flags, length, the id */
			ck_assert(r->str[0] == 0 && memcmp(r->str + 2, peer, strlen(peer)) == 0);
			freeReplyObject(r);
			ck_assert_int_eq(e2e_rint(rd, "EXISTS ssi:net:{%s}", id), 0);
			ck_assert_int_eq(ssid_network_rank(rd, id, 1, &pos, NULL), 0);
			ck_assert_int_eq(pos.of, 2);
		}
		ssid_redis_free(rd);
	}
	e2e_close(&e);
}
END_TEST

/* The segment kind named in a message. */
static int kind_of(const char *name)
{
	for (int k = 0; k < SSID_RANK__COUNT; k++)
		if (strcmp(ssid_rank_kind_name((enum ssid_rank_kind)k), name) == 0)
			return k;
	ck_abort_msg("unknown segment kind %s", name);
	return 0;
}

/* The expected position of u in each segment kind, by the totals in s. */
static void positions(const struct ssi_score *s, int u, int top[SSID_RANK__COUNT],
		      int rank[SSID_RANK__COUNT], int of[SSID_RANK__COUNT])
{
	for (int k = 0; k < SSID_RANK__COUNT; k++) {
		int members[RANK_REPS], n = segment_members(k, u, members);

		of[k] = n;
		rank[k] = rank_among(s, members, n, u);
		top[k] = n < 10 ? 0 : top_percent(rank[k], n);
	}
}

/*
 * A rep jumping from last to first crosses bands in all four segments and
 * gets one rank.changed each; a rep that moves within its bands, none.
 */
START_TEST (test_rank_changed) {
	static const char *const kinds[SSID_RANK__COUNT] = {"global", "industry", "tenant", "team"};
	static const char *const values[SSID_RANK__COUNT] = {NULL, "software", "acme",
							     "acme/alpha"};
	const int x = 9; /* the rep pushed from the bottom to the top */
	struct ssi_score before[RANK_REPS], after[RANK_REPS];
	int seen[SSID_RANK__COUNT] = {0};
	struct e2e_outs os;
	struct e2e_env e;
	char attrs[256];
	size_t first, nchanged = 0;
	int y = -1; /* a rep that moves too but stays in its bands */

	e2e_open(&e, "bands", RANK_REPS, false);
	rank_population(&e);
	e2e_start(&e, &(struct e2e_run){.batch = RANK_REPS, .waves = true});

	/* One batch of profiles: x has none of it, the others more and more. */
	for (int u = 0; u < RANK_REPS; u++)
		e2e_add_ev(&e, u, SSI_EV_PROFILE_UPDATED, FX_NOW_MS - 30 * DAY,
			   u == x ? e2e_profile(attrs, sizeof(attrs), 0, 0, 0)
				  : e2e_profile(attrs, sizeof(attrs),
						E2E_PF_PHOTO | (unsigned)(u % 8) * 2, u, u % 4));
	e2e_produce_wave(&e, 0);
	first = e.fx.stream.n;
	for (int u = 0; u < RANK_REPS; u++)
		e2e_ref_score(&e, u, first, &e.fx.model, FX_NOW_MS, &before[u]);

	/* The second batch: x gets a full profile and 11 articles; y one session. */
	e2e_add_ev(&e, x, SSI_EV_PROFILE_UPDATED, FX_NOW_MS - 3 * T_HOUR,
		   e2e_profile(attrs, sizeof(attrs), E2E_PF_ALL, 10, 3));
	e2e_add_articles(&e, x, 11, 1);
	for (int u = 0; u < ALPHA_REPS && y < 0; u++) {
		int tb[SSID_RANK__COUNT], ta[SSID_RANK__COUNT], r[SSID_RANK__COUNT],
		    of[SSID_RANK__COUNT];
		bool same = true;

		if (u == x)
			continue;
		memcpy(after, before, sizeof(after));
		after[x].total = 10000; /* x ends on top */
		after[u].total += 1;	/* a session adds a little */
		positions(before, u, tb, r, of);
		positions(after, u, ta, r, of);
		for (int k = 0; k < SSID_RANK__COUNT; k++)
			same &= band_of(tb[k]) == band_of(ta[k]) && tb[k] != ta[k];
		if (same)
			y = u;
	}
	ck_assert_msg(y >= 0, "no rep of alpha would move without crossing a band");
	e2e_add_ev(&e, y, SSI_EV_SESSION_STARTED, FX_NOW_MS - T_HOUR, "");
	for (int u = 0; u < RANK_REPS; u++)
		e2e_ref_score(&e, u, e.fx.stream.n, &e.fx.model, FX_NOW_MS, &after[u]);
	ck_assert(!e2e_score_eq(&before[y], &after[y]));
	for (int k = 0; k < SSID_RANK__COUNT; k++) {
		int tb[SSID_RANK__COUNT], ta[SSID_RANK__COUNT], r[SSID_RANK__COUNT],
		    of[SSID_RANK__COUNT];

		positions(before, y, tb, r, of);
		positions(after, y, ta, r, of);
		ck_assert_msg(band_of(tb[k]) == band_of(ta[k]) && tb[k] != ta[k],
			      "rep %d should move within its band in %s: %d%% -> %d%%", y, kinds[k],
			      tb[k], ta[k]);
	}
	e2e_produce_wave(&e, first);
	ck_assert_int_eq(fx_daemon_stop(&e.daemon), 0);
	fx_check_outputs(&e.fx.kafka, &e.fx.stream, &e.fx.model, true);

	e2e_outs_read(&e, &os);
	for (size_t i = 0; i < os.n; i++) {
		const json_t *j = os.o[i].j;
		int u = os.o[i].user, tb[SSID_RANK__COUNT], ta[SSID_RANK__COUNT],
		    r[SSID_RANK__COUNT], of[SSID_RANK__COUNT], k;
		const char *seg;

		if (!e2e_is_type(&os.o[i], "rank.changed"))
			continue;
		nchanged++;
		ck_assert_msg(u >= 0, "rank.changed for a stranger");
		seg = e2e_str_of(j, "segment");
		k = kind_of(seg);
		positions(before, u, tb, r, of);
		positions(after, u, ta, r, of);
		/* Only a rep whose band really changed, once per segment. */
		ck_assert_msg(u != y && band_of(tb[k]) != band_of(ta[k]),
			      "rep %d got a rank.changed in %s without crossing a band (%d%% -> "
			      "%d%%)",
			      u, seg, tb[k], ta[k]);
		ck_assert_msg(u == x, "rep %d did not publish, yet got a rank.changed", u);
		ck_assert_int_eq(seen[k]++, 0);
		ck_assert_str_eq(e2e_str_of(j, "direction"), "up");
		ck_assert_int_eq(json_integer_value(json_object_get(j, "band")), band_of(ta[k]));
		ck_assert_int_eq(json_integer_value(json_object_get(j, "top_percent")), ta[k]);
		ck_assert_int_eq(json_integer_value(json_object_get(j, "from_top_percent")), tb[k]);
		ck_assert_int_eq(json_integer_value(json_object_get(j, "rank")), r[k]);
		ck_assert_int_eq(json_integer_value(json_object_get(j, "of")), of[k]);
		ck_assert_str_eq(e2e_str_of(j, "cause"), "event");
		if (values[k])
			ck_assert_str_eq(e2e_str_of(j, "segment_value"), values[k]);
		else
			ck_assert_ptr_null(json_object_get(j, "segment_value"));
	}
	/* x went from last to first in all four segments (its team has 10 members). */
	for (int k = 0; k < SSID_RANK__COUNT; k++) {
		int tb[SSID_RANK__COUNT], ta[SSID_RANK__COUNT], r[SSID_RANK__COUNT],
		    of[SSID_RANK__COUNT];

		positions(before, x, tb, r, of);
		ck_assert_int_eq(tb[k], 100);
		positions(after, x, ta, r, of);
		ck_assert_int_eq(r[k], 1);
		ck_assert_msg(seen[k] == 1, "x got no rank.changed in %s", kinds[k]);
	}
	ck_assert_uint_eq(nchanged, SSID_RANK__COUNT);
	e2e_outs_free(&os);
	e2e_close(&e);
}
END_TEST

/* ---- leaderboards ---------------------------------------------------------- */

#define TOP_N 3

/* The expected top TOP_N of members[0..n): best total first, equal totals by descending id. */
static void expected_top(const struct e2e_env *e, const struct ssi_score *s, const int *members,
			 int n, int top[TOP_N])
{
	int order[RANK_REPS];

	memcpy(order, members, (size_t)n * sizeof(*order));
	for (int i = 1; i < n; i++)
		for (int k = i; k > 0; k--) {
			int a = order[k - 1], b = order[k];
			char ia[64], ib[64];
			bool swap = s[b].total > s[a].total ||
				    (s[b].total == s[a].total &&
				     strcmp(fx_user_id(&e->fx.stream, b, ib, sizeof(ib)),
					    fx_user_id(&e->fx.stream, a, ia, sizeof(ia))) > 0);

			if (!swap)
				break;
			order[k - 1] = b;
			order[k] = a;
		}
	memcpy(top, order, TOP_N * sizeof(*top));
}

/* A leaderboard.changed lists exactly top[] with the members' ranks and totals. */
static void check_board(const struct e2e_env *e, const json_t *j, const char *segment,
			const struct ssi_score *s, const int *members, int n, const int top[TOP_N],
			bool members_changed)
{
	const json_t *list = json_object_get(j, "top");
	char id[64];

	ck_assert_str_eq(e2e_str_of(j, "segment"), segment);
	ck_assert_str_eq(e2e_str_of(j, "tenant"), "acme");
	if (strcmp(segment, "team") == 0)
		ck_assert_str_eq(e2e_str_of(j, "team"), "alpha");
	else
		ck_assert_ptr_null(json_object_get(j, "team"));
	ck_assert_int_eq(json_integer_value(json_object_get(j, "of")), n);
	ck_assert(json_is_true(json_object_get(j, "order_changed")));
	ck_assert_int_eq(json_is_true(json_object_get(j, "members_changed")), members_changed);
	ck_assert_msg(json_array_size(list) == TOP_N, "a %s board of %zu entries", segment,
		      json_array_size(list));
	for (size_t i = 0; i < TOP_N; i++) {
		const json_t *ent = json_array_get(list, i);

		ck_assert_msg(strcmp(e2e_str_of(ent, "user_id"),
				     fx_user_id(&e->fx.stream, top[i], id, sizeof(id))) == 0,
			      "%s board entry %zu is %s, expected %s", segment, i,
			      e2e_str_of(ent, "user_id"), id);
		ck_assert_int_eq(e2e_cp(json_object_get(ent, "ssi")), s[top[i]].total);
		ck_assert_int_eq(json_integer_value(json_object_get(ent, "rank")),
				 rank_among(s, members, n, top[i]));
	}
}

/* The leaderboard.changed messages of one segment kind, in order. */
static size_t boards_of(const struct e2e_outs *os, const char *segment, const json_t **out,
			size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < os->n; i++)
		if (e2e_is_type(&os->o[i], "leaderboard.changed") &&
		    strcmp(e2e_str_of(os->o[i].j, "segment"), segment) == 0) {
			ck_assert_uint_lt(n, cap);
			out[n++] = os->o[i].j;
		}
	return n;
}

/* The totals after stream[0, upto) and the top of the team and the tenant. */
static void boards_at(const struct e2e_env *e, size_t upto, struct ssi_score s[RANK_REPS],
		      int team_top[TOP_N], int tenant_top[TOP_N])
{
	int team[RANK_REPS], tenant[RANK_REPS], nteam, ntenant;

	for (int u = 0; u < RANK_REPS; u++)
		e2e_ref_score(e, u, upto, &e->fx.model, FX_NOW_MS, &s[u]);
	nteam = segment_members(SSID_RANK_TEAM, 0, team);
	ntenant = segment_members(SSID_RANK_TENANT, 0, tenant);
	expected_top(e, s, team, nteam, team_top);
	expected_top(e, s, tenant, ntenant, tenant_top);
}

/* Same members in the same order. */
static bool same_top(const int a[TOP_N], const int b[TOP_N])
{
	return memcmp(a, b, TOP_N * sizeof(*a)) == 0;
}

/*
 * leaderboard.changed carries the exact new top 3 when its order changes,
 * nothing when only scores move, and with a long interval two reorderings
 * make one message, with the latest list, once the interval is over.
 */
START_TEST (test_leaderboards) {
	static const char *const boards = "rank.top_n = 3\nrank.board_interval_ms = 0\n";
	static const char *const slow = "rank.top_n = 3\nrank.board_interval_ms = 600000\n";
	static const char *const fast = "rank.top_n = 3\nrank.board_interval_ms = 0\n";
	struct ssi_score s[5][RANK_REPS];
	int team_top[5][TOP_N], tenant_top[5][TOP_N], team[RANK_REPS], tenant[RANK_REPS];
	size_t ends[5];
	const json_t *got[8];
	struct ssid_daemon_stats st;
	struct e2e_outs os;
	struct e2e_env e;
	char attrs[256];
	int nteam, ntenant;

	e2e_open(&e, "boards", RANK_REPS, false);
	rank_population(&e);
	nteam = segment_members(SSID_RANK_TEAM, 0, team);
	ntenant = segment_members(SSID_RANK_TENANT, 0, tenant);
	e2e_start(&e, &(struct e2e_run){.extra = boards, .batch = RANK_REPS, .waves = true});

	/* Wave 0: profiles, better and better with the rep's number in alpha; beta has none. */
	for (int u = 0; u < RANK_REPS; u++)
		e2e_add_ev(&e, u, SSI_EV_PROFILE_UPDATED, FX_NOW_MS - 30 * DAY,
			   u < ALPHA_REPS ? e2e_profile(attrs, sizeof(attrs),
							E2E_PF_PHOTO | E2E_PF_HEADLINE, u, 0)
					  : e2e_profile(attrs, sizeof(attrs), 0, 0, 0));
	ends[0] = e.fx.stream.n;
	/* Wave 1: the third (7) overtakes both. Wave 2: it pulls further ahead, nobody moves. */
	e2e_add_articles(&e, 7, RANK_REPS, 1);
	ends[1] = e.fx.stream.n;
	e2e_add_articles(&e, 7, RANK_REPS, 20);
	ends[2] = e.fx.stream.n;
	/* Waves 3 and 4, with a long interval: 8 overtakes 9, then 9 everyone. */
	e2e_add_articles(&e, 8, RANK_REPS, 1);
	ends[3] = e.fx.stream.n;
	e2e_add_ev(&e, 9, SSI_EV_PROFILE_UPDATED, FX_NOW_MS - 3 * T_HOUR,
		   e2e_profile(attrs, sizeof(attrs), E2E_PF_ALL, 10, 3));
	e2e_add_articles(&e, 9, RANK_REPS - 1, 1);
	ends[4] = e.fx.stream.n;
	for (int w = 0; w < 5; w++) {
		boards_at(&e, ends[w], s[w], team_top[w], tenant_top[w]);
		ck_assert_msg(same_top(team_top[w], tenant_top[w]),
			      "wave %d: the tenant's top should be the team's", w);
	}
	ck_assert_msg(!same_top(team_top[0], team_top[1]), "wave 1 must reorder the top");
	ck_assert_msg(same_top(team_top[1], team_top[2]), "wave 2 must keep the order");
	ck_assert_msg(s[1][team_top[1][0]].total != s[2][team_top[1][0]].total,
		      "wave 2 must change a score in the top");
	ck_assert_msg(!same_top(team_top[2], team_top[3]) && !same_top(team_top[3], team_top[4]),
		      "waves 3 and 4 must both reorder the top");
	ck_assert_msg(!same_top(team_top[2], team_top[4]), "wave 4 must differ from wave 2");

	e2e_produce_range(&e, 0, ends[0]);
	e2e_wait_stat(&e.daemon, E2E_STAT(boards), 2, "leaderboard.changed of wave 0");
	e2e_produce_range(&e, ends[0], ends[1]);
	e2e_wait_stat(&e.daemon, E2E_STAT(boards), 4, "leaderboard.changed of wave 1");
	e2e_produce_range(&e, ends[1], ends[2]);
	fx_daemon_stats(&e.daemon, &st);
	ck_assert_uint_eq(st.boards, 4);

	/* At most one per board per 10 minutes: both reorderings wait... */
	e2e_reload_with(&e, slow, 1);
	e2e_produce_range(&e, ends[2], ends[3]);
	e2e_produce_range(&e, ends[3], ends[4]);
	fx_daemon_stats(&e.daemon, &st);
	ck_assert_uint_eq(st.boards, 4);
	/* ...until the interval ends (here: is shortened), and then only the latest list goes. */
	e2e_reload_with(&e, fast, 2);
	e2e_wait_stat(&e.daemon, E2E_STAT(boards), 6, "the coalesced leaderboard.changed");
	ck_assert_int_eq(fx_daemon_stop(&e.daemon), 0);

	e2e_outs_read(&e, &os);
	ck_assert_uint_eq(e2e_count_type(&os, "leaderboard.changed"), 6);
	ck_assert_uint_eq(boards_of(&os, "team", got, 8), 3);
	check_board(&e, got[0], "team", s[0], team, nteam, team_top[0], true);
	check_board(&e, got[1], "team", s[1], team, nteam, team_top[1], false);
	check_board(&e, got[2], "team", s[4], team, nteam, team_top[4], false);
	ck_assert_uint_eq(boards_of(&os, "tenant", got, 8), 3);
	check_board(&e, got[0], "tenant", s[0], tenant, ntenant, tenant_top[0], true);
	check_board(&e, got[1], "tenant", s[1], tenant, ntenant, tenant_top[1], false);
	check_board(&e, got[2], "tenant", s[4], tenant, ntenant, tenant_top[4], false);
	e2e_outs_free(&os);
	fx_check_states(&e.fx.redis, &e.fx.stream, &e.fx.model);
	e2e_close(&e);
}
END_TEST

E2E_SUITE(ranks_e2e_suite, "ranks_e2e", test_ranks_in_scores, test_rank_changed, test_leaderboards,
	  test_network_in_scores)
