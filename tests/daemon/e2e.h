/*
 * What the end-to-end suites of ranks (test_ranks_e2e.c), decay and alerts
 * (test_decay_alerts.c) and rebuilds (test_rebuild.c) share: ssid in a
 * thread against fixture.h's redis-server and mock cluster, events of reps
 * with segments of their own, waves of events that are exactly one batch, a
 * scoring clock read from a file, the engine's reference scores, and the
 * output topic parsed. Everything asserts with Check.
 *
 * A rep's rank depends on who else is in the segment when the batch is
 * scored, so the rank tests make each wave of events exactly one batch:
 * batch.max_events is the size of a wave, batch.max_wait_ms is long, and a
 * wave is produced only once the previous one is committed. The time tests
 * drive the scoring clock through a file (clock = file:<path>) and, after
 * each step, wait until the daemon has rescored every rep the schedule in
 * Redis said was due: no sleeps, no timed assertions.
 */
#ifndef SSID_TEST_E2E_H
#define SSID_TEST_E2E_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <check.h>
#include <hiredis/hiredis.h>
#include <jansson.h>

#include "fixture.h"
#include "ssi_time.h"

#define E2E_MAX_REPS 48
#define DAY	     SSI_MS_PER_DAY

/* A rep's segments; NULL or "" for none. */
struct e2e_seg {
	const char *tenant, *team, *industry;
};

/* Everything one test runs against; torn down by e2e_close. */
struct e2e_env {
	struct fx_env fx;
	struct fx_daemon daemon;
	struct e2e_seg seg[E2E_MAX_REPS];
	uint64_t seq;
	int wave; /* events per batch when waves are batches, else 0 */
	char clock_path[PATH_MAX];
	char clock[PATH_MAX + 8];
	char conf[8192];
};

/*
 * A suite of the n tests, in one test case with the fixture's setup and
 * teardown and a bound of 120 s per test.
 */
Suite *e2e_suite(const char *name, const TTest *const tests[], size_t n);
/* Define Suite *fn(void) as e2e_suite(name, the tests after it). */
#define E2E_SUITE(fn, name, ...)                                                                   \
	Suite *fn(void)                                                                            \
	{                                                                                          \
		const TTest *const tests_[] = {__VA_ARGS__};                                       \
                                                                                                   \
		return e2e_suite(name, tests_, sizeof(tests_) / sizeof(tests_[0]));                \
	}

/* fx_env_open with users reps (at most E2E_MAX_REPS) and no segments yet. */
void e2e_open(struct e2e_env *e, const char *tag, int users, bool persistent_redis);
/* Everything e2e_open started; the daemon must be stopped already. */
void e2e_close(struct e2e_env *e);

/* How a test runs the daemon. */
struct e2e_run {
	const char *extra;	/* more configuration lines, or NULL */
	int batch;		/* batch.max_events; 0: the default */
	bool waves;		/* every wave of batch events is exactly one batch */
	bool file_clock;	/* the scoring clock is read from e->clock_path */
	const char *model_file; /* NULL: config/model.json */
	bool onboarding;	/* the onboarding rules on, at their defaults (fx_conf) */
	bool gather_long;	/* batch.max_wait_ms 500: what is produced at once is one batch */
};

/* The configuration text of r into e->conf. */
void e2e_conf(struct e2e_env *e, const struct e2e_run *r);
/* ssid in a thread with r's configuration (also what a reload rereads). */
void e2e_start(struct e2e_env *e, const struct e2e_run *r);
/* Write the scoring clock the daemon reads (atomically: rename). */
void e2e_clock_set(const struct e2e_env *e, int64_t ms);

/* ---- events --------------------------------------------------------------- */

/* Profile fields, for e2e_profile(). */
enum {
	E2E_PF_PHOTO = 1,
	E2E_PF_BACKGROUND = 2,
	E2E_PF_HEADLINE = 4,
	E2E_PF_SUMMARY = 8,
	E2E_PF_EXPERIENCE = 16,
	E2E_PF_ALL = 31,
};

/* The attrs of a profile_updated snapshot. */
const char *e2e_profile(char *buf, size_t len, unsigned fields, int skills, int media);
/* One valid event of rep u at at_ms, with all of u's segments and attrs ("" or ",\"attrs\":...").
 */
void e2e_add_ev(struct e2e_env *e, int u, enum ssi_event_type t, int64_t at_ms, const char *attrs);

/* Activity that only ever adds points (no rates that an event can lower). */
#define E2E_NPLAIN 14
extern const enum ssi_event_type e2e_plain_types[E2E_NPLAIN];

/* n articles of rep u, two a day (the daily cap), from back days ago backwards. */
void e2e_add_articles(struct e2e_env *e, int u, int n, int back);

/* ---- the daemon ------------------------------------------------------------ */

#define E2E_STAT(field) offsetof(struct ssid_daemon_stats, field)

/* Poll d's counter at off (E2E_STAT(events)...) until it reaches at least want. */
void e2e_wait_stat(const struct fx_daemon *d, size_t off, uint64_t want, const char *what);
/* Produce stream[from, to) and wait until it is committed and counted. */
void e2e_produce_range(struct e2e_env *e, size_t from, size_t to);
/* Produce stream[from, n), the latest wave. */
void e2e_produce_wave(struct e2e_env *e, size_t from);
/* Rewrite the daemon's configuration file with extra lines and reload it. */
void e2e_reload_with(struct e2e_env *e, const char *extra, uint64_t reloads);

/* ---- reference scores ------------------------------------------------------ */

/* The engine's score of rep u's events ev[0, upto) at at_ms under m. */
void e2e_ref_score(const struct e2e_env *e, int u, size_t upto, const struct ssi_model *m,
		   int64_t at_ms, struct ssi_score *out);
/* The engine's state of rep u after the whole stream (initialises st). */
void e2e_ref_state(const struct e2e_env *e, int u, struct ssi_state *st);

/* A Redis command on c that must not fail; the caller frees the reply. */
redisReply *e2e_rcmd(struct ssid_redis *c, const char *fmt, ...);
/* A Redis command whose reply must be an integer (ZCOUNT, ZCARD). */
long long e2e_rint(struct ssid_redis *c, const char *fmt, ...);

/* ---- the decay schedule ------------------------------------------------------ */

/* Reps due at or before at_ms in the schedules of all partitions, as Redis holds them. */
long long e2e_due_count(struct ssid_redis *c, int partitions, int64_t at_ms);
/*
 * One clock step: count the reps the schedule says are due, move the clock
 * to at_ms, and wait until the daemons d[0..nd) have rescored exactly those
 * and none is left due. Returns how many there were.
 */
long long e2e_step_clock(const struct e2e_env *e, const struct fx_daemon *const *d, int nd,
			 int64_t at_ms);

/* ---- outputs ----------------------------------------------------------------- */

/* One message of the output topic, parsed. */
struct e2e_out {
	json_t *j;
	const char *type;
	int user; /* index in the stream, -1 when it names no rep of the stream */
};

struct e2e_outs {
	struct e2e_out *o;
	size_t n;
};

/*
 * The whole output topic. A rep's messages are keyed by the rep and so in
 * one partition, in the order they were produced.
 */
void e2e_outs_read(const struct e2e_env *e, struct e2e_outs *os);
/* Release what e2e_outs_read parsed. */
void e2e_outs_free(struct e2e_outs *os);
/* Whether o is a message of type ("score.updated", "alert"...). */
bool e2e_is_type(const struct e2e_out *o, const char *type);
/* How many messages of type the topic holds. */
size_t e2e_count_type(const struct e2e_outs *os, const char *type);
/* A JSON number of points in centipoints, how the engine counts. */
int e2e_cp(const json_t *v);
/* A string member that must be there. */
const char *e2e_str_of(const json_t *j, const char *key);
/* A pillars object and its total into s. */
void e2e_pillars_of(const json_t *obj, struct ssi_score *s);
/* The score a message carries: its pillars, whose sum must be its ssi. */
void e2e_score_of(const json_t *j, struct ssi_score *s);
/* The scoring clock a message was made at. */
int64_t e2e_as_of(const json_t *j);
/* Same total and pillars: scores are exact integers, never compared with a tolerance. */
bool e2e_score_eq(const struct ssi_score *a, const struct ssi_score *b);
/* The last score.updated of rep u, or NULL. */
const json_t *e2e_last_score(const struct e2e_outs *os, int u);

#endif
