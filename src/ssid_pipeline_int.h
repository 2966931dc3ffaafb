/*
 * ssid_pipeline's insides, shared by its files and not for other modules:
 * ssid_pipeline.c owns struct ssid_pipeline and its scratch, and runs a batch
 * (parse, group, load, apply and score, the rank and network steps, then the
 * one save after delivery), a rescore and a flush of the leaderboards;
 * ssid_derive.c fills crossings[] and alerts[] and records today's history
 * for the reps to publish; ssid_produce.c produces an attempt's outputs and
 * waits for their delivery reports (it owns struct delivery). The batch's
 * messages are ssid_batch.c's (ssid_batch.h).
 *
 * users[], work[] and next[] are indexed like the batch (users and work by
 * user, next by message) and hold users_cap entries each, as do changes[]
 * and change_user[]. Everything in them is valid from ssid_pipeline.c's
 * load until its users_reset.
 */
#ifndef SSID_PIPELINE_INT_H
#define SSID_PIPELINE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ssi_score.h"
#include "ssid_pipeline.h"
#include "ssid_time.h"

/* The end of a user's message list in next[]. */
#define NO_MSG UINT32_MAX

/* Per-user work beside the store's record. */
struct user_work {
	uint32_t first, last; /* message list in offset order, via next[] */
	int applied;
	bool replay; /* some event is a rebuild's replay: publish no alert or crossing */
	bool live;   /* some event is not: the score is published (else recorded as delivered) */
	int64_t newest_ms; /* the newest occurred_at of its events in the batch, 0: none */
	bool backfill;	   /* an event score whose newest event is older than max_event_age_ms */
	size_t net_from;   /* its connection changes start here in p->net */
	bool publish;
	enum ssid_cause cause;
	struct ssi_score score;
	bool has_before;
	bool has_ranks;
	uint32_t change; /* with has_ranks: its ssid_rank_change in changes (work_rank) */
	int top[SSID_RANK__COUNT]; /* percentiles to remember once delivered */
	/*
	 * Before this batch: what an alert's explain compares. Last, and
	 * initialised only with has_before (user_slot zeroes what precedes it).
	 */
	struct ssi_state before;
};

/* A rank.changed or an alert to publish for a user of the batch. */
struct crossing {
	uint32_t user;
	enum ssid_rank_kind kind;
	struct ssi_band_crossing c;
};

struct alert_out {
	uint32_t user;
	struct ssi_alert a;
};

struct ssid_pipeline {
	struct ssid_pipeline_opts o;
	const struct ssi_model *model;
	char *output_topic, *dlq_topic;
	char err[256];

	/* Scratch reused across batches. */
	struct ssid_user *users;
	struct user_work *work;
	uint32_t *next;
	struct ssid_rank_change *changes;
	uint32_t *change_user;
	size_t nusers, users_cap; /* users_cap of each of the five above */
	uint32_t *slots;	  /* open-addressing table: user index + 1, 0 = empty */
	size_t nslots;
	struct ssid_buf out;
	struct ssid_out_avgs *avgs; /* lazily, with the first ranks written; NULL: none */

	struct crossing *crossings;
	size_t ncrossings, crossings_cap;
	struct alert_out *alerts;
	size_t nalerts, alerts_cap;
	struct ssi_forecast_day *forecast; /* forecast_below's, SSI_FORECAST_DAYS_MAX; lazily */
	const struct ssid_board_update *boards; /* collected for this attempt */
	size_t nboards;
	int64_t run_mono; /* monotonic ms when this run or rescore began (now_ms then) */
	struct ssid_net_op *net; /* connection changes, contiguous per user */
	size_t nnet, net_cap;
};

/*
 * Where w stands in segment kind k after this attempt's ranks: its change's
 * result, read in place (not copied); absent without has_ranks.
 */
static inline const struct ssid_rank_pos *work_rank(const struct ssid_pipeline *p,
						    const struct user_work *w, int k)
{
	static const struct ssid_rank_pos absent;

	return w->has_ranks ? &p->changes[w->change].result[k].after : &absent;
}

/*
 * Crossings, alerts and today's history entry of every rep to publish, at
 * now_ms (ssid_derive.c). 0 or -ENOMEM.
 */
int pipe_derive(struct ssid_pipeline *p, int64_t now_ms);

/*
 * Produce everything of this attempt (dead letters of b, which may be NULL,
 * first; then scores, crossings, alerts and the leaderboards due) and wait
 * for every delivery report (ssid_produce.c). Returns as ssid_pipeline_run.
 */
int pipe_produce_all(struct ssid_pipeline *p, struct ssid_batch *b, int64_t now_ms,
		     struct ssid_batch_stats *stats);

#endif
