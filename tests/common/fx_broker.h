/*
 * A real Apache Kafka broker for the fault suite: deploy/kafka-broker.sh
 * runs it (single-node KRaft on loopback, its config, data and log in a
 * directory of ours); these functions start, stop, kill and restart it,
 * create topics through the admin API, and point an fx_kafka at it (see
 * fx_kafka_attach in fixture.h).
 *
 * The broker is not a child of the test: the script launches the JVM in the
 * background and returns once it answers metadata. fx_broker_stop (or the
 * script's `stop DIR`) is what ends it, whoever started it last; a test
 * process that dies leaves it running for the suite's teardown to stop.
 */
#ifndef SSID_TEST_FX_BROKER_H
#define SSID_TEST_FX_BROKER_H

#include <limits.h>
#include <stdbool.h>

/* Where the script lives, relative to the repository root tests run from. */
#define FX_BROKER_SCRIPT "deploy/kafka-broker.sh"
/* Bound on one script command: a cold start formats storage and starts a JVM. */
#define FX_BROKER_WAIT_MS 150000

struct fx_broker {
	char dir[PATH_MAX]; /* config, data, broker.log, script.log */
	char bootstrap[64]; /* "127.0.0.1:PORT": the same after every restart */
	bool owns_dir;	    /* fx_broker_destroy removes dir */
};

/*
 * Start a broker in dir, or in a new directory under $TMPDIR when dir is
 * NULL; fills bootstrap. The script's own output goes to dir/script.log.
 * Fetching the jars is the caller's business (make check-fault does it):
 * without them the script fetches, which needs the network.
 */
int fx_broker_start(struct fx_broker *b, const char *dir);
/* SIGTERM and wait for a clean exit (the script's `stop`). */
int fx_broker_stop(struct fx_broker *b);
/* SIGKILL, as a crash (the script's `kill`). */
int fx_broker_kill(struct fx_broker *b);
/* Start again on the same ports and data after a stop or a kill. */
int fx_broker_restart(struct fx_broker *b);
/* Whether the broker's JVM is alive (its pid file names a live process). */
bool fx_broker_running(const struct fx_broker *b);
/* Start it again if it is not running (a test that failed with it down). */
int fx_broker_ensure(struct fx_broker *b);
/* SIGKILL the broker at once, without the script: async-signal-safe (^C handlers). */
void fx_broker_kill_now(const struct fx_broker *b);
/* Stop it and remove its directory if we made it; accepts NULL. */
void fx_broker_destroy(struct fx_broker *b);

/*
 * Create topic with partitions (replication 1) and wait until every
 * partition has a leader. config: "name", "value" pairs, NULL-terminated
 * (may be NULL). An existing topic with the same partition count is fine.
 */
int fx_broker_create_topic(const struct fx_broker *b, const char *topic, int partitions,
			   const char *const config[]);
/*
 * The input, output and dead-letter topics of tag (as fx_kafka names them),
 * the input one with input_config.
 */
int fx_broker_topics(const struct fx_broker *b, const char *tag, int partitions,
		     const char *const input_config[]);

/*
 * Have the broker create its group-offsets topic now: the first group of a
 * fresh broker otherwise pays seconds for it, inside whatever it measures.
 */
int fx_broker_warm_groups(const struct fx_broker *b);

#endif
