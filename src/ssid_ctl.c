/* ssid_ctl: ssictl's commands over what ssid keeps in Redis and Kafka; see ssid_ctl.h. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "ssi_history.h"
#include "ssi_model.h"
#include "ssi_rank.h"
#include "ssi_score.h"
#include "ssi_state.h"
#include "ssi_time.h"
#include "ssid_config.h"
#include "ssid_ctl.h"
#include "ssid_history.h"
#include "ssid_kafka.h"
#include "ssid_network.h"
#include "ssid_rank.h"
#include "ssid_rank_read.h"
#include "ssid_redis.h"
#include "ssid_store.h"
#include "ssid_file.h"

#define KAFKA_TIMEOUT_MS 10000
#define AROUND_MAX	 1000
#define JSON_FLAGS	 (JSON_COMPACT | JSON_REAL_PRECISION(15))

static atomic_int stop_requested;

/* A flag, so that it may be called from a signal handler. */
void ssid_ctl_request_stop(void)
{
	atomic_store(&stop_requested, 1);
}

/* ---- the command line ---------------------------------------------------- */

enum {
	OPT_EXPLAIN = 1 << 0,
	OPT_K = 1 << 1,
	OPT_N = 1 << 2,
	OPT_DAYS = 1 << 3,
	OPT_FOLLOW = 1 << 4
};

static const char *const opt_names[] = {"--explain", "-k", "-n", "--days", "--follow"};

enum command { CMD_SCORE, CMD_RANK, CMD_AROUND, CMD_TOP, CMD_HISTORY, CMD_ALERTS, CMD__COUNT };

struct command_info {
	const char *name;
	int min_args, max_args; /* after the command word */
	unsigned opts;		/* the OPT_* it takes */
	const char *synopsis;
};

static const struct command_info commands[CMD__COUNT] = {
    [CMD_SCORE] = {"score", 1, 1, OPT_EXPLAIN, "score USER [--explain]"},
    [CMD_RANK] = {"rank", 1, 1, 0, "rank USER"},
    [CMD_AROUND] = {"around", 1, 1, OPT_K, "around USER [-k K]"},
    [CMD_TOP] = {"top", 1, 3, OPT_N, "top SEGMENT [VALUE] [-n N]"},
    [CMD_HISTORY] = {"history", 1, 1, OPT_DAYS, "history USER [--days N]"},
    [CMD_ALERTS] = {"alerts", 0, 0, OPT_FOLLOW, "alerts [--follow]"},
};

struct ctl {
	FILE *out, *err;
	bool json;
	const char *config_path;
	unsigned opts; /* OPT_* given */
	int k, n, days;

	struct ssid_config cfg;
	struct ssi_model model;
	int64_t now_ms;
	struct ssid_redis_opts ro;
	struct ssid_redis *rd;	   /* ranks, networks */
	struct ssid_store *store;  /* users' records (u:{...}) */
	struct ssid_history *hist; /* histories */
	int32_t *parts;		   /* the partitions with rank data, read once */
	size_t nparts;
	bool parts_read;
};

/* The help text, exit codes included: the contract scripts rely on. */
static void usage(FILE *f)
{
	fprintf(f,
		"usage: ssictl [-c CONFIG] [--json] COMMAND [ARGS]\n"
		"\n"
		"Read what ssid keeps: scores, ranks, leaderboards, history and alerts.\n"
		"Uses ssid's configuration file (Redis, model, clock, Kafka).\n"
		"\n"
		"Commands:\n"
		"  score USER [--explain]      SSI and pillars now, segments, model, last\n"
		"                              published score; --explain: points and headroom\n"
		"                              per pillar and variable, the three best actions\n"
		"  rank USER                   rank, size, top %% and average per segment:\n"
		"                              global, industry, tenant, team, network\n"
		"  around USER [-k K]          the K reps just above and below in each\n"
		"                              segment (default 3; not for network)\n"
		"  top SEGMENT [VALUE] [-n N]  leaderboard of global, industry NAME, tenant NAME\n"
		"                              or team TENANT/TEAM (default 10)\n"
		"  history USER [--days N]     SSI and pillars per day (default 30 days)\n"
		"  alerts [--follow]           alerts in the output topic; --follow: print new\n"
		"                              ones as they come, until SIGINT or SIGTERM\n"
		"\n"
		"Options:\n"
		"  -c, --config FILE   configuration file (default " SSID_CTL_DEFAULT_CONFIG ")\n"
		"  -j, --json          one JSON document per command (alerts --follow: one\n"
		"                      per alert and line)\n"
		"  -h, --help          print this help;  -V, --version  print the version\n"
		"\n"
		"Segments below rank.min_members reps show no rank, percentile or average.\n"
		"\n"
		"Exit codes:\n"
		"   0  done\n"
		"   2  unknown user (or not ranked yet)\n"
		"   3  unknown segment (no ranked rep in it)\n"
		"   4  stored data unreadable (corrupt, or written by a newer ssid)\n"
		"  64  bad command line\n"
		"  69  Redis or Kafka unavailable\n"
		"  70  internal error (out of memory)\n"
		"  78  bad configuration or model file\n");
}

__attribute__((format(printf, 3, 4))) static int fail(struct ctl *c, int code, const char *fmt, ...)
{
	va_list ap;

	fputs("ssictl: ", c->err);
	va_start(ap, fmt);
	vfprintf(c->err, fmt, ap);
	va_end(ap);
	fputc('\n', c->err);
	fflush(c->err);
	return code;
}

__attribute__((format(printf, 2, 3))) static int usage_error(struct ctl *c, const char *fmt, ...)
{
	va_list ap;

	fputs("ssictl: ", c->err);
	va_start(ap, fmt);
	vfprintf(c->err, fmt, ap);
	va_end(ap);
	fputs("\nTry 'ssictl --help'.\n", c->err);
	fflush(c->err);
	return SSID_CTL_EXIT_USAGE;
}

/* A whole decimal number in lo..hi, nothing else: "5x" and "" are usage errors. */
static bool parse_int(const char *s, int lo, int hi, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return false;
	*out = (int)v;
	return true;
}

/* ---- configuration, clock, connections -------------------------------------- */

/* ssid's file, its clock and (for score) its model: errors read like ssid -n's. */
static int load_config(struct ctl *c, bool need_model)
{
	struct ssid_config_error ce;
	struct ssid_config_clock ck;
	struct ssi_model_error me;
	char msg[1024];
	int r;

	r = ssid_config_load(&c->cfg, c->config_path, &ce);
	if (r < 0) {
		ssid_config_format_error(&ce, msg, sizeof(msg));
		return fail(c, SSID_CTL_EXIT_CONFIG, "%s", msg);
	}
	if (ssid_config_parse_clock(c->cfg.clock, &ck) < 0)
		return fail(c, SSID_CTL_EXIT_CONFIG, "%s: clock: cannot use \"%s\"", c->config_path,
			    c->cfg.clock);
	c->now_ms = ssid_config_clock_now(&ck);
	if (need_model) {
		r = ssid_file_load_model(&c->model, c->cfg.model_file, &me);
		if (r < 0 && me.line > 0)
			return fail(c, SSID_CTL_EXIT_CONFIG, "%s:%d: %s", c->cfg.model_file,
				    me.line, me.message);
		if (r < 0)
			return fail(c, SSID_CTL_EXIT_CONFIG, "%s: %s%s%s", c->cfg.model_file,
				    me.key, me.key[0] ? ": " : "", me.message);
	}
	return 0;
}

/* Which Redis an error is about, for the operator reading it. */
static const char *redis_where(const struct ctl *c, char *buf, size_t len)
{
	if (c->cfg.redis_unix_socket && c->cfg.redis_unix_socket[0])
		snprintf(buf, len, "%s", c->cfg.redis_unix_socket);
	else
		snprintf(buf, len, "%s:%d", c->cfg.redis_host, c->cfg.redis_port);
	return buf;
}

/* A failed Redis call as an exit code: unreadable data, memory, or Redis itself. */
static int redis_error(struct ctl *c, int rc, const char *errstr)
{
	char where[PATH_MAX + 16];

	if (rc == -ENOMEM)
		return fail(c, SSID_CTL_EXIT_SOFTWARE, "out of memory");
	if (rc == -EBADMSG)
		return fail(c, SSID_CTL_EXIT_UNREADABLE, "redis %s: data not written by ssid: %s",
			    redis_where(c, where, sizeof(where)), errstr);
	return fail(c, SSID_CTL_EXIT_UNAVAILABLE, "redis %s: %s",
		    redis_where(c, where, sizeof(where)), errstr);
}

/*
 * The modules' handles (each connects on first use) and a PING, so that an unreachable Redis is
 * exit 69 before anything else.
 */
static int open_redis(struct ctl *c)
{
	int r;

	c->ro = (struct ssid_redis_opts){
	    .host = c->cfg.redis_host,
	    .port = c->cfg.redis_port,
	    .unix_socket = c->cfg.redis_unix_socket,
	    .user = c->cfg.redis_user,
	    .password = c->cfg.redis_password,
	    .db = c->cfg.redis_db,
	    .connect_timeout_ms = c->cfg.redis_connect_timeout_ms,
	    .command_timeout_ms = c->cfg.redis_command_timeout_ms,
	    .keepalive = c->cfg.redis_keepalive,
	    .key_prefix = c->cfg.redis_key_prefix,
	};
	if (ssid_redis_new(&c->rd, &c->ro) < 0 || ssid_store_new(&c->store, &c->ro) < 0 ||
	    ssid_history_new(&c->hist, &c->ro, c->cfg.history_retention_days) < 0)
		return fail(c, SSID_CTL_EXIT_SOFTWARE, "out of memory");
	r = ssid_redis_ping(c->rd);
	if (r < 0)
		return redis_error(c, r, ssid_redis_errstr(c->rd));
	return 0;
}

/* ---- shared bits --------------------------------------------------------- */

/* Centipoints as the engine prints them ("61.07"), usable inside printf arguments. */
static const char *cp(int centipoints, char *buf, size_t len)
{
	ssi_score_format(centipoints, buf, len);
	return buf;
}

/* Centipoints as a JSON number of points. */
static json_t *points_json(double centipoints)
{
	return json_real(centipoints / 100.0);
}

/* {"ssi": total, "pillars": {...}}, the shape score.updated uses. */
static json_t *score_json(const struct ssi_score *s)
{
	json_t *o = json_object(), *p = json_object();

	json_object_set_new(o, "ssi", points_json(s->total));
	for (int i = 0; i < SSI_PILLAR__COUNT; i++)
		json_object_set_new(p, ssi_pillar_name((enum ssi_pillar)i),
				    points_json(s->pillar[i]));
	json_object_set_new(o, "pillars", p);
	return o;
}

/* Unknown segment values are null in JSON, not "". */
static json_t *string_or_null(const char *s)
{
	return s && s[0] ? json_string(s) : json_null();
}

/* Print one JSON document on one line and release it. */
static int emit(struct ctl *c, json_t *root)
{
	int r;

	if (!root)
		return fail(c, SSID_CTL_EXIT_SOFTWARE, "out of memory");
	r = json_dumpf(root, c->out, JSON_FLAGS);
	fputc('\n', c->out);
	json_decref(root);
	fflush(c->out);
	return r < 0 ? fail(c, SSID_CTL_EXIT_SOFTWARE, "cannot write the output") : 0;
}

/* Text fields are printed on one line: control bytes become spaces. */
static void put_clean(FILE *f, const char *s, int width)
{
	int n = 0;

	for (; *s; s++, n++)
		fputc((unsigned char)*s < ' ' || *s == 0x7f ? ' ' : *s, f);
	for (; n < width; n++)
		fputc(' ', f);
}

/* A UTC day number as "YYYY-MM-DD". */
static void date_of(int32_t day, char buf[SSI_TIME_BUFLEN])
{
	ssi_time_format(ssi_time_day_start(day), buf);
	buf[10] = '\0';
}

/* ---- users and their rank records ------------------------------------------ */

/* Whether user_id has a record (P u:{id}): 1, 0, or an exit code's negation. */
static int user_exists(struct ctl *c, const char *user)
{
	char key[SSI_ID_MAX + 512];
	redisReply *reply;
	int r;

	if ((size_t)ssid_store_key(c->store, user, key, sizeof(key)) >= sizeof(key))
		return -fail(c, SSID_CTL_EXIT_USAGE, "key prefix too long");
	reply = ssid_store_command(c->store, "EXISTS %s", key);
	if (!reply)
		return -redis_error(c, -EIO, ssid_store_errstr(c->store));
	r = reply->type == REDIS_REPLY_INTEGER && reply->integer > 0;
	freeReplyObject(reply);
	return r;
}

/* The one message (and exit code) for a user ssid has no record of. */
static int unknown_user(struct ctl *c, const char *user)
{
	return fail(c, SSID_CTL_EXIT_UNKNOWN_USER, "unknown user '%s'", user);
}

/* A user id ssid could have stored (1..SSI_ID_MAX bytes), or a usage error. */
static int check_user_id(struct ctl *c, const char *user)
{
	size_t len = strlen(user);

	if (len == 0 || len > SSI_ID_MAX)
		return usage_error(c, "a user id has 1 to %d bytes", SSI_ID_MAX);
	return 0;
}

/* What ssid_rank counts a rep with, and its segments as ssid_rank's functions take them. */
struct rank_record {
	struct ssi_rank_record r;
	const char *segp[SSI_SEG__COUNT];
};

/* The partitions with rank data (ssid_rank_read), once per command; 0 or an exit code. */
static int read_parts(struct ctl *c)
{
	int r;

	if (c->parts_read)
		return 0;
	r = ssid_rank_read_partitions(c->rd, &c->parts, &c->nparts);
	if (r < 0)
		return redis_error(c, r, ssid_redis_errstr(c->rd));
	c->parts_read = true;
	return 0;
}

/* The rep's rank record; 0 or an exit code (unknown user, not ranked, unreadable). */
static int read_rank_record(struct ctl *c, const char *user, struct rank_record *rec)
{
	int r = read_parts(c);

	memset(rec, 0, sizeof(*rec));
	if (r != 0)
		return r;
	r = ssid_rank_read_record(c->rd, c->parts, c->nparts, user, &rec->r, NULL);
	for (int i = 0; i < SSI_SEG__COUNT; i++)
		rec->segp[i] = rec->r.segment[i];
	if (r == -EBADMSG)
		return fail(c, SSID_CTL_EXIT_UNREADABLE, "rank record of '%s' is unreadable", user);
	if (r < 0)
		return redis_error(c, r, ssid_redis_errstr(c->rd));
	if (r == 0) {
		int exists = user_exists(c, user);

		if (exists < 0)
			return -exists;
		if (exists)
			return fail(c, SSID_CTL_EXIT_UNKNOWN_USER,
				    "user '%s' has not been ranked yet", user);
		return unknown_user(c, user);
	}
	return 0;
}

/*
 * The aggregate of a segment over every partition (the best top_keep
 * members listed); *in false when the rep has no segment of kind. 0 or an
 * exit code.
 */
static int read_segment(struct ctl *c, enum ssid_rank_kind kind,
			const char *const seg[SSI_SEG__COUNT], size_t top_keep,
			struct ssi_rankagg *agg, bool *in)
{
	int r = ssid_rank_read_segment(c->rd, c->parts, c->nparts, kind, seg, top_keep, agg);

	*in = r != -ENOENT;
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return redis_error(c, r, ssid_redis_errstr(c->rd));
	return 0;
}

/* Whether a record counts in the segment named field of kind (ssid_rank's field names). */
static bool record_in(const struct ssi_rank_record *rec, enum ssid_rank_kind kind,
		      const char *field)
{
	const char *seg[SSI_SEG__COUNT];
	char buf[8 * SSI_ID_MAX];
	int len;

	for (int i = 0; i < SSI_SEG__COUNT; i++)
		seg[i] = rec->segment[i];
	len = ssid_rank_segment_field(kind, seg, buf, sizeof(buf));
	return len >= 0 && (size_t)len < sizeof(buf) && strcmp(buf, field) == 0;
}

/* The field name of a segment (malloc'd); NULL with *oom false when there is none. */
static char *segment_field(enum ssid_rank_kind kind, const char *const seg[SSI_SEG__COUNT],
			   bool *oom)
{
	int n = ssid_rank_segment_field(kind, seg, NULL, 0);
	char *field;

	*oom = false;
	if (n < 0)
		return NULL;
	field = malloc((size_t)n + 1);
	if (!field) {
		*oom = true;
		return NULL;
	}
	ssid_rank_segment_field(kind, seg, field, (size_t)n + 1);
	return field;
}

/* How a segment is named for people: "software", "acme/emea-west"; "" for global. */
static void segment_value(enum ssid_rank_kind kind, const char *const seg[SSI_SEG__COUNT],
			  char *buf, size_t len)
{
	switch (kind) {
	case SSID_RANK_INDUSTRY:
		snprintf(buf, len, "%s", seg[SSI_SEG_INDUSTRY]);
		break;
	case SSID_RANK_TENANT:
		snprintf(buf, len, "%s", seg[SSI_SEG_TENANT]);
		break;
	case SSID_RANK_TEAM:
		snprintf(buf, len, "%s/%s", seg[SSI_SEG_TENANT], seg[SSI_SEG_TEAM]);
		break;
	default:
		buf[0] = '\0';
	}
}

/* Why a rep has no segment of kind, for the text output. */
static const char *missing_why(enum ssid_rank_kind kind)
{
	switch (kind) {
	case SSID_RANK_INDUSTRY:
		return "industry unknown";
	case SSID_RANK_TENANT:
		return "tenant unknown";
	case SSID_RANK_TEAM:
		return "tenant or team unknown";
	default:
		return "not ranked";
	}
}

/* ---- score ----------------------------------------------------------------- */

/* score as aligned "key  value" lines. */
static void score_text(struct ctl *c, const char *user, const struct ssi_state *st,
		       const struct ssi_score *sc, const struct ssid_published *pub, int pub_state)
{
	static const char *const seg_label[SSI_SEG__COUNT] = {"tenant", "team", "industry"};
	char when[SSI_TIME_BUFLEN], b[16];

	ssi_time_format(c->now_ms, when);
	fprintf(c->out, "%-15s", "user");
	put_clean(c->out, user, 0);
	fprintf(c->out, "\n%-15s%s\n", "as of", when);
	fprintf(c->out, "%-15s%s\n", "model", c->model.version);
	fprintf(c->out, "%-15s%s\n", "SSI", cp(sc->total, b, sizeof(b)));
	for (int p = 0; p < SSI_PILLAR__COUNT; p++)
		fprintf(c->out, "%-15s%s\n", ssi_pillar_name((enum ssi_pillar)p),
			cp(sc->pillar[p], b, sizeof(b)));
	for (int s = 0; s < SSI_SEG__COUNT; s++) {
		fprintf(c->out, "%-15s", seg_label[s]);
		put_clean(c->out, st->segment[s][0] ? st->segment[s] : "-", 0);
		fputc('\n', c->out);
	}
	fprintf(c->out, "%-15s", "published");
	if (pub_state == 0) {
		fprintf(c->out, "none\n");
	} else if (pub_state < 0) {
		fprintf(c->out, "unreadable\n");
	} else {
		fprintf(c->out, "%s (", cp(pub->score.total, b, sizeof(b)));
		for (int p = 0; p < SSI_PILLAR__COUNT; p++)
			fprintf(c->out, "%s%s %s", p ? ", " : "",
				ssi_pillar_name((enum ssi_pillar)p),
				cp(pub->score.pillar[p], b, sizeof(b)));
		fputc(')', c->out);
		if (pub->as_of_ms > 0 && pub->as_of_ms <= SSI_TIME_MAX_MS) {
			ssi_time_format(pub->as_of_ms, when);
			fprintf(c->out, " as of %s", when);
		}
		if (pub->model[0]) {
			fprintf(c->out, ", model ");
			put_clean(c->out, pub->model, 0);
		}
		fputc('\n', c->out);
	}
}

/* --explain as a table per pillar and variable, then the best actions. */
static void explain_text(struct ctl *c, const struct ssi_explain *ex)
{
	char b[16], h[16];

	fprintf(c->out, "\n%-24s %8s %8s %9s\n", "pillar / variable", "value", "points",
		"headroom");
	for (int p = 0; p < SSI_PILLAR__COUNT; p++) {
		fprintf(c->out, "%-24s %8s %8s %9s\n", ssi_pillar_name((enum ssi_pillar)p), "",
			cp(ex->score.pillar[p], b, sizeof(b)),
			cp(SSI_HISTORY_PILLAR_MAX - ex->score.pillar[p], h, sizeof(h)));
		for (int v = 0; v < SSI_V__COUNT; v++) {
			const struct ssi_var_info *vi = ssi_var_info((enum ssi_variable)v);

			if (vi->pillar != (enum ssi_pillar)p)
				continue;
			fprintf(c->out, "  %-22s %8.2f %8.2f %9.2f\n", vi->name, ex->var[v].x,
				ex->var[v].points, ex->var[v].headroom);
		}
	}
	fprintf(c->out, "\ntop actions\n");
	if (ex->nactions == 0)
		fprintf(c->out, "  none: nothing a single action would add\n");
	for (int i = 0; i < ex->nactions; i++)
		fprintf(c->out, "  %d. %-44s +%-6s %s\n", i + 1, ex->action[i].text,
			cp(ex->action[i].gain, b, sizeof(b)),
			ssi_pillar_name(ex->action[i].pillar));
}

/* --explain in JSON, variables grouped under their pillar. */
static json_t *explain_json(const struct ssi_explain *ex)
{
	json_t *o = json_object(), *pillars = json_array(), *actions = json_array();

	for (int p = 0; p < SSI_PILLAR__COUNT; p++) {
		json_t *po = json_object(), *vars = json_array();

		json_object_set_new(po, "pillar", json_string(ssi_pillar_name((enum ssi_pillar)p)));
		json_object_set_new(po, "points", points_json(ex->score.pillar[p]));
		json_object_set_new(po, "headroom",
				    points_json(SSI_HISTORY_PILLAR_MAX - ex->score.pillar[p]));
		for (int v = 0; v < SSI_V__COUNT; v++) {
			const struct ssi_var_info *vi = ssi_var_info((enum ssi_variable)v);

			if (vi->pillar != (enum ssi_pillar)p)
				continue;
			json_array_append_new(
			    vars, json_pack("{s:s, s:f, s:f, s:f, s:f}", "name", vi->name, "value",
					    ex->var[v].x, "fraction", ex->var[v].fraction, "points",
					    ex->var[v].points, "headroom", ex->var[v].headroom));
		}
		json_object_set_new(po, "variables", vars);
		json_array_append_new(pillars, po);
	}
	for (int i = 0; i < ex->nactions; i++)
		json_array_append_new(actions,
				      json_pack("{s:s, s:s, s:o}", "text", ex->action[i].text,
						"pillar", ssi_pillar_name(ex->action[i].pillar),
						"gain", points_json(ex->action[i].gain)));
	json_object_set_new(o, "pillars", pillars);
	json_object_set_new(o, "actions", actions);
	return o;
}

/* score: decode the stored state and score it now, as the daemon would. */
static int cmd_score(struct ctl *c, const char *user)
{
	static const char *const seg_label[SSI_SEG__COUNT] = {"tenant", "team", "industry"};
	char key[SSI_ID_MAX + 512], when[SSI_TIME_BUFLEN];
	struct ssi_state st;
	struct ssi_score sc;
	struct ssi_explain ex;
	struct ssid_published pub;
	redisReply *reply;
	int r = 0, pub_state = 0;

	ssi_state_init(&st);
	if ((size_t)ssid_store_key(c->store, user, key, sizeof(key)) >= sizeof(key))
		return usage_error(c, "key prefix too long");
	reply = ssid_store_command(c->store, "HMGET %s s p", key);
	if (!reply)
		return redis_error(c, -EIO, ssid_store_errstr(c->store));
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
		r = fail(c, SSID_CTL_EXIT_UNREADABLE, "record of '%s': %s", user,
			 reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
		goto out;
	}
	if (reply->element[0]->type != REDIS_REPLY_STRING) {
		r = unknown_user(c, user);
		goto out;
	}
	r = ssi_state_decode(&st, (const uint8_t *)reply->element[0]->str, reply->element[0]->len);
	if (r == -ENOMEM) {
		r = fail(c, SSID_CTL_EXIT_SOFTWARE, "out of memory");
		goto out;
	}
	if (r < 0) {
		r = fail(
		    c, SSID_CTL_EXIT_UNREADABLE, "the stored state of '%s' is unreadable: %s", user,
		    r == -EPROTONOSUPPORT ? "written by a newer ssid" : "corrupt or truncated");
		goto out;
	}
	if (reply->element[1]->type == REDIS_REPLY_STRING)
		pub_state =
		    ssid_store_published_parse(reply->element[1]->str, reply->element[1]->len, &pub)
			? 1
			: -1;
	ssi_score(&st, &c->model, c->now_ms, &sc);
	if ((c->opts & OPT_EXPLAIN) && ssi_explain(&st, &c->model, c->now_ms, &ex) < 0) {
		r = fail(c, SSID_CTL_EXIT_SOFTWARE, "out of memory");
		goto out;
	}
	if (c->json) {
		json_t *o = json_object(), *segs = json_object(), *p;

		json_object_set_new(o, "user_id", json_string(user));
		ssi_time_format(c->now_ms, when);
		json_object_set_new(o, "as_of", json_string(when));
		json_object_set_new(o, "model_version", json_string(c->model.version));
		json_object_set_new(o, "score", score_json(&sc));
		for (int s = 0; s < SSI_SEG__COUNT; s++)
			json_object_set_new(segs, seg_label[s], string_or_null(st.segment[s]));
		json_object_set_new(o, "segments", segs);
		if (pub_state > 0) {
			p = score_json(&pub.score);
			if (pub.as_of_ms > 0 && pub.as_of_ms <= SSI_TIME_MAX_MS) {
				ssi_time_format(pub.as_of_ms, when);
				json_object_set_new(p, "as_of", json_string(when));
			}
			if (pub.model[0])
				json_object_set_new(p, "model_version", json_string(pub.model));
		} else {
			p = pub_state < 0 ? json_string("unreadable") : json_null();
		}
		json_object_set_new(o, "published", p);
		if (c->opts & OPT_EXPLAIN)
			json_object_set_new(o, "explain", explain_json(&ex));
		r = emit(c, o);
	} else {
		score_text(c, user, &st, &sc, &pub, pub_state);
		if (c->opts & OPT_EXPLAIN)
			explain_text(c, &ex);
		fflush(c->out);
	}
out:
	freeReplyObject(reply);
	ssi_state_clear(&st);
	return r;
}

/* ---- rank -------------------------------------------------------------------- */

enum { SEG_NETWORK = SSID_RANK__COUNT, SEG__COUNT };

/* ssid_rank's kind names, plus "network" which ssid_rank does not keep. */
static const char *seg_kind_name(int kind)
{
	return kind == SEG_NETWORK ? "network" : ssid_rank_kind_name((enum ssid_rank_kind)kind);
}

struct seg_pos {
	bool in;	  /* the rep has a segment of this kind */
	bool has_pillars; /* avg_pillar is known */
	char value[2 * SSI_ID_MAX + 2];
	struct ssid_rank_pos pos;
};

/*
 * The rep's position in each of their segments from the segments'
 * aggregates (one round trip each), ranked by ssi_rank; then the network.
 */
static int read_positions(struct ctl *c, const char *user, const struct rank_record *rec,
			  struct seg_pos sp[SEG__COUNT])
{
	struct ssi_rankagg agg;
	int total = rec->r.score.total, r = 0;

	memset(sp, 0, SEG__COUNT * sizeof(*sp));
	ssi_rankagg_init(&agg);
	for (int k = 0; k < SSID_RANK__COUNT && r == 0; k++) {
		struct ssi_rank_place pl;

		r = read_segment(c, (enum ssid_rank_kind)k, rec->segp, 0, &agg, &sp[k].in);
		if (r != 0 || !sp[k].in)
			continue;
		segment_value((enum ssid_rank_kind)k, rec->segp, sp[k].value, sizeof(sp[k].value));
		if (ssi_hist_get(&agg.hist, total) == 0)
			continue; /* not counted in the segment its record names: shown as absent */
		ssi_rankagg_place(&agg, total, c->cfg.rank_min_members, &pl);
		ssid_rank_pos_set(&sp[k].pos, &pl);
		sp[k].has_pillars = true;
	}
	ssi_rankagg_clear(&agg);
	if (r != 0)
		return r;
	sp[SEG_NETWORK].in = true;
	r = ssid_network_rank(c->rd, user, c->cfg.rank_min_members, &sp[SEG_NETWORK].pos, NULL);
	if (r < 0)
		return redis_error(c, r, ssid_redis_errstr(c->rd));
	return 0;
}

/* One segment of rank in JSON: null when not in one, nothing but "hidden" when hidden. */
static json_t *position_json(const struct seg_pos *sp)
{
	json_t *o, *avg;

	if (!sp->in || !sp->pos.present)
		return json_null();
	o = json_object();
	json_object_set_new(o, "value", string_or_null(sp->value));
	if (sp->pos.hidden) {
		json_object_set_new(o, "hidden", json_true());
		return o;
	}
	json_object_set_new(o, "rank", json_integer(sp->pos.rank));
	json_object_set_new(o, "of", json_integer(sp->pos.of));
	json_object_set_new(o, "top_percent", json_integer(sp->pos.top_percent));
	avg = json_object();
	json_object_set_new(avg, "ssi", json_real(sp->pos.avg_total));
	if (sp->has_pillars) {
		json_t *p = json_object();

		for (int i = 0; i < SSI_PILLAR__COUNT; i++)
			json_object_set_new(p, ssi_pillar_name((enum ssi_pillar)i),
					    json_real(sp->pos.avg_pillar[i]));
		json_object_set_new(avg, "pillars", p);
	}
	json_object_set_new(o, "average", avg);
	return o;
}

/* The width of the value column, so that the table stays aligned. */
static int value_width(const struct seg_pos *sp, int n)
{
	int w = 5;

	for (int k = 0; k < n; k++)
		if (sp[k].in && (int)strlen(sp[k].value) > w)
			w = (int)strlen(sp[k].value);
	return w;
}

/* rank: the rep's position in every segment kind. */
static int cmd_rank(struct ctl *c, const char *user)
{
	struct rank_record rec;
	struct seg_pos sp[SEG__COUNT];
	char b[16];
	int r, w;

	r = read_rank_record(c, user, &rec);
	if (r == 0)
		r = read_positions(c, user, &rec, sp);
	if (r != 0)
		return r;
	if (c->json) {
		json_t *o = json_object(), *segs = json_object();

		json_object_set_new(o, "user_id", json_string(user));
		json_object_set_new(o, "ssi", points_json(rec.r.score.total));
		json_object_set_new(o, "min_members", json_integer(c->cfg.rank_min_members));
		for (int k = 0; k < SEG__COUNT; k++)
			json_object_set_new(segs, seg_kind_name(k), position_json(&sp[k]));
		json_object_set_new(o, "segments", segs);
		return emit(c, o);
	}
	w = value_width(sp, SEG__COUNT);
	fprintf(c->out, "%-9s %-*s %7s %7s %6s %8s\n", "segment", w, "value", "rank", "of", "top %",
		"average");
	for (int k = 0; k < SEG__COUNT; k++) {
		const struct ssid_rank_pos *pos = &sp[k].pos;

		fprintf(c->out, "%-9s ", seg_kind_name(k));
		put_clean(c->out, sp[k].in && sp[k].value[0] ? sp[k].value : "-", w);
		if (!sp[k].in)
			fprintf(c->out, " not in a segment (%s)\n",
				missing_why((enum ssid_rank_kind)k));
		else if (!pos->present)
			fprintf(c->out, " not ranked in it\n");
		else if (pos->hidden)
			fprintf(c->out, " hidden (fewer than %d members)\n",
				c->cfg.rank_min_members);
		else
			fprintf(c->out, " %7lld %7lld %6d %8s\n", (long long)pos->rank,
				(long long)pos->of, pos->top_percent,
				cp((int)lround(pos->avg_total * 100.0), b, sizeof(b)));
	}
	fflush(c->out);
	return 0;
}

/* ---- around ------------------------------------------------------------------ */

/*
 * One segment of around. Its size, ranks and whether the rep is counted
 * come from the segment's aggregate; its neighbours from one walk over every
 * record, keeping in member order (ssi_rank_member_before) the K closest
 * members before the rep and the K closest after.
 */
struct window {
	bool in, hidden, found;
	char value[2 * SSI_ID_MAX + 2];
	char *field; /* ssid_rank's name of the segment */
	struct ssi_rankagg agg;
	struct ssi_rank_member self;
	struct ssi_rank_member *before; /* K slots, best first */
	size_t nbefore;
	struct ssi_rank_top after; /* best first */
	struct ssid_rank_entry *entry;
	size_t n;
};

static void windows_free(struct window *w, int n)
{
	for (int k = 0; k < n; k++) {
		free(w[k].field);
		ssi_rankagg_clear(&w[k].agg);
		free(w[k].before);
		ssi_rank_top_clear(&w[k].after);
		free(w[k].entry);
	}
}

/* Whether user is already kept in a window (HSCAN may return a record twice). */
static bool window_has(const struct window *w, const char *user)
{
	for (size_t i = 0; i < w->nbefore; i++)
		if (strcmp(w->before[i].user_id, user) == 0)
			return true;
	for (size_t i = 0; i < w->after.n; i++)
		if (strcmp(w->after.m[i].user_id, user) == 0)
			return true;
	return false;
}

/* Offer a member of the segment other than the rep to its window of k either side. */
static int window_offer(struct window *w, size_t k, const struct ssi_rank_member *m)
{
	size_t at;

	if (!ssi_rank_member_before(m, &w->self)) {
		if (w->after.n == k && !ssi_rank_member_before(m, &w->after.m[k - 1]))
			return 0;
		return window_has(w, m->user_id)
			   ? 0
			   : ssi_rank_top_offer(&w->after, k, m->user_id, m->total);
	}
	/* Before the rep: the k closest are the k last in order. */
	if (w->nbefore == k && !ssi_rank_member_before(&w->before[0], m))
		return 0;
	if (window_has(w, m->user_id))
		return 0;
	if (w->nbefore == k) {
		memmove(w->before, w->before + 1, (k - 1) * sizeof(*w->before));
		w->nbefore--;
	}
	for (at = w->nbefore; at > 0 && ssi_rank_member_before(m, &w->before[at - 1]); at--)
		w->before[at] = w->before[at - 1];
	w->before[at] = *m;
	w->nbefore++;
	return 0;
}

struct around_walk {
	struct window *w;
	size_t k;
};

static int around_take(void *ctx, const char *user_id, const struct ssi_rank_record *rec)
{
	struct around_walk *aw = ctx;
	struct ssi_rank_member m;

	if (strcmp(user_id, aw->w[0].self.user_id) == 0)
		return 0;
	snprintf(m.user_id, sizeof(m.user_id), "%s", user_id);
	m.total = rec->score.total;
	for (int k = 0; k < SSID_RANK__COUNT; k++) {
		struct window *w = &aw->w[k];
		int r;

		if (!w->before || !record_in(rec, (enum ssid_rank_kind)k, w->field))
			continue;
		r = window_offer(w, aw->k, &m);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The rep and its neighbours as ranked entries: rank = 1 + members strictly above. */
static int window_entries(struct window *w)
{
	size_t n = w->nbefore + 1 + w->after.n, j = 0;

	w->entry = calloc(n, sizeof(*w->entry));
	if (!w->entry)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct ssi_rank_member *m = i < w->nbefore ? &w->before[i]
						  : i == w->nbefore
						      ? &w->self
						      : &w->after.m[i - w->nbefore - 1];

		snprintf(w->entry[j].user_id, sizeof(w->entry[j].user_id), "%s", m->user_id);
		w->entry[j].total = m->total;
		w->entry[j].rank = 1 + (int64_t)ssi_hist_above(&w->agg.hist, m->total);
		j++;
	}
	w->n = j;
	return 0;
}

/* The windows of every segment of the rep: the aggregates, then one walk over every record. */
static int read_windows(struct ctl *c, const char *user, const struct rank_record *rec,
			struct window w[SSID_RANK__COUNT])
{
	struct around_walk aw = {.w = w, .k = (size_t)c->k};
	bool walk = false, oom;
	int r = 0;

	for (int k = 0; k < SSID_RANK__COUNT && r == 0; k++) {
		struct ssi_rank_place pl;

		snprintf(w[k].self.user_id, sizeof(w[k].self.user_id), "%s", user);
		w[k].self.total = rec->r.score.total;
		r = read_segment(c, (enum ssid_rank_kind)k, rec->segp, 0, &w[k].agg, &w[k].in);
		if (r != 0 || !w[k].in)
			continue;
		segment_value((enum ssid_rank_kind)k, rec->segp, w[k].value, sizeof(w[k].value));
		ssi_rankagg_place(&w[k].agg, w[k].self.total, c->cfg.rank_min_members, &pl);
		w[k].hidden = pl.hidden;
		w[k].found = ssi_hist_get(&w[k].agg.hist, w[k].self.total) > 0;
		if (w[k].hidden || !w[k].found)
			continue;
		w[k].field = segment_field((enum ssid_rank_kind)k, rec->segp, &oom);
		w[k].before = calloc((size_t)c->k, sizeof(*w[k].before));
		if (!w[k].field || !w[k].before)
			return fail(c, SSID_CTL_EXIT_SOFTWARE, "out of memory");
		walk = true;
	}
	if (r != 0 || !walk)
		return r;
	r = ssid_rank_read_each(c->rd, c->parts, c->nparts, around_take, &aw);
	for (int k = 0; k < SSID_RANK__COUNT && r == 0; k++)
		if (w[k].before)
			r = window_entries(&w[k]);
	if (r < 0)
		return redis_error(c, r, ssid_redis_errstr(c->rd));
	return 0;
}

/* Ranked entries in JSON; "self" marks the rep when there is one (around). */
static json_t *entries_json(const struct ssid_rank_entry *e, size_t n, const char *self)
{
	json_t *a = json_array();

	for (size_t j = 0; j < n; j++) {
		json_t *o = json_pack("{s:I, s:s, s:o}", "rank", (json_int_t)e[j].rank, "user_id",
				      e[j].user_id, "ssi", points_json(e[j].total));

		if (self)
			json_object_set_new(o, "self",
					    json_boolean(strcmp(e[j].user_id, self) == 0));
		json_array_append_new(a, o);
	}
	return a;
}

/* The width of the user column. */
static int entries_width(const struct ssid_rank_entry *e, size_t n)
{
	int w = 4;

	for (size_t j = 0; j < n; j++)
		if ((int)strlen(e[j].user_id) > w)
			w = (int)strlen(e[j].user_id);
	return w;
}

/* Ranked entries as a table, the rep marked with ">". */
static void entries_text(struct ctl *c, const struct ssid_rank_entry *e, size_t n, const char *self)
{
	int w = entries_width(e, n);
	char b[16];

	fprintf(c->out, "  %7s  %-*s %6s\n", "rank", w, "user", "SSI");
	for (size_t j = 0; j < n; j++) {
		bool me = self && strcmp(e[j].user_id, self) == 0;

		fprintf(c->out, "%c %7lld  ", me ? '>' : ' ', (long long)e[j].rank);
		put_clean(c->out, e[j].user_id, w);
		fprintf(c->out, " %6s\n", cp(e[j].total, b, sizeof(b)));
	}
}

/* "industry software", "global": what a block of output is about. */
static void segment_title(struct ctl *c, int kind, const char *value)
{
	fputs(seg_kind_name(kind), c->out);
	if (value && value[0]) {
		fputc(' ', c->out);
		put_clean(c->out, value, 0);
	}
}

/* around: the neighbours of the rep in each segment. */
static int cmd_around(struct ctl *c, const char *user)
{
	struct rank_record rec;
	struct window w[SSID_RANK__COUNT];
	int r;

	memset(w, 0, sizeof(w));
	for (int k = 0; k < SSID_RANK__COUNT; k++)
		ssi_rankagg_init(&w[k].agg);
	r = read_rank_record(c, user, &rec);
	if (r == 0)
		r = read_windows(c, user, &rec, w);
	if (r != 0) {
		windows_free(w, SSID_RANK__COUNT);
		return r;
	}
	if (c->json) {
		json_t *o = json_object(), *segs = json_object();

		json_object_set_new(o, "user_id", json_string(user));
		json_object_set_new(o, "k", json_integer(c->k));
		json_object_set_new(o, "min_members", json_integer(c->cfg.rank_min_members));
		for (int k = 0; k < SSID_RANK__COUNT; k++) {
			json_t *s;

			if (!w[k].in || !w[k].found) {
				json_object_set_new(segs, seg_kind_name(k), json_null());
				continue;
			}
			s = json_object();
			json_object_set_new(s, "value", string_or_null(w[k].value));
			if (w[k].hidden) {
				json_object_set_new(s, "hidden", json_true());
			} else {
				json_object_set_new(s, "of", json_integer(w[k].agg.n));
				json_object_set_new(s, "entries",
						    entries_json(w[k].entry, w[k].n, user));
			}
			json_object_set_new(segs, seg_kind_name(k), s);
		}
		json_object_set_new(o, "segments", segs);
		windows_free(w, SSID_RANK__COUNT);
		return emit(c, o);
	}
	for (int k = 0; k < SSID_RANK__COUNT; k++) {
		if (k > 0)
			fputc('\n', c->out);
		segment_title(c, k, w[k].value);
		if (!w[k].in)
			fprintf(c->out, ": not in a segment (%s)\n",
				missing_why((enum ssid_rank_kind)k));
		else if (!w[k].found)
			fprintf(c->out, ": not ranked in it\n");
		else if (w[k].hidden)
			fprintf(c->out, ": hidden (fewer than %d members)\n",
				c->cfg.rank_min_members);
		else {
			fprintf(c->out, ": %lld reps\n", (long long)w[k].agg.n);
			entries_text(c, w[k].entry, w[k].n, user);
		}
	}
	fflush(c->out);
	windows_free(w, SSID_RANK__COUNT);
	return 0;
}

/* ---- top ------------------------------------------------------------------- */

/* A walk collecting the best members of one segment, for boards longer than the stored lists. */
struct top_walk {
	enum ssid_rank_kind kind;
	const char *field;
	size_t keep;
	struct ssi_rank_top top;
};

static int top_take(void *ctx, const char *user_id, const struct ssi_rank_record *rec)
{
	struct top_walk *tw = ctx;
	const struct ssi_rank_top *t = &tw->top;
	struct ssi_rank_member m;

	if (tw->kind != SSID_RANK_GLOBAL && !record_in(rec, tw->kind, tw->field))
		return 0;
	snprintf(m.user_id, sizeof(m.user_id), "%s", user_id);
	m.total = rec->score.total;
	if (t->n == tw->keep && !ssi_rank_member_before(&m, &t->m[t->n - 1]))
		return 0;
	for (size_t i = 0; i < t->n; i++) /* HSCAN may return a record twice */
		if (strcmp(t->m[i].user_id, user_id) == 0)
			return 0;
	return ssi_rank_top_offer(&tw->top, tw->keep, user_id, m.total);
}

/*
 * The best n members of bd's segment into bd->entry (allocated) and its
 * size: the partitions' stored top lists (rank.top_n long) when they reach
 * that far, else a walk over every record. Ranks are 1 + the members
 * strictly above. 0 or an exit code.
 */
static int read_board(struct ctl *c, struct ssid_rank_board *bd, size_t n)
{
	size_t stored = (size_t)c->cfg.rank_top_n, want;
	struct top_walk tw = {.kind = bd->kind, .keep = n};
	const struct ssi_rank_top *list;
	struct ssi_rankagg agg;
	char *field = NULL;
	bool in = false, oom;
	int r;

	if (stored > SSI_RANK_TOP_KEEP)
		stored = SSI_RANK_TOP_KEEP;
	ssi_rankagg_init(&agg);
	r = read_parts(c);
	if (r == 0)
		r = read_segment(c, bd->kind, bd->segment, n, &agg, &in);
	bd->of = in ? agg.n : 0;
	bd->hidden = bd->of < c->cfg.rank_min_members;
	if (r != 0 || bd->of == 0 || bd->hidden)
		goto out;
	want = (uint64_t)agg.n < n ? (size_t)agg.n : n;
	list = &agg.top;
	if (n > stored || agg.top.n < want) {
		field = segment_field(bd->kind, bd->segment, &oom);
		tw.field = field;
		r = field ? ssid_rank_read_each(c->rd, c->parts, c->nparts, top_take, &tw)
			  : -ENOMEM;
		if (r < 0) {
			r = redis_error(c, r, ssid_redis_errstr(c->rd));
			goto out;
		}
		list = &tw.top;
	}
	bd->n = list->n < n ? list->n : n;
	bd->entry = calloc(bd->n ? bd->n : 1, sizeof(*bd->entry));
	if (!bd->entry) {
		r = fail(c, SSID_CTL_EXIT_SOFTWARE, "out of memory");
		goto out;
	}
	for (size_t j = 0; j < bd->n; j++) {
		struct ssid_rank_entry *e = &bd->entry[j];

		snprintf(e->user_id, sizeof(e->user_id), "%s", list->m[j].user_id);
		e->total = list->m[j].total;
		e->rank = 1 + (int64_t)ssi_hist_above(&agg.hist, e->total);
	}
out:
	ssi_rank_top_clear(&tw.top);
	ssi_rankagg_clear(&agg);
	free(field);
	return r;
}

/* top: one leaderboard, from the segment's aggregates. */
static int cmd_top(struct ctl *c, int argc, char **argv)
{
	struct ssid_rank_board bd;
	char team_buf[2 * SSI_ID_MAX + 2], value[2 * SSI_ID_MAX + 2];
	const char *kind_word = argv[0];
	int kind = -1, r;

	memset(&bd, 0, sizeof(bd));
	for (int k = 0; k < SSID_RANK__COUNT; k++)
		if (strcmp(kind_word, ssid_rank_kind_name((enum ssid_rank_kind)k)) == 0)
			kind = k;
	if (kind < 0)
		return usage_error(
		    c, "top: unknown segment kind '%s' (global, industry, tenant, team)",
		    kind_word);
	bd.kind = (enum ssid_rank_kind)kind;
	switch (bd.kind) {
	case SSID_RANK_GLOBAL:
		if (argc != 1)
			return usage_error(c, "top global takes no value");
		break;
	case SSID_RANK_INDUSTRY:
	case SSID_RANK_TENANT:
		if (argc != 2 || !argv[1][0] || strlen(argv[1]) > SSI_ID_MAX)
			return usage_error(c, "top %s takes one NAME (1 to %d bytes)", kind_word,
					   SSI_ID_MAX);
		bd.segment[bd.kind == SSID_RANK_INDUSTRY ? SSI_SEG_INDUSTRY : SSI_SEG_TENANT] =
		    argv[1];
		break;
	default: /* team: TENANT/TEAM or TENANT TEAM */
		if (argc == 2 && strchr(argv[1], '/') && strlen(argv[1]) < sizeof(team_buf)) {
			char *slash;

			snprintf(team_buf, sizeof(team_buf), "%s", argv[1]);
			slash = strchr(team_buf, '/');
			*slash = '\0';
			bd.segment[SSI_SEG_TENANT] = team_buf;
			bd.segment[SSI_SEG_TEAM] = slash + 1;
		} else if (argc == 3) {
			bd.segment[SSI_SEG_TENANT] = argv[1];
			bd.segment[SSI_SEG_TEAM] = argv[2];
		}
		if (!bd.segment[SSI_SEG_TENANT] || !bd.segment[SSI_SEG_TENANT][0] ||
		    !bd.segment[SSI_SEG_TEAM][0] ||
		    strlen(bd.segment[SSI_SEG_TENANT]) > SSI_ID_MAX ||
		    strlen(bd.segment[SSI_SEG_TEAM]) > SSI_ID_MAX)
			return usage_error(c, "top team takes TENANT/TEAM (or TENANT TEAM)");
		break;
	}
	if (bd.kind != SSID_RANK_TEAM && argc > 2)
		return usage_error(c, "top %s: too many arguments", kind_word);
	r = read_board(c, &bd, (size_t)(c->opts & OPT_N ? c->n : SSID_RANK_DEFAULT_TOP_N));
	if (r != 0)
		goto out;
	segment_value(bd.kind, bd.segment, value, sizeof(value));
	if (bd.of == 0) {
		r = fail(c, SSID_CTL_EXIT_UNKNOWN_SEGMENT,
			 "unknown segment: %s%s%s (no ranked rep)", kind_word, value[0] ? " " : "",
			 value);
		goto out;
	}
	if (c->json) {
		json_t *o = json_object();

		json_object_set_new(o, "segment", json_string(kind_word));
		json_object_set_new(o, "value", string_or_null(value));
		if (bd.hidden) {
			json_object_set_new(o, "hidden", json_true());
		} else {
			json_object_set_new(o, "of", json_integer(bd.of));
			json_object_set_new(o, "entries", entries_json(bd.entry, bd.n, NULL));
		}
		r = emit(c, o);
		goto out;
	}
	segment_title(c, (int)bd.kind, value);
	if (bd.hidden) {
		fprintf(c->out, ": hidden (fewer than %d members)\n", c->cfg.rank_min_members);
	} else {
		fprintf(c->out, ": top %zu of %lld reps\n", bd.n, (long long)bd.of);
		entries_text(c, bd.entry, bd.n, NULL);
	}
	fflush(c->out);
out:
	free(bd.entry);
	return r;
}

/* ---- history ------------------------------------------------------------------- */

/* history: the score in effect on each of the last days, from the first known one. */
static int cmd_history(struct ctl *c, const char *user)
{
	struct ssi_history h;
	struct ssi_history_entry *pts = NULL;
	int32_t today = ssi_time_day(c->now_ms), from = today - c->days + 1;
	char date[SSI_TIME_BUFLEN], b[5][16];
	long n = 0;
	int r;

	ssi_history_init(&h);
	r = ssid_history_load(c->hist, user, &h);
	if (r == -EBADMSG || r == -EPROTONOSUPPORT) {
		r = fail(c, SSID_CTL_EXIT_UNREADABLE,
			 "the stored history of '%s' is unreadable: %s", user,
			 r == -EPROTONOSUPPORT ? "written by a newer ssid" : "corrupt");
		goto out;
	}
	if (r < 0) {
		r = redis_error(c, r, ssid_history_errstr(c->hist));
		goto out;
	}
	if (r == 0) {
		int exists = user_exists(c, user);

		if (exists <= 0) {
			r = exists < 0 ? -exists : unknown_user(c, user);
			goto out;
		}
	}
	pts = calloc((size_t)c->days, sizeof(*pts));
	if (!pts) {
		r = fail(c, SSID_CTL_EXIT_SOFTWARE, "out of memory");
		goto out;
	}
	n = ssi_history_get(&h, from, today, pts, (size_t)c->days);
	if (n < 0)
		n = 0;
	r = 0;
	if (c->json) {
		json_t *o = json_object(), *days = json_array();

		json_object_set_new(o, "user_id", json_string(user));
		date_of(from, date);
		json_object_set_new(o, "from", json_string(date));
		date_of(today, date);
		json_object_set_new(o, "to", json_string(date));
		for (long i = 0; i < n; i++) {
			json_t *d = json_object(), *sc = score_json(&pts[i].score);

			date_of(pts[i].day, date);
			json_object_set_new(d, "date", json_string(date));
			json_object_update(d, sc);
			json_decref(sc);
			json_array_append_new(days, d);
		}
		json_object_set_new(o, "days", days);
		r = emit(c, o);
		goto out;
	}
	if (n == 0) {
		fprintf(c->out, "no score recorded in the last %d days\n", c->days);
	} else {
		fprintf(c->out, "%-10s %7s %7s %7s %9s %14s\n", "date", "SSI", "brand", "people",
			"insights", "relationships");
		for (long i = 0; i < n; i++) {
			date_of(pts[i].day, date);
			fprintf(c->out, "%-10s %7s %7s %7s %9s %14s\n", date,
				cp(pts[i].score.total, b[0], sizeof(b[0])),
				cp(pts[i].score.pillar[0], b[1], sizeof(b[1])),
				cp(pts[i].score.pillar[1], b[2], sizeof(b[2])),
				cp(pts[i].score.pillar[2], b[3], sizeof(b[3])),
				cp(pts[i].score.pillar[3], b[4], sizeof(b[4])));
		}
	}
	fflush(c->out);
out:
	free(pts);
	ssi_history_clear(&h);
	return r;
}

/* ---- alerts -------------------------------------------------------------------- */

struct alert {
	json_t *msg;
	const char *as_of; /* inside msg */
	int32_t partition;
	int64_t offset;
};

struct alerts {
	struct alert *a;
	size_t n, cap;
};

/* A string member of an alert, "" when absent or not a string. */
static const char *jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

/* Alerts oldest first (as_of is UTC with fixed width), then in topic order. */
static int by_time(const void *x, const void *y)
{
	const struct alert *a = x, *b = y;
	int d = strcmp(a->as_of, b->as_of);

	if (d)
		return d;
	if (a->partition != b->partition)
		return a->partition < b->partition ? -1 : 1;
	return a->offset < b->offset ? -1 : a->offset > b->offset;
}

/* One alert as "time  user  rule  why". */
static void alert_line(struct ctl *c, const json_t *a, int wuser, int wrule)
{
	put_clean(c->out, jstr(a, "as_of"), 24);
	fputs("  ", c->out);
	put_clean(c->out, jstr(a, "user_id"), wuser);
	fputs("  ", c->out);
	put_clean(c->out, jstr(a, "rule"), wrule);
	fputs("  ", c->out);
	put_clean(c->out, jstr(a, "why"), 0);
	fputc('\n', c->out);
}

/* An alert message, parsed; NULL for anything else on the topic. */
static json_t *alert_parse(const rd_kafka_message_t *m)
{
	json_t *o;

	if (!m->payload || m->len == 0)
		return NULL;
	o = json_loadb(m->payload, m->len, 0, NULL);
	if (o && (!json_is_object(o) || strcmp(jstr(o, "type"), "alert") != 0)) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

/* librdkafka's own log stays out of the output: failures are reported by ssictl. */
static void kafka_quiet_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	(void)level;
	(void)fac;
	(void)buf;
}

/* The first line of the file ssid writes its embedded cluster's address to. */
static int read_bootstrap_file(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	int r = 0;

	if (!f)
		return -errno;
	if (!fgets(buf, (int)len, f))
		r = -ENODATA;
	fclose(f);
	if (r == 0) {
		buf[strcspn(buf, "\r\n")] = '\0';
		if (!buf[0])
			r = -ENODATA;
	}
	return r;
}

/* A consumer of the output topic that joins no group and commits nothing. */
static int alerts_consumer(struct ctl *c, rd_kafka_t **out)
{
	char errstr[1024], bootstrap[1024], group[64];
	const char *bs = NULL;
	rd_kafka_conf_t *conf = NULL;
	struct timespec ts;
	int r;

	if (c->cfg.mock_cluster_brokers > 0) {
		if (!c->cfg.mock_cluster_bootstrap_file[0])
			return fail(
			    c, SSID_CTL_EXIT_CONFIG,
			    "%s: mock_cluster.brokers without mock_cluster.bootstrap_file: "
			    "the embedded cluster lives in ssid's process, and ssictl finds "
			    "it through that file",
			    c->config_path);
		r = read_bootstrap_file(c->cfg.mock_cluster_bootstrap_file, bootstrap,
					sizeof(bootstrap));
		if (r < 0)
			return fail(
			    c, SSID_CTL_EXIT_UNAVAILABLE,
			    "%s: cannot read the mock cluster's address (is ssid running?): "
			    "%s",
			    c->cfg.mock_cluster_bootstrap_file,
			    r == -ENODATA ? "empty" : strerror(-r));
		bs = bootstrap;
	}
	if (ssid_kafka_conf_new(&conf, &c->cfg, SSID_KAFKA_CONSUMER, bs, errstr, sizeof(errstr)) <
	    0)
		return fail(c, SSID_CTL_EXIT_CONFIG, "%s", errstr);
	/* A group of its own: never the daemon's, whose offsets it must not touch. */
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(group, sizeof(group), "ssictl-%ld-%lx", (long)getpid(),
		 (unsigned long)(ts.tv_nsec ^ ts.tv_sec));
	if (rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof(errstr)) ||
	    rd_kafka_conf_set(conf, "enable.partition.eof", "true", errstr, sizeof(errstr))) {
		rd_kafka_conf_destroy(conf);
		return fail(c, SSID_CTL_EXIT_SOFTWARE, "kafka: %s", errstr);
	}
	rd_kafka_conf_set_log_cb(conf, kafka_quiet_log);
	*out = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	if (!*out) {
		rd_kafka_conf_destroy(conf);
		return fail(c, SSID_CTL_EXIT_CONFIG, "kafka: %s", errstr);
	}
	rd_kafka_poll_set_consumer(*out);
	return 0;
}

/*
 * Assign every partition of the output topic: from its start (and remember
 * its end in hi) to read what is there, or from its end to follow.
 */
static int alerts_assign(struct ctl *c, rd_kafka_t *rk, bool follow, int64_t **hi_out, int *nparts)
{
	const char *topic = c->cfg.output_topic;
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_partition_list_t *list = NULL;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	rd_kafka_resp_err_t err;
	int64_t *hi = NULL;
	int r = 0, n;

	if (!rkt)
		return fail(c, SSID_CTL_EXIT_SOFTWARE, "kafka: cannot use topic %s", topic);
	err = rd_kafka_metadata(rk, 0, rkt, &md, KAFKA_TIMEOUT_MS);
	if (err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 && md->topics[0].err)
		err = md->topics[0].err;
	if (err) {
		r = fail(c, SSID_CTL_EXIT_UNAVAILABLE, "kafka: topic %s: %s", topic,
			 rd_kafka_err2str(err));
		goto out;
	}
	/* hi is indexed by partition id (0..n-1 in Kafka, in whatever order they come). */
	n = 0;
	for (int i = 0; md->topic_cnt == 1 && i < md->topics[0].partition_cnt; i++)
		if (md->topics[0].partitions[i].id >= n)
			n = md->topics[0].partitions[i].id + 1;
	hi = malloc((size_t)(n ? n : 1) * sizeof(*hi));
	list = rd_kafka_topic_partition_list_new(n ? n : 1);
	if (!hi || !list) {
		r = fail(c, SSID_CTL_EXIT_SOFTWARE, "out of memory");
		goto out;
	}
	for (int i = 0; i < n; i++)
		hi[i] = -1; /* -1: nothing (more) to read there */
	for (int i = 0; md->topic_cnt == 1 && i < md->topics[0].partition_cnt; i++) {
		int32_t id = md->topics[0].partitions[i].id;
		int64_t lo = 0, high = 0;

		if (id < 0)
			continue;
		err = rd_kafka_query_watermark_offsets(rk, topic, id, &lo, &high, KAFKA_TIMEOUT_MS);
		if (err) {
			r = fail(c, SSID_CTL_EXIT_UNAVAILABLE, "kafka: %s [%d]: %s", topic, (int)id,
				 rd_kafka_err2str(err));
			goto out;
		}
		if (follow || high > lo) {
			rd_kafka_topic_partition_list_add(list, topic, id)->offset =
			    follow ? high : lo;
			hi[id] = high;
		}
	}
	err = rd_kafka_assign(rk, list);
	if (err)
		r = fail(c, SSID_CTL_EXIT_UNAVAILABLE, "kafka: assign %s: %s", topic,
			 rd_kafka_err2str(err));
	*nparts = n;
out:
	if (r == 0) {
		*hi_out = hi;
		hi = NULL;
	}
	free(hi);
	if (list)
		rd_kafka_topic_partition_list_destroy(list);
	if (md)
		rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(rkt);
	return r;
}

/* Whether every partition assigned for reading has been read to its end. */
static bool all_done(const int64_t *hi, int n)
{
	for (int i = 0; i < n; i++)
		if (hi[i] >= 0)
			return false;
	return true;
}

/* Collect the alerts up to the ends noted at assignment; a stalled read is exit 69. */
static int alerts_read(struct ctl *c, rd_kafka_t *rk, int64_t *hi, int n, struct alerts *al)
{
	struct timespec ts;
	int64_t idle_since;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	idle_since = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	while (!all_done(hi, n) && !atomic_load(&stop_requested)) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		int64_t now;
		int32_t p;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
		if (!m) {
			if (now - idle_since > KAFKA_TIMEOUT_MS)
				return fail(c, SSID_CTL_EXIT_UNAVAILABLE,
					    "kafka: %s: no progress for %d ms", c->cfg.output_topic,
					    KAFKA_TIMEOUT_MS);
			continue;
		}
		idle_since = now;
		p = m->partition;
		if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			int r = fail(c, SSID_CTL_EXIT_UNAVAILABLE, "kafka: %s: %s",
				     c->cfg.output_topic, rd_kafka_message_errstr(m));

			rd_kafka_message_destroy(m);
			return r;
		}
		if (!m->err) {
			json_t *a = alert_parse(m);

			if (a && al->n == al->cap) {
				size_t cap = al->cap ? 2 * al->cap : 64;
				struct alert *grown = realloc(al->a, cap * sizeof(*grown));

				if (!grown) {
					json_decref(a);
					rd_kafka_message_destroy(m);
					return fail(c, SSID_CTL_EXIT_SOFTWARE, "out of memory");
				}
				al->a = grown;
				al->cap = cap;
			}
			if (a)
				al->a[al->n++] = (struct alert){a, jstr(a, "as_of"), p, m->offset};
		}
		if (p >= 0 && p < n && hi[p] >= 0 &&
		    (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF || m->offset + 1 >= hi[p]))
			hi[p] = -1;
		rd_kafka_message_destroy(m);
	}
	return 0;
}

/* The collected alerts, oldest first, in aligned columns or one JSON document. */
static int alerts_print(struct ctl *c, struct alerts *al)
{
	int wuser = 4, wrule = 4;

	if (al->n > 1)
		qsort(al->a, al->n, sizeof(*al->a), by_time);
	if (c->json) {
		json_t *o = json_object(), *arr = json_array();

		json_object_set_new(o, "topic", json_string(c->cfg.output_topic));
		for (size_t i = 0; i < al->n; i++)
			json_array_append(arr, al->a[i].msg);
		json_object_set_new(o, "alerts", arr);
		return emit(c, o);
	}
	for (size_t i = 0; i < al->n; i++) {
		int u = (int)strlen(jstr(al->a[i].msg, "user_id")),
		    rl = (int)strlen(jstr(al->a[i].msg, "rule"));

		wuser = u > wuser ? u : wuser;
		wrule = rl > wrule ? rl : wrule;
	}
	if (al->n == 0)
		fprintf(c->out, "no alerts in %s\n", c->cfg.output_topic);
	for (size_t i = 0; i < al->n; i++)
		alert_line(c, al->a[i].msg, wuser, wrule);
	fflush(c->out);
	return 0;
}

/*
 * Print alerts as they arrive until ssid_ctl_request_stop; the notice on err says when it is
 * listening.
 */
static int alerts_follow(struct ctl *c, rd_kafka_t *rk, int nparts)
{
	fprintf(c->err, "ssictl: following %s (%d partitions) from its end; Ctrl-C to stop\n",
		c->cfg.output_topic, nparts);
	fflush(c->err);
	while (!atomic_load(&stop_requested)) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		json_t *a;

		if (!m)
			continue;
		if (m->err) {
			if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
				fprintf(c->err, "ssictl: kafka: %s\n", rd_kafka_message_errstr(m));
				fflush(c->err);
			}
			rd_kafka_message_destroy(m);
			continue;
		}
		a = alert_parse(m);
		rd_kafka_message_destroy(m);
		if (!a)
			continue;
		if (c->json) {
			json_dumpf(a, c->out, JSON_FLAGS);
			fputc('\n', c->out);
		} else {
			alert_line(c, a, 12, 16);
		}
		fflush(c->out);
		json_decref(a);
	}
	return 0;
}

/* alerts [--follow]: read or tail the output topic. */
static int cmd_alerts(struct ctl *c)
{
	struct alerts al = {0};
	rd_kafka_t *rk = NULL;
	int64_t *hi = NULL;
	int r, n = 0;

	r = alerts_consumer(c, &rk);
	if (r == 0)
		r = alerts_assign(c, rk, c->opts & OPT_FOLLOW, &hi, &n);
	if (r == 0 && (c->opts & OPT_FOLLOW))
		r = alerts_follow(c, rk, n);
	else if (r == 0)
		r = alerts_read(c, rk, hi, n, &al);
	if (r == 0 && !(c->opts & OPT_FOLLOW))
		r = alerts_print(c, &al);
	for (size_t i = 0; i < al.n; i++)
		json_decref(al.a[i].msg);
	free(al.a);
	free(hi);
	if (rk) {
		rd_kafka_consumer_close(rk);
		rd_kafka_destroy(rk);
	}
	return r;
}

/* ---- main ------------------------------------------------------------------ */

/* Options anywhere on the line (getopt permutes); *done after --help or --version. */
static int parse_command_line(struct ctl *c, int argc, char **argv, bool *done)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'}, {"json", no_argument, NULL, 'j'},
	    {"explain", no_argument, NULL, 'e'},      {"follow", no_argument, NULL, 'f'},
	    {"days", required_argument, NULL, 'd'},   {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},      {NULL, 0, NULL, 0},
	};
	int opt;

	*done = false;
	optind = 0; /* a full rescan: ssid_ctl_run may run more than once per process */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":c:jefd:k:n:hV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			c->config_path = optarg;
			break;
		case 'j':
			c->json = true;
			break;
		case 'e':
			c->opts |= OPT_EXPLAIN;
			break;
		case 'f':
			c->opts |= OPT_FOLLOW;
			break;
		case 'd':
			if (!parse_int(optarg, 1, SSI_HISTORY_RETENTION_MAX, &c->days))
				return usage_error(c, "--days takes a number of days, 1 to %d",
						   SSI_HISTORY_RETENTION_MAX);
			c->opts |= OPT_DAYS;
			break;
		case 'k':
			if (!parse_int(optarg, 1, AROUND_MAX, &c->k))
				return usage_error(c, "-k takes a number of reps, 1 to %d",
						   AROUND_MAX);
			c->opts |= OPT_K;
			break;
		case 'n':
			if (!parse_int(optarg, 1, SSID_RANK_TOP_MAX, &c->n))
				return usage_error(c, "-n takes a number of reps, 1 to %d",
						   SSID_RANK_TOP_MAX);
			c->opts |= OPT_N;
			break;
		case 'h':
			usage(c->out);
			*done = true;
			return 0;
		case 'V':
			fprintf(c->out, "ssictl %s\n", SSID_VERSION);
			*done = true;
			return 0;
		case ':':
			return usage_error(c, "option %s needs a value", argv[optind - 1]);
		default:
			if (optopt)
				return usage_error(c, "unknown option -%c", optopt);
			return usage_error(c, "unknown option %s", argv[optind - 1]);
		}
	}
	return 0;
}

/* Configuration first, then connections, then the command: so that exit codes say which failed. */
static int dispatch(struct ctl *c, enum command cmd, int nargs, char **args)
{
	int r;

	if (cmd != CMD_TOP && nargs == 1 && (r = check_user_id(c, args[0])) != 0)
		return r;
	r = load_config(c, cmd == CMD_SCORE);
	if (r != 0)
		return r;
	if (cmd == CMD_ALERTS)
		return cmd_alerts(c);
	r = open_redis(c);
	if (r != 0)
		return r;
	switch (cmd) {
	case CMD_SCORE:
		return cmd_score(c, args[0]);
	case CMD_RANK:
		return cmd_rank(c, args[0]);
	case CMD_AROUND:
		return cmd_around(c, args[0]);
	case CMD_TOP:
		return cmd_top(c, nargs, args);
	case CMD_HISTORY:
		return cmd_history(c, args[0]);
	default:
		return SSID_CTL_EXIT_SOFTWARE;
	}
}

/* Check the command line against the command table, run it, release everything. */
int ssid_ctl_run(int argc, char **argv, FILE *out, FILE *err)
{
	struct ctl c = {
	    .out = out,
	    .err = err,
	    .config_path = SSID_CTL_DEFAULT_CONFIG,
	    .k = 3,
	    .n = SSID_RANK_DEFAULT_TOP_N,
	    .days = 30,
	};
	const struct command_info *ci = NULL;
	enum command cmd = CMD__COUNT;
	bool done;
	int r, nargs;

	atomic_store(&stop_requested, 0);
	r = parse_command_line(&c, argc, argv, &done);
	if (r != 0 || done)
		return r;
	if (optind >= argc)
		return usage_error(&c, "no command given");
	for (int i = 0; i < CMD__COUNT; i++)
		if (strcmp(argv[optind], commands[i].name) == 0)
			cmd = (enum command)i;
	if (cmd == CMD__COUNT)
		return usage_error(&c, "unknown command '%s'", argv[optind]);
	ci = &commands[cmd];
	nargs = argc - optind - 1;
	if (nargs < ci->min_args || nargs > ci->max_args)
		return usage_error(&c, "usage: ssictl %s", ci->synopsis);
	for (unsigned i = 0; i < sizeof(opt_names) / sizeof(opt_names[0]); i++)
		if ((c.opts & (1u << i)) && !(ci->opts & (1u << i)))
			return usage_error(&c, "%s does not apply to %s", opt_names[i], ci->name);
	r = dispatch(&c, cmd, nargs, argv + optind + 1);
	ssid_history_free(c.hist);
	free(c.parts);
	ssid_store_free(c.store);
	ssid_redis_free(c.rd);
	ssid_config_free(&c.cfg);
	return r;
}
