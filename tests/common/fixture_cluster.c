/*
 * The fixture's 3-master/3-replica Redis Cluster (SSID_TEST_REDIS_CLUSTER=3,
 * see fixture.h): six redis-servers on free loopback ports, no persistence,
 * joined by redis-cli --cluster create, and the looks at it a failover test
 * needs (which node serves a slot, kill -9 of a node, the wait for a
 * failover to finish).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <hiredis/hiredis.h>

#include "fixture.h"
#include "fixture_int.h"
#include "ssid_cluster.h"

static bool node_alive(const struct fx_redis *n)
{
	return n->proc.pid > 0 && !n->proc.exited;
}

/* The slot map as node i sees it, from its CLUSTER SHARDS: 0 or -errno. */
static int node_map(const struct fx_redis *r, int i, struct ssid_cluster_map *m)
{
	redisContext *c = fxi_redis_connect(r->node[i].port);
	redisReply *reply = c ? redisCommand(c, "CLUSTER SHARDS") : NULL;
	int rc = reply ? ssid_cluster_map_from_shards(m, reply, "127.0.0.1") : -EIO;

	if (reply)
		freeReplyObject(reply);
	if (c)
		redisFree(c);
	return rc;
}

static int node_by_port(const struct fx_redis *r, int port)
{
	for (int i = 0; i < FX_CLUSTER_NODES; i++)
		if (r->node[i].port == port)
			return i;
	return -1;
}

/*
 * Node i is ready: cluster_state:ok, and as a replica its link to the master
 * up and synced; as seen by i, every slot has a live master.
 */
static bool node_ready(const struct fx_redis *r, int i)
{
	redisContext *c = fxi_redis_connect(r->node[i].port);
	redisReply *info = c ? redisCommand(c, "CLUSTER INFO") : NULL;
	redisReply *repl = c ? redisCommand(c, "INFO replication") : NULL;
	struct ssid_cluster_map m;
	bool ok = info && info->type == REDIS_REPLY_STRING && repl &&
		  repl->type == REDIS_REPLY_STRING && strstr(info->str, "cluster_state:ok\r\n");

	if (ok && strstr(repl->str, "role:slave\r\n"))
		ok = strstr(repl->str, "master_link_status:up\r\n") &&
		     strstr(repl->str, "master_sync_in_progress:0\r\n");
	if (info)
		freeReplyObject(info);
	if (repl)
		freeReplyObject(repl);
	if (c)
		redisFree(c);
	ssid_cluster_map_init(&m);
	ok = ok && node_map(r, i, &m) == 0 && ssid_cluster_map_covered(&m) == SSID_CLUSTER_SLOTS;
	for (int s = 0; ok && s < SSID_CLUSTER_SLOTS; s++) {
		int n = node_by_port(r, m.nodes[m.slot[s]].port);

		ok = n >= 0 && node_alive(&r->node[n]);
	}
	ssid_cluster_map_clear(&m);
	return ok;
}

static bool cluster_ready(const struct fx_redis *r)
{
	for (int i = 0; i < FX_CLUSTER_NODES; i++)
		if (node_alive(&r->node[i]) && !node_ready(r, i))
			return false;
	return true;
}

/* redis-cli --cluster create over the six nodes: 0, or -EIO (see cluster-create.log). */
static int cluster_create(const struct fx_redis *r)
{
	char addr[FX_CLUSTER_NODES][32], log[PATH_MAX + 32];
	const char *argv[FX_CLUSTER_NODES + 7] = {"redis-cli", "--cluster", "create"};
	struct fx_proc p;
	int argc = 3, rc;

	for (int i = 0; i < FX_CLUSTER_NODES; i++) {
		snprintf(addr[i], sizeof(addr[i]), "127.0.0.1:%d", r->node[i].port);
		argv[argc++] = addr[i];
	}
	argv[argc++] = "--cluster-replicas";
	argv[argc++] = "1";
	argv[argc++] = "--cluster-yes";
	argv[argc] = NULL;
	snprintf(log, sizeof(log), "%s/cluster-create.log", r->dir);
	rc = fx_spawn(&p, argv, NULL, log, log);
	if (rc < 0)
		return rc;
	rc = fx_proc_wait(&p, FX_WAIT_MS);
	if (rc < 0) {
		fxi_proc_kill(&p);
		return rc;
	}
	return WIFEXITED(p.status) && WEXITSTATUS(p.status) == 0 ? 0 : -EIO;
}

int fxi_cluster_start(struct fx_redis *r)
{
	int64_t deadline = fx_deadline(FX_WAIT_MS);
	size_t at = 0;
	int rc = 0;

	r->node = calloc(FX_CLUSTER_NODES, sizeof(*r->node));
	if (!r->node)
		return -ENOMEM;
	for (int i = 0; i < FX_CLUSTER_NODES && rc == 0; i++) {
		char dir[PATH_MAX + 16];

		r->node[i].member = true;
		snprintf(dir, sizeof(dir), "%s/node%d", r->dir, i);
		rc = fx_redis_start(&r->node[i], dir, false);
		at += (size_t)snprintf(r->seeds + at, sizeof(r->seeds) - at, "%s127.0.0.1:%d",
				       i ? "," : "", r->node[i].port);
	}
	if (rc == 0)
		rc = cluster_create(r);
	while (rc == 0 && !cluster_ready(r)) {
		if (fx_expired(deadline))
			rc = -ETIMEDOUT;
		fx_pause();
	}
	if (rc < 0) {
		fxi_cluster_stop(r);
		return rc;
	}
	r->port = r->node[0].port;
	return 0;
}

void fx_cluster_start_in_scratch(struct fx_redis *r)
{
	memset(r, 0, sizeof(*r));
	fx_path(r->dir, sizeof(r->dir), "redis");
	ck_assert_int_eq(mkdir(r->dir, 0700), 0);
	ck_assert_msg(fxi_cluster_start(r) == 0, "the 3x3 cluster did not start (see %s)", r->dir);
}

int fxi_cluster_stop(struct fx_redis *r)
{
	int rc = 0;

	for (int i = 0; i < FX_CLUSTER_NODES; i++) {
		if (node_alive(&r->node[i])) {
			int s = fx_redis_stop(&r->node[i]);

			rc = rc < 0 ? rc : s;
		}
	}
	free(r->node);
	r->node = NULL;
	return rc;
}

int fx_cluster_master_of(const struct fx_redis *r, int slot)
{
	for (int i = 0; i < FX_CLUSTER_NODES; i++) {
		struct ssid_cluster_map m;
		int n = -1;

		if (!node_alive(&r->node[i]))
			continue;
		ssid_cluster_map_init(&m);
		if (node_map(r, i, &m) == 0 && m.slot[slot] >= 0)
			n = node_by_port(r, m.nodes[m.slot[slot]].port);
		ssid_cluster_map_clear(&m);
		if (n >= 0)
			return n;
	}
	return -1;
}

void fx_cluster_slot_masters(const struct fx_redis *r, int owner[16384])
{
	struct ssid_cluster_map m;
	int i = 0;

	while (i < FX_CLUSTER_NODES && !node_alive(&r->node[i]))
		i++;
	ck_assert_int_lt(i, FX_CLUSTER_NODES);
	ssid_cluster_map_init(&m);
	ck_assert_int_eq(node_map(r, i, &m), 0);
	for (int s = 0; s < SSID_CLUSTER_SLOTS; s++)
		owner[s] = m.slot[s] < 0 ? -1 : node_by_port(r, m.nodes[m.slot[s]].port);
	ssid_cluster_map_clear(&m);
}

void fx_cluster_kill(struct fx_redis *r, int i)
{
	ck_assert(r->node && i >= 0 && i < FX_CLUSTER_NODES && node_alive(&r->node[i]));
	fxi_proc_kill(&r->node[i].proc);
}

void fx_cluster_node_id(const struct fx_redis *r, int i, char *id, size_t len)
{
	redisContext *c = fxi_redis_connect(r->node[i].port);
	redisReply *reply = c ? redisCommand(c, "CLUSTER MYID") : NULL;

	ck_assert_msg(reply && reply->type == REDIS_REPLY_STRING, "CLUSTER MYID of node %d", i);
	snprintf(id, len, "%s", reply->str);
	freeReplyObject(reply);
	redisFree(c);
}

void fx_cluster_reshard_spawn(const struct fx_redis *r, int from, int to, int nslots,
			      struct fx_proc *p)
{
	char seed[32], src[64], dst[64], n[16], log[PATH_MAX + 16];
	const char *argv[] = {"redis-cli",	 "--cluster", "reshard",       seed,
			      "--cluster-from",	 src,	      "--cluster-to",  dst,
			      "--cluster-slots", n,	      "--cluster-yes", NULL};

	snprintf(seed, sizeof(seed), "127.0.0.1:%d", r->node[from].port);
	fx_cluster_node_id(r, from, src, sizeof(src));
	fx_cluster_node_id(r, to, dst, sizeof(dst));
	snprintf(n, sizeof(n), "%d", nslots);
	snprintf(log, sizeof(log), "%s/reshard.log", r->dir);
	ck_assert_int_eq(fx_spawn(p, argv, NULL, log, log), 0);
}

void fx_cluster_wait_ok(const struct fx_redis *r)
{
	int64_t deadline = fx_deadline(FX_WAIT_MS);

	while (!cluster_ready(r)) {
		ck_assert_msg(!fx_expired(deadline), "the cluster in %s did not become ok", r->dir);
		fx_pause();
	}
}
