/*
 * ssi_wire: the checksum and the frame of ssid's binary encodings; the
 * byte-level primitives are inline in include/ssi_wire.h.
 */
#include <errno.h>
#include <pthread.h>

#include "ssi_wire.h"

#define CRC32C_POLY UINT32_C(0x82f63b78) /* Castagnoli, bit-reflected */

/*
 * Slicing by 8: table[k][b] is the CRC register after byte b and then k zero
 * bytes, which lets eight input bytes be folded in at once. The checksum is
 * most of what encoding and decoding cost, and this is several times faster
 * than one table lookup per byte. Built once, at first use, from any thread.
 */
static uint32_t crc32c_table[8][256];
static pthread_once_t crc32c_table_once = PTHREAD_ONCE_INIT;

static void crc32c_build_table(void)
{
	for (uint32_t b = 0; b < 256; b++) {
		uint32_t crc = b;

		for (int bit = 0; bit < 8; bit++)
			crc = (crc >> 1) ^ (CRC32C_POLY & (0u - (crc & 1)));
		crc32c_table[0][b] = crc;
	}
	for (int k = 1; k < 8; k++)
		for (uint32_t b = 0; b < 256; b++) {
			uint32_t prev = crc32c_table[k - 1][b];

			crc32c_table[k][b] = (prev >> 8) ^ crc32c_table[0][prev & 0xff];
		}
}

static uint32_t load_u32le(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint32_t ssi_crc32c(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t crc = UINT32_MAX;

	pthread_once(&crc32c_table_once, crc32c_build_table);
	for (; len >= 8; p += 8, len -= 8) {
		uint32_t lo = crc ^ load_u32le(p), hi = load_u32le(p + 4);

		crc = crc32c_table[7][lo & 0xff] ^ crc32c_table[6][(lo >> 8) & 0xff] ^
		      crc32c_table[5][(lo >> 16) & 0xff] ^ crc32c_table[4][lo >> 24] ^
		      crc32c_table[3][hi & 0xff] ^ crc32c_table[2][(hi >> 8) & 0xff] ^
		      crc32c_table[1][(hi >> 16) & 0xff] ^ crc32c_table[0][hi >> 24];
	}
	for (; len > 0; p++, len--)
		crc = crc32c_table[0][(crc ^ *p) & 0xff] ^ (crc >> 8);
	return ~crc;
}

long ssi_wire_put_trailer(struct ssi_wire_writer *w)
{
	if (ssi_wire_writer_overflowed(w) || SSI_WIRE_TRAILER_BYTES > w->cap - w->len)
		return -ENOBUFS;
	ssi_wire_put_u32le(w, ssi_crc32c(w->buf, w->len));
	return (long)w->len;
}

/* Damage is told apart from a newer format by checking the checksum first. */
int ssi_wire_open(const struct ssi_wire_format *fmt, const uint8_t *buf, size_t len,
		  struct ssi_wire_reader *body)
{
	struct ssi_wire_reader trailer;
	uint32_t stored;
	uint8_t version;

	if (!buf || len < SSI_WIRE_HEADER_BYTES + SSI_WIRE_TRAILER_BYTES ||
	    buf[0] != fmt->magic[0] || buf[1] != fmt->magic[1])
		return -EBADMSG;
	trailer = (struct ssi_wire_reader){.buf = buf + len - SSI_WIRE_TRAILER_BYTES,
					   .len = SSI_WIRE_TRAILER_BYTES};
	if (ssi_wire_get_u32le(&trailer, &stored) < 0 ||
	    ssi_crc32c(buf, len - SSI_WIRE_TRAILER_BYTES) != stored)
		return -EBADMSG;
	version = buf[2];
	if (version == 0)
		return -EBADMSG;
	if (version > fmt->version)
		return -EPROTONOSUPPORT;
	*body = (struct ssi_wire_reader){
	    .buf = buf + SSI_WIRE_HEADER_BYTES,
	    .len = len - SSI_WIRE_HEADER_BYTES - SSI_WIRE_TRAILER_BYTES,
	};
	return version;
}
