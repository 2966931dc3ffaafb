/*
 * ssid_buf: a growable byte buffer, the daemon's one string builder (JSON
 * messages in ssid_out, encodings sent to Redis in ssid_rank).
 *
 * Zero-initialise; the buffer owns data, released with ssid_buf_free. The
 * appends do not return errors: an allocation that fails sets failed, the
 * appends after it do nothing, and the caller checks failed once after a
 * series of them (ssid_buf_reset clears it). After an append data is
 * NUL-terminated (not counted in len). data may move whenever the buffer
 * grows: across appends keep offsets into it, not pointers.
 */
#ifndef SSID_BUF_H
#define SSID_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct ssid_buf {
	char *data;
	size_t len, cap;
	bool failed; /* an allocation failed: contents are incomplete */
};

/* Empty it, keeping its memory; clears failed. */
void ssid_buf_reset(struct ssid_buf *b);
/* Release its memory; b is zeroed (ready for reuse). NULL is fine. */
void ssid_buf_free(struct ssid_buf *b);

/*
 * Room for n more bytes past len and a NUL after them, to be written in
 * place at data + len (the caller then moves len on). false (and failed)
 * when an allocation fails, or failed already.
 */
bool ssid_buf_reserve(struct ssid_buf *b, size_t n);
void ssid_buf_append(struct ssid_buf *b, const void *p, size_t n);
void ssid_buf_printf(struct ssid_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A JSON string literal, quotes included, escaped per RFC 8259 (s is valid UTF-8). */
void ssid_buf_json_string(struct ssid_buf *b, const char *s, size_t n);

#endif
