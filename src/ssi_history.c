/*
 * ssi_history: a rep's daily score history and its compact binary form,
 * stored as one Redis value per rep.
 *
 * Framing, kept by every version so that any build tells a blob written by a
 * newer build from a damaged one (ssi_wire's frame, as the state codec's;
 * see include/ssi_wire.h):
 *
 *   'S' 'H' | version u8 | body | CRC-32C (Castagnoli) u32 LE of all bytes before it
 *
 * The checksum is verified before the version is looked at: a blob whose
 * checksum holds and whose version is newer than SSI_HISTORY_VERSION is
 * -EPROTONOSUPPORT, while damage anywhere, the version byte included, is
 * -EBADMSG.
 *
 * Body of version 1. varint: unsigned LEB128 in its shortest form; zz:
 * zigzag mapping, then varint.
 *
 *   n         varint, 0..SSI_HISTORY_RETENTION_MAX snapshots
 *   first     if n > 0: varint day of the first snapshot (0..SSI_HISTORY_DAY_MAX)
 *   snapshots n of them, ascending by day:
 *             varint head = (gap - 1) << 4 | changed, where gap >= 1 is the
 *             day increase over the snapshot before (the first snapshot has
 *             no gap: its head is changed alone), and changed has bit p set
 *             when pillar p differs from the snapshot before (for the first,
 *             from 0); then per set bit, ascending, the non-zero difference
 *             as zz. Pillars stay in 0..SSI_HISTORY_PILLAR_MAX; the total is
 *             their sum and is not stored. The last day minus the first is
 *             below SSI_HISTORY_RETENTION_MAX.
 *
 * A day with a snapshot equal to the one before takes a single byte when the
 * gap is at most 8 days; a typical daily move of one or two pillars by under
 * 0.64 points takes two or three. Every history has exactly one encoding and
 * the decoder accepts nothing else, so decode(encode(h)) equals h and
 * encode(decode(b)) is b byte for byte.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ssi_array.h"
#include "ssi_history.h"
#include "ssi_wire.h"

#define CHANGED_BITS 4
#define CHANGED_ALL  ((1u << SSI_PILLAR__COUNT) - 1)
/* The largest head: the longest gap a valid history can have, every pillar changed. */
#define HEAD_MAX     ((uint64_t)(SSI_HISTORY_RETENTION_MAX - 2) << CHANGED_BITS | CHANGED_ALL)
#define DELTA_ZZ_MAX (2 * SSI_HISTORY_PILLAR_MAX)
#define INITIAL_CAP  16

static const struct ssi_wire_format history_format = {
    .magic = {'S', 'H'},
    .version = SSI_HISTORY_VERSION,
};

void ssi_history_init(struct ssi_history *h)
{
	*h = (struct ssi_history){.retention_days = SSI_HISTORY_RETENTION_DEFAULT};
}

void ssi_history_clear(struct ssi_history *h)
{
	if (!h)
		return;
	free(h->entries);
	h->entries = NULL;
	h->n = h->cap = 0;
}

static bool retention_is_valid(int retention_days)
{
	return retention_days >= 1 && retention_days <= SSI_HISTORY_RETENTION_MAX;
}

static bool day_is_valid(int64_t day)
{
	return day >= SSI_HISTORY_DAY_MIN && day <= SSI_HISTORY_DAY_MAX;
}

int ssi_history_set_retention(struct ssi_history *h, int retention_days)
{
	if (!retention_is_valid(retention_days))
		return -EINVAL;
	h->retention_days = retention_days;
	return 0;
}

static bool score_is_valid(const struct ssi_score *sc)
{
	int sum = 0;

	for (int p = 0; p < SSI_PILLAR__COUNT; p++) {
		if (sc->pillar[p] < 0 || sc->pillar[p] > SSI_HISTORY_PILLAR_MAX)
			return false;
		sum += sc->pillar[p];
	}
	return sum == sc->total;
}

static bool score_equal(const struct ssi_score *a, const struct ssi_score *b)
{
	for (int p = 0; p < SSI_PILLAR__COUNT; p++)
		if (a->pillar[p] != b->pillar[p])
			return false;
	return a->total == b->total;
}

bool ssi_history_equal(const struct ssi_history *a, const struct ssi_history *b)
{
	if (a->n != b->n)
		return false;
	for (uint32_t i = 0; i < a->n; i++)
		if (a->entries[i].day != b->entries[i].day ||
		    !score_equal(&a->entries[i].score, &b->entries[i].score))
			return false;
	return true;
}

/* Index of the first snapshot on or after day (n when there is none). */
static uint32_t lower_bound(const struct ssi_history *h, int64_t day)
{
	uint32_t lo = 0, hi = h->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (h->entries[mid].day < day)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Index of the snapshot in effect on day, or -1 before the first one. */
static long in_effect(const struct ssi_history *h, int32_t day)
{
	return (long)lower_bound(h, (int64_t)day + 1) - 1;
}

/*
 * The snapshot in effect on cutoff survives, moved onto cutoff, so that the
 * score of every day from cutoff on is the same before and after.
 */
static bool drop_before(struct ssi_history *h, int64_t cutoff)
{
	uint32_t first_kept = lower_bound(h, cutoff), drop;

	if (first_kept == 0)
		return false;
	if (first_kept < h->n && h->entries[first_kept].day == cutoff) {
		drop = first_kept;
	} else {
		drop = first_kept - 1;
		h->entries[drop].day = (int32_t)cutoff;
	}
	memmove(h->entries, h->entries + drop, (h->n - drop) * sizeof(*h->entries));
	h->n -= drop;
	return true;
}

int ssi_history_compact(struct ssi_history *h, int32_t today, int retention_days)
{
	if (!retention_is_valid(retention_days) || !day_is_valid(today))
		return -EINVAL;
	return drop_before(h, (int64_t)today - retention_days + 1);
}

static int reserve_one(struct ssi_history *h)
{
	size_t cap = h->cap;
	int r = SSI_GROW(h->entries, &cap, (size_t)h->n + 1, INITIAL_CAP);

	h->cap = (uint32_t)cap;
	return r;
}

bool ssi_history_snapshot_is_valid(int32_t day, const struct ssi_score *score)
{
	return day_is_valid(day) && score_is_valid(score);
}

int ssi_history_record(struct ssi_history *h, int32_t day, const struct ssi_score *score)
{
	int64_t newest, cutoff;
	uint32_t at;
	bool present;

	if (!ssi_history_snapshot_is_valid(day, score) || !retention_is_valid(h->retention_days))
		return -EINVAL;
	newest = h->n > 0 && h->entries[h->n - 1].day > day ? h->entries[h->n - 1].day : day;
	cutoff = newest - h->retention_days + 1;
	/* Too old to keep; the retention may still have shrunk since the last record. */
	if (day < cutoff)
		return drop_before(h, cutoff);

	at = lower_bound(h, day);
	present = at < h->n && h->entries[at].day == day;
	if (present && score_equal(&h->entries[at].score, score))
		return drop_before(h, cutoff);
	/* Grow before touching anything, so that a failure leaves h as it was. */
	if (!present && reserve_one(h) < 0)
		return -ENOMEM;
	if (!present) {
		memmove(h->entries + at + 1, h->entries + at, (h->n - at) * sizeof(*h->entries));
		h->n++;
	}
	h->entries[at] = (struct ssi_history_entry){.day = day, .score = *score};
	drop_before(h, cutoff);
	return 1;
}

int ssi_history_at(const struct ssi_history *h, int32_t day, struct ssi_score *out)
{
	long i = in_effect(h, day);

	if (i < 0)
		return -ENOENT;
	*out = h->entries[i].score;
	return 0;
}

long ssi_history_get(const struct ssi_history *h, int32_t from_day, int32_t to_day,
		     struct ssi_history_entry *out, size_t cap)
{
	int64_t start, count;
	long i;

	if (from_day > to_day)
		return -EINVAL;
	if (h->n == 0)
		return 0;
	start = from_day > h->entries[0].day ? from_day : h->entries[0].day;
	if (start > to_day)
		return 0;
	count = (int64_t)to_day - start + 1;
	i = in_effect(h, (int32_t)start);
	for (int64_t k = 0; k < count && (uint64_t)k < cap; k++) {
		int64_t day = start + k;

		while ((uint32_t)(i + 1) < h->n && h->entries[i + 1].day <= day)
			i++;
		out[k] =
		    (struct ssi_history_entry){.day = (int32_t)day, .score = h->entries[i].score};
	}
	return (long)count;
}

int ssi_history_max_since(const struct ssi_history *h, int32_t from_day)
{
	long first = in_effect(h, from_day);
	int best = -ENOENT;

	for (uint32_t i = first < 0 ? 0 : (uint32_t)first; i < h->n; i++)
		if (h->entries[i].score.total > best)
			best = h->entries[i].score.total;
	return best;
}

/*
 * The history's invariants, as far as the encoding relies on them: the
 * encoder checks them so that it never stores a value the decoder refuses.
 */
static bool history_is_encodable(const struct ssi_history *h)
{
	if (h->n == 0)
		return true;
	if (!h->entries || h->n > SSI_HISTORY_RETENTION_MAX)
		return false;
	for (uint32_t i = 0; i < h->n; i++) {
		if (!day_is_valid(h->entries[i].day) || !score_is_valid(&h->entries[i].score))
			return false;
		if (i > 0 && h->entries[i].day <= h->entries[i - 1].day)
			return false;
	}
	return (int64_t)h->entries[h->n - 1].day - h->entries[0].day < SSI_HISTORY_RETENTION_MAX;
}

static void put_snapshot(struct ssi_wire_writer *w, const struct ssi_history_entry *prev,
			 const struct ssi_history_entry *cur)
{
	static const struct ssi_score zero;
	const struct ssi_score *base = prev ? &prev->score : &zero;
	uint64_t gap = prev ? (uint64_t)(cur->day - prev->day) : 1;
	unsigned changed = 0;

	for (int p = 0; p < SSI_PILLAR__COUNT; p++)
		if (cur->score.pillar[p] != base->pillar[p])
			changed |= 1u << p;
	ssi_wire_put_varint(w, (gap - 1) << CHANGED_BITS | changed);
	for (int p = 0; p < SSI_PILLAR__COUNT; p++)
		if (changed & (1u << p))
			ssi_wire_put_varint(
			    w, ssi_wire_zigzag(cur->score.pillar[p] - base->pillar[p]));
}

/* Everything but the checksum. */
static void put_history(struct ssi_wire_writer *w, const struct ssi_history *h)
{
	ssi_wire_put_header(w, &history_format);
	ssi_wire_put_varint(w, h->n);
	if (h->n > 0)
		ssi_wire_put_varint(w, (uint64_t)h->entries[0].day);
	for (uint32_t i = 0; i < h->n; i++)
		put_snapshot(w, i > 0 ? &h->entries[i - 1] : NULL, &h->entries[i]);
}

size_t ssi_history_encoded_size(const struct ssi_history *h)
{
	struct ssi_wire_writer w = {0};

	if (!history_is_encodable(h))
		return 0;
	put_history(&w, h);
	return ssi_wire_framed_size(&w);
}

long ssi_history_encode(const struct ssi_history *h, uint8_t *buf, size_t cap)
{
	struct ssi_wire_writer w = {.buf = buf, .cap = cap};

	if (!history_is_encodable(h))
		return -EINVAL;
	put_history(&w, h);
	return ssi_wire_put_trailer(&w);
}

static int get_snapshot(struct ssi_wire_reader *r, const struct ssi_history_entry *prev,
			struct ssi_history_entry *cur)
{
	static const struct ssi_score zero;
	const struct ssi_score *base = prev ? &prev->score : &zero;
	uint64_t head, gap;
	unsigned changed;

	if (ssi_wire_get_varint_max(r, prev ? HEAD_MAX : CHANGED_ALL, &head) < 0)
		return -EBADMSG;
	changed = (unsigned)(head & CHANGED_ALL);
	gap = (head >> CHANGED_BITS) + 1;
	if (prev) {
		if ((int64_t)prev->day + (int64_t)gap > SSI_HISTORY_DAY_MAX)
			return -EBADMSG;
		cur->day = prev->day + (int32_t)gap;
	}
	cur->score.total = 0;
	for (int p = 0; p < SSI_PILLAR__COUNT; p++) {
		uint64_t zz;
		int pillar = base->pillar[p];

		if (changed & (1u << p)) {
			if (ssi_wire_get_varint_max(r, DELTA_ZZ_MAX, &zz) < 0 || zz == 0)
				return -EBADMSG;
			pillar += (int)ssi_wire_unzigzag(zz);
			if (pillar < 0 || pillar > SSI_HISTORY_PILLAR_MAX)
				return -EBADMSG;
		}
		cur->score.pillar[p] = pillar;
		cur->score.total += pillar;
	}
	return 0;
}

/* The count is checked against the bytes left (a snapshot takes one at least) before allocating. */
static int get_body(struct ssi_wire_reader *r, struct ssi_history *h)
{
	uint64_t n, first_day;

	if (ssi_wire_get_varint_max(r, SSI_HISTORY_RETENTION_MAX, &n) < 0)
		return -EBADMSG;
	if (n == 0)
		return ssi_wire_left(r) == 0 ? 0 : -EBADMSG;
	if (ssi_wire_get_varint_max(r, SSI_HISTORY_DAY_MAX, &first_day) < 0 || ssi_wire_left(r) < n)
		return -EBADMSG;
	h->entries = calloc(n, sizeof(*h->entries));
	if (!h->entries)
		return -ENOMEM;
	h->cap = (uint32_t)n;
	h->entries[0].day = (int32_t)first_day;
	for (uint32_t i = 0; i < n; i++) {
		if (get_snapshot(r, i > 0 ? &h->entries[i - 1] : NULL, &h->entries[i]) < 0)
			return -EBADMSG;
		h->n = i + 1;
	}
	if ((int64_t)h->entries[n - 1].day - h->entries[0].day >= SSI_HISTORY_RETENTION_MAX)
		return -EBADMSG;
	return ssi_wire_left(r) == 0 ? 0 : -EBADMSG;
}

int ssi_history_decode(struct ssi_history *h, const uint8_t *buf, size_t len)
{
	struct ssi_wire_reader r;
	int ret;

	ssi_history_clear(h);
	ret = ssi_wire_open(&history_format, buf, len, &r);
	if (ret < 0)
		return ret;
	ret = get_body(&r, h);
	if (ret < 0)
		ssi_history_clear(h);
	return ret;
}
