/* ssid_network: network rank from a connection set and rank records; see ssid_network.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "ssi_rank.h"
#include "ssid_network.h"
#include "ssid_rank_read.h"

/* The one place that names the connection set, for the daemon and the tests. */
int ssid_network_key(const struct ssid_redis *rd, const char *user_id, char *buf, size_t len)
{
	return snprintf(buf, len, "%snet:{%s}", ssid_redis_key_prefix(rd), user_id);
}

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

/* ---- one computation ------------------------------------------------------- */

struct scan {
	struct ssid_redis *rd;
	struct ssid_network_stats st;
	const char *user_id;
	size_t user_len;
	char *nkey; /* the rep's connection set */
	size_t nlen;
	int32_t *parts; /* the partitions with rank data, read once */
	size_t nparts;
	int own;	  /* the rep's total */
	int64_t sum;	  /* of the known connections' totals */
	uint64_t higher;  /* known connections with a strictly higher total */
	const char **ids; /* new connections of the chunk, not looked up yet */
	int *totals;	  /* their totals */
	size_t nids;
	struct seen seen;
};

/* Look the pending ids up: one HMGET per partition, one round trip (ssid_rank_read's cost). */
static int lookup(struct scan *sc)
{
	int rc;

	if (sc->nids == 0)
		return 0;
	sc->st.round_trips++;
	sc->st.commands += sc->nparts;
	rc = ssid_rank_read_totals(sc->rd, sc->parts, sc->nparts, sc->ids, sc->nids, sc->totals);
	for (size_t i = 0; rc == 0 && i < sc->nids; i++) {
		if (sc->totals[i] < 0)
			continue;
		sc->st.known++;
		sc->sum += sc->totals[i];
		sc->higher += sc->totals[i] > sc->own;
	}
	sc->nids = 0;
	return rc;
}

/*
 * The members of one SSCAN reply not counted yet, the rep excepted, looked
 * up at most SSID_NETWORK_CHUNK at a time. An id no rep can have (a NUL
 * inside, too long) is a connection but never a known one.
 */
static int take_members(struct scan *sc, const redisReply *members)
{
	int rc;

	for (size_t i = 0; i < members->elements; i++) {
		const redisReply *m = members->element[i];

		if (m->type != REDIS_REPLY_STRING) {
			ssid_redis_set_error(sc->rd, "SSCAN %s: not a set member", sc->nkey);
			return -EBADMSG;
		}
		sc->st.scanned++;
		if (m->len == sc->user_len && memcmp(m->str, sc->user_id, m->len) == 0)
			continue;
		rc = seen_add(&sc->seen, fingerprint(m->str, m->len));
		if (rc < 0) {
			ssid_redis_set_error(sc->rd, "out of memory");
			return rc;
		}
		if (rc == 0)
			continue;
		sc->st.connections++;
		if (m->len == 0 || m->len > SSI_ID_MAX || memchr(m->str, '\0', m->len))
			continue;
		sc->ids[sc->nids++] = m->str; /* hiredis NUL-terminates bulk strings */
		if (sc->nids == SSID_NETWORK_CHUNK) {
			rc = lookup(sc);
			if (rc < 0)
				return rc;
		}
	}
	return lookup(sc);
}

/* An SSCAN reply: [cursor, [member...]]. */
static bool sscan_shape(const redisReply *r)
{
	return r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
	       r->element[0]->type == REDIS_REPLY_STRING &&
	       r->element[1]->type == REDIS_REPLY_ARRAY;
}

/* The scan proper: each chunk is one round trip for its SSCAN and one for its lookups. */
static int run(struct scan *sc)
{
	char cursor[32] = "0";
	size_t cursor_len = 1;
	int rc = 0;

	do {
		char count[16];
		const char *argv[5] = {"SSCAN", sc->nkey, cursor, "COUNT", count};
		size_t argl[5] = {5, sc->nlen, cursor_len, 5, 0};
		redisReply *chunk = NULL;

		argl[4] = (size_t)snprintf(count, sizeof(count), "%d", SSID_NETWORK_CHUNK);
		if (ssid_redis_append(sc->rd, sc->nkey, sc->nlen, 5, argv, argl) < 0)
			return -EIO;
		sc->st.commands++;
		sc->st.round_trips++;
		rc = ssid_redis_next_reply(sc->rd, &chunk, "SSCAN");
		if (rc < 0)
			return rc;
		if (!sscan_shape(chunk) || chunk->element[0]->len >= sizeof(cursor)) {
			ssid_redis_set_error(sc->rd, "SSCAN %s: %s", sc->nkey,
					     chunk->type == REDIS_REPLY_ERROR ? chunk->str
									      : "unexpected reply");
			rc = -EBADMSG;
		} else {
			cursor_len = chunk->element[0]->len;
			memcpy(cursor, chunk->element[0]->str, cursor_len);
			cursor[cursor_len] = '\0';
			rc = take_members(sc, chunk->element[1]);
		}
		freeReplyObject(chunk);
	} while (rc == 0 && strcmp(cursor, "0") != 0);
	return rc;
}

/* The rep's total, then the known connections' totals: higher ones counted, all summed. */
int ssid_network_rank(struct ssid_redis *rd, const char *user_id, int min_members,
		      struct ssid_rank_pos *out, struct ssid_network_stats *stats)
{
	struct scan sc = {.rd = rd, .user_id = user_id};
	struct ssi_rank_record rec;
	int found = 0, rc;

	memset(out, 0, sizeof(*out));
	if (stats)
		memset(stats, 0, sizeof(*stats));
	sc.user_len = user_id ? strlen(user_id) : 0;
	if (sc.user_len == 0 || sc.user_len > SSI_ID_MAX || min_members < 1)
		return -EINVAL;
	{
		char probe[1];

		rc = ssid_network_key(rd, user_id, probe, sizeof(probe)); /* the length it needs */
	}
	sc.nlen = rc > 0 ? (size_t)rc : 0;
	sc.nkey = malloc(sc.nlen + 1);
	if (sc.nkey)
		ssid_network_key(rd, user_id, sc.nkey, sc.nlen + 1);
	sc.ids = malloc(SSID_NETWORK_CHUNK * sizeof(*sc.ids));
	sc.totals = malloc(SSID_NETWORK_CHUNK * sizeof(*sc.totals));
	rc = sc.nkey && sc.ids && sc.totals ? ssid_redis_connect(rd) : -ENOMEM;
	if (rc == 0) {
		sc.st.round_trips++;
		sc.st.commands++;
		rc = ssid_rank_read_partitions(rd, &sc.parts, &sc.nparts);
	}
	if (rc == 0 && sc.nparts > 0) {
		sc.st.round_trips++;
		sc.st.commands += sc.nparts;
		rc = found = ssid_rank_read_record(rd, sc.parts, sc.nparts, user_id, &rec, NULL);
	}
	if (rc > 0) {
		sc.own = rec.score.total;
		rc = run(&sc);
	}
	if (rc == 0 && found) {
		int64_t sum[SSI_RANK_SUMS] = {sc.sum + sc.own};
		struct ssi_rank_place pl;

		ssi_rank_place_of((int64_t)sc.higher, 1 + (int64_t)sc.st.known, sum, min_members,
				  &pl);
		ssid_rank_pos_set(out, &pl);
	}
	if (stats)
		*stats = sc.st;
	free(sc.seen.slot);
	free(sc.parts);
	free(sc.ids);
	free(sc.totals);
	free(sc.nkey);
	return rc < 0 ? rc : 0;
}
