/* ssid_rank_read: ranks read straight from Redis; see ssid_rank_read.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "ssid_rank_read.h"
#include "ssid_store.h"

/*
 * Cost, as callers that count round trips and commands rely on: each call
 * that sends anything sends one pipeline and reads it back (one round trip),
 * except ssid_rank_read_each (per partition, a GET of its roster and the
 * reps' HMGETs, 1,024 per round trip).
 *   read_partitions  1 SMEMBERS
 *   read_record      1 HMGET of the rep's hash (ssid_store_read_records)
 *   read_segment     1 HGET per partition (nothing without partitions)
 * Every command names one key.
 */

/* ---- keys and the pipeline ------------------------------------------------- */

typedef int key_fn(const char *prefix, int32_t partition, char *buf, size_t len);

/* Room for any partition's key: the prefix and "rk:{p-2147483648}:u" with room to spare. */
static char *key_buf(const struct ssid_redis *rd, size_t *cap)
{
	*cap = strlen(ssid_redis_key_prefix(rd)) + 64;
	return malloc(*cap);
}

/* The key of one partition through ssid_rank's builder; its length. */
static size_t part_key(const struct ssid_redis *rd, key_fn *fn, int32_t partition, char *buf,
		       size_t cap)
{
	int n = fn(ssid_redis_key_prefix(rd), partition, buf, cap);

	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* Queue one command on the key argv[1]; a failure drops the connection (and what was queued). */
static int append(struct ssid_redis *rd, int argc, const char **argv, const size_t *argl)
{
	return ssid_redis_append(rd, argv[1], argl ? argl[1] : strlen(argv[1]), argc, argv, argl);
}

/* An error reply, or anything else unexpected, as the error of a command on key. */
static int bad_reply(struct ssid_redis *rd, const char *cmd, const char *key,
		     const redisReply *reply)
{
	ssid_redis_set_error(rd, "%s %s: %s", cmd, key,
			     reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
	return -EBADMSG;
}

/* A decoder's error as this module's: unreadable data is -EBADMSG whatever the reason. */
static int bad_value(struct ssid_redis *rd, int rc, const char *what, const char *name,
		     const char *key)
{
	if (rc == -ENOMEM) {
		ssid_redis_set_error(rd, "out of memory");
		return rc;
	}
	ssid_redis_set_error(rd, "%s '%s' in %s: %s", what, name, key,
			     rc == -EPROTONOSUPPORT ? "written by a newer ssid" : "unreadable");
	return -EBADMSG;
}

/* A decimal in lo..hi from a bulk string. */
static bool parse_u64(const redisReply *r, unsigned long long hi, unsigned long long *out)
{
	unsigned long long v = 0;

	if (r->type != REDIS_REPLY_STRING || r->len == 0 || r->len > 20)
		return false;
	for (size_t i = 0; i < r->len; i++) {
		unsigned d = (unsigned char)r->str[i] - '0';

		if (d > 9 || v > (hi - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/* ---- partitions -------------------------------------------------------------- */

static int cmp_part(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

	return (x > y) - (x < y);
}

int ssid_rank_read_partitions(struct ssid_redis *rd, int32_t **parts, size_t *n)
{
	char key[512], *kb = key;
	const char *argv[2] = {"SMEMBERS", key};
	redisReply *reply = NULL;
	int32_t *out = NULL;
	int len, rc;

	*parts = NULL;
	*n = 0;
	len = ssid_rank_key_parts(ssid_redis_key_prefix(rd), key, sizeof(key));
	if (len < 0)
		return -EINVAL;
	if ((size_t)len >= sizeof(key)) {
		kb = malloc((size_t)len + 1);
		if (!kb)
			return -ENOMEM;
		ssid_rank_key_parts(ssid_redis_key_prefix(rd), kb, (size_t)len + 1);
		argv[1] = kb;
	}
	rc = ssid_redis_connect(rd);
	if (rc == 0)
		rc = append(rd, 2, argv, NULL);
	if (rc == 0)
		rc = ssid_redis_next_reply(rd, &reply, "SMEMBERS rank partitions");
	if (rc == 0 && reply->type != REDIS_REPLY_ARRAY)
		rc = bad_reply(rd, "SMEMBERS", argv[1], reply);
	if (rc == 0 && reply->elements > 0) {
		out = malloc(reply->elements * sizeof(*out));
		if (!out) {
			ssid_redis_set_error(rd, "out of memory");
			rc = -ENOMEM;
		}
	}
	for (size_t i = 0; rc == 0 && i < reply->elements; i++) {
		unsigned long long v;

		if (!parse_u64(reply->element[i], INT32_MAX, &v)) {
			ssid_redis_set_error(rd, "%s: a member that is not a partition", argv[1]);
			rc = -EBADMSG;
		} else
			out[i] = (int32_t)v;
	}
	if (rc == 0 && out) {
		qsort(out, reply->elements, sizeof(*out), cmp_part);
		*parts = out;
		*n = reply->elements;
		out = NULL;
	}
	free(out);
	if (reply)
		freeReplyObject(reply);
	if (kb != key)
		free(kb);
	return rc;
}

/* ---- one field of every partition ------------------------------------------- */

/* Queue "HGET <fn(partition)> field" for every partition. */
static int queue_hgets(struct ssid_redis *rd, key_fn *fn, const int32_t *parts, size_t nparts,
		       const char *field)
{
	size_t cap, klen;
	char *key = key_buf(rd, &cap);
	int rc = key ? ssid_redis_connect(rd) : -ENOMEM;

	for (size_t i = 0; rc == 0 && i < nparts; i++) {
		const char *argv[3] = {"HGET", key, field};
		size_t argl[3] = {4, 0, strlen(field)};

		klen = part_key(rd, fn, parts[i], key, cap);
		if (klen == 0) {
			rc = ssid_redis_fail(rd, -EINVAL, "partition %d: no key", (int)parts[i]);
			break;
		}
		argl[1] = klen;
		rc = append(rd, 3, argv, argl);
	}
	free(key);
	return rc;
}

/* ---- a rep's record ------------------------------------------------------------ */

struct record_read {
	struct ssi_rank_record *rec;
	int found;
};

static int take_record(void *ctx, size_t i, int found, const struct ssi_rank_record *rec)
{
	struct record_read *rr = ctx;

	(void)i;
	rr->found = found;
	if (found == 1)
		*rr->rec = *rec;
	return 0;
}

int ssid_rank_read_record(struct ssid_redis *rd, const char *user_id, struct ssi_rank_record *rec)
{
	struct record_read rr = {.rec = rec};
	int rc;

	memset(rec, 0, sizeof(*rec));
	rc = ssid_store_read_records(rd, &user_id, 1, take_record, &rr);
	if (rc == 0 && rr.found < 0) {
		ssid_redis_set_error(rd, "rank record '%s' (p and s of its hash): %s", user_id,
				     rr.found == -EPROTONOSUPPORT ? "written by a newer ssid"
								  : "unreadable");
		rc = -EBADMSG;
	}
	if (rc < 0) {
		memset(rec, 0, sizeof(*rec));
		return rc;
	}
	return rr.found == 1;
}

/* ---- a segment ------------------------------------------------------------------ */

struct segment_read {
	struct ssid_redis *rd;
	const int32_t *parts;
	const char *field;
	size_t top_keep;
	struct ssi_rankagg *out, part; /* the sum so far; one partition's share */
};

static int take_segment(void *ctx, size_t i, redisReply *reply, int rc)
{
	struct segment_read *sr = ctx;
	struct ssi_rankagg *a = &sr->part;
	char key[256];
	int r;

	if (rc < 0 || reply->type == REDIS_REPLY_NIL)
		return rc;
	ssid_rank_key_aggs(ssid_redis_key_prefix(sr->rd), sr->parts[i], key, sizeof(key));
	if (reply->type != REDIS_REPLY_STRING)
		return bad_reply(sr->rd, "HGET", key, reply);
	r = ssi_rankagg_decode(a, (const uint8_t *)reply->str, reply->len);
	if (r < 0)
		return bad_value(sr->rd, r, "segment", sr->field, key);
	r = ssi_rankagg_merge(sr->out, a, +1);
	if (r < 0)
		return bad_value(sr->rd, r == -ENOMEM ? r : -EBADMSG, "segment", sr->field, key);
	for (size_t j = 0; j < a->top.n; j++) {
		r = ssi_rank_top_offer(&sr->out->top, sr->top_keep, a->top.m[j].user_id,
				       a->top.m[j].total);
		if (r < 0)
			return bad_value(sr->rd, r, "segment", sr->field, key);
	}
	return 0;
}

int ssid_rank_read_segment(struct ssid_redis *rd, const int32_t *parts, size_t nparts,
			   enum ssid_rank_kind kind, const char *const segment[SSI_SEG__COUNT],
			   size_t top_keep, struct ssi_rankagg *out)
{
	struct segment_read sr = {.rd = rd, .parts = parts, .top_keep = top_keep, .out = out};
	char *field;
	int len, rc;

	ssi_rankagg_clear(out);
	len = ssid_rank_segment_field(kind, segment, NULL, 0);
	if (len < 0)
		return len;
	field = malloc((size_t)len + 1);
	if (!field)
		return -ENOMEM;
	ssid_rank_segment_field(kind, segment, field, (size_t)len + 1);
	sr.field = field;
	ssi_rankagg_init_counts(&sr.part);
	rc = nparts ? queue_hgets(rd, ssid_rank_key_aggs, parts, nparts, field) : 0;
	if (rc == 0 && nparts)
		rc = ssid_redis_read_replies(rd, nparts, "HGET rank segment", take_segment, &sr);
	ssi_rankagg_clear(&sr.part);
	free(field);
	if (rc < 0)
		ssi_rankagg_clear(out);
	return rc;
}

/* ---- every record ------------------------------------------------------------------- */

struct walk {
	char **ids;
	ssid_rank_read_fn *fn;
	void *ctx;
};

static int take_each(void *ctx, size_t i, int found, const struct ssi_rank_record *rec)
{
	struct walk *w = ctx;

	/* A rep never scored has no record; an unreadable one is left out, as ranks do. */
	return found == 1 ? w->fn(w->ctx, w->ids[i], rec) : 0;
}

int ssid_rank_read_each(struct ssid_redis *rd, const int32_t *parts, size_t nparts,
			ssid_rank_read_fn *fn, void *ctx)
{
	int rc = 0;

	for (size_t pi = 0; rc == 0 && pi < nparts; pi++) {
		struct walk w = {.fn = fn, .ctx = ctx};
		size_t n = 0;

		rc = ssid_store_roster_read(rd, parts[pi], &w.ids, &n);
		if (rc == 0 && n > 0)
			rc = ssid_store_read_records(rd, (const char *const *)w.ids, n, take_each,
						     &w);
		ssid_store_ids_free(w.ids);
	}
	return rc;
}
