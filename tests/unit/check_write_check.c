/*
 * check_write_check.c — write_check directly (no Redis, no socket): a valid
 * request's converted rows (keys, values, widened kinds, packed lists,
 * nulls) and each refusal with its message; plus the serving merge rule
 * (serve/lookup_merge.h) and the push field / expiry (online/online_push.h).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "core/arena.h"
#include "core/fbuf.h"
#include "online/online_push.h"
#include "online/online_writer.h"
#include "serve/lookup_merge.h"
#include "serve/write_check.h"

#define CFG \
    "{ \"server\": { \"listen\": \"127.0.0.1:6566\", \"max_entities_per_request\": 4 }," \
    "  \"redis\": { \"url\": \"redis://127.0.0.1:1/0\" }," \
    "  \"entities\": [ { \"name\": \"user\", \"join_keys\": [ { \"name\": \"user_id\", \"type\": \"int64\" } ] }," \
    "    { \"name\": \"item\", \"join_keys\": [ { \"name\": \"item_id\", \"type\": \"string\" } ] } ]," \
    "  \"feature_views\": [" \
    "    { \"name\": \"v\", \"entities\": [\"user\", \"item\"], \"ttl_seconds\": 60, \"features\": [" \
    "        { \"name\": \"n\", \"type\": \"int64\", \"expect\": { \"min\": 0, \"max\": 10 } }," \
    "        { \"name\": \"d\", \"type\": \"double\", \"expect\": { \"not_null\": true } }," \
    "        { \"name\": \"s\", \"type\": \"string\", \"expect\": { \"allowed\": [\"a\"] } }," \
    "        { \"name\": \"l\", \"type\": \"int64_list\" } ] }," \
    "    { \"name\": \"forever\", \"entities\": [\"user\"], \"features\": [ { \"name\": \"x\", \"type\": \"bool\" } ] } ] }"

static struct featd_config *cfg;
static struct arena A;

/* A two-row request of view "v", valid, built in static storage. */
static Featd__V1__WriteFeaturesRequest W;
static Featd__V1__EntityColumn E[2], *EP[3];
static Featd__V1__FeatureColumn FC[5], *FP[5];
static Featd__V1__Value KV[2][2], *KP[2][2], FV[4][2], *FVP[4][2];
static Featd__V1__Int64List L;
static int64_t LV[2] = { 7, -8 };
static int64_t TS[2] = { 1000, 2000 };

static void build(void)
{
    featd__v1__write_features_request__init(&W);
    W.feature_view = "v";
    const char *keys[2] = { "user_id", "item_id" };
    for (int k = 0; k < 2; k++) {
        featd__v1__entity_column__init(&E[k]);
        E[k].join_key = (char *)keys[k];
        E[k].n_values = 2;
        E[k].values = KP[k];
        EP[k] = &E[k];
        for (int r = 0; r < 2; r++) {
            featd__v1__value__init(&KV[k][r]);
            KP[k][r] = &KV[k][r];
        }
    }
    KV[0][0].kind_case = FEATD__V1__VALUE__KIND_INT64_VAL; KV[0][0].int64_val = 1;
    KV[0][1].kind_case = FEATD__V1__VALUE__KIND_INT32_VAL; KV[0][1].int32_val = 2;
    KV[1][0].kind_case = FEATD__V1__VALUE__KIND_STRING_VAL; KV[1][0].string_val = "x";
    KV[1][1].kind_case = FEATD__V1__VALUE__KIND_STRING_VAL; KV[1][1].string_val = "y";
    W.entities = EP;
    W.n_entities = 2;
    const char *names[4] = { "s", "n", "d", "l" };     /* any order */
    for (int f = 0; f < 4; f++) {
        featd__v1__feature_column__init(&FC[f]);
        FC[f].name = (char *)names[f];
        FC[f].n_values = 2;
        FC[f].values = FVP[f];
        FP[f] = &FC[f];
        for (int r = 0; r < 2; r++) {
            featd__v1__value__init(&FV[f][r]);
            FVP[f][r] = &FV[f][r];
        }
    }
    FV[0][0].kind_case = FEATD__V1__VALUE__KIND_STRING_VAL; FV[0][0].string_val = "a";
    /* FV[0][1]: null */
    FV[1][0].kind_case = FEATD__V1__VALUE__KIND_INT64_VAL; FV[1][0].int64_val = 3;
    FV[1][1].kind_case = FEATD__V1__VALUE__KIND_INT32_VAL; FV[1][1].int32_val = 10;
    FV[2][0].kind_case = FEATD__V1__VALUE__KIND_DOUBLE_VAL; FV[2][0].double_val = 0.5;
    FV[2][1].kind_case = FEATD__V1__VALUE__KIND_FLOAT_VAL; FV[2][1].float_val = 0.25f;
    featd__v1__int64_list__init(&L);
    L.n_val = 2;
    L.val = LV;
    FV[3][0].kind_case = FEATD__V1__VALUE__KIND_INT64_LIST_VAL; FV[3][0].int64_list_val = &L;
    W.features = FP;
    W.n_features = 4;
    W.n_event_timestamps_us = 2;
    W.event_timestamps_us = TS;
}

static void setup(void)
{
    char err[256];
    ck_assert_msg(config_load_string(CFG, &cfg, err, sizeof err) == FEATD_OK, "config: %s", err);
    arena_init(&A, 64u << 20);
    build();
}

static void teardown(void)
{
    arena_release(&A);
    config_free(cfg);
    cfg = NULL;
}

/* Expects a refusal whose message holds needle. */
static void refused(const char *needle)
{
    struct write_rows rows;
    struct write_check_error err;
    ck_assert_int_eq(write_check(cfg, &W, &A, &rows, &err), FEATD_ERR);
    ck_assert_int_eq(err.code, FEATD__V1__ERROR_CODE__INVALID_ARGUMENT);
    ck_assert_msg(strstr(err.msg, needle) != NULL, "\"%s\" lacks \"%s\"", err.msg, needle);
}

START_TEST(test_valid)
{
    struct write_rows rows;
    struct write_check_error err;
    ck_assert_msg(write_check(cfg, &W, &A, &rows, &err) == FEATD_OK, "%s", err.msg);
    ck_assert_uint_eq(rows.nrows, 2);
    ck_assert_str_eq(rows.v->name, "v");
    ck_assert_int_eq(rows.keys[0].i, 1);
    ck_assert_int_eq(rows.keys[2].i, 2);     /* int32 widened */
    ck_assert_uint_eq(rows.keys[3].slen, 1);
    ck_assert_int_eq(rows.keys[3].s[0], 'y');
    /* schema order n, d, s, l */
    const struct online_value *r0 = &rows.vals[0], *r1 = &rows.vals[4];
    ck_assert_int_eq(r0[0].u.i64, 3);
    ck_assert_int_eq(r1[0].u.i64, 10);
    ck_assert(r0[1].u.d == 0.5);
    ck_assert(r1[1].u.d == 0.25);            /* float widened */
    ck_assert_uint_eq(r0[2].slen, 1);
    ck_assert(r1[2].is_null);
    ck_assert_uint_eq(r0[3].count, 2);
    ck_assert_int_eq(online_row_list_int64(&r0[3], 1), -8);
    ck_assert(r1[3].is_null);
    ck_assert_int_eq(rows.event_us[1], 2000);
    /* and the row encodes and decodes */
    struct fbuf b = { 0 };
    ck_assert_int_eq(online_push_row(&b, rows.v, 2000, r1), FEATD_OK);
    struct online_value out[4];
    int64_t ts, cts;
    char e[128];
    ck_assert_int_eq(online_row_decode((const uint8_t *)b.data, b.len, rows.v, &ts, &cts, out, e, sizeof e), FEATD_OK);
    ck_assert_int_eq(ts, 2000);
    ck_assert_int_eq(out[0].u.i64, 10);
    fbuf_free(&b);
}
END_TEST

START_TEST(test_refusals)
{
    W.feature_view = "nope";
    refused("unknown feature view \"nope\"");
    W.feature_view = "v";
    W.n_features = 3;
    refused("missing feature \"l\"");
    W.n_features = 4;
    FC[3].name = "zz";
    refused("has no feature \"zz\"");
    FC[3].name = "n";
    refused("feature \"n\" is given more than once");
    FC[3].name = "l";
    W.n_entities = 1;
    refused("missing join key \"item_id\"");
    W.n_entities = 2;
    E[1].join_key = "user_id";
    refused("join key \"user_id\" is given more than once");
    E[1].join_key = "item_id";
    FC[2].n_values = 1;
    refused("unequal lengths: feature \"d\" has 1 values, expected 2");
    FC[2].n_values = 2;
    E[1].n_values = 1;
    refused("unequal lengths: join key \"item_id\"");
    E[1].n_values = 2;
    W.n_event_timestamps_us = 1;
    refused("missing event times");
    W.n_event_timestamps_us = 2;
    /* types and rules, on the last row */
    FV[1][1].kind_case = FEATD__V1__VALUE__KIND_DOUBLE_VAL;
    refused("row 1: feature \"n\" (int64): expected int64_val or int32_val, got double_val");
    FV[1][1].kind_case = FEATD__V1__VALUE__KIND_INT64_VAL;
    FV[1][1].int64_val = 11;
    refused("row 1: feature \"n\" breaks expect.max 10: the value is 11");
    FV[1][1].int64_val = -1;
    refused("breaks expect.min 0: the value is -1");
    FV[1][1].int64_val = 10;
    FV[2][1].kind_case = FEATD__V1__VALUE__KIND__NOT_SET;
    refused("row 1: feature \"d\" breaks expect.not_null: the value is null");
    FV[2][1].kind_case = FEATD__V1__VALUE__KIND_DOUBLE_VAL;
    FV[0][1].kind_case = FEATD__V1__VALUE__KIND_STRING_VAL;
    FV[0][1].string_val = "b";
    refused("row 1: feature \"s\" breaks expect.allowed: \"b\" is not one of the allowed values");
    FV[0][1].kind_case = FEATD__V1__VALUE__KIND__NOT_SET;
    KV[1][1].kind_case = FEATD__V1__VALUE__KIND__NOT_SET;
    refused("row 1: join key \"item_id\": expected string_val, got null");
    KV[1][1].kind_case = FEATD__V1__VALUE__KIND_STRING_VAL;
    FV[3][0].kind_case = FEATD__V1__VALUE__KIND_FLOAT_LIST_VAL;
    refused("row 0: feature \"l\" (int64_list): expected int64_list_val, got float_list_val");
    FV[3][0].kind_case = FEATD__V1__VALUE__KIND_INT64_LIST_VAL;
    /* sizes */
    E[0].n_values = E[1].n_values = 0;
    refused("empty write");
    E[0].n_values = 5;
    refused("too many rows: 5 exceed max_entities_per_request (4)");
    E[0].n_values = E[1].n_values = 2;
    struct write_rows rows;
    struct write_check_error err;
    ck_assert_int_eq(write_check(cfg, &W, &A, &rows, &err), FEATD_OK);
    ck_assert_uint_eq(write_check_claimed_rows(&W), 2);
}
END_TEST

START_TEST(test_merge_rule)
{
    /* newer event time wins; equal -> snapshot; absent loses; corrupt -> INVALID */
    ck_assert_int_eq(lookup_merge_pick(LOOKUP_ROW, 10, LOOKUP_ROW, 11), LOOKUP_PICK_PUSH);
    ck_assert_int_eq(lookup_merge_pick(LOOKUP_ROW, 10, LOOKUP_ROW, 10), LOOKUP_PICK_SNAPSHOT);
    ck_assert_int_eq(lookup_merge_pick(LOOKUP_ROW, 10, LOOKUP_ROW, 9), LOOKUP_PICK_SNAPSHOT);
    ck_assert_int_eq(lookup_merge_pick(LOOKUP_ABSENT, 0, LOOKUP_ROW, -5), LOOKUP_PICK_PUSH);
    ck_assert_int_eq(lookup_merge_pick(LOOKUP_ROW, -5, LOOKUP_ABSENT, 0), LOOKUP_PICK_SNAPSHOT);
    ck_assert_int_eq(lookup_merge_pick(LOOKUP_ABSENT, 0, LOOKUP_ABSENT, 0), LOOKUP_PICK_NONE);
    ck_assert_int_eq(lookup_merge_pick(LOOKUP_CORRUPT, 0, LOOKUP_ROW, 5), LOOKUP_PICK_INVALID);
    ck_assert_int_eq(lookup_merge_pick(LOOKUP_ROW, 5, LOOKUP_CORRUPT, 0), LOOKUP_PICK_INVALID);
}
END_TEST

START_TEST(test_push_field_expiry_cmd)
{
    const struct cfg_view *v = config_find_view(cfg, "v");
    char f[ONLINE_PUSH_FIELD_MAX];
    ck_assert_uint_eq(online_push_field(f, v), 17);
    ck_assert_int_eq(f[0], 'p');
    ck_assert_str_eq(f + 1, v->fingerprint_hex);
    /* ttl 60 s: grace max(60, 3600) */
    int64_t ev = 1000000LL * 1000000;    /* 1e12 ms */
    ck_assert_int_eq(online_push_expire_at_ms(v, ev, 0), 1000000LL * 1000 + (60 + 3600) * 1000LL);
    ck_assert_int_eq(online_push_expire_at_ms(v, ev, 1000000LL * 1000 + 3660 * 1000LL), 0);
    ck_assert_int_eq(online_push_expire_at_ms(config_find_view(cfg, "forever"), ev, 0), ONLINE_WRITER_NO_EXPIRY_MS);
    ck_assert_uint_eq(strlen(online_push_script_sha()), 40);
    struct fbuf b = { 0 };
    ck_assert_int_eq(online_push_cmd(&b, false, "k", 1, "p0", 2, "r", 1, 5), FEATD_OK);
    char want[256];
    snprintf(want, sizeof want, "*7\r\n$7\r\nEVALSHA\r\n$40\r\n%s\r\n$1\r\n1\r\n$1\r\nk\r\n$2\r\np0\r\n$1\r\nr\r\n$1\r\n5\r\n",
             online_push_script_sha());
    ck_assert_uint_eq(b.len, strlen(want));
    ck_assert(memcmp(b.data, want, b.len) == 0);
    fbuf_reset(&b);
    ck_assert_int_eq(online_push_cmd(&b, true, "k", 1, "p0", 2, "r", 1, 5), FEATD_OK);
    ck_assert(memcmp(b.data, "*7\r\n$4\r\nEVAL\r\n", 13) == 0);
    fbuf_free(&b);
}
END_TEST

static Suite *write_suite(void)
{
    Suite *s = suite_create("write_check");
    TCase *tc = tcase_create("write_check");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_valid);
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_merge_rule);
    tcase_add_test(tc, test_push_field_expiry_cmd);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(write_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
