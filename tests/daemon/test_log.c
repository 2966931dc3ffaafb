/* ssid_log: the line format, levels, fields, escaping, destinations, threads. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "ssid_log.h"
#include "suites.h"

/* 2026-11-20T00:00:00.123Z */
static int64_t fixed_clock(void)
{
	return 1795132800123LL;
}

static int capture[2] = {-1, -1};

/* A pipe that never blocks either side: a missing line fails, it does not hang. */
static void setup(void)
{
	ck_assert_int_eq(pipe2(capture, O_CLOEXEC | O_NONBLOCK), 0);
	unsetenv("JOURNAL_STREAM");
	ssid_log_init("ssid", LOG_DEBUG);
	ssid_log_set_clock(fixed_clock);
	ssid_log_set_fd(capture[1]);
}

static void teardown(void)
{
	ssid_log_set_fd(-1);
	ssid_log_set_clock(NULL);
	close(capture[0]);
	close(capture[1]);
}

/* Everything written since the last call. */
static const char *captured(void)
{
	static char buf[65536];
	size_t len = 0;
	ssize_t n;

	while (len < sizeof(buf) - 1 &&
	       (n = read(capture[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	return buf;
}

/* The prefix every line written to the capture starts with. */
static const char *prefix(const char *level)
{
	static char buf[128];

	snprintf(buf, sizeof(buf), "2026-11-20T00:00:00.123Z ssid[%ld] %s: ", (long)getpid(),
		 level);
	return buf;
}

static void assert_line(const char *level, const char *rest)
{
	char want[8192];

	snprintf(want, sizeof(want), "%s%s\n", prefix(level), rest);
	ck_assert_str_eq(captured(), want);
}

START_TEST (test_line_format) {
	char want[128];

	log_warn("disk %s at %d%%", "sda", 93);
	assert_line("warning", "disk sda at 93%");
	log_debug("d");
	assert_line("debug", "d");
	log_info("i");
	assert_line("info", "i");
	log_notice("n");
	assert_line("notice", "n");
	log_err("e");
	assert_line("error", "e");
	ssid_log(LOG_CRIT, "c%d", 1);
	assert_line("crit", "c1");
	/* a facility in the level is ignored */
	ssid_log(LOG_DAEMON | LOG_INFO, "with facility");
	assert_line("info", "with facility");

	ssid_log_init("scorer-7", LOG_DEBUG);
	log_info("renamed");
	snprintf(want, sizeof(want), "2026-11-20T00:00:00.123Z scorer-7[%ld] info: renamed\n",
		 (long)getpid());
	ck_assert_str_eq(captured(), want);
}
END_TEST

START_TEST (test_level_filtering) {
	ssid_log_set_level(LOG_NOTICE);
	ck_assert_int_eq(ssid_log_get_level(), LOG_NOTICE);
	log_debug("no");
	log_info("no");
	ck_assert_str_eq(captured(), "");
	log_notice("yes");
	assert_line("notice", "yes");
	log_err("yes");
	assert_line("error", "yes");

	ssid_log_set_level(LOG_ERR);
	log_warn("no");
	ck_assert_str_eq(captured(), "");
	ssid_log_set_level(LOG_DEBUG);
	log_debug("yes");
	assert_line("debug", "yes");
}
END_TEST

START_TEST (test_fields) {
	const char *const fields[] = {"USER_ID=u1",    "REASON=bad json", "EMPTY=", "NOEQUALS",
				      "QUOTE=a\"b\\c", "EQ=a=b",	  NULL};

	ssid_log_fields(LOG_NOTICE, fields, "dropped %d events", 3);
	assert_line("notice", "dropped 3 events USER_ID=u1 REASON=\"bad json\" EMPTY=\"\" "
			      "QUOTE=\"a\\\"b\\\\c\" EQ=a=b");
	ssid_log_fields(LOG_INFO, NULL, "no fields");
	assert_line("info", "no fields");
	ssid_log_set_level(LOG_INFO);
	ssid_log_fields(LOG_DEBUG, fields, "filtered");
	ck_assert_str_eq(captured(), "");
}
END_TEST

START_TEST (test_one_line_per_message) {
	log_info("line1\nline2\r\ttab \x1b[31mred\x7f");
	assert_line("info", "line1\\nline2\\r\ttab \\x1b[31mred\\x7f");
	ssid_log_fields(LOG_INFO, (const char *const[]){"F=a\nb", NULL}, "m");
	assert_line("info", "m F=\"a\\nb\"");
}
END_TEST

START_TEST (test_truncation) {
	char *big = malloc(10000);
	const char *line;
	size_t len;

	ck_assert_ptr_nonnull(big);
	memset(big, 'x', 9999);
	big[9999] = '\0';
	log_info("%s", big);
	line = captured();
	len = strlen(line);
	ck_assert_uint_eq(len, SSID_LOG_LINE_MAX);
	ck_assert_str_eq(line + len - 5, "x...\n");
	ck_assert_ptr_eq(strchr(line, '\n'), line + len - 1);
	ck_assert_int_eq(strncmp(line, prefix("info"), strlen(prefix("info"))), 0);
	free(big);
}
END_TEST

START_TEST (test_errno_kept) {
	int closed;

	errno = ENOENT;
	log_err("open model: %m");
	ck_assert_int_eq(errno, ENOENT);
	assert_line("error", "open model: No such file or directory");

	ssid_log_set_level(LOG_ERR);
	errno = EACCES;
	log_info("filtered");
	ck_assert_int_eq(errno, EACCES);

	/* nor when the write itself fails */
	closed = dup(capture[1]);
	ck_assert_int_ge(closed, 0);
	close(closed);
	ssid_log_set_fd(closed);
	errno = EPERM;
	log_err("lost");
	ck_assert_int_eq(errno, EPERM);
}
END_TEST

START_TEST (test_level_names) {
	ck_assert_str_eq(ssid_log_level_name(LOG_EMERG), "emerg");
	ck_assert_str_eq(ssid_log_level_name(LOG_ALERT), "alert");
	ck_assert_str_eq(ssid_log_level_name(LOG_CRIT), "crit");
	ck_assert_str_eq(ssid_log_level_name(LOG_ERR), "error");
	ck_assert_str_eq(ssid_log_level_name(LOG_WARNING), "warning");
	ck_assert_str_eq(ssid_log_level_name(LOG_NOTICE), "notice");
	ck_assert_str_eq(ssid_log_level_name(LOG_INFO), "info");
	ck_assert_str_eq(ssid_log_level_name(LOG_DEBUG), "debug");
	ck_assert_str_eq(ssid_log_level_name(LOG_LOCAL0 | LOG_DEBUG), "debug");
}
END_TEST

START_TEST (test_journal_stream_matches) {
	char path[] = "/tmp/ssid-log-test-XXXXXX";
	int fd = mkstemp(path);
	char good[64], other[64];
	struct stat st;

	ck_assert_int_ge(fd, 0);
	unlink(path);
	ck_assert_int_eq(fstat(fd, &st), 0);
	snprintf(good, sizeof(good), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	snprintf(other, sizeof(other), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino + 1);
	ck_assert(ssid_log_journal_stream_matches(good, fd));
	ck_assert(!ssid_log_journal_stream_matches(other, fd));
	ck_assert(!ssid_log_journal_stream_matches(good, capture[0]));
	ck_assert(!ssid_log_journal_stream_matches(NULL, fd));
	ck_assert(!ssid_log_journal_stream_matches("", fd));
	ck_assert(!ssid_log_journal_stream_matches("12", fd));
	ck_assert(!ssid_log_journal_stream_matches("12:", fd));
	ck_assert(!ssid_log_journal_stream_matches(":12", fd));
	ck_assert(!ssid_log_journal_stream_matches("-1:12", fd));
	strcat(good, "x");
	ck_assert(!ssid_log_journal_stream_matches(good, fd));
	ck_assert(!ssid_log_journal_stream_matches("1:1", -1));
	close(fd);
}
END_TEST

/* Point fd 2 at the capture pipe for one test; returns the saved stderr. */
static int stderr_to_capture(void)
{
	int saved = dup(STDERR_FILENO);

	ck_assert_int_ge(saved, 0);
	ck_assert_int_eq(dup2(capture[1], STDERR_FILENO), STDERR_FILENO);
	return saved;
}

static void stderr_restore(int saved)
{
	ck_assert_int_eq(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
}

START_TEST (test_stderr_by_default) {
	int saved = stderr_to_capture();
	const char *out;
	char want[256];

	ssid_log_set_fd(-1);
	ssid_log_init("ssid", LOG_INFO);
	log_info("to stderr");
	out = captured();
	stderr_restore(saved);
	snprintf(want, sizeof(want), "%sto stderr\n", prefix("info"));
	ck_assert_str_eq(out, want);
}
END_TEST

/*
 * With stderr being the journal's stream, messages go to journald, not as
 * lines to stderr (sd_journal_sendv drops them silently when no journald
 * listens, as here).
 */
START_TEST (test_journal_stream_goes_to_journal) {
	char stream[64];
	struct stat st;
	const char *out;
	int saved;

	saved = stderr_to_capture();
	ck_assert_int_eq(fstat(STDERR_FILENO, &st), 0);
	snprintf(stream, sizeof(stream), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", stream, 1);
	ssid_log_set_fd(-1);
	ssid_log_init("ssid", LOG_INFO);
	ssid_log_fields(LOG_WARNING, (const char *const[]){"K=v", NULL}, "via %s", "journal");
	out = captured();
	unsetenv("JOURNAL_STREAM");
	ssid_log_init("ssid", LOG_INFO);
	stderr_restore(saved);
	ck_assert_str_eq(out, "");
}
END_TEST

#define THREADS		 4
#define LINES_PER_THREAD 250

static void *log_many(void *arg)
{
	int id = (int)(intptr_t)arg;

	for (int i = 0; i < LINES_PER_THREAD; i++)
		ssid_log_fields(LOG_INFO,
				(const char *const[]){"PADDING=..........................", NULL},
				"thread %d line %d", id, i);
	return NULL;
}

/* Lines from concurrent threads arrive whole: one write() each. */
START_TEST (test_threads_do_not_interleave) {
	char path[] = "/tmp/ssid-log-threads-XXXXXX";
	int fd = mkstemp(path);
	int seen[THREADS][LINES_PER_THREAD] = {{0}};
	pthread_t threads[THREADS];
	char line[256];
	FILE *f;
	int lines = 0;

	ck_assert_int_ge(fd, 0);
	unlink(path);
	ck_assert_int_eq(fcntl(fd, F_SETFL, O_APPEND), 0);
	ssid_log_set_fd(fd);
	for (int t = 0; t < THREADS; t++)
		ck_assert_int_eq(pthread_create(&threads[t], NULL, log_many, (void *)(intptr_t)t),
				 0);
	for (int t = 0; t < THREADS; t++)
		pthread_join(threads[t], NULL);

	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	f = fdopen(fd, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		const char *p = prefix("info");
		int t, i, end = 0;

		ck_assert_int_eq(strncmp(line, p, strlen(p)), 0);
		ck_assert_int_eq(sscanf(line + strlen(p),
					"thread %d line %d PADDING=..........................\n%n",
					&t, &i, &end),
				 2);
		ck_assert_uint_eq((size_t)end, strlen(line + strlen(p)));
		ck_assert(t >= 0 && t < THREADS && i >= 0 && i < LINES_PER_THREAD);
		seen[t][i]++;
		lines++;
	}
	fclose(f);
	ck_assert_int_eq(lines, THREADS * LINES_PER_THREAD);
	for (int t = 0; t < THREADS; t++)
		for (int i = 0; i < LINES_PER_THREAD; i++)
			ck_assert_int_eq(seen[t][i], 1);
}
END_TEST

Suite *log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("log");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_line_format);
	tcase_add_test(tc, test_level_filtering);
	tcase_add_test(tc, test_fields);
	tcase_add_test(tc, test_one_line_per_message);
	tcase_add_test(tc, test_truncation);
	tcase_add_test(tc, test_errno_kept);
	tcase_add_test(tc, test_level_names);
	tcase_add_test(tc, test_journal_stream_matches);
	tcase_add_test(tc, test_stderr_by_default);
	tcase_add_test(tc, test_journal_stream_goes_to_journal);
	tcase_add_test(tc, test_threads_do_not_interleave);
	suite_add_tcase(s, tc);
	return s;
}
