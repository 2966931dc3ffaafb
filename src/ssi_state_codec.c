/*
 * ssi_state_codec: the compact binary form of one user's state, stored as
 * one Redis value per user.
 *
 * Framing, which every version keeps so that any build can tell a blob
 * written by a newer build from a damaged one (ssi_wire's frame, see
 * include/ssi_wire.h):
 *
 *   'S' 'I' | version u8 | body | CRC-32C (Castagnoli) u32 LE of all bytes before it
 *
 * The checksum is verified before the version is looked at: a blob whose
 * checksum holds and whose version is newer than SSI_STATE_VERSION is
 * -EPROTONOSUPPORT (the daemon must not overwrite it), while damage anywhere,
 * the version byte included, is -EBADMSG.
 *
 * Body of version 2, in this order. varint: unsigned LEB128 in its shortest
 * form, at most 10 bytes; zz: zigzag mapping, then varint; u64: 8 bytes LE.
 *
 *   recent    varint n (0..SSI_DEDUP_MAX); the first entry as zz at_ms, u64
 *             fp; each further one as varint at_ms increase over the one
 *             before, u64 fp; strictly ascending by (at_ms, fp).
 *   written   u8: bit 0 the profile register was written, bits 1..3 the
 *             tenant/team/industry segment registers were; bits 4..7 are 0.
 *             A register never written (at_ms INT64_MIN, value and fp empty)
 *             is absent, so INT64_MIN is never stored as a register's at_ms.
 *   profile   if written: key, u8 fields (bit 0 photo, 1 background photo,
 *             2 headline, 3 summary, 4 experience; bits 5..7 are 0), u8
 *             skills, u8 featured media.
 *   segments  each written one, in enum order: varint length (0..SSI_ID_MAX),
 *             the bytes (no NUL), key.
 *   links     varint slots: bit s for connections[s] != 0 (s below
 *             SSI_SEN__COUNT), bit SSI_SEN__COUNT for internal_connections
 *             != 0, no other bits; then per set bit, ascending, the non-zero
 *             value as zz (int32).
 *   marks     varint n (0..SSI_MARKS_MAX); per mark, in state order, zz
 *             partition (int32) and zz offset; partitions are distinct.
 *   rows      varint n (0..SSI_WINDOW_MAX_DAYS); per row its day (zz int32
 *             for the first, varint increase >= 1 for the others, staying in
 *             int32), varint mask (non-zero, no bit at or above
 *             SSI_C__COUNT), then per set bit, ascending, the count as a
 *             non-zero u8.
 *
 * A register's key (at_ms, fp) is usually that of an event still in recent,
 * or the same as an earlier register's (one event set them all), so it is a
 * varint ref: 1 + i for recent[i]; 1 + n + j for the j-th register written
 * before this one (profile, tenant, team, industry order); 0 for the key
 * inline after it, zz at_ms then u64 fp. The ref is the smallest that
 * names an equal key, 0 only when none does.
 *
 * Version 1 (older builds; still read, never written) has the same sections
 * in the order written, profile, segments, links, recent, marks, rows, and
 * every key inline without a ref.
 *
 * Every state has exactly one encoding of the current version and the
 * decoder accepts no other of it, so decode(encode(s)) equals s and
 * encode(decode(b)) is b byte for byte for any b of the current version.
 * The encoder refuses (-EINVAL) a state the decoder would refuse, so a
 * stored value always reads back.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ssi_state.h"
#include "ssi_wire.h"

#define WRITTEN_PROFILE	   0x01u
#define WRITTEN_SEGMENT(s) (0x02u << (s))
#define WRITTEN_ALL	   (WRITTEN_SEGMENT(SSI_SEG__COUNT) - 1)

#define PROFILE_FIELDS_ALL 0x1fu
/* The seniority slots, then one for same-company connections. */
#define LINK_SLOTS   (SSI_SEN__COUNT + 1)
#define ROW_MASK_ALL ((UINT32_C(1) << SSI_C__COUNT) - 1)
/* The fewest bytes a row takes: day increase, mask, one count. */
#define ROW_MIN_BYTES 3

static const struct ssi_wire_format state_format = {
    .magic = {'S', 'I'},
    .version = SSI_STATE_VERSION,
};

static uint8_t profile_fields(const struct ssi_profile *p)
{
	return (uint8_t)((p->photo ? 1u << 0 : 0) | (p->background_photo ? 1u << 1 : 0) |
			 (p->headline ? 1u << 2 : 0) | (p->summary ? 1u << 3 : 0) |
			 (p->experience ? 1u << 4 : 0));
}

static bool profile_is_blank(const struct ssi_profile *p)
{
	return profile_fields(p) == 0 && p->skills == 0 && p->featured_media == 0;
}

static uint32_t link_slots(const struct ssi_state *st)
{
	uint32_t slots = 0;

	for (int s = 0; s < SSI_SEN__COUNT; s++)
		if (st->connections[s] != 0)
			slots |= UINT32_C(1) << s;
	if (st->internal_connections != 0)
		slots |= UINT32_C(1) << SSI_SEN__COUNT;
	return slots;
}

static int32_t link_value(const struct ssi_state *st, int slot)
{
	return slot < SSI_SEN__COUNT ? st->connections[slot] : st->internal_connections;
}

/* A register never written must be blank too, or it would not survive as "absent". */
static bool segment_is_encodable(const struct ssi_state *st, int s)
{
	if (!memchr(st->segment[s], '\0', sizeof(st->segment[s])))
		return false;
	if (st->segment_key[s].at_ms == INT64_MIN)
		return st->segment[s][0] == '\0' && st->segment_key[s].fp == 0;
	return true;
}

static bool recent_is_encodable(const struct ssi_state *st)
{
	if (st->nrecent > SSI_DEDUP_MAX)
		return false;
	for (uint32_t i = 1; i < st->nrecent; i++) {
		const struct ssi_recent *prev = &st->recent[i - 1], *cur = &st->recent[i];

		if (cur->at_ms < prev->at_ms || (cur->at_ms == prev->at_ms && cur->fp <= prev->fp))
			return false;
	}
	return true;
}

static bool marks_are_encodable(const struct ssi_state *st)
{
	if (st->nmarks > SSI_MARKS_MAX)
		return false;
	for (uint32_t i = 0; i < st->nmarks; i++)
		for (uint32_t j = 0; j < i; j++)
			if (st->marks[i].partition == st->marks[j].partition)
				return false;
	return true;
}

/* Branch-free over the counters: this runs for every row of every state written. */
static bool row_is_encodable(const struct ssi_day_row *row)
{
	uint32_t nonzero = 0;

	for (int c = 0; c < SSI_C__COUNT; c++)
		nonzero |= (uint32_t)(row->count[c] != 0) << c;
	return row->mask != 0 && row->mask == nonzero;
}

static bool rows_are_encodable(const struct ssi_state *st)
{
	if (st->nrows > SSI_WINDOW_MAX_DAYS || (st->nrows > 0 && !st->rows))
		return false;
	for (uint32_t i = 0; i < st->nrows; i++) {
		if (!row_is_encodable(&st->rows[i]))
			return false;
		if (i > 0 && st->rows[i].day <= st->rows[i - 1].day)
			return false;
	}
	return true;
}

/*
 * The state's invariants, as far as the encoding relies on them: the encoder
 * checks them so that it never stores a value the decoder would refuse.
 */
static bool state_is_encodable(const struct ssi_state *st)
{
	if (st->profile_key.at_ms == INT64_MIN &&
	    (!profile_is_blank(&st->profile) || st->profile_key.fp != 0))
		return false;
	for (int s = 0; s < SSI_SEG__COUNT; s++)
		if (!segment_is_encodable(st, s))
			return false;
	return recent_is_encodable(st) && marks_are_encodable(st) && rows_are_encodable(st);
}

/* The keys a register's key may name: recent[], then the registers written before it. */
struct key_refs {
	const struct ssi_state *st;
	const struct ssi_lww *prior[1 + SSI_SEG__COUNT];
	uint32_t nprior;
};

static bool lww_is(const struct ssi_lww *key, int64_t at_ms, uint64_t fp)
{
	return key->at_ms == at_ms && key->fp == fp;
}

/* The smallest ref naming key (see the layout above); 0 when none does. */
static uint64_t key_ref(const struct key_refs *kr, const struct ssi_lww *key)
{
	const struct ssi_state *st = kr->st;

	for (uint32_t i = 0; i < st->nrecent; i++)
		if (lww_is(key, st->recent[i].at_ms, st->recent[i].fp))
			return 1 + (uint64_t)i;
	for (uint32_t j = 0; j < kr->nprior; j++)
		if (lww_is(key, kr->prior[j]->at_ms, kr->prior[j]->fp))
			return 1 + (uint64_t)st->nrecent + j;
	return 0;
}

static void put_key(struct ssi_wire_writer *w, struct key_refs *kr, const struct ssi_lww *key)
{
	uint64_t ref = key_ref(kr, key);

	ssi_wire_put_varint(w, ref);
	if (ref == 0) {
		ssi_wire_put_zigzag(w, key->at_ms);
		ssi_wire_put_u64le(w, key->fp);
	}
	kr->prior[kr->nprior++] = key;
}

static void put_registers(struct ssi_wire_writer *w, const struct ssi_state *st)
{
	struct key_refs kr = {.st = st};
	uint8_t written = 0;

	if (st->profile_key.at_ms != INT64_MIN)
		written |= WRITTEN_PROFILE;
	for (int s = 0; s < SSI_SEG__COUNT; s++)
		if (st->segment_key[s].at_ms != INT64_MIN)
			written |= WRITTEN_SEGMENT(s);
	ssi_wire_put_u8(w, written);

	if (written & WRITTEN_PROFILE) {
		put_key(w, &kr, &st->profile_key);
		ssi_wire_put_u8(w, profile_fields(&st->profile));
		ssi_wire_put_u8(w, st->profile.skills);
		ssi_wire_put_u8(w, st->profile.featured_media);
	}
	for (int s = 0; s < SSI_SEG__COUNT; s++) {
		size_t len;

		if (!(written & WRITTEN_SEGMENT(s)))
			continue;
		len = strlen(st->segment[s]);
		ssi_wire_put_varint(w, len);
		ssi_wire_put_bytes(w, st->segment[s], len);
		put_key(w, &kr, &st->segment_key[s]);
	}
}

static void put_links(struct ssi_wire_writer *w, const struct ssi_state *st)
{
	uint32_t slots = link_slots(st);

	ssi_wire_put_varint(w, slots);
	for (int slot = 0; slot < LINK_SLOTS; slot++)
		if (slots & (UINT32_C(1) << slot))
			ssi_wire_put_zigzag(w, link_value(st, slot));
}

static void put_recent(struct ssi_wire_writer *w, const struct ssi_state *st)
{
	ssi_wire_put_varint(w, st->nrecent);
	for (uint32_t i = 0; i < st->nrecent; i++) {
		if (i == 0)
			ssi_wire_put_zigzag(w, st->recent[0].at_ms);
		else
			ssi_wire_put_varint(w, (uint64_t)st->recent[i].at_ms -
						   (uint64_t)st->recent[i - 1].at_ms);
		ssi_wire_put_u64le(w, st->recent[i].fp);
	}
}

static void put_marks(struct ssi_wire_writer *w, const struct ssi_state *st)
{
	ssi_wire_put_varint(w, st->nmarks);
	for (uint32_t i = 0; i < st->nmarks; i++) {
		ssi_wire_put_zigzag(w, st->marks[i].partition);
		ssi_wire_put_zigzag(w, st->marks[i].offset);
	}
}

static void put_rows(struct ssi_wire_writer *w, const struct ssi_state *st)
{
	ssi_wire_put_varint(w, st->nrows);
	for (uint32_t i = 0; i < st->nrows; i++) {
		const struct ssi_day_row *row = &st->rows[i];

		if (i == 0)
			ssi_wire_put_zigzag(w, row->day);
		else
			ssi_wire_put_varint(w, (uint32_t)row->day - (uint32_t)st->rows[i - 1].day);
		ssi_wire_put_varint(w, row->mask);
		for (uint32_t m = row->mask; m != 0; m &= m - 1)
			ssi_wire_put_u8(w, row->count[__builtin_ctz(m)]);
	}
}

/* Everything but the checksum. */
static void put_state(struct ssi_wire_writer *w, const struct ssi_state *st)
{
	ssi_wire_put_header(w, &state_format);
	put_recent(w, st);
	put_registers(w, st);
	put_links(w, st);
	put_marks(w, st);
	put_rows(w, st);
}

size_t ssi_state_encoded_size(const struct ssi_state *st)
{
	struct ssi_wire_writer w = {0};

	if (!state_is_encodable(st))
		return 0;
	put_state(&w, st);
	return ssi_wire_framed_size(&w);
}

long ssi_state_encode(const struct ssi_state *st, uint8_t *buf, size_t cap)
{
	struct ssi_wire_writer w = {.buf = buf, .cap = cap};

	if (!state_is_encodable(st))
		return -EINVAL;
	put_state(&w, st);
	return ssi_wire_put_trailer(&w);
}

/*
 * A written register's key: inline (version 1, or ref 0) or named by its ref
 * (kr NULL in version 1). INT64_MIN would mean "never written"; a ref must be
 * the smallest naming the key, and ref 0 means no ref could.
 */
static int get_key(struct ssi_wire_reader *r, struct key_refs *kr, struct ssi_lww *key)
{
	uint64_t ref = 0;

	if (kr && ssi_wire_get_varint_max(r, (uint64_t)kr->st->nrecent + kr->nprior, &ref) < 0)
		return -EBADMSG;
	if (ref == 0) {
		if (ssi_wire_get_zigzag(r, &key->at_ms) < 0 || ssi_wire_get_u64le(r, &key->fp) < 0)
			return -EBADMSG;
	} else if (ref <= kr->st->nrecent) {
		*key = (struct ssi_lww){kr->st->recent[ref - 1].at_ms, kr->st->recent[ref - 1].fp};
	} else {
		*key = *kr->prior[ref - 1 - kr->st->nrecent];
	}
	if (key->at_ms == INT64_MIN || (kr && key_ref(kr, key) != ref))
		return -EBADMSG;
	if (kr)
		kr->prior[kr->nprior++] = key;
	return 0;
}

static int get_profile(struct ssi_wire_reader *r, struct key_refs *kr, struct ssi_state *st)
{
	uint8_t fields;

	if (get_key(r, kr, &st->profile_key) < 0 || ssi_wire_get_u8(r, &fields) < 0 ||
	    ssi_wire_get_u8(r, &st->profile.skills) < 0 ||
	    ssi_wire_get_u8(r, &st->profile.featured_media) < 0)
		return -EBADMSG;
	if (fields & ~PROFILE_FIELDS_ALL)
		return -EBADMSG;
	st->profile.photo = fields & (1u << 0);
	st->profile.background_photo = fields & (1u << 1);
	st->profile.headline = fields & (1u << 2);
	st->profile.summary = fields & (1u << 3);
	st->profile.experience = fields & (1u << 4);
	return 0;
}

static int get_segment(struct ssi_wire_reader *r, struct key_refs *kr, struct ssi_state *st, int s)
{
	const uint8_t *bytes;
	uint64_t len;

	if (ssi_wire_get_varint_max(r, SSI_ID_MAX, &len) < 0 ||
	    ssi_wire_get_bytes(r, len, &bytes) < 0 || memchr(bytes, '\0', len))
		return -EBADMSG;
	memcpy(st->segment[s], bytes, len);
	st->segment[s][len] = '\0';
	return get_key(r, kr, &st->segment_key[s]);
}

/* kr NULL: version 1's inline keys. */
static int get_registers(struct ssi_wire_reader *r, struct key_refs *kr, struct ssi_state *st)
{
	uint8_t written;

	if (ssi_wire_get_u8(r, &written) < 0 || (written & ~WRITTEN_ALL) != 0)
		return -EBADMSG;
	if ((written & WRITTEN_PROFILE) && get_profile(r, kr, st) < 0)
		return -EBADMSG;
	for (int s = 0; s < SSI_SEG__COUNT; s++)
		if ((written & WRITTEN_SEGMENT(s)) && get_segment(r, kr, st, s) < 0)
			return -EBADMSG;
	return 0;
}

static int get_links(struct ssi_wire_reader *r, struct ssi_state *st)
{
	uint64_t slots;

	if (ssi_wire_get_varint_max(r, (UINT64_C(1) << LINK_SLOTS) - 1, &slots) < 0)
		return -EBADMSG;
	for (int slot = 0; slot < LINK_SLOTS; slot++) {
		int32_t v;

		if (!(slots & (UINT64_C(1) << slot)))
			continue;
		if (ssi_wire_get_zigzag32(r, &v) < 0 || v == 0)
			return -EBADMSG;
		if (slot < SSI_SEN__COUNT)
			st->connections[slot] = v;
		else
			st->internal_connections = v;
	}
	return 0;
}

static int get_recent(struct ssi_wire_reader *r, struct ssi_state *st)
{
	uint64_t n;

	if (ssi_wire_get_varint_max(r, SSI_DEDUP_MAX, &n) < 0)
		return -EBADMSG;
	for (uint32_t i = 0; i < n; i++) {
		struct ssi_recent *cur = &st->recent[i];

		if (i == 0) {
			if (ssi_wire_get_zigzag(r, &cur->at_ms) < 0)
				return -EBADMSG;
		} else {
			const struct ssi_recent *prev = &st->recent[i - 1];
			uint64_t delta;

			/* In modular arithmetic this is exactly INT64_MAX - prev->at_ms. */
			if (ssi_wire_get_varint_max(r, (uint64_t)INT64_MAX - (uint64_t)prev->at_ms,
						    &delta) < 0)
				return -EBADMSG;
			cur->at_ms = (int64_t)((uint64_t)prev->at_ms + delta);
		}
		if (ssi_wire_get_u64le(r, &cur->fp) < 0)
			return -EBADMSG;
		if (i > 0 && cur->at_ms == st->recent[i - 1].at_ms &&
		    cur->fp <= st->recent[i - 1].fp)
			return -EBADMSG;
	}
	st->nrecent = (uint32_t)n;
	return 0;
}

static int get_marks(struct ssi_wire_reader *r, struct ssi_state *st)
{
	uint64_t n;

	if (ssi_wire_get_varint_max(r, SSI_MARKS_MAX, &n) < 0)
		return -EBADMSG;
	for (uint32_t i = 0; i < n; i++) {
		if (ssi_wire_get_zigzag32(r, &st->marks[i].partition) < 0 ||
		    ssi_wire_get_zigzag(r, &st->marks[i].offset) < 0)
			return -EBADMSG;
		for (uint32_t j = 0; j < i; j++)
			if (st->marks[j].partition == st->marks[i].partition)
				return -EBADMSG;
	}
	st->nmarks = (uint32_t)n;
	return 0;
}

static int get_row(struct ssi_wire_reader *r, struct ssi_day_row *row)
{
	const uint8_t *counts;
	uint64_t mask;

	if (ssi_wire_get_varint_max(r, ROW_MASK_ALL, &mask) < 0 || mask == 0)
		return -EBADMSG;
	row->mask = (uint32_t)mask;
	if (ssi_wire_get_bytes(r, (size_t)__builtin_popcount(row->mask), &counts) < 0)
		return -EBADMSG;
	for (uint32_t m = row->mask; m != 0; m &= m - 1) {
		uint8_t count = *counts++;

		if (count == 0)
			return -EBADMSG;
		row->count[__builtin_ctz(m)] = count;
	}
	return 0;
}

/* The row count is checked against the bytes left before anything is allocated. */
static int get_rows(struct ssi_wire_reader *r, struct ssi_state *st)
{
	uint64_t n;

	if (ssi_wire_get_varint_max(r, SSI_WINDOW_MAX_DAYS, &n) < 0 ||
	    ssi_wire_left(r) / ROW_MIN_BYTES < n)
		return -EBADMSG;
	if (n == 0)
		return 0;
	st->rows = calloc(n, sizeof(*st->rows));
	if (!st->rows)
		return -ENOMEM;
	st->nrows = st->rows_cap = (uint32_t)n;
	for (uint32_t i = 0; i < n; i++) {
		struct ssi_day_row *row = &st->rows[i];

		if (i == 0) {
			if (ssi_wire_get_zigzag32(r, &row->day) < 0)
				return -EBADMSG;
		} else {
			int32_t prev = st->rows[i - 1].day;
			uint64_t delta;

			if (ssi_wire_get_varint_max(
				r, (uint64_t)INT32_MAX - (uint64_t)(int64_t)prev, &delta) < 0 ||
			    delta == 0)
				return -EBADMSG;
			row->day = (int32_t)(prev + (int64_t)delta);
		}
		if (get_row(r, row) < 0)
			return -EBADMSG;
	}
	return 0;
}

static int get_body(struct ssi_wire_reader *r, int version, struct ssi_state *st)
{
	struct key_refs kr = {.st = st};
	int ret;

	if (version == 1) {
		if (get_registers(r, NULL, st) < 0 || get_links(r, st) < 0 || get_recent(r, st) < 0)
			return -EBADMSG;
	} else if (get_recent(r, st) < 0 || get_registers(r, &kr, st) < 0 || get_links(r, st) < 0) {
		return -EBADMSG;
	}
	if (get_marks(r, st) < 0)
		return -EBADMSG;
	ret = get_rows(r, st);
	if (ret < 0)
		return ret;
	return ssi_wire_left(r) == 0 ? 0 : -EBADMSG;
}

int ssi_state_decode(struct ssi_state *st, const uint8_t *buf, size_t len)
{
	struct ssi_wire_reader r;
	int ret;

	ssi_state_clear(st);
	ret = ssi_wire_open(&state_format, buf, len, &r);
	if (ret < 0)
		return ret;
	ret = get_body(&r, ret, st);
	if (ret < 0)
		ssi_state_clear(st);
	return ret;
}
