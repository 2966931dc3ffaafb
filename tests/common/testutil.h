/* Helpers shared by the Check suites: events and scores built in C, a seeded PRNG, test cases and
 * the suite runner. */
#ifndef SSI_TESTUTIL_H
#define SSI_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include <check.h>

#include "ssi_event.h"
#include "ssi_model.h"
#include "ssi_score.h"
#include "ssi_state.h"

/* 2026-11-20T00:00:00Z, a Friday: the "now" most tests start from. */
#define T_NOW  1795132800000LL
#define T_HOUR 3600000LL
#define T_DAY  86400000LL

/* splitmix64: tiny, seedable, good enough to drive property tests. */
struct t_rng {
	uint64_t s;
};
uint64_t t_rand(struct t_rng *r);
/* Uniform in [0, n). */
uint64_t t_below(struct t_rng *r, uint64_t n);

/* An event of type t at at_ms for user "u1", id "e<seq>", attrs zeroed. */
void t_event(struct ssi_event *ev, enum ssi_event_type t, int64_t at_ms, uint64_t seq);
/* A random valid event inside the window ending at now_ms. */
void t_event_random(struct ssi_event *ev, struct t_rng *r, int64_t now_ms, int window_days,
		    uint64_t seq);

/* A score of total centipoints over the pillars, brand first, each at most
 * 25.00: 80.00 is 25 + 25 + 25 + 5. */
struct ssi_score t_spread(int total);

/* Apply n events of type t spread over the hours of day_ms's day. */
void t_apply_n(struct ssi_state *st, const struct ssi_model *m, enum ssi_event_type t,
	       int64_t day_ms, int n, uint64_t *seq);

/*
 * A test case named name of the n tests, each bounded by timeout_s seconds
 * (0: Check's default), with a checked fixture unless setup and teardown
 * are both NULL. T_TCASE(name, setup, teardown, timeout_s, tests...) counts
 * the tests for you.
 */
TCase *t_tcase(const char *name, SFun setup, SFun teardown, double timeout_s,
	       const TTest *const tests[], size_t n);
#define T_TCASE(name, setup, teardown, timeout_s, ...)                                             \
	t_tcase(name, setup, teardown, timeout_s, (const TTest *const[]){__VA_ARGS__},             \
		sizeof((const TTest *const[]){__VA_ARGS__}) / sizeof(const TTest *))

/*
 * Run the n suites in one SRunner, so Check prints one summary line: EXIT_SUCCESS or
 * EXIT_FAILURE. With T_SUITES="a b ..." in the environment, only those suites, one
 * SRunner each (a name that runs no test fails), so a Makefile can split them.
 */
int t_run_suites(Suite *(*const suites[])(void), size_t n);

#endif
