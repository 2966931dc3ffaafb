/*
 * Fuzz field c's reader (ssid_conns). The input is split at its first 0xff
 * byte: before it, a stored field c; after it, changes to apply, each a
 * byte (its low bit: add or remove, the rest: a length) then that many id
 * bytes. A field that does not read must be refused and never grow; one
 * that reads, and whatever the changes make of it, must read again, walk in
 * strictly ascending order within SSID_CONNS_PACKED_MAX bytes, and hold
 * exactly the ids added since (or kept) that did not go to the set.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ssid_conns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether id is among c's ids. */
static bool holds(const struct ssid_conns *c, const uint8_t *id, size_t idlen)
{
	size_t at = 0, n;
	const char *p;

	while (ssid_conns_next(c->b, c->len, &at, &p, &n))
		if (n == idlen && memcmp(p, id, n) == 0)
			return true;
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *end = memchr(data, 0xff, size);
	size_t flen = end ? (size_t)(end - data) : size, at;
	uint8_t *field = malloc(flen ? flen : 1); /* exact size: ASan sees reads past it */
	struct ssid_conns c;
	int rc;

	if (!field)
		return 0;
	memcpy(field, data, flen);
	rc = ssid_conns_load(&c, field, flen, true);
	if (rc == 0 ? !ssid_conns_valid(field, flen) || c.len != flen
		    : rc != -EBADMSG || c.len != 0 || !ssid_conns_spilled(&c))
		abort();
	free(field);
	for (at = flen + 1; at < size;) {
		size_t idlen = data[at] >> 1;
		bool add = data[at] & 1;
		const uint8_t *id = data + at + 1;
		char copy[128];

		if (at + 1 + idlen > size || memchr(id, '\0', idlen))
			break;
		memcpy(copy, id, idlen);
		rc = add ? ssid_conns_add(&c, copy, idlen) : ssid_conns_remove(&c, copy, idlen);
		if (add && rc == -ENOSPC ? !ssid_conns_spilled(&c)
		    : add		 ? rc < 0 || !holds(&c, id, idlen)
					 : rc < 0 || holds(&c, id, idlen))
			abort();
		if (c.len > 0 && !ssid_conns_valid(c.b, c.len))
			abort();
		at += 1 + idlen;
	}
	return 0;
}
