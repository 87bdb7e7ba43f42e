/*
 * e2e_quality.c — the quality gate (DESIGN §12) with real parts: DuckDB-
 * written snapshots (tests/fixtures/materialize/cust), a real redis-server
 * and the real featd daemon. A snapshot that breaks a rule is written but
 * held: the current generation keeps serving, the status says held with the
 * rule, the metrics count it; a newer clean snapshot supersedes it.
 * PSI drift (tests/fixtures/quality, DuckDB): `featd-cli profile` writes a
 * baseline from a training snapshot; featd's PSI of a slightly shifted
 * snapshot (applied) and of a shifted one (held by max_psi) against it
 * equal DuckDB's; GET /v1/quality/VIEW and `featd-cli quality` report it.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "config/config.h"
#include "harness.h"
#include "harness_expect.h"
#include "core/util.h"

#define FIX "tests/fixtures/materialize"
#define QFIX "tests/fixtures/quality"

static struct h_redis R;
static struct h_featd F;
static char src[256];
static char cfg_json[8192];
static struct featd_config *cfg;

static void sh(const char *cmd)
{
    ck_assert_msg(system(cmd) == 0, "failed: %s", cmd);
}

static void put(const char *fixture_dir, const char *name)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cp -r '" FIX "/cust/%s' '%s/cust/.incoming' && mv '%s/cust/.incoming' "
             "'%s/cust/%s'", fixture_dir, src, src, src, name);
    sh(cmd);
}

static void setup(void)
{
    h_redis_start(&R);
    h_tempdir(src, "quality");
    char cmd[512];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/cust'", src);
    sh(cmd);
    snprintf(cfg_json, sizeof cfg_json,
        "{ \"server\": { \"listen\": \"127.0.0.1:%d\", \"admin_listen\": \"127.0.0.1:%d\" },"
        "  \"redis\": { \"url\": \"redis://127.0.0.1:%d/0\", \"key_prefix\": \"q\" },"
        "  \"entities\": [ { \"name\": \"customer\", \"join_keys\": [ { \"name\": \"customer_id\", \"type\": \"int64\" } ] } ],"
        "  \"feature_views\": [ { \"name\": \"cust\", \"entities\": [\"customer\"], \"features\": ["
        "      {\"name\":\"revenue\",\"type\":\"double\"},{\"name\":\"orders\",\"type\":\"int64\"},"
        "      {\"name\":\"score\",\"type\":\"float\"},{\"name\":\"ratio\",\"type\":\"double\"},"
        "      {\"name\":\"active\",\"type\":\"bool\"},{\"name\":\"name\",\"type\":\"string\"},"
        "      {\"name\":\"blob\",\"type\":\"bytes\"},{\"name\":\"last_seen\",\"type\":\"timestamp\"},"
        "      {\"name\":\"embedding\",\"type\":\"float_list\"},{\"name\":\"tags\",\"type\":\"string_list\"},"
        "      {\"name\":\"counts\",\"type\":\"int64_list\"},{\"name\":\"weights\",\"type\":\"double_list\"},"
        "      {\"name\":\"small\",\"type\":\"int32\"} ],"
        "    \"source\": { \"path\": \"%s/cust\", \"event_timestamp_column\": \"event_ts\","
        "      \"created_timestamp_column\": \"created\", \"columns\": {\"revenue\": \"rev\"} },"
        "    \"materialization\": { \"mode\": \"snapshot\", \"interval_seconds\": 1 },"
        "    \"quality\": { \"max_row_change\": 0.2 } } ] }",
        h_free_port(), h_free_port(), R.port, src);
    char err[4096];
    ck_assert_msg(config_load_string(cfg_json, &cfg, err, sizeof err) == FEATD_OK, "%s", err);
}

static void teardown(void)
{
    h_featd_stop(&F);
    h_redis_stop(&R);
    config_free(cfg);
    cfg = NULL;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", src);
    sh(cmd);
}

static void prog(const char *field, char *out, size_t cap)
{
    redisContext *c = redisConnect("127.0.0.1", R.port);
    ck_assert(c && !c->err);
    char key[256];
    snprintf(key, sizeof key, "q:v2:m:{cust}:%s:progress", config_find_view(cfg, "cust")->fingerprint_hex);
    redisReply *r = redisCommand(c, "HGET %s %s", key, field);
    snprintf(out, cap, "%s", r && r->type == REDIS_REPLY_STRING ? r->str : "");
    freeReplyObject(r);
    redisFree(c);
}

static void wait_field(const char *field, const char *want, int ms)
{
    char got[2048];
    int64_t end = util_mono_us() + (int64_t)ms * 1000;
    for (;;) {
        prog(field, got, sizeof got);
        if (strcmp(got, want) == 0) {
            return;
        }
        ck_assert_msg(util_mono_us() < end, "progress %s is \"%s\", waited for \"%s\"", field, got,
                      want);
        usleep(50000);
    }
}

START_TEST(test_row_drop_held_then_superseded)
{
    put("snap_2025-01-01", "snap_2025-01-01");
    h_featd_start(&F, cfg_json);
    wait_field("snapshot", "snap_2025-01-01", 30000);
    size_t n;
    struct harness_ent *u = harness_expect_int_universe(0, 305, &n);
    const struct cfg_view *v = config_find_view(cfg, "cust");
    ck_assert_uint_eq(harness_expect_lookups(F.port, v, FIX "/cust_snap1.expected.json", u, n), 299);
    /* 299 -> 200 entities: a 33 % row change over max_row_change 0.2 */
    put("snap_2025-01-02", "snap_2025-01-02");
    wait_field("state", "held", 30000);
    char viol[2048];
    prog("violations", viol, sizeof viol);
    ck_assert_msg(strstr(viol, "max_row_change: 200 rows against 299") != NULL, "%s", viol);
    prog("held_snapshot", viol, sizeof viol);
    ck_assert_str_eq(viol, "snap_2025-01-02");
    prog("snapshot", viol, sizeof viol);
    ck_assert_str_eq(viol, "snap_2025-01-01");
    /* the current generation keeps serving; shadow reads see the held one */
    ck_assert_uint_eq(harness_expect_lookups(F.port, v, FIX "/cust_snap1.expected.json", u, n), 299);
    ck_assert_uint_eq(harness_expect_lookups_mode(F.port, v, FIX "/cust_snap2.expected.json", u, n,
                                                  1), 200);
    char *page = h_admin_get(F.admin_port, "/metrics");
    ck_assert_msg(h_metric(page, "featd_view_held{view=\"cust\"}") == 1, "%s", page);
    ck_assert(h_metric(page, "featd_snapshot_violations_total{view=\"cust\",rule=\"max_row_change\"}") == 1);
    ck_assert(h_metric(page, "featd_materializer_runs_total{view=\"cust\",result=\"held\"}") == 1);
    free(page);
    /* it stays held (not re-written every interval) */
    sleep(2);
    page = h_admin_get(F.admin_port, "/metrics");
    ck_assert(h_metric(page, "featd_materializer_runs_total{view=\"cust\",result=\"held\"}") == 1);
    free(page);
    /* promote by hand: the held generation serves */
    char cfgfile[600], cmd[1200];
    snprintf(cfgfile, sizeof cfgfile, "%s/featd.json", src);
    FILE *fp = fopen(cfgfile, "w");
    ck_assert(fp != NULL);
    fputs(cfg_json, fp);
    fclose(fp);
    snprintf(cmd, sizeof cmd, "'%s' materialize promote --config '%s' --view cust",
             h_bin("featd-cli"), cfgfile);
    sh(cmd);
    wait_field("snapshot", "snap_2025-01-02", 5000);
    ck_assert_uint_eq(harness_expect_lookups(F.port, v, FIX "/cust_snap2.expected.json", u, n), 200);
    /* nothing held now: shadow reads find no rows */
    ck_assert_uint_eq(harness_expect_lookups_mode(F.port, v, FIX "/empty.expected.json", u, n, 1), 0);
    /* and back: the previous generation was kept */
    snprintf(cmd, sizeof cmd, "'%s' materialize rollback --config '%s' --view cust",
             h_bin("featd-cli"), cfgfile);
    sh(cmd);
    wait_field("snapshot", "snap_2025-01-01", 5000);
    wait_field("held_snapshot", "snap_2025-01-02", 5000);
    ck_assert_uint_eq(harness_expect_lookups(F.port, v, FIX "/cust_snap1.expected.json", u, n), 299);
    sleep(2);       /* the materializer does not apply the rolled-back snapshot again */
    prog("snapshot", viol, sizeof viol);
    ck_assert_str_eq(viol, "snap_2025-01-01");
    /* a newer snapshot within the rule (snap1's rows again) supersedes it */
    put("snap_2025-01-01", "snap_2025-01-03");
    wait_field("snapshot", "snap_2025-01-03", 30000);
    wait_field("held_generation", "0", 5000);
    prog("violations", viol, sizeof viol);
    ck_assert_str_eq(viol, "");
    ck_assert_uint_eq(harness_expect_lookups(F.port, v, FIX "/cust_snap1.expected.json", u, n), 299);
    int64_t end = util_mono_us() + 5000000;     /* recorded when that poll ends */
    for (;;) {
        page = h_admin_get(F.admin_port, "/metrics");
        double held = h_metric(page, "featd_view_held{view=\"cust\"}");
        free(page);
        if (held == 0) {
            break;
        }
        ck_assert_msg(util_mono_us() < end, "featd_view_held stays %g", held);
        usleep(50000);
    }
    free(u);
}
END_TEST

/* ---- PSI drift against a baseline written by featd-cli profile ---- */

static char qcfgfile[600];

static void psi_setup(void)
{
    h_redis_start(&R);
    h_tempdir(src, "psi");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/scores'", src);
    sh(cmd);
    snprintf(cfg_json, sizeof cfg_json,
        "{ \"server\": { \"listen\": \"127.0.0.1:%d\", \"admin_listen\": \"127.0.0.1:%d\" },"
        "  \"redis\": { \"url\": \"redis://127.0.0.1:%d/0\", \"key_prefix\": \"q\" },"
        "  \"entities\": [ { \"name\": \"customer\", \"join_keys\": [ { \"name\": \"customer_id\", \"type\": \"int64\" } ] } ],"
        "  \"feature_views\": [ { \"name\": \"scores\", \"entities\": [\"customer\"], \"features\": ["
        "      {\"name\":\"x\",\"type\":\"double\"},{\"name\":\"y\",\"type\":\"double\"} ],"
        "    \"source\": { \"path\": \"%s/scores\", \"event_timestamp_column\": \"event_ts\" },"
        "    \"materialization\": { \"mode\": \"snapshot\", \"interval_seconds\": 1 },"
        "    \"quality\": { \"max_psi\": 0.2, \"baseline\": \"%s/baseline.json\" } } ] }",
        h_free_port(), h_free_port(), R.port, src, src);
    char err[4096];
    ck_assert_msg(config_load_string(cfg_json, &cfg, err, sizeof err) == FEATD_OK, "%s", err);
    snprintf(qcfgfile, sizeof qcfgfile, "%s/featd.json", src);
    FILE *fp = fopen(qcfgfile, "w");
    ck_assert(fp != NULL);
    fputs(cfg_json, fp);
    fclose(fp);
}

static void psi_put(const char *fixture, const char *name)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cp '" QFIX "/%s' '%s/scores/.incoming' && mv '%s/scores/.incoming' "
             "'%s/scores/%s'", fixture, src, src, src, name);
    sh(cmd);
}

/* progress field of view scores (prog() reads cust's) */
static void sprog(const char *field, char *out, size_t cap)
{
    redisContext *c = redisConnect("127.0.0.1", R.port);
    ck_assert(c && !c->err);
    char key[256];
    snprintf(key, sizeof key, "q:v2:m:{scores}:%s:progress",
             config_find_view(cfg, "scores")->fingerprint_hex);
    redisReply *r = redisCommand(c, "HGET %s %s", key, field);
    snprintf(out, cap, "%s", r && r->type == REDIS_REPLY_STRING ? r->str : "");
    freeReplyObject(r);
    redisFree(c);
}

static void swait(const char *field, const char *want, int ms)
{
    char got[2048];
    int64_t end = util_mono_us() + (int64_t)ms * 1000;
    for (;;) {
        sprog(field, got, sizeof got);
        if (strcmp(got, want) == 0) {
            return;
        }
        ck_assert_msg(util_mono_us() < end, "progress %s is \"%s\", waited for \"%s\"", field, got,
                      want);
        usleep(50000);
    }
}

static double psi_metric(const char *feature)
{
    char series[128];
    snprintf(series, sizeof series, "featd_feature_psi{view=\"scores\",feature=\"%s\"}", feature);
    return h_admin_metric(F.admin_port, series);
}

/* The body of an HTTP response (after the blank line), parsed. */
static json_t *http_json(const char *resp)
{
    const char *b = strstr(resp, "\r\n\r\n");
    ck_assert_msg(b != NULL, "%s", resp);
    json_error_t jerr;
    json_t *j = json_loads(b + 4, 0, &jerr);
    ck_assert_msg(j != NULL, "%s: %s", jerr.text, b + 4);
    return j;
}

/* A command's standard output, parsed as JSON. */
static json_t *cmd_json(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    ck_assert(p != NULL);
    json_error_t jerr;
    json_t *j = json_loadf(p, 0, &jerr);
    ck_assert_msg(pclose(p) == 0, "failed: %s", cmd);
    ck_assert_msg(j != NULL, "%s: %s", cmd, jerr.text);
    return j;
}

static double jnum(const json_t *j, const char *path)
{
    /* "a.b.c": nested object members */
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    const json_t *x = j;
    for (char *tok = strtok(buf, "."); tok && x; tok = strtok(NULL, ".")) {
        x = json_object_get(x, tok);
    }
    ck_assert_msg(json_is_number(x), "%s is not a number", path);
    return json_number_value(x);
}

START_TEST(test_psi_drift_held)
{
    json_error_t jerr;
    json_t *want = json_load_file(QFIX "/expected.json", 0, &jerr);
    ck_assert_msg(want != NULL, "%s", jerr.text);
    json_t *duck = json_load_file(FIX "/profile/psi.expected.json", 0, &jerr);
    ck_assert_msg(duck != NULL, "%s", jerr.text);
    /* the baseline: featd-cli profile of the training snapshot */
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' profile --config '%s' --view scores " QFIX "/base.parquet "
             "> '%s/baseline.json'", h_bin("featd-cli"), qcfgfile, src);
    sh(cmd);
    snprintf(cmd, sizeof cmd, "%s/baseline.json", src);
    json_t *base = json_load_file(cmd, 0, &jerr);
    ck_assert_msg(base != NULL, "%s", jerr.text);
    ck_assert_int_eq(json_integer_value(json_object_get(base, "rows")), 10000);
    const char *fn[] = { "x", "y" };
    for (size_t f = 0; f < 2; f++) {
        const json_t *bf = json_object_get(json_object_get(base, "features"), fn[f]);
        const json_t *wf = json_object_get(json_object_get(want, "features"), fn[f]);
        for (size_t i = 0; i <= 10; i++) {
            ck_assert(fabs(json_number_value(json_array_get(json_object_get(bf, "edges"), i)) -
                           json_number_value(json_array_get(json_object_get(wf, "edges"), i))) < 1e-9);
        }
        for (size_t i = 0; i < 10; i++) {
            ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(bf, "hist"), i)),
                             json_integer_value(json_array_get(json_object_get(wf, "hist_base"), i)));
        }
    }
    /* the profile of x is the unit test's DuckDB one (check_mat_profile) */
    const json_t *bx = json_object_get(json_object_get(base, "features"), "x");
    ck_assert(fabs(jnum(bx, "mean") - jnum(duck, "mean")) < 1e-9);
    ck_assert(jnum(bx, "min") == jnum(duck, "min") && jnum(bx, "max") == jnum(duck, "max"));
    double psi_near = jnum(want, "features.x.psi_near");
    double psi_shifted = jnum(want, "features.x.psi_shifted");
    ck_assert(fabs(psi_shifted - jnum(duck, "psi")) < 1e-12);
    ck_assert(psi_near < 0.2 && psi_shifted > 0.2);

    /* a slightly shifted snapshot passes: PSI as DuckDB computed it */
    psi_put("near.parquet", "2025-01-01.parquet");
    h_featd_start(&F, cfg_json);
    swait("snapshot", "2025-01-01.parquet", 30000);
    char got[2048];
    sprog("violations", got, sizeof got);
    ck_assert_str_eq(got, "");
    ck_assert_msg(fabs(psi_metric("x") - psi_near) < 1e-6, "psi x %.9f, DuckDB %.9f",
                  psi_metric("x"), psi_near);
    ck_assert(fabs(psi_metric("y")) < 1e-9);
    ck_assert(h_admin_metric(F.admin_port, "featd_view_held{view=\"scores\"}") != 1);

    /* the shifted one is held by max_psi: x over 0.2, y (unchanged) under */
    psi_put("shifted.parquet", "2025-01-02.parquet");
    swait("state", "held", 30000);
    sprog("violations", got, sizeof got);
    ck_assert_msg(strstr(got, "max_psi: feature x: PSI") != NULL && strstr(got, "feature y") == NULL,
                  "%s", got);
    sprog("snapshot", got, sizeof got);
    ck_assert_str_eq(got, "2025-01-01.parquet");
    ck_assert_msg(fabs(psi_metric("x") - psi_shifted) < 1e-6, "psi x %.9f, DuckDB %.9f",
                  psi_metric("x"), psi_shifted);
    ck_assert(psi_metric("y") >= 0 && psi_metric("y") < 0.2);
    ck_assert(h_admin_metric(F.admin_port, "featd_view_held{view=\"scores\"}") == 1);
    ck_assert(h_admin_metric(F.admin_port,
                             "featd_snapshot_violations_total{view=\"scores\",rule=\"max_psi\"}") == 1);

    /* the report over HTTP */
    char *resp = h_admin_get(F.admin_port, "/v1/quality/scores");
    ck_assert_msg(strncmp(resp, "HTTP/1.1 200", 12) == 0, "%s", resp);
    json_t *rep = http_json(resp);
    free(resp);
    ck_assert_str_eq(json_string_value(json_object_get(rep, "state")), "held");
    ck_assert_str_eq(json_string_value(json_object_get(rep, "view")), "scores");
    ck_assert(jnum(rep, "held.profile.rows") == 10000 && jnum(rep, "current.profile.rows") == 10000);
    ck_assert(jnum(rep, "held.generation") > jnum(rep, "current.generation"));
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(rep, "held"), "snapshot")),
                     "2025-01-02.parquet");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(rep, "psi"), "of")), "held");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(rep, "psi"), "reference")),
                     "baseline");
    ck_assert(fabs(jnum(rep, "psi.features.x") - psi_shifted) < 1e-9);
    ck_assert(jnum(rep, "psi.features.y") < 0.2);
    ck_assert(fabs(jnum(rep, "current.profile.features.x.mean") - (jnum(duck, "mean") + 1)) < 1e-6);
    ck_assert(fabs(jnum(rep, "held.profile.features.x.mean") - (jnum(duck, "mean") * 1.15 + 12.5))
              < 1e-6);
    const json_t *viol = json_object_get(rep, "violations");
    ck_assert_uint_eq(json_array_size(viol), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(viol, 0), "rule")), "max_psi");
    ck_assert(jnum(rep, "config.max_psi") == 0.2);
    for (size_t i = 0; i < 10; i++) {
        ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(json_object_get(
                             json_object_get(json_object_get(json_object_get(rep, "held"), "profile"),
                                             "features"), "x"), "hist"), i)),
                         json_integer_value(json_array_get(json_object_get(json_object_get(
                             json_object_get(want, "features"), "x"), "hist_shifted"), i)));
    }
    /* featd-cli quality --json prints the same report, read from Redis */
    snprintf(cmd, sizeof cmd, "'%s' quality scores --config '%s' --json", h_bin("featd-cli"),
             qcfgfile);
    json_t *cli = cmd_json(cmd);
    ck_assert_msg(json_equal(cli, rep), "the CLI and HTTP reports differ");
    json_decref(cli);
    snprintf(cmd, sizeof cmd, "'%s' quality scores --config '%s' | grep -q 'max_psi: feature x'",
             h_bin("featd-cli"), qcfgfile);
    sh(cmd);
    json_decref(rep);
    /* an unknown view: 404 with a JSON error, on both */
    resp = h_admin_get(F.admin_port, "/v1/quality/nope");
    ck_assert_msg(strncmp(resp, "HTTP/1.1 404", 12) == 0, "%s", resp);
    json_t *e = http_json(resp);
    free(resp);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(e, "error"), "code")),
                     "NOT_FOUND");
    json_decref(e);
    snprintf(cmd, sizeof cmd, "'%s' quality nope --config '%s' 2>/dev/null", h_bin("featd-cli"),
             qcfgfile);
    ck_assert_int_eq(WEXITSTATUS(system(cmd)), 2);
    json_decref(base);
    json_decref(want);
    json_decref(duck);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("e2e_quality");
    TCase *tc = tcase_create("quality");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_row_drop_held_then_superseded);
    suite_add_tcase(s, tc);
    TCase *tp = tcase_create("psi");
    tcase_set_timeout(tp, 120);
    tcase_add_checked_fixture(tp, psi_setup, teardown);
    tcase_add_test(tp, test_psi_drift_held);
    suite_add_tcase(s, tp);
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
