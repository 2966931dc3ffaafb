/*
 * ssi_state codec: round trips, canonical form, size budgets, and refusal of
 * every kind of damaged or foreign blob.
 *
 * One module's suite, kept whole: ssi_state_codec.c, the state's binary form.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"
#include "ssi_state.h"

/* 2025-11-09, a Sunday; all the "typical" times sit around it. */
#define TODAY	    20401
#define DAY_MS	    86400000LL
#define NOON_MS	    ((int64_t)TODAY * DAY_MS + DAY_MS / 2)
#define ROW_MASK_24 0xffffffu

static uint8_t blob[SSI_STATE_ENCODED_MAX];
static uint8_t again[SSI_STATE_ENCODED_MAX];

/* xorshift64*: the same sequence on every run and every machine. */
static uint64_t rng_state;

static void rng_seed(uint64_t seed)
{
	rng_state = seed ? seed : 1;
}

static uint64_t rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(2685821657736338717);
}

static uint64_t rng_below(uint64_t n)
{
	return rng_next() % n;
}

/* Mostly ordinary values, with the extremes of the type mixed in. */
static int64_t rng_i64(void)
{
	switch (rng_below(6)) {
	case 0:
		return INT64_MAX;
	case 1:
		return INT64_MIN + (int64_t)rng_below(3);
	case 2:
		return (int64_t)rng_next();
	case 3:
		return (int64_t)rng_below(1000) - 500;
	default:
		return NOON_MS + (int64_t)rng_below(180 * DAY_MS) - 90 * DAY_MS;
	}
}

static int32_t rng_i32(void)
{
	switch (rng_below(4)) {
	case 0:
		return rng_below(2) ? INT32_MAX : INT32_MIN;
	case 1:
		return (int32_t)(uint32_t)rng_next();
	default:
		return (int32_t)rng_below(2000) - 1000;
	}
}

static void alloc_rows(struct ssi_state *st, uint32_t n)
{
	free(st->rows);
	st->rows = n ? calloc(n, sizeof(*st->rows)) : NULL;
	ck_assert(n == 0 || st->rows);
	st->nrows = st->rows_cap = n;
}

static void row_set(struct ssi_day_row *row, int counter, uint8_t count)
{
	row->count[counter] = count;
	if (count)
		row->mask |= UINT32_C(1) << counter;
	else
		row->mask &= ~(UINT32_C(1) << counter);
}

static void set_segment(struct ssi_state *st, int s, const char *value, int64_t at_ms, uint64_t fp)
{
	snprintf(st->segment[s], sizeof(st->segment[s]), "%s", value);
	st->segment_key[s] = (struct ssi_lww){.at_ms = at_ms, .fp = fp};
}

/*
 * The budget's typical active user: 30 active days of the last 90 with 6
 * counters each, a profile, three short segments, 8 remembered events, one
 * mark and a few connection counts.
 */
static void make_typical(struct ssi_state *st)
{
	static const int always[] = {SSI_C_SESSION, SSI_C_REACTION_GIVEN, SSI_C_VIEW_IN_NETWORK,
				     SSI_C_MESSAGE_SENT};
	static const int sometimes[] = {SSI_C_POST_SHARED,	SSI_C_REACTION_RECEIVED,
					SSI_C_VIEW_OUT_NETWORK, SSI_C_COMMENT_GIVEN,
					SSI_C_SEARCH,		SSI_C_VIEW_RECEIVED};

	ssi_state_init(st);
	alloc_rows(st, 30);
	for (uint32_t i = 0; i < 30; i++) {
		struct ssi_day_row *row = &st->rows[i];

		row->day = TODAY - 89 + (int32_t)(3 * i);
		for (size_t k = 0; k < 4; k++)
			row_set(row, always[k], (uint8_t)(1 + (i * 7 + k * 3) % 19));
		row_set(row, sometimes[i % 6], (uint8_t)(1 + i % 5));
		row_set(row, sometimes[(i + 2) % 6], (uint8_t)(2 + i % 3));
	}
	st->profile = (struct ssi_profile){.photo = true,
					   .headline = true,
					   .summary = true,
					   .experience = true,
					   .skills = 23,
					   .featured_media = 2};
	st->profile_key = (struct ssi_lww){NOON_MS - 40 * DAY_MS, 0x9e3779b97f4a7c15u};
	set_segment(st, SSI_SEG_TENANT, "acme-corp", NOON_MS - 60 * DAY_MS, 0x1234567890abcdefu);
	set_segment(st, SSI_SEG_TEAM, "emea-west", NOON_MS - 12 * DAY_MS, 0xfedcba0987654321u);
	set_segment(st, SSI_SEG_INDUSTRY, "software", NOON_MS - 60 * DAY_MS, 0x0f1e2d3c4b5a6978u);
	st->connections[SSI_SEN_UNKNOWN] = 180;
	st->connections[SSI_SEN_SENIOR] = 42;
	st->connections[SSI_SEN_MANAGER] = 25;
	st->connections[SSI_SEN_DIRECTOR] = 9;
	st->internal_connections = 37;
	st->nrecent = 8;
	for (uint32_t i = 0; i < 8; i++)
		st->recent[i] =
		    (struct ssi_recent){NOON_MS + (int64_t)i * 95000 + (int64_t)i * i * 731,
					0xa5a5a5a5a5a5a5a5u ^ (i * 0x0101010101010101u)};
	st->nmarks = 1;
	st->marks[0] = (struct ssi_mark){.partition = 7, .offset = 123456789};
}

/* The budget's worst user on a 90-day window: everything full, every day. */
static void make_worst_90(struct ssi_state *st)
{
	ssi_state_init(st);
	alloc_rows(st, 90);
	for (uint32_t i = 0; i < 90; i++) {
		st->rows[i].day = TODAY - 89 + (int32_t)i;
		for (int c = 0; c < SSI_C__COUNT; c++)
			row_set(&st->rows[i], c, SSI_COUNT_MAX);
	}
	st->profile = (struct ssi_profile){true, true, true, true, true, 255, 255};
	st->profile_key = (struct ssi_lww){NOON_MS, UINT64_MAX};
	for (int s = 0; s < SSI_SEG__COUNT; s++) {
		memset(st->segment[s], 'x', SSI_ID_MAX);
		st->segment[s][SSI_ID_MAX] = '\0';
		st->segment_key[s] = (struct ssi_lww){NOON_MS - s, UINT64_MAX - (uint64_t)s};
	}
	for (int sen = 0; sen < SSI_SEN__COUNT; sen++)
		st->connections[sen] = 30000 + sen;
	st->internal_connections = 30000;
	st->nrecent = 8;
	for (uint32_t i = 0; i < 8; i++)
		st->recent[i] = (struct ssi_recent){
		    NOON_MS - 89 * DAY_MS + (int64_t)i * 12 * DAY_MS, UINT64_MAX - i};
	st->nmarks = SSI_MARKS_MAX;
	for (uint32_t i = 0; i < SSI_MARKS_MAX; i++)
		st->marks[i] =
		    (struct ssi_mark){.partition = 1000 + (int32_t)i, .offset = INT64_C(1) << 50};
}

/*
 * The largest encoding the types allow: every count at its maximum, every
 * value as far from zero as its varint can get, rows and recent keys spread
 * so that their increases take as many bytes as they can.
 */
static void make_largest(struct ssi_state *st)
{
	int64_t at = INT64_MIN + 1;

	ssi_state_init(st);
	alloc_rows(st, SSI_WINDOW_MAX_DAYS);
	for (uint32_t i = 0; i < SSI_WINDOW_MAX_DAYS; i++) {
		/* Increases of 2^21..2^28 take 4 bytes; larger ones cannot all fit in int32. */
		st->rows[i].day = INT32_MIN + (int32_t)(i * (UINT32_C(1) << 21));
		for (int c = 0; c < SSI_C__COUNT; c++)
			row_set(&st->rows[i], c, SSI_COUNT_MAX);
	}
	st->rows[SSI_WINDOW_MAX_DAYS - 1].day = INT32_MAX;
	st->profile = (struct ssi_profile){true, true, true, true, true, 255, 255};
	st->profile_key = (struct ssi_lww){INT64_MIN + 1, UINT64_MAX};
	for (int s = 0; s < SSI_SEG__COUNT; s++) {
		memset(st->segment[s], 0xff, SSI_ID_MAX);
		st->segment[s][SSI_ID_MAX] = '\0';
		st->segment_key[s] = (struct ssi_lww){INT64_MIN + 1, UINT64_MAX};
	}
	for (int sen = 0; sen < SSI_SEN__COUNT; sen++)
		st->connections[sen] = INT32_MIN;
	st->internal_connections = INT32_MIN;
	st->nrecent = SSI_DEDUP_MAX;
	for (uint32_t i = 0; i < SSI_DEDUP_MAX; i++) {
		st->recent[i] = (struct ssi_recent){at, UINT64_MAX};
		/* 2^56 takes 9 bytes, and 63 of them still fit in the int64 range. */
		at += INT64_C(1) << 56;
	}
	st->recent[SSI_DEDUP_MAX - 1].at_ms = INT64_MAX; /* an increase of 10 bytes */
	st->nmarks = SSI_MARKS_MAX;
	for (uint32_t i = 0; i < SSI_MARKS_MAX; i++)
		st->marks[i] = (struct ssi_mark){INT32_MIN + (int32_t)i, INT64_MIN};
}

/*
 * Most written registers take the key of a recent event or of another
 * register, as one event's registers do, so that the encoding's refs of
 * every kind are exercised.
 */
static void share_register_keys(struct ssi_state *st)
{
	struct ssi_lww *keys[1 + SSI_SEG__COUNT] = {&st->profile_key};

	for (int s = 0; s < SSI_SEG__COUNT; s++)
		keys[1 + s] = &st->segment_key[s];
	for (int k = 0; k < 1 + SSI_SEG__COUNT; k++) {
		uint64_t pick = rng_below(4);
		uint32_t i;

		if (keys[k]->at_ms == INT64_MIN || pick == 0)
			continue;
		if (pick == 1 && st->nrecent > 0) {
			i = (uint32_t)rng_below(st->nrecent);
			if (st->recent[i].at_ms != INT64_MIN)
				*keys[k] = (struct ssi_lww){st->recent[i].at_ms, st->recent[i].fp};
		} else if (pick >= 2) {
			int j = (int)rng_below(1 + SSI_SEG__COUNT);

			if (keys[j]->at_ms != INT64_MIN)
				*keys[k] = *keys[j];
		}
	}
}

static void make_random(struct ssi_state *st)
{
	uint32_t want;

	ssi_state_init(st);
	if (rng_below(2)) {
		uint8_t fields = (uint8_t)rng_below(32);

		st->profile = (struct ssi_profile){
		    fields & 1,	 fields & 2,	      fields & 4,	  fields & 8,
		    fields & 16, (uint8_t)rng_next(), (uint8_t)rng_next()};
		st->profile_key = (struct ssi_lww){rng_i64(), rng_next()};
		if (st->profile_key.at_ms == INT64_MIN)
			st->profile_key.at_ms++;
	}
	for (int s = 0; s < SSI_SEG__COUNT; s++) {
		size_t len = rng_below(SSI_ID_MAX + 1);

		if (rng_below(2))
			continue;
		for (size_t i = 0; i < len; i++)
			st->segment[s][i] = (char)(1 + rng_below(255));
		st->segment_key[s] = (struct ssi_lww){rng_i64(), rng_next()};
		if (st->segment_key[s].at_ms == INT64_MIN)
			st->segment_key[s].at_ms++;
	}
	for (int sen = 0; sen < SSI_SEN__COUNT; sen++)
		st->connections[sen] = rng_below(2) ? rng_i32() : 0;
	st->internal_connections = rng_below(2) ? rng_i32() : 0;

	/* Keys from a few times and fingerprints so that ties are common, kept sorted. */
	want = (uint32_t)rng_below(SSI_DEDUP_MAX + 1);
	while (st->nrecent < want) {
		uint32_t n = st->nrecent, j = n;
		int64_t at =
		    n == 0 || rng_below(3) == 0 ? rng_i64() : st->recent[rng_below(n)].at_ms;
		uint64_t fp = rng_below(2) ? rng_below(4) : rng_next();

		while (j > 0 && (st->recent[j - 1].at_ms > at ||
				 (st->recent[j - 1].at_ms == at && st->recent[j - 1].fp > fp)))
			j--;
		if (j > 0 && st->recent[j - 1].at_ms == at && st->recent[j - 1].fp == fp)
			continue;
		memmove(&st->recent[j + 1], &st->recent[j], (n - j) * sizeof(st->recent[0]));
		st->recent[j] = (struct ssi_recent){at, fp};
		st->nrecent++;
	}

	share_register_keys(st);

	st->nmarks = (uint32_t)rng_below(SSI_MARKS_MAX + 1);
	for (uint32_t i = 0; i < st->nmarks; i++) {
		bool distinct;

		do {
			st->marks[i] = (struct ssi_mark){rng_i32(), rng_i64()};
			distinct = true;
			for (uint32_t j = 0; j < i; j++)
				distinct &= st->marks[j].partition != st->marks[i].partition;
		} while (!distinct);
	}

	alloc_rows(
	    st, (uint32_t)(rng_below(4) == 0 ? rng_below(SSI_WINDOW_MAX_DAYS + 1) : rng_below(40)));
	for (uint32_t i = 0; i < st->nrows; i++) {
		struct ssi_day_row *row = &st->rows[i];
		int64_t day;

		if (i == 0)
			day = rng_below(3) ? TODAY - (int64_t)rng_below(400) : rng_i32();
		else
			day = (int64_t)st->rows[i - 1].day +
			      (rng_below(4) ? 1 + (int64_t)rng_below(5)
					    : 1 + (int64_t)rng_below(UINT32_C(1) << 30));
		if (day > INT32_MAX) {
			st->nrows = i; /* the days ran out; rows_cap may stay larger */
			break;
		}
		row->day = (int32_t)day;
		do {
			uint32_t mask = (uint32_t)rng_next() & ROW_MASK_24;

			if (rng_below(2))
				mask &= 0x7f;
			for (int c = 0; c < SSI_C__COUNT; c++)
				if (mask & (UINT32_C(1) << c))
					row_set(row, c, (uint8_t)(1 + rng_below(255)));
		} while (row->mask == 0);
	}
}

static bool is_empty(const struct ssi_state *st)
{
	struct ssi_state empty;

	ssi_state_init(&empty);
	return ssi_state_equal(st, &empty) && !st->rows && st->rows_cap == 0;
}

/* Encode, decode, compare; then re-encode and demand the same bytes. Returns the size. */
static size_t round_trip(const struct ssi_state *st)
{
	struct ssi_state back;
	size_t size = ssi_state_encoded_size(st);
	long n = ssi_state_encode(st, blob, sizeof(blob));

	ck_assert_int_gt(n, 0);
	ck_assert_uint_eq((size_t)n, size);
	ck_assert_uint_le(size, SSI_STATE_ENCODED_MAX);

	ssi_state_init(&back);
	ck_assert_int_eq(ssi_state_decode(&back, blob, size), 0);
	ck_assert(ssi_state_equal(&back, st));
	ck_assert_uint_eq(back.rows_cap, back.nrows);
	ck_assert_int_eq(ssi_state_encode(&back, again, sizeof(again)), n);
	ck_assert_mem_eq(again, blob, size);
	ssi_state_clear(&back);
	return size;
}

static uint32_t crc32c_bit_by_bit(const uint8_t *p, size_t len)
{
	uint32_t crc = UINT32_MAX;

	for (size_t i = 0; i < len; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (UINT32_C(0x82f63b78) & (0u - (crc & 1)));
	}
	return ~crc;
}

START_TEST (crc32c_matches_known_values) {
	uint8_t zeros[32] = {0};
	uint8_t bytes[257];

	ck_assert_uint_eq(ssi_crc32c("123456789", 9), 0xe3069283u);
	ck_assert_uint_eq(ssi_crc32c(zeros, sizeof(zeros)), 0x8a9136aau);
	ck_assert_uint_eq(ssi_crc32c("", 0), 0);
	rng_seed(7);
	for (int round = 0; round < 200; round++) {
		size_t len = rng_below(sizeof(bytes) + 1);

		for (size_t i = 0; i < len; i++)
			bytes[i] = (uint8_t)rng_next();
		ck_assert_uint_eq(ssi_crc32c(bytes, len), crc32c_bit_by_bit(bytes, len));
	}
}
END_TEST

START_TEST (empty_state_is_twelve_bytes) {
	static const uint8_t body[] = {'S', 'I', SSI_STATE_VERSION, 0, 0, 0, 0, 0};
	struct ssi_state st;

	ssi_state_init(&st);
	ck_assert_uint_eq(round_trip(&st), sizeof(body) + 4);
	ck_assert_mem_eq(blob, body, sizeof(body));
	ck_assert_uint_eq(blob[8] | blob[9] << 8 | blob[10] << 16 | (uint32_t)blob[11] << 24,
			  ssi_crc32c(body, sizeof(body)));
}
END_TEST

START_TEST (typical_and_worst_fit_their_budgets) {
	struct ssi_state st;
	size_t typical, worst;

	make_typical(&st);
	typical = round_trip(&st);
	ssi_state_clear(&st);
	make_worst_90(&st);
	worst = round_trip(&st);
	ssi_state_clear(&st);

	printf("codec: typical user %zu bytes (budget 512), worst 90-day user %zu bytes "
	       "(budget 4096)\n",
	       typical, worst);
	ck_assert_uint_le(typical, 512);
	ck_assert_uint_le(worst, 4096);
}
END_TEST

START_TEST (largest_state_fits_encoded_max) {
	struct ssi_state st;
	size_t size;

	make_largest(&st);
	size = round_trip(&st);
	ssi_state_clear(&st);
	printf("codec: largest possible state %zu bytes (SSI_STATE_ENCODED_MAX %d)\n", size,
	       (int)SSI_STATE_ENCODED_MAX);
	ck_assert_uint_le(size, SSI_STATE_ENCODED_MAX);
}
END_TEST

START_TEST (random_states_round_trip) {
	struct ssi_state st;

	rng_seed(0x5eed0001);
	for (int i = 0; i < 3000; i++) {
		make_random(&st);
		round_trip(&st);
		ssi_state_clear(&st);
	}
}
END_TEST

START_TEST (decode_replaces_previous_content) {
	struct ssi_state st, full;
	long n;

	ssi_state_init(&st);
	n = ssi_state_encode(&st, blob, sizeof(blob));
	make_worst_90(&full);
	ck_assert_int_eq(ssi_state_decode(&full, blob, (size_t)n), 0);
	ck_assert(is_empty(&full));

	make_typical(&st);
	n = ssi_state_encode(&st, blob, sizeof(blob));
	make_worst_90(&full);
	ck_assert_int_eq(ssi_state_decode(&full, blob, (size_t)n), 0);
	ck_assert(ssi_state_equal(&full, &st));
	ssi_state_clear(&full);
	ssi_state_clear(&st);
}
END_TEST

START_TEST (small_buffer_is_enobufs) {
	struct ssi_state st;
	size_t size;

	make_typical(&st);
	size = ssi_state_encoded_size(&st);
	ck_assert_int_eq(ssi_state_encode(&st, NULL, 0), -ENOBUFS);
	/* An exact-size heap buffer per capacity: ASan catches a byte written past it. */
	for (size_t cap = 1; cap <= size; cap++) {
		uint8_t *buf = malloc(cap);

		ck_assert_ptr_nonnull(buf);
		ck_assert_int_eq(ssi_state_encode(&st, buf, cap),
				 cap < size ? -ENOBUFS : (long)size);
		free(buf);
	}
	ssi_state_clear(&st);
}
END_TEST

START_TEST (every_truncation_fails) {
	struct ssi_state st, out;
	long n;

	make_typical(&st);
	ck_assert_int_eq(ssi_state_decode(&st, NULL, 0), -EBADMSG);
	ck_assert(is_empty(&st));
	make_typical(&st);
	n = ssi_state_encode(&st, blob, sizeof(blob));
	ck_assert_int_gt(n, 0);
	for (long len = 0; len < n; len++) {
		make_worst_90(&out);
		ck_assert_int_eq(ssi_state_decode(&out, blob, (size_t)len), -EBADMSG);
		ck_assert(is_empty(&out));
	}
	ssi_state_clear(&st);
}
END_TEST

/* Each cut of the body, given a checksum that holds, so the parser meets the end itself. */
START_TEST (every_truncation_with_valid_crc_fails) {
	struct ssi_state st, out;
	long n;

	make_typical(&st);
	n = ssi_state_encode(&st, blob, sizeof(blob));
	ck_assert_int_gt(n, 0);
	for (long len = 3; len < n - 4; len++) {
		uint32_t crc;

		memcpy(again, blob, (size_t)len);
		crc = ssi_crc32c(again, (size_t)len);
		for (int i = 0; i < 4; i++)
			again[len + i] = (uint8_t)(crc >> (8 * i));
		ssi_state_init(&out);
		ck_assert_int_eq(ssi_state_decode(&out, again, (size_t)len + 4), -EBADMSG);
		ck_assert(is_empty(&out));
	}
	ssi_state_clear(&st);
}
END_TEST

START_TEST (every_bit_flip_fails) {
	struct ssi_state st, out;
	long n;

	make_typical(&st);
	n = ssi_state_encode(&st, blob, sizeof(blob));
	ck_assert_int_gt(n, 0);
	for (long bit = 0; bit < 8 * n; bit++) {
		memcpy(again, blob, (size_t)n);
		again[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		ssi_state_init(&out);
		ck_assert_int_eq(ssi_state_decode(&out, again, (size_t)n), -EBADMSG);
		ck_assert(is_empty(&out));
	}
	ssi_state_clear(&st);
}
END_TEST

/* Random bytes overwritten, checksum repaired: whatever decodes must re-encode identically. */
START_TEST (mutated_blobs_decode_canonically_or_fail) {
	struct ssi_state st, out;
	int accepted = 0;

	rng_seed(0x5eed0002);
	ssi_state_init(&st);
	ssi_state_init(&out);
	for (int i = 0; i < 20000; i++) {
		long n, m;
		uint32_t crc;
		int r;

		if (i % 50 == 0) {
			ssi_state_clear(&st);
			make_random(&st);
		}
		n = ssi_state_encode(&st, blob, sizeof(blob));
		ck_assert_int_gt(n, 0);
		for (uint64_t k = 1 + rng_below(3); k > 0; k--)
			blob[3 + rng_below((uint64_t)n - 7)] = (uint8_t)rng_next();
		crc = ssi_crc32c(blob, (size_t)n - 4);
		for (int b = 0; b < 4; b++)
			blob[n - 4 + b] = (uint8_t)(crc >> (8 * b));
		r = ssi_state_decode(&out, blob, (size_t)n);
		if (r < 0) {
			ck_assert_int_eq(r, -EBADMSG);
			ck_assert(is_empty(&out));
			continue;
		}
		accepted++;
		m = ssi_state_encode(&out, again, sizeof(again));
		ck_assert_int_eq(m, n);
		ck_assert_mem_eq(again, blob, (size_t)n);
	}
	ssi_state_clear(&st);
	ssi_state_clear(&out);
	/* Overwriting a count or a fingerprint keeps the blob valid: both paths ran. */
	ck_assert_int_gt(accepted, 100);
	ck_assert_int_lt(accepted, 19900);
}
END_TEST

/* A hand-written blob, with a helper that seals it with a valid CRC. */
struct raw {
	uint8_t b[4096];
	size_t n;
};

static void raw_u8(struct raw *r, uint8_t v)
{
	ck_assert_uint_lt(r->n, sizeof(r->b));
	r->b[r->n++] = v;
}

static void raw_varint(struct raw *r, uint64_t v)
{
	for (; v >= 0x80; v >>= 7)
		raw_u8(r, (uint8_t)(0x80 | (v & 0x7f)));
	raw_u8(r, (uint8_t)v);
}

static void raw_zigzag(struct raw *r, int64_t v)
{
	raw_varint(r, v < 0 ? ~((uint64_t)v << 1) : (uint64_t)v << 1);
}

static void raw_u64(struct raw *r, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		raw_u8(r, (uint8_t)(v >> (8 * i)));
}

static void raw_text(struct raw *r, const char *s, size_t len)
{
	raw_varint(r, len);
	for (size_t i = 0; i < len; i++)
		raw_u8(r, (uint8_t)s[i]);
}

static void raw_seal(struct raw *r)
{
	uint32_t crc = ssi_crc32c(r->b, r->n);

	for (int i = 0; i < 4; i++)
		raw_u8(r, (uint8_t)(crc >> (8 * i)));
}

/* One broken rule each; RAW_VALID breaks none, which proves the rest is well formed. */
enum raw_case {
	RAW_VALID,
	RAW_MAGIC,
	RAW_VERSION_ZERO,
	RAW_WRITTEN_UNKNOWN_BIT,
	RAW_PROFILE_AT_NEVER,
	RAW_PROFILE_UNKNOWN_FIELD,
	RAW_SEGMENT_TOO_LONG,
	RAW_SEGMENT_NUL,
	RAW_SEGMENT_AT_NEVER,
	RAW_LINK_UNKNOWN_SLOT,
	RAW_LINK_ZERO,
	RAW_LINK_BEYOND_INT32,
	RAW_RECENT_TOO_MANY,
	RAW_RECENT_REPEATED,
	RAW_RECENT_DESCENDING,
	RAW_RECENT_PAST_INT64,
	RAW_MARKS_TOO_MANY,
	RAW_MARKS_SAME_PARTITION,
	RAW_MARK_BEYOND_INT32,
	RAW_ROWS_TOO_MANY,
	RAW_ROWS_MORE_THAN_BYTES,
	RAW_ROW_DAY_BEYOND_INT32,
	RAW_ROW_SAME_DAY,
	RAW_ROW_PAST_INT32,
	RAW_ROW_MASK_ZERO,
	RAW_ROW_MASK_UNKNOWN_BIT,
	RAW_ROW_COUNT_ZERO,
	RAW_VARINT_OVERLONG,
	RAW_VARINT_ELEVEN_BYTES,
	RAW_VARINT_PAST_64_BITS,
	RAW_TRAILING_BYTE,
	RAW__COUNT
};

#define RAW_TIME ((int64_t)1760000000000)

/* Version 2's ref before a key: 0, the key inline. */
static void raw_key_inline(struct raw *r, int version)
{
	if (version >= 2)
		raw_u8(r, 0);
}

static void raw_registers(struct raw *r, enum raw_case c, int version)
{
	raw_u8(r, c == RAW_WRITTEN_UNKNOWN_BIT ? 0x1f : 0x0f);

	/* profile */
	raw_key_inline(r, version);
	if (c == RAW_VARINT_ELEVEN_BYTES) {
		for (int i = 0; i < 10; i++)
			raw_u8(r, 0x80);
		raw_u8(r, 0x01);
	} else if (c == RAW_VARINT_PAST_64_BITS) {
		for (int i = 0; i < 9; i++)
			raw_u8(r, 0xff);
		raw_u8(r, 0x02);
	} else {
		raw_zigzag(r, c == RAW_PROFILE_AT_NEVER ? INT64_MIN : RAW_TIME);
	}
	raw_u64(r, 0x1111);
	raw_u8(r, c == RAW_PROFILE_UNKNOWN_FIELD ? 0x25 : 0x05);
	raw_u8(r, 12);
	raw_u8(r, 3);

	/* segments */
	raw_text(r, "acme-corp", 9);
	raw_key_inline(r, version);
	raw_zigzag(r, RAW_TIME - 1);
	raw_u64(r, 0x2222);
	if (c == RAW_SEGMENT_TOO_LONG) {
		char long_text[SSI_ID_MAX + 1];

		memset(long_text, 't', sizeof(long_text));
		raw_text(r, long_text, sizeof(long_text));
	} else {
		raw_text(r, c == RAW_SEGMENT_NUL ? "emea\0west" : "emea-west", 9);
	}
	raw_key_inline(r, version);
	raw_zigzag(r, RAW_TIME - 2);
	raw_u64(r, 0x3333);
	raw_text(r, "", 0);
	raw_key_inline(r, version);
	raw_zigzag(r, c == RAW_SEGMENT_AT_NEVER ? INT64_MIN : -5);
	raw_u64(r, 0);
}

static void raw_links(struct raw *r, enum raw_case c)
{
	/* links: unknown seniority, vp, internal */
	raw_varint(r, (1u << SSI_SEN_UNKNOWN) | (1u << SSI_SEN_VP) | (1u << SSI_SEN__COUNT) |
			  (c == RAW_LINK_UNKNOWN_SLOT ? 1u << (SSI_SEN__COUNT + 1) : 0));
	raw_zigzag(r, 100);
	if (c == RAW_LINK_BEYOND_INT32)
		raw_varint(r, UINT64_C(1) << 32);
	else
		raw_zigzag(r, c == RAW_LINK_ZERO ? 0 : -2);
	raw_zigzag(r, 7);
	if (c == RAW_LINK_UNKNOWN_SLOT)
		raw_zigzag(r, 1);
}

static void raw_recent(struct raw *r, enum raw_case c)
{
	/* recent */
	if (c == RAW_RECENT_TOO_MANY) {
		raw_varint(r, SSI_DEDUP_MAX + 1);
		raw_zigzag(r, RAW_TIME);
		raw_u64(r, 0);
		for (int i = 1; i <= SSI_DEDUP_MAX; i++) {
			raw_varint(r, 1);
			raw_u64(r, 0);
		}
	} else {
		raw_varint(r, 3);
		raw_zigzag(r, c == RAW_RECENT_PAST_INT64 ? INT64_MAX - 10 : RAW_TIME);
		raw_u64(r, 50);
		raw_varint(r, c == RAW_RECENT_PAST_INT64 ? 11 : 1000);
		raw_u64(r, 9);
		raw_varint(r, 0);
		raw_u64(r, c == RAW_RECENT_REPEATED ? 9 : c == RAW_RECENT_DESCENDING ? 8 : 10);
	}
}

/* The blob of case c in the layout of version (1 or 2), sealed. */
static void raw_build(struct raw *r, enum raw_case c, int version)
{
	r->n = 0;
	raw_u8(r, 'S');
	raw_u8(r, c == RAW_MAGIC ? 'J' : 'I');
	raw_u8(r, c == RAW_VERSION_ZERO ? 0 : (uint8_t)version);
	if (version == 1) {
		raw_registers(r, c, version);
		raw_links(r, c);
		raw_recent(r, c);
	} else {
		raw_recent(r, c);
		raw_registers(r, c, version);
		raw_links(r, c);
	}

	/* marks */
	if (c == RAW_VARINT_OVERLONG) {
		raw_u8(r, 0x82);
		raw_u8(r, 0x00);
	} else {
		raw_varint(r, c == RAW_MARKS_TOO_MANY ? SSI_MARKS_MAX + 1 : 2);
	}
	if (c == RAW_MARK_BEYOND_INT32)
		raw_varint(r, UINT64_C(1) << 32);
	else
		raw_zigzag(r, 0);
	raw_zigzag(r, 100);
	raw_zigzag(r, c == RAW_MARKS_SAME_PARTITION ? 0 : 3);
	raw_zigzag(r, -1);
	if (c == RAW_MARKS_TOO_MANY) {
		for (int i = 2; i <= SSI_MARKS_MAX; i++) {
			raw_zigzag(r, 10 + i);
			raw_zigzag(r, 5);
		}
	}

	/* rows */
	if (c == RAW_ROWS_TOO_MANY) {
		raw_varint(r, SSI_WINDOW_MAX_DAYS + 1);
		raw_zigzag(r, 20000);
		raw_varint(r, 1);
		raw_u8(r, 1);
		for (int i = 1; i <= SSI_WINDOW_MAX_DAYS; i++) {
			raw_varint(r, 1);
			raw_varint(r, 1);
			raw_u8(r, 1);
		}
	} else {
		raw_varint(r, c == RAW_ROWS_MORE_THAN_BYTES ? 300 : 3);
		if (c == RAW_ROW_DAY_BEYOND_INT32)
			raw_varint(r, UINT64_C(1) << 32);
		else
			raw_zigzag(r, c == RAW_ROW_PAST_INT32 ? INT32_MAX - 1 : 20000);
		raw_varint(r, 0x3f);
		for (int k = 1; k <= 6; k++)
			raw_u8(r, (uint8_t)(c == RAW_ROW_COUNT_ZERO && k == 4 ? 0 : k));
		raw_varint(r, c == RAW_ROW_SAME_DAY ? 0 : 1);
		raw_varint(r, c == RAW_ROW_MASK_ZERO ? 0 : 1);
		if (c != RAW_ROW_MASK_ZERO)
			raw_u8(r, 7);
		raw_varint(r, 2);
		raw_varint(r,
			   (UINT32_C(1) << (SSI_C__COUNT - 1)) |
			       (c == RAW_ROW_MASK_UNKNOWN_BIT ? UINT32_C(1) << SSI_C__COUNT : 0));
		raw_u8(r, 255);
		if (c == RAW_ROW_MASK_UNKNOWN_BIT)
			raw_u8(r, 1);
	}
	if (c == RAW_TRAILING_BYTE)
		raw_u8(r, 0);
	raw_seal(r);
}

static void check_raw_valid(const struct ssi_state *st)
{
	ck_assert(st->profile.photo && !st->profile.background_photo && st->profile.headline);
	ck_assert_uint_eq(st->profile.skills, 12);
	ck_assert_int_eq(st->profile_key.at_ms, RAW_TIME);
	ck_assert_str_eq(st->segment[SSI_SEG_TEAM], "emea-west");
	ck_assert_str_eq(st->segment[SSI_SEG_INDUSTRY], "");
	ck_assert_int_eq(st->segment_key[SSI_SEG_INDUSTRY].at_ms, -5);
	ck_assert_int_eq(st->connections[SSI_SEN_VP], -2);
	ck_assert_int_eq(st->internal_connections, 7);
	ck_assert_uint_eq(st->nrecent, 3);
	ck_assert_int_eq(st->recent[2].at_ms, RAW_TIME + 1000);
	ck_assert_uint_eq(st->nmarks, 2);
	ck_assert_int_eq(st->marks[1].offset, -1);
	ck_assert_uint_eq(st->nrows, 3);
	ck_assert_int_eq(st->rows[2].day, 20003);
	ck_assert_uint_eq(st->rows[2].count[SSI_C__COUNT - 1], 255);
	ck_assert_uint_eq(st->rows[0].count[3], 4);
}

START_TEST (hand_built_valid_blob_decodes) {
	struct raw r, r1;
	struct ssi_state st;

	raw_build(&r, RAW_VALID, SSI_STATE_VERSION);
	ssi_state_init(&st);
	ck_assert_int_eq(ssi_state_decode(&st, r.b, r.n), 0);
	check_raw_valid(&st);
	/* What was written by hand is also what the encoder writes. */
	ck_assert_int_eq(ssi_state_encode(&st, blob, sizeof(blob)), (long)r.n);
	ck_assert_mem_eq(blob, r.b, r.n);
	/* The same state in version 1's layout, as older builds wrote it, reads the same. */
	raw_build(&r1, RAW_VALID, 1);
	ck_assert_int_eq(ssi_state_decode(&st, r1.b, r1.n), 0);
	check_raw_valid(&st);
	ck_assert_int_eq(ssi_state_encode(&st, blob, sizeof(blob)), (long)r.n);
	ck_assert_mem_eq(blob, r.b, r.n);
	ssi_state_clear(&st);
}
END_TEST

/* Each broken case, in both layouts. */
START_TEST (hand_built_corrupt_blob_fails) {
	struct raw r;
	struct ssi_state st;

	for (int version = 1; version <= SSI_STATE_VERSION; version++) {
		raw_build(&r, (enum raw_case)_i, version);
		make_typical(&st);
		ck_assert_int_eq(ssi_state_decode(&st, r.b, r.n), -EBADMSG);
		ck_assert(is_empty(&st));
	}
}
END_TEST

/*
 * Version 2's key refs by hand: recent (RAW_TIME, 50), (RAW_TIME + 1000, 9);
 * profile and tenant with the refs given, team inline at RAW_TIME - 2 (or
 * at team_at, with fp 9 when team_at is RAW_TIME + 1000).
 */
static void raw_refs(struct raw *r, uint64_t profile_ref, uint64_t tenant_ref, int64_t team_at)
{
	r->n = 0;
	raw_u8(r, 'S');
	raw_u8(r, 'I');
	raw_u8(r, 2);
	raw_varint(r, 2);
	raw_zigzag(r, RAW_TIME);
	raw_u64(r, 50);
	raw_varint(r, 1000);
	raw_u64(r, 9);
	raw_u8(r, 0x07); /* profile, tenant, team */
	raw_varint(r, profile_ref);
	if (profile_ref == 0) {
		raw_zigzag(r, RAW_TIME - 7);
		raw_u64(r, 77);
	}
	raw_u8(r, 0x01);
	raw_u8(r, 0);
	raw_u8(r, 0);
	raw_text(r, "acme", 4);
	raw_varint(r, tenant_ref);
	if (tenant_ref == 0) {
		raw_zigzag(r, RAW_TIME - 8);
		raw_u64(r, 88);
	}
	raw_text(r, "west", 4);
	raw_varint(r, 0);
	raw_zigzag(r, team_at);
	raw_u64(r, team_at == RAW_TIME + 1000 ? 9 : 0x3333);
	raw_varint(r, 0); /* links */
	raw_varint(r, 0); /* marks */
	raw_varint(r, 0); /* rows */
	raw_seal(r);
}

START_TEST (key_refs_are_canonical) {
	struct raw r;
	struct ssi_state st;

	ssi_state_init(&st);
	/* The profile and the tenant both name recent[1]. */
	raw_refs(&r, 2, 2, RAW_TIME - 2);
	ck_assert_int_eq(ssi_state_decode(&st, r.b, r.n), 0);
	ck_assert_int_eq(st.profile_key.at_ms, RAW_TIME + 1000);
	ck_assert_uint_eq(st.profile_key.fp, 9);
	ck_assert_int_eq(st.segment_key[SSI_SEG_TENANT].at_ms, RAW_TIME + 1000);
	ck_assert_uint_eq(st.segment_key[SSI_SEG_TENANT].fp, 9);
	ck_assert_int_eq(st.segment_key[SSI_SEG_TEAM].at_ms, RAW_TIME - 2);
	ck_assert_int_eq(ssi_state_encode(&st, blob, sizeof(blob)), (long)r.n);
	ck_assert_mem_eq(blob, r.b, r.n);
	/* Inline keys that nothing names. */
	raw_refs(&r, 0, 0, RAW_TIME - 2);
	ck_assert_int_eq(ssi_state_decode(&st, r.b, r.n), 0);
	ck_assert_uint_eq(st.segment_key[SSI_SEG_TENANT].fp, 88);
	ck_assert_int_eq(ssi_state_encode(&st, blob, sizeof(blob)), (long)r.n);
	ck_assert_mem_eq(blob, r.b, r.n);
	/* The tenant names the profile (1 + 2 recent + 0), which is inline. */
	raw_refs(&r, 0, 3, RAW_TIME - 2);
	ck_assert_int_eq(ssi_state_decode(&st, r.b, r.n), 0);
	ck_assert_int_eq(st.segment_key[SSI_SEG_TENANT].at_ms, RAW_TIME - 7);
	ck_assert_uint_eq(st.segment_key[SSI_SEG_TENANT].fp, 77);
	ck_assert_int_eq(ssi_state_encode(&st, blob, sizeof(blob)), (long)r.n);
	ck_assert_mem_eq(blob, r.b, r.n);
	/* Refs past the recent entries and the registers before them. */
	raw_refs(&r, 3, 1, RAW_TIME - 2);
	ck_assert_int_eq(ssi_state_decode(&st, r.b, r.n), -EBADMSG);
	raw_refs(&r, 1, 4, RAW_TIME - 2);
	ck_assert_int_eq(ssi_state_decode(&st, r.b, r.n), -EBADMSG);
	/* Not the smallest: the profile's key is recent[1], which the tenant must name. */
	raw_refs(&r, 2, 3, RAW_TIME - 2);
	ck_assert_int_eq(ssi_state_decode(&st, r.b, r.n), -EBADMSG);
	/* Inline although a ref names it: the team's key is recent[1]'s. */
	raw_refs(&r, 1, 1, RAW_TIME + 999);
	ck_assert_int_eq(ssi_state_decode(&st, r.b, r.n), 0);
	raw_refs(&r, 1, 1, RAW_TIME + 1000);
	ck_assert_int_eq(ssi_state_decode(&st, r.b, r.n), -EBADMSG);
	ck_assert(is_empty(&st));
}
END_TEST

START_TEST (newer_version_is_refused) {
	struct ssi_state st;
	struct raw r;

	/* Only the framing is common to all versions; the body can be anything. */
	for (int version = SSI_STATE_VERSION + 1; version <= 255; version++) {
		r.n = 0;
		raw_u8(&r, 'S');
		raw_u8(&r, 'I');
		raw_u8(&r, (uint8_t)version);
		raw_u8(&r, 0xff);
		raw_seal(&r);
		make_typical(&st);
		ck_assert_int_eq(ssi_state_decode(&st, r.b, r.n), -EPROTONOSUPPORT);
		ck_assert(is_empty(&st));
	}
	/* A newer version without a body at all. */
	r.n = 0;
	raw_u8(&r, 'S');
	raw_u8(&r, 'I');
	raw_u8(&r, SSI_STATE_VERSION + 1);
	raw_seal(&r);
	ck_assert_int_eq(ssi_state_decode(&st, r.b, r.n), -EPROTONOSUPPORT);
	/* The same bytes with a broken checksum are damage, not a newer build. */
	r.b[r.n - 1] ^= 1;
	ck_assert_int_eq(ssi_state_decode(&st, r.b, r.n), -EBADMSG);
}
END_TEST

/* One broken invariant each, applied to a typical state. */
enum bad_state {
	BAD_ROWS_DESCENDING,
	BAD_ROWS_SAME_DAY,
	BAD_ROW_EMPTY,
	BAD_ROW_MASK_WITHOUT_COUNT,
	BAD_ROW_COUNT_WITHOUT_MASK,
	BAD_ROW_MASK_UNKNOWN_BIT,
	BAD_ROWS_TOO_MANY,
	BAD_ROWS_MISSING,
	BAD_RECENT_DESCENDING,
	BAD_RECENT_REPEATED,
	BAD_RECENT_TOO_MANY,
	BAD_MARKS_TOO_MANY,
	BAD_MARKS_SAME_PARTITION,
	BAD_PROFILE_UNWRITTEN_WITH_FIELDS,
	BAD_PROFILE_UNWRITTEN_WITH_FP,
	BAD_SEGMENT_UNWRITTEN_WITH_TEXT,
	BAD_SEGMENT_UNWRITTEN_WITH_FP,
	BAD_SEGMENT_UNTERMINATED,
	BAD__COUNT
};

static void break_state(struct ssi_state *st, enum bad_state b)
{
	switch (b) {
	case BAD_ROWS_DESCENDING:
		st->rows[5].day = st->rows[4].day - 1;
		break;
	case BAD_ROWS_SAME_DAY:
		st->rows[5].day = st->rows[4].day;
		break;
	case BAD_ROW_EMPTY:
		memset(st->rows[3].count, 0, sizeof(st->rows[3].count));
		st->rows[3].mask = 0;
		break;
	case BAD_ROW_MASK_WITHOUT_COUNT:
		st->rows[3].count[SSI_C_SESSION] = 0;
		break;
	case BAD_ROW_COUNT_WITHOUT_MASK:
		st->rows[3].mask &= ~(UINT32_C(1) << SSI_C_SESSION);
		break;
	case BAD_ROW_MASK_UNKNOWN_BIT:
		st->rows[3].mask |= UINT32_C(1) << SSI_C__COUNT;
		break;
	case BAD_ROWS_TOO_MANY:
		alloc_rows(st, SSI_WINDOW_MAX_DAYS + 1);
		for (uint32_t i = 0; i < st->nrows; i++) {
			st->rows[i].day = (int32_t)i;
			row_set(&st->rows[i], SSI_C_SESSION, 1);
		}
		break;
	case BAD_ROWS_MISSING:
		free(st->rows);
		st->rows = NULL;
		break;
	case BAD_RECENT_DESCENDING:
		st->recent[6].at_ms = st->recent[5].at_ms - 1;
		break;
	case BAD_RECENT_REPEATED:
		st->recent[6] = st->recent[5];
		break;
	case BAD_RECENT_TOO_MANY:
		st->nrecent = SSI_DEDUP_MAX + 1;
		break;
	case BAD_MARKS_TOO_MANY:
		st->nmarks = SSI_MARKS_MAX + 1;
		break;
	case BAD_MARKS_SAME_PARTITION:
		st->nmarks = 2;
		st->marks[1] = (struct ssi_mark){st->marks[0].partition, 1};
		break;
	case BAD_PROFILE_UNWRITTEN_WITH_FIELDS:
		st->profile_key = (struct ssi_lww){INT64_MIN, 0};
		break;
	case BAD_PROFILE_UNWRITTEN_WITH_FP:
		st->profile = (struct ssi_profile){0};
		st->profile_key.at_ms = INT64_MIN;
		break;
	case BAD_SEGMENT_UNWRITTEN_WITH_TEXT:
		st->segment_key[SSI_SEG_TEAM] = (struct ssi_lww){INT64_MIN, 0};
		break;
	case BAD_SEGMENT_UNWRITTEN_WITH_FP:
		st->segment[SSI_SEG_TEAM][0] = '\0';
		st->segment_key[SSI_SEG_TEAM].at_ms = INT64_MIN;
		break;
	case BAD_SEGMENT_UNTERMINATED:
		memset(st->segment[SSI_SEG_INDUSTRY], 'z', sizeof(st->segment[SSI_SEG_INDUSTRY]));
		break;
	case BAD__COUNT:
		break;
	}
}

START_TEST (encoder_refuses_broken_state) {
	struct ssi_state st;

	make_typical(&st);
	break_state(&st, (enum bad_state)_i);
	ck_assert_int_eq(ssi_state_encode(&st, blob, sizeof(blob)), -EINVAL);
	ck_assert_uint_eq(ssi_state_encoded_size(&st), 0);
	if (!st.rows)
		st.nrows = 0;
	ssi_state_clear(&st);
}
END_TEST

Suite *codec_suite(void)
{
	Suite *s = suite_create("codec");
	TCase *tc = tcase_create("codec");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, crc32c_matches_known_values);
	tcase_add_test(tc, empty_state_is_twelve_bytes);
	tcase_add_test(tc, typical_and_worst_fit_their_budgets);
	tcase_add_test(tc, largest_state_fits_encoded_max);
	tcase_add_test(tc, random_states_round_trip);
	tcase_add_test(tc, decode_replaces_previous_content);
	tcase_add_test(tc, small_buffer_is_enobufs);
	tcase_add_test(tc, every_truncation_fails);
	tcase_add_test(tc, every_truncation_with_valid_crc_fails);
	tcase_add_test(tc, every_bit_flip_fails);
	tcase_add_test(tc, mutated_blobs_decode_canonically_or_fail);
	tcase_add_test(tc, hand_built_valid_blob_decodes);
	tcase_add_loop_test(tc, hand_built_corrupt_blob_fails, RAW_VALID + 1, RAW__COUNT);
	tcase_add_test(tc, key_refs_are_canonical);
	tcase_add_test(tc, newer_version_is_refused);
	tcase_add_loop_test(tc, encoder_refuses_broken_state, 0, BAD__COUNT);
	suite_add_tcase(s, tc);
	return s;
}
