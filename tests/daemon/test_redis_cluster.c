/*
 * The Redis Cluster fixture and client against a real 3-master/3-replica
 * cluster on loopback ports (fixture_cluster.c): the slot map read from the
 * nodes, pipelines routed across them, MOVED and ASK while a slot migrates,
 * and a master that vanishes.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "fixture.h"
#include "ssid_cluster.h"
#include "ssid_redis.h"
#include "suites.h"

static struct fx_redis cl;

static void cluster_setup(void)
{
	fx_setup();
	fx_cluster_start_in_scratch(&cl);
}

static void cluster_teardown(void)
{
	fx_redis_teardown(&cl);
}

/* Three masters with a third of the slots each, each with one replica in sync. */
static void test_fixture_shape(void)
{
	int masters[FX_CLUSTER_NODES] = {0}, nmasters = 0;
	static int owner[SSID_CLUSTER_SLOTS];

	ck_assert_ptr_nonnull(cl.node);
	ck_assert_int_eq(cl.port, cl.node[0].port);
	fx_cluster_slot_masters(&cl, owner);
	for (int s = 0; s < SSID_CLUSTER_SLOTS; s++) {
		int m = owner[s];

		ck_assert_msg(m >= 0, "slot %d has no master", s);
		nmasters += masters[m]++ == 0;
	}
	ck_assert_int_eq(nmasters, 3);
	for (int i = 0; i < FX_CLUSTER_NODES; i++) {
		redisContext *c = fx_redis_peek(&cl.node[i]);
		redisReply *r = redisCommand(c, "INFO replication");

		ck_assert_ptr_nonnull(r);
		if (masters[i]) {
			/* redis-cli splits 16384 as 5461 + 5462 + 5461. */
			ck_assert_msg(masters[i] == 5461 || masters[i] == 5462, "%d slots",
				      masters[i]);
			ck_assert_ptr_nonnull(strstr(r->str, "connected_slaves:1\r\n"));
		} else {
			ck_assert_ptr_nonnull(strstr(r->str, "role:slave\r\n"));
		}
		freeReplyObject(r);
		redisFree(c);
	}
}

/* ---- the client ---------------------------------------------------------- */

static struct ssid_redis *client(int command_timeout_ms)
{
	struct ssid_redis_opts o = fx_redis_opts(&cl);
	struct ssid_redis *rd = NULL;

	o.cluster = true;
	o.nodes = cl.seeds;
	o.command_timeout_ms = command_timeout_ms;
	ck_assert_int_eq(ssid_redis_new(&rd, &o), 0);
	return rd;
}

static void append_argv(struct ssid_redis *rd, int argc, const char **argv)
{
	size_t argl[8];

	for (int i = 0; i < argc; i++)
		argl[i] = strlen(argv[i]);
	ck_assert_int_eq(ssid_redis_append(rd, argc > 1 ? argv[1] : NULL, argc > 1 ? argl[1] : 0,
					   argc, argv, argl),
			 0);
}

/* The next reply: of type, and as text (integer, string or status) equal to want when not NULL. */
static void expect_reply(struct ssid_redis *rd, int type, const char *want)
{
	redisReply *r = NULL;
	char buf[64];

	ck_assert_msg(ssid_redis_next_reply(rd, &r, "test") == 0, "%s", ssid_redis_errstr(rd));
	ck_assert_msg(r->type == type, "reply type %d (%s), want %d", r->type,
		      r->type == REDIS_REPLY_ERROR ? r->str : "", type);
	if (want && r->type == REDIS_REPLY_INTEGER) {
		snprintf(buf, sizeof(buf), "%lld", r->integer);
		ck_assert_str_eq(buf, want);
	} else if (want) {
		ck_assert_str_eq(r->str, want);
	}
	freeReplyObject(r);
}

static long long calls(int node, const char *cmd)
{
	redisContext *c = fx_redis_peek(&cl.node[node]);
	long long n = fx_redis_command_calls(c, cmd);

	redisFree(c);
	return n;
}

/* How many cmd the node refused (MOVED, ASK...): rejected_calls of INFO commandstats. */
static long long rejected(int node, const char *cmd)
{
	redisContext *c = fx_redis_peek(&cl.node[node]);
	redisReply *r = redisCommand(c, "INFO commandstats");
	char needle[64];
	const char *at, *rej;
	long long n = 0;

	ck_assert_ptr_nonnull(r);
	snprintf(needle, sizeof(needle), "cmdstat_%s:", cmd);
	at = strstr(r->str, needle);
	rej = at ? strstr(at, "rejected_calls=") : NULL;
	if (rej && rej < strchr(at, '\n'))
		n = strtoll(rej + strlen("rejected_calls="), NULL, 10);
	freeReplyObject(r);
	redisFree(c);
	return n;
}

/* Whether node i is a master of some slot now. */
static bool is_master(int i)
{
	return fx_cluster_master_of(&cl, 0) == i || fx_cluster_master_of(&cl, 8000) == i ||
	       fx_cluster_master_of(&cl, 16383) == i;
}

/*
 * 300 keys over every master in one pipeline: the replies come back in the
 * order queued, each master ran exactly its keys' commands, nothing else.
 */
static void test_pipeline_across_nodes(void)
{
	struct ssid_redis *rd = client(5000);
	char key[64], val[64];
	long long total = 0;
	redisReply *r = NULL;

	ck_assert_int_eq(ssid_redis_connect(rd), 0);
	ck_assert(ssid_redis_connected(rd));
	ck_assert_ptr_null(ssid_redis_context(rd));
	ck_assert(ssid_redis_is_cluster(rd));
	for (int i = 0; i < 300; i++) {
		snprintf(key, sizeof(key), "ssi:u:{rep-%d}", i);
		snprintf(val, sizeof(val), "v%d", i * 7);
		append_argv(rd, 4, (const char *[]){"HSET", key, "s", val});
	}
	for (int i = 0; i < 300; i++)
		expect_reply(rd, REDIS_REPLY_INTEGER, "1");
	/* (A replica counts the commands it replays: masters only.) */
	for (int i = 0; i < FX_CLUSTER_NODES; i++) {
		long long n = is_master(i) ? calls(i, "hset") : 0;

		ck_assert(!is_master(i) || n > 50);
		total += n;
	}
	ck_assert_int_eq(total, 300);
	for (int i = 299; i >= 0; i--) {
		snprintf(key, sizeof(key), "ssi:u:{rep-%d}", i);
		append_argv(rd, 3, (const char *[]){"HGET", key, "s"});
	}
	for (int i = 299; i >= 0; i--) {
		snprintf(val, sizeof(val), "v%d", i * 7);
		expect_reply(rd, REDIS_REPLY_STRING, val);
	}
	/* A MULTI block goes to its keys' node; printf-style commands too. */
	append_argv(rd, 1, (const char *[]){"MULTI"});
	append_argv(rd, 3, (const char *[]){"INCRBY", "ssi:rv:{p-3}", "5"});
	append_argv(rd, 3, (const char *[]){"INCRBY", "ssi:rv:{p-3}", "6"});
	append_argv(rd, 1, (const char *[]){"EXEC"});
	expect_reply(rd, REDIS_REPLY_STATUS, "OK");
	expect_reply(rd, REDIS_REPLY_STATUS, "QUEUED");
	expect_reply(rd, REDIS_REPLY_STATUS, "QUEUED");
	ck_assert_int_eq(ssid_redis_next_reply(rd, &r, "EXEC"), 0);
	ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
	ck_assert_uint_eq(r->elements, 2);
	ck_assert_int_eq(r->element[1]->integer, 11);
	freeReplyObject(r);
	r = ssid_redis_command(rd, "GET %s", "ssi:rv:{p-3}");
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r->str, "11");
	freeReplyObject(r);
	/* Keys of two slots in one block are refused before anything is sent. */
	append_argv(rd, 1, (const char *[]){"MULTI"});
	append_argv(rd, 2, (const char *[]){"INCR", "ssi:rv:{p-3}"});
	ck_assert_int_eq(ssid_redis_append(rd, "ssi:rv:{p-4}", 12, 2,
					   (const char *[]){"INCR", "ssi:rv:{p-4}"},
					   (size_t[]){4, 12}),
			 -EINVAL);
	ck_assert_str_eq(ssid_redis_errstr(rd), "MULTI: keys in slots 11906 and 7781");
	ssid_redis_free(rd);
}

static void node_id(int node, char *id, size_t len)
{
	redisContext *c = fx_redis_peek(&cl.node[node]);
	redisReply *r = redisCommand(c, "CLUSTER MYID");

	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
	snprintf(id, len, "%s", r->str);
	freeReplyObject(r);
	redisFree(c);
}

static void on_node(int node, const char *fmt, const char *a, const char *b)
{
	redisContext *c = fx_redis_peek(&cl.node[node]);

	fx_redis_peek_ok(c, redisCommand(c, fmt, a, b));
	redisFree(c);
}

/* Node from, master of slot, starts exporting it to node to: MIGRATING/IMPORTING. */
static void slot_open(int slot, int from, int to)
{
	char sid[64], did[64], s[16];

	node_id(from, sid, sizeof(sid));
	node_id(to, did, sizeof(did));
	snprintf(s, sizeof(s), "%d", slot);
	on_node(to, "CLUSTER SETSLOT %s IMPORTING %s", s, sid);
	on_node(from, "CLUSTER SETSLOT %s MIGRATING %s", s, did);
}

/* Move key (if any) from node from to node to, and tell every master the slot is to's. */
static void slot_finish(int slot, int from, int to, const char *key)
{
	char did[64], s[16], port[16];
	bool master[FX_CLUSTER_NODES];

	node_id(to, did, sizeof(did));
	snprintf(s, sizeof(s), "%d", slot);
	snprintf(port, sizeof(port), "%d", cl.node[to].port);
	if (key) {
		redisContext *c = fx_redis_peek(&cl.node[from]);
		redisReply *r = redisCommand(c, "MIGRATE 127.0.0.1 %s %s 0 5000", port, key);

		ck_assert_ptr_nonnull(r);
		ck_assert_msg(r->type == REDIS_REPLY_STATUS, "MIGRATE: %s", r->str);
		freeReplyObject(r);
		redisFree(c);
	}
	for (int i = 0; i < FX_CLUSTER_NODES; i++)
		master[i] = is_master(i);
	on_node(to, "CLUSTER SETSLOT %s NODE %s", s, did);
	on_node(from, "CLUSTER SETSLOT %s NODE %s", s, did);
	for (int i = 0; i < FX_CLUSTER_NODES; i++)
		if (master[i] && i != from && i != to)
			on_node(i, "CLUSTER SETSLOT %s NODE %s", s, did);
}

/* A master other than m. */
static int other_master(int m)
{
	for (int s = 0; s < SSID_CLUSTER_SLOTS; s += 1000) {
		int n = fx_cluster_master_of(&cl, s);

		if (n != m)
			return n;
	}
	ck_abort_msg("one master only");
	return -1;
}

/* A slot moved behind the client's back: MOVED, the map updated, asked once only. */
static void test_moved(void)
{
	const char *key = "ssi:u:{rep-moved}", *key2 = "ssi:u:{rep-stays}";
	struct ssid_redis *rd = client(5000);
	int slot = ssid_cluster_keyslot("rep-moved", 9);
	int from = fx_cluster_master_of(&cl, slot), to = other_master(from);
	long long at_from, at_to, moved;

	ck_assert_int_ne(ssid_cluster_keyslot("rep-stays", 9), slot);
	append_argv(rd, 4, (const char *[]){"HSET", key, "s", "one"});
	expect_reply(rd, REDIS_REPLY_INTEGER, "1");
	slot_open(slot, from, to);
	slot_finish(slot, from, to, key);
	ck_assert_int_eq(fx_cluster_master_of(&cl, slot), to);
	at_from = calls(from, "hget");
	at_to = calls(to, "hget");
	moved = rejected(from, "hget");
	append_argv(rd, 3, (const char *[]){"HGET", key2, "s"}); /* another slot */
	append_argv(rd, 3, (const char *[]){"HGET", key, "s"});
	expect_reply(rd, REDIS_REPLY_NIL, NULL);
	expect_reply(rd, REDIS_REPLY_STRING, "one");
	if (fx_cluster_master_of(&cl, ssid_cluster_keyslot("rep-stays", 9)) == from)
		at_from++;
	else if (fx_cluster_master_of(&cl, ssid_cluster_keyslot("rep-stays", 9)) == to)
		at_to++;
	/* MOVED by the old master, then served by the new one. */
	ck_assert_int_eq(rejected(from, "hget"), moved + 1);
	ck_assert_int_eq(calls(from, "hget"), at_from);
	ck_assert_int_eq(calls(to, "hget"), at_to + 1);
	append_argv(rd, 3, (const char *[]){"HGET", key, "s"});
	expect_reply(rd, REDIS_REPLY_STRING, "one");
	/* Then straight to the new master. */
	ck_assert_int_eq(rejected(from, "hget"), moved + 1);
	ck_assert_int_eq(calls(to, "hget"), at_to + 2);
	ssid_redis_free(rd);
}

/*
 * A slot mid-migration: a key not on the old master is ASKed to the new one
 * (ASKING first), a MULTI block as a whole; the map stays as it was.
 */
static void test_ask(void)
{
	const char *key = "ssi:u:{rep-ask}", *other = "ssi:n:{rep-ask}";
	struct ssid_redis *rd = client(5000);
	int slot = ssid_cluster_keyslot("rep-ask", 7);
	int from = fx_cluster_master_of(&cl, slot), to = other_master(from);
	long long asking = calls(to, "asking"), hset = calls(to, "hset");
	long long sadd = calls(to, "sadd"), exec = calls(to, "exec");
	char s[16];
	redisReply *r = NULL;

	ck_assert_int_eq(ssid_redis_connect(rd), 0);
	slot_open(slot, from, to);
	append_argv(rd, 4, (const char *[]){"HSET", key, "s", "asked"});
	expect_reply(rd, REDIS_REPLY_INTEGER, "1");
	ck_assert_int_eq(calls(to, "asking"), asking + 1);
	ck_assert_int_eq(calls(to, "hset"), hset + 1);
	append_argv(rd, 1, (const char *[]){"MULTI"});
	append_argv(rd, 3, (const char *[]){"SADD", other, "a"});
	append_argv(rd, 3, (const char *[]){"SADD", other, "b"});
	append_argv(rd, 1, (const char *[]){"EXEC"});
	expect_reply(rd, REDIS_REPLY_STATUS, "OK");
	expect_reply(rd, REDIS_REPLY_STATUS, "QUEUED");
	expect_reply(rd, REDIS_REPLY_STATUS, "QUEUED");
	ck_assert_int_eq(ssid_redis_next_reply(rd, &r, "EXEC"), 0);
	ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
	ck_assert_uint_eq(r->elements, 2);
	freeReplyObject(r);
	ck_assert_int_eq(calls(to, "asking"), asking + 2);
	ck_assert_int_eq(calls(to, "sadd"), sadd + 2);
	ck_assert_int_eq(calls(to, "exec"), exec + 1);
	/* The old master still has the slot, with neither key. */
	ck_assert_int_eq(fx_cluster_master_of(&cl, slot), from);
	snprintf(s, sizeof(s), "%d", slot);
	{
		redisContext *c = fx_redis_peek(&cl.node[from]);

		r = redisCommand(c, "CLUSTER COUNTKEYSINSLOT %s", s);
		ck_assert_int_eq(r->integer, 0);
		freeReplyObject(r);
		redisFree(c);
	}
	/* Done: the slot is the new master's, with what was written. */
	slot_finish(slot, from, to, NULL);
	append_argv(rd, 3, (const char *[]){"HGET", key, "s"});
	append_argv(rd, 2, (const char *[]){"SCARD", other});
	expect_reply(rd, REDIS_REPLY_STRING, "asked");
	expect_reply(rd, REDIS_REPLY_INTEGER, "2");
	ssid_redis_free(rd);
}

/*
 * A master killed. Writes made with wait_replicas = 1 were confirmed (WAIT,
 * once per master written) and survive the failover; the batch that needs
 * the dead master fails as a whole (-EIO, the node named); once its replica
 * took over, the next batch finds it by itself; and with no replica left in
 * that shard, a write's WAIT says so.
 */
START_TEST (test_node_vanishes) {
	struct ssid_redis *rd = client(5000), *short_wait;
	struct ssid_redis_opts o = fx_redis_opts(&cl);
	int dead = fx_cluster_master_of(&cl, 12882), now;
	char key[64], val[64], want[128];
	long long waits = 0;
	redisReply *r = NULL;

	ssid_redis_free(rd);
	o.nodes = cl.seeds;
	o.command_timeout_ms = 5000;
	o.wait_replicas = 1;
	ck_assert_int_eq(ssid_redis_new(&rd, &o), 0);
	for (int i = 0; i < 30; i++) {
		snprintf(key, sizeof(key), "ssi:u:{rep-%d}", i);
		snprintf(val, sizeof(val), "kept-%d", i);
		append_argv(rd, 4, (const char *[]){"HSET", key, "s", val});
	}
	for (int i = 0; i < 30; i++)
		expect_reply(rd, REDIS_REPLY_INTEGER, "1");
	for (int i = 0; i < FX_CLUSTER_NODES; i++) {
		long long n = is_master(i) ? calls(i, "wait") : 0;

		ck_assert(!is_master(i) || n == 1);
		waits += n;
	}
	ck_assert_int_eq(waits, 3);

	fx_cluster_kill(&cl, dead);
	append_argv(rd, 3, (const char *[]){"HGET", "ssi:u:{rep-2}", "s"});
	append_argv(rd, 3, (const char *[]){"HGET", "ssi:u:{rep-1}", "s"});
	ck_assert_int_eq(ssid_redis_next_reply(rd, &r, "HGET"), -EIO);
	snprintf(want, sizeof(want), "127.0.0.1:%d: ", cl.node[dead].port);
	ck_assert_msg(strstr(ssid_redis_errstr(rd), want), "%s", ssid_redis_errstr(rd));
	ck_assert(!ssid_redis_connected(rd));
	/* Nothing is left queued: the next reply asked for is an error of its own. */
	ck_assert_int_eq(ssid_redis_next_reply(rd, &r, "HGET"), -EIO);
	ck_assert_str_eq(ssid_redis_errstr(rd), "HGET: no reply pending");
	fx_cluster_wait_ok(&cl);
	now = fx_cluster_master_of(&cl, 12882);
	ck_assert_int_ne(now, dead);
	/* No connect first: the batch reads the slot map again by itself. */
	for (int i = 0; i < 30; i++) {
		snprintf(key, sizeof(key), "ssi:u:{rep-%d}", i);
		append_argv(rd, 3, (const char *[]){"HGET", key, "s"});
	}
	for (int i = 0; i < 30; i++) {
		snprintf(val, sizeof(val), "kept-%d", i);
		expect_reply(rd, REDIS_REPLY_STRING, val);
	}
	ck_assert(ssid_redis_connected(rd));
	ck_assert_int_eq(ssid_redis_ping(rd), 0);
	ssid_redis_free(rd);

	/* The promoted master has no replica: its writes cannot be confirmed. */
	o.command_timeout_ms = 300;
	ck_assert_int_eq(ssid_redis_new(&short_wait, &o), 0);
	append_argv(short_wait, 4, (const char *[]){"HSET", "ssi:u:{rep-1}", "s", "unconfirmed"});
	ck_assert_int_eq(ssid_redis_next_reply(short_wait, &r, "HSET"), -EIO);
	snprintf(want, sizeof(want),
		 "HSET: 127.0.0.1:%d: WAIT: 0 of 1 replicas confirmed within 150 ms",
		 cl.node[now].port);
	ck_assert_str_eq(ssid_redis_errstr(short_wait), want);
	ssid_redis_free(short_wait);
}
END_TEST

/* No seed answers: -EIO naming the one tried; a bad seed list is refused at once. */
static void test_no_seed(void)
{
	struct ssid_redis_opts o = fx_redis_opts(&cl);
	struct ssid_redis *rd = NULL;

	o.cluster = true;
	o.nodes = "127.0.0.1:1";
	ck_assert_int_eq(ssid_redis_new(&rd, &o), 0);
	ck_assert_int_eq(ssid_redis_connect(rd), -EIO);
	ck_assert_str_eq(ssid_redis_errstr(rd), "127.0.0.1:1: connect: Connection refused");
	ck_assert_int_eq(ssid_redis_ping(rd), -EIO);
	ssid_redis_free(rd);
	o.nodes = "127.0.0.1";
	ck_assert_int_eq(ssid_redis_new(&rd, &o), -EINVAL);
	/* No nodes: host and port are the seed. */
	o.nodes = "";
	ck_assert_int_eq(ssid_redis_new(&rd, &o), 0);
	ck_assert_int_eq(ssid_redis_ping(rd), 0);
	ssid_redis_free(rd);
}

/* One cluster for what leaves it whole: its shape, pipelines, MOVED, ASK, seeds. */
START_TEST (test_routing) {
	test_fixture_shape();
	test_pipeline_across_nodes();
	test_moved();
	test_ask();
	test_no_seed();
}
END_TEST

Suite *redis_cluster_suite(void)
{
	Suite *s = suite_create("redis_cluster");

	suite_add_tcase(s, T_TCASE("cluster", cluster_setup, cluster_teardown, 60, test_routing,
				   test_node_vanishes));
	return s;
}
