/* ssid_store: pipelined per-user records in Redis over hiredis 0.14. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "ssid_store.h"

struct ssid_store {
	struct ssid_redis *rd;
	uint8_t *enc; /* scratch for encoding one state */
};

void ssid_store_free(struct ssid_store *s)
{
	if (!s)
		return;
	ssid_redis_free(s->rd);
	free(s->enc);
	free(s);
}

int ssid_store_new(struct ssid_store **out, const struct ssid_redis_opts *opts)
{
	struct ssid_store *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->enc = malloc(SSI_STATE_ENCODED_MAX);
	if (!s->enc || ssid_redis_new(&s->rd, opts) < 0) {
		ssid_store_free(s);
		return -ENOMEM;
	}
	*out = s;
	return 0;
}

bool ssid_store_connected(const struct ssid_store *s)
{
	return ssid_redis_connected(s->rd);
}

const char *ssid_store_errstr(const struct ssid_store *s)
{
	return ssid_redis_errstr(s->rd);
}

int ssid_store_ping(struct ssid_store *s)
{
	return ssid_redis_ping(s->rd);
}

int ssid_store_key(const struct ssid_store *s, const char *user_id, char *buf, size_t len)
{
	return snprintf(buf, len, "%su:{%s}", ssid_redis_key_prefix(s->rd), user_id);
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

/*
 * HMGET and HSET replies: any error reply fails the call (the last one names
 * why), and records are taken only until the first failure.
 */
struct replies {
	struct ssid_store *s;
	const char *what;
	struct ssid_user *users;
	bool take_records; /* HMGET: fill users from the replies */
};

static int take_reply(void *ctx, size_t i, redisReply *r, int rc)
{
	struct replies *rs = ctx;

	if (r->type == REDIS_REPLY_ERROR) {
		ssid_redis_set_error(rs->s->rd, "%s: %s", rs->what, r->str);
		return -EIO;
	}
	if (rs->take_records && rc == 0)
		return take_record(&rs->users[i], r);
	return rc;
}

int ssid_store_load(struct ssid_store *s, struct ssid_user *users, size_t n)
{
	struct replies rs = {.s = s, .what = "HMGET", .users = users, .take_records = true};
	redisContext *c;
	char key[512];
	int rc;

	if (n == 0)
		return 0;
	rc = ssid_redis_connect(s->rd);
	if (rc < 0)
		return rc;
	c = ssid_redis_context(s->rd);
	for (size_t i = 0; i < n; i++) {
		int klen = ssid_store_key(s, users[i].id, key, sizeof(key));
		const char *argv[4] = {"HMGET", key, "s", "p"};
		size_t argl[4] = {5, (size_t)klen, 1, 1};

		if (redisAppendCommandArgv(c, 4, argv, argl) != REDIS_OK)
			return ssid_redis_fail(s->rd, -EIO, "HMGET");
	}
	return ssid_redis_read_replies(s->rd, n, "HMGET", take_reply, &rs);
}

int ssid_store_save(struct ssid_store *s, struct ssid_user *users, size_t n)
{
	struct replies rs = {.s = s, .what = "HSET", .users = users};
	char key[512], pub[96];
	redisContext *c;
	size_t sent = 0;
	int rc;

	rc = ssid_redis_connect(s->rd);
	if (rc < 0)
		return rc;
	c = ssid_redis_context(s->rd);
	for (size_t i = 0; i < n; i++) {
		const char *argv[6] = {"HSET", key};
		size_t argl[6] = {4, 0};
		int argc = 2;

		if (!users[i].save_state && !users[i].save_published)
			continue;
		argl[1] = (size_t)ssid_store_key(s, users[i].id, key, sizeof(key));
		if (users[i].save_state) {
			long len = ssi_state_encode(&users[i].state, s->enc, SSI_STATE_ENCODED_MAX);

			/* Commands already queued would leave replies unread: drop the link. */
			if (len < 0)
				return ssid_redis_fail(s->rd, (int)len, "encode");
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
		if (redisAppendCommandArgv(c, argc, argv, argl) != REDIS_OK)
			return ssid_redis_fail(s->rd, -EIO, "HSET");
		sent++;
	}
	return ssid_redis_read_replies(s->rd, sent, "HSET", take_reply, &rs);
}

void *ssid_store_command(struct ssid_store *s, const char *fmt, ...)
{
	va_list ap;
	void *r;

	if (ssid_redis_connect(s->rd) < 0)
		return NULL;
	va_start(ap, fmt);
	r = redisvCommand(ssid_redis_context(s->rd), fmt, ap);
	va_end(ap);
	if (!r)
		ssid_redis_fail(s->rd, -EIO, "command");
	return r;
}
