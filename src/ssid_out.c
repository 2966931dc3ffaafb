/* ssid_out: JSON output messages without a DOM in between. */
#include <errno.h>
#include <string.h>

#include "ssi_text.h"
#include "ssi_time.h"
#include "ssid_boards.h"
#include "ssid_out.h"

const char *ssid_cause_name(enum ssid_cause c)
{
	switch (c) {
	case SSID_CAUSE_EVENT:
		return "event";
	case SSID_CAUSE_DECAY:
		return "decay";
	case SSID_CAUSE_MODEL:
		return "model";
	}
	return "event";
}

#define SSID_OUT_STR2(x) #x
#define SSID_OUT_STR(x)	 SSID_OUT_STR2(x)

/* Append a string literal: its length is known at compile time. */
#define put_lit(b, lit) ssid_buf_append((b), (lit), sizeof(lit) - 1)

/* Centipoints as a JSON number with two decimals. */
static void put_points(struct ssid_buf *b, int cp)
{
	char num[16];
	int n = ssi_score_format(cp, num, sizeof(num));

	ssid_buf_append(b, num, (size_t)n);
}

/* A decimal integer, without printf: these go into every score.updated. */
static void put_int(struct ssid_buf *b, long long v)
{
	char num[SSI_TEXT_LL_MAX];

	ssid_buf_append(b, num, ssi_text_ll(v, num));
}

/* A string known to need no JSON escaping (names from fixed tables), quoted. */
static void put_name(struct ssid_buf *b, const char *name)
{
	put_lit(b, "\"");
	ssid_buf_append(b, name, strlen(name));
	put_lit(b, "\"");
}

static void put_key(struct ssid_buf *b, const char *key)
{
	ssid_buf_json_string(b, key, strlen(key));
	put_lit(b, ":");
}

/* The pillars object's keys, each with what comes before it, and their lengths. */
#define PILLAR_KEY(lit)                                                                            \
	{                                                                                          \
		(lit), sizeof(lit) - 1                                                             \
	}
static const struct {
	const char *s;
	size_t n;
} pillar_keys[SSI_PILLAR__COUNT] = {PILLAR_KEY("{\"brand\":"), PILLAR_KEY(",\"people\":"),
				    PILLAR_KEY(",\"insights\":"),
				    PILLAR_KEY(",\"relationships\":")};

static void put_pillars(struct ssid_buf *b, const struct ssi_score *s)
{
	for (int p = 0; p < SSI_PILLAR__COUNT; p++) {
		ssid_buf_append(b, pillar_keys[p].s, pillar_keys[p].n);
		put_points(b, s->pillar[p]);
	}
	put_lit(b, "}");
}

/* as_of, model_version and the closing brace: every message ends alike. */
static void put_tail(struct ssid_buf *b, int64_t as_of_ms, const char *model_version)
{
	char when[SSI_TIME_BUFLEN];
	size_t n = ssi_time_format(as_of_ms, when);

	put_lit(b, ",\"as_of\":\"");
	ssid_buf_append(b, when, n);
	put_lit(b, "\",");
	put_key(b, "model_version");
	ssid_buf_json_string(b, model_version, strlen(model_version));
	put_lit(b, "}");
}

/* Write at `at` (the caller sized the buffer) and return the end. */
static char *cat(char *at, const char *s, size_t n)
{
	memcpy(at, s, n);
	return at + n;
}

#define cat_lit(at, lit) cat((at), (lit), sizeof(lit) - 1)

static char *cat_int(char *at, long long v)
{
	return at + ssi_text_ll(v, at);
}

/* Centipoints as points with two decimals. */
static char *cat_points(char *at, int cp)
{
	char num[16];
	int n = ssi_score_format(cp, num, sizeof(num));

	return cat(at, num, (size_t)n);
}

/* The averages' keys and 5 centipoint values. */
#define RANK_AVGS_MAX (96 + 5 * 16)
/* The longest position: its other keys, 3 integers, the averages and a day. */
#define RANK_POS_MAX (64 + 3 * SSI_TEXT_LL_MAX + RANK_AVGS_MAX + SSI_TIME_BUFLEN)

/* A position's averages at `at` (RANK_AVGS_MAX bytes), from ",\"average\"" to the pillars' "}". */
static char *cat_averages(char *at, const struct ssid_rank_pos *r)
{
	at = cat_lit(at, ",\"average\":");
	at = cat_points(at, r->avg_total_cp);
	at = cat_lit(at, ",\"average_pillars\":");
	for (int p = 0; p < SSI_PILLAR__COUNT; p++) {
		at = cat(at, pillar_keys[p].s, pillar_keys[p].n);
		at = cat_points(at, r->avg_pillar_cp[p]);
	}
	return cat_lit(at, "}");
}

/* The averages as cat_averages writes them, from the memo when it has them. */
static char *cat_averages_memo(char *at, const struct ssid_rank_pos *r, struct ssid_out_avgs *memo)
{
	int key[1 + SSI_PILLAR__COUNT];
	uint32_t h = 2166136261u;
	struct ssid_out_avg *s;
	char *end;

	if (!memo)
		return cat_averages(at, r);
	key[0] = r->avg_total_cp;
	memcpy(key + 1, r->avg_pillar_cp, sizeof(r->avg_pillar_cp));
	for (int i = 0; i < 1 + SSI_PILLAR__COUNT; i++)
		h = (h ^ (uint32_t)key[i]) * 16777619u;
	s = &memo->slot[(h ^ (h >> 16)) % SSID_OUT_AVGS_SLOTS];
	if (s->len && memcmp(s->key, key, sizeof(key)) == 0)
		return cat(at, s->text, s->len);
	end = cat_averages(at, r);
	if ((size_t)(end - at) <= sizeof(s->text)) {
		memcpy(s->key, key, sizeof(key));
		s->len = (uint8_t)(end - at);
		memcpy(s->text, at, s->len);
	}
	return end;
}

/*
 * A segment's position at `at` (RANK_POS_MAX bytes): hidden under the
 * privacy floor, else rank and averages; as_of_day >= 0 says the day it
 * was computed (network ranks). memo: see ssid_out_avgs (NULL: none).
 */
static char *cat_rank_pos(char *at, const struct ssid_rank_pos *r, int32_t as_of_day,
			  struct ssid_out_avgs *memo)
{
	if (r->hidden)
		return cat_lit(at, "{\"hidden\":true}");
	at = cat_lit(at, "{\"rank\":");
	at = cat_int(at, r->rank);
	at = cat_lit(at, ",\"of\":");
	at = cat_int(at, r->of);
	at = cat_lit(at, ",\"top_percent\":");
	at = cat_int(at, r->top_percent);
	at = cat_averages_memo(at, r, memo);
	if (as_of_day >= 0) {
		char day[SSI_TIME_BUFLEN];

		ssi_time_format((int64_t)as_of_day * SSI_MS_PER_DAY, day);
		at = cat_lit(at, ",\"as_of_day\":\"");
		at = cat(at, day, 10);
		at = cat_lit(at, "\"");
	}
	return cat_lit(at, "}");
}

/* A key of the ranks object (a fixed name: no escaping), after a comma unless first. */
static char *cat_rank_key(char *at, const char *name, bool first)
{
	at = first ? cat_lit(at, "\"") : cat_lit(at, ",\"");
	at = cat(at, name, strlen(name));
	return cat_lit(at, "\":");
}

/* The ranks object: written aside, every segment's position, and appended once. */
static void put_ranks(struct ssid_buf *b, const struct ssid_score_msg *m)
{
	char buf[16 + (SSID_RANK__COUNT + 1) * (RANK_POS_MAX + 32)], *at = buf;
	bool first = true;

	at = cat_lit(at, ",\"ranks\":{");
	for (int k = 0; k < SSID_RANK__COUNT; k++) {
		if (!m->rank[k] || !m->rank[k]->present)
			continue;
		at = cat_rank_key(at, ssid_rank_kind_name((enum ssid_rank_kind)k), first);
		at = cat_rank_pos(at, m->rank[k], -1, m->avgs);
		first = false;
	}
	if (m->has_network && m->network.present) {
		at = cat_rank_key(at, "network", first);
		/* Computed at most daily: say as of which day. */
		at = cat_rank_pos(at, &m->network, m->network_day, m->avgs);
	}
	at = cat_lit(at, "}");
	ssid_buf_append(b, buf, (size_t)(at - buf));
}

int ssid_out_score_updated(struct ssid_buf *b, const struct ssid_score_msg *m)
{
	static const char head[] =
	    "{\"schema\":" SSID_OUT_STR(SSID_OUT_SCHEMA) ",\"type\":\"score.updated\",\"user_id\":";
	ssid_buf_append(b, head, sizeof(head) - 1);
	ssid_buf_json_string(b, m->user_id, strlen(m->user_id));
	for (int s = 0; s < SSI_SEG__COUNT; s++) {
		if (!m->segment[s] || !m->segment[s][0])
			continue;
		put_lit(b, ",");
		put_key(b, ssi_segment_name((enum ssi_segment)s));
		ssid_buf_json_string(b, m->segment[s], strlen(m->segment[s]));
	}
	put_lit(b, ",\"ssi\":");
	put_points(b, m->score.total);
	put_lit(b, ",\"pillars\":");
	put_pillars(b, &m->score);
	put_lit(b, ",\"previous\":");
	if (m->has_previous) {
		put_points(b, m->previous.total);
		put_lit(b, ",\"delta\":");
		put_points(b, m->score.total - m->previous.total);
		put_lit(b, ",\"previous_pillars\":");
		put_pillars(b, &m->previous);
	} else {
		put_lit(b, "null,\"delta\":");
		put_points(b, m->score.total);
	}
	if (m->has_ranks)
		put_ranks(b, m);
	put_lit(b, ",\"cause\":");
	put_name(b, ssid_cause_name(m->cause));
	put_lit(b, ",\"events\":");
	put_int(b, m->events);
	if (m->backfill)
		put_lit(b, ",\"backfill\":true");
	put_tail(b, m->as_of_ms, m->model_version);
	return b->failed ? -ENOMEM : 0;
}

static void put_head(struct ssid_buf *b, const char *type, const char *user_id)
{
	put_lit(b, "{\"schema\":" SSID_OUT_STR(SSID_OUT_SCHEMA) ",\"type\":");
	put_name(b, type);
	if (user_id) {
		put_lit(b, ",");
		put_key(b, "user_id");
		ssid_buf_json_string(b, user_id, strlen(user_id));
	}
}

int ssid_out_rank_changed(struct ssid_buf *b, const struct ssid_rank_msg *m)
{
	put_head(b, "rank.changed", m->user_id);
	put_lit(b, ",\"segment\":");
	put_name(b, ssid_rank_kind_name(m->kind));
	if (m->segment_value) {
		put_lit(b, ",");
		put_key(b, "segment_value");
		ssid_buf_json_string(b, m->segment_value, strlen(m->segment_value));
	}
	put_lit(b, ",\"direction\":");
	put_name(b, m->crossing.direction > 0 ? "up" : "down");
	put_lit(b, ",\"band\":");
	put_int(b, m->crossing.band);
	put_lit(b, ",\"from_top_percent\":");
	put_int(b, m->from_top_percent);
	put_lit(b, ",\"top_percent\":");
	put_int(b, m->pos->top_percent);
	put_lit(b, ",\"rank\":");
	put_int(b, m->pos->rank);
	put_lit(b, ",\"of\":");
	put_int(b, m->pos->of);
	put_lit(b, ",\"cause\":");
	put_name(b, ssid_cause_name(m->cause));
	put_tail(b, m->as_of_ms, m->model_version);
	return b->failed ? -ENOMEM : 0;
}

/* Percentages for left_top_percent, points for every other rule. */
static void put_alert_value(struct ssid_buf *b, const char *key, int v, bool percent)
{
	put_lit(b, ",");
	put_key(b, key);
	if (v < 0)
		put_lit(b, "null");
	else if (percent)
		ssid_buf_printf(b, "%d", v);
	else
		put_points(b, v);
}

int ssid_out_alert(struct ssid_buf *b, const struct ssid_alert_msg *m)
{
	const struct ssi_alert *a = m->alert;
	bool percent = a->rule == SSI_ALERT_LEFT_TOP_PERCENT;
	bool fc = a->rule == SSI_ALERT_FORECAST_BELOW;

	put_head(b, "alert", m->user_id);
	ssid_buf_printf(b, ",\"rule\":\"%s\",\"cause\":\"%s\"", ssi_alert_rule_name(a->rule),
			ssid_cause_name(a->cause == SSI_ALERT_CAUSE_DECAY   ? SSID_CAUSE_DECAY
					: a->cause == SSI_ALERT_CAUSE_MODEL ? SSID_CAUSE_MODEL
									    : SSID_CAUSE_EVENT));
	put_alert_value(b, "value", a->new_value, percent);
	put_alert_value(b, "previous", a->old_value, percent);
	put_alert_value(b, "reference", a->reference, percent);
	put_alert_value(b, "threshold", a->threshold, percent);
	if (a->rule == SSI_ALERT_PILLAR_DROP)
		ssid_buf_printf(b, ",\"pillar\":\"%s\"", ssi_pillar_name(a->pillar));
	if (fc) {
		char date[SSI_TIME_BUFLEN];

		ssi_time_format(ssi_time_day_start(a->forecast_day), date);
		ssid_buf_printf(b, ",\"forecast_date\":\"%.10s\"", date);
	}
	put_lit(b, ",\"ssi\":");
	put_points(b, m->score.total);
	put_lit(b, ",\"pillars\":");
	put_pillars(b, &m->score);
	put_lit(b, ",\"pillars_lost\":");
	{
		struct ssi_score lost = {.total = 0};

		for (int p = 0; p < SSI_PILLAR__COUNT; p++)
			lost.pillar[p] = a->pillar_lost_cp[p];
		put_pillars(b, &lost);
	}
	put_lit(b, ",\"causes\":[");
	for (int i = 0; i < a->nlosses; i++) {
		const struct ssi_var_info *vi = ssi_var_info(a->loss[i].var);

		ssid_buf_printf(b,
				"%s{\"variable\":\"%s\",\"pillar\":\"%s\",\"lost\":", i ? "," : "",
				vi->name, ssi_pillar_name(vi->pillar));
		put_points(b, a->loss[i].lost_cp);
		if (fc)
			ssid_buf_printf(b, ",\"aged\":%u", a->loss[i].aged);
		put_lit(b, "}");
	}
	put_lit(b, "],\"actions\":[");
	for (int i = 0; i < a->nactions; i++) {
		if (i)
			put_lit(b, ",");
		put_lit(b, "{");
		put_key(b, "text");
		ssid_buf_json_string(b, a->action[i].text, strlen(a->action[i].text));
		ssid_buf_printf(
		    b, ",\"pillar\":\"%s\",\"gain\":", ssi_pillar_name(a->action[i].pillar));
		put_points(b, a->action[i].gain);
		if (fc)
			ssid_buf_printf(b, ",\"days_above\":%d", a->action_days[i]);
		put_lit(b, "}");
	}
	put_lit(b, "],");
	put_key(b, "why");
	ssid_buf_json_string(b, a->why, strlen(a->why));
	put_tail(b, m->as_of_ms, m->model_version);
	return b->failed ? -ENOMEM : 0;
}

int ssid_out_leaderboard_changed(struct ssid_buf *b, const struct ssid_board_msg *m)
{
	const struct ssid_rank_board *bd = m->board;

	put_head(b, "leaderboard.changed", NULL);
	ssid_buf_printf(b, ",\"segment\":\"%s\",", ssid_rank_kind_name(m->kind));
	put_key(b, "tenant");
	ssid_buf_json_string(b, m->tenant, strlen(m->tenant));
	if (m->kind == SSID_RANK_TEAM) {
		put_lit(b, ",");
		put_key(b, "team");
		ssid_buf_json_string(b, m->team, strlen(m->team));
	}
	ssid_buf_printf(b, ",\"of\":%lld,\"members_changed\":%s,\"order_changed\":%s,\"top\":[",
			(long long)bd->of, m->changes & SSID_BOARD_MEMBERS ? "true" : "false",
			m->changes & SSID_BOARD_ORDER ? "true" : "false");
	for (size_t i = 0; i < bd->n; i++) {
		ssid_buf_printf(b, "%s{\"rank\":%lld,", i ? "," : "", (long long)bd->entry[i].rank);
		put_key(b, "user_id");
		ssid_buf_json_string(b, bd->entry[i].user_id, strlen(bd->entry[i].user_id));
		put_lit(b, ",\"ssi\":");
		put_points(b, bd->entry[i].total);
		put_lit(b, "}");
	}
	put_lit(b, "]");
	if (m->backfill)
		put_lit(b, ",\"backfill\":true");
	put_tail(b, m->as_of_ms, m->model_version);
	return b->failed ? -ENOMEM : 0;
}
