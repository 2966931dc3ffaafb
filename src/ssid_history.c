/*
 * ssid_history: a rep's score history read from Redis (fields h and d, as
 * ssid_store writes them) over a connection of its own with hiredis 0.14,
 * and the codec of field d. See ssid_history.h.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "ssi_text.h"
#include "ssid_history.h"
#include "ssid_store.h"

struct ssid_history {
	struct ssid_redis *rd;
	char *key; /* scratch for one key: prefix, "u:{", a user id, "}" */
	size_t key_cap;
};

void ssid_history_free(struct ssid_history *hs)
{
	if (!hs)
		return;
	ssid_redis_free(hs->rd);
	free(hs->key);
	free(hs);
}

int ssid_history_new(struct ssid_history **out, const struct ssid_redis_opts *opts)
{
	struct ssid_history *hs = calloc(1, sizeof(*hs));

	if (!hs)
		return -ENOMEM;
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

static int merge_entry(struct ssi_history *h, int64_t day, const struct ssi_score *sc)
{
	int rc;

	if (day < INT32_MIN || day > INT32_MAX || !ssi_history_snapshot_is_valid((int32_t)day, sc))
		return -EBADMSG;
	rc = ssi_history_record(h, (int32_t)day, sc);
	return rc == -ENOMEM ? rc : rc < 0 ? -EBADMSG : 0;
}

/* Field d of older builds: "v1 day brand people insights relationships". */
static int merge_day_field(struct ssi_history *h, const char *value, size_t len)
{
	struct ssi_score sc = {0};
	long long v[1 + SSI_PILLAR__COUNT];
	size_t used;
	int ver;

	if (ssi_text_ints_parse(value, len, &ver, v, 1 + SSI_PILLAR__COUNT, &used) < 0 ||
	    ver != 1 || used != len || !ssi_text_ints_fit_int(v, 1 + SSI_PILLAR__COUNT))
		return -EBADMSG;
	for (int p = 0; p < SSI_PILLAR__COUNT; p++) {
		sc.pillar[p] = (int)v[1 + p];
		sc.total += sc.pillar[p];
	}
	return merge_entry(h, v[0], &sc);
}

int ssid_history_latest_merge(struct ssi_history *h, const struct ssid_published *pub,
			      const char *day, size_t day_len)
{
	if (pub && pub->as_of_ms > 0)
		return merge_entry(h, pub->as_of_ms / SSI_MS_PER_DAY, &pub->score);
	if (day && day_len > 0)
		return merge_day_field(h, day, day_len);
	return -ENOENT;
}

/* The rep's hash (ssid_store names it). */
static size_t format_key(struct ssid_history *hs, const char *user_id)
{
	return (size_t)ssid_store_user_key(hs->rd, user_id, hs->key, hs->key_cap);
}

static bool user_id_is_valid(const char *user_id)
{
	return user_id && user_id[0] && strnlen(user_id, SSI_ID_MAX + 1) <= SSI_ID_MAX;
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
	if (ssid_redis_append(
		hs->rd, hs->key, klen, 5,
		(const char *[]){"HMGET", hs->key, SSID_HISTORY_FIELD, "p", SSID_HISTORY_DAY_FIELD},
		(size_t[]){5, klen, 1, 1, 1}) < 0 ||
	    ssid_redis_next_reply(hs->rd, &reply, "HMGET") < 0)
		return -EIO;
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3) {
		ssid_redis_set_error(hs->rd, "HMGET: %s",
				     reply->type == REDIS_REPLY_ERROR ? reply->str
								      : "unexpected reply");
		rc = -EIO;
	} else {
		const redisReply *h = reply->element[0], *p = reply->element[1],
				 *d = reply->element[2];
		struct ssid_published pub;
		bool has_pub = p->type == REDIS_REPLY_STRING &&
			       ssid_store_published_parse(p->str, p->len, &pub);

		if (h->type == REDIS_REPLY_STRING)
			rc = ssi_history_decode(out, (const uint8_t *)h->str, h->len);
		if (rc == 0) {
			rc =
			    ssid_history_latest_merge(out, has_pub ? &pub : NULL,
						      d->type == REDIS_REPLY_STRING ? d->str : NULL,
						      d->type == REDIS_REPLY_STRING ? d->len : 0);
			if (rc == -ENOENT)
				rc = 0;
		}
		if (rc == 0)
			rc = out->n > 0 || h->type == REDIS_REPLY_STRING;
	}
	freeReplyObject(reply);
	return rc;
}
