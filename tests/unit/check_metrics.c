/*
 * check_metrics.c — core/metrics: histogram buckets, the split of a
 * request's timeline into phases (with and without a Redis round trip, a
 * deadline before the reply, no receive timestamp, clocks out of order) and
 * the slow-request accounting, plus metrics_sum over the phase histograms;
 * core/metrics_view: slots by name, age buckets, the per-view sum and the
 * age histogram's Prometheus text.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/metrics.h"
#include "core/metrics_view.h"
#include "core/prom.h"

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

START_TEST(test_view_slots)
{
    int a = metrics_view_slot("check_a");
    int b = metrics_view_slot("check_b");
    ck_assert_int_ge(a, 0);
    ck_assert_int_eq(b, a + 1);
    ck_assert_int_eq(metrics_view_slot("check_a"), a);   /* the same name keeps its slot */
    ck_assert_str_eq(metrics_view_name((size_t)b), "check_b");
    ck_assert_ptr_null(metrics_view_name(metrics_view_count()));
    char name[32];
    int last = b;
    while (metrics_view_count() < METRICS_MAX_VIEWS) {
        snprintf(name, sizeof name, "fill_%d", last);
        last = metrics_view_slot(name);
        ck_assert_int_ge(last, 0);
    }
    uint64_t before = metrics_view_slots_exhausted();
    ck_assert_int_eq(metrics_view_slot("one_too_many"), -1);
    ck_assert_uint_eq(metrics_view_slots_exhausted(), before + 1);
    ck_assert_int_eq(metrics_view_slot("check_b"), b);   /* old names still resolve */
}
END_TEST

START_TEST(test_view_age_and_sum)
{
    struct metrics *w1 = new_metrics(), *w2 = new_metrics(), *sum = new_metrics();
    int slot = metrics_view_slot("check_age");
    ck_assert_int_ge(slot, 0);
    metrics_age_observe(&w1->views[slot].value_age, -5);        /* clock skew: age 0 */
    metrics_age_observe(&w1->views[slot].value_age, 1000);      /* 1 s: bounds inclusive */
    metrics_age_observe(&w1->views[slot].value_age, 1001);
    metrics_age_observe(&w2->views[slot].value_age, 100LL * 86400 * 1000);   /* +Inf */
    METRICS_INC(w2->views[slot].push_rows[MPUSH_STALE]);
    METRICS_INC(w1->lookup_coverage[1]);
    metrics_sum(sum, w1);
    metrics_sum(sum, w2);
    const struct metrics_age_hist *h = &sum->views[slot].value_age;
    ck_assert_uint_eq(METRICS_GET(h->buckets[0]), 2);
    ck_assert_uint_eq(METRICS_GET(h->buckets[1]), 1);
    ck_assert_uint_eq(METRICS_GET(h->buckets[METRICS_AGE_NBUCKETS - 1]), 1);
    ck_assert_uint_eq(METRICS_GET(h->count), 4);
    ck_assert_uint_eq(METRICS_GET(sum->views[slot].push_rows[MPUSH_STALE]), 1);
    ck_assert_uint_eq(METRICS_GET(sum->lookup_coverage[1]), 1);

    struct fbuf o = { 0 };
    ck_assert_int_eq(prom_age_hist_samples(&o, "x", "view=\"v\",", h), FEATD_OK);
    ck_assert_ptr_nonnull(strstr(o.data, "x_bucket{view=\"v\",le=\"1\"} 2\n"));
    ck_assert_ptr_nonnull(strstr(o.data, "x_bucket{view=\"v\",le=\"10\"} 3\n"));
    ck_assert_ptr_nonnull(strstr(o.data, "x_bucket{view=\"v\",le=\"+Inf\"} 4\n"));
    ck_assert_ptr_nonnull(strstr(o.data, "x_sum{view=\"v\"} 8640002.001\n"));
    ck_assert_ptr_nonnull(strstr(o.data, "x_count{view=\"v\"} 4\n"));
    fbuf_free(&o);
    free(w1);
    free(w2);
    free(sum);
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
    tcase_add_test(tc, test_view_age_and_sum);
    tcase_add_test(tc, test_view_slots);
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
