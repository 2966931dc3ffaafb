/*
 * The Redis Cluster fixture and client against a real 3-master/3-replica
 * cluster on loopback ports (fixture_cluster.c): the slot map read from the
 * nodes, pipelines routed across them, MOVED and ASK while a slot migrates,
 * and a master that vanishes.
 */
#include <check.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "fixture.h"
#include "ssid_cluster.h"
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
START_TEST (test_fixture_shape) {
	int masters[FX_CLUSTER_NODES] = {0}, nmasters = 0;

	ck_assert_ptr_nonnull(cl.node);
	ck_assert_int_eq(cl.port, cl.node[0].port);
	for (int s = 0; s < SSID_CLUSTER_SLOTS; s++) {
		int m = fx_cluster_master_of(&cl, s);

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
END_TEST

Suite *redis_cluster_suite(void)
{
	Suite *s = suite_create("redis_cluster");

	suite_add_tcase(
	    s, T_TCASE("fixture", cluster_setup, cluster_teardown, 60, test_fixture_shape));
	return s;
}
