/*
 * The fixture's ssid: the configuration for a test's cluster and server,
 * the daemon in a thread of the test process, the real binary, and one
 * test's world of server, cluster, stream and model (see fixture.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>

#include "fixture.h"
#include "fixture_int.h"
#include "ssid_config.h"
#include "ssid_file.h"
#include "ssid_log.h"

/* ---- ssid ---------------------------------------------------------------- */

struct fx_daemon_run {
	struct ssid_daemon *d;
	pthread_t thread;
	atomic_bool returned;
	int rc;
	int log_fd;
};

/*
 * The daemon thread still running, for the teardown: its shared block is on
 * the heap, not the test's stack, since a CK_FORK=no failure longjmps out of
 * the test before anything on its stack could be cleaned up.
 */
static struct fx_daemon_run *live_daemon;

static int daemon_run_finish(struct fx_daemon_run *run, struct ssid_daemon_stats *st);

void fxi_daemon_finish_live(void)
{
	if (live_daemon)
		daemon_run_finish(live_daemon, NULL);
}

/*
 * The session timeout is as short as is safe with the mock cluster: a
 * restarted ssid waits for its killed predecessor to time out, but the mock
 * holds a group's first JoinGroup for 3 s and expires members that have been
 * silent for a session meanwhile, so at 3000 ms a join sometimes never gets
 * its answer (seen under valgrind).
 */
int fx_config_text(char *buf, size_t len, const struct fx_kafka *k, const struct fx_redis *r,
		   const struct fx_conf *c)
{
	char batch[64] = "", cluster[sizeof(r->seeds) + 64] = "";
	int n;

	const char *onboarding =
	    c && c->onboarding ? "" : "alert.max_event_age_ms = 0\nrank.warmup_ms = 0\n";

	if (r->node)
		snprintf(cluster, sizeof(cluster), "redis.cluster = yes\nredis.nodes = %s\n",
			 r->seeds);
	if (c && c->batch_max_events > 0)
		snprintf(batch, sizeof(batch), "batch.max_events = %d\n", c->batch_max_events);
	n = snprintf(buf, len,
		     "# written by the daemon tests\n"
		     "input.topic = %s\n"
		     "output.topic = %s\n"
		     "dlq.topic = %s\n"
		     "redis.host = 127.0.0.1\n"
		     "redis.port = %d\n"
		     "redis.connect_timeout_ms = 1000\n"
		     "redis.command_timeout_ms = 5000\n"
		     "%s"
		     "model.file = \"%s\"\n"
		     "clock = %s\n"
		     "%s%s"
		     "batch.max_wait_ms = %d\n"
		     "retry.backoff_min_ms = 20\n"
		     "retry.backoff_max_ms = 200\n"
		     "shutdown.timeout_ms = 20000\n"
		     "status.interval_ms = 100\n"
		     "log.level = info\n"
		     "kafka.bootstrap.servers = %s\n"
		     "kafka.group.id = %s\n"
		     "kafka.consumer.session.timeout.ms = 6000\n"
		     "kafka.consumer.heartbeat.interval.ms = 500\n"
		     "%s",
		     k->input, k->output, k->dlq, r->port, cluster,
		     c && c->model_file ? c->model_file : fx_model_path(),
		     c && c->clock ? c->clock : FX_CLOCK, batch, onboarding,
		     !c || c->batch_max_wait_ms == 0 ? 20
		     : c->batch_max_wait_ms < 0	     ? 0
						     : c->batch_max_wait_ms,
		     k->bootstraps, k->group, c && c->extra ? c->extra : "");
	return n < 0 || (size_t)n >= len ? -ENOBUFS : 0;
}

int fx_config_file(char *path, size_t len, const char *name, const struct fx_kafka *k,
		   const struct fx_redis *r, const struct fx_conf *c)
{
	char text[4096];
	int rc = fx_config_text(text, sizeof(text), k, r, c);

	if (rc < 0)
		return rc;
	fx_path(path, len, name);
	return fx_write_file(path, text, strlen(text));
}

static void *daemon_thread(void *arg)
{
	struct fx_daemon_run *run = arg;

	run->rc = ssid_daemon_run(run->d);
	atomic_store(&run->returned, true);
	return NULL;
}

int fx_daemon_start(struct fx_daemon *fd, const char *conf_text, char *err, size_t errlen)
{
	struct fx_daemon_run *run = calloc(1, sizeof(*run));
	struct ssid_config cfg;
	struct ssid_config_error ce;
	char conf_path[PATH_MAX];
	int r;

	memset(fd, 0, sizeof(*fd));
	if (!run)
		return -ENOMEM;
	run->log_fd = -1;
	/* A file, not a buffer: a reload reads the configuration again from its path. */
	fx_path(conf_path, sizeof(conf_path), "ssid-thread.conf");
	r = fx_write_file(conf_path, conf_text, strlen(conf_text));
	if (r < 0) {
		snprintf(err, errlen, "%s: %s", conf_path, strerror(-r));
		free(run);
		return r;
	}
	r = ssid_config_load(&cfg, conf_path, &ce);
	if (r < 0) {
		ssid_config_format_error(&ce, err, errlen);
		free(run);
		return r;
	}
	r = ssid_daemon_new(&run->d, &cfg, err, errlen);
	ssid_config_free(&cfg);
	if (r < 0) {
		free(run);
		return r;
	}
	fx_path(fd->log_path, sizeof(fd->log_path), "ssid-thread.log");
	run->log_fd = open(fd->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (run->log_fd < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", fd->log_path, strerror(errno));
		goto fail;
	}
	ssid_log_set_fd(run->log_fd);
	ssid_log_set_level(LOG_INFO);
	r = -pthread_create(&run->thread, NULL, daemon_thread, run);
	if (r < 0) {
		snprintf(err, errlen, "pthread_create: %s", strerror(-r));
		goto fail;
	}
	fd->run = live_daemon = run;
	return 0;
fail:
	ssid_log_set_fd(-1);
	if (run->log_fd >= 0)
		close(run->log_fd);
	ssid_daemon_free(run->d);
	free(run);
	return r;
}

void fx_daemon_stats(const struct fx_daemon *fd, struct ssid_daemon_stats *st)
{
	ssid_daemon_get_stats(fd->run->d, st);
}

void fx_daemon_reload(const struct fx_daemon *fd)
{
	ssid_daemon_reload(fd->run->d);
}

bool fx_daemon_returned(const struct fx_daemon *fd)
{
	return atomic_load(&fd->run->returned);
}

/*
 * Stop, join (bounded), take the final counters into st (unless NULL) and
 * free; a thread that will not end is left alone.
 */
static int daemon_run_finish(struct fx_daemon_run *run, struct ssid_daemon_stats *st)
{
	struct timespec until;
	int r;

	ssid_daemon_stop(run->d);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += FX_WAIT_MS / 1000;
	r = pthread_timedjoin_np(run->thread, NULL, &until);
	if (r != 0)
		return -r;
	if (st)
		ssid_daemon_get_stats(run->d, st);
	ssid_daemon_free(run->d);
	ssid_log_set_fd(-1);
	close(run->log_fd);
	r = run->rc;
	if (live_daemon == run)
		live_daemon = NULL;
	free(run);
	return r;
}

int fx_daemon_stop(struct fx_daemon *fd)
{
	return fx_daemon_stop_stats(fd, NULL);
}

int fx_daemon_stop_stats(struct fx_daemon *fd, struct ssid_daemon_stats *st)
{
	int r;

	if (!fd->run)
		return -ESRCH;
	r = daemon_run_finish(fd->run, st);
	if (r != -ETIMEDOUT)
		fd->run = NULL;
	return r;
}

void fx_daemon_wait_events(const struct fx_daemon *fd, uint64_t n, struct ssid_daemon_stats *st)
{
	int64_t deadline = fx_deadline(FX_WAIT_MS);

	for (;;) {
		fx_daemon_stats(fd, st);
		if (st->events >= n)
			return;
		ck_assert_msg(!fx_daemon_returned(fd), "ssid stopped (log: %s)", fd->log_path);
		ck_assert_msg(!fx_expired(deadline),
			      "ssid took in %llu of %llu events in %d ms (log: %s)",
			      (unsigned long long)st->events, (unsigned long long)n, FX_WAIT_MS,
			      fd->log_path);
		fx_pause();
	}
}

void fx_daemon_wait_until(const struct fx_daemon *fd,
			  bool (*ready)(const struct ssid_daemon_stats *), const char *what,
			  struct ssid_daemon_stats *st)
{
	int64_t deadline = fx_deadline(FX_WAIT_MS);

	for (;;) {
		fx_daemon_stats(fd, st);
		if (ready(st))
			return;
		ck_assert_msg(!fx_daemon_returned(fd), "ssid stopped (log: %s)", fd->log_path);
		ck_assert_msg(!fx_expired(deadline), "no %s within %d ms (log: %s)", what,
			      FX_WAIT_MS, fd->log_path);
		fx_pause();
	}
}

bool fx_daemon_is_degraded(const struct ssid_daemon_stats *st)
{
	return st->degraded == 1 && st->failures > 0;
}

int fx_ssid_spawn(struct fx_proc *p, const char *conf_path, const char *const env[],
		  const char *log_path)
{
	const char *argv[] = {fx_ssid_path(), "--config", conf_path, NULL};
	/* Nothing from the test's own environment may steer ssid: only env. */
	const char *base[] = {"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM",
			      "SSID_FAILPOINT"};
	const char *all[16];
	size_t n = 0;

	for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++)
		all[n++] = base[i];
	for (size_t i = 0; env && env[i] && n < sizeof(all) / sizeof(all[0]) - 1; i++)
		all[n++] = env[i];
	all[n] = NULL;
	if (access(argv[0], X_OK) < 0)
		return -errno;
	return fx_spawn(p, argv, all, log_path, log_path);
}

void fx_ssid_stop_cleanly(struct fx_proc *p, const char *log_path)
{
	ck_assert_int_eq(fx_proc_signal(p, SIGTERM), 0);
	ck_assert_msg(fx_proc_wait(p, FX_WAIT_MS) == 0, "ssid ignored SIGTERM for %d ms (log: %s)",
		      FX_WAIT_MS, log_path);
	ck_assert_msg(WIFEXITED(p->status) && WEXITSTATUS(p->status) == 0,
		      "ssid ended with status 0x%x after SIGTERM (log: %s)", p->status, log_path);
	ck_assert(fx_proc_group_gone(p));
}

/* ---- one test's world ---------------------------------------------------- */

void fx_env_open(struct fx_env *e, const char *tag, int users, bool persistent_redis)
{
	memset(e, 0, sizeof(*e));
	ck_assert_int_eq(ssid_file_load_model(&e->model, fx_model_path(), NULL), 0);
	fx_redis_start_in_scratch(&e->redis, persistent_redis);
	ck_assert_int_eq(fx_kafka_start(&e->kafka, tag, 4), 0);
	fx_stream_init(&e->stream, tag, users);
}

void fx_env_close(struct fx_env *e)
{
	fx_stream_free(&e->stream);
	fx_kafka_free(&e->kafka);
	ck_assert_int_eq(fx_redis_stop(&e->redis), 0);
}
