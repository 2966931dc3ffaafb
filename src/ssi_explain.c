/*
 * ssi_explain: why a score is what it is, and what would raise it.
 *
 * Actions are not estimated from the formula but measured: each candidate is
 * applied as a synthetic event to a copy of the state and the copy is scored.
 * That way daily caps, rates and saturation are all accounted for exactly,
 * and the explanation can never disagree with the score.
 */
#include <errno.h>
#include <string.h>

#include "ssi_score_priv.h"
#include "ssi_time.h"

struct candidate {
	const char *text;
	enum ssi_event_type type;
	int profile_field; /* profile_updated: the field to complete, else -1 */
	int degree;	   /* profile_viewed */
	int filters;	   /* search_performed */
	enum ssi_seniority seniority;
	bool same_company;
};

/* Things a rep can do themselves; what others do to them is not an action. */
static const struct candidate candidates[] = {
    {"add a profile photo", SSI_EV_PROFILE_UPDATED, SSI_PF_PHOTO, 0, 0, 0, false},
    {"add a background photo", SSI_EV_PROFILE_UPDATED, SSI_PF_BACKGROUND_PHOTO, 0, 0, 0, false},
    {"write a headline", SSI_EV_PROFILE_UPDATED, SSI_PF_HEADLINE, 0, 0, 0, false},
    {"write a profile summary", SSI_EV_PROFILE_UPDATED, SSI_PF_SUMMARY, 0, 0, 0, false},
    {"add your experience", SSI_EV_PROFILE_UPDATED, SSI_PF_EXPERIENCE, 0, 0, 0, false},
    {"list 5 more skills", SSI_EV_PROFILE_UPDATED, SSI_PF_SKILLS, 0, 0, 0, false},
    {"feature one item on your profile", SSI_EV_PROFILE_UPDATED, SSI_PF_FEATURED_MEDIA, 0, 0, 0,
     false},
    {"publish one article", SSI_EV_ARTICLE_PUBLISHED, -1, 0, 0, 0, false},
    {"run one search with filters", SSI_EV_SEARCH_PERFORMED, -1, 0, 1, 0, false},
    {"view one profile in your network", SSI_EV_PROFILE_VIEWED, -1, 2, 0, 0, false},
    {"view one profile outside your network", SSI_EV_PROFILE_VIEWED, -1, 3, 0, 0, false},
    {"log in today", SSI_EV_SESSION_STARTED, -1, 0, 0, 0, false},
    {"save one lead", SSI_EV_LEAD_SAVED, -1, 0, 0, 0, false},
    {"share one post", SSI_EV_POST_SHARED, -1, 0, 0, 0, false},
    {"react to one post", SSI_EV_REACTION_GIVEN, -1, 0, 0, 0, false},
    {"comment on one post", SSI_EV_COMMENT_GIVEN, -1, 0, 0, 0, false},
    {"send one message", SSI_EV_MESSAGE_SENT, -1, 0, 0, 0, false},
    {"join one group", SSI_EV_GROUP_JOINED, -1, 0, 0, 0, false},
    {"post once in a group", SSI_EV_GROUP_ACTIVITY, -1, 0, 0, 0, false},
    {"connect with one C-level decision maker", SSI_EV_CONNECTION_ADDED, -1, 0, 0, SSI_SEN_CXO,
     false},
    {"connect with one colleague", SSI_EV_CONNECTION_ADDED, -1, 0, 0, SSI_SEN_UNKNOWN, true},
    {"share one piece of a prospect's content", SSI_EV_PROSPECT_CONTENT_SHARED, -1, 0, 0, 0, false},
};

static void profile_complete_field(struct ssi_profile *p, int field)
{
	switch (field) {
	case SSI_PF_PHOTO:
		p->photo = true;
		break;
	case SSI_PF_BACKGROUND_PHOTO:
		p->background_photo = true;
		break;
	case SSI_PF_HEADLINE:
		p->headline = true;
		break;
	case SSI_PF_SUMMARY:
		p->summary = true;
		break;
	case SSI_PF_EXPERIENCE:
		p->experience = true;
		break;
	case SSI_PF_SKILLS:
		p->skills = p->skills > 250 ? 255 : p->skills + 5;
		break;
	case SSI_PF_FEATURED_MEDIA:
		p->featured_media = p->featured_media == 255 ? 255 : p->featured_media + 1;
		break;
	}
}

/*
 * The synthetic event for a candidate, dated now. Its fingerprint is one no
 * real event in the state's duplicate filter has, so it is never mistaken
 * for a duplicate, and it beats the current profile in last-writer-wins.
 */
static void candidate_event(const struct candidate *c, const struct ssi_state *st, int64_t now_ms,
			    struct ssi_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = c->type;
	ev->occurred_at_ms = now_ms > st->profile_key.at_ms ? now_ms : st->profile_key.at_ms;
	ev->fingerprint = UINT64_MAX;
	for (uint32_t i = 0; i < st->nrecent; i++)
		if (st->recent[i].fp == ev->fingerprint)
			ev->fingerprint--;
	if (c->type == SSI_EV_PROFILE_UPDATED) {
		ev->attrs.profile = st->profile;
		profile_complete_field(&ev->attrs.profile, c->profile_field);
	} else if (c->type == SSI_EV_PROFILE_VIEWED) {
		ev->attrs.view.degree = c->degree;
	} else if (c->type == SSI_EV_SEARCH_PERFORMED) {
		ev->attrs.search.filters = c->filters;
	} else if (c->type == SSI_EV_CONNECTION_ADDED) {
		ev->attrs.connection.seniority = c->seniority;
		ev->attrs.connection.same_company = c->same_company;
	}
}

size_t ssi_action_count(void)
{
	return sizeof(candidates) / sizeof(candidates[0]);
}

const char *ssi_action_text(size_t i)
{
	return candidates[i].text;
}

int ssi_action_apply(struct ssi_state *st, const struct ssi_model *m, int64_t now_ms, size_t i)
{
	struct ssi_event ev;

	candidate_event(&candidates[i], st, now_ms, &ev);
	return ssi_state_apply(st, m, &ev);
}

/* Insert into the best-first list; ties keep the candidate table's order. */
static void rank_action(struct ssi_explain *out, const struct ssi_action *a)
{
	int pos = out->nactions;

	while (pos > 0 && out->action[pos - 1].gain < a->gain)
		pos--;
	if (pos >= SSI_EXPLAIN_ACTIONS)
		return;
	if (out->nactions < SSI_EXPLAIN_ACTIONS)
		out->nactions++;
	memmove(&out->action[pos + 1], &out->action[pos],
		(size_t)(out->nactions - 1 - pos) * sizeof(out->action[0]));
	out->action[pos] = *a;
}

enum ssi_pillar ssi_gaining_pillar(const struct ssi_score *before, const struct ssi_score *after)
{
	enum ssi_pillar best = SSI_BRAND;

	for (int p = 1; p < SSI_PILLAR__COUNT; p++)
		if (after->pillar[p] - before->pillar[p] >
		    after->pillar[best] - before->pillar[best])
			best = (enum ssi_pillar)p;
	return best;
}

int ssi_explain(const struct ssi_state *st, const struct ssi_model *m, int64_t now_ms,
		struct ssi_explain *out)
{
	struct ssi_state trial;
	int r = 0;

	memset(out, 0, sizeof(*out));
	ssi_score_vars(st, m, now_ms, out->var, &out->score);
	ssi_state_init(&trial);
	for (size_t i = 0; i < ssi_action_count(); i++) {
		struct ssi_score after;
		struct ssi_action a;

		r = ssi_state_copy(&trial, st);
		if (r < 0)
			goto out;
		r = ssi_action_apply(&trial, m, now_ms, i);
		if (r < 0)
			goto out;
		ssi_score(&trial, m, now_ms, &after);
		a.text = candidates[i].text;
		a.gain = after.total - out->score.total;
		a.pillar = ssi_gaining_pillar(&out->score, &after);
		if (a.gain > 0)
			rank_action(out, &a);
	}
	r = 0;
out:
	ssi_state_clear(&trial);
	return r;
}
