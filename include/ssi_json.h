/*
 * ssi_json: a per-thread bump arena for jansson's allocations.
 *
 * Decoding one small event makes jansson call malloc/free a dozen times or
 * more; most of the cost of json_loadb() is the allocator. An arena turns each
 * allocation into a pointer bump and each free into nothing, and the whole
 * tree is released at once when the arena ends.
 *
 * jansson's allocator hooks (json_set_alloc_funcs) are process-global, so
 * ssi_json_arena_install() installs, once, a pair of functions that serve the
 * calling thread's active arena when it has one and fall back to libc
 * malloc/free otherwise. Threads without an active arena, and values made
 * before the install, keep working unchanged. Call it early, before other
 * threads use jansson (jansson itself does not synchronise its hooks), and
 * do not install other hooks afterwards.
 *
 *	struct ssi_json_arena *a = ...;   (caller-owned, e.g. malloc'd once)
 *	ssi_json_arena_install();
 *	ssi_json_arena_begin(a);
 *	json_t *root = json_loadb(buf, len, 0, &err);
 *	... use root ...
 *	json_decref(root);                (optional: frees into the arena are no-ops)
 *	ssi_json_arena_end(a);            (everything made since begin is gone)
 *
 * Rules: every jansson value created between begin and end dies at end, so
 * none may escape (no json_incref to keep one, no storing it elsewhere), and
 * values made before begin may be freed inside the window (they go to libc).
 * Arenas nest per thread: begin/end pairs must be properly nested.
 *
 * ssi_event_parse() uses this automatically, with an arena per thread owned
 * by ssi_event, as soon as ssi_json_arena_install() has been called.
 *
 * ssi_json_type_name() is how the event parser and the model loader say in
 * an error message what kind of JSON value they found.
 */
#ifndef SSI_JSON_H
#define SSI_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* Size of the inline buffer; larger documents spill into malloc'd chunks. */
#define SSI_JSON_ARENA_BYTES 65536

struct ssi_json_arena_chunk;

struct ssi_json_arena {
	size_t used;			       /* bytes of buf handed out */
	struct ssi_json_arena_chunk *overflow; /* newest first; freed at end */
	struct ssi_json_arena *outer;	       /* the arena this one nests in */
	_Alignas(16) unsigned char buf[SSI_JSON_ARENA_BYTES];
};

/* Install the arena-aware allocator into jansson; idempotent and thread-safe. */
void ssi_json_arena_install(void);
/* Whether ssi_json_arena_install() has run in this process. */
bool ssi_json_arena_installed(void);

/* Start serving this thread's jansson allocations from a (reset to empty). */
void ssi_json_arena_begin(struct ssi_json_arena *a);
/* Stop, restore the outer arena if any, and release a's overflow chunks. */
void ssi_json_arena_end(struct ssi_json_arena *a);
/* The calling thread's active arena, NULL when none. */
struct ssi_json_arena *ssi_json_arena_active(void);

/* Bytes handed out since begin, inline and overflow (for tests and tuning). */
size_t ssi_json_arena_bytes_used(const struct ssi_json_arena *a);

/*
 * The kind of v as a message names it: "an object", "an array", "a string",
 * "an integer", "a real number", "a boolean" or "null"; "an unknown JSON
 * value" for a type jansson may add. A static string.
 */
const char *ssi_json_type_name(const json_t *v);

#endif
