/*
 * ssid_daemon_upkeep: the work that runs between batches.
 *
 * Owns the idle commit retry, the inactivity decay schedule, the background
 * rescoring after a model change, the rank refresh and the coalesced
 * leaderboards, with their counters. Shared state: see ssid_daemon_int.h.
 */
#include <pthread.h>
#include <string.h>

#include "ssid_daemon_int.h"
#include "ssid_log.h"
#include "ssid_time.h"

/* How often the decay schedule is looked at when the clock runs by itself. */
#define DECAY_INTERVAL_MS 1000

static void count_rescore(struct ssid_daemon *d, const struct ssid_batch_stats *bs,
			  enum ssid_cause cause)
{
	pthread_mutex_lock(&d->lock);
	if (cause == SSID_CAUSE_MODEL)
		d->stats.model_rescored += bs->users;
	else
		d->stats.decayed += bs->users;
	d->stats.outputs += bs->outputs;
	d->stats.rank_changes += bs->rank_changes;
	d->stats.alerts += bs->alerts;
	d->stats.boards += bs->boards;
	pthread_mutex_unlock(&d->lock);
}

/*
 * Rescore the reps of one partition's ids for cause; on failure log it
 * (the schedule keeps them: they are tried again on the next pass).
 */
static int rescore(struct ssid_daemon *d, int32_t partition, char **ids, size_t n,
		   enum ssid_cause cause, int64_t now)
{
	struct ssid_batch_stats bs;
	int r = ssid_pipeline_rescore(d->pipe, ids, n, partition, cause, now, &bs);

	if (r < 0)
		log_warn("%s rescoring of partition %d: %s", ssid_cause_name(cause), (int)partition,
			 ssid_pipeline_errstr(d->pipe));
	else
		count_rescore(d, &bs, cause);
	return r;
}

/*
 * Inactivity decay: rescore the owned partitions' reps whose score has
 * changed on its own (the engine said when), a bounded number per pass.
 * A test clock is followed at once; the real one once a second.
 */
static void decay_pass(struct ssid_daemon *d)
{
	int64_t now = ssid_daemon_now_ms(d), mono = ssid_time_mono_ms();
	bool jumped = d->clock.kind != SSID_CONFIG_CLOCK_SYSTEM && now != d->last_decay_clock;
	size_t budget = (size_t)d->cfg.decay_max_per_pass;

	if (mono < d->next_decay && !jumped)
		return;
	d->last_decay_clock = now;
	d->next_decay = mono + DECAY_INTERVAL_MS;
	for (size_t i = 0; i < d->parts.n && budget > 0; i++) {
		char **ids = NULL;
		size_t n = 0;
		int r;

		if (!d->parts.p[i].owned)
			continue;
		r = ssid_store_due(d->store, (int32_t)i, now, budget, &ids, &n);
		if (r < 0)
			log_warn("decay schedule of partition %zu: %s", i,
				 ssid_store_errstr(d->store));
		else if (n > 0)
			r = rescore(d, (int32_t)i, ids, n, SSID_CAUSE_DECAY, now);
		ssid_store_ids_free(ids);
		if (r < 0) {
			d->next_decay = mono + d->cfg.retry_backoff_max_ms;
			return;
		}
		budget -= n;
	}
	if (budget == 0)
		d->next_decay = mono; /* more may be due: go on after the next batch */
}

/*
 * After a model change, rescore each owned partition's roster a chunk per
 * call, between live batches (see ssid_parts.h).
 */
static void model_walk(struct ssid_daemon *d)
{
	for (size_t i = 0; i < d->parts.n; i++) {
		struct ssid_part *p = &d->parts.p[i];
		char version[SSI_MODEL_VERSION_MAX + 1], **ids = NULL;
		size_t n = 0;
		int r;

		if (!p->owned || (!p->model_check && !p->walking))
			continue;
		if (p->model_check) {
			r = ssid_store_partition_get(d->store, "mv", (int32_t)i, version,
						     sizeof(version));
			if (r < 0)
				return;
			p->model_check = false;
			if (r == 1 && strcmp(version, d->model->version) == 0)
				continue;
			p->walking = true;
			p->cursor = 0;
			log_info("model %s: rescoring the reps of partition %zu in the background",
				 d->model->version, i);
		}
		r = ssid_store_roster(d->store, (int32_t)i, &p->cursor,
				      (size_t)d->cfg.decay_max_per_pass, &ids, &n);
		if (r == 0 && n > 0)
			r = rescore(d, (int32_t)i, ids, n, SSID_CAUSE_MODEL, ssid_daemon_now_ms(d));
		ssid_store_ids_free(ids);
		if (r == 0 && p->cursor == 0) {
			r = ssid_store_partition_set(d->store, "mv", (int32_t)i, d->model->version);
			if (r == 0) {
				p->walking = false;
				log_info("model %s: partition %zu rescored", d->model->version, i);
			}
		}
		return; /* one chunk per call */
	}
}

static void flush_boards(struct ssid_daemon *d)
{
	struct ssid_batch_stats bs;

	if (ssid_pipeline_flush_boards(d->pipe, ssid_daemon_now_ms(d), &bs) < 0)
		log_debug("leaderboards: %s", ssid_pipeline_errstr(d->pipe));
	else
		count_rescore(d, &bs, SSID_CAUSE_DECAY);
}

/* How often stored offsets are offered for commit again while idle. */
#define COMMIT_RETRY_MS 1000

/*
 * A commit the group refused during a rebalance ("generation id is not
 * valid") is not retried by librdkafka, and with no new message no later
 * batch would commit: the partition would show a lag that is not there.
 * Committing the stored offsets again is a no-op when none is newer.
 */
static void commit_tick(struct ssid_daemon *d)
{
	int64_t now = ssid_time_mono_ms();

	if (now - d->last_commit < COMMIT_RETRY_MS)
		return;
	d->last_commit = now;
	rd_kafka_commit(d->consumer, NULL, 1);
}

/*
 * Read the ranks other instances wrote, and write what replays left
 * unwritten, at most every rank.refresh_ms. A failure is retried at the next
 * turn; the batch path reports Redis trouble.
 */
static void refresh_ranks(struct ssid_daemon *d)
{
	if (d->rank && ssid_rank_refresh(d->rank, ssid_time_mono_ms(), false) < 0)
		log_debug("ranks: %s", ssid_rank_errstr(d->rank));
}

/* Work that runs between batches: decay, model walk, ranks, coalesced leaderboards. */
void ssid_daemon_upkeep(struct ssid_daemon *d)
{
	if (d->paused || d->batch.n > 0)
		return;
	commit_tick(d);
	decay_pass(d);
	model_walk(d);
	refresh_ranks(d);
	flush_boards(d);
	ssid_daemon_count_decay_backlog(d);
}
