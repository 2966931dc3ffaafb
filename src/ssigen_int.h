/*
 * ssigen's insides, shared by its four files and by nobody else:
 *
 *   ssigen_world.c   who the users are: the built-in tenants, teams, regions,
 *                    industries and personas, drawing the population and
 *                    their profiles (ssigen_user_info, ssigen_persona_name);
 *   ssigen_stream.c  when they act and what happens: the users' Poisson
 *                    clocks, the two heaps, consequences of an event, drafts
 *                    (ssigen_new, ssigen_next, ssigen_free);
 *   ssigen_write.c   a draft as event contract v1 JSON, fast (the encoder);
 *   ssigen_spoil.c   a draft written malformed on purpose (--bad-ratio).
 *
 * The random numbers live here, inline: the stream must be the same byte
 * for byte for a given config, so every file draws from the generator's two
 * streams (rng for the traffic, bad_rng for the spoiling) in a fixed order.
 */
#ifndef SSIGEN_INT_H
#define SSIGEN_INT_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ssi_event.h"
#include "ssigen.h"

#define MS_PER_HOUR	3600000LL
#define MS_PER_MINUTE	60000LL
#define TYPE_TABLE_SIZE 1024u
#define USER_ID_SLOT	16u
#define NAME_SLOT	48u

/* ---------------------------------------------------------------- random */

struct rng {
	uint64_t s[4];
};

static inline uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A stateless 64-bit mix, for per-(user, day) draws that need no stored state. */
static inline uint64_t mix64(uint64_t x)
{
	return splitmix64(&x);
}

static inline void rng_seed(struct rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoshiro256**: fast, 256 bits of state, and good enough for simulation. */
static inline uint64_t rng_u64(struct rng *r)
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
static inline uint32_t rng_below(struct rng *r, uint32_t n)
{
	return (uint32_t)(((rng_u64(r) >> 32) * (uint64_t)n) >> 32);
}

static inline double rng_unit(struct rng *r)
{
	return (double)(rng_u64(r) >> 11) * 0x1.0p-53;
}

static inline bool rng_chance(struct rng *r, double p)
{
	return rng_unit(r) < p;
}

static inline int rng_between(struct rng *r, int lo, int hi)
{
	return lo + (int)rng_below(r, (uint32_t)(hi - lo + 1));
}

static inline double rng_exp(struct rng *r)
{
	return -log(1.0 - rng_unit(r));
}

/* ------------------------------------------------------------- the world */

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

extern const struct persona gen_personas[SSIGEN_PERSONA__COUNT];
/* Relative activity by local hour on a working day. */
extern const double gen_hour_weight[24];
extern const char *const gen_industry_names[SSIGEN_INDUSTRIES_MAX];

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

struct ssigen {
	struct ssigen_config cfg;
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
	char industry_fragment[SSIGEN_INDUSTRIES_MAX][NAME_SLOT];
	uint8_t industry_fragment_len[SSIGEN_INDUSTRIES_MAX];

	struct slot *heap;
	uint32_t heap_len;

	struct followup *followups;
	size_t followups_len, followups_cap, followups_max;
	uint64_t followup_seq;

	double peak_rate_per_ms[SSIGEN_PERSONA__COUNT];
	uint8_t type_table[SSIGEN_PERSONA__COUNT][TYPE_TABLE_SIZE];
	uint8_t type_name_len[SSI_EV__COUNT];

	char event_id_prefix[32]; /* "ev-<stream>- */
	size_t event_id_prefix_len;
	uint64_t event_seq;

	int32_t date_day; /* the UTC day date_text holds */
	char date_text[16];
};

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

/* --------------------------------------------------------------- writing */

struct out {
	char *p;
	char *end;
	bool overflow;
};

static inline void put(struct out *o, const void *s, size_t n)
{
	if ((size_t)(o->end - o->p) < n) {
		o->overflow = true;
		return;
	}
	memcpy(o->p, s, n);
	o->p += n;
}

#define put_lit(o, lit) put((o), (lit), sizeof(lit) - 1)

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

/* --------------------------------------------------- across the files */

/* ssigen_world.c: the population, its segments' names and the type tables. */
int gen_world_build(struct ssigen *g);
enum ssi_seniority gen_draw_seniority(struct rng *r);
void gen_initial_profile(struct ssigen *g, struct gen_user *u);
void gen_improve_profile(struct ssigen *g, struct gen_user *u);

/* ssigen_write.c: the ready-made fragments every event copies, then events. */
int gen_write_prepare(struct ssigen *g);
void gen_put_event(struct ssigen *g, struct out *o, const struct draft *d, const struct spoil *sp);

/* ssigen_spoil.c */
void gen_put_bad_event(struct ssigen *g, struct out *o, struct draft *d);

#endif
