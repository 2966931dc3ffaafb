/* ssi_band: percentile bands and their crossings; see ssi_band.h. */
#include "ssi_band.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void ssi_bands_default(struct ssi_bands *b)
{
	static const int defaults[] = {1, 5, 10, 15, 25, 50};

	b->n = sizeof(defaults) / sizeof(defaults[0]);
	memcpy(b->top, defaults, sizeof(defaults));
}

int ssi_bands_parse(struct ssi_bands *b, const char *text)
{
	struct ssi_bands parsed = {0};
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
		if (errno || v < 1 || v > 100 || parsed.n == SSI_BANDS_MAX ||
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

int ssi_band_of(const struct ssi_bands *b, int top_percent)
{
	if (top_percent <= 0)
		return 0;
	for (size_t i = 0; i < b->n; i++)
		if (top_percent <= b->top[i])
			return b->top[i];
	return 0;
}

int ssi_band_crossing(const struct ssi_bands *b, int old_top, int new_top,
		      struct ssi_band_crossing *out)
{
	memset(out, 0, sizeof(*out));
	if (old_top <= 0 || new_top <= 0)
		return 0;
	out->from = ssi_band_of(b, old_top);
	out->to = ssi_band_of(b, new_top);
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
