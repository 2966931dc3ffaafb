/*
 * What the ssictl suite's files share (ctl_util.c defines it): ssictl run
 * in-process (ssictl_run) against a real redis-server, its output checked,
 * and a known state written by the daemon's own modules: states by
 * ssid_store_save (built with ssi_state_apply), ranks by ssid_rank_apply,
 * histories by ssid_store_save (fx_deliver), connection sets as the daemon
 * keeps them. The suite's files: test_ssictl.c (score, history, alerts),
 * test_ssictl_rank.c (rank, around, top), test_ssictl_exit.c (exit codes,
 * usage), test_network.c (network ranks).
 *
 * The known ranks (rank.min_members = 3), totals in points:
 *   rep  tenant/team   industry  total   global  industry  tenant  team
 *   r1   acme/emea     software  80      1       1 of 3    1 of 4  1 of 3
 *   r2   acme/emea     software  70      2       2         2       2
 *   r3   acme/emea     retail    70      2       hidden    2       2
 *   r4   acme/apac     software  60      4       3         4       hidden
 *   r5   globex/-      retail    50      5       hidden    hidden  -
 *   r6   -/-           -         40      6       -         -       -
 * Networks: r1 knows r2 r4 r6, "stranger" (no user) and lists itself; r2
 * knows r1 r3 r4; r5 knows r6. Rep i's events come from partition i % 2, so
 * most segments are spread over both partitions' aggregates.
 */
#ifndef SSID_TEST_CTL_UTIL_H
#define SSID_TEST_CTL_UTIL_H

#include <limits.h>
#include <stddef.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "fixture.h"
#include "ssi_model.h"
#include "ssi_state.h"

/* Set up per test by ctl_setup: the server, its ssid.conf, the model. */
extern struct fx_redis ctl_redis;
extern char ctl_conf_path[PATH_MAX];
extern struct ssi_model ctl_model;

/* The checked fixture of the suite's test cases. */
void ctl_setup(void);
void ctl_teardown(void);

/* ssid.conf for this server: the fixtures' clock, a Kafka nobody talks to,
 * floor 3, then extra (may be NULL). */
void write_conf(const char *path, int port, const char *extra);

/* ---- running ssictl ------------------------------------------------------- */

struct run {
	int rc;
	char *out, *err;
	size_t out_len, err_len;
};

void run_free(struct run *r);
/* ssictl -c conf args... (NULL-terminated); conf NULL: the test's ssid.conf. */
void ctl_conf(struct run *r, const char *conf, ...);
#define ctl(r, ...) ctl_conf(r, NULL, __VA_ARGS__, (const char *)NULL)

void expect_rc(const struct run *r, int rc);
/* Exit 0 and exactly want on stdout. */
void expect_out(const struct run *r, const char *want);
/* Exit rc, needle on stderr, nothing on stdout. */
void expect_err(const struct run *r, int rc, const char *needle);
/* Exit 0 and one JSON document on one line (json_decref it). */
json_t *expect_json(const struct run *r);

/* The JSON value at a path of object keys, "a.b.c"; NULL if absent. */
json_t *jget(json_t *j, const char *path);
/* The same, asserted to be of the type. */
long long jint(json_t *j, const char *path);
double jnum(json_t *j, const char *path);
const char *jstr(json_t *j, const char *path);

/* ---- the known state ------------------------------------------------------ */

/*
 * Writes the known state above into the test's Redis: the ranks, the
 * networks, the states of r1 and alice (no rank yet), r1's history and
 * published score, and bob's state and history this build cannot read.
 */
void populate(void);
/* A Redis command that must not fail. */
void peek(struct ssid_redis *c, const char *fmt, ...);
/* The state of a rep's activity (profile, sessions, posts, connections). */
void build_state(struct ssi_state *st, const char *user, const char *tenant, const char *team,
		 const char *industry);
/* centipoints as points ("55.00") in buf (16 bytes). */
const char *pts(int centipoints, char *buf);

#endif
