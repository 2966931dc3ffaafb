/*
 * ssigen: a seeded generator of realistic activity streams (event contract
 * v1, see ssi_event.h) for ssi-loadgen (the demo), the benchmarks and the
 * tests. It is a library of its own, build/libssigen.a (src/ssigen_*.c, their
 * insides in src/ssigen_int.h), above the engine and apart from the daemon:
 * the daemon's programs never link it.
 *
 * A population of users, each with a persona, a tenant, a team, an industry,
 * a seniority and a timezone, acts as independent Poisson processes whose
 * rate follows the working hours of the user's timezone, drops at weekends and
 * varies from day to day (quiet days, 3-5x burst days). Each user's first
 * event is a profile_updated snapshot. Invitations may be accepted and
 * InMails answered some hours later; a connection between two known users
 * shows up on both sides, so the stream carries a network among its users.
 *
 * Pure: no I/O, no clock, no global state (make check-engine checks its
 * includes). The same config always yields the same byte stream, in
 * non-decreasing simulated time.
 */
#ifndef SSIGEN_H
#define SSIGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ssi_event.h"

/* The largest payload the generator writes, deliberately bad ones included. */
#define SSIGEN_EVENT_MAX 1024
/* How many industry names the generator knows. */
#define SSIGEN_INDUSTRIES_MAX 12

enum ssigen_persona {
	SSIGEN_PASSIVE,	      /* sessions, views received, the odd reaction */
	SSIGEN_POSTER,	      /* shares content and gets engagement back */
	SSIGEN_NETWORKER,     /* invites, connects, messages, views profiles */
	SSIGEN_SOCIAL_SELLER, /* all four pillars: searches, leads, InMails, posts */
	SSIGEN_SPAMMER,	      /* bot-like: invitations and messages around the clock */
	SSIGEN_LAPSING,	      /* an ordinary user who goes idle for good at some point */
	SSIGEN_PERSONA__COUNT
};

struct ssigen_config {
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

struct ssigen_user_info {
	enum ssigen_persona persona;
	enum ssi_seniority seniority;
	int32_t utc_offset_min; /* the user's timezone */
	int64_t idle_from_ms;	/* no events at or after this; INT64_MAX: never */
	const char *user_id;	/* owned by the generator */
	const char *tenant;	/* owned by the generator */
	const char *team;	/* owned by the generator */
	const char *industry;	/* owned by the generator */
};

struct ssigen_event {
	int64_t occurred_at_ms;
	uint32_t user;		  /* index of the user the event belongs to */
	enum ssi_event_type type; /* for a bad event: the type it was made from */
	bool bad;		  /* deliberately malformed */
	size_t key_len;
	size_t len;
	char key[SSI_ID_MAX + 1];    /* the user_id, NUL-terminated */
	char json[SSIGEN_EVENT_MAX]; /* len bytes, not NUL-terminated */
};

struct ssigen;

/* Returns 0, -EINVAL for an unusable config, or -ENOMEM. */
int ssigen_new(struct ssigen **out, const struct ssigen_config *cfg);
void ssigen_free(struct ssigen *g);

/*
 * Produce the next event. Returns 1 and fills *ev, or 0 once no user is left
 * to act before end_ms (or all went idle). Times never go backwards.
 */
int ssigen_next(struct ssigen *g, struct ssigen_event *ev);

/* How many users; and one user's attributes, for tests and reports. */
uint32_t ssigen_users(const struct ssigen *g);
int ssigen_user_info(const struct ssigen *g, uint32_t user, struct ssigen_user_info *info);

/* "social_seller" for SSIGEN_SOCIAL_SELLER; NULL when out of range. */
const char *ssigen_persona_name(enum ssigen_persona p);

#endif
