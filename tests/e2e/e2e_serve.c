/*
 * e2e_serve.c — end-to-end tests of the serving path: a real redis-server and
 * the real featd binary on free loopback ports, driven through libfeatd.
 * Rows are written with the online-tier writers (server/online/online.h), the same
 * primitives the materializer and `featd-cli load` use.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "config/config.h"
#include "featd_client.h"
#include "harness.h"
#include "online/online.h"
#include "core/fbuf.h"
#include "core/util.h"

static struct h_redis R;
static struct h_featd F;
static char cfg_json[8192];
static struct featd_config *cfg;

#define PREFIX "e2e"

#define CFG_FMT \
    "{ \"server\": { \"listen\": \"127.0.0.1:%d\", \"admin_listen\": \"127.0.0.1:%d\", \"workers\": 2," \
    "    \"max_frame_bytes\": 65536, \"max_entities_per_request\": 100, \"request_timeout_ms\": 300," \
    "    \"max_connections\": 50, \"max_output_bytes\": 65536, \"log_level\": \"info\" }," \
    "  \"redis\": { \"url\": \"redis://127.0.0.1:%d/0\", \"key_prefix\": \"" PREFIX "\" }," \
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

/* ---- writing rows with the online-tier primitives ---- */

static redisContext *rconn(void)
{
    redisContext *c = redisConnect("127.0.0.1", R.port);
    ck_assert_msg(c && !c->err, "connect to test redis");
    return c;
}

static const struct cfg_view *view(const char *name)
{
    const struct cfg_view *v = config_find_view(cfg, name);
    ck_assert_msg(v != NULL, "view %s", name);
    return v;
}

/* Writes all_types rows for users 1..n into a new generation and flips.
 * User 2 has every feature null; user ids are multiplied by mult in values. */
static uint64_t write_all_types(int n, int mult, int64_t event_ts)
{
    const struct cfg_view *v = view("all_types");
    redisContext *c = rconn();
    char err[256];
    uint64_t gen, old;
    ck_assert_int_eq(online_gen_alloc(c, PREFIX, v, &gen, err, sizeof(err)), FEATD_OK);
    struct online_writer *w = online_writer_new(c, PREFIX, v, 100);
    for (int u = 1; u <= n; u++) {
        struct online_value vals[12];
        memset(vals, 0, sizeof(vals));
        struct fbuf fl = { 0 }, dl = { 0 }, il = { 0 }, sl = { 0 };
        char s[64];
        snprintf(s, sizeof(s), "user-%d", u * mult);
        for (int k = 0; k < 4; k++) {
            ck_assert_int_eq(online_row_list_put_float(&fl, (float)(u * mult) + 0.25f * (float)k), FEATD_OK);
        }
        ck_assert_int_eq(online_row_list_put_double(&dl, 1.5 * u * mult), FEATD_OK);
        ck_assert_int_eq(online_row_list_put_int64(&il, -(int64_t)u * mult), FEATD_OK);
        ck_assert_int_eq(online_row_list_put_int64(&il, INT64_MAX), FEATD_OK);
        ck_assert_int_eq(online_row_list_put_string(&sl, "a", 1), FEATD_OK);
        ck_assert_int_eq(online_row_list_put_string(&sl, "", 0), FEATD_OK);
        bool null_row = (u == 2);
        for (int f = 0; f < 12; f++) {
            vals[f].is_null = null_row;
        }
        vals[0].u.b = u % 2;
        vals[1].u.i32 = -u * mult;
        vals[2].u.i64 = (int64_t)u * mult * 1000000000LL;
        vals[3].u.f = 0.5f * (float)(u * mult);
        vals[4].u.d = 0.1 * u * mult;
        vals[5].s = s;
        vals[5].slen = strlen(s);
        vals[6].s = "\x00\x01\xff";
        vals[6].slen = 3;
        vals[7].u.i64 = 1700000000000000LL + u;
        vals[8].count = 4; vals[8].raw = (const uint8_t *)fl.data; vals[8].rawlen = fl.len;
        vals[9].count = 1; vals[9].raw = (const uint8_t *)dl.data; vals[9].rawlen = dl.len;
        vals[10].count = 2; vals[10].raw = (const uint8_t *)il.data; vals[10].rawlen = il.len;
        vals[11].count = 2; vals[11].raw = (const uint8_t *)sl.data; vals[11].rawlen = sl.len;
        struct online_key key = { .i = u };
        ck_assert_int_eq(online_writer_put(w, gen, &key, event_ts, ONLINE_NO_CREATED_TS, vals, err,
                                           sizeof(err)), FEATD_OK);
        fbuf_free(&fl); fbuf_free(&dl); fbuf_free(&il); fbuf_free(&sl);
    }
    ck_assert_int_eq(online_writer_flush(w, err, sizeof(err)), FEATD_OK);
    online_writer_free(w);
    ck_assert_int_eq(online_gen_flip(c, PREFIX, v, gen, &old, err, sizeof(err)), FEATD_OK);
    /* A lookup may read the generation this flip replaced for a moment
     * longer (online_gen.h): reclaim the one the flip before replaced. */
    static uint64_t replaced;
    if (replaced && replaced != gen) {
        uint64_t del;
        ck_assert_int_eq(online_gen_reclaim(c, PREFIX, v, replaced, &del, err, sizeof(err)), FEATD_OK);
    }
    replaced = old;
    redisFree(c);
    return gen;
}

static void write_simple(const char *vname, int64_t user, const char *item, float score, int64_t event_ts)
{
    const struct cfg_view *v = view(vname);
    redisContext *c = rconn();
    char err[256];
    uint64_t gen;
    ck_assert_int_eq(online_gen_ensure(c, PREFIX, v, &gen, err, sizeof(err)), FEATD_OK);
    struct online_writer *w = online_writer_new(c, PREFIX, v, 10);
    struct online_key keys[2] = { { .i = user }, { .s = item, .slen = item ? strlen(item) : 0 } };
    struct online_value vals[2];
    memset(vals, 0, sizeof(vals));
    if (strcmp(vname, "user_item") == 0) {
        vals[0].u.f = score;
        vals[1].u.b = true;
    } else {
        vals[0].u.i64 = (int64_t)score;
        vals[1].s = "Paris";
        vals[1].slen = 5;
    }
    ck_assert_int_eq(online_writer_upsert(w, gen, keys, event_ts, ONLINE_NO_CREATED_TS, vals, err,
                                          sizeof(err)), FEATD_OK);
    ck_assert_int_eq(online_writer_flush(w, err, sizeof(err)), FEATD_OK);
    online_writer_free(w);
    redisFree(c);
}

/* ---- fixtures ---- */

static void setup(void)
{
    h_redis_start(&R);
    int port = h_free_port(), admin = h_free_port();
    snprintf(cfg_json, sizeof(cfg_json), CFG_FMT, port, admin, R.port);
    char err[4096];
    ck_assert_msg(config_load_string(cfg_json, &cfg, err, sizeof(err)) == FEATD_OK, "config: %s", err);
    int64_t now = util_now_us();
    write_all_types(5, 1, now - 1000000);
    write_simple("user_item", 1, "book", 0.75f, now);
    write_simple("user_item", 1, "pen:blue", 0.5f, now);
    write_simple("profile", 1, NULL, 30, now - 120LL * 1000000);   /* older than ttl 60 s */
    write_simple("profile", 3, NULL, 40, now);
    h_featd_start(&F, cfg_json);
}

static void teardown(void)
{
    h_featd_stop(&F);
    h_redis_stop(&R);
    config_free(cfg);
}

static struct featd_client *cli(void)
{
    char err[256];
    struct featd_client *c = featd_connect("127.0.0.1", F.port, 3000, err, sizeof(err));
    ck_assert_msg(c != NULL, "connect: %s", err);
    return c;
}

static Featd__V1__Response *get_ok(struct featd_client *c, struct featd_get *g)
{
    Featd__V1__Response *resp = NULL;
    int rc = featd_lookup(c, g, &resp);
    ck_assert_msg(rc == FEATD_OK, "lookup failed: %s", featd_errmsg(c));
    ck_assert_int_eq(resp->body_case, FEATD__V1__RESPONSE__BODY_GET_ONLINE_FEATURES);
    return resp;
}

/* Sends g and expects an Error with code; returns the message (static copy). */
static const char *get_err(struct featd_client *c, struct featd_get *g, int code)
{
    static char msg[512];
    Featd__V1__Response *resp = NULL;
    uint64_t id = featd_next_id(c);
    ck_assert_int_eq(featd_call(c, featd_get_request(g, id), &resp), FEATD_OK);
    ck_assert_msg(resp->body_case == FEATD__V1__RESPONSE__BODY_ERROR, "expected an error, got %s",
                  featd_body_name((int)resp->body_case));
    ck_assert_msg((int)resp->error->code == code, "expected %s, got %s: %s", featd_error_code_name(code),
                  featd_error_code_name(resp->error->code), resp->error->message);
    ck_assert_uint_eq(resp->request_id, id);
    snprintf(msg, sizeof(msg), "%s", resp->error->message);
    featd_response_free(resp);
    return msg;
}

/* ---- tests ---- */

START_TEST(test_statuses_and_types)
{
    struct featd_client *c = cli();
    struct featd_get *g = featd_get_new();
    featd_get_add_feature(g, "all_types:*");
    for (int u = 1; u <= 6; u++) {
        featd_get_add_int64(g, "user_id", u);
    }
    Featd__V1__Response *resp = get_ok(c, g);
    const Featd__V1__GetOnlineFeaturesResponse *r = resp->get_online_features;
    ck_assert_uint_eq(r->n_feature_names, 12);
    ck_assert_str_eq(r->feature_names[0], "all_types:b");
    ck_assert_str_eq(r->feature_names[11], "all_types:sl");
    /* user 1: every type present */
    for (size_t f = 0; f < 12; f++) {
        ck_assert_int_eq(featd_resp_status(r, f, 0), FEATD__V1__FIELD_STATUS__PRESENT);
        ck_assert(featd_resp_event_ts(r, f, 0) > 0);
    }
    ck_assert(featd_resp_value(r, 0, 0)->bool_val == true);
    ck_assert_int_eq(featd_resp_value(r, 1, 0)->int32_val, -1);
    ck_assert_int_eq(featd_resp_value(r, 2, 0)->int64_val, 1000000000LL);
    ck_assert(featd_resp_value(r, 3, 0)->float_val == 0.5f);
    ck_assert(featd_resp_value(r, 4, 0)->double_val == 0.1);
    ck_assert_str_eq(featd_resp_value(r, 5, 0)->string_val, "user-1");
    ck_assert_uint_eq(featd_resp_value(r, 6, 0)->bytes_val.len, 3);
    ck_assert(memcmp(featd_resp_value(r, 6, 0)->bytes_val.data, "\x00\x01\xff", 3) == 0);
    ck_assert_int_eq(featd_resp_value(r, 7, 0)->kind_case, FEATD__V1__VALUE__KIND_TIMESTAMP_US_VAL);
    ck_assert_int_eq(featd_resp_value(r, 7, 0)->timestamp_us_val, 1700000000000001LL);
    const Featd__V1__FloatList *fl = featd_resp_value(r, 8, 0)->float_list_val;
    ck_assert_uint_eq(fl->n_val, 4);
    ck_assert(fl->val[0] == 1.0f && fl->val[3] == 1.75f);
    ck_assert(featd_resp_value(r, 9, 0)->double_list_val->val[0] == 1.5);
    ck_assert_int_eq(featd_resp_value(r, 10, 0)->int64_list_val->val[1], INT64_MAX);
    const Featd__V1__StringList *sl = featd_resp_value(r, 11, 0)->string_list_val;
    ck_assert_uint_eq(sl->n_val, 2);
    ck_assert_str_eq(sl->val[0], "a");
    ck_assert_str_eq(sl->val[1], "");
    /* user 2: the row exists, every value null */
    for (size_t f = 0; f < 12; f++) {
        ck_assert_int_eq(featd_resp_status(r, f, 1), FEATD__V1__FIELD_STATUS__NULL_VALUE);
        ck_assert_int_eq(featd_resp_value(r, f, 1)->kind_case, FEATD__V1__VALUE__KIND__NOT_SET);
    }
    /* user 6: no row */
    for (size_t f = 0; f < 12; f++) {
        ck_assert_int_eq(featd_resp_status(r, f, 5), FEATD__V1__FIELD_STATUS__NOT_FOUND);
    }
    featd_response_free(resp);

    /* OUTSIDE_MAX_AGE: profile of user 1 is 120 s old, ttl 60 s; value still returned */
    featd_get_reset(g);
    featd_get_add_feature(g, "profile:age");
    featd_get_add_feature(g, "profile:city");
    featd_get_add_int64(g, "user_id", 1);
    featd_get_add_int64(g, "user_id", 3);
    resp = get_ok(c, g);
    r = resp->get_online_features;
    ck_assert_int_eq(featd_resp_status(r, 0, 0), FEATD__V1__FIELD_STATUS__OUTSIDE_MAX_AGE);
    ck_assert_int_eq(featd_resp_value(r, 0, 0)->int64_val, 30);
    ck_assert_int_eq(featd_resp_status(r, 0, 1), FEATD__V1__FIELD_STATUS__PRESENT);
    ck_assert_str_eq(featd_resp_value(r, 1, 1)->string_val, "Paris");
    featd_response_free(resp);
    featd_get_free(g);
    featd_close(c);
}
END_TEST

START_TEST(test_multi_view_composite_keys)
{
    struct featd_client *c = cli();
    struct featd_get *g = featd_get_new();
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
    Featd__V1__Response *resp = get_ok(c, g);
    const Featd__V1__GetOnlineFeaturesResponse *r = resp->get_online_features;
    ck_assert_uint_eq(r->n_results, 4);
    ck_assert_str_eq(r->feature_names[0], "user_item:score");
    ck_assert_str_eq(r->feature_names[2], "empty_view:x");
    ck_assert(featd_resp_value(r, 0, 0)->float_val == 0.75f);
    ck_assert(featd_resp_value(r, 0, 1)->float_val == 0.5f);
    ck_assert(featd_resp_value(r, 0, 2)->float_val == 0.75f);     /* duplicate entity */
    ck_assert_int_eq(featd_resp_status(r, 0, 3), FEATD__V1__FIELD_STATUS__NOT_FOUND);
    ck_assert_int_eq(featd_resp_value(r, 1, 0)->int64_val, 1000000000LL);
    ck_assert_int_eq(featd_resp_status(r, 1, 3), FEATD__V1__FIELD_STATUS__NULL_VALUE);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(featd_resp_status(r, 2, (size_t)i), FEATD__V1__FIELD_STATUS__NOT_FOUND);
    }
    ck_assert(featd_resp_value(r, 3, 1)->bool_val == true);
    featd_response_free(resp);
    featd_get_free(g);
    featd_close(c);
}
END_TEST

START_TEST(test_pipelined_out_of_order_ids)
{
    struct featd_client *c = cli();
    struct featd_get *g = featd_get_new();
    featd_get_add_feature(g, "all_types:i32");
    const uint64_t ids[] = { 900, 7, 123456789012345ULL, 8, 1, 77, 3, 500 };
    const size_t n = sizeof(ids) / sizeof(ids[0]);
    for (size_t i = 0; i < n; i++) {
        featd_get_reset(g);
        featd_get_add_feature(g, "all_types:i32");
        featd_get_add_int64(g, "user_id", (int64_t)(i % 5) + 1);
        if (i == 3) {
            ck_assert_int_eq(featd_send_ping(c, ids[i]), FEATD_OK);
        } else {
            ck_assert_int_eq(featd_send(c, featd_get_request(g, ids[i])), FEATD_OK);
        }
    }
    int seen[8] = { 0 };
    for (size_t k = 0; k < n; k++) {
        Featd__V1__Response *resp = NULL;
        ck_assert_msg(featd_recv(c, &resp) == FEATD_OK, "recv: %s", featd_errmsg(c));
        size_t i;
        for (i = 0; i < n && ids[i] != resp->request_id; i++) {
        }
        ck_assert_msg(i < n, "unknown request id %" PRIu64, resp->request_id);
        ck_assert_int_eq(seen[i], 0);
        seen[i] = 1;
        if (i == 3) {
            ck_assert_int_eq(resp->body_case, FEATD__V1__RESPONSE__BODY_PING);
        } else {
            ck_assert_int_eq(resp->body_case, FEATD__V1__RESPONSE__BODY_GET_ONLINE_FEATURES);
            int64_t u = (int64_t)(i % 5) + 1;
            const Featd__V1__GetOnlineFeaturesResponse *r = resp->get_online_features;
            if (u == 2) {
                ck_assert_int_eq(featd_resp_status(r, 0, 0), FEATD__V1__FIELD_STATUS__NULL_VALUE);
            } else {
                ck_assert_int_eq(featd_resp_value(r, 0, 0)->int32_val, -u);
            }
        }
        featd_response_free(resp);
    }
    featd_get_free(g);
    featd_close(c);
}
END_TEST

START_TEST(test_bad_requests)
{
    struct featd_client *c = cli();
    struct featd_get *g = featd_get_new();
    const char *m;

    featd_get_add_int64(g, "user_id", 1);
    m = get_err(c, g, FEATD__V1__ERROR_CODE__INVALID_ARGUMENT);
    ck_assert_msg(strstr(m, "no features") != NULL, "%s", m);

    featd_get_reset(g);
    featd_get_add_feature(g, "nope:x");
    featd_get_add_int64(g, "user_id", 1);
    m = get_err(c, g, FEATD__V1__ERROR_CODE__INVALID_ARGUMENT);
    ck_assert_msg(strstr(m, "unknown feature view \"nope\"") != NULL, "%s", m);

    featd_get_reset(g);
    featd_get_add_feature(g, "all_types:nope");
    featd_get_add_int64(g, "user_id", 1);
    m = get_err(c, g, FEATD__V1__ERROR_CODE__INVALID_ARGUMENT);
    ck_assert_msg(strstr(m, "has no feature \"nope\"") != NULL, "%s", m);

    featd_get_reset(g);
    featd_get_add_feature(g, "all_types");
    featd_get_add_int64(g, "user_id", 1);
    m = get_err(c, g, FEATD__V1__ERROR_CODE__INVALID_ARGUMENT);
    ck_assert_msg(strstr(m, "not of the form") != NULL, "%s", m);

    featd_get_reset(g);
    featd_get_add_feature(g, "user_item:score");
    featd_get_add_int64(g, "user_id", 1);
    m = get_err(c, g, FEATD__V1__ERROR_CODE__INVALID_ARGUMENT);
    ck_assert_msg(strstr(m, "missing join key \"item_id\"") != NULL, "%s", m);

    featd_get_reset(g);
    featd_get_add_feature(g, "all_types:b");
    featd_get_add_string(g, "user_id", "42");
    m = get_err(c, g, FEATD__V1__ERROR_CODE__INVALID_ARGUMENT);
    ck_assert_msg(strstr(m, "join key \"user_id\" row 0: expected int64_val, got string_val") != NULL, "%s", m);

    featd_get_reset(g);
    featd_get_add_feature(g, "all_types:b");
    featd_get_add_null(g, "user_id");
    m = get_err(c, g, FEATD__V1__ERROR_CODE__INVALID_ARGUMENT);
    ck_assert_msg(strstr(m, "got null") != NULL, "%s", m);

    featd_get_reset(g);
    featd_get_add_feature(g, "user_item:score");
    featd_get_add_int64(g, "user_id", 1);
    featd_get_add_int64(g, "user_id", 2);
    featd_get_add_string(g, "item_id", "book");
    m = get_err(c, g, FEATD__V1__ERROR_CODE__INVALID_ARGUMENT);
    ck_assert_msg(strstr(m, "unequal lengths") != NULL, "%s", m);

    featd_get_reset(g);
    featd_get_add_feature(g, "all_types:b");
    featd_get_add_int64(g, "user_id", 1);
    featd_get_add_string(g, "item_id", "book");
    m = get_err(c, g, FEATD__V1__ERROR_CODE__INVALID_ARGUMENT);
    ck_assert_msg(strstr(m, "\"item_id\" is not used") != NULL, "%s", m);

    featd_get_reset(g);
    featd_get_add_feature(g, "all_types:b");
    featd_get_add_feature(g, "all_types:*");
    featd_get_add_int64(g, "user_id", 1);
    m = get_err(c, g, FEATD__V1__ERROR_CODE__INVALID_ARGUMENT);
    ck_assert_msg(strstr(m, "more than once") != NULL, "%s", m);

    featd_get_reset(g);
    featd_get_add_feature(g, "all_types:b");
    for (int i = 0; i < 101; i++) {
        featd_get_add_int64(g, "user_id", i);
    }
    m = get_err(c, g, FEATD__V1__ERROR_CODE__INVALID_ARGUMENT);
    ck_assert_msg(strstr(m, "too many entities: 101 rows exceed max_entities_per_request (100)") != NULL, "%s", m);

    /* a request with no body */
    Featd__V1__Request empty = FEATD__V1__REQUEST__INIT;
    empty.request_id = 99;
    Featd__V1__Response *resp = NULL;
    ck_assert_int_eq(featd_call(c, &empty, &resp), FEATD_OK);
    ck_assert_int_eq(resp->body_case, FEATD__V1__RESPONSE__BODY_ERROR);
    ck_assert_int_eq(resp->error->code, FEATD__V1__ERROR_CODE__INVALID_ARGUMENT);
    ck_assert_uint_eq(resp->request_id, 99);
    featd_response_free(resp);

    /* the connection survived every bad request */
    ck_assert_int_eq(featd_ping(c, NULL), FEATD_OK);
    featd_get_free(g);
    featd_close(c);
}
END_TEST

/* Reads frames until an Error with request_id 0 arrives; then expects EOF. */
static void expect_error_then_close(struct featd_client *c, int code, const char *needle)
{
    Featd__V1__Response *resp = NULL;
    ck_assert_msg(featd_recv(c, &resp) == FEATD_OK, "recv: %s", featd_errmsg(c));
    ck_assert_int_eq(resp->body_case, FEATD__V1__RESPONSE__BODY_ERROR);
    ck_assert_uint_eq(resp->request_id, 0);
    ck_assert_int_eq(resp->error->code, code);
    ck_assert_msg(strstr(resp->error->message, needle) != NULL, "%s", resp->error->message);
    featd_response_free(resp);
    resp = NULL;
    ck_assert_int_ne(featd_recv(c, &resp), FEATD_OK);
    ck_assert_msg(strstr(featd_errmsg(c), "closed") != NULL, "expected close, got: %s", featd_errmsg(c));
}

/* A strict UTF-8 check written independently of the server's (the ranges
 * of Unicode Table 3-7, as strict protobuf runtimes apply them). */
static bool strict_utf8(const char *str)
{
    const unsigned char *p = (const unsigned char *)str;
    while (*p != 0) {
        unsigned c = *p;
        int more;
        unsigned lo = 0x80, hi = 0xBF;
        if (c < 0x80) {
            p++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            more = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            more = 2;
            lo = c == 0xE0 ? 0xA0 : 0x80;
            hi = c == 0xED ? 0x9F : 0xBF;
        } else if (c >= 0xF0 && c <= 0xF4) {
            more = 3;
            lo = c == 0xF0 ? 0x90 : 0x80;
            hi = c == 0xF4 ? 0x8F : 0xBF;
        } else {
            return false;
        }
        p++;
        for (int k = 0; k < more; k++, p++) {
            if (*p < lo || *p > hi) {
                return false;
            }
            lo = 0x80;
            hi = 0xBF;
        }
    }
    return true;
}

/* Every protobuf string of resp (error message, feature names, string
 * values) passes strict_utf8. */
static void assert_answer_utf8(const Featd__V1__Response *resp, const char *what)
{
    if (resp->body_case == FEATD__V1__RESPONSE__BODY_ERROR) {
        ck_assert_msg(strict_utf8(resp->error->message), "%s: message not UTF-8: %s", what,
                      resp->error->message);
        return;
    }
    ck_assert_int_eq(resp->body_case, FEATD__V1__RESPONSE__BODY_GET_ONLINE_FEATURES);
    const Featd__V1__GetOnlineFeaturesResponse *a = resp->get_online_features;
    for (size_t f = 0; f < a->n_feature_names; f++) {
        ck_assert_msg(strict_utf8(a->feature_names[f]), "%s: feature name not UTF-8", what);
    }
    for (size_t f = 0; f < a->n_results; f++) {
        for (size_t r = 0; r < a->results[f]->n_values; r++) {
            const Featd__V1__Value *v = a->results[f]->values[r];
            if (v->kind_case == FEATD__V1__VALUE__KIND_STRING_VAL) {
                ck_assert_msg(strict_utf8(v->string_val), "%s: string value not UTF-8", what);
            }
        }
    }
}

/* Issue #12 failure 6: invalid UTF-8 in feature references, view names,
 * join key names and string join key values never yields an answer a
 * strict protobuf client rejects; refusals are INVALID_ARGUMENT with a
 * clear message (invalid bytes read as U+FFFD). */
START_TEST(test_invalid_utf8_requests)
{
    write_simple("user_item", 1, "book", 0.5f, util_now_us());
    static const char *const bad[] = {
        "\xFF", "\xC0\x80", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xE2\x82", "\x80\x80",
        "ok\xFE", "\xC3\x28", "\xF0\x9F\x98", "a\nb\x01",
    };
    struct featd_client *c = cli();
    struct featd_get *g = featd_get_new();
    char ref[64], key[64];
    int nerr = 0, nok = 0;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        for (int shape = 0; shape < 5; shape++) {
            featd_get_reset(g);
            switch (shape) {
            case 0:     /* the view name */
                snprintf(ref, sizeof(ref), "user%s_item:score", bad[i]);
                featd_get_add_feature(g, ref);
                featd_get_add_int64(g, "user_id", 1);
                break;
            case 1:     /* the feature name */
                snprintf(ref, sizeof(ref), "user_item:sc%sore", bad[i]);
                featd_get_add_feature(g, ref);
                featd_get_add_int64(g, "user_id", 1);
                featd_get_add_string(g, "item_id", "book");
                break;
            case 2:     /* a reference without a colon */
                snprintf(ref, sizeof(ref), "%s", bad[i]);
                featd_get_add_feature(g, ref);
                featd_get_add_int64(g, "user_id", 1);
                break;
            case 3:     /* a join key name */
                snprintf(key, sizeof(key), "user_id%s", bad[i]);
                featd_get_add_feature(g, "all_types:b");
                featd_get_add_int64(g, "user_id", 1);
                featd_get_add_int64(g, key, 1);
                break;
            default:    /* a string join key value: looked up, not refused */
                featd_get_add_feature(g, "user_item:score");
                featd_get_add_int64(g, "user_id", 1);
                featd_get_add_string(g, "item_id", bad[i]);
                featd_get_add_int64(g, "user_id", 1);
                featd_get_add_string(g, "item_id", "book");
                break;
            }
            Featd__V1__Response *resp = NULL;
            ck_assert_int_eq(featd_call(c, featd_get_request(g, featd_next_id(c)), &resp), FEATD_OK);
            char what[32];
            snprintf(what, sizeof(what), "case %zu shape %d", i, shape);
            assert_answer_utf8(resp, what);
            if (shape == 4) {
                ck_assert_msg(resp->body_case == FEATD__V1__RESPONSE__BODY_GET_ONLINE_FEATURES,
                              "%s: refused", what);
                const Featd__V1__GetOnlineFeaturesResponse *a = resp->get_online_features;
                ck_assert_str_eq(a->feature_names[0], "user_item:score");
                ck_assert_int_eq(a->results[0]->statuses[0], FEATD__V1__FIELD_STATUS__NOT_FOUND);
                ck_assert_int_eq(a->results[0]->statuses[1], FEATD__V1__FIELD_STATUS__PRESENT);
                nok++;
            } else {
                ck_assert_msg(resp->body_case == FEATD__V1__RESPONSE__BODY_ERROR &&
                              resp->error->code == FEATD__V1__ERROR_CODE__INVALID_ARGUMENT,
                              "%s: expected INVALID_ARGUMENT", what);
                const char *m = resp->error->message;
                const char *want = shape == 0 ? "unknown feature view \"user" :
                                   shape == 1 ? "has no feature \"sc" :
                                   shape == 2 ? "not of the form" : "join key \"user_id";
                ck_assert_msg(strstr(m, want) != NULL, "%s: %s", what, m);
                if (shape != 2 && strchr(bad[i], '\n') == NULL) {
                    ck_assert_msg(strstr(m, "\xEF\xBF\xBD") != NULL, "%s: no U+FFFD in %s", what, m);
                }
                nerr++;
            }
            featd_response_free(resp);
        }
    }
    ck_assert_int_eq(nok, 10);
    ck_assert_int_eq(nerr, 40);
    featd_get_free(g);
    featd_close(c);
}
END_TEST

START_TEST(test_garbage_and_oversized_frames)
{
    struct featd_client *keep = cli();
    ck_assert_int_eq(featd_ping(keep, NULL), FEATD_OK);

    struct featd_client *c = cli();
    const uint8_t garbage[] = { 0, 0, 0, 6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    ck_assert_int_eq(featd_send_raw(c, garbage, sizeof(garbage)), FEATD_OK);
    expect_error_then_close(c, FEATD__V1__ERROR_CODE__INVALID_ARGUMENT, "malformed frame");
    featd_close(c);

    c = cli();
    const uint8_t big[] = { 0, 0x10, 0, 1 };   /* 1 MiB + 1 > max_frame_bytes 65536 */
    ck_assert_int_eq(featd_send_raw(c, big, sizeof(big)), FEATD_OK);
    expect_error_then_close(c, FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED, "exceeds max_frame_bytes");
    featd_close(c);

    /* a partial frame followed by a close does not disturb anyone */
    c = cli();
    const uint8_t partial[] = { 0, 0, 0, 50, 1, 2 };
    ck_assert_int_eq(featd_send_raw(c, partial, sizeof(partial)), FEATD_OK);
    featd_close(c);

    ck_assert_int_eq(featd_ping(keep, NULL), FEATD_OK);
    struct featd_get *g = featd_get_new();
    featd_get_add_feature(g, "all_types:i32");
    featd_get_add_int64(g, "user_id", 3);
    Featd__V1__Response *resp = get_ok(keep, g);
    ck_assert_int_eq(featd_resp_value(resp->get_online_features, 0, 0)->int32_val, -3);
    featd_response_free(resp);
    featd_get_free(g);
    featd_close(keep);
}
END_TEST

START_TEST(test_views_info_ping)
{
    struct featd_client *c = cli();
    int64_t t = 0;
    ck_assert_int_eq(featd_ping(c, &t), FEATD_OK);
    ck_assert(llabs(t - util_now_us()) < 10 * 1000000LL);
    Featd__V1__Response *resp = NULL;
    ck_assert_int_eq(featd_list_views(c, &resp), FEATD_OK);
    const Featd__V1__ListFeatureViewsResponse *lv = resp->list_feature_views;
    ck_assert_uint_eq(lv->n_views, 4);
    ck_assert_str_eq(lv->views[1]->name, "user_item");
    ck_assert_uint_eq(lv->views[1]->n_join_keys, 2);
    ck_assert_str_eq(lv->views[1]->join_keys[1]->type, "string");
    ck_assert_str_eq(lv->views[0]->features[8]->type, "float_list");
    ck_assert_uint_eq(strlen(lv->views[0]->fingerprint), 16);
    featd_response_free(resp);
    /* the generation cache refreshes itself (every second) */
    uint64_t gen = 0;
    for (int i = 0; i < 40 && gen == 0; i++) {
        ck_assert_int_eq(featd_list_views(c, &resp), FEATD_OK);
        gen = resp->list_feature_views->views[0]->generation;
        ck_assert_uint_eq(resp->list_feature_views->views[3]->generation, 0);  /* empty_view */
        featd_response_free(resp);
        if (gen == 0) {
            usleep(100000);
        }
    }
    {
        /* the generation shown is the view's current one */
        redisContext *rc = rconn();
        char err[256];
        uint64_t cur = 0;
        ck_assert_int_eq(online_gen_current(rc, PREFIX, view("all_types"), &cur, err, sizeof(err)), FEATD_OK);
        ck_assert_uint_ne(cur, 0);
        ck_assert_uint_eq(gen, cur);
        redisFree(rc);
    }
    ck_assert_int_eq(featd_server_info(c, &resp), FEATD_OK);
    ck_assert_str_eq(resp->server_info->version, "0.1.0");
    ck_assert_uint_eq(resp->server_info->workers, 2);
    ck_assert(resp->server_info->redis_connected);
    ck_assert_uint_eq(resp->server_info->feature_views, 4);
    featd_response_free(resp);
    featd_close(c);
}
END_TEST

START_TEST(test_snapshot_flip_no_mix)
{
    /* Every response must show one generation: all values of a row set
     * share the multiplier (1 or 7), never a mix. */
    struct featd_client *c = cli();
    struct featd_get *g = featd_get_new();
    featd_get_add_feature(g, "all_types:i32");
    for (int u = 1; u <= 5; u++) {
        if (u != 2) {
            featd_get_add_int64(g, "user_id", u);
        }
    }
    pid_t pid = fork();
    if (pid == 0) {
        for (int k = 0; k < 200; k++) {
            write_all_types(5, (k % 2) ? 1 : 7, util_now_us());
        }
        _exit(0);
    }
    int mixed = 0, seen[8] = { 0 }, lookups = 0, st = 0;
    bool writer_done = false;
    while (!writer_done || lookups < 300) {
        Featd__V1__Response *resp = get_ok(c, g);
        const Featd__V1__GetOnlineFeaturesResponse *r = resp->get_online_features;
        int mult = -featd_resp_value(r, 0, 0)->int32_val;
        ck_assert_msg(mult == 1 || mult == 7, "unexpected value %d", -mult);
        seen[mult] = 1;
        for (size_t i = 1; i < 4; i++) {
            int u = i == 1 ? 3 : (int)i + 2;
            if (featd_resp_status(r, 0, i) != FEATD__V1__FIELD_STATUS__PRESENT ||
                featd_resp_value(r, 0, i)->int32_val != -u * mult) {
                mixed++;
            }
        }
        featd_response_free(resp);
        lookups++;
        if (!writer_done && waitpid(pid, &st, WNOHANG) == pid) {
            writer_done = true;
        }
    }
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the snapshot writer failed");
    ck_assert_int_eq(mixed, 0);
    ck_assert_msg(seen[1] && seen[7], "the lookups did not overlap the flips (saw 1: %d, 7: %d)",
                  seen[1], seen[7]);
    featd_get_free(g);
    featd_close(c);
}
END_TEST

START_TEST(test_redis_down_and_back)
{
    struct featd_client *c = cli();
    struct featd_get *g = featd_get_new();
    featd_get_add_feature(g, "all_types:i32");
    featd_get_add_int64(g, "user_id", 1);
    Featd__V1__Response *resp = get_ok(c, g);
    featd_response_free(resp);

    h_redis_stop(&R);
    int64_t t0 = util_mono_us();
    const char *m = get_err(c, g, FEATD__V1__ERROR_CODE__UNAVAILABLE);
    ck_assert_msg(util_mono_us() - t0 < 3000000, "UNAVAILABLE took too long");
    ck_assert_msg(strstr(m, "online store") != NULL, "%s", m);
    /* stays UNAVAILABLE (never hangs) while Redis is down */
    for (int i = 0; i < 5; i++) {
        get_err(c, g, FEATD__V1__ERROR_CODE__UNAVAILABLE);
    }
    h_redis_restart(&R);     /* empty dataset: the rows are gone */
    int64_t now = util_now_us();
    write_all_types(5, 1, now);
    /* recovers within the reconnect backoff (<= 2 s) */
    int ok = 0;
    for (int i = 0; i < 60 && !ok; i++) {
        resp = NULL;
        uint64_t id = featd_next_id(c);
        ck_assert_int_eq(featd_call(c, featd_get_request(g, id), &resp), FEATD_OK);
        if (resp->body_case == FEATD__V1__RESPONSE__BODY_GET_ONLINE_FEATURES) {
            ck_assert_int_eq(featd_resp_value(resp->get_online_features, 0, 0)->int32_val, -1);
            ok = 1;
        }
        featd_response_free(resp);
        if (!ok) {
            usleep(100000);
        }
    }
    ck_assert_msg(ok, "featd did not recover after Redis came back");
    featd_get_free(g);
    featd_close(c);
}
END_TEST

START_TEST(test_deadline_exceeded)
{
    struct featd_client *c = cli();
    struct featd_get *g = featd_get_new();
    featd_get_add_feature(g, "all_types:i32");
    featd_get_add_int64(g, "user_id", 1);
    pid_t pid = fork();
    if (pid == 0) {
        redisContext *rc = redisConnect("127.0.0.1", R.port);
        redisReply *rr = redisCommand(rc, "DEBUG SLEEP 3");
        if (rr) {
            freeReplyObject(rr);
        }
        redisFree(rc);
        _exit(0);
    }
    usleep(100000);
    featd_get_set_deadline(g, 150);
    int64_t t0 = util_mono_us();
    const char *m = get_err(c, g, FEATD__V1__ERROR_CODE__DEADLINE_EXCEEDED);
    int64_t took = util_mono_us() - t0;
    ck_assert_msg(took < 2000000, "deadline answer took %" PRId64 " us (Redis sleeps 3 s)", took);
    ck_assert_msg(strstr(m, "150 ms") != NULL, "%s", m);
    int st;
    waitpid(pid, &st, 0);
    /* the late Redis reply is absorbed; the connection keeps working */
    featd_get_set_deadline(g, 0);
    Featd__V1__Response *resp = get_ok(c, g);
    ck_assert_int_eq(featd_resp_value(resp->get_online_features, 0, 0)->int32_val, -1);
    featd_response_free(resp);
    featd_get_free(g);
    featd_close(c);
}
END_TEST

START_TEST(test_hostile_requests)
{
    struct featd_client *c = cli();
    struct featd_get *g = featd_get_new();
    const char *m;
    char name[32];

    /* thousands of entity columns (no rows): refused without a quadratic scan */
    featd_get_add_feature(g, "all_types:b");
    featd_get_add_int64(g, "user_id", 1);
    for (int i = 0; i < 4000; i++) {
        snprintf(name, sizeof(name), "k%d", i);
        featd_get_add_null(g, name);
    }
    m = get_err(c, g, FEATD__V1__ERROR_CODE__INVALID_ARGUMENT);
    ck_assert_msg(strstr(m, "join key \"k0\" is not used") != NULL, "%s", m);

    /* thousands of feature references */
    featd_get_reset(g);
    for (int i = 0; i < 3000; i++) {
        featd_get_add_feature(g, "all_types:*");
    }
    featd_get_add_int64(g, "user_id", 1);
    m = get_err(c, g, FEATD__V1__ERROR_CODE__INVALID_ARGUMENT);
    ck_assert_msg(strstr(m, "some are repeated") != NULL, "%s", m);

    /* a corrupt stored row: that entity is INVALID, the others are served */
    const struct cfg_view *v = view("all_types");
    redisContext *rc = rconn();
    char err[256];
    uint64_t gen = 0;
    ck_assert_int_eq(online_gen_current(rc, PREFIX, v, &gen, err, sizeof(err)), FEATD_OK);
    ck_assert_uint_ne(gen, 0);
    struct fbuf key = { 0 };
    struct online_key k77 = { .i = 77 };
    char field[ONLINE_FIELD_MAX];
    size_t flen = online_key_field(field, gen);
    ck_assert_int_eq(online_key_row(&key, PREFIX, v, &k77), FEATD_OK);
    redisReply *rr = redisCommand(rc, "HSET %b %b %b", key.data, key.len, field, flen, "\x02garbage", (size_t)8);
    ck_assert(rr && rr->type == REDIS_REPLY_INTEGER);
    freeReplyObject(rr);
    featd_get_reset(g);
    featd_get_add_feature(g, "all_types:i32");
    featd_get_add_int64(g, "user_id", 77);
    featd_get_add_int64(g, "user_id", 3);
    Featd__V1__Response *resp = get_ok(c, g);
    ck_assert_int_eq(featd_resp_status(resp->get_online_features, 0, 0), FEATD__V1__FIELD_STATUS__INVALID);
    ck_assert_int_eq(featd_resp_status(resp->get_online_features, 0, 1), FEATD__V1__FIELD_STATUS__PRESENT);
    featd_response_free(resp);
    /* an entity key that holds no hash (HMGET answers WRONGTYPE): INVALID
     * for that entity, the others served */
    struct online_key k78 = { .i = 78 };
    fbuf_reset(&key);
    ck_assert_int_eq(online_key_row(&key, PREFIX, v, &k78), FEATD_OK);
    rr = redisCommand(rc, "SET %b %s", key.data, key.len, "a string, not a hash");
    ck_assert(rr && rr->type == REDIS_REPLY_STATUS);
    freeReplyObject(rr);
    featd_get_reset(g);
    featd_get_add_feature(g, "all_types:i32");
    featd_get_add_int64(g, "user_id", 78);
    featd_get_add_int64(g, "user_id", 3);
    resp = get_ok(c, g);
    ck_assert_int_eq(featd_resp_status(resp->get_online_features, 0, 0), FEATD__V1__FIELD_STATUS__INVALID);
    ck_assert_int_eq(featd_resp_status(resp->get_online_features, 0, 1), FEATD__V1__FIELD_STATUS__PRESENT);
    featd_response_free(resp);

    /* an answer above the response limit (100 x a 1 MiB string) */
    fbuf_free(&key);
    struct online_writer *wr = online_writer_new(rc, PREFIX, v, 10);
    struct online_value vals[12];
    memset(vals, 0, sizeof(vals));
    for (int f = 0; f < 12; f++) {
        vals[f].is_null = true;
    }
    static char big[1 << 20];
    memset(big, 'x', sizeof(big));
    vals[5].is_null = false;
    vals[5].s = big;
    vals[5].slen = sizeof(big);
    struct online_key k99 = { .i = 99 };
    ck_assert_int_eq(online_writer_put(wr, gen, &k99, util_now_us(), ONLINE_NO_CREATED_TS, vals, err,
                                       sizeof(err)), FEATD_OK);
    ck_assert_int_eq(online_writer_flush(wr, err, sizeof(err)), FEATD_OK);
    online_writer_free(wr);
    redisFree(rc);
    featd_get_reset(g);
    featd_get_add_feature(g, "all_types:s");
    for (int i = 0; i < 100; i++) {
        featd_get_add_int64(g, "user_id", 99);
    }
    m = get_err(c, g, FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED);
    ck_assert_msg(strstr(m, "response limit") != NULL, "%s", m);
    /* ... while 10 of them are fine */
    featd_get_reset(g);
    featd_get_add_feature(g, "all_types:s");
    for (int i = 0; i < 10; i++) {
        featd_get_add_int64(g, "user_id", 99);
    }
    featd_set_max_frame(c, 64u << 20);
    resp = get_ok(c, g);
    ck_assert_uint_eq(strlen(featd_resp_value(resp->get_online_features, 0, 9)->string_val), sizeof(big));
    featd_response_free(resp);
    featd_get_free(g);
    featd_close(c);
}
END_TEST

START_TEST(test_inflight_limit)
{
    /* A worker with max_inflight_requests = 1 and a Redis that does not
     * answer: the second lookup is refused at once, not queued. */
    h_featd_stop(&F);
    char cfg2[8192];
    snprintf(cfg2, sizeof(cfg2), "%s", cfg_json);
    char *w = strstr(cfg2, "\"workers\": 2,");
    ck_assert_ptr_nonnull(w);
    memcpy(w, "\"workers\": 1,", strlen("\"workers\": 1,"));
    char *lim = strstr(cfg2, "\"max_connections\": 50,");
    ck_assert_ptr_nonnull(lim);
    const char *repl = "\"max_inflight_requests\": 1, \"max_connections\": 50,";
    memmove(lim + strlen(repl), lim + strlen("\"max_connections\": 50,"),
            strlen(lim + strlen("\"max_connections\": 50,")) + 1);
    memcpy(lim, repl, strlen(repl));
    h_featd_start(&F, cfg2);
    struct featd_client *c = cli();
    struct featd_get *g = featd_get_new();
    featd_get_add_feature(g, "all_types:i32");
    featd_get_add_int64(g, "user_id", 1);
    featd_get_set_deadline(g, 800);
    Featd__V1__Response *resp = get_ok(c, g);       /* the link is up */
    featd_response_free(resp);
    h_redis_pause(&R);
    ck_assert_int_eq(featd_send(c, featd_get_request(g, 501)), FEATD_OK);
    ck_assert_int_eq(featd_send(c, featd_get_request(g, 502)), FEATD_OK);
    int exhausted = 0, deadline = 0;
    for (int i = 0; i < 2; i++) {
        resp = NULL;
        ck_assert_msg(featd_recv(c, &resp) == FEATD_OK, "recv: %s", featd_errmsg(c));
        ck_assert_int_eq(resp->body_case, FEATD__V1__RESPONSE__BODY_ERROR);
        if (resp->error->code == FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED) {
            ck_assert_uint_eq(resp->request_id, 502);
            ck_assert_msg(strstr(resp->error->message, "max_inflight_requests") != NULL, "%s",
                          resp->error->message);
            exhausted++;
        } else {
            ck_assert_int_eq(resp->error->code, FEATD__V1__ERROR_CODE__DEADLINE_EXCEEDED);
            deadline++;
        }
        featd_response_free(resp);
    }
    ck_assert_int_eq(exhausted, 1);
    ck_assert_int_eq(deadline, 1);
    h_redis_resume(&R);
    featd_get_free(g);
    featd_close(c);
}
END_TEST

START_TEST(test_stopped_redis_link_is_reset)
{
    /* A stopped Redis accepts nothing and answers nothing: requests time out,
     * and after a second without progress featd drops the link instead of
     * letting commands pile up; when Redis continues, lookups succeed again. */
    struct featd_client *c = cli();
    struct featd_get *g = featd_get_new();
    featd_get_add_feature(g, "all_types:i32");
    featd_get_add_int64(g, "user_id", 1);
    featd_get_set_deadline(g, 100);
    Featd__V1__Response *resp = get_ok(c, g);
    featd_response_free(resp);
    h_redis_pause(&R);
    for (int i = 0; i < 25; i++) {
        resp = NULL;
        uint64_t id = featd_next_id(c);
        ck_assert_int_eq(featd_call(c, featd_get_request(g, id), &resp), FEATD_OK);
        ck_assert_int_eq(resp->body_case, FEATD__V1__RESPONSE__BODY_ERROR);
        ck_assert_msg(resp->error->code == FEATD__V1__ERROR_CODE__DEADLINE_EXCEEDED ||
                      resp->error->code == FEATD__V1__ERROR_CODE__UNAVAILABLE, "%s: %s",
                      featd_error_code_name(resp->error->code), resp->error->message);
        featd_response_free(resp);
    }
    h_redis_resume(&R);
    int ok = 0;
    for (int i = 0; i < 50 && !ok; i++) {
        resp = NULL;
        uint64_t id = featd_next_id(c);
        ck_assert_int_eq(featd_call(c, featd_get_request(g, id), &resp), FEATD_OK);
        ok = resp->body_case == FEATD__V1__RESPONSE__BODY_GET_ONLINE_FEATURES;
        featd_response_free(resp);
        if (!ok) {
            usleep(100000);
        }
    }
    ck_assert_msg(ok, "no recovery after Redis continued");
    char log[65536] = { 0 };
    FILE *f = fopen(F.log_path, "r");
    ck_assert(f != NULL);
    size_t n = fread(log, 1, sizeof(log) - 1, f);
    fclose(f);
    log[n] = '\0';
    ck_assert_msg(strstr(log, "no reply for") != NULL, "featd did not reset the stalled link:\n%s", log);
    featd_get_free(g);
    featd_close(c);
}
END_TEST

START_TEST(test_max_connections)
{
    /* Connect and ping one at a time, so every earlier connection (e.g. the
     * harness' readiness probe) has been accounted for: 50 are served, the
     * next ones get RESOURCE_EXHAUSTED and are closed. */
    struct featd_client *cs[60];
    char err[256];
    int refused = 0, ok = 0;
    for (int i = 0; i < 60; i++) {
        cs[i] = featd_connect("127.0.0.1", F.port, 2000, err, sizeof(err));
        ck_assert(cs[i] != NULL);
        if (featd_ping(cs[i], NULL) == FEATD_OK) {
            ok++;
        } else {
            refused++;
            ck_assert_msg(i >= 50, "connection %d refused: %s", i, featd_errmsg(cs[i]));
            ck_assert_msg(strstr(featd_errmsg(cs[i]), "max_connections") != NULL ||
                          strstr(featd_errmsg(cs[i]), "closed") != NULL, "%s", featd_errmsg(cs[i]));
        }
    }
    ck_assert_int_eq(ok, 50);
    ck_assert_int_eq(refused, 10);
    for (int i = 0; i < 60; i++) {
        featd_close(cs[i]);
    }
    /* once they are gone, new connections are served again */
    int served = 0;
    for (int i = 0; i < 50 && !served; i++) {
        struct featd_client *c = cli();
        served = featd_ping(c, NULL) == FEATD_OK;
        featd_close(c);
        if (!served) {
            usleep(50000);
        }
    }
    ck_assert(served);
}
END_TEST

START_TEST(test_sigterm_drains_inflight)
{
    /* Requests held up by a sleeping Redis are still answered after SIGTERM. */
    struct featd_client *c = cli();
    struct featd_get *g = featd_get_new();
    featd_get_add_feature(g, "all_types:i32");
    featd_get_add_int64(g, "user_id", 4);
    featd_get_set_deadline(g, 5000);
    pid_t pid = fork();
    if (pid == 0) {
        redisContext *rc = redisConnect("127.0.0.1", R.port);
        redisReply *rr = redisCommand(rc, "DEBUG SLEEP 0.5");
        if (rr) {
            freeReplyObject(rr);
        }
        redisFree(rc);
        _exit(0);
    }
    usleep(100000);
    for (int i = 0; i < 10; i++) {
        ck_assert_int_eq(featd_send(c, featd_get_request(g, 1000 + (uint64_t)i)), FEATD_OK);
    }
    usleep(50000);
    kill(F.pid, SIGTERM);
    for (int i = 0; i < 10; i++) {
        Featd__V1__Response *resp = NULL;
        ck_assert_msg(featd_recv(c, &resp) == FEATD_OK, "recv %d: %s", i, featd_errmsg(c));
        ck_assert_int_eq(resp->body_case, FEATD__V1__RESPONSE__BODY_GET_ONLINE_FEATURES);
        ck_assert_int_eq(featd_resp_value(resp->get_online_features, 0, 0)->int32_val, -4);
        featd_response_free(resp);
    }
    int st;
    waitpid(pid, &st, 0);
    int status = h_featd_signal_wait(&F, 0);
    ck_assert_int_eq(status, 0);
    featd_get_free(g);
    featd_close(c);
}
END_TEST

START_TEST(test_backpressure_bounds_output)
{
    /* A client that writes requests but never reads: featd must stop reading
     * it once its output backs up (so our writes eventually block), and then
     * answer every request once we drain. */
    char err[256];
    struct featd_client *c = featd_connect("127.0.0.1", F.port, 2000, err, sizeof(err));
    ck_assert(c != NULL);
    int fd = featd_fd(c);
    int small = 65536;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    /* list_feature_views requests (~1 KB answers) padded with an unknown
     * field to ~200 bytes: output backs up after a few thousand requests
     * and the drain below stays small. */
    uint8_t frame[256];
    Featd__V1__Request req = FEATD__V1__REQUEST__INIT;
    Featd__V1__ListFeatureViewsRequest lv = FEATD__V1__LIST_FEATURE_VIEWS_REQUEST__INIT;
    req.request_id = 1;
    req.body_case = FEATD__V1__REQUEST__BODY_LIST_FEATURE_VIEWS;
    req.list_feature_views = &lv;
    size_t n = featd__v1__request__pack(&req, frame + 4);
    frame[4 + n++] = (15 << 3) | 2;     /* unknown field 15, LEN 200 */
    frame[4 + n++] = 0xc8;
    frame[4 + n++] = 0x01;
    memset(frame + 4 + n, 'p', 200);
    n += 200;
    frame[0] = frame[1] = 0;
    frame[2] = (uint8_t)(n >> 8);
    frame[3] = (uint8_t)n;
    uint8_t chunk[32 * 1024];
    size_t per = sizeof(chunk) / (n + 4);
    for (size_t i = 0; i < per; i++) {
        memcpy(chunk + i * (n + 4), frame, n + 4);
    }
    size_t chunk_len = per * (n + 4);
    uint64_t sent = 0;
    int64_t blocked_since = 0;
    bool blocked = false;
    size_t partial = 0;
    while (sent < 200ULL * 1000 * 1000) {
        ssize_t w = write(fd, chunk + partial, chunk_len - partial);
        if (w > 0) {
            sent += (uint64_t)w;
            partial = (partial + (size_t)w) % chunk_len;
            blocked_since = 0;
            continue;
        }
        if (blocked_since == 0) {
            blocked_since = util_mono_us();
        } else if (util_mono_us() - blocked_since > 500000) {
            blocked = true;
            break;
        }
        usleep(1000);
    }
    ck_assert_msg(blocked, "featd kept reading a client that never reads (%" PRIu64 " bytes)", sent);
    /* Drain: read every answer; the rest of a partially written frame goes
     * out as soon as featd reads again (it only can once we read). */
    size_t rem = (n + 4) - (size_t)(sent % (n + 4));
    if (rem == n + 4) {
        rem = 0;
    }
    uint64_t requests = (sent + rem) / (n + 4);
    static uint8_t buf[1 << 20];
    size_t have = 0;
    uint64_t answers = 0;
    int64_t last_progress = util_mono_us();
    while (answers < requests) {
        ck_assert_msg(util_mono_us() - last_progress < 10000000,
                      "no progress: %" PRIu64 " of %" PRIu64 " answers", answers, requests);
        struct pollfd pfd = { fd, (short)(POLLIN | (rem ? POLLOUT : 0)), 0 };
        if (poll(&pfd, 1, 100) <= 0) {
            continue;
        }
        if (rem && (pfd.revents & POLLOUT)) {
            ssize_t w = write(fd, frame + (n + 4 - rem), rem);
            if (w > 0) {
                rem -= (size_t)w;
            }
        }
        if (!(pfd.revents & POLLIN)) {
            continue;
        }
        ssize_t r = read(fd, buf + have, sizeof(buf) - have);
        if (r < 0 && errno == EAGAIN) {
            continue;
        }
        ck_assert_msg(r > 0, "read failed after %" PRIu64 " of %" PRIu64 " answers", answers, requests);
        last_progress = util_mono_us();
        have += (size_t)r;
        size_t off = 0;
        while (have - off >= 4) {
            size_t len = ((size_t)buf[off] << 24) | ((size_t)buf[off + 1] << 16) |
                         ((size_t)buf[off + 2] << 8) | buf[off + 3];
            if (have - off - 4 < len) {
                break;
            }
            if (answers == 0) {
                Featd__V1__Response *resp = featd__v1__response__unpack(NULL, len, buf + off + 4);
                ck_assert_ptr_nonnull(resp);
                ck_assert_int_eq(resp->body_case, FEATD__V1__RESPONSE__BODY_LIST_FEATURE_VIEWS);
                featd__v1__response__free_unpacked(resp, NULL);
            }
            answers++;
            off += 4 + len;
        }
        memmove(buf, buf + off, have - off);
        have -= off;
    }
    ck_assert_uint_eq(answers, requests);
    featd_close(c);
}
END_TEST

static Suite *serve_suite(void)
{
    Suite *s = suite_create("e2e_serve");
    TCase *tc = tcase_create("serve");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_statuses_and_types);
    tcase_add_test(tc, test_multi_view_composite_keys);
    tcase_add_test(tc, test_pipelined_out_of_order_ids);
    tcase_add_test(tc, test_bad_requests);
    tcase_add_test(tc, test_invalid_utf8_requests);
    tcase_add_test(tc, test_garbage_and_oversized_frames);
    tcase_add_test(tc, test_views_info_ping);
    tcase_add_test(tc, test_snapshot_flip_no_mix);
    tcase_add_test(tc, test_redis_down_and_back);
    tcase_add_test(tc, test_deadline_exceeded);
    tcase_add_test(tc, test_max_connections);
    tcase_add_test(tc, test_stopped_redis_link_is_reset);
    tcase_add_test(tc, test_hostile_requests);
    tcase_add_test(tc, test_inflight_limit);
    tcase_add_test(tc, test_sigterm_drains_inflight);
    tcase_add_test(tc, test_backpressure_bounds_output);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(serve_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
