/*
 * ssictl_forecast: forecast USER [--days N] (the idle score at each of the
 * next day boundaries and what ages out) and whatif USER TYPE[=COUNT]...
 * (the score now if those events happened now), both computed here from the
 * rep's stored state by the engine (ssi_forecast.h). See ssictl_int.h.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "ssi_forecast.h"
#include "ssi_time.h"
#include "ssid_store.h"
#include "ssictl_int.h"

/* A UTC day number as "YYYY-MM-DD". */
static void date_of(int32_t day, char buf[SSI_TIME_BUFLEN])
{
	ssi_time_format(ssi_time_day_start(day), buf);
	buf[10] = '\0';
}

/* The lines every answer starts with. */
static void head_text(struct ctl *c, const char *user)
{
	char when[SSI_TIME_BUFLEN];

	ssi_time_format(c->now_ms, when);
	fprintf(c->out, "%-15s", "user");
	ssictl_put_clean(c->out, user, 0);
	fprintf(c->out, "\n%-15s%s\n%-15s%s\n", "as of", when, "model", c->model.version);
}

static json_t *head_json(struct ctl *c, const char *user)
{
	json_t *o = json_object();
	char when[SSI_TIME_BUFLEN];

	ssi_time_format(c->now_ms, when);
	json_object_set_new(o, "user_id", json_string(user));
	json_object_set_new(o, "as_of", json_string(when));
	json_object_set_new(o, "model_version", json_string(c->model.version));
	return o;
}

/* "posts -1.20 (3), active_days -0.41 (1)", or "-" when nothing is lost. */
static void losses_text(FILE *f, const struct ssi_forecast_day *d)
{
	char b[16];

	if (d->nlosses == 0)
		fputc('-', f);
	for (int i = 0; i < d->nlosses; i++)
		fprintf(f, "%s%s -%s (%u)", i ? ", " : "", ssi_var_info(d->loss[i].var)->name,
			ssictl_cp(d->loss[i].lost_cp, b, sizeof(b)), d->loss[i].aged);
}

static void forecast_text(struct ctl *c, const char *user, const struct ssi_score *now,
			  const struct ssi_forecast_day *fc, int days)
{
	char date[SSI_TIME_BUFLEN], b[5][16];

	head_text(c, user);
	fprintf(c->out, "%-15s%s\n\n", "SSI now", ssictl_cp(now->total, b[0], sizeof(b[0])));
	fprintf(c->out, "%-10s %7s %7s %7s %9s %14s  %s\n", "date", "SSI", "brand", "people",
		"insights", "relationships", "ages out");
	for (int k = 0; k < days; k++) {
		date_of(fc[k].day, date);
		fprintf(c->out, "%-10s %7s %7s %7s %9s %14s  ", date,
			ssictl_cp(fc[k].score.total, b[0], sizeof(b[0])),
			ssictl_cp(fc[k].score.pillar[0], b[1], sizeof(b[1])),
			ssictl_cp(fc[k].score.pillar[1], b[2], sizeof(b[2])),
			ssictl_cp(fc[k].score.pillar[2], b[3], sizeof(b[3])),
			ssictl_cp(fc[k].score.pillar[3], b[4], sizeof(b[4])));
		losses_text(c->out, &fc[k]);
		fputc('\n', c->out);
	}
	fflush(c->out);
}

static int forecast_json(struct ctl *c, const char *user, const struct ssi_score *now,
			 const struct ssi_forecast_day *fc, int days)
{
	json_t *o = head_json(c, user), *arr = json_array();
	char date[SSI_TIME_BUFLEN];

	json_object_set_new(o, "score", ssictl_score_json(now));
	for (int k = 0; k < days; k++) {
		json_t *d = json_object(), *sc = ssictl_score_json(&fc[k].score),
		       *losses = json_array();

		date_of(fc[k].day, date);
		json_object_set_new(d, "date", json_string(date));
		json_object_update(d, sc);
		json_decref(sc);
		date_of(fc[k].aged_day, date);
		json_object_set_new(d, "aged_day", json_string(date));
		for (int i = 0; i < fc[k].nlosses; i++)
			json_array_append_new(
			    losses, json_pack("{s:s, s:o, s:i}", "variable",
					      ssi_var_info(fc[k].loss[i].var)->name, "lost",
					      ssictl_points_json(fc[k].loss[i].lost_cp), "aged",
					      (int)fc[k].loss[i].aged));
		json_object_set_new(d, "losses", losses);
		json_array_append_new(arr, d);
	}
	json_object_set_new(o, "days", arr);
	return ssictl_emit(c, o);
}

int ssictl_cmd_forecast(struct ctl *c, const char *user)
{
	struct ssi_forecast_day *fc = calloc((size_t)c->days, sizeof(*fc));
	struct ssi_state st;
	struct ssi_score now;
	int r;

	ssi_state_init(&st);
	if (!fc) {
		r = ssictl_fail(c, SSICTL_EXIT_SOFTWARE, "out of memory");
		goto out;
	}
	r = ssictl_read_record(c, user, &st, NULL, NULL);
	if (r != 0)
		goto out;
	ssi_score(&st, &c->model, c->now_ms, &now);
	if (ssi_forecast(&st, &c->model, c->now_ms, c->days, fc) < 0) {
		r = ssictl_fail(c, SSICTL_EXIT_SOFTWARE, "cannot forecast from %lld",
				(long long)c->now_ms);
		goto out;
	}
	if (c->json)
		r = forecast_json(c, user, &now, fc, c->days);
	else
		forecast_text(c, user, &now, fc, c->days);
out:
	ssi_state_clear(&st);
	free(fc);
	return r;
}

/* "TYPE" or "TYPE=COUNT": 0 or a usage error's exit code. */
static int parse_action(struct ctl *c, const char *arg, struct ssi_whatif_action *a)
{
	const char *eq = strchr(arg, '=');
	size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
	int type = ssi_event_type_from_name(arg, len);

	if (type < 0)
		return ssictl_usage_error(c, "unknown event type '%.*s'", (int)len, arg);
	if (type == SSI_EV_PROFILE_UPDATED)
		return ssictl_usage_error(c, "profile_updated is not an action: try 'score USER "
					     "--explain'");
	a->type = (enum ssi_event_type)type;
	a->count = 1;
	if (eq) {
		char *end;
		long v;

		errno = 0;
		v = strtol(eq + 1, &end, 10);
		if (errno || end == eq + 1 || *end || v < 1 || v > SSI_WHATIF_COUNT_MAX)
			return ssictl_usage_error(c, "%s: COUNT, 1 to %d", arg,
						  SSI_WHATIF_COUNT_MAX);
		a->count = (int)v;
	}
	return 0;
}

/* "+1.50" or "-0.25". */
static const char *signed_cp(int cp, char *buf, size_t len)
{
	buf[0] = cp < 0 ? '-' : '+';
	ssi_score_format(cp < 0 ? -cp : cp, buf + 1, len - 1);
	return buf;
}

static void whatif_text(struct ctl *c, const char *user, const struct ssi_whatif_action *a, int n,
			const struct ssi_whatif *w)
{
	char b[3][16];

	head_text(c, user);
	fprintf(c->out, "%-15s", "actions");
	for (int i = 0; i < n; i++)
		fprintf(c->out, "%s%s=%d", i ? ", " : "", ssi_event_type_name(a[i].type),
			a[i].count);
	fprintf(c->out, "\n\n%-15s %7s %8s %7s\n", "", "now", "what-if", "gain");
	fprintf(c->out, "%-15s %7s %8s %7s\n", "SSI", ssictl_cp(w->before.total, b[0], 16),
		ssictl_cp(w->after.total, b[1], 16),
		signed_cp(w->after.total - w->before.total, b[2], 16));
	for (int p = 0; p < SSI_PILLAR__COUNT; p++)
		fprintf(c->out, "%-15s %7s %8s %7s\n", ssi_pillar_name((enum ssi_pillar)p),
			ssictl_cp(w->before.pillar[p], b[0], 16),
			ssictl_cp(w->after.pillar[p], b[1], 16),
			signed_cp(w->after.pillar[p] - w->before.pillar[p], b[2], 16));
	fflush(c->out);
}

static int whatif_json(struct ctl *c, const char *user, const struct ssi_whatif_action *a, int n,
		       const struct ssi_whatif *w)
{
	json_t *o = head_json(c, user), *acts = json_array(), *gain = json_object(),
	       *gp = json_object();

	for (int i = 0; i < n; i++)
		json_array_append_new(acts, json_pack("{s:s, s:i}", "type",
						      ssi_event_type_name(a[i].type), "count",
						      a[i].count));
	json_object_set_new(o, "actions", acts);
	json_object_set_new(o, "now", ssictl_score_json(&w->before));
	json_object_set_new(o, "whatif", ssictl_score_json(&w->after));
	json_object_set_new(gain, "ssi", ssictl_points_json(w->after.total - w->before.total));
	for (int p = 0; p < SSI_PILLAR__COUNT; p++)
		json_object_set_new(gp, ssi_pillar_name((enum ssi_pillar)p),
				    ssictl_points_json(w->after.pillar[p] - w->before.pillar[p]));
	json_object_set_new(gain, "pillars", gp);
	json_object_set_new(o, "gain", gain);
	return ssictl_emit(c, o);
}

/* Check the actions before anything is read, so that a typo is a usage error. */
int ssictl_whatif_actions(struct ctl *c, int nargs, char **args,
			  struct ssi_whatif_action a[SSI_WHATIF_ACTIONS_MAX])
{
	if (nargs > SSI_WHATIF_ACTIONS_MAX)
		return ssictl_usage_error(c, "at most %d actions", SSI_WHATIF_ACTIONS_MAX);
	for (int i = 0; i < nargs; i++) {
		int r = parse_action(c, args[i], &a[i]);

		if (r != 0)
			return r;
	}
	return 0;
}

int ssictl_cmd_whatif(struct ctl *c, const char *user, const struct ssi_whatif_action *a, int n)
{
	struct ssi_state st;
	struct ssi_whatif w;
	int r;

	ssi_state_init(&st);
	r = ssictl_read_record(c, user, &st, NULL, NULL);
	if (r == 0) {
		r = ssi_whatif(&st, &c->model, c->now_ms, a, n, &w);
		if (r < 0)
			r = ssictl_fail(c, SSICTL_EXIT_SOFTWARE, "%s",
					r == -ENOMEM ? "out of memory"
						     : "cannot apply the actions");
		else if (c->json)
			r = whatif_json(c, user, a, n, &w);
		else
			whatif_text(c, user, a, n, &w);
	}
	ssi_state_clear(&st);
	return r;
}
