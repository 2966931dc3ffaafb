/*
 * The input scheme of the decoder fuzz targets: the first byte picks a mode,
 * the rest is the blob. An odd first byte appends a valid CRC-32C, so the
 * fuzzer explores past the checksum instead of stopping at it.
 */
#ifndef SSI_FUZZ_BLOB_H
#define SSI_FUZZ_BLOB_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ssi_wire.h"

/*
 * A heap copy of exactly the bytes to decode, so ASan sees any read past
 * the end. NULL for an empty input or when out of memory; free() it.
 */
static inline uint8_t *fuzz_blob(const uint8_t *data, size_t size, size_t *len)
{
	uint8_t *blob;

	if (size == 0)
		return NULL;
	*len = size - 1 + (data[0] & 1 ? 4 : 0);
	blob = malloc(*len > 0 ? *len : 1);
	if (!blob)
		return NULL;
	memcpy(blob, data + 1, size - 1);
	if (data[0] & 1) {
		uint32_t crc = ssi_crc32c(blob, size - 1);

		for (int i = 0; i < 4; i++)
			blob[size - 1 + i] = (uint8_t)(crc >> (8 * i));
	}
	return blob;
}

#endif
