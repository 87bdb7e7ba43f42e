/*
 * check_serve_stats.c — the serving metrics of one answered lookup
 * (serve/serve_stats.c): values by view and status, one value-age sample
 * per (view, entity row) that had a stored row, request coverage; and the
 * serving log's line for the same answer (servlog/servlog_line.c).
 */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonw.h"
#include "config/config.h"
#include "core/metrics.h"
#include "online/online.h"
#include "serve/lookup_plan.h"
#include "serve/serve_stats.h"
#include "servlog/servlog.h"
#include "servlog/servlog_line.h"
#include "wire/proto.h"

enum { INV = 0, PRE = 1, NUL = 2, NF = 3, OLD = 4 };

#define NOW 1700000000000000LL      /* µs */

/* Two views: a (slot 0, features a:x, a:y) and b (slot 1, feature b:z),
 * requested in the order a:x, b:z, a:y; three entity rows. */
static struct cfg_view va, vb;
static struct plan_view pviews[2];
static struct plan_feat pfeats[3];
static struct lookup_plan plan;
static char *names[3] = { "a:x", "b:z", "a:y" };
static uint8_t types[3] = { FT_INT64, FT_STRING, FT_DOUBLE };

static void setup_plan(void)
{
    memset(&va, 0, sizeof(va));
    memset(&vb, 0, sizeof(vb));
    va.name = "a";
    va.metrics_slot = 0;
    vb.name = "b";
    vb.metrics_slot = 1;
    memset(pviews, 0, sizeof(pviews));
    pviews[0].v = &va;
    pviews[0].gen = 7;
    pviews[1].v = &vb;
    pviews[1].gen = 0;
    pfeats[0] = (struct plan_feat){ 0, 0, names[0] };
    pfeats[1] = (struct plan_feat){ 1, 0, names[1] };
    pfeats[2] = (struct plan_feat){ 0, 1, names[2] };
    memset(&plan, 0, sizeof(plan));
    plan.nviews = 2;
    plan.nfeats = 3;
    plan.nrows = 3;
    plan.views = pviews;
    plan.feats = pfeats;
}

static void answer(struct proto_get_answer *ga, const uint8_t *st, const int64_t *ets,
                   const struct online_value **cells, bool with_ts_same)
{
    static const size_t ts_same[3] = { 0, 1, 0 };
    memset(ga, 0, sizeof(*ga));
    ga->request_id = 42;
    ga->nfeatures = 3;
    ga->nrows = 3;
    ga->names = names;
    ga->types = types;
    ga->cells = cells;
    ga->statuses = st;
    ga->event_ts = ets;
    ga->ts_same = with_ts_same ? ts_same : NULL;
}

static void check_counts(bool with_ts_same)
{
    setup_plan();
    /* cells f * 3 + r: a:x rows (PRESENT 5 s old, NULL_VALUE 2 h old, NOT_FOUND),
     * b:z rows (OUTSIDE_MAX_AGE 3 days old, NOT_FOUND, INVALID), a:y (PRESENT, PRESENT, NOT_FOUND) */
    uint8_t st[9] = { PRE, NUL, NF, OLD, NF, INV, PRE, PRE, NF };
    int64_t age0 = 5000000, age1 = 7200000000LL, age3 = 3LL * 86400 * 1000000;
    int64_t ets[9] = { NOW - age0, NOW - age1, 0, NOW - age3, 0, 0, NOW - age0, NOW - age1, 0 };
    const struct online_value *cells[9] = { 0 };
    struct proto_get_answer ga;
    answer(&ga, st, ets, cells, with_ts_same);
    struct metrics *m = calloc(1, sizeof(*m));
    serve_stats_count(m, &plan, &ga, NOW);
    struct metrics_view *a = &m->views[0], *b = &m->views[1];
    ck_assert_uint_eq(METRICS_GET(a->values[PRE]), 3);
    ck_assert_uint_eq(METRICS_GET(a->values[NUL]), 1);
    ck_assert_uint_eq(METRICS_GET(a->values[NF]), 2);
    ck_assert_uint_eq(METRICS_GET(a->values[OLD]), 0);
    ck_assert_uint_eq(METRICS_GET(b->values[OLD]), 1);
    ck_assert_uint_eq(METRICS_GET(b->values[NF]), 1);
    ck_assert_uint_eq(METRICS_GET(b->values[INV]), 1);
    /* ages: view a rows 0 and 1 (not per feature), view b row 0 */
    ck_assert_uint_eq(METRICS_GET(a->value_age.count), 2);
    ck_assert_uint_eq(METRICS_GET(a->value_age.sum_ms), (uint64_t)(age0 + age1) / 1000);
    ck_assert_uint_eq(METRICS_GET(a->value_age.buckets[1]), 1);    /* 5 s: le 10 */
    ck_assert_uint_eq(METRICS_GET(a->value_age.buckets[6]), 0);
    ck_assert_uint_eq(METRICS_GET(a->value_age.buckets[7]), 1);    /* 7200 s: le 7200 */
    ck_assert_uint_eq(METRICS_GET(b->value_age.count), 1);
    ck_assert_uint_eq(METRICS_GET(b->value_age.buckets[12]), 1);   /* 3 days: le 604800 */
    ck_assert_uint_eq(METRICS_GET(m->lookup_coverage[0]), 1);
    ck_assert_uint_eq(METRICS_GET(m->lookup_coverage[1]), 0);

    /* every cell PRESENT: complete; a view without a slot is not counted */
    vb.metrics_slot = -1;
    uint8_t all[9] = { PRE, PRE, PRE, PRE, PRE, PRE, PRE, PRE, PRE };
    int64_t ets2[9] = { NOW, NOW, NOW, NOW, NOW, NOW, NOW, NOW, NOW };
    answer(&ga, all, ets2, cells, with_ts_same);
    serve_stats_count(m, &plan, &ga, NOW);
    ck_assert_uint_eq(METRICS_GET(m->lookup_coverage[1]), 1);
    ck_assert_uint_eq(METRICS_GET(a->values[PRE]), 3 + 6);
    ck_assert_uint_eq(METRICS_GET(a->value_age.count), 2 + 3);
    ck_assert_uint_eq(METRICS_GET(b->values[PRE]), 0);
    ck_assert_uint_eq(METRICS_GET(b->value_age.count), 1);
    free(m);
}

START_TEST(test_counts)
{
    check_counts(true);
    check_counts(false);
}
END_TEST

START_TEST(test_line)
{
    setup_plan();
    plan.nrows = 1;
    struct online_value vx = { 0 }, vz = { 0 };
    vx.u.i64 = -3;
    vz.s = "hi\"";
    vz.slen = 3;
    uint8_t st[3] = { PRE, PRE, NF };
    int64_t ets[3] = { NOW, NOW + 1, 0 };
    const struct online_value *cells[3] = { &vx, &vz, NULL };
    struct proto_get_answer ga;
    answer(&ga, st, ets, cells, true);
    ga.nrows = 1;
    Featd__V1__Value k = FEATD__V1__VALUE__INIT;
    k.kind_case = FEATD__V1__VALUE__KIND_INT64_VAL;
    k.int64_val = 1001;
    Featd__V1__Value *kv[1] = { &k };
    Featd__V1__EntityColumn col = FEATD__V1__ENTITY_COLUMN__INIT;
    col.join_key = "user_id";
    col.n_values = 1;
    col.values = kv;
    Featd__V1__EntityColumn *cols[1] = { &col };
    Featd__V1__GetOnlineFeaturesRequest g = FEATD__V1__GET_ONLINE_FEATURES_REQUEST__INIT;
    g.n_entities = 1;
    g.entities = cols;
    struct jsonw j;
    jsonw_init(&j);
    servlog_line_json(&j, NOW, 42, &g, &plan, &ga);
    const char *line = jsonw_end(&j);
    ck_assert_str_eq(line,
        "{\"time\":\"2023-11-14T22:13:20.000000Z\",\"request_id\":42,\"generation_mode\":\"current\","
        "\"features\":[\"a:x\",\"b:z\",\"a:y\"],\"entities\":{\"user_id\":[1001]},"
        "\"values\":[[-3],[\"hi\\\"\"],[null]],\"statuses\":[[\"PRESENT\"],[\"PRESENT\"],[\"NOT_FOUND\"]],"
        "\"event_timestamps\":[[\"2023-11-14T22:13:20Z\"],[\"2023-11-14T22:13:20.000001Z\"],[null]],"
        "\"generations\":{\"a\":7,\"b\":null}}\n");
    json_error_t err;
    json_t *doc = json_loads(line, 0, &err);
    ck_assert_msg(doc != NULL, "not JSON: %s", err.text);
    json_decref(doc);
    jsonw_free(&j);
}
END_TEST

START_TEST(test_sampling)
{
    int hits = 0;
    for (int i = 0; i < 100000; i++) {
        hits += servlog_sampled(0.01);
        ck_assert(!servlog_sampled(0));
        ck_assert(servlog_sampled(1.0));
    }
    ck_assert_msg(hits > 800 && hits < 1200, "%d of 100000 sampled at 1%%", hits);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("serve_stats");
    TCase *tc = tcase_create("serve_stats");
    tcase_add_test(tc, test_counts);
    tcase_add_test(tc, test_line);
    tcase_add_test(tc, test_sampling);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
