/* A real Kafka broker for the fault suite; see fx_broker.h. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "fixture.h"
#include "fx_broker.h"

/* Run `kafka-broker.sh cmd b->dir [args]` to completion; 0 when it exited 0. */
static int run_script(const struct fx_broker *b, const char *cmd)
{
	char log[PATH_MAX + 16], out[PATH_MAX + 16];
	const char *argv[] = {FX_BROKER_SCRIPT, cmd, b->dir, NULL};
	struct fx_proc p;
	int r;

	snprintf(log, sizeof(log), "%s/script.log", b->dir);
	snprintf(out, sizeof(out), "%s/script.out", b->dir);
	r = fx_spawn(&p, argv, NULL, out, log);
	if (r < 0)
		return r;
	r = fx_proc_wait(&p, FX_BROKER_WAIT_MS);
	if (r < 0) {
		fx_proc_signal(&p, SIGKILL);
		fx_proc_wait(&p, FX_WAIT_MS);
		return r;
	}
	if (!WIFEXITED(p.status) || WEXITSTATUS(p.status) != 0) {
		/* What the script said is the only clue a failing test shows. */
		fprintf(stderr, "fx_broker: %s %s %s failed (status 0x%x)\n", FX_BROKER_SCRIPT, cmd,
			b->dir, p.status);
		fx_dump_log(log);
		return -EIO;
	}
	return 0;
}

/* The bootstrap the script wrote into dir/bootstrap. */
static int read_bootstrap(struct fx_broker *b)
{
	char path[PATH_MAX + 16];
	char *text;
	size_t n;

	snprintf(path, sizeof(path), "%s/bootstrap", b->dir);
	text = fx_read_file(path, NULL);
	if (!text)
		return -errno;
	n = strcspn(text, "\r\n");
	if (n == 0 || n >= sizeof(b->bootstrap)) {
		free(text);
		return -EBADMSG;
	}
	memcpy(b->bootstrap, text, n);
	b->bootstrap[n] = '\0';
	free(text);
	return 0;
}

int fx_broker_start(struct fx_broker *b, const char *dir)
{
	int r;

	memset(b, 0, sizeof(*b));
	if (dir) {
		snprintf(b->dir, sizeof(b->dir), "%s", dir);
		if (mkdir(b->dir, 0700) < 0 && errno != EEXIST)
			return -errno;
	} else {
		const char *tmp = getenv("TMPDIR");

		snprintf(b->dir, sizeof(b->dir), "%s/ssid-broker-XXXXXX",
			 tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(b->dir))
			return -errno;
		b->owns_dir = true;
	}
	r = run_script(b, "start");
	if (r == 0)
		r = read_bootstrap(b);
	return r;
}

int fx_broker_stop(struct fx_broker *b)
{
	return run_script(b, "stop");
}

int fx_broker_kill(struct fx_broker *b)
{
	return run_script(b, "kill");
}

int fx_broker_restart(struct fx_broker *b)
{
	char was[sizeof(b->bootstrap)];
	int r;

	snprintf(was, sizeof(was), "%s", b->bootstrap);
	r = run_script(b, "restart");
	if (r == 0)
		r = read_bootstrap(b);
	/* Clients were told this address: a broker elsewhere would be a new cluster to them. */
	if (r == 0 && strcmp(was, b->bootstrap) != 0)
		r = -EADDRNOTAVAIL;
	return r;
}

/* The JVM's pid from dir/broker.pid, or -1; async-signal-safe. */
static pid_t broker_pid(const struct fx_broker *b)
{
	char path[PATH_MAX + 16], buf[32];
	size_t dl = strlen(b->dir), i;
	ssize_t n;
	pid_t pid = 0;
	int fd;

	if (dl + sizeof("/broker.pid") > sizeof(path))
		return -1;
	memcpy(path, b->dir, dl);
	memcpy(path + dl, "/broker.pid", sizeof("/broker.pid"));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	for (i = 0; i < (size_t)n && buf[i] >= '0' && buf[i] <= '9'; i++)
		pid = pid * 10 + (buf[i] - '0');
	return i > 0 && pid > 0 ? pid : -1;
}

bool fx_broker_running(const struct fx_broker *b)
{
	char path[64], *cmdline;
	size_t len;
	bool is_kafka = false;
	pid_t pid = broker_pid(b);

	if (pid <= 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	cmdline = fx_read_file(path, &len);
	/* A reused pid, or a zombie (empty cmdline), is not our broker. */
	for (size_t i = 0; cmdline && i + strlen("kafka.Kafka") <= len && !is_kafka; i++)
		is_kafka = memcmp(cmdline + i, "kafka.Kafka", strlen("kafka.Kafka")) == 0;
	free(cmdline);
	return is_kafka;
}

int fx_broker_ensure(struct fx_broker *b)
{
	return fx_broker_running(b) ? 0 : fx_broker_restart(b);
}

void fx_broker_kill_now(const struct fx_broker *b)
{
	pid_t pid = broker_pid(b);

	if (pid > 0)
		kill(pid, SIGKILL);
}

void fx_broker_destroy(struct fx_broker *b)
{
	if (!b || !b->dir[0])
		return;
	if (fx_broker_running(b) && fx_broker_stop(b) < 0)
		fx_broker_kill_now(b);
	if (b->owns_dir && getenv("SSID_TEST_KEEP"))
		fprintf(stderr, "fx_broker: keeping %s\n", b->dir);
	else if (b->owns_dir)
		fx_remove_tree(b->dir);
	memset(b, 0, sizeof(*b));
}

static void quiet_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	(void)level;
	(void)fac;
	(void)buf;
}

/* A client of the broker for admin requests and metadata. */
static rd_kafka_t *admin_client(const struct fx_broker *b, rd_kafka_type_t type, const char *group)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char err[256];
	rd_kafka_t *rk;

	rd_kafka_conf_set_log_cb(conf, quiet_log);
	if (rd_kafka_conf_set(conf, "bootstrap.servers", b->bootstrap, err, sizeof(err)) ||
	    (group && rd_kafka_conf_set(conf, "group.id", group, err, sizeof(err)))) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rk = rd_kafka_new(type, conf, err, sizeof(err));
	if (!rk)
		rd_kafka_conf_destroy(conf);
	return rk;
}

/* Send CreateTopics and wait for its answer; an existing topic is no error. */
static int create_topic(rd_kafka_t *rk, const char *topic, int partitions,
			const char *const config[])
{
	char err[256];
	rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, 1, err, sizeof(err));
	rd_kafka_AdminOptions_t *opts = NULL;
	rd_kafka_queue_t *q = NULL;
	rd_kafka_event_t *ev = NULL;
	const rd_kafka_CreateTopics_result_t *res;
	const rd_kafka_topic_result_t **topics;
	size_t cnt = 0;
	int r = -EIO;

	if (!nt)
		return -EINVAL;
	for (size_t i = 0; config && config[i] && config[i + 1]; i += 2)
		if (rd_kafka_NewTopic_set_config(nt, config[i], config[i + 1]))
			goto out;
	opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
	q = rd_kafka_queue_new(rk);
	if (!opts || !q ||
	    rd_kafka_AdminOptions_set_operation_timeout(opts, 30000, err, sizeof(err)) ||
	    rd_kafka_AdminOptions_set_request_timeout(opts, 30000, err, sizeof(err)))
		goto out;
	rd_kafka_CreateTopics(rk, &nt, 1, opts, q);
	ev = rd_kafka_queue_poll(q, FX_WAIT_MS);
	res = ev ? rd_kafka_event_CreateTopics_result(ev) : NULL;
	if (!res || rd_kafka_event_error(ev))
		goto out;
	topics = rd_kafka_CreateTopics_result_topics(res, &cnt);
	if (cnt == 1 &&
	    (rd_kafka_topic_result_error(topics[0]) == RD_KAFKA_RESP_ERR_NO_ERROR ||
	     rd_kafka_topic_result_error(topics[0]) == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS))
		r = 0;
	else if (cnt == 1)
		fprintf(stderr, "fx_broker: creating %s: %s\n", topic,
			rd_kafka_topic_result_error_string(topics[0]));
out:
	if (ev)
		rd_kafka_event_destroy(ev);
	if (q)
		rd_kafka_queue_destroy(q);
	if (opts)
		rd_kafka_AdminOptions_destroy(opts);
	rd_kafka_NewTopic_destroy(nt);
	return r;
}

/* Whether the metadata shows topic with partitions partitions, each with a leader. */
static bool topic_ready(rd_kafka_t *rk, const char *topic, int partitions)
{
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	const struct rd_kafka_metadata *md = NULL;
	bool ready = false;

	if (!rkt)
		return false;
	if (rd_kafka_metadata(rk, 0, rkt, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
	    md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
	    md->topics[0].partition_cnt == partitions) {
		ready = true;
		for (int p = 0; p < partitions; p++)
			ready = ready && md->topics[0].partitions[p].leader >= 0;
	}
	if (md)
		rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(rkt);
	return ready;
}

int fx_broker_create_topic(const struct fx_broker *b, const char *topic, int partitions,
			   const char *const config[])
{
	rd_kafka_t *rk = admin_client(b, RD_KAFKA_PRODUCER, NULL);
	int64_t deadline = fx_deadline(FX_WAIT_MS);
	int r;

	if (!rk)
		return -EINVAL;
	r = create_topic(rk, topic, partitions, config);
	while (r == 0 && !topic_ready(rk, topic, partitions)) {
		if (fx_expired(deadline))
			r = -ETIMEDOUT;
		fx_pause();
	}
	rd_kafka_destroy(rk);
	return r;
}

int fx_broker_topics(const struct fx_broker *b, const char *tag, int partitions,
		     const char *const input_config[])
{
	static const char *const suffix[] = {"events", "scores", "dlq"};
	char topic[96];
	int r = 0;

	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]) && r == 0; i++) {
		snprintf(topic, sizeof(topic), "%s.%s", tag, suffix[i]);
		r = fx_broker_create_topic(b, topic, partitions, i == 0 ? input_config : NULL);
	}
	return r;
}

int fx_broker_warm_groups(const struct fx_broker *b)
{
	rd_kafka_t *rk = admin_client(b, RD_KAFKA_CONSUMER, "fx-broker-warmup");
	int64_t deadline = fx_deadline(FX_WAIT_MS);
	rd_kafka_topic_partition_list_t *l;
	int r = -ETIMEDOUT;

	if (!rk)
		return -EINVAL;
	l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, "fx-broker-warmup", 0);
	/* An OffsetFetch needs the group coordinator, which needs __consumer_offsets. */
	while (!fx_expired(deadline)) {
		if (rd_kafka_committed(rk, l, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
			r = 0;
			break;
		}
		fx_pause();
	}
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return r;
}
