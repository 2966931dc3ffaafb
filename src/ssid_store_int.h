/*
 * ssid_store's insides, shared by its two files: ssid_store.c (rep records,
 * loads and saves) and ssid_store_part.c (partition-wide keys). Not for
 * other modules.
 */
#ifndef SSID_STORE_INT_H
#define SSID_STORE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "ssid_cache.h"
#include "ssid_redis.h"
#include "ssid_store.h"

struct ssid_store {
	struct ssid_redis *rd;	  /* owned */
	struct ssid_cache *cache; /* owned; NULL: every load reads Redis */
	uint8_t *enc;		  /* scratch for encoding one state */
	uint8_t *henc;		  /* ... one history */
	uint8_t join[SSID_STORE_STATE_PART * SSID_STORE_STATE_PARTS]; /* a state's parts, read */
	uint8_t alert_fresh[SSI_ALERT_ENCODED_MAX]; /* a fresh alert state, encoded */
	size_t alert_fresh_len;
};

/* The key of partition's decay schedule (its roster), "<prefix>dz:<partition>". */
int store_schedule_key(const struct ssid_store *s, int32_t partition, char *buf, size_t len);

#endif
