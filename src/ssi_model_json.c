/*
 * ssi_model_json: the JSON loader of the model. Parses a config/model.json
 * buffer (jansson) and feeds it to the model's walk (ssi_model_int.h) as its
 * source: the errors of the file itself are told here (invalid JSON with its
 * line, a key missing, unknown, of the wrong type or under the wrong
 * pillar, each named by its dotted key); the checks on the values read are
 * ssi_model.c's. Reads no file: ssid_file_load_model does.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "ssi_json.h"
#include "ssi_model.h"
#include "ssi_model_int.h"

/* json_typeof()'s types as bits, so that a value may be one of several. */
#define TYPE(t) (1u << (t))

/*
 * The value at key of parent (the key just pushed onto the path), of one of
 * the types in the mask want; what names them in the error ("a number").
 */
static int value_at(struct ssi_model_walk *w, void *parent, const char *key, unsigned want,
		    const char *what, json_t **out)
{
	json_t *j = json_object_get(parent, key);

	if (!j)
		return ssi_model_fail(w, "missing");
	if (!(want & TYPE(json_typeof(j))))
		return ssi_model_fail(w, "must be %s, got %s", what, ssi_json_type_name(j));
	*out = j;
	return 0;
}

static int read_object(struct ssi_model_walk *w, void *parent, const char *key, void **out)
{
	json_t *j = NULL;
	int ret = value_at(w, parent, key, TYPE(JSON_OBJECT), "an object", &j);

	if (ret == 0)
		*out = j;
	return ret;
}

static int read_number(struct ssi_model_walk *w, void *parent, const char *key, bool integer,
		       double *out)
{
	json_t *j = NULL;
	int ret = integer ? value_at(w, parent, key, TYPE(JSON_INTEGER), "an integer", &j)
			  : value_at(w, parent, key, TYPE(JSON_INTEGER) | TYPE(JSON_REAL),
				     "a number", &j);

	if (ret == 0)
		*out = integer ? (double)json_integer_value(j) : json_number_value(j);
	return ret;
}

static int read_string(struct ssi_model_walk *w, void *parent, const char *key, const char **s,
		       size_t *len)
{
	json_t *j = NULL;
	int ret = value_at(w, parent, key, TYPE(JSON_STRING), "a string", &j);

	if (ret == 0) {
		*s = json_string_value(j);
		*len = json_string_length(j);
	}
	return ret;
}

/*
 * A misspelt key would otherwise leave its value at zero without a word, so
 * every key must be known; those starting with '_' are comments.
 */
static int reject_unknown_keys(struct ssi_model_walk *w, void *obj, ssi_model_known_fn *known,
			       const void *ctx)
{
	for (void *it = json_object_iter(obj); it; it = json_object_iter_next(obj, it)) {
		const char *key = json_object_iter_key(it);

		if (key[0] == '_' || known(key, ctx))
			continue;
		ssi_model_path_push(w, key);
		return ssi_model_fail(w, "unknown key");
	}
	return 0;
}

/*
 * A variable filed under the wrong pillar is a likely edit; say where it
 * goes. Checked across all pillars first, so the error names where the
 * variable was put rather than where it is missing from.
 */
static int reject_misplaced_variables(struct ssi_model_walk *w, void *pillars)
{
	for (int p = 0; p < SSI_PILLAR__COUNT; p++) {
		json_t *obj = json_object_get(pillars, ssi_pillar_name((enum ssi_pillar)p));

		if (!json_is_object(obj))
			continue;
		for (int v = 0; v < SSI_V__COUNT; v++) {
			const struct ssi_var_info *info = ssi_var_info((enum ssi_variable)v);

			if (info->pillar == (enum ssi_pillar)p || !json_object_get(obj, info->name))
				continue;
			ssi_model_path_push(w, ssi_pillar_name((enum ssi_pillar)p));
			ssi_model_path_push(w, info->name);
			return ssi_model_fail(w, "belongs to pillar %s, not %s",
					      ssi_pillar_name(info->pillar),
					      ssi_pillar_name((enum ssi_pillar)p));
		}
	}
	return 0;
}

static const struct ssi_model_source json_source = {
    .object = read_object,
    .keys = reject_unknown_keys,
    .number = read_number,
    .string = read_string,
    .misplaced = reject_misplaced_variables,
};

int ssi_model_load_buffer(struct ssi_model *m, const char *json, size_t len,
			  struct ssi_model_error *err)
{
	struct ssi_model_error scratch = {0};
	struct ssi_model loaded;
	struct ssi_model_walk w = {.m = &loaded, .err = err ? err : &scratch, .src = &json_source};
	json_error_t jerr;
	json_t *root;
	int ret;

	memset(w.err, 0, sizeof(*w.err));
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		if (json_error_code(&jerr) == json_error_out_of_memory) {
			snprintf(w.err->message, sizeof(w.err->message), "out of memory");
			return -ENOMEM;
		}
		w.err->line = jerr.line > 0 ? jerr.line : 1;
		snprintf(w.err->message, sizeof(w.err->message), "invalid JSON: %s", jerr.text);
		return -EINVAL;
	}
	memset(&loaded, 0, sizeof(loaded));
	ret = json_is_object(root)
		  ? ssi_model_visit(&w, root)
		  : ssi_model_fail(&w, "must be an object, got %s", ssi_json_type_name(root));
	json_decref(root);
	if (ret < 0)
		return ret;
	/* Only a wholly valid model replaces the caller's, so a bad reload changes nothing. */
	ssi_model_derive(&loaded);
	*m = loaded;
	return 0;
}
