/*
 * ssictl_int: what ssictl's own files share (private to src/ssictl_*.c; the
 * program's interface is include/ssictl.h). ssictl is not part of the
 * daemon: its objects are linked into build/ssictl and the daemon test
 * binary only, on top of libssid.a (config, Redis readers, Kafka
 * configuration) and libssi.a (scoring).
 *
 *   ssictl_cli.c      command line, command table, help, dispatch
 *   ssictl_conn.c     configuration, clock and model; Redis handles and
 *                     their errors; whether a user exists
 *   ssictl_out.c      errors on err, text and JSON building blocks on out
 *   ssictl_score.c    score [--explain]
 *   ssictl_rank.c     rank records and segment aggregates as read for
 *                     rank, around and top; the rank command
 *   ssictl_board.c    around and top: neighbours and leaderboards
 *   ssictl_history.c  history
 *   ssictl_alerts.c   alerts [--follow]: a consumer of the output topic
 *   ssictl_forecast.c forecast [--days N] and whatif TYPE[=COUNT]...
 *
 * Contract of every command and helper returning int: 0 or an exit code
 * (enum ssictl_exit), after one "ssictl: " line on c->err; helpers that can
 * also answer yes/no say so. Nothing here logs, exits or keeps global state
 * but the stop flag (ssictl_stopping).
 */
#ifndef SSICTL_INT_H
#define SSICTL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "ssi_forecast.h"
#include "ssi_model.h"
#include "ssi_rank.h"
#include "ssi_score.h"
#include "ssid_config.h"
#include "ssid_rank.h"
#include "ssid_redis.h"
#include "ssid_store.h"
#include "ssictl.h"

#define SSICTL_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

/* The options a command may take (struct ctl's opts); ssictl_cli.c checks which apply. */
enum {
	OPT_EXPLAIN = 1 << 0,
	OPT_K = 1 << 1,
	OPT_N = 1 << 2,
	OPT_DAYS = 1 << 3,
	OPT_FOLLOW = 1 << 4
};

/* One run of ssictl: the command line, then what the command connected to. */
struct ctl {
	FILE *out, *err;
	bool json;
	const char *config_path;
	unsigned opts; /* OPT_* given */
	int k, n, days;

	struct ssid_config cfg;
	struct ssi_model model;
	int64_t now_ms;
	struct ssid_redis_opts ro;
	struct ssid_redis *rd;	   /* ranks, networks */
	struct ssid_store *store;  /* users' records (u:{...}) */
	struct ssid_history *hist; /* histories */
	int32_t *parts;		   /* the partitions with rank data, read once */
	size_t nparts;
	bool parts_read;
};

/* ssictl_cli.c: whether ssictl_request_stop was called during this run. */
bool ssictl_stopping(void);

/* ssictl_conn.c */
int ssictl_load_config(struct ctl *c, bool need_model);
int ssictl_open_redis(struct ctl *c);
/* A failed Redis call (-errno, the handle's errstr) as its message and exit code. */
int ssictl_redis_error(struct ctl *c, int rc, const char *errstr);
/* Whether user has a record: 1, 0, or an exit code's negation. */
int ssictl_user_exists(struct ctl *c, const char *user);
int ssictl_unknown_user(struct ctl *c, const char *user);
int ssictl_check_user_id(struct ctl *c, const char *user);

/*
 * ssictl_out.c. An error: "ssictl: " and the message on one line of c->err,
 * then hint (a whole line, or ""); returns code. ssictl_fail for every exit
 * code, ssictl_usage_error (SSICTL_EXIT_USAGE) for a bad command line.
 */
__attribute__((format(printf, 4, 5))) int ssictl_report(struct ctl *c, int code, const char *hint,
							const char *fmt, ...);
#define ssictl_fail(c, code, ...) ssictl_report((c), (code), "", __VA_ARGS__)
#define ssictl_usage_error(c, ...)                                                                 \
	ssictl_report((c), SSICTL_EXIT_USAGE, "Try 'ssictl --help'.\n", __VA_ARGS__)

const char *ssictl_cp(int centipoints, char *buf, size_t len);
json_t *ssictl_points_json(double centipoints);
json_t *ssictl_score_json(const struct ssi_score *s);
json_t *ssictl_string_or_null(const char *s);
/* Print root on one line and release it (NULL: out of memory). */
int ssictl_emit(struct ctl *c, json_t *root);
void ssictl_put_clean(FILE *f, const char *s, int width);

/* ssictl_rank.c: a rep's rank record and its segments as ssid_rank's functions take them. */
struct rank_record {
	struct ssi_rank_record r;
	const char *segp[SSI_SEG__COUNT];
};

int ssictl_read_parts(struct ctl *c);
int ssictl_read_rank_record(struct ctl *c, const char *user, struct rank_record *rec);
int ssictl_read_segment(struct ctl *c, enum ssid_rank_kind kind,
			const char *const seg[SSI_SEG__COUNT], size_t top_keep,
			struct ssi_rankagg *agg, bool *in);
bool ssictl_record_in(const struct ssi_rank_record *rec, enum ssid_rank_kind kind,
		      const char *field);
char *ssictl_segment_field(enum ssid_rank_kind kind, const char *const seg[SSI_SEG__COUNT],
			   bool *oom);
void ssictl_segment_value(enum ssid_rank_kind kind, const char *const seg[SSI_SEG__COUNT],
			  char *buf, size_t len);
const char *ssictl_missing_why(enum ssid_rank_kind kind);
const char *ssictl_seg_kind_name(int kind);

/* The commands, each in its own file; dispatched by ssictl_cli.c. */
int ssictl_cmd_score(struct ctl *c, const char *user);
/*
 * The rep's stored state into st (initialised) and, with pub_state, its
 * field p into pub (*pub_state 1, 0 absent, -1 unreadable). 0 or an exit
 * code (an unknown rep or an unreadable state, reported).
 */
int ssictl_read_record(struct ctl *c, const char *user, struct ssi_state *st,
		       struct ssid_published *pub, int *pub_state);
int ssictl_cmd_rank(struct ctl *c, const char *user);
int ssictl_cmd_around(struct ctl *c, const char *user);
int ssictl_cmd_top(struct ctl *c, int argc, char **argv);
int ssictl_cmd_history(struct ctl *c, const char *user);
int ssictl_cmd_alerts(struct ctl *c);
int ssictl_cmd_forecast(struct ctl *c, const char *user);
/* whatif's TYPE[=COUNT] arguments into a (usage errors), then the command. */
int ssictl_whatif_actions(struct ctl *c, int nargs, char **args,
			  struct ssi_whatif_action a[SSI_WHATIF_ACTIONS_MAX]);
int ssictl_cmd_whatif(struct ctl *c, const char *user, const struct ssi_whatif_action *a, int n);

#endif
