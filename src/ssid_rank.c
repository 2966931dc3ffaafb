/* ssid_rank: segment ranks kept in memory per owned partition; see ssid_rank.h. */
#include <errno.h>
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
	pos->avg_total = pl->avg_total;
	memcpy(pos->avg_pillar, pl->avg_pillar, sizeof(pos->avg_pillar));
}

uint64_t rank_hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* ---- lifecycle ------------------------------------------------------------ */

void ssid_rank_opts_default(struct ssid_rank_opts *o)
{
	o->min_members = SSID_RANK_DEFAULT_MIN_MEMBERS;
	o->top_n = SSID_RANK_DEFAULT_TOP_N;
	o->refresh_ms = SSID_RANK_DEFAULT_REFRESH_MS;
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
	for (uint32_t i = 0; i < p->ngone; i++)
		free(p->gone[i]);
	p->ngone = 0;
	p->ndirty = 0;
	for (uint32_t i = 0; i < p->ndrec; i++)
		p->drec[i]->dirty = false;
	p->ndrec = 0;
	p->full = false;
}

void rank_forget_all(struct ssid_rank *r)
{
	for (uint32_t i = 0; i < r->nparts; i++)
		rank_part_free_pending(&r->parts[i]); /* before the records it names go */
	for (size_t i = 0; i < r->rcap; i++) {
		struct rec *rc = r->rtab ? r->rtab[i] : NULL;

		while (rc) {
			struct rec *next = rc->next;

			free(rc->id);
			free(rc);
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
		free(r->parts[i].gone);
		free(r->parts[i].drec);
	}
	r->nparts = 0;
	r->refreshed = false;
}

void ssid_rank_free(struct ssid_rank *r)
{
	if (!r)
		return;
	rank_forget_all(r);
	free(r->rtab);
	free(r->segv);
	free(r->stab);
	free(r->parts);
	free(r->enc.p);
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
		   ro->refresh_ms < 0))
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	if (ro)
		r->ro = *ro;
	else
		ssid_rank_opts_default(&r->ro);
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

int rank_grow(void **v, uint32_t *cap, uint32_t need, size_t size)
{
	uint32_t c = *cap ? *cap : 4;
	void *n;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	n = realloc(*v, (size_t)c * size);
	if (!n)
		return -ENOMEM;
	*v = n;
	*cap = c;
	return 0;
}

struct rec *rank_rec_find(const struct ssid_rank *r, const char *id)
{
	uint64_t h;

	if (!r->rcap)
		return NULL;
	h = rank_hash_str(id);
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
struct rec *rank_rec_new(struct ssid_rank *r, const char *id, int32_t part)
{
	struct rec *rc;

	if (rec_table_grow(r) < 0)
		return NULL;
	rc = calloc(1, sizeof(*rc));
	if (!rc || !(rc->id = strdup(id))) {
		free(rc);
		return NULL;
	}
	rc->hash = rank_hash_str(id);
	rc->part = part;
	for (int k = 0; k < SSID_RANK__COUNT; k++)
		rc->seg[k] = rc->slot[k] = NONE;
	rc->next = r->rtab[rc->hash & (r->rcap - 1)];
	r->rtab[rc->hash & (r->rcap - 1)] = rc;
	r->nrec++;
	return rc;
}

/* rc is not to be written after all: off its partition's list. */
static void undirty(struct ssid_rank *r, struct rec *rc)
{
	struct part *p = rank_part_find(r, rc->part);

	for (uint32_t i = 0; rc->dirty && p && i < p->ndrec; i++)
		if (p->drec[i] == rc) {
			p->drec[i] = p->drec[--p->ndrec];
			break;
		}
	rc->dirty = false;
}

/* rc is to be written with its partition's next write. 0, -ENOMEM. */
static int make_dirty(struct ssid_rank *r, struct rec *rc)
{
	struct part *p = rank_part_find(r, rc->part);

	if (rc->dirty)
		return 0;
	if (rank_grow((void **)&p->drec, &p->drcap, p->ndrec + 1, sizeof(*p->drec)) < 0)
		return -ENOMEM;
	p->drec[p->ndrec++] = rc;
	rc->dirty = true;
	return 0;
}

void rank_rec_unlink(struct ssid_rank *r, struct rec *rc)
{
	struct rec **pp = &r->rtab[rc->hash & (r->rcap - 1)];

	undirty(r, rc);
	while (*pp != rc)
		pp = &(*pp)->next;
	*pp = rc->next;
	r->nrec--;
	free(rc->id);
	free(rc);
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
	    rank_grow((void **)&r->segv, &r->segcap, r->nseg + 1, sizeof(*r->segv)) < 0)
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
	if (rank_grow((void **)&r->parts, &r->pcap, r->nparts + 1, sizeof(*r->parts)) < 0)
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
	if (rank_grow((void **)&g->share, &g->cap, g->nshare + 1, sizeof(*g->share)) < 0)
		return NULL;
	s = &g->share[g->nshare++];
	memset(s, 0, sizeof(*s));
	s->part = part;
	ssi_rankagg_init(&s->agg);
	return s;
}

int rank_mark_dirty(struct ssid_rank *r, uint32_t segi, struct share *s)
{
	struct part *p;

	if (s->dirty)
		return 0;
	p = rank_part_find(r, s->part);
	if (!p ||
	    rank_grow((void **)&p->dirty_seg, &p->dcap, p->ndirty + 1, sizeof(*p->dirty_seg)) < 0)
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
	struct ssi_rank_member m = {.total = rc->r.score.total};

	snprintf(m.user_id, sizeof(m.user_id), "%s", rc->id);
	return m;
}

/* A member counted in: into the list if it belongs there. */
static int top_enter(const struct ssid_rank *r, struct share *s, const struct rec *rc)
{
	struct ssi_rank_member m;

	if (!s->top_ok)
		return 0;
	m = as_member(rc);
	/* Exact so far: a newcomer belongs when it beats the last, or all members are listed. */
	if (s->top.n + 1 == s->nmember ||
	    (s->top.n > 0 && ssi_rank_member_before(&m, &s->top.m[s->top.n - 1])))
		return ssi_rank_top_offer(&s->top, top_keep(r), m.user_id, m.total);
	return 0;
}

/* A member counted out: off the list, which stays the exact best of the rest. */
static void top_leave(struct share *s, const struct rec *rc)
{
	for (size_t i = 0; s->top_ok && i < s->top.n; i++)
		if (strcmp(s->top.m[i].user_id, rc->id) == 0) {
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
				       s->member[m]->r.score.total) < 0) {
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

	if (!s || rank_grow((void **)&s->member, &s->cap, s->nmember + 1, sizeof(*s->member)) < 0)
		return -ENOMEM;
	e = ssi_rankagg_add(&s->agg, &rc->r.score, +1);
	if (e == 0)
		e = ssi_rankagg_add(&g->all, &rc->r.score, +1);
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
	e = ssi_rankagg_add(&s->agg, &rc->r.score, -1);
	if (e == 0)
		e = ssi_rankagg_add(&g->all, &rc->r.score, -1);
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
		const char *seg[SSI_SEG__COUNT] = {rc->r.segment[0], rc->r.segment[1],
						   rc->r.segment[2]};
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
static int rescore_in_place(struct ssid_rank *r, struct rec *rc, const struct ssi_score *sc)
{
	const struct ssi_score old = rc->r.score;

	for (int k = 0; k < SSID_RANK__COUNT; k++) {
		struct seg *g;
		struct share *s;
		int e;

		if (rc->seg[k] == NONE)
			continue;
		g = r->segv[rc->seg[k]];
		s = rank_share_find(g, rc->part);
		e = ssi_rankagg_add(&s->agg, &old, -1);
		if (e == 0)
			e = ssi_rankagg_add(&g->all, &old, -1);
		if (e == 0)
			e = ssi_rankagg_add(&s->agg, sc, +1);
		if (e == 0)
			e = ssi_rankagg_add(&g->all, sc, +1);
		if (e < 0)
			return e;
		top_leave(s, rc); /* by id */
		rc->r.score = *sc;
		e = top_enter(r, s, rc);
		rc->r.score = old;
		if (e < 0)
			s->top_ok = false;
		e = rank_mark_dirty(r, rc->seg[k], s);
		if (e < 0)
			return e;
	}
	rc->r.score = *sc;
	return make_dirty(r, rc);
}

static bool same_segments(const struct ssi_rank_record *a, const struct ssid_rank_change *c)
{
	for (int s = 0; s < SSI_SEG__COUNT; s++)
		if (strcmp(a->segment[s], c->segment[s] ? c->segment[s] : "") != 0)
			return false;
	return true;
}

/* ---- applying changes ----------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Whether a user id comes twice (hashes sorted, equal ones compared). */
static int find_repeat(struct ssid_rank *r, const struct ssid_rank_change *ch, size_t n)
{
	uint64_t *h = malloc(n * sizeof(*h));
	int rc = 0;

	if (!h)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		h[i] = rank_hash_str(ch[i].user_id);
	qsort(h, n, sizeof(*h), cmp_u64);
	for (size_t i = 1; i < n && rc == 0; i++)
		if (h[i] == h[i - 1])
			for (size_t a = 0; a < n && rc == 0; a++)
				for (size_t b = a + 1; b < n && rc == 0; b++)
					if (strcmp(ch[a].user_id, ch[b].user_id) == 0) {
						ssid_redis_set_error(r->rd, "user %s comes twice",
								     ch[a].user_id);
						rc = -EINVAL;
					}
	free(h);
	return rc;
}

static int validate(struct ssid_rank *r, const struct ssid_rank_change *ch, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct ssid_rank_change *c = &ch[i];

		if (!c->user_id || !c->user_id[0] || strlen(c->user_id) > SSI_ID_MAX ||
		    c->partition < 0) {
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
	return find_repeat(r, ch, n);
}

static void place(const struct ssid_rank *r, const struct rec *rc, enum ssid_rank_kind k,
		  struct ssid_rank_pos *pos, int64_t *above)
{
	const struct seg *g;
	struct ssi_rank_place pl;

	memset(pos, 0, sizeof(*pos));
	*above = -1;
	if (!rc || rc->seg[k] == NONE)
		return;
	g = r->segv[rc->seg[k]];
	*above = (int64_t)ssi_hist_above(&g->all.hist, rc->r.score.total);
	ssi_rankagg_place(&g->all, rc->r.score.total, r->ro.min_members, &pl);
	ssid_rank_pos_set(pos, &pl);
}

static bool same_record(const struct ssi_rank_record *a, const struct ssid_rank_change *c)
{
	if (memcmp(&a->score, &c->score, sizeof(a->score)) != 0)
		return false;
	for (int s = 0; s < SSI_SEG__COUNT; s++)
		if (strcmp(a->segment[s], c->segment[s] ? c->segment[s] : "") != 0)
			return false;
	return true;
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

/* Note that rc's record must be deleted from its partition's hash. */
static int note_gone(struct ssid_rank *r, const struct rec *rc)
{
	struct part *p = rank_part_find(r, rc->part);

	if (rank_grow((void **)&p->gone, &p->gcap, p->ngone + 1, sizeof(*p->gone)) < 0 ||
	    !(p->gone[p->ngone] = strdup(rc->id)))
		return -ENOMEM;
	p->ngone++;
	return 0;
}

/* *slot: the rep's record before (found by the caller), and after (NULL: removed). */
static int apply_one(struct ssid_rank *r, struct ssid_rank_change *c, bool *changed,
		     struct rec **slot)
{
	struct rec *rc = *slot;
	int e;

	*changed = false;
	c->had_record = rc != NULL;
	if (rc) {
		c->old_score = rc->r.score;
		memcpy(c->old_segment, rc->r.segment, sizeof(c->old_segment));
	}
	if (c->removed) {
		if (!rc)
			return 0;
		*changed = true;
		e = rank_count_all(r, rc, false);
		if (e == 0)
			e = note_gone(r, rc);
		if (e == 0) {
			rank_rec_unlink(r, rc);
			*slot = NULL;
		}
		return e;
	}
	if (rc && rc->part == c->partition && same_record(&rc->r, c))
		return 0;
	*changed = true;
	if (rc && rc->part == c->partition && same_segments(&rc->r, c))
		return rescore_in_place(r, rc, &c->score);
	if (rc) {
		e = rank_count_all(r, rc, false);
		if (e == 0 && rc->part != c->partition) {
			undirty(r, rc);
			e = note_gone(r, rc);
			rc->part = c->partition;
		}
		if (e < 0)
			return e;
	} else if (!(rc = *slot = rank_rec_new(r, c->user_id, c->partition)))
		return -ENOMEM;
	rc->r.score = c->score;
	for (int s = 0; s < SSI_SEG__COUNT; s++)
		snprintf(rc->r.segment[s], sizeof(rc->r.segment[s]), "%s",
			 c->segment[s] ? c->segment[s] : "");
	e = make_dirty(r, rc);
	return e < 0 ? e : rank_count_all(r, rc, true);
}

/*
 * A board is the top_n of its segment, so a rep can change it only by being
 * within the top_n before or after; joining or leaving can also lift the
 * privacy floor, which is always within the top_n unless k > top_n.
 */
static void board_flags(const struct ssid_rank *r, struct ssid_rank_change *c,
			const int64_t *above_before, const int64_t *above_after, bool changed)
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
		const char *oldseg[SSI_SEG__COUNT] = {c->old_segment[0], c->old_segment[1],
						      c->old_segment[2]};

		res->moved = false;
		res->board_old = res->board_new = false;
		if (o && nw) {
			ssid_rank_segment_field(k, oldseg, f1, sizeof(f1));
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
	bool *changed;
	int rc = validate(r, changes, n);

	if (rc < 0 || n == 0)
		return rc;
	rc = load_needed(r, changes, n);
	if (rc < 0)
		return rc;
	above = malloc(n * sizeof(*above));
	changed = malloc(n * sizeof(*changed));
	recs = malloc(n * sizeof(*recs));
	if (!above || !changed || !recs) {
		free(above);
		free(changed);
		free(recs);
		return -ENOMEM;
	}
	/* Positions before the call, all of them before anything moves. */
	for (size_t i = 0; i < n; i++) {
		struct ssid_rank_change *c = &changes[i];
		const struct rec *rec = recs[i] = rank_rec_find(r, c->user_id);

		c->had_record = false;
		memset(c->old_segment, 0, sizeof(c->old_segment));
		memset(&c->old_score, 0, sizeof(c->old_score));
		memset(c->result, 0, sizeof(c->result));
		for (int k = 0; k < SSID_RANK__COUNT; k++)
			place(r, rec, k, &c->result[k].before, &above[i][k]);
	}
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = apply_one(r, &changes[i], &changed[i], &recs[i]);
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct ssid_rank_change *c = &changes[i];
		const struct rec *rec = recs[i];
		int64_t after[SSID_RANK__COUNT];

		for (int k = 0; k < SSID_RANK__COUNT; k++)
			place(r, rec, k, &c->result[k].after, &after[k]);
		board_flags(r, c, above[i], after, changed[i]);
	}
	free(above);
	free(changed);
	free(recs);
	if (rc == -ENOMEM) {
		/* Counted in some segments and not others: start again from Redis. */
		rank_forget_all(r);
		return ssid_redis_fail(r->rd, rc, "ranks: out of memory");
	}
	/*
	 * Records with every batch; aggregates, which only other instances and
	 * ssictl read, at most every half refresh_ms (they read every half too).
	 */
	if (rc == 0 && persist)
		rc = rank_write(r, rank_now_ms() - r->aggs_written_ms >= r->ro.refresh_ms / 2);
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
	bd->hidden = bd->of < r->ro.min_members;
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
	return 0;
}
