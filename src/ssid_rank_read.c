/* ssid_rank_read: ranks read straight from Redis; see ssid_rank_read.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "ssid_rank_read.h"

/* Fields asked for per HSCAN step of a walk, per partition. */
#define WALK_CHUNK "1000"

/*
 * Cost, as callers that count round trips and commands rely on: each call
 * that sends anything sends one pipeline and reads it back (one round trip),
 * except ssid_rank_read_each (one per HSCAN step of the slowest partition).
 *   read_partitions  1 SMEMBERS
 *   read_record      1 HGET per partition (nothing without partitions)
 *   read_segment     1 HGET per partition (nothing without partitions)
 *   read_totals      1 HMGET of all n ids per partition (nothing when n or
 *                    nparts is 0): callers chunk big lists
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

/* A bulk string as a C string: no NUL inside, at most SSI_ID_MAX bytes, not empty. */
static bool copy_id(const redisReply *r, char out[SSI_ID_MAX + 1])
{
	if (r->type != REDIS_REPLY_STRING || r->len == 0 || r->len > SSI_ID_MAX ||
	    memchr(r->str, '\0', r->len))
		return false;
	memcpy(out, r->str, r->len);
	out[r->len] = '\0';
	return true;
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
	struct ssid_redis *rd;
	const int32_t *parts;
	const char *user_id;
	struct ssi_rank_record *rec;
	int32_t found_in;
	bool found;
};

static int take_record(void *ctx, size_t i, redisReply *reply, int rc)
{
	struct record_read *rr = ctx;
	char key[256];
	int r;

	if (rc < 0 || reply->type == REDIS_REPLY_NIL || rr->found)
		return rc;
	ssid_rank_key_records(ssid_redis_key_prefix(rr->rd), rr->parts[i], key, sizeof(key));
	if (reply->type != REDIS_REPLY_STRING)
		return bad_reply(rr->rd, "HGET", key, reply);
	r = ssi_rank_record_decode(rr->rec, (const uint8_t *)reply->str, reply->len);
	if (r < 0)
		return bad_value(rr->rd, r, "rank record", rr->user_id, key);
	rr->found = true;
	rr->found_in = rr->parts[i];
	return 0;
}

int ssid_rank_read_record(struct ssid_redis *rd, const int32_t *parts, size_t nparts,
			  const char *user_id, struct ssi_rank_record *rec, int32_t *partition)
{
	struct record_read rr = {.rd = rd, .parts = parts, .user_id = user_id, .rec = rec};
	int rc;

	memset(rec, 0, sizeof(*rec));
	if (nparts == 0)
		return 0;
	rc = queue_hgets(rd, ssid_rank_key_records, parts, nparts, user_id);
	if (rc == 0)
		rc = ssid_redis_read_replies(rd, nparts, "HGET rank record", take_record, &rr);
	if (rc < 0) {
		memset(rec, 0, sizeof(*rec));
		return rc;
	}
	if (!rr.found)
		return 0;
	if (partition)
		*partition = rr.found_in;
	return 1;
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
	ssi_rankagg_init(&sr.part);
	rc = nparts ? queue_hgets(rd, ssid_rank_key_aggs, parts, nparts, field) : 0;
	if (rc == 0 && nparts)
		rc = ssid_redis_read_replies(rd, nparts, "HGET rank segment", take_segment, &sr);
	ssi_rankagg_clear(&sr.part);
	free(field);
	if (rc < 0)
		ssi_rankagg_clear(out);
	return rc;
}

/* ---- totals of many reps ---------------------------------------------------------- */

struct totals_read {
	struct ssid_redis *rd;
	const int32_t *parts;
	const char *const *ids;
	size_t n;
	int *totals;
};

static int take_totals(void *ctx, size_t i, redisReply *reply, int rc)
{
	struct totals_read *tr = ctx;
	char key[256];

	if (rc < 0)
		return rc;
	ssid_rank_key_records(ssid_redis_key_prefix(tr->rd), tr->parts[i], key, sizeof(key));
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != tr->n)
		return bad_reply(tr->rd, "HMGET", key, reply);
	for (size_t j = 0; j < tr->n; j++) {
		const redisReply *v = reply->element[j];
		struct ssi_rank_record rec;
		int r;

		if (v->type == REDIS_REPLY_NIL || tr->totals[j] >= 0)
			continue;
		if (v->type != REDIS_REPLY_STRING)
			return bad_reply(tr->rd, "HMGET", key, v);
		r = ssi_rank_record_decode(&rec, (const uint8_t *)v->str, v->len);
		if (r < 0)
			return bad_value(tr->rd, r, "rank record", tr->ids[j], key);
		tr->totals[j] = rec.score.total;
	}
	return 0;
}

int ssid_rank_queue_totals(struct ssid_redis *rd, const int32_t *parts, size_t nparts,
			   const char *const *ids, size_t n)
{
	const char **argv = NULL;
	size_t *argl = NULL, cap = 0;
	char *key = NULL;
	int rc;

	if (n == 0 || nparts == 0)
		return 0;
	if (n > SIZE_MAX / sizeof(*argl) - 2)
		return ssid_redis_fail(rd, -ENOMEM, "HMGET rank records: out of memory");
	argv = malloc((n + 2) * sizeof(*argv));
	argl = malloc((n + 2) * sizeof(*argl));
	key = key_buf(rd, &cap);
	/* Out of memory with commands queued before: the connection is dropped. */
	rc = argv && argl && key
		 ? ssid_redis_connect(rd)
		 : ssid_redis_fail(rd, -ENOMEM, "HMGET rank records: out of memory");
	if (rc == 0) {
		argv[0] = "HMGET";
		argl[0] = 5;
		argv[1] = key;
		for (size_t j = 0; j < n; j++) {
			argv[2 + j] = ids[j];
			argl[2 + j] = strlen(ids[j]);
		}
	}
	for (size_t i = 0; rc == 0 && i < nparts; i++) {
		argl[1] = part_key(rd, ssid_rank_key_records, parts[i], key, cap);
		if (argl[1] == 0)
			rc = ssid_redis_fail(rd, -EINVAL, "partition %d: no key", (int)parts[i]);
		else
			rc = append(rd, (int)(n + 2), argv, argl);
	}
	free(argv);
	free(argl);
	free(key);
	return rc;
}

int ssid_rank_take_totals(struct ssid_redis *rd, const int32_t *parts, size_t nparts,
			  const char *const *ids, size_t n, int *totals)
{
	struct totals_read tr = {.rd = rd, .parts = parts, .ids = ids, .n = n, .totals = totals};
	int rc = 0;

	for (size_t j = 0; j < n; j++)
		totals[j] = -1;
	if (n > 0 && nparts > 0)
		rc = ssid_redis_read_replies(rd, nparts, "HMGET rank records", take_totals, &tr);
	if (rc < 0)
		for (size_t j = 0; j < n; j++)
			totals[j] = -1;
	return rc;
}

int ssid_rank_read_totals(struct ssid_redis *rd, const int32_t *parts, size_t nparts,
			  const char *const *ids, size_t n, int *totals)
{
	int rc = ssid_rank_queue_totals(rd, parts, nparts, ids, n);

	return rc < 0 ? rc : ssid_rank_take_totals(rd, parts, nparts, ids, n, totals);
}

/* ---- every record ------------------------------------------------------------------- */

struct walk {
	struct ssid_redis *rd;
	const int32_t *parts;
	ssid_rank_read_fn *fn;
	void *ctx;
	unsigned long long *cursor; /* per partition */
	bool *done;		    /* per partition: its scan is over */
	size_t *sent;		    /* partition index of each queued HSCAN */
};

static int take_scan(void *ctx, size_t i, redisReply *reply, int rc)
{
	struct walk *w = ctx;
	size_t pi = w->sent[i];
	const redisReply *kv;
	char key[256];

	if (rc < 0)
		return rc;
	ssid_rank_key_records(ssid_redis_key_prefix(w->rd), w->parts[pi], key, sizeof(key));
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
	    !parse_u64(reply->element[0], UINT64_MAX, &w->cursor[pi]) ||
	    reply->element[1]->type != REDIS_REPLY_ARRAY || reply->element[1]->elements % 2)
		return bad_reply(w->rd, "HSCAN", key, reply);
	w->done[pi] = w->cursor[pi] == 0;
	kv = reply->element[1];
	for (size_t j = 0; j + 1 < kv->elements; j += 2) {
		struct ssi_rank_record rec;
		char id[SSI_ID_MAX + 1];
		int r;

		if (!copy_id(kv->element[j], id)) {
			ssid_redis_set_error(w->rd, "%s: a field that is not a user id", key);
			return -EBADMSG;
		}
		if (kv->element[j + 1]->type != REDIS_REPLY_STRING)
			return bad_reply(w->rd, "HSCAN", key, kv->element[j + 1]);
		r = ssi_rank_record_decode(&rec, (const uint8_t *)kv->element[j + 1]->str,
					   kv->element[j + 1]->len);
		if (r < 0)
			return bad_value(w->rd, r, "rank record", id, key);
		r = w->fn(w->ctx, id, &rec);
		if (r < 0)
			return r;
	}
	return 0;
}

int ssid_rank_read_each(struct ssid_redis *rd, const int32_t *parts, size_t nparts,
			ssid_rank_read_fn *fn, void *ctx)
{
	struct walk w = {.rd = rd, .parts = parts, .fn = fn, .ctx = ctx};
	size_t cap, left = nparts;
	char *key = NULL;
	int rc;

	if (nparts == 0)
		return 0;
	w.cursor = calloc(nparts, sizeof(*w.cursor));
	w.done = calloc(nparts, sizeof(*w.done));
	w.sent = calloc(nparts, sizeof(*w.sent));
	key = key_buf(rd, &cap);
	rc = w.cursor && w.done && w.sent && key ? 0 : -ENOMEM;
	/* Each round trip carries the next HSCAN step of every partition not done. */
	while (rc == 0 && left > 0) {
		size_t queued = 0;

		rc = ssid_redis_connect(rd);
		for (size_t pi = 0; rc == 0 && pi < nparts; pi++) {
			char cur[24];
			const char *argv[5] = {"HSCAN", key, cur, "COUNT", WALK_CHUNK};
			size_t argl[5] = {5, 0, 0, 5, strlen(WALK_CHUNK)};

			if (w.done[pi])
				continue;
			argl[1] = part_key(rd, ssid_rank_key_records, parts[pi], key, cap);
			argl[2] = (size_t)snprintf(cur, sizeof(cur), "%llu", w.cursor[pi]);
			if (argl[1] == 0) {
				rc = ssid_redis_fail(rd, -EINVAL, "partition %d: no key",
						     (int)parts[pi]);
				break;
			}
			rc = append(rd, 5, argv, argl);
			w.sent[queued++] = pi;
		}
		if (rc == 0)
			rc = ssid_redis_read_replies(rd, queued, "HSCAN rank records", take_scan,
						     &w);
		left = 0;
		for (size_t pi = 0; pi < nparts; pi++)
			left += !w.done[pi];
	}
	free(w.cursor);
	free(w.done);
	free(w.sent);
	free(key);
	return rc;
}
