/* ssid_rank: segment ranks, averages and leaderboards in Redis; see ssid_rank.h. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "ssid_rank.h"

#define NONE SIZE_MAX

/* A segment's aggregate hash: members, sum of totals, sums of the pillars. */
enum { AGG_N, AGG_TOTAL, AGG_PILLAR0, AGG__COUNT = AGG_PILLAR0 + SSI_PILLAR__COUNT };
static const char *const agg_field[AGG__COUNT] = {"n", "t", "b", "p", "i", "r"};
/* The rep's record: applied score, then tenant, team, industry (enum ssi_segment order). */
static const char *const seg_field[SSI_SEG__COUNT] = {"t", "m", "i"};

struct ssid_rank {
	struct ssid_redis *rd;
	struct ssid_rank_opts ro;
	struct ssid_rank_stats stats;
};

/* ---- growable strings for keys ------------------------------------------ */

struct sb {
	char *p;
	size_t len, cap;
	bool oom;
};

static void sb_putn(struct sb *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		char *p = realloc(b->p, cap);

		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_puts(struct sb *b, const char *s)
{
	sb_putn(b, s, strlen(s));
}

/*
 * Segment values go inside a hash tag and are joined with ':', so the bytes
 * that would end the tag, split a team from its tenant or hurt readability
 * in redis-cli are written %XX: two different segments never share a key.
 */
static void sb_put_escaped(struct sb *b, const char *s)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch <= ' ' || ch == 0x7f || ch == '%' || ch == ':' || ch == '{' || ch == '}') {
			char hex[4];

			snprintf(hex, sizeof(hex), "%%%02X", ch);
			sb_putn(b, hex, 3);
		} else {
			sb_putn(b, (const char *)&ch, 1);
		}
	}
}

static bool known(const char *s)
{
	return s && s[0];
}

/*
 * The hash tag naming the segment of kind a rep with these values is in.
 * This is the one place that says what a segment is: a network segment would
 * be added here (and to the enum) if it were a shared set.
 */
static int segment_tag(struct sb *b, enum ssid_rank_kind kind,
		       const char *const segment[SSI_SEG__COUNT])
{
	switch (kind) {
	case SSID_RANK_GLOBAL:
		sb_puts(b, "g");
		return 0;
	case SSID_RANK_INDUSTRY:
		if (!known(segment[SSI_SEG_INDUSTRY]))
			return -ENOENT;
		sb_puts(b, "i:");
		sb_put_escaped(b, segment[SSI_SEG_INDUSTRY]);
		return 0;
	case SSID_RANK_TENANT:
		if (!known(segment[SSI_SEG_TENANT]))
			return -ENOENT;
		sb_puts(b, "t:");
		sb_put_escaped(b, segment[SSI_SEG_TENANT]);
		return 0;
	case SSID_RANK_TEAM:
		if (!known(segment[SSI_SEG_TENANT]) || !known(segment[SSI_SEG_TEAM]))
			return -ENOENT;
		sb_puts(b, "m:");
		sb_put_escaped(b, segment[SSI_SEG_TENANT]);
		sb_puts(b, ":");
		sb_put_escaped(b, segment[SSI_SEG_TEAM]);
		return 0;
	case SSID_RANK__COUNT:
		break;
	}
	return -EINVAL;
}

/* "<prefix>rk:{<tag>}:<suffix>" into a fresh string; -ENOENT, -ENOMEM. */
static int segment_key_new(const struct ssid_rank *r, enum ssid_rank_kind kind,
			   const char *const segment[SSI_SEG__COUNT], const char *suffix,
			   char **out, size_t *len)
{
	struct sb b = {0};
	int rc;

	sb_puts(&b, ssid_redis_key_prefix(r->rd));
	sb_puts(&b, "rk:{");
	rc = segment_tag(&b, kind, segment);
	sb_puts(&b, "}:");
	sb_puts(&b, suffix);
	if (rc == 0 && b.oom)
		rc = -ENOMEM;
	if (rc < 0) {
		free(b.p);
		return rc;
	}
	*out = b.p;
	*len = b.len;
	return 0;
}

/* ---- lifecycle and connection -------------------------------------------- */

void ssid_rank_opts_default(struct ssid_rank_opts *o)
{
	o->min_members = SSID_RANK_DEFAULT_MIN_MEMBERS;
	o->top_n = SSID_RANK_DEFAULT_TOP_N;
}

void ssid_rank_free(struct ssid_rank *r)
{
	if (!r)
		return;
	ssid_redis_free(r->rd);
	free(r);
}

int ssid_rank_new(struct ssid_rank **out, const struct ssid_redis_opts *o,
		  const struct ssid_rank_opts *ro)
{
	struct ssid_rank *r;

	if (ro && (ro->min_members < 1 || ro->top_n < 1 || ro->top_n > SSID_RANK_TOP_MAX))
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	if (ssid_redis_new(&r->rd, o) < 0) {
		ssid_rank_free(r);
		return -ENOMEM;
	}
	if (ro)
		r->ro = *ro;
	else
		ssid_rank_opts_default(&r->ro);
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

static int append(struct ssid_rank *r, int argc, const char **argv, const size_t *argl)
{
	if (redisAppendCommandArgv(ssid_redis_context(r->rd), argc, argv, argl) != REDIS_OK)
		return ssid_redis_fail(r->rd, -ENOMEM, "%s: cannot queue", argv[0]);
	r->stats.commands++;
	return 0;
}

/* ---- parsing ------------------------------------------------------------- */

static bool parse_int64(const char *s, size_t len, int64_t *out)
{
	char tmp[32], *end;
	long long v;

	if (len == 0 || len >= sizeof(tmp))
		return false;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	errno = 0;
	v = strtoll(tmp, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

static bool score_valid(const struct ssi_score *sc)
{
	int sum = 0;

	for (int p = 0; p < SSI_PILLAR__COUNT; p++) {
		if (sc->pillar[p] < 0 || sc->pillar[p] > 2500)
			return false;
		sum += sc->pillar[p];
	}
	return sc->total == sum;
}

static int score_format(const struct ssi_score *sc, char *buf, size_t len)
{
	return snprintf(buf, len, "v1 %d %d %d %d %d", sc->total, sc->pillar[0], sc->pillar[1],
			sc->pillar[2], sc->pillar[3]);
}

static bool score_parse(const char *str, size_t len, struct ssi_score *sc)
{
	char tmp[96];
	int used = 0;

	if (len >= sizeof(tmp))
		return false;
	memcpy(tmp, str, len);
	tmp[len] = '\0';
	if (sscanf(tmp, "v1 %d %d %d %d %d%n", &sc->total, &sc->pillar[0], &sc->pillar[1],
		   &sc->pillar[2], &sc->pillar[3], &used) != 5 ||
	    (size_t)used != len)
		return false;
	return score_valid(sc);
}

/* A nil or integer reply (ZCARD, ZCOUNT, a field of HMGET) as a count. */
static bool reply_int(const redisReply *reply, int64_t *out)
{
	if (reply->type == REDIS_REPLY_INTEGER) {
		*out = reply->integer;
		return true;
	}
	if (reply->type == REDIS_REPLY_NIL) {
		*out = 0;
		return true;
	}
	return reply->type == REDIS_REPLY_STRING && parse_int64(reply->str, reply->len, out);
}

/* ---- one batch ------------------------------------------------------------ */

struct seg {
	char *zkey, *akey;
	size_t zlen, alen;
	int64_t delta[AGG__COUNT];
	size_t *add, nadd, cap_add; /* changes ZADDed: joining or rescored */
	size_t *rem, nrem, cap_rem; /* changes ZREMed: leaving */
	bool need_before, need_after;
	int64_t size_before, size_after;
	int64_t agg_before[AGG__COUNT], agg_after[AGG__COUNT];
};

struct work {
	char *rkey; /* the rep's record */
	size_t rlen;
	bool unchanged; /* the record already says this: nothing to write */
	size_t old_seg[SSID_RANK__COUNT], new_seg[SSID_RANK__COUNT];
	int64_t higher_before[SSID_RANK__COUNT], higher_after[SSID_RANK__COUNT];
};

struct batch {
	struct ssid_rank_change *ch;
	size_t n;
	struct work *w;
	struct seg *seg;
	size_t nseg, cap_seg;
	size_t *slot; /* open addressing over seg by zkey: index + 1, 0 free */
	size_t nslot;
};

static void batch_free(struct batch *b)
{
	for (size_t i = 0; i < b->nseg; i++) {
		free(b->seg[i].zkey);
		free(b->seg[i].akey);
		free(b->seg[i].add);
		free(b->seg[i].rem);
	}
	free(b->seg);
	free(b->slot);
	if (b->w)
		for (size_t i = 0; i < b->n; i++)
			free(b->w[i].rkey);
	free(b->w);
}

static uint64_t hash_bytes(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

/* The index of the batch's segment of kind for these values, added when new. */
static int seg_lookup(const struct ssid_rank *r, struct batch *b, enum ssid_rank_kind kind,
		      const char *const segment[SSI_SEG__COUNT], size_t *out)
{
	struct seg *s;
	char *zkey;
	size_t zlen, at;
	int rc = segment_key_new(r, kind, segment, "z", &zkey, &zlen);

	if (rc < 0)
		return rc;
	at = hash_bytes(zkey, zlen) & (b->nslot - 1);
	for (; b->slot[at]; at = (at + 1) & (b->nslot - 1)) {
		s = &b->seg[b->slot[at] - 1];
		if (s->zlen == zlen && memcmp(s->zkey, zkey, zlen) == 0) {
			free(zkey);
			*out = b->slot[at] - 1;
			return 0;
		}
	}
	if (b->nseg == b->cap_seg) {
		size_t cap = b->cap_seg ? b->cap_seg * 2 : 64;
		struct seg *grown = realloc(b->seg, cap * sizeof(*grown));

		if (!grown) {
			free(zkey);
			return -ENOMEM;
		}
		b->seg = grown;
		b->cap_seg = cap;
	}
	s = &b->seg[b->nseg];
	memset(s, 0, sizeof(*s));
	s->zkey = zkey;
	s->zlen = zlen;
	rc = segment_key_new(r, kind, segment, "a", &s->akey, &s->alen);
	if (rc < 0) {
		free(zkey);
		return rc;
	}
	b->slot[at] = ++b->nseg;
	*out = b->nseg - 1;
	return 0;
}

static int push_index(size_t **v, size_t *n, size_t *cap, size_t i)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 8;
		size_t *grown = realloc(*v, c * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		*v = grown;
		*cap = c;
	}
	(*v)[(*n)++] = i;
	return 0;
}

static int cmp_user_id(const void *a, const void *b)
{
	const struct ssid_rank_change *const *x = a, *const *y = b;

	return strcmp((*x)->user_id, (*y)->user_id);
}

/* Reject what Redis would store wrongly or the engine never produces. */
static int validate(struct ssid_rank *r, const struct ssid_rank_change *ch, size_t n)
{
	const struct ssid_rank_change **sorted;

	for (size_t i = 0; i < n; i++) {
		size_t len = ch[i].user_id ? strlen(ch[i].user_id) : 0;

		if (len == 0 || len > SSI_ID_MAX) {
			ssid_redis_set_error(r->rd, "change %zu: user id of %zu bytes", i, len);
			return -EINVAL;
		}
		for (int g = 0; g < SSI_SEG__COUNT; g++)
			if (ch[i].segment[g] && strlen(ch[i].segment[g]) > SSI_ID_MAX) {
				ssid_redis_set_error(r->rd, "change %zu (%s): %s too long", i,
						     ch[i].user_id,
						     ssi_segment_name((enum ssi_segment)g));
				return -EINVAL;
			}
		if (!ch[i].removed && !score_valid(&ch[i].score)) {
			ssid_redis_set_error(
			    r->rd,
			    "change %zu (%s): score out of range or total %d is not the sum "
			    "of the pillars",
			    i, ch[i].user_id, ch[i].score.total);
			return -EINVAL;
		}
	}
	/* One rep twice would make the deltas of the second count from a stale record. */
	sorted = malloc(n * sizeof(*sorted));
	if (!sorted)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		sorted[i] = &ch[i];
	qsort(sorted, n, sizeof(*sorted), cmp_user_id);
	for (size_t i = 1; i < n; i++)
		if (strcmp(sorted[i - 1]->user_id, sorted[i]->user_id) == 0) {
			ssid_redis_set_error(r->rd, "rep %s appears twice in the batch",
					     sorted[i]->user_id);
			free(sorted);
			return -EINVAL;
		}
	free(sorted);
	return 0;
}

static int batch_init(const struct ssid_rank *r, struct batch *b, struct ssid_rank_change *ch,
		      size_t n)
{
	memset(b, 0, sizeof(*b));
	b->ch = ch;
	b->n = n;
	b->w = calloc(n, sizeof(*b->w));
	/* A rep touches at most 2 segments per kind; keep the table under half full. */
	b->nslot = 16;
	while (b->nslot < 4 * SSID_RANK__COUNT * n)
		b->nslot *= 2;
	b->slot = calloc(b->nslot, sizeof(*b->slot));
	if (!b->w || !b->slot)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct sb k = {0};

		sb_puts(&k, ssid_redis_key_prefix(r->rd));
		sb_puts(&k, "rk:u:{");
		sb_puts(&k, ch[i].user_id);
		sb_puts(&k, "}");
		if (k.oom) {
			free(k.p);
			return -ENOMEM;
		}
		b->w[i].rkey = k.p;
		b->w[i].rlen = k.len;
	}
	return 0;
}

/* What the record says was applied for the rep; a foreign record skips the rep. */
static int take_record(struct ssid_rank_change *c, const redisReply *reply)
{
	const redisReply *s;

	c->status = 0;
	c->had_record = false;
	memset(&c->old_score, 0, sizeof(c->old_score));
	memset(c->old_segment, 0, sizeof(c->old_segment));
	if (reply->type == REDIS_REPLY_ERROR) {
		c->status = -EBADMSG; /* WRONGTYPE: someone else's key */
		return 0;
	}
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 1 + SSI_SEG__COUNT)
		return -EIO;
	s = reply->element[0];
	if (s->type == REDIS_REPLY_NIL) {
		for (int g = 0; g < SSI_SEG__COUNT; g++)
			if (reply->element[1 + g]->type != REDIS_REPLY_NIL)
				c->status = -EBADMSG;
		return 0;
	}
	if (s->type != REDIS_REPLY_STRING || !score_parse(s->str, s->len, &c->old_score)) {
		c->status = -EBADMSG;
		return 0;
	}
	for (int g = 0; g < SSI_SEG__COUNT; g++) {
		const redisReply *v = reply->element[1 + g];

		if (v->type == REDIS_REPLY_NIL)
			continue;
		if (v->type != REDIS_REPLY_STRING || v->len > SSI_ID_MAX ||
		    memchr(v->str, '\0', v->len)) {
			memset(c->old_segment, 0, sizeof(c->old_segment));
			c->status = -EBADMSG;
			return 0;
		}
		memcpy(c->old_segment[g], v->str, v->len);
		c->old_segment[g][v->len] = '\0';
	}
	c->had_record = true;
	return 0;
}

/*
 * Round trip 1: what was last applied for each rep. No WATCH: Redis checks
 * each watched key against all the others (quadratic in the batch, 350 ms
 * for 10,000 keys), and one rep has one writer anyway, the consumer that owns
 * its Kafka partition, as for its state in ssid_store.
 */
static int read_records(struct ssid_rank *r, struct batch *b)
{
	redisReply *reply = NULL;
	int rc = 0;

	for (size_t i = 0; i < b->n && rc == 0; i++) {
		const char *hmget[2 + 1 + SSI_SEG__COUNT] = {"HMGET", b->w[i].rkey, "s"};
		size_t hl[2 + 1 + SSI_SEG__COUNT] = {5, b->w[i].rlen, 1};

		for (int g = 0; g < SSI_SEG__COUNT; g++) {
			hmget[3 + g] = seg_field[g];
			hl[3 + g] = 1;
		}
		rc = append(r, 3 + SSI_SEG__COUNT, hmget, hl);
	}
	if (rc < 0)
		return rc;
	r->stats.round_trips++;
	for (size_t i = 0; i < b->n; i++) {
		int taken;

		if (ssid_redis_next_reply(r->rd, &reply, "HMGET record") < 0)
			return -EIO;
		taken = take_record(&b->ch[i], reply);
		if (rc == 0)
			rc = taken;
		freeReplyObject(reply);
	}
	if (rc < 0)
		return ssid_redis_fail(r->rd, rc, "HMGET record: unexpected reply");
	return 0;
}

static bool scores_equal(const struct ssi_score *a, const struct ssi_score *b)
{
	if (a->total != b->total)
		return false;
	for (int p = 0; p < SSI_PILLAR__COUNT; p++)
		if (a->pillar[p] != b->pillar[p])
			return false;
	return true;
}

static bool record_unchanged(const struct ssid_rank_change *c)
{
	if (!c->had_record || c->removed || !scores_equal(&c->old_score, &c->score))
		return false;
	for (int g = 0; g < SSI_SEG__COUNT; g++)
		if (strcmp(c->old_segment[g], c->segment[g] ? c->segment[g] : "") != 0)
			return false;
	return true;
}

static void add_score(int64_t delta[AGG__COUNT], const struct ssi_score *sc, int sign)
{
	delta[AGG_TOTAL] += sign * sc->total;
	for (int p = 0; p < SSI_PILLAR__COUNT; p++)
		delta[AGG_PILLAR0 + p] += sign * sc->pillar[p];
}

/*
 * Which segments each rep leaves, joins or stays in, and the batch's summed
 * deltas per segment: one ZADD, one ZREM and a few HINCRBY per segment,
 * however many reps of the batch are in it.
 */
static int plan(const struct ssid_rank *r, struct batch *b)
{
	int rc;

	for (size_t i = 0; i < b->n; i++) {
		struct ssid_rank_change *c = &b->ch[i];
		struct work *w = &b->w[i];
		const char *old_values[SSI_SEG__COUNT];

		for (int g = 0; g < SSI_SEG__COUNT; g++)
			old_values[g] = c->old_segment[g];
		for (int k = 0; k < SSID_RANK__COUNT; k++) {
			w->old_seg[k] = w->new_seg[k] = NONE;
			w->higher_before[k] = w->higher_after[k] = 0;
		}
		if (c->status < 0)
			continue;
		w->unchanged = record_unchanged(c);
		for (int k = 0; k < SSID_RANK__COUNT; k++) {
			size_t o = NONE, nw = NONE;

			if (c->had_record) {
				rc = seg_lookup(r, b, (enum ssid_rank_kind)k, old_values, &o);
				if (rc < 0 && rc != -ENOENT)
					return rc;
			}
			if (!c->removed) {
				rc = seg_lookup(r, b, (enum ssid_rank_kind)k, c->segment, &nw);
				if (rc < 0 && rc != -ENOENT)
					return rc;
			}
			w->old_seg[k] = o;
			w->new_seg[k] = nw;
			if (o != NONE && !(r->ro.no_before & (1u << k)))
				b->seg[o].need_before = true;
			if (nw != NONE)
				b->seg[nw].need_after = true;
			if (w->unchanged)
				continue;
			if (o != NONE && o == nw) {
				add_score(b->seg[o].delta, &c->score, +1);
				add_score(b->seg[o].delta, &c->old_score, -1);
				rc = push_index(&b->seg[o].add, &b->seg[o].nadd, &b->seg[o].cap_add,
						i);
				if (rc < 0)
					return rc;
				continue;
			}
			if (o != NONE) {
				b->seg[o].delta[AGG_N]--;
				add_score(b->seg[o].delta, &c->old_score, -1);
				rc = push_index(&b->seg[o].rem, &b->seg[o].nrem, &b->seg[o].cap_rem,
						i);
				if (rc < 0)
					return rc;
			}
			if (nw != NONE) {
				b->seg[nw].delta[AGG_N]++;
				add_score(b->seg[nw].delta, &c->score, +1);
				rc = push_index(&b->seg[nw].add, &b->seg[nw].nadd,
						&b->seg[nw].cap_add, i);
				if (rc < 0)
					return rc;
			}
		}
	}
	return 0;
}

/* ZCARD and the aggregates of every segment flagged, then each rep's ZCOUNT. */
static int append_positions(struct ssid_rank *r, struct batch *b, bool after)
{
	char min[24];
	int rc;

	for (size_t s = 0; s < b->nseg; s++) {
		struct seg *g = &b->seg[s];
		const char *zcard[2] = {"ZCARD", g->zkey};
		size_t zl[2] = {5, g->zlen};
		const char *hmget[2 + AGG__COUNT] = {"HMGET", g->akey};
		size_t hl[2 + AGG__COUNT] = {5, g->alen};

		if (!(after ? g->need_after : g->need_before))
			continue;
		for (int f = 0; f < AGG__COUNT; f++) {
			hmget[2 + f] = agg_field[f];
			hl[2 + f] = 1;
		}
		rc = append(r, 2, zcard, zl);
		if (rc == 0)
			rc = append(r, 2 + AGG__COUNT, hmget, hl);
		if (rc < 0)
			return rc;
	}
	for (size_t i = 0; i < b->n; i++) {
		const struct ssid_rank_change *c = &b->ch[i];
		int total = after ? c->score.total : c->old_score.total;

		for (int k = 0; k < SSID_RANK__COUNT; k++) {
			size_t s = after ? b->w[i].new_seg[k] : b->w[i].old_seg[k];
			const char *argv[4] = {"ZCOUNT", NULL, min, "+inf"};
			size_t argl[4] = {6, 0, 0, 4};

			if (s == NONE || (!after && (r->ro.no_before & (1u << k))))
				continue;
			argv[1] = b->seg[s].zkey;
			argl[1] = b->seg[s].zlen;
			argl[2] = (size_t)snprintf(min, sizeof(min), "(%d", total);
			rc = append(r, 4, argv, argl);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

/* One ZADD or ZREM with all of a segment's members of the batch. */
static int append_members(struct ssid_rank *r, const struct batch *b, const struct seg *g, bool add)
{
	size_t n = add ? g->nadd : g->nrem;
	const size_t *idx = add ? g->add : g->rem;
	size_t per = add ? 2 : 1, argc = 2 + per * n;
	const char **argv = malloc(argc * sizeof(*argv));
	size_t *argl = malloc(argc * sizeof(*argl));
	char(*num)[16] = add ? malloc(n * sizeof(*num)) : NULL;
	int rc = -ENOMEM;

	if (!argv || !argl || (add && !num))
		goto out;
	argv[0] = add ? "ZADD" : "ZREM";
	argl[0] = 4;
	argv[1] = g->zkey;
	argl[1] = g->zlen;
	for (size_t j = 0; j < n; j++) {
		const struct ssid_rank_change *c = &b->ch[idx[j]];
		size_t at = 2 + per * j;

		if (add) {
			argl[at] = (size_t)snprintf(num[j], sizeof(num[j]), "%d", c->score.total);
			argv[at++] = num[j];
		}
		argv[at] = c->user_id;
		argl[at] = strlen(c->user_id);
	}
	rc = append(r, (int)argc, argv, argl);
out:
	free(argv);
	free(argl);
	free(num);
	return rc;
}

static int append_writes(struct ssid_rank *r, struct batch *b)
{
	char num[24], score[96];
	int rc;

	for (size_t s = 0; s < b->nseg; s++) {
		const struct seg *g = &b->seg[s];

		if (g->nrem && (rc = append_members(r, b, g, false)) < 0)
			return rc;
		if (g->nadd && (rc = append_members(r, b, g, true)) < 0)
			return rc;
		for (int f = 0; f < AGG__COUNT; f++) {
			const char *argv[4] = {"HINCRBY", g->akey, agg_field[f], num};
			size_t argl[4] = {7, g->alen, 1, 0};

			if (g->delta[f] == 0)
				continue;
			argl[3] =
			    (size_t)snprintf(num, sizeof(num), "%lld", (long long)g->delta[f]);
			rc = append(r, 4, argv, argl);
			if (rc < 0)
				return rc;
		}
	}
	for (size_t i = 0; i < b->n; i++) {
		const struct ssid_rank_change *c = &b->ch[i];
		const char *argv[4 + 2 * SSI_SEG__COUNT] = {"HSET", b->w[i].rkey, "s", score};
		size_t argl[4 + 2 * SSI_SEG__COUNT] = {4, b->w[i].rlen, 1, 0};

		if (c->status < 0 || b->w[i].unchanged)
			continue;
		if (c->removed) {
			argv[0] = "DEL";
			argl[0] = 3;
			rc = append(r, 2, argv, argl);
			if (rc < 0)
				return rc;
			continue;
		}
		argl[3] = (size_t)score_format(&c->score, score, sizeof(score));
		for (int g = 0; g < SSI_SEG__COUNT; g++) {
			const char *v = c->segment[g] ? c->segment[g] : "";

			argv[4 + 2 * g] = seg_field[g];
			argl[4 + 2 * g] = 1;
			argv[5 + 2 * g] = v;
			argl[5 + 2 * g] = strlen(v);
		}
		rc = append(r, 4 + 2 * SSI_SEG__COUNT, argv, argl);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Walks EXEC's replies in the order the commands were queued. */
struct cursor {
	const redisReply *exec;
	size_t at;
};

static const redisReply *cursor_next(struct ssid_rank *r, struct cursor *cu)
{
	const redisReply *reply;

	if (cu->at >= cu->exec->elements) {
		ssid_redis_set_error(r->rd, "EXEC: %zu replies, more expected", cu->exec->elements);
		return NULL;
	}
	reply = cu->exec->element[cu->at++];
	if (reply->type == REDIS_REPLY_ERROR) {
		/* Commands after this one did run: say so, the aggregates need a look. */
		ssid_redis_set_error(r->rd, "EXEC: command %zu of the transaction: %s", cu->at - 1,
				     reply->str);
		return NULL;
	}
	return reply;
}

static int take_int(struct ssid_rank *r, struct cursor *cu, int64_t *out)
{
	const redisReply *reply = cursor_next(r, cu);

	if (!reply)
		return -EIO;
	if (!reply_int(reply, out)) {
		ssid_redis_set_error(r->rd, "EXEC: reply %zu is not a count", cu->at - 1);
		return -EBADMSG;
	}
	return 0;
}

static int take_positions(struct ssid_rank *r, struct batch *b, struct cursor *cu, bool after)
{
	int rc;

	for (size_t s = 0; s < b->nseg; s++) {
		struct seg *g = &b->seg[s];
		const redisReply *agg;

		if (!(after ? g->need_after : g->need_before))
			continue;
		rc = take_int(r, cu, after ? &g->size_after : &g->size_before);
		if (rc < 0)
			return rc;
		agg = cursor_next(r, cu);
		if (!agg)
			return -EIO;
		if (agg->type != REDIS_REPLY_ARRAY || agg->elements != AGG__COUNT) {
			ssid_redis_set_error(r->rd, "%s: unexpected HMGET reply", g->akey);
			return -EBADMSG;
		}
		for (int f = 0; f < AGG__COUNT; f++)
			if (!reply_int(agg->element[f],
				       after ? &g->agg_after[f] : &g->agg_before[f])) {
				ssid_redis_set_error(r->rd, "%s: field %s is not an integer",
						     g->akey, agg_field[f]);
				return -EBADMSG;
			}
	}
	for (size_t i = 0; i < b->n; i++)
		for (int k = 0; k < SSID_RANK__COUNT; k++) {
			struct work *w = &b->w[i];

			if ((after ? w->new_seg[k] : w->old_seg[k]) == NONE ||
			    (!after && (r->ro.no_before & (1u << k))))
				continue;
			rc = take_int(r, cu, after ? &w->higher_after[k] : &w->higher_before[k]);
			if (rc < 0)
				return rc;
		}
	return 0;
}

/*
 * Round trip 2: positions before, writes, positions after, all in one
 * MULTI/EXEC so that before and after are consistent snapshots and the
 * aggregates move together with the records: a connection lost before
 * EXEC applies nothing, so a retried batch never counts twice.
 */
static int transact(struct ssid_rank *r, struct batch *b)
{
	const char *multi[1] = {"MULTI"}, *exec[1] = {"EXEC"};
	size_t multi_len[1] = {5}, exec_len[1] = {4};
	uint64_t first = r->stats.commands;
	size_t queued, writes_from, writes_to;
	redisReply *reply = NULL;
	struct cursor cu;
	int rc;

	rc = append(r, 1, multi, multi_len);
	if (rc == 0)
		rc = append_positions(r, b, false);
	writes_from = (size_t)(r->stats.commands - first - 1);
	if (rc == 0)
		rc = append_writes(r, b);
	writes_to = (size_t)(r->stats.commands - first - 1);
	if (rc == 0)
		rc = append_positions(r, b, true);
	queued = (size_t)(r->stats.commands - first - 1);
	if (rc == 0)
		rc = append(r, 1, exec, exec_len);
	if (rc < 0)
		return rc;
	r->stats.round_trips++;
	for (size_t i = 0; i < queued + 1; i++) {
		if (ssid_redis_next_reply(r->rd, &reply, "MULTI") < 0)
			return -EIO;
		/* A command refused while queueing makes EXEC refuse them all. */
		if (reply->type == REDIS_REPLY_ERROR) {
			rc = ssid_redis_fail(r->rd, -EIO, "MULTI: command %zu refused: %s", i,
					     reply->str);
			freeReplyObject(reply);
			return rc;
		}
		freeReplyObject(reply);
	}
	if (ssid_redis_next_reply(r->rd, &reply, "EXEC") < 0)
		return -EIO;
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != queued) {
		rc = ssid_redis_fail(r->rd, -EIO, "EXEC: %s",
				     reply->type == REDIS_REPLY_ERROR ? reply->str
								      : "unexpected reply");
		freeReplyObject(reply);
		return rc;
	}
	cu.exec = reply;
	cu.at = 0;
	rc = take_positions(r, b, &cu, false);
	for (size_t i = writes_from; i < writes_to && rc == 0; i++)
		if (!cursor_next(r, &cu))
			rc = -EIO;
	if (rc == 0)
		rc = take_positions(r, b, &cu, true);
	freeReplyObject(reply);
	return rc;
}

static void pos_fill(const struct ssid_rank *r, struct ssid_rank_pos *pos, int64_t size,
		     const int64_t agg[AGG__COUNT], int64_t higher)
{
	pos->present = true;
	pos->of = size;
	if (size < r->ro.min_members) {
		pos->hidden = true;
		return;
	}
	pos->rank = higher + 1;
	pos->top_percent = (int)((100 * pos->rank + size - 1) / size);
	if (agg[AGG_N] <= 0)
		return;
	pos->avg_total = round((double)agg[AGG_TOTAL] / (double)agg[AGG_N]) / 100.0;
	for (int p = 0; p < SSI_PILLAR__COUNT; p++)
		pos->avg_pillar[p] =
		    round((double)agg[AGG_PILLAR0 + p] / (double)agg[AGG_N]) / 100.0;
}

/*
 * A board is the top_n of its segment, so a rep can change it only by being
 * within the top_n before or after; joining or leaving can also lift the
 * privacy floor, which is always within the top_n unless k > top_n.
 */
static void fill_results(const struct ssid_rank *r, struct batch *b)
{
	int64_t top = r->ro.top_n;
	bool floor_beyond_board = r->ro.min_members > r->ro.top_n;

	for (size_t i = 0; i < b->n; i++) {
		struct ssid_rank_change *c = &b->ch[i];
		const struct work *w = &b->w[i];

		memset(c->result, 0, sizeof(c->result));
		if (c->status < 0)
			continue;
		for (int k = 0; k < SSID_RANK__COUNT; k++) {
			struct ssid_rank_result *res = &c->result[k];
			size_t o = w->old_seg[k], nw = w->new_seg[k];
			bool stayed = o != NONE && o == nw, near_before, near_after;

			if (o != NONE && !(r->ro.no_before & (1u << k)))
				pos_fill(r, &res->before, b->seg[o].size_before,
					 b->seg[o].agg_before, w->higher_before[k]);
			if (nw != NONE)
				pos_fill(r, &res->after, b->seg[nw].size_after,
					 b->seg[nw].agg_after, w->higher_after[k]);
			res->moved = o != NONE && nw != NONE && o != nw;
			if (w->unchanged)
				continue;
			/* Unread: higher_before stays 0, "maybe on the board". */
			near_before = o != NONE && w->higher_before[k] < top;
			near_after = nw != NONE && w->higher_after[k] < top;
			if (stayed) {
				res->board_old = res->board_new = near_before || near_after;
				continue;
			}
			res->board_old = o != NONE && (near_before || floor_beyond_board);
			res->board_new = nw != NONE && (near_after || floor_beyond_board);
		}
	}
}

int ssid_rank_apply(struct ssid_rank *r, struct ssid_rank_change *changes, size_t n)
{
	struct batch b;
	int rc;

	if (n == 0)
		return 0;
	rc = validate(r, changes, n);
	if (rc < 0)
		return rc;
	rc = batch_init(r, &b, changes, n);
	if (rc == 0)
		rc = ssid_redis_connect(r->rd);
	if (rc == 0)
		rc = read_records(r, &b);
	if (rc == 0)
		rc = plan(r, &b);
	if (rc == 0)
		rc = transact(r, &b);
	if (rc == -ENOMEM)
		ssid_redis_fail(r->rd, rc, "out of memory");
	else if (rc == -EBADMSG || rc == -EIO)
		ssid_redis_fail(r->rd, rc, "%s", ssid_redis_errstr(r->rd));
	if (rc == 0)
		fill_results(r, &b);
	batch_free(&b);
	return rc;
}

int ssid_rank_segment_key(const struct ssid_rank *r, enum ssid_rank_kind kind,
			  const char *const segment[SSI_SEG__COUNT], char *buf, size_t len)
{
	char *key;
	size_t klen;
	int rc = segment_key_new(r, kind, segment, "z", &key, &klen);

	if (rc < 0)
		return rc;
	rc = snprintf(buf, len, "%s", key);
	free(key);
	return rc;
}

const char *ssid_rank_kind_name(enum ssid_rank_kind kind)
{
	static const char *const names[SSID_RANK__COUNT] = {"global", "industry", "tenant", "team"};

	return kind >= 0 && kind < SSID_RANK__COUNT ? names[kind] : "?";
}

/* ---- leaderboards ------------------------------------------------------ */

/* ZREVRANGE ... WITHSCORES: member, score, member, score... best first. */
static int take_board(struct ssid_rank *r, struct ssid_rank_board *bd, const redisReply *range)
{
	if (range->type != REDIS_REPLY_ARRAY || range->elements % 2 ||
	    range->elements / 2 > (size_t)r->ro.top_n)
		return -EIO;
	bd->n = 0;
	if (bd->hidden)
		return 0;
	for (size_t j = 0; j < range->elements / 2; j++) {
		const redisReply *member = range->element[2 * j],
				 *score = range->element[2 * j + 1];
		struct ssid_rank_entry *e = &bd->entry[j];
		int64_t total;

		if (member->type != REDIS_REPLY_STRING || member->len == 0 ||
		    member->len > SSI_ID_MAX || memchr(member->str, '\0', member->len) ||
		    score->type != REDIS_REPLY_STRING ||
		    !parse_int64(score->str, score->len, &total) || total < 0 || total > 10000) {
			ssid_redis_set_error(r->rd, "leaderboard entry %zu is not ours", j);
			return -EBADMSG;
		}
		memcpy(e->user_id, member->str, member->len);
		e->user_id[member->len] = '\0';
		e->total = (int)total;
		e->rank = j > 0 && bd->entry[j - 1].total == e->total ? bd->entry[j - 1].rank
								      : (int64_t)j + 1;
		bd->n++;
	}
	return 0;
}

int ssid_rank_boards(struct ssid_rank *r, struct ssid_rank_board *boards, size_t n)
{
	char stop[16];
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		char probe[1];

		boards[i].hidden = false;
		boards[i].of = 0;
		boards[i].n = 0;
		if (ssid_rank_segment_key(r, boards[i].kind, boards[i].segment, probe,
					  sizeof(probe)) < 0) {
			ssid_redis_set_error(r->rd, "board %zu: no %s segment", i,
					     ssid_rank_kind_name(boards[i].kind));
			return -ENOENT;
		}
	}
	if (n == 0)
		return 0;
	rc = ssid_redis_connect(r->rd);
	snprintf(stop, sizeof(stop), "%d", r->ro.top_n - 1);
	for (size_t i = 0; i < n && rc == 0; i++) {
		char *zkey;
		size_t zlen;

		rc = segment_key_new(r, boards[i].kind, boards[i].segment, "z", &zkey, &zlen);
		if (rc == 0) {
			const char *zcard[2] = {"ZCARD", zkey};
			size_t zl[2] = {5, zlen};
			const char *range[5] = {"ZREVRANGE", zkey, "0", stop, "WITHSCORES"};
			size_t rl[5] = {9, zlen, 1, strlen(stop), 10};

			rc = append(r, 2, zcard, zl);
			if (rc == 0)
				rc = append(r, 5, range, rl);
			free(zkey);
		}
	}
	if (rc < 0)
		return rc == -ENOMEM ? ssid_redis_fail(r->rd, rc, "out of memory") : rc;
	r->stats.round_trips++;
	for (size_t i = 0; i < n; i++) {
		redisReply *card = NULL, *range = NULL;
		int taken = 0;

		if (ssid_redis_next_reply(r->rd, &card, "ZCARD") < 0)
			return -EIO;
		if (ssid_redis_next_reply(r->rd, &range, "ZREVRANGE") < 0) {
			freeReplyObject(card);
			return -EIO;
		}
		if (card->type != REDIS_REPLY_INTEGER)
			taken = -EIO;
		else {
			boards[i].of = card->integer;
			boards[i].hidden = card->integer < r->ro.min_members;
			taken = take_board(r, &boards[i], range);
		}
		if (taken == -EIO)
			ssid_redis_set_error(r->rd, "board %zu: unexpected reply", i);
		if (rc == 0)
			rc = taken;
		freeReplyObject(card);
		freeReplyObject(range);
	}
	return rc;
}

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

unsigned ssid_rank_board_diff(const struct ssid_rank_entry *a, size_t na,
			      const struct ssid_rank_entry *b, size_t nb)
{
	unsigned flags = 0;
	size_t ia = 0, ib = 0;

	for (size_t i = 0; i < na; i++) {
		size_t j = index_of(a[i].user_id, b, nb);

		if (j == NONE)
			flags |= SSID_RANK_BOARD_MEMBERS;
		else if (a[i].total != b[j].total)
			flags |= SSID_RANK_BOARD_SCORES;
	}
	for (size_t j = 0; j < nb; j++)
		if (index_of(b[j].user_id, a, na) == NONE)
			flags |= SSID_RANK_BOARD_MEMBERS;
	/* Order is about the members both lists hold: compare their two sequences. */
	for (;;) {
		const struct ssid_rank_entry *x = next_common(a, na, &ia, b, nb);
		const struct ssid_rank_entry *y = next_common(b, nb, &ib, a, na);

		if (!x || !y)
			break;
		if (strcmp(x->user_id, y->user_id) != 0) {
			flags |= SSID_RANK_BOARD_ORDER;
			break;
		}
	}
	return flags;
}

void ssid_rank_coalesce_init(struct ssid_rank_coalesce *c, int64_t interval_ms)
{
	memset(c, 0, sizeof(*c));
	c->interval_ms = interval_ms;
}

static bool coalesce_elapsed(const struct ssid_rank_coalesce *c, int64_t now_ms)
{
	return !c->published || now_ms - c->last_ms >= c->interval_ms;
}

static void coalesce_publish(struct ssid_rank_coalesce *c, int64_t now_ms)
{
	c->published = true;
	c->pending = false;
	c->last_ms = now_ms;
}

bool ssid_rank_coalesce_offer(struct ssid_rank_coalesce *c, int64_t now_ms)
{
	if (!coalesce_elapsed(c, now_ms)) {
		c->pending = true;
		return false;
	}
	coalesce_publish(c, now_ms);
	return true;
}

bool ssid_rank_coalesce_due(struct ssid_rank_coalesce *c, int64_t now_ms)
{
	if (!c->pending || !coalesce_elapsed(c, now_ms))
		return false;
	coalesce_publish(c, now_ms);
	return true;
}

int64_t ssid_rank_coalesce_next(const struct ssid_rank_coalesce *c)
{
	return c->pending ? c->last_ms + c->interval_ms : INT64_MAX;
}

/* ---- percentile bands ---------------------------------------------------- */

void ssid_rank_bands_default(struct ssid_rank_bands *b)
{
	static const int defaults[] = {1, 5, 10, 15, 25, 50};

	b->n = sizeof(defaults) / sizeof(defaults[0]);
	memcpy(b->top, defaults, sizeof(defaults));
}

int ssid_rank_bands_parse(struct ssid_rank_bands *b, const char *text)
{
	struct ssid_rank_bands parsed = {0};
	const char *p = text;

	for (;;) {
		char *end;
		long v;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		errno = 0;
		v = strtol(p, &end, 10);
		if (errno || v < 1 || v > 100 || parsed.n == SSID_RANK_BANDS_MAX ||
		    (parsed.n > 0 && v <= parsed.top[parsed.n - 1]))
			return -EINVAL;
		parsed.top[parsed.n++] = (int)v;
		p = end;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		if (*p++ != ',')
			return -EINVAL;
	}
	*b = parsed;
	return 0;
}

int ssid_rank_band_of(const struct ssid_rank_bands *b, int top_percent)
{
	if (top_percent <= 0)
		return 0;
	for (size_t i = 0; i < b->n; i++)
		if (top_percent <= b->top[i])
			return b->top[i];
	return 0;
}

int ssid_rank_band_crossing(const struct ssid_rank_bands *b, int old_top, int new_top,
			    struct ssid_rank_crossing *out)
{
	memset(out, 0, sizeof(*out));
	if (old_top <= 0 || new_top <= 0)
		return 0;
	out->from = ssid_rank_band_of(b, old_top);
	out->to = ssid_rank_band_of(b, new_top);
	if (out->from == out->to)
		return 0;
	/* 0 is "outside every band", the worst place to be. */
	if (out->to != 0 && (out->from == 0 || out->to < out->from)) {
		out->direction = +1;
		out->band = out->to;
	} else {
		out->direction = -1;
		out->band = out->from;
	}
	return out->direction;
}
