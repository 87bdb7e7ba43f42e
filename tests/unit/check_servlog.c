/*
 * check_servlog.c — the serving log's parts: the bounded queue (a full
 * queue drops and counts, never blocks; lines come out in order), file
 * rotation (path.1 .. path.keep kept, older ones gone), the serving_log
 * config key, and the writer thread end to end (lines written, flushed at
 * stop).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "core/featd.h"
#include "core/util.h"
#include "servlog/servlog.h"
#include "servlog/servlog_file.h"
#include "servlog/servlog_queue.h"

static char *line_of(int i, size_t *len)
{
    char *s = malloc(32);
    ck_assert_ptr_nonnull(s);
    *len = (size_t)snprintf(s, 32, "line %d\n", i);
    return s;
}

START_TEST(test_queue_full)
{
    struct servlog_queue q;
    ck_assert_int_eq(servlog_queue_init(&q, 4, 1 << 20), FEATD_OK);
    size_t len;
    for (int i = 0; i < 4; i++) {
        char *s = line_of(i, &len);
        ck_assert(servlog_queue_push(&q, s, len));
    }
    for (int i = 4; i < 10; i++) {
        char *s = line_of(i, &len);
        ck_assert(!servlog_queue_push(&q, s, len));     /* full: dropped, freed */
    }
    ck_assert_uint_eq(atomic_load(&q.dropped), 6);
    char *out;
    for (int i = 0; i < 4; i++) {
        ck_assert(servlog_queue_pop(&q, &out, &len));
        char want[32];
        snprintf(want, sizeof(want), "line %d\n", i);
        ck_assert_str_eq(out, want);
        free(out);
    }
    ck_assert(!servlog_queue_pop(&q, &out, &len));
    /* room again, across the wrap */
    for (int i = 0; i < 6; i++) {
        char *s = line_of(i, &len);
        ck_assert(servlog_queue_push(&q, s, len));
        ck_assert(servlog_queue_pop(&q, &out, &len));
        free(out);
    }
    servlog_queue_free(&q);

    /* the byte bound */
    ck_assert_int_eq(servlog_queue_init(&q, 64, 16), FEATD_OK);
    char *s = line_of(1, &len);             /* 7 bytes */
    ck_assert(servlog_queue_push(&q, s, len));
    s = line_of(2, &len);
    ck_assert(servlog_queue_push(&q, s, len));
    s = line_of(3, &len);
    ck_assert(!servlog_queue_push(&q, s, len));
    ck_assert_uint_eq(atomic_load(&q.dropped), 1);
    servlog_queue_free(&q);                 /* frees the queued lines */
}
END_TEST

static bool exists(const char *dir, const char *name)
{
    char p[512];
    struct stat st;
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    return stat(p, &st) == 0;
}

START_TEST(test_rotation)
{
    char dir[] = "/tmp/check_servlog.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[512], err[256];
    snprintf(path, sizeof(path), "%s/serving.log", dir);
    struct servlog_file f;
    servlog_file_init(&f, path, 100, 3);
    ck_assert_int_eq(servlog_file_open(&f, err, sizeof(err)), FEATD_OK);
    char line[41];
    memset(line, 'x', 39);
    line[39] = '\n';
    line[40] = '\0';
    for (int i = 0; i < 20; i++) {           /* 2 lines (80 bytes) per file: 10 files' worth */
        ck_assert_int_eq(servlog_file_write(&f, line, 40, err, sizeof(err)), FEATD_OK);
        ck_assert_uint_le(f.size, 100);
    }
    ck_assert_uint_eq(f.rotations, 9);
    ck_assert(exists(dir, "serving.log"));
    ck_assert(exists(dir, "serving.log.1"));
    ck_assert(exists(dir, "serving.log.2"));
    ck_assert(exists(dir, "serving.log.3"));
    ck_assert(!exists(dir, "serving.log.4"));
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_size, 80);
    servlog_file_free(&f);
    const char *names[] = { "serving.log", "serving.log.1", "serving.log.2", "serving.log.3" };
    for (size_t i = 0; i < 4; i++) {
        char p[600];
        snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
}
END_TEST

#define CFG_HEAD "{ \"entities\": [ { \"name\": \"u\", \"join_keys\": [ { \"name\": \"id\", \"type\": \"int64\" } ] } ]," \
                 " \"feature_views\": [ { \"name\": \"v\", \"entities\": [\"u\"], " \
                 "\"features\": [ { \"name\": \"d\", \"type\": \"double\" } ] } ]"

static struct featd_config *load(const char *extra, char *err, size_t errlen)
{
    char json[4096];
    snprintf(json, sizeof(json), CFG_HEAD "%s }", extra);
    struct featd_config *cfg = NULL;
    return config_load_string(json, &cfg, err, errlen) == FEATD_OK ? cfg : NULL;
}

static void bad(const char *extra, const char *want)
{
    char err[4096];
    struct featd_config *cfg = load(extra, err, sizeof(err));
    ck_assert_msg(cfg == NULL, "accepted %s", extra);
    ck_assert_msg(strstr(err, want) != NULL, "error \"%s\" lacks \"%s\"", err, want);
}

START_TEST(test_config)
{
    char err[4096];
    struct featd_config *cfg = load("", err, sizeof(err));
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert(!cfg->serving_log.enabled);
    ck_assert(cfg->serving_log.sample_rate == 0);
    config_free(cfg);
    cfg = load(", \"serving_log\": { \"path\": \"/tmp/s.log\" }", err, sizeof(err));
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert(cfg->serving_log.enabled);
    ck_assert_str_eq(cfg->serving_log.path, "/tmp/s.log");
    ck_assert(cfg->serving_log.sample_rate == 0.01);
    ck_assert_uint_eq(cfg->serving_log.max_bytes, 104857600);
    ck_assert_int_eq(cfg->serving_log.keep, 5);
    config_free(cfg);
    cfg = load(", \"serving_log\": { \"path\": \"x\", \"sample_rate\": 0, \"max_bytes\": 4096, \"keep\": 1 }",
               err, sizeof(err));
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert(cfg->serving_log.sample_rate == 0);
    ck_assert_uint_eq(cfg->serving_log.max_bytes, 4096);
    ck_assert_int_eq(cfg->serving_log.keep, 1);
    config_free(cfg);
    cfg = load(", \"serving_log\": null", err, sizeof(err));
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert(!cfg->serving_log.enabled);
    config_free(cfg);
    bad(", \"serving_log\": { \"sample_rate\": 0.5 }", "$.serving_log.path: ");
    bad(", \"serving_log\": { \"path\": \"x\", \"sample_rate\": -0.1 }",
        "$.serving_log.sample_rate: -0.1 is out of range (expected 0..1)");
    bad(", \"serving_log\": { \"path\": \"x\", \"sample_rate\": \"1\" }",
        "$.serving_log.sample_rate: expected a number");
    bad(", \"serving_log\": { \"path\": \"x\", \"max_bytes\": 10 }", "$.serving_log.max_bytes");
    bad(", \"serving_log\": { \"path\": \"x\", \"keep\": 0 }", "$.serving_log.keep");
    bad(", \"serving_log\": { \"path\": \"x\", \"kep\": 2 }", "unknown key \"kep\"");
    bad(", \"serving_log\": 3", "$.serving_log: expected an object");
}
END_TEST

START_TEST(test_writer)
{
    char dir[] = "/tmp/check_servlog.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char extra[600], err[4096], path[512];
    snprintf(path, sizeof(path), "%s/s.log", dir);
    snprintf(extra, sizeof(extra), ", \"serving_log\": { \"path\": \"%s\", \"sample_rate\": 1 }", path);
    struct featd_config *cfg = load(extra, err, sizeof(err));
    ck_assert_msg(cfg != NULL, "%s", err);
    uint64_t lost0 = servlog_dropped_total();
    size_t len;
    char *l0 = line_of(0, &len);
    servlog_submit(l0, len);                        /* not running yet: dropped */
    ck_assert_uint_eq(servlog_dropped_total(), lost0 + 1);
    ck_assert_int_eq(servlog_apply(cfg, err, sizeof(err)), FEATD_OK);
    for (int i = 0; i < 100; i++) {
        char *l = line_of(i, &len);
        servlog_submit(l, len);
    }
    servlog_stop();
    ck_assert_uint_eq(servlog_lines_total(), 100);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char buf[64];
    int n = 0;
    while (fgets(buf, sizeof(buf), f)) {
        char want[32];
        snprintf(want, sizeof(want), "line %d\n", n);
        ck_assert_str_eq(buf, want);
        n++;
    }
    fclose(f);
    ck_assert_int_eq(n, 100);
    unlink(path);
    rmdir(dir);
    config_free(cfg);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("servlog");
    TCase *tc = tcase_create("servlog");
    tcase_add_test(tc, test_queue_full);
    tcase_add_test(tc, test_rotation);
    tcase_add_test(tc, test_config);
    tcase_add_test(tc, test_writer);
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
