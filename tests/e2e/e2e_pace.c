/*
 * e2e_pace.c — end-to-end tests of the materializer's write pacing
 * (materialize.* keys): a real redis-server, the real featd (daemon and
 * `featd materialize`) and the 60000-row fixture snapshot big/a. A fixed
 * cap of R rows/s must make the N-row snapshot take at least about N/R,
 * whether set in the file (daemon, pacing "fixed") or through
 * FEATD_MATERIALIZE_MAX_ROWS_PER_SEC (one-shot, pacing "adaptive", whose
 * ceiling it is); the daemon reports the limit on /metrics.
 */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "harness.h"

#define FIX "tests/fixtures/materialize"
#define PREFIX "pc"
#define BIG_N 60000

static struct h_redis R;
static struct h_featd F;
static char src[256];
static char cfg_path[300];

#define CFG_FMT \
    "{ \"server\": { \"listen\": \"127.0.0.1:%d\", \"admin_listen\": \"127.0.0.1:%d\", \"workers\": 1," \
    "    \"log_level\": \"info\" }," \
    "  \"redis\": { \"url\": \"redis://127.0.0.1:%d/0\", \"key_prefix\": \"" PREFIX "\" }," \
    "  \"materialize\": { \"pacing\": \"%s\", \"max_rows_per_sec\": %d }," \
    "  \"entities\": [ { \"name\": \"thing\", \"join_keys\": [ { \"name\": \"id\", \"type\": \"int64\" } ] } ]," \
    "  \"feature_views\": [" \
    "    { \"name\": \"big\", \"entities\": [\"thing\"], \"features\": [" \
    "      {\"name\":\"v\",\"type\":\"int64\"},{\"name\":\"s\",\"type\":\"string\"} ]," \
    "      \"source\": { \"path\": \"%s/big\", \"event_timestamp_column\": \"event_ts\" }," \
    "      \"materialization\": { \"mode\": \"snapshot\", \"interval_seconds\": 1 } } ] }"

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void sh(const char *cmd)
{
    int rc = system(cmd);
    ck_assert_msg(rc == 0, "command failed (%d): %s", rc, cmd);
}

/* The config for pacing mode and cap, as JSON (into out, cap 4096). */
static void config(char *out, const char *pacing, int max_rows, int port, int admin)
{
    int n = snprintf(out, 4096, CFG_FMT, port, admin, R.port, pacing, max_rows, src);
    ck_assert(n > 0 && n < 4096);
}

/* Places the fixture snapshot big/a as <src>/big/2025-01-01 (copy, rename). */
static void put_snapshot(void)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s/big' && cp -r " FIX "/big/a '%s/big/.in' && "
             "mv '%s/big/.in' '%s/big/2025-01-01'", src, src, src, src);
    sh(cmd);
}

/* A field of the view's progress hash ("" when absent). */
static void prog(const char *field, char *out, size_t cap)
{
    out[0] = '\0';
    redisReply *k = h_redis_cmd(&R, "KEYS %s", PREFIX ":*big*progress");
    if (k != NULL && k->type == REDIS_REPLY_ARRAY && k->elements == 1) {
        redisReply *v = h_redis_cmd(&R, "HGET %s %s", k->element[0]->str, field);
        if (v != NULL && v->type == REDIS_REPLY_STRING) {
            snprintf(out, cap, "%.*s", (int)v->len, v->str);
        }
        freeReplyObject(v);
    }
    freeReplyObject(k);
}

static void setup(void)
{
    h_redis_start(&R);
    h_tempdir(src, "pacesrc");
    snprintf(cfg_path, sizeof(cfg_path), "%s/oneshot.json", src);
}

static void teardown(void)
{
    h_featd_stop(&F);
    h_redis_stop(&R);
    if (getenv("FEATD_KEEP_TMP") == NULL) {
        char cmd[400];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", src);
        sh(cmd);
    }
}

/* The daemon with pacing "fixed" at 20000 rows/s: 60000 rows take >= 3 s
 * (a 10 % margin for the batch the limit lets through first), and the
 * limit is on /metrics. */
START_TEST(test_fixed_cap_daemon)
{
    enum { RATE = 20000 };
    int port = h_free_port(), admin = h_free_port();
    char json[4096];
    config(json, "fixed", RATE, port, admin);
    h_featd_start(&F, json);
    put_snapshot();
    long long end = now_ms() + 60000;
    char snap[64] = "", st[64] = "";
    while (strcmp(snap, "2025-01-01") != 0 || strcmp(st, "idle") != 0) {
        ck_assert_msg(now_ms() < end, "the snapshot was not applied (snapshot \"%s\", state \"%s\")",
                      snap, st);
        sleep_ms(20);
        prog("snapshot", snap, sizeof(snap));
        prog("state", st, sizeof(st));
    }
    char dms[32];
    prog("duration_ms", dms, sizeof(dms));
    long long ms = atoll(dms);
    printf("fixed cap %d rows/s: %d rows in %lld ms (%.0f rows/s)\n", RATE, BIG_N, ms,
           ms > 0 ? BIG_N * 1000.0 / (double)ms : 0.0);
    ck_assert_msg(ms >= (long long)BIG_N * 1000 / RATE * 9 / 10, "%d rows in %lld ms at a cap of %d/s",
                  BIG_N, ms, RATE);
    char *page = h_admin_get(admin, "/metrics");
    ck_assert_msg(h_metric(page, "featd_materializer_rate_limit_rows_per_second") == RATE, "%s", page);
    ck_assert(strstr(page, "featd_materializer_rate_limit_rows_per_second{pacing=\"fixed\"} ") !=
              NULL);
    ck_assert(h_metric(page, "featd_materializer_pacing_backoffs_total") == 0);
    free(page);
}
END_TEST

/* `featd materialize` with the cap from FEATD_MATERIALIZE_MAX_ROWS_PER_SEC
 * (the file says 0) in adaptive mode: a one-shot process has no serving
 * workers to watch, so adaptive means the cap there. */
START_TEST(test_env_cap_oneshot_adaptive)
{
    enum { RATE = 30000 };
    char json[4096];
    config(json, "adaptive", 0, h_free_port(), h_free_port());
    FILE *fp = fopen(cfg_path, "w");
    ck_assert(fp != NULL);
    fputs(json, fp);
    fclose(fp);
    put_snapshot();
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "FEATD_MATERIALIZE_MAX_ROWS_PER_SEC=%d '%s' materialize --config '%s' "
             "--log-level warn > '%s/oneshot.out' 2>&1", RATE, h_bin("featd"), cfg_path, src);
    long long t0 = now_ms();
    int rc = system(cmd);
    long long ms = now_ms() - t0;
    ck_assert_msg(rc == 0, "featd materialize failed (%d), see %s/oneshot.out", rc, src);
    printf("env cap %d rows/s (adaptive, one-shot): %d rows in %lld ms\n", RATE, BIG_N, ms);
    ck_assert_msg(ms >= (long long)BIG_N * 1000 / RATE * 9 / 10, "%d rows in %lld ms at a cap of %d/s",
                  BIG_N, ms, RATE);
    /* a bad value is a config error naming the variable */
    snprintf(cmd, sizeof(cmd), "FEATD_MATERIALIZE_MAX_ROWS_PER_SEC=fast '%s' materialize --config '%s' "
             "> '%s/bad.out' 2>&1; test $? -ne 0 && grep -q FEATD_MATERIALIZE_MAX_ROWS_PER_SEC "
             "'%s/bad.out'", h_bin("featd"), cfg_path, src, src);
    sh(cmd);
}
END_TEST

static Suite *pace_suite(void)
{
    Suite *s = suite_create("e2e_pace");
    TCase *tc = tcase_create("pace");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_fixed_cap_daemon);
    tcase_add_test(tc, test_env_cap_oneshot_adaptive);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(pace_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
