/*
 * ssictl: the operators' and backends' command line over what ssid keeps in
 * Redis and Kafka. Not part of the daemon library: src/ssictl_*.c (one file
 * per command group, see src/ssictl_int.h) on top of libssid.a and libssi.a.
 * src/main_ssictl.c only hands it argv and the standard streams, so the
 * tests run the very same code in-process.
 *
 *   ssictl [-c CONFIG] [--json] COMMAND ...
 *     score USER [--explain]       the SSI and pillars now, segments, model,
 *                                  last published score; --explain: points
 *                                  and headroom per pillar and variable and
 *                                  the three best actions
 *     rank USER                    rank, size, top % and average per
 *                                  segment (global, industry, tenant, team,
 *                                  network)
 *     around USER [-k K]           the K reps just above and below the rep in
 *                                  each segment (default 3)
 *     top SEGMENT [VALUE] [-n N]   the leaderboard of global, industry NAME,
 *                                  tenant NAME or team TENANT/TEAM (default 10)
 *     history USER [--days N]      one line per day (default 30)
 *     alerts [--follow]            the alerts in the output topic; --follow
 *                                  waits for new ones until SIGINT/SIGTERM
 *
 * The configuration is ssid's own file (default /etc/ssid/ssid.conf): the
 * redis.* keys, model.file and clock (scores are computed at the same "now"
 * as the daemon's), rank.min_members (the privacy floor: hidden segments
 * show no rank, percentile or average), and for alerts output.topic and the
 * kafka.* keys. An embedded mock cluster lives in ssid's process: ssictl
 * reaches it through mock_cluster.bootstrap_file.
 *
 * Output is plain aligned text, or with --json one JSON document per command
 * (alerts --follow: one per alert, a line each). Errors go to err, one line
 * starting "ssictl: ".
 */
#ifndef SSICTL_H
#define SSICTL_H

#include <stdio.h>

/* Exit codes: distinct per kind of failure, sysexits(3) where one fits. */
enum ssictl_exit {
	SSICTL_EXIT_OK = 0,
	SSICTL_EXIT_UNKNOWN_USER = 2,	 /* no record of the user (or no rank yet) */
	SSICTL_EXIT_UNKNOWN_SEGMENT = 3, /* no ranked rep in the segment asked for */
	SSICTL_EXIT_UNREADABLE = 4,	 /* stored data this build cannot read */
	SSICTL_EXIT_USAGE = 64,		 /* EX_USAGE: bad command line */
	SSICTL_EXIT_UNAVAILABLE = 69,	 /* EX_UNAVAILABLE: Redis or Kafka not answering */
	SSICTL_EXIT_SOFTWARE = 70,	 /* EX_SOFTWARE: out of memory, internal error */
	SSICTL_EXIT_CONFIG = 78,	 /* EX_CONFIG: configuration or model file */
};

#define SSICTL_DEFAULT_CONFIG "/etc/ssid/ssid.conf"

/*
 * Run one ssictl command line (argv[0] is the program name) writing to out
 * and err; returns the exit code. Not reentrant (getopt): one at a time per
 * process.
 */
int ssictl_run(int argc, char **argv, FILE *out, FILE *err);

/* Make a running alerts --follow return 0; async-signal-safe, any thread. */
void ssictl_request_stop(void);

#endif
