/*
 * ssid_metrics: the daemon's counters, gauges and histograms, the health
 * verdicts, and their Prometheus text exposition; see ssid_metrics.h.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ssid_metrics.h"
#include "ssid_out.h"

/* Events per batch: a full batch of the default batch.max_events is le="30000". */
static const double batch_size_bounds[] = {1,	 10,   50,    100,   250,   500,   1000,
					   2500, 5000, 10000, 20000, 30000, 50000, 100000};
/* Seconds a batch takes, from its first look at Redis to its last delivery report. */
static const double batch_seconds_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
					      0.25,  0.5,    1,	    2.5,  5,	 10,   30};
/* Seconds from an event's occurred_at to the delivery report of the score it moved. */
static const double latency_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
					2.5,   5,    10,    30,	  60,  300,  3600};

#define NBOUNDS(a) ((int)(sizeof(a) / sizeof((a)[0])))

_Static_assert(NBOUNDS(latency_bounds) <= SSID_HIST_BUCKETS_MAX, "raise SSID_HIST_BUCKETS_MAX");
_Static_assert(NBOUNDS(batch_seconds_bounds) <= SSID_HIST_BUCKETS_MAX, "raise the bucket cap");

static const char *const result_names[SSID_RESULT__COUNT] = {
    "scored", "duplicate", "below_mark", "dead_lettered", "replay_rejected",
};
static const char *const msg_names[SSID_MSG__COUNT] = {
    "score_updated", "rank_changed", "alert", "leaderboard_changed", "dead_letter",
};

int ssid_metrics_new(struct ssid_metrics **out)
{
	struct ssid_metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	pthread_mutex_init(&m->lock, NULL);
	m->batch_size =
	    (struct ssid_hist){.bounds = batch_size_bounds, .nbounds = NBOUNDS(batch_size_bounds)};
	m->batch_seconds = (struct ssid_hist){.bounds = batch_seconds_bounds,
					      .nbounds = NBOUNDS(batch_seconds_bounds)};
	m->publish_latency =
	    (struct ssid_hist){.bounds = latency_bounds, .nbounds = NBOUNDS(latency_bounds)};
	atomic_store(&m->rebuild_events_left, -1);
	atomic_store(&m->decay_backlog, -1);
	*out = m;
	return 0;
}

void ssid_metrics_free(struct ssid_metrics *m)
{
	if (!m)
		return;
	pthread_mutex_destroy(&m->lock);
	free(m);
}

static int bucket_of(const struct ssid_hist *h, double v)
{
	int b = 0;

	while (b < h->nbounds && v > h->bounds[b])
		b++;
	return b;
}

static uint64_t to_micro(double v)
{
	return v > 0 ? (uint64_t)(v * 1e6 + 0.5) : 0;
}

void ssid_hist_local_observe(const struct ssid_hist *h, struct ssid_hist_local *l, double v)
{
	l->bucket[bucket_of(h, v)]++;
	l->sum_micro += to_micro(v);
	l->count++;
}

void ssid_hist_merge(struct ssid_hist *h, const struct ssid_hist_local *l)
{
	if (l->count == 0)
		return;
	for (int b = 0; b <= h->nbounds; b++)
		ssid_metrics_add(&h->bucket[b], l->bucket[b]);
	ssid_metrics_add(&h->sum_micro, l->sum_micro);
}

void ssid_hist_observe(struct ssid_hist *h, double v)
{
	ssid_metrics_add(&h->bucket[bucket_of(h, v)], 1);
	ssid_metrics_add(&h->sum_micro, to_micro(v));
}

void ssid_metrics_dead_letter(struct ssid_metrics *m, const char *reason)
{
	int n = atomic_load_explicit(&m->nreasons, memory_order_acquire);

	for (int i = 0; i < n; i++)
		if (strcmp(m->reasons[i].reason, reason) == 0) {
			ssid_metrics_add(&m->reasons[i].n, 1);
			return;
		}
	/* A reason not seen before: add it under the lock (rare). */
	pthread_mutex_lock(&m->lock);
	n = atomic_load_explicit(&m->nreasons, memory_order_relaxed);
	for (int i = 0; i < n; i++)
		if (strcmp(m->reasons[i].reason, reason) == 0) {
			ssid_metrics_add(&m->reasons[i].n, 1);
			goto out;
		}
	if (n == SSID_METRICS_REASONS) {
		ssid_metrics_add(&m->reasons_other, 1);
		goto out;
	}
	snprintf(m->reasons[n].reason, sizeof(m->reasons[n].reason), "%s", reason);
	atomic_store_explicit(&m->reasons[n].n, 1, memory_order_relaxed);
	atomic_store_explicit(&m->nreasons, n + 1, memory_order_release);
out:
	pthread_mutex_unlock(&m->lock);
}

void ssid_metrics_set_lag(struct ssid_metrics *m, const int32_t *parts, const int64_t *lag, int n)
{
	if (n > SSID_METRICS_PARTS)
		n = SSID_METRICS_PARTS;
	pthread_mutex_lock(&m->lock);
	memcpy(m->lag_part, parts, (size_t)n * sizeof(*parts));
	memcpy(m->lag, lag, (size_t)n * sizeof(*lag));
	m->nlag = n;
	pthread_mutex_unlock(&m->lock);
}

void ssid_metrics_set_model(struct ssid_metrics *m, const char *version)
{
	pthread_mutex_lock(&m->lock);
	snprintf(m->model_version, sizeof(m->model_version), "%s", version);
	pthread_mutex_unlock(&m->lock);
}

bool ssid_metrics_live(struct ssid_metrics *m, int64_t mono_ms, char *why, size_t len)
{
	int64_t last = atomic_load_explicit(&m->last_tick_ms, memory_order_relaxed);

	if (last == 0) {
		snprintf(why, len, "starting: the main loop has not ticked yet");
		return false;
	}
	if (mono_ms - last > SSID_METRICS_LIVENESS_MS) {
		snprintf(why, len, "the main loop last ticked %.1f s ago",
			 (double)(mono_ms - last) / 1000.0);
		return false;
	}
	snprintf(why, len, "ok");
	return true;
}

bool ssid_metrics_ready(struct ssid_metrics *m, int64_t mono_ms, char *why, size_t len)
{
	if (!ssid_metrics_live(m, mono_ms, why, len))
		return false;
	if (atomic_load(&m->partitions) <= 0) {
		snprintf(why, len, "no partition assigned");
		return false;
	}
	if (!atomic_load(&m->redis_ok)) {
		snprintf(why, len, "redis not answering");
		return false;
	}
	snprintf(why, len, "ok");
	return true;
}

/* ---- the exposition ------------------------------------------------------- */

static void family(struct ssid_buf *b, const char *name, const char *type, const char *help)
{
	ssid_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value with \, " and newline escaped. */
static void label_value(struct ssid_buf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			ssid_buf_printf(b, "\\%c", *v);
		else if (*v == '\n')
			ssid_buf_append(b, "\\n", 2);
		else
			ssid_buf_append(b, v, 1);
	}
}

static uint64_t load(_Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

static void counter(struct ssid_buf *b, const char *name, const char *help, _Atomic uint64_t *c)
{
	family(b, name, "counter", help);
	ssid_buf_printf(b, "%s %" PRIu64 "\n", name, load(c));
}

static void histogram(struct ssid_buf *b, const char *name, const char *help, struct ssid_hist *h)
{
	uint64_t cum = 0;

	family(b, name, "histogram", help);
	for (int i = 0; i <= h->nbounds; i++) {
		cum += load(&h->bucket[i]);
		if (i < h->nbounds)
			ssid_buf_printf(b, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, h->bounds[i],
					cum);
		else
			ssid_buf_printf(b, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, cum);
	}
	ssid_buf_printf(b, "%s_sum %.6f\n%s_count %" PRIu64 "\n", name,
			(double)load(&h->sum_micro) / 1e6, name, cum);
}

static void render_events(struct ssid_metrics *m, struct ssid_buf *b)
{
	int n = atomic_load_explicit(&m->nreasons, memory_order_acquire);

	family(b, "ssid_events_total", "counter",
	       "Consumed events by what became of them (scored, duplicate, below_mark, "
	       "dead_lettered, replay_rejected).");
	for (int r = 0; r < SSID_RESULT__COUNT; r++)
		ssid_buf_printf(b, "ssid_events_total{result=\"%s\"} %" PRIu64 "\n",
				result_names[r], load(&m->events[r]));
	family(b, "ssid_dead_letters_total", "counter",
	       "Messages sent to the dead-letter topic, by reason (the ssi.reason header).");
	for (int i = 0; i < n; i++) {
		ssid_buf_printf(b, "ssid_dead_letters_total{reason=\"");
		label_value(b, m->reasons[i].reason);
		ssid_buf_printf(b, "\"} %" PRIu64 "\n", load(&m->reasons[i].n));
	}
	if (load(&m->reasons_other) > 0)
		ssid_buf_printf(b, "ssid_dead_letters_total{reason=\"other\"} %" PRIu64 "\n",
				load(&m->reasons_other));
}

static void render_published(struct ssid_metrics *m, struct ssid_buf *b)
{
	family(b, "ssid_published_messages_total", "counter",
	       "Messages delivered (acknowledged by the brokers), by type and cause.");
	for (int t = 0; t < SSID_MSG__COUNT; t++)
		for (int c = 0; c < SSID_METRIC_CAUSES; c++) {
			bool none = t == SSID_MSG_BOARD || t == SSID_MSG_DEAD_LETTER;

			if (none != (c == SSID_METRIC_CAUSE_NONE))
				continue;
			ssid_buf_printf(b,
					"ssid_published_messages_total{type=\"%s\",cause=\"%s\"} "
					"%" PRIu64 "\n",
					msg_names[t], none ? "none" : ssid_cause_name(c),
					load(&m->published[t][c]));
		}
	family(b, "ssid_alerts_total", "counter", "Alert messages delivered, by rule.");
	for (int r = 0; r < SSI_ALERT__COUNT; r++)
		ssid_buf_printf(b, "ssid_alerts_total{rule=\"%s\"} %" PRIu64 "\n",
				ssi_alert_rule_name(r), load(&m->alerts[r]));
}

static void gauge_if_known(struct ssid_buf *b, const char *name, const char *help,
			   _Atomic int64_t *g)
{
	int64_t v = atomic_load_explicit(g, memory_order_relaxed);

	family(b, name, "gauge", help);
	if (v >= 0)
		ssid_buf_printf(b, "%s %" PRId64 "\n", name, v);
}

static void render_state(struct ssid_metrics *m, struct ssid_buf *b)
{
	char version[sizeof(m->model_version)];

	family(b, "ssid_consumer_lag", "gauge",
	       "Messages of each owned input partition not consumed yet (high watermark minus "
	       "position).");
	pthread_mutex_lock(&m->lock);
	for (int i = 0; i < m->nlag; i++)
		ssid_buf_printf(b, "ssid_consumer_lag{partition=\"%d\"} %" PRId64 "\n",
				(int)m->lag_part[i], m->lag[i]);
	snprintf(version, sizeof(version), "%s", m->model_version);
	pthread_mutex_unlock(&m->lock);
	gauge_if_known(b, "ssid_rebuild_events_left", "Events a rebuild still has to replay.",
		       &m->rebuild_events_left);
	gauge_if_known(b, "ssid_decay_backlog",
		       "Reps whose inactivity decay is due and not yet "
		       "rescored, over the owned partitions.",
		       &m->decay_backlog);
	family(b, "ssid_partitions_assigned", "gauge", "Input partitions this instance owns.");
	ssid_buf_printf(b, "ssid_partitions_assigned %d\n", atomic_load(&m->partitions));
	family(b, "ssid_build_info", "gauge",
	       "Always 1: the version of ssid and of the model it scores with.");
	ssid_buf_printf(b, "ssid_build_info{version=\"%s\",model_version=\"", SSID_VERSION);
	label_value(b, version);
	ssid_buf_printf(b, "\"} 1\n");
}

/* Seconds since the epoch at which the system booted (/proc/stat btime); 0 unknown. */
static long long boot_time(void)
{
	FILE *f = fopen("/proc/stat", "re");
	char line[256];
	long long bt = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "btime %lld", &bt) == 1)
			break;
	fclose(f);
	return bt;
}

static int open_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!dir)
		return -1;
	while ((e = readdir(dir)))
		if (e->d_name[0] != '.')
			n++;
	closedir(dir);
	return n - 1; /* the directory's own */
}

static void render_process(struct ssid_buf *b)
{
	char stat[1024];
	FILE *f = fopen("/proc/self/stat", "re");
	size_t len = f ? fread(stat, 1, sizeof(stat) - 1, f) : 0;
	char *p;
	unsigned long long utime, stime, start, vsize;
	long long rss;
	long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	struct rlimit rl;
	int fds = open_fds();

	if (f)
		fclose(f);
	stat[len] = '\0';
	p = strrchr(stat, ')'); /* the command name may hold anything */
	if (p && tick > 0 &&
	    sscanf(p + 2,
		   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d "
		   "%*d %llu %llu %lld",
		   &utime, &stime, &start, &vsize, &rss) == 5) {
		family(b, "process_cpu_seconds_total", "counter",
		       "User and system CPU time spent, in seconds.");
		ssid_buf_printf(b, "process_cpu_seconds_total %.2f\n",
				(double)(utime + stime) / (double)tick);
		family(b, "process_resident_memory_bytes", "gauge",
		       "Resident memory size in bytes.");
		ssid_buf_printf(b, "process_resident_memory_bytes %lld\n", rss * page);
		family(b, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
		ssid_buf_printf(b, "process_virtual_memory_bytes %llu\n", vsize);
		family(b, "process_start_time_seconds", "gauge",
		       "Start time of the process since the epoch, in seconds.");
		ssid_buf_printf(b, "process_start_time_seconds %.2f\n",
				(double)boot_time() + (double)start / (double)tick);
	}
	if (fds >= 0) {
		family(b, "process_open_fds", "gauge", "Open file descriptors.");
		ssid_buf_printf(b, "process_open_fds %d\n", fds);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
		family(b, "process_max_fds", "gauge", "Limit on open file descriptors.");
		ssid_buf_printf(b, "process_max_fds %llu\n", (unsigned long long)rl.rlim_cur);
	}
}

int ssid_metrics_render(struct ssid_metrics *m, struct ssid_buf *b)
{
	render_events(m, b);
	render_published(m, b);
	histogram(b, "ssid_batch_size_events", "Events per batch processed.", &m->batch_size);
	histogram(b, "ssid_batch_duration_seconds",
		  "Time to process a batch, from loading its reps to the last delivery report.",
		  &m->batch_seconds);
	histogram(b, "ssid_event_publish_latency_seconds",
		  "From an event's occurred_at (on ssid's clock) to the delivery report of the "
		  "score.updated it moved.",
		  &m->publish_latency);
	counter(b, "ssid_redis_commands_total", "Redis commands sent.", &m->redis.commands);
	counter(b, "ssid_redis_round_trips_total", "Redis round trips (pipelines flushed).",
		&m->redis.round_trips);
	counter(b, "ssid_redis_errors_total",
		"Redis failures: transport errors, error and unexpected replies.",
		&m->redis.errors);
	counter(b, "ssid_kafka_producer_errors_total",
		"Producer errors: client errors reported by librdkafka and failed deliveries.",
		&m->kafka_producer_errors);
	counter(b, "ssid_kafka_consumer_errors_total",
		"Consumer errors: client errors reported by librdkafka and failed fetches.",
		&m->kafka_consumer_errors);
	counter(b, "ssid_kafka_producers_renewed_total",
		"Output producers replaced after a fatal (idempotence) error.",
		&m->producers_renewed);
	counter(b, "ssid_offset_resets_total",
		"Times a partition's position fell below the broker's log start and consumption "
		"jumped ahead: events deleted before ssid read them.",
		&m->offset_resets);
	counter(b, "ssid_offsets_skipped_total",
		"Offsets jumped over by those resets: events lost to retention.",
		&m->offsets_skipped);
	counter(b, "ssid_batch_failures_total", "Batch attempts that failed and were retried.",
		&m->batches_failed);
	counter(b, "ssid_reloads_total", "Configuration reloads (SIGHUP).", &m->reloads);
	counter(b, "ssid_rebuilds_total", "Times Redis was found empty and partitions replayed.",
		&m->rebuilds);
	render_state(m, b);
	render_process(b);
	return b->failed ? -ENOMEM : 0;
}
