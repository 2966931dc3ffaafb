/*
 * ssid_daemon_metrics: what the daemon feeds its metrics and health state
 * beside the counters the pipeline and Redis modules bump themselves: the
 * per-batch counts, the gauges refreshed between batches (consumer lag per
 * owned partition, rebuild progress, the decay backlog), and the detection
 * of data loss, when a partition's next message is not the offset the
 * daemon expected because the broker deleted what lay in between. Shared
 * state: see ssid_daemon_int.h.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <syslog.h>

#include "ssid_daemon_int.h"
#include "ssid_log.h"
#include "ssid_time.h"

/* How often the gauges are refreshed (the lag reads librdkafka's cache: no I/O). */
#define GAUGES_EVERY_MS 1000
/* How often the decay backlog is counted (in memory) and Redis asked whether it answers. */
#define BACKLOG_EVERY_MS 5000

void ssid_daemon_count_batch(struct ssid_daemon *d, const struct ssid_batch_stats *bs,
			     int64_t took_ms)
{
	struct ssid_metrics *m = d->metrics;

	ssid_metrics_add(&m->events[SSID_RESULT_SCORED], bs->applied);
	ssid_metrics_add(&m->events[SSID_RESULT_DUPLICATE], bs->duplicates);
	ssid_metrics_add(&m->events[SSID_RESULT_BELOW_MARK], bs->replayed);
	ssid_metrics_add(&m->events[SSID_RESULT_DEAD_LETTERED], bs->rejected);
	ssid_metrics_add(&m->events[SSID_RESULT_REPLAY_REJECTED], bs->replay_rejected);
	ssid_hist_observe(&m->batch_size, (double)bs->events);
	ssid_hist_observe(&m->batch_seconds, (double)took_ms / 1000.0);
}

/* The lag of every owned partition, from librdkafka's cached watermarks and positions. */
static void refresh_lag(struct ssid_daemon *d)
{
	rd_kafka_topic_partition_list_t *parts = NULL;
	int32_t part[SSID_METRICS_PARTS];
	int64_t lag[SSID_METRICS_PARTS];
	int n = 0;

	if (rd_kafka_assignment(d->consumer, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR || !parts)
		return;
	rd_kafka_position(d->consumer, parts);
	for (int i = 0; i < parts->cnt && n < SSID_METRICS_PARTS; i++) {
		const rd_kafka_topic_partition_t *tp = &parts->elems[i];
		int64_t lo, hi;

		if (rd_kafka_get_watermark_offsets(d->consumer, tp->topic, tp->partition, &lo,
						   &hi) != RD_KAFKA_RESP_ERR_NO_ERROR ||
		    hi < 0)
			continue;
		part[n] = tp->partition;
		lag[n++] = tp->offset >= 0 ? (hi > tp->offset ? hi - tp->offset : 0)
					   : (hi > lo && lo >= 0 ? hi - lo : 0);
	}
	rd_kafka_topic_partition_list_destroy(parts);
	ssid_metrics_set_lag(d->metrics, part, lag, n);
}

void ssid_daemon_metrics_tick(struct ssid_daemon *d, int64_t mono)
{
	struct ssid_rebuild_progress pr;

	ssid_metrics_tick(d->metrics, mono);
	if (!d->consumer || mono - d->gauges_at < GAUGES_EVERY_MS)
		return;
	d->gauges_at = mono;
	refresh_lag(d);
	atomic_store(&d->metrics->rebuild_events_left,
		     ssid_parts_rebuild_progress(&d->parts, &pr) ? pr.left : 0);
}

void ssid_daemon_count_decay_backlog(struct ssid_daemon *d)
{
	int64_t mono = ssid_time_mono_ms(), now = ssid_daemon_now_ms(d), total = 0;

	if (mono - d->backlog_at < BACKLOG_EVERY_MS)
		return;
	d->backlog_at = mono;
	/* The schedules answer from memory once read: ask Redis itself too. */
	bool ok = ssid_store_ping(d->store) == 0;

	for (size_t i = 0; i < d->parts.n && ok; i++) {
		int64_t n = 0;

		if (d->parts.p[i].owned) {
			ok = ssid_store_due_count(d->store, (int32_t)i, now, &n) == 0;
			total += n;
		}
	}
	if (!ok) {
		/* Redis does not answer: not ready, and the backlog unknown. */
		atomic_store(&d->metrics->redis_ok, 0);
		atomic_store(&d->metrics->decay_backlog, -1);
		return;
	}
	atomic_store(&d->metrics->redis_ok, 1);
	atomic_store(&d->metrics->decay_backlog, total);
}

/*
 * A gap between the offset expected and the one received is data loss when
 * the broker's log now starts past the offset expected: retention (or the
 * mock cluster's bounded log) deleted those events before ssid read them,
 * and librdkafka reset to the log start without a word. Other gaps
 * (transaction markers, compaction) are normal. One blocking watermark
 * query per gap: gaps are rare.
 */
void ssid_daemon_check_fetch(struct ssid_daemon *d, const rd_kafka_message_t *rkm)
{
	int64_t expected = ssid_parts_fetched(&d->parts, rkm->partition, rkm->offset);
	int64_t skipped = rkm->offset - expected, lo = -1, hi = -1;
	char f_part[48], f_skipped[48], f_from[48], f_to[48];
	const char *fields[] = {"SSID_EVENT=offset_reset", f_part, f_skipped, f_from, f_to, NULL};
	rd_kafka_resp_err_t err;

	if (expected < 0)
		return;
	err = rd_kafka_query_watermark_offsets(d->consumer, rd_kafka_topic_name(rkm->rkt),
					       rkm->partition, &lo, &hi, 5000);
	if (err == RD_KAFKA_RESP_ERR_NO_ERROR && lo <= expected)
		return; /* the offsets in between exist: not a reset */
	snprintf(f_part, sizeof(f_part), "SSID_PARTITION=%d", (int)rkm->partition);
	snprintf(f_skipped, sizeof(f_skipped), "SSID_OFFSETS_SKIPPED=%" PRId64, skipped);
	snprintf(f_from, sizeof(f_from), "SSID_OFFSET_EXPECTED=%" PRId64, expected);
	snprintf(f_to, sizeof(f_to), "SSID_OFFSET_RECEIVED=%" PRId64, rkm->offset);
	ssid_log_fields(LOG_ERR, fields,
			"data loss: partition %d of %s: offsets %" PRId64 "..%" PRId64
			" were deleted before ssid read them (%s); consumption reset to offset "
			"%" PRId64 ", %" PRId64 " offsets skipped",
			(int)rkm->partition, rd_kafka_topic_name(rkm->rkt), expected,
			rkm->offset - 1,
			err ? "the broker's log start could not be read"
			    : "the broker's log now starts after them",
			rkm->offset, skipped);
	ssid_metrics_add(&d->metrics->offset_resets, 1);
	ssid_metrics_add(&d->metrics->offsets_skipped, (uint64_t)skipped);
	pthread_mutex_lock(&d->lock);
	d->stats.offset_resets++;
	d->stats.offsets_skipped += (uint64_t)skipped;
	pthread_mutex_unlock(&d->lock);
}
