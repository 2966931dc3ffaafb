/*
 * ssi_state_codec: the compact binary form of one user's state, stored as
 * one Redis value per user.
 *
 * Framing, which every version keeps so that any build can tell a blob
 * written by a newer build from a damaged one:
 *
 *   'S' 'I' | version u8 | body | CRC-32C (Castagnoli) u32 LE of all bytes before it
 *
 * The checksum is verified before the version is looked at: a blob whose
 * checksum holds and whose version is newer than SSI_STATE_VERSION is
 * -EPROTONOSUPPORT (the daemon must not overwrite it), while damage anywhere,
 * the version byte included, is -EBADMSG.
 *
 * Body of version 1, in this order. varint: unsigned LEB128 in its shortest
 * form, at most 10 bytes; zz: zigzag mapping, then varint; u64: 8 bytes LE.
 *
 *   written   u8: bit 0 the profile register was written, bits 1..3 the
 *             tenant/team/industry segment registers were; bits 4..7 are 0.
 *             A register never written (at_ms INT64_MIN, value and fp empty)
 *             is absent, so INT64_MIN is never stored as a register's at_ms.
 *   profile   if written: zz at_ms, u64 fp, u8 fields (bit 0 photo, 1
 *             background photo, 2 headline, 3 summary, 4 experience; bits
 *             5..7 are 0), u8 skills, u8 featured media.
 *   segments  each written one, in enum order: varint length (0..SSI_ID_MAX),
 *             the bytes (no NUL), zz at_ms, u64 fp.
 *   links     varint slots: bit s for connections[s] != 0 (s below
 *             SSI_SEN__COUNT), bit SSI_SEN__COUNT for internal_connections
 *             != 0, no other bits; then per set bit, ascending, the non-zero
 *             value as zz (int32).
 *   recent    varint n (0..SSI_DEDUP_MAX); the first entry as zz at_ms, u64
 *             fp; each further one as varint at_ms increase over the one
 *             before, u64 fp; strictly ascending by (at_ms, fp).
 *   marks     varint n (0..SSI_MARKS_MAX); per mark, in state order, zz
 *             partition (int32) and zz offset; partitions are distinct.
 *   rows      varint n (0..SSI_WINDOW_MAX_DAYS); per row its day (zz int32
 *             for the first, varint increase >= 1 for the others, staying in
 *             int32), varint mask (non-zero, no bit at or above
 *             SSI_C__COUNT), then per set bit, ascending, the count as a
 *             non-zero u8.
 *
 * Every state has exactly one encoding and the decoder accepts nothing else,
 * so decode(encode(s)) equals s and encode(decode(b)) is b byte for byte.
 * The encoder refuses (-EINVAL) a state the decoder would refuse, so a
 * stored value always reads back.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ssi_state.h"

#define MAGIC_0		 'S'
#define MAGIC_1		 'I'
#define HEADER_BYTES	 3
#define CRC_BYTES	 4
#define VARINT_MAX_BYTES 10

#define WRITTEN_PROFILE	   0x01u
#define WRITTEN_SEGMENT(s) (0x02u << (s))
#define WRITTEN_ALL	   (WRITTEN_SEGMENT(SSI_SEG__COUNT) - 1)

#define PROFILE_FIELDS_ALL 0x1fu
/* The seniority slots, then one for same-company connections. */
#define LINK_SLOTS   (SSI_SEN__COUNT + 1)
#define ROW_MASK_ALL ((UINT32_C(1) << SSI_C__COUNT) - 1)
/* The fewest bytes a row takes: day increase, mask, one count. */
#define ROW_MIN_BYTES 3

/* Reflected polynomial 0x82F63B78; the unit tests recompute it bit by bit. */
static const uint32_t crc32c_table[256] = {
    0x00000000, 0xf26b8303, 0xe13b70f7, 0x1350f3f4, 0xc79a971f, 0x35f1141c, 0x26a1e7e8, 0xd4ca64eb,
    0x8ad958cf, 0x78b2dbcc, 0x6be22838, 0x9989ab3b, 0x4d43cfd0, 0xbf284cd3, 0xac78bf27, 0x5e133c24,
    0x105ec76f, 0xe235446c, 0xf165b798, 0x030e349b, 0xd7c45070, 0x25afd373, 0x36ff2087, 0xc494a384,
    0x9a879fa0, 0x68ec1ca3, 0x7bbcef57, 0x89d76c54, 0x5d1d08bf, 0xaf768bbc, 0xbc267848, 0x4e4dfb4b,
    0x20bd8ede, 0xd2d60ddd, 0xc186fe29, 0x33ed7d2a, 0xe72719c1, 0x154c9ac2, 0x061c6936, 0xf477ea35,
    0xaa64d611, 0x580f5512, 0x4b5fa6e6, 0xb93425e5, 0x6dfe410e, 0x9f95c20d, 0x8cc531f9, 0x7eaeb2fa,
    0x30e349b1, 0xc288cab2, 0xd1d83946, 0x23b3ba45, 0xf779deae, 0x05125dad, 0x1642ae59, 0xe4292d5a,
    0xba3a117e, 0x4851927d, 0x5b016189, 0xa96ae28a, 0x7da08661, 0x8fcb0562, 0x9c9bf696, 0x6ef07595,
    0x417b1dbc, 0xb3109ebf, 0xa0406d4b, 0x522bee48, 0x86e18aa3, 0x748a09a0, 0x67dafa54, 0x95b17957,
    0xcba24573, 0x39c9c670, 0x2a993584, 0xd8f2b687, 0x0c38d26c, 0xfe53516f, 0xed03a29b, 0x1f682198,
    0x5125dad3, 0xa34e59d0, 0xb01eaa24, 0x42752927, 0x96bf4dcc, 0x64d4cecf, 0x77843d3b, 0x85efbe38,
    0xdbfc821c, 0x2997011f, 0x3ac7f2eb, 0xc8ac71e8, 0x1c661503, 0xee0d9600, 0xfd5d65f4, 0x0f36e6f7,
    0x61c69362, 0x93ad1061, 0x80fde395, 0x72966096, 0xa65c047d, 0x5437877e, 0x4767748a, 0xb50cf789,
    0xeb1fcbad, 0x197448ae, 0x0a24bb5a, 0xf84f3859, 0x2c855cb2, 0xdeeedfb1, 0xcdbe2c45, 0x3fd5af46,
    0x7198540d, 0x83f3d70e, 0x90a324fa, 0x62c8a7f9, 0xb602c312, 0x44694011, 0x5739b3e5, 0xa55230e6,
    0xfb410cc2, 0x092a8fc1, 0x1a7a7c35, 0xe811ff36, 0x3cdb9bdd, 0xceb018de, 0xdde0eb2a, 0x2f8b6829,
    0x82f63b78, 0x709db87b, 0x63cd4b8f, 0x91a6c88c, 0x456cac67, 0xb7072f64, 0xa457dc90, 0x563c5f93,
    0x082f63b7, 0xfa44e0b4, 0xe9141340, 0x1b7f9043, 0xcfb5f4a8, 0x3dde77ab, 0x2e8e845f, 0xdce5075c,
    0x92a8fc17, 0x60c37f14, 0x73938ce0, 0x81f80fe3, 0x55326b08, 0xa759e80b, 0xb4091bff, 0x466298fc,
    0x1871a4d8, 0xea1a27db, 0xf94ad42f, 0x0b21572c, 0xdfeb33c7, 0x2d80b0c4, 0x3ed04330, 0xccbbc033,
    0xa24bb5a6, 0x502036a5, 0x4370c551, 0xb11b4652, 0x65d122b9, 0x97baa1ba, 0x84ea524e, 0x7681d14d,
    0x2892ed69, 0xdaf96e6a, 0xc9a99d9e, 0x3bc21e9d, 0xef087a76, 0x1d63f975, 0x0e330a81, 0xfc588982,
    0xb21572c9, 0x407ef1ca, 0x532e023e, 0xa145813d, 0x758fe5d6, 0x87e466d5, 0x94b49521, 0x66df1622,
    0x38cc2a06, 0xcaa7a905, 0xd9f75af1, 0x2b9cd9f2, 0xff56bd19, 0x0d3d3e1a, 0x1e6dcdee, 0xec064eed,
    0xc38d26c4, 0x31e6a5c7, 0x22b65633, 0xd0ddd530, 0x0417b1db, 0xf67c32d8, 0xe52cc12c, 0x1747422f,
    0x49547e0b, 0xbb3ffd08, 0xa86f0efc, 0x5a048dff, 0x8ecee914, 0x7ca56a17, 0x6ff599e3, 0x9d9e1ae0,
    0xd3d3e1ab, 0x21b862a8, 0x32e8915c, 0xc083125f, 0x144976b4, 0xe622f5b7, 0xf5720643, 0x07198540,
    0x590ab964, 0xab613a67, 0xb831c993, 0x4a5a4a90, 0x9e902e7b, 0x6cfbad78, 0x7fab5e8c, 0x8dc0dd8f,
    0xe330a81a, 0x115b2b19, 0x020bd8ed, 0xf0605bee, 0x24aa3f05, 0xd6c1bc06, 0xc5914ff2, 0x37faccf1,
    0x69e9f0d5, 0x9b8273d6, 0x88d28022, 0x7ab90321, 0xae7367ca, 0x5c18e4c9, 0x4f48173d, 0xbd23943e,
    0xf36e6f75, 0x0105ec76, 0x12551f82, 0xe03e9c81, 0x34f4f86a, 0xc69f7b69, 0xd5cf889d, 0x27a40b9e,
    0x79b737ba, 0x8bdcb4b9, 0x988c474d, 0x6ae7c44e, 0xbe2da0a5, 0x4c4623a6, 0x5f16d052, 0xad7d5351,
};

uint32_t ssi_crc32c(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t crc = UINT32_MAX;

	for (size_t i = 0; i < len; i++)
		crc = crc32c_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
	return crc ^ UINT32_MAX;
}

static uint64_t zigzag_encode(int64_t v)
{
	return ((uint64_t)v << 1) ^ (v < 0 ? UINT64_MAX : 0);
}

static int64_t zigzag_decode(uint64_t u)
{
	return (int64_t)((u >> 1) ^ (0 - (u & 1)));
}

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

static bool row_is_encodable(const struct ssi_day_row *row)
{
	if (row->mask == 0 || (row->mask & ~ROW_MASK_ALL) != 0)
		return false;
	for (int c = 0; c < SSI_C__COUNT; c++)
		if ((row->count[c] != 0) != ((row->mask >> c) & 1))
			return false;
	return true;
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

/*
 * Counts every byte but stores only those that fit, so one pass serves both
 * to measure a state and to encode it.
 */
struct writer {
	uint8_t *buf;
	size_t cap;
	size_t len;
};

static void put_u8(struct writer *w, uint8_t b)
{
	if (w->len < w->cap)
		w->buf[w->len] = b;
	w->len++;
}

static void put_bytes(struct writer *w, const void *src, size_t n)
{
	if (w->len < w->cap && n <= w->cap - w->len)
		memcpy(w->buf + w->len, src, n);
	w->len += n;
}

static void put_varint(struct writer *w, uint64_t v)
{
	while (v >= 0x80) {
		put_u8(w, (uint8_t)(v | 0x80));
		v >>= 7;
	}
	put_u8(w, (uint8_t)v);
}

static void put_zigzag(struct writer *w, int64_t v)
{
	put_varint(w, zigzag_encode(v));
}

static void put_u64le(struct writer *w, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		put_u8(w, (uint8_t)(v >> (8 * i)));
}

static void put_u32le(struct writer *w, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		put_u8(w, (uint8_t)(v >> (8 * i)));
}

static void put_registers(struct writer *w, const struct ssi_state *st)
{
	uint8_t written = 0;

	if (st->profile_key.at_ms != INT64_MIN)
		written |= WRITTEN_PROFILE;
	for (int s = 0; s < SSI_SEG__COUNT; s++)
		if (st->segment_key[s].at_ms != INT64_MIN)
			written |= WRITTEN_SEGMENT(s);
	put_u8(w, written);

	if (written & WRITTEN_PROFILE) {
		put_zigzag(w, st->profile_key.at_ms);
		put_u64le(w, st->profile_key.fp);
		put_u8(w, profile_fields(&st->profile));
		put_u8(w, st->profile.skills);
		put_u8(w, st->profile.featured_media);
	}
	for (int s = 0; s < SSI_SEG__COUNT; s++) {
		size_t len;

		if (!(written & WRITTEN_SEGMENT(s)))
			continue;
		len = strlen(st->segment[s]);
		put_varint(w, len);
		put_bytes(w, st->segment[s], len);
		put_zigzag(w, st->segment_key[s].at_ms);
		put_u64le(w, st->segment_key[s].fp);
	}
}

static void put_links(struct writer *w, const struct ssi_state *st)
{
	uint32_t slots = link_slots(st);

	put_varint(w, slots);
	for (int slot = 0; slot < LINK_SLOTS; slot++)
		if (slots & (UINT32_C(1) << slot))
			put_zigzag(w, link_value(st, slot));
}

static void put_recent(struct writer *w, const struct ssi_state *st)
{
	put_varint(w, st->nrecent);
	for (uint32_t i = 0; i < st->nrecent; i++) {
		if (i == 0)
			put_zigzag(w, st->recent[0].at_ms);
		else
			put_varint(w, (uint64_t)st->recent[i].at_ms -
					  (uint64_t)st->recent[i - 1].at_ms);
		put_u64le(w, st->recent[i].fp);
	}
}

static void put_marks(struct writer *w, const struct ssi_state *st)
{
	put_varint(w, st->nmarks);
	for (uint32_t i = 0; i < st->nmarks; i++) {
		put_zigzag(w, st->marks[i].partition);
		put_zigzag(w, st->marks[i].offset);
	}
}

static void put_rows(struct writer *w, const struct ssi_state *st)
{
	put_varint(w, st->nrows);
	for (uint32_t i = 0; i < st->nrows; i++) {
		const struct ssi_day_row *row = &st->rows[i];

		if (i == 0)
			put_zigzag(w, row->day);
		else
			put_varint(w, (uint32_t)row->day - (uint32_t)st->rows[i - 1].day);
		put_varint(w, row->mask);
		for (int c = 0; c < SSI_C__COUNT; c++)
			if (row->mask & (UINT32_C(1) << c))
				put_u8(w, row->count[c]);
	}
}

/* Everything but the checksum. */
static void put_state(struct writer *w, const struct ssi_state *st)
{
	put_u8(w, MAGIC_0);
	put_u8(w, MAGIC_1);
	put_u8(w, SSI_STATE_VERSION);
	put_registers(w, st);
	put_links(w, st);
	put_recent(w, st);
	put_marks(w, st);
	put_rows(w, st);
}

size_t ssi_state_encoded_size(const struct ssi_state *st)
{
	struct writer w = {0};

	if (!state_is_encodable(st))
		return 0;
	put_state(&w, st);
	return w.len + CRC_BYTES;
}

long ssi_state_encode(const struct ssi_state *st, uint8_t *buf, size_t cap)
{
	struct writer w = {.buf = buf, .cap = cap};

	if (!state_is_encodable(st))
		return -EINVAL;
	put_state(&w, st);
	if (w.len > cap || CRC_BYTES > cap - w.len)
		return -ENOBUFS;
	put_u32le(&w, ssi_crc32c(buf, w.len));
	return (long)w.len;
}

/* A bounded cursor: every read checks what is left, so no input can make it overrun. */
struct reader {
	const uint8_t *buf;
	size_t len;
	size_t pos;
};

static size_t reader_left(const struct reader *r)
{
	return r->len - r->pos;
}

static int get_u8(struct reader *r, uint8_t *out)
{
	if (reader_left(r) < 1)
		return -EBADMSG;
	*out = r->buf[r->pos++];
	return 0;
}

static int get_u64le(struct reader *r, uint64_t *out)
{
	uint64_t v = 0;

	if (reader_left(r) < 8)
		return -EBADMSG;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)r->buf[r->pos + i] << (8 * i);
	r->pos += 8;
	*out = v;
	return 0;
}

/* Only the shortest form is accepted, so that re-encoding gives back the input. */
static int get_varint(struct reader *r, uint64_t *out)
{
	uint64_t v = 0;

	for (int i = 0; i < VARINT_MAX_BYTES; i++) {
		uint8_t b;

		if (get_u8(r, &b) < 0)
			return -EBADMSG;
		/* The tenth byte holds bit 63 only. */
		if (i == VARINT_MAX_BYTES - 1 && b > 1)
			return -EBADMSG;
		v |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			if (b == 0 && i > 0)
				return -EBADMSG;
			*out = v;
			return 0;
		}
	}
	return -EBADMSG;
}

static int get_varint_max(struct reader *r, uint64_t max, uint64_t *out)
{
	if (get_varint(r, out) < 0 || *out > max)
		return -EBADMSG;
	return 0;
}

static int get_zigzag(struct reader *r, int64_t *out)
{
	uint64_t u;

	if (get_varint(r, &u) < 0)
		return -EBADMSG;
	*out = zigzag_decode(u);
	return 0;
}

/* Zigzag maps int32 exactly onto 0..UINT32_MAX, so the range check is all it takes. */
static int get_zigzag32(struct reader *r, int32_t *out)
{
	uint64_t u;

	if (get_varint_max(r, UINT32_MAX, &u) < 0)
		return -EBADMSG;
	*out = (int32_t)zigzag_decode(u);
	return 0;
}

/* A written register's time; INT64_MIN would mean "never written" and has its own form. */
static int get_register_key(struct reader *r, struct ssi_lww *key)
{
	if (get_zigzag(r, &key->at_ms) < 0 || key->at_ms == INT64_MIN)
		return -EBADMSG;
	return get_u64le(r, &key->fp);
}

static int get_profile(struct reader *r, struct ssi_state *st)
{
	uint8_t fields;

	if (get_register_key(r, &st->profile_key) < 0 || get_u8(r, &fields) < 0 ||
	    get_u8(r, &st->profile.skills) < 0 || get_u8(r, &st->profile.featured_media) < 0)
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

static int get_segment(struct reader *r, struct ssi_state *st, int s)
{
	uint64_t len;

	if (get_varint_max(r, SSI_ID_MAX, &len) < 0 || reader_left(r) < len)
		return -EBADMSG;
	if (memchr(r->buf + r->pos, '\0', len))
		return -EBADMSG;
	memcpy(st->segment[s], r->buf + r->pos, len);
	st->segment[s][len] = '\0';
	r->pos += len;
	return get_register_key(r, &st->segment_key[s]);
}

static int get_registers(struct reader *r, struct ssi_state *st)
{
	uint8_t written;

	if (get_u8(r, &written) < 0 || (written & ~WRITTEN_ALL) != 0)
		return -EBADMSG;
	if ((written & WRITTEN_PROFILE) && get_profile(r, st) < 0)
		return -EBADMSG;
	for (int s = 0; s < SSI_SEG__COUNT; s++)
		if ((written & WRITTEN_SEGMENT(s)) && get_segment(r, st, s) < 0)
			return -EBADMSG;
	return 0;
}

static int get_links(struct reader *r, struct ssi_state *st)
{
	uint64_t slots;

	if (get_varint_max(r, (UINT64_C(1) << LINK_SLOTS) - 1, &slots) < 0)
		return -EBADMSG;
	for (int slot = 0; slot < LINK_SLOTS; slot++) {
		int32_t v;

		if (!(slots & (UINT64_C(1) << slot)))
			continue;
		if (get_zigzag32(r, &v) < 0 || v == 0)
			return -EBADMSG;
		if (slot < SSI_SEN__COUNT)
			st->connections[slot] = v;
		else
			st->internal_connections = v;
	}
	return 0;
}

static int get_recent(struct reader *r, struct ssi_state *st)
{
	uint64_t n;

	if (get_varint_max(r, SSI_DEDUP_MAX, &n) < 0)
		return -EBADMSG;
	for (uint32_t i = 0; i < n; i++) {
		struct ssi_recent *cur = &st->recent[i];

		if (i == 0) {
			if (get_zigzag(r, &cur->at_ms) < 0)
				return -EBADMSG;
		} else {
			const struct ssi_recent *prev = &st->recent[i - 1];
			uint64_t delta;

			/* In modular arithmetic this is exactly INT64_MAX - prev->at_ms. */
			if (get_varint_max(r, (uint64_t)INT64_MAX - (uint64_t)prev->at_ms, &delta) <
			    0)
				return -EBADMSG;
			cur->at_ms = (int64_t)((uint64_t)prev->at_ms + delta);
		}
		if (get_u64le(r, &cur->fp) < 0)
			return -EBADMSG;
		if (i > 0 && cur->at_ms == st->recent[i - 1].at_ms &&
		    cur->fp <= st->recent[i - 1].fp)
			return -EBADMSG;
	}
	st->nrecent = (uint32_t)n;
	return 0;
}

static int get_marks(struct reader *r, struct ssi_state *st)
{
	uint64_t n;

	if (get_varint_max(r, SSI_MARKS_MAX, &n) < 0)
		return -EBADMSG;
	for (uint32_t i = 0; i < n; i++) {
		if (get_zigzag32(r, &st->marks[i].partition) < 0 ||
		    get_zigzag(r, &st->marks[i].offset) < 0)
			return -EBADMSG;
		for (uint32_t j = 0; j < i; j++)
			if (st->marks[j].partition == st->marks[i].partition)
				return -EBADMSG;
	}
	st->nmarks = (uint32_t)n;
	return 0;
}

static int get_row(struct reader *r, struct ssi_day_row *row)
{
	uint64_t mask;

	if (get_varint_max(r, ROW_MASK_ALL, &mask) < 0 || mask == 0)
		return -EBADMSG;
	row->mask = (uint32_t)mask;
	for (int c = 0; c < SSI_C__COUNT; c++) {
		if (!(mask & (UINT64_C(1) << c)))
			continue;
		if (get_u8(r, &row->count[c]) < 0 || row->count[c] == 0)
			return -EBADMSG;
	}
	return 0;
}

/* The row count is checked against the bytes left before anything is allocated. */
static int get_rows(struct reader *r, struct ssi_state *st)
{
	uint64_t n;

	if (get_varint_max(r, SSI_WINDOW_MAX_DAYS, &n) < 0 || reader_left(r) / ROW_MIN_BYTES < n)
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
			if (get_zigzag32(r, &row->day) < 0)
				return -EBADMSG;
		} else {
			int32_t prev = st->rows[i - 1].day;
			uint64_t delta;

			if (get_varint_max(r, (uint64_t)INT32_MAX - (uint64_t)(int64_t)prev,
					   &delta) < 0 ||
			    delta == 0)
				return -EBADMSG;
			row->day = (int32_t)(prev + (int64_t)delta);
		}
		if (get_row(r, row) < 0)
			return -EBADMSG;
	}
	return 0;
}

static int get_body(struct reader *r, struct ssi_state *st)
{
	int ret;

	if (get_registers(r, st) < 0 || get_links(r, st) < 0 || get_recent(r, st) < 0 ||
	    get_marks(r, st) < 0)
		return -EBADMSG;
	ret = get_rows(r, st);
	if (ret < 0)
		return ret;
	return reader_left(r) == 0 ? 0 : -EBADMSG;
}

/* Damage is told apart from a newer format by checking the checksum first. */
static int check_framing(const uint8_t *buf, size_t len)
{
	uint32_t stored = 0;

	if (len < HEADER_BYTES + CRC_BYTES || buf[0] != MAGIC_0 || buf[1] != MAGIC_1)
		return -EBADMSG;
	for (int i = 0; i < CRC_BYTES; i++)
		stored |= (uint32_t)buf[len - CRC_BYTES + i] << (8 * i);
	if (ssi_crc32c(buf, len - CRC_BYTES) != stored || buf[2] == 0)
		return -EBADMSG;
	if (buf[2] > SSI_STATE_VERSION)
		return -EPROTONOSUPPORT;
	return 0;
}

int ssi_state_decode(struct ssi_state *st, const uint8_t *buf, size_t len)
{
	struct reader r;
	int ret;

	ssi_state_clear(st);
	if (!buf)
		return -EBADMSG;
	ret = check_framing(buf, len);
	if (ret < 0)
		return ret;
	r = (struct reader){.buf = buf + HEADER_BYTES, .len = len - HEADER_BYTES - CRC_BYTES};
	ret = get_body(&r, st);
	if (ret < 0)
		ssi_state_clear(st);
	return ret;
}
