/* ssid_kafka: librdkafka configuration and the embedded mock cluster; see ssid_kafka.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ssid_file.h"
#include "ssid_kafka.h"

#include <librdkafka/rdkafka_mock.h>

struct prop {
	const char *name, *value;
};

/*
 * Sensible defaults the file may change. reconnect.backoff.max.ms: after a
 * broker restart librdkafka's 10 s default would idle a recovered ssid for
 * up to 10 s; 2 s bounds that at a few connection attempts a second.
 */
static const struct prop consumer_defaults[] = {
    {"group.id", "ssid"},
    {"auto.offset.reset", "earliest"},
    {"session.timeout.ms", "45000"},
    {"fetch.wait.max.ms", "50"},
    {"queued.min.messages", "200000"},
    {"statistics.interval.ms", "0"},
    {"reconnect.backoff.max.ms", "2000"},
};

static const struct prop producer_defaults[] = {
    {"reconnect.backoff.max.ms", "2000"}, {"linger.ms", "5"},
    {"batch.num.messages", "10000"},	  {"compression.type", "lz4"},
    {"message.timeout.ms", "30000"},	  {"queue.buffering.max.messages", "500000"},
};

/*
 * What "nothing lost, nothing counted twice" rests on: offsets are stored by
 * ssid only after a batch is durable and delivered, and committed by ssid;
 * the output producer is idempotent.
 */
static const struct prop consumer_forced[] = {
    {"enable.auto.offset.store", "false"},
    {"enable.auto.commit", "false"},
    {"partition.assignment.strategy", "cooperative-sticky"},
    {"enable.partition.eof", "false"},
};

static const struct prop producer_forced[] = {
    {"enable.idempotence", "true"},
    {"acks", "all"},
};

static int set(rd_kafka_conf_t *conf, const char *name, const char *value, const char *origin,
	       char *errstr, size_t errlen)
{
	char why[512];

	if (rd_kafka_conf_set(conf, name, value, why, sizeof(why)) == RD_KAFKA_CONF_OK)
		return 0;
	/* librdkafka's message may quote the value: never a secret's. */
	if (ssid_config_is_secret(name) && value[0] && strstr(why, value))
		snprintf(errstr, errlen, "%s: invalid value (not shown: a secret)", origin);
	else
		snprintf(errstr, errlen, "%s: %s", origin, why);
	return -EINVAL;
}

static int set_list(rd_kafka_conf_t *conf, const struct ssid_config *cfg,
		    const struct ssid_kv_list *l, const char *prefix, char *errstr, size_t errlen)
{
	for (size_t i = 0; i < l->n; i++) {
		char origin[512];

		snprintf(origin, sizeof(origin), "%s:%u: %s%s", cfg->path ? cfg->path : "config",
			 l->items[i].line, prefix, l->items[i].name);
		if (set(conf, l->items[i].name, l->items[i].value, origin, errstr, errlen) < 0)
			return -EINVAL;
	}
	return 0;
}

/* A forced setting the file contradicts is a mistake worth stopping for. */
static int check_forced(const struct ssid_config *cfg, const struct ssid_kv_list *l,
			const char *prefix, const struct prop *forced, size_t n, char *errstr,
			size_t errlen)
{
	for (size_t i = 0; i < l->n; i++)
		for (size_t k = 0; k < n; k++)
			if (strcmp(l->items[i].name, forced[k].name) == 0 &&
			    strcmp(l->items[i].value, forced[k].value) != 0) {
				snprintf(errstr, errlen,
					 "%s:%u: %s%s: ssid requires %s (its delivery "
					 "guarantees depend on it)",
					 cfg->path ? cfg->path : "config", l->items[i].line, prefix,
					 l->items[i].name, forced[k].value);
				return -EINVAL;
			}
	return 0;
}

int ssid_kafka_conf_new(rd_kafka_conf_t **out, const struct ssid_config *cfg,
			enum ssid_kafka_role role, const char *bootstrap, char *errstr,
			size_t errlen)
{
	bool consumer = role == SSID_KAFKA_CONSUMER;
	const struct prop *defaults = consumer ? consumer_defaults : producer_defaults;
	size_t ndefaults = consumer ? sizeof(consumer_defaults) / sizeof(consumer_defaults[0])
				    : sizeof(producer_defaults) / sizeof(producer_defaults[0]);
	const struct prop *forced = consumer ? consumer_forced : producer_forced;
	size_t nforced = consumer ? sizeof(consumer_forced) / sizeof(consumer_forced[0])
				  : sizeof(producer_forced) / sizeof(producer_forced[0]);
	const struct ssid_kv_list *own = consumer ? &cfg->kafka_consumer : &cfg->kafka_producer;
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	int r = 0;

	for (size_t i = 0; i < ndefaults && r == 0; i++)
		r = set(conf, defaults[i].name, defaults[i].value, "ssid default", errstr, errlen);
	if (r == 0)
		r = check_forced(cfg, &cfg->kafka, "kafka.", forced, nforced, errstr, errlen);
	if (r == 0)
		r = check_forced(cfg, own, consumer ? "kafka.consumer." : "kafka.producer.", forced,
				 nforced, errstr, errlen);
	/* Shared keys that only one side understands are set on that side only. */
	for (size_t i = 0; i < cfg->kafka.n && r == 0; i++) {
		const struct ssid_kv *kv = &cfg->kafka.items[i];
		char origin[512];
		bool consumer_only = strcmp(kv->name, "group.id") == 0 ||
				     strncmp(kv->name, "session.", 8) == 0 ||
				     strcmp(kv->name, "auto.offset.reset") == 0 ||
				     strcmp(kv->name, "group.instance.id") == 0;

		if (consumer_only && !consumer)
			continue;
		snprintf(origin, sizeof(origin), "%s:%u: kafka.%s",
			 cfg->path ? cfg->path : "config", kv->line, kv->name);
		r = set(conf, kv->name, kv->value, origin, errstr, errlen);
	}
	if (r == 0)
		r = set_list(conf, cfg, own, consumer ? "kafka.consumer." : "kafka.producer.",
			     errstr, errlen);
	for (size_t i = 0; i < nforced && r == 0; i++)
		r = set(conf, forced[i].name, forced[i].value, "ssid", errstr, errlen);
	if (r == 0 && bootstrap)
		r = set(conf, "bootstrap.servers", bootstrap, "mock_cluster", errstr, errlen);
	if (r < 0) {
		rd_kafka_conf_destroy(conf);
		return r;
	}
	*out = conf;
	return 0;
}

struct ssid_mock {
	rd_kafka_t *holder; /* owns the cluster */
	rd_kafka_mock_cluster_t *mc;
};

void ssid_kafka_quiet_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	(void)level;
	(void)fac;
	(void)buf;
}

int ssid_mock_new(struct ssid_mock **out, int brokers, char *errstr, size_t errlen)
{
	struct ssid_mock *m = calloc(1, sizeof(*m));
	rd_kafka_conf_t *conf = rd_kafka_conf_new();

	if (!m) {
		rd_kafka_conf_destroy(conf);
		return -ENOMEM;
	}
	/* The holder only hosts the cluster: it has no broker to reach and nothing to say. */
	rd_kafka_conf_set_log_cb(conf, ssid_kafka_quiet_log);
	if (rd_kafka_conf_set(conf, "bootstrap.servers", "", errstr, errlen) != RD_KAFKA_CONF_OK) {
		rd_kafka_conf_destroy(conf);
		free(m);
		return -EINVAL;
	}
	m->holder = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errlen);
	if (!m->holder) {
		rd_kafka_conf_destroy(conf);
		free(m);
		return -EINVAL;
	}
	conf = NULL; /* now owned by holder */
	m->mc = rd_kafka_mock_cluster_new(m->holder, brokers);
	if (!m->mc) {
		snprintf(errstr, errlen, "could not create a mock cluster of %d brokers", brokers);
		rd_kafka_destroy(m->holder);
		free(m);
		return -EINVAL;
	}
	*out = m;
	return 0;
}

int ssid_mock_topic(struct ssid_mock *m, const char *topic, int partitions)
{
	rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(m->mc, topic, partitions, 1);

	return err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS
		   ? 0
		   : -EINVAL;
}

const char *ssid_mock_bootstraps(const struct ssid_mock *m)
{
	return rd_kafka_mock_cluster_bootstraps(m->mc);
}

int ssid_mock_write_bootstrap_file(const char *path, const char *bootstraps)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f, "%s\n", bootstraps);
	if (fclose(f) != 0 || rename(tmp, path) < 0)
		return -errno;
	return 0;
}

int ssid_mock_read_bootstrap_file(const char *path, char *buf, size_t len)
{
	char *text;
	size_t n;
	int r = ssid_file_read(path, SSID_FILE_MAX, &text, &n, NULL);

	if (r < 0)
		return r;
	n = strcspn(text, " \t\r\n");
	if (n == 0) {
		r = -ENODATA;
	} else if (n >= len) {
		r = -EOVERFLOW;
	} else {
		memcpy(buf, text, n);
		buf[n] = '\0';
	}
	free(text);
	return r;
}

rd_kafka_mock_cluster_t *ssid_mock_cluster(struct ssid_mock *m)
{
	return m->mc;
}

void ssid_mock_free(struct ssid_mock *m)
{
	if (!m)
		return;
	rd_kafka_mock_cluster_destroy(m->mc);
	rd_kafka_destroy(m->holder);
	free(m);
}
