/* ssid_file: whole files into memory; see ssid_file.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ssi_array.h"
#include "ssid_file.h"

int ssid_file_read(const char *path, size_t max, char **out, size_t *len, const char **failed)
{
	size_t cap = 0, n = 0;
	char *buf = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY), r = 0;

	if (failed)
		*failed = fd < 0 ? "open" : "read";
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t got;

		if (n + 1 >= cap) {
			if (cap > max + 1) {
				r = -EFBIG;
				break;
			}
			if (SSI_GROW(buf, &cap, n + 2, 4096) < 0) {
				r = -ENOMEM;
				break;
			}
		}
		got = read(fd, buf + n, cap - n - 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			r = got < 0 ? -errno : n > max ? -EFBIG : 0;
			break;
		}
		n += (size_t)got;
	}
	close(fd);
	if (r < 0) {
		free(buf);
		return r;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

int ssid_file_load_model(struct ssi_model *m, const char *path, struct ssi_model_error *err)
{
	struct ssi_model_error scratch;
	char *buf = NULL;
	size_t len = 0;
	int r;

	if (!err)
		err = &scratch;
	memset(err, 0, sizeof(*err));
	r = ssid_file_read(path, SSID_FILE_MAX, &buf, &len, NULL);
	if (r < 0) {
		snprintf(err->message, sizeof(err->message), "cannot read %s: %s", path,
			 r == -EFBIG ? "larger than 1 MiB" : strerrordesc_np(-r));
		return r;
	}
	r = ssi_model_load_buffer(m, buf, len, err);
	free(buf);
	return r;
}
