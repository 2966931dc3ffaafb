/*
 * bench_engine: what the scoring engine costs per event, stage by stage, on a
 * generated stream (default 1,000,000 events over 100,000 users). Prints its
 * figures; asserts nothing (the tests do that).
 *
 *   build/bench_engine [events] [users] [seed]
 *
 * Every stage runs once over the whole stream, on one core, timed in CPU
 * time. The engine figures keep all users' states resident in one array as
 * large as the population (100,000 states do not fit in any cache), so they
 * include the cache misses of touching a cold state and its rows; "apply +
 * score per user per 10k batch" is the loop ssid runs (apply_user() in
 * src/ssid_pipeline.c), with the batch grouped by user beforehand (timed on
 * its own line, as ssid groups before it loads any state).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ssi_array.h"
#include "ssi_json.h"
#include "ssi_forecast.h"
#include "ssi_score.h"
#include "ssi_time.h"
#include "ssigen.h"
#include "ssid_out.h"

struct stream {
	char *bytes;	/* all payloads back to back */
	size_t *off;	/* n + 1 offsets into bytes */
	uint32_t *user; /* generator user index per event */
	size_t n;
	int64_t now_ms; /* just after the last event */
};

/*
 * This thread's CPU time: one core's work, which other processes sharing
 * the machine do not inflate (wall time would count their time slices).
 */
static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void report(const char *stage, size_t n, double seconds)
{
	printf("  %-40s %10.0f events/s %8.0f ns/event\n", stage, (double)n / seconds,
	       seconds * 1e9 / (double)n);
}

/* ~10 events per user spread over the 90-day window ending now. */
static int make_stream(struct stream *s, size_t n, uint32_t users, uint64_t seed)
{
	struct ssigen_config cfg = {
	    .seed = seed,
	    .users = users,
	    .tenants = users / 200 + 1,
	    .start_ms = 1795132800000LL - 89 * SSI_MS_PER_DAY,
	    .activity = (double)n / users / 2200.0,
	};
	struct ssigen *g = NULL;
	struct ssigen_event *ev = malloc(sizeof(*ev));
	size_t cap = n * 256, used = 0;
	int r = -1;

	s->bytes = malloc(cap);
	s->off = malloc((n + 1) * sizeof(*s->off));
	s->user = malloc(n * sizeof(*s->user));
	if (!ev || !s->bytes || !s->off || !s->user || ssigen_new(&g, &cfg) < 0)
		goto out;
	for (s->n = 0; s->n < n && ssigen_next(g, ev) == 1; s->n++) {
		if (SSI_GROW(s->bytes, &cap, used + ev->len, 256) < 0)
			goto out;
		s->off[s->n] = used;
		memcpy(s->bytes + used, ev->json, ev->len);
		used += ev->len;
		s->user[s->n] = ev->user;
		s->now_ms = ev->occurred_at_ms + 1;
	}
	s->off[s->n] = used;
	r = 0;
out:
	ssigen_free(g);
	free(ev);
	return r;
}

static double bench_loadb(const struct stream *s)
{
	double t0 = now_s();

	for (size_t i = 0; i < s->n; i++) {
		json_error_t e;
		json_t *j = json_loadb(s->bytes + s->off[i], s->off[i + 1] - s->off[i], 0, &e);

		json_decref(j);
	}
	return now_s() - t0;
}

/* json_loadb with every allocation from a bump arena: the custom allocator's limit. */
static double bench_loadb_arena(const struct stream *s)
{
	struct ssi_json_arena *a = malloc(sizeof(*a));
	size_t loaded = 0;
	double t0;

	if (!a)
		return 0;
	t0 = now_s();
	for (size_t i = 0; i < s->n; i++) {
		json_error_t e;

		ssi_json_arena_begin(a);
		/* No json_decref: the tree dies with the arena, as in ssi_event_parse. */
		loaded +=
		    json_loadb(s->bytes + s->off[i], s->off[i + 1] - s->off[i], 0, &e) != NULL;
		ssi_json_arena_end(a);
	}
	t0 = now_s() - t0;
	free(a);
	return loaded == s->n ? t0 : 0;
}

/*
 * Parse and validate every event into out[i % nout]: ssid parses each batch
 * into the same array of batch.max_events messages, so the timed runs write
 * a batch-sized ring; the run that keeps every event for the engine stages
 * (nout = n) is not timed.
 */
static double bench_parse(const struct stream *s, struct ssi_event *out, size_t nout, size_t *ok)
{
	struct ssi_event_limits lim = {.max_bytes = 65536};
	struct ssi_reject why;
	double t0 = now_s();

	*ok = 0;
	for (size_t i = 0; i < s->n; i++) {
		struct ssi_event *ev = &out[i % nout];

		if (ssi_event_parse(s->bytes + s->off[i], s->off[i + 1] - s->off[i], &lim, ev,
				    &why) == 0 &&
		    ssi_event_check_time(ev, 90, 300000, s->now_ms, &why) == 0)
			(*ok)++;
		else
			ev->type = SSI_EV__COUNT; /* skipped by the later stages */
	}
	return now_s() - t0;
}

/* Batch order within a user, users in index order. */
static int by_user(const void *a, const void *b, void *arg)
{
	const uint32_t *user = arg;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	if (user[x] != user[y])
		return user[x] < user[y] ? -1 : 1;
	return x < y ? -1 : x > y;
}

/*
 * Event indices grouped by user per batch of `batch` events (users in index
 * order, each user's events in stream order), the way ssid groups a batch
 * before it touches any state. first[g] is where user group g starts in
 * order (first[ngroups] = n); a group never spans two batches. Returns the
 * seconds the grouping took.
 */
static double group_batches(const struct stream *s, size_t batch, size_t *order, size_t *first,
			    size_t *ngroups)
{
	double t0 = now_s();

	*ngroups = 0;
	for (size_t from = 0; from < s->n; from += batch) {
		size_t to = from + batch < s->n ? from + batch : s->n;

		for (size_t i = from; i < to; i++)
			order[i] = i;
		qsort_r(order + from, to - from, sizeof(*order), by_user, s->user);
		for (size_t i = from; i < to; i++)
			if (i == from || s->user[order[i]] != s->user[order[i - 1]])
				first[(*ngroups)++] = i;
	}
	first[*ngroups] = s->n;
	return now_s() - t0;
}

/* The lines of an event that ssi_state_apply reads. */
static void prefetch_event(const struct ssi_event *ev)
{
	__builtin_prefetch(ev);
	for (int g = 0; g < SSI_SEG__COUNT; g++)
		__builtin_prefetch(ev->segment[g]);
	__builtin_prefetch(&ev->attrs);
}

enum batch_mode {
	BATCH_SCORE,	     /* per user: apply its events, prune, score */
	BATCH_NEXT_CHANGE,   /* the same, then ssi_score_next_change (ssid today) */
	BATCH_BOTH,	     /* ssi_score_and_next_change instead of the two calls */
	BATCH_BOTH_PREFETCH, /* that, asking for the next users' data ahead */
};

/*
 * ssid's per-user step (apply_user() in src/ssid_pipeline.c): every event of
 * the user in the batch, skipping those at or below the partition's mark,
 * then prune and one score; ssid also computes the decay schedule of every
 * user it scores (BATCH_NEXT_CHANGE). A user's events all come from one
 * partition, as with Kafka's key = user_id. BATCH_BOTH_PREFETCH asks for the
 * first event and the state two users ahead and for the rows of the next
 * user (ssi_state_prefetch) while working on this one.
 */
static double bench_batches(const struct stream *s, const struct ssi_event *ev, const size_t *order,
			    const size_t *first, size_t ngroups, struct ssi_state *st,
			    const struct ssi_model *m, enum batch_mode mode, long *checksum)
{
	double t0 = now_s();

	for (size_t g = 0; g < ngroups; g++) {
		uint32_t u = s->user[order[first[g]]];
		int32_t partition = (int32_t)(u % 12);
		struct ssi_score sc;

		if (mode == BATCH_BOTH_PREFETCH) {
			if (g + 2 < ngroups) {
				prefetch_event(&ev[order[first[g + 2]]]);
				ssi_state_prefetch(&st[s->user[order[first[g + 2]]]], false);
			}
			if (g + 1 < ngroups)
				ssi_state_prefetch(&st[s->user[order[first[g + 1]]]], true);
		}
		for (size_t i = first[g]; i < first[g + 1]; i++) {
			size_t e = order[i];

			if (ev[e].type != SSI_EV__COUNT &&
			    (int64_t)e > ssi_state_mark_get(&st[u], partition)) {
				ssi_state_apply(&st[u], m, &ev[e]);
				ssi_state_mark_set(&st[u], partition, (int64_t)e);
			}
		}
		ssi_state_prune(&st[u], m, s->now_ms);
		if (mode == BATCH_SCORE || mode == BATCH_NEXT_CHANGE)
			ssi_score(&st[u], m, s->now_ms, &sc);
		if (mode == BATCH_NEXT_CHANGE)
			*checksum += ssi_score_next_change(&st[u], m, s->now_ms) != INT64_MAX;
		if (mode == BATCH_BOTH || mode == BATCH_BOTH_PREFETCH)
			*checksum +=
			    ssi_score_and_next_change(&st[u], m, s->now_ms, &sc) != INT64_MAX;
		*checksum += sc.total;
	}
	return now_s() - t0;
}

static size_t state_bytes(const struct ssi_state *st)
{
	return ssi_state_encoded_size(st);
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/* The codec test's "typical active user": 30 active days, 6 counters each. */
static void typical_state(struct ssi_state *st, int worst)
{
	ssi_state_init(st);
	st->nrows = st->rows_cap = worst ? 90 : 30;
	st->rows = calloc(st->nrows, sizeof(*st->rows));
	for (uint32_t r = 0; r < st->nrows; r++) {
		st->rows[r].day = 20400 + (int32_t)r * (worst ? 1 : 3);
		for (int c = 0; c < (worst ? SSI_C__COUNT : 6); c++) {
			st->rows[r].count[c] = (uint8_t)(worst ? 255 : 1 + (r + c) % 9);
			st->rows[r].mask |= 1u << c;
		}
	}
	st->profile = (struct ssi_profile){true, true, true, true, true, 12, 2};
	st->profile_key.at_ms = 1795132800000LL;
	st->profile_key.fp = 0x1234567890abcdefULL;
	for (int s = 0; s < SSI_SEG__COUNT; s++) {
		if (worst)
			memset(st->segment[s], 'x', SSI_ID_MAX);
		else
			strcpy(st->segment[s], s == 0	? "acme-corp"
					       : s == 1 ? "emea-west"
							: "software");
		st->segment_key[s].at_ms = 1795132800000LL;
		st->segment_key[s].fp = 0xfedcba0987654321ULL + (uint64_t)s;
	}
	for (int i = 0; i < 8; i++) {
		st->recent[i].at_ms = 1795132800000LL + i * 60000;
		st->recent[i].fp = 0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1);
	}
	st->nrecent = 8;
	for (int s = 0; s < (worst ? SSI_SEN__COUNT : 4); s++)
		st->connections[s] = worst ? 30000 : 50 + 10 * s;
	st->internal_connections = worst ? 3000 : 12;
	st->nmarks = worst ? SSI_MARKS_MAX : 1;
	for (uint32_t i = 0; i < st->nmarks; i++) {
		st->marks[i].partition = (int32_t)i;
		st->marks[i].offset = 123456789 + i;
	}
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
	uint32_t users = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 100000;
	uint64_t seed = argc > 3 ? strtoull(argv[3], NULL, 10) : 1;
	struct stream s;
	struct ssi_event *ev;
	struct ssi_state *st;
	struct ssi_model m;
	struct ssid_buf out = {0};
	size_t ok, *sizes, *order, *first, ngroups;
	double t, t_loadb, t_parse, t_loadb_arena, t_parse_arena;
	const size_t batch = 10000;
	struct ssi_score sc;
	long checksum = 0;

	ssi_model_default(&m);
	printf("bench_engine: %zu events over %u users, seed %llu (build/bench_engine %zu %u "
	       "%llu); CPU time of one thread\n",
	       n, users, (unsigned long long)seed, n, users, (unsigned long long)seed);
	if (make_stream(&s, n, users, seed) < 0 || !(ev = malloc(s.n * sizeof(*ev))) ||
	    !(st = malloc(users * sizeof(*st))) || !(sizes = malloc(users * sizeof(*sizes))) ||
	    !(order = malloc(s.n * sizeof(*order))) ||
	    !(first = malloc((s.n + 1) * sizeof(*first)))) {
		fprintf(stderr, "out of memory\n");
		return 1;
	}
	/* Fault the ring in now, or the first parse run pays for it. */
	memset(ev, 0, batch * sizeof(*ev));
	printf("  stream: %zu events, %.1f MB of JSON, %.0f bytes/event\n", s.n,
	       (double)s.off[s.n] / 1e6, (double)s.off[s.n] / (double)s.n);

	printf("JSON with the default allocator:\n");
	t_loadb = bench_loadb(&s);
	report("json_loadb (bare, the jansson limit)", s.n, t_loadb);
	t_parse = bench_parse(&s, ev, batch, &ok);
	report("ssi_event_parse + check_time", s.n, t_parse);
	printf("  parse+validate / bare json_loadb: %.2f\n", t_loadb / t_parse);

	ssi_json_arena_install();
	printf("JSON with ssi_json's per-thread arena (what ssid installs):\n");
	t_loadb_arena = bench_loadb_arena(&s);
	report("json_loadb (bare, in an arena)", s.n, t_loadb_arena);
	t_parse_arena = bench_parse(&s, ev, batch, &ok);
	report("ssi_event_parse + check_time", s.n, t_parse_arena);
	printf("  parse+validate / bare json_loadb (default allocator): %.2f\n",
	       t_loadb / t_parse_arena);
	printf("  parse+validate / bare json_loadb (arena): %.2f\n", t_loadb_arena / t_parse_arena);
	bench_parse(&s, ev, s.n, &ok); /* every event, for the engine */
	printf("  valid events: %zu of %zu\n", ok, s.n);

	printf("Engine (one core):\n");
	for (uint32_t u = 0; u < users; u++)
		ssi_state_init(&st[u]);
	t = now_s();
	for (size_t i = 0; i < s.n; i++)
		if (ev[i].type != SSI_EV__COUNT)
			ssi_state_apply(&st[s.user[i]], &m, &ev[i]);
	t = now_s() - t;
	report("apply", s.n, t);
	t = now_s();
	for (size_t i = 0; i < s.n; i++) {
		ssi_score(&st[s.user[i]], &m, s.now_ms, &sc);
		checksum += sc.total;
	}
	t = now_s() - t;
	report("score", s.n, t);
	for (uint32_t u = 0; u < users; u++)
		ssi_state_clear(&st[u]);
	t = now_s();
	for (size_t i = 0; i < s.n; i++) {
		if (ev[i].type == SSI_EV__COUNT)
			continue;
		ssi_state_apply(&st[s.user[i]], &m, &ev[i]);
		ssi_score(&st[s.user[i]], &m, s.now_ms, &sc);
		checksum += sc.total;
	}
	t = now_s() - t;
	report("apply + score", s.n, t);

	/* What ssid does: a batch's events grouped by user, each user scored once. */
	t = group_batches(&s, batch, order, first, &ngroups);
	report("group each 10k batch by user (qsort)", s.n, t);
	for (uint32_t u = 0; u < users; u++)
		ssi_state_clear(&st[u]);
	t = bench_batches(&s, ev, order, first, ngroups, st, &m, BATCH_SCORE, &checksum);
	report("apply + score per user per 10k batch", s.n, t);
	{
		static const struct {
			enum batch_mode mode;
			const char *name;
		} more[] = {
		    {BATCH_NEXT_CHANGE, "  + ssi_score_next_change (ssid today)"},
		    {BATCH_BOTH, "  + next change, in one call"},
		    {BATCH_BOTH_PREFETCH, "    and next users prefetched"},
		};

		for (size_t k = 0; k < sizeof(more) / sizeof(more[0]); k++) {
			for (uint32_t u = 0; u < users; u++)
				ssi_state_clear(&st[u]);
			t = bench_batches(&s, ev, order, first, ngroups, st, &m, more[k].mode,
					  &checksum);
			report(more[k].name, s.n, t);
		}
	}

	t = now_s();
	for (size_t i = 0; i < s.n; i++) {
		struct ssid_score_msg msg = {
		    .user_id = ev[i].user_id,
		    .model_version = m.version,
		    .has_previous = true,
		    .as_of_ms = s.now_ms,
		    .events = 1,
		};

		ssi_score(&st[s.user[i]], &m, s.now_ms, &msg.score);
		ssid_buf_reset(&out);
		ssid_out_score_updated(&out, &msg);
		checksum += (long)out.len;
	}
	t = now_s() - t;
	report("score + encode score.updated", s.n, t);

	printf("State bytes:\n");
	for (uint32_t u = 0; u < users; u++)
		sizes[u] = state_bytes(&st[u]);
	qsort(sizes, users, sizeof(*sizes), cmp_size);
	printf("  generated population: median %zu, p99 %zu, max %zu bytes\n", sizes[users / 2],
	       sizes[users * 99 / 100], sizes[users - 1]);
	{
		struct ssi_state typ, worst;
		uint8_t *buf = malloc(SSI_STATE_ENCODED_MAX);
		long len = 0;

		typical_state(&typ, 0);
		typical_state(&worst, 1);
		printf("  typical active user (30 days x 6 counters): %zu bytes (budget 512)\n",
		       state_bytes(&typ));
		printf("  worst case (90 days x 24 counters, 128-byte segments): %zu bytes "
		       "(budget 4096)\n",
		       state_bytes(&worst));
		t = now_s();
		for (int i = 0; i < 1000000; i++)
			len = ssi_state_encode(&typ, buf, SSI_STATE_ENCODED_MAX);
		t = now_s() - t;
		report("encode typical state", 1000000, t);
		t = now_s();
		for (int i = 0; i < 1000000; i++)
			checksum += ssi_state_decode(&worst, buf, (size_t)len);
		t = now_s() - t;
		report("decode typical state", 1000000, t);
		ssi_state_clear(&typ);
		ssi_state_clear(&worst);
		free(buf);
	}
	{
		/* The typical user's rows span days 20400..20487: score them at noon of 20488. */
		static struct ssi_forecast_day fc[SSI_FORECAST_DAYS_MAX];
		const struct ssi_whatif_action act[] = {{SSI_EV_POST_SHARED, 3},
							{SSI_EV_INVITATION_ACCEPTED, 5}};
		struct ssi_forecast_action fa[SSI_EXPLAIN_ACTIONS];
		struct ssi_whatif w;
		struct ssi_state typ;
		int64_t at = 20488 * 86400000LL + 43200000LL;

		printf("Forecast (typical active user):\n");
		/*
		 * What forecast_below adds to ssid per event: each user's first
		 * score of the day also pays a forecast over 2 x 7 days (the
		 * stream is one day; ssid skips the reps below the line, here
		 * none is skipped), against apply + score + next change alone;
		 * then the bound, a forecast for every event.
		 */
		for (int on = 0; on < 2; on++) {
			uint8_t *seen = calloc(users, 1);
			size_t forecasts = 0;

			for (uint32_t u = 0; u < users; u++)
				ssi_state_clear(&st[u]);
			t = now_s();
			for (size_t i = 0; i < s.n; i++) {
				struct ssi_state *us = &st[s.user[i]];

				if (ev[i].type == SSI_EV__COUNT)
					continue;
				ssi_state_apply(us, &m, &ev[i]);
				checksum += ssi_score_and_next_change(us, &m, s.now_ms, &sc) & 1;
				if (on && seen && !seen[s.user[i]]) {
					seen[s.user[i]] = 1;
					forecasts++;
					ssi_forecast(us, &m, s.now_ms, 14, fc);
					checksum += fc[13].score.total;
				}
			}
			t = now_s() - t;
			report(on ? "apply + score, forecast_below on"
				  : "apply + score, forecast_below off",
			       s.n, t);
			if (on)
				printf("    (%zu forecasts: each user once, as if all were above "
				       "the line)\n",
				       forecasts);
			free(seen);
		}
		t = now_s();
		for (size_t i = 0; i < s.n; i++)
			if (ev[i].type != SSI_EV__COUNT) {
				ssi_forecast(&st[s.user[i]], &m, s.now_ms, 14, fc);
				checksum += fc[13].score.total;
			}
		t = now_s() - t;
		report("  (a 14-day forecast of each event's user)", s.n, t);
		typical_state(&typ, 0);
		t = now_s();
		for (int i = 0; i < 200000; i++) {
			ssi_forecast(&typ, &m, at, 14, fc);
			checksum += fc[13].score.total;
		}
		t = now_s() - t;
		printf("  %-40s %10.0f ns/forecast (budget 10000)\n", "ssi_forecast, 14 days",
		       t * 1e9 / 200000);
		t = now_s();
		for (int i = 0; i < 50000; i++) {
			ssi_forecast(&typ, &m, at, SSI_FORECAST_DAYS_MAX, fc);
			checksum += fc[89].score.total;
		}
		t = now_s() - t;
		printf("  %-40s %10.0f ns/forecast\n", "ssi_forecast, 90 days", t * 1e9 / 50000);
		t = now_s();
		for (int i = 0; i < 200000; i++) {
			ssi_whatif(&typ, &m, at, act, 2, &w);
			checksum += w.after.total;
		}
		t = now_s() - t;
		printf("  %-40s %10.0f ns/call\n", "ssi_whatif, 3 posts + 5 accepted",
		       t * 1e9 / 200000);
		t = now_s();
		for (int i = 0; i < 2000; i++)
			checksum += ssi_forecast_actions(&typ, &m, at, 7000, fa);
		t = now_s() - t;
		printf("  %-40s %10.0f ns/call (once per forecast_below alert)\n",
		       "ssi_forecast_actions", t * 1e9 / 2000);
		ssi_state_clear(&typ);
	}
	printf("(checksum %ld)\n", checksum);
	for (uint32_t u = 0; u < users; u++)
		ssi_state_clear(&st[u]);
	ssid_buf_free(&out);
	free(st);
	free(order);
	free(first);
	free(ev);
	free(sizes);
	free(s.bytes);
	free(s.off);
	free(s.user);
	return 0;
}
