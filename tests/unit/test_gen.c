/*
 * The activity generator: deterministic, ordered in time, well-formed where
 * it should be and malformed where asked, and shaped like real usage.
 */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ssi_event.h"
#include "ssi_time.h"
#include "ssigen.h"
#include "suites.h"

/* Monday 2026-11-16 00:00:00 UTC. */
#define MONDAY_MS 1794787200000LL
#define HOUR_MS	  3600000LL

static struct ssigen *make(uint64_t seed, uint32_t users, int64_t days, double bad_ratio)
{
	struct ssigen_config cfg = {
	    .seed = seed,
	    .users = users,
	    .tenants = 4,
	    .teams_per_tenant = 3,
	    .start_ms = MONDAY_MS,
	    .end_ms = days ? MONDAY_MS + days * SSI_MS_PER_DAY : 0,
	    .bad_ratio = bad_ratio,
	};
	struct ssigen *g = NULL;

	ck_assert_int_eq(ssigen_new(&g, &cfg), 0);
	ck_assert_ptr_nonnull(g);
	return g;
}

static int next(struct ssigen *g, struct ssigen_event *ev)
{
	int r = ssigen_next(g, ev);

	ck_assert_int_ge(r, 0);
	return r;
}

/* The local day and hour of an instant for a user in a given timezone. */
static int32_t local_day(int64_t ms, int32_t offset_min)
{
	return ssi_time_day(ms + (int64_t)offset_min * 60000);
}

static int local_hour(int64_t ms, int32_t offset_min)
{
	int64_t local = ms + (int64_t)offset_min * 60000;

	return (int)((local - ssi_time_day_start(ssi_time_day(local))) / HOUR_MS);
}

static bool weekend(int32_t day)
{
	int weekday = (int)(((int64_t)day + 4) % 7);

	return weekday == 0 || weekday == 6;
}

START_TEST (test_config_rejected) {
	struct ssigen_config ok = {.seed = 1, .users = 10, .start_ms = MONDAY_MS};
	struct ssigen_config c;
	struct ssigen *g = NULL;

	c = ok;
	c.users = 0;
	ck_assert_int_eq(ssigen_new(&g, &c), -EINVAL);
	c = ok;
	c.tenants = 11;
	ck_assert_int_eq(ssigen_new(&g, &c), -EINVAL);
	c = ok;
	c.bad_ratio = 1.5;
	ck_assert_int_eq(ssigen_new(&g, &c), -EINVAL);
	c = ok;
	c.bad_ratio = -0.1;
	ck_assert_int_eq(ssigen_new(&g, &c), -EINVAL);
	c = ok;
	c.end_ms = ok.start_ms;
	ck_assert_int_eq(ssigen_new(&g, &c), -EINVAL);
	c = ok;
	c.industries = SSIGEN_INDUSTRIES_MAX + 1;
	ck_assert_int_eq(ssigen_new(&g, &c), -EINVAL);
	c = ok;
	c.activity = -1;
	ck_assert_int_eq(ssigen_new(&g, &c), -EINVAL);
	c = ok;
	c.start_ms = -1;
	ck_assert_int_eq(ssigen_new(&g, &c), -EINVAL);
	ck_assert_ptr_null(g);
	ck_assert_int_eq(ssigen_new(NULL, &ok), -EINVAL);
	ck_assert_int_eq(ssigen_new(&g, &ok), 0);
	ck_assert_uint_eq(ssigen_users(g), 10);
	ck_assert_int_eq(ssigen_next(g, NULL), -EINVAL);
	ssigen_free(g);
	ssigen_free(NULL);
}
END_TEST

START_TEST (test_same_seed_same_bytes) {
	struct ssigen *a = make(7, 200, 0, 0.2), *b = make(7, 200, 0, 0.2);
	struct ssigen_event ea, eb;

	for (int i = 0; i < 30000; i++) {
		ck_assert_int_eq(next(a, &ea), 1);
		ck_assert_int_eq(next(b, &eb), 1);
		ck_assert_int_eq(ea.occurred_at_ms, eb.occurred_at_ms);
		ck_assert_int_eq(ea.bad, eb.bad);
		ck_assert_uint_eq(ea.len, eb.len);
		ck_assert_str_eq(ea.key, eb.key);
		ck_assert(memcmp(ea.json, eb.json, ea.len) == 0);
	}
	ssigen_free(a);
	ssigen_free(b);
}
END_TEST

START_TEST (test_other_seed_other_bytes) {
	struct ssigen *a = make(7, 200, 0, 0), *b = make(8, 200, 0, 0);
	struct ssigen_event ea, eb;
	int differing = 0, same_time = 0;

	for (int i = 0; i < 1000; i++) {
		ck_assert_int_eq(next(a, &ea), 1);
		ck_assert_int_eq(next(b, &eb), 1);
		if (ea.len != eb.len || memcmp(ea.json, eb.json, ea.len) != 0)
			differing++;
		if (ea.occurred_at_ms == eb.occurred_at_ms)
			same_time++;
	}
	/* Event ids carry the stream, so every payload differs; so do the times. */
	ck_assert_int_eq(differing, 1000);
	ck_assert_int_lt(same_time, 50);
	ssigen_free(a);
	ssigen_free(b);
}
END_TEST

/* Spoiling events draws from its own stream: the traffic underneath is unchanged. */
START_TEST (test_bad_ratio_keeps_traffic) {
	struct ssigen *clean = make(11, 150, 0, 0), *spoiled = make(11, 150, 0, 0.3);
	struct ssigen_event ec, es;

	for (int i = 0; i < 20000; i++) {
		ck_assert_int_eq(next(clean, &ec), 1);
		ck_assert_int_eq(next(spoiled, &es), 1);
		ck_assert_int_eq(ec.occurred_at_ms, es.occurred_at_ms);
		ck_assert_uint_eq(ec.user, es.user);
		if (!es.bad) {
			ck_assert_uint_eq(ec.len, es.len);
			ck_assert(memcmp(ec.json, es.json, ec.len) == 0);
		}
	}
	ssigen_free(clean);
	ssigen_free(spoiled);
}
END_TEST

START_TEST (test_time_never_goes_back) {
	int64_t end = MONDAY_MS + 10 * SSI_MS_PER_DAY;
	struct ssigen *g = make(3, 400, 10, 0.1);
	struct ssigen_event ev;
	int64_t last = MONDAY_MS;
	long n = 0;

	while (next(g, &ev) == 1) {
		ck_assert_int_ge(ev.occurred_at_ms, last);
		ck_assert_int_lt(ev.occurred_at_ms, end);
		last = ev.occurred_at_ms;
		n++;
	}
	/* 400 users over ten days: tens of thousands of events, then it stays over. */
	ck_assert_int_gt(n, 40000);
	ck_assert_int_eq(next(g, &ev), 0);
	ssigen_free(g);
}
END_TEST

static bool json_bool(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	ck_assert_msg(json_is_boolean(v), "%s is not a boolean", key);
	return json_is_true(v);
}

static json_int_t json_int(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	ck_assert_msg(json_is_integer(v), "%s is not an integer", key);
	return json_integer_value(v);
}

static const char *json_text(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	ck_assert_msg(json_is_string(v), "%s is not a string", key);
	ck_assert_uint_gt(json_string_length(v), 0);
	ck_assert_uint_le(json_string_length(v), SSI_ID_MAX);
	return json_string_value(v);
}

static void check_attrs(const struct ssigen_event *ev, json_t *root)
{
	json_t *attrs = json_object_get(root, "attrs");

	switch (ev->type) {
	case SSI_EV_PROFILE_UPDATED:
		ck_assert(json_is_object(attrs));
		json_bool(attrs, "photo");
		json_bool(attrs, "background_photo");
		json_bool(attrs, "headline");
		json_bool(attrs, "summary");
		json_bool(attrs, "experience");
		ck_assert_int_ge(json_int(attrs, "skills"), 0);
		ck_assert_int_ge(json_int(attrs, "featured_media"), 0);
		break;
	case SSI_EV_SEARCH_PERFORMED:
		ck_assert_int_ge(json_int(attrs, "filters"), 0);
		break;
	case SSI_EV_PROFILE_VIEWED: {
		json_int_t degree = json_int(attrs, "degree");

		ck_assert(degree >= 1 && degree <= 3);
		break;
	}
	case SSI_EV_CONNECTION_ADDED:
	case SSI_EV_CONNECTION_REMOVED: {
		const char *sen = json_text(attrs, "seniority");

		ck_assert_str_ne(json_text(attrs, "connection_id"), ev->key);
		ck_assert_int_gt(ssi_seniority_from_name(sen, strlen(sen)), SSI_SEN_UNKNOWN);
		json_bool(attrs, "same_company");
		break;
	}
	default:
		break;
	}
}

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every good event is strict JSON with the contract's fields, and ids never repeat. */
START_TEST (test_good_events_are_well_formed) {
	enum { N = 40000 };
	struct ssigen *g = make(5, 300, 0, 0);
	struct ssigen_event ev;
	char **ids = calloc(N, sizeof(*ids));
	int seen_type[SSI_EV__COUNT] = {0};

	ck_assert_ptr_nonnull(ids);
	for (int i = 0; i < N; i++) {
		json_error_t err;
		json_t *root;
		const char *type, *at;
		int64_t at_ms;

		ck_assert_int_eq(next(g, &ev), 1);
		ck_assert(!ev.bad);
		root = json_loadb(ev.json, ev.len, JSON_REJECT_DUPLICATES, &err);
		ck_assert_msg(root != NULL, "%s in %.*s", err.text, (int)ev.len, ev.json);
		ck_assert(json_is_object(root));
		ids[i] = strdup(json_text(root, "event_id"));
		ck_assert_str_eq(json_text(root, "user_id"), ev.key);
		ck_assert_uint_eq(strlen(ev.key), ev.key_len);
		type = json_text(root, "type");
		ck_assert_int_eq(ssi_event_type_from_name(type, strlen(type)), (int)ev.type);
		at = json_text(root, "occurred_at");
		ck_assert_int_eq(ssi_time_parse(at, strlen(at), &at_ms), 0);
		ck_assert_int_eq(at_ms, ev.occurred_at_ms);
		ck_assert_int_eq(strncmp(json_text(root, "team"), json_text(root, "tenant"),
					 strlen(json_text(root, "tenant"))),
				 0);
		json_text(root, "industry");
		check_attrs(&ev, root);
		seen_type[ev.type]++;
		json_decref(root);
	}
	qsort(ids, N, sizeof(*ids), compare_strings);
	for (int i = 1; i < N; i++)
		ck_assert_str_ne(ids[i - 1], ids[i]);
	for (int i = 0; i < N; i++)
		free(ids[i]);
	free(ids);
	/* Every one of the 25 types shows up in a realistic stream. */
	for (int t = 0; t < SSI_EV__COUNT; t++)
		ck_assert_msg(seen_type[t] > 0, "no %s",
			      ssi_event_type_name((enum ssi_event_type)t));
	ssigen_free(g);
}
END_TEST

/*
 * The contract's own parser accepts every good event as written and turns
 * every bad one away, for many different reasons.
 */
START_TEST (test_parser_agrees) {
	struct ssigen *g = make(9, 300, 0, 0.25);
	struct ssigen_event ev;
	char codes[64][64];
	int ncodes = 0, nbad = 0;

	for (int i = 0; i < 40000; i++) {
		struct ssi_event parsed;
		struct ssi_reject why;
		int r;

		ck_assert_int_eq(next(g, &ev), 1);
		memset(&why, 0, sizeof(why));
		r = ssi_event_parse(ev.json, ev.len, NULL, &parsed, &why);
		if (r == 0)
			r = ssi_event_check_time(&parsed, 90, 60000, ev.occurred_at_ms, &why);
		if (!ev.bad) {
			ck_assert_msg(r == 0, "%s: %.*s", why.code, (int)ev.len, ev.json);
			ck_assert_str_eq(parsed.user_id, ev.key);
			ck_assert_int_eq(parsed.type, ev.type);
			ck_assert_int_eq(parsed.occurred_at_ms, ev.occurred_at_ms);
			continue;
		}
		nbad++;
		ck_assert_msg(r < 0, "accepted bad event %.*s", (int)ev.len, ev.json);
		for (int c = 0; c <= ncodes; c++) {
			if (c == ncodes && ncodes < 64) {
				snprintf(codes[ncodes++], sizeof(codes[0]), "%s", why.code);
				break;
			}
			if (strcmp(codes[c], why.code) == 0)
				break;
		}
	}
	ck_assert_int_gt(nbad, 9000);
	ck_assert_int_ge(ncodes, 15);
	ssigen_free(g);
}
END_TEST

static double bad_share(double ratio, int n)
{
	struct ssigen *g = make(13, 100, 0, ratio);
	struct ssigen_event ev;
	int bad = 0;

	for (int i = 0; i < n; i++) {
		ck_assert_int_eq(next(g, &ev), 1);
		bad += ev.bad;
	}
	ssigen_free(g);
	return (double)bad / n;
}

START_TEST (test_bad_ratio_share) {
	double share = bad_share(0.2, 50000);

	ck_assert_double_ge(share, 0.19);
	ck_assert_double_le(share, 0.21);
	ck_assert_double_eq(bad_share(0, 20000), 0);
	ck_assert_double_eq(bad_share(1, 20000), 1);
}
END_TEST

struct week {
	uint32_t users;
	long *per_user;
	struct ssigen *g;
};

/* Run a population over whole weeks starting on a Monday, counting per user. */
static void run_weeks(struct week *w, uint64_t seed, uint32_t users, int weeks)
{
	struct ssigen_event ev;

	w->users = users;
	w->g = make(seed, users, 7 * weeks, 0);
	w->per_user = calloc(users, sizeof(*w->per_user));
	ck_assert_ptr_nonnull(w->per_user);
	while (next(w->g, &ev) == 1)
		w->per_user[ev.user]++;
}

static double mean_of(const struct week *w, enum ssigen_persona p, int *members)
{
	long total = 0;
	int n = 0;

	for (uint32_t u = 0; u < w->users; u++) {
		struct ssigen_user_info info;

		ck_assert_int_eq(ssigen_user_info(w->g, u, &info), 0);
		if (info.persona != p)
			continue;
		total += w->per_user[u];
		n++;
	}
	*members = n;
	return n ? (double)total / n : 0;
}

START_TEST (test_persona_mix) {
	struct week w;
	int counts[SSIGEN_PERSONA__COUNT];
	double mean[SSIGEN_PERSONA__COUNT];

	run_weeks(&w, 21, 2000, 1);
	for (int p = 0; p < SSIGEN_PERSONA__COUNT; p++)
		mean[p] = mean_of(&w, (enum ssigen_persona)p, &counts[p]);
	/* Shares close to 35/20/20/15/2/8 per cent of 2000 users. */
	ck_assert_int_ge(counts[SSIGEN_PASSIVE], 620);
	ck_assert_int_le(counts[SSIGEN_PASSIVE], 780);
	ck_assert_int_ge(counts[SSIGEN_SOCIAL_SELLER], 240);
	ck_assert_int_le(counts[SSIGEN_SOCIAL_SELLER], 360);
	ck_assert_int_ge(counts[SSIGEN_SPAMMER], 20);
	ck_assert_int_le(counts[SSIGEN_SPAMMER], 70);
	ck_assert_int_ge(counts[SSIGEN_LAPSING], 110);
	ck_assert_int_le(counts[SSIGEN_LAPSING], 220);
	/* Social sellers are far busier than passive users; bots beat everyone. */
	ck_assert_double_gt(mean[SSIGEN_SOCIAL_SELLER], 4 * mean[SSIGEN_PASSIVE]);
	ck_assert_double_gt(mean[SSIGEN_SOCIAL_SELLER], mean[SSIGEN_POSTER]);
	ck_assert_double_gt(mean[SSIGEN_SPAMMER], mean[SSIGEN_SOCIAL_SELLER]);
	ck_assert_double_gt(mean[SSIGEN_PASSIVE], 5);
	ssigen_free(w.g);
	free(w.per_user);
}
END_TEST

/* Humans work weekdays in office hours; bots do not care. */
START_TEST (test_weekly_and_daily_rhythm) {
	struct ssigen *g = make(17, 600, 28, 0);
	struct ssigen_event ev;
	long weekday = 0, weekend_n = 0, office = 0, human_weekday = 0;
	long bot_night = 0, bot_total = 0;

	while (next(g, &ev) == 1) {
		struct ssigen_user_info info;
		int32_t day;
		int hour;

		ck_assert_int_eq(ssigen_user_info(g, ev.user, &info), 0);
		day = local_day(ev.occurred_at_ms, info.utc_offset_min);
		hour = local_hour(ev.occurred_at_ms, info.utc_offset_min);
		if (info.persona == SSIGEN_SPAMMER) {
			bot_total++;
			bot_night += hour < 6;
		}
		if (weekend(day)) {
			weekend_n++;
			continue;
		}
		weekday++;
		if (info.persona != SSIGEN_SPAMMER) {
			human_weekday++;
			office += hour >= 8 && hour < 18;
		}
	}
	/* Per day: 8 weekend days against 20 weekdays in four weeks. */
	ck_assert_double_lt((double)weekend_n / 8, 0.4 * (double)weekday / 20);
	ck_assert_double_gt((double)office / (double)human_weekday, 0.7);
	/* A bot spends about a quarter of its time between midnight and six. */
	ck_assert_double_gt((double)bot_night / (double)bot_total, 0.18);
	ssigen_free(g);
}
END_TEST

/* Some days are bursts of three to five times the usual activity. */
START_TEST (test_burst_days) {
	struct ssigen *g = make(23, 200, 56, 0);
	struct ssigen_event ev;
	static long per_day[200][57];
	int bursts = 0, ordinary = 0;

	memset(per_day, 0, sizeof(per_day));
	while (next(g, &ev) == 1) {
		int32_t d = ssi_time_day(ev.occurred_at_ms) - ssi_time_day(MONDAY_MS);

		per_day[ev.user][d]++;
	}
	for (uint32_t u = 0; u < 200; u++) {
		struct ssigen_user_info info;
		long sorted[56];
		long median;

		ck_assert_int_eq(ssigen_user_info(g, u, &info), 0);
		if (info.persona != SSIGEN_SOCIAL_SELLER)
			continue;
		for (int d = 0; d < 56; d++)
			sorted[d] = weekend(ssi_time_day(MONDAY_MS) + d) ? 0 : per_day[u][d];
		for (int i = 1; i < 56; i++)
			for (int j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
				long t = sorted[j];

				sorted[j] = sorted[j - 1];
				sorted[j - 1] = t;
			}
		median = sorted[16 + 20]; /* 16 weekend zeros, then 40 weekdays */
		for (int d = 0; d < 56; d++) {
			if (weekend(ssi_time_day(MONDAY_MS) + d))
				continue;
			if (per_day[u][d] > 2.5 * (double)median)
				bursts++;
			else
				ordinary++;
		}
	}
	/* About 7% of working days burst; neither never nor always. */
	ck_assert_int_gt(bursts, ordinary / 40);
	ck_assert_int_lt(bursts, ordinary / 5);
	ssigen_free(g);
}
END_TEST

/* Everybody's first event is a profile snapshot; lapsing users never come back. */
START_TEST (test_first_profile_and_lapsing) {
	struct ssigen *g = make(29, 500, 42, 0);
	struct ssigen_event ev;
	bool seen[500] = {false};
	int lapsed_in_span = 0;

	while (next(g, &ev) == 1) {
		struct ssigen_user_info info;

		ck_assert_int_eq(ssigen_user_info(g, ev.user, &info), 0);
		if (!seen[ev.user])
			ck_assert_int_eq(ev.type, SSI_EV_PROFILE_UPDATED);
		seen[ev.user] = true;
		ck_assert_int_lt(ev.occurred_at_ms, info.idle_from_ms);
	}
	for (uint32_t u = 0; u < 500; u++) {
		struct ssigen_user_info info;

		ck_assert_int_eq(ssigen_user_info(g, u, &info), 0);
		if (info.persona == SSIGEN_LAPSING) {
			ck_assert_int_ne(info.idle_from_ms, INT64_MAX);
			lapsed_in_span += info.idle_from_ms < MONDAY_MS + 42 * SSI_MS_PER_DAY;
		} else {
			ck_assert_int_eq(info.idle_from_ms, INT64_MAX);
			ck_assert_msg(seen[u], "user %u never acted", u);
		}
	}
	ck_assert_int_gt(lapsed_in_span, 10);
	ck_assert_int_eq(ssigen_user_info(g, 500, &(struct ssigen_user_info){0}), -EINVAL);
	ssigen_free(g);
}
END_TEST

struct pair {
	uint32_t a, b;
};

static int compare_pairs(const void *x, const void *y)
{
	const struct pair *p = x, *q = y;

	if (p->a != q->a)
		return p->a < q->a ? -1 : 1;
	if (p->b != q->b)
		return p->b < q->b ? -1 : 1;
	return 0;
}

/*
 * Connections mostly join known users and appear on both sides; accepted
 * invitations and InMail replies never outnumber what was sent.
 */
START_TEST (test_network_and_consequences) {
	enum { USERS = 300, MAX_PAIRS = 200000 };
	struct ssigen *g = make(31, USERS, 21, 0);
	struct ssigen_event ev;
	struct pair *pairs = calloc(MAX_PAIRS, sizeof(*pairs));
	long sent[USERS] = {0}, accepted[USERS] = {0}, inmails[USERS] = {0}, replies[USERS] = {0};
	long known = 0, external = 0, mirrored = 0, total_accepted = 0, total_replies = 0;
	size_t npairs = 0;

	ck_assert_ptr_nonnull(pairs);
	while (next(g, &ev) == 1) {
		json_t *root, *cid;
		unsigned other;

		switch (ev.type) {
		case SSI_EV_INVITATION_SENT:
			sent[ev.user]++;
			break;
		case SSI_EV_INVITATION_ACCEPTED:
			accepted[ev.user]++;
			ck_assert_int_le(accepted[ev.user], sent[ev.user]);
			total_accepted++;
			break;
		case SSI_EV_INMAIL_SENT:
			inmails[ev.user]++;
			break;
		case SSI_EV_INMAIL_REPLIED:
			replies[ev.user]++;
			ck_assert_int_le(replies[ev.user], inmails[ev.user]);
			total_replies++;
			break;
		case SSI_EV_CONNECTION_ADDED:
			root = json_loadb(ev.json, ev.len, 0, NULL);
			ck_assert_ptr_nonnull(root);
			cid = json_object_get(json_object_get(root, "attrs"), "connection_id");
			if (sscanf(json_string_value(cid), "u-%u", &other) == 1) {
				ck_assert_uint_lt(other, USERS);
				known++;
				if (npairs < MAX_PAIRS)
					pairs[npairs++] = (struct pair){ev.user, other};
			} else {
				external++;
			}
			json_decref(root);
			break;
		default:
			break;
		}
	}
	ck_assert_int_gt(known, external);
	ck_assert_int_gt(total_accepted, 100);
	ck_assert_int_gt(total_replies, 20);
	qsort(pairs, npairs, sizeof(*pairs), compare_pairs);
	for (size_t i = 0; i < npairs; i++) {
		struct pair back = {pairs[i].b, pairs[i].a};

		mirrored += bsearch(&back, pairs, npairs, sizeof(*pairs), compare_pairs) != NULL;
	}
	/* Only a lapsed user or the end of the run leaves a connection one-sided. */
	ck_assert_double_gt((double)mirrored / (double)npairs, 0.9);
	free(pairs);
	ssigen_free(g);
}
END_TEST

/* Tenants, teams within them and industries from the fixed list. */
START_TEST (test_segments) {
	static const char *const known_industries[] = {
	    "software",	 "financial-services",	  "healthcare", "manufacturing",
	    "retail",	 "telecommunications",	  "energy",	"education",
	    "logistics", "professional-services", "media",	"government",
	};
	struct ssigen *g = make(37, 400, 1, 0);
	char tenants[8][64];
	int ntenants = 0;

	for (uint32_t u = 0; u < 400; u++) {
		struct ssigen_user_info info;
		bool industry_known = false;
		int t;

		ck_assert_int_eq(ssigen_user_info(g, u, &info), 0);
		ck_assert_int_eq(strncmp(info.team, info.tenant, strlen(info.tenant)), 0);
		ck_assert_int_eq(info.team[strlen(info.tenant)], '.');
		for (size_t i = 0; i < 12; i++)
			industry_known |= strcmp(info.industry, known_industries[i]) == 0;
		ck_assert(industry_known);
		ck_assert(info.utc_offset_min >= -12 * 60 && info.utc_offset_min <= 14 * 60);
		ck_assert_int_gt(info.seniority, SSI_SEN_UNKNOWN);
		for (t = 0; t < ntenants; t++)
			if (strcmp(tenants[t], info.tenant) == 0)
				break;
		if (t == ntenants) {
			ck_assert_int_lt(ntenants, 8);
			snprintf(tenants[ntenants++], sizeof(tenants[0]), "%s", info.tenant);
		}
	}
	ck_assert_int_eq(ntenants, 4);
	ck_assert_str_eq(ssigen_persona_name(SSIGEN_SOCIAL_SELLER), "social_seller");
	ck_assert_ptr_null(ssigen_persona_name(SSIGEN_PERSONA__COUNT));
	ssigen_free(g);
}
END_TEST

/* The activity factor scales the rate, and so the count over a fixed span. */
START_TEST (test_activity_scales) {
	struct ssigen_config cfg = {
	    .seed = 41,
	    .users = 100,
	    .start_ms = MONDAY_MS,
	    .end_ms = MONDAY_MS + 7 * SSI_MS_PER_DAY,
	};
	long counts[2] = {0, 0};

	for (int i = 0; i < 2; i++) {
		struct ssigen *g = NULL;
		struct ssigen_event ev;

		cfg.activity = i ? 10 : 1;
		ck_assert_int_eq(ssigen_new(&g, &cfg), 0);
		while (next(g, &ev) == 1)
			counts[i]++;
		ssigen_free(g);
	}
	ck_assert_int_gt(counts[1], 8 * counts[0]);
	ck_assert_int_lt(counts[1], 12 * counts[0]);
}
END_TEST

Suite *gen_suite(void)
{
	Suite *s = suite_create("gen");
	TCase *tc = tcase_create("gen");

	tcase_set_timeout(tc, 60);
	/* Millions of generated events: too slow under valgrind (ASan runs them). */
	tcase_set_tags(tc, "statistical");
	tcase_add_test(tc, test_config_rejected);
	tcase_add_test(tc, test_same_seed_same_bytes);
	tcase_add_test(tc, test_other_seed_other_bytes);
	tcase_add_test(tc, test_bad_ratio_keeps_traffic);
	tcase_add_test(tc, test_time_never_goes_back);
	tcase_add_test(tc, test_good_events_are_well_formed);
	tcase_add_test(tc, test_parser_agrees);
	tcase_add_test(tc, test_bad_ratio_share);
	tcase_add_test(tc, test_persona_mix);
	tcase_add_test(tc, test_weekly_and_daily_rhythm);
	tcase_add_test(tc, test_burst_days);
	tcase_add_test(tc, test_first_profile_and_lapsing);
	tcase_add_test(tc, test_network_and_consequences);
	tcase_add_test(tc, test_segments);
	tcase_add_test(tc, test_activity_scales);
	suite_add_tcase(s, tc);
	return s;
}
