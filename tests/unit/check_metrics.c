/*
 * check_metrics.c — core/metrics: histogram buckets, the split of a
 * request's timeline into phases (with and without a Redis round trip, a
 * deadline before the reply, no receive timestamp, clocks out of order) and
 * the slow-request accounting, plus metrics_sum over the phase histograms.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "core/metrics.h"

static struct metrics *new_metrics(void)
{
    struct metrics *m = calloc(1, sizeof(*m));
    ck_assert_ptr_nonnull(m);
    return m;
}

START_TEST(test_buckets)
{
    struct metrics_hist h;
    memset(&h, 0, sizeof(h));
    metrics_observe(&h, 0);
    metrics_observe(&h, 10);        /* bounds are inclusive */
    metrics_observe(&h, 11);
    metrics_observe(&h, 5000000);   /* above the last bound: +Inf */
    ck_assert_uint_eq(METRICS_GET(h.buckets[0]), 2);
    ck_assert_uint_eq(metrics_bucket_bounds[0], 10);
    ck_assert_uint_eq(METRICS_GET(h.buckets[1]), 1);
    ck_assert_uint_eq(METRICS_GET(h.buckets[METRICS_NBUCKETS - 1]), 1);
    ck_assert_uint_eq(METRICS_GET(h.count), 4);
    ck_assert_uint_eq(METRICS_GET(h.sum_us), 5000021);
}
END_TEST

START_TEST(test_split_lookup)
{
    const struct metrics_req_trace t = {
        .rx_us = 1000, .start_us = 1100, .sent_us = 1130, .reply_us = 1900, .ready_us = 1950,
    };
    uint64_t us[MPHASE__COUNT];
    metrics_phases_split(&t, 2000, us);
    ck_assert_uint_eq(us[MPHASE_QUEUED], 100);
    ck_assert_uint_eq(us[MPHASE_DECODE], 30);
    ck_assert_uint_eq(us[MPHASE_REDIS], 770);
    ck_assert_uint_eq(us[MPHASE_ENCODE], 50);
    ck_assert_uint_eq(us[MPHASE_WRITE], 50);
}
END_TEST

START_TEST(test_split_without_redis)
{
    /* a ping: everything from start to ready is decode */
    const struct metrics_req_trace t = { .rx_us = 10, .start_us = 20, .ready_us = 45 };
    uint64_t us[MPHASE__COUNT];
    metrics_phases_split(&t, 60, us);
    ck_assert_uint_eq(us[MPHASE_QUEUED], 10);
    ck_assert_uint_eq(us[MPHASE_DECODE], 25);
    ck_assert_uint_eq(us[MPHASE_REDIS], 0);
    ck_assert_uint_eq(us[MPHASE_ENCODE], 0);
    ck_assert_uint_eq(us[MPHASE_WRITE], 15);
}
END_TEST

START_TEST(test_split_deadline_and_odd_clocks)
{
    /* answered at the deadline, the reply never came: redis runs to ready */
    struct metrics_req_trace t = { .rx_us = 0, .start_us = 100, .sent_us = 110, .ready_us = 5110 };
    uint64_t us[MPHASE__COUNT];
    metrics_phases_split(&t, 5111, us);
    ck_assert_uint_eq(us[MPHASE_QUEUED], 0);     /* no receive time */
    ck_assert_uint_eq(us[MPHASE_REDIS], 5000);
    ck_assert_uint_eq(us[MPHASE_ENCODE], 0);
    ck_assert_uint_eq(us[MPHASE_WRITE], 1);
    /* a receive time after the start and a write stamp before ready: 0, never negative */
    t = (struct metrics_req_trace){ .rx_us = 200, .start_us = 100, .ready_us = 150 };
    metrics_phases_split(&t, 120, us);
    ck_assert_uint_eq(us[MPHASE_QUEUED], 0);
    ck_assert_uint_eq(us[MPHASE_DECODE], 50);
    ck_assert_uint_eq(us[MPHASE_WRITE], 0);
}
END_TEST

START_TEST(test_observe_slow)
{
    struct metrics *m = new_metrics();
    const uint64_t fast[MPHASE__COUNT] = { 1, 2, 3, 4, 5 };
    const uint64_t slow[MPHASE__COUNT] = { 1, 2, 9990, 4, 3 };
    ck_assert(!metrics_phases_observe(m, fast, 10000));
    ck_assert(metrics_phases_observe(m, slow, 10000));      /* adds up to exactly 10000 */
    ck_assert(!metrics_phases_observe(m, slow, 0));         /* 0 = off */
    ck_assert_uint_eq(METRICS_GET(m->slow_requests_total), 1);
    for (size_t i = 0; i < MPHASE__COUNT; i++) {
        ck_assert_uint_eq(METRICS_GET(m->phase[i].count), 3);
        ck_assert_uint_eq(METRICS_GET(m->slow_phase[i].count), 1);
        ck_assert_uint_eq(METRICS_GET(m->slow_phase[i].sum_us), slow[i]);
    }
    struct metrics *sum = new_metrics();
    metrics_sum(sum, m);
    metrics_sum(sum, m);
    ck_assert_uint_eq(METRICS_GET(sum->phase[MPHASE_REDIS].count), 6);
    ck_assert_uint_eq(METRICS_GET(sum->slow_phase[MPHASE_REDIS].sum_us), 2 * 9990);
    ck_assert_uint_eq(METRICS_GET(sum->slow_requests_total), 2);
    ck_assert_str_eq(metrics_phase_names[MPHASE_QUEUED], "queued");
    ck_assert_str_eq(metrics_phase_names[MPHASE_WRITE], "write");
    free(sum);
    free(m);
}
END_TEST

static Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("phases");
    tcase_add_test(tc, test_buckets);
    tcase_add_test(tc, test_split_lookup);
    tcase_add_test(tc, test_split_without_redis);
    tcase_add_test(tc, test_split_deadline_and_odd_clocks);
    tcase_add_test(tc, test_observe_slow);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(metrics_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
