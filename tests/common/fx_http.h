/*
 * Test helpers for ssid's HTTP endpoint (ssid_http): a free loopback port,
 * one blocking HTTP/1.0 request over a plain socket, a value read out of a
 * Prometheus exposition, and `promtool check metrics` run on a text.
 */
#ifndef SSID_TEST_FX_HTTP_H
#define SSID_TEST_FX_HTTP_H

#include <stddef.h>

struct fx_http_reply {
	int status;	    /* 200, 404...; 0 when no answer came */
	char headers[2048]; /* the header block, NUL-terminated */
	char *body;	    /* NUL-terminated (free it); NULL with no answer */
	size_t len;
};

/* method path on 127.0.0.1:port (10 s timeouts). 0, or -errno (no answer). */
int fx_http(int port, const char *method, const char *path, struct fx_http_reply *out);
void fx_http_reply_free(struct fx_http_reply *r);

/*
 * The value of the sample whose series is exactly series (name and
 * labels as rendered, e.g. ssid_events_total{result="scored"}) in text;
 * -1 when absent.
 */
double fx_metric(const char *text, const char *series);

/* Run `promtool check metrics` on text: its exit status (0: valid), its output into out. */
int fx_promtool_check(const char *text, char *out, size_t len);

#endif
