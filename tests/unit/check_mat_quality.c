/*
 * check_mat_quality.c — the quality gate of a snapshot run
 * (materialize/mat_quality.c): expect rules per value with example keys,
 * max_null_fraction, min_rows, max_row_change, max_psi against a reference
 * profile, and the stored JSON form read back as the next run's reference.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "materialize/mat_quality.h"

static struct featd_config *cfg;

static const char cfg_json[] =
    "{ \"entities\": [ { \"name\": \"u\", \"join_keys\": [ { \"name\": \"id\", \"type\": \"int64\" } ] } ],"
    "  \"feature_views\": [ { \"name\": \"v\", \"entities\": [\"u\"], \"features\": ["
    "      { \"name\": \"amount\", \"type\": \"double\", \"expect\": { \"min\": 0, \"max\": 100 } },"
    "      { \"name\": \"kind\", \"type\": \"string\", \"expect\": { \"allowed\": [\"a\", \"b\"] } },"
    "      { \"name\": \"note\", \"type\": \"string\", \"expect\": { \"max_null_fraction\": 0.1 } } ],"
    "    \"source\": { \"path\": \"/tmp/x\" }, \"materialization\": { \"mode\": \"snapshot\" },"
    "    \"quality\": { \"min_rows\": 50, \"max_row_change\": 0.5, \"max_psi\": 0.2 } } ] }";

static void setup(void)
{
    char err[2048];
    ck_assert_msg(config_load_string(cfg_json, &cfg, err, sizeof err) == FEATD_OK, "%s", err);
}

static void teardown(void)
{
    config_free(cfg);
    cfg = NULL;
}

/* n rows: amount = base + i % 50, kind "a"/"b", note null every nth_null. */
static void feed(struct mat_quality *q, int n, double base, int nth_null, const char *bad_kind_at)
{
    for (int i = 0; i < n; i++) {
        struct online_value vals[3];
        memset(vals, 0, sizeof(vals));
        vals[0].u.d = base + i % 50;
        const char *kind = i % 2 ? "a" : "b";
        char key[32];
        snprintf(key, sizeof key, "%d", i);
        if (bad_kind_at != NULL && strcmp(key, bad_kind_at) == 0) {
            kind = "zzz";
        }
        struct online_key k = { .i = i };
        vals[1].s = kind;
        vals[1].slen = strlen(kind);
        vals[2].is_null = nth_null > 0 && i % nth_null == 0;
        vals[2].s = "x";
        vals[2].slen = 1;
        mat_quality_row(q, &k, vals);
    }
}

START_TEST(test_pass_then_drift_and_rules)
{
    const struct cfg_view *v = &cfg->views[0];
    struct mat_quality q;
    char report[4096];
    /* first run: no reference; 100 clean rows pass */
    ck_assert_int_eq(mat_quality_begin(&q, v, NULL), FEATD_OK);
    feed(&q, 100, 10, 0, NULL);
    ck_assert_uint_eq(mat_quality_verdict(&q, NULL, report, sizeof report, NULL), 0);
    /* its JSON is the next run's reference, with edges made from it */
    json_t *j = mat_quality_to_json(&q);
    mat_quality_free(&q);
    struct mat_feature_profile pa;
    char why[256];
    ck_assert_int_eq(mat_profile_from_json(json_object_get(json_object_get(j, "features"), "amount"),
                                           &pa, why, sizeof why), FEATD_OK);
    double edges[MAT_PROFILE_BINS + 1];
    ck_assert(mat_profile_edges(&pa, edges));
    /* finished, the same run's profile carries edges over its range and a
     * histogram of its sample: the next run's reference */
    ck_assert_int_eq(mat_quality_begin(&q, v, NULL), FEATD_OK);
    feed(&q, 100, 10, 0, NULL);
    mat_quality_finish(&q);
    ck_assert(q.prof[0].have_edges);
    ck_assert_mem_eq(q.prof[0].edges, edges, sizeof(edges));
    json_decref(j);
    j = mat_quality_to_json(&q);
    mat_quality_free(&q);
    struct mat_quality_ref ref;
    ck_assert_int_eq(mat_quality_ref_from_json(j, v, &ref, why, sizeof why), FEATD_OK);
    ck_assert(ref.have && ref.rows == 100 && ref.have_feature[0] && ref.features[0].have_edges);
    json_decref(j);

    /* the same distribution: PSI 0, pass */
    double psi[3];
    ck_assert_int_eq(mat_quality_begin(&q, v, &ref), FEATD_OK);
    feed(&q, 100, 10, 0, NULL);
    ck_assert_uint_eq(mat_quality_verdict(&q, &ref, report, sizeof report, psi), 0);
    ck_assert(psi[0] == 0 && psi[1] == -1);
    mat_quality_free(&q);

    /* shifted within [0, 100]: held by PSI only */
    ck_assert_int_eq(mat_quality_begin(&q, v, &ref), FEATD_OK);
    feed(&q, 100, 40, 0, NULL);
    ck_assert_uint_eq(mat_quality_verdict(&q, &ref, report, sizeof report, psi), 1);
    ck_assert_msg(strstr(report, "max_psi: feature amount: PSI") != NULL, "%s", report);
    ck_assert(psi[0] > 0.2);
    mat_quality_free(&q);

    /* every rule at once: 30 rows (min_rows, 70% change), values over 100,
     * a kind not allowed, a third of the notes null */
    ck_assert_int_eq(mat_quality_begin(&q, v, &ref), FEATD_OK);
    feed(&q, 30, 80, 3, "7");
    size_t nbad = mat_quality_verdict(&q, &ref, report, sizeof report, psi);
    ck_assert_msg(strstr(report, "expect: feature amount: 9 of 30 rows break its rules (e.g. ") != NULL,
                  "%s", report);
    ck_assert_msg(strstr(report, "expect: feature kind: 1 of 30 rows") != NULL, "%s", report);
    ck_assert_msg(strstr(report, "max_null_fraction: feature note: 0.3333") != NULL, "%s", report);
    ck_assert_msg(strstr(report, "min_rows: 30 rows (at least 50)") != NULL, "%s", report);
    ck_assert_msg(strstr(report, "max_row_change: 30 rows against 100 (70.0% change") != NULL,
                  "%s", report);
    ck_assert_uint_ge(nbad, 5);
    mat_quality_free(&q);
    mat_quality_ref_free(&ref);
}
END_TEST

START_TEST(test_bad_reference)
{
    const struct cfg_view *v = &cfg->views[0];
    struct mat_quality_ref ref;
    char why[256];
    json_t *j = json_loads("{\"rows\": 1}", 0, NULL);
    ck_assert_int_eq(mat_quality_ref_from_json(j, v, &ref, why, sizeof why), FEATD_ERR);
    json_decref(j);
    j = json_loads("{\"rows\": 1, \"features\": {\"amount\": {\"values\": \"x\"}}}", 0, NULL);
    ck_assert_int_eq(mat_quality_ref_from_json(j, v, &ref, why, sizeof why), FEATD_ERR);
    ck_assert_msg(strstr(why, "feature amount") != NULL, "%s", why);
    json_decref(j);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("mat_quality");
    TCase *tc = tcase_create("quality");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_pass_then_drift_and_rules);
    tcase_add_test(tc, test_bad_reference);
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
