/* ssid_parts: per-partition bookkeeping for rebuilds and model walks. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ssi_array.h"
#include "ssid_parts.h"

void ssid_parts_free(struct ssid_parts *ps)
{
	if (!ps)
		return;
	free(ps->p);
	ps->p = NULL;
	ps->n = 0;
	ps->cap = 0;
}

struct ssid_part *ssid_parts_get(struct ssid_parts *ps, int32_t partition)
{
	if (partition < 0)
		return NULL;
	if ((size_t)partition >= ps->n) {
		size_t n = (size_t)partition + 1;

		if (SSI_GROW(ps->p, &ps->cap, n, 8) < 0)
			return NULL;
		memset(ps->p + ps->n, 0, (n - ps->n) * sizeof(*ps->p));
		ps->n = n;
	}
	return &ps->p[partition];
}

int ssid_parts_assign(struct ssid_parts *ps, int32_t partition)
{
	struct ssid_part *p = ssid_parts_get(ps, partition);

	if (!p)
		return -ENOMEM;
	p->owned = true;
	p->next_fetch = -1;
	p->model_check = true;
	p->walking = false;
	p->cursor = 0;
	return 0;
}

void ssid_parts_revoke(struct ssid_parts *ps, int32_t partition)
{
	struct ssid_part *p =
	    partition >= 0 && (size_t)partition < ps->n ? &ps->p[partition] : NULL;

	if (!p)
		return;
	p->owned = false;
	p->next_fetch = -1;
	p->model_check = false;
	p->walking = false;
	p->replay_until = 0;
}

int ssid_parts_owned(const struct ssid_parts *ps)
{
	int n = 0;

	for (size_t i = 0; i < ps->n; i++)
		n += ps->p[i].owned;
	return n;
}

void ssid_parts_expect(struct ssid_parts *ps, int32_t partition, int64_t next)
{
	struct ssid_part *p = ssid_parts_get(ps, partition);

	if (p)
		p->next_fetch = next >= 0 ? next : -1;
}

int64_t ssid_parts_fetched(struct ssid_parts *ps, int32_t partition, int64_t offset)
{
	struct ssid_part *p;
	int64_t expected;

	if (partition < 0 || (size_t)partition >= ps->n)
		return -1;
	p = &ps->p[partition];
	expected = p->next_fetch;
	p->next_fetch = offset + 1;
	return expected >= 0 && offset > expected ? expected : -1;
}

bool ssid_parts_is_replay(const struct ssid_parts *ps, int32_t partition, int64_t offset)
{
	return partition >= 0 && (size_t)partition < ps->n &&
	       offset < ps->p[partition].replay_until;
}

void ssid_parts_advance(struct ssid_parts *ps, int32_t partition, int64_t offset)
{
	if (partition >= 0 && (size_t)partition < ps->n && offset + 1 > ps->p[partition].position)
		ps->p[partition].position = offset + 1;
}

void ssid_parts_model_changed(struct ssid_parts *ps)
{
	for (size_t i = 0; i < ps->n; i++)
		if (ps->p[i].owned) {
			ps->p[i].model_check = true;
			ps->p[i].walking = false;
			ps->p[i].cursor = 0;
		}
}

bool ssid_parts_rebuild_progress(const struct ssid_parts *ps, struct ssid_rebuild_progress *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < ps->n; i++) {
		const struct ssid_part *p = &ps->p[i];
		int64_t pos;

		if (!p->owned || p->replay_until <= 0)
			continue;
		pos = p->position > p->replay_from ? p->position : p->replay_from;
		if (pos > p->replay_until)
			pos = p->replay_until;
		/* A partition already replayed still counts in what is done. */
		out->done += pos - p->replay_from;
		if (pos >= p->replay_until)
			continue;
		out->partitions++;
		out->left += p->replay_until - pos;
	}
	return out->partitions > 0;
}
