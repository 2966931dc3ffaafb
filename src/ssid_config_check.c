/*
 * ssid_config's checks of keys against each other, once the whole file is
 * read: where Kafka comes from (mock_cluster.brokers or bootstrap.servers,
 * exactly once, for both clients), the retry backoff's bounds, redis.unix_socket
 * against redis.host/redis.port, redis.cluster against what a cluster has
 * not (a socket, a db) and redis.nodes/redis.wait_replicas without it, and
 * mock_cluster.bootstrap_file without a mock cluster. An error names the line of the key the user
 * wrote last.
 */
#include <errno.h>

#include "ssid_config.h"
#include "ssid_config_int.h"

static unsigned line_of(const struct config_parser *p, const char *name)
{
	const struct config_key *k = config_find_key(name);

	return k ? p->key_line[k - config_keys] : 0;
}

/* A cluster has no db but 0 and no Unix socket; redis.nodes and redis.wait_replicas need one. */
static int check_redis_cluster(struct config_parser *p)
{
	const struct ssid_config *cfg = p->cfg;
	const char *key = NULL, *why = NULL;

	if (cfg->redis_cluster && cfg->redis_unix_socket[0] != '\0') {
		key = "redis.unix_socket";
		why = "a Unix socket cannot reach a cluster's nodes: use redis.nodes";
	} else if (cfg->redis_cluster && cfg->redis_db != 0) {
		key = "redis.db";
		why = "a Redis Cluster has database 0 only";
	} else if (!cfg->redis_cluster && cfg->redis_nodes[0] != '\0') {
		key = "redis.nodes";
		why = "needs redis.cluster = yes";
	} else if (!cfg->redis_cluster && cfg->redis_wait_replicas > 0) {
		key = "redis.wait_replicas";
		why = "needs redis.cluster = yes";
	}
	if (!key)
		return 0;
	config_set_error(p->err, line_of(p, key), key, "%s", why);
	return -EINVAL;
}

static const struct ssid_kv *kafka_bootstrap(const struct ssid_kv_list *l)
{
	return config_kv_find(l, "bootstrap.servers");
}

/* Where Kafka comes from must be said exactly once: never a silent fallback. */
static int check_kafka_source(struct config_parser *p)
{
	const struct ssid_config *cfg = p->cfg;
	const struct ssid_kv *common = kafka_bootstrap(&cfg->kafka);
	const struct ssid_kv *consumer = kafka_bootstrap(&cfg->kafka_consumer);
	const struct ssid_kv *producer = kafka_bootstrap(&cfg->kafka_producer);
	const struct ssid_kv *any = common ? common : consumer ? consumer : producer;

	if (cfg->mock_cluster_brokers > 0) {
		if (any) {
			config_set_error(
			    p->err, line_of(p, "mock_cluster.brokers"), "mock_cluster.brokers",
			    "set together with a Kafka bootstrap.servers (line %u): use one "
			    "or the other",
			    any->line);
			return -EINVAL;
		}
		return 0;
	}
	if (!any) {
		config_set_error(
		    p->err, 0, "kafka.bootstrap.servers",
		    "not set: set kafka.bootstrap.servers, or mock_cluster.brokers for the "
		    "embedded demo cluster");
		return -EINVAL;
	}
	if (!common && !consumer) {
		config_set_error(p->err, 0, "kafka.consumer.bootstrap.servers",
				 "not set while kafka.producer.bootstrap.servers is (line %u): set "
				 "kafka.bootstrap.servers for both",
				 producer->line);
		return -EINVAL;
	}
	if (!common && !producer) {
		config_set_error(p->err, 0, "kafka.producer.bootstrap.servers",
				 "not set while kafka.consumer.bootstrap.servers is (line %u): set "
				 "kafka.bootstrap.servers for both",
				 consumer->line);
		return -EINVAL;
	}
	return 0;
}

/* Blame the key set further down the file: that is the line the user just wrote. */
int config_check(struct config_parser *p)
{
	const struct ssid_config *cfg = p->cfg;
	unsigned min_line = line_of(p, "retry.backoff_min_ms");
	unsigned max_line = line_of(p, "retry.backoff_max_ms");
	int r;

	r = check_kafka_source(p);
	if (r < 0)
		return r;

	if (cfg->retry_backoff_min_ms > cfg->retry_backoff_max_ms) {
		if (max_line > min_line)
			config_set_error(p->err, max_line, "retry.backoff_max_ms",
					 "must be at least retry.backoff_min_ms (%d), got %d",
					 cfg->retry_backoff_min_ms, cfg->retry_backoff_max_ms);
		else
			config_set_error(p->err, min_line, "retry.backoff_min_ms",
					 "must be at most retry.backoff_max_ms (%d), got %d",
					 cfg->retry_backoff_max_ms, cfg->retry_backoff_min_ms);
		return -EINVAL;
	}

	if (cfg->redis_unix_socket[0] != '\0') {
		const char *other = line_of(p, "redis.host")   ? "redis.host"
				    : line_of(p, "redis.port") ? "redis.port"
							       : NULL;

		if (other) {
			config_set_error(p->err, line_of(p, "redis.unix_socket"),
					 "redis.unix_socket",
					 "set together with %s (line %u): use one or the other",
					 other, line_of(p, other));
			return -EINVAL;
		}
	}

	if (check_redis_cluster(p) < 0)
		return -EINVAL;

	if (cfg->mock_cluster_bootstrap_file[0] != '\0' && cfg->mock_cluster_brokers == 0) {
		config_set_error(
		    p->err, line_of(p, "mock_cluster.bootstrap_file"),
		    "mock_cluster.bootstrap_file",
		    "needs mock_cluster.brokers > 0 (there is no mock cluster to describe)");
		return -EINVAL;
	}
	return 0;
}
