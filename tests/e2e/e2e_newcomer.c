/*
 * e2e_newcomer.c — what a new user meets first (issue 16, newcomer fixes),
 * against a real featd serving the example config (config/featd.json: its
 * views, entities and examples/data sources) on free ports with a test
 * redis-server:
 *   - the materializer's gauges (last_success, lag, generation) are on
 *     /metrics as soon as a view's first load is counted, and the
 *     "applied into generation N" log line names the real generation;
 *   - `featd-cli materialize status` of a view that never applied anything;
 *   - `featd-cli get --json` answers in the HTTP lookup's shape;
 * Run from the repository root (the example sources are relative paths).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "harness.h"

static struct h_redis R;
static struct h_featd F;

/* config/featd.json pointed at R, free ports and a temp data dir. */
static char *example_config(int port, int admin, const char *dir)
{
    json_error_t je;
    json_t *root = json_load_file("config/featd.json", 0, &je);
    ck_assert_msg(root != NULL, "config/featd.json: %s", je.text);
    char buf[512];
    json_t *srv = json_object_get(root, "server");
    snprintf(buf, sizeof buf, "127.0.0.1:%d", port);
    json_object_set_new(srv, "listen", json_string(buf));
    snprintf(buf, sizeof buf, "127.0.0.1:%d", admin);
    json_object_set_new(srv, "admin_listen", json_string(buf));
    snprintf(buf, sizeof buf, "%s/data", dir);
    json_object_set_new(srv, "data_dir", json_string(buf));
    snprintf(buf, sizeof buf, "%s/serving.log", dir);
    json_object_set_new(json_object_get(root, "serving_log"), "path", json_string(buf));
    json_t *rds = json_object_get(root, "redis");
    snprintf(buf, sizeof buf, "redis://127.0.0.1:%d/0", R.port);
    json_object_set_new(rds, "url", json_string(buf));
    json_object_set_new(rds, "key_prefix", json_string("newc"));
    /* a view that is never applied: its source does not exist */
    snprintf(buf, sizeof buf,
             "{ \"name\": \"never_applied\", \"entities\": [\"customer\"], \"features\": "
             "[ { \"name\": \"x\", \"type\": \"int64\" } ], \"source\": { \"path\": "
             "\"%s/missing\", \"event_timestamp_column\": \"event_time\" }, "
             "\"materialization\": { \"mode\": \"snapshot\", \"interval_seconds\": 1 } }", dir);
    json_t *nv = json_loads(buf, 0, &je);
    ck_assert_msg(nv != NULL, "%s", je.text);
    json_array_append_new(json_object_get(root, "feature_views"), nv);
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    ck_assert_ptr_nonnull(s);
    return s;
}

static void setup(void)
{
    h_redis_start(&R);
    char dir[256];
    h_tempdir(dir, "newc");
    int port = h_free_port(), admin = h_free_port();
    while (admin == port) {
        admin = h_free_port();
    }
    char *cfg = example_config(port, admin, dir);
    h_featd_start(&F, cfg);
    free(cfg);
}

static void teardown(void)
{
    h_featd_stop(&F);
    h_redis_stop(&R);
}

/* The whole log file, malloc'd ("" when unreadable). */
static char *read_log(void)
{
    FILE *f = fopen(F.log_path, "rb");
    char *buf = calloc(1, 1 << 20);
    ck_assert_ptr_nonnull(buf);
    if (f != NULL) {
        size_t n = fread(buf, 1, (1 << 20) - 1, f);
        buf[n] = '\0';
        fclose(f);
    }
    return buf;
}

static const char *const views[] = { "customer_stats", "merchant_profile", "customer_merchant" };

/* Each view's gauges are there in the same /metrics page that first counts
 * its applied run (mat_stats records both under one lock), not a poll
 * interval later (30 s to 300 s in this config). */
START_TEST(gauges_after_first_load)
{
    bool seen[3] = { false, false, false };
    long long deadline = h_now_ms() + 20000;
    int nseen = 0;
    while (nseen < 3 && h_now_ms() < deadline) {
        char *page = h_admin_get(F.admin_port, "/metrics");
        ck_assert_ptr_nonnull(page);
        for (int v = 0; v < 3; v++) {
            char series[256];
            snprintf(series, sizeof series,
                     "featd_materializer_runs_total{view=\"%s\",result=\"applied\"}", views[v]);
            if (seen[v] || h_metric(page, series) < 1) {
                continue;
            }
            static const char *const gauges[] = {
                "featd_materializer_last_success_timestamp_seconds",
                "featd_materializer_lag_seconds", "featd_materializer_generation",
                "featd_materializer_seconds_since_success", "featd_materializer_up",
            };
            for (size_t g = 0; g < sizeof gauges / sizeof gauges[0]; g++) {
                snprintf(series, sizeof series, "%s{view=\"%s\"}", gauges[g], views[v]);
                double val = h_metric(page, series);
                ck_assert_msg(val >= 0, "%s absent right after the first load", series);
                if (strcmp(gauges[g], "featd_materializer_generation") == 0) {
                    ck_assert_msg(val > 0, "%s = %g", series, val);
                }
            }
            seen[v] = true;
            nseen++;
        }
        free(page);
        if (nseen < 3) {
            h_sleep_ms(20);
        }
    }
    ck_assert_msg(nseen == 3, "only %d of 3 views materialized in 20 s", nseen);
    /* the log line of each first load names the generation the gauge shows */
    char *log = read_log();
    ck_assert_msg(strstr(log, "generation 0 ") == NULL && strstr(log, "generation 0:") == NULL,
                  "a log line says generation 0:\n%s", log);
    for (int v = 0; v < 3; v++) {
        char series[256], line[256];
        snprintf(series, sizeof series, "featd_materializer_generation{view=\"%s\"}", views[v]);
        double gen = h_admin_metric(F.admin_port, series);
        snprintf(line, sizeof line, "view %s: ", views[v]);
        const char *p = strstr(log, line);
        bool found = false;
        for (; p != NULL && !found; p = strstr(p + 1, line)) {
            const char *eol = strchr(p, '\n');
            const char *g = strstr(p, " applied ");
            if (g == NULL || (eol != NULL && g > eol)) {
                continue;
            }
            g = strstr(g, "generation ");
            ck_assert_ptr_nonnull(g);
            ck_assert_msg(strtod(g + 11, NULL) == gen, "view %s: log says %.30s, gauge %.0f",
                          views[v], g, gen);
            found = true;
        }
        ck_assert_msg(found, "no applied line for %s:\n%s", views[v], log);
    }
    free(log);
}
END_TEST

/* Runs a shell command line; its stdout into out (NUL-terminated); returns
 * the exit status (-1 when it did not exit). */
static int run_cmd(const char *cmd, char *out, size_t cap)
{
    FILE *p = popen(cmd, "r");
    ck_assert_msg(p != NULL, "popen %s", cmd);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* `featd-cli materialize status` of a view that never applied anything
 * reads as such: no "generation 0", no run that "finished -". */
START_TEST(status_never_applied)
{
    char cmd[1024], out[8192];
    long long deadline = h_now_ms() + 20000;
    do {        /* until its first poll failed */
        snprintf(cmd, sizeof cmd, "%s --config %s materialize status --view never_applied 2>&1",
                 h_bin("featd-cli"), F.config_path);
        int rc = run_cmd(cmd, out, sizeof out);
        ck_assert_msg(rc == 0 || rc == 1, "exit %d: %s", rc, out);   /* 1: a view failing */
        if (strstr(out, "last error") != NULL) {
            break;
        }
        h_sleep_ms(100);
    } while (h_now_ms() < deadline);
    ck_assert_msg(strstr(out, "serving        nothing yet (no generation applied; see last "
                               "error)") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "last run       none finished yet") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "generation 0") == NULL, "%s", out);
    ck_assert_msg(strstr(out, "finished -") == NULL, "%s", out);
    ck_assert_msg(strstr(out, "missing: No such file or directory") != NULL, "%s", out);
}
END_TEST

/* A second featd on the serving port of a running one fails at startup
 * naming the reason (SO_REUSEPORT would otherwise let both accept). */
START_TEST(second_featd_refused)
{
    char dir[256], path[300], cmd[1024], out[8192];
    h_tempdir(dir, "newc2");
    int admin = h_free_port();
    char *cfg = example_config(F.port, admin, dir);
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(cfg, f);
    fclose(f);
    free(cfg);
    snprintf(cmd, sizeof cmd, "timeout 20 %s --config %s 2>&1", h_bin("featd"), path);
    int rc = run_cmd(cmd, out, sizeof out);
    ck_assert_msg(rc != 0 && rc != 124, "exit %d: %s", rc, out);
    ck_assert_msg(strstr(out, "another process") != NULL, "%s", out);
}
END_TEST

/* A protobuf client pointed at the admin (HTTP) port gets told so at once,
 * not a silent timeout; HTTP on the admin port is unaffected. */
START_TEST(admin_port_hint)
{
    char cmd[1024], out[8192];
    snprintf(cmd, sizeof cmd, "timeout 10 %s --port %d --timeout 5000 ping 2>&1", h_bin("featd-cli"),
             F.admin_port);
    long long t0 = h_now_ms();
    int rc = run_cmd(cmd, out, sizeof out);
    ck_assert_msg(rc != 0 && rc != 124, "exit %d: %s", rc, out);
    ck_assert_msg(strstr(out, "admin (HTTP) port") != NULL && strstr(out, "server.listen") != NULL, "%s", out);
    ck_assert_msg(h_now_ms() - t0 < 4000, "the hint took %lld ms", h_now_ms() - t0);
    ck_assert_double_ge(h_admin_metric(F.admin_port, "featd_admin_not_http_connections_total"), 1);
    char *page = h_admin_get(F.admin_port, "/healthz");
    ck_assert_ptr_nonnull(page);
    free(page);
}
END_TEST

/* `featd-cli get --json` and the HTTP lookup on the serving port answer the
 * same lookup with the same document: join-key columns first, bare names
 * (and "view__feature" with --full-feature-names / full_feature_names). */
START_TEST(get_json_matches_http)
{
    static const struct {
        const char *cli_args, *body;
    } cases[] = {
        { "get -f customer_stats:revenue_30d,customer_stats:is_vip,customer_stats:order_count_30d "
          "-e customer_id=1,2,999 --json",
          "{\"features\": [\"customer_stats:revenue_30d\", \"customer_stats:is_vip\", "
          "\"customer_stats:order_count_30d\"], \"entities\": {\"customer_id\": [1, 2, 999]}}" },
        { "get -f merchant_profile:category,merchant_profile:tags -e merchant_id=m001,m002 "
          "-e country=FR,US --json --full-feature-names",
          "{\"features\": [\"merchant_profile:category\", \"merchant_profile:tags\"], "
          "\"entities\": {\"merchant_id\": [\"m001\", \"m002\"], \"country\": [\"FR\", \"US\"]}, "
          "\"full_feature_names\": true}" },
    };
    /* the first load of both views */
    long long deadline = h_now_ms() + 20000;
    while ((h_admin_metric(F.admin_port, "featd_materializer_generation{view=\"customer_stats\"}") <= 0 ||
            h_admin_metric(F.admin_port, "featd_materializer_generation{view=\"merchant_profile\"}") <= 0) &&
           h_now_ms() < deadline) {
        h_sleep_ms(50);
    }
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char cmd[2048], out[16384], hout[16384];
        snprintf(cmd, sizeof cmd, "%s --port %d %s", h_bin("featd-cli"), F.port, cases[i].cli_args);
        ck_assert_int_eq(run_cmd(cmd, out, sizeof out), 0);
        snprintf(cmd, sizeof cmd, "curl -s -X POST --data-binary '%s' "
                 "http://127.0.0.1:%d/get-online-features", cases[i].body, F.port);
        ck_assert_int_eq(run_cmd(cmd, hout, sizeof hout), 0);
        json_error_t je;
        json_t *a = json_loads(out, 0, &je), *b = json_loads(hout, 0, &je);
        ck_assert_msg(a != NULL && b != NULL, "not JSON: %s / %s", out, hout);
        ck_assert_msg(json_equal(a, b), "featd-cli get --json:\n%s\nHTTP:\n%s", out, hout);
        json_t *names = json_object_get(json_object_get(a, "metadata"), "feature_names");
        ck_assert_str_eq(json_string_value(json_array_get(names, 0)),
                         i == 0 ? "customer_id" : "merchant_id");
        ck_assert_str_eq(json_string_value(json_array_get(names, i == 0 ? 1 : 2)),
                         i == 0 ? "revenue_30d" : "merchant_profile__category");
        json_decref(a);
        json_decref(b);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("e2e_newcomer");
    TCase *tc = tcase_create("newcomer");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, gauges_after_first_load);
    tcase_add_test(tc, status_never_applied);
    tcase_add_test(tc, get_json_matches_http);
    tcase_add_test(tc, admin_port_hint);
    tcase_add_test(tc, second_featd_refused);
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
