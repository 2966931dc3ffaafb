/*
 * ssid_config: a "key = value" file checked against a declarative key table.
 *
 * Defaults are written in the table as text and go through the same parser
 * as the file, so a default can never be something the file could not say.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "ssi_time.h"
#include "ssid_config.h"
#include "ssid_file.h"
#include "ssid_rank.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* A configuration file is a few kilobytes; anything this big is a mistake. */
#define CONFIG_FILE_MAX SSID_FILE_MAX
/* Longest value quoted back in an error message. */
#define QUOTED_VALUE_MAX 64
/* Kafka's own limit on topic names. */
#define TOPIC_NAME_MAX 249

enum key_type {
	KEY_STRING,
	KEY_INT,
	KEY_DURATION, /* milliseconds, written as a plain integer */
	KEY_BOOL,
	KEY_DOUBLE,
	KEY_ENUM,
};

struct enum_choice {
	const char *name;
	int value;
};

struct config_key {
	const char *name;
	enum key_type type;
	size_t offset;
	const char *default_value;
	bool reloadable;
	long long min, max; /* KEY_INT, KEY_DURATION */
	double dmin, dmax;  /* KEY_DOUBLE */
	const struct enum_choice *choices;
	/* KEY_STRING: extra checks; describes what it wants in expected */
	bool (*valid)(const char *value);
	const char *expected;
	const char *help;
};

static const struct enum_choice log_levels[] = {
    {"debug", LOG_DEBUG},     {"info", LOG_INFO}, {"notice", LOG_NOTICE},
    {"warning", LOG_WARNING}, {"err", LOG_ERR},	  {NULL, 0},
};

static bool valid_nonempty(const char *value)
{
	return value[0] != '\0';
}

/* Kafka refuses other names anyway, but only when the daemon is already up. */
static bool valid_topic(const char *value)
{
	size_t len = strlen(value);

	if (len == 0 || len > TOPIC_NAME_MAX || strcmp(value, ".") == 0 || strcmp(value, "..") == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = value[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static bool valid_bands(const char *value)
{
	struct ssid_rank_bands bands;

	return ssid_rank_bands_parse(&bands, value) == 0;
}

static bool valid_clock(const char *value)
{
	struct ssid_config_clock clock;

	return ssid_config_parse_clock(value, &clock) == 0;
}

#define FIELD(f) offsetof(struct ssid_config, f)

#define STRING_KEY(n, f, def, reload, check, what, h)                                              \
	{                                                                                          \
		.name = n, .type = KEY_STRING, .offset = FIELD(f), .default_value = def,           \
		.reloadable = reload, .valid = check, .expected = what, .help = h                  \
	}
#define INT_KEY(n, f, def, lo, hi, reload, h)                                                      \
	{                                                                                          \
		.name = n, .type = KEY_INT, .offset = FIELD(f), .default_value = def,              \
		.reloadable = reload, .min = lo, .max = hi, .help = h                              \
	}
#define DURATION_KEY(n, f, def, lo, hi, reload, h)                                                 \
	{                                                                                          \
		.name = n, .type = KEY_DURATION, .offset = FIELD(f), .default_value = def,         \
		.reloadable = reload, .min = lo, .max = hi, .help = h                              \
	}
#define BOOL_KEY(n, f, def, reload, h)                                                             \
	{                                                                                          \
		.name = n, .type = KEY_BOOL, .offset = FIELD(f), .default_value = def,             \
		.reloadable = reload, .help = h                                                    \
	}
#define DOUBLE_KEY(n, f, def, lo, hi, reload, h)                                                   \
	{                                                                                          \
		.name = n, .type = KEY_DOUBLE, .offset = FIELD(f), .default_value = def,           \
		.reloadable = reload, .dmin = lo, .dmax = hi, .help = h                            \
	}
#define ENUM_KEY(n, f, def, list, reload, h)                                                       \
	{                                                                                          \
		.name = n, .type = KEY_ENUM, .offset = FIELD(f), .default_value = def,             \
		.reloadable = reload, .choices = list, .help = h                                   \
	}

#define TOPIC_EXPECTED "a Kafka topic name (1-249 characters from a-z A-Z 0-9 . _ -)"

static const struct config_key config_keys[] = {
    STRING_KEY("input.topic", input_topic, "ssi.events", false, valid_topic, TOPIC_EXPECTED,
	       "Kafka topic the activity events are consumed from"),
    STRING_KEY("output.topic", output_topic, "ssi.scores", false, valid_topic, TOPIC_EXPECTED,
	       "Kafka topic the score updates are produced to"),
    STRING_KEY("dlq.topic", dlq_topic, "ssi.events.dlq", false, valid_topic, TOPIC_EXPECTED,
	       "Kafka topic malformed events are forwarded to, with the reason"),

    STRING_KEY("redis.host", redis_host, "127.0.0.1", false, valid_nonempty,
	       "a host name or address", "Redis server host name or address"),
    INT_KEY("redis.port", redis_port, "6379", 1, 65535, false, "Redis server TCP port"),
    STRING_KEY("redis.unix_socket", redis_unix_socket, "", false, NULL, NULL,
	       "Redis Unix socket path; when set, used instead of redis.host/redis.port"),
    STRING_KEY("redis.user", redis_user, "", false, NULL, NULL,
	       "Redis ACL user for AUTH; empty: the default user"),
    STRING_KEY("redis.password", redis_password, "", false, NULL, NULL,
	       "Redis password for AUTH; empty: no AUTH"),
    INT_KEY("redis.db", redis_db, "0", 0, 15, false, "Redis logical database (SELECT)"),
    STRING_KEY("redis.key_prefix", redis_key_prefix, "ssi:", false, NULL, NULL,
	       "prefix of every Redis key the daemon writes"),
    DURATION_KEY("redis.connect_timeout_ms", redis_connect_timeout_ms, "2000", 1, 600000, false,
		 "how long a Redis connection attempt may take"),
    DURATION_KEY("redis.command_timeout_ms", redis_command_timeout_ms, "5000", 1, 600000, false,
		 "how long one Redis command (or pipeline) may take"),
    BOOL_KEY("redis.keepalive", redis_keepalive, "yes", false,
	     "enable TCP keepalive on the Redis connection so dead peers are noticed"),

    INT_KEY("batch.max_events", batch_max_events, "10000", 1, 1000000, true,
	    "most events scored and written to Redis in one batch"),
    DURATION_KEY("batch.max_wait_ms", batch_max_wait_ms, "20", 0, 10000, true,
		 "longest wait for a batch to fill before it is processed anyway"),

    STRING_KEY("model.file", model_file, "/etc/ssid/model.json", true, valid_nonempty,
	       "a file path", "JSON file with the scoring model's weights and windows"),
    DOUBLE_KEY("score.epsilon", score_epsilon, "0.01", 0.0, 100.0, true,
	       "a score update is published only when some score moves by more than this"),

    DURATION_KEY("retry.backoff_min_ms", retry_backoff_min_ms, "100", 1, 600000, true,
		 "first delay before retrying a failed Redis or Kafka operation"),
    DURATION_KEY("retry.backoff_max_ms", retry_backoff_max_ms, "10000", 1, 3600000, true,
		 "the retry delay doubles up to this"),

    DURATION_KEY("shutdown.timeout_ms", shutdown_timeout_ms, "15000", 0, 600000, false,
		 "on SIGTERM, how long to finish in-flight work before exiting anyway"),
    DURATION_KEY("status.interval_ms", status_interval_ms, "1000", 100, 3600000, true,
		 "how often the daemon reports its counters to systemd (STATUS=)"),
    ENUM_KEY("log.level", log_level, "info", log_levels, true,
	     "least severe messages logged: debug, info, notice, warning or err"),

    INT_KEY("mock_cluster.brokers", mock_cluster_brokers, "0", 0, 9, false,
	    "run an embedded librdkafka mock cluster with this many brokers (demos, tests); "
	    "0: off"),
    INT_KEY("mock_cluster.partitions", mock_cluster_partitions, "4", 1, 256, false,
	    "partitions of each topic in the mock cluster"),
    STRING_KEY("mock_cluster.bootstrap_file", mock_cluster_bootstrap_file, "", false, NULL, NULL,
	       "write the mock cluster's bootstrap servers to this file, for clients"),

    BOOL_KEY("rank.enabled", rank_enabled, "yes", false,
	     "keep live segment ranks, rank.changed, leaderboards and network ranks (in memory "
	     "per owned partition, one Redis transaction per partition per batch); no: scores, "
	     "alerts, decay and history only"),
    INT_KEY("rank.min_members", rank_min_members, "10", 1, 1000000, false,
	    "privacy floor: a segment with fewer reps shows no rank, percentile, average or "
	    "leaderboard"),
    INT_KEY("rank.top_n", rank_top_n, "10", 1, 100, false,
	    "length of the team and tenant leaderboards in leaderboard.changed, and of the top "
	    "list kept per segment and partition"),
    DURATION_KEY("rank.refresh_ms", rank_refresh_ms, "1000", 10, 3600000, false,
		 "read the ranks of partitions other instances own at most this often: the most a "
		 "rank may lag their changes"),
    STRING_KEY("rank.bands", rank_bands, "1,5,10,15,25,50", false, valid_bands,
	       "strictly increasing percentages in 1..100, comma-separated",
	       "percentile bands: crossing one publishes rank.changed"),
    INT_KEY("rank.network_per_batch", rank_network_per_batch, "20", 0, 1000000, false,
	    "network ranks recomputed per batch (each costs a scan of the rep's connections; "
	    "at most once a day per rep); 0: no network rank in score.updated"),
    DURATION_KEY("rank.board_interval_ms", rank_board_interval_ms, "1000", 0, 3600000, true,
		 "at most one leaderboard.changed per board per this interval"),
    INT_KEY("cache.max_mb", cache_max_mb, "256", 0, 1048576, false,
	    "memory for owned reps' records, so a rep written in an earlier batch is not read "
	    "back from Redis (MiB; 0: read every rep every batch)"),
    INT_KEY("history.retention_days", history_retention_days, "400", 1, 1000, false,
	    "days of daily score snapshots kept per rep"),
    INT_KEY("decay.max_per_pass", decay_max_per_pass, "5000", 1, 1000000, true,
	    "most reps rescored for inactivity decay in one pass"),

    BOOL_KEY("alert.score_drop.enabled", alert_score_drop_enabled, "yes", true,
	     "alert when the SSI falls below its recent maximum"),
    DOUBLE_KEY("alert.score_drop.points", alert_score_drop_points, "5", 0.01, 100.0, true,
	       "score_drop: how many points below the maximum of the last days"),
    INT_KEY("alert.score_drop.days", alert_score_drop_days, "7", 1, 1000, true,
	    "score_drop: days the maximum is taken over"),
    BOOL_KEY("alert.below_threshold.enabled", alert_below_threshold_enabled, "yes", true,
	     "alert when the SSI crosses below a threshold"),
    DOUBLE_KEY("alert.below_threshold.points", alert_below_threshold_points, "70", 0.01, 98.0, true,
	       "below_threshold: the threshold (the seeds recommend 70)"),
    BOOL_KEY("alert.left_top_percent.enabled", alert_left_top_percent_enabled, "yes", true,
	     "alert when a rep leaves the top percent of their industry"),
    INT_KEY("alert.left_top_percent.percent", alert_left_top_percent, "15", 3, 99, true,
	    "left_top_percent: the industry percentile to stay within"),
    BOOL_KEY("alert.pillar_drop.enabled", alert_pillar_drop_enabled, "yes", true,
	     "alert when a pillar falls from its peak"),
    DOUBLE_KEY("alert.pillar_drop.points", alert_pillar_drop_points, "3", 0.01, 25.0, true,
	       "pillar_drop: how many points a pillar must fall"),

    STRING_KEY("clock", clock, "system", false, valid_clock,
	       "system, fixed:<RFC 3339 time> or file:<path>",
	       "time source: system, fixed:<RFC 3339 time> or file:<path> (tests)"),
};

#define N_KEYS ARRAY_SIZE(config_keys)

struct parser {
	struct ssid_config *cfg;
	struct ssid_config_error *err;
	unsigned line;
	unsigned key_line[N_KEYS]; /* where each table key was set; 0 = default */
};

static void *field_ptr(struct ssid_config *cfg, const struct config_key *k)
{
	return (char *)cfg + k->offset;
}

static const void *field_cptr(const struct ssid_config *cfg, const struct config_key *k)
{
	return (const char *)cfg + k->offset;
}

static void set_error(struct ssid_config_error *err, unsigned line, const char *key,
		      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void set_error(struct ssid_config_error *err, unsigned line, const char *key,
		      const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	err->line = line;
	snprintf(err->key, sizeof(err->key), "%s", key ? key : "");
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

/*
 * Values are echoed back in errors, so make them printable and short: a
 * binary blob in a config file must not turn into a terminal escape.
 */
static void quote_value(const char *v, size_t vlen, char *out, size_t outlen)
{
	size_t o = 0;

	out[o++] = '"';
	for (size_t i = 0; i < vlen && i < QUOTED_VALUE_MAX && o + 6 < outlen; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	if (vlen > QUOTED_VALUE_MAX && o + 5 < outlen) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o++] = '"';
	out[o] = '\0';
}

/* What a key accepts, in words; shared by errors and ssid_config_key_info. */
static void describe_expected(const struct config_key *k, char *buf, size_t len)
{
	size_t o;

	switch (k->type) {
	case KEY_STRING:
		snprintf(buf, len, "%s", k->expected ? k->expected : "a string");
		break;
	case KEY_INT:
		snprintf(buf, len, "an integer %lld..%lld", k->min, k->max);
		break;
	case KEY_DURATION:
		snprintf(buf, len, "a duration in milliseconds %lld..%lld", k->min, k->max);
		break;
	case KEY_BOOL:
		snprintf(buf, len, "yes/no, true/false, on/off or 1/0");
		break;
	case KEY_DOUBLE:
		snprintf(buf, len, "a number %g..%g", k->dmin, k->dmax);
		break;
	case KEY_ENUM:
		o = (size_t)snprintf(buf, len, "one of");
		for (const struct enum_choice *c = k->choices; c->name && o < len; c++)
			o += (size_t)snprintf(buf + o, len - o, "%s %s", c == k->choices ? "" : ",",
					      c->name);
		break;
	}
}

static int fail_value(struct parser *p, const struct config_key *k, const char *value)
{
	char expected[SSID_CONFIG_MESSAGE_MAX / 2];
	char quoted[QUOTED_VALUE_MAX * 4 + 8];

	describe_expected(k, expected, sizeof(expected));
	quote_value(value, strlen(value), quoted, sizeof(quoted));
	set_error(p->err, p->line, k->name, "expected %s, got %s", expected, quoted);
	return -EINVAL;
}

/* Base 10 only, optional sign, nothing else: "0x10" and "1e3" are mistakes here. */
static bool parse_integer(const char *value, long long *out)
{
	const char *digits = value[0] == '-' || value[0] == '+' ? value + 1 : value;
	char *end;

	if (digits[0] < '0' || digits[0] > '9')
		return false;
	errno = 0;
	*out = strtoll(value, &end, 10);
	return errno == 0 && *end == '\0';
}

/* strtod also takes "nan", "inf" and hex floats; a config file means none of them. */
static bool parse_double(const char *value, double *out)
{
	char *end;

	if (value[0] == '\0' || strspn(value, "0123456789+-.eE") != strlen(value))
		return false;
	errno = 0;
	*out = strtod(value, &end);
	return errno == 0 && *end == '\0' && isfinite(*out);
}

static bool parse_bool(const char *value, bool *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcasecmp(value, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcasecmp(value, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

/* Takes ownership of value whatever happens. */
static int set_key(struct parser *p, const struct config_key *k, char *value)
{
	void *field = field_ptr(p->cfg, k);
	long long n;
	double d;
	bool b;
	int r = 0;

	switch (k->type) {
	case KEY_STRING:
		if (k->valid && !k->valid(value)) {
			r = fail_value(p, k, value);
			break;
		}
		free(*(char **)field);
		*(char **)field = value;
		return 0;
	case KEY_INT:
	case KEY_DURATION:
		if (!parse_integer(value, &n) || n < k->min || n > k->max)
			r = fail_value(p, k, value);
		else
			*(int *)field = (int)n;
		break;
	case KEY_BOOL:
		if (!parse_bool(value, &b))
			r = fail_value(p, k, value);
		else
			*(bool *)field = b;
		break;
	case KEY_DOUBLE:
		if (!parse_double(value, &d) || d < k->dmin || d > k->dmax)
			r = fail_value(p, k, value);
		else
			*(double *)field = d;
		break;
	case KEY_ENUM:
		r = -EINVAL;
		for (const struct enum_choice *c = k->choices; c->name; c++)
			if (strcasecmp(value, c->name) == 0) {
				*(int *)field = c->value;
				r = 0;
			}
		if (r < 0)
			fail_value(p, k, value);
		break;
	}
	free(value);
	return r;
}

static int kv_list_append(struct ssid_kv_list *l, const char *name, char *value, unsigned line)
{
	char *name_copy;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		struct ssid_kv *items = realloc(l->items, cap * sizeof(*items));

		if (!items)
			return -ENOMEM;
		l->items = items;
		l->cap = cap;
	}
	name_copy = strdup(name);
	if (!name_copy)
		return -ENOMEM;
	l->items[l->n++] = (struct ssid_kv){.name = name_copy, .value = value, .line = line};
	return 0;
}

static const struct ssid_kv *kv_list_find(const struct ssid_kv_list *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->items[i].name, name) == 0)
			return &l->items[i];
	return NULL;
}

const char *ssid_kv_list_get(const struct ssid_kv_list *l, const char *name)
{
	const struct ssid_kv *kv = l ? kv_list_find(l, name) : NULL;

	return kv ? kv->value : NULL;
}

static void kv_list_free(struct ssid_kv_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->items[i].name);
		free(l->items[i].value);
	}
	free(l->items);
	*l = (struct ssid_kv_list){0};
}

static const char *const kafka_prefixes[] = {"kafka.consumer.", "kafka.producer.", "kafka."};

static struct ssid_kv_list *kafka_list(struct ssid_config *cfg, size_t which)
{
	struct ssid_kv_list *lists[] = {&cfg->kafka_consumer, &cfg->kafka_producer, &cfg->kafka};

	return lists[which];
}

static const struct ssid_kv_list *kafka_clist(const struct ssid_config *cfg, size_t which)
{
	const struct ssid_kv_list *lists[] = {&cfg->kafka_consumer, &cfg->kafka_producer,
					      &cfg->kafka};

	return lists[which];
}

/* Takes ownership of value. */
static int set_kafka_key(struct parser *p, const char *key, char *value)
{
	const struct ssid_kv *previous;
	struct ssid_kv_list *l = NULL;
	const char *prefix = NULL;
	const char *name = NULL;
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(kafka_prefixes); i++)
		if (strncmp(key, kafka_prefixes[i], strlen(kafka_prefixes[i])) == 0) {
			prefix = kafka_prefixes[i];
			name = key + strlen(prefix);
			l = kafka_list(p->cfg, i);
			break;
		}
	if (!l || name[0] == '\0') {
		set_error(p->err, p->line, key, "expected a librdkafka property name after \"%s\"",
			  prefix ? prefix : "kafka.");
		free(value);
		return -EINVAL;
	}
	previous = kv_list_find(l, name);
	if (previous) {
		set_error(p->err, p->line, key, "duplicate key (first set on line %u)",
			  previous->line);
		free(value);
		return -EINVAL;
	}
	r = kv_list_append(l, name, value, p->line);
	if (r < 0) {
		set_error(p->err, p->line, key, "out of memory");
		free(value);
	}
	return r;
}

/* Levenshtein distance with one row: keys are short, and only typos matter. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t row[SSID_CONFIG_KEY_MAX + 1];

	if (lb > SSID_CONFIG_KEY_MAX || la > SSID_CONFIG_KEY_MAX)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diagonal = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t above = row[j];
			size_t best = diagonal + (a[i - 1] != b[j - 1]);

			if (above + 1 < best)
				best = above + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diagonal = above;
		}
	}
	return row[lb];
}

static const struct config_key *find_key(const char *name)
{
	for (size_t i = 0; i < N_KEYS; i++)
		if (strcmp(config_keys[i].name, name) == 0)
			return &config_keys[i];
	return NULL;
}

/* A typo of a known key is far more likely than a new key: say which one. */
static int fail_unknown_key(struct parser *p, const char *key)
{
	const struct config_key *closest = NULL;
	size_t best = 3; /* suggest only within two edits */

	for (size_t i = 0; i < N_KEYS; i++) {
		size_t d = edit_distance(key, config_keys[i].name);

		if (d < best) {
			best = d;
			closest = &config_keys[i];
		}
	}
	if (closest)
		set_error(p->err, p->line, key, "unknown key (did you mean %s?)", closest->name);
	else
		set_error(p->err, p->line, key, "unknown key");
	return -EINVAL;
}

/* Takes ownership of value. */
static int apply(struct parser *p, const char *key, char *value)
{
	const struct config_key *k;
	size_t index;

	if (strncmp(key, "kafka.", 6) == 0)
		return set_kafka_key(p, key, value);
	k = find_key(key);
	if (!k) {
		free(value);
		return fail_unknown_key(p, key);
	}
	index = (size_t)(k - config_keys);
	if (p->key_line[index]) {
		set_error(p->err, p->line, key, "duplicate key (first set on line %u)",
			  p->key_line[index]);
		free(value);
		return -EINVAL;
	}
	p->key_line[index] = p->line;
	return set_key(p, k, value);
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

/* The text of a double-quoted value starting at s[0] == '"'. */
static int parse_quoted(struct parser *p, const char *key, const char *s, size_t len, char **out)
{
	char *value = malloc(len);
	size_t o = 0, i = 1;

	if (!value) {
		set_error(p->err, p->line, key, "out of memory");
		return -ENOMEM;
	}
	for (; i < len && s[i] != '"'; i++) {
		if (s[i] == '\\') {
			if (i + 1 >= len || (s[i + 1] != '"' && s[i + 1] != '\\')) {
				set_error(p->err, p->line, key,
					  "only \\\" and \\\\ may follow a backslash in quotes");
				goto fail;
			}
			i++;
		}
		value[o++] = s[i];
	}
	if (i >= len) {
		set_error(p->err, p->line, key, "missing closing quote");
		goto fail;
	}
	/* after the closing quote: blanks, then nothing or a comment after a blank */
	i++;
	if (i < len && !is_blank(s[i])) {
		set_error(p->err, p->line, key, "unexpected text after the closing quote");
		goto fail;
	}
	while (i < len && is_blank(s[i]))
		i++;
	if (i < len && s[i] != '#') {
		set_error(p->err, p->line, key, "unexpected text after the closing quote");
		goto fail;
	}
	value[o] = '\0';
	*out = value;
	return 0;
fail:
	free(value);
	return -EINVAL;
}

/* s is the line from just after the '=', without the line break. */
static int parse_value(struct parser *p, const char *key, const char *s, size_t len, char **out)
{
	size_t start = 0, end;
	char *value;

	while (start < len && is_blank(s[start]))
		start++;
	if (start < len && s[start] == '"')
		return parse_quoted(p, key, s + start, len - start, out);

	for (end = start; end < len; end++)
		if (s[end] == '#' && end > 0 && is_blank(s[end - 1]))
			break;
	while (end > start && is_blank(s[end - 1]))
		end--;
	value = strndup(s + start, end - start);
	if (!value) {
		set_error(p->err, p->line, key, "out of memory");
		return -ENOMEM;
	}
	*out = value;
	return 0;
}

/*
 * One line, without its '\n'. Lines are not NUL-terminated because they point
 * into the caller's buffer, so a stray NUL byte has to be caught here.
 */
static int parse_line(struct parser *p, const char *s, size_t len)
{
	char key[SSID_CONFIG_KEY_MAX];
	char quoted[QUOTED_VALUE_MAX * 4 + 8];
	size_t start = 0, eq, key_end;
	char *value = NULL;
	bool key_ok = true;
	int r;

	if (memchr(s, '\0', len)) {
		set_error(p->err, p->line, NULL, "NUL byte in line");
		return -EINVAL;
	}
	while (start < len && is_blank(s[start]))
		start++;
	if (start == len || s[start] == '#')
		return 0;

	for (eq = start; eq < len && s[eq] != '='; eq++)
		;
	if (eq == len) {
		quote_value(s + start, len - start, quoted, sizeof(quoted));
		set_error(p->err, p->line, NULL, "expected \"key = value\", got %s", quoted);
		return -EINVAL;
	}
	key_end = eq;
	while (key_end > start && is_blank(s[key_end - 1]))
		key_end--;
	for (size_t i = start; i < key_end && key_ok; i++)
		key_ok = is_key_char(s[i]);
	if (!key_ok || key_end == start || key_end - start >= sizeof(key)) {
		quote_value(s + start, eq - start, quoted, sizeof(quoted));
		set_error(p->err, p->line, NULL,
			  "expected a key of at most %zu characters from a-z A-Z 0-9 . _ -, got %s",
			  sizeof(key) - 1, quoted);
		return -EINVAL;
	}
	memcpy(key, s + start, key_end - start);
	key[key_end - start] = '\0';

	r = parse_value(p, key, s + eq + 1, len - eq - 1, &value);
	if (r < 0)
		return r;
	return apply(p, key, value);
}

static int set_defaults(struct parser *p)
{
	for (size_t i = 0; i < N_KEYS; i++) {
		char *value = strdup(config_keys[i].default_value);
		int r;

		if (!value) {
			set_error(p->err, 0, config_keys[i].name, "out of memory");
			return -ENOMEM;
		}
		r = set_key(p, &config_keys[i], value);
		if (r < 0)
			return r;
	}
	return 0;
}

static unsigned line_of(const struct parser *p, const char *name)
{
	const struct config_key *k = find_key(name);

	return k ? p->key_line[k - config_keys] : 0;
}

static const struct ssid_kv *kafka_bootstrap(const struct ssid_kv_list *l)
{
	return kv_list_find(l, "bootstrap.servers");
}

/* Where Kafka comes from must be said exactly once: never a silent fallback. */
static int check_kafka_source(struct parser *p)
{
	const struct ssid_config *cfg = p->cfg;
	const struct ssid_kv *common = kafka_bootstrap(&cfg->kafka);
	const struct ssid_kv *consumer = kafka_bootstrap(&cfg->kafka_consumer);
	const struct ssid_kv *producer = kafka_bootstrap(&cfg->kafka_producer);
	const struct ssid_kv *any = common ? common : consumer ? consumer : producer;

	if (cfg->mock_cluster_brokers > 0) {
		if (any) {
			set_error(p->err, line_of(p, "mock_cluster.brokers"),
				  "mock_cluster.brokers",
				  "set together with a Kafka bootstrap.servers (line %u): use one "
				  "or the other",
				  any->line);
			return -EINVAL;
		}
		return 0;
	}
	if (!any) {
		set_error(p->err, 0, "kafka.bootstrap.servers",
			  "not set: set kafka.bootstrap.servers, or mock_cluster.brokers for the "
			  "embedded demo cluster");
		return -EINVAL;
	}
	if (!common && !consumer) {
		set_error(p->err, 0, "kafka.consumer.bootstrap.servers",
			  "not set while kafka.producer.bootstrap.servers is (line %u): set "
			  "kafka.bootstrap.servers for both",
			  producer->line);
		return -EINVAL;
	}
	if (!common && !producer) {
		set_error(p->err, 0, "kafka.producer.bootstrap.servers",
			  "not set while kafka.consumer.bootstrap.servers is (line %u): set "
			  "kafka.bootstrap.servers for both",
			  consumer->line);
		return -EINVAL;
	}
	return 0;
}

/* Blame the key set further down the file: that is the line the user just wrote. */
static int check_cross_keys(struct parser *p)
{
	const struct ssid_config *cfg = p->cfg;
	unsigned min_line = line_of(p, "retry.backoff_min_ms");
	unsigned max_line = line_of(p, "retry.backoff_max_ms");
	int r;

	r = check_kafka_source(p);
	if (r < 0)
		return r;

	if (cfg->retry_backoff_min_ms > cfg->retry_backoff_max_ms) {
		if (max_line > min_line)
			set_error(p->err, max_line, "retry.backoff_max_ms",
				  "must be at least retry.backoff_min_ms (%d), got %d",
				  cfg->retry_backoff_min_ms, cfg->retry_backoff_max_ms);
		else
			set_error(p->err, min_line, "retry.backoff_min_ms",
				  "must be at most retry.backoff_max_ms (%d), got %d",
				  cfg->retry_backoff_max_ms, cfg->retry_backoff_min_ms);
		return -EINVAL;
	}

	if (cfg->redis_unix_socket[0] != '\0') {
		const char *other = line_of(p, "redis.host")   ? "redis.host"
				    : line_of(p, "redis.port") ? "redis.port"
							       : NULL;

		if (other) {
			set_error(p->err, line_of(p, "redis.unix_socket"), "redis.unix_socket",
				  "set together with %s (line %u): use one or the other", other,
				  line_of(p, other));
			return -EINVAL;
		}
	}

	if (cfg->mock_cluster_bootstrap_file[0] != '\0' && cfg->mock_cluster_brokers == 0) {
		set_error(p->err, line_of(p, "mock_cluster.bootstrap_file"),
			  "mock_cluster.bootstrap_file",
			  "needs mock_cluster.brokers > 0 (there is no mock cluster to describe)");
		return -EINVAL;
	}
	return 0;
}

/* The first error stops: later lines may only fail because of it. */
static int parse_text(struct parser *p, const char *text, size_t len)
{
	size_t pos = 0;

	/* editors on some systems start UTF-8 files with a byte order mark */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		pos = 3;
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t line_len = nl ? (size_t)(nl - (text + pos)) : len - pos;
		int r;

		p->line++;
		r = parse_line(p, text + pos, line_len);
		if (r < 0)
			return r;
		pos += line_len + 1;
	}
	p->line = 0;
	return check_cross_keys(p);
}

int ssid_config_parse_buffer(struct ssid_config *cfg, const char *name, const char *text,
			     size_t len, struct ssid_config_error *err)
{
	struct parser p = {.cfg = cfg, .err = err};
	int r;

	if (err) {
		memset(err, 0, sizeof(*err));
		snprintf(err->path, sizeof(err->path), "%s", name ? name : "");
	}
	memset(cfg, 0, sizeof(*cfg));
	if (!name || (!text && len > 0)) {
		set_error(err, 0, NULL, "no configuration text");
		return -EINVAL;
	}

	cfg->path = strdup(name);
	if (!cfg->path) {
		set_error(err, 0, NULL, "out of memory");
		return -ENOMEM;
	}
	r = set_defaults(&p);
	if (r == 0)
		r = parse_text(&p, text, len);
	if (r < 0)
		ssid_config_free(cfg);
	return r;
}

int ssid_config_load(struct ssid_config *cfg, const char *path, struct ssid_config_error *err)
{
	char *text = NULL;
	size_t len = 0;
	char errbuf[128];
	const char *failed = "read";
	int r;

	memset(cfg, 0, sizeof(*cfg));
	if (err) {
		memset(err, 0, sizeof(*err));
		snprintf(err->path, sizeof(err->path), "%s", path ? path : "");
	}
	if (!path) {
		set_error(err, 0, NULL, "no configuration file given");
		return -EINVAL;
	}
	r = ssid_file_read(path, CONFIG_FILE_MAX, &text, &len, &failed);
	if (r == -EFBIG) {
		set_error(err, 0, NULL, "larger than %d bytes: not a configuration file",
			  CONFIG_FILE_MAX);
		return r;
	}
	if (r < 0) {
		set_error(err, 0, NULL, "cannot %s: %s", failed,
			  strerror_r(-r, errbuf, sizeof(errbuf)));
		return r;
	}
	r = ssid_config_parse_buffer(cfg, path, text, len, err);
	free(text);
	return r;
}

void ssid_config_free(struct ssid_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < N_KEYS; i++)
		if (config_keys[i].type == KEY_STRING)
			free(*(char **)field_ptr(cfg, &config_keys[i]));
	free(cfg->path);
	kv_list_free(&cfg->kafka);
	kv_list_free(&cfg->kafka_consumer);
	kv_list_free(&cfg->kafka_producer);
	memset(cfg, 0, sizeof(*cfg));
}

int ssid_config_format_error(const struct ssid_config_error *e, char *buf, size_t len)
{
	char line[16] = "";
	int n;

	if (!e || (!buf && len > 0))
		return -EINVAL;
	if (e->line > 0)
		snprintf(line, sizeof(line), ":%u", e->line);
	n = snprintf(buf, len, "%s%s: %s%s%s", e->path, line, e->key, e->key[0] ? ": " : "",
		     e->message);
	return n < 0 ? -EINVAL : n;
}

static bool string_equal(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

/* Compares by type through the table, so a new key needs no code here. */
static bool key_equal(const struct config_key *k, const struct ssid_config *a,
		      const struct ssid_config *b)
{
	const void *fa = field_cptr(a, k), *fb = field_cptr(b, k);

	switch (k->type) {
	case KEY_STRING:
		return string_equal(*(char *const *)fa, *(char *const *)fb);
	case KEY_INT:
	case KEY_DURATION:
	case KEY_ENUM:
		return *(const int *)fa == *(const int *)fb;
	case KEY_BOOL:
		return *(const bool *)fa == *(const bool *)fb;
	case KEY_DOUBLE:
		return *(const double *)fa == *(const double *)fb;
	}
	return false;
}

struct name_list {
	char *buf;
	size_t len;
	size_t used;
	int count;
};

static void name_list_add(struct name_list *l, const char *prefix, const char *name)
{
	if (l->len > 0 && l->used < l->len) {
		int n = snprintf(l->buf + l->used, l->len - l->used, "%s%s%s", l->count ? ", " : "",
				 prefix, name);

		if (n > 0)
			l->used += (size_t)n < l->len - l->used ? (size_t)n : l->len - l->used - 1;
	}
	l->count++;
}

/* The pass-through properties of one prefix that were added, removed or changed. */
static void diff_kv_lists(struct name_list *out, const char *prefix, const struct ssid_kv_list *a,
			  const struct ssid_kv_list *b)
{
	for (size_t i = 0; i < a->n; i++) {
		const struct ssid_kv *other = kv_list_find(b, a->items[i].name);

		if (!other || strcmp(other->value, a->items[i].value) != 0)
			name_list_add(out, prefix, a->items[i].name);
	}
	for (size_t i = 0; i < b->n; i++)
		if (!kv_list_find(a, b->items[i].name))
			name_list_add(out, prefix, b->items[i].name);
}

int ssid_config_reload_diff(const struct ssid_config *old, const struct ssid_config *new, char *buf,
			    size_t len)
{
	struct name_list names = {.buf = buf, .len = buf ? len : 0};

	if (names.len > 0)
		buf[0] = '\0';
	for (size_t i = 0; i < N_KEYS; i++)
		if (!config_keys[i].reloadable && !key_equal(&config_keys[i], old, new))
			name_list_add(&names, "", config_keys[i].name);
	for (size_t i = 0; i < ARRAY_SIZE(kafka_prefixes); i++)
		diff_kv_lists(&names, kafka_prefixes[i], kafka_clist(old, i), kafka_clist(new, i));
	return names.count;
}

int ssid_config_copy_reloadable(struct ssid_config *dst, const struct ssid_config *src)
{
	char *copies[N_KEYS] = {NULL};
	int changed = 0;

	/* every allocation first, so a failure leaves dst as it was */
	for (size_t i = 0; i < N_KEYS; i++) {
		const struct config_key *k = &config_keys[i];
		const char *value;

		if (!k->reloadable || k->type != KEY_STRING || key_equal(k, dst, src))
			continue;
		value = *(char *const *)field_cptr(src, k);
		copies[i] = strdup(value ? value : "");
		if (!copies[i]) {
			for (size_t j = 0; j < i; j++)
				free(copies[j]);
			return -ENOMEM;
		}
	}

	for (size_t i = 0; i < N_KEYS; i++) {
		const struct config_key *k = &config_keys[i];
		void *to = field_ptr(dst, k);
		const void *from = field_cptr(src, k);

		if (!k->reloadable)
			continue;
		if (k->type == KEY_STRING) {
			if (copies[i]) {
				free(*(char **)to);
				*(char **)to = copies[i];
				changed++;
			}
			continue;
		}
		if (key_equal(k, dst, src))
			continue;
		changed++;
		switch (k->type) {
		case KEY_STRING:
			break;
		case KEY_INT:
		case KEY_DURATION:
		case KEY_ENUM:
			*(int *)to = *(const int *)from;
			break;
		case KEY_BOOL:
			*(bool *)to = *(const bool *)from;
			break;
		case KEY_DOUBLE:
			*(double *)to = *(const double *)from;
			break;
		}
	}
	return changed;
}

size_t ssid_config_key_count(void)
{
	return N_KEYS;
}

int ssid_config_key_info(size_t index, struct ssid_config_key_info *info)
{
	const struct config_key *k;

	if (index >= N_KEYS)
		return -ENOENT;
	k = &config_keys[index];
	info->name = k->name;
	info->help = k->help;
	info->default_value = k->default_value;
	info->reloadable = k->reloadable;
	describe_expected(k, info->expected, sizeof(info->expected));
	return 0;
}

int ssid_config_parse_clock(const char *spec, struct ssid_config_clock *out)
{
	int64_t ms;

	if (!spec)
		return -EINVAL;
	if (strcmp(spec, "system") == 0) {
		*out = (struct ssid_config_clock){.kind = SSID_CONFIG_CLOCK_SYSTEM};
		return 0;
	}
	if (strncmp(spec, "fixed:", 6) == 0) {
		if (ssi_time_parse(spec + 6, strlen(spec + 6), &ms) < 0)
			return -EINVAL;
		*out = (struct ssid_config_clock){.kind = SSID_CONFIG_CLOCK_FIXED, .fixed_ms = ms};
		return 0;
	}
	if (strncmp(spec, "file:", 5) == 0 && spec[5] != '\0') {
		*out = (struct ssid_config_clock){.kind = SSID_CONFIG_CLOCK_FILE, .file = spec + 5};
		return 0;
	}
	return -EINVAL;
}

int64_t ssid_config_clock_now(const struct ssid_config_clock *clock)
{
	struct timespec ts;
	char buf[64];
	ssize_t n;
	int64_t ms;
	int fd;

	if (clock->kind == SSID_CONFIG_CLOCK_FIXED)
		return clock->fixed_ms;
	if (clock->kind == SSID_CONFIG_CLOCK_FILE) {
		fd = open(clock->file, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			n = read(fd, buf, sizeof(buf) - 1);
			close(fd);
			while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
				n--;
			if (n > 0 && ssi_time_parse(buf, (size_t)n, &ms) == 0)
				return ms;
		}
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
