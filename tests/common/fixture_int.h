/*
 * What the fixture's files (tests/common/fixture_*.c) share among
 * themselves; tests use fixture.h. fixture_proc.c owns the processes and the
 * scratch directory, fixture_daemon.c the daemon thread, fixture_kafka.c the
 * Kafka clients, fixture_check.c the reading of scores.
 */
#ifndef SSID_TEST_FIXTURE_INT_H
#define SSID_TEST_FIXTURE_INT_H

#include <stddef.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "fixture.h"

/* SIGKILL p's process group and reap p; fine on a process already reaped. */
void fxi_proc_kill(struct fx_proc *p);
/* Stop and free the daemon thread a test left running (fx_teardown). */
void fxi_daemon_finish_live(void);

/* A hiredis connection to 127.0.0.1:port with 2 s timeouts, NULL when refused. */
struct redisContext *fxi_redis_connect(int port);
/* The node timeout of a 3x3 cluster's nodes: failover within a few seconds. */
#define FXI_NODE_TIMEOUT "1500"
/* Spawn r's redis-server on r->port and wait for PING (a one-node cluster: for state ok). */
int fxi_redis_spawn(struct fx_redis *r);
/* fixture_cluster.c: r as a 3-master/3-replica cluster in r->dir/node<i>, and its stop. */
int fxi_cluster_start(struct fx_redis *r);
int fxi_cluster_stop(struct fx_redis *r);

/* len bytes and a NUL (free it); NULL when out of memory. */
char *fxi_dup_bytes(const void *p, size_t len);
/*
 * An idempotent producer on k->bootstraps (linger 5 ms) whose delivery
 * reports write partition and offset into the fx_event each message carries;
 * extra: more "name", "value" properties, NULL-terminated, or NULL.
 */
rd_kafka_t *fxi_producer(const struct fx_kafka *k, const char *const *extra);
/* One copied message for ev (may be NULL), waiting while the queue is full. */
rd_kafka_resp_err_t fxi_produce_one(rd_kafka_t *rk, const char *topic, const void *key,
				    size_t key_len, const void *value, size_t len,
				    rd_kafka_headers_t *headers, struct fx_event *ev);
/* Flush rk; 0 when every event of s->ev[from, to) has its offset, -ETIMEDOUT, -EIO. */
int fxi_flush_delivered(rd_kafka_t *rk, const struct fx_stream *s, size_t from, size_t to);

/* A JSON score (points with two decimals) in hundredths. */
int fxi_centipoints(const json_t *v);

#endif
