/*
 * ssid_produce: an attempt's outputs to Kafka (dead letters, score.updated,
 * rank.changed, alert, leaderboard.changed) and the wait for their delivery
 * reports; after a fatal producer error, the undelivered ones again through
 * a new producer. Owns struct delivery, which outlives an attempt whose
 * reports are still outstanding; see ssid_pipeline_int.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ssi_array.h"
#include "ssid_out.h"
#include "ssid_pipeline_int.h"

/* An output whose delivery failed, kept to be sent again through a new producer. */
struct undelivered {
	char *topic;
	void *key, *value;
	size_t key_len, len;
	rd_kafka_headers_t *hdrs; /* NULL when none */
};

struct undelivered_list {
	struct undelivered *u;
	size_t n, cap;
};

/*
 * Deliveries of one attempt; freed by whoever sees the last report. Every
 * output reported failed was produced before any refused by a producer
 * already dead, so reported then refused is the order they were produced
 * in, per partition.
 */
struct delivery {
	int outstanding;
	int failed;
	bool abandoned;
	char err[160];
	struct undelivered_list reported; /* failed outputs, in report order */
	struct undelivered_list refused;  /* refused by a dead producer, in produce order */
	bool keep_failed;		  /* false once keeping one failed (memory): no resend */
};

static struct delivery *delivery_new(void)
{
	struct delivery *d = calloc(1, sizeof(struct delivery));

	if (d)
		d->keep_failed = true;
	return d;
}

static void undelivered_free(struct undelivered_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->u[i].topic);
		free(l->u[i].key);
		free(l->u[i].value);
		if (l->u[i].hdrs)
			rd_kafka_headers_destroy(l->u[i].hdrs);
	}
	free(l->u);
}

static void delivery_free(struct delivery *d)
{
	undelivered_free(&d->reported);
	undelivered_free(&d->refused);
	free(d);
}

/* Keep a copy of a failed output in l (hdrs: taken over). */
static void keep_undelivered(struct delivery *d, struct undelivered_list *l, const char *topic,
			     const void *key, size_t key_len, const void *value, size_t len,
			     rd_kafka_headers_t *hdrs)
{
	struct undelivered *u;

	if (d->keep_failed && SSI_GROW(l->u, &l->cap, l->n + 1, 16) < 0)
		d->keep_failed = false;
	if (!d->keep_failed) {
		if (hdrs)
			rd_kafka_headers_destroy(hdrs);
		return;
	}
	u = &l->u[l->n];
	*u = (struct undelivered){.topic = strdup(topic),
				  .key = key_len ? malloc(key_len) : NULL,
				  .value = len ? malloc(len) : NULL,
				  .key_len = key_len,
				  .len = len,
				  .hdrs = hdrs};
	if (!u->topic || (key_len && !u->key) || (len && !u->value)) {
		free(u->topic);
		free(u->key);
		free(u->value);
		if (hdrs)
			rd_kafka_headers_destroy(hdrs);
		d->keep_failed = false;
		return;
	}
	if (key_len)
		memcpy(u->key, key, key_len);
	if (len)
		memcpy(u->value, value, len);
	l->n++;
}

void ssid_pipeline_delivery_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
	struct delivery *d = rkm->_private;
	rd_kafka_headers_t *hdrs = NULL;

	(void)rk;
	(void)opaque;
	if (!d)
		return;
	if (rkm->err) {
		d->failed++;
		snprintf(d->err, sizeof(d->err), "%s", rd_kafka_err2str(rkm->err));
		if (rd_kafka_message_headers(rkm, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR)
			hdrs = rd_kafka_headers_copy(hdrs);
		keep_undelivered(d, &d->reported, rd_kafka_topic_name(rkm->rkt), rkm->key,
				 rkm->key_len, rkm->payload, rkm->len, hdrs);
	}
	if (--d->outstanding == 0 && d->abandoned)
		delivery_free(d);
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
		/* Refused by a producer dead of a fatal error: kept for its successor. */
		if (err == RD_KAFKA_RESP_ERR__FATAL && p->o.renew_producer) {
			d->failed++;
			snprintf(d->err, sizeof(d->err), "%s", rd_kafka_err2str(err));
			keep_undelivered(d, &d->refused, topic, key, keylen, val, len, hdrs);
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

/* Produce the message just rendered into p->out (rendered: its status) under key. */
static int produce_out(struct ssid_pipeline *p, struct delivery *d, const char *key, int rendered)
{
	if (rendered < 0)
		return rendered;
	return produce(p, d, p->o.output_topic, key, strlen(key), p->out.data, p->out.len, NULL);
}

static int produce_score(struct ssid_pipeline *p, struct delivery *d, uint32_t u, int64_t now_ms)
{
	const struct ssid_user *user = &p->users[u];
	const struct user_work *w = &p->work[u];
	struct ssid_score_msg msg = {
	    .user_id = user->id,
	    .model_version = p->model->version,
	    .score = w->score,
	    .has_previous = user->has_published,
	    .previous = user->published,
	    .cause = w->cause,
	    .as_of_ms = now_ms,
	    .events = w->applied,
	    .backfill = w->backfill,
	    .has_ranks = w->has_ranks,
	};

	for (int s = 0; s < SSI_SEG__COUNT; s++)
		msg.segment[s] = user->state.segment[s];
	for (int k = 0; k < SSID_RANK__COUNT && w->has_ranks; k++)
		msg.rank[k] = work_rank(p, w, k);
	msg.has_network = w->has_ranks && user->network_day >= 0;
	msg.network = user->network;
	msg.network_day = user->network_day;
	if (w->has_ranks && !p->avgs)
		p->avgs = calloc(1, sizeof(*p->avgs)); /* without it, averages are written anew */
	msg.avgs = p->avgs;
	ssid_buf_reset(&p->out);
	return produce_out(p, d, user->id, ssid_out_score_updated(&p->out, &msg));
}

static int produce_crossing(struct ssid_pipeline *p, struct delivery *d, const struct crossing *c,
			    int64_t now_ms)
{
	const struct ssid_user *user = &p->users[c->user];
	char value[2 * SSI_ID_MAX + 2];
	struct ssid_rank_msg msg = {
	    .user_id = user->id,
	    .kind = c->kind,
	    .crossing = c->c,
	    .from_top_percent = user->published_top[c->kind],
	    .pos = work_rank(p, &p->work[c->user], c->kind),
	    .cause = p->work[c->user].cause,
	    .as_of_ms = now_ms,
	    .model_version = p->model->version,
	};
	if (c->kind == SSID_RANK_INDUSTRY)
		msg.segment_value = user->state.segment[SSI_SEG_INDUSTRY];
	else if (c->kind == SSID_RANK_TENANT)
		msg.segment_value = user->state.segment[SSI_SEG_TENANT];
	else if (c->kind == SSID_RANK_TEAM) {
		snprintf(value, sizeof(value), "%s/%s", user->state.segment[SSI_SEG_TENANT],
			 user->state.segment[SSI_SEG_TEAM]);
		msg.segment_value = value;
	}
	ssid_buf_reset(&p->out);
	return produce_out(p, d, user->id, ssid_out_rank_changed(&p->out, &msg));
}

static int produce_alert(struct ssid_pipeline *p, struct delivery *d, const struct alert_out *a,
			 int64_t now_ms)
{
	const struct ssid_user *user = &p->users[a->user];
	struct ssid_alert_msg msg = {
	    .user_id = user->id,
	    .alert = &a->a,
	    .score = p->work[a->user].score,
	    .as_of_ms = now_ms,
	    .model_version = p->model->version,
	};
	ssid_buf_reset(&p->out);
	return produce_out(p, d, user->id, ssid_out_alert(&p->out, &msg));
}

/* Keyed by the board's tenant, so one tenant's boards stay in order. */
static int produce_board(struct ssid_pipeline *p, struct delivery *d,
			 const struct ssid_board_update *bu, int64_t now_ms)
{
	struct ssid_board_msg msg = {
	    .kind = bu->kind,
	    .tenant = bu->tenant,
	    .team = bu->team,
	    .board = bu->board,
	    .changes = bu->changes,
	    .backfill = bu->backfill,
	    .as_of_ms = now_ms,
	    .model_version = p->model->version,
	};
	ssid_buf_reset(&p->out);
	return produce_out(p, d, bu->tenant, ssid_out_leaderboard_changed(&p->out, &msg));
}

/* Wait for every report of this attempt, serving the caller's tick. */
static int await_deliveries(struct ssid_pipeline *p, struct delivery *d)
{
	int64_t deadline = ssid_time_mono_ms() + p->o.delivery_timeout_ms;

	while (d->outstanding > 0 && ssid_time_mono_ms() < deadline) {
		/* Unlike a poll, a flush sends what linger.ms holds back: nothing else comes. */
		rd_kafka_flush(p->o.producer, 100);
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

/*
 * The producer raised a fatal error and every report of the attempt is in:
 * get a new producer and send the undelivered outputs again, in the order
 * they were produced in (per partition), as a new round of deliveries into
 * *dp. 0 when all of them got through.
 * Outputs the broker may have written before the error (possibly
 * persisted) are sent again too: at least once, never lost.
 */
static int resend_undelivered(struct ssid_pipeline *p, struct delivery **dp)
{
	struct delivery *old = *dp, *d;
	rd_kafka_t *fresh;
	int r = 0;

	if (!old->keep_failed) {
		snprintf(p->err, sizeof(p->err), "out of memory keeping undelivered outputs");
		return -ENOMEM;
	}
	fresh = p->o.renew_producer(p->o.tick_ctx);
	if (!fresh) {
		snprintf(p->err, sizeof(p->err),
			 "kafka producer: fatal error, and no new producer");
		return -ECOMM;
	}
	p->o.producer = fresh;
	d = delivery_new();
	if (!d)
		return -ENOMEM;
	for (int pass = 0; pass < 2; pass++) {
		struct undelivered_list *l = pass == 0 ? &old->reported : &old->refused;

		for (size_t i = 0; i < l->n && r == 0; i++) {
			r = produce(p, d, l->u[i].topic, l->u[i].key, l->u[i].key_len,
				    l->u[i].value, l->u[i].len, l->u[i].hdrs);
			l->u[i].hdrs = NULL; /* taken by produce */
		}
	}
	delivery_free(old);
	*dp = d;
	if (r == 0)
		r = await_deliveries(p, d);
	return r;
}

static bool producer_fatal(struct ssid_pipeline *p)
{
	char why[256];

	return rd_kafka_fatal_error(p->o.producer, why, sizeof(why)) != RD_KAFKA_RESP_ERR_NO_ERROR;
}

/* How many times one attempt replaces a producer dead of a fatal error. */
#define RENEWALS_MAX 3

/* A replay's scores were delivered when its events were first read. */
static bool score_to_send(const struct ssid_pipeline *p, size_t u)
{
	return p->work[u].publish && (p->work[u].live || !p->work[u].replay) &&
	       p->users[u].load_status == 0;
}

/* What an attempt produced, counted into the metrics once all of it is delivered. */
struct produced {
	uint64_t msgs[SSID_MSG__COUNT][SSID_METRIC_CAUSES];
	uint64_t alerts[SSI_ALERT__COUNT];
};

static void count_delivered(struct ssid_pipeline *p, const struct ssid_batch *b,
			    const struct produced *pr, int64_t now_ms)
{
	struct ssid_metrics *m = p->o.metrics;
	struct ssid_hist_local lat = {0};
	/* ssid's clock at this delivery: the attempt's now_ms plus the time it took. */
	int64_t delivered = now_ms + (ssid_time_mono_ms() - p->run_mono);

	for (int t = 0; t < SSID_MSG__COUNT; t++)
		for (int c = 0; c < SSID_METRIC_CAUSES; c++)
			ssid_metrics_add(&m->published[t][c], pr->msgs[t][c]);
	for (int a = 0; a < SSI_ALERT__COUNT; a++)
		ssid_metrics_add(&m->alerts[a], pr->alerts[a]);
	for (size_t i = 0; b && pr->msgs[SSID_MSG_DEAD_LETTER][SSID_METRIC_CAUSE_NONE] && i < b->n;
	     i++)
		if (b->msg[i].status < 0 && !b->msg[i].replay)
			ssid_metrics_dead_letter(m, b->msg[i].why.code);
	for (size_t u = 0; u < p->nusers; u++) {
		const struct user_work *w = &p->work[u];

		if (score_to_send(p, u) && w->cause == SSID_CAUSE_EVENT && !w->backfill &&
		    w->newest_ms > 0)
			ssid_hist_local_observe(&m->publish_latency, &lat,
						(double)(delivered - w->newest_ms) / 1000.0);
	}
	ssid_hist_merge(&m->publish_latency, &lat);
}

int pipe_produce_all(struct ssid_pipeline *p, struct ssid_batch *b, int64_t now_ms,
		     struct ssid_batch_stats *stats)
{
	struct delivery *d = delivery_new();
	struct produced pr = {0};
	int r = 0;

	if (!d)
		return -ENOMEM;
	for (size_t i = 0; b && i < b->n && r == 0; i++) {
		if (b->msg[i].status >= 0)
			continue;
		if (b->msg[i].replay) {
			stats->replay_rejected++;
			continue;
		}
		r = produce_dlq(p, d, &b->msg[i]);
		stats->rejected++;
		pr.msgs[SSID_MSG_DEAD_LETTER][SSID_METRIC_CAUSE_NONE]++;
	}
	for (size_t u = 0; u < p->nusers && r == 0; u++)
		if (score_to_send(p, u)) {
			r = produce_score(p, d, (uint32_t)u, now_ms);
			stats->outputs++;
			pr.msgs[SSID_MSG_SCORE][p->work[u].cause]++;
		}
	for (size_t i = 0; i < p->ncrossings && r == 0; i++, stats->rank_changes++) {
		r = produce_crossing(p, d, &p->crossings[i], now_ms);
		pr.msgs[SSID_MSG_RANK][p->work[p->crossings[i].user].cause]++;
	}
	for (size_t i = 0; i < p->nalerts && r == 0; i++, stats->alerts++) {
		r = produce_alert(p, d, &p->alerts[i], now_ms);
		pr.msgs[SSID_MSG_ALERT][p->work[p->alerts[i].user].cause]++;
		pr.alerts[p->alerts[i].a.rule]++;
	}
	if (r == 0 && p->o.boards) {
		r = ssid_boards_collect(p->o.boards, ssid_time_mono_ms(), &p->boards, &p->nboards);
		if (r < 0)
			snprintf(p->err, sizeof(p->err), "redis (leaderboards): %s",
				 ssid_rank_errstr(p->o.rank));
	}
	for (size_t i = 0; i < p->nboards && r == 0; i++, stats->boards++) {
		r = produce_board(p, d, &p->boards[i], now_ms);
		pr.msgs[SSID_MSG_BOARD][SSID_METRIC_CAUSE_NONE]++;
	}
	if (r == 0)
		r = await_deliveries(p, d);
	else
		rd_kafka_flush(p->o.producer, p->o.delivery_timeout_ms);
	for (int renewals = 0; r == -ECOMM && d->outstanding == 0 && p->o.renew_producer &&
			       renewals < RENEWALS_MAX && producer_fatal(p);
	     renewals++)
		r = resend_undelivered(p, &d);
	if (r == 0 && p->o.metrics)
		count_delivered(p, b, &pr, now_ms);
	else if (p->o.metrics)
		ssid_metrics_add(&p->o.metrics->kafka_producer_errors, (uint64_t)d->failed);
	if (p->o.boards)
		ssid_boards_done(p->o.boards, r == 0, ssid_time_mono_ms());
	if (d->outstanding > 0)
		d->abandoned = true; /* the last report frees it */
	else
		delivery_free(d);
	return r;
}
