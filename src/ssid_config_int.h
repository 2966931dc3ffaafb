/*
 * ssid_config's insides, shared by its files and not for other modules:
 * ssid_config_keys.c owns the declarative key table (names, types, ranges,
 * defaults, help) and what it says about a key; ssid_config.c parses the
 * file format into a struct ssid_config, with file:line:key errors;
 * ssid_config_kafka.c keeps the kafka.* pass-through lists;
 * ssid_config_check.c checks the keys against each other once the file is
 * read; ssid_config_reload.c compares and copies configurations for SIGHUP;
 * ssid_config_clock.c takes the clock setting apart.
 *
 * The int functions here return 0 or -errno and, when they fail, have said
 * why through config_set_error (err may be NULL).
 */
#ifndef SSID_CONFIG_INT_H
#define SSID_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "ssid_config.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Room for the key table in the parser's and the reload's per-key arrays. */
#define CONFIG_KEYS_MAX 128
/* Longest value quoted back in an error message. */
#define QUOTED_VALUE_MAX 64

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

/* The table (ssid_config_keys.c), in the order --help and reload diffs list it. */
extern const struct config_key config_keys[];
extern const size_t config_nkeys;

/* The key called name, NULL when the table has none. */
const struct config_key *config_find_key(const char *name);
/* What a key accepts, in words; shared by errors and ssid_config_key_info. */
void config_describe_expected(const struct config_key *k, char *buf, size_t len);

static inline void *config_field(struct ssid_config *cfg, const struct config_key *k)
{
	return (char *)cfg + k->offset;
}

static inline const void *config_cfield(const struct ssid_config *cfg, const struct config_key *k)
{
	return (const char *)cfg + k->offset;
}

/* One parse: the configuration being filled and where the file set each table key. */
struct config_parser {
	struct ssid_config *cfg;
	struct ssid_config_error *err;
	unsigned line;			    /* the line being parsed; 0 once the file is read */
	unsigned key_line[CONFIG_KEYS_MAX]; /* where each table key was set; 0 = default */
};

/* Fill err (when not NULL) with line, key (NULL: none) and the message. */
void config_set_error(struct ssid_config_error *err, unsigned line, const char *key,
		      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* ---- kafka.* (ssid_config_kafka.c) ----------------------------------------- */

/* The prefixes, most specific first, and the list of cfg each one fills. */
#define CONFIG_KAFKA_PREFIXES 3
extern const char *const config_kafka_prefixes[CONFIG_KAFKA_PREFIXES];
const struct ssid_kv_list *config_kafka_list(const struct ssid_config *cfg, size_t which);

/* The property called name in l (no prefix), NULL when absent. */
const struct ssid_kv *config_kv_find(const struct ssid_kv_list *l, const char *name);
void config_kv_list_free(struct ssid_kv_list *l);
/* A "kafka.*" line of the file: key as written; takes ownership of value. */
int config_kafka_key(struct config_parser *p, const char *key, char *value);

/* ---- secrets (ssid_config_secret.c) ----------------------------------------- */

/* Remember key as the file's inline secret when it is one and value is not empty. */
void config_note_secret(struct config_parser *p, const char *key, const char *value);
/*
 * The secret in the file at path (resolved as ssid_config.h says) into *out
 * (free()), trailing line breaks removed; -EINVAL (or -ENOMEM) with an
 * error naming line, key and the file, never the content.
 */
int config_read_secret(struct config_parser *p, unsigned line, const char *key, const char *path,
		       char **out);
/* After the file: read redis.password_file into redis_password. */
int config_secret_files(struct config_parser *p);

/* ---- after the file (ssid_config_check.c) ---------------------------------- */

/* The combinations of keys that cannot be meant (see ssid_config_load). */
int config_check(struct config_parser *p);

#endif
