/*
 * ssid_store_part: the partition-wide side of ssid_store (ssid_store.h):
 * the decay schedule's queries and roster walk, the per-partition markers
 * and the sentinel. The rep records and the writes are ssid_store.c's.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "ssid_store.h"
#include "ssid_store_int.h"

void ssid_store_ids_free(char **ids)
{
	if (!ids)
		return;
	for (char **p = ids; *p; p++)
		free(*p);
	free(ids);
}

/* Every stride-th element of an array reply, from the first, as ids. */
static int take_ids(const redisReply *r, size_t stride, char ***ids, size_t *n)
{
	size_t count;
	char **out;

	if (r->type != REDIS_REPLY_ARRAY)
		return -EIO;
	count = r->elements / stride;
	out = calloc(count + 1, sizeof(*out));
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < count; i++) {
		const redisReply *e = r->element[i * stride];

		if (e->type != REDIS_REPLY_STRING || !(out[i] = strndup(e->str, e->len))) {
			ssid_store_ids_free(out);
			return e->type != REDIS_REPLY_STRING ? -EIO : -ENOMEM;
		}
	}
	*ids = out;
	*n = count;
	return 0;
}

/* Take a command's array reply of ids; errors are named by what. */
static int command_ids(struct ssid_store *s, redisReply *r, const char *what, char ***ids,
		       size_t *n)
{
	int rc;

	if (!r)
		return -EIO;
	if (r->type == REDIS_REPLY_ERROR)
		ssid_redis_set_error(s->rd, "%s: %s", what, r->str);
	rc = take_ids(r, 1, ids, n);
	freeReplyObject(r);
	return rc;
}

int ssid_store_due(struct ssid_store *s, int32_t partition, int64_t now_ms, size_t max, char ***ids,
		   size_t *n)
{
	char key[512];

	*ids = NULL;
	*n = 0;
	store_schedule_key(s, partition, key, sizeof(key));
	return command_ids(s,
			   /* hiredis' format knows no %zu: widen to long long. */
			   ssid_store_command(s, "ZRANGE %s -inf %lld BYSCORE LIMIT 0 %llu", key,
					      (long long)now_ms, (unsigned long long)max),
			   "ZRANGE", ids, n);
}

int ssid_store_due_count(struct ssid_store *s, int32_t partition, int64_t now_ms, int64_t *n)
{
	char key[512];
	redisReply *r;
	int rc = 0;

	store_schedule_key(s, partition, key, sizeof(key));
	r = now_ms == SSID_DUE_NEVER
		? ssid_store_command(s, "ZCARD %s", key)
		: ssid_store_command(s, "ZCOUNT %s -inf %lld", key, (long long)now_ms);
	if (!r)
		return -EIO;
	if (r->type == REDIS_REPLY_INTEGER) {
		*n = r->integer;
	} else {
		ssid_redis_set_error(s->rd, "ZCOUNT/ZCARD: %s",
				     r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
		rc = -EIO;
	}
	freeReplyObject(r);
	return rc;
}

int ssid_store_roster(struct ssid_store *s, int32_t partition, unsigned long long *cursor,
		      size_t count, char ***ids, size_t *n)
{
	char key[512];
	redisReply *r, *pairs;
	int rc;

	*ids = NULL;
	*n = 0;
	store_schedule_key(s, partition, key, sizeof(key));
	r = ssid_store_command(s, "ZSCAN %s %llu COUNT %llu", key, *cursor,
			       (unsigned long long)count);
	if (!r)
		return -EIO;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_ARRAY) {
		ssid_redis_set_error(s->rd, "ZSCAN: %s",
				     r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
		freeReplyObject(r);
		return -EIO;
	}
	*cursor = strtoull(r->element[0]->str, NULL, 10);
	pairs = r->element[1];
	rc = take_ids(pairs, 2, ids, n); /* members and scores alternate */
	freeReplyObject(r);
	return rc;
}

int ssid_store_partition_get(struct ssid_store *s, const char *what, int32_t partition, char *buf,
			     size_t len)
{
	redisReply *r = ssid_store_command(s, "GET %s%s:%d", ssid_redis_key_prefix(s->rd), what,
					   (int)partition);
	int rc;

	if (!r)
		return -EIO;
	if (r->type == REDIS_REPLY_STRING) {
		snprintf(buf, len, "%.*s", (int)r->len, r->str);
		rc = 1;
	} else {
		rc = r->type == REDIS_REPLY_NIL ? 0 : -EIO;
	}
	freeReplyObject(r);
	return rc;
}

int ssid_store_partition_set(struct ssid_store *s, const char *what, int32_t partition,
			     const char *value)
{
	redisReply *r = ssid_store_command(s, "SET %s%s:%d %s", ssid_redis_key_prefix(s->rd), what,
					   (int)partition, value);
	int rc;

	if (!r)
		return -EIO;
	rc = r->type == REDIS_REPLY_STATUS ? 0 : -EIO;
	freeReplyObject(r);
	return rc;
}

/* A fresh epoch: random enough that two resets never share one. */
static void new_epoch(char *buf, size_t len)
{
	struct timespec ts;
	uint64_t x;

	clock_gettime(CLOCK_REALTIME, &ts);
	x = (uint64_t)ts.tv_sec * 1000000007ULL ^ (uint64_t)ts.tv_nsec ^
	    ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)buf;
	/* splitmix64 finaliser: spread the bits */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	snprintf(buf, len, "%016llx", (unsigned long long)x);
}

int ssid_store_sentinel(struct ssid_store *s, char *buf, size_t len)
{
	char key[512], epoch[17];
	redisReply *set = NULL, *get = NULL;
	const char *setnx[4] = {"HSETNX", key, "epoch", epoch};
	const char *hget[3] = {"HGET", key, "epoch"};
	size_t setnx_len[4] = {6, 0, 5, 0}, hget_len[3] = {4, 0, 5};
	int rc;

	rc = ssid_redis_connect(s->rd);
	if (rc < 0)
		return rc;
	setnx_len[1] = hget_len[1] =
	    (size_t)snprintf(key, sizeof(key), "%smeta", ssid_redis_key_prefix(s->rd));
	new_epoch(epoch, sizeof(epoch));
	setnx_len[3] = strlen(epoch);
	if (ssid_redis_append(s->rd, key, hget_len[1], 4, setnx, setnx_len) < 0 ||
	    ssid_redis_append(s->rd, key, hget_len[1], 3, hget, hget_len) < 0 ||
	    ssid_redis_next_reply(s->rd, &set, "sentinel") < 0 ||
	    ssid_redis_next_reply(s->rd, &get, "sentinel") < 0)
		rc = -EIO;
	else if (set->type != REDIS_REPLY_INTEGER || get->type != REDIS_REPLY_STRING) {
		ssid_redis_set_error(s->rd, "sentinel: unexpected reply");
		rc = -EIO;
	} else {
		snprintf(buf, len, "%.*s", (int)get->len, get->str);
		rc = set->integer == 1;
	}
	if (set)
		freeReplyObject(set);
	if (get)
		freeReplyObject(get);
	return rc;
}
