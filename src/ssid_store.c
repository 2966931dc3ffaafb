/* ssid_store: pipelined per-user records in Redis over hiredis 0.14. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "ssid_store.h"

struct ssid_store {
	struct ssid_store_opts o; /* strings owned */
	redisContext *c;
	char err[256];
	uint8_t *enc; /* scratch for encoding one state */
};

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

void ssid_store_free(struct ssid_store *s)
{
	if (!s)
		return;
	if (s->c)
		redisFree(s->c);
	free((char *)s->o.host);
	free((char *)s->o.unix_socket);
	free((char *)s->o.user);
	free((char *)s->o.password);
	free((char *)s->o.key_prefix);
	free(s->enc);
	free(s);
}

int ssid_store_new(struct ssid_store **out, const struct ssid_store_opts *opts)
{
	struct ssid_store *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->o = *opts;
	s->o.host = dup_or_empty(opts->host);
	s->o.unix_socket = dup_or_empty(opts->unix_socket);
	s->o.user = dup_or_empty(opts->user);
	s->o.password = dup_or_empty(opts->password);
	s->o.key_prefix = dup_or_empty(opts->key_prefix);
	s->enc = malloc(SSI_STATE_ENCODED_MAX);
	if (!s->o.host || !s->o.unix_socket || !s->o.user || !s->o.password || !s->o.key_prefix ||
	    !s->enc) {
		ssid_store_free(s);
		return -ENOMEM;
	}
	snprintf(s->err, sizeof(s->err), "not connected");
	*out = s;
	return 0;
}

bool ssid_store_connected(const struct ssid_store *s)
{
	return s->c != NULL;
}

const char *ssid_store_errstr(const struct ssid_store *s)
{
	return s->err;
}

static struct timeval ms_to_tv(int ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

	return tv;
}

/* A broken context is useless in hiredis: drop it and reconnect later. */
static int fail(struct ssid_store *s, const char *what)
{
	if (s->c) {
		snprintf(s->err, sizeof(s->err), "%s: %s", what,
			 s->c->err ? s->c->errstr : "unexpected reply");
		redisFree(s->c);
		s->c = NULL;
	} else {
		snprintf(s->err, sizeof(s->err), "%s", what);
	}
	return -EIO;
}

/* Run a setup command (AUTH, SELECT) and insist on +OK. */
static int setup_command(struct ssid_store *s, const char *what, int argc, const char **argv)
{
	redisReply *r = redisCommandArgv(s->c, argc, argv, NULL);
	bool ok = r && r->type == REDIS_REPLY_STATUS;

	if (r && r->type == REDIS_REPLY_ERROR)
		snprintf(s->err, sizeof(s->err), "%s: %s", what, r->str);
	if (r)
		freeReplyObject(r);
	if (ok)
		return 0;
	if (s->c->err)
		return fail(s, what);
	redisFree(s->c);
	s->c = NULL;
	return -EACCES;
}

static int store_connect(struct ssid_store *s)
{
	struct timeval ct = ms_to_tv(s->o.connect_timeout_ms);
	struct timeval rt = ms_to_tv(s->o.command_timeout_ms);
	char db[16];

	if (s->o.unix_socket[0])
		s->c = redisConnectUnixWithTimeout(s->o.unix_socket, ct);
	else
		s->c = redisConnectWithTimeout(s->o.host, s->o.port, ct);
	if (!s->c) {
		snprintf(s->err, sizeof(s->err), "connect: out of memory");
		return -ENOMEM;
	}
	if (s->c->err)
		return fail(s, "connect");
	if (redisSetTimeout(s->c, rt) != REDIS_OK)
		return fail(s, "socket timeout");
	/* Keepalive detects dead peers across networks; a unix socket has none. */
	if (s->o.keepalive && !s->o.unix_socket[0] && redisEnableKeepAlive(s->c) != REDIS_OK)
		return fail(s, "socket keepalive");
	if (s->o.password[0]) {
		const char *argv[3] = {"AUTH", s->o.user, s->o.password};
		int r = s->o.user[0]
			    ? setup_command(s, "AUTH", 3, argv)
			    : setup_command(s, "AUTH", 2, (const char *[]){"AUTH", s->o.password});

		if (r < 0)
			return r;
	}
	if (s->o.db != 0) {
		snprintf(db, sizeof(db), "%d", s->o.db);
		int r = setup_command(s, "SELECT", 2, (const char *[]){"SELECT", db});

		if (r < 0)
			return r;
	}
	return 0;
}

int ssid_store_ping(struct ssid_store *s)
{
	redisReply *r;
	int rc;

	if (!s->c && (rc = store_connect(s)) < 0)
		return rc;
	r = redisCommand(s->c, "PING");
	if (!r)
		return fail(s, "PING");
	rc = r->type == REDIS_REPLY_STATUS ? 0 : -EIO;
	if (rc < 0)
		snprintf(s->err, sizeof(s->err), "PING: %s",
			 r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
	freeReplyObject(r);
	return rc;
}

int ssid_store_key(const struct ssid_store *s, const char *user_id, char *buf, size_t len)
{
	return snprintf(buf, len, "%su:{%s}", s->o.key_prefix, user_id);
}

/* "v1 total brand people insights relationships" */
static int published_format(const struct ssi_score *sc, char *buf, size_t len)
{
	return snprintf(buf, len, "v1 %d %d %d %d %d", sc->total, sc->pillar[0], sc->pillar[1],
			sc->pillar[2], sc->pillar[3]);
}

static bool published_parse(const char *str, size_t len, struct ssi_score *sc)
{
	char tmp[96];
	int n = 0;

	if (len >= sizeof(tmp))
		return false;
	memcpy(tmp, str, len);
	tmp[len] = '\0';
	if (sscanf(tmp, "v1 %d %d %d %d %d%n", &sc->total, &sc->pillar[0], &sc->pillar[1],
		   &sc->pillar[2], &sc->pillar[3], &n) != 5 ||
	    (size_t)n != len)
		return false;
	return sc->total == sc->pillar[0] + sc->pillar[1] + sc->pillar[2] + sc->pillar[3];
}

static int read_replies(struct ssid_store *s, size_t n, const char *what,
			int (*take)(struct ssid_user *u, redisReply *r), struct ssid_user *users)
{
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		redisReply *r = NULL;

		if (redisGetReply(s->c, (void **)&r) != REDIS_OK || !r)
			return fail(s, what);
		if (r->type == REDIS_REPLY_ERROR) {
			snprintf(s->err, sizeof(s->err), "%s: %s", what, r->str);
			rc = -EIO;
		} else if (take && rc == 0) {
			rc = take(&users[i], r);
		}
		freeReplyObject(r);
	}
	return rc;
}

static int take_record(struct ssid_user *u, redisReply *r)
{
	redisReply *st, *pub;

	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2)
		return -EIO;
	st = r->element[0];
	pub = r->element[1];
	u->load_status = 0;
	ssi_state_clear(&u->state);
	if (st->type == REDIS_REPLY_STRING) {
		u->load_status = ssi_state_decode(&u->state, (const uint8_t *)st->str, st->len);
		if (u->load_status == -ENOMEM)
			return -ENOMEM;
	}
	u->has_published =
	    pub->type == REDIS_REPLY_STRING && published_parse(pub->str, pub->len, &u->published);
	return 0;
}

int ssid_store_load(struct ssid_store *s, struct ssid_user *users, size_t n)
{
	char key[512];
	int rc;

	if (n == 0)
		return 0;
	if (!s->c && (rc = store_connect(s)) < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		int klen = ssid_store_key(s, users[i].id, key, sizeof(key));
		const char *argv[4] = {"HMGET", key, "s", "p"};
		size_t argl[4] = {5, (size_t)klen, 1, 1};

		if (redisAppendCommandArgv(s->c, 4, argv, argl) != REDIS_OK)
			return fail(s, "HMGET");
	}
	return read_replies(s, n, "HMGET", take_record, users);
}

int ssid_store_save(struct ssid_store *s, struct ssid_user *users, size_t n)
{
	char key[512], pub[96];
	size_t sent = 0;
	int rc;

	if (!s->c && (rc = store_connect(s)) < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		const char *argv[6] = {"HSET", key};
		size_t argl[6] = {4, 0};
		int argc = 2;

		if (!users[i].save_state && !users[i].save_published)
			continue;
		argl[1] = (size_t)ssid_store_key(s, users[i].id, key, sizeof(key));
		if (users[i].save_state) {
			long len = ssi_state_encode(&users[i].state, s->enc, SSI_STATE_ENCODED_MAX);

			if (len < 0)
				return (int)len;
			argv[argc] = "s";
			argl[argc++] = 1;
			argv[argc] = (const char *)s->enc;
			argl[argc++] = (size_t)len;
		}
		if (users[i].save_published) {
			argv[argc] = "p";
			argl[argc++] = 1;
			argv[argc] = pub;
			argl[argc++] =
			    (size_t)published_format(&users[i].published, pub, sizeof(pub));
		}
		/* hiredis copies the arguments into its output buffer right here. */
		if (redisAppendCommandArgv(s->c, argc, argv, argl) != REDIS_OK)
			return fail(s, "HSET");
		sent++;
	}
	return read_replies(s, sent, "HSET", NULL, users);
}

void *ssid_store_command(struct ssid_store *s, const char *fmt, ...)
{
	va_list ap;
	void *r;

	if (!s->c && store_connect(s) < 0)
		return NULL;
	va_start(ap, fmt);
	r = redisvCommand(s->c, fmt, ap);
	va_end(ap);
	if (!r)
		fail(s, "command");
	return r;
}
