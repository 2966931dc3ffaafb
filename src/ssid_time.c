/* ssid_time: the daemon's monotonic clock; see ssid_time.h. */
#include <time.h>

#include "ssid_time.h"

int64_t ssid_time_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
