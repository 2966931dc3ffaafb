/*
 * Fuzz the history decoder. The first input byte picks the mode: odd, the
 * rest gets a valid CRC-32C appended so that mutations reach the body parser
 * instead of dying at the checksum; even, the rest is decoded as is.
 *
 * Whatever decodes must re-encode to exactly the same bytes (the encoding is
 * canonical) and answer queries within the score's bounds; whatever fails
 * must be refused with a documented error and leave the history empty.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ssi_history.h"
#include "ssi_state.h"
#include "fuzz_blob.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_empty(const struct ssi_history *h)
{
	if (h->n != 0 || h->entries || h->cap != 0)
		abort();
}

static void check_reencodes(const struct ssi_history *h, const uint8_t *blob, size_t len)
{
	size_t size = ssi_history_encoded_size(h);
	uint8_t *again;

	if (size != len || len > SSI_HISTORY_ENCODED_MAX || h->n > SSI_HISTORY_RETENTION_MAX)
		abort();
	again = malloc(size);
	if (!again)
		abort();
	if (ssi_history_encode(h, again, size) != (long)size || memcmp(again, blob, size) != 0)
		abort();
	free(again);
}

/* Queries and an update on what was decoded stay inside the documented ranges. */
static void check_queries(struct ssi_history *h)
{
	struct ssi_history_entry points[4];
	int32_t first, last;
	int max;

	if (h->n == 0)
		return;
	first = h->entries[0].day;
	last = h->entries[h->n - 1].day;
	max = ssi_history_max_since(h, first);
	if (max < 0 || max > SSI_PILLAR__COUNT * SSI_HISTORY_PILLAR_MAX)
		abort();
	if (ssi_history_get(h, first, last, points, 4) != (long)last - first + 1)
		abort();
	if (ssi_history_record(h, last, &h->entries[0].score) < 0)
		abort();
	if (ssi_history_compact(h, last, 1) < 0 || h->n != 1 || h->entries[0].day != last)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ssi_history h;
	uint8_t *blob;
	size_t len;
	int ret;

	blob = fuzz_blob(data, size, &len);
	if (!blob)
		return 0;

	ssi_history_init(&h);
	ret = ssi_history_decode(&h, blob, len);
	if (ret == 0) {
		check_reencodes(&h, blob, len);
		check_queries(&h);
	} else if (ret == -EBADMSG || ret == -EPROTONOSUPPORT || ret == -ENOMEM) {
		check_empty(&h);
	} else {
		abort();
	}
	ssi_history_clear(&h);
	free(blob);
	return 0;
}
