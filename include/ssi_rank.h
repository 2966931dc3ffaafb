/*
 * ssi_rank: the arithmetic of segment ranks. Pure: no I/O, no clock.
 *
 * A total is centipoints in [0, SSI_RANK_MAX_TOTAL], so a segment has at
 * most 10,001 distinct totals and a count per total (a histogram) gives a
 * rep's exact competition rank, 1 + the number of members strictly above,
 * whatever the segment's size. A histogram starts sparse (sorted pairs,
 * cheap for a team of 12) and turns dense with a Fenwick tree past
 * SSI_HIST_SPARSE_MAX distinct totals (about 80 KiB, O(log) per step).
 * A counts-only histogram (ssi_hist_init_counts), one that is added to,
 * merged and walked but not asked for ranks, turns dense without the tree:
 * 40 KiB and one write per step; its ssi_hist_above sums the counts.
 *
 * An aggregate is what ranks and averages need of a segment, or of one
 * partition's share of it: the member count, the sums of the totals and of
 * each pillar, the histogram, and, for leaderboards, the best members
 * (ssi_rank_top). Aggregates of disjoint sets of reps add up; so do their
 * top lists (the top N of a union is the top N of the union of top Ns).
 *
 * Encoding (an ssi_wire frame; ssid_rank owns the keys it is stored in):
 *   aggregate   'S' 'A' v1: n, sums, (value delta, count) pairs, top list
 * A rep's rank record is not encoded here: ssid_store reads it from the
 * rep's delivered score and state (ssid_store.h). Older builds stored it
 * as an 'R' 'R' v1 frame.
 *
 * Ownership: every structure owns its arrays; *_clear frees them.
 */
#ifndef SSI_RANK_H
#define SSI_RANK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ssi_event.h"
#include "ssi_score.h"

#define SSI_RANK_MAX_TOTAL  10000
#define SSI_RANK_VALUES	    (SSI_RANK_MAX_TOTAL + 1)
#define SSI_HIST_SPARSE_MAX 256
/* Most entries an aggregate's top list keeps (ssictl top -n at most this). */
#define SSI_RANK_TOP_KEEP 100

struct ssi_hist {
	uint64_t members;
	/* sparse: values ascending, n of them; dense: cnt[] and, unless counts_only, tree[] */
	uint16_t *val;
	uint32_t *cnt;
	uint32_t n, cap;
	uint32_t *tree;
	bool dense; /* cnt has SSI_RANK_VALUES entries */
	bool counts_only;
};

void ssi_hist_init(struct ssi_hist *h);
/* Counts only: no Fenwick tree when dense (see above). */
void ssi_hist_init_counts(struct ssi_hist *h);
/* Frees the counts; an empty histogram of the same kind remains. */
void ssi_hist_clear(struct ssi_hist *h);
/* count[value] += delta. 0, -ERANGE (value outside, or a count below 0), -ENOMEM. */
int ssi_hist_add(struct ssi_hist *h, int value, int64_t delta);
/* Members with a total strictly above value. */
uint64_t ssi_hist_above(const struct ssi_hist *h, int value);
uint32_t ssi_hist_get(const struct ssi_hist *h, int value);
/* The smallest value >= from with a non-zero count (its count in *count), or -1. */
int ssi_hist_next(const struct ssi_hist *h, int from, uint32_t *count);

/* A member of a top list. Order: total descending, then user id descending (bytes). */
struct ssi_rank_member {
	char user_id[SSI_ID_MAX + 1];
	int total;
};

/* true when a ranks before b in a top list. */
bool ssi_rank_member_before(const struct ssi_rank_member *a, const struct ssi_rank_member *b);

struct ssi_rank_top {
	struct ssi_rank_member *m; /* best first */
	size_t n, cap;
};

void ssi_rank_top_clear(struct ssi_rank_top *t);
/* Offer a member; the list keeps the best keep of those offered. 0, -ENOMEM. */
int ssi_rank_top_offer(struct ssi_rank_top *t, size_t keep, const char *user_id, int total);

#define SSI_RANK_SUMS (1 + SSI_PILLAR__COUNT) /* total, then the pillars */

struct ssi_rankagg {
	int64_t n;
	int64_t sum[SSI_RANK_SUMS];
	struct ssi_hist hist;
	struct ssi_rank_top top; /* may be empty: not every aggregate keeps one */
};

void ssi_rankagg_init(struct ssi_rankagg *a);
/* An aggregate whose histogram is counts only (ssi_hist_init_counts). */
void ssi_rankagg_init_counts(struct ssi_rankagg *a);
/* Frees it; an empty aggregate of the same kind remains. */
void ssi_rankagg_clear(struct ssi_rankagg *a);
/* Add (sign +1) or withdraw (sign -1) one rep's score. 0, -ERANGE, -ENOMEM. */
int ssi_rankagg_add(struct ssi_rankagg *a, const struct ssi_score *s, int sign);
/* One member's score goes from `from` to `to`: the histogram moves only when the total does. */
int ssi_rankagg_move(struct ssi_rankagg *a, const struct ssi_score *from,
		     const struct ssi_score *to);
/* dst += sign * src for n, sums and histogram (not the top list). */
int ssi_rankagg_merge(struct ssi_rankagg *dst, const struct ssi_rankagg *src, int sign);

/* Where a rep with total stands in a segment; the one place ranks are computed. */
struct ssi_rank_place {
	bool hidden;	  /* the segment has fewer than min_members reps */
	int64_t rank;	  /* 1 + members strictly above; 0 when hidden */
	int64_t of;	  /* members */
	int top_percent;  /* ceil(100 * rank / of), 1 best; 0 when hidden */
	int avg_total_cp; /* the average in centipoints, rounded half away from 0; 0 when hidden */
	int avg_pillar_cp[SSI_PILLAR__COUNT];
};

/* Whether a segment of `of` members is below the privacy floor: shown as hidden. */
bool ssi_rank_hidden(int64_t of, int min_members);

/*
 * Competition rank from a count of members strictly above: rank, top
 * percent and averages from n and the sums. Pure arithmetic; hidden when
 * of < min_members.
 */
void ssi_rank_place_of(int64_t above, int64_t of, const int64_t sum[SSI_RANK_SUMS], int min_members,
		       struct ssi_rank_place *out);
/* The same for a total in an aggregate. */
void ssi_rankagg_place(const struct ssi_rankagg *a, int total, int min_members,
		       struct ssi_rank_place *out);

/* A score whose pillars are each in [0, 2500] and add up to its total. */
bool ssi_rank_score_valid(const struct ssi_score *s);

/* ---- encodings ---------------------------------------------------------- */

/*
 * Encode a into buf (cap bytes); returns the frame's length, which may be
 * larger than cap (then nothing usable was written: call again with room).
 */
size_t ssi_rankagg_encode(const struct ssi_rankagg *a, uint8_t *buf, size_t cap);
/* Decode into a (initialised; replaced). 0, -EBADMSG, -EPROTONOSUPPORT, -ENOMEM. */
int ssi_rankagg_decode(struct ssi_rankagg *a, const uint8_t *buf, size_t len);

/* What one rep contributes to its segments. Segment values "" when unknown. */
struct ssi_rank_record {
	struct ssi_score score;
	char segment[SSI_SEG__COUNT][SSI_ID_MAX + 1];
};

#endif
