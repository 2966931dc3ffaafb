/*
 * ssi_json: a per-thread bump arena behind jansson's global allocator hooks,
 * and the names the engine's error messages give jansson's value types.
 *
 * Under AddressSanitizer the unused part of an arena stays poisoned and every
 * allocation is followed by a poisoned gap, so an overrun inside the arena is
 * still caught the way it would be with malloc.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "ssi_json.h"

#if defined(__SANITIZE_ADDRESS__)
#define ARENA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_ASAN 1
#endif
#endif

#ifdef ARENA_ASAN
#include <sanitizer/asan_interface.h>
#define ARENA_REDZONE	     16
#define arena_poison(p, n)   ASAN_POISON_MEMORY_REGION(p, n)
#define arena_unpoison(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define ARENA_REDZONE	     0
#define arena_poison(p, n)   ((void)(p), (void)(n))
#define arena_unpoison(p, n) ((void)(p), (void)(n))
#endif

/* What malloc promises on x86_64 and aarch64: enough for any jansson struct. */
#define ARENA_ALIGN	16
#define CHUNK_MIN_BYTES SSI_JSON_ARENA_BYTES

struct ssi_json_arena_chunk {
	struct ssi_json_arena_chunk *next;
	size_t size; /* usable bytes in data */
	size_t used;
	_Alignas(ARENA_ALIGN) unsigned char data[];
};

/*
 * initial-exec: the library is linked into programs, never dlopen()ed, and
 * the default model for -fPIC code turns every access into a call to
 * __tls_get_addr, once per jansson allocation.
 */
static _Thread_local struct ssi_json_arena *active_arena __attribute__((tls_model("initial-exec")));
static pthread_once_t install_once = PTHREAD_ONCE_INIT;
static atomic_bool install_done;

static bool in_range(const void *p, const void *start, size_t size)
{
	uintptr_t a = (uintptr_t)p, s = (uintptr_t)start;

	return a >= s && a - s < size;
}

static bool arena_owns(const struct ssi_json_arena *a, const void *p)
{
	if (in_range(p, a->buf, sizeof(a->buf)))
		return true;
	for (const struct ssi_json_arena_chunk *c = a->overflow; c; c = c->next)
		if (in_range(p, c->data, c->size))
			return true;
	return false;
}

/*
 * Documents too large for the inline buffer spill into chunks of at least
 * CHUNK_MIN_BYTES, so a hostile 64 KiB event costs a few mallocs, not
 * thousands.
 */
static void *chunk_alloc(struct ssi_json_arena *a, size_t need, size_t size)
{
	struct ssi_json_arena_chunk *c = a->overflow;
	void *p;

	if (!c || c->size - c->used < need) {
		size_t chunk_size = need > CHUNK_MIN_BYTES ? need : CHUNK_MIN_BYTES;

		if (chunk_size > SIZE_MAX - sizeof(*c))
			return NULL;
		c = malloc(sizeof(*c) + chunk_size);
		if (!c)
			return NULL;
		c->next = a->overflow;
		c->size = chunk_size;
		c->used = 0;
		arena_poison(c->data, c->size);
		a->overflow = c;
	}
	p = c->data + c->used;
	c->used += need;
	arena_unpoison(p, size);
	return p;
}

static void *arena_alloc(struct ssi_json_arena *a, size_t size)
{
	size_t need;
	void *p;

	if (size > SIZE_MAX - ARENA_ALIGN - ARENA_REDZONE)
		return NULL;
	need = ((size ? size : 1) + ARENA_REDZONE + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	if (need > sizeof(a->buf) - a->used)
		return chunk_alloc(a, need, size);
	p = a->buf + a->used;
	a->used += need;
	arena_unpoison(p, size);
	return p;
}

static void *hook_malloc(size_t size)
{
	struct ssi_json_arena *a = active_arena;

	return a ? arena_alloc(a, size) : malloc(size);
}

/* Anything an active arena on this thread owns dies with that arena. */
static void hook_free(void *p)
{
	if (!p)
		return;
	for (const struct ssi_json_arena *a = active_arena; a; a = a->outer)
		if (arena_owns(a, p))
			return;
	free(p);
}

static void install_hooks(void)
{
	json_set_alloc_funcs(hook_malloc, hook_free);
	atomic_store_explicit(&install_done, true, memory_order_release);
}

void ssi_json_arena_install(void)
{
	pthread_once(&install_once, install_hooks);
}

bool ssi_json_arena_installed(void)
{
	return atomic_load_explicit(&install_done, memory_order_acquire);
}

void ssi_json_arena_begin(struct ssi_json_arena *a)
{
	a->used = 0;
	a->overflow = NULL;
	a->outer = active_arena;
	arena_poison(a->buf, sizeof(a->buf));
	active_arena = a;
}

void ssi_json_arena_end(struct ssi_json_arena *a)
{
	struct ssi_json_arena_chunk *c = a->overflow;

	active_arena = a->outer;
	while (c) {
		struct ssi_json_arena_chunk *next = c->next;

		arena_unpoison(c->data, c->size);
		free(c);
		c = next;
	}
	a->overflow = NULL;
	a->outer = NULL;
	a->used = 0;
	/* The arena may live on a stack or in TLS: leave no poison behind. */
	arena_unpoison(a->buf, sizeof(a->buf));
}

struct ssi_json_arena *ssi_json_arena_active(void)
{
	return active_arena;
}

size_t ssi_json_arena_bytes_used(const struct ssi_json_arena *a)
{
	size_t n = a->used;

	for (const struct ssi_json_arena_chunk *c = a->overflow; c; c = c->next)
		n += c->used;
	return n;
}

/* jansson has no such names, and a message must say what was found instead. */
const char *ssi_json_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a real number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "an unknown JSON value";
}
