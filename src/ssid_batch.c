/* ssid_batch: the container of a batch's consumed messages; see ssid_batch.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ssi_array.h"
#include "ssid_batch.h"

void ssid_batch_init(struct ssid_batch *b)
{
	memset(b, 0, sizeof(*b));
}

int ssid_batch_add(struct ssid_batch *b, rd_kafka_message_t *rkm)
{
	if (SSI_GROW(b->msg, &b->cap, b->n + 1, 1024) < 0) {
		rd_kafka_message_destroy(rkm);
		return -ENOMEM;
	}
	b->msg[b->n].rkm = rkm;
	b->msg[b->n].parsed = false;
	b->msg[b->n].replay = false;
	b->n++;
	return 0;
}

static bool in_list(const rd_kafka_topic_partition_list_t *parts, const rd_kafka_message_t *rkm)
{
	const char *topic = rd_kafka_topic_name(rkm->rkt);

	for (int i = 0; i < parts->cnt; i++)
		if (parts->elems[i].partition == rkm->partition &&
		    strcmp(parts->elems[i].topic, topic) == 0)
			return true;
	return false;
}

void ssid_batch_drop_partitions(struct ssid_batch *b, const rd_kafka_topic_partition_list_t *parts)
{
	size_t keep = 0;

	for (size_t i = 0; i < b->n; i++) {
		if (in_list(parts, b->msg[i].rkm))
			rd_kafka_message_destroy(b->msg[i].rkm);
		else
			b->msg[keep++] = b->msg[i];
	}
	b->n = keep;
}

void ssid_batch_clear(struct ssid_batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		rd_kafka_message_destroy(b->msg[i].rkm);
	b->n = 0;
}

void ssid_batch_free(struct ssid_batch *b)
{
	if (!b)
		return;
	ssid_batch_clear(b);
	free(b->msg);
	ssid_batch_init(b);
}

void ssid_batch_parse(struct ssid_batch *b, size_t from, size_t to,
		      const struct ssi_event_limits *lim)
{
	for (size_t i = from; i < to; i++) {
		struct ssid_msg *m = &b->msg[i];

		if (m->parsed)
			continue;
		m->status =
		    ssi_event_parse(m->rkm->payload ? m->rkm->payload : "",
				    m->rkm->payload ? m->rkm->len : 0, lim, &m->ev, &m->why);
		m->parsed = true;
	}
}

void ssid_batch_unparse(struct ssid_batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		b->msg[i].parsed = false;
}

void ssid_batch_swap(struct ssid_batch *a, struct ssid_batch *b)
{
	struct ssid_batch t = *a;

	*a = *b;
	*b = t;
}

rd_kafka_topic_partition_list_t *ssid_batch_offsets(const struct ssid_batch *b)
{
	rd_kafka_topic_partition_list_t *l;

	if (b->n == 0)
		return NULL;
	l = rd_kafka_topic_partition_list_new(8);
	for (size_t i = 0; i < b->n; i++) {
		const rd_kafka_message_t *m = b->msg[i].rkm;
		rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_find(
		    l, rd_kafka_topic_name(m->rkt), m->partition);

		if (!tp)
			tp = rd_kafka_topic_partition_list_add(l, rd_kafka_topic_name(m->rkt),
							       m->partition);
		if (m->offset + 1 > tp->offset)
			tp->offset = m->offset + 1;
	}
	return l;
}
