/*
 * ssid on a 3-master/3-replica Redis Cluster while the cluster changes under
 * it, 200,000 events each time: a master killed with kill -9 (with
 * redis.wait_replicas = 1) and slots resharded between masters with
 * redis-cli --cluster reshard (MOVED and ASK). Either way the final states
 * must be the engine's over the same events, marks included: nothing lost,
 * nothing counted twice. Tagged "cluster3": run once, by make check-cluster3.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <hiredis/hiredis.h>

#include "fixture.h"
#include "ssid_file.h"
#include "ssid_time.h"
#include "suites.h"

#define CF_EVENTS 200000
#define CF_USERS  1000
#define CF_CHUNK  10000
/*
 * librdkafka's mock cluster keeps about 5 MB of each partition's log: 16
 * partitions keep all 200,000 events, so a batch retried after a failure
 * can always be read again.
 */
#define CF_PARTITIONS 16

struct cenv {
	struct fx_env fx;
	struct fx_daemon daemon;
	char conf[8192];
};

/* fx_env_open, with a 3x3 cluster whatever SSID_TEST_REDIS_CLUSTER says, and the stream. */
static void cenv_open(struct cenv *e, const char *tag, uint64_t seed)
{
	struct t_rng rng = {.s = seed};

	memset(e, 0, sizeof(*e));
	ck_assert_int_eq(ssid_file_load_model(&e->fx.model, fx_model_path(), NULL), 0);
	fx_cluster_start_in_scratch(&e->fx.redis);
	ck_assert_int_eq(fx_kafka_start(&e->fx.kafka, tag, CF_PARTITIONS), 0);
	fx_stream_init(&e->fx.stream, tag, CF_USERS);
	ck_assert_int_eq(fx_stream_add_random(&e->fx.stream, &rng, CF_EVENTS), 0);
}

/* The first quarter of the stream produced, ssid started, and an eighth of it taken in. */
static void cenv_start(struct cenv *e, const char *extra)
{
	struct fx_conf c = {.extra = extra};
	struct ssid_daemon_stats st;
	char err[1024];

	ck_assert_int_eq(fx_produce(&e->fx.kafka, &e->fx.stream, 0, CF_EVENTS / 4), 0);
	ck_assert_int_eq(fx_config_text(e->conf, sizeof(e->conf), &e->fx.kafka, &e->fx.redis, &c),
			 0);
	ck_assert_msg(fx_daemon_start(&e->daemon, e->conf, err, sizeof(err)) == 0, "ssid: %s", err);
	fx_daemon_wait_events(&e->daemon, CF_EVENTS / 8, &st);
}

/* Everything committed, ssid stopped, every state and published score exact. */
static void cenv_finish(struct cenv *e, struct ssid_daemon_stats *st)
{
	fx_wait_drained(&e->fx.kafka, &e->fx.stream, e->daemon.log_path);
	fx_daemon_stats(&e->daemon, st);
	ck_assert_int_eq(fx_daemon_stop(&e->daemon), 0);
	fx_check_states(&e->fx.redis, &e->fx.stream, &e->fx.model);
	fx_env_close(&e->fx);
}

/* Whether node's reply to cmd (a status or string) contains what. */
static bool node_says(const struct fx_redis *node, const char *cmd, const char *what)
{
	redisContext *c = fx_redis_peek(node);
	redisReply *r = redisCommand(c, cmd);
	bool yes = r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) &&
		   strstr(r->str, what);

	if (r)
		freeReplyObject(r);
	redisFree(c);
	return yes;
}

/*
 * A seventh node joins as a second replica of master keep. When another
 * master fails over, its promoted replica has no replica of its own and
 * Redis's replica migration (cluster-migration-barrier 1) moves this one
 * over, so WAIT 1 can be met again with the dead master left dead.
 */
static void add_spare_replica(struct cenv *e, struct fx_redis *spare, int keep)
{
	const struct fx_redis *master = &e->fx.redis.node[keep];
	int64_t deadline = fx_deadline(FX_WAIT_MS);
	char dir[PATH_MAX + 16], id[64], cmd[128];
	redisContext *c = fx_redis_peek(master);
	redisReply *r;
	const char *me;
	int bus;

	fx_cluster_node_id(&e->fx.redis, keep, id, sizeof(id));
	/* Its cluster bus port ("id ip:port@bus myself,master ..."): not port + 10000 here. */
	r = redisCommand(c, "CLUSTER NODES");
	ck_assert_msg(r && r->type == REDIS_REPLY_STRING, "CLUSTER NODES");
	me = strstr(r->str, id);
	ck_assert_ptr_nonnull(me);
	me = strchr(me, '@');
	ck_assert_ptr_nonnull(me);
	bus = atoi(me + 1);
	ck_assert_int_gt(bus, 0);
	freeReplyObject(r);
	redisFree(c);
	memset(spare, 0, sizeof(*spare));
	spare->member = true;
	snprintf(dir, sizeof(dir), "%s/spare", e->fx.redis.dir);
	ck_assert_int_eq(fx_redis_start(spare, dir, false), 0);
	snprintf(cmd, sizeof(cmd), "CLUSTER MEET 127.0.0.1 %d %d", master->port, bus);
	ck_assert(node_says(spare, cmd, "OK"));
	snprintf(cmd, sizeof(cmd), "CLUSTER REPLICATE %s", id);
	while (!node_says(spare, cmd, "OK")) { /* refused until the spare knows the master */
		ck_assert_msg(!fx_expired(deadline), "the spare node never replicated %s", id);
		fx_pause();
	}
	while (!node_says(spare, "INFO replication", "master_link_status:up") ||
	       !node_says(spare, "INFO replication", "master_sync_in_progress:0")) {
		ck_assert_msg(!fx_expired(deadline), "the spare node never synced");
		fx_pause();
	}
}

/*
 * kill -9 of a master while events flow, with redis.wait_replicas = 1: ssid
 * fails its batches (degraded) until the replica is promoted and a replica
 * migrates to it (the killed master stays dead), then resumes by itself;
 * every write it had acknowledged survived the failover.
 */
START_TEST (test_master_killed) {
	struct cenv e;
	struct ssid_daemon_stats st;
	struct fx_redis spare;
	int64_t killed, promoted;
	int victim, keep;

	cenv_open(&e, "cl-kill", 0xC1A5);
	victim = fx_cluster_master_of(&e.fx.redis, 0);
	keep = fx_cluster_master_of(&e.fx.redis, 16383);
	ck_assert_int_ne(victim, keep);
	add_spare_replica(&e, &spare, keep);
	cenv_start(&e, "redis.wait_replicas = 1\n");
	killed = ssid_time_mono_ms();
	fx_cluster_kill(&e.fx.redis, victim);
	ck_assert_int_eq(fx_produce(&e.fx.kafka, &e.fx.stream, CF_EVENTS / 4, CF_EVENTS), 0);
	fx_cluster_wait_ok(&e.fx.redis);
	promoted = ssid_time_mono_ms();
	ck_assert_int_ne(fx_cluster_master_of(&e.fx.redis, 0), victim);
	/* Nobody restarts the killed master: ssid goes on once a replica has migrated. */
	cenv_finish(&e, &st);
	ck_assert_uint_gt(st.failures, 0);
	ck_assert_int_eq(st.degraded, 0);
	ck_assert_int_eq(fx_redis_stop(&spare), 0);
	/* fx_check_states passed: every state exact, marks included, so nothing lost or doubled. */
	printf("cluster-fault-summary: failover: %d events, a master killed -9 after %d were "
	       "produced and left dead (redis.wait_replicas = 1), replica promoted %.1f s later, "
	       "all committed %.1f s after the kill, %llu batch attempts retried, lost 0, "
	       "double-counted 0\n",
	       CF_EVENTS, CF_EVENTS / 4, (double)(promoted - killed) / 1000.0,
	       (double)(ssid_time_mono_ms() - killed) / 1000.0, (unsigned long long)st.failures);
}
END_TEST

/* How many commands node i refused (MOVED, ASK, TRYAGAIN...): rejected_calls summed. */
static long long rejected_calls(const struct fx_redis *r, int i)
{
	redisContext *c = fx_redis_peek(&r->node[i]);
	redisReply *reply = redisCommand(c, "INFO commandstats");
	long long n = 0;

	ck_assert_ptr_nonnull(reply);
	for (const char *at = reply->str; (at = strstr(at, "rejected_calls=")); at++)
		n += strtoll(at + strlen("rejected_calls="), NULL, 10);
	freeReplyObject(reply);
	redisFree(c);
	return n;
}

/*
 * 2,000 slots moved from one master to another while events flow: ssid
 * follows MOVED and ASK (the old master refuses some of its commands) and
 * ends exact.
 */
START_TEST (test_reshard) {
	struct cenv e;
	struct ssid_daemon_stats st;
	struct fx_proc p;
	int from, to, during = 0;
	long long rejected;
	size_t at = CF_EVENTS / 4;

	cenv_open(&e, "cl-reshard", 0x5A4D);
	cenv_start(&e, NULL);
	from = fx_cluster_master_of(&e.fx.redis, 0);
	to = fx_cluster_master_of(&e.fx.redis, 16383);
	ck_assert_int_ne(from, to);
	fx_cluster_reshard_spawn(&e.fx.redis, from, to, 2000, &p);
	for (; at < CF_EVENTS; at += CF_CHUNK) {
		during += fx_proc_wait(&p, 0) != 0;
		ck_assert_int_eq(fx_produce(&e.fx.kafka, &e.fx.stream, at, at + CF_CHUNK), 0);
	}
	ck_assert_int_eq(fx_proc_wait(&p, FX_WAIT_MS), 0);
	ck_assert_msg(WIFEXITED(p.status) && WEXITSTATUS(p.status) == 0,
		      "redis-cli --cluster reshard failed (see %s/reshard.log)", e.fx.redis.dir);
	ck_assert_msg(during > 0, "the reshard was over before more events came");
	ck_assert_int_eq(fx_cluster_master_of(&e.fx.redis, 0), to);
	rejected = rejected_calls(&e.fx.redis, from);
	ck_assert_int_gt(rejected, 0);
	cenv_finish(&e, &st);
	ck_assert_int_eq(st.degraded, 0);
	printf("cluster-fault-summary: reshard: %d events, 2000 slots moved between masters "
	       "while %d of them were produced, %lld commands redirected (MOVED/ASK), %llu "
	       "batch attempts retried, lost 0, double-counted 0\n",
	       CF_EVENTS, CF_EVENTS * 3 / 4, rejected, (unsigned long long)st.failures);
}
END_TEST

Suite *cluster_faults_suite(void)
{
	Suite *s = suite_create("cluster_faults");
	TCase *tc =
	    T_TCASE("cluster_faults", fx_setup, fx_teardown, 240, test_master_killed, test_reshard);

	tcase_set_tags(tc, "cluster3");
	suite_add_tcase(s, tc);
	return s;
}
