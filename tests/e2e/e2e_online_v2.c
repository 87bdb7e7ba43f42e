/*
 * e2e_online_v2.c — layout v2's generation allocator against a real
 * redis-server: generation numbers are unique across views (one genseq per
 * key prefix) and never handed out twice, even when the sequence key is
 * lost (DEL, FLUSHALL): entity hashes hold the fields of every view, so a
 * reused number would mix two views' rows in one field and let a reclaim of
 * one delete the other's live rows. Kept apart from e2e_online.c so that the
 * allocator's verdict shows on its own. Each test gets a fresh redis-server.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "core/util.h"
#include "harness.h"
#include "online/online.h"

static struct h_redis R;

static void setup(void)
{
    h_redis_start(&R);
}

static void teardown(void)
{
    h_redis_stop(&R);
}

static struct cfg_join_key keys[] = { { "customer_id", FT_INT64 } };
static struct cfg_feature feats[] = { { "revenue", FT_DOUBLE, "revenue", { 0 } } };

static struct cfg_view make_view(const char *name, uint64_t fp)
{
    struct cfg_view v;
    memset(&v, 0, sizeof(v));
    v.name = (char *)name;
    v.keys = keys;
    v.nkeys = 1;
    v.features = feats;
    v.nfeatures = FEATD_ARRAY_LEN(feats);
    v.fingerprint = fp;
    snprintf(v.fingerprint_hex, sizeof(v.fingerprint_hex), "%016llx", (unsigned long long)fp);
    return v;
}

static redisContext *connect_redis(void)
{
    struct timeval tv = { 2, 0 };
    redisContext *c = redisConnectWithTimeout("127.0.0.1", R.port, tv);
    ck_assert_ptr_nonnull(c);
    ck_assert_msg(!c->err, "connect: %s", c->errstr);
    ck_assert_int_eq(redisSetTimeout(c, tv), REDIS_OK);
    return c;
}

static uint64_t alloc_gen(redisContext *c, const struct cfg_view *v)
{
    char err[256] = "";
    uint64_t gen = 0;
    ck_assert_msg(online_gen_alloc(c, "featd", v, &gen, err, sizeof(err)) == FEATD_OK,
                  "alloc: %s", err);
    ck_assert_uint_ne(gen, 0);
    return gen;
}

/* Runs a command whose reply is not looked at beyond being no error. */
static void run(redisContext *c, const char *fmt, const char *arg, size_t arglen)
{
    redisReply *r = arg ? redisCommand(c, fmt, arg, arglen) : redisCommand(c, fmt);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_ne(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
}

/* Sleeps until just past the start of the next second by Redis's clock, so
 * that what follows (well under a second) runs within one second. */
static void align_to_second(redisContext *c)
{
    redisReply *r = redisCommand(c, "TIME");
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
    long usec = atol(r->element[1]->str);
    freeReplyObject(r);
    usleep((useconds_t)(1000000 - usec + 20000));
}

static void del_genseq(redisContext *c)
{
    struct fbuf k = { 0 };
    ck_assert_int_eq(online_key_genseq(&k, "featd"), FEATD_OK);
    run(c, "DEL %b", k.data, k.len);
    fbuf_free(&k);
}

START_TEST(test_gen_unique_across_views)
{
    struct cfg_view va = make_view("va", 0xaULL), vb = make_view("vb", 0xbULL);
    redisContext *c = connect_redis();
    uint64_t prev = 0;
    for (int i = 0; i < 20; i++) {
        uint64_t g = alloc_gen(c, i % 3 ? &va : &vb);
        ck_assert_uint_gt(g, prev);   /* one sequence for every view */
        prev = g;
    }
    redisFree(c);
}
END_TEST

START_TEST(test_gen_not_reused_after_genseq_del)
{
    struct cfg_view v = make_view("seq", 0x5eULL);
    redisContext *c = connect_redis();
    /* the sequence key lost right after an allocation, within one second */
    align_to_second(c);
    uint64_t g1 = alloc_gen(c, &v);
    del_genseq(c);
    uint64_t g2 = alloc_gen(c, &v);
    ck_assert_msg(g2 > g1, "after DEL genseq: generation %llu handed out after %llu",
                  (unsigned long long)g2, (unsigned long long)g1);
    /* and after several allocations in a row (the sequence runs ahead of
     * the clock) */
    uint64_t last = g2;
    for (int i = 0; i < 3; i++) {
        uint64_t g = alloc_gen(c, &v);
        ck_assert_uint_gt(g, last);
        last = g;
    }
    del_genseq(c);
    uint64_t g = alloc_gen(c, &v);
    ck_assert_msg(g > last, "after DEL genseq: generation %llu handed out after %llu",
                  (unsigned long long)g, (unsigned long long)last);
    redisFree(c);
}
END_TEST

START_TEST(test_gen_not_reused_after_flushall)
{
    struct cfg_view v = make_view("flush", 0xf1ULL);
    redisContext *c = connect_redis();
    align_to_second(c);
    uint64_t before[4];
    for (int i = 0; i < 4; i++) {
        before[i] = alloc_gen(c, &v);
    }
    run(c, "FLUSHALL", NULL, 0);
    uint64_t g = alloc_gen(c, &v);
    for (int i = 0; i < 4; i++) {
        ck_assert_msg(g != before[i],
                      "after FLUSHALL: generation %llu handed out again (allocation %d)",
                      (unsigned long long)g, i + 1);
    }
    redisFree(c);
}
END_TEST

static Suite *e2e_online_v2_suite(void)
{
    Suite *s = suite_create("e2e_online_v2");
    TCase *tc = tcase_create("genseq");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_gen_unique_across_views);
    tcase_add_test(tc, test_gen_not_reused_after_genseq_del);
    tcase_add_test(tc, test_gen_not_reused_after_flushall);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);   /* hiredis writes with write(2) */
    SRunner *sr = srunner_create(e2e_online_v2_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
