/*
 * e2e_acl.c — Redis ACL users (redis.username + redis.password, `AUTH user
 * pass`) against a real redis-server whose default user needs a password
 * (requirepass) and whose ACL user "featd" has a password with spaces:
 * featd serves and materializes (workers' async links, the materializer's
 * blocking connection), featd-cli load writes, every connection featd
 * makes is the ACL user; with a wrong password the errors name the user and
 * never the password.
 */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "harness.h"

#define ACL_USER "featd"
#define ACL_PASS "s3cret with spaces"
#define ADMIN_PASS "admin-pw"
#define WRONG_PASS "wrong horse battery"

static struct h_redis R;
static char dir[256];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    fputs(text, f);
    fclose(f);
}

/* Runs a shell command; stdout+stderr into out (cap); returns the exit status. */
static int run(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int run(char *out, size_t cap, const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    FILE *p = popen(cmd, "r");
    ck_assert_msg(p != NULL, "popen %s", cmd);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* The whole featd log (static buffer). */
static const char *read_log(const struct h_featd *f)
{
    static char buf[1 << 16];
    buf[0] = '\0';
    FILE *fp = fopen(f->log_path, "r");
    if (fp != NULL) {
        size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
        buf[n] = '\0';
        fclose(fp);
    }
    return buf;
}

/* A config for featd on fresh ports against R as user ACL_USER with
 * password pass; customer_stats materializes from examples/data, notes is
 * written by featd-cli load. Written to <dir>/featd-<tag>.json as well. */
static void make_config(char *out, size_t cap, const char *pass, const char *tag, char *path,
                        size_t pathcap)
{
    char src[PATH_MAX];
    ck_assert_msg(realpath("examples/data/customer_stats", src) != NULL,
                  "examples/data/customer_stats: %s (run from the repo root)", strerror(errno));
    snprintf(out, cap,
             "{ \"server\": { \"listen\": \"127.0.0.1:%d\", \"admin_listen\": \"127.0.0.1:%d\","
             "    \"workers\": 2, \"data_dir\": \"%s/data-%s\" },"
             "  \"redis\": { \"url\": \"redis://127.0.0.1:%d\", \"username\": \"" ACL_USER "\","
             "    \"password\": \"%s\", \"key_prefix\": \"acl\", \"eviction\": \"allow\" },"
             "  \"entities\": [ { \"name\": \"customer\", \"join_keys\": [ { \"name\": \"customer_id\", \"type\": \"int64\" } ] } ],"
             "  \"feature_views\": ["
             "    { \"name\": \"customer_stats\", \"entities\": [\"customer\"], \"ttl_seconds\": 0,"
             "      \"features\": [ { \"name\": \"revenue_30d\", \"type\": \"double\" },"
             "                      { \"name\": \"order_count_30d\", \"type\": \"int64\" } ],"
             "      \"source\": { \"path\": \"%s\", \"event_timestamp_column\": \"event_time\","
             "                  \"created_timestamp_column\": \"created_at\","
             "                  \"columns\": { \"revenue_30d\": \"rev_30d\" } },"
             "      \"materialization\": { \"mode\": \"snapshot\", \"interval_seconds\": 1 } },"
             "    { \"name\": \"notes\", \"entities\": [\"customer\"], \"ttl_seconds\": 0,"
             "      \"features\": [ { \"name\": \"note\", \"type\": \"string\" } ] } ] }",
             h_free_port(), h_free_port(), dir, tag, R.port, pass, src);
    snprintf(path, pathcap, "%s/featd-%s.json", dir, tag);
    write_file(path, out);
}

static void setup(void)
{
    h_redis_start(&R);
    h_tempdir(dir, "acl");
    redisReply *r = h_redis_cmd(&R, "ACL SETUSER " ACL_USER " on >%s ~* &* +@all", ACL_PASS);
    ck_assert_msg(r != NULL && r->type == REDIS_REPLY_STATUS, "ACL SETUSER failed: %s",
                  r && r->str ? r->str : "no reply");
    freeReplyObject(r);
    r = h_redis_cmd(&R, "CONFIG SET requirepass %s", ADMIN_PASS);
    ck_assert_msg(r != NULL && r->type == REDIS_REPLY_STATUS, "CONFIG SET requirepass failed");
    freeReplyObject(r);
    /* the default user now needs its password; the ACL user has its own */
    r = h_redis_cmd(&R, "PING");
    ck_assert_msg(r != NULL && r->type == REDIS_REPLY_ERROR && strstr(r->str, "NOAUTH"),
                  "PING without AUTH should fail");
    freeReplyObject(r);
    r = h_redis_cmd_auth(&R, ACL_USER, ACL_PASS, "PING");
    ck_assert_msg(r != NULL && r->type == REDIS_REPLY_STATUS, "PING as " ACL_USER " failed");
    freeReplyObject(r);
}

static void teardown(void)
{
    h_redis_stop(&R);
}

START_TEST(test_acl_user_serves_and_materializes)
{
    char cfg[8192], cfg_path[512], out[16384];
    make_config(cfg, sizeof(cfg), ACL_PASS, "good", cfg_path, sizeof(cfg_path));
    struct h_featd F;
    h_featd_start(&F, cfg);

    /* the materializer thread (blocking connection, AUTH user pass)
     * writes the snapshot; the workers (async links) serve it */
    bool served = false;
    for (int i = 0; i < 150 && !served; i++) {
        int rc = run(out, sizeof(out), "%s --port %d get --features customer_stats:* "
                     "--entity customer_id=1,2 --json 2>&1", h_bin("featd-cli"), F.port);
        served = rc == 0 && strstr(out, "1619.16") != NULL && strstr(out, "1203.32") != NULL;
        if (!served) {
            sleep_ms(100);
        }
    }
    ck_assert_msg(served, "customer_stats never served the snapshot; last answer: %s\nlog:\n%s",
                  out, read_log(&F));

    /* featd-cli load: its own blocking connection as the ACL user */
    char rows[512];
    snprintf(rows, sizeof(rows), "%s/notes.jsonl", dir);
    write_file(rows, "{\"customer_id\": 7, \"event_timestamp\": \"2026-11-21T10:00:00Z\", "
                     "\"note\": \"acl ok\"}\n");
    int rc = run(out, sizeof(out), "%s load --config %s --view notes --file %s 2>&1",
                 h_bin("featd-cli"), cfg_path, rows);
    ck_assert_msg(rc == 0, "featd-cli load as " ACL_USER " exited %d: %s", rc, out);
    rc = run(out, sizeof(out), "%s --port %d get --features notes:note --entity customer_id=7 "
             "--json 2>&1", h_bin("featd-cli"), F.port);
    ck_assert_msg(rc == 0 && strstr(out, "acl ok") != NULL, "notes lookup: %s", out);

    /* every connection featd has open is the ACL user's */
    redisReply *r = h_redis_cmd_auth(&R, NULL, ADMIN_PASS, "CLIENT LIST");
    ck_assert_msg(r != NULL && r->type == REDIS_REPLY_STRING, "CLIENT LIST failed");
    int featd_conns = 0, others = 0;
    for (char *line = strtok(r->str, "\n"); line; line = strtok(NULL, "\n")) {
        if (strstr(line, " user=" ACL_USER " ")) {
            featd_conns++;
        } else if (strstr(line, "cmd=client|list") == NULL && strstr(line, "cmd=client ") == NULL) {
            others++;
        }
    }
    freeReplyObject(r);
    ck_assert_msg(featd_conns >= 2, "expected the workers' links as user " ACL_USER ", found %d",
                  featd_conns);
    ck_assert_int_eq(others, 0);
    const char *log = read_log(&F);
    ck_assert_msg(strstr(log, ACL_PASS) == NULL, "the password is in the log:\n%s", log);
    h_featd_stop(&F);
}
END_TEST

START_TEST(test_acl_wrong_password_names_user_not_password)
{
    char cfg[8192], cfg_path[512], out[16384];
    make_config(cfg, sizeof(cfg), WRONG_PASS, "bad", cfg_path, sizeof(cfg_path));
    struct h_featd F;
    h_featd_start(&F, cfg);
    /* the workers' links and the materializer are refused; both say who */
    bool link_seen = false, mat_seen = false;
    const char *log = "";
    for (int i = 0; i < 100 && !(link_seen && mat_seen); i++) {
        log = read_log(&F);
        link_seen = strstr(log, "refused setup (user \"" ACL_USER "\"): WRONGPASS") != NULL;
        mat_seen = strstr(log, "AUTH as user \"" ACL_USER "\" failed: WRONGPASS") != NULL;
        if (!(link_seen && mat_seen)) {
            sleep_ms(100);
        }
    }
    ck_assert_msg(link_seen && mat_seen, "no AUTH error naming the user in the log:\n%s", log);
    ck_assert_msg(strstr(log, WRONG_PASS) == NULL, "the password is in the log:\n%s", log);
    int rc = run(out, sizeof(out), "%s --port %d get --features customer_stats:revenue_30d "
                 "--entity customer_id=1 2>&1", h_bin("featd-cli"), F.port);
    ck_assert_msg(rc != 0, "a lookup succeeded without Redis: %s", out);
    h_featd_stop(&F);

    /* featd-cli load: a one-line error naming the endpoint and the user */
    char rows[512];
    snprintf(rows, sizeof(rows), "%s/notes.jsonl", dir);
    write_file(rows, "{\"customer_id\": 7, \"event_timestamp\": \"2026-11-21T10:00:00Z\", "
                     "\"note\": \"x\"}\n");
    rc = run(out, sizeof(out), "%s load --config %s --view notes --file %s 2>&1",
             h_bin("featd-cli"), cfg_path, rows);
    ck_assert_msg(rc == 1, "featd-cli load with a wrong password exited %d: %s", rc, out);
    char want[128];
    snprintf(want, sizeof(want), "redis 127.0.0.1:%d: AUTH as user \"" ACL_USER "\" failed: "
             "WRONGPASS", R.port);
    ck_assert_msg(strstr(out, want) != NULL, "expected '%s' in: %s", want, out);
    ck_assert_msg(strstr(out, WRONG_PASS) == NULL, "the password is in the error: %s", out);
}
END_TEST

static Suite *acl_suite(void)
{
    Suite *s = suite_create("e2e_acl");
    TCase *tc = tcase_create("acl");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_acl_user_serves_and_materializes);
    tcase_add_test(tc, test_acl_wrong_password_names_user_not_password);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(acl_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
