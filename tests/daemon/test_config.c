/*
 * ssid_config: syntax, every error with its file:line, kafka.* lists,
 * reloads, I/O, the shipped file; the key table's own tests are in
 * test_config_keys.c (same suite).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <check.h>

#include "fixture.h"
#include "ssid_config.h"
#include "suites.h"
#include "test_config.h"

int config_parse(struct ssid_config *cfg, const char *text, struct ssid_config_error *err)
{
	return ssid_config_parse_buffer(cfg, "t.conf", text, strlen(text), err);
}

char *config_shipped_text(void)
{
	char *text = fx_read_file(SHIPPED_CONF, NULL);

	ck_assert_msg(text, "cannot read " SHIPPED_CONF " (tests run from the repository root)");
	return text;
}

static const struct {
	const char *text;
	bool value;
} bool_cases[] = {
    {"yes", true}, {"true", true},   {"on", true},   {"1", true},  {"YES", true}, {"True", true},
    {"no", false}, {"false", false}, {"off", false}, {"0", false}, {"NO", false}, {"Off", false},
};

START_TEST (test_bool_spellings) {
	struct ssid_config cfg;
	char text[128];

	snprintf(text, sizeof(text), BOOT "redis.keepalive = %s\n", bool_cases[_i].text);
	ck_assert_int_eq(config_parse(&cfg, text, NULL), 0);
	ck_assert_int_eq(cfg.redis_keepalive, bool_cases[_i].value);
	ssid_config_free(&cfg);
}
END_TEST

static const struct {
	const char *text;
	int level;
} level_cases[] = {
    {"debug", LOG_DEBUG},     {"info", LOG_INFO}, {"notice", LOG_NOTICE},
    {"warning", LOG_WARNING}, {"err", LOG_ERR},	  {"INFO", LOG_INFO},
};

START_TEST (test_log_levels) {
	struct ssid_config cfg;
	char text[128];

	snprintf(text, sizeof(text), BOOT "log.level = %s\n", level_cases[_i].text);
	ck_assert_int_eq(config_parse(&cfg, text, NULL), 0);
	ck_assert_int_eq(cfg.log_level, level_cases[_i].level);
	ssid_config_free(&cfg);
}
END_TEST

START_TEST (test_clock_forms) {
	struct ssid_config_clock clock;

	ck_assert_int_eq(ssid_config_parse_clock("system", &clock), 0);
	ck_assert_int_eq(clock.kind, SSID_CONFIG_CLOCK_SYSTEM);
	ck_assert_int_eq(ssid_config_parse_clock("fixed:2026-11-20T00:00:00Z", &clock), 0);
	ck_assert_int_eq(clock.kind, SSID_CONFIG_CLOCK_FIXED);
	ck_assert_int_eq(clock.fixed_ms, 1795132800000LL);
	ck_assert_int_eq(ssid_config_parse_clock("file:/run/ssid/now", &clock), 0);
	ck_assert_int_eq(clock.kind, SSID_CONFIG_CLOCK_FILE);
	ck_assert_str_eq(clock.file, "/run/ssid/now");

	ck_assert_int_eq(ssid_config_parse_clock("file:", &clock), -EINVAL);
	ck_assert_int_eq(ssid_config_parse_clock("fixed:", &clock), -EINVAL);
	ck_assert_int_eq(ssid_config_parse_clock("fixed:2026-02-30T00:00:00Z", &clock), -EINVAL);
	ck_assert_int_eq(ssid_config_parse_clock("fixed:2026-11-20 00:00:00Z", &clock), -EINVAL);
	ck_assert_int_eq(ssid_config_parse_clock("System", &clock), -EINVAL);
	ck_assert_int_eq(ssid_config_parse_clock("", &clock), -EINVAL);
	ck_assert_int_eq(ssid_config_parse_clock(NULL, &clock), -EINVAL);
}
END_TEST

/* Each bad file with the exact message it must produce. */
static const struct {
	const char *text;
	const char *message;
} error_cases[] = {
    /* values of every type */
    {"redis.port = abc\n", "t.conf:1: redis.port: expected an integer 1..65535, got \"abc\""},
    {"redis.port = 65536\n", "t.conf:1: redis.port: expected an integer 1..65535, got \"65536\""},
    {"redis.port = 0\n", "t.conf:1: redis.port: expected an integer 1..65535, got \"0\""},
    {"redis.port = 0x1f\n", "t.conf:1: redis.port: expected an integer 1..65535, got \"0x1f\""},
    {"redis.port = 80 80\n", "t.conf:1: redis.port: expected an integer 1..65535, got \"80 80\""},
    {"redis.port =\n", "t.conf:1: redis.port: expected an integer 1..65535, got \"\""},
    {"redis.port = \" 80\"\n", "t.conf:1: redis.port: expected an integer 1..65535, got \" 80\""},
    {"redis.db = 99999999999999999999\n",
     "t.conf:1: redis.db: expected an integer 0..15, got \"99999999999999999999\""},
    {"redis.db = -1\n", "t.conf:1: redis.db: expected an integer 0..15, got \"-1\""},
    {"batch.max_wait_ms = 1s\n",
     "t.conf:1: batch.max_wait_ms: expected a duration in milliseconds 0..10000, got \"1s\""},
    {"batch.max_wait_ms = 10001\n",
     "t.conf:1: batch.max_wait_ms: expected a duration in milliseconds 0..10000, got "
     "\"10001\""},
    {"redis.keepalive = maybe\n",
     "t.conf:1: redis.keepalive: expected yes/no, true/false, on/off or 1/0, got \"maybe\""},
    {"score.epsilon = nan\n", "t.conf:1: score.epsilon: expected a number 0..100, got \"nan\""},
    {"score.epsilon = inf\n", "t.conf:1: score.epsilon: expected a number 0..100, got \"inf\""},
    {"score.epsilon = 0x1p3\n", "t.conf:1: score.epsilon: expected a number 0..100, got \"0x1p3\""},
    {"score.epsilon = 100.5\n", "t.conf:1: score.epsilon: expected a number 0..100, got \"100.5\""},
    {"score.epsilon = 0,5\n", "t.conf:1: score.epsilon: expected a number 0..100, got \"0,5\""},
    {"score.epsilon = -0.1\n", "t.conf:1: score.epsilon: expected a number 0..100, got \"-0.1\""},
    {"log.level = loud\n",
     "t.conf:1: log.level: expected one of debug, info, notice, warning, err, got \"loud\""},
    {"input.topic = a b\n",
     "t.conf:1: input.topic: expected a Kafka topic name (1-249 characters from a-z A-Z 0-9 . "
     "_ -), got \"a b\""},
    {"dlq.topic =\n",
     "t.conf:1: dlq.topic: expected a Kafka topic name (1-249 characters from a-z A-Z 0-9 . _ "
     "-), got \"\""},
    {"output.topic = ..\n",
     "t.conf:1: output.topic: expected a Kafka topic name (1-249 characters from a-z A-Z 0-9 . "
     "_ -), got \"..\""},
    {"redis.host = \"\"\n", "t.conf:1: redis.host: expected a host name or address, got \"\""},
    {"model.file =\n", "t.conf:1: model.file: expected a file path, got \"\""},
    {"clock = fixed:2026-13-01T00:00:00Z\n",
     "t.conf:1: clock: expected system, fixed:<RFC 3339 time> or file:<path>, got "
     "\"fixed:2026-13-01T00:00:00Z\""},
    {"clock = file:\n",
     "t.conf:1: clock: expected system, fixed:<RFC 3339 time> or file:<path>, got \"file:\""},
    {"clock = wall\n",
     "t.conf:1: clock: expected system, fixed:<RFC 3339 time> or file:<path>, got \"wall\""},
    {"mock_cluster.brokers = 10\n",
     "t.conf:1: mock_cluster.brokers: expected an integer 0..9, got \"10\""},
    /* values echoed back are escaped and cut */
    {"redis.port = \"a\\\"b\\\\c\"\n",
     "t.conf:1: redis.port: expected an integer 1..65535, got \"a\\\"b\\\\c\""},
    {"redis.port = a\tb\x01\n",
     "t.conf:1: redis.port: expected an integer 1..65535, got \"a\\x09b\\x01\""},
    {"redis.port = "
     "0123456789012345678901234567890123456789012345678901234567890123456789\n",
     "t.conf:1: redis.port: expected an integer 1..65535, got "
     "\"0123456789012345678901234567890123456789012345678901234567890123...\""},
    /* keys */
    {"redis.prot = 1\n", "t.conf:1: redis.prot: unknown key (did you mean redis.port?)"},
    {"# c\n\nlog.levle = info\n", "t.conf:3: log.levle: unknown key (did you mean log.level?)"},
    {"totally.different = 1\n", "t.conf:1: totally.different: unknown key"},
    {"redis.port = 1\nredis.db = 2\nredis.port = 1\n",
     "t.conf:3: redis.port: duplicate key (first set on line 1)"},
    {"kafka.acks = all\n\nkafka.acks = 1\n",
     "t.conf:3: kafka.acks: duplicate key (first set on line 1)"},
    {"kafka.consumer.fetch.wait.max.ms = 1\nkafka.consumer.fetch.wait.max.ms = 1\n",
     "t.conf:2: kafka.consumer.fetch.wait.max.ms: duplicate key (first set on line 1)"},
    {"kafka. = 1\n", "t.conf:1: kafka.: expected a librdkafka property name after \"kafka.\""},
    {"kafka.producer. = 1\n",
     "t.conf:1: kafka.producer.: expected a librdkafka property name after "
     "\"kafka.producer.\""},
    /* syntax */
    {"hello world\n", "t.conf:1: expected \"key = value\", got \"hello world\""},
    {"\n  # fine\n   \t\nredis port = 1\n",
     "t.conf:4: expected a key of at most 127 characters from a-z A-Z 0-9 . _ -, got \"redis "
     "port \""},
    {"= 1\n", "t.conf:1: expected a key of at most 127 characters from a-z A-Z 0-9 . _ -, got "
	      "\"\""},
    {"redis.password = \"abc\n", "t.conf:1: redis.password: missing closing quote"},
    {"redis.password = \"a\\nb\"\n",
     "t.conf:1: redis.password: only \\\" and \\\\ may follow a backslash in quotes"},
    {"redis.password = \"abc\" def\n",
     "t.conf:1: redis.password: unexpected text after the closing quote"},
    {"redis.password = \"abc\"# tight comment\n",
     "t.conf:1: redis.password: unexpected text after the closing quote"},
    {"redis.db = 1\r\nredis.port = 1\0\n", "t.conf:2: NUL byte in line"},
    /* keys checked against each other */
    {"log.level = info\n",
     "t.conf: kafka.bootstrap.servers: not set: set kafka.bootstrap.servers, or "
     "mock_cluster.brokers for the embedded demo cluster"},
    {"kafka.bootstrap.servers = k:9092\nmock_cluster.brokers = 3\n",
     "t.conf:2: mock_cluster.brokers: set together with a Kafka bootstrap.servers (line 1): use "
     "one or the other"},
    {"mock_cluster.brokers = 1\nkafka.producer.bootstrap.servers = k:9092\n",
     "t.conf:1: mock_cluster.brokers: set together with a Kafka bootstrap.servers (line 2): use "
     "one or the other"},
    {"kafka.consumer.bootstrap.servers = k:9092\n",
     "t.conf: kafka.producer.bootstrap.servers: not set while "
     "kafka.consumer.bootstrap.servers is (line 1): set kafka.bootstrap.servers for both"},
    {"\nkafka.producer.bootstrap.servers = k:9092\n",
     "t.conf: kafka.consumer.bootstrap.servers: not set while "
     "kafka.producer.bootstrap.servers is (line 2): set kafka.bootstrap.servers for both"},
    {BOOT "retry.backoff_min_ms = 500\nretry.backoff_max_ms = 400\n",
     "t.conf:3: retry.backoff_max_ms: must be at least retry.backoff_min_ms (500), got 400"},
    {BOOT "retry.backoff_max_ms = 400\nretry.backoff_min_ms = 500\n",
     "t.conf:3: retry.backoff_min_ms: must be at most retry.backoff_max_ms (400), got 500"},
    {BOOT "retry.backoff_min_ms = 20000\n",
     "t.conf:2: retry.backoff_min_ms: must be at most retry.backoff_max_ms (10000), got 20000"},
    {BOOT "redis.port = 6380\nredis.unix_socket = /run/redis.sock\n",
     "t.conf:3: redis.unix_socket: set together with redis.port (line 2): use one or the "
     "other"},
    {BOOT "redis.unix_socket = /run/redis.sock\nredis.host = localhost\n",
     "t.conf:2: redis.unix_socket: set together with redis.host (line 3): use one or the "
     "other"},
    {"redis.nodes = a:1,b\n",
     "t.conf:1: redis.nodes: expected host:port[,host:port...] ([v6]:port for IPv6), got "
     "\"a:1,b\""},
    {"redis.nodes = ::1:7000\n",
     "t.conf:1: redis.nodes: expected host:port[,host:port...] ([v6]:port for IPv6), got "
     "\"::1:7000\""},
    {BOOT "redis.nodes = r1:7000,r2:7000\n", "t.conf:2: redis.nodes: needs redis.cluster = yes"},
    {BOOT "redis.wait_replicas = 1\n", "t.conf:2: redis.wait_replicas: needs redis.cluster = yes"},
    {BOOT "redis.cluster = yes\nredis.unix_socket = /run/redis.sock\n",
     "t.conf:3: redis.unix_socket: a Unix socket cannot reach a cluster's nodes: use "
     "redis.nodes"},
    {BOOT "redis.db = 2\nredis.cluster = yes\n",
     "t.conf:2: redis.db: a Redis Cluster has database 0 only"},
    {BOOT "mock_cluster.bootstrap_file = /tmp/b\n",
     "t.conf:2: mock_cluster.bootstrap_file: needs mock_cluster.brokers > 0 (there is no mock "
     "cluster to describe)"},
};

START_TEST (test_errors) {
	const char *text = error_cases[_i].text;
	struct ssid_config_error err;
	struct ssid_config cfg;
	size_t len = strlen(text);
	char msg[1024];

	/* one case carries a NUL byte: parse it with its full length */
	if (strstr(error_cases[_i].message, "NUL byte"))
		len += strlen(text + len + 1) + 1;
	ck_assert_int_eq(ssid_config_parse_buffer(&cfg, "t.conf", text, len, &err), -EINVAL);
	ck_assert_int_eq(ssid_config_format_error(&err, msg, sizeof(msg)), (int)strlen(msg));
	ck_assert_str_eq(msg, error_cases[_i].message);
	/* a failed parse leaves nothing behind */
	ck_assert_ptr_null(cfg.path);
	ck_assert_ptr_null(cfg.input_topic);
	ck_assert_ptr_null(cfg.kafka.items);
}
END_TEST

START_TEST (test_error_fields) {
	struct ssid_config_error err;
	struct ssid_config cfg;

	ck_assert_int_eq(config_parse(&cfg, BOOT "\nredis.port = abc # comment\n", &err), -EINVAL);
	ck_assert_str_eq(err.path, "t.conf");
	ck_assert_uint_eq(err.line, 3);
	ck_assert_str_eq(err.key, "redis.port");
	ck_assert_str_eq(err.message, "expected an integer 1..65535, got \"abc\"");
	/* NULL err is allowed */
	ck_assert_int_eq(config_parse(&cfg, "redis.port = abc\n", NULL), -EINVAL);
}
END_TEST

START_TEST (test_comments_and_quoting) {
	struct ssid_config cfg;
	struct ssid_config_error err;
	/* a BOM, CRLF line ends, tabs, and no newline at the very end */
	const char *text = "\xef\xbb\xbf# leading comment\r\n"
			   "   # indented comment\n"
			   "\t\n"
			   "\tredis.host\t=\tredis.local\t# where\r\n"
			   "redis.password = \"  spaced # not a comment \"   # a comment\n"
			   "redis.user = a#b\n"
			   "redis.key_prefix = \"q\\\"uote\\\\d\"\n"
			   "model.file = # nothing but a comment\n"
			   "mock_cluster.bootstrap_file = \"\"\n"
			   "kafka.client.id = id with spaces   \n"
			   "kafka.bootstrap.servers=k:9092";

	ck_assert_int_eq(config_parse(&cfg, text, &err), -EINVAL);
	/* model.file may not be empty: the comment left it so */
	ck_assert_uint_eq(err.line, 8);
	ck_assert_str_eq(err.key, "model.file");

	text = "\xef\xbb\xbf# leading comment\r\n"
	       "   # indented comment\n"
	       "\t\n"
	       "\tredis.host\t=\tredis.local\t# where\r\n"
	       "redis.password = \"  spaced # not a comment \"   # a comment\n"
	       "redis.user = a#b\n"
	       "redis.key_prefix = \"q\\\"uote\\\\d\"\n"
	       "redis.unix_socket = # nothing but a comment\n"
	       "mock_cluster.bootstrap_file = \"\"\n"
	       "kafka.client.id = id with spaces   \n"
	       "kafka.bootstrap.servers=k:9092";
	ck_assert_int_eq(config_parse(&cfg, text, &err), 0);
	ck_assert_str_eq(cfg.redis_host, "redis.local");
	ck_assert_str_eq(cfg.redis_password, "  spaced # not a comment ");
	ck_assert_str_eq(cfg.redis_user, "a#b");
	ck_assert_str_eq(cfg.redis_key_prefix, "q\"uote\\d");
	ck_assert_str_eq(cfg.redis_unix_socket, "");
	ck_assert_str_eq(cfg.mock_cluster_bootstrap_file, "");
	ck_assert_str_eq(ssid_kv_list_get(&cfg.kafka, "client.id"), "id with spaces");
	ck_assert_str_eq(ssid_kv_list_get(&cfg.kafka, "bootstrap.servers"), "k:9092");
	ssid_config_free(&cfg);
}
END_TEST

START_TEST (test_kafka_lists) {
	struct ssid_config cfg;
	const char *text = "kafka.bootstrap.servers = b1:9092,b2:9092\n"
			   "kafka.consumer.session.timeout.ms = 6000\n"
			   "kafka.security.protocol = SASL_SSL\n"
			   "kafka.producer.linger.ms = 5\n"
			   "# kafka.producer.acks = 1\n"
			   "kafka.consumer.auto.offset.reset = earliest\n"
			   "kafka.producer.compression.type = lz4\n"
			   "kafka.client.id = ssid\n"
			   "kafka.consumer.client.id = ssid-consumer\n";

	ck_assert_int_eq(config_parse(&cfg, text, NULL), 0);
	ck_assert_uint_eq(cfg.kafka.n, 3);
	ck_assert_str_eq(cfg.kafka.items[0].name, "bootstrap.servers");
	ck_assert_str_eq(cfg.kafka.items[0].value, "b1:9092,b2:9092");
	ck_assert_uint_eq(cfg.kafka.items[0].line, 1);
	ck_assert_str_eq(cfg.kafka.items[1].name, "security.protocol");
	ck_assert_uint_eq(cfg.kafka.items[1].line, 3);
	ck_assert_str_eq(cfg.kafka.items[2].name, "client.id");

	ck_assert_uint_eq(cfg.kafka_consumer.n, 3);
	ck_assert_str_eq(cfg.kafka_consumer.items[0].name, "session.timeout.ms");
	ck_assert_str_eq(cfg.kafka_consumer.items[0].value, "6000");
	ck_assert_str_eq(cfg.kafka_consumer.items[1].name, "auto.offset.reset");
	ck_assert_str_eq(cfg.kafka_consumer.items[2].name, "client.id");
	ck_assert_str_eq(cfg.kafka_consumer.items[2].value, "ssid-consumer");
	ck_assert_uint_eq(cfg.kafka_consumer.items[2].line, 9);

	ck_assert_uint_eq(cfg.kafka_producer.n, 2);
	ck_assert_str_eq(cfg.kafka_producer.items[0].name, "linger.ms");
	ck_assert_str_eq(cfg.kafka_producer.items[1].name, "compression.type");
	ck_assert_str_eq(cfg.kafka_producer.items[1].value, "lz4");
	ck_assert_ptr_null(ssid_kv_list_get(&cfg.kafka_producer, "acks"));
	ck_assert_ptr_null(ssid_kv_list_get(NULL, "acks"));
	ssid_config_free(&cfg);
}
END_TEST

START_TEST (test_mock_cluster_alone) {
	struct ssid_config cfg;

	ck_assert_int_eq(
	    config_parse(&cfg,
			 "mock_cluster.brokers = 3\nmock_cluster.bootstrap_file = /tmp/bs\n"
			 "kafka.group.id = demo\n",
			 NULL),
	    0);
	ck_assert_int_eq(cfg.mock_cluster_brokers, 3);
	ck_assert_uint_eq(cfg.kafka.n, 1);
	ssid_config_free(&cfg);

	/* bootstrap servers given to each client separately are enough */
	ck_assert_int_eq(config_parse(&cfg,
				      "kafka.consumer.bootstrap.servers = c:9092\n"
				      "kafka.producer.bootstrap.servers = p:9092\n",
				      NULL),
			 0);
	ssid_config_free(&cfg);
}
END_TEST

START_TEST (test_shipped_config_loads) {
	struct ssid_config cfg;
	struct ssid_config_error err;
	char msg[1024];
	int r = ssid_config_load(&cfg, SHIPPED_CONF, &err);

	ssid_config_format_error(&err, msg, sizeof(msg));
	ck_assert_msg(r == 0, "%s", msg);
	ck_assert_str_eq(cfg.path, SHIPPED_CONF);
	ck_assert_str_eq(cfg.input_topic, "ssi.events");
	ck_assert_int_eq(cfg.redis_port, 6379);
	ck_assert_int_eq(cfg.log_level, LOG_INFO);
	ck_assert_int_eq(cfg.mock_cluster_brokers, 0);
	ck_assert_str_eq(ssid_kv_list_get(&cfg.kafka, "bootstrap.servers"), "localhost:9092");
	ck_assert_str_eq(ssid_kv_list_get(&cfg.kafka, "group.id"), "ssid");
	ck_assert_uint_eq(cfg.kafka.n, 2);
	ck_assert_uint_eq(cfg.kafka_consumer.n, 0);
	ck_assert_uint_eq(cfg.kafka_producer.n, 0);
	ssid_config_free(&cfg);
}
END_TEST

START_TEST (test_reload_diff) {
	struct ssid_config old, new;
	char buf[256];

	ck_assert_int_eq(config_parse(&old,
				      BOOT
				      "redis.port = 6379\nbatch.max_events = 10\n"
				      "kafka.group.id = a\nkafka.consumer.fetch.min.bytes = 1\n",
				      NULL),
			 0);
	ck_assert_int_eq(config_parse(&new,
				      BOOT "redis.port = 6380\nbatch.max_events = 20\n"
					   "kafka.group.id = b\nkafka.producer.linger.ms = 5\n"
					   "log.level = debug\ninput.topic = other\n",
				      NULL),
			 0);
	ck_assert_int_eq(ssid_config_reload_diff(&old, &new, buf, sizeof(buf)), 5);
	ck_assert_str_eq(buf, "input.topic, redis.port, kafka.consumer.fetch.min.bytes, "
			      "kafka.producer.linger.ms, kafka.group.id");
	/* a short buffer is cut, the count is not */
	ck_assert_int_eq(ssid_config_reload_diff(&old, &new, buf, 8), 5);
	ck_assert_str_eq(buf, "input.t");
	ck_assert_int_eq(ssid_config_reload_diff(&old, &new, NULL, 0), 5);
	ck_assert_int_eq(ssid_config_reload_diff(&old, &old, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "");
	ssid_config_free(&old);
	ssid_config_free(&new);
}
END_TEST

START_TEST (test_copy_reloadable) {
	struct ssid_config live, next;

	ck_assert_int_eq(config_parse(&live, BOOT, NULL), 0);
	ck_assert_int_eq(config_parse(&next,
				      BOOT "redis.port = 6380\nbatch.max_events = 20\n"
					   "model.file = /srv/model.json\nlog.level = debug\n"
					   "score.epsilon = 0.5\n",
				      NULL),
			 0);
	ck_assert_int_eq(ssid_config_copy_reloadable(&live, &next), 4);
	ck_assert_int_eq(live.batch_max_events, 20);
	ck_assert_str_eq(live.model_file, "/srv/model.json");
	ck_assert_ptr_ne(live.model_file, next.model_file);
	ck_assert_int_eq(live.log_level, LOG_DEBUG);
	ck_assert_double_eq(live.score_epsilon, 0.5);
	ck_assert_int_eq(live.redis_port, 6379);
	ck_assert_int_eq(ssid_config_copy_reloadable(&live, &next), 0);
	ck_assert_int_eq(ssid_config_reload_diff(&live, &next, NULL, 0), 1);
	ssid_config_free(&live);
	ssid_config_free(&next);
}
END_TEST

START_TEST (test_load_io_errors) {
	struct ssid_config_error err;
	struct ssid_config cfg;
	char path[] = "/tmp/ssid-config-test-XXXXXX";
	char dir[] = "/tmp/ssid-config-dir-XXXXXX";
	char msg[1024], want[1024];
	int fd;

	ck_assert_int_eq(ssid_config_load(&cfg, "/nonexistent/ssid.conf", &err), -ENOENT);
	ssid_config_format_error(&err, msg, sizeof(msg));
	ck_assert_str_eq(msg, "/nonexistent/ssid.conf: cannot open: No such file or directory");
	ck_assert_ptr_null(cfg.path);

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(ssid_config_load(&cfg, dir, &err), -EISDIR);
	ssid_config_format_error(&err, msg, sizeof(msg));
	snprintf(want, sizeof(want), "%s: cannot read: Is a directory", dir);
	ck_assert_str_eq(msg, want);
	rmdir(dir);

	/* over 1 MiB of comments */
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	for (int i = 0; i < 20000; i++)
		ck_assert_int_eq(
		    write(fd, "# 60 bytes of comment ..................................\n", 57),
		    57);
	close(fd);
	ck_assert_int_eq(ssid_config_load(&cfg, path, &err), -EFBIG);
	ck_assert_str_eq(err.message, "larger than 1048576 bytes: not a configuration file");

	/* a real file with an error names the path */
	fd = open(path, O_WRONLY | O_TRUNC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, BOOT "redis.db = 16\n", strlen(BOOT) + 14), strlen(BOOT) + 14);
	close(fd);
	ck_assert_int_eq(ssid_config_load(&cfg, path, &err), -EINVAL);
	ssid_config_format_error(&err, msg, sizeof(msg));
	snprintf(want, sizeof(want), "%s:2: redis.db: expected an integer 0..15, got \"16\"", path);
	ck_assert_str_eq(msg, want);
	unlink(path);
}
END_TEST

START_TEST (test_format_error) {
	struct ssid_config_error e = {.path = "a.conf", .line = 7, .key = "k", .message = "bad"};
	char buf[64];

	ck_assert_int_eq(ssid_config_format_error(&e, buf, sizeof(buf)), 16);
	ck_assert_str_eq(buf, "a.conf:7: k: bad");
	e.line = 0;
	ssid_config_format_error(&e, buf, sizeof(buf));
	ck_assert_str_eq(buf, "a.conf: k: bad");
	e.key[0] = '\0';
	ssid_config_format_error(&e, buf, sizeof(buf));
	ck_assert_str_eq(buf, "a.conf: bad");
	ck_assert_int_eq(ssid_config_format_error(&e, buf, 4), 11);
	ck_assert_str_eq(buf, "a.c");
	ck_assert_int_eq(ssid_config_format_error(&e, NULL, 0), 11);
	ck_assert_int_eq(ssid_config_format_error(NULL, buf, sizeof(buf)), -EINVAL);
}
END_TEST

/* Seeded random damage to the shipped file: every outcome must be clean. */
START_TEST (test_random_damage) {
	char *text = config_shipped_text();
	size_t len = strlen(text);
	char *copy = malloc(len);
	uint64_t s = 0x5eed;
	int ok = 0, failed = 0;

	ck_assert_ptr_nonnull(copy);
	for (int round = 0; round < 300; round++) {
		struct ssid_config_error err;
		struct ssid_config cfg;
		char msg[1024];
		int r;

		memcpy(copy, text, len);
		for (int k = 0; k < 1 + round % 8; k++) {
			s = s * 6364136223846793005ULL + 1442695040888963407ULL;
			copy[(s >> 33) % len] = (char)(s >> 17);
		}
		r = ssid_config_parse_buffer(&cfg, "d.conf", copy, len, &err);
		if (r == 0) {
			ok++;
			ssid_config_free(&cfg);
		} else {
			ck_assert_int_eq(r, -EINVAL);
			ck_assert_int_gt(ssid_config_format_error(&err, msg, sizeof(msg)), 0);
			ck_assert_ptr_null(cfg.path);
			failed++;
		}
	}
	ck_assert_int_eq(ok + failed, 300);
	ck_assert_int_gt(ok, 0);
	ck_assert_int_gt(failed, 0);
	free(copy);
	free(text);
}
END_TEST

Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");

	tcase_add_loop_test(tc, test_bool_spellings, 0,
			    (int)(sizeof(bool_cases) / sizeof(bool_cases[0])));
	tcase_add_loop_test(tc, test_log_levels, 0,
			    (int)(sizeof(level_cases) / sizeof(level_cases[0])));
	tcase_add_test(tc, test_clock_forms);
	tcase_add_loop_test(tc, test_errors, 0,
			    (int)(sizeof(error_cases) / sizeof(error_cases[0])));
	tcase_add_test(tc, test_error_fields);
	tcase_add_test(tc, test_comments_and_quoting);
	tcase_add_test(tc, test_kafka_lists);
	tcase_add_test(tc, test_mock_cluster_alone);
	tcase_add_test(tc, test_shipped_config_loads);
	tcase_add_test(tc, test_reload_diff);
	tcase_add_test(tc, test_copy_reloadable);
	tcase_add_test(tc, test_load_io_errors);
	tcase_add_test(tc, test_format_error);
	tcase_add_test(tc, test_random_damage);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, config_keys_tcase());
	return s;
}
