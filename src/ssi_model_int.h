/*
 * ssi_model_int.h: what ssi_model.c (the variable table, the model's shape
 * and its checks) and ssi_model_json.c (reading config/model.json) share,
 * and no other file: one walk over the model's shape.
 *
 * The walk visits every value of a model in the file's order, checks it and
 * names it by its dotted key ("pillars.brand.articles.half"). Validating
 * walks a model alone; loading gives the walk a source, which reads each
 * value out of the file before it is checked and fails on what is missing,
 * of the wrong type or unknown there. So both run the same checks in the
 * same order and report the same keys.
 */
#ifndef SSI_MODEL_INT_H
#define SSI_MODEL_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "ssi_model.h"

struct ssi_model_walk;

/* Whether key may stand in the object being read; ctx is the walk's own. */
typedef bool ssi_model_known_fn(const char *key, const void *ctx);

/*
 * Where loading reads values from. A node is the source's handle on an
 * object of the file (a json_t * for JSON): the root given to
 * ssi_model_visit, or what object() returned. Every function returns 0 or
 * ssi_model_fail's -EINVAL. When one runs, the walk's path already names
 * what it reads: key, or for keys() and misplaced() the object itself.
 */
struct ssi_model_source {
	/* The object at key of parent. */
	int (*object)(struct ssi_model_walk *w, void *parent, const char *key, void **out);
	/* Fail on the first key of obj that known() refuses. */
	int (*keys)(struct ssi_model_walk *w, void *obj, ssi_model_known_fn *known,
		    const void *ctx);
	/* The number at key of parent; it must be an integer when integer is set. */
	int (*number)(struct ssi_model_walk *w, void *parent, const char *key, bool integer,
		      double *out);
	/* The string at key of parent: NUL-terminated, len bytes before the end. */
	int (*string)(struct ssi_model_walk *w, void *parent, const char *key, const char **s,
		      size_t *len);
	/* Fail on a variable put under another pillar than its own in pillars. */
	int (*misplaced)(struct ssi_model_walk *w, void *pillars);
};

/* The walk's position. */
struct ssi_model_walk {
	struct ssi_model *m;		    /* read into, or checked */
	struct ssi_model_error *err;	    /* the first failure */
	const struct ssi_model_source *src; /* NULL: check m as it is */
	/* The dotted key of the value at hand. */
	char path[sizeof(((struct ssi_model_error *)NULL)->key)];
	size_t path_len;
};

/* Append key to the path; returns the mark that takes it off again. */
size_t ssi_model_path_push(struct ssi_model_walk *w, const char *key);
/* Fill *w->err for the value at the path; returns -EINVAL. */
__attribute__((format(printf, 2, 3))) int ssi_model_fail(struct ssi_model_walk *w, const char *fmt,
							 ...);

/*
 * Walk the whole model from root: w->m filled from w->src and checked, or
 * (root and w->src NULL) checked as it is. 0 or -EINVAL with *w->err.
 */
int ssi_model_visit(struct ssi_model_walk *w, void *root);

#endif
