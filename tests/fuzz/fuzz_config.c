/*
 * libFuzzer target: arbitrary bytes as a configuration file. Whatever the
 * input, the parser must return 0 or a formattable error and free cleanly;
 * a parsed config must also survive the reload helpers against itself.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "ssid_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ssid_config_error err;
	struct ssid_config cfg, copy;
	char buf[1024];
	int r = ssid_config_parse_buffer(&cfg, "fuzz.conf", (const char *)data, size, &err);

	if (r < 0) {
		if (r != -EINVAL && r != -ENOMEM)
			abort();
		if (ssid_config_format_error(&err, buf, sizeof(buf)) <= 0 || cfg.path)
			abort();
		return 0;
	}
	if (ssid_config_reload_diff(&cfg, &cfg, buf, sizeof(buf)) != 0)
		abort();
	if (ssid_config_parse_buffer(&copy, "copy.conf", (const char *)data, size, NULL) != 0)
		abort();
	if (ssid_config_copy_reloadable(&copy, &cfg) != 0)
		abort();
	ssid_config_free(&copy);
	ssid_config_free(&cfg);
	return 0;
}
