/*
 * ssid_config: the daemon's configuration file (/etc/ssid/ssid.conf).
 *
 * One "key = value" per line. '#' starts a comment on a line of its own, or
 * after a value when whitespace precedes it ("batch.max_events = 500 # busy").
 * Whitespace around keys and values is trimmed; a value in double quotes
 * keeps its spaces and '#' literally, with \" and \\ as the only escapes.
 *
 * Every key the daemon knows lives in one declarative table (name, type,
 * range, default, whether SIGHUP may change it, help; src/ssid_config_keys.c)
 * so parsing, defaults, the reload check and the documentation all come from
 * the same place.
 * Keys under "kafka." are not in the table: they are handed to librdkafka
 * untouched, "kafka.consumer.X" only to the consumer, "kafka.producer.X" only
 * to the producer, and plain "kafka.X" to both: apply cfg->kafka first and
 * then the client's own list, so that the more specific setting wins.
 *
 * Anything doubtful is an error naming file, line and key: unknown keys,
 * duplicates (kafka.* included), malformed or out-of-range values, and
 * combinations that cannot be meant (see ssid_config_load).
 */
#ifndef SSID_CONFIG_H
#define SSID_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One pass-through property, named without its "kafka.[consumer.|producer.]" prefix. */
struct ssid_kv {
	char *name;
	char *value;
	unsigned line; /* where the file set it, so librdkafka's complaints can point there */
};

/* Properties in file order. */
struct ssid_kv_list {
	struct ssid_kv *items;
	size_t n;
	size_t cap;
};

struct ssid_config {
	char *path; /* the file read (or the name given to ssid_config_parse_buffer) */

	/* topics */
	char *input_topic;  /* input.topic */
	char *output_topic; /* output.topic */
	char *dlq_topic;    /* dlq.topic */

	/* redis */
	char *redis_host;	      /* redis.host */
	char *redis_unix_socket;      /* redis.unix_socket, "" = use TCP */
	char *redis_user;	      /* redis.user, "" = default user */
	char *redis_password;	      /* redis.password, or redis.password_file's content */
	char *redis_password_file;    /* redis.password_file, "" = none */
	char *redis_key_prefix;	      /* redis.key_prefix */
	int redis_port;		      /* redis.port */
	int redis_db;		      /* redis.db */
	int redis_connect_timeout_ms; /* redis.connect_timeout_ms */
	int redis_command_timeout_ms; /* redis.command_timeout_ms */
	bool redis_keepalive;	      /* redis.keepalive */
	bool redis_cluster;	      /* redis.cluster */
	char *redis_nodes;	      /* redis.nodes, "" = redis.host:redis.port */
	int redis_wait_replicas;      /* redis.wait_replicas */

	/* batching (reloadable) */
	int batch_max_events;  /* batch.max_events */
	int batch_max_wait_ms; /* batch.max_wait_ms */

	/* scoring (reloadable) */
	char *model_file;     /* model.file */
	double score_epsilon; /* score.epsilon */

	/* retry (reloadable) */
	int retry_backoff_min_ms; /* retry.backoff_min_ms */
	int retry_backoff_max_ms; /* retry.backoff_max_ms */

	int shutdown_timeout_ms; /* shutdown.timeout_ms */
	int status_interval_ms;	 /* status.interval_ms (reloadable) */
	int log_level;		 /* log.level as a syslog LOG_* value (reloadable) */

	/* embedded Kafka for demos and tests: never a silent fallback */
	int mock_cluster_brokers;	   /* mock_cluster.brokers, 0 = off */
	int mock_cluster_partitions;	   /* mock_cluster.partitions */
	char *mock_cluster_bootstrap_file; /* mock_cluster.bootstrap_file, "" = none */

	/* ranks, leaderboards, history */
	bool rank_enabled;	    /* rank.enabled */
	int rank_min_members;	    /* rank.min_members */
	int rank_top_n;		    /* rank.top_n */
	int rank_refresh_ms;	    /* rank.refresh_ms */
	int rank_warmup_ms;	    /* rank.warmup_ms */
	int rank_warmup_growth;	    /* rank.warmup_growth, percent */
	int cache_max_mb;	    /* cache.max_mb */
	char *rank_bands;	    /* rank.bands */
	int rank_board_interval_ms; /* rank.board_interval_ms (reloadable) */
	int rank_network_per_batch; /* rank.network_per_batch */
	int history_retention_days; /* history.retention_days */
	int decay_max_per_pass;	    /* decay.max_per_pass (reloadable) */

	/* alert rules (reloadable) */
	bool alert_score_drop_enabled;
	double alert_score_drop_points;
	int alert_score_drop_days;
	bool alert_below_threshold_enabled;
	double alert_below_threshold_points;
	bool alert_left_top_percent_enabled;
	int alert_left_top_percent;
	bool alert_pillar_drop_enabled;
	double alert_pillar_drop_points;
	bool alert_forecast_below_enabled;
	double alert_forecast_below_points;
	int alert_forecast_below_days;
	int alert_max_event_age_ms; /* alert.max_event_age_ms, 0 = off (not reloadable) */

	char *metrics_listen; /* metrics.listen: "host:port" of /metrics, /healthz, /readyz; "" =
				 off */

	char *clock; /* clock: "system", "fixed:<RFC 3339>" or "file:<path>" */

	/* The last secret written in the file itself (for the mode warning); line 0: none. */
	unsigned inline_secret_line;
	char inline_secret_key[128];

	struct ssid_kv_list kafka;	    /* kafka.X: consumer and producer */
	struct ssid_kv_list kafka_consumer; /* kafka.consumer.X */
	struct ssid_kv_list kafka_producer; /* kafka.producer.X */
};

#define SSID_CONFIG_KEY_MAX	128
#define SSID_CONFIG_MESSAGE_MAX 512

struct ssid_config_error {
	char path[PATH_MAX];
	unsigned line;			       /* 1-based; 0 when no single line is at fault */
	char key[SSID_CONFIG_KEY_MAX];	       /* "" when no single key is at fault */
	char message[SSID_CONFIG_MESSAGE_MAX]; /* what was expected, and what was found */
};

/*
 * Fill cfg with the defaults, then read path over them, then check the keys
 * against each other: mock_cluster.brokers and kafka.bootstrap.servers are
 * exclusive and one of them is required; retry.backoff_min_ms may not exceed
 * retry.backoff_max_ms; redis.unix_socket excludes redis.host/redis.port;
 * mock_cluster.bootstrap_file needs mock_cluster.brokers.
 * Returns 0; -EINVAL for a bad file; -ENOMEM; -EFBIG above 1 MiB; or the
 * -errno of open/read. On failure err says why (err may be NULL) and cfg is
 * left empty, so ssid_config_free(cfg) is harmless either way.
 */
int ssid_config_load(struct ssid_config *cfg, const char *path, struct ssid_config_error *err);

/* The same from memory: name stands for the path in cfg->path and in errors. */
int ssid_config_parse_buffer(struct ssid_config *cfg, const char *name, const char *text,
			     size_t len, struct ssid_config_error *err);

/* Release everything cfg owns and zero it; NULL is fine. */
void ssid_config_free(struct ssid_config *cfg);

/*
 * "path:line: key: message", leaving out the line when it is 0 and the key
 * when it is empty. snprintf semantics: returns the length the whole text
 * needs (buf may be NULL when len is 0), or -EINVAL.
 */
int ssid_config_format_error(const struct ssid_config_error *e, char *buf, size_t len);

/*
 * The keys that differ between old and new but only take effect on restart
 * (kafka.* included), as "redis.port, kafka.group.id" into buf (truncated to
 * fit; buf may be NULL when len is 0). Returns how many there are.
 */
int ssid_config_reload_diff(const struct ssid_config *old, const struct ssid_config *new, char *buf,
			    size_t len);

/*
 * Copy the keys SIGHUP may change from src into dst, leaving the rest of
 * dst alone. All or nothing: returns how many keys changed, or -ENOMEM with
 * dst untouched.
 */
int ssid_config_copy_reloadable(struct ssid_config *dst, const struct ssid_config *src);

/* The value of name in l (no prefix), NULL when absent. */
const char *ssid_kv_list_get(const struct ssid_kv_list *l, const char *name);

/* One entry of the key table, for --help and for checking the documentation. */
struct ssid_config_key_info {
	const char *name;
	const char *help;
	const char *default_value; /* as it would be written in the file */
	bool reloadable;
	char expected[SSID_CONFIG_MESSAGE_MAX]; /* "an integer 1..65535" */
};

size_t ssid_config_key_count(void);
/* Returns 0, or -ENOENT when index is past the end. */
int ssid_config_key_info(size_t index, struct ssid_config_key_info *info);
/*
 * The value of key index in cfg, written the way the table writes its
 * defaults: integers and durations in decimal, yes/no, a number as %g (with
 * more digits when that would not read back the same), a choice's name, a
 * string as it is (unquoted: one with blanks at its ends or " #" reads back
 * the same only in quotes). For walking the table over a configuration
 * (tests). snprintf semantics: returns the length the whole text needs (buf
 * may be NULL when len is 0); -ENOENT when index is past the end, -EINVAL.
 */
int ssid_config_key_value(const struct ssid_config *cfg, size_t index, char *buf, size_t len);

/*
 * Secrets (ssid_config_secret.c). A key holds a secret when its name says
 * password or secret, or is a private key or an OAUTHBEARER configuration
 * (sasl.password, ssl.key.password, ssl.key.pem, ...): its value is never
 * printed. redis.password_file and any kafka.[consumer.|producer.]X_file
 * are read when the file is: the content, trailing line breaks removed, is
 * the value of redis.password / kafka.X. A relative path is resolved in
 * $CREDENTIALS_DIRECTORY when it is set (systemd's LoadCredential=), else
 * next to the configuration file.
 */
bool ssid_config_is_secret(const char *name);
/*
 * When cfg holds a secret written in the file itself and the file is
 * readable by others (mode bits), the warning for the operator in buf
 * ("path:line: key: ..."), and 1; else 0 (buf untouched).
 */
int ssid_config_secret_warning(const struct ssid_config *cfg, char *buf, size_t len);

/* The clock setting taken apart, for the daemon's time source. */
enum ssid_config_clock_kind {
	SSID_CONFIG_CLOCK_SYSTEM, /* "system": the real clock */
	SSID_CONFIG_CLOCK_FIXED,  /* "fixed:<RFC 3339>": always fixed_ms */
	SSID_CONFIG_CLOCK_FILE,	  /* "file:<path>": read the time from file */
};

struct ssid_config_clock {
	enum ssid_config_clock_kind kind;
	int64_t fixed_ms; /* for FIXED */
	const char *file; /* for FILE: points into the spec passed in */
};

/* Returns 0, or -EINVAL when spec is none of the three forms. */
int ssid_config_parse_clock(const char *spec, struct ssid_config_clock *out);

/*
 * The clock's now in ms since the epoch: the fixed instant, the RFC 3339
 * time in the file (re-read at every call, so tests move time by rewriting
 * it; the real clock when it cannot be read), or the real clock.
 */
int64_t ssid_config_clock_now(const struct ssid_config_clock *clock);

#endif
