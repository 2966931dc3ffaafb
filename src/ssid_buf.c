/* ssid_buf: a growable byte buffer; see ssid_buf.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ssi_array.h"
#include "ssid_buf.h"

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
	if (b->failed)
		return false;
	if (SSI_GROW(b->data, &b->cap, b->len + extra + 1, 256) < 0)
		b->failed = true;
	return !b->failed;
}

bool ssid_buf_reserve(struct ssid_buf *b, size_t n)
{
	return buf_grow(b, n);
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
