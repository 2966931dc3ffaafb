/* ssid_redis: the daemon's Redis connection over hiredis 0.14; see ssid_redis.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "ssi_text.h"
#include "ssid_redis.h"
#include "ssid_redis_cluster.h"

struct ssid_redis {
	struct ssid_redis_opts o; /* strings owned */
	redisContext *c;
	char err[512];
	struct ssid_rcl *cl; /* a cluster's nodes, NULL for one server */
	bool written;	     /* queued commands were written ahead of their replies */
	char *fmt;	     /* one command in the protocol, formatted here (scratch) */
	size_t fmtcap;
};

/* Copies are never NULL, so that the rest of the module needs no NULL checks. */
static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

void ssid_redis_free(struct ssid_redis *rd)
{
	if (!rd)
		return;
	if (rd->c)
		redisFree(rd->c);
	free(rd->fmt);
	ssid_rcl_free(rd->cl);
	free((char *)rd->o.nodes);
	free((char *)rd->o.host);
	free((char *)rd->o.unix_socket);
	free((char *)rd->o.user);
	free((char *)rd->o.password);
	free((char *)rd->o.key_prefix);
	free(rd);
}

int ssid_redis_new(struct ssid_redis **out, const struct ssid_redis_opts *opts)
{
	struct ssid_redis *rd = calloc(1, sizeof(*rd));

	if (!rd)
		return -ENOMEM;
	rd->o = *opts;
	rd->o.host = dup_or_empty(opts->host);
	rd->o.unix_socket = dup_or_empty(opts->unix_socket);
	rd->o.user = dup_or_empty(opts->user);
	rd->o.password = dup_or_empty(opts->password);
	rd->o.key_prefix = dup_or_empty(opts->key_prefix);
	rd->o.nodes = dup_or_empty(opts->nodes);
	if (!rd->o.host || !rd->o.unix_socket || !rd->o.user || !rd->o.password ||
	    !rd->o.key_prefix || !rd->o.nodes) {
		ssid_redis_free(rd);
		return -ENOMEM;
	}
	if (rd->o.cluster) {
		int rc = ssid_rcl_new(&rd->cl, &rd->o);

		if (rc < 0) {
			ssid_redis_free(rd);
			return rc;
		}
	}
	snprintf(rd->err, sizeof(rd->err), "not connected");
	*out = rd;
	return 0;
}

bool ssid_redis_connected(const struct ssid_redis *rd)
{
	if (rd->cl)
		return ssid_rcl_connected(rd->cl);
	return rd->c != NULL;
}

bool ssid_redis_is_cluster(const struct ssid_redis *rd)
{
	return rd->cl != NULL;
}

struct redisContext *ssid_redis_context(struct ssid_redis *rd)
{
	return rd->c;
}

const char *ssid_redis_key_prefix(const struct ssid_redis *rd)
{
	return rd->o.key_prefix;
}

const char *ssid_redis_errstr(const struct ssid_redis *rd)
{
	return rd->err;
}

void ssid_redis_count(struct ssid_redis *rd, unsigned commands, unsigned round_trips)
{
	if (!rd->o.counters)
		return;
	atomic_fetch_add_explicit(&rd->o.counters->commands, commands, memory_order_relaxed);
	atomic_fetch_add_explicit(&rd->o.counters->round_trips, round_trips, memory_order_relaxed);
}

static void count_error(struct ssid_redis *rd)
{
	if (rd->o.counters)
		atomic_fetch_add_explicit(&rd->o.counters->errors, 1, memory_order_relaxed);
}

void ssid_redis_set_error(struct ssid_redis *rd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rd->err, sizeof(rd->err), fmt, ap);
	va_end(ap);
	count_error(rd);
}

/*
 * A hiredis context that failed mid-pipeline holds unread replies (and maybe
 * an open MULTI): drop it so that the next call starts from a clean
 * connection. The message is formatted first because it may quote err itself,
 * short enough that ": <hiredis error>" still fits.
 */
int ssid_redis_fail(struct ssid_redis *rd, int rc, const char *fmt, ...)
{
	char what[sizeof(rd->err) - sizeof(rd->c->errstr) - 2];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	count_error(rd);
	if (rd->c && rd->c->err)
		snprintf(rd->err, sizeof(rd->err), "%s: %s", what, rd->c->errstr);
	else
		snprintf(rd->err, sizeof(rd->err), "%s", what);
	if (rd->c) {
		redisFree(rd->c);
		rd->c = NULL;
	}
	rd->written = false;
	if (rd->cl)
		ssid_rcl_drop(rd->cl);
	return rc;
}

static struct timeval ms_to_tv(int ms)
{
	return (struct timeval){.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
}

/* AUTH and SELECT must answer +OK before the connection is any use; a refusal is -EACCES. */
static int setup_command(struct ssid_redis *rd, const char *what, int argc, const char **argv)
{
	redisReply *reply = redisCommandArgv(rd->c, argc, argv, NULL);
	int rc = 0;

	ssid_redis_count(rd, 1, 1);
	if (!reply)
		return ssid_redis_fail(rd, -EIO, "%s", what);
	if (reply->type == REDIS_REPLY_ERROR)
		rc = ssid_redis_fail(rd, -EACCES, "%s: %s", what, reply->str);
	else if (reply->type != REDIS_REPLY_STATUS)
		rc = ssid_redis_fail(rd, -EIO, "%s: unexpected reply", what);
	freeReplyObject(reply);
	return rc;
}

int ssid_redis_connect(struct ssid_redis *rd)
{
	struct timeval connect_tv = ms_to_tv(rd->o.connect_timeout_ms);
	char db[16];
	int rc;

	if (rd->cl)
		return ssid_rcl_connect(rd->cl, rd);
	if (rd->c)
		return 0;
	if (rd->o.unix_socket[0])
		rd->c = redisConnectUnixWithTimeout(rd->o.unix_socket, connect_tv);
	else
		rd->c = redisConnectWithTimeout(rd->o.host, rd->o.port, connect_tv);
	if (!rd->c) {
		snprintf(rd->err, sizeof(rd->err), "connect: out of memory");
		return -ENOMEM;
	}
	if (rd->c->err)
		return ssid_redis_fail(rd, -EIO, "connect");
	if (redisSetTimeout(rd->c, ms_to_tv(rd->o.command_timeout_ms)) != REDIS_OK)
		return ssid_redis_fail(rd, -EIO, "socket timeout");
	/* Keepalive notices a peer gone silent across a network; a unix socket has none. */
	if (rd->o.keepalive && !rd->o.unix_socket[0] && redisEnableKeepAlive(rd->c) != REDIS_OK)
		return ssid_redis_fail(rd, -EIO, "socket keepalive");
	if (rd->o.password[0]) {
		const char *with_user[3] = {"AUTH", rd->o.user, rd->o.password};
		const char *without_user[2] = {"AUTH", rd->o.password};

		rc = rd->o.user[0] ? setup_command(rd, "AUTH", 3, with_user)
				   : setup_command(rd, "AUTH", 2, without_user);
		if (rc < 0)
			return rc;
	}
	if (rd->o.db != 0) {
		const char *select_argv[2] = {"SELECT", db};

		snprintf(db, sizeof(db), "%d", rd->o.db);
		rc = setup_command(rd, "SELECT", 2, select_argv);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int ssid_redis_ping(struct ssid_redis *rd)
{
	redisReply *reply;
	int rc;

	if (rd->cl)
		return ssid_rcl_ping(rd->cl, rd);
	rc = ssid_redis_connect(rd);
	if (rc < 0)
		return rc;
	reply = redisCommand(rd->c, "PING");
	ssid_redis_count(rd, 1, 1);
	if (!reply)
		return ssid_redis_fail(rd, -EIO, "PING");
	rc = reply->type == REDIS_REPLY_STATUS ? 0 : -EIO;
	if (rc < 0) {
		count_error(rd);
		snprintf(rd->err, sizeof(rd->err), "PING: %s",
			 reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
	}
	freeReplyObject(reply);
	return rc;
}

int ssid_redis_next_reply(struct ssid_redis *rd, struct redisReply **out, const char *what)
{
	void *reply = NULL;

	if (rd->cl)
		return ssid_rcl_next_reply(rd->cl, rd, out, what);
	/* Queued commands not yet waited for: this read flushes them, one round trip. */
	if (rd->c)
		ssid_redis_count(rd, 1, (rd->c->obuf && rd->c->obuf[0]) || rd->written ? 1 : 0);
	rd->written = false;
	if (!rd->c || redisGetReply(rd->c, &reply) != REDIS_OK || !reply)
		return ssid_redis_fail(rd, -EIO, "%s", what);
	*out = reply;
	return 0;
}

int ssid_redis_read_replies(struct ssid_redis *rd, size_t n, const char *what,
			    ssid_redis_take_fn *take, void *ctx)
{
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		redisReply *reply = NULL;

		if (ssid_redis_next_reply(rd, &reply, what) < 0)
			return -EIO;
		rc = take(ctx, i, reply, rc);
		freeReplyObject(reply);
	}
	return rc;
}

/* "<c><n>\r\n" at p; returns the end. */
static char *put_count(char *p, char c, size_t n)
{
	*p++ = c;
	p += ssi_text_ll((long long)n, p);
	*p++ = '\r';
	*p++ = '\n';
	return p;
}

/* Argument i's length: argl NULL means NUL-terminated arguments, as for hiredis. */
static size_t arg_len(const char **argv, const size_t *argl, int i)
{
	return argl ? argl[i] : strlen(argv[i]);
}

/*
 * The command in the protocol, in rd->fmt (reused: hiredis would build each
 * in a new string, a field at a time); its length, or 0 out of memory.
 */
static size_t format_command(struct ssid_redis *rd, int argc, const char **argv, const size_t *argl)
{
	/* Per count: a type byte, up to 20 digits, CR LF. */
	size_t need = 1 + SSI_TEXT_LL_MAX + 2;
	char *p;

	for (int i = 0; i < argc; i++)
		need += 1 + SSI_TEXT_LL_MAX + 2 + arg_len(argv, argl, i) + 2;
	if (need > rd->fmtcap) {
		char *b = realloc(rd->fmt, need);

		if (!b)
			return 0;
		rd->fmt = b;
		rd->fmtcap = need;
	}
	p = put_count(rd->fmt, '*', (size_t)argc);
	for (int i = 0; i < argc; i++) {
		size_t n = arg_len(argv, argl, i);

		p = put_count(p, '$', n);
		memcpy(p, argv[i], n);
		p += n;
		*p++ = '\r';
		*p++ = '\n';
	}
	return (size_t)(p - rd->fmt);
}

int ssid_redis_append(struct ssid_redis *rd, const char *key, size_t keylen, int argc,
		      const char **argv, const size_t *argl)
{
	size_t len;

	if (rd->cl)
		return ssid_rcl_append(rd->cl, rd, key, keylen, argc, argv, argl);
	if (!rd->c)
		return ssid_redis_fail(rd, -EIO, "%s: not connected", argc > 0 ? argv[0] : "");
	len = format_command(rd, argc, argv, argl);
	if (len == 0)
		return ssid_redis_fail(rd, -ENOMEM, "%s: out of memory", argc > 0 ? argv[0] : "");
	if (redisAppendFormattedCommand(rd->c, rd->fmt, len) != REDIS_OK)
		return ssid_redis_fail(rd, -EIO, "%s: cannot queue", argc > 0 ? argv[0] : "");
	return 0;
}

int ssid_redis_flush(struct ssid_redis *rd)
{
	int done = 0;

	if (rd->cl || !rd->c || !rd->c->obuf || !rd->c->obuf[0])
		return 0;
	/* A blocking socket: returns once the kernel took the bytes, not when Redis answered. */
	if (redisBufferWrite(rd->c, &done) != REDIS_OK)
		return ssid_redis_fail(rd, -EIO, "write");
	rd->written = true;
	return 0;
}

struct redisReply *ssid_redis_vcommand(struct ssid_redis *rd, const char *fmt, va_list ap)
{
	redisReply *reply = NULL;
	char *cmd = NULL;
	int len;

	if (!rd->cl) {
		if (ssid_redis_connect(rd) < 0)
			return NULL;
		ssid_redis_count(rd, 1, 1);
		reply = redisvCommand(rd->c, fmt, ap);
		if (!reply)
			ssid_redis_fail(rd, -EIO, "command");
		return reply;
	}
	len = redisvFormatCommand(&cmd, fmt, ap);
	if (len < 0) {
		ssid_redis_fail(rd, -ENOMEM, "command: out of memory");
		return NULL;
	}
	if (ssid_rcl_append_formatted(rd->cl, rd, cmd, (size_t)len) < 0 ||
	    ssid_rcl_next_reply(rd->cl, rd, &reply, "command") < 0)
		reply = NULL;
	redisFreeCommand(cmd);
	return reply;
}

struct redisReply *ssid_redis_command(struct ssid_redis *rd, const char *fmt, ...)
{
	redisReply *reply;
	va_list ap;

	va_start(ap, fmt);
	reply = ssid_redis_vcommand(rd, fmt, ap);
	va_end(ap);
	return reply;
}
