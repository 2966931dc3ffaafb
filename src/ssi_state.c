/*
 * ssi_state: how events change one user's state.
 *
 * Every rule here keeps the state independent of the order events arrive in;
 * see the header for why each piece is built the way it is.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "ssi_array.h"
#include "ssi_state.h"
#include "ssi_time.h"

void ssi_state_init(struct ssi_state *st)
{
	memset(st, 0, sizeof(*st));
	st->profile_key.at_ms = INT64_MIN;
	for (int s = 0; s < SSI_SEG__COUNT; s++)
		st->segment_key[s].at_ms = INT64_MIN;
}

void ssi_state_release(struct ssi_state *st)
{
	if (!st)
		return;
	free(st->rows);
	st->rows = NULL;
	st->nrows = st->rows_cap = 0;
}

void ssi_state_clear(struct ssi_state *st)
{
	if (!st)
		return;
	ssi_state_release(st);
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
 * the latest to arrive makes the set a function of the events alone. The
 * new key is inserted with one pass of shifts (no memmove call): events
 * mostly arrive in time order, so it usually goes last and the oldest drops.
 */
static void remember(struct ssi_state *st, int keep, const struct ssi_event *ev)
{
	struct ssi_recent *r = st->recent;
	int64_t at = ev->occurred_at_ms;
	uint64_t fp = ev->fingerprint;
	uint32_t n = st->nrecent, pos;

	if (keep <= 0)
		return;
	if (n > (uint32_t)keep) { /* the model now keeps fewer: drop the oldest */
		uint32_t drop = n - (uint32_t)keep;

		for (uint32_t i = 0; i + drop < n; i++)
			r[i] = r[i + drop];
		n = (uint32_t)keep;
	}
	if (n == (uint32_t)keep) {
		/* Full: the oldest goes, unless the new key is older still. */
		if (key_cmp(at, fp, r[0].at_ms, r[0].fp) < 0) {
			st->nrecent = n;
			return;
		}
		for (pos = 0; pos + 1 < n && key_cmp(at, fp, r[pos + 1].at_ms, r[pos + 1].fp) >= 0;
		     pos++)
			r[pos] = r[pos + 1];
	} else {
		for (pos = n; pos > 0 && key_cmp(at, fp, r[pos - 1].at_ms, r[pos - 1].fp) < 0;
		     pos--)
			r[pos] = r[pos - 1];
		n++;
	}
	r[pos].at_ms = at;
	r[pos].fp = fp;
	st->nrecent = n;
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
	size_t cap = st->rows_cap;

	if (SSI_GROW(st->rows, &cap, (size_t)st->nrows + 1, 8) < 0)
		return -ENOMEM;
	st->rows_cap = (uint32_t)cap;
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

/*
 * A segment value, up to and including its NUL: the bytes after it mean
 * nothing, and copying all SSI_ID_MAX + 1 of them cost cache lines. Values
 * are short, so with SSE2 the copy goes 16 bytes at a time until a block
 * holds the NUL (one pass instead of strnlen and memcpy calls).
 */
static void copy_segment(char dst[SSI_ID_MAX + 1], const char src[SSI_ID_MAX + 1])
{
#ifdef __SSE2__
	const __m128i zero = _mm_setzero_si128();

	/* Whole blocks only within the buffer: 0..127, then byte 128. */
	for (size_t i = 0; i + 16 <= SSI_ID_MAX; i += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(src + i));

		_mm_storeu_si128((__m128i *)(dst + i), v);
		if (_mm_movemask_epi8(_mm_cmpeq_epi8(v, zero)))
			return;
	}
	dst[SSI_ID_MAX] = src[SSI_ID_MAX];
#else
	memcpy(dst, src, strnlen(src, SSI_ID_MAX) + 1);
#endif
}
_Static_assert(SSI_ID_MAX % 16 == 0, "copy_segment's blocks tile the value");

static void segments_apply(struct ssi_state *st, const struct ssi_event *ev)
{
	for (int s = 0; s < SSI_SEG__COUNT; s++) {
		if (ev->segment[s][0] == '\0' || !lww_newer(&st->segment_key[s], ev))
			continue;
		copy_segment(st->segment[s], ev->segment[s]);
		st->segment_key[s].at_ms = ev->occurred_at_ms;
		st->segment_key[s].fp = ev->fingerprint;
	}
}

int ssi_state_apply(struct ssi_state *st, const struct ssi_model *m, const struct ssi_event *ev)
{
	int counter;

	/*
	 * A state out of cache costs two misses in a row: the state, then its
	 * rows. Ask for the newest row (where most events land) before the
	 * duplicate scan, whose branches on recent[] would otherwise hold the
	 * row's load back until recent[] has arrived too.
	 */
	if (st->nrows > 0)
		__builtin_prefetch(&st->rows[st->nrows - 1], 1);
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

/* Bytes of a state every apply and score touch (see the member order). */
#define HOT_BYTES offsetof(struct ssi_state, recent[8])
/* Row lines asked for at most: the first ones (score starts there) and the newest. */
#define ROW_LINES_MAX 8
#define LINE	      64

void ssi_state_prefetch(const struct ssi_state *st, bool rows)
{
	const char *p = (const char *)st;

	if (!rows) {
		for (size_t off = 0; off < HOT_BYTES; off += LINE)
			__builtin_prefetch(p + off, 1);
		__builtin_prefetch(p + HOT_BYTES - 1, 1);
		for (int s = 0; s < SSI_SEG__COUNT; s++)
			__builtin_prefetch(st->segment[s], 1);
		return;
	}
	if (st->nrows > 0) {
		const char *first = (const char *)st->rows;
		const char *end = (const char *)(st->rows + st->nrows);
		size_t lines = 0;

		__builtin_prefetch(end - 1, 1);
		for (const char *q = first; q < end && lines < ROW_LINES_MAX - 1;
		     q += LINE, lines++)
			__builtin_prefetch(q, 1);
	}
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

	/* The usual case: the partition set last is set again. */
	if (st->nmarks > 0 && st->marks[st->nmarks - 1].partition == partition) {
		st->marks[st->nmarks - 1].offset = offset;
		return;
	}

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
