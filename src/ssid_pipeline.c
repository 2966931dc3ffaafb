/* ssid_pipeline: a batch from bytes to durable, delivered results. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ssi_score.h"
#include "ssid_network.h"
#include "ssid_out.h"
#include "ssid_pipeline.h"

/* Per-user work beside the store's record. */
struct user_work {
	uint32_t first, last; /* message list in offset order, via next[] */
	int applied;
	bool replay; /* some event is a rebuild's replay: publish no alert or crossing */
	bool live;   /* some event is not: the score is published (else recorded as delivered) */
	int64_t newest_ms; /* the newest occurred_at of its events in the batch, 0: none */
	bool backfill;	   /* an event score whose newest event is older than max_event_age_ms */
	size_t net_from; /* its connection changes start here in p->net */
	bool publish;
	enum ssid_cause cause;
	struct ssi_score score;
	bool has_before;
	struct ssi_state before; /* before this batch: what an alert's explain compares */
	bool has_ranks;
	struct ssid_rank_pos rank[SSID_RANK__COUNT];
	int top[SSID_RANK__COUNT]; /* percentiles to remember once delivered */
};

/* A rank.changed or an alert to publish for a user of the batch. */
struct crossing {
	uint32_t user;
	enum ssid_rank_kind kind;
	struct ssid_rank_crossing c;
};

struct alert_out {
	uint32_t user;
	struct ssi_alert a;
};

/* Deliveries of one attempt; freed by whoever sees the last report. */
struct delivery {
	int outstanding;
	int failed;
	bool abandoned;
	char err[160];
};

struct ssid_pipeline {
	struct ssid_pipeline_opts o;
	const struct ssi_model *model;
	char *output_topic, *dlq_topic;
	char err[256];

	/* Scratch reused across batches. */
	struct ssid_user *users;
	struct user_work *work;
	size_t nusers, users_cap;
	uint32_t *next;
	size_t next_cap;
	uint32_t *slots; /* open-addressing table: user index + 1, 0 = empty */
	size_t nslots;
	struct ssid_buf out;

	struct ssid_rank_change *changes; /* users_cap of them */
	uint32_t *change_user;
	struct crossing *crossings;
	size_t ncrossings, crossings_cap;
	struct alert_out *alerts;
	size_t nalerts, alerts_cap;
	const struct ssid_board_update *boards; /* collected for this attempt */
	size_t nboards;
	struct ssid_net_op *net; /* connection changes, contiguous per user */
	size_t nnet, net_cap;
};

#define NO_MSG UINT32_MAX
/* Below this many messages a second parsing thread costs more than it saves. */
#define PARALLEL_PARSE_MIN 2000

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ssid_failpoint(const char *name)
{
	const char *want = getenv("SSID_FAILPOINT");

	if (want && strcmp(want, name) == 0)
		raise(SIGKILL);
}

void ssid_batch_init(struct ssid_batch *b)
{
	memset(b, 0, sizeof(*b));
}

int ssid_batch_add(struct ssid_batch *b, rd_kafka_message_t *rkm)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 1024;
		struct ssid_msg *m = realloc(b->msg, cap * sizeof(*m));

		if (!m) {
			rd_kafka_message_destroy(rkm);
			return -ENOMEM;
		}
		b->msg = m;
		b->cap = cap;
	}
	b->msg[b->n].rkm = rkm;
	b->msg[b->n].parsed = false;
	b->msg[b->n].replay = false;
	b->n++;
	return 0;
}

static bool in_list(const rd_kafka_topic_partition_list_t *parts, const rd_kafka_message_t *rkm)
{
	const char *topic = rd_kafka_topic_name(rkm->rkt);

	for (int i = 0; i < parts->cnt; i++)
		if (parts->elems[i].partition == rkm->partition &&
		    strcmp(parts->elems[i].topic, topic) == 0)
			return true;
	return false;
}

void ssid_batch_drop_partitions(struct ssid_batch *b, const rd_kafka_topic_partition_list_t *parts)
{
	size_t keep = 0;

	for (size_t i = 0; i < b->n; i++) {
		if (in_list(parts, b->msg[i].rkm))
			rd_kafka_message_destroy(b->msg[i].rkm);
		else
			b->msg[keep++] = b->msg[i];
	}
	b->n = keep;
}

void ssid_batch_clear(struct ssid_batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		rd_kafka_message_destroy(b->msg[i].rkm);
	b->n = 0;
}

void ssid_batch_free(struct ssid_batch *b)
{
	if (!b)
		return;
	ssid_batch_clear(b);
	free(b->msg);
	ssid_batch_init(b);
}

rd_kafka_topic_partition_list_t *ssid_batch_offsets(const struct ssid_batch *b)
{
	rd_kafka_topic_partition_list_t *l;

	if (b->n == 0)
		return NULL;
	l = rd_kafka_topic_partition_list_new(8);
	for (size_t i = 0; i < b->n; i++) {
		const rd_kafka_message_t *m = b->msg[i].rkm;
		rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_find(
		    l, rd_kafka_topic_name(m->rkt), m->partition);

		if (!tp)
			tp = rd_kafka_topic_partition_list_add(l, rd_kafka_topic_name(m->rkt),
							       m->partition);
		if (m->offset + 1 > tp->offset)
			tp->offset = m->offset + 1;
	}
	return l;
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
		ssi_state_clear(&p->work[i].before);
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
	free(p->users);
	free(p->work);
	free(p->next);
	free(p->slots);
	free(p->changes);
	free(p->change_user);
	free(p->crossings);
	free(p->alerts);
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

/* Size the scratch arrays for a batch of n messages. */
static int scratch_reserve(struct ssid_pipeline *p, size_t n)
{
	size_t slots = 16;

	if (n > p->users_cap) {
		struct ssid_user *u = realloc(p->users, n * sizeof(*u));
		struct user_work *w;

		if (!u)
			return -ENOMEM;
		p->users = u;
		w = realloc(p->work, n * sizeof(*w));
		if (!w)
			return -ENOMEM;
		p->work = w;
		free(p->changes);
		free(p->change_user);
		p->changes = malloc(n * sizeof(*p->changes));
		p->change_user = malloc(n * sizeof(*p->change_user));
		if (!p->changes || !p->change_user)
			return -ENOMEM;
		p->users_cap = n;
	}
	if (n > p->next_cap) {
		uint32_t *nx = realloc(p->next, n * sizeof(*nx));

		if (!nx)
			return -ENOMEM;
		p->next = nx;
		p->next_cap = n;
	}
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

	for (size_t i = j->from; i < j->to; i++) {
		struct ssid_msg *m = &j->b->msg[i];

		if (m->parsed)
			continue;
		m->status =
		    ssi_event_parse(m->rkm->payload ? m->rkm->payload : "",
				    m->rkm->payload ? m->rkm->len : 0, &j->lim, &m->ev, &m->why);
		m->parsed = true;
	}
	return NULL;
}

/*
 * Parse once per batch (the result does not depend on the clock). JSON is
 * the largest CPU cost of a batch, and messages parse independently, so a
 * large batch is split with a second thread: the main thread spends much of
 * its time waiting on Redis and Kafka, so the second core is otherwise idle
 * during this step.
 */
static void parse_all(struct ssid_pipeline *p, struct ssid_batch *b)
{
	struct parse_job half[2] = {
	    {b, 0, b->n / 2, {.max_bytes = p->model->max_event_bytes}},
	    {b, b->n / 2, b->n, {.max_bytes = p->model->max_event_bytes}},
	};
	pthread_t helper;

	if (b->n < PARALLEL_PARSE_MIN ||
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
			memset(&p->work[u], 0, sizeof(p->work[u]));
			ssi_state_init(&p->work[u].before);
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
	if (p->nnet == p->net_cap) {
		size_t cap = p->net_cap ? p->net_cap * 2 : 256;
		struct ssid_net_op *n = realloc(p->net, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		p->net = n;
		p->net_cap = cap;
	}
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

static int apply_user(struct ssid_pipeline *p, struct ssid_batch *b, uint32_t u, int64_t now_ms,
		      struct ssid_batch_stats *stats)
{
	size_t net_from = p->nnet;
	struct ssid_user *user = &p->users[u];
	struct user_work *w = &p->work[u];

	if (user->has_published && alerts_enabled(p)) {
		if (ssi_state_copy(&w->before, &user->state) < 0)
			return -ENOMEM;
		w->has_before = true;
	}
	for (uint32_t i = w->first; i != NO_MSG; i = p->next[i]) {
		const rd_kafka_message_t *rkm = b->msg[i].rkm;
		int r;

		/* A retried replay batch finds its events applied: still a replay. */
		w->replay |= b->msg[i].replay;
		w->live |= !b->msg[i].replay;
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
		user->save_state = true;
	}
	if (user->save_state)
		ssi_state_prune(&user->state, p->model, now_ms);
	/* An index for now: p->net may still move while later users are applied. */
	w->net_from = net_from;
	user->nnet = p->nnet - net_from;
	score_user(p, u, SSID_CAUSE_EVENT, now_ms);
	/* A model change is news now, whatever the age of the events. */
	w->backfill = w->cause == SSID_CAUSE_EVENT && p->o.max_event_age_ms > 0 && w->newest_ms > 0 &&
		      w->newest_ms < now_ms - p->o.max_event_age_ms;
	user->save_due = user->save_state;
	stats->applied += (size_t)w->applied;
	return 0;
}

/* Push segment values of a rank change's side into a segment array. */
static void old_segments(const struct ssid_rank_change *c, const char *seg[SSI_SEG__COUNT])
{
	for (int s = 0; s < SSI_SEG__COUNT; s++)
		seg[s] = c->old_segment[s];
}

/* Note the boards a rank change may have moved, for leaderboard.changed. */
static int touch_boards(struct ssid_pipeline *p, const struct ssid_rank_change *c, bool backfill)
{
	static const enum ssid_rank_kind kinds[] = {SSID_RANK_TENANT, SSID_RANK_TEAM};
	int64_t now = mono_ms();
	const char *old[SSI_SEG__COUNT];
	int r = 0;

	if (!p->o.boards)
		return 0;
	old_segments(c, old);
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]) && r >= 0; i++) {
		const struct ssid_rank_result *res = &c->result[kinds[i]];

		if (res->board_new && res->after.present)
			r = ssid_boards_touch(p->o.boards, kinds[i], c->segment, backfill, now);
		if (r >= 0 && res->board_old && res->moved)
			r = ssid_boards_touch(p->o.boards, kinds[i], old, backfill, now);
	}
	return r == -EINVAL ? 0 : r;
}

/*
 * Network ranks cost O(connections) each (ssid_network.h): refresh those
 * older than today, a bounded number per batch.
 */
static int network_step(struct ssid_pipeline *p, int64_t now_ms)
{
	int32_t today = (int32_t)(now_ms / SSI_MS_PER_DAY);
	int budget = p->o.network_per_batch;

	if (!p->o.network)
		return 0;
	for (uint32_t u = 0; u < p->nusers && budget > 0; u++) {
		struct ssid_user *user = &p->users[u];
		int r;

		/* A replay's ranks reach Redis later: network ranks read them there. */
		if (!p->work[u].has_ranks || p->work[u].replay || user->network_day == today)
			continue;
		r = ssid_network_rank(p->o.network, user->id, p->o.min_members, &user->network,
				      NULL);
		if (r < 0) {
			snprintf(p->err, sizeof(p->err), "redis (network rank): %s",
				 ssid_redis_errstr(p->o.network));
			return r == -ENOMEM ? r : -EIO;
		}
		user->network_day = today;
		budget--;
	}
	return 0;
}

/*
 * Move every published rep in its segments (in memory; one round trip for
 * the batch writes each touched partition) and keep where each now stands
 * for its score.updated.
 */
static int rank_step(struct ssid_pipeline *p)
{
	size_t n = 0;
	int r;

	if (!p->o.rank)
		return 0;
	for (uint32_t u = 0; u < p->nusers; u++) {
		struct ssid_rank_change *c = &p->changes[n];

		if (!p->work[u].publish || p->users[u].load_status < 0)
			continue;
		memset(c, 0, sizeof(*c));
		c->user_id = p->users[u].id;
		c->partition = p->users[u].partition;
		for (int s = 0; s < SSI_SEG__COUNT; s++)
			c->segment[s] = p->users[u].state.segment[s];
		c->score = p->work[u].score;
		p->change_user[n++] = u;
	}
	if (n == 0)
		return 0;
	/* Records with every batch, replays too: a kill mid-rebuild must not lose them. */
	r = ssid_rank_apply(p->o.rank, p->changes, n, true);
	if (r < 0) {
		snprintf(p->err, sizeof(p->err), "redis (ranks): %s", ssid_rank_errstr(p->o.rank));
		return r == -EINVAL ? -EIO : r;
	}
	for (size_t i = 0; i < n; i++) {
		struct user_work *w = &p->work[p->change_user[i]];

		w->has_ranks = true;
		for (int k = 0; k < SSID_RANK__COUNT; k++)
			w->rank[k] = p->changes[i].result[k].after;
		/* Boards, like scores, were published when the replayed events were first read. */
		r = w->replay && !w->live ? 0 : touch_boards(p, &p->changes[i], w->backfill);
		if (r < 0)
			return r;
	}
	return 0;
}

static int push_crossing(struct ssid_pipeline *p, uint32_t u, enum ssid_rank_kind kind,
			 const struct ssid_rank_crossing *c)
{
	if (p->ncrossings == p->crossings_cap) {
		size_t cap = p->crossings_cap ? p->crossings_cap * 2 : 64;
		struct crossing *n = realloc(p->crossings, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		p->crossings = n;
		p->crossings_cap = cap;
	}
	p->crossings[p->ncrossings++] = (struct crossing){.user = u, .kind = kind, .c = *c};
	return 0;
}

static int push_alert(struct ssid_pipeline *p, uint32_t u, const struct ssi_alert *a)
{
	if (p->nalerts == p->alerts_cap) {
		size_t cap = p->alerts_cap ? p->alerts_cap * 2 : 16;
		struct alert_out *n = realloc(p->alerts, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		p->alerts = n;
		p->alerts_cap = cap;
	}
	p->alerts[p->nalerts].user = u;
	p->alerts[p->nalerts++].a = *a;
	return 0;
}

/* Band crossings since the rep's last delivered percentiles, per segment kind. */
static int rank_crossings(struct ssid_pipeline *p, uint32_t u)
{
	struct user_work *w = &p->work[u];

	for (int k = 0; k < SSID_RANK__COUNT; k++) {
		const struct ssid_rank_pos *pos = &w->rank[k];
		struct ssid_rank_crossing c;

		w->top[k] = w->has_ranks && pos->present && !pos->hidden ? pos->top_percent : 0;
		/* Not about the past, nor in a segment still filling up (README "Alerts"). */
		if (!w->replay && !w->backfill && !pos->warming &&
		    ssid_rank_band_crossing(&p->o.bands, p->users[u].published_top[k], w->top[k],
					    &c) != 0 &&
		    push_crossing(p, u, (enum ssid_rank_kind)k, &c) < 0)
			return -ENOMEM;
	}
	return 0;
}

static enum ssi_alert_cause alert_cause(enum ssid_cause c)
{
	return c == SSID_CAUSE_DECAY   ? SSI_ALERT_CAUSE_DECAY
	       : c == SSID_CAUSE_MODEL ? SSI_ALERT_CAUSE_MODEL
				       : SSI_ALERT_CAUSE_EVENT;
}

/*
 * Check the rules. Explains are computed only for a rep an alert fires for
 * (a dry run on a copy of the rule state says whether): they cost a
 * rescoring per candidate action.
 */
static int evaluate_alerts(struct ssid_pipeline *p, uint32_t u, int64_t now_ms, int32_t today)
{
	struct ssid_user *user = &p->users[u];
	struct user_work *w = &p->work[u];
	struct ssi_alert_input in = {
	    .now_ms = now_ms,
	    .cause = alert_cause(w->cause),
	    .has_old = user->has_published,
	    .old_score = user->published,
	    .new_score = w->score,
	    .max_total = -1,
	    .old_top_percent = user->published_top[SSID_RANK_INDUSTRY],
	    /* A segment still filling up says nothing about the rep. */
	    .new_top_percent = w->rank[SSID_RANK_INDUSTRY].warming ? SSI_ALERT_TOP_UNKNOWN
								 : w->top[SSID_RANK_INDUSTRY],
	    .window_days = p->model->window_days,
	};
	struct ssi_alert out[SSI_ALERT__COUNT];
	struct ssi_alert_state trial = user->alert;
	struct ssi_explain before, now;
	int n;

	if (user->history_status == 0 && user->history.n > 0) {
		int max = ssi_history_max_since(&user->history, today - p->o.alerts.drop_days + 1);

		in.max_total = max >= 0 ? max : -1;
	}
	n = ssi_alert_evaluate(&trial, &p->o.alerts, &in, out, SSI_ALERT__COUNT);
	if (n <= 0) {
		/* -EINVAL would be a bug of ours: keep the rule state, lose no batch. */
		if (n == 0)
			user->alert = trial;
		return 0;
	}
	if (ssi_explain(w->has_before ? &w->before : &user->state, p->model,
			user->published_ms > 0 ? user->published_ms : now_ms, &before) < 0 ||
	    ssi_explain(&user->state, p->model, now_ms, &now) < 0)
		return -ENOMEM;
	in.prev_explain = &before;
	in.cur_explain = &now;
	n = ssi_alert_evaluate(&user->alert, &p->o.alerts, &in, out, SSI_ALERT__COUNT);
	for (int i = 0; i < n; i++)
		if (push_alert(p, u, &out[i]) < 0)
			return -ENOMEM;
	return 0;
}

/* What a published score implies besides itself: crossings, alerts, history. */
static int derive_step(struct ssid_pipeline *p, int64_t now_ms)
{
	int32_t today = (int32_t)(now_ms / SSI_MS_PER_DAY);

	for (uint32_t u = 0; u < p->nusers; u++) {
		struct ssid_user *user = &p->users[u];
		int r;

		if (!p->work[u].publish || user->load_status < 0)
			continue;
		r = rank_crossings(p, u);
		if (r == 0 && !p->work[u].replay && !p->work[u].backfill)
			r = evaluate_alerts(p, u, now_ms, today);
		if (r == 0 && user->history_status == 0 &&
		    ssi_history_set_retention(&user->history, p->o.history_retention_days) == 0 &&
		    ssi_history_record(&user->history, today, &p->work[u].score) == -ENOMEM)
			r = -ENOMEM;
		if (r < 0)
			return r;
	}
	return 0;
}

static struct delivery *delivery_new(void)
{
	return calloc(1, sizeof(struct delivery));
}

void ssid_pipeline_delivery_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
	struct delivery *d = rkm->_private;

	(void)rk;
	(void)opaque;
	if (!d)
		return;
	if (rkm->err) {
		d->failed++;
		snprintf(d->err, sizeof(d->err), "%s", rd_kafka_err2str(rkm->err));
	}
	if (--d->outstanding == 0 && d->abandoned)
		free(d);
}

static int produce(struct ssid_pipeline *p, struct delivery *d, const char *topic, const void *key,
		   size_t keylen, const void *val, size_t len, rd_kafka_headers_t *hdrs)
{
	for (;;) {
		rd_kafka_resp_err_t err;

		err = rd_kafka_producev(
		    p->o.producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, keylen),
		    RD_KAFKA_V_VALUE((void *)val, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		    RD_KAFKA_V_OPAQUE(d), RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
		if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
			d->outstanding++; /* hdrs now owned by librdkafka */
			return 0;
		}
		if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			if (hdrs)
				rd_kafka_headers_destroy(hdrs);
			snprintf(p->err, sizeof(p->err), "produce to %s: %s", topic,
				 rd_kafka_err2str(err));
			return -ECOMM;
		}
		/* The local queue is full: serve delivery reports to drain it. */
		rd_kafka_poll(p->o.producer, 10);
	}
}

static int produce_dlq(struct ssid_pipeline *p, struct delivery *d, const struct ssid_msg *m)
{
	const rd_kafka_message_t *rkm = m->rkm;
	rd_kafka_headers_t *h = rd_kafka_headers_new(6);
	char num[32];

	rd_kafka_header_add(h, "ssi.reason", -1, m->why.code, -1);
	rd_kafka_header_add(h, "ssi.message", -1, m->why.message, -1);
	rd_kafka_header_add(h, "ssi.source.topic", -1, rd_kafka_topic_name(rkm->rkt), -1);
	snprintf(num, sizeof(num), "%d", (int)rkm->partition);
	rd_kafka_header_add(h, "ssi.source.partition", -1, num, -1);
	snprintf(num, sizeof(num), "%lld", (long long)rkm->offset);
	rd_kafka_header_add(h, "ssi.source.offset", -1, num, -1);
	/*
	 * A payload too large for any broker's default message size would be
	 * refused for ever and stall its partition: keep its head and say so.
	 */
	if (rkm->len > SSID_DLQ_VALUE_MAX) {
		snprintf(num, sizeof(num), "%zu", rkm->len);
		rd_kafka_header_add(h, "ssi.truncated_from", -1, num, -1);
	}
	return produce(p, d, p->o.dlq_topic, rkm->key, rkm->key_len, rkm->payload,
		       rkm->len > SSID_DLQ_VALUE_MAX ? SSID_DLQ_VALUE_MAX : rkm->len, h);
}

/* Produce the message just rendered into p->out (rendered: its status) under key. */
static int produce_out(struct ssid_pipeline *p, struct delivery *d, const char *key, int rendered)
{
	if (rendered < 0)
		return rendered;
	return produce(p, d, p->o.output_topic, key, strlen(key), p->out.data, p->out.len, NULL);
}

static int produce_score(struct ssid_pipeline *p, struct delivery *d, uint32_t u, int64_t now_ms)
{
	const struct ssid_user *user = &p->users[u];
	const struct user_work *w = &p->work[u];
	struct ssid_score_msg msg = {
	    .user_id = user->id,
	    .model_version = p->model->version,
	    .score = w->score,
	    .has_previous = user->has_published,
	    .previous = user->published,
	    .cause = w->cause,
	    .as_of_ms = now_ms,
	    .events = w->applied,
	    .backfill = w->backfill,
	    .has_ranks = w->has_ranks,
	};

	for (int s = 0; s < SSI_SEG__COUNT; s++)
		msg.segment[s] = user->state.segment[s];
	if (w->has_ranks)
		memcpy(msg.rank, w->rank, sizeof(msg.rank));
	msg.has_network = w->has_ranks && user->network_day >= 0;
	msg.network = user->network;
	msg.network_day = user->network_day;
	ssid_buf_reset(&p->out);
	return produce_out(p, d, user->id, ssid_out_score_updated(&p->out, &msg));
}

static int produce_crossing(struct ssid_pipeline *p, struct delivery *d, const struct crossing *c,
			    int64_t now_ms)
{
	const struct ssid_user *user = &p->users[c->user];
	char value[2 * SSI_ID_MAX + 2];
	struct ssid_rank_msg msg = {
	    .user_id = user->id,
	    .kind = c->kind,
	    .crossing = c->c,
	    .from_top_percent = user->published_top[c->kind],
	    .pos = &p->work[c->user].rank[c->kind],
	    .cause = p->work[c->user].cause,
	    .as_of_ms = now_ms,
	    .model_version = p->model->version,
	};
	if (c->kind == SSID_RANK_INDUSTRY)
		msg.segment_value = user->state.segment[SSI_SEG_INDUSTRY];
	else if (c->kind == SSID_RANK_TENANT)
		msg.segment_value = user->state.segment[SSI_SEG_TENANT];
	else if (c->kind == SSID_RANK_TEAM) {
		snprintf(value, sizeof(value), "%s/%s", user->state.segment[SSI_SEG_TENANT],
			 user->state.segment[SSI_SEG_TEAM]);
		msg.segment_value = value;
	}
	ssid_buf_reset(&p->out);
	return produce_out(p, d, user->id, ssid_out_rank_changed(&p->out, &msg));
}

static int produce_alert(struct ssid_pipeline *p, struct delivery *d, const struct alert_out *a,
			 int64_t now_ms)
{
	const struct ssid_user *user = &p->users[a->user];
	struct ssid_alert_msg msg = {
	    .user_id = user->id,
	    .alert = &a->a,
	    .score = p->work[a->user].score,
	    .as_of_ms = now_ms,
	    .model_version = p->model->version,
	};
	ssid_buf_reset(&p->out);
	return produce_out(p, d, user->id, ssid_out_alert(&p->out, &msg));
}

/* Keyed by the board's tenant, so one tenant's boards stay in order. */
static int produce_board(struct ssid_pipeline *p, struct delivery *d,
			 const struct ssid_board_update *bu, int64_t now_ms)
{
	struct ssid_board_msg msg = {
	    .kind = bu->kind,
	    .tenant = bu->tenant,
	    .team = bu->team,
	    .board = bu->board,
	    .changes = bu->changes,
	    .backfill = bu->backfill,
	    .as_of_ms = now_ms,
	    .model_version = p->model->version,
	};
	ssid_buf_reset(&p->out);
	return produce_out(p, d, bu->tenant, ssid_out_leaderboard_changed(&p->out, &msg));
}

/* Wait for every report of this attempt, serving the caller's tick. */
static int await_deliveries(struct ssid_pipeline *p, struct delivery *d)
{
	int64_t deadline = mono_ms() + p->o.delivery_timeout_ms;

	while (d->outstanding > 0 && mono_ms() < deadline) {
		rd_kafka_poll(p->o.producer, 100);
		if (p->o.tick)
			p->o.tick(p->o.tick_ctx);
	}
	if (d->outstanding > 0) {
		snprintf(p->err, sizeof(p->err), "%d deliveries still pending after %d ms",
			 d->outstanding, p->o.delivery_timeout_ms);
		return -ETIMEDOUT;
	}
	if (d->failed > 0) {
		snprintf(p->err, sizeof(p->err), "%d deliveries failed: %s", d->failed, d->err);
		return -ECOMM;
	}
	return 0;
}

/* Produce everything of this attempt (dead letters first) and wait for it. */
static int produce_all(struct ssid_pipeline *p, struct ssid_batch *b, int64_t now_ms,
		       struct ssid_batch_stats *stats)
{
	struct delivery *d = delivery_new();
	int r = 0;

	if (!d)
		return -ENOMEM;
	for (size_t i = 0; b && i < b->n && r == 0; i++) {
		if (b->msg[i].status >= 0)
			continue;
		if (b->msg[i].replay) {
			stats->replay_rejected++;
			continue;
		}
		r = produce_dlq(p, d, &b->msg[i]);
		stats->rejected++;
	}
	/* A replay's scores were delivered when its events were first read. */
	for (size_t u = 0; u < p->nusers && r == 0; u++)
		if (p->work[u].publish && (p->work[u].live || !p->work[u].replay) &&
		    p->users[u].load_status == 0) {
			r = produce_score(p, d, (uint32_t)u, now_ms);
			stats->outputs++;
		}
	for (size_t i = 0; i < p->ncrossings && r == 0; i++, stats->rank_changes++)
		r = produce_crossing(p, d, &p->crossings[i], now_ms);
	for (size_t i = 0; i < p->nalerts && r == 0; i++, stats->alerts++)
		r = produce_alert(p, d, &p->alerts[i], now_ms);
	if (r == 0 && p->o.boards) {
		r = ssid_boards_collect(p->o.boards, mono_ms(), &p->boards, &p->nboards);
		if (r < 0)
			snprintf(p->err, sizeof(p->err), "redis (leaderboards): %s",
				 ssid_rank_errstr(p->o.rank));
	}
	for (size_t i = 0; i < p->nboards && r == 0; i++, stats->boards++)
		r = produce_board(p, d, &p->boards[i], now_ms);
	if (r == 0)
		r = await_deliveries(p, d);
	else
		rd_kafka_flush(p->o.producer, p->o.delivery_timeout_ms);
	if (p->o.boards)
		ssid_boards_done(p->o.boards, r == 0, mono_ms());
	if (d->outstanding > 0)
		d->abandoned = true; /* the last report frees it */
	else
		free(d);
	return r;
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
	if (r == 0)
		r = derive_step(p, now_ms);
	if (r < 0)
		return r;
	ssid_failpoint("before_delivery");

	r = produce_all(p, b, now_ms, stats);
	if (r < 0)
		return r;
	ssid_failpoint("after_delivery");

	for (size_t u = 0; u < p->nusers; u++) {
		struct ssid_user *user = &p->users[u];

		user->save_published = p->work[u].publish && user->load_status == 0;
		if (!user->save_published)
			continue;
		user->published = p->work[u].score;
		user->published_ms = now_ms;
		snprintf(user->published_model, sizeof(user->published_model), "%s",
			 p->model->version);
		/*
		 * A replay's percentiles are taken while its segments are still
		 * filling: they are no reference for the next live score's.
		 */
		if (p->work[u].live || !p->work[u].replay)
			memcpy(user->published_top, p->work[u].top, sizeof(user->published_top));
	}
	return store_step(p, ssid_store_save(p->o.store, p->users, p->nusers));
}

int ssid_pipeline_run(struct ssid_pipeline *p, struct ssid_batch *b, int64_t now_ms,
		      struct ssid_batch_stats *stats)
{
	int r;

	memset(stats, 0, sizeof(*stats));
	stats->events = b->n;
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
		if (user->has_published && alerts_enabled(p)) {
			if (ssi_state_copy(&p->work[u].before, &user->state) < 0)
				return -ENOMEM;
			p->work[u].has_before = true;
		}
		ssi_state_prune(&user->state, p->model, now_ms);
		score_user(p, u, cause, now_ms);
		user->save_state = user->save_due = true;
	}
	return finish(p, NULL, now_ms, stats);
}

int ssid_pipeline_flush_boards(struct ssid_pipeline *p, int64_t now_ms,
			       struct ssid_batch_stats *stats)
{
	memset(stats, 0, sizeof(*stats));
	users_reset(p);
	if (!p->o.boards || ssid_boards_next_due(p->o.boards) > mono_ms())
		return 0;
	return produce_all(p, NULL, now_ms, stats);
}
