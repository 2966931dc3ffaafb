/*
 * The poison corpus (tests/poison) against the parser alone: every entry
 * must get exactly the reason code its manifest line promises from
 * ssi_event_parse + ssi_event_check_time, the same two steps and the same
 * clock as the daemon under test. The daemon suite then proves the same
 * bytes travel through Kafka to the dead-letter topic; this suite pins the
 * codes without a broker, so a parser change that moves a code fails here
 * first, with the file's name.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fixture.h"
#include "ssi_event.h"
#include "ssi_json.h"
#include "ssi_model.h"
#include "suites.h"
#include "ssid_file.h"

/* Reason code families the README documents: each must be exercised. */
static const char *const documented_codes[] = {
    "invalid_json",   "invalid_utf8",  "nul_byte",     "too_deep",     "too_large",
    "not_an_object",  "bad_timestamp", "unknown_type", "too_old",      "in_future",
    "missing_field:", "wrong_type:",   "too_long:",    "empty_field:", "bad_attr:",
};

struct corpus_env {
	struct ssi_model model;
	struct fx_poison_corpus corpus;
};

static void corpus_open(struct corpus_env *c)
{
	ck_assert_int_eq(ssid_file_load_model(&c->model, fx_model_path(), NULL), 0);
	ck_assert_int_eq(fx_poison_load(&c->corpus, FX_POISON_DIR, c->model.max_event_bytes), 0);
}

/* What ssid decides for one message: "" (scored) or the dead-letter reason. */
static int judge(const struct corpus_env *c, const struct fx_poison *p, bool no_arena,
		 struct ssi_event *ev, struct ssi_reject *why)
{
	struct ssi_event_limits lim = {.max_bytes = c->model.max_event_bytes, .no_arena = no_arena};
	int r;

	memset(why, 0, sizeof(*why));
	/* A tombstone reaches the parser as zero bytes, as in the pipeline. */
	r = ssi_event_parse(p->value ? p->value : "", p->value ? p->len : 0, &lim, ev, why);
	if (r == 0)
		r = ssi_event_check_time(ev, c->model.window_days, c->model.future_tolerance_ms,
					 FX_NOW_MS, why);
	return r;
}

START_TEST (test_every_entry_gets_its_reason) {
	struct corpus_env c;

	corpus_open(&c);
	for (size_t i = 0; i < c.corpus.n; i++) {
		const struct fx_poison *p = &c.corpus.e[i];
		struct ssi_event ev;
		struct ssi_reject why;
		int r = judge(&c, p, false, &ev, &why);

		if (!p->expect[0]) {
			ck_assert_msg(r == 0, "%s: should be valid, rejected as %s (%s)", p->file,
				      why.code, why.message);
			continue;
		}
		ck_assert_msg(r == -EINVAL || r == -ERANGE, "%s: returned %d, expected %s", p->file,
			      r, p->expect);
		ck_assert_msg(strcmp(why.code, p->expect) == 0, "%s: reason %s (%s), expected %s",
			      p->file, why.code, why.message, p->expect);
		ck_assert_msg(why.message[0], "%s: empty message", p->file);
		for (const char *m = why.message; *m; m++)
			ck_assert_msg(*m >= 0x20 && *m <= 0x7e,
				      "%s: message byte 0x%02x is not printable ASCII", p->file,
				      (unsigned char)*m);
	}
	fx_poison_free(&c.corpus);
}
END_TEST

/* The valgrind path decodes with plain malloc: it must judge every entry alike. */
START_TEST (test_arena_and_malloc_agree) {
	struct corpus_env c;

	ssi_json_arena_install();
	ck_assert(ssi_json_arena_installed());
	corpus_open(&c);
	for (size_t i = 0; i < c.corpus.n; i++) {
		const struct fx_poison *p = &c.corpus.e[i];
		struct ssi_event a, b;
		struct ssi_reject wa, wb;
		int ra = judge(&c, p, false, &a, &wa);
		int rb = judge(&c, p, true, &b, &wb);

		ck_assert_msg(ra == rb, "%s: %d with the arena, %d without", p->file, ra, rb);
		if (ra == 0)
			ck_assert_msg(memcmp(&a, &b, sizeof(a)) == 0, "%s: events differ", p->file);
		else
			ck_assert_str_eq(wa.code, wb.code);
	}
	fx_poison_free(&c.corpus);
}
END_TEST

/*
 * The corpus is only worth something if it stays broad: at least 40 bad
 * kinds, every documented reason family, valid controls beside the edges,
 * and every Kafka-level oddity.
 */
START_TEST (test_corpus_is_broad) {
	const size_t ncodes = sizeof(documented_codes) / sizeof(documented_codes[0]);
	size_t bad = 0, valid = 0, null_key = 0, binary_key = 0, headers = 0, tombstones = 0;
	struct corpus_env c;

	corpus_open(&c);
	for (size_t i = 0; i < c.corpus.n; i++) {
		const struct fx_poison *p = &c.corpus.e[i];

		*(p->expect[0] ? &bad : &valid) += 1;
		null_key += p->key == FX_POISON_KEY_NULL;
		binary_key += p->key == FX_POISON_KEY_BINARY;
		headers += p->garbage_headers;
		tombstones += !p->value;
		for (size_t j = 0; j < i; j++)
			ck_assert_msg(strcmp(c.corpus.e[j].file, p->file) != 0,
				      "%s is listed twice", p->file);
	}
	ck_assert_uint_ge(bad, 40);
	ck_assert_uint_ge(valid, 5);
	ck_assert_uint_ge(null_key, 1);
	ck_assert_uint_ge(binary_key, 1);
	ck_assert_uint_ge(headers, 1);
	ck_assert_uint_eq(tombstones, 1);
	for (size_t k = 0; k < ncodes; k++) {
		const char *code = documented_codes[k];
		size_t len = strlen(code);
		bool family = code[len - 1] == ':';
		bool seen = false;

		for (size_t i = 0; i < c.corpus.n && !seen; i++)
			seen = family ? strncmp(c.corpus.e[i].expect, code, len) == 0
				      : strcmp(c.corpus.e[i].expect, code) == 0;
		ck_assert_msg(seen, "no corpus entry is rejected as %s", code);
	}
	fx_poison_free(&c.corpus);
}
END_TEST

/* The sized entries must be sized against the model actually in use. */
START_TEST (test_padding_follows_the_model) {
	struct corpus_env c;
	bool at_max = false, over_max = false;

	corpus_open(&c);
	for (size_t i = 0; i < c.corpus.n; i++) {
		const struct fx_poison *p = &c.corpus.e[i];

		if (strcmp(p->file, "size-max.bin") == 0) {
			ck_assert_uint_eq(p->len, c.model.max_event_bytes);
			at_max = true;
		} else if (strcmp(p->file, "size-max-plus-1.bin") == 0) {
			ck_assert_uint_eq(p->len, c.model.max_event_bytes + 1);
			over_max = true;
		}
	}
	ck_assert(at_max && over_max);
	fx_poison_free(&c.corpus);
}
END_TEST

Suite *poison_parse_suite(void)
{
	Suite *s = suite_create("poison_parse");
	TCase *tc = tcase_create("corpus");

	tcase_add_test(tc, test_every_entry_gets_its_reason);
	tcase_add_test(tc, test_arena_and_malloc_agree);
	tcase_add_test(tc, test_corpus_is_broad);
	tcase_add_test(tc, test_padding_follows_the_model);
	suite_add_tcase(s, tc);
	return s;
}
