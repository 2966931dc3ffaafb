/*
 * ssigen_world: who the generated users are. The built-in world (tenants,
 * teams and their regions, industries, timezones, seniorities), the personas
 * and how busy each is by local hour, the population drawn from them, and
 * the profiles users start with and improve. See src/ssigen_int.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ssi_event.h"
#include "ssi_time.h"
#include "ssigen.h"
#include "ssigen_int.h"

#define LAPSE_MEAN_DAYS 20.0

enum region { REGION_NA, REGION_EMEA, REGION_APAC, REGION_LATAM, REGION__COUNT };

const char *const gen_industry_names[SSIGEN_INDUSTRIES_MAX] = {
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

/*
 * invitation_accepted and inmail_replied never appear in a mix: they are
 * consequences of the user's own invitations and InMails.
 */
const struct persona gen_personas[SSIGEN_PERSONA__COUNT] = {
    [SSIGEN_PASSIVE] =
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
    [SSIGEN_POSTER] =
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
    [SSIGEN_NETWORKER] =
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
    [SSIGEN_SOCIAL_SELLER] =
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
    [SSIGEN_SPAMMER] =
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
    [SSIGEN_LAPSING] =
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
const double gen_hour_weight[24] = {
    0.02, 0.01, 0.01, 0.01, 0.01, 0.02, 0.08, 0.30, 0.80, 1.00, 1.00, 1.00,
    0.60, 0.90, 1.00, 1.00, 0.90, 0.60, 0.35, 0.25, 0.25, 0.20, 0.10, 0.05,
};

enum ssi_seniority gen_draw_seniority(struct rng *r)
{
	uint32_t x = rng_below(r, 1000);

	for (int s = SSI_SEN_ENTRY; s < SSI_SEN__COUNT; s++) {
		if (x < seniority_per_mille[s])
			return (enum ssi_seniority)s;
		x -= seniority_per_mille[s];
	}
	return SSI_SEN_PARTNER;
}

/* A user's first profile_updated: how complete depends on the persona. */
void gen_initial_profile(struct ssigen *g, struct gen_user *u)
{
	const struct persona *p = &gen_personas[u->persona];
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
void gen_improve_profile(struct ssigen *g, struct gen_user *u)
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

/* The segments' names; the JSON fragments of them are the writer's (gen_write_prepare). */
static int name_segments(struct ssigen *g)
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
	}
	return 0;
}

/* Type sampling in O(1): each persona's mix spread over a 1024-entry table. */
static void build_type_tables(struct ssigen *g)
{
	for (int p = 0; p < SSIGEN_PERSONA__COUNT; p++) {
		const uint16_t *mix = gen_personas[p].mix;
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

static enum ssigen_persona draw_persona(struct rng *r)
{
	uint32_t x = rng_below(r, 1000);

	for (int p = 0; p < SSIGEN_PERSONA__COUNT; p++) {
		if (x < gen_personas[p].share_per_mille)
			return (enum ssigen_persona)p;
		x -= gen_personas[p].share_per_mille;
	}
	return SSIGEN_PASSIVE;
}

/* Who everybody is: persona, company, team, industry, seniority, timezone. */
static void build_users(struct ssigen *g)
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
		u->seniority = (uint8_t)gen_draw_seniority(&g->rng);
		region = team_kinds[team % nkinds].region;
		u->utc_offset_ms =
		    (int32_t)(region_offsets[region][rng_below(&g->rng, 4)] * MS_PER_MINUTE);
		u->idle_from_ms = INT64_MAX;
		if (u->persona == SSIGEN_LAPSING)
			u->idle_from_ms =
			    g->cfg.start_ms + SSI_MS_PER_DAY +
			    (int64_t)(rng_exp(&g->rng) * LAPSE_MEAN_DAYS * (double)SSI_MS_PER_DAY);
		u->factor_day = INT32_MIN;
		g->user_id_len[i] = (uint8_t)snprintf(g->user_ids + (size_t)i * USER_ID_SLOT,
						      USER_ID_SLOT, "u-%06u", (unsigned)i);
	}
}

/* Each persona's rate per millisecond in a peak hour of an ordinary working day. */
static void peak_rates(struct ssigen *g)
{
	for (int p = 0; p < SSIGEN_PERSONA__COUNT; p++) {
		double weekday_hours = 0;

		for (int h = 0; h < 24; h++)
			weekday_hours +=
			    gen_personas[p].around_the_clock ? 1.0 : gen_hour_weight[h];
		g->peak_rate_per_ms[p] = gen_personas[p].events_per_weekday * g->cfg.activity /
					 (weekday_hours * (double)MS_PER_HOUR);
	}
}

int gen_world_build(struct ssigen *g)
{
	int r = name_segments(g);

	if (r < 0)
		return r;
	build_type_tables(g);
	peak_rates(g);
	build_users(g);
	return 0;
}

int ssigen_user_info(const struct ssigen *g, uint32_t user, struct ssigen_user_info *info)
{
	const struct gen_user *u;

	if (!g || !info || user >= g->nusers)
		return -EINVAL;
	u = &g->users[user];
	info->persona = (enum ssigen_persona)u->persona;
	info->seniority = (enum ssi_seniority)u->seniority;
	info->utc_offset_min = (int32_t)(u->utc_offset_ms / MS_PER_MINUTE);
	info->idle_from_ms = u->idle_from_ms;
	info->user_id = g->user_ids + (size_t)user * USER_ID_SLOT;
	info->tenant = g->teams[u->team].tenant;
	info->team = g->teams[u->team].team;
	info->industry = gen_industry_names[u->industry];
	return 0;
}

const char *ssigen_persona_name(enum ssigen_persona p)
{
	if ((unsigned)p >= SSIGEN_PERSONA__COUNT)
		return NULL;
	return gen_personas[p].name;
}
