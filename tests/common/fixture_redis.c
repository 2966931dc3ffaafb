/*
 * The fixture's redis-server (a plain server or a one-node cluster on a
 * free loopback port) and readers of what ssid stored in it (see fixture.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>
#include <hiredis/hiredis.h>

#include "fixture.h"
#include "fixture_int.h"
#include "ssid_redis.h"
#include "ssid_store.h"

/* ---- redis-server -------------------------------------------------------- */

int fx_free_port(void)
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

redisContext *fxi_redis_connect(int port)
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
	redisContext *c = fxi_redis_connect(port);
	redisReply *r = c ? redisCommand(c, "PING") : NULL;
	bool ok = r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;

	if (r)
		freeReplyObject(r);
	if (c)
		redisFree(c);
	return ok;
}

/* SSID_TEST_REDIS_CLUSTER: 0 (unset, "" or "0"), 3 ("3": three masters, three replicas) or 1. */
int fx_redis_cluster_size(void)
{
	const char *v = getenv("SSID_TEST_REDIS_CLUSTER");

	if (!v || !*v || strcmp(v, "0") == 0)
		return 0;
	return strcmp(v, "3") == 0 ? 3 : 1;
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
	redisContext *c = fxi_redis_connect(r->port);
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
int fxi_redis_spawn(struct fx_redis *r)
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
			      r->member ? FXI_NODE_TIMEOUT : "5000",
			      "--repl-diskless-sync-delay",
			      "0",
			      NULL};
	int64_t deadline = fx_deadline(FX_WAIT_MS);
	int rc;

	snprintf(port, sizeof(port), "%d", r->port);
	snprintf(log, sizeof(log), "%s/redis.log", r->dir);
	if (r->cluster) {
		/* The bus port is port + 10000 unless set: past 65535 for most free ports. */
		rc = fx_free_port();
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
			fxi_proc_kill(&r->proc);
			return -ETIMEDOUT;
		}
		fx_pause();
	}
	if (r->cluster && !r->member) {
		rc = redis_cluster_ready(r, deadline);
		if (rc < 0) {
			fxi_proc_kill(&r->proc);
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
	r->cluster = r->member || fx_redis_cluster_size() > 0;
	if (dir != r->dir)
		snprintf(r->dir, sizeof(r->dir), "%s", dir);
	if (mkdir(r->dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (!r->member && fx_redis_cluster_size() == 3)
		return fxi_cluster_start(r);
	/*
	 * Another process may take the free port before redis binds it: pick
	 * again (a cluster node picks its bus port on each spawn).
	 */
	for (int attempt = 0; attempt < 5; attempt++) {
		if (pick_port) {
			rc = fx_free_port();
			if (rc < 0)
				return rc;
			r->port = rc;
		}
		rc = fxi_redis_spawn(r);
		if (rc != -EADDRINUSE || !(pick_port || r->cluster))
			return rc;
	}
	return rc;
}

int fx_redis_stop(struct fx_redis *r)
{
	int rc;

	if (r->node)
		return fxi_cluster_stop(r);
	rc = fx_proc_signal(&r->proc, SIGTERM);
	if (rc < 0)
		return rc;
	rc = fx_proc_wait(&r->proc, FX_WAIT_MS);
	if (rc < 0)
		fxi_proc_kill(&r->proc);
	return rc;
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
	struct ssid_redis *c = fx_redis_client(r);
	uint8_t joined[SSID_STORE_STATE_PART * SSID_STORE_STATE_PARTS];
	const uint8_t *state;
	redisReply *reply;
	long len;
	int rc = 0;

	ssi_state_init(&rec->state);
	rec->has_state = rec->has_published = false;
	reply = ssid_redis_command(c, "HMGET ssi:u:{%s} " SSID_STORE_STATE_FIELDS " p", user_id);
	if (!reply || reply->type != REDIS_REPLY_ARRAY ||
	    reply->elements != SSID_STORE_STATE_PARTS + 1) {
		rc = -EIO;
		goto out;
	}
	len = ssid_store_state_join(reply->element, joined, &state);
	if (len >= 0) {
		rc = ssi_state_decode(&rec->state, state, (size_t)len);
		rec->has_state = rc == 0;
	}
	if (rc == 0 && reply->element[SSID_STORE_STATE_PARTS]->type == REDIS_REPLY_STRING) {
		rec->has_published =
		    parse_published(reply->element[SSID_STORE_STATE_PARTS]->str, &rec->published);
		if (!rec->has_published)
			rc = -EBADMSG;
	}
out:
	if (reply)
		freeReplyObject(reply);
	ssid_redis_free(c);
	return rc;
}

int fx_deliver(struct ssid_store *s, struct fx_delivery *d, size_t n, int retention_days)
{
	struct ssid_user *u = calloc(n ? n : 1, sizeof(*u));
	int rc;

	if (!u)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		ssid_user_init(&u[i], d[i].user_id);
		u[i].partition = 0;
	}
	rc = ssid_store_load(s, u, n);
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct ssi_history *h = &u[i].history;

		d[i].history_status = u[i].history_status;
		if (u[i].history_status == 0) {
			int r = ssi_history_set_retention(h, retention_days);

			if (r == 0)
				r = ssi_history_record(h, d[i].day, &d[i].score);
			rc = r < 0 ? r : 0;
		}
		if (rc == 0)
			ssid_store_stage_delivered(&u[i], &d[i].score,
						   (int64_t)d[i].day * SSI_MS_PER_DAY, "", NULL);
	}
	if (rc == 0)
		rc = ssid_store_save(s, u, n);
	for (size_t i = 0; i < n; i++)
		ssid_user_clear(&u[i]);
	free(u);
	return rc;
}

void fx_redis_start_in_scratch(struct fx_redis *r, bool persistent)
{
	char dir[PATH_MAX];

	memset(r, 0, sizeof(*r));
	ck_assert_msg(fx_redis_start(r, fx_path(dir, sizeof(dir), "redis"), persistent) == 0,
		      "redis-server did not start (see %s/redis.log)", dir);
}

void fx_redis_setup(struct fx_redis *r)
{
	fx_setup();
	fx_redis_start_in_scratch(r, false);
}

void fx_redis_teardown(struct fx_redis *r)
{
	if (r->node || (r->proc.pid > 0 && !r->proc.exited))
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
	    .cluster = r->node != NULL,
	    .nodes = r->node ? r->seeds : "",
	};
}

long fx_redis_user_keys(const struct fx_redis *r)
{
	return fx_redis_count_keys(r, "ssi:u:{*}");
}

/* The keys matching pattern on the server on port, or only on a master with masters_only. */
static long count_keys(int port, const char *pattern, bool masters_only)
{
	redisContext *c = fxi_redis_connect(port);
	redisReply *role = c && masters_only ? redisCommand(c, "ROLE") : NULL;
	redisReply *reply = NULL;
	long n = -EIO;

	if (masters_only && role && role->type == REDIS_REPLY_ARRAY && role->elements > 0 &&
	    strcmp(role->element[0]->str, "master") != 0)
		n = 0;
	else if (c && (!masters_only || role))
		reply = redisCommand(c, "KEYS %s", pattern);
	if (reply && reply->type == REDIS_REPLY_ARRAY)
		n = (long)reply->elements;
	if (role)
		freeReplyObject(role);
	if (reply)
		freeReplyObject(reply);
	if (c)
		redisFree(c);
	return n;
}

long fx_redis_count_keys(const struct fx_redis *r, const char *pattern)
{
	long total = 0;

	if (!r->node)
		return count_keys(r->port, pattern, false);
	for (int i = 0; i < FX_CLUSTER_NODES; i++) {
		long n;

		if (r->node[i].proc.pid <= 0 || r->node[i].proc.exited)
			continue;
		n = count_keys(r->node[i].port, pattern, true);
		if (n < 0)
			return n;
		total += n;
	}
	return total;
}

struct ssid_redis *fx_redis_client(const struct fx_redis *r)
{
	struct ssid_redis_opts o = fx_redis_opts(r);
	struct ssid_redis *rd = NULL;

	ck_assert_int_eq(ssid_redis_new(&rd, &o), 0);
	return rd;
}

redisContext *fx_redis_peek(const struct fx_redis *r)
{
	struct timeval tv = {.tv_sec = 5, .tv_usec = 0};
	redisContext *c = redisConnectWithTimeout("127.0.0.1", r->port, tv);

	ck_assert_msg(c && !c->err, "cannot connect to redis-server on %d", r->port);
	redisSetTimeout(c, tv);
	return c;
}

void fx_redis_peek_ok(redisContext *c, redisReply *reply)
{
	ck_assert_msg(reply, "redis: %s", c->errstr);
	ck_assert_msg(reply->type != REDIS_REPLY_ERROR, "redis: %s", reply->str);
	freeReplyObject(reply);
}

long long fx_redis_command_calls(redisContext *c, const char *cmd)
{
	redisReply *reply = redisCommand(c, "INFO commandstats");
	char needle[64];
	const char *at;
	long long calls = 0;

	ck_assert_msg(reply, "redis: %s", c->errstr);
	ck_assert_int_eq(reply->type, REDIS_REPLY_STRING);
	snprintf(needle, sizeof(needle), "cmdstat_%s:calls=", cmd);
	at = strstr(reply->str, needle);
	if (at)
		calls = strtoll(at + strlen(needle), NULL, 10);
	freeReplyObject(reply);
	return calls;
}
