/*
 * ssid_store_records: the rank records a rep's hash holds (ssid_store.h).
 * A rep's record is the score last delivered (field p) and the segments of
 * its stored state (s and its parts): ranks move a rep exactly when its
 * score is delivered, and the same save writes both.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "ssi_state.h"
#include "ssid_sched.h"
#include "ssid_store.h"
#include "ssid_store_int.h"

/* An HMGET of p, then the state's parts. */
#define RECORD_FIELDS (1 + SSID_STORE_STATE_PARTS)

/*
 * The record from a p and a state's bytes (NULL when absent): 1 made, 0 no
 * record, -EBADMSG, -EPROTONOSUPPORT; scratch is an initialised state.
 */
static int record_from(const char *p, size_t plen, const uint8_t *state, size_t slen,
		       struct ssi_state *scratch, struct ssi_rank_record *rec)
{
	struct ssid_published pub;
	int rc;

	memset(rec, 0, sizeof(*rec));
	if (!p || !state)
		return 0;
	if (!ssid_store_published_parse(p, plen, &pub))
		return -EBADMSG;
	ssi_state_clear(scratch);
	ssi_state_init(scratch);
	rc = ssi_state_decode(scratch, state, slen);
	if (rc < 0)
		return rc;
	rec->score = pub.score;
	memcpy(rec->segment, scratch->segment, sizeof(rec->segment));
	return 1;
}

struct reading {
	struct ssid_redis *rd;
	const char *const *ids;
	ssid_store_record_fn *fn;
	void *ctx;
	size_t from; /* the chunk's first id */
	struct ssi_state st;
	uint8_t join[SSID_STORE_STATE_PART * SSID_STORE_STATE_PARTS];
};

static int take(void *ctx, size_t i, redisReply *r, int rc)
{
	struct reading *rg = ctx;
	struct ssi_rank_record rec;
	const uint8_t *state = NULL;
	long slen;
	int found;

	if (rc < 0)
		return rc;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != RECORD_FIELDS) {
		ssid_redis_set_error(rg->rd, "HMGET of %s: %s", rg->ids[rg->from + i],
				     r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
		return -EIO;
	}
	slen = ssid_store_state_join(r->element + 1, rg->join, &state);
	found = record_from(r->element[0]->type == REDIS_REPLY_STRING ? r->element[0]->str : NULL,
			    r->element[0]->type == REDIS_REPLY_STRING ? r->element[0]->len : 0,
			    slen >= 0 ? state : NULL, slen >= 0 ? (size_t)slen : 0, &rg->st, &rec);
	return rg->fn(rg->ctx, rg->from + i, found, &rec);
}

int ssid_store_read_records(struct ssid_redis *rd, const char *const *ids, size_t n,
			    ssid_store_record_fn *fn, void *ctx)
{
	struct reading *rg = calloc(1, sizeof(*rg));
	int rc = rg ? ssid_redis_connect(rd) : -ENOMEM;

	if (!rg)
		return rc;
	*rg = (struct reading){.rd = rd, .ids = ids, .fn = fn, .ctx = ctx};
	ssi_state_init(&rg->st);
	for (size_t at = 0; rc == 0 && at < n; at += SSID_STORE_RECORDS_CHUNK) {
		size_t k = n - at < SSID_STORE_RECORDS_CHUNK ? n - at : SSID_STORE_RECORDS_CHUNK;
		char key[512];

		for (size_t i = 0; rc == 0 && i < k; i++) {
			const char *argv[2 + RECORD_FIELDS] = {"HMGET", key};
			size_t argl[2 + RECORD_FIELDS] = {5};

			argl[1] = (size_t)ssid_store_user_key(rd, ids[at + i], key, sizeof(key));
			argv[2] = "p";
			argl[2] = 1;
			for (size_t f = 0; f < SSID_STORE_STATE_PARTS; f++) {
				argv[3 + f] = store_part_fields[f];
				argl[3 + f] = strlen(store_part_fields[f]);
			}
			rc = ssid_redis_append(rd, key, argl[1], (int)(2 + RECORD_FIELDS), argv,
					       argl);
		}
		rg->from = at;
		if (rc == 0)
			rc = ssid_redis_read_replies(rd, k, "HMGET records", take, rg);
	}
	ssi_state_clear(&rg->st);
	free(rg);
	return rc;
}

int ssid_store_queue_totals(struct ssid_redis *rd, const char *const *ids, size_t n)
{
	int rc = n ? ssid_redis_connect(rd) : 0;

	for (size_t i = 0; rc == 0 && i < n; i++) {
		char key[512];
		const char *argv[3] = {"HGET", key, "p"};
		size_t argl[3] = {4, 0, 1};

		argl[1] = (size_t)ssid_store_user_key(rd, ids[i], key, sizeof(key));
		rc = ssid_redis_append(rd, key, argl[1], 3, argv, argl);
	}
	return rc;
}

struct totals {
	struct ssid_redis *rd;
	int *totals;
};

static int take_total(void *ctx, size_t i, redisReply *r, int rc)
{
	struct totals *t = ctx;
	struct ssid_published pub;

	if (rc < 0)
		return rc;
	if (r->type == REDIS_REPLY_ERROR) {
		ssid_redis_set_error(t->rd, "HGET p: %s", r->str);
		return -EIO;
	}
	/* No score delivered, or one no build wrote: not a known rep. */
	if (r->type == REDIS_REPLY_STRING && ssid_store_published_parse(r->str, r->len, &pub))
		t->totals[i] = pub.score.total;
	return 0;
}

int ssid_store_take_totals(struct ssid_redis *rd, size_t n, int *totals)
{
	struct totals t = {.rd = rd, .totals = totals};
	int rc = 0;

	for (size_t i = 0; i < n; i++)
		totals[i] = -1;
	if (n > 0)
		rc = ssid_redis_read_replies(rd, n, "HGET p", take_total, &t);
	if (rc < 0)
		for (size_t i = 0; i < n; i++)
			totals[i] = -1;
	return rc;
}

int ssid_store_roster_read(struct ssid_redis *rd, int32_t partition, char ***ids, size_t *n)
{
	struct ssid_sched *sc;
	int rc = store_schedule_read(rd, partition, false, &sc);

	*ids = NULL;
	*n = 0;
	if (rc < 0)
		return rc;
	rc = ssid_sched_slice(sc, 0, ssid_sched_size(sc), ids, n);
	ssid_sched_free(sc);
	return rc;
}
