/* What the rank suite's files share; see rank_util.h. */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "rank_util.h"
#include "ssid_rank_read.h"
#include "ssid_store.h"

struct fx_redis rank_redis;

void rank_setup(void)
{
	fx_redis_setup(&rank_redis);
}

void rank_teardown(void)
{
	fx_redis_teardown(&rank_redis);
}

struct ssid_rank *rank_open(int min_members, int top_n)
{
	struct ssid_redis_opts so = fx_redis_opts(&rank_redis);
	struct ssid_rank_opts ro = {.min_members = min_members, .top_n = top_n, .refresh_ms = 0};
	struct ssid_rank *r = NULL;

	ck_assert_int_eq(ssid_rank_new(&r, &so, &ro), 0);
	return r;
}

void rank_store_changes(const struct ssid_redis_opts *o, const struct ssid_rank_change *ch,
			size_t n)
{
	struct ssid_user *u = calloc(n ? n : 1, sizeof(*u));
	struct ssid_store *s = NULL;
	size_t m = 0;

	ck_assert_ptr_nonnull(u);
	ck_assert_int_eq(ssid_store_new(&s, o), 0);
	for (size_t i = 0; i < n; i++) {
		if (ch[i].removed) {
			char key[512];

			ssid_store_key(s, ch[i].user_id, key, sizeof(key));
			freeReplyObject(ssid_store_command(s, "DEL %s", key));
			continue;
		}
		ssid_user_init(&u[m], ch[i].user_id);
		u[m++].partition = ch[i].partition;
	}
	ck_assert_msg(ssid_store_load(s, u, m) == 0, "%s", ssid_store_errstr(s));
	for (size_t i = 0, j = 0; i < n; i++) {
		if (ch[i].removed)
			continue;
		for (int g = 0; g < SSI_SEG__COUNT; g++) {
			const char *v = ch[i].segment[g] ? ch[i].segment[g] : "";

			/* A segment set by an event: a value and its event's key. */
			snprintf(u[j].state.segment[g], sizeof(u[j].state.segment[g]), "%s", v);
			u[j].state.segment_key[g].at_ms = v[0] ? 1 : INT64_MIN;
			u[j].state.segment_key[g].fp = v[0] ? (uint64_t)g + 1 : 0;
		}
		ssid_store_stage_state(&u[j], true);
		ssid_store_stage_delivered(&u[j], &ch[i].score, 0, "", NULL);
		j++;
	}
	ck_assert_msg(ssid_store_save(s, u, m) == 0, "%s", ssid_store_errstr(s));
	for (size_t i = 0; i < m; i++)
		ssid_user_clear(&u[i]);
	free(u);
	ssid_store_free(s);
}

int rank_apply_at(const struct ssid_redis_opts *o, struct ssid_rank *r, struct ssid_rank_change *ch,
		  size_t n, bool persist)
{
	int rc = ssid_rank_apply(r, ch, n, persist);

	if (rc == 0)
		rank_store_changes(o, ch, n);
	return rc;
}

int rank_apply(struct ssid_rank *r, struct ssid_rank_change *ch, size_t n, bool persist)
{
	struct ssid_redis_opts o = fx_redis_opts(&rank_redis);

	return rank_apply_at(&o, r, ch, n, persist);
}

long long peek_int(redisContext *c, const char *fmt, const char *arg1, const char *arg2)
{
	redisReply *reply = redisCommand(c, fmt, arg1, arg2);
	long long v = -1;

	ck_assert_ptr_nonnull(reply);
	if (reply->type == REDIS_REPLY_INTEGER)
		v = reply->integer;
	else if (reply->type == REDIS_REPLY_STRING)
		v = strtoll(reply->str, NULL, 10);
	else if (reply->type == REDIS_REPLY_NIL)
		v = 0;
	freeReplyObject(reply);
	return v;
}

/*
 * The stored aggregate of segment field in partition part (empty when the
 * field is absent), decoded; *present says whether the field exists.
 */
void stored_agg(redisContext *c, int32_t part, const char *field, struct ssi_rankagg *out,
		bool *present)
{
	char key[64];
	redisReply *reply;

	ssid_rank_key_aggs("ssi:", part, key, sizeof(key));
	reply = redisCommand(c, "HGET %s %s", key, field);
	ck_assert_ptr_nonnull(reply);
	ssi_rankagg_init(out);
	*present = reply->type == REDIS_REPLY_STRING;
	if (*present)
		ck_assert_int_eq(ssi_rankagg_decode(out, (const uint8_t *)reply->str, reply->len),
				 0);
	freeReplyObject(reply);
}

/* Members (sum 0) or a sum (1 total, 2.. pillars) of a segment, stored over parts partitions. */
long long stored_sum(redisContext *c, int parts, const char *field, int sum)
{
	long long v = 0;

	for (int32_t p = 0; p < parts; p++) {
		struct ssi_rankagg a;
		bool present;

		stored_agg(c, p, field, &a, &present);
		v += sum == 0 ? a.n : a.sum[sum - 1];
		ssi_rankagg_clear(&a);
	}
	return v;
}

bool stored_record(const char *id, struct ssi_rank_record *rec)
{
	struct ssid_redis *rd = fx_redis_client(&rank_redis);
	int r = ssid_rank_read_record(rd, id, rec);

	ck_assert_int_ge(r, 0);
	ssid_redis_free(rd);
	return r == 1;
}

void change_set(struct ssid_rank_change *c, const char *id, const char *tenant, const char *team,
		const char *industry, int b, int p, int i, int r)
{
	memset(c, 0, sizeof(*c));
	c->user_id = id;
	c->segment[SSI_SEG_TENANT] = tenant;
	c->segment[SSI_SEG_TEAM] = team;
	c->segment[SSI_SEG_INDUSTRY] = industry;
	c->score.pillar[SSI_BRAND] = b;
	c->score.pillar[SSI_PEOPLE] = p;
	c->score.pillar[SSI_INSIGHTS] = i;
	c->score.pillar[SSI_RELATIONSHIPS] = r;
	c->score.total = b + p + i + r;
}

/* One rep whose total is all in the brand pillar (up to 2500) and spills over. */
void change_total(struct ssid_rank_change *c, const char *id, const char *tenant, const char *team,
		  const char *industry, int total)
{
	int pillar[SSI_PILLAR__COUNT] = {0};

	for (int p = 0; p < SSI_PILLAR__COUNT && total > 0; p++) {
		pillar[p] = total > 2500 ? 2500 : total;
		total -= pillar[p];
	}
	change_set(c, id, tenant, team, industry, pillar[0], pillar[1], pillar[2], pillar[3]);
}
