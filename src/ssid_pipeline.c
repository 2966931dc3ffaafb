/*
 * ssid_pipeline: a batch from bytes to durable, delivered results. Owns the
 * pipeline and its scratch, and the steps around derive and produce: parse,
 * group, load, apply and score, ranks, network ranks, the one save after
 * delivery; rescores and leaderboard flushes. See ssid_pipeline_int.h.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ssi_array.h"
#include "ssi_score.h"
#include "ssid_network.h"
#include "ssid_pipeline_int.h"

/* Below this many messages a second parsing thread costs more than it saves. */
#define PARALLEL_PARSE_MIN 2000
/* The scratch arrays' first capacity, in messages. */
#define SCRATCH_FIRST 64

void ssid_failpoint(const char *name)
{
	const char *want = getenv("SSID_FAILPOINT");

	if (want && strcmp(want, name) == 0)
		raise(SIGKILL);
}

int ssid_pipeline_new(struct ssid_pipeline **out, const struct ssid_pipeline_opts *o,
		      const struct ssi_model *model)
{
	struct ssid_pipeline *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->o = *o;
	p->model = model;
	p->output_topic = strdup(o->output_topic);
	p->dlq_topic = strdup(o->dlq_topic);
	if (!p->output_topic || !p->dlq_topic) {
		ssid_pipeline_free(p);
		return -ENOMEM;
	}
	p->o.output_topic = p->output_topic;
	p->o.dlq_topic = p->dlq_topic;
	*out = p;
	return 0;
}

static void users_reset(struct ssid_pipeline *p)
{
	for (size_t i = 0; i < p->nusers; i++) {
		ssid_user_clear(&p->users[i]);
		if (p->work[i].has_before)
			ssi_state_release(&p->work[i].before);
	}
	p->nusers = 0;
	p->ncrossings = 0;
	p->nalerts = 0;
	p->nboards = 0;
	p->nnet = 0;
}

void ssid_pipeline_free(struct ssid_pipeline *p)
{
	if (!p)
		return;
	users_reset(p);
	free(p->avgs);
	free(p->users);
	free(p->work);
	free(p->next);
	free(p->slots);
	free(p->changes);
	free(p->change_user);
	free(p->crossings);
	free(p->alerts);
	free(p->forecast);
	free(p->net);
	ssid_buf_free(&p->out);
	free(p->output_topic);
	free(p->dlq_topic);
	free(p);
}

void ssid_pipeline_set_model(struct ssid_pipeline *p, const struct ssi_model *model)
{
	p->model = model;
}

void ssid_pipeline_set_epsilon(struct ssid_pipeline *p, double epsilon)
{
	p->o.epsilon = epsilon;
}

void ssid_pipeline_set_alert_rules(struct ssid_pipeline *p, const struct ssi_alert_rules *r)
{
	p->o.alerts = *r;
}

static bool alerts_enabled(const struct ssid_pipeline *p)
{
	for (int i = 0; i < SSI_ALERT__COUNT; i++)
		if (p->o.alerts.enabled[i])
			return true;
	return false;
}

const char *ssid_pipeline_errstr(const struct ssid_pipeline *p)
{
	return p->err;
}

/*
 * Size the scratch arrays for a batch of n messages. users, work, next,
 * changes and change_user grow together: each to the capacity SSI_GROW
 * gives from users_cap, which takes it only once all five have it.
 */
static int scratch_reserve(struct ssid_pipeline *p, size_t n)
{
	size_t cap[5] = {p->users_cap, p->users_cap, p->users_cap, p->users_cap, p->users_cap};
	size_t slots = 16;

	if (SSI_GROW(p->users, &cap[0], n, SCRATCH_FIRST) < 0 ||
	    SSI_GROW(p->work, &cap[1], n, SCRATCH_FIRST) < 0 ||
	    SSI_GROW(p->next, &cap[2], n, SCRATCH_FIRST) < 0 ||
	    SSI_GROW(p->changes, &cap[3], n, SCRATCH_FIRST) < 0 ||
	    SSI_GROW(p->change_user, &cap[4], n, SCRATCH_FIRST) < 0)
		return -ENOMEM;
	p->users_cap = cap[0];
	while (slots < 2 * n)
		slots *= 2;
	if (slots > p->nslots) {
		free(p->slots);
		p->slots = malloc(slots * sizeof(*p->slots));
		if (!p->slots) {
			p->nslots = 0;
			return -ENOMEM;
		}
		p->nslots = slots;
	}
	memset(p->slots, 0, p->nslots * sizeof(*p->slots));
	return 0;
}

struct parse_job {
	struct ssid_batch *b;
	size_t from, to;
	struct ssi_event_limits lim;
};

static void *parse_range(void *arg)
{
	struct parse_job *j = arg;

	ssid_batch_parse(j->b, j->from, j->to, &j->lim);
	return NULL;
}

/*
 * Parse once per batch (the result does not depend on the clock). JSON is
 * the largest CPU cost of a batch, and messages parse independently, so a
 * large batch is split with a second thread: the main thread spends much of
 * its time waiting on Redis and Kafka, so the second core is otherwise idle
 * during this step. Messages read ahead (ssid_daemon_prefetch.c) come
 * parsed, first: only the rest is split.
 */
static void parse_all(struct ssid_pipeline *p, struct ssid_batch *b)
{
	size_t from = 0;
	struct parse_job half[2];
	pthread_t helper;

	while (from < b->n && b->msg[from].parsed)
		from++;
	half[0] = (struct parse_job){
	    b, from, from + (b->n - from) / 2, {.max_bytes = p->model->max_event_bytes}};
	half[1] = (struct parse_job){b, half[0].to, b->n, half[0].lim};
	if (b->n - from < PARALLEL_PARSE_MIN ||
	    pthread_create(&helper, NULL, parse_range, &half[1]) != 0) {
		half[0].to = b->n;
		parse_range(&half[0]);
		return;
	}
	parse_range(&half[0]);
	pthread_join(helper, NULL);
}

static uint32_t user_slot(struct ssid_pipeline *p, const char *id)
{
	uint64_t h = ssi_event_fingerprint(id, strlen(id));
	size_t mask = p->nslots - 1;

	for (size_t i = h & mask;; i = (i + 1) & mask) {
		uint32_t u = p->slots[i];

		if (u == 0) {
			u = (uint32_t)p->nusers++;
			p->slots[i] = u + 1;
			ssid_user_init(&p->users[u], id);
			memset(&p->work[u], 0, offsetof(struct user_work, before));
			p->work[u].first = p->work[u].last = NO_MSG;
			return u;
		}
		if (strcmp(p->users[u - 1].id, id) == 0)
			return u - 1;
	}
}

/* Group valid events by user, keeping each user's events in batch order. */
static void group_by_user(struct ssid_pipeline *p, struct ssid_batch *b, int64_t now_ms)
{
	const struct ssi_model *m = p->model;

	for (size_t i = 0; i < b->n; i++) {
		struct ssid_msg *msg = &b->msg[i];
		uint32_t u;

		p->next[i] = NO_MSG;
		if (msg->status == 0)
			msg->status = ssi_event_check_time(
			    &msg->ev, m->window_days, m->future_tolerance_ms, now_ms, &msg->why);
		if (msg->status < 0)
			continue;
		u = user_slot(p, msg->ev.user_id);
		msg->user = u;
		p->users[u].partition = msg->rkm->partition;
		if (p->work[u].first == NO_MSG)
			p->work[u].first = (uint32_t)i;
		else
			p->next[p->work[u].last] = (uint32_t)i;
		p->work[u].last = (uint32_t)i;
	}
}

/*
 * A stored state this build cannot read must not be overwritten or scored:
 * its user's events go to the dead-letter topic instead.
 */
static void reject_unreadable(struct ssid_pipeline *p, struct ssid_batch *b, uint32_t u)
{
	const char *code = p->users[u].load_status == -EPROTONOSUPPORT ? "state_newer_version"
								       : "state_unreadable";

	for (uint32_t i = p->work[u].first; i != NO_MSG; i = p->next[i]) {
		b->msg[i].status = -EINVAL;
		snprintf(b->msg[i].why.code, sizeof(b->msg[i].why.code), "%s", code);
		snprintf(b->msg[i].why.message, sizeof(b->msg[i].why.message),
			 "the stored state of user %s cannot be decoded by this ssid (%s)",
			 p->users[u].id, strerror(-p->users[u].load_status));
	}
}

static bool moved(const struct ssi_score *a, const struct ssi_score *b, double epsilon)
{
	int eps = (int)lround(epsilon * 100);

	if (abs(a->total - b->total) >= eps && a->total != b->total)
		return true;
	for (int i = 0; i < SSI_PILLAR__COUNT; i++)
		if (abs(a->pillar[i] - b->pillar[i]) >= eps && a->pillar[i] != b->pillar[i])
			return true;
	return false;
}

/* The rep was last published under another model: its change is the model's. */
static bool model_changed(const struct ssid_pipeline *p, const struct ssid_user *user)
{
	return user->has_published && user->published_model[0] &&
	       strcmp(user->published_model, p->model->version) != 0;
}

/* Score a loaded user at now_ms and decide whether and why to publish. */
static void score_user(struct ssid_pipeline *p, uint32_t u, enum ssid_cause cause, int64_t now_ms)
{
	struct ssid_user *user = &p->users[u];
	struct user_work *w = &p->work[u];

	/* The score and the decay schedule in one pass over the state. */
	user->due_ms = ssi_score_and_next_change(&user->state, p->model, now_ms, &w->score);
	if (user->due_ms < now_ms)
		user->due_ms = now_ms;
	w->cause = cause;
	if (model_changed(p, user)) {
		/* Always published: every output names the model it was scored by. */
		w->cause = SSID_CAUSE_MODEL;
		w->publish = true;
	} else {
		if (cause == SSID_CAUSE_MODEL)
			w->cause = SSID_CAUSE_DECAY; /* already rescored: only time moved */
		w->publish =
		    !user->has_published || moved(&w->score, &user->published, p->o.epsilon);
	}
}

/* Remember an applied connection event's change to the rep's connection set. */
static int note_connection(struct ssid_pipeline *p, const struct ssi_event *ev)
{
	if ((ev->type != SSI_EV_CONNECTION_ADDED && ev->type != SSI_EV_CONNECTION_REMOVED) ||
	    !ev->attrs.connection.connection_id[0])
		return 0;
	if (SSI_GROW(p->net, &p->net_cap, p->nnet + 1, 256) < 0)
		return -ENOMEM;
	p->net[p->nnet++] = (struct ssid_net_op){
	    .add = ev->type == SSI_EV_CONNECTION_ADDED,
	    .connection_id = ev->attrs.connection.connection_id,
	};
	return 0;
}

/*
 * A batch's users are visited in turn and their states, rows and messages
 * are mostly out of cache: ask for the first message and the state of the
 * user two ahead, and for the rows of the next (whose state was asked for
 * one user ago), so their cache misses overlap this user's work.
 */
static void prefetch_users(const struct ssid_pipeline *p, const struct ssid_batch *b, uint32_t u)
{
	if (u + 2 < p->nusers) {
		uint32_t first = p->work[u + 2].first;

		ssi_state_prefetch(&p->users[u + 2].state, false);
		if (first != NO_MSG) {
			__builtin_prefetch(b->msg[first].rkm);
			__builtin_prefetch(&b->msg[first].ev);
			__builtin_prefetch(b->msg[first].ev.segment);
		}
	}
	if (u + 1 < p->nusers)
		ssi_state_prefetch(&p->users[u + 1].state, true);
}

/* Keep a copy of the rep's state as it was before this batch, for alerts. */
static int keep_before(struct user_work *w, const struct ssi_state *st)
{
	ssi_state_init(&w->before);
	if (ssi_state_copy(&w->before, st) < 0)
		return -ENOMEM;
	w->has_before = true;
	return 0;
}

static int apply_user(struct ssid_pipeline *p, struct ssid_batch *b, uint32_t u, int64_t now_ms,
		      struct ssid_batch_stats *stats)
{
	size_t net_from = p->nnet;
	struct ssid_user *user = &p->users[u];
	struct user_work *w = &p->work[u];
	bool changed = false;

	/* A retried replay batch finds its events applied: still a replay. */
	for (uint32_t i = w->first; i != NO_MSG; i = p->next[i]) {
		w->replay |= b->msg[i].replay;
		w->live |= !b->msg[i].replay;
	}
	/* A replay evaluates no alert, so it needs no state to explain one against. */
	if (user->has_published && alerts_enabled(p) && !w->replay &&
	    keep_before(w, &user->state) < 0)
		return -ENOMEM;
	for (uint32_t i = w->first; i != NO_MSG; i = p->next[i]) {
		const rd_kafka_message_t *rkm = b->msg[i].rkm;
		int r;

		if (b->msg[i].ev.occurred_at_ms > w->newest_ms)
			w->newest_ms = b->msg[i].ev.occurred_at_ms;
		if (rkm->offset <= ssi_state_mark_get(&user->state, rkm->partition)) {
			stats->replayed++;
			continue;
		}
		r = ssi_state_apply(&user->state, p->model, &b->msg[i].ev);
		if (r < 0)
			return r;
		if (r == 0)
			stats->duplicates++;
		else if (note_connection(p, &b->msg[i].ev) < 0)
			return -ENOMEM;
		else
			w->applied++;
		ssi_state_mark_set(&user->state, rkm->partition, rkm->offset);
		changed = true;
	}
	if (changed)
		ssi_state_prune(&user->state, p->model, now_ms);
	/* An index for now: p->net may still move while later users are applied. */
	w->net_from = net_from;
	user->nnet = p->nnet - net_from;
	score_user(p, u, SSID_CAUSE_EVENT, now_ms);
	/* A model change is news now, whatever the age of the events. */
	w->backfill = w->cause == SSID_CAUSE_EVENT && p->o.max_event_age_ms > 0 &&
		      w->newest_ms > 0 && w->newest_ms < now_ms - p->o.max_event_age_ms;
	/* Only a state with new marks is written, and then with its next decay. */
	if (changed)
		ssid_store_stage_state(user, true);
	stats->applied += (size_t)w->applied;
	return 0;
}

/* Note the boards a rank change may have moved, for leaderboard.changed. */
static int touch_boards(struct ssid_pipeline *p, const struct ssid_rank_change *c, bool backfill,
			int64_t now)
{
	static const enum ssid_rank_kind kinds[] = {SSID_RANK_TENANT, SSID_RANK_TEAM};
	int r = 0;

	if (!p->o.boards)
		return 0;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]) && r >= 0; i++) {
		const struct ssid_rank_result *res = &c->result[kinds[i]];

		if (res->board_new && res->after.present)
			r = ssid_boards_touch(p->o.boards, kinds[i], c->segment, backfill, now);
		if (r >= 0 && res->board_old && res->moved)
			r = ssid_boards_touch(p->o.boards, kinds[i], c->old_segment, backfill, now);
	}
	return r == -EINVAL ? 0 : r;
}

/*
 * Network ranks cost O(connections) each (ssid_network.h): refresh those
 * older than today, a bounded number per batch, all of them in lockstep
 * (a few round trips for the batch, not per rep).
 */
static int network_step(struct ssid_pipeline *p, int64_t now_ms)
{
	int32_t today = (int32_t)(now_ms / SSI_MS_PER_DAY);
	size_t budget = (size_t)p->o.network_per_batch, n = 0;
	struct ssid_network_ask *asks;
	uint32_t *who;
	int r = 0;

	if (budget > p->nusers)
		budget = p->nusers;
	if (!p->o.network || budget == 0)
		return 0;
	asks = malloc(budget * sizeof(*asks));
	who = malloc(budget * sizeof(*who));
	if (!asks || !who) {
		free(asks);
		free(who);
		return -ENOMEM;
	}
	for (uint32_t u = 0; u < p->nusers && n < budget; u++) {
		/* A replay's ranks reach Redis later: network ranks read them there. */
		if (!p->work[u].has_ranks || p->work[u].replay || p->users[u].network_day == today)
			continue;
		asks[n].user_id = p->users[u].id;
		asks[n].total = p->work[u].score.total; /* as just ranked */
		asks[n].conns = &p->users[u].conns; /* as loaded: the save applies this batch's */
		who[n++] = u;
	}
	if (n > 0)
		r = ssid_network_rank_batch(p->o.network, asks, n, p->o.min_members, NULL);
	if (r < 0)
		snprintf(p->err, sizeof(p->err), "redis (network rank): %s",
			 ssid_redis_errstr(p->o.network));
	for (size_t i = 0; i < n && r == 0; i++) {
		p->users[who[i]].network = asks[i].pos;
		p->users[who[i]].network_day = today;
	}
	free(asks);
	free(who);
	return r < 0 && r != -ENOMEM ? -EIO : r;
}

/*
 * Move every published rep in its segments (in memory; one round trip for
 * the batch writes each touched partition) and keep where each now stands
 * for its score.updated.
 */
static int rank_step(struct ssid_pipeline *p)
{
	size_t n = 0;
	int64_t now;
	int r;

	if (!p->o.rank)
		return 0;
	for (uint32_t u = 0; u < p->nusers; u++) {
		struct ssid_rank_change *c = &p->changes[n];

		if (!p->work[u].publish || p->users[u].load_status < 0)
			continue;
		/* Only the inputs: ssid_rank_apply resets the outputs (1 KB) itself. */
		c->removed = false;
		c->user_id = p->users[u].id;
		c->partition = p->users[u].partition;
		for (int s = 0; s < SSI_SEG__COUNT; s++)
			c->segment[s] = p->users[u].state.segment[s];
		c->score = p->work[u].score;
		/* A replay publishes nothing: its ranks are not read back. */
		c->quiet = p->work[u].replay && !p->work[u].live;
		c->brief_before = true; /* the boards' flags are all that reads it */
		p->change_user[n++] = u;
	}
	if (n == 0)
		return 0;
	/* In memory; written in finish, replays too (a kill mid-rebuild must not lose them). */
	r = ssid_rank_apply(p->o.rank, p->changes, n, false);
	if (r < 0) {
		snprintf(p->err, sizeof(p->err), "redis (ranks): %s", ssid_rank_errstr(p->o.rank));
		return r == -EINVAL ? -EIO : r;
	}
	now = ssid_time_mono_ms(); /* the boards' coalescing clock: once for the batch */
	for (size_t i = 0; i < n; i++) {
		struct user_work *w = &p->work[p->change_user[i]];

		w->has_ranks = !p->changes[i].quiet;
		w->change = (uint32_t)i;
		/* Boards, like scores, were published when the replayed events were first read. */
		r = p->changes[i].quiet ? 0 : touch_boards(p, &p->changes[i], w->backfill, now);
		if (r < 0)
			return r;
	}
	return 0;
}

static int store_step(struct ssid_pipeline *p, int r)
{
	if (r < 0)
		snprintf(p->err, sizeof(p->err), "redis: %s", ssid_store_errstr(p->o.store));
	return r;
}

/*
 * Everything after the users are loaded and scored: move them in their
 * segments, derive crossings, alerts and history, publish, and only then
 * write their records (state, marks, schedule and what was delivered) in one
 * round trip. Until that write nothing of the batch is in Redis but ranks,
 * which are idempotent, so a failure anywhere runs the batch again from the
 * same records.
 */
static int finish(struct ssid_pipeline *p, struct ssid_batch *b, int64_t now_ms,
		  struct ssid_batch_stats *stats)
{
	int r;

	if (p->o.rank)
		ssid_rank_set_clock(p->o.rank, now_ms);
	r = rank_step(p);
	if (r == 0)
		r = network_step(p, now_ms);
	/*
	 * The ranks' write goes out now, after the network ranks' reads, and is
	 * collected after the save: Redis does it while the outputs are made.
	 */
	if (r == 0 && p->o.rank && (r = ssid_rank_send(p->o.rank)) < 0)
		snprintf(p->err, sizeof(p->err), "redis (ranks): %s", ssid_rank_errstr(p->o.rank));
	if (r == 0)
		r = pipe_derive(p, now_ms);
	if (r < 0)
		return r;
	ssid_failpoint("before_delivery");

	r = pipe_produce_all(p, b, now_ms, stats);
	if (r < 0)
		return r;
	ssid_failpoint("after_delivery");

	for (size_t u = 0; u < p->nusers; u++) {
		const struct user_work *w = &p->work[u];

		if (!w->publish || p->users[u].load_status != 0)
			continue;
		/*
		 * A replay's percentiles are taken while its segments are still
		 * filling: they are no reference for the next live score's.
		 */
		ssid_store_stage_delivered(&p->users[u], &w->score, now_ms, p->model->version,
					   w->live || !w->replay ? w->top : NULL);
	}
	r = store_step(p, ssid_store_save(p->o.store, p->users, p->nusers));
	/* The ranks' write, sent before the outputs. */
	if (r == 0 && p->o.rank && (r = ssid_rank_collect(p->o.rank)) < 0)
		snprintf(p->err, sizeof(p->err), "redis (ranks): %s", ssid_rank_errstr(p->o.rank));
	return r;
}

int ssid_pipeline_run(struct ssid_pipeline *p, struct ssid_batch *b, int64_t now_ms,
		      struct ssid_batch_stats *stats)
{
	int r;

	memset(stats, 0, sizeof(*stats));
	stats->events = b->n;
	p->run_mono = ssid_time_mono_ms();
	users_reset(p);
	if (b->n == 0)
		return 0;
	r = scratch_reserve(p, b->n);
	if (r < 0)
		return r;
	parse_all(p, b);
	group_by_user(p, b, now_ms);
	stats->users = p->nusers;

	r = store_step(p, ssid_store_load(p->o.store, p->users, p->nusers));
	if (r < 0)
		return r;
	for (uint32_t u = 0; u < p->nusers; u++) {
		prefetch_users(p, b, u);
		if (p->users[u].load_status < 0) {
			reject_unreadable(p, b, u);
			continue;
		}
		r = apply_user(p, b, u, now_ms, stats);
		if (r < 0)
			return r;
	}
	for (uint32_t u = 0; u < p->nusers; u++)
		if (p->users[u].nnet > 0)
			p->users[u].net = p->net + p->work[u].net_from;
	return finish(p, b, now_ms, stats);
}

int ssid_pipeline_rescore(struct ssid_pipeline *p, char *const *ids, size_t n, int32_t partition,
			  enum ssid_cause cause, int64_t now_ms, struct ssid_batch_stats *stats)
{
	int r;

	memset(stats, 0, sizeof(*stats));
	p->run_mono = ssid_time_mono_ms();
	users_reset(p);
	if (n == 0)
		return 0;
	r = scratch_reserve(p, n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		p->users[user_slot(p, ids[i])].partition = partition;
	stats->users = p->nusers;
	r = store_step(p, ssid_store_load(p->o.store, p->users, p->nusers));
	if (r < 0)
		return r;
	for (uint32_t u = 0; u < p->nusers; u++) {
		struct ssid_user *user = &p->users[u];

		/* Unreadable or gone: nothing to rescore, and not ours to delete. */
		if (user->load_status < 0 || !user->has_state) {
			user->load_status = user->load_status < 0 ? user->load_status : -ENOENT;
			continue;
		}
		/* An alert explains the fall against the state before days aged out. */
		if (user->has_published && alerts_enabled(p) &&
		    keep_before(&p->work[u], &user->state) < 0)
			return -ENOMEM;
		ssi_state_prune(&user->state, p->model, now_ms);
		score_user(p, u, cause, now_ms);
		ssid_store_stage_state(user, true);
	}
	return finish(p, NULL, now_ms, stats);
}

int ssid_pipeline_flush_boards(struct ssid_pipeline *p, int64_t now_ms,
			       struct ssid_batch_stats *stats)
{
	memset(stats, 0, sizeof(*stats));
	p->run_mono = ssid_time_mono_ms();
	users_reset(p);
	if (!p->o.boards || ssid_boards_next_due(p->o.boards) > ssid_time_mono_ms())
		return 0;
	return pipe_produce_all(p, NULL, now_ms, stats);
}