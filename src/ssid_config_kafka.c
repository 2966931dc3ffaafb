/*
 * ssid_config's kafka.* keys: not in the key table, handed to librdkafka
 * untouched in file order, "kafka.consumer.X" to the consumer's list,
 * "kafka.producer.X" to the producer's and plain "kafka.X" to both's
 * (cfg->kafka). A property may be set once per prefix; librdkafka judges
 * the names and values when the clients are made.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ssi_array.h"
#include "ssid_config.h"
#include "ssid_config_int.h"

static int kv_list_append(struct ssid_kv_list *l, const char *name, char *value, unsigned line)
{
	char *name_copy;

	if (SSI_GROW(l->items, &l->cap, l->n + 1, 8) < 0)
		return -ENOMEM;
	name_copy = strdup(name);
	if (!name_copy)
		return -ENOMEM;
	l->items[l->n++] = (struct ssid_kv){.name = name_copy, .value = value, .line = line};
	return 0;
}

const struct ssid_kv *config_kv_find(const struct ssid_kv_list *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->items[i].name, name) == 0)
			return &l->items[i];
	return NULL;
}

const char *ssid_kv_list_get(const struct ssid_kv_list *l, const char *name)
{
	const struct ssid_kv *kv = l ? config_kv_find(l, name) : NULL;

	return kv ? kv->value : NULL;
}

void config_kv_list_free(struct ssid_kv_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->items[i].name);
		free(l->items[i].value);
	}
	free(l->items);
	*l = (struct ssid_kv_list){0};
}

const char *const config_kafka_prefixes[CONFIG_KAFKA_PREFIXES] = {"kafka.consumer.",
								  "kafka.producer.", "kafka."};

static struct ssid_kv_list *kafka_list(struct ssid_config *cfg, size_t which)
{
	struct ssid_kv_list *lists[] = {&cfg->kafka_consumer, &cfg->kafka_producer, &cfg->kafka};

	return lists[which];
}

const struct ssid_kv_list *config_kafka_list(const struct ssid_config *cfg, size_t which)
{
	const struct ssid_kv_list *lists[] = {&cfg->kafka_consumer, &cfg->kafka_producer,
					      &cfg->kafka};

	return lists[which];
}

/*
 * kafka.[consumer.|producer.]X_file: the property is X and its value the
 * file's content (*name_buf, which *name then points to, holds X; free it).
 * Takes ownership of *value in any case; on failure it is freed.
 */
static int kafka_secret_file(struct config_parser *p, const char *key, char **name_buf,
			     const char **name, char **value)
{
	size_t len = strlen(*name);
	char *text;
	int r;

	if (len <= 5 || strcmp(*name + len - 5, "_file") != 0)
		return 0;
	*name_buf = strndup(*name, len - 5);
	if (!*name_buf) {
		config_set_error(p->err, p->line, key, "out of memory");
		free(*value);
		return -ENOMEM;
	}
	r = config_read_secret(p, p->line, key, *value, &text);
	free(*value);
	if (r < 0) {
		free(*name_buf);
		*name_buf = NULL;
		return r;
	}
	*value = text;
	*name = *name_buf;
	return 0;
}

/* Takes ownership of value. */
int config_kafka_key(struct config_parser *p, const char *key, char *value)
{
	const struct ssid_kv *previous;
	struct ssid_kv_list *l = NULL;
	const char *prefix = NULL;
	const char *name = NULL;
	char *name_buf = NULL;
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(config_kafka_prefixes); i++)
		if (strncmp(key, config_kafka_prefixes[i], strlen(config_kafka_prefixes[i])) == 0) {
			prefix = config_kafka_prefixes[i];
			name = key + strlen(prefix);
			l = kafka_list(p->cfg, i);
			break;
		}
	if (!l || name[0] == '\0') {
		config_set_error(p->err, p->line, key,
				 "expected a librdkafka property name after \"%s\"",
				 prefix ? prefix : "kafka.");
		free(value);
		return -EINVAL;
	}
	r = kafka_secret_file(p, key, &name_buf, &name, &value);
	if (r < 0)
		return r;
	previous = config_kv_find(l, name);
	if (previous) {
		config_set_error(p->err, p->line, key, "duplicate key (first set on line %u)",
				 previous->line);
		free(value);
		free(name_buf);
		return -EINVAL;
	}
	if (!name_buf)
		config_note_secret(p, key, value);
	r = kv_list_append(l, name, value, p->line);
	if (r < 0) {
		config_set_error(p->err, p->line, key, "out of memory");
		free(value);
	}
	free(name_buf);
	return r;
}
