/*
 * ssi_text: the short text values ssid keeps beside its binary frames, a
 * version tag and decimal integers separated by spaces ("v1 20260 1 2 3 4").
 * Formatting and parsing without printf or scanf: they run for every rep of
 * every batch. The fields' meanings belong to their owners (ssid_store,
 * ssid_history); this only reads and writes the text. Pure, no I/O.
 */
#ifndef SSI_TEXT_H
#define SSI_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Longest "v<version>" plus 8 numbers, with the NUL. */
#define SSI_TEXT_INTS_MAX 192

/* Longest decimal long long: sign and 19 digits (not NUL-terminated). */
#define SSI_TEXT_LL_MAX 20

/* v in decimal into out, without printf: its length. */
size_t ssi_text_ll(long long v, char out[SSI_TEXT_LL_MAX]);

/*
 * "v<version> v[0] ... v[n-1]" into buf, NUL-terminated: its length, or
 * -ENOSPC when it does not fit in cap bytes (buf is then "").
 */
int ssi_text_ints_format(char *buf, size_t cap, int version, const long long *v, size_t n);

/*
 * Read "v<version>" and n integers, each after one or more spaces, from the
 * start of s[0..len) (s need not be NUL-terminated). On success *used is the
 * number of bytes read (callers that want nothing after them compare it with
 * len). 0 or -EBADMSG (not that shape, or a number beyond long long).
 */
int ssi_text_ints_parse(const char *s, size_t len, int *version, long long *v, size_t n,
			size_t *used);

/* All of v[0..n) within int's range. */
bool ssi_text_ints_fit_int(const long long *v, size_t n);

#endif
