/*
 * ssi_model: every weight, half-saturation point, cap and window of the score.
 *
 * The set of variables and the pillar each belongs to are fixed by the
 * engine (they follow the source material); their numbers come from one
 * JSON file (config/model.json) or the built-in defaults. A variable's
 * weight is the most points it can give its pillar, and the weights of a
 * pillar's variables add up to 25.
 *
 * Contract: ssi_model_default and ssi_model_load_buffer give valid models
 * with their derived tables; ssi_model_validate runs the loader's checks on
 * a model built or edited in memory. Loading parses a buffer, never a file
 * (ssid_file_load_model reads one), and replaces the caller's model only
 * when all of it is valid. ssi_model.c holds the variable table, the
 * defaults and the checks; ssi_model_json.c the JSON loader.
 */
#ifndef SSI_MODEL_H
#define SSI_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "ssi_event.h"

enum ssi_pillar { SSI_BRAND, SSI_PEOPLE, SSI_INSIGHTS, SSI_RELATIONSHIPS, SSI_PILLAR__COUNT };

#define SSI_PILLAR_MAX 25.0

/*
 * Windowed counters: one per-day count each, kept in the user's state.
 * The most frequent come first so their bits encode in fewer bytes.
 * Stored per day saturating at SSI_COUNT_MAX, which bounds every daily cap.
 */
enum ssi_counter {
	SSI_C_SESSION,
	SSI_C_REACTION_GIVEN,
	SSI_C_VIEW_IN_NETWORK,
	SSI_C_MESSAGE_SENT,
	SSI_C_POST_SHARED,
	SSI_C_REACTION_RECEIVED,
	SSI_C_VIEW_OUT_NETWORK,
	SSI_C_COMMENT_GIVEN,
	SSI_C_SEARCH,
	SSI_C_SEARCH_FILTERED,
	SSI_C_VIEW_RECEIVED,
	SSI_C_COMMENT_RECEIVED,
	SSI_C_INVITATION_SENT,
	SSI_C_INVITATION_ACCEPTED,
	SSI_C_LEAD_SAVED,
	SSI_C_RESHARE_RECEIVED,
	SSI_C_ENDORSEMENT_RECEIVED,
	SSI_C_FOLLOWER_GAINED,
	SSI_C_INMAIL_SENT,
	SSI_C_INMAIL_REPLIED,
	SSI_C_GROUP_ACTIVITY,
	SSI_C_GROUP_JOINED,
	SSI_C_ARTICLE_PUBLISHED,
	SSI_C_PROSPECT_CONTENT_SHARED,
	SSI_C__COUNT
};

#define SSI_COUNT_MAX 255

/* The scored variables, in pillar order. */
enum ssi_variable {
	/* brand */
	SSI_V_PROFILE_COMPLETENESS,
	SSI_V_ENDORSEMENTS,
	SSI_V_ARTICLES,
	SSI_V_FOLLOWERS,
	/* people */
	SSI_V_SEARCHES,
	SSI_V_VIEWS_IN_NETWORK,
	SSI_V_VIEWS_OUT_NETWORK,
	SSI_V_VIEWS_RECEIVED,
	SSI_V_ACTIVE_DAYS,
	SSI_V_LEADS_SAVED,
	/* insights */
	SSI_V_POSTS,
	SSI_V_REACTIONS_RECEIVED,
	SSI_V_COMMENTS_RECEIVED,
	SSI_V_RESHARES_RECEIVED,
	SSI_V_REACTIONS_GIVEN,
	SSI_V_COMMENTS_GIVEN,
	SSI_V_MESSAGES,
	SSI_V_INMAIL_REPLY_RATE,
	SSI_V_GROUPS_JOINED,
	SSI_V_GROUP_ACTIVITY,
	/* relationships */
	SSI_V_CONNECTIONS,
	SSI_V_INTERNAL_CONNECTIONS,
	SSI_V_ACCEPTANCE_RATE,
	SSI_V_PROSPECT_CONTENT,
	SSI_V__COUNT
};

/* How a variable turns state into a fraction f in [0, 1] of its weight. */
enum ssi_var_kind {
	SSI_KIND_PROFILE,     /* completeness of the latest profile snapshot */
	SSI_KIND_COUNT,	      /* 1 - 2^(-x/half), x = capped windowed count */
	SSI_KIND_ACTIVE_DAYS, /* same curve, x = days in window with a session */
	SSI_KIND_RATE,	      /* smoothed rate times volume saturation */
	SSI_KIND_CONNECTIONS, /* same curve, x = seniority-weighted connections */
	SSI_KIND_INTERNAL     /* same curve, x = same-company connections */
};

/* Fixed facts about a variable, from the engine rather than the file. */
struct ssi_var_info {
	const char *name; /* key in the model file and in explain output */
	enum ssi_pillar pillar;
	enum ssi_var_kind kind;
	/* COUNT: the counters summed (second may be -1); RATE: numerator, denominator. */
	int counter[2];
};

const struct ssi_var_info *ssi_var_info(enum ssi_variable v);
const char *ssi_pillar_name(enum ssi_pillar p);

struct ssi_var_params {
	double weight;	     /* max points this variable gives its pillar */
	double half;	     /* x at which half of the weight is earned (not PROFILE) */
	int daily_cap;	     /* COUNT, RATE: per counter per day, 1..SSI_COUNT_MAX */
	double prior;	     /* RATE: the rate assumed before any data, 0..1 */
	double prior_weight; /* RATE: how many observations the prior is worth */
};

enum ssi_profile_field {
	SSI_PF_PHOTO,
	SSI_PF_BACKGROUND_PHOTO,
	SSI_PF_HEADLINE,
	SSI_PF_SUMMARY,
	SSI_PF_EXPERIENCE,
	SSI_PF_SKILLS,
	SSI_PF_FEATURED_MEDIA,
	SSI_PF__COUNT
};

/* "photo" for SSI_PF_PHOTO: the key under profile_completeness.fields; NULL when out of range. */
const char *ssi_profile_field_name(enum ssi_profile_field f);

#define SSI_MODEL_VERSION_MAX 64
#define SSI_WINDOW_MAX_DAYS   400
#define SSI_DEDUP_MAX	      64

/*
 * The saturation curve f(x) = 1 - 2^(-x / half) at whole x below
 * SSI_SAT_TABLE, where most variables are evaluated: derived from a
 * variable's half by ssi_model_default() and the loaders with the very
 * expression the scorer uses, so reading it changes no score, only spares an
 * exp2() call. The scorer uses a table only while its half equals the
 * variable's current half (and is positive), so a model edited in memory
 * after loading still scores right, merely slower.
 */
#define SSI_SAT_TABLE 64

struct ssi_sat_table {
	double half; /* the half f was computed for; 0: not filled */
	double f[SSI_SAT_TABLE];
};

struct ssi_model {
	char version[SSI_MODEL_VERSION_MAX + 1];
	int window_days;	     /* rolling window, 1..SSI_WINDOW_MAX_DAYS */
	int64_t future_tolerance_ms; /* events later than now + this are in_future */
	size_t max_event_bytes;	     /* larger payloads are too_large */
	int dedup_recent;	     /* most recent events remembered per user, 0..SSI_DEDUP_MAX */
	struct ssi_var_params var[SSI_V__COUNT];
	/* PROFILE: share of completeness per field, adding up to 1. */
	double profile_field[SSI_PF__COUNT];
	int skills_target;	   /* skills at which the skills share is full */
	int featured_media_target; /* featured items at which that share is full */
	/* CONNECTIONS: what one connection of each seniority counts for. */
	double seniority_weight[SSI_SEN__COUNT];
	/* SEARCHES: what one search with filters counts for (one without: 1). */
	double search_filter_weight;
	/* Not in the file: derived from var[].half, see struct ssi_sat_table. */
	struct ssi_sat_table sat[SSI_V__COUNT];
};

/* Where loading went wrong: key is a dotted path ("pillars.brand.articles.half"). */
struct ssi_model_error {
	char key[128];
	int line; /* > 0 for JSON syntax errors */
	char message[192];
};

/*
 * Load and validate a model from a JSON buffer (ssid_file_load_model reads
 * one from a file). Every key is required and unknown keys are rejected, so
 * a typo cannot silently fall back to a default. Returns 0 or -EINVAL (with
 * *err).
 */
int ssi_model_load_buffer(struct ssi_model *m, const char *json, size_t len,
			  struct ssi_model_error *err);

/* Check an in-memory model the same way the loader does. */
int ssi_model_validate(const struct ssi_model *m, struct ssi_model_error *err);

/* The built-in defaults, identical to config/model.json. */
void ssi_model_default(struct ssi_model *m);

/*
 * Recompute m->sat from m->var[].half. The loaders and ssi_model_default()
 * do this; call it after changing a half in memory to keep scoring fast.
 */
void ssi_model_derive(struct ssi_model *m);

#endif
