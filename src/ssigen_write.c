/*
 * ssigen_write: a draft as an event contract v1 payload (see ssi_event.h).
 * Payloads are written by hand with memcpy-sized appends, ready-made
 * fragments for the segments and a per-day cache of the date part of the
 * timestamp: the generator must outrun the daemon. Every field can be
 * spoiled on the way (struct spoil, see ssigen_spoil.c). See src/ssigen_int.h.
 */
#include <errno.h>
#include <string.h>

#include "ssi_event.h"
#include "ssi_time.h"
#include "ssigen.h"
#include "ssigen_int.h"

static void put_u64(struct out *o, uint64_t v)
{
	char tmp[20];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(o, tmp + i, sizeof(tmp) - i);
}

static void put_hex64(struct out *o, uint64_t v)
{
	static const char digits[] = "0123456789abcdef";
	char tmp[16];

	for (int i = 15; i >= 0; i--) {
		tmp[i] = digits[v & 15];
		v >>= 4;
	}
	put(o, tmp, sizeof(tmp));
}

/*
 * A JSON string. Names and ids come from tables, but this is the one place
 * every string passes, so it escapes whatever JSON requires.
 */
static void put_str(struct out *o, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t run = 0;

	put_lit(o, "\"");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[6];

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		put(o, s + run, i - run);
		run = i + 1;
		esc[0] = '\\';
		if (c == '"' || c == '\\') {
			esc[1] = (char)c;
			put(o, esc, 2);
		} else {
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			put(o, esc, 6);
		}
	}
	put(o, s + run, len - run);
	put_lit(o, "\"");
}

static void put_bool(struct out *o, bool v)
{
	if (v)
		put_lit(o, "true");
	else
		put_lit(o, "false");
}

/* "2026-11-20T10:00:00.250Z": the date part is formatted once per UTC day. */
static void put_time(struct ssigen *g, struct out *o, int64_t ms)
{
	int32_t day = ssi_time_day(ms);
	int64_t into_day = ms - ssi_time_day_start(day);
	unsigned h = (unsigned)(into_day / MS_PER_HOUR);
	unsigned m = (unsigned)(into_day / MS_PER_MINUTE % 60);
	unsigned s = (unsigned)(into_day / 1000 % 60);
	unsigned milli = (unsigned)(into_day % 1000);
	char clock[15];

	if (day != g->date_day) {
		char full[SSI_TIME_BUFLEN];

		ssi_time_format(ssi_time_day_start(day), full);
		memcpy(g->date_text, full, 11); /* YYYY-MM-DDT */
		g->date_day = day;
	}
	clock[0] = '"';
	clock[1] = (char)('0' + h / 10);
	clock[2] = (char)('0' + h % 10);
	clock[3] = ':';
	clock[4] = (char)('0' + m / 10);
	clock[5] = (char)('0' + m % 10);
	clock[6] = ':';
	clock[7] = (char)('0' + s / 10);
	clock[8] = (char)('0' + s % 10);
	clock[9] = '.';
	clock[10] = (char)('0' + milli / 100);
	clock[11] = (char)('0' + milli / 10 % 10);
	clock[12] = (char)('0' + milli % 10);
	clock[13] = 'Z';
	clock[14] = '"';
	put_lit(o, "\"");
	put(o, g->date_text, 11);
	put(o, clock + 1, sizeof(clock) - 1);
}
/* Writes "name":value, unless the spoil says otherwise. Returns false to skip the value. */
static bool put_key(struct out *o, const struct spoil *sp, enum field f, const char *attr,
		    const char *key, size_t key_len, bool *first)
{
	bool targeted = sp && sp->field == f && (f != FIELD_ATTR || strcmp(sp->attr, attr) == 0);

	if (targeted && sp->action == SPOIL_OMIT)
		return false;
	if (!*first)
		put_lit(o, ",");
	*first = false;
	put(o, key, key_len);
	if (targeted && sp->action == SPOIL_REPLACE) {
		put(o, sp->raw, sp->raw_len);
		return false;
	}
	if (targeted && sp->action == SPOIL_DUPLICATE) {
		put(o, sp->raw, sp->raw_len);
		put_lit(o, ",");
		put(o, key, key_len);
	}
	return true;
}

#define KEY(o, sp, f, attr, lit, first)                                                            \
	put_key((o), (sp), (f), (attr), (lit), sizeof(lit) - 1, (first))

static void put_connection_id(struct ssigen *g, struct out *o, const struct target *t)
{
	if (t->known) {
		put_str(o, g->user_ids + (size_t)t->user * USER_ID_SLOT, g->user_id_len[t->user]);
		return;
	}
	put_lit(o, "\"ext-");
	put_hex64(o, t->external);
	put_lit(o, "\"");
}

static void put_attrs(struct ssigen *g, struct out *o, const struct draft *d,
		      const struct spoil *sp)
{
	const struct ssi_profile *pr = &d->profile;
	bool first = true;

	switch (d->type) {
	case SSI_EV_PROFILE_UPDATED:
		if (KEY(o, sp, FIELD_ATTR, "photo", "\"photo\":", &first))
			put_bool(o, pr->photo);
		if (KEY(o, sp, FIELD_ATTR, "background_photo", "\"background_photo\":", &first))
			put_bool(o, pr->background_photo);
		if (KEY(o, sp, FIELD_ATTR, "headline", "\"headline\":", &first))
			put_bool(o, pr->headline);
		if (KEY(o, sp, FIELD_ATTR, "summary", "\"summary\":", &first))
			put_bool(o, pr->summary);
		if (KEY(o, sp, FIELD_ATTR, "experience", "\"experience\":", &first))
			put_bool(o, pr->experience);
		if (KEY(o, sp, FIELD_ATTR, "skills", "\"skills\":", &first))
			put_u64(o, pr->skills);
		if (KEY(o, sp, FIELD_ATTR, "featured_media", "\"featured_media\":", &first))
			put_u64(o, pr->featured_media);
		break;
	case SSI_EV_SEARCH_PERFORMED:
		if (KEY(o, sp, FIELD_ATTR, "filters", "\"filters\":", &first))
			put_u64(o, (uint64_t)d->filters);
		break;
	case SSI_EV_PROFILE_VIEWED:
		if (KEY(o, sp, FIELD_ATTR, "degree", "\"degree\":", &first))
			put_u64(o, (uint64_t)d->degree);
		break;
	case SSI_EV_SESSION_STARTED:
		/* Not in the contract: exercises the forward-compatible path. */
		if (KEY(o, sp, FIELD_ATTR, "device", "\"device\":", &first)) {
			if (d->mobile)
				put_lit(o, "\"mobile\"");
			else
				put_lit(o, "\"desktop\"");
		}
		break;
	case SSI_EV_CONNECTION_ADDED:
	case SSI_EV_CONNECTION_REMOVED: {
		const char *sen = ssi_seniority_name(d->other.seniority);

		if (KEY(o, sp, FIELD_ATTR, "connection_id", "\"connection_id\":", &first))
			put_connection_id(g, o, &d->other);
		if (KEY(o, sp, FIELD_ATTR, "seniority", "\"seniority\":", &first))
			put_str(o, sen, strlen(sen));
		if (KEY(o, sp, FIELD_ATTR, "same_company", "\"same_company\":", &first))
			put_bool(o, d->other.same_company);
		break;
	}
	default:
		break;
	}
}

static bool type_has_attrs(enum ssi_event_type t)
{
	return t == SSI_EV_PROFILE_UPDATED || t == SSI_EV_SEARCH_PERFORMED ||
	       t == SSI_EV_PROFILE_VIEWED || t == SSI_EV_SESSION_STARTED ||
	       t == SSI_EV_CONNECTION_ADDED || t == SSI_EV_CONNECTION_REMOVED;
}

/* The event as JSON, with at most one field spoiled (sp NULL: none). */
void gen_put_event(struct ssigen *g, struct out *o, const struct draft *d, const struct spoil *sp)
{
	const struct gen_user *u = &g->users[d->user];
	const struct segment_text *seg = &g->teams[u->team];
	const char *type_name = ssi_event_type_name(d->type);
	bool first = true;

	put_lit(o, "{");
	if (KEY(o, sp, FIELD_EVENT_ID, NULL, "\"event_id\":", &first)) {
		put(o, g->event_id_prefix, g->event_id_prefix_len);
		put_u64(o, g->event_seq);
		put_lit(o, "\"");
	}
	if (KEY(o, sp, FIELD_USER_ID, NULL, "\"user_id\":", &first))
		put_str(o, g->user_ids + (size_t)d->user * USER_ID_SLOT, g->user_id_len[d->user]);
	if (KEY(o, sp, FIELD_TYPE, NULL, "\"type\":", &first))
		put_str(o, type_name, g->type_name_len[d->type]);
	if (KEY(o, sp, FIELD_OCCURRED_AT, NULL, "\"occurred_at\":", &first))
		put_time(g, o, d->at_ms);
	if (!sp || sp->field < FIELD_TENANT || sp->field > FIELD_INDUSTRY) {
		put(o, seg->fragment, seg->fragment_len);
		put(o, g->industry_fragment[u->industry], g->industry_fragment_len[u->industry]);
	} else {
		const char *ind = gen_industry_names[u->industry];

		if (KEY(o, sp, FIELD_TENANT, NULL, "\"tenant\":", &first))
			put_str(o, seg->tenant, strlen(seg->tenant));
		if (KEY(o, sp, FIELD_TEAM, NULL, "\"team\":", &first))
			put_str(o, seg->team, strlen(seg->team));
		if (KEY(o, sp, FIELD_INDUSTRY, NULL, "\"industry\":", &first))
			put_str(o, ind, strlen(ind));
	}
	if (type_has_attrs(d->type) || (sp && sp->field == FIELD_ATTRS)) {
		if (KEY(o, sp, FIELD_ATTRS, NULL, "\"attrs\":", &first)) {
			put_lit(o, "{");
			put_attrs(g, o, d, sp);
			put_lit(o, "}");
		}
	}
	put_lit(o, "}");
}

/*
 * What every event copies: the segments' and industries' JSON fragments, the
 * type names' lengths and the event id prefix. Returns 0 or -EINVAL.
 */
int gen_write_prepare(struct ssigen *g)
{
	/* Ids differ between seeds and between runs started at different times. */
	uint64_t stream = mix64(g->cfg.seed) ^ mix64((uint64_t)g->cfg.start_ms ^ 0x5eedULL);
	struct out o;

	for (uint32_t i = 0; i < g->nteams; i++) {
		struct segment_text *s = &g->teams[i];

		o = (struct out){s->fragment, s->fragment + sizeof(s->fragment), false};
		put_lit(&o, ",\"tenant\":");
		put_str(&o, s->tenant, strlen(s->tenant));
		put_lit(&o, ",\"team\":");
		put_str(&o, s->team, strlen(s->team));
		if (o.overflow)
			return -EINVAL;
		s->fragment_len = (size_t)(o.p - s->fragment);
	}
	for (uint32_t i = 0; i < g->nindustries; i++) {
		o = (struct out){g->industry_fragment[i], g->industry_fragment[i] + NAME_SLOT,
				 false};
		put_lit(&o, ",\"industry\":");
		put_str(&o, gen_industry_names[i], strlen(gen_industry_names[i]));
		if (o.overflow)
			return -EINVAL;
		g->industry_fragment_len[i] = (uint8_t)(o.p - g->industry_fragment[i]);
	}
	for (int t = 0; t < SSI_EV__COUNT; t++) {
		const char *name = ssi_event_type_name((enum ssi_event_type)t);

		if (!name)
			return -EINVAL;
		g->type_name_len[t] = (uint8_t)strlen(name);
	}
	o = (struct out){g->event_id_prefix, g->event_id_prefix + sizeof(g->event_id_prefix),
			 false};
	put_lit(&o, "\"ev-");
	put_hex64(&o, stream);
	put_lit(&o, "-");
	g->event_id_prefix_len = (size_t)(o.p - g->event_id_prefix);
	return 0;
}
