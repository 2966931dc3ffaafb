/*
 * ssid_log: journald when stderr leads there, one self-contained line per
 * message otherwise.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "ssi_time.h"
#include "ssid_log.h"

#define IDENT_MAX 64
/* Extra journal fields beyond this are dropped; nobody needs more. */
#define FIELDS_MAX     32
#define MESSAGE_PREFIX "MESSAGE="

/* Set by ssid_log_init before threads start, read-only afterwards. */
static char log_ident[IDENT_MAX] = "ssid";
static bool log_to_journal;
static int64_t (*log_clock)(void);

static atomic_int log_min_level = LOG_INFO;
static atomic_int log_fd_override = -1;

/* systemd.exec(5): JOURNAL_STREAM is inherited, so compare it with what fd 2 really is. */
bool ssid_log_journal_stream_matches(const char *journal_stream, int fd)
{
	unsigned long long dev, ino;
	struct stat st;
	char *end;

	if (!journal_stream || journal_stream[0] < '0' || journal_stream[0] > '9')
		return false;
	errno = 0;
	dev = strtoull(journal_stream, &end, 10);
	if (errno != 0 || *end != ':' || end[1] < '0' || end[1] > '9')
		return false;
	ino = strtoull(end + 1, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	if (fstat(fd, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void ssid_log_init(const char *ident, int min_level)
{
	int saved_errno = errno;

	snprintf(log_ident, sizeof(log_ident), "%s", ident ? ident : "ssid");
	ssid_log_set_level(min_level);
	log_to_journal = ssid_log_journal_stream_matches(getenv("JOURNAL_STREAM"), STDERR_FILENO);
	errno = saved_errno;
}

void ssid_log_set_level(int min_level)
{
	atomic_store_explicit(&log_min_level, LOG_PRI(min_level), memory_order_relaxed);
}

int ssid_log_get_level(void)
{
	return atomic_load_explicit(&log_min_level, memory_order_relaxed);
}

void ssid_log_set_fd(int fd)
{
	atomic_store_explicit(&log_fd_override, fd < 0 ? -1 : fd, memory_order_relaxed);
}

void ssid_log_set_clock(int64_t (*now_ms)(void))
{
	log_clock = now_ms;
}

const char *ssid_log_level_name(int level)
{
	static const char *const names[] = {"emerg",   "alert",	 "crit", "error",
					    "warning", "notice", "info", "debug"};

	return names[LOG_PRI(level)];
}

static int64_t realtime_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A line under construction; the tail room always fits "...\n". */
struct line {
	char buf[SSID_LOG_LINE_MAX];
	size_t len;
	bool truncated;
};

#define LINE_TAIL 4

static void line_put(struct line *l, const char *s, size_t n)
{
	size_t room = sizeof(l->buf) - LINE_TAIL - l->len;

	if (n > room) {
		n = room;
		l->truncated = true;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void line_puts(struct line *l, const char *s)
{
	line_put(l, s, strlen(s));
}

/* One message, one line: a newline inside must not forge a second entry. */
static void line_put_escaped(struct line *l, const char *s, bool escape_quotes)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[8];

		if (c == '\n') {
			line_puts(l, "\\n");
		} else if (c == '\r') {
			line_puts(l, "\\r");
		} else if ((c < 0x20 && c != '\t') || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\x%02x", c);
			line_puts(l, esc);
		} else if (escape_quotes && (c == '"' || c == '\\')) {
			esc[0] = '\\';
			esc[1] = (char)c;
			line_put(l, esc, 2);
		} else {
			line_put(l, s, 1);
		}
	}
}

static bool needs_quotes(const char *value)
{
	if (value[0] == '\0')
		return true;
	for (; *value; value++) {
		unsigned char c = (unsigned char)*value;

		if (c <= ' ' || c == '"' || c == '\\' || c == 0x7f)
			return true;
	}
	return false;
}

static void line_put_field(struct line *l, const char *field)
{
	const char *eq = strchr(field, '=');

	line_puts(l, " ");
	line_put(l, field, (size_t)(eq - field) + 1);
	if (needs_quotes(eq + 1)) {
		line_puts(l, "\"");
		line_put_escaped(l, eq + 1, true);
		line_puts(l, "\"");
	} else {
		line_puts(l, eq + 1);
	}
}

/* Built whole in memory first: one write() per line keeps lines from threads apart. */
static void write_line(int fd, int level, bool timestamp, const char *message,
		       const char *const fields[])
{
	struct line l; /* buf is filled as it goes: no need to clear 4 KiB */
	char prefix[SSI_TIME_BUFLEN + IDENT_MAX + 48];
	ssize_t n;

	l.len = 0;
	l.truncated = false;
	if (timestamp) {
		char stamp[SSI_TIME_BUFLEN];

		ssi_time_format(log_clock ? log_clock() : realtime_ms(), stamp);
		line_puts(&l, stamp);
		line_puts(&l, " ");
	}
	snprintf(prefix, sizeof(prefix), "%s[%ld] %s: ", log_ident, (long)getpid(),
		 ssid_log_level_name(level));
	line_puts(&l, prefix);
	line_put_escaped(&l, message, false);
	for (size_t i = 0; fields && fields[i]; i++)
		if (strchr(fields[i], '='))
			line_put_field(&l, fields[i]);
	if (l.truncated) {
		memcpy(l.buf + l.len, "...", 3);
		l.len += 3;
	}
	l.buf[l.len++] = '\n';

	do
		n = write(fd, l.buf, l.len);
	while (n < 0 && errno == EINTR);
}

/* Fields go as they are: journald itself drops names it does not accept. */
static int send_journal(int level, const char *prefixed_message, const char *const fields[])
{
	char priority[sizeof("PRIORITY=") + 4];
	char ident[sizeof("SYSLOG_IDENTIFIER=") + IDENT_MAX];
	struct iovec iov[3 + FIELDS_MAX];
	size_t n = 0;

	snprintf(priority, sizeof(priority), "PRIORITY=%d", level);
	snprintf(ident, sizeof(ident), "SYSLOG_IDENTIFIER=%s", log_ident);
	iov[n++] = (struct iovec){(void *)prefixed_message, strlen(prefixed_message)};
	iov[n++] = (struct iovec){priority, strlen(priority)};
	iov[n++] = (struct iovec){ident, strlen(ident)};
	for (size_t i = 0; fields && fields[i] && n < sizeof(iov) / sizeof(iov[0]); i++)
		if (strchr(fields[i], '='))
			iov[n++] = (struct iovec){(void *)fields[i], strlen(fields[i])};
	return sd_journal_sendv(iov, (int)n);
}

void ssid_log_fieldsv(int level, const char *const fields[], const char *fmt, va_list ap)
{
	char message[sizeof(MESSAGE_PREFIX) - 1 + SSID_LOG_LINE_MAX];
	const size_t skip = sizeof(MESSAGE_PREFIX) - 1;
	int saved_errno = errno;
	int fd;

	level = LOG_PRI(level);
	if (level > atomic_load_explicit(&log_min_level, memory_order_relaxed))
		return;

	memcpy(message, MESSAGE_PREFIX, skip);
	errno = saved_errno; /* for %m */
	vsnprintf(message + skip, sizeof(message) - skip, fmt, ap);

	fd = atomic_load_explicit(&log_fd_override, memory_order_relaxed);
	if (fd >= 0)
		write_line(fd, level, true, message + skip, fields);
	else if (!log_to_journal || send_journal(level, message, fields) < 0)
		write_line(STDERR_FILENO, level, !log_to_journal, message + skip, fields);
	errno = saved_errno;
}

void ssid_log_fields(int level, const char *const fields[], const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ssid_log_fieldsv(level, fields, fmt, ap);
	va_end(ap);
}

void ssid_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ssid_log_fieldsv(level, NULL, fmt, ap);
	va_end(ap);
}

#define DEFINE_LOG_LEVEL(function, level)                                                          \
	void function(const char *fmt, ...)                                                        \
	{                                                                                          \
		va_list ap;                                                                        \
                                                                                                   \
		va_start(ap, fmt);                                                                 \
		ssid_log_fieldsv(level, NULL, fmt, ap);                                            \
		va_end(ap);                                                                        \
	}

DEFINE_LOG_LEVEL(log_debug, LOG_DEBUG)
DEFINE_LOG_LEVEL(log_info, LOG_INFO)
DEFINE_LOG_LEVEL(log_notice, LOG_NOTICE)
DEFINE_LOG_LEVEL(log_warn, LOG_WARNING)
DEFINE_LOG_LEVEL(log_err, LOG_ERR)
