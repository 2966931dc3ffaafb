/*
 * ssictl_alerts: alerts [--follow]: the alerts in ssid's output topic, read
 * by a consumer that joins no group and commits nothing, oldest first; or
 * followed from the topic's end until ssictl_request_stop. See ssictl_int.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "ssi_array.h"
#include "ssid_kafka.h"
#include "ssictl_int.h"

#define KAFKA_TIMEOUT_MS 10000

struct alert {
	json_t *msg;
	const char *as_of; /* inside msg */
	int32_t partition;
	int64_t offset;
};

struct alerts {
	struct alert *a;
	size_t n, cap;
};

/* A string member of an alert, "" when absent or not a string. */
static const char *jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

/* Alerts oldest first (as_of is UTC with fixed width), then in topic order. */
static int by_time(const void *x, const void *y)
{
	const struct alert *a = x, *b = y;
	int d = strcmp(a->as_of, b->as_of);

	if (d)
		return d;
	if (a->partition != b->partition)
		return a->partition < b->partition ? -1 : 1;
	return a->offset < b->offset ? -1 : a->offset > b->offset;
}

/* One alert as "time  user  rule  why". */
static void alert_line(struct ctl *c, const json_t *a, int wuser, int wrule)
{
	ssictl_put_clean(c->out, jstr(a, "as_of"), 24);
	fputs("  ", c->out);
	ssictl_put_clean(c->out, jstr(a, "user_id"), wuser);
	fputs("  ", c->out);
	ssictl_put_clean(c->out, jstr(a, "rule"), wrule);
	fputs("  ", c->out);
	ssictl_put_clean(c->out, jstr(a, "why"), 0);
	fputc('\n', c->out);
}

/* An alert message, parsed; NULL for anything else on the topic. */
static json_t *alert_parse(const rd_kafka_message_t *m)
{
	json_t *o;

	if (!m->payload || m->len == 0)
		return NULL;
	o = json_loadb(m->payload, m->len, 0, NULL);
	if (o && (!json_is_object(o) || strcmp(jstr(o, "type"), "alert") != 0)) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

/* A consumer of the output topic that joins no group and commits nothing. */
static int alerts_consumer(struct ctl *c, rd_kafka_t **out)
{
	char errstr[1024], bootstrap[1024], group[64];
	const char *bs = NULL;
	rd_kafka_conf_t *conf = NULL;
	struct timespec ts;
	int r;

	if (c->cfg.mock_cluster_brokers > 0) {
		if (!c->cfg.mock_cluster_bootstrap_file[0])
			return ssictl_fail(
			    c, SSICTL_EXIT_CONFIG,
			    "%s: mock_cluster.brokers without mock_cluster.bootstrap_file: "
			    "the embedded cluster lives in ssid's process, and ssictl finds "
			    "it through that file",
			    c->config_path);
		r = ssid_mock_read_bootstrap_file(c->cfg.mock_cluster_bootstrap_file, bootstrap,
						  sizeof(bootstrap));
		if (r < 0)
			return ssictl_fail(
			    c, SSICTL_EXIT_UNAVAILABLE,
			    "%s: cannot read the mock cluster's address (is ssid running?): "
			    "%s",
			    c->cfg.mock_cluster_bootstrap_file,
			    r == -ENODATA ? "empty" : strerror(-r));
		bs = bootstrap;
	}
	if (ssid_kafka_conf_new(&conf, &c->cfg, SSID_KAFKA_CONSUMER, bs, errstr, sizeof(errstr)) <
	    0)
		return ssictl_fail(c, SSICTL_EXIT_CONFIG, "%s", errstr);
	/* A group of its own: never the daemon's, whose offsets it must not touch. */
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(group, sizeof(group), "ssictl-%ld-%lx", (long)getpid(),
		 (unsigned long)(ts.tv_nsec ^ ts.tv_sec));
	if (rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof(errstr)) ||
	    rd_kafka_conf_set(conf, "enable.partition.eof", "true", errstr, sizeof(errstr))) {
		rd_kafka_conf_destroy(conf);
		return ssictl_fail(c, SSICTL_EXIT_SOFTWARE, "kafka: %s", errstr);
	}
	/* librdkafka's own log stays out of the output: failures are reported by ssictl. */
	rd_kafka_conf_set_log_cb(conf, ssid_kafka_quiet_log);
	*out = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	if (!*out) {
		rd_kafka_conf_destroy(conf);
		return ssictl_fail(c, SSICTL_EXIT_CONFIG, "kafka: %s", errstr);
	}
	rd_kafka_poll_set_consumer(*out);
	return 0;
}

/*
 * Assign every partition of the output topic: from its start (and remember
 * its end in hi) to read what is there, or from its end to follow.
 */
static int alerts_assign(struct ctl *c, rd_kafka_t *rk, bool follow, int64_t **hi_out, int *nparts)
{
	const char *topic = c->cfg.output_topic;
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_partition_list_t *list = NULL;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	rd_kafka_resp_err_t err;
	int64_t *hi = NULL;
	int r = 0, n;

	if (!rkt)
		return ssictl_fail(c, SSICTL_EXIT_SOFTWARE, "kafka: cannot use topic %s", topic);
	err = rd_kafka_metadata(rk, 0, rkt, &md, KAFKA_TIMEOUT_MS);
	if (err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 && md->topics[0].err)
		err = md->topics[0].err;
	if (err) {
		r = ssictl_fail(c, SSICTL_EXIT_UNAVAILABLE, "kafka: topic %s: %s", topic,
				rd_kafka_err2str(err));
		goto out;
	}
	/* hi is indexed by partition id (0..n-1 in Kafka, in whatever order they come). */
	n = 0;
	for (int i = 0; md->topic_cnt == 1 && i < md->topics[0].partition_cnt; i++)
		if (md->topics[0].partitions[i].id >= n)
			n = md->topics[0].partitions[i].id + 1;
	hi = malloc((size_t)(n ? n : 1) * sizeof(*hi));
	list = rd_kafka_topic_partition_list_new(n ? n : 1);
	if (!hi || !list) {
		r = ssictl_fail(c, SSICTL_EXIT_SOFTWARE, "out of memory");
		goto out;
	}
	for (int i = 0; i < n; i++)
		hi[i] = -1; /* -1: nothing (more) to read there */
	for (int i = 0; md->topic_cnt == 1 && i < md->topics[0].partition_cnt; i++) {
		int32_t id = md->topics[0].partitions[i].id;
		int64_t lo = 0, high = 0;

		if (id < 0)
			continue;
		err = rd_kafka_query_watermark_offsets(rk, topic, id, &lo, &high, KAFKA_TIMEOUT_MS);
		if (err) {
			r = ssictl_fail(c, SSICTL_EXIT_UNAVAILABLE, "kafka: %s [%d]: %s", topic,
					(int)id, rd_kafka_err2str(err));
			goto out;
		}
		if (follow || high > lo) {
			rd_kafka_topic_partition_list_add(list, topic, id)->offset =
			    follow ? high : lo;
			hi[id] = high;
		}
	}
	err = rd_kafka_assign(rk, list);
	if (err)
		r = ssictl_fail(c, SSICTL_EXIT_UNAVAILABLE, "kafka: assign %s: %s", topic,
				rd_kafka_err2str(err));
	*nparts = n;
out:
	if (r == 0) {
		*hi_out = hi;
		hi = NULL;
	}
	free(hi);
	if (list)
		rd_kafka_topic_partition_list_destroy(list);
	if (md)
		rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(rkt);
	return r;
}

/* Whether every partition assigned for reading has been read to its end. */
static bool all_done(const int64_t *hi, int n)
{
	for (int i = 0; i < n; i++)
		if (hi[i] >= 0)
			return false;
	return true;
}

/* Collect the alerts up to the ends noted at assignment; a stalled read is exit 69. */
static int alerts_read(struct ctl *c, rd_kafka_t *rk, int64_t *hi, int n, struct alerts *al)
{
	struct timespec ts;
	int64_t idle_since;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	idle_since = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	while (!all_done(hi, n) && !ssictl_stopping()) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		int64_t now;
		int32_t p;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
		if (!m) {
			if (now - idle_since > KAFKA_TIMEOUT_MS)
				return ssictl_fail(c, SSICTL_EXIT_UNAVAILABLE,
						   "kafka: %s: no progress for %d ms",
						   c->cfg.output_topic, KAFKA_TIMEOUT_MS);
			continue;
		}
		idle_since = now;
		p = m->partition;
		if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			int r = ssictl_fail(c, SSICTL_EXIT_UNAVAILABLE, "kafka: %s: %s",
					    c->cfg.output_topic, rd_kafka_message_errstr(m));

			rd_kafka_message_destroy(m);
			return r;
		}
		if (!m->err) {
			json_t *a = alert_parse(m);

			if (a && SSI_GROW(al->a, &al->cap, al->n + 1, 64) < 0) {
				json_decref(a);
				rd_kafka_message_destroy(m);
				return ssictl_fail(c, SSICTL_EXIT_SOFTWARE, "out of memory");
			}
			if (a)
				al->a[al->n++] = (struct alert){a, jstr(a, "as_of"), p, m->offset};
		}
		if (p >= 0 && p < n && hi[p] >= 0 &&
		    (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF || m->offset + 1 >= hi[p]))
			hi[p] = -1;
		rd_kafka_message_destroy(m);
	}
	return 0;
}

/* The collected alerts, oldest first, in aligned columns or one JSON document. */
static int alerts_print(struct ctl *c, struct alerts *al)
{
	int wuser = 4, wrule = 4;

	if (al->n > 1)
		qsort(al->a, al->n, sizeof(*al->a), by_time);
	if (c->json) {
		json_t *o = json_object(), *arr = json_array();

		json_object_set_new(o, "topic", json_string(c->cfg.output_topic));
		for (size_t i = 0; i < al->n; i++)
			json_array_append(arr, al->a[i].msg);
		json_object_set_new(o, "alerts", arr);
		return ssictl_emit(c, o);
	}
	for (size_t i = 0; i < al->n; i++) {
		int u = (int)strlen(jstr(al->a[i].msg, "user_id")),
		    rl = (int)strlen(jstr(al->a[i].msg, "rule"));

		wuser = u > wuser ? u : wuser;
		wrule = rl > wrule ? rl : wrule;
	}
	if (al->n == 0)
		fprintf(c->out, "no alerts in %s\n", c->cfg.output_topic);
	for (size_t i = 0; i < al->n; i++)
		alert_line(c, al->a[i].msg, wuser, wrule);
	fflush(c->out);
	return 0;
}

/*
 * Print alerts as they arrive until ssictl_request_stop; the notice on err says when it is
 * listening.
 */
static int alerts_follow(struct ctl *c, rd_kafka_t *rk, int nparts)
{
	fprintf(c->err, "ssictl: following %s (%d partitions) from its end; Ctrl-C to stop\n",
		c->cfg.output_topic, nparts);
	fflush(c->err);
	while (!ssictl_stopping()) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		json_t *a;

		if (!m)
			continue;
		if (m->err) {
			if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
				fprintf(c->err, "ssictl: kafka: %s\n", rd_kafka_message_errstr(m));
				fflush(c->err);
			}
			rd_kafka_message_destroy(m);
			continue;
		}
		a = alert_parse(m);
		rd_kafka_message_destroy(m);
		if (!a)
			continue;
		if (c->json) {
			json_dumpf(a, c->out, SSICTL_JSON_FLAGS);
			fputc('\n', c->out);
		} else {
			alert_line(c, a, 12, 16);
		}
		fflush(c->out);
		json_decref(a);
	}
	return 0;
}

/* alerts [--follow]: read or tail the output topic. */
int ssictl_cmd_alerts(struct ctl *c)
{
	struct alerts al = {0};
	rd_kafka_t *rk = NULL;
	int64_t *hi = NULL;
	int r, n = 0;

	r = alerts_consumer(c, &rk);
	if (r == 0)
		r = alerts_assign(c, rk, c->opts & OPT_FOLLOW, &hi, &n);
	if (r == 0 && (c->opts & OPT_FOLLOW))
		r = alerts_follow(c, rk, n);
	else if (r == 0)
		r = alerts_read(c, rk, hi, n, &al);
	if (r == 0 && !(c->opts & OPT_FOLLOW))
		r = alerts_print(c, &al);
	for (size_t i = 0; i < al.n; i++)
		json_decref(al.a[i].msg);
	free(al.a);
	free(hi);
	if (rk) {
		rd_kafka_consumer_close(rk);
		rd_kafka_destroy(rk);
	}
	return r;
}
