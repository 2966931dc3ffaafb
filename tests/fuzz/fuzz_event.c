/*
 * libFuzzer target for the event parser. Every input is parsed twice, through
 * the per-thread arena and through plain malloc, and the two answers must be
 * identical; an accepted event must satisfy the contract's invariants.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ssi_event.h"
#include "ssi_json.h"
#include "ssi_time.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		abort();
}

/* NUL-terminated within the buffer, and non-empty when required. */
static void check_id(const char *s, bool required)
{
	size_t n = strnlen(s, SSI_ID_MAX + 1);

	check(n <= SSI_ID_MAX);
	check(!required || n > 0);
}

static void check_reject(const struct ssi_reject *why)
{
	check(strnlen(why->code, sizeof(why->code)) > 0);
	check(strnlen(why->code, sizeof(why->code)) < sizeof(why->code));
	check(strnlen(why->message, sizeof(why->message)) > 0);
	check(strnlen(why->message, sizeof(why->message)) < sizeof(why->message));
	for (const char *c = why->message; *c; c++)
		check(*c >= 0x20 && *c <= 0x7e);
}

static void check_event(const struct ssi_event *ev)
{
	char at[SSI_TIME_BUFLEN];
	int64_t back;

	check_id(ev->event_id, true);
	check_id(ev->user_id, true);
	for (int s = 0; s < SSI_SEG__COUNT; s++)
		check_id(ev->segment[s], false);
	check((unsigned)ev->type < SSI_EV__COUNT);
	check(ev->occurred_at_ms >= SSI_TIME_MIN_MS && ev->occurred_at_ms <= SSI_TIME_MAX_MS);
	check(ev->fingerprint == ssi_event_fingerprint(ev->event_id, strlen(ev->event_id)));
	/* the instant survives formatting, and sits inside a window ending at it */
	check(ssi_time_parse(at, ssi_time_format(ev->occurred_at_ms, at), &back) == 0);
	check(back == ev->occurred_at_ms);
	check(ssi_event_check_time(ev, 1, 0, ev->occurred_at_ms, NULL) == 0);
	switch (ev->type) {
	case SSI_EV_PROFILE_VIEWED:
		check(ev->attrs.view.degree >= 1 && ev->attrs.view.degree <= 3);
		break;
	case SSI_EV_SEARCH_PERFORMED:
		check(ev->attrs.search.filters >= 0);
		break;
	case SSI_EV_CONNECTION_ADDED:
	case SSI_EV_CONNECTION_REMOVED:
		check((unsigned)ev->attrs.connection.seniority < SSI_SEN__COUNT);
		check_id(ev->attrs.connection.connection_id, false);
		break;
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct ssi_event_limits plain = {.no_arena = true};
	struct ssi_event a, b;
	struct ssi_reject wa, wb;
	int ra, rb;

	ssi_json_arena_install();
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&wa, 0, sizeof(wa));
	memset(&wb, 0, sizeof(wb));
	ra = ssi_event_parse(data, size, NULL, &a, &wa);
	rb = ssi_event_parse(data, size, &plain, &b, &wb);

	check(ra == rb);
	check(ra == 0 || ra == -EINVAL || ra == -ENOMEM);
	if (ra == 0) {
		check_event(&a);
		check(memcmp(&a, &b, sizeof(a)) == 0);
	} else {
		check_reject(&wa);
		check(strcmp(wa.code, wb.code) == 0);
		check(strcmp(wa.message, wb.message) == 0);
	}
	return 0;
}
