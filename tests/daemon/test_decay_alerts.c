/*
 * Time end to end (ssid in a thread, e2e.h, the scoring clock in a file):
 * inactivity decay day by day with the alerts the rules fire and the
 * history kept, and the decay schedules in Redis (a roster per partition,
 * each rep's field z the instant the engine says its score next changes)
 * following the partitions when a consumer of the group leaves.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "e2e.h"
#include "ssi_alert.h"
#include "ssi_history.h"
#include "ssid_log.h"
#include "ssid_sched.h"
#include "ssid_store.h"
#include "suites.h"

/* ---- the decay schedule in Redis ------------------------------------------- */

/* Every partition's schedule as Redis holds it: its roster and the reps' z. */
struct schedules {
	struct ssid_sched *p[16];
	int n;
};

static void schedules_read(struct ssid_redis *c, int partitions, struct schedules *out)
{
	ck_assert_int_le(partitions, 16);
	out->n = partitions;
	for (int p = 0; p < partitions; p++)
		ck_assert_msg(ssid_store_schedule_read(c, p, &out->p[p]) == 0,
			      "the schedule of partition %d: %s", p, ssid_redis_errstr(c));
}

static void schedules_free(struct schedules *s)
{
	for (int p = 0; p < s->n; p++)
		ssid_sched_free(s->p[p]);
}

/*
 * Where user id is scheduled: the one partition whose roster holds it (-1
 * when none; two is a failure), and its due time from its field z.
 */
static int scheduled(const struct schedules *s, const char *id, int64_t *due)
{
	int where = -1;

	for (int p = 0; p < s->n; p++) {
		if (!ssid_sched_get(s->p[p], id, strlen(id), due))
			continue;
		ck_assert_msg(where < 0, "%s is in the rosters of partitions %d and %d", id, where,
			      p);
		where = p;
	}
	return where;
}

/* The partition all of user u's events went to. */
static int32_t user_partition(const struct e2e_env *e, int u)
{
	int32_t p = -1;

	for (size_t i = 0; i < e->fx.stream.n; i++)
		if (e->fx.stream.ev[i].user == u && !e->fx.stream.ev[i].expect_code[0]) {
			ck_assert(p < 0 || p == e->fx.stream.ev[i].partition);
			p = e->fx.stream.ev[i].partition;
		}
	ck_assert_int_ge(p, 0);
	return p;
}

/*
 * Every rep with a state is in exactly one schedule, its events' partition,
 * due when the engine says its score next changes after at_ms.
 */
static void check_schedule(const struct e2e_env *e, int64_t at_ms)
{
	struct ssid_redis *c = fx_redis_client(&e->fx.redis);
	long long total = 0, bytes = 0;
	struct schedules s;

	schedules_read(c, e->fx.kafka.partitions, &s);
	for (int u = 0; u < e->fx.stream.nusers; u++) {
		struct ssi_state st;
		char id[64];
		int64_t due = 0, want;

		fx_user_id(&e->fx.stream, u, id, sizeof(id));
		ck_assert_int_eq(scheduled(&s, id, &due), user_partition(e, u));
		bytes += 1 + (long long)strlen(id);
		e2e_ref_state(e, u, &st);
		want = ssi_score_next_change(&st, &e->fx.model, at_ms);
		ssi_state_clear(&st);
		ck_assert_msg(due == want, "%s is due at %lld, the engine says %lld", id,
			      (long long)due, (long long)want);
	}
	/* Each rep once in its roster: no other ids, and no id twice. */
	for (int p = 0; p < e->fx.kafka.partitions; p++) {
		total += (long long)ssid_sched_size(s.p[p]);
		bytes -= e2e_rint(c, "STRLEN ssi:ro:%d", p);
	}
	ck_assert_int_eq(total, e->fx.stream.nusers);
	ck_assert_int_eq(bytes, 0);
	ck_assert_int_eq(fx_redis_count_keys(&e->fx.redis, "ssi:dz:*"), 0);
	schedules_free(&s);
	ssid_redis_free(c);
}

/* ---- decay, alerts, history -------------------------------------------------- */

#define DECAY_REPS 12
#define HOVER	   11 /* the rep whose score hovers at the threshold */

/* Whether v is a windowed variable (its points can age out). */
static bool windowed_var(const char *name)
{
	for (int v = 0; v < SSI_V__COUNT; v++) {
		const struct ssi_var_info *vi = ssi_var_info((enum ssi_variable)v);

		if (strcmp(vi->name, name) == 0)
			return vi->kind != SSI_KIND_PROFILE && vi->kind != SSI_KIND_CONNECTIONS &&
			       vi->kind != SSI_KIND_INTERNAL;
	}
	ck_abort_msg("unknown variable %s", name);
	return false;
}

/* The alert rule a message names. */
static int rule_of(const char *name)
{
	for (int r = 0; r < SSI_ALERT__COUNT; r++)
		if (strcmp(ssi_alert_rule_name((enum ssi_alert_rule)r), name) == 0)
			return r;
	ck_abort_msg("unknown rule %s", name);
	return -1;
}

/* Per rep: what the oracle follows while walking its messages. */
struct follow {
	bool has_prev;
	struct ssi_score prev;
	struct ssi_history hist;
	struct ssi_alert_state alert;
	unsigned expect; /* rules the oracle fired at the last score.updated */
	unsigned got;	 /* rules seen since */
	struct ssi_alert fired[SSI_ALERT__COUNT];
	int nfired;
	int64_t at;
	int32_t fired_day[SSI_ALERT__COUNT];
	int count[SSI_ALERT__COUNT];
};

/* The alerts after a score.updated are exactly those the oracle fired. */
static void follow_close(const struct follow *f, int u)
{
	ck_assert_msg(f->got == f->expect,
		      "rep %d at %lld: alerts 0x%x fired, the rules say 0x%x (score_drop 1, "
		      "below_threshold 2, pillar_drop 8)",
		      u, (long long)f->at, f->got, f->expect);
}

/*
 * Walk all messages of rep u in order. Each score.updated is run through
 * the alert rules (ssi_alert_evaluate with the previous published score
 * and the 7-day maximum of the history kept alongside, as the daemon must)
 * and the alerts that follow it must be those that fire (left_top_percent,
 * which needs the industry's ranks, only by its own properties). Every
 * alert is checked on its own too: at most one per rule and day, values
 * consistent with the rule, causes that can age out, actions to take.
 */
static void check_alerts(const struct e2e_outs *os, int u, const struct ssi_alert_rules *rules,
			 const struct ssi_model *m, int retention, struct ssi_history *hist_out,
			 int *drops_by_decay)
{
	struct ssi_alert_rules oracle = *rules;
	struct follow f;

	memset(&f, 0, sizeof(f));
	ssi_history_init(&f.hist);
	ck_assert_int_eq(ssi_history_set_retention(&f.hist, retention), 0);
	ssi_alert_state_init(&f.alert);
	for (int r = 0; r < SSI_ALERT__COUNT; r++)
		f.fired_day[r] = -1;
	oracle.enabled[SSI_ALERT_LEFT_TOP_PERCENT] = false;
	for (size_t i = 0; i < os->n; i++) {
		const json_t *j = os->o[i].j;

		if (os->o[i].user != u)
			continue;
		if (e2e_is_type(&os->o[i], "score.updated")) {
			struct ssi_score sc;
			struct ssi_alert_input in;
			int32_t today;
			int n, max;

			follow_close(&f, u);
			e2e_score_of(j, &sc);
			f.at = e2e_as_of(j);
			today = ssi_time_day(f.at);
			max = f.hist.n > 0
				  ? ssi_history_max_since(&f.hist, today - rules->drop_days + 1)
				  : -1;
			in = (struct ssi_alert_input){
			    .now_ms = f.at,
			    .cause = strcmp(e2e_str_of(j, "cause"), "decay") == 0
					 ? SSI_ALERT_CAUSE_DECAY
				     : strcmp(e2e_str_of(j, "cause"), "model") == 0
					 ? SSI_ALERT_CAUSE_MODEL
					 : SSI_ALERT_CAUSE_EVENT,
			    .has_old = f.has_prev,
			    .old_score = f.prev,
			    .new_score = sc,
			    .max_total = max >= 0 ? max : -1,
			    .window_days = m->window_days,
			};
			n = ssi_alert_evaluate(&f.alert, &oracle, &in, f.fired, SSI_ALERT__COUNT);
			ck_assert_int_ge(n, 0);
			f.nfired = n;
			f.expect = f.got = 0;
			for (int k = 0; k < n; k++)
				f.expect |= 1u << f.fired[k].rule;
			ck_assert_int_ge(ssi_history_record(&f.hist, today, &sc), 0);
			f.prev = sc;
			f.has_prev = true;
		} else if (e2e_is_type(&os->o[i], "alert")) {
			int r = rule_of(e2e_str_of(j, "rule"));
			int32_t day = ssi_time_day(e2e_as_of(j));
			const json_t *causes = json_object_get(j, "causes");
			const json_t *actions = json_object_get(j, "actions");
			const char *cause = e2e_str_of(j, "cause");

			ck_assert_msg(f.has_prev, "rep %d: an alert before any score", u);
			ck_assert_int_eq(e2e_as_of(j), f.at);
			ck_assert_msg(f.fired_day[r] != day, "rep %d: two %s alerts on day %d", u,
				      e2e_str_of(j, "rule"), day);
			f.fired_day[r] = day;
			f.count[r]++;
			ck_assert_str_eq(cause, f.at > FX_NOW_MS ? "decay" : "event");
			ck_assert_int_eq(e2e_cp(json_object_get(j, "ssi")), f.prev.total);
			ck_assert_msg(json_array_size(actions) > 0, "rep %d: %s without actions", u,
				      e2e_str_of(j, "rule"));
			if (r != SSI_ALERT_LEFT_TOP_PERCENT) {
				const struct ssi_alert *a = NULL;

				for (int k = 0; k < f.nfired; k++)
					if ((int)f.fired[k].rule == r)
						a = &f.fired[k];
				ck_assert_msg(a,
					      "rep %d at %lld: %s fired, the rules say it does not",
					      u, (long long)f.at, e2e_str_of(j, "rule"));
				ck_assert_int_eq(e2e_cp(json_object_get(j, "value")), a->new_value);
				ck_assert_int_eq(e2e_cp(json_object_get(j, "reference")),
						 a->reference);
				ck_assert_int_eq(e2e_cp(json_object_get(j, "threshold")),
						 a->threshold);
			}
			if (r == SSI_ALERT_SCORE_DROP) {
				ck_assert_int_le(e2e_cp(json_object_get(j, "value")),
						 e2e_cp(json_object_get(j, "reference")) -
						     rules->drop_cp);
				if (strcmp(cause, "decay") == 0)
					(*drops_by_decay)++;
			}
			if (strcmp(cause, "decay") == 0 && r == SSI_ALERT_SCORE_DROP) {
				ck_assert_msg(
				    json_array_size(causes) > 0,
				    "rep %d: a score_drop by decay names no variable that "
				    "aged out: %s",
				    u, json_dumps(j, JSON_COMPACT));
				for (size_t k = 0; k < json_array_size(causes); k++)
					ck_assert_msg(
					    windowed_var(
						e2e_str_of(json_array_get(causes, k), "variable")),
					    "rep %d: %s cannot age out", u,
					    e2e_str_of(json_array_get(causes, k), "variable"));
			}
			if (r != SSI_ALERT_LEFT_TOP_PERCENT)
				f.got |= 1u << r;
		}
	}
	follow_close(&f, u);
	*hist_out = f.hist;
}

/* The history the daemon stored for user id (field h). */
static void stored_history(const struct e2e_env *e, const char *id, struct ssi_history *h)
{
	struct ssid_redis *c = fx_redis_client(&e->fx.redis);
	redisReply *r = e2e_rcmd(c, "HGET ssi:u:{%s} h", id);

	ck_assert_msg(r->type == REDIS_REPLY_STRING, "%s: no history", id);
	ssi_history_init(h);
	ck_assert_int_eq(ssi_history_decode(h, (const uint8_t *)r->str, r->len), 0);
	freeReplyObject(r);
	ssid_redis_free(c);
}

/*
 * No event for 90 days: the clock moves a day at a time and every rep
 * decays to its profile's score, one decay output per day its score moved,
 * with the alerts the rules fire (at most one per rule and day, none again
 * while a score hovers at the threshold) and a 30-day history.
 */
START_TEST (test_decay_alerts_history) {
	struct t_rng rng = {.s = 0xDECA7};
	const struct fx_daemon *daemons[1];
	struct ssi_score s0[DECAY_REPS], on, off;
	struct ssi_alert_rules rules;
	int64_t steps[32], final_ms;
	int nsteps = 0, threshold, crossers = 0, drops_by_decay = 0, below_total = 0,
	    hover_below = 0;
	struct e2e_outs os;
	struct e2e_env e;
	char attrs[256], extra[256];
	size_t first;

	e2e_open(&e, "decay", DECAY_REPS, false);
	for (int u = 0; u < DECAY_REPS; u++)
		e.seg[u] = (struct e2e_seg){"acme", "alpha", "software"};

	/* A profile (never ages), activity over three weeks, a session today. */
	for (int u = 0; u < DECAY_REPS; u++) {
		int n = 8 + (int)t_below(&rng, 18);

		e2e_add_ev(&e, u, SSI_EV_PROFILE_UPDATED, FX_NOW_MS - 25 * DAY,
			   e2e_profile(attrs, sizeof(attrs), E2E_PF_ALL, 10, 3));
		for (int i = 0; i < n; i++)
			e2e_add_ev(&e, u, e2e_plain_types[t_below(&rng, E2E_NPLAIN)],
				   FX_NOW_MS - (int64_t)(1 + t_below(&rng, 20)) * DAY -
				       (int64_t)t_below(&rng, 20) * T_HOUR,
				   "");
		e2e_add_articles(&e, u, 1 + (int)t_below(&rng, 6), 2 + (int)t_below(&rng, 15));
		e2e_add_ev(&e, u, SSI_EV_SESSION_STARTED, FX_NOW_MS - 2 * T_HOUR, "");
	}
	first = e.fx.stream.n;
	/* Then one rep's photo goes, comes back, goes...: its score hovers at the threshold. */
	for (int i = 0; i < 5; i++)
		e2e_add_ev(&e, HOVER, SSI_EV_PROFILE_UPDATED, FX_NOW_MS - (90 - i) * 60000,
			   e2e_profile(attrs, sizeof(attrs),
				       i % 2 ? E2E_PF_ALL : E2E_PF_ALL & ~E2E_PF_PHOTO, 10, 3));
	e2e_ref_score(&e, HOVER, first, &e.fx.model, FX_NOW_MS, &on);
	e2e_ref_score(&e, HOVER, first + 1, &e.fx.model, FX_NOW_MS, &off);
	threshold = off.total + (on.total - off.total) / 2;
	ssi_alert_rules_default(&rules);
	rules.threshold_cp = threshold;
	ck_assert_msg(threshold > off.total && on.total >= threshold &&
			  on.total < threshold + rules.threshold_rearm_cp,
		      "a photo moves rep %d from %d to %d: no hovering", HOVER, off.total,
		      on.total);
	snprintf(extra, sizeof(extra),
		 "history.retention_days = 30\nalert.below_threshold.points = %d.%02d\n",
		 threshold / 100, threshold % 100);

	e2e_clock_set(&e, FX_NOW_MS);
	e2e_start(&e, &(struct e2e_run){.extra = extra, .file_clock = true});
	e2e_produce_range(&e, 0, first);
	/* Below, above by less than the re-arm margin, below...: one batch each. */
	for (size_t i = first; i < e.fx.stream.n; i++)
		e2e_produce_range(&e, i, i + 1);
	check_schedule(&e, FX_NOW_MS);

	/* Nothing ages out for 66 days (the oldest activity is 22 days old); then daily. */
	steps[nsteps++] = FX_NOW_MS + 66 * DAY;
	for (int d = 67; d <= 90; d++)
		steps[nsteps++] = FX_NOW_MS + d * DAY;
	final_ms = steps[nsteps - 1];
	daemons[0] = &e.daemon;
	ck_assert_int_eq(e2e_step_clock(&e, daemons, 1, steps[0]), 0);
	for (int i = 1; i < nsteps; i++)
		e2e_step_clock(&e, daemons, 1, steps[i]);
	check_schedule(&e, final_ms);
	ck_assert_int_eq(fx_daemon_stop(&e.daemon), 0);

	e2e_outs_read(&e, &os);
	for (int u = 0; u < DECAY_REPS; u++) {
		struct ssi_score last = {.total = -1}, want, empty;
		struct ssi_history hist, stored;
		struct fx_record rec;
		struct ssi_state st;
		char id[64];
		size_t step = 0, decays = 0;
		int32_t final_day = ssi_time_day(final_ms);

		fx_user_id(&e.fx.stream, u, id, sizeof(id));
		e2e_ref_state(&e, u, &st);
		ssi_score(&st, &e.fx.model, FX_NOW_MS, &s0[u]);
		/* Event outputs at the start, then one decay output per step that moved the score.
		 */
		for (size_t i = 0; i < os.n; i++) {
			const json_t *j = os.o[i].j;
			struct ssi_score sc, prev;

			if (os.o[i].user != u || !e2e_is_type(&os.o[i], "score.updated"))
				continue;
			e2e_score_of(j, &sc);
			if (strcmp(e2e_str_of(j, "cause"), "event") == 0) {
				ck_assert_msg(step == 0, "%s: an event output during the decay",
					      id);
				ck_assert_int_eq(e2e_as_of(j), FX_NOW_MS);
				last = sc;
				continue;
			}
			ck_assert_str_eq(e2e_str_of(j, "cause"), "decay");
			ck_assert_msg(decays > 0 || e2e_score_eq(&last, &s0[u]),
				      "%s: the last event output is %d, the engine says %d", id,
				      last.total, s0[u].total);
			decays++;
			for (; step < (size_t)nsteps; step++) {
				ssi_score(&st, &e.fx.model, steps[step], &want);
				if (!e2e_score_eq(&want, &last))
					break;
			}
			ck_assert_msg(step < (size_t)nsteps, "%s: a decay output nothing explains",
				      id);
			ck_assert_msg(e2e_as_of(j) == steps[step],
				      "%s: decay output as of %s, the score changed at step %zu",
				      id, e2e_str_of(j, "as_of"), step);
			ck_assert_msg(e2e_score_eq(&sc, &want),
				      "%s: decay to %d, the engine says %d", id, sc.total,
				      want.total);
			e2e_pillars_of(json_object_get(j, "previous_pillars"), &prev);
			ck_assert(e2e_score_eq(&prev, &last));
			last = want;
			step++;
		}
		/* No step that moved the score went unpublished. */
		for (; step < (size_t)nsteps; step++) {
			ssi_score(&st, &e.fx.model, steps[step], &want);
			ck_assert_msg(e2e_score_eq(&want, &last), "%s: no decay output at step %zu",
				      id, step);
		}
		/* What is left is what never ages: the score of the profile alone. */
		ssi_score(&st, &e.fx.model, final_ms + 400 * DAY, &empty);
		ck_assert_msg(e2e_score_eq(&last, &empty),
			      "%s: ends at %d, not at its profile's %d", id, last.total,
			      empty.total);
		ck_assert_int_lt(last.total, s0[u].total);
		ck_assert_int_eq(fx_redis_record(&e.fx.redis, id, &rec), 0);
		ck_assert(rec.has_published && e2e_score_eq(&rec.published, &last));
		fx_record_clear(&rec);
		if (u != HOVER && s0[u].total >= threshold && last.total < threshold)
			crossers++;
		ssi_state_clear(&st);

		/* Alerts, and the history the daemon must have kept meanwhile. */
		check_alerts(&os, u, &rules, &e.fx.model, 30, &hist, &drops_by_decay);
		stored_history(&e, id, &stored);
		ck_assert_msg(ssi_history_equal(&stored, &hist),
			      "%s: stored history of %u days, expected %u", id, stored.n, hist.n);
		ck_assert_uint_gt(stored.n, 0);
		ck_assert_int_eq(stored.entries[stored.n - 1].day, final_day);
		ck_assert_msg(stored.entries[0].day >= final_day - 29,
			      "%s: a snapshot of day %d, more than 30 days before day %d", id,
			      stored.entries[0].day, final_day);
		for (uint32_t k = 0; k < stored.n; k++) {
			struct ssi_score sc;

			e2e_ref_state(&e, u, &st);
			ssi_score(&st, &e.fx.model,
				  ssi_time_day_start(stored.entries[k].day) + 12 * T_HOUR, &sc);
			ssi_state_clear(&st);
			ck_assert_msg(e2e_score_eq(&sc, &stored.entries[k].score),
				      "%s: the snapshot of day %d is not that day's score", id,
				      stored.entries[k].day);
		}
		ssi_history_clear(&hist);
		ssi_history_clear(&stored);
	}
	for (size_t i = 0; i < os.n; i++)
		if (e2e_is_type(&os.o[i], "alert") &&
		    strcmp(e2e_str_of(os.o[i].j, "rule"), "below_threshold") == 0) {
			below_total++;
			hover_below += os.o[i].user == HOVER;
		}
	/* Three times below, twice back above: one alert, when it first went below. */
	ck_assert_int_eq(hover_below, 1);
	ck_assert_msg(crossers > 0, "no rep decayed through the threshold");
	ck_assert_msg(drops_by_decay > 0, "no score_drop by decay");
	ck_assert_msg(below_total >= crossers + 1, "below_threshold: %d alerts, %d crossings",
		      below_total, crossers + 1);
	e2e_outs_free(&os);
	e2e_close(&e);
}
END_TEST

/* ---- rebalance ---------------------------------------------------------------- */

#define REBALANCE_REPS 40

static bool owns_partitions(const struct ssid_daemon_stats *st)
{
	return st->partitions > 0;
}

/*
 * Two consumers of one group each decay their own partitions' reps; when
 * one leaves, the other takes its schedules over: every rep decays exactly
 * once per due instant and stays in its partition's schedule only.
 */
START_TEST (test_rebalance_schedule) {
	const int64_t t1 = FX_NOW_MS + 88 * DAY, t2 = FX_NOW_MS + 90 * DAY;
	const struct fx_daemon *both[2], *alone[1];
	struct fx_daemon a;
	struct ssid_daemon_stats sa, sb;
	struct e2e_outs os;
	struct e2e_env e;
	char err[1024], log_path[PATH_MAX];
	int log_fd;

	e2e_open(&e, "rebal", REBALANCE_REPS, false);
	for (int u = 0; u < REBALANCE_REPS; u++) {
		e.seg[u] = (struct e2e_seg){"acme", u % 2 ? "alpha" : "beta", "software"};
		for (int d = 2; d >= 0; d -= 2) {
			e2e_add_ev(&e, u, SSI_EV_SESSION_STARTED, FX_NOW_MS - d * DAY - 3 * T_HOUR,
				   "");
			e2e_add_ev(&e, u, SSI_EV_POST_SHARED, FX_NOW_MS - d * DAY - 2 * T_HOUR, "");
		}
	}
	e2e_clock_set(&e, FX_NOW_MS);
	/* Two consumers of one group, each with partitions of its own before the stream comes. */
	e2e_conf(&e, &(struct e2e_run){.file_clock = true});
	ck_assert_msg(fx_daemon_start(&a, e.conf, err, sizeof(err)) == 0, "ssid a: %s", err);
	ck_assert_msg(fx_daemon_start(&e.daemon, e.conf, err, sizeof(err)) == 0, "ssid b: %s", err);
	/* The group settled: the later joiner owns some, and the first the others. */
	fx_daemon_wait_until(&e.daemon, owns_partitions, "ssid b owning partitions", &sb);
	fx_daemon_wait_until(&a, owns_partitions, "ssid a owning partitions", &sa);
	ck_assert_int_eq(fx_produce(&e.fx.kafka, &e.fx.stream, 0, e.fx.stream.n), 0);
	fx_wait_drained(&e.fx.kafka, &e.fx.stream, e.daemon.log_path);
	fx_daemon_stats(&a, &sa);
	fx_daemon_stats(&e.daemon, &sb);
	ck_assert_msg(sa.events > 0 && sb.events > 0,
		      "both consumers should own partitions: %llu and %llu events",
		      (unsigned long long)sa.events, (unsigned long long)sb.events);
	check_schedule(&e, FX_NOW_MS);

	/* The first days leave the window while both run: each decays its own partitions. */
	both[0] = &a;
	both[1] = &e.daemon;
	ck_assert_int_eq(e2e_step_clock(&e, both, 2, t1), REBALANCE_REPS);
	fx_daemon_stats(&a, &sa);
	fx_daemon_stats(&e.daemon, &sb);
	ck_assert_msg(sa.decayed > 0 && sb.decayed > 0, "decayed: a %llu, b %llu",
		      (unsigned long long)sa.decayed, (unsigned long long)sb.decayed);
	ck_assert_uint_eq(sa.decayed + sb.decayed, REBALANCE_REPS);
	check_schedule(&e, t1);

	/* a leaves; its partitions and their schedules move to b. */
	fx_daemon_stats(&a, &sa);
	ck_assert_int_eq(fx_daemon_stop(&a), 0);
	snprintf(log_path, sizeof(log_path), "%s", e.daemon.log_path);
	log_fd = open(log_path, O_WRONLY | O_APPEND | O_CLOEXEC);
	ck_assert_int_ge(log_fd, 0);
	ssid_log_set_fd(log_fd); /* a's stop took the shared log away from b */
	alone[0] = &e.daemon;
	ck_assert_int_eq(e2e_step_clock(&e, alone, 1, t2), REBALANCE_REPS);
	check_schedule(&e, t2);
	fx_daemon_stats(&e.daemon, &sb);
	ck_assert_uint_eq(sa.decayed + sb.decayed, 2 * REBALANCE_REPS);
	ck_assert_int_eq(fx_daemon_stop(&e.daemon), 0);
	close(log_fd);

	/* Exactly one decay output per rep and step, with the engine's score. */
	e2e_outs_read(&e, &os);
	for (int u = 0; u < REBALANCE_REPS; u++) {
		struct ssi_state st;
		struct ssi_score w1, w2, sc;
		int at1 = 0, at2 = 0;

		e2e_ref_state(&e, u, &st);
		ssi_score(&st, &e.fx.model, t1, &w1);
		ssi_score(&st, &e.fx.model, t2, &w2);
		ssi_state_clear(&st);
		for (size_t i = 0; i < os.n; i++) {
			const json_t *j = os.o[i].j;

			if (os.o[i].user != u || !e2e_is_type(&os.o[i], "score.updated") ||
			    strcmp(e2e_str_of(j, "cause"), "event") == 0)
				continue;
			ck_assert_str_eq(e2e_str_of(j, "cause"), "decay");
			e2e_score_of(j, &sc);
			if (e2e_as_of(j) == t1) {
				at1++;
				ck_assert(e2e_score_eq(&sc, &w1));
			} else {
				ck_assert_int_eq(e2e_as_of(j), t2);
				at2++;
				ck_assert(e2e_score_eq(&sc, &w2));
			}
		}
		ck_assert_msg(at1 == 1 && at2 == 1, "rep %d: %d decay outputs at t1, %d at t2", u,
			      at1, at2);
	}
	e2e_outs_free(&os);
	e2e_close(&e);
}
END_TEST

E2E_SUITE(decay_alerts_suite, "decay_alerts", test_decay_alerts_history, test_rebalance_schedule)
