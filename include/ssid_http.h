/*
 * ssid_http: the daemon's HTTP endpoint (libmicrohttpd, in its own thread,
 * off the hot path): GET /metrics (Prometheus text format), GET /healthz
 * (liveness: the main loop ticked recently) and GET /readyz (readiness:
 * partitions assigned and Redis answering). HEAD is answered like GET;
 * other methods get 405, other paths 404.
 *
 * The server borrows the metrics object: stop the server before freeing it.
 */
#ifndef SSID_HTTP_H
#define SSID_HTTP_H

#include <stddef.h>

#include "ssid_metrics.h"

struct ssid_http;

/*
 * Parse listen ("host:port", "[v6addr]:port" or ":port" for every
 * address; port 0: the kernel picks). 0, or -EINVAL with a message in err.
 */
int ssid_http_parse_listen(const char *listen, char *host, size_t hostlen, int *port, char *err,
			   size_t errlen);

/*
 * Listen on listen and serve m from a thread of libmicrohttpd's. 0, -EINVAL
 * (a bad address) or -EADDRINUSE and the like (cannot listen), with a message
 * in err.
 */
int ssid_http_start(struct ssid_http **out, const char *listen, struct ssid_metrics *m, char *err,
		    size_t errlen);
/* The port actually bound (useful with port 0). */
int ssid_http_port(const struct ssid_http *h);
/* Stop serving (joins the thread) and free. NULL is fine. */
void ssid_http_stop(struct ssid_http *h);

#endif
