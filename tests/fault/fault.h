/*
 * The fault suite's shared pieces: the suite's Kafka broker, one test's
 * world (redis-server, topics, stream, ssid configuration), a producer
 * thread that keeps events flowing while a test injects its fault, waits on
 * the group's progress, and the checks that end every test, written for
 * streams of hundreds of thousands of events over tens of thousands of
 * users (fixture.h's per-user scans are quadratic there).
 *
 * Every check counts before it asserts, and fault_report() prints one
 * summary line per test to stderr whether the test then passes or not.
 */
#ifndef SSID_TEST_FAULT_H
#define SSID_TEST_FAULT_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <check.h>

#include "fixture.h"
#include "fx_broker.h"

/* The broker every test of the suite talks to; main() starts and stops it. */
extern struct fx_broker fault_broker;
/* The process that runs the suite (Check forks each test from it). */
extern pid_t fault_main_pid;

/* How ssid is set up in the suite: a short session so a killed member's partitions move fast. */
#define FAULT_SESSION_TIMEOUT_MS 2000

/* Checked fixture: fx_setup, plus the broker brought back if a test left it down. */
void fault_setup(void);
void fault_teardown(void);

/* ---- one test's world ----------------------------------------------------- */

struct fault_env {
	struct fx_redis redis;
	struct fx_kafka kafka;
	struct fx_stream stream;
	struct ssi_model model;
	char conf_path[PATH_MAX];
	char log_path[PATH_MAX]; /* ssid.log in the scratch directory */
};

struct fault_opts {
	int users, partitions;
	bool persistent_redis;
	int batch_max_events;		 /* 0: ssid's default */
	const char *const *input_config; /* topic config pairs for the input topic, or NULL */
};

/* redis-server, the three topics of tag on the suite's broker, the clients, the config file. */
void fault_env_open(struct fault_env *e, const char *tag, const struct fault_opts *o);
void fault_env_close(struct fault_env *e);
/* "<scratch>/name" for a second ssid's log. */
const char *fault_log_path(char *buf, size_t len, const char *name);

/* The real ssid binary on e's configuration; env as fx_ssid_spawn. */
void fault_spawn(struct fault_env *e, struct fx_proc *p, const char *const env[],
		 const char *log_path);
/* SIGKILL and reap. */
void fault_kill9(struct fx_proc *p);

/* ---- events flowing ------------------------------------------------------- */

/*
 * A thread producing stream events [from, to) in slices of slice events,
 * pausing pause_ms between slices (the pace is the point: events keep
 * arriving while the test breaks things). The main thread must not touch
 * the stream's events in that range until fault_feed_join.
 */
struct fault_feeder {
	struct fx_kafka *k;
	struct fx_stream *s;
	size_t from, to, slice;
	int pause_ms;
	pthread_t thread;
	atomic_size_t produced; /* events of the range flushed so far */
	int rc;
};

void fault_feed_start(struct fault_feeder *f, struct fx_kafka *k, struct fx_stream *s, size_t from,
		      size_t to, size_t slice, int pause_ms);
/* Join it; Check assertion that every event was produced. */
void fault_feed_join(struct fault_feeder *f);

/* ---- progress -------------------------------------------------------------- */

/* Monotonic milliseconds, for the figures the summary line reports. */
int64_t fault_now_ms(void);
/* Sum of the group's committed input offsets (0 while it has none, or on error). */
int64_t fault_committed_total(struct fx_kafka *k);
/*
 * Poll until the group has committed at least total input messages; fail if
 * one of the n processes in procs exits or FX_WAIT_MS passes.
 */
void fault_wait_total(struct fx_kafka *k, int64_t total, struct fx_proc *const procs[], size_t n,
		      const char *log_path);
/* Poll until the group has committed every event of ev[0, upto) (they must be produced). */
void fault_wait_prefix(struct fx_kafka *k, const struct fx_stream *s, size_t upto,
		       struct fx_proc *const procs[], size_t n, const char *log_path);
/* Fail if one of the n processes in procs has exited (it is reaped). */
void fault_check_alive(struct fx_proc *const procs[], size_t n, const char *log_path);
/* Sleep for ms (a fault's required length), failing if one of procs exits meanwhile. */
void fault_hold(int64_t ms, struct fx_proc *const procs[], size_t n, const char *log_path);

/* ---- results ------------------------------------------------------------- */

struct fault_result {
	size_t users, events, bad_events;
	size_t ref_applied, ref_duplicates; /* what the reference run did */
	/*
	 * Count units (per day and counter, and net connections) the stored
	 * states lack against the reference, and hold beyond it.
	 */
	long lost, doubled;
	size_t users_missing, users_differ, marks_wrong;
	size_t published_missing, published_wrong;
	/* Set by the test: users apart from the stream's it expects (keys, outputs). */
	size_t other_users;
	size_t stray_users; /* user keys that are neither */
	/* score.updated of the stream's users, and those no prefix of its events scores */
	size_t outputs, outputs_wrong;
	/* users without one, users whose last one is not the reference */
	size_t outputs_missing, outputs_last_wrong;
	size_t outputs_other; /* other types in the output topic, other users' scores */
	size_t dead_letters, dlq_wrong, dlq_missing, dlq_twice;
	size_t decay_wrong; /* users in no roster, in another partition's, or in several */
	size_t ranks_wrong; /* rank records and segment aggregates that are not the oracle's */
	char first_problem[512];
	/* Internal: the reference, its score, and the score of every prefix of a user's events. */
	struct ssi_state *ref;
	struct ssi_score *want;
	struct ssi_score *prefix_score; /* indexed by stream position */
	size_t *user_first, *user_events;
};

/*
 * Compare every user's Redis record with the engine's reference over the
 * same events: state (marks aside; the mark of the user's partition must be
 * its last event), and the published score `p` when there is one
 * (require_published: there must be one). Counts into res; asserts nothing.
 */
void fault_check_states(const struct fault_env *e, struct fault_result *res,
			bool require_published);
/*
 * The output topic: every message's score is the score of some prefix of
 * its user's events (a repeat after a crash is fine, a wrong value is not);
 * every user has one and the last is the reference. After fault_check_states.
 */
void fault_check_outputs(struct fault_env *e, struct fault_result *res);
/* The dead-letter topic: each bad event of the stream exactly once, with its reason. */
void fault_check_dead_letters(struct fault_env *e, struct fault_result *res);
/*
 * The decay schedule followed the partitions: every user with a state is in
 * exactly one roster ssi:ro:<N> (ssid_store.h), N being the partition its
 * events were produced to, and no older build's ssi:dz:<N> is left.
 */
void fault_check_decay_schedule_follows_partitions(const struct fault_env *e,
						   struct fault_result *res);

/*
 * One line to stderr: test, events, the fault, its length, the recovery time
 * (fault's end to every offset committed), lost and double-counted.
 */
void fault_report(const char *test, const struct fault_result *res, const char *fault,
		  double outage_s, double recovery_s);
/* The Check assertions over res (after fault_report), then free its internals. */
void fault_assert(struct fault_result *res);

/*
 * With every ssid stopped: ranks stored in Redis against an oracle over the
 * reference scores (fault_check_states builds the reference first).
 */
void fault_check_ranks(const struct fault_env *e, struct fault_result *res);

#endif
