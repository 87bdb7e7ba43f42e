/*
 * check_client_format.c — unit tests of libfeatd's pure parts, no network:
 * the GetOnlineFeatures request builder (featd_get.c), the names of the
 * response enums (featd_resp.c), value formatting in JSON and text
 * (featd_value.c) and RFC 3339 timestamps (featd_time.c). The transport is
 * tested by check_client.c.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "featd_client.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- builder ---- */

START_TEST(test_builder_encoding)
{
    struct featd_get *g = featd_get_new();
    ck_assert_int_eq(featd_get_add_feature(g, "a:x"), FEATD_OK);
    ck_assert_int_eq(featd_get_add_string(g, "s", "é\"x"), FEATD_OK);
    ck_assert_int_eq(featd_get_add_null(g, "s"), FEATD_OK);
    ck_assert_int_eq(featd_get_add_int64(g, "i", INT64_MIN), FEATD_OK);
    ck_assert_int_eq(featd_get_add_int64(g, "i", INT64_MAX), FEATD_OK);

    /* deep copies of every kind */
    float fl[] = { 1.5f, -2.0f };
    double dl[] = { 0.25 };
    int64_t il[] = { 1, 2, 3 };
    char *sl[] = { "a", "bc" };
    uint8_t by[] = { 0, 1, 255 };
    Featd__V1__FloatList flm = FEATD__V1__FLOAT_LIST__INIT;
    Featd__V1__DoubleList dlm = FEATD__V1__DOUBLE_LIST__INIT;
    Featd__V1__Int64List ilm = FEATD__V1__INT64_LIST__INIT;
    Featd__V1__StringList slm = FEATD__V1__STRING_LIST__INIT;
    flm.n_val = 2;
    flm.val = fl;
    dlm.n_val = 1;
    dlm.val = dl;
    ilm.n_val = 3;
    ilm.val = il;
    slm.n_val = 2;
    slm.val = sl;
    Featd__V1__Value v[8];
    for (int i = 0; i < 8; i++) {
        featd__v1__value__init(&v[i]);
    }
    v[0].kind_case = FEATD__V1__VALUE__KIND_DOUBLE_VAL;
    v[0].double_val = 3.5;
    v[1].kind_case = FEATD__V1__VALUE__KIND_BOOL_VAL;
    v[1].bool_val = 1;
    v[2].kind_case = FEATD__V1__VALUE__KIND_FLOAT_LIST_VAL;
    v[2].float_list_val = &flm;
    v[3].kind_case = FEATD__V1__VALUE__KIND_DOUBLE_LIST_VAL;
    v[3].double_list_val = &dlm;
    v[4].kind_case = FEATD__V1__VALUE__KIND_INT64_LIST_VAL;
    v[4].int64_list_val = &ilm;
    v[5].kind_case = FEATD__V1__VALUE__KIND_STRING_LIST_VAL;
    v[5].string_list_val = &slm;
    v[6].kind_case = FEATD__V1__VALUE__KIND_BYTES_VAL;
    v[6].bytes_val.data = by;
    v[6].bytes_val.len = 3;
    v[7].kind_case = FEATD__V1__VALUE__KIND_TIMESTAMP_US_VAL;
    v[7].timestamp_us_val = -1;
    for (int i = 0; i < 8; i++) {
        ck_assert_int_eq(featd_get_add_value(g, "any", &v[i]), FEATD_OK);
    }
    featd_get_set_deadline(g, 7);
    const Featd__V1__Request *req = featd_get_request(g, 31);

    size_t n = featd__v1__request__get_packed_size(req);
    uint8_t *buf = malloc(n);
    ck_assert_uint_eq(featd__v1__request__pack(req, buf), n);
    featd_get_free(g);      /* the decoded copy must not depend on the builder */
    Featd__V1__Request *d = featd__v1__request__unpack(NULL, n, buf);
    free(buf);
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq(d->request_id, 31);
    Featd__V1__GetOnlineFeaturesRequest *gr = d->get_online_features;
    ck_assert_uint_eq(gr->deadline_ms, 7);
    ck_assert_uint_eq(gr->n_entities, 3);
    ck_assert_str_eq(gr->entities[0]->join_key, "s");
    ck_assert_str_eq(gr->entities[0]->values[0]->string_val, "é\"x");
    ck_assert_int_eq(gr->entities[0]->values[1]->kind_case, FEATD__V1__VALUE__KIND__NOT_SET);
    ck_assert_int_eq(gr->entities[1]->values[0]->int64_val, INT64_MIN);
    ck_assert_int_eq(gr->entities[1]->values[1]->int64_val, INT64_MAX);
    Featd__V1__Value **a = gr->entities[2]->values;
    ck_assert_uint_eq(gr->entities[2]->n_values, 8);
    ck_assert(a[0]->double_val == 3.5);
    ck_assert(a[1]->bool_val);
    ck_assert(a[2]->float_list_val->val[1] == -2.0f);
    ck_assert(a[3]->double_list_val->val[0] == 0.25);
    ck_assert_int_eq(a[4]->int64_list_val->val[2], 3);
    ck_assert_str_eq(a[5]->string_list_val->val[1], "bc");
    ck_assert_uint_eq(a[6]->bytes_val.len, 3);
    ck_assert_uint_eq(a[6]->bytes_val.data[2], 255);
    ck_assert_int_eq(a[7]->timestamp_us_val, -1);
    featd__v1__request__free_unpacked(d, NULL);
}
END_TEST

/* ---- formatting ---- */

static void check_fmt(const Featd__V1__Value *v, const char *json, const char *text)
{
    char buf[512];
    size_t n = featd_value_format(v, FEATD_FMT_JSON, buf, sizeof buf);
    ck_assert_str_eq(buf, json);
    ck_assert_uint_eq(n, strlen(json));
    n = featd_value_format(v, FEATD_FMT_TEXT, buf, sizeof buf);
    ck_assert_str_eq(buf, text);
    ck_assert_uint_eq(n, strlen(text));
}

START_TEST(test_format_values)
{
    Featd__V1__Value v = FEATD__V1__VALUE__INIT;
    check_fmt(&v, "null", "null");
    check_fmt(NULL, "null", "null");
    v.kind_case = FEATD__V1__VALUE__KIND_BOOL_VAL;
    v.bool_val = 0;
    check_fmt(&v, "false", "false");
    v.kind_case = FEATD__V1__VALUE__KIND_INT32_VAL;
    v.int32_val = INT32_MIN;
    check_fmt(&v, "-2147483648", "-2147483648");
    v.kind_case = FEATD__V1__VALUE__KIND_INT64_VAL;
    v.int64_val = INT64_MAX;
    check_fmt(&v, "9223372036854775807", "9223372036854775807");
    v.kind_case = FEATD__V1__VALUE__KIND_DOUBLE_VAL;
    v.double_val = 0.1;
    check_fmt(&v, "0.1", "0.1");
    v.double_val = 1.0 / 3.0;
    check_fmt(&v, "0.3333333333333333", "0.3333333333333333");
    v.double_val = 1e300;
    check_fmt(&v, "1e+300", "1e+300");
    v.double_val = NAN;
    check_fmt(&v, "\"NaN\"", "NaN");
    v.double_val = -INFINITY;
    check_fmt(&v, "\"-Infinity\"", "-Infinity");
    v.kind_case = FEATD__V1__VALUE__KIND_FLOAT_VAL;
    v.float_val = 0.1f;
    check_fmt(&v, "0.1", "0.1");
    v.float_val = INFINITY;
    check_fmt(&v, "\"Infinity\"", "Infinity");
    v.kind_case = FEATD__V1__VALUE__KIND_STRING_VAL;
    v.string_val = "a\"b\\c\nd\x01é\xff";
    check_fmt(&v, "\"a\\\"b\\\\c\\nd\\u0001é\\ufffd\"", "a\"b\\c\\nd\\u0001é\xEF\xBF\xBD");
    v.kind_case = FEATD__V1__VALUE__KIND_BYTES_VAL;
    uint8_t by[] = { 'f', 'o', 'o', 'b', 0 };
    v.bytes_val.data = by;
    v.bytes_val.len = 3;
    check_fmt(&v, "\"Zm9v\"", "0x666f6f");
    v.bytes_val.len = 4;
    check_fmt(&v, "\"Zm9vYg==\"", "0x666f6f62");
    v.bytes_val.len = 5;
    check_fmt(&v, "\"Zm9vYgA=\"", "0x666f6f6200");
    v.bytes_val.len = 0;
    check_fmt(&v, "\"\"", "0x");
    v.kind_case = FEATD__V1__VALUE__KIND_TIMESTAMP_US_VAL;
    v.timestamp_us_val = 1795255200000000LL;     /* 2026-11-21T10:00:00Z */
    check_fmt(&v, "\"2026-11-21T10:00:00Z\"", "2026-11-21T10:00:00Z");

    float fl[10];
    for (int i = 0; i < 10; i++) {
        fl[i] = (float)i + 0.5f;
    }
    Featd__V1__FloatList flm = FEATD__V1__FLOAT_LIST__INIT;
    flm.n_val = 3;
    flm.val = fl;
    v.kind_case = FEATD__V1__VALUE__KIND_FLOAT_LIST_VAL;
    v.float_list_val = &flm;
    check_fmt(&v, "[0.5,1.5,2.5]", "[0.5, 1.5, 2.5]");
    flm.n_val = 10;
    check_fmt(&v, "[0.5,1.5,2.5,3.5,4.5,5.5,6.5,7.5,8.5,9.5]",
              "[0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, ... (10 total)]");
    flm.n_val = 0;
    check_fmt(&v, "[]", "[]");
    char *sl[] = { "x", "\"" };
    Featd__V1__StringList slm = FEATD__V1__STRING_LIST__INIT;
    slm.n_val = 2;
    slm.val = sl;
    v.kind_case = FEATD__V1__VALUE__KIND_STRING_LIST_VAL;
    v.string_list_val = &slm;
    check_fmt(&v, "[\"x\",\"\\\"\"]", "[\"x\", \"\\\"\"]");
    int64_t il[] = { -1, 0 };
    Featd__V1__Int64List ilm = FEATD__V1__INT64_LIST__INIT;
    ilm.n_val = 2;
    ilm.val = il;
    v.kind_case = FEATD__V1__VALUE__KIND_INT64_LIST_VAL;
    v.int64_list_val = &ilm;
    check_fmt(&v, "[-1,0]", "[-1, 0]");
    double dl[] = { -0.0, 2.5 };
    Featd__V1__DoubleList dlm = FEATD__V1__DOUBLE_LIST__INIT;
    dlm.n_val = 2;
    dlm.val = dl;
    v.kind_case = FEATD__V1__VALUE__KIND_DOUBLE_LIST_VAL;
    v.double_list_val = &dlm;
    check_fmt(&v, "[-0,2.5]", "[-0, 2.5]");

    /* snprintf semantics */
    v.kind_case = FEATD__V1__VALUE__KIND_STRING_VAL;
    v.string_val = "hello world";
    char small[6];
    ck_assert_uint_eq(featd_value_format(&v, FEATD_FMT_JSON, small, sizeof small), 13);
    ck_assert_str_eq(small, "\"hell");
    ck_assert_uint_eq(featd_value_format(&v, FEATD_FMT_JSON, NULL, 0), 13);
    char *s = featd_value_str(&v, FEATD_FMT_TEXT);
    ck_assert_str_eq(s, "hello world");
    free(s);
}
END_TEST

START_TEST(test_names)
{
    ck_assert_str_eq(featd_status_name(FEATD__V1__FIELD_STATUS__OUTSIDE_MAX_AGE), "OUTSIDE_MAX_AGE");
    ck_assert_str_eq(featd_status_name(99), "?");
    ck_assert_str_eq(featd_error_code_name(FEATD__V1__ERROR_CODE__DEADLINE_EXCEEDED),
                     "DEADLINE_EXCEEDED");
    ck_assert_str_eq(featd_body_name(FEATD__V1__RESPONSE__BODY_LIST_FEATURE_VIEWS),
                     "list_feature_views");
    ck_assert_str_eq(featd_value_kind_name(FEATD__V1__VALUE__KIND_FLOAT_LIST_VAL), "float_list");
    ck_assert_str_eq(featd_value_kind_name(FEATD__V1__VALUE__KIND__NOT_SET), "null");
}
END_TEST

START_TEST(test_time_format_parse)
{
    char buf[64];
    featd_time_format(0, buf, sizeof buf);
    ck_assert_str_eq(buf, "1970-01-01T00:00:00Z");
    featd_time_format(-1, buf, sizeof buf);
    ck_assert_str_eq(buf, "1969-12-31T23:59:59.999999Z");
    featd_time_format(951782400000000LL + 123, buf, sizeof buf);     /* 2000-02-29 */
    ck_assert_str_eq(buf, "2000-02-29T00:00:00.000123Z");
    featd_time_format(253402300799000000LL, buf, sizeof buf);
    ck_assert_str_eq(buf, "9999-12-31T23:59:59Z");

    static const struct {
        const char *s;
        int64_t us;
    } good[] = {
        { "1970-01-01T00:00:00Z", 0 },
        { "1970-01-01", 0 },
        { "2026-11-21T10:00:00Z", 1795255200000000LL },
        { "2026-11-21t10:00:00z", 1795255200000000LL },
        { "2026-11-21 10:00:00", 1795255200000000LL },
        { "2026-11-21T10:00Z", 1795255200000000LL },
        { "2026-11-21T10:00:00.5Z", 1795255200500000LL },
        { "2026-11-21T10:00:00.123456789Z", 1795255200123456LL },
        { "2026-11-21T12:00:00+02:00", 1795255200000000LL },
        { "2026-11-21T09:30:00-0030", 1795255200000000LL },
        { "2026-11-21T11:00:00+01", 1795255200000000LL },
        { "1969-12-31T23:59:59.999999Z", -1 },
        { "2000-02-29T00:00:00Z", 951782400000000LL },
        { "1600-03-01T00:00:00Z", -11670912000000000LL },
    };
    for (size_t i = 0; i < NELEM(good); i++) {
        int64_t us = 42;
        ck_assert_msg(featd_time_parse(good[i].s, &us) == FEATD_OK, "rejected %s", good[i].s);
        ck_assert_msg(us == good[i].us, "%s -> %lld, want %lld", good[i].s, (long long)us,
                      (long long)good[i].us);
    }
    static const char *bad[] = {
        "", "2026", "2026-11", "2026-13-01", "2026-02-29", "2026-11-31", "2026-00-10",
        "2026-11-21T", "2026-11-21T24:00:00Z", "2026-11-21T10:60:00Z", "2026-11-21T10:00:61Z",
        "2026-11-21T10:00:00.Z", "2026-11-21T10:00:00.1234567890Z", "2026-11-21T10:00:00X",
        "2026-11-21T10:00:00+2", "2026-11-21T10:00:00+25:00", "2026-11-21T10:00:00Z ",
        " 2026-11-21", "26-11-21", "2026/11/21", "1795255200",
    };
    for (size_t i = 0; i < NELEM(bad); i++) {
        int64_t us;
        ck_assert_msg(featd_time_parse(bad[i], &us) == FEATD_ERR, "accepted '%s'", bad[i]);
    }
    /* round trips */
    int64_t samples[] = { 0, 1, -1, 999999, 1795255200123456LL, -62135596800000000LL,
                          253402300799999999LL };
    for (size_t i = 0; i < NELEM(samples); i++) {
        int64_t back;
        featd_time_format(samples[i], buf, sizeof buf);
        ck_assert_int_eq(featd_time_parse(buf, &back), FEATD_OK);
        ck_assert_int_eq(back, samples[i]);
    }
}
END_TEST

static Suite *client_format_suite(void)
{
    Suite *s = suite_create("client_format");
    TCase *tb = tcase_create("builder");
    tcase_add_test(tb, test_builder_encoding);
    tcase_add_test(tb, test_format_values);
    tcase_add_test(tb, test_names);
    tcase_add_test(tb, test_time_format_parse);
    suite_add_tcase(s, tb);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(client_format_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
