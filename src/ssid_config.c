/*
 * ssid_config: the file format. A "key = value" file read line by line into
 * a struct ssid_config over the table's defaults (ssid_config_keys.c), the
 * first doubtful line stopping it with an error that names file, line and
 * key; then the keys are checked against each other (ssid_config_check.c).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ssid_config.h"
#include "ssid_config_int.h"
#include "ssid_file.h"

/* A configuration file is a few kilobytes; anything this big is a mistake. */
#define CONFIG_FILE_MAX SSID_FILE_MAX

void config_set_error(struct ssid_config_error *err, unsigned line, const char *key,
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

static int fail_value(struct config_parser *p, const struct config_key *k, const char *value)
{
	char expected[SSID_CONFIG_MESSAGE_MAX / 2];
	char quoted[QUOTED_VALUE_MAX * 4 + 8];

	config_describe_expected(k, expected, sizeof(expected));
	quote_value(value, strlen(value), quoted, sizeof(quoted));
	config_set_error(p->err, p->line, k->name, "expected %s, got %s", expected, quoted);
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
static int set_key(struct config_parser *p, const struct config_key *k, char *value)
{
	void *field = config_field(p->cfg, k);
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

/* A typo of a known key is far more likely than a new key: say which one. */
static int fail_unknown_key(struct config_parser *p, const char *key)
{
	const struct config_key *closest = NULL;
	size_t best = 3; /* suggest only within two edits */

	for (size_t i = 0; i < config_nkeys; i++) {
		size_t d = edit_distance(key, config_keys[i].name);

		if (d < best) {
			best = d;
			closest = &config_keys[i];
		}
	}
	if (closest)
		config_set_error(p->err, p->line, key, "unknown key (did you mean %s?)",
				 closest->name);
	else
		config_set_error(p->err, p->line, key, "unknown key");
	return -EINVAL;
}

/* Takes ownership of value. */
static int apply(struct config_parser *p, const char *key, char *value)
{
	const struct config_key *k;
	size_t index;

	if (strncmp(key, "kafka.", 6) == 0)
		return config_kafka_key(p, key, value);
	k = config_find_key(key);
	if (!k) {
		free(value);
		return fail_unknown_key(p, key);
	}
	index = (size_t)(k - config_keys);
	if (p->key_line[index]) {
		config_set_error(p->err, p->line, key, "duplicate key (first set on line %u)",
				 p->key_line[index]);
		free(value);
		return -EINVAL;
	}
	p->key_line[index] = p->line;
	config_note_secret(p, key, value);
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
static int parse_quoted(struct config_parser *p, const char *key, const char *s, size_t len,
			char **out)
{
	char *value = malloc(len);
	size_t o = 0, i = 1;

	if (!value) {
		config_set_error(p->err, p->line, key, "out of memory");
		return -ENOMEM;
	}
	for (; i < len && s[i] != '"'; i++) {
		if (s[i] == '\\') {
			if (i + 1 >= len || (s[i + 1] != '"' && s[i + 1] != '\\')) {
				config_set_error(
				    p->err, p->line, key,
				    "only \\\" and \\\\ may follow a backslash in quotes");
				goto fail;
			}
			i++;
		}
		value[o++] = s[i];
	}
	if (i >= len) {
		config_set_error(p->err, p->line, key, "missing closing quote");
		goto fail;
	}
	/* after the closing quote: blanks, then nothing or a comment after a blank */
	i++;
	if (i < len && !is_blank(s[i])) {
		config_set_error(p->err, p->line, key, "unexpected text after the closing quote");
		goto fail;
	}
	while (i < len && is_blank(s[i]))
		i++;
	if (i < len && s[i] != '#') {
		config_set_error(p->err, p->line, key, "unexpected text after the closing quote");
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
static int parse_value(struct config_parser *p, const char *key, const char *s, size_t len,
		       char **out)
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
		config_set_error(p->err, p->line, key, "out of memory");
		return -ENOMEM;
	}
	*out = value;
	return 0;
}

/*
 * One line, without its '\n'. Lines are not NUL-terminated because they point
 * into the caller's buffer, so a stray NUL byte has to be caught here.
 */
static int parse_line(struct config_parser *p, const char *s, size_t len)
{
	char key[SSID_CONFIG_KEY_MAX];
	char quoted[QUOTED_VALUE_MAX * 4 + 8];
	size_t start = 0, eq, key_end;
	char *value = NULL;
	bool key_ok = true;
	int r;

	if (memchr(s, '\0', len)) {
		config_set_error(p->err, p->line, NULL, "NUL byte in line");
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
		/* a line that may hold a secret is not echoed */
		if (ssid_config_is_secret(quoted))
			snprintf(quoted, sizeof(quoted), "a line naming a secret (not shown)");
		config_set_error(p->err, p->line, NULL, "expected \"key = value\", got %s", quoted);
		return -EINVAL;
	}
	key_end = eq;
	while (key_end > start && is_blank(s[key_end - 1]))
		key_end--;
	for (size_t i = start; i < key_end && key_ok; i++)
		key_ok = is_key_char(s[i]);
	if (!key_ok || key_end == start || key_end - start >= sizeof(key)) {
		quote_value(s + start, eq - start, quoted, sizeof(quoted));
		config_set_error(
		    p->err, p->line, NULL,
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

static int set_defaults(struct config_parser *p)
{
	for (size_t i = 0; i < config_nkeys; i++) {
		char *value = strdup(config_keys[i].default_value);
		int r;

		if (!value) {
			config_set_error(p->err, 0, config_keys[i].name, "out of memory");
			return -ENOMEM;
		}
		r = set_key(p, &config_keys[i], value);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The first error stops: later lines may only fail because of it. */
static int parse_text(struct config_parser *p, const char *text, size_t len)
{
	size_t pos = 0;
	int r;

	/* editors on some systems start UTF-8 files with a byte order mark */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		pos = 3;
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t line_len = nl ? (size_t)(nl - (text + pos)) : len - pos;

		p->line++;
		r = parse_line(p, text + pos, line_len);
		if (r < 0)
			return r;
		pos += line_len + 1;
	}
	p->line = 0;
	r = config_check(p);
	return r < 0 ? r : config_secret_files(p);
}

int ssid_config_parse_buffer(struct ssid_config *cfg, const char *name, const char *text,
			     size_t len, struct ssid_config_error *err)
{
	struct config_parser p = {.cfg = cfg, .err = err};
	int r;

	if (err) {
		memset(err, 0, sizeof(*err));
		snprintf(err->path, sizeof(err->path), "%s", name ? name : "");
	}
	memset(cfg, 0, sizeof(*cfg));
	if (!name || (!text && len > 0)) {
		config_set_error(err, 0, NULL, "no configuration text");
		return -EINVAL;
	}

	cfg->path = strdup(name);
	if (!cfg->path) {
		config_set_error(err, 0, NULL, "out of memory");
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
		config_set_error(err, 0, NULL, "no configuration file given");
		return -EINVAL;
	}
	r = ssid_file_read(path, CONFIG_FILE_MAX, &text, &len, &failed);
	if (r == -EFBIG) {
		config_set_error(err, 0, NULL, "larger than %d bytes: not a configuration file",
				 CONFIG_FILE_MAX);
		return r;
	}
	if (r < 0) {
		config_set_error(err, 0, NULL, "cannot %s: %s", failed,
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
	for (size_t i = 0; i < config_nkeys; i++)
		if (config_keys[i].type == KEY_STRING)
			free(*(char **)config_field(cfg, &config_keys[i]));
	free(cfg->path);
	config_kv_list_free(&cfg->kafka);
	config_kv_list_free(&cfg->kafka_consumer);
	config_kv_list_free(&cfg->kafka_producer);
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
