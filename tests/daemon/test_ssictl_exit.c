/*
 * ssictl's exit codes and usage against a real redis-server, over the known
 * state of ctl_util.h: unknown users (2) and segments (3), unreadable data
 * (4) of every kind ssictl reads, bad configurations, Redis down, bad usage,
 * --help and -V. A test case of the ssictl suite (test_ssictl.c).
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <hiredis/hiredis.h>

#include "ctl_util.h"
#include "fixture.h"
#include "ssictl.h"
#include "ssid_rank.h"
#include "suites.h"

/* A key of ssid_rank's layout (ssid_rank.h) for partition part. */
static void rank_key(char key[128], int (*fn)(const char *, int32_t, char *, size_t), int32_t part)
{
	ck_assert_int_lt(fn("ssi:", part, key, 128), 128);
}

/* Unknown users exit 2, unknown segments 3, unreadable data 4. */
START_TEST (ctl_unknown_and_unreadable) {
	static const char *const user_cmds[] = {"score", "rank", "around", "history"};
	struct ssid_redis *c;
	char key[128];
	struct run r;

	/* An empty Redis: not even the global segment exists. */
	ctl(&r, "top", "global");
	expect_err(&r, SSICTL_EXIT_UNKNOWN_SEGMENT, "unknown segment: global");
	run_free(&r);
	populate();
	for (size_t i = 0; i < 4; i++) {
		ctl(&r, user_cmds[i], "nobody");
		expect_err(&r, SSICTL_EXIT_UNKNOWN_USER, "unknown user 'nobody'");
		run_free(&r);
	}
	ctl(&r, "rank", "alice");
	expect_err(&r, SSICTL_EXIT_UNKNOWN_USER, "user 'alice' has not been ranked yet");
	run_free(&r);
	ctl(&r, "top", "industry", "nowhere");
	expect_err(&r, SSICTL_EXIT_UNKNOWN_SEGMENT, "unknown segment: industry nowhere");
	run_free(&r);
	ctl(&r, "top", "team", "acme/nowhere");
	expect_err(&r, SSICTL_EXIT_UNKNOWN_SEGMENT, "unknown segment: team acme/nowhere");
	run_free(&r);

	ctl(&r, "score", "bob");
	expect_err(&r, SSICTL_EXIT_UNREADABLE, "the stored state of 'bob' is unreadable");
	run_free(&r);
	ctl(&r, "history", "bob");
	expect_err(&r, SSICTL_EXIT_UNREADABLE, "the stored history of 'bob' is unreadable");
	run_free(&r);
	c = fx_redis_client(&ctl_redis);
	/* A rank record this build cannot read: r2's p. */
	peek(c, "HSET ssi:u:{r2} p %s", "v1 12");
	ctl(&r, "rank", "r2");
	expect_err(&r, SSICTL_EXIT_UNREADABLE, "rank record of 'r2' is unreadable");
	run_free(&r);
	/* The others leave it out, as ranks do: it is no ranked rep. */
	ctl(&r, "rank", "r3");
	expect_rc(&r, 0);
	run_free(&r);
	ctl(&r, "top", "global");
	expect_rc(&r, 0);
	run_free(&r);
	ctl(&r, "around", "r3");
	expect_rc(&r, 0);
	run_free(&r);
	ctl(&r, "top", "global", "-n", "11");
	expect_rc(&r, 0);
	run_free(&r);
	peek(c, "HSET ssi:u:{r2} p %s", "v1 7000 2500 2500 2000 0");
	/* A segment's aggregate someone else wrote, in partition 1. */
	rank_key(key, ssid_rank_key_aggs, 1);
	{
		const char *seg[SSI_SEG__COUNT] = {[SSI_SEG_INDUSTRY] = "software"};
		char field[64];

		ck_assert_int_eq(
		    ssid_rank_segment_field(SSID_RANK_INDUSTRY, seg, field, sizeof(field)), 10);
		peek(c, "HSET %s %s %s", key, field, "SA garbage");
	}
	for (size_t i = 0; i < 3; i++) {
		static const char *const cmds[][3] = {
		    {"rank", "r2", NULL}, {"around", "r2", NULL}, {"top", "industry", "software"}};

		ctl(&r, cmds[i][0], cmds[i][1], cmds[i][2]);
		expect_err(&r, SSICTL_EXIT_UNREADABLE, "segment 'i:software' in ssi:rk:{p1}:s");
		run_free(&r);
	}
	/* The partition list itself. */
	ck_assert_int_lt(ssid_rank_key_parts("ssi:", key, 128), 128);
	peek(c, "SADD %s not-a-partition", key);
	ctl(&r, "top", "global");
	expect_err(&r, SSICTL_EXIT_UNREADABLE, "not a partition");
	run_free(&r);
	ssid_redis_free(c);
}
END_TEST

START_TEST (ctl_config_and_redis_errors) {
	char bad[PATH_MAX], no_model[PATH_MAX], want[PATH_MAX + 64];
	struct run r;

	populate();
	fx_path(bad, sizeof(bad), "bad.conf");
	write_conf(bad, ctl_redis.port, "no.such.key = 1\n");
	ctl_conf(&r, bad, "rank", "r1", (const char *)NULL);
	snprintf(want, sizeof(want), "%s:9: no.such.key", bad);
	expect_err(&r, SSICTL_EXIT_CONFIG, want);
	run_free(&r);
	ctl_conf(&r, "/nonexistent/ssid.conf", "rank", "r1", (const char *)NULL);
	expect_err(&r, SSICTL_EXIT_CONFIG, "/nonexistent/ssid.conf");
	run_free(&r);
	/* The model is read by score only. */
	fx_path(no_model, sizeof(no_model), "nomodel.conf");
	write_conf(no_model, ctl_redis.port, "");
	{
		char text[4096];
		size_t len;
		char *old = fx_read_file(no_model, &len), *at = strstr(old, "model.file");

		ck_assert_ptr_nonnull(at);
		snprintf(text, sizeof(text), "%.*smodel.file = /nonexistent/model.json\n%s",
			 (int)(at - old), old, strchr(at, '\n') + 1);
		ck_assert_int_eq(fx_write_file(no_model, text, strlen(text)), 0);
		free(old);
	}
	ctl_conf(&r, no_model, "score", "r1", (const char *)NULL);
	expect_err(&r, SSICTL_EXIT_CONFIG, "/nonexistent/model.json");
	run_free(&r);
	ctl_conf(&r, no_model, "rank", "r1", (const char *)NULL);
	expect_rc(&r, 0);
	run_free(&r);

	/* Redis down. */
	ck_assert_int_eq(fx_redis_stop(&ctl_redis), 0);
	if (ctl_redis.seeds[0]) /* a 3x3 cluster's, stopped */
		snprintf(want, sizeof(want),
			 "redis cluster %s: 127.0.0.1:%d: connect: Connection refused (and %d more "
			 "nodes)",
			 ctl_redis.seeds, ctl_redis.port, FX_CLUSTER_NODES - 1);
	else
		snprintf(want, sizeof(want), "redis 127.0.0.1:%d: connect", ctl_redis.port);
	for (size_t i = 0; i < 3; i++) {
		static const char *const cmds[] = {"score", "rank", "history"};

		ctl(&r, cmds[i], "r1");
		expect_err(&r, SSICTL_EXIT_UNAVAILABLE, want);
		run_free(&r);
	}
}
END_TEST

START_TEST (ctl_usage) {
	static const char *const bad[][6] = {
	    {NULL},
	    {"frobnicate", NULL},
	    {"score", NULL},
	    {"score", "a", "b", NULL},
	    {"rank", "r1", "--explain", NULL},
	    {"around", "r1", "-k", "0", NULL},
	    {"around", "r1", "-k", NULL},
	    {"history", "r1", "--days", "0", NULL},
	    {"history", "r1", "--days", "x", NULL},
	    {"top", "global", "-n", "1001", NULL},
	    {"top", "planet", NULL},
	    {"top", "industry", NULL},
	    {"top", "global", "extra", NULL},
	    {"top", "team", "acme", NULL},
	    {"alerts", "now", NULL},
	    {"score", "r1", "--bogus", NULL},
	    {"score", "r1", "-z", NULL},
	};
	struct run r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ctl_conf(&r, NULL, bad[i][0], bad[i][1], bad[i][2], bad[i][3], bad[i][4], NULL);
		expect_err(&r, SSICTL_EXIT_USAGE, "Try 'ssictl --help'.");
		run_free(&r);
	}
	ctl(&r, "--help");
	expect_rc(&r, 0);
	ck_assert_msg(strstr(r.out, "Exit codes:") && strstr(r.out, "  69  Redis or Kafka"), "%s",
		      r.out);
	run_free(&r);
	ctl(&r, "-V");
	expect_out(&r, "ssictl " SSID_VERSION "\n");
	run_free(&r);
}
END_TEST

TCase *ssictl_exit_tcase(void)
{
	return T_TCASE("ctl_exit", ctl_setup, ctl_teardown, 120, ctl_unknown_and_unreadable,
		       ctl_config_and_redis_errors, ctl_usage);
}
