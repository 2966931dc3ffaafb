/* ssid_conns: a rep's connections, packed in its hash or in a set; see ssid_conns.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ssid_conns.h"

/* The longest id the field can hold: the flags byte and a length byte besides. */
#define ID_MAX (SSID_CONNS_PACKED_MAX - 2)

int ssid_conns_set_key(const struct ssid_redis *rd, const char *user_id, char *buf, size_t len)
{
	return snprintf(buf, len, "%snet:{%s}", ssid_redis_key_prefix(rd), user_id);
}

/* memcmp order, a shorter prefix first. */
static int id_cmp(const uint8_t *a, size_t alen, const char *b, size_t blen)
{
	int d = memcmp(a, b, alen < blen ? alen : blen);

	return d ? d : (alen > blen) - (alen < blen);
}

bool ssid_conns_next(const void *p, size_t len, size_t *at, const char **id, size_t *idlen)
{
	const uint8_t *b = p;
	size_t i = *at ? *at : 1;

	if (i >= len)
		return false;
	*idlen = b[i];
	*id = (const char *)b + i + 1;
	*at = i + 1 + b[i];
	return true;
}

bool ssid_conns_valid(const void *p, size_t len)
{
	const uint8_t *b = p, *prev = NULL;

	if (len < 1 || len > SSID_CONNS_PACKED_MAX || (b[0] & ~SSID_CONNS_SPILLED))
		return false;
	for (size_t i = 1; i < len; i += 1 + (size_t)b[i]) {
		const char *id = (const char *)b + i + 1;

		if (b[i] == 0 || i + 1 + b[i] > len || memchr(id, '\0', b[i]) ||
		    (prev && id_cmp(prev + 1, prev[0], id, b[i]) >= 0))
			return false;
		prev = b + i;
	}
	return true;
}

void ssid_conns_init(struct ssid_conns *c)
{
	c->b[0] = 0;
	c->len = 1;
	c->dirty = false;
}

int ssid_conns_load(struct ssid_conns *c, const void *p, size_t len, bool existing)
{
	if (p && !ssid_conns_valid(p, len)) {
		c->len = 0;
		c->dirty = false;
		return -EBADMSG;
	}
	if (p) {
		memcpy(c->b, p, len);
		c->len = (uint8_t)len;
		c->dirty = false;
	} else {
		/* Written at the rep's next save: absent then means an older build's. */
		ssid_conns_init(c);
		if (existing)
			c->b[0] = SSID_CONNS_SPILLED;
		c->dirty = true;
	}
	return 0;
}

bool ssid_conns_spilled(const struct ssid_conns *c)
{
	return c->len == 0 || (c->b[0] & SSID_CONNS_SPILLED);
}

/* Where id is in the field, or would go: *found says which. */
static size_t find(const struct ssid_conns *c, const char *id, size_t idlen, bool *found)
{
	size_t i;

	*found = false;
	for (i = 1; i < c->len; i += 1 + (size_t)c->b[i]) {
		int d = id_cmp(c->b + i + 1, c->b[i], id, idlen);

		if (d >= 0) {
			*found = d == 0;
			break;
		}
	}
	return i;
}

int ssid_conns_add(struct ssid_conns *c, const char *id, size_t idlen)
{
	bool found;
	size_t at;

	if (c->len == 0)
		return -ENOSPC; /* unreadable: the set takes everything */
	at = find(c, id, idlen, &found);
	if (found)
		return 0;
	if (idlen == 0 || idlen > ID_MAX || c->len + 1 + idlen > SSID_CONNS_PACKED_MAX) {
		if (!(c->b[0] & SSID_CONNS_SPILLED)) {
			c->b[0] |= SSID_CONNS_SPILLED;
			c->dirty = true;
		}
		return -ENOSPC;
	}
	memmove(c->b + at + 1 + idlen, c->b + at, c->len - at);
	c->b[at] = (uint8_t)idlen;
	memcpy(c->b + at + 1, id, idlen);
	c->len = (uint8_t)(c->len + 1 + idlen);
	c->dirty = true;
	return 1;
}

int ssid_conns_remove(struct ssid_conns *c, const char *id, size_t idlen)
{
	bool found;
	size_t at, n;

	if (c->len == 0)
		return 0;
	at = find(c, id, idlen, &found);
	if (!found)
		return 0;
	n = 1 + (size_t)c->b[at];
	memmove(c->b + at, c->b + at + n, c->len - at - n);
	c->len = (uint8_t)(c->len - n);
	c->dirty = true;
	return 1;
}
