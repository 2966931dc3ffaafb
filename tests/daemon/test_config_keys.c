/*
 * ssid_config's key table, walked through ssid_config_key_info and
 * ssid_config_key_value: every key's default, every type's spellings, the
 * values written back, the documentation in the shipped file (every key,
 * its default and its range), and both ends of every integer range.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <check.h>

#include "fixture.h"
#include "ssid_config.h"
#include "suites.h"
#include "test_config.h"

/* Every key of the table holds the default the table states, as the table writes it. */
START_TEST (test_defaults) {
	struct ssid_config cfg;
	char value[SSID_CONFIG_MESSAGE_MAX];
	size_t n = ssid_config_key_count();

	ck_assert_int_eq(config_parse(&cfg, BOOT, NULL), 0);
	ck_assert_str_eq(cfg.path, "t.conf");
	for (size_t i = 0; i < n; i++) {
		struct ssid_config_key_info info;

		ck_assert_int_eq(ssid_config_key_info(i, &info), 0);
		ck_assert_int_eq(ssid_config_key_value(&cfg, i, value, sizeof(value)),
				 (int)strlen(value));
		ck_assert_msg(strcmp(value, info.default_value) == 0,
			      "%s is \"%s\", the table says \"%s\"", info.name, value,
			      info.default_value);
	}
	ck_assert_int_eq(ssid_config_key_value(&cfg, n, value, sizeof(value)), -ENOENT);
	ck_assert_uint_eq(cfg.kafka.n, 1);
	ck_assert_uint_eq(cfg.kafka_consumer.n, 0);
	ck_assert_uint_eq(cfg.kafka_producer.n, 0);
	ssid_config_free(&cfg);
	ck_assert_ptr_null(cfg.input_topic);
	ssid_config_free(&cfg);
	ssid_config_free(NULL);
}
END_TEST

/* A value other than the default for every key it can, in every spelling a type allows. */
#define EVERY_TYPE                                                                                 \
	"input.topic = in.v2\n"                                                                    \
	"output.topic = out_v2\n"                                                                  \
	"dlq.topic = dead-letters\n"                                                               \
	"redis.unix_socket = /run/redis/redis.sock\n"                                              \
	"redis.user = scorer\n"                                                                    \
	"redis.password = s3cr=t\n"                                                                \
	"redis.db = 15\n"                                                                          \
	"redis.key_prefix = t1:\n"                                                                 \
	"redis.connect_timeout_ms = 1\n"                                                           \
	"redis.command_timeout_ms = 600000\n"                                                      \
	"redis.keepalive = off\n"                                                                  \
	"batch.max_events = +1000000\n"                                                            \
	"batch.max_wait_ms = 0\n"                                                                  \
	"model.file = model.json\n"                                                                \
	"score.epsilon = 1.5e1\n"                                                                  \
	"retry.backoff_min_ms = 007\n"                                                             \
	"retry.backoff_max_ms = 3600000\n"                                                         \
	"shutdown.timeout_ms = 0\n"                                                                \
	"status.interval_ms = 100\n"                                                               \
	"log.level = warning\n"                                                                    \
	"mock_cluster.brokers = 9\n"                                                               \
	"mock_cluster.partitions = 256\n"                                                          \
	"mock_cluster.bootstrap_file = /tmp/bootstraps\n"                                          \
	"clock = fixed:2026-11-20T10:00:00.250+01:00\n"

START_TEST (test_every_type_parses) {
	struct ssid_config cfg;
	struct ssid_config_error err;
	const char *text = EVERY_TYPE;
	struct ssid_config_clock clock;

	ck_assert_int_eq(config_parse(&cfg, text, &err), 0);
	ck_assert_str_eq(cfg.input_topic, "in.v2");
	ck_assert_str_eq(cfg.output_topic, "out_v2");
	ck_assert_str_eq(cfg.dlq_topic, "dead-letters");
	ck_assert_str_eq(cfg.redis_unix_socket, "/run/redis/redis.sock");
	ck_assert_str_eq(cfg.redis_user, "scorer");
	ck_assert_str_eq(cfg.redis_password, "s3cr=t");
	ck_assert_int_eq(cfg.redis_db, 15);
	ck_assert_str_eq(cfg.redis_key_prefix, "t1:");
	ck_assert_int_eq(cfg.redis_connect_timeout_ms, 1);
	ck_assert_int_eq(cfg.redis_command_timeout_ms, 600000);
	ck_assert(!cfg.redis_keepalive);
	ck_assert_int_eq(cfg.batch_max_events, 1000000);
	ck_assert_int_eq(cfg.batch_max_wait_ms, 0);
	ck_assert_str_eq(cfg.model_file, "model.json");
	ck_assert_double_eq(cfg.score_epsilon, 15.0);
	ck_assert_int_eq(cfg.retry_backoff_min_ms, 7);
	ck_assert_int_eq(cfg.retry_backoff_max_ms, 3600000);
	ck_assert_int_eq(cfg.shutdown_timeout_ms, 0);
	ck_assert_int_eq(cfg.status_interval_ms, 100);
	ck_assert_int_eq(cfg.log_level, LOG_WARNING);
	ck_assert_int_eq(cfg.mock_cluster_brokers, 9);
	ck_assert_int_eq(cfg.mock_cluster_partitions, 256);
	ck_assert_str_eq(cfg.mock_cluster_bootstrap_file, "/tmp/bootstraps");
	ck_assert_int_eq(ssid_config_parse_clock(cfg.clock, &clock), 0);
	ck_assert_int_eq(clock.kind, SSID_CONFIG_CLOCK_FIXED);
	ck_assert_int_eq(clock.fixed_ms, 1795132800000LL + 9 * 3600000LL + 250);
	ssid_config_free(&cfg);
}
END_TEST

/*
 * Every key that differs from its default, written back as "key = \"value\""
 * from ssid_config_key_value, reads back the same configuration.
 */
START_TEST (test_key_value_round_trip) {
	struct ssid_config cfg, again;
	char text[4096], value[SSID_CONFIG_MESSAGE_MAX], diff[256];
	size_t o = 0, written = 0;

	ck_assert_int_eq(config_parse(&cfg,
				      EVERY_TYPE
				      "rank.enabled = no\nrank.bands = 2,20\ncache.max_mb = 0\n"
				      "alert.score_drop.points = 2.5\nalert.score_drop.days = 3\n",
				      NULL),
			 0);
	for (size_t i = 0; i < ssid_config_key_count(); i++) {
		struct ssid_config_key_info info;

		ck_assert_int_eq(ssid_config_key_info(i, &info), 0);
		ck_assert_int_gt(ssid_config_key_value(&cfg, i, value, sizeof(value)), -1);
		if (strcmp(value, info.default_value) == 0)
			continue;
		ck_assert_msg(!strpbrk(value, "\"\\\n"), "%s: %s needs escapes", info.name, value);
		o +=
		    (size_t)snprintf(text + o, sizeof(text) - o, "%s = \"%s\"\n", info.name, value);
		ck_assert_uint_lt(o, sizeof(text));
		written++;
	}
	ck_assert_uint_ge(written, 20);
	ck_assert_int_eq(config_parse(&again, text, NULL), 0);
	ck_assert_int_eq(ssid_config_reload_diff(&cfg, &again, diff, sizeof(diff)), 0);
	ck_assert_int_eq(ssid_config_copy_reloadable(&again, &cfg), 0);
	ck_assert_int_eq(ssid_config_key_value(NULL, 0, value, sizeof(value)), -EINVAL);
	ck_assert_int_eq(ssid_config_key_value(&cfg, 0, NULL, 0),
			 ssid_config_key_value(&cfg, 0, value, sizeof(value)));
	ssid_config_free(&again);
	ssid_config_free(&cfg);
}
END_TEST

/* The comment block above "# key = default" states the key's range, if it has one. */
static void check_range_documented(const char *text, const char *at,
				   const struct ssid_config_key_info *info)
{
	const char *range = strrchr(info->expected, ' ');
	const char *block = at;
	char *comment;
	bool found;

	if (!range || !strstr(range, ".."))
		return;
	while (block > text && !(block[0] == '\n' && block[-1] == '\n'))
		block--;
	comment = strndup(block, (size_t)(at - block));
	ck_assert_ptr_nonnull(comment);
	found = false;
	for (const char *c = strstr(comment, range + 1); c && !found;
	     c = strstr(c + 1, range + 1)) {
		char before = c > comment ? c[-1] : ' ', after = c[strlen(range + 1)];

		found = !(before >= '0' && before <= '9') && !(after >= '0' && after <= '9');
	}
	free(comment);
	ck_assert_msg(found, "the comment above %s in " SHIPPED_CONF " does not say %s", info->name,
		      range + 1);
}

/*
 * Every key of the table is shown in the shipped file as "# key = default";
 * uncommenting all of them must give exactly the built-in defaults, so the
 * documentation can neither miss a key nor show a wrong default.
 */
START_TEST (test_every_key_documented) {
	char *text = config_shipped_text();
	size_t n = ssid_config_key_count();
	struct ssid_config documented, builtin;
	struct ssid_config_error err;
	char msg[1024], diff[1024];
	char *uncommented = malloc(strlen(text) + 1);
	size_t o = 0;
	int r;

	ck_assert_ptr_nonnull(uncommented);
	ck_assert_uint_gt(n, 20);
	for (size_t i = 0; i < n; i++) {
		struct ssid_config_key_info info;
		char needle[SSID_CONFIG_KEY_MAX + 8];
		const char *at;

		ck_assert_int_eq(ssid_config_key_info(i, &info), 0);
		ck_assert_ptr_nonnull(info.help);
		snprintf(needle, sizeof(needle), "\n# %s = ", info.name);
		at = strstr(text, needle);
		ck_assert_msg(at != NULL, "%s is not documented in " SHIPPED_CONF, info.name);
		ck_assert_msg(strstr(at + 1, needle) == NULL, "%s is documented twice", info.name);
		check_range_documented(text, at, &info);
	}

	/* uncomment exactly the "# <table key> = " lines */
	for (const char *line = text; *line;) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) + 1 : strlen(line);
		bool is_key = false;

		for (size_t i = 0; i < n && !is_key; i++) {
			struct ssid_config_key_info info;
			size_t klen;

			ssid_config_key_info(i, &info);
			klen = strlen(info.name);
			is_key = strncmp(line, "# ", 2) == 0 &&
				 strncmp(line + 2, info.name, klen) == 0 &&
				 strncmp(line + 2 + klen, " = ", 3) == 0;
		}
		if (is_key) {
			memcpy(uncommented + o, line + 2, len - 2);
			o += len - 2;
		} else {
			memcpy(uncommented + o, line, len);
			o += len;
		}
		line += len;
	}
	uncommented[o] = '\0';

	r = ssid_config_parse_buffer(&documented, "doc", uncommented, o, &err);
	ssid_config_format_error(&err, msg, sizeof(msg));
	ck_assert_msg(r == 0, "the documented defaults do not load: %s", msg);
	ck_assert_int_eq(ssid_config_load(&builtin, SHIPPED_CONF, NULL), 0);
	ck_assert_int_eq(ssid_config_reload_diff(&builtin, &documented, diff, sizeof(diff)), 0);
	ck_assert_int_eq(ssid_config_copy_reloadable(&builtin, &documented), 0);
	ssid_config_free(&documented);
	ssid_config_free(&builtin);
	free(uncommented);
	free(text);
}
END_TEST

START_TEST (test_key_info) {
	struct ssid_config_key_info info;
	bool found = false;

	for (size_t i = 0; i < ssid_config_key_count(); i++) {
		ck_assert_int_eq(ssid_config_key_info(i, &info), 0);
		if (strcmp(info.name, "redis.port") == 0) {
			found = true;
			ck_assert_str_eq(info.expected, "an integer 1..65535");
			ck_assert_str_eq(info.default_value, "6379");
			ck_assert(!info.reloadable);
		}
		if (strcmp(info.name, "batch.max_events") == 0)
			ck_assert(info.reloadable);
	}
	ck_assert(found);
	ck_assert_int_eq(ssid_config_key_info(ssid_config_key_count(), &info), -ENOENT);
}
END_TEST

/* The ranges the daemon's design depends on, as the table states them. */
static const struct {
	const char *key;
	const char *expected;
} range_cases[] = {
    {"redis.port", "an integer 1..65535"},
    {"redis.db", "an integer 0..15"},
    {"redis.wait_replicas", "an integer 0..16"},
    {"redis.nodes", "host:port[,host:port...] ([v6]:port for IPv6)"},
    {"batch.max_events", "an integer 1..1000000"},
    {"batch.max_wait_ms", "a duration in milliseconds 0..10000"},
    {"score.epsilon", "a number 0..100"},
    {"mock_cluster.brokers", "an integer 0..9"},
    {"mock_cluster.partitions", "an integer 1..256"},
    {"log.level", "one of debug, info, notice, warning, err"},
};

static bool find_key_info(const char *name, struct ssid_config_key_info *info)
{
	for (size_t i = 0; i < ssid_config_key_count(); i++)
		if (ssid_config_key_info(i, info) == 0 && strcmp(info->name, name) == 0)
			return true;
	return false;
}

START_TEST (test_documented_ranges) {
	struct ssid_config_key_info info;

	ck_assert(find_key_info(range_cases[_i].key, &info));
	ck_assert_str_eq(info.expected, range_cases[_i].expected);
}
END_TEST

/* A config text setting key to value, with whatever it needs to be valid otherwise. */
static void text_with(char *buf, size_t len, const char *key, long long value)
{
	bool mock = strcmp(key, "mock_cluster.brokers") == 0 && value > 0;
	const char *partner =
	    strcmp(key, "retry.backoff_min_ms") == 0   ? "retry.backoff_max_ms = 3600000\n"
	    : strcmp(key, "retry.backoff_max_ms") == 0 ? "retry.backoff_min_ms = 1\n"
	    : strcmp(key, "redis.wait_replicas") == 0  ? "redis.cluster = yes\n"
						       : "";

	snprintf(buf, len, "%s%s%s = %lld\n", mock ? "" : BOOT, partner, key, value);
}

/* Every integer key accepts both ends of its range and refuses one past each. */
START_TEST (test_range_boundaries) {
	size_t checked = 0;

	for (size_t i = 0; i < ssid_config_key_count(); i++) {
		struct ssid_config_key_info info;
		struct ssid_config_error err;
		struct ssid_config cfg;
		long long lo, hi;
		char text[256], want[SSID_CONFIG_MESSAGE_MAX + 64];
		const char *range;

		ck_assert_int_eq(ssid_config_key_info(i, &info), 0);
		range = strrchr(info.expected, ' ');
		if (strncmp(info.expected, "a number", 8) == 0 || !range ||
		    sscanf(range, " %lld..%lld", &lo, &hi) != 2)
			continue;
		checked++;
		for (int k = 0; k < 2; k++) {
			long long inside = k ? hi : lo, outside = k ? hi + 1 : lo - 1;
			unsigned line = 1;

			text_with(text, sizeof(text), info.name, inside);
			ck_assert_msg(
			    ssid_config_parse_buffer(&cfg, "r.conf", text, strlen(text), &err) == 0,
			    "%s = %lld: %s", info.name, inside, err.message);
			ssid_config_free(&cfg);

			text_with(text, sizeof(text), info.name, outside);
			for (const char *c = text; c < strstr(text, info.name); c++)
				line += *c == '\n';
			ck_assert_int_eq(
			    ssid_config_parse_buffer(&cfg, "r.conf", text, strlen(text), &err),
			    -EINVAL);
			snprintf(want, sizeof(want), "expected %s, got \"%lld\"", info.expected,
				 outside);
			ck_assert_str_eq(err.message, want);
			ck_assert_uint_eq(err.line, line);
		}
	}
	ck_assert_uint_ge(checked, 12);
}
END_TEST

TCase *config_keys_tcase(void)
{
	TCase *tc = tcase_create("keys");

	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_every_type_parses);
	tcase_add_test(tc, test_key_value_round_trip);
	tcase_add_test(tc, test_every_key_documented);
	tcase_add_test(tc, test_key_info);
	tcase_add_loop_test(tc, test_documented_ranges, 0,
			    (int)(sizeof(range_cases) / sizeof(range_cases[0])));
	tcase_add_test(tc, test_range_boundaries);
	return tc;
}
