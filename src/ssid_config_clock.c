/*
 * ssid_config's clock setting taken apart ("system", "fixed:<RFC 3339>",
 * "file:<path>"), and the time it gives: the daemon's only source of now,
 * so tests can fix or move time.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ssi_time.h"
#include "ssid_config.h"

int ssid_config_parse_clock(const char *spec, struct ssid_config_clock *out)
{
	int64_t ms;

	if (!spec)
		return -EINVAL;
	if (strcmp(spec, "system") == 0) {
		*out = (struct ssid_config_clock){.kind = SSID_CONFIG_CLOCK_SYSTEM};
		return 0;
	}
	if (strncmp(spec, "fixed:", 6) == 0) {
		if (ssi_time_parse(spec + 6, strlen(spec + 6), &ms) < 0)
			return -EINVAL;
		*out = (struct ssid_config_clock){.kind = SSID_CONFIG_CLOCK_FIXED, .fixed_ms = ms};
		return 0;
	}
	if (strncmp(spec, "file:", 5) == 0 && spec[5] != '\0') {
		*out = (struct ssid_config_clock){.kind = SSID_CONFIG_CLOCK_FILE, .file = spec + 5};
		return 0;
	}
	return -EINVAL;
}

int64_t ssid_config_clock_now(const struct ssid_config_clock *clock)
{
	struct timespec ts;
	char buf[64];
	ssize_t n;
	int64_t ms;
	int fd;

	if (clock->kind == SSID_CONFIG_CLOCK_FIXED)
		return clock->fixed_ms;
	if (clock->kind == SSID_CONFIG_CLOCK_FILE) {
		fd = open(clock->file, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			n = read(fd, buf, sizeof(buf) - 1);
			close(fd);
			while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
				n--;
			if (n > 0 && ssi_time_parse(buf, (size_t)n, &ms) == 0)
				return ms;
		}
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
