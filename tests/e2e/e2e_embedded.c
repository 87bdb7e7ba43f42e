/*
 * e2e_embedded.c — featd with no redis.url: its private redis-server child
 * on <data_dir>/redis.sock, driven through the real featd-cli binary (load,
 * get --json, views, errors), persistence across a restart, and the child
 * dying with featd (also on kill -9).
 */
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "harness.h"

static struct h_featd F;
static char dir[256];
static char cfg_json[4096];
static char cfg_path[512];
static char rows_path[512];
static char sock_path[512];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    fputs(text, f);
    fclose(f);
}

/* Runs a shell command; captures stdout into out (cap); returns exit status. */
static int run(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int run(char *out, size_t cap, const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    FILE *p = popen(cmd, "r");
    ck_assert_msg(p != NULL, "popen %s", cmd);
    size_t n = 0;
    if (out && cap) {
        n = fread(out, 1, cap - 1, p);
        out[n] = '\0';
    } else {
        char sink[4096];
        while (fread(sink, 1, sizeof(sink), p) > 0) {
        }
    }
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static bool sock_answers(void)
{
    struct timeval tv = { 0, 300000 };
    redisContext *c = redisConnectUnixWithTimeout(sock_path, tv);
    bool ok = false;
    if (c && !c->err) {
        redisReply *r = redisCommand(c, "PING");
        ok = r && r->type == REDIS_REPLY_STATUS;
        if (r) {
            freeReplyObject(r);
        }
    }
    if (c) {
        redisFree(c);
    }
    return ok;
}

static void setup(void)
{
    h_tempdir(dir, "emb");
    int port = h_free_port(), admin = h_free_port();
    snprintf(cfg_json, sizeof(cfg_json),
             "{ \"server\": { \"listen\": \"127.0.0.1:%d\", \"admin_listen\": \"127.0.0.1:%d\","
             "    \"workers\": 1, \"data_dir\": \"%s/data\" },"
             "  \"entities\": [ { \"name\": \"user\", \"join_keys\": [ { \"name\": \"user_id\", \"type\": \"int64\" } ] } ],"
             "  \"feature_views\": [ { \"name\": \"stats\", \"entities\": [\"user\"], \"ttl_seconds\": 0,"
             "      \"features\": [ { \"name\": \"clicks\", \"type\": \"int64\" },"
             "                      { \"name\": \"city\", \"type\": \"string\" },"
             "                      { \"name\": \"vec\", \"type\": \"float_list\" } ] } ] }",
             port, admin, dir);
    snprintf(cfg_path, sizeof(cfg_path), "%s/featd.json", dir);
    snprintf(rows_path, sizeof(rows_path), "%s/rows.jsonl", dir);
    snprintf(sock_path, sizeof(sock_path), "%s/data/redis.sock", dir);
    write_file(cfg_path, cfg_json);
    write_file(rows_path,
               "{\"user_id\": 1, \"event_timestamp\": \"2026-11-21T10:00:00Z\", \"clicks\": 10, \"city\": \"Paris\", \"vec\": [0.5, -1.25]}\n"
               "{\"user_id\": 2, \"event_timestamp\": 1763719200000000, \"clicks\": null, \"city\": \"Lyon\", \"vec\": []}\n");
    h_featd_start(&F, cfg_json);
}

static void teardown(void)
{
    h_featd_stop(&F);
}

static json_t *get_json(const char *entities)
{
    static char out[65536];
    int rc = run(out, sizeof(out), "%s --port %d get --features stats:* --entity %s --json 2>&1",
                 h_bin("featd-cli"), F.port, entities);
    ck_assert_msg(rc == 0, "featd-cli get exited %d: %s", rc, out);
    json_error_t jerr;
    json_t *j = json_loads(out, 0, &jerr);
    ck_assert_msg(j != NULL, "featd-cli get --json is not JSON (%s): %s", jerr.text, out);
    return j;
}

/* results[] entry of feature name in a Feast-shaped response. */
static json_t *result_of(json_t *j, const char *name)
{
    json_t *names = json_object_get(json_object_get(j, "metadata"), "feature_names");
    for (size_t i = 0; i < json_array_size(names); i++) {
        if (strcmp(json_string_value(json_array_get(names, i)), name) == 0) {
            return json_array_get(json_object_get(j, "results"), i);
        }
    }
    ck_abort_msg("feature %s not in response", name);
    return NULL;
}

START_TEST(test_embedded_cli_roundtrip)
{
    ck_assert_msg(sock_answers(), "embedded redis does not answer on %s", sock_path);
    char out[8192];
    int rc = run(out, sizeof(out), "%s load --config %s --view stats --file %s --mode snapshot 2>&1",
                 h_bin("featd-cli"), cfg_path, rows_path);
    ck_assert_msg(rc == 0, "load exited %d: %s", rc, out);
    /* the generation the load published */
    const char *gp = strstr(out, "snapshot generation ");
    ck_assert_msg(gp != NULL, "load: %s", out);
    unsigned long long loaded_gen = strtoull(gp + strlen("snapshot generation "), NULL, 10);
    ck_assert_uint_ne(loaded_gen, 0);
    ck_assert_msg(strstr(out, "2 written") != NULL, "%s", out);

    json_t *j = get_json("user_id=1,2,3");
    json_t *clicks = result_of(j, "clicks");
    ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(clicks, "values"), 0)), 10);
    ck_assert(json_is_null(json_array_get(json_object_get(clicks, "values"), 1)));
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(clicks, "statuses"), 0)), "PRESENT");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(clicks, "statuses"), 1)), "NULL_VALUE");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(clicks, "statuses"), 2)), "NOT_FOUND");
    json_t *city = result_of(j, "city");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(city, "values"), 1)), "Lyon");
    json_t *vec = json_array_get(json_object_get(result_of(j, "vec"), "values"), 0);
    ck_assert_uint_eq(json_array_size(vec), 2);
    ck_assert(json_real_value(json_array_get(vec, 1)) == -1.25);
    ck_assert_uint_eq(json_array_size(json_array_get(json_object_get(result_of(j, "vec"), "values"), 1)), 0);
    json_decref(j);

    /* views shows the generation the load published (the cache refreshes each second) */
    bool gen1 = false;
    char want_gen[64];
    snprintf(want_gen, sizeof(want_gen), "generation:   %llu", loaded_gen);
    for (int i = 0; i < 30 && !gen1; i++) {
        run(out, sizeof(out), "%s --port %d views 2>&1", h_bin("featd-cli"), F.port);
        gen1 = strstr(out, want_gen) != NULL;
        if (!gen1) {
            usleep(100000);
        }
    }
    ck_assert_msg(gen1, "views: %s", out);

    /* errors: a bad feature (exit 1, message), a bad line (nothing written) */
    rc = run(out, sizeof(out), "%s --port %d get --features stats:nope --entity user_id=1 2>&1",
             h_bin("featd-cli"), F.port);
    ck_assert_int_eq(rc, 1);
    ck_assert_msg(strstr(out, "INVALID_ARGUMENT") && strstr(out, "no feature \"nope\""), "%s", out);
    char bad[600];
    snprintf(bad, sizeof(bad), "%s/bad.jsonl", dir);
    write_file(bad, "{\"user_id\": 1, \"event_timestamp\": 1, \"clicks\": 99}\n"
                    "{\"user_id\": 7, \"event_timestamp\": 1, \"clicks\": \"many\"}\n");
    rc = run(out, sizeof(out), "%s load --config %s --view stats --file %s 2>&1", h_bin("featd-cli"),
             cfg_path, bad);
    ck_assert_int_eq(rc, 1);
    ck_assert_msg(strstr(out, "line 2") != NULL, "%s", out);
    j = get_json("user_id=1");
    ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(result_of(j, "clicks"), "values"), 0)), 10);
    json_decref(j);
    rc = run(out, sizeof(out), "%s --port %d get --features stats:clicks 2>&1", h_bin("featd-cli"), F.port);
    ck_assert_int_eq(rc, 2);
}
END_TEST

START_TEST(test_embedded_persists_and_dies_with_featd)
{
    char out[4096];
    int rc = run(out, sizeof(out), "%s load --config %s --view stats --file %s --mode snapshot 2>&1",
                 h_bin("featd-cli"), cfg_path, rows_path);
    ck_assert_msg(rc == 0, "load: %s", out);
    /* graceful stop: the child is stopped (and saves), the socket goes quiet */
    ck_assert_int_eq(h_featd_signal_wait(&F, SIGTERM), 0);
    ck_assert_msg(!sock_answers(), "embedded redis still answers after featd stopped");
    /* restart on the same data dir: the rows are still there */
    h_featd_start(&F, cfg_json);
    json_t *j = get_json("user_id=1");
    ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(result_of(j, "clicks"), "values"), 0)), 10);
    json_decref(j);
    /* kill -9: the child follows (parent-death signal) */
    kill(F.pid, SIGKILL);
    waitpid(F.pid, NULL, 0);
    F.pid = 0;
    bool gone = false;
    for (int i = 0; i < 50 && !gone; i++) {
        gone = !sock_answers();
        if (!gone) {
            usleep(100000);
        }
    }
    ck_assert_msg(gone, "embedded redis outlived a killed featd");
}
END_TEST

static Suite *embedded_suite(void)
{
    Suite *s = suite_create("e2e_embedded");
    TCase *tc = tcase_create("embedded");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_embedded_cli_roundtrip);
    tcase_add_test(tc, test_embedded_persists_and_dies_with_featd);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(embedded_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
