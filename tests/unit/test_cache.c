/* ssid_cache: hits and misses, partial updates, partitions, eviction by age and size. */
#include <stdio.h>
#include <string.h>

#include <check.h>

#include "ssid_cache.h"
#include "suites.h"

static void fields(struct ssid_cache_field *f, const char *a, const char *b)
{
	memset(f, 0, SSID_CACHE_FIELDS * sizeof(*f));
	f[0] = (struct ssid_cache_field){a, a ? strlen(a) : 0, a != NULL};
	f[1] = (struct ssid_cache_field){b, b ? strlen(b) : 0, b != NULL};
}

static void expect(struct ssid_cache *c, const char *id, const char *a, const char *b)
{
	struct ssid_cache_field f[SSID_CACHE_FIELDS];

	ck_assert_msg(ssid_cache_get(c, id, f), "%s is not cached", id);
	ck_assert(f[0].has == (a != NULL));
	if (a)
		ck_assert(f[0].len == strlen(a) && memcmp(f[0].p, a, f[0].len) == 0);
	ck_assert(f[1].has == (b != NULL));
	if (b)
		ck_assert(f[1].len == strlen(b) && memcmp(f[1].p, b, f[1].len) == 0);
	for (int i = 2; i < SSID_CACHE_FIELDS; i++)
		ck_assert(!f[i].has);
}

START_TEST (test_put_get_partial) {
	struct ssid_cache *c = NULL;
	struct ssid_cache_field f[SSID_CACHE_FIELDS];
	struct ssid_cache_stats st;
	char buf[8];

	ck_assert_int_eq(ssid_cache_new(&c, 1 << 20), 0);
	ck_assert(!ssid_cache_get(c, "u1", f));
	/* A partial write of a rep that is not cached stores nothing. */
	fields(f, "state", NULL);
	ck_assert_int_eq(ssid_cache_put(c, "u1", 0, f, false), 0);
	ck_assert(!ssid_cache_get(c, "u1", f));
	/* A whole record, then a partial write replaces only what it names. */
	snprintf(buf, sizeof(buf), "s1");
	fields(f, buf, "p1");
	ck_assert_int_eq(ssid_cache_put(c, "u1", 0, f, true), 0);
	buf[1] = 'X'; /* the cache holds its own copy */
	expect(c, "u1", "s1", "p1");
	fields(f, NULL, "p2");
	ck_assert_int_eq(ssid_cache_put(c, "u1", 0, f, false), 0);
	expect(c, "u1", "s1", "p2");
	/* A whole record with a field absent removes it; an empty value is a value. */
	fields(f, "", NULL);
	ck_assert_int_eq(ssid_cache_put(c, "u1", 0, f, true), 0);
	expect(c, "u1", "", NULL);
	ssid_cache_get_stats(c, &st);
	ck_assert_uint_eq(st.entries, 1);
	ck_assert_uint_eq(st.misses, 2);
	ck_assert_uint_eq(st.hits, 3);
	ssid_cache_drop(c, "u1");
	ck_assert(!ssid_cache_get(c, "u1", f));
	ssid_cache_get_stats(c, &st);
	ck_assert_uint_eq(st.entries, 0);
	ck_assert_uint_eq(st.bytes, 0);
	ssid_cache_free(c);
}
END_TEST

START_TEST (test_partitions_and_clear) {
	struct ssid_cache *c = NULL;
	struct ssid_cache_field f[SSID_CACHE_FIELDS];
	char id[16];

	ck_assert_int_eq(ssid_cache_new(&c, 64 << 20), 0);
	for (int i = 0; i < 10000; i++) {
		snprintf(id, sizeof(id), "rep-%d", i);
		fields(f, id, "x");
		ck_assert_int_eq(ssid_cache_put(c, id, i % 4, f, true), 0);
	}
	/* A rep moves to another partition with its next write. */
	fields(f, NULL, "moved");
	ck_assert_int_eq(ssid_cache_put(c, "rep-1", 2, f, false), 0);
	ssid_cache_drop_partition(c, 1);
	for (int i = 0; i < 10000; i++) {
		snprintf(id, sizeof(id), "rep-%d", i);
		ck_assert(ssid_cache_get(c, id, f) == (i % 4 != 1 || i == 1));
	}
	ssid_cache_clear(c);
	ck_assert(!ssid_cache_get(c, "rep-0", f));
	ssid_cache_free(c);
}
END_TEST

START_TEST (test_bounded) {
	struct ssid_cache *c = NULL;
	struct ssid_cache_field f[SSID_CACHE_FIELDS];
	struct ssid_cache_stats st;
	static char big[1000];
	char id[16];

	memset(big, 'b', sizeof(big) - 1);
	ck_assert_int_eq(ssid_cache_new(&c, 100000), 0);
	for (int i = 0; i < 1000; i++) {
		snprintf(id, sizeof(id), "rep-%d", i);
		fields(f, big, NULL);
		ck_assert_int_eq(ssid_cache_put(c, id, 0, f, true), 0);
		ssid_cache_get_stats(c, &st);
		ck_assert_uint_le(st.bytes, 100000);
	}
	/* The newest stay, the oldest went. */
	ck_assert_uint_gt(st.evictions, 800);
	ck_assert(ssid_cache_get(c, "rep-999", f));
	ck_assert(!ssid_cache_get(c, "rep-0", f));
	ssid_cache_free(c);
	/* A cache of 0 bytes keeps nothing. */
	ck_assert_int_eq(ssid_cache_new(&c, 0), 0);
	fields(f, "s", "p");
	ck_assert_int_eq(ssid_cache_put(c, "u", 0, f, true), 0);
	ck_assert(!ssid_cache_get(c, "u", f));
	ssid_cache_free(c);
	ssid_cache_free(NULL);
}
END_TEST

/* A record rewritten with longer, shorter and partly kept values, fed its own bytes. */
START_TEST (test_rewrite_in_place) {
	struct ssid_cache *c;
	struct ssid_cache_field f[SSID_CACHE_FIELDS], g[SSID_CACHE_FIELDS];
	char big[1000];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(ssid_cache_new(&c, 1 << 20), 0);
	fields(f, "short", "kept");
	ck_assert_int_eq(ssid_cache_put(c, "u", 3, f, true), 0);
	fields(f, big, NULL);
	ck_assert_int_eq(ssid_cache_put(c, "u", 3, f, false), 0);
	expect(c, "u", big, "kept");
	fields(f, "s", NULL);
	ck_assert_int_eq(ssid_cache_put(c, "u", 3, f, false), 0);
	expect(c, "u", "s", "kept");
	/* Values that point into the entry itself, swapped. */
	ck_assert(ssid_cache_get(c, "u", g));
	memset(f, 0, sizeof(f));
	f[0] = g[1];
	f[1] = g[0];
	ck_assert_int_eq(ssid_cache_put(c, "u", 3, f, true), 0);
	expect(c, "u", "kept", "s");
	ssid_cache_drop_partition(c, 3);
	ck_assert(!ssid_cache_get(c, "u", g));
	ssid_cache_free(c);
}
END_TEST

Suite *cache_suite(void)
{
	Suite *s = suite_create("cache");
	TCase *tc = tcase_create("cache");

	tcase_add_test(tc, test_put_get_partial);
	tcase_add_test(tc, test_partitions_and_clear);
	tcase_add_test(tc, test_bounded);
	tcase_add_test(tc, test_rewrite_in_place);
	suite_add_tcase(s, tc);
	return s;
}
