/*
 * e2e_serving_quality.c — the serving side of DESIGN §12 against a real
 * redis-server and the real featd: the per-view serving metrics
 * (featd_lookup_values_total by status, featd_value_age_seconds,
 * featd_lookup_coverage_total) for lookups with known answers, and the
 * serving log (sample_rate 1: one line per lookup equal to the answer;
 * rotation at max_bytes; sample_rate 0: nothing; an unwritable file drops
 * and counts while serving goes on; a SIGHUP applies a new path and rate).
 */
#include <check.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "config/config.h"
#include "core/util.h"
#include "featd_client.h"
#include "harness.h"
#include "online/online.h"

#define PREFIX "e2esq"

static struct h_redis R;
static struct h_featd F;
static struct featd_config *cfg;
static char logdir[256];
static char logpath[400];

#define CFG_FMT \
    "{ \"server\": { \"listen\": \"127.0.0.1:%d\", \"admin_listen\": \"127.0.0.1:%d\", \"workers\": 2 }," \
    "  \"redis\": { \"url\": \"redis://127.0.0.1:%d/0\", \"key_prefix\": \"" PREFIX "\" }," \
    "  \"entities\": [ { \"name\": \"user\", \"join_keys\": [ { \"name\": \"user_id\", \"type\": \"int64\" } ] } ]," \
    "  \"feature_views\": [ { \"name\": \"profile\", \"entities\": [\"user\"], \"ttl_seconds\": 60, \"features\": [" \
    "      { \"name\": \"age\", \"type\": \"int64\" }, { \"name\": \"city\", \"type\": \"string\" } ] } ]" \
    "  %s }"

static void write_row(int64_t user, bool nulls, int64_t age, const char *city, int64_t event_ts)
{
    const struct cfg_view *v = config_find_view(cfg, "profile");
    redisContext *c = redisConnect("127.0.0.1", R.port);
    ck_assert_msg(c && !c->err, "connect to test redis");
    char err[256];
    uint64_t gen;
    ck_assert_int_eq(online_gen_ensure(c, PREFIX, v, &gen, err, sizeof(err)), FEATD_OK);
    struct online_writer *w = online_writer_new(c, PREFIX, v, 10);
    struct online_key key = { .i = user };
    struct online_value vals[2];
    memset(vals, 0, sizeof(vals));
    vals[0].is_null = vals[1].is_null = nulls;
    vals[0].u.i64 = age;
    vals[1].s = city;
    vals[1].slen = city ? strlen(city) : 0;
    ck_assert_int_eq(online_writer_upsert(w, gen, &key, event_ts, ONLINE_NO_CREATED_TS, vals, err,
                                          sizeof(err)), FEATD_OK);
    ck_assert_int_eq(online_writer_flush(w, err, sizeof(err)), FEATD_OK);
    online_writer_free(w);
    redisFree(c);
}

/* Starts featd with serving_log (a JSON member with its leading comma, or "").
 * Rows: user 1 PRESENT (5 s old), 2 all null (30 s), 3 older than the ttl
 * (120 s), 4 none. */
static void start(const char *serving_log)
{
    h_redis_start(&R);
    h_tempdir(logdir, "servlog");
    snprintf(logpath, sizeof(logpath), "%s/serving.log", logdir);
    char json[8192];
    int port = h_free_port(), admin = h_free_port();
    snprintf(json, sizeof(json), CFG_FMT, port, admin, R.port, serving_log);
    char err[4096];
    ck_assert_msg(config_load_string(json, &cfg, err, sizeof(err)) == FEATD_OK, "config: %s", err);
    int64_t now = util_now_us();
    write_row(1, false, 30, "Paris", now - 5000000);
    write_row(2, true, 0, NULL, now - 30000000);
    write_row(3, false, 40, "Oslo", now - 120000000);
    h_featd_start(&F, json);
}

static void stop(void)
{
    if (F.pid > 0) {
        h_featd_stop(&F);
    }
    h_redis_stop(&R);
    config_free(cfg);
    cfg = NULL;
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", logdir);
    ck_assert_int_eq(system(cmd), 0);
}

static struct featd_client *cli(void)
{
    char err[256];
    struct featd_client *c = featd_connect("127.0.0.1", F.port, 3000, err, sizeof(err));
    ck_assert_msg(c != NULL, "connect: %s", err);
    return c;
}

/* profile:age and profile:city for the users given. */
static void lookup(struct featd_client *c, const int64_t *users, size_t n)
{
    struct featd_get *g = featd_get_new();
    featd_get_add_feature(g, "profile:age");
    featd_get_add_feature(g, "profile:city");
    for (size_t i = 0; i < n; i++) {
        featd_get_add_int64(g, "user_id", users[i]);
    }
    Featd__V1__Response *resp = NULL;
    ck_assert_msg(featd_lookup(c, g, &resp) == FEATD_OK, "lookup failed: %s", featd_errmsg(c));
    ck_assert_int_eq(resp->body_case, FEATD__V1__RESPONSE__BODY_GET_ONLINE_FEATURES);
    featd_response_free(resp);
    featd_get_free(g);
}

static double metric(const char *series)
{
    return h_admin_metric(F.admin_port, series);
}

/* Waits until series reaches want (the log thread writes within ~10 ms). */
static void wait_metric(const char *series, double want)
{
    long long until = h_now_ms() + 5000;
    while (metric(series) < want && h_now_ms() < until) {
        h_sleep_ms(20);
    }
    ck_assert_msg(metric(series) == want, "%s = %g, want %g", series, metric(series), want);
}

static const int64_t all4[] = { 1, 2, 3, 4 };
static const int64_t just1[] = { 1 };

#define V(s) "featd_lookup_values_total{view=\"profile\",status=\"" s "\"}"
#define AGE(le) "featd_value_age_seconds_bucket{view=\"profile\",le=\"" le "\"}"

START_TEST(test_metrics)
{
    start("");
    struct featd_client *c = cli();
    lookup(c, all4, 4);
    lookup(c, just1, 1);
    featd_close(c);
    ck_assert_double_eq(metric(V("PRESENT")), 4);          /* user 1 twice, 2 features */
    ck_assert_double_eq(metric(V("NULL_VALUE")), 2);
    ck_assert_double_eq(metric(V("OUTSIDE_MAX_AGE")), 2);
    ck_assert_double_eq(metric(V("NOT_FOUND")), 2);
    ck_assert_double_eq(metric(V("INVALID")), 0);
    /* one age per served row, not per feature: users 1, 2, 3 then 1 */
    ck_assert_double_eq(metric("featd_value_age_seconds_count{view=\"profile\"}"), 4);
    ck_assert_double_eq(metric(AGE("10")), 2);
    ck_assert_double_eq(metric(AGE("60")), 3);
    ck_assert_double_eq(metric(AGE("300")), 4);
    double sum = metric("featd_value_age_seconds_sum{view=\"profile\"}");
    ck_assert_msg(sum >= 5 + 30 + 120 + 5 && sum < 5 + 30 + 120 + 5 + 60, "age sum %g", sum);
    ck_assert_double_eq(metric("featd_lookup_coverage_total{complete=\"false\"}"), 1);
    ck_assert_double_eq(metric("featd_lookup_coverage_total{complete=\"true\"}"), 1);
    ck_assert_double_eq(metric("featd_serving_log_lines_total"), 0);
    stop();
}
END_TEST

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return NULL;
    }
    char *buf = calloc(1, 1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static const char *jstr(json_t *a, size_t i)
{
    return json_string_value(json_array_get(a, i));
}

/* featd restarted on the running redis with serving_log member extra
 * (logpath substituted for %s). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void restart_with(const char *fmt)
{
    if (F.pid > 0) {
        h_featd_stop(&F);
    }
    char extra[800], json[8192];
    snprintf(extra, sizeof(extra), fmt, logpath);
    int port = h_free_port(), admin = h_free_port();
    snprintf(json, sizeof(json), CFG_FMT, port, admin, R.port, extra);
    h_featd_start(&F, json);
}
#pragma GCC diagnostic pop

START_TEST(test_log_every_lookup)
{
    start("");
    restart_with(", \"serving_log\": { \"path\": \"%s\", \"sample_rate\": 1 }");
    struct featd_client *c = cli();
    lookup(c, all4, 4);
    lookup(c, just1, 1);
    featd_close(c);
    wait_metric("featd_serving_log_lines_total", 2);
    ck_assert_double_eq(metric("featd_serving_log_dropped_total"), 0);
    h_featd_stop(&F);
    F.pid = 0;
    char *text = slurp(logpath);
    ck_assert_ptr_nonnull(text);
    char *nl = strchr(text, '\n');
    ck_assert_ptr_nonnull(nl);
    ck_assert_ptr_nonnull(strchr(nl + 1, '\n'));
    ck_assert_ptr_null(strchr(strchr(nl + 1, '\n') + 1, '\n'));
    json_error_t err;
    json_t *l1 = json_loadb(text, (size_t)(nl - text), 0, &err);
    ck_assert_msg(l1 != NULL, "line 1: %s", err.text);
    ck_assert(json_is_string(json_object_get(l1, "time")));
    ck_assert(json_integer_value(json_object_get(l1, "request_id")) > 0);
    ck_assert_str_eq(json_string_value(json_object_get(l1, "generation_mode")), "current");
    json_t *feats = json_object_get(l1, "features");
    ck_assert_str_eq(jstr(feats, 0), "profile:age");
    ck_assert_str_eq(jstr(feats, 1), "profile:city");
    json_t *keys = json_object_get(json_object_get(l1, "entities"), "user_id");
    ck_assert_int_eq(json_array_size(keys), 4);
    ck_assert_int_eq(json_integer_value(json_array_get(keys, 3)), 4);
    json_t *vals = json_object_get(l1, "values"), *sts = json_object_get(l1, "statuses");
    json_t *ets = json_object_get(l1, "event_timestamps");
    json_t *age = json_array_get(vals, 0), *city = json_array_get(vals, 1);
    ck_assert_int_eq(json_integer_value(json_array_get(age, 0)), 30);
    ck_assert(json_is_null(json_array_get(age, 1)));
    ck_assert_int_eq(json_integer_value(json_array_get(age, 2)), 40);
    ck_assert(json_is_null(json_array_get(age, 3)));
    ck_assert_str_eq(jstr(city, 0), "Paris");
    ck_assert_str_eq(jstr(city, 2), "Oslo");
    const char *want[4] = { "PRESENT", "NULL_VALUE", "OUTSIDE_MAX_AGE", "NOT_FOUND" };
    for (size_t f = 0; f < 2; f++) {
        for (size_t r = 0; r < 4; r++) {
            ck_assert_str_eq(jstr(json_array_get(sts, f), r), want[r]);
        }
        ck_assert(json_is_string(json_array_get(json_array_get(ets, f), 0)));
        ck_assert(json_is_null(json_array_get(json_array_get(ets, f), 3)));
    }
    ck_assert(json_integer_value(json_object_get(json_object_get(l1, "generations"), "profile")) > 0);
    json_t *l2 = json_loads(nl + 1, JSON_DISABLE_EOF_CHECK, &err);
    ck_assert_msg(l2 != NULL, "line 2: %s", err.text);
    ck_assert_int_eq(json_array_size(json_object_get(json_object_get(l2, "entities"), "user_id")), 1);
    ck_assert_str_eq(jstr(json_array_get(json_object_get(l2, "statuses"), 1), 0), "PRESENT");
    json_decref(l1);
    json_decref(l2);
    free(text);
    stop();
}
END_TEST

static off_t fsize(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

START_TEST(test_log_rotation)
{
    start("");
    restart_with(", \"serving_log\": { \"path\": \"%s\", \"sample_rate\": 1, \"max_bytes\": 4096, \"keep\": 2 }");
    struct featd_client *c = cli();
    for (int i = 0; i < 60; i++) {              /* ~700 bytes a line: 5 a file, many files */
        lookup(c, all4, 4);
    }
    featd_close(c);
    wait_metric("featd_serving_log_lines_total", 60);
    h_featd_stop(&F);
    F.pid = 0;
    char p[500];
    for (int k = 0; k <= 3; k++) {
        if (k == 0) {
            snprintf(p, sizeof(p), "%s", logpath);
        } else {
            snprintf(p, sizeof(p), "%s.%d", logpath, k);
        }
        off_t n = fsize(p);
        if (k <= 2) {
            ck_assert_msg(n > 0 && n <= 4096, "%s: %lld bytes", p, (long long)n);
        } else {
            ck_assert_msg(n < 0, "%s kept (keep is 2)", p);
        }
    }
    stop();
}
END_TEST

START_TEST(test_log_off_and_reload)
{
    start("");
    restart_with(", \"serving_log\": { \"path\": \"%s\", \"sample_rate\": 0 }");
    struct featd_client *c = cli();
    for (int i = 0; i < 20; i++) {
        lookup(c, just1, 1);
    }
    h_sleep_ms(100);
    ck_assert_double_eq(metric("featd_serving_log_lines_total"), 0);
    ck_assert_int_le(fsize(logpath), 0);
    /* a reload: new path and rate take effect */
    char newpath[500], json[8192], extra[800];
    snprintf(newpath, sizeof(newpath), "%s.new", logpath);
    snprintf(extra, sizeof(extra), ", \"serving_log\": { \"path\": \"%s\", \"sample_rate\": 1 }", newpath);
    FILE *f = fopen(F.config_path, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(json, 1, sizeof(json) - 1, f);
    json[n] = '\0';
    fclose(f);
    char *at = strstr(json, ", \"serving_log\"");
    ck_assert_ptr_nonnull(at);
    char *end = strstr(at, "}");
    ck_assert_ptr_nonnull(end);
    char rest[4096];
    snprintf(rest, sizeof(rest), "%s", end + 1);
    snprintf(at, sizeof(json) - (size_t)(at - json), "%s%s", extra, rest);
    f = fopen(F.config_path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(json, f);
    fclose(f);
    double reloads = metric("featd_reloads_total{result=\"ok\"}");
    ck_assert_int_eq(kill(F.pid, SIGHUP), 0);
    long long until = h_now_ms() + 5000;
    while (metric("featd_reloads_total{result=\"ok\"}") <= reloads && h_now_ms() < until) {
        h_sleep_ms(20);
    }
    lookup(c, just1, 1);
    featd_close(c);
    wait_metric("featd_serving_log_lines_total", 1);
    ck_assert_int_gt(fsize(newpath), 0);
    stop();
}
END_TEST

START_TEST(test_log_unwritable)
{
    start("");
    /* /dev/full: every write fails with ENOSPC */
    restart_with(", \"serving_log\": { \"path\": \"/dev/full\", \"sample_rate\": 1 }%.0s");
    struct featd_client *c = cli();
    for (int i = 0; i < 10; i++) {
        lookup(c, all4, 4);                     /* serving unaffected */
    }
    featd_close(c);
    wait_metric("featd_serving_log_dropped_total", 10);
    ck_assert_double_eq(metric("featd_serving_log_lines_total"), 0);
    stop();
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("serving_quality");
    TCase *tc = tcase_create("serving_quality");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_metrics);
    tcase_add_test(tc, test_log_every_lookup);
    tcase_add_test(tc, test_log_rotation);
    tcase_add_test(tc, test_log_off_and_reload);
    tcase_add_test(tc, test_log_unwritable);
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
