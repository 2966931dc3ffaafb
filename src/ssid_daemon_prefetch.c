/*
 * ssid_daemon_prefetch: while a batch runs, the messages the consumer
 * already holds become the next batch (d->next) and are parsed on a second
 * thread, so that the main thread does not parse what it runs next.
 *
 * Only what is queued is taken (a poll that does not wait): reading ahead
 * never holds a batch back. d->next owns its messages as d->batch does and
 * keeps their consumption order: a message consumed while d->next holds
 * some joins it, never the batch in hand, and d->next becomes the batch
 * only once the batch in hand is done. The parser runs only while the main
 * thread runs the pipeline, which never polls the consumer, so no callback
 * (a revoke drops from both batches) touches d->next under it.
 */
#include <pthread.h>

#include "ssid_daemon_int.h"
#include "ssid_time.h"

/* Fewer queued messages than this are parsed with the rest of their batch. */
#define PREFETCH_PARSE_MIN 500

static void *parse_next(void *arg)
{
	struct ssid_prefetch *pf = arg;

	ssid_batch_parse(pf->b, 0, pf->b->n, &pf->lim);
	return NULL;
}

void ssid_daemon_prefetch_poll(struct ssid_daemon *d)
{
	if (d->paused || d->batch.n == 0)
		return;
	d->prefetching = true;
	while (d->next.n < (size_t)d->cfg.batch_max_events) {
		rd_kafka_message_t *rkm = rd_kafka_consumer_poll(d->consumer, 0);

		if (!rkm)
			break;
		if (d->next.n == 0)
			d->next_first_at = ssid_time_mono_ms();
		ssid_daemon_consume_one(d, rkm);
	}
	d->prefetching = false;
}

void ssid_daemon_prefetch_start(struct ssid_daemon *d, struct ssid_prefetch *pf)
{
	pf->running = false;
	if (d->next.n < PREFETCH_PARSE_MIN)
		return;
	pf->b = &d->next;
	pf->lim = (struct ssi_event_limits){.max_bytes = d->model->max_event_bytes};
	d->next_max_bytes = d->model->max_event_bytes;
	pf->running = pthread_create(&pf->thread, NULL, parse_next, pf) == 0;
}

void ssid_daemon_prefetch_join(struct ssid_prefetch *pf)
{
	if (pf->running)
		pthread_join(pf->thread, NULL);
	pf->running = false;
}

bool ssid_daemon_take_next(struct ssid_daemon *d)
{
	if (d->next.n == 0)
		return true;
	if (d->batch.n > 0)
		return false; /* the batch in hand runs first */
	ssid_batch_swap(&d->batch, &d->next);
	/* Parsed under other limits (a reload since): parsed again. */
	if (d->next_max_bytes != d->model->max_event_bytes)
		ssid_batch_unparse(&d->batch);
	return true;
}
