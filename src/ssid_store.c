/* ssid_store: pipelined per-user records in Redis over hiredis 0.14 (ssid_store.h). */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "ssid_history.h"
#include "ssi_text.h"
#include "ssid_store.h"
#include "ssid_store_int.h"

void ssid_store_free(struct ssid_store *s)
{
	if (!s)
		return;
	ssid_redis_free(s->rd);
	ssid_cache_free(s->cache);
	store_sched_drop(s, -1);
	free(s->sched);
	free(s->enc);
	free(s->henc);
	free(s);
}

int ssid_store_new(struct ssid_store **out, const struct ssid_redis_opts *opts)
{
	struct ssid_store *s = calloc(1, sizeof(*s));
	struct ssi_alert_state fresh;
	long len;

	if (!s)
		return -ENOMEM;
	ssi_alert_state_init(&fresh);
	len = ssi_alert_state_encode(&fresh, s->alert_fresh, sizeof(s->alert_fresh));
	s->alert_fresh_len = len > 0 ? (size_t)len : 0;
	s->enc = malloc(SSI_STATE_ENCODED_MAX);
	s->henc = malloc(SSI_HISTORY_ENCODED_MAX);
	if (!s->enc || !s->henc || ssid_redis_new(&s->rd, opts) < 0) {
		ssid_store_free(s);
		return -ENOMEM;
	}
	*out = s;
	return 0;
}

int ssid_store_cache(struct ssid_store *s, size_t max_bytes)
{
	ssid_cache_free(s->cache);
	s->cache = NULL;
	return max_bytes ? ssid_cache_new(&s->cache, max_bytes) : 0;
}

void ssid_store_forget(struct ssid_store *s, int32_t partition)
{
	store_sched_drop(s, partition);
	if (!s->cache)
		return;
	if (partition < 0)
		ssid_cache_clear(s->cache);
	else
		ssid_cache_drop_partition(s->cache, partition);
}

void ssid_store_cache_stats(const struct ssid_store *s, struct ssid_cache_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (s->cache)
		ssid_cache_get_stats(s->cache, out);
}

const char *ssid_store_errstr(const struct ssid_store *s)
{
	return ssid_redis_errstr(s->rd);
}

int ssid_store_ping(struct ssid_store *s)
{
	return ssid_redis_ping(s->rd);
}

int ssid_store_key(const struct ssid_store *s, const char *user_id, char *buf, size_t len)
{
	return ssid_store_user_key(s->rd, user_id, buf, len);
}

int ssid_store_user_key(const struct ssid_redis *rd, const char *user_id, char *buf, size_t len)
{
	const char *prefix = ssid_redis_key_prefix(rd);
	size_t np = strlen(prefix), nu = strlen(user_id), n = np + 3 + nu + 1;

	/* "<prefix>u:{<id>}", as snprintf would (every rep of every batch: no printf). */
	if (n >= len)
		return snprintf(buf, len, "%su:{%s}", prefix, user_id);
	memcpy(buf, prefix, np);
	memcpy(buf + np, "u:{", 3);
	memcpy(buf + np + 3, user_id, nu);
	buf[n - 1] = '}';
	buf[n] = '\0';
	return (int)n;
}

void ssid_user_init(struct ssid_user *u, const char *id)
{
	memset(u, 0, offsetof(struct ssid_user, state));
	ssi_state_init(&u->state);
	ssid_conns_init(&u->conns);
	u->id = id;
	ssi_history_init(&u->history);
	ssi_alert_state_init(&u->alert);
	u->due_ms = SSID_DUE_NEVER;
	u->network_day = -1;
	u->partition = -1;
	u->state_parts = SSID_STORE_STATE_PARTS; /* not loaded: any part may be there */
}

void ssid_user_clear(struct ssid_user *u)
{
	ssi_state_release(&u->state);
	ssi_history_clear(&u->history);
}

/* "v2 total brand people insights relationships as_of_ms model_version" */
static int published_format(const struct ssid_user *u, char *buf, size_t len)
{
	const struct ssi_score *sc = &u->published;
	const long long v[] = {sc->total,     sc->pillar[0], sc->pillar[1],
			       sc->pillar[2], sc->pillar[3], (long long)u->published_ms};
	size_t mlen = strlen(u->published_model);
	int n = ssi_text_ints_format(buf, len, 2, v, sizeof(v) / sizeof(v[0]));

	if (n < 0 || (size_t)n + 1 + mlen >= len)
		return 0;
	buf[n++] = ' ';
	memcpy(buf + n, u->published_model, mlen + 1);
	return n + (int)mlen;
}

bool ssid_store_published_parse(const char *str, size_t len, struct ssid_published *out)
{
	struct ssi_score *sc = &out->score;
	long long v[6];
	size_t used;
	int ver;

	memset(out, 0, sizeof(*out));
	if (memchr(str, '\0', len) || ssi_text_ints_parse(str, len, &ver, v, 5, &used) < 0 ||
	    !ssi_text_ints_fit_int(v, 5))
		return false;
	sc->total = (int)v[0];
	for (int p = 0; p < SSI_PILLAR__COUNT; p++)
		sc->pillar[p] = (int)v[1 + p];
	if (ver == 2) {
		size_t at;

		/* The model version follows the time, after any spaces, to the end. */
		if (ssi_text_ints_parse(str, len, &ver, v, 6, &used) < 0)
			return false;
		at = used;
		while (at < len && str[at] == ' ')
			at++;
		if (len - at > SSI_MODEL_VERSION_MAX)
			return false;
		out->as_of_ms = v[5];
		memcpy(out->model, str + at, len - at);
		out->model[len - at] = '\0';
	} else if (ver != 1 || used != len) {
		return false;
	}
	return ssi_rank_score_valid(sc);
}

static bool published_parse(const char *str, size_t len, struct ssid_user *u,
			    struct ssid_published *pub)
{
	u->published_ms = 0;
	u->published_model[0] = '\0';
	if (!ssid_store_published_parse(str, len, pub))
		return false;
	u->published = pub->score;
	u->published_ms = pub->as_of_ms;
	memcpy(u->published_model, pub->model, sizeof(u->published_model));
	return true;
}

/* "v1 g i t m": percentiles per rank kind at the last delivery. */
static int tops_format(const int *top, char *buf, size_t len)
{
	const long long v[SSID_RANK__COUNT] = {top[0], top[1], top[2], top[3]};

	return ssi_text_ints_format(buf, len, 1, v, SSID_RANK__COUNT);
}

static void tops_parse(const struct ssid_cache_field *r, int *top)
{
	long long t[SSID_RANK__COUNT];
	size_t used;
	int ver;

	memset(top, 0, SSID_RANK__COUNT * sizeof(*top));
	if (!r->has || ssi_text_ints_parse(r->p, r->len, &ver, t, SSID_RANK__COUNT, &used) < 0 ||
	    ver != 1 || used != r->len)
		return;
	for (int k = 0; k < SSID_RANK__COUNT; k++)
		top[k] = t[k] >= 0 && t[k] <= 100 ? (int)t[k] : 0;
}

/* "v1 day present hidden rank of top_percent avg_total_cp" */
static int network_format(const struct ssid_user *u, char *buf, size_t len)
{
	const struct ssid_rank_pos *r = &u->network;
	const long long v[] = {u->network_day,	 r->present,	 r->hidden,	 (long long)r->rank,
			       (long long)r->of, r->top_percent, r->avg_total_cp};

	return ssi_text_ints_format(buf, len, 1, v, sizeof(v) / sizeof(v[0]));
}

static void network_parse(const struct ssid_cache_field *r, struct ssid_user *u)
{
	long long v[7];
	size_t used;
	int ver;

	u->network_day = -1;
	memset(&u->network, 0, sizeof(u->network));
	if (!r->has || ssi_text_ints_parse(r->p, r->len, &ver, v, 7, &used) < 0 || ver != 1 ||
	    used != r->len || !ssi_text_ints_fit_int(v, 3) || !ssi_text_ints_fit_int(v + 5, 2) ||
	    v[0] < 0)
		return;
	u->network_day = (int32_t)v[0];
	u->network.present = v[1] != 0;
	u->network.hidden = v[2] != 0;
	u->network.rank = v[3];
	u->network.of = v[4];
	u->network.top_percent = (int)v[5];
	u->network.avg_total_cp = (int)v[6];
}

enum { F_STATE, F_PUBLISHED, F_HISTORY, F_ALERT, F_TOPS, F_NETWORK, F_DAY, F_CONNS, F__COUNT };
_Static_assert(F__COUNT <= SSID_CACHE_FIELDS, "the cache keeps fewer fields than a record has");

/* The fields after the state's parts, in F_ order from F_PUBLISHED. */
static const char *const other_fields[F__COUNT] = {
    NULL, "p", SSID_HISTORY_FIELD, "a", "k", "n", SSID_HISTORY_DAY_FIELD, SSID_CONNS_FIELD};
const char *const store_part_fields[SSID_STORE_STATE_PARTS] = {"s",  "s1", "s2", "s3",
							       "s4", "s5", "s6", "s7"};
/* SSID_STORE_STATE_FIELDS, for other readers' format strings, names as many ("s s1 ..."). */
_Static_assert(sizeof(SSID_STORE_STATE_FIELDS) == 2 + 3 * (SSID_STORE_STATE_PARTS - 1),
	       "SSID_STORE_STATE_FIELDS and SSID_STORE_STATE_PARTS disagree");

/* How many parts a state of len bytes is written in: 1 when it is whole. */
static int state_parts(size_t len)
{
	return len <= SSID_STORE_STATE_PART * SSID_STORE_STATE_PARTS
		   ? (int)((len + SSID_STORE_STATE_PART - 1) / SSID_STORE_STATE_PART)
		   : 1;
}

long ssid_store_state_join(struct redisReply *const *el, uint8_t *buf, const uint8_t **out)
{
	size_t len;

	if (el[0]->type != REDIS_REPLY_STRING)
		return -ENOENT;
	*out = (const uint8_t *)el[0]->str;
	len = el[0]->len;
	/* A first part shorter or longer than a part is the whole state. */
	if (len != SSID_STORE_STATE_PART)
		return (long)len;
	memcpy(buf, el[0]->str, len);
	for (int i = 1; i < SSID_STORE_STATE_PARTS; i++) {
		const redisReply *r = el[i];

		if (r->type != REDIS_REPLY_STRING || r->len == 0)
			break;
		memcpy(buf + len, r->str, r->len);
		len += r->len;
		if (r->len < SSID_STORE_STATE_PART)
			break;
	}
	*out = buf;
	return (long)len;
}

/*
 * A history or alert state that does not decode is not a reason to stop
 * scoring the rep: the history is kept as it is (not overwritten), the
 * alert state starts afresh.
 */
static int take_fields(struct ssid_user *u, const struct ssid_cache_field *f)
{
	struct ssid_published pub;

	u->load_status = 0;
	u->has_state = f[F_STATE].has;
	if (u->has_state) {
		/* The decode empties the state first. */
		u->load_status = ssi_state_decode(&u->state, f[F_STATE].p, f[F_STATE].len);
		if (u->load_status == -ENOMEM)
			return -ENOMEM;
	} else {
		ssi_state_clear(&u->state);
	}
	u->has_published =
	    f[F_PUBLISHED].has && published_parse(f[F_PUBLISHED].p, f[F_PUBLISHED].len, u, &pub);
	u->history_status = 0;
	ssi_history_clear(&u->history);
	if (f[F_HISTORY].has) {
		u->history_status =
		    ssi_history_decode(&u->history, f[F_HISTORY].p, f[F_HISTORY].len);
		if (u->history_status == -ENOMEM)
			return -ENOMEM;
	}
	/* Days before this one are final in h; the latest may be p's only. */
	u->history_fresh_from = u->history_status == 0 && u->history.n > 0
				    ? u->history.entries[u->history.n - 1].day + 1
				    : 0;
	/* The latest entry, the delivered score (or an older build's d). */
	if (u->history_status == 0) {
		int rc = ssid_history_latest_merge(&u->history, u->has_published ? &pub : NULL,
						   f[F_DAY].has ? (const char *)f[F_DAY].p : NULL,
						   f[F_DAY].len);

		if (rc == -ENOMEM)
			return -ENOMEM;
		if (rc == 0 && u->history.entries[u->history.n - 1].day < u->history_fresh_from)
			u->history_fresh_from = u->history.entries[u->history.n - 1].day;
	}
	/* An older build's d: emptied at the next delivery. */
	u->day_field = f[F_DAY].has && f[F_DAY].len > 0;
	if (!f[F_ALERT].has || ssi_alert_state_decode(&u->alert, f[F_ALERT].p, f[F_ALERT].len) < 0)
		ssi_alert_state_init(&u->alert);
	tops_parse(&f[F_TOPS], u->published_top);
	network_parse(&f[F_NETWORK], u);
	/* Unreadable, it stays as it is and the set takes the rep's connections. */
	(void)ssid_conns_load(&u->conns, f[F_CONNS].has ? f[F_CONNS].p : NULL, f[F_CONNS].len,
			      u->has_state);
	u->state_parts = u->has_state ? state_parts(f[F_STATE].len) : 0;
	return 0;
}

/* The HMGET's replies: the state's parts, then the other fields. */
#define LOAD_REPLIES (SSID_STORE_STATE_PARTS + F__COUNT - 1)

/* An HMGET reply as fields (the state's parts joined in buf); false when it is not one. */
static bool reply_fields(const redisReply *r, uint8_t *buf, struct ssid_cache_field *f)
{
	const uint8_t *state;
	long len;

	memset(f, 0, SSID_CACHE_FIELDS * sizeof(*f));
	if (r->type != REDIS_REPLY_ARRAY || r->elements != LOAD_REPLIES)
		return false;
	len = ssid_store_state_join(r->element, buf, &state);
	f[F_STATE].has = len >= 0;
	f[F_STATE].p = len >= 0 ? state : NULL;
	f[F_STATE].len = len >= 0 ? (size_t)len : 0;
	for (int i = F_PUBLISHED; i < F__COUNT; i++) {
		const redisReply *e = r->element[SSID_STORE_STATE_PARTS + i - 1];

		f[i].has = e->type == REDIS_REPLY_STRING;
		f[i].p = f[i].has ? e->str : NULL;
		f[i].len = f[i].has ? e->len : 0;
	}
	return true;
}

/* A record read from Redis: taken, and cached for the rep's partition. */
static int take_record(struct ssid_store *s, struct ssid_user *u, redisReply *r)
{
	struct ssid_cache_field f[SSID_CACHE_FIELDS];
	int rc;

	if (!reply_fields(r, s->join, f))
		return -EIO;
	rc = take_fields(u, f);
	if (rc == 0 && s->cache && u->partition >= 0 &&
	    ssid_cache_put(s->cache, u->id, u->partition, f, true) < 0)
		rc = -ENOMEM;
	return rc;
}

/*
 * HMGET and HSET replies: any error reply fails the call (the last one names
 * why), and records are taken only until the first failure.
 */
struct replies {
	struct ssid_store *s;
	const char *what;
	struct ssid_user *users;
	const size_t *index; /* HMGET: reply i is for users[index[i]] */
	bool take_records;   /* HMGET: fill users from the replies */
};

static int take_reply(void *ctx, size_t i, redisReply *r, int rc)
{
	struct replies *rs = ctx;

	if (r->type == REDIS_REPLY_ERROR) {
		ssid_redis_set_error(rs->s->rd, "%s: %s", rs->what, r->str);
		return -EIO;
	}
	if (rs->take_records && rc == 0)
		return take_record(rs->s, &rs->users[rs->index[i]], r);
	return rc;
}

/* Reps between the two prefetch stages of a cache lookup (ssid_cache_prefetch). */
#define CACHE_PREFETCH_STEP 4

/* The cached records of the reps a few places after i are all over memory: load them early. */
static void cache_prefetch(const struct ssid_store *s, const struct ssid_user *users, size_t n,
			   size_t i)
{
	if (i + 2 * CACHE_PREFETCH_STEP < n)
		ssid_cache_prefetch(s->cache, users[i + 2 * CACHE_PREFETCH_STEP].id, 0);
	if (i + CACHE_PREFETCH_STEP < n)
		ssid_cache_prefetch(s->cache, users[i + CACHE_PREFETCH_STEP].id, 1);
}

int ssid_store_load(struct ssid_store *s, struct ssid_user *users, size_t n)
{
	struct replies rs = {.s = s, .what = "HMGET", .users = users, .take_records = true};
	size_t *index, sent = 0;
	char key[512];
	int rc = 0;

	if (n == 0)
		return 0;
	index = malloc(n * sizeof(*index));
	if (!index)
		return -ENOMEM;
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct ssid_cache_field f[SSID_CACHE_FIELDS];

		cache_prefetch(s, users, n, i);
		if (s->cache && ssid_cache_get(s->cache, users[i].id, f))
			rc = take_fields(&users[i], f);
		else
			index[sent++] = i;
	}
	if (rc == 0 && sent > 0)
		rc = ssid_redis_connect(s->rd);
	for (size_t j = 0; j < sent && rc == 0; j++) {
		const char *argv[2 + LOAD_REPLIES] = {"HMGET", key};
		size_t argl[2 + LOAD_REPLIES] = {5};
		int argc = 2;

		argl[1] = (size_t)ssid_store_key(s, users[index[j]].id, key, sizeof(key));
		for (int k = 0; k < SSID_STORE_STATE_PARTS; k++, argc++) {
			argv[argc] = store_part_fields[k];
			argl[argc] = strlen(store_part_fields[k]);
		}
		for (int k = F_PUBLISHED; k < F__COUNT; k++, argc++) {
			argv[argc] = other_fields[k];
			argl[argc] = 1;
		}
		rc = ssid_redis_append(s->rd, key, argl[1], argc, argv, argl);
	}
	rs.index = index;
	if (rc == 0 && sent > 0)
		rc = ssid_redis_read_replies(s->rd, sent, "HMGET", take_reply, &rs);
	free(index);
	return rc;
}

/* An HSET being built, and the fields it writes as the cache keeps them. */
struct hset {
	const char *argv[2 + 2 * (SSID_STORE_STATE_PARTS + F__COUNT)]; /* and z */
	size_t argl[2 + 2 * (SSID_STORE_STATE_PARTS + F__COUNT)];
	int argc;
	struct ssid_cache_field f[SSID_CACHE_FIELDS];
};

static void hset_add(struct hset *h, const char *name, const void *v, size_t len)
{
	h->argv[h->argc] = name;
	h->argl[h->argc++] = strlen(name);
	h->argv[h->argc] = v;
	h->argl[h->argc++] = len;
}

/* Field k (not the state) with value v. */
static void hset_field(struct hset *h, int k, const void *v, size_t len)
{
	hset_add(h, other_fields[k], v, len);
	h->f[k] = (struct ssid_cache_field){.p = v, .len = len, .has = true};
}

/*
 * The state in its parts, and the parts u's stored state may have had after
 * them emptied: parts after the last are then absent or empty.
 */
static void hset_state(struct hset *h, struct ssid_user *u, const uint8_t *enc, size_t len)
{
	int parts = state_parts(len);

	if (parts == 1) {
		hset_add(h, store_part_fields[0], enc, len);
	} else {
		for (int i = 0; i < parts; i++) {
			size_t at = (size_t)i * SSID_STORE_STATE_PART;
			size_t n =
			    len - at < SSID_STORE_STATE_PART ? len - at : SSID_STORE_STATE_PART;

			hset_add(h, store_part_fields[i], enc + at, n);
		}
	}
	for (int i = parts; i < u->state_parts; i++)
		hset_add(h, store_part_fields[i], "", 0);
	/* Until it is loaded again, for a save retried without a load. */
	if (parts > u->state_parts)
		u->state_parts = parts;
	h->f[F_STATE] = (struct ssid_cache_field){.p = enc, .len = len, .has = true};
}

/*
 * Queue the HSET of what u asks to save; *sent counts commands. What it
 * writes goes into the cache at once: if the write fails, the caller drops
 * the batch's reps from the cache (Redis is the truth).
 */
static int append_hset(struct ssid_store *s, struct ssid_user *u, size_t *sent)
{
	char key[512], pub[SSI_TEXT_INTS_MAX + SSI_MODEL_VERSION_MAX + 2], tops[SSI_TEXT_INTS_MAX];
	char net[SSI_TEXT_INTS_MAX], due[SSI_TEXT_LL_MAX];
	uint8_t alert[SSI_ALERT_ENCODED_MAX];
	struct hset h = {.argv = {"HSET", key}, .argl = {4, 0}, .argc = 2};
	long len;

	if (!u->save_state && !u->save_published && !u->save_alert)
		return 0;
	h.argl[1] = (size_t)ssid_store_key(s, u->id, key, sizeof(key));
	if (u->save_state) {
		len = ssi_state_encode(&u->state, s->enc, SSI_STATE_ENCODED_MAX);
		/* Commands already queued would leave replies unread: drop the link. */
		if (len < 0)
			return ssid_redis_fail(s->rd, (int)len, "encode state");
		hset_state(&h, u, s->enc, (size_t)len);
	}
	if (u->save_state && u->conns.dirty && u->conns.len > 0)
		hset_field(&h, F_CONNS, u->conns.b, u->conns.len);
	/* Read only when a schedule is (ssid_store_sched.c): not cached. */
	if (u->save_due && u->partition >= 0)
		hset_add(&h, "z", due, (size_t)store_due_format(u->due_ms, due));
	if (u->save_published || u->save_alert) {
		len = ssi_alert_state_encode(&u->alert, alert, sizeof(alert));
		if (len < 0)
			return ssid_redis_fail(s->rd, (int)len, "encode alert state");
		/* A fresh state is what an empty or absent a reads as: most reps' is. */
		if ((size_t)len == s->alert_fresh_len &&
		    !memcmp(alert, s->alert_fresh, (size_t)len))
			len = 0;
		hset_field(&h, F_ALERT, alert, (size_t)len);
	}
	if (u->save_published) {
		hset_field(&h, F_PUBLISHED, pub, (size_t)published_format(u, pub, sizeof(pub)));
		hset_field(&h, F_TOPS, tops,
			   (size_t)tops_format(u->published_top, tops, sizeof(tops)));
		if (u->network_day >= 0)
			hset_field(&h, F_NETWORK, net, (size_t)network_format(u, net, sizeof(net)));
		if (u->history_status == 0 && u->history.n > 0) {
			const struct ssi_history *hi = &u->history;

			/* The whole history once a day: when a day before the latest is not final
			 * in h. */
			if (hi->n > 1 && hi->entries[hi->n - 2].day >= u->history_fresh_from) {
				len = ssi_history_encode(hi, s->henc, SSI_HISTORY_ENCODED_MAX);
				if (len < 0)
					return ssid_redis_fail(s->rd, (int)len, "encode history");
				hset_field(&h, F_HISTORY, s->henc, (size_t)len);
			}
		}
		if (u->day_field) {
			hset_field(&h, F_DAY, "", 0);
			u->day_field = false;
		}
	}
	/* hiredis copies the arguments into its output buffer right here. */
	if (ssid_redis_append(s->rd, key, h.argl[1], h.argc, h.argv, h.argl) < 0)
		return -EIO;
	(*sent)++;
	if (!s->cache || u->partition < 0)
		return 0;
	return ssid_cache_put(s->cache, u->id, u->partition, h.f, false);
}

/*
 * Apply u's connection changes, in order, to its field c (ssid_conns.h) and
 * queue the SADD/SREM of those that go to its set. They are queued before
 * the HSET of the state whose marks make their events replays: a write cut
 * short leaves no change behind that a replay would skip. Applying them
 * twice (a save retried without a load) changes nothing more.
 */
static int append_net(struct ssid_store *s, struct ssid_user *u, size_t *sent)
{
	char key[512];
	int klen = 0;

	if (!u->save_state)
		return 0;
	for (size_t i = 0; i < u->nnet; i++) {
		const char *id = u->net[i].connection_id;
		size_t idlen = strlen(id);
		const char *argv[3] = {u->net[i].add ? "SADD" : "SREM", key, id};
		size_t argl[3] = {4, 0, idlen};
		bool to_set;

		if (u->net[i].add) {
			to_set = ssid_conns_add(&u->conns, id, idlen) == -ENOSPC;
		} else {
			(void)ssid_conns_remove(&u->conns, id, idlen);
			to_set = ssid_conns_spilled(&u->conns); /* it may be in the set too */
		}
		if (!to_set)
			continue;
		if (klen == 0)
			klen = ssid_conns_set_key(s->rd, u->id, key, sizeof(key));
		argl[1] = (size_t)klen;
		if (ssid_redis_append(s->rd, key, argl[1], 3, argv, argl) < 0)
			return -EIO;
		(*sent)++;
	}
	return 0;
}

void ssid_store_stage_state(struct ssid_user *u, bool schedule)
{
	u->save_state = true;
	u->save_due |= schedule;
}

void ssid_store_stage_alert(struct ssid_user *u)
{
	u->save_alert = true;
}

void ssid_store_stage_delivered(struct ssid_user *u, const struct ssi_score *score,
				int64_t as_of_ms, const char *model_version,
				const int top[SSID_RANK__COUNT])
{
	u->published = *score;
	u->published_ms = as_of_ms;
	snprintf(u->published_model, sizeof(u->published_model), "%s", model_version);
	if (top)
		memcpy(u->published_top, top, sizeof(u->published_top));
	u->save_published = true;
}

/* Reps whose records are queued before the save writes what it has so far. */
#define SAVE_FLUSH_EVERY 64

int ssid_store_save(struct ssid_store *s, struct ssid_user *users, size_t n)
{
	struct replies rs = {.s = s, .what = "HSET", .users = users};
	size_t sent = 0;
	int rc;

	rc = ssid_redis_connect(s->rd);
	if (rc == 0)
		rc = store_sched_stage(s, users, n, &sent);
	for (size_t i = 0; i < n && rc == 0; i++) {
		cache_prefetch(s, users, n, i);
		rc = append_net(s, &users[i], &sent);
		if (rc == 0)
			rc = append_hset(s, &users[i], &sent);
		/* Redis writes the first records while the next are encoded. */
		if (rc == 0 && i % SAVE_FLUSH_EVERY == SAVE_FLUSH_EVERY - 1)
			rc = ssid_redis_flush(s->rd);
	}
	if (rc == 0)
		rc = ssid_redis_read_replies(s->rd, sent, "HSET", take_reply, &rs);
	else if (sent > 0)
		rc = ssid_redis_fail(s->rd, rc, "save"); /* replies left unread */
	/* Redis is the truth: what may not have landed is read again. */
	for (size_t i = 0; i < n && rc < 0; i++) {
		if (s->cache)
			ssid_cache_drop(s->cache, users[i].id);
		if (users[i].save_due)
			store_sched_drop(s, users[i].partition);
	}
	return rc;
}

void *ssid_store_command(struct ssid_store *s, const char *fmt, ...)
{
	va_list ap;
	void *r;

	if (ssid_redis_connect(s->rd) < 0)
		return NULL;
	va_start(ap, fmt);
	r = ssid_redis_vcommand(s->rd, fmt, ap);
	va_end(ap);
	return r;
}
