/*
 * ssid_out: every message the daemon writes by hand parses as JSON with the
 * fields the README documents, exact values included.
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ssi_time.h"
#include "ssid_boards.h"
#include "ssid_out.h"
#include "suites.h"

#define AS_OF_MS 1795176000000LL /* 2026-11-20T12:00:00Z */

static json_t *parse(const struct ssid_buf *b)
{
	json_error_t e;
	json_t *o = json_loadb(b->data, b->len, 0, &e);

	ck_assert_msg(o, "not JSON (%s): %.*s", e.text, (int)b->len, b->data);
	ck_assert_int_eq(json_integer_value(json_object_get(o, "schema")), SSID_OUT_SCHEMA);
	ck_assert_str_eq(json_string_value(json_object_get(o, "as_of")),
			 "2026-11-20T12:00:00.000Z");
	ck_assert_str_eq(json_string_value(json_object_get(o, "model_version")), "m-1");
	return o;
}

static double num(const json_t *o, const char *path1, const char *path2)
{
	const json_t *v = json_object_get(o, path1);

	if (path2)
		v = json_object_get(v, path2);
	ck_assert_msg(json_is_number(v), "%s.%s is not a number", path1, path2 ? path2 : "");
	return json_number_value(v);
}

/* A position whose average is avg_cp and each pillar's a quarter of it (rounded down). */
static struct ssid_rank_pos pos(int64_t rank, int64_t of, int top, int avg_cp)
{
	struct ssid_rank_pos p = {.present = true, .rank = rank, .of = of, .top_percent = top};

	p.avg_total_cp = avg_cp;
	for (int i = 0; i < SSI_PILLAR__COUNT; i++)
		p.avg_pillar_cp[i] = avg_cp / 4;
	return p;
}

/* Ranks: visible segments with rank and averages, hidden ones as {"hidden": true}. */
START_TEST (test_score_with_ranks) {
	struct ssid_buf b = {0};
	struct ssid_score_msg m = {
	    .user_id = "rep-\"1\"",
	    .model_version = "m-1",
	    .score = {.pillar = {1000, 1100, 1200, 1300}, .total = 4600},
	    .cause = SSID_CAUSE_DECAY,
	    .as_of_ms = AS_OF_MS,
	    .has_ranks = true,
	    .has_network = true,
	    .network_day = (int32_t)(AS_OF_MS / SSI_MS_PER_DAY),
	};
	json_t *o, *ranks;

	struct ssid_rank_pos global = pos(3, 120, 3, 4150), industry = pos(1, 10, 10, 5000),
			     team = {.present = true, .hidden = true, .of = 4};

	m.rank[SSID_RANK_GLOBAL] = &global;
	m.rank[SSID_RANK_INDUSTRY] = &industry;
	m.rank[SSID_RANK_TEAM] = &team;
	m.network = pos(2, 11, 19, 3025);
	ck_assert_int_eq(ssid_out_score_updated(&b, &m), 0);
	o = parse(&b);
	ck_assert_str_eq(json_string_value(json_object_get(o, "user_id")), "rep-\"1\"");
	ck_assert_str_eq(json_string_value(json_object_get(o, "cause")), "decay");
	ranks = json_object_get(o, "ranks");
	ck_assert_int_eq(json_object_size(ranks), 4); /* no tenant: absent */
	ck_assert_int_eq((int)num(ranks, "global", "rank"), 3);
	ck_assert_int_eq((int)num(ranks, "global", "of"), 120);
	ck_assert_int_eq((int)num(ranks, "global", "top_percent"), 3);
	ck_assert_double_eq_tol(num(ranks, "global", "average"), 41.5, 1e-9);
	ck_assert_double_eq_tol(
	    json_number_value(json_object_get(
		json_object_get(json_object_get(ranks, "global"), "average_pillars"), "insights")),
	    10.37, 1e-9);
	ck_assert_int_eq((int)num(ranks, "industry", "rank"), 1);
	ck_assert(json_is_true(json_object_get(json_object_get(ranks, "team"), "hidden")));
	ck_assert_int_eq(json_object_size(json_object_get(ranks, "team")), 1);
	ck_assert_int_eq((int)num(ranks, "network", "rank"), 2);
	ck_assert_str_eq(
	    json_string_value(json_object_get(json_object_get(ranks, "network"), "as_of_day")),
	    "2026-11-20");
	ck_assert_ptr_null(json_object_get(o, "backfill")); /* only when true */
	json_decref(o);

	/* A backfill says so; nothing else changes. */
	m.backfill = true;
	ssid_buf_reset(&b);
	ck_assert_int_eq(ssid_out_score_updated(&b, &m), 0);
	o = parse(&b);
	ck_assert(json_is_true(json_object_get(o, "backfill")));
	ck_assert_int_eq((int)num(json_object_get(o, "ranks"), "global", "rank"), 3);
	json_decref(o);
	ssid_buf_free(&b);
}
END_TEST

/*
 * Every average a segment can have, 0.00 to 100.00, is written with its
 * exact two decimals; and with the averages' memo, whether it is filling,
 * full or holding other values in a slot, the message is the same bytes.
 */
START_TEST (test_rank_averages_exact) {
	struct ssid_buf b = {0}, with = {0};
	struct ssid_rank_pos p = {.present = true, .rank = 1, .of = 10, .top_percent = 10};
	struct ssid_score_msg m = {.user_id = "u", .model_version = "m", .has_ranks = true};
	struct ssid_out_avgs *memo = calloc(1, sizeof(*memo));

	ck_assert_ptr_nonnull(memo);
	m.rank[SSID_RANK_GLOBAL] = &p;
	for (int pass = 0; pass < 3; pass++)
		for (int c = 0; c <= 10000; c++) {
			char want[128];

			p.avg_total_cp = c;
			for (int i = 0; i < SSI_PILLAR__COUNT; i++)
				p.avg_pillar_cp[i] = (pass == 2 ? c + i : c) / 4;
			m.avgs = NULL;
			ssid_buf_reset(&b);
			ck_assert_int_eq(ssid_out_score_updated(&b, &m), 0);
			snprintf(want, sizeof(want),
				 "\"average\":%d.%02d,\"average_pillars\":{\"brand\":%d.%02d,",
				 c / 100, c % 100, c / 4 / 100, c / 4 % 100);
			ck_assert_msg(memmem(b.data, b.len, want, strlen(want)) != NULL, "%d: %.*s",
				      c, (int)b.len, b.data);
			m.avgs = memo;
			ssid_buf_reset(&with);
			ck_assert_int_eq(ssid_out_score_updated(&with, &m), 0);
			ck_assert_msg(with.len == b.len && memcmp(with.data, b.data, b.len) == 0,
				      "pass %d, %d: %.*s", pass, c, (int)with.len, with.data);
		}
	free(memo);
	ssid_buf_free(&b);
	ssid_buf_free(&with);
}
END_TEST

START_TEST (test_rank_changed) {
	struct ssid_buf b = {0};
	struct ssid_rank_pos p = pos(4, 100, 4, 4000);
	struct ssid_rank_msg m = {
	    .user_id = "rep-1",
	    .kind = SSID_RANK_TEAM,
	    .segment_value = "acme/emea",
	    .crossing = {.direction = 1, .band = 5, .from = 10, .to = 5},
	    .from_top_percent = 7,
	    .pos = &p,
	    .cause = SSID_CAUSE_EVENT,
	    .as_of_ms = AS_OF_MS,
	    .model_version = "m-1",
	};
	json_t *o;

	ck_assert_int_eq(ssid_out_rank_changed(&b, &m), 0);
	o = parse(&b);
	ck_assert_str_eq(json_string_value(json_object_get(o, "type")), "rank.changed");
	ck_assert_str_eq(json_string_value(json_object_get(o, "segment")), "team");
	ck_assert_str_eq(json_string_value(json_object_get(o, "segment_value")), "acme/emea");
	ck_assert_str_eq(json_string_value(json_object_get(o, "direction")), "up");
	ck_assert_int_eq((int)num(o, "band", NULL), 5);
	ck_assert_int_eq((int)num(o, "from_top_percent", NULL), 7);
	ck_assert_int_eq((int)num(o, "top_percent", NULL), 4);
	ck_assert_int_eq((int)num(o, "rank", NULL), 4);
	ck_assert_int_eq((int)num(o, "of", NULL), 100);
	json_decref(o);
	ssid_buf_free(&b);
}
END_TEST

START_TEST (test_alert) {
	struct ssid_buf b = {0};
	struct ssi_alert a = {
	    .rule = SSI_ALERT_SCORE_DROP,
	    .cause = SSI_ALERT_CAUSE_DECAY,
	    .old_value = 6840,
	    .new_value = 6310,
	    .reference = 6900,
	    .threshold = 500,
	    .pillar_lost_cp = {0, 0, 530, 0},
	    .loss = {{.var = SSI_V_POSTS, .lost_cp = 310}},
	    .nlosses = 1,
	    .action = {{.text = "share one \"post\"", .pillar = SSI_INSIGHTS, .gain = 120}},
	    .nactions = 1,
	    .why = "SSI 63.10 is 5.90 below its 7-day high of 69.00",
	};
	struct ssid_alert_msg m = {
	    .user_id = "rep-1",
	    .alert = &a,
	    .score = {.pillar = {1500, 1500, 1810, 1500}, .total = 6310},
	    .as_of_ms = AS_OF_MS,
	    .model_version = "m-1",
	};
	json_t *o, *causes, *actions;

	ck_assert_int_eq(ssid_out_alert(&b, &m), 0);
	o = parse(&b);
	ck_assert_str_eq(json_string_value(json_object_get(o, "type")), "alert");
	ck_assert_str_eq(json_string_value(json_object_get(o, "rule")), "score_drop");
	ck_assert_str_eq(json_string_value(json_object_get(o, "cause")), "decay");
	ck_assert_double_eq_tol(num(o, "value", NULL), 63.10, 1e-9);
	ck_assert_double_eq_tol(num(o, "previous", NULL), 68.40, 1e-9);
	ck_assert_double_eq_tol(num(o, "reference", NULL), 69.00, 1e-9);
	ck_assert_double_eq_tol(num(o, "threshold", NULL), 5.00, 1e-9);
	ck_assert_double_eq_tol(num(o, "pillars_lost", "insights"), 5.30, 1e-9);
	causes = json_object_get(o, "causes");
	ck_assert_int_eq(json_array_size(causes), 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(causes, 0), "variable")),
			 "posts");
	actions = json_object_get(o, "actions");
	ck_assert_int_eq(json_array_size(actions), 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(actions, 0), "text")),
			 "share one \"post\"");
	ck_assert_str_eq(json_string_value(json_object_get(o, "why")), a.why);
	ck_assert_ptr_null(json_object_get(o, "pillar"));
	json_decref(o);

	/* Percent rules print whole percentages; pillar_drop names its pillar. */
	a.rule = SSI_ALERT_LEFT_TOP_PERCENT;
	a.old_value = 12;
	a.new_value = 17;
	a.reference = a.threshold = 15;
	ssid_buf_reset(&b);
	ck_assert_int_eq(ssid_out_alert(&b, &m), 0);
	o = parse(&b);
	ck_assert(json_is_integer(json_object_get(o, "value")));
	ck_assert_int_eq((int)num(o, "value", NULL), 17);
	json_decref(o);
	a.rule = SSI_ALERT_PILLAR_DROP;
	a.pillar = SSI_INSIGHTS;
	a.old_value = -1;
	ssid_buf_reset(&b);
	ck_assert_int_eq(ssid_out_alert(&b, &m), 0);
	o = parse(&b);
	ck_assert_str_eq(json_string_value(json_object_get(o, "pillar")), "insights");
	ck_assert(json_is_null(json_object_get(o, "previous")));
	json_decref(o);
	ssid_buf_free(&b);
}
END_TEST

START_TEST (test_leaderboard) {
	struct ssid_buf b = {0};
	struct ssid_rank_entry e[2] = {{.user_id = "rep-7", .total = 8120, .rank = 1},
				       {.user_id = "rep-2", .total = 8120, .rank = 1}};
	struct ssid_rank_board board = {.kind = SSID_RANK_TEAM, .entry = e, .of = 14, .n = 2};
	struct ssid_board_msg m = {
	    .kind = SSID_RANK_TEAM,
	    .tenant = "acme",
	    .team = "emea",
	    .board = &board,
	    .changes = SSID_BOARD_ORDER,
	    .as_of_ms = AS_OF_MS,
	    .model_version = "m-1",
	};
	json_t *o, *top;

	ck_assert_int_eq(ssid_out_leaderboard_changed(&b, &m), 0);
	o = parse(&b);
	ck_assert_str_eq(json_string_value(json_object_get(o, "type")), "leaderboard.changed");
	ck_assert_str_eq(json_string_value(json_object_get(o, "segment")), "team");
	ck_assert_str_eq(json_string_value(json_object_get(o, "tenant")), "acme");
	ck_assert_str_eq(json_string_value(json_object_get(o, "team")), "emea");
	ck_assert(json_is_false(json_object_get(o, "members_changed")));
	ck_assert(json_is_true(json_object_get(o, "order_changed")));
	ck_assert_int_eq((int)num(o, "of", NULL), 14);
	top = json_object_get(o, "top");
	ck_assert_int_eq(json_array_size(top), 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(top, 1), "user_id")),
			 "rep-2");
	ck_assert_double_eq_tol(json_number_value(json_object_get(json_array_get(top, 1), "ssi")),
				81.20, 1e-9);
	ck_assert_ptr_null(json_object_get(o, "backfill"));
	json_decref(o);

	/* A tenant board has no team field. */
	m.kind = SSID_RANK_TENANT;
	board.n = 0;
	ssid_buf_reset(&b);
	ck_assert_int_eq(ssid_out_leaderboard_changed(&b, &m), 0);
	o = parse(&b);
	ck_assert_ptr_null(json_object_get(o, "team"));
	ck_assert_int_eq(json_array_size(json_object_get(o, "top")), 0);
	json_decref(o);

	/* A board moved only by backfilled scores says so. */
	m.backfill = true;
	ssid_buf_reset(&b);
	ck_assert_int_eq(ssid_out_leaderboard_changed(&b, &m), 0);
	o = parse(&b);
	ck_assert(json_is_true(json_object_get(o, "backfill")));
	json_decref(o);
	ssid_buf_free(&b);
}
END_TEST

Suite *out_suite(void)
{
	Suite *s = suite_create("out");
	TCase *tc = tcase_create("out");

	tcase_add_test(tc, test_score_with_ranks);
	tcase_add_test(tc, test_rank_averages_exact);
	tcase_add_test(tc, test_rank_changed);
	tcase_add_test(tc, test_alert);
	tcase_add_test(tc, test_leaderboard);
	suite_add_tcase(s, tc);
	return s;
}
