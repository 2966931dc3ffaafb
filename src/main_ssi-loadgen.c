/*
 * ssi-loadgen: feed ssid a realistic activity stream, to Kafka or as JSON
 * lines. The stream itself comes from the generator library (ssigen.h,
 * build/libssigen.a); this file only paces it against the wall clock and
 * hands it to a librdkafka producer or a file.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "ssi_time.h"
#include "ssid_kafka.h"
#include "ssigen.h"

#ifndef SSID_VERSION
#define SSID_VERSION "unknown"
#endif

#define NS_PER_MS	 1000000LL
#define NS_PER_S	 1000000000LL
#define WAIT_SLICE_NS	 (100 * NS_PER_MS)
#define BOOTSTRAP_WAIT_S 30
#define MAX_PROPERTIES	 32

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t abandon_requested;

static void on_signal(int sig)
{
	(void)sig;
	if (stop_requested)
		abandon_requested = 1;
	stop_requested = 1;
}

struct options {
	const char *bootstrap;
	const char *bootstrap_file;
	const char *topic;
	const char *output;
	const char *properties[MAX_PROPERTIES];
	size_t nproperties;
	struct ssigen_config gen;
	bool seed_given;
	bool start_given;
	bool tenants_given;
	double backfill_days;
	double rate;
	double speed;
	bool clock_cap;
	uint64_t count;
	double duration_s;
	bool quiet;
};

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: ssi-loadgen (--bootstrap HOST:PORT | --bootstrap-file FILE | --output FILE)\n"
	    "                   [options]\n"
	    "\n"
	    "Generate a realistic LinkedIn-style activity stream (event contract v1) for ssid:\n"
	    "users with personas (passive, poster, networker, social seller, spammer, lapsing),\n"
	    "working hours in their timezone, quiet weekends and bursty days.\n"
	    "\n"
	    "Destination:\n"
	    "  -b, --bootstrap HOST:PORT  Kafka bootstrap servers\n"
	    "  -B, --bootstrap-file FILE  read them from the first line of FILE (as ssid\n"
	    "                             writes for its mock cluster); waits up to %d s for it\n"
	    "  -t, --topic NAME           topic (default ssi.events); key = user_id\n"
	    "  -o, --output FILE          write JSON lines to FILE instead ('-': stdout)\n"
	    "  -X, --property KEY=VALUE   extra librdkafka producer property (repeatable)\n"
	    "\n"
	    "Population and stream:\n"
	    "  -u, --users N              users (default 300)\n"
	    "  -T, --tenants N            tenants (companies) among them (default 3)\n"
	    "      --teams N              teams per tenant (default 3)\n"
	    "  -s, --seed N               seed (default: random, printed unless -q); the same\n"
	    "                             seed and --start give the same stream\n"
	    "      --start TIME           simulated start, RFC 3339 (default: now minus\n"
	    "                             --backfill-days)\n"
	    "      --backfill-days D      start D days in the past (default 0)\n"
	    "      --end TIME             stop at this simulated time\n"
	    "      --activity F           scale every user's rate (default 1: realistic, about\n"
	    "                             30 events per user per working day)\n"
	    "      --bad-ratio R          share 0..1 of deliberately malformed events (default 0)\n"
	    "\n"
	    "Pacing (an event is sent when every limit allows it):\n"
	    "  -r, --rate N               at most N events per wall-clock second (0: no limit)\n"
	    "  -S, --speed F              simulated seconds per wall-clock second, counted from\n"
	    "                             the start of the run (0, default: no such limit)\n"
	    "      --no-clock-cap         let simulated time run ahead of the wall clock; by\n"
	    "                             default an event is held until the wall clock reaches\n"
	    "                             its occurred_at, because ssid rejects events from the\n"
	    "                             future. So '--backfill-days 60' replays 60 days as fast\n"
	    "                             as --rate allows, then carries on in real time.\n"
	    "\n"
	    "Stopping:\n"
	    "  -n, --count N              stop after N events\n"
	    "  -d, --duration SECONDS     stop after this much wall-clock time\n"
	    "                             otherwise run until --end, SIGINT or SIGTERM\n"
	    "\n"
	    "  -q, --quiet                no progress line on stderr\n"
	    "  -V, --version              print the version and exit\n"
	    "  -h, --help                 print this help and exit\n"
	    "\n"
	    "Exit status (sysexits): 0 when every event was delivered, 69 when some were not,\n"
	    "64 for bad usage, 66 when the bootstrap file never appeared, 73/74 for output\n"
	    "errors.\n",
	    BOOTSTRAP_WAIT_S);
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || *s == '\0' || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	if (!s || *s == '\0')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !isfinite(v) || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_time(const char *s, int64_t *out)
{
	return ssi_time_parse(s, strlen(s), out);
}

enum {
	OPT_TEAMS = 0x100,
	OPT_START,
	OPT_BACKFILL,
	OPT_END,
	OPT_ACTIVITY,
	OPT_BAD_RATIO,
	OPT_NO_CLOCK_CAP,
};

/* Returns 0 to run, 1 when --help or --version already answered, or -EINVAL. */
static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
	    {"bootstrap", required_argument, NULL, 'b'},
	    {"bootstrap-file", required_argument, NULL, 'B'},
	    {"topic", required_argument, NULL, 't'},
	    {"output", required_argument, NULL, 'o'},
	    {"property", required_argument, NULL, 'X'},
	    {"users", required_argument, NULL, 'u'},
	    {"tenants", required_argument, NULL, 'T'},
	    {"teams", required_argument, NULL, OPT_TEAMS},
	    {"seed", required_argument, NULL, 's'},
	    {"start", required_argument, NULL, OPT_START},
	    {"backfill-days", required_argument, NULL, OPT_BACKFILL},
	    {"end", required_argument, NULL, OPT_END},
	    {"activity", required_argument, NULL, OPT_ACTIVITY},
	    {"bad-ratio", required_argument, NULL, OPT_BAD_RATIO},
	    {"rate", required_argument, NULL, 'r'},
	    {"speed", required_argument, NULL, 'S'},
	    {"no-clock-cap", no_argument, NULL, OPT_NO_CLOCK_CAP},
	    {"count", required_argument, NULL, 'n'},
	    {"duration", required_argument, NULL, 'd'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	uint64_t v;
	int c;

	while ((c = getopt_long(argc, argv, "b:B:t:o:X:u:T:s:r:S:n:d:qVh", longopts, NULL)) != -1) {
		int r = 0;

		switch (c) {
		case 'b':
			o->bootstrap = optarg;
			break;
		case 'B':
			o->bootstrap_file = optarg;
			break;
		case 't':
			o->topic = optarg;
			r = *optarg ? 0 : -EINVAL;
			break;
		case 'o':
			o->output = optarg;
			break;
		case 'X':
			if (o->nproperties == MAX_PROPERTIES || !strchr(optarg, '='))
				r = -EINVAL;
			else
				o->properties[o->nproperties++] = optarg;
			break;
		case 'u':
			r = parse_u64(optarg, 10000000, &v);
			o->gen.users = (uint32_t)v;
			break;
		case 'T':
			r = parse_u64(optarg, 10000000, &v);
			o->gen.tenants = (uint32_t)v;
			o->tenants_given = true;
			break;
		case OPT_TEAMS:
			r = parse_u64(optarg, 1000, &v);
			o->gen.teams_per_tenant = (uint32_t)v;
			break;
		case 's':
			r = parse_u64(optarg, UINT64_MAX, &o->gen.seed);
			o->seed_given = true;
			break;
		case OPT_START:
			r = parse_time(optarg, &o->gen.start_ms);
			o->start_given = true;
			break;
		case OPT_BACKFILL:
			r = parse_double(optarg, 0, 3650, &o->backfill_days);
			break;
		case OPT_END:
			r = parse_time(optarg, &o->gen.end_ms);
			break;
		case OPT_ACTIVITY:
			r = parse_double(optarg, 1e-3, 1e6, &o->gen.activity);
			break;
		case OPT_BAD_RATIO:
			r = parse_double(optarg, 0, 1, &o->gen.bad_ratio);
			break;
		case 'r':
			r = parse_double(optarg, 0, 1e9, &o->rate);
			break;
		case 'S':
			r = parse_double(optarg, 0, 1e9, &o->speed);
			break;
		case OPT_NO_CLOCK_CAP:
			o->clock_cap = false;
			break;
		case 'n':
			r = parse_u64(optarg, UINT64_MAX, &o->count);
			break;
		case 'd':
			r = parse_double(optarg, 0, 1e9, &o->duration_s);
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'V':
			printf("ssi-loadgen %s\n", SSID_VERSION);
			return 1;
		case 'h':
			usage(stdout);
			return 1;
		default:
			return -EINVAL;
		}
		if (r < 0) {
			const char *name = "?";

			for (const struct option *lo = longopts; lo->name; lo++)
				if (lo->val == c)
					name = lo->name;
			fprintf(stderr, "ssi-loadgen: invalid value for --%s: '%s'\n", name,
				optarg);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ssi-loadgen: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (!!o->bootstrap + !!o->bootstrap_file + !!o->output != 1) {
		fprintf(stderr, "ssi-loadgen: give exactly one of --bootstrap, --bootstrap-file "
				"and --output\n");
		return -EINVAL;
	}
	if (!o->tenants_given && o->gen.tenants > o->gen.users)
		o->gen.tenants = o->gen.users;
	if (o->gen.users == 0 || o->gen.tenants == 0 || o->gen.tenants > o->gen.users) {
		fprintf(stderr, "ssi-loadgen: need 1 <= --tenants <= --users\n");
		return -EINVAL;
	}
	if (o->start_given && o->backfill_days > 0) {
		fprintf(stderr, "ssi-loadgen: --start and --backfill-days exclude each other\n");
		return -EINVAL;
	}
	return 0;
}

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/*
 * ssid writes its mock cluster's address when it starts, which may be after
 * us, so give it a little time.
 */
static int wait_bootstrap_file(const char *path, char *buf, size_t len)
{
	for (int waited = 0; waited <= BOOTSTRAP_WAIT_S * 10 && !stop_requested; waited++) {
		int r = ssid_mock_read_bootstrap_file(path, buf, len);

		if (r != -ENOENT && r != -ENODATA)
			return r;
		nanosleep(&(struct timespec){0, 100 * NS_PER_MS}, NULL);
	}
	return -ENOENT;
}

struct delivery {
	uint64_t delivered;
	uint64_t failed;
	char first_error[256];
};

/* Runs inside rd_kafka_poll/flush on our thread: no locking needed. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct delivery *d = opaque;

	(void)rk;
	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		d->delivered++;
		return;
	}
	if (d->failed++ == 0)
		snprintf(d->first_error, sizeof(d->first_error), "%s", rd_kafka_err2str(m->err));
}

static int conf_set(rd_kafka_conf_t *conf, const char *key, const char *value)
{
	char errstr[512];

	if (rd_kafka_conf_set(conf, key, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
		fprintf(stderr, "ssi-loadgen: %s=%s: %s\n", key, value, errstr);
		return -EINVAL;
	}
	return 0;
}

/*
 * A producer tuned for throughput: lz4 batches of up to 10k messages that
 * wait at most 5 ms, idempotence so retries neither duplicate nor reorder.
 */
static int make_producer(const struct options *o, const char *bootstrap, struct delivery *d,
			 rd_kafka_t **out)
{
	static const char *const defaults[][2] = {
	    {"client.id", "ssi-loadgen"},
	    {"linger.ms", "5"},
	    {"batch.num.messages", "10000"},
	    {"batch.size", "1000000"},
	    {"queue.buffering.max.messages", "500000"},
	    {"compression.type", "lz4"},
	    {"enable.idempotence", "true"},
	    {"message.timeout.ms", "30000"},
	};
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char errstr[512];
	int r = 0;

	if (!conf)
		return -ENOMEM;
	r = conf_set(conf, "bootstrap.servers", bootstrap);
	for (size_t i = 0; r == 0 && i < sizeof(defaults) / sizeof(defaults[0]); i++)
		r = conf_set(conf, defaults[i][0], defaults[i][1]);
	for (size_t i = 0; r == 0 && i < o->nproperties; i++) {
		char key[256];
		const char *eq = strchr(o->properties[i], '=');
		size_t klen = (size_t)(eq - o->properties[i]);

		if (klen == 0 || klen >= sizeof(key)) {
			fprintf(stderr, "ssi-loadgen: bad property '%s'\n", o->properties[i]);
			r = -EINVAL;
			break;
		}
		memcpy(key, o->properties[i], klen);
		key[klen] = '\0';
		r = conf_set(conf, key, eq + 1);
	}
	if (r < 0)
		goto fail;
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_conf_set_opaque(conf, d);
	*out = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!*out) {
		fprintf(stderr, "ssi-loadgen: cannot create the producer: %s\n", errstr);
		r = -EIO;
		goto fail;
	}
	conf = NULL; /* now owned by *out */
	return 0;
fail:
	rd_kafka_conf_destroy(conf);
	return r;
}

/*
 * When the next event may go, as a wait from now in nanoseconds. Each limit
 * is a release time: --speed maps simulated time onto wall time from the
 * start of the run, --rate spaces events evenly, and the clock cap keeps
 * occurred_at from passing the wall clock.
 */
struct pacer {
	double rate;
	double speed;
	bool clock_cap;
	int64_t sim_origin_ms;
	int64_t mono_origin_ns;
	int64_t wall_origin_ms; /* the wall clock at mono_origin_ns */
	int64_t next_slot_ns;	/* --rate: the earliest time for the next event */
};

static int64_t pacer_wait_ns(const struct pacer *p, int64_t occurred_at_ms, int64_t now_ns)
{
	/* In double: a far-future event must not overflow; waits run in slices anyway. */
	double wait = 0;

	if (p->speed > 0) {
		double due = (double)p->mono_origin_ns +
			     (double)(occurred_at_ms - p->sim_origin_ms) * NS_PER_MS / p->speed;

		wait = fmax(wait, due - (double)now_ns);
	}
	if (p->rate > 0)
		wait = fmax(wait, (double)(p->next_slot_ns - now_ns));
	if (p->clock_cap) {
		double wall_ms =
		    (double)p->wall_origin_ms + (double)(now_ns - p->mono_origin_ns) / NS_PER_MS;

		wait = fmax(wait, ((double)occurred_at_ms - wall_ms) * NS_PER_MS);
	}
	return wait > (double)NS_PER_S ? NS_PER_S : (int64_t)wait;
}

/* After a send: the next --rate slot, with at most 100 ms of catch-up after a stall. */
static void pacer_sent(struct pacer *p, int64_t now_ns)
{
	if (p->rate <= 0)
		return;
	if (p->next_slot_ns < now_ns - WAIT_SLICE_NS)
		p->next_slot_ns = now_ns - WAIT_SLICE_NS;
	p->next_slot_ns += (int64_t)((double)NS_PER_S / p->rate);
}

struct run {
	const struct options *o;
	rd_kafka_t *rk;
	FILE *out;
	struct delivery delivery;
	uint64_t sent, bad, produce_errors;
	int64_t started_ns, last_report_ns;
	uint64_t sent_at_last_report;
	int64_t last_occurred_ms;
};

static void report(struct run *run, int64_t now_ns, bool final)
{
	double since = (double)(now_ns - run->last_report_ns) / NS_PER_S;
	double rate = since > 0 ? (double)(run->sent - run->sent_at_last_report) / since : 0;
	char sim[SSI_TIME_BUFLEN] = "-";

	if (run->sent)
		ssi_time_format(run->last_occurred_ms, sim);
	if (final) {
		since = (double)(now_ns - run->started_ns) / NS_PER_S;
		rate = since > 0 ? (double)run->sent / since : 0;
	}
	if (run->rk)
		fprintf(stderr,
			"ssi-loadgen: %s%" PRIu64 " sent (%" PRIu64 " bad), %.0f/s, %" PRIu64
			" delivered, %" PRIu64 " failed, simulated %s\n",
			final ? "done: " : "", run->sent, run->bad, rate, run->delivery.delivered,
			run->delivery.failed + run->produce_errors, sim);
	else
		fprintf(stderr,
			"ssi-loadgen: %s%" PRIu64 " written (%" PRIu64
			" bad), %.0f/s, simulated %s\n",
			final ? "done: " : "", run->sent, run->bad, rate, sim);
	run->last_report_ns = now_ns;
	run->sent_at_last_report = run->sent;
}

/* Sleep, or serve delivery reports while waiting, for up to one slice. */
static void wait_a_little(struct run *run, int64_t wait_ns)
{
	if (wait_ns > WAIT_SLICE_NS)
		wait_ns = WAIT_SLICE_NS;
	if (run->rk && wait_ns >= NS_PER_MS)
		rd_kafka_poll(run->rk, (int)(wait_ns / NS_PER_MS));
	else
		nanosleep(&(struct timespec){0, (long)wait_ns}, NULL);
}

static int produce(struct run *run, const struct ssigen_event *ev)
{
	for (;;) {
		rd_kafka_resp_err_t err = rd_kafka_producev(
		    run->rk, RD_KAFKA_V_TOPIC(run->o->topic), RD_KAFKA_V_KEY(ev->key, ev->key_len),
		    RD_KAFKA_V_VALUE((void *)ev->json, ev->len),
		    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);

		if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
			return 0;
		if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			if (run->produce_errors++ == 0 && run->delivery.failed == 0)
				snprintf(run->delivery.first_error,
					 sizeof(run->delivery.first_error), "%s",
					 rd_kafka_err2str(err));
			return -EIO;
		}
		if (abandon_requested)
			return -EINTR;
		rd_kafka_poll(run->rk, 10); /* the queue drains as deliveries come back */
	}
}

static int write_line(struct run *run, const struct ssigen_event *ev)
{
	if (fwrite(ev->json, 1, ev->len, run->out) != ev->len || putc('\n', run->out) == EOF)
		return -errno;
	return 0;
}

/* Returns 0 at a normal end, -EPIPE when the reader left, or another -errno. */
static int pump(struct run *run, struct ssigen *g, struct pacer *pacer)
{
	const struct options *o = run->o;
	int64_t deadline = o->duration_s > 0
			       ? run->started_ns + (int64_t)(o->duration_s * (double)NS_PER_S)
			       : INT64_MAX;
	struct ssigen_event ev;
	int r;

	while (!stop_requested && (o->count == 0 || run->sent < o->count)) {
		int64_t now = clock_ns(CLOCK_MONOTONIC), wait;

		if (now >= deadline)
			break;
		r = ssigen_next(g, &ev);
		if (r < 0)
			return r;
		if (r == 0)
			break;
		while ((wait = pacer_wait_ns(pacer, ev.occurred_at_ms, now)) > 0 &&
		       !stop_requested && now < deadline) {
			wait_a_little(run, wait);
			now = clock_ns(CLOCK_MONOTONIC);
			if (!o->quiet && now - run->last_report_ns >= NS_PER_S)
				report(run, now, false);
		}
		if (stop_requested || now >= deadline)
			break;
		if (run->rk) {
			r = produce(run, &ev);
			if (r == -EINTR)
				break;
			rd_kafka_poll(run->rk, 0);
		} else {
			r = write_line(run, &ev);
			if (r < 0)
				return r;
		}
		if (r == 0) {
			run->sent++;
			run->bad += ev.bad;
		}
		run->last_occurred_ms = ev.occurred_at_ms;
		pacer_sent(pacer, now);
		if (!o->quiet && now - run->last_report_ns >= NS_PER_S)
			report(run, now, false);
	}
	return 0;
}

/* Wait for every delivery report, giving up on a second signal. */
static void drain(struct run *run)
{
	int64_t give_up = clock_ns(CLOCK_MONOTONIC) + 60 * NS_PER_S;

	while (rd_kafka_outq_len(run->rk) > 0 && !abandon_requested &&
	       clock_ns(CLOCK_MONOTONIC) < give_up) {
		int64_t now;

		rd_kafka_flush(run->rk, 100);
		now = clock_ns(CLOCK_MONOTONIC);
		if (!run->o->quiet && now - run->last_report_ns >= NS_PER_S)
			report(run, now, false);
	}
	if (rd_kafka_outq_len(run->rk) > 0)
		rd_kafka_purge(run->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	rd_kafka_poll(run->rk, 0); /* purged messages report here, as failures */
}

int main(int argc, char **argv)
{
	struct options o = {
	    .topic = "ssi.events",
	    .gen = {.users = 300, .tenants = 3},
	    .clock_cap = true,
	};
	struct run run = {.o = &o};
	struct ssigen *g = NULL;
	struct pacer pacer = {0};
	struct sigaction sa;
	char bootstrap[1024];
	int64_t wall_ms;
	int r, status = EX_OK;

	r = parse_options(argc, argv, &o);
	if (r != 0) {
		if (r < 0)
			fprintf(stderr, "Try 'ssi-loadgen --help'.\n");
		return r < 0 ? EX_USAGE : EX_OK;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	wall_ms = clock_ns(CLOCK_REALTIME) / NS_PER_MS;
	if (!o.start_given)
		o.gen.start_ms = wall_ms - (int64_t)(o.backfill_days * (double)SSI_MS_PER_DAY);
	if (!o.seed_given && getrandom(&o.gen.seed, sizeof(o.gen.seed), 0) != sizeof(o.gen.seed))
		o.gen.seed = (uint64_t)clock_ns(CLOCK_REALTIME) ^ ((uint64_t)getpid() << 32);
	r = ssigen_new(&g, &o.gen);
	if (r < 0) {
		fprintf(stderr, "ssi-loadgen: cannot set up the generator: %s\n",
			r == -EINVAL ? "check --users, --tenants, --teams, --start and --end"
				     : strerror(-r));
		return r == -EINVAL ? EX_USAGE : EX_OSERR;
	}

	if (o.output) {
		run.out = strcmp(o.output, "-") == 0 ? stdout : fopen(o.output, "we");
		if (!run.out) {
			fprintf(stderr, "ssi-loadgen: %s: %s\n", o.output, strerror(errno));
			status = EX_CANTCREAT;
			goto out;
		}
		setvbuf(run.out, NULL, _IOFBF, 1 << 20);
	} else {
		const char *servers = o.bootstrap;

		if (o.bootstrap_file) {
			r = wait_bootstrap_file(o.bootstrap_file, bootstrap, sizeof(bootstrap));
			if (r < 0) {
				fprintf(stderr, "ssi-loadgen: %s: %s\n", o.bootstrap_file,
					r == -ENOENT ? "no bootstrap servers in it" : strerror(-r));
				status = EX_NOINPUT;
				goto out;
			}
			servers = bootstrap;
		}
		r = make_producer(&o, servers, &run.delivery, &run.rk);
		if (r < 0) {
			status = r == -EINVAL ? EX_USAGE : EX_UNAVAILABLE;
			goto out;
		}
	}
	if (!o.quiet) {
		char start[SSI_TIME_BUFLEN];

		ssi_time_format(o.gen.start_ms, start);
		fprintf(stderr, "ssi-loadgen: seed %" PRIu64 ", %u users, start %s, to %s\n",
			o.gen.seed, (unsigned)o.gen.users, start, o.output ? o.output : o.topic);
	}

	run.started_ns = run.last_report_ns = clock_ns(CLOCK_MONOTONIC);
	pacer = (struct pacer){
	    .rate = o.rate,
	    .speed = o.speed,
	    .clock_cap = o.clock_cap,
	    .sim_origin_ms = o.gen.start_ms,
	    .mono_origin_ns = run.started_ns,
	    .wall_origin_ms = clock_ns(CLOCK_REALTIME) / NS_PER_MS,
	    .next_slot_ns = run.started_ns,
	};
	r = pump(&run, g, &pacer);
	if (r < 0 && r != -EPIPE) {
		fprintf(stderr, "ssi-loadgen: %s\n", strerror(-r));
		status = run.out ? EX_IOERR : EX_SOFTWARE;
	}
	if (run.rk) {
		drain(&run);
		if (run.delivery.failed + run.produce_errors > 0 ||
		    run.delivery.delivered < run.sent) {
			fprintf(stderr,
				"ssi-loadgen: %" PRIu64 " of %" PRIu64
				" events not delivered: %s\n",
				run.sent - run.delivery.delivered + run.produce_errors,
				run.sent + run.produce_errors,
				run.delivery.first_error[0] ? run.delivery.first_error
							    : "flush timed out");
			status = EX_UNAVAILABLE;
		}
	} else if (run.out && fflush(run.out) != 0 && errno != EPIPE && status == EX_OK) {
		fprintf(stderr, "ssi-loadgen: %s: %s\n", o.output, strerror(errno));
		status = EX_IOERR;
	}
	if (!o.quiet)
		report(&run, clock_ns(CLOCK_MONOTONIC), true);
out:
	if (run.rk)
		rd_kafka_destroy(run.rk);
	if (run.out && run.out != stdout)
		fclose(run.out);
	ssigen_free(g);
	return status;
}
