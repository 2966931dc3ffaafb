/*
 * ssictl_score: score USER [--explain]: the rep's stored state scored now,
 * as the daemon would, with the score last published. See ssictl_int.h.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "ssi_event.h"
#include "ssi_history.h"
#include "ssi_score.h"
#include "ssi_state.h"
#include "ssi_time.h"
#include "ssid_store.h"
#include "ssictl_int.h"

/* score as aligned "key  value" lines. */
static void score_text(struct ctl *c, const char *user, const struct ssi_state *st,
		       const struct ssi_score *sc, const struct ssid_published *pub, int pub_state)
{
	static const char *const seg_label[SSI_SEG__COUNT] = {"tenant", "team", "industry"};
	char when[SSI_TIME_BUFLEN], b[16];

	ssi_time_format(c->now_ms, when);
	fprintf(c->out, "%-15s", "user");
	ssictl_put_clean(c->out, user, 0);
	fprintf(c->out, "\n%-15s%s\n", "as of", when);
	fprintf(c->out, "%-15s%s\n", "model", c->model.version);
	fprintf(c->out, "%-15s%s\n", "SSI", ssictl_cp(sc->total, b, sizeof(b)));
	for (int p = 0; p < SSI_PILLAR__COUNT; p++)
		fprintf(c->out, "%-15s%s\n", ssi_pillar_name((enum ssi_pillar)p),
			ssictl_cp(sc->pillar[p], b, sizeof(b)));
	for (int s = 0; s < SSI_SEG__COUNT; s++) {
		fprintf(c->out, "%-15s", seg_label[s]);
		ssictl_put_clean(c->out, st->segment[s][0] ? st->segment[s] : "-", 0);
		fputc('\n', c->out);
	}
	fprintf(c->out, "%-15s", "published");
	if (pub_state == 0) {
		fprintf(c->out, "none\n");
	} else if (pub_state < 0) {
		fprintf(c->out, "unreadable\n");
	} else {
		fprintf(c->out, "%s (", ssictl_cp(pub->score.total, b, sizeof(b)));
		for (int p = 0; p < SSI_PILLAR__COUNT; p++)
			fprintf(c->out, "%s%s %s", p ? ", " : "",
				ssi_pillar_name((enum ssi_pillar)p),
				ssictl_cp(pub->score.pillar[p], b, sizeof(b)));
		fputc(')', c->out);
		if (pub->as_of_ms > 0 && pub->as_of_ms <= SSI_TIME_MAX_MS) {
			ssi_time_format(pub->as_of_ms, when);
			fprintf(c->out, " as of %s", when);
		}
		if (pub->model[0]) {
			fprintf(c->out, ", model ");
			ssictl_put_clean(c->out, pub->model, 0);
		}
		fputc('\n', c->out);
	}
}

/* --explain as a table per pillar and variable, then the best actions. */
static void explain_text(struct ctl *c, const struct ssi_explain *ex)
{
	char b[16], h[16];

	fprintf(c->out, "\n%-24s %8s %8s %9s\n", "pillar / variable", "value", "points",
		"headroom");
	for (int p = 0; p < SSI_PILLAR__COUNT; p++) {
		fprintf(c->out, "%-24s %8s %8s %9s\n", ssi_pillar_name((enum ssi_pillar)p), "",
			ssictl_cp(ex->score.pillar[p], b, sizeof(b)),
			ssictl_cp(SSI_HISTORY_PILLAR_MAX - ex->score.pillar[p], h, sizeof(h)));
		for (int v = 0; v < SSI_V__COUNT; v++) {
			const struct ssi_var_info *vi = ssi_var_info((enum ssi_variable)v);

			if (vi->pillar != (enum ssi_pillar)p)
				continue;
			fprintf(c->out, "  %-22s %8.2f %8.2f %9.2f\n", vi->name, ex->var[v].x,
				ex->var[v].points, ex->var[v].headroom);
		}
	}
	fprintf(c->out, "\ntop actions\n");
	if (ex->nactions == 0)
		fprintf(c->out, "  none: nothing a single action would add\n");
	for (int i = 0; i < ex->nactions; i++)
		fprintf(c->out, "  %d. %-44s +%-6s %s\n", i + 1, ex->action[i].text,
			ssictl_cp(ex->action[i].gain, b, sizeof(b)),
			ssi_pillar_name(ex->action[i].pillar));
}

/* --explain in JSON, variables grouped under their pillar. */
static json_t *explain_json(const struct ssi_explain *ex)
{
	json_t *o = json_object(), *pillars = json_array(), *actions = json_array();

	for (int p = 0; p < SSI_PILLAR__COUNT; p++) {
		json_t *po = json_object(), *vars = json_array();

		json_object_set_new(po, "pillar", json_string(ssi_pillar_name((enum ssi_pillar)p)));
		json_object_set_new(po, "points", ssictl_points_json(ex->score.pillar[p]));
		json_object_set_new(
		    po, "headroom",
		    ssictl_points_json(SSI_HISTORY_PILLAR_MAX - ex->score.pillar[p]));
		for (int v = 0; v < SSI_V__COUNT; v++) {
			const struct ssi_var_info *vi = ssi_var_info((enum ssi_variable)v);

			if (vi->pillar != (enum ssi_pillar)p)
				continue;
			json_array_append_new(
			    vars, json_pack("{s:s, s:f, s:f, s:f, s:f}", "name", vi->name, "value",
					    ex->var[v].x, "fraction", ex->var[v].fraction, "points",
					    ex->var[v].points, "headroom", ex->var[v].headroom));
		}
		json_object_set_new(po, "variables", vars);
		json_array_append_new(pillars, po);
	}
	for (int i = 0; i < ex->nactions; i++)
		json_array_append_new(actions,
				      json_pack("{s:s, s:s, s:o}", "text", ex->action[i].text,
						"pillar", ssi_pillar_name(ex->action[i].pillar),
						"gain", ssictl_points_json(ex->action[i].gain)));
	json_object_set_new(o, "pillars", pillars);
	json_object_set_new(o, "actions", actions);
	return o;
}

int ssictl_read_record(struct ctl *c, const char *user, struct ssi_state *st,
		       struct ssid_published *pub, int *pub_state)
{
	enum { P = SSID_STORE_STATE_PARTS };
	uint8_t joined[SSID_STORE_STATE_PART * SSID_STORE_STATE_PARTS];
	char key[SSI_ID_MAX + 512];
	const uint8_t *state;
	redisReply *reply;
	long len;
	int r = 0;

	if ((size_t)ssid_store_key(c->store, user, key, sizeof(key)) >= sizeof(key))
		return ssictl_usage_error(c, "key prefix too long");
	reply = ssid_store_command(c->store, "HMGET %s " SSID_STORE_STATE_FIELDS " p", key);
	if (!reply)
		return ssictl_redis_error(c, -EIO, ssid_store_errstr(c->store));
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != P + 1) {
		r = ssictl_fail(c, SSICTL_EXIT_UNREADABLE, "record of '%s': %s", user,
				reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
		goto out;
	}
	len = ssid_store_state_join(reply->element, joined, &state);
	if (len < 0) {
		r = ssictl_unknown_user(c, user);
		goto out;
	}
	r = ssi_state_decode(st, state, (size_t)len);
	if (r == -ENOMEM) {
		r = ssictl_fail(c, SSICTL_EXIT_SOFTWARE, "out of memory");
		goto out;
	}
	if (r < 0) {
		r = ssictl_fail(
		    c, SSICTL_EXIT_UNREADABLE, "the stored state of '%s' is unreadable: %s", user,
		    r == -EPROTONOSUPPORT ? "written by a newer ssid" : "corrupt or truncated");
		goto out;
	}
	if (pub_state)
		*pub_state = reply->element[P]->type != REDIS_REPLY_STRING ? 0
			     : ssid_store_published_parse(reply->element[P]->str,
							  reply->element[P]->len, pub)
				 ? 1
				 : -1;
out:
	freeReplyObject(reply);
	return r;
}

/* score: decode the stored state and score it now, as the daemon would. */
int ssictl_cmd_score(struct ctl *c, const char *user)
{
	static const char *const seg_label[SSI_SEG__COUNT] = {"tenant", "team", "industry"};
	char when[SSI_TIME_BUFLEN];
	struct ssi_state st;
	struct ssi_score sc;
	struct ssi_explain ex;
	struct ssid_published pub;
	int r, pub_state = 0;

	ssi_state_init(&st);
	r = ssictl_read_record(c, user, &st, &pub, &pub_state);
	if (r != 0)
		goto out;
	ssi_score(&st, &c->model, c->now_ms, &sc);
	if ((c->opts & OPT_EXPLAIN) && ssi_explain(&st, &c->model, c->now_ms, &ex) < 0) {
		r = ssictl_fail(c, SSICTL_EXIT_SOFTWARE, "out of memory");
		goto out;
	}
	if (c->json) {
		json_t *o = json_object(), *segs = json_object(), *p;

		json_object_set_new(o, "user_id", json_string(user));
		ssi_time_format(c->now_ms, when);
		json_object_set_new(o, "as_of", json_string(when));
		json_object_set_new(o, "model_version", json_string(c->model.version));
		json_object_set_new(o, "score", ssictl_score_json(&sc));
		for (int s = 0; s < SSI_SEG__COUNT; s++)
			json_object_set_new(segs, seg_label[s],
					    ssictl_string_or_null(st.segment[s]));
		json_object_set_new(o, "segments", segs);
		if (pub_state > 0) {
			p = ssictl_score_json(&pub.score);
			if (pub.as_of_ms > 0 && pub.as_of_ms <= SSI_TIME_MAX_MS) {
				ssi_time_format(pub.as_of_ms, when);
				json_object_set_new(p, "as_of", json_string(when));
			}
			if (pub.model[0])
				json_object_set_new(p, "model_version", json_string(pub.model));
		} else {
			p = pub_state < 0 ? json_string("unreadable") : json_null();
		}
		json_object_set_new(o, "published", p);
		if (c->opts & OPT_EXPLAIN)
			json_object_set_new(o, "explain", explain_json(&ex));
		r = ssictl_emit(c, o);
	} else {
		score_text(c, user, &st, &sc, &pub, pub_state);
		if (c->opts & OPT_EXPLAIN)
			explain_text(c, &ex);
		fflush(c->out);
	}
out:
	ssi_state_clear(&st);
	return r;
}
