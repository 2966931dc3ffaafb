/*
 * ssid_notify: the daemon's side of systemd's notification protocol
 * (sd_notify(3)) for a Type=notify service with WatchdogSec=.
 *
 * Every call returns what sd_notify returns: a positive value when the
 * message was sent, 0 when $NOTIFY_SOCKET is unset (not run by systemd, which
 * is fine), or -errno. None of them unset the environment, so a reload or
 * a watchdog ping later still finds the socket.
 */
#ifndef SSID_NOTIFY_H
#define SSID_NOTIFY_H

#include <stdint.h>

/* Startup (and a reload) is complete: "READY=1". */
int ssid_notify_ready(void);

/* A one-line status for "systemctl status": "STATUS=<text>". */
int ssid_notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The service is alive: "WATCHDOG=1". */
int ssid_notify_watchdog(void);

/* Shutdown has begun: "STOPPING=1". */
int ssid_notify_stopping(void);

/*
 * A SIGHUP reload has begun: "RELOADING=1" and "MONOTONIC_USEC=<now>" (which
 * newer systemd uses to match the reload with its request). Finish with
 * ssid_notify_ready().
 */
int ssid_notify_reloading(void);

/*
 * The watchdog interval systemd expects pings within, in microseconds:
 * 0 when the watchdog is off or meant for another process ($WATCHDOG_PID),
 * -errno when $WATCHDOG_USEC or $WATCHDOG_PID is malformed. Ping at half of it.
 */
int64_t ssid_notify_watchdog_usec(void);

#endif
