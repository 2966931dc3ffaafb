/*
 * The event contract v1: every reason code with a real input, every type
 * with its attrs, the size and depth boundaries, and the arena giving the
 * same answers as plain malloc.
 *
 * One module's suite, kept whole: ssi_event's parser and its contract,
 * with and without the ssi_json arena.
 */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ssi_event.h"
#include "ssi_json.h"
#include "ssi_time.h"
#include "suites.h"

#define HEAD                                                                                       \
	"\"event_id\":\"evt-1\",\"user_id\":\"user-1\",\"occurred_at\":\"2026-11-20T10:00:00Z\""
/* 2026-11-20T10:00:00Z */
#define T_EVENT_MS 1795168800000LL
#define T_DAY_MS   SSI_MS_PER_DAY

static int parse_len(const char *json, size_t len, struct ssi_event *ev, struct ssi_reject *why)
{
	memset(why, 0, sizeof(*why));
	return ssi_event_parse(json, len, NULL, ev, why);
}

static void parse_ok(const char *json, struct ssi_event *ev)
{
	struct ssi_reject why;
	int r = parse_len(json, strlen(json), ev, &why);

	ck_assert_msg(r == 0, "rejected (%s: %s): %s", why.code, why.message, json);
}

static void assert_reject_len(const char *json, size_t len, const char *code)
{
	struct ssi_event ev;
	struct ssi_reject why;
	int r = parse_len(json, len, &ev, &why);

	ck_assert_msg(r == -EINVAL, "accepted, expected %s: %.200s", code, json);
	ck_assert_msg(strcmp(why.code, code) == 0, "code %s (%s), expected %s: %.200s", why.code,
		      why.message, code, json);
	ck_assert_msg(why.message[0] != '\0', "empty message for %s", code);
	for (const char *c = why.message; *c; c++)
		ck_assert_msg(*c >= 0x20 && *c <= 0x7e, "non-printable byte in message: %s",
			      why.message);
}

static void assert_reject(const char *json, const char *code)
{
	assert_reject_len(json, strlen(json), code);
}

/* An event of the given type with attrs (a JSON object, or NULL for none). */
static const char *event_json(char *buf, size_t size, const char *type, const char *attrs)
{
	if (attrs)
		snprintf(buf, size, "{" HEAD ",\"type\":\"%s\",\"attrs\":%s}", type, attrs);
	else
		snprintf(buf, size, "{" HEAD ",\"type\":\"%s\"}", type);
	return buf;
}

static void parse_typed(const char *type, const char *attrs, struct ssi_event *ev)
{
	char buf[1024];

	parse_ok(event_json(buf, sizeof(buf), type, attrs), ev);
}

static void assert_typed_reject(const char *type, const char *attrs, const char *code)
{
	char buf[1024];

	assert_reject(event_json(buf, sizeof(buf), type, attrs), code);
}

/* A string of n copies of c, for ids at and around the limits. */
static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	ck_assert_ptr_nonnull(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

START_TEST (test_valid_event) {
	struct ssi_event ev;

	parse_ok("{\"event_id\":\"e-42\",\"user_id\":\"u-7\",\"type\":\"post_shared\","
		 "\"occurred_at\":\"2026-11-20T11:00:00.250+01:00\",\"tenant\":\"acme\","
		 "\"team\":\"emea\",\"industry\":\"software\"}",
		 &ev);
	ck_assert_str_eq(ev.event_id, "e-42");
	ck_assert_str_eq(ev.user_id, "u-7");
	ck_assert_int_eq(ev.type, SSI_EV_POST_SHARED);
	ck_assert_int_eq(ev.occurred_at_ms, T_EVENT_MS + 250);
	ck_assert_str_eq(ev.segment[SSI_SEG_TENANT], "acme");
	ck_assert_str_eq(ev.segment[SSI_SEG_TEAM], "emea");
	ck_assert_str_eq(ev.segment[SSI_SEG_INDUSTRY], "software");
	ck_assert_uint_eq(ev.fingerprint, ssi_event_fingerprint("e-42", 4));
}
END_TEST

START_TEST (test_key_order_and_whitespace) {
	struct ssi_event a, b;

	parse_ok("{\"event_id\":\"e\",\"user_id\":\"u\",\"type\":\"lead_saved\","
		 "\"occurred_at\":\"2026-11-20T10:00:00Z\"}",
		 &a);
	parse_ok(" \n{ \"occurred_at\" : \"2026-11-20T10:00:00Z\" ,\t\"type\":\"lead_saved\",\r\n"
		 "\"user_id\":\"u\" , \"event_id\" : \"e\" } \n",
		 &b);
	ck_assert_int_eq(memcmp(&a, &b, sizeof(a)), 0);
}
END_TEST

/* Standard FNV-1a 64 test vectors. */
START_TEST (test_fingerprint) {
	ck_assert_uint_eq(ssi_event_fingerprint("", 0), 0xcbf29ce484222325ULL);
	ck_assert_uint_eq(ssi_event_fingerprint("a", 1), 0xaf63dc4c8601ec8cULL);
	ck_assert_uint_eq(ssi_event_fingerprint("foobar", 6), 0x85944171f73967e8ULL);
}
END_TEST

START_TEST (test_type_names) {
	for (int t = 0; t < SSI_EV__COUNT; t++) {
		const char *name = ssi_event_type_name((enum ssi_event_type)t);
		char upper[64];
		size_t n;

		ck_assert_ptr_nonnull(name);
		n = strlen(name);
		ck_assert_int_eq(ssi_event_type_from_name(name, n), t);
		/* near misses: prefix, longer, one byte changed, case */
		ck_assert_int_eq(ssi_event_type_from_name(name, n - 1), -1);
		snprintf(upper, sizeof(upper), "%sx", name);
		ck_assert_int_eq(ssi_event_type_from_name(upper, n + 1), -1);
		for (size_t i = 0; i < n; i++) {
			memcpy(upper, name, n + 1);
			upper[i] = (char)(upper[i] == 'z' ? 'y' : upper[i] + 1);
			ck_assert_int_eq(ssi_event_type_from_name(upper, n), -1);
			upper[i] =
			    (char)(name[i] >= 'a' && name[i] <= 'z' ? name[i] - 32 : name[i]);
			if (upper[i] != name[i])
				ck_assert_int_eq(ssi_event_type_from_name(upper, n), -1);
		}
		for (int u = 0; u < t; u++)
			ck_assert_str_ne(name, ssi_event_type_name((enum ssi_event_type)u));
	}
	ck_assert_ptr_null(ssi_event_type_name(SSI_EV__COUNT));
	ck_assert_ptr_null(ssi_event_type_name((enum ssi_event_type) - 1));
	ck_assert_int_eq(ssi_event_type_from_name("", 0), -1);
	ck_assert_int_eq(ssi_event_type_from_name("post", 4), -1);
	ck_assert_int_eq(ssi_event_type_from_name("prospect_content_shared_", 24), -1);
	ck_assert_int_eq(ssi_event_type_from_name("post_shared\0", 12), -1);
}
END_TEST

START_TEST (test_seniority_and_segment_names) {
	for (int s = SSI_SEN_UNKNOWN + 1; s < SSI_SEN__COUNT; s++) {
		const char *name = ssi_seniority_name((enum ssi_seniority)s);

		ck_assert_int_eq(ssi_seniority_from_name(name, strlen(name)), s);
	}
	ck_assert_str_eq(ssi_seniority_name(SSI_SEN_UNKNOWN), "unknown");
	ck_assert_int_eq(ssi_seniority_from_name("unknown", 7), -1);
	ck_assert_int_eq(ssi_seniority_from_name("intern", 6), -1);
	ck_assert_int_eq(ssi_seniority_from_name("VP", 2), -1);
	ck_assert_int_eq(ssi_seniority_from_name("", 0), -1);
	ck_assert_ptr_null(ssi_seniority_name(SSI_SEN__COUNT));
	ck_assert_str_eq(ssi_segment_name(SSI_SEG_TENANT), "tenant");
	ck_assert_str_eq(ssi_segment_name(SSI_SEG_TEAM), "team");
	ck_assert_str_eq(ssi_segment_name(SSI_SEG_INDUSTRY), "industry");
	ck_assert_ptr_null(ssi_segment_name(SSI_SEG__COUNT));
}
END_TEST

/* Every type parses; types without attrs ignore whatever attrs carry. */
START_TEST (test_every_type) {
	for (int t = 0; t < SSI_EV__COUNT; t++) {
		const char *name = ssi_event_type_name((enum ssi_event_type)t);
		const char *attrs = t == SSI_EV_PROFILE_VIEWED ? "{\"degree\":1}" : NULL;
		struct ssi_event ev;

		parse_typed(name, attrs, &ev);
		ck_assert_int_eq(ev.type, t);
		parse_typed(name, t == SSI_EV_PROFILE_VIEWED ? "{\"degree\":1,\"x\":[]}" : "{}",
			    &ev);
		ck_assert_int_eq(ev.type, t);
	}
}
END_TEST

START_TEST (test_attrs_ignored_by_other_types) {
	struct ssi_event ev, plain;

	parse_typed("post_shared", NULL, &plain);
	parse_typed("post_shared", "{\"degree\":\"x\",\"photo\":7,\"seniority\":\"intern\"}", &ev);
	ck_assert_int_eq(memcmp(&ev, &plain, sizeof(ev)), 0);
	parse_typed("post_shared", "null", &ev);
	ck_assert_int_eq(memcmp(&ev, &plain, sizeof(ev)), 0);
	assert_typed_reject("post_shared", "[1]", "wrong_type:attrs");
	assert_typed_reject("post_shared", "\"x\"", "wrong_type:attrs");
	assert_typed_reject("profile_viewed", "3", "wrong_type:attrs");
}
END_TEST

START_TEST (test_profile_updated) {
	struct ssi_event ev;

	parse_typed("profile_updated",
		    "{\"photo\":true,\"background_photo\":false,\"headline\":true,\"summary\":true,"
		    "\"experience\":true,\"skills\":12,\"featured_media\":3}",
		    &ev);
	ck_assert(ev.attrs.profile.photo);
	ck_assert(!ev.attrs.profile.background_photo);
	ck_assert(ev.attrs.profile.headline);
	ck_assert(ev.attrs.profile.summary);
	ck_assert(ev.attrs.profile.experience);
	ck_assert_uint_eq(ev.attrs.profile.skills, 12);
	ck_assert_uint_eq(ev.attrs.profile.featured_media, 3);

	parse_typed("profile_updated",
		    "{\"background_photo\":true,\"skills\":300,"
		    "\"featured_media\":255,\"unknown_attr\":{\"a\":1}}",
		    &ev);
	ck_assert(!ev.attrs.profile.photo);
	ck_assert(ev.attrs.profile.background_photo);
	ck_assert_uint_eq(ev.attrs.profile.skills, 255);
	ck_assert_uint_eq(ev.attrs.profile.featured_media, 255);

	/* a snapshot: absent means false / 0 */
	parse_typed("profile_updated", NULL, &ev);
	ck_assert(!ev.attrs.profile.photo && !ev.attrs.profile.background_photo &&
		  !ev.attrs.profile.headline && !ev.attrs.profile.summary &&
		  !ev.attrs.profile.experience);
	ck_assert_uint_eq(ev.attrs.profile.skills, 0);
	ck_assert_uint_eq(ev.attrs.profile.featured_media, 0);
	parse_typed("profile_updated", "{\"photo\":null,\"skills\":null}", &ev);
	ck_assert(!ev.attrs.profile.photo);
	ck_assert_uint_eq(ev.attrs.profile.skills, 0);
	parse_typed("profile_updated", "{\"skills\":9223372036854775807}", &ev);
	ck_assert_uint_eq(ev.attrs.profile.skills, 255);

	assert_typed_reject("profile_updated", "{\"photo\":\"yes\"}", "wrong_type:attrs.photo");
	assert_typed_reject("profile_updated", "{\"photo\":1}", "wrong_type:attrs.photo");
	assert_typed_reject("profile_updated", "{\"background_photo\":0}",
			    "wrong_type:attrs.background_photo");
	assert_typed_reject("profile_updated", "{\"headline\":[]}", "wrong_type:attrs.headline");
	assert_typed_reject("profile_updated", "{\"summary\":{}}", "wrong_type:attrs.summary");
	assert_typed_reject("profile_updated", "{\"experience\":\"true\"}",
			    "wrong_type:attrs.experience");
	assert_typed_reject("profile_updated", "{\"skills\":-1}", "bad_attr:attrs.skills");
	assert_typed_reject("profile_updated", "{\"skills\":1.5}", "wrong_type:attrs.skills");
	assert_typed_reject("profile_updated", "{\"skills\":2.0}", "wrong_type:attrs.skills");
	assert_typed_reject("profile_updated", "{\"skills\":\"3\"}", "wrong_type:attrs.skills");
	assert_typed_reject("profile_updated", "{\"featured_media\":-5}",
			    "bad_attr:attrs.featured_media");
	assert_typed_reject("profile_updated", "{\"featured_media\":true}",
			    "wrong_type:attrs.featured_media");
}
END_TEST

START_TEST (test_search_performed) {
	struct ssi_event ev;

	parse_typed("search_performed", "{\"filters\":3}", &ev);
	ck_assert_int_eq(ev.attrs.search.filters, 3);
	parse_typed("search_performed", NULL, &ev);
	ck_assert_int_eq(ev.attrs.search.filters, 0);
	parse_typed("search_performed", "{\"filters\":0}", &ev);
	ck_assert_int_eq(ev.attrs.search.filters, 0);
	parse_typed("search_performed", "{\"filters\":2147483647}", &ev);
	ck_assert_int_eq(ev.attrs.search.filters, 2147483647);
	assert_typed_reject("search_performed", "{\"filters\":2147483648}",
			    "bad_attr:attrs.filters");
	assert_typed_reject("search_performed", "{\"filters\":-1}", "bad_attr:attrs.filters");
	assert_typed_reject("search_performed", "{\"filters\":\"3\"}", "wrong_type:attrs.filters");
	assert_typed_reject("search_performed", "{\"filters\":3.5}", "wrong_type:attrs.filters");
}
END_TEST

START_TEST (test_profile_viewed) {
	struct ssi_event ev;

	for (int d = 1; d <= 3; d++) {
		char attrs[32];

		snprintf(attrs, sizeof(attrs), "{\"degree\":%d}", d);
		parse_typed("profile_viewed", attrs, &ev);
		ck_assert_int_eq(ev.attrs.view.degree, d);
	}
	assert_typed_reject("profile_viewed", "{\"degree\":0}", "bad_attr:attrs.degree");
	assert_typed_reject("profile_viewed", "{\"degree\":4}", "bad_attr:attrs.degree");
	assert_typed_reject("profile_viewed", "{\"degree\":-1}", "bad_attr:attrs.degree");
	assert_typed_reject("profile_viewed", "{\"degree\":\"2\"}", "wrong_type:attrs.degree");
	assert_typed_reject("profile_viewed", "{\"degree\":2.0}", "wrong_type:attrs.degree");
	assert_typed_reject("profile_viewed", "{\"degree\":null}", "missing_field:attrs.degree");
	assert_typed_reject("profile_viewed", "{\"other\":1}", "missing_field:attrs.degree");
	assert_typed_reject("profile_viewed", "{}", "missing_field:attrs.degree");
	assert_typed_reject("profile_viewed", NULL, "missing_field:attrs.degree");
	assert_typed_reject("profile_viewed", "null", "missing_field:attrs.degree");
}
END_TEST

START_TEST (test_connection) {
	static const char *const types[] = {"connection_added", "connection_removed"};
	struct ssi_event ev;
	char attrs[512];

	for (int k = 0; k < 2; k++) {
		for (int s = SSI_SEN_UNKNOWN + 1; s < SSI_SEN__COUNT; s++) {
			snprintf(attrs, sizeof(attrs),
				 "{\"connection_id\":\"c-9\",\"seniority\":\"%s\","
				 "\"same_company\":%s}",
				 ssi_seniority_name((enum ssi_seniority)s),
				 s % 2 ? "true" : "false");
			parse_typed(types[k], attrs, &ev);
			ck_assert_int_eq(ev.type, SSI_EV_CONNECTION_ADDED + k);
			ck_assert_int_eq(ev.attrs.connection.seniority, s);
			ck_assert_int_eq(ev.attrs.connection.same_company, s % 2);
			ck_assert_str_eq(ev.attrs.connection.connection_id, "c-9");
		}
		parse_typed(types[k], NULL, &ev);
		ck_assert_int_eq(ev.attrs.connection.seniority, SSI_SEN_UNKNOWN);
		ck_assert(!ev.attrs.connection.same_company);
		ck_assert_str_eq(ev.attrs.connection.connection_id, "");
		parse_typed(types[k], "{\"seniority\":null,\"connection_id\":null}", &ev);
		ck_assert_int_eq(ev.attrs.connection.seniority, SSI_SEN_UNKNOWN);
		ck_assert_str_eq(ev.attrs.connection.connection_id, "");

		assert_typed_reject(types[k], "{\"seniority\":\"intern\"}",
				    "bad_attr:attrs.seniority");
		assert_typed_reject(types[k], "{\"seniority\":\"unknown\"}",
				    "bad_attr:attrs.seniority");
		assert_typed_reject(types[k], "{\"seniority\":\"VP\"}", "bad_attr:attrs.seniority");
		assert_typed_reject(types[k], "{\"seniority\":\"\"}", "bad_attr:attrs.seniority");
		assert_typed_reject(types[k], "{\"seniority\":3}", "wrong_type:attrs.seniority");
		assert_typed_reject(types[k], "{\"same_company\":\"no\"}",
				    "wrong_type:attrs.same_company");
		assert_typed_reject(types[k], "{\"connection_id\":\"\"}",
				    "empty_field:attrs.connection_id");
		assert_typed_reject(types[k], "{\"connection_id\":17}",
				    "wrong_type:attrs.connection_id");
	}
}
END_TEST

START_TEST (test_connection_id_length) {
	char *id128 = repeat('c', 128), *id129 = repeat('c', 129);
	char attrs[512];
	struct ssi_event ev;

	snprintf(attrs, sizeof(attrs), "{\"connection_id\":\"%s\"}", id128);
	parse_typed("connection_added", attrs, &ev);
	ck_assert_str_eq(ev.attrs.connection.connection_id, id128);
	snprintf(attrs, sizeof(attrs), "{\"connection_id\":\"%s\"}", id129);
	assert_typed_reject("connection_added", attrs, "too_long:attrs.connection_id");
	free(id128);
	free(id129);
}
END_TEST

/* A valid event where one of the id-like fields has the given value. */
static void event_with_field(char *buf, size_t size, const char *field, const char *value)
{
	static const char *const names[] = {"event_id", "user_id", "tenant", "team", "industry"};
	size_t n = (size_t)snprintf(buf, size,
				    "{\"type\":\"post_shared\","
				    "\"occurred_at\":\"2026-11-20T10:00:00Z\"");

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		n += (size_t)snprintf(buf + n, size - n, ",\"%s\":\"%s\"", names[i],
				      strcmp(names[i], field) == 0 ? value : "v");
	snprintf(buf + n, size - n, "}");
}

/* 128 bytes fit, 129 do not: for each id-like field, ASCII and multi-byte. */
START_TEST (test_id_lengths) {
	static const char *const fields[] = {"event_id", "user_id", "tenant", "team", "industry"};
	char *id128 = repeat('x', 128), *id129 = repeat('x', 129);
	char utf8_128[129 + 2], utf8_129[130 + 2], json[1024];
	struct ssi_event ev;

	/* 64 two-byte characters, then one more ASCII byte */
	for (int i = 0; i < 64; i++)
		memcpy(utf8_128 + 2 * i, "\xc3\xa9", 2);
	utf8_128[128] = '\0';
	memcpy(utf8_129, utf8_128, 128);
	utf8_129[128] = 'a';
	utf8_129[129] = '\0';

	for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
		const char *vals[2][2] = {{id128, id129}, {utf8_128, utf8_129}};

		for (int v = 0; v < 2; v++) {
			char code[64];

			event_with_field(json, sizeof(json), fields[f], vals[v][0]);
			parse_ok(json, &ev);
			event_with_field(json, sizeof(json), fields[f], vals[v][1]);
			snprintf(code, sizeof(code), "too_long:%s", fields[f]);
			assert_reject(json, code);
		}
	}
	snprintf(json, sizeof(json),
		 "{\"event_id\":\"%s\",\"user_id\":\"%s\",\"type\":\"post_shared\","
		 "\"occurred_at\":\"2026-11-20T10:00:00Z\",\"tenant\":\"%s\"}",
		 id128, utf8_128, id128);
	parse_ok(json, &ev);
	ck_assert_str_eq(ev.event_id, id128);
	ck_assert_str_eq(ev.user_id, utf8_128);
	ck_assert_str_eq(ev.segment[SSI_SEG_TENANT], id128);
	ck_assert_uint_eq(ev.fingerprint, ssi_event_fingerprint(id128, 128));
	free(id128);
	free(id129);
}
END_TEST

START_TEST (test_required_fields) {
	static const char *const ok[] = {"\"event_id\":\"e\"", "\"user_id\":\"u\"",
					 "\"type\":\"post_shared\"",
					 "\"occurred_at\":\"2026-11-20T10:00:00Z\""};
	static const char *const names[] = {"event_id", "user_id", "type", "occurred_at"};
	static const char *const bad[] = {"null", "7", "true", "[]", "{}", "\"\""};

	for (int missing = 0; missing < 4; missing++) {
		char json[512], code[64];

		for (size_t b = 0; b <= sizeof(bad) / sizeof(bad[0]); b++) {
			size_t n = (size_t)snprintf(json, sizeof(json), "{");

			for (int f = 0; f < 4; f++) {
				if (f != missing)
					n += (size_t)snprintf(json + n, sizeof(json) - n, "%s%s",
							      n > 1 ? "," : "", ok[f]);
				else if (b < sizeof(bad) / sizeof(bad[0]))
					n += (size_t)snprintf(json + n, sizeof(json) - n,
							      "%s\"%s\":%s", n > 1 ? "," : "",
							      names[f], bad[b]);
			}
			snprintf(json + n, sizeof(json) - n, "}");
			/* absent and null: missing; "" : empty; other types: wrong */
			if (b == sizeof(bad) / sizeof(bad[0]) || b == 0)
				snprintf(code, sizeof(code), "missing_field:%s", names[missing]);
			else if (b == 5 && missing == 3)
				snprintf(code, sizeof(code), "bad_timestamp");
			else if (b == 5)
				snprintf(code, sizeof(code), "empty_field:%s", names[missing]);
			else
				snprintf(code, sizeof(code), "wrong_type:%s", names[missing]);
			assert_reject(json, code);
		}
	}
}
END_TEST

START_TEST (test_segments) {
	struct ssi_event ev;

	parse_ok("{" HEAD ",\"type\":\"post_shared\",\"tenant\":null,\"team\":\"t\"}", &ev);
	ck_assert_str_eq(ev.segment[SSI_SEG_TENANT], "");
	ck_assert_str_eq(ev.segment[SSI_SEG_TEAM], "t");
	ck_assert_str_eq(ev.segment[SSI_SEG_INDUSTRY], "");
	assert_reject("{" HEAD ",\"type\":\"post_shared\",\"tenant\":\"\"}", "empty_field:tenant");
	assert_reject("{" HEAD ",\"type\":\"post_shared\",\"team\":\"\"}", "empty_field:team");
	assert_reject("{" HEAD ",\"type\":\"post_shared\",\"industry\":5}", "wrong_type:industry");
	assert_reject("{" HEAD ",\"type\":\"post_shared\",\"team\":[\"a\"]}", "wrong_type:team");
}
END_TEST

START_TEST (test_type_field) {
	assert_reject("{" HEAD ",\"type\":\"post_shared2\"}", "unknown_type");
	assert_reject("{" HEAD ",\"type\":\"POST_SHARED\"}", "unknown_type");
	assert_reject("{" HEAD ",\"type\":\"x\"}", "unknown_type");
	assert_reject("{" HEAD ",\"type\":\"profile_viewed \"}", "unknown_type");
	assert_reject("{" HEAD ",\"type\":\"\"}", "empty_field:type");
	assert_reject("{" HEAD ",\"type\":7}", "wrong_type:type");
	assert_reject("{" HEAD "}", "missing_field:type");
}
END_TEST

START_TEST (test_timestamps) {
	struct ssi_event ev;

	parse_ok("{\"event_id\":\"e\",\"user_id\":\"u\",\"type\":\"post_shared\","
		 "\"occurred_at\":\"2026-11-20t05:00:00.123456-05:00\"}",
		 &ev);
	ck_assert_int_eq(ev.occurred_at_ms, T_EVENT_MS + 123);
	assert_reject("{\"event_id\":\"e\",\"user_id\":\"u\",\"type\":\"post_shared\","
		      "\"occurred_at\":\"2016-12-31T23:59:60Z\"}",
		      "bad_timestamp");
	assert_reject("{\"event_id\":\"e\",\"user_id\":\"u\",\"type\":\"post_shared\","
		      "\"occurred_at\":\"2023-02-29T10:00:00Z\"}",
		      "bad_timestamp");
	assert_reject("{\"event_id\":\"e\",\"user_id\":\"u\",\"type\":\"post_shared\","
		      "\"occurred_at\":\"1969-12-31T23:59:59Z\"}",
		      "bad_timestamp");
	assert_reject("{\"event_id\":\"e\",\"user_id\":\"u\",\"type\":\"post_shared\","
		      "\"occurred_at\":\"2026-11-20\"}",
		      "bad_timestamp");
	assert_reject("{\"event_id\":\"e\",\"user_id\":\"u\",\"type\":\"post_shared\","
		      "\"occurred_at\":1795168800000}",
		      "wrong_type:occurred_at");
}
END_TEST

/* Unknown fields, nested or not, are skipped; known ones still checked. */
START_TEST (test_unknown_fields_ignored) {
	struct ssi_event ev, plain;

	parse_typed("profile_viewed", "{\"degree\":2}", &plain);
	parse_ok("{\"schema\":1,\"source\":{\"app\":\"web\",\"tags\":[1,2.5,null,true]}," HEAD
		 ",\"type\":\"profile_viewed\",\"attrs\":{\"via\":\"search\",\"degree\":2,"
		 "\"ctx\":{\"page\":[\"a\"]}},\"zzz\":null}",
		 &ev);
	ck_assert_int_eq(memcmp(&ev, &plain, sizeof(ev)), 0);
}
END_TEST

START_TEST (test_error_precedence) {
	/* several faults: the report follows the contract's order, not the keys' */
	assert_reject("{\"type\":\"nope\",\"occurred_at\":\"x\",\"user_id\":\"\"}",
		      "missing_field:event_id");
	assert_reject(
	    "{\"type\":\"nope\",\"occurred_at\":\"x\",\"user_id\":\"\",\"event_id\":\"e\"}",
	    "empty_field:user_id");
	assert_reject("{\"attrs\":[],\"occurred_at\":\"x\",\"user_id\":\"u\",\"event_id\":\"e\","
		      "\"type\":\"nope\"}",
		      "unknown_type");
	assert_reject("{\"attrs\":[],\"tenant\":\"\",\"occurred_at\":\"x\",\"user_id\":\"u\","
		      "\"event_id\":\"e\",\"type\":\"post_shared\"}",
		      "bad_timestamp");
	assert_reject("{\"attrs\":[],\"tenant\":\"\"," HEAD ",\"type\":\"post_shared\"}",
		      "empty_field:tenant");
}
END_TEST

START_TEST (test_not_an_object) {
	assert_reject("[]", "not_an_object");
	assert_reject("[{" HEAD ",\"type\":\"post_shared\"}]", "not_an_object");
	assert_reject("42", "not_an_object");
	assert_reject("\"post_shared\"", "not_an_object");
	assert_reject("null", "not_an_object");
	assert_reject(" true ", "not_an_object");
}
END_TEST

START_TEST (test_invalid_json) {
	struct ssi_event ev;
	struct ssi_reject why;

	assert_reject("", "invalid_json");
	assert_reject("   ", "invalid_json");
	assert_reject("{", "invalid_json");
	assert_reject("{\"event_id\":}", "invalid_json");
	assert_reject("{\"event_id\":\"e\",}", "invalid_json");
	assert_reject("{'event_id':'e'}", "invalid_json");
	assert_reject("{" HEAD ",\"type\":\"post_shared\"} {}", "invalid_json");
	assert_reject("{" HEAD ",\"type\":\"post_shared\"}x", "invalid_json");
	assert_reject("{\"event_id\":\"e\\q\"}", "invalid_json");
	/* a lone surrogate escape is not a character */
	assert_reject("{" HEAD ",\"type\":\"post_shared\",\"x\":\"\\ud800\"}", "invalid_json");
	assert_reject("{" HEAD ",\"type\":\"post_shared\",\"x\":1e999}", "invalid_json");
	assert_reject("{" HEAD ",\"type\":\"post_shared\",\"x\":123456789012345678901234567890}",
		      "invalid_json");
	/* jansson's own words and the position make it into the message */
	ck_assert_int_eq(parse_len("{\"a\":tru}", 9, &ev, &why), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why.message, "line 1"));
	ck_assert_ptr_nonnull(strstr(why.message, "invalid token"));
}
END_TEST

START_TEST (test_escaped_nul) {
	/* \u0000 is valid JSON but a NUL inside an id would truncate it */
	assert_reject("{\"event_id\":\"e\\u0000x\",\"user_id\":\"u\",\"type\":\"post_shared\","
		      "\"occurred_at\":\"2026-11-20T10:00:00Z\"}",
		      "invalid_json");
	assert_reject("{" HEAD ",\"type\":\"post_shared\",\"x\":\"\\u0000\"}", "invalid_json");
	assert_reject("{" HEAD ",\"type\":\"post_shared\",\"\\u0000\":1}", "invalid_json");
}
END_TEST

START_TEST (test_duplicate_keys) {
	struct ssi_event ev;
	struct ssi_reject why;
	const char *json = "{" HEAD ",\"type\":\"post_shared\",\"type\":\"lead_saved\"}";

	assert_reject(json, "invalid_json");
	ck_assert_int_eq(parse_len(json, strlen(json), &ev, &why), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why.message, "duplicate"));
	assert_reject("{" HEAD ",\"type\":\"post_shared\",\"x\":1,\"x\":1}", "invalid_json");
	assert_reject("{" HEAD
		      ",\"type\":\"profile_viewed\",\"attrs\":{\"degree\":1,\"degree\":2}}",
		      "invalid_json");
	assert_reject("{" HEAD ",\"type\":\"post_shared\",\"x\":[{\"a\":1,\"a\":1}]}",
		      "invalid_json");
}
END_TEST

START_TEST (test_nul_byte) {
	static const char with_nul[] = "{\"event_id\":\"e\0\",\"user_id\":\"u\",\"type\":\"post_"
				       "shared\",\"occurred_at\":\"2026-11-20T10:00:00Z\"}";
	static const char nul_after[] = "{\"event_id\":\"e\",\"user_id\":\"u\",\"type\":\"post_"
					"shared\",\"occurred_at\":\"2026-11-20T10:00:00Z\"}\0";
	struct ssi_event ev;
	struct ssi_reject why;

	assert_reject_len(with_nul, sizeof(with_nul) - 1, "nul_byte");
	assert_reject_len(nul_after, sizeof(nul_after) - 1, "nul_byte");
	assert_reject_len("\0", 1, "nul_byte");
	/* the same bytes without the trailing NUL are a valid event */
	ck_assert_int_eq(parse_len(nul_after, sizeof(nul_after) - 2, &ev, &why), 0);
	ck_assert_int_eq(parse_len(with_nul, sizeof(with_nul) - 1, &ev, &why), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why.message, "offset 14"));
}
END_TEST

START_TEST (test_invalid_utf8) {
	static const char *const bad[] = {
	    "\xc0\xaf",		/* overlong '/' */
	    "\xe0\x80\xaf",	/* overlong, three bytes */
	    "\x80",		/* lone continuation byte */
	    "a\xbf",		/* continuation after ASCII */
	    "\xed\xa0\x80",	/* UTF-16 surrogate D800 */
	    "\xed\xbf\xbf",	/* surrogate DFFF */
	    "\xf4\x90\x80\x80", /* above U+10FFFF */
	    "\xf8\x88\x80\x80\x80",
	    "\xff",
	    "\xc3", /* truncated two-byte sequence */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char json[256];

		snprintf(json, sizeof(json),
			 "{" HEAD ",\"type\":\"post_shared\",\"tenant\":\"%s\"}", bad[i]);
		assert_reject(json, "invalid_utf8");
		snprintf(json, sizeof(json), "{" HEAD ",\"type\":\"post_shared\",\"%s\":1}",
			 bad[i]);
		assert_reject(json, "invalid_utf8");
	}
	assert_reject("{" HEAD ",\"type\":\"post_shared\"}\xff", "invalid_utf8");
	/* valid multi-byte text passes through untouched */
	struct ssi_event ev;

	parse_ok("{" HEAD ",\"type\":\"post_shared\",\"team\":\"\xc3\xa9quipe \xf0\x9f\x9a\x80\"}",
		 &ev);
	ck_assert_str_eq(ev.segment[SSI_SEG_TEAM], "\xc3\xa9quipe \xf0\x9f\x9a\x80");
}
END_TEST

/* Messages quote hostile bytes: they must come out as printable ASCII. */
START_TEST (test_message_sanitised) {
	struct ssi_event ev;
	struct ssi_reject why;
	const char *json = "{" HEAD ",\"type\":\"bad\\u0007\\u001b[31m\\u007f\xc3\xa9\"}";

	ck_assert_int_eq(parse_len(json, strlen(json), &ev, &why), -EINVAL);
	ck_assert_str_eq(why.code, "unknown_type");
	ck_assert_ptr_nonnull(strstr(why.message, "\"bad??[31m???\""));
	assert_reject(json, "unknown_type");
}
END_TEST

START_TEST (test_null_arguments) {
	struct ssi_event ev;
	const char *json = "{" HEAD ",\"type\":\"post_shared\"}";

	ck_assert_int_eq(ssi_event_parse(json, strlen(json), NULL, &ev, NULL), 0);
	ck_assert_int_eq(ssi_event_parse("{}", 2, NULL, &ev, NULL), -EINVAL);
	ck_assert_int_eq(ssi_event_parse(NULL, 0, NULL, &ev, NULL), -EINVAL);
}
END_TEST

/* A valid event of exactly len bytes, padded with an unknown string field. */
static char *padded_event(size_t len)
{
	static const char head[] = "{" HEAD ",\"type\":\"post_shared\",\"pad\":\"";
	char *buf = malloc(len + 1);
	size_t fixed = sizeof(head) - 1 + 2;

	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_ge(len, fixed);
	memcpy(buf, head, sizeof(head) - 1);
	memset(buf + sizeof(head) - 1, 'p', len - fixed);
	memcpy(buf + len - 2, "\"}", 3);
	return buf;
}

START_TEST (test_size_limits) {
	struct ssi_event_limits small = {.max_bytes = 300};
	struct ssi_event ev;
	struct ssi_reject why;
	char *at_limit = padded_event(SSI_EVENT_DEFAULT_MAX_BYTES);
	char *over = padded_event(SSI_EVENT_DEFAULT_MAX_BYTES + 1);
	char *small_ok = padded_event(300), *small_over = padded_event(301);

	ck_assert_int_eq(parse_len(at_limit, SSI_EVENT_DEFAULT_MAX_BYTES, &ev, &why), 0);
	assert_reject_len(over, SSI_EVENT_DEFAULT_MAX_BYTES + 1, "too_large");
	ck_assert_int_eq(ssi_event_parse(small_ok, 300, &small, &ev, &why), 0);
	ck_assert_int_eq(ssi_event_parse(small_over, 301, &small, &ev, &why), -EINVAL);
	ck_assert_str_eq(why.code, "too_large");
	ck_assert_ptr_nonnull(strstr(why.message, "301"));
	/* too_large wins over everything, even bytes that are not JSON */
	memset(small_over, 0, 301);
	ck_assert_int_eq(ssi_event_parse(small_over, 301, &small, &ev, &why), -EINVAL);
	ck_assert_str_eq(why.code, "too_large");
	free(at_limit);
	free(over);
	free(small_ok);
	free(small_over);
}
END_TEST

START_TEST (test_one_mebibyte) {
	struct ssi_event_limits big = {.max_bytes = 2 << 20};
	size_t len = 1 << 20;
	char *json = padded_event(len);
	struct ssi_event ev;
	struct ssi_reject why;

	assert_reject_len(json, len, "too_large");
	ck_assert_int_eq(ssi_event_parse(json, len, &big, &ev, &why), 0);
	ck_assert_str_eq(ev.event_id, "evt-1");
	free(json);
}
END_TEST

/* {"a":[[...[1]...]]}: the object plus n - 1 arrays, nesting n. */
static char *nested(int n)
{
	char *buf = malloc((size_t)n * 2 + 256);
	size_t p;

	ck_assert_ptr_nonnull(buf);
	p = (size_t)sprintf(buf, "{" HEAD ",\"type\":\"post_shared\",\"a\":");
	for (int i = 1; i < n; i++)
		buf[p++] = '[';
	buf[p++] = '1';
	for (int i = 1; i < n; i++)
		buf[p++] = ']';
	buf[p++] = '}';
	buf[p] = '\0';
	return buf;
}

START_TEST (test_depth) {
	char *eight = nested(SSI_EVENT_MAX_DEPTH);
	char *nine = nested(SSI_EVENT_MAX_DEPTH + 1);
	char *deep = nested(30000);
	struct ssi_event ev;

	parse_ok(eight, &ev);
	assert_reject(nine, "too_deep");
	assert_reject(deep, "too_deep");
	/* objects count the same as arrays */
	parse_ok("{" HEAD ",\"type\":\"post_shared\",\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{"
		 "\"g\":{\"h\":1}}}}}}}}",
		 &ev);
	assert_reject("{" HEAD ",\"type\":\"post_shared\",\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{"
		      "\"f\":{\"g\":{\"h\":{\"i\":1}}}}}}}}}",
		      "too_deep");
	assert_reject("[[[[[[[[[1]]]]]]]]]", "too_deep");
	assert_reject("[[[[[[[[1]]]]]]]]", "not_an_object");
	/* unbalanced input deeper than the limit is refused before jansson sees it */
	assert_reject("{{{{{{{{{{{{", "too_deep");
	free(eight);
	free(nine);
	free(deep);
}
END_TEST

/* Brackets inside strings are text: many of them force the exact scan. */
START_TEST (test_depth_ignores_strings) {
	struct ssi_event ev;

	parse_ok("{" HEAD ",\"type\":\"post_shared\",\"a\":\"[[[[[[[[[[{{{{{{{{{{\"}", &ev);
	parse_ok("{" HEAD ",\"type\":\"post_shared\",\"a\":\"\\\"[[[[[[[[[[\\\\\",\"b\":[[1]],"
		 "\"[[[[[[[[[[\":\"\\\\\"}",
		 &ev);
	assert_reject("{" HEAD
		      ",\"type\":\"post_shared\",\"a\":\"\\\"[[[[\\\\\",\"b\":[[[[[[[[1]]]]]]]]}",
		      "too_deep");
	/* an escaped quote does not end the string */
	assert_reject("{" HEAD ",\"type\":\"post_shared\",\"a\":\"\\\"\",\"b\":[[[[[[[[[]]]]]]]]]}",
		      "too_deep");
}
END_TEST

START_TEST (test_check_time) {
	struct ssi_event ev;
	struct ssi_reject why;
	int64_t now = T_EVENT_MS + 5 * 3600000LL; /* 2026-11-20T15:00Z */
	int64_t first_day_start = ssi_time_day_start(ssi_time_day(now) - 29);
	int64_t tol = 5 * 60000LL;

	memset(&ev, 0, sizeof(ev));
	ev.type = SSI_EV_POST_SHARED;
	ev.occurred_at_ms = first_day_start;
	ck_assert_int_eq(ssi_event_check_time(&ev, 30, tol, now, &why), 0);
	ev.occurred_at_ms = first_day_start - 1;
	ck_assert_int_eq(ssi_event_check_time(&ev, 30, tol, now, &why), -ERANGE);
	ck_assert_str_eq(why.code, "too_old");
	ck_assert_ptr_nonnull(strstr(why.message, "2026-10-22T00:00:00.000Z"));

	ev.occurred_at_ms = now + tol;
	ck_assert_int_eq(ssi_event_check_time(&ev, 30, tol, now, &why), 0);
	ev.occurred_at_ms = now + tol + 1;
	ck_assert_int_eq(ssi_event_check_time(&ev, 30, tol, now, &why), -ERANGE);
	ck_assert_str_eq(why.code, "in_future");
	ev.occurred_at_ms = now + 1;
	ck_assert_int_eq(ssi_event_check_time(&ev, 30, 0, now, &why), -ERANGE);
	ev.occurred_at_ms = now;
	ck_assert_int_eq(ssi_event_check_time(&ev, 30, 0, now, &why), 0);

	/* a one-day window holds only today */
	ev.occurred_at_ms = ssi_time_day_start(ssi_time_day(now));
	ck_assert_int_eq(ssi_event_check_time(&ev, 1, 0, now, &why), 0);
	ev.occurred_at_ms--;
	ck_assert_int_eq(ssi_event_check_time(&ev, 1, 0, now, &why), -ERANGE);
	ck_assert_str_eq(why.code, "too_old");
	/* the window start does not move within a day */
	ev.occurred_at_ms = first_day_start;
	ck_assert_int_eq(
	    ssi_event_check_time(&ev, 30, 0, ssi_time_day_start(ssi_time_day(now) + 1) - 1, &why),
	    0);
	ck_assert_int_eq(
	    ssi_event_check_time(&ev, 30, 0, ssi_time_day_start(ssi_time_day(now) + 1), &why),
	    -ERANGE);

	ev.occurred_at_ms = SSI_TIME_MAX_MS;
	ck_assert_int_eq(ssi_event_check_time(&ev, 30, INT64_MAX, now, &why), 0);
	ck_assert_int_eq(ssi_event_check_time(&ev, 0, tol, now, &why), -EINVAL);
	ck_assert_str_eq(why.code, "invalid_argument");
	ck_assert_int_eq(ssi_event_check_time(&ev, 30, -1, now, &why), -EINVAL);
	ev.occurred_at_ms = now;
	ck_assert_int_eq(ssi_event_check_time(&ev, 30, tol, now, NULL), 0);
	ev.occurred_at_ms = 0;
	ck_assert_int_eq(ssi_event_check_time(&ev, 30, tol, now, NULL), -ERANGE);
}
END_TEST

/* State events set non-windowed state: old ones still count, future ones do not. */
START_TEST (test_check_time_state_events) {
	static const enum ssi_event_type state[] = {SSI_EV_PROFILE_UPDATED, SSI_EV_CONNECTION_ADDED,
						    SSI_EV_CONNECTION_REMOVED};
	struct ssi_event ev;
	struct ssi_reject why;
	int64_t now = T_EVENT_MS;

	memset(&ev, 0, sizeof(ev));
	for (size_t i = 0; i < sizeof(state) / sizeof(state[0]); i++) {
		ev.type = state[i];
		ck_assert(ssi_event_is_state(ev.type));
		ev.occurred_at_ms = now - 800 * SSI_MS_PER_DAY;
		ck_assert_int_eq(ssi_event_check_time(&ev, 90, 0, now, &why), 0);
		ev.occurred_at_ms = now + 1;
		ck_assert_int_eq(ssi_event_check_time(&ev, 90, 0, now, &why), -ERANGE);
		ck_assert_str_eq(why.code, "in_future");
	}
	ev.type = SSI_EV_INVITATION_ACCEPTED;
	ck_assert(!ssi_event_is_state(ev.type));
	ev.occurred_at_ms = now - 800 * SSI_MS_PER_DAY;
	ck_assert_int_eq(ssi_event_check_time(&ev, 90, 0, now, &why), -ERANGE);
	ck_assert_str_eq(why.code, "too_old");
}
END_TEST

/* Inputs that reach every path, for the arena comparisons. */
static const char *const corpus[] = {
    "{" HEAD ",\"type\":\"post_shared\",\"tenant\":\"acme\",\"team\":\"t\",\"industry\":\"i\"}",
    "{" HEAD ",\"type\":\"profile_updated\",\"attrs\":{\"photo\":true,\"skills\":400}}",
    "{" HEAD ",\"type\":\"profile_viewed\",\"attrs\":{\"degree\":3}}",
    "{" HEAD ",\"type\":\"profile_viewed\",\"attrs\":{\"degree\":4}}",
    "{" HEAD ",\"type\":\"search_performed\",\"attrs\":{\"filters\":2}}",
    "{" HEAD ",\"type\":\"connection_added\",\"attrs\":{\"seniority\":\"cxo\","
    "\"connection_id\":\"c\",\"same_company\":true}}",
    "{" HEAD ",\"type\":\"connection_removed\",\"attrs\":{\"seniority\":\"intern\"}}",
    "{" HEAD ",\"type\":\"nope\"}",
    "{" HEAD ",\"type\":\"post_shared\",\"x\":{\"y\":[1,2,{\"z\":\"long string value here\"}]}}",
    "{" HEAD ",\"type\":\"post_shared\",\"x\":1,\"x\":2}",
    "{\"event_id\":\"\",\"user_id\":\"u\"}",
    "[1,2,3]",
    "{\"a\":",
    "{\"a\":\"\xc0\xaf\"}",
    "{\"a\":\"\\u0000\"}",
    "[[[[[[[[[[]]]]]]]]]]",
};

static void parse_both(const char *json, size_t len, const struct ssi_event_limits *lim)
{
	struct ssi_event_limits plain = {.max_bytes = lim ? lim->max_bytes : 0, .no_arena = true};
	struct ssi_event a, b;
	struct ssi_reject wa, wb;
	int ra, rb;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&wa, 0, sizeof(wa));
	memset(&wb, 0, sizeof(wb));
	ra = ssi_event_parse(json, len, lim, &a, &wa);
	rb = ssi_event_parse(json, len, &plain, &b, &wb);
	ck_assert_int_eq(ra, rb);
	ck_assert_str_eq(wa.code, wb.code);
	ck_assert_str_eq(wa.message, wb.message);
	ck_assert_int_eq(memcmp(&a, &b, sizeof(a)), 0);
}

START_TEST (test_arena_same_results) {
	struct ssi_event_limits big = {.max_bytes = 4 << 20};
	char *huge = padded_event(1 << 20);
	/* many small values: jansson needs far more than the inline buffer */
	size_t cap = 60000, n;
	char *wide = malloc(cap);

	ck_assert_ptr_nonnull(wide);
	n = (size_t)snprintf(wide, cap, "{" HEAD ",\"type\":\"post_shared\",\"v\":[");
	while (n < cap - 16)
		n += (size_t)snprintf(wide + n, cap - n, "%s{}", wide[n - 1] == '[' ? "" : ",");
	n += (size_t)snprintf(wide + n, cap - n, "]}");

	ssi_json_arena_install();
	ssi_json_arena_install(); /* idempotent */
	ck_assert(ssi_json_arena_installed());
	for (size_t i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++)
		parse_both(corpus[i], strlen(corpus[i]), NULL);
	parse_both(huge, 1 << 20, &big);
	parse_both(wide, n, NULL);
	/* the module's arena is reset per event: no state leaks between them */
	for (int round = 0; round < 3; round++)
		for (size_t i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++)
			parse_both(corpus[i], strlen(corpus[i]), NULL);
	ck_assert_ptr_null(ssi_json_arena_active());
	free(huge);
	free(wide);
}
END_TEST

START_TEST (test_arena_api) {
	struct ssi_json_arena *outer = malloc(sizeof(*outer)), *inner = malloc(sizeof(*inner));
	json_t *before, *doc, *nested_doc;
	json_error_t err;
	size_t used;

	ck_assert_ptr_nonnull(outer);
	ck_assert_ptr_nonnull(inner);
	ssi_json_arena_install();
	/* made with libc before the arena: may be freed inside it */
	before = json_pack("{s:s}", "k", "a value made with malloc");
	ck_assert_ptr_nonnull(before);

	ssi_json_arena_begin(outer);
	ck_assert_ptr_eq(ssi_json_arena_active(), outer);
	doc = json_loads("{\"a\":[1,2,3],\"b\":\"text\"}", 0, &err);
	ck_assert_ptr_nonnull(doc);
	used = ssi_json_arena_bytes_used(outer);
	ck_assert_uint_gt(used, 0);
	json_decref(before); /* goes to libc free: a leak or a bad free would show */

	ssi_json_arena_begin(inner);
	ck_assert_ptr_eq(ssi_json_arena_active(), inner);
	nested_doc = json_loads("[\"x\",\"y\"]", 0, &err);
	ck_assert_ptr_nonnull(nested_doc);
	ck_assert_uint_gt(ssi_json_arena_bytes_used(inner), 0);
	ck_assert_uint_eq(ssi_json_arena_bytes_used(outer), used);
	/* freeing into the outer arena from inside the inner one is a no-op */
	json_decref(doc);
	json_decref(nested_doc);
	ssi_json_arena_end(inner);
	ck_assert_ptr_eq(ssi_json_arena_active(), outer);

	/* spill into overflow chunks and release them at the end */
	for (int i = 0; i < 5000; i++) {
		json_t *v = json_string("some text that is allocated in the arena");

		ck_assert_ptr_nonnull(v);
		json_decref(v);
	}
	ck_assert_uint_gt(ssi_json_arena_bytes_used(outer), SSI_JSON_ARENA_BYTES);
	ssi_json_arena_end(outer);
	ck_assert_ptr_null(ssi_json_arena_active());
	ck_assert_uint_eq(ssi_json_arena_bytes_used(outer), 0);

	/* without an active arena, jansson is back on malloc */
	doc = json_loads("{\"a\":1}", 0, &err);
	ck_assert_ptr_nonnull(doc);
	json_decref(doc);
	free(outer);
	free(inner);
}
END_TEST

struct parse_thread {
	int ok;
};

static void *parse_in_thread(void *arg)
{
	struct parse_thread *pt = arg;

	for (int i = 0; i < 2000; i++) {
		const char *json = corpus[i % 3];
		struct ssi_event ev;
		struct ssi_reject why;

		if (ssi_event_parse(json, strlen(json), NULL, &ev, &why) == 0 &&
		    strcmp(ev.event_id, "evt-1") == 0)
			pt->ok++;
	}
	return NULL;
}

/* Each thread gets its own arena and frees it when it exits (ASAN/valgrind). */
START_TEST (test_arena_threads) {
	pthread_t threads[4];
	struct parse_thread pt[4] = {{0}};

	ssi_json_arena_install();
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&threads[i], NULL, parse_in_thread, &pt[i]), 0);
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(pthread_join(threads[i], NULL), 0);
		/* corpus[0..2] are all valid events */
		ck_assert_int_eq(pt[i].ok, 2000);
	}
}
END_TEST

Suite *event_suite(void)
{
	Suite *s = suite_create("event");
	TCase *tc = tcase_create("contract");

	tcase_add_test(tc, test_valid_event);
	tcase_add_test(tc, test_key_order_and_whitespace);
	tcase_add_test(tc, test_fingerprint);
	tcase_add_test(tc, test_type_names);
	tcase_add_test(tc, test_seniority_and_segment_names);
	tcase_add_test(tc, test_every_type);
	tcase_add_test(tc, test_attrs_ignored_by_other_types);
	tcase_add_test(tc, test_profile_updated);
	tcase_add_test(tc, test_search_performed);
	tcase_add_test(tc, test_profile_viewed);
	tcase_add_test(tc, test_connection);
	tcase_add_test(tc, test_connection_id_length);
	tcase_add_test(tc, test_id_lengths);
	tcase_add_test(tc, test_required_fields);
	tcase_add_test(tc, test_segments);
	tcase_add_test(tc, test_type_field);
	tcase_add_test(tc, test_timestamps);
	tcase_add_test(tc, test_unknown_fields_ignored);
	tcase_add_test(tc, test_error_precedence);
	tcase_add_test(tc, test_null_arguments);
	suite_add_tcase(s, tc);

	tc = tcase_create("rejections");
	tcase_add_test(tc, test_not_an_object);
	tcase_add_test(tc, test_invalid_json);
	tcase_add_test(tc, test_escaped_nul);
	tcase_add_test(tc, test_duplicate_keys);
	tcase_add_test(tc, test_nul_byte);
	tcase_add_test(tc, test_invalid_utf8);
	tcase_add_test(tc, test_message_sanitised);
	tcase_add_test(tc, test_size_limits);
	tcase_add_test(tc, test_one_mebibyte);
	tcase_add_test(tc, test_depth);
	tcase_add_test(tc, test_depth_ignores_strings);
	suite_add_tcase(s, tc);

	tc = tcase_create("time_window");
	tcase_add_test(tc, test_check_time);
	tcase_add_test(tc, test_check_time_state_events);
	suite_add_tcase(s, tc);

	tc = tcase_create("arena");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_arena_same_results);
	tcase_add_test(tc, test_arena_api);
	tcase_add_test(tc, test_arena_threads);
	suite_add_tcase(s, tc);
	return s;
}
