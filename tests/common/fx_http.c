/* Test helpers for ssid's HTTP endpoint; see fx_http.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fx_http.h"

int fx_http(int port, const char *method, const char *path, struct fx_http_reply *out)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct timeval tv = {.tv_sec = 10};
	char req[512], *buf = NULL, *end;
	size_t len = 0, cap = 0;
	int fd, n, rc = 0;

	memset(out, 0, sizeof(*out));
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	n = snprintf(req, sizeof(req), "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", method, path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    write(fd, req, (size_t)n) != (ssize_t)n) {
		rc = -errno;
		goto out;
	}
	for (;;) {
		ssize_t got;

		if (len + 4096 + 1 > cap) {
			char *more = realloc(buf, cap = cap * 2 + 8192);

			if (!more) {
				rc = -ENOMEM;
				goto out;
			}
			buf = more;
		}
		got = read(fd, buf + len, cap - len - 1);
		if (got < 0) {
			rc = -errno;
			goto out;
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	if (buf)
		buf[len] = '\0';
	if (!buf || len == 0 || sscanf(buf, "HTTP/1.%*d %d", &out->status) != 1) {
		rc = -EPROTO;
		goto out;
	}
	end = strstr(buf, "\r\n\r\n");
	if (!end) {
		rc = -EPROTO;
		goto out;
	}
	snprintf(out->headers, sizeof(out->headers), "%.*s", (int)(end - buf), buf);
	out->len = len - (size_t)(end + 4 - buf);
	out->body = malloc(out->len + 1);
	if (!out->body) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(out->body, end + 4, out->len);
	out->body[out->len] = '\0';
out:
	free(buf);
	close(fd);
	return rc;
}

void fx_http_reply_free(struct fx_http_reply *r)
{
	free(r->body);
	r->body = NULL;
}

double fx_metric(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *line = text; line && *line;) {
		if (strncmp(line, series, n) == 0 && line[n] == ' ')
			return strtod(line + n + 1, NULL);
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return -1;
}

int fx_promtool_check(const char *text, char *out, size_t len)
{
	char in_path[PATH_MAX], cmd[PATH_MAX + 64];
	int fd, status;
	size_t tlen = strlen(text);
	const char *tmp = getenv("TMPDIR");
	FILE *p;
	size_t got;

	/* Unit tests have no scratch directory: TMPDIR (else /tmp), removed below. */
	snprintf(in_path, sizeof(in_path), "%s/ssid-promtool-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	fd = mkstemp(in_path);
	if (fd < 0)
		return -errno;
	if (write(fd, text, tlen) != (ssize_t)tlen) {
		close(fd);
		unlink(in_path);
		return -EIO;
	}
	close(fd);
	snprintf(cmd, sizeof(cmd), "promtool check metrics <%s 2>&1", in_path);
	p = popen(cmd, "r");
	if (!p) {
		unlink(in_path);
		return -errno;
	}
	got = fread(out, 1, len - 1, p);
	out[got] = '\0';
	status = pclose(p);
	unlink(in_path);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -EINTR;
}
