/*
 * ssid_store_part: the partition-wide side of ssid_store (ssid_store.h):
 * the per-partition markers and the sentinel. The rep records and the
 * writes are ssid_store.c's; the decay schedule, ssid_store_sched.c's.
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
