/* ssid_history: reps' score histories in Redis, pipelined per batch over hiredis 0.14. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "ssi_array.h"
#include "ssi_text.h"
#include "ssid_history.h"

struct ssid_history {
	struct ssid_redis *rd;
	int retention_days;
	char *key; /* scratch for one key: prefix, "u:{", a user id, "}" */
	size_t key_cap;
};

/* One distinct rep of a batch: its items, and the bytes to write back if any. */
struct rep {
	size_t first, count; /* a run of the sorted item order */
	bool write;
	size_t blob_off, blob_len; /* in the batch's arena */
	char day[64];		   /* field d: the latest entry */
};

/* One item's place in the batch, sorted by rep. */
struct slot {
	const char *user_id;
	size_t item;
};

struct batch {
	struct ssid_history_item *items;
	struct slot *order; /* sorted by user id, then by item index */
	struct rep *reps;
	size_t nreps;
	uint8_t *arena;
	size_t arena_len, arena_cap;
};

void ssid_history_free(struct ssid_history *hs)
{
	if (!hs)
		return;
	ssid_redis_free(hs->rd);
	free(hs->key);
	free(hs);
}

int ssid_history_new(struct ssid_history **out, const struct ssid_redis_opts *opts,
		     int retention_days)
{
	struct ssid_history *hs;

	if (retention_days < 1 || retention_days > SSI_HISTORY_RETENTION_MAX)
		return -EINVAL;
	hs = calloc(1, sizeof(*hs));
	if (!hs)
		return -ENOMEM;
	hs->retention_days = retention_days;
	if (ssid_redis_new(&hs->rd, opts) < 0) {
		ssid_history_free(hs);
		return -ENOMEM;
	}
	hs->key_cap = strlen(ssid_redis_key_prefix(hs->rd)) + sizeof("u:{}") + SSI_ID_MAX;
	hs->key = malloc(hs->key_cap);
	if (!hs->key) {
		ssid_history_free(hs);
		return -ENOMEM;
	}
	*out = hs;
	return 0;
}

const char *ssid_history_errstr(const struct ssid_history *hs)
{
	return ssid_redis_errstr(hs->rd);
}

int ssid_history_ping(struct ssid_history *hs)
{
	return ssid_redis_ping(hs->rd);
}

int ssid_history_day_format(const struct ssi_history *h, char *buf, size_t len)
{
	const struct ssi_history_entry *e;
	long long v[1 + SSI_PILLAR__COUNT];

	if (h->n == 0)
		return -ENOENT;
	e = &h->entries[h->n - 1];
	v[0] = e->day;
	for (int p = 0; p < SSI_PILLAR__COUNT; p++)
		v[1 + p] = e->score.pillar[p];
	return ssi_text_ints_format(buf, len, 1, v, 1 + SSI_PILLAR__COUNT);
}

int ssid_history_day_merge(struct ssi_history *h, const char *value, size_t len)
{
	struct ssi_score sc = {0};
	long long v[1 + SSI_PILLAR__COUNT];
	size_t used;
	int ver, rc;

	if (ssi_text_ints_parse(value, len, &ver, v, 1 + SSI_PILLAR__COUNT, &used) < 0 ||
	    ver != 1 || used != len || !ssi_text_ints_fit_int(v, 1 + SSI_PILLAR__COUNT))
		return -EBADMSG;
	for (int p = 0; p < SSI_PILLAR__COUNT; p++) {
		sc.pillar[p] = (int)v[1 + p];
		sc.total += sc.pillar[p];
	}
	if (!ssi_history_snapshot_is_valid((int32_t)v[0], &sc))
		return -EBADMSG;
	rc = ssi_history_record(h, (int32_t)v[0], &sc);
	return rc == -ENOMEM ? rc : rc < 0 ? -EBADMSG : 0;
}

/* The rep's hash, named exactly as ssid_store names it. */
static size_t format_key(struct ssid_history *hs, const char *user_id)
{
	return (size_t)snprintf(hs->key, hs->key_cap, "%su:{%s}", ssid_redis_key_prefix(hs->rd),
				user_id);
}

static bool user_id_is_valid(const char *user_id)
{
	return user_id && user_id[0] && strnlen(user_id, SSI_ID_MAX + 1) <= SSI_ID_MAX;
}

/* Checked before anything is sent, so that a bad item cannot fail a batch half-way. */
static bool item_is_valid(const struct ssid_history_item *it)
{
	return user_id_is_valid(it->user_id) && ssi_history_snapshot_is_valid(it->day, &it->score);
}

/* By user id, then by position, so that one rep's items keep their order. */
static int compare_slots(const void *a, const void *b)
{
	const struct slot *sa = a, *sb = b;
	int c = strcmp(sa->user_id, sb->user_id);

	if (c != 0)
		return c;
	return sa->item < sb->item ? -1 : sa->item > sb->item;
}

/* Sort the items by rep and cut the order into one run per distinct rep. */
static int batch_group(struct batch *b, size_t n)
{
	b->order = malloc(n * sizeof(*b->order));
	b->reps = calloc(n, sizeof(*b->reps));
	if (!b->order || !b->reps)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		b->order[i] = (struct slot){.user_id = b->items[i].user_id, .item = i};
	qsort(b->order, n, sizeof(*b->order), compare_slots);
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || strcmp(b->order[i].user_id, b->order[i - 1].user_id) != 0)
			b->reps[b->nreps++].first = i;
		b->reps[b->nreps - 1].count++;
	}
	return 0;
}

static void batch_free(struct batch *b)
{
	free(b->order);
	free(b->reps);
	free(b->arena);
}

static const char *rep_user(const struct batch *b, const struct rep *r)
{
	return b->order[r->first].user_id;
}

static int arena_reserve(struct batch *b, size_t more)
{
	if (more > SIZE_MAX - b->arena_len)
		return -ENOMEM;
	return SSI_GROW(b->arena, &b->arena_cap, b->arena_len + more, 4096);
}

/* Apply the rep's items to its stored history and keep the encoding if it changed. */
static int rep_update(struct batch *b, struct rep *r, struct ssi_history *h)
{
	size_t size;
	long len;

	for (size_t k = 0; k < r->count; k++) {
		struct ssid_history_item *it = &b->items[b->order[r->first + k].item];
		int ret = ssi_history_record(h, it->day, &it->score);

		if (ret < 0)
			return ret;
		it->status = ret;
		r->write |= ret == 1;
	}
	if (!r->write)
		return 0;
	size = ssi_history_encoded_size(h);
	if (size == 0)
		return -EINVAL;
	if (arena_reserve(b, size) < 0)
		return -ENOMEM;
	len = ssi_history_encode(h, b->arena + b->arena_len, size);
	if (len < 0)
		return (int)len;
	r->blob_off = b->arena_len;
	r->blob_len = (size_t)len;
	ssid_history_day_format(h, r->day, sizeof(r->day));
	b->arena_len += (size_t)len;
	return 0;
}

/* What one HGET reply makes of the rep: its history updated, or left alone when unreadable. */
static int take_history(struct ssid_history *hs, struct batch *b, struct rep *r,
			const redisReply *reply, struct ssi_history *h)
{
	const redisReply *hr =
	    reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 ? reply->element[0] : reply;

	ssi_history_clear(h);
	if (hr->type == REDIS_REPLY_STRING) {
		int ret = ssi_history_decode(h, (const uint8_t *)hr->str, hr->len);

		if (ret == 0 && reply->element[1]->type == REDIS_REPLY_STRING)
			ret = ssid_history_day_merge(h, reply->element[1]->str,
						     reply->element[1]->len);
		if (ret == -ENOMEM)
			return ret;
		if (ret < 0) {
			for (size_t k = 0; k < r->count; k++)
				b->items[b->order[r->first + k].item].status = ret;
			return 0;
		}
	} else if (hr->type == REDIS_REPLY_NIL && reply != hr &&
		   reply->element[1]->type == REDIS_REPLY_STRING) {
		int ret = ssid_history_day_merge(h, reply->element[1]->str, reply->element[1]->len);

		if (ret == -ENOMEM)
			return ret;
	} else if (hr->type != REDIS_REPLY_NIL) {
		ssid_redis_set_error(hs->rd, "HMGET %s: %s", rep_user(b, r),
				     hr->type == REDIS_REPLY_ERROR ? hr->str : "unexpected reply");
		return -EIO;
	}
	return rep_update(b, r, h);
}

/* The HGET round of a batch: the i-th reply is the i-th rep's stored history. */
struct reads {
	struct ssid_history *hs;
	struct batch *b;
	struct ssi_history h; /* scratch, reused from rep to rep */
};

static int take_read(void *ctx, size_t i, redisReply *reply, int rc)
{
	struct reads *reads = ctx;

	if (rc < 0)
		return rc;
	return take_history(reads->hs, reads->b, &reads->b->reps[i], reply, &reads->h);
}

static int read_histories(struct ssid_history *hs, struct batch *b)
{
	struct reads reads = {.hs = hs, .b = b};
	int rc;

	ssi_history_init(&reads.h);
	ssi_history_set_retention(&reads.h, hs->retention_days);
	rc = ssid_redis_read_replies(hs->rd, b->nreps, "HMGET", take_read, &reads);
	ssi_history_clear(&reads.h);
	return rc;
}

static int send_reads(struct ssid_history *hs, const struct batch *b)
{
	redisContext *c = ssid_redis_context(hs->rd);

	for (size_t i = 0; i < b->nreps; i++) {
		size_t klen = format_key(hs, rep_user(b, &b->reps[i]));
		const char *argv[] = {"HMGET", hs->key, SSID_HISTORY_FIELD, SSID_HISTORY_DAY_FIELD};
		size_t argl[] = {5, klen, 1, 1};

		if (redisAppendCommandArgv(c, 4, argv, argl) != REDIS_OK)
			return ssid_redis_fail(hs->rd, -EIO, "HMGET");
	}
	return 0;
}

/* An HSET answers the number of fields added; anything else fails the batch. */
static int take_written(void *ctx, size_t i, redisReply *reply, int rc)
{
	struct ssid_history *hs = ctx;

	(void)i;
	if (rc == 0 && reply->type != REDIS_REPLY_INTEGER) {
		ssid_redis_set_error(hs->rd, "HSET: %s",
				     reply->type == REDIS_REPLY_ERROR ? reply->str
								      : "unexpected reply");
		return -EIO;
	}
	return rc;
}

static int write_histories(struct ssid_history *hs, const struct batch *b)
{
	redisContext *c = ssid_redis_context(hs->rd);
	size_t sent = 0;

	for (size_t i = 0; i < b->nreps; i++) {
		const struct rep *r = &b->reps[i];
		size_t klen;

		if (!r->write)
			continue;
		klen = format_key(hs, rep_user(b, r));
		/* hiredis copies the arguments into its output buffer right here. */
		if (redisAppendCommandArgv(
			c, 6,
			(const char *[]){"HSET", hs->key, SSID_HISTORY_FIELD,
					 (const char *)b->arena + r->blob_off,
					 SSID_HISTORY_DAY_FIELD, r->day},
			(size_t[]){4, klen, 1, r->blob_len, 1, strlen(r->day)}) != REDIS_OK)
			return ssid_redis_fail(hs->rd, -EIO, "HSET");
		sent++;
	}
	return ssid_redis_read_replies(hs->rd, sent, "HSET", take_written, hs);
}

int ssid_history_record_batch(struct ssid_history *hs, struct ssid_history_item *items, size_t n)
{
	struct batch b = {.items = items};
	int rc;

	for (size_t i = 0; i < n; i++)
		if (!item_is_valid(&items[i]))
			return -EINVAL;
	if (n == 0)
		return 0;
	rc = ssid_redis_connect(hs->rd);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++)
		items[i].status = 0;
	rc = batch_group(&b, n);
	if (rc == 0)
		rc = send_reads(hs, &b);
	if (rc == 0)
		rc = read_histories(hs, &b);
	if (rc == 0)
		rc = write_histories(hs, &b);
	batch_free(&b);
	return rc;
}

int ssid_history_load(struct ssid_history *hs, const char *user_id, struct ssi_history *out)
{
	redisReply *reply;
	size_t klen;
	int rc;

	ssi_history_clear(out);
	if (!user_id_is_valid(user_id))
		return -EINVAL;
	rc = ssid_redis_connect(hs->rd);
	if (rc < 0)
		return rc;
	klen = format_key(hs, user_id);
	reply = redisCommandArgv(
	    ssid_redis_context(hs->rd), 4,
	    (const char *[]){"HMGET", hs->key, SSID_HISTORY_FIELD, SSID_HISTORY_DAY_FIELD},
	    (size_t[]){5, klen, 1, 1});
	if (!reply)
		return ssid_redis_fail(hs->rd, -EIO, "HMGET");
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
		ssid_redis_set_error(hs->rd, "HMGET: %s",
				     reply->type == REDIS_REPLY_ERROR ? reply->str
								      : "unexpected reply");
		rc = -EIO;
	} else {
		const redisReply *h = reply->element[0], *d = reply->element[1];

		if (h->type == REDIS_REPLY_STRING)
			rc = ssi_history_decode(out, (const uint8_t *)h->str, h->len);
		if (rc == 0 && d->type == REDIS_REPLY_STRING)
			rc = ssid_history_day_merge(out, d->str, d->len);
		if (rc == 0)
			rc = h->type == REDIS_REPLY_STRING || d->type == REDIS_REPLY_STRING;
	}
	freeReplyObject(reply);
	return rc;
}
