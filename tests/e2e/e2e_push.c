/*
 * e2e_push.c — WriteFeatures end to end (DESIGN §11): a real redis-server
 * (and a real Redis Cluster) and the real featd, pushes sent as protobuf
 * Requests over libfeatd's raw featd_call (not featd_write), snapshot
 * generations written with the online-tier writer as the materializer
 * does. Checks the merge rule (newer event time wins, equal -> snapshot),
 * stale pushes (response and metric), concurrent writers, flips, max age,
 * validation (nothing written), auth, NOSCRIPT recovery and the cluster
 * routing.
 */
#include <check.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "config/config.h"
#include "core/fbuf.h"
#include "core/util.h"
#include "featd_client.h"
#include "harness.h"
#include "harness_cluster.h"
#include "online/online.h"
#include "online/online_push.h"
#include "redis/rbcluster.h"
#include "redis/rslot.h"

#define PREFIX "pe2e"
#define WRITER "writer-secret-0123456789abcdef"
#define READER "reader-secret-0123456789abcdef"
#define LIMITED "limited-secret-0123456789abcdef"

/* server, redis json, extra top-level sections */
#define CFG_FMT \
    "{ \"server\": { \"listen\": \"127.0.0.1:%d\", \"admin_listen\": \"127.0.0.1:%d\", \"workers\": 2," \
    "    \"max_entities_per_request\": 500, \"request_timeout_ms\": 3000, \"log_level\": \"info\" }," \
    "  \"redis\": { %s, \"key_prefix\": \"" PREFIX "\" }," \
    "  \"entities\": [ { \"name\": \"user\", \"join_keys\": [ { \"name\": \"user_id\", \"type\": \"int64\" } ] } ]," \
    "  \"feature_views\": [" \
    "    { \"name\": \"stats\", \"entities\": [\"user\"], \"ttl_seconds\": 86400, \"features\": [" \
    "        { \"name\": \"v\", \"type\": \"int64\" }," \
    "        { \"name\": \"d\", \"type\": \"double\", \"expect\": { \"min\": 0, \"max\": 1000 } }," \
    "        { \"name\": \"s\", \"type\": \"string\", \"expect\": { \"allowed\": [\"a\", \"b\"] } } ] }," \
    "    { \"name\": \"fresh\", \"entities\": [\"user\"], \"features\": [" \
    "        { \"name\": \"v\", \"type\": \"int64\" }, { \"name\": \"d\", \"type\": \"double\" }," \
    "        { \"name\": \"s\", \"type\": \"string\" } ] }," \
    "    { \"name\": \"short\", \"entities\": [\"user\"], \"ttl_seconds\": 60, \"features\": [" \
    "        { \"name\": \"v\", \"type\": \"int64\" }, { \"name\": \"d\", \"type\": \"double\" }," \
    "        { \"name\": \"s\", \"type\": \"string\" } ] } ] %s }"

static struct h_redis R;
static struct h_featd F;
static struct featd_config *cfg;
static char redis_json[512];

static void hex_sha256(const char *s, char out[65])
{
    uint8_t h[32];
    util_sha256(s, strlen(s), h);
    for (int i = 0; i < 32; i++) {
        snprintf(out + 2 * i, 3, "%02x", h[i]);
    }
}

/* Starts featd on redis_json; with_auth adds three tokens: writer (all
 * views, write), reader (all views, no write), limited (stats, write). */
static void start_featd(struct h_featd *f, bool with_auth)
{
    static char json[8192];
    char extra[1024] = "";
    if (with_auth) {
        char w[65], r[65], l[65];
        hex_sha256(WRITER, w);
        hex_sha256(READER, r);
        hex_sha256(LIMITED, l);
        snprintf(extra, sizeof(extra),
                 ", \"auth\": { \"tokens\": ["
                 " { \"name\": \"writer\", \"token_sha256\": \"%s\", \"views\": [\"*\"], \"write\": true },"
                 " { \"name\": \"reader\", \"token_sha256\": \"%s\", \"views\": [\"*\"], \"write\": false },"
                 " { \"name\": \"limited\", \"token_sha256\": \"%s\", \"views\": [\"stats\"], \"write\": true } ] }",
                 w, r, l);
    }
    snprintf(json, sizeof(json), CFG_FMT, h_free_port(), h_free_port(), redis_json, extra);
    if (cfg == NULL) {
        char err[4096];
        ck_assert_msg(config_load_string(json, &cfg, err, sizeof(err)) == FEATD_OK, "config: %s", err);
    }
    h_featd_start(f, json);
}

static void setup(void)
{
    h_redis_start(&R);
    snprintf(redis_json, sizeof(redis_json), "\"url\": \"redis://127.0.0.1:%d/0\"", R.port);
    start_featd(&F, false);
}

static void teardown(void)
{
    h_featd_stop(&F);
    h_redis_stop(&R);
    config_free(cfg);
    cfg = NULL;
}

static const struct cfg_view *view(const char *name)
{
    const struct cfg_view *v = config_find_view(cfg, name);
    ck_assert_msg(v != NULL, "view %s", name);
    return v;
}

static struct featd_client *cli_port(int port)
{
    char err[256];
    struct featd_client *c = featd_connect("127.0.0.1", port, 5000, err, sizeof(err));
    ck_assert_msg(c != NULL, "connect: %s", err);
    return c;
}

/* ---- the WriteFeatures builder (protobuf-c structs, no client helper) ---- */

#define WB_MAX 512
struct wb {
    Featd__V1__WriteFeaturesRequest w;
    Featd__V1__EntityColumn ecol;
    Featd__V1__EntityColumn *ecols[2];
    Featd__V1__FeatureColumn fcol[4];
    Featd__V1__FeatureColumn *fcols[4];
    Featd__V1__Value key[WB_MAX + 1];
    Featd__V1__Value *keyp[WB_MAX + 1];
    Featd__V1__Value val[3][WB_MAX + 1];
    Featd__V1__Value *valp[3][WB_MAX + 1];
    int64_t ts[WB_MAX + 1];
    size_t n;
};

static struct wb *wb_new(const char *vname)
{
    struct wb *b = calloc(1, sizeof(*b));
    ck_assert_ptr_nonnull(b);
    featd__v1__write_features_request__init(&b->w);
    featd__v1__entity_column__init(&b->ecol);
    b->w.feature_view = (char *)vname;
    b->ecol.join_key = "user_id";
    b->ecol.values = b->keyp;
    b->ecols[0] = &b->ecol;
    b->w.entities = b->ecols;
    b->w.n_entities = 1;
    static const char *names[3] = { "v", "d", "s" };
    for (int f = 0; f < 3; f++) {
        featd__v1__feature_column__init(&b->fcol[f]);
        b->fcol[f].name = (char *)names[f];
        b->fcol[f].values = b->valp[f];
        b->fcols[f] = &b->fcol[f];
    }
    b->w.features = b->fcols;
    b->w.n_features = 3;
    b->w.event_timestamps_us = b->ts;
    return b;
}

/* Appends a row: user, v, event time; d = 1.5, s = "a". */
static void wb_row(struct wb *b, int64_t user, int64_t v, int64_t ts)
{
    size_t i = b->n++;
    ck_assert_uint_le(b->n, WB_MAX);
    featd__v1__value__init(&b->key[i]);
    b->key[i].kind_case = FEATD__V1__VALUE__KIND_INT64_VAL;
    b->key[i].int64_val = user;
    b->keyp[i] = &b->key[i];
    for (int f = 0; f < 3; f++) {
        featd__v1__value__init(&b->val[f][i]);
        b->valp[f][i] = &b->val[f][i];
    }
    b->val[0][i].kind_case = FEATD__V1__VALUE__KIND_INT64_VAL;
    b->val[0][i].int64_val = v;
    b->val[1][i].kind_case = FEATD__V1__VALUE__KIND_DOUBLE_VAL;
    b->val[1][i].double_val = 1.5;
    b->val[2][i].kind_case = FEATD__V1__VALUE__KIND_STRING_VAL;
    b->val[2][i].string_val = "a";
    b->ts[i] = ts;
    b->ecol.n_values = b->n;
    for (int f = 0; f < 3; f++) {
        b->fcol[f].n_values = b->n;
    }
    b->w.n_event_timestamps_us = b->n;
}

/* Sends b; returns the response (caller frees). */
static Featd__V1__Response *wb_send(struct featd_client *c, struct wb *b)
{
    Featd__V1__Request req = FEATD__V1__REQUEST__INIT;
    req.request_id = featd_next_id(c);
    req.body_case = FEATD__V1__REQUEST__BODY_WRITE_FEATURES;
    req.write_features = &b->w;
    Featd__V1__Response *resp = NULL;
    ck_assert_msg(featd_call(c, &req, &resp) == FEATD_OK, "write: %s", featd_errmsg(c));
    ck_assert_uint_eq(resp->request_id, req.request_id);
    return resp;
}

/* Sends b, expects success with these counts. */
static void wb_ok(struct featd_client *c, struct wb *b, uint32_t written, uint32_t stale)
{
    Featd__V1__Response *resp = wb_send(c, b);
    ck_assert_msg(resp->body_case == FEATD__V1__RESPONSE__BODY_WRITE_FEATURES, "write refused: %s",
                  resp->body_case == FEATD__V1__RESPONSE__BODY_ERROR ? resp->error->message : "?");
    ck_assert_uint_eq(resp->write_features->rows_written, written);
    ck_assert_uint_eq(resp->write_features->rows_stale, stale);
    featd_response_free(resp);
}

/* Sends b, expects an error with code whose message holds needle. */
static void wb_err(struct featd_client *c, struct wb *b, int code, const char *needle)
{
    Featd__V1__Response *resp = wb_send(c, b);
    ck_assert_msg(resp->body_case == FEATD__V1__RESPONSE__BODY_ERROR, "expected an error (%s)", needle);
    ck_assert_msg((int)resp->error->code == code, "expected %s, got %s: %s", featd_error_code_name(code),
                  featd_error_code_name(resp->error->code), resp->error->message);
    ck_assert_msg(strstr(resp->error->message, needle) != NULL, "message \"%s\" lacks \"%s\"",
                  resp->error->message, needle);
    featd_response_free(resp);
}

/* ---- snapshots, written as the materializer does ---- */

/* A new generation of vname holding users[i] -> (vals[i], ts[i]), flipped. */
static void snapshot(const char *vname, size_t n, const int64_t *users, const int64_t *vals,
                     const int64_t *ts)
{
    const struct cfg_view *v = view(vname);
    redisContext *c = redisConnect("127.0.0.1", R.port);
    ck_assert(c && !c->err);
    char err[256];
    uint64_t gen, old;
    ck_assert_int_eq(online_gen_alloc(c, PREFIX, v, &gen, err, sizeof(err)), FEATD_OK);
    struct online_writer *w = online_writer_new(c, PREFIX, v, 100);
    for (size_t i = 0; i < n; i++) {
        struct online_value x[3];
        memset(x, 0, sizeof(x));
        x[0].u.i64 = vals[i];
        x[1].u.d = 2.5;
        x[2].s = "b";
        x[2].slen = 1;
        struct online_key k = { .i = users[i] };
        ck_assert_int_eq(online_writer_put(w, gen, &k, ts[i], ONLINE_NO_CREATED_TS, x, err, sizeof(err)),
                         FEATD_OK);
    }
    ck_assert_int_eq(online_writer_flush(w, err, sizeof(err)), FEATD_OK);
    online_writer_free(w);
    ck_assert_int_eq(online_gen_flip(c, PREFIX, v, gen, &old, err, sizeof(err)), FEATD_OK);
    redisFree(c);
}

/* ---- reads ---- */

/* Looks up feature vname:v for users[0..n): values into out (INT64_MIN
 * when not PRESENT), statuses into st (may be NULL). */
static void read_v(struct featd_client *c, const char *vname, size_t n, const int64_t *users, int64_t *out,
                   int *st)
{
    struct featd_get *g = featd_get_new();
    char ref[64];
    snprintf(ref, sizeof(ref), "%s:v", vname);
    featd_get_add_feature(g, ref);
    for (size_t i = 0; i < n; i++) {
        featd_get_add_int64(g, "user_id", users[i]);
    }
    Featd__V1__Response *resp = NULL;
    ck_assert_msg(featd_lookup(c, g, &resp) == FEATD_OK, "lookup: %s", featd_errmsg(c));
    const Featd__V1__GetOnlineFeaturesResponse *r = resp->get_online_features;
    for (size_t i = 0; i < n; i++) {
        int s = featd_resp_status(r, 0, i);
        const Featd__V1__Value *x = featd_resp_value(r, 0, i);
        out[i] = (s == FEATD__V1__FIELD_STATUS__PRESENT || s == FEATD__V1__FIELD_STATUS__OUTSIDE_MAX_AGE) && x
                     ? x->int64_val : INT64_MIN;
        if (st) {
            st[i] = s;
        }
    }
    featd_response_free(resp);
    featd_get_free(g);
}

static int64_t read1(struct featd_client *c, const char *vname, int64_t user)
{
    int64_t v;
    read_v(c, vname, 1, &user, &v, NULL);
    return v;
}

static long long dbsize(void)
{
    redisReply *r = h_redis_cmd(&R, "DBSIZE");
    ck_assert_ptr_nonnull(r);
    long long n = r->integer;
    freeReplyObject(r);
    return n;
}

/* ---- tests ---- */

START_TEST(test_merge_stale_equal)
{
    struct featd_client *c = cli_port(F.port);
    int64_t T = util_now_us() - 600LL * 1000000;
    int64_t users[4] = { 1, 2, 3, 4 }, vals[4] = { 101, 102, 103, 104 }, ts[4] = { T, T, T, T };
    snapshot("stats", 4, users, vals, ts);
    ck_assert_int_eq(read1(c, "stats", 1), 101);

    struct wb *b = wb_new("stats");
    wb_row(b, 1, 1, T + 10);    /* newer: served */
    wb_row(b, 2, 2, T - 10);    /* older than the snapshot: written, not served */
    wb_row(b, 3, 3, T);         /* equal: the snapshot wins */
    wb_row(b, 5, 5, T);         /* no snapshot row: served */
    wb_ok(c, b, 4, 0);
    free(b);
    int64_t q[5] = { 1, 2, 3, 4, 5 }, got[5];
    read_v(c, "stats", 5, q, got, NULL);
    ck_assert_int_eq(got[0], 1);
    ck_assert_int_eq(got[1], 102);
    ck_assert_int_eq(got[2], 103);
    ck_assert_int_eq(got[3], 104);
    ck_assert_int_eq(got[4], 5);

    /* strictly older than the stored pushed row: stale, response and metric */
    b = wb_new("stats");
    wb_row(b, 1, 99, T + 5);
    wb_ok(c, b, 0, 1);
    free(b);
    ck_assert_int_eq(read1(c, "stats", 1), 1);
    ck_assert_double_eq(h_admin_metric(F.admin_port, "featd_push_rows_total{view=\"stats\",result=\"stale\"}"), 1);
    ck_assert_double_eq(h_admin_metric(F.admin_port, "featd_push_rows_total{view=\"stats\",result=\"written\"}"), 4);
    ck_assert_double_eq(h_admin_metric(F.admin_port, "featd_requests_total{type=\"write_features\",code=\"OK\"}"), 2);

    /* equal event time: replaces (a replay is idempotent) */
    b = wb_new("stats");
    wb_row(b, 1, 7, T + 10);
    wb_ok(c, b, 1, 0);
    wb_ok(c, b, 1, 0);
    free(b);
    ck_assert_int_eq(read1(c, "stats", 1), 7);

    /* a view without any generation serves its pushed rows */
    b = wb_new("fresh");
    wb_row(b, 1, 42, T);
    wb_ok(c, b, 1, 0);
    free(b);
    ck_assert_int_eq(read1(c, "fresh", 1), 42);
    ck_assert_int_eq(read1(c, "fresh", 2), INT64_MIN);

    /* the storage: field p<F> of the entity hash, expiring with the key */
    char field[ONLINE_PUSH_FIELD_MAX];
    online_push_field(field, view("stats"));
    redisReply *r = h_redis_cmd(&R, "HEXISTS " PREFIX ":v2:{i1} %s", field);
    ck_assert_int_eq(r->integer, 1);
    freeReplyObject(r);
    r = h_redis_cmd(&R, "PTTL " PREFIX ":v2:{i1}");
    ck_assert_int_gt(r->integer, 0);
    freeReplyObject(r);
    featd_close(c);
}
END_TEST

/* Half the entities get a newer snapshot than their pushed row, half an
 * older one; pushed rows survive the flip. */
START_TEST(test_flip_half_newer)
{
    struct featd_client *c = cli_port(F.port);
    int64_t T = util_now_us() - 3600LL * 1000000;
    enum { N = 20 };
    int64_t users[N], vals[N], ts[N], got[N];
    for (int i = 0; i < N; i++) {
        users[i] = 100 + i;
        vals[i] = 1;
        ts[i] = T;
    }
    snapshot("stats", N, users, vals, ts);
    struct wb *b = wb_new("stats");
    for (int i = 0; i < N; i++) {
        wb_row(b, users[i], 1000 + i, T + 50);
    }
    wb_ok(c, b, N, 0);
    free(b);
    read_v(c, "stats", N, users, got, NULL);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(got[i], 1000 + i);
    }
    for (int i = 0; i < N; i++) {
        bool newer = i % 2 == 0;
        vals[i] = newer ? 2000 + i : 3000 + i;
        ts[i] = newer ? T + 100 : T + 10;
    }
    snapshot("stats", N, users, vals, ts);
    read_v(c, "stats", N, users, got, NULL);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(got[i], i % 2 == 0 ? 2000 + i : 1000 + i);
    }
    featd_close(c);
}
END_TEST

struct writer_arg {
    int port;
    unsigned seed;
    int64_t base;
    int64_t best[8];    /* per user: the max event time this thread wrote */
};

#define CW_USERS 8
#define CW_ROUNDS 40

static void *writer_thread(void *p)
{
    struct writer_arg *a = p;
    char err[256];
    struct featd_client *c = featd_connect("127.0.0.1", a->port, 5000, err, sizeof(err));
    if (c == NULL) {
        return (void *)1;
    }
    for (int u = 0; u < CW_USERS; u++) {
        a->best[u] = INT64_MIN;
    }
    for (int round = 0; round < CW_ROUNDS; round++) {
        struct wb *b = wb_new("stats");
        for (int k = 0; k < 10; k++) {
            int u = (int)(rand_r(&a->seed) % CW_USERS);
            int64_t t = a->base + (int64_t)(rand_r(&a->seed) % 2000000) * 1000;
            wb_row(b, 500 + u, t, t);   /* value = event time */
            if (t > a->best[u]) {
                a->best[u] = t;
            }
        }
        Featd__V1__Request req = FEATD__V1__REQUEST__INIT;
        req.request_id = featd_next_id(c);
        req.body_case = FEATD__V1__REQUEST__BODY_WRITE_FEATURES;
        req.write_features = &b->w;
        Featd__V1__Response *resp = NULL;
        int rc = featd_call(c, &req, &resp);
        bool ok = rc == FEATD_OK && resp->body_case == FEATD__V1__RESPONSE__BODY_WRITE_FEATURES &&
                  resp->write_features->rows_written + resp->write_features->rows_stale == 10;
        featd_response_free(resp);
        free(b);
        if (!ok) {
            featd_close(c);
            return (void *)1;
        }
    }
    featd_close(c);
    return NULL;
}

/* 4 writers with random event times on the same entities: every served
 * value is the max-event-time one, the snapshot's included. */
START_TEST(test_concurrent_writers)
{
    int64_t base = util_now_us() - 3000LL * 1000000;
    int64_t users[CW_USERS], vals[CW_USERS], ts[CW_USERS], want[CW_USERS], got[CW_USERS];
    for (int u = 0; u < CW_USERS; u++) {
        users[u] = 500 + u;
        /* the snapshot beats every push for user 0, is beaten for the others */
        ts[u] = u == 0 ? base + 2500LL * 1000000 : base + 500LL * 1000000;
        vals[u] = ts[u];
        want[u] = ts[u];
    }
    snapshot("stats", CW_USERS, users, vals, ts);
    pthread_t th[4];
    struct writer_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct writer_arg){ .port = F.port, .seed = 1234u + (unsigned)i * 77u, .base = base };
        ck_assert_int_eq(pthread_create(&th[i], NULL, writer_thread, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        void *rv;
        pthread_join(th[i], &rv);
        ck_assert_msg(rv == NULL, "writer %d failed", i);
        for (int u = 0; u < CW_USERS; u++) {
            if (args[i].best[u] > want[u]) {
                want[u] = args[i].best[u];
            }
        }
    }
    struct featd_client *c = cli_port(F.port);
    read_v(c, "stats", CW_USERS, users, got, NULL);
    for (int u = 0; u < CW_USERS; u++) {
        ck_assert_msg(got[u] == want[u], "user %d: served %" PRId64 ", max event time %" PRId64, u, got[u],
                      want[u]);
    }
    featd_close(c);
}
END_TEST

/* Incremental-mode views live in one generation that upserts (last-write-
 * wins by event time) keep changing; pushes and upserts must not undo each
 * other: whichever row is newer is served, whatever the order. */
static void upsert(const char *vname, int64_t user, int64_t val, int64_t ts, uint64_t *written)
{
    const struct cfg_view *v = view(vname);
    redisContext *c = redisConnect("127.0.0.1", R.port);
    ck_assert(c && !c->err);
    char err[256];
    uint64_t gen = 0;
    ck_assert_int_eq(online_gen_current(c, PREFIX, v, &gen, err, sizeof(err)), FEATD_OK);
    ck_assert_uint_gt(gen, 0);
    struct online_writer *w = online_writer_new(c, PREFIX, v, 100);
    struct online_value x[3];
    memset(x, 0, sizeof(x));
    x[0].u.i64 = val;
    x[1].u.d = 2.5;
    x[2].s = "b";
    x[2].slen = 1;
    struct online_key k = { .i = user };
    ck_assert_int_eq(online_writer_upsert(w, gen, &k, ts, ONLINE_NO_CREATED_TS, x, err, sizeof(err)), FEATD_OK);
    ck_assert_int_eq(online_writer_flush(w, err, sizeof(err)), FEATD_OK);
    *written = online_writer_written(w);
    online_writer_free(w);
    redisFree(c);
}

START_TEST(test_incremental_and_push)
{
    struct featd_client *c = cli_port(F.port);
    int64_t now = util_now_us(), u = 31;
    int64_t t100 = now - 100000000, t150 = now - 85000000, t200 = now - 80000000, t250 = now - 75000000,
            t300 = now - 70000000;
    int64_t val = 100;
    snapshot("fresh", 1, &u, &val, &t100);          /* the incremental view's one generation */
    ck_assert_int_eq(read1(c, "fresh", u), 100);
    struct wb *b = wb_new("fresh");
    wb_row(b, u, 200, t200);
    wb_ok(c, b, 1, 0);
    ck_assert_int_eq(read1(c, "fresh", u), 200);     /* the push is newer than the upserted row */
    uint64_t written;
    upsert("fresh", u, 300, t300, &written);
    ck_assert_uint_eq(written, 1);
    ck_assert_int_eq(read1(c, "fresh", u), 300);     /* a newer upsert wins over the push */
    free(b);
    b = wb_new("fresh");
    wb_row(b, u, 250, t250);
    wb_ok(c, b, 1, 0);                               /* newer than the stored push: written */
    ck_assert_int_eq(read1(c, "fresh", u), 300);     /* but older than the upsert: not served */
    upsert("fresh", u, 150, t150, &written);
    ck_assert_uint_eq(written, 0);                   /* an older upsert is skipped */
    ck_assert_int_eq(read1(c, "fresh", u), 300);
    free(b);
    featd_close(c);
}
END_TEST

START_TEST(test_max_age_and_expired)
{
    struct featd_client *c = cli_port(F.port);
    int64_t now = util_now_us();
    struct wb *b = wb_new("short");
    wb_row(b, 1, 11, now - 120LL * 1000000);    /* past ttl 60 s, inside the grace */
    wb_row(b, 2, 22, now);
    wb_row(b, 3, 33, now - 7200LL * 1000000);   /* past ttl + grace: never servable */
    wb_ok(c, b, 2, 1);
    free(b);
    int64_t users[3] = { 1, 2, 3 }, got[3];
    int st[3];
    read_v(c, "short", 3, users, got, st);
    ck_assert_int_eq(st[0], FEATD__V1__FIELD_STATUS__OUTSIDE_MAX_AGE);
    ck_assert_int_eq(got[0], 11);
    ck_assert_int_eq(st[1], FEATD__V1__FIELD_STATUS__PRESENT);
    ck_assert_int_eq(st[2], FEATD__V1__FIELD_STATUS__NOT_FOUND);
    redisReply *r = h_redis_cmd(&R, "EXISTS " PREFIX ":v2:{i3}");
    ck_assert_int_eq(r->integer, 0);
    freeReplyObject(r);
    featd_close(c);
}
END_TEST

/* Every bad write is INVALID_ARGUMENT and writes nothing. */
START_TEST(test_bad_writes)
{
    struct featd_client *c = cli_port(F.port);
    int64_t now = util_now_us();
    long long before = dbsize();
    struct wb *b;

#define GOOD3(b) do { wb_row(b, 1, 1, now); wb_row(b, 2, 2, now); wb_row(b, 3, 3, now); } while (0)
    b = wb_new("nope");
    GOOD3(b);
    wb_err(c, b, FEATD__V1__ERROR_CODE__INVALID_ARGUMENT, "unknown feature view \"nope\"");
    free(b);

    b = wb_new("stats");
    GOOD3(b);
    b->w.n_features = 2;    /* s missing */
    wb_err(c, b, FEATD__V1__ERROR_CODE__INVALID_ARGUMENT, "missing feature \"s\"");
    b->w.n_features = 3;
    b->fcol[2].name = "zz";     /* extra */
    wb_err(c, b, FEATD__V1__ERROR_CODE__INVALID_ARGUMENT, "has no feature \"zz\"");
    b->fcol[2].name = "d";      /* duplicate */
    wb_err(c, b, FEATD__V1__ERROR_CODE__INVALID_ARGUMENT, "given more than once");
    b->fcol[2].name = "s";
    b->ecol.join_key = "uid";   /* wrong join key */
    wb_err(c, b, FEATD__V1__ERROR_CODE__INVALID_ARGUMENT, "no join key \"uid\"");
    b->ecol.join_key = "user_id";
    b->w.n_entities = 0;
    wb_err(c, b, FEATD__V1__ERROR_CODE__INVALID_ARGUMENT, "no entity columns");
    b->w.n_entities = 1;
    b->fcol[1].n_values = 2;    /* unequal lengths */
    wb_err(c, b, FEATD__V1__ERROR_CODE__INVALID_ARGUMENT, "unequal lengths");
    b->fcol[1].n_values = 3;
    b->w.n_event_timestamps_us = 2;     /* a missing event time */
    wb_err(c, b, FEATD__V1__ERROR_CODE__INVALID_ARGUMENT, "missing event times");
    b->w.n_event_timestamps_us = 3;
    /* the last row bad: wrong type */
    b->val[0][2].kind_case = FEATD__V1__VALUE__KIND_STRING_VAL;
    b->val[0][2].string_val = "x";
    wb_err(c, b, FEATD__V1__ERROR_CODE__INVALID_ARGUMENT, "row 2: feature \"v\" (int64): expected int64_val");
    b->val[0][2].kind_case = FEATD__V1__VALUE__KIND_INT32_VAL;    /* int32 widens to int64 */
    b->val[0][2].int32_val = 3;
    /* the last row bad: expect rules */
    b->val[1][2].double_val = -1;
    wb_err(c, b, FEATD__V1__ERROR_CODE__INVALID_ARGUMENT, "row 2: feature \"d\" breaks expect.min 0: the value is -1");
    b->val[1][2].double_val = 1;
    b->val[2][2].string_val = "c";
    wb_err(c, b, FEATD__V1__ERROR_CODE__INVALID_ARGUMENT, "row 2: feature \"s\" breaks expect.allowed: \"c\" is not one of the allowed values");
    b->val[2][2].string_val = "a";
    b->key[2].kind_case = FEATD__V1__VALUE__KIND_STRING_VAL;
    b->key[2].string_val = "3";
    wb_err(c, b, FEATD__V1__ERROR_CODE__INVALID_ARGUMENT, "row 2: join key \"user_id\"");
    free(b);

    b = wb_new("stats");        /* empty */
    wb_err(c, b, FEATD__V1__ERROR_CODE__INVALID_ARGUMENT, "no rows");
    free(b);
    b = wb_new("stats");        /* over max_entities_per_request (500) */
    for (int i = 0; i < 501; i++) {
        wb_row(b, i, i, now);
    }
    wb_err(c, b, FEATD__V1__ERROR_CODE__INVALID_ARGUMENT, "max_entities_per_request");
    free(b);

    ck_assert_int_eq(dbsize(), before);
    ck_assert_double_eq(h_admin_metric(F.admin_port, "featd_push_rows_total{view=\"stats\",result=\"written\"}"), 0);
    ck_assert_double_gt(h_admin_metric(F.admin_port, "featd_push_rows_total{view=\"stats\",result=\"rejected\"}"), 0);

    /* the same request, fixed, is written (int32 widened) */
    b = wb_new("stats");
    GOOD3(b);
    b->val[0][2].kind_case = FEATD__V1__VALUE__KIND_INT32_VAL;
    b->val[0][2].int32_val = 3;
    wb_ok(c, b, 3, 0);
    free(b);
    ck_assert_int_eq(read1(c, "stats", 3), 3);
    featd_close(c);
}
END_TEST

/* The script cache flushed under featd: the write is resent with EVAL. */
START_TEST(test_noscript_recovery)
{
    struct featd_client *c = cli_port(F.port);
    int64_t now = util_now_us();
    struct wb *b = wb_new("stats");
    wb_row(b, 1, 1, now - 1000);
    wb_ok(c, b, 1, 0);
    free(b);
    redisReply *r = h_redis_cmd(&R, "SCRIPT FLUSH");
    ck_assert_ptr_nonnull(r);
    freeReplyObject(r);
    b = wb_new("stats");
    wb_row(b, 1, 2, now);
    wb_row(b, 2, 3, now);
    wb_ok(c, b, 2, 0);
    free(b);
    ck_assert_int_eq(read1(c, "stats", 1), 2);
    ck_assert_int_eq(read1(c, "stats", 2), 3);
    featd_close(c);
}
END_TEST

START_TEST(test_auth)
{
    h_featd_stop(&F);
    start_featd(&F, true);
    int64_t now = util_now_us();
    struct wb *b = wb_new("stats");
    wb_row(b, 1, 1, now);

    struct featd_client *c = cli_port(F.port);
    wb_err(c, b, FEATD__V1__ERROR_CODE__UNAUTHENTICATED, "authentication required");
    ck_assert_ptr_nonnull(featd_auth(c, READER));
    wb_err(c, b, FEATD__V1__ERROR_CODE__PERMISSION_DENIED, "may not write feature view \"stats\"");
    featd_close(c);

    c = cli_port(F.port);
    ck_assert_ptr_nonnull(featd_auth(c, LIMITED));
    wb_ok(c, b, 1, 0);
    b->w.feature_view = "fresh";
    wb_err(c, b, FEATD__V1__ERROR_CODE__PERMISSION_DENIED, "may not write feature view \"fresh\"");
    featd_close(c);

    c = cli_port(F.port);
    ck_assert_ptr_nonnull(featd_auth(c, WRITER));
    wb_ok(c, b, 1, 0);
    ck_assert_int_eq(read1(c, "fresh", 1), 1);
    featd_close(c);
    free(b);
}
END_TEST

/* On a Redis Cluster each pushed row lands on the master of its entity's
 * slot and is served from there. */
START_TEST(test_cluster)
{
    struct hcluster C;
    memset(&C, 0, sizeof(C));
    if (!harness_cluster_start(&C, 3, 1)) {
        return;
    }
    struct h_featd FC;
    snprintf(redis_json, sizeof(redis_json), "\"cluster_nodes\": [\"127.0.0.1:%d\"]", C.nodes[0].port);
    start_featd(&FC, false);
    struct featd_client *c = cli_port(FC.port);
    int64_t now = util_now_us();
    enum { N = 30 };
    struct wb *b = wb_new("stats");
    int64_t users[N], got[N];
    for (int i = 0; i < N; i++) {
        users[i] = 7000 + i;
        wb_row(b, users[i], 10 * i, now);
    }
    /* the route may need a moment for the slot map */
    Featd__V1__Response *resp = NULL;
    for (int tries = 0; tries < 50; tries++) {
        resp = wb_send(c, b);
        if (resp->body_case == FEATD__V1__RESPONSE__BODY_WRITE_FEATURES) {
            break;
        }
        featd_response_free(resp);
        resp = NULL;
        h_sleep_ms(100);
    }
    ck_assert_ptr_nonnull(resp);
    ck_assert_uint_eq(resp->write_features->rows_written, N);
    featd_response_free(resp);
    free(b);
    read_v(c, "stats", N, users, got, NULL);
    char field[ONLINE_PUSH_FIELD_MAX];
    online_push_field(field, view("stats"));
    bool nodes_used[HC_MAX_NODES] = { false };
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(got[i], 10 * i);
        char key[64];
        snprintf(key, sizeof(key), PREFIX ":v2:{i%" PRId64 "}", users[i]);
        int owner = harness_cluster_slot_owner(&C, 0, rslot_of_key(key, strlen(key)));
        ck_assert_int_ge(owner, 0);
        nodes_used[owner] = true;
        redisReply *r = harness_cluster_cmd(&C, owner, "HEXISTS %s %s", key, field);
        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(r->integer, 1);
        freeReplyObject(r);
    }
    int used = 0;
    for (int i = 0; i < HC_MAX_NODES; i++) {
        used += nodes_used[i];
    }
    ck_assert_int_gt(used, 1);
    featd_close(c);
    h_featd_stop(&FC);

    /* read_from_replicas: writes still go to the masters */
    snprintf(redis_json, sizeof(redis_json), "\"cluster_nodes\": [\"127.0.0.1:%d\"], \"read_from_replicas\": true",
             C.nodes[0].port);
    start_featd(&FC, false);
    c = cli_port(FC.port);
    b = wb_new("stats");
    for (int i = 0; i < N; i++) {
        wb_row(b, users[i], 10 * i + 1, now + 1);
    }
    resp = NULL;
    for (int tries = 0; tries < 50; tries++) {
        resp = wb_send(c, b);
        if (resp->body_case == FEATD__V1__RESPONSE__BODY_WRITE_FEATURES) {
            break;
        }
        fprintf(stderr, "rfr write: %s\n", resp->error->message);
        featd_response_free(resp);
        resp = NULL;
        h_sleep_ms(100);
    }
    ck_assert_ptr_nonnull(resp);
    ck_assert_uint_eq(resp->write_features->rows_written, N);
    featd_response_free(resp);
    free(b);
    /* routed to the masters directly, not bounced by replicas */
    ck_assert_double_eq(h_admin_metric(FC.admin_port, "featd_redis_redirects_total{kind=\"moved\"}"), 0);
    harness_cluster_wait_synced(&C, 10000);
    read_v(c, "stats", N, users, got, NULL);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(got[i], 10 * i + 1);
    }
    featd_close(c);
    h_featd_stop(&FC);
    harness_cluster_stop(&C);
}
END_TEST

static Suite *push_suite(void)
{
    Suite *s = suite_create("e2e_push");
    TCase *tc = tcase_create("push");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_merge_stale_equal);
    tcase_add_test(tc, test_flip_half_newer);
    tcase_add_test(tc, test_concurrent_writers);
    tcase_add_test(tc, test_incremental_and_push);
    tcase_add_test(tc, test_max_age_and_expired);
    tcase_add_test(tc, test_bad_writes);
    tcase_add_test(tc, test_noscript_recovery);
    tcase_add_test(tc, test_auth);
    tcase_add_test(tc, test_cluster);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(push_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
