/*
 * ssid_config on SIGHUP: which keys of a newly read configuration differ
 * from the running one but only take effect on a restart, and the copy of
 * those SIGHUP may change. Both go by the key table's types and reloadable
 * flags, so a new key needs no code here; kafka.* is never reloadable.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ssid_config.h"
#include "ssid_config_int.h"

static bool string_equal(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

/* Compares by type through the table, so a new key needs no code here. */
static bool key_equal(const struct config_key *k, const struct ssid_config *a,
		      const struct ssid_config *b)
{
	const void *fa = config_cfield(a, k), *fb = config_cfield(b, k);

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
		const struct ssid_kv *other = config_kv_find(b, a->items[i].name);

		if (!other || strcmp(other->value, a->items[i].value) != 0)
			name_list_add(out, prefix, a->items[i].name);
	}
	for (size_t i = 0; i < b->n; i++)
		if (!config_kv_find(a, b->items[i].name))
			name_list_add(out, prefix, b->items[i].name);
}

int ssid_config_reload_diff(const struct ssid_config *old, const struct ssid_config *new, char *buf,
			    size_t len)
{
	struct name_list names = {.buf = buf, .len = buf ? len : 0};

	if (names.len > 0)
		buf[0] = '\0';
	for (size_t i = 0; i < config_nkeys; i++)
		if (!config_keys[i].reloadable && !key_equal(&config_keys[i], old, new))
			name_list_add(&names, "", config_keys[i].name);
	for (size_t i = 0; i < CONFIG_KAFKA_PREFIXES; i++)
		diff_kv_lists(&names, config_kafka_prefixes[i], config_kafka_list(old, i),
			      config_kafka_list(new, i));
	return names.count;
}

int ssid_config_copy_reloadable(struct ssid_config *dst, const struct ssid_config *src)
{
	char *copies[CONFIG_KEYS_MAX] = {NULL};
	int changed = 0;

	/* every allocation first, so a failure leaves dst as it was */
	for (size_t i = 0; i < config_nkeys; i++) {
		const struct config_key *k = &config_keys[i];
		const char *value;

		if (!k->reloadable || k->type != KEY_STRING || key_equal(k, dst, src))
			continue;
		value = *(char *const *)config_cfield(src, k);
		copies[i] = strdup(value ? value : "");
		if (!copies[i]) {
			for (size_t j = 0; j < i; j++)
				free(copies[j]);
			return -ENOMEM;
		}
	}

	for (size_t i = 0; i < config_nkeys; i++) {
		const struct config_key *k = &config_keys[i];
		void *to = config_field(dst, k);
		const void *from = config_cfield(src, k);

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
