/*
 * ssictl_board: around USER (the K reps either side of a rep in each of its
 * segments) and top SEGMENT (a leaderboard): segment aggregates, and a walk
 * over every rank record where the stored top lists do not reach. See
 * ssictl_int.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ssi_event.h"
#include "ssi_rank.h"
#include "ssid_rank.h"
#include "ssid_rank_read.h"
#include "ssid_redis.h"
#include "ssictl_int.h"
/* ---- around ------------------------------------------------------------------ */

/*
 * One segment of around. Its size, ranks and whether the rep is counted
 * come from the segment's aggregate; its neighbours from one walk over every
 * record, keeping in member order (ssi_rank_member_before) the K closest
 * members before the rep and the K closest after.
 */
struct window {
	bool in, hidden, found;
	char value[2 * SSI_ID_MAX + 2];
	char *field; /* ssid_rank's name of the segment */
	struct ssi_rankagg agg;
	struct ssi_rank_member self;
	struct ssi_rank_member *before; /* K slots, best first */
	size_t nbefore;
	struct ssi_rank_top after; /* best first */
	struct ssid_rank_entry *entry;
	size_t n;
};

static void windows_free(struct window *w, int n)
{
	for (int k = 0; k < n; k++) {
		free(w[k].field);
		ssi_rankagg_clear(&w[k].agg);
		free(w[k].before);
		ssi_rank_top_clear(&w[k].after);
		free(w[k].entry);
	}
}

/* Whether user is already kept in a window (a rep in two rosters is met twice). */
static bool window_has(const struct window *w, const char *user)
{
	for (size_t i = 0; i < w->nbefore; i++)
		if (strcmp(w->before[i].user_id, user) == 0)
			return true;
	for (size_t i = 0; i < w->after.n; i++)
		if (strcmp(w->after.m[i].user_id, user) == 0)
			return true;
	return false;
}

/* Offer a member of the segment other than the rep to its window of k either side. */
static int window_offer(struct window *w, size_t k, const struct ssi_rank_member *m)
{
	size_t at;

	if (!ssi_rank_member_before(m, &w->self)) {
		if (w->after.n == k && !ssi_rank_member_before(m, &w->after.m[k - 1]))
			return 0;
		return window_has(w, m->user_id)
			   ? 0
			   : ssi_rank_top_offer(&w->after, k, m->user_id, m->total);
	}
	/* Before the rep: the k closest are the k last in order. */
	if (w->nbefore == k && !ssi_rank_member_before(&w->before[0], m))
		return 0;
	if (window_has(w, m->user_id))
		return 0;
	if (w->nbefore == k) {
		memmove(w->before, w->before + 1, (k - 1) * sizeof(*w->before));
		w->nbefore--;
	}
	for (at = w->nbefore; at > 0 && ssi_rank_member_before(m, &w->before[at - 1]); at--)
		w->before[at] = w->before[at - 1];
	w->before[at] = *m;
	w->nbefore++;
	return 0;
}

struct around_walk {
	struct window *w;
	size_t k;
};

static int around_take(void *ctx, const char *user_id, const struct ssi_rank_record *rec)
{
	struct around_walk *aw = ctx;
	struct ssi_rank_member m;

	if (strcmp(user_id, aw->w[0].self.user_id) == 0)
		return 0;
	snprintf(m.user_id, sizeof(m.user_id), "%s", user_id);
	m.total = rec->score.total;
	for (int k = 0; k < SSID_RANK__COUNT; k++) {
		struct window *w = &aw->w[k];
		int r;

		if (!w->before || !ssictl_record_in(rec, (enum ssid_rank_kind)k, w->field))
			continue;
		r = window_offer(w, aw->k, &m);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The rep and its neighbours as ranked entries: rank = 1 + members strictly above. */
static int window_entries(struct window *w)
{
	size_t n = w->nbefore + 1 + w->after.n, j = 0;

	w->entry = calloc(n, sizeof(*w->entry));
	if (!w->entry)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct ssi_rank_member *m = i < w->nbefore ? &w->before[i]
						  : i == w->nbefore
						      ? &w->self
						      : &w->after.m[i - w->nbefore - 1];

		snprintf(w->entry[j].user_id, sizeof(w->entry[j].user_id), "%s", m->user_id);
		w->entry[j].total = m->total;
		w->entry[j].rank = 1 + (int64_t)ssi_hist_above(&w->agg.hist, m->total);
		j++;
	}
	w->n = j;
	return 0;
}

/* The windows of every segment of the rep: the aggregates, then one walk over every record. */
static int read_windows(struct ctl *c, const char *user, const struct rank_record *rec,
			struct window w[SSID_RANK__COUNT])
{
	struct around_walk aw = {.w = w, .k = (size_t)c->k};
	bool walk = false, oom;
	int r = 0;

	for (int k = 0; k < SSID_RANK__COUNT && r == 0; k++) {
		struct ssi_rank_place pl;

		snprintf(w[k].self.user_id, sizeof(w[k].self.user_id), "%s", user);
		w[k].self.total = rec->r.score.total;
		r = ssictl_read_segment(c, (enum ssid_rank_kind)k, rec->segp, 0, &w[k].agg,
					&w[k].in);
		if (r != 0 || !w[k].in)
			continue;
		ssictl_segment_value((enum ssid_rank_kind)k, rec->segp, w[k].value,
				     sizeof(w[k].value));
		ssi_rankagg_place(&w[k].agg, w[k].self.total, c->cfg.rank_min_members, &pl);
		w[k].hidden = pl.hidden;
		w[k].found = ssi_hist_get(&w[k].agg.hist, w[k].self.total) > 0;
		if (w[k].hidden || !w[k].found)
			continue;
		w[k].field = ssictl_segment_field((enum ssid_rank_kind)k, rec->segp, &oom);
		w[k].before = calloc((size_t)c->k, sizeof(*w[k].before));
		if (!w[k].field || !w[k].before)
			return ssictl_fail(c, SSICTL_EXIT_SOFTWARE, "out of memory");
		walk = true;
	}
	if (r != 0 || !walk)
		return r;
	r = ssid_rank_read_each(c->rd, c->parts, c->nparts, around_take, &aw);
	for (int k = 0; k < SSID_RANK__COUNT && r == 0; k++)
		if (w[k].before)
			r = window_entries(&w[k]);
	if (r < 0)
		return ssictl_redis_error(c, r, ssid_redis_errstr(c->rd));
	return 0;
}

/* Ranked entries in JSON; "self" marks the rep when there is one (around). */
static json_t *entries_json(const struct ssid_rank_entry *e, size_t n, const char *self)
{
	json_t *a = json_array();

	for (size_t j = 0; j < n; j++) {
		json_t *o = json_pack("{s:I, s:s, s:o}", "rank", (json_int_t)e[j].rank, "user_id",
				      e[j].user_id, "ssi", ssictl_points_json(e[j].total));

		if (self)
			json_object_set_new(o, "self",
					    json_boolean(strcmp(e[j].user_id, self) == 0));
		json_array_append_new(a, o);
	}
	return a;
}

/* The width of the user column. */
static int entries_width(const struct ssid_rank_entry *e, size_t n)
{
	int w = 4;

	for (size_t j = 0; j < n; j++)
		if ((int)strlen(e[j].user_id) > w)
			w = (int)strlen(e[j].user_id);
	return w;
}

/* Ranked entries as a table, the rep marked with ">". */
static void entries_text(struct ctl *c, const struct ssid_rank_entry *e, size_t n, const char *self)
{
	int w = entries_width(e, n);
	char b[16];

	fprintf(c->out, "  %7s  %-*s %6s\n", "rank", w, "user", "SSI");
	for (size_t j = 0; j < n; j++) {
		bool me = self && strcmp(e[j].user_id, self) == 0;

		fprintf(c->out, "%c %7lld  ", me ? '>' : ' ', (long long)e[j].rank);
		ssictl_put_clean(c->out, e[j].user_id, w);
		fprintf(c->out, " %6s\n", ssictl_cp(e[j].total, b, sizeof(b)));
	}
}

/* "industry software", "global": what a block of output is about. */
static void segment_title(struct ctl *c, int kind, const char *value)
{
	fputs(ssictl_seg_kind_name(kind), c->out);
	if (value && value[0]) {
		fputc(' ', c->out);
		ssictl_put_clean(c->out, value, 0);
	}
}

/* around: the neighbours of the rep in each segment. */
int ssictl_cmd_around(struct ctl *c, const char *user)
{
	struct rank_record rec;
	struct window w[SSID_RANK__COUNT];
	int r;

	memset(w, 0, sizeof(w));
	for (int k = 0; k < SSID_RANK__COUNT; k++)
		ssi_rankagg_init(&w[k].agg);
	r = ssictl_read_rank_record(c, user, &rec);
	if (r == 0)
		r = read_windows(c, user, &rec, w);
	if (r != 0) {
		windows_free(w, SSID_RANK__COUNT);
		return r;
	}
	if (c->json) {
		json_t *o = json_object(), *segs = json_object();

		json_object_set_new(o, "user_id", json_string(user));
		json_object_set_new(o, "k", json_integer(c->k));
		json_object_set_new(o, "min_members", json_integer(c->cfg.rank_min_members));
		for (int k = 0; k < SSID_RANK__COUNT; k++) {
			json_t *s;

			if (!w[k].in || !w[k].found) {
				json_object_set_new(segs, ssictl_seg_kind_name(k), json_null());
				continue;
			}
			s = json_object();
			json_object_set_new(s, "value", ssictl_string_or_null(w[k].value));
			if (w[k].hidden) {
				json_object_set_new(s, "hidden", json_true());
			} else {
				json_object_set_new(s, "of", json_integer(w[k].agg.n));
				json_object_set_new(s, "entries",
						    entries_json(w[k].entry, w[k].n, user));
			}
			json_object_set_new(segs, ssictl_seg_kind_name(k), s);
		}
		json_object_set_new(o, "segments", segs);
		windows_free(w, SSID_RANK__COUNT);
		return ssictl_emit(c, o);
	}
	for (int k = 0; k < SSID_RANK__COUNT; k++) {
		if (k > 0)
			fputc('\n', c->out);
		segment_title(c, k, w[k].value);
		if (!w[k].in)
			fprintf(c->out, ": not in a segment (%s)\n",
				ssictl_missing_why((enum ssid_rank_kind)k));
		else if (!w[k].found)
			fprintf(c->out, ": not ranked in it\n");
		else if (w[k].hidden)
			fprintf(c->out, ": hidden (fewer than %d members)\n",
				c->cfg.rank_min_members);
		else {
			fprintf(c->out, ": %lld reps\n", (long long)w[k].agg.n);
			entries_text(c, w[k].entry, w[k].n, user);
		}
	}
	fflush(c->out);
	windows_free(w, SSID_RANK__COUNT);
	return 0;
}
/* ---- top ------------------------------------------------------------------- */

/* A walk collecting the best members of one segment, for boards longer than the stored lists. */
struct top_walk {
	enum ssid_rank_kind kind;
	const char *field;
	size_t keep;
	struct ssi_rank_top top;
};

static int top_take(void *ctx, const char *user_id, const struct ssi_rank_record *rec)
{
	struct top_walk *tw = ctx;
	const struct ssi_rank_top *t = &tw->top;
	struct ssi_rank_member m;

	if (tw->kind != SSID_RANK_GLOBAL && !ssictl_record_in(rec, tw->kind, tw->field))
		return 0;
	snprintf(m.user_id, sizeof(m.user_id), "%s", user_id);
	m.total = rec->score.total;
	if (t->n == tw->keep && !ssi_rank_member_before(&m, &t->m[t->n - 1]))
		return 0;
	for (size_t i = 0; i < t->n; i++) /* a rep in two rosters is met twice */
		if (strcmp(t->m[i].user_id, user_id) == 0)
			return 0;
	return ssi_rank_top_offer(&tw->top, tw->keep, user_id, m.total);
}

/*
 * The best n members of bd's segment into bd->entry (allocated) and its
 * size: the partitions' stored top lists (rank.top_n long) when they reach
 * that far, else a walk over every record. Ranks are 1 + the members
 * strictly above. 0 or an exit code.
 */
static int read_board(struct ctl *c, struct ssid_rank_board *bd, size_t n)
{
	size_t stored = (size_t)c->cfg.rank_top_n, want;
	struct top_walk tw = {.kind = bd->kind, .keep = n};
	const struct ssi_rank_top *list;
	struct ssi_rankagg agg;
	char *field = NULL;
	bool in = false, oom;
	int r;

	if (stored > SSI_RANK_TOP_KEEP)
		stored = SSI_RANK_TOP_KEEP;
	ssi_rankagg_init(&agg);
	r = ssictl_read_parts(c);
	if (r == 0)
		r = ssictl_read_segment(c, bd->kind, bd->segment, n, &agg, &in);
	bd->of = in ? agg.n : 0;
	bd->hidden = bd->of < c->cfg.rank_min_members;
	if (r != 0 || bd->of == 0 || bd->hidden)
		goto out;
	want = (uint64_t)agg.n < n ? (size_t)agg.n : n;
	list = &agg.top;
	if (n > stored || agg.top.n < want) {
		field = ssictl_segment_field(bd->kind, bd->segment, &oom);
		tw.field = field;
		r = field ? ssid_rank_read_each(c->rd, c->parts, c->nparts, top_take, &tw)
			  : -ENOMEM;
		if (r < 0) {
			r = ssictl_redis_error(c, r, ssid_redis_errstr(c->rd));
			goto out;
		}
		list = &tw.top;
	}
	bd->n = list->n < n ? list->n : n;
	bd->entry = calloc(bd->n ? bd->n : 1, sizeof(*bd->entry));
	if (!bd->entry) {
		r = ssictl_fail(c, SSICTL_EXIT_SOFTWARE, "out of memory");
		goto out;
	}
	for (size_t j = 0; j < bd->n; j++) {
		struct ssid_rank_entry *e = &bd->entry[j];

		snprintf(e->user_id, sizeof(e->user_id), "%s", list->m[j].user_id);
		e->total = list->m[j].total;
		e->rank = 1 + (int64_t)ssi_hist_above(&agg.hist, e->total);
	}
out:
	ssi_rank_top_clear(&tw.top);
	ssi_rankagg_clear(&agg);
	free(field);
	return r;
}

/* top: one leaderboard, from the segment's aggregates. */
int ssictl_cmd_top(struct ctl *c, int argc, char **argv)
{
	struct ssid_rank_board bd;
	char team_buf[2 * SSI_ID_MAX + 2], value[2 * SSI_ID_MAX + 2];
	const char *kind_word = argv[0];
	int kind = -1, r;

	memset(&bd, 0, sizeof(bd));
	for (int k = 0; k < SSID_RANK__COUNT; k++)
		if (strcmp(kind_word, ssid_rank_kind_name((enum ssid_rank_kind)k)) == 0)
			kind = k;
	if (kind < 0)
		return ssictl_usage_error(
		    c, "top: unknown segment kind '%s' (global, industry, tenant, team)",
		    kind_word);
	bd.kind = (enum ssid_rank_kind)kind;
	switch (bd.kind) {
	case SSID_RANK_GLOBAL:
		if (argc != 1)
			return ssictl_usage_error(c, "top global takes no value");
		break;
	case SSID_RANK_INDUSTRY:
	case SSID_RANK_TENANT:
		if (argc != 2 || !argv[1][0] || strlen(argv[1]) > SSI_ID_MAX)
			return ssictl_usage_error(c, "top %s takes one NAME (1 to %d bytes)",
						  kind_word, SSI_ID_MAX);
		bd.segment[bd.kind == SSID_RANK_INDUSTRY ? SSI_SEG_INDUSTRY : SSI_SEG_TENANT] =
		    argv[1];
		break;
	default: /* team: TENANT/TEAM or TENANT TEAM */
		if (argc == 2 && strchr(argv[1], '/') && strlen(argv[1]) < sizeof(team_buf)) {
			char *slash;

			snprintf(team_buf, sizeof(team_buf), "%s", argv[1]);
			slash = strchr(team_buf, '/');
			*slash = '\0';
			bd.segment[SSI_SEG_TENANT] = team_buf;
			bd.segment[SSI_SEG_TEAM] = slash + 1;
		} else if (argc == 3) {
			bd.segment[SSI_SEG_TENANT] = argv[1];
			bd.segment[SSI_SEG_TEAM] = argv[2];
		}
		if (!bd.segment[SSI_SEG_TENANT] || !bd.segment[SSI_SEG_TENANT][0] ||
		    !bd.segment[SSI_SEG_TEAM][0] ||
		    strlen(bd.segment[SSI_SEG_TENANT]) > SSI_ID_MAX ||
		    strlen(bd.segment[SSI_SEG_TEAM]) > SSI_ID_MAX)
			return ssictl_usage_error(c, "top team takes TENANT/TEAM (or TENANT TEAM)");
		break;
	}
	if (bd.kind != SSID_RANK_TEAM && argc > 2)
		return ssictl_usage_error(c, "top %s: too many arguments", kind_word);
	r = read_board(c, &bd, (size_t)(c->opts & OPT_N ? c->n : SSID_RANK_DEFAULT_TOP_N));
	if (r != 0)
		goto out;
	ssictl_segment_value(bd.kind, bd.segment, value, sizeof(value));
	if (bd.of == 0) {
		r = ssictl_fail(c, SSICTL_EXIT_UNKNOWN_SEGMENT,
				"unknown segment: %s%s%s (no ranked rep)", kind_word,
				value[0] ? " " : "", value);
		goto out;
	}
	if (c->json) {
		json_t *o = json_object();

		json_object_set_new(o, "segment", json_string(kind_word));
		json_object_set_new(o, "value", ssictl_string_or_null(value));
		if (bd.hidden) {
			json_object_set_new(o, "hidden", json_true());
		} else {
			json_object_set_new(o, "of", json_integer(bd.of));
			json_object_set_new(o, "entries", entries_json(bd.entry, bd.n, NULL));
		}
		r = ssictl_emit(c, o);
		goto out;
	}
	segment_title(c, (int)bd.kind, value);
	if (bd.hidden) {
		fprintf(c->out, ": hidden (fewer than %d members)\n", c->cfg.rank_min_members);
	} else {
		fprintf(c->out, ": top %zu of %lld reps\n", bd.n, (long long)bd.of);
		entries_text(c, bd.entry, bd.n, NULL);
	}
	fflush(c->out);
out:
	free(bd.entry);
	return r;
}
