/*
 * The poison corpus (tests/poison) through the whole daemon: every entry,
 * interleaved with a stream of valid events for several users over several
 * partitions, produced to the mock cluster and consumed by ssid in a thread.
 * Each bad message must land in the dead-letter topic once, with the
 * manifest's reason, its source position and its original key and bytes;
 * every valid one, the corpus's own controls included, must be scored
 * exactly as the engine scores it; and the group must commit every offset,
 * so no message can stall a partition.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "ssid_pipeline.h"
#include "suites.h"

#define POISON_USERS 8
/* Above the corpus's 1 MiB entry: the test producer must be able to send it. */
#define POISON_MESSAGE_MAX "4194304"

/* The corpus laid out in the stream: where entry i sits, and its quirks. */
struct poison_run {
	struct fx_poison_corpus corpus;
	size_t *at;		     /* stream index of corpus entry i */
	const struct fx_poison **of; /* corpus entry at stream index k, or NULL */
	size_t nbad, nvalid;
};

static void poison_dr(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
	struct fx_event *ev = rkm->_private;

	(void)rk;
	(void)opaque;
	if (ev && rkm->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		ev->partition = rkm->partition;
		ev->offset = rkm->offset;
	}
}

/*
 * Its own producer rather than fx_produce: some messages need no key, a
 * null value, junk headers, or more than librdkafka's default 1 MB.
 */
static rd_kafka_t *poison_producer(const struct fx_kafka *k)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char err[256];
	rd_kafka_t *rk;

	if (rd_kafka_conf_set(conf, "bootstrap.servers", k->bootstraps, err, sizeof(err)) ||
	    rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof(err)) ||
	    rd_kafka_conf_set(conf, "message.max.bytes", POISON_MESSAGE_MAX, err, sizeof(err)) ||
	    rd_kafka_conf_set(conf, "linger.ms", "5", err, sizeof(err))) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_conf_set_dr_msg_cb(conf, poison_dr);
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (!rk)
		rd_kafka_conf_destroy(conf);
	return rk;
}

static int produce_all(const struct fx_kafka *k, struct fx_stream *s, const struct poison_run *pr)
{
	rd_kafka_t *rk = poison_producer(k);
	int r = 0;

	if (!rk)
		return -EINVAL;
	for (size_t i = 0; i < s->n && r == 0; i++) {
		struct fx_event *ev = &s->ev[i];
		const struct fx_poison *p = pr->of[i];
		bool no_key = p && p->key == FX_POISON_KEY_NULL;
		bool no_value = p && !p->value;
		rd_kafka_headers_t *h =
		    p && p->garbage_headers ? fx_poison_garbage_headers() : NULL;
		rd_kafka_resp_err_t err;

		for (;;) {
			err = rd_kafka_producev(
			    rk, RD_KAFKA_V_TOPIC(k->input),
			    RD_KAFKA_V_KEY(no_key ? NULL : ev->key, no_key ? 0 : strlen(ev->key)),
			    RD_KAFKA_V_VALUE(no_value ? NULL : ev->value, no_value ? 0 : ev->len),
			    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(ev),
			    RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
			if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
				break;
			rd_kafka_poll(rk, 10);
		}
		if (err) {
			/* Headers belong to librdkafka only once the message is accepted. */
			if (h)
				rd_kafka_headers_destroy(h);
			r = -EIO;
		}
	}
	if (r == 0 && rd_kafka_flush(rk, FX_WAIT_MS))
		r = -ETIMEDOUT;
	for (size_t i = 0; i < s->n && r == 0; i++)
		if (s->ev[i].offset < 0)
			r = -EIO;
	rd_kafka_destroy(rk);
	return r;
}

/* The key a corpus entry is produced with (see the manifest's key options). */
static const char *entry_key(const struct fx_stream *s, const struct fx_poison *p, size_t i,
			     char *buf, size_t len)
{
	struct ssi_event ev;

	switch (p->key) {
	case FX_POISON_KEY_BINARY:
		return fx_poison_binary_key();
	case FX_POISON_KEY_NULL:
		return "";
	case FX_POISON_KEY_USER:
		break;
	}
	/* A valid event is keyed by its own user, a bad one by some user of the stream. */
	if (!p->expect[0] && ssi_event_parse(p->value, p->len, NULL, &ev, NULL) == 0) {
		snprintf(buf, len, "%s", ev.user_id);
		return buf;
	}
	return fx_user_id(s, (int)(i % POISON_USERS), buf, len);
}

/* Valid events first, then each corpus entry followed by a few more valid ones. */
static void build_stream(struct fx_stream *s, struct poison_run *pr, const struct ssi_model *m)
{
	struct t_rng rng = {.s = 0x9015014};

	memset(pr, 0, sizeof(*pr));
	ck_assert_int_eq(fx_poison_load(&pr->corpus, FX_POISON_DIR, m->max_event_bytes), 0);
	pr->at = calloc(pr->corpus.n, sizeof(*pr->at));
	ck_assert_ptr_nonnull(pr->at);
	ck_assert_int_eq(fx_stream_add_random(s, &rng, 3 * POISON_USERS), 0);
	for (size_t i = 0; i < pr->corpus.n; i++) {
		const struct fx_poison *p = &pr->corpus.e[i];
		char key[SSI_ID_MAX + 1];

		pr->at[i] = s->n;
		ck_assert_int_eq(fx_stream_add_raw(s, entry_key(s, p, i, key, sizeof(key)), -1,
						   p->value ? p->value : "", p->len, p->expect),
				 0);
		*(p->expect[0] ? &pr->nbad : &pr->nvalid) += 1;
		ck_assert_int_eq(fx_stream_add_random(s, &rng, 1 + t_below(&rng, 3)), 0);
	}
	ck_assert_int_eq(fx_stream_add_random(s, &rng, 3 * POISON_USERS), 0);
	pr->of = calloc(s->n, sizeof(*pr->of));
	ck_assert_ptr_nonnull(pr->of);
	for (size_t i = 0; i < pr->corpus.n; i++)
		pr->of[pr->at[i]] = &pr->corpus.e[i];
}

static void poison_run_free(struct poison_run *pr)
{
	fx_poison_free(&pr->corpus);
	free(pr->at);
	free(pr->of);
}

/* Each dead letter names a bad corpus message, once, and carries it unchanged. */
static void check_dead_letters(struct fx_kafka *k, const struct fx_stream *s,
			       const struct poison_run *pr)
{
	bool *seen = calloc(s->n, sizeof(*seen));
	struct fx_msgs dlq;

	ck_assert_ptr_nonnull(seen);
	ck_assert_int_eq(fx_kafka_read_topic(k, k->dlq, &dlq), 0);
	ck_assert_uint_eq(dlq.n, pr->nbad);
	for (size_t i = 0; i < dlq.n; i++) {
		const struct fx_msg *m = &dlq.m[i];
		char reason[128], topic[128], part[32], off[32], message[256];
		const struct fx_poison *p;
		const struct fx_event *src;
		size_t at = s->n;

		ck_assert_ptr_nonnull(fx_msg_header(m, "ssi.source.partition", part, sizeof(part)));
		ck_assert_ptr_nonnull(fx_msg_header(m, "ssi.source.offset", off, sizeof(off)));
		for (size_t j = 0; j < s->n && at == s->n; j++)
			if (s->ev[j].partition == atoi(part) && s->ev[j].offset == atoll(off))
				at = j;
		ck_assert_msg(at < s->n, "dead letter %zu names %s/%s, never produced", i, part,
			      off);
		src = &s->ev[at];
		p = pr->of[at];
		ck_assert_msg(p && p->expect[0], "valid event at %s/%s was dead-lettered: %s", part,
			      off, fx_msg_header(m, "ssi.reason", reason, sizeof(reason)));
		ck_assert_msg(!seen[at], "%s was dead-lettered twice", p->file);
		seen[at] = true;
		ck_assert_msg(
		    strcmp(fx_msg_header(m, "ssi.reason", reason, sizeof(reason)), p->expect) == 0,
		    "%s: ssi.reason %s, the manifest says %s", p->file, reason, p->expect);
		ck_assert_str_eq(fx_msg_header(m, "ssi.source.topic", topic, sizeof(topic)),
				 k->input);
		ck_assert_ptr_nonnull(fx_msg_header(m, "ssi.message", message, sizeof(message)));
		ck_assert_msg(message[0], "%s: empty ssi.message", p->file);
		if (src->len > SSID_DLQ_VALUE_MAX) {
			/* Too big for a broker: the head of it, and how long it was. */
			char from[32];

			ck_assert_msg(m->len == SSID_DLQ_VALUE_MAX &&
					  memcmp(m->value, src->value, m->len) == 0,
				      "%s: the dead letter is not the original's first %d bytes",
				      p->file, SSID_DLQ_VALUE_MAX);
			ck_assert_msg(fx_msg_header(m, "ssi.truncated_from", from, sizeof(from)) &&
					  strtoull(from, NULL, 10) == src->len,
				      "%s: no ssi.truncated_from %zu header", p->file, src->len);
		} else {
			ck_assert_msg(m->len == src->len &&
					  memcmp(m->value, src->value, src->len) == 0,
				      "%s: the dead letter's %zu bytes are not the original %zu",
				      p->file, m->len, src->len);
		}
		if (p->key == FX_POISON_KEY_NULL)
			ck_assert_msg(!m->key, "%s: a key appeared on the dead letter", p->file);
		else
			ck_assert_msg(m->key && m->key_len == strlen(src->key) &&
					  memcmp(m->key, src->key, m->key_len) == 0,
				      "%s: the dead letter's key is not the original", p->file);
	}
	fx_msgs_free(&dlq);
	free(seen);
}

/* The engine's view of one valid corpus event: its state and score at FX_NOW_MS. */
static void control_reference(const struct fx_poison *p, const struct ssi_model *m,
			      struct ssi_event *ev, struct ssi_state *ref, struct ssi_score *want)
{
	struct ssi_event_limits lim = {.max_bytes = m->max_event_bytes};

	ck_assert_int_eq(ssi_event_parse(p->value, p->len, &lim, ev, NULL), 0);
	ssi_state_init(ref);
	ck_assert_int_eq(ssi_state_apply(ref, m, ev), 1);
	ssi_state_prune(ref, m, FX_NOW_MS);
	ssi_score(ref, m, FX_NOW_MS, want);
}

/*
 * The corpus's valid events belong to users of their own, outside the
 * stream's (fx_check_states covers those): each must have the state and
 * the published score the engine gives its one event, with the mark of its
 * partition at its offset.
 */
static void check_controls(const struct fx_redis *r, const struct fx_stream *s,
			   const struct poison_run *pr, const struct ssi_model *m)
{
	for (size_t i = 0; i < pr->corpus.n; i++) {
		const struct fx_poison *p = &pr->corpus.e[i];
		const struct fx_event *src = &s->ev[pr->at[i]];
		struct ssi_event ev;
		struct ssi_state ref;
		struct ssi_score want;
		struct fx_record rec;

		if (p->expect[0])
			continue;
		control_reference(p, m, &ev, &ref, &want);
		ck_assert_int_eq(fx_redis_record(r, ev.user_id, &rec), 0);
		ck_assert_msg(rec.has_state, "%s: no state in Redis for %s", p->file, ev.user_id);
		ck_assert_msg(ssi_state_mark_get(&rec.state, src->partition) == src->offset,
			      "%s: mark of partition %d is %lld, the event is at %lld", p->file,
			      src->partition,
			      (long long)ssi_state_mark_get(&rec.state, src->partition),
			      (long long)src->offset);
		rec.state.nmarks = 0;
		ck_assert_msg(ssi_state_equal(&rec.state, &ref), "%s: stored state differs",
			      p->file);
		ck_assert_msg(rec.has_published && memcmp(&rec.published, &want, sizeof(want)) == 0,
			      "%s: published total %d, the engine says %d", p->file,
			      rec.published.total, want.total);
		fx_record_clear(&rec);
		ssi_state_clear(&ref);
	}
}

static int centipoints(const json_t *v)
{
	return (int)lround(json_number_value(v) * 100.0);
}

/*
 * fx_check_outputs refuses users outside the stream, so the output topic is
 * split here: the stream's users through fx_parse_output, the controls by
 * their user id. Every user's last output must be the engine's score.
 */
static void check_outputs(struct fx_kafka *k, const struct fx_stream *s,
			  const struct poison_run *pr, const struct ssi_model *m)
{
	int *control_total = calloc(pr->corpus.n, sizeof(*control_total));
	bool *control_seen = calloc(pr->corpus.n, sizeof(*control_seen));
	struct fx_output last[POISON_USERS];
	bool seen[POISON_USERS] = {false};
	struct fx_msgs out;

	ck_assert(control_total && control_seen);
	ck_assert_int_eq(fx_kafka_read_topic(k, k->output, &out), 0);
	for (size_t i = 0; i < out.n; i++) {
		json_t *root;
		const char *id;
		bool control = false;

		if (!fx_output_is_score(&out.m[i]))
			continue;
		root = json_loadb(out.m[i].value, out.m[i].len, 0, NULL);
		id = json_string_value(json_object_get(root, "user_id"));

		ck_assert_msg(id, "output %zu has no user_id", i);
		for (size_t c = 0; c < pr->corpus.n; c++) {
			const struct fx_poison *p = &pr->corpus.e[c];
			struct ssi_event ev;

			if (p->expect[0] ||
			    ssi_event_parse(p->value, p->len, NULL, &ev, NULL) < 0 ||
			    strcmp(ev.user_id, id) != 0)
				continue;
			control_total[c] = centipoints(json_object_get(root, "ssi"));
			control_seen[c] = control = true;
		}
		if (!control) {
			struct fx_output o;
			int u = fx_parse_output(s, &out.m[i], i, &o);

			last[u] = o;
			seen[u] = true;
		}
		json_decref(root);
	}
	for (int u = 0; u < POISON_USERS; u++) {
		struct ssi_state ref;
		struct ssi_score want;

		ck_assert_msg(seen[u], "user %d has no score.updated", u);
		ssi_state_init(&ref);
		ck_assert_int_eq(fx_reference_state(s, u, s->n, m, &ref, NULL, NULL), 0);
		ssi_score(&ref, m, FX_NOW_MS, &want);
		ck_assert_msg(memcmp(&last[u].score, &want, sizeof(want)) == 0,
			      "user %d: last output %d, the engine %d", u, last[u].score.total,
			      want.total);
		ssi_state_clear(&ref);
	}
	for (size_t c = 0; c < pr->corpus.n; c++) {
		const struct fx_poison *p = &pr->corpus.e[c];
		struct ssi_event ev;
		struct ssi_state ref;
		struct ssi_score want;

		if (p->expect[0])
			continue;
		control_reference(p, m, &ev, &ref, &want);
		ck_assert_msg(control_seen[c], "%s: no score.updated", p->file);
		ck_assert_msg(control_total[c] == want.total, "%s: output ssi %d, the engine %d",
			      p->file, control_total[c], want.total);
		ssi_state_clear(&ref);
	}
	fx_msgs_free(&out);
	free(control_total);
	free(control_seen);
}

static void wait_consumed(const struct fx_daemon *d, uint64_t n, struct ssid_daemon_stats *st)
{
	int64_t deadline = fx_deadline(FX_WAIT_MS);

	for (;;) {
		fx_daemon_stats(d, st);
		if (st->events >= n)
			return;
		ck_assert_msg(!fx_daemon_returned(d), "ssid stopped (log: %s)", d->log_path);
		ck_assert_msg(!fx_expired(deadline), "ssid took in %llu of %llu messages (log: %s)",
			      (unsigned long long)st->events, (unsigned long long)n, d->log_path);
		fx_pause();
	}
}

START_TEST (test_poison_corpus) {
	struct ssid_daemon_stats st;
	struct poison_run pr;
	/* The fixtures expect zeroed structs (port 0: pick a free one). */
	struct fx_redis redis = {0};
	struct fx_kafka kafka = {0};
	struct fx_stream stream = {0};
	struct fx_daemon daemon = {0};
	struct ssi_model model;
	char dir[PATH_MAX], conf[4096], err[1024];

	ck_assert_int_eq(ssi_model_load_file(&model, fx_model_path(), NULL), 0);
	ck_assert_msg(fx_redis_start(&redis, fx_path(dir, sizeof(dir), "redis"), false) == 0,
		      "redis-server did not start (see %s/redis.log)", dir);
	ck_assert_int_eq(fx_kafka_start(&kafka, "poison", 4), 0);
	fx_stream_init(&stream, "poison", POISON_USERS);
	build_stream(&stream, &pr, &model);
	ck_assert_int_eq(produce_all(&kafka, &stream, &pr), 0);

	/* ssid's producer keeps librdkafka's default message.max.bytes (1,000,000). */
	ck_assert_int_eq(fx_config_text(conf, sizeof(conf), &kafka, &redis,
					&(struct fx_conf){.batch_max_events = 32}),
			 0);
	ck_assert_msg(fx_daemon_start(&daemon, conf, err, sizeof(err)) == 0, "ssid: %s", err);
	fx_wait_drained(&kafka, &stream, daemon.log_path);
	wait_consumed(&daemon, stream.n, &st);
	ck_assert_int_eq(fx_daemon_stop(&daemon), 0);

	ck_assert_uint_eq(st.events, stream.n);
	ck_assert_uint_eq(st.rejected, pr.nbad);
	ck_assert_uint_eq(st.failures, 0);
	ck_assert_int_eq(st.degraded, 0);
	check_dead_letters(&kafka, &stream, &pr);
	fx_check_states(&redis, &stream, &model);
	check_controls(&redis, &stream, &pr, &model);
	check_outputs(&kafka, &stream, &pr, &model);
	ck_assert_int_eq(fx_redis_user_keys(&redis), POISON_USERS + (long)pr.nvalid);

	poison_run_free(&pr);
	fx_stream_free(&stream);
	fx_kafka_free(&kafka);
	ck_assert_int_eq(fx_redis_stop(&redis), 0);
}
END_TEST

Suite *poison_suite(void)
{
	Suite *s = suite_create("poison");
	TCase *tc = tcase_create("corpus");

	tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_poison_corpus);
	suite_add_tcase(s, tc);
	return s;
}
