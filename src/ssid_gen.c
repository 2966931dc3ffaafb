/*
 * ssid_gen: the activity stream generator. See include/ssid_gen.h.
 *
 * Every user is an inhomogeneous Poisson process whose rate is constant
 * within each local hour, so the next event time is sampled exactly by
 * spending one exponential draw across hour segments. The users wait in a
 * min-heap on their next time; consequences of an event (an invitation
 * accepted hours later, an InMail answered, the other side of a connection)
 * wait in a second min-heap, and the earlier of the two tops goes next.
 *
 * Payloads are written by hand with memcpy-sized appends and a per-day cache
 * of the date part of the timestamp: the generator must outrun the daemon.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ssi_event.h"
#include "ssi_time.h"
#include "ssid_gen.h"

#define MS_PER_HOUR	     3600000LL
#define MS_PER_MINUTE	     60000LL
#define USERS_MAX	     10000000u
#define TEAMS_PER_TENANT_MAX 1000u
#define TEAMS_TOTAL_MAX	     100000u
#define TYPE_TABLE_SIZE	     1024u
#define USER_ID_SLOT	     16u
#define NAME_SLOT	     48u

/* ---------------------------------------------------------------- random */

struct rng {
	uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A stateless 64-bit mix, for per-(user, day) draws that need no stored state. */
static uint64_t mix64(uint64_t x)
{
	return splitmix64(&x);
}

static void rng_seed(struct rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoshiro256**: fast, 256 bits of state, and good enough for simulation. */
static uint64_t rng_u64(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* Uniform in [0, n) by multiply-shift; the bias is below 2^-32, irrelevant here. */
static uint32_t rng_below(struct rng *r, uint32_t n)
{
	return (uint32_t)(((rng_u64(r) >> 32) * (uint64_t)n) >> 32);
}

static double rng_unit(struct rng *r)
{
	return (double)(rng_u64(r) >> 11) * 0x1.0p-53;
}

static bool rng_chance(struct rng *r, double p)
{
	return rng_unit(r) < p;
}

static int rng_between(struct rng *r, int lo, int hi)
{
	return lo + (int)rng_below(r, (uint32_t)(hi - lo + 1));
}

static double rng_exp(struct rng *r)
{
	return -log(1.0 - rng_unit(r));
}

/* ------------------------------------------------------------- the world */

enum region { REGION_NA, REGION_EMEA, REGION_APAC, REGION_LATAM, REGION__COUNT };

static const char *const industry_names[SSID_GEN_INDUSTRIES_MAX] = {
    "software",	 "financial-services",	  "healthcare", "manufacturing",
    "retail",	 "telecommunications",	  "energy",	"education",
    "logistics", "professional-services", "media",	"government",
};

static const char *const tenant_names[] = {
    "acme",	"globex", "initech",   "umbrella",	  "hooli",   "vandelay",
    "wonka",	"stark",  "wayne",     "cyberdyne",	  "soylent", "tyrell",
    "aperture", "oscorp", "gringotts", "massive-dynamic",
};

static const struct {
	const char *name;
	enum region region;
} team_kinds[] = {
    {"sales-na", REGION_NA},
    {"sales-emea", REGION_EMEA},
    {"sales-apac", REGION_APAC},
    {"bizdev-na", REGION_NA},
    {"sales-latam", REGION_LATAM},
    {"customer-success-emea", REGION_EMEA},
    {"partnerships-na", REGION_NA},
    {"enterprise-apac", REGION_APAC},
    {"inside-sales-emea", REGION_EMEA},
    {"channel-latam", REGION_LATAM},
};

/* UTC offsets in minutes where each region's people mostly live. */
static const int16_t region_offsets[REGION__COUNT][4] = {
    [REGION_NA] = {-480, -360, -300, -300},
    [REGION_EMEA] = {0, 60, 60, 120},
    [REGION_APAC] = {330, 480, 540, 600},
    [REGION_LATAM] = {-180, -180, -300, -360},
};

/* Per mille; entry-level and senior individual contributors dominate. */
static const uint16_t seniority_per_mille[SSI_SEN__COUNT] = {
    [SSI_SEN_ENTRY] = 250,    [SSI_SEN_SENIOR] = 300, [SSI_SEN_MANAGER] = 200,
    [SSI_SEN_DIRECTOR] = 120, [SSI_SEN_VP] = 60,      [SSI_SEN_CXO] = 30,
    [SSI_SEN_OWNER] = 30,     [SSI_SEN_PARTNER] = 10,
};

/* --------------------------------------------------------------- personas */

struct persona {
	const char *name;
	uint16_t share_per_mille;
	double events_per_weekday; /* at activity 1 on an ordinary working day */
	double weekend_factor;
	bool around_the_clock; /* a bot: no working hours, no weekends, no bursts */
	double invitation_accept;
	double inmail_reply;
	/* Profile completeness at the first profile_updated, in percent. */
	uint8_t photo, background, headline, summary, experience;
	uint8_t skills_max, featured_max;
	uint16_t mix[SSI_EV__COUNT]; /* relative weights of the event types */
};

/*
 * invitation_accepted and inmail_replied never appear in a mix: they are
 * consequences of the user's own invitations and InMails.
 */
static const struct persona personas[SSID_GEN_PERSONA__COUNT] = {
    [SSID_GEN_PASSIVE] =
	{
	    .name = "passive",
	    .share_per_mille = 350,
	    .events_per_weekday = 5,
	    .weekend_factor = 0.3,
	    .invitation_accept = 0.3,
	    .inmail_reply = 0.15,
	    .photo = 70,
	    .background = 15,
	    .headline = 60,
	    .summary = 25,
	    .experience = 70,
	    .skills_max = 10,
	    .featured_max = 0,
	    .mix =
		{
		    [SSI_EV_SESSION_STARTED] = 300,
		    [SSI_EV_PROFILE_VIEW_RECEIVED] = 220,
		    [SSI_EV_REACTION_GIVEN] = 150,
		    [SSI_EV_PROFILE_VIEWED] = 90,
		    [SSI_EV_MESSAGE_SENT] = 60,
		    [SSI_EV_REACTION_RECEIVED] = 50,
		    [SSI_EV_SEARCH_PERFORMED] = 30,
		    [SSI_EV_CONNECTION_ADDED] = 25,
		    [SSI_EV_FOLLOWER_GAINED] = 20,
		    [SSI_EV_ENDORSEMENT_RECEIVED] = 15,
		    [SSI_EV_GROUP_ACTIVITY] = 10,
		    [SSI_EV_COMMENT_GIVEN] = 10,
		    [SSI_EV_INVITATION_SENT] = 10,
		    [SSI_EV_POST_SHARED] = 5,
		    [SSI_EV_CONNECTION_REMOVED] = 3,
		    [SSI_EV_PROFILE_UPDATED] = 2,
		},
	},
    [SSID_GEN_POSTER] =
	{
	    .name = "poster",
	    .share_per_mille = 200,
	    .events_per_weekday = 28,
	    .weekend_factor = 0.15,
	    .invitation_accept = 0.4,
	    .inmail_reply = 0.2,
	    .photo = 95,
	    .background = 60,
	    .headline = 95,
	    .summary = 75,
	    .experience = 90,
	    .skills_max = 30,
	    .featured_max = 4,
	    .mix =
		{
		    [SSI_EV_REACTION_RECEIVED] = 230, [SSI_EV_REACTION_GIVEN] = 120,
		    [SSI_EV_SESSION_STARTED] = 90,    [SSI_EV_COMMENT_RECEIVED] = 80,
		    [SSI_EV_COMMENT_GIVEN] = 80,      [SSI_EV_PROFILE_VIEW_RECEIVED] = 80,
		    [SSI_EV_POST_SHARED] = 70,	      [SSI_EV_FOLLOWER_GAINED] = 50,
		    [SSI_EV_MESSAGE_SENT] = 40,	      [SSI_EV_RESHARE_RECEIVED] = 35,
		    [SSI_EV_PROFILE_VIEWED] = 30,     [SSI_EV_GROUP_ACTIVITY] = 30,
		    [SSI_EV_CONNECTION_ADDED] = 20,   [SSI_EV_ENDORSEMENT_RECEIVED] = 15,
		    [SSI_EV_SEARCH_PERFORMED] = 15,   [SSI_EV_INVITATION_SENT] = 15,
		    [SSI_EV_ARTICLE_PUBLISHED] = 8,   [SSI_EV_PROFILE_UPDATED] = 4,
		    [SSI_EV_GROUP_JOINED] = 3,	      [SSI_EV_CONNECTION_REMOVED] = 2,
		    [SSI_EV_INMAIL_SENT] = 2,
		},
	},
    [SSID_GEN_NETWORKER] =
	{
	    .name = "networker",
	    .share_per_mille = 200,
	    .events_per_weekday = 32,
	    .weekend_factor = 0.15,
	    .invitation_accept = 0.35,
	    .inmail_reply = 0.2,
	    .photo = 90,
	    .background = 40,
	    .headline = 85,
	    .summary = 50,
	    .experience = 85,
	    .skills_max = 25,
	    .featured_max = 2,
	    .mix =
		{
		    [SSI_EV_INVITATION_SENT] = 150,
		    [SSI_EV_PROFILE_VIEWED] = 150,
		    [SSI_EV_MESSAGE_SENT] = 120,
		    [SSI_EV_SESSION_STARTED] = 100,
		    [SSI_EV_PROFILE_VIEW_RECEIVED] = 100,
		    [SSI_EV_REACTION_GIVEN] = 90,
		    [SSI_EV_SEARCH_PERFORMED] = 80,
		    [SSI_EV_CONNECTION_ADDED] = 70,
		    [SSI_EV_GROUP_ACTIVITY] = 40,
		    [SSI_EV_REACTION_RECEIVED] = 30,
		    [SSI_EV_COMMENT_GIVEN] = 25,
		    [SSI_EV_FOLLOWER_GAINED] = 15,
		    [SSI_EV_ENDORSEMENT_RECEIVED] = 10,
		    [SSI_EV_GROUP_JOINED] = 8,
		    [SSI_EV_POST_SHARED] = 8,
		    [SSI_EV_INMAIL_SENT] = 5,
		    [SSI_EV_CONNECTION_REMOVED] = 5,
		    [SSI_EV_LEAD_SAVED] = 5,
		    [SSI_EV_PROFILE_UPDATED] = 2,
		},
	},
    [SSID_GEN_SOCIAL_SELLER] =
	{
	    .name = "social_seller",
	    .share_per_mille = 150,
	    .events_per_weekday = 60,
	    .weekend_factor = 0.15,
	    .invitation_accept = 0.45,
	    .inmail_reply = 0.3,
	    .photo = 98,
	    .background = 85,
	    .headline = 98,
	    .summary = 90,
	    .experience = 98,
	    .skills_max = 50,
	    .featured_max = 6,
	    .mix =
		{
		    [SSI_EV_PROFILE_VIEWED] = 120,   [SSI_EV_MESSAGE_SENT] = 100,
		    [SSI_EV_SEARCH_PERFORMED] = 80,  [SSI_EV_REACTION_GIVEN] = 80,
		    [SSI_EV_INVITATION_SENT] = 80,   [SSI_EV_PROFILE_VIEW_RECEIVED] = 80,
		    [SSI_EV_COMMENT_GIVEN] = 70,     [SSI_EV_SESSION_STARTED] = 70,
		    [SSI_EV_REACTION_RECEIVED] = 70, [SSI_EV_LEAD_SAVED] = 60,
		    [SSI_EV_INMAIL_SENT] = 40,	     [SSI_EV_POST_SHARED] = 35,
		    [SSI_EV_CONNECTION_ADDED] = 30,  [SSI_EV_PROSPECT_CONTENT_SHARED] = 30,
		    [SSI_EV_COMMENT_RECEIVED] = 25,  [SSI_EV_GROUP_ACTIVITY] = 25,
		    [SSI_EV_FOLLOWER_GAINED] = 20,   [SSI_EV_ENDORSEMENT_RECEIVED] = 12,
		    [SSI_EV_RESHARE_RECEIVED] = 10,  [SSI_EV_ARTICLE_PUBLISHED] = 4,
		    [SSI_EV_GROUP_JOINED] = 3,	     [SSI_EV_PROFILE_UPDATED] = 3,
		    [SSI_EV_CONNECTION_REMOVED] = 2,
		},
	},
    [SSID_GEN_SPAMMER] =
	{
	    .name = "spammer",
	    .share_per_mille = 20,
	    .events_per_weekday = 150,
	    .weekend_factor = 1.0,
	    .around_the_clock = true,
	    .invitation_accept = 0.05,
	    .inmail_reply = 0.02,
	    .photo = 90,
	    .background = 5,
	    .headline = 90,
	    .summary = 10,
	    .experience = 20,
	    .skills_max = 3,
	    .featured_max = 0,
	    .mix =
		{
		    [SSI_EV_INVITATION_SENT] = 400,
		    [SSI_EV_MESSAGE_SENT] = 250,
		    [SSI_EV_PROFILE_VIEWED] = 200,
		    [SSI_EV_REACTION_GIVEN] = 60,
		    [SSI_EV_INMAIL_SENT] = 50,
		    [SSI_EV_SESSION_STARTED] = 20,
		    [SSI_EV_SEARCH_PERFORMED] = 20,
		},
	},
    [SSID_GEN_LAPSING] =
	{
	    .name = "lapsing",
	    .share_per_mille = 80,
	    .events_per_weekday = 12,
	    .weekend_factor = 0.15,
	    .invitation_accept = 0.3,
	    .inmail_reply = 0.15,
	    .photo = 80,
	    .background = 30,
	    .headline = 70,
	    .summary = 40,
	    .experience = 75,
	    .skills_max = 15,
	    .featured_max = 1,
	    .mix =
		{
		    [SSI_EV_SESSION_STARTED] = 200,
		    [SSI_EV_PROFILE_VIEW_RECEIVED] = 150,
		    [SSI_EV_REACTION_GIVEN] = 150,
		    [SSI_EV_PROFILE_VIEWED] = 120,
		    [SSI_EV_MESSAGE_SENT] = 90,
		    [SSI_EV_REACTION_RECEIVED] = 60,
		    [SSI_EV_SEARCH_PERFORMED] = 50,
		    [SSI_EV_INVITATION_SENT] = 50,
		    [SSI_EV_CONNECTION_ADDED] = 40,
		    [SSI_EV_COMMENT_GIVEN] = 30,
		    [SSI_EV_POST_SHARED] = 20,
		    [SSI_EV_GROUP_ACTIVITY] = 20,
		    [SSI_EV_FOLLOWER_GAINED] = 10,
		    [SSI_EV_ENDORSEMENT_RECEIVED] = 10,
		    [SSI_EV_PROFILE_UPDATED] = 2,
		},
	},
};

/* Relative activity by local hour on a working day: office hours, a lunch dip. */
static const double hour_weight[24] = {
    0.02, 0.01, 0.01, 0.01, 0.01, 0.02, 0.08, 0.30, 0.80, 1.00, 1.00, 1.00,
    0.60, 0.90, 1.00, 1.00, 0.90, 0.60, 0.35, 0.25, 0.25, 0.20, 0.10, 0.05,
};

#define BURST_DAY_CHANCE	     0.07
#define QUIET_DAY_CHANCE	     0.12
#define LAPSE_MEAN_DAYS		     20.0
#define KNOWN_TARGET_CHANCE	     0.7
#define EXTERNAL_SAME_COMPANY_CHANCE 0.1

/* ------------------------------------------------------------ the state */

struct gen_user {
	int64_t idle_from_ms;
	int32_t utc_offset_ms;
	uint32_t team; /* global team index; the tenant is team / teams_per_tenant */
	uint8_t industry;
	uint8_t persona;
	uint8_t seniority;
	bool introduced; /* its first profile_updated is out */
	struct ssi_profile profile;
	int32_t factor_day; /* the local day day_factor belongs to */
	double day_factor;
};

struct slot {
	int64_t at_ms;
	uint32_t user;
};

/* Who the other side of a connection or an invitation is. */
struct target {
	bool known;
	bool same_company;
	enum ssi_seniority seniority;
	uint32_t user;	   /* when known */
	uint64_t external; /* when not */
};

enum followup_kind {
	FOLLOWUP_INVITATION_ACCEPTED, /* then a connection on both sides */
	FOLLOWUP_CONNECTION_ADDED,
	FOLLOWUP_CONNECTION_REMOVED,
	FOLLOWUP_INMAIL_REPLIED,
};

struct followup {
	int64_t at_ms;
	uint64_t seq; /* ties go first-in first-out */
	uint32_t user;
	enum followup_kind kind;
	struct target other;
};

struct segment_text {
	char tenant[NAME_SLOT];
	char team[2 * NAME_SLOT];
	char fragment[4 * NAME_SLOT]; /* ,"tenant":"...","team":"..." */
	size_t fragment_len;
};

struct ssid_gen {
	struct ssid_gen_config cfg;
	struct rng rng;	    /* the good traffic */
	struct rng bad_rng; /* which events to spoil and how: the traffic does not depend on it */
	uint64_t day_seed;
	int64_t limit_ms; /* events happen before this */

	uint32_t nusers;
	struct gen_user *users;
	char *user_ids; /* USER_ID_SLOT bytes per user */
	uint8_t *user_id_len;

	uint32_t nteams;
	struct segment_text *teams;
	uint32_t nindustries;
	char industry_fragment[SSID_GEN_INDUSTRIES_MAX][NAME_SLOT];
	uint8_t industry_fragment_len[SSID_GEN_INDUSTRIES_MAX];

	struct slot *heap;
	uint32_t heap_len;

	struct followup *followups;
	size_t followups_len, followups_cap, followups_max;
	uint64_t followup_seq;

	double peak_rate_per_ms[SSID_GEN_PERSONA__COUNT];
	uint8_t type_table[SSID_GEN_PERSONA__COUNT][TYPE_TABLE_SIZE];
	uint8_t type_name_len[SSI_EV__COUNT];

	char event_id_prefix[32]; /* "ev-<stream>- */
	size_t event_id_prefix_len;
	uint64_t event_seq;

	int32_t date_day; /* the UTC day date_text holds */
	char date_text[16];
};

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
 * factor cannot grow it without limit: when full, the consequence is
 * dropped, as if the invitation had been ignored.
 */
static void followup_push(struct ssid_gen *g, const struct followup *f)
{
	size_t i;

	if (f->at_ms >= g->limit_ms || g->followups_len == g->followups_max)
		return;
	if (g->followups_len == g->followups_cap) {
		size_t cap = g->followups_cap * 2;
		struct followup *grown = realloc(g->followups, cap * sizeof(*grown));

		if (!grown)
			return;
		g->followups = grown;
		g->followups_cap = cap;
	}
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

static void followup_pop(struct ssid_gen *g, struct followup *out)
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
static double day_factor(struct ssid_gen *g, uint32_t user, int32_t day)
{
	struct gen_user *u = &g->users[user];
	const struct persona *p = &personas[u->persona];
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
static int64_t next_activity(struct ssid_gen *g, uint32_t user, int64_t from_ms)
{
	struct gen_user *u = &g->users[user];
	const struct persona *p = &personas[u->persona];
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
			      (p->around_the_clock ? 1.0 : hour_weight[hour]);
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

static enum ssi_seniority draw_seniority(struct rng *r)
{
	uint32_t x = rng_below(r, 1000);

	for (int s = SSI_SEN_ENTRY; s < SSI_SEN__COUNT; s++) {
		if (x < seniority_per_mille[s])
			return (enum ssi_seniority)s;
		x -= seniority_per_mille[s];
	}
	return SSI_SEN_PARTNER;
}

static uint32_t tenant_of(const struct ssid_gen *g, uint32_t user)
{
	return g->users[user].team / g->cfg.teams_per_tenant;
}

/*
 * Somebody to connect with or invite: usually another known user, so the
 * stream carries a network; social sellers aim for decision makers.
 */
static void choose_target(struct ssid_gen *g, uint32_t user, struct target *t)
{
	bool seller = g->users[user].persona == SSID_GEN_SOCIAL_SELLER;
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
	t->seniority = draw_seniority(&g->rng);
	for (int i = 1; i < tries; i++) {
		enum ssi_seniority s = draw_seniority(&g->rng);

		if (s > t->seniority)
			t->seniority = s;
	}
	t->same_company = rng_chance(&g->rng, EXTERNAL_SAME_COMPANY_CHANCE);
}

static void target_of_user(const struct ssid_gen *g, uint32_t user, uint32_t other,
			   struct target *t)
{
	memset(t, 0, sizeof(*t));
	t->known = true;
	t->user = other;
	t->seniority = (enum ssi_seniority)g->users[other].seniority;
	t->same_company = tenant_of(g, other) == tenant_of(g, user);
}

/* ---------------------------------------------------------------- drafts */

/* What an event says, before it is written out (or spoiled). */
struct draft {
	int64_t at_ms;
	uint32_t user;
	enum ssi_event_type type;
	struct ssi_profile profile;
	int filters;
	int degree;
	bool mobile;
	struct target other;
};

static void initial_profile(struct ssid_gen *g, struct gen_user *u)
{
	const struct persona *p = &personas[u->persona];
	struct rng *r = &g->rng;

	u->profile.photo = rng_below(r, 100) < p->photo;
	u->profile.background_photo = rng_below(r, 100) < p->background;
	u->profile.headline = rng_below(r, 100) < p->headline;
	u->profile.summary = rng_below(r, 100) < p->summary;
	u->profile.experience = rng_below(r, 100) < p->experience;
	u->profile.skills = (uint8_t)rng_between(r, 0, p->skills_max);
	u->profile.featured_media = (uint8_t)rng_between(r, 0, p->featured_max);
}

/* A later profile_updated: people fill in what was missing, bit by bit. */
static void improve_profile(struct ssid_gen *g, struct gen_user *u)
{
	struct ssi_profile *pr = &u->profile;

	if (!pr->photo)
		pr->photo = true;
	else if (!pr->headline)
		pr->headline = true;
	else if (!pr->experience)
		pr->experience = true;
	else if (!pr->summary && rng_chance(&g->rng, 0.5))
		pr->summary = true;
	else if (!pr->background_photo && rng_chance(&g->rng, 0.5))
		pr->background_photo = true;
	else if (pr->skills < 99)
		pr->skills = (uint8_t)(pr->skills + rng_between(&g->rng, 1, 3));
	else if (pr->featured_media < 20)
		pr->featured_media++;
}

/* Fill the attributes a type carries, and schedule what it sets off. */
static void draft_activity(struct ssid_gen *g, struct draft *d)
{
	struct gen_user *u = &g->users[d->user];
	const struct persona *p = &personas[u->persona];
	bool prospecting = u->persona == SSID_GEN_SOCIAL_SELLER;
	struct followup f;

	switch (d->type) {
	case SSI_EV_PROFILE_UPDATED:
		if (u->introduced)
			improve_profile(g, u);
		else
			initial_profile(g, u);
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

		if (u->persona == SSID_GEN_PASSIVE || u->persona == SSID_GEN_LAPSING)
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
static void draft_followup(struct ssid_gen *g, const struct followup *f, struct draft *d)
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

/* --------------------------------------------------------------- writing */

struct out {
	char *p;
	char *end;
	bool overflow;
};

static void put(struct out *o, const void *s, size_t n)
{
	if ((size_t)(o->end - o->p) < n) {
		o->overflow = true;
		return;
	}
	memcpy(o->p, s, n);
	o->p += n;
}

#define put_lit(o, lit) put((o), (lit), sizeof(lit) - 1)

static void put_u64(struct out *o, uint64_t v)
{
	char tmp[20];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(o, tmp + i, sizeof(tmp) - i);
}

static void put_hex64(struct out *o, uint64_t v)
{
	static const char digits[] = "0123456789abcdef";
	char tmp[16];

	for (int i = 15; i >= 0; i--) {
		tmp[i] = digits[v & 15];
		v >>= 4;
	}
	put(o, tmp, sizeof(tmp));
}

/*
 * A JSON string. Names and ids come from tables, but this is the one place
 * every string passes, so it escapes whatever JSON requires.
 */
static void put_str(struct out *o, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t run = 0;

	put_lit(o, "\"");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[6];

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		put(o, s + run, i - run);
		run = i + 1;
		esc[0] = '\\';
		if (c == '"' || c == '\\') {
			esc[1] = (char)c;
			put(o, esc, 2);
		} else {
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			put(o, esc, 6);
		}
	}
	put(o, s + run, len - run);
	put_lit(o, "\"");
}

static void put_bool(struct out *o, bool v)
{
	if (v)
		put_lit(o, "true");
	else
		put_lit(o, "false");
}

/* "2026-11-20T10:00:00.250Z": the date part is formatted once per UTC day. */
static void put_time(struct ssid_gen *g, struct out *o, int64_t ms)
{
	int32_t day = ssi_time_day(ms);
	int64_t into_day = ms - ssi_time_day_start(day);
	unsigned h = (unsigned)(into_day / MS_PER_HOUR);
	unsigned m = (unsigned)(into_day / MS_PER_MINUTE % 60);
	unsigned s = (unsigned)(into_day / 1000 % 60);
	unsigned milli = (unsigned)(into_day % 1000);
	char clock[15];

	if (day != g->date_day) {
		char full[SSI_TIME_BUFLEN];

		ssi_time_format(ssi_time_day_start(day), full);
		memcpy(g->date_text, full, 11); /* YYYY-MM-DDT */
		g->date_day = day;
	}
	clock[0] = '"';
	clock[1] = (char)('0' + h / 10);
	clock[2] = (char)('0' + h % 10);
	clock[3] = ':';
	clock[4] = (char)('0' + m / 10);
	clock[5] = (char)('0' + m % 10);
	clock[6] = ':';
	clock[7] = (char)('0' + s / 10);
	clock[8] = (char)('0' + s % 10);
	clock[9] = '.';
	clock[10] = (char)('0' + milli / 100);
	clock[11] = (char)('0' + milli / 10 % 10);
	clock[12] = (char)('0' + milli % 10);
	clock[13] = 'Z';
	clock[14] = '"';
	put_lit(o, "\"");
	put(o, g->date_text, 11);
	put(o, clock + 1, sizeof(clock) - 1);
}

/*
 * How to spoil one field while writing it: leave it out, give it another
 * raw JSON value, or write it twice.
 */
enum field {
	FIELD_NONE,
	FIELD_EVENT_ID,
	FIELD_USER_ID,
	FIELD_TYPE,
	FIELD_OCCURRED_AT,
	FIELD_TENANT,
	FIELD_TEAM,
	FIELD_INDUSTRY,
	FIELD_ATTRS,
	FIELD_ATTR, /* the attribute named in spoil.attr */
};

enum spoil_action { SPOIL_OMIT, SPOIL_REPLACE, SPOIL_DUPLICATE };

struct spoil {
	enum field field;
	enum spoil_action action;
	const char *attr;
	char raw[320];
	size_t raw_len;
};

/* Writes "name":value, unless the spoil says otherwise. Returns false to skip the value. */
static bool put_key(struct out *o, const struct spoil *sp, enum field f, const char *attr,
		    const char *key, size_t key_len, bool *first)
{
	bool targeted = sp && sp->field == f && (f != FIELD_ATTR || strcmp(sp->attr, attr) == 0);

	if (targeted && sp->action == SPOIL_OMIT)
		return false;
	if (!*first)
		put_lit(o, ",");
	*first = false;
	put(o, key, key_len);
	if (targeted && sp->action == SPOIL_REPLACE) {
		put(o, sp->raw, sp->raw_len);
		return false;
	}
	if (targeted && sp->action == SPOIL_DUPLICATE) {
		put(o, sp->raw, sp->raw_len);
		put_lit(o, ",");
		put(o, key, key_len);
	}
	return true;
}

#define KEY(o, sp, f, attr, lit, first)                                                            \
	put_key((o), (sp), (f), (attr), (lit), sizeof(lit) - 1, (first))

static void put_connection_id(struct ssid_gen *g, struct out *o, const struct target *t)
{
	if (t->known) {
		put_str(o, g->user_ids + (size_t)t->user * USER_ID_SLOT, g->user_id_len[t->user]);
		return;
	}
	put_lit(o, "\"ext-");
	put_hex64(o, t->external);
	put_lit(o, "\"");
}

static void put_attrs(struct ssid_gen *g, struct out *o, const struct draft *d,
		      const struct spoil *sp)
{
	const struct ssi_profile *pr = &d->profile;
	bool first = true;

	switch (d->type) {
	case SSI_EV_PROFILE_UPDATED:
		if (KEY(o, sp, FIELD_ATTR, "photo", "\"photo\":", &first))
			put_bool(o, pr->photo);
		if (KEY(o, sp, FIELD_ATTR, "background_photo", "\"background_photo\":", &first))
			put_bool(o, pr->background_photo);
		if (KEY(o, sp, FIELD_ATTR, "headline", "\"headline\":", &first))
			put_bool(o, pr->headline);
		if (KEY(o, sp, FIELD_ATTR, "summary", "\"summary\":", &first))
			put_bool(o, pr->summary);
		if (KEY(o, sp, FIELD_ATTR, "experience", "\"experience\":", &first))
			put_bool(o, pr->experience);
		if (KEY(o, sp, FIELD_ATTR, "skills", "\"skills\":", &first))
			put_u64(o, pr->skills);
		if (KEY(o, sp, FIELD_ATTR, "featured_media", "\"featured_media\":", &first))
			put_u64(o, pr->featured_media);
		break;
	case SSI_EV_SEARCH_PERFORMED:
		if (KEY(o, sp, FIELD_ATTR, "filters", "\"filters\":", &first))
			put_u64(o, (uint64_t)d->filters);
		break;
	case SSI_EV_PROFILE_VIEWED:
		if (KEY(o, sp, FIELD_ATTR, "degree", "\"degree\":", &first))
			put_u64(o, (uint64_t)d->degree);
		break;
	case SSI_EV_SESSION_STARTED:
		/* Not in the contract: exercises the forward-compatible path. */
		if (KEY(o, sp, FIELD_ATTR, "device", "\"device\":", &first)) {
			if (d->mobile)
				put_lit(o, "\"mobile\"");
			else
				put_lit(o, "\"desktop\"");
		}
		break;
	case SSI_EV_CONNECTION_ADDED:
	case SSI_EV_CONNECTION_REMOVED: {
		const char *sen = ssi_seniority_name(d->other.seniority);

		if (KEY(o, sp, FIELD_ATTR, "connection_id", "\"connection_id\":", &first))
			put_connection_id(g, o, &d->other);
		if (KEY(o, sp, FIELD_ATTR, "seniority", "\"seniority\":", &first))
			put_str(o, sen, strlen(sen));
		if (KEY(o, sp, FIELD_ATTR, "same_company", "\"same_company\":", &first))
			put_bool(o, d->other.same_company);
		break;
	}
	default:
		break;
	}
}

static bool type_has_attrs(enum ssi_event_type t)
{
	return t == SSI_EV_PROFILE_UPDATED || t == SSI_EV_SEARCH_PERFORMED ||
	       t == SSI_EV_PROFILE_VIEWED || t == SSI_EV_SESSION_STARTED ||
	       t == SSI_EV_CONNECTION_ADDED || t == SSI_EV_CONNECTION_REMOVED;
}

/* The event as JSON, with at most one field spoiled (sp NULL: none). */
static void put_event(struct ssid_gen *g, struct out *o, const struct draft *d,
		      const struct spoil *sp)
{
	const struct gen_user *u = &g->users[d->user];
	const struct segment_text *seg = &g->teams[u->team];
	const char *type_name = ssi_event_type_name(d->type);
	bool first = true;

	put_lit(o, "{");
	if (KEY(o, sp, FIELD_EVENT_ID, NULL, "\"event_id\":", &first)) {
		put(o, g->event_id_prefix, g->event_id_prefix_len);
		put_u64(o, g->event_seq);
		put_lit(o, "\"");
	}
	if (KEY(o, sp, FIELD_USER_ID, NULL, "\"user_id\":", &first))
		put_str(o, g->user_ids + (size_t)d->user * USER_ID_SLOT, g->user_id_len[d->user]);
	if (KEY(o, sp, FIELD_TYPE, NULL, "\"type\":", &first))
		put_str(o, type_name, g->type_name_len[d->type]);
	if (KEY(o, sp, FIELD_OCCURRED_AT, NULL, "\"occurred_at\":", &first))
		put_time(g, o, d->at_ms);
	if (!sp || sp->field < FIELD_TENANT || sp->field > FIELD_INDUSTRY) {
		put(o, seg->fragment, seg->fragment_len);
		put(o, g->industry_fragment[u->industry], g->industry_fragment_len[u->industry]);
	} else {
		const char *ind = industry_names[u->industry];

		if (KEY(o, sp, FIELD_TENANT, NULL, "\"tenant\":", &first))
			put_str(o, seg->tenant, strlen(seg->tenant));
		if (KEY(o, sp, FIELD_TEAM, NULL, "\"team\":", &first))
			put_str(o, seg->team, strlen(seg->team));
		if (KEY(o, sp, FIELD_INDUSTRY, NULL, "\"industry\":", &first))
			put_str(o, ind, strlen(ind));
	}
	if (type_has_attrs(d->type) || (sp && sp->field == FIELD_ATTRS)) {
		if (KEY(o, sp, FIELD_ATTRS, NULL, "\"attrs\":", &first)) {
			put_lit(o, "{");
			put_attrs(g, o, d, sp);
			put_lit(o, "}");
		}
	}
	put_lit(o, "}");
}

/* ------------------------------------------------------- spoiled events */

enum bad_kind {
	BAD_TRUNCATED,
	BAD_NOT_OBJECT,
	BAD_MISSING_FIELD,
	BAD_EMPTY_FIELD,
	BAD_UNKNOWN_TYPE,
	BAD_TIMESTAMP,
	BAD_WRONG_TYPE,
	BAD_ATTR_VALUE,
	BAD_TOO_LONG,
	BAD_INVALID_UTF8,
	BAD_NUL_BYTE,
	BAD_ESCAPED_NUL,
	BAD_DUPLICATE_KEY,
	BAD_TOO_DEEP,
	BAD_TRAILING_GARBAGE,
	BAD_GARBAGE,
	BAD_TOO_OLD,
	BAD_IN_FUTURE,
	BAD__COUNT
};

static void spoil_raw(struct spoil *sp, enum field f, enum spoil_action a, const char *raw,
		      size_t len)
{
	sp->field = f;
	sp->action = a;
	if (len > sizeof(sp->raw))
		len = sizeof(sp->raw);
	memcpy(sp->raw, raw, len);
	sp->raw_len = len;
}

#define SPOIL_LIT(sp, f, a, lit) spoil_raw((sp), (f), (a), (lit), sizeof(lit) - 1)

static void spoil_attr(struct spoil *sp, const char *attr, const char *raw, size_t len)
{
	spoil_raw(sp, FIELD_ATTR, SPOIL_REPLACE, raw, len);
	sp->attr = attr;
}

#define SPOIL_ATTR_LIT(sp, attr, lit) spoil_attr((sp), (attr), (lit), sizeof(lit) - 1)

/* Give a draft the type an attribute-level spoil needs, with plausible attrs. */
static void retype(struct ssid_gen *g, struct draft *d, enum ssi_event_type t)
{
	d->type = t;
	d->profile = g->users[d->user].profile;
	d->filters = 2;
	d->degree = 2;
	if (t == SSI_EV_CONNECTION_ADDED || t == SSI_EV_CONNECTION_REMOVED) {
		memset(&d->other, 0, sizeof(d->other));
		d->other.external = rng_u64(&g->bad_rng);
		d->other.seniority = SSI_SEN_SENIOR;
	}
}

/* A timestamp that RFC 3339 does not allow, built around the real date. */
static void spoil_timestamp(struct ssid_gen *g, struct draft *d, struct spoil *sp)
{
	char real[SSI_TIME_BUFLEN];
	char raw[64];
	int n;

	ssi_time_format(d->at_ms, real);
	switch (rng_below(&g->bad_rng, 10)) {
	case 0: /* month 13 */
		n = snprintf(raw, sizeof(raw), "\"%.4s-13%s\"", real, real + 7);
		break;
	case 1: /* February 30th */
		n = snprintf(raw, sizeof(raw), "\"%.4s-02-30%s\"", real, real + 10);
		break;
	case 2: /* hour 25 */
		n = snprintf(raw, sizeof(raw), "\"%.11s25%s\"", real, real + 13);
		break;
	case 3: /* a leap second */
		n = snprintf(raw, sizeof(raw), "\"%.17s60%s\"", real, real + 19);
		break;
	case 4: /* no offset */
		n = snprintf(raw, sizeof(raw), "\"%.23s\"", real);
		break;
	case 5: /* offset out of range */
		n = snprintf(raw, sizeof(raw), "\"%.23s+25:00\"", real);
		break;
	case 6: /* epoch milliseconds in a string */
		n = snprintf(raw, sizeof(raw), "\"%lld\"", (long long)d->at_ms);
		break;
	case 7:
		n = snprintf(raw, sizeof(raw), "\"yesterday\"");
		break;
	case 8: /* a date alone */
		n = snprintf(raw, sizeof(raw), "\"%.10s\"", real);
		break;
	default: /* a five-digit year */
		n = snprintf(raw, sizeof(raw), "\"1%s\"", real);
		break;
	}
	spoil_raw(sp, FIELD_OCCURRED_AT, SPOIL_REPLACE, raw, n > 0 ? (size_t)n : 0);
}

static void spoil_wrong_type(struct ssid_gen *g, struct draft *d, struct spoil *sp)
{
	switch (rng_below(&g->bad_rng, 12)) {
	case 0:
		SPOIL_LIT(sp, FIELD_USER_ID, SPOIL_REPLACE, "12345");
		break;
	case 1:
		SPOIL_LIT(sp, FIELD_EVENT_ID, SPOIL_REPLACE, "{\"id\":1}");
		break;
	case 2:
		SPOIL_LIT(sp, FIELD_TYPE, SPOIL_REPLACE, "9");
		break;
	case 3: {
		char raw[24];
		int n = snprintf(raw, sizeof(raw), "%lld", (long long)d->at_ms);

		spoil_raw(sp, FIELD_OCCURRED_AT, SPOIL_REPLACE, raw, n > 0 ? (size_t)n : 0);
		break;
	}
	case 4:
		SPOIL_LIT(sp, FIELD_TENANT, SPOIL_REPLACE, "true");
		break;
	case 5:
		SPOIL_LIT(sp, FIELD_TEAM, SPOIL_REPLACE, "[\"sales\"]");
		break;
	case 6:
		retype(g, d, SSI_EV_PROFILE_VIEWED);
		SPOIL_LIT(sp, FIELD_ATTRS, SPOIL_REPLACE, "[2]");
		break;
	case 7:
		retype(g, d, SSI_EV_PROFILE_VIEWED);
		SPOIL_ATTR_LIT(sp, "degree", "\"2\"");
		break;
	case 8:
		retype(g, d, SSI_EV_PROFILE_UPDATED);
		SPOIL_ATTR_LIT(sp, "photo", "\"yes\"");
		break;
	case 9:
		retype(g, d, SSI_EV_PROFILE_UPDATED);
		SPOIL_ATTR_LIT(sp, "skills", "\"12\"");
		break;
	case 10:
		retype(g, d, SSI_EV_CONNECTION_ADDED);
		SPOIL_ATTR_LIT(sp, "same_company", "\"no\"");
		break;
	default:
		retype(g, d, SSI_EV_CONNECTION_ADDED);
		SPOIL_ATTR_LIT(sp, "connection_id", "42");
		break;
	}
}

static void spoil_attr_value(struct ssid_gen *g, struct draft *d, struct spoil *sp)
{
	switch (rng_below(&g->bad_rng, 6)) {
	case 0:
		retype(g, d, SSI_EV_PROFILE_VIEWED);
		SPOIL_ATTR_LIT(sp, "degree", "4");
		break;
	case 1:
		retype(g, d, SSI_EV_PROFILE_VIEWED);
		SPOIL_ATTR_LIT(sp, "degree", "0");
		break;
	case 2:
		retype(g, d, SSI_EV_CONNECTION_ADDED);
		SPOIL_ATTR_LIT(sp, "seniority", "\"intern\"");
		break;
	case 3:
		retype(g, d, SSI_EV_SEARCH_PERFORMED);
		SPOIL_ATTR_LIT(sp, "filters", "-3");
		break;
	case 4:
		retype(g, d, SSI_EV_PROFILE_UPDATED);
		SPOIL_ATTR_LIT(sp, "skills", "-1");
		break;
	default: /* degree is the one attribute the contract requires */
		retype(g, d, SSI_EV_PROFILE_VIEWED);
		sp->field = FIELD_ATTR;
		sp->action = SPOIL_OMIT;
		sp->attr = "degree";
		break;
	}
}

static void spoil_too_long(struct ssid_gen *g, struct draft *d, struct spoil *sp)
{
	static const enum field fields[] = {FIELD_USER_ID, FIELD_EVENT_ID, FIELD_TENANT,
					    FIELD_ATTR};
	char raw[SSI_ID_MAX + 80];
	size_t len = SSI_ID_MAX + 1 + rng_below(&g->bad_rng, 64);
	enum field f = fields[rng_below(&g->bad_rng, 4)];

	raw[0] = '"';
	for (size_t i = 1; i <= len; i++)
		raw[i] = (char)('a' + (i % 26));
	raw[len + 1] = '"';
	if (f == FIELD_ATTR) {
		retype(g, d, SSI_EV_CONNECTION_ADDED);
		spoil_attr(sp, "connection_id", raw, len + 2);
		return;
	}
	spoil_raw(sp, f, SPOIL_REPLACE, raw, len + 2);
}

static void spoil_invalid_utf8(struct ssid_gen *g, struct spoil *sp)
{
	static const struct {
		const char *bytes;
		size_t len;
	} broken[] = {
	    {"\"caf\xc3\x28\"", 7},	 /* a lead byte without its continuation */
	    {"\"\xa0\xa1-team\"", 9},	 /* lone continuation bytes */
	    {"\"ops\xc0\xaf\"", 7},	 /* an overlong slash */
	    {"\"x\xed\xa0\x80y\"", 7},	 /* a UTF-16 surrogate */
	    {"\"\xf4\x90\x80\x80\"", 6}, /* beyond U+10FFFF */
	    {"\"sales\xff\"", 8},	 /* a byte that never occurs */
	};
	static const enum field fields[] = {FIELD_TEAM, FIELD_TENANT, FIELD_USER_ID,
					    FIELD_INDUSTRY};
	uint32_t i = rng_below(&g->bad_rng, sizeof(broken) / sizeof(broken[0]));

	spoil_raw(sp, fields[rng_below(&g->bad_rng, 4)], SPOIL_REPLACE, broken[i].bytes,
		  broken[i].len);
}

/* Bytes that are no event at all; printable, so JSON-lines output stays line-framed. */
static size_t garbage(struct ssid_gen *g, char *buf, size_t cap)
{
	static const char alphabet[] = "abcdefxyz0123456789{}[]:,\" -_.!?<>";
	size_t len = rng_below(&g->bad_rng, 61);

	if (len > cap)
		len = cap;
	for (size_t i = 0; i < len; i++)
		buf[i] = alphabet[rng_below(&g->bad_rng, sizeof(alphabet) - 1)];
	return len;
}

/* Write the draft spoiled in one of many ways, for dead-letter demos and tests. */
static void put_bad_event(struct ssid_gen *g, struct out *o, struct draft *d)
{
	enum bad_kind kind = (enum bad_kind)rng_below(&g->bad_rng, BAD__COUNT);
	struct spoil sp;
	char *start = o->p;

	memset(&sp, 0, sizeof(sp));
	sp.field = FIELD_NONE;
	switch (kind) {
	case BAD_TRUNCATED: {
		size_t len;

		put_event(g, o, d, NULL);
		len = (size_t)(o->p - start);
		o->p = start + 1 + rng_below(&g->bad_rng, (uint32_t)(len - 1));
		return;
	}
	case BAD_NOT_OBJECT:
		switch (rng_below(&g->bad_rng, 4)) {
		case 0:
			put_lit(o, "[");
			put_event(g, o, d, NULL);
			put_lit(o, "]");
			break;
		case 1:
			put_lit(o, "\"profile_updated\"");
			break;
		case 2:
			put_lit(o, "42");
			break;
		default:
			put_lit(o, "null");
			break;
		}
		return;
	case BAD_MISSING_FIELD: {
		static const enum field required[] = {FIELD_EVENT_ID, FIELD_USER_ID, FIELD_TYPE,
						      FIELD_OCCURRED_AT};

		sp.field = required[rng_below(&g->bad_rng, 4)];
		sp.action = SPOIL_OMIT;
		break;
	}
	case BAD_EMPTY_FIELD: {
		static const enum field fields[] = {FIELD_USER_ID, FIELD_EVENT_ID, FIELD_TENANT,
						    FIELD_TEAM, FIELD_INDUSTRY};

		SPOIL_LIT(&sp, fields[rng_below(&g->bad_rng, 5)], SPOIL_REPLACE, "\"\"");
		break;
	}
	case BAD_UNKNOWN_TYPE:
		switch (rng_below(&g->bad_rng, 3)) {
		case 0:
			SPOIL_LIT(&sp, FIELD_TYPE, SPOIL_REPLACE, "\"profile_poked\"");
			break;
		case 1:
			SPOIL_LIT(&sp, FIELD_TYPE, SPOIL_REPLACE, "\"Post_Shared\"");
			break;
		default:
			SPOIL_LIT(&sp, FIELD_TYPE, SPOIL_REPLACE, "\"post shared\"");
			break;
		}
		break;
	case BAD_TIMESTAMP:
		spoil_timestamp(g, d, &sp);
		break;
	case BAD_WRONG_TYPE:
		spoil_wrong_type(g, d, &sp);
		break;
	case BAD_ATTR_VALUE:
		spoil_attr_value(g, d, &sp);
		break;
	case BAD_TOO_LONG:
		spoil_too_long(g, d, &sp);
		break;
	case BAD_INVALID_UTF8:
		spoil_invalid_utf8(g, &sp);
		break;
	case BAD_NUL_BYTE:
		spoil_raw(&sp, FIELD_USER_ID, SPOIL_REPLACE, "\"u-\0nul\"", 8);
		break;
	case BAD_ESCAPED_NUL:
		SPOIL_LIT(&sp, FIELD_USER_ID, SPOIL_REPLACE, "\"u-\\u0000nul\"");
		break;
	case BAD_DUPLICATE_KEY:
		SPOIL_LIT(&sp, FIELD_TYPE, SPOIL_DUPLICATE, "\"session_started\"");
		break;
	case BAD_TOO_DEEP:
		SPOIL_LIT(&sp, FIELD_ATTRS, SPOIL_REPLACE,
			  "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":"
			  "1}}}}}}}}}}");
		break;
	case BAD_TRAILING_GARBAGE:
		put_event(g, o, d, NULL);
		if (rng_chance(&g->bad_rng, 0.5))
			put_lit(o, "{}");
		else
			put_lit(o, " x");
		return;
	case BAD_GARBAGE:
		o->p += garbage(g, o->p, (size_t)(o->end - o->p));
		return;
	case BAD_TOO_OLD:
		/* State events are never too old: age a counted one instead. */
		if (ssi_event_is_state(d->type))
			d->type = SSI_EV_SESSION_STARTED;
		d->at_ms -= 3 * 366 * SSI_MS_PER_DAY;
		if (d->at_ms < SSI_TIME_MIN_MS)
			d->at_ms = SSI_TIME_MIN_MS;
		break;
	case BAD_IN_FUTURE:
		d->at_ms += 3 * SSI_MS_PER_DAY;
		break;
	case BAD__COUNT:
		break;
	}
	put_event(g, o, d, &sp);
}

/* ------------------------------------------------------------- the API */

static int validate(const struct ssid_gen_config *c)
{
	uint32_t tenants = c->tenants ? c->tenants : 1;
	uint32_t teams = c->teams_per_tenant ? c->teams_per_tenant : 3;

	if (c->users < 1 || c->users > USERS_MAX || tenants > c->users)
		return -EINVAL;
	if (teams > TEAMS_PER_TENANT_MAX || (uint64_t)tenants * teams > TEAMS_TOTAL_MAX)
		return -EINVAL;
	if (c->industries > SSID_GEN_INDUSTRIES_MAX)
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

/* Segment names and the ready-made JSON fragments every event copies. */
static int build_segments(struct ssid_gen *g)
{
	uint32_t tpt = g->cfg.teams_per_tenant;
	size_t ntenant_names = sizeof(tenant_names) / sizeof(tenant_names[0]);
	size_t nkinds = sizeof(team_kinds) / sizeof(team_kinds[0]);

	g->nteams = g->cfg.tenants * tpt;
	g->teams = calloc(g->nteams, sizeof(*g->teams));
	if (!g->teams)
		return -ENOMEM;
	for (uint32_t i = 0; i < g->nteams; i++) {
		struct segment_text *s = &g->teams[i];
		uint32_t tenant = i / tpt, team = i % tpt;
		struct out o = {s->fragment, s->fragment + sizeof(s->fragment), false};

		if (tenant < ntenant_names)
			snprintf(s->tenant, sizeof(s->tenant), "%s", tenant_names[tenant]);
		else
			snprintf(s->tenant, sizeof(s->tenant), "%s-%u",
				 tenant_names[tenant % ntenant_names],
				 (unsigned)(tenant / ntenant_names + 1));
		if (team < nkinds)
			snprintf(s->team, sizeof(s->team), "%s.%s", s->tenant,
				 team_kinds[team].name);
		else
			snprintf(s->team, sizeof(s->team), "%s.%s-%u", s->tenant,
				 team_kinds[team % nkinds].name, (unsigned)(team / nkinds + 1));
		put_lit(&o, ",\"tenant\":");
		put_str(&o, s->tenant, strlen(s->tenant));
		put_lit(&o, ",\"team\":");
		put_str(&o, s->team, strlen(s->team));
		if (o.overflow)
			return -EINVAL;
		s->fragment_len = (size_t)(o.p - s->fragment);
	}
	for (uint32_t i = 0; i < g->nindustries; i++) {
		struct out o = {g->industry_fragment[i], g->industry_fragment[i] + NAME_SLOT,
				false};

		put_lit(&o, ",\"industry\":");
		put_str(&o, industry_names[i], strlen(industry_names[i]));
		if (o.overflow)
			return -EINVAL;
		g->industry_fragment_len[i] = (uint8_t)(o.p - g->industry_fragment[i]);
	}
	return 0;
}

/* Type sampling in O(1): each persona's mix spread over a 1024-entry table. */
static void build_type_tables(struct ssid_gen *g)
{
	for (int p = 0; p < SSID_GEN_PERSONA__COUNT; p++) {
		const uint16_t *mix = personas[p].mix;
		uint32_t total = 0, filled = 0;
		uint64_t acc = 0;

		for (int t = 0; t < SSI_EV__COUNT; t++)
			total += mix[t];
		for (int t = 0; t < SSI_EV__COUNT; t++) {
			uint32_t upto;

			acc += mix[t];
			upto = (uint32_t)(acc * TYPE_TABLE_SIZE / total);
			while (filled < upto)
				g->type_table[p][filled++] = (uint8_t)t;
		}
	}
}

static enum ssid_gen_persona draw_persona(struct rng *r)
{
	uint32_t x = rng_below(r, 1000);

	for (int p = 0; p < SSID_GEN_PERSONA__COUNT; p++) {
		if (x < personas[p].share_per_mille)
			return (enum ssid_gen_persona)p;
		x -= personas[p].share_per_mille;
	}
	return SSID_GEN_PASSIVE;
}

/* Who everybody is: persona, company, team, timezone; and when they first act. */
static void build_users(struct ssid_gen *g)
{
	uint32_t tpt = g->cfg.teams_per_tenant;
	size_t nkinds = sizeof(team_kinds) / sizeof(team_kinds[0]);
	uint32_t ntenants = g->cfg.tenants;
	for (uint32_t i = 0; i < g->nusers; i++) {
		struct gen_user *u = &g->users[i];
		double r;
		uint32_t tenant, team;
		enum region region;

		u->persona = (uint8_t)draw_persona(&g->rng);
		/* The first users seed every tenant; the rest favour the big ones. */
		r = rng_unit(&g->rng);
		tenant = i < ntenants ? i : (uint32_t)((double)ntenants * r * r);
		if (tenant >= ntenants)
			tenant = ntenants - 1;
		team = rng_below(&g->rng, tpt);
		u->team = tenant * tpt + team;
		/* Mostly the company's industry; consultants and the like differ. */
		u->industry =
		    (uint8_t)(rng_chance(&g->rng, 0.85)
				  ? mix64(g->cfg.seed ^ (0x1d0000ULL + tenant)) % g->nindustries
				  : rng_below(&g->rng, g->nindustries));
		u->seniority = (uint8_t)draw_seniority(&g->rng);
		region = team_kinds[team % nkinds].region;
		u->utc_offset_ms =
		    (int32_t)(region_offsets[region][rng_below(&g->rng, 4)] * MS_PER_MINUTE);
		u->idle_from_ms = INT64_MAX;
		if (u->persona == SSID_GEN_LAPSING)
			u->idle_from_ms =
			    g->cfg.start_ms + SSI_MS_PER_DAY +
			    (int64_t)(rng_exp(&g->rng) * LAPSE_MEAN_DAYS * (double)SSI_MS_PER_DAY);
		u->factor_day = INT32_MIN;
		g->user_id_len[i] = (uint8_t)snprintf(g->user_ids + (size_t)i * USER_ID_SLOT,
						      USER_ID_SLOT, "u-%06u", (unsigned)i);
	}
	g->heap_len = 0;
	for (uint32_t i = 0; i < g->nusers; i++) {
		int64_t at = next_activity(g, i, g->cfg.start_ms - 1);

		if (at != INT64_MAX)
			g->heap[g->heap_len++] = (struct slot){at, i};
	}
	for (uint32_t i = g->heap_len / 2; i-- > 0;)
		heap_sift_down(g->heap, g->heap_len, i);
}

int ssid_gen_new(struct ssid_gen **out, const struct ssid_gen_config *cfg)
{
	struct ssid_gen *g;
	uint64_t stream;
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
	g->nindustries = cfg->industries ? cfg->industries : SSID_GEN_INDUSTRIES_MAX;
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
	g->followups_cap = 1024;
	g->followups_max = g->nusers * (size_t)8 > 4096 ? g->nusers * (size_t)8 : 4096;
	g->followups = calloc(g->followups_cap, sizeof(*g->followups));
	if (!g->users || !g->user_ids || !g->user_id_len || !g->heap || !g->followups) {
		r = -ENOMEM;
		goto fail;
	}
	r = build_segments(g);
	if (r < 0)
		goto fail;
	build_type_tables(g);
	for (int t = 0; t < SSI_EV__COUNT; t++) {
		const char *name = ssi_event_type_name((enum ssi_event_type)t);

		if (!name) {
			r = -EINVAL;
			goto fail;
		}
		g->type_name_len[t] = (uint8_t)strlen(name);
	}
	for (int p = 0; p < SSID_GEN_PERSONA__COUNT; p++) {
		double weekday_hours = 0;

		for (int h = 0; h < 24; h++)
			weekday_hours += personas[p].around_the_clock ? 1.0 : hour_weight[h];
		g->peak_rate_per_ms[p] = personas[p].events_per_weekday * g->cfg.activity /
					 (weekday_hours * (double)MS_PER_HOUR);
	}
	/* Ids differ between seeds and between runs started at different times. */
	stream = mix64(cfg->seed) ^ mix64((uint64_t)cfg->start_ms ^ 0x5eedULL);
	{
		struct out o = {g->event_id_prefix, g->event_id_prefix + sizeof(g->event_id_prefix),
				false};

		put_lit(&o, "\"ev-");
		put_hex64(&o, stream);
		put_lit(&o, "-");
		g->event_id_prefix_len = (size_t)(o.p - g->event_id_prefix);
	}
	build_users(g);
	*out = g;
	return 0;
fail:
	ssid_gen_free(g);
	return r;
}

void ssid_gen_free(struct ssid_gen *g)
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
static bool next_draft(struct ssid_gen *g, struct draft *d)
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

int ssid_gen_next(struct ssid_gen *g, struct ssid_gen_event *ev)
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
		put_bad_event(g, &o, &d);
	else
		put_event(g, &o, &d, NULL);
	if (o.overflow)
		return -ENOBUFS;
	ev->type = d.type;
	ev->len = (size_t)(o.p - ev->json);
	ev->key_len = g->user_id_len[d.user];
	memcpy(ev->key, g->user_ids + (size_t)d.user * USER_ID_SLOT, ev->key_len + 1);
	g->event_seq++;
	return 1;
}

uint32_t ssid_gen_users(const struct ssid_gen *g)
{
	return g ? g->nusers : 0;
}

int ssid_gen_user_info(const struct ssid_gen *g, uint32_t user, struct ssid_gen_user_info *info)
{
	const struct gen_user *u;

	if (!g || !info || user >= g->nusers)
		return -EINVAL;
	u = &g->users[user];
	info->persona = (enum ssid_gen_persona)u->persona;
	info->seniority = (enum ssi_seniority)u->seniority;
	info->utc_offset_min = (int32_t)(u->utc_offset_ms / MS_PER_MINUTE);
	info->idle_from_ms = u->idle_from_ms;
	info->user_id = g->user_ids + (size_t)user * USER_ID_SLOT;
	info->tenant = g->teams[u->team].tenant;
	info->team = g->teams[u->team].team;
	info->industry = industry_names[u->industry];
	return 0;
}

const char *ssid_gen_persona_name(enum ssid_gen_persona p)
{
	if ((unsigned)p >= SSID_GEN_PERSONA__COUNT)
		return NULL;
	return personas[p].name;
}
