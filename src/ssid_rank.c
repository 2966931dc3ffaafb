/* ssid_rank: the ranks kept in memory (records, segments, histograms, top lists); see ssid_rank.h.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ssid_rank_int.h"

/* ---- names -------------------------------------------------------------- */

static bool known(const char *s)
{
	return s && s[0];
}

/* Appends into buf[len] as snprintf would; returns the new length. */
static size_t put(char *buf, size_t len, size_t at, const char *s, size_t n)
{
	if (at < len) {
		size_t room = len - at - 1;

		memcpy(buf + at, s, n < room ? n : room);
		buf[at + (n < room ? n : room)] = '\0';
	}
	return at + n;
}

static size_t put_escaped(char *buf, size_t len, size_t at, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char hex[4];

		if (c <= ' ' || c == 0x7f || c == '%' || c == ':' || c == '{' || c == '}') {
			snprintf(hex, sizeof(hex), "%%%02X", c);
			at = put(buf, len, at, hex, 3);
		} else
			at = put(buf, len, at, (const char *)&c, 1);
	}
	return at;
}

int ssid_rank_segment_field(enum ssid_rank_kind kind, const char *const segment[SSI_SEG__COUNT],
			    char *buf, size_t len)
{
	size_t at = 0;

	if (buf && len)
		buf[0] = '\0';
	switch (kind) {
	case SSID_RANK_GLOBAL:
		at = put(buf, len, at, "g", 1);
		break;
	case SSID_RANK_INDUSTRY:
		if (!known(segment[SSI_SEG_INDUSTRY]))
			return -ENOENT;
		at = put(buf, len, at, "i:", 2);
		at = put_escaped(buf, len, at, segment[SSI_SEG_INDUSTRY]);
		break;
	case SSID_RANK_TENANT:
		if (!known(segment[SSI_SEG_TENANT]))
			return -ENOENT;
		at = put(buf, len, at, "t:", 2);
		at = put_escaped(buf, len, at, segment[SSI_SEG_TENANT]);
		break;
	case SSID_RANK_TEAM:
		if (!known(segment[SSI_SEG_TENANT]) || !known(segment[SSI_SEG_TEAM]))
			return -ENOENT;
		at = put(buf, len, at, "m:", 2);
		at = put_escaped(buf, len, at, segment[SSI_SEG_TENANT]);
		at = put(buf, len, at, ":", 1);
		at = put_escaped(buf, len, at, segment[SSI_SEG_TEAM]);
		break;
	default:
		return -EINVAL;
	}
	return (int)at;
}

int ssid_rank_key_records(const char *prefix, int32_t partition, char *buf, size_t len)
{
	return snprintf(buf, len, "%srk:{p%d}:u", prefix, (int)partition);
}

int ssid_rank_key_aggs(const char *prefix, int32_t partition, char *buf, size_t len)
{
	return snprintf(buf, len, "%srk:{p%d}:s", prefix, (int)partition);
}

int ssid_rank_key_version(const char *prefix, int32_t partition, char *buf, size_t len)
{
	return snprintf(buf, len, "%srk:{p%d}:v", prefix, (int)partition);
}

int ssid_rank_key_parts(const char *prefix, char *buf, size_t len)
{
	return snprintf(buf, len, "%srk:parts", prefix);
}

const char *ssid_rank_kind_name(enum ssid_rank_kind kind)
{
	static const char *const names[SSID_RANK__COUNT] = {"global", "industry", "tenant", "team"};

	return kind >= 0 && kind < SSID_RANK__COUNT ? names[kind] : "?";
}

void ssid_rank_pos_set(struct ssid_rank_pos *pos, const struct ssi_rank_place *pl)
{
	memset(pos, 0, sizeof(*pos));
	pos->present = true;
	pos->hidden = pl->hidden;
	pos->of = pl->of;
	if (pl->hidden)
		return;
	pos->rank = pl->rank;
	pos->top_percent = pl->top_percent;
	pos->avg_total_cp = pl->avg_total_cp;
	memcpy(pos->avg_pillar_cp, pl->avg_pillar_cp, sizeof(pos->avg_pillar_cp));
}

uint64_t rank_hash_strlen(const char *s, size_t *len)
{
	uint64_t h = 1469598103934665603ULL;
	const char *p = s;

	for (; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	*len = (size_t)(p - s);
	return h;
}

uint64_t rank_hash_str(const char *s)
{
	size_t len;

	return rank_hash_strlen(s, &len);
}

/* ---- lifecycle ------------------------------------------------------------ */

void ssid_rank_opts_default(struct ssid_rank_opts *o)
{
	o->min_members = SSID_RANK_DEFAULT_MIN_MEMBERS;
	o->top_n = SSID_RANK_DEFAULT_TOP_N;
	o->refresh_ms = SSID_RANK_DEFAULT_REFRESH_MS;
	o->warmup_ms = SSID_RANK_DEFAULT_WARMUP_MS;
	o->warmup_growth = SSID_RANK_DEFAULT_WARMUP_GROWTH;
}

void ssid_rank_set_clock(struct ssid_rank *r, int64_t now_ms)
{
	r->clock_ms = now_ms;
}

static struct ssi_warmup_rule warmup_rule(const struct ssid_rank *r)
{
	return (struct ssi_warmup_rule){.window_ms = r->ro.warmup_ms,
					.growth_percent = r->ro.warmup_growth};
}

bool rank_seg_settled(const struct ssid_rank *r, const struct seg *g)
{
	struct ssi_warmup_rule rule = warmup_rule(r);

	return ssi_warmup_settled(&g->warm, &rule, r->clock_ms, (int64_t)g->all.hist.members);
}

/* The members a segment had when this apply first touched it. */
static void warm_mark(struct ssid_rank *r, struct seg *g)
{
	if (g->warm_gen != r->apply_gen) {
		g->warm_gen = r->apply_gen;
		g->warm_start = g->all.hist.members;
	}
}

void rank_seg_note(struct ssid_rank *r, struct seg *g)
{
	struct ssi_warmup_rule rule = warmup_rule(r);
	uint64_t before = g->warm_gen == r->apply_gen ? g->warm_start : g->all.hist.members;

	ssi_warmup_note(&g->warm, &rule, r->clock_ms, (int64_t)before,
			(int64_t)g->all.hist.members);
}

void rank_part_free_remote(struct part *p)
{
	for (uint32_t i = 0; i < p->ne; i++)
		ssi_rankagg_clear(&p->e[i].agg);
	free(p->e);
	p->e = NULL;
	p->ne = 0;
	p->version = -1;
}

void rank_part_free_pending(struct part *p)
{
	p->ndirty = 0;
	p->full = false;
}

/* ---- interned segment values ------------------------------------------------ */

struct segval {
	struct segval *next;	  /* hash chain */
	struct segval *gone_next; /* on r->vgone (gone) */
	uint64_t hash;
	uint64_t refs;
	bool gone; /* its last reference went: freed by the next sweep unless taken again */
	char s[];
};

static struct segval *segval_of(const char *v)
{
	return (struct segval *)(void *)(v - offsetof(struct segval, s));
}

static int segval_grow(struct ssid_rank *r)
{
	size_t cap = r->vcap ? r->vcap * 2 : 64;
	struct segval **tab;

	if (r->nval < r->vcap)
		return 0;
	tab = calloc(cap, sizeof(*tab));
	if (!tab)
		return -ENOMEM;
	for (size_t i = 0; i < r->vcap; i++)
		for (struct segval *v = r->vtab[i], *next; v; v = next) {
			next = v->next;
			v->next = tab[v->hash & (cap - 1)];
			tab[v->hash & (cap - 1)] = v;
		}
	free(r->vtab);
	r->vtab = tab;
	r->vcap = cap;
	return 0;
}

/* v interned, with a reference taken (NULL: out of memory); "" is a constant, not counted. */
static const char *segval_get(struct ssid_rank *r, const char *v)
{
	uint64_t h;
	struct segval *sv;
	size_t len;

	if (!v || !v[0])
		return "";
	h = rank_hash_str(v);
	for (sv = r->vcap ? r->vtab[h & (r->vcap - 1)] : NULL; sv; sv = sv->next)
		if (sv->hash == h && strcmp(sv->s, v) == 0) {
			sv->refs++;
			return sv->s;
		}
	if (segval_grow(r) < 0)
		return NULL;
	len = strlen(v);
	sv = malloc(sizeof(*sv) + len + 1);
	if (!sv)
		return NULL;
	memcpy(sv->s, v, len + 1);
	sv->hash = h;
	sv->refs = 1;
	sv->gone = false;
	sv->gone_next = NULL;
	sv->next = r->vtab[h & (r->vcap - 1)];
	r->vtab[h & (r->vcap - 1)] = sv;
	r->nval++;
	return sv->s;
}

/*
 * A reference given back. The value outlives its last one until the next
 * rank_values_sweep: a change's old_segment may point to it till then.
 */
static void segval_put(struct ssid_rank *r, const char *v)
{
	struct segval *sv;

	if (!v[0] || --(sv = segval_of(v))->refs > 0 || sv->gone)
		return;
	sv->gone = true;
	sv->gone_next = r->vgone;
	r->vgone = sv;
}

void rank_values_sweep(struct ssid_rank *r)
{
	while (r->vgone) {
		struct segval *sv = r->vgone, **pp;

		r->vgone = sv->gone_next;
		sv->gone = false;
		if (sv->refs > 0) /* taken again */
			continue;
		for (pp = &r->vtab[sv->hash & (r->vcap - 1)]; *pp != sv; pp = &(*pp)->next)
			;
		*pp = sv->next;
		r->nval--;
		free(sv);
	}
}

int rank_rec_set_segments(struct ssid_rank *r, struct rec *rc, const char *const v[SSI_SEG__COUNT])
{
	const char *now[SSI_SEG__COUNT];

	for (int s = 0; s < SSI_SEG__COUNT; s++)
		if (!(now[s] = segval_get(r, v[s]))) {
			while (s-- > 0)
				segval_put(r, now[s]);
			return -ENOMEM;
		}
	for (int s = 0; s < SSI_SEG__COUNT; s++) {
		segval_put(r, rc->segment[s]);
		rc->segment[s] = now[s];
	}
	return 0;
}

static void rec_free(struct ssid_rank *r, struct rec *rc)
{
	for (int s = 0; s < SSI_SEG__COUNT; s++)
		segval_put(r, rc->segment[s]);
	free(rc);
}

void rank_forget_all(struct ssid_rank *r)
{
	for (uint32_t i = 0; i < r->nparts; i++)
		rank_part_free_pending(&r->parts[i]); /* before the records it names go */
	for (size_t i = 0; i < r->rcap; i++) {
		struct rec *rc = r->rtab ? r->rtab[i] : NULL;

		while (rc) {
			struct rec *next = rc->next;

			rec_free(r, rc);
			rc = next;
		}
		if (r->rtab)
			r->rtab[i] = NULL;
	}
	r->nrec = 0;
	for (uint32_t i = 0; i < r->nseg; i++) {
		struct seg *g = r->segv[i];

		for (uint32_t s = 0; s < g->nshare; s++) {
			ssi_rankagg_clear(&g->share[s].agg);
			free(g->share[s].member);
			ssi_rank_top_clear(&g->share[s].top);
		}
		free(g->share);
		ssi_rankagg_clear(&g->all);
		free(g->field);
		free(g);
	}
	r->nseg = 0;
	if (r->stab)
		memset(r->stab, 0, r->scap * sizeof(*r->stab));
	for (uint32_t i = 0; i < r->nparts; i++) {
		rank_part_free_remote(&r->parts[i]);
		free(r->parts[i].dirty_seg);
	}
	r->nparts = 0;
	r->refreshed = false;
}

void ssid_rank_free(struct ssid_rank *r)
{
	if (!r)
		return;
	rank_forget_all(r);
	rank_values_sweep(r);
	free(r->rtab);
	free(r->vtab); /* empty: every record gave its values back */
	free(r->segv);
	free(r->stab);
	free(r->parts);
	ssid_buf_free(&r->enc);
	free(r->argv);
	free(r->argl);
	free(r->argoff);
	ssid_redis_free(r->rd);
	free(r);
}

int ssid_rank_new(struct ssid_rank **out, const struct ssid_redis_opts *o,
		  const struct ssid_rank_opts *ro)
{
	struct ssid_rank *r;

	if (ro && (ro->min_members < 1 || ro->top_n < 1 || ro->top_n > SSID_RANK_TOP_MAX ||
		   ro->warmup_ms < 0 || ro->warmup_growth < 0 || ro->refresh_ms < 0))
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	if (ro)
		r->ro = *ro;
	else
		ssid_rank_opts_default(&r->ro);
	/* Never written: the first write is due, however young the monotonic clock. */
	r->aggs_written_ms = INT64_MIN / 2;
	if (ssid_redis_new(&r->rd, o) < 0) {
		free(r);
		return -ENOMEM;
	}
	*out = r;
	return 0;
}

const char *ssid_rank_errstr(const struct ssid_rank *r)
{
	return ssid_redis_errstr(r->rd);
}

void ssid_rank_get_stats(const struct ssid_rank *r, struct ssid_rank_stats *out)
{
	*out = r->stats;
}

/* ---- tables --------------------------------------------------------------- */

struct rec *rank_rec_find(const struct ssid_rank *r, const char *id)
{
	return rank_rec_find_hashed(r, id, rank_hash_str(id));
}

void rank_rec_prefetch(const struct ssid_rank *r, uint64_t h, int stage)
{
	struct rec *const *b;

	if (!r->rcap)
		return;
	b = &r->rtab[h & (r->rcap - 1)];
	if (stage == 0)
		__builtin_prefetch(b);
	else if (*b && stage == 1)
		__builtin_prefetch(*b);
	else if (*b)
		__builtin_prefetch((*b)->id);
}

struct rec *rank_rec_find_hashed(const struct ssid_rank *r, const char *id, uint64_t h)
{
	if (!r->rcap)
		return NULL;
	for (struct rec *rc = r->rtab[h & (r->rcap - 1)]; rc; rc = rc->next)
		if (rc->hash == h && strcmp(rc->id, id) == 0)
			return rc;
	return NULL;
}

static int rec_table_grow(struct ssid_rank *r)
{
	size_t cap = r->rcap ? r->rcap * 2 : 1024;
	struct rec **tab;

	if (r->nrec < r->rcap)
		return 0;
	tab = calloc(cap, sizeof(*tab));
	if (!tab)
		return -ENOMEM;
	for (size_t i = 0; i < r->rcap; i++) {
		struct rec *rc = r->rtab[i];

		while (rc) {
			struct rec *next = rc->next;

			rc->next = tab[rc->hash & (cap - 1)];
			tab[rc->hash & (cap - 1)] = rc;
			rc = next;
		}
	}
	free(r->rtab);
	r->rtab = tab;
	r->rcap = cap;
	return 0;
}

/* A new record for id in partition part, counted nowhere yet. */
struct rec *rank_rec_new(struct ssid_rank *r, const char *id, uint64_t h, int32_t part)
{
	size_t idlen = strlen(id);
	struct rec *rc;

	if (rec_table_grow(r) < 0)
		return NULL;
	rc = calloc(1, sizeof(*rc) + idlen + 1);
	if (!rc)
		return NULL;
	memcpy(rc->id, id, idlen + 1);
	rc->idlen = idlen;
	rc->hash = h;
	rc->part = part;
	for (int k = 0; k < SSID_RANK__COUNT; k++)
		rc->seg[k] = rc->slot[k] = NONE;
	for (int s = 0; s < SSI_SEG__COUNT; s++)
		rc->segment[s] = "";
	rc->next = r->rtab[rc->hash & (r->rcap - 1)];
	r->rtab[rc->hash & (r->rcap - 1)] = rc;
	r->nrec++;
	return rc;
}

void rank_rec_unlink(struct ssid_rank *r, struct rec *rc)
{
	struct rec **pp = &r->rtab[rc->hash & (r->rcap - 1)];

	while (*pp != rc)
		pp = &(*pp)->next;
	*pp = rc->next;
	r->nrec--;
	rec_free(r, rc);
}

static enum ssid_rank_kind kind_of_field(const char *field)
{
	switch (field[0]) {
	case 'i':
		return SSID_RANK_INDUSTRY;
	case 't':
		return SSID_RANK_TENANT;
	case 'm':
		return SSID_RANK_TEAM;
	default:
		return SSID_RANK_GLOBAL;
	}
}

static int seg_table_grow(struct ssid_rank *r)
{
	size_t cap = r->scap ? r->scap * 2 : 256;
	uint32_t *tab;

	if (r->nseg * 2 < r->scap)
		return 0;
	tab = calloc(cap, sizeof(*tab));
	if (!tab)
		return -ENOMEM;
	for (uint32_t i = 0; i < r->nseg; i++) {
		size_t at = r->segv[i]->hash & (cap - 1);

		while (tab[at])
			at = (at + 1) & (cap - 1);
		tab[at] = i + 1;
	}
	free(r->stab);
	r->stab = tab;
	r->scap = cap;
	return 0;
}

/* The index of the segment named field, NONE when absent. */
uint32_t rank_seg_find(const struct ssid_rank *r, const char *field)
{
	uint64_t h = rank_hash_str(field);

	for (size_t at = h & (r->scap - 1); r->scap && r->stab[at]; at = (at + 1) & (r->scap - 1)) {
		const struct seg *g = r->segv[r->stab[at] - 1];

		if (g->hash == h && strcmp(g->field, field) == 0)
			return r->stab[at] - 1;
	}
	return NONE;
}

/* The segment named field: its index, created when create; NONE when absent or out of memory. */
uint32_t rank_seg_lookup(struct ssid_rank *r, const char *field, bool create)
{
	uint64_t h = rank_hash_str(field);
	uint32_t found = rank_seg_find(r, field);
	struct seg *g;
	size_t at;

	if (found != NONE)
		return found;
	if (!create || seg_table_grow(r) < 0 ||
	    SSI_GROW(r->segv, &r->segcap, (size_t)r->nseg + 1, 4) < 0)
		return NONE;
	g = calloc(1, sizeof(*g));
	if (!g || !(g->field = strdup(field))) {
		free(g);
		return NONE;
	}
	g->hash = h;
	g->kind = kind_of_field(field);
	ssi_rankagg_init(&g->all);
	r->segv[r->nseg] = g;
	for (at = h & (r->scap - 1); r->stab[at]; at = (at + 1) & (r->scap - 1))
		;
	r->stab[at] = ++r->nseg;
	return r->nseg - 1;
}

struct part *rank_part_find(struct ssid_rank *r, int32_t id)
{
	for (uint32_t i = 0; i < r->nparts; i++)
		if (r->parts[i].id == id)
			return &r->parts[i];
	return NULL;
}

struct part *rank_part_get(struct ssid_rank *r, int32_t id)
{
	struct part *p = rank_part_find(r, id);

	if (p)
		return p;
	if (SSI_GROW(r->parts, &r->pcap, (size_t)r->nparts + 1, 4) < 0)
		return NULL;
	p = &r->parts[r->nparts++];
	memset(p, 0, sizeof(*p));
	p->id = id;
	p->version = -1;
	return p;
}

struct share *rank_share_find(struct seg *g, int32_t part)
{
	for (uint32_t i = 0; i < g->nshare; i++)
		if (g->share[i].part == part)
			return &g->share[i];
	return NULL;
}

static struct share *share_get(struct seg *g, int32_t part)
{
	struct share *s = rank_share_find(g, part);

	if (s)
		return s;
	if (SSI_GROW(g->share, &g->cap, (size_t)g->nshare + 1, 4) < 0)
		return NULL;
	s = &g->share[g->nshare++];
	memset(s, 0, sizeof(*s));
	s->part = part;
	ssi_rankagg_init_counts(&s->agg); /* only g->all is asked for ranks */
	return s;
}

int rank_mark_dirty(struct ssid_rank *r, uint32_t segi, struct share *s)
{
	struct part *p;

	if (s->dirty)
		return 0;
	p = rank_part_find(r, s->part);
	if (!p || SSI_GROW(p->dirty_seg, &p->dcap, (size_t)p->ndirty + 1, 4) < 0)
		return -ENOMEM;
	p->dirty_seg[p->ndirty++] = segi;
	s->dirty = true;
	return 0;
}

/* How many of a share's best members are kept: the board's and a margin. */
static size_t top_keep(const struct ssid_rank *r)
{
	return (size_t)r->ro.top_n + 32;
}

static struct ssi_rank_member as_member(const struct rec *rc)
{
	struct ssi_rank_member m = {.total = rc->score.total};
	size_t n = strnlen(rc->id, sizeof(m.user_id) - 1);

	memcpy(m.user_id, rc->id, n);
	m.user_id[n] = '\0';
	return m;
}

/* A member counted in: into the list if it belongs there. */
static int top_enter(const struct ssid_rank *r, struct share *s, const struct rec *rc)
{
	struct ssi_rank_member m;

	if (!s->top_ok)
		return 0;
	/* Below the last listed total, as most are, it belongs only when all are listed. */
	if (s->top.n + 1 != s->nmember && s->top.n > 0 &&
	    rc->score.total < s->top.m[s->top.n - 1].total)
		return 0;
	m = as_member(rc);
	/* Exact so far: a newcomer belongs when it beats the last, or all members are listed. */
	if (s->top.n + 1 == s->nmember ||
	    (s->top.n > 0 && ssi_rank_member_before(&m, &s->top.m[s->top.n - 1])))
		return ssi_rank_top_offer(&s->top, top_keep(r), m.user_id, m.total);
	return 0;
}

/*
 * A member counted out (rc still has the total it was listed with): off the
 * list, which stays the exact best of the rest.
 */
static void top_leave(struct share *s, const struct rec *rc)
{
	/* Below the last listed total, as most members are, it is not listed. */
	if (s->top.n == 0 || rc->score.total < s->top.m[s->top.n - 1].total)
		return;
	/* The list is sorted best first: past rc's total it is not listed. */
	for (size_t i = 0; s->top_ok && i < s->top.n && s->top.m[i].total >= rc->score.total; i++)
		if (s->top.m[i].total == rc->score.total &&
		    strcmp(s->top.m[i].user_id, rc->id) == 0) {
			memmove(&s->top.m[i], &s->top.m[i + 1],
				(s->top.n - i - 1) * sizeof(*s->top.m));
			s->top.n--;
			return;
		}
}

int rank_share_top(const struct ssid_rank *r, struct share *s)
{
	size_t want = (size_t)r->ro.top_n < s->nmember ? (size_t)r->ro.top_n : s->nmember;

	if (s->top_ok && s->top.n >= want)
		return 0;
	s->top.n = 0;
	for (uint32_t m = 0; m < s->nmember; m++)
		if (ssi_rank_top_offer(&s->top, top_keep(r), s->member[m]->id,
				       s->member[m]->score.total) < 0) {
			s->top_ok = false;
			return -ENOMEM;
		}
	s->top_ok = true;
	return 0;
}

/* Count rc (its record's score) in segment segi of its partition. */
static int count_in(struct ssid_rank *r, struct rec *rc, enum ssid_rank_kind k, uint32_t segi)
{
	struct seg *g = r->segv[segi];
	struct share *s = share_get(g, rc->part);
	int e;

	if (!s || SSI_GROW(s->member, &s->cap, (size_t)s->nmember + 1, 4) < 0)
		return -ENOMEM;
	warm_mark(r, g);
	e = ssi_rankagg_add(&s->agg, &rc->score, +1);
	if (e == 0)
		e = ssi_rankagg_add(&g->all, &rc->score, +1);
	if (e < 0)
		return e;
	s->member[s->nmember] = rc;
	rc->seg[k] = segi;
	rc->slot[k] = s->nmember++;
	e = top_enter(r, s, rc);
	if (e < 0)
		s->top_ok = false;
	return rank_mark_dirty(r, segi, s);
}

static int count_out(struct ssid_rank *r, struct rec *rc, enum ssid_rank_kind k)
{
	struct seg *g = r->segv[rc->seg[k]];
	struct share *s = rank_share_find(g, rc->part);
	struct rec *last;
	int e;

	if (!s)
		return -EINVAL;
	warm_mark(r, g);
	e = ssi_rankagg_add(&s->agg, &rc->score, -1);
	if (e == 0)
		e = ssi_rankagg_add(&g->all, &rc->score, -1);
	if (e < 0)
		return e;
	top_leave(s, rc);
	last = s->member[--s->nmember];
	s->member[rc->slot[k]] = last;
	last->slot[k] = rc->slot[k];
	e = rank_mark_dirty(r, rc->seg[k], s);
	rc->seg[k] = rc->slot[k] = NONE;
	return e;
}

int rank_count_all(struct ssid_rank *r, struct rec *rc, bool in)
{
	for (int k = 0; k < SSID_RANK__COUNT; k++) {
		const char *const *seg = rc->segment;
		char field[4 * SSI_ID_MAX + 8];
		uint32_t segi;
		int e;

		if (!in) {
			if (rc->seg[k] != NONE && (e = count_out(r, rc, k)) < 0)
				return e;
			continue;
		}
		if (ssid_rank_segment_field(k, seg, field, sizeof(field)) < 0)
			continue;
		segi = rank_seg_lookup(r, field, true);
		if (segi == NONE)
			return -ENOMEM;
		e = count_in(r, rc, k, segi);
		if (e < 0)
			return e;
	}
	return 0;
}

/*
 * Only rc's score changed: it stays a member of the same shares, whose
 * counts move from the old total to the new (no segment name is built, no
 * member list touched).
 */
int rank_rescore_in_place(struct ssid_rank *r, struct rec *rc, const struct ssi_score *sc)
{
	const struct ssi_score old = rc->score;

	for (int k = 0; k < SSID_RANK__COUNT; k++) {
		struct seg *g;
		struct share *s;
		int e;

		if (rc->seg[k] == NONE)
			continue;
		g = r->segv[rc->seg[k]];
		s = rank_share_find(g, rc->part);
		e = ssi_rankagg_move(&s->agg, &old, sc);
		if (e == 0)
			e = ssi_rankagg_move(&g->all, &old, sc);
		if (e < 0)
			return e;
		top_leave(s, rc); /* by id */
		rc->score = *sc;
		e = top_enter(r, s, rc);
		rc->score = old;
		if (e < 0)
			s->top_ok = false;
		e = rank_mark_dirty(r, rc->seg[k], s);
		if (e < 0)
			return e;
	}
	rc->score = *sc;
	return 0;
}

bool rank_part_uncounted(const struct ssid_rank *r, const struct part *p)
{
	uint32_t g = rank_seg_find(r, "g"); /* every counted rep is in the global segment */
	const struct share *s = g == NONE ? NULL : rank_share_find(r->segv[g], p->id);

	return !s || s->nmember == 0;
}

int rank_settle(struct ssid_rank *r, struct part *p)
{
	if (!p->deferred)
		return 0;
	r->apply_gen++; /* the segments' sizes before, for warm-up */
	for (size_t i = 0; i < r->rcap; i++)
		for (struct rec *rc = r->rtab[i]; rc; rc = rc->next) {
			bool uncounted = rc->part == p->id && rc->seg[SSID_RANK_GLOBAL] == NONE;
			int e = uncounted ? rank_count_all(r, rc, true) : 0;

			if (e < 0)
				return e;
			r->stats.settled += uncounted;
		}
	for (uint32_t i = 0; i < r->nseg; i++)
		if (r->segv[i]->warm_gen == r->apply_gen)
			rank_seg_note(r, r->segv[i]);
	p->deferred = false;
	p->full = true; /* every aggregate of it written anew */
	return 0;
}
