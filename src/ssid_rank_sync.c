/* ssid_rank_sync: ssid_rank's ranks to and from Redis; see ssid_rank.h and ssid_rank_int.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "ssid_rank_int.h"
#include "ssid_store.h"

/* ---- Redis plumbing ------------------------------------------------------- */

static int argv_reserve(struct ssid_rank *r, size_t n)
{
	size_t cap = r->argcap;

	/* Three arrays of one capacity: r->argcap moves only once all have grown. */
	if (SSI_GROW(r->argv, &cap, n, 64) < 0)
		return -ENOMEM;
	cap = r->argcap;
	if (SSI_GROW(r->argl, &cap, n, 64) < 0)
		return -ENOMEM;
	cap = r->argcap;
	if (SSI_GROW(r->argoff, &cap, n, 64) < 0)
		return -ENOMEM;
	r->argcap = cap;
	return 0;
}

/* Queue one command on the key argv[1] (none for MULTI and EXEC). */
static int send_argv(struct ssid_rank *r, int argc, const char **argv, const size_t *argl)
{
	int rc = argc > 1 ? ssid_redis_append(r->rd, argv[1], argl[1], argc, argv, argl)
			  : ssid_redis_append(r->rd, NULL, 0, argc, argv, argl);

	if (rc < 0)
		return rc;
	r->stats.commands++;
	return 0;
}

static int send_fmt(struct ssid_rank *r, int argc, ...)
{
	const char *argv[8];
	size_t argl[8];
	va_list ap;

	va_start(ap, argc);
	for (int i = 0; i < argc; i++) {
		argv[i] = va_arg(ap, const char *);
		argl[i] = strlen(argv[i]);
	}
	va_end(ap);
	return send_argv(r, argc, argv, argl);
}

/* Expect a status, QUEUED or any non-error reply. */
static int take_ok(void *ctx, size_t i, struct redisReply *reply, int rc)
{
	struct ssid_rank *r = ctx;

	(void)i;
	if (reply->type == REDIS_REPLY_ERROR && rc == 0) {
		ssid_redis_set_error(r->rd, "rank write: %.*s", (int)reply->len, reply->str);
		return -EIO;
	}
	if (reply->type == REDIS_REPLY_NIL && rc == 0) {
		ssid_redis_set_error(r->rd, "rank write: transaction aborted");
		return -EIO;
	}
	return rc;
}

/* ---- loading an owned partition ------------------------------------------ */

/* Loading a partition: its roster's ids, whose records are read in order. */
struct loading {
	struct ssid_rank *r;
	struct part *p;
	char **ids;
};

static int load_record(void *ctx, size_t i, int found, const struct ssi_rank_record *rec)
{
	struct loading *ld = ctx;
	struct ssid_rank *r = ld->r;
	const char *id = ld->ids[i];
	const char *seg[SSI_SEG__COUNT] = {rec->segment[0], rec->segment[1], rec->segment[2]};
	struct rec *rc;

	/* Unreadable (its events go to the dead letters), or never scored: not counted. */
	if (found <= 0)
		return 0;
	if (rank_rec_find(r, id))
		return 0; /* another owned partition counts it already */
	rc = rank_rec_new(r, id, rank_hash_str(id), ld->p->id);
	if (!rc)
		return -ENOMEM;
	rc->score = rec->score;
	if (rank_rec_set_segments(r, rc, seg) < 0)
		return -ENOMEM;
	r->stats.loaded++;
	return rank_count_all(r, rc, true);
}

int rank_load_partition(struct ssid_rank *r, struct part *p)
{
	char key[256], parts_key[256], num[16];
	struct loading ld = {.r = r, .p = p};
	size_t n = 0;
	int rc;

	/* What was read of it as another's goes: its records are the truth now. */
	for (uint32_t i = 0; i < p->ne; i++)
		if (ssi_rankagg_merge(&r->segv[p->e[i].seg]->all, &p->e[i].agg, -1) < 0)
			return -ENOMEM;
	rank_part_free_remote(p);
	p->local = true;
	ssid_rank_key_records(ssid_redis_key_prefix(r->rd), p->id, key, sizeof(key));
	ssid_rank_key_parts(ssid_redis_key_prefix(r->rd), parts_key, sizeof(parts_key));
	snprintf(num, sizeof(num), "%d", (int)p->id);
	/* An older build's records: the reps' hashes say the same. */
	rc = send_fmt(r, 2, "DEL", key);
	if (rc == 0)
		rc = send_fmt(r, 3, "SADD", parts_key, num);
	if (rc == 0) {
		r->stats.round_trips++;
		rc = ssid_redis_read_replies(r->rd, 2, "DEL old records, SADD rank partitions",
					     take_ok, r);
	}
	if (rc == 0) {
		r->stats.round_trips += SSID_STORE_ROSTER_READ_TRIPS;
		r->stats.commands += SSID_STORE_ROSTER_READ_TRIPS;
		rc = ssid_store_roster_read(r->rd, p->id, &ld.ids, &n);
	}
	if (rc == 0 && n > 0) {
		r->stats.round_trips +=
		    (n + SSID_STORE_RECORDS_CHUNK - 1) / SSID_STORE_RECORDS_CHUNK;
		r->stats.commands += n;
		rc = ssid_store_read_records(r->rd, (const char *const *)ld.ids, n, load_record,
					     &ld);
	}
	ssid_store_ids_free(ld.ids);
	if (rc == 0)
		p->full = true; /* rewrite its aggregates from the records just read */
	return rc;
}

/* Forget an owned partition's records and shares (they stay in Redis). */
void rank_unload_partition(struct ssid_rank *r, struct part *p)
{
	rank_part_free_pending(p); /* before the records it names go */
	for (uint32_t i = 0; i < r->nseg; i++) {
		struct seg *g = r->segv[i];
		struct share *s = rank_share_find(g, p->id);

		if (!s)
			continue;
		if (g->kind == SSID_RANK_GLOBAL)
			for (uint32_t m = 0; m < s->nmember; m++)
				rank_rec_unlink(r, s->member[m]);
		ssi_rankagg_merge(&g->all, &s->agg, -1);
		ssi_rankagg_clear(&s->agg);
		ssi_rank_top_clear(&s->top);
		free(s->member);
		*s = g->share[--g->nshare];
	}
	/* A deferred partition's records are in no segment: find them in the table. */
	for (size_t i = 0; p->deferred && i < r->rcap; i++)
		for (struct rec *rc = r->rtab[i], *next; rc; rc = next) {
			next = rc->next;
			if (rc->part == p->id)
				rank_rec_unlink(r, rc);
		}
	p->deferred = false;
	p->local = false;
	p->version = -1;
}

/* ---- writing ---------------------------------------------------------------- */

/*
 * Encode into r->enc, in place; the argument at index ai gets its offset
 * and length (resolve() turns offsets into pointers once the buffer stops
 * moving). One pass into the room left, a second only when it did not fit.
 */
static int put_encoded(struct ssid_rank *r, size_t ai, const struct ssi_rankagg *what)
{
	size_t need;

	if (!ssid_buf_reserve(&r->enc, 512))
		return -ENOMEM; /* r->enc.failed, until the next ssid_buf_reset */
	need =
	    ssi_rankagg_encode(what, (uint8_t *)r->enc.data + r->enc.len, r->enc.cap - r->enc.len);
	if (need > r->enc.cap - r->enc.len) {
		if (!ssid_buf_reserve(&r->enc, need))
			return -ENOMEM;
		ssi_rankagg_encode(what, (uint8_t *)r->enc.data + r->enc.len, need);
	}
	r->argoff[ai] = r->enc.len;
	r->argl[ai] = need;
	r->argv[ai] = NULL;
	r->enc.len += need;
	return 0;
}

static void resolve(struct ssid_rank *r, size_t argc)
{
	for (size_t i = 0; i < argc; i++)
		if (!r->argv[i])
			r->argv[i] = r->enc.data + r->argoff[i];
}

static int set_arg(struct ssid_rank *r, size_t ai, const char *s)
{
	r->argv[ai] = s;
	r->argl[ai] = strlen(s);
	return 0;
}

/* The share written for a partition, with the best top_n of its members. */
static int share_encodable(struct ssid_rank *r, struct share *s)
{
	size_t n;

	if (rank_share_top(r, s) < 0)
		return -ENOMEM;
	n = s->top.n < (size_t)r->ro.top_n ? s->top.n : (size_t)r->ro.top_n;
	ssi_rank_top_clear(&s->agg.top);
	for (size_t i = 0; i < n; i++)
		if (ssi_rank_top_offer(&s->agg.top, n, s->top.m[i].user_id, s->top.m[i].total) < 0)
			return -ENOMEM;
	return 0;
}

/*
 * Queue one partition's writes; *sent counts the replies to read: with
 * aggs, its aggregates, in one MULTI ... EXEC (the records are the reps'
 * own hashes, written by ssid_store).
 */
static int queue_partition(struct ssid_rank *r, struct part *p, bool aggs, size_t *sent)
{
	const char *prefix = ssid_redis_key_prefix(r->rd);
	char rkey[256], akey[256], vkey[256];
	size_t argc;
	int rc;

	ssid_rank_key_records(prefix, p->id, rkey, sizeof(rkey));
	ssid_rank_key_aggs(prefix, p->id, akey, sizeof(akey));
	ssid_rank_key_version(prefix, p->id, vkey, sizeof(vkey));
	rc = 0;
	if (aggs) {
		rc = send_fmt(r, 1, "MULTI");
		(*sent)++;
	}
	if (rc == 0 && aggs && p->full) {
		rc = send_fmt(r, 2, "DEL", akey);
		(*sent)++;
		for (uint32_t i = 0; i < r->nseg && rc == 0; i++) {
			struct share *s = rank_share_find(r->segv[i], p->id);

			if (s)
				rc = rank_mark_dirty(r, i, s);
		}
	}
	/* Aggregates: set the non-empty dirty shares, delete the empty ones. */
	for (int pass = 0; aggs && pass < 2 && rc == 0; pass++) {
		ssid_buf_reset(&r->enc);
		argc = 2;
		for (uint32_t i = 0; i < p->ndirty && rc == 0; i++) {
			struct seg *g = r->segv[p->dirty_seg[i]];
			struct share *s = rank_share_find(g, p->id);
			bool empty = !s || s->agg.n == 0;

			if (empty != (pass == 1))
				continue;
			rc = argv_reserve(r, argc + 2);
			if (rc == 0)
				set_arg(r, argc++, g->field);
			if (rc == 0 && pass == 0) {
				rc = share_encodable(r, s);
				if (rc == 0)
					rc = put_encoded(r, argc++, &s->agg);
			}
		}
		if (rc == 0 && argc > 2) {
			set_arg(r, 0, pass == 0 ? "HSET" : "HDEL");
			set_arg(r, 1, akey);
			resolve(r, argc);
			rc = send_argv(r, (int)argc, r->argv, r->argl);
			(*sent)++;
		}
	}
	if (rc == 0 && aggs) {
		rc = send_fmt(r, 2, "INCR", vkey);
		(*sent)++;
	}
	if (rc == 0 && aggs) {
		rc = send_fmt(r, 1, "EXEC");
		(*sent)++;
	}
	return rc;
}

/* The partition's pending writes are in Redis: clear their flags. */
static void written(struct ssid_rank *r, struct part *p, bool aggs)
{
	if (!aggs)
		return;
	for (uint32_t i = 0; i < p->ndirty; i++) {
		struct share *d = rank_share_find(r->segv[p->dirty_seg[i]], p->id);

		if (d)
			d->dirty = false;
	}
	p->ndirty = 0;
	p->full = false;
}

bool rank_pending(const struct part *p)
{
	return p->local && (p->full || p->ndirty);
}

int rank_collect(struct ssid_rank *r)
{
	size_t n = r->unread;
	int rc;

	if (n == 0)
		return 0;
	r->unread = 0;
	/*
	 * Dropped since (its flush failed, and said so): what it held is still
	 * pending and goes out with the next write. Not an error of this call,
	 * or the retry of a failed batch would fail once more for nothing.
	 */
	if (!ssid_redis_connected(r->rd))
		return 0;
	rc = ssid_redis_read_replies(r->rd, n, "rank write", take_ok, r);
	if (rc < 0)
		return rc;
	/* Nothing pending changed since the write was sent: every call collects first. */
	for (uint32_t i = 0; i < r->nparts; i++)
		if (rank_pending(&r->parts[i]))
			written(r, &r->parts[i], r->unread_aggs);
	if (r->unread_aggs)
		r->aggs_written_ms = ssid_time_mono_ms();
	return 0;
}

int rank_write(struct ssid_rank *r, bool aggs, bool wait)
{
	size_t sent = 0;
	int rc = rank_collect(r);
	bool any = false;

	if (rc < 0)
		return rc;
	for (uint32_t i = 0; i < r->nparts; i++)
		any |= rank_pending(&r->parts[i]);
	if (!any)
		return 0;
	rc = ssid_redis_connect(r->rd);
	for (uint32_t i = 0; i < r->nparts && rc == 0; i++)
		if (rank_pending(&r->parts[i]))
			rc = queue_partition(r, &r->parts[i], aggs, &sent);
	if (rc < 0)
		return rc == -ENOMEM ? ssid_redis_fail(r->rd, rc, "rank write: out of memory") : rc;
	if (sent == 0)
		return 0;
	r->stats.round_trips++;
	r->unread = sent;
	r->unread_aggs = aggs;
	rc = ssid_redis_flush(r->rd);
	return rc == 0 && wait ? rank_collect(r) : rc;
}

int ssid_rank_flush(struct ssid_rank *r)
{
	return rank_write(r, true, true);
}

bool rank_aggs_due(const struct ssid_rank *r)
{
	return ssid_time_mono_ms() - r->aggs_written_ms >= r->ro.refresh_ms / 2;
}

int ssid_rank_send(struct ssid_rank *r)
{
	return rank_write(r, rank_aggs_due(r), false);
}

int ssid_rank_collect(struct ssid_rank *r)
{
	return rank_collect(r);
}

/* ---- other instances' partitions ------------------------------------------ */

struct versions {
	struct ssid_rank *r;
	int32_t *ids;
	long long *v;
};

static int take_version(void *ctx, size_t i, struct redisReply *reply, int rc)
{
	struct versions *vs = ctx;

	if (reply->type == REDIS_REPLY_NIL)
		vs->v[i] = 0;
	else if (reply->type == REDIS_REPLY_STRING)
		vs->v[i] = strtoll(reply->str, NULL, 10);
	else if (rc == 0) {
		ssid_redis_set_error(vs->r->rd, "rank version: unexpected reply");
		return -EBADMSG;
	}
	return rc;
}

/* Replace what was read of partition p with the hash in reply. */
static int take_remote(struct ssid_rank *r, struct part *p, const redisReply *reply,
		       long long version)
{
	struct remote_entry *e;
	uint32_t ne = 0;
	int rc = 0;

	if (reply->type != REDIS_REPLY_ARRAY || reply->elements % 2) {
		ssid_redis_set_error(r->rd, "rank aggregates of partition %d: unexpected reply",
				     (int)p->id);
		return -EBADMSG;
	}
	e = calloc(reply->elements / 2 + 1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	for (size_t i = 0; i + 1 < reply->elements && rc == 0; i += 2) {
		const redisReply *f = reply->element[i], *v = reply->element[i + 1];
		char field[4 * SSI_ID_MAX + 8];

		if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING || f->len == 0 ||
		    f->len >= sizeof(field) || memchr(f->str, '\0', f->len)) {
			rc = -EBADMSG;
			break;
		}
		memcpy(field, f->str, f->len);
		field[f->len] = '\0';
		ssi_rankagg_init_counts(&e[ne].agg); /* merged into all, never ranked in */
		rc = ssi_rankagg_decode(&e[ne].agg, (const uint8_t *)v->str, v->len);
		if (rc < 0)
			break;
		e[ne].seg = rank_seg_lookup(r, field, true);
		if (e[ne].seg == NONE) {
			ssi_rankagg_clear(&e[ne].agg);
			rc = -ENOMEM;
			break;
		}
		ne++;
	}
	if (rc < 0) {
		for (uint32_t i = 0; i < ne; i++)
			ssi_rankagg_clear(&e[i].agg);
		free(e);
		if (rc != -ENOMEM)
			ssid_redis_set_error(r->rd, "rank aggregates of partition %d: unreadable",
					     (int)p->id);
		return rc == -ENOMEM ? rc : -EBADMSG;
	}
	for (uint32_t i = 0; i < p->ne; i++)
		ssi_rankagg_merge(&r->segv[p->e[i].seg]->all, &p->e[i].agg, -1);
	for (uint32_t i = 0; i < ne; i++)
		if (ssi_rankagg_merge(&r->segv[e[i].seg]->all, &e[i].agg, +1) < 0)
			rc = -ENOMEM;
	rank_part_free_remote(p);
	p->e = e;
	p->ne = ne;
	p->version = version;
	r->stats.refreshes++;
	return rc;
}

static int read_partition_list(struct ssid_rank *r, int32_t **ids, size_t *n)
{
	char key[256];
	redisReply *reply = NULL;
	int rc;

	*ids = NULL;
	*n = 0;
	ssid_rank_key_parts(ssid_redis_key_prefix(r->rd), key, sizeof(key));
	rc = send_fmt(r, 2, "SMEMBERS", key);
	if (rc < 0)
		return rc;
	r->stats.round_trips++;
	if (ssid_redis_next_reply(r->rd, &reply, "SMEMBERS rank partitions") < 0)
		return -EIO;
	if (reply->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(reply);
		ssid_redis_set_error(r->rd, "%s: unexpected reply", key);
		return -EBADMSG;
	}
	*ids = calloc(reply->elements + 1, sizeof(**ids));
	if (!*ids) {
		freeReplyObject(reply);
		return -ENOMEM;
	}
	for (size_t i = 0; i < reply->elements; i++) {
		const redisReply *e = reply->element[i];
		char *end;
		long v;

		if (e->type != REDIS_REPLY_STRING)
			continue;
		v = strtol(e->str, &end, 10);
		if (*end || v < 0 || v > INT32_MAX)
			continue;
		(*ids)[(*n)++] = (int32_t)v;
	}
	freeReplyObject(reply);
	return 0;
}

/* Read the others' partitions whose version moved since last read. */
static int read_remote(struct ssid_rank *r)
{
	struct versions vs = {r, NULL, NULL};
	size_t n = 0, nr = 0, sent = 0;
	char key[256];
	int rc = read_partition_list(r, &vs.ids, &n);

	if (rc < 0)
		return rc;
	/* Keep only the others'. */
	for (size_t i = 0; i < n; i++) {
		struct part *p = rank_part_find(r, vs.ids[i]);

		if (!p || !p->local)
			vs.ids[nr++] = vs.ids[i];
	}
	vs.v = calloc(nr + 1, sizeof(*vs.v));
	if (!vs.v) {
		free(vs.ids);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nr && rc == 0; i++) {
		ssid_rank_key_version(ssid_redis_key_prefix(r->rd), vs.ids[i], key, sizeof(key));
		rc = send_fmt(r, 2, "GET", key);
	}
	if (rc == 0 && nr > 0) {
		r->stats.round_trips++;
		rc = ssid_redis_read_replies(r->rd, nr, "rank versions", take_version, &vs);
	}
	for (size_t i = 0; i < nr && rc == 0; i++) {
		struct part *p = rank_part_get(r, vs.ids[i]);

		if (!p) {
			rc = -ENOMEM;
			break;
		}
		if (p->version == vs.v[i])
			continue;
		ssid_rank_key_aggs(ssid_redis_key_prefix(r->rd), vs.ids[i], key, sizeof(key));
		rc = send_fmt(r, 2, "HGETALL", key);
		sent++;
	}
	if (rc == 0 && sent > 0)
		r->stats.round_trips++;
	for (size_t i = 0; i < nr && sent > 0; i++) {
		struct part *p = rank_part_find(r, vs.ids[i]);
		redisReply *reply = NULL;
		int t;

		if (!p || p->version == vs.v[i])
			continue;
		sent--;
		if (ssid_redis_next_reply(r->rd, &reply, "HGETALL rank aggregates") < 0) {
			rc = -EIO;
			break;
		}
		t = rc == 0 ? take_remote(r, p, reply, vs.v[i]) : 0;
		if (rc == 0)
			rc = t;
		freeReplyObject(reply);
	}
	free(vs.ids);
	free(vs.v);
	return rc;
}

int ssid_rank_refresh(struct ssid_rank *r, int64_t now_ms, bool force)
{
	int rc;

	/* Half the bound each way: written within it, read within it. */
	if (!force && r->refreshed && now_ms - r->refreshed_ms < r->ro.refresh_ms / 2)
		return 0;
	rc = rank_collect(r);
	if (rc == 0)
		rc = ssid_redis_connect(r->rd);
	/* Partitions assigned here and not met yet: their records, then their aggregates. */
	for (uint32_t i = 0; i < r->nparts && rc == 0; i++)
		if (r->parts[i].wanted && !r->parts[i].local)
			rc = rank_own(r, r->parts[i].id);
	/* A replay that brought nothing for QUIET_PERIODS is over (or stalled): settle. */
	for (uint32_t i = 0; i < r->nparts && rc == 0; i++)
		if (r->parts[i].deferred && r->parts[i].quiet_period + QUIET_PERIODS <= r->period)
			rc = ssid_rank_settle(r, r->parts[i].id);
	r->period++;
	if (rc == 0)
		rc = ssid_rank_flush(r);
	if (rc == 0)
		rc = read_remote(r);
	if (rc == 0) {
		r->refreshed = true;
		r->refreshed_ms = now_ms;
	}
	return rc == -ENOMEM ? ssid_redis_fail(r->rd, rc, "ranks: out of memory") : rc;
}

int ssid_rank_settle(struct ssid_rank *r, int32_t partition)
{
	struct part *p = rank_part_find(r, partition);
	int rc = rank_collect(r);

	if (rc < 0)
		return rc;
	rc = p ? rank_settle(r, p) : 0;
	if (rc < 0) {
		/* Counted in some segments and not others: start again from Redis. */
		rank_forget_all(r);
		return ssid_redis_fail(r->rd, -ENOMEM, "ranks: out of memory settling a replay");
	}
	return 0;
}

void ssid_rank_drop_partition(struct ssid_rank *r, int32_t partition)
{
	struct part *p = rank_part_find(r, partition);

	if (p)
		p->wanted = false;
	if (!p || !p->local)
		return;
	/* Best effort: what does not reach Redis the next owner cannot know. */
	(void)rank_collect(r);
	if (rank_pending(p))
		(void)ssid_rank_flush(r);
	rank_unload_partition(r, p);
	p->wanted = false;
}

void ssid_rank_reset(struct ssid_rank *r)
{
	(void)rank_collect(r); /* keeps the connection in step; what it wrote is forgotten anyway */
	rank_forget_all(r);
}
