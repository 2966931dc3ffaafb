/*
 * ssictl_rank: the rank data ssictl reads (ssid_rank_read): a rep's rank
 * record, a segment's aggregate over every partition and how segments are
 * named; and the rank command, a rep's position in every segment kind and
 * its network. See ssictl_int.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ssi_event.h"
#include "ssi_rank.h"
#include "ssid_network.h"
#include "ssid_rank.h"
#include "ssid_rank_read.h"
#include "ssid_redis.h"
#include "ssictl_int.h"

/* ---- reading rank data ---------------------------------------------------------- */

/* The partitions with rank data (ssid_rank_read), once per command; 0 or an exit code. */
int ssictl_read_parts(struct ctl *c)
{
	int r;

	if (c->parts_read)
		return 0;
	r = ssid_rank_read_partitions(c->rd, &c->parts, &c->nparts);
	if (r < 0)
		return ssictl_redis_error(c, r, ssid_redis_errstr(c->rd));
	c->parts_read = true;
	return 0;
}

/* The rep's rank record; 0 or an exit code (unknown user, not ranked, unreadable). */
int ssictl_read_rank_record(struct ctl *c, const char *user, struct rank_record *rec)
{
	int r = ssictl_read_parts(c);

	memset(rec, 0, sizeof(*rec));
	if (r != 0)
		return r;
	r = ssid_rank_read_record(c->rd, user, &rec->r);
	for (int i = 0; i < SSI_SEG__COUNT; i++)
		rec->segp[i] = rec->r.segment[i];
	if (r == -EBADMSG)
		return ssictl_fail(c, SSICTL_EXIT_UNREADABLE, "rank record of '%s' is unreadable",
				   user);
	if (r < 0)
		return ssictl_redis_error(c, r, ssid_redis_errstr(c->rd));
	if (r == 0) {
		int exists = ssictl_user_exists(c, user);

		if (exists < 0)
			return -exists;
		if (exists)
			return ssictl_fail(c, SSICTL_EXIT_UNKNOWN_USER,
					   "user '%s' has not been ranked yet", user);
		return ssictl_unknown_user(c, user);
	}
	return 0;
}

/*
 * The aggregate of a segment over every partition (the best top_keep
 * members listed); *in false when the rep has no segment of kind. 0 or an
 * exit code.
 */
int ssictl_read_segment(struct ctl *c, enum ssid_rank_kind kind,
			const char *const seg[SSI_SEG__COUNT], size_t top_keep,
			struct ssi_rankagg *agg, bool *in)
{
	int r = ssid_rank_read_segment(c->rd, c->parts, c->nparts, kind, seg, top_keep, agg);

	*in = r != -ENOENT;
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return ssictl_redis_error(c, r, ssid_redis_errstr(c->rd));
	return 0;
}

/* Whether a record counts in the segment named field of kind (ssid_rank's field names). */
bool ssictl_record_in(const struct ssi_rank_record *rec, enum ssid_rank_kind kind,
		      const char *field)
{
	const char *seg[SSI_SEG__COUNT];
	char buf[8 * SSI_ID_MAX];
	int len;

	for (int i = 0; i < SSI_SEG__COUNT; i++)
		seg[i] = rec->segment[i];
	len = ssid_rank_segment_field(kind, seg, buf, sizeof(buf));
	return len >= 0 && (size_t)len < sizeof(buf) && strcmp(buf, field) == 0;
}

/* The field name of a segment (malloc'd); NULL with *oom false when there is none. */
char *ssictl_segment_field(enum ssid_rank_kind kind, const char *const seg[SSI_SEG__COUNT],
			   bool *oom)
{
	int n = ssid_rank_segment_field(kind, seg, NULL, 0);
	char *field;

	*oom = false;
	if (n < 0)
		return NULL;
	field = malloc((size_t)n + 1);
	if (!field) {
		*oom = true;
		return NULL;
	}
	ssid_rank_segment_field(kind, seg, field, (size_t)n + 1);
	return field;
}

/* How a segment is named for people: "software", "acme/emea-west"; "" for global. */
void ssictl_segment_value(enum ssid_rank_kind kind, const char *const seg[SSI_SEG__COUNT],
			  char *buf, size_t len)
{
	switch (kind) {
	case SSID_RANK_INDUSTRY:
		snprintf(buf, len, "%s", seg[SSI_SEG_INDUSTRY]);
		break;
	case SSID_RANK_TENANT:
		snprintf(buf, len, "%s", seg[SSI_SEG_TENANT]);
		break;
	case SSID_RANK_TEAM:
		snprintf(buf, len, "%s/%s", seg[SSI_SEG_TENANT], seg[SSI_SEG_TEAM]);
		break;
	default:
		buf[0] = '\0';
	}
}

/* Why a rep has no segment of kind, for the text output. */
const char *ssictl_missing_why(enum ssid_rank_kind kind)
{
	switch (kind) {
	case SSID_RANK_INDUSTRY:
		return "industry unknown";
	case SSID_RANK_TENANT:
		return "tenant unknown";
	case SSID_RANK_TEAM:
		return "tenant or team unknown";
	default:
		return "not ranked";
	}
}

/* ---- rank -------------------------------------------------------------------- */

enum { SEG_NETWORK = SSID_RANK__COUNT, SEG__COUNT };

/* ssid_rank's kind names, plus "network" which ssid_rank does not keep. */
const char *ssictl_seg_kind_name(int kind)
{
	return kind == SEG_NETWORK ? "network" : ssid_rank_kind_name((enum ssid_rank_kind)kind);
}

struct seg_pos {
	bool in;	  /* the rep has a segment of this kind */
	bool has_pillars; /* avg_pillar is known */
	char value[2 * SSI_ID_MAX + 2];
	struct ssid_rank_pos pos;
};

/*
 * The rep's position in each of their segments from the segments'
 * aggregates (one round trip each), ranked by ssi_rank; then the network.
 */
static int read_positions(struct ctl *c, const char *user, const struct rank_record *rec,
			  struct seg_pos sp[SEG__COUNT])
{
	struct ssi_rankagg agg;
	int total = rec->r.score.total, r = 0;

	memset(sp, 0, SEG__COUNT * sizeof(*sp));
	ssi_rankagg_init(&agg);
	for (int k = 0; k < SSID_RANK__COUNT && r == 0; k++) {
		struct ssi_rank_place pl;

		r = ssictl_read_segment(c, (enum ssid_rank_kind)k, rec->segp, 0, &agg, &sp[k].in);
		if (r != 0 || !sp[k].in)
			continue;
		ssictl_segment_value((enum ssid_rank_kind)k, rec->segp, sp[k].value,
				     sizeof(sp[k].value));
		if (ssi_hist_get(&agg.hist, total) == 0)
			continue; /* not counted in the segment its record names: shown as absent */
		ssi_rankagg_place(&agg, total, c->cfg.rank_min_members, &pl);
		ssid_rank_pos_set(&sp[k].pos, &pl);
		sp[k].has_pillars = true;
	}
	ssi_rankagg_clear(&agg);
	if (r != 0)
		return r;
	sp[SEG_NETWORK].in = true;
	r = ssid_network_rank(c->rd, user, c->cfg.rank_min_members, &sp[SEG_NETWORK].pos, NULL);
	if (r < 0)
		return ssictl_redis_error(c, r, ssid_redis_errstr(c->rd));
	return 0;
}

/* One segment of rank in JSON: null when not in one, nothing but "hidden" when hidden. */
static json_t *position_json(const struct seg_pos *sp)
{
	json_t *o, *avg;

	if (!sp->in || !sp->pos.present)
		return json_null();
	o = json_object();
	json_object_set_new(o, "value", ssictl_string_or_null(sp->value));
	if (sp->pos.hidden) {
		json_object_set_new(o, "hidden", json_true());
		return o;
	}
	json_object_set_new(o, "rank", json_integer(sp->pos.rank));
	json_object_set_new(o, "of", json_integer(sp->pos.of));
	json_object_set_new(o, "top_percent", json_integer(sp->pos.top_percent));
	avg = json_object();
	json_object_set_new(avg, "ssi", json_real(sp->pos.avg_total_cp / 100.0));
	if (sp->has_pillars) {
		json_t *p = json_object();

		for (int i = 0; i < SSI_PILLAR__COUNT; i++)
			json_object_set_new(p, ssi_pillar_name((enum ssi_pillar)i),
					    json_real(sp->pos.avg_pillar_cp[i] / 100.0));
		json_object_set_new(avg, "pillars", p);
	}
	json_object_set_new(o, "average", avg);
	return o;
}

/* The width of the value column, so that the table stays aligned. */
static int value_width(const struct seg_pos *sp, int n)
{
	int w = 5;

	for (int k = 0; k < n; k++)
		if (sp[k].in && (int)strlen(sp[k].value) > w)
			w = (int)strlen(sp[k].value);
	return w;
}

/* rank: the rep's position in every segment kind. */
int ssictl_cmd_rank(struct ctl *c, const char *user)
{
	struct rank_record rec;
	struct seg_pos sp[SEG__COUNT];
	char b[16];
	int r, w;

	r = ssictl_read_rank_record(c, user, &rec);
	if (r == 0)
		r = read_positions(c, user, &rec, sp);
	if (r != 0)
		return r;
	if (c->json) {
		json_t *o = json_object(), *segs = json_object();

		json_object_set_new(o, "user_id", json_string(user));
		json_object_set_new(o, "ssi", ssictl_points_json(rec.r.score.total));
		json_object_set_new(o, "min_members", json_integer(c->cfg.rank_min_members));
		for (int k = 0; k < SEG__COUNT; k++)
			json_object_set_new(segs, ssictl_seg_kind_name(k), position_json(&sp[k]));
		json_object_set_new(o, "segments", segs);
		return ssictl_emit(c, o);
	}
	w = value_width(sp, SEG__COUNT);
	fprintf(c->out, "%-9s %-*s %7s %7s %6s %8s\n", "segment", w, "value", "rank", "of", "top %",
		"average");
	for (int k = 0; k < SEG__COUNT; k++) {
		const struct ssid_rank_pos *pos = &sp[k].pos;

		fprintf(c->out, "%-9s ", ssictl_seg_kind_name(k));
		ssictl_put_clean(c->out, sp[k].in && sp[k].value[0] ? sp[k].value : "-", w);
		if (!sp[k].in)
			fprintf(c->out, " not in a segment (%s)\n",
				ssictl_missing_why((enum ssid_rank_kind)k));
		else if (!pos->present)
			fprintf(c->out, " not ranked in it\n");
		else if (pos->hidden)
			fprintf(c->out, " hidden (fewer than %d members)\n",
				c->cfg.rank_min_members);
		else
			fprintf(c->out, " %7lld %7lld %6d %8s\n", (long long)pos->rank,
				(long long)pos->of, pos->top_percent,
				ssictl_cp(pos->avg_total_cp, b, sizeof(b)));
	}
	fflush(c->out);
	return 0;
}
