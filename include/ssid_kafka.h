/*
 * ssid_kafka: librdkafka configuration from ssid.conf, and the embedded
 * mock cluster used by the demo and the fast tests (with the writer and the
 * reader of the file through which other processes find it).
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

/* A log callback that drops librdkafka's lines, for clients that report failures themselves. */
void ssid_kafka_quiet_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf);

/* The embedded cluster: real Kafka protocol on loopback, in this process. */
struct ssid_mock;

int ssid_mock_new(struct ssid_mock **out, int brokers, char *errstr, size_t errlen);
/* Create a topic (idempotent for an existing one). 0 or -EINVAL. */
int ssid_mock_topic(struct ssid_mock *m, const char *topic, int partitions);
/* "127.0.0.1:port,..." for clients' bootstrap.servers. */
const char *ssid_mock_bootstraps(const struct ssid_mock *m);
/* Write bootstraps as one line to path, whole (path.tmp, then renamed). 0 or -errno. */
int ssid_mock_write_bootstrap_file(const char *path, const char *bootstraps);
/*
 * The bootstrap servers of another process's embedded cluster, read from the
 * file ssid writes them to (mock_cluster.bootstrap_file: one line, renamed
 * into place, so a line that is there is whole): the first line up to a
 * blank or its end, NUL-terminated in buf. 0; -ENODATA when it holds no
 * address; -EOVERFLOW when the address does not fit len bytes; or the
 * -errno of reading the file (-ENOENT: not written yet). ssictl, ssi-loadgen
 * and ssi-watch find the demo's cluster with it.
 */
int ssid_mock_read_bootstrap_file(const char *path, char *buf, size_t len);
/* The underlying cluster, for fault injection in tests. */
rd_kafka_mock_cluster_t *ssid_mock_cluster(struct ssid_mock *m);
void ssid_mock_free(struct ssid_mock *m);

#endif
