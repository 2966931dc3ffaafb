/*
 * ssictl_conn: what a command runs against: ssid's configuration, clock and
 * model, the Redis handles (ssid_redis, ssid_store, ssid_history) and how
 * their failures read; whether a user exists. See ssictl_int.h.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "ssi_event.h"
#include "ssid_file.h"
#include "ssid_history.h"
#include "ssid_store.h"
#include "ssictl_int.h"

/* ssid's file, its clock and (for score) its model: errors read like ssid -n's. */
int ssictl_load_config(struct ctl *c, bool need_model)
{
	struct ssid_config_error ce;
	struct ssid_config_clock ck;
	struct ssi_model_error me;
	char msg[1024];
	int r;

	r = ssid_config_load(&c->cfg, c->config_path, &ce);
	if (r < 0) {
		ssid_config_format_error(&ce, msg, sizeof(msg));
		return ssictl_fail(c, SSICTL_EXIT_CONFIG, "%s", msg);
	}
	if (ssid_config_secret_warning(&c->cfg, msg, sizeof(msg)))
		fprintf(c->err, "ssictl: warning: %s\n", msg);
	if (ssid_config_parse_clock(c->cfg.clock, &ck) < 0)
		return ssictl_fail(c, SSICTL_EXIT_CONFIG, "%s: clock: cannot use \"%s\"",
				   c->config_path, c->cfg.clock);
	c->now_ms = ssid_config_clock_now(&ck);
	if (need_model) {
		r = ssid_file_load_model(&c->model, c->cfg.model_file, &me);
		if (r < 0 && me.line > 0)
			return ssictl_fail(c, SSICTL_EXIT_CONFIG, "%s:%d: %s", c->cfg.model_file,
					   me.line, me.message);
		if (r < 0)
			return ssictl_fail(c, SSICTL_EXIT_CONFIG, "%s: %s%s%s", c->cfg.model_file,
					   me.key, me.key[0] ? ": " : "", me.message);
	}
	return 0;
}

/* Which Redis an error is about, for the operator reading it. */
static const char *redis_where(const struct ctl *c, char *buf, size_t len)
{
	if (c->cfg.redis_cluster)
		snprintf(buf, len, "cluster %s",
			 c->cfg.redis_nodes[0] ? c->cfg.redis_nodes : c->cfg.redis_host);
	else if (c->cfg.redis_unix_socket && c->cfg.redis_unix_socket[0])
		snprintf(buf, len, "%s", c->cfg.redis_unix_socket);
	else
		snprintf(buf, len, "%s:%d", c->cfg.redis_host, c->cfg.redis_port);
	return buf;
}

/* A failed Redis call as an exit code: unreadable data, memory, or Redis itself. */
int ssictl_redis_error(struct ctl *c, int rc, const char *errstr)
{
	char where[PATH_MAX + 16];

	if (rc == -ENOMEM)
		return ssictl_fail(c, SSICTL_EXIT_SOFTWARE, "out of memory");
	if (rc == -EBADMSG)
		return ssictl_fail(c, SSICTL_EXIT_UNREADABLE,
				   "redis %s: data not written by ssid: %s",
				   redis_where(c, where, sizeof(where)), errstr);
	return ssictl_fail(c, SSICTL_EXIT_UNAVAILABLE, "redis %s: %s",
			   redis_where(c, where, sizeof(where)), errstr);
}

/*
 * The modules' handles (each connects on first use) and a PING, so that an unreachable Redis is
 * exit 69 before anything else.
 */
int ssictl_open_redis(struct ctl *c)
{
	int r;

	c->ro = (struct ssid_redis_opts){
	    .host = c->cfg.redis_host,
	    .port = c->cfg.redis_port,
	    .unix_socket = c->cfg.redis_unix_socket,
	    .user = c->cfg.redis_user,
	    .password = c->cfg.redis_password,
	    .db = c->cfg.redis_db,
	    .connect_timeout_ms = c->cfg.redis_connect_timeout_ms,
	    .command_timeout_ms = c->cfg.redis_command_timeout_ms,
	    .keepalive = c->cfg.redis_keepalive,
	    .key_prefix = c->cfg.redis_key_prefix,
	    .cluster = c->cfg.redis_cluster,
	    .nodes = c->cfg.redis_nodes,
	    .wait_replicas = c->cfg.redis_wait_replicas,
	};
	if (ssid_redis_new(&c->rd, &c->ro) < 0 || ssid_store_new(&c->store, &c->ro) < 0 ||
	    ssid_history_new(&c->hist, &c->ro) < 0)
		return ssictl_fail(c, SSICTL_EXIT_SOFTWARE, "out of memory");
	r = ssid_redis_ping(c->rd);
	if (r < 0)
		return ssictl_redis_error(c, r, ssid_redis_errstr(c->rd));
	return 0;
}

/* Whether user_id has a record (P u:{id}): 1, 0, or an exit code's negation. */
int ssictl_user_exists(struct ctl *c, const char *user)
{
	char key[SSI_ID_MAX + 512];
	redisReply *reply;
	int r;

	if ((size_t)ssid_store_key(c->store, user, key, sizeof(key)) >= sizeof(key))
		return -ssictl_fail(c, SSICTL_EXIT_USAGE, "key prefix too long");
	reply = ssid_store_command(c->store, "EXISTS %s", key);
	if (!reply)
		return -ssictl_redis_error(c, -EIO, ssid_store_errstr(c->store));
	r = reply->type == REDIS_REPLY_INTEGER && reply->integer > 0;
	freeReplyObject(reply);
	return r;
}

/* The one message (and exit code) for a user ssid has no record of. */
int ssictl_unknown_user(struct ctl *c, const char *user)
{
	return ssictl_fail(c, SSICTL_EXIT_UNKNOWN_USER, "unknown user '%s'", user);
}

/* A user id ssid could have stored (1..SSI_ID_MAX bytes), or a usage error. */
int ssictl_check_user_id(struct ctl *c, const char *user)
{
	size_t len = strlen(user);

	if (len == 0 || len > SSI_ID_MAX)
		return ssictl_usage_error(c, "a user id has 1 to %d bytes", SSI_ID_MAX);
	return 0;
}
