/*
 * ssi_state: how events change one user's state.
 *
 * Every rule here keeps the state independent of the order events arrive in;
 * see the header for why each piece is built the way it is.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ssi_state.h"
#include "ssi_time.h"

void ssi_state_init(struct ssi_state *st)
{
	memset(st, 0, sizeof(*st));
	st->profile_key.at_ms = INT64_MIN;
	for (int s = 0; s < SSI_SEG__COUNT; s++)
		st->segment_key[s].at_ms = INT64_MIN;
}

void ssi_state_clear(struct ssi_state *st)
{
	if (!st)
		return;
	free(st->rows);
	ssi_state_init(st);
}

int ssi_state_copy(struct ssi_state *dst, const struct ssi_state *src)
{
	struct ssi_day_row *rows = NULL;

	if (src->nrows > 0) {
		rows = malloc(src->nrows * sizeof(*rows));
		if (!rows)
			return -ENOMEM;
		memcpy(rows, src->rows, src->nrows * sizeof(*rows));
	}
	free(dst->rows);
	*dst = *src;
	dst->rows = rows;
	dst->rows_cap = src->nrows;
	return 0;
}

static bool rows_equal(const struct ssi_state *a, const struct ssi_state *b)
{
	if (a->nrows != b->nrows)
		return false;
	return a->nrows == 0 || memcmp(a->rows, b->rows, a->nrows * sizeof(*a->rows)) == 0;
}

/* Field by field, because struct padding makes memcmp of the whole unsound. */
bool ssi_state_equal(const struct ssi_state *a, const struct ssi_state *b)
{
	if (!rows_equal(a, b))
		return false;
	if (memcmp(&a->profile, &b->profile, sizeof(a->profile)) != 0 ||
	    a->profile_key.at_ms != b->profile_key.at_ms || a->profile_key.fp != b->profile_key.fp)
		return false;
	if (memcmp(a->connections, b->connections, sizeof(a->connections)) != 0 ||
	    a->internal_connections != b->internal_connections)
		return false;
	for (int s = 0; s < SSI_SEG__COUNT; s++) {
		if (strcmp(a->segment[s], b->segment[s]) != 0 ||
		    a->segment_key[s].at_ms != b->segment_key[s].at_ms ||
		    a->segment_key[s].fp != b->segment_key[s].fp)
			return false;
	}
	if (a->nrecent != b->nrecent || a->nmarks != b->nmarks)
		return false;
	for (uint32_t i = 0; i < a->nrecent; i++)
		if (a->recent[i].at_ms != b->recent[i].at_ms || a->recent[i].fp != b->recent[i].fp)
			return false;
	for (uint32_t i = 0; i < a->nmarks; i++)
		if (a->marks[i].partition != b->marks[i].partition ||
		    a->marks[i].offset != b->marks[i].offset)
			return false;
	return true;
}

/* Key order of the last-writer-wins registers and of the duplicate filter. */
static int key_cmp(int64_t at_a, uint64_t fp_a, int64_t at_b, uint64_t fp_b)
{
	if (at_a != at_b)
		return at_a < at_b ? -1 : 1;
	if (fp_a != fp_b)
		return fp_a < fp_b ? -1 : 1;
	return 0;
}

static bool lww_newer(const struct ssi_lww *reg, const struct ssi_event *ev)
{
	return key_cmp(ev->occurred_at_ms, ev->fingerprint, reg->at_ms, reg->fp) > 0;
}

/* Which windowed counter an event increments, or -1 for state-only events. */
static int event_counter(const struct ssi_event *ev)
{
	switch (ev->type) {
	case SSI_EV_ENDORSEMENT_RECEIVED:
		return SSI_C_ENDORSEMENT_RECEIVED;
	case SSI_EV_ARTICLE_PUBLISHED:
		return SSI_C_ARTICLE_PUBLISHED;
	case SSI_EV_FOLLOWER_GAINED:
		return SSI_C_FOLLOWER_GAINED;
	case SSI_EV_SEARCH_PERFORMED:
		return ev->attrs.search.filters > 0 ? SSI_C_SEARCH_FILTERED : SSI_C_SEARCH;
	case SSI_EV_PROFILE_VIEWED:
		return ev->attrs.view.degree >= 3 ? SSI_C_VIEW_OUT_NETWORK : SSI_C_VIEW_IN_NETWORK;
	case SSI_EV_PROFILE_VIEW_RECEIVED:
		return SSI_C_VIEW_RECEIVED;
	case SSI_EV_SESSION_STARTED:
		return SSI_C_SESSION;
	case SSI_EV_LEAD_SAVED:
		return SSI_C_LEAD_SAVED;
	case SSI_EV_POST_SHARED:
		return SSI_C_POST_SHARED;
	case SSI_EV_REACTION_RECEIVED:
		return SSI_C_REACTION_RECEIVED;
	case SSI_EV_COMMENT_RECEIVED:
		return SSI_C_COMMENT_RECEIVED;
	case SSI_EV_RESHARE_RECEIVED:
		return SSI_C_RESHARE_RECEIVED;
	case SSI_EV_REACTION_GIVEN:
		return SSI_C_REACTION_GIVEN;
	case SSI_EV_COMMENT_GIVEN:
		return SSI_C_COMMENT_GIVEN;
	case SSI_EV_MESSAGE_SENT:
		return SSI_C_MESSAGE_SENT;
	case SSI_EV_INMAIL_SENT:
		return SSI_C_INMAIL_SENT;
	case SSI_EV_INMAIL_REPLIED:
		return SSI_C_INMAIL_REPLIED;
	case SSI_EV_GROUP_JOINED:
		return SSI_C_GROUP_JOINED;
	case SSI_EV_GROUP_ACTIVITY:
		return SSI_C_GROUP_ACTIVITY;
	case SSI_EV_INVITATION_SENT:
		return SSI_C_INVITATION_SENT;
	case SSI_EV_INVITATION_ACCEPTED:
		return SSI_C_INVITATION_ACCEPTED;
	case SSI_EV_PROSPECT_CONTENT_SHARED:
		return SSI_C_PROSPECT_CONTENT_SHARED;
	case SSI_EV_PROFILE_UPDATED:
	case SSI_EV_CONNECTION_ADDED:
	case SSI_EV_CONNECTION_REMOVED:
	case SSI_EV__COUNT:
		break;
	}
	return -1;
}

static bool is_duplicate(const struct ssi_state *st, uint64_t fp)
{
	for (uint32_t i = 0; i < st->nrecent; i++)
		if (st->recent[i].fp == fp)
			return true;
	return false;
}

/*
 * Keep the `keep` greatest (at, fp) keys. Keeping the greatest rather than
 * the latest to arrive makes the set a function of the events alone.
 */
static void remember(struct ssi_state *st, int keep, const struct ssi_event *ev)
{
	uint32_t pos;

	if (keep <= 0)
		return;
	while (st->nrecent > (uint32_t)keep) {
		memmove(st->recent, st->recent + 1, (st->nrecent - 1) * sizeof(st->recent[0]));
		st->nrecent--;
	}
	if (st->nrecent == (uint32_t)keep) {
		if (key_cmp(ev->occurred_at_ms, ev->fingerprint, st->recent[0].at_ms,
			    st->recent[0].fp) < 0)
			return;
		memmove(st->recent, st->recent + 1, (st->nrecent - 1) * sizeof(st->recent[0]));
		st->nrecent--;
	}
	pos = st->nrecent;
	while (pos > 0 && key_cmp(ev->occurred_at_ms, ev->fingerprint, st->recent[pos - 1].at_ms,
				  st->recent[pos - 1].fp) < 0)
		pos--;
	memmove(st->recent + pos + 1, st->recent + pos,
		(st->nrecent - pos) * sizeof(st->recent[0]));
	st->recent[pos].at_ms = ev->occurred_at_ms;
	st->recent[pos].fp = ev->fingerprint;
	st->nrecent++;
}

/* Index of the row for day, or of where it would be inserted. */
static uint32_t row_search(const struct ssi_state *st, int32_t day, bool *found)
{
	uint32_t lo = 0, hi = st->nrows;

	/* Most events land on the newest day: check it before bisecting. */
	if (hi > 0 && st->rows[hi - 1].day <= day) {
		*found = st->rows[hi - 1].day == day;
		return *found ? hi - 1 : hi;
	}
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (st->rows[mid].day < day)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < st->nrows && st->rows[lo].day == day;
	return lo;
}

static int row_insert(struct ssi_state *st, uint32_t pos, int32_t day)
{
	if (st->nrows == st->rows_cap) {
		uint32_t cap = st->rows_cap ? st->rows_cap * 2 : 8;
		struct ssi_day_row *rows = realloc(st->rows, cap * sizeof(*rows));

		if (!rows)
			return -ENOMEM;
		st->rows = rows;
		st->rows_cap = cap;
	}
	memmove(st->rows + pos + 1, st->rows + pos, (st->nrows - pos) * sizeof(*st->rows));
	memset(&st->rows[pos], 0, sizeof(st->rows[pos]));
	st->rows[pos].day = day;
	st->nrows++;
	return 0;
}

/* Saturating add: min(MAX, a + b) keeps counts order-independent. */
static int count_bump(struct ssi_state *st, int32_t day, int counter)
{
	bool found;
	uint32_t pos = row_search(st, day, &found);
	struct ssi_day_row *row;

	if (!found) {
		int r = row_insert(st, pos, day);

		if (r < 0)
			return r;
	}
	row = &st->rows[pos];
	if (row->count[counter] < SSI_COUNT_MAX)
		row->count[counter]++;
	row->mask |= 1u << counter;
	return 0;
}

static void connection_apply(struct ssi_state *st, const struct ssi_event *ev)
{
	int32_t step = ev->type == SSI_EV_CONNECTION_ADDED ? 1 : -1;

	st->connections[ev->attrs.connection.seniority] += step;
	if (ev->attrs.connection.same_company)
		st->internal_connections += step;
}

static void segments_apply(struct ssi_state *st, const struct ssi_event *ev)
{
	for (int s = 0; s < SSI_SEG__COUNT; s++) {
		if (ev->segment[s][0] == '\0' || !lww_newer(&st->segment_key[s], ev))
			continue;
		memcpy(st->segment[s], ev->segment[s], sizeof(st->segment[s]));
		st->segment_key[s].at_ms = ev->occurred_at_ms;
		st->segment_key[s].fp = ev->fingerprint;
	}
}

int ssi_state_apply(struct ssi_state *st, const struct ssi_model *m, const struct ssi_event *ev)
{
	int counter;

	if (is_duplicate(st, ev->fingerprint))
		return 0;

	/* The one step that can fail goes first, so failure changes nothing. */
	counter = event_counter(ev);
	if (counter >= 0) {
		int r = count_bump(st, ssi_time_day(ev->occurred_at_ms), counter);

		if (r < 0)
			return r;
	} else if (ev->type == SSI_EV_PROFILE_UPDATED) {
		if (lww_newer(&st->profile_key, ev)) {
			st->profile = ev->attrs.profile;
			st->profile_key.at_ms = ev->occurred_at_ms;
			st->profile_key.fp = ev->fingerprint;
		}
	} else {
		connection_apply(st, ev);
	}
	segments_apply(st, ev);
	remember(st, m->dedup_recent, ev);
	return 1;
}

void ssi_state_prune(struct ssi_state *st, const struct ssi_model *m, int64_t now_ms)
{
	int32_t first_day = ssi_time_day(now_ms) - m->window_days + 1;
	uint32_t drop = 0;

	while (drop < st->nrows && st->rows[drop].day < first_day)
		drop++;
	if (drop == 0)
		return;
	memmove(st->rows, st->rows + drop, (st->nrows - drop) * sizeof(*st->rows));
	st->nrows -= drop;
}

int64_t ssi_state_mark_get(const struct ssi_state *st, int32_t partition)
{
	for (uint32_t i = 0; i < st->nmarks; i++)
		if (st->marks[i].partition == partition)
			return st->marks[i].offset;
	return -1;
}

/* The most recently set mark goes last; the oldest falls off when full. */
void ssi_state_mark_set(struct ssi_state *st, int32_t partition, int64_t offset)
{
	uint32_t i = 0;

	while (i < st->nmarks && st->marks[i].partition != partition)
		i++;
	if (i == st->nmarks && st->nmarks == SSI_MARKS_MAX)
		i = 0;
	else if (i == st->nmarks)
		st->nmarks++;
	memmove(st->marks + i, st->marks + i + 1, (st->nmarks - 1 - i) * sizeof(st->marks[0]));
	st->marks[st->nmarks - 1].partition = partition;
	st->marks[st->nmarks - 1].offset = offset;
}
