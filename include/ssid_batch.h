/*
 * ssid_batch: the messages consumed for one batch, in consumption order.
 *
 * A batch owns its messages (rd_kafka_message_t) from ssid_batch_add until
 * they are dropped, cleared or the batch is freed. ssid_pipeline fills in
 * each message's parse result and user; the caller sets replay.
 */
#ifndef SSID_BATCH_H
#define SSID_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "ssi_event.h"

struct ssid_msg {
	rd_kafka_message_t *rkm; /* owned */
	bool parsed;
	/*
	 * Set by the caller for a message read again by a rebuild (it was
	 * processed before Redis lost it): a rejection is not dead-lettered
	 * twice, and its user's alerts and rank crossings are not published.
	 */
	bool replay;
	int status; /* 0: valid event; < 0: rejected, see why */
	struct ssi_reject why;
	struct ssi_event ev;
	uint32_t user; /* index into the batch's users, when valid */
};

struct ssid_batch {
	struct ssid_msg *msg;
	size_t n, cap;
};

void ssid_batch_init(struct ssid_batch *b);
/* Take ownership of rkm. 0 or -ENOMEM (rkm is then destroyed). */
int ssid_batch_add(struct ssid_batch *b, rd_kafka_message_t *rkm);
/* Forget messages of partitions this consumer no longer owns. */
void ssid_batch_drop_partitions(struct ssid_batch *b, const rd_kafka_topic_partition_list_t *parts);
/* Destroy all messages; the batch stays usable. */
void ssid_batch_clear(struct ssid_batch *b);
void ssid_batch_free(struct ssid_batch *b);
/*
 * Parse messages [from, to) not parsed yet (their ev, status and why) under
 * lim. Thread-safe for disjoint ranges of one batch; the result depends on
 * nothing but the payload and lim.
 */
void ssid_batch_parse(struct ssid_batch *b, size_t from, size_t to,
		      const struct ssi_event_limits *lim);
/* Mark every message not parsed (the limits changed). */
void ssid_batch_unparse(struct ssid_batch *b);
/* Exchange the messages of a and b. */
void ssid_batch_swap(struct ssid_batch *a, struct ssid_batch *b);
/* The next offset to commit per partition (caller destroys). NULL if empty. */
rd_kafka_topic_partition_list_t *ssid_batch_offsets(const struct ssid_batch *b);

#endif
