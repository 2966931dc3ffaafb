/*
 * ssid_log: the daemon's log, for its edge code only (library modules never
 * log; they return -errno and let the caller say what went wrong).
 *
 * When stderr is the journal (JOURNAL_STREAM names fd 2, see systemd.exec(5))
 * each message goes to journald with PRIORITY=, SYSLOG_IDENTIFIER= and any
 * extra fields. Otherwise it is one line on stderr:
 *
 *	2026-11-20T10:00:00.123Z ssid[4711] warning: message KEY=value KEY2="a b"
 *
 * If sending to journald fails, the line still goes to stderr, there
 * without the timestamp since journald stamps what it reads.
 *
 * Control characters in the message are escaped so that one call is always
 * one line, and every line is written with a single write(), so threads
 * never interleave inside a line. errno is preserved, and "%m" prints the
 * errno of the caller.
 *
 * Levels are syslog's LOG_* values; messages less severe than the minimum
 * level are dropped before they are formatted.
 */
#ifndef SSID_LOG_H
#define SSID_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>

/* Longest line written; longer messages are cut and end in "...". */
#define SSID_LOG_LINE_MAX 4096

/*
 * Name the process in every message and pick the destination. Call it
 * before starting threads; logging without it uses "ssid", LOG_INFO and
 * stderr with timestamps.
 */
void ssid_log_init(const char *ident, int min_level);

/* Change the minimum level at any time, from any thread (SIGHUP reload). */
void ssid_log_set_level(int min_level);
int ssid_log_get_level(void);

/*
 * For tests: write lines (with timestamps) to fd instead of stderr or the
 * journal; -1 goes back to what ssid_log_init detected.
 */
void ssid_log_set_fd(int fd);

/* For tests: the clock behind the timestamps, in ms since the epoch; NULL: the real one. */
void ssid_log_set_clock(int64_t (*now_ms)(void));

/* Whether journal_stream ("dev:ino", from $JOURNAL_STREAM) names the file open on fd. */
bool ssid_log_journal_stream_matches(const char *journal_stream, int fd);

/* The name a level is printed with ("warning" for LOG_WARNING). */
const char *ssid_log_level_name(int level);

void ssid_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * With extra journal fields: fields is a NULL-terminated array of
 * "KEY=value" strings (KEY in upper case, digits and '_', as journald wants);
 * on stderr they follow the message as KEY=value. Entries without '=' are
 * skipped. fields may be NULL.
 */
void ssid_log_fields(int level, const char *const fields[], const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void ssid_log_fieldsv(int level, const char *const fields[], const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
