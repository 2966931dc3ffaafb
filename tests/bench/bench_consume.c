/*
 * bench_consume: the Kafka side of `make bench` (tests/bench/bench_daemon.sh).
 *
 *   bench_consume -b BOOTSTRAP ends TOPIC
 *       print messages=<sum of high - low watermarks> and
 *       ends=<partition:high,...> (for bench_latency's starting points)
 *   bench_consume -b BOOTSTRAP consume TOPIC
 *       the raw consume rate: subscribe with a fresh group, consume every
 *       message up to the end offsets seen at the start, process nothing;
 *       then json_loadb every payload in a second pass (the bare parse rate)
 *   bench_consume -b BOOTSTRAP wait-committed GROUP TOPIC TIMEOUT_S
 *       poll GROUP's committed offsets until they reach TOPIC's end offsets
 *       as seen at the start: the moment ssid has made everything durable
 *   bench_consume -b BOOTSTRAP trace-committed GROUP TOPIC TIMEOUT_S FILE
 *       write every change of GROUP's committed offsets with its time to
 *       FILE, until SIGTERM or the timeout (for bench_latency)
 *
 * Results go to stdout as key=value lines; times ending in _at are
 * CLOCK_REALTIME seconds, comparable with bash's $EPOCHREALTIME.
 * Exit status: 0, 1 on failure or timeout, 64 for bad usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "ssi_array.h"

#define META_TIMEOUT_MS	  10000
#define POLL_INTERVAL_MS  20
#define TRACE_INTERVAL_MS 5
#define CONSUME_TIMEOUT_S 600

struct watermarks {
	int32_t n;
	int64_t *low, *high;
};

struct payloads {
	char *bytes;
	size_t used, cap;
	size_t *off; /* n + 1 offsets into bytes */
	size_t n, ncap;
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static double realtime_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void watermarks_done(struct watermarks *w)
{
	if (!w)
		return;
	free(w->low);
	free(w->high);
	w->low = w->high = NULL;
	w->n = 0;
}

static void payloads_done(struct payloads *p)
{
	if (!p)
		return;
	free(p->bytes);
	free(p->off);
	*p = (struct payloads){0};
}

static int conf_set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
	char errstr[512];

	if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) == RD_KAFKA_CONF_OK)
		return 0;
	fprintf(stderr, "bench_consume: %s=%s: %s\n", name, value, errstr);
	return -EINVAL;
}

/*
 * The same consumer settings ssid runs with (src/ssid_kafka.c defaults and
 * forced values), so that the raw rate is the ceiling ssid could reach.
 */
static int new_consumer(const char *bootstrap, const char *group, rd_kafka_t **out)
{
	static const char *const props[][2] = {
	    {"auto.offset.reset", "earliest"},
	    {"enable.auto.commit", "false"},
	    {"enable.auto.offset.store", "false"},
	    {"enable.partition.eof", "false"},
	    {"partition.assignment.strategy", "cooperative-sticky"},
	    {"fetch.wait.max.ms", "50"},
	    {"queued.min.messages", "200000"},
	    {"session.timeout.ms", "45000"},
	};
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char errstr[512];
	int r;

	if (!conf)
		return -ENOMEM;
	r = conf_set(conf, "bootstrap.servers", bootstrap);
	if (r == 0)
		r = conf_set(conf, "group.id", group);
	for (size_t i = 0; r == 0 && i < sizeof(props) / sizeof(props[0]); i++)
		r = conf_set(conf, props[i][0], props[i][1]);
	if (r < 0) {
		rd_kafka_conf_destroy(conf);
		return r;
	}
	*out = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	if (!*out) {
		rd_kafka_conf_destroy(conf);
		fprintf(stderr, "bench_consume: cannot create a consumer: %s\n", errstr);
		return -EIO;
	}
	return 0;
}

static int partition_count(rd_kafka_t *rk, const char *topic, int32_t *count)
{
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t err;
	int r = 0;

	if (!rkt)
		return -ENOMEM;
	err = rd_kafka_metadata(rk, 0, rkt, &md, META_TIMEOUT_MS);
	if (err) {
		fprintf(stderr, "bench_consume: metadata of %s: %s\n", topic,
			rd_kafka_err2str(err));
		r = -EIO;
	} else if (md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt <= 0) {
		fprintf(stderr, "bench_consume: topic %s: %s\n", topic,
			md->topic_cnt == 1 ? rd_kafka_err2str(md->topics[0].err) : "not found");
		r = -ENOENT;
	} else {
		*count = md->topics[0].partition_cnt;
	}
	if (md)
		rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(rkt);
	return r;
}

/* Asked of the broker, not cached: the end offsets right now. */
static int query_watermarks(rd_kafka_t *rk, const char *topic, struct watermarks *w)
{
	int32_t n;
	int r = partition_count(rk, topic, &n);

	if (r < 0)
		return r;
	w->low = calloc((size_t)n, sizeof(*w->low));
	w->high = calloc((size_t)n, sizeof(*w->high));
	if (!w->low || !w->high) {
		watermarks_done(w);
		return -ENOMEM;
	}
	w->n = n;
	for (int32_t p = 0; p < n; p++) {
		rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
		    rk, topic, p, &w->low[p], &w->high[p], META_TIMEOUT_MS);

		if (err) {
			fprintf(stderr, "bench_consume: watermarks of %s[%d]: %s\n", topic, (int)p,
				rd_kafka_err2str(err));
			watermarks_done(w);
			return -EIO;
		}
	}
	return 0;
}

static int64_t watermarks_messages(const struct watermarks *w)
{
	int64_t n = 0;

	for (int32_t p = 0; p < w->n; p++)
		n += w->high[p] - w->low[p];
	return n;
}

static int cmd_ends(rd_kafka_t *rk, const char *topic)
{
	struct watermarks w = {0};
	int r = query_watermarks(rk, topic, &w);

	if (r < 0)
		return r;
	printf("messages=%" PRId64 "\nends=", watermarks_messages(&w));
	for (int32_t p = 0; p < w.n; p++)
		printf("%s%d:%" PRId64, p ? "," : "", (int)p, w.high[p]);
	printf("\n");
	watermarks_done(&w);
	return 0;
}

static int payloads_add(struct payloads *p, const void *data, size_t len)
{
	if (SSI_GROW(p->off, &p->ncap, p->n + 2, 1 << 16) < 0 ||
	    SSI_GROW(p->bytes, &p->cap, p->used + len, 1 << 24) < 0)
		return -ENOMEM;
	p->off[p->n] = p->used;
	if (len > 0)
		memcpy(p->bytes + p->used, data, len);
	p->used += len;
	p->n++;
	p->off[p->n] = p->used;
	return 0;
}

/*
 * The parse ceiling measured on exactly the bytes ssid consumed, with the
 * default allocator, so that it compares with bench_engine's bare figure.
 */
static double parse_all(const struct payloads *p, size_t *failed)
{
	double t0 = mono_s();

	*failed = 0;
	for (size_t i = 0; i < p->n; i++) {
		json_error_t e;
		json_t *j = json_loadb(p->bytes + p->off[i], p->off[i + 1] - p->off[i], 0, &e);

		if (!j)
			(*failed)++;
		json_decref(j);
	}
	return mono_s() - t0;
}

static int subscribe_one(rd_kafka_t *rk, const char *topic)
{
	rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
	rd_kafka_resp_err_t err;

	if (!topics)
		return -ENOMEM;
	rd_kafka_topic_partition_list_add(topics, topic, RD_KAFKA_PARTITION_UA);
	err = rd_kafka_subscribe(rk, topics);
	rd_kafka_topic_partition_list_destroy(topics);
	if (err) {
		fprintf(stderr, "bench_consume: subscribe %s: %s\n", topic, rd_kafka_err2str(err));
		return -EIO;
	}
	return 0;
}

/*
 * Messages are copied out as they arrive, which costs a memcpy of ~230
 * bytes next to the poll; keeping them is what lets the parse pass use the
 * very bytes of this run.
 */
static int cmd_consume(const char *bootstrap, const char *topic)
{
	rd_kafka_t *rk = NULL;
	struct watermarks w = {0};
	struct payloads p = {0};
	char group[96];
	int64_t want, got = 0;
	double subscribe_at, first_at = 0, last_at = 0, t0, t_first = 0, t_last = 0, deadline;
	double parse_seconds;
	size_t failed, consume_errors = 0;
	int r;

	/* A fresh group, so that the consume starts from the earliest offsets. */
	snprintf(group, sizeof(group), "bench-consume-%ld-%.0f", (long)getpid(),
		 realtime_s() * 1e3);
	r = new_consumer(bootstrap, group, &rk);
	if (r < 0)
		goto finish;
	r = query_watermarks(rk, topic, &w);
	if (r < 0)
		goto finish;
	want = watermarks_messages(&w);
	rd_kafka_poll_set_consumer(rk);
	t0 = mono_s();
	subscribe_at = realtime_s();
	deadline = t0 + CONSUME_TIMEOUT_S;
	r = subscribe_one(rk, topic);
	if (r < 0)
		goto finish;
	while (got < want && !interrupted && mono_s() < deadline) {
		rd_kafka_message_t *rkm = rd_kafka_consumer_poll(rk, 100);

		if (!rkm)
			continue;
		if (rkm->err) {
			if (consume_errors++ < 5)
				fprintf(stderr, "bench_consume: %s\n",
					rd_kafka_message_errstr(rkm));
		} else {
			if (got == 0) {
				t_first = mono_s();
				first_at = realtime_s();
			}
			r = payloads_add(&p, rkm->payload, rkm->len);
			got++;
		}
		rd_kafka_message_destroy(rkm);
		if (r < 0)
			goto finish;
	}
	t_last = mono_s();
	last_at = realtime_s();
	if (got < want) {
		fprintf(stderr, "bench_consume: consumed %" PRId64 " of %" PRId64 " messages\n",
			got, want);
		r = -ETIMEDOUT;
		goto finish;
	}
	parse_seconds = parse_all(&p, &failed);
	printf("messages=%" PRId64 "\nbytes=%zu\n", got, p.used);
	printf("subscribe_at=%.6f\nfirst_at=%.6f\nlast_at=%.6f\n", subscribe_at, first_at, last_at);
	printf("seconds_from_subscribe=%.6f\nseconds_from_first=%.6f\n", t_last - t0,
	       t_last - t_first);
	printf("parse_seconds=%.6f\nparse_failed=%zu\n", parse_seconds, failed);
	printf("consume_errors=%zu\n", consume_errors);
finish:
	if (rk) {
		rd_kafka_consumer_close(rk);
		rd_kafka_destroy(rk);
	}
	watermarks_done(&w);
	payloads_done(&p);
	return r;
}

/*
 * A group's committed offsets, observed from outside: a consumer that does
 * not join the group can still fetch them, exactly as an operator sees lag.
 */
struct committed_watch {
	rd_kafka_t *rk;
	rd_kafka_topic_partition_list_t *list;
	struct watermarks w; /* as at the start */
	const char *group;
};

static void committed_watch_done(struct committed_watch *c)
{
	if (!c)
		return;
	if (c->list)
		rd_kafka_topic_partition_list_destroy(c->list);
	if (c->rk)
		rd_kafka_destroy(c->rk);
	watermarks_done(&c->w);
	*c = (struct committed_watch){0};
}

static int committed_watch_init(struct committed_watch *c, const char *bootstrap, const char *group,
				const char *topic)
{
	int r;

	*c = (struct committed_watch){.group = group};
	r = new_consumer(bootstrap, group, &c->rk);
	if (r < 0)
		return r;
	r = query_watermarks(c->rk, topic, &c->w);
	if (r < 0)
		goto fail;
	c->list = rd_kafka_topic_partition_list_new(c->w.n);
	if (!c->list) {
		r = -ENOMEM;
		goto fail;
	}
	for (int32_t p = 0; p < c->w.n; p++)
		rd_kafka_topic_partition_list_add(c->list, topic, p);
	return 0;
fail:
	committed_watch_done(c);
	return r;
}

/* Fills c->list; a partition the group never committed has offset < 0. */
static int committed_watch_poll(struct committed_watch *c)
{
	rd_kafka_resp_err_t err = rd_kafka_committed(c->rk, c->list, META_TIMEOUT_MS);

	if (err) {
		fprintf(stderr, "bench_consume: committed offsets of %s: %s\n", c->group,
			rd_kafka_err2str(err));
		return -EIO;
	}
	return 0;
}

/*
 * A committed offset is the next one to consume, so a partition is done
 * when it equals the end offset; an empty partition has nothing to commit.
 */
static int64_t count_committed(const struct committed_watch *c, int32_t *done)
{
	int64_t n = 0;

	*done = 0;
	for (int i = 0; i < c->list->cnt; i++) {
		int32_t p = c->list->elems[i].partition;
		int64_t off = c->list->elems[i].offset;

		if (off < 0)
			off = c->w.low[p];
		if (off > c->w.high[p])
			off = c->w.high[p];
		n += off - c->w.low[p];
		if (off >= c->w.high[p])
			(*done)++;
	}
	return n;
}

/* Polled every POLL_INTERVAL_MS: the completion time is that precise. */
static int cmd_wait_committed(const char *bootstrap, const char *group, const char *topic,
			      double timeout_s)
{
	struct committed_watch c;
	double start = mono_s(), next_progress = start + 5, first_commit_at = 0;
	int64_t want, committed = 0, initial = -1;
	int32_t done = 0;
	int r;

	r = committed_watch_init(&c, bootstrap, group, topic);
	if (r < 0)
		return r;
	want = watermarks_messages(&c.w);
	for (;;) {
		if (committed_watch_poll(&c) == 0) {
			committed = count_committed(&c, &done);
			if (initial < 0)
				initial = committed;
			if (committed > initial && first_commit_at == 0)
				first_commit_at = realtime_s();
			if (done == c.w.n)
				break;
		}
		if (interrupted || mono_s() - start > timeout_s) {
			fprintf(stderr,
				"bench_consume: group %s committed %" PRId64 " of %" PRId64
				" messages of %s after %.1f s\n",
				group, committed, want, topic, mono_s() - start);
			r = -ETIMEDOUT;
			goto finish;
		}
		if (mono_s() >= next_progress) {
			fprintf(stderr, "  ... %s committed %" PRId64 " of %" PRId64 "\n", group,
				committed, want);
			next_progress += 5;
		}
		usleep(POLL_INTERVAL_MS * 1000);
	}
	printf("messages=%" PRId64 "\ndone_at=%.6f\nfirst_commit_at=%.6f\n", want, realtime_s(),
	       first_commit_at);
finish:
	committed_watch_done(&c);
	return r;
}

/*
 * Every change of the group's committed offsets, as "unix_ms partition
 * offset" lines, until SIGTERM (then one last look) or the timeout:
 * bench_latency dates each input's commit from it.
 */
static int cmd_trace_committed(const char *bootstrap, const char *group, const char *topic,
			       double timeout_s, const char *path)
{
	struct committed_watch c;
	double start = mono_s();
	int64_t *last = NULL;
	bool final = false;
	FILE *out = NULL;
	int r;

	r = committed_watch_init(&c, bootstrap, group, topic);
	if (r < 0)
		return r;
	last = malloc((size_t)c.w.n * sizeof(*last));
	out = fopen(path, "we");
	if (!last || !out) {
		r = last ? -errno : -ENOMEM;
		fprintf(stderr, "bench_consume: %s: %s\n", path, strerror(-r));
		goto finish;
	}
	for (int32_t p = 0; p < c.w.n; p++)
		last[p] = INT64_MIN;
	while (!final) {
		final = interrupted || mono_s() - start > timeout_s;
		if (committed_watch_poll(&c) < 0)
			continue;
		for (int i = 0; i < c.list->cnt; i++) {
			int32_t p = c.list->elems[i].partition;
			int64_t off = c.list->elems[i].offset;

			if (off != last[p])
				fprintf(out, "%.0f %d %" PRId64 "\n", realtime_s() * 1e3, (int)p,
					off);
			last[p] = off;
		}
		if (!final)
			usleep(TRACE_INTERVAL_MS * 1000);
	}
	if (fclose(out) != 0)
		r = -errno;
	out = NULL;
finish:
	if (out)
		fclose(out);
	free(last);
	committed_watch_done(&c);
	return r;
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_consume -b BOOTSTRAP ends TOPIC\n"
			"       bench_consume -b BOOTSTRAP consume TOPIC\n"
			"       bench_consume -b BOOTSTRAP wait-committed GROUP TOPIC TIMEOUT_S\n"
			"       bench_consume -b BOOTSTRAP trace-committed GROUP TOPIC TIMEOUT_S "
			"FILE\n");
}

int main(int argc, char **argv)
{
	const char *bootstrap;
	rd_kafka_t *rk = NULL;
	int r;

	if (argc < 5 || strcmp(argv[1], "-b") != 0) {
		usage();
		return 64;
	}
	bootstrap = argv[2];
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (strcmp(argv[3], "ends") == 0 && argc == 5) {
		char group[64];

		snprintf(group, sizeof(group), "bench-ends-%ld", (long)getpid());
		r = new_consumer(bootstrap, group, &rk);
		if (r == 0)
			r = cmd_ends(rk, argv[4]);
		if (rk)
			rd_kafka_destroy(rk);
	} else if (strcmp(argv[3], "consume") == 0 && argc == 5) {
		r = cmd_consume(bootstrap, argv[4]);
	} else if (strcmp(argv[3], "wait-committed") == 0 && argc == 7) {
		char *end;
		double timeout_s = strtod(argv[6], &end);

		if (*end || timeout_s <= 0) {
			usage();
			return 64;
		}
		r = cmd_wait_committed(bootstrap, argv[4], argv[5], timeout_s);
	} else if (strcmp(argv[3], "trace-committed") == 0 && argc == 8) {
		char *end;
		double timeout_s = strtod(argv[6], &end);

		if (*end || timeout_s <= 0) {
			usage();
			return 64;
		}
		r = cmd_trace_committed(bootstrap, argv[4], argv[5], timeout_s, argv[7]);
	} else {
		usage();
		return 64;
	}
	return r < 0 ? 1 : 0;
}
