/*
 * The real ssid binary as systemd runs it: killed with SIGKILL at the worst
 * moments and restarted, drained by SIGTERM, refused a bad configuration,
 * and talking sd_notify to a socket of ours. Redis is a real redis-server,
 * Kafka the mock cluster living in this process (so it and its committed
 * offsets outlive every ssid started against it).
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "fixture.h"
#include "suites.h"

/* fx_env, and the real binary's configuration file and log. */
struct env {
	struct fx_env fx;
	char conf_path[PATH_MAX];
	char log_path[PATH_MAX];
};

static void env_open(struct env *e, const char *tag, int users, const struct fx_conf *c)
{
	memset(e, 0, sizeof(*e));
	ck_assert_msg(access(fx_ssid_path(), X_OK) == 0, "%s is missing: build it first",
		      fx_ssid_path());
	fx_env_open(&e->fx, tag, users, false);
	ck_assert_int_eq(fx_config_file(e->conf_path, sizeof(e->conf_path), "ssid.conf",
					&e->fx.kafka, &e->fx.redis, c),
			 0);
	fx_path(e->log_path, sizeof(e->log_path), "ssid.log");
}

static void spawn(struct env *e, struct fx_proc *p, const char *const env[])
{
	ck_assert_int_eq(fx_ssid_spawn(p, e->conf_path, env, e->log_path), 0);
}

/*
 * Kill ssid with SIGKILL at failpoint in its first batch, restart it, and
 * check that the restart neither lost nor double-counted anything.
 */
static void crash_and_recover(const char *tag, const char *failpoint)
{
	struct t_rng rng = {.s = 0xC4A5};
	char env_failpoint[64];
	const char *const env_crash[] = {env_failpoint, NULL};
	int64_t committed[FX_PARTITIONS_MAX];
	struct fx_msgs out;
	struct fx_proc p;
	struct env e;
	long users_stored;

	env_open(&e, tag, 15, NULL);
	ck_assert_int_eq(fx_stream_add_random(&e.fx.stream, &rng, 200), 0);
	ck_assert_int_eq(fx_produce(&e.fx.kafka, &e.fx.stream, 0, e.fx.stream.n), 0);
	snprintf(env_failpoint, sizeof(env_failpoint), "SSID_FAILPOINT=%s", failpoint);
	spawn(&e, &p, env_crash);
	ck_assert_msg(fx_proc_wait(&p, FX_WAIT_MS) == 0, "ssid did not reach %s in %d ms (log: %s)",
		      failpoint, FX_WAIT_MS, e.log_path);
	ck_assert_msg(WIFSIGNALED(p.status) && WTERMSIG(p.status) == SIGKILL,
		      "ssid should die of SIGKILL at %s, status 0x%x (log: %s)", failpoint,
		      p.status, e.log_path);
	ck_assert(fx_proc_group_gone(&p));

	/* It died before writing any record (ranks apart) and before committing anything. */
	users_stored = fx_redis_user_keys(&e.fx.redis);
	ck_assert_msg(users_stored == 0, "%ld records written before %s", users_stored, failpoint);
	ck_assert_int_eq(fx_kafka_committed(&e.fx.kafka, committed), 0);
	for (int i = 0; i < e.fx.kafka.partitions; i++)
		ck_assert_msg(committed[i] == RD_KAFKA_OFFSET_INVALID,
			      "partition %d committed %lld before the crash", i,
			      (long long)committed[i]);
	ck_assert_int_eq(fx_kafka_read_topic(&e.fx.kafka, e.fx.kafka.output, &out), 0);
	if (strcmp(failpoint, "before_delivery") == 0)
		ck_assert_msg(out.n == 0, "%zu outputs before the producer was used", out.n);
	else
		ck_assert_msg(out.n > 0, "no output delivered before %s", failpoint);
	fx_msgs_free(&out);

	spawn(&e, &p, NULL);
	fx_wait_drained(&e.fx.kafka, &e.fx.stream, e.log_path);
	fx_ssid_stop_cleanly(&p, e.log_path);

	/* Exactly the reference: the first batch's events were not applied twice. */
	fx_check_states(&e.fx.redis, &e.fx.stream, &e.fx.model);
	/* Every user has a score out, those whose output was lost included. */
	fx_check_outputs(&e.fx.kafka, &e.fx.stream, &e.fx.model, false);
	fx_env_close(&e.fx);
}

START_TEST (test_crash_before_delivery) {
	crash_and_recover("crash1", "before_delivery");
}
END_TEST

START_TEST (test_crash_after_delivery) {
	crash_and_recover("crash2", "after_delivery");
}
END_TEST

static int64_t committed_total(struct fx_kafka *k)
{
	int64_t c[FX_PARTITIONS_MAX], sum = 0;

	if (fx_kafka_committed(k, c) < 0)
		return 0;
	for (int i = 0; i < k->partitions; i++)
		if (c[i] > 0)
			sum += c[i];
	return sum;
}

START_TEST (test_sigterm_drains) {
	struct t_rng rng = {.s = 0x5167E23};
	int64_t committed[FX_PARTITIONS_MAX], applied_end[FX_PARTITIONS_MAX];
	int64_t deadline;
	struct fx_proc p;
	struct env e;

	env_open(&e, "drain", 30, &(struct fx_conf){.batch_max_events = 25});
	ck_assert_int_eq(fx_stream_add_random(&e.fx.stream, &rng, 4000), 0);
	ck_assert_int_eq(fx_produce(&e.fx.kafka, &e.fx.stream, 0, e.fx.stream.n), 0);
	spawn(&e, &p, NULL);
	deadline = fx_deadline(FX_WAIT_MS);
	while (committed_total(&e.fx.kafka) == 0) {
		ck_assert_msg(!fx_expired(deadline), "nothing committed in %d ms (log: %s)",
			      FX_WAIT_MS, e.log_path);
		ck_assert_msg(fx_proc_wait(&p, 0) == -ETIMEDOUT, "ssid exited (log: %s)",
			      e.log_path);
		fx_pause();
	}
	fx_ssid_stop_cleanly(&p, e.log_path);
	ck_assert(fx_file_contains(e.log_path, "stopping: finishing"));
	/* Batches of 25 out of 4000 events: the stop came in the middle of the stream. */
	ck_assert_int_lt(committed_total(&e.fx.kafka), (int64_t)e.fx.stream.n);

	/*
	 * What it applied is what it committed: per partition, the highest
	 * offset any user's state has folded in is the last committed one.
	 */
	ck_assert_int_eq(fx_kafka_committed(&e.fx.kafka, committed), 0);
	for (int i = 0; i < FX_PARTITIONS_MAX; i++)
		applied_end[i] = RD_KAFKA_OFFSET_INVALID;
	for (int u = 0; u < e.fx.stream.nusers; u++) {
		struct fx_record rec;
		char id[64];

		ck_assert_int_eq(
		    fx_redis_record(&e.fx.redis, fx_user_id(&e.fx.stream, u, id, sizeof(id)), &rec),
		    0);
		for (uint32_t m = 0; m < rec.state.nmarks; m++) {
			const struct ssi_mark *mk = &rec.state.marks[m];

			ck_assert_int_lt(mk->partition, e.fx.kafka.partitions);
			if (mk->offset + 1 > applied_end[mk->partition])
				applied_end[mk->partition] = mk->offset + 1;
		}
		fx_record_clear(&rec);
	}
	for (int i = 0; i < e.fx.kafka.partitions; i++)
		ck_assert_msg(committed[i] == applied_end[i],
			      "partition %d: committed %lld, applied up to %lld (log: %s)", i,
			      (long long)committed[i], (long long)applied_end[i], e.log_path);

	/* A restart takes over from there: nothing lost, nothing twice. */
	spawn(&e, &p, NULL);
	fx_wait_drained(&e.fx.kafka, &e.fx.stream, e.log_path);
	fx_ssid_stop_cleanly(&p, e.log_path);
	fx_check_states(&e.fx.redis, &e.fx.stream, &e.fx.model);
	fx_check_outputs(&e.fx.kafka, &e.fx.stream, &e.fx.model, true);
	fx_env_close(&e.fx);
}
END_TEST

/* Run ssid with args to completion; its exit code, stdout+stderr in fx_dir()/name. */
static int run_ssid(const char *const args[], const char *name, char *out_path, size_t len)
{
	const char *argv[8] = {fx_ssid_path()};
	struct fx_proc p;
	size_t n = 1;

	for (size_t i = 0; args[i] && n < sizeof(argv) / sizeof(argv[0]) - 1; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	fx_path(out_path, len, name);
	ck_assert_int_eq(
	    fx_spawn(&p, argv, (const char *const[]){"NOTIFY_SOCKET", NULL}, out_path, out_path),
	    0);
	ck_assert_msg(fx_proc_wait(&p, FX_WAIT_MS) == 0, "ssid %s did not exit", args[0]);
	ck_assert_msg(WIFEXITED(p.status), "ssid %s died of signal %d", args[0],
		      WIFSIGNALED(p.status) ? WTERMSIG(p.status) : 0);
	return WEXITSTATUS(p.status);
}

/* A configuration that is complete, with line after it; returns line's number. */
static unsigned write_conf(const char *path, const char *model, const char *line)
{
	char text[2048];
	unsigned lines = 0;
	int n;

	n = snprintf(text, sizeof(text),
		     "# a daemon test configuration\n"
		     "model.file = \"%s\"\n"
		     "redis.port = 1\n"
		     "clock = " FX_CLOCK "\n"
		     "kafka.bootstrap.servers = 127.0.0.1:1\n"
		     "kafka.group.id = badconf\n",
		     model);
	ck_assert(n > 0 && (size_t)n < sizeof(text));
	for (int i = 0; i < n; i++)
		lines += text[i] == '\n';
	snprintf(text + n, sizeof(text) - (size_t)n, "%s\n", line);
	ck_assert_int_eq(fx_write_file(path, text, strlen(text)), 0);
	return lines + 1;
}

/* Exit 78 (also for --check-config), and the message names file, line and key. */
static void expect_config_error(const char *name, const char *line, const char *key)
{
	char conf[PATH_MAX], out[PATH_MAX], where[PATH_MAX + 64];
	unsigned at = write_conf(fx_path(conf, sizeof(conf), name), fx_model_path(), line);
	const char *const check[] = {"--check-config", "--config", conf, NULL};
	const char *const run[] = {"--config", conf, NULL};
	const char *const *args[] = {check, run};

	snprintf(where, sizeof(where), "%s:%u: %s:", conf, at, key);
	for (size_t i = 0; i < 2; i++) {
		char *text;

		ck_assert_msg(run_ssid(args[i], "bad.out", out, sizeof(out)) == EX_CONFIG,
			      "ssid %s %s does not exit with %d", args[i][0], conf, EX_CONFIG);
		text = fx_read_file(out, NULL);
		ck_assert_ptr_nonnull(text);
		ck_assert_msg(strstr(text, where), "\"%s\" not in ssid's message: %s", where, text);
		free(text);
		unlink(out);
	}
}

START_TEST (test_command_line) {
	char conf[PATH_MAX], out[PATH_MAX], bad_model[PATH_MAX];

	expect_config_error("unknown.conf", "batch.max_event = 500", "batch.max_event");
	expect_config_error("value.conf", "batch.max_events = lots", "batch.max_events");
	expect_config_error("range.conf", "redis.db = 99", "redis.db");
	expect_config_error("kafka.conf", "kafka.no.such.property = 1", "kafka.no.such.property");
	expect_config_error("forced.conf", "kafka.consumer.enable.auto.commit = true",
			    "kafka.consumer.enable.auto.commit");

	/* A model that does not load is a configuration error too. */
	fx_path(bad_model, sizeof(bad_model), "model.json");
	ck_assert_int_eq(fx_write_file(bad_model, "{\"model_version\": 1}", 20), 0);
	write_conf(fx_path(conf, sizeof(conf), "badmodel.conf"), bad_model, "");
	ck_assert_int_eq(
	    run_ssid((const char *const[]){"--config", conf, NULL}, "model.out", out, sizeof(out)),
	    EX_CONFIG);
	ck_assert(fx_file_contains(out, bad_model));

	write_conf(fx_path(conf, sizeof(conf), "good.conf"), fx_model_path(),
		   "batch.max_events = 500");
	ck_assert_int_eq(run_ssid((const char *const[]){"--check-config", "--config", conf, NULL},
				  "check.out", out, sizeof(out)),
			 EX_OK);
	ck_assert(fx_file_contains(out, "configuration and model OK"));
	ck_assert_int_eq(
	    run_ssid((const char *const[]){"--version", NULL}, "version.out", out, sizeof(out)),
	    EX_OK);
	ck_assert(fx_file_contains(out, "ssid "));
	ck_assert_int_eq(
	    run_ssid((const char *const[]){"--help", NULL}, "help.out", out, sizeof(out)), EX_OK);
	ck_assert(fx_file_contains(out, "usage: ssid"));
	ck_assert_int_eq(
	    run_ssid((const char *const[]){"--frobnicate", NULL}, "usage.out", out, sizeof(out)),
	    EX_USAGE);
	ck_assert(fx_file_contains(out, "usage: ssid"));
	ck_assert_int_eq(run_ssid((const char *const[]){"--config", conf, "extra", NULL},
				  "extra.out", out, sizeof(out)),
			 EX_USAGE);
	ck_assert_int_eq(run_ssid((const char *const[]){"--config", "/nonexistent/ssid.conf", NULL},
				  "missing.out", out, sizeof(out)),
			 EX_CONFIG);
	ck_assert(fx_file_contains(out, "/nonexistent/ssid.conf"));
}
END_TEST

/* Datagrams received on our NOTIFY_SOCKET, in order. */
struct notify_log {
	int fd;
	char *msg[256];
	size_t n;
};

static void notify_open(struct notify_log *l, const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	memset(l, 0, sizeof(*l));
	ck_assert_uint_lt(strlen(path), sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path));
	l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(l->fd, 0);
	ck_assert_int_eq(bind(l->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
}

static void notify_close(struct notify_log *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->msg[i]);
	close(l->fd);
}

/* Whether one of msg's lines is line (or starts with it, when line ends in '='). */
static bool has_line(const char *msg, const char *line)
{
	size_t len = strlen(line);
	bool prefix = line[len - 1] == '=';

	for (const char *p = msg;;) {
		if (strncmp(p, line, len) == 0 && (prefix || p[len] == '\n' || p[len] == '\0'))
			return true;
		p = strchr(p, '\n');
		if (!p)
			return false;
		p++;
	}
}

/* The first datagram at or after from with line, or -1. */
static long notify_find(const struct notify_log *l, size_t from, const char *line)
{
	for (size_t i = from; i < l->n; i++)
		if (has_line(l->msg[i], line))
			return (long)i;
	return -1;
}

/* Receive until a datagram at or after from has line; returns its index. */
static size_t notify_wait(struct notify_log *l, size_t from, const char *line, const char *log)
{
	int64_t deadline = fx_deadline(FX_WAIT_MS);
	long at;

	while ((at = notify_find(l, from, line)) < 0) {
		struct pollfd pfd = {.fd = l->fd, .events = POLLIN};
		char buf[4096];
		ssize_t got;

		ck_assert_msg(!fx_expired(deadline), "no %s from ssid in %d ms (log: %s)", line,
			      FX_WAIT_MS, log);
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		got = recv(l->fd, buf, sizeof(buf) - 1, 0);
		ck_assert_int_ge(got, 0);
		buf[got] = '\0';
		ck_assert_msg(l->n < sizeof(l->msg) / sizeof(l->msg[0]), "too many notifications");
		l->msg[l->n] = strdup(buf);
		ck_assert_ptr_nonnull(l->msg[l->n]);
		l->n++;
	}
	return (size_t)at;
}

START_TEST (test_sd_notify) {
	char sock[PATH_MAX], env_socket[PATH_MAX + 16];
	const char *const env[] = {env_socket, "WATCHDOG_USEC=200000", NULL};
	struct notify_log nl;
	struct fx_proc p;
	struct env e;
	size_t ready, status, reloading, stopping;

	env_open(&e, "notify", 4, NULL);
	notify_open(&nl, fx_path(sock, sizeof(sock), "notify.sock"));
	snprintf(env_socket, sizeof(env_socket), "NOTIFY_SOCKET=%s", sock);
	spawn(&e, &p, env);

	ready = notify_wait(&nl, 0, "READY=1", e.log_path);
	status = notify_wait(&nl, 0, "STATUS=", e.log_path);
	notify_wait(&nl, ready, "WATCHDOG=1", e.log_path);
	ck_assert_msg(notify_find(&nl, 0, "STOPPING=1") < 0, "STOPPING=1 before any SIGTERM");
	ck_assert_msg(strlen(nl.msg[status]) > strlen("STATUS="), "empty status");

	ck_assert_int_eq(fx_proc_signal(&p, SIGHUP), 0);
	reloading = notify_wait(&nl, ready + 1, "RELOADING=1", e.log_path);
	ck_assert(has_line(nl.msg[reloading], "MONOTONIC_USEC="));
	notify_wait(&nl, reloading + 1, "READY=1", e.log_path);
	/* Still alive after the reload: the watchdog keeps being fed. */
	notify_wait(&nl, reloading + 1, "WATCHDOG=1", e.log_path);

	ck_assert_int_eq(fx_proc_signal(&p, SIGTERM), 0);
	stopping = notify_wait(&nl, reloading + 1, "STOPPING=1", e.log_path);
	ck_assert_msg(fx_proc_wait(&p, FX_WAIT_MS) == 0, "ssid ignored SIGTERM (log: %s)",
		      e.log_path);
	ck_assert_msg(WIFEXITED(p.status) && WEXITSTATUS(p.status) == 0,
		      "ssid ended with status 0x%x (log: %s)", p.status, e.log_path);
	ck_assert_msg(notify_find(&nl, stopping + 1, "READY=1") < 0, "READY=1 after STOPPING=1");
	notify_close(&nl);
	fx_env_close(&e.fx);
}
END_TEST

Suite *process_suite(void)
{
	Suite *s = suite_create("process");
	TCase *crash = tcase_create("crash");
	TCase *signals = tcase_create("signals");
	TCase *cli = tcase_create("command_line");

	tcase_add_checked_fixture(crash, fx_setup, fx_teardown);
	tcase_set_timeout(crash, 120);
	tcase_add_test(crash, test_crash_before_delivery);
	tcase_add_test(crash, test_crash_after_delivery);
	suite_add_tcase(s, crash);

	tcase_add_checked_fixture(signals, fx_setup, fx_teardown);
	tcase_set_timeout(signals, 120);
	tcase_add_test(signals, test_sigterm_drains);
	tcase_add_test(signals, test_sd_notify);
	suite_add_tcase(s, signals);

	tcase_add_checked_fixture(cli, fx_setup, fx_teardown);
	tcase_set_timeout(cli, 60);
	tcase_add_test(cli, test_command_line);
	suite_add_tcase(s, cli);
	return s;
}
