/*
 * bench_latency: event-to-output latency of ssid, from what is in Kafka.
 *
 *   bench_latency -b BOOTSTRAP INPUT_TOPIC FROM OUTPUT_TOPIC FROM [TRACE]
 *
 * FROM is "partition:offset,..." (as `bench_consume ends` prints): the
 * inputs and outputs read are those from there to the current end offsets,
 * so call it once ssid has committed everything. TRACE is the file
 * `bench_consume trace-committed` wrote while ssid consumed INPUT_TOPIC.
 *
 * Definition. An output O of user u, appended at t(O), is the result of one
 * batch; it covers every input of u consumed up to that batch: a prefix, in
 * offset order, of u's inputs. Its latency is t(O) minus the creation time
 * of the newest input it covers. Which input that is cannot be seen from
 * outside, but it is bracketed:
 *   - at most the newest input of u created before t(O) (nothing is
 *     processed before it exists), which gives the LOWER bound;
 *   - at least the K-th input of u, K being the sum of the `events` fields
 *     of u's outputs so far, O included (each counts the events applied in
 *     its batch, and duplicates or events of batches that moved no score
 *     only make the true prefix longer);
 *   - with TRACE, also at least the k-th input after the last input of u
 *     whose offset was seen committed before t(O), k being O's `events`:
 *     such an input's batch was over before O's began, since ssid commits
 *     a batch only after its outputs are delivered;
 * the later of the two gives the UPPER bound. The bounds meet ("exact")
 * unless a batch of u moved no score or held a duplicate while no commit
 * was seen in between. Input times are the producer's CreateTime; output
 * times are the topic's timestamps (the bench creates ssi.scores with
 * LogAppendTime, so an output counts once the broker has it).
 *
 * With TRACE, every input also gets an event-to-commit latency: the first
 * time its offset was seen committed minus its CreateTime. It covers events
 * that changed no score, and bounds event-to-output from above, give or
 * take the trace's polling interval.
 *
 * Results go to stdout as key=value lines, latencies in milliseconds. With
 * BENCH_LATENCY_DUMP=FILE, every matched output is also written to FILE as
 * "append_time_ms lower_bound_ms upper_bound_ms", to see when the slow
 * ones were.
 * Exit status: 0, 1 on failure, 64 for bad usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "ssi_array.h"

#define META_TIMEOUT_MS 10000
#define READ_TIMEOUT_S	120

struct user {
	char *key;
	size_t keylen;
	int64_t *ts;	 /* CreateTime of each input, in offset order */
	int64_t *commit; /* when each was seen committed, INT64_MAX if never */
	size_t n, cap;
	size_t cursor;	    /* inputs created at or before the last output */
	size_t committed;   /* inputs seen committed before the last output */
	int64_t applied;    /* sum of the outputs' `events` so far */
	int64_t last_input; /* for the monotonicity check */
};

struct users {
	struct user *slot;
	size_t cap, n;
};

struct range {
	int32_t n;
	int64_t *from, *end;
};

struct samples {
	int64_t *v;
	size_t n, cap;
};

struct result {
	size_t inputs, outputs, matched, exact, unmatched, bad_outputs, order_violations;
	size_t uncommitted;
	int64_t first_input, last_input;
	int ts_types; /* bit per rd_kafka_timestamp_type_t seen on outputs */
	struct samples lo, hi, commit;
};

/* One partition's committed offsets over time, from the trace. */
struct partition_trace {
	int64_t *at_ms, *offset;
	size_t n, cap, cursor;
};

struct trace {
	struct partition_trace *part;
	int32_t n;  /* partitions 0..n-1 */
	size_t cap; /* of part */
};

typedef int (*message_fn)(const rd_kafka_message_t *rkm, void *opaque);

static uint64_t hash_key(const char *key, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)key[i]) * 0x100000001b3ULL;
	return h;
}

static void users_done(struct users *u)
{
	if (!u)
		return;
	for (size_t i = 0; i < u->cap; i++) {
		free(u->slot[i].key);
		free(u->slot[i].ts);
		free(u->slot[i].commit);
	}
	free(u->slot);
	*u = (struct users){0};
}

static struct user *users_probe(struct user *slot, size_t cap, const char *key, size_t len)
{
	size_t i = (size_t)hash_key(key, len) & (cap - 1);

	while (slot[i].key && (slot[i].keylen != len || memcmp(slot[i].key, key, len) != 0))
		i = (i + 1) & (cap - 1);
	return &slot[i];
}

/* Open addressing, kept at most half full. */
static int users_grow(struct users *u)
{
	size_t cap = u->cap ? u->cap * 2 : 1 << 16;
	struct user *slot = calloc(cap, sizeof(*slot));

	if (!slot)
		return -ENOMEM;
	for (size_t i = 0; i < u->cap; i++)
		if (u->slot[i].key)
			*users_probe(slot, cap, u->slot[i].key, u->slot[i].keylen) = u->slot[i];
	free(u->slot);
	u->slot = slot;
	u->cap = cap;
	return 0;
}

static struct user *users_find(const struct users *u, const char *key, size_t len)
{
	struct user *e;

	if (!u->cap)
		return NULL;
	e = users_probe(u->slot, u->cap, key, len);
	return e->key ? e : NULL;
}

static int users_get(struct users *u, const char *key, size_t len, struct user **out)
{
	struct user *e;

	if ((u->n + 1) * 2 > u->cap && users_grow(u) < 0)
		return -ENOMEM;
	e = users_probe(u->slot, u->cap, key, len);
	if (!e->key) {
		e->key = malloc(len + 1);
		if (!e->key)
			return -ENOMEM;
		memcpy(e->key, key, len);
		e->key[len] = '\0';
		e->keylen = len;
		e->last_input = INT64_MIN;
		u->n++;
	}
	*out = e;
	return 0;
}

/* Two arrays of one capacity: *cap moves only once both have room for need. */
static int grow_pair(int64_t **a, int64_t **b, size_t *cap, size_t need, size_t first)
{
	size_t c = *cap;

	if (SSI_GROW(*a, &c, need, first) < 0)
		return -ENOMEM;
	c = *cap;
	if (SSI_GROW(*b, &c, need, first) < 0)
		return -ENOMEM;
	*cap = c;
	return 0;
}

static int samples_add(struct samples *s, int64_t v)
{
	if (SSI_GROW(s->v, &s->cap, s->n + 1, 4096) < 0)
		return -ENOMEM;
	s->v[s->n++] = v;
	return 0;
}

static void samples_done(struct samples *s)
{
	if (!s)
		return;
	free(s->v);
	*s = (struct samples){0};
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest sample at or above a share q of them. */
static int64_t percentile(const struct samples *s, double q)
{
	size_t rank = (size_t)ceil(q * (double)s->n);

	if (s->n == 0)
		return 0;
	if (rank < 1)
		rank = 1;
	return s->v[rank - 1];
}

static void range_done(struct range *r)
{
	if (!r)
		return;
	free(r->from);
	free(r->end);
	*r = (struct range){0};
}

static void trace_done(struct trace *t)
{
	if (!t)
		return;
	for (int32_t p = 0; p < t->n; p++) {
		free(t->part[p].at_ms);
		free(t->part[p].offset);
	}
	free(t->part);
	*t = (struct trace){0};
}

static int trace_add(struct trace *t, int32_t p, int64_t at_ms, int64_t offset)
{
	struct partition_trace *pt;

	if (p >= t->n) {
		if (SSI_GROW(t->part, &t->cap, (size_t)p + 1, 16) < 0)
			return -ENOMEM;
		memset(t->part + t->n, 0, (size_t)(p + 1 - t->n) * sizeof(*t->part));
		t->n = p + 1;
	}
	pt = &t->part[p];
	if (grow_pair(&pt->at_ms, &pt->offset, &pt->cap, pt->n + 1, 1024) < 0)
		return -ENOMEM;
	pt->at_ms[pt->n] = at_ms;
	pt->offset[pt->n] = offset;
	pt->n++;
	return 0;
}

static int trace_load(const char *path, struct trace *t)
{
	FILE *f = fopen(path, "re");
	long long at, offset;
	int part, r = 0;

	if (!f)
		return -errno;
	while (r == 0 && fscanf(f, "%lld %d %lld", &at, &part, &offset) == 3)
		if (part >= 0 && offset >= 0)
			r = trace_add(t, part, at, offset);
	if (r == 0 && !feof(f))
		r = -EINVAL;
	fclose(f);
	return r;
}

/*
 * When the input at this offset was first seen committed; inputs of one
 * partition come in offset order, so each partition is walked once.
 */
static int64_t trace_commit_time(struct trace *t, int32_t p, int64_t offset)
{
	struct partition_trace *pt;

	if (p >= t->n)
		return INT64_MAX;
	pt = &t->part[p];
	while (pt->cursor < pt->n && pt->offset[pt->cursor] <= offset)
		pt->cursor++;
	return pt->cursor < pt->n ? pt->at_ms[pt->cursor] : INT64_MAX;
}

/* "0:123,1:456": one starting offset per partition, every partition named. */
static int parse_from(const char *spec, int32_t partitions, int64_t *from)
{
	const char *p = spec;
	size_t seen = 0;

	for (int32_t i = 0; i < partitions; i++)
		from[i] = -1;
	while (*p) {
		char *end;
		long part = strtol(p, &end, 10);
		long long off;

		if (end == p || *end != ':' || part < 0 || part >= partitions)
			return -EINVAL;
		p = end + 1;
		off = strtoll(p, &end, 10);
		if (end == p || off < 0 || (*end != ',' && *end != '\0'))
			return -EINVAL;
		if (from[part] < 0)
			seen++;
		from[part] = off;
		p = *end ? end + 1 : end;
	}
	return seen == (size_t)partitions ? 0 : -EINVAL;
}

static int conf_set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
	char errstr[512];

	if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) == RD_KAFKA_CONF_OK)
		return 0;
	fprintf(stderr, "bench_latency: %s=%s: %s\n", name, value, errstr);
	return -EINVAL;
}

static int new_reader(const char *bootstrap, rd_kafka_t **out)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char errstr[512], group[64];
	int r;

	if (!conf)
		return -ENOMEM;
	/* Assigned, never subscribed: the group only names the client. */
	snprintf(group, sizeof(group), "bench-latency-%ld", (long)getpid());
	r = conf_set(conf, "bootstrap.servers", bootstrap);
	if (r == 0)
		r = conf_set(conf, "group.id", group);
	if (r == 0)
		r = conf_set(conf, "enable.auto.commit", "false");
	if (r == 0)
		r = conf_set(conf, "enable.partition.eof", "false");
	if (r < 0) {
		rd_kafka_conf_destroy(conf);
		return r;
	}
	*out = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	if (!*out) {
		rd_kafka_conf_destroy(conf);
		fprintf(stderr, "bench_latency: cannot create a consumer: %s\n", errstr);
		return -EIO;
	}
	rd_kafka_poll_set_consumer(*out);
	return 0;
}

static int topic_range(rd_kafka_t *rk, const char *topic, const char *spec, struct range *rg)
{
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t err;
	int r = 0;

	if (!rkt)
		return -ENOMEM;
	err = rd_kafka_metadata(rk, 0, rkt, &md, META_TIMEOUT_MS);
	rd_kafka_topic_destroy(rkt);
	if (err || md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt <= 0) {
		fprintf(stderr, "bench_latency: no metadata for %s\n", topic);
		r = -EIO;
		goto finish;
	}
	rg->n = md->topics[0].partition_cnt;
	rg->from = calloc((size_t)rg->n, sizeof(*rg->from));
	rg->end = calloc((size_t)rg->n, sizeof(*rg->end));
	if (!rg->from || !rg->end) {
		r = -ENOMEM;
		goto finish;
	}
	if (parse_from(spec, rg->n, rg->from) < 0) {
		fprintf(stderr, "bench_latency: %s: FROM must name all %d partitions: %s\n", topic,
			(int)rg->n, spec);
		r = -EINVAL;
		goto finish;
	}
	for (int32_t p = 0; p < rg->n && r == 0; p++) {
		int64_t low;

		err = rd_kafka_query_watermark_offsets(rk, topic, p, &low, &rg->end[p],
						       META_TIMEOUT_MS);
		if (err) {
			fprintf(stderr, "bench_latency: watermarks of %s[%d]: %s\n", topic, (int)p,
				rd_kafka_err2str(err));
			r = -EIO;
		} else if (rg->from[p] < low || rg->from[p] > rg->end[p]) {
			fprintf(stderr,
				"bench_latency: %s[%d]: offset %" PRId64 " is outside %" PRId64
				"..%" PRId64 "\n",
				topic, (int)p, rg->from[p], low, rg->end[p]);
			r = -ERANGE;
		}
	}
finish:
	if (md)
		rd_kafka_metadata_destroy(md);
	if (r < 0)
		range_done(rg);
	return r;
}

/* Every message of the range, each partition in offset order. */
static int read_range(const char *bootstrap, const char *topic, const char *spec, message_fn fn,
		      void *opaque)
{
	rd_kafka_topic_partition_list_t *assignment = NULL;
	struct range rg = {0};
	rd_kafka_t *rk = NULL;
	int64_t want = 0, got = 0;
	time_t deadline = time(NULL) + READ_TIMEOUT_S;
	int r;

	r = new_reader(bootstrap, &rk);
	if (r < 0)
		return r;
	r = topic_range(rk, topic, spec, &rg);
	if (r < 0)
		goto finish;
	assignment = rd_kafka_topic_partition_list_new(rg.n);
	if (!assignment) {
		r = -ENOMEM;
		goto finish;
	}
	for (int32_t p = 0; p < rg.n; p++) {
		want += rg.end[p] - rg.from[p];
		if (rg.end[p] > rg.from[p])
			rd_kafka_topic_partition_list_add(assignment, topic, p)->offset =
			    rg.from[p];
	}
	if (rd_kafka_assign(rk, assignment) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		r = -EIO;
		goto finish;
	}
	while (got < want && r == 0) {
		rd_kafka_message_t *rkm = rd_kafka_consumer_poll(rk, 100);

		if (!rkm) {
			if (time(NULL) > deadline) {
				fprintf(stderr,
					"bench_latency: read %" PRId64 " of %" PRId64
					" messages of %s\n",
					got, want, topic);
				r = -ETIMEDOUT;
			}
			continue;
		}
		if (rkm->err) {
			fprintf(stderr, "bench_latency: %s: %s\n", topic,
				rd_kafka_message_errstr(rkm));
		} else if (rkm->offset < rg.end[rkm->partition]) {
			got++;
			r = fn(rkm, opaque);
		}
		rd_kafka_message_destroy(rkm);
	}
finish:
	if (assignment)
		rd_kafka_topic_partition_list_destroy(assignment);
	range_done(&rg);
	if (rk) {
		rd_kafka_consumer_close(rk);
		rd_kafka_destroy(rk);
	}
	return r;
}

struct context {
	struct users users;
	struct result res;
	struct trace trace;
	bool traced;
	FILE *dump; /* BENCH_LATENCY_DUMP: one line per matched output */
};

static int on_input(const rd_kafka_message_t *rkm, void *opaque)
{
	struct context *c = opaque;
	rd_kafka_timestamp_type_t type;
	int64_t ts = rd_kafka_message_timestamp(rkm, &type);
	struct user *u;
	int r;

	if (!rkm->key || rkm->key_len == 0 || ts < 0)
		return 0;
	r = users_get(&c->users, rkm->key, rkm->key_len, &u);
	if (r < 0)
		return r;
	if (grow_pair(&u->ts, &u->commit, &u->cap, u->n + 1, 8) < 0)
		return -ENOMEM;
	if (ts < u->last_input)
		c->res.order_violations++;
	u->last_input = ts;
	u->ts[u->n] = ts;
	u->commit[u->n] = INT64_MAX;
	if (c->traced) {
		u->commit[u->n] = trace_commit_time(&c->trace, rkm->partition, rkm->offset);
		if (u->commit[u->n] == INT64_MAX)
			c->res.uncommitted++;
		else if (samples_add(&c->res.commit, u->commit[u->n] - ts) < 0)
			return -ENOMEM;
	}
	u->n++;
	if (c->res.inputs == 0 || ts < c->res.first_input)
		c->res.first_input = ts;
	if (c->res.inputs == 0 || ts > c->res.last_input)
		c->res.last_input = ts;
	c->res.inputs++;
	return 0;
}

static int64_t output_events(const rd_kafka_message_t *rkm)
{
	json_error_t e;
	json_t *j = json_loadb(rkm->payload, rkm->len, 0, &e);
	json_t *events = j ? json_object_get(j, "events") : NULL;
	int64_t n = json_is_integer(events) ? (int64_t)json_integer_value(events) : -1;

	json_decref(j);
	return n;
}

/* The bracket of the header comment, for one output. */
static int on_output(const rd_kafka_message_t *rkm, void *opaque)
{
	struct context *c = opaque;
	rd_kafka_timestamp_type_t type;
	int64_t t = rd_kafka_message_timestamp(rkm, &type);
	int64_t events = output_events(rkm);
	struct user *u = rkm->key ? users_find(&c->users, rkm->key, rkm->key_len) : NULL;
	size_t newest_possible, oldest_possible;
	int r;

	c->res.outputs++;
	c->res.ts_types |= 1 << (int)type;
	if (events <= 0 || t < 0) {
		c->res.bad_outputs++;
		return 0;
	}
	if (!u) {
		c->res.unmatched++;
		return 0;
	}
	while (u->cursor < u->n && u->ts[u->cursor] <= t)
		u->cursor++;
	while (u->committed < u->n && u->commit[u->committed] < t)
		u->committed++;
	u->applied += events;
	if (u->cursor == 0) {
		c->res.unmatched++;
		return 0;
	}
	newest_possible = u->cursor - 1;
	oldest_possible = (size_t)u->applied - 1;
	if (u->committed + (size_t)events - 1 > oldest_possible)
		oldest_possible = u->committed + (size_t)events - 1;
	if (oldest_possible > newest_possible)
		oldest_possible = newest_possible;
	c->res.matched++;
	if (oldest_possible == newest_possible)
		c->res.exact++;
	r = samples_add(&c->res.lo, t - u->ts[newest_possible]);
	if (r == 0)
		r = samples_add(&c->res.hi, t - u->ts[oldest_possible]);
	if (c->dump)
		fprintf(c->dump, "%" PRId64 " %" PRId64 " %" PRId64 "\n", t,
			t - u->ts[newest_possible], t - u->ts[oldest_possible]);
	return r;
}

static const char *timestamp_types(int mask)
{
	if (mask == 1 << RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME)
		return "LogAppendTime";
	if (mask == 1 << RD_KAFKA_TIMESTAMP_CREATE_TIME)
		return "CreateTime";
	return mask ? "mixed" : "none";
}

static void print_samples(const char *name, struct samples *s)
{
	double sum = 0;

	qsort(s->v, s->n, sizeof(*s->v), cmp_i64);
	for (size_t i = 0; i < s->n; i++)
		sum += (double)s->v[i];
	printf("%s_mean=%.1f\n", name, s->n ? sum / (double)s->n : 0.0);
	printf("%s_p50=%" PRId64 "\n%s_p90=%" PRId64 "\n%s_p99=%" PRId64 "\n", name,
	       percentile(s, 0.50), name, percentile(s, 0.90), name, percentile(s, 0.99));
	printf("%s_p999=%" PRId64 "\n%s_max=%" PRId64 "\n", name, percentile(s, 0.999), name,
	       s->n ? s->v[s->n - 1] : 0);
}

int main(int argc, char **argv)
{
	struct context c = {0};
	int r;

	if ((argc != 7 && argc != 8) || strcmp(argv[1], "-b") != 0) {
		fprintf(stderr, "usage: bench_latency -b BOOTSTRAP INPUT_TOPIC FROM OUTPUT_TOPIC "
				"FROM [TRACE]\n");
		return 64;
	}
	if (argc == 8) {
		r = trace_load(argv[7], &c.trace);
		if (r < 0) {
			fprintf(stderr, "bench_latency: %s: %s\n", argv[7], strerror(-r));
			return 1;
		}
		c.traced = true;
	}
	if (getenv("BENCH_LATENCY_DUMP")) {
		c.dump = fopen(getenv("BENCH_LATENCY_DUMP"), "w");
		if (!c.dump) {
			perror(getenv("BENCH_LATENCY_DUMP"));
			return 1;
		}
	}
	r = read_range(argv[2], argv[3], argv[4], on_input, &c);
	if (r == 0)
		r = read_range(argv[2], argv[5], argv[6], on_output, &c);
	if (r == 0) {
		printf("inputs=%zu\nusers=%zu\noutputs=%zu\nmatched=%zu\nexact=%zu\n", c.res.inputs,
		       c.users.n, c.res.outputs, c.res.matched, c.res.exact);
		printf("unmatched=%zu\nbad_outputs=%zu\norder_violations=%zu\n", c.res.unmatched,
		       c.res.bad_outputs, c.res.order_violations);
		printf("input_span_ms=%" PRId64 "\noutput_timestamps=%s\n",
		       c.res.inputs ? c.res.last_input - c.res.first_input : 0,
		       timestamp_types(c.res.ts_types));
		print_samples("lo", &c.res.lo);
		print_samples("hi", &c.res.hi);
		if (c.traced) {
			printf("uncommitted=%zu\n", c.res.uncommitted);
			print_samples("commit", &c.res.commit);
		}
	} else {
		fprintf(stderr, "bench_latency: %s\n", strerror(-r));
	}
	samples_done(&c.res.lo);
	samples_done(&c.res.hi);
	samples_done(&c.res.commit);
	users_done(&c.users);
	trace_done(&c.trace);
	if (c.dump && fclose(c.dump) != 0)
		r = -errno;
	return r < 0 ? 1 : 0;
}
