/*
 * ssi_model: the model in memory. The fixed table of scored variables and
 * their pillars, the names the model file and explain output use, the
 * built-in default model, the derived saturation tables, and the model's
 * shape with every check on its values (ssi_model_validate).
 *
 * The shape is described once, as data (struct member, struct num_rule,
 * struct map_rule), and walked by one set of functions: validating checks
 * the values already in a model; loading (ssi_model_json.c) hands the same
 * walk a source that reads each value from the file first
 * (ssi_model_int.h). Both run the same checks and name the same dotted keys
 * in their errors.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ssi_model.h"
#include "ssi_model_int.h"
#include "ssi_score_priv.h" /* ssi_var_table */

/* How far a sum of weights or shares may drift from its target. */
#define SUM_TOLERANCE 1e-6

static const char *const pillar_names[SSI_PILLAR__COUNT] = {
    [SSI_BRAND] = "brand",
    [SSI_PEOPLE] = "people",
    [SSI_INSIGHTS] = "insights",
    [SSI_RELATIONSHIPS] = "relationships",
};

const struct ssi_var_info ssi_var_table[SSI_V__COUNT] = {
    [SSI_V_PROFILE_COMPLETENESS] = {"profile_completeness", SSI_BRAND, SSI_KIND_PROFILE, {-1, -1}},
    [SSI_V_ENDORSEMENTS] = {"endorsements",
			    SSI_BRAND,
			    SSI_KIND_COUNT,
			    {SSI_C_ENDORSEMENT_RECEIVED, -1}},
    [SSI_V_ARTICLES] = {"articles", SSI_BRAND, SSI_KIND_COUNT, {SSI_C_ARTICLE_PUBLISHED, -1}},
    [SSI_V_FOLLOWERS] = {"followers", SSI_BRAND, SSI_KIND_COUNT, {SSI_C_FOLLOWER_GAINED, -1}},

    [SSI_V_SEARCHES] = {"searches",
			SSI_PEOPLE,
			SSI_KIND_COUNT,
			{SSI_C_SEARCH, SSI_C_SEARCH_FILTERED}},
    [SSI_V_VIEWS_IN_NETWORK] = {"views_in_network",
				SSI_PEOPLE,
				SSI_KIND_COUNT,
				{SSI_C_VIEW_IN_NETWORK, -1}},
    [SSI_V_VIEWS_OUT_NETWORK] = {"views_out_of_network",
				 SSI_PEOPLE,
				 SSI_KIND_COUNT,
				 {SSI_C_VIEW_OUT_NETWORK, -1}},
    [SSI_V_VIEWS_RECEIVED] = {"views_received",
			      SSI_PEOPLE,
			      SSI_KIND_COUNT,
			      {SSI_C_VIEW_RECEIVED, -1}},
    [SSI_V_ACTIVE_DAYS] = {"active_days", SSI_PEOPLE, SSI_KIND_ACTIVE_DAYS, {SSI_C_SESSION, -1}},
    [SSI_V_LEADS_SAVED] = {"leads_saved", SSI_PEOPLE, SSI_KIND_COUNT, {SSI_C_LEAD_SAVED, -1}},

    [SSI_V_POSTS] = {"posts", SSI_INSIGHTS, SSI_KIND_COUNT, {SSI_C_POST_SHARED, -1}},
    [SSI_V_REACTIONS_RECEIVED] = {"reactions_received",
				  SSI_INSIGHTS,
				  SSI_KIND_COUNT,
				  {SSI_C_REACTION_RECEIVED, -1}},
    [SSI_V_COMMENTS_RECEIVED] = {"comments_received",
				 SSI_INSIGHTS,
				 SSI_KIND_COUNT,
				 {SSI_C_COMMENT_RECEIVED, -1}},
    [SSI_V_RESHARES_RECEIVED] = {"reshares_received",
				 SSI_INSIGHTS,
				 SSI_KIND_COUNT,
				 {SSI_C_RESHARE_RECEIVED, -1}},
    [SSI_V_REACTIONS_GIVEN] = {"reactions_given",
			       SSI_INSIGHTS,
			       SSI_KIND_COUNT,
			       {SSI_C_REACTION_GIVEN, -1}},
    [SSI_V_COMMENTS_GIVEN] = {"comments_given",
			      SSI_INSIGHTS,
			      SSI_KIND_COUNT,
			      {SSI_C_COMMENT_GIVEN, -1}},
    [SSI_V_MESSAGES] = {"messages", SSI_INSIGHTS, SSI_KIND_COUNT, {SSI_C_MESSAGE_SENT, -1}},
    [SSI_V_INMAIL_REPLY_RATE] = {"inmail_reply_rate",
				 SSI_INSIGHTS,
				 SSI_KIND_RATE,
				 {SSI_C_INMAIL_REPLIED, SSI_C_INMAIL_SENT}},
    [SSI_V_GROUPS_JOINED] = {"groups_joined",
			     SSI_INSIGHTS,
			     SSI_KIND_COUNT,
			     {SSI_C_GROUP_JOINED, -1}},
    [SSI_V_GROUP_ACTIVITY] = {"group_activity",
			      SSI_INSIGHTS,
			      SSI_KIND_COUNT,
			      {SSI_C_GROUP_ACTIVITY, -1}},

    [SSI_V_CONNECTIONS] = {"connections", SSI_RELATIONSHIPS, SSI_KIND_CONNECTIONS, {-1, -1}},
    [SSI_V_INTERNAL_CONNECTIONS] = {"internal_connections",
				    SSI_RELATIONSHIPS,
				    SSI_KIND_INTERNAL,
				    {-1, -1}},
    [SSI_V_ACCEPTANCE_RATE] = {"acceptance_rate",
			       SSI_RELATIONSHIPS,
			       SSI_KIND_RATE,
			       {SSI_C_INVITATION_ACCEPTED, SSI_C_INVITATION_SENT}},
    [SSI_V_PROSPECT_CONTENT] = {"prospect_content",
				SSI_RELATIONSHIPS,
				SSI_KIND_COUNT,
				{SSI_C_PROSPECT_CONTENT_SHARED, -1}},
};

static const char *const profile_field_names[SSI_PF__COUNT] = {
    [SSI_PF_PHOTO] = "photo",
    [SSI_PF_BACKGROUND_PHOTO] = "background_photo",
    [SSI_PF_HEADLINE] = "headline",
    [SSI_PF_SUMMARY] = "summary",
    [SSI_PF_EXPERIENCE] = "experience",
    [SSI_PF_SKILLS] = "skills",
    [SSI_PF_FEATURED_MEDIA] = "featured_media",
};

/* Must stay identical to config/model.json; the model tests compare the two. */
static const struct ssi_model default_model =
    {
	.version = "ssi-2026.11-1",
	.window_days = 90,
	.future_tolerance_ms = 300 * 1000,
	.max_event_bytes = 65536,
	.dedup_recent = 8,
	.var =
	    {
		[SSI_V_PROFILE_COMPLETENESS] = {.weight = 7},
		[SSI_V_ENDORSEMENTS] = {.weight = 5, .half = 8, .daily_cap = 10},
		[SSI_V_ARTICLES] = {.weight = 8, .half = 3, .daily_cap = 2},
		[SSI_V_FOLLOWERS] = {.weight = 5, .half = 25, .daily_cap = 30},

		[SSI_V_SEARCHES] = {.weight = 5, .half = 20, .daily_cap = 25},
		[SSI_V_VIEWS_IN_NETWORK] = {.weight = 4, .half = 25, .daily_cap = 30},
		[SSI_V_VIEWS_OUT_NETWORK] = {.weight = 4, .half = 25, .daily_cap = 30},
		[SSI_V_VIEWS_RECEIVED] = {.weight = 4, .half = 40, .daily_cap = 50},
		[SSI_V_ACTIVE_DAYS] = {.weight = 5, .half = 15},
		[SSI_V_LEADS_SAVED] = {.weight = 3, .half = 10, .daily_cap = 15},

		[SSI_V_POSTS] = {.weight = 5, .half = 8, .daily_cap = 3},
		[SSI_V_REACTIONS_RECEIVED] = {.weight = 3, .half = 60, .daily_cap = 100},
		[SSI_V_COMMENTS_RECEIVED] = {.weight = 2, .half = 15, .daily_cap = 30},
		[SSI_V_RESHARES_RECEIVED] = {.weight = 2, .half = 5, .daily_cap = 10},
		[SSI_V_REACTIONS_GIVEN] = {.weight = 2, .half = 30, .daily_cap = 30},
		[SSI_V_COMMENTS_GIVEN] = {.weight = 3, .half = 15, .daily_cap = 15},
		[SSI_V_MESSAGES] = {.weight = 3, .half = 30, .daily_cap = 40},
		[SSI_V_INMAIL_REPLY_RATE] =
		    {.weight = 2, .half = 10, .daily_cap = 25, .prior = 0.15, .prior_weight = 10},
		[SSI_V_GROUPS_JOINED] = {.weight = 1, .half = 2, .daily_cap = 3},
		[SSI_V_GROUP_ACTIVITY] = {.weight = 2, .half = 10, .daily_cap = 10},

		[SSI_V_CONNECTIONS] = {.weight = 8, .half = 250},
		[SSI_V_INTERNAL_CONNECTIONS] = {.weight = 2, .half = 25},
		[SSI_V_ACCEPTANCE_RATE] =
		    {.weight = 8, .half = 20, .daily_cap = 40, .prior = 0.3, .prior_weight = 10},
		[SSI_V_PROSPECT_CONTENT] = {.weight = 7, .half = 10, .daily_cap = 5},
	    },
	.profile_field =
	    {
		[SSI_PF_PHOTO] = 0.20,
		[SSI_PF_BACKGROUND_PHOTO] = 0.10,
		[SSI_PF_HEADLINE] = 0.15,
		[SSI_PF_SUMMARY] = 0.15,
		[SSI_PF_EXPERIENCE] = 0.15,
		[SSI_PF_SKILLS] = 0.15,
		[SSI_PF_FEATURED_MEDIA] = 0.10,
	    },
	.skills_target = 10,
	.featured_media_target = 3,
	.seniority_weight =
	    {
		[SSI_SEN_UNKNOWN] = 1,
		[SSI_SEN_ENTRY] = 1,
		[SSI_SEN_SENIOR] = 1.5,
		[SSI_SEN_MANAGER] = 2,
		[SSI_SEN_DIRECTOR] = 3,
		[SSI_SEN_VP] = 4,
		[SSI_SEN_CXO] = 5,
		[SSI_SEN_OWNER] = 4,
		[SSI_SEN_PARTNER] = 4,
	    },
	.search_filter_weight = 2,
};

const struct ssi_var_info *ssi_var_info(enum ssi_variable v)
{
	if ((unsigned)v >= SSI_V__COUNT)
		return NULL;
	return &ssi_var_table[v];
}

const char *ssi_pillar_name(enum ssi_pillar p)
{
	if ((unsigned)p >= SSI_PILLAR__COUNT)
		return NULL;
	return pillar_names[p];
}

const char *ssi_profile_field_name(enum ssi_profile_field f)
{
	if ((unsigned)f >= SSI_PF__COUNT)
		return NULL;
	return profile_field_names[f];
}

void ssi_model_default(struct ssi_model *m)
{
	*m = default_model;
	ssi_model_derive(m);
}

void ssi_model_derive(struct ssi_model *m)
{
	for (int v = 0; v < SSI_V__COUNT; v++) {
		struct ssi_sat_table *t = &m->sat[v];

		t->half = m->var[v].half;
		for (int x = 0; x < SSI_SAT_TABLE; x++)
			t->f[x] = ssi_saturate(x, t->half);
	}
}

/* --- the file's shape ------------------------------------------------------ */

/* How a number is written in the file and stored in the model. */
enum num_type {
	NUM_REAL,	     /* any JSON number, stored as double */
	NUM_INT,	     /* JSON integer, stored as int */
	NUM_SIZE,	     /* JSON integer, stored as size_t */
	NUM_MS_FROM_SECONDS, /* JSON integer of seconds, stored as int64_t milliseconds */
};

/* One number: where it lives and the range it must fall in (in file units). */
struct num_rule {
	enum num_type type;
	size_t offset; /* from the base the member is applied to */
	double min, max;
	bool min_excluded; /* min itself is out of range */
};

/* An object of numbers indexed by an enum, such as the profile field shares. */
struct map_rule {
	double *(*values)(struct ssi_model *m); /* the double[count] it fills */
	int count;
	const char *(*key)(int i);
	struct num_rule element; /* offset 0: applied to each double */
	bool shares;		 /* the values must add up to 1 */
};

/* One key of an object in the file: a number or an object of numbers. */
struct member {
	const char *key;
	bool in_model; /* offset counts from the model, not the variable's params */
	const struct num_rule *num;
	const struct map_rule *map;
};

static const char *profile_field_key(int i)
{
	return ssi_profile_field_name((enum ssi_profile_field)i);
}

static const char *seniority_key(int i)
{
	return ssi_seniority_name((enum ssi_seniority)i);
}

static double *profile_field_values(struct ssi_model *m)
{
	return m->profile_field;
}

static double *seniority_values(struct ssi_model *m)
{
	return m->seniority_weight;
}

#define MODEL_OFFSET(field) offsetof(struct ssi_model, field)
#define PARAM_OFFSET(field) offsetof(struct ssi_var_params, field)

/* Ranges are in file units; DBL_MAX as max means unbounded above. */
static const struct num_rule window_days_rule = {
    .type = NUM_INT,
    .offset = MODEL_OFFSET(window_days),
    .min = 1,
    .max = SSI_WINDOW_MAX_DAYS,
};
static const struct num_rule future_tolerance_rule = {
    .type = NUM_MS_FROM_SECONDS,
    .offset = MODEL_OFFSET(future_tolerance_ms),
    .min = 0,
    .max = 86400,
};
static const struct num_rule max_event_bytes_rule = {
    .type = NUM_SIZE,
    .offset = MODEL_OFFSET(max_event_bytes),
    .min = 256,
    .max = 16777216,
};
static const struct num_rule dedup_rule = {
    .type = NUM_INT,
    .offset = MODEL_OFFSET(dedup_recent),
    .min = 0,
    .max = SSI_DEDUP_MAX,
};

static const struct num_rule weight_rule = {
    .type = NUM_REAL,
    .offset = PARAM_OFFSET(weight),
    .min = 0,
    .max = DBL_MAX,
};
static const struct num_rule half_rule = {
    .type = NUM_REAL,
    .offset = PARAM_OFFSET(half),
    .min = 0,
    .max = DBL_MAX,
    .min_excluded = true,
};
static const struct num_rule daily_cap_rule = {
    .type = NUM_INT,
    .offset = PARAM_OFFSET(daily_cap),
    .min = 1,
    .max = SSI_COUNT_MAX,
};
static const struct num_rule prior_rule = {
    .type = NUM_REAL,
    .offset = PARAM_OFFSET(prior),
    .min = 0,
    .max = 1,
};
static const struct num_rule prior_weight_rule = {
    .type = NUM_REAL,
    .offset = PARAM_OFFSET(prior_weight),
    .min = 0,
    .max = DBL_MAX,
    .min_excluded = true,
};

static const struct num_rule skills_target_rule = {
    .type = NUM_INT,
    .offset = MODEL_OFFSET(skills_target),
    .min = 1,
    .max = SSI_COUNT_MAX,
};
static const struct num_rule featured_target_rule = {
    .type = NUM_INT,
    .offset = MODEL_OFFSET(featured_media_target),
    .min = 1,
    .max = SSI_COUNT_MAX,
};
static const struct num_rule filter_weight_rule = {
    .type = NUM_REAL,
    .offset = MODEL_OFFSET(search_filter_weight),
    .min = 1,
    .max = DBL_MAX,
};

static const struct map_rule profile_fields_map = {
    .values = profile_field_values,
    .count = SSI_PF__COUNT,
    .key = profile_field_key,
    .element = {.type = NUM_REAL, .min = 0, .max = 1},
    .shares = true,
};
static const struct map_rule seniority_map = {
    .values = seniority_values,
    .count = SSI_SEN__COUNT,
    .key = seniority_key,
    .element = {.type = NUM_REAL, .min = 0, .max = DBL_MAX},
};

static const struct member m_window_days = {"window_days", true, &window_days_rule, NULL};
static const struct member m_future_tolerance = {"future_tolerance_seconds", true,
						 &future_tolerance_rule, NULL};
static const struct member m_max_event_bytes = {"max_event_bytes", true, &max_event_bytes_rule,
						NULL};
static const struct member m_dedup = {"dedup_recent_events", true, &dedup_rule, NULL};

static const struct member m_weight = {"weight", false, &weight_rule, NULL};
static const struct member m_half = {"half", false, &half_rule, NULL};
static const struct member m_daily_cap = {"daily_cap", false, &daily_cap_rule, NULL};
static const struct member m_prior = {"prior", false, &prior_rule, NULL};
static const struct member m_prior_weight = {"prior_weight", false, &prior_weight_rule, NULL};
static const struct member m_fields = {"fields", true, NULL, &profile_fields_map};
static const struct member m_skills_target = {"skills_target", true, &skills_target_rule, NULL};
static const struct member m_featured_target = {"featured_media_target", true,
						&featured_target_rule, NULL};
static const struct member m_filter_weight = {"filter_weight", true, &filter_weight_rule, NULL};
static const struct member m_seniority = {"seniority_weights", true, NULL, &seniority_map};

/* The numeric top-level keys; model_version and pillars are walked by hand. */
static const struct member *const top_members[] = {&m_window_days, &m_future_tolerance,
						   &m_max_event_bytes, &m_dedup, NULL};

static const struct member *const profile_members[] = {&m_weight, &m_fields, &m_skills_target,
						       &m_featured_target, NULL};
static const struct member *const count_members[] = {&m_weight, &m_half, &m_daily_cap, NULL};
static const struct member *const search_members[] = {&m_weight, &m_half, &m_daily_cap,
						      &m_filter_weight, NULL};
static const struct member *const active_days_members[] = {&m_weight, &m_half, NULL};
static const struct member *const rate_members[] = {&m_weight, &m_half,		&m_daily_cap,
						    &m_prior,  &m_prior_weight, NULL};
static const struct member *const connections_members[] = {&m_weight, &m_half, &m_seniority, NULL};
static const struct member *const internal_members[] = {&m_weight, &m_half, NULL};

/* The keys a variable takes follow from its kind; searches alone adds filter_weight. */
static const struct member *const *members_of(enum ssi_variable v)
{
	switch (ssi_var_table[v].kind) {
	case SSI_KIND_PROFILE:
		return profile_members;
	case SSI_KIND_COUNT:
		return v == SSI_V_SEARCHES ? search_members : count_members;
	case SSI_KIND_ACTIVE_DAYS:
		return active_days_members;
	case SSI_KIND_RATE:
		return rate_members;
	case SSI_KIND_CONNECTIONS:
		return connections_members;
	case SSI_KIND_INTERNAL:
		return internal_members;
	}
	return internal_members;
}

/* --- walking the shape ----------------------------------------------------- */

/*
 * Node arguments (void *) are the source's objects when loading and NULL
 * when validating, so the same functions both load and check.
 */

size_t ssi_model_path_push(struct ssi_model_walk *w, const char *key)
{
	size_t mark = w->path_len;
	int n = snprintf(w->path + mark, sizeof(w->path) - mark, "%s%s", mark > 0 ? "." : "", key);

	if (n > 0)
		w->path_len += (size_t)n;
	if (w->path_len >= sizeof(w->path))
		w->path_len = sizeof(w->path) - 1;
	return mark;
}

static void path_pop(struct ssi_model_walk *w, size_t mark)
{
	w->path_len = mark;
	w->path[mark] = '\0';
}

int ssi_model_fail(struct ssi_model_walk *w, const char *fmt, ...)
{
	va_list ap;

	memcpy(w->err->key, w->path, sizeof(w->err->key));
	w->err->line = 0;
	va_start(ap, fmt);
	vsnprintf(w->err->message, sizeof(w->err->message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static bool member_known(const char *key, const void *list)
{
	for (const struct member *const *mb = list; *mb; mb++)
		if (strcmp((*mb)->key, key) == 0)
			return true;
	return false;
}

static bool top_key_known(const char *key, const void *list)
{
	return strcmp(key, "model_version") == 0 || strcmp(key, "pillars") == 0 ||
	       member_known(key, list);
}

static bool map_key_known(const char *key, const void *rule)
{
	const struct map_rule *map = rule;

	for (int i = 0; i < map->count; i++)
		if (strcmp(map->key(i), key) == 0)
			return true;
	return false;
}

static bool pillar_key_known(const char *key, const void *unused)
{
	(void)unused;
	for (int p = 0; p < SSI_PILLAR__COUNT; p++)
		if (strcmp(pillar_names[p], key) == 0)
			return true;
	return false;
}

static bool variable_in_pillar(const char *key, const void *pillar)
{
	enum ssi_pillar p = *(const enum ssi_pillar *)pillar;

	for (int v = 0; v < SSI_V__COUNT; v++)
		if (ssi_var_table[v].pillar == p && strcmp(ssi_var_table[v].name, key) == 0)
			return true;
	return false;
}

/*
 * The object at the key just pushed onto the path, whose keys known() must
 * all accept; NULL (and nothing read) when validating.
 */
static int open_object(struct ssi_model_walk *w, void *parent, const char *key,
		       ssi_model_known_fn *known, const void *ctx, void **out)
{
	int ret;

	*out = NULL;
	if (!parent)
		return 0;
	ret = w->src->object(w, parent, key, out);
	if (ret < 0)
		return ret;
	return w->src->keys(w, *out, known, ctx);
}

static double fetch_number(const struct num_rule *r, const void *slot)
{
	switch (r->type) {
	case NUM_REAL:
		return *(const double *)slot;
	case NUM_INT:
		return *(const int *)slot;
	case NUM_SIZE:
		return (double)*(const size_t *)slot;
	case NUM_MS_FROM_SECONDS:
		return (double)*(const int64_t *)slot / 1000.0;
	}
	return NAN;
}

/* Only called once check_range accepted v, so every conversion fits. */
static void store_number(const struct num_rule *r, void *slot, double v)
{
	switch (r->type) {
	case NUM_REAL:
		*(double *)slot = v;
		break;
	case NUM_INT:
		*(int *)slot = (int)v;
		break;
	case NUM_SIZE:
		*(size_t *)slot = (size_t)v;
		break;
	case NUM_MS_FROM_SECONDS:
		*(int64_t *)slot = (int64_t)v * 1000;
		break;
	}
}

static int check_range(struct ssi_model_walk *w, const struct num_rule *r, double v)
{
	bool above_min = r->min_excluded ? v > r->min : v >= r->min;

	if (!isfinite(v))
		return ssi_model_fail(w, "must be a finite number, got %g", v);
	if (above_min && v <= r->max)
		return 0;
	if (r->max == DBL_MAX)
		return ssi_model_fail(w, "must be %s %.15g, got %.15g",
				      r->min_excluded ? ">" : ">=", r->min, v);
	return ssi_model_fail(w, "must be %.15g..%.15g, got %.15g", r->min, r->max, v);
}

static int visit_number(struct ssi_model_walk *w, void *parent, const char *key,
			const struct num_rule *r, void *base)
{
	void *slot = (char *)base + r->offset;
	size_t mark = ssi_model_path_push(w, key);
	double v = 0;
	int ret;

	if (parent) {
		ret = w->src->number(w, parent, key, r->type != NUM_REAL, &v);
		if (ret < 0)
			return ret;
	} else {
		v = fetch_number(r, slot);
	}
	ret = check_range(w, r, v);
	if (ret < 0)
		return ret;
	if (parent)
		store_number(r, slot, v);
	path_pop(w, mark);
	return 0;
}

static int visit_map(struct ssi_model_walk *w, void *parent, const char *key,
		     const struct map_rule *map)
{
	double *values = map->values(w->m);
	size_t mark = ssi_model_path_push(w, key);
	void *obj;
	double sum = 0;
	int ret;

	ret = open_object(w, parent, key, map_key_known, map, &obj);
	if (ret < 0)
		return ret;
	for (int i = 0; i < map->count; i++) {
		ret = visit_number(w, obj, map->key(i), &map->element, &values[i]);
		if (ret < 0)
			return ret;
		sum += values[i];
	}
	if (map->shares && fabs(sum - 1.0) > SUM_TOLERANCE)
		return ssi_model_fail(w, "shares must add up to 1, got %.15g", sum);
	path_pop(w, mark);
	return 0;
}

static int visit_members(struct ssi_model_walk *w, void *obj, const struct member *const *members,
			 void *var_base)
{
	for (const struct member *const *mb = members; *mb; mb++) {
		int ret = (*mb)->map ? visit_map(w, obj, (*mb)->key, (*mb)->map)
				     : visit_number(w, obj, (*mb)->key, (*mb)->num,
						    (*mb)->in_model ? (void *)w->m : var_base);

		if (ret < 0)
			return ret;
	}
	return 0;
}

static int visit_variable(struct ssi_model_walk *w, void *pillar, enum ssi_variable v)
{
	const struct member *const *members = members_of(v);
	size_t mark = ssi_model_path_push(w, ssi_var_table[v].name);
	void *obj;
	int ret;

	ret = open_object(w, pillar, ssi_var_table[v].name, member_known, members, &obj);
	if (ret < 0)
		return ret;
	ret = visit_members(w, obj, members, &w->m->var[v]);
	if (ret < 0)
		return ret;
	path_pop(w, mark);
	return 0;
}

static int visit_pillar(struct ssi_model_walk *w, void *pillars, enum ssi_pillar p)
{
	size_t mark = ssi_model_path_push(w, pillar_names[p]);
	void *obj;
	double sum = 0;
	int ret;

	ret = open_object(w, pillars, pillar_names[p], variable_in_pillar, &p, &obj);
	if (ret < 0)
		return ret;
	for (int v = 0; v < SSI_V__COUNT; v++) {
		if (ssi_var_table[v].pillar != p)
			continue;
		ret = visit_variable(w, obj, (enum ssi_variable)v);
		if (ret < 0)
			return ret;
		sum += w->m->var[v].weight;
	}
	if (fabs(sum - SSI_PILLAR_MAX) > SUM_TOLERANCE)
		return ssi_model_fail(w, "weights must add up to %g, got %.15g", SSI_PILLAR_MAX,
				      sum);
	path_pop(w, mark);
	return 0;
}

static int visit_pillars(struct ssi_model_walk *w, void *root)
{
	size_t mark = ssi_model_path_push(w, "pillars");
	void *obj;
	int ret;

	ret = open_object(w, root, "pillars", pillar_key_known, NULL, &obj);
	if (ret < 0)
		return ret;
	if (obj) {
		ret = w->src->misplaced(w, obj);
		if (ret < 0)
			return ret;
	}
	for (int p = 0; p < SSI_PILLAR__COUNT; p++) {
		ret = visit_pillar(w, obj, (enum ssi_pillar)p);
		if (ret < 0)
			return ret;
	}
	path_pop(w, mark);
	return 0;
}

/* The version goes into every score record and log line, so keep it plain. */
static int check_version(struct ssi_model_walk *w, const char *s, size_t len)
{
	if (len == 0)
		return ssi_model_fail(w, "must not be empty");
	if (len > SSI_MODEL_VERSION_MAX)
		return ssi_model_fail(w, "must be at most %d bytes, got %zu", SSI_MODEL_VERSION_MAX,
				      len);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return ssi_model_fail(w, "must be printable ASCII, byte %zu is 0x%02x", i,
					      (unsigned char)s[i]);
	return 0;
}

static int visit_version(struct ssi_model_walk *w, void *root)
{
	size_t mark = ssi_model_path_push(w, "model_version");
	const char *s;
	size_t len;
	int ret;

	if (root) {
		ret = w->src->string(w, root, "model_version", &s, &len);
		if (ret < 0)
			return ret;
		ret = check_version(w, s, len);
		if (ret < 0)
			return ret;
		memcpy(w->m->version, s, len + 1);
	} else {
		if (!memchr(w->m->version, '\0', sizeof(w->m->version)))
			return ssi_model_fail(w, "must be at most %d bytes, not NUL-terminated",
					      SSI_MODEL_VERSION_MAX);
		ret = check_version(w, w->m->version, strlen(w->m->version));
		if (ret < 0)
			return ret;
	}
	path_pop(w, mark);
	return 0;
}

int ssi_model_visit(struct ssi_model_walk *w, void *root)
{
	int ret;

	if (root) {
		ret = w->src->keys(w, root, top_key_known, top_members);
		if (ret < 0)
			return ret;
	}
	ret = visit_version(w, root);
	if (ret < 0)
		return ret;
	ret = visit_members(w, root, top_members, NULL);
	if (ret < 0)
		return ret;
	return visit_pillars(w, root);
}

/* --- entry point ----------------------------------------------------------- */

int ssi_model_validate(const struct ssi_model *m, struct ssi_model_error *err)
{
	struct ssi_model_error scratch = {0};
	struct ssi_model copy = *m; /* the walk takes a mutable model; validating writes nothing */
	struct ssi_model_walk w = {.m = &copy, .err = err ? err : &scratch};

	memset(w.err, 0, sizeof(*w.err));
	return ssi_model_visit(&w, NULL);
}
