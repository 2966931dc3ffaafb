/*
 * ssid_store_sched: the decay schedule side of ssid_store (ssid_store.h):
 * the roster strings and the due field's format, the in-memory schedules
 * (ssid_sched.h) built from them, and what a save changes in both.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "ssi_text.h"
#include "ssid_buf.h"
#include "ssid_sched.h"
#include "ssid_store.h"
#include "ssid_store_int.h"

/* Ids of the roster a pipeline asks z of at once. */
#define LOAD_CHUNK 4096

int store_roster_key(const struct ssid_redis *rd, int32_t partition, char *buf, size_t len)
{
	return snprintf(buf, len, "%sro:%d", ssid_redis_key_prefix(rd), (int)partition);
}

int store_schedule_key(const struct ssid_redis *rd, int32_t partition, char *buf, size_t len)
{
	return snprintf(buf, len, "%sdz:%d", ssid_redis_key_prefix(rd), (int)partition);
}

void store_roster_put(struct ssid_buf *b, const char *id, size_t len)
{
	uint8_t n = (uint8_t)len; /* ids are 1..SSI_ID_MAX (< 256) bytes */

	ssid_buf_append(b, &n, 1);
	ssid_buf_append(b, id, len);
}

int ssid_store_roster_parse(const char *buf, size_t len, ssid_store_roster_fn *fn, void *ctx)
{
	for (size_t at = 0; at < len;) {
		size_t n = (uint8_t)buf[at];
		int rc;

		if (n == 0 || n > len - at - 1)
			return -EBADMSG;
		rc = fn(ctx, buf + at + 1, n);
		if (rc < 0)
			return rc;
		at += 1 + n;
	}
	return 0;
}

int store_due_format(int64_t due_ms, char *buf)
{
	return ssi_text_ll((long long)due_ms, buf);
}

/* Field z's value; an absent or unreadable z is due now (0): a rescore finds the truth. */
static int64_t due_parse(const redisReply *r)
{
	char tmp[32], *end;
	long long v;

	if (r->type != REDIS_REPLY_STRING || r->len == 0 || r->len >= sizeof(tmp))
		return 0;
	memcpy(tmp, r->str, r->len);
	tmp[r->len] = '\0';
	v = strtoll(tmp, &end, 10);
	return *end ? 0 : (int64_t)v;
}

/* Reading a schedule: the reps' ids in roster order, then their z. */
struct reading {
	struct ssid_redis *rd;
	struct ssid_sched *sc;
	char **ids; /* the chunk whose z are asked for */
	size_t nids, cap;
};

static int take_id(void *ctx, const char *id, size_t len)
{
	struct reading *rg = ctx;
	int rc = ssid_sched_set(rg->sc, id, len, 0);

	if (rc != 1)
		return rc < 0 ? rc : 0; /* a duplicate (an APPEND whose reply was lost) */
	if (rg->nids == rg->cap) {
		size_t cap = rg->cap ? 2 * rg->cap : 256;
		char **ids = realloc(rg->ids, cap * sizeof(*ids));

		if (!ids)
			return -ENOMEM;
		rg->ids = ids;
		rg->cap = cap;
	}
	rg->ids[rg->nids] = strndup(id, len);
	return rg->ids[rg->nids++] ? 0 : -ENOMEM;
}

static int take_due(void *ctx, size_t i, redisReply *r, int rc)
{
	struct reading *rg = ctx;

	if (r->type == REDIS_REPLY_ERROR) {
		ssid_redis_set_error(rg->rd, "HGET z: %s", r->str);
		return -EIO;
	}
	if (rc == 0)
		rc = ssid_sched_set(rg->sc, rg->ids[i], strlen(rg->ids[i]), due_parse(r));
	return rc < 0 ? rc : 0;
}

/* Ask for field z of ids[from, from + n): one pipeline. */
static int read_dues(struct reading *rg, size_t from, size_t n)
{
	char key[512];
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++) {
		const char *argv[3] = {"HGET", key, "z"};
		size_t argl[3] = {4, 0, 1};

		argl[1] = (size_t)ssid_store_user_key(rg->rd, rg->ids[from + i], key, sizeof(key));
		rc = ssid_redis_append(rg->rd, key, argl[1], 3, argv, argl);
	}
	if (rc == 0 && n > 0) {
		char **all = rg->ids;

		rg->ids = all + from; /* take_due's i counts from the chunk's first */
		rc = ssid_redis_read_replies(rg->rd, n, "HGET z", take_due, rg);
		rg->ids = all;
	}
	return rc;
}

/* An older build's schedule "dz:<partition>": its members and their due instants. */
static int read_older(struct reading *rg, int32_t partition, struct ssid_buf *joined, bool *found)
{
	char key[512];
	redisReply *r;
	int rc = 0;

	store_schedule_key(rg->rd, partition, key, sizeof(key));
	r = ssid_redis_command(rg->rd, "ZRANGE %s 0 -1 WITHSCORES", key);
	if (!r)
		return -EIO;
	if (r->type != REDIS_REPLY_ARRAY || r->elements % 2) {
		ssid_redis_set_error(rg->rd, "ZRANGE %s: %s", key,
				     r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
		freeReplyObject(r);
		return -EIO;
	}
	*found = r->elements > 0;
	for (size_t i = 0; i + 1 < r->elements && rc == 0; i += 2) {
		const redisReply *m = r->element[i], *sc = r->element[i + 1];
		int64_t due = SSID_DUE_NEVER;

		if (m->type != REDIS_REPLY_STRING || m->len == 0 || m->len > SSI_ID_MAX)
			continue;
		if (sc->type == REDIS_REPLY_STRING && strcmp(sc->str, "inf") != 0)
			due = (int64_t)strtoll(sc->str, NULL, 10);
		if (ssid_sched_has(rg->sc, m->str, m->len))
			continue; /* in the roster already: its z says */
		rc = ssid_sched_set(rg->sc, m->str, m->len, due);
		if (rc == 1 && joined)
			store_roster_put(joined, m->str, m->len);
		rc = rc < 0 ? rc : 0;
	}
	freeReplyObject(r);
	if (rc == 0 && joined && joined->failed)
		rc = -ENOMEM;
	return rc;
}

/*
 * Partition's schedule as Redis holds it: the roster, each rep's z (with
 * dues; else every rep is due at 0), and the members of an older build's
 * schedule missing from the roster (their roster entries into joined when
 * not NULL; *older: that schedule exists).
 */
static int read_schedule(struct ssid_redis *rd, int32_t partition, bool dues,
			 struct ssid_sched **out, struct ssid_buf *joined, bool *older)
{
	struct reading rg = {.rd = rd};
	char key[512];
	redisReply *r;
	int rc;

	*out = NULL;
	rc = ssid_sched_new(&rg.sc);
	if (rc < 0)
		return rc;
	store_roster_key(rd, partition, key, sizeof(key));
	r = ssid_redis_command(rd, "GET %s", key);
	if (!r) {
		rc = -EIO;
	} else if (r->type == REDIS_REPLY_STRING) {
		rc = ssid_store_roster_parse(r->str, r->len, take_id, &rg);
		if (rc == -EBADMSG)
			ssid_redis_set_error(rd, "%s: a truncated entry", key);
	} else if (r->type != REDIS_REPLY_NIL) {
		ssid_redis_set_error(rd, "GET %s: %s", key,
				     r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
		rc = -EIO;
	}
	freeReplyObject(r);
	for (size_t at = 0; rc == 0 && dues && at < rg.nids; at += LOAD_CHUNK)
		rc = read_dues(&rg, at, rg.nids - at < LOAD_CHUNK ? rg.nids - at : LOAD_CHUNK);
	if (rc == 0)
		rc = read_older(&rg, partition, joined, older);
	for (size_t i = 0; i < rg.nids; i++)
		free(rg.ids[i]);
	free(rg.ids);
	if (rc < 0) {
		ssid_sched_free(rg.sc);
		return rc == -EBADMSG ? -EIO : rc;
	}
	*out = rg.sc;
	return 0;
}

int store_schedule_read(struct ssid_redis *rd, int32_t partition, bool dues,
			struct ssid_sched **out)
{
	bool older;

	return read_schedule(rd, partition, dues, out, NULL, &older);
}

int ssid_store_schedule_read(struct ssid_redis *rd, int32_t partition, struct ssid_sched **out)
{
	return store_schedule_read(rd, partition, true, out);
}

/*
 * Partition's schedule, read when first asked for (and an older build's
 * schedule moved into the roster: appended, then deleted).
 */
int store_sched(struct ssid_store *s, int32_t partition, struct ssid_sched **out)
{
	struct ssid_buf joined = {0};
	struct ssid_sched *sc;
	bool older = false;
	char key[512];
	int rc;

	if (partition < 0)
		return -EINVAL;
	if ((size_t)partition < s->nsched && s->sched[partition]) {
		*out = s->sched[partition];
		return 0;
	}
	if ((size_t)partition >= s->nsched) {
		size_t n = (size_t)partition + 1;
		struct ssid_sched **v = realloc(s->sched, n * sizeof(*v));

		if (!v)
			return -ENOMEM;
		memset(v + s->nsched, 0, (n - s->nsched) * sizeof(*v));
		s->sched = v;
		s->nsched = n;
	}
	rc = read_schedule(s->rd, partition, true, &sc, &joined, &older);
	if (rc == 0 && joined.len > 0) {
		redisReply *r;

		store_roster_key(s->rd, partition, key, sizeof(key));
		r = ssid_redis_command(s->rd, "APPEND %s %b", key, joined.data, joined.len);
		rc = r && r->type == REDIS_REPLY_INTEGER ? 0 : -EIO;
		freeReplyObject(r);
	}
	if (rc == 0 && older) {
		redisReply *r;

		store_schedule_key(s->rd, partition, key, sizeof(key));
		r = ssid_redis_command(s->rd, "DEL %s", key);
		rc = r && r->type == REDIS_REPLY_INTEGER ? 0 : -EIO;
		freeReplyObject(r);
	}
	ssid_buf_free(&joined);
	if (rc < 0) {
		ssid_sched_free(sc);
		return rc;
	}
	s->sched[partition] = sc;
	*out = sc;
	return 0;
}

void store_sched_drop(struct ssid_store *s, int32_t partition)
{
	for (size_t i = 0; i < s->nsched; i++) {
		if (partition >= 0 && (size_t)partition != i)
			continue;
		ssid_sched_free(s->sched[i]);
		s->sched[i] = NULL;
	}
}

int store_sched_stage(struct ssid_store *s, const struct ssid_user *users, size_t n, size_t *sent)
{
	struct ssid_buf *add = NULL;
	size_t nadd = 0;
	int rc = 0;

	/* Every partition first: reading one pipelines commands of its own. */
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct ssid_sched *sc;

		if (users[i].save_due && users[i].partition >= 0)
			rc = store_sched(s, users[i].partition, &sc);
	}
	if (rc == 0 && s->nsched > 0 && !(add = calloc(s->nsched, sizeof(*add))))
		rc = -ENOMEM;
	for (size_t i = 0; i < n && rc == 0; i++) {
		const struct ssid_user *u = &users[i];
		size_t len = strlen(u->id);

		if (!u->save_due || u->partition < 0)
			continue;
		rc = ssid_sched_set(s->sched[u->partition], u->id, len, u->due_ms);
		if (rc == 1) {
			store_roster_put(&add[u->partition], u->id, len);
			nadd++;
		}
		rc = rc < 0 ? rc : 0;
	}
	for (size_t p = 0; nadd > 0 && p < s->nsched && rc == 0; p++)
		if (add[p].failed)
			rc = -ENOMEM;
	/* The newcomers' roster entries, queued before their states. */
	for (size_t p = 0; nadd > 0 && p < s->nsched && rc == 0; p++) {
		char key[512];
		const char *argv[3] = {"APPEND", key, NULL};
		size_t argl[3] = {6, 0, 0};

		if (add[p].len == 0)
			continue;
		argl[1] = (size_t)store_roster_key(s->rd, (int32_t)p, key, sizeof(key));
		argv[2] = add[p].data;
		argl[2] = add[p].len;
		rc = ssid_redis_append(s->rd, key, argl[1], 3, argv, argl);
		if (rc == 0)
			(*sent)++;
	}
	for (size_t p = 0; add && p < s->nsched; p++)
		ssid_buf_free(&add[p]);
	free(add);
	return rc;
}

void ssid_store_ids_free(char **ids)
{
	if (!ids)
		return;
	for (char **p = ids; *p; p++)
		free(*p);
	free(ids);
}

int ssid_store_due(struct ssid_store *s, int32_t partition, int64_t now_ms, size_t max, char ***ids,
		   size_t *n)
{
	struct ssid_sched *sc;
	int rc = store_sched(s, partition, &sc);

	*ids = NULL;
	*n = 0;
	return rc < 0 ? rc : ssid_sched_due(sc, now_ms, max, ids, n);
}

int ssid_store_due_count(struct ssid_store *s, int32_t partition, int64_t now_ms, int64_t *n)
{
	struct ssid_sched *sc;
	int rc = store_sched(s, partition, &sc);

	if (rc < 0)
		return rc;
	*n = (int64_t)(now_ms == SSID_DUE_NEVER ? ssid_sched_size(sc)
						: ssid_sched_count(sc, now_ms));
	return 0;
}

int ssid_store_roster(struct ssid_store *s, int32_t partition, unsigned long long *cursor,
		      size_t count, char ***ids, size_t *n)
{
	struct ssid_sched *sc;
	int rc = store_sched(s, partition, &sc);

	*ids = NULL;
	*n = 0;
	if (rc < 0)
		return rc;
	rc = ssid_sched_slice(sc, (size_t)*cursor, count, ids, n);
	if (rc == 0)
		*cursor = *cursor + *n >= ssid_sched_size(sc) ? 0 : *cursor + *n;
	return rc;
}
