/*
 * The fixture's poison corpus (tests/poison/MANIFEST): loading it, laying it
 * out in a stream, producing it with its null keys and values and junk
 * headers, and the checks of its dead letters, controls and outputs (see
 * fixture.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <jansson.h>

#include "fixture.h"
#include "fixture_int.h"
#include "ssi_array.h"
#include "ssid_pipeline.h"

/* ---- the poison corpus --------------------------------------------------- */

const char *fx_poison_binary_key(void)
{
	return "\xff\xfe\xc0\xaf-poison-\xed\xa0\x80-key\x80";
}

rd_kafka_headers_t *fx_poison_garbage_headers(void)
{
	static const char binary[] = {'\0', '\x01', '\xff', '\xfe', '\0'};
	rd_kafka_headers_t *h = rd_kafka_headers_new(8);
	char big[4096];

	memset(big, 'h', sizeof(big));
	rd_kafka_header_add(h, "ssi.reason", -1, "forged", -1);
	rd_kafka_header_add(h, "ssi.source.offset", -1, "-7", -1);
	rd_kafka_header_add(h, "", 0, "empty name", -1);
	rd_kafka_header_add(h, "\xff\xfe", 2, binary, sizeof(binary));
	rd_kafka_header_add(h, "no-value", -1, NULL, 0);
	rd_kafka_header_add(h, "big", -1, big, sizeof(big));
	rd_kafka_header_add(h, "twice", -1, "1", -1);
	rd_kafka_header_add(h, "twice", -1, "2", -1);
	return h;
}

/* pad=N, pad=max or pad=max+1 as a byte count. */
static int poison_pad_target(const char *spec, size_t max_bytes, size_t *out)
{
	char *end;
	unsigned long long n;

	if (strcmp(spec, "max") == 0) {
		*out = max_bytes;
		return 0;
	}
	if (strcmp(spec, "max+1") == 0) {
		*out = max_bytes + 1;
		return 0;
	}
	errno = 0;
	n = strtoull(spec, &end, 10);
	if (errno || end == spec || *end || n == 0)
		return -EBADMSG;
	*out = (size_t)n;
	return 0;
}

/* Trailing spaces keep one JSON value one JSON value, whatever its size. */
static int poison_pad(struct fx_poison *p, size_t target)
{
	char *v;

	if (!p->value || target < p->len)
		return -EBADMSG;
	v = realloc(p->value, target + 1);
	if (!v)
		return -ENOMEM;
	memset(v + p->len, ' ', target - p->len);
	v[target] = '\0';
	p->value = v;
	p->len = target;
	return 0;
}

static int poison_option(struct fx_poison *p, const char *opt, size_t max_bytes)
{
	size_t target;
	int r;

	if (strcmp(opt, "key=null") == 0)
		p->key = FX_POISON_KEY_NULL;
	else if (strcmp(opt, "key=binary") == 0)
		p->key = FX_POISON_KEY_BINARY;
	else if (strcmp(opt, "headers=garbage") == 0)
		p->garbage_headers = true;
	else if (strcmp(opt, "value=null") == 0) {
		if (p->len != 0)
			return -EBADMSG;
		free(p->value);
		p->value = NULL;
	} else if (strncmp(opt, "pad=", 4) == 0) {
		r = poison_pad_target(opt + 4, max_bytes, &target);
		if (r < 0)
			return r;
		return poison_pad(p, target);
	} else
		return -EBADMSG;
	return 0;
}

/* One manifest line: "<file> <reason|valid> [option ...]", already split off. */
static int poison_entry(struct fx_poison *p, char *line, const char *dir, size_t max_bytes)
{
	char *save = NULL, *file, *expect, *opt, path[PATH_MAX];
	int r;

	memset(p, 0, sizeof(*p));
	file = strtok_r(line, " \t", &save);
	expect = strtok_r(NULL, " \t", &save);
	if (!file || !expect || strlen(file) >= sizeof(p->file) ||
	    strlen(expect) >= sizeof(p->expect))
		return -EBADMSG;
	snprintf(p->file, sizeof(p->file), "%s", file);
	snprintf(p->expect, sizeof(p->expect), "%s", strcmp(expect, "valid") == 0 ? "" : expect);
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	p->value = fx_read_file(path, &p->len);
	if (!p->value)
		return -errno;
	while ((opt = strtok_r(NULL, " \t", &save))) {
		r = poison_option(p, opt, max_bytes);
		if (r < 0)
			return r;
	}
	return 0;
}

int fx_poison_load(struct fx_poison_corpus *c, const char *dir, size_t max_bytes)
{
	char path[PATH_MAX], *text, *line, *save = NULL;
	size_t len, cap = 0;
	int r = 0;

	memset(c, 0, sizeof(*c));
	snprintf(path, sizeof(path), "%s/MANIFEST", dir);
	text = fx_read_file(path, &len);
	if (!text)
		return -errno;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[strspn(line, " \t")] == '\0' || line[0] == '#')
			continue;
		if (SSI_GROW(c->e, &cap, c->n + 1, 64) < 0) {
			r = -ENOMEM;
			break;
		}
		r = poison_entry(&c->e[c->n], line, dir, max_bytes);
		c->n++; /* counted even when it failed: fx_poison_free frees its bytes */
		if (r < 0)
			break;
	}
	free(text);
	if (r < 0)
		fx_poison_free(c);
	return r;
}

void fx_poison_free(struct fx_poison_corpus *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		free(c->e[i].value);
	free(c->e);
	memset(c, 0, sizeof(*c));
}

/* ---- the poison corpus in a stream --------------------------------------- */

/*
 * Its own producer rather than fx_produce: some messages need no key, a
 * null value, junk headers, or more than librdkafka's default 1 MB.
 */
int fx_poison_run_produce(const struct fx_kafka *k, struct fx_stream *s,
			  const struct fx_poison_run *pr)
{
	static const char *const big[] = {"message.max.bytes", FX_POISON_MESSAGE_MAX, NULL};
	rd_kafka_t *rk = fxi_producer(k, big);
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

		if (fxi_produce_one(rk, k->input, no_key ? NULL : ev->key,
				    no_key ? 0 : strlen(ev->key), no_value ? NULL : ev->value,
				    no_value ? 0 : ev->len, h, ev)) {
			/* Headers belong to librdkafka only once the message is accepted. */
			if (h)
				rd_kafka_headers_destroy(h);
			r = -EIO;
		}
	}
	if (r == 0)
		r = fxi_flush_delivered(rk, s, 0, s->n);
	rd_kafka_destroy(rk);
	return r;
}

/* The key a corpus entry is produced with (see the manifest's key options). */
static const char *poison_entry_key(const struct fx_stream *s, const struct fx_poison *p, size_t i,
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
	return fx_user_id(s, (int)(i % (size_t)s->nusers), buf, len);
}

void fx_poison_run_build(struct fx_poison_run *pr, struct fx_stream *s, const struct ssi_model *m)
{
	struct t_rng rng = {.s = 0x9015014};

	memset(pr, 0, sizeof(*pr));
	ck_assert_int_eq(fx_poison_load(&pr->corpus, FX_POISON_DIR, m->max_event_bytes), 0);
	pr->at = calloc(pr->corpus.n, sizeof(*pr->at));
	ck_assert_ptr_nonnull(pr->at);
	ck_assert_int_eq(fx_stream_add_random(s, &rng, 3 * (size_t)s->nusers), 0);
	for (size_t i = 0; i < pr->corpus.n; i++) {
		const struct fx_poison *p = &pr->corpus.e[i];
		char key[SSI_ID_MAX + 1];

		pr->at[i] = s->n;
		ck_assert_int_eq(fx_stream_add_raw(s, poison_entry_key(s, p, i, key, sizeof(key)),
						   -1, p->value ? p->value : "", p->len, p->expect),
				 0);
		*(p->expect[0] ? &pr->nbad : &pr->nvalid) += 1;
		ck_assert_int_eq(fx_stream_add_random(s, &rng, 1 + t_below(&rng, 3)), 0);
	}
	ck_assert_int_eq(fx_stream_add_random(s, &rng, 3 * (size_t)s->nusers), 0);
	pr->of = calloc(s->n, sizeof(*pr->of));
	ck_assert_ptr_nonnull(pr->of);
	for (size_t i = 0; i < pr->corpus.n; i++)
		pr->of[pr->at[i]] = &pr->corpus.e[i];
}

void fx_poison_run_free(struct fx_poison_run *pr)
{
	if (!pr)
		return;
	fx_poison_free(&pr->corpus);
	free(pr->at);
	free(pr->of);
	memset(pr, 0, sizeof(*pr));
}

void fx_poison_run_check_dead_letters(struct fx_kafka *k, const struct fx_stream *s,
				      const struct fx_poison_run *pr)
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
		if (!p || !p->expect[0]) {
			ck_abort_msg("valid event at %s/%s was dead-lettered: %s", part, off,
				     fx_msg_header(m, "ssi.reason", reason, sizeof(reason)));
			continue; /* not reached; says so to the static analysers */
		}
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
static void poison_control_reference(const struct fx_poison *p, const struct ssi_model *m,
				     struct ssi_event *ev, struct ssi_state *ref,
				     struct ssi_score *want)
{
	struct ssi_event_limits lim = {.max_bytes = m->max_event_bytes};

	ck_assert_int_eq(ssi_event_parse(p->value, p->len, &lim, ev, NULL), 0);
	ssi_state_init(ref);
	ck_assert_int_eq(ssi_state_apply(ref, m, ev), 1);
	ssi_state_prune(ref, m, FX_NOW_MS);
	ssi_score(ref, m, FX_NOW_MS, want);
}

void fx_poison_run_check_controls(const struct fx_redis *r, const struct fx_stream *s,
				  const struct fx_poison_run *pr, const struct ssi_model *m)
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
		poison_control_reference(p, m, &ev, &ref, &want);
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

void fx_poison_run_check_outputs(struct fx_kafka *k, const struct fx_stream *s,
				 const struct fx_poison_run *pr, const struct ssi_model *m)
{
	int *control_total = calloc(pr->corpus.n, sizeof(*control_total));
	bool *control_seen = calloc(pr->corpus.n, sizeof(*control_seen));
	struct fx_output *last = calloc((size_t)s->nusers, sizeof(*last));
	bool *seen = calloc((size_t)s->nusers, sizeof(*seen));
	struct fx_msgs out;

	ck_assert(control_total && control_seen && last && seen);
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
			control_total[c] = fxi_centipoints(json_object_get(root, "ssi"));
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
	for (int u = 0; u < s->nusers; u++) {
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
		poison_control_reference(p, m, &ev, &ref, &want);
		ck_assert_msg(control_seen[c], "%s: no score.updated", p->file);
		ck_assert_msg(control_total[c] == want.total, "%s: output ssi %d, the engine %d",
			      p->file, control_total[c], want.total);
		ssi_state_clear(&ref);
	}
	fx_msgs_free(&out);
	free(control_total);
	free(control_seen);
	free(last);
	free(seen);
}
