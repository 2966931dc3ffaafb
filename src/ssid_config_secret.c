/*
 * ssid_config's secrets: which keys hold one (never printed), the values
 * read from files (redis.password_file, kafka.*_file) and the warning for a
 * secret written in a file others can read. See ssid_config.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "ssid_config.h"
#include "ssid_config_int.h"
#include "ssid_file.h"

/* A secret file holds a password or a PEM key: anything bigger is a wrong path. */
#define SECRET_FILE_MAX (64 * 1024)

bool ssid_config_is_secret(const char *name)
{
	static const char *const suffixes[] = {"ssl.key.pem", "sasl.oauthbearer.config"};
	size_t len = strlen(name);

	if (strcasestr(name, "password") || strcasestr(name, "secret"))
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++) {
		size_t n = strlen(suffixes[i]);

		if (len >= n && strcasecmp(name + len - n, suffixes[i]) == 0)
			return true;
	}
	return false;
}

void config_note_secret(struct config_parser *p, const char *key, const char *value)
{
	size_t len = strlen(key);

	if (value[0] == '\0' || !ssid_config_is_secret(key) ||
	    (len > 5 && strcmp(key + len - 5, "_file") == 0))
		return;
	p->cfg->inline_secret_line = p->line;
	snprintf(p->cfg->inline_secret_key, sizeof(p->cfg->inline_secret_key), "%s", key);
}

/* path as written, resolved: absolute as is, else in $CREDENTIALS_DIRECTORY or beside the file. */
static int resolve(const struct ssid_config *cfg, const char *path, char *out, size_t len)
{
	const char *creds = getenv("CREDENTIALS_DIRECTORY");
	const char *slash = strrchr(cfg->path, '/');
	int n;

	if (path[0] == '/')
		n = snprintf(out, len, "%s", path);
	else if (creds && creds[0])
		n = snprintf(out, len, "%s/%s", creds, path);
	else if (slash)
		n = snprintf(out, len, "%.*s/%s", (int)(slash - cfg->path), cfg->path, path);
	else
		n = snprintf(out, len, "%s", path);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int config_read_secret(struct config_parser *p, unsigned line, const char *key, const char *path,
		       char **out)
{
	char full[PATH_MAX], errbuf[128];
	const char *failed = "read";
	struct stat st;
	char *text = NULL;
	size_t len = 0;
	int r;

	if (path[0] == '\0') {
		config_set_error(p->err, line, key, "expected a file path, got \"\"");
		return -EINVAL;
	}
	r = resolve(p->cfg, path, full, sizeof(full));
	if (r < 0) {
		config_set_error(p->err, line, key, "path too long");
		return -EINVAL;
	}
	/* A credential is a plain file: never a pipe or a terminal to wait on. */
	if (stat(full, &st) == 0 && !S_ISREG(st.st_mode)) {
		config_set_error(p->err, line, key, "%s: not a regular file", full);
		return -EINVAL;
	}
	r = ssid_file_read(full, SECRET_FILE_MAX, &text, &len, &failed);
	if (r == -EFBIG)
		config_set_error(p->err, line, key, "%s: larger than %d bytes: not a secret", full,
				 SECRET_FILE_MAX);
	else if (r < 0)
		config_set_error(p->err, line, key, "cannot %s %s: %s", failed, full,
				 strerror_r(-r, errbuf, sizeof(errbuf)));
	if (r < 0)
		return r == -ENOMEM ? r : -EINVAL; /* a bad configuration, like any other */
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		text[--len] = '\0';
	if (len == 0 || memchr(text, '\0', len)) {
		config_set_error(p->err, line, key, "%s: %s", full,
				 len == 0 ? "empty" : "holds a NUL byte");
		free(text);
		return -EINVAL;
	}
	*out = text;
	return 0;
}

/* After the file: redis.password_file replaces redis.password, which must then be unset. */
int config_secret_files(struct config_parser *p)
{
	const struct config_key *file_key = config_find_key("redis.password_file");
	const struct config_key *inline_key = config_find_key("redis.password");
	unsigned file_line = p->key_line[file_key - config_keys];
	unsigned inline_line = p->key_line[inline_key - config_keys];
	char *text;
	int r;

	if (p->cfg->redis_password_file[0] == '\0')
		return 0;
	if (inline_line) {
		config_set_error(p->err, file_line > inline_line ? file_line : inline_line,
				 file_line > inline_line ? file_key->name : inline_key->name,
				 "set together with %s (line %u): use one or the other",
				 file_line > inline_line ? inline_key->name : file_key->name,
				 file_line > inline_line ? inline_line : file_line);
		return -EINVAL;
	}
	r = config_read_secret(p, file_line, file_key->name, p->cfg->redis_password_file, &text);
	if (r < 0)
		return r;
	free(p->cfg->redis_password);
	p->cfg->redis_password = text;
	return 0;
}

int ssid_config_secret_warning(const struct ssid_config *cfg, char *buf, size_t len)
{
	struct stat st;

	if (!cfg->inline_secret_line || !cfg->path || stat(cfg->path, &st) < 0 ||
	    !(st.st_mode & S_IROTH))
		return 0;
	snprintf(buf, len,
		 "%s:%u: %s: a secret in a file others can read (mode %04o): chmod o-r %s, or "
		 "keep the secret in a file of its own (%s_file)",
		 cfg->path, cfg->inline_secret_line, cfg->inline_secret_key,
		 (unsigned)(st.st_mode & 07777), cfg->path, cfg->inline_secret_key);
	return 1;
}
