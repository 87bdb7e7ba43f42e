/*
 * check_quality_config.c — the feature-quality keys of the config
 * (config/config_quality.c): expect and quality, their defaults
 * and every error with its JSON path.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"

#define ENT "\"entities\": [ { \"name\": \"u\", \"join_keys\": [ { \"name\": \"id\", \"type\": \"int64\" } ] } ],"

static struct featd_config *load(const char *feats, const char *view_extra, const char *top,
                                 char *err, size_t errlen)
{
    char json[8192];
    snprintf(json, sizeof json,
             "{ %s " ENT " \"feature_views\": [ { \"name\": \"v\", \"entities\": [\"u\"], "
             "\"features\": [ %s ], \"source\": { \"path\": \"/tmp/x\" }, "
             "\"materialization\": { \"mode\": \"snapshot\" } %s } ] }",
             top ? top : "", feats, view_extra ? view_extra : "");
    struct featd_config *cfg = NULL;
    return config_load_string(json, &cfg, err, errlen) == FEATD_OK ? cfg : NULL;
}

static void bad(const char *feats, const char *view_extra, const char *top, const char *want)
{
    char err[4096];
    struct featd_config *cfg = load(feats, view_extra, top, err, sizeof err);
    ck_assert_msg(cfg == NULL, "accepted (%s / %s / %s)", feats, view_extra, top);
    ck_assert_msg(strstr(err, want) != NULL, "error \"%s\" lacks \"%s\"", err, want);
}

START_TEST(test_good)
{
    char err[4096];
    struct featd_config *cfg = load(
        "{ \"name\": \"r\", \"type\": \"double\", \"expect\": { \"min\": 0, \"max\": 1e7, "
        "  \"max_null_fraction\": 0.05 } },"
        "{ \"name\": \"c\", \"type\": \"string\", \"expect\": { \"allowed\": [\"a\", \"b\"], "
        "  \"not_null\": true } }, { \"name\": \"n\", \"type\": \"int64\" }",
        ", \"quality\": { \"min_rows\": 1000, \"max_row_change\": 0.5, \"max_psi\": 0.2, "
        "\"baseline\": \"b.json\", \"on_violation\": \"warn\" }",
        NULL, err, sizeof err);
    ck_assert_msg(cfg != NULL, "%s", err);
    const struct cfg_view *v = &cfg->views[0];
    ck_assert(v->features[0].expect.has && v->features[0].expect.has_min &&
              v->features[0].expect.min == 0 && v->features[0].expect.max == 1e7);
    ck_assert(v->features[0].expect.max_null_fraction == 0.05);
    ck_assert_uint_eq(v->features[1].expect.nallowed, 2);
    ck_assert_str_eq(v->features[1].expect.allowed[1], "b");
    ck_assert(v->features[1].expect.not_null);
    ck_assert(!v->features[2].expect.has);
    ck_assert(v->quality.has && v->quality.min_rows == 1000 && v->quality.max_psi == 0.2);
    ck_assert(v->quality.on_violation == VIOLATION_WARN && v->quality.keep_generations == 2);
    ck_assert_str_eq(v->quality.baseline, "b.json");
    config_free(cfg);
}
END_TEST

START_TEST(test_errors)
{
    bad("{ \"name\": \"s\", \"type\": \"string\", \"expect\": { \"min\": 1 } }", NULL, NULL,
        "$.feature_views[0].features[0].expect.min: min applies to numeric features");
    bad("{ \"name\": \"d\", \"type\": \"double\", \"expect\": { \"allowed\": [\"x\"] } }", NULL,
        NULL, "$.feature_views[0].features[0].expect.allowed: allowed applies to string features");
    bad("{ \"name\": \"d\", \"type\": \"double\", \"expect\": { \"min\": 5, \"max\": 1 } }", NULL,
        NULL, "min 5 is above max 1");
    bad("{ \"name\": \"d\", \"type\": \"double\", \"expect\": { \"max_null_fraction\": 2 } }",
        NULL, NULL, "expect.max_null_fraction: 2 is out of range");
    bad("{ \"name\": \"d\", \"type\": \"double\", \"expect\": { \"mni\": 1 } }", NULL, NULL,
        "unknown key \"mni\" in expect (did you mean \"min\"?)");
    bad("{ \"name\": \"d\", \"type\": \"double\" }", ", \"quality\": { \"max_psi\": 11 }", NULL,
        "$.feature_views[0].quality.max_psi: 11 is out of range (expected 0..10)");
    bad("{ \"name\": \"d\", \"type\": \"double\" }", ", \"quality\": { \"keep_generations\": 0 }",
        NULL, "quality.keep_generations: 0 is out of range (expected 1..2)");
    bad("{ \"name\": \"d\", \"type\": \"double\" }", ", \"quality\": { \"on_violation\": \"drop\" }",
        NULL, "expected \"hold\" or \"warn\"");
    bad("{ \"name\": \"d\", \"type\": \"double\" }", NULL,
        "\"serving_log\": { \"path\": \"x\", \"sample_rate\": 2 },",
        "$.serving_log.sample_rate: 2 is out of range (expected 0..1)");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("quality_config");
    TCase *tc = tcase_create("quality_config");
    tcase_add_test(tc, test_good);
    tcase_add_test(tc, test_errors);
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
