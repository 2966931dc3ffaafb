/* ssi_rank: segment rank arithmetic and its encodings; see ssi_rank.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ssi_array.h"
#include "ssi_rank.h"
#include "ssi_wire.h"

static const struct ssi_wire_format agg_format = {{'S', 'A'}, 1};

/* ---- histogram ------------------------------------------------------------ */

void ssi_hist_init(struct ssi_hist *h)
{
	memset(h, 0, sizeof(*h));
}

void ssi_hist_init_counts(struct ssi_hist *h)
{
	ssi_hist_init(h);
	h->counts_only = true;
}

void ssi_hist_clear(struct ssi_hist *h)
{
	bool counts_only = h->counts_only;

	free(h->val);
	free(h->cnt);
	free(h->tree);
	ssi_hist_init(h);
	h->counts_only = counts_only;
}

static void tree_add(uint32_t *tree, int value, int64_t delta)
{
	for (int i = value + 1; i <= SSI_RANK_VALUES; i += i & -i)
		tree[i] = (uint32_t)((int64_t)tree[i] + delta);
}

/* Members with a total at or below value. */
static uint64_t tree_prefix(const uint32_t *tree, int value)
{
	uint64_t s = 0;

	for (int i = value + 1; i > 0; i -= i & -i)
		s += tree[i];
	return s;
}

static int make_dense(struct ssi_hist *h)
{
	uint32_t *cnt = calloc(SSI_RANK_VALUES, sizeof(*cnt));
	uint32_t *tree = h->counts_only ? NULL : calloc(SSI_RANK_VALUES + 1, sizeof(*tree));

	if (!cnt || (!tree && !h->counts_only)) {
		free(cnt);
		free(tree);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < h->n; i++) {
		cnt[h->val[i]] = h->cnt[i];
		if (tree)
			tree_add(tree, h->val[i], h->cnt[i]);
	}
	free(h->val);
	free(h->cnt);
	h->val = NULL;
	h->cnt = cnt;
	h->tree = tree;
	h->dense = true;
	h->n = h->cap = 0;
	return 0;
}

/* Index of the first sparse value >= value. */
static uint32_t sparse_find(const struct ssi_hist *h, int value)
{
	uint32_t lo = 0, hi = h->n;

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;

		if (h->val[mid] < value)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int sparse_insert(struct ssi_hist *h, uint32_t at, int value, uint32_t count)
{
	size_t cap = h->cap;

	/* Two arrays of one capacity: h->cap moves only once both have grown. */
	if (SSI_GROW(h->val, &cap, (size_t)h->n + 1, 8) < 0)
		return -ENOMEM;
	cap = h->cap;
	if (SSI_GROW(h->cnt, &cap, (size_t)h->n + 1, 8) < 0)
		return -ENOMEM;
	h->cap = (uint32_t)cap;
	memmove(h->val + at + 1, h->val + at, (h->n - at) * sizeof(*h->val));
	memmove(h->cnt + at + 1, h->cnt + at, (h->n - at) * sizeof(*h->cnt));
	h->val[at] = (uint16_t)value;
	h->cnt[at] = count;
	h->n++;
	return 0;
}

int ssi_hist_add(struct ssi_hist *h, int value, int64_t delta)
{
	int64_t now;
	uint32_t at;

	if (value < 0 || value > SSI_RANK_MAX_TOTAL)
		return -ERANGE;
	if (delta == 0)
		return 0;
	if (h->dense) {
		now = (int64_t)h->cnt[value] + delta;
		if (now < 0 || now > UINT32_MAX)
			return -ERANGE;
		h->cnt[value] = (uint32_t)now;
		if (h->tree)
			tree_add(h->tree, value, delta);
		h->members = (uint64_t)((int64_t)h->members + delta);
		return 0;
	}
	at = sparse_find(h, value);
	if (at < h->n && h->val[at] == value) {
		now = (int64_t)h->cnt[at] + delta;
		if (now < 0 || now > UINT32_MAX)
			return -ERANGE;
		if (now == 0) {
			memmove(h->val + at, h->val + at + 1, (h->n - at - 1) * sizeof(*h->val));
			memmove(h->cnt + at, h->cnt + at + 1, (h->n - at - 1) * sizeof(*h->cnt));
			h->n--;
		} else
			h->cnt[at] = (uint32_t)now;
	} else {
		if (delta < 0 || delta > UINT32_MAX)
			return -ERANGE;
		if (h->n >= SSI_HIST_SPARSE_MAX) {
			if (make_dense(h) < 0)
				return -ENOMEM;
			return ssi_hist_add(h, value, delta);
		}
		if (sparse_insert(h, at, value, (uint32_t)delta) < 0)
			return -ENOMEM;
	}
	h->members = (uint64_t)((int64_t)h->members + delta);
	return 0;
}

uint64_t ssi_hist_above(const struct ssi_hist *h, int value)
{
	uint64_t s = 0;

	if (value < 0)
		return h->members;
	if (value >= SSI_RANK_MAX_TOTAL)
		return 0;
	if (h->tree)
		return h->members - tree_prefix(h->tree, value);
	if (h->dense) {
		for (int v = value + 1; v <= SSI_RANK_MAX_TOTAL; v++)
			s += h->cnt[v];
		return s;
	}
	for (uint32_t i = sparse_find(h, value + 1); i < h->n; i++)
		s += h->cnt[i];
	return s;
}

uint32_t ssi_hist_get(const struct ssi_hist *h, int value)
{
	uint32_t at;

	if (value < 0 || value > SSI_RANK_MAX_TOTAL)
		return 0;
	if (h->dense)
		return h->cnt[value];
	at = sparse_find(h, value);
	return at < h->n && h->val[at] == value ? h->cnt[at] : 0;
}

int ssi_hist_next(const struct ssi_hist *h, int from, uint32_t *count)
{
	uint32_t at;

	if (from < 0)
		from = 0;
	if (h->dense) {
		for (int v = from; v <= SSI_RANK_MAX_TOTAL; v++)
			if (h->cnt[v]) {
				*count = h->cnt[v];
				return v;
			}
		return -1;
	}
	at = sparse_find(h, from);
	if (at >= h->n)
		return -1;
	*count = h->cnt[at];
	return h->val[at];
}

/* ---- top lists ------------------------------------------------------------ */

bool ssi_rank_member_before(const struct ssi_rank_member *a, const struct ssi_rank_member *b)
{
	if (a->total != b->total)
		return a->total > b->total;
	return strcmp(a->user_id, b->user_id) > 0;
}

void ssi_rank_top_clear(struct ssi_rank_top *t)
{
	free(t->m);
	memset(t, 0, sizeof(*t));
}

int ssi_rank_top_offer(struct ssi_rank_top *t, size_t keep, const char *user_id, int total)
{
	struct ssi_rank_member cand;
	size_t at, len = strlen(user_id);

	if (keep == 0 || len > SSI_ID_MAX)
		return 0;
	memcpy(cand.user_id, user_id, len + 1);
	cand.total = total;
	if (t->n == keep && !ssi_rank_member_before(&cand, &t->m[t->n - 1]))
		return 0;
	/* Not SSI_GROW: the capacity stops at keep rather than the next doubling. */
	if (t->n < keep && t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 4;
		struct ssi_rank_member *m;

		if (cap > keep)
			cap = keep;
		m = realloc(t->m, cap * sizeof(*m));
		if (!m)
			return -ENOMEM;
		t->m = m;
		t->cap = cap;
	}
	at = t->n < keep ? t->n : keep - 1;
	while (at > 0 && ssi_rank_member_before(&cand, &t->m[at - 1])) {
		t->m[at] = t->m[at - 1];
		at--;
	}
	t->m[at] = cand;
	if (t->n < keep)
		t->n++;
	return 0;
}

/* ---- aggregates ----------------------------------------------------------- */

void ssi_rankagg_init(struct ssi_rankagg *a)
{
	memset(a, 0, sizeof(*a));
	ssi_hist_init(&a->hist);
}

void ssi_rankagg_init_counts(struct ssi_rankagg *a)
{
	ssi_rankagg_init(a);
	ssi_hist_init_counts(&a->hist);
}

void ssi_rankagg_clear(struct ssi_rankagg *a)
{
	ssi_hist_clear(&a->hist); /* keeps its kind */
	ssi_rank_top_clear(&a->top);
	a->n = 0;
	memset(a->sum, 0, sizeof(a->sum));
}

bool ssi_rank_score_valid(const struct ssi_score *s)
{
	int sum = 0;

	for (int p = 0; p < SSI_PILLAR__COUNT; p++) {
		if (s->pillar[p] < 0 || s->pillar[p] > 2500)
			return false;
		sum += s->pillar[p];
	}
	return s->total == sum;
}

int ssi_rankagg_add(struct ssi_rankagg *a, const struct ssi_score *s, int sign)
{
	int r = ssi_hist_add(&a->hist, s->total, sign);

	if (r < 0)
		return r;
	a->n += sign;
	a->sum[0] += (int64_t)sign * s->total;
	for (int p = 0; p < SSI_PILLAR__COUNT; p++)
		a->sum[1 + p] += (int64_t)sign * s->pillar[p];
	return 0;
}

int ssi_rankagg_move(struct ssi_rankagg *a, const struct ssi_score *from,
		     const struct ssi_score *to)
{
	if (from->total != to->total) {
		int r = ssi_hist_add(&a->hist, from->total, -1);

		if (r == 0)
			r = ssi_hist_add(&a->hist, to->total, +1);
		if (r < 0)
			return r;
	}
	a->sum[0] += (int64_t)to->total - from->total;
	for (int p = 0; p < SSI_PILLAR__COUNT; p++)
		a->sum[1 + p] += (int64_t)to->pillar[p] - from->pillar[p];
	return 0;
}

int ssi_rankagg_merge(struct ssi_rankagg *dst, const struct ssi_rankagg *src, int sign)
{
	uint32_t count;

	for (int v = ssi_hist_next(&src->hist, 0, &count); v >= 0;
	     v = ssi_hist_next(&src->hist, v + 1, &count)) {
		int r = ssi_hist_add(&dst->hist, v, (int64_t)sign * count);

		if (r < 0)
			return r;
	}
	dst->n += sign * src->n;
	for (int i = 0; i < SSI_RANK_SUMS; i++)
		dst->sum[i] += sign * src->sum[i];
	return 0;
}

/* sum / n rounded half away from zero, in integers (n > 0): exact where a double may not be. */
static int average(int64_t sum, int64_t n)
{
	uint64_t u = sum < 0 ? 0u - (uint64_t)sum : (uint64_t)sum;
	int64_t q = (int64_t)((2 * u + (uint64_t)n) / (2 * (uint64_t)n));

	return (int)(sum < 0 ? -q : q);
}

bool ssi_rank_hidden(int64_t of, int min_members)
{
	return of < min_members || of <= 0;
}

void ssi_rank_place_of(int64_t above, int64_t of, const int64_t sum[SSI_RANK_SUMS], int min_members,
		       struct ssi_rank_place *out)
{
	memset(out, 0, sizeof(*out));
	out->of = of;
	if (ssi_rank_hidden(of, min_members)) {
		out->hidden = true;
		return;
	}
	out->rank = above + 1;
	out->top_percent = (int)((100 * out->rank + of - 1) / of);
	out->avg_total_cp = average(sum[0], of);
	for (int p = 0; p < SSI_PILLAR__COUNT; p++)
		out->avg_pillar_cp[p] = average(sum[1 + p], of);
}

void ssi_rankagg_place(const struct ssi_rankagg *a, int total, int min_members,
		       struct ssi_rank_place *out)
{
	ssi_rank_place_of((int64_t)ssi_hist_above(&a->hist, total), a->n, a->sum, min_members, out);
}

/* ---- encodings ------------------------------------------------------------ */

static void put_string(struct ssi_wire_writer *w, const char *s)
{
	size_t len = strlen(s);

	ssi_wire_put_varint(w, len);
	ssi_wire_put_bytes(w, s, len);
}

/* A string of at most SSI_ID_MAX bytes with no NUL into out. */
static int get_string(struct ssi_wire_reader *r, char out[SSI_ID_MAX + 1])
{
	const uint8_t *p;
	uint64_t len;

	if (ssi_wire_get_varint_max(r, SSI_ID_MAX, &len) < 0 ||
	    ssi_wire_get_bytes(r, len, &p) < 0 || memchr(p, '\0', len))
		return -EBADMSG;
	memcpy(out, p, len);
	out[len] = '\0';
	return 0;
}

static size_t finish_frame(struct ssi_wire_writer *w)
{
	size_t framed = ssi_wire_framed_size(w);

	if (ssi_wire_put_trailer(w) < 0)
		return framed;
	return w->len;
}

size_t ssi_rankagg_encode(const struct ssi_rankagg *a, uint8_t *buf, size_t cap)
{
	struct ssi_wire_writer w = {buf, cap, 0};
	uint32_t count;
	int prev = -1;

	ssi_wire_put_header(&w, &agg_format);
	ssi_wire_put_varint(&w, (uint64_t)a->n);
	for (int i = 0; i < SSI_RANK_SUMS; i++)
		ssi_wire_put_varint(&w, (uint64_t)a->sum[i]);
	ssi_wire_put_varint(&w, a->hist.dense ? SSI_RANK_VALUES : a->hist.n);
	for (int v = ssi_hist_next(&a->hist, 0, &count); v >= 0;
	     v = ssi_hist_next(&a->hist, v + 1, &count)) {
		ssi_wire_put_varint(&w, (uint64_t)(v - prev));
		ssi_wire_put_varint(&w, count);
		prev = v;
	}
	ssi_wire_put_varint(&w, 0); /* no more values */
	ssi_wire_put_varint(&w, a->top.n);
	for (size_t i = 0; i < a->top.n; i++) {
		ssi_wire_put_varint(&w, (uint64_t)a->top.m[i].total);
		put_string(&w, a->top.m[i].user_id);
	}
	return finish_frame(&w);
}

static int decode_agg_body(struct ssi_rankagg *a, struct ssi_wire_reader *r)
{
	uint64_t v, n, delta, count, ntop;
	int value = -1;

	if (ssi_wire_get_varint_max(r, INT64_MAX, &n) < 0)
		return -EBADMSG;
	a->n = (int64_t)n;
	for (int i = 0; i < SSI_RANK_SUMS; i++) {
		if (ssi_wire_get_varint_max(r, INT64_MAX, &v) < 0)
			return -EBADMSG;
		a->sum[i] = (int64_t)v;
	}
	if (ssi_wire_get_varint_max(r, SSI_RANK_VALUES, &v) < 0) /* a size hint only */
		return -EBADMSG;
	for (;;) {
		int rc;

		if (ssi_wire_get_varint_max(r, SSI_RANK_VALUES, &delta) < 0)
			return -EBADMSG;
		if (delta == 0)
			break;
		value += (int)delta;
		if (value > SSI_RANK_MAX_TOTAL ||
		    ssi_wire_get_varint_max(r, UINT32_MAX, &count) < 0 || count == 0)
			return -EBADMSG;
		rc = ssi_hist_add(&a->hist, value, (int64_t)count);
		if (rc < 0)
			return rc == -ENOMEM ? rc : -EBADMSG;
	}
	if (a->hist.members != n)
		return -EBADMSG;
	if (ssi_wire_get_varint_max(r, SSI_RANK_TOP_KEEP, &ntop) < 0)
		return -EBADMSG;
	for (uint64_t i = 0; i < ntop; i++) {
		char id[SSI_ID_MAX + 1];
		size_t before = a->top.n;

		if (ssi_wire_get_varint_max(r, SSI_RANK_MAX_TOTAL, &v) < 0 || get_string(r, id) < 0)
			return -EBADMSG;
		if (ssi_rank_top_offer(&a->top, SSI_RANK_TOP_KEEP, id, (int)v) < 0)
			return -ENOMEM;
		if (a->top.n != before + 1 || strcmp(a->top.m[a->top.n - 1].user_id, id) != 0)
			return -EBADMSG; /* not strictly in list order */
	}
	return ssi_wire_left(r) == 0 ? 0 : -EBADMSG;
}

int ssi_rankagg_decode(struct ssi_rankagg *a, const uint8_t *buf, size_t len)
{
	struct ssi_wire_reader r;
	int rc = ssi_wire_open(&agg_format, buf, len, &r);

	ssi_rankagg_clear(a);
	if (rc < 0)
		return rc;
	rc = decode_agg_body(a, &r);
	if (rc < 0)
		ssi_rankagg_clear(a);
	return rc;
}
