/*
 * What the config suite's two files share (test_config.c defines it,
 * test_config_keys.c uses it too).
 */
#ifndef SSID_TEST_CONFIG_H
#define SSID_TEST_CONFIG_H

#include "ssid_config.h"

#define SHIPPED_CONF "config/ssid.conf"
/* The one line every configuration needs. */
#define BOOT "kafka.bootstrap.servers = k:9092\n"

/* ssid_config_parse_buffer of text, named "t.conf". */
int config_parse(struct ssid_config *cfg, const char *text, struct ssid_config_error *err);
/* The shipped configuration file, NUL-terminated (free it); a Check failure if unreadable. */
char *config_shipped_text(void);

#endif
