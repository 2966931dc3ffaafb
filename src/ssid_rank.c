/* ssid_rank: segment ranks kept in memory per owned partition, shared through Redis; see
 * ssid_rank.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "ssid_rank.h"

#define NONE UINT32_MAX
/* Records per HSCAN step when a partition is loaded. */
#define LOAD_CHUNK "1000"

/* What one rep is counted with, in memory. */
struct rec {
	struct rec *next; /* hash chain */
	char *id;
	uint64_t hash;
	int32_t part;
	bool dirty; /* to be written */
	struct ssi_rank_record r;
	uint32_t seg[SSID_RANK__COUNT];	 /* segment index, NONE when not a member */
	uint32_t slot[SSID_RANK__COUNT]; /* place in that segment's share's members */
};

/* One owned partition's share of a segment. */
struct share {
	int32_t part;
	bool dirty;
	struct ssi_rankagg agg; /* no top list: built when written */
	struct rec **member;
	uint32_t nmember, cap;
};

struct seg {
	struct seg *next; /* hash chain */
	char *field;
	uint64_t hash;
	enum ssid_rank_kind kind;
	struct ssi_rankagg all; /* every partition: owned ones live, others as last read */
	struct share *share;	/* owned partitions */
	uint32_t nshare, cap;
};

struct remote_entry {
	uint32_t seg;
	struct ssi_rankagg agg; /* with the owner's top list */
};

struct part {
	int32_t id;
	bool local;
	/* owned */
	bool full;	     /* rewrite every aggregate (just loaded) */
	uint32_t *dirty_seg; /* segments whose share changed */
	uint32_t ndirty, dcap;
	char **gone; /* records to delete */
	uint32_t ngone, gcap;
	bool any_dirty_record;
	/* another instance's, as last read */
	long long version;
	struct remote_entry *e;
	uint32_t ne;
};

/* A growable byte buffer for encodings; argv points into it by offset. */
struct bytes {
	uint8_t *p;
	size_t len, cap;
};

struct ssid_rank {
	struct ssid_redis *rd;
	struct ssid_rank_opts ro;
	struct ssid_rank_stats stats;
	struct rec **rtab;
	size_t rcap, nrec;
	struct seg **segv; /* by index */
	uint32_t nseg, segcap;
	uint32_t *stab; /* hash buckets of segment indexes + 1 */
	size_t scap;
	struct part *parts;
	uint32_t nparts, pcap;
	int64_t refreshed_ms;
	bool refreshed;
	/* scratch */
	struct bytes enc;
	const char **argv;
	size_t *argl;
	size_t argcap;
	size_t *argoff; /* offsets into enc, resolved before sending */
};

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

static uint64_t hash_str(const char *s)
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

static void part_free_remote(struct part *p)
{
	for (uint32_t i = 0; i < p->ne; i++)
		ssi_rankagg_clear(&p->e[i].agg);
	free(p->e);
	p->e = NULL;
	p->ne = 0;
	p->version = -1;
}

static void part_free_pending(struct part *p)
{
	for (uint32_t i = 0; i < p->ngone; i++)
		free(p->gone[i]);
	p->ngone = 0;
	p->ndirty = 0;
	p->full = false;
	p->any_dirty_record = false;
}

static void forget_all(struct ssid_rank *r)
{
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
		part_free_remote(&r->parts[i]);
		part_free_pending(&r->parts[i]);
		free(r->parts[i].dirty_seg);
		free(r->parts[i].gone);
	}
	r->nparts = 0;
	r->refreshed = false;
}

void ssid_rank_free(struct ssid_rank *r)
{
	if (!r)
		return;
	forget_all(r);
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

static int grow(void **v, uint32_t *cap, uint32_t need, size_t size)
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

static struct rec *rec_find(const struct ssid_rank *r, const char *id)
{
	uint64_t h;

	if (!r->rcap)
		return NULL;
	h = hash_str(id);
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
static struct rec *rec_new(struct ssid_rank *r, const char *id, int32_t part)
{
	struct rec *rc;

	if (rec_table_grow(r) < 0)
		return NULL;
	rc = calloc(1, sizeof(*rc));
	if (!rc || !(rc->id = strdup(id))) {
		free(rc);
		return NULL;
	}
	rc->hash = hash_str(id);
	rc->part = part;
	for (int k = 0; k < SSID_RANK__COUNT; k++)
		rc->seg[k] = rc->slot[k] = NONE;
	rc->next = r->rtab[rc->hash & (r->rcap - 1)];
	r->rtab[rc->hash & (r->rcap - 1)] = rc;
	r->nrec++;
	return rc;
}

static void rec_unlink(struct ssid_rank *r, struct rec *rc)
{
	struct rec **pp = &r->rtab[rc->hash & (r->rcap - 1)];

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
static uint32_t seg_find(const struct ssid_rank *r, const char *field)
{
	uint64_t h = hash_str(field);

	for (size_t at = h & (r->scap - 1); r->scap && r->stab[at]; at = (at + 1) & (r->scap - 1)) {
		const struct seg *g = r->segv[r->stab[at] - 1];

		if (g->hash == h && strcmp(g->field, field) == 0)
			return r->stab[at] - 1;
	}
	return NONE;
}

/* The segment named field: its index, created when create; NONE when absent or out of memory. */
static uint32_t seg_lookup(struct ssid_rank *r, const char *field, bool create)
{
	uint64_t h = hash_str(field);
	uint32_t found = seg_find(r, field);
	struct seg *g;
	size_t at;

	if (found != NONE)
		return found;
	if (!create || seg_table_grow(r) < 0 ||
	    grow((void **)&r->segv, &r->segcap, r->nseg + 1, sizeof(*r->segv)) < 0)
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

static struct part *part_find(struct ssid_rank *r, int32_t id)
{
	for (uint32_t i = 0; i < r->nparts; i++)
		if (r->parts[i].id == id)
			return &r->parts[i];
	return NULL;
}

static struct part *part_get(struct ssid_rank *r, int32_t id)
{
	struct part *p = part_find(r, id);

	if (p)
		return p;
	if (grow((void **)&r->parts, &r->pcap, r->nparts + 1, sizeof(*r->parts)) < 0)
		return NULL;
	p = &r->parts[r->nparts++];
	memset(p, 0, sizeof(*p));
	p->id = id;
	p->version = -1;
	return p;
}

static struct share *share_find(struct seg *g, int32_t part)
{
	for (uint32_t i = 0; i < g->nshare; i++)
		if (g->share[i].part == part)
			return &g->share[i];
	return NULL;
}

static struct share *share_get(struct seg *g, int32_t part)
{
	struct share *s = share_find(g, part);

	if (s)
		return s;
	if (grow((void **)&g->share, &g->cap, g->nshare + 1, sizeof(*g->share)) < 0)
		return NULL;
	s = &g->share[g->nshare++];
	memset(s, 0, sizeof(*s));
	s->part = part;
	ssi_rankagg_init(&s->agg);
	return s;
}

static int mark_dirty(struct ssid_rank *r, uint32_t segi, struct share *s)
{
	struct part *p;

	if (s->dirty)
		return 0;
	p = part_find(r, s->part);
	if (!p || grow((void **)&p->dirty_seg, &p->dcap, p->ndirty + 1, sizeof(*p->dirty_seg)) < 0)
		return -ENOMEM;
	p->dirty_seg[p->ndirty++] = segi;
	s->dirty = true;
	return 0;
}

/* Count rc (its record's score) in segment segi of its partition. */
static int count_in(struct ssid_rank *r, struct rec *rc, enum ssid_rank_kind k, uint32_t segi)
{
	struct seg *g = r->segv[segi];
	struct share *s = share_get(g, rc->part);
	int e;

	if (!s || grow((void **)&s->member, &s->cap, s->nmember + 1, sizeof(*s->member)) < 0)
		return -ENOMEM;
	e = ssi_rankagg_add(&s->agg, &rc->r.score, +1);
	if (e == 0)
		e = ssi_rankagg_add(&g->all, &rc->r.score, +1);
	if (e < 0)
		return e;
	s->member[s->nmember] = rc;
	rc->seg[k] = segi;
	rc->slot[k] = s->nmember++;
	return mark_dirty(r, segi, s);
}

static int count_out(struct ssid_rank *r, struct rec *rc, enum ssid_rank_kind k)
{
	struct seg *g = r->segv[rc->seg[k]];
	struct share *s = share_find(g, rc->part);
	struct rec *last;
	int e;

	if (!s)
		return -EINVAL;
	e = ssi_rankagg_add(&s->agg, &rc->r.score, -1);
	if (e == 0)
		e = ssi_rankagg_add(&g->all, &rc->r.score, -1);
	if (e < 0)
		return e;
	last = s->member[--s->nmember];
	s->member[rc->slot[k]] = last;
	last->slot[k] = rc->slot[k];
	e = mark_dirty(r, rc->seg[k], s);
	rc->seg[k] = rc->slot[k] = NONE;
	return e;
}

static int count_all(struct ssid_rank *r, struct rec *rc, bool in)
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
		segi = seg_lookup(r, field, true);
		if (segi == NONE)
			return -ENOMEM;
		e = count_in(r, rc, k, segi);
		if (e < 0)
			return e;
	}
	return 0;
}

/* ---- Redis plumbing ------------------------------------------------------- */

static int bytes_reserve(struct bytes *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 4096;
	uint8_t *p;

	if (b->len + more <= b->cap)
		return 0;
	while (cap < b->len + more)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

static int argv_reserve(struct ssid_rank *r, size_t n)
{
	const char **argv;
	size_t *argl, *off, cap = r->argcap ? r->argcap : 64;

	if (n <= r->argcap)
		return 0;
	while (cap < n)
		cap *= 2;
	argv = realloc(r->argv, cap * sizeof(*argv));
	if (argv)
		r->argv = argv;
	argl = realloc(r->argl, cap * sizeof(*argl));
	if (argl)
		r->argl = argl;
	off = realloc(r->argoff, cap * sizeof(*off));
	if (off)
		r->argoff = off;
	if (!argv || !argl || !off)
		return -ENOMEM;
	r->argcap = cap;
	return 0;
}

static int send_argv(struct ssid_rank *r, int argc, const char **argv, const size_t *argl)
{
	if (redisAppendCommandArgv(ssid_redis_context(r->rd), argc, argv, argl) != REDIS_OK)
		return ssid_redis_fail(r->rd, -ENOMEM, "%s: cannot queue", argv[0]);
	r->stats.commands++;
	return 0;
}

static int send_fmt(struct ssid_rank *r, int argc, ...)
{
	const char *argv[8];
	size_t argl[8];
	va_list ap;

	va_start(ap, argc);
	for (int i = 0; i < argc; i++) {
		argv[i] = va_arg(ap, const char *);
		argl[i] = strlen(argv[i]);
	}
	va_end(ap);
	return send_argv(r, argc, argv, argl);
}

/* Expect a status, QUEUED or any non-error reply. */
static int take_ok(void *ctx, size_t i, struct redisReply *reply, int rc)
{
	struct ssid_rank *r = ctx;

	(void)i;
	if (reply->type == REDIS_REPLY_ERROR && rc == 0) {
		ssid_redis_set_error(r->rd, "rank write: %.*s", (int)reply->len, reply->str);
		return -EIO;
	}
	if (reply->type == REDIS_REPLY_NIL && rc == 0) {
		ssid_redis_set_error(r->rd, "rank write: transaction aborted");
		return -EIO;
	}
	return rc;
}

/* ---- loading an owned partition ------------------------------------------ */

static int load_record(struct ssid_rank *r, int32_t part, const redisReply *f, const redisReply *v)
{
	struct ssi_rank_record rec;
	struct rec *rc;
	char id[SSI_ID_MAX + 1];

	if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING || f->len == 0 ||
	    f->len > SSI_ID_MAX || memchr(f->str, '\0', f->len))
		return -EBADMSG;
	memcpy(id, f->str, f->len);
	id[f->len] = '\0';
	if (rec_find(r, id))
		return 0; /* HSCAN may repeat a field; another owned partition keeps its own */
	if (ssi_rank_record_decode(&rec, (const uint8_t *)v->str, v->len) < 0) {
		/* Damaged: dropped, counted again at the rep's next score. */
		struct part *p = part_find(r, part);

		if (grow((void **)&p->gone, &p->gcap, p->ngone + 1, sizeof(*p->gone)) < 0 ||
		    !(p->gone[p->ngone] = strdup(id)))
			return -ENOMEM;
		p->ngone++;
		return 0;
	}
	rc = rec_new(r, id, part);
	if (!rc)
		return -ENOMEM;
	rc->r = rec;
	r->stats.loaded++;
	return count_all(r, rc, true);
}

static int load_partition(struct ssid_rank *r, struct part *p)
{
	char key[256], parts_key[256], num[16];
	unsigned long long cursor = 0;
	int rc;

	/* What was read of it as another's goes: its records are the truth now. */
	for (uint32_t i = 0; i < p->ne; i++)
		if (ssi_rankagg_merge(&r->segv[p->e[i].seg]->all, &p->e[i].agg, -1) < 0)
			return -ENOMEM;
	part_free_remote(p);
	p->local = true;
	ssid_rank_key_records(ssid_redis_key_prefix(r->rd), p->id, key, sizeof(key));
	ssid_rank_key_parts(ssid_redis_key_prefix(r->rd), parts_key, sizeof(parts_key));
	snprintf(num, sizeof(num), "%d", (int)p->id);
	rc = send_fmt(r, 3, "SADD", parts_key, num);
	if (rc == 0) {
		r->stats.round_trips++;
		rc = ssid_redis_read_replies(r->rd, 1, "SADD rank partitions", take_ok, r);
	}
	do {
		char cur[32];
		redisReply *reply = NULL;

		snprintf(cur, sizeof(cur), "%llu", cursor);
		if (rc == 0)
			rc = send_fmt(r, 5, "HSCAN", key, cur, "COUNT", LOAD_CHUNK);
		if (rc < 0)
			break;
		r->stats.round_trips++;
		if (ssid_redis_next_reply(r->rd, &reply, "HSCAN rank records") < 0)
			return -EIO;
		if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
		    reply->element[0]->type != REDIS_REPLY_STRING ||
		    reply->element[1]->type != REDIS_REPLY_ARRAY ||
		    reply->element[1]->elements % 2) {
			ssid_redis_set_error(r->rd, "HSCAN %s: unexpected reply", key);
			rc = -EBADMSG;
		} else {
			const redisReply *kv = reply->element[1];

			cursor = strtoull(reply->element[0]->str, NULL, 10);
			for (size_t i = 0; i + 1 < kv->elements && rc == 0; i += 2)
				rc = load_record(r, p->id, kv->element[i], kv->element[i + 1]);
			if (rc == -EBADMSG)
				ssid_redis_set_error(r->rd, "%s: a field that is not a user id",
						     key);
		}
		freeReplyObject(reply);
	} while (rc == 0 && cursor != 0);
	if (rc == 0)
		p->full = true; /* rewrite its aggregates from the records just read */
	return rc;
}

/* Forget an owned partition's records and shares (they stay in Redis). */
static void unload_partition(struct ssid_rank *r, struct part *p)
{
	for (uint32_t i = 0; i < r->nseg; i++) {
		struct seg *g = r->segv[i];
		struct share *s = share_find(g, p->id);

		if (!s)
			continue;
		if (g->kind == SSID_RANK_GLOBAL)
			for (uint32_t m = 0; m < s->nmember; m++)
				rec_unlink(r, s->member[m]);
		ssi_rankagg_merge(&g->all, &s->agg, -1);
		ssi_rankagg_clear(&s->agg);
		free(s->member);
		*s = g->share[--g->nshare];
	}
	part_free_pending(p);
	p->local = false;
	p->version = -1;
}

/* ---- writing ---------------------------------------------------------------- */

/* Encode into r->enc; the argument at index ai gets its offset and length. */
static int put_encoded(struct ssid_rank *r, size_t ai, const void *what, bool agg)
{
	size_t need =
	    agg ? ssi_rankagg_encode(what, NULL, 0) : ssi_rank_record_encode(what, NULL, 0);

	if (bytes_reserve(&r->enc, need) < 0)
		return -ENOMEM;
	if (agg)
		ssi_rankagg_encode(what, r->enc.p + r->enc.len, need);
	else
		ssi_rank_record_encode(what, r->enc.p + r->enc.len, need);
	r->argoff[ai] = r->enc.len;
	r->argl[ai] = need;
	r->argv[ai] = NULL;
	r->enc.len += need;
	return 0;
}

static void resolve(struct ssid_rank *r, size_t argc)
{
	for (size_t i = 0; i < argc; i++)
		if (!r->argv[i])
			r->argv[i] = (const char *)r->enc.p + r->argoff[i];
}

static int set_arg(struct ssid_rank *r, size_t ai, const char *s)
{
	r->argv[ai] = s;
	r->argl[ai] = strlen(s);
	return 0;
}

/* The share written for a partition, with the best top_n of its members. */
static int share_encodable(struct ssid_rank *r, struct share *s)
{
	ssi_rank_top_clear(&s->agg.top);
	for (uint32_t m = 0; m < s->nmember; m++)
		if (ssi_rank_top_offer(&s->agg.top, (size_t)r->ro.top_n, s->member[m]->id,
				       s->member[m]->r.score.total) < 0)
			return -ENOMEM;
	return 0;
}

/* Queue one partition's MULTI ... EXEC; *sent counts the replies to read. */
static int queue_partition(struct ssid_rank *r, struct part *p, size_t *sent)
{
	const char *prefix = ssid_redis_key_prefix(r->rd);
	char rkey[256], akey[256], vkey[256];
	size_t argc;
	int rc;

	ssid_rank_key_records(prefix, p->id, rkey, sizeof(rkey));
	ssid_rank_key_aggs(prefix, p->id, akey, sizeof(akey));
	ssid_rank_key_version(prefix, p->id, vkey, sizeof(vkey));
	rc = send_fmt(r, 1, "MULTI");
	(*sent)++;
	if (rc == 0 && p->full) {
		rc = send_fmt(r, 2, "DEL", akey);
		(*sent)++;
		for (uint32_t i = 0; i < r->nseg && rc == 0; i++) {
			struct share *s = share_find(r->segv[i], p->id);

			if (s)
				rc = mark_dirty(r, i, s);
		}
	}
	/* Deleted first: a damaged record dropped at load may be written anew below. */
	if (rc == 0 && p->ngone > 0) {
		rc = argv_reserve(r, p->ngone + 2);
		if (rc == 0) {
			set_arg(r, 0, "HDEL");
			set_arg(r, 1, rkey);
			for (uint32_t i = 0; i < p->ngone; i++)
				set_arg(r, 2 + i, p->gone[i]);
			rc = send_argv(r, (int)p->ngone + 2, r->argv, r->argl);
			(*sent)++;
		}
	}
	/* Records: every dirty member of the partition's global share. */
	if (rc == 0 && p->any_dirty_record) {
		uint32_t g = seg_find(r, "g");
		struct share *s = g == NONE ? NULL : share_find(r->segv[g], p->id);

		r->enc.len = 0;
		argc = 2;
		for (uint32_t m = 0; s && m < s->nmember && rc == 0; m++) {
			struct rec *rc2 = s->member[m];

			if (!rc2->dirty)
				continue;
			rc = argv_reserve(r, argc + 2);
			if (rc == 0) {
				set_arg(r, argc, rc2->id);
				rc = put_encoded(r, argc + 1, &rc2->r, false);
			}
			argc += 2;
		}
		if (rc == 0 && argc > 2) {
			set_arg(r, 0, "HSET");
			set_arg(r, 1, rkey);
			resolve(r, argc);
			rc = send_argv(r, (int)argc, r->argv, r->argl);
			(*sent)++;
		}
	}
	/* Aggregates: set the non-empty dirty shares, delete the empty ones. */
	for (int pass = 0; pass < 2 && rc == 0; pass++) {
		r->enc.len = 0;
		argc = 2;
		for (uint32_t i = 0; i < p->ndirty && rc == 0; i++) {
			struct seg *g = r->segv[p->dirty_seg[i]];
			struct share *s = share_find(g, p->id);
			bool empty = !s || s->agg.n == 0;

			if (empty != (pass == 1))
				continue;
			rc = argv_reserve(r, argc + 2);
			if (rc == 0)
				set_arg(r, argc++, g->field);
			if (rc == 0 && pass == 0) {
				rc = share_encodable(r, s);
				if (rc == 0)
					rc = put_encoded(r, argc++, &s->agg, true);
			}
		}
		if (rc == 0 && argc > 2) {
			set_arg(r, 0, pass == 0 ? "HSET" : "HDEL");
			set_arg(r, 1, akey);
			resolve(r, argc);
			rc = send_argv(r, (int)argc, r->argv, r->argl);
			(*sent)++;
		}
	}
	if (rc == 0) {
		rc = send_fmt(r, 2, "INCR", vkey);
		(*sent)++;
	}
	if (rc == 0) {
		rc = send_fmt(r, 1, "EXEC");
		(*sent)++;
	}
	return rc;
}

/* The partition's pending writes are in Redis: clear its flags. */
static void written(struct ssid_rank *r, struct part *p)
{
	uint32_t g = seg_find(r, "g");
	struct share *s = g == NONE ? NULL : share_find(r->segv[g], p->id);

	for (uint32_t m = 0; s && m < s->nmember; m++)
		s->member[m]->dirty = false;
	for (uint32_t i = 0; i < p->ndirty; i++) {
		struct share *d = share_find(r->segv[p->dirty_seg[i]], p->id);

		if (d)
			d->dirty = false;
	}
	part_free_pending(p);
}

static bool pending(const struct part *p)
{
	return p->local && (p->full || p->ndirty || p->ngone || p->any_dirty_record);
}

int ssid_rank_flush(struct ssid_rank *r)
{
	size_t sent = 0;
	int rc = 0;
	bool any = false;

	for (uint32_t i = 0; i < r->nparts; i++)
		any |= pending(&r->parts[i]);
	if (!any)
		return 0;
	rc = ssid_redis_connect(r->rd);
	for (uint32_t i = 0; i < r->nparts && rc == 0; i++)
		if (pending(&r->parts[i]))
			rc = queue_partition(r, &r->parts[i], &sent);
	if (rc < 0)
		return rc == -ENOMEM ? ssid_redis_fail(r->rd, rc, "rank write: out of memory") : rc;
	r->stats.round_trips++;
	rc = ssid_redis_read_replies(r->rd, sent, "rank write", take_ok, r);
	if (rc < 0)
		return rc;
	for (uint32_t i = 0; i < r->nparts; i++)
		if (pending(&r->parts[i]))
			written(r, &r->parts[i]);
	return 0;
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
		h[i] = hash_str(ch[i].user_id);
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
static int load_needed(struct ssid_rank *r, const struct ssid_rank_change *ch, size_t n)
{
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++) {
		struct part *p = part_find(r, ch[i].partition);

		if (p && p->local)
			continue;
		p = part_get(r, ch[i].partition);
		if (!p)
			return -ENOMEM;
		rc = ssid_redis_connect(r->rd);
		if (rc == 0)
			rc = load_partition(r, p);
		if (rc < 0)
			unload_partition(r, p);
	}
	return rc;
}

/* Note that rc's record must be deleted from its partition's hash. */
static int note_gone(struct ssid_rank *r, const struct rec *rc)
{
	struct part *p = part_find(r, rc->part);

	if (grow((void **)&p->gone, &p->gcap, p->ngone + 1, sizeof(*p->gone)) < 0 ||
	    !(p->gone[p->ngone] = strdup(rc->id)))
		return -ENOMEM;
	p->ngone++;
	return 0;
}

static int apply_one(struct ssid_rank *r, struct ssid_rank_change *c, bool *changed)
{
	struct rec *rc = rec_find(r, c->user_id);
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
		e = count_all(r, rc, false);
		if (e == 0)
			e = note_gone(r, rc);
		if (e == 0)
			rec_unlink(r, rc);
		return e;
	}
	if (rc && rc->part == c->partition && same_record(&rc->r, c))
		return 0;
	*changed = true;
	if (rc) {
		e = count_all(r, rc, false);
		if (e == 0 && rc->part != c->partition) {
			e = note_gone(r, rc);
			rc->part = c->partition;
		}
		if (e < 0)
			return e;
	} else if (!(rc = rec_new(r, c->user_id, c->partition)))
		return -ENOMEM;
	rc->r.score = c->score;
	for (int s = 0; s < SSI_SEG__COUNT; s++)
		snprintf(rc->r.segment[s], sizeof(rc->r.segment[s]), "%s",
			 c->segment[s] ? c->segment[s] : "");
	rc->dirty = true;
	part_find(r, rc->part)->any_dirty_record = true;
	return count_all(r, rc, true);
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
	bool *changed;
	int rc = validate(r, changes, n);

	if (rc < 0 || n == 0)
		return rc;
	rc = load_needed(r, changes, n);
	if (rc < 0)
		return rc;
	above = malloc(n * sizeof(*above));
	changed = malloc(n * sizeof(*changed));
	if (!above || !changed) {
		free(above);
		free(changed);
		return -ENOMEM;
	}
	/* Positions before the call, all of them before anything moves. */
	for (size_t i = 0; i < n; i++) {
		struct ssid_rank_change *c = &changes[i];
		const struct rec *rec = rec_find(r, c->user_id);

		c->had_record = false;
		memset(c->old_segment, 0, sizeof(c->old_segment));
		memset(&c->old_score, 0, sizeof(c->old_score));
		memset(c->result, 0, sizeof(c->result));
		for (int k = 0; k < SSID_RANK__COUNT; k++)
			place(r, rec, k, &c->result[k].before, &above[i][k]);
	}
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = apply_one(r, &changes[i], &changed[i]);
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct ssid_rank_change *c = &changes[i];
		const struct rec *rec = rec_find(r, c->user_id);
		int64_t after[SSID_RANK__COUNT];

		for (int k = 0; k < SSID_RANK__COUNT; k++)
			place(r, rec, k, &c->result[k].after, &after[k]);
		board_flags(r, c, above[i], after, changed[i]);
	}
	free(above);
	free(changed);
	if (rc == -ENOMEM) {
		/* Counted in some segments and not others: start again from Redis. */
		forget_all(r);
		return ssid_redis_fail(r->rd, rc, "ranks: out of memory");
	}
	if (rc == 0 && persist)
		rc = ssid_rank_flush(r);
	return rc;
}

/* ---- other instances' partitions ------------------------------------------ */

struct versions {
	struct ssid_rank *r;
	int32_t *ids;
	long long *v;
};

static int take_version(void *ctx, size_t i, struct redisReply *reply, int rc)
{
	struct versions *vs = ctx;

	if (reply->type == REDIS_REPLY_NIL)
		vs->v[i] = 0;
	else if (reply->type == REDIS_REPLY_STRING)
		vs->v[i] = strtoll(reply->str, NULL, 10);
	else if (rc == 0) {
		ssid_redis_set_error(vs->r->rd, "rank version: unexpected reply");
		return -EBADMSG;
	}
	return rc;
}

/* Replace what was read of partition p with the hash in reply. */
static int take_remote(struct ssid_rank *r, struct part *p, const redisReply *reply,
		       long long version)
{
	struct remote_entry *e;
	uint32_t ne = 0;
	int rc = 0;

	if (reply->type != REDIS_REPLY_ARRAY || reply->elements % 2) {
		ssid_redis_set_error(r->rd, "rank aggregates of partition %d: unexpected reply",
				     (int)p->id);
		return -EBADMSG;
	}
	e = calloc(reply->elements / 2 + 1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	for (size_t i = 0; i + 1 < reply->elements && rc == 0; i += 2) {
		const redisReply *f = reply->element[i], *v = reply->element[i + 1];
		char field[4 * SSI_ID_MAX + 8];

		if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING || f->len == 0 ||
		    f->len >= sizeof(field) || memchr(f->str, '\0', f->len)) {
			rc = -EBADMSG;
			break;
		}
		memcpy(field, f->str, f->len);
		field[f->len] = '\0';
		ssi_rankagg_init(&e[ne].agg);
		rc = ssi_rankagg_decode(&e[ne].agg, (const uint8_t *)v->str, v->len);
		if (rc < 0)
			break;
		e[ne].seg = seg_lookup(r, field, true);
		if (e[ne].seg == NONE) {
			ssi_rankagg_clear(&e[ne].agg);
			rc = -ENOMEM;
			break;
		}
		ne++;
	}
	if (rc < 0) {
		for (uint32_t i = 0; i < ne; i++)
			ssi_rankagg_clear(&e[i].agg);
		free(e);
		if (rc != -ENOMEM)
			ssid_redis_set_error(r->rd, "rank aggregates of partition %d: unreadable",
					     (int)p->id);
		return rc == -ENOMEM ? rc : -EBADMSG;
	}
	for (uint32_t i = 0; i < p->ne; i++)
		ssi_rankagg_merge(&r->segv[p->e[i].seg]->all, &p->e[i].agg, -1);
	for (uint32_t i = 0; i < ne; i++)
		if (ssi_rankagg_merge(&r->segv[e[i].seg]->all, &e[i].agg, +1) < 0)
			rc = -ENOMEM;
	part_free_remote(p);
	p->e = e;
	p->ne = ne;
	p->version = version;
	r->stats.refreshes++;
	return rc;
}

static int read_partition_list(struct ssid_rank *r, int32_t **ids, size_t *n)
{
	char key[256];
	redisReply *reply = NULL;
	int rc;

	*ids = NULL;
	*n = 0;
	ssid_rank_key_parts(ssid_redis_key_prefix(r->rd), key, sizeof(key));
	rc = send_fmt(r, 2, "SMEMBERS", key);
	if (rc < 0)
		return rc;
	r->stats.round_trips++;
	if (ssid_redis_next_reply(r->rd, &reply, "SMEMBERS rank partitions") < 0)
		return -EIO;
	if (reply->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(reply);
		ssid_redis_set_error(r->rd, "%s: unexpected reply", key);
		return -EBADMSG;
	}
	*ids = calloc(reply->elements + 1, sizeof(**ids));
	if (!*ids) {
		freeReplyObject(reply);
		return -ENOMEM;
	}
	for (size_t i = 0; i < reply->elements; i++) {
		const redisReply *e = reply->element[i];
		char *end;
		long v;

		if (e->type != REDIS_REPLY_STRING)
			continue;
		v = strtol(e->str, &end, 10);
		if (*end || v < 0 || v > INT32_MAX)
			continue;
		(*ids)[(*n)++] = (int32_t)v;
	}
	freeReplyObject(reply);
	return 0;
}

/* Read the others' partitions whose version moved since last read. */
static int read_remote(struct ssid_rank *r)
{
	struct versions vs = {r, NULL, NULL};
	size_t n = 0, nr = 0, sent = 0;
	char key[256];
	int rc = read_partition_list(r, &vs.ids, &n);

	if (rc < 0)
		return rc;
	/* Keep only the others'. */
	for (size_t i = 0; i < n; i++) {
		struct part *p = part_find(r, vs.ids[i]);

		if (!p || !p->local)
			vs.ids[nr++] = vs.ids[i];
	}
	vs.v = calloc(nr + 1, sizeof(*vs.v));
	if (!vs.v) {
		free(vs.ids);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nr && rc == 0; i++) {
		ssid_rank_key_version(ssid_redis_key_prefix(r->rd), vs.ids[i], key, sizeof(key));
		rc = send_fmt(r, 2, "GET", key);
	}
	if (rc == 0 && nr > 0) {
		r->stats.round_trips++;
		rc = ssid_redis_read_replies(r->rd, nr, "rank versions", take_version, &vs);
	}
	for (size_t i = 0; i < nr && rc == 0; i++) {
		struct part *p = part_get(r, vs.ids[i]);

		if (!p) {
			rc = -ENOMEM;
			break;
		}
		if (p->version == vs.v[i])
			continue;
		ssid_rank_key_aggs(ssid_redis_key_prefix(r->rd), vs.ids[i], key, sizeof(key));
		rc = send_fmt(r, 2, "HGETALL", key);
		sent++;
	}
	if (rc == 0 && sent > 0)
		r->stats.round_trips++;
	for (size_t i = 0; i < nr && sent > 0; i++) {
		struct part *p = part_find(r, vs.ids[i]);
		redisReply *reply = NULL;
		int t;

		if (!p || p->version == vs.v[i])
			continue;
		sent--;
		if (ssid_redis_next_reply(r->rd, &reply, "HGETALL rank aggregates") < 0) {
			rc = -EIO;
			break;
		}
		t = rc == 0 ? take_remote(r, p, reply, vs.v[i]) : 0;
		if (rc == 0)
			rc = t;
		freeReplyObject(reply);
	}
	free(vs.ids);
	free(vs.v);
	return rc;
}

int ssid_rank_refresh(struct ssid_rank *r, int64_t now_ms, bool force)
{
	int rc;

	if (!force && r->refreshed && now_ms - r->refreshed_ms < r->ro.refresh_ms)
		return 0;
	rc = ssid_redis_connect(r->rd);
	if (rc == 0)
		rc = ssid_rank_flush(r);
	if (rc == 0)
		rc = read_remote(r);
	if (rc == 0) {
		r->refreshed = true;
		r->refreshed_ms = now_ms;
	}
	return rc == -ENOMEM ? ssid_redis_fail(r->rd, rc, "ranks: out of memory") : rc;
}

void ssid_rank_drop_partition(struct ssid_rank *r, int32_t partition)
{
	struct part *p = part_find(r, partition);

	if (!p || !p->local)
		return;
	/* Best effort: what does not reach Redis the next owner cannot know. */
	if (pending(p))
		(void)ssid_rank_flush(r);
	unload_partition(r, p);
}

void ssid_rank_reset(struct ssid_rank *r)
{
	forget_all(r);
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
	segi = seg_find(r, field);
	g = segi == NONE ? NULL : r->segv[segi];
	bd->of = g ? g->all.n : 0;
	bd->hidden = bd->of < r->ro.min_members;
	if (!g || bd->hidden)
		return 0;
	for (uint32_t s = 0; s < g->nshare && rc == 0; s++)
		for (uint32_t m = 0; m < g->share[s].nmember && rc == 0; m++)
			rc =
			    ssi_rank_top_offer(&top, (size_t)r->ro.top_n, g->share[s].member[m]->id,
					       g->share[s].member[m]->r.score.total);
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
	segi = seg_find(r, field);
	ssi_rankagg_init(&empty);
	ssi_rankagg_place(segi == NONE ? &empty : &r->segv[segi]->all, total, r->ro.min_members,
			  &pl);
	ssid_rank_pos_set(pos, &pl);
	return 0;
}
