/* ssid_rank_bands: the pure parts of ranks: board diffs, coalescing, percentile bands; see
 * ssid_rank.h. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ssid_rank.h"

#define NONE SIZE_MAX

static size_t index_of(const char *user_id, const struct ssid_rank_entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].user_id, user_id) == 0)
			return i;
	return NONE;
}

/* The next entry of v from *at on that the other list also holds. */
static const struct ssid_rank_entry *next_common(const struct ssid_rank_entry *v, size_t n,
						 size_t *at, const struct ssid_rank_entry *other,
						 size_t nother)
{
	for (; *at < n; (*at)++)
		if (index_of(v[*at].user_id, other, nother) != NONE)
			return &v[(*at)++];
	return NULL;
}

unsigned ssid_rank_board_diff(const struct ssid_rank_entry *a, size_t na,
			      const struct ssid_rank_entry *b, size_t nb)
{
	unsigned flags = 0;
	size_t ia = 0, ib = 0;

	for (size_t i = 0; i < na; i++) {
		size_t j = index_of(a[i].user_id, b, nb);

		if (j == NONE)
			flags |= SSID_RANK_BOARD_MEMBERS;
		else if (a[i].total != b[j].total)
			flags |= SSID_RANK_BOARD_SCORES;
	}
	for (size_t j = 0; j < nb; j++)
		if (index_of(b[j].user_id, a, na) == NONE)
			flags |= SSID_RANK_BOARD_MEMBERS;
	/* Order is about the members both lists hold: compare their two sequences. */
	for (;;) {
		const struct ssid_rank_entry *x = next_common(a, na, &ia, b, nb);
		const struct ssid_rank_entry *y = next_common(b, nb, &ib, a, na);

		if (!x || !y)
			break;
		if (strcmp(x->user_id, y->user_id) != 0) {
			flags |= SSID_RANK_BOARD_ORDER;
			break;
		}
	}
	return flags;
}

void ssid_rank_coalesce_init(struct ssid_rank_coalesce *c, int64_t interval_ms)
{
	memset(c, 0, sizeof(*c));
	c->interval_ms = interval_ms;
}

static bool coalesce_elapsed(const struct ssid_rank_coalesce *c, int64_t now_ms)
{
	return !c->published || now_ms - c->last_ms >= c->interval_ms;
}

static void coalesce_publish(struct ssid_rank_coalesce *c, int64_t now_ms)
{
	c->published = true;
	c->pending = false;
	c->last_ms = now_ms;
}

bool ssid_rank_coalesce_offer(struct ssid_rank_coalesce *c, int64_t now_ms)
{
	if (!coalesce_elapsed(c, now_ms)) {
		c->pending = true;
		return false;
	}
	coalesce_publish(c, now_ms);
	return true;
}

bool ssid_rank_coalesce_due(struct ssid_rank_coalesce *c, int64_t now_ms)
{
	if (!c->pending || !coalesce_elapsed(c, now_ms))
		return false;
	coalesce_publish(c, now_ms);
	return true;
}

int64_t ssid_rank_coalesce_next(const struct ssid_rank_coalesce *c)
{
	return c->pending ? c->last_ms + c->interval_ms : INT64_MAX;
}

/* ---- percentile bands ---------------------------------------------------- */

void ssid_rank_bands_default(struct ssid_rank_bands *b)
{
	static const int defaults[] = {1, 5, 10, 15, 25, 50};

	b->n = sizeof(defaults) / sizeof(defaults[0]);
	memcpy(b->top, defaults, sizeof(defaults));
}

int ssid_rank_bands_parse(struct ssid_rank_bands *b, const char *text)
{
	struct ssid_rank_bands parsed = {0};
	const char *p = text;

	for (;;) {
		char *end;
		long v;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		errno = 0;
		v = strtol(p, &end, 10);
		if (errno || v < 1 || v > 100 || parsed.n == SSID_RANK_BANDS_MAX ||
		    (parsed.n > 0 && v <= parsed.top[parsed.n - 1]))
			return -EINVAL;
		parsed.top[parsed.n++] = (int)v;
		p = end;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		if (*p++ != ',')
			return -EINVAL;
	}
	*b = parsed;
	return 0;
}

int ssid_rank_band_of(const struct ssid_rank_bands *b, int top_percent)
{
	if (top_percent <= 0)
		return 0;
	for (size_t i = 0; i < b->n; i++)
		if (top_percent <= b->top[i])
			return b->top[i];
	return 0;
}

int ssid_rank_band_crossing(const struct ssid_rank_bands *b, int old_top, int new_top,
			    struct ssid_rank_crossing *out)
{
	memset(out, 0, sizeof(*out));
	if (old_top <= 0 || new_top <= 0)
		return 0;
	out->from = ssid_rank_band_of(b, old_top);
	out->to = ssid_rank_band_of(b, new_top);
	if (out->from == out->to)
		return 0;
	/* 0 is "outside every band", the worst place to be. */
	if (out->to != 0 && (out->from == 0 || out->to < out->from)) {
		out->direction = +1;
		out->band = out->to;
	} else {
		out->direction = -1;
		out->band = out->from;
	}
	return out->direction;
}
