/*
 * The fixture's checks, as Check assertions: the group drained, every
 * user's Redis record against the engine's reference, and the output topic's
 * score.updated messages field by field (see fixture.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <jansson.h>

#include "fixture.h"
#include "fixture_int.h"

/* ---- checks -------------------------------------------------------------- */

void fx_dump_log(const char *path)
{
	size_t len;
	char *text = fx_read_file(path, &len);
	const char *from;
	int lines = 0;

	if (!text)
		return;
	/* The last 40 lines are enough to see what the daemon was doing. */
	for (from = text + len; from > text && lines <= 40; from--)
		lines += from[-1] == '\n';
	fprintf(stderr, "---- %s (tail) ----\n%s---- end of %s ----\n", path, from, path);
	free(text);
}

/* Messages produced so far per input partition, i.e. the offsets to commit. */
static void stream_ends(const struct fx_stream *s, int64_t out[FX_PARTITIONS_MAX])
{
	for (int p = 0; p < FX_PARTITIONS_MAX; p++)
		out[p] = RD_KAFKA_OFFSET_INVALID;
	for (size_t i = 0; i < s->n; i++) {
		const struct fx_event *e = &s->ev[i];

		if (e->offset >= 0 && e->partition >= 0 && e->partition < FX_PARTITIONS_MAX &&
		    (out[e->partition] < 0 || e->offset + 1 > out[e->partition]))
			out[e->partition] = e->offset + 1;
	}
}

static bool offsets_equal(const int64_t a[FX_PARTITIONS_MAX], const int64_t b[FX_PARTITIONS_MAX],
			  int partitions)
{
	for (int p = 0; p < partitions; p++)
		if (a[p] != b[p])
			return false;
	return true;
}

void fx_wait_drained(struct fx_kafka *k, const struct fx_stream *s, const char *log_path)
{
	int64_t ends[FX_PARTITIONS_MAX], got[FX_PARTITIONS_MAX];
	int64_t deadline = fx_deadline(FX_WAIT_MS);

	stream_ends(s, ends);
	for (;;) {
		if (fx_kafka_committed(k, got) == 0 && offsets_equal(got, ends, k->partitions))
			return;
		if (fx_expired(deadline))
			break;
		fx_pause();
	}
	fx_dump_log(log_path);
	ck_abort_msg("%s: committed offsets of partition 0..3 are %lld %lld %lld %lld after %d ms, "
		     "expected %lld %lld %lld %lld (log: %s)",
		     k->group, (long long)got[0], (long long)got[1], (long long)got[2],
		     (long long)got[3], FX_WAIT_MS, (long long)ends[0], (long long)ends[1],
		     (long long)ends[2], (long long)ends[3], log_path);
}

/* The partition all of user's valid events went to (keyed by user), and the last offset. */
static bool user_last_offset(const struct fx_stream *s, int user, int32_t *partition,
			     int64_t *offset)
{
	bool any = false;

	for (size_t i = 0; i < s->n; i++) {
		const struct fx_event *e = &s->ev[i];

		if (e->user != user || e->expect_code[0] || e->offset < 0)
			continue;
		ck_assert_msg(!any || e->partition == *partition,
			      "user %d's events went to partitions %d and %d", user, *partition,
			      e->partition);
		if (!any || e->offset > *offset)
			*offset = e->offset;
		*partition = e->partition;
		any = true;
	}
	return any;
}

void fx_check_states(const struct fx_redis *r, const struct fx_stream *s, const struct ssi_model *m)
{
	for (int u = 0; u < s->nusers; u++) {
		struct ssi_state ref;
		struct fx_record rec;
		struct ssi_score want;
		char id[64];
		int32_t partition = -1;
		int64_t offset = -1;

		fx_user_id(s, u, id, sizeof(id));
		ssi_state_init(&ref);
		ck_assert_int_eq(fx_reference_state(s, u, s->n, m, &ref, NULL, NULL), 0);
		ck_assert_int_eq(fx_redis_record(r, id, &rec), 0);
		ck_assert_msg(rec.has_state, "%s: no state in Redis", id);
		ck_assert_msg(user_last_offset(s, u, &partition, &offset), "%s has no events", id);
		ck_assert_msg(ssi_state_mark_get(&rec.state, partition) == offset,
			      "%s: applied-offset mark of partition %d is %lld, last event at %lld",
			      id, partition, (long long)ssi_state_mark_get(&rec.state, partition),
			      (long long)offset);
		rec.state.nmarks = 0;
		ck_assert_msg(ssi_state_equal(&rec.state, &ref),
			      "%s: stored state differs from the engine's (%u vs %u day rows)", id,
			      rec.state.nrows, ref.nrows);
		ssi_score(&ref, m, FX_NOW_MS, &want);
		ck_assert_msg(rec.has_published, "%s: no published score in Redis", id);
		ck_assert_msg(memcmp(&rec.published, &want, sizeof(want)) == 0,
			      "%s: published total %d, the engine says %d", id, rec.published.total,
			      want.total);
		fx_record_clear(&rec);
		ssi_state_clear(&ref);
	}
}

int fxi_centipoints(const json_t *v)
{
	return (int)lround(json_number_value(v) * 100.0);
}

/* The pillars object into sc; the total is the sum of the pillars. */
static void check_pillars(const json_t *obj, struct ssi_score *sc, const char *what, size_t at)
{
	ck_assert_msg(json_is_object(obj), "output %zu: %s is not an object", at, what);
	ck_assert_int_eq(json_object_size(obj), SSI_PILLAR__COUNT);
	sc->total = 0;
	for (int p = 0; p < SSI_PILLAR__COUNT; p++) {
		const json_t *v = json_object_get(obj, ssi_pillar_name((enum ssi_pillar)p));

		ck_assert_msg(json_is_number(v), "output %zu: %s.%s missing", at, what,
			      ssi_pillar_name((enum ssi_pillar)p));
		sc->pillar[p] = fxi_centipoints(v);
		ck_assert_msg(sc->pillar[p] >= 0 && sc->pillar[p] <= 2500,
			      "output %zu: %s.%s out of range", at, what,
			      ssi_pillar_name((enum ssi_pillar)p));
		sc->total += sc->pillar[p];
	}
}

/* Which user of the stream an id names, or -1. */
static int user_of(const struct fx_stream *s, const char *id)
{
	char want[64];

	for (int u = 0; u < s->nusers; u++)
		if (strcmp(fx_user_id(s, u, want, sizeof(want)), id) == 0)
			return u;
	return -1;
}

bool fx_output_is_score(const struct fx_msg *msg)
{
	json_t *root = json_loadb(msg->value, msg->len, 0, NULL);
	const char *type = json_string_value(json_object_get(root, "type"));
	bool yes = !type || strcmp(type, "score.updated") == 0;

	json_decref(root);
	return yes;
}

int fx_parse_output(const struct fx_stream *s, const struct fx_msg *msg, size_t at,
		    struct fx_output *out)
{
	json_error_t jerr;
	json_t *root = json_loadb(msg->value, msg->len, 0, &jerr);
	const json_t *prev, *v;
	const char *id;

	ck_assert_msg(root, "output %zu is not JSON: %s: %s", at, jerr.text, msg->value);
	ck_assert_msg(json_is_object(root), "output %zu is not an object", at);
	ck_assert_msg(json_integer_value(json_object_get(root, "schema")) == 1,
		      "output %zu: schema is not 1", at);
	ck_assert_str_eq(json_string_value(json_object_get(root, "type")), "score.updated");
	id = json_string_value(json_object_get(root, "user_id"));
	ck_assert_msg(id, "output %zu: no user_id", at);
	ck_assert_msg(msg->key && strcmp(msg->key, id) == 0, "output %zu: key is not the user id",
		      at);
	memset(out, 0, sizeof(*out));
	out->user = user_of(s, id);
	ck_assert_msg(out->user >= 0, "output %zu: unknown user %s", at, id);
	for (int g = 0; g < SSI_SEG__COUNT; g++) {
		v = json_object_get(root, ssi_segment_name((enum ssi_segment)g));
		snprintf(out->segment[g], sizeof(out->segment[g]), "%s",
			 v ? json_string_value(v) : "");
		ck_assert_msg(!v || (json_is_string(v) && out->segment[g][0]),
			      "output %zu: %s is not a non-empty string", at,
			      ssi_segment_name((enum ssi_segment)g));
	}
	v = json_object_get(root, "ssi");
	ck_assert_msg(json_is_number(v), "output %zu: no ssi", at);
	check_pillars(json_object_get(root, "pillars"), &out->score, "pillars", at);
	ck_assert_msg(fxi_centipoints(v) == out->score.total,
		      "output %zu: ssi %d is not the sum of the pillars %d", at, fxi_centipoints(v),
		      out->score.total);
	prev = json_object_get(root, "previous");
	ck_assert_msg(prev && (json_is_null(prev) || json_is_number(prev)),
		      "output %zu: previous missing", at);
	v = json_object_get(root, "delta");
	ck_assert_msg(json_is_number(v), "output %zu: no delta", at);
	out->has_previous = !json_is_null(prev);
	if (out->has_previous) {
		check_pillars(json_object_get(root, "previous_pillars"), &out->previous,
			      "previous_pillars", at);
		ck_assert_int_eq(fxi_centipoints(prev), out->previous.total);
		ck_assert_int_eq(fxi_centipoints(v), out->score.total - out->previous.total);
	} else {
		ck_assert_int_eq(fxi_centipoints(v), out->score.total);
	}
	v = json_object_get(root, "cause");
	ck_assert_msg(json_is_string(v) && (strcmp(json_string_value(v), "event") == 0 ||
					    strcmp(json_string_value(v), "decay") == 0 ||
					    strcmp(json_string_value(v), "model") == 0),
		      "output %zu: cause", at);
	snprintf(out->cause, sizeof(out->cause), "%s", json_string_value(v));
	v = json_object_get(root, "events");
	ck_assert_msg(json_is_integer(v) && json_integer_value(v) >= 0, "output %zu: events", at);
	ck_assert_str_eq(json_string_value(json_object_get(root, "as_of")), FX_AS_OF);
	v = json_object_get(root, "model_version");
	ck_assert_msg(json_is_string(v), "output %zu: no model_version", at);
	snprintf(out->model_version, sizeof(out->model_version), "%s", json_string_value(v));
	json_decref(root);
	return out->user;
}

size_t fx_check_outputs(struct fx_kafka *k, const struct fx_stream *s, const struct ssi_model *m,
			bool chained)
{
	struct fx_msgs msgs;
	struct fx_output *last = calloc((size_t)s->nusers, sizeof(*last));
	bool *seen = calloc((size_t)s->nusers, sizeof(*seen));
	size_t n;

	ck_assert(last && seen);
	ck_assert_int_eq(fx_kafka_read_topic(k, k->output, &msgs), 0);
	/* Per partition in offset order: a user's outputs are in one partition, in order. */
	for (size_t i = 0; i < msgs.n; i++) {
		struct fx_output o;
		int u;

		if (!fx_output_is_score(&msgs.m[i]))
			continue;
		u = fx_parse_output(s, &msgs.m[i], i, &o);

		if (chained && !seen[u])
			ck_assert_msg(!o.has_previous,
				      "output %zu: first output of user %d has a "
				      "previous score",
				      i, u);
		if (chained && seen[u]) {
			ck_assert_msg(o.has_previous, "output %zu: user %d lost the previous score",
				      i, u);
			ck_assert_msg(memcmp(&o.previous, &last[u].score, sizeof(o.previous)) == 0,
				      "output %zu: previous %d is not the last output %d", i,
				      o.previous.total, last[u].score.total);
		}
		last[u] = o;
		seen[u] = true;
	}
	for (int u = 0; u < s->nusers; u++) {
		struct ssi_state ref;
		struct ssi_score want;
		char id[64];

		fx_user_id(s, u, id, sizeof(id));
		ck_assert_msg(seen[u], "%s: no score.updated at all", id);
		ssi_state_init(&ref);
		ck_assert_int_eq(fx_reference_state(s, u, s->n, m, &ref, NULL, NULL), 0);
		ssi_score(&ref, m, FX_NOW_MS, &want);
		ck_assert_msg(memcmp(&last[u].score, &want, sizeof(want)) == 0,
			      "%s: last output says %d (%d %d %d %d), the engine %d (%d %d %d %d)",
			      id, last[u].score.total, last[u].score.pillar[0],
			      last[u].score.pillar[1], last[u].score.pillar[2],
			      last[u].score.pillar[3], want.total, want.pillar[0], want.pillar[1],
			      want.pillar[2], want.pillar[3]);
		ck_assert_str_eq(last[u].model_version, m->version);
		for (int g = 0; g < SSI_SEG__COUNT; g++)
			ck_assert_msg(strcmp(last[u].segment[g], ref.segment[g]) == 0,
				      "%s: %s is \"%s\" in the output, \"%s\" in the state", id,
				      ssi_segment_name((enum ssi_segment)g), last[u].segment[g],
				      ref.segment[g]);
		ssi_state_clear(&ref);
	}
	n = msgs.n;
	fx_msgs_free(&msgs);
	free(last);
	free(seen);
	return n;
}
