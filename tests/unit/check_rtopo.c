/*
 * check_rtopo.c — the topology map (redis/rtopo): CLUSTER SLOTS replies
 * (fed as RESP text through the hiredis reader) well-formed, with unknown
 * endpoints, and malformed; slot -> node routing with replicas; MOVED/ASK
 * parsing (IPv4, IPv6 with and without brackets, empty host, junk); which
 * errors are retryable.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis/rtopo.h"

static struct rtopo T;   /* large: not on the stack */

/* The reply tree of RESP text[0..len) (complete, one reply). */
static redisReply *resp_n(const char *text, size_t len)
{
    redisReader *r = redisReaderCreate();
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(redisReaderFeed(r, text, len), REDIS_OK);
    void *reply = NULL;
    ck_assert_int_eq(redisReaderGetReply(r, &reply), REDIS_OK);
    ck_assert_msg(reply != NULL, "incomplete RESP sample");
    redisReaderFree(r);
    return reply;
}

static redisReply *resp(const char *text)
{
    return resp_n(text, strlen(text));
}

static void node_text(char *buf, size_t cap, const char *host, int port, const char *id)
{
    char h[300];
    if (host == NULL) {
        snprintf(h, sizeof h, "$-1\r\n");
    } else {
        snprintf(h, sizeof h, "$%zu\r\n%s\r\n", strlen(host), host);
    }
    if (id != NULL) {
        snprintf(buf, cap, "*3\r\n%s:%d\r\n$%zu\r\n%s\r\n", h, port, strlen(id), id);
    } else {
        snprintf(buf, cap, "*2\r\n%s:%d\r\n", h, port);
    }
}

/* A 3-master/3-replica map like redis-cli --cluster create builds. */
static const char *three_by_one(void)
{
    static char text[4096];
    char m[3][400], r[3][400];
    int ports[6] = { 7000, 7001, 7002, 7003, 7004, 7005 };
    for (int i = 0; i < 3; i++) {
        char id[48];
        snprintf(id, sizeof id, "%040d", i + 1);
        node_text(m[i], sizeof m[i], "127.0.0.1", ports[i], id);
        snprintf(id, sizeof id, "%040d", i + 4);
        node_text(r[i], sizeof r[i], "127.0.0.1", ports[i + 3], id);
    }
    snprintf(text, sizeof text,
             "*3\r\n"
             "*4\r\n:0\r\n:5460\r\n%s%s"
             "*4\r\n:5461\r\n:10922\r\n%s%s"
             "*4\r\n:10923\r\n:16383\r\n%s%s",
             m[0], r[0], m[1], r[1], m[2], r[2]);
    return text;
}

START_TEST(test_parse_full)
{
    char err[256] = "";
    redisReply *r = resp(three_by_one());
    ck_assert_int_eq(rtopo_parse_slots(&T, r, err, sizeof err), FEATD_OK);
    freeReplyObject(r);
    ck_assert(T.cluster);
    ck_assert_uint_eq(T.nnodes, 6);
    ck_assert_uint_eq(T.nmasters, 3);
    for (unsigned s = 0; s < RSLOT_COUNT; s++) {
        ck_assert_int_ge(T.slot_master[s], 0);
    }
    int m0 = rtopo_find(&T, "127.0.0.1", 7000), r0 = rtopo_find(&T, "127.0.0.1", 7003);
    int m2 = rtopo_find(&T, "127.0.0.1", 7002);
    ck_assert_int_ge(m0, 0);
    ck_assert_int_ge(r0, 0);
    ck_assert_int_eq(T.nodes[m0].master, -1);
    ck_assert_int_eq(T.nodes[r0].master, m0);
    ck_assert_str_eq(T.nodes[m0].id, "0000000000000000000000000000000000000001");
    ck_assert_int_eq(rtopo_find(&T, "127.0.0.1", 6999), -1);
    ck_assert_int_eq(rtopo_find(&T, "127.0.0.2", 7000), -1);
    /* routing */
    ck_assert_int_eq(rtopo_node_for_slot(&T, 0, false, 0), m0);
    ck_assert_int_eq(rtopo_node_for_slot(&T, 5460, false, 0), m0);
    ck_assert_int_eq(rtopo_node_for_slot(&T, 16383, false, 0), m2);
    ck_assert_int_eq(rtopo_node_for_slot(&T, 5460, true, 0), r0);
    ck_assert_int_eq(rtopo_node_for_slot(&T, 5460, true, 7), r0);
    ck_assert_int_eq(rtopo_node_for_slot(&T, RSLOT_COUNT, false, 0), -1);
}
END_TEST

START_TEST(test_parse_shapes)
{
    char err[256] = "";
    /* split ranges of one master, two replicas, a master without replicas,
     * Redis 7's 4th element (metadata map, here an empty array), uncovered slots */
    redisReply *r = resp("*3\r\n"
                         "*5\r\n:0\r\n:99\r\n*2\r\n$2\r\nh1\r\n:1\r\n"
                         "*4\r\n$2\r\nh2\r\n:2\r\n$3\r\nid2\r\n*0\r\n*2\r\n$2\r\nh3\r\n:3\r\n"
                         "*3\r\n:200\r\n:200\r\n*2\r\n$2\r\nh1\r\n:1\r\n"
                         "*3\r\n:300\r\n:16383\r\n*2\r\n$5\r\nh4:v6\r\n:4\r\n");
    ck_assert_int_eq(rtopo_parse_slots(&T, r, err, sizeof err), FEATD_OK);
    freeReplyObject(r);
    ck_assert_uint_eq(T.nnodes, 4);
    ck_assert_uint_eq(T.nmasters, 2);
    int h1 = rtopo_find(&T, "h1", 1), h2 = rtopo_find(&T, "h2", 2), h3 = rtopo_find(&T, "h3", 3);
    ck_assert_int_eq(T.slot_master[200], h1);
    ck_assert_int_eq(T.slot_master[100], -1);
    ck_assert_int_eq(rtopo_node_for_slot(&T, 150, false, 0), -1);
    ck_assert_int_eq(rtopo_node_for_slot(&T, 16000, true, 3), rtopo_find(&T, "h4:v6", 4));
    /* round robin over the two replicas */
    ck_assert_int_eq(rtopo_node_for_slot(&T, 5, true, 0), h2);
    ck_assert_int_eq(rtopo_node_for_slot(&T, 5, true, 1), h3);
    ck_assert_int_eq(rtopo_node_for_slot(&T, 5, true, 2), h2);
    ck_assert_str_eq(T.nodes[h2].id, "id2");
    ck_assert_str_eq(T.nodes[h1].id, "");
    /* an empty map (a cluster being set up) parses: nothing owned */
    r = resp("*0\r\n");
    ck_assert_int_eq(rtopo_parse_slots(&T, r, err, sizeof err), FEATD_OK);
    freeReplyObject(r);
    ck_assert_uint_eq(T.nnodes, 0);
    ck_assert_int_eq(rtopo_node_for_slot(&T, 0, false, 0), -1);
}
END_TEST

START_TEST(test_unknown_endpoint)
{
    char err[256] = "";
    const char *text = "*1\r\n*4\r\n:0\r\n:16383\r\n*2\r\n$-1\r\n:7000\r\n"
                       "*2\r\n$0\r\n\r\n:7001\r\n";
    redisReply *r = resp(text);
    ck_assert_int_eq(rtopo_parse_slots_via(&T, r, "10.1.2.3", err, sizeof err), FEATD_OK);
    ck_assert_int_ge(rtopo_find(&T, "10.1.2.3", 7000), 0);
    ck_assert_int_ge(rtopo_find(&T, "10.1.2.3", 7001), 0);
    ck_assert_int_eq(rtopo_parse_slots(&T, r, err, sizeof err), FEATD_OK);
    ck_assert_int_eq(rtopo_find(&T, "", 7000), T.slot_master[0]);
    freeReplyObject(r);
    r = resp("*1\r\n*3\r\n:0\r\n:16383\r\n*2\r\n$1\r\n?\r\n:7000\r\n");
    ck_assert_int_eq(rtopo_parse_slots_via(&T, r, "::1", err, sizeof err), FEATD_OK);
    ck_assert_int_eq(rtopo_find(&T, "::1", 7000), 0);
    freeReplyObject(r);
}
END_TEST

/* Each malformed reply fails with a message holding want, and leaves T empty. */
static void bad(const char *text, const char *want)
{
    char err[256] = "";
    redisReply *r = resp(text);
    ck_assert_int_eq(rtopo_parse_slots(&T, r, err, sizeof err), FEATD_ERR);
    freeReplyObject(r);
    ck_assert_msg(strstr(err, want) != NULL, "error \"%s\" lacks \"%s\"", err, want);
    ck_assert_uint_eq(T.nnodes, 0);
    ck_assert_int_eq(T.slot_master[0], -1);
    ck_assert_int_eq(T.slot_master[RSLOT_COUNT - 1], -1);
}

START_TEST(test_parse_malformed)
{
    char err[256] = "";
    ck_assert_int_eq(rtopo_parse_slots(&T, NULL, err, sizeof err), FEATD_ERR);
    ck_assert_str_eq(err, "CLUSTER SLOTS: no reply");
    bad("-ERR This instance has cluster support disabled\r\n",
        "CLUSTER SLOTS failed: ERR This instance has cluster support disabled");
    bad("+OK\r\n", "not an array");
    bad("*1\r\n:5\r\n", "range 0 is not [start, end, master");
    bad("*1\r\n*2\r\n:0\r\n:5\r\n", "range 0 is not");
    bad("*1\r\n*3\r\n$1\r\n0\r\n:5\r\n*2\r\n$1\r\nh\r\n:1\r\n", "range 0 is not");
    bad("*1\r\n*3\r\n:0\r\n:16384\r\n*2\r\n$1\r\nh\r\n:1\r\n", "slots 0-16384 out of 0-16383");
    bad("*1\r\n*3\r\n:-1\r\n:5\r\n*2\r\n$1\r\nh\r\n:1\r\n", "out of");
    bad("*1\r\n*3\r\n:9\r\n:5\r\n*2\r\n$1\r\nh\r\n:1\r\n", "slots 9-5");
    bad("*1\r\n*3\r\n:0\r\n:5\r\n$1\r\nh\r\n", "range 0: a node entry is not [host, port");
    bad("*1\r\n*3\r\n:0\r\n:5\r\n*1\r\n$1\r\nh\r\n", "a node entry is not");
    bad("*1\r\n*3\r\n:0\r\n:5\r\n*2\r\n$1\r\nh\r\n$4\r\n7000\r\n", "node h has no valid port");
    bad("*1\r\n*3\r\n:0\r\n:5\r\n*2\r\n$1\r\nh\r\n:0\r\n", "no valid port");
    bad("*1\r\n*3\r\n:0\r\n:5\r\n*2\r\n$1\r\nh\r\n:65536\r\n", "no valid port");
    bad("*1\r\n*3\r\n:0\r\n:5\r\n*2\r\n:1\r\n:7000\r\n", "node host has reply type");
    /* a host holding a NUL */
    static const char nul_host[] = "*1\r\n*3\r\n:0\r\n:5\r\n*2\r\n$3\r\na\0b\r\n:7000\r\n";
    redisReply *r = resp_n(nul_host, sizeof nul_host - 1);
    ck_assert_int_eq(rtopo_parse_slots(&T, r, err, sizeof err), FEATD_ERR);
    freeReplyObject(r);
    ck_assert_ptr_nonnull(strstr(err, "node host of 3 bytes is not a host"));
    /* a good range, then a replica entry that is broken */
    bad("*1\r\n*4\r\n:0\r\n:5\r\n*2\r\n$1\r\nh\r\n:1\r\n*2\r\n$1\r\nh\r\n:-3\r\n", "no valid port");
    /* overlapping ranges owned by two masters */
    bad("*2\r\n*3\r\n:0\r\n:10\r\n*2\r\n$1\r\na\r\n:1\r\n*3\r\n:10\r\n:20\r\n*2\r\n$1\r\nb\r\n:1\r\n",
        "slot 10 is in two ranges");
}
END_TEST

START_TEST(test_too_many_nodes)
{
    /* RTOPO_MAX_NODES + 1 one-slot ranges, each its own master */
    size_t cap = (RTOPO_MAX_NODES + 1) * 64 + 16;
    char *text = malloc(cap);
    size_t off = (size_t)snprintf(text, cap, "*%d\r\n", RTOPO_MAX_NODES + 1);
    for (int i = 0; i <= RTOPO_MAX_NODES; i++) {
        off += (size_t)snprintf(text + off, cap - off, "*3\r\n:%d\r\n:%d\r\n*2\r\n$1\r\nh\r\n:%d\r\n",
                                i, i, 1000 + i);
    }
    bad(text, "more than 256 nodes");
    free(text);
}
END_TEST

START_TEST(test_single)
{
    rtopo_single(&T, "10.0.0.1", 6379);
    ck_assert(!T.cluster);
    ck_assert_uint_eq(T.nnodes, 1);
    ck_assert_uint_eq(T.nmasters, 1);
    ck_assert_int_eq(rtopo_node_for_slot(&T, 0, false, 0), 0);
    ck_assert_int_eq(rtopo_node_for_slot(&T, 16383, true, 5), 0);
    ck_assert_int_eq(rtopo_find(&T, "10.0.0.1", 6379), 0);
    rtopo_single(&T, "/run/redis.sock", 0);
    ck_assert_str_eq(T.nodes[0].host, "/run/redis.sock");
    ck_assert_int_eq(T.nodes[0].port, 0);
    rtopo_single(&T, NULL, 0);
    ck_assert_str_eq(T.nodes[0].host, "");
}
END_TEST

static enum rtopo_redirect redir(const char *s, unsigned *slot, char *host, int *port)
{
    return rtopo_parse_redirect(s, strlen(s), slot, host, RTOPO_HOST_MAX, port);
}

START_TEST(test_redirects)
{
    unsigned slot = 0;
    char host[RTOPO_HOST_MAX];
    int port = 0;
    ck_assert_int_eq(redir("MOVED 3999 127.0.0.1:6381", &slot, host, &port), RTOPO_MOVED);
    ck_assert_uint_eq(slot, 3999);
    ck_assert_str_eq(host, "127.0.0.1");
    ck_assert_int_eq(port, 6381);
    ck_assert_int_eq(redir("ASK 16383 [::1]:6382", &slot, host, &port), RTOPO_ASK);
    ck_assert_uint_eq(slot, 16383);
    ck_assert_str_eq(host, "::1");
    ck_assert_int_eq(port, 6382);
    ck_assert_int_eq(redir("MOVED 0 fe80::1:2:7000", &slot, host, &port), RTOPO_MOVED);
    ck_assert_str_eq(host, "fe80::1:2");
    ck_assert_int_eq(port, 7000);
    ck_assert_int_eq(redir("MOVED 1 :6380", &slot, host, &port), RTOPO_MOVED);
    ck_assert_str_eq(host, "");
    ck_assert_int_eq(port, 6380);
    ck_assert_int_eq(redir("ASK 12 redis-3.svc.local:7001", &slot, host, &port), RTOPO_ASK);
    ck_assert_str_eq(host, "redis-3.svc.local");
    /* the length bounds the text: a longer buffer is not read past len */
    ck_assert_int_eq(rtopo_parse_redirect("MOVED 5 h:70009", 14, &slot, host, sizeof host, &port),
                     RTOPO_MOVED);
    ck_assert_int_eq(port, 7000);
    /* not redirects, or malformed ones */
    const char *junk[] = {
        "ERR unknown command", "MOVED", "MOVED ", "MOVED 3999", "MOVED 3999 ", "MOVED x 1.2.3.4:5",
        "MOVED 16384 h:1", "MOVED -1 h:1", "MOVED 3999 h", "MOVED 3999 h:", "MOVED 3999 h:0",
        "MOVED 3999 h:65536", "MOVED 3999 h:12x", "MOVED  3999 h:1", "ASK 1 a b:1",
        "MOVED 99999999999 h:1", "moved 1 h:1", "ASKING", "TRYAGAIN Multiple keys",
        "CLUSTERDOWN The cluster is down",
    };
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        ck_assert_msg(redir(junk[i], &slot, host, &port) == RTOPO_NOT_REDIRECT, "%s", junk[i]);
    }
    /* a host that does not fit hostcap */
    char small[4];
    ck_assert_int_eq(rtopo_parse_redirect("MOVED 1 abcd:1", 14, &slot, small, sizeof small, &port),
                     RTOPO_NOT_REDIRECT);
    ck_assert_int_eq(rtopo_parse_redirect("MOVED 1 abc:1", 13, &slot, small, sizeof small, &port),
                     RTOPO_MOVED);
    ck_assert_str_eq(small, "abc");
}
END_TEST

START_TEST(test_retryable)
{
    const char *yes[] = { "TRYAGAIN Multiple keys request during rehashing of slot", "TRYAGAIN",
                          "LOADING Redis is loading the dataset in memory" };
    const char *no[] = { "CLUSTERDOWN The cluster is down", "MOVED 1 h:1", "ASK 1 h:1",
                         "ERR wrong", "TRYAGAINX", "LOADINGS x", "", "LOAD" };
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        ck_assert_msg(rtopo_retryable_error(yes[i], strlen(yes[i])), "%s", yes[i]);
    }
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        ck_assert_msg(!rtopo_retryable_error(no[i], strlen(no[i])), "%s", no[i]);
    }
}
END_TEST

static Suite *rtopo_suite(void)
{
    Suite *s = suite_create("rtopo");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_parse_full);
    tcase_add_test(tc, test_parse_shapes);
    tcase_add_test(tc, test_unknown_endpoint);
    tcase_add_test(tc, test_parse_malformed);
    tcase_add_test(tc, test_too_many_nodes);
    tcase_add_test(tc, test_single);
    tcase_add_test(tc, test_redirects);
    tcase_add_test(tc, test_retryable);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(rtopo_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
