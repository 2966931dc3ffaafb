/*
 * ssid_cluster: Redis Cluster routing data, over hiredis 0.14 replies.
 *
 * The hash slot of a key (CRC16 of its hash tag, mod 16384, as the cluster
 * spec says), the slot map (which master serves which slot) read from a
 * CLUSTER SHARDS (Redis 7) or CLUSTER SLOTS reply, the MOVED/ASK/TRYAGAIN/
 * CLUSTERDOWN errors a node answers with, and the list of seed nodes
 * ("host:port,host:port"). No I/O: ssid_redis_cluster.c talks to the nodes.
 *
 * The map owns its node table. Nodes are only ever added (an index stays
 * valid for the map's life, so connections can be kept per index); a reply
 * that fails to parse leaves the slots as they were.
 */
#ifndef SSID_CLUSTER_H
#define SSID_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

struct redisReply;

#define SSID_CLUSTER_SLOTS    16384
#define SSID_CLUSTER_HOST_MAX 256 /* a host name or address, NUL included */

/* CRC16-CCITT (XMODEM), the cluster's key hash: "123456789" gives 0x31C3. */
uint16_t ssid_cluster_crc16(const char *buf, size_t len);
/* The slot of a key: the CRC16 of its hash tag ("{...}", non-empty) or of the whole key. */
int ssid_cluster_keyslot(const char *key, size_t len);

struct ssid_cluster_node {
	char host[SSID_CLUSTER_HOST_MAX];
	int port;
};

struct ssid_cluster_map {
	struct ssid_cluster_node *nodes; /* owned; only grows */
	size_t n, cap;
	int32_t slot[SSID_CLUSTER_SLOTS]; /* index into nodes, -1 when no master is known */
};

/* An empty map: no node, every slot unknown. */
void ssid_cluster_map_init(struct ssid_cluster_map *m);
void ssid_cluster_map_clear(struct ssid_cluster_map *m);

/*
 * The index of host:port in m, added when new. -EINVAL for an empty or too
 * long host or a port outside 1..65535, -ENOMEM.
 */
int ssid_cluster_map_node(struct ssid_cluster_map *m, const char *host, size_t hostlen, int port);
/* The node index serving slot, or -1 (unknown) or -EINVAL (not a slot). */
int ssid_cluster_map_lookup(const struct ssid_cluster_map *m, int slot);
/* How many slots have a master. */
int ssid_cluster_map_covered(const struct ssid_cluster_map *m);

/*
 * Replace the slot assignment with a CLUSTER SHARDS reply (RESP2: an array
 * of shards, each "slots" [start end ...] and "nodes" [flat field arrays]):
 * each shard's slots go to its master whose health is "online" (any master
 * when none is). A node's address is its "endpoint" field, else its "ip";
 * "" stands for asked_host (the node that answered), "?" for an unknown
 * one (its slots stay unknown). -EBADMSG when the reply is malformed (m
 * unchanged), -ENOMEM.
 */
int ssid_cluster_map_from_shards(struct ssid_cluster_map *m, const struct redisReply *r,
				 const char *asked_host);
/* The same from a CLUSTER SLOTS reply: [start end [host port id ...] replicas...] ... */
int ssid_cluster_map_from_slots(struct ssid_cluster_map *m, const struct redisReply *r,
				const char *asked_host);

enum ssid_cluster_error {
	SSID_CLUSTER_NOT_REDIRECT = 0, /* any other error, or no error */
	SSID_CLUSTER_MOVED,	       /* the slot lives at host:port now: update the map */
	SSID_CLUSTER_ASK,	       /* this once: ASKING then the command at host:port */
	SSID_CLUSTER_TRYAGAIN,	       /* a multi-key command mid-migration: back off */
	SSID_CLUSTER_CLUSTERDOWN,      /* the cluster cannot serve: back off, reload the map */
};

struct ssid_cluster_redirect {
	enum ssid_cluster_error kind;
	int slot;			  /* MOVED and ASK */
	char host[SSID_CLUSTER_HOST_MAX]; /* MOVED and ASK */
	int port;			  /* MOVED and ASK */
};

/*
 * Classify a node's error string ("MOVED 3999 127.0.0.1:6381", "ASK ...",
 * "TRYAGAIN ...", "CLUSTERDOWN ..."): the kind (>= 0), or -EBADMSG for a
 * MOVED or ASK that does not parse. A MOVED/ASK with an empty host
 * ("MOVED 12 :7001") means the host of the node that answered: host "" then.
 */
int ssid_cluster_redirect_parse(const char *err, size_t len, struct ssid_cluster_redirect *out);

/* Apply a MOVED: slot is served by host:port (host "" means default_host). 0, -EINVAL, -ENOMEM. */
int ssid_cluster_map_moved(struct ssid_cluster_map *m, const struct ssid_cluster_redirect *rd,
			   const char *default_host);

/*
 * Parse "host:port,host:port,..." (spaces around items allowed; "[v6]:port"
 * for an IPv6 address) into nodes added to m in list order. Returns how many
 * nodes the list names (>= 1), or -EINVAL (naming the bad item in err when
 * err is not NULL) or -ENOMEM.
 */
int ssid_cluster_seeds_parse(struct ssid_cluster_map *m, const char *list, char *err,
			     size_t errlen);

#endif
