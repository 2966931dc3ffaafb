/*
 * ssi_wire: the primitives shared by ssid's compact binary encodings (a
 * user's state, a rep's score history and alert state, rank records and
 * segment aggregates).
 *
 * Every encoding is one frame, kept by every version of it so that any build
 * tells a blob written by a newer build from a damaged one:
 *
 *   magic u8 u8 | version u8 | body | CRC-32C (Castagnoli) u32 LE of all bytes before it
 *
 * The checksum is verified before the version is looked at: a frame whose
 * checksum holds and whose version is newer than the build's is
 * -EPROTONOSUPPORT (the daemon must not overwrite it), while damage anywhere,
 * the version byte included, is -EBADMSG.
 *
 * Bodies are built from: u8; u32 and u64 little-endian; unsigned LEB128
 * varints in their shortest form, at most SSI_WIRE_VARINT_MAX_BYTES bytes;
 * zigzag, which maps signed values onto unsigned ones so that small
 * magnitudes of either sign make short varints.
 *
 * The writer and reader primitives are static inline: the state codec runs
 * them for every byte of every state the daemon loads or stores.
 */
#ifndef SSI_WIRE_H
#define SSI_WIRE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SSI_WIRE_HEADER_BYTES	  3
#define SSI_WIRE_TRAILER_BYTES	  4
#define SSI_WIRE_VARINT_MAX_BYTES 10

/* What tells one encoding from another: its two magic bytes and its newest version. */
struct ssi_wire_format {
	uint8_t magic[2];
	uint8_t version; /* what this build writes; 1 or more */
};

/* CRC-32C (Castagnoli) of buf, the checksum that ends every frame. */
uint32_t ssi_crc32c(const void *buf, size_t len);

static inline uint64_t ssi_wire_zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (v < 0 ? UINT64_MAX : 0);
}

static inline int64_t ssi_wire_unzigzag(uint64_t u)
{
	return (int64_t)((u >> 1) ^ (0 - (u & 1)));
}

/*
 * Counts every byte but stores only those that fit in cap, so one pass
 * serves both to measure an encoding (buf NULL, cap 0) and to write it.
 */
struct ssi_wire_writer {
	uint8_t *buf;
	size_t cap;
	size_t len; /* bytes put so far, stored or not */
};

/* Whether more was put than cap holds: then buf holds only a prefix. */
static inline bool ssi_wire_writer_overflowed(const struct ssi_wire_writer *w)
{
	return w->len > w->cap;
}

static inline void ssi_wire_put_u8(struct ssi_wire_writer *w, uint8_t b)
{
	if (w->len < w->cap)
		w->buf[w->len] = b;
	w->len++;
}

static inline void ssi_wire_put_bytes(struct ssi_wire_writer *w, const void *src, size_t n)
{
	if (w->len < w->cap && n <= w->cap - w->len)
		memcpy(w->buf + w->len, src, n);
	w->len += n;
}

/* The low nbytes (1..8) bytes of v, least significant first. */
static inline void ssi_wire_put_le(struct ssi_wire_writer *w, uint64_t v, int nbytes)
{
	for (int i = 0; i < nbytes; i++)
		ssi_wire_put_u8(w, (uint8_t)(v >> (8 * i)));
}

static inline void ssi_wire_put_u32le(struct ssi_wire_writer *w, uint32_t v)
{
	ssi_wire_put_le(w, v, 4);
}

static inline void ssi_wire_put_u64le(struct ssi_wire_writer *w, uint64_t v)
{
	ssi_wire_put_le(w, v, 8);
}

static inline void ssi_wire_put_varint(struct ssi_wire_writer *w, uint64_t v)
{
	while (v >= 0x80) {
		ssi_wire_put_u8(w, (uint8_t)(v | 0x80));
		v >>= 7;
	}
	ssi_wire_put_u8(w, (uint8_t)v);
}

static inline void ssi_wire_put_zigzag(struct ssi_wire_writer *w, int64_t v)
{
	ssi_wire_put_varint(w, ssi_wire_zigzag(v));
}

/* Start a frame: the magic and fmt's version. */
static inline void ssi_wire_put_header(struct ssi_wire_writer *w, const struct ssi_wire_format *fmt)
{
	ssi_wire_put_u8(w, fmt->magic[0]);
	ssi_wire_put_u8(w, fmt->magic[1]);
	ssi_wire_put_u8(w, fmt->version);
}

/* The size of the frame once its trailer is put after what w holds now. */
static inline size_t ssi_wire_framed_size(const struct ssi_wire_writer *w)
{
	return w->len + SSI_WIRE_TRAILER_BYTES;
}

/*
 * End a frame whose header and body have been put: append the checksum of
 * everything before it. Returns the frame's length, or -ENOBUFS when the
 * frame does not fit in cap (nothing is appended then).
 */
long ssi_wire_put_trailer(struct ssi_wire_writer *w);

/* A bounded cursor: every read checks what is left, so no input can make it overrun. */
struct ssi_wire_reader {
	const uint8_t *buf;
	size_t len;
	size_t pos;
};

static inline size_t ssi_wire_left(const struct ssi_wire_reader *r)
{
	return r->len - r->pos;
}

static inline int ssi_wire_get_u8(struct ssi_wire_reader *r, uint8_t *out)
{
	if (ssi_wire_left(r) < 1)
		return -EBADMSG;
	*out = r->buf[r->pos++];
	return 0;
}

/* Points *out at the next n bytes, inside the reader's buffer, and skips them. */
static inline int ssi_wire_get_bytes(struct ssi_wire_reader *r, size_t n, const uint8_t **out)
{
	if (ssi_wire_left(r) < n)
		return -EBADMSG;
	*out = r->buf + r->pos;
	r->pos += n;
	return 0;
}

/* An unsigned value of nbytes (1..8) bytes, least significant first. */
static inline int ssi_wire_get_le(struct ssi_wire_reader *r, int nbytes, uint64_t *out)
{
	uint64_t v = 0;

	if (ssi_wire_left(r) < (size_t)nbytes)
		return -EBADMSG;
	for (int i = 0; i < nbytes; i++)
		v |= (uint64_t)r->buf[r->pos + i] << (8 * i);
	r->pos += (size_t)nbytes;
	*out = v;
	return 0;
}

static inline int ssi_wire_get_u32le(struct ssi_wire_reader *r, uint32_t *out)
{
	uint64_t v;

	if (ssi_wire_get_le(r, 4, &v) < 0)
		return -EBADMSG;
	*out = (uint32_t)v;
	return 0;
}

static inline int ssi_wire_get_u64le(struct ssi_wire_reader *r, uint64_t *out)
{
	return ssi_wire_get_le(r, 8, out);
}

/*
 * Only the shortest form is accepted, so that every value has exactly one
 * encoding and re-encoding gives back the input.
 */
static inline int ssi_wire_get_varint(struct ssi_wire_reader *r, uint64_t *out)
{
	uint64_t v = 0;

	/* Ends by the tenth byte at the latest: it may hold bit 63 and nothing else. */
	for (int shift = 0;; shift += 7) {
		uint8_t b;

		if (ssi_wire_get_u8(r, &b) < 0)
			return -EBADMSG;
		if (shift == 7 * (SSI_WIRE_VARINT_MAX_BYTES - 1) && b > 1)
			return -EBADMSG;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			if (b == 0 && shift > 0)
				return -EBADMSG;
			*out = v;
			return 0;
		}
	}
}

/* A varint above max is damage like any other. */
static inline int ssi_wire_get_varint_max(struct ssi_wire_reader *r, uint64_t max, uint64_t *out)
{
	if (ssi_wire_get_varint(r, out) < 0 || *out > max)
		return -EBADMSG;
	return 0;
}

static inline int ssi_wire_get_zigzag(struct ssi_wire_reader *r, int64_t *out)
{
	uint64_t u;

	if (ssi_wire_get_varint(r, &u) < 0)
		return -EBADMSG;
	*out = ssi_wire_unzigzag(u);
	return 0;
}

/* Zigzag maps int32 exactly onto 0..UINT32_MAX, so the range check is all it takes. */
static inline int ssi_wire_get_zigzag32(struct ssi_wire_reader *r, int32_t *out)
{
	uint64_t u;

	if (ssi_wire_get_varint_max(r, UINT32_MAX, &u) < 0)
		return -EBADMSG;
	*out = (int32_t)ssi_wire_unzigzag(u);
	return 0;
}

/*
 * Check the frame of buf (NULL is damage) against fmt and point *body at its
 * body. Returns the frame's version (1..fmt->version), -EBADMSG for a frame
 * too short, with other magic, a checksum that does not hold or version 0,
 * or -EPROTONOSUPPORT for an intact frame of a version newer than
 * fmt->version.
 */
int ssi_wire_open(const struct ssi_wire_format *fmt, const uint8_t *buf, size_t len,
		  struct ssi_wire_reader *body);

#endif
