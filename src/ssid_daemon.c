/*
 * ssid_daemon: the service's life cycle and its loop.
 *
 * One thread does the I/O: it polls the consumer into a batch, hands the
 * batch to the pipeline, and stores and commits offsets only when the
 * pipeline says everything is durable and delivered. A failed batch is kept
 * and retried with exponential backoff while all partitions are paused, so
 * nothing is lost or reordered and the group membership stays alive.
 * Signal handlers only set flags; this loop acts on them.
 *
 * This file owns the daemon's life: new and free, the signal flags and the
 * thread-safe requests, the clients and the embedded cluster, start (Redis
 * awaited, readiness), the main loop with its batch path (gather, attempt,
 * commit, degraded and back), SIGHUP reload and the bounded shutdown. The
 * rest lives beside it: see ssid_daemon_int.h.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <syslog.h>

#include "ssid_daemon_int.h"
#include "ssid_file.h"
#include "ssid_log.h"
#include "ssid_notify.h"
#include "ssid_time.h"

static volatile sig_atomic_t sig_stop, sig_reload;

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
	out->partitions = atomic_load(&d->metrics->partitions);
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
	r->enabled[SSI_ALERT_FORECAST_BELOW] = cfg->alert_forecast_below_enabled;
	r->forecast_cp = (int)lround(cfg->alert_forecast_below_points * 100);
	r->forecast_days = cfg->alert_forecast_below_days;
	if (r->forecast_rearm_cp > 10000 - r->forecast_cp)
		r->forecast_rearm_cp = 10000 - r->forecast_cp;
	if (r->drop_days > SSI_HISTORY_RETENTION_MAX || r->drop_days > cfg->history_retention_days)
		return -EINVAL;
	return ssi_alert_rules_validate(r);
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
	ssid_batch_init(&d->next);
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
	r = ssid_metrics_new(&d->metrics);
	if (r < 0)
		goto fail;
	ssid_metrics_set_model(d->metrics, d->model->version);
	r = alert_rules_from_config(&d->cfg, &d->alert_rules);
	if (r < 0) {
		snprintf(err, errlen,
			 "alert.score_drop.days (%d) must not exceed history.retention_days (%d)",
			 d->cfg.alert_score_drop_days, d->cfg.history_retention_days);
		goto fail;
	}
	r = ssi_bands_parse(&d->bands, d->cfg.rank_bands);
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
	ssid_http_stop(d->http); /* it reads metrics */
	ssid_batch_free(&d->batch);
	ssid_batch_free(&d->next);
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
	ssid_metrics_free(d->metrics);
	free(d->model);
	ssid_config_free(&d->cfg);
	pthread_mutex_destroy(&d->lock);
	free(d);
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
		r = ssid_mock_write_bootstrap_file(d->cfg.mock_cluster_bootstrap_file,
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

	r = ssid_daemon_producer_new(d, &d->producer, err, errlen);
	if (r < 0)
		return r;

	r = ssid_kafka_conf_new(&conf, &d->cfg, SSID_KAFKA_CONSUMER, bootstrap, err, errlen);
	if (r < 0)
		return r;
	rd_kafka_conf_set_rebalance_cb(conf, ssid_daemon_rebalance_cb);
	rd_kafka_conf_set_log_cb(conf, ssid_daemon_kafka_log_cb);
	rd_kafka_conf_set_error_cb(conf, ssid_daemon_kafka_error_cb);
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

static void count_batch(struct ssid_daemon *d, const struct ssid_batch_stats *bs, int64_t took_ms)
{
	ssid_daemon_count_batch(d, bs, took_ms);
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
	d->last_commit = ssid_time_mono_ms();
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
		ssid_daemon_pause_all(d, true);
	} else {
		log_debug("batch retry failed (%s)", d->degraded_why);
		d->backoff_ms = d->backoff_ms * 2 > d->cfg.retry_backoff_max_ms
				    ? d->cfg.retry_backoff_max_ms
				    : d->backoff_ms * 2;
	}
	d->retry_at = ssid_time_mono_ms() + d->backoff_ms;
	ssid_metrics_add(&d->metrics->batches_failed, 1);
	pthread_mutex_lock(&d->lock);
	d->stats.failures++;
	d->stats.degraded = 1;
	pthread_mutex_unlock(&d->lock);
	if (first)
		ssid_daemon_status_tick(d, true);
}

static void leave_degraded(struct ssid_daemon *d)
{
	const char *fields[] = {"SSID_STATE=running", NULL};

	if (!d->paused)
		return;
	ssid_log_fields(LOG_NOTICE, fields, "recovered: resuming consumption");
	ssid_daemon_pause_all(d, false);
	ssid_daemon_status_tick(d, true);
}

/* Run the current batch once; on success commit it and clear it. */
static int attempt_batch(struct ssid_daemon *d)
{
	struct ssid_batch_stats bs;
	char why[300];
	int64_t started = ssid_time_mono_ms();
	int r;

	if (!stopping(d))
		ssid_daemon_prefetch_poll(d);
	r = ssid_daemon_check_epoch(d);

	if (r < 0) {
		snprintf(why, sizeof(why), "redis: %s", ssid_store_errstr(d->store));
		atomic_store(&d->metrics->redis_ok, 0);
		enter_degraded(d, why);
		return r;
	}
	if (r == 0 && d->batch.n > 0) {
		struct ssid_prefetch pf;

		ssid_daemon_prefetch_start(d, &pf);
		r = ssid_pipeline_run(d->pipe, &d->batch, ssid_daemon_now_ms(d), &bs);
		ssid_daemon_prefetch_join(&pf);
		if (r < 0) {
			if (r == -EIO) /* the pipeline's Redis failure */
				atomic_store(&d->metrics->redis_ok, 0);
			enter_degraded(d, ssid_pipeline_errstr(d->pipe));
			return r;
		}
		atomic_store(&d->metrics->redis_ok, 1);
		/* Counted first: whoever sees its offsets committed sees it counted. */
		count_batch(d, &bs, ssid_time_mono_ms() - started);
		commit_batch(d);
		ssid_daemon_settle_replays(d);
		ssid_batch_clear(&d->batch);
	}
	leave_degraded(d);
	return 0;
}

void ssid_daemon_consume_one(struct ssid_daemon *d, rd_kafka_message_t *rkm)
{
	/* Behind what was read ahead, in consumption order. */
	struct ssid_batch *b = d->prefetching || d->next.n > 0 ? &d->next : &d->batch;

	if (rkm->err) {
		ssid_metrics_add(&d->metrics->kafka_consumer_errors, 1);
		log_warn("consumer: %s", rd_kafka_message_errstr(rkm));
		rd_kafka_message_destroy(rkm);
		return;
	}
	ssid_daemon_check_fetch(d, rkm);
	if (ssid_batch_add(b, rkm) < 0) {
		log_err("out of memory queueing a message: it will be consumed again");
		return;
	}
	b->msg[b->n - 1].replay = ssid_parts_is_replay(&d->parts, rkm->partition, rkm->offset);
}

/*
 * Fill the batch until it is full, waiting for messages until max_wait has
 * passed since its first; what was read ahead comes first. Past max_wait
 * it still takes what the consumer already holds: max_wait bounds the wait
 * for new events, not the batch, so that a short max_wait (low latency at
 * low rates) does not cut a backlog into small batches that cost more than
 * they carry (a 2 ms wait fell seconds behind at 10,000 events/s).
 */
static void gather_batch(struct ssid_daemon *d)
{
	int64_t first_at = d->next_first_at;

	if (!ssid_daemon_take_next(d))
		return;
	while (!stopping(d) && d->batch.n < (size_t)d->cfg.batch_max_events) {
		int timeout = 100;
		rd_kafka_message_t *rkm;

		if (d->batch.n > 0) {
			int64_t left = first_at + d->cfg.batch_max_wait_ms - ssid_time_mono_ms();

			timeout = left <= 0 ? 0 : left < 100 ? (int)left : 100;
		}
		rkm = rd_kafka_consumer_poll(d->consumer, timeout);
		if (!rkm) {
			if (d->batch.n == 0)
				return; /* idle: let the loop tick */
			if (timeout == 0)
				break; /* waited long enough, and nothing more is here */
			continue;
		}
		if (d->batch.n == 0)
			first_at = ssid_time_mono_ms();
		ssid_daemon_consume_one(d, rkm);
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
	if (ssid_config_secret_warning(&fresh, err, sizeof(err)))
		log_warn("reload: %s", err);
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
	ssid_metrics_set_model(d->metrics, model->version);
	ssid_metrics_add(&d->metrics->reloads, 1);
	free(d->model);
	d->model = model;
	pthread_mutex_lock(&d->lock);
	d->stats.reloads++;
	pthread_mutex_unlock(&d->lock);
out:
	ssid_notify_ready();
	ssid_daemon_status_tick(d, true);
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
		int r = ssid_store_ping(d->store);
		int64_t until;

		if (r == 0)
			return 0;
		if (!warned && r == -EACCES)
			log_warn("redis refused the login (%s): check redis.user and the password; "
				 "retrying",
				 ssid_store_errstr(d->store));
		else if (!warned)
			log_warn("redis not answering (%s); retrying", ssid_store_errstr(d->store));
		warned = true;
		ssid_notify_status("starting: waiting for redis: %s", ssid_store_errstr(d->store));
		until = ssid_time_mono_ms() + backoff;
		while (!stopping(d) && ssid_time_mono_ms() < until) {
			ssid_daemon_watchdog_tick(d);
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
	    .cluster = d->cfg.redis_cluster,
	    .nodes = d->cfg.redis_nodes,
	    .wait_replicas = d->cfg.redis_wait_replicas,
	    .counters = &d->metrics->redis,
	};
	struct ssid_pipeline_opts po;
	char err[1024];
	int r;

	if (d->cfg.metrics_listen[0]) {
		r = ssid_http_start(&d->http, d->cfg.metrics_listen, d->metrics, err, sizeof(err));
		if (r < 0) {
			log_err("metrics.listen: %s", err);
			return r == -EINVAL ? EX_CONFIG : EX_UNAVAILABLE;
		}
		log_info("metrics on %s (port %d): /metrics, /healthz, /readyz",
			 d->cfg.metrics_listen, ssid_http_port(d->http));
	}
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
	    .tick = ssid_daemon_tick,
	    .tick_ctx = d,
	    .renew_producer = ssid_daemon_producer_renew,
	    .rank = d->rank,
	    .boards = d->boards,
	    .bands = d->bands,
	    .alerts = d->alert_rules,
	    .history_retention_days = d->cfg.history_retention_days,
	    .network = d->network,
	    .network_per_batch = d->cfg.rank_network_per_batch,
	    .min_members = d->cfg.rank_min_members,
	    .max_event_age_ms = d->cfg.alert_max_event_age_ms,
	    .metrics = d->metrics,
	};
	r = ssid_pipeline_new(&d->pipe, &po, d->model);
	if (r < 0)
		return EX_OSERR;
	d->watchdog_every_ms = ssid_notify_watchdog_usec() / 2000;
	r = wait_for_redis(d);
	if (r < 0)
		return 0;
	atomic_store(&d->metrics->redis_ok, 1);
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
	ssid_daemon_status_tick(d, true);
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
	int64_t deadline = ssid_time_mono_ms() + d->cfg.shutdown_timeout_ms;
	rd_kafka_resp_err_t err;

	ssid_notify_stopping();
	log_notice("stopping: finishing %zu queued events", d->batch.n + d->next.n);
	while ((d->batch.n > 0 || d->next.n > 0) && ssid_time_mono_ms() < deadline) {
		ssid_daemon_take_next(d);
		if (d->paused && ssid_time_mono_ms() < d->retry_at) {
			ssid_daemon_watchdog_tick(d);
			rd_kafka_poll(d->producer, 50);
			continue;
		}
		attempt_batch(d);
	}
	if (d->batch.n + d->next.n > 0)
		log_warn("stopping with %zu events not durable: they will be consumed again",
			 d->batch.n + d->next.n);
	ssid_batch_clear(&d->batch);
	ssid_batch_clear(&d->next);
	if (d->rank && ssid_rank_flush(d->rank) < 0)
		log_warn("stopping with segment aggregates not written (%s): the partitions' "
			 "next owners rewrite them from the reps' records",
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
				ssid_daemon_consume_one(d, rkm);
			if (ssid_time_mono_ms() >= d->retry_at)
				attempt_batch(d);
		} else {
			gather_batch(d);
			if (d->batch.n > 0)
				attempt_batch(d);
		}
		rd_kafka_poll(d->producer, 0);
		ssid_daemon_upkeep(d);
		ssid_daemon_tick(d);
	}
	shutdown_cleanly(d);
	log_notice("stopped");
	return 0;
}
