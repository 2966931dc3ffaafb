/*
 * Onboarding end to end (ssid in a thread, e2e.h, the scoring clock in a
 * file, the onboarding rules at their defaults): a tenant's 30 days of
 * history backfilled through the live topic, as the demo's generator makes
 * it, publishes its scores flagged "backfill" and no alert or rank.changed;
 * live events and decay after it publish as before. And the event-age
 * boundary, one millisecond either side of alert.max_event_age_ms.
 */
#include <stdio.h>
#include <string.h>

#include <check.h>

#include "e2e.h"
#include "ssigen.h"
#include "suites.h"

#define BACKFILL_USERS 300
#define MAX_AGE_MS     DAY /* alert.max_event_age_ms's default */

/* Whether a message says it is a backfill; the member is there only when true. */
static bool is_backfill(const json_t *j)
{
	const json_t *b = json_object_get(j, "backfill");

	ck_assert_msg(!b || json_is_true(b), "\"backfill\" is there only as true");
	return b != NULL;
}

/* The generator's events in [start, end), each as a raw message of the stream. */
static size_t add_generated(struct e2e_env *e, struct ssigen **gen, int64_t start, int64_t end)
{
	struct ssigen_config cfg = {
	    .seed = 42,
	    .users = BACKFILL_USERS,
	    .tenants = 4,
	    .start_ms = start,
	    .end_ms = end,
	    .activity = 0.05,
	};
	struct ssigen_event ev;
	size_t n = 0;

	ck_assert_int_eq(ssigen_new(gen, &cfg), 0);
	while (ssigen_next(*gen, &ev) == 1) {
		ck_assert_int_eq(fx_stream_add_raw(&e->fx.stream, ev.key, -1, ev.json, ev.len, ""),
				 0);
		n++;
	}
	return n;
}

/* One live event of generated user u at at_ms, with the user's segments. */
static void add_live(struct e2e_env *e, const struct ssigen *gen, uint32_t u, int64_t at_ms)
{
	struct ssigen_user_info in;
	char json[1024], when[SSI_TIME_BUFLEN];

	ck_assert_int_eq(ssigen_user_info(gen, u, &in), 0);
	ssi_time_format(at_ms, when);
	snprintf(json, sizeof(json),
		 "{\"event_id\":\"live-%u\",\"user_id\":\"%s\",\"type\":\"post_shared\","
		 "\"occurred_at\":\"%s\",\"tenant\":\"%s\",\"team\":\"%s\",\"industry\":\"%s\"}",
		 u, in.user_id, when, in.tenant, in.team, in.industry);
	ck_assert_int_eq(fx_stream_add_raw(&e->fx.stream, in.user_id, -1, json, strlen(json), ""),
			 0);
}

/* Counts of the output topic's messages. */
struct tally {
	size_t scores, backfill_scores, alerts, rank_changed, boards, backfill_boards;
};

/*
 * What the output topic holds now, less what before counted: the topic is
 * read partition by partition, so new messages are not all at its end.
 */
static struct tally tally_since(const struct e2e_env *e, const struct tally *before)
{
	struct tally t = {0};
	struct e2e_outs all;

	e2e_outs_read(e, &all);
	for (size_t i = 0; i < all.n; i++) {
		const struct e2e_out *o = &all.o[i];

		if (e2e_is_type(o, "score.updated")) {
			t.scores++;
			t.backfill_scores += is_backfill(o->j);
		} else if (e2e_is_type(o, "alert"))
			t.alerts++;
		else if (e2e_is_type(o, "rank.changed"))
			t.rank_changed++;
		else if (e2e_is_type(o, "leaderboard.changed")) {
			t.boards++;
			t.backfill_boards += is_backfill(o->j);
		}
	}
	e2e_outs_free(&all);
	if (before) {
		t.scores -= before->scores;
		t.backfill_scores -= before->backfill_scores;
		t.alerts -= before->alerts;
		t.rank_changed -= before->rank_changed;
		t.boards -= before->boards;
		t.backfill_boards -= before->backfill_boards;
	}
	return t;
}

START_TEST (test_backfill_is_silent) {
	const struct fx_daemon *d[1];
	struct ssigen *gen = NULL;
	struct tally all, t;
	struct e2e_env e;
	size_t n, live_from;
	long long decayed = 0;

	e2e_open(&e, "onboard", 1, false);
	d[0] = &e.daemon;
	e2e_clock_set(&e, FX_NOW_MS);
	e2e_start(&e, &(struct e2e_run){.file_clock = true, .onboarding = true});

	/* 30 days of history, all of it older than alert.max_event_age_ms. */
	n = add_generated(&e, &gen, FX_NOW_MS - 30 * DAY, FX_NOW_MS - MAX_AGE_MS);
	ck_assert_uint_gt(n, 5000);
	e2e_produce_range(&e, 0, n);
	all = t = tally_since(&e, NULL);
	ck_assert_uint_ge(t.scores, BACKFILL_USERS / 2);
	ck_assert_uint_eq(t.backfill_scores, t.scores);
	ck_assert_uint_eq(t.alerts, 0);
	ck_assert_uint_eq(t.rank_changed, 0);
	ck_assert_uint_gt(t.boards, 0);
	ck_assert_uint_eq(t.backfill_boards, t.boards);

	/*
	 * Live events at the same clock: scores without the flag, but still no
	 * rank.changed, since every segment has just filled up (rank.warmup_ms).
	 */
	live_from = e.fx.stream.n;
	for (uint32_t u = 0; u < 40; u++)
		add_live(&e, gen, u, FX_NOW_MS - 1000);
	e2e_produce_range(&e, live_from, e.fx.stream.n);
	t = tally_since(&e, &all);
	all = tally_since(&e, NULL);
	ck_assert_uint_ge(t.scores, 40);
	ck_assert_uint_eq(t.backfill_scores, 0);
	ck_assert_uint_eq(t.rank_changed, 0);

	/*
	 * Decay happens now: weeks later, when the history ages out of the
	 * window and the segments have long settled, it speaks again.
	 */
	for (int day = 60; day <= 96; day += 6)
		decayed += e2e_step_clock(&e, d, 1, FX_NOW_MS + day * DAY);
	ck_assert_int_gt(decayed, 0);
	ck_assert_int_eq(fx_daemon_stop(&e.daemon), 0);
	t = tally_since(&e, &all);
	ck_assert_uint_gt(t.scores, 0);
	ck_assert_uint_eq(t.backfill_scores, 0);
	ck_assert_uint_gt(t.alerts, 0);
	ck_assert_uint_gt(t.rank_changed, 0);
	ssigen_free(gen);
	e2e_close(&e);
}
END_TEST

START_TEST (test_event_age_boundary) {
	struct e2e_outs os;
	struct e2e_env e;
	const json_t *old, *young;

	e2e_open(&e, "age", 2, false);
	e.seg[0] = e.seg[1] = (struct e2e_seg){"acme", "alpha", "software"};
	e2e_start(&e, &(struct e2e_run){.onboarding = true});
	e2e_add_ev(&e, 0, SSI_EV_POST_SHARED, FX_NOW_MS - MAX_AGE_MS - 1, "");
	e2e_add_ev(&e, 1, SSI_EV_POST_SHARED, FX_NOW_MS - MAX_AGE_MS + 1, "");
	e2e_produce_range(&e, 0, e.fx.stream.n);
	ck_assert_int_eq(fx_daemon_stop(&e.daemon), 0);
	e2e_outs_read(&e, &os);
	old = e2e_last_score(&os, 0);
	young = e2e_last_score(&os, 1);
	ck_assert_ptr_nonnull(old);
	ck_assert_ptr_nonnull(young);
	ck_assert_msg(is_backfill(old), "an event older than the limit is a backfill");
	ck_assert_msg(!is_backfill(young), "an event younger than the limit is live");
	e2e_outs_free(&os);
	e2e_close(&e);
}
END_TEST

E2E_SUITE(onboarding_suite, "onboarding", test_backfill_is_silent, test_event_age_boundary)
