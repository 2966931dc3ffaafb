/* The fault suite's shared pieces; see fault.h. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "fault.h"
#include "ssid_store.h"
#include "ssid_file.h"

struct fx_broker fault_broker;
pid_t fault_main_pid;

void fault_setup(void)
{
	/* A forked test dies with the run (^C), and takes its ssid and redis along. */
	if (fault_main_pid > 0 && getpid() != fault_main_pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != fault_main_pid)
			_exit(1);
	}
	fx_setup();
	ck_assert_msg(fault_broker.dir[0], "the suite's broker was not started");
	ck_assert_msg(fx_broker_ensure(&fault_broker) == 0,
		      "the Kafka broker is down and did not come back (see %s/broker.log)",
		      fault_broker.dir);
}

void fault_teardown(void)
{
	fx_teardown();
}

/* ---- one test's world ----------------------------------------------------- */

/* Replace the line of key in text (it must be there) by "key = value". */
static void conf_set(char *text, size_t cap, const char *key, const char *value)
{
	char line[256], *at, *end;
	size_t klen = strlen(key), tail;
	int n;

	for (at = text; (at = strstr(at, key)); at++)
		if ((at == text || at[-1] == '\n') && at[klen] == ' ')
			break;
	ck_assert_msg(at, "the fixture's configuration has no %s line", key);
	end = strchr(at, '\n');
	ck_assert_ptr_nonnull(end);
	n = snprintf(line, sizeof(line), "%s = %s", key, value);
	ck_assert(n > 0 && (size_t)n < sizeof(line));
	tail = strlen(end) + 1;
	ck_assert_uint_lt((size_t)(at - text) + (size_t)n + tail, cap);
	memmove(at + n, end, tail);
	memcpy(at, line, (size_t)n);
}

void fault_env_open(struct fault_env *e, const char *tag, const struct fault_opts *o)
{
	char text[4096], session[16];

	memset(e, 0, sizeof(*e));
	ck_assert_msg(access(fx_ssid_path(), X_OK) == 0, "%s is missing: build it first",
		      fx_ssid_path());
	ck_assert_int_eq(ssid_file_load_model(&e->model, fx_model_path(), NULL), 0);
	fx_redis_start_in_scratch(&e->redis, o->persistent_redis);
	ck_assert_msg(fx_broker_topics(&fault_broker, tag, o->partitions, o->input_config) == 0,
		      "creating the topics of %s failed (broker log: %s/broker.log)", tag,
		      fault_broker.dir);
	ck_assert_int_eq(fx_kafka_attach(&e->kafka, fault_broker.bootstrap, tag, o->partitions), 0);
	fx_stream_init(&e->stream, tag, o->users);
	ck_assert_int_eq(fx_config_text(text, sizeof(text), &e->kafka, &e->redis,
					&(struct fx_conf){.batch_max_events = o->batch_max_events}),
			 0);
	snprintf(session, sizeof(session), "%d", FAULT_SESSION_TIMEOUT_MS);
	conf_set(text, sizeof(text), "kafka.consumer.session.timeout.ms", session);
	fx_path(e->conf_path, sizeof(e->conf_path), "ssid.conf");
	ck_assert_int_eq(fx_write_file(e->conf_path, text, strlen(text)), 0);
	fx_path(e->log_path, sizeof(e->log_path), "ssid.log");
}

void fault_env_close(struct fault_env *e)
{
	fx_stream_free(&e->stream);
	fx_kafka_free(&e->kafka);
	ck_assert_int_eq(fx_redis_stop(&e->redis), 0);
}

const char *fault_log_path(char *buf, size_t len, const char *name)
{
	return fx_path(buf, len, name);
}

void fault_spawn(struct fault_env *e, struct fx_proc *p, const char *const env[],
		 const char *log_path)
{
	ck_assert_int_eq(fx_ssid_spawn(p, e->conf_path, env, log_path ? log_path : e->log_path), 0);
}

void fault_kill9(struct fx_proc *p)
{
	ck_assert_int_eq(fx_proc_signal(p, SIGKILL), 0);
	ck_assert_int_eq(fx_proc_wait(p, FX_WAIT_MS), 0);
	ck_assert(WIFSIGNALED(p->status) && WTERMSIG(p->status) == SIGKILL);
}

/* ---- events flowing ------------------------------------------------------- */

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void *feed_thread(void *arg)
{
	struct fault_feeder *f = arg;

	for (size_t i = f->from; i < f->to; i += f->slice) {
		size_t end = i + f->slice < f->to ? i + f->slice : f->to;
		int r = fx_produce(f->k, f->s, i, end);

		if (r < 0) {
			f->rc = r;
			break;
		}
		atomic_store(&f->produced, end - f->from);
		if (end < f->to && f->pause_ms > 0)
			sleep_ms(f->pause_ms);
	}
	return NULL;
}

void fault_feed_start(struct fault_feeder *f, struct fx_kafka *k, struct fx_stream *s, size_t from,
		      size_t to, size_t slice, int pause_ms)
{
	memset(f, 0, sizeof(*f));
	f->k = k;
	f->s = s;
	f->from = from;
	f->to = to;
	f->slice = slice > 0 ? slice : 1;
	f->pause_ms = pause_ms;
	atomic_init(&f->produced, 0);
	ck_assert_int_eq(pthread_create(&f->thread, NULL, feed_thread, f), 0);
}

void fault_feed_join(struct fault_feeder *f)
{
	ck_assert_int_eq(pthread_join(f->thread, NULL), 0);
	ck_assert_msg(f->rc == 0, "producing events %zu..%zu failed: %s", f->from, f->to,
		      strerror(-f->rc));
	ck_assert_uint_eq(atomic_load(&f->produced), f->to - f->from);
}

/* ---- progress -------------------------------------------------------------- */

int64_t fault_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t fault_committed_total(struct fx_kafka *k)
{
	int64_t c[FX_PARTITIONS_MAX], sum = 0;

	if (fx_kafka_committed(k, c) < 0)
		return 0;
	for (int i = 0; i < k->partitions; i++)
		if (c[i] > 0)
			sum += c[i];
	return sum;
}

/* Fail if one of procs has exited: a dead ssid must fail the test, not time it out. */
void fault_check_alive(struct fx_proc *const procs[], size_t n, const char *log_path)
{
	for (size_t i = 0; i < n; i++) {
		if (!procs[i] || fx_proc_wait(procs[i], 0) == -ETIMEDOUT)
			continue;
		fx_dump_log(log_path);
		ck_abort_msg("ssid (pid %d) exited with status 0x%x (log: %s)", (int)procs[i]->pid,
			     procs[i]->status, log_path);
	}
}

void fault_wait_total(struct fx_kafka *k, int64_t total, struct fx_proc *const procs[], size_t n,
		      const char *log_path)
{
	int64_t deadline = fx_deadline(FX_WAIT_MS), got;

	while ((got = fault_committed_total(k)) < total) {
		fault_check_alive(procs, n, log_path);
		if (fx_expired(deadline)) {
			fx_dump_log(log_path);
			ck_abort_msg("%s: %" PRId64 " messages committed after %d ms, waiting for "
				     "%" PRId64 " (log: %s)",
				     k->group, got, FX_WAIT_MS, total, log_path);
		}
		fx_pause();
	}
}

void fault_wait_prefix(struct fx_kafka *k, const struct fx_stream *s, size_t upto,
		       struct fx_proc *const procs[], size_t n, const char *log_path)
{
	int64_t want[FX_PARTITIONS_MAX] = {0}, got[FX_PARTITIONS_MAX];
	int64_t deadline = fx_deadline(FX_WAIT_MS);

	for (size_t i = 0; i < upto && i < s->n; i++) {
		const struct fx_event *ev = &s->ev[i];

		ck_assert_msg(ev->offset >= 0, "event %zu was not produced", i);
		if (ev->offset + 1 > want[ev->partition])
			want[ev->partition] = ev->offset + 1;
	}
	for (;;) {
		bool done = fx_kafka_committed(k, got) == 0;

		for (int p = 0; p < k->partitions && done; p++)
			done = want[p] == 0 || got[p] >= want[p];
		if (done)
			return;
		fault_check_alive(procs, n, log_path);
		if (fx_expired(deadline)) {
			fx_dump_log(log_path);
			ck_abort_msg("%s: the first %zu events not committed after %d ms (log: %s)",
				     k->group, upto, FX_WAIT_MS, log_path);
		}
		fx_pause();
	}
}

void fault_hold(int64_t ms, struct fx_proc *const procs[], size_t n, const char *log_path)
{
	int64_t until = fault_now_ms() + ms;

	while (fault_now_ms() < until) {
		int64_t left = until - fault_now_ms();

		fault_check_alive(procs, n, log_path);
		sleep_ms(left > 100 ? 100 : (int)(left > 0 ? left : 0));
	}
	fault_check_alive(procs, n, log_path);
}

/* ---- results ------------------------------------------------------------- */

static void note_problem(struct fault_result *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The first thing that went wrong is what a failing test's message shows. */
static void note_problem(struct fault_result *res, const char *fmt, ...)
{
	va_list ap;

	if (res->first_problem[0])
		return;
	va_start(ap, fmt);
	vsnprintf(res->first_problem, sizeof(res->first_problem), fmt, ap);
	va_end(ap);
}

/* Count units got holds beyond ref (extra) and lacks against it (lost). */
static void diff_units(const struct ssi_state *got, const struct ssi_state *ref, long *lost,
		       long *extra)
{
	uint32_t i = 0, j = 0;

	while (i < got->nrows || j < ref->nrows) {
		const struct ssi_day_row *g = i < got->nrows ? &got->rows[i] : NULL;
		const struct ssi_day_row *r = j < ref->nrows ? &ref->rows[j] : NULL;

		for (int c = 0; c < SSI_C__COUNT; c++) {
			long d;

			if (g && (!r || g->day < r->day))
				d = g->count[c];
			else if (!g || r->day < g->day)
				d = -(long)r->count[c];
			else
				d = (long)g->count[c] - r->count[c];
			*(d > 0 ? extra : lost) += labs(d);
		}
		if (g && (!r || g->day <= r->day))
			i++;
		if (r && (!g || r->day <= g->day))
			j++;
	}
	for (int s = 0; s < SSI_SEN__COUNT; s++) {
		long d = (long)got->connections[s] - ref->connections[s];

		*(d > 0 ? extra : lost) += labs(d);
	}
	{
		long d = (long)got->internal_connections - ref->internal_connections;

		*(d > 0 ? extra : lost) += labs(d);
	}
}

/* Which user of the stream an id names ("<tag>-uNN"), or -1. */
static int user_index(const struct fx_stream *s, const char *id)
{
	size_t tl = strlen(s->tag);
	char back[64], *end;
	long u;

	if (strncmp(id, s->tag, tl) != 0 || strncmp(id + tl, "-u", 2) != 0)
		return -1;
	errno = 0;
	u = strtol(id + tl + 2, &end, 10);
	if (errno || *end || u < 0 || u >= s->nusers)
		return -1;
	return strcmp(fx_user_id(s, (int)u, back, sizeof(back)), id) == 0 ? (int)u : -1;
}

/*
 * Per user, its valid events in stream order; the reference state, its
 * score, and the score after every prefix of its events.
 */
static void build_reference(const struct fault_env *e, struct fault_result *res)
{
	const struct fx_stream *s = &e->stream;
	const struct ssi_model *m = &e->model;
	struct ssi_event_limits lim = {.max_bytes = m->max_event_bytes};
	size_t nu = (size_t)s->nusers, *fill;

	res->users = nu;
	res->events = s->n;
	res->user_first = calloc(nu + 1, sizeof(*res->user_first));
	res->user_events = calloc(s->n ? s->n : 1, sizeof(*res->user_events));
	res->prefix_score = calloc(s->n ? s->n : 1, sizeof(*res->prefix_score));
	res->want = calloc(nu, sizeof(*res->want));
	res->ref = calloc(nu, sizeof(*res->ref));
	fill = calloc(nu + 1, sizeof(*fill));
	ck_assert(res->user_first && res->user_events && res->prefix_score && res->want &&
		  res->ref && fill);
	for (size_t i = 0; i < s->n; i++) {
		const struct fx_event *ev = &s->ev[i];

		if (ev->expect_code[0])
			res->bad_events++;
		else if (ev->user >= 0 && (size_t)ev->user < nu)
			res->user_first[ev->user + 1]++;
	}
	for (size_t u = 0; u < nu; u++)
		res->user_first[u + 1] += res->user_first[u];
	memcpy(fill, res->user_first, (nu + 1) * sizeof(*fill));
	for (size_t i = 0; i < s->n; i++) {
		const struct fx_event *ev = &s->ev[i];

		if (!ev->expect_code[0] && ev->user >= 0 && (size_t)ev->user < nu)
			res->user_events[fill[ev->user]++] = i;
	}
	free(fill);
	for (size_t u = 0; u < nu; u++) {
		struct ssi_state *st = &res->ref[u];

		ssi_state_init(st);
		for (size_t k = res->user_first[u]; k < res->user_first[u + 1]; k++) {
			size_t i = res->user_events[k];
			struct ssi_event ev;
			int r;

			ck_assert_msg(
			    ssi_event_parse(s->ev[i].value, s->ev[i].len, &lim, &ev, NULL) == 0 &&
				ssi_event_check_time(&ev, m->window_days, m->future_tolerance_ms,
						     FX_NOW_MS, NULL) == 0,
			    "event %zu of the stream is not valid: %s", i, s->ev[i].value);
			r = ssi_state_apply(st, m, &ev);
			ck_assert_int_ge(r, 0);
			*(r == 1 ? &res->ref_applied : &res->ref_duplicates) += 1;
			ssi_score(st, m, FX_NOW_MS, &res->prefix_score[i]);
		}
		if (res->user_first[u + 1] > res->user_first[u])
			ssi_state_prune(st, m, FX_NOW_MS);
		ssi_score(st, m, FX_NOW_MS, &res->want[u]);
	}
}

/* Field p in any format ssid_store writes. */
static bool parse_published(const char *s, struct ssi_score *sc)
{
	struct ssid_published pub;

	if (!ssid_store_published_parse(s, strlen(s), &pub))
		return false;
	*sc = pub.score;
	return true;
}

static redisContext *redis_open(const struct fx_redis *r)
{
	struct timeval tv = {.tv_sec = 10, .tv_usec = 0};
	redisContext *c = redisConnectWithTimeout("127.0.0.1", r->port, tv);

	ck_assert_msg(c && !c->err, "redis at port %d: %s", r->port, c ? c->errstr : "no memory");
	redisSetTimeout(c, tv);
	return c;
}

/* One user's record against the reference. */
static void check_record(const struct fault_env *e, struct fault_result *res, size_t u,
			 const redisReply *reply, bool require_published)
{
	const struct fx_stream *s = &e->stream;
	const struct ssi_state *ref = &res->ref[u];
	size_t first = res->user_first[u], last = res->user_first[u + 1];
	const struct fx_event *lastev = last > first ? &s->ev[res->user_events[last - 1]] : NULL;
	uint8_t joined[SSID_STORE_STATE_PART * SSID_STORE_STATE_PARTS];
	const uint8_t *state;
	struct ssi_state got;
	char id[64];
	long lost = 0, extra = 0, len;

	fx_user_id(s, (int)u, id, sizeof(id));
	ssi_state_init(&got);
	ck_assert_msg(reply && reply->type == REDIS_REPLY_ARRAY &&
			  reply->elements == SSID_STORE_STATE_PARTS + 1,
		      "HMGET of %s failed", id);
	len = ssid_store_state_join(reply->element, joined, &state);
	if (!lastev) {
		/* A user of the stream without events: nothing may exist for it. */
		if (len >= 0) {
			res->users_differ++;
			note_problem(res, "%s has no events but a state in Redis", id);
		}
		return;
	}
	if (len < 0) {
		ssi_state_init(&got);
		diff_units(&got, ref, &res->lost, &res->doubled);
		res->users_missing++;
		note_problem(res, "%s: no state in Redis", id);
		return;
	}
	if (ssi_state_decode(&got, state, (size_t)len) < 0) {
		res->users_differ++;
		note_problem(res, "%s: the state in Redis does not decode", id);
		return;
	}
	if (ssi_state_mark_get(&got, lastev->partition) != lastev->offset) {
		res->marks_wrong++;
		note_problem(
		    res, "%s: applied-offset mark of partition %d is %lld, last event at %lld", id,
		    lastev->partition, (long long)ssi_state_mark_get(&got, lastev->partition),
		    (long long)lastev->offset);
	}
	got.nmarks = 0;
	diff_units(&got, ref, &lost, &extra);
	res->lost += lost;
	res->doubled += extra;
	if (!ssi_state_equal(&got, ref)) {
		res->users_differ++;
		note_problem(res,
			     "%s: stored state differs from the engine's (%u vs %u day rows, "
			     "%ld units missing, %ld extra)",
			     id, got.nrows, ref->nrows, lost, extra);
	}
	ssi_state_clear(&got);
	if (reply->element[SSID_STORE_STATE_PARTS]->type == REDIS_REPLY_STRING) {
		const char *pub = reply->element[SSID_STORE_STATE_PARTS]->str;
		struct ssi_score p;

		if (!parse_published(pub, &p) || memcmp(&p, &res->want[u], sizeof(p)) != 0) {
			res->published_wrong++;
			note_problem(res, "%s: published \"%s\", the engine says %d", id, pub,
				     res->want[u].total);
		}
	} else if (require_published) {
		res->published_missing++;
		note_problem(res, "%s: no published score in Redis", id);
	}
}

void fault_check_states(const struct fault_env *e, struct fault_result *res, bool require_published)
{
	const struct fx_stream *s = &e->stream;
	redisContext *c = redis_open(&e->redis);
	size_t nu = (size_t)s->nusers, with_state = 0;
	long keys;

	build_reference(e, res);
	/* Pipelined: one round trip per chunk instead of one connection per user. */
	for (size_t u0 = 0; u0 < nu; u0 += 512) {
		size_t u1 = u0 + 512 < nu ? u0 + 512 : nu;

		for (size_t u = u0; u < u1; u++) {
			char id[64];

			fx_user_id(s, (int)u, id, sizeof(id));
			ck_assert_int_eq(
			    redisAppendCommand(c, "HMGET ssi:u:{%s} " SSID_STORE_STATE_FIELDS " p",
					       id),
			    REDIS_OK);
		}
		for (size_t u = u0; u < u1; u++) {
			void *reply = NULL;

			ck_assert_msg(redisGetReply(c, &reply) == REDIS_OK, "redis: %s", c->errstr);
			check_record(e, res, u, reply, require_published);
			if (((redisReply *)reply)->element[0]->type == REDIS_REPLY_STRING)
				with_state++; /* the state's first part */
			freeReplyObject(reply);
		}
	}
	redisFree(c);
	keys = fx_redis_user_keys(&e->redis);
	ck_assert_int_ge(keys, 0);
	if ((size_t)keys > with_state + res->other_users) {
		res->stray_users = (size_t)keys - with_state - res->other_users;
		note_problem(res, "%zu user keys in Redis that are not the stream's users",
			     res->stray_users);
	}
}

static int centipoints(const json_t *v)
{
	return (int)lround(json_number_value(v) * 100.0);
}

/* The score an output carries, or false when it is malformed. */
static bool output_score(const json_t *root, struct ssi_score *sc)
{
	const json_t *pillars = json_object_get(root, "pillars");
	int sum = 0;

	if (!json_is_object(pillars) || !json_is_number(json_object_get(root, "ssi")))
		return false;
	for (int p = 0; p < SSI_PILLAR__COUNT; p++) {
		const json_t *v = json_object_get(pillars, ssi_pillar_name((enum ssi_pillar)p));

		if (!json_is_number(v))
			return false;
		sc->pillar[p] = centipoints(v);
		sum += sc->pillar[p];
	}
	sc->total = centipoints(json_object_get(root, "ssi"));
	return sc->total == sum;
}

/* Whether sc is the score of some prefix of user u's events. */
static bool some_prefix_scores(const struct fault_result *res, size_t u, const struct ssi_score *sc)
{
	for (size_t k = res->user_first[u]; k < res->user_first[u + 1]; k++)
		if (memcmp(&res->prefix_score[res->user_events[k]], sc, sizeof(*sc)) == 0)
			return true;
	return false;
}

void fault_check_outputs(struct fault_env *e, struct fault_result *res)
{
	const struct fx_stream *s = &e->stream;
	size_t nu = (size_t)s->nusers;
	struct ssi_score *last = calloc(nu, sizeof(*last));
	bool *seen = calloc(nu, sizeof(*seen));
	struct fx_msgs out;

	ck_assert(last && seen && res->want);
	ck_assert_int_eq(fx_kafka_read_topic(&e->kafka, e->kafka.output, &out), 0);
	for (size_t i = 0; i < out.n; i++) {
		const struct fx_msg *msg = &out.m[i];
		json_t *root = json_loadb(msg->value, msg->len, 0, NULL);
		const char *id = json_string_value(json_object_get(root, "user_id"));
		const char *type = json_string_value(json_object_get(root, "type"));
		int u = id ? user_index(s, id) : -1;
		struct ssi_score sc;

		if ((type && strcmp(type, "score.updated") != 0) ||
		    (u < 0 && id && res->other_users > 0)) {
			/*
			 * rank.changed, leaderboard.changed, alert, and the scores
			 * of users the test keeps apart: not this check's business.
			 */
			res->outputs_other++;
		} else if (u < 0 || !type || !output_score(root, &sc) || !msg->key ||
			   strcmp(msg->key, id) != 0) {
			res->outputs_wrong++;
			note_problem(res,
				     "output %zu is malformed or names no user of the stream: %s",
				     i, msg->value);
		} else if (!some_prefix_scores(res, (size_t)u, &sc)) {
			res->outputs_wrong++;
			note_problem(res,
				     "output %zu: %s at %d (%d %d %d %d), which no prefix of its "
				     "events scores",
				     i, id, sc.total, sc.pillar[0], sc.pillar[1], sc.pillar[2],
				     sc.pillar[3]);
		} else {
			last[u] = sc;
			seen[u] = true;
		}
		res->outputs += type && strcmp(type, "score.updated") == 0 && u >= 0;
		json_decref(root);
	}
	for (size_t u = 0; u < nu; u++) {
		char id[64];

		if (res->user_first[u + 1] == res->user_first[u])
			continue;
		fx_user_id(s, (int)u, id, sizeof(id));
		if (!seen[u]) {
			res->outputs_missing++;
			note_problem(res, "%s: no score.updated at all", id);
		} else if (memcmp(&last[u], &res->want[u], sizeof(last[u])) != 0) {
			res->outputs_last_wrong++;
			note_problem(res, "%s: last output %d, the engine says %d", id,
				     last[u].total, res->want[u].total);
		}
	}
	fx_msgs_free(&out);
	free(last);
	free(seen);
}

void fault_check_dead_letters(struct fault_env *e, struct fault_result *res)
{
	const struct fx_stream *s = &e->stream;
	size_t *count = calloc(s->n ? s->n : 1, sizeof(*count));
	struct fx_msgs dlq;

	ck_assert_ptr_nonnull(count);
	ck_assert_int_eq(fx_kafka_read_topic(&e->kafka, e->kafka.dlq, &dlq), 0);
	res->dead_letters = dlq.n;
	for (size_t i = 0; i < dlq.n; i++) {
		char part[32], off[32], reason[128];
		size_t at = s->n;

		if (fx_msg_header(&dlq.m[i], "ssi.source.partition", part, sizeof(part)) &&
		    fx_msg_header(&dlq.m[i], "ssi.source.offset", off, sizeof(off)))
			for (size_t j = 0; j < s->n && at == s->n; j++)
				if (s->ev[j].expect_code[0] && s->ev[j].partition == atoi(part) &&
				    s->ev[j].offset == atoll(off))
					at = j;
		if (at == s->n) {
			res->dlq_wrong++;
			note_problem(res, "dead letter %zu names no bad event of the stream", i);
			continue;
		}
		if (!fx_msg_header(&dlq.m[i], "ssi.reason", reason, sizeof(reason)) ||
		    strcmp(reason, s->ev[at].expect_code) != 0) {
			res->dlq_wrong++;
			note_problem(res, "dead letter of event %zu: reason %s, expected %s", at,
				     reason, s->ev[at].expect_code);
		}
		count[at]++;
	}
	for (size_t i = 0; i < s->n; i++) {
		if (!s->ev[i].expect_code[0])
			continue;
		if (count[i] == 0) {
			res->dlq_missing++;
			note_problem(res, "bad event %zu (%s) was never dead-lettered", i,
				     s->ev[i].expect_code);
		} else if (count[i] > 1) {
			res->dlq_twice += count[i] - 1;
			note_problem(res, "bad event %zu was dead-lettered %zu times", i, count[i]);
		}
	}
	fx_msgs_free(&dlq);
	free(count);
}

/* One partition's roster, parsed (ssid_store_roster_parse): who is in it. */
struct roster_walk {
	const struct fx_stream *s;
	struct fault_result *res;
	int partition;
	int *in, *where;
};

static int roster_member(void *ctx, const char *id, size_t len)
{
	struct roster_walk *w = ctx;
	char buf[SSI_ID_MAX + 1];
	int u;

	snprintf(buf, sizeof(buf), "%.*s", (int)len, id);
	u = user_index(w->s, buf);
	if (u < 0) {
		w->res->decay_wrong++;
		note_problem(w->res, "ssi:ro:%d holds %s, no user of the stream", w->partition,
			     buf);
	} else if (!(w->in[u] && w->where[u] == w->partition)) {
		/* Twice in one roster (an APPEND retried) counts once. */
		w->in[u]++;
		w->where[u] = w->partition;
	}
	return 0;
}

void fault_check_decay_schedule_follows_partitions(const struct fault_env *e,
						   struct fault_result *res)
{
	const struct fx_stream *s = &e->stream;
	size_t nu = (size_t)s->nusers;
	int *in = calloc(nu, sizeof(*in)), *where = calloc(nu, sizeof(*where));
	redisContext *c = redis_open(&e->redis);
	struct roster_walk w = {.s = s, .res = res, .in = in, .where = where};

	ck_assert(in && where && res->user_first);
	for (int p = 0; p < e->kafka.partitions; p++) {
		redisReply *r = redisCommand(c, "GET ssi:ro:%d", p);

		ck_assert_msg(r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_NIL),
			      "GET ssi:ro:%d failed", p);
		w.partition = p;
		if (r->type == REDIS_REPLY_STRING)
			ck_assert_msg(ssid_store_roster_parse(r->str, r->len, roster_member, &w) ==
					  0,
				      "ssi:ro:%d does not parse", p);
		freeReplyObject(r);
	}
	ck_assert_int_eq(fx_redis_count_keys(&e->redis, "ssi:dz:*"), 0);
	redisFree(c);
	for (size_t u = 0; u < nu; u++) {
		size_t last = res->user_first[u + 1];
		const struct fx_event *ev;
		char id[64];

		if (last == res->user_first[u])
			continue;
		ev = &s->ev[res->user_events[last - 1]];
		if (in[u] == 1 && where[u] == ev->partition)
			continue;
		res->decay_wrong++;
		note_problem(res, "%s (events in partition %d) is in %d rosters%s%d",
			     fx_user_id(s, (int)u, id, sizeof(id)), ev->partition, in[u],
			     in[u] ? ", the last being ssi:ro:" : "", in[u] ? where[u] : -1);
	}
	free(in);
	free(where);
}

void fault_report(const char *test, const struct fault_result *res, const char *fault,
		  double outage_s, double recovery_s)
{
	char outage[32];

	if (outage_s > 0)
		snprintf(outage, sizeof(outage), "%.1f s", outage_s);
	else
		snprintf(outage, sizeof(outage), "-");
	fprintf(
	    stderr,
	    "fault-summary: %s: %zu events (%zu users, %zu bad), %s, outage %s, recovery %.2f s, "
	    "lost %ld, double-counted %ld; %zu score.updated (%zu wrong, %zu users without, "
	    "%zu last wrong), %zu other outputs, %zu dead letters\n",
	    test, res->events, res->users, res->bad_events, fault, outage, recovery_s, res->lost,
	    res->doubled, res->outputs, res->outputs_wrong, res->outputs_missing,
	    res->outputs_last_wrong, res->outputs_other, res->dead_letters);
	if (res->first_problem[0])
		fprintf(stderr, "fault-summary: %s: first problem: %s\n", test, res->first_problem);
}

void fault_assert(struct fault_result *res)
{
	const char *why = res->first_problem;

	ck_assert_msg(res->lost == 0, "%ld count units lost; %s", res->lost, why);
	ck_assert_msg(res->doubled == 0, "%ld count units double-counted; %s", res->doubled, why);
	ck_assert_msg(res->users_missing == 0, "%zu users without a state; %s", res->users_missing,
		      why);
	ck_assert_msg(res->users_differ == 0, "%zu users' states differ; %s", res->users_differ,
		      why);
	ck_assert_msg(res->marks_wrong == 0, "%zu wrong marks; %s", res->marks_wrong, why);
	ck_assert_msg(res->published_missing == 0 && res->published_wrong == 0,
		      "published scores: %zu missing, %zu wrong; %s", res->published_missing,
		      res->published_wrong, why);
	ck_assert_msg(res->stray_users == 0, "%s", why);
	ck_assert_msg(res->outputs_wrong == 0 && res->outputs_missing == 0 &&
			  res->outputs_last_wrong == 0,
		      "outputs: %zu wrong, %zu users without, %zu last wrong; %s",
		      res->outputs_wrong, res->outputs_missing, res->outputs_last_wrong, why);
	ck_assert_msg(res->dlq_wrong == 0 && res->dlq_missing == 0 && res->dlq_twice == 0,
		      "dead letters: %zu wrong, %zu missing, %zu repeated; %s", res->dlq_wrong,
		      res->dlq_missing, res->dlq_twice, why);
	ck_assert_msg(res->decay_wrong == 0, "decay schedule: %zu users misplaced; %s",
		      res->decay_wrong, why);
	ck_assert_msg(res->ranks_wrong == 0, "ranks: %zu wrong; %s", res->ranks_wrong, why);
	for (size_t u = 0; res->ref && u < res->users; u++)
		ssi_state_clear(&res->ref[u]);
	free(res->ref);
	free(res->want);
	free(res->prefix_score);
	free(res->user_first);
	free(res->user_events);
	memset(res, 0, sizeof(*res));
}
