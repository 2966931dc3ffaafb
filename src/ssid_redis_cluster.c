/* ssid_redis_cluster: ssid_redis over a Redis Cluster; see ssid_redis_cluster.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "ssid_cluster.h"
#include "ssid_redis.h"
#include "ssid_redis_cluster.h"

/* The longest pause between two tries of a slot mid-failover or mid-migration. */
#define BACKOFF_MAX_MS 200

struct rcl_cmd {
	char *fmt; /* the command as hiredis formats it (redisFreeCommand) */
	size_t len;
	int slot;  /* its key's, or for a MULTI its block's; -1: any node */
	int group; /* index of the MULTI of its block, -1 outside one */
	int ask;   /* node to send it to once, after ASKING; -1 */
	int node;  /* where it went this round */
	bool asking;
	bool done;
	bool write; /* not a command known to only read */
	redisReply *reply;
};

struct ssid_rcl {
	const struct ssid_redis_opts *o; /* the parent's, which outlives this */
	struct ssid_cluster_map map;	 /* seeds first, then what the cluster named */
	bool map_ok;
	struct ssid_redis **conn; /* per map node, NULL until used */
	size_t nconn;
	bool *used;  /* per map node, this round */
	bool *wrote; /* per map node, since the last WAIT */
	struct rcl_cmd *q;
	size_t nq, cap, next;
	int open_group;
	size_t last_answered; /* the node the last map came from: asked first */
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int ssid_rcl_new(struct ssid_rcl **out, const struct ssid_redis_opts *opts)
{
	struct ssid_rcl *cl = calloc(1, sizeof(*cl));
	char seed[SSID_CLUSTER_HOST_MAX + 16];
	int rc;

	if (!cl)
		return -ENOMEM;
	cl->o = opts;
	cl->open_group = -1;
	ssid_cluster_map_init(&cl->map);
	if (opts->nodes && opts->nodes[0]) {
		rc = ssid_cluster_seeds_parse(&cl->map, opts->nodes, NULL, 0);
	} else {
		snprintf(seed, sizeof(seed), "%s:%d", opts->host ? opts->host : "", opts->port);
		rc = ssid_cluster_seeds_parse(&cl->map, seed, NULL, 0);
	}
	if (rc < 0) {
		ssid_rcl_free(cl);
		return rc;
	}
	*out = cl;
	return 0;
}

static void queue_clear(struct ssid_rcl *cl)
{
	for (size_t i = 0; i < cl->nq; i++) {
		redisFreeCommand(cl->q[i].fmt);
		if (cl->q[i].reply)
			freeReplyObject(cl->q[i].reply);
	}
	cl->nq = cl->next = 0;
	cl->open_group = -1;
}

void ssid_rcl_drop(struct ssid_rcl *cl)
{
	queue_clear(cl);
	for (size_t i = 0; i < cl->nconn; i++)
		if (cl->conn[i] && ssid_redis_connected(cl->conn[i]))
			ssid_redis_fail(cl->conn[i], -EIO, "dropped");
	cl->map_ok = false;
}

void ssid_rcl_free(struct ssid_rcl *cl)
{
	if (!cl)
		return;
	queue_clear(cl);
	for (size_t i = 0; i < cl->nconn; i++)
		ssid_redis_free(cl->conn[i]);
	free(cl->conn);
	free(cl->used);
	free(cl->wrote);
	free(cl->q);
	ssid_cluster_map_clear(&cl->map);
	free(cl);
}

bool ssid_rcl_connected(const struct ssid_rcl *cl)
{
	return cl->map_ok;
}

/* Room for a connection per map node. */
static int conn_reserve(struct ssid_rcl *cl)
{
	if (cl->nconn < cl->map.n) {
		struct ssid_redis **c = realloc(cl->conn, cl->map.n * sizeof(*c));
		bool *u;

		if (!c)
			return -ENOMEM;
		cl->conn = c;
		u = realloc(cl->used, cl->map.n * sizeof(*u));
		if (!u)
			return -ENOMEM;
		cl->used = u;
		u = realloc(cl->wrote, cl->map.n * sizeof(*u));
		if (!u)
			return -ENOMEM;
		cl->wrote = u;
		for (size_t i = cl->nconn; i < cl->map.n; i++) {
			cl->conn[i] = NULL;
			cl->used[i] = cl->wrote[i] = false;
		}
		cl->nconn = cl->map.n;
	}
	return 0;
}

/* Node i's live context, connected now if need be; NULL with rd's error set. */
static redisContext *node_ctx(struct ssid_rcl *cl, struct ssid_redis *rd, size_t i)
{
	const struct ssid_cluster_node *n = &cl->map.nodes[i];

	if (conn_reserve(cl) < 0) {
		ssid_redis_set_error(rd, "out of memory");
		return NULL;
	}
	if (!cl->conn[i]) {
		struct ssid_redis_opts o = *cl->o;

		o.host = n->host;
		o.port = n->port;
		o.unix_socket = "";
		o.db = 0;
		o.cluster = false;
		o.nodes = "";
		o.counters = NULL; /* the parent counts what goes through it */
		if (ssid_redis_new(&cl->conn[i], &o) < 0) {
			ssid_redis_set_error(rd, "out of memory");
			return NULL;
		}
	}
	if (ssid_redis_connect(cl->conn[i]) < 0) {
		ssid_redis_set_error(rd, "%s:%d: %s", n->host, n->port,
				     ssid_redis_errstr(cl->conn[i]));
		return NULL;
	}
	return ssid_redis_context(cl->conn[i]);
}

/* The slot map from node i: CLUSTER SHARDS, else CLUSTER SLOTS. 0 or -EIO with rd's error. */
static int map_from(struct ssid_rcl *cl, struct ssid_redis *rd, size_t i)
{
	redisContext *c = node_ctx(cl, rd, i);
	char host[SSID_CLUSTER_HOST_MAX];
	redisReply *reply;
	int port = cl->map.nodes[i].port, rc;

	if (!c)
		return -EIO;
	snprintf(host, sizeof(host), "%s", cl->map.nodes[i].host);
	ssid_redis_count(rd, 1, 1);
	reply = redisCommand(c, "CLUSTER SHARDS");
	if (reply && reply->type == REDIS_REPLY_ERROR) {
		freeReplyObject(reply);
		ssid_redis_count(rd, 1, 1);
		reply = redisCommand(c, "CLUSTER SLOTS");
		rc = reply ? ssid_cluster_map_from_slots(&cl->map, reply, host) : -EIO;
	} else {
		rc = reply ? ssid_cluster_map_from_shards(&cl->map, reply, host) : -EIO;
	}
	if (!reply) {
		ssid_redis_set_error(rd, "%s:%d: cluster map: %s", host, port,
				     c->errstr[0] ? c->errstr : "no reply");
		ssid_redis_fail(cl->conn[i], -EIO, "cluster map");
		return -EIO;
	}
	if (rc == 0 && ssid_cluster_map_covered(&cl->map) == 0)
		rc = -ENOENT;
	if (rc < 0)
		ssid_redis_set_error(rd, "%s:%d: cluster map: %s", host, port,
				     reply->type == REDIS_REPLY_ERROR ? reply->str
				     : rc == -ENOENT		      ? "no slot is served"
								      : "malformed reply");
	freeReplyObject(reply);
	return rc == -ENOMEM ? rc : rc < 0 ? -EIO : 0;
}

/* Ask the nodes in turn, the one that answered last first; the first one's error if none answers.
 */
static int map_load(struct ssid_rcl *cl, struct ssid_redis *rd)
{
	size_t n = cl->map.n;
	char first[256] = "";
	int rc = -EIO;

	for (size_t k = 0; k < n; k++) {
		size_t i = (cl->last_answered + k) % n;

		rc = map_from(cl, rd, i);
		if (rc == 0) {
			cl->map_ok = true;
			cl->last_answered = i;
			return 0;
		}
		if (rc == -ENOMEM)
			return rc;
		if (k == 0)
			snprintf(first, sizeof(first), "%s", ssid_redis_errstr(rd));
	}
	if (n > 1)
		ssid_redis_set_error(rd, "%s (and %zu more nodes)", first, n - 1);
	return rc;
}

int ssid_rcl_connect(struct ssid_rcl *cl, struct ssid_redis *rd)
{
	return cl->map_ok ? 0 : map_load(cl, rd);
}

int ssid_rcl_ping(struct ssid_rcl *cl, struct ssid_redis *rd)
{
	int rc = ssid_rcl_connect(cl, rd);
	size_t n = cl->map.n;
	bool *master;

	if (rc < 0)
		return rc;
	master = calloc(n, sizeof(*master));
	if (!master)
		return -ENOMEM;
	for (int s = 0; s < SSID_CLUSTER_SLOTS; s++)
		if (cl->map.slot[s] >= 0)
			master[cl->map.slot[s]] = true;
	for (size_t i = 0; i < n && rc == 0; i++) {
		redisContext *c;
		redisReply *reply;

		if (!master[i])
			continue;
		c = node_ctx(cl, rd, i);
		if (c)
			ssid_redis_count(rd, 1, 1);
		reply = c ? redisCommand(c, "PING") : NULL;
		if (!reply || reply->type != REDIS_REPLY_STATUS) {
			if (c)
				ssid_redis_set_error(rd, "%s:%d: PING: %s", cl->map.nodes[i].host,
						     cl->map.nodes[i].port,
						     reply && reply->type == REDIS_REPLY_ERROR
							 ? reply->str
							 : "no answer");
			rc = -EIO;
		}
		if (reply)
			freeReplyObject(reply);
	}
	free(master);
	if (rc < 0)
		ssid_rcl_drop(cl);
	return rc;
}

/* ---- the queue ----------------------------------------------------------- */

/* Argument k of a command hiredis formatted ("*N\r\n$L\r\n<arg>\r\n..."); false past the end. */
static bool formatted_arg(const char *cmd, size_t len, int k, const char **arg, size_t *alen)
{
	const char *p = cmd, *end = cmd + len;
	long argc;
	char *next;

	if (len < 4 || *p != '*')
		return false;
	argc = strtol(p + 1, &next, 10);
	if (k >= argc || next + 2 > end)
		return false;
	p = next + 2;
	for (int i = 0; i <= k; i++) {
		long n;

		if (p >= end || *p != '$')
			return false;
		n = strtol(p + 1, &next, 10);
		if (n < 0 || next + 2 + n + 2 > end)
			return false;
		*arg = next + 2;
		*alen = (size_t)n;
		p = next + 2 + n + 2;
	}
	return true;
}

static bool is_word(const char *s, size_t len, const char *word)
{
	return len == strlen(word) && strncasecmp(s, word, len) == 0;
}

/* The commands ssid and ssictl send that write nothing (any other is taken for a write). */
static bool is_read(const char *name, size_t len)
{
	static const char *const reads[] = {
	    "GET",   "HGET",	 "HMGET",     "HGETALL", "HSCAN",  "HLEN",  "HEXISTS", "SSCAN",
	    "SCARD", "SMEMBERS", "SISMEMBER", "EXISTS",	 "ZRANGE", "ZSCAN", "ZSCORE",  "ZCARD",
	    "PING",  "WAIT",	 "TYPE",      "TTL",	 "PTTL",   "KEYS",  "SCAN",    NULL,
	};

	for (const char *const *r = reads; *r; r++)
		if (is_word(name, len, *r))
			return true;
	return false;
}

/* Queue cmd (taken over: freed here on failure). */
static int push(struct ssid_rcl *cl, struct ssid_redis *rd, char *cmd, size_t len, const char *key,
		size_t keylen)
{
	const char *name = "";
	size_t nlen = 0;
	struct rcl_cmd *c;
	int slot = key ? ssid_cluster_keyslot(key, keylen) : -1;

	if (cl->nq == cl->cap) {
		size_t cap = cl->cap ? 2 * cl->cap : 64;
		struct rcl_cmd *q = realloc(cl->q, cap * sizeof(*q));

		if (!q) {
			redisFreeCommand(cmd);
			return ssid_redis_fail(rd, -ENOMEM, "out of memory");
		}
		cl->q = q;
		cl->cap = cap;
	}
	formatted_arg(cmd, len, 0, &name, &nlen);
	c = &cl->q[cl->nq];
	*c = (struct rcl_cmd){.fmt = cmd,
			      .len = len,
			      .slot = slot,
			      .group = cl->open_group,
			      .ask = -1,
			      .node = -1,
			      .write = !is_read(name, nlen)};
	cl->nq++;
	if (c->group >= 0 && slot >= 0) {
		struct rcl_cmd *lead = &cl->q[c->group];

		if (lead->slot < 0)
			lead->slot = slot;
		else if (lead->slot != slot)
			return ssid_redis_fail(rd, -EINVAL, "MULTI: keys in slots %d and %d",
					       lead->slot, slot);
	}
	if (is_word(name, nlen, "MULTI"))
		cl->open_group = c->group = (int)(cl->nq - 1);
	else if (is_word(name, nlen, "EXEC") || is_word(name, nlen, "DISCARD"))
		cl->open_group = -1;
	return 0;
}

int ssid_rcl_append(struct ssid_rcl *cl, struct ssid_redis *rd, const char *key, size_t keylen,
		    int argc, const char **argv, const size_t *argl)
{
	char *cmd = NULL;
	int len = redisFormatCommandArgv(&cmd, argc, argv, argl);

	if (len < 0)
		return ssid_redis_fail(rd, -ENOMEM, "%s: cannot queue", argc > 0 ? argv[0] : "");
	return push(cl, rd, cmd, (size_t)len, key, keylen);
}

int ssid_rcl_append_formatted(struct ssid_rcl *cl, struct ssid_redis *rd, const char *cmd,
			      size_t len)
{
	const char *key = NULL;
	size_t keylen = 0;
	char *copy = malloc(len);

	if (!copy)
		return ssid_redis_fail(rd, -ENOMEM, "out of memory");
	memcpy(copy, cmd, len);
	if (!formatted_arg(cmd, len, 1, &key, &keylen))
		key = NULL;
	else
		key = copy + (key - cmd);
	return push(cl, rd, copy, len, key, keylen);
}

/* ---- sending and redirections -------------------------------------------- */

static struct rcl_cmd *lead_of(struct ssid_rcl *cl, struct rcl_cmd *c)
{
	return c->group >= 0 ? &cl->q[c->group] : c;
}

/* Where q[i] goes this round: the ASK target, else its slot's master (slot 0's for any). */
static int target(struct ssid_rcl *cl, size_t i)
{
	const struct rcl_cmd *lead = lead_of(cl, &cl->q[i]);

	if (lead->ask >= 0)
		return lead->ask;
	return cl->map.slot[lead->slot >= 0 ? lead->slot : 0];
}

/*
 * Every pending command has a master: the map is read again once if not,
 * and first of all when a failure dropped it.
 */
static int targets_known(struct ssid_rcl *cl, struct ssid_redis *rd)
{
	if (!cl->map_ok && map_load(cl, rd) < 0)
		return -EIO;
	for (int pass = 0; pass < 2; pass++) {
		size_t i;

		for (i = cl->next; i < cl->nq; i++)
			if (!cl->q[i].done && target(cl, i) < 0)
				break;
		if (i == cl->nq)
			return 0;
		if (pass == 0 && map_load(cl, rd) < 0)
			return -EIO;
		if (pass == 1)
			ssid_redis_set_error(rd, "cluster: no master serves slot %d",
					     lead_of(cl, &cl->q[i])->slot);
	}
	return -EIO;
}

/*
 * Send every pending command to its node, every pipeline written before any
 * is read; counted as one round trip per node.
 */
static int send_round(struct ssid_rcl *cl, struct ssid_redis *rd)
{
	unsigned commands = 0, nodes = 0;

	for (size_t i = 0; i < cl->nconn; i++)
		cl->used[i] = false;
	for (size_t i = cl->next; i < cl->nq; i++) {
		struct rcl_cmd *c = &cl->q[i];
		redisContext *ctx;

		if (c->done)
			continue;
		c->node = target(cl, i);
		ctx = node_ctx(cl, rd, (size_t)c->node);
		if (!ctx)
			return -EIO;
		/* An ASK goes before the command, or before the MULTI of its block. */
		c->asking = lead_of(cl, c) == c && c->ask >= 0;
		if (c->asking && redisAppendCommand(ctx, "ASKING") != REDIS_OK)
			return -ENOMEM;
		if (redisAppendFormattedCommand(ctx, c->fmt, c->len) != REDIS_OK)
			return -ENOMEM;
		commands += 1 + c->asking;
		nodes += !cl->used[c->node];
		cl->used[c->node] = true;
	}
	ssid_redis_count(rd, commands, nodes);
	for (size_t i = 0; i < cl->nconn; i++) {
		int done = 0;

		while (cl->used[i] && !done)
			if (redisBufferWrite(ssid_redis_context(cl->conn[i]), &done) != REDIS_OK) {
				ssid_redis_set_error(rd, "%s:%d: write: %s", cl->map.nodes[i].host,
						     cl->map.nodes[i].port,
						     ssid_redis_context(cl->conn[i])->errstr);
				return -EIO;
			}
	}
	return 0;
}

static int read_round(struct ssid_rcl *cl, struct ssid_redis *rd)
{
	for (size_t i = cl->next; i < cl->nq; i++) {
		struct rcl_cmd *c = &cl->q[i];
		redisContext *ctx;
		void *reply = NULL;

		if (c->done)
			continue;
		ctx = ssid_redis_context(cl->conn[c->node]);
		if (c->asking) {
			if (redisGetReply(ctx, &reply) != REDIS_OK || !reply)
				goto fail;
			freeReplyObject(reply);
			reply = NULL;
		}
		if (redisGetReply(ctx, &reply) != REDIS_OK || !reply)
			goto fail;
		if (c->reply)
			freeReplyObject(c->reply);
		c->reply = reply;
		continue;
	fail:
		ssid_redis_set_error(rd, "%s:%d: read: %s", cl->map.nodes[c->node].host,
				     cl->map.nodes[c->node].port, ctx->errstr);
		return -EIO;
	}
	return 0;
}

/* The first redirection among the replies of q[i] (its block's for a MULTI). */
static int redirect_of(struct ssid_rcl *cl, size_t i, struct ssid_cluster_redirect *rdr)
{
	size_t end = i + 1;

	if (cl->q[i].group == (int)i)
		while (end < cl->nq && cl->q[end].group == (int)i)
			end++;
	for (size_t j = i; j < end; j++) {
		const redisReply *r = cl->q[j].reply;

		if (r->type == REDIS_REPLY_ERROR &&
		    ssid_cluster_redirect_parse(r->str, r->len, rdr) > 0)
			return (int)end;
	}
	rdr->kind = SSID_CLUSTER_NOT_REDIRECT;
	return (int)end;
}

/*
 * Classify the replies of the round: settled commands are done, redirected
 * ones (whole blocks) wait for the next round. How many wait; *pause and
 * *reload say whether to back off and read the map again first.
 */
static size_t settle_round(struct ssid_rcl *cl, bool *pause, bool *reload)
{
	size_t again = 0;

	for (size_t i = cl->next; i < cl->nq;) {
		struct rcl_cmd *c = &cl->q[i];
		struct ssid_cluster_redirect rdr;
		char asked[SSID_CLUSTER_HOST_MAX];
		size_t end;

		if (c->done || (c->group >= 0 && c->group != (int)i)) {
			i++;
			continue;
		}
		end = (size_t)redirect_of(cl, i, &rdr);
		/* A copy: the node table may grow (and move) below. */
		snprintf(asked, sizeof(asked), "%s", cl->map.nodes[c->node].host);
		c->ask = -1;
		switch (rdr.kind) {
		case SSID_CLUSTER_MOVED:
			if (ssid_cluster_map_moved(&cl->map, &rdr, asked) < 0)
				*reload = true;
			break;
		case SSID_CLUSTER_ASK: {
			const char *host = rdr.host[0] ? rdr.host : asked;
			int n = ssid_cluster_map_node(&cl->map, host, strlen(host), rdr.port);

			c->ask = n;
			*reload |= n < 0;
			break;
		}
		case SSID_CLUSTER_CLUSTERDOWN:
			*reload = true;
			*pause = true;
			break;
		case SSID_CLUSTER_TRYAGAIN:
			*pause = true;
			break;
		default:
			for (size_t j = i; j < end; j++) {
				cl->q[j].done = true;
				cl->wrote[cl->q[j].node] |= cl->q[j].write;
			}
			break;
		}
		if (rdr.kind != SSID_CLUSTER_NOT_REDIRECT)
			again += end - i;
		i = end;
	}
	return again;
}

/*
 * WAIT wait_replicas on every node written since the last WAIT, all sent
 * before any is read, for half the command timeout (the other half is the
 * answer's way back before the socket gives up): 0, or -EIO when a node's
 * replicas did not all confirm.
 */
static int wait_replicas(struct ssid_rcl *cl, struct ssid_redis *rd)
{
	int wait_ms = cl->o->command_timeout_ms > 1 ? cl->o->command_timeout_ms / 2 : 1;
	char n[16], ms[16];
	int rc = 0;

	snprintf(n, sizeof(n), "%d", cl->o->wait_replicas);
	snprintf(ms, sizeof(ms), "%d", wait_ms);
	for (size_t i = 0; i < cl->nconn; i++) {
		redisContext *c;

		cl->used[i] = cl->wrote[i];
		if (!cl->wrote[i])
			continue;
		c = node_ctx(cl, rd, i);
		if (!c)
			return -EIO;
		if (redisAppendCommand(c, "WAIT %s %s", n, ms) != REDIS_OK)
			return -ENOMEM;
		ssid_redis_count(rd, 1, 1);
	}
	for (size_t i = 0; i < cl->nconn; i++) {
		redisReply *reply = NULL;

		if (!cl->used[i])
			continue;
		cl->wrote[i] = false;
		if (redisGetReply(ssid_redis_context(cl->conn[i]), (void **)&reply) != REDIS_OK ||
		    !reply) {
			ssid_redis_set_error(rd, "%s:%d: WAIT: %s", cl->map.nodes[i].host,
					     cl->map.nodes[i].port,
					     ssid_redis_context(cl->conn[i])->errstr);
			return -EIO;
		}
		if (rc == 0 &&
		    (reply->type != REDIS_REPLY_INTEGER || reply->integer < cl->o->wait_replicas)) {
			if (reply->type == REDIS_REPLY_INTEGER)
				ssid_redis_set_error(rd,
						     "%s:%d: WAIT: %lld of %d replicas confirmed "
						     "within %d ms",
						     cl->map.nodes[i].host, cl->map.nodes[i].port,
						     reply->integer, cl->o->wait_replicas, wait_ms);
			else
				ssid_redis_set_error(rd, "%s:%d: WAIT: %s", cl->map.nodes[i].host,
						     cl->map.nodes[i].port,
						     reply->type == REDIS_REPLY_ERROR
							 ? reply->str
							 : "unexpected reply");
			rc = -EIO;
		}
		freeReplyObject(reply);
	}
	return rc;
}

/* Send what is pending until every reply is settled (or the command timeout passes). */
static int resolve(struct ssid_rcl *cl, struct ssid_redis *rd, const char *what)
{
	int64_t deadline = now_ms() + cl->o->command_timeout_ms;
	int backoff = 0, rc;

	for (int round = 0;; round++) {
		/* Redirected more than twice in a row: the cluster is moving, do not spin. */
		bool pause = round >= 2, reload = false;

		rc = targets_known(cl, rd);
		if (rc == 0)
			rc = send_round(cl, rd);
		if (rc == 0)
			rc = read_round(cl, rd);
		if (rc < 0)
			return ssid_redis_fail(rd, rc, "%s: %s", what, ssid_redis_errstr(rd));
		if (settle_round(cl, &pause, &reload) == 0) {
			rc = cl->o->wait_replicas > 0 ? wait_replicas(cl, rd) : 0;
			return rc < 0
				   ? ssid_redis_fail(rd, rc, "%s: %s", what, ssid_redis_errstr(rd))
				   : 0;
		}
		if (now_ms() >= deadline) {
			/* Hand back the redirections as they are: the caller's errors. */
			for (size_t i = cl->next; i < cl->nq; i++)
				cl->q[i].done = true;
			return 0;
		}
		if (pause) {
			backoff = backoff ? backoff * 2 : 5;
			if (backoff > BACKOFF_MAX_MS)
				backoff = BACKOFF_MAX_MS;
			sleep_ms(backoff);
		}
		if (reload && map_load(cl, rd) == -ENOMEM)
			return ssid_redis_fail(rd, -ENOMEM, "%s: out of memory", what);
	}
}

int ssid_rcl_next_reply(struct ssid_rcl *cl, struct ssid_redis *rd, redisReply **out,
			const char *what)
{
	struct rcl_cmd *c;

	if (cl->next >= cl->nq)
		return ssid_redis_fail(rd, -EIO, "%s: no reply pending", what);
	c = &cl->q[cl->next];
	if (!c->done) {
		int rc = resolve(cl, rd, what);

		if (rc < 0)
			return -EIO;
	}
	*out = c->reply;
	c->reply = NULL;
	if (++cl->next == cl->nq)
		queue_clear(cl);
	return 0;
}
