/*
 * The fixture's Kafka: librdkafka's mock cluster (or topics on a real
 * broker, fx_kafka_attach), the test's producer and committed-offsets
 * inspector, and reading a topic back (see fixture.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "fixture_int.h"
#include "ssi_array.h"

/* ---- Kafka --------------------------------------------------------------- */

static void quiet_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	(void)level;
	(void)fac;
	(void)buf;
}

static rd_kafka_conf_t *client_conf(const struct fx_kafka *k, const char *group)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char err[256];

	rd_kafka_conf_set_log_cb(conf, quiet_log);
	if (rd_kafka_conf_set(conf, "bootstrap.servers", k->bootstraps, err, sizeof(err)) ||
	    (group && rd_kafka_conf_set(conf, "group.id", group, err, sizeof(err))) ||
	    (group && rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err)))) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	return conf;
}

/* Delivery reports say where each event of a stream landed (the message's opaque). */
static void event_dr(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
	struct fx_event *ev = rkm->_private;

	(void)rk;
	(void)opaque;
	if (ev && rkm->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		ev->partition = rkm->partition;
		ev->offset = rkm->offset;
	}
}

rd_kafka_t *fxi_producer(const struct fx_kafka *k, const char *const *extra)
{
	rd_kafka_conf_t *conf = client_conf(k, NULL);
	char err[512];
	rd_kafka_t *rk;

	if (!conf)
		return NULL;
	if (rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof(err)) ||
	    rd_kafka_conf_set(conf, "linger.ms", "5", err, sizeof(err))) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	for (size_t i = 0; extra && extra[i]; i += 2)
		if (rd_kafka_conf_set(conf, extra[i], extra[i + 1], err, sizeof(err))) {
			rd_kafka_conf_destroy(conf);
			return NULL;
		}
	rd_kafka_conf_set_dr_msg_cb(conf, event_dr);
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (!rk)
		rd_kafka_conf_destroy(conf);
	return rk;
}

rd_kafka_resp_err_t fxi_produce_one(rd_kafka_t *rk, const char *topic, const void *key,
				    size_t key_len, const void *value, size_t len,
				    rd_kafka_headers_t *headers, struct fx_event *ev)
{
	rd_kafka_resp_err_t err;

	for (;;) {
		err = rd_kafka_producev(
		    rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key_len),
		    RD_KAFKA_V_VALUE((void *)value, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		    RD_KAFKA_V_OPAQUE(ev), RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_END);
		if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			return err;
		rd_kafka_poll(rk, 10);
	}
}

int fxi_flush_delivered(rd_kafka_t *rk, const struct fx_stream *s, size_t from, size_t to)
{
	if (rd_kafka_flush(rk, FX_WAIT_MS))
		return -ETIMEDOUT;
	for (size_t i = from; i < to; i++)
		if (s->ev[i].offset < 0)
			return -EIO;
	return 0;
}

/* The test's producer and its committed-offsets inspector, on k->bootstraps. */
static int kafka_clients(struct fx_kafka *k)
{
	rd_kafka_conf_t *conf;
	char err[512];

	k->producer = fxi_producer(k, NULL);
	if (!k->producer)
		return -EINVAL;
	conf = client_conf(k, k->group);
	if (!conf)
		return -EINVAL;
	k->inspector = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
	if (!k->inspector) {
		rd_kafka_conf_destroy(conf);
		return -EINVAL;
	}
	return 0;
}

/* The topic names of tag, and partitions checked. */
static int kafka_names(struct fx_kafka *k, const char *tag, int partitions)
{
	memset(k, 0, sizeof(*k));
	if (partitions < 1 || partitions > FX_PARTITIONS_MAX)
		return -EINVAL;
	k->partitions = partitions;
	snprintf(k->input, sizeof(k->input), "%s.events", tag);
	snprintf(k->output, sizeof(k->output), "%s.scores", tag);
	snprintf(k->dlq, sizeof(k->dlq), "%s.dlq", tag);
	snprintf(k->group, sizeof(k->group), "%s-ssid", tag);
	return 0;
}

int fx_kafka_start(struct fx_kafka *k, const char *tag, int partitions)
{
	char err[512];
	int r;

	r = kafka_names(k, tag, partitions);
	if (r < 0)
		return r;
	r = ssid_mock_new(&k->mock, 1, err, sizeof(err));
	if (r < 0)
		return r;
	k->bootstraps = ssid_mock_bootstraps(k->mock);
	if (ssid_mock_topic(k->mock, k->input, partitions) < 0 ||
	    ssid_mock_topic(k->mock, k->output, partitions) < 0 ||
	    ssid_mock_topic(k->mock, k->dlq, partitions) < 0 || kafka_clients(k) < 0) {
		fx_kafka_free(k);
		return -EINVAL;
	}
	return 0;
}

void fx_kafka_free(struct fx_kafka *k)
{
	if (!k)
		return;
	if (k->inspector) {
		rd_kafka_consumer_close(k->inspector);
		rd_kafka_destroy(k->inspector);
	}
	if (k->producer)
		rd_kafka_destroy(k->producer);
	ssid_mock_free(k->mock);
	memset(k, 0, sizeof(*k));
}

int fx_kafka_committed(struct fx_kafka *k, int64_t out[FX_PARTITIONS_MAX])
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(k->partitions);
	rd_kafka_resp_err_t err;
	int r = 0;

	for (int p = 0; p < k->partitions; p++)
		rd_kafka_topic_partition_list_add(l, k->input, p);
	err = rd_kafka_committed(k->inspector, l, 5000);
	if (err)
		r = -EIO;
	for (int p = 0; p < k->partitions && r == 0; p++) {
		if (l->elems[p].err)
			r = -EIO;
		out[p] = l->elems[p].offset;
	}
	rd_kafka_topic_partition_list_destroy(l);
	return r;
}

char *fxi_dup_bytes(const void *p, size_t len)
{
	char *s = malloc(len + 1);

	if (!s)
		return NULL;
	if (len)
		memcpy(s, p, len);
	s[len] = '\0';
	return s;
}

static int msgs_add(struct fx_msgs *l, const rd_kafka_message_t *rkm)
{
	rd_kafka_headers_t *hdrs = NULL;
	struct fx_msg *m;

	if (SSI_GROW(l->m, &l->cap, l->n + 1, 64) < 0)
		return -ENOMEM;
	m = &l->m[l->n];
	memset(m, 0, sizeof(*m));
	m->partition = rkm->partition;
	m->offset = rkm->offset;
	m->key_len = rkm->key_len;
	m->len = rkm->len;
	m->value = fxi_dup_bytes(rkm->payload, rkm->payload ? rkm->len : 0);
	if (rkm->key)
		m->key = fxi_dup_bytes(rkm->key, rkm->key_len);
	if (rd_kafka_message_headers(rkm, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR)
		m->headers = rd_kafka_headers_copy(hdrs);
	l->n++;
	if (!m->value || (rkm->key && !m->key))
		return -ENOMEM;
	return 0;
}

/* Ends of every partition of topic, to know when a read is complete. */
static int topic_ends(rd_kafka_t *rk, const char *topic, int partitions, int64_t *hi)
{
	for (int p = 0; p < partitions; p++) {
		int64_t lo;

		if (rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi[p], 10000))
			return -EIO;
	}
	return 0;
}

int fx_kafka_read_topic(struct fx_kafka *k, const char *topic, struct fx_msgs *out)
{
	char group[96], err[256];
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk;
	rd_kafka_topic_partition_list_t *l = NULL;
	int64_t hi[FX_PARTITIONS_MAX], next[FX_PARTITIONS_MAX];
	int64_t deadline = fx_deadline(FX_WAIT_MS);
	int r, left = 0;

	memset(out, 0, sizeof(*out));
	snprintf(group, sizeof(group), "%s-reader", k->group);
	conf = client_conf(k, group);
	if (!conf)
		return -EINVAL;
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
	if (!rk) {
		rd_kafka_conf_destroy(conf);
		return -EINVAL;
	}
	r = topic_ends(rk, topic, k->partitions, hi);
	if (r < 0)
		goto out;
	l = rd_kafka_topic_partition_list_new(k->partitions);
	for (int p = 0; p < k->partitions; p++) {
		next[p] = 0;
		if (hi[p] > 0) {
			rd_kafka_topic_partition_list_add(l, topic, p)->offset =
			    RD_KAFKA_OFFSET_BEGINNING;
			left++;
		}
	}
	if (left > 0 && rd_kafka_assign(rk, l)) {
		r = -EIO;
		goto out;
	}
	while (left > 0) {
		rd_kafka_message_t *rkm = rd_kafka_consumer_poll(rk, 100);

		if (fx_expired(deadline)) {
			r = -ETIMEDOUT;
			break;
		}
		if (!rkm)
			continue;
		if (!rkm->err && rkm->partition >= 0 && rkm->partition < k->partitions &&
		    rkm->offset < hi[rkm->partition]) {
			r = msgs_add(out, rkm);
			next[rkm->partition] = rkm->offset + 1;
			if (next[rkm->partition] == hi[rkm->partition])
				left--;
		}
		rd_kafka_message_destroy(rkm);
		if (r < 0)
			break;
	}
out:
	if (l)
		rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return r;
}

void fx_msgs_free(struct fx_msgs *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->m[i].key);
		free(l->m[i].value);
		if (l->m[i].headers)
			rd_kafka_headers_destroy(l->m[i].headers);
	}
	free(l->m);
	memset(l, 0, sizeof(*l));
}

const char *fx_msg_header(const struct fx_msg *m, const char *name, char *buf, size_t len)
{
	const void *v;
	size_t n;

	if (!m->headers || rd_kafka_header_get_last(m->headers, name, &v, &n))
		return NULL;
	snprintf(buf, len, "%.*s", (int)n, v ? (const char *)v : "");
	return buf;
}

/* ---- a real broker ------------------------------------------------------- */

int fx_kafka_attach(struct fx_kafka *k, const char *bootstraps, const char *tag, int partitions)
{
	int r = kafka_names(k, tag, partitions);

	if (r < 0)
		return r;
	k->bootstraps = bootstraps;
	r = kafka_clients(k);
	if (r < 0)
		fx_kafka_free(k);
	return r;
}
