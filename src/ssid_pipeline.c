/* ssid_pipeline: a batch from bytes to durable, delivered results. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ssi_score.h"
#include "ssid_out.h"
#include "ssid_pipeline.h"

/* Per-user work beside the store's record. */
struct user_work {
	uint32_t first, last; /* message list in offset order, via next[] */
	int applied;
	bool publish;
	struct ssi_score score;
};

/* Deliveries of one attempt; freed by whoever sees the last report. */
struct delivery {
	int outstanding;
	int failed;
	bool abandoned;
	char err[160];
};

struct ssid_pipeline {
	struct ssid_pipeline_opts o;
	const struct ssi_model *model;
	char *output_topic, *dlq_topic;
	char err[256];

	/* Scratch reused across batches. */
	struct ssid_user *users;
	struct user_work *work;
	size_t nusers, users_cap;
	uint32_t *next;
	size_t next_cap;
	uint32_t *slots; /* open-addressing table: user index + 1, 0 = empty */
	size_t nslots;
	struct ssid_buf out;
};

#define NO_MSG UINT32_MAX
/* Below this many messages a second parsing thread costs more than it saves. */
#define PARALLEL_PARSE_MIN 2000

void ssid_failpoint(const char *name)
{
	const char *want = getenv("SSID_FAILPOINT");

	if (want && strcmp(want, name) == 0)
		raise(SIGKILL);
}

void ssid_batch_init(struct ssid_batch *b)
{
	memset(b, 0, sizeof(*b));
}

int ssid_batch_add(struct ssid_batch *b, rd_kafka_message_t *rkm)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 1024;
		struct ssid_msg *m = realloc(b->msg, cap * sizeof(*m));

		if (!m) {
			rd_kafka_message_destroy(rkm);
			return -ENOMEM;
		}
		b->msg = m;
		b->cap = cap;
	}
	b->msg[b->n].rkm = rkm;
	b->msg[b->n].parsed = false;
	b->n++;
	return 0;
}

static bool in_list(const rd_kafka_topic_partition_list_t *parts, const rd_kafka_message_t *rkm)
{
	const char *topic = rd_kafka_topic_name(rkm->rkt);

	for (int i = 0; i < parts->cnt; i++)
		if (parts->elems[i].partition == rkm->partition &&
		    strcmp(parts->elems[i].topic, topic) == 0)
			return true;
	return false;
}

void ssid_batch_drop_partitions(struct ssid_batch *b, const rd_kafka_topic_partition_list_t *parts)
{
	size_t keep = 0;

	for (size_t i = 0; i < b->n; i++) {
		if (in_list(parts, b->msg[i].rkm))
			rd_kafka_message_destroy(b->msg[i].rkm);
		else
			b->msg[keep++] = b->msg[i];
	}
	b->n = keep;
}

void ssid_batch_clear(struct ssid_batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		rd_kafka_message_destroy(b->msg[i].rkm);
	b->n = 0;
}

void ssid_batch_free(struct ssid_batch *b)
{
	if (!b)
		return;
	ssid_batch_clear(b);
	free(b->msg);
	ssid_batch_init(b);
}

rd_kafka_topic_partition_list_t *ssid_batch_offsets(const struct ssid_batch *b)
{
	rd_kafka_topic_partition_list_t *l;

	if (b->n == 0)
		return NULL;
	l = rd_kafka_topic_partition_list_new(8);
	for (size_t i = 0; i < b->n; i++) {
		const rd_kafka_message_t *m = b->msg[i].rkm;
		rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_find(
		    l, rd_kafka_topic_name(m->rkt), m->partition);

		if (!tp)
			tp = rd_kafka_topic_partition_list_add(l, rd_kafka_topic_name(m->rkt),
							       m->partition);
		if (m->offset + 1 > tp->offset)
			tp->offset = m->offset + 1;
	}
	return l;
}

int ssid_pipeline_new(struct ssid_pipeline **out, const struct ssid_pipeline_opts *o,
		      const struct ssi_model *model)
{
	struct ssid_pipeline *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->o = *o;
	p->model = model;
	p->output_topic = strdup(o->output_topic);
	p->dlq_topic = strdup(o->dlq_topic);
	if (!p->output_topic || !p->dlq_topic) {
		ssid_pipeline_free(p);
		return -ENOMEM;
	}
	p->o.output_topic = p->output_topic;
	p->o.dlq_topic = p->dlq_topic;
	*out = p;
	return 0;
}

static void users_reset(struct ssid_pipeline *p)
{
	for (size_t i = 0; i < p->nusers; i++)
		ssi_state_clear(&p->users[i].state);
	p->nusers = 0;
}

void ssid_pipeline_free(struct ssid_pipeline *p)
{
	if (!p)
		return;
	users_reset(p);
	free(p->users);
	free(p->work);
	free(p->next);
	free(p->slots);
	ssid_buf_free(&p->out);
	free(p->output_topic);
	free(p->dlq_topic);
	free(p);
}

void ssid_pipeline_set_model(struct ssid_pipeline *p, const struct ssi_model *model)
{
	p->model = model;
}

void ssid_pipeline_set_epsilon(struct ssid_pipeline *p, double epsilon)
{
	p->o.epsilon = epsilon;
}

const char *ssid_pipeline_errstr(const struct ssid_pipeline *p)
{
	return p->err;
}

/* Size the scratch arrays for a batch of n messages. */
static int scratch_reserve(struct ssid_pipeline *p, size_t n)
{
	size_t slots = 16;

	if (n > p->users_cap) {
		struct ssid_user *u = realloc(p->users, n * sizeof(*u));
		struct user_work *w;

		if (!u)
			return -ENOMEM;
		p->users = u;
		w = realloc(p->work, n * sizeof(*w));
		if (!w)
			return -ENOMEM;
		p->work = w;
		p->users_cap = n;
	}
	if (n > p->next_cap) {
		uint32_t *nx = realloc(p->next, n * sizeof(*nx));

		if (!nx)
			return -ENOMEM;
		p->next = nx;
		p->next_cap = n;
	}
	while (slots < 2 * n)
		slots *= 2;
	if (slots > p->nslots) {
		free(p->slots);
		p->slots = malloc(slots * sizeof(*p->slots));
		if (!p->slots) {
			p->nslots = 0;
			return -ENOMEM;
		}
		p->nslots = slots;
	}
	memset(p->slots, 0, p->nslots * sizeof(*p->slots));
	return 0;
}

struct parse_job {
	struct ssid_batch *b;
	size_t from, to;
	struct ssi_event_limits lim;
};

static void *parse_range(void *arg)
{
	struct parse_job *j = arg;

	for (size_t i = j->from; i < j->to; i++) {
		struct ssid_msg *m = &j->b->msg[i];

		if (m->parsed)
			continue;
		m->status =
		    ssi_event_parse(m->rkm->payload ? m->rkm->payload : "",
				    m->rkm->payload ? m->rkm->len : 0, &j->lim, &m->ev, &m->why);
		m->parsed = true;
	}
	return NULL;
}

/*
 * Parse once per batch (the result does not depend on the clock). JSON is
 * the largest CPU cost of a batch, and messages parse independently, so a
 * large batch is split with a second thread: the main thread spends much of
 * its time waiting on Redis and Kafka, so the second core is otherwise idle
 * during this step.
 */
static void parse_all(struct ssid_pipeline *p, struct ssid_batch *b)
{
	struct parse_job half[2] = {
	    {b, 0, b->n / 2, {.max_bytes = p->model->max_event_bytes}},
	    {b, b->n / 2, b->n, {.max_bytes = p->model->max_event_bytes}},
	};
	pthread_t helper;

	if (b->n < PARALLEL_PARSE_MIN ||
	    pthread_create(&helper, NULL, parse_range, &half[1]) != 0) {
		half[0].to = b->n;
		parse_range(&half[0]);
		return;
	}
	parse_range(&half[0]);
	pthread_join(helper, NULL);
}

static uint32_t user_slot(struct ssid_pipeline *p, const char *id)
{
	uint64_t h = ssi_event_fingerprint(id, strlen(id));
	size_t mask = p->nslots - 1;

	for (size_t i = h & mask;; i = (i + 1) & mask) {
		uint32_t u = p->slots[i];

		if (u == 0) {
			u = (uint32_t)p->nusers++;
			p->slots[i] = u + 1;
			memset(&p->users[u], 0, sizeof(p->users[u]));
			ssi_state_init(&p->users[u].state);
			p->users[u].id = id;
			memset(&p->work[u], 0, sizeof(p->work[u]));
			p->work[u].first = p->work[u].last = NO_MSG;
			return u;
		}
		if (strcmp(p->users[u - 1].id, id) == 0)
			return u - 1;
	}
}

/* Group valid events by user, keeping each user's events in batch order. */
static void group_by_user(struct ssid_pipeline *p, struct ssid_batch *b, int64_t now_ms)
{
	const struct ssi_model *m = p->model;

	for (size_t i = 0; i < b->n; i++) {
		struct ssid_msg *msg = &b->msg[i];
		uint32_t u;

		p->next[i] = NO_MSG;
		if (msg->status == 0)
			msg->status = ssi_event_check_time(
			    &msg->ev, m->window_days, m->future_tolerance_ms, now_ms, &msg->why);
		if (msg->status < 0)
			continue;
		u = user_slot(p, msg->ev.user_id);
		msg->user = u;
		if (p->work[u].first == NO_MSG)
			p->work[u].first = (uint32_t)i;
		else
			p->next[p->work[u].last] = (uint32_t)i;
		p->work[u].last = (uint32_t)i;
	}
}

/*
 * A stored state this build cannot read must not be overwritten or scored:
 * its user's events go to the dead-letter topic instead.
 */
static void reject_unreadable(struct ssid_pipeline *p, struct ssid_batch *b, uint32_t u)
{
	const char *code = p->users[u].load_status == -EPROTONOSUPPORT ? "state_newer_version"
								       : "state_unreadable";

	for (uint32_t i = p->work[u].first; i != NO_MSG; i = p->next[i]) {
		b->msg[i].status = -EINVAL;
		snprintf(b->msg[i].why.code, sizeof(b->msg[i].why.code), "%s", code);
		snprintf(b->msg[i].why.message, sizeof(b->msg[i].why.message),
			 "the stored state of user %s cannot be decoded by this ssid (%s)",
			 p->users[u].id, strerror(-p->users[u].load_status));
	}
}

static bool moved(const struct ssi_score *a, const struct ssi_score *b, double epsilon)
{
	int eps = (int)lround(epsilon * 100);

	if (abs(a->total - b->total) >= eps && a->total != b->total)
		return true;
	for (int i = 0; i < SSI_PILLAR__COUNT; i++)
		if (abs(a->pillar[i] - b->pillar[i]) >= eps && a->pillar[i] != b->pillar[i])
			return true;
	return false;
}

static int apply_user(struct ssid_pipeline *p, struct ssid_batch *b, uint32_t u, int64_t now_ms,
		      struct ssid_batch_stats *stats)
{
	struct ssid_user *user = &p->users[u];
	struct user_work *w = &p->work[u];

	for (uint32_t i = w->first; i != NO_MSG; i = p->next[i]) {
		const rd_kafka_message_t *rkm = b->msg[i].rkm;
		int r;

		if (rkm->offset <= ssi_state_mark_get(&user->state, rkm->partition)) {
			stats->replayed++;
			continue;
		}
		r = ssi_state_apply(&user->state, p->model, &b->msg[i].ev);
		if (r < 0)
			return r;
		if (r == 0)
			stats->duplicates++;
		else
			w->applied++;
		ssi_state_mark_set(&user->state, rkm->partition, rkm->offset);
		user->save_state = true;
	}
	if (user->save_state)
		ssi_state_prune(&user->state, p->model, now_ms);
	ssi_score(&user->state, p->model, now_ms, &w->score);
	w->publish = !user->has_published || moved(&w->score, &user->published, p->o.epsilon);
	stats->applied += (size_t)w->applied;
	return 0;
}

static struct delivery *delivery_new(void)
{
	return calloc(1, sizeof(struct delivery));
}

void ssid_pipeline_delivery_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
	struct delivery *d = rkm->_private;

	(void)rk;
	(void)opaque;
	if (!d)
		return;
	if (rkm->err) {
		d->failed++;
		snprintf(d->err, sizeof(d->err), "%s", rd_kafka_err2str(rkm->err));
	}
	if (--d->outstanding == 0 && d->abandoned)
		free(d);
}

static int produce(struct ssid_pipeline *p, struct delivery *d, const char *topic, const void *key,
		   size_t keylen, const void *val, size_t len, rd_kafka_headers_t *hdrs)
{
	for (;;) {
		rd_kafka_resp_err_t err;

		err = rd_kafka_producev(
		    p->o.producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, keylen),
		    RD_KAFKA_V_VALUE((void *)val, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		    RD_KAFKA_V_OPAQUE(d), RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
		if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
			d->outstanding++; /* hdrs now owned by librdkafka */
			return 0;
		}
		if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			if (hdrs)
				rd_kafka_headers_destroy(hdrs);
			snprintf(p->err, sizeof(p->err), "produce to %s: %s", topic,
				 rd_kafka_err2str(err));
			return -ECOMM;
		}
		/* The local queue is full: serve delivery reports to drain it. */
		rd_kafka_poll(p->o.producer, 10);
	}
}

static int produce_dlq(struct ssid_pipeline *p, struct delivery *d, const struct ssid_msg *m)
{
	const rd_kafka_message_t *rkm = m->rkm;
	rd_kafka_headers_t *h = rd_kafka_headers_new(6);
	char num[32];

	rd_kafka_header_add(h, "ssi.reason", -1, m->why.code, -1);
	rd_kafka_header_add(h, "ssi.message", -1, m->why.message, -1);
	rd_kafka_header_add(h, "ssi.source.topic", -1, rd_kafka_topic_name(rkm->rkt), -1);
	snprintf(num, sizeof(num), "%d", (int)rkm->partition);
	rd_kafka_header_add(h, "ssi.source.partition", -1, num, -1);
	snprintf(num, sizeof(num), "%lld", (long long)rkm->offset);
	rd_kafka_header_add(h, "ssi.source.offset", -1, num, -1);
	/*
	 * A payload too large for any broker's default message size would be
	 * refused for ever and stall its partition: keep its head and say so.
	 */
	if (rkm->len > SSID_DLQ_VALUE_MAX) {
		snprintf(num, sizeof(num), "%zu", rkm->len);
		rd_kafka_header_add(h, "ssi.truncated_from", -1, num, -1);
	}
	return produce(p, d, p->o.dlq_topic, rkm->key, rkm->key_len, rkm->payload,
		       rkm->len > SSID_DLQ_VALUE_MAX ? SSID_DLQ_VALUE_MAX : rkm->len, h);
}

static int produce_score(struct ssid_pipeline *p, struct delivery *d, uint32_t u, int64_t now_ms)
{
	const struct ssid_user *user = &p->users[u];
	struct ssid_score_msg msg = {
	    .user_id = user->id,
	    .model_version = p->model->version,
	    .score = p->work[u].score,
	    .has_previous = user->has_published,
	    .previous = user->published,
	    .cause = SSID_CAUSE_EVENT,
	    .as_of_ms = now_ms,
	    .events = p->work[u].applied,
	};
	int r;

	for (int s = 0; s < SSI_SEG__COUNT; s++)
		msg.segment[s] = user->state.segment[s];
	ssid_buf_reset(&p->out);
	r = ssid_out_score_updated(&p->out, &msg);
	if (r < 0)
		return r;
	return produce(p, d, p->o.output_topic, user->id, strlen(user->id), p->out.data, p->out.len,
		       NULL);
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for every report of this attempt, serving the caller's tick. */
static int await_deliveries(struct ssid_pipeline *p, struct delivery *d)
{
	int64_t deadline = mono_ms() + p->o.delivery_timeout_ms;

	while (d->outstanding > 0 && mono_ms() < deadline) {
		rd_kafka_poll(p->o.producer, 100);
		if (p->o.tick)
			p->o.tick(p->o.tick_ctx);
	}
	if (d->outstanding > 0) {
		snprintf(p->err, sizeof(p->err), "%d deliveries still pending after %d ms",
			 d->outstanding, p->o.delivery_timeout_ms);
		return -ETIMEDOUT;
	}
	if (d->failed > 0) {
		snprintf(p->err, sizeof(p->err), "%d deliveries failed: %s", d->failed, d->err);
		return -ECOMM;
	}
	return 0;
}

static int produce_all(struct ssid_pipeline *p, struct ssid_batch *b, int64_t now_ms,
		       struct ssid_batch_stats *stats)
{
	struct delivery *d = delivery_new();
	int r = 0;

	if (!d)
		return -ENOMEM;
	for (size_t i = 0; i < b->n && r == 0; i++)
		if (b->msg[i].status < 0) {
			r = produce_dlq(p, d, &b->msg[i]);
			stats->rejected++;
		}
	for (size_t u = 0; u < p->nusers && r == 0; u++)
		if (p->work[u].publish && p->users[u].load_status == 0) {
			r = produce_score(p, d, (uint32_t)u, now_ms);
			stats->outputs++;
		}
	if (r == 0)
		r = await_deliveries(p, d);
	else
		rd_kafka_flush(p->o.producer, p->o.delivery_timeout_ms);
	if (d->outstanding > 0)
		d->abandoned = true; /* the last report frees it */
	else
		free(d);
	return r;
}

static int store_step(struct ssid_pipeline *p, int r)
{
	if (r < 0)
		snprintf(p->err, sizeof(p->err), "redis: %s", ssid_store_errstr(p->o.store));
	return r;
}

int ssid_pipeline_run(struct ssid_pipeline *p, struct ssid_batch *b, int64_t now_ms,
		      struct ssid_batch_stats *stats)
{
	int r;

	memset(stats, 0, sizeof(*stats));
	stats->events = b->n;
	users_reset(p);
	if (b->n == 0)
		return 0;
	r = scratch_reserve(p, b->n);
	if (r < 0)
		return r;
	parse_all(p, b);
	group_by_user(p, b, now_ms);
	stats->users = p->nusers;

	r = store_step(p, ssid_store_load(p->o.store, p->users, p->nusers));
	if (r < 0)
		return r;
	for (uint32_t u = 0; u < p->nusers; u++) {
		if (p->users[u].load_status < 0) {
			reject_unreadable(p, b, u);
			continue;
		}
		r = apply_user(p, b, u, now_ms, stats);
		if (r < 0)
			return r;
	}
	r = store_step(p, ssid_store_save(p->o.store, p->users, p->nusers));
	if (r < 0)
		return r;
	ssid_failpoint("after_state_save");

	r = produce_all(p, b, now_ms, stats);
	if (r < 0)
		return r;
	ssid_failpoint("after_delivery");

	for (size_t u = 0; u < p->nusers; u++) {
		p->users[u].save_state = false;
		p->users[u].save_published = p->work[u].publish && p->users[u].load_status == 0;
		p->users[u].published = p->work[u].score;
	}
	return store_step(p, ssid_store_save(p->o.store, p->users, p->nusers));
}
