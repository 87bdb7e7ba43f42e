/*
 * e2e_stream.c — a view fed by a Redis Stream (DESIGN §11) end to end: a
 * real redis-server (and a real Redis Cluster), the real featd consuming
 * with its group, entries written by this test with XADD. Checks: 5,000
 * entries servable; last-write-wins by event time whatever the order;
 * malformed entries in "<key>:dead" with their reasons while the good ones
 * around them apply; kill -9 during a 20,000-entry burst and a restart
 * (nothing lost, exactly the LWW result); a Redis restart mid-stream; a
 * stream on a Redis Cluster; the metrics.
 */
#include <check.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "featd_client.h"
#include "harness.h"
#include "harness_cluster.h"
#include "redis/rslot.h"

#define KEY "ev:sv"

#define CFG_FMT \
    "{ \"server\": { \"listen\": \"127.0.0.1:%d\", \"admin_listen\": \"127.0.0.1:%d\", \"workers\": 2," \
    "    \"max_entities_per_request\": 1000, \"log_level\": \"info\" }," \
    "  \"redis\": { %s, \"key_prefix\": \"se2e\" }," \
    "  \"entities\": [ { \"name\": \"user\", \"join_keys\": [ { \"name\": \"user_id\", \"type\": \"int64\" } ] } ]," \
    "  \"feature_views\": [" \
    "    { \"name\": \"sv\", \"entities\": [\"user\"], \"features\": [" \
    "        { \"name\": \"v\", \"type\": \"int64\" }," \
    "        { \"name\": \"d\", \"type\": \"double\", \"expect\": { \"min\": 0 } }," \
    "        { \"name\": \"tags\", \"type\": \"string_list\" } ]," \
    "      \"source\": { \"stream\": { \"key\": \"%s\", \"group\": \"g1\" } } } ] }"

static struct h_redis R;
static struct h_featd F;
static char cfg_json[4096];

static void make_cfg(const char *redis_json, const char *key)
{
    snprintf(cfg_json, sizeof cfg_json, CFG_FMT, h_free_port(), h_free_port(), redis_json, key);
}

static void setup(void)
{
    h_redis_start(&R);
    char rj[128];
    snprintf(rj, sizeof rj, "\"url\": \"redis://127.0.0.1:%d/0\"", R.port);
    make_cfg(rj, KEY);
    h_featd_start(&F, cfg_json);
}

static void teardown(void)
{
    h_featd_stop(&F);
    h_redis_stop(&R);
}

static redisContext *rconn(int port)
{
    redisContext *c = redisConnect("127.0.0.1", port);
    ck_assert_msg(c != NULL && c->err == 0, "connect redis %d", port);
    return c;
}

/* Pipelines XADD key * user_id U event_timestamp T v V d 1.5 tags [...] for
 * n entries (users[i], ts[i], vals[i]). */
static void xadd_many(redisContext *c, const char *key, size_t n, const int64_t *users,
                      const int64_t *ts, const int64_t *vals)
{
    for (size_t i = 0; i < n; i++) {
        ck_assert(redisAppendCommand(c, "XADD %s * user_id %lld event_timestamp %lld v %lld d 1.5 tags %s",
                                     key, (long long)users[i], (long long)ts[i], (long long)vals[i],
                                     "[\"a\",\"b\"]") == REDIS_OK);
    }
    for (size_t i = 0; i < n; i++) {
        redisReply *r = NULL;
        ck_assert(redisGetReply(c, (void **)&r) == REDIS_OK);
        ck_assert_msg(r->type == REDIS_REPLY_STRING, "XADD: %s", r->type == REDIS_REPLY_ERROR ? r->str : "?");
        freeReplyObject(r);
    }
}

/* Lag and pending of group g1 on key (XINFO GROUPS); false when unknown. */
static bool group_state(redisContext *c, const char *key, long long *lag, long long *pending)
{
    redisReply *r = redisCommand(c, "XINFO GROUPS %s", key);
    bool found = false;
    for (size_t g = 0; r != NULL && r->type == REDIS_REPLY_ARRAY && g < r->elements; g++) {
        redisReply *grp = r->element[g];
        bool ours = false;
        long long l = -1, p = -1;
        for (size_t i = 0; i + 1 < grp->elements; i += 2) {
            const char *k = grp->element[i]->str;
            redisReply *val = grp->element[i + 1];
            if (strcmp(k, "name") == 0) {
                ours = strcmp(val->str, "g1") == 0;
            } else if (strcmp(k, "lag") == 0 && val->type == REDIS_REPLY_INTEGER) {
                l = val->integer;
            } else if (strcmp(k, "pending") == 0) {
                p = val->integer;
            }
        }
        if (ours) {
            *lag = l;
            *pending = p;
            found = true;
        }
    }
    if (r) {
        freeReplyObject(r);
    }
    return found;
}

/* Waits until featd has read and acknowledged every entry of key. */
static void wait_drained(redisContext *c, const char *key, int timeout_ms)
{
    long long lag = -1, pending = -1, until = h_now_ms() + timeout_ms;
    while (h_now_ms() < until) {
        if (group_state(c, key, &lag, &pending) && lag == 0 && pending == 0) {
            return;
        }
        h_sleep_ms(50);
    }
    ck_abort_msg("stream %s not drained: lag %lld, pending %lld", key, lag, pending);
}

/* v of each user from featd (INT64_MIN when not PRESENT). */
static void read_v(int port, size_t n, const int64_t *users, int64_t *out)
{
    char err[256];
    struct featd_client *c = featd_connect("127.0.0.1", port, 5000, err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    for (size_t off = 0; off < n; off += 1000) {
        size_t m = n - off > 1000 ? 1000 : n - off;
        struct featd_get *g = featd_get_new();
        featd_get_add_feature(g, "sv:v");
        for (size_t i = 0; i < m; i++) {
            featd_get_add_int64(g, "user_id", users[off + i]);
        }
        Featd__V1__Response *resp = NULL;
        ck_assert_msg(featd_lookup(c, g, &resp) == FEATD_OK, "lookup: %s", featd_errmsg(c));
        const Featd__V1__GetOnlineFeaturesResponse *r = resp->get_online_features;
        for (size_t i = 0; i < m; i++) {
            const Featd__V1__Value *x = featd_resp_value(r, 0, i);
            out[off + i] = featd_resp_status(r, 0, i) == FEATD__V1__FIELD_STATUS__PRESENT && x ? x->int64_val
                                                                                              : INT64_MIN;
        }
        featd_response_free(resp);
        featd_get_free(g);
    }
    featd_close(c);
}

START_TEST(test_servable_and_lww)
{
    enum { N = 5000 };
    static int64_t users[N], ts[N], vals[N], got[N];
    int64_t now = (int64_t)time(NULL) * 1000000;
    for (int i = 0; i < N; i++) {
        users[i] = i + 1;
        ts[i] = now - 1000000;
        vals[i] = 10 * (i + 1);
    }
    redisContext *c = rconn(R.port);
    xadd_many(c, KEY, N, users, ts, vals);
    wait_drained(c, KEY, 30000);
    read_v(F.port, N, users, got);
    for (int i = 0; i < N; i++) {
        ck_assert_msg(got[i] == vals[i], "user %d: %" PRId64 " != %" PRId64, i + 1, got[i], vals[i]);
    }
    ck_assert_double_eq(h_admin_metric(F.admin_port, "featd_stream_entries_total{view=\"sv\",result=\"written\"}"), N);
    /* older than the stored row: stale; equal: replaces; newer: replaces */
    int64_t u = 1, older = now - 2000000, same = now - 1000000, newer = now, v1 = -7, v2 = 77, v3 = 99;
    xadd_many(c, KEY, 1, &u, &older, &v1);
    wait_drained(c, KEY, 10000);
    read_v(F.port, 1, &u, got);
    ck_assert_int_eq(got[0], 10);
    ck_assert_double_eq(h_admin_metric(F.admin_port, "featd_stream_entries_total{view=\"sv\",result=\"stale\"}"), 1);
    xadd_many(c, KEY, 1, &u, &same, &v2);
    wait_drained(c, KEY, 10000);
    read_v(F.port, 1, &u, got);
    ck_assert_int_eq(got[0], 77);
    xadd_many(c, KEY, 1, &u, &newer, &v3);
    wait_drained(c, KEY, 10000);
    read_v(F.port, 1, &u, got);
    ck_assert_int_eq(got[0], 99);
    double lag = h_admin_metric(F.admin_port, "featd_stream_lag_entries{view=\"sv\"}");
    ck_assert_msg(lag >= 0 && lag < 5, "lag gauge %f", lag);
    ck_assert_double_ge(h_admin_metric(F.admin_port, "featd_write_event_age_seconds_count{view=\"sv\"}"), N);
    redisFree(c);
}
END_TEST

START_TEST(test_dead_letters)
{
    redisContext *c = rconn(R.port);
    long long now = (long long)time(NULL) * 1000000;
    const char *cmds[] = {
        "XADD " KEY " * user_id 1 event_timestamp %lld v 1",
        "XADD " KEY " * user_id 2 event_timestamp %lld v 2 d -5",          /* expect.min */
        "XADD " KEY " * user_id 3 event_timestamp %lld v 3",
        "XADD " KEY " * user_id 4 event_timestamp %lld v 4 colour red",    /* unknown field */
        "XADD " KEY " * user_id 5 v 5 d %lld",                              /* no event time */
        "XADD " KEY " * user_id 6 event_timestamp %lld v 6 tags [1,",      /* bad list */
        "XADD " KEY " * user_id 7 event_timestamp %lld v 7",
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        redisReply *r = redisCommand(c, cmds[i], now);
        ck_assert(r != NULL && r->type == REDIS_REPLY_STRING);
        freeReplyObject(r);
    }
    wait_drained(c, KEY, 10000);
    int64_t users[7] = { 1, 2, 3, 4, 5, 6, 7 }, got[7];
    read_v(F.port, 7, users, got);
    ck_assert_int_eq(got[0], 1);
    ck_assert_int_eq(got[2], 3);
    ck_assert_int_eq(got[6], 7);
    ck_assert(got[1] == INT64_MIN && got[3] == INT64_MIN && got[4] == INT64_MIN && got[5] == INT64_MIN);
    redisReply *r = redisCommand(c, "XRANGE " KEY ":dead - +");
    ck_assert(r != NULL && r->type == REDIS_REPLY_ARRAY);
    ck_assert_int_eq((int)r->elements, 4);
    const char *want[4] = { "expect rule min 0", "unknown field \"colour\"", "missing event_timestamp",
                            "JSON array" };
    for (size_t i = 0; i < 4; i++) {
        redisReply *fields = r->element[i]->element[1];
        const char *reason = NULL, *view = NULL, *user = NULL;
        for (size_t k = 0; k + 1 < fields->elements; k += 2) {
            if (strcmp(fields->element[k]->str, "reason") == 0) {
                reason = fields->element[k + 1]->str;
            } else if (strcmp(fields->element[k]->str, "view") == 0) {
                view = fields->element[k + 1]->str;
            } else if (strcmp(fields->element[k]->str, "user_id") == 0) {
                user = fields->element[k + 1]->str;
            }
        }
        ck_assert_msg(reason != NULL && strstr(reason, want[i]) != NULL, "dead letter %zu: %s", i,
                      reason ? reason : "(no reason)");
        ck_assert_str_eq(view, "sv");
        ck_assert_ptr_nonnull(user);      /* the original fields are kept */
    }
    freeReplyObject(r);
    ck_assert_double_eq(h_admin_metric(F.admin_port, "featd_stream_entries_total{view=\"sv\",result=\"rejected\"}"), 4);
    /* featd-cli materialize status shows the stream's consumer state */
    char cmd[1024], out[8192] = "";
    snprintf(cmd, sizeof cmd, "'%s' materialize status --config '%s' --view sv --json 2>&1",
             h_bin("featd-cli"), F.config_path);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t got_n = fread(out, 1, sizeof out - 1, p);
    out[got_n] = '\0';
    pclose(p);
    ck_assert_msg(strstr(out, "\"dead_letters\": 4") && strstr(out, "\"rejected\": 4") &&
                  strstr(out, "\"written\": 3") && strstr(out, "\"lag\": 0") && strstr(out, "\"pending\": 0"),
                  "%s", out);
    snprintf(cmd, sizeof cmd, "'%s' materialize status --config '%s' --view sv 2>&1", h_bin("featd-cli"),
             F.config_path);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    got_n = fread(out, 1, sizeof out - 1, p);
    out[got_n] = '\0';
    pclose(p);
    ck_assert_msg(strstr(out, "group g1: lag 0 entries, 0 pending, 1 consumer") &&
                  strstr(out, "3 written, 0 stale, 4 rejected (4 in ev:sv:dead)"), "%s", out);
    redisFree(c);
}
END_TEST

/* kill -9 while a 20,000-entry burst is being consumed; the restarted featd
 * (same consumer name) reads its pending entries again: every user ends at
 * the value of its newest event, nothing lost. */
START_TEST(test_kill9_burst)
{
    enum { N = 20000, U = 2000 };
    static int64_t users[N], ts[N], vals[N], best_ts[U + 1], best_v[U + 1], got[U], ulist[U];
    int64_t base = (int64_t)time(NULL) * 1000000 - 3600000000LL;
    srand(7);
    for (int i = 0; i < N; i++) {
        users[i] = 1 + rand() % U;
        ts[i] = base + (int64_t)rand() % 1000000000LL * 1000 / 1000 + i;   /* unique per entry */
        vals[i] = i;
        if (ts[i] > best_ts[users[i]]) {
            best_ts[users[i]] = ts[i];
            best_v[users[i]] = vals[i];
        }
    }
    redisContext *c = rconn(R.port);
    xadd_many(c, KEY, N / 2, users, ts, vals);
    /* kill once part of it is applied */
    long long until = h_now_ms() + 20000;
    while (h_admin_metric(F.admin_port, "featd_stream_entries_total{view=\"sv\",result=\"written\"}") < 1000 &&
           h_now_ms() < until) {
        h_sleep_ms(5);
    }
    kill(F.pid, SIGKILL);
    waitpid(F.pid, NULL, 0);
    F.pid = 0;
    xadd_many(c, KEY, N - N / 2, users + N / 2, ts + N / 2, vals + N / 2);
    long long lag = -1, pending = -1;
    ck_assert(group_state(c, KEY, &lag, &pending));
    ck_assert_msg(lag > 0 || pending > 0, "nothing left to consume after the kill");
    h_featd_start(&F, cfg_json);
    wait_drained(c, KEY, 60000);
    int nu = 0;
    for (int u = 1; u <= U; u++) {
        if (best_ts[u] != 0) {
            ulist[nu++] = u;
        }
    }
    read_v(F.port, (size_t)nu, ulist, got);
    for (int i = 0; i < nu; i++) {
        ck_assert_msg(got[i] == best_v[ulist[i]], "user %" PRId64 ": %" PRId64 " != %" PRId64, ulist[i], got[i],
                      best_v[ulist[i]]);
    }
    redisFree(c);
}
END_TEST

/* Redis goes away mid-stream and comes back (empty): featd makes its group
 * again and applies what is written after. */
START_TEST(test_redis_restart)
{
    enum { N = 200 };
    int64_t users[N], ts[N], vals[N], got[N];
    int64_t now = (int64_t)time(NULL) * 1000000;
    for (int i = 0; i < N; i++) {
        users[i] = i + 1;
        ts[i] = now;
        vals[i] = 1;
    }
    redisContext *c = rconn(R.port);
    xadd_many(c, KEY, N, users, ts, vals);
    wait_drained(c, KEY, 10000);
    redisFree(c);
    h_redis_stop(&R);
    h_sleep_ms(1500);
    h_redis_restart(&R);
    c = rconn(R.port);
    for (int i = 0; i < N; i++) {
        vals[i] = 2;
    }
    xadd_many(c, KEY, N, users, ts, vals);
    wait_drained(c, KEY, 30000);
    read_v(F.port, N, users, got);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(got[i], 2);
    }
    redisFree(c);
}
END_TEST

/* On a Redis Cluster: the hash-tagged stream and its dead letters on one
 * slot, rows on their entities' masters. */
START_TEST(test_cluster)
{
    struct hcluster C;
    memset(&C, 0, sizeof C);
    ck_assert_msg(harness_cluster_start(&C, 3, 0), "cannot start a Redis Cluster");
    struct h_featd FC;
    char rj[128];
    snprintf(rj, sizeof rj, "\"cluster_nodes\": [\"127.0.0.1:%d\"]", C.nodes[0].port);
    make_cfg(rj, "{ev}:sv");
    h_featd_start(&FC, cfg_json);
    const char *key = "{ev}:sv";
    int owner = harness_cluster_slot_owner(&C, 0, rslot_of_key(key, strlen(key)));
    ck_assert_int_ge(owner, 0);
    redisContext *c = rconn(C.nodes[owner].port);
    enum { N = 1000 };
    static int64_t users[N], ts[N], vals[N], got[N];
    int64_t now = (int64_t)time(NULL) * 1000000;
    for (int i = 0; i < N; i++) {
        users[i] = 100 + i;
        ts[i] = now;
        vals[i] = 5 * i;
    }
    xadd_many(c, key, N, users, ts, vals);
    redisReply *r = redisCommand(c, "XADD %s * user_id 1 event_timestamp %lld v x", key, (long long)now);
    ck_assert(r != NULL && r->type == REDIS_REPLY_STRING);
    freeReplyObject(r);
    wait_drained(c, key, 30000);
    read_v(FC.port, N, users, got);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(got[i], 5 * i);
    }
    r = redisCommand(c, "XLEN {ev}:sv:dead");
    ck_assert(r != NULL && r->type == REDIS_REPLY_INTEGER);
    ck_assert_int_eq(r->integer, 1);
    freeReplyObject(r);
    redisFree(c);
    h_featd_stop(&FC);
    harness_cluster_stop(&C);
}
END_TEST

static Suite *stream_suite(void)
{
    Suite *s = suite_create("e2e_stream");
    TCase *tc = tcase_create("stream");
    tcase_set_timeout(tc, 240);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_servable_and_lww);
    tcase_add_test(tc, test_dead_letters);
    tcase_add_test(tc, test_kill9_burst);
    tcase_add_test(tc, test_redis_restart);
    tcase_add_test(tc, test_cluster);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(stream_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
