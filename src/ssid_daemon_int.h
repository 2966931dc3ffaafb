/*
 * ssid_daemon's insides, shared by its six files and not for other modules:
 * ssid_daemon.c owns the life cycle (new/free, signals, start, the main loop
 * and its batch path, reload, shutdown); ssid_daemon_rebalance.c partitions
 * coming and going and the rebuilds (replays) they or an emptied Redis call
 * for; ssid_daemon_status.c the watchdog and the status line;
 * ssid_daemon_upkeep.c the work between batches (commit retry, decay, model
 * walk, ranks, leaderboards); ssid_daemon_producer.c the output producer
 * and its replacement after a fatal error;
 * ssid_daemon_metrics.c what the daemon feeds its metrics (batch counts,
 * gauges) and the detection of data loss.
 *
 * The loop's thread does the work; ssid_daemon_get_stats, _stop and _reload
 * may be called from any thread (see the fields under lock below).
 */
#ifndef SSID_DAEMON_INT_H
#define SSID_DAEMON_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "ssi_alert.h"
#include "ssi_band.h"
#include "ssid_boards.h"
#include "ssid_config.h"
#include "ssid_daemon.h"
#include "ssid_http.h"
#include "ssid_kafka.h"
#include "ssid_metrics.h"
#include "ssid_parts.h"
#include "ssid_pipeline.h"
#include "ssid_rank.h"
#include "ssid_store.h"

/*
 * One daemon. Who writes what (the others only read it):
 *   ssid_daemon.c      cfg, clock, model (new, reload), the clients and
 *                      modules from mock to bands (start; freed by free),
 *                      stop/reload, the batch, the degraded state
 *                      (backoff_ms, retry_at, degraded_why), kafka_error*,
 *                      watchdog_every_ms, parts' positions (commit_batch)
 *   ..._rebalance.c    parts' ownership and replays, epoch (first read by
 *                      start), rebuild_*, paused; drops the batch's
 *                      messages of partitions that leave, clears it on a
 *                      rebuild
 *   ..._status.c       last_watchdog, last_status, events_at_last_status
 *   ..._producer.c     producer, replaced after a fatal error (the pipeline
 *                      asks, from within a batch)
 *   ..._upkeep.c       last_decay_clock, next_decay, parts' model walk,
 *                      last_commit (also set by commit_batch)
 *   ..._metrics.c      gauges_at, backlog_at, parts' next_fetch (also set
 *                      by the rebalance); metrics (created by new, its HTTP
 *                      server by start) is written by every file
 * stats, kafka_error and kafka_error_at are read and written under lock only.
 */
struct ssid_daemon {
	struct ssid_config cfg;
	struct ssid_config_clock clock;
	struct ssi_model *model;
	struct ssid_mock *mock;
	struct ssid_store *store;
	rd_kafka_t *consumer, *producer;
	struct ssid_pipeline *pipe;
	struct ssid_batch batch;
	struct ssid_batch next; /* read ahead while batch runs (ssid_daemon_prefetch.c) */
	int64_t next_first_at;	/* monotonic ms: next's first message consumed */
	size_t next_max_bytes;	/* the event size limit next was parsed under */
	bool prefetching;	/* consumed messages go to next */
	struct ssid_rank *rank;
	struct ssid_boards *boards;
	struct ssid_redis *network; /* connection for network ranks */
	struct ssi_alert_rules alert_rules;
	struct ssi_bands bands;
	struct ssid_metrics *metrics;  /* lives as long as the daemon: counters survive reloads */
	struct ssid_http *http;	       /* NULL when metrics.listen is empty */
	int64_t gauges_at, backlog_at; /* monotonic ms */

	struct ssid_parts parts;
	char epoch[32];	     /* the Redis sentinel seen last ("" before the first look) */
	bool rebuild_forced; /* ssid --rebuild: replay the first assignment whatever Redis holds */
	int64_t rebuild_started, rebuild_logged; /* monotonic ms */
	int64_t last_decay_clock, next_decay;	 /* scoring clock; monotonic ms */
	int64_t last_commit;			 /* monotonic ms */

	atomic_int stop, reload;
	bool paused;	  /* partitions paused while a batch waits for retry */
	int backoff_ms;	  /* next retry delay */
	int64_t retry_at; /* monotonic ms */
	char degraded_why[256];
	char kafka_error[256];
	int64_t kafka_error_at;

	int64_t watchdog_every_ms, last_watchdog, last_status;
	uint64_t events_at_last_status;

	pthread_mutex_t lock; /* guards stats, kafka_error, kafka_error_at */
	struct ssid_daemon_stats stats;
};

/* The scoring clock: real time, or a fixed/file-driven one for tests. */
static inline int64_t ssid_daemon_now_ms(struct ssid_daemon *d)
{
	return ssid_config_clock_now(&d->clock);
}

/* Queue one consumed message (ownership taken) in the batch it belongs to. */
void ssid_daemon_consume_one(struct ssid_daemon *d, rd_kafka_message_t *rkm);

/* ---- ssid_daemon_prefetch.c ----------------------------------------------- */

/* The parse of d->next on a second thread. */
struct ssid_prefetch {
	pthread_t thread;
	bool running;
	struct ssid_batch *b;
	struct ssi_event_limits lim;
};

/* With a batch in hand (not paused): what the consumer holds, without waiting, into d->next. */
void ssid_daemon_prefetch_poll(struct ssid_daemon *d);
/* Parse d->next on a second thread if it is worth one; the main thread leaves d->next alone. */
void ssid_daemon_prefetch_start(struct ssid_daemon *d, struct ssid_prefetch *pf);
/* Wait for that parse; d->next is the main thread's again. */
void ssid_daemon_prefetch_join(struct ssid_prefetch *pf);
/* d->next becomes the batch when none is in hand; false while one is. */
bool ssid_daemon_take_next(struct ssid_daemon *d);

/* ---- ssid_daemon_rebalance.c ---------------------------------------------- */

/* librdkafka's rebalance callback for the consumer (opaque: the daemon). */
void ssid_daemon_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			      rd_kafka_topic_partition_list_t *parts, void *opaque);
/* Pause (or resume) every assigned partition, and remember it in d->paused. */
void ssid_daemon_pause_all(struct ssid_daemon *d, bool pause);
/*
 * Before a batch: whether Redis still holds what this daemon wrote; if not,
 * replay the owned partitions. 0, 1 when a rebuild was started (the batch
 * in hand was dropped), or -EIO (Redis away).
 */
int ssid_daemon_check_epoch(struct ssid_daemon *d);
/* While a rebuild runs, show its progress and return true; false when live. */
bool ssid_daemon_report_rebuild(struct ssid_daemon *d, int64_t now);
/* Count the reps of partitions whose replay just ended in their segments. */
void ssid_daemon_settle_replays(struct ssid_daemon *d);

/* ---- ssid_daemon_status.c ------------------------------------------------- */

/* Ping the systemd watchdog when half its interval has passed. */
void ssid_daemon_watchdog_tick(struct ssid_daemon *d);
/* The status line, every status_interval_ms, or now with force. */
void ssid_daemon_status_tick(struct ssid_daemon *d, bool force);
/* Both of the above; ctx is the daemon (also the pipeline's tick). */
void ssid_daemon_tick(void *ctx);

/* ---- ssid_daemon_producer.c ----------------------------------------------- */

/* librdkafka's log and error callbacks of both clients (opaque: the daemon; any thread). */
void ssid_daemon_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf);
void ssid_daemon_kafka_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque);
/* A new output producer from the configuration: 0, or -EINVAL with err. */
int ssid_daemon_producer_new(struct ssid_daemon *d, rd_kafka_t **out, char *err, size_t errlen);
/*
 * The pipeline's renew_producer (ctx: the daemon): the producer raised a
 * fatal error (idempotence broken: it can never produce again), so it is
 * replaced by a new one with the same configuration and destroyed. The new
 * producer, or NULL (logged) when none could be made.
 */
rd_kafka_t *ssid_daemon_producer_renew(void *ctx);

/* ---- ssid_daemon_metrics.c ------------------------------------------------ */

/* A successful batch's counts, and how long it took. */
void ssid_daemon_count_batch(struct ssid_daemon *d, const struct ssid_batch_stats *bs,
			     int64_t took_ms);
/* Liveness, and the gauges once a second (from ssid_daemon_tick). */
void ssid_daemon_metrics_tick(struct ssid_daemon *d, int64_t mono);
/* The decay backlog (and whether Redis answers), every few seconds, between batches. */
void ssid_daemon_count_decay_backlog(struct ssid_daemon *d);
/* Every consumed message: log and count offsets skipped by a reset past deleted events. */
void ssid_daemon_check_fetch(struct ssid_daemon *d, const rd_kafka_message_t *rkm);

/* ---- ssid_daemon_upkeep.c ------------------------------------------------- */

/* The work between batches; does nothing while paused or with a batch in hand. */
void ssid_daemon_upkeep(struct ssid_daemon *d);

#endif
