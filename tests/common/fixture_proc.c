/*
 * The fixture's time, files and processes (see fixture.h): deadlines, the
 * per-test scratch directory, and every process a test starts, recorded so
 * the teardown can kill and reap what a failed test left behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "fixture.h"
#include "fixture_int.h"
#include "ssid_log.h"
#include "ssid_time.h"

extern char **environ;

/* ---- time and files ------------------------------------------------------ */

int64_t fx_deadline(int timeout_ms)
{
	return ssid_time_mono_ms() + timeout_ms;
}

bool fx_expired(int64_t deadline)
{
	return ssid_time_mono_ms() >= deadline;
}

void fx_pause(void)
{
	struct timespec ts = {.tv_sec = 0, .tv_nsec = 5 * 1000 * 1000};

	nanosleep(&ts, NULL);
}

/*
 * What is still running, for the teardown: the pids (the daemon thread is
 * fixture_daemon.c's), and the test's scratch directory.
 */
#define PROCS_MAX 32
static pid_t live_pids[PROCS_MAX];
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
	fxi_daemon_finish_live();
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
		fx_remove_tree(scratch_dir);
	scratch_dir[0] = '\0';
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void fx_remove_tree(const char *dir)
{
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
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
void fxi_proc_kill(struct fx_proc *p)
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
