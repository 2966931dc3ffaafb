/*
 * ssid_gen: a seeded generator of realistic activity streams (event contract
 * v1, see ssi_event.h) for the demo, the benchmarks and the tests.
 *
 * A population of users, each with a persona, a tenant, a team, an industry,
 * a seniority and a timezone, acts as independent Poisson processes whose
 * rate follows the working hours of the user's timezone, drops at weekends and
 * varies from day to day (quiet days, 3-5x burst days). Each user's first
 * event is a profile_updated snapshot. Invitations may be accepted and
 * InMails answered some hours later; a connection between two known users
 * shows up on both sides, so the stream carries a network among its users.
 *
 * Pure: no I/O, no clock, no global state. The same config always yields the
 * same byte stream, in non-decreasing simulated time.
 */
#ifndef SSID_GEN_H
#define SSID_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ssi_event.h"

/* The largest payload the generator writes, deliberately bad ones included. */
#define SSID_GEN_EVENT_MAX 1024
/* How many industry names the generator knows. */
#define SSID_GEN_INDUSTRIES_MAX 12

enum ssid_gen_persona {
	SSID_GEN_PASSIVE,	/* sessions, views received, the odd reaction */
	SSID_GEN_POSTER,	/* shares content and gets engagement back */
	SSID_GEN_NETWORKER,	/* invites, connects, messages, views profiles */
	SSID_GEN_SOCIAL_SELLER, /* all four pillars: searches, leads, InMails, posts */
	SSID_GEN_SPAMMER,	/* bot-like: invitations and messages around the clock */
	SSID_GEN_LAPSING,	/* an ordinary user who goes idle for good at some point */
	SSID_GEN_PERSONA__COUNT
};

struct ssid_gen_config {
	uint64_t seed;
	uint32_t users;		   /* 1 .. 10,000,000 */
	uint32_t tenants;	   /* 1 .. users; 0 means 1 */
	uint32_t teams_per_tenant; /* 0 means 3; at most 1000 */
	uint32_t industries;	   /* how many of the built-in names to use: 0 means all */
	int64_t start_ms;	   /* simulated clock at the start */
	int64_t end_ms;		   /* events happen before this; 0 means unbounded */
	/*
	 * Scales every user's rate. 1.0 (and 0, the default) is realistic:
	 * about 30 events per user per working day, 8 a day at weekends.
	 * The benchmarks raise it to pack more events into simulated time.
	 */
	double activity;
	double bad_ratio; /* 0..1: the share of deliberately malformed events */
};

struct ssid_gen_user_info {
	enum ssid_gen_persona persona;
	enum ssi_seniority seniority;
	int32_t utc_offset_min; /* the user's timezone */
	int64_t idle_from_ms;	/* no events at or after this; INT64_MAX: never */
	const char *user_id;	/* owned by the generator */
	const char *tenant;	/* owned by the generator */
	const char *team;	/* owned by the generator */
	const char *industry;	/* owned by the generator */
};

struct ssid_gen_event {
	int64_t occurred_at_ms;
	uint32_t user;		  /* index of the user the event belongs to */
	enum ssi_event_type type; /* for a bad event: the type it was made from */
	bool bad;		  /* deliberately malformed */
	size_t key_len;
	size_t len;
	char key[SSI_ID_MAX + 1];      /* the user_id, NUL-terminated */
	char json[SSID_GEN_EVENT_MAX]; /* len bytes, not NUL-terminated */
};

struct ssid_gen;

/* Returns 0, -EINVAL for an unusable config, or -ENOMEM. */
int ssid_gen_new(struct ssid_gen **out, const struct ssid_gen_config *cfg);
void ssid_gen_free(struct ssid_gen *g);

/*
 * Produce the next event. Returns 1 and fills *ev, or 0 once no user is left
 * to act before end_ms (or all went idle). Times never go backwards.
 */
int ssid_gen_next(struct ssid_gen *g, struct ssid_gen_event *ev);

/* How many users; and one user's attributes, for tests and reports. */
uint32_t ssid_gen_users(const struct ssid_gen *g);
int ssid_gen_user_info(const struct ssid_gen *g, uint32_t user, struct ssid_gen_user_info *info);

/* "social_seller" for SSID_GEN_SOCIAL_SELLER; NULL when out of range. */
const char *ssid_gen_persona_name(enum ssid_gen_persona p);

#endif
