/*
 * ssid_metrics: the daemon's Prometheus metrics and the health state behind
 * /healthz and /readyz, shared between the loop's thread (which writes) and
 * the HTTP thread (which reads and renders).
 *
 * The daemon owns one ssid_metrics for its whole life (a SIGHUP reload keeps
 * it, so counters only grow) and lends it to the modules that count. Every
 * counter and histogram bucket is a relaxed atomic: the hot path never takes
 * a lock, and callers add per batch where they can (ssid_hist_local). The
 * few labelled series whose label set is not fixed (dead-letter reasons,
 * consumer lag per partition, the model version) sit under a mutex that
 * the renderer holds only to copy them.
 *
 * Names follow Prometheus conventions: base units (seconds, bytes),
 * "_total" for counters, histograms in seconds. The exposition is the text
 * format 0.0.4 (ssid_metrics_render).
 */
#ifndef SSID_METRICS_H
#define SSID_METRICS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ssi_alert.h"
#include "ssid_buf.h"
#include "ssid_redis.h"

/* What became of a consumed event (ssid_events_total{result}). */
enum ssid_metric_result {
	SSID_RESULT_SCORED,	     /* folded into its rep's state */
	SSID_RESULT_DUPLICATE,	     /* its event_id was seen before */
	SSID_RESULT_BELOW_MARK,	     /* at or below its rep's applied-offset mark */
	SSID_RESULT_DEAD_LETTERED,   /* rejected, sent to the dead-letter topic */
	SSID_RESULT_REPLAY_REJECTED, /* rejected in a rebuild's replay: not sent again */
	SSID_RESULT__COUNT
};

/* What was published (ssid_published_messages_total{type}). */
enum ssid_metric_msg {
	SSID_MSG_SCORE,	      /* score.updated */
	SSID_MSG_RANK,	      /* rank.changed */
	SSID_MSG_ALERT,	      /* alert */
	SSID_MSG_BOARD,	      /* leaderboard.changed */
	SSID_MSG_DEAD_LETTER, /* to the dead-letter topic */
	SSID_MSG__COUNT
};

/* Causes: ssid_cause's three (event, decay, model), then "none" (boards, dead letters). */
#define SSID_METRIC_CAUSE_NONE 3
#define SSID_METRIC_CAUSES     4
#define SSID_HIST_BUCKETS_MAX  16
#define SSID_METRICS_REASONS   64 /* distinct dead-letter reasons; more count as "other" */
#define SSID_METRICS_PARTS     256
#define SSID_METRICS_LIVENESS_MS                                                                   \
	30000 /* /healthz fails when the loop has not ticked for this long */

/* A histogram with fixed upper bounds; sum in millionths of the unit. */
struct ssid_hist {
	const double *bounds;
	int nbounds;
	_Atomic uint64_t bucket[SSID_HIST_BUCKETS_MAX + 1]; /* the last: +Inf */
	_Atomic uint64_t sum_micro;
};

/* Observations gathered without atomics, then merged once (ssid_hist_merge). */
struct ssid_hist_local {
	uint64_t bucket[SSID_HIST_BUCKETS_MAX + 1];
	uint64_t sum_micro;
	uint64_t count;
};

struct ssid_metrics_reason {
	char reason[64];
	_Atomic uint64_t n;
};

struct ssid_metrics {
	_Atomic uint64_t events[SSID_RESULT__COUNT];
	_Atomic uint64_t published[SSID_MSG__COUNT][SSID_METRIC_CAUSES];
	_Atomic uint64_t alerts[SSI_ALERT__COUNT];
	_Atomic uint64_t batches_failed, reloads, rebuilds;
	_Atomic uint64_t kafka_producer_errors, kafka_consumer_errors, producers_renewed;
	_Atomic uint64_t offset_resets, offsets_skipped;
	struct ssid_redis_counters redis;
	struct ssid_hist batch_size, batch_seconds, publish_latency;

	/* Gauges; -1: not known (not exposed). */
	_Atomic int64_t rebuild_events_left, decay_backlog;

	/* Health: the loop's last tick (monotonic ms), partitions owned, Redis answering. */
	_Atomic int64_t last_tick_ms;
	atomic_int partitions, redis_ok;

	pthread_mutex_t lock; /* guards the fields below */
	struct ssid_metrics_reason reasons[SSID_METRICS_REASONS];
	_Atomic int nreasons; /* entries published (release) for lock-free lookups */
	_Atomic uint64_t reasons_other;
	int32_t lag_part[SSID_METRICS_PARTS];
	int64_t lag[SSID_METRICS_PARTS];
	int nlag;
	char model_version[64];
	int64_t start_time_ms; /* epoch ms of the process start, for process_start_time_seconds */
};

/* Allocate, zeroed, gauges unknown. 0 or -ENOMEM. */
int ssid_metrics_new(struct ssid_metrics **out);
void ssid_metrics_free(struct ssid_metrics *m);

static inline void ssid_metrics_add(_Atomic uint64_t *c, uint64_t n)
{
	if (n)
		atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* Observe into a local histogram of h's bounds; merge into h (relaxed atomics). */
void ssid_hist_local_observe(const struct ssid_hist *h, struct ssid_hist_local *l, double v);
void ssid_hist_merge(struct ssid_hist *h, const struct ssid_hist_local *l);
void ssid_hist_observe(struct ssid_hist *h, double v);

/* One more dead letter of reason (the ssi.reason code). */
void ssid_metrics_dead_letter(struct ssid_metrics *m, const char *reason);
/* The consumer lag of the owned partitions, replacing the last set (n capped). */
void ssid_metrics_set_lag(struct ssid_metrics *m, const int32_t *parts, const int64_t *lag, int n);
void ssid_metrics_set_model(struct ssid_metrics *m, const char *version);

/* The loop is alive: call on every tick. */
static inline void ssid_metrics_tick(struct ssid_metrics *m, int64_t mono_ms)
{
	atomic_store_explicit(&m->last_tick_ms, mono_ms, memory_order_relaxed);
}

/*
 * Liveness (the loop ticked within SSID_METRICS_LIVENESS_MS of mono_ms) and
 * readiness (live, partitions assigned and Redis answering); why says what
 * is wrong, or "ok".
 */
bool ssid_metrics_live(struct ssid_metrics *m, int64_t mono_ms, char *why, size_t len);
bool ssid_metrics_ready(struct ssid_metrics *m, int64_t mono_ms, char *why, size_t len);

/*
 * Append the whole exposition (text format 0.0.4) to out, with the process
 * metrics of this process read from /proc now. 0, or -ENOMEM.
 */
int ssid_metrics_render(struct ssid_metrics *m, struct ssid_buf *out);

#endif
