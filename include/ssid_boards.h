/*
 * ssid_boards: which team and tenant leaderboards to publish, and when.
 *
 * The pipeline touches a board whenever ssid_rank says a rep's change may
 * have moved it. A touched board is read again (ssid_rank_boards, from
 * memory) and compared with the list last delivered for it;
 * a leaderboard.changed is due when members or their order differ
 * (ssid_boards_diff), not when only scores moved. Each board publishes
 * at most once per interval (ssid_boards_coalesce): a change inside the
 * interval waits, and the board is read again when the interval ends, so
 * the message carries the latest list.
 *
 * State is in memory only: after a restart the first change of a board
 * publishes it whole (a consumer may see a list it already had, never a
 * stale one). Boards are kept for the life of the process, about 3 KiB
 * each with the default top 10. Library code: no logging. The diff and
 * the coalescing are pure (no Redis, no clock: now_ms is passed in).
 */
#ifndef SSID_BOARDS_H
#define SSID_BOARDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ssid_rank.h"

enum {
	SSID_BOARD_MEMBERS = 1 << 0, /* someone entered or left */
	SSID_BOARD_ORDER = 1 << 1,   /* members kept in both lists changed order */
	SSID_BOARD_SCORES = 1 << 2,  /* a member kept in both changed total */
};

/*
 * Pure: how board b differs from board a, as SSID_BOARD_* flags (0: same).
 * A leaderboard.changed is due on MEMBERS or ORDER.
 */
unsigned ssid_boards_diff(const struct ssid_rank_entry *a, size_t na,
			  const struct ssid_rank_entry *b, size_t nb);

/*
 * Coalescing of leaderboard.changed: at most one per board per interval.
 * Pure, the caller passes a monotonic now_ms. offer() reports a change:
 * true means publish now; false means it is pending, and due() becomes true
 * (once) when the interval since the last publication has passed; next()
 * says when, for a timer.
 */
struct ssid_boards_coalesce {
	int64_t interval_ms;
	int64_t last_ms; /* last publication, when published */
	bool published;
	bool pending;
};

void ssid_boards_coalesce_init(struct ssid_boards_coalesce *c, int64_t interval_ms);
bool ssid_boards_coalesce_offer(struct ssid_boards_coalesce *c, int64_t now_ms);
bool ssid_boards_coalesce_due(struct ssid_boards_coalesce *c, int64_t now_ms);
/* When the pending change is due, INT64_MAX when none is pending. */
int64_t ssid_boards_coalesce_next(const struct ssid_boards_coalesce *c);

struct ssid_boards;

/* One board ready to publish: its new list and how it differs. */
struct ssid_board_update {
	enum ssid_rank_kind kind;
	const char *tenant, *team; /* owned by the boards */
	const struct ssid_rank_board *board;
	unsigned changes; /* SSID_BOARD_* */
	bool backfill;	  /* every touch since the board was last read was historical */
};

/* rank is borrowed. 0, -EINVAL (top_n out of range), -ENOMEM. */
int ssid_boards_new(struct ssid_boards **out, struct ssid_rank *rank, int top_n,
		    int64_t interval_ms);
void ssid_boards_free(struct ssid_boards *bs);
void ssid_boards_set_interval(struct ssid_boards *bs, int64_t interval_ms);

/*
 * The board of kind (SSID_RANK_TENANT or SSID_RANK_TEAM) for the segment
 * values may have changed at monotonic now_ms, by a historical change
 * (backfill, see alert.max_event_age_ms) or a live one. 0, -EINVAL, -ENOMEM.
 */
int ssid_boards_touch(struct ssid_boards *bs, enum ssid_rank_kind kind,
		      const char *const segment[SSI_SEG__COUNT], bool backfill, int64_t now_ms);

/*
 * Read every board due at now_ms and set *out to those that changed
 * (valid until the next call). 0, or -ENOMEM (they stay due).
 */
int ssid_boards_collect(struct ssid_boards *bs, int64_t now_ms,
			const struct ssid_board_update **out, size_t *n);

/*
 * The updates of the last collect were delivered (they become the lists to
 * compare with) or not (they are due again).
 */
void ssid_boards_done(struct ssid_boards *bs, bool delivered, int64_t now_ms);

/* When the next coalesced board is due; INT64_MAX when none waits. */
int64_t ssid_boards_next_due(const struct ssid_boards *bs);

#endif
