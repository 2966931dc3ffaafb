/*
 * ssid_daemon_rebalance: partitions coming and going, and rebuilds.
 *
 * Owns the rebalance callback (assign, revoke, lose), the pause and resume
 * of the whole assignment, the sentinel epoch check, and the replay of
 * partitions this Redis has not seen (planning it, the per-partition
 * markers, reporting its progress). Shared state: see ssid_daemon_int.h.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "ssid_daemon_int.h"
#include "ssid_log.h"
#include "ssid_notify.h"
#include "ssid_time.h"

void ssid_daemon_pause_all(struct ssid_daemon *d, bool pause)
{
	rd_kafka_topic_partition_list_t *parts = NULL;

	if (rd_kafka_assignment(d->consumer, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR || !parts)
		return;
	if (pause)
		rd_kafka_pause_partitions(d->consumer, parts);
	else
		rd_kafka_resume_partitions(d->consumer, parts);
	rd_kafka_topic_partition_list_destroy(parts);
	d->paused = pause;
}

static void log_partitions(const char *what, const rd_kafka_topic_partition_list_t *parts)
{
	char buf[512];
	size_t off = 0;

	buf[0] = '\0';
	for (int i = 0; i < parts->cnt && off < sizeof(buf) - 16; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s[%d]", i ? " " : "",
					parts->elems[i].topic, (int)parts->elems[i].partition);
	log_info("%s %d partition(s): %s", what, parts->cnt, buf);
}

/*
 * Whether partition has been replayed into this Redis already: the marker
 * "<prefix>rb:<partition>" holds the sentinel epoch of the last replay.
 * Missing or older means this Redis has never seen the partition's past
 * (it was emptied, or is new). Unknown (Redis away) counts as done: the
 * epoch check before every batch catches a Redis that lost its data.
 */
static bool replayed_in_epoch(struct ssid_daemon *d, int32_t partition)
{
	char epoch[sizeof(d->epoch)] = "";
	int r = ssid_store_partition_get(d->store, "rb", partition, epoch, sizeof(epoch));

	if (r < 0)
		log_warn("rebuild marker of partition %d: %s", (int)partition,
			 ssid_store_errstr(d->store));
	return r < 0 || (r == 1 && strcmp(epoch, d->epoch) == 0);
}

/*
 * A replay that starts from an empty roster scores every rep it puts there
 * under the current model: nothing for the model walk to rescore. (A model
 * changed during the replay walks again: the marker is the version now.)
 */
static void skip_model_walk(struct ssid_daemon *d, struct ssid_part *p, int32_t partition)
{
	int64_t reps = -1;

	if (ssid_store_due_count(d->store, partition, SSID_DUE_NEVER, &reps) < 0 || reps != 0 ||
	    ssid_store_partition_set(d->store, "mv", partition, d->model->version) < 0)
		return;
	p->model_check = false;
	p->walking = false;
}

/*
 * Choose where parts start. A partition this Redis has not replayed yet
 * (or every one, with force) starts at the beginning of its retained log,
 * and what lies below the group's committed offset is marked as a replay
 * (see ssid_parts.h). From the log's start rather than the window's:
 * profile and connection events are state, never too old, so a profile set
 * long ago must be read again; windowed events older than the window are
 * rejected within the replay and not dead-lettered. Other partitions keep
 * their committed offset. With seek the consumer is moved there now (a
 * batch in hand is dropped and read again); without, the offsets go to the
 * assignment. Blocking broker queries: fine in the rebalance callback and
 * on the rare rebuild.
 */
static void plan_rebuild(struct ssid_daemon *d, rd_kafka_topic_partition_list_t *parts, bool force,
			 bool seek)
{
	rd_kafka_topic_partition_list_t *committed;
	rd_kafka_resp_err_t err;
	bool any = false;

	if (parts->cnt == 0) /* cooperative rebalances hand out empty lists too */
		return;
	committed = rd_kafka_topic_partition_list_copy(parts);
	err = rd_kafka_committed(d->consumer, committed, 10000);
	if (err)
		log_err("rebuild: cannot read the committed offsets (%s); partitions continue "
			"from them as they are",
			rd_kafka_err2str(err));
	for (int i = 0; i < parts->cnt; i++) {
		rd_kafka_topic_partition_t *tp = &parts->elems[i];
		struct ssid_part *p = ssid_parts_get(&d->parts, tp->partition);
		int64_t until = err ? -1 : committed->elems[i].offset, lo = -1, hi = -1;
		bool want = !err && p && (force || !replayed_in_epoch(d, tp->partition));

		if (want && rd_kafka_query_watermark_offsets(d->consumer, tp->topic, tp->partition,
							     &lo, &hi, 10000) != 0) {
			log_err("rebuild: no watermarks for partition %d", (int)tp->partition);
			want = false;
		}
		if (want && ssid_store_partition_set(d->store, "rb", tp->partition, d->epoch) < 0)
			log_warn("rebuild marker of partition %d: %s", (int)tp->partition,
				 ssid_store_errstr(d->store));
		if (!want || until <= 0 || lo < 0 || lo >= until) {
			/* Nothing to replay: where the group left off. */
			tp->offset = until >= 0 ? until
				     : seek	? RD_KAFKA_OFFSET_BEGINNING
						: RD_KAFKA_OFFSET_INVALID;
			ssid_parts_expect(&d->parts, tp->partition, tp->offset);
			continue;
		}
		p->replay_from = p->position = lo;
		p->replay_until = until;
		skip_model_walk(d, p, tp->partition);
		tp->offset = lo;
		ssid_parts_expect(&d->parts, tp->partition, lo);
		any = true;
	}
	if (seek) {
		rd_kafka_error_t *error = rd_kafka_seek_partitions(d->consumer, parts, 10000);

		if (error) {
			log_err("rebuild: seek: %s", rd_kafka_error_string(error));
			rd_kafka_error_destroy(error);
		}
	}
	rd_kafka_topic_partition_list_destroy(committed);
	if (any) {
		d->rebuild_started = ssid_time_mono_ms();
		d->rebuild_logged = 0;
	}
}

/*
 * Cooperative rebalancing hands partitions over one at a time. Before one
 * leaves, commit what is durable and drop its not-yet-durable messages: the
 * next owner reads them again from the committed offset, and the users'
 * marks make that safe.
 */
void ssid_daemon_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			      rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct ssid_daemon *d = opaque;
	bool cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
	rd_kafka_error_t *error = NULL;

	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		log_partitions("assigned", parts);
		for (int i = 0; i < parts->cnt; i++) {
			if (ssid_parts_assign(&d->parts, parts->elems[i].partition) < 0)
				log_err("out of memory tracking partition %d",
					(int)parts->elems[i].partition);
			if (d->rank)
				ssid_rank_assign(d->rank, parts->elems[i].partition);
		}
		plan_rebuild(d, parts, d->rebuild_forced, false);
		if (parts->cnt > 0)
			d->rebuild_forced = false; /* once: the first assignment */
		if (cooperative)
			error = rd_kafka_incremental_assign(rk, parts);
		else
			rd_kafka_assign(rk, parts);
		if (d->paused)
			rd_kafka_pause_partitions(rk, parts);
		atomic_store(&d->metrics->partitions, ssid_parts_owned(&d->parts));
	} else {
		log_partitions(err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS ? "revoked" : "lost",
			       parts);
		ssid_batch_drop_partitions(&d->batch, parts);
		ssid_batch_drop_partitions(&d->next, parts);
		for (int i = 0; i < parts->cnt; i++) {
			ssid_parts_revoke(&d->parts, parts->elems[i].partition);
			ssid_store_forget(d->store, parts->elems[i].partition);
			if (d->rank)
				ssid_rank_drop_partition(d->rank, parts->elems[i].partition);
		}
		/*
		 * Asynchronous: a synchronous commit from inside
		 * rd_kafka_consumer_close() can wait forever. The offsets were
		 * stored when their batch completed, and shutdown already
		 * committed them synchronously before closing.
		 */
		if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
			rd_kafka_commit(rk, NULL, 1);
		if (cooperative)
			error = rd_kafka_incremental_unassign(rk, parts);
		else
			rd_kafka_assign(rk, NULL);
		atomic_store(&d->metrics->partitions, ssid_parts_owned(&d->parts));
	}
	if (error) {
		log_err("rebalance: %s", rd_kafka_error_string(error));
		rd_kafka_error_destroy(error);
	}
}

/*
 * A partition whose replay is over has its reps counted in their segments
 * now (ssid_rank_settle), not a refresh period later.
 */
void ssid_daemon_settle_replays(struct ssid_daemon *d)
{
	for (size_t i = 0; d->rank && i < d->parts.n; i++) {
		const struct ssid_part *p = &d->parts.p[i];

		if (p->owned && p->replay_until > 0 && p->position >= p->replay_until &&
		    ssid_rank_settle(d->rank, (int32_t)i) < 0)
			log_warn("ranks of partition %zu: %s", i, ssid_rank_errstr(d->rank));
	}
}

/*
 * While partitions are replayed, the status and the log show events done
 * and to go, the rate and the time left; the end is logged once.
 */
bool ssid_daemon_report_rebuild(struct ssid_daemon *d, int64_t now)
{
	struct ssid_rebuild_progress pr;
	double secs = (double)(now - d->rebuild_started) / 1000.0;
	double rate;
	char eta[32] = "ETA not known yet";

	if (!ssid_parts_rebuild_progress(&d->parts, &pr)) {
		if (d->rebuild_started && d->rebuild_logged >= 0) {
			log_notice("rebuild complete after %.1f s: live", secs);
			d->rebuild_logged = -1;
		}
		return false;
	}
	rate = secs > 0 ? (double)pr.done / secs : 0;
	if (pr.done > 0)
		snprintf(eta, sizeof(eta), "ETA %.0f s", (double)pr.left / rate);
	ssid_notify_status("rebuilding: %lld events done, %lld to go, %.0f events/s, %s",
			   (long long)pr.done, (long long)pr.left, rate, eta);
	log_notice("rebuild: %lld events done, %lld to go over %d partitions, %.0f events/s, %s",
		   (long long)pr.done, (long long)pr.left, pr.partitions, rate, eta);
	d->rebuild_logged = now;
	return true;
}

/*
 * Whether Redis still holds what this daemon wrote: a new epoch in the
 * sentinel means it restarted empty (or was flushed), and the owned
 * partitions are replayed from the start of their logs. Returns 0, 1 when a
 * rebuild was started (the batch in hand was dropped: it is read again),
 * or -EIO.
 */
int ssid_daemon_check_epoch(struct ssid_daemon *d)
{
	char epoch[32];
	rd_kafka_topic_partition_list_t *parts = NULL;
	const char *fields[] = {"SSID_STATE=rebuilding", NULL};
	int r = ssid_store_sentinel(d->store, epoch, sizeof(epoch));

	if (r < 0)
		return r;
	if (strcmp(epoch, d->epoch) == 0)
		return 0;
	snprintf(d->epoch, sizeof(d->epoch), "%s", epoch);
	ssid_log_fields(LOG_WARNING, fields,
			"redis lost ssid's data (sentinel epoch changed): replaying the owned "
			"partitions from the start of their logs");
	ssid_batch_clear(&d->batch);
	ssid_batch_clear(&d->next);
	ssid_store_forget(d->store, -1); /* nothing cached is in Redis any more */
	if (d->rank)
		ssid_rank_reset(d->rank);
	if (rd_kafka_assignment(d->consumer, &parts) == RD_KAFKA_RESP_ERR_NO_ERROR && parts) {
		for (int i = 0; d->rank && i < parts->cnt; i++)
			ssid_rank_assign(d->rank, parts->elems[i].partition);
		plan_rebuild(d, parts, true, true);
		rd_kafka_topic_partition_list_destroy(parts);
	}
	ssid_metrics_add(&d->metrics->rebuilds, 1);
	pthread_mutex_lock(&d->lock);
	d->stats.rebuilds++;
	pthread_mutex_unlock(&d->lock);
	return 1;
}

void ssid_daemon_set_rebuild(struct ssid_daemon *d)
{
	d->rebuild_forced = true;
}
