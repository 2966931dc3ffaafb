/* ssid_notify: the exact datagrams on a real AF_UNIX socket, and the watchdog settings. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <check.h>

#include "ssid_notify.h"
#include "suites.h"

static int notify_fd = -1;
static char notify_dir[] = "/tmp/ssid-notify-XXXXXX";
static char notify_path[sizeof(notify_dir) + 16];

/* A datagram socket where systemd's would be; the timeout only guards against a hang. */
static int bind_notify_socket(const struct sockaddr_un *addr, socklen_t len)
{
	struct timeval timeout = {.tv_sec = 5};
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (const struct sockaddr *)addr, len), 0);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)), 0);
	return fd;
}

static void setup(void)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};

	strcpy(notify_dir, "/tmp/ssid-notify-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(notify_dir));
	snprintf(notify_path, sizeof(notify_path), "%s/notify", notify_dir);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", notify_path);
	notify_fd = bind_notify_socket(&addr, sizeof(addr));
	setenv("NOTIFY_SOCKET", notify_path, 1);
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

static void teardown(void)
{
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	close(notify_fd);
	unlink(notify_path);
	rmdir(notify_dir);
}

static const char *receive(int fd)
{
	static char buf[4096];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);

	ck_assert_msg(n >= 0, "no datagram: %s", strerror(errno));
	buf[n] = '\0';
	return buf;
}

START_TEST (test_ready) {
	ck_assert_int_gt(ssid_notify_ready(), 0);
	ck_assert_str_eq(receive(notify_fd), "READY=1");
}
END_TEST

START_TEST (test_status) {
	char big[2000];

	ck_assert_int_gt(ssid_notify_status("%d events/s, lag %s", 1200, "3s"), 0);
	ck_assert_str_eq(receive(notify_fd), "STATUS=1200 events/s, lag 3s");

	/* a runaway status is cut, not refused */
	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_gt(ssid_notify_status("%s", big), 0);
	ck_assert_uint_eq(strlen(receive(notify_fd)), strlen("STATUS=") + 1023);
}
END_TEST

START_TEST (test_watchdog) {
	ck_assert_int_gt(ssid_notify_watchdog(), 0);
	ck_assert_str_eq(receive(notify_fd), "WATCHDOG=1");
}
END_TEST

START_TEST (test_stopping) {
	ck_assert_int_gt(ssid_notify_stopping(), 0);
	ck_assert_str_eq(receive(notify_fd), "STOPPING=1");
}
END_TEST

START_TEST (test_reloading) {
	const char *prefix = "RELOADING=1\nMONOTONIC_USEC=";
	const char *msg, *digits;

	ck_assert_int_gt(ssid_notify_reloading(), 0);
	msg = receive(notify_fd);
	ck_assert_int_eq(strncmp(msg, prefix, strlen(prefix)), 0);
	digits = msg + strlen(prefix);
	ck_assert_uint_gt(strlen(digits), 0);
	ck_assert_uint_eq(strspn(digits, "0123456789"), strlen(digits));
	ck_assert_int_ne(digits[0], '0');
}
END_TEST

/* The messages arrive in the order sent, each in its own datagram. */
START_TEST (test_sequence) {
	ck_assert_int_gt(ssid_notify_reloading(), 0);
	ck_assert_int_gt(ssid_notify_status("reloaded"), 0);
	ck_assert_int_gt(ssid_notify_ready(), 0);
	ck_assert_int_eq(strncmp(receive(notify_fd), "RELOADING=1\n", 12), 0);
	ck_assert_str_eq(receive(notify_fd), "STATUS=reloaded");
	ck_assert_str_eq(receive(notify_fd), "READY=1");
}
END_TEST

START_TEST (test_abstract_socket) {
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	char name[64], env[sizeof(name) + 1];
	socklen_t len;
	int fd;

	snprintf(name, sizeof(name), "ssid-notify-test-%ld", (long)getpid());
	memcpy(addr.sun_path + 1, name, strlen(name));
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
	fd = bind_notify_socket(&addr, len);
	snprintf(env, sizeof(env), "@%s", name);
	setenv("NOTIFY_SOCKET", env, 1);

	ck_assert_int_gt(ssid_notify_ready(), 0);
	ck_assert_str_eq(receive(fd), "READY=1");
	ck_assert_int_gt(ssid_notify_watchdog(), 0);
	ck_assert_str_eq(receive(fd), "WATCHDOG=1");
	close(fd);
}
END_TEST

START_TEST (test_no_socket) {
	unsetenv("NOTIFY_SOCKET");
	ck_assert_int_eq(ssid_notify_ready(), 0);
	ck_assert_int_eq(ssid_notify_status("x"), 0);
	ck_assert_int_eq(ssid_notify_watchdog(), 0);
	ck_assert_int_eq(ssid_notify_stopping(), 0);
	ck_assert_int_eq(ssid_notify_reloading(), 0);

	/* a socket that is not there is an error, and the environment stays */
	setenv("NOTIFY_SOCKET", "/nonexistent/notify", 1);
	ck_assert_int_lt(ssid_notify_ready(), 0);
	ck_assert_str_eq(getenv("NOTIFY_SOCKET"), "/nonexistent/notify");
}
END_TEST

START_TEST (test_watchdog_usec) {
	char pid[32];

	ck_assert_int_eq(ssid_notify_watchdog_usec(), 0);

	setenv("WATCHDOG_USEC", "30000000", 1);
	ck_assert_int_eq(ssid_notify_watchdog_usec(), 30000000);

	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	ck_assert_int_eq(ssid_notify_watchdog_usec(), 30000000);

	/* meant for another process */
	snprintf(pid, sizeof(pid), "%ld", (long)getpid() + 1);
	setenv("WATCHDOG_PID", pid, 1);
	ck_assert_int_eq(ssid_notify_watchdog_usec(), 0);

	setenv("WATCHDOG_PID", "not-a-pid", 1);
	ck_assert_int_eq(ssid_notify_watchdog_usec(), -EINVAL);
	unsetenv("WATCHDOG_PID");

	setenv("WATCHDOG_USEC", "soon", 1);
	ck_assert_int_eq(ssid_notify_watchdog_usec(), -EINVAL);
	setenv("WATCHDOG_USEC", "0", 1);
	ck_assert_int_eq(ssid_notify_watchdog_usec(), -EINVAL);

	/* the environment is left for the next call */
	setenv("WATCHDOG_USEC", "5000000", 1);
	ck_assert_int_eq(ssid_notify_watchdog_usec(), 5000000);
	ck_assert_int_eq(ssid_notify_watchdog_usec(), 5000000);
}
END_TEST

Suite *notify_suite(void)
{
	Suite *s = suite_create("notify");
	TCase *tc = tcase_create("notify");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_ready);
	tcase_add_test(tc, test_status);
	tcase_add_test(tc, test_watchdog);
	tcase_add_test(tc, test_stopping);
	tcase_add_test(tc, test_reloading);
	tcase_add_test(tc, test_sequence);
	tcase_add_test(tc, test_abstract_socket);
	tcase_add_test(tc, test_no_socket);
	tcase_add_test(tc, test_watchdog_usec);
	suite_add_tcase(s, tc);
	return s;
}
