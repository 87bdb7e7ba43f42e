/*
 * check_mat_pace.c — materialize/mat_pace: the write pacing controller fed
 * with made-up times, row counts and latency histograms (no Redis): the
 * quantile of a histogram delta, the fixed and off modes, the adaptive
 * mode's bounds, back-off, increase, short and unjudgeable windows,
 * counters going backwards, the automatic budget from idle windows, and a
 * closed loop against a simulated Redis
 * whose latency grows with the write rate.
 */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "core/metrics.h"
#include "materialize/mat_pace.h"

/* Adds n samples of us µs to the bucket counts h. */
static void add(uint64_t h[METRICS_NBUCKETS], uint64_t us, uint64_t n)
{
    size_t i = 0;
    while (i < METRICS_NBUCKETS - 1 && us > metrics_bucket_bounds[i]) {
        i++;
    }
    h[i] += n;
}

static struct mat_pace adaptive(uint64_t cap, uint64_t floor, uint64_t budget)
{
    struct mat_pace_cfg c = { MAT_PACE_ADAPTIVE, cap, floor, budget };
    struct mat_pace p;
    mat_pace_init(&p, &c);
    return p;
}

START_TEST(test_quantile)
{
    uint64_t a[METRICS_NBUCKETS] = { 0 }, b[METRICS_NBUCKETS] = { 0 };
    uint64_t n = 7;
    ck_assert_uint_eq(mat_pace_quantile(a, b, 0.99, &n), 0);
    ck_assert_uint_eq(n, 0);
    /* 99 fast samples, 1 slow one: p99 is the top of the fast bucket */
    add(b, 5, 99);
    add(b, 1500, 1);
    ck_assert_uint_eq(mat_pace_quantile(a, b, 0.99, &n), 10);
    ck_assert_uint_eq(n, 100);
    ck_assert_uint_eq(mat_pace_quantile(a, b, 0.5, NULL), 5);   /* interpolated in 0..10 */
    uint64_t q = mat_pace_quantile(a, b, 0.995, NULL);
    ck_assert(q > 1000 && q <= 2000);
    /* only the delta counts: the same samples earlier cancel out */
    memcpy(a, b, sizeof(a));
    add(b, 400, 50);
    q = mat_pace_quantile(a, b, 0.99, &n);
    ck_assert_uint_eq(n, 50);
    ck_assert(q > 300 && q <= 500);
    /* the +Inf bucket reads as twice the last bound */
    uint64_t c[METRICS_NBUCKETS] = { 0 };
    memset(a, 0, sizeof(a));
    add(c, 5000000, 10);
    q = mat_pace_quantile(a, c, 0.99, NULL);
    ck_assert(q > metrics_bucket_bounds[METRICS_NBUCKETS - 2]);
    ck_assert(q <= 2 * metrics_bucket_bounds[METRICS_NBUCKETS - 2]);
    /* an earlier snapshot with more (a reset) is not negative */
    ck_assert_uint_eq(mat_pace_quantile(c, a, 0.99, &n), 0);
    ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(test_fixed_and_off)
{
    uint64_t h[METRICS_NBUCKETS] = { 0 };
    struct mat_pace_cfg c = { MAT_PACE_FIXED, 30000, 10000, 100 };
    struct mat_pace p;
    mat_pace_init(&p, &c);
    ck_assert_uint_eq(mat_pace_begin(&p, 0, 0, h), 30000);
    add(h, 50000, 1000);    /* way over budget: fixed does not care */
    bool changed = true;
    ck_assert_uint_eq(mat_pace_step(&p, 1000000, 30000, h, &changed), 30000);
    ck_assert(!changed);
    ck_assert_uint_eq(p.backoffs, 0);
    c.cap = 0;
    mat_pace_init(&p, &c);
    ck_assert_uint_eq(mat_pace_rate(&p), 0);    /* fixed without a cap: unpaced */
    c.mode = MAT_PACE_OFF;
    c.cap = 5000;
    mat_pace_init(&p, &c);
    ck_assert_uint_eq(mat_pace_rate(&p), 0);    /* off ignores the cap */
    ck_assert_uint_eq(mat_pace_step(&p, 5000000, 1, h, NULL), 0);
}
END_TEST

START_TEST(test_adaptive_bounds)
{
    struct mat_pace p = adaptive(0, 10000, 1000);
    ck_assert_uint_eq(mat_pace_rate(&p), MAT_PACE_START);
    p = adaptive(20000, 10000, 1000);
    ck_assert_uint_eq(mat_pace_rate(&p), 20000);    /* the cap bounds the start */
    p = adaptive(0, 80000, 1000);
    ck_assert_uint_eq(mat_pace_rate(&p), 80000);    /* so does the floor */
    p = adaptive(5000, 80000, 1000);
    ck_assert_uint_eq(p.c.floor, 5000);             /* a floor above the cap is the cap */
    ck_assert_uint_eq(mat_pace_rate(&p), 5000);
}
END_TEST

START_TEST(test_adaptive_backoff)
{
    uint64_t h[METRICS_NBUCKETS] = { 0 };
    struct mat_pace p = adaptive(0, 10000, 1000);
    p.rate = 50000;     /* as if it had got there */
    mat_pace_begin(&p, 0, 0, h);
    /* 0.5 s writing 25000 rows (50000/s, the limit) while p99 ~ 1.5 ms */
    add(h, 100, 90);
    add(h, 1500, 10);
    bool changed = false;
    ck_assert_uint_eq(mat_pace_step(&p, 500000, 25000, h, &changed), 50000 * 1000 / 1900);
    ck_assert(changed);
    ck_assert_uint_eq(p.backoffs, 1);
    ck_assert_uint_eq(p.last_p99_us, 1900);     /* 1000 + 0.9 of the 1000..2000 bucket */
    /* the decrease starts from what was achieved, not from the limit */
    add(h, 1500, 100);
    ck_assert_uint_eq(mat_pace_step(&p, 1000000, 25000 + 12000, h, NULL), 24000 * 1000 / 1990);
    ck_assert_uint_eq(p.backoffs, 2);   /* 24000/s achieved */
    /* far over the budget: halved, not below the floor */
    add(h, 5000000, 100);
    ck_assert_uint_eq(mat_pace_step(&p, 1500000, 37000 + 5000, h, NULL), 10000);
    ck_assert_uint_eq(p.backoffs, 3);
    /* just over: a small cut */
    struct mat_pace q = adaptive(0, 10000, 900);
    q.rate = 50000;
    uint64_t g[METRICS_NBUCKETS] = { 0 };
    mat_pace_begin(&q, 0, 0, g);
    add(g, 950, 100);       /* p99 998 */
    uint64_t r = mat_pace_step(&q, 1000000, 50000, g, NULL);
    ck_assert(r < 50000 && r > 45000);
    ck_assert_uint_eq(q.backoffs, 1);
}
END_TEST

START_TEST(test_adaptive_increase)
{
    uint64_t h[METRICS_NBUCKETS] = { 0 };
    struct mat_pace p = adaptive(100000, 10000, 1000);
    p.rate = 50000;
    uint64_t rows = 0;
    int64_t t = 0;
    mat_pace_begin(&p, t, rows, h);
    /* a window shorter than MAT_PACE_WINDOW_US is not judged yet */
    add(h, 100, 100);
    bool changed = true;
    ck_assert_uint_eq(mat_pace_step(&p, MAT_PACE_WINDOW_US - 1, 12000, h, &changed), 50000);
    ck_assert(!changed);
    /* p99 well under half the budget: x1.5 */
    t = 1000000;
    rows = 50000;
    ck_assert_uint_eq(mat_pace_step(&p, t, rows, h, &changed), 75000);
    ck_assert(changed);
    /* between half the budget and the budget: +1/8, at least the floor */
    add(h, 700, 100);
    t += 1000000;
    rows += 75000;
    ck_assert_uint_eq(mat_pace_step(&p, t, rows, h, NULL), 85000);
    /* no lookups at all: nobody to hurt, x1.5 up to the cap */
    t += 1000000;
    rows += 85000;
    ck_assert_uint_eq(mat_pace_step(&p, t, rows, h, NULL), 100000);
    ck_assert_uint_eq(p.last_p99_us, 0);
    /* the limit is not binding (writes slower than half of it): it stays */
    struct mat_pace q = adaptive(0, 10000, 1000);
    q.rate = 50000;
    mat_pace_begin(&q, 0, 0, h);
    ck_assert_uint_eq(mat_pace_step(&q, 1000000, 20000, h, NULL), 50000);
    ck_assert_uint_eq(q.backoffs, 0);
}
END_TEST

START_TEST(test_adaptive_unbounded)
{
    uint64_t h[METRICS_NBUCKETS] = { 0 };
    struct mat_pace p = adaptive(0, 10000, 1000);
    int64_t t = 0;
    uint64_t rows = 0;
    mat_pace_begin(&p, t, rows, h);
    uint64_t r = mat_pace_rate(&p);
    for (int i = 0; i < 100 && r != 0; i++) {
        t += 1000000;
        rows += r;      /* writes exactly at the limit */
        r = mat_pace_step(&p, t, rows, h, NULL);
    }
    ck_assert_uint_eq(r, 0);    /* reached the ceiling without a cap: unpaced */
    ck_assert_uint_eq(p.rate, MAT_PACE_UNBOUNDED);
}
END_TEST

START_TEST(test_backwards)
{
    uint64_t h[METRICS_NBUCKETS] = { 0 }, h2[METRICS_NBUCKETS] = { 0 };
    struct mat_pace p = adaptive(0, 10000, 1000);
    p.rate = 50000;
    add(h, 1500, 100);
    mat_pace_begin(&p, 1000000, 500, h);
    /* fewer rows than at the window start (a new writer): window restarts */
    ck_assert_uint_eq(mat_pace_step(&p, 3000000, 100, h, NULL), 50000);
    ck_assert_uint_eq(p.windows, 0);
    ck_assert_int_eq(p.win_us, 3000000);
    /* a histogram that shrank (workers gone): restart, no judgement */
    ck_assert_uint_eq(mat_pace_step(&p, 5000000, 200000, h2, NULL), 50000);
    ck_assert_uint_eq(p.windows, 0);
    ck_assert_uint_eq(p.backoffs, 0);
    /* a step without begin opens the window */
    struct mat_pace q = adaptive(0, 10000, 1000);
    ck_assert_uint_eq(mat_pace_step(&q, 7, 0, h, NULL), MAT_PACE_START);
    ck_assert(q.open);
}
END_TEST

START_TEST(test_auto_budget)
{
    uint64_t h[METRICS_NBUCKETS] = { 0 };
    struct mat_pace p = adaptive(0, 10000, 0);
    ck_assert_uint_eq(mat_pace_budget(&p), MAT_PACE_AUTO_FALLBACK_US);
    /* an idle second with 1000 lookups at ~80 µs: budget 1.5 x its p99 */
    mat_pace_idle(&p, 0, h);
    add(h, 80, 1000);
    mat_pace_idle(&p, 500000, h);   /* already open: keeps its start */
    mat_pace_begin(&p, 2000000, 0, h);
    ck_assert_uint_eq(p.idle_p99_us, 100);  /* 50 + 0.99 of the 50..100 bucket */
    ck_assert_uint_eq(mat_pace_budget(&p), 150);
    ck_assert_uint_eq(mat_pace_rate(&p), MAT_PACE_START);   /* someone is served */
    ck_assert(!p.idle_open);
    /* writing does not move the baseline */
    add(h, 3000, 1000);
    mat_pace_step(&p, 3000000, 25000, h, NULL);
    ck_assert_uint_eq(mat_pace_budget(&p), 150);
    ck_assert_uint_eq(p.backoffs, 1);
    /* an idle window too short, or with too few lookups, keeps it */
    mat_pace_idle(&p, 4000000, h);
    add(h, 400, 1000);
    mat_pace_begin(&p, 4500000, 0, h);
    ck_assert_uint_eq(mat_pace_budget(&p), 150);
    mat_pace_idle(&p, 5000000, h);
    add(h, 400, 99);
    mat_pace_begin(&p, 7000000, 0, h);
    ck_assert_uint_eq(mat_pace_budget(&p), 150);
    /* a fast Redis: never below MAT_PACE_AUTO_MIN_US */
    mat_pace_idle(&p, 8000000, h);
    add(h, 5, 1000);
    mat_pace_begin(&p, 9000000, 0, h);
    ck_assert_uint_eq(p.idle_p99_us, 10);
    ck_assert_uint_eq(mat_pace_budget(&p), MAT_PACE_AUTO_MIN_US);
    /* a configured budget wins */
    struct mat_pace q = adaptive(0, 10000, 700);
    mat_pace_idle(&q, 0, h);
    add(h, 80, 1000);
    mat_pace_begin(&q, 2000000, 0, h);
    ck_assert_uint_eq(mat_pace_budget(&q), 700);
}
END_TEST

/* Nobody served while the materializer was idle: the write phase starts at
 * the ceiling (unpaced without a cap). */
START_TEST(test_idle_without_lookups)
{
    uint64_t h[METRICS_NBUCKETS] = { 0 };
    struct mat_pace p = adaptive(0, 10000, 0);
    mat_pace_idle(&p, 0, h);
    add(h, 80, MAT_PACE_MIN_SAMPLES - 1);
    ck_assert_uint_eq(mat_pace_begin(&p, MAT_PACE_IDLE_US, 0, h), 0);
    ck_assert_uint_eq(mat_pace_budget(&p), MAT_PACE_AUTO_FALLBACK_US);
    struct mat_pace q = adaptive(80000, 10000, 0);
    mat_pace_idle(&q, 0, h);
    ck_assert_uint_eq(mat_pace_begin(&q, 2 * MAT_PACE_IDLE_US, 0, h), 80000);
    /* too short an idle window tells nothing: the limit stays */
    struct mat_pace r = adaptive(0, 10000, 0);
    mat_pace_idle(&r, 0, h);
    ck_assert_uint_eq(mat_pace_begin(&r, MAT_PACE_IDLE_US - 1, 0, h), MAT_PACE_START);
}
END_TEST

/* A closed loop: the simulated Redis p99 grows with the write rate (100 µs
 * idle + 1 µs per 100 rows/s, so the budget of 600 µs allows 50000 rows/s)
 * and the writer achieves the limit up to 120000 rows/s. The controller
 * must spend most windows under budget at a useful rate. */
START_TEST(test_closed_loop)
{
    uint64_t h[METRICS_NBUCKETS] = { 0 };
    struct mat_pace p = adaptive(0, 5000, 600);
    int64_t t = 0;
    uint64_t rows = 0;
    uint64_t r = mat_pace_begin(&p, t, rows, h);
    int over = 0;
    uint64_t sum = 0;
    for (int i = 0; i < 400; i++) {
        uint64_t achieved = r == 0 || r > 120000 ? 120000 : r;
        uint64_t p99 = 100 + achieved / 100;
        add(h, p99 > 150 ? 100 : p99, 97);  /* the bulk stays fast */
        add(h, p99, 3);
        t += 500000;
        rows += achieved / 2;
        if (i >= 100) {
            over += p99 > 600;
            sum += achieved;
        }
        r = mat_pace_step(&p, t, rows, h, NULL);
        ck_assert(r == 0 || r >= 5000);
    }
    uint64_t mean = sum / 300;
    ck_assert_msg(over < 300 / 4, "%d of 300 windows over budget", over);
    ck_assert_msg(mean >= 25000 && mean <= 60000, "mean rate %llu", (unsigned long long)mean);
    ck_assert(p.backoffs > 0);
}
END_TEST

static Suite *mat_pace_suite(void)
{
    Suite *s = suite_create("mat_pace");
    TCase *tc = tcase_create("controller");
    tcase_add_test(tc, test_quantile);
    tcase_add_test(tc, test_fixed_and_off);
    tcase_add_test(tc, test_adaptive_bounds);
    tcase_add_test(tc, test_adaptive_backoff);
    tcase_add_test(tc, test_adaptive_increase);
    tcase_add_test(tc, test_adaptive_unbounded);
    tcase_add_test(tc, test_backwards);
    tcase_add_test(tc, test_auto_budget);
    tcase_add_test(tc, test_idle_without_lookups);
    tcase_add_test(tc, test_closed_loop);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(mat_pace_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
