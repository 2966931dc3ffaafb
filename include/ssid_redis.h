/*
 * ssid_redis: one blocking hiredis 0.14 connection as ssid's Redis modules
 * (ssid_store, ssid_rank, ssid_rank_read, ssid_network, ssid_history) use it.
 *
 * The connection is opened on first use: TCP or a unix socket, with a connect
 * and a command timeout, TCP keepalive when asked, AUTH (with an ACL user or
 * not) and SELECT. A hiredis context that saw a transport error is useless,
 * so any such error drops it and the next call reconnects: callers retry
 * whole batches after a backoff. The last error is kept for logs and status.
 * With opts.cluster the same calls route each command to the master of its
 * key's slot (ssid_redis_append), see src/ssid_redis_cluster.h.
 * Library code: no logging.
 */
#ifndef SSID_REDIS_H
#define SSID_REDIS_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct redisContext;
struct redisReply;

/*
 * What every connection given the same counters adds to them (relaxed
 * atomics: another thread may read them at any time): commands sent
 * (replies read), round trips (each flush of queued commands, or a single
 * command, waited for) and errors (transport errors, error replies and
 * unexpected replies recorded with ssid_redis_fail or _set_error).
 */
struct ssid_redis_counters {
	_Atomic uint64_t commands, round_trips, errors;
};

struct ssid_redis_opts {
	const char *host;
	int port;
	const char *unix_socket; /* used instead of host:port when non-empty */
	const char *user;	 /* ACL user, "" for the default user */
	const char *password;	 /* "" for none */
	int db;
	int connect_timeout_ms;
	int command_timeout_ms;
	bool keepalive; /* TCP keepalive probes (TCP only) */
	const char *key_prefix;
	/*
	 * Redis Cluster (ssid_redis_cluster.h): nodes ("host:port,...", or
	 * host:port when "") are the seeds, db and unix_socket are not used.
	 */
	bool cluster;
	const char *nodes;
	/* A cluster: each batch's writes are followed by WAIT wait_replicas on every node written.
	 */
	int wait_replicas;
	struct ssid_redis_counters *counters; /* borrowed; NULL: not counted */
};

struct ssid_redis;

/* Allocate a connection (copies opts and its strings); does not connect yet. 0 or -ENOMEM. */
int ssid_redis_new(struct ssid_redis **out, const struct ssid_redis_opts *opts);
void ssid_redis_free(struct ssid_redis *rd);

/* Connect unless connected. 0, -EIO (transport), -EACCES (AUTH or SELECT refused), -ENOMEM. */
int ssid_redis_connect(struct ssid_redis *rd);
bool ssid_redis_connected(const struct ssid_redis *rd);
/* Connect if not connected; 0 when Redis answers PING, else as ssid_redis_connect or -EIO. */
int ssid_redis_ping(struct ssid_redis *rd);

/* The live context, NULL when not connected (always NULL for a cluster: use ssid_redis_append). */
struct redisContext *ssid_redis_context(struct ssid_redis *rd);
/* Whether opts.cluster was set. */
bool ssid_redis_is_cluster(const struct ssid_redis *rd);

/*
 * Queue a command on key (keylen bytes; NULL for MULTI, EXEC or a command of
 * no key) for the pipeline; its reply comes from ssid_redis_next_reply or
 * ssid_redis_read_replies, in the order queued. One server: hiredis's
 * redisAppendCommandArgv as is. A cluster: the node of key's slot; every
 * key of a MULTI ... EXEC block must share a slot. 0, or -ENOMEM/-EIO/
 * -EINVAL with the connection dropped (commands already queued are lost).
 */
int ssid_redis_append(struct ssid_redis *rd, const char *key, size_t keylen, int argc,
		      const char **argv, const size_t *argl);
/*
 * Write the commands queued so far without waiting for their replies, so
 * that Redis works on them while the caller queues the rest of a long
 * pipeline; the replies are read as usual, and the whole pipeline still
 * counts as one round trip. A cluster sends at the first read: nothing to
 * do. 0, or -EIO with the connection dropped.
 */
int ssid_redis_flush(struct ssid_redis *rd);
/*
 * One command, printf-style as hiredis's redisCommand, and its reply
 * (freeReplyObject it), connecting first if need be; for a cluster its key
 * is its first argument. NULL on a transport error (connection dropped, the
 * error recorded).
 */
struct redisReply *ssid_redis_command(struct ssid_redis *rd, const char *fmt, ...);
struct redisReply *ssid_redis_vcommand(struct ssid_redis *rd, const char *fmt, va_list ap);
/* The copied opts.key_prefix ("" when none was given). */
const char *ssid_redis_key_prefix(const struct ssid_redis *rd);

/* The last error, for logs and status ("connect: Connection refused"). */
const char *ssid_redis_errstr(const struct ssid_redis *rd);
/* Record an error of the caller's own (a bad reply, a bad argument); keeps the connection. */
void ssid_redis_set_error(struct ssid_redis *rd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/*
 * Record the error "<what>" (": <hiredis error>" appended when the context
 * has one), drop the connection and return rc: for a transport error, or a
 * pipeline left out of step with the commands sent.
 */
int ssid_redis_fail(struct ssid_redis *rd, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Count commands whose replies the caller read itself through the context
 * (redisCommand, redisGetReply), in round_trips round trips.
 */
void ssid_redis_count(struct ssid_redis *rd, unsigned commands, unsigned round_trips);

/* The next reply of the pipeline (freeReplyObject it); -EIO and dropped on a transport error. */
int ssid_redis_next_reply(struct ssid_redis *rd, struct redisReply **out, const char *what);

/*
 * Called for the i-th reply of a pipeline with the result so far (0 until
 * something failed); returns the new result. The reply is freed afterwards.
 */
typedef int ssid_redis_take_fn(void *ctx, size_t i, struct redisReply *reply, int rc);

/*
 * Read n pipelined replies, every one of them even after a failure so that
 * the connection stays in step and serves the next call. Returns what take
 * made of the last one, or -EIO (connection dropped, "<what>: ...") on a
 * transport error.
 */
int ssid_redis_read_replies(struct ssid_redis *rd, size_t n, const char *what,
			    ssid_redis_take_fn *take, void *ctx);

#endif
