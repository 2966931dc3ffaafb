/*
 * ssi_band: percentile bands, the boundaries whose crossing a rep is told
 * about (rank.changed). A band is a top percentage (top 1%, 5%, ...); a
 * position belongs to the tightest band holding it, or to none. Moving from
 * one band to another within a segment is a crossing: up into the better
 * band entered, down out of the band left.
 *
 * Pure: no I/O, no clock, no allocation. The daemon parses rank.bands
 * (ssid.conf) with ssi_bands_parse; ssid_derive asks ssi_band_crossing for
 * each rep's move since the percentiles last delivered.
 */
#ifndef SSI_BAND_H
#define SSI_BAND_H

#include <stddef.h>

#define SSI_BANDS_MAX 16

/* Strictly increasing top percentages, e.g. 1 5 10 15 25 50. */
struct ssi_bands {
	size_t n;
	int top[SSI_BANDS_MAX];
};

/* 1 5 10 15 25 50. */
void ssi_bands_default(struct ssi_bands *b);
/*
 * "1,5,10,15,25,50": strictly increasing integers in 1..100, at most
 * SSI_BANDS_MAX. 0, or -EINVAL with *b as it was.
 */
int ssi_bands_parse(struct ssi_bands *b, const char *text);

/* The tightest band holding top_percent (5 for 3% with the defaults), 0 for none. */
int ssi_band_of(const struct ssi_bands *b, int top_percent);

struct ssi_band_crossing {
	int direction; /* +1 into a better band, -1 out of a band, 0 no crossing */
	int band;      /* up: the band entered; down: the band left */
	int from, to;  /* ssi_band_of old and new */
};

/*
 * Whether moving from old_top to new_top percent (within one segment)
 * crossed a band boundary. A top_percent <= 0 (hidden, absent) is no
 * position: no crossing. Returns direction.
 */
int ssi_band_crossing(const struct ssi_bands *b, int old_top, int new_top,
		      struct ssi_band_crossing *out);

#endif
