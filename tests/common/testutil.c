#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "testutil.h"

uint64_t t_rand(struct t_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint64_t t_below(struct t_rng *r, uint64_t n)
{
	return n ? t_rand(r) % n : 0;
}

void t_event(struct ssi_event *ev, enum ssi_event_type t, int64_t at_ms, uint64_t seq)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = t;
	ev->occurred_at_ms = at_ms;
	snprintf(ev->event_id, sizeof(ev->event_id), "e%llu", (unsigned long long)seq);
	snprintf(ev->user_id, sizeof(ev->user_id), "u1");
	ev->fingerprint = ssi_event_fingerprint(ev->event_id, strlen(ev->event_id));
	if (t == SSI_EV_PROFILE_VIEWED)
		ev->attrs.view.degree = 2;
}

void t_event_random(struct ssi_event *ev, struct t_rng *r, int64_t now_ms, int window_days,
		    uint64_t seq)
{
	static const char *const tenants[] = {"acme", "globex", "initech"};
	int64_t span = (int64_t)window_days * T_DAY;
	int64_t at = now_ms - (int64_t)t_below(r, (uint64_t)span - T_DAY);

	t_event(ev, (enum ssi_event_type)t_below(r, SSI_EV__COUNT), at, seq);
	if (t_below(r, 4) == 0)
		snprintf(ev->segment[SSI_SEG_TENANT], sizeof(ev->segment[0]), "%s",
			 tenants[t_below(r, 3)]);
	switch (ev->type) {
	case SSI_EV_PROFILE_UPDATED:
		ev->attrs.profile.photo = t_below(r, 2);
		ev->attrs.profile.headline = t_below(r, 2);
		ev->attrs.profile.summary = t_below(r, 2);
		ev->attrs.profile.skills = (uint8_t)t_below(r, 30);
		ev->attrs.profile.featured_media = (uint8_t)t_below(r, 5);
		break;
	case SSI_EV_SEARCH_PERFORMED:
		ev->attrs.search.filters = (int)t_below(r, 3);
		break;
	case SSI_EV_PROFILE_VIEWED:
		ev->attrs.view.degree = 1 + (int)t_below(r, 3);
		break;
	case SSI_EV_CONNECTION_ADDED:
	case SSI_EV_CONNECTION_REMOVED:
		ev->attrs.connection.seniority = (enum ssi_seniority)t_below(r, SSI_SEN__COUNT);
		ev->attrs.connection.same_company = t_below(r, 5) == 0;
		break;
	default:
		break;
	}
}

void t_apply_n(struct ssi_state *st, const struct ssi_model *m, enum ssi_event_type t,
	       int64_t day_ms, int n, uint64_t *seq)
{
	int64_t day_start = day_ms - day_ms % T_DAY;

	for (int i = 0; i < n; i++) {
		struct ssi_event ev;

		t_event(&ev, t, day_start + 8 * T_HOUR + (i % 600) * 60000, (*seq)++);
		ck_assert_int_ge(ssi_state_apply(st, m, &ev), 0);
	}
}

struct ssi_score t_spread(int total)
{
	struct ssi_score s = {.total = total};

	for (int p = 0; p < SSI_PILLAR__COUNT; p++) {
		s.pillar[p] = total > 2500 ? 2500 : total;
		total -= s.pillar[p];
	}
	return s;
}

TCase *t_tcase(const char *name, SFun setup, SFun teardown, double timeout_s,
	       const TTest *const tests[], size_t n)
{
	TCase *tc = tcase_create(name);

	if (setup || teardown)
		tcase_add_checked_fixture(tc, setup, teardown);
	if (timeout_s > 0)
		tcase_set_timeout(tc, timeout_s);
	for (size_t i = 0; i < n; i++)
		tcase_add_test(tc, tests[i]);
	return tc;
}

static SRunner *runner_of(Suite *(*const suites[])(void), size_t n)
{
	SRunner *sr = srunner_create(NULL);

	for (size_t i = 0; i < n; i++)
		srunner_add_suite(sr, suites[i]());
	return sr;
}

/* T_SUITES="a b": those suites one after the other, each named one required. */
static int run_listed(Suite *(*const suites[])(void), size_t n, const char *list)
{
	char *copy = strdup(list), *save = NULL;
	int failed = 0, named = 0;

	if (!copy)
		return EXIT_FAILURE;
	for (char *name = strtok_r(copy, " ,", &save); name; name = strtok_r(NULL, " ,", &save)) {
		SRunner *sr = runner_of(suites, n);

		named++;
		srunner_run(sr, name, NULL, CK_NORMAL);
		if (srunner_ntests_run(sr) == 0) {
			fprintf(stderr, "T_SUITES: no test ran in suite \"%s\"\n", name);
			failed++;
		}
		failed += srunner_ntests_failed(sr);
		srunner_free(sr);
	}
	free(copy);
	return failed == 0 && named > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

int t_run_suites(Suite *(*const suites[])(void), size_t n)
{
	const char *list = getenv("T_SUITES");
	SRunner *sr;
	int failed;

	if (list)
		return run_listed(suites, n, list);
	sr = runner_of(suites, n);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
