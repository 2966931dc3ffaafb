/*
 * ssigen_spoil: a draft written malformed on purpose, in one of many ways
 * (truncated, not an object, a field missing, empty, of the wrong type or
 * too long, a bad timestamp, invalid UTF-8, NUL bytes, duplicate keys, too
 * deep, garbage, too old, in the future), for the dead-letter demo and tests.
 * Every choice is drawn from bad_rng, so the good traffic does not depend on
 * how much of it is spoiled. See src/ssigen_int.h.
 */
#include <stdio.h>
#include <string.h>

#include "ssi_event.h"
#include "ssi_time.h"
#include "ssigen.h"
#include "ssigen_int.h"

enum bad_kind {
	BAD_TRUNCATED,
	BAD_NOT_OBJECT,
	BAD_MISSING_FIELD,
	BAD_EMPTY_FIELD,
	BAD_UNKNOWN_TYPE,
	BAD_TIMESTAMP,
	BAD_WRONG_TYPE,
	BAD_ATTR_VALUE,
	BAD_TOO_LONG,
	BAD_INVALID_UTF8,
	BAD_NUL_BYTE,
	BAD_ESCAPED_NUL,
	BAD_DUPLICATE_KEY,
	BAD_TOO_DEEP,
	BAD_TRAILING_GARBAGE,
	BAD_GARBAGE,
	BAD_TOO_OLD,
	BAD_IN_FUTURE,
	BAD__COUNT
};

static void spoil_raw(struct spoil *sp, enum field f, enum spoil_action a, const char *raw,
		      size_t len)
{
	sp->field = f;
	sp->action = a;
	if (len > sizeof(sp->raw))
		len = sizeof(sp->raw);
	memcpy(sp->raw, raw, len);
	sp->raw_len = len;
}

#define SPOIL_LIT(sp, f, a, lit) spoil_raw((sp), (f), (a), (lit), sizeof(lit) - 1)

static void spoil_attr(struct spoil *sp, const char *attr, const char *raw, size_t len)
{
	spoil_raw(sp, FIELD_ATTR, SPOIL_REPLACE, raw, len);
	sp->attr = attr;
}

#define SPOIL_ATTR_LIT(sp, attr, lit) spoil_attr((sp), (attr), (lit), sizeof(lit) - 1)

/* Give a draft the type an attribute-level spoil needs, with plausible attrs. */
static void retype(struct ssigen *g, struct draft *d, enum ssi_event_type t)
{
	d->type = t;
	d->profile = g->users[d->user].profile;
	d->filters = 2;
	d->degree = 2;
	if (t == SSI_EV_CONNECTION_ADDED || t == SSI_EV_CONNECTION_REMOVED) {
		memset(&d->other, 0, sizeof(d->other));
		d->other.external = rng_u64(&g->bad_rng);
		d->other.seniority = SSI_SEN_SENIOR;
	}
}

/* A timestamp that RFC 3339 does not allow, built around the real date. */
static void spoil_timestamp(struct ssigen *g, struct draft *d, struct spoil *sp)
{
	char real[SSI_TIME_BUFLEN];
	char raw[64];
	int n;

	ssi_time_format(d->at_ms, real);
	switch (rng_below(&g->bad_rng, 10)) {
	case 0: /* month 13 */
		n = snprintf(raw, sizeof(raw), "\"%.4s-13%s\"", real, real + 7);
		break;
	case 1: /* February 30th */
		n = snprintf(raw, sizeof(raw), "\"%.4s-02-30%s\"", real, real + 10);
		break;
	case 2: /* hour 25 */
		n = snprintf(raw, sizeof(raw), "\"%.11s25%s\"", real, real + 13);
		break;
	case 3: /* a leap second */
		n = snprintf(raw, sizeof(raw), "\"%.17s60%s\"", real, real + 19);
		break;
	case 4: /* no offset */
		n = snprintf(raw, sizeof(raw), "\"%.23s\"", real);
		break;
	case 5: /* offset out of range */
		n = snprintf(raw, sizeof(raw), "\"%.23s+25:00\"", real);
		break;
	case 6: /* epoch milliseconds in a string */
		n = snprintf(raw, sizeof(raw), "\"%lld\"", (long long)d->at_ms);
		break;
	case 7:
		n = snprintf(raw, sizeof(raw), "\"yesterday\"");
		break;
	case 8: /* a date alone */
		n = snprintf(raw, sizeof(raw), "\"%.10s\"", real);
		break;
	default: /* a five-digit year */
		n = snprintf(raw, sizeof(raw), "\"1%s\"", real);
		break;
	}
	spoil_raw(sp, FIELD_OCCURRED_AT, SPOIL_REPLACE, raw, n > 0 ? (size_t)n : 0);
}

static void spoil_wrong_type(struct ssigen *g, struct draft *d, struct spoil *sp)
{
	switch (rng_below(&g->bad_rng, 12)) {
	case 0:
		SPOIL_LIT(sp, FIELD_USER_ID, SPOIL_REPLACE, "12345");
		break;
	case 1:
		SPOIL_LIT(sp, FIELD_EVENT_ID, SPOIL_REPLACE, "{\"id\":1}");
		break;
	case 2:
		SPOIL_LIT(sp, FIELD_TYPE, SPOIL_REPLACE, "9");
		break;
	case 3: {
		char raw[24];
		int n = snprintf(raw, sizeof(raw), "%lld", (long long)d->at_ms);

		spoil_raw(sp, FIELD_OCCURRED_AT, SPOIL_REPLACE, raw, n > 0 ? (size_t)n : 0);
		break;
	}
	case 4:
		SPOIL_LIT(sp, FIELD_TENANT, SPOIL_REPLACE, "true");
		break;
	case 5:
		SPOIL_LIT(sp, FIELD_TEAM, SPOIL_REPLACE, "[\"sales\"]");
		break;
	case 6:
		retype(g, d, SSI_EV_PROFILE_VIEWED);
		SPOIL_LIT(sp, FIELD_ATTRS, SPOIL_REPLACE, "[2]");
		break;
	case 7:
		retype(g, d, SSI_EV_PROFILE_VIEWED);
		SPOIL_ATTR_LIT(sp, "degree", "\"2\"");
		break;
	case 8:
		retype(g, d, SSI_EV_PROFILE_UPDATED);
		SPOIL_ATTR_LIT(sp, "photo", "\"yes\"");
		break;
	case 9:
		retype(g, d, SSI_EV_PROFILE_UPDATED);
		SPOIL_ATTR_LIT(sp, "skills", "\"12\"");
		break;
	case 10:
		retype(g, d, SSI_EV_CONNECTION_ADDED);
		SPOIL_ATTR_LIT(sp, "same_company", "\"no\"");
		break;
	default:
		retype(g, d, SSI_EV_CONNECTION_ADDED);
		SPOIL_ATTR_LIT(sp, "connection_id", "42");
		break;
	}
}

static void spoil_attr_value(struct ssigen *g, struct draft *d, struct spoil *sp)
{
	switch (rng_below(&g->bad_rng, 6)) {
	case 0:
		retype(g, d, SSI_EV_PROFILE_VIEWED);
		SPOIL_ATTR_LIT(sp, "degree", "4");
		break;
	case 1:
		retype(g, d, SSI_EV_PROFILE_VIEWED);
		SPOIL_ATTR_LIT(sp, "degree", "0");
		break;
	case 2:
		retype(g, d, SSI_EV_CONNECTION_ADDED);
		SPOIL_ATTR_LIT(sp, "seniority", "\"intern\"");
		break;
	case 3:
		retype(g, d, SSI_EV_SEARCH_PERFORMED);
		SPOIL_ATTR_LIT(sp, "filters", "-3");
		break;
	case 4:
		retype(g, d, SSI_EV_PROFILE_UPDATED);
		SPOIL_ATTR_LIT(sp, "skills", "-1");
		break;
	default: /* degree is the one attribute the contract requires */
		retype(g, d, SSI_EV_PROFILE_VIEWED);
		sp->field = FIELD_ATTR;
		sp->action = SPOIL_OMIT;
		sp->attr = "degree";
		break;
	}
}

static void spoil_too_long(struct ssigen *g, struct draft *d, struct spoil *sp)
{
	static const enum field fields[] = {FIELD_USER_ID, FIELD_EVENT_ID, FIELD_TENANT,
					    FIELD_ATTR};
	char raw[SSI_ID_MAX + 80];
	size_t len = SSI_ID_MAX + 1 + rng_below(&g->bad_rng, 64);
	enum field f = fields[rng_below(&g->bad_rng, 4)];

	raw[0] = '"';
	for (size_t i = 1; i <= len; i++)
		raw[i] = (char)('a' + (i % 26));
	raw[len + 1] = '"';
	if (f == FIELD_ATTR) {
		retype(g, d, SSI_EV_CONNECTION_ADDED);
		spoil_attr(sp, "connection_id", raw, len + 2);
		return;
	}
	spoil_raw(sp, f, SPOIL_REPLACE, raw, len + 2);
}

static void spoil_invalid_utf8(struct ssigen *g, struct spoil *sp)
{
	static const struct {
		const char *bytes;
		size_t len;
	} broken[] = {
	    {"\"caf\xc3\x28\"", 7},	 /* a lead byte without its continuation */
	    {"\"\xa0\xa1-team\"", 9},	 /* lone continuation bytes */
	    {"\"ops\xc0\xaf\"", 7},	 /* an overlong slash */
	    {"\"x\xed\xa0\x80y\"", 7},	 /* a UTF-16 surrogate */
	    {"\"\xf4\x90\x80\x80\"", 6}, /* beyond U+10FFFF */
	    {"\"sales\xff\"", 8},	 /* a byte that never occurs */
	};
	static const enum field fields[] = {FIELD_TEAM, FIELD_TENANT, FIELD_USER_ID,
					    FIELD_INDUSTRY};
	uint32_t i = rng_below(&g->bad_rng, sizeof(broken) / sizeof(broken[0]));

	spoil_raw(sp, fields[rng_below(&g->bad_rng, 4)], SPOIL_REPLACE, broken[i].bytes,
		  broken[i].len);
}

/* Bytes that are no event at all; printable, so JSON-lines output stays line-framed. */
static size_t garbage(struct ssigen *g, char *buf, size_t cap)
{
	static const char alphabet[] = "abcdefxyz0123456789{}[]:,\" -_.!?<>";
	size_t len = rng_below(&g->bad_rng, 61);

	if (len > cap)
		len = cap;
	for (size_t i = 0; i < len; i++)
		buf[i] = alphabet[rng_below(&g->bad_rng, sizeof(alphabet) - 1)];
	return len;
}

/* Write the draft spoiled in one of many ways, for dead-letter demos and tests. */
void gen_put_bad_event(struct ssigen *g, struct out *o, struct draft *d)
{
	enum bad_kind kind = (enum bad_kind)rng_below(&g->bad_rng, BAD__COUNT);
	struct spoil sp;
	char *start = o->p;

	memset(&sp, 0, sizeof(sp));
	sp.field = FIELD_NONE;
	switch (kind) {
	case BAD_TRUNCATED: {
		size_t len;

		gen_put_event(g, o, d, NULL);
		len = (size_t)(o->p - start);
		o->p = start + 1 + rng_below(&g->bad_rng, (uint32_t)(len - 1));
		return;
	}
	case BAD_NOT_OBJECT:
		switch (rng_below(&g->bad_rng, 4)) {
		case 0:
			put_lit(o, "[");
			gen_put_event(g, o, d, NULL);
			put_lit(o, "]");
			break;
		case 1:
			put_lit(o, "\"profile_updated\"");
			break;
		case 2:
			put_lit(o, "42");
			break;
		default:
			put_lit(o, "null");
			break;
		}
		return;
	case BAD_MISSING_FIELD: {
		static const enum field required[] = {FIELD_EVENT_ID, FIELD_USER_ID, FIELD_TYPE,
						      FIELD_OCCURRED_AT};

		sp.field = required[rng_below(&g->bad_rng, 4)];
		sp.action = SPOIL_OMIT;
		break;
	}
	case BAD_EMPTY_FIELD: {
		static const enum field fields[] = {FIELD_USER_ID, FIELD_EVENT_ID, FIELD_TENANT,
						    FIELD_TEAM, FIELD_INDUSTRY};

		SPOIL_LIT(&sp, fields[rng_below(&g->bad_rng, 5)], SPOIL_REPLACE, "\"\"");
		break;
	}
	case BAD_UNKNOWN_TYPE:
		switch (rng_below(&g->bad_rng, 3)) {
		case 0:
			SPOIL_LIT(&sp, FIELD_TYPE, SPOIL_REPLACE, "\"profile_poked\"");
			break;
		case 1:
			SPOIL_LIT(&sp, FIELD_TYPE, SPOIL_REPLACE, "\"Post_Shared\"");
			break;
		default:
			SPOIL_LIT(&sp, FIELD_TYPE, SPOIL_REPLACE, "\"post shared\"");
			break;
		}
		break;
	case BAD_TIMESTAMP:
		spoil_timestamp(g, d, &sp);
		break;
	case BAD_WRONG_TYPE:
		spoil_wrong_type(g, d, &sp);
		break;
	case BAD_ATTR_VALUE:
		spoil_attr_value(g, d, &sp);
		break;
	case BAD_TOO_LONG:
		spoil_too_long(g, d, &sp);
		break;
	case BAD_INVALID_UTF8:
		spoil_invalid_utf8(g, &sp);
		break;
	case BAD_NUL_BYTE:
		spoil_raw(&sp, FIELD_USER_ID, SPOIL_REPLACE, "\"u-\0nul\"", 8);
		break;
	case BAD_ESCAPED_NUL:
		SPOIL_LIT(&sp, FIELD_USER_ID, SPOIL_REPLACE, "\"u-\\u0000nul\"");
		break;
	case BAD_DUPLICATE_KEY:
		SPOIL_LIT(&sp, FIELD_TYPE, SPOIL_DUPLICATE, "\"session_started\"");
		break;
	case BAD_TOO_DEEP:
		SPOIL_LIT(&sp, FIELD_ATTRS, SPOIL_REPLACE,
			  "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":"
			  "1}}}}}}}}}}");
		break;
	case BAD_TRAILING_GARBAGE:
		gen_put_event(g, o, d, NULL);
		if (rng_chance(&g->bad_rng, 0.5))
			put_lit(o, "{}");
		else
			put_lit(o, " x");
		return;
	case BAD_GARBAGE:
		o->p += garbage(g, o->p, (size_t)(o->end - o->p));
		return;
	case BAD_TOO_OLD:
		/* State events are never too old: age a counted one instead. */
		if (ssi_event_is_state(d->type))
			d->type = SSI_EV_SESSION_STARTED;
		d->at_ms -= 3 * 366 * SSI_MS_PER_DAY;
		if (d->at_ms < SSI_TIME_MIN_MS)
			d->at_ms = SSI_TIME_MIN_MS;
		break;
	case BAD_IN_FUTURE:
		d->at_ms += 3 * SSI_MS_PER_DAY;
		break;
	case BAD__COUNT:
		break;
	}
	gen_put_event(g, o, d, &sp);
}
