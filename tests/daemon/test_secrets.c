/*
 * Secrets: redis.password_file and kafka.*_file read from files (resolved
 * beside the configuration or in $CREDENTIALS_DIRECTORY), the warning for a
 * secret in a file others can read, and a secret never printed: the real
 * ssid and ssictl against a redis-server with requirepass and an ACL user,
 * with the right password (from a file, and inline) and a wrong one, every
 * output (ssid's log, its sd_notify datagrams, --check-config, ssictl's
 * stdout and stderr) searched for the passwords. The suite also holds the
 * producer's fatal error (test_producer.c).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "ctl_util.h"
#include "fixture.h"
#include "ssid_config.h"
#include "ssid_kafka.h"
#include "suites.h"

/* Recognisable, so that any leak is found by a plain search. */
#define PASSWORD     "Sekr3t-Pa55-xyzzy"
#define ACL_PASSWORD "Sekr3t-Pa55-xyzzy-acl"
#define WRONG	     "Wr0ng-Pa55-plugh"

/* ---- the configuration alone ----------------------------------------------- */

/* text written to <scratch>/name with mode; the path into path. */
static const char *write_mode(char *path, size_t len, const char *name, const char *text,
			      mode_t mode)
{
	fx_path(path, len, name);
	ck_assert_int_eq(fx_write_file(path, text, strlen(text)), 0);
	ck_assert_int_eq(chmod(path, mode), 0);
	return path;
}

/* Load <scratch>/name holding the lines after a minimal valid configuration. */
static int load(const char *name, const char *lines, mode_t mode, struct ssid_config *cfg,
		char *msg, size_t len)
{
	char path[PATH_MAX], text[2048];
	struct ssid_config_error ce;
	int r;

	snprintf(text, sizeof(text), "kafka.bootstrap.servers = 127.0.0.1:9\n%s", lines);
	write_mode(path, sizeof(path), name, text, mode);
	r = ssid_config_load(cfg, path, &ce);
	msg[0] = '\0';
	if (r < 0)
		ssid_config_format_error(&ce, msg, len);
	return r;
}

START_TEST (test_password_file) {
	char path[PATH_MAX], creds[PATH_MAX], msg[3 * PATH_MAX], want[3 * PATH_MAX];
	struct ssid_config cfg;

	/* Relative: beside the configuration file; line breaks at the end go. */
	write_mode(path, sizeof(path), "redis.pass", PASSWORD "\r\n\n", 0600);
	ck_assert_int_eq(
	    load("a.conf", "redis.password_file = redis.pass\n", 0644, &cfg, msg, sizeof(msg)), 0);
	ck_assert_str_eq(cfg.redis_password, PASSWORD);
	ck_assert_str_eq(cfg.redis_password_file, "redis.pass");
	/* A secret kept in a file of its own: no warning, even with the file world-readable. */
	ck_assert_int_eq(ssid_config_secret_warning(&cfg, msg, sizeof(msg)), 0);
	ssid_config_free(&cfg);

	/* Relative under systemd: in $CREDENTIALS_DIRECTORY (LoadCredential=). */
	fx_path(creds, sizeof(creds), "creds");
	ck_assert_int_eq(mkdir(creds, 0700), 0);
	fx_path(path, sizeof(path), "creds/redis.pass");
	ck_assert_int_eq(fx_write_file(path, ACL_PASSWORD "\n", strlen(ACL_PASSWORD) + 1), 0);
	setenv("CREDENTIALS_DIRECTORY", creds, 1);
	ck_assert_int_eq(
	    load("b.conf", "redis.password_file = redis.pass\n", 0600, &cfg, msg, sizeof(msg)), 0);
	unsetenv("CREDENTIALS_DIRECTORY");
	ck_assert_str_eq(cfg.redis_password, ACL_PASSWORD);
	ssid_config_free(&cfg);

	/* Absolute: as written. */
	snprintf(want, sizeof(want), "redis.password_file = %s\n", path);
	ck_assert_int_eq(load("c.conf", want, 0600, &cfg, msg, sizeof(msg)), 0);
	ck_assert_str_eq(cfg.redis_password, ACL_PASSWORD);
	ssid_config_free(&cfg);

	/* Errors name file, line and key, and what is wrong with the secret's file. */
	ck_assert_int_eq(
	    load("d.conf", "redis.password_file = nothere\n", 0600, &cfg, msg, sizeof(msg)),
	    -EINVAL);
	fx_path(path, sizeof(path), "d.conf");
	snprintf(want, sizeof(want),
		 "%s:2: redis.password_file: cannot open %.*snothere: No such file or directory",
		 path, (int)(strlen(path) - strlen("d.conf")), path);
	ck_assert_str_eq(msg, want);
	write_mode(path, sizeof(path), "empty.pass", "\n", 0600);
	ck_assert_int_eq(
	    load("e.conf", "redis.password_file = empty.pass\n", 0600, &cfg, msg, sizeof(msg)),
	    -EINVAL);
	ck_assert_msg(strstr(msg, "e.conf:2: redis.password_file: ") &&
			  strstr(msg, "empty.pass: empty"),
		      "%s", msg);
	ck_assert_int_eq(
	    load("fifo.conf", "redis.password_file = /dev/stdin\n", 0600, &cfg, msg, sizeof(msg)),
	    -EINVAL);
	ck_assert_msg(
	    strstr(msg, "fifo.conf:2: redis.password_file: /dev/stdin: not a regular file"), "%s",
	    msg);
	ck_assert_int_eq(load("f.conf",
			      "redis.password_file = redis.pass\nredis.password = " PASSWORD "\n",
			      0600, &cfg, msg, sizeof(msg)),
			 -EINVAL);
	ck_assert_msg(strstr(msg, "f.conf:3: redis.password: set together with "
				  "redis.password_file (line 2): use one or the other"),
		      "%s", msg);
	ck_assert_ptr_null(strstr(msg, PASSWORD));

	/* A malformed line that may hold a secret is not echoed. */
	ck_assert_int_eq(
	    load("g.conf", "redis.password " PASSWORD "\n", 0600, &cfg, msg, sizeof(msg)), -EINVAL);
	ck_assert_msg(strstr(msg, "g.conf:2: expected \"key = value\", got a line naming a secret "
				  "(not shown)"),
		      "%s", msg);
}
END_TEST

START_TEST (test_kafka_file) {
	char path[PATH_MAX], msg[1024];
	struct ssid_config cfg;
	rd_kafka_conf_t *conf;
	char value[256], err[512];
	size_t n = sizeof(value);

	write_mode(path, sizeof(path), "sasl.pass", PASSWORD "\n", 0600);
	write_mode(path, sizeof(path), "client.id", "ssid-from-file\n", 0600);
	ck_assert_int_eq(load("k.conf",
			      "kafka.sasl.password_file = sasl.pass\n"
			      "kafka.producer.client.id_file = client.id\n",
			      0600, &cfg, msg, sizeof(msg)),
			 0);
	ck_assert_str_eq(ssid_kv_list_get(&cfg.kafka, "sasl.password"), PASSWORD);
	ck_assert_uint_eq(cfg.kafka.items[1].line, 2);
	ck_assert_str_eq(ssid_kv_list_get(&cfg.kafka_producer, "client.id"), "ssid-from-file");
	ck_assert_ptr_null(ssid_kv_list_get(&cfg.kafka, "sasl.password_file"));
	/* librdkafka gets the content under the property's own name. */
	ck_assert_int_eq(
	    ssid_kafka_conf_new(&conf, &cfg, SSID_KAFKA_PRODUCER, NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(rd_kafka_conf_get(conf, "client.id", value, &n), RD_KAFKA_CONF_OK);
	ck_assert_str_eq(value, "ssid-from-file");
	rd_kafka_conf_destroy(conf);
	ssid_config_free(&cfg);

	/* The same property twice, once from a file: a duplicate. */
	ck_assert_int_eq(load("l.conf",
			      "kafka.sasl.password = " PASSWORD "\n"
			      "kafka.sasl.password_file = sasl.pass\n",
			      0600, &cfg, msg, sizeof(msg)),
			 -EINVAL);
	ck_assert_msg(strstr(msg, "l.conf:3: kafka.sasl.password_file: duplicate key (first set "
				  "on line 2)"),
		      "%s", msg);
	ck_assert_int_eq(load("m.conf", "kafka.ssl.key.password_file = /nonexistent/key.pass\n",
			      0600, &cfg, msg, sizeof(msg)),
			 -EINVAL);
	ck_assert_msg(strstr(msg, "m.conf:2: kafka.ssl.key.password_file: cannot open "
				  "/nonexistent/key.pass: No such file or directory"),
		      "%s", msg);
}
END_TEST

START_TEST (test_secret_names_and_warning) {
	const char *secret[] = {"sasl.password",	 "ssl.key.password",
				"ssl.keystore.password", "sasl.oauthbearer.client.secret",
				"ssl.key.pem",		 "sasl.oauthbearer.config",
				"redis.password",	 "kafka.producer.sasl.password"};
	const char *plain[] = {"sasl.username", "ssl.key.location", "ssl.certificate.pem",
			       "redis.user", "bootstrap.servers"};
	char msg[3 * PATH_MAX], path[PATH_MAX], want[3 * PATH_MAX];
	struct ssid_config cfg;

	for (size_t i = 0; i < sizeof(secret) / sizeof(secret[0]); i++)
		ck_assert_msg(ssid_config_is_secret(secret[i]), "%s", secret[i]);
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
		ck_assert_msg(!ssid_config_is_secret(plain[i]), "%s", plain[i]);

	/* Inline and readable by others: a warning naming the line, never the secret. */
	ck_assert_int_eq(load("w.conf", "redis.user = app\nkafka.sasl.password = " PASSWORD "\n",
			      0644, &cfg, msg, sizeof(msg)),
			 0);
	ck_assert_int_eq(ssid_config_secret_warning(&cfg, msg, sizeof(msg)), 1);
	fx_path(path, sizeof(path), "w.conf");
	snprintf(want, sizeof(want),
		 "%s:3: kafka.sasl.password: a secret in a file others can read (mode 0644): chmod "
		 "o-r %s, or keep the secret in a file of its own (kafka.sasl.password_file)",
		 path, path);
	ck_assert_str_eq(msg, want);
	ssid_config_free(&cfg);
	/* Readable by its owner and group only: quiet. */
	ck_assert_int_eq(
	    load("x.conf", "redis.password = " PASSWORD "\n", 0640, &cfg, msg, sizeof(msg)), 0);
	ck_assert_int_eq(ssid_config_secret_warning(&cfg, msg, sizeof(msg)), 0);
	ssid_config_free(&cfg);
	/* No secret (an empty password is none): quiet. */
	ck_assert_int_eq(load("y.conf", "redis.password =\n", 0644, &cfg, msg, sizeof(msg)), 0);
	ck_assert_int_eq(ssid_config_secret_warning(&cfg, msg, sizeof(msg)), 0);
	ssid_config_free(&cfg);
}
END_TEST

/* ---- ssid and ssictl against a password-protected redis-server ------------- */

/*
 * Every sd_notify datagram ssid sent, one after the other in one text. A
 * thread reads them as they come: ssid's sendmsg blocks once a few are
 * queued (net.unix.max_dgram_qlen), as it would with a stuck systemd.
 */
struct notify {
	int fd;
	char path[PATH_MAX];
	char *text;
	size_t len;
	pthread_t reader;
	pthread_mutex_t lock;
	atomic_bool stop;
};

static void *notify_reader(void *arg)
{
	struct notify *n = arg;

	while (!atomic_load(&n->stop)) {
		struct pollfd pfd = {.fd = n->fd, .events = POLLIN};
		char buf[4096];
		ssize_t got;
		char *grown;

		if (poll(&pfd, 1, 50) <= 0)
			continue;
		got = recv(n->fd, buf, sizeof(buf) - 1, 0);
		if (got < 0)
			continue;
		pthread_mutex_lock(&n->lock);
		grown = realloc(n->text, n->len + (size_t)got + 2);
		if (grown) {
			n->text = grown;
			memcpy(n->text + n->len, buf, (size_t)got);
			n->len += (size_t)got;
			n->text[n->len++] = '\n';
			n->text[n->len] = '\0';
		}
		pthread_mutex_unlock(&n->lock);
	}
	return NULL;
}

static void notify_open(struct notify *n, const char *name)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	memset(n, 0, sizeof(*n));
	fx_path(n->path, sizeof(n->path), name);
	ck_assert_uint_lt(strlen(n->path), sizeof(sa.sun_path));
	memcpy(sa.sun_path, n->path, strlen(n->path));
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(n->fd, 0);
	ck_assert_int_eq(bind(n->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	n->text = calloc(1, 1);
	ck_assert_ptr_nonnull(n->text);
	pthread_mutex_init(&n->lock, NULL);
	atomic_init(&n->stop, false);
	ck_assert_int_eq(pthread_create(&n->reader, NULL, notify_reader, n), 0);
}

static bool notify_has(struct notify *n, const char *needle)
{
	bool has;

	pthread_mutex_lock(&n->lock);
	has = strstr(n->text, needle) != NULL;
	pthread_mutex_unlock(&n->lock);
	return has;
}

/* Until the datagrams hold needle (a Check failure after FX_WAIT_MS). */
static void notify_wait(struct notify *n, const char *needle, const char *log)
{
	int64_t deadline = fx_deadline(FX_WAIT_MS);

	while (!notify_has(n, needle)) {
		ck_assert_msg(!fx_expired(deadline), "no \"%s\" from ssid (log: %s)", needle, log);
		fx_pause();
	}
}

/* Stop reading (ssid must have exited); n->text stays for a look until notify_free. */
static void notify_close(struct notify *n)
{
	atomic_store(&n->stop, true);
	pthread_join(n->reader, NULL);
	pthread_mutex_destroy(&n->lock);
	close(n->fd);
	unlink(n->path);
}

/* None of the passwords in text (what names the output, for the message). */
static void no_secret(const char *what, const char *text)
{
	const char *secrets[] = {PASSWORD, ACL_PASSWORD, WRONG};

	ck_assert_ptr_nonnull(text);
	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
		ck_assert_msg(!strstr(text, secrets[i]), "%s shows a password:\n%s", what, text);
}

static void no_secret_in_file(const char *path)
{
	char *text = fx_read_file(path, NULL);

	no_secret(path, text);
	free(text);
}

/* ssid --check-config on conf: exit 0, its output (stdout and stderr) into <scratch>/name. */
static char *check_config(const char *conf, const char *name)
{
	const char *argv[] = {fx_ssid_path(), "--check-config", "--config", conf, NULL};
	char out[PATH_MAX];
	struct fx_proc p;
	char *text;

	fx_path(out, sizeof(out), name);
	ck_assert_int_eq(fx_spawn(&p, argv, (const char *const[]){"NOTIFY_SOCKET", NULL}, out, out),
			 0);
	ck_assert_int_eq(fx_proc_wait(&p, FX_WAIT_MS), 0);
	ck_assert_msg(WIFEXITED(p.status) && WEXITSTATUS(p.status) == 0, "ssid -n %s: 0x%x", conf,
		      p.status);
	text = fx_read_file(out, NULL);
	no_secret(out, text);
	ck_assert_msg(strstr(text, "configuration and model OK"), "%s", text);
	return text;
}

/* ssictl score USER with conf: its exit code is rc; outputs searched. */
static void ssictl_score(const char *conf, const char *user, int rc, const char *err_needle)
{
	struct run r;

	ctl_conf(&r, conf, "score", user, (const char *)NULL);
	expect_rc(&r, rc);
	no_secret("ssictl's stdout", r.out);
	no_secret("ssictl's stderr", r.err);
	if (err_needle)
		ck_assert_msg(strstr(r.err, err_needle), "ssictl's stderr lacks \"%s\":\n%s",
			      err_needle, r.err);
	if (rc == 0)
		ck_assert_msg(strstr(r.out, "SSI"), "ssictl score printed no score:\n%s", r.out);
	run_free(&r);
}

/* ssid's configuration for e with extra lines, into <scratch>/name with mode. */
static void conf_file(char *path, size_t len, const struct fx_env *e, const char *name,
		      const char *extra, mode_t mode)
{
	ck_assert_int_eq(fx_config_file(path, len, name, &e->kafka, &e->redis,
					&(struct fx_conf){.extra = extra}),
			 0);
	ck_assert_int_eq(chmod(path, mode), 0);
}

/* Start ssid on conf with a notify socket of its own; returns once it said READY=1. */
static void spawn_ready(struct fx_proc *p, struct notify *n, const char *conf, const char *log,
			const char *wait_for)
{
	char env[PATH_MAX + 16];

	snprintf(env, sizeof(env), "NOTIFY_SOCKET=%s", n->path);
	ck_assert_int_eq(fx_ssid_spawn(p, conf, (const char *const[]){env, NULL}, log), 0);
	notify_wait(n, wait_for, log);
}

START_TEST (test_redis_auth) {
	struct t_rng rng = {.s = 0x5EC12E7};
	char conf[PATH_MAX], log[PATH_MAX], pass[PATH_MAX], user[SSI_ID_MAX + 1];
	struct notify nl;
	struct fx_proc p;
	struct fx_env e;
	redisContext *admin;
	size_t first;
	char *out;

	fx_env_open(&e, "secret", 6, false);
	/* The test's own connection, logged in before the server asks for passwords. */
	admin = fx_redis_peek(&e.redis);
	fx_redis_peek_ok(
	    admin, redisCommand(admin, "ACL SETUSER ssid-app on >%s ~* &* +@all", ACL_PASSWORD));
	fx_redis_peek_ok(admin, redisCommand(admin, "CONFIG SET requirepass %s", PASSWORD));
	ck_assert_int_eq(fx_stream_add_random(&e.stream, &rng, 60), 0);
	ck_assert_int_eq(fx_produce(&e.kafka, &e.stream, 0, e.stream.n), 0);
	fx_user_id(&e.stream, 0, user, sizeof(user));

	/* requirepass, the password from a file beside the configuration. */
	write_mode(pass, sizeof(pass), "redis.pass", PASSWORD "\n", 0600);
	conf_file(conf, sizeof(conf), &e, "file.conf", "redis.password_file = redis.pass\n", 0644);
	out = check_config(conf, "file.check");
	ck_assert_msg(!strstr(out, "warning"), "%s", out);
	free(out);
	notify_open(&nl, "file.sock");
	fx_path(log, sizeof(log), "file.log");
	spawn_ready(&p, &nl, conf, log, "READY=1");
	fx_wait_drained(&e.kafka, &e.stream, log);
	notify_wait(&nl, "STATUS=", log);
	ssictl_score(conf, user, 0, NULL);
	fx_ssid_stop_cleanly(&p, log);
	notify_close(&nl);
	no_secret("ssid's notifications", nl.text);
	free(nl.text);
	no_secret_in_file(log);

	/* An ACL user, the password inline in a file others can read: a warning. */
	conf_file(conf, sizeof(conf), &e, "acl.conf",
		  "redis.user = ssid-app\nredis.password = " ACL_PASSWORD "\n", 0644);
	out = check_config(conf, "acl.check");
	ck_assert_msg(strstr(out, "redis.password: a secret in a file others can read (mode "
				  "0644)"),
		      "%s", out);
	free(out);
	ssictl_score(conf, user, 0, "ssictl: warning: ");
	notify_open(&nl, "acl.sock");
	fx_path(log, sizeof(log), "acl.log");
	/* More events, scored by this ssid in the same group. */
	first = e.stream.n;
	ck_assert_int_eq(fx_stream_add_random(&e.stream, &rng, 30), 0);
	ck_assert_int_eq(fx_produce(&e.kafka, &e.stream, first, e.stream.n), 0);
	spawn_ready(&p, &nl, conf, log, "READY=1");
	fx_wait_drained(&e.kafka, &e.stream, log);
	fx_ssid_stop_cleanly(&p, log);
	ck_assert(fx_file_contains(log, "a secret in a file others can read"));
	notify_close(&nl);
	no_secret("ssid's notifications", nl.text);
	free(nl.text);
	no_secret_in_file(log);

	/* A wrong password: ssid waits for Redis and says why; ssictl exits 69. */
	write_mode(pass, sizeof(pass), "wrong.pass", WRONG "\n", 0600);
	conf_file(conf, sizeof(conf), &e, "wrong.conf",
		  "redis.user = ssid-app\nredis.password_file = wrong.pass\n", 0600);
	free(check_config(conf, "wrong.check"));
	ssictl_score(conf, user, 69, "AUTH: WRONGPASS invalid username-password pair");
	notify_open(&nl, "wrong.sock");
	fx_path(log, sizeof(log), "wrong.log");
	spawn_ready(&p, &nl, conf, log,
		    "STATUS=starting: waiting for redis: AUTH: WRONGPASS invalid "
		    "username-password pair or user is disabled.");
	fx_ssid_stop_cleanly(&p, log);
	ck_assert(fx_file_contains(log,
				   "redis refused the login (AUTH: WRONGPASS invalid "
				   "username-password pair or user is disabled.): check redis.user "
				   "and the password; retrying"));
	notify_close(&nl);
	ck_assert_msg(!strstr(nl.text, "READY=1"), "ready with a wrong password");
	no_secret("ssid's notifications", nl.text);
	free(nl.text);
	no_secret_in_file(log);

	/* No password at all against requirepass. */
	conf_file(conf, sizeof(conf), &e, "none.conf", NULL, 0600);
	ssictl_score(conf, user, 69, "NOAUTH Authentication required");

	/* What both ssid wrote, read back without passwords. */
	fx_check_outputs(&e.kafka, &e.stream, &e.model, true);
	fx_redis_peek_ok(admin, redisCommand(admin, "CONFIG SET requirepass %s", ""));
	redisFree(admin);
	fx_check_states(&e.redis, &e.stream, &e.model);
	fx_env_close(&e);
}
END_TEST

Suite *secrets_suite(void)
{
	Suite *s = suite_create("secrets");
	TCase *config = tcase_create("config");
	TCase *redis = tcase_create("redis_auth");

	tcase_add_checked_fixture(config, fx_setup, fx_teardown);
	tcase_add_test(config, test_password_file);
	tcase_add_test(config, test_kafka_file);
	tcase_add_test(config, test_secret_names_and_warning);
	suite_add_tcase(s, config);

	tcase_add_checked_fixture(redis, fx_setup, fx_teardown);
	tcase_set_timeout(redis, 120);
	tcase_add_test(redis, test_redis_auth);
	suite_add_tcase(s, redis);

	suite_add_tcase(s, producer_tcase());
	return s;
}
