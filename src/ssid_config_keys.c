/*
 * ssid_config's key table: every key the daemon knows, declared once with
 * its type, range, default, whether SIGHUP may change it and its help, and
 * what the table says about a key (ssid_config_key_info). Parsing, defaults,
 * the reload check and the documentation all come from here.
 *
 * Defaults are written in the table as text and go through the same parser
 * as the file, so a default can never be something the file could not say.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "ssi_band.h"
#include "ssid_cluster.h"
#include "ssid_config.h"
#include "ssid_config_int.h"
#include "ssid_http.h"

/* Kafka's own limit on topic names. */
#define TOPIC_NAME_MAX 249

static const struct enum_choice log_levels[] = {
    {"debug", LOG_DEBUG},     {"info", LOG_INFO}, {"notice", LOG_NOTICE},
    {"warning", LOG_WARNING}, {"err", LOG_ERR},	  {NULL, 0},
};

static bool valid_nonempty(const char *value)
{
	return value[0] != '\0';
}

/* "" or a list of host:port. */
static bool valid_nodes(const char *value)
{
	struct ssid_cluster_map m;
	int rc;

	if (!value[0])
		return true;
	ssid_cluster_map_init(&m);
	rc = ssid_cluster_seeds_parse(&m, value, NULL, 0);
	ssid_cluster_map_clear(&m);
	return rc > 0;
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
	struct ssi_bands bands;

	return ssi_bands_parse(&bands, value) == 0;
}

static bool valid_clock(const char *value)
{
	struct ssid_config_clock clock;

	return ssid_config_parse_clock(value, &clock) == 0;
}

static bool valid_listen(const char *value)
{
	char host[256], err[256];
	int port;

	return !value[0] ||
	       ssid_http_parse_listen(value, host, sizeof(host), &port, err, sizeof(err)) == 0;
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

const struct config_key config_keys[] = {
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
    STRING_KEY("redis.password_file", redis_password_file, "", false, NULL, NULL,
	       "file holding the Redis password (instead of redis.password); relative: in "
	       "$CREDENTIALS_DIRECTORY when set, else next to this file"),
    INT_KEY("redis.db", redis_db, "0", 0, 15, false, "Redis logical database (SELECT)"),
    STRING_KEY("redis.key_prefix", redis_key_prefix, "ssi:", false, NULL, NULL,
	       "prefix of every Redis key the daemon writes"),
    DURATION_KEY("redis.connect_timeout_ms", redis_connect_timeout_ms, "2000", 1, 600000, false,
		 "how long a Redis connection attempt may take"),
    DURATION_KEY("redis.command_timeout_ms", redis_command_timeout_ms, "5000", 1, 600000, false,
		 "how long one Redis command (or pipeline) may take"),
    BOOL_KEY("redis.keepalive", redis_keepalive, "yes", false,
	     "enable TCP keepalive on the Redis connection so dead peers are noticed"),
    BOOL_KEY("redis.cluster", redis_cluster, "no", false,
	     "Redis Cluster: route each command to the master of its key's slot"),
    STRING_KEY("redis.nodes", redis_nodes, "", false, valid_nodes,
	       "host:port[,host:port...] ([v6]:port for IPv6)",
	       "Redis Cluster seed nodes; empty: redis.host:redis.port"),
    INT_KEY("redis.wait_replicas", redis_wait_replicas, "0", 0, 16, false,
	    "Redis Cluster: replicas that must confirm a batch's writes (WAIT) before its "
	    "offsets are committed"),

    INT_KEY("batch.max_events", batch_max_events, "30000", 1, 1000000, true,
	    "most events scored and written to Redis in one batch"),
    DURATION_KEY("batch.max_wait_ms", batch_max_wait_ms, "5", 0, 10000, true,
		 "longest wait for new events before a batch is processed anyway (what the "
		 "consumer already holds still joins it)"),

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
    DURATION_KEY("rank.warmup_ms", rank_warmup_ms, "600000", 0, 86400000, false,
		 "a segment that grew by more than rank.warmup_growth over this much of ssid's "
		 "clock is still filling up: no rank.changed and no left_top_percent alert in it "
		 "(0: off)"),
    INT_KEY("rank.warmup_growth", rank_warmup_growth, "10", 0, 1000, false,
	    "growth in percent over rank.warmup_ms above which a segment is still filling up"),
    STRING_KEY("rank.bands", rank_bands, "1,5,10,15,25,50", false, valid_bands,
	       "strictly increasing percentages in 1..100, comma-separated",
	       "percentile bands: crossing one publishes rank.changed"),
    INT_KEY("rank.network_per_batch", rank_network_per_batch, "20", 0, 1000000, false,
	    "network ranks recomputed per batch (each costs a scan of the rep's connections, "
	    "all of a batch's in lockstep; at most once a day per rep); 0: no network rank in "
	    "score.updated"),
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
    BOOL_KEY("alert.forecast_below.enabled", alert_forecast_below_enabled, "yes", true,
	     "warn when the idle forecast falls below a line within days"),
    DOUBLE_KEY("alert.forecast_below.points", alert_forecast_below_points, "70", 0.01, 98.0, true,
	       "forecast_below: the line the rep is at or above now"),
    INT_KEY("alert.forecast_below.days", alert_forecast_below_days, "7", 1, 90, true,
	    "forecast_below: how many days ahead to look"),
    DURATION_KEY("alert.max_event_age_ms", alert_max_event_age_ms, "86400000", 0, 2000000000, false,
		 "a score whose newest event is older than this against ssid's clock is a "
		 "backfill: published with \"backfill\": true, with no alert and no rank.changed "
		 "(0: off)"),

    STRING_KEY("metrics.listen", metrics_listen, "", false, valid_listen,
	       "host:port, [v6 address]:port or :port (every address), or empty",
	       "where /metrics (Prometheus), /healthz and /readyz are served; empty: off"),

    STRING_KEY("clock", clock, "system", false, valid_clock,
	       "system, fixed:<RFC 3339 time> or file:<path>",
	       "time source: system, fixed:<RFC 3339 time> or file:<path> (tests)"),
};

const size_t config_nkeys = ARRAY_SIZE(config_keys);

_Static_assert(ARRAY_SIZE(config_keys) <= CONFIG_KEYS_MAX, "raise CONFIG_KEYS_MAX");

const struct config_key *config_find_key(const char *name)
{
	for (size_t i = 0; i < config_nkeys; i++)
		if (strcmp(config_keys[i].name, name) == 0)
			return &config_keys[i];
	return NULL;
}

/* What a key accepts, in words; shared by errors and ssid_config_key_info. */
void config_describe_expected(const struct config_key *k, char *buf, size_t len)
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

size_t ssid_config_key_count(void)
{
	return config_nkeys;
}

int ssid_config_key_info(size_t index, struct ssid_config_key_info *info)
{
	const struct config_key *k;

	if (index >= config_nkeys)
		return -ENOENT;
	k = &config_keys[index];
	info->name = k->name;
	info->help = k->help;
	info->default_value = k->default_value;
	info->reloadable = k->reloadable;
	config_describe_expected(k, info->expected, sizeof(info->expected));
	return 0;
}

/* %g ("0.01", "70"), with more digits only where strtod would not read back d. */
static void format_double(double d, char *buf, size_t len)
{
	for (int precision = 6; precision <= 17; precision++) {
		snprintf(buf, len, "%.*g", precision, d);
		if (strtod(buf, NULL) == d)
			return;
	}
}

int ssid_config_key_value(const struct ssid_config *cfg, size_t index, char *buf, size_t len)
{
	const struct config_key *k;
	const void *field;
	const char *text = NULL;
	char number[32];
	int n;

	if (index >= config_nkeys)
		return -ENOENT;
	if (!cfg || (!buf && len > 0))
		return -EINVAL;
	k = &config_keys[index];
	field = config_cfield(cfg, k);
	switch (k->type) {
	case KEY_STRING:
		text = *(char *const *)field;
		break;
	case KEY_INT:
	case KEY_DURATION:
		snprintf(number, sizeof(number), "%d", *(const int *)field);
		text = number;
		break;
	case KEY_BOOL:
		text = *(const bool *)field ? "yes" : "no";
		break;
	case KEY_DOUBLE:
		format_double(*(const double *)field, number, sizeof(number));
		text = number;
		break;
	case KEY_ENUM:
		snprintf(number, sizeof(number), "%d", *(const int *)field);
		text = number;
		for (const struct enum_choice *c = k->choices; c->name; c++)
			if (c->value == *(const int *)field)
				text = c->name;
		break;
	}
	n = snprintf(buf, len, "%s", text ? text : "");
	return n < 0 ? -EINVAL : n;
}
