/*
 * ssid_kafka: librdkafka configuration from ssid.conf, and the embedded
 * mock cluster used by the demo and the fast tests.
 */
#ifndef SSID_KAFKA_H
#define SSID_KAFKA_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "ssid_config.h"

enum ssid_kafka_role { SSID_KAFKA_CONSUMER, SSID_KAFKA_PRODUCER };

/*
 * A librdkafka configuration for role: ssid's defaults, then the file's
 * kafka.* and kafka.<role>.* properties in file order, then the settings the
 * delivery guarantees rest on (which the file cannot override: a conflicting
 * value is an error naming its line). bootstrap, when not NULL, replaces
 * bootstrap.servers (the embedded cluster). Returns 0 or -EINVAL with a
 * message "path:line: kafka.x: librdkafka's complaint" in errstr.
 */
int ssid_kafka_conf_new(rd_kafka_conf_t **out, const struct ssid_config *cfg,
			enum ssid_kafka_role role, const char *bootstrap, char *errstr,
			size_t errlen);

/* The embedded cluster: real Kafka protocol on loopback, in this process. */
struct ssid_mock;

int ssid_mock_new(struct ssid_mock **out, int brokers, char *errstr, size_t errlen);
/* Create a topic (idempotent for an existing one). 0 or -EINVAL. */
int ssid_mock_topic(struct ssid_mock *m, const char *topic, int partitions);
/* "127.0.0.1:port,..." for clients' bootstrap.servers. */
const char *ssid_mock_bootstraps(const struct ssid_mock *m);
/* The underlying cluster, for fault injection in tests. */
rd_kafka_mock_cluster_t *ssid_mock_cluster(struct ssid_mock *m);
void ssid_mock_free(struct ssid_mock *m);

#endif
