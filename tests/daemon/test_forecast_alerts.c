/*
 * forecast_below end to end (ssid in a thread, e2e.h, the scoring clock in
 * a file walked a day at a time): a rep whose activity of late August will
 * leave the window is warned once, seven days before below_threshold
 * fires, on the day the decay schedule brings it back although its score
 * has not moved; an event the same day neither forecasts again nor warns
 * again; and after a model change that puts the rep on course to fall, it
 * is not warned (the rule waits for a safe forecast to re-arm).
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <check.h>

#include "e2e.h"
#include "ssi_alert.h"
#include "ssid_file.h"
#include "suites.h"

/* The alerts of rule in the topic, in order (at most max). */
static int alerts_of(const struct e2e_outs *os, const char *rule, const json_t **out, int max)
{
	int n = 0;

	for (size_t i = 0; i < os->n; i++)
		if (e2e_is_type(&os->o[i], "alert") &&
		    strcmp(e2e_str_of(os->o[i].j, "rule"), rule) == 0 && n < max)
			out[n++] = os->o[i].j;
	return n;
}

/* The rep's alert state as stored (field a). */
static void stored_alert(const struct e2e_env *e, struct ssi_alert_state *st)
{
	struct ssid_redis *c = fx_redis_client(&e->fx.redis);
	char id[64];
	redisReply *r;

	fx_user_id(&e->fx.stream, 0, id, sizeof(id));
	r = e2e_rcmd(c, "HGET ssi:u:{%s} a", id);
	ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
	ck_assert_int_eq(ssi_alert_state_decode(st, (const uint8_t *)r->str, r->len), 0);
	freeReplyObject(r);
	ssid_redis_free(c);
}

/*
 * Wait until rep 0's delivered score is of model version: the rescoring
 * after a reload, not the walk every partition gets when first assigned
 * (which counts in model_rescored too).
 */
static void wait_published_model(const struct e2e_env *e, const char *version)
{
	struct ssid_redis *c = fx_redis_client(&e->fx.redis);
	int64_t deadline = fx_deadline(FX_WAIT_MS);
	char id[64];

	fx_user_id(&e->fx.stream, 0, id, sizeof(id));
	for (;;) {
		redisReply *r = e2e_rcmd(c, "HGET ssi:u:{%s} p", id);
		bool done = r->type == REDIS_REPLY_STRING && strstr(r->str, version) != NULL;

		freeReplyObject(r);
		if (done)
			break;
		ck_assert_msg(!fx_expired(deadline), "rep 0 not rescored under %s (log: %s)",
			      version, e->daemon.log_path);
		fx_pause();
	}
	ssid_redis_free(c);
}

/*
 * Rep 0: a full profile, insights and people activity on day back (it
 * leaves the 90-day window at the start of day back + 90 from today), and
 * a session two hours ago.
 */
static void add_rep(struct e2e_env *e, int back)
{
	int64_t old = FX_NOW_MS - (int64_t)back * DAY - 3 * T_HOUR;
	char attrs[256];

	e->seg[0] = (struct e2e_seg){"acme", "alpha", "software"};
	e2e_add_ev(e, 0, SSI_EV_PROFILE_UPDATED, FX_NOW_MS - 25 * DAY,
		   e2e_profile(attrs, sizeof(attrs), E2E_PF_ALL, 10, 3));
	for (int i = 0; i < 3; i++)
		e2e_add_ev(e, 0, SSI_EV_POST_SHARED, old + i * 60000, "");
	for (int i = 0; i < 12; i++)
		e2e_add_ev(e, 0, SSI_EV_REACTION_RECEIVED, old + i * 60000, "");
	for (int i = 0; i < 6; i++)
		e2e_add_ev(e, 0, SSI_EV_PROFILE_VIEW_RECEIVED, old + i * 60000, "");
	e2e_add_ev(e, 0, SSI_EV_SESSION_STARTED, old, "");
	e2e_add_ev(e, 0, SSI_EV_SESSION_STARTED, FX_NOW_MS - 2 * T_HOUR, "");
}

/* The same profile again at at_ms: a new state, the same score. */
static void add_same_profile(struct e2e_env *e, int64_t at_ms)
{
	char attrs[256];

	e2e_add_ev(e, 0, SSI_EV_PROFILE_UPDATED, at_ms,
		   e2e_profile(attrs, sizeof(attrs), E2E_PF_ALL, 10, 3));
}

START_TEST (test_forecast_warns_before_the_fall) {
	const struct fx_daemon *daemons[1] = {NULL};
	const json_t *fb[4], *bt[4];
	struct ssi_score now, after;
	struct ssi_alert_state ast;
	struct e2e_outs os;
	struct e2e_env e;
	char extra[256];
	int32_t today = ssi_time_day(FX_NOW_MS);
	int line;
	size_t n0;

	e2e_open(&e, "forecast", 1, false);
	add_rep(&e, 80); /* leaves at the start of day today + 10 */
	n0 = e.fx.stream.n;
	e2e_ref_score(&e, 0, n0, &e.fx.model, FX_NOW_MS, &now);
	e2e_ref_score(&e, 0, n0, &e.fx.model, ssi_time_day_start(today + 10), &after);
	ck_assert_int_gt(now.total - after.total, 100);
	line = after.total + (now.total - after.total) / 2;
	snprintf(extra, sizeof(extra),
		 "alert.below_threshold.points = %d.%02d\nalert.forecast_below.points = %d.%02d\n",
		 line / 100, line % 100, line / 100, line % 100);

	e2e_clock_set(&e, FX_NOW_MS);
	e2e_start(&e, &(struct e2e_run){.extra = extra, .file_clock = true, .gather_long = true});
	e2e_produce_range(&e, 0, n0);
	/* The first check is safe (the fall is 10 days away): armed, no alert. */
	stored_alert(&e, &ast);
	ck_assert_int_eq(ast.forecast_day, today);
	ck_assert_uint_ne(ast.armed & (1u << SSI_ALERT_FORECAST_BELOW), 0);
	ck_assert_int_eq(ast.forecast_visit, today + 3);
	/* A second batch the same day rewrites the rep's schedule: the visit is kept. */
	add_same_profile(&e, FX_NOW_MS - T_HOUR);
	e2e_produce_range(&e, n0, n0 + 1);
	stored_alert(&e, &ast);
	ck_assert_int_eq(ast.forecast_visit, today + 3);

	/* Day +3 is when the fall enters the 7-day window: the schedule brings the rep back. */
	daemons[0] = &e.daemon;
	ck_assert_int_eq(e2e_step_clock(&e, daemons, 1, FX_NOW_MS + 1 * DAY), 0);
	ck_assert_int_eq(e2e_step_clock(&e, daemons, 1, FX_NOW_MS + 2 * DAY), 0);
	ck_assert_int_eq(e2e_step_clock(&e, daemons, 1, FX_NOW_MS + 3 * DAY), 1);
	/* An event the same day: checked already today, so no second forecast, no second alert. */
	add_same_profile(&e, FX_NOW_MS + 3 * DAY);
	e2e_produce_range(&e, n0 + 1, n0 + 2);
	stored_alert(&e, &ast);
	ck_assert_int_eq(ast.forecast_day, today + 3);
	ck_assert_int_eq(ast.last_fired_day[SSI_ALERT_FORECAST_BELOW], today + 3);
	ck_assert_uint_eq(ast.armed & (1u << SSI_ALERT_FORECAST_BELOW), 0);
	/* Nothing is due until the fall itself. */
	for (int d = 4; d <= 9; d++)
		ck_assert_int_eq(e2e_step_clock(&e, daemons, 1, FX_NOW_MS + d * DAY), 0);
	ck_assert_int_eq(e2e_step_clock(&e, daemons, 1, FX_NOW_MS + 10 * DAY), 1);
	ck_assert_int_eq(fx_daemon_stop(&e.daemon), 0);

	e2e_outs_read(&e, &os);
	ck_assert_int_eq(alerts_of(&os, "forecast_below", fb, 4), 1);
	ck_assert_int_eq(alerts_of(&os, "below_threshold", bt, 4), 1);
	/* The warning: day +3, by the decay pass, naming day +10 and the fall to come. */
	ck_assert_int_eq(e2e_as_of(fb[0]), FX_NOW_MS + 3 * DAY);
	ck_assert_str_eq(e2e_str_of(fb[0], "cause"), "decay");
	ck_assert_int_eq(e2e_cp(json_object_get(fb[0], "previous")), now.total);
	ck_assert_int_eq(e2e_cp(json_object_get(fb[0], "value")), after.total);
	ck_assert_int_eq(e2e_cp(json_object_get(fb[0], "threshold")), line);
	ck_assert_int_eq(e2e_cp(json_object_get(fb[0], "ssi")), now.total);
	{
		char date[SSI_TIME_BUFLEN];
		const json_t *causes = json_object_get(fb[0], "causes");
		const json_t *actions = json_object_get(fb[0], "actions");
		int lost = 0;

		ssi_time_format(ssi_time_day_start(today + 10), date);
		date[10] = '\0';
		ck_assert_str_eq(e2e_str_of(fb[0], "forecast_date"), date);
		ck_assert_int_ge(json_array_size(causes), 1);
		for (size_t i = 0; i < json_array_size(causes); i++) {
			const json_t *c = json_array_get(causes, i);
			const char *v = e2e_str_of(c, "variable");

			ck_assert_msg(
			    strcmp(v, "posts") == 0 || strcmp(v, "reactions_received") == 0 ||
				strcmp(v, "views_received") == 0 || strcmp(v, "active_days") == 0,
			    "%s does not age out on that day", v);
			if (strcmp(v, "posts") == 0)
				ck_assert_int_eq(json_integer_value(json_object_get(c, "aged")), 3);
			lost += e2e_cp(json_object_get(c, "lost"));
		}
		ck_assert_int_le(lost, now.total - after.total);
		ck_assert_int_eq(json_array_size(actions), 3);
		for (size_t i = 0; i < 3; i++) {
			const json_t *a = json_array_get(actions, i);

			/* Idle, the rep stays above for 6 days (+4 .. +9); the best action longer.
			 */
			if (i == 0)
				ck_assert_int_gt(
				    json_integer_value(json_object_get(a, "days_above")), 6);
			if (i > 0)
				ck_assert_int_le(
				    json_integer_value(json_object_get(a, "days_above")),
				    json_integer_value(json_object_get(
					json_array_get(actions, i - 1), "days_above")));
		}
	}
	/* Then the fall, seven days later, as forecast. */
	ck_assert_int_eq(e2e_as_of(bt[0]), FX_NOW_MS + 10 * DAY);
	ck_assert_int_eq(e2e_cp(json_object_get(bt[0], "value")), after.total);
	e2e_outs_free(&os);
	e2e_close(&e);
}
END_TEST

START_TEST (test_model_change_never_warns) {
	const struct fx_daemon *daemons[1] = {NULL};
	const json_t *fb[4], *bt[4];
	struct ssi_score now1, after1, now2, after2;
	struct ssi_model second;
	struct ssi_alert_state ast;
	struct e2e_outs os;
	struct e2e_env e;
	char extra[256], path[PATH_MAX];
	int32_t today = ssi_time_day(FX_NOW_MS);
	int line, room;
	size_t n0;

	e2e_open(&e, "forecast-model", 1, false);
	add_rep(&e, 84); /* leaves at the start of day today + 6 */
	n0 = e.fx.stream.n;
	fx_path(path, sizeof(path), "model.json");
	fx_write_model(path, NULL, 7);
	ck_assert_int_eq(ssid_file_load_model(&e.fx.model, path, NULL), 0);
	e2e_ref_score(&e, 0, n0, &e.fx.model, FX_NOW_MS, &now1);
	e2e_ref_score(&e, 0, n0, &e.fx.model, ssi_time_day_start(today + 6), &after1);
	/* The second model: the profile is worth 1 point instead of 7. */
	fx_write_model(path, "ssi-test-model-2", 1);
	ck_assert_int_eq(ssid_file_load_model(&second, path, NULL), 0);
	e2e_ref_score(&e, 0, n0, &second, FX_NOW_MS, &now2);
	e2e_ref_score(&e, 0, n0, &second, ssi_time_day_start(today + 6), &after2);
	/* A line safe under the first model, crossed on day +6 under the second. */
	room = now2.total - after2.total < after1.total - after2.total
		   ? now2.total - after2.total
		   : after1.total - after2.total;
	ck_assert_int_gt(room, 100);
	line = after2.total + room / 2;
	ck_assert(after1.total >= line && now2.total >= line && after2.total < line);
	snprintf(extra, sizeof(extra),
		 "alert.below_threshold.points = %d.%02d\nalert.forecast_below.points = %d.%02d\n",
		 line / 100, line % 100, line / 100, line % 100);

	fx_write_model(path, NULL, 7);
	e2e_clock_set(&e, FX_NOW_MS);
	e2e_start(&e,
		  &(struct e2e_run){
		      .extra = extra, .file_clock = true, .gather_long = true, .model_file = path});
	e2e_produce_range(&e, 0, n0);
	stored_alert(&e, &ast);
	ck_assert_uint_ne(ast.armed & (1u << SSI_ALERT_FORECAST_BELOW), 0);

	/* The model changes: the rep is rescored (cause model) and now on course to fall. */
	fx_write_model(path, "ssi-test-model-2", 1);
	fx_daemon_reload(&e.daemon);
	wait_published_model(&e, "ssi-test-model-2");
	stored_alert(&e, &ast);
	ck_assert_uint_eq(ast.armed & (1u << SSI_ALERT_FORECAST_BELOW), 0);

	/* Day +1, an event: the day's check finds the fall, but the rule is disarmed. */
	daemons[0] = &e.daemon;
	ck_assert_int_eq(e2e_step_clock(&e, daemons, 1, FX_NOW_MS + 1 * DAY), 0);
	add_same_profile(&e, FX_NOW_MS + 1 * DAY);
	e2e_produce_range(&e, n0, n0 + 1);
	stored_alert(&e, &ast);
	ck_assert_int_eq(ast.forecast_day, today + 1);
	for (int d = 2; d <= 6; d++)
		e2e_step_clock(&e, daemons, 1, FX_NOW_MS + d * DAY);
	ck_assert_int_eq(fx_daemon_stop(&e.daemon), 0);

	e2e_outs_read(&e, &os);
	ck_assert_int_eq(alerts_of(&os, "forecast_below", fb, 4), 0);
	/* The fall itself is real: below_threshold says so on day +6. */
	ck_assert_int_eq(alerts_of(&os, "below_threshold", bt, 4), 1);
	ck_assert_int_eq(e2e_as_of(bt[0]), FX_NOW_MS + 6 * DAY);
	ck_assert_int_eq(e2e_cp(json_object_get(bt[0], "value")), after2.total);
	e2e_outs_free(&os);
	e2e_close(&e);
}
END_TEST

E2E_SUITE(forecast_alerts_suite, "forecast_alerts", test_forecast_warns_before_the_fall,
	  test_model_change_never_warns)
