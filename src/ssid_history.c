/* ssid_history: reps' score histories in Redis, pipelined per batch over hiredis 0.14. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "ssid_history.h"

struct ssid_history {
	struct ssid_store_opts o; /* strings owned */
	int retention_days;
	redisContext *c;
	char err[256];
	char *key; /* scratch for one key: prefix, "u:{", a user id, "}" */
	size_t key_cap;
};

/* One distinct rep of a batch: its items, and the bytes to write back if any. */
struct rep {
	size_t first, count; /* a run of the sorted item order */
	bool write;
	size_t blob_off, blob_len; /* in the batch's arena */
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

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

void ssid_history_free(struct ssid_history *hs)
{
	if (!hs)
		return;
	if (hs->c)
		redisFree(hs->c);
	free((char *)hs->o.host);
	free((char *)hs->o.unix_socket);
	free((char *)hs->o.user);
	free((char *)hs->o.password);
	free((char *)hs->o.key_prefix);
	free(hs->key);
	free(hs);
}

int ssid_history_new(struct ssid_history **out, const struct ssid_store_opts *opts,
		     int retention_days)
{
	struct ssid_history *hs;

	if (retention_days < 1 || retention_days > SSI_HISTORY_RETENTION_MAX)
		return -EINVAL;
	hs = calloc(1, sizeof(*hs));
	if (!hs)
		return -ENOMEM;
	hs->o = *opts;
	hs->retention_days = retention_days;
	hs->o.host = dup_or_empty(opts->host);
	hs->o.unix_socket = dup_or_empty(opts->unix_socket);
	hs->o.user = dup_or_empty(opts->user);
	hs->o.password = dup_or_empty(opts->password);
	hs->o.key_prefix = dup_or_empty(opts->key_prefix);
	if (hs->o.key_prefix)
		hs->key_cap = strlen(hs->o.key_prefix) + sizeof("u:{}") + SSI_ID_MAX;
	hs->key = hs->key_cap ? malloc(hs->key_cap) : NULL;
	if (!hs->o.host || !hs->o.unix_socket || !hs->o.user || !hs->o.password ||
	    !hs->o.key_prefix || !hs->key) {
		ssid_history_free(hs);
		return -ENOMEM;
	}
	snprintf(hs->err, sizeof(hs->err), "not connected");
	*out = hs;
	return 0;
}

const char *ssid_history_errstr(const struct ssid_history *hs)
{
	return hs->err;
}

static struct timeval ms_to_tv(int ms)
{
	return (struct timeval){.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
}

/* A broken context is useless in hiredis: drop it and reconnect at the next call. */
static int fail(struct ssid_history *hs, const char *what)
{
	if (hs->c) {
		snprintf(hs->err, sizeof(hs->err), "%s: %s", what,
			 hs->c->err ? hs->c->errstr : "unexpected reply");
		redisFree(hs->c);
		hs->c = NULL;
	} else {
		snprintf(hs->err, sizeof(hs->err), "%s", what);
	}
	return -EIO;
}

/* AUTH and SELECT must answer +OK; a refusal is not a transport error. */
static int setup_command(struct ssid_history *hs, const char *what, int argc, const char **argv)
{
	redisReply *r = redisCommandArgv(hs->c, argc, argv, NULL);
	bool ok = r && r->type == REDIS_REPLY_STATUS;

	if (r && r->type == REDIS_REPLY_ERROR)
		snprintf(hs->err, sizeof(hs->err), "%s: %s", what, r->str);
	if (r)
		freeReplyObject(r);
	if (ok)
		return 0;
	if (hs->c->err)
		return fail(hs, what);
	redisFree(hs->c);
	hs->c = NULL;
	return -EACCES;
}

static int history_connect(struct ssid_history *hs)
{
	struct timeval connect_tv = ms_to_tv(hs->o.connect_timeout_ms);
	char db[16];

	if (hs->o.unix_socket[0])
		hs->c = redisConnectUnixWithTimeout(hs->o.unix_socket, connect_tv);
	else
		hs->c = redisConnectWithTimeout(hs->o.host, hs->o.port, connect_tv);
	if (!hs->c) {
		snprintf(hs->err, sizeof(hs->err), "connect: out of memory");
		return -ENOMEM;
	}
	if (hs->c->err)
		return fail(hs, "connect");
	if (redisSetTimeout(hs->c, ms_to_tv(hs->o.command_timeout_ms)) != REDIS_OK)
		return fail(hs, "socket timeout");
	/* Keepalive finds dead peers across networks; a unix socket has none. */
	if (hs->o.keepalive && !hs->o.unix_socket[0] && redisEnableKeepAlive(hs->c) != REDIS_OK)
		return fail(hs, "socket keepalive");
	if (hs->o.password[0]) {
		const char *with_user[] = {"AUTH", hs->o.user, hs->o.password};
		const char *without_user[] = {"AUTH", hs->o.password};
		int r = hs->o.user[0] ? setup_command(hs, "AUTH", 3, with_user)
				      : setup_command(hs, "AUTH", 2, without_user);

		if (r < 0)
			return r;
	}
	if (hs->o.db != 0) {
		const char *select_argv[] = {"SELECT", db};

		snprintf(db, sizeof(db), "%d", hs->o.db);
		return setup_command(hs, "SELECT", 2, select_argv);
	}
	return 0;
}

static int ensure_connected(struct ssid_history *hs)
{
	return hs->c ? 0 : history_connect(hs);
}

int ssid_history_ping(struct ssid_history *hs)
{
	redisReply *r;
	int rc = ensure_connected(hs);

	if (rc < 0)
		return rc;
	r = redisCommand(hs->c, "PING");
	if (!r)
		return fail(hs, "PING");
	rc = r->type == REDIS_REPLY_STATUS ? 0 : -EIO;
	if (rc < 0)
		snprintf(hs->err, sizeof(hs->err), "PING: %s",
			 r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
	freeReplyObject(r);
	return rc;
}

/* The rep's hash, named exactly as ssid_store names it. */
static size_t format_key(struct ssid_history *hs, const char *user_id)
{
	return (size_t)snprintf(hs->key, hs->key_cap, "%su:{%s}", hs->o.key_prefix, user_id);
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
	uint8_t *grown;
	size_t cap = b->arena_cap ? b->arena_cap : 4096;

	if (b->arena_cap - b->arena_len >= more)
		return 0;
	while (cap - b->arena_len < more)
		cap *= 2;
	grown = realloc(b->arena, cap);
	if (!grown)
		return -ENOMEM;
	b->arena = grown;
	b->arena_cap = cap;
	return 0;
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
	b->arena_len += (size_t)len;
	return 0;
}

/* What one HGET reply makes of the rep: its history updated, or left alone when unreadable. */
static int take_history(struct ssid_history *hs, struct batch *b, struct rep *r,
			const redisReply *reply, struct ssi_history *h)
{
	ssi_history_clear(h);
	if (reply->type == REDIS_REPLY_STRING) {
		int ret = ssi_history_decode(h, (const uint8_t *)reply->str, reply->len);

		if (ret == -ENOMEM)
			return ret;
		if (ret < 0) {
			for (size_t k = 0; k < r->count; k++)
				b->items[b->order[r->first + k].item].status = ret;
			return 0;
		}
	} else if (reply->type != REDIS_REPLY_NIL) {
		snprintf(hs->err, sizeof(hs->err), "HGET %s: %s", rep_user(b, r),
			 reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
		return -EIO;
	}
	return rep_update(b, r, h);
}

/*
 * Every reply is read even after an error, so that the connection stays in
 * step with the commands sent and can serve the next batch.
 */
static int read_histories(struct ssid_history *hs, struct batch *b)
{
	struct ssi_history h;
	int rc = 0;

	ssi_history_init(&h);
	ssi_history_set_retention(&h, hs->retention_days);
	for (size_t i = 0; i < b->nreps; i++) {
		redisReply *reply = NULL;

		if (redisGetReply(hs->c, (void **)&reply) != REDIS_OK || !reply) {
			ssi_history_clear(&h);
			return fail(hs, "HGET");
		}
		if (rc == 0)
			rc = take_history(hs, b, &b->reps[i], reply, &h);
		freeReplyObject(reply);
	}
	ssi_history_clear(&h);
	return rc;
}

static int send_reads(struct ssid_history *hs, const struct batch *b)
{
	for (size_t i = 0; i < b->nreps; i++) {
		size_t klen = format_key(hs, rep_user(b, &b->reps[i]));
		const char *argv[] = {"HGET", hs->key, SSID_HISTORY_FIELD};
		size_t argl[] = {4, klen, strlen(SSID_HISTORY_FIELD)};

		if (redisAppendCommandArgv(hs->c, 3, argv, argl) != REDIS_OK)
			return fail(hs, "HGET");
	}
	return 0;
}

static int write_histories(struct ssid_history *hs, const struct batch *b)
{
	size_t sent = 0;
	int rc = 0;

	for (size_t i = 0; i < b->nreps; i++) {
		const struct rep *r = &b->reps[i];
		size_t klen;

		if (!r->write)
			continue;
		klen = format_key(hs, rep_user(b, r));
		/* hiredis copies the arguments into its output buffer right here. */
		if (redisAppendCommandArgv(
			hs->c, 4,
			(const char *[]){"HSET", hs->key, SSID_HISTORY_FIELD,
					 (const char *)b->arena + r->blob_off},
			(size_t[]){4, klen, strlen(SSID_HISTORY_FIELD), r->blob_len}) != REDIS_OK)
			return fail(hs, "HSET");
		sent++;
	}
	for (size_t i = 0; i < sent; i++) {
		redisReply *reply = NULL;

		if (redisGetReply(hs->c, (void **)&reply) != REDIS_OK || !reply)
			return fail(hs, "HSET");
		if (rc == 0 && reply->type != REDIS_REPLY_INTEGER) {
			snprintf(hs->err, sizeof(hs->err), "HSET: %s",
				 reply->type == REDIS_REPLY_ERROR ? reply->str
								  : "unexpected reply");
			rc = -EIO;
		}
		freeReplyObject(reply);
	}
	return rc;
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
	rc = ensure_connected(hs);
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
	rc = ensure_connected(hs);
	if (rc < 0)
		return rc;
	klen = format_key(hs, user_id);
	reply = redisCommandArgv(hs->c, 3, (const char *[]){"HGET", hs->key, SSID_HISTORY_FIELD},
				 (size_t[]){4, klen, strlen(SSID_HISTORY_FIELD)});
	if (!reply)
		return fail(hs, "HGET");
	if (reply->type == REDIS_REPLY_STRING) {
		rc = ssi_history_decode(out, (const uint8_t *)reply->str, reply->len);
		if (rc == 0)
			rc = 1;
	} else if (reply->type != REDIS_REPLY_NIL) {
		snprintf(hs->err, sizeof(hs->err), "HGET: %s",
			 reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
		rc = -EIO;
	}
	freeReplyObject(reply);
	return rc;
}
