/* ssid_cache: owned reps' stored fields in memory; see ssid_cache.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ssi_array.h"
#include "ssid_cache.h"

/*
 * One allocation per entry for its values (buf, reused while they fit), so
 * that rewriting a rep's fields every batch costs no malloc or free.
 */
struct entry {
	struct entry *chain;	     /* hash bucket */
	struct entry *older, *newer; /* age list, for eviction */
	uint64_t hash;
	int32_t partition;
	uint8_t *buf; /* the values, back to back */
	size_t cap;   /* of buf */
	size_t off[SSID_CACHE_FIELDS], len[SSID_CACHE_FIELDS];
	bool has[SSID_CACHE_FIELDS];
	size_t bytes;
	char id[]; /* NUL-terminated */
};

struct ssid_cache {
	size_t max_bytes;
	struct entry **tab;
	size_t cap;
	struct entry *oldest, *newest;
	uint8_t *tmp; /* a record being put, assembled before it replaces the entry's */
	size_t tmp_cap;
	struct ssid_cache_stats st;
};

/* What an entry costs besides its values: the entry, its id, the allocator. */
#define ENTRY_OVERHEAD (sizeof(struct entry) + 64)

static uint64_t hash_id(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

void ssid_cache_prefetch(const struct ssid_cache *c, const char *id, int stage)
{
	struct entry *const *b;

	if (!c || !c->cap)
		return;
	b = &c->tab[hash_id(id) & (c->cap - 1)];
	if (stage == 0)
		__builtin_prefetch(b);
	else if (*b)
		__builtin_prefetch(*b);
}

int ssid_cache_new(struct ssid_cache **out, size_t max_bytes)
{
	struct ssid_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->max_bytes = max_bytes;
	*out = c;
	return 0;
}

static void entry_free(struct entry *e)
{
	free(e->buf);
	free(e);
}

static struct entry **slot_of(struct ssid_cache *c, uint64_t hash, const char *id)
{
	struct entry **pp;

	if (!c->cap)
		return NULL;
	for (pp = &c->tab[hash & (c->cap - 1)]; *pp; pp = &(*pp)->chain)
		if ((*pp)->hash == hash && strcmp((*pp)->id, id) == 0)
			return pp;
	return pp;
}

static void unlink_entry(struct ssid_cache *c, struct entry **pp)
{
	struct entry *e = *pp;

	*pp = e->chain;
	if (e->older)
		e->older->newer = e->newer;
	else
		c->oldest = e->newer;
	if (e->newer)
		e->newer->older = e->older;
	else
		c->newest = e->older;
	c->st.entries--;
	c->st.bytes -= e->bytes;
	entry_free(e);
}

void ssid_cache_drop(struct ssid_cache *c, const char *id)
{
	struct entry **pp = slot_of(c, hash_id(id), id);

	if (pp && *pp)
		unlink_entry(c, pp);
}

void ssid_cache_clear(struct ssid_cache *c)
{
	while (c->oldest)
		ssid_cache_drop(c, c->oldest->id);
}

void ssid_cache_free(struct ssid_cache *c)
{
	if (!c)
		return;
	ssid_cache_clear(c);
	free(c->tab);
	free(c->tmp);
	free(c);
}

void ssid_cache_drop_partition(struct ssid_cache *c, int32_t partition)
{
	struct entry *e = c->oldest;

	while (e) {
		struct entry *next = e->newer;

		if (e->partition == partition)
			ssid_cache_drop(c, e->id);
		e = next;
	}
}

bool ssid_cache_get(struct ssid_cache *c, const char *id, struct ssid_cache_field *f)
{
	struct entry **pp = slot_of(c, hash_id(id), id);
	struct entry *e = pp ? *pp : NULL;

	if (!e) {
		c->st.misses++;
		return false;
	}
	for (int i = 0; i < SSID_CACHE_FIELDS; i++) {
		f[i].p = e->has[i] ? e->buf + e->off[i] : NULL;
		f[i].len = e->len[i];
		f[i].has = e->has[i];
	}
	c->st.hits++;
	return true;
}

static int grow_table(struct ssid_cache *c)
{
	size_t cap = c->cap ? c->cap * 2 : 4096;
	struct entry **tab;

	if (c->st.entries < c->cap)
		return 0;
	tab = calloc(cap, sizeof(*tab));
	if (!tab)
		return -ENOMEM;
	for (size_t i = 0; i < c->cap; i++)
		while (c->tab[i]) {
			struct entry *e = c->tab[i];

			c->tab[i] = e->chain;
			e->chain = tab[e->hash & (cap - 1)];
			tab[e->hash & (cap - 1)] = e;
		}
	free(c->tab);
	c->tab = tab;
	c->cap = cap;
	return 0;
}

static void evict(struct ssid_cache *c, const struct entry *keep)
{
	while (c->st.bytes > c->max_bytes && c->oldest && c->oldest != keep) {
		ssid_cache_drop(c, c->oldest->id);
		c->st.evictions++;
	}
}

static struct entry *entry_new(struct ssid_cache *c, struct entry **pp, const char *id, uint64_t h)
{
	size_t idlen = strlen(id);
	struct entry *e = calloc(1, sizeof(*e) + idlen + 1);

	if (!e)
		return NULL;
	memcpy(e->id, id, idlen + 1);
	e->hash = h;
	e->bytes = ENTRY_OVERHEAD + idlen;
	*pp = e;
	e->older = c->newest;
	if (c->newest)
		c->newest->newer = e;
	else
		c->oldest = e;
	c->newest = e;
	c->st.entries++;
	c->st.bytes += e->bytes;
	return e;
}

int ssid_cache_put(struct ssid_cache *c, const char *id, int32_t partition,
		   const struct ssid_cache_field *f, bool whole)
{
	uint64_t h = hash_id(id);
	size_t off[SSID_CACHE_FIELDS], len[SSID_CACHE_FIELDS], total = 0;
	bool has[SSID_CACHE_FIELDS];
	struct entry **pp, *e;

	if (c->max_bytes == 0)
		return 0;
	if (grow_table(c) < 0) {
		ssid_cache_drop(c, id);
		return -ENOMEM;
	}
	pp = slot_of(c, h, id);
	e = *pp;
	if (!e && !whole)
		return 0;
	/* The new record, assembled aside: kept fields may move within buf. */
	for (int i = 0; i < SSID_CACHE_FIELDS; i++) {
		const void *src = f[i].p;

		has[i] = f[i].has;
		len[i] = f[i].has ? f[i].len : 0;
		if (!f[i].has && !whole && e->has[i]) {
			has[i] = true;
			len[i] = e->len[i];
			src = e->buf + e->off[i];
		}
		off[i] = total;
		if (SSI_GROW(c->tmp, &c->tmp_cap, total + len[i], 256) < 0) {
			ssid_cache_drop(c, id);
			return -ENOMEM;
		}
		if (len[i])
			memcpy(c->tmp + total, src, len[i]);
		total += len[i];
	}
	if (!e && !(e = entry_new(c, pp, id, h)))
		return -ENOMEM;
	c->st.bytes -= e->cap;
	e->bytes -= e->cap;
	if (SSI_GROW(e->buf, &e->cap, total, 256) < 0) {
		c->st.bytes += e->cap;
		e->bytes += e->cap;
		ssid_cache_drop(c, id);
		return -ENOMEM;
	}
	c->st.bytes += e->cap;
	e->bytes += e->cap;
	if (total)
		memcpy(e->buf, c->tmp, total);
	e->partition = partition;
	memcpy(e->off, off, sizeof(off));
	memcpy(e->len, len, sizeof(len));
	memcpy(e->has, has, sizeof(has));
	evict(c, e);
	return 0;
}

void ssid_cache_get_stats(const struct ssid_cache *c, struct ssid_cache_stats *out)
{
	*out = c->st;
}
