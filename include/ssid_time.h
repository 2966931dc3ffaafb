/*
 * ssid_time: the daemon's monotonic clock, for timeouts, intervals and
 * deadlines. Not the scoring clock (real or test time since the epoch:
 * ssid_config_clock_now), and not in the engine, which reads no clock.
 */
#ifndef SSID_TIME_H
#define SSID_TIME_H

#include <stdint.h>

/* CLOCK_MONOTONIC in milliseconds: only differences between two calls mean anything. */
int64_t ssid_time_mono_ms(void);

#endif
