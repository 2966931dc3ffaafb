/*
 * ssid_pipeline: one batch of consumed messages, from bytes to durable
 * state and delivered outputs (the README's "How it works" tells the story).
 *
 *   parse + validate  every message (rejects go to the dead-letter topic)
 *   group             events by user, in offset order
 *   load              every user's record (one pipelined Redis round trip)
 *   apply + score     events not yet folded in (offset > the user's mark for
 *                     that partition); score, and publish a rep whose score
 *                     moved by at least epsilon or whose model changed
 *   rank              move the reps to publish in their segments (in memory;
 *                     one round trip writes the touched partitions) and note
 *                     the leaderboards they touched
 *   network           refresh a bounded number of day-old network ranks
 *   derive            band crossings, alerts and today's history entry
 *   produce           dead letters, score.updated, rank.changed, alert and
 *                     the leaderboard.changed due; wait until all are
 *                     delivered
 *   save              states, marks, connections, decay schedule and what
 *                     was delivered: one round trip, after delivery
 *
 * Contract: a 0 return means the batch is durable and delivered, and only
 * then may the caller store its offsets. On failure the caller keeps the
 * batch and runs it again: before the save nothing of it is in Redis but
 * ranks (idempotent), the marks make re-applying a no-op, and a lost output
 * is sent again. The pipeline borrows the store, producer, ranks, boards and
 * model it is given; it owns its scratch, reused from batch to batch.
 */
#ifndef SSID_PIPELINE_H
#define SSID_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "ssi_alert.h"
#include "ssi_band.h"
#include "ssi_event.h"
#include "ssi_model.h"
#include "ssid_batch.h"
#include "ssid_boards.h"
#include "ssid_metrics.h"
#include "ssid_out.h"
#include "ssid_rank.h"
#include "ssid_store.h"

/*
 * Dead letters keep at most this many bytes of the original value (header
 * ssi.truncated_from gives the full length): brokers refuse messages over
 * about 1 MB by default, and a refused dead letter would stall a partition.
 */
#define SSID_DLQ_VALUE_MAX (512 * 1024)

struct ssid_batch_stats {
	size_t events;		/* messages in the batch */
	size_t applied;		/* events folded into a state */
	size_t replayed;	/* skipped: at or below the user's mark */
	size_t duplicates;	/* skipped: event_id already seen */
	size_t rejected;	/* sent to the dead-letter topic */
	size_t replay_rejected; /* rejected while rebuilding: not dead-lettered again */
	size_t users;		/* distinct users */
	size_t outputs;		/* score.updated messages delivered */
	size_t rank_changes;	/* rank.changed messages delivered */
	size_t alerts;		/* alert messages delivered */
	size_t boards;		/* leaderboard.changed messages delivered */
};

struct ssid_pipeline_opts {
	struct ssid_store *store; /* borrowed */
	rd_kafka_t *producer;	  /* borrowed; its dr_msg_cb must be ssid_pipeline_delivery_cb */
	const char *output_topic;
	const char *dlq_topic;
	double epsilon;		 /* points */
	int delivery_timeout_ms; /* give up waiting for deliveries after this */
	void (*tick)(void *ctx); /* called about every 100 ms while waiting */
	void *tick_ctx;
	/*
	 * Called (with tick_ctx) when the producer raised a fatal error: replace
	 * it, destroying the old one; returns the new one (borrowed, the same
	 * dr_msg_cb) or NULL. The outputs it failed are sent again through the
	 * new one. NULL: a fatal error fails every batch.
	 */
	rd_kafka_t *(*renew_producer)(void *ctx);
	struct ssid_rank *rank;	    /* borrowed; NULL: no ranks, bands or boards */
	struct ssid_boards *boards; /* borrowed; NULL: no leaderboard.changed */
	struct ssi_bands bands;
	struct ssi_alert_rules alerts; /* rules all disabled: no alerts */
	/*
	 * Network ranks (ssid_network): recomputed at most once a day per rep,
	 * for at most network_per_batch reps per batch (the others show the
	 * last one computed); a connection of its own. NULL: none.
	 */
	struct ssid_redis *network;
	int network_per_batch;
	int min_members;
	int history_retention_days;
	/*
	 * A score of events whose newest is older than this against now_ms is a
	 * backfill: published with "backfill": true, with no alert and no
	 * rank.changed (boards it moves say backfill too). 0: off.
	 */
	int64_t max_event_age_ms;
	/*
	 * Borrowed; NULL: nothing counted. What was delivered is counted once
	 * its attempt's every report is in: messages by type and cause, alerts
	 * by rule, dead letters by reason, and the latency from each live
	 * (not backfill) event score's newest event to delivery.
	 */
	struct ssid_metrics *metrics;
};

struct ssid_pipeline;

int ssid_pipeline_new(struct ssid_pipeline **out, const struct ssid_pipeline_opts *o,
		      const struct ssi_model *model);
void ssid_pipeline_free(struct ssid_pipeline *p);
/* Use a new model (borrowed) from the next batch on; the old one may be freed. */
void ssid_pipeline_set_model(struct ssid_pipeline *p, const struct ssi_model *model);
void ssid_pipeline_set_epsilon(struct ssid_pipeline *p, double epsilon);

/* Alert rules from the next batch on (validated by the caller). */
void ssid_pipeline_set_alert_rules(struct ssid_pipeline *p, const struct ssi_alert_rules *r);

/*
 * Run a batch at time now_ms. Returns 0 when everything is durable and
 * delivered; -EIO for a Redis failure, -ECOMM for a delivery failure,
 * -ETIMEDOUT when deliveries did not complete in time, -ENOMEM. The
 * message for logs is in ssid_pipeline_errstr().
 */
int ssid_pipeline_run(struct ssid_pipeline *p, struct ssid_batch *b, int64_t now_ms,
		      struct ssid_batch_stats *stats);
const char *ssid_pipeline_errstr(const struct ssid_pipeline *p);

/*
 * Rescore reps with no new event: ids[0..n) of partition's schedule, at
 * now_ms, for cause (SSID_CAUSE_DECAY or SSID_CAUSE_MODEL). Each is scored,
 * its state pruned and saved, its next decay scheduled, and what moved is
 * published like an event batch would (ranks, alerts, history). A rep
 * last published under another model is rescored with cause "model"
 * whatever the cause asked. Same returns as ssid_pipeline_run.
 */
int ssid_pipeline_rescore(struct ssid_pipeline *p, char *const *ids, size_t n, int32_t partition,
			  enum ssid_cause cause, int64_t now_ms, struct ssid_batch_stats *stats);

/*
 * Publish the leaderboards whose coalescing interval has ended (monotonic
 * clock, called from the idle loop). Same returns as ssid_pipeline_run.
 */
int ssid_pipeline_flush_boards(struct ssid_pipeline *p, int64_t now_ms,
			       struct ssid_batch_stats *stats);

/* The producer's delivery report callback (rd_kafka_conf_set_dr_msg_cb). */
void ssid_pipeline_delivery_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque);

/* Failpoints for crash tests: SSID_FAILPOINT=<name> kills the process there. */
void ssid_failpoint(const char *name);

#endif
