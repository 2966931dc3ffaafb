/*
 * ssid_daemon: the service loop.
 *
 * One thread does the I/O: it polls the consumer into a batch, hands the
 * batch to the pipeline, and stores and commits offsets only when the
 * pipeline says everything is durable and delivered. A failed batch is kept
 * and retried with exponential backoff while all partitions are paused, so
 * nothing is lost or reordered and the group membership stays alive.
 * Signal handlers only set flags; this loop acts on them.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "ssi_time.h"
#include "ssid_daemon.h"
#include "ssid_kafka.h"
#include "ssid_log.h"
#include "ssid_notify.h"
#include "ssid_pipeline.h"
#include "ssid_store.h"

static volatile sig_atomic_t sig_stop, sig_reload;

struct ssid_daemon {
	struct ssid_config cfg;
	struct ssid_config_clock clock;
	struct ssi_model *model;
	struct ssid_mock *mock;
	struct ssid_store *store;
	rd_kafka_t *consumer, *producer;
	struct ssid_pipeline *pipe;
	struct ssid_batch batch;

	atomic_int stop, reload;
	bool paused;	  /* partitions paused while a batch waits for retry */
	int backoff_ms;	  /* next retry delay */
	int64_t retry_at; /* monotonic ms */
	char degraded_why[256];
	char kafka_error[256];
	int64_t kafka_error_at;

	int64_t watchdog_every_ms, last_watchdog, last_status;
	uint64_t events_at_last_status;

	pthread_mutex_t lock; /* guards stats */
	struct ssid_daemon_stats stats;
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The scoring clock: real time, or a fixed/file-driven one for tests. */
static int64_t now_ms(struct ssid_daemon *d)
{
	struct timespec ts;
	char buf[64];
	ssize_t n;
	int fd;
	int64_t ms;

	switch (d->clock.kind) {
	case SSID_CONFIG_CLOCK_FIXED:
		return d->clock.fixed_ms;
	case SSID_CONFIG_CLOCK_FILE:
		fd = open(d->clock.file, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			n = read(fd, buf, sizeof(buf) - 1);
			close(fd);
			while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
				n--;
			if (n > 0 && ssi_time_parse(buf, (size_t)n, &ms) == 0)
				return ms;
		}
		break;
	case SSID_CONFIG_CLOCK_SYSTEM:
		break;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		sig_reload = 1;
	else
		sig_stop = 1;
}

int ssid_daemon_install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0 ||
	    sigaction(SIGHUP, &sa, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

void ssid_daemon_request_stop(void)
{
	sig_stop = 1;
}

void ssid_daemon_request_reload(void)
{
	sig_reload = 1;
}

void ssid_daemon_stop(struct ssid_daemon *d)
{
	atomic_store(&d->stop, 1);
}

void ssid_daemon_reload(struct ssid_daemon *d)
{
	atomic_store(&d->reload, 1);
}

static bool stopping(struct ssid_daemon *d)
{
	return sig_stop || atomic_load(&d->stop);
}

void ssid_daemon_get_stats(struct ssid_daemon *d, struct ssid_daemon_stats *out)
{
	pthread_mutex_lock(&d->lock);
	*out = d->stats;
	pthread_mutex_unlock(&d->lock);
}

static int load_model(const char *path, struct ssi_model **out, char *err, size_t errlen)
{
	struct ssi_model *m = malloc(sizeof(*m));
	struct ssi_model_error me;
	int r;

	if (!m)
		return -ENOMEM;
	r = ssi_model_load_file(m, path, &me);
	if (r < 0) {
		if (me.line > 0)
			snprintf(err, errlen, "%s:%d: %s", path, me.line, me.message);
		else
			snprintf(err, errlen, "%s: %s%s%s", path, me.key, me.key[0] ? ": " : "",
				 me.message);
		free(m);
		return r;
	}
	*out = m;
	return 0;
}

/*
 * Build and drop both clients' configurations now, so that a kafka.* key
 * librdkafka rejects is a configuration error --check-config reports too,
 * rather than a failure at startup.
 */
static int check_kafka_conf(const struct ssid_config *cfg, char *err, size_t errlen)
{
	const enum ssid_kafka_role roles[] = {SSID_KAFKA_PRODUCER, SSID_KAFKA_CONSUMER};

	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		rd_kafka_conf_t *conf;
		int r = ssid_kafka_conf_new(&conf, cfg, roles[i], NULL, err, errlen);

		if (r < 0)
			return r;
		rd_kafka_conf_destroy(conf);
	}
	return 0;
}

int ssid_daemon_new(struct ssid_daemon **out, struct ssid_config *cfg, char *err, size_t errlen)
{
	struct ssid_daemon *d = calloc(1, sizeof(*d));
	int r;

	if (!d)
		return -ENOMEM;
	d->cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	pthread_mutex_init(&d->lock, NULL);
	ssid_batch_init(&d->batch);
	r = ssid_config_parse_clock(d->cfg.clock, &d->clock);
	if (r < 0) {
		snprintf(err, errlen, "clock: cannot use \"%s\"", d->cfg.clock);
		goto fail;
	}
	r = check_kafka_conf(&d->cfg, err, errlen);
	if (r < 0)
		goto fail;
	r = load_model(d->cfg.model_file, &d->model, err, errlen);
	if (r < 0)
		goto fail;
	*out = d;
	return 0;
fail:
	ssid_daemon_free(d);
	return r;
}

void ssid_daemon_free(struct ssid_daemon *d)
{
	if (!d)
		return;
	ssid_batch_free(&d->batch);
	ssid_pipeline_free(d->pipe);
	if (d->consumer)
		rd_kafka_destroy(d->consumer);
	if (d->producer)
		rd_kafka_destroy(d->producer);
	ssid_mock_free(d->mock);
	ssid_store_free(d->store);
	free(d->model);
	ssid_config_free(&d->cfg);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

/* librdkafka's own log lines, routed through ours (any thread). */
static void kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	if (level <= 4)
		log_warn("kafka %s: %s", fac, buf);
	else
		log_debug("kafka %s: %s", fac, buf);
}

/* Broker-level trouble: left to librdkafka to fix, surfaced in status. */
static void kafka_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct ssid_daemon *d = opaque;

	(void)rk;
	pthread_mutex_lock(&d->lock);
	snprintf(d->kafka_error, sizeof(d->kafka_error), "%s: %s",
		 rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
	d->kafka_error_at = mono_ms();
	pthread_mutex_unlock(&d->lock);
	log_warn("kafka: %s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

static void pause_all(struct ssid_daemon *d, bool pause)
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
 * Cooperative rebalancing hands partitions over one at a time. Before one
 * leaves, commit what is durable and drop its not-yet-durable messages: the
 * next owner reads them again from the committed offset, and the users'
 * marks make that safe.
 */
static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			 rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct ssid_daemon *d = opaque;
	bool cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
	rd_kafka_error_t *error = NULL;

	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		log_partitions("assigned", parts);
		if (cooperative)
			error = rd_kafka_incremental_assign(rk, parts);
		else
			rd_kafka_assign(rk, parts);
		if (d->paused)
			rd_kafka_pause_partitions(rk, parts);
	} else {
		log_partitions(err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS ? "revoked" : "lost",
			       parts);
		ssid_batch_drop_partitions(&d->batch, parts);
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
	}
	if (error) {
		log_err("rebalance: %s", rd_kafka_error_string(error));
		rd_kafka_error_destroy(error);
	}
}

static int write_bootstrap_file(const char *path, const char *bootstraps)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f, "%s\n", bootstraps);
	if (fclose(f) != 0 || rename(tmp, path) < 0)
		return -errno;
	return 0;
}

static int start_mock(struct ssid_daemon *d, char *err, size_t errlen)
{
	const char *topics[] = {d->cfg.input_topic, d->cfg.output_topic, d->cfg.dlq_topic};
	int r = ssid_mock_new(&d->mock, d->cfg.mock_cluster_brokers, err, errlen);

	if (r < 0)
		return r;
	for (size_t i = 0; i < 3; i++)
		if (ssid_mock_topic(d->mock, topics[i], d->cfg.mock_cluster_partitions) < 0) {
			snprintf(err, errlen, "mock cluster: cannot create topic %s", topics[i]);
			return -EINVAL;
		}
	log_notice("embedded mock Kafka cluster (%d brokers) at %s", d->cfg.mock_cluster_brokers,
		   ssid_mock_bootstraps(d->mock));
	if (d->cfg.mock_cluster_bootstrap_file[0]) {
		r = write_bootstrap_file(d->cfg.mock_cluster_bootstrap_file,
					 ssid_mock_bootstraps(d->mock));
		if (r < 0) {
			snprintf(err, errlen, "mock_cluster.bootstrap_file: %s: %s",
				 d->cfg.mock_cluster_bootstrap_file, strerror(-r));
			return r;
		}
	}
	return 0;
}

static int create_clients(struct ssid_daemon *d, char *err, size_t errlen)
{
	const char *bootstrap = d->mock ? ssid_mock_bootstraps(d->mock) : NULL;
	rd_kafka_conf_t *conf;
	rd_kafka_topic_partition_list_t *topics;
	rd_kafka_resp_err_t kerr;
	int r;

	r = ssid_kafka_conf_new(&conf, &d->cfg, SSID_KAFKA_PRODUCER, bootstrap, err, errlen);
	if (r < 0)
		return r;
	rd_kafka_conf_set_dr_msg_cb(conf, ssid_pipeline_delivery_cb);
	rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
	rd_kafka_conf_set_error_cb(conf, kafka_error_cb);
	rd_kafka_conf_set_opaque(conf, d);
	d->producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, errlen);
	if (!d->producer) {
		rd_kafka_conf_destroy(conf);
		return -EINVAL;
	}
	conf = NULL; /* now owned by the producer */

	r = ssid_kafka_conf_new(&conf, &d->cfg, SSID_KAFKA_CONSUMER, bootstrap, err, errlen);
	if (r < 0)
		return r;
	rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
	rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
	rd_kafka_conf_set_error_cb(conf, kafka_error_cb);
	rd_kafka_conf_set_opaque(conf, d);
	d->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen);
	if (!d->consumer) {
		rd_kafka_conf_destroy(conf);
		return -EINVAL;
	}
	conf = NULL; /* now owned by the consumer */
	rd_kafka_poll_set_consumer(d->consumer);

	topics = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(topics, d->cfg.input_topic, RD_KAFKA_PARTITION_UA);
	kerr = rd_kafka_subscribe(d->consumer, topics);
	rd_kafka_topic_partition_list_destroy(topics);
	if (kerr) {
		snprintf(err, errlen, "subscribe to %s: %s", d->cfg.input_topic,
			 rd_kafka_err2str(kerr));
		return -EINVAL;
	}
	return 0;
}

static void watchdog_tick(struct ssid_daemon *d)
{
	int64_t now = mono_ms();

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

static void status_tick(struct ssid_daemon *d, bool force)
{
	int64_t now = mono_ms();
	struct ssid_daemon_stats st;
	double rate;
	char kafka[300] = "";

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
	if (st.degraded)
		ssid_notify_status("degraded: %s (retry in %.1f s); %llu events, %llu outputs%s",
				   d->degraded_why, (double)(d->retry_at - now) / 1000.0,
				   (unsigned long long)st.events, (unsigned long long)st.outputs,
				   kafka);
	else
		ssid_notify_status("running: %.0f events/s, lag %lld, %llu events, %llu outputs, "
				   "%llu rejected%s",
				   rate, (long long)consumer_lag(d), (unsigned long long)st.events,
				   (unsigned long long)st.outputs, (unsigned long long)st.rejected,
				   kafka);
	d->last_status = now;
	d->events_at_last_status = st.events;
}

static void tick(void *ctx)
{
	struct ssid_daemon *d = ctx;

	watchdog_tick(d);
	status_tick(d, false);
}

static void count_batch(struct ssid_daemon *d, const struct ssid_batch_stats *bs)
{
	pthread_mutex_lock(&d->lock);
	d->stats.batches++;
	d->stats.events += bs->events;
	d->stats.applied += bs->applied;
	d->stats.replayed += bs->replayed;
	d->stats.duplicates += bs->duplicates;
	d->stats.rejected += bs->rejected;
	d->stats.outputs += bs->outputs;
	d->stats.degraded = 0;
	pthread_mutex_unlock(&d->lock);
}

/* The batch is durable and delivered: its offsets may now be committed. */
static void commit_batch(struct ssid_daemon *d)
{
	rd_kafka_topic_partition_list_t *offsets = ssid_batch_offsets(&d->batch);
	rd_kafka_resp_err_t err;

	if (!offsets)
		return;
	err = rd_kafka_offsets_store(d->consumer, offsets);
	if (err)
		log_warn("storing offsets: %s", rd_kafka_err2str(err));
	rd_kafka_topic_partition_list_destroy(offsets);
	err = rd_kafka_commit(d->consumer, NULL, 1);
	if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
		log_warn("commit: %s", rd_kafka_err2str(err));
}

static void enter_degraded(struct ssid_daemon *d, int r)
{
	bool first = !d->paused;

	snprintf(d->degraded_why, sizeof(d->degraded_why), "%s", ssid_pipeline_errstr(d->pipe));
	if (first) {
		char why[300];
		const char *fields[] = {"SSID_STATE=degraded", why, NULL};

		d->backoff_ms = d->cfg.retry_backoff_min_ms;
		/* Structured, so operators can query the journal by state and cause. */
		snprintf(why, sizeof(why), "SSID_REASON=%s", d->degraded_why);
		ssid_log_fields(LOG_WARNING, fields,
				"batch failed (%s): pausing consumption and retrying",
				d->degraded_why);
		pause_all(d, true);
	} else {
		log_debug("batch retry failed (%s)", d->degraded_why);
		d->backoff_ms = d->backoff_ms * 2 > d->cfg.retry_backoff_max_ms
				    ? d->cfg.retry_backoff_max_ms
				    : d->backoff_ms * 2;
	}
	d->retry_at = mono_ms() + d->backoff_ms;
	pthread_mutex_lock(&d->lock);
	d->stats.failures++;
	d->stats.degraded = 1;
	pthread_mutex_unlock(&d->lock);
	if (first)
		status_tick(d, true);
	(void)r;
}

/* Run the current batch once; on success commit it and clear it. */
static int attempt_batch(struct ssid_daemon *d)
{
	struct ssid_batch_stats bs;
	int r = ssid_pipeline_run(d->pipe, &d->batch, now_ms(d), &bs);

	if (r < 0) {
		enter_degraded(d, r);
		return r;
	}
	commit_batch(d);
	count_batch(d, &bs);
	ssid_batch_clear(&d->batch);
	if (d->paused) {
		const char *fields[] = {"SSID_STATE=running", NULL};

		ssid_log_fields(LOG_NOTICE, fields, "recovered: resuming consumption");
		pause_all(d, false);
		status_tick(d, true);
	}
	return 0;
}

static void consume_one(struct ssid_daemon *d, rd_kafka_message_t *rkm)
{
	if (rkm->err) {
		log_warn("consumer: %s", rd_kafka_message_errstr(rkm));
		rd_kafka_message_destroy(rkm);
		return;
	}
	if (ssid_batch_add(&d->batch, rkm) < 0)
		log_err("out of memory queueing a message: it will be consumed again");
}

/* Fill the batch until it is full or max_wait has passed since its first message. */
static void gather_batch(struct ssid_daemon *d)
{
	int64_t first_at = 0;

	while (!stopping(d) && d->batch.n < (size_t)d->cfg.batch_max_events) {
		int timeout = 100;
		rd_kafka_message_t *rkm;

		if (d->batch.n > 0) {
			int64_t left = first_at + d->cfg.batch_max_wait_ms - mono_ms();

			if (left <= 0)
				break;
			timeout = left < 100 ? (int)left : 100;
		}
		rkm = rd_kafka_consumer_poll(d->consumer, timeout);
		if (!rkm) {
			if (d->batch.n == 0)
				return; /* idle: let the loop tick */
			continue;
		}
		if (d->batch.n == 0)
			first_at = mono_ms();
		consume_one(d, rkm);
	}
}

static void do_reload(struct ssid_daemon *d)
{
	struct ssid_config fresh;
	struct ssid_config_error ce;
	struct ssi_model *model = NULL;
	char err[1024], diff[512];
	int r;

	ssid_notify_reloading();
	log_notice("reloading %s", d->cfg.path);
	r = ssid_config_load(&fresh, d->cfg.path, &ce);
	if (r < 0) {
		ssid_config_format_error(&ce, err, sizeof(err));
		log_err("reload: %s; keeping the running configuration", err);
		goto out;
	}
	r = load_model(fresh.model_file, &model, err, sizeof(err));
	if (r < 0) {
		log_err("reload: model %s; keeping model %s", err, d->model->version);
		ssid_config_free(&fresh);
		goto out;
	}
	if (ssid_config_reload_diff(&d->cfg, &fresh, diff, sizeof(diff)) > 0)
		log_warn("reload: %s changed but only take effect on restart", diff);
	if (ssid_config_copy_reloadable(&d->cfg, &fresh) < 0) {
		log_err("reload: out of memory; keeping the running configuration");
		free(model);
		ssid_config_free(&fresh);
		goto out;
	}
	ssid_config_free(&fresh);
	ssid_log_set_level(d->cfg.log_level);
	ssid_pipeline_set_epsilon(d->pipe, d->cfg.score_epsilon);
	ssid_pipeline_set_model(d->pipe, model);
	log_notice("reloaded: model %s (was %s)", model->version, d->model->version);
	free(d->model);
	d->model = model;
	pthread_mutex_lock(&d->lock);
	d->stats.reloads++;
	pthread_mutex_unlock(&d->lock);
out:
	ssid_notify_ready();
	status_tick(d, true);
}

/*
 * Ask for the output topics' metadata before the first batch: otherwise the
 * producer only learns them on its periodic refresh, which stalls the first
 * batch for up to a second. A missing topic is worth a warning at start-up.
 */
static void warm_output_topics(struct ssid_daemon *d)
{
	const char *topics[] = {d->cfg.output_topic, d->cfg.dlq_topic};

	for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++) {
		rd_kafka_topic_t *rkt = rd_kafka_topic_new(d->producer, topics[i], NULL);
		const struct rd_kafka_metadata *md = NULL;
		rd_kafka_resp_err_t err;

		if (!rkt)
			continue;
		err = rd_kafka_metadata(d->producer, 0, rkt, &md, 5000);
		if (err)
			log_warn("metadata for %s: %s", topics[i], rd_kafka_err2str(err));
		else if (md->topic_cnt == 1 && md->topics[0].err)
			log_warn("topic %s: %s", topics[i], rd_kafka_err2str(md->topics[0].err));
		if (md)
			rd_kafka_metadata_destroy(md);
		rd_kafka_topic_destroy(rkt);
	}
}

/* Wait for Redis before declaring readiness; a stop request ends the wait. */
static int wait_for_redis(struct ssid_daemon *d)
{
	int backoff = d->cfg.retry_backoff_min_ms;
	bool warned = false;

	while (!stopping(d)) {
		int64_t until;

		if (ssid_store_ping(d->store) == 0)
			return 0;
		if (!warned)
			log_warn("redis not answering (%s); retrying", ssid_store_errstr(d->store));
		warned = true;
		ssid_notify_status("starting: waiting for redis: %s", ssid_store_errstr(d->store));
		until = mono_ms() + backoff;
		while (!stopping(d) && mono_ms() < until) {
			watchdog_tick(d);
			rd_kafka_poll(d->producer, 50);
		}
		backoff = backoff * 2 > d->cfg.retry_backoff_max_ms ? d->cfg.retry_backoff_max_ms
								    : backoff * 2;
	}
	return -ECANCELED;
}

static int start(struct ssid_daemon *d)
{
	struct ssid_redis_opts so = {
	    .host = d->cfg.redis_host,
	    .port = d->cfg.redis_port,
	    .unix_socket = d->cfg.redis_unix_socket,
	    .user = d->cfg.redis_user,
	    .password = d->cfg.redis_password,
	    .db = d->cfg.redis_db,
	    .connect_timeout_ms = d->cfg.redis_connect_timeout_ms,
	    .command_timeout_ms = d->cfg.redis_command_timeout_ms,
	    .keepalive = d->cfg.redis_keepalive,
	    .key_prefix = d->cfg.redis_key_prefix,
	};
	struct ssid_pipeline_opts po;
	char err[1024];
	int r;

	if (d->cfg.mock_cluster_brokers > 0 && (r = start_mock(d, err, sizeof(err))) < 0)
		goto config_error;
	r = create_clients(d, err, sizeof(err));
	if (r < 0)
		goto config_error;
	r = ssid_store_new(&d->store, &so);
	if (r < 0)
		return EX_OSERR;
	po = (struct ssid_pipeline_opts){
	    .store = d->store,
	    .producer = d->producer,
	    .output_topic = d->cfg.output_topic,
	    .dlq_topic = d->cfg.dlq_topic,
	    .epsilon = d->cfg.score_epsilon,
	    .delivery_timeout_ms = 60000,
	    .tick = tick,
	    .tick_ctx = d,
	};
	r = ssid_pipeline_new(&d->pipe, &po, d->model);
	if (r < 0)
		return EX_OSERR;
	d->watchdog_every_ms = ssid_notify_watchdog_usec() / 2000;
	r = wait_for_redis(d);
	if (r < 0)
		return 0;
	warm_output_topics(d);
	log_notice("ready: consuming %s, scores to %s, dead letters to %s, model %s",
		   d->cfg.input_topic, d->cfg.output_topic, d->cfg.dlq_topic, d->model->version);
	ssid_notify_ready();
	status_tick(d, true);
	return 0;
config_error:
	log_err("%s", err);
	return EX_CONFIG;
}

/*
 * Finish the batch in hand (retrying until the shutdown deadline), commit
 * synchronously, and leave the group so partitions move at once.
 */
static void shutdown_cleanly(struct ssid_daemon *d)
{
	int64_t deadline = mono_ms() + d->cfg.shutdown_timeout_ms;
	rd_kafka_resp_err_t err;

	ssid_notify_stopping();
	log_notice("stopping: finishing %zu queued events", d->batch.n);
	while (d->batch.n > 0 && mono_ms() < deadline) {
		if (d->paused && mono_ms() < d->retry_at) {
			watchdog_tick(d);
			rd_kafka_poll(d->producer, 50);
			continue;
		}
		attempt_batch(d);
	}
	if (d->batch.n > 0)
		log_warn("stopping with %zu events not durable: they will be consumed again",
			 d->batch.n);
	ssid_batch_clear(&d->batch);
	err = rd_kafka_commit(d->consumer, NULL, 0);
	if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
		log_warn("final commit: %s", rd_kafka_err2str(err));
	err = rd_kafka_consumer_close(d->consumer);
	if (err)
		log_warn("closing the consumer: %s", rd_kafka_err2str(err));
	rd_kafka_flush(d->producer, 5000);
}

int ssid_daemon_run(struct ssid_daemon *d)
{
	int r = start(d);

	if (r != 0 || stopping(d)) {
		if (d->consumer && r == 0)
			shutdown_cleanly(d);
		return r;
	}
	while (!stopping(d)) {
		if (sig_reload || atomic_load(&d->reload)) {
			sig_reload = 0;
			atomic_store(&d->reload, 0);
			do_reload(d);
		}
		if (d->paused) {
			/* Keep the group membership alive; partitions are paused. */
			rd_kafka_message_t *rkm = rd_kafka_consumer_poll(d->consumer, 50);

			if (rkm)
				consume_one(d, rkm);
			if (mono_ms() >= d->retry_at)
				attempt_batch(d);
		} else {
			gather_batch(d);
			if (d->batch.n > 0)
				attempt_batch(d);
		}
		rd_kafka_poll(d->producer, 0);
		tick(d);
	}
	shutdown_cleanly(d);
	log_notice("stopped");
	return 0;
}
