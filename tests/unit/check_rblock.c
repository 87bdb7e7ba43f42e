/*
 * check_rblock.c — the one hiredis error wording of redis/rblock (what every
 * blocking caller reports: the online tier's generations and writer, the
 * materializer's state, featd-cli load): endpoints of TCP, IPv6 and unix
 * contexts, connection failures, timeouts and error replies. No server
 * needed: the contexts are built by hand.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "redis/rblock.h"

static redisContext tcp_ctx(const char *host, int port, int err, const char *errstr)
{
    redisContext c;
    memset(&c, 0, sizeof c);
    c.fd = -1;
    c.connection_type = REDIS_CONN_TCP;
    c.tcp.host = (char *)host;
    c.tcp.port = port;
    c.err = err;
    snprintf(c.errstr, sizeof c.errstr, "%s", errstr);
    return c;
}

START_TEST(test_endpoints)
{
    char ep[128];
    redisContext c = tcp_ctx("127.0.0.1", 6379, 0, "");
    rblock_ctx_endpoint(&c, ep, sizeof ep);
    ck_assert_str_eq(ep, "127.0.0.1:6379");
    c = tcp_ctx("::1", 7000, 0, "");
    rblock_ctx_endpoint(&c, ep, sizeof ep);
    ck_assert_str_eq(ep, "[::1]:7000");
    c.connection_type = REDIS_CONN_UNIX;
    c.unix_sock.path = (char *)"/tmp/r.sock";
    rblock_ctx_endpoint(&c, ep, sizeof ep);
    ck_assert_str_eq(ep, "unix:/tmp/r.sock");
}
END_TEST

START_TEST(test_connection_errors)
{
    char err[256];
    redisContext c = tcp_ctx("10.0.0.1", 6380, REDIS_ERR_EOF, "Server closed the connection");
    rblock_seterr(&c, "GET current", err, sizeof err);
    ck_assert_str_eq(err, "redis 10.0.0.1:6380: GET current: connection closed by redis");
    c = tcp_ctx("10.0.0.1", 6380, REDIS_ERR_IO, strerror(EAGAIN));
    rblock_seterr(&c, "pipeline", err, sizeof err);
    ck_assert_str_eq(err, "redis 10.0.0.1:6380: pipeline: no answer within 0 ms "
                          "(redis.timeout_ms)");
    c = tcp_ctx("10.0.0.1", 6380, REDIS_ERR_IO, "Broken pipe");
    rblock_seterr(&c, "SET", err, sizeof err);
    ck_assert_str_eq(err, "redis 10.0.0.1:6380: SET: Broken pipe");
    rblock_seterr(NULL, "INCR genseq", err, sizeof err);
    ck_assert_str_eq(err, "redis: INCR genseq: no connection");
    /* the command helpers refuse a missing context with the same words */
    ck_assert_ptr_null(rblock_command(NULL, err, sizeof err, "GET current", "GET %s", "k"));
    ck_assert_str_eq(err, "redis: GET current: no connection");
}
END_TEST

START_TEST(test_reply_errors)
{
    char err[600];
    redisContext c = tcp_ctx("h", 1, 0, "");
    char msg[] = "WRONGTYPE Operation against a key holding the wrong kind of value";
    redisReply r = { .type = REDIS_REPLY_ERROR, .str = msg, .len = strlen(msg) };
    rblock_seterr_reply(&c, "upsert", &r, err, sizeof err);
    ck_assert_str_eq(err, "redis h:1: upsert failed: WRONGTYPE Operation against a key holding "
                          "the wrong kind of value");
    redisReply i = { .type = REDIS_REPLY_INTEGER, .integer = 3 };
    rblock_seterr_reply(&c, "SCAN", &i, err, sizeof err);
    ck_assert_str_eq(err, "redis h:1: SCAN failed: unexpected reply type 3");
    /* long error texts are cut at 400 bytes */
    char big[1000];
    memset(big, 'x', sizeof big);
    redisReply b = { .type = REDIS_REPLY_ERROR, .str = big, .len = sizeof big };
    rblock_seterr_reply(&c, "SET", &b, err, sizeof err);
    ck_assert_uint_eq(strlen(err), strlen("redis h:1: SET failed: ") + 400);
}
END_TEST

static Suite *rblock_suite(void)
{
    Suite *s = suite_create("rblock");
    TCase *tc = tcase_create("wording");
    tcase_add_test(tc, test_endpoints);
    tcase_add_test(tc, test_connection_errors);
    tcase_add_test(tc, test_reply_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(rblock_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
