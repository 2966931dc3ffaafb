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
#include <math.h>
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
#include "ssid_boards.h"
#include "ssid_daemon.h"
#include "ssid_kafka.h"
#include "ssid_log.h"
#include "ssid_notify.h"
#include "ssid_parts.h"
#include "ssid_pipeline.h"
#include "ssid_rank.h"
#include "ssid_store.h"
#include "ssid_file.h"

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
	struct ssid_rank *rank;
	struct ssid_boards *boards;
	struct ssid_redis *network; /* connection for network ranks */
	struct ssi_alert_rules alert_rules;
	struct ssid_rank_bands bands;

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
	return ssid_config_clock_now(&d->clock);
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
	r = ssid_file_load_model(m, path, &me);
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
/* The alert rules as configured; re-arm margins follow the thresholds. */
static int alert_rules_from_config(const struct ssid_config *cfg, struct ssi_alert_rules *r)
{
	ssi_alert_rules_default(r);
	r->enabled[SSI_ALERT_SCORE_DROP] = cfg->alert_score_drop_enabled;
	r->drop_cp = (int)lround(cfg->alert_score_drop_points * 100);
	r->drop_days = cfg->alert_score_drop_days;
	r->drop_rearm_cp = r->drop_cp / 2;
	r->enabled[SSI_ALERT_BELOW_THRESHOLD] = cfg->alert_below_threshold_enabled;
	r->threshold_cp = (int)lround(cfg->alert_below_threshold_points * 100);
	if (r->threshold_rearm_cp > 10000 - r->threshold_cp)
		r->threshold_rearm_cp = 10000 - r->threshold_cp;
	r->enabled[SSI_ALERT_LEFT_TOP_PERCENT] = cfg->alert_left_top_percent_enabled;
	r->top_percent = cfg->alert_left_top_percent;
	if (r->top_rearm_percent > r->top_percent - 1)
		r->top_rearm_percent = r->top_percent - 1;
	r->enabled[SSI_ALERT_PILLAR_DROP] = cfg->alert_pillar_drop_enabled;
	r->pillar_drop_cp = (int)lround(cfg->alert_pillar_drop_points * 100);
	r->pillar_rearm_cp = r->pillar_drop_cp / 2;
	if (r->drop_days > SSI_HISTORY_RETENTION_MAX || r->drop_days > cfg->history_retention_days)
		return -EINVAL;
	return ssi_alert_rules_validate(r);
}

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
	r = alert_rules_from_config(&d->cfg, &d->alert_rules);
	if (r < 0) {
		snprintf(err, errlen,
			 "alert.score_drop.days (%d) must not exceed history.retention_days (%d)",
			 d->cfg.alert_score_drop_days, d->cfg.history_retention_days);
		goto fail;
	}
	r = ssid_rank_bands_parse(&d->bands, d->cfg.rank_bands);
	if (r < 0) {
		snprintf(err, errlen, "rank.bands: cannot use \"%s\"", d->cfg.rank_bands);
		goto fail;
	}
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
	ssid_boards_free(d->boards);
	ssid_rank_free(d->rank);
	ssid_redis_free(d->network);
	ssid_parts_free(&d->parts);
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
			continue;
		}
		p->replay_from = p->position = lo;
		p->replay_until = until;
		tp->offset = lo;
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
		d->rebuild_started = mono_ms();
		d->rebuild_logged = 0;
	}
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
	} else {
		log_partitions(err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS ? "revoked" : "lost",
			       parts);
		ssid_batch_drop_partitions(&d->batch, parts);
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

/*
 * While partitions are replayed, the status and the log show events done
 * and to go, the rate and the time left; the end is logged once.
 */
static bool report_rebuild(struct ssid_daemon *d, int64_t now)
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
	if (report_rebuild(d, now))
		goto out;
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
out:
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
	d->stats.rank_changes += bs->rank_changes;
	d->stats.alerts += bs->alerts;
	d->stats.boards += bs->boards;
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
	for (int i = 0; i < offsets->cnt; i++)
		ssid_parts_advance(&d->parts, offsets->elems[i].partition,
				   offsets->elems[i].offset - 1);
	err = rd_kafka_offsets_store(d->consumer, offsets);
	if (err)
		log_warn("storing offsets: %s", rd_kafka_err2str(err));
	rd_kafka_topic_partition_list_destroy(offsets);
	err = rd_kafka_commit(d->consumer, NULL, 1);
	if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
		log_warn("commit: %s", rd_kafka_err2str(err));
	d->last_commit = mono_ms();
}

static void enter_degraded(struct ssid_daemon *d, const char *why)
{
	bool first = !d->paused;

	snprintf(d->degraded_why, sizeof(d->degraded_why), "%s", why);
	if (first) {
		char reason[300];
		const char *fields[] = {"SSID_STATE=degraded", reason, NULL};

		d->backoff_ms = d->cfg.retry_backoff_min_ms;
		/* Structured, so operators can query the journal by state and cause. */
		snprintf(reason, sizeof(reason), "SSID_REASON=%s", d->degraded_why);
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
}

static void leave_degraded(struct ssid_daemon *d)
{
	const char *fields[] = {"SSID_STATE=running", NULL};

	if (!d->paused)
		return;
	ssid_log_fields(LOG_NOTICE, fields, "recovered: resuming consumption");
	pause_all(d, false);
	status_tick(d, true);
}

/*
 * Whether Redis still holds what this daemon wrote: a new epoch in the
 * sentinel means it restarted empty (or was flushed), and the owned
 * partitions are replayed from the start of their logs. Returns 0, 1 when a
 * rebuild was started (the batch in hand was dropped: it is read again),
 * or -EIO.
 */
static int check_epoch(struct ssid_daemon *d)
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
	ssid_store_forget(d->store, -1); /* nothing cached is in Redis any more */
	if (d->rank)
		ssid_rank_reset(d->rank);
	if (rd_kafka_assignment(d->consumer, &parts) == RD_KAFKA_RESP_ERR_NO_ERROR && parts) {
		for (int i = 0; d->rank && i < parts->cnt; i++)
			ssid_rank_assign(d->rank, parts->elems[i].partition);
		plan_rebuild(d, parts, true, true);
		rd_kafka_topic_partition_list_destroy(parts);
	}
	pthread_mutex_lock(&d->lock);
	d->stats.rebuilds++;
	pthread_mutex_unlock(&d->lock);
	return 1;
}

/* Run the current batch once; on success commit it and clear it. */
static int attempt_batch(struct ssid_daemon *d)
{
	struct ssid_batch_stats bs;
	char why[300];
	int r = check_epoch(d);

	if (r < 0) {
		snprintf(why, sizeof(why), "redis: %s", ssid_store_errstr(d->store));
		enter_degraded(d, why);
		return r;
	}
	if (r == 0) {
		r = ssid_pipeline_run(d->pipe, &d->batch, now_ms(d), &bs);
		if (r < 0) {
			enter_degraded(d, ssid_pipeline_errstr(d->pipe));
			return r;
		}
		commit_batch(d);
		count_batch(d, &bs);
		ssid_batch_clear(&d->batch);
	}
	leave_degraded(d);
	return 0;
}

void ssid_daemon_set_rebuild(struct ssid_daemon *d)
{
	d->rebuild_forced = true;
}

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
	int64_t now = now_ms(d), mono = mono_ms();
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
			r = rescore(d, (int32_t)i, ids, n, SSID_CAUSE_MODEL, now_ms(d));
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

	if (ssid_pipeline_flush_boards(d->pipe, now_ms(d), &bs) < 0)
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
	int64_t now = mono_ms();

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
	if (d->rank && ssid_rank_refresh(d->rank, mono_ms(), false) < 0)
		log_debug("ranks: %s", ssid_rank_errstr(d->rank));
}

/* Work that runs between batches: decay, model walk, ranks, coalesced leaderboards. */
static void upkeep(struct ssid_daemon *d)
{
	if (d->paused || d->batch.n > 0)
		return;
	commit_tick(d);
	decay_pass(d);
	model_walk(d);
	refresh_ranks(d);
	flush_boards(d);
}

static void consume_one(struct ssid_daemon *d, rd_kafka_message_t *rkm)
{
	if (rkm->err) {
		log_warn("consumer: %s", rd_kafka_message_errstr(rkm));
		rd_kafka_message_destroy(rkm);
		return;
	}
	if (ssid_batch_add(&d->batch, rkm) < 0) {
		log_err("out of memory queueing a message: it will be consumed again");
		return;
	}
	d->batch.msg[d->batch.n - 1].replay =
	    ssid_parts_is_replay(&d->parts, rkm->partition, rkm->offset);
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
	struct ssi_alert_rules rules;
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
	if (alert_rules_from_config(&d->cfg, &rules) == 0) {
		d->alert_rules = rules;
		ssid_pipeline_set_alert_rules(d->pipe, &rules);
	} else {
		log_err("reload: alert.score_drop.days exceeds history.retention_days; keeping the "
			"alert rules");
	}
	if (d->boards)
		ssid_boards_set_interval(d->boards, d->cfg.rank_board_interval_ms);
	ssid_pipeline_set_model(d->pipe, model);
	if (strcmp(model->version, d->model->version) != 0)
		ssid_parts_model_changed(&d->parts);
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
	if (r == 0)
		r = ssid_store_cache(d->store, (size_t)d->cfg.cache_max_mb << 20);
	if (r < 0)
		return EX_OSERR;
	if (!d->cfg.rank_enabled)
		goto no_ranks;
	r = ssid_rank_new(&d->rank, &so,
			  &(struct ssid_rank_opts){
			      .min_members = d->cfg.rank_min_members,
			      .top_n = d->cfg.rank_top_n,
			      .refresh_ms = d->cfg.rank_refresh_ms,
			      .warmup_ms = d->cfg.rank_warmup_ms,
			      .warmup_growth = d->cfg.rank_warmup_growth,
			  });
	if (r == 0)
		r = ssid_boards_new(&d->boards, d->rank, d->cfg.rank_top_n,
				    d->cfg.rank_board_interval_ms);
	if (r == 0)
		r = ssid_redis_new(&d->network, &so);
	if (r < 0)
		return EX_OSERR;
no_ranks:
	po = (struct ssid_pipeline_opts){
	    .store = d->store,
	    .producer = d->producer,
	    .output_topic = d->cfg.output_topic,
	    .dlq_topic = d->cfg.dlq_topic,
	    .epsilon = d->cfg.score_epsilon,
	    .delivery_timeout_ms = 60000,
	    .tick = tick,
	    .tick_ctx = d,
	    .rank = d->rank,
	    .boards = d->boards,
	    .bands = d->bands,
	    .alerts = d->alert_rules,
	    .history_retention_days = d->cfg.history_retention_days,
	    .network = d->network,
	    .network_per_batch = d->cfg.rank_network_per_batch,
	    .min_members = d->cfg.rank_min_members,
	    .max_event_age_ms = d->cfg.alert_max_event_age_ms,
	};
	r = ssid_pipeline_new(&d->pipe, &po, d->model);
	if (r < 0)
		return EX_OSERR;
	d->watchdog_every_ms = ssid_notify_watchdog_usec() / 2000;
	r = wait_for_redis(d);
	if (r < 0)
		return 0;
	r = ssid_store_sentinel(d->store, d->epoch, sizeof(d->epoch));
	if (r == 1)
		log_notice(
		    "redis holds no ssid data yet: each partition is replayed from the start "
		    "of its log when first assigned");
	if (d->rebuild_forced)
		log_notice("rebuild requested: the assigned partitions are replayed from the start "
			   "of their logs");
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
	if (d->rank && ssid_rank_flush(d->rank) < 0)
		log_warn("stopping with rank records not written (%s): each rep's next score "
			 "writes its own again",
			 ssid_rank_errstr(d->rank));
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
		upkeep(d);
		tick(d);
	}
	shutdown_cleanly(d);
	log_notice("stopped");
	return 0;
}
