/* ssid_network: network rank from a connection set and the global sorted set; see ssid_network.h.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "ssid_network.h"

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
	char *gkey, *nkey; /* the global sorted set, the rep's connection set */
	size_t glen, nlen;
	double own;	   /* the rep's total */
	double sum;	   /* of the known connections' totals */
	uint64_t higher;   /* known connections with a strictly higher total */
	const char **argv; /* ZMSCORE key member... */
	size_t *argl;	   /* their lengths */
	struct seen seen;
};

/* Queue one command of the pipeline, counted. */
static int append(struct scan *sc, int argc, const char **argv, const size_t *argl)
{
	if (redisAppendCommandArgv(ssid_redis_context(sc->rd), argc, argv, argl) != REDIS_OK)
		return ssid_redis_fail(sc->rd, -ENOMEM, "%s: cannot queue", argv[0]);
	sc->st.commands++;
	return 0;
}

/* Queue the SSCAN of the next chunk from cursor. */
static int append_sscan(struct scan *sc, const char *cursor, size_t cursor_len)
{
	char count[16];
	const char *argv[5] = {"SSCAN", sc->nkey, cursor, "COUNT", count};
	size_t argl[5] = {5, sc->nlen, cursor_len, 5, 0};

	argl[4] = (size_t)snprintf(count, sizeof(count), "%d", SSID_NETWORK_CHUNK);
	return append(sc, 5, argv, argl);
}

/* A sorted-set score reply as a finite number; false for anything else. */
static bool parse_score(const redisReply *r, double *out)
{
	char tmp[64], *end;

	if (r->type != REDIS_REPLY_STRING || r->len == 0 || r->len >= sizeof(tmp))
		return false;
	memcpy(tmp, r->str, r->len);
	tmp[r->len] = '\0';
	errno = 0;
	*out = strtod(tmp, &end);
	return errno == 0 && *end == '\0' && isfinite(*out);
}

/*
 * Queue ZMSCOREs (at most SSID_NETWORK_CHUNK members each) for the members
 * of one SSCAN reply not counted yet, the rep excepted. Returns how many
 * commands were queued, or -errno.
 */
static int queue_lookups(struct scan *sc, const redisReply *members, size_t *queued)
{
	size_t argc = 2;
	int rc;

	*queued = 0;
	sc->argv[0] = "ZMSCORE";
	sc->argl[0] = 7;
	sc->argv[1] = sc->gkey;
	sc->argl[1] = sc->glen;
	for (size_t i = 0; i < members->elements; i++) {
		const redisReply *m = members->element[i];

		if (m->type != REDIS_REPLY_STRING)
			return ssid_redis_fail(sc->rd, -EBADMSG, "SSCAN %s: not a set member",
					       sc->nkey);
		sc->st.scanned++;
		if (m->len == sc->user_len && memcmp(m->str, sc->user_id, m->len) == 0)
			continue;
		rc = seen_add(&sc->seen, fingerprint(m->str, m->len));
		if (rc < 0)
			return ssid_redis_fail(sc->rd, rc, "out of memory");
		if (rc == 0)
			continue;
		sc->st.connections++;
		sc->argv[argc] = m->str;
		sc->argl[argc++] = m->len;
		if (argc == 2 + SSID_NETWORK_CHUNK) {
			rc = append(sc, (int)argc, sc->argv, sc->argl);
			if (rc < 0)
				return rc;
			(*queued)++;
			argc = 2;
		}
	}
	if (argc > 2) {
		rc = append(sc, (int)argc, sc->argv, sc->argl);
		if (rc < 0)
			return rc;
		(*queued)++;
	}
	return 0;
}

/* Fold one ZMSCORE reply into the counts. */
static int take_lookup(struct scan *sc, const redisReply *r)
{
	if (r->type != REDIS_REPLY_ARRAY)
		return ssid_redis_fail(sc->rd, -EBADMSG, "ZMSCORE %s: %s", sc->gkey,
				       r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
	for (size_t i = 0; i < r->elements; i++) {
		double v;

		if (r->element[i]->type == REDIS_REPLY_NIL)
			continue;
		if (!parse_score(r->element[i], &v))
			return ssid_redis_fail(sc->rd, -EBADMSG, "ZMSCORE %s: not a score",
					       sc->gkey);
		sc->st.known++;
		sc->sum += v;
		sc->higher += v > sc->own;
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

/*
 * The scan proper, the rep's ZSCORE and the first SSCAN already queued:
 * each round trip reads one SSCAN chunk's lookups and the next chunk.
 */
static int run(struct scan *sc, bool *present)
{
	redisReply *own = NULL, *chunk = NULL;
	int rc;

	sc->st.round_trips++;
	rc = ssid_redis_next_reply(sc->rd, &own, "ZSCORE");
	if (rc < 0)
		return rc;
	rc = ssid_redis_next_reply(sc->rd, &chunk, "SSCAN");
	if (rc < 0) {
		freeReplyObject(own);
		return rc;
	}
	*present = own->type != REDIS_REPLY_NIL;
	if (*present && !parse_score(own, &sc->own))
		rc = ssid_redis_fail(sc->rd, -EBADMSG, "ZSCORE %s: %s", sc->gkey,
				     own->type == REDIS_REPLY_ERROR ? own->str : "not a score");
	freeReplyObject(own);
	while (rc == 0 && *present) {
		size_t queued = 0;
		bool more;

		if (!sscan_shape(chunk)) {
			rc = ssid_redis_fail(sc->rd, -EBADMSG, "SSCAN %s: %s", sc->nkey,
					     chunk->type == REDIS_REPLY_ERROR ? chunk->str
									      : "unexpected reply");
			break;
		}
		more = !(chunk->element[0]->len == 1 && chunk->element[0]->str[0] == '0');
		rc = queue_lookups(sc, chunk->element[1], &queued);
		if (rc == 0 && more)
			rc = append_sscan(sc, chunk->element[0]->str, chunk->element[0]->len);
		/* hiredis has copied the members into its output buffer. */
		freeReplyObject(chunk);
		chunk = NULL;
		if (rc < 0 || (queued == 0 && !more))
			break;
		sc->st.round_trips++;
		for (size_t i = 0; i < queued; i++) {
			redisReply *r = NULL;

			rc = ssid_redis_next_reply(sc->rd, &r, "ZMSCORE");
			if (rc < 0)
				return rc;
			rc = take_lookup(sc, r);
			freeReplyObject(r);
			if (rc < 0)
				return rc;
		}
		if (!more)
			break;
		rc = ssid_redis_next_reply(sc->rd, &chunk, "SSCAN");
	}
	freeReplyObject(chunk);
	return rc;
}

/* The global sorted set's key (ssid_rank.h) or the rep's connection set's, allocated. */
static char *key_new(const struct ssid_redis *rd, const char *user_id, bool network, size_t *len)
{
	char *key = NULL;
	int n = network ? asprintf(&key, "%snet:{%s}", ssid_redis_key_prefix(rd), user_id)
			: asprintf(&key, "%srk:{g}:z", ssid_redis_key_prefix(rd));

	if (n < 0)
		return NULL;
	*len = (size_t)n;
	return key;
}

/* Count, among known connections, the higher totals and the sum, then apply ssid_rank's rules. */
int ssid_network_rank(struct ssid_redis *rd, const char *user_id, int min_members,
		      struct ssid_rank_pos *out, struct ssid_network_stats *stats)
{
	struct scan sc = {.rd = rd, .user_id = user_id};
	bool present = false;
	int64_t of;
	int rc;

	memset(out, 0, sizeof(*out));
	if (stats)
		memset(stats, 0, sizeof(*stats));
	sc.user_len = user_id ? strlen(user_id) : 0;
	if (sc.user_len == 0 || sc.user_len > SSI_ID_MAX || min_members < 1)
		return -EINVAL;
	sc.gkey = key_new(rd, user_id, false, &sc.glen);
	sc.nkey = key_new(rd, user_id, true, &sc.nlen);
	sc.argv = malloc((2 + SSID_NETWORK_CHUNK) * sizeof(*sc.argv));
	sc.argl = malloc((2 + SSID_NETWORK_CHUNK) * sizeof(*sc.argl));
	rc = sc.gkey && sc.nkey && sc.argv && sc.argl ? 0 : -ENOMEM;
	if (rc == 0)
		rc = ssid_redis_connect(rd);
	if (rc == 0) {
		const char *argv[3] = {"ZSCORE", sc.gkey, user_id};
		size_t argl[3] = {6, sc.glen, sc.user_len};

		rc = append(&sc, 3, argv, argl);
		if (rc == 0)
			rc = append_sscan(&sc, "0", 1);
		if (rc == 0)
			rc = run(&sc, &present);
	}
	if (rc == 0 && present) {
		of = 1 + (int64_t)sc.st.known;
		out->present = true;
		out->of = of;
		if (of < min_members) {
			out->hidden = true;
		} else {
			out->rank = 1 + (int64_t)sc.higher;
			out->top_percent = (int)((100 * out->rank + of - 1) / of);
			out->avg_total = round((sc.sum + sc.own) / (double)of) / 100.0;
		}
	}
	if (stats)
		*stats = sc.st;
	free(sc.seen.slot);
	free(sc.argv);
	free(sc.argl);
	free(sc.gkey);
	free(sc.nkey);
	return rc;
}
