/* ssid_boards: coalesced leaderboard.changed for team and tenant boards. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ssi_array.h"
#include "ssid_boards.h"

struct board {
	enum ssid_rank_kind kind;
	char *tenant, *team; /* the segment values that name it */
	struct ssid_boards_coalesce co;
	bool due;		      /* read it at the next collect */
	bool known;		      /* last[] holds what was delivered */
	bool live;		      /* touched by a live change since it was last read */
	struct ssid_rank_entry *last; /* top_n entries */
	size_t nlast;
	struct ssid_rank_entry *fresh; /* read by the last collect */
	struct ssid_rank_board read;
};

struct ssid_boards {
	struct ssid_rank *rank;
	int top_n;
	int64_t interval_ms;
	struct board **board; /* open addressing by segment, NULL = empty */
	size_t nslots, count;
	size_t *due, ndue, due_cap; /* indices of boards to read: room for every board */
	struct ssid_rank_board *reads;
	struct ssid_board_update *updates;
	size_t *update_board;
	size_t nupdates, cap;
};

static void board_free(struct board *b)
{
	if (!b)
		return;
	free(b->tenant);
	free(b->team);
	free(b->last);
	free(b->fresh);
	free(b);
}

void ssid_boards_free(struct ssid_boards *bs)
{
	if (!bs)
		return;
	for (size_t i = 0; i < bs->nslots; i++)
		board_free(bs->board[i]);
	free(bs->board);
	free(bs->due);
	free(bs->reads);
	free(bs->updates);
	free(bs->update_board);
	free(bs);
}

int ssid_boards_new(struct ssid_boards **out, struct ssid_rank *rank, int top_n,
		    int64_t interval_ms)
{
	struct ssid_boards *bs;

	if (top_n < 1 || top_n > SSID_RANK_TOP_MAX)
		return -EINVAL;
	bs = calloc(1, sizeof(*bs));
	if (!bs)
		return -ENOMEM;
	bs->rank = rank;
	bs->top_n = top_n;
	bs->interval_ms = interval_ms;
	bs->nslots = 64;
	bs->board = calloc(bs->nslots, sizeof(*bs->board));
	if (!bs->board) {
		ssid_boards_free(bs);
		return -ENOMEM;
	}
	*out = bs;
	return 0;
}

void ssid_boards_set_interval(struct ssid_boards *bs, int64_t interval_ms)
{
	bs->interval_ms = interval_ms;
	for (size_t i = 0; i < bs->nslots; i++)
		if (bs->board[i])
			bs->board[i]->co.interval_ms = interval_ms;
}

/* FNV-1a over kind, tenant and team, with separators no value can fake. */
static uint64_t board_hash(enum ssid_rank_kind kind, const char *tenant, const char *team)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)kind;

	for (const char *s = tenant; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	h = (h ^ 0x100) * 1099511628211ULL;
	for (const char *s = team; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static size_t slot_of(const struct ssid_boards *bs, enum ssid_rank_kind kind, const char *tenant,
		      const char *team)
{
	size_t mask = bs->nslots - 1;

	for (size_t i = board_hash(kind, tenant, team) & mask;; i = (i + 1) & mask) {
		const struct board *b = bs->board[i];

		if (!b || (b->kind == kind && strcmp(b->tenant, tenant) == 0 &&
			   strcmp(b->team, team) == 0))
			return i;
	}
}

/* Double the table when it is half full: the due list holds slots, so only between collects. */
static int grow(struct ssid_boards *bs)
{
	struct board **old = bs->board;
	size_t nold = bs->nslots;

	bs->board = calloc(nold * 2, sizeof(*bs->board));
	if (!bs->board) {
		bs->board = old;
		return -ENOMEM;
	}
	bs->nslots = nold * 2;
	for (size_t i = 0; i < nold; i++)
		if (old[i])
			bs->board[slot_of(bs, old[i]->kind, old[i]->tenant, old[i]->team)] = old[i];
	free(old);
	/* Slots moved: rebuild the due list. */
	bs->ndue = 0;
	for (size_t i = 0; i < bs->nslots; i++)
		if (bs->board[i] && bs->board[i]->due)
			bs->due[bs->ndue++] = i;
	return 0;
}

static struct board *board_new(struct ssid_boards *bs, enum ssid_rank_kind kind, const char *tenant,
			       const char *team)
{
	struct board *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->kind = kind;
	b->tenant = strdup(tenant);
	b->team = strdup(team);
	b->last = calloc((size_t)bs->top_n, sizeof(*b->last));
	b->fresh = calloc((size_t)bs->top_n, sizeof(*b->fresh));
	if (!b->tenant || !b->team || !b->last || !b->fresh) {
		board_free(b);
		return NULL;
	}
	ssid_boards_coalesce_init(&b->co, bs->interval_ms);
	return b;
}

static void mark_due(struct ssid_boards *bs, size_t slot)
{
	if (!bs->board[slot]->due) {
		bs->board[slot]->due = true;
		bs->due[bs->ndue++] = slot;
	}
}

int ssid_boards_touch(struct ssid_boards *bs, enum ssid_rank_kind kind,
		      const char *const segment[SSI_SEG__COUNT], bool backfill, int64_t now_ms)
{
	const char *tenant = segment[SSI_SEG_TENANT] ? segment[SSI_SEG_TENANT] : "";
	const char *team =
	    kind == SSID_RANK_TEAM && segment[SSI_SEG_TEAM] ? segment[SSI_SEG_TEAM] : "";
	size_t slot;

	if ((kind != SSID_RANK_TENANT && kind != SSID_RANK_TEAM) || !tenant[0] ||
	    (kind == SSID_RANK_TEAM && !team[0]))
		return -EINVAL;
	if (SSI_GROW(bs->due, &bs->due_cap, bs->count + 1, 64) < 0)
		return -ENOMEM;
	if ((bs->count + 1) * 2 > bs->nslots && grow(bs) < 0)
		return -ENOMEM;
	slot = slot_of(bs, kind, tenant, team);
	if (!bs->board[slot]) {
		bs->board[slot] = board_new(bs, kind, tenant, team);
		if (!bs->board[slot])
			return -ENOMEM;
		bs->count++;
	}
	bs->board[slot]->live |= !backfill;
	if (ssid_boards_coalesce_offer(&bs->board[slot]->co, now_ms))
		mark_due(bs, slot);
	return 0;
}

/* Boards whose coalescing interval ended join the due list. */
static void promote_pending(struct ssid_boards *bs, int64_t now_ms)
{
	for (size_t i = 0; i < bs->nslots; i++) {
		struct board *b = bs->board[i];

		if (b && b->co.pending && ssid_boards_coalesce_due(&b->co, now_ms))
			mark_due(bs, i);
	}
}

static int reserve(struct ssid_boards *bs, size_t n)
{
	if (n <= bs->cap)
		return 0;
	free(bs->reads);
	free(bs->updates);
	free(bs->update_board);
	bs->reads = calloc(n, sizeof(*bs->reads));
	bs->updates = calloc(n, sizeof(*bs->updates));
	bs->update_board = calloc(n, sizeof(*bs->update_board));
	bs->cap = bs->reads && bs->updates && bs->update_board ? n : 0;
	return bs->cap ? 0 : -ENOMEM;
}

int ssid_boards_collect(struct ssid_boards *bs, int64_t now_ms,
			const struct ssid_board_update **out, size_t *n)
{
	int rc;

	*out = NULL;
	*n = 0;
	bs->nupdates = 0;
	if (ssid_boards_next_due(bs) <= now_ms)
		promote_pending(bs, now_ms);
	if (bs->ndue == 0)
		return 0;
	rc = reserve(bs, bs->ndue);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < bs->ndue; i++) {
		struct board *b = bs->board[bs->due[i]];
		struct ssid_rank_board *rd = &bs->reads[i];

		memset(rd, 0, sizeof(*rd));
		rd->kind = b->kind;
		rd->segment[SSI_SEG_TENANT] = b->tenant;
		rd->segment[SSI_SEG_TEAM] = b->team;
		rd->segment[SSI_SEG_INDUSTRY] = "";
		rd->entry = b->fresh;
	}
	rc = ssid_rank_boards(bs->rank, bs->reads, bs->ndue);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < bs->ndue; i++) {
		struct board *b = bs->board[bs->due[i]];
		const struct ssid_rank_board *rd = &bs->reads[i];
		unsigned diff;

		b->read = *rd;
		if (rd->hidden)
			diff = b->known && b->nlast > 0 ? SSID_BOARD_MEMBERS : 0;
		else if (!b->known)
			diff = rd->n > 0 ? SSID_BOARD_MEMBERS | SSID_BOARD_ORDER : 0;
		else
			diff = ssid_boards_diff(b->last, b->nlast, rd->entry, rd->n);
		if (!(diff & (SSID_BOARD_MEMBERS | SSID_BOARD_ORDER)))
			continue;
		bs->updates[bs->nupdates] = (struct ssid_board_update){
		    .kind = b->kind,
		    .tenant = b->tenant,
		    .team = b->team,
		    .board = &b->read,
		    .changes = diff,
		    .backfill = !b->live,
		};
		bs->update_board[bs->nupdates++] = bs->due[i];
	}
	*out = bs->updates;
	*n = bs->nupdates;
	return 0;
}

void ssid_boards_done(struct ssid_boards *bs, bool delivered, int64_t now_ms)
{
	if (!delivered) {
		/* Read them all again next time. */
		(void)now_ms;
		return;
	}
	for (size_t i = 0; i < bs->nupdates; i++) {
		struct board *b = bs->board[bs->update_board[i]];
		size_t n = b->read.hidden ? 0 : b->read.n;

		memcpy(b->last, b->fresh, n * sizeof(*b->last));
		b->nlast = n;
		b->known = true;
	}
	for (size_t i = 0; i < bs->ndue; i++) {
		bs->board[bs->due[i]]->due = false;
		bs->board[bs->due[i]]->live = false;
	}
	bs->ndue = 0;
	bs->nupdates = 0;
}

int64_t ssid_boards_next_due(const struct ssid_boards *bs)
{
	int64_t next = INT64_MAX;

	for (size_t i = 0; i < bs->nslots; i++) {
		const struct board *b = bs->board[i];

		if (b && b->co.pending) {
			int64_t at = ssid_boards_coalesce_next(&b->co);

			if (at < next)
				next = at;
		}
	}
	return next;
}

/* ---- pure: how two lists differ, when to publish ------------------------------- */

#define NONE SIZE_MAX

static size_t index_of(const char *user_id, const struct ssid_rank_entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].user_id, user_id) == 0)
			return i;
	return NONE;
}

/* The next entry of v from *at on that the other list also holds. */
static const struct ssid_rank_entry *next_common(const struct ssid_rank_entry *v, size_t n,
						 size_t *at, const struct ssid_rank_entry *other,
						 size_t nother)
{
	for (; *at < n; (*at)++)
		if (index_of(v[*at].user_id, other, nother) != NONE)
			return &v[(*at)++];
	return NULL;
}

unsigned ssid_boards_diff(const struct ssid_rank_entry *a, size_t na,
			  const struct ssid_rank_entry *b, size_t nb)
{
	unsigned flags = 0;
	size_t ia = 0, ib = 0;

	for (size_t i = 0; i < na; i++) {
		size_t j = index_of(a[i].user_id, b, nb);

		if (j == NONE)
			flags |= SSID_BOARD_MEMBERS;
		else if (a[i].total != b[j].total)
			flags |= SSID_BOARD_SCORES;
	}
	for (size_t j = 0; j < nb; j++)
		if (index_of(b[j].user_id, a, na) == NONE)
			flags |= SSID_BOARD_MEMBERS;
	/* Order is about the members both lists hold: compare their two sequences. */
	for (;;) {
		const struct ssid_rank_entry *x = next_common(a, na, &ia, b, nb);
		const struct ssid_rank_entry *y = next_common(b, nb, &ib, a, na);

		if (!x || !y)
			break;
		if (strcmp(x->user_id, y->user_id) != 0) {
			flags |= SSID_BOARD_ORDER;
			break;
		}
	}
	return flags;
}

void ssid_boards_coalesce_init(struct ssid_boards_coalesce *c, int64_t interval_ms)
{
	memset(c, 0, sizeof(*c));
	c->interval_ms = interval_ms;
}

static bool coalesce_elapsed(const struct ssid_boards_coalesce *c, int64_t now_ms)
{
	return !c->published || now_ms - c->last_ms >= c->interval_ms;
}

static void coalesce_publish(struct ssid_boards_coalesce *c, int64_t now_ms)
{
	c->published = true;
	c->pending = false;
	c->last_ms = now_ms;
}

bool ssid_boards_coalesce_offer(struct ssid_boards_coalesce *c, int64_t now_ms)
{
	if (!coalesce_elapsed(c, now_ms)) {
		c->pending = true;
		return false;
	}
	coalesce_publish(c, now_ms);
	return true;
}

bool ssid_boards_coalesce_due(struct ssid_boards_coalesce *c, int64_t now_ms)
{
	if (!c->pending || !coalesce_elapsed(c, now_ms))
		return false;
	coalesce_publish(c, now_ms);
	return true;
}

int64_t ssid_boards_coalesce_next(const struct ssid_boards_coalesce *c)
{
	return c->pending ? c->last_ms + c->interval_ms : INT64_MAX;
}
