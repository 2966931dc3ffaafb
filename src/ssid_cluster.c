/* ssid_cluster: hash slots, the slot map and redirections; see ssid_cluster.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "ssid_cluster.h"

uint16_t ssid_cluster_crc16(const char *buf, size_t len)
{
	uint16_t crc = 0;

	for (size_t i = 0; i < len; i++) {
		crc ^= (uint16_t)((uint8_t)buf[i] << 8);
		for (int b = 0; b < 8; b++)
			crc =
			    (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
	}
	return crc;
}

int ssid_cluster_keyslot(const char *key, size_t len)
{
	const char *open = memchr(key, '{', len);

	if (open) {
		size_t from = (size_t)(open - key) + 1;
		const char *close = memchr(key + from, '}', len - from);

		if (close && close > key + from)
			return ssid_cluster_crc16(key + from, (size_t)(close - (key + from))) &
			       (SSID_CLUSTER_SLOTS - 1);
	}
	return ssid_cluster_crc16(key, len) & (SSID_CLUSTER_SLOTS - 1);
}

void ssid_cluster_map_init(struct ssid_cluster_map *m)
{
	m->nodes = NULL;
	m->n = m->cap = 0;
	for (int s = 0; s < SSID_CLUSTER_SLOTS; s++)
		m->slot[s] = -1;
}

void ssid_cluster_map_clear(struct ssid_cluster_map *m)
{
	free(m->nodes);
	ssid_cluster_map_init(m);
}

int ssid_cluster_map_node(struct ssid_cluster_map *m, const char *host, size_t hostlen, int port)
{
	if (hostlen == 0 || hostlen >= SSID_CLUSTER_HOST_MAX || memchr(host, '\0', hostlen) ||
	    port < 1 || port > 65535)
		return -EINVAL;
	for (size_t i = 0; i < m->n; i++)
		if (m->nodes[i].port == port && strlen(m->nodes[i].host) == hostlen &&
		    memcmp(m->nodes[i].host, host, hostlen) == 0)
			return (int)i;
	if (m->n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 8;
		struct ssid_cluster_node *p = realloc(m->nodes, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		m->nodes = p;
		m->cap = cap;
	}
	memcpy(m->nodes[m->n].host, host, hostlen);
	m->nodes[m->n].host[hostlen] = '\0';
	m->nodes[m->n].port = port;
	return (int)m->n++;
}

int ssid_cluster_map_lookup(const struct ssid_cluster_map *m, int slot)
{
	if (slot < 0 || slot >= SSID_CLUSTER_SLOTS)
		return -EINVAL;
	return m->slot[slot];
}

int ssid_cluster_map_covered(const struct ssid_cluster_map *m)
{
	int n = 0;

	for (int s = 0; s < SSID_CLUSTER_SLOTS; s++)
		n += m->slot[s] >= 0;
	return n;
}

/* ---- replies ------------------------------------------------------------- */

static bool is_str(const redisReply *r)
{
	return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

static bool str_eq(const redisReply *r, const char *s)
{
	return is_str(r) && r->len == strlen(s) && memcmp(r->str, s, r->len) == 0;
}

/* The value of field name in a flat [name value name value ...] array, or NULL. */
static const redisReply *field(const redisReply *r, const char *name)
{
	for (size_t i = 0; i + 1 < r->elements; i += 2)
		if (str_eq(r->element[i], name))
			return r->element[i + 1];
	return NULL;
}

static bool is_slot(const redisReply *r)
{
	return r && r->type == REDIS_REPLY_INTEGER && r->integer >= 0 &&
	       r->integer < SSID_CLUSTER_SLOTS;
}

/*
 * The node index of an address reply and a port: -1 for an unknown endpoint
 * (NULL or "?"), asked_host for "", -EBADMSG when malformed, -ENOMEM.
 */
static int node_of(struct ssid_cluster_map *m, const redisReply *addr, long long port,
		   const char *asked_host)
{
	int rc;

	if (!addr || addr->type == REDIS_REPLY_NIL || str_eq(addr, "?"))
		return -1;
	if (!is_str(addr) || port < 1 || port > 65535)
		return -EBADMSG;
	if (addr->len == 0)
		rc = ssid_cluster_map_node(m, asked_host, strlen(asked_host), (int)port);
	else
		rc = ssid_cluster_map_node(m, addr->str, addr->len, (int)port);
	return rc == -EINVAL ? -EBADMSG : rc;
}

/* Assign [from, to] to node in slots; -EBADMSG when out of order. */
static int assign(int32_t *slots, const redisReply *from, const redisReply *to, int node)
{
	if (!is_slot(from) || !is_slot(to) || from->integer > to->integer)
		return -EBADMSG;
	for (long long s = from->integer; s <= to->integer; s++)
		slots[s] = node;
	return 0;
}

/* The master of a CLUSTER SHARDS shard's "nodes": online first. */
static int shard_master(struct ssid_cluster_map *m, const redisReply *nodes, const char *asked_host,
			int *out)
{
	const redisReply *pick = NULL;

	if (nodes->type != REDIS_REPLY_ARRAY)
		return -EBADMSG;
	for (size_t i = 0; i < nodes->elements; i++) {
		const redisReply *nd = nodes->element[i];
		const redisReply *role;

		if (!nd || nd->type != REDIS_REPLY_ARRAY)
			return -EBADMSG;
		role = field(nd, "role");
		if (!is_str(role))
			return -EBADMSG;
		if (!str_eq(role, "master"))
			continue;
		if (!pick || (str_eq(field(nd, "health"), "online") &&
			      !str_eq(field(pick, "health"), "online")))
			pick = nd;
	}
	*out = -1;
	if (pick) {
		const redisReply *port = field(pick, "port");
		const redisReply *addr = field(pick, "endpoint");

		if (!addr)
			addr = field(pick, "ip");
		if (!port || port->type != REDIS_REPLY_INTEGER)
			return -EBADMSG;
		*out = node_of(m, addr, port->integer, asked_host);
		if (*out < -1)
			return *out;
	}
	return 0;
}

/* A slot table being filled: every slot unassigned (-1). NULL: out of memory. */
static int32_t *unassigned_slots(void)
{
	int32_t *slots = malloc(SSID_CLUSTER_SLOTS * sizeof(*slots));

	for (int s = 0; slots && s < SSID_CLUSTER_SLOTS; s++)
		slots[s] = -1;
	return slots;
}

int ssid_cluster_map_from_shards(struct ssid_cluster_map *m, const redisReply *r,
				 const char *asked_host)
{
	int32_t *slots;
	int rc = 0;

	if (!r || r->type != REDIS_REPLY_ARRAY)
		return -EBADMSG;
	slots = unassigned_slots();
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < r->elements && rc == 0; i++) {
		const redisReply *shard = r->element[i], *ranges, *nodes;
		int node;

		if (!shard || shard->type != REDIS_REPLY_ARRAY) {
			rc = -EBADMSG;
			break;
		}
		ranges = field(shard, "slots");
		nodes = field(shard, "nodes");
		if (!ranges || !nodes || ranges->type != REDIS_REPLY_ARRAY ||
		    ranges->elements % 2 != 0) {
			rc = -EBADMSG;
			break;
		}
		rc = shard_master(m, nodes, asked_host, &node);
		for (size_t k = 0; k + 1 < ranges->elements && rc == 0; k += 2)
			rc = assign(slots, ranges->element[k], ranges->element[k + 1], node);
	}
	if (rc == 0)
		memcpy(m->slot, slots, sizeof(m->slot));
	free(slots);
	return rc;
}

int ssid_cluster_map_from_slots(struct ssid_cluster_map *m, const redisReply *r,
				const char *asked_host)
{
	int32_t *slots;
	int rc = 0;

	if (!r || r->type != REDIS_REPLY_ARRAY)
		return -EBADMSG;
	slots = unassigned_slots();
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < r->elements && rc == 0; i++) {
		const redisReply *range = r->element[i], *master;
		int node;

		if (!range || range->type != REDIS_REPLY_ARRAY || range->elements < 3 ||
		    !(master = range->element[2]) || master->type != REDIS_REPLY_ARRAY ||
		    master->elements < 2 || master->element[1]->type != REDIS_REPLY_INTEGER) {
			rc = -EBADMSG;
			break;
		}
		node = node_of(m, master->element[0], master->element[1]->integer, asked_host);
		if (node < -1)
			rc = node;
		else
			rc = assign(slots, range->element[0], range->element[1], node);
	}
	if (rc == 0)
		memcpy(m->slot, slots, sizeof(m->slot));
	free(slots);
	return rc;
}

/* ---- redirections -------------------------------------------------------- */

static bool starts(const char *s, size_t len, const char *word)
{
	size_t n = strlen(word);

	return len >= n && memcmp(s, word, n) == 0 && (len == n || s[n] == ' ');
}

/* A decimal in [min, max] spanning s[0, len) exactly; -1 otherwise. */
static long decimal(const char *s, size_t len, long min, long max)
{
	long v = 0;

	if (len == 0 || len > 6)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v >= min && v <= max ? v : -1;
}

/* "<slot> <host>:<port>" after MOVED or ASK; the host may hold colons (IPv6). */
static int parse_target(const char *s, size_t len, struct ssid_cluster_redirect *out)
{
	const char *sp = memchr(s, ' ', len), *colon = NULL;
	long slot, port;
	size_t hostlen;

	if (!sp)
		return -EBADMSG;
	slot = decimal(s, (size_t)(sp - s), 0, SSID_CLUSTER_SLOTS - 1);
	for (const char *p = sp + 1; p < s + len; p++)
		if (*p == ':')
			colon = p;
	if (slot < 0 || !colon)
		return -EBADMSG;
	port = decimal(colon + 1, (size_t)(s + len - colon - 1), 1, 65535);
	hostlen = (size_t)(colon - sp - 1);
	if (port < 0 || hostlen >= sizeof(out->host) || memchr(sp + 1, ' ', hostlen))
		return -EBADMSG;
	out->slot = (int)slot;
	out->port = (int)port;
	memcpy(out->host, sp + 1, hostlen);
	out->host[hostlen] = '\0';
	return 0;
}

int ssid_cluster_redirect_parse(const char *err, size_t len, struct ssid_cluster_redirect *out)
{
	memset(out, 0, sizeof(*out));
	out->slot = -1;
	if (starts(err, len, "MOVED") || starts(err, len, "ASK")) {
		size_t skip = err[0] == 'M' ? 6 : 4;
		int rc;

		if (len <= skip)
			return -EBADMSG;
		rc = parse_target(err + skip, len - skip, out);
		if (rc < 0)
			return rc;
		out->kind = err[0] == 'M' ? SSID_CLUSTER_MOVED : SSID_CLUSTER_ASK;
	} else if (starts(err, len, "TRYAGAIN")) {
		out->kind = SSID_CLUSTER_TRYAGAIN;
	} else if (starts(err, len, "CLUSTERDOWN")) {
		out->kind = SSID_CLUSTER_CLUSTERDOWN;
	}
	return (int)out->kind;
}

int ssid_cluster_map_moved(struct ssid_cluster_map *m, const struct ssid_cluster_redirect *rd,
			   const char *default_host)
{
	const char *host = rd->host[0] ? rd->host : default_host;
	int node;

	if (rd->slot < 0 || rd->slot >= SSID_CLUSTER_SLOTS)
		return -EINVAL;
	node = ssid_cluster_map_node(m, host, strlen(host), rd->port);
	if (node < 0)
		return node;
	m->slot[rd->slot] = node;
	return 0;
}

/* ---- seed nodes ---------------------------------------------------------- */

static int seed_item(struct ssid_cluster_map *m, const char *s, size_t len)
{
	const char *colon;
	long port;

	while (len > 0 && (*s == ' ' || *s == '\t'))
		s++, len--;
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	colon = len ? memrchr(s, ':', len) : NULL;
	if (!colon)
		return -EINVAL;
	port = decimal(colon + 1, (size_t)(s + len - colon - 1), 1, 65535);
	len = (size_t)(colon - s);
	if (len >= 2 && s[0] == '[' && s[len - 1] == ']')
		s++, len -= 2;
	else if (memchr(s, ':', len))
		return -EINVAL; /* an IPv6 address needs its brackets */
	if (port < 0)
		return -EINVAL;
	return ssid_cluster_map_node(m, s, len, (int)port);
}

int ssid_cluster_seeds_parse(struct ssid_cluster_map *m, const char *list, char *err, size_t errlen)
{
	int n = 0;

	for (const char *at = list;; n++) {
		const char *comma = strchr(at, ',');
		size_t len = comma ? (size_t)(comma - at) : strlen(at);
		int rc = seed_item(m, at, len);

		if (rc == -ENOMEM)
			return rc;
		if (rc < 0) {
			if (err)
				snprintf(err, errlen, "\"%.*s\" is not host:port", (int)len, at);
			return -EINVAL;
		}
		if (!comma)
			return n + 1;
		at = comma + 1;
	}
}
