/*
 * ssictl_out: what every command writes: its one-line errors on err, and the
 * pieces its text and JSON are built from on out. See ssictl_int.h.
 */
#include <stdarg.h>
#include <stdio.h>

#include <jansson.h>

#include "ssi_score.h"
#include "ssictl_int.h"

int ssictl_report(struct ctl *c, int code, const char *hint, const char *fmt, ...)
{
	va_list ap;

	fputs("ssictl: ", c->err);
	va_start(ap, fmt);
	vfprintf(c->err, fmt, ap);
	va_end(ap);
	fputc('\n', c->err);
	fputs(hint, c->err);
	fflush(c->err);
	return code;
}

/* Centipoints as the engine prints them ("61.07"), usable inside printf arguments. */
const char *ssictl_cp(int centipoints, char *buf, size_t len)
{
	ssi_score_format(centipoints, buf, len);
	return buf;
}

/* Centipoints as a JSON number of points. */
json_t *ssictl_points_json(double centipoints)
{
	return json_real(centipoints / 100.0);
}

/* {"ssi": total, "pillars": {...}}, the shape score.updated uses. */
json_t *ssictl_score_json(const struct ssi_score *s)
{
	json_t *o = json_object(), *p = json_object();

	json_object_set_new(o, "ssi", ssictl_points_json(s->total));
	for (int i = 0; i < SSI_PILLAR__COUNT; i++)
		json_object_set_new(p, ssi_pillar_name((enum ssi_pillar)i),
				    ssictl_points_json(s->pillar[i]));
	json_object_set_new(o, "pillars", p);
	return o;
}

/* Unknown segment values are null in JSON, not "". */
json_t *ssictl_string_or_null(const char *s)
{
	return s && s[0] ? json_string(s) : json_null();
}

/* Print one JSON document on one line and release it. */
int ssictl_emit(struct ctl *c, json_t *root)
{
	int r;

	if (!root)
		return ssictl_fail(c, SSICTL_EXIT_SOFTWARE, "out of memory");
	r = json_dumpf(root, c->out, SSICTL_JSON_FLAGS);
	fputc('\n', c->out);
	json_decref(root);
	fflush(c->out);
	return r < 0 ? ssictl_fail(c, SSICTL_EXIT_SOFTWARE, "cannot write the output") : 0;
}

/* Text fields are printed on one line: control bytes become spaces. */
void ssictl_put_clean(FILE *f, const char *s, int width)
{
	int n = 0;

	for (; *s; s++, n++)
		fputc((unsigned char)*s < ' ' || *s == 0x7f ? ' ' : *s, f);
	for (; n < width; n++)
		fputc(' ', f);
}
