/*
 * e2e_quality.c — the quality gate (DESIGN §12) with real parts: DuckDB-
 * written snapshots (tests/fixtures/materialize/cust), a real redis-server
 * and the real featd daemon. A snapshot that breaks a rule is written but
 * held: the current generation keeps serving, the status says held with the
 * rule, the metrics count it; a newer clean snapshot supersedes it.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "config/config.h"
#include "harness.h"
#include "harness_expect.h"
#include "core/util.h"

#define FIX "tests/fixtures/materialize"

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

static Suite *suite(void)
{
    Suite *s = suite_create("e2e_quality");
    TCase *tc = tcase_create("quality");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_row_drop_held_then_superseded);
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
