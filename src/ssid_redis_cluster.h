/*
 * ssid_redis_cluster: what ssid_redis does when redis.cluster is on (only
 * ssid_redis.c includes this). Commands are queued with their key's slot
 * and sent when the first reply is asked for: one pipeline per master
 * touched, all written before any is read (one round trip per node, in
 * parallel), replies handed back in the order the commands were queued.
 * MOVED updates the slot map and resends, ASK resends once after ASKING,
 * TRYAGAIN and CLUSTERDOWN back off and resend, until the command timeout;
 * a MULTI ... EXEC block goes to one node and is resent as a whole. A node
 * that cannot be reached fails the whole batch (-EIO): every connection is
 * dropped and the slot map is read again on the next call.
 *
 * Each node's connection is an ssid_redis of its own (the same timeouts,
 * keepalive and AUTH), owned here. Errors land in the parent's ssid_redis.
 */
#ifndef SSID_REDIS_CLUSTER_H
#define SSID_REDIS_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>

struct redisReply;
struct ssid_redis;
struct ssid_redis_opts;
struct ssid_rcl;

/* From opts (nodes, else host:port, are the seeds): 0, -EINVAL (a bad seed list), -ENOMEM. */
int ssid_rcl_new(struct ssid_rcl **out, const struct ssid_redis_opts *opts);
void ssid_rcl_free(struct ssid_rcl *cl);

/* Read the slot map unless it is known: 0 or -EIO (no node answered), -ENOMEM. */
int ssid_rcl_connect(struct ssid_rcl *cl, struct ssid_redis *rd);
bool ssid_rcl_connected(const struct ssid_rcl *cl);
/* The map, then PING every master of it: 0 or -EIO. */
int ssid_rcl_ping(struct ssid_rcl *cl, struct ssid_redis *rd);
/* Drop every connection, the slot map and whatever is queued or unread. */
void ssid_rcl_drop(struct ssid_rcl *cl);

/*
 * Queue a command for the node of key's slot (key NULL: MULTI, EXEC, or a
 * command for any node; inside MULTI ... EXEC every key must share a slot).
 * 0, -EINVAL (keys of one MULTI in two slots), -ENOMEM, -EIO.
 */
int ssid_rcl_append(struct ssid_rcl *cl, struct ssid_redis *rd, const char *key, size_t keylen,
		    int argc, const char **argv, const size_t *argl);
/* The same for a command hiredis formatted already (its key: its first argument). */
int ssid_rcl_append_formatted(struct ssid_rcl *cl, struct ssid_redis *rd, const char *cmd,
			      size_t len);
/* The next reply in queue order, the queue sent first if needed: 0 or -EIO (see above). */
int ssid_rcl_next_reply(struct ssid_rcl *cl, struct ssid_redis *rd, struct redisReply **out,
			const char *what);

#endif
