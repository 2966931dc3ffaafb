/*
 * ssi-watch: a live terminal view of ssid's output topic, for the demo and
 * for operators: a leaderboard with industry percentiles, the latest
 * updates, the sharpest drops and the latest alerts and rank changes,
 * redrawn every second.
 *
 *   ssi-watch (--bootstrap HOST:PORT | --bootstrap-file FILE) [--topic ssi.scores]
 *             [--dlq-topic ssi.events.dlq] [--plain] [--top N]
 */
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "ssid_kafka.h"

#define MAX_REPS 20000 /* a demo view: linear lookups are fine at this size */
#define RECENT	 8

struct rep {
	char id[129];
	char tenant[129];
	char team[129];
	double ssi, pillar[4], delta;
	int updates;
	int industry_top; /* "top N%" of the rep's industry; 0 unknown or hidden */
};

struct view {
	struct rep *rep;
	size_t nrep;
	char recent[RECENT][256];
	int nrecent, recent_head;
	char drops[RECENT][256];
	int ndrops, drops_head;
	char alerts[RECENT][256];
	int nalerts, alerts_head;
	unsigned long updates, dead_letters, nalert, nrank, nboard;
	int top;
};

static volatile sig_atomic_t done;

static void on_signal(int sig)
{
	(void)sig;
	done = 1;
}

static struct rep *rep_get(struct view *v, const char *id)
{
	for (size_t i = 0; i < v->nrep; i++)
		if (strcmp(v->rep[i].id, id) == 0)
			return &v->rep[i];
	if (v->nrep == MAX_REPS)
		return NULL;
	memset(&v->rep[v->nrep], 0, sizeof(v->rep[0]));
	snprintf(v->rep[v->nrep].id, sizeof(v->rep[0].id), "%s", id);
	return &v->rep[v->nrep++];
}

static void ring_push(char ring[][256], int *n, int *head, const char *line)
{
	snprintf(ring[*head], 256, "%s", line);
	*head = (*head + 1) % RECENT;
	if (*n < RECENT)
		(*n)++;
}

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

/* Fold one score.updated into the view. */
static void take_score(struct view *v, json_t *o, bool plain)
{
	json_t *pillars, *top;
	struct rep *r;
	char line[256];
	static const char *const names[4] = {"brand", "people", "insights", "relationships"};

	r = rep_get(v, str(o, "user_id"));
	if (r) {
		snprintf(r->tenant, sizeof(r->tenant), "%s", str(o, "tenant"));
		snprintf(r->team, sizeof(r->team), "%s", str(o, "team"));
		r->ssi = json_number_value(json_object_get(o, "ssi"));
		r->delta = json_number_value(json_object_get(o, "delta"));
		pillars = json_object_get(o, "pillars");
		for (int p = 0; p < 4; p++)
			r->pillar[p] = json_number_value(json_object_get(pillars, names[p]));
		r->updates++;
		top = json_object_get(json_object_get(json_object_get(o, "ranks"), "industry"),
				      "top_percent");
		r->industry_top = (int)json_integer_value(top);
		snprintf(line, sizeof(line),
			 "%-14.40s %-12.40s %6.2f  %+6.2f  cause=%.8s events=%lld%s", r->id,
			 r->tenant, r->ssi, r->delta, str(o, "cause"),
			 json_integer_value(json_object_get(o, "events")),
			 json_is_true(json_object_get(o, "backfill")) ? " backfill" : "");
		if (plain)
			printf("%s\n", line);
		ring_push(v->recent, &v->nrecent, &v->recent_head, line);
		if (r->delta <= -1.0)
			ring_push(v->drops, &v->ndrops, &v->drops_head, line);
	}
	v->updates++;
}

/* An alert or a rank change: one line in the alerts box (and on stdout if plain). */
static void take_notice(struct view *v, json_t *o, bool plain)
{
	char line[256];
	char why[180]; /* the ring keeps 256-byte lines: cut the sentence first */

	if (strcmp(str(o, "type"), "alert") == 0) {
		snprintf(why, sizeof(why), "%s", str(o, "why"));
		snprintf(line, sizeof(line), "ALERT %-14.40s %-16.20s %s", str(o, "user_id"),
			 str(o, "rule"), why);
		v->nalert++;
	} else {
		snprintf(
		    line, sizeof(line), "RANK  %-14.40s %-4s %s %.40s: top %lld%% (band %lld%%)",
		    str(o, "user_id"), str(o, "direction"), str(o, "segment"),
		    str(o, "segment_value"), json_integer_value(json_object_get(o, "top_percent")),
		    json_integer_value(json_object_get(o, "band")));
		v->nrank++;
	}
	if (plain)
		printf("%s\n", line);
	ring_push(v->alerts, &v->nalerts, &v->alerts_head, line);
}

static void take_message(struct view *v, const char *json, size_t len, bool plain)
{
	json_error_t e;
	json_t *o = json_loadb(json, len, 0, &e);
	const char *type;

	if (!o)
		return;
	type = str(o, "type");
	if (strcmp(type, "score.updated") == 0)
		take_score(v, o, plain);
	else if (strcmp(type, "alert") == 0 || strcmp(type, "rank.changed") == 0)
		take_notice(v, o, plain);
	else if (strcmp(type, "leaderboard.changed") == 0)
		v->nboard++;
	json_decref(o);
}

static int by_ssi(const void *a, const void *b)
{
	const struct rep *x = a, *y = b;

	return x->ssi < y->ssi ? 1 : x->ssi > y->ssi ? -1 : strcmp(x->id, y->id);
}

static void draw(struct view *v)
{
	struct rep *sorted = malloc(v->nrep * sizeof(*sorted));
	time_t now = time(NULL);
	char when[32];

	if (!sorted)
		return;
	memcpy(sorted, v->rep, v->nrep * sizeof(*sorted));
	qsort(sorted, v->nrep, sizeof(*sorted), by_ssi);
	strftime(when, sizeof(when), "%H:%M:%S", localtime(&now));
	printf("\033[H\033[2J");
	printf("ssid live: %zu reps, %lu score updates, %lu alerts, %lu rank changes, %lu "
	       "leaderboard changes, %lu dead letters   %s\n\n",
	       v->nrep, v->updates, v->nalert, v->nrank, v->nboard, v->dead_letters, when);
	printf(" #  %-14s %-12s %-12s %6s %6s %6s %6s %6s %7s %9s\n", "rep", "tenant", "team",
	       "SSI", "brand", "people", "insig.", "relat.", "last d", "industry");
	for (int i = 0; i < v->top && (size_t)i < v->nrep; i++) {
		const struct rep *r = &sorted[i];
		char top[16] = "-";

		if (r->industry_top > 0)
			snprintf(top, sizeof(top), "top %d%%", r->industry_top);
		printf("%2d  %-14.14s %-12.12s %-12.12s %6.2f %6.2f %6.2f %6.2f %6.2f %+7.2f %9s\n",
		       i + 1, r->id, r->tenant, r->team, r->ssi, r->pillar[0], r->pillar[1],
		       r->pillar[2], r->pillar[3], r->delta, top);
	}
	printf("\nLatest updates\n");
	for (int i = 0; i < v->nrecent; i++)
		printf("  %s\n", v->recent[(v->recent_head - 1 - i + RECENT) % RECENT]);
	printf("\nRecent drops of a point or more\n");
	for (int i = 0; i < v->ndrops; i++)
		printf("  %s\n", v->drops[(v->drops_head - 1 - i + RECENT) % RECENT]);
	printf("\nLatest alerts and rank changes\n");
	for (int i = 0; i < v->nalerts; i++)
		printf("  %s\n", v->alerts[(v->alerts_head - 1 - i + RECENT) % RECENT]);
	printf("\n(Ctrl-C to stop)\n");
	fflush(stdout);
	free(sorted);
}

static void usage(FILE *out)
{
	fprintf(out, "usage: ssi-watch (--bootstrap HOST:PORT | --bootstrap-file FILE)\n"
		     "                 [--topic NAME] [--dlq-topic NAME] [--top N] [--plain]\n"
		     "       ssi-watch --version | --help\n"
		     "\n"
		     "Show ssid's score updates live: a leaderboard, the latest updates, drops.\n"
		     "\n"
		     "  -b, --bootstrap HOST:PORT  Kafka bootstrap servers\n"
		     "  -B, --bootstrap-file FILE  read them from the first line of FILE (as ssid\n"
		     "                             writes for its mock cluster)\n"
		     "  -t, --topic NAME           ssid's output topic (default ssi.scores)\n"
		     "  -d, --dlq-topic NAME       the dead-letter topic (default ssi.events.dlq)\n"
		     "  -n, --top N                rows of the leaderboard (default 15)\n"
		     "  -p, --plain                print one line per update instead of redrawing\n"
		     "                             the screen\n"
		     "  -V, --version              print the version and exit\n"
		     "  -h, --help                 print this help and exit\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"bootstrap", required_argument, NULL, 'b'},
	    {"bootstrap-file", required_argument, NULL, 'B'},
	    {"topic", required_argument, NULL, 't'},
	    {"dlq-topic", required_argument, NULL, 'd'},
	    {"top", required_argument, NULL, 'n'},
	    {"plain", no_argument, NULL, 'p'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	char bootstrap[1024] = "", errstr[512], group[64];
	const char *topic = "ssi.scores", *dlq = "ssi.events.dlq";
	struct view v = {.top = 15};
	bool plain = false;
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk;
	rd_kafka_topic_partition_list_t *topics;
	time_t last_draw = 0;
	int c;

	while ((c = getopt_long(argc, argv, "b:B:t:d:n:phV", longopts, NULL)) != -1) {
		switch (c) {
		case 'b':
			snprintf(bootstrap, sizeof(bootstrap), "%s", optarg);
			break;
		case 'B':
			if (ssid_mock_read_bootstrap_file(optarg, bootstrap, sizeof(bootstrap)) <
			    0) {
				fprintf(stderr,
					"ssi-watch: cannot read a bootstrap address from %s\n",
					optarg);
				return EX_NOINPUT;
			}
			break;
		case 't':
			topic = optarg;
			break;
		case 'd':
			dlq = optarg;
			break;
		case 'n':
			v.top = atoi(optarg) > 0 ? atoi(optarg) : 15;
			break;
		case 'p':
			plain = true;
			break;
		case 'h':
			usage(stdout);
			return EX_OK;
		case 'V':
			printf("ssi-watch %s\n", SSID_VERSION);
			return EX_OK;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (!bootstrap[0]) {
		usage(stderr);
		return EX_USAGE;
	}
	snprintf(group, sizeof(group), "ssi-watch-%d", (int)getpid());
	conf = rd_kafka_conf_new();
	if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr, sizeof(errstr)) ||
	    rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof(errstr)) ||
	    rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", errstr, sizeof(errstr)) ||
	    rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof(errstr))) {
		fprintf(stderr, "ssi-watch: %s\n", errstr);
		rd_kafka_conf_destroy(conf);
		return EX_CONFIG;
	}
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	if (!rk) {
		fprintf(stderr, "ssi-watch: %s\n", errstr);
		rd_kafka_conf_destroy(conf);
		return EX_UNAVAILABLE;
	}
	conf = NULL; /* now owned by rk */
	rd_kafka_poll_set_consumer(rk);
	v.rep = calloc(MAX_REPS, sizeof(*v.rep));
	if (!v.rep) {
		rd_kafka_destroy(rk);
		return EX_OSERR;
	}
	topics = rd_kafka_topic_partition_list_new(2);
	rd_kafka_topic_partition_list_add(topics, topic, RD_KAFKA_PARTITION_UA);
	rd_kafka_topic_partition_list_add(topics, dlq, RD_KAFKA_PARTITION_UA);
	rd_kafka_subscribe(rk, topics);
	rd_kafka_topic_partition_list_destroy(topics);

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	while (!done) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);

		if (m) {
			if (!m->err && strcmp(rd_kafka_topic_name(m->rkt), dlq) == 0)
				v.dead_letters++;
			else if (!m->err && m->payload)
				take_message(&v, m->payload, m->len, plain);
			rd_kafka_message_destroy(m);
		}
		if (!plain && time(NULL) != last_draw) {
			draw(&v);
			last_draw = time(NULL);
		}
	}
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	free(v.rep);
	return EX_OK;
}
