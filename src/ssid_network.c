/* ssid_network: network rank from a rep's connections and rank records; see ssid_network.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "ssi_rank.h"
#include "ssid_conns.h"
#include "ssid_network.h"
#include "ssid_rank_read.h"
#include "ssid_store.h"

/* ---- the set of connections already counted ------------------------------ */

/*
 * SSCAN may return a member twice (when the set is resized between two
 * calls), so each chunk is filtered through a set of 64-bit fingerprints of
 * the ids seen: 8 bytes per connection instead of the ids themselves.
 */
struct seen {
	uint64_t *slot; /* 0 = free */
	size_t cap, n;	/* cap a power of two, kept at most half full */
};

/* A well-mixed 64-bit fingerprint of an id (never 0, the free-slot mark). */
static uint64_t fingerprint(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a, then splitmix64's finaliser */

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	h ^= (uint64_t)len;
	h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
	h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h ? h : 1;
}

/* Insert into a table known not to hold fp (rehashing). */
static void seen_put(uint64_t *slot, size_t cap, uint64_t fp)
{
	size_t at = (size_t)fp & (cap - 1);

	while (slot[at])
		at = (at + 1) & (cap - 1);
	slot[at] = fp;
}

/* 1 when fp is new (and now recorded), 0 when seen before, -ENOMEM. */
static int seen_add(struct seen *s, uint64_t fp)
{
	size_t at;

	if (2 * (s->n + 1) > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 1024;
		uint64_t *slot = calloc(cap, sizeof(*slot));

		if (!slot)
			return -ENOMEM;
		for (size_t i = 0; i < s->cap; i++)
			if (s->slot[i])
				seen_put(slot, cap, s->slot[i]);
		free(s->slot);
		s->slot = slot;
		s->cap = cap;
	}
	for (at = (size_t)fp & (s->cap - 1); s->slot[at]; at = (at + 1) & (s->cap - 1))
		if (s->slot[at] == fp)
			return 0;
	s->slot[at] = fp;
	s->n++;
	return 1;
}

/* ---- scans in lockstep ------------------------------------------------------ */

/* One rep's scan of its connection set. */
struct scan {
	const char *user_id;
	size_t user_len;
	char *nkey; /* the rep's connection set */
	size_t nlen;
	int own;	 /* the rep's total */
	int64_t sum;	 /* of the known connections' totals */
	uint64_t higher; /* known connections with a strictly higher total */
	char cursor[32];
	size_t cursor_len;
	bool done;	   /* SSCAN said cursor 0, or no set to scan */
	redisReply *chunk; /* the last SSCAN reply: ids point into it */
	/* The ids of field c, NUL-terminated, for the first lookups. */
	char packed[SSID_CONNS_PACKED_MAX * 2];
	const char **ids; /* new connections of the chunk, not looked up yet */
	int *totals;	  /* their totals */
	size_t nids, idcap;
	struct seen seen;
	struct ssid_network_stats st;
};

static int take_packed(struct ssid_redis *rd, struct scan *sc, const struct ssid_conns *conns);

/* conns: the rep's field c; NULL when not read (the set alone is scanned). */
static int scan_init(struct scan *sc, struct ssid_redis *rd, const char *user_id, int own,
		     const struct ssid_conns *conns)
{
	char probe[1];
	int len = ssid_conns_set_key(rd, user_id, probe, sizeof(probe)); /* the length it needs */

	memset(sc, 0, sizeof(*sc));
	sc->user_id = user_id;
	sc->user_len = strlen(user_id);
	sc->own = own;
	sc->cursor[0] = '0';
	sc->cursor_len = 1;
	sc->nlen = len > 0 ? (size_t)len : 0;
	sc->nkey = malloc(sc->nlen + 1);
	if (!sc->nkey)
		return -ENOMEM;
	ssid_conns_set_key(rd, user_id, sc->nkey, sc->nlen + 1);
	if (!conns)
		return 0;
	sc->done = !ssid_conns_spilled(conns);
	return take_packed(rd, sc, conns);
}

static void scan_free(struct scan *sc)
{
	if (sc->chunk)
		freeReplyObject(sc->chunk);
	free(sc->seen.slot);
	free(sc->ids);
	free(sc->totals);
	free(sc->nkey);
}

/*
 * A connection id (NUL-terminated at len), unless counted already or the
 * rep's own, into sc->ids. An id no rep can have (a NUL inside, too long) is
 * a connection but never a known one.
 */
static int take_id(struct ssid_redis *rd, struct scan *sc, const char *id, size_t len)
{
	int rc;

	if (len == sc->user_len && memcmp(id, sc->user_id, len) == 0)
		return 0;
	rc = seen_add(&sc->seen, fingerprint(id, len));
	if (rc == 0)
		return 0;
	if (rc > 0 && sc->nids == sc->idcap) {
		size_t cap = sc->idcap ? 2 * sc->idcap : SSID_NETWORK_CHUNK;
		const char **ids = realloc(sc->ids, cap * sizeof(*ids));
		int *totals = ids ? realloc(sc->totals, cap * sizeof(*totals)) : NULL;

		if (ids)
			sc->ids = ids;
		if (totals)
			sc->totals = totals;
		rc = ids && totals ? 1 : -ENOMEM;
		if (rc > 0)
			sc->idcap = cap;
	}
	if (rc < 0) {
		ssid_redis_set_error(rd, "out of memory");
		return rc;
	}
	sc->st.connections++;
	if (len > 0 && len <= SSI_ID_MAX && !memchr(id, '\0', len))
		sc->ids[sc->nids++] = id;
	return 0;
}

/* The ids of the rep's field c, copied NUL-terminated into sc->packed. */
static int take_packed(struct ssid_redis *rd, struct scan *sc, const struct ssid_conns *conns)
{
	size_t at = 0, idlen, used = 0;
	const char *id;
	int rc = 0;

	while (rc == 0 && ssid_conns_next(conns->b, conns->len, &at, &id, &idlen)) {
		char *copy = sc->packed + used;

		memcpy(copy, id, idlen);
		copy[idlen] = '\0';
		used += idlen + 1;
		rc = take_id(rd, sc, copy, idlen);
	}
	return rc;
}

/* The members of an SSCAN reply not counted yet (take_id) into sc->ids. */
static int take_members(struct ssid_redis *rd, struct scan *sc, const redisReply *members)
{
	for (size_t i = 0; i < members->elements; i++) {
		const redisReply *m = members->element[i];
		int rc;

		if (m->type != REDIS_REPLY_STRING) {
			ssid_redis_set_error(rd, "SSCAN %s: not a set member", sc->nkey);
			return -EBADMSG;
		}
		sc->st.scanned++;
		/* hiredis NUL-terminates bulk strings. */
		rc = take_id(rd, sc, m->str, m->len);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* An SSCAN reply: [cursor, [member...]]. */
static bool sscan_shape(const redisReply *r)
{
	return r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
	       r->element[0]->type == REDIS_REPLY_STRING &&
	       r->element[1]->type == REDIS_REPLY_ARRAY;
}

/* One SSCAN of every scan not done: one round trip. -EIO ends everything at once. */
static int sscan_round(struct ssid_redis *rd, struct scan *sc, size_t n, bool *any)
{
	char count[16];
	size_t countlen = (size_t)snprintf(count, sizeof(count), "%d", SSID_NETWORK_CHUNK);
	int rc = 0;

	*any = false;
	for (size_t i = 0; i < n; i++) {
		const char *argv[5] = {"SSCAN", sc[i].nkey, sc[i].cursor, "COUNT", count};
		size_t argl[5] = {5, sc[i].nlen, sc[i].cursor_len, 5, countlen};

		if (sc[i].done)
			continue;
		if (ssid_redis_append(rd, sc[i].nkey, sc[i].nlen, 5, argv, argl) < 0)
			return -EIO;
		sc[i].st.commands++;
		*any = true;
	}
	for (size_t i = 0; i < n; i++) {
		redisReply *r = NULL;

		if (sc[i].done)
			continue;
		if (ssid_redis_next_reply(rd, &r, "SSCAN") < 0)
			return -EIO;
		if (sc[i].chunk)
			freeReplyObject(sc[i].chunk);
		sc[i].chunk = r;
		if (rc < 0)
			continue; /* read the others: the connection stays in step */
		if (!sscan_shape(r) || r->element[0]->len >= sizeof(sc[i].cursor)) {
			ssid_redis_set_error(rd, "SSCAN %s: %s", sc[i].nkey,
					     r->type == REDIS_REPLY_ERROR ? r->str
									  : "unexpected reply");
			rc = -EBADMSG;
			continue;
		}
		sc[i].cursor_len = r->element[0]->len;
		memcpy(sc[i].cursor, r->element[0]->str, sc[i].cursor_len);
		sc[i].cursor[sc[i].cursor_len] = '\0';
		sc[i].done = strcmp(sc[i].cursor, "0") == 0;
		rc = take_members(rd, &sc[i], r->element[1]);
	}
	return rc;
}

/*
 * Look every scan's new ids up: per scan, one HGET of each id's p
 * (ssid_store_queue_totals), all in one round trip.
 */
static int lookup_round(struct ssid_redis *rd, struct scan *sc, size_t n, uint64_t *rounds)
{
	bool any = false;
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++) {
		rc = ssid_store_queue_totals(rd, (const char *const *)sc[i].ids, sc[i].nids);
		sc[i].st.commands += sc[i].nids;
		any |= sc[i].nids > 0;
	}
	if (rc < 0)
		return rc; /* the connection was dropped with what was queued */
	*rounds += any;
	for (size_t i = 0; i < n; i++) {
		rc = ssid_store_take_totals(rd, sc[i].nids, sc[i].totals);
		if (rc < 0)
			return rc; /* -EIO: the connection was dropped */
		for (size_t j = 0; j < sc[i].nids; j++) {
			if (sc[i].totals[j] < 0)
				continue;
			sc[i].st.known++;
			sc[i].sum += sc[i].totals[j];
			sc[i].higher += sc[i].totals[j] > sc[i].own;
		}
		sc[i].nids = 0;
	}
	return 0;
}

/*
 * Look the ids of fields c up, then scan every set to its end, a chunk per
 * round, the lookups after each round; *rounds counts the round trips.
 */
static int run(struct ssid_redis *rd, struct scan *sc, size_t n, uint64_t *rounds)
{
	bool any = true;
	int rc = lookup_round(rd, sc, n, rounds);

	while (rc == 0 && any) {
		rc = sscan_round(rd, sc, n, &any);
		*rounds += any;
		if (rc == 0)
			rc = lookup_round(rd, sc, n, rounds);
	}
	return rc;
}

/* The position from what the scan counted. */
static void scan_place(const struct scan *sc, int min_members, struct ssid_rank_pos *out)
{
	int64_t sum[SSI_RANK_SUMS] = {sc->sum + sc->own};
	struct ssi_rank_place pl;

	ssi_rank_place_of((int64_t)sc->higher, 1 + (int64_t)sc->st.known, sum, min_members, &pl);
	ssid_rank_pos_set(out, &pl);
}

/* What a scan did into to (round trips are counted per round, by run). */
static void stats_add(struct ssid_network_stats *to, const struct ssid_network_stats *st)
{
	to->commands += st->commands;
	to->scanned += st->scanned;
	to->connections += st->connections;
	to->known += st->known;
}

static bool id_ok(const char *user_id)
{
	size_t len = user_id ? strlen(user_id) : 0;

	return len > 0 && len <= SSI_ID_MAX;
}

/*
 * The rep's field c into *conns; *have false when it has none (an older
 * build's rep: its set holds them all). 0, -EIO, -EBADMSG (not a hash).
 */
static int read_conns(struct ssid_redis *rd, const char *user_id, struct ssid_conns *conns,
		      bool *have)
{
	char key[SSI_ID_MAX + 512];
	int klen = ssid_store_user_key(rd, user_id, key, sizeof(key));
	redisReply *r;
	int rc = 0;

	*have = false;
	if (klen < 0 || (size_t)klen >= sizeof(key))
		return -EINVAL;
	r = ssid_redis_command(rd, "HGET %b %s", key, (size_t)klen, SSID_CONNS_FIELD);
	if (!r)
		return -EIO;
	if (r->type == REDIS_REPLY_STRING) {
		/* Unreadable, it reads as spilled with no ids: the set is scanned. */
		(void)ssid_conns_load(conns, r->str, r->len, true);
		*have = true;
	} else if (r->type != REDIS_REPLY_NIL) {
		ssid_redis_set_error(rd, "HGET %s %s: %s", key, SSID_CONNS_FIELD,
				     r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
		rc = -EBADMSG;
	}
	freeReplyObject(r);
	return rc;
}

/* The rep's total, then the known connections' totals: higher ones counted, all summed. */
int ssid_network_rank(struct ssid_redis *rd, const char *user_id, int min_members,
		      struct ssid_rank_pos *out, struct ssid_network_stats *stats)
{
	struct ssid_network_stats st = {0};
	struct ssi_rank_record rec;
	struct ssid_conns conns;
	bool have = false;
	int found = 0, rc;

	memset(out, 0, sizeof(*out));
	if (stats)
		memset(stats, 0, sizeof(*stats));
	if (!id_ok(user_id) || min_members < 1)
		return -EINVAL;
	rc = ssid_redis_connect(rd);
	if (rc == 0) {
		st.round_trips++;
		st.commands++;
		rc = found = ssid_rank_read_record(rd, user_id, &rec);
	}
	if (rc > 0) {
		st.round_trips++;
		st.commands++;
		rc = read_conns(rd, user_id, &conns, &have);
	}
	if (rc == 0 && found > 0) {
		struct scan sc;

		rc = scan_init(&sc, rd, user_id, rec.score.total, have ? &conns : NULL);
		if (rc == 0)
			rc = run(rd, &sc, 1, &st.round_trips);
		if (rc == 0)
			scan_place(&sc, min_members, out);
		stats_add(&st, &sc.st);
		scan_free(&sc);
	}
	if (stats)
		*stats = st;
	return rc < 0 ? rc : 0;
}

int ssid_network_rank_batch(struct ssid_redis *rd, struct ssid_network_ask *asks, size_t n,
			    int min_members, struct ssid_network_stats *stats)
{
	struct ssid_network_stats st = {0};
	struct scan *sc = NULL;
	size_t ready = 0;
	int rc = min_members < 1 ? -EINVAL : 0;

	for (size_t i = 0; i < n; i++) {
		memset(&asks[i].pos, 0, sizeof(asks[i].pos));
		if (!id_ok(asks[i].user_id) || asks[i].total < 0 ||
		    asks[i].total > SSI_RANK_MAX_TOTAL)
			rc = -EINVAL;
	}
	if (stats)
		memset(stats, 0, sizeof(*stats));
	if (rc < 0 || n == 0)
		return rc;
	sc = calloc(n, sizeof(*sc));
	rc = sc ? ssid_redis_connect(rd) : -ENOMEM;
	for (; rc == 0 && ready < n; ready++)
		rc = scan_init(&sc[ready], rd, asks[ready].user_id, asks[ready].total,
			       asks[ready].conns);
	if (rc == 0)
		rc = run(rd, sc, n, &st.round_trips);
	for (size_t i = 0; i < ready; i++) {
		if (rc == 0)
			scan_place(&sc[i], min_members, &asks[i].pos);
		stats_add(&st, &sc[i].st);
		scan_free(&sc[i]);
	}
	if (stats)
		*stats = st;
	free(sc);
	return rc;
}
