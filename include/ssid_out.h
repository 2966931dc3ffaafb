/*
 * ssid_out: the daemon's output messages, written as JSON by hand into an
 * ssid_buf (the caller's: each call appends one object).
 *
 * jansson costs ~5.5 us to build and dump one score.updated; writing the
 * same bytes directly costs ~1 us, and the daemon writes one per changed
 * user per batch. Strings are escaped per RFC 8259; inputs are already
 * valid UTF-8 (the event parser guarantees it), so escaping is the only
 * transformation needed.
 */
#ifndef SSID_OUT_H
#define SSID_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ssi_alert.h"
#include "ssi_event.h"
#include "ssi_band.h"
#include "ssi_score.h"
#include "ssid_buf.h"
#include "ssid_rank.h"

#define SSID_OUT_SCHEMA 1

enum ssid_cause { SSID_CAUSE_EVENT, SSID_CAUSE_DECAY, SSID_CAUSE_MODEL };

const char *ssid_cause_name(enum ssid_cause c);

/*
 * Segment averages as written, kept from one message to the next: in a
 * batch every rep of a segment has the same averages, so whoever writes a
 * batch's score.updated keeps one of these (zeroed = empty) and points
 * ssid_score_msg.avgs at it. Keyed by the values themselves, it is never
 * stale; a slot is overwritten when another value hashes to it. Owned by
 * the caller.
 */
#define SSID_OUT_AVGS_SLOTS 256
struct ssid_out_avgs {
	struct ssid_out_avg {
		int key[1 + SSI_PILLAR__COUNT]; /* total, then pillars, in centipoints */
		uint8_t len;			/* of text; 0: empty */
		char text[115];
	} slot[SSID_OUT_AVGS_SLOTS];
};

struct ssid_score_msg {
	const char *user_id;
	const char *segment[SSI_SEG__COUNT]; /* NULL or "" when unknown */
	const char *model_version;
	struct ssi_score score;
	bool has_previous;
	struct ssi_score previous;
	enum ssid_cause cause;
	int64_t as_of_ms;
	int events;    /* events folded in since the previous message */
	bool backfill; /* historical (alert.max_event_age_ms): "backfill": true */
	/* Where the rep stands when ranks are kept; a NULL or absent kind is left out. */
	bool has_ranks;
	const struct ssid_rank_pos *rank[SSID_RANK__COUNT];
	bool has_network; /* the network rank, as of network_day */
	struct ssid_rank_pos network;
	int32_t network_day;
	struct ssid_out_avgs *avgs; /* NULL: the averages are written anew each time */
};

/* Append one score.updated object (no trailing newline). 0 or -ENOMEM. */
int ssid_out_score_updated(struct ssid_buf *b, const struct ssid_score_msg *m);

/* A rep crossed a percentile band in one segment. */
struct ssid_rank_msg {
	const char *user_id;
	enum ssid_rank_kind kind;
	const char *segment_value; /* "software"; "tenant/team" for a team; NULL global */
	struct ssi_band_crossing crossing;
	int from_top_percent;		 /* the percentile before */
	const struct ssid_rank_pos *pos; /* after */
	enum ssid_cause cause;
	int64_t as_of_ms;
	const char *model_version;
};

/* Append one rank.changed object. 0 or -ENOMEM. */
int ssid_out_rank_changed(struct ssid_buf *b, const struct ssid_rank_msg *m);

struct ssid_alert_msg {
	const char *user_id;
	const struct ssi_alert *alert;
	struct ssi_score score; /* the score that tripped it */
	int64_t as_of_ms;
	const char *model_version;
};

/* Append one alert object. 0 or -ENOMEM. */
int ssid_out_alert(struct ssid_buf *b, const struct ssid_alert_msg *m);

struct ssid_board_msg {
	enum ssid_rank_kind kind; /* SSID_RANK_TENANT or SSID_RANK_TEAM */
	const char *tenant, *team;
	const struct ssid_rank_board *board;
	unsigned changes; /* SSID_BOARD_* */
	bool backfill;	  /* every change since the last one was historical */
	int64_t as_of_ms;
	const char *model_version;
};

/* Append one leaderboard.changed object. 0 or -ENOMEM. */
int ssid_out_leaderboard_changed(struct ssid_buf *b, const struct ssid_board_msg *m);

#endif
