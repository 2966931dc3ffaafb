/*
 * ssi_event: the activity event contract v1 and its parser.
 *
 * The hot path is one json_loadb() plus one walk over the top-level object
 * (and over attrs when the type has any). Keys are matched by length before
 * bytes, the type name by a perfect hash, and every check that can be done
 * on the raw bytes (size, NUL, nesting) runs before jansson sees them, so
 * hostile input never makes jansson recurse deeply or allocate much.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "ssi_event.h"
#include "ssi_json.h"
#include "ssi_time.h"

/* How much of an offending value a rejection message quotes. */
#define QUOTE_MAX 48

struct name_len {
	const char *name;
	size_t len;
};

#define NAME_LEN(s)                                                                                \
	{                                                                                          \
		s, sizeof(s) - 1                                                                   \
	}

static const struct name_len type_names[SSI_EV__COUNT] = {
    [SSI_EV_PROFILE_UPDATED] = NAME_LEN("profile_updated"),
    [SSI_EV_ENDORSEMENT_RECEIVED] = NAME_LEN("endorsement_received"),
    [SSI_EV_ARTICLE_PUBLISHED] = NAME_LEN("article_published"),
    [SSI_EV_FOLLOWER_GAINED] = NAME_LEN("follower_gained"),
    [SSI_EV_SEARCH_PERFORMED] = NAME_LEN("search_performed"),
    [SSI_EV_PROFILE_VIEWED] = NAME_LEN("profile_viewed"),
    [SSI_EV_PROFILE_VIEW_RECEIVED] = NAME_LEN("profile_view_received"),
    [SSI_EV_SESSION_STARTED] = NAME_LEN("session_started"),
    [SSI_EV_LEAD_SAVED] = NAME_LEN("lead_saved"),
    [SSI_EV_POST_SHARED] = NAME_LEN("post_shared"),
    [SSI_EV_REACTION_RECEIVED] = NAME_LEN("reaction_received"),
    [SSI_EV_COMMENT_RECEIVED] = NAME_LEN("comment_received"),
    [SSI_EV_RESHARE_RECEIVED] = NAME_LEN("reshare_received"),
    [SSI_EV_REACTION_GIVEN] = NAME_LEN("reaction_given"),
    [SSI_EV_COMMENT_GIVEN] = NAME_LEN("comment_given"),
    [SSI_EV_MESSAGE_SENT] = NAME_LEN("message_sent"),
    [SSI_EV_INMAIL_SENT] = NAME_LEN("inmail_sent"),
    [SSI_EV_INMAIL_REPLIED] = NAME_LEN("inmail_replied"),
    [SSI_EV_GROUP_JOINED] = NAME_LEN("group_joined"),
    [SSI_EV_GROUP_ACTIVITY] = NAME_LEN("group_activity"),
    [SSI_EV_CONNECTION_ADDED] = NAME_LEN("connection_added"),
    [SSI_EV_CONNECTION_REMOVED] = NAME_LEN("connection_removed"),
    [SSI_EV_INVITATION_SENT] = NAME_LEN("invitation_sent"),
    [SSI_EV_INVITATION_ACCEPTED] = NAME_LEN("invitation_accepted"),
    [SSI_EV_PROSPECT_CONTENT_SHARED] = NAME_LEN("prospect_content_shared"),
};

/* Shortest and longest type names: the hash reads s[8] and s[len / 2]. */
#define TYPE_NAME_MIN 10
#define TYPE_NAME_MAX 23

static unsigned type_hash(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;

	return (u[0] + 10u * u[len / 2] + 28u * u[8]) & 63u;
}

/*
 * type_hash slot -> type + 1 (0: no type). The multipliers were found by a
 * search for a collision-free hash over the 25 names; when a type is added,
 * recompute the slots (the unit test round-trips every name and fails on a
 * collision or a missing slot).
 */
static const signed char type_slots[64] = {
    [50] = SSI_EV_PROFILE_UPDATED + 1,
    [57] = SSI_EV_ENDORSEMENT_RECEIVED + 1,
    [1] = SSI_EV_ARTICLE_PUBLISHED + 1,
    [62] = SSI_EV_FOLLOWER_GAINED + 1,
    [49] = SSI_EV_SEARCH_PERFORMED + 1,
    [14] = SSI_EV_PROFILE_VIEWED + 1,
    [10] = SSI_EV_PROFILE_VIEW_RECEIVED + 1,
    [61] = SSI_EV_SESSION_STARTED + 1,
    [54] = SSI_EV_LEAD_SAVED + 1,
    [38] = SSI_EV_POST_SHARED + 1,
    [12] = SSI_EV_REACTION_RECEIVED + 1,
    [15] = SSI_EV_COMMENT_RECEIVED + 1,
    [30] = SSI_EV_RESHARE_RECEIVED + 1,
    [34] = SSI_EV_REACTION_GIVEN + 1,
    [47] = SSI_EV_COMMENT_GIVEN + 1,
    [51] = SSI_EV_MESSAGE_SENT + 1,
    [45] = SSI_EV_INMAIL_SENT + 1,
    [41] = SSI_EV_INMAIL_REPLIED + 1,
    [7] = SSI_EV_GROUP_JOINED + 1,
    [53] = SSI_EV_GROUP_ACTIVITY + 1,
    [29] = SSI_EV_CONNECTION_ADDED + 1,
    [19] = SSI_EV_CONNECTION_REMOVED + 1,
    [39] = SSI_EV_INVITATION_SENT + 1,
    [25] = SSI_EV_INVITATION_ACCEPTED + 1,
    [32] = SSI_EV_PROSPECT_CONTENT_SHARED + 1,
};

static const struct name_len seniority_names[SSI_SEN__COUNT] = {
    [SSI_SEN_UNKNOWN] = NAME_LEN("unknown"),   [SSI_SEN_ENTRY] = NAME_LEN("entry"),
    [SSI_SEN_SENIOR] = NAME_LEN("senior"),     [SSI_SEN_MANAGER] = NAME_LEN("manager"),
    [SSI_SEN_DIRECTOR] = NAME_LEN("director"), [SSI_SEN_VP] = NAME_LEN("vp"),
    [SSI_SEN_CXO] = NAME_LEN("cxo"),	       [SSI_SEN_OWNER] = NAME_LEN("owner"),
    [SSI_SEN_PARTNER] = NAME_LEN("partner"),
};

static const char *const segment_names[SSI_SEG__COUNT] = {
    [SSI_SEG_TENANT] = "tenant",
    [SSI_SEG_TEAM] = "team",
    [SSI_SEG_INDUSTRY] = "industry",
};

const char *ssi_event_type_name(enum ssi_event_type t)
{
	return (unsigned)t < SSI_EV__COUNT ? type_names[t].name : NULL;
}

int ssi_event_type_from_name(const char *name, size_t len)
{
	int t;

	if (len < TYPE_NAME_MIN || len > TYPE_NAME_MAX)
		return -1;
	t = type_slots[type_hash(name, len)] - 1;
	if (t < 0 || type_names[t].len != len || memcmp(type_names[t].name, name, len) != 0)
		return -1;
	return t;
}

const char *ssi_segment_name(enum ssi_segment s)
{
	return (unsigned)s < SSI_SEG__COUNT ? segment_names[s] : NULL;
}

const char *ssi_seniority_name(enum ssi_seniority s)
{
	return (unsigned)s < SSI_SEN__COUNT ? seniority_names[s].name : NULL;
}

int ssi_seniority_from_name(const char *name, size_t len)
{
	for (int s = SSI_SEN_UNKNOWN + 1; s < SSI_SEN__COUNT; s++)
		if (seniority_names[s].len == len &&
		    memcmp(seniority_names[s].name, name, len) == 0)
			return s;
	return -1;
}

uint64_t ssi_event_fingerprint(const char *event_id, size_t len)
{
	const unsigned char *p = (const unsigned char *)event_id;
	uint64_t h = 14695981039346656037ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/*
 * Rejection messages may quote hostile input and end up in logs and Kafka
 * headers, so anything but printable ASCII is masked after formatting.
 */
__attribute__((format(printf, 4, 5))) static int reject(struct ssi_reject *why, const char *code,
							const char *field, const char *fmt, ...)
{
	va_list ap;

	if (!why)
		return -EINVAL;
	if (field)
		snprintf(why->code, sizeof(why->code), "%s:%s", code, field);
	else
		snprintf(why->code, sizeof(why->code), "%s", code);
	va_start(ap, fmt);
	vsnprintf(why->message, sizeof(why->message), fmt, ap);
	va_end(ap);
	for (char *c = why->message; *c; c++)
		if (*c < 0x20 || *c > 0x7e)
			*c = '?';
	return -EINVAL;
}

static int quote_len(size_t len)
{
	return (int)(len < QUOTE_MAX ? len : QUOTE_MAX);
}

/*
 * One pass over the raw bytes before jansson sees them: the offset of the
 * first NUL byte (len when there is none) and, when there is none, the
 * number of '{' and '[' bytes. Nesting cannot exceed that number wherever
 * the brackets sit, so a count within the limit clears nearly every real
 * event without the byte-by-byte scan below. With SSE2, 16 bytes a step
 * (one pass instead of a memchr per bracket found).
 */
static size_t scan_raw(const char *p, size_t len, size_t *opens)
{
	size_t i = 0, n = 0;

#ifdef __SSE2__
	const __m128i zero = _mm_setzero_si128();
	const __m128i brace = _mm_set1_epi8('{'), bracket = _mm_set1_epi8('[');

	for (; i + 16 <= len; i += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(p + i));
		unsigned nul = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, zero));
		__m128i open = _mm_or_si128(_mm_cmpeq_epi8(v, brace), _mm_cmpeq_epi8(v, bracket));

		if (nul)
			return i + (size_t)__builtin_ctz(nul);
		n += (size_t)__builtin_popcount((unsigned)_mm_movemask_epi8(open));
	}
#endif
	for (; i < len; i++) {
		if (p[i] == '\0')
			return i;
		n += p[i] == '{' || p[i] == '[';
	}
	*opens = n;
	return len;
}

/* Inside a string only these two bytes matter. */
static const bool string_stop[256] = {['"'] = true, ['\\'] = true};

/*
 * Depth and the string state are tracked on the raw bytes so that a
 * document like [[[[...]]]] is refused before jansson recurses into it.
 * On input jansson would refuse anyway the count may be off; it only has to
 * be right on the prefix jansson accepts, where it matches jansson's own.
 * Most bytes of an event sit inside strings, hence the tight inner loop
 * (measured about 30% faster than one loop with an in-string flag).
 */
static int check_depth(const unsigned char *p, size_t len, size_t *where)
{
	size_t i = 0;
	int depth = 0;

	while (i < len) {
		unsigned char c = p[i++];

		if (c == '"') {
			for (;;) {
				while (i < len && !string_stop[p[i]])
					i++;
				if (i >= len)
					return 0;
				if (p[i++] == '"')
					break;
				i++; /* the escaped byte */
			}
		} else if (c == '{' || c == '[') {
			if (++depth > SSI_EVENT_MAX_DEPTH) {
				*where = i - 1;
				return -E2BIG;
			}
		} else if (c == '}' || c == ']') {
			depth--;
		}
	}
	return 0;
}

enum top_field {
	F_EVENT_ID,
	F_USER_ID,
	F_TYPE,
	F_OCCURRED_AT,
	F_TENANT, /* F_TENANT + enum ssi_segment */
	F_TEAM,
	F_INDUSTRY,
	F_ATTRS,
	F__COUNT
};

static const struct name_len top_fields[F__COUNT] = {
    [F_EVENT_ID] = NAME_LEN("event_id"), [F_USER_ID] = NAME_LEN("user_id"),
    [F_TYPE] = NAME_LEN("type"),	 [F_OCCURRED_AT] = NAME_LEN("occurred_at"),
    [F_TENANT] = NAME_LEN("tenant"),	 [F_TEAM] = NAME_LEN("team"),
    [F_INDUSTRY] = NAME_LEN("industry"), [F_ATTRS] = NAME_LEN("attrs"),
};

enum profile_attr {
	A_PHOTO,
	A_BACKGROUND_PHOTO,
	A_HEADLINE,
	A_SUMMARY,
	A_EXPERIENCE,
	A_SKILLS,
	A_FEATURED_MEDIA,
	A_PROFILE__COUNT
};

static const struct name_len profile_attrs[A_PROFILE__COUNT] = {
    [A_PHOTO] = NAME_LEN("photo"),
    [A_BACKGROUND_PHOTO] = NAME_LEN("background_photo"),
    [A_HEADLINE] = NAME_LEN("headline"),
    [A_SUMMARY] = NAME_LEN("summary"),
    [A_EXPERIENCE] = NAME_LEN("experience"),
    [A_SKILLS] = NAME_LEN("skills"),
    [A_FEATURED_MEDIA] = NAME_LEN("featured_media"),
};

/* The same names with their "attrs." prefix, for rejection codes. */
static const char *const profile_attr_fields[A_PROFILE__COUNT] = {
    [A_PHOTO] = "attrs.photo",
    [A_BACKGROUND_PHOTO] = "attrs.background_photo",
    [A_HEADLINE] = "attrs.headline",
    [A_SUMMARY] = "attrs.summary",
    [A_EXPERIENCE] = "attrs.experience",
    [A_SKILLS] = "attrs.skills",
    [A_FEATURED_MEDIA] = "attrs.featured_media",
};

enum connection_attr { A_CONNECTION_ID, A_SENIORITY, A_SAME_COMPANY, A_CONNECTION__COUNT };

static const struct name_len connection_attrs[A_CONNECTION__COUNT] = {
    [A_CONNECTION_ID] = NAME_LEN("connection_id"),
    [A_SENIORITY] = NAME_LEN("seniority"),
    [A_SAME_COMPANY] = NAME_LEN("same_company"),
};

static const struct name_len filters_attr[1] = {NAME_LEN("filters")};
static const struct name_len degree_attr[1] = {NAME_LEN("degree")};

static uint64_t load64(const char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint32_t load32(const char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/*
 * Keys are a few bytes long and memcmp() showed up as a fifth of the time
 * spent outside jansson: two overlapping word loads compare 4..16 bytes
 * without a call or a loop.
 */
static bool same_bytes(const char *a, const char *b, size_t n)
{
	if (n >= 8 && n <= 16)
		return load64(a) == load64(b) && load64(a + n - 8) == load64(b + n - 8);
	if (n >= 4 && n < 8)
		return load32(a) == load32(b) && load32(a + n - 4) == load32(b + n - 4);
	return memcmp(a, b, n) == 0;
}

/*
 * One walk over the object files each known key's value into its slot; the
 * checks then run in a fixed order, so the reason reported for an event with
 * several faults does not depend on the order of its keys. A null value
 * stays out of its slot: null means absent. Producers tend to write the keys
 * in the contract's order, so the search for each key starts after the
 * previous match and usually succeeds at the first name it tries.
 */
static void collect(json_t *obj, const struct name_len *names, size_t n, json_t **slots)
{
	size_t next = 0;

	for (void *it = json_object_iter(obj); it; it = json_object_iter_next(obj, it)) {
		size_t klen = json_object_iter_key_len(it);
		const char *key = json_object_iter_key(it);
		size_t i = next;

		for (size_t tried = 0; tried < n; tried++, i = i + 1 == n ? 0 : i + 1) {
			if (names[i].len != klen || !same_bytes(names[i].name, key, klen))
				continue;
			json_t *v = json_object_iter_value(it);

			slots[i] = json_is_null(v) ? NULL : v;
			next = i + 1 == n ? 0 : i + 1;
			break;
		}
	}
}

/* Copies an id-like string (1..SSI_ID_MAX bytes) into a fixed buffer. */
static int copy_id(const json_t *v, const char *field, bool required, char dst[SSI_ID_MAX + 1],
		   size_t *out_len, struct ssi_reject *why)
{
	size_t len;

	if (!v) {
		dst[0] = '\0';
		*out_len = 0;
		if (required)
			return reject(why, "missing_field", field,
				      "required field \"%s\" is missing", field);
		return 0;
	}
	if (!json_is_string(v))
		return reject(why, "wrong_type", field, "\"%s\" must be a string, not %s", field,
			      ssi_json_type_name(v));
	len = json_string_length(v);
	if (len == 0)
		return reject(why, "empty_field", field, "\"%s\" must not be empty", field);
	if (len > SSI_ID_MAX)
		return reject(why, "too_long", field, "\"%s\" is %zu bytes, at most %d are allowed",
			      field, len, SSI_ID_MAX);
	memcpy(dst, json_string_value(v), len);
	dst[len] = '\0';
	*out_len = len;
	return 0;
}

static int get_bool(const json_t *v, const char *field, bool *out, struct ssi_reject *why)
{
	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return reject(why, "wrong_type", field, "\"%s\" must be a boolean, not %s", field,
			      ssi_json_type_name(v));
	*out = json_is_true(v);
	return 0;
}

/* A non-negative JSON integer; values above max are clamped or refused. */
static int get_count(const json_t *v, const char *field, json_int_t max, bool clamp,
		     json_int_t *out, struct ssi_reject *why)
{
	json_int_t n;

	if (!v)
		return 0;
	if (!json_is_integer(v))
		return reject(why, "wrong_type", field, "\"%s\" must be an integer, not %s", field,
			      ssi_json_type_name(v));
	n = json_integer_value(v);
	if (n < 0 || (n > max && !clamp))
		return reject(why, "bad_attr", field,
			      "\"%s\" is %" JSON_INTEGER_FORMAT
			      ", it must be between 0 and %" JSON_INTEGER_FORMAT,
			      field, n, max);
	*out = n > max ? max : n;
	return 0;
}

static int parse_profile(json_t *attrs, struct ssi_profile *p, struct ssi_reject *why)
{
	json_t *slot[A_PROFILE__COUNT] = {0};
	bool *flags[] = {
	    [A_PHOTO] = &p->photo,	     [A_BACKGROUND_PHOTO] = &p->background_photo,
	    [A_HEADLINE] = &p->headline,     [A_SUMMARY] = &p->summary,
	    [A_EXPERIENCE] = &p->experience,
	};
	json_int_t skills = 0, media = 0;
	int r;

	if (attrs)
		collect(attrs, profile_attrs, A_PROFILE__COUNT, slot);
	for (int a = A_PHOTO; a <= A_EXPERIENCE; a++) {
		r = get_bool(slot[a], profile_attr_fields[a], flags[a], why);
		if (r < 0)
			return r;
	}
	r = get_count(slot[A_SKILLS], profile_attr_fields[A_SKILLS], UINT8_MAX, true, &skills, why);
	if (r < 0)
		return r;
	r = get_count(slot[A_FEATURED_MEDIA], profile_attr_fields[A_FEATURED_MEDIA], UINT8_MAX,
		      true, &media, why);
	if (r < 0)
		return r;
	p->skills = (uint8_t)skills;
	p->featured_media = (uint8_t)media;
	return 0;
}

static int parse_search(json_t *attrs, struct ssi_event *ev, struct ssi_reject *why)
{
	json_t *filters = NULL;
	json_int_t n = 0;
	int r;

	if (attrs)
		collect(attrs, filters_attr, 1, &filters);
	r = get_count(filters, "attrs.filters", INT_MAX, false, &n, why);
	if (r < 0)
		return r;
	ev->attrs.search.filters = (int)n;
	return 0;
}

static int parse_view(json_t *attrs, struct ssi_event *ev, struct ssi_reject *why)
{
	json_t *degree = NULL;
	json_int_t n;

	if (attrs)
		collect(attrs, degree_attr, 1, &degree);
	if (!degree)
		return reject(why, "missing_field", "attrs.degree",
			      "profile_viewed requires \"attrs.degree\" (1, 2 or 3)");
	if (!json_is_integer(degree))
		return reject(why, "wrong_type", "attrs.degree",
			      "\"attrs.degree\" must be an integer, not %s",
			      ssi_json_type_name(degree));
	n = json_integer_value(degree);
	if (n < 1 || n > 3)
		return reject(why, "bad_attr", "attrs.degree",
			      "\"attrs.degree\" is %" JSON_INTEGER_FORMAT ", it must be 1, 2 or 3",
			      n);
	ev->attrs.view.degree = (int)n;
	return 0;
}

static int parse_connection(json_t *attrs, struct ssi_event *ev, struct ssi_reject *why)
{
	json_t *slot[A_CONNECTION__COUNT] = {0};
	const json_t *sen;
	size_t len;
	int r, s;

	if (attrs)
		collect(attrs, connection_attrs, A_CONNECTION__COUNT, slot);
	r = copy_id(slot[A_CONNECTION_ID], "attrs.connection_id", false,
		    ev->attrs.connection.connection_id, &len, why);
	if (r < 0)
		return r;
	sen = slot[A_SENIORITY];
	if (sen) {
		if (!json_is_string(sen))
			return reject(why, "wrong_type", "attrs.seniority",
				      "\"attrs.seniority\" must be a string, not %s",
				      ssi_json_type_name(sen));
		len = json_string_length(sen);
		s = ssi_seniority_from_name(json_string_value(sen), len);
		if (s < 0)
			return reject(why, "bad_attr", "attrs.seniority",
				      "\"attrs.seniority\" is \"%.*s\", not one of entry, senior, "
				      "manager, director, vp, cxo, owner, partner",
				      quote_len(len), json_string_value(sen));
		ev->attrs.connection.seniority = (enum ssi_seniority)s;
	}
	return get_bool(slot[A_SAME_COMPANY], "attrs.same_company",
			&ev->attrs.connection.same_company, why);
}

static int parse_attrs(json_t *attrs, struct ssi_event *ev, struct ssi_reject *why)
{
	if (attrs && !json_is_object(attrs))
		return reject(why, "wrong_type", "attrs", "\"attrs\" must be an object, not %s",
			      ssi_json_type_name(attrs));
	switch (ev->type) {
	case SSI_EV_PROFILE_UPDATED:
		return parse_profile(attrs, &ev->attrs.profile, why);
	case SSI_EV_SEARCH_PERFORMED:
		return parse_search(attrs, ev, why);
	case SSI_EV_PROFILE_VIEWED:
		return parse_view(attrs, ev, why);
	case SSI_EV_CONNECTION_ADDED:
	case SSI_EV_CONNECTION_REMOVED:
		return parse_connection(attrs, ev, why);
	default:
		return 0;
	}
}

static int parse_type(const json_t *v, struct ssi_event *ev, struct ssi_reject *why)
{
	size_t len;
	int t;

	if (!v)
		return reject(why, "missing_field", "type", "required field \"type\" is missing");
	if (!json_is_string(v))
		return reject(why, "wrong_type", "type", "\"type\" must be a string, not %s",
			      ssi_json_type_name(v));
	len = json_string_length(v);
	if (len == 0)
		return reject(why, "empty_field", "type", "\"type\" must not be empty");
	t = ssi_event_type_from_name(json_string_value(v), len);
	if (t < 0)
		return reject(why, "unknown_type", NULL, "unknown event type \"%.*s\"",
			      quote_len(len), json_string_value(v));
	ev->type = (enum ssi_event_type)t;
	return 0;
}

static int parse_occurred_at(const json_t *v, struct ssi_event *ev, struct ssi_reject *why)
{
	size_t len;

	if (!v)
		return reject(why, "missing_field", "occurred_at",
			      "required field \"occurred_at\" is missing");
	if (!json_is_string(v))
		return reject(why, "wrong_type", "occurred_at",
			      "\"occurred_at\" must be a string, not %s", ssi_json_type_name(v));
	len = json_string_length(v);
	if (ssi_time_parse(json_string_value(v), len, &ev->occurred_at_ms) < 0)
		return reject(why, "bad_timestamp", NULL,
			      "\"occurred_at\" is \"%.*s\", not an RFC 3339 date-time with offset "
			      "between 1970 and 9999 (e.g. 2026-11-20T10:00:00Z)",
			      quote_len(len), json_string_value(v));
	return 0;
}

static int extract_event(json_t *root, struct ssi_event *ev, struct ssi_reject *why)
{
	json_t *f[F__COUNT] = {0};
	size_t id_len, len;
	int r;

	if (!json_is_object(root))
		return reject(why, "not_an_object", NULL, "an event must be a JSON object, not %s",
			      ssi_json_type_name(root));
	collect(root, top_fields, F__COUNT, f);

	r = copy_id(f[F_EVENT_ID], "event_id", true, ev->event_id, &id_len, why);
	if (r < 0)
		return r;
	r = copy_id(f[F_USER_ID], "user_id", true, ev->user_id, &len, why);
	if (r < 0)
		return r;
	r = parse_type(f[F_TYPE], ev, why);
	if (r < 0)
		return r;
	r = parse_occurred_at(f[F_OCCURRED_AT], ev, why);
	if (r < 0)
		return r;
	for (int s = 0; s < SSI_SEG__COUNT; s++) {
		r = copy_id(f[F_TENANT + s], segment_names[s], false, ev->segment[s], &len, why);
		if (r < 0)
			return r;
	}
	r = parse_attrs(f[F_ATTRS], ev, why);
	if (r < 0)
		return r;
	ev->fingerprint = ssi_event_fingerprint(ev->event_id, id_len);
	return 0;
}

static int reject_json(const json_error_t *err, struct ssi_reject *why)
{
	switch (json_error_code(err)) {
	case json_error_out_of_memory:
		reject(why, "out_of_memory", NULL, "out of memory while decoding the event");
		return -ENOMEM;
	case json_error_invalid_utf8:
		return reject(why, "invalid_utf8", NULL, "invalid UTF-8 at byte %d: %s",
			      err->position, err->text);
	default:
		return reject(why, "invalid_json", NULL,
			      "invalid JSON at line %d, column %d (byte %d): %s", err->line,
			      err->column, err->position, err->text);
	}
}

/*
 * The arena lives on the heap, not in TLS, so that only threads that parse
 * pay for it (librdkafka alone runs a dozen threads); the key's destructor
 * frees it when the thread exits.
 */
static _Thread_local struct ssi_json_arena *thread_arena __attribute__((tls_model("initial-exec")));
static pthread_once_t arena_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t arena_key;
static bool arena_key_ready;

static void arena_key_create(void)
{
	arena_key_ready = pthread_key_create(&arena_key, free) == 0;
}

/* NULL when the arena cannot be set up: the parse then runs on plain malloc. */
static struct ssi_json_arena *event_arena(void)
{
	struct ssi_json_arena *a = thread_arena;

	if (a)
		return a;
	pthread_once(&arena_key_once, arena_key_create);
	if (!arena_key_ready)
		return NULL;
	a = aligned_alloc(_Alignof(struct ssi_json_arena), sizeof(*a));
	if (!a)
		return NULL;
	if (pthread_setspecific(arena_key, a) != 0) {
		free(a);
		return NULL;
	}
	thread_arena = a;
	return a;
}

int ssi_event_parse(const void *buf, size_t len, const struct ssi_event_limits *lim,
		    struct ssi_event *ev, struct ssi_reject *why)
{
	size_t max_bytes = lim && lim->max_bytes ? lim->max_bytes : SSI_EVENT_DEFAULT_MAX_BYTES;
	const char *bytes = buf ? buf : "";
	struct ssi_json_arena *arena = NULL;
	size_t nul, opens = 0;
	json_error_t err;
	json_t *root;
	size_t where;
	int r;

	if (len > max_bytes)
		return reject(why, "too_large", NULL, "the event is %zu bytes, the limit is %zu",
			      len, max_bytes);
	nul = scan_raw(bytes, len, &opens);
	if (nul < len)
		return reject(why, "nul_byte", NULL, "NUL byte at offset %zu", nul);
	if (opens > SSI_EVENT_MAX_DEPTH &&
	    check_depth((const unsigned char *)bytes, len, &where) < 0)
		return reject(why, "too_deep", NULL,
			      "arrays and objects nest deeper than %d levels (at byte %zu)",
			      SSI_EVENT_MAX_DEPTH, where);

	if (!(lim && lim->no_arena) && ssi_json_arena_installed())
		arena = event_arena();
	if (arena)
		ssi_json_arena_begin(arena);
	root = json_loadb(bytes, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
	if (!root) {
		r = reject_json(&err, why);
	} else {
		memset(ev, 0, sizeof(*ev));
		r = extract_event(root, ev, why);
		/* In an arena the tree dies with it: walking it to free nothing is waste. */
		if (!arena)
			json_decref(root);
	}
	if (arena)
		ssi_json_arena_end(arena);
	return r;
}

bool ssi_event_is_state(enum ssi_event_type t)
{
	return t == SSI_EV_PROFILE_UPDATED || t == SSI_EV_CONNECTION_ADDED ||
	       t == SSI_EV_CONNECTION_REMOVED;
}

int ssi_event_check_time(const struct ssi_event *ev, int window_days, int64_t future_tolerance_ms,
			 int64_t now_ms, struct ssi_reject *why)
{
	char at[SSI_TIME_BUFLEN], edge[SSI_TIME_BUFLEN];
	int64_t first_day, latest_ms;

	if (window_days < 1 || future_tolerance_ms < 0) {
		reject(why, "invalid_argument", NULL,
		       "window_days must be >= 1 and the future tolerance >= 0");
		return -EINVAL;
	}
	first_day = (int64_t)ssi_time_day(now_ms) - window_days + 1;
	if (ssi_time_day(ev->occurred_at_ms) < first_day && !ssi_event_is_state(ev->type)) {
		ssi_time_format(ev->occurred_at_ms, at);
		ssi_time_format(first_day * SSI_MS_PER_DAY, edge);
		reject(why, "too_old", NULL,
		       "occurred_at %s is before %s, the first day of the %d-day window", at, edge,
		       window_days);
		return -ERANGE;
	}
	if (__builtin_add_overflow(now_ms, future_tolerance_ms, &latest_ms))
		latest_ms = INT64_MAX;
	if (ev->occurred_at_ms > latest_ms) {
		ssi_time_format(ev->occurred_at_ms, at);
		ssi_time_format(latest_ms, edge);
		reject(why, "in_future", NULL,
		       "occurred_at %s is after %s, the latest time allowed", at, edge);
		return -ERANGE;
	}
	return 0;
}
