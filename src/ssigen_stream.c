/*
 * ssigen_stream: when the generated users act and what follows. See
 * include/ssigen.h and src/ssigen_int.h.
 *
 * Every user is an inhomogeneous Poisson process whose rate is constant
 * within each local hour, so the next event time is sampled exactly by
 * spending one exponential draw across hour segments. The users wait in a
 * min-heap on their next time; consequences of an event (an invitation
 * accepted hours later, an InMail answered, the other side of a connection)
 * wait in a second min-heap, and the earlier of the two tops goes next.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ssi_array.h"
#include "ssi_event.h"
#include "ssi_time.h"
#include "ssigen.h"
#include "ssigen_int.h"

#define USERS_MAX	     10000000u
#define TEAMS_PER_TENANT_MAX 1000u
#define TEAMS_TOTAL_MAX	     100000u

#define BURST_DAY_CHANCE	     0.07
#define QUIET_DAY_CHANCE	     0.12
#define KNOWN_TARGET_CHANCE	     0.7
#define EXTERNAL_SAME_COMPANY_CHANCE 0.1

/* ----------------------------------------------------------- the heaps */

static bool slot_before(const struct slot *a, const struct slot *b)
{
	return a->at_ms < b->at_ms || (a->at_ms == b->at_ms && a->user < b->user);
}

static void heap_sift_down(struct slot *h, uint32_t len, uint32_t i)
{
	struct slot moving = h[i];

	for (;;) {
		uint32_t child = 2 * i + 1;

		if (child >= len)
			break;
		if (child + 1 < len && slot_before(&h[child + 1], &h[child]))
			child++;
		if (!slot_before(&h[child], &moving))
			break;
		h[i] = h[child];
		i = child;
	}
	h[i] = moving;
}

static bool followup_before(const struct followup *a, const struct followup *b)
{
	return a->at_ms < b->at_ms || (a->at_ms == b->at_ms && a->seq < b->seq);
}

/*
 * Consequences wait here. The heap is bounded so that a huge activity
 * factor cannot grow it without limit: when full (or out of memory), the
 * consequence is dropped, as if the invitation had been ignored.
 */
static void followup_push(struct ssigen *g, const struct followup *f)
{
	size_t i;

	if (f->at_ms >= g->limit_ms || g->followups_len == g->followups_max ||
	    SSI_GROW(g->followups, &g->followups_cap, g->followups_len + 1, 1024) < 0)
		return;
	i = g->followups_len++;
	g->followups[i] = *f;
	g->followups[i].seq = g->followup_seq++;
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		struct followup tmp;

		if (!followup_before(&g->followups[i], &g->followups[parent]))
			break;
		tmp = g->followups[parent];
		g->followups[parent] = g->followups[i];
		g->followups[i] = tmp;
		i = parent;
	}
}

static void followup_pop(struct ssigen *g, struct followup *out)
{
	struct followup *h = g->followups;
	size_t len, i = 0;
	struct followup moving;

	*out = h[0];
	len = --g->followups_len;
	if (len == 0)
		return;
	moving = h[len];
	for (;;) {
		size_t child = 2 * i + 1;

		if (child >= len)
			break;
		if (child + 1 < len && followup_before(&h[child + 1], &h[child]))
			child++;
		if (!followup_before(&h[child], &moving))
			break;
		h[i] = h[child];
		i = child;
	}
	h[i] = moving;
}

/* ------------------------------------------------------------- activity */

static bool is_weekend(int32_t day)
{
	int weekday = (int)(((int64_t)day + 4) % 7); /* 1970-01-01 was a Thursday */

	if (weekday < 0)
		weekday += 7;
	return weekday == 0 || weekday == 6;
}

/*
 * How busy a user is on one local day. Drawn from a hash of (seed, user,
 * day) rather than the stream's RNG so it costs no state and stays the same
 * however many times the sampler crosses that day.
 */
static double day_factor(struct ssigen *g, uint32_t user, int32_t day)
{
	struct gen_user *u = &g->users[user];
	const struct persona *p = &gen_personas[u->persona];
	uint64_t h;
	double kind, spread, f;

	if (u->factor_day == day)
		return u->day_factor;
	h = mix64(g->day_seed ^ ((uint64_t)user * 0x9e3779b97f4a7c15ULL) ^
		  ((uint64_t)(uint32_t)day * 0xc2b2ae3d27d4eb4fULL));
	kind = (double)(h >> 40) * 0x1.0p-24;
	spread = (double)(h & 0xffffff) * 0x1.0p-24;
	if (p->around_the_clock)
		f = 0.9 + 0.2 * spread;
	else if (kind < BURST_DAY_CHANCE)
		f = 3.0 + 2.0 * spread;
	else if (kind < BURST_DAY_CHANCE + QUIET_DAY_CHANCE)
		f = 0.25;
	else
		f = 0.6 + 0.8 * spread;
	if (!p->around_the_clock && is_weekend(day))
		f *= p->weekend_factor;
	u->factor_day = day;
	u->day_factor = f;
	return f;
}

/*
 * The user's next event strictly after from_ms, or INT64_MAX when it would
 * fall at or after the user's idle time or the end. The rate is constant
 * within a local hour, so one exponential draw is spent hour by hour: exact
 * sampling with no rejected candidates.
 */
static int64_t next_activity(struct ssigen *g, uint32_t user, int64_t from_ms)
{
	struct gen_user *u = &g->users[user];
	const struct persona *p = &gen_personas[u->persona];
	double budget = rng_exp(&g->rng);
	double peak = g->peak_rate_per_ms[u->persona];
	int64_t limit = u->idle_from_ms < g->limit_ms ? u->idle_from_ms : g->limit_ms;
	int64_t local = from_ms + u->utc_offset_ms;

	while (local - u->utc_offset_ms < limit) {
		int32_t day = ssi_time_day(local);
		int64_t into_day = local - ssi_time_day_start(day);
		int hour = (int)(into_day / MS_PER_HOUR);
		int64_t hour_end = ssi_time_day_start(day) + (hour + 1) * MS_PER_HOUR;
		double rate = peak * day_factor(g, user, day) *
			      (p->around_the_clock ? 1.0 : gen_hour_weight[hour]);
		double expected = rate * (double)(hour_end - local);

		if (expected >= budget) {
			int64_t at = local + (int64_t)(budget / rate) - u->utc_offset_ms;

			if (at <= from_ms)
				at = from_ms + 1;
			return at < limit ? at : INT64_MAX;
		}
		budget -= expected;
		local = hour_end;
	}
	return INT64_MAX;
}

static uint32_t tenant_of(const struct ssigen *g, uint32_t user)
{
	return g->users[user].team / g->cfg.teams_per_tenant;
}

/*
 * Somebody to connect with or invite: usually another known user, so the
 * stream carries a network; social sellers aim for decision makers.
 */
static void choose_target(struct ssigen *g, uint32_t user, struct target *t)
{
	bool seller = g->users[user].persona == SSIGEN_SOCIAL_SELLER;
	int tries = seller ? 3 : 1;

	memset(t, 0, sizeof(*t));
	if (g->nusers > 1 && rng_chance(&g->rng, KNOWN_TARGET_CHANCE)) {
		t->known = true;
		for (int i = 0; i < tries; i++) {
			uint32_t other = rng_below(&g->rng, g->nusers - 1);

			if (other >= user)
				other++;
			if (i == 0 || g->users[other].seniority > g->users[t->user].seniority)
				t->user = other;
		}
		t->seniority = (enum ssi_seniority)g->users[t->user].seniority;
		t->same_company = tenant_of(g, t->user) == tenant_of(g, user);
		return;
	}
	t->external = rng_u64(&g->rng);
	t->seniority = gen_draw_seniority(&g->rng);
	for (int i = 1; i < tries; i++) {
		enum ssi_seniority s = gen_draw_seniority(&g->rng);

		if (s > t->seniority)
			t->seniority = s;
	}
	t->same_company = rng_chance(&g->rng, EXTERNAL_SAME_COMPANY_CHANCE);
}

static void target_of_user(const struct ssigen *g, uint32_t user, uint32_t other, struct target *t)
{
	memset(t, 0, sizeof(*t));
	t->known = true;
	t->user = other;
	t->seniority = (enum ssi_seniority)g->users[other].seniority;
	t->same_company = tenant_of(g, other) == tenant_of(g, user);
}

/* ---------------------------------------------------------------- drafts */

/* Fill the attributes a type carries, and schedule what it sets off. */
static void draft_activity(struct ssigen *g, struct draft *d)
{
	struct gen_user *u = &g->users[d->user];
	const struct persona *p = &gen_personas[u->persona];
	bool prospecting = u->persona == SSIGEN_SOCIAL_SELLER;
	struct followup f;

	switch (d->type) {
	case SSI_EV_PROFILE_UPDATED:
		if (u->introduced)
			gen_improve_profile(g, u);
		else
			gen_initial_profile(g, u);
		u->introduced = true;
		d->profile = u->profile;
		break;
	case SSI_EV_SEARCH_PERFORMED:
		d->filters = prospecting
				 ? rng_between(&g->rng, 1, 6)
				 : (rng_chance(&g->rng, 0.3) ? rng_between(&g->rng, 1, 2) : 0);
		break;
	case SSI_EV_PROFILE_VIEWED: {
		uint32_t x = rng_below(&g->rng, 100);

		if (u->persona == SSIGEN_PASSIVE || u->persona == SSIGEN_LAPSING)
			d->degree = x < 60 ? 1 : x < 90 ? 2 : 3;
		else
			d->degree = x < 30 ? 1 : x < 70 ? 2 : 3;
		break;
	}
	case SSI_EV_SESSION_STARTED:
		d->mobile = rng_chance(&g->rng, 0.6);
		break;
	case SSI_EV_CONNECTION_ADDED:
	case SSI_EV_CONNECTION_REMOVED:
		/*
		 * An inbound invitation accepted, or a connection dropped: the other
		 * side sees it too. Its invitation predates the stream, so it earns
		 * no invitation_accepted: acceptance stays at most what was sent.
		 */
		choose_target(g, d->user, &d->other);
		if (d->other.known) {
			memset(&f, 0, sizeof(f));
			f.at_ms = d->at_ms;
			f.user = d->other.user;
			f.kind = d->type == SSI_EV_CONNECTION_ADDED ? FOLLOWUP_CONNECTION_ADDED
								    : FOLLOWUP_CONNECTION_REMOVED;
			target_of_user(g, d->other.user, d->user, &f.other);
			followup_push(g, &f);
		}
		break;
	case SSI_EV_INVITATION_SENT:
		choose_target(g, d->user, &d->other);
		if (rng_chance(&g->rng, p->invitation_accept)) {
			memset(&f, 0, sizeof(f));
			f.at_ms = d->at_ms + 10 * MS_PER_MINUTE +
				  (int64_t)(rng_exp(&g->rng) * 14.0 * (double)MS_PER_HOUR);
			f.user = d->user;
			f.kind = FOLLOWUP_INVITATION_ACCEPTED;
			f.other = d->other;
			followup_push(g, &f);
		}
		break;
	case SSI_EV_INMAIL_SENT:
		if (rng_chance(&g->rng, p->inmail_reply)) {
			memset(&f, 0, sizeof(f));
			f.at_ms = d->at_ms + 20 * MS_PER_MINUTE +
				  (int64_t)(rng_exp(&g->rng) * 8.0 * (double)MS_PER_HOUR);
			f.user = d->user;
			f.kind = FOLLOWUP_INMAIL_REPLIED;
			followup_push(g, &f);
		}
		break;
	default:
		break;
	}
}

/* Turn a due consequence into a draft, scheduling the connections an accept implies. */
static void draft_followup(struct ssigen *g, const struct followup *f, struct draft *d)
{
	struct followup next;

	d->at_ms = f->at_ms;
	d->user = f->user;
	d->other = f->other;
	switch (f->kind) {
	case FOLLOWUP_INVITATION_ACCEPTED:
		d->type = SSI_EV_INVITATION_ACCEPTED;
		next = *f;
		next.kind = FOLLOWUP_CONNECTION_ADDED;
		followup_push(g, &next);
		if (f->other.known) {
			next.user = f->other.user;
			target_of_user(g, f->other.user, f->user, &next.other);
			followup_push(g, &next);
		}
		break;
	case FOLLOWUP_CONNECTION_ADDED:
		d->type = SSI_EV_CONNECTION_ADDED;
		break;
	case FOLLOWUP_CONNECTION_REMOVED:
		d->type = SSI_EV_CONNECTION_REMOVED;
		break;
	case FOLLOWUP_INMAIL_REPLIED:
		d->type = SSI_EV_INMAIL_REPLIED;
		break;
	}
}

/* ------------------------------------------------------------- the API */

static int validate(const struct ssigen_config *c)
{
	uint32_t tenants = c->tenants ? c->tenants : 1;
	uint32_t teams = c->teams_per_tenant ? c->teams_per_tenant : 3;

	if (c->users < 1 || c->users > USERS_MAX || tenants > c->users)
		return -EINVAL;
	if (teams > TEAMS_PER_TENANT_MAX || (uint64_t)tenants * teams > TEAMS_TOTAL_MAX)
		return -EINVAL;
	if (c->industries > SSIGEN_INDUSTRIES_MAX)
		return -EINVAL;
	if (c->start_ms < SSI_TIME_MIN_MS || c->start_ms > SSI_TIME_MAX_MS)
		return -EINVAL;
	if (c->end_ms != 0 && (c->end_ms <= c->start_ms || c->end_ms > SSI_TIME_MAX_MS + 1))
		return -EINVAL;
	if (!(c->activity == 0 || (c->activity >= 1e-3 && c->activity <= 1e6)))
		return -EINVAL;
	if (!(c->bad_ratio >= 0 && c->bad_ratio <= 1))
		return -EINVAL;
	return 0;
}

/* Everybody's first activity, in one heap. */
static void start_users(struct ssigen *g)
{
	g->heap_len = 0;
	for (uint32_t i = 0; i < g->nusers; i++) {
		int64_t at = next_activity(g, i, g->cfg.start_ms - 1);

		if (at != INT64_MAX)
			g->heap[g->heap_len++] = (struct slot){at, i};
	}
	for (uint32_t i = g->heap_len / 2; i-- > 0;)
		heap_sift_down(g->heap, g->heap_len, i);
}

int ssigen_new(struct ssigen **out, const struct ssigen_config *cfg)
{
	struct ssigen *g;
	int r;

	if (!out || !cfg)
		return -EINVAL;
	r = validate(cfg);
	if (r < 0)
		return r;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->cfg = *cfg;
	if (g->cfg.tenants == 0)
		g->cfg.tenants = 1;
	if (g->cfg.teams_per_tenant == 0)
		g->cfg.teams_per_tenant = 3;
	if (g->cfg.activity == 0)
		g->cfg.activity = 1.0;
	g->nindustries = cfg->industries ? cfg->industries : SSIGEN_INDUSTRIES_MAX;
	g->nusers = cfg->users;
	g->limit_ms = cfg->end_ms ? cfg->end_ms : SSI_TIME_MAX_MS + 1;
	rng_seed(&g->rng, cfg->seed);
	rng_seed(&g->bad_rng, cfg->seed ^ 0xbadbadbadbadbadULL);
	g->day_seed = mix64(cfg->seed ^ 0xda11da11ULL);
	g->date_day = INT32_MIN;

	g->users = calloc(g->nusers, sizeof(*g->users));
	g->user_ids = calloc(g->nusers, USER_ID_SLOT);
	g->user_id_len = calloc(g->nusers, 1);
	g->heap = calloc(g->nusers, sizeof(*g->heap));
	g->followups_max = g->nusers * (size_t)8 > 4096 ? g->nusers * (size_t)8 : 4096;
	if (!g->users || !g->user_ids || !g->user_id_len || !g->heap) {
		r = -ENOMEM;
		goto fail;
	}
	r = gen_world_build(g);
	if (r == 0)
		r = gen_write_prepare(g);
	if (r < 0)
		goto fail;
	start_users(g);
	*out = g;
	return 0;
fail:
	ssigen_free(g);
	return r;
}

void ssigen_free(struct ssigen *g)
{
	if (!g)
		return;
	free(g->users);
	free(g->user_ids);
	free(g->user_id_len);
	free(g->teams);
	free(g->heap);
	free(g->followups);
	free(g);
}

/* The next draft: whichever comes first of a due consequence and a user's own activity. */
static bool next_draft(struct ssigen *g, struct draft *d)
{
	memset(d, 0, sizeof(*d));
	for (;;) {
		bool have_followup = g->followups_len > 0;
		bool have_user = g->heap_len > 0;

		if (have_followup && (!have_user || g->followups[0].at_ms <= g->heap[0].at_ms)) {
			struct followup f;

			followup_pop(g, &f);
			/* People who went idle no longer accept or answer anything. */
			if (f.at_ms >= g->users[f.user].idle_from_ms)
				continue;
			/* A user's first event is the profile snapshot, even when
			 * somebody else's action reaches them before their own. */
			if (!g->users[f.user].introduced) {
				followup_push(g, &f);
				d->at_ms = f.at_ms;
				d->user = f.user;
				d->type = SSI_EV_PROFILE_UPDATED;
				draft_activity(g, d);
				return true;
			}
			draft_followup(g, &f, d);
			return true;
		}
		if (!have_user)
			return false;

		struct slot *top = &g->heap[0];
		struct gen_user *u = &g->users[top->user];
		int64_t next;

		d->at_ms = top->at_ms;
		d->user = top->user;
		d->type =
		    u->introduced
			? (enum ssi_event_type)g->type_table[u->persona][rng_u64(&g->rng) >> 54]
			: SSI_EV_PROFILE_UPDATED;
		draft_activity(g, d);
		next = next_activity(g, top->user, top->at_ms);
		if (next == INT64_MAX)
			g->heap[0] = g->heap[--g->heap_len];
		else
			top->at_ms = next;
		if (g->heap_len > 0)
			heap_sift_down(g->heap, g->heap_len, 0);
		return true;
	}
}

int ssigen_next(struct ssigen *g, struct ssigen_event *ev)
{
	struct draft d;
	struct out o;

	if (!g || !ev)
		return -EINVAL;
	if (!next_draft(g, &d))
		return 0;
	o = (struct out){ev->json, ev->json + sizeof(ev->json), false};
	ev->occurred_at_ms = d.at_ms;
	ev->user = d.user;
	ev->bad = g->cfg.bad_ratio > 0 && rng_chance(&g->bad_rng, g->cfg.bad_ratio);
	if (ev->bad)
		gen_put_bad_event(g, &o, &d);
	else
		gen_put_event(g, &o, &d, NULL);
	if (o.overflow)
		return -ENOBUFS;
	ev->type = d.type;
	ev->len = (size_t)(o.p - ev->json);
	ev->key_len = g->user_id_len[d.user];
	memcpy(ev->key, g->user_ids + (size_t)d.user * USER_ID_SLOT, ev->key_len + 1);
	g->event_seq++;
	return 1;
}

uint32_t ssigen_users(const struct ssigen *g)
{
	return g ? g->nusers : 0;
}
