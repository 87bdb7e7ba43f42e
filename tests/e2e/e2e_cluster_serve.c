/*
 * e2e_cluster_serve.c — the serving path on Redis Cluster and Sentinel:
 * the real featd binary on a real local cluster (3 masters + 3 replicas,
 * tests/e2e/harness_cluster.h) and on a real Sentinel group, its answers
 * compared byte for byte with featd's answers from the same rows on one
 * plain redis-server.
 *
 * Rows are written by the test itself with the online-tier encoders
 * (online_row_encode, online_key_*) as HSET / SET commands routed by slot
 * through the blocking cluster client (redis/rbcluster.h), the same bytes
 * on the cluster and on the single node.
 *
 * Cluster: every lookup kind (statuses, every type, composite keys,
 * multi-view, a batch of 3000 entities over all masters) equals the single
 * node's; a slot being migrated (ASK) and after it (MOVED) stays correct and
 * counted; read_from_replicas reads from replicas; a SIGKILLed master gives
 * UNAVAILABLE naming slot and node until its replica is promoted, then
 * lookups succeed without restarting featd. Sentinel: featd serves the
 * master the sentinels name and follows a SENTINEL FAILOVER.
 */
#include <check.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <hiredis/hiredis.h>

#include "config/config.h"
#include "core/fbuf.h"
#include "core/util.h"
#include "featd_client.h"
#include "harness.h"
#include "harness_cluster.h"
#include "online/online.h"
#include "redis/rbcluster.h"
#include "redis/rslot.h"

#define PREFIX "ecs"
/* each view's generation, the same on every store (generations are unique
 * across views: views sharing an entity share its hash) */
static int gen_of(const char *vname)
{
    return strcmp(vname, "all_types") == 0 ? 7 : strcmp(vname, "user_item") == 0 ? 8 : 9;
}
#define NUSERS 3000

static struct featd_config *cfg;    /* the views, for the encoders */

#define CFG_FMT \
    "{ \"server\": { \"listen\": \"127.0.0.1:%d\", \"admin_listen\": \"127.0.0.1:%d\", \"workers\": 2," \
    "    \"max_entities_per_request\": 5000, \"request_timeout_ms\": 1000, \"log_level\": \"info\" }," \
    "  \"redis\": { %s, \"key_prefix\": \"" PREFIX "\" }," \
    "  \"entities\": [" \
    "    { \"name\": \"user\", \"join_keys\": [ { \"name\": \"user_id\", \"type\": \"int64\" } ] }," \
    "    { \"name\": \"item\", \"join_keys\": [ { \"name\": \"item_id\", \"type\": \"string\" } ] } ]," \
    "  \"feature_views\": [" \
    "    { \"name\": \"all_types\", \"entities\": [\"user\"], \"ttl_seconds\": 3600, \"features\": [" \
    "        { \"name\": \"b\", \"type\": \"bool\" }, { \"name\": \"i32\", \"type\": \"int32\" }," \
    "        { \"name\": \"i64\", \"type\": \"int64\" }, { \"name\": \"f\", \"type\": \"float\" }," \
    "        { \"name\": \"d\", \"type\": \"double\" }, { \"name\": \"s\", \"type\": \"string\" }," \
    "        { \"name\": \"by\", \"type\": \"bytes\" }, { \"name\": \"ts\", \"type\": \"timestamp\" }," \
    "        { \"name\": \"fl\", \"type\": \"float_list\" }, { \"name\": \"dl\", \"type\": \"double_list\" }," \
    "        { \"name\": \"il\", \"type\": \"int64_list\" }, { \"name\": \"sl\", \"type\": \"string_list\" } ] }," \
    "    { \"name\": \"user_item\", \"entities\": [\"user\", \"item\"], \"features\": [" \
    "        { \"name\": \"score\", \"type\": \"float\" }, { \"name\": \"seen\", \"type\": \"bool\" } ] }," \
    "    { \"name\": \"profile\", \"entities\": [\"user\"], \"ttl_seconds\": 60, \"features\": [" \
    "        { \"name\": \"age\", \"type\": \"int64\" }, { \"name\": \"city\", \"type\": \"string\" } ] }," \
    "    { \"name\": \"empty_view\", \"entities\": [\"user\"], \"features\": [" \
    "        { \"name\": \"x\", \"type\": \"int64\" } ] } ] }"

/* ---- config and featd ---- */

static void start_featd(struct h_featd *f, const char *redis_json)
{
    static char json[8192];
    int port = h_free_port(), admin = h_free_port();
    snprintf(json, sizeof(json), CFG_FMT, port, admin, redis_json);
    h_featd_start(f, json);
}

/* The views (for the encoders) from the same config. */
static void load_cfg(void)
{
    static char json[8192];
    char err[4096];
    snprintf(json, sizeof(json), CFG_FMT, 1, 2, "\"url\": \"redis://127.0.0.1:6379/0\"");
    if (cfg == NULL) {
        ck_assert_msg(config_load_string(json, &cfg, err, sizeof(err)) == FEATD_OK, "config: %s", err);
    }
}

/* True when 127.0.0.1:port accepts a connection. */
static bool port_accepts(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert(fd >= 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

/* Waits until /readyz answers 200; returns its body (static). */
static const char *wait_ready(const struct h_featd *f, int timeout_ms)
{
    static char body[2048];
    long long t0 = h_now_ms();
    while (!port_accepts(f->admin_port)) {     /* the admin thread starts after the workers */
        ck_assert_msg(h_now_ms() - t0 < timeout_ms, "admin port %d never accepted", f->admin_port);
        h_sleep_ms(10);
    }
    for (;;) {
        char *r = h_admin_get(f->admin_port, "/readyz");
        bool ok = r && strncmp(r, "HTTP/1.1 200", 12) == 0;
        const char *b = r ? strstr(r, "\r\n\r\n") : NULL;
        snprintf(body, sizeof(body), "%s", b ? b + 4 : (r ? r : "(no answer)"));
        free(r);
        if (ok) {
            return body;
        }
        if (h_now_ms() - t0 > timeout_ms) {
            h_dump_log("featd", f->log_path);
            ck_abort_msg("featd not ready after %d ms: %s", timeout_ms, body);
        }
        h_sleep_ms(50);
    }
}

static double metric(const struct h_featd *f, const char *series)
{
    char *page = h_admin_get(f->admin_port, "/metrics");
    ck_assert_ptr_nonnull(page);
    double v = h_metric(page, series);
    free(page);
    return v;
}

/* ---- writing rows: the same bytes through any rbcluster ---- */

static const struct cfg_view *view(const char *name)
{
    const struct cfg_view *v = config_find_view(cfg, name);
    ck_assert_msg(v != NULL, "view %s", name);
    return v;
}

static void queue(struct rbcluster *w, int argc, const char **argv, const size_t *lens)
{
    char err[512];
    ck_assert_msg(rbcluster_append(w, argv[1], lens[1], argc, argv, lens, err, sizeof(err)) == FEATD_OK,
                  "append: %s", err);
}

static void put_row(struct rbcluster *w, const char *vname, const struct online_key *keys, int64_t ets,
                    const struct online_value *vals)
{
    const struct cfg_view *v = view(vname);
    struct fbuf key = { 0 }, row = { 0 };
    char field[ONLINE_FIELD_MAX];
    ck_assert_int_eq(online_key_row(&key, PREFIX, v, keys), FEATD_OK);
    ck_assert_int_eq(online_row_encode(&row, v, ets, ONLINE_NO_CREATED_TS, vals), FEATD_OK);
    size_t flen = online_key_field(field, (uint64_t)gen_of(vname));
    const char *argv[4] = { "HSET", key.data, field, row.data };
    size_t lens[4] = { 4, key.len, flen, row.len };
    queue(w, 4, argv, lens);
    fbuf_free(&key);
    fbuf_free(&row);
}

static void set_current(struct rbcluster *w, const char *vname)
{
    struct fbuf key = { 0 };
    ck_assert_int_eq(online_key_current(&key, PREFIX, view(vname)), FEATD_OK);
    char g[16];
    snprintf(g, sizeof(g), "%d", gen_of(vname));
    const char *argv[3] = { "SET", key.data, g };
    size_t lens[3] = { 3, key.len, strlen(g) };
    queue(w, 3, argv, lens);
    fbuf_free(&key);
}

static void exec_all(struct rbcluster *w)
{
    char err[1200];
    redisReply **r = NULL;
    size_t n = 0;
    ck_assert_msg(rbcluster_exec(w, &r, &n, err, sizeof(err)) == FEATD_OK, "exec: %s", err);
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(r[i]->type != REDIS_REPLY_ERROR, "reply %zu: %s", i, r[i]->str);
    }
    rbcluster_replies_free(r, n);
}

static int64_t rows_now;    /* event time base, the same for every store */

/* all_types for users 1..NUSERS (user 2 all null), user_item for (1, book)
 * and (1, pen:blue), profile for users 1 (older than its ttl) and 3;
 * empty_view has no current generation. */
static void write_rows(struct rbcluster *w)
{
    if (rows_now == 0) {
        rows_now = util_now_us();
    }
    for (int u = 1; u <= NUSERS; u++) {
        struct online_value vals[12];
        memset(vals, 0, sizeof(vals));
        struct fbuf fl = { 0 }, dl = { 0 }, il = { 0 }, sl = { 0 };
        char s[64];
        snprintf(s, sizeof(s), "user-%d", u);
        for (int k = 0; k < 3; k++) {
            ck_assert_int_eq(online_row_list_put_float(&fl, (float)u + 0.25f * (float)k), FEATD_OK);
        }
        ck_assert_int_eq(online_row_list_put_double(&dl, 1.5 * u), FEATD_OK);
        ck_assert_int_eq(online_row_list_put_int64(&il, -(int64_t)u), FEATD_OK);
        ck_assert_int_eq(online_row_list_put_string(&sl, "a", 1), FEATD_OK);
        ck_assert_int_eq(online_row_list_put_string(&sl, "", 0), FEATD_OK);
        for (int f = 0; f < 12; f++) {
            vals[f].is_null = u == 2;
        }
        vals[0].u.b = u % 2;
        vals[1].u.i32 = -u;
        vals[2].u.i64 = (int64_t)u * 1000000000LL;
        vals[3].u.f = 0.5f * (float)u;
        vals[4].u.d = 0.1 * u;
        vals[5].s = s;
        vals[5].slen = strlen(s);
        vals[6].s = "\x00\x01\xff";
        vals[6].slen = 3;
        vals[7].u.i64 = 1700000000000000LL + u;
        vals[8].count = 3; vals[8].raw = (const uint8_t *)fl.data; vals[8].rawlen = fl.len;
        vals[9].count = 1; vals[9].raw = (const uint8_t *)dl.data; vals[9].rawlen = dl.len;
        vals[10].count = 1; vals[10].raw = (const uint8_t *)il.data; vals[10].rawlen = il.len;
        vals[11].count = 2; vals[11].raw = (const uint8_t *)sl.data; vals[11].rawlen = sl.len;
        struct online_key key = { .i = u };
        put_row(w, "all_types", &key, rows_now - 1000000, vals);
        fbuf_free(&fl); fbuf_free(&dl); fbuf_free(&il); fbuf_free(&sl);
    }
    const char *items[2] = { "book", "pen:blue" };
    for (int i = 0; i < 2; i++) {
        struct online_key keys[2] = { { .i = 1 }, { .s = items[i], .slen = strlen(items[i]) } };
        struct online_value vals[2];
        memset(vals, 0, sizeof(vals));
        vals[0].u.f = i == 0 ? 0.75f : 0.5f;
        vals[1].u.b = true;
        put_row(w, "user_item", keys, rows_now, vals);
    }
    for (int u = 1; u <= 3; u += 2) {
        struct online_key key = { .i = u };
        struct online_value vals[2];
        memset(vals, 0, sizeof(vals));
        vals[0].u.i64 = 10 * u;
        vals[1].s = "Paris";
        vals[1].slen = 5;
        put_row(w, "profile", &key, u == 1 ? rows_now - 120LL * 1000000 : rows_now, vals);
    }
    set_current(w, "all_types");
    set_current(w, "user_item");
    set_current(w, "profile");
    exec_all(w);
}

static struct rbcluster *writer_single(int port)
{
    struct rbcluster_addr a = { "127.0.0.1", port };
    struct rbcluster_opts o = { .seeds = &a, .nseeds = 1, .timeout_ms = 5000 };
    char err[1200];
    struct rbcluster *w = rbcluster_new_single(&o, err, sizeof(err));
    ck_assert_msg(w != NULL, "writer: %s", err);
    return w;
}

/* ---- lookups ---- */

enum req_kind { REQ_TYPES, REQ_PROFILE, REQ_COMPOSITE, REQ_BATCH, REQ__COUNT };

static struct featd_get *request(enum req_kind k)
{
    struct featd_get *g = featd_get_new();
    if (k == REQ_TYPES) {
        featd_get_add_feature(g, "all_types:*");
        for (int u = 1; u <= 6; u++) {
            featd_get_add_int64(g, "user_id", u == 6 ? NUSERS + 100 : u);
        }
    } else if (k == REQ_PROFILE) {
        featd_get_add_feature(g, "profile:age");
        featd_get_add_feature(g, "profile:city");
        featd_get_add_feature(g, "all_types:s");
        for (int u = 1; u <= 4; u++) {
            featd_get_add_int64(g, "user_id", u);
        }
    } else if (k == REQ_COMPOSITE) {
        featd_get_add_feature(g, "user_item:score");
        featd_get_add_feature(g, "all_types:i64");
        featd_get_add_feature(g, "empty_view:x");
        featd_get_add_feature(g, "user_item:seen");
        const char *items[] = { "book", "pen:blue", "book", "book" };
        int64_t users[] = { 1, 1, 1, 2 };
        for (int i = 0; i < 4; i++) {
            featd_get_add_int64(g, "user_id", users[i]);
            featd_get_add_string(g, "item_id", items[i]);
        }
    } else {
        featd_get_add_feature(g, "all_types:i64");
        featd_get_add_feature(g, "all_types:sl");
        featd_get_add_feature(g, "profile:age");
        for (int u = 1; u <= NUSERS; u++) {
            featd_get_add_int64(g, "user_id", u);
        }
    }
    return g;
}

/* The answer of k from the featd on port, packed (malloc'd, *len); or NULL
 * with the error code and message when it answers an Error. */
static uint8_t *answer(int port, enum req_kind k, size_t *len, int *code, char *msg, size_t msgcap)
{
    char err[256];
    struct featd_client *c = featd_connect("127.0.0.1", port, 5000, err, sizeof(err));
    ck_assert_msg(c != NULL, "connect: %s", err);
    struct featd_get *g = request(k);
    Featd__V1__Response *resp = NULL;
    uint64_t id = featd_next_id(c);
    ck_assert_int_eq(featd_call(c, featd_get_request(g, id), &resp), FEATD_OK);
    uint8_t *out = NULL;
    *code = 0;
    if (resp->body_case == FEATD__V1__RESPONSE__BODY_ERROR) {
        *code = (int)resp->error->code;
        snprintf(msg, msgcap, "%s", resp->error->message);
    } else {
        ck_assert_int_eq(resp->body_case, FEATD__V1__RESPONSE__BODY_GET_ONLINE_FEATURES);
        const Featd__V1__GetOnlineFeaturesResponse *r = resp->get_online_features;
        if (k == REQ_TYPES) {       /* not a vacuous equality: the statuses are right */
            ck_assert_int_eq(featd_resp_status(r, 2, 0), FEATD__V1__FIELD_STATUS__PRESENT);
            ck_assert_int_eq(featd_resp_value(r, 2, 0)->int64_val, 1000000000LL);
            ck_assert_int_eq(featd_resp_status(r, 2, 1), FEATD__V1__FIELD_STATUS__NULL_VALUE);
            ck_assert_int_eq(featd_resp_status(r, 2, 5), FEATD__V1__FIELD_STATUS__NOT_FOUND);
        } else if (k == REQ_PROFILE) {
            ck_assert_int_eq(featd_resp_status(r, 0, 0), FEATD__V1__FIELD_STATUS__OUTSIDE_MAX_AGE);
            ck_assert_int_eq(featd_resp_status(r, 0, 2), FEATD__V1__FIELD_STATUS__PRESENT);
        } else if (k == REQ_COMPOSITE) {
            ck_assert(featd_resp_value(r, 0, 1)->float_val == 0.5f);
            ck_assert_int_eq(featd_resp_status(r, 2, 0), FEATD__V1__FIELD_STATUS__NOT_FOUND);
        } else {
            ck_assert_int_eq(featd_resp_value(r, 0, NUSERS - 1)->int64_val, (int64_t)NUSERS * 1000000000LL);
        }
        *len = featd__v1__get_online_features_response__get_packed_size(r);
        out = malloc(*len ? *len : 1);
        featd__v1__get_online_features_response__pack(r, out);
    }
    featd_response_free(resp);
    featd_get_free(g);
    featd_close(c);
    return out;
}

/* Every request kind answers the same on port as on ref_port. */
static void same_answers(int port, int ref_port, const char *what)
{
    for (int k = 0; k < REQ__COUNT; k++) {
        size_t la = 0, lb = 0;
        int ca, cb;
        char ma[512], mb[512];
        uint8_t *a = answer(port, (enum req_kind)k, &la, &ca, ma, sizeof(ma));
        uint8_t *b = answer(ref_port, (enum req_kind)k, &lb, &cb, mb, sizeof(mb));
        ck_assert_msg(a != NULL, "%s: request %d failed (%d): %s", what, k, ca, ma);
        ck_assert_msg(b != NULL, "reference: request %d failed (%d): %s", k, cb, mb);
        ck_assert_msg(la == lb && memcmp(a, b, la) == 0, "%s: request %d answers differ (%zu vs %zu bytes)",
                      what, k, la, lb);
        free(a);
        free(b);
    }
}

/* INFO commandstats "cmdstat_<cmd>:calls=N" of cluster node i (0 when absent). */
static long long calls(const struct hcluster *c, int i, const char *cmd)
{
    redisReply *r = harness_cluster_cmd(c, i, "INFO commandstats");
    ck_assert_msg(r != NULL && r->type == REDIS_REPLY_STRING, "INFO on node %d", i);
    char pat[64];
    snprintf(pat, sizeof(pat), "cmdstat_%s:calls=", cmd);
    const char *p = strstr(r->str, pat);
    long long n = p ? atoll(p + strlen(pat)) : 0;
    freeReplyObject(r);
    return n;
}

static void node_id(const struct hcluster *c, int i, char *out, size_t cap)
{
    redisReply *r = harness_cluster_cmd(c, i, "CLUSTER MYID");
    ck_assert_msg(r != NULL && r->type == REDIS_REPLY_STRING, "CLUSTER MYID on node %d", i);
    snprintf(out, cap, "%s", r->str);
    freeReplyObject(r);
}

static void ok_cmd(const struct hcluster *c, int i, const char *fmt, const char *a, const char *b)
{
    redisReply *r = harness_cluster_cmd(c, i, fmt, a, b);
    ck_assert_msg(r != NULL && r->type != REDIS_REPLY_ERROR, "node %d: %s: %s", i, fmt,
                  r ? r->str : "no reply");
    freeReplyObject(r);
}

static unsigned user_slot(int64_t u)
{
    struct fbuf key = { 0 };
    struct online_key k = { .i = u };
    ck_assert_int_eq(online_key_row(&key, PREFIX, view("all_types"), &k), FEATD_OK);
    unsigned s = rslot_of_key(key.data, key.len);
    fbuf_free(&key);
    return s;
}

static int other_master(const struct hcluster *c, int not)
{
    for (int i = 0; i < c->nnodes; i++) {
        if (i != not && c->nodes[i].pid && harness_cluster_is_master(c, i)) {
            return i;
        }
    }
    ck_abort_msg("no other master");
    return -1;
}

/* ---- tests ---- */

START_TEST(test_cluster_serve)
{
    static struct hcluster C;
    static struct h_redis R;
    static struct h_featd FS, FC, FR;
    long long t0 = h_now_ms();
    load_cfg();
    if (!harness_cluster_start(&C, 3, 1)) {
        return;     /* no redis-server / redis-cli: skipped (printed) */
    }
    h_redis_start(&R);
    printf("cluster of %d nodes + one redis up in %lld ms\n", C.nnodes, h_now_ms() - t0);

    char redis_json[1024];
    snprintf(redis_json, sizeof(redis_json), "\"url\": \"redis://127.0.0.1:%d/0\"", R.port);
    start_featd(&FS, redis_json);
    struct rbcluster *ws = writer_single(R.port);
    write_rows(ws);
    rbcluster_free(ws);

    int m0 = -1;
    for (int i = 0; i < C.nnodes && m0 < 0; i++) {
        m0 = harness_cluster_is_master(&C, i) ? i : -1;
    }
    /* the cluster writer and featd both start from one seed plus a dead one */
    struct rbcluster_addr seeds[2] = { { "127.0.0.1", h_free_port() }, { "127.0.0.1", C.nodes[m0].port } };
    struct rbcluster_opts o = { .seeds = seeds, .nseeds = 2, .timeout_ms = 5000 };
    char err[1200];
    struct rbcluster *wc = rbcluster_new_cluster(&o, err, sizeof(err));
    ck_assert_msg(wc != NULL, "cluster writer: %s", err);
    write_rows(wc);
    rbcluster_free(wc);

    snprintf(redis_json, sizeof(redis_json), "\"cluster_nodes\": [\"127.0.0.1:%d\", \"127.0.0.1:%d\"]",
             seeds[0].port, seeds[1].port);
    start_featd(&FC, redis_json);
    const char *ready = wait_ready(&FC, 10000);
    ck_assert_msg(strstr(ready, "redis cluster: 3 masters") != NULL, "readyz: %s", ready);
    wait_ready(&FS, 10000);

    /* every lookup kind equals the single node's; the batch reads every master */
    long long hmget0[HC_MAX_NODES];
    for (int i = 0; i < C.nnodes; i++) {
        hmget0[i] = calls(&C, i, "hmget");
    }
    same_answers(FC.port, FS.port, "cluster");
    for (int i = 0; i < C.nnodes; i++) {
        if (harness_cluster_is_master(&C, i)) {
            ck_assert_msg(calls(&C, i, "hmget") > hmget0[i], "master %d served no HMGET", i);
        }
    }
    ck_assert_double_eq(metric(&FC, "featd_redis_nodes"), 6);

    /* ServerInfo: the topology */
    {
        struct featd_client *c = featd_connect("127.0.0.1", FC.port, 3000, err, sizeof(err));
        ck_assert_ptr_nonnull(c);
        Featd__V1__Response *resp = NULL;
        ck_assert_int_eq(featd_server_info(c, &resp), FEATD_OK);
        ck_assert_str_eq(resp->server_info->redis_mode, "cluster");
        ck_assert_uint_eq(resp->server_info->redis_nodes, 6);
        ck_assert_uint_eq(resp->server_info->n_redis_masters, 3);
        ck_assert(resp->server_info->redis_connected);
        featd_response_free(resp);
        featd_close(c);
    }

    /* read_from_replicas: the replicas serve the lookups */
    snprintf(redis_json, sizeof(redis_json), "\"cluster_nodes\": [\"127.0.0.1:%d\"], \"read_from_replicas\": true",
             seeds[1].port);
    start_featd(&FR, redis_json);
    wait_ready(&FR, 10000);
    for (int i = 0; i < C.nnodes; i++) {
        hmget0[i] = calls(&C, i, "hmget");
    }
    same_answers(FR.port, FS.port, "read_from_replicas");
    for (int i = 0; i < C.nnodes; i++) {
        long long d = calls(&C, i, "hmget") - hmget0[i];
        if (!harness_cluster_is_master(&C, i)) {
            ck_assert_msg(d > 0, "replica %d served no HMGET", i);
        }
    }
    h_featd_stop(&FR);

    /* a slot being migrated: ASK; then moved for good: MOVED */
    unsigned slot = user_slot(1);
    int src = harness_cluster_slot_owner(&C, m0, slot);
    ck_assert_int_ge(src, 0);
    int dst = other_master(&C, src);
    char src_id[64], dst_id[64], slot_s[16], port_s[16];
    node_id(&C, src, src_id, sizeof(src_id));
    node_id(&C, dst, dst_id, sizeof(dst_id));
    snprintf(slot_s, sizeof(slot_s), "%u", slot);
    snprintf(port_s, sizeof(port_s), "%d", C.nodes[dst].port);
    ok_cmd(&C, dst, "CLUSTER SETSLOT %s IMPORTING %s", slot_s, src_id);
    ok_cmd(&C, src, "CLUSTER SETSLOT %s MIGRATING %s", slot_s, dst_id);
    for (int guard = 0;; guard++) {
        ck_assert_int_lt(guard, 100);
        redisReply *k = harness_cluster_cmd(&C, src, "CLUSTER GETKEYSINSLOT %s 100", slot_s);
        ck_assert_msg(k != NULL && k->type == REDIS_REPLY_ARRAY, "GETKEYSINSLOT");
        size_t n = k->elements;
        for (size_t j = 0; j < n; j++) {
            redisReply *r = harness_cluster_cmd(&C, src, "MIGRATE 127.0.0.1 %s %s 0 5000 KEYS %b", port_s, "",
                                                k->element[j]->str, (size_t)k->element[j]->len);
            ck_assert_msg(r != NULL && r->type == REDIS_REPLY_STATUS, "MIGRATE: %s", r ? r->str : "-");
            freeReplyObject(r);
        }
        freeReplyObject(k);
        if (n == 0) {
            break;
        }
    }
    same_answers(FC.port, FS.port, "cluster, slot migrating");
    ck_assert_msg(metric(&FC, "featd_redis_redirects_total{kind=\"ask\"}") > 0, "no ASK counted");
    ok_cmd(&C, dst, "CLUSTER SETSLOT %s NODE %s", slot_s, dst_id);
    ok_cmd(&C, src, "CLUSTER SETSLOT %s NODE %s", slot_s, dst_id);
    for (int i = 0; i < C.nnodes; i++) {
        if (i != src && i != dst && harness_cluster_is_master(&C, i)) {
            ok_cmd(&C, i, "CLUSTER SETSLOT %s NODE %s", slot_s, dst_id);
        }
    }
    same_answers(FC.port, FS.port, "cluster, slot moved");
    ck_assert_msg(metric(&FC, "featd_redis_redirects_total{kind=\"moved\"}") > 0, "no MOVED counted");
    double refreshes = metric(&FC, "featd_redis_topology_refreshes_total");
    ck_assert_msg(refreshes >= 2, "refreshes %g", refreshes);

    /* SIGKILL the master of user 1's slot: UNAVAILABLE naming slot and node
     * until its replica is promoted, then served without a restart */
    ck_assert_int_eq(harness_cluster_slot_owner(&C, src, slot), dst);
    harness_cluster_kill(&C, dst);
    long long tk = h_now_ms();
    size_t len;
    int code;
    char msg[512];
    uint8_t *a = answer(FC.port, REQ_TYPES, &len, &code, msg, sizeof(msg));
    ck_assert_msg(a == NULL && code == FEATD__V1__ERROR_CODE__UNAVAILABLE, "code %d: %s", code, msg);
    /* the first command to fail names its slot (a view pointer's or user 1's) and the dead node */
    ck_assert_msg(strstr(msg, "slot ") != NULL && strstr(msg, port_s) != NULL, "message: %s", msg);
    printf("dead master: %s\n", msg);
    harness_cluster_wait_ok(&C, 20000);
    long long tp = h_now_ms();
    int errors = 0;
    for (;;) {
        a = answer(FC.port, REQ_TYPES, &len, &code, msg, sizeof(msg));
        if (a != NULL) {
            free(a);
            break;
        }
        ck_assert_msg(code == FEATD__V1__ERROR_CODE__UNAVAILABLE || code == FEATD__V1__ERROR_CODE__DEADLINE_EXCEEDED,
                      "code %d: %s", code, msg);
        errors++;
        ck_assert_msg(h_now_ms() - tp < 10000, "not served 10 s after promotion: %s", msg);
        h_sleep_ms(50);
    }
    printf("master killed: promoted after %lld ms, served %lld ms after promotion (%d errors)\n", tp - tk,
           h_now_ms() - tp, errors);
    /* every worker has found the new master (each refreshes its map while a
     * master's link is down), then every kind answers as before */
    wait_ready(&FC, 5000);
    same_answers(FC.port, FS.port, "cluster after failover");

    h_featd_stop(&FC);
    h_featd_stop(&FS);
    h_redis_stop(&R);
    harness_cluster_stop(&C);
}
END_TEST

/* The master port featd's ServerInfo names (0 when none). */
static int info_master_port(int port)
{
    char err[256];
    struct featd_client *c = featd_connect("127.0.0.1", port, 3000, err, sizeof(err));
    ck_assert_msg(c != NULL, "connect: %s", err);
    Featd__V1__Response *resp = NULL;
    ck_assert_int_eq(featd_server_info(c, &resp), FEATD_OK);
    ck_assert_str_eq(resp->server_info->redis_mode, "sentinel");
    int p = 0;
    if (resp->server_info->n_redis_masters == 1) {
        const char *colon = strrchr(resp->server_info->redis_masters[0], ':');
        p = colon ? atoi(colon + 1) : 0;
    }
    featd_response_free(resp);
    featd_close(c);
    return p;
}

START_TEST(test_sentinel_serve)
{
    static struct hsentinel S;
    static struct h_featd F;
    load_cfg();
    if (!harness_sentinel_start(&S)) {
        return;
    }
    struct rbcluster *w = writer_single(S.data[S.master].port);
    write_rows(w);
    rbcluster_free(w);
    redisReply *r = harness_sentinel_data_cmd(&S, S.master, "WAIT 1 5000");
    ck_assert_msg(r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer == 1, "WAIT");
    freeReplyObject(r);

    char redis_json[1024];
    snprintf(redis_json, sizeof(redis_json),
             "\"sentinel\": { \"master_name\": \"" HS_MASTER_NAME "\", \"nodes\": [\"127.0.0.1:%d\", "
             "\"127.0.0.1:%d\", \"127.0.0.1:%d\"] }",
             h_free_port(), S.sentinels[1].port, S.sentinels[2].port);   /* a dead sentinel first */
    start_featd(&F, redis_json);
    wait_ready(&F, 10000);
    ck_assert_int_eq(info_master_port(F.port), S.data[S.master].port);
    size_t ref_len[REQ__COUNT];
    uint8_t *ref[REQ__COUNT];
    int code;
    char msg[512];
    for (int k = 0; k < REQ__COUNT; k++) {
        ref[k] = answer(F.port, (enum req_kind)k, &ref_len[k], &code, msg, sizeof(msg));
        ck_assert_msg(ref[k] != NULL, "request %d: %s", k, msg);
    }

    int old = S.master;
    long long t0 = h_now_ms();
    harness_sentinel_failover(&S, 20000);
    long long ts = h_now_ms();
    ck_assert_int_ne(S.master, old);
    int errors = 0;
    for (;;) {
        size_t len;
        uint8_t *a = answer(F.port, REQ_TYPES, &len, &code, msg, sizeof(msg));
        bool ok = a != NULL && info_master_port(F.port) == S.data[S.master].port;
        free(a);
        if (ok) {
            break;
        }
        if (a == NULL) {
            ck_assert_msg(code == FEATD__V1__ERROR_CODE__UNAVAILABLE || code == FEATD__V1__ERROR_CODE__DEADLINE_EXCEEDED,
                          "code %d: %s", code, msg);
            errors++;
        }
        ck_assert_msg(h_now_ms() - ts < 15000, "featd did not follow the failover: %s", msg);
        h_sleep_ms(50);
    }
    printf("sentinel failover: switched in %lld ms, featd on the new master %lld ms later (%d errors)\n",
           ts - t0, h_now_ms() - ts, errors);
    for (int k = 0; k < REQ__COUNT; k++) {
        size_t len;
        uint8_t *a = answer(F.port, (enum req_kind)k, &len, &code, msg, sizeof(msg));
        ck_assert_msg(a != NULL, "request %d after failover: %s", k, msg);
        ck_assert_msg(len == ref_len[k] && memcmp(a, ref[k], len) == 0, "request %d differs after failover", k);
        free(a);
        free(ref[k]);
    }
    wait_ready(&F, 10000);
    h_featd_stop(&F);
    harness_sentinel_stop(&S);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("e2e_cluster_serve");
    TCase *tc = tcase_create("cluster");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_cluster_serve);
    suite_add_tcase(s, tc);
    TCase *ts = tcase_create("sentinel");
    tcase_set_timeout(ts, 90);
    tcase_add_test(ts, test_sentinel_serve);
    suite_add_tcase(s, ts);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    config_free(cfg);
    return failed ? 1 : 0;
}
