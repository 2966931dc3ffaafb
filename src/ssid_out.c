/* ssid_out: JSON output messages without a DOM in between. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ssi_time.h"
#include "ssid_out.h"

void ssid_buf_reset(struct ssid_buf *b)
{
	b->len = 0;
	b->failed = false;
}

void ssid_buf_free(struct ssid_buf *b)
{
	if (!b)
		return;
	free(b->data);
	memset(b, 0, sizeof(*b));
}

static bool buf_grow(struct ssid_buf *b, size_t extra)
{
	size_t cap;
	char *p;

	if (b->failed)
		return false;
	if (b->len + extra + 1 <= b->cap)
		return true;
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra + 1)
		cap *= 2;
	p = realloc(b->data, cap);
	if (!p) {
		b->failed = true;
		return false;
	}
	b->data = p;
	b->cap = cap;
	return true;
}

void ssid_buf_append(struct ssid_buf *b, const void *p, size_t n)
{
	if (!buf_grow(b, n))
		return;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void ssid_buf_printf(struct ssid_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!buf_grow(b, 64))
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = true;
		return;
	}
	if ((size_t)n >= b->cap - b->len) {
		if (!buf_grow(b, (size_t)n))
			return;
		va_start(ap, fmt);
		vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

void ssid_buf_json_string(struct ssid_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";

	/* Worst case every byte becomes \u00XX. */
	if (!buf_grow(b, n * 6 + 2))
		return;
	b->data[b->len++] = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			b->data[b->len++] = '\\';
			b->data[b->len++] = (char)c;
		} else if (c < 0x20) {
			memcpy(b->data + b->len, "\\u00", 4);
			b->data[b->len + 4] = hex[c >> 4];
			b->data[b->len + 5] = hex[c & 15];
			b->len += 6;
		} else {
			b->data[b->len++] = (char)c;
		}
	}
	b->data[b->len++] = '"';
	b->data[b->len] = '\0';
}

const char *ssid_cause_name(enum ssid_cause c)
{
	switch (c) {
	case SSID_CAUSE_EVENT:
		return "event";
	case SSID_CAUSE_DECAY:
		return "decay";
	case SSID_CAUSE_MODEL:
		return "model";
	}
	return "event";
}

/* Centipoints as a JSON number with two decimals. */
static void put_points(struct ssid_buf *b, int cp)
{
	char num[16];
	int n = ssi_score_format(cp, num, sizeof(num));

	ssid_buf_append(b, num, (size_t)n);
}

static void put_key(struct ssid_buf *b, const char *key)
{
	ssid_buf_json_string(b, key, strlen(key));
	ssid_buf_append(b, ":", 1);
}

static void put_pillars(struct ssid_buf *b, const struct ssi_score *s)
{
	static const char *const keys[SSI_PILLAR__COUNT] = {
	    "{\"brand\":", ",\"people\":", ",\"insights\":", ",\"relationships\":"};

	for (int p = 0; p < SSI_PILLAR__COUNT; p++) {
		ssid_buf_append(b, keys[p], strlen(keys[p]));
		put_points(b, s->pillar[p]);
	}
	ssid_buf_append(b, "}", 1);
}

#define SSID_OUT_STR2(x) #x
#define SSID_OUT_STR(x)	 SSID_OUT_STR2(x)

int ssid_out_score_updated(struct ssid_buf *b, const struct ssid_score_msg *m)
{
	static const char head[] =
	    "{\"schema\":" SSID_OUT_STR(SSID_OUT_SCHEMA) ",\"type\":\"score.updated\",\"user_id\":";
	char when[SSI_TIME_BUFLEN];

	ssid_buf_append(b, head, sizeof(head) - 1);
	ssid_buf_json_string(b, m->user_id, strlen(m->user_id));
	for (int s = 0; s < SSI_SEG__COUNT; s++) {
		if (!m->segment[s] || !m->segment[s][0])
			continue;
		ssid_buf_append(b, ",", 1);
		put_key(b, ssi_segment_name((enum ssi_segment)s));
		ssid_buf_json_string(b, m->segment[s], strlen(m->segment[s]));
	}
	ssid_buf_append(b, ",\"ssi\":", 7);
	put_points(b, m->score.total);
	ssid_buf_append(b, ",\"pillars\":", 11);
	put_pillars(b, &m->score);
	ssid_buf_append(b, ",\"previous\":", 12);
	if (m->has_previous) {
		put_points(b, m->previous.total);
		ssid_buf_append(b, ",\"delta\":", 9);
		put_points(b, m->score.total - m->previous.total);
		ssid_buf_append(b, ",\"previous_pillars\":", 20);
		put_pillars(b, &m->previous);
	} else {
		ssid_buf_append(b, "null,\"delta\":", 13);
		put_points(b, m->score.total);
	}
	ssid_buf_printf(b, ",\"cause\":\"%s\",\"events\":%d,\"as_of\":\"",
			ssid_cause_name(m->cause), m->events);
	ssi_time_format(m->as_of_ms, when);
	ssid_buf_append(b, when, strlen(when));
	ssid_buf_append(b, "\",\"model_version\":", 18);
	ssid_buf_json_string(b, m->model_version, strlen(m->model_version));
	ssid_buf_append(b, "}", 1);
	return b->failed ? -ENOMEM : 0;
}
