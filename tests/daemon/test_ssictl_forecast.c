/*
 * ssictl forecast and whatif against a real redis-server: exact text and
 * JSON for a rep whose activity of late August ages out over the next days,
 * and the exit codes. A test case of the ssictl suite (test_ssictl.c).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <check.h>

#include "ctl_util.h"
#include "fixture.h"
#include "ssi_time.h"
#include "ssictl.h"
#include "ssid_store.h"
#include "suites.h"
#include "testutil.h"

/*
 * "fc": a complete-ish profile, 12 connections, and activity on days
 * today-89 .. today-87 (posts, sessions, views) that leaves the 90-day
 * window over the next three days, plus sessions 5 and 6 days ago that stay.
 */
static void put_forecast_rep(void)
{
	struct ssid_redis_opts o = fx_redis_opts(&ctl_redis);
	struct ssid_store *store = NULL;
	struct ssid_user u;
	struct ssi_event ev;
	uint64_t seq = 1;
	int32_t today = ssi_time_day(FX_NOW_MS);

	memset(&u, 0, sizeof(u));
	u.id = "fc";
	ssi_state_init(&u.state);
	t_event(&ev, SSI_EV_PROFILE_UPDATED, FX_NOW_MS - 100 * T_DAY, seq++);
	snprintf(ev.user_id, sizeof(ev.user_id), "fc");
	ev.attrs.profile = (struct ssi_profile){true, true, true, false, true, 10, 0};
	ck_assert_int_eq(ssi_state_apply(&u.state, &ctl_model, &ev), 1);
	for (int i = 0; i < 12; i++) {
		t_event(&ev, SSI_EV_CONNECTION_ADDED, FX_NOW_MS - 200 * T_DAY + i * T_HOUR, seq++);
		ev.attrs.connection.seniority = SSI_SEN_MANAGER;
		ck_assert_int_eq(ssi_state_apply(&u.state, &ctl_model, &ev), 1);
	}
	for (int d = 89; d >= 87; d--) {
		int64_t day = ssi_time_day_start(today - d) + 9 * T_HOUR;

		t_apply_n(&u.state, &ctl_model, SSI_EV_SESSION_STARTED, day, 1, &seq);
		t_apply_n(&u.state, &ctl_model, SSI_EV_POST_SHARED, day, 90 - d, &seq);
		t_apply_n(&u.state, &ctl_model, SSI_EV_PROFILE_VIEWED, day, 4, &seq);
	}
	for (int d = 6; d >= 5; d--)
		t_apply_n(&u.state, &ctl_model, SSI_EV_SESSION_STARTED,
			  ssi_time_day_start(today - d) + 9 * T_HOUR, 1, &seq);
	ck_assert_int_eq(ssid_store_new(&store, &o), 0);
	ssid_store_stage_state(&u, false);
	ck_assert_msg(ssid_store_save(store, &u, 1) == 0, "%s", ssid_store_errstr(store));
	ssi_state_clear(&u.state);
	ssid_store_free(store);
}

START_TEST (ctl_forecast_text) {
	struct run r;

	put_forecast_rep();
	ctl(&r, "forecast", "fc", "--days", "4");
	expect_out(&r, "user           fc\n"
		       "as of          2026-11-20T12:00:00.000Z\n"
		       "model          ssi-2026.11-1\n"
		       "SSI now        9.96\n"
		       "\n"
		       "date           SSI   brand  people  insights  relationships  ages out\n"
		       "2026-11-21    9.17    5.25    1.64      1.76           0.52  "
		       "views_in_network -0.34 (4), posts -0.27 (1), active_days -0.19 (1)\n"
		       "2026-11-22    7.98    5.25    1.07      1.14           0.52  "
		       "posts -0.61 (2), views_in_network -0.38 (4), active_days -0.20 (1)\n"
		       "2026-11-23    6.21    5.25    0.44      0.00           0.52  "
		       "posts -1.14 (3), views_in_network -0.42 (4), active_days -0.21 (1)\n"
		       "2026-11-24    6.21    5.25    0.44      0.00           0.52  -\n");
	run_free(&r);
}
END_TEST

START_TEST (ctl_forecast_json) {
	struct run r;
	json_t *j, *days, *d1, *loss;

	put_forecast_rep();
	ctl(&r, "--json", "forecast", "fc", "--days", "2");
	j = expect_json(&r);
	ck_assert_str_eq(jstr(j, "user_id"), "fc");
	ck_assert_str_eq(jstr(j, "as_of"), "2026-11-20T12:00:00.000Z");
	days = jget(j, "days");
	ck_assert_int_eq(json_array_size(days), 2);
	d1 = json_array_get(days, 0);
	ck_assert_str_eq(jstr(d1, "date"), "2026-11-21");
	ck_assert_str_eq(jstr(d1, "aged_day"), "2026-08-23");
	ck_assert_double_eq(jnum(j, "score.ssi"), 9.96);
	ck_assert_double_eq(jnum(d1, "ssi"), 9.17);
	ck_assert_double_eq(jnum(d1, "pillars.brand"), 5.25);
	ck_assert_double_eq(jnum(d1, "pillars.people"), 1.64);
	ck_assert_double_eq(jnum(d1, "pillars.insights"), 1.76);
	ck_assert_double_eq(jnum(d1, "pillars.relationships"), 0.52);
	ck_assert_int_eq(json_array_size(jget(d1, "losses")), 3);
	loss = json_array_get(jget(d1, "losses"), 0);
	ck_assert_str_eq(jstr(loss, "variable"), "views_in_network");
	ck_assert_double_eq(jnum(loss, "lost"), 0.34);
	ck_assert_int_eq(jint(loss, "aged"), 4);
	d1 = json_array_get(days, 1);
	ck_assert_str_eq(jstr(d1, "date"), "2026-11-22");
	ck_assert_str_eq(jstr(d1, "aged_day"), "2026-08-24");
	ck_assert_double_eq(jnum(d1, "ssi"), 7.98);
	loss = json_array_get(jget(d1, "losses"), 0);
	ck_assert_str_eq(jstr(loss, "variable"), "posts");
	ck_assert_double_eq(jnum(loss, "lost"), 0.61);
	ck_assert_int_eq(jint(loss, "aged"), 2);
	json_decref(j);
	run_free(&r);
}
END_TEST

START_TEST (ctl_whatif_text) {
	struct run r;

	put_forecast_rep();
	ctl(&r, "whatif", "fc", "post_shared=2", "invitation_accepted=3");
	expect_out(&r, "user           fc\n"
		       "as of          2026-11-20T12:00:00.000Z\n"
		       "model          ssi-2026.11-1\n"
		       "actions        post_shared=2, invitation_accepted=3\n"
		       "\n"
		       "                    now  what-if    gain\n"
		       "SSI                9.96    10.79   +0.83\n"
		       "brand              5.25     5.25   +0.00\n"
		       "people             2.16     2.16   +0.00\n"
		       "insights           2.03     2.50   +0.47\n"
		       "relationships      0.52     0.88   +0.36\n");
	run_free(&r);
}
END_TEST

START_TEST (ctl_whatif_json) {
	struct run r;
	json_t *j;

	put_forecast_rep();
	ctl(&r, "--json", "whatif", "fc", "post_shared=2", "session_started");
	j = expect_json(&r);
	ck_assert_str_eq(jstr(j, "user_id"), "fc");
	ck_assert_str_eq(jstr(json_array_get(jget(j, "actions"), 0), "type"), "post_shared");
	ck_assert_int_eq(jint(json_array_get(jget(j, "actions"), 0), "count"), 2);
	ck_assert_str_eq(jstr(json_array_get(jget(j, "actions"), 1), "type"), "session_started");
	ck_assert_int_eq(jint(json_array_get(jget(j, "actions"), 1), "count"), 1);
	ck_assert_double_eq(jnum(j, "now.ssi"), 9.96);
	ck_assert_double_eq(jnum(j, "whatif.ssi"), 10.61);
	ck_assert_double_eq(jnum(j, "whatif.pillars.people"), 2.34);
	ck_assert_double_eq(jnum(j, "whatif.pillars.insights"), 2.5);
	ck_assert_double_eq(jnum(j, "gain.ssi"), 0.65);
	ck_assert_double_eq(jnum(j, "gain.pillars.people"), 0.18);
	ck_assert_double_eq(jnum(j, "gain.pillars.brand"), 0);
	ck_assert_double_eq(jnum(j, "gain.pillars.insights"), 0.47);
	json_decref(j);
	run_free(&r);
}
END_TEST

/* Unknown users 2, unreadable states 4, bad command lines 64. */
START_TEST (ctl_forecast_exit_codes) {
	static const struct {
		const char *args[5];
		int rc;
		const char *err;
	} cases[] = {
	    {{"forecast", "nobody"}, SSICTL_EXIT_UNKNOWN_USER, "unknown user 'nobody'"},
	    {{"whatif", "nobody", "post_shared"},
	     SSICTL_EXIT_UNKNOWN_USER,
	     "unknown user 'nobody'"},
	    {{"forecast", "bob"},
	     SSICTL_EXIT_UNREADABLE,
	     "the stored state of 'bob' is unreadable"},
	    {{"whatif", "bob", "post_shared"},
	     SSICTL_EXIT_UNREADABLE,
	     "the stored state of 'bob' is unreadable"},
	    {{"forecast", "fc", "--days", "91"},
	     SSICTL_EXIT_USAGE,
	     "--days takes a number of days, 1 to 90"},
	    {{"forecast", "fc", "--days", "0"}, SSICTL_EXIT_USAGE, "--days takes a number of days"},
	    {{"forecast"}, SSICTL_EXIT_USAGE, "usage: ssictl forecast USER [--days N]"},
	    {{"whatif", "fc"}, SSICTL_EXIT_USAGE, "usage: ssictl whatif USER TYPE[=COUNT]..."},
	    {{"whatif", "fc", "bogus=2"}, SSICTL_EXIT_USAGE, "unknown event type 'bogus'"},
	    {{"whatif", "fc", "post_shared=0"},
	     SSICTL_EXIT_USAGE,
	     "post_shared=0: COUNT, 1 to 1000"},
	    {{"whatif", "fc", "post_shared=1001"},
	     SSICTL_EXIT_USAGE,
	     "post_shared=1001: COUNT, 1 to 1000"},
	    {{"whatif", "fc", "post_shared=2x"}, SSICTL_EXIT_USAGE, "post_shared=2x: COUNT"},
	    {{"whatif", "fc", "profile_updated"},
	     SSICTL_EXIT_USAGE,
	     "profile_updated is not an action"},
	    {{"whatif", "fc", "post_shared", "--days", "3"},
	     SSICTL_EXIT_USAGE,
	     "--days does not apply to whatif"},
	};
	struct run r;

	populate();
	put_forecast_rep();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *const *a = cases[i].args;

		ctl(&r, a[0], a[1], a[2], a[3], a[4]);
		expect_err(&r, cases[i].rc, cases[i].err);
		run_free(&r);
	}
}
END_TEST

/* 17 actions are one too many. */
START_TEST (ctl_whatif_too_many_actions) {
	struct run r;

	put_forecast_rep();
	ctl(&r, "whatif", "fc", "post_shared", "post_shared", "post_shared", "post_shared",
	    "post_shared", "post_shared", "post_shared", "post_shared", "post_shared",
	    "post_shared", "post_shared", "post_shared", "post_shared", "post_shared",
	    "post_shared", "post_shared", "post_shared");
	expect_err(&r, SSICTL_EXIT_USAGE, "usage: ssictl whatif USER TYPE[=COUNT]...");
	run_free(&r);
}
END_TEST

TCase *ssictl_forecast_tcase(void)
{
	return T_TCASE("forecast", ctl_setup, ctl_teardown, 60, ctl_forecast_text,
		       ctl_forecast_json, ctl_whatif_text, ctl_whatif_json, ctl_forecast_exit_codes,
		       ctl_whatif_too_many_actions);
}
