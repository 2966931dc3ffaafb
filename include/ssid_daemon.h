/*
 * ssid_daemon: the long-running service around the pipeline: consumer
 * group membership, batching, retries with backoff while Redis or the
 * brokers are away, systemd notifications, SIGHUP reload and a bounded,
 * committed shutdown. main() only parses the command line and calls this.
 */
#ifndef SSID_DAEMON_H
#define SSID_DAEMON_H

#include <stdint.h>

#include "ssid_config.h"

struct ssid_daemon;

/* Counters since start, for status lines and tests. */
struct ssid_daemon_stats {
	uint64_t batches;
	uint64_t events;
	uint64_t applied;
	uint64_t replayed;
	uint64_t duplicates;
	uint64_t rejected;
	uint64_t outputs;
	uint64_t rank_changes;	 /* rank.changed delivered */
	uint64_t alerts;	 /* alert messages delivered */
	uint64_t boards;	 /* leaderboard.changed delivered */
	uint64_t decayed;	 /* reps rescored by the decay schedule */
	uint64_t model_rescored; /* reps rescored after a model change */
	uint64_t rebuilds;	 /* times Redis was found empty and partitions replayed */
	uint64_t failures;	 /* batch attempts that failed and were retried */
	uint64_t reloads;
	uint64_t producers_renewed; /* producers replaced after a fatal error */
	uint64_t offset_resets;	    /* partitions reset past events deleted before they were read */
	uint64_t offsets_skipped;   /* offsets those resets jumped over */
	int degraded;		    /* 1 while retrying */
	int partitions;		    /* input partitions owned now */
};

/*
 * Take ownership of cfg (it is moved from; the caller's copy is zeroed) and
 * load the model it names. Returns 0, or -EINVAL with a message in err
 * (a bad model file or Kafka setting: exit with EX_CONFIG).
 */
int ssid_daemon_new(struct ssid_daemon **out, struct ssid_config *cfg, char *err, size_t errlen);
void ssid_daemon_free(struct ssid_daemon *d);

/*
 * Run until a stop is requested. Returns 0 after a clean shutdown (batch
 * finished, offsets committed, group left), or a sysexits code.
 */
int ssid_daemon_run(struct ssid_daemon *d);

/*
 * Replay the partitions of this daemon's first assignment from the start
 * of their retained logs (ssid --rebuild), then go on live: see
 * ssid_parts.h. Call before ssid_daemon_run.
 */
void ssid_daemon_set_rebuild(struct ssid_daemon *d);

/* Thread-safe requests to one daemon (tests run several in a process). */
void ssid_daemon_stop(struct ssid_daemon *d);
void ssid_daemon_reload(struct ssid_daemon *d);
/* Install SIGTERM/SIGINT (stop) and SIGHUP (reload) handlers. */
int ssid_daemon_install_signals(void);

/* A snapshot of the counters (thread-safe). */
void ssid_daemon_get_stats(struct ssid_daemon *d, struct ssid_daemon_stats *out);

#endif
