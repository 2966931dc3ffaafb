/*
 * ssid_cluster: key slots (the cluster spec's vectors and values from
 * redis-server's CLUSTER KEYSLOT), slot maps from CLUSTER SHARDS and CLUSTER
 * SLOTS replies (built here, and one as Redis 7.0.15 sent it), malformed
 * replies, redirections and seed lists.
 */
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "ssid_cluster.h"
#include "suites.h"

/* ---- replies built by hand (freeReplyObject frees them) ------------------ */

static redisReply *R(int type)
{
	redisReply *r = calloc(1, sizeof(*r));

	ck_assert_ptr_nonnull(r);
	r->type = type;
	return r;
}

static redisReply *S(const char *s)
{
	redisReply *r = R(REDIS_REPLY_STRING);

	r->str = strdup(s);
	r->len = strlen(s);
	return r;
}

static redisReply *I(long long v)
{
	redisReply *r = R(REDIS_REPLY_INTEGER);

	r->integer = v;
	return r;
}

static redisReply *A(size_t n, ...)
{
	redisReply *r = R(REDIS_REPLY_ARRAY);
	va_list ap;

	r->elements = n;
	r->element = calloc(n ? n : 1, sizeof(*r->element));
	ck_assert_ptr_nonnull(r->element);
	va_start(ap, n);
	for (size_t i = 0; i < n; i++)
		r->element[i] = va_arg(ap, redisReply *);
	va_end(ap);
	return r;
}

/* A CLUSTER SHARDS node as Redis 7 describes it (endpoint NULL: left out). */
static redisReply *node(const char *ip, const char *endpoint, long long port, const char *role,
			const char *health)
{
	if (!endpoint)
		return A(12, S("id"), S("0123"), S("port"), I(port), S("ip"), S(ip), S("role"),
			 S(role), S("replication-offset"), I(0), S("health"), S(health));
	return A(14, S("id"), S("0123"), S("port"), I(port), S("ip"), S(ip), S("endpoint"),
		 S(endpoint), S("role"), S(role), S("replication-offset"), I(0), S("health"),
		 S(health));
}

static redisReply *shard(redisReply *slots, redisReply *nodes)
{
	return A(4, S("slots"), slots, S("nodes"), nodes);
}

static void expect_node(const struct ssid_cluster_map *m, int slot, const char *host, int port)
{
	int i = ssid_cluster_map_lookup(m, slot);

	ck_assert_msg(i >= 0, "slot %d has no node", slot);
	ck_assert_str_eq(m->nodes[i].host, host);
	ck_assert_int_eq(m->nodes[i].port, port);
}

/* ---- slots --------------------------------------------------------------- */

START_TEST (test_crc16_vectors) {
	ck_assert_uint_eq(ssid_cluster_crc16("123456789", 9), 0x31C3);
	ck_assert_uint_eq(ssid_cluster_crc16("", 0), 0);
	/* Values redis-server 7.0.15 answered to CLUSTER KEYSLOT. */
	ck_assert_int_eq(ssid_cluster_keyslot("123456789", 9), 12739);
	ck_assert_int_eq(ssid_cluster_keyslot("foo", 3), 12182);
	ck_assert_int_eq(ssid_cluster_keyslot("bar", 3), 5061);
	ck_assert_int_eq(ssid_cluster_keyslot("user1000", 8), 3443);
	ck_assert_int_eq(ssid_cluster_keyslot("", 0), 0);
}
END_TEST

/* The spec's hash tag rules: the first "{" to the next "}", when not empty. */
START_TEST (test_hash_tags) {
	ck_assert_int_eq(ssid_cluster_keyslot("{user1000}.following", 20), 3443);
	ck_assert_int_eq(ssid_cluster_keyslot("{user1000}.followers", 20), 3443);
	ck_assert_int_eq(ssid_cluster_keyslot("foo{}{bar}", 10), 8363); /* empty tag: whole key */
	ck_assert_int_eq(ssid_cluster_keyslot("foo{{bar}}zap", 13), 4015); /* tag "{bar" */
	ck_assert_int_eq(ssid_cluster_keyslot("foo{bar}{zap}", 13), 5061); /* tag "bar" */
	ck_assert_int_eq(ssid_cluster_keyslot("{}", 2), 15257);
	ck_assert_int_eq(ssid_cluster_keyslot("ssi:u:{rep-1}", 13), 12882);
	ck_assert_int_eq(ssid_cluster_keyslot("rep-1", 5), 12882);
	/* An unclosed tag hashes the whole key; the length bounds the search. */
	ck_assert_int_eq(ssid_cluster_keyslot("foo{bar", 7),
			 ssid_cluster_crc16("foo{bar", 7) & 16383);
	ck_assert_int_eq(ssid_cluster_keyslot("{bar}x", 4), ssid_cluster_crc16("{bar", 4) & 16383);
}
END_TEST

/* ---- maps ---------------------------------------------------------------- */

/* Three shards; replicas and a failed master are passed over. */
START_TEST (test_shards) {
	struct ssid_cluster_map m;
	redisReply *r = A(
	    3,
	    shard(A(2, I(0), I(5460)), A(2, node("10.0.0.2", "10.0.0.2", 7002, "replica", "online"),
					 node("10.0.0.1", "10.0.0.1", 7001, "master", "online"))),
	    shard(A(4, I(5461), I(6000), I(7000), I(10922)),
		  A(2, node("10.0.0.3", "10.0.0.3", 7003, "master", "failed"),
		    node("10.0.0.4", "10.0.0.4", 7004, "master", "online"))),
	    shard(A(2, I(10923), I(16383)),
		  A(1, node("10.0.0.5", NULL, 7005, "master", "online"))));

	ssid_cluster_map_init(&m);
	ck_assert_int_eq(ssid_cluster_map_from_shards(&m, r, "10.0.0.9"), 0);
	expect_node(&m, 0, "10.0.0.1", 7001);
	expect_node(&m, 5460, "10.0.0.1", 7001);
	expect_node(&m, 5461, "10.0.0.4", 7004);
	expect_node(&m, 6000, "10.0.0.4", 7004);
	ck_assert_int_eq(ssid_cluster_map_lookup(&m, 6001), -1); /* not listed: unknown */
	ck_assert_int_eq(ssid_cluster_map_lookup(&m, 6999), -1);
	expect_node(&m, 7000, "10.0.0.4", 7004);
	expect_node(&m, 10922, "10.0.0.4", 7004);
	expect_node(&m, 10923, "10.0.0.5", 7005); /* no endpoint: the ip */
	expect_node(&m, 16383, "10.0.0.5", 7005);
	ck_assert_int_eq(ssid_cluster_map_covered(&m), 16384 - 999);
	ck_assert_int_eq(ssid_cluster_map_lookup(&m, 16384), -EINVAL);
	ck_assert_int_eq(ssid_cluster_map_lookup(&m, -1), -EINVAL);
	/* Only the masters picked are nodes: not the replica, not the failed master. */
	ck_assert_uint_eq(m.n, 3);
	freeReplyObject(r);

	/* A shard whose master died: the replica promoted; node indexes stay. */
	r = A(
	    3,
	    shard(A(2, I(0), I(5460)), A(2, node("10.0.0.1", "10.0.0.1", 7001, "master", "failed"),
					 node("10.0.0.2", "", 7002, "master", "online"))),
	    shard(A(2, I(5461), I(10922)),
		  A(1, node("10.0.0.4", "10.0.0.4", 7004, "master", "online"))),
	    shard(A(2, I(10923), I(16383)), A(1, node("10.0.0.5", "?", 7005, "master", "online"))));
	ck_assert_int_eq(ssid_cluster_map_from_shards(&m, r, "10.0.0.9"), 0);
	expect_node(&m, 0, "10.0.0.9", 7002); /* endpoint "": the node asked */
	expect_node(&m, 6001, "10.0.0.4", 7004);
	ck_assert_int_eq(ssid_cluster_map_lookup(&m, 10923), -1); /* endpoint "?": unknown */
	ck_assert_str_eq(m.nodes[1].host, "10.0.0.4");
	ck_assert_int_eq(ssid_cluster_map_covered(&m), 10923);
	freeReplyObject(r);
	ssid_cluster_map_clear(&m);
	ck_assert_uint_eq(m.n, 0);
	ck_assert_int_eq(ssid_cluster_map_lookup(&m, 0), -1);
}
END_TEST

/* The bytes redis-server 7.0.15 sent for CLUSTER SHARDS and CLUSTER SLOTS, read by hiredis. */
static const char wire_shards[] =
    "*3\r\n*4\r\n$5\r\nslots\r\n*2\r\n:5461\r\n:10922\r\n$5\r\nnodes\r\n*1\r\n*14\r\n$2\r\nid\r\n"
    "$40\r\n74024ebfecb31f8ab136bf57a63bb42b158a8491\r\n$4\r\nport\r\n:27102\r\n$2\r\nip\r\n"
    "$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$6\r\nmaster\r\n"
    "$18\r\nreplication-offset\r\n:0\r\n$6\r\nhealth\r\n$6\r\nonline\r\n*4\r\n$5\r\nslots\r\n"
    "*2\r\n:10923\r\n:16383\r\n$5\r\nnodes\r\n*1\r\n*14\r\n$2\r\nid\r\n$40\r\n"
    "91776d199b3ef1e36d62941eee45e2f1a683af21\r\n$4\r\nport\r\n:27103\r\n$2\r\nip\r\n$9\r\n"
    "127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$18\r\n"
    "replication-offset\r\n:0\r\n$6\r\nhealth\r\n$6\r\nonline\r\n*4\r\n$5\r\nslots\r\n*2\r\n"
    ":0\r\n:5460\r\n$5\r\nnodes\r\n*1\r\n*14\r\n$2\r\nid\r\n$40\r\n"
    "cc7517b9c46a16e1d98cb8ee0057848d7bd07db8\r\n$4\r\nport\r\n:27101\r\n$2\r\nip\r\n$9\r\n"
    "127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$18\r\n"
    "replication-offset\r\n:0\r\n$6\r\nhealth\r\n$6\r\nonline\r\n";
static const char wire_slots[] =
    "*3\r\n*3\r\n:0\r\n:5460\r\n*4\r\n$9\r\n127.0.0.1\r\n:27101\r\n$40\r\n"
    "cc7517b9c46a16e1d98cb8ee0057848d7bd07db8\r\n*0\r\n*3\r\n:5461\r\n:10922\r\n*4\r\n$9\r\n"
    "127.0.0.1\r\n:27102\r\n$40\r\n74024ebfecb31f8ab136bf57a63bb42b158a8491\r\n*0\r\n*3\r\n"
    ":10923\r\n:16383\r\n*4\r\n$9\r\n127.0.0.1\r\n:27103\r\n$40\r\n"
    "91776d199b3ef1e36d62941eee45e2f1a683af21\r\n*0\r\n";

static redisReply *read_wire(const char *bytes)
{
	redisReader *rr = redisReaderCreate();
	void *reply = NULL;

	ck_assert_ptr_nonnull(rr);
	ck_assert_int_eq(redisReaderFeed(rr, bytes, strlen(bytes)), REDIS_OK);
	ck_assert_int_eq(redisReaderGetReply(rr, &reply), REDIS_OK);
	ck_assert_ptr_nonnull(reply);
	redisReaderFree(rr);
	return reply;
}

START_TEST (test_wire_replies) {
	const char *wires[2] = {wire_shards, wire_slots};

	for (int w = 0; w < 2; w++) {
		struct ssid_cluster_map m;
		redisReply *r = read_wire(wires[w]);

		ssid_cluster_map_init(&m);
		ck_assert_int_eq(w == 0 ? ssid_cluster_map_from_shards(&m, r, "x")
					: ssid_cluster_map_from_slots(&m, r, "x"),
				 0);
		expect_node(&m, 0, "127.0.0.1", 27101);
		expect_node(&m, 5460, "127.0.0.1", 27101);
		expect_node(&m, 5461, "127.0.0.1", 27102);
		expect_node(&m, 10922, "127.0.0.1", 27102);
		expect_node(&m, 10923, "127.0.0.1", 27103);
		expect_node(&m, 16383, "127.0.0.1", 27103);
		ck_assert_int_eq(ssid_cluster_map_covered(&m), 16384);
		ck_assert_uint_eq(m.n, 3);
		freeReplyObject(r);
		ssid_cluster_map_clear(&m);
	}
}
END_TEST

START_TEST (test_slots) {
	struct ssid_cluster_map m;
	redisReply *r = A(2, A(4, I(0), I(99), A(3, S("h1"), I(1), S("id")), A(2, S("h9"), I(9))),
			  A(3, I(100), I(16383), A(4, S(""), I(2), S("id"), A(0))));

	ssid_cluster_map_init(&m);
	ck_assert_int_eq(ssid_cluster_map_from_slots(&m, r, "asked"), 0);
	expect_node(&m, 0, "h1", 1);
	expect_node(&m, 99, "h1", 1);
	expect_node(&m, 100, "asked", 2);
	expect_node(&m, 16383, "asked", 2);
	ck_assert_uint_eq(m.n, 2); /* the replica h9 is no node of the map */
	freeReplyObject(r);
	ssid_cluster_map_clear(&m);
}
END_TEST

/* Each malformed reply is -EBADMSG and leaves the map as it was. */
START_TEST (test_malformed) {
	struct ssid_cluster_map m;
	redisReply *good =
	    A(1, shard(A(2, I(0), I(16383)), A(1, node("h", "h", 1, "master", "online"))));
	redisReply *shards[] = {
	    S("ERR unknown command"),
	    A(1, S("x")),
	    A(1, A(2, S("slots"), A(2, I(0), I(1)))),				  /* no nodes */
	    A(1, shard(A(1, I(0)), A(1, node("h", "h", 2, "master", "online")))), /* odd range */
	    A(1, shard(A(2, I(0), I(16384)), A(1, node("h", "h", 2, "master", "online")))),
	    A(1, shard(A(2, I(9), I(8)), A(1, node("h", "h", 2, "master", "online")))),
	    A(1, shard(A(2, I(-1), I(8)), A(1, node("h", "h", 2, "master", "online")))),
	    A(1, shard(A(2, S("0"), I(8)), A(1, node("h", "h", 2, "master", "online")))),
	    A(1, shard(A(2, I(0), I(8)), S("nodes"))),
	    A(1, shard(A(2, I(0), I(8)), A(1, S("node")))),
	    A(1, shard(A(2, I(0), I(8)), A(1, node("h", "h", 0, "master", "online")))),
	    A(1, shard(A(2, I(0), I(8)), A(1, node("h", "h", 65536, "master", "online")))),
	    A(1, shard(A(2, I(0), I(8)), A(1, A(4, S("role"), S("master"), S("port"), S("1"))))),
	    A(1, shard(A(2, I(0), I(8)), A(1, A(2, S("port"), I(1))))), /* no role */
	    A(2, shard(A(2, I(0), I(8)), A(1, node("h", "h", 3, "master", "online"))), I(1)),
	};
	redisReply *slots[] = {
	    I(3),
	    A(1, A(2, I(0), I(1))),
	    A(1, A(3, I(0), I(1), S("h"))),
	    A(1, A(3, I(0), I(1), A(1, S("h")))),
	    A(1, A(3, I(0), I(1), A(2, S("h"), S("1")))),
	    A(1, A(3, I(0), I(16384), A(2, S("h"), I(1)))),
	    A(1, A(3, I(5), I(1), A(2, S("h"), I(1)))),
	    A(1, A(3, I(0), I(1), A(2, I(7), I(1)))),
	    A(1, A(3, I(0), I(1), A(2, S("h"), I(70000)))),
	};

	ssid_cluster_map_init(&m);
	ck_assert_int_eq(ssid_cluster_map_from_shards(&m, NULL, "h"), -EBADMSG);
	ck_assert_int_eq(ssid_cluster_map_from_shards(&m, good, "h"), 0);
	for (size_t i = 0; i < sizeof(shards) / sizeof(shards[0]); i++) {
		ck_assert_msg(ssid_cluster_map_from_shards(&m, shards[i], "h") == -EBADMSG,
			      "shards reply %zu accepted", i);
		ck_assert_int_eq(ssid_cluster_map_covered(&m), 16384);
		expect_node(&m, 9, "h", 1);
		freeReplyObject(shards[i]);
	}
	for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++) {
		ck_assert_msg(ssid_cluster_map_from_slots(&m, slots[i], "h") == -EBADMSG,
			      "slots reply %zu accepted", i);
		ck_assert_int_eq(ssid_cluster_map_covered(&m), 16384);
		expect_node(&m, 16383, "h", 1);
		freeReplyObject(slots[i]);
	}
	freeReplyObject(good);
	ssid_cluster_map_clear(&m);
}
END_TEST

/* ---- redirections -------------------------------------------------------- */

static void expect_redirect(const char *err, int kind, int slot, const char *host, int port)
{
	struct ssid_cluster_redirect rd;

	ck_assert_msg(ssid_cluster_redirect_parse(err, strlen(err), &rd) == kind, "%s", err);
	ck_assert_int_eq(rd.kind, kind);
	ck_assert_int_eq(rd.slot, slot);
	ck_assert_str_eq(rd.host, host);
	ck_assert_int_eq(rd.port, port);
}

START_TEST (test_redirects) {
	struct ssid_cluster_redirect rd;
	const char *bad[] = {"MOVED",
			     "MOVED ",
			     "MOVED 3999",
			     "MOVED 3999 127.0.0.1",
			     "MOVED x 127.0.0.1:1",
			     "MOVED 16384 127.0.0.1:1",
			     "MOVED -1 127.0.0.1:1",
			     "MOVED 1 127.0.0.1:0",
			     "MOVED 1 127.0.0.1:65536",
			     "MOVED 1 127.0.0.1:70x",
			     "MOVED 1 127.0.0.1:",
			     "MOVED 1 a b:1",
			     "ASK 12",
			     "ASK 12 h:"};

	expect_redirect("MOVED 3999 127.0.0.1:6381", SSID_CLUSTER_MOVED, 3999, "127.0.0.1", 6381);
	expect_redirect("ASK 0 redis-a.example:7000", SSID_CLUSTER_ASK, 0, "redis-a.example", 7000);
	expect_redirect("MOVED 16383 ::1:7001", SSID_CLUSTER_MOVED, 16383, "::1", 7001);
	expect_redirect("MOVED 12 :7001", SSID_CLUSTER_MOVED, 12, "", 7001);
	expect_redirect("TRYAGAIN Multiple keys request during rehashing of slot",
			SSID_CLUSTER_TRYAGAIN, -1, "", 0);
	expect_redirect("CLUSTERDOWN The cluster is down", SSID_CLUSTER_CLUSTERDOWN, -1, "", 0);
	expect_redirect("CLUSTERDOWN", SSID_CLUSTER_CLUSTERDOWN, -1, "", 0);
	expect_redirect("ERR wrong number of arguments", SSID_CLUSTER_NOT_REDIRECT, -1, "", 0);
	expect_redirect("MOVEDX 1 h:1", SSID_CLUSTER_NOT_REDIRECT, -1, "", 0);
	expect_redirect("CROSSSLOT Keys in request don't hash to the same slot",
			SSID_CLUSTER_NOT_REDIRECT, -1, "", 0);
	expect_redirect("", SSID_CLUSTER_NOT_REDIRECT, -1, "", 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(ssid_cluster_redirect_parse(bad[i], strlen(bad[i]), &rd) == -EBADMSG,
			      "\"%s\" parsed", bad[i]);
	/* The length bounds the error: "MOVED 1 h:12" cut after the 1 of the port. */
	expect_redirect("MOVED 1 h:12", SSID_CLUSTER_MOVED, 1, "h", 12);
	ck_assert_int_eq(ssid_cluster_redirect_parse("MOVED 1 h:12", 11, &rd), SSID_CLUSTER_MOVED);
	ck_assert_int_eq(rd.port, 1);
}
END_TEST

/* MOVED moves one slot; ASK is not the map's business. */
START_TEST (test_moved_updates_map) {
	struct ssid_cluster_map m;
	struct ssid_cluster_redirect rd;
	redisReply *r =
	    A(1, shard(A(2, I(0), I(16383)), A(1, node("a", "a", 1, "master", "online"))));

	ssid_cluster_map_init(&m);
	ck_assert_int_eq(ssid_cluster_map_from_shards(&m, r, "a"), 0);
	ck_assert_int_eq(ssid_cluster_redirect_parse("MOVED 7 b:2", 11, &rd), SSID_CLUSTER_MOVED);
	ck_assert_int_eq(ssid_cluster_map_moved(&m, &rd, "a"), 0);
	expect_node(&m, 6, "a", 1);
	expect_node(&m, 7, "b", 2);
	expect_node(&m, 8, "a", 1);
	ck_assert_int_eq(ssid_cluster_redirect_parse("MOVED 8 :3", 10, &rd), SSID_CLUSTER_MOVED);
	ck_assert_int_eq(ssid_cluster_map_moved(&m, &rd, "c"), 0);
	expect_node(&m, 8, "c", 3);
	/* Back to a node it knows: the same index. */
	ck_assert_int_eq(ssid_cluster_redirect_parse("MOVED 9 b:2", 11, &rd), SSID_CLUSTER_MOVED);
	ck_assert_int_eq(ssid_cluster_map_moved(&m, &rd, "a"), 0);
	ck_assert_int_eq(ssid_cluster_map_lookup(&m, 9), ssid_cluster_map_lookup(&m, 7));
	ck_assert_uint_eq(m.n, 3);
	rd.slot = 16384;
	ck_assert_int_eq(ssid_cluster_map_moved(&m, &rd, "a"), -EINVAL);
	freeReplyObject(r);
	ssid_cluster_map_clear(&m);
}
END_TEST

START_TEST (test_seeds) {
	struct ssid_cluster_map m;
	char err[128] = "";
	const char *bad[] = {"",     "h",     "h:",	  "h:0",  "h:65536", "h:1,",
			     ",h:1", "h:1,x", "::1:7000", "h:1x", ":1"};

	ssid_cluster_map_init(&m);
	ck_assert_int_eq(ssid_cluster_seeds_parse(&m, "10.0.0.1:7000, redis-b:7001 ,[::1]:7002",
						  err, sizeof(err)),
			 3);
	ck_assert_uint_eq(m.n, 3);
	ck_assert_str_eq(m.nodes[0].host, "10.0.0.1");
	ck_assert_int_eq(m.nodes[0].port, 7000);
	ck_assert_str_eq(m.nodes[1].host, "redis-b");
	ck_assert_int_eq(m.nodes[1].port, 7001);
	ck_assert_str_eq(m.nodes[2].host, "::1");
	ck_assert_int_eq(m.nodes[2].port, 7002);
	ck_assert_int_eq(ssid_cluster_map_covered(&m), 0);
	ssid_cluster_map_clear(&m);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ssid_cluster_map_init(&m);
		ck_assert_msg(ssid_cluster_seeds_parse(&m, bad[i], err, sizeof(err)) == -EINVAL,
			      "\"%s\" parsed", bad[i]);
		ssid_cluster_map_clear(&m);
	}
	ssid_cluster_map_init(&m);
	ck_assert_int_eq(ssid_cluster_seeds_parse(&m, "a:1,b:x", err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "\"b:x\" is not host:port");
	ssid_cluster_map_clear(&m);
}
END_TEST

Suite *cluster_suite(void)
{
	Suite *s = suite_create("cluster");
	TCase *tc = tcase_create("cluster");

	tcase_add_test(tc, test_crc16_vectors);
	tcase_add_test(tc, test_hash_tags);
	tcase_add_test(tc, test_shards);
	tcase_add_test(tc, test_wire_replies);
	tcase_add_test(tc, test_slots);
	tcase_add_test(tc, test_malformed);
	tcase_add_test(tc, test_redirects);
	tcase_add_test(tc, test_moved_updates_map);
	tcase_add_test(tc, test_seeds);
	suite_add_tcase(s, tc);
	return s;
}
