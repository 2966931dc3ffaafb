/*
 * The fixture's event streams: valid events of a few users with their
 * segments, resends, raw messages with the DLQ reason they must get, their
 * production, and the engine's reference state for each user (see
 * fixture.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "fixture_int.h"
#include "ssi_array.h"
#include "ssi_time.h"

/* ---- event streams ------------------------------------------------------- */

void fx_stream_init(struct fx_stream *s, const char *tag, int nusers)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->tag, sizeof(s->tag), "%s", tag);
	s->nusers = nusers;
}

void fx_stream_free(struct fx_stream *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->ev[i].value);
	free(s->ev);
	memset(s, 0, sizeof(*s));
}

const char *fx_user_id(const struct fx_stream *s, int user, char *buf, size_t len)
{
	snprintf(buf, len, "%s-u%02d", s->tag, user);
	return buf;
}

/* The tenant, team and industry of user ("" for none), fixed per user. */
static const char *user_segment(int user, enum ssi_segment seg)
{
	static const char *const tenants[] = {"acme", "globex", "initech"};
	static const char *const teams[] = {"emea-enterprise", "na-smb"};
	static const char *const industries[] = {"software", "logistics", "banking"};

	switch (seg) {
	case SSI_SEG_TENANT:
		return user % 5 == 4 ? "" : tenants[user % 3];
	case SSI_SEG_TEAM:
		return user % 2 ? "" : teams[(user / 2) % 2];
	case SSI_SEG_INDUSTRY:
		return user % 4 == 3 ? "" : industries[user % 3];
	case SSI_SEG__COUNT:
		break;
	}
	return "";
}

int fx_stream_add_raw(struct fx_stream *s, const char *key, int user, const void *value, size_t len,
		      const char *expect_code)
{
	struct fx_event *ev;

	if (SSI_GROW(s->ev, &s->cap, s->n + 1, 256) < 0)
		return -ENOMEM;
	ev = &s->ev[s->n];
	memset(ev, 0, sizeof(*ev));
	snprintf(ev->key, sizeof(ev->key), "%s", key);
	ev->value = fxi_dup_bytes(value, len);
	if (!ev->value)
		return -ENOMEM;
	ev->len = len;
	ev->user = user;
	snprintf(ev->expect_code, sizeof(ev->expect_code), "%s", expect_code ? expect_code : "");
	ev->partition = -1;
	ev->offset = -1;
	s->n++;
	return 0;
}

static const char *yes_no(struct t_rng *rng)
{
	return t_below(rng, 2) ? "true" : "false";
}

/* The attrs object an event of type t needs (or may carry), into buf. */
static void random_attrs(char *buf, size_t len, enum ssi_event_type t, struct t_rng *rng,
			 uint64_t seq)
{
	switch (t) {
	case SSI_EV_PROFILE_UPDATED:
		snprintf(buf, len,
			 ",\"attrs\":{\"photo\":%s,\"background_photo\":%s,\"headline\":%s,"
			 "\"summary\":%s,\"experience\":%s,\"skills\":%d,\"featured_media\":%d}",
			 yes_no(rng), yes_no(rng), yes_no(rng), yes_no(rng), yes_no(rng),
			 (int)t_below(rng, 20), (int)t_below(rng, 5));
		break;
	case SSI_EV_SEARCH_PERFORMED:
		snprintf(buf, len, ",\"attrs\":{\"filters\":%d}", (int)t_below(rng, 4));
		break;
	case SSI_EV_PROFILE_VIEWED:
		snprintf(buf, len, ",\"attrs\":{\"degree\":%d}", 1 + (int)t_below(rng, 3));
		break;
	case SSI_EV_CONNECTION_ADDED:
	case SSI_EV_CONNECTION_REMOVED:
		snprintf(
		    buf, len,
		    ",\"attrs\":{\"connection_id\":\"c%llu\",\"seniority\":\"%s\","
		    "\"same_company\":%s}",
		    (unsigned long long)seq,
		    ssi_seniority_name((enum ssi_seniority)(1 + t_below(rng, SSI_SEN__COUNT - 1))),
		    yes_no(rng));
		break;
	default:
		snprintf(buf, len, "%s", t_below(rng, 4) ? "" : ",\"attrs\":{}");
		break;
	}
}

/* A resend of an earlier valid event of the stream, or -ENOENT when there is none yet. */
static int add_resend(struct fx_stream *s, struct t_rng *rng)
{
	size_t from = (size_t)t_below(rng, s->n);

	for (size_t i = 0; i < s->n; i++) {
		const struct fx_event *e = &s->ev[(from + i) % s->n];

		if (e->user >= 0 && !e->expect_code[0]) {
			char key[SSI_ID_MAX + 1];

			snprintf(key, sizeof(key), "%s", e->key);
			return fx_stream_add_raw(s, key, e->user, e->value, e->len, "");
		}
	}
	return -ENOENT;
}

/* One valid event of type t for user; the first carries all of the user's segments. */
static int add_event(struct fx_stream *s, struct t_rng *rng, int user, enum ssi_event_type t,
		     bool first)
{
	uint64_t seq = s->seq++;
	char json[1024], attrs[512], segs[256] = "", when[SSI_TIME_BUFLEN], user_id[64];
	size_t off = 0;
	int64_t at;

	for (int g = 0; g < SSI_SEG__COUNT; g++) {
		const char *v = user_segment(user, (enum ssi_segment)g);

		if (v[0] && (first || t_below(rng, 4) == 0))
			off += (size_t)snprintf(segs + off, sizeof(segs) - off, ",\"%s\":\"%s\"",
						ssi_segment_name((enum ssi_segment)g), v);
	}
	at = FX_NOW_MS - 60000 - (int64_t)t_below(rng, 21 * T_DAY);
	ssi_time_format(at, when);
	random_attrs(attrs, sizeof(attrs), t, rng, seq);
	fx_user_id(s, user, user_id, sizeof(user_id));
	snprintf(json, sizeof(json),
		 "{\"event_id\":\"%s-e%llu\",\"user_id\":\"%s\",\"type\":\"%s\","
		 "\"occurred_at\":\"%s\"%s%s}",
		 s->tag, (unsigned long long)seq, user_id, ssi_event_type_name(t), when, segs,
		 attrs);
	return fx_stream_add_raw(s, user_id, user, json, strlen(json), "");
}

int fx_stream_add_random(struct fx_stream *s, struct t_rng *rng, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t seq = s->seq;
		bool first = seq < (uint64_t)s->nusers;
		int r;

		if (!first && t_below(rng, 30) == 0 && add_resend(s, rng) == 0)
			continue;
		if (first)
			r = add_event(s, rng, (int)seq, SSI_EV_PROFILE_UPDATED, true);
		else if (seq - (uint64_t)s->nusers < SSI_EV__COUNT)
			r = add_event(s, rng, (int)t_below(rng, (uint64_t)s->nusers),
				      (enum ssi_event_type)(seq - (uint64_t)s->nusers), false);
		else
			r = add_event(s, rng, (int)t_below(rng, (uint64_t)s->nusers),
				      (enum ssi_event_type)t_below(rng, SSI_EV__COUNT), false);
		if (r < 0)
			return r;
	}
	return 0;
}

int fx_stream_add_each_user(struct fx_stream *s, struct t_rng *rng, enum ssi_event_type t)
{
	for (int u = 0; u < s->nusers; u++) {
		int r = add_event(s, rng, u, t, false);

		if (r < 0)
			return r;
	}
	return 0;
}

int fx_produce(struct fx_kafka *k, struct fx_stream *s, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++) {
		struct fx_event *ev = &s->ev[i];

		if (fxi_produce_one(k->producer, k->input, ev->key, strlen(ev->key), ev->value,
				    ev->len, NULL, ev))
			return -EIO;
	}
	return fxi_flush_delivered(k->producer, s, from, to);
}

int fx_reference_state(const struct fx_stream *s, int user, size_t upto, const struct ssi_model *m,
		       struct ssi_state *out, size_t *applied, size_t *duplicates)
{
	struct ssi_event_limits lim = {.max_bytes = m->max_event_bytes};
	bool touched = false;

	ssi_state_clear(out);
	for (size_t i = 0; i < upto && i < s->n; i++) {
		const struct fx_event *e = &s->ev[i];
		struct ssi_event ev;
		struct ssi_reject why;
		int r;

		if (e->user != user || e->expect_code[0])
			continue;
		if (ssi_event_parse(e->value, e->len, &lim, &ev, &why) < 0 ||
		    ssi_event_check_time(&ev, m->window_days, m->future_tolerance_ms, FX_NOW_MS,
					 &why) < 0)
			return -EINVAL;
		r = ssi_state_apply(out, m, &ev);
		if (r < 0)
			return r;
		if (r == 0 && duplicates)
			(*duplicates)++;
		if (r == 1 && applied)
			(*applied)++;
		touched = true;
	}
	if (touched)
		ssi_state_prune(out, m, FX_NOW_MS);
	return 0;
}

void fx_reference_counts(const struct fx_stream *s, const struct ssi_model *m, size_t *applied,
			 size_t *duplicates)
{
	*applied = *duplicates = 0;
	for (int u = 0; u < s->nusers; u++) {
		struct ssi_state st;

		ssi_state_init(&st);
		ck_assert_int_eq(fx_reference_state(s, u, s->n, m, &st, applied, duplicates), 0);
		ssi_state_clear(&st);
	}
}
