/*
 * ssid_daemon_status: what the daemon tells systemd while it runs.
 *
 * Owns the watchdog pings and the status line (rate, consumer lag,
 * degraded, rebuilding, the last broker error), and the tick the loop and
 * the pipeline call between steps. Shared state: see ssid_daemon_int.h.
 */
#include <pthread.h>
#include <stdio.h>

#include "ssid_daemon_int.h"
#include "ssid_notify.h"
#include "ssid_time.h"

void ssid_daemon_watchdog_tick(struct ssid_daemon *d)
{
	int64_t now = ssid_time_mono_ms();

	ssid_daemon_metrics_tick(d, now);
	if (d->watchdog_every_ms > 0 && now - d->last_watchdog >= d->watchdog_every_ms) {
		ssid_notify_watchdog();
		d->last_watchdog = now;
	}
}

/* Sum over owned partitions of (high watermark - position). */
static int64_t consumer_lag(struct ssid_daemon *d)
{
	rd_kafka_topic_partition_list_t *parts = NULL;
	int64_t lag = 0;

	if (rd_kafka_assignment(d->consumer, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR || !parts)
		return -1;
	rd_kafka_position(d->consumer, parts);
	for (int i = 0; i < parts->cnt; i++) {
		int64_t lo, hi;

		if (rd_kafka_get_watermark_offsets(d->consumer, parts->elems[i].topic,
						   parts->elems[i].partition, &lo,
						   &hi) != RD_KAFKA_RESP_ERR_NO_ERROR ||
		    hi < 0)
			continue;
		if (parts->elems[i].offset >= 0 && hi > parts->elems[i].offset)
			lag += hi - parts->elems[i].offset;
		else if (parts->elems[i].offset < 0 && hi > lo)
			lag += hi - lo;
	}
	rd_kafka_topic_partition_list_destroy(parts);
	return lag;
}

void ssid_daemon_status_tick(struct ssid_daemon *d, bool force)
{
	int64_t now = ssid_time_mono_ms();
	struct ssid_daemon_stats st;
	double rate;
	char kafka[300] = "", loss[96] = "";

	if (!force && now - d->last_status < d->cfg.status_interval_ms)
		return;
	ssid_daemon_get_stats(d, &st);
	rate = d->last_status ? (double)(st.events - d->events_at_last_status) * 1000.0 /
				    (double)(now - d->last_status > 0 ? now - d->last_status : 1)
			      : 0;
	pthread_mutex_lock(&d->lock);
	if (d->kafka_error_at && now - d->kafka_error_at < 30000)
		snprintf(kafka, sizeof(kafka), ", kafka: %s", d->kafka_error);
	pthread_mutex_unlock(&d->lock);
	if (st.offset_resets > 0)
		snprintf(loss, sizeof(loss), ", DATA LOST: %llu offsets skipped in %llu resets",
			 (unsigned long long)st.offsets_skipped,
			 (unsigned long long)st.offset_resets);
	if (ssid_daemon_report_rebuild(d, now))
		goto out;
	if (st.degraded)
		ssid_notify_status("degraded: %s (retry in %.1f s); %llu events, %llu outputs%s%s",
				   d->degraded_why, (double)(d->retry_at - now) / 1000.0,
				   (unsigned long long)st.events, (unsigned long long)st.outputs,
				   loss, kafka);
	else
		ssid_notify_status("running: %.0f events/s, lag %lld, %llu events, %llu outputs, "
				   "%llu rejected%s%s",
				   rate, (long long)consumer_lag(d), (unsigned long long)st.events,
				   (unsigned long long)st.outputs, (unsigned long long)st.rejected,
				   loss, kafka);
out:
	d->last_status = now;
	d->events_at_last_status = st.events;
}

void ssid_daemon_tick(void *ctx)
{
	struct ssid_daemon *d = ctx;

	ssid_daemon_watchdog_tick(d);
	ssid_daemon_status_tick(d, false);
}
