/*
 * ssid_sched: a partition's decay schedule in memory (ssid_sched.h).
 *
 * Entries sit in roster order in one array; their ids in one growing
 * arena, not one allocation each (a million reps is a million entries).
 * An open-addressing table of entry numbers finds an id. The questions
 * (what is due, how many) walk the array: they come about once a second,
 * and a walk of a partition's reps costs less than one Redis round trip.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ssid_sched.h"

struct ent {
	uint64_t at; /* offset of the id in the arena */
	int64_t due_ms;
	uint32_t hash;
	uint8_t len;
};

struct ssid_sched {
	struct ent *e;
	size_t n, cap;
	char *arena;
	size_t used, room;
	uint32_t *slot; /* entry number + 1, 0 free; nslot a power of two */
	size_t nslot;
};

static uint32_t id_hash(const char *id, size_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)id[i]) * 16777619u;
	return h;
}

int ssid_sched_new(struct ssid_sched **out)
{
	struct ssid_sched *sc = calloc(1, sizeof(*sc));

	if (!sc)
		return -ENOMEM;
	sc->nslot = 64;
	sc->slot = calloc(sc->nslot, sizeof(*sc->slot));
	if (!sc->slot) {
		free(sc);
		return -ENOMEM;
	}
	*out = sc;
	return 0;
}

void ssid_sched_free(struct ssid_sched *sc)
{
	if (!sc)
		return;
	free(sc->e);
	free(sc->arena);
	free(sc->slot);
	free(sc);
}

/* The slot holding id, or the free slot where it would go. */
static size_t find(const struct ssid_sched *sc, const char *id, size_t len, uint32_t h)
{
	size_t mask = sc->nslot - 1, i = h & mask;

	for (; sc->slot[i]; i = (i + 1) & mask) {
		const struct ent *e = &sc->e[sc->slot[i] - 1];

		if (e->hash == h && e->len == len && memcmp(sc->arena + e->at, id, len) == 0)
			break;
	}
	return i;
}

/* Room for one more entry of len bytes: the table at most half full. */
static int reserve(struct ssid_sched *sc, size_t len)
{
	if (sc->n == sc->cap) {
		size_t cap = sc->cap ? 2 * sc->cap : 64;
		struct ent *e = realloc(sc->e, cap * sizeof(*e));

		if (!e)
			return -ENOMEM;
		sc->e = e;
		sc->cap = cap;
	}
	if (sc->used + len > sc->room) {
		size_t room = sc->room ? 2 * sc->room : 1024;
		char *a;

		while (room < sc->used + len)
			room *= 2;
		a = realloc(sc->arena, room);
		if (!a)
			return -ENOMEM;
		sc->arena = a;
		sc->room = room;
	}
	if (2 * (sc->n + 1) > sc->nslot) {
		size_t nslot = 2 * sc->nslot;
		uint32_t *slot = calloc(nslot, sizeof(*slot));

		if (!slot)
			return -ENOMEM;
		for (size_t k = 0; k < sc->n; k++) {
			size_t i = sc->e[k].hash & (nslot - 1);

			while (slot[i])
				i = (i + 1) & (nslot - 1);
			slot[i] = (uint32_t)k + 1;
		}
		free(sc->slot);
		sc->slot = slot;
		sc->nslot = nslot;
	}
	return 0;
}

int ssid_sched_set(struct ssid_sched *sc, const char *id, size_t len, int64_t due_ms)
{
	uint32_t h;
	size_t i;
	int rc;

	/* Refused before a byte of id is read. */
	if (len == 0 || len > UINT8_MAX || sc->n >= UINT32_MAX - 1)
		return -EINVAL;
	h = id_hash(id, len);
	i = find(sc, id, len, h);
	if (sc->slot[i]) {
		sc->e[sc->slot[i] - 1].due_ms = due_ms;
		return 0;
	}
	rc = reserve(sc, len);
	if (rc < 0)
		return rc;
	i = find(sc, id, len, h); /* the table may have grown */
	memcpy(sc->arena + sc->used, id, len);
	sc->e[sc->n] =
	    (struct ent){.at = sc->used, .due_ms = due_ms, .hash = h, .len = (uint8_t)len};
	sc->used += len;
	sc->slot[i] = (uint32_t)++sc->n;
	return 1;
}

bool ssid_sched_get(const struct ssid_sched *sc, const char *id, size_t len, int64_t *due_ms)
{
	size_t i;

	if (len == 0 || len > UINT8_MAX)
		return false;
	i = find(sc, id, len, id_hash(id, len));
	if (!sc->slot[i])
		return false;
	if (due_ms)
		*due_ms = sc->e[sc->slot[i] - 1].due_ms;
	return true;
}

bool ssid_sched_has(const struct ssid_sched *sc, const char *id, size_t len)
{
	return ssid_sched_get(sc, id, len, NULL);
}

size_t ssid_sched_size(const struct ssid_sched *sc)
{
	return sc->n;
}

size_t ssid_sched_count(const struct ssid_sched *sc, int64_t now_ms)
{
	size_t n = 0;

	for (size_t k = 0; k < sc->n; k++)
		n += sc->e[k].due_ms <= now_ms;
	return n;
}

/* One entry to hand out: its number, and its due instant to sort by. */
struct pick {
	int64_t due_ms;
	uint32_t k;
};

/* Copies of the ids of entries pick[0..n) into a fresh NULL-terminated array. */
static int copy_ids(const struct ssid_sched *sc, const struct pick *pick, size_t n, char ***ids)
{
	char **out = calloc(n + 1, sizeof(*out));

	if (!out)
		return -ENOMEM;
	for (size_t k = 0; k < n; k++) {
		const struct ent *e = &sc->e[pick[k].k];

		out[k] = malloc((size_t)e->len + 1);
		if (!out[k]) {
			for (size_t j = 0; j < k; j++)
				free(out[j]);
			free(out);
			return -ENOMEM;
		}
		memcpy(out[k], sc->arena + e->at, e->len);
		out[k][e->len] = '\0';
	}
	*ids = out;
	return 0;
}

static int by_due(const void *a, const void *b)
{
	const struct pick *x = a, *y = b;

	if (x->due_ms != y->due_ms)
		return x->due_ms < y->due_ms ? -1 : 1;
	return x->k < y->k ? -1 : x->k > y->k;
}

int ssid_sched_due(const struct ssid_sched *sc, int64_t now_ms, size_t max, char ***ids, size_t *n)
{
	size_t count = 0;
	struct pick *pick = malloc((sc->n ? sc->n : 1) * sizeof(*pick));
	int rc;

	*ids = NULL;
	*n = 0;
	if (!pick)
		return -ENOMEM;
	for (size_t i = 0; i < sc->n; i++)
		if (sc->e[i].due_ms <= now_ms)
			pick[count++] = (struct pick){sc->e[i].due_ms, (uint32_t)i};
	qsort(pick, count, sizeof(*pick), by_due);
	if (count > max)
		count = max;
	rc = copy_ids(sc, pick, count, ids);
	if (rc == 0)
		*n = count;
	free(pick);
	return rc;
}

int ssid_sched_slice(const struct ssid_sched *sc, size_t from, size_t count, char ***ids, size_t *n)
{
	size_t end = from >= sc->n ? from : (count < sc->n - from ? from + count : sc->n);
	size_t m = end > from ? end - from : 0;
	struct pick *pick = malloc((m ? m : 1) * sizeof(*pick));
	int rc;

	*ids = NULL;
	*n = 0;
	if (!pick)
		return -ENOMEM;
	for (size_t k = 0; k < m; k++)
		pick[k] = (struct pick){sc->e[from + k].due_ms, (uint32_t)(from + k)};
	rc = copy_ids(sc, pick, m, ids);
	if (rc == 0)
		*n = m;
	free(pick);
	return rc;
}
