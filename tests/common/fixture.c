/* Fixtures for the daemon's integration tests; see fixture.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <hiredis/hiredis.h>
#include <jansson.h>

#include "fixture.h"
#include "ssi_time.h"
#include "ssid_config.h"
#include "ssid_log.h"
#include "ssid_pipeline.h"

extern char **environ;

/* ---- time and files ------------------------------------------------------ */

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t fx_deadline(int timeout_ms)
{
	return mono_ms() + timeout_ms;
}

bool fx_expired(int64_t deadline)
{
	return mono_ms() >= deadline;
}

void fx_pause(void)
{
	struct timespec ts = {.tv_sec = 0, .tv_nsec = 5 * 1000 * 1000};

	nanosleep(&ts, NULL);
}

struct fx_daemon_run {
	struct ssid_daemon *d;
	pthread_t thread;
	atomic_bool returned;
	int rc;
	int log_fd;
};

static int daemon_run_finish(struct fx_daemon_run *run);

/*
 * What is still running, for the teardown: pids, and the daemon thread's
 * shared block (heap, not the test's stack: a CK_FORK=no failure longjmps
 * out of the test before anything on its stack could be cleaned up).
 */
#define PROCS_MAX 32
static pid_t live_pids[PROCS_MAX];
static struct fx_daemon_run *live_daemon;
static char scratch_dir[PATH_MAX];

static void procs_add(pid_t pid)
{
	for (size_t i = 0; i < PROCS_MAX; i++)
		if (live_pids[i] == 0) {
			live_pids[i] = pid;
			return;
		}
}

static void procs_remove(pid_t pid)
{
	for (size_t i = 0; i < PROCS_MAX; i++)
		if (live_pids[i] == pid)
			live_pids[i] = 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void fx_setup(void)
{
	const char *tmp = getenv("TMPDIR");

	/* hiredis writes with write(2): a server gone away must be an error, not death. */
	signal(SIGPIPE, SIG_IGN);
	snprintf(scratch_dir, sizeof(scratch_dir), "%s/ssid-test-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	ck_assert_msg(mkdtemp(scratch_dir), "mkdtemp %s: %s", scratch_dir, strerror(errno));
}

void fx_teardown(void)
{
	if (live_daemon)
		daemon_run_finish(live_daemon);
	for (size_t i = 0; i < PROCS_MAX; i++)
		if (live_pids[i] > 0) {
			kill(-live_pids[i], SIGKILL);
			kill(live_pids[i], SIGKILL);
			waitpid(live_pids[i], NULL, 0);
			live_pids[i] = 0;
		}
	ssid_log_set_fd(-1);
	if (scratch_dir[0] && getenv("SSID_TEST_KEEP"))
		fprintf(stderr, "fixture: keeping %s\n", scratch_dir);
	else if (scratch_dir[0])
		nftw(scratch_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	scratch_dir[0] = '\0';
}

const char *fx_path(char *buf, size_t len, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", scratch_dir, name);

	if (n < 0 || (size_t)n >= len)
		abort(); /* a test's own file names are short: this is a bug in the test */
	return buf;
}

int fx_write_file(const char *path, const void *data, size_t len)
{
	char tmp[PATH_MAX + 8];
	FILE *f;
	int r = 0;

	/* Rename into place, so a reader never sees half a file. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	if (fwrite(data, 1, len, f) != len)
		r = -EIO;
	if (fclose(f) != 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	return r;
}

char *fx_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t n = 0, cap = 0;

	if (!f)
		return NULL;
	for (;;) {
		if (n + 4096 + 1 > cap) {
			char *p = realloc(buf, cap = n + 8192);

			if (!p) {
				free(buf);
				fclose(f);
				errno = ENOMEM;
				return NULL;
			}
			buf = p;
		}
		size_t got = fread(buf + n, 1, 4096, f);

		n += got;
		if (got == 0)
			break;
	}
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

bool fx_file_contains(const char *path, const char *needle)
{
	char *text = fx_read_file(path, NULL);
	bool found = text && strstr(text, needle);

	free(text);
	return found;
}

const char *fx_model_path(void)
{
	static char path[PATH_MAX];

	if (!path[0] && !realpath("config/model.json", path))
		snprintf(path, sizeof(path), "config/model.json");
	return path;
}

void fx_write_model(const char *path, const char *version, double profile_weight)
{
	json_error_t jerr;
	json_t *root = json_load_file(fx_model_path(), 0, &jerr);
	json_t *brand;
	char *text;

	ck_assert_msg(root, "%s: %s", fx_model_path(), jerr.text);
	brand = json_object_get(json_object_get(root, "pillars"), "brand");
	ck_assert_ptr_nonnull(brand);
	if (version)
		json_object_set_new(root, "model_version", json_string(version));
	json_object_set_new(json_object_get(brand, "profile_completeness"), "weight",
			    json_real(profile_weight));
	json_object_set_new(json_object_get(brand, "articles"), "weight",
			    json_real(15.0 - profile_weight));
	text = json_dumps(root, JSON_INDENT(2));
	ck_assert_ptr_nonnull(text);
	ck_assert_int_eq(fx_write_file(path, text, strlen(text)), 0);
	free(text);
	json_decref(root);
}

/* ---- processes ----------------------------------------------------------- */

static bool env_name_matches(const char *entry, const char *name_or_pair)
{
	size_t n = strcspn(name_or_pair, "=");

	return strncmp(entry, name_or_pair, n) == 0 && entry[n] == '=';
}

/*
 * environ without the names env mentions, then env's "K=V" entries: a bare
 * "K" in env only removes K. Built before fork, since the child of a
 * threaded process may only make async-signal-safe calls.
 */
static char **build_env(const char *const env[])
{
	size_t n = 0, k = 0, extra = 0;
	char **out;

	while (environ[n])
		n++;
	while (env && env[extra])
		extra++;
	out = calloc(n + extra + 1, sizeof(*out));
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		bool drop = false;

		for (size_t e = 0; e < extra && !drop; e++)
			drop = env_name_matches(environ[i], env[e]);
		if (!drop)
			out[k++] = environ[i];
	}
	for (size_t e = 0; e < extra; e++)
		if (strchr(env[e], '='))
			out[k++] = (char *)env[e];
	return out;
}

static int open_output(const char *path)
{
	if (!path)
		return -1;
	return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

int fx_spawn(struct fx_proc *p, const char *const argv[], const char *const env[],
	     const char *stdout_path, const char *stderr_path)
{
	char **envp = build_env(env);
	int out_fd = open_output(stdout_path), err_fd = open_output(stderr_path);
	pid_t parent = getpid(), pid;
	int r = 0;

	memset(p, 0, sizeof(*p));
	if (!envp || (stdout_path && out_fd < 0) || (stderr_path && err_fd < 0)) {
		r = envp ? -errno : -ENOMEM;
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		r = -errno;
		goto out;
	}
	if (pid == 0) {
		sigset_t none;

		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (out_fd >= 0)
			dup2(out_fd, STDOUT_FILENO);
		if (err_fd >= 0)
			dup2(err_fd, STDERR_FILENO);
		execvpe(argv[0], (char *const *)argv, envp);
		_exit(127);
	}
	setpgid(pid, pid);
	p->pid = pid;
	procs_add(pid);
out:
	if (out_fd >= 0)
		close(out_fd);
	if (err_fd >= 0)
		close(err_fd);
	free(envp);
	return r;
}

int fx_proc_wait(struct fx_proc *p, int timeout_ms)
{
	int64_t deadline = fx_deadline(timeout_ms);

	if (p->exited)
		return 0;
	if (p->pid <= 0)
		return -ECHILD;
	for (;;) {
		pid_t got = waitpid(p->pid, &p->status, WNOHANG);

		if (got == p->pid) {
			p->exited = true;
			procs_remove(p->pid);
			return 0;
		}
		if (got < 0 && errno != EINTR)
			return -errno;
		if (fx_expired(deadline))
			return -ETIMEDOUT;
		fx_pause();
	}
}

int fx_proc_signal(struct fx_proc *p, int sig)
{
	if (p->pid <= 0 || p->exited)
		return -ESRCH;
	return kill(p->pid, sig) < 0 ? -errno : 0;
}

/* SIGKILL p's process group and reap p; fine on a process already reaped. */
static void proc_kill(struct fx_proc *p)
{
	if (p->pid <= 0)
		return;
	/* The group too: whatever the process forked (redis' rewrite child) goes with it. */
	kill(-p->pid, SIGKILL);
	if (!p->exited) {
		kill(p->pid, SIGKILL);
		fx_proc_wait(p, FX_WAIT_MS);
	}
}

bool fx_proc_group_gone(const struct fx_proc *p)
{
	return p->pid > 0 && kill(-p->pid, 0) < 0 && errno == ESRCH;
}

const char *fx_ssid_path(void)
{
	static char path[PATH_MAX];
	char exe[PATH_MAX];
	const char *env = getenv("SSID_BIN");
	ssize_t n;

	if (env && *env)
		return env;
	if (path[0])
		return path;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return "build/ssid";
	exe[n] = '\0';
	/* <build>/tests/check_daemon -> <build>/ssid */
	snprintf(path, sizeof(path), "%s/../ssid", dirname(exe));
	return path;
}

/* ---- redis-server -------------------------------------------------------- */

/* A port nobody listens on right now: the kernel's pick for port 0. */
static int free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int port;

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	else
		port = -errno;
	close(fd);
	return port;
}

static redisContext *redis_connect(int port)
{
	struct timeval tv = {.tv_sec = 2, .tv_usec = 0};
	redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);

	if (c && c->err) {
		redisFree(c);
		return NULL;
	}
	if (c)
		redisSetTimeout(c, tv);
	return c;
}

static bool redis_answers(int port)
{
	redisContext *c = redis_connect(port);
	redisReply *r = c ? redisCommand(c, "PING") : NULL;
	bool ok = r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;

	if (r)
		freeReplyObject(r);
	if (c)
		redisFree(c);
	return ok;
}

/* SSID_TEST_REDIS_CLUSTER set, to anything but "" or "0". */
static bool cluster_wanted(void)
{
	const char *v = getenv("SSID_TEST_REDIS_CLUSTER");

	return v && *v && strcmp(v, "0") != 0;
}

/* The integer field name of a CLUSTER INFO reply, or -1. */
static long cluster_info_field(const char *info, const char *name)
{
	size_t n = strlen(name);

	for (const char *at = info; (at = strstr(at, name)); at += n)
		if ((at == info || at[-1] == '\n') && at[n] == ':')
			return strtol(at + n + 1, NULL, 10);
	return -1;
}

/*
 * The node on r->port made a one-node cluster: every slot its own, unless
 * its nodes.conf gave them back on a restart, then cluster_state:ok (a node
 * says ok at the earliest 2 s after it started).
 */
static int redis_cluster_ready(const struct fx_redis *r, int64_t deadline)
{
	redisContext *c = redis_connect(r->port);
	redisReply *info = NULL, *add;
	int rc = -ETIMEDOUT;

	if (!c)
		return -ECONNREFUSED;
	while (!fx_expired(deadline)) {
		info = redisCommand(c, "CLUSTER INFO");
		if (!info || info->type != REDIS_REPLY_STRING) {
			rc = -EIO;
			break;
		}
		if (strstr(info->str, "cluster_state:ok\r\n")) {
			rc = 0;
			break;
		}
		if (cluster_info_field(info->str, "cluster_slots_assigned") == 0) {
			bool ok;

			add = redisCommand(c, "CLUSTER ADDSLOTSRANGE 0 16383");
			ok = add && add->type == REDIS_REPLY_STATUS;
			if (add)
				freeReplyObject(add);
			if (!ok) {
				rc = -EIO;
				break;
			}
		}
		freeReplyObject(info);
		info = NULL;
		fx_pause();
	}
	if (info)
		freeReplyObject(info);
	redisFree(c);
	return rc;
}

/*
 * Start the server on r->port and wait for PING (and a cluster node for
 * cluster_state:ok); -EADDRINUSE when it exited at once.
 */
static int redis_spawn(struct fx_redis *r)
{
	char port[16], bus[16], nodes[PATH_MAX + 16], log[PATH_MAX + 16];
	/* A plain server's arguments end at the NULL that stands for --cluster-enabled. */
	const char *argv[] = {"redis-server",
			      "--port",
			      port,
			      "--bind",
			      "127.0.0.1",
			      "--dir",
			      r->dir,
			      "--save",
			      "",
			      "--appendonly",
			      r->persistent ? "yes" : "no",
			      "--appendfsync",
			      "always",
			      "--daemonize",
			      "no",
			      r->cluster ? "--cluster-enabled" : NULL,
			      "yes",
			      "--cluster-config-file",
			      nodes,
			      "--cluster-port",
			      bus,
			      "--cluster-node-timeout",
			      "5000",
			      NULL};
	int64_t deadline = fx_deadline(FX_WAIT_MS);
	int rc;

	snprintf(port, sizeof(port), "%d", r->port);
	snprintf(log, sizeof(log), "%s/redis.log", r->dir);
	if (r->cluster) {
		/* The bus port is port + 10000 unless set: past 65535 for most free ports. */
		rc = free_port();
		if (rc < 0)
			return rc;
		snprintf(bus, sizeof(bus), "%d", rc);
		snprintf(nodes, sizeof(nodes), "%s/nodes.conf", r->dir);
	}
	rc = fx_spawn(&r->proc, argv, NULL, log, log);
	if (rc < 0)
		return rc;
	while (!redis_answers(r->port)) {
		if (fx_proc_wait(&r->proc, 0) == 0)
			return -EADDRINUSE;
		if (fx_expired(deadline)) {
			proc_kill(&r->proc);
			return -ETIMEDOUT;
		}
		fx_pause();
	}
	if (r->cluster) {
		rc = redis_cluster_ready(r, deadline);
		if (rc < 0) {
			proc_kill(&r->proc);
			return rc;
		}
	}
	return 0;
}

int fx_redis_start(struct fx_redis *r, const char *dir, bool persistent)
{
	bool pick_port = r->port == 0;
	int rc;

	r->persistent = persistent;
	r->cluster = cluster_wanted();
	if (dir != r->dir)
		snprintf(r->dir, sizeof(r->dir), "%s", dir);
	if (mkdir(r->dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	/*
	 * Another process may take the free port before redis binds it: pick
	 * again (a cluster node picks its bus port on each spawn).
	 */
	for (int attempt = 0; attempt < 5; attempt++) {
		if (pick_port) {
			rc = free_port();
			if (rc < 0)
				return rc;
			r->port = rc;
		}
		rc = redis_spawn(r);
		if (rc != -EADDRINUSE || !(pick_port || r->cluster))
			return rc;
	}
	return rc;
}

int fx_redis_stop(struct fx_redis *r)
{
	int rc = fx_proc_signal(&r->proc, SIGTERM);

	if (rc < 0)
		return rc;
	rc = fx_proc_wait(&r->proc, FX_WAIT_MS);
	if (rc < 0)
		proc_kill(&r->proc);
	return rc;
}

/* ---- Kafka --------------------------------------------------------------- */

static void quiet_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	(void)level;
	(void)fac;
	(void)buf;
}

static rd_kafka_conf_t *client_conf(const struct fx_kafka *k, const char *group)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char err[256];

	rd_kafka_conf_set_log_cb(conf, quiet_log);
	if (rd_kafka_conf_set(conf, "bootstrap.servers", k->bootstraps, err, sizeof(err)) ||
	    (group && rd_kafka_conf_set(conf, "group.id", group, err, sizeof(err))) ||
	    (group && rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err)))) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	return conf;
}

/* Delivery reports say where each input event landed. */
static void producer_dr(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
	struct fx_event *ev = rkm->_private;

	(void)rk;
	(void)opaque;
	if (ev && rkm->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		ev->partition = rkm->partition;
		ev->offset = rkm->offset;
	}
}

/* The test's producer and its committed-offsets inspector, on k->bootstraps. */
static int kafka_clients(struct fx_kafka *k)
{
	rd_kafka_conf_t *conf;
	char err[512];

	conf = client_conf(k, NULL);
	if (!conf || rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof(err)) ||
	    rd_kafka_conf_set(conf, "linger.ms", "5", err, sizeof(err))) {
		if (conf)
			rd_kafka_conf_destroy(conf);
		return -EINVAL;
	}
	rd_kafka_conf_set_dr_msg_cb(conf, producer_dr);
	k->producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (!k->producer) {
		rd_kafka_conf_destroy(conf);
		return -EINVAL;
	}
	conf = client_conf(k, k->group);
	if (!conf)
		return -EINVAL;
	k->inspector = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
	if (!k->inspector) {
		rd_kafka_conf_destroy(conf);
		return -EINVAL;
	}
	return 0;
}

/* The topic names of tag, and partitions checked. */
static int kafka_names(struct fx_kafka *k, const char *tag, int partitions)
{
	memset(k, 0, sizeof(*k));
	if (partitions < 1 || partitions > FX_PARTITIONS_MAX)
		return -EINVAL;
	k->partitions = partitions;
	snprintf(k->input, sizeof(k->input), "%s.events", tag);
	snprintf(k->output, sizeof(k->output), "%s.scores", tag);
	snprintf(k->dlq, sizeof(k->dlq), "%s.dlq", tag);
	snprintf(k->group, sizeof(k->group), "%s-ssid", tag);
	return 0;
}

int fx_kafka_start(struct fx_kafka *k, const char *tag, int partitions)
{
	char err[512];
	int r;

	r = kafka_names(k, tag, partitions);
	if (r < 0)
		return r;
	r = ssid_mock_new(&k->mock, 1, err, sizeof(err));
	if (r < 0)
		return r;
	k->bootstraps = ssid_mock_bootstraps(k->mock);
	if (ssid_mock_topic(k->mock, k->input, partitions) < 0 ||
	    ssid_mock_topic(k->mock, k->output, partitions) < 0 ||
	    ssid_mock_topic(k->mock, k->dlq, partitions) < 0 || kafka_clients(k) < 0) {
		fx_kafka_free(k);
		return -EINVAL;
	}
	return 0;
}

void fx_kafka_free(struct fx_kafka *k)
{
	if (!k)
		return;
	if (k->inspector) {
		rd_kafka_consumer_close(k->inspector);
		rd_kafka_destroy(k->inspector);
	}
	if (k->producer)
		rd_kafka_destroy(k->producer);
	ssid_mock_free(k->mock);
	memset(k, 0, sizeof(*k));
}

int fx_kafka_committed(struct fx_kafka *k, int64_t out[FX_PARTITIONS_MAX])
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(k->partitions);
	rd_kafka_resp_err_t err;
	int r = 0;

	for (int p = 0; p < k->partitions; p++)
		rd_kafka_topic_partition_list_add(l, k->input, p);
	err = rd_kafka_committed(k->inspector, l, 5000);
	if (err)
		r = -EIO;
	for (int p = 0; p < k->partitions && r == 0; p++) {
		if (l->elems[p].err)
			r = -EIO;
		out[p] = l->elems[p].offset;
	}
	rd_kafka_topic_partition_list_destroy(l);
	return r;
}

static char *dup_bytes(const void *p, size_t len)
{
	char *s = malloc(len + 1);

	if (!s)
		return NULL;
	if (len)
		memcpy(s, p, len);
	s[len] = '\0';
	return s;
}

static int msgs_add(struct fx_msgs *l, const rd_kafka_message_t *rkm)
{
	rd_kafka_headers_t *hdrs = NULL;
	struct fx_msg *m;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct fx_msg *a = realloc(l->m, cap * sizeof(*a));

		if (!a)
			return -ENOMEM;
		l->m = a;
		l->cap = cap;
	}
	m = &l->m[l->n];
	memset(m, 0, sizeof(*m));
	m->partition = rkm->partition;
	m->offset = rkm->offset;
	m->key_len = rkm->key_len;
	m->len = rkm->len;
	m->value = dup_bytes(rkm->payload, rkm->payload ? rkm->len : 0);
	if (rkm->key)
		m->key = dup_bytes(rkm->key, rkm->key_len);
	if (rd_kafka_message_headers(rkm, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR)
		m->headers = rd_kafka_headers_copy(hdrs);
	l->n++;
	if (!m->value || (rkm->key && !m->key))
		return -ENOMEM;
	return 0;
}

/* Ends of every partition of topic, to know when a read is complete. */
static int topic_ends(rd_kafka_t *rk, const char *topic, int partitions, int64_t *hi)
{
	for (int p = 0; p < partitions; p++) {
		int64_t lo;

		if (rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi[p], 10000))
			return -EIO;
	}
	return 0;
}

int fx_kafka_read_topic(struct fx_kafka *k, const char *topic, struct fx_msgs *out)
{
	char group[96], err[256];
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk;
	rd_kafka_topic_partition_list_t *l = NULL;
	int64_t hi[FX_PARTITIONS_MAX], next[FX_PARTITIONS_MAX];
	int64_t deadline = fx_deadline(FX_WAIT_MS);
	int r, left = 0;

	memset(out, 0, sizeof(*out));
	snprintf(group, sizeof(group), "%s-reader", k->group);
	conf = client_conf(k, group);
	if (!conf)
		return -EINVAL;
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
	if (!rk) {
		rd_kafka_conf_destroy(conf);
		return -EINVAL;
	}
	r = topic_ends(rk, topic, k->partitions, hi);
	if (r < 0)
		goto out;
	l = rd_kafka_topic_partition_list_new(k->partitions);
	for (int p = 0; p < k->partitions; p++) {
		next[p] = 0;
		if (hi[p] > 0) {
			rd_kafka_topic_partition_list_add(l, topic, p)->offset =
			    RD_KAFKA_OFFSET_BEGINNING;
			left++;
		}
	}
	if (left > 0 && rd_kafka_assign(rk, l)) {
		r = -EIO;
		goto out;
	}
	while (left > 0) {
		rd_kafka_message_t *rkm = rd_kafka_consumer_poll(rk, 100);

		if (fx_expired(deadline)) {
			r = -ETIMEDOUT;
			break;
		}
		if (!rkm)
			continue;
		if (!rkm->err && rkm->partition >= 0 && rkm->partition < k->partitions &&
		    rkm->offset < hi[rkm->partition]) {
			r = msgs_add(out, rkm);
			next[rkm->partition] = rkm->offset + 1;
			if (next[rkm->partition] == hi[rkm->partition])
				left--;
		}
		rd_kafka_message_destroy(rkm);
		if (r < 0)
			break;
	}
out:
	if (l)
		rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return r;
}

void fx_msgs_free(struct fx_msgs *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->m[i].key);
		free(l->m[i].value);
		if (l->m[i].headers)
			rd_kafka_headers_destroy(l->m[i].headers);
	}
	free(l->m);
	memset(l, 0, sizeof(*l));
}

const char *fx_msg_header(const struct fx_msg *m, const char *name, char *buf, size_t len)
{
	const void *v;
	size_t n;

	if (!m->headers || rd_kafka_header_get_last(m->headers, name, &v, &n))
		return NULL;
	snprintf(buf, len, "%.*s", (int)n, v ? (const char *)v : "");
	return buf;
}

/* ---- event streams ------------------------------------------------------- */

void fx_stream_init(struct fx_stream *s, const char *tag, int nusers)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->tag, sizeof(s->tag), "%s", tag);
	s->nusers = nusers;
}

void fx_stream_free(struct fx_stream *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->ev[i].value);
	free(s->ev);
	memset(s, 0, sizeof(*s));
}

const char *fx_user_id(const struct fx_stream *s, int user, char *buf, size_t len)
{
	snprintf(buf, len, "%s-u%02d", s->tag, user);
	return buf;
}

/* The tenant, team and industry of user ("" for none), fixed per user. */
static const char *user_segment(int user, enum ssi_segment seg)
{
	static const char *const tenants[] = {"acme", "globex", "initech"};
	static const char *const teams[] = {"emea-enterprise", "na-smb"};
	static const char *const industries[] = {"software", "logistics", "banking"};

	switch (seg) {
	case SSI_SEG_TENANT:
		return user % 5 == 4 ? "" : tenants[user % 3];
	case SSI_SEG_TEAM:
		return user % 2 ? "" : teams[(user / 2) % 2];
	case SSI_SEG_INDUSTRY:
		return user % 4 == 3 ? "" : industries[user % 3];
	case SSI_SEG__COUNT:
		break;
	}
	return "";
}

int fx_stream_add_raw(struct fx_stream *s, const char *key, int user, const void *value, size_t len,
		      const char *expect_code)
{
	struct fx_event *ev;

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		struct fx_event *a = realloc(s->ev, cap * sizeof(*a));

		if (!a)
			return -ENOMEM;
		s->ev = a;
		s->cap = cap;
	}
	ev = &s->ev[s->n];
	memset(ev, 0, sizeof(*ev));
	snprintf(ev->key, sizeof(ev->key), "%s", key);
	ev->value = dup_bytes(value, len);
	if (!ev->value)
		return -ENOMEM;
	ev->len = len;
	ev->user = user;
	snprintf(ev->expect_code, sizeof(ev->expect_code), "%s", expect_code ? expect_code : "");
	ev->partition = -1;
	ev->offset = -1;
	s->n++;
	return 0;
}

static const char *yes_no(struct t_rng *rng)
{
	return t_below(rng, 2) ? "true" : "false";
}

/* The attrs object an event of type t needs (or may carry), into buf. */
static void random_attrs(char *buf, size_t len, enum ssi_event_type t, struct t_rng *rng,
			 uint64_t seq)
{
	switch (t) {
	case SSI_EV_PROFILE_UPDATED:
		snprintf(buf, len,
			 ",\"attrs\":{\"photo\":%s,\"background_photo\":%s,\"headline\":%s,"
			 "\"summary\":%s,\"experience\":%s,\"skills\":%d,\"featured_media\":%d}",
			 yes_no(rng), yes_no(rng), yes_no(rng), yes_no(rng), yes_no(rng),
			 (int)t_below(rng, 20), (int)t_below(rng, 5));
		break;
	case SSI_EV_SEARCH_PERFORMED:
		snprintf(buf, len, ",\"attrs\":{\"filters\":%d}", (int)t_below(rng, 4));
		break;
	case SSI_EV_PROFILE_VIEWED:
		snprintf(buf, len, ",\"attrs\":{\"degree\":%d}", 1 + (int)t_below(rng, 3));
		break;
	case SSI_EV_CONNECTION_ADDED:
	case SSI_EV_CONNECTION_REMOVED:
		snprintf(
		    buf, len,
		    ",\"attrs\":{\"connection_id\":\"c%llu\",\"seniority\":\"%s\","
		    "\"same_company\":%s}",
		    (unsigned long long)seq,
		    ssi_seniority_name((enum ssi_seniority)(1 + t_below(rng, SSI_SEN__COUNT - 1))),
		    yes_no(rng));
		break;
	default:
		snprintf(buf, len, "%s", t_below(rng, 4) ? "" : ",\"attrs\":{}");
		break;
	}
}

/* A resend of an earlier valid event of the stream, or -ENOENT when there is none yet. */
static int add_resend(struct fx_stream *s, struct t_rng *rng)
{
	size_t from = (size_t)t_below(rng, s->n);

	for (size_t i = 0; i < s->n; i++) {
		const struct fx_event *e = &s->ev[(from + i) % s->n];

		if (e->user >= 0 && !e->expect_code[0]) {
			char key[SSI_ID_MAX + 1];

			snprintf(key, sizeof(key), "%s", e->key);
			return fx_stream_add_raw(s, key, e->user, e->value, e->len, "");
		}
	}
	return -ENOENT;
}

/* One valid event of type t for user; the first carries all of the user's segments. */
static int add_event(struct fx_stream *s, struct t_rng *rng, int user, enum ssi_event_type t,
		     bool first)
{
	uint64_t seq = s->seq++;
	char json[1024], attrs[512], segs[256] = "", when[SSI_TIME_BUFLEN], user_id[64];
	size_t off = 0;
	int64_t at;

	for (int g = 0; g < SSI_SEG__COUNT; g++) {
		const char *v = user_segment(user, (enum ssi_segment)g);

		if (v[0] && (first || t_below(rng, 4) == 0))
			off += (size_t)snprintf(segs + off, sizeof(segs) - off, ",\"%s\":\"%s\"",
						ssi_segment_name((enum ssi_segment)g), v);
	}
	at = FX_NOW_MS - 60000 - (int64_t)t_below(rng, 21 * T_DAY);
	ssi_time_format(at, when);
	random_attrs(attrs, sizeof(attrs), t, rng, seq);
	fx_user_id(s, user, user_id, sizeof(user_id));
	snprintf(json, sizeof(json),
		 "{\"event_id\":\"%s-e%llu\",\"user_id\":\"%s\",\"type\":\"%s\","
		 "\"occurred_at\":\"%s\"%s%s}",
		 s->tag, (unsigned long long)seq, user_id, ssi_event_type_name(t), when, segs,
		 attrs);
	return fx_stream_add_raw(s, user_id, user, json, strlen(json), "");
}

int fx_stream_add_random(struct fx_stream *s, struct t_rng *rng, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t seq = s->seq;
		bool first = seq < (uint64_t)s->nusers;
		int r;

		if (!first && t_below(rng, 30) == 0 && add_resend(s, rng) == 0)
			continue;
		if (first)
			r = add_event(s, rng, (int)seq, SSI_EV_PROFILE_UPDATED, true);
		else if (seq - (uint64_t)s->nusers < SSI_EV__COUNT)
			r = add_event(s, rng, (int)t_below(rng, (uint64_t)s->nusers),
				      (enum ssi_event_type)(seq - (uint64_t)s->nusers), false);
		else
			r = add_event(s, rng, (int)t_below(rng, (uint64_t)s->nusers),
				      (enum ssi_event_type)t_below(rng, SSI_EV__COUNT), false);
		if (r < 0)
			return r;
	}
	return 0;
}

int fx_stream_add_each_user(struct fx_stream *s, struct t_rng *rng, enum ssi_event_type t)
{
	for (int u = 0; u < s->nusers; u++) {
		int r = add_event(s, rng, u, t, false);

		if (r < 0)
			return r;
	}
	return 0;
}

int fx_produce(struct fx_kafka *k, struct fx_stream *s, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++) {
		struct fx_event *ev = &s->ev[i];
		rd_kafka_resp_err_t err;

		for (;;) {
			err = rd_kafka_producev(k->producer, RD_KAFKA_V_TOPIC(k->input),
						RD_KAFKA_V_KEY(ev->key, strlen(ev->key)),
						RD_KAFKA_V_VALUE(ev->value, ev->len),
						RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
						RD_KAFKA_V_OPAQUE(ev), RD_KAFKA_V_END);
			if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
				break;
			rd_kafka_poll(k->producer, 10);
		}
		if (err)
			return -EIO;
	}
	if (rd_kafka_flush(k->producer, FX_WAIT_MS))
		return -ETIMEDOUT;
	for (size_t i = from; i < to; i++)
		if (s->ev[i].offset < 0)
			return -EIO;
	return 0;
}

/* Messages produced so far per input partition, i.e. the offsets to commit. */
static void stream_ends(const struct fx_stream *s, int64_t out[FX_PARTITIONS_MAX])
{
	for (int p = 0; p < FX_PARTITIONS_MAX; p++)
		out[p] = RD_KAFKA_OFFSET_INVALID;
	for (size_t i = 0; i < s->n; i++) {
		const struct fx_event *e = &s->ev[i];

		if (e->offset >= 0 && e->partition >= 0 && e->partition < FX_PARTITIONS_MAX &&
		    (out[e->partition] < 0 || e->offset + 1 > out[e->partition]))
			out[e->partition] = e->offset + 1;
	}
}

static bool offsets_equal(const int64_t a[FX_PARTITIONS_MAX], const int64_t b[FX_PARTITIONS_MAX],
			  int partitions)
{
	for (int p = 0; p < partitions; p++)
		if (a[p] != b[p])
			return false;
	return true;
}

int fx_reference_state(const struct fx_stream *s, int user, size_t upto, const struct ssi_model *m,
		       struct ssi_state *out, size_t *applied, size_t *duplicates)
{
	struct ssi_event_limits lim = {.max_bytes = m->max_event_bytes};
	bool touched = false;

	ssi_state_clear(out);
	for (size_t i = 0; i < upto && i < s->n; i++) {
		const struct fx_event *e = &s->ev[i];
		struct ssi_event ev;
		struct ssi_reject why;
		int r;

		if (e->user != user || e->expect_code[0])
			continue;
		if (ssi_event_parse(e->value, e->len, &lim, &ev, &why) < 0 ||
		    ssi_event_check_time(&ev, m->window_days, m->future_tolerance_ms, FX_NOW_MS,
					 &why) < 0)
			return -EINVAL;
		r = ssi_state_apply(out, m, &ev);
		if (r < 0)
			return r;
		if (r == 0 && duplicates)
			(*duplicates)++;
		if (r == 1 && applied)
			(*applied)++;
		touched = true;
	}
	if (touched)
		ssi_state_prune(out, m, FX_NOW_MS);
	return 0;
}

/* ---- Redis records ------------------------------------------------------- */

void fx_record_clear(struct fx_record *rec)
{
	if (!rec)
		return;
	ssi_state_clear(&rec->state);
	rec->has_state = rec->has_published = false;
}

/* Field p as ssid_store writes it now (v2, with the time and model). */
static bool parse_published(const char *s, struct ssi_score *sc)
{
	struct ssid_published pub;

	if (!ssid_store_published_parse(s, strlen(s), &pub) || !pub.model[0])
		return false;
	*sc = pub.score;
	return true;
}

int fx_redis_record(const struct fx_redis *r, const char *user_id, struct fx_record *rec)
{
	redisContext *c = redis_connect(r->port);
	redisReply *reply;
	int rc = 0;

	ssi_state_init(&rec->state);
	rec->has_state = rec->has_published = false;
	if (!c)
		return -ECONNREFUSED;
	reply = redisCommand(c, "HMGET ssi:u:{%s} s p", user_id);
	if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
		rc = -EIO;
		goto out;
	}
	if (reply->element[0]->type == REDIS_REPLY_STRING) {
		rc = ssi_state_decode(&rec->state, (const uint8_t *)reply->element[0]->str,
				      reply->element[0]->len);
		rec->has_state = rc == 0;
	}
	if (rc == 0 && reply->element[1]->type == REDIS_REPLY_STRING) {
		rec->has_published = parse_published(reply->element[1]->str, &rec->published);
		if (!rec->has_published)
			rc = -EBADMSG;
	}
out:
	if (reply)
		freeReplyObject(reply);
	redisFree(c);
	return rc;
}

void fx_redis_setup(struct fx_redis *r)
{
	char dir[PATH_MAX];

	fx_setup();
	memset(r, 0, sizeof(*r));
	ck_assert_msg(fx_redis_start(r, fx_path(dir, sizeof(dir), "redis"), false) == 0,
		      "redis-server did not start (see %s/redis.log)", dir);
}

void fx_redis_teardown(struct fx_redis *r)
{
	if (r->proc.pid > 0 && !r->proc.exited)
		fx_redis_stop(r);
	fx_teardown();
}

struct ssid_redis_opts fx_redis_opts(const struct fx_redis *r)
{
	return (struct ssid_redis_opts){
	    .host = "127.0.0.1",
	    .port = r->port,
	    .connect_timeout_ms = 5000,
	    .command_timeout_ms = 30000,
	    .key_prefix = "ssi:",
	};
}

long fx_redis_user_keys(const struct fx_redis *r)
{
	return fx_redis_count_keys(r, "ssi:u:{*}");
}

long fx_redis_count_keys(const struct fx_redis *r, const char *pattern)
{
	redisContext *c = redis_connect(r->port);
	redisReply *reply = c ? redisCommand(c, "KEYS %s", pattern) : NULL;
	long n = reply && reply->type == REDIS_REPLY_ARRAY ? (long)reply->elements : -EIO;

	if (reply)
		freeReplyObject(reply);
	if (c)
		redisFree(c);
	return n;
}

/* ---- ssid ---------------------------------------------------------------- */

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
	char batch[64] = "";
	int n;

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
		     "model.file = \"%s\"\n"
		     "clock = %s\n"
		     "%s"
		     "batch.max_wait_ms = 20\n"
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
		     k->input, k->output, k->dlq, r->port,
		     c && c->model_file ? c->model_file : fx_model_path(),
		     c && c->clock ? c->clock : FX_CLOCK, batch, k->bootstraps, k->group,
		     c && c->extra ? c->extra : "");
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

/* Stop, join (bounded) and free; a thread that will not end is left alone. */
static int daemon_run_finish(struct fx_daemon_run *run)
{
	struct timespec until;
	int r;

	ssid_daemon_stop(run->d);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += FX_WAIT_MS / 1000;
	r = pthread_timedjoin_np(run->thread, NULL, &until);
	if (r != 0)
		return -r;
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
	int r;

	if (!fd->run)
		return -ESRCH;
	r = daemon_run_finish(fd->run);
	if (r != -ETIMEDOUT)
		fd->run = NULL;
	return r;
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

/* ---- checks -------------------------------------------------------------- */

void fx_dump_log(const char *path)
{
	size_t len;
	char *text = fx_read_file(path, &len);
	const char *from;
	int lines = 0;

	if (!text)
		return;
	/* The last 40 lines are enough to see what the daemon was doing. */
	for (from = text + len; from > text && lines <= 40; from--)
		lines += from[-1] == '\n';
	fprintf(stderr, "---- %s (tail) ----\n%s---- end of %s ----\n", path, from, path);
	free(text);
}

void fx_wait_drained(struct fx_kafka *k, const struct fx_stream *s, const char *log_path)
{
	int64_t ends[FX_PARTITIONS_MAX], got[FX_PARTITIONS_MAX];
	int64_t deadline = fx_deadline(FX_WAIT_MS);

	stream_ends(s, ends);
	for (;;) {
		if (fx_kafka_committed(k, got) == 0 && offsets_equal(got, ends, k->partitions))
			return;
		if (fx_expired(deadline))
			break;
		fx_pause();
	}
	fx_dump_log(log_path);
	ck_abort_msg("%s: committed offsets of partition 0..3 are %lld %lld %lld %lld after %d ms, "
		     "expected %lld %lld %lld %lld (log: %s)",
		     k->group, (long long)got[0], (long long)got[1], (long long)got[2],
		     (long long)got[3], FX_WAIT_MS, (long long)ends[0], (long long)ends[1],
		     (long long)ends[2], (long long)ends[3], log_path);
}

/* The partition all of user's valid events went to (keyed by user), and the last offset. */
static bool user_last_offset(const struct fx_stream *s, int user, int32_t *partition,
			     int64_t *offset)
{
	bool any = false;

	for (size_t i = 0; i < s->n; i++) {
		const struct fx_event *e = &s->ev[i];

		if (e->user != user || e->expect_code[0] || e->offset < 0)
			continue;
		ck_assert_msg(!any || e->partition == *partition,
			      "user %d's events went to partitions %d and %d", user, *partition,
			      e->partition);
		if (!any || e->offset > *offset)
			*offset = e->offset;
		*partition = e->partition;
		any = true;
	}
	return any;
}

void fx_check_states(const struct fx_redis *r, const struct fx_stream *s, const struct ssi_model *m)
{
	for (int u = 0; u < s->nusers; u++) {
		struct ssi_state ref;
		struct fx_record rec;
		struct ssi_score want;
		char id[64];
		int32_t partition = -1;
		int64_t offset = -1;

		fx_user_id(s, u, id, sizeof(id));
		ssi_state_init(&ref);
		ck_assert_int_eq(fx_reference_state(s, u, s->n, m, &ref, NULL, NULL), 0);
		ck_assert_int_eq(fx_redis_record(r, id, &rec), 0);
		ck_assert_msg(rec.has_state, "%s: no state in Redis", id);
		ck_assert_msg(user_last_offset(s, u, &partition, &offset), "%s has no events", id);
		ck_assert_msg(ssi_state_mark_get(&rec.state, partition) == offset,
			      "%s: applied-offset mark of partition %d is %lld, last event at %lld",
			      id, partition, (long long)ssi_state_mark_get(&rec.state, partition),
			      (long long)offset);
		rec.state.nmarks = 0;
		ck_assert_msg(ssi_state_equal(&rec.state, &ref),
			      "%s: stored state differs from the engine's (%u vs %u day rows)", id,
			      rec.state.nrows, ref.nrows);
		ssi_score(&ref, m, FX_NOW_MS, &want);
		ck_assert_msg(rec.has_published, "%s: no published score in Redis", id);
		ck_assert_msg(memcmp(&rec.published, &want, sizeof(want)) == 0,
			      "%s: published total %d, the engine says %d", id, rec.published.total,
			      want.total);
		fx_record_clear(&rec);
		ssi_state_clear(&ref);
	}
}

static int centipoints(const json_t *v)
{
	return (int)lround(json_number_value(v) * 100.0);
}

/* The pillars object into sc; the total is the sum of the pillars. */
static void check_pillars(const json_t *obj, struct ssi_score *sc, const char *what, size_t at)
{
	ck_assert_msg(json_is_object(obj), "output %zu: %s is not an object", at, what);
	ck_assert_int_eq(json_object_size(obj), SSI_PILLAR__COUNT);
	sc->total = 0;
	for (int p = 0; p < SSI_PILLAR__COUNT; p++) {
		const json_t *v = json_object_get(obj, ssi_pillar_name((enum ssi_pillar)p));

		ck_assert_msg(json_is_number(v), "output %zu: %s.%s missing", at, what,
			      ssi_pillar_name((enum ssi_pillar)p));
		sc->pillar[p] = centipoints(v);
		ck_assert_msg(sc->pillar[p] >= 0 && sc->pillar[p] <= 2500,
			      "output %zu: %s.%s out of range", at, what,
			      ssi_pillar_name((enum ssi_pillar)p));
		sc->total += sc->pillar[p];
	}
}

/* Which user of the stream an id names, or -1. */
static int user_of(const struct fx_stream *s, const char *id)
{
	char want[64];

	for (int u = 0; u < s->nusers; u++)
		if (strcmp(fx_user_id(s, u, want, sizeof(want)), id) == 0)
			return u;
	return -1;
}

bool fx_output_is_score(const struct fx_msg *msg)
{
	json_t *root = json_loadb(msg->value, msg->len, 0, NULL);
	const char *type = json_string_value(json_object_get(root, "type"));
	bool yes = !type || strcmp(type, "score.updated") == 0;

	json_decref(root);
	return yes;
}

int fx_parse_output(const struct fx_stream *s, const struct fx_msg *msg, size_t at,
		    struct fx_output *out)
{
	json_error_t jerr;
	json_t *root = json_loadb(msg->value, msg->len, 0, &jerr);
	const json_t *prev, *v;
	const char *id;

	ck_assert_msg(root, "output %zu is not JSON: %s: %s", at, jerr.text, msg->value);
	ck_assert_msg(json_is_object(root), "output %zu is not an object", at);
	ck_assert_msg(json_integer_value(json_object_get(root, "schema")) == 1,
		      "output %zu: schema is not 1", at);
	ck_assert_str_eq(json_string_value(json_object_get(root, "type")), "score.updated");
	id = json_string_value(json_object_get(root, "user_id"));
	ck_assert_msg(id, "output %zu: no user_id", at);
	ck_assert_msg(msg->key && strcmp(msg->key, id) == 0, "output %zu: key is not the user id",
		      at);
	memset(out, 0, sizeof(*out));
	out->user = user_of(s, id);
	ck_assert_msg(out->user >= 0, "output %zu: unknown user %s", at, id);
	for (int g = 0; g < SSI_SEG__COUNT; g++) {
		v = json_object_get(root, ssi_segment_name((enum ssi_segment)g));
		snprintf(out->segment[g], sizeof(out->segment[g]), "%s",
			 v ? json_string_value(v) : "");
		ck_assert_msg(!v || (json_is_string(v) && out->segment[g][0]),
			      "output %zu: %s is not a non-empty string", at,
			      ssi_segment_name((enum ssi_segment)g));
	}
	v = json_object_get(root, "ssi");
	ck_assert_msg(json_is_number(v), "output %zu: no ssi", at);
	check_pillars(json_object_get(root, "pillars"), &out->score, "pillars", at);
	ck_assert_msg(centipoints(v) == out->score.total,
		      "output %zu: ssi %d is not the sum of the pillars %d", at, centipoints(v),
		      out->score.total);
	prev = json_object_get(root, "previous");
	ck_assert_msg(prev && (json_is_null(prev) || json_is_number(prev)),
		      "output %zu: previous missing", at);
	v = json_object_get(root, "delta");
	ck_assert_msg(json_is_number(v), "output %zu: no delta", at);
	out->has_previous = !json_is_null(prev);
	if (out->has_previous) {
		check_pillars(json_object_get(root, "previous_pillars"), &out->previous,
			      "previous_pillars", at);
		ck_assert_int_eq(centipoints(prev), out->previous.total);
		ck_assert_int_eq(centipoints(v), out->score.total - out->previous.total);
	} else {
		ck_assert_int_eq(centipoints(v), out->score.total);
	}
	v = json_object_get(root, "cause");
	ck_assert_msg(json_is_string(v) && (strcmp(json_string_value(v), "event") == 0 ||
					    strcmp(json_string_value(v), "decay") == 0 ||
					    strcmp(json_string_value(v), "model") == 0),
		      "output %zu: cause", at);
	snprintf(out->cause, sizeof(out->cause), "%s", json_string_value(v));
	v = json_object_get(root, "events");
	ck_assert_msg(json_is_integer(v) && json_integer_value(v) >= 0, "output %zu: events", at);
	ck_assert_str_eq(json_string_value(json_object_get(root, "as_of")), FX_AS_OF);
	v = json_object_get(root, "model_version");
	ck_assert_msg(json_is_string(v), "output %zu: no model_version", at);
	snprintf(out->model_version, sizeof(out->model_version), "%s", json_string_value(v));
	json_decref(root);
	return out->user;
}

size_t fx_check_outputs(struct fx_kafka *k, const struct fx_stream *s, const struct ssi_model *m,
			bool chained)
{
	struct fx_msgs msgs;
	struct fx_output *last = calloc((size_t)s->nusers, sizeof(*last));
	bool *seen = calloc((size_t)s->nusers, sizeof(*seen));
	size_t n;

	ck_assert(last && seen);
	ck_assert_int_eq(fx_kafka_read_topic(k, k->output, &msgs), 0);
	/* Per partition in offset order: a user's outputs are in one partition, in order. */
	for (size_t i = 0; i < msgs.n; i++) {
		struct fx_output o;
		int u;

		if (!fx_output_is_score(&msgs.m[i]))
			continue;
		u = fx_parse_output(s, &msgs.m[i], i, &o);

		if (chained && !seen[u])
			ck_assert_msg(!o.has_previous,
				      "output %zu: first output of user %d has a "
				      "previous score",
				      i, u);
		if (chained && seen[u]) {
			ck_assert_msg(o.has_previous, "output %zu: user %d lost the previous score",
				      i, u);
			ck_assert_msg(memcmp(&o.previous, &last[u].score, sizeof(o.previous)) == 0,
				      "output %zu: previous %d is not the last output %d", i,
				      o.previous.total, last[u].score.total);
		}
		last[u] = o;
		seen[u] = true;
	}
	for (int u = 0; u < s->nusers; u++) {
		struct ssi_state ref;
		struct ssi_score want;
		char id[64];

		fx_user_id(s, u, id, sizeof(id));
		ck_assert_msg(seen[u], "%s: no score.updated at all", id);
		ssi_state_init(&ref);
		ck_assert_int_eq(fx_reference_state(s, u, s->n, m, &ref, NULL, NULL), 0);
		ssi_score(&ref, m, FX_NOW_MS, &want);
		ck_assert_msg(memcmp(&last[u].score, &want, sizeof(want)) == 0,
			      "%s: last output says %d (%d %d %d %d), the engine %d (%d %d %d %d)",
			      id, last[u].score.total, last[u].score.pillar[0],
			      last[u].score.pillar[1], last[u].score.pillar[2],
			      last[u].score.pillar[3], want.total, want.pillar[0], want.pillar[1],
			      want.pillar[2], want.pillar[3]);
		ck_assert_str_eq(last[u].model_version, m->version);
		for (int g = 0; g < SSI_SEG__COUNT; g++)
			ck_assert_msg(strcmp(last[u].segment[g], ref.segment[g]) == 0,
				      "%s: %s is \"%s\" in the output, \"%s\" in the state", id,
				      ssi_segment_name((enum ssi_segment)g), last[u].segment[g],
				      ref.segment[g]);
		ssi_state_clear(&ref);
	}
	n = msgs.n;
	fx_msgs_free(&msgs);
	free(last);
	free(seen);
	return n;
}

/* ---- the poison corpus --------------------------------------------------- */

const char *fx_poison_binary_key(void)
{
	return "\xff\xfe\xc0\xaf-poison-\xed\xa0\x80-key\x80";
}

rd_kafka_headers_t *fx_poison_garbage_headers(void)
{
	static const char binary[] = {'\0', '\x01', '\xff', '\xfe', '\0'};
	rd_kafka_headers_t *h = rd_kafka_headers_new(8);
	char big[4096];

	memset(big, 'h', sizeof(big));
	rd_kafka_header_add(h, "ssi.reason", -1, "forged", -1);
	rd_kafka_header_add(h, "ssi.source.offset", -1, "-7", -1);
	rd_kafka_header_add(h, "", 0, "empty name", -1);
	rd_kafka_header_add(h, "\xff\xfe", 2, binary, sizeof(binary));
	rd_kafka_header_add(h, "no-value", -1, NULL, 0);
	rd_kafka_header_add(h, "big", -1, big, sizeof(big));
	rd_kafka_header_add(h, "twice", -1, "1", -1);
	rd_kafka_header_add(h, "twice", -1, "2", -1);
	return h;
}

/* pad=N, pad=max or pad=max+1 as a byte count. */
static int poison_pad_target(const char *spec, size_t max_bytes, size_t *out)
{
	char *end;
	unsigned long long n;

	if (strcmp(spec, "max") == 0) {
		*out = max_bytes;
		return 0;
	}
	if (strcmp(spec, "max+1") == 0) {
		*out = max_bytes + 1;
		return 0;
	}
	errno = 0;
	n = strtoull(spec, &end, 10);
	if (errno || end == spec || *end || n == 0)
		return -EBADMSG;
	*out = (size_t)n;
	return 0;
}

/* Trailing spaces keep one JSON value one JSON value, whatever its size. */
static int poison_pad(struct fx_poison *p, size_t target)
{
	char *v;

	if (!p->value || target < p->len)
		return -EBADMSG;
	v = realloc(p->value, target + 1);
	if (!v)
		return -ENOMEM;
	memset(v + p->len, ' ', target - p->len);
	v[target] = '\0';
	p->value = v;
	p->len = target;
	return 0;
}

static int poison_option(struct fx_poison *p, const char *opt, size_t max_bytes)
{
	size_t target;
	int r;

	if (strcmp(opt, "key=null") == 0)
		p->key = FX_POISON_KEY_NULL;
	else if (strcmp(opt, "key=binary") == 0)
		p->key = FX_POISON_KEY_BINARY;
	else if (strcmp(opt, "headers=garbage") == 0)
		p->garbage_headers = true;
	else if (strcmp(opt, "value=null") == 0) {
		if (p->len != 0)
			return -EBADMSG;
		free(p->value);
		p->value = NULL;
	} else if (strncmp(opt, "pad=", 4) == 0) {
		r = poison_pad_target(opt + 4, max_bytes, &target);
		if (r < 0)
			return r;
		return poison_pad(p, target);
	} else
		return -EBADMSG;
	return 0;
}

/* One manifest line: "<file> <reason|valid> [option ...]", already split off. */
static int poison_entry(struct fx_poison *p, char *line, const char *dir, size_t max_bytes)
{
	char *save = NULL, *file, *expect, *opt, path[PATH_MAX];
	int r;

	memset(p, 0, sizeof(*p));
	file = strtok_r(line, " \t", &save);
	expect = strtok_r(NULL, " \t", &save);
	if (!file || !expect || strlen(file) >= sizeof(p->file) ||
	    strlen(expect) >= sizeof(p->expect))
		return -EBADMSG;
	snprintf(p->file, sizeof(p->file), "%s", file);
	snprintf(p->expect, sizeof(p->expect), "%s", strcmp(expect, "valid") == 0 ? "" : expect);
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	p->value = fx_read_file(path, &p->len);
	if (!p->value)
		return -errno;
	while ((opt = strtok_r(NULL, " \t", &save))) {
		r = poison_option(p, opt, max_bytes);
		if (r < 0)
			return r;
	}
	return 0;
}

int fx_poison_load(struct fx_poison_corpus *c, const char *dir, size_t max_bytes)
{
	char path[PATH_MAX], *text, *line, *save = NULL;
	size_t len, cap = 0;
	int r = 0;

	memset(c, 0, sizeof(*c));
	snprintf(path, sizeof(path), "%s/MANIFEST", dir);
	text = fx_read_file(path, &len);
	if (!text)
		return -errno;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[strspn(line, " \t")] == '\0' || line[0] == '#')
			continue;
		if (c->n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct fx_poison *a = realloc(c->e, ncap * sizeof(*a));

			if (!a) {
				r = -ENOMEM;
				break;
			}
			c->e = a;
			cap = ncap;
		}
		r = poison_entry(&c->e[c->n], line, dir, max_bytes);
		c->n++; /* counted even when it failed: fx_poison_free frees its bytes */
		if (r < 0)
			break;
	}
	free(text);
	if (r < 0)
		fx_poison_free(c);
	return r;
}

void fx_poison_free(struct fx_poison_corpus *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		free(c->e[i].value);
	free(c->e);
	memset(c, 0, sizeof(*c));
}

/* ---- a real broker ------------------------------------------------------- */

int fx_kafka_attach(struct fx_kafka *k, const char *bootstraps, const char *tag, int partitions)
{
	int r = kafka_names(k, tag, partitions);

	if (r < 0)
		return r;
	k->bootstraps = bootstraps;
	r = kafka_clients(k);
	if (r < 0)
		fx_kafka_free(k);
	return r;
}

/* ---- the poison corpus in a stream --------------------------------------- */

static void poison_dr(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
	struct fx_event *ev = rkm->_private;

	(void)rk;
	(void)opaque;
	if (ev && rkm->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		ev->partition = rkm->partition;
		ev->offset = rkm->offset;
	}
}

/*
 * Its own producer rather than fx_produce: some messages need no key, a
 * null value, junk headers, or more than librdkafka's default 1 MB.
 */
static rd_kafka_t *poison_producer(const struct fx_kafka *k)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char err[256];
	rd_kafka_t *rk;

	rd_kafka_conf_set_log_cb(conf, quiet_log);
	if (rd_kafka_conf_set(conf, "bootstrap.servers", k->bootstraps, err, sizeof(err)) ||
	    rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof(err)) ||
	    rd_kafka_conf_set(conf, "message.max.bytes", FX_POISON_MESSAGE_MAX, err, sizeof(err)) ||
	    rd_kafka_conf_set(conf, "linger.ms", "5", err, sizeof(err))) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_conf_set_dr_msg_cb(conf, poison_dr);
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (!rk)
		rd_kafka_conf_destroy(conf);
	return rk;
}

int fx_poison_run_produce(const struct fx_kafka *k, struct fx_stream *s,
			  const struct fx_poison_run *pr)
{
	rd_kafka_t *rk = poison_producer(k);
	int r = 0;

	if (!rk)
		return -EINVAL;
	for (size_t i = 0; i < s->n && r == 0; i++) {
		struct fx_event *ev = &s->ev[i];
		const struct fx_poison *p = pr->of[i];
		bool no_key = p && p->key == FX_POISON_KEY_NULL;
		bool no_value = p && !p->value;
		rd_kafka_headers_t *h =
		    p && p->garbage_headers ? fx_poison_garbage_headers() : NULL;
		rd_kafka_resp_err_t err;

		for (;;) {
			err = rd_kafka_producev(
			    rk, RD_KAFKA_V_TOPIC(k->input),
			    RD_KAFKA_V_KEY(no_key ? NULL : ev->key, no_key ? 0 : strlen(ev->key)),
			    RD_KAFKA_V_VALUE(no_value ? NULL : ev->value, no_value ? 0 : ev->len),
			    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(ev),
			    RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
			if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
				break;
			rd_kafka_poll(rk, 10);
		}
		if (err) {
			/* Headers belong to librdkafka only once the message is accepted. */
			if (h)
				rd_kafka_headers_destroy(h);
			r = -EIO;
		}
	}
	if (r == 0 && rd_kafka_flush(rk, FX_WAIT_MS))
		r = -ETIMEDOUT;
	for (size_t i = 0; i < s->n && r == 0; i++)
		if (s->ev[i].offset < 0)
			r = -EIO;
	rd_kafka_destroy(rk);
	return r;
}

/* The key a corpus entry is produced with (see the manifest's key options). */
static const char *poison_entry_key(const struct fx_stream *s, const struct fx_poison *p, size_t i,
				    char *buf, size_t len)
{
	struct ssi_event ev;

	switch (p->key) {
	case FX_POISON_KEY_BINARY:
		return fx_poison_binary_key();
	case FX_POISON_KEY_NULL:
		return "";
	case FX_POISON_KEY_USER:
		break;
	}
	/* A valid event is keyed by its own user, a bad one by some user of the stream. */
	if (!p->expect[0] && ssi_event_parse(p->value, p->len, NULL, &ev, NULL) == 0) {
		snprintf(buf, len, "%s", ev.user_id);
		return buf;
	}
	return fx_user_id(s, (int)(i % (size_t)s->nusers), buf, len);
}

void fx_poison_run_build(struct fx_poison_run *pr, struct fx_stream *s, const struct ssi_model *m)
{
	struct t_rng rng = {.s = 0x9015014};

	memset(pr, 0, sizeof(*pr));
	ck_assert_int_eq(fx_poison_load(&pr->corpus, FX_POISON_DIR, m->max_event_bytes), 0);
	pr->at = calloc(pr->corpus.n, sizeof(*pr->at));
	ck_assert_ptr_nonnull(pr->at);
	ck_assert_int_eq(fx_stream_add_random(s, &rng, 3 * (size_t)s->nusers), 0);
	for (size_t i = 0; i < pr->corpus.n; i++) {
		const struct fx_poison *p = &pr->corpus.e[i];
		char key[SSI_ID_MAX + 1];

		pr->at[i] = s->n;
		ck_assert_int_eq(fx_stream_add_raw(s, poison_entry_key(s, p, i, key, sizeof(key)),
						   -1, p->value ? p->value : "", p->len, p->expect),
				 0);
		*(p->expect[0] ? &pr->nbad : &pr->nvalid) += 1;
		ck_assert_int_eq(fx_stream_add_random(s, &rng, 1 + t_below(&rng, 3)), 0);
	}
	ck_assert_int_eq(fx_stream_add_random(s, &rng, 3 * (size_t)s->nusers), 0);
	pr->of = calloc(s->n, sizeof(*pr->of));
	ck_assert_ptr_nonnull(pr->of);
	for (size_t i = 0; i < pr->corpus.n; i++)
		pr->of[pr->at[i]] = &pr->corpus.e[i];
}

void fx_poison_run_free(struct fx_poison_run *pr)
{
	if (!pr)
		return;
	fx_poison_free(&pr->corpus);
	free(pr->at);
	free(pr->of);
	memset(pr, 0, sizeof(*pr));
}

void fx_poison_run_check_dead_letters(struct fx_kafka *k, const struct fx_stream *s,
				      const struct fx_poison_run *pr)
{
	bool *seen = calloc(s->n, sizeof(*seen));
	struct fx_msgs dlq;

	ck_assert_ptr_nonnull(seen);
	ck_assert_int_eq(fx_kafka_read_topic(k, k->dlq, &dlq), 0);
	ck_assert_uint_eq(dlq.n, pr->nbad);
	for (size_t i = 0; i < dlq.n; i++) {
		const struct fx_msg *m = &dlq.m[i];
		char reason[128], topic[128], part[32], off[32], message[256];
		const struct fx_poison *p;
		const struct fx_event *src;
		size_t at = s->n;

		ck_assert_ptr_nonnull(fx_msg_header(m, "ssi.source.partition", part, sizeof(part)));
		ck_assert_ptr_nonnull(fx_msg_header(m, "ssi.source.offset", off, sizeof(off)));
		for (size_t j = 0; j < s->n && at == s->n; j++)
			if (s->ev[j].partition == atoi(part) && s->ev[j].offset == atoll(off))
				at = j;
		ck_assert_msg(at < s->n, "dead letter %zu names %s/%s, never produced", i, part,
			      off);
		src = &s->ev[at];
		p = pr->of[at];
		if (!p || !p->expect[0]) {
			ck_abort_msg("valid event at %s/%s was dead-lettered: %s", part, off,
				     fx_msg_header(m, "ssi.reason", reason, sizeof(reason)));
			continue; /* not reached; says so to the static analysers */
		}
		ck_assert_msg(!seen[at], "%s was dead-lettered twice", p->file);
		seen[at] = true;
		ck_assert_msg(
		    strcmp(fx_msg_header(m, "ssi.reason", reason, sizeof(reason)), p->expect) == 0,
		    "%s: ssi.reason %s, the manifest says %s", p->file, reason, p->expect);
		ck_assert_str_eq(fx_msg_header(m, "ssi.source.topic", topic, sizeof(topic)),
				 k->input);
		ck_assert_ptr_nonnull(fx_msg_header(m, "ssi.message", message, sizeof(message)));
		ck_assert_msg(message[0], "%s: empty ssi.message", p->file);
		if (src->len > SSID_DLQ_VALUE_MAX) {
			/* Too big for a broker: the head of it, and how long it was. */
			char from[32];

			ck_assert_msg(m->len == SSID_DLQ_VALUE_MAX &&
					  memcmp(m->value, src->value, m->len) == 0,
				      "%s: the dead letter is not the original's first %d bytes",
				      p->file, SSID_DLQ_VALUE_MAX);
			ck_assert_msg(fx_msg_header(m, "ssi.truncated_from", from, sizeof(from)) &&
					  strtoull(from, NULL, 10) == src->len,
				      "%s: no ssi.truncated_from %zu header", p->file, src->len);
		} else {
			ck_assert_msg(m->len == src->len &&
					  memcmp(m->value, src->value, src->len) == 0,
				      "%s: the dead letter's %zu bytes are not the original %zu",
				      p->file, m->len, src->len);
		}
		if (p->key == FX_POISON_KEY_NULL)
			ck_assert_msg(!m->key, "%s: a key appeared on the dead letter", p->file);
		else
			ck_assert_msg(m->key && m->key_len == strlen(src->key) &&
					  memcmp(m->key, src->key, m->key_len) == 0,
				      "%s: the dead letter's key is not the original", p->file);
	}
	fx_msgs_free(&dlq);
	free(seen);
}

/* The engine's view of one valid corpus event: its state and score at FX_NOW_MS. */
static void poison_control_reference(const struct fx_poison *p, const struct ssi_model *m,
				     struct ssi_event *ev, struct ssi_state *ref,
				     struct ssi_score *want)
{
	struct ssi_event_limits lim = {.max_bytes = m->max_event_bytes};

	ck_assert_int_eq(ssi_event_parse(p->value, p->len, &lim, ev, NULL), 0);
	ssi_state_init(ref);
	ck_assert_int_eq(ssi_state_apply(ref, m, ev), 1);
	ssi_state_prune(ref, m, FX_NOW_MS);
	ssi_score(ref, m, FX_NOW_MS, want);
}

void fx_poison_run_check_controls(const struct fx_redis *r, const struct fx_stream *s,
				  const struct fx_poison_run *pr, const struct ssi_model *m)
{
	for (size_t i = 0; i < pr->corpus.n; i++) {
		const struct fx_poison *p = &pr->corpus.e[i];
		const struct fx_event *src = &s->ev[pr->at[i]];
		struct ssi_event ev;
		struct ssi_state ref;
		struct ssi_score want;
		struct fx_record rec;

		if (p->expect[0])
			continue;
		poison_control_reference(p, m, &ev, &ref, &want);
		ck_assert_int_eq(fx_redis_record(r, ev.user_id, &rec), 0);
		ck_assert_msg(rec.has_state, "%s: no state in Redis for %s", p->file, ev.user_id);
		ck_assert_msg(ssi_state_mark_get(&rec.state, src->partition) == src->offset,
			      "%s: mark of partition %d is %lld, the event is at %lld", p->file,
			      src->partition,
			      (long long)ssi_state_mark_get(&rec.state, src->partition),
			      (long long)src->offset);
		rec.state.nmarks = 0;
		ck_assert_msg(ssi_state_equal(&rec.state, &ref), "%s: stored state differs",
			      p->file);
		ck_assert_msg(rec.has_published && memcmp(&rec.published, &want, sizeof(want)) == 0,
			      "%s: published total %d, the engine says %d", p->file,
			      rec.published.total, want.total);
		fx_record_clear(&rec);
		ssi_state_clear(&ref);
	}
}

void fx_poison_run_check_outputs(struct fx_kafka *k, const struct fx_stream *s,
				 const struct fx_poison_run *pr, const struct ssi_model *m)
{
	int *control_total = calloc(pr->corpus.n, sizeof(*control_total));
	bool *control_seen = calloc(pr->corpus.n, sizeof(*control_seen));
	struct fx_output *last = calloc((size_t)s->nusers, sizeof(*last));
	bool *seen = calloc((size_t)s->nusers, sizeof(*seen));
	struct fx_msgs out;

	ck_assert(control_total && control_seen && last && seen);
	ck_assert_int_eq(fx_kafka_read_topic(k, k->output, &out), 0);
	for (size_t i = 0; i < out.n; i++) {
		json_t *root;
		const char *id;
		bool control = false;

		if (!fx_output_is_score(&out.m[i]))
			continue;
		root = json_loadb(out.m[i].value, out.m[i].len, 0, NULL);
		id = json_string_value(json_object_get(root, "user_id"));

		ck_assert_msg(id, "output %zu has no user_id", i);
		for (size_t c = 0; c < pr->corpus.n; c++) {
			const struct fx_poison *p = &pr->corpus.e[c];
			struct ssi_event ev;

			if (p->expect[0] ||
			    ssi_event_parse(p->value, p->len, NULL, &ev, NULL) < 0 ||
			    strcmp(ev.user_id, id) != 0)
				continue;
			control_total[c] = centipoints(json_object_get(root, "ssi"));
			control_seen[c] = control = true;
		}
		if (!control) {
			struct fx_output o;
			int u = fx_parse_output(s, &out.m[i], i, &o);

			last[u] = o;
			seen[u] = true;
		}
		json_decref(root);
	}
	for (int u = 0; u < s->nusers; u++) {
		struct ssi_state ref;
		struct ssi_score want;

		ck_assert_msg(seen[u], "user %d has no score.updated", u);
		ssi_state_init(&ref);
		ck_assert_int_eq(fx_reference_state(s, u, s->n, m, &ref, NULL, NULL), 0);
		ssi_score(&ref, m, FX_NOW_MS, &want);
		ck_assert_msg(memcmp(&last[u].score, &want, sizeof(want)) == 0,
			      "user %d: last output %d, the engine %d", u, last[u].score.total,
			      want.total);
		ssi_state_clear(&ref);
	}
	for (size_t c = 0; c < pr->corpus.n; c++) {
		const struct fx_poison *p = &pr->corpus.e[c];
		struct ssi_event ev;
		struct ssi_state ref;
		struct ssi_score want;

		if (p->expect[0])
			continue;
		poison_control_reference(p, m, &ev, &ref, &want);
		ck_assert_msg(control_seen[c], "%s: no score.updated", p->file);
		ck_assert_msg(control_total[c] == want.total, "%s: output ssi %d, the engine %d",
			      p->file, control_total[c], want.total);
		ssi_state_clear(&ref);
	}
	fx_msgs_free(&out);
	free(control_total);
	free(control_seen);
	free(last);
	free(seen);
}
