/*
 * check_mat_profile.c — materialize/mat_profile.c against values DuckDB
 * computed independently (tests/fixtures/materialize/profile/
 * psi.expected.json, written by generate.mjs): min, max, mean, the base
 * sample's equal-width edges, both histograms on them and the PSI of the
 * shifted sample; plus nulls, NaN, clamping, non-numeric features and the
 * JSON round trip with its errors.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "materialize/mat_profile.h"

#define FIXTURE "tests/fixtures/materialize/profile/psi.expected.json"

static json_t *fixture(void)
{
    json_error_t jerr;
    json_t *j = json_load_file(FIXTURE, 0, &jerr);
    ck_assert_msg(j != NULL, "%s: %s (run from the repository root)", FIXTURE, jerr.text);
    return j;
}

static void feed(struct mat_feature_profile *p, const json_t *arr)
{
    for (size_t i = 0; i < json_array_size(arr); i++) {
        mat_profile_value(p, json_number_value(json_array_get(arr, i)));
    }
}

START_TEST(test_against_duckdb)
{
    json_t *j = fixture();
    struct mat_feature_profile base, shifted;
    mat_profile_init(&base, true, NULL);
    feed(&base, json_object_get(j, "base"));
    ck_assert_uint_eq(base.values, 10000);
    ck_assert(base.min == json_number_value(json_object_get(j, "min")));
    ck_assert(base.max == json_number_value(json_object_get(j, "max")));
    ck_assert(fabs(mat_profile_mean(&base) - json_number_value(json_object_get(j, "mean"))) < 1e-9);
    double edges[MAT_PROFILE_BINS + 1];
    ck_assert(mat_profile_edges(&base, edges));
    const json_t *je = json_object_get(j, "edges");
    for (size_t i = 0; i <= MAT_PROFILE_BINS; i++) {
        ck_assert_msg(fabs(edges[i] - json_number_value(json_array_get(je, i))) < 1e-9,
                      "edge %zu: %.17g", i, edges[i]);
    }
    /* both samples binned on the base's edges, as DuckDB binned them */
    mat_profile_free(&base);
    mat_profile_init(&base, true, edges);
    feed(&base, json_object_get(j, "base"));
    mat_profile_init(&shifted, true, edges);
    feed(&shifted, json_object_get(j, "shifted"));
    const json_t *hb = json_object_get(j, "hist_base"), *hs = json_object_get(j, "hist_shifted");
    for (size_t i = 0; i < MAT_PROFILE_BINS; i++) {
        ck_assert_uint_eq(base.hist[i], (uint64_t)json_integer_value(json_array_get(hb, i)));
        ck_assert_uint_eq(shifted.hist[i], (uint64_t)json_integer_value(json_array_get(hs, i)));
    }
    double psi = mat_profile_psi(base.hist, shifted.hist);
    double want = json_number_value(json_object_get(j, "psi"));
    ck_assert_msg(fabs(psi - want) < 1e-9, "psi %.12f, DuckDB %.12f", psi, want);
    ck_assert(psi > 0.2);                               /* a significant shift */
    ck_assert(mat_profile_psi(base.hist, base.hist) == 0);  /* against itself */
    /* without edges: a reservoir of MAT_PROFILE_SAMPLE values, binned at the
     * end on the profile's own range — close to the exact histogram */
    struct mat_feature_profile res;
    mat_profile_init(&res, true, NULL);
    feed(&res, json_object_get(j, "base"));
    ck_assert_uint_eq(res.nsample, MAT_PROFILE_SAMPLE);
    mat_profile_finish(&res);
    ck_assert(res.have_edges && res.sample == NULL);
    ck_assert_mem_eq(res.edges, edges, sizeof(edges));
    uint64_t n = 0;
    for (size_t i = 0; i < MAT_PROFILE_BINS; i++) {
        n += res.hist[i];
    }
    ck_assert_uint_eq(n, MAT_PROFILE_SAMPLE);
    double approx = mat_profile_psi(base.hist, res.hist);
    ck_assert_msg(approx >= 0 && approx < 0.02, "sample PSI %.4f", approx);
    json_decref(j);
}
END_TEST

START_TEST(test_nulls_nan_clamp_text)
{
    double edges[MAT_PROFILE_BINS + 1];
    for (int i = 0; i <= MAT_PROFILE_BINS; i++) {
        edges[i] = i;
    }
    struct mat_feature_profile p;
    mat_profile_init(&p, true, edges);
    mat_profile_null(&p);
    mat_profile_value(&p, NAN);
    mat_profile_value(&p, -5);      /* below the first edge: bin 0 */
    mat_profile_value(&p, 10);      /* the last edge: bin 9 */
    mat_profile_value(&p, 1e9);     /* above: bin 9 */
    mat_profile_value(&p, 3.5);
    ck_assert_uint_eq(p.nulls, 1);
    ck_assert_uint_eq(p.nan, 1);
    ck_assert_uint_eq(p.values, 5);
    ck_assert_uint_eq(p.hist[0], 1);
    ck_assert_uint_eq(p.hist[9], 2);
    ck_assert_uint_eq(p.hist[3], 1);
    ck_assert(p.min == -5 && p.max == 1e9);
    ck_assert(fabs(mat_profile_mean(&p) - (-5 + 10 + 1e9 + 3.5) / 4) < 1e-3);
    uint64_t empty[MAT_PROFILE_BINS] = { 0 };
    ck_assert(mat_profile_psi(empty, p.hist) == -1);
    /* one value: a unit-wide range around it */
    struct mat_feature_profile one;
    mat_profile_init(&one, true, NULL);
    mat_profile_value(&one, 7);
    ck_assert(mat_profile_edges(&one, edges));
    ck_assert(edges[0] == 6.5 && edges[MAT_PROFILE_BINS] == 7.5);
    mat_profile_free(&one);
    /* strings: rows and nulls only */
    struct mat_feature_profile s;
    mat_profile_init(&s, false, NULL);
    mat_profile_value(&s, 0);
    mat_profile_null(&s);
    ck_assert_uint_eq(s.values, 1);
    ck_assert(!mat_profile_edges(&s, edges));
}
END_TEST

START_TEST(test_json_round_trip)
{
    double edges[MAT_PROFILE_BINS + 1];
    for (int i = 0; i <= MAT_PROFILE_BINS; i++) {
        edges[i] = i * 0.5;
    }
    struct mat_feature_profile p, q;
    mat_profile_init(&p, true, edges);
    for (int i = 0; i < 100; i++) {
        mat_profile_value(&p, i * 0.05);
    }
    mat_profile_null(&p);
    json_t *j = mat_profile_to_json(&p);
    char why[256];
    ck_assert_int_eq(mat_profile_from_json(j, &q, why, sizeof why), FEATD_OK);
    ck_assert_uint_eq(q.values, p.values);
    ck_assert_uint_eq(q.nulls, 1);
    ck_assert(q.min == p.min && q.max == p.max && q.have_edges);
    ck_assert(fabs(mat_profile_mean(&q) - mat_profile_mean(&p)) < 1e-12);
    ck_assert_mem_eq(q.hist, p.hist, sizeof(p.hist));
    json_decref(j);
    static const char *bad[] = {
        "[]", "{\"values\": -1, \"nulls\": 0}", "{\"values\": 1}",
        "{\"values\": 1, \"nulls\": 0, \"min\": 1}",
        "{\"values\": 1, \"nulls\": 0, \"edges\": [1, 2], \"hist\": [1]}",
        "{\"values\": 1, \"nulls\": 0, \"edges\": [0,1,2,3,4,5,6,7,8,9,9], \"hist\": [0,0,0,0,0,0,0,0,0,1]}",
        "{\"values\": 1, \"nulls\": 0, \"edges\": [0,1,2,3,4,5,6,7,8,9,10], \"hist\": [0,0,0,0,0,0,0,0,0,-1]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *b = json_loads(bad[i], 0, NULL);
        ck_assert_msg(mat_profile_from_json(b, &q, why, sizeof why) == FEATD_ERR, "accepted %s",
                      bad[i]);
        json_decref(b);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("mat_profile");
    TCase *tc = tcase_create("profile");
    tcase_add_test(tc, test_against_duckdb);
    tcase_add_test(tc, test_nulls_nan_clamp_text);
    tcase_add_test(tc, test_json_round_trip);
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
