/*
 * ssid_notify: thin wrappers over sd_notify, so the daemon's code names the
 * event and the protocol strings live in one place.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "ssid_notify.h"

/* Keeps "systemctl status" readable: a longer status text is cut. */
#define STATUS_MAX 1024

int ssid_notify_ready(void)
{
	return sd_notify(0, "READY=1");
}

int ssid_notify_status(const char *fmt, ...)
{
	char message[sizeof("STATUS=") - 1 + STATUS_MAX];
	const size_t skip = sizeof("STATUS=") - 1;
	va_list ap;

	snprintf(message, sizeof(message), "STATUS=");
	va_start(ap, fmt);
	vsnprintf(message + skip, sizeof(message) - skip, fmt, ap);
	va_end(ap);
	return sd_notify(0, message);
}

int ssid_notify_watchdog(void)
{
	return sd_notify(0, "WATCHDOG=1");
}

int ssid_notify_stopping(void)
{
	return sd_notify(0, "STOPPING=1");
}

/*
 * systemd 253+ pairs RELOADING=1 with the CLOCK_MONOTONIC time of the reload;
 * 252 ignores the extra field, so sending it always keeps one code path.
 */
int ssid_notify_reloading(void)
{
	char message[64];
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		return -errno;
	snprintf(message, sizeof(message), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)ts.tv_sec * 1000000ULL +
		     (unsigned long long)ts.tv_nsec / 1000ULL);
	return sd_notify(0, message);
}

int64_t ssid_notify_watchdog_usec(void)
{
	uint64_t usec = 0;
	int r = sd_watchdog_enabled(0, &usec);

	if (r < 0)
		return r;
	if (r == 0 || usec > INT64_MAX)
		return 0;
	return (int64_t)usec;
}
