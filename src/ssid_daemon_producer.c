/*
 * ssid_daemon_producer: the output producer, made at start and made again
 * when it raised a fatal error, and librdkafka's log and error callbacks of
 * both clients. Shared state: see ssid_daemon_int.h.
 *
 * An idempotent producer that raised a fatal error (the broker and it
 * disagree on sequence numbers or on its producer id) fails every message
 * for ever. The pipeline then asks for a new one (a new producer id, new
 * sequences) and sends again exactly the outputs whose delivery failed: the
 * batch's states and offsets are written only once every output is
 * delivered, so nothing is lost, and what was delivered is not sent twice.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>

#include "ssid_daemon_int.h"
#include "ssid_log.h"
#include "ssid_time.h"

/* librdkafka's own log lines, routed through ours (any thread). */
void ssid_daemon_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	if (level <= 4)
		log_warn("kafka %s: %s", fac, buf);
	else
		log_debug("kafka %s: %s", fac, buf);
}

/* Broker-level trouble: left to librdkafka to fix, surfaced in status. */
void ssid_daemon_kafka_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct ssid_daemon *d = opaque;

	ssid_metrics_add(rd_kafka_type(rk) == RD_KAFKA_PRODUCER
			     ? &d->metrics->kafka_producer_errors
			     : &d->metrics->kafka_consumer_errors,
			 1);
	pthread_mutex_lock(&d->lock);
	snprintf(d->kafka_error, sizeof(d->kafka_error), "%s: %s",
		 rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
	d->kafka_error_at = ssid_time_mono_ms();
	pthread_mutex_unlock(&d->lock);
	log_warn("kafka: %s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

int ssid_daemon_producer_new(struct ssid_daemon *d, rd_kafka_t **out, char *err, size_t errlen)
{
	const char *bootstrap = d->mock ? ssid_mock_bootstraps(d->mock) : NULL;
	rd_kafka_conf_t *conf;
	int r = ssid_kafka_conf_new(&conf, &d->cfg, SSID_KAFKA_PRODUCER, bootstrap, err, errlen);

	if (r < 0)
		return r;
	rd_kafka_conf_set_dr_msg_cb(conf, ssid_pipeline_delivery_cb);
	rd_kafka_conf_set_log_cb(conf, ssid_daemon_kafka_log_cb);
	rd_kafka_conf_set_error_cb(conf, ssid_daemon_kafka_error_cb);
	rd_kafka_conf_set_opaque(conf, d);
	*out = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, errlen);
	if (!*out) {
		rd_kafka_conf_destroy(conf);
		return -EINVAL;
	}
	return 0; /* conf now owned by the producer */
}

rd_kafka_t *ssid_daemon_producer_renew(void *ctx)
{
	struct ssid_daemon *d = ctx;
	char why[512], err[1024];
	rd_kafka_resp_err_t fatal = rd_kafka_fatal_error(d->producer, why, sizeof(why));
	rd_kafka_t *fresh;

	if (fatal == RD_KAFKA_RESP_ERR_NO_ERROR)
		snprintf(why, sizeof(why), "no reason given");
	if (ssid_daemon_producer_new(d, &fresh, err, sizeof(err)) < 0) {
		log_err("kafka producer: fatal error %s (%s), and no new producer: %s",
			rd_kafka_err2name(fatal), why, err);
		return NULL;
	}
	/* Anything the dead producer still holds fails now, through its delivery reports. */
	rd_kafka_purge(d->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	rd_kafka_flush(d->producer, 1000);
	rd_kafka_destroy(d->producer);
	d->producer = fresh;
	ssid_metrics_add(&d->metrics->producers_renewed, 1);
	pthread_mutex_lock(&d->lock);
	d->stats.producers_renewed++;
	pthread_mutex_unlock(&d->lock);
	log_warn("kafka producer: fatal error %s (%s): replaced by a new producer; its "
		 "undelivered outputs are sent again",
		 rd_kafka_err2name(fatal), why);
	return fresh;
}
