/* ssi_state: applying events, last-writer-wins, duplicates, pruning, marks. */
#include <string.h>

#include "suites.h"
#include "ssi_state.h"
#include "ssi_time.h"
#include "testutil.h"

static struct ssi_model model;
static struct ssi_state st;

static void setup(void)
{
	ssi_model_default(&model);
	ssi_state_init(&st);
}

static void teardown(void)
{
	ssi_state_clear(&st);
}

static const struct ssi_day_row *row_for(int64_t at_ms)
{
	for (uint32_t i = 0; i < st.nrows; i++)
		if (st.rows[i].day == ssi_time_day(at_ms))
			return &st.rows[i];
	return NULL;
}

START_TEST (counts_land_in_their_day) {
	struct ssi_event ev;

	t_event(&ev, SSI_EV_POST_SHARED, T_NOW - 2 * T_DAY + 5, 1);
	ck_assert_int_eq(ssi_state_apply(&st, &model, &ev), 1);
	t_event(&ev, SSI_EV_POST_SHARED, T_NOW - 2 * T_DAY + 7, 2);
	ck_assert_int_eq(ssi_state_apply(&st, &model, &ev), 1);
	t_event(&ev, SSI_EV_SESSION_STARTED, T_NOW - 5 * T_DAY, 3);
	ck_assert_int_eq(ssi_state_apply(&st, &model, &ev), 1);

	ck_assert_uint_eq(st.nrows, 2);
	ck_assert_int_lt(st.rows[0].day, st.rows[1].day);
	ck_assert_uint_eq(row_for(T_NOW - 2 * T_DAY)->count[SSI_C_POST_SHARED], 2);
	ck_assert_uint_eq(row_for(T_NOW - 2 * T_DAY)->mask, 1u << SSI_C_POST_SHARED);
	ck_assert_uint_eq(row_for(T_NOW - 5 * T_DAY)->count[SSI_C_SESSION], 1);
}
END_TEST

START_TEST (attrs_pick_the_counter) {
	struct ssi_event ev;

	t_event(&ev, SSI_EV_SEARCH_PERFORMED, T_NOW, 1);
	ssi_state_apply(&st, &model, &ev);
	t_event(&ev, SSI_EV_SEARCH_PERFORMED, T_NOW, 2);
	ev.attrs.search.filters = 3;
	ssi_state_apply(&st, &model, &ev);
	t_event(&ev, SSI_EV_PROFILE_VIEWED, T_NOW, 3);
	ev.attrs.view.degree = 1;
	ssi_state_apply(&st, &model, &ev);
	t_event(&ev, SSI_EV_PROFILE_VIEWED, T_NOW, 4);
	ev.attrs.view.degree = 3;
	ssi_state_apply(&st, &model, &ev);

	ck_assert_uint_eq(st.rows[0].count[SSI_C_SEARCH], 1);
	ck_assert_uint_eq(st.rows[0].count[SSI_C_SEARCH_FILTERED], 1);
	ck_assert_uint_eq(st.rows[0].count[SSI_C_VIEW_IN_NETWORK], 1);
	ck_assert_uint_eq(st.rows[0].count[SSI_C_VIEW_OUT_NETWORK], 1);
}
END_TEST

START_TEST (daily_counts_saturate) {
	uint64_t seq = 1;

	t_apply_n(&st, &model, SSI_EV_INVITATION_SENT, T_NOW, 5000, &seq);
	ck_assert_uint_eq(st.nrows, 1);
	ck_assert_uint_eq(st.rows[0].count[SSI_C_INVITATION_SENT], SSI_COUNT_MAX);
}
END_TEST

START_TEST (profile_is_last_writer_wins) {
	struct ssi_event newer, older;

	t_event(&newer, SSI_EV_PROFILE_UPDATED, T_NOW - T_HOUR, 1);
	newer.attrs.profile.photo = true;
	newer.attrs.profile.skills = 12;
	t_event(&older, SSI_EV_PROFILE_UPDATED, T_NOW - 2 * T_HOUR, 2);
	older.attrs.profile.headline = true;

	ssi_state_apply(&st, &model, &newer);
	ssi_state_apply(&st, &model, &older);
	ck_assert(st.profile.photo);
	ck_assert(!st.profile.headline);
	ck_assert_uint_eq(st.profile.skills, 12);
	ck_assert_int_eq(st.profile_key.at_ms, T_NOW - T_HOUR);
}
END_TEST

START_TEST (segments_are_last_writer_wins_each) {
	struct ssi_event a, b;

	t_event(&a, SSI_EV_SESSION_STARTED, T_NOW - T_HOUR, 1);
	strcpy(a.segment[SSI_SEG_TENANT], "acme");
	strcpy(a.segment[SSI_SEG_TEAM], "emea");
	t_event(&b, SSI_EV_SESSION_STARTED, T_NOW - 3 * T_HOUR, 2);
	strcpy(b.segment[SSI_SEG_TEAM], "apac");
	strcpy(b.segment[SSI_SEG_INDUSTRY], "software");

	ssi_state_apply(&st, &model, &a);
	ssi_state_apply(&st, &model, &b);
	ck_assert_str_eq(st.segment[SSI_SEG_TENANT], "acme");
	ck_assert_str_eq(st.segment[SSI_SEG_TEAM], "emea");
	ck_assert_str_eq(st.segment[SSI_SEG_INDUSTRY], "software");
}
END_TEST

START_TEST (connections_add_and_remove) {
	struct ssi_event ev;

	t_event(&ev, SSI_EV_CONNECTION_REMOVED, T_NOW, 1);
	ev.attrs.connection.seniority = SSI_SEN_VP;
	ev.attrs.connection.same_company = true;
	ssi_state_apply(&st, &model, &ev);
	ck_assert_int_eq(st.connections[SSI_SEN_VP], -1);
	ck_assert_int_eq(st.internal_connections, -1);

	t_event(&ev, SSI_EV_CONNECTION_ADDED, T_NOW - T_DAY, 2);
	ev.attrs.connection.seniority = SSI_SEN_VP;
	ev.attrs.connection.same_company = true;
	ssi_state_apply(&st, &model, &ev);
	t_event(&ev, SSI_EV_CONNECTION_ADDED, T_NOW - T_DAY, 3);
	ev.attrs.connection.seniority = SSI_SEN_CXO;
	ssi_state_apply(&st, &model, &ev);
	ck_assert_int_eq(st.connections[SSI_SEN_VP], 0);
	ck_assert_int_eq(st.connections[SSI_SEN_CXO], 1);
	ck_assert_int_eq(st.internal_connections, 0);
	ck_assert_uint_eq(st.nrows, 0);
}
END_TEST

START_TEST (duplicate_is_ignored) {
	struct ssi_event ev;
	struct ssi_state before;

	t_event(&ev, SSI_EV_POST_SHARED, T_NOW, 1);
	ck_assert_int_eq(ssi_state_apply(&st, &model, &ev), 1);
	ssi_state_init(&before);
	ck_assert_int_eq(ssi_state_copy(&before, &st), 0);
	ck_assert_int_eq(ssi_state_apply(&st, &model, &ev), 0);
	ck_assert(ssi_state_equal(&st, &before));
	ssi_state_clear(&before);
}
END_TEST

START_TEST (dedup_keeps_the_latest_keys) {
	struct ssi_event ev;

	model.dedup_recent = 3;
	for (int i = 0; i < 6; i++) {
		/* Arrive newest first: the filter must still keep the three newest. */
		t_event(&ev, SSI_EV_MESSAGE_SENT, T_NOW - i * T_HOUR, (uint64_t)i);
		ssi_state_apply(&st, &model, &ev);
	}
	ck_assert_uint_eq(st.nrecent, 3);
	ck_assert_int_eq(st.recent[0].at_ms, T_NOW - 2 * T_HOUR);
	ck_assert_int_eq(st.recent[2].at_ms, T_NOW);

	/* An event older than every remembered key is outside the horizon. */
	t_event(&ev, SSI_EV_MESSAGE_SENT, T_NOW - 5 * T_HOUR, 5);
	ck_assert_int_eq(ssi_state_apply(&st, &model, &ev), 1);
	t_event(&ev, SSI_EV_MESSAGE_SENT, T_NOW - T_HOUR, 1);
	ck_assert_int_eq(ssi_state_apply(&st, &model, &ev), 0);

	model.dedup_recent = 0;
	t_event(&ev, SSI_EV_MESSAGE_SENT, T_NOW - T_HOUR, 1);
	ck_assert_int_eq(ssi_state_apply(&st, &model, &ev), 0);
	t_event(&ev, SSI_EV_MESSAGE_SENT, T_NOW + T_HOUR, 99);
	ck_assert_int_eq(ssi_state_apply(&st, &model, &ev), 1);
	ck_assert_uint_eq(st.nrecent, 3);
}
END_TEST

START_TEST (dedup_in_time_order_drops_the_oldest) {
	struct ssi_event ev;

	model.dedup_recent = 3;
	for (int i = 0; i < 6; i++) {
		/* The usual order: each event newer than the last. */
		t_event(&ev, SSI_EV_MESSAGE_SENT, T_NOW + i * T_HOUR, (uint64_t)i);
		ck_assert_int_eq(ssi_state_apply(&st, &model, &ev), 1);
	}
	ck_assert_uint_eq(st.nrecent, 3);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(st.recent[i].at_ms, T_NOW + (3 + i) * T_HOUR);

	/* Full, and a key between the two oldest: the oldest goes, the new one is first. */
	t_event(&ev, SSI_EV_MESSAGE_SENT, T_NOW + 3 * T_HOUR + 1, 10);
	ck_assert_int_eq(ssi_state_apply(&st, &model, &ev), 1);
	ck_assert_uint_eq(st.nrecent, 3);
	ck_assert_int_eq(st.recent[0].at_ms, T_NOW + 3 * T_HOUR + 1);
	ck_assert_int_eq(st.recent[1].at_ms, T_NOW + 4 * T_HOUR);
	ck_assert_int_eq(st.recent[2].at_ms, T_NOW + 5 * T_HOUR);

	/* A model that keeps fewer: the state shrinks to the newest keys. */
	model.dedup_recent = 2;
	t_event(&ev, SSI_EV_MESSAGE_SENT, T_NOW + 4 * T_HOUR + 1, 11);
	ck_assert_int_eq(ssi_state_apply(&st, &model, &ev), 1);
	ck_assert_uint_eq(st.nrecent, 2);
	ck_assert_int_eq(st.recent[0].at_ms, T_NOW + 4 * T_HOUR + 1);
	ck_assert_int_eq(st.recent[1].at_ms, T_NOW + 5 * T_HOUR);
	ck_assert_uint_gt(ssi_state_encoded_size(&st), 0); /* still ascending */
}
END_TEST

START_TEST (shorter_segment_replaces_a_longer_one) {
	struct ssi_event ev;
	struct ssi_state back;
	uint8_t buf[SSI_STATE_ENCODED_MAX];
	long len;

	t_event(&ev, SSI_EV_SESSION_STARTED, T_NOW - T_HOUR, 1);
	strcpy(ev.segment[SSI_SEG_TENANT], "a-rather-long-tenant-name");
	ssi_state_apply(&st, &model, &ev);
	t_event(&ev, SSI_EV_SESSION_STARTED, T_NOW, 2);
	strcpy(ev.segment[SSI_SEG_TENANT], "acme");
	ssi_state_apply(&st, &model, &ev);
	ck_assert_str_eq(st.segment[SSI_SEG_TENANT], "acme");

	len = ssi_state_encode(&st, buf, sizeof(buf));
	ck_assert_int_gt(len, 0);
	ssi_state_init(&back);
	ck_assert_int_eq(ssi_state_decode(&back, buf, (size_t)len), 0);
	ck_assert(ssi_state_equal(&back, &st));
	ck_assert_str_eq(back.segment[SSI_SEG_TENANT], "acme");
	ssi_state_clear(&back);
}
END_TEST

START_TEST (segment_values_of_every_length) {
	struct ssi_event ev;

	/* Longest first, so each value lands on the remains of a longer one. */
	for (int len = SSI_ID_MAX; len >= 1; len--) {
		t_event(&ev, SSI_EV_SESSION_STARTED, T_NOW - len * T_HOUR / 256, (uint64_t)len);
		for (int i = 0; i < len; i++)
			ev.segment[SSI_SEG_TEAM][i] = (char)('a' + (len + i) % 26);
		ev.segment[SSI_SEG_TEAM][len] = '\0';
		ck_assert_int_eq(ssi_state_apply(&st, &model, &ev), 1);
		ck_assert_str_eq(st.segment[SSI_SEG_TEAM], ev.segment[SSI_SEG_TEAM]);
		ck_assert_uint_gt(ssi_state_encoded_size(&st), 0);
	}
}
END_TEST

START_TEST (prune_drops_days_outside_the_window) {
	uint64_t seq = 1;

	t_apply_n(&st, &model, SSI_EV_POST_SHARED, T_NOW - 89 * T_DAY, 1, &seq);
	t_apply_n(&st, &model, SSI_EV_POST_SHARED, T_NOW - 10 * T_DAY, 1, &seq);
	ssi_state_prune(&st, &model, T_NOW);
	ck_assert_uint_eq(st.nrows, 2);
	ssi_state_prune(&st, &model, T_NOW + T_DAY);
	ck_assert_uint_eq(st.nrows, 1);
	ck_assert_int_eq(st.rows[0].day, ssi_time_day(T_NOW - 10 * T_DAY));
	ssi_state_prune(&st, &model, T_NOW + 100 * T_DAY);
	ck_assert_uint_eq(st.nrows, 0);
}
END_TEST

START_TEST (marks_keep_the_most_recent_partitions) {
	ck_assert_int_eq(ssi_state_mark_get(&st, 0), -1);
	for (int p = 0; p < SSI_MARKS_MAX; p++)
		ssi_state_mark_set(&st, p, 100 + p);
	ssi_state_mark_set(&st, 0, 500);
	ssi_state_mark_set(&st, 9, 7);
	ck_assert_uint_eq(st.nmarks, SSI_MARKS_MAX);
	ck_assert_int_eq(ssi_state_mark_get(&st, 0), 500);
	ck_assert_int_eq(ssi_state_mark_get(&st, 1), -1);
	ck_assert_int_eq(ssi_state_mark_get(&st, 9), 7);
	ck_assert_int_eq(ssi_state_mark_get(&st, 2), 102);
}
END_TEST

START_TEST (mark_set_again_moves_it_last) {
	ssi_state_mark_set(&st, 3, 10);
	ssi_state_mark_set(&st, 3, 11);
	ck_assert_uint_eq(st.nmarks, 1);
	ck_assert_int_eq(ssi_state_mark_get(&st, 3), 11);
	ssi_state_mark_set(&st, 5, 1);
	ssi_state_mark_set(&st, 5, 2);
	ck_assert_uint_eq(st.nmarks, 2);
	ck_assert_int_eq(st.marks[1].partition, 5);
	ck_assert_int_eq(st.marks[1].offset, 2);
	ssi_state_mark_set(&st, 3, 12);
	ck_assert_uint_eq(st.nmarks, 2);
	ck_assert_int_eq(st.marks[0].partition, 5);
	ck_assert_int_eq(st.marks[1].partition, 3);
	ck_assert_int_eq(ssi_state_mark_get(&st, 3), 12);
}
END_TEST

START_TEST (copy_is_deep_and_equal) {
	struct ssi_state c;
	uint64_t seq = 1;

	t_apply_n(&st, &model, SSI_EV_COMMENT_GIVEN, T_NOW, 3, &seq);
	ssi_state_init(&c);
	ck_assert_int_eq(ssi_state_copy(&c, &st), 0);
	ck_assert(ssi_state_equal(&c, &st));
	ck_assert_ptr_ne(c.rows, st.rows);
	t_apply_n(&c, &model, SSI_EV_COMMENT_GIVEN, T_NOW, 1, &seq);
	ck_assert(!ssi_state_equal(&c, &st));
	ssi_state_clear(&c);
	ssi_state_clear(NULL);
}
END_TEST

Suite *state_suite(void)
{
	Suite *s = suite_create("state");
	TCase *tc = tcase_create("apply");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, counts_land_in_their_day);
	tcase_add_test(tc, attrs_pick_the_counter);
	tcase_add_test(tc, daily_counts_saturate);
	tcase_add_test(tc, profile_is_last_writer_wins);
	tcase_add_test(tc, segments_are_last_writer_wins_each);
	tcase_add_test(tc, connections_add_and_remove);
	tcase_add_test(tc, duplicate_is_ignored);
	tcase_add_test(tc, dedup_keeps_the_latest_keys);
	tcase_add_test(tc, dedup_in_time_order_drops_the_oldest);
	tcase_add_test(tc, shorter_segment_replaces_a_longer_one);
	tcase_add_test(tc, segment_values_of_every_length);
	tcase_add_test(tc, prune_drops_days_outside_the_window);
	tcase_add_test(tc, marks_keep_the_most_recent_partitions);
	tcase_add_test(tc, mark_set_again_moves_it_last);
	tcase_add_test(tc, copy_is_deep_and_equal);
	suite_add_tcase(s, tc);
	return s;
}
