/*
 * Fuzz the state decoder. The first input byte picks the mode: odd, the rest
 * gets a valid CRC-32C appended so that mutations reach the body parser
 * instead of dying at the checksum; even, the rest is decoded as is.
 *
 * Whatever decodes must re-encode to exactly the same bytes when it is of
 * the current version (the encoding is canonical); one of an older version
 * must re-encode to a blob that decodes to the same state. Whatever fails
 * must be refused with a documented error and leave the state empty.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ssi_state.h"
#include "fuzz_blob.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_empty(const struct ssi_state *st)
{
	struct ssi_state empty;

	ssi_state_init(&empty);
	if (!ssi_state_equal(st, &empty) || st->rows || st->rows_cap != 0)
		abort();
}

static void check_reencodes(const struct ssi_state *st, const uint8_t *blob, size_t len)
{
	size_t size = ssi_state_encoded_size(st);
	uint8_t *again;
	struct ssi_state back;

	if (size == 0 || size > SSI_STATE_ENCODED_MAX || st->rows_cap != st->nrows)
		abort();
	again = malloc(size);
	if (!again)
		abort();
	if (ssi_state_encode(st, again, size) != (long)size)
		abort();
	if (blob[2] == SSI_STATE_VERSION) {
		if (size != len || memcmp(again, blob, size) != 0)
			abort();
	} else {
		ssi_state_init(&back);
		if (ssi_state_decode(&back, again, size) != 0 || !ssi_state_equal(&back, st))
			abort();
		ssi_state_clear(&back);
	}
	free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ssi_state st;
	uint8_t *blob;
	size_t len;
	int ret;

	blob = fuzz_blob(data, size, &len);
	if (!blob)
		return 0;

	ssi_state_init(&st);
	ret = ssi_state_decode(&st, blob, len);
	if (ret == 0)
		check_reencodes(&st, blob, len);
	else if (ret == -EBADMSG || ret == -EPROTONOSUPPORT || ret == -ENOMEM)
		check_empty(&st);
	else
		abort();
	ssi_state_clear(&st);
	free(blob);
	return 0;
}
