/*
 * ssid_sched: one partition's decay schedule, in memory: every rep of the
 * partition's roster, in the order they joined it, with the instant (ms)
 * its score next changes on its own (SSID_DUE_NEVER: never).
 *
 * ssid_store keeps one per partition it was asked about, built from what
 * Redis holds (the partition's roster and each rep's due field; ssid_store.h
 * owns both formats) and changed at each save. Partition ownership is
 * exclusive, so while this instance owns the partition nobody else changes
 * them. Library code, no I/O.
 *
 * Ownership: ssid_sched_new's object is the caller's (ssid_sched_free); it
 * copies the ids it is given; ids it hands out are fresh copies.
 */
#ifndef SSID_SCHED_H
#define SSID_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ssid_sched;

/* An empty schedule. 0 or -ENOMEM. */
int ssid_sched_new(struct ssid_sched **out);
void ssid_sched_free(struct ssid_sched *sc);

/*
 * Set id's (len bytes, 1..255) due instant: 1 when id was not in the
 * schedule (it joins the roster's end), 0 when it was, -EINVAL, -ENOMEM.
 */
int ssid_sched_set(struct ssid_sched *sc, const char *id, size_t len, int64_t due_ms);
/* Whether id is in the schedule. */
bool ssid_sched_has(const struct ssid_sched *sc, const char *id, size_t len);
/* id's due instant into *due_ms: false when id is not in the schedule. */
bool ssid_sched_get(const struct ssid_sched *sc, const char *id, size_t len, int64_t *due_ms);

/* The reps in the schedule. */
size_t ssid_sched_size(const struct ssid_sched *sc);
/* How many are due at or before now_ms. */
size_t ssid_sched_count(const struct ssid_sched *sc, int64_t now_ms);
/*
 * Up to max ids due at or before now_ms, earliest first (ties in roster
 * order), as a fresh NULL-terminated array of fresh strings (ssid_store_ids_free),
 * *n their count. 0 or -ENOMEM.
 */
int ssid_sched_due(const struct ssid_sched *sc, int64_t now_ms, size_t max, char ***ids, size_t *n);
/*
 * The ids at roster positions [from, from + count) (fewer at the end), as
 * ssid_sched_due gives them. 0 or -ENOMEM.
 */
int ssid_sched_slice(const struct ssid_sched *sc, size_t from, size_t count, char ***ids,
		     size_t *n);

#endif
