/*
 * Personas from the source material, as 90-day event streams, and the bands
 * the default model promises for them (README, "Calibration"):
 *   passive member 10-25, solid user 45-65, complete social seller above 75;
 *   the poster who never networks leads on brand and insights, the networker
 *   who never posts leads on people and relationships.
 */
#include <stdio.h>
#include <string.h>

#include "suites.h"
#include "ssi_score.h"
#include "testutil.h"

/* Mean events per working day; weekends see a fifth of that. */
struct rate {
	enum ssi_event_type type;
	double per_day;
};

struct persona {
	const char *name;
	struct ssi_profile profile;
	int connections[SSI_SEN__COUNT];
	int internal;
	struct rate rate[16];
	int lo, hi; /* expected total band, centipoints */
};

static const struct persona personas[] = {
    {"passive member",
     {true, false, true, false, true, 3, 0},
     {[SSI_SEN_UNKNOWN] = 60, [SSI_SEN_ENTRY] = 40, [SSI_SEN_SENIOR] = 20, [SSI_SEN_MANAGER] = 8},
     5,
     {{SSI_EV_SESSION_STARTED, 0.3},
      {SSI_EV_REACTION_GIVEN, 0.2},
      {SSI_EV_PROFILE_VIEW_RECEIVED, 0.3},
      {SSI_EV_PROFILE_VIEWED, 0.1},
      {SSI_EV_FOLLOWER_GAINED, 0.05}},
     1000,
     2500},
    {"solid user",
     {true, true, true, true, true, 8, 1},
     {[SSI_SEN_UNKNOWN] = 100,
      [SSI_SEN_ENTRY] = 100,
      [SSI_SEN_SENIOR] = 120,
      [SSI_SEN_MANAGER] = 80,
      [SSI_SEN_DIRECTOR] = 30,
      [SSI_SEN_VP] = 10,
      [SSI_SEN_CXO] = 5},
     20,
     {{SSI_EV_SESSION_STARTED, 0.7},
      {SSI_EV_POST_SHARED, 0.15},
      {SSI_EV_ARTICLE_PUBLISHED, 0.02},
      {SSI_EV_REACTION_GIVEN, 1.0},
      {SSI_EV_COMMENT_GIVEN, 0.3},
      {SSI_EV_REACTION_RECEIVED, 1.5},
      {SSI_EV_COMMENT_RECEIVED, 0.15},
      {SSI_EV_MESSAGE_SENT, 0.6},
      {SSI_EV_SEARCH_PERFORMED, 0.4},
      {SSI_EV_PROFILE_VIEWED, 0.8},
      {SSI_EV_PROFILE_VIEW_RECEIVED, 0.9},
      {SSI_EV_INVITATION_SENT, 0.5},
      {SSI_EV_INVITATION_ACCEPTED, 0.25},
      {SSI_EV_ENDORSEMENT_RECEIVED, 0.05},
      {SSI_EV_FOLLOWER_GAINED, 0.2},
      {SSI_EV_PROSPECT_CONTENT_SHARED, 0.04}},
     4500,
     6500},
    {"poster who never networks",
     {true, true, true, true, true, 10, 2},
     {[SSI_SEN_UNKNOWN] = 150, [SSI_SEN_ENTRY] = 100, [SSI_SEN_SENIOR] = 50},
     10,
     {{SSI_EV_SESSION_STARTED, 0.8},
      {SSI_EV_POST_SHARED, 0.8},
      {SSI_EV_ARTICLE_PUBLISHED, 0.12},
      {SSI_EV_REACTION_RECEIVED, 12},
      {SSI_EV_COMMENT_RECEIVED, 2},
      {SSI_EV_RESHARE_RECEIVED, 0.4},
      {SSI_EV_FOLLOWER_GAINED, 2},
      {SSI_EV_ENDORSEMENT_RECEIVED, 0.2},
      {SSI_EV_REACTION_GIVEN, 1.5},
      {SSI_EV_COMMENT_GIVEN, 0.8},
      {SSI_EV_GROUP_ACTIVITY, 0.2},
      {SSI_EV_PROFILE_VIEW_RECEIVED, 2}},
     3000,
     6000},
    {"networker who never posts",
     {true, false, true, true, true, 8, 0},
     {[SSI_SEN_UNKNOWN] = 150,
      [SSI_SEN_ENTRY] = 250,
      [SSI_SEN_SENIOR] = 200,
      [SSI_SEN_MANAGER] = 150,
      [SSI_SEN_DIRECTOR] = 80,
      [SSI_SEN_VP] = 50,
      [SSI_SEN_CXO] = 30},
     40,
     {{SSI_EV_SESSION_STARTED, 0.95},
      {SSI_EV_SEARCH_PERFORMED, 4},
      {SSI_EV_PROFILE_VIEWED, 8},
      {SSI_EV_LEAD_SAVED, 1.2},
      {SSI_EV_INVITATION_SENT, 5},
      {SSI_EV_INVITATION_ACCEPTED, 2.5},
      {SSI_EV_MESSAGE_SENT, 4},
      {SSI_EV_INMAIL_SENT, 0.8},
      {SSI_EV_INMAIL_REPLIED, 0.25},
      {SSI_EV_PROFILE_VIEW_RECEIVED, 1.5},
      {SSI_EV_PROSPECT_CONTENT_SHARED, 0.3}},
     3000,
     6000},
    {"complete social seller",
     {true, true, true, true, true, 15, 4},
     {[SSI_SEN_UNKNOWN] = 200,
      [SSI_SEN_ENTRY] = 200,
      [SSI_SEN_SENIOR] = 300,
      [SSI_SEN_MANAGER] = 250,
      [SSI_SEN_DIRECTOR] = 150,
      [SSI_SEN_VP] = 80,
      [SSI_SEN_CXO] = 50,
      [SSI_SEN_OWNER] = 20,
      [SSI_SEN_PARTNER] = 20},
     60,
     {{SSI_EV_SESSION_STARTED, 1},
      {SSI_EV_POST_SHARED, 0.6},
      {SSI_EV_ARTICLE_PUBLISHED, 0.1},
      {SSI_EV_REACTION_RECEIVED, 10},
      {SSI_EV_COMMENT_RECEIVED, 1.5},
      {SSI_EV_RESHARE_RECEIVED, 0.3},
      {SSI_EV_FOLLOWER_GAINED, 1.5},
      {SSI_EV_ENDORSEMENT_RECEIVED, 0.3},
      {SSI_EV_COMMENT_GIVEN, 1.5},
      {SSI_EV_REACTION_GIVEN, 3},
      {SSI_EV_SEARCH_PERFORMED, 3},
      {SSI_EV_PROFILE_VIEWED, 6},
      {SSI_EV_LEAD_SAVED, 1},
      {SSI_EV_INVITATION_SENT, 4},
      {SSI_EV_INVITATION_ACCEPTED, 2.2},
      {SSI_EV_PROSPECT_CONTENT_SHARED, 0.5}},
     7500,
     10000},
};

enum { PASSIVE, SOLID, POSTER, NETWORKER, SELLER };

/* Sample a count with mean `mean`: its integer part plus a Bernoulli rest. */
static int sample(struct t_rng *r, double mean)
{
	int n = (int)mean;

	return n + ((double)t_below(r, 1000000) / 1e6 < mean - n ? 1 : 0);
}

static void event_attrs(struct ssi_event *ev, struct t_rng *r)
{
	if (ev->type == SSI_EV_SEARCH_PERFORMED)
		ev->attrs.search.filters = (int)t_below(r, 2) * 2;
	else if (ev->type == SSI_EV_PROFILE_VIEWED)
		ev->attrs.view.degree = 1 + (int)t_below(r, 3);
}

static void build(const struct persona *p, const struct ssi_model *m, struct ssi_state *st)
{
	struct t_rng r = {.s = 42};
	struct ssi_event ev;
	uint64_t seq = 1;

	t_event(&ev, SSI_EV_PROFILE_UPDATED, T_NOW - 200 * T_DAY, seq++);
	ev.attrs.profile = p->profile;
	ck_assert_int_eq(ssi_state_apply(st, m, &ev), 1);
	for (int s = 0; s < SSI_SEN__COUNT; s++) {
		for (int i = 0; i < p->connections[s]; i++) {
			t_event(&ev, SSI_EV_CONNECTION_ADDED, T_NOW - 400 * T_DAY, seq++);
			ev.attrs.connection.seniority = (enum ssi_seniority)s;
			ev.attrs.connection.same_company = i < p->internal / SSI_SEN__COUNT + 1;
			ck_assert_int_eq(ssi_state_apply(st, m, &ev), 1);
		}
	}
	for (int d = 0; d < m->window_days; d++) {
		int64_t day = T_NOW - (int64_t)d * T_DAY;
		/* T_NOW is a Friday: d = 6 and 7 are the weekend before. */
		double factor = (d % 7 == 6 || d % 7 == 0) && d > 0 ? 0.2 : 1.0;

		for (size_t k = 0; k < sizeof(p->rate) / sizeof(p->rate[0]); k++) {
			int n;

			if (p->rate[k].per_day <= 0)
				break;
			n = sample(&r, p->rate[k].per_day * factor);
			for (int i = 0; i < n; i++) {
				t_event(&ev, p->rate[k].type, day + 8 * T_HOUR + i * 60000, seq++);
				event_attrs(&ev, &r);
				ck_assert_int_eq(ssi_state_apply(st, m, &ev), 1);
			}
		}
	}
}

static void score_of(int which, struct ssi_score *s)
{
	struct ssi_model m;
	struct ssi_state st;
	char total[16], pl[SSI_PILLAR__COUNT][16];

	ssi_model_default(&m);
	ssi_state_init(&st);
	build(&personas[which], &m, &st);
	ssi_score(&st, &m, T_NOW + 12 * T_HOUR, s);
	ssi_score_format(s->total, total, sizeof(total));
	for (int p = 0; p < SSI_PILLAR__COUNT; p++)
		ssi_score_format(s->pillar[p], pl[p], sizeof(pl[p]));
	printf("persona %-28s ssi %6s  brand %5s people %5s insights %5s relationships %5s\n",
	       personas[which].name, total, pl[0], pl[1], pl[2], pl[3]);
	ssi_state_clear(&st);
}

START_TEST (persona_lands_in_its_band) {
	struct ssi_score s;

	score_of(_i, &s);
	ck_assert_int_ge(s.total, personas[_i].lo);
	ck_assert_int_le(s.total, personas[_i].hi);
}
END_TEST

START_TEST (poster_leads_on_brand_and_insights) {
	struct ssi_score s;

	score_of(POSTER, &s);
	ck_assert_int_gt(s.pillar[SSI_BRAND], s.pillar[SSI_PEOPLE]);
	ck_assert_int_gt(s.pillar[SSI_BRAND], s.pillar[SSI_RELATIONSHIPS]);
	ck_assert_int_gt(s.pillar[SSI_INSIGHTS], s.pillar[SSI_PEOPLE]);
	ck_assert_int_gt(s.pillar[SSI_INSIGHTS], s.pillar[SSI_RELATIONSHIPS]);
}
END_TEST

START_TEST (networker_leads_on_people_and_relationships) {
	struct ssi_score s;

	score_of(NETWORKER, &s);
	ck_assert_int_gt(s.pillar[SSI_PEOPLE], s.pillar[SSI_BRAND]);
	ck_assert_int_gt(s.pillar[SSI_PEOPLE], s.pillar[SSI_INSIGHTS]);
	ck_assert_int_gt(s.pillar[SSI_RELATIONSHIPS], s.pillar[SSI_BRAND]);
	ck_assert_int_gt(s.pillar[SSI_RELATIONSHIPS], s.pillar[SSI_INSIGHTS]);
}
END_TEST

START_TEST (personas_rank_as_expected) {
	struct ssi_score passive, solid, seller, poster, networker;

	score_of(PASSIVE, &passive);
	score_of(SOLID, &solid);
	score_of(SELLER, &seller);
	score_of(POSTER, &poster);
	score_of(NETWORKER, &networker);
	ck_assert_int_lt(passive.total, solid.total);
	ck_assert_int_lt(solid.total, seller.total);
	/* Doing one half of the job well is not doing all of it. */
	ck_assert_int_lt(poster.total, seller.total);
	ck_assert_int_lt(networker.total, seller.total);
	ck_assert_int_gt(poster.total, passive.total);
	ck_assert_int_gt(networker.total, passive.total);
}
END_TEST

Suite *persona_suite(void)
{
	Suite *s = suite_create("persona");
	TCase *tc = tcase_create("bands");

	tcase_add_loop_test(tc, persona_lands_in_its_band, 0,
			    (int)(sizeof(personas) / sizeof(personas[0])));
	tcase_add_test(tc, poster_leads_on_brand_and_insights);
	tcase_add_test(tc, networker_leads_on_people_and_relationships);
	tcase_add_test(tc, personas_rank_as_expected);
	suite_add_tcase(s, tc);
	return s;
}
