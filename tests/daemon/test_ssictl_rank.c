/*
 * ssictl's rank, around and top commands against a real redis-server, over
 * the known state of ctl_util.h (the ranks table there): every command's
 * text and --json output, hidden and absent segments, ties in Redis' order,
 * and boards longer than the stored top lists read by a walk over every
 * record. A test case of the ssictl suite (test_ssictl.c).
 */
#include <limits.h>
#include <string.h>

#include <check.h>
#include <jansson.h>

#include "ctl_util.h"
#include "fixture.h"
#include "suites.h"

START_TEST (ctl_rank_text) {
	struct run r;

	populate();
	ctl(&r, "rank", "r2");
	expect_out(&r, "segment   value        rank      of  top %  average\n"
		       "global    -               2       6     34    61.67\n"
		       "industry  software        2       3     67    70.00\n"
		       "tenant    acme            2       4     50    70.00\n"
		       "team      acme/emea       2       3     67    73.33\n"
		       "network   -               2       4     50    70.00\n");
	run_free(&r);
	/* r1: first everywhere; its network is r2 r4 r6 (stranger unknown, itself not
	 * twice). */
	ctl(&r, "rank", "r1");
	expect_out(&r, "segment   value        rank      of  top %  average\n"
		       "global    -               1       6     17    61.67\n"
		       "industry  software        1       3     34    70.00\n"
		       "tenant    acme            1       4     25    70.00\n"
		       "team      acme/emea       1       3     34    73.33\n"
		       "network   -               1       4     25    62.50\n");
	run_free(&r);
	ctl(&r, "rank", "r5");
	expect_out(&r, "segment   value     rank      of  top %  average\n"
		       "global    -            5       6     84    61.67\n"
		       "industry  retail hidden (fewer than 3 members)\n"
		       "tenant    globex hidden (fewer than 3 members)\n"
		       "team      -      not in a segment (tenant or team unknown)\n"
		       "network   -      hidden (fewer than 3 members)\n");
	run_free(&r);
	ctl(&r, "rank", "r6");
	expect_out(&r, "segment   value    rank      of  top %  average\n"
		       "global    -           6       6    100    61.67\n"
		       "industry  -     not in a segment (industry unknown)\n"
		       "tenant    -     not in a segment (tenant unknown)\n"
		       "team      -     not in a segment (tenant or team unknown)\n"
		       "network   -     hidden (fewer than 3 members)\n");
	run_free(&r);
}
END_TEST

START_TEST (ctl_rank_json) {
	struct run r;
	json_t *j;

	populate();
	ctl(&r, "rank", "r2", "--json");
	j = expect_json(&r);
	ck_assert_str_eq(jstr(j, "user_id"), "r2");
	ck_assert(jnum(j, "ssi") == 70.0);
	ck_assert_int_eq(jint(j, "min_members"), 3);
	ck_assert(json_is_null(jget(j, "segments.global.value")));
	ck_assert_int_eq(jint(j, "segments.global.rank"), 2);
	ck_assert_int_eq(jint(j, "segments.global.of"), 6);
	ck_assert_int_eq(jint(j, "segments.global.top_percent"), 34);
	ck_assert(jnum(j, "segments.global.average.ssi") == 61.67);
	/* Brand sums to 25 * 6 = 150, people 25 + 25 + 25 + 25 + 25 + 15 = 140. */
	ck_assert(jnum(j, "segments.global.average.pillars.brand") == 25.0);
	ck_assert(jnum(j, "segments.global.average.pillars.people") == 23.33);
	ck_assert_str_eq(jstr(j, "segments.industry.value"), "software");
	ck_assert_int_eq(jint(j, "segments.industry.of"), 3);
	ck_assert_str_eq(jstr(j, "segments.team.value"), "acme/emea");
	ck_assert(jnum(j, "segments.team.average.ssi") == 73.33);
	ck_assert_int_eq(jint(j, "segments.network.rank"), 2);
	ck_assert_int_eq(jint(j, "segments.network.of"), 4);
	ck_assert(jnum(j, "segments.network.average.ssi") == 70.0);
	ck_assert_ptr_null(jget(j, "segments.network.average.pillars"));
	json_decref(j);
	run_free(&r);

	/* Hidden segments carry no rank, size, percentile or average; absent ones are
	 * null. */
	ctl(&r, "--json", "rank", "r5");
	j = expect_json(&r);
	ck_assert_int_eq(jint(j, "segments.global.rank"), 5);
	ck_assert_str_eq(jstr(j, "segments.industry.value"), "retail");
	ck_assert(json_is_true(jget(j, "segments.industry.hidden")));
	ck_assert_int_eq(json_object_size(jget(j, "segments.industry")), 2);
	ck_assert_int_eq(json_object_size(jget(j, "segments.tenant")), 2);
	ck_assert(json_is_null(jget(j, "segments.team")));
	ck_assert(json_is_true(jget(j, "segments.network.hidden")));
	ck_assert_int_eq(json_object_size(jget(j, "segments.network")), 2);
	json_decref(j);
	run_free(&r);
}
END_TEST

START_TEST (ctl_around) {
	struct run r;
	json_t *j, *e;
	static const char *const order[] = {"r1", "r3", "r2", "r4", "r5", "r6"};
	static const int ranks[] = {1, 2, 2, 4, 5, 6};

	populate();
	/* Redis lists equal totals in descending id order: r3 comes before r2, same
	 * rank. */
	ctl(&r, "around", "r2", "-k", "1");
	expect_out(&r, "global: 6 reps\n"
		       "     rank  user    SSI\n"
		       "        2  r3    70.00\n"
		       ">       2  r2    70.00\n"
		       "        4  r4    60.00\n"
		       "\n"
		       "industry software: 3 reps\n"
		       "     rank  user    SSI\n"
		       "        1  r1    80.00\n"
		       ">       2  r2    70.00\n"
		       "        3  r4    60.00\n"
		       "\n"
		       "tenant acme: 4 reps\n"
		       "     rank  user    SSI\n"
		       "        2  r3    70.00\n"
		       ">       2  r2    70.00\n"
		       "        4  r4    60.00\n"
		       "\n"
		       "team acme/emea: 3 reps\n"
		       "     rank  user    SSI\n"
		       "        2  r3    70.00\n"
		       ">       2  r2    70.00\n");
	run_free(&r);
	ctl(&r, "around", "r5");
	expect_out(&r, "global: 6 reps\n"
		       "     rank  user    SSI\n"
		       "        2  r3    70.00\n"
		       "        2  r2    70.00\n"
		       "        4  r4    60.00\n"
		       ">       5  r5    50.00\n"
		       "        6  r6    40.00\n"
		       "\n"
		       "industry retail: hidden (fewer than 3 members)\n"
		       "\n"
		       "tenant globex: hidden (fewer than 3 members)\n"
		       "\n"
		       "team: not in a segment (tenant or team unknown)\n");
	run_free(&r);

	ctl(&r, "--json", "around", "r2");
	j = expect_json(&r);
	ck_assert_int_eq(jint(j, "k"), 3);
	ck_assert_int_eq(jint(j, "segments.global.of"), 6);
	e = jget(j, "segments.global.entries");
	ck_assert_int_eq(json_array_size(e), 6);
	for (size_t i = 0; i < 6; i++) {
		json_t *o = json_array_get(e, i);

		ck_assert_str_eq(jstr(o, "user_id"), order[i]);
		ck_assert_int_eq(jint(o, "rank"), ranks[i]);
		ck_assert(json_is_boolean(jget(o, "self")));
		ck_assert(json_is_true(jget(o, "self")) == (strcmp(order[i], "r2") == 0));
	}
	ck_assert_int_eq(json_array_size(jget(j, "segments.team.entries")), 3);
	json_decref(j);
	run_free(&r);
}
END_TEST

START_TEST (ctl_top) {
	struct run r, r2;
	json_t *j;

	populate();
	ctl(&r, "top", "tenant", "acme");
	expect_out(&r, "tenant acme: top 4 of 4 reps\n"
		       "     rank  user    SSI\n"
		       "        1  r1    80.00\n"
		       "        2  r3    70.00\n"
		       "        2  r2    70.00\n"
		       "        4  r4    60.00\n");
	run_free(&r);
	ctl(&r, "top", "global", "-n", "2");
	expect_out(&r, "global: top 2 of 6 reps\n"
		       "     rank  user    SSI\n"
		       "        1  r1    80.00\n"
		       "        2  r3    70.00\n");
	run_free(&r);
	/* Both spellings of a team. */
	ctl(&r, "top", "team", "acme/emea");
	ctl(&r2, "top", "team", "acme", "emea");
	expect_out(&r, "team acme/emea: top 3 of 3 reps\n"
		       "     rank  user    SSI\n"
		       "        1  r1    80.00\n"
		       "        2  r3    70.00\n"
		       "        2  r2    70.00\n");
	expect_out(&r2, r.out);
	run_free(&r);
	run_free(&r2);
	ctl(&r, "top", "team", "acme/apac");
	expect_out(&r, "team acme/apac: hidden (fewer than 3 members)\n");
	run_free(&r);

	ctl(&r, "--json", "top", "industry", "software", "-n", "2");
	j = expect_json(&r);
	ck_assert_str_eq(jstr(j, "segment"), "industry");
	ck_assert_str_eq(jstr(j, "value"), "software");
	ck_assert_int_eq(jint(j, "of"), 3);
	ck_assert_int_eq(json_array_size(jget(j, "entries")), 2);
	ck_assert_str_eq(jstr(json_array_get(jget(j, "entries"), 1), "user_id"), "r2");
	ck_assert(jnum(json_array_get(jget(j, "entries"), 1), "ssi") == 70.0);
	ck_assert_ptr_null(jget(json_array_get(jget(j, "entries"), 1), "self"));
	json_decref(j);
	run_free(&r);
	ctl(&r, "--json", "top", "industry", "retail");
	j = expect_json(&r);
	ck_assert(json_is_true(jget(j, "hidden")));
	ck_assert_ptr_null(jget(j, "entries"));
	ck_assert_ptr_null(jget(j, "of"));
	json_decref(j);
	run_free(&r);
}
END_TEST

/*
 * A board longer than the top lists ssid stores (rank.top_n) is read by a
 * walk over every record: the same board, ties in the same order, with the
 * same ranks, whichever way it is read.
 */
START_TEST (ctl_top_walk) {
	static const char *const boards[][5] = {
	    {"top", "global", "-n", "5", NULL},		 {"top", "global", "-n", "6", NULL},
	    {"top", "tenant", "acme", NULL, NULL},	 {"top", "team", "acme/emea", NULL, NULL},
	    {"top", "industry", "software", NULL, NULL}, {"--json", "top", "global", NULL, NULL},
	};
	char short_conf[PATH_MAX];
	struct run stored, walked;

	populate();
	fx_path(short_conf, sizeof(short_conf), "short.conf");
	write_conf(short_conf, ctl_redis.port, "rank.top_n = 1\n");
	for (size_t i = 0; i < sizeof(boards) / sizeof(boards[0]); i++) {
		ctl_conf(&stored, NULL, boards[i][0], boards[i][1], boards[i][2], boards[i][3],
			 boards[i][4], NULL);
		ctl_conf(&walked, short_conf, boards[i][0], boards[i][1], boards[i][2],
			 boards[i][3], boards[i][4], NULL);
		expect_rc(&stored, 0);
		expect_out(&walked, stored.out);
		run_free(&stored);
		run_free(&walked);
	}
	/* More than there are members: all of them, from the walk. */
	ctl(&stored, "top", "global", "-n", "100");
	expect_out(&stored, "global: top 6 of 6 reps\n"
			    "     rank  user    SSI\n"
			    "        1  r1    80.00\n"
			    "        2  r3    70.00\n"
			    "        2  r2    70.00\n"
			    "        4  r4    60.00\n"
			    "        5  r5    50.00\n"
			    "        6  r6    40.00\n");
	run_free(&stored);
}
END_TEST

TCase *ssictl_rank_tcase(void)
{
	return T_TCASE("ctl_rank", ctl_setup, ctl_teardown, 120, ctl_rank_text, ctl_rank_json,
		       ctl_around, ctl_top, ctl_top_walk);
}
