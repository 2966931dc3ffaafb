/*
 * ssid_conns: where a rep's 1st-degree connections are stored.
 *
 * A rep's connections (attrs.connection_id of connection_added and
 * connection_removed, applied in consumption order) are the union of
 *   - field "c" of the rep's hash (ssid_store.h), while they fit in
 *     SSID_CONNS_PACKED_MAX bytes: the hash stays a compact listpack and a
 *     rep with a few connections costs no key of its own;
 *   - the set "<prefix>net:{<user_id>}" (the rep's hash slot), for ids that
 *     did not fit, and for reps whose connections older builds kept there.
 * Field c is one flags byte, then the ids in strictly ascending byte order,
 * each as a length byte (1..SSID_CONNS_PACKED_MAX - 2) and its bytes. Flag
 * SSID_CONNS_SPILLED says the set may hold ids too: readers scan the set
 * only then. A rep read with a state but no field c (an older build's)
 * counts as spilled, a new rep does not, and a rep never loses the flag.
 * Adding an id puts it in the field when it fits, else in the set (and
 * sets the flag); removing one takes it out of the field, and out of the set
 * when the flag is set. An id in both places counts once.
 *
 * This module owns the field's encoding and the set's key; ssid_store reads
 * and writes the field with the rest of the rep's record, ssid_network reads
 * both places. Library code, no I/O.
 */
#ifndef SSID_CONNS_H
#define SSID_CONNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ssid_redis.h"

#define SSID_CONNS_FIELD "c"
/* hash-max-listpack-value's default: a longer value turns the hash into a hashtable. */
#define SSID_CONNS_PACKED_MAX 64
#define SSID_CONNS_SPILLED    0x01u

/* One rep's field c, in memory. */
struct ssid_conns {
	uint8_t len; /* bytes of b; 0: unreadable as stored (kept, never rewritten) */
	bool dirty;  /* changed since it was loaded: to be written */
	uint8_t b[SSID_CONNS_PACKED_MAX];
};

/* Whether the set may hold some of the rep's ids: scan it. */
bool ssid_conns_spilled(const struct ssid_conns *c);

/* "<prefix>net:{<user_id>}" into buf, as snprintf (the length it needs). */
int ssid_conns_set_key(const struct ssid_redis *rd, const char *user_id, char *buf, size_t len);

/* Whether p[0..len) is a field c this build reads. */
bool ssid_conns_valid(const void *p, size_t len);

/* A new rep's c: no ids, not spilled, nothing to write. */
void ssid_conns_init(struct ssid_conns *c);

/*
 * c from field c as stored (p NULL: absent, to be written at the next save);
 * existing says the rep had a state. 0, or -EBADMSG for a field that does not read: c is then
 * spilled with no ids of its own and is never written over.
 */
int ssid_conns_load(struct ssid_conns *c, const void *p, size_t len, bool existing);

/*
 * Add id (idlen bytes, no NUL inside): 1 added to the field, 0 it was
 * there, -ENOSPC it does not fit (c is now spilled: SADD it to the set).
 */
int ssid_conns_add(struct ssid_conns *c, const char *id, size_t idlen);
/* Take id out of the field: 1 it was there, 0 not (SREM it from the set too when spilled). */
int ssid_conns_remove(struct ssid_conns *c, const char *id, size_t idlen);

/*
 * Walk the ids of a valid field c (p, len): start with *at = 0; true with
 * the next id in *id (not NUL-terminated) and *idlen, false at the end.
 */
bool ssid_conns_next(const void *p, size_t len, size_t *at, const char **id, size_t *idlen);

#endif
