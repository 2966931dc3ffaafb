/* ssid_conns: field c's encoding, adds and removals, spilling to the set, and a random walk. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "ssid_conns.h"
#include "suites.h"

/* The field's ids joined by spaces. */
static const char *ids_of(const struct ssid_conns *c)
{
	static char out[256];
	size_t at = 0, idlen, used = 0;
	const char *id;

	out[0] = '\0';
	while (ssid_conns_next(c->b, c->len, &at, &id, &idlen))
		used += (size_t)snprintf(out + used, sizeof(out) - used, "%s%.*s", used ? " " : "",
					 (int)idlen, id);
	return out;
}

static int add(struct ssid_conns *c, const char *id)
{
	return ssid_conns_add(c, id, strlen(id));
}

static int del(struct ssid_conns *c, const char *id)
{
	return ssid_conns_remove(c, id, strlen(id));
}

START_TEST (test_new_rep) {
	struct ssid_conns c;

	ck_assert_int_eq(ssid_conns_load(&c, NULL, 0, false), 0);
	ck_assert(c.dirty); /* written at the next save, so that absent means an older build's */
	ck_assert(!ssid_conns_spilled(&c));
	ck_assert_str_eq(ids_of(&c), "");
	c.dirty = false;
	ck_assert_int_eq(add(&c, "u-7"), 1);
	ck_assert_int_eq(add(&c, "u-10"), 1);
	ck_assert_int_eq(add(&c, "u-1"), 1);
	ck_assert_int_eq(add(&c, "u-10"), 0);
	ck_assert(c.dirty);
	ck_assert_str_eq(ids_of(&c), "u-1 u-10 u-7"); /* byte order, a prefix first */
	ck_assert(ssid_conns_valid(c.b, c.len));
	ck_assert_int_eq(c.len, 1 + 4 + 5 + 4);
	ck_assert_int_eq(del(&c, "u-10"), 1);
	ck_assert_int_eq(del(&c, "u-10"), 0);
	ck_assert_int_eq(del(&c, "nobody"), 0);
	ck_assert_str_eq(ids_of(&c), "u-1 u-7");
	ck_assert(!ssid_conns_spilled(&c));
}
END_TEST

START_TEST (test_spill) {
	struct ssid_conns c, back;
	char id[64];
	int added = 0;

	ck_assert_int_eq(ssid_conns_load(&c, NULL, 0, false), 0);
	for (;; added++) {
		snprintf(id, sizeof(id), "rep-%04d", added);
		if (add(&c, id) < 0)
			break;
	}
	/* 9 bytes an id after the flags byte: 7 fit in 64. */
	ck_assert_int_eq(added, 7);
	ck_assert(ssid_conns_spilled(&c));
	ck_assert_int_eq(c.len, 64);
	ck_assert(ssid_conns_valid(c.b, c.len));
	ck_assert_int_eq(add(&c, "rep-0000"), 0); /* in the field still */
	ck_assert_int_eq(del(&c, "rep-0003"), 1);
	ck_assert_int_eq(add(&c, "x"), 1); /* fits again; the flag stays */
	ck_assert(ssid_conns_spilled(&c));
	/* An id that can never fit goes to the set. */
	memset(id, 'a', 63);
	id[63] = '\0';
	ck_assert_int_eq(ssid_conns_load(&c, NULL, 0, false), 0);
	ck_assert_int_eq(add(&c, id), -ENOSPC);
	ck_assert(ssid_conns_spilled(&c));
	id[62] = '\0'; /* the longest that fits alone */
	ck_assert_int_eq(add(&c, id), 1);
	ck_assert_int_eq(c.len, 64);
	/* What is written reads back as it was. */
	ck_assert_int_eq(ssid_conns_load(&back, c.b, c.len, true), 0);
	ck_assert(!back.dirty);
	ck_assert_int_eq(back.len, c.len);
	ck_assert(memcmp(back.b, c.b, c.len) == 0);
}
END_TEST

START_TEST (test_older_and_unreadable) {
	static const struct {
		const char *b;
		size_t len;
	} bad[] = {
	    {"", 0},	     /* no flags byte */
	    {"\x02", 1},     /* unknown flag */
	    {"\x00\x00", 2}, /* empty id */
	    {"\x00\x03"
	     "ab",
	     4}, /* runs past the end */
	    {"\x00\x01"
	     "b\x01"
	     "a",
	     5}, /* out of order */
	    {"\x00\x01"
	     "a\x01"
	     "a",
	     5}, /* twice */
	    {"\x00\x02"
	     "a\x00",
	     4}, /* NUL inside */
	};
	struct ssid_conns c;
	char big[SSID_CONNS_PACKED_MAX + 1] = {0};

	/* A rep with a state but no field c: an older build's, its set holds everything. */
	ck_assert_int_eq(ssid_conns_load(&c, NULL, 0, true), 0);
	ck_assert(ssid_conns_spilled(&c) && c.dirty);
	ck_assert_int_eq(add(&c, "a"), 1);
	ck_assert(ssid_conns_valid(c.b, c.len));
	ck_assert(ssid_conns_valid("\x01", 1) && ssid_conns_valid("\x00\x01"
								  "a\x02"
								  "ab",
								  6));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(!ssid_conns_valid(bad[i].b, bad[i].len), "case %zu", i);
		ck_assert_int_eq(ssid_conns_load(&c, bad[i].b, bad[i].len, true), -EBADMSG);
		ck_assert(ssid_conns_spilled(&c) && !c.dirty && c.len == 0);
		/* Never written over: everything goes to the set. */
		ck_assert_int_eq(add(&c, "a"), -ENOSPC);
		ck_assert_int_eq(del(&c, "a"), 0);
		ck_assert(!c.dirty && c.len == 0);
	}
	big[1] = SSID_CONNS_PACKED_MAX - 1; /* one byte too many in all */
	memset(big + 2, 'z', SSID_CONNS_PACKED_MAX - 1);
	ck_assert(!ssid_conns_valid(big, sizeof(big)));
}
END_TEST

/*
 * Random adds and removals over a few ids of varied lengths, applied as
 * ssid_store applies them (the set takes what does not fit; a removal also
 * leaves the set when spilled): the field and the set together always hold
 * exactly the ids a plain set would.
 */

/* Which of ids[] the field holds, in one walk; false if it holds one twice or a stranger. */
static bool field_holds(const struct ssid_conns *c, char ids[][64], int n, bool *in_field)
{
	size_t at = 0, idlen;
	const char *id;

	memset(in_field, 0, sizeof(*in_field) * (size_t)n);
	while (ssid_conns_next(c->b, c->len, &at, &id, &idlen)) {
		const char *dash = memrchr(id, '-', idlen);
		int k = dash && dash + 1 < id + idlen ? 0 : -1;

		for (const char *d = dash + 1; k >= 0 && d < id + idlen && k < n; d++)
			k = *d >= '0' && *d <= '9' ? k * 10 + (*d - '0') : -1;
		if (k < 0 || k >= n || in_field[k] || idlen != strlen(ids[k]) ||
		    memcmp(id, ids[k], idlen))
			return false;
		in_field[k] = true;
	}
	return true;
}

START_TEST (test_random_walk) {
	enum { IDS = 24 };
	char ids[IDS][64];
	bool want[IDS], in_set[IDS], in_field[IDS];
	unsigned seed = 20261207;

	for (int round = 0; round < 200; round++) {
		struct ssid_conns c;

		memset(want, 0, sizeof(want));
		memset(in_set, 0, sizeof(in_set));
		for (int i = 0; i < IDS; i++)
			snprintf(ids[i], sizeof(ids[i]), "%.*s-%d", 1 + (int)(rand_r(&seed) % 30),
				 "abcdefghijklmnopqrstuvwxyz0123456789", i);
		ck_assert_int_eq(ssid_conns_load(&c, NULL, 0, round % 5 == 0), 0);
		for (int step = 0; step < 300; step++) {
			int i = (int)(rand_r(&seed) % IDS);
			const char *bad;

			if (rand_r(&seed) % 3) {
				if (add(&c, ids[i]) == -ENOSPC)
					in_set[i] = true;
				want[i] = true;
			} else {
				del(&c, ids[i]);
				if (ssid_conns_spilled(&c))
					in_set[i] = false;
				want[i] = false;
			}
			/* One assertion per step: each of Check's writes a mark to its log. */
			bad = NULL;
			if (!ssid_conns_valid(c.b, c.len))
				bad = "invalid field";
			else if (!ssid_conns_spilled(&c) && in_set[i])
				bad = "in the set but not spilled";
			else if (!field_holds(&c, ids, IDS, in_field))
				bad = "field holds an id twice or a stranger";
			for (int k = 0; !bad && k < IDS; k++)
				if ((in_set[k] || in_field[k]) != want[k])
					bad = ids[k];
			if (bad)
				ck_abort_msg("round %d step %d: %s", round, step, bad);
		}
	}
}
END_TEST

Suite *conns_suite(void)
{
	Suite *s = suite_create("conns");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_new_rep);
	tcase_add_test(tc, test_spill);
	tcase_add_test(tc, test_older_and_unreadable);
	tcase_add_test(tc, test_random_walk);
	tcase_set_timeout(tc, 60); /* long loops take seconds under ASan beside other suites */
	suite_add_tcase(s, tc);
	return s;
}
