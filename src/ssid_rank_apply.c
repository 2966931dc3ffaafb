/* ssid_rank_apply: changes applied to the ranks in memory, positions and boards read from them; see
 * ssid_rank.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ssid_rank_int.h"

static bool same_segments(const struct rec *rc, const struct ssid_rank_change *c)
{
	for (int s = 0; s < SSI_SEG__COUNT; s++)
		if (strcmp(rc->segment[s], c->segment[s] ? c->segment[s] : "") != 0)
			return false;
	return true;
}

/* ---- applying changes ----------------------------------------------------- */

/* Lookups between the prefetch stages of a record (rank_rec_prefetch). */
#define PREFETCH_STEP 4

/*
 * Whether a user id comes twice: each change's index goes into an
 * open-addressing table by its id's hash, and ids of equal hashes are
 * compared. O(n) for a batch.
 */
static int find_repeat(struct ssid_rank *r, const struct ssid_rank_change *ch, size_t n,
		       const uint64_t *hash)
{
	size_t cap = 16, mask;
	uint32_t *slot; /* 1 + the index of the change there; 0 is empty */
	int rc = 0;

	if (n >= UINT32_MAX / 2)
		return -E2BIG;
	while (cap < 2 * n)
		cap *= 2;
	slot = calloc(cap, sizeof(*slot));
	if (!slot)
		return -ENOMEM;
	mask = cap - 1;
	for (size_t i = 0; i < n && rc == 0; i++) {
		size_t at = (size_t)(hash[i] ^ (hash[i] >> 32)) & mask;

		while (slot[at] && rc == 0) {
			size_t j = slot[at] - 1;

			if (hash[j] == hash[i] && strcmp(ch[j].user_id, ch[i].user_id) == 0) {
				ssid_redis_set_error(r->rd, "user %s comes twice", ch[i].user_id);
				rc = -EINVAL;
			}
			at = (at + 1) & mask;
		}
		slot[at] = (uint32_t)(i + 1);
	}
	free(slot);
	return rc;
}

/* Checks the changes and fills hash[i] with the rank_hash_str of each user id. */
static int validate(struct ssid_rank *r, const struct ssid_rank_change *ch, size_t n,
		    uint64_t *hash)
{
	for (size_t i = 0; i < n; i++) {
		const struct ssid_rank_change *c = &ch[i];
		size_t idlen = 0;

		if (c->user_id)
			hash[i] = rank_hash_strlen(c->user_id, &idlen);
		if (idlen == 0 || idlen > SSI_ID_MAX || c->partition < 0) {
			ssid_redis_set_error(r->rd, "change %zu: bad user id or partition", i);
			return -EINVAL;
		}
		if (!c->removed && !ssi_rank_score_valid(&c->score)) {
			ssid_redis_set_error(r->rd, "change %zu (%s): score out of range", i,
					     c->user_id);
			return -EINVAL;
		}
		for (int s = 0; s < SSI_SEG__COUNT; s++)
			if (c->segment[s] && strlen(c->segment[s]) > SSI_ID_MAX) {
				ssid_redis_set_error(r->rd, "change %zu: segment value too long",
						     i);
				return -EINVAL;
			}
	}
	return find_repeat(r, ch, n, hash);
}

/* brief: present, hidden and of only (ssid_rank_change's brief_before). */
static void place(const struct ssid_rank *r, const struct rec *rc, enum ssid_rank_kind k,
		  bool brief, struct ssid_rank_pos *pos, int64_t *above)
{
	const struct seg *g;
	struct ssi_rank_place pl;

	memset(pos, 0, sizeof(*pos));
	*above = -1;
	if (!rc || rc->seg[k] == NONE)
		return;
	g = r->segv[rc->seg[k]];
	*above = (int64_t)ssi_hist_above(&g->all.hist, rc->score.total);
	if (brief) {
		pos->present = true;
		pos->of = g->all.n;
		pos->hidden = ssi_rank_hidden(g->all.n, r->ro.min_members);
		return;
	}
	ssi_rank_place_of(*above, g->all.n, g->all.sum, r->ro.min_members, &pl);
	ssid_rank_pos_set(pos, &pl);
	pos->warming = !rank_seg_settled(r, g);
}

/* Make sure every partition the changes name is owned and loaded. */
int rank_own(struct ssid_rank *r, int32_t partition)
{
	struct part *p = rank_part_get(r, partition);
	int rc;

	if (!p)
		return -ENOMEM;
	p->wanted = true;
	if (p->local)
		return 0;
	rc = ssid_redis_connect(r->rd);
	if (rc == 0)
		rc = rank_load_partition(r, p);
	if (rc < 0)
		rank_unload_partition(r, p);
	return rc;
}

static int load_needed(struct ssid_rank *r, const struct ssid_rank_change *ch, size_t n)
{
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++) {
		struct part *p = rank_part_find(r, ch[i].partition);

		if (!p || !p->local)
			rc = rank_own(r, ch[i].partition);
	}
	return rc;
}

void ssid_rank_assign(struct ssid_rank *r, int32_t partition)
{
	struct part *p = rank_part_get(r, partition);

	if (p)
		p->wanted = true;
}

/*
 * *slot: the rep's record before (found by the caller), and after (NULL:
 * removed). With count false (a replayed change into a deferred partition),
 * the record changes but is counted in no segment; with count true it is
 * counted, even where it was not (a deferred partition's).
 */
static int apply_one(struct ssid_rank *r, struct ssid_rank_change *c, uint64_t hash, bool count,
		     bool *changed, bool *kept, struct rec **slot)
{
	struct rec *rc = *slot;
	int e;

	*changed = false;
	/* The rep keeps its segment values: compared once, for the record and the boards. */
	*kept = rc && !c->removed && same_segments(rc, c);
	c->had_record = rc != NULL;
	if (rc) {
		c->old_score = rc->score;
		/* Interned: they outlive a move until the next apply (rank_values_sweep). */
		for (int s = 0; s < SSI_SEG__COUNT; s++)
			c->old_segment[s] = rc->segment[s];
	}
	if (c->removed) {
		if (!rc)
			return 0;
		*changed = true;
		e = rank_count_all(r, rc, false);
		if (e == 0) {
			rank_rec_unlink(r, rc);
			*slot = NULL;
		}
		return e;
	}
	if (*kept && rc->part == c->partition &&
	    memcmp(&rc->score, &c->score, sizeof(rc->score)) == 0)
		return 0;
	*changed = true;
	if (count && *kept && rc->part == c->partition && rc->seg[SSID_RANK_GLOBAL] != NONE)
		return rank_rescore_in_place(r, rc, &c->score);
	if (rc) {
		e = rank_count_all(r, rc, false);
		if (e < 0)
			return e;
		rc->part = c->partition;
	} else if (!(rc = *slot = rank_rec_new(r, c->user_id, hash, c->partition)))
		return -ENOMEM;
	rc->score = c->score;
	if (!*kept && (e = rank_rec_set_segments(r, rc, c->segment)) < 0)
		return e;
	return count ? rank_count_all(r, rc, true) : 0;
}

/*
 * A replayed change into a partition none of whose reps is counted defers
 * the partition's counting (nothing is read back from a replay). Its other
 * changes (a decay or model rescore during the replay) are counted at once.
 */
static void defer(struct ssid_rank *r, const struct ssid_rank_change *ch, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct part *p;

		if (!ch[i].quiet)
			continue;
		p = rank_part_find(r, ch[i].partition);
		if (!p->deferred && rank_part_uncounted(r, p))
			p->deferred = true;
		p->quiet_period = r->period + 1;
	}
}

/*
 * A board is the top_n of its segment, so a rep can change it only by being
 * within the top_n before or after; joining or leaving can also lift the
 * privacy floor, which is always within the top_n unless k > top_n. kept:
 * the rep had a record with the same segment values (no field to compare).
 */
static void board_flags(const struct ssid_rank *r, struct ssid_rank_change *c,
			const int64_t *above_before, const int64_t *above_after, bool changed,
			bool kept)
{
	int64_t top = r->ro.top_n;
	bool floor_beyond_board = r->ro.min_members > r->ro.top_n;

	for (int k = 0; k < SSID_RANK__COUNT; k++) {
		struct ssid_rank_result *res = &c->result[k];
		bool o = res->before.present, nw = res->after.present;
		bool near_before = o && above_before[k] < top,
		     near_after = nw && above_after[k] < top;
		bool stayed;
		char f1[4 * SSI_ID_MAX + 8], f2[4 * SSI_ID_MAX + 8];

		res->moved = false;
		res->board_old = res->board_new = false;
		if (o && nw && !kept) {
			ssid_rank_segment_field(k, c->old_segment, f1, sizeof(f1));
			ssid_rank_segment_field(k, c->segment, f2, sizeof(f2));
			res->moved = strcmp(f1, f2) != 0;
		}
		if (!changed)
			continue;
		stayed = o && nw && !res->moved;
		if (stayed) {
			res->board_old = res->board_new = near_before || near_after;
			continue;
		}
		res->board_old = o && (near_before || floor_beyond_board);
		res->board_new = nw && (near_after || floor_beyond_board);
	}
}

int ssid_rank_apply(struct ssid_rank *r, struct ssid_rank_change *changes, size_t n, bool persist)
{
	int64_t(*above)[SSID_RANK__COUNT];
	struct rec **recs;
	bool *changed, *kept;
	uint64_t *hash = malloc((n ? n : 1) * sizeof(*hash));
	int rc = hash ? validate(r, changes, n, hash) : -ENOMEM;

	rank_values_sweep(r); /* the last apply's old_segment values are read */

	if (rc == 0 && n > 0)
		rc = rank_collect(r); /* the last batch's write, before anything pending changes */
	if (rc < 0 || n == 0) {
		free(hash);
		return rc;
	}
	rc = load_needed(r, changes, n);
	above = malloc(n * sizeof(*above));
	changed = malloc(2 * n * sizeof(*changed));
	recs = malloc(n * sizeof(*recs));
	if (rc < 0 || !above || !changed || !recs) {
		free(hash);
		free(above);
		free(changed);
		free(recs);
		return rc < 0 ? rc : -ENOMEM;
	}
	kept = changed + n;
	defer(r, changes, n);
	r->apply_gen++; /* after the loads: what they counted is the segments' start */
	/* Positions before the call, all of them before anything moves. */
	for (size_t i = 0; i < n; i++) {
		struct ssid_rank_change *c = &changes[i];
		const struct rec *rec;

		/* The records are all over memory: start loading them ahead. */
		for (int st = 0; st < 3; st++) {
			size_t ahead = i + (size_t)(PREFETCH_STEP * (3 - st));

			if (ahead < n)
				rank_rec_prefetch(r, hash[ahead], st);
		}
		rec = recs[i] = rank_rec_find_hashed(r, c->user_id, hash[i]);

		c->had_record = false;
		for (int s = 0; s < SSI_SEG__COUNT; s++)
			c->old_segment[s] = "";
		memset(&c->old_score, 0, sizeof(c->old_score));
		memset(c->result, 0, sizeof(c->result));
		for (int k = 0; k < SSID_RANK__COUNT && !c->quiet; k++)
			place(r, rec, k, c->brief_before, &c->result[k].before, &above[i][k]);
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		/* Only a replayed change looks its partition up: live ones are always counted. */
		bool count =
		    !changes[i].quiet || !rank_part_find(r, changes[i].partition)->deferred;

		rc = apply_one(r, &changes[i], hash[i], count, &changed[i], &kept[i], &recs[i]);
		r->stats.deferred += !count;
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct ssid_rank_change *c = &changes[i];
		const struct rec *rec = recs[i];
		int64_t after[SSID_RANK__COUNT];

		if (c->quiet)
			continue;
		for (int k = 0; k < SSID_RANK__COUNT; k++) {
			if (rec && rec->seg[k] != NONE)
				rank_seg_note(r, r->segv[rec->seg[k]]);
			place(r, rec, k, false, &c->result[k].after, &after[k]);
		}
		board_flags(r, c, above[i], after, changed[i], kept[i]);
	}
	free(hash);
	free(above);
	free(changed);
	free(recs);
	if (rc == -ENOMEM) {
		/* Counted in some segments and not others: start again from Redis. */
		rank_forget_all(r);
		return ssid_redis_fail(r->rd, rc, "ranks: out of memory");
	}
	/* Records with every persisting apply, the aggregates when due. */
	if (rc == 0 && persist)
		rc = rank_write(r, rank_aggs_due(r), true);
	return rc;
}

/* ---- leaderboards ---------------------------------------------------------- */

static int board_read(struct ssid_rank *r, struct ssid_rank_board *bd)
{
	char field[4 * SSI_ID_MAX + 8];
	struct ssi_rank_top top = {0};
	const struct seg *g;
	uint32_t segi;
	int rc = 0;

	bd->hidden = false;
	bd->of = 0;
	bd->n = 0;
	if (ssid_rank_segment_field(bd->kind, bd->segment, field, sizeof(field)) < 0) {
		ssid_redis_set_error(r->rd, "board: no %s segment", ssid_rank_kind_name(bd->kind));
		return -ENOENT;
	}
	segi = rank_seg_find(r, field);
	g = segi == NONE ? NULL : r->segv[segi];
	bd->of = g ? g->all.n : 0;
	bd->hidden = ssi_rank_hidden(bd->of, r->ro.min_members);
	if (!g || bd->hidden)
		return 0;
	for (uint32_t s = 0; s < g->nshare && rc == 0; s++) {
		const struct share *sh = &g->share[s];

		rc = rank_share_top(r, &g->share[s]);
		for (size_t t = 0; t < sh->top.n && rc == 0; t++)
			rc = ssi_rank_top_offer(&top, (size_t)r->ro.top_n, sh->top.m[t].user_id,
						sh->top.m[t].total);
	}
	for (uint32_t i = 0; i < r->nparts && rc == 0; i++) {
		const struct part *p = &r->parts[i];

		for (uint32_t e = 0; !p->local && e < p->ne && rc == 0; e++)
			for (size_t t = 0; p->e[e].seg == segi && t < p->e[e].agg.top.n && rc == 0;
			     t++)
				rc = ssi_rank_top_offer(&top, (size_t)r->ro.top_n,
							p->e[e].agg.top.m[t].user_id,
							p->e[e].agg.top.m[t].total);
	}
	for (size_t j = 0; j < top.n && rc == 0; j++) {
		struct ssid_rank_entry *e = &bd->entry[j];

		snprintf(e->user_id, sizeof(e->user_id), "%s", top.m[j].user_id);
		e->total = top.m[j].total;
		e->rank = (int64_t)ssi_hist_above(&g->all.hist, e->total) + 1;
		bd->n++;
	}
	ssi_rank_top_clear(&top);
	return rc;
}

int ssid_rank_boards(struct ssid_rank *r, struct ssid_rank_board *boards, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int rc = board_read(r, &boards[i]);

		if (rc < 0)
			return rc == -ENOMEM ? ssid_redis_fail(r->rd, rc, "boards: out of memory")
					     : rc;
	}
	return 0;
}

int ssid_rank_place(const struct ssid_rank *r, enum ssid_rank_kind kind,
		    const char *const segment[SSI_SEG__COUNT], int total, struct ssid_rank_pos *pos)
{
	char field[4 * SSI_ID_MAX + 8];
	struct ssi_rank_place pl;
	struct ssi_rankagg empty;
	uint32_t segi;

	memset(pos, 0, sizeof(*pos));
	if (total < 0 || total > SSI_RANK_MAX_TOTAL)
		return -EINVAL;
	if (ssid_rank_segment_field(kind, segment, field, sizeof(field)) < 0)
		return -ENOENT;
	segi = rank_seg_find(r, field);
	ssi_rankagg_init(&empty);
	ssi_rankagg_place(segi == NONE ? &empty : &r->segv[segi]->all, total, r->ro.min_members,
			  &pl);
	ssid_rank_pos_set(pos, &pl);
	pos->warming = segi != NONE && !rank_seg_settled(r, r->segv[segi]);
	return 0;
}
