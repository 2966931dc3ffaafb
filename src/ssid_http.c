/*
 * ssid_http: /metrics, /healthz and /readyz over libmicrohttpd; see
 * ssid_http.h. The listening socket is made here, so that a bad address or
 * a port in use is reported with its reason; libmicrohttpd serves it from
 * its own thread and reads the metrics with relaxed atomics (and a short
 * lock for the few labelled gauges), never blocking the loop.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "ssid_http.h"
#include "ssid_time.h"

struct ssid_http {
	struct MHD_Daemon *mhd;
	struct ssid_metrics *m;
	int port;
};

int ssid_http_parse_listen(const char *listen, char *host, size_t hostlen, int *port, char *err,
			   size_t errlen)
{
	const char *colon = strrchr(listen, ':');
	const char *h = listen;
	size_t hl;
	char *end;
	long p;

	if (!colon) {
		snprintf(err, errlen, "\"%s\": expected host:port, [v6 address]:port or :port",
			 listen);
		return -EINVAL;
	}
	hl = (size_t)(colon - listen);
	if (hl >= 2 && listen[0] == '[' && listen[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno || p < 0 || p > 65535) {
		snprintf(err, errlen, "\"%s\": the port must be a number in 0..65535", listen);
		return -EINVAL;
	}
	if (hl >= hostlen || memchr(h, '[', hl) || memchr(h, ']', hl)) {
		snprintf(err, errlen, "\"%s\": bad host", listen);
		return -EINVAL;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (int)p;
	return 0;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type,
			     char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result r;

	if (!resp) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	r = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return r;
}

static enum MHD_Result text(struct MHD_Connection *conn, unsigned status, const char *msg)
{
	char buf[256];
	int n = snprintf(buf, sizeof(buf), "%s\n", msg);

	return reply(conn, status, "text/plain; charset=utf-8", buf,
		     n < 0		       ? 0
		     : (size_t)n < sizeof(buf) ? (size_t)n
					       : sizeof(buf) - 1,
		     MHD_RESPMEM_MUST_COPY);
}

static enum MHD_Result serve_metrics(struct ssid_http *h, struct MHD_Connection *conn)
{
	struct ssid_buf b = {0};

	if (ssid_metrics_render(h->m, &b) < 0 || !b.data) {
		ssid_buf_free(&b);
		return text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
	}
	/* The body is handed over: libmicrohttpd frees it. */
	return reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len,
		     MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_len, void **req)
{
	struct ssid_http *h = cls;
	char why[160];
	bool ok;

	(void)version;
	(void)upload;
	(void)upload_len;
	(void)req;
	if (strcmp(url, "/metrics") != 0 && strcmp(url, "/healthz") != 0 &&
	    strcmp(url, "/readyz") != 0)
		return text(conn, MHD_HTTP_NOT_FOUND,
			    "not found: try /metrics, /healthz or /readyz");
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed: use GET");
	if (strcmp(url, "/metrics") == 0)
		return serve_metrics(h, conn);
	if (strcmp(url, "/healthz") == 0)
		ok = ssid_metrics_live(h->m, ssid_time_mono_ms(), why, sizeof(why));
	else
		ok = ssid_metrics_ready(h->m, ssid_time_mono_ms(), why, sizeof(why));
	return text(conn, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, why);
}

/* A listening socket on host:port (every address when host is ""); the fd, or -errno. */
static int listen_on(const char *host, int port, int *family, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	char service[16];
	int fd, one = 1, rc;

	snprintf(service, sizeof(service), "%d", port);
	rc = getaddrinfo(host[0] ? host : NULL, service, &hints, &ai);
	if (rc != 0) {
		snprintf(err, errlen, "%s: %s", host, gai_strerror(rc));
		return -EINVAL;
	}
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	*family = ai->ai_family;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 64) < 0) {
		rc = -errno;
		close(fd);
		goto out;
	}
	rc = fd;
out:
	if (rc < 0)
		snprintf(err, errlen, "cannot listen on %s:%d: %s", host[0] ? host : "*", port,
			 strerror(-rc));
	freeaddrinfo(ai);
	return rc;
}

static int bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

int ssid_http_start(struct ssid_http **out, const char *listen, struct ssid_metrics *m, char *err,
		    size_t errlen)
{
	struct ssid_http *h;
	char host[256];
	int port, fd, family = AF_INET;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
	int r = ssid_http_parse_listen(listen, host, sizeof(host), &port, err, errlen);

	if (r < 0)
		return r;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->m = m;
	fd = listen_on(host, port, &family, err, errlen);
	if (fd < 0) {
		free(h);
		return fd;
	}
	h->port = bound_port(fd);
	if (family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* The socket is libmicrohttpd's from here: MHD_stop_daemon closes it. */
	h->mhd = MHD_start_daemon(flags, 0, NULL, NULL, handle, h, MHD_OPTION_LISTEN_SOCKET, fd,
				  MHD_OPTION_CONNECTION_LIMIT, 64U, MHD_OPTION_CONNECTION_TIMEOUT,
				  10U, MHD_OPTION_END);
	if (!h->mhd) {
		close(fd);
		free(h);
		snprintf(err, errlen, "%s: cannot start the HTTP server", listen);
		return -EIO;
	}
	*out = h;
	return 0;
}

int ssid_http_port(const struct ssid_http *h)
{
	return h->port;
}

void ssid_http_stop(struct ssid_http *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->mhd);
	free(h);
}
