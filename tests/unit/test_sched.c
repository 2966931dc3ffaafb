/* ssid_sched: set/get/has, count, due order and max, slices, a random walk against an oracle. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "ssid_sched.h"
#include "ssid_store.h"
#include "suites.h"

/* ids[0..n) equal want[0..nwant) and ids[n] is NULL. */
static void expect_ids(char **ids, size_t n, const char *const *want, size_t nwant,
		       const char *what)
{
	ck_assert_msg(ids != NULL, "%s: no array", what);
	ck_assert_msg(n == nwant, "%s: %zu ids, want %zu", what, n, nwant);
	for (size_t k = 0; k < n; k++) {
		ck_assert_msg(ids[k] != NULL, "%s: ids[%zu] is NULL", what, k);
		ck_assert_msg(strcmp(ids[k], want[k]) == 0, "%s: ids[%zu] is \"%s\", want \"%s\"",
			      what, k, ids[k], want[k]);
	}
	ck_assert_msg(ids[n] == NULL, "%s: ids[%zu] is not the terminating NULL", what, n);
}

static void expect_due(const struct ssid_sched *sc, int64_t now, size_t max,
		       const char *const *want, size_t nwant, const char *what)
{
	char **ids = NULL;
	size_t n = 99;

	ck_assert_msg(ssid_sched_due(sc, now, max, &ids, &n) == 0, "%s: due failed", what);
	expect_ids(ids, n, want, nwant, what);
	ssid_store_ids_free(ids);
}

static void expect_slice(const struct ssid_sched *sc, size_t from, size_t count,
			 const char *const *want, size_t nwant, const char *what)
{
	char **ids = NULL;
	size_t n = 99;

	ck_assert_msg(ssid_sched_slice(sc, from, count, &ids, &n) == 0, "%s: slice failed", what);
	expect_ids(ids, n, want, nwant, what);
	ssid_store_ids_free(ids);
}

static int set_s(struct ssid_sched *sc, const char *id, int64_t due)
{
	return ssid_sched_set(sc, id, strlen(id), due);
}

static int64_t get_s(const struct ssid_sched *sc, const char *id, size_t len)
{
	int64_t due = -42;

	ck_assert_msg(ssid_sched_get(sc, id, len, &due), "id of %zu bytes (\"%.*s\") is absent",
		      len, (int)len, id);
	ck_assert_msg(ssid_sched_has(sc, id, len), "get finds an id of %zu bytes, has does not",
		      len);
	return due;
}

START_TEST (test_set_get_has) {
	struct ssid_sched *sc = NULL;
	char big[256];
	int64_t due = 7;

	ck_assert_int_eq(ssid_sched_new(&sc), 0);
	ck_assert_uint_eq(ssid_sched_size(sc), 0);
	ck_assert(!ssid_sched_has(sc, "rep-1", 5));
	ck_assert_msg(!ssid_sched_get(sc, "rep-1", 5, &due), "get of an absent id is true");
	ck_assert_msg(due == 7, "get of an absent id wrote %lld", (long long)due);

	/* New: 1; again: 0 and the due changes, the size does not. */
	ck_assert_int_eq(set_s(sc, "rep-1", 100), 1);
	ck_assert_int_eq(get_s(sc, "rep-1", 5), 100);
	ck_assert_int_eq(set_s(sc, "rep-1", 200), 0);
	ck_assert_int_eq(get_s(sc, "rep-1", 5), 200);
	ck_assert_int_eq(set_s(sc, "rep-1", SSID_DUE_NEVER), 0);
	ck_assert_msg(get_s(sc, "rep-1", 5) == SSID_DUE_NEVER, "due NEVER not kept");
	ck_assert_int_eq(set_s(sc, "rep-1", INT64_MIN), 0);
	ck_assert_msg(get_s(sc, "rep-1", 5) == INT64_MIN, "due INT64_MIN not kept");
	ck_assert_uint_eq(ssid_sched_size(sc), 1);

	/* Lengths 0 and 256 are refused, 255 is taken. */
	memset(big, 'x', sizeof(big));
	ck_assert_int_eq(ssid_sched_set(sc, "", 0, 1), -EINVAL);
	ck_assert_int_eq(ssid_sched_set(sc, big, 256, 1), -EINVAL);
	ck_assert_int_eq(ssid_sched_set(sc, big, 1000, 1), -EINVAL);
	ck_assert_uint_eq(ssid_sched_size(sc), 1);
	ck_assert(!ssid_sched_has(sc, "", 0));
	ck_assert(!ssid_sched_has(sc, big, 256));
	ck_assert_int_eq(ssid_sched_set(sc, big, 255, 5), 1);
	ck_assert_int_eq(get_s(sc, big, 255), 5);
	ck_assert_msg(!ssid_sched_has(sc, big, 254), "a 254-byte prefix of a 255-byte id is found");
	ck_assert_msg(!ssid_sched_has(sc, big, 256), "has accepts 256 bytes");

	/* Ids that differ only in their last byte are distinct. */
	ck_assert_int_eq(set_s(sc, "abcX", 10), 1);
	ck_assert_int_eq(set_s(sc, "abcY", 11), 1);
	ck_assert_int_eq(get_s(sc, "abcX", 4), 10);
	ck_assert_int_eq(get_s(sc, "abcY", 4), 11);
	ck_assert(!ssid_sched_has(sc, "abcZ", 4));
	/* Prefixes of each other are distinct, whatever order they come in. */
	ck_assert_int_eq(set_s(sc, "abcd", 20), 1);
	ck_assert_int_eq(set_s(sc, "ab", 21), 1);
	ck_assert(!ssid_sched_has(sc, "abc", 3));
	ck_assert_int_eq(set_s(sc, "abc", 22), 1);
	ck_assert_int_eq(set_s(sc, "a", 23), 1);
	ck_assert_int_eq(get_s(sc, "abcd", 4), 20);
	ck_assert_int_eq(get_s(sc, "ab", 2), 21);
	ck_assert_int_eq(get_s(sc, "abc", 3), 22);
	ck_assert_int_eq(get_s(sc, "a", 1), 23);
	ck_assert(!ssid_sched_has(sc, "abcde", 5));
	/*
	 * "x" and "xFg\"XR!" have the same 32-bit FNV-1a hash (the table's): only
	 * the length tells them apart, whichever comes first. With "x" first and
	 * "Fg\"XR!" next, the ids' bytes lie in a row as the longer one's.
	 */
	{
		struct ssid_sched *a = NULL, *b = NULL;

		ck_assert_int_eq(ssid_sched_new(&a), 0);
		ck_assert_int_eq(ssid_sched_set(a, "xFg\"XR!", 7, 1), 1);
		ck_assert_msg(!ssid_sched_has(a, "x", 1),
			      "\"x\" found when only \"xFg\\\"XR!\" is in");
		ck_assert_int_eq(ssid_sched_set(a, "x", 1, 2), 1);
		ck_assert_int_eq(get_s(a, "xFg\"XR!", 7), 1);
		ck_assert_int_eq(get_s(a, "x", 1), 2);
		ssid_sched_free(a);
		ck_assert_int_eq(ssid_sched_new(&b), 0);
		ck_assert_int_eq(ssid_sched_set(b, "x", 1, 3), 1);
		ck_assert_int_eq(ssid_sched_set(b, "Fg\"XR!", 6, 4), 1);
		ck_assert_msg(!ssid_sched_has(b, "xFg\"XR!", 7),
			      "\"xFg\\\"XR!\" found when only \"x\" and \"Fg\\\"XR!\" are in");
		ck_assert_int_eq(ssid_sched_set(b, "xFg\"XR!", 7, 5), 1);
		ck_assert_int_eq(get_s(b, "x", 1), 3);
		ck_assert_int_eq(get_s(b, "Fg\"XR!", 6), 4);
		ck_assert_int_eq(get_s(b, "xFg\"XR!", 7), 5);
		ck_assert_uint_eq(ssid_sched_size(b), 3);
		ssid_sched_free(b);
	}
	/* The id is len bytes: embedded NULs and bytes >= 0x80 count. */
	ck_assert_int_eq(ssid_sched_set(sc, "a\0b", 3, 30), 1);
	ck_assert_int_eq(ssid_sched_set(sc, "a\0c", 3, 31), 1);
	ck_assert_int_eq(ssid_sched_set(sc, "a\0", 2, 32), 1);
	ck_assert_int_eq(ssid_sched_set(sc, "\xff\x80", 2, 33), 1);
	ck_assert_int_eq(ssid_sched_set(sc, "\xff\x81", 2, 34), 1);
	ck_assert_int_eq(get_s(sc, "a\0b", 3), 30);
	ck_assert_int_eq(get_s(sc, "a\0c", 3), 31);
	ck_assert_int_eq(get_s(sc, "a\0", 2), 32);
	ck_assert_int_eq(get_s(sc, "a", 1), 23);
	ck_assert_int_eq(get_s(sc, "\xff\x80", 2), 33);
	ck_assert_int_eq(get_s(sc, "\xff\x81", 2), 34);
	ck_assert_uint_eq(ssid_sched_size(sc), 13);
	/* The schedule holds its own copy of the id. */
	{
		char buf[] = "copy";

		ck_assert_int_eq(set_s(sc, buf, 40), 1);
		buf[0] = 'C';
		ck_assert_int_eq(get_s(sc, "copy", 4), 40);
		ck_assert(!ssid_sched_has(sc, buf, 4));
	}
	ssid_sched_free(sc);
	ssid_sched_free(NULL);
}
END_TEST

START_TEST (test_size_count) {
	struct ssid_sched *sc = NULL;

	ck_assert_int_eq(ssid_sched_new(&sc), 0);
	ck_assert_uint_eq(ssid_sched_count(sc, INT64_MAX), 0);
	ck_assert_int_eq(set_s(sc, "n", SSID_DUE_NEVER), 1);
	ck_assert_int_eq(set_s(sc, "m", -5), 1);
	ck_assert_int_eq(set_s(sc, "a", 10), 1);
	ck_assert_int_eq(set_s(sc, "b", 20), 1);
	ck_assert_int_eq(set_s(sc, "c", 20), 1);
	ck_assert_int_eq(set_s(sc, "d", 30), 1);
	ck_assert_uint_eq(ssid_sched_size(sc), 6);
	{
		static const struct {
			int64_t now;
			size_t want;
		} cases[] = {
		    {INT64_MIN, 0},
		    {-6, 0},
		    {-5, 1},
		    {9, 1},
		    {10, 2},
		    {19, 2},
		    {20, 4},
		    {29, 4},
		    {30, 5},
		    {31, 5},
		    {0, 1},
		    {-1, 1},
		    {INT64_MAX - 1, 5},
		    {INT64_MAX, 6},
		};

		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
			ck_assert_msg(ssid_sched_count(sc, cases[i].now) == cases[i].want,
				      "count(%lld) = %zu, want %zu", (long long)cases[i].now,
				      ssid_sched_count(sc, cases[i].now), cases[i].want);
	}
	/* A new due moves the count, not the size. */
	ck_assert_int_eq(set_s(sc, "d", 5), 0);
	ck_assert_int_eq(set_s(sc, "n", 10), 0);
	ck_assert_uint_eq(ssid_sched_size(sc), 6);
	ck_assert_uint_eq(ssid_sched_count(sc, 9), 2);
	ck_assert_uint_eq(ssid_sched_count(sc, 10), 4);
	ck_assert_uint_eq(ssid_sched_count(sc, INT64_MAX - 1), 6);
	ck_assert_int_eq(set_s(sc, "m", SSID_DUE_NEVER), 0);
	ck_assert_uint_eq(ssid_sched_count(sc, INT64_MAX - 1), 5);
	ck_assert_uint_eq(ssid_sched_count(sc, INT64_MAX), 6);
	/* Refused sets change nothing. */
	ck_assert_int_eq(ssid_sched_set(sc, "", 0, 0), -EINVAL);
	ck_assert_uint_eq(ssid_sched_size(sc), 6);
	ck_assert_uint_eq(ssid_sched_count(sc, INT64_MAX), 6);
	ssid_sched_free(sc);
}
END_TEST

START_TEST (test_due) {
	struct ssid_sched *sc = NULL;

	ck_assert_int_eq(ssid_sched_new(&sc), 0);
	expect_due(sc, INT64_MAX, SIZE_MAX, NULL, 0, "empty schedule");
	/* Roster: c a b t1 t0 n z. */
	ck_assert_int_eq(set_s(sc, "c", 30), 1);
	ck_assert_int_eq(set_s(sc, "a", 10), 1);
	ck_assert_int_eq(set_s(sc, "b", 20), 1);
	ck_assert_int_eq(set_s(sc, "t1", 20), 1);
	ck_assert_int_eq(set_s(sc, "t0", 20), 1);
	ck_assert_int_eq(set_s(sc, "n", SSID_DUE_NEVER), 1);
	ck_assert_int_eq(set_s(sc, "z", 10), 1);
	{
		static const char *const w25[] = {"a", "z", "b", "t1", "t0"};
		static const char *const wall[] = {"a", "z", "b", "t1", "t0", "c", "n"};

		expect_due(sc, 25, 100, w25, 5,
			   "due(25, 100): earliest first, ties in roster order");
		expect_due(sc, 25, 5, w25, 5, "due(25, 5): max equal to the count");
		expect_due(sc, 25, 3, w25, 3, "due(25, 3): the 3 earliest");
		expect_due(sc, 25, 1, w25, 1, "due(25, 1)");
		expect_due(sc, 25, 0, NULL, 0, "due(25, 0): nothing, still an array");
		expect_due(sc, 9, 100, NULL, 0, "due(9): none due yet");
		expect_due(sc, 10, 100, w25, 2, "due(10): due == now is due");
		expect_due(sc, 20, 100, w25, 5, "due(20)");
		expect_due(sc, INT64_MAX - 1, SIZE_MAX, wall, 6, "due(INT64_MAX - 1): not never");
		expect_due(sc, INT64_MAX, SIZE_MAX, wall, 7, "due(INT64_MAX): never too");
	}
	/* A new due keeps the roster position: a ties b, t1, t0 and comes first. */
	ck_assert_int_eq(set_s(sc, "a", 20), 0);
	ck_assert_int_eq(set_s(sc, "t0", 15), 0);
	{
		static const char *const w[] = {"z", "t0", "a", "b", "t1"};

		expect_due(sc, 25, 100, w, 5, "due(25) after moving a to 20 and t0 to 15");
	}
	ssid_sched_free(sc);
}
END_TEST

START_TEST (test_slice) {
	static const char *const r[] = {"r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9"};
	struct ssid_sched *sc = NULL;

	ck_assert_int_eq(ssid_sched_new(&sc), 0);
	expect_slice(sc, 0, 10, NULL, 0, "slice of an empty schedule");
	/* Dues falling, so roster order is not due order. */
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(set_s(sc, r[i], 100 - i), 1);
	ck_assert_int_eq(set_s(sc, "r3", 1000), 0); /* keeps its position */
	expect_slice(sc, 0, 4, r, 4, "slice(0, 4)");
	expect_slice(sc, 4, 4, r + 4, 4, "slice(4, 4)");
	expect_slice(sc, 8, 4, r + 8, 2, "slice(8, 4): the tail is shorter");
	expect_slice(sc, 9, 1, r + 9, 1, "slice(9, 1)");
	expect_slice(sc, 10, 4, NULL, 0, "slice(10, 4): at the end");
	expect_slice(sc, 11, 4, NULL, 0, "slice(11, 4): beyond the end");
	expect_slice(sc, SIZE_MAX, SIZE_MAX, NULL, 0, "slice(SIZE_MAX, SIZE_MAX)");
	expect_slice(sc, 3, SIZE_MAX, r + 3, 7, "slice(3, SIZE_MAX): no overflow");
	expect_slice(sc, 0, 0, NULL, 0, "slice(0, 0)");
	expect_slice(sc, 0, 10, r, 10, "slice(0, 10): the whole roster");
	ssid_sched_free(sc);
}
END_TEST

/* xorshift64*: a fixed seed keeps the walk the same on every run. */
static uint64_t xs_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

static uint64_t xs_below(uint64_t *s, uint64_t n)
{
	return xs_next(s) % n;
}

#define POOL 3000
#define OPS  20000

struct oracle_id {
	char id[256];
	size_t len;
	bool in;
	int64_t due;
	size_t pos; /* roster position: first insertion */
};

static struct oracle_id pool[POOL];
static size_t roster[POOL]; /* pool index at each roster position */
static size_t nroster;

static int by_due_pos(const void *a, const void *b)
{
	const struct oracle_id *x = &pool[*(const size_t *)a], *y = &pool[*(const size_t *)b];

	if (x->due != y->due)
		return x->due < y->due ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* ids[k] is pool[want[k]]'s bytes, for k < n; ids[n] NULL. */
static void expect_pool_ids(char **ids, size_t n, const size_t *want, size_t nwant,
			    const char *what, int op)
{
	ck_assert_msg(ids != NULL, "op %d: %s: no array", op, what);
	ck_assert_msg(n == nwant, "op %d: %s: %zu ids, want %zu", op, what, n, nwant);
	for (size_t k = 0; k < n; k++) {
		const struct oracle_id *o = &pool[want[k]];

		ck_assert_msg(ids[k] && strlen(ids[k]) == o->len &&
				  memcmp(ids[k], o->id, o->len) == 0,
			      "op %d: %s: ids[%zu] is not pool id %zu (%zu bytes, due %lld)", op,
			      what, k, want[k], o->len, (long long)o->due);
	}
	ck_assert_msg(ids[n] == NULL, "op %d: %s: ids[%zu] is not NULL", op, what, n);
}

static int64_t random_due(uint64_t *s)
{
	uint64_t r = xs_below(s, 100);

	if (r < 8)
		return SSID_DUE_NEVER;
	if (r < 10)
		return INT64_MIN + (int64_t)xs_below(s, 3);
	return (int64_t)xs_below(s, 1000) - 100; /* narrow: many ties */
}

static int64_t random_now(uint64_t *s)
{
	uint64_t r = xs_below(s, 10);

	if (r == 0)
		return INT64_MAX;
	if (r == 1)
		return INT64_MAX - 1;
	if (r == 2)
		return INT64_MIN;
	if (r < 6 && nroster) /* exactly some id's due: the boundary */
		return pool[roster[xs_below(s, nroster)]].due;
	return (int64_t)xs_below(s, 1200) - 150;
}

static void check_against_oracle(const struct ssid_sched *sc, uint64_t *s, int op)
{
	static size_t want[POOL];
	char **ids = NULL;
	size_t n, m;

	ck_assert_msg(ssid_sched_size(sc) == nroster, "op %d: size %zu, want %zu", op,
		      ssid_sched_size(sc), nroster);
	for (int t = 0; t < 4; t++) {
		int64_t now = random_now(s);
		size_t max = xs_below(s, 3) == 0 ? SIZE_MAX : xs_below(s, nroster + 2);

		m = 0;
		for (size_t k = 0; k < nroster; k++)
			if (pool[roster[k]].due <= now)
				want[m++] = roster[k];
		ck_assert_msg(ssid_sched_count(sc, now) == m, "op %d: count(%lld) = %zu, want %zu",
			      op, (long long)now, ssid_sched_count(sc, now), m);
		qsort(want, m, sizeof(want[0]), by_due_pos);
		if (m > max)
			m = max;
		ck_assert_msg(ssid_sched_due(sc, now, max, &ids, &n) == 0, "op %d: due failed", op);
		expect_pool_ids(ids, n, want, m, "due", op);
		ssid_store_ids_free(ids);
	}
	/* The whole roster, in slices of a random size. */
	{
		size_t step = 1 + xs_below(s, 700), from = 0;

		for (;;) {
			size_t left = nroster > from ? nroster - from : 0;

			m = left < step ? left : step;
			ck_assert_msg(ssid_sched_slice(sc, from, step, &ids, &n) == 0,
				      "op %d: slice failed", op);
			expect_pool_ids(ids, n, roster + from, m, "slice", op);
			ssid_store_ids_free(ids);
			if (n == 0)
				break;
			from += n;
		}
		ck_assert_msg(from == nroster, "op %d: the slices gave %zu ids, want %zu", op, from,
			      nroster);
	}
}

START_TEST (test_random_walk) {
	struct ssid_sched *sc = NULL;
	uint64_t s = 0x5eed5c4edULL;

	/* A pool of distinct NUL-free ids, 1..40 bytes; every 97th up to 255. */
	for (size_t i = 0; i < POOL; i++) {
		struct oracle_id *o = &pool[i];
		bool dup;

		do {
			o->len = i % 97 == 0 ? 200 + xs_below(&s, 56) : 1 + xs_below(&s, 40);
			for (size_t b = 0; b < o->len; b++)
				o->id[b] = (char)(1 + xs_below(&s, 255));
			dup = false;
			for (size_t j = 0; j < i && !dup; j++)
				dup =
				    pool[j].len == o->len && memcmp(pool[j].id, o->id, o->len) == 0;
		} while (dup);
		o->in = false;
	}
	nroster = 0;
	ck_assert_int_eq(ssid_sched_new(&sc), 0);
	check_against_oracle(sc, &s, -1);
	for (int op = 0; op < OPS; op++) {
		size_t i = xs_below(&s, POOL);
		struct oracle_id *o = &pool[i];
		uint64_t kind = xs_below(&s, 10);
		int64_t due;

		if (kind < 7) {
			int rc;

			due = random_due(&s);
			rc = ssid_sched_set(sc, o->id, o->len, due);
			ck_assert_msg(rc == (o->in ? 0 : 1),
				      "op %d: set of pool id %zu gave %d, want %d", op, i, rc,
				      o->in ? 0 : 1);
			if (!o->in) {
				o->in = true;
				o->pos = nroster;
				roster[nroster++] = i;
			}
			o->due = due;
		}
		due = -42;
		ck_assert_msg(ssid_sched_get(sc, o->id, o->len, &due) == o->in,
			      "op %d: get of pool id %zu is %d, want %d", op, i, !o->in, o->in);
		ck_assert_msg(ssid_sched_has(sc, o->id, o->len) == o->in,
			      "op %d: has of pool id %zu is %d, want %d", op, i, !o->in, o->in);
		if (o->in)
			ck_assert_msg(due == o->due,
				      "op %d: get of pool id %zu gave %lld, want %lld", op, i,
				      (long long)due, (long long)o->due);
		/* A prefix of a pool id is not in unless it is itself a pool id that is in. */
		if (o->len > 1) {
			bool want = false;

			for (size_t j = 0; j < POOL; j++)
				if (pool[j].in && pool[j].len == o->len - 1 &&
				    memcmp(pool[j].id, o->id, o->len - 1) == 0)
					want = true;
			ck_assert_msg(ssid_sched_has(sc, o->id, o->len - 1) == want,
				      "op %d: has of pool id %zu less its last byte is %d", op, i,
				      !want);
		}
		if (op % 1000 == 999 || (op < 300 && op % 16 == 0))
			check_against_oracle(sc, &s, op);
	}
	check_against_oracle(sc, &s, OPS);
	ck_assert_msg(nroster > POOL * 9 / 10, "the walk put only %zu of %d ids in", nroster, POOL);
	ssid_sched_free(sc);
}
END_TEST

Suite *sched_suite(void)
{
	Suite *s = suite_create("sched");
	TCase *tc = tcase_create("sched");

	tcase_set_timeout(tc, 60); /* long loops take seconds under ASan beside other suites */

	tcase_add_test(tc, test_set_get_has);
	tcase_add_test(tc, test_size_count);
	tcase_add_test(tc, test_due);
	tcase_add_test(tc, test_slice);
	tcase_add_test(tc, test_random_walk);
	suite_add_tcase(s, tc);
	return s;
}
