/*
 * Fixtures for the daemon's integration tests: a real redis-server on a free
 * loopback port, librdkafka's mock cluster speaking the real protocol, event
 * streams with their expected outcome, readers for what ssid wrote, and ssid
 * itself, either in a thread of the test process or as the real binary.
 *
 * Nothing here sleeps for a fixed time to wait for something: callers poll
 * the condition they care about until a deadline (fx_deadline, fx_expired,
 * fx_pause) and fail with a message when it passes.
 *
 * Every process started here is recorded, put in its own process group and
 * told to die with the thread that started it (PR_SET_PDEATHSIG), so a test
 * that fails half-way (Check then _exit()s the forked test) leaves nothing
 * behind; fx_teardown() kills and reaps whatever is still recorded, for
 * CK_FORK=no runs.
 *
 * The sections below live in fixture_proc.c (time and files, processes),
 * fixture_redis.c (redis-server, Redis records), fixture_kafka.c (Kafka, a
 * real broker), fixture_stream.c, fixture_daemon.c (ssid, one test's
 * world), fixture_check.c and fixture_poison.c (both poison sections);
 * fixture_int.h is what those files share.
 */
#ifndef SSID_TEST_FIXTURE_H
#define SSID_TEST_FIXTURE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>

#include "ssi_model.h"
#include "ssi_score.h"
#include "ssi_state.h"
#include "ssid_daemon.h"
#include "ssid_kafka.h"
#include "ssid_redis.h"
#include "testutil.h"

/* The scoring clock of every daemon under test: 2026-11-20T12:00:00Z. */
#define FX_NOW_MS (T_NOW + 12 * T_HOUR)
#define FX_CLOCK  "fixed:2026-11-20T12:00:00Z"
#define FX_AS_OF  "2026-11-20T12:00:00.000Z"
/* The bound on every wait: generous, a passing run needs a fraction of it. */
#define FX_WAIT_MS	  60000
#define FX_PARTITIONS_MAX 16

/* ---- time and files ---------------------------------------------------- */

int64_t fx_deadline(int timeout_ms);
/* A loopback TCP port nobody listens on right now (the kernel's pick), or -errno. */
int fx_free_port(void);
bool fx_expired(int64_t deadline);
/* A short pause between two looks at a condition being polled. */
void fx_pause(void);

/*
 * Per test: SIGPIPE ignored, a scratch directory; fx_teardown undoes it all
 * (SSID_TEST_KEEP=1 in the environment keeps the directory, for a look at
 * the logs).
 */
void fx_setup(void);
void fx_teardown(void);
/* <the test's scratch directory>/name into buf. */
const char *fx_path(char *buf, size_t len, const char *name);

/* Remove dir and everything below it, as far as it goes. */
void fx_remove_tree(const char *dir);
int fx_write_file(const char *path, const void *data, size_t len);
/* The whole file, NUL-terminated (free it); NULL with errno on failure. */
char *fx_read_file(const char *path, size_t *len);
/* Whether the file contains needle. */
bool fx_file_contains(const char *path, const char *needle);
/* Absolute path of config/model.json (tests run from the repository root). */
const char *fx_model_path(void);
/*
 * config/model.json written to path with another model_version (NULL: the
 * same) and brand weight moved between profile completeness and articles.
 */
void fx_write_model(const char *path, const char *version, double profile_weight);

/* ---- processes --------------------------------------------------------- */

struct fx_proc {
	pid_t pid; /* 0 when not running */
	int status;
	bool exited; /* reaped: status is valid */
};

/*
 * fork + execvp argv with extra environment entries ("K=V", NULL-terminated,
 * may be NULL) and stdout/stderr redirected to files (NULL: inherited).
 */
int fx_spawn(struct fx_proc *p, const char *const argv[], const char *const env[],
	     const char *stdout_path, const char *stderr_path);
/* Reap p if it has exited within timeout_ms: 0, or -ETIMEDOUT. */
int fx_proc_wait(struct fx_proc *p, int timeout_ms);
int fx_proc_signal(struct fx_proc *p, int sig);
/* Whether p's process group has no process left. */
bool fx_proc_group_gone(const struct fx_proc *p);

/* The ssid binary beside the test binary (../ssid), or $SSID_BIN. */
const char *fx_ssid_path(void);

/* ---- redis-server ------------------------------------------------------ */

#define FX_CLUSTER_NODES 6

struct fx_redis {
	struct fx_proc proc;
	int port; /* chosen on the first start, kept on restarts */
	bool persistent;
	bool cluster; /* a one-node cluster (SSID_TEST_REDIS_CLUSTER=1) */
	bool member;  /* one node of the 3x3 cluster below: no slots of its own at start */
	char dir[PATH_MAX];
	/*
	 * SSID_TEST_REDIS_CLUSTER=3: the FX_CLUSTER_NODES nodes (owned), three
	 * masters and a replica of each; port is the first node's, seeds lists all.
	 */
	struct fx_redis *node;
	char seeds[FX_CLUSTER_NODES * 24];
};

/* SSID_TEST_REDIS_CLUSTER: 0 (a plain server), 1 (one-node clusters) or 3 (3x3 clusters). */
int fx_redis_cluster_size(void);

/*
 * Start redis-server in dir (created if missing) and wait until it answers PING.
 *
 * With SSID_TEST_REDIS_CLUSTER=1 (not 0 or empty) in the environment, the
 * server is a one-node cluster: cluster-enabled, its nodes.conf in dir (a
 * restart in the same dir comes back with its slots), all 16384 slots
 * assigned to it, and this waits for cluster_state:ok too. Such a node
 * refuses, with CROSSSLOT, any command or MULTI/EXEC whose keys span hash
 * slots, and has database 0 only (redis.db must stay 0). hiredis talks to it
 * as to a plain server: every slot is local, nothing is ever MOVED.
 */
int fx_redis_start(struct fx_redis *r, const char *dir, bool persistent);
/*
 * With SSID_TEST_REDIS_CLUSTER=3 (fixture_cluster.c) it starts six
 * cluster nodes instead (no persistence; persistent is ignored), each in
 * dir/node<i> on free ports, joins them with redis-cli --cluster create
 * --cluster-replicas 1, and waits until every node says cluster_state:ok and
 * every master has its replica in sync. Its stop stops all six, and a later
 * start makes a new, empty cluster.
 */
/* r zeroed and a 3x3 cluster started in <scratch>/redis, whatever the environment says. */
void fx_cluster_start_in_scratch(struct fx_redis *r);
/* The node of the 3x3 cluster r that is master of slot now (CLUSTER SHARDS on a live node), or -1.
 */
int fx_cluster_master_of(const struct fx_redis *r, int slot);
/* The master node of every slot (-1: none) as the first live node sees it (Check assertion). */
void fx_cluster_slot_masters(const struct fx_redis *r, int owner[16384]);
/* kill -9 node i of the 3x3 cluster r. */
void fx_cluster_kill(struct fx_redis *r, int i);
/* Node i's cluster node id (CLUSTER MYID). */
void fx_cluster_node_id(const struct fx_redis *r, int i, char *id, size_t len);
/*
 * Start redis-cli --cluster reshard moving nslots slots from node from to
 * node to, in the background (its output in <r->dir>/reshard.log): wait
 * for p with fx_proc_wait.
 */
void fx_cluster_reshard_spawn(const struct fx_redis *r, int from, int to, int nslots,
			      struct fx_proc *p);
/*
 * Wait until every live node of r says cluster_state:ok and no slot is
 * served by a dead node (a failover done); Check failure after FX_WAIT_MS.
 */
void fx_cluster_wait_ok(const struct fx_redis *r);
/*
 * Per test: a fresh non-persistent server in <scratch>/redis (a Check
 * failure if it does not start), and its stop, for suites that keep one
 * server per test.
 */
void fx_redis_setup(struct fx_redis *r);
void fx_redis_teardown(struct fx_redis *r);
/*
 * r zeroed and a redis-server started in <scratch>/redis (persistent: with
 * its append-only file, so a restart there keeps the data); a Check failure
 * if it does not start.
 */
void fx_redis_start_in_scratch(struct fx_redis *r, bool persistent);
/* Connection options for the ssid_* Redis modules, prefix "ssi:" (a 3x3 cluster: its seeds). */
struct ssid_redis_opts fx_redis_opts(const struct fx_redis *r);
/*
 * An ssid_redis client on r with fx_redis_opts (Check assertion): what a
 * test looks at Redis through when it may run on a 3x3 cluster
 * (ssid_redis_command routes by the first argument's slot).
 */
struct ssid_redis *fx_redis_client(const struct fx_redis *r);
/*
 * The test's own hiredis connection to r (5 s timeouts), to look at or spoil
 * what was written (Check assertion); redisFree it. On a 3x3 cluster: its
 * first node only.
 */
redisContext *fx_redis_peek(const struct fx_redis *r);
/* Check assertions: reply (of a command on c) came and is no error; then free it. */
void fx_redis_peek_ok(redisContext *c, redisReply *reply);
/* How many times the server ran cmd ("hmget"), from INFO commandstats; 0 never. */
long long fx_redis_command_calls(redisContext *c, const char *cmd);

/* SIGTERM and wait for the exit (a persistent server writes its data first). */
int fx_redis_stop(struct fx_redis *r);

/* ---- Kafka --------------------------------------------------------------- */

struct fx_kafka {
	struct ssid_mock *mock;
	const char *bootstraps;
	int partitions;
	char input[64], output[64], dlq[64], group[64];
	rd_kafka_t *producer;  /* produces the input events */
	rd_kafka_t *inspector; /* group.id = group: reads committed offsets */
};

/* A one-broker mock cluster with the three topics named after tag. */
int fx_kafka_start(struct fx_kafka *k, const char *tag, int partitions);
void fx_kafka_free(struct fx_kafka *k);
/* The group's committed offsets of the input topic (RD_KAFKA_OFFSET_INVALID: none). */
int fx_kafka_committed(struct fx_kafka *k, int64_t out[FX_PARTITIONS_MAX]);

/* One message read back from a topic. */
struct fx_msg {
	char *key, *value; /* NUL-terminated copies; key NULL when absent */
	size_t key_len, len;
	int32_t partition;
	int64_t offset;
	rd_kafka_headers_t *headers; /* NULL when none */
};

struct fx_msgs {
	struct fx_msg *m;
	size_t n, cap;
};

/* Every message of topic up to its end as of the call, partition by partition. */
int fx_kafka_read_topic(struct fx_kafka *k, const char *topic, struct fx_msgs *out);
void fx_msgs_free(struct fx_msgs *l);
/* A header's value as a NUL-terminated string into buf; NULL when absent. */
const char *fx_msg_header(const struct fx_msg *m, const char *name, char *buf, size_t len);

/* ---- event streams ------------------------------------------------------- */

/* One input message and what ssid must make of it. */
struct fx_event {
	char key[SSI_ID_MAX + 1];
	char *value; /* owned */
	size_t len;
	int user;	      /* index of the user, -1 when none applies */
	char expect_code[64]; /* "" for a valid event, else the DLQ reason code */
	int32_t partition;    /* from the delivery report */
	int64_t offset;	      /* from the delivery report, -1 before */
};

struct fx_stream {
	struct fx_event *ev;
	size_t n, cap;
	int nusers;
	char tag[32];
	uint64_t seq;
};

void fx_stream_init(struct fx_stream *s, const char *tag, int nusers);
void fx_stream_free(struct fx_stream *s);
/* The id of user i ("<tag>-u07"). */
const char *fx_user_id(const struct fx_stream *s, int user, char *buf, size_t len);
/*
 * n valid events of random types (every event type occurs), random users
 * and times in the last three weeks; a user's first event carries all its
 * segments; about one in thirty is an exact resend of an earlier one.
 */
int fx_stream_add_random(struct fx_stream *s, struct t_rng *rng, size_t n);
/* One valid event of type t (random time and attrs) for every user. */
int fx_stream_add_each_user(struct fx_stream *s, struct t_rng *rng, enum ssi_event_type t);
/* One message as given, keyed by key; expect_code "" when it is valid. */
int fx_stream_add_raw(struct fx_stream *s, const char *key, int user, const void *value, size_t len,
		      const char *expect_code);
/* Produce ev[from, to) to the input topic and record where each landed. */
int fx_produce(struct fx_kafka *k, struct fx_stream *s, size_t from, size_t to);

/*
 * What the engine makes of the stream's valid events of user in ev[0, upto),
 * in produced order, under m at FX_NOW_MS (pruned like the daemon does).
 * Counts applied and duplicate events into the optional counters.
 */
int fx_reference_state(const struct fx_stream *s, int user, size_t upto, const struct ssi_model *m,
		       struct ssi_state *out, size_t *applied, size_t *duplicates);
/* The same counts over every user of the whole stream (a Check failure on error). */
void fx_reference_counts(const struct fx_stream *s, const struct ssi_model *m, size_t *applied,
			 size_t *duplicates);

/* ---- Redis records ------------------------------------------------------- */

/* User's record as ssid stores it: has_state/has_published say what was there. */
struct fx_record {
	bool has_state, has_published;
	struct ssi_state state;
	struct ssi_score published;
};

int fx_redis_record(const struct fx_redis *r, const char *user_id, struct fx_record *rec);
void fx_record_clear(struct fx_record *rec);
/*
 * One rep's score delivered on day, and what loading found of its stored
 * history (history_status: 0, or -EBADMSG / -EPROTONOSUPPORT unreadable).
 */
struct fx_delivery {
	const char *user_id; /* borrowed */
	int32_t day;
	struct ssi_score score;
	int history_status; /* set by fx_deliver */
};

struct ssid_store;

/*
 * Deliver d[0..n) (one per rep) the way ssid does, through the one writer of
 * reps' histories: ssid_store_load the reps (partition 0), record each
 * score into the rep's history kept retention_days (as pipe_derive: an
 * unreadable history is left as stored), ssid_store_stage_delivered, one
 * ssid_store_save. 0, or the first -errno of the load, of a
 * ssi_history_set_retention or ssi_history_record, or of the save.
 */
int fx_deliver(struct ssid_store *s, struct fx_delivery *d, size_t n, int retention_days);
/* How many "ssi:u:{...}" keys exist. */
long fx_redis_user_keys(const struct fx_redis *r);
/* How many keys match a KEYS pattern ("ssi:rk:*"), over the masters of a 3x3 cluster; -EIO. */
long fx_redis_count_keys(const struct fx_redis *r, const char *pattern);

/* ---- ssid ---------------------------------------------------------------- */

struct fx_conf {
	int batch_max_events;	/* 0: ssid's default */
	int batch_max_wait_ms;	/* 0: 20; < 0: no wait at all */
	const char *model_file; /* NULL: config/model.json */
	const char *clock;	/* NULL: FX_CLOCK */
	const char *extra;	/* more lines, or NULL */
	/*
	 * The onboarding rules (alert.max_event_age_ms, rank.warmup_ms) at
	 * ssid's defaults. Off otherwise: most suites send weeks of events
	 * against a fixed clock and test the rules those rules would silence.
	 */
	bool onboarding;
};

/* A complete ssid.conf for the cluster and the server, fixed clock, fast retries. */
int fx_config_text(char *buf, size_t len, const struct fx_kafka *k, const struct fx_redis *r,
		   const struct fx_conf *c);
/* The same written to <scratch>/name; the path goes to path. */
int fx_config_file(char *path, size_t len, const char *name, const struct fx_kafka *k,
		   const struct fx_redis *r, const struct fx_conf *c);

/*
 * ssid in a thread of this process: the configuration is written to
 * <scratch>/ssid-thread.conf (a reload reads it again), the log goes to
 * <scratch>/ssid-thread.log.
 */
struct fx_daemon_run;

struct fx_daemon {
	struct fx_daemon_run *run; /* shared with the thread */
	char log_path[PATH_MAX];
};

int fx_daemon_start(struct fx_daemon *fd, const char *conf_text, char *err, size_t errlen);
void fx_daemon_stats(const struct fx_daemon *fd, struct ssid_daemon_stats *st);
void fx_daemon_reload(const struct fx_daemon *fd);
/* Whether ssid_daemon_run has returned on its own. */
bool fx_daemon_returned(const struct fx_daemon *fd);
/* Ask it to stop and join it (bounded); returns what ssid_daemon_run returned. */
int fx_daemon_stop(struct fx_daemon *fd);
/*
 * The same, with the counters as it stopped in *st: what a test compares
 * with the topics (a board or decay flushed after a last look is counted).
 */
int fx_daemon_stop_stats(struct fx_daemon *fd, struct ssid_daemon_stats *st);

/*
 * Poll the counters of the daemon thread until it has taken in n events (a
 * Check failure if it stops or FX_WAIT_MS passes); st holds the last look.
 */
void fx_daemon_wait_events(const struct fx_daemon *fd, uint64_t n, struct ssid_daemon_stats *st);

/*
 * Poll the counters until ready(st) holds (a Check failure naming what if
 * the daemon stops or FX_WAIT_MS passes); st holds the last look.
 */
void fx_daemon_wait_until(const struct fx_daemon *fd,
			  bool (*ready)(const struct ssid_daemon_stats *), const char *what,
			  struct ssid_daemon_stats *st);
/* A ready() for it: degraded, after at least one failed batch. */
bool fx_daemon_is_degraded(const struct ssid_daemon_stats *st);

/* The real binary with --config path; extra env entries may be NULL. */
int fx_ssid_spawn(struct fx_proc *p, const char *conf_path, const char *const env[],
		  const char *log_path);
/* SIGTERM, and insist on a clean exit within FX_WAIT_MS with nothing left behind. */
void fx_ssid_stop_cleanly(struct fx_proc *p, const char *log_path);

/* ---- one test's world ---------------------------------------------------- */

struct fx_env {
	struct fx_redis redis;
	struct fx_kafka kafka;
	struct fx_stream stream;
	struct ssi_model model; /* config/model.json */
};

/*
 * config/model.json loaded, a redis-server in <scratch>/redis, a
 * 4-partition mock cluster with the topics of tag, and an empty stream of
 * users users named after tag (Check assertions).
 */
void fx_env_open(struct fx_env *e, const char *tag, int users, bool persistent_redis);
/* Free what fx_env_open made and stop its redis-server; any daemon must be stopped first. */
void fx_env_close(struct fx_env *e);

/* ---- checks (Check assertions) ------------------------------------------ */

/* Print the end of a log to stderr: what a failing test shows of the daemon. */
void fx_dump_log(const char *path);

/* Wait until the group has committed every produced input message. */
void fx_wait_drained(struct fx_kafka *k, const struct fx_stream *s, const char *log_path);

/*
 * Every user's record in Redis: the state equals the engine's reference
 * (marks aside; the mark of the user's partition is its last event), and
 * the published score is the reference's score.
 */
void fx_check_states(const struct fx_redis *r, const struct fx_stream *s,
		     const struct ssi_model *m);

/* One score.updated, checked field by field. */
struct fx_output {
	int user;
	char segment[SSI_SEG__COUNT][SSI_ID_MAX + 1];
	struct ssi_score score;
	bool has_previous;
	struct ssi_score previous;
	char model_version[SSI_MODEL_VERSION_MAX + 1];
	char cause[8]; /* event, decay or model */
};

/* Whether an output message is a score.updated (not rank.changed, alert...). */
bool fx_output_is_score(const struct fx_msg *msg);
/* Parse and check the score.updated at position at; returns its user. */
int fx_parse_output(const struct fx_stream *s, const struct fx_msg *msg, size_t at,
		    struct fx_output *out);

/*
 * Read the output topic: every message well formed, every user has one, the
 * last per user is the reference score under m with m's version and the
 * state's segments; chained: each previous is the user's preceding output.
 * Returns how many outputs there are.
 */
size_t fx_check_outputs(struct fx_kafka *k, const struct fx_stream *s, const struct ssi_model *m,
			bool chained);

/* ---- the poison corpus (tests/poison/MANIFEST) --------------------------- */

#define FX_POISON_DIR "tests/poison"

/* How a corpus message is keyed on the input topic. */
enum fx_poison_key {
	FX_POISON_KEY_USER,   /* by a user id, like every other event */
	FX_POISON_KEY_NULL,   /* no key at all */
	FX_POISON_KEY_BINARY, /* fx_poison_binary_key(): not UTF-8 */
};

struct fx_poison {
	char file[96];
	char expect[64]; /* the ssi.reason it must be dead-lettered with, "" if valid */
	char *value;	 /* the exact bytes (owned); NULL for a tombstone */
	size_t len;
	enum fx_poison_key key;
	bool garbage_headers;
};

struct fx_poison_corpus {
	struct fx_poison *e;
	size_t n;
};

/*
 * Read dir/MANIFEST and every file it names; max_bytes (the model's
 * max_event_bytes) resolves pad=max and pad=max+1. -EBADMSG on a manifest
 * line that does not follow the format described at its top.
 */
int fx_poison_load(struct fx_poison_corpus *c, const char *dir, size_t max_bytes);
void fx_poison_free(struct fx_poison_corpus *c);
/* The key of key=binary entries, NUL-terminated (it holds no NUL byte). */
const char *fx_poison_binary_key(void);
/* The junk headers of headers=garbage entries, a forged ssi.reason among them. */
rd_kafka_headers_t *fx_poison_garbage_headers(void);

/* ---- a real broker (tests/common/fx_broker.h starts one) ---------------- */

/*
 * Like fx_kafka_start, on a broker that is already there: the topics named
 * after tag must exist (fx_broker_topics); bootstraps must outlive k.
 */
int fx_kafka_attach(struct fx_kafka *k, const char *bootstraps, const char *tag, int partitions);

/* ---- the poison corpus in a stream (the daemon and fault suites) --------- */

/* Above the corpus's 1 MiB entry: what the test producer must be able to send. */
#define FX_POISON_MESSAGE_MAX "4194304"

/* The corpus laid out in a stream: where entry i sits, and its quirks. */
struct fx_poison_run {
	struct fx_poison_corpus corpus;
	size_t *at;		     /* stream index of corpus entry i */
	const struct fx_poison **of; /* corpus entry at stream index k, or NULL */
	size_t nbad, nvalid;
};

/*
 * Valid events of the stream's users first, then each corpus entry followed
 * by a few more valid ones (seeded: the same stream every run). Check
 * assertions.
 */
void fx_poison_run_build(struct fx_poison_run *pr, struct fx_stream *s, const struct ssi_model *m);
void fx_poison_run_free(struct fx_poison_run *pr);
/* Produce the whole stream, keys, null values and junk headers as the corpus says. */
int fx_poison_run_produce(const struct fx_kafka *k, struct fx_stream *s,
			  const struct fx_poison_run *pr);
/* Each dead letter names a bad corpus message, once, with its reason, key and bytes. */
void fx_poison_run_check_dead_letters(struct fx_kafka *k, const struct fx_stream *s,
				      const struct fx_poison_run *pr);
/*
 * The corpus's valid events belong to users of their own, outside the
 * stream's (fx_check_states covers those): each must have the state and the
 * published score the engine gives its one event, with the mark of its
 * partition at its offset.
 */
void fx_poison_run_check_controls(const struct fx_redis *r, const struct fx_stream *s,
				  const struct fx_poison_run *pr, const struct ssi_model *m);
/*
 * fx_check_outputs refuses users outside the stream, so the output topic is
 * split here: the stream's users through fx_parse_output, the controls by
 * their user id. Every user's last output must be the engine's score.
 */
void fx_poison_run_check_outputs(struct fx_kafka *k, const struct fx_stream *s,
				 const struct fx_poison_run *pr, const struct ssi_model *m);

#endif
