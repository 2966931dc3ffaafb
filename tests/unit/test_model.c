/*
 * The model file and its loader: the shipped file is the built-in default,
 * every key is required, unknown and misplaced keys are named, and every
 * range rule holds in both the loader and the validator.
 *
 * Most cases start from config/model.json, change one thing in the parsed
 * tree, dump it back to text and load that.
 *
 * One module's suite, kept whole: the model's rules (ssi_model.c and its
 * JSON loader ssi_model_json.c), checked on both paths side by side.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ssi_model.h"
#include "suites.h"
#include "ssid_file.h"

#ifndef SSI_TEST_MODEL_PATH
#define SSI_TEST_MODEL_PATH "config/model.json"
#endif

#define PATH_MAX_LEN 128
#define MAX_PATHS    256

static json_t *default_json(void)
{
	json_error_t jerr;
	json_t *root = json_load_file(SSI_TEST_MODEL_PATH, JSON_REJECT_DUPLICATES, &jerr);

	ck_assert_msg(root != NULL, "%s:%d: %s", SSI_TEST_MODEL_PATH, jerr.line, jerr.text);
	return root;
}

/* The object holding the last component of a dotted path, and that component. */
static json_t *parent_of(json_t *root, const char *path, const char **leaf)
{
	const char *dot;
	json_t *obj = root;

	while ((dot = strchr(path, '.')) != NULL) {
		char part[PATH_MAX_LEN];
		size_t n = (size_t)(dot - path);

		ck_assert_uint_lt(n, sizeof(part));
		memcpy(part, path, n);
		part[n] = '\0';
		obj = json_object_get(obj, part);
		ck_assert_msg(json_is_object(obj), "no object at %s in %s", part, path);
		path = dot + 1;
	}
	*leaf = path;
	return obj;
}

static void set_at(json_t *root, const char *path, json_t *value)
{
	const char *leaf;
	json_t *parent = parent_of(root, path, &leaf);

	ck_assert_ptr_nonnull(value);
	ck_assert_int_eq(json_object_set_new(parent, leaf, value), 0);
}

/* value is JSON text, so tables can hold integers, reals and strings alike. */
static void set_text_at(json_t *root, const char *path, const char *value)
{
	json_error_t jerr;
	json_t *j = json_loads(value, JSON_DECODE_ANY, &jerr);

	ck_assert_msg(j != NULL, "bad test value %s: %s", value, jerr.text);
	set_at(root, path, j);
}

static json_t *get_at(json_t *root, const char *path)
{
	const char *leaf;
	json_t *parent = parent_of(root, path, &leaf);
	json_t *j = json_object_get(parent, leaf);

	ck_assert_msg(j != NULL, "nothing at %s", path);
	return j;
}

static void delete_at(json_t *root, const char *path)
{
	const char *leaf;
	json_t *parent = parent_of(root, path, &leaf);

	ck_assert_int_eq(json_object_del(parent, leaf), 0);
}

static int load_tree(const json_t *root, struct ssi_model *m, struct ssi_model_error *err)
{
	char *text = json_dumps(root, JSON_INDENT(2));
	int r;

	ck_assert_ptr_nonnull(text);
	r = ssi_model_load_buffer(m, text, strlen(text), err);
	free(text);
	return r;
}

/* Load the default file with one value replaced. */
static int load_with(const char *path, const char *value, struct ssi_model_error *err)
{
	json_t *root = default_json();
	struct ssi_model m;
	int r;

	set_text_at(root, path, value);
	r = load_tree(root, &m, err);
	json_decref(root);
	return r;
}

static void assert_error(int r, const struct ssi_model_error *err, const char *key,
			 const char *message_part)
{
	ck_assert_msg(r == -EINVAL, "expected -EINVAL for %s, got %d", key, r);
	ck_assert_str_eq(err->key, key);
	ck_assert_int_eq(err->line, 0);
	ck_assert_msg(strstr(err->message, message_part) != NULL, "%s: message \"%s\" lacks \"%s\"",
		      key, err->message, message_part);
}

static void assert_models_equal(const struct ssi_model *a, const struct ssi_model *b)
{
	ck_assert_str_eq(a->version, b->version);
	ck_assert_int_eq(a->window_days, b->window_days);
	ck_assert_int_eq(a->future_tolerance_ms, b->future_tolerance_ms);
	ck_assert_uint_eq(a->max_event_bytes, b->max_event_bytes);
	ck_assert_int_eq(a->dedup_recent, b->dedup_recent);
	for (int v = 0; v < SSI_V__COUNT; v++) {
		const struct ssi_var_params *x = &a->var[v], *y = &b->var[v];
		const char *name = ssi_var_info((enum ssi_variable)v)->name;

		ck_assert_msg(x->weight == y->weight, "%s.weight %g != %g", name, x->weight,
			      y->weight);
		ck_assert_msg(x->half == y->half, "%s.half %g != %g", name, x->half, y->half);
		ck_assert_msg(x->daily_cap == y->daily_cap, "%s.daily_cap %d != %d", name,
			      x->daily_cap, y->daily_cap);
		ck_assert_msg(x->prior == y->prior, "%s.prior %g != %g", name, x->prior, y->prior);
		ck_assert_msg(x->prior_weight == y->prior_weight, "%s.prior_weight %g != %g", name,
			      x->prior_weight, y->prior_weight);
	}
	for (int f = 0; f < SSI_PF__COUNT; f++)
		ck_assert_msg(a->profile_field[f] == b->profile_field[f], "fields.%s %g != %g",
			      ssi_profile_field_name((enum ssi_profile_field)f),
			      a->profile_field[f], b->profile_field[f]);
	ck_assert_int_eq(a->skills_target, b->skills_target);
	ck_assert_int_eq(a->featured_media_target, b->featured_media_target);
	for (int s = 0; s < SSI_SEN__COUNT; s++)
		ck_assert_msg(a->seniority_weight[s] == b->seniority_weight[s],
			      "seniority_weights.%s %g != %g",
			      ssi_seniority_name((enum ssi_seniority)s), a->seniority_weight[s],
			      b->seniority_weight[s]);
	ck_assert(a->search_filter_weight == b->search_filter_weight);
}

/* Every dotted path in the tree, objects before their members; '_' keys skipped. */
static void collect_paths(json_t *obj, const char *prefix, char paths[][PATH_MAX_LEN], int *n,
			  bool objects_only)
{
	for (void *it = json_object_iter(obj); it; it = json_object_iter_next(obj, it)) {
		const char *key = json_object_iter_key(it);
		json_t *value = json_object_iter_value(it);
		char path[PATH_MAX_LEN];

		if (key[0] == '_')
			continue;
		snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? "." : "", key);
		if (!objects_only || json_is_object(value)) {
			ck_assert_int_lt(*n, MAX_PATHS);
			memcpy(paths[(*n)++], path, sizeof(path));
		}
		if (json_is_object(value))
			collect_paths(value, path, paths, n, objects_only);
	}
}

/* --- the default --------------------------------------------------------- */

START_TEST (default_equals_file) {
	struct ssi_model from_file, builtin;
	struct ssi_model_error err;
	int r;

	memset(&from_file, 0, sizeof(from_file));
	ssi_model_default(&builtin);
	r = ssid_file_load_model(&from_file, SSI_TEST_MODEL_PATH, &err);
	ck_assert_msg(r == 0, "%s: %s (line %d): %s", SSI_TEST_MODEL_PATH, err.key, err.line,
		      err.message);
	assert_models_equal(&from_file, &builtin);
	/* Spot checks so a change to both copies at once still shows up here. */
	ck_assert_str_eq(builtin.version, "ssi-2026.11-1");
	ck_assert_int_eq(builtin.future_tolerance_ms, 300000);
	ck_assert(builtin.var[SSI_V_INMAIL_REPLY_RATE].prior == 0.15);
	ck_assert(builtin.seniority_weight[SSI_SEN_CXO] == 5);
}
END_TEST

START_TEST (default_validates) {
	struct ssi_model m;
	struct ssi_model_error err;

	ssi_model_default(&m);
	ck_assert_int_eq(ssi_model_validate(&m, &err), 0);
	ck_assert_str_eq(err.key, "");
	ck_assert_int_eq(ssi_model_validate(&m, NULL), 0);
}
END_TEST

START_TEST (var_table_is_consistent) {
	int uses[SSI_C__COUNT] = {0};
	int last_pillar = 0;

	for (int v = 0; v < SSI_V__COUNT; v++) {
		const struct ssi_var_info *vi = ssi_var_info((enum ssi_variable)v);

		ck_assert_ptr_nonnull(vi);
		ck_assert_ptr_nonnull(vi->name);
		ck_assert_int_ge((int)vi->pillar, last_pillar);
		last_pillar = (int)vi->pillar;
		for (int w = 0; w < v; w++)
			ck_assert_str_ne(vi->name, ssi_var_info((enum ssi_variable)w)->name);
		for (int i = 0; i < 2; i++) {
			ck_assert_int_ge(vi->counter[i], -1);
			ck_assert_int_lt(vi->counter[i], SSI_C__COUNT);
			if (vi->counter[i] >= 0)
				uses[vi->counter[i]]++;
		}
		switch (vi->kind) {
		case SSI_KIND_PROFILE:
		case SSI_KIND_CONNECTIONS:
		case SSI_KIND_INTERNAL:
			ck_assert_int_eq(vi->counter[0], -1);
			ck_assert_int_eq(vi->counter[1], -1);
			break;
		case SSI_KIND_RATE:
			ck_assert_int_ge(vi->counter[1], 0);
			/* fall through */
		case SSI_KIND_COUNT:
		case SSI_KIND_ACTIVE_DAYS:
			ck_assert_int_ge(vi->counter[0], 0);
			break;
		}
	}
	/* Each counter feeds exactly one variable. */
	for (int c = 0; c < SSI_C__COUNT; c++)
		ck_assert_msg(uses[c] == 1, "counter %d used %d times", c, uses[c]);
	ck_assert_ptr_null(ssi_var_info(SSI_V__COUNT));
	ck_assert_ptr_null(ssi_var_info((enum ssi_variable) - 1));
}
END_TEST

START_TEST (var_table_spot_checks) {
	const struct ssi_var_info *searches = ssi_var_info(SSI_V_SEARCHES);
	const struct ssi_var_info *acceptance = ssi_var_info(SSI_V_ACCEPTANCE_RATE);
	const struct ssi_var_info *inmail = ssi_var_info(SSI_V_INMAIL_REPLY_RATE);
	const struct ssi_var_info *days = ssi_var_info(SSI_V_ACTIVE_DAYS);

	ck_assert_str_eq(searches->name, "searches");
	ck_assert_int_eq(searches->pillar, SSI_PEOPLE);
	ck_assert_int_eq(searches->counter[0], SSI_C_SEARCH);
	ck_assert_int_eq(searches->counter[1], SSI_C_SEARCH_FILTERED);
	ck_assert_str_eq(acceptance->name, "acceptance_rate");
	ck_assert_int_eq(acceptance->kind, SSI_KIND_RATE);
	ck_assert_int_eq(acceptance->counter[0], SSI_C_INVITATION_ACCEPTED);
	ck_assert_int_eq(acceptance->counter[1], SSI_C_INVITATION_SENT);
	ck_assert_int_eq(inmail->counter[0], SSI_C_INMAIL_REPLIED);
	ck_assert_int_eq(inmail->counter[1], SSI_C_INMAIL_SENT);
	ck_assert_int_eq(days->kind, SSI_KIND_ACTIVE_DAYS);
	ck_assert_int_eq(days->counter[0], SSI_C_SESSION);
	ck_assert_str_eq(ssi_var_info(SSI_V_VIEWS_OUT_NETWORK)->name, "views_out_of_network");
	ck_assert_int_eq(ssi_var_info(SSI_V_PROSPECT_CONTENT)->pillar, SSI_RELATIONSHIPS);

	ck_assert_str_eq(ssi_pillar_name(SSI_BRAND), "brand");
	ck_assert_str_eq(ssi_pillar_name(SSI_PEOPLE), "people");
	ck_assert_str_eq(ssi_pillar_name(SSI_INSIGHTS), "insights");
	ck_assert_str_eq(ssi_pillar_name(SSI_RELATIONSHIPS), "relationships");
	ck_assert_ptr_null(ssi_pillar_name(SSI_PILLAR__COUNT));
	ck_assert_str_eq(ssi_profile_field_name(SSI_PF_FEATURED_MEDIA), "featured_media");
	ck_assert_ptr_null(ssi_profile_field_name(SSI_PF__COUNT));
}
END_TEST

/* --- required and unknown keys -------------------------------------------- */

START_TEST (every_key_is_required) {
	static char paths[MAX_PATHS][PATH_MAX_LEN];
	json_t *root = default_json();
	int n = 0;

	collect_paths(root, "", paths, &n, false);
	/* 6 top-level keys, 4 pillars, 24 variables and their members. */
	ck_assert_int_ge(n, 100);
	for (int i = 0; i < n; i++) {
		json_t *edited = json_deep_copy(root);
		struct ssi_model m;
		struct ssi_model_error err;

		delete_at(edited, paths[i]);
		assert_error(load_tree(edited, &m, &err), &err, paths[i], "missing");
		json_decref(edited);
	}
	json_decref(root);
}
END_TEST

START_TEST (unknown_keys_are_rejected_everywhere) {
	static char paths[MAX_PATHS][PATH_MAX_LEN];
	json_t *root = default_json();
	int n = 0;

	collect_paths(root, "", paths, &n, true);
	ck_assert_int_ge(n, 30);
	for (int i = -1; i < n; i++) {
		json_t *edited = json_deep_copy(root);
		char path[PATH_MAX_LEN * 2];
		struct ssi_model m;
		struct ssi_model_error err;

		snprintf(path, sizeof(path), "%s%swieght", i < 0 ? "" : paths[i], i < 0 ? "" : ".");
		set_text_at(edited, path, "1");
		assert_error(load_tree(edited, &m, &err), &err, path, "unknown key");
		json_decref(edited);
	}
	json_decref(root);
}
END_TEST

START_TEST (underscore_keys_are_comments) {
	static char paths[MAX_PATHS][PATH_MAX_LEN];
	json_t *root = default_json();
	struct ssi_model m, builtin;
	struct ssi_model_error err;
	int n = 0;

	collect_paths(root, "", paths, &n, true);
	set_text_at(root, "_note", "[1, {\"x\": null}]");
	for (int i = 0; i < n; i++) {
		char path[PATH_MAX_LEN * 2];

		snprintf(path, sizeof(path), "%s._why", paths[i]);
		set_text_at(root, path, "\"because\"");
	}
	ck_assert_msg(load_tree(root, &m, &err) == 0, "%s: %s", err.key, err.message);
	ssi_model_default(&builtin);
	assert_models_equal(&m, &builtin);
	json_decref(root);
}
END_TEST

/* Keys of one kind of variable are unknown under another kind. */
START_TEST (keys_follow_the_variable_kind) {
	static const struct {
		const char *path;
		const char *value;
	} cases[] = {
	    {"pillars.brand.profile_completeness.half", "3"},
	    {"pillars.brand.profile_completeness.daily_cap", "3"},
	    {"pillars.brand.articles.prior", "0.5"},
	    {"pillars.brand.articles.filter_weight", "2"},
	    {"pillars.people.views_in_network.filter_weight", "2"},
	    {"pillars.people.active_days.daily_cap", "1"},
	    {"pillars.insights.inmail_reply_rate.filter_weight", "2"},
	    {"pillars.relationships.connections.daily_cap", "3"},
	    {"pillars.relationships.internal_connections.seniority_weights", "{}"},
	    {"pillars.relationships.acceptance_rate.fields", "{}"},
	    {"pillars.relationships.connections.seniority_weights.intern", "1"},
	    {"pillars.brand.profile_completeness.fields.video", "0"},
	    {"pillars.brand.profile_completeness.skills_target_typo", "3"},
	    {"pillars.sales", "{}"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ssi_model_error err;

		assert_error(load_with(cases[i].path, cases[i].value, &err), &err, cases[i].path,
			     "unknown key");
	}
}
END_TEST

START_TEST (variable_under_wrong_pillar) {
	json_t *root = default_json();

	for (int v = 0; v < SSI_V__COUNT; v++) {
		const struct ssi_var_info *vi = ssi_var_info((enum ssi_variable)v);
		char from[PATH_MAX_LEN];

		snprintf(from, sizeof(from), "pillars.%s.%s", ssi_pillar_name(vi->pillar),
			 vi->name);
		for (int p = 0; p < SSI_PILLAR__COUNT; p++) {
			json_t *edited;
			char to[PATH_MAX_LEN], expected[PATH_MAX_LEN];
			struct ssi_model m;
			struct ssi_model_error err;

			if (p == (int)vi->pillar)
				continue;
			edited = json_deep_copy(root);
			snprintf(to, sizeof(to), "pillars.%s.%s",
				 ssi_pillar_name((enum ssi_pillar)p), vi->name);
			set_at(edited, to, json_deep_copy(get_at(edited, from)));
			delete_at(edited, from);
			snprintf(expected, sizeof(expected), "belongs to pillar %s, not %s",
				 ssi_pillar_name(vi->pillar), ssi_pillar_name((enum ssi_pillar)p));
			assert_error(load_tree(edited, &m, &err), &err, to, expected);
			json_decref(edited);
		}
	}
	json_decref(root);
}
END_TEST

/* --- types and ranges ---------------------------------------------------- */

static const struct bad_value {
	const char *path;
	const char *value;
	const char *message;
} bad_values[] = {
    {"model_version", "\"\"", "must not be empty"},
    {"model_version", "\"v-012345678901234567890123456789012345678901234567890123456789012\"",
     "must be at most 64 bytes, got 65"},
    {"model_version", "\"v1\\n\"", "printable"},
    {"model_version", "\"v\\u00e9\"", "printable"},
    {"model_version", "1", "must be a string, got an integer"},
    {"window_days", "0", "must be 1..400, got 0"},
    {"window_days", "401", "must be 1..400, got 401"},
    {"window_days", "30.0", "must be an integer, got a real number"},
    {"window_days", "\"90\"", "must be an integer, got a string"},
    {"window_days", "9223372036854775807", "must be 1..400"},
    {"window_days", "-9223372036854775807", "must be 1..400"},
    {"future_tolerance_seconds", "-1", "must be 0..86400, got -1"},
    {"future_tolerance_seconds", "86401", "must be 0..86400, got 86401"},
    {"max_event_bytes", "255", "must be 256..16777216, got 255"},
    {"max_event_bytes", "16777217", "must be 256..16777216, got 16777217"},
    {"max_event_bytes", "-1", "must be 256..16777216, got -1"},
    {"dedup_recent_events", "-1", "must be 0..64, got -1"},
    {"dedup_recent_events", "65", "must be 0..64, got 65"},
    {"dedup_recent_events", "null", "must be an integer, got null"},
    {"pillars", "[]", "must be an object, got an array"},
    {"pillars.people", "true", "must be an object, got a boolean"},
    {"pillars.people.active_days", "5", "must be an object, got an integer"},
    {"pillars.brand.articles.weight", "-1", "must be >= 0, got -1"},
    {"pillars.brand.articles.weight", "\"8\"", "must be a number, got a string"},
    {"pillars.brand.articles.weight", "false", "must be a number, got a boolean"},
    {"pillars.brand.articles.half", "-1", "must be > 0, got -1"},
    {"pillars.brand.articles.half", "0", "must be > 0, got 0"},
    {"pillars.brand.articles.half", "[3]", "must be a number, got an array"},
    {"pillars.brand.articles.daily_cap", "0", "must be 1..255, got 0"},
    {"pillars.brand.articles.daily_cap", "256", "must be 1..255, got 256"},
    {"pillars.brand.articles.daily_cap", "2.5", "must be an integer, got a real number"},
    {"pillars.insights.inmail_reply_rate.prior", "1.5", "must be 0..1, got 1.5"},
    {"pillars.insights.inmail_reply_rate.prior", "-0.1", "must be 0..1, got -0.1"},
    {"pillars.relationships.acceptance_rate.prior_weight", "0", "must be > 0, got 0"},
    {"pillars.relationships.acceptance_rate.daily_cap", "1000", "must be 1..255, got 1000"},
    {"pillars.people.active_days.half", "0", "must be > 0, got 0"},
    {"pillars.relationships.internal_connections.half", "-25", "must be > 0, got -25"},
    {"pillars.brand.profile_completeness.fields", "[]", "must be an object, got an array"},
    {"pillars.brand.profile_completeness.fields.photo", "1.5", "must be 0..1, got 1.5"},
    {"pillars.brand.profile_completeness.fields.summary", "-0.15", "must be 0..1, got -0.15"},
    {"pillars.brand.profile_completeness.fields.skills", "null", "must be a number, got null"},
    {"pillars.brand.profile_completeness.skills_target", "0", "must be 1..255, got 0"},
    {"pillars.brand.profile_completeness.skills_target", "256", "must be 1..255, got 256"},
    {"pillars.brand.profile_completeness.featured_media_target", "0", "must be 1..255, got 0"},
    {"pillars.brand.profile_completeness.featured_media_target", "3.0", "must be an integer"},
    {"pillars.relationships.connections.seniority_weights", "1", "must be an object"},
    {"pillars.relationships.connections.seniority_weights.cxo", "-1", "must be >= 0, got -1"},
    {"pillars.relationships.connections.seniority_weights.unknown", "\"1\"", "must be a number"},
    {"pillars.people.searches.filter_weight", "0.5", "must be >= 1, got 0.5"},
};

START_TEST (bad_value_names_its_key) {
	const struct bad_value *c = &bad_values[_i];
	struct ssi_model_error err;

	assert_error(load_with(c->path, c->value, &err), &err, c->path, c->message);
}
END_TEST

/* The edges of every range are inside it. */
static const struct good_value {
	const char *path;
	const char *value;
} good_values[] = {
    {"model_version", "\"x\""},
    {"model_version", "\"v-012345678901234567890123456789012345678901234567890123456789 ~\""},
    {"window_days", "1"},
    {"window_days", "400"},
    {"future_tolerance_seconds", "0"},
    {"future_tolerance_seconds", "86400"},
    {"max_event_bytes", "256"},
    {"max_event_bytes", "16777216"},
    {"dedup_recent_events", "0"},
    {"dedup_recent_events", "64"},
    {"pillars.brand.articles.half", "0.001"},
    {"pillars.brand.articles.half", "3.0"},
    {"pillars.brand.articles.weight", "8.0"},
    {"pillars.brand.articles.daily_cap", "1"},
    {"pillars.brand.articles.daily_cap", "255"},
    {"pillars.insights.inmail_reply_rate.prior", "0"},
    {"pillars.insights.inmail_reply_rate.prior", "1"},
    {"pillars.insights.inmail_reply_rate.prior_weight", "0.5"},
    {"pillars.brand.profile_completeness.skills_target", "1"},
    {"pillars.brand.profile_completeness.skills_target", "255"},
    {"pillars.brand.profile_completeness.featured_media_target", "255"},
    {"pillars.relationships.connections.seniority_weights.entry", "0"},
    {"pillars.relationships.connections.seniority_weights.cxo", "1e6"},
    {"pillars.people.searches.filter_weight", "1"},
};

START_TEST (range_edges_load) {
	const struct good_value *c = &good_values[_i];
	struct ssi_model_error err;
	int r = load_with(c->path, c->value, &err);

	ck_assert_msg(r == 0, "%s = %s: %s: %s", c->path, c->value, err.key, err.message);
}
END_TEST

START_TEST (pillar_weights_must_add_up) {
	/* One variable per pillar, raised so its pillar comes to 25.5. */
	static const struct {
		const char *path;
		const char *value;
		const char *key;
	} cases[] = {
	    {"pillars.brand.articles.weight", "8.5", "pillars.brand"},
	    {"pillars.people.leads_saved.weight", "3.5", "pillars.people"},
	    {"pillars.insights.groups_joined.weight", "1.5", "pillars.insights"},
	    {"pillars.relationships.connections.weight", "8.5", "pillars.relationships"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ssi_model_error err;

		assert_error(load_with(cases[i].path, cases[i].value, &err), &err, cases[i].key,
			     "weights must add up to 25, got 25.5");
	}
}
END_TEST

START_TEST (pillar_weight_sum_tolerance) {
	json_t *root = default_json();
	struct ssi_model m;
	struct ssi_model_error err;

	/* Off by 4e-7: inside the tolerance. */
	set_text_at(root, "pillars.brand.articles.weight", "8.0000004");
	ck_assert_msg(load_tree(root, &m, &err) == 0, "%s: %s", err.key, err.message);
	/* Off by 4e-6: outside. */
	set_text_at(root, "pillars.brand.articles.weight", "8.000004");
	assert_error(load_tree(root, &m, &err), &err, "pillars.brand", "got 25.000004");
	/* A pillar whose weights are all zero adds up to 0, not 25. */
	json_decref(root);
	root = default_json();
	for (int v = 0; v < SSI_V__COUNT; v++) {
		const struct ssi_var_info *vi = ssi_var_info((enum ssi_variable)v);
		char path[PATH_MAX_LEN];

		if (vi->pillar != SSI_INSIGHTS)
			continue;
		snprintf(path, sizeof(path), "pillars.insights.%s.weight", vi->name);
		set_text_at(root, path, "0");
	}
	assert_error(load_tree(root, &m, &err), &err, "pillars.insights", "got 0");
	json_decref(root);
}
END_TEST

START_TEST (profile_fields_must_add_up) {
	struct ssi_model_error err;

	assert_error(load_with("pillars.brand.profile_completeness.fields.photo", "0.3", &err),
		     &err, "pillars.brand.profile_completeness.fields",
		     "shares must add up to 1, got 1.1");
	assert_error(load_with("pillars.brand.profile_completeness.fields.photo", "0", &err), &err,
		     "pillars.brand.profile_completeness.fields",
		     "shares must add up to 1, got 0.8");
}
END_TEST

START_TEST (edited_model_loads) {
	json_t *root = default_json();
	struct ssi_model m, builtin;
	struct ssi_model_error err;

	set_text_at(root, "model_version", "\"acme-2027.01\"");
	set_text_at(root, "window_days", "30");
	set_text_at(root, "future_tolerance_seconds", "60");
	set_text_at(root, "pillars.brand.profile_completeness.weight", "10");
	set_text_at(root, "pillars.brand.articles.weight", "5");
	set_text_at(root, "pillars.relationships.connections.weight", "6.75");
	set_text_at(root, "pillars.relationships.internal_connections.weight", "3.25");
	set_text_at(root, "pillars.brand.profile_completeness.fields.photo", "0.25");
	set_text_at(root, "pillars.brand.profile_completeness.fields.featured_media", "0.05");
	set_text_at(root, "pillars.people.searches.daily_cap", "255");
	ck_assert_msg(load_tree(root, &m, &err) == 0, "%s: %s", err.key, err.message);
	json_decref(root);

	ck_assert_str_eq(m.version, "acme-2027.01");
	ck_assert_int_eq(m.window_days, 30);
	ck_assert_int_eq(m.future_tolerance_ms, 60000);
	ck_assert(m.var[SSI_V_PROFILE_COMPLETENESS].weight == 10);
	ck_assert(m.var[SSI_V_ARTICLES].weight == 5);
	ck_assert(m.var[SSI_V_CONNECTIONS].weight == 6.75);
	ck_assert(m.var[SSI_V_INTERNAL_CONNECTIONS].weight == 3.25);
	ck_assert(m.profile_field[SSI_PF_PHOTO] == 0.25);
	ck_assert(m.profile_field[SSI_PF_FEATURED_MEDIA] == 0.05);
	ck_assert_int_eq(m.var[SSI_V_SEARCHES].daily_cap, 255);
	ck_assert_int_eq(ssi_model_validate(&m, &err), 0);

	/* Everything not edited keeps its default. */
	ssi_model_default(&builtin);
	ck_assert_uint_eq(m.max_event_bytes, builtin.max_event_bytes);
	ck_assert(m.var[SSI_V_ENDORSEMENTS].half == builtin.var[SSI_V_ENDORSEMENTS].half);
	ck_assert(m.var[SSI_V_ACCEPTANCE_RATE].prior == builtin.var[SSI_V_ACCEPTANCE_RATE].prior);
	ck_assert(m.seniority_weight[SSI_SEN_VP] == builtin.seniority_weight[SSI_SEN_VP]);
}
END_TEST

START_TEST (failed_load_keeps_the_old_model) {
	json_t *root = default_json();
	struct ssi_model m, before;
	struct ssi_model_error err;

	ssi_model_default(&m);
	m.window_days = 7;
	before = m;
	/* The bad value is the last one walked, after window_days was read. */
	set_text_at(root, "window_days", "30");
	set_text_at(root, "pillars.relationships.prospect_content.daily_cap", "0");
	assert_error(load_tree(root, &m, &err), &err,
		     "pillars.relationships.prospect_content.daily_cap", "must be 1..255, got 0");
	json_decref(root);
	ck_assert_int_eq(m.window_days, 7);
	ck_assert_int_eq(memcmp(&m, &before, sizeof(m)), 0);
}
END_TEST

/* --- syntax and I/O ------------------------------------------------------ */

START_TEST (syntax_error_has_line) {
	static const char text[] = "{\n"
				   "  \"model_version\": \"x\",\n"
				   "  \"window_days\": 90,\n"
				   "  \"pillars\": }\n";
	struct ssi_model m;
	struct ssi_model_error err;

	ck_assert_int_eq(ssi_model_load_buffer(&m, text, strlen(text), &err), -EINVAL);
	ck_assert_int_eq(err.line, 4);
	ck_assert_str_eq(err.key, "");
	ck_assert_ptr_nonnull(strstr(err.message, "invalid JSON"));
}
END_TEST

START_TEST (syntax_error_in_model_file) {
	json_t *root = default_json();
	char *text = json_dumps(root, JSON_INDENT(2));
	char *at = strstr(text, "\"dedup_recent_events\"");
	int expected_line = 1;
	struct ssi_model m;
	struct ssi_model_error err;

	ck_assert_ptr_nonnull(at);
	for (const char *p = text; p < at; p++)
		expected_line += *p == '\n';
	at[0] = '\''; /* a single quote does not open a JSON string */
	ck_assert_int_eq(ssi_model_load_buffer(&m, text, strlen(text), &err), -EINVAL);
	ck_assert_int_eq(err.line, expected_line);
	ck_assert_str_eq(err.key, "");
	free(text);
	json_decref(root);
}
END_TEST

START_TEST (malformed_documents) {
	static const char duplicate[] = "{\n\"window_days\": 1,\n\"window_days\": 2\n}";
	static const char with_nul[] = "{\"model_version\": \"a\0b\"}";
	struct ssi_model m;
	struct ssi_model_error err;

	ck_assert_int_eq(ssi_model_load_buffer(&m, duplicate, strlen(duplicate), &err), -EINVAL);
	ck_assert_int_eq(err.line, 3);
	ck_assert_ptr_nonnull(strstr(err.message, "duplicate"));

	ck_assert_int_eq(ssi_model_load_buffer(&m, "", 0, &err), -EINVAL);
	ck_assert_int_gt(err.line, 0);

	ck_assert_int_eq(ssi_model_load_buffer(&m, with_nul, sizeof(with_nul) - 1, &err), -EINVAL);
	ck_assert_int_gt(err.line, 0);

	ck_assert_int_eq(ssi_model_load_buffer(&m, "{} {}", 5, &err), -EINVAL);
	ck_assert_int_gt(err.line, 0);

	/* Well-formed JSON of the wrong shape is a content error, not a syntax one. */
	assert_error(ssi_model_load_buffer(&m, "[1, 2]", 6, &err), &err, "",
		     "must be an object, got an array");
	assert_error(ssi_model_load_buffer(&m, "{}", 2, &err), &err, "model_version", "missing");
	assert_error(ssi_model_load_buffer(&m, "{\"model_versio\": 1}", 19, &err), &err,
		     "model_versio", "unknown key");
	ck_assert_int_eq(ssi_model_load_buffer(&m, "{}", 2, NULL), -EINVAL);
}
END_TEST

START_TEST (missing_file) {
	static const char path[] = "/nonexistent-ssid-test/model.json";
	struct ssi_model m;
	struct ssi_model_error err;

	ck_assert_int_eq(ssid_file_load_model(&m, path, &err), -ENOENT);
	ck_assert_str_eq(err.key, "");
	ck_assert_int_eq(err.line, 0);
	ck_assert_ptr_nonnull(strstr(err.message, path));
	ck_assert_int_eq(ssid_file_load_model(&m, path, NULL), -ENOENT);
}
END_TEST

START_TEST (directory_is_not_a_model) {
	struct ssi_model m;
	struct ssi_model_error err;

	ck_assert_int_eq(ssid_file_load_model(&m, "/", &err), -EISDIR);
	ck_assert_str_eq(err.key, "");
	ck_assert_ptr_nonnull(strstr(err.message, "/"));
}
END_TEST

/* --- validating a model in memory ---------------------------------------- */

START_TEST (validate_names_keys) {
	struct ssi_model m;
	struct ssi_model_error err;

	ssi_model_default(&m);
	m.var[SSI_V_ARTICLES].half = -1;
	assert_error(ssi_model_validate(&m, &err), &err, "pillars.brand.articles.half",
		     "must be > 0, got -1");

	ssi_model_default(&m);
	m.var[SSI_V_CONNECTIONS].weight = NAN;
	assert_error(ssi_model_validate(&m, &err), &err, "pillars.relationships.connections.weight",
		     "finite");

	ssi_model_default(&m);
	m.var[SSI_V_POSTS].half = INFINITY;
	assert_error(ssi_model_validate(&m, &err), &err, "pillars.insights.posts.half", "finite");

	ssi_model_default(&m);
	m.window_days = 0;
	assert_error(ssi_model_validate(&m, &err), &err, "window_days", "must be 1..400, got 0");

	ssi_model_default(&m);
	m.future_tolerance_ms = 86400001;
	assert_error(ssi_model_validate(&m, &err), &err, "future_tolerance_seconds",
		     "must be 0..86400, got 86400.001");

	ssi_model_default(&m);
	m.max_event_bytes = SIZE_MAX;
	assert_error(ssi_model_validate(&m, &err), &err, "max_event_bytes",
		     "must be 256..16777216");

	ssi_model_default(&m);
	m.dedup_recent = SSI_DEDUP_MAX + 1;
	assert_error(ssi_model_validate(&m, &err), &err, "dedup_recent_events", "must be 0..64");

	ssi_model_default(&m);
	m.var[SSI_V_INMAIL_REPLY_RATE].daily_cap = 0;
	assert_error(ssi_model_validate(&m, &err), &err,
		     "pillars.insights.inmail_reply_rate.daily_cap", "must be 1..255, got 0");

	ssi_model_default(&m);
	m.var[SSI_V_ACCEPTANCE_RATE].prior_weight = 0;
	assert_error(ssi_model_validate(&m, &err), &err,
		     "pillars.relationships.acceptance_rate.prior_weight", "must be > 0");

	ssi_model_default(&m);
	m.var[SSI_V_LEADS_SAVED].weight += 1;
	assert_error(ssi_model_validate(&m, &err), &err, "pillars.people",
		     "weights must add up to 25, got 26");

	ssi_model_default(&m);
	m.profile_field[SSI_PF_HEADLINE] = 0.25;
	assert_error(ssi_model_validate(&m, &err), &err,
		     "pillars.brand.profile_completeness.fields", "got 1.1");

	ssi_model_default(&m);
	m.skills_target = 0;
	assert_error(ssi_model_validate(&m, &err), &err,
		     "pillars.brand.profile_completeness.skills_target", "must be 1..255");

	ssi_model_default(&m);
	m.seniority_weight[SSI_SEN_PARTNER] = -0.5;
	assert_error(ssi_model_validate(&m, &err), &err,
		     "pillars.relationships.connections.seniority_weights.partner",
		     "must be >= 0, got -0.5");

	ssi_model_default(&m);
	m.search_filter_weight = 0;
	assert_error(ssi_model_validate(&m, &err), &err, "pillars.people.searches.filter_weight",
		     "must be >= 1, got 0");
}
END_TEST

START_TEST (validate_checks_the_version) {
	struct ssi_model m;
	struct ssi_model_error err;

	ssi_model_default(&m);
	m.version[0] = '\0';
	assert_error(ssi_model_validate(&m, &err), &err, "model_version", "must not be empty");

	ssi_model_default(&m);
	m.version[2] = '\t';
	assert_error(ssi_model_validate(&m, &err), &err, "model_version", "printable");

	ssi_model_default(&m);
	memset(m.version, 'v', sizeof(m.version));
	assert_error(ssi_model_validate(&m, &err), &err, "model_version", "NUL-terminated");

	ssi_model_default(&m);
	memset(m.version, 'v', SSI_MODEL_VERSION_MAX);
	m.version[SSI_MODEL_VERSION_MAX] = '\0';
	ck_assert_int_eq(ssi_model_validate(&m, &err), 0);
}
END_TEST

/* Fields a variable's kind does not use are not part of the model. */
START_TEST (validate_ignores_unused_params) {
	struct ssi_model m;
	struct ssi_model_error err;

	ssi_model_default(&m);
	m.var[SSI_V_PROFILE_COMPLETENESS].half = -1;
	m.var[SSI_V_ACTIVE_DAYS].daily_cap = 0;
	m.var[SSI_V_CONNECTIONS].prior = 7;
	ck_assert_int_eq(ssi_model_validate(&m, &err), 0);
}
END_TEST

/* Validating and loading agree: a model that loads also validates. */
START_TEST (loaded_models_validate) {
	for (size_t i = 0; i < sizeof(good_values) / sizeof(good_values[0]); i++) {
		json_t *root = default_json();
		struct ssi_model m;
		struct ssi_model_error err;

		set_text_at(root, good_values[i].path, good_values[i].value);
		ck_assert_int_eq(load_tree(root, &m, &err), 0);
		ck_assert_msg(ssi_model_validate(&m, &err) == 0, "%s: %s", err.key, err.message);
		json_decref(root);
	}
}
END_TEST

Suite *model_suite(void)
{
	Suite *s = suite_create("model");
	TCase *tc = tcase_create("default");

	tcase_add_test(tc, default_equals_file);
	tcase_add_test(tc, default_validates);
	tcase_add_test(tc, var_table_is_consistent);
	tcase_add_test(tc, var_table_spot_checks);
	suite_add_tcase(s, tc);

	tc = tcase_create("keys");
	tcase_add_test(tc, every_key_is_required);
	tcase_add_test(tc, unknown_keys_are_rejected_everywhere);
	tcase_add_test(tc, underscore_keys_are_comments);
	tcase_add_test(tc, keys_follow_the_variable_kind);
	tcase_add_test(tc, variable_under_wrong_pillar);
	suite_add_tcase(s, tc);

	tc = tcase_create("values");
	tcase_add_loop_test(tc, bad_value_names_its_key, 0,
			    (int)(sizeof(bad_values) / sizeof(bad_values[0])));
	tcase_add_loop_test(tc, range_edges_load, 0,
			    (int)(sizeof(good_values) / sizeof(good_values[0])));
	tcase_add_test(tc, pillar_weights_must_add_up);
	tcase_add_test(tc, pillar_weight_sum_tolerance);
	tcase_add_test(tc, profile_fields_must_add_up);
	tcase_add_test(tc, edited_model_loads);
	tcase_add_test(tc, failed_load_keeps_the_old_model);
	suite_add_tcase(s, tc);

	tc = tcase_create("syntax");
	tcase_add_test(tc, syntax_error_has_line);
	tcase_add_test(tc, syntax_error_in_model_file);
	tcase_add_test(tc, malformed_documents);
	tcase_add_test(tc, missing_file);
	tcase_add_test(tc, directory_is_not_a_model);
	suite_add_tcase(s, tc);

	tc = tcase_create("validate");
	tcase_add_test(tc, validate_names_keys);
	tcase_add_test(tc, validate_checks_the_version);
	tcase_add_test(tc, validate_ignores_unused_params);
	tcase_add_test(tc, loaded_models_validate);
	suite_add_tcase(s, tc);
	return s;
}
