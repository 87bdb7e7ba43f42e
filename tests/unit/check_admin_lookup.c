/*
 * check_admin_lookup.c — the admin JSON lookup's answer writer
 * (admin_lookup_json in server/admin/admin_lookup.c), fed the cells a
 * lookup assembles (struct proto_get_answer): the exact text for every
 * status and a null cell, every feature type agreeing with the protobuf
 * path (the same cells encoded by proto_write_get_answer, unpacked and
 * formatted by libfeatd: strings up to a NUL byte, as a protobuf-c client
 * reads them), invalid UTF-8, empty lists,
 * no rows, and the size bound (ga->max_bytes).
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "admin/admin_internal.h"
#include "common/jsonw.h"
#include "config/config.h"
#include "featd_client.h"
#include "online/online.h"
#include "wire/frame.h"
#include "wire/proto.h"

/* admin_lookup_json into a fresh writer; returns its status, *out the text
 * (malloc'd, NULL when nothing). */
static int render(const struct proto_get_answer *ga, char **out)
{
    struct jsonw j;
    jsonw_init(&j);
    int rc = admin_lookup_json(&j, ga);
    const char *t = jsonw_end(&j);
    *out = t ? strdup(t) : NULL;
    jsonw_free(&j);
    return rc;
}

/* One int64 feature over four rows: PRESENT, NULL_VALUE (null cell),
 * NOT_FOUND (null, epoch), OUTSIDE_MAX_AGE (value still there). */
START_TEST(test_statuses_exact_text)
{
    struct online_value v0 = { .u.i64 = -42 }, v3 = { .u.i64 = 7 };
    const struct online_value *cells[4] = { &v0, NULL, NULL, &v3 };
    uint8_t st[4] = { FEATD__V1__FIELD_STATUS__PRESENT, FEATD__V1__FIELD_STATUS__NULL_VALUE,
                      FEATD__V1__FIELD_STATUS__NOT_FOUND, FEATD__V1__FIELD_STATUS__OUTSIDE_MAX_AGE };
    int64_t ts[4] = { 1700000000000000LL, 1700000000123456LL, 0, 1600000000000001LL };
    char *names[1] = { "v:n" };
    uint8_t types[1] = { FT_INT64 };
    struct proto_get_answer ga = { .request_id = 9, .nfeatures = 1, .nrows = 4, .names = names, .types = types,
                                   .cells = cells, .statuses = st, .event_ts = ts, .max_bytes = 1 << 20 };
    char *got;
    ck_assert_int_eq(render(&ga, &got), FEATD_OK);
    ck_assert_str_eq(got,
                     "{\"metadata\":{\"feature_names\":[\"v:n\"]},\"results\":[{\"values\":[-42,null,null,7],"
                     "\"statuses\":[\"PRESENT\",\"NULL_VALUE\",\"NOT_FOUND\",\"OUTSIDE_MAX_AGE\"],"
                     "\"event_timestamps\":[\"2023-11-14T22:13:20Z\",\"2023-11-14T22:13:20.123456Z\","
                     "\"1970-01-01T00:00:00Z\",\"2020-09-13T12:26:40.000001Z\"]}]}\n");
    free(got);

    /* INVALID (a corrupt row): null value, epoch */
    st[0] = FEATD__V1__FIELD_STATUS__INVALID;
    cells[0] = NULL;
    ts[0] = 0;
    ga.nrows = 1;
    ck_assert_int_eq(render(&ga, &got), FEATD_OK);
    ck_assert_str_eq(got, "{\"metadata\":{\"feature_names\":[\"v:n\"]},\"results\":[{\"values\":[null],"
                          "\"statuses\":[\"INVALID\"],\"event_timestamps\":[\"1970-01-01T00:00:00Z\"]}]}\n");
    free(got);
}
END_TEST

/* No entity rows, and no features at all. */
START_TEST(test_empty_answers)
{
    char *names[2] = { "a:x", "b:y" };
    uint8_t types[2] = { FT_BOOL, FT_STRING_LIST };
    struct proto_get_answer ga = { .nfeatures = 2, .nrows = 0, .names = names, .types = types };
    char *got;
    ck_assert_int_eq(render(&ga, &got), FEATD_OK);
    ck_assert_str_eq(got, "{\"metadata\":{\"feature_names\":[\"a:x\",\"b:y\"]},\"results\":["
                          "{\"values\":[],\"statuses\":[],\"event_timestamps\":[]},"
                          "{\"values\":[],\"statuses\":[],\"event_timestamps\":[]}]}\n");
    free(got);
    ga.nfeatures = 0;
    ck_assert_int_eq(render(&ga, &got), FEATD_OK);
    ck_assert_str_eq(got, "{\"metadata\":{\"feature_names\":[]},\"results\":[]}\n");
    free(got);
}
END_TEST

/* ---- every type, against the protobuf path ---- */

#define NT FT__COUNT
#define NR 3

struct fixture {
    struct online_value vals[NT][NR];
    const struct online_value *cells[NT * NR];
    uint8_t statuses[NT * NR];
    int64_t ts[NT * NR];
    uint8_t types[NT];
    char *names[NT];
    char namebuf[NT][32];
    struct fbuf lists[NT][NR];
};

/* Row 0 ordinary values, row 1 awkward ones (NaN, -0, extremes, NUL and
 * invalid UTF-8, empty lists), row 2 null. */
static void fixture_init(struct fixture *x)
{
    memset(x, 0, sizeof(*x));
    static const char str1[] = "a \"q\" \\ \x01 \xff caf\xc3\xa9\0 after a NUL";
    for (int t = 0; t < NT; t++) {
        snprintf(x->namebuf[t], sizeof(x->namebuf[t]), "v:%s", config_type_name((enum featd_type)t));
        x->names[t] = x->namebuf[t];
        x->types[t] = (uint8_t)t;
        for (int r = 0; r < NR; r++) {
            struct online_value *v = &x->vals[t][r];
            struct fbuf *l = &x->lists[t][r];
            size_t i = (size_t)t * NR + (size_t)r;
            x->statuses[i] = r == 2 ? FEATD__V1__FIELD_STATUS__NOT_FOUND : FEATD__V1__FIELD_STATUS__PRESENT;
            x->ts[i] = r == 2 ? 0 : 1700000000000000LL + r * 1000001LL;
            x->cells[i] = r == 2 ? NULL : v;
            switch ((enum featd_type)t) {
            case FT_BOOL: v->u.b = r == 0; break;
            case FT_INT32: v->u.i32 = r ? INT32_MIN : 123; break;
            case FT_INT64: v->u.i64 = r ? INT64_MIN : 9007199254740993LL; break;
            case FT_TIMESTAMP: v->u.i64 = r ? -1 : 1700000000123457LL; break;
            case FT_FLOAT: v->u.f = r ? NAN : 0.1f; break;
            case FT_DOUBLE: v->u.d = r ? -0.0 : 1.0 / 3.0; break;
            case FT_STRING:
                v->s = r ? str1 : "plain";
                v->slen = r ? sizeof(str1) - 1 : 5;
                break;
            case FT_BYTES:
                v->s = r ? "" : "\x00\x01\xfe\xff";
                v->slen = r ? 0 : 4;
                break;
            case FT_FLOAT_LIST:
                if (r == 0) {
                    ck_assert_int_eq(online_row_list_put_float(l, 1.5f), FEATD_OK);
                    ck_assert_int_eq(online_row_list_put_float(l, -INFINITY), FEATD_OK);
                    v->count = 2;
                }
                break;
            case FT_DOUBLE_LIST:
                if (r == 0) {
                    ck_assert_int_eq(online_row_list_put_double(l, 0.1), FEATD_OK);
                    ck_assert_int_eq(online_row_list_put_double(l, NAN), FEATD_OK);
                    ck_assert_int_eq(online_row_list_put_double(l, 1e300), FEATD_OK);
                    v->count = 3;
                }
                break;
            case FT_INT64_LIST:
                if (r == 0) {
                    ck_assert_int_eq(online_row_list_put_int64(l, INT64_MIN), FEATD_OK);
                    ck_assert_int_eq(online_row_list_put_int64(l, -1), FEATD_OK);
                    v->count = 2;
                }
                break;
            case FT_STRING_LIST:
                if (r == 0) {
                    ck_assert_int_eq(online_row_list_put_string(l, "x\ty", 3), FEATD_OK);
                    ck_assert_int_eq(online_row_list_put_string(l, "", 0), FEATD_OK);
                    ck_assert_int_eq(online_row_list_put_string(l, "\xc3\xa9\xc3", 3), FEATD_OK);
                    v->count = 3;
                }
                break;
            default:
                break;
            }
            v->raw = (const uint8_t *)l->data;
            v->rawlen = l->len;
        }
    }
}

static void fixture_free(struct fixture *x)
{
    for (int t = 0; t < NT; t++) {
        for (int r = 0; r < NR; r++) {
            fbuf_free(&x->lists[t][r]);
        }
    }
}

/* The same cells through proto_write_get_answer, unpacked: what a
 * protobuf client receives. */
static Featd__V1__Response *via_protobuf(const struct proto_get_answer *ga)
{
    struct evbuffer *out = evbuffer_new();
    uint32_t sizes[NT * NR];
    ck_assert_int_eq(proto_write_get_answer(out, ga, sizes), FEATD_OK);
    size_t n = evbuffer_get_length(out);
    const uint8_t *p = evbuffer_pullup(out, -1);
    Featd__V1__Response *resp = featd__v1__response__unpack(NULL, n - FRAME_HEADER, p + FRAME_HEADER);
    ck_assert_ptr_nonnull(resp);
    evbuffer_free(out);
    return resp;
}

START_TEST(test_every_type_matches_protobuf)
{
    struct fixture *x = malloc(sizeof(*x));
    ck_assert_ptr_nonnull(x);
    fixture_init(x);
    struct proto_get_answer ga = { .request_id = 1, .nfeatures = NT, .nrows = NR, .names = x->names,
                                   .types = x->types, .cells = x->cells, .statuses = x->statuses,
                                   .event_ts = x->ts, .max_bytes = 1 << 20 };
    char *text;
    ck_assert_int_eq(render(&ga, &text), FEATD_OK);
    json_error_t jerr;
    json_t *doc = json_loads(text, 0, &jerr);
    ck_assert_msg(doc != NULL, "not JSON (%s): %s", jerr.text, text);
    Featd__V1__Response *resp = via_protobuf(&ga);
    const Featd__V1__GetOnlineFeaturesResponse *g = resp->get_online_features;
    const json_t *names = json_object_get(json_object_get(doc, "metadata"), "feature_names");
    const json_t *results = json_object_get(doc, "results");
    ck_assert_uint_eq(json_array_size(names), g->n_feature_names);
    ck_assert_uint_eq(json_array_size(results), g->n_results);
    for (size_t f = 0; f < g->n_results; f++) {
        ck_assert_str_eq(json_string_value(json_array_get(names, f)), g->feature_names[f]);
        const json_t *res = json_array_get(results, f);
        const Featd__V1__FeatureVector *fv = g->results[f];
        ck_assert_uint_eq(json_array_size(json_object_get(res, "values")), fv->n_values);
        ck_assert_uint_eq(json_array_size(json_object_get(res, "statuses")), fv->n_statuses);
        ck_assert_uint_eq(json_array_size(json_object_get(res, "event_timestamps")), fv->n_event_timestamps_us);
        for (size_t r = 0; r < fv->n_values; r++) {
            const json_t *jv = json_array_get(json_object_get(res, "values"), r);
            const Featd__V1__Value *pv = fv->values[r];
            char *want = featd_value_str(pv, FEATD_FMT_JSON);
            char *got = json_dumps(jv, JSON_ENCODE_ANY);
            ck_assert_ptr_nonnull(want);
            json_t *w = json_loads(want, JSON_DECODE_ANY, &jerr);
            ck_assert_msg(w != NULL, "libfeatd JSON %s: %s", want, jerr.text);
            ck_assert_msg(json_equal(w, (json_t *)jv), "%s row %zu: JSON %s, protobuf %s",
                          g->feature_names[f], r, got, want);
            json_decref(w);
            free(got);
            free(want);
            ck_assert_str_eq(json_string_value(json_array_get(json_object_get(res, "statuses"), r)),
                             featd_status_name(fv->statuses[r]));
            char ts[64];
            featd_time_format(fv->event_timestamps_us[r], ts, sizeof(ts));
            ck_assert_str_eq(json_string_value(json_array_get(json_object_get(res, "event_timestamps"), r)), ts);
        }
    }
    /* a few exact forms */
    /* escapes, invalid UTF-8, and the string up to its NUL */
    ck_assert_msg(strstr(text, "[\"plain\",\"a \\\"q\\\" \\\\ \\u0001 \\ufffd caf\xc3\xa9\",null]") != NULL,
                  "%s", text);
    ck_assert_msg(strstr(text, "[[1.5,\"-Infinity\"],[],null]") != NULL, "%s", text);   /* empty list */
    ck_assert_msg(strstr(text, "[0.1,\"NaN\",1e+300]") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "[-9223372036854775808,-1]") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "[\"x\\ty\",\"\",\"\xc3\xa9\\ufffd\"]") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "\"AAH+/w==\",\"\",null") != NULL, "%s", text);
    featd__v1__response__free_unpacked(resp, NULL);
    json_decref(doc);
    free(text);
    fixture_free(x);
    free(x);
}
END_TEST

/* Larger than ga->max_bytes: FEATD_EAGAIN, stopping early; exactly at the
 * bound: FEATD_OK. */
START_TEST(test_max_bytes)
{
    enum { ROWS = 1000 };
    static struct online_value v[ROWS];
    static const struct online_value *cells[ROWS];
    static uint8_t st[ROWS];
    static int64_t ts[ROWS];
    for (int r = 0; r < ROWS; r++) {
        v[r].s = "0123456789";
        v[r].slen = 10;
        cells[r] = &v[r];
        st[r] = FEATD__V1__FIELD_STATUS__PRESENT;
    }
    char *names[1] = { "v:s" };
    uint8_t types[1] = { FT_STRING };
    struct proto_get_answer ga = { .nfeatures = 1, .nrows = ROWS, .names = names, .types = types,
                                   .cells = cells, .statuses = st, .event_ts = ts, .max_bytes = 0 };
    char *full;
    ck_assert_int_eq(render(&ga, &full), FEATD_OK);     /* 0 = no bound */
    size_t len = strlen(full);
    ga.max_bytes = len;
    char *got;
    ck_assert_int_eq(render(&ga, &got), FEATD_OK);
    ck_assert_str_eq(got, full);
    free(got);
    ga.max_bytes = len - 1;
    ck_assert_int_eq(render(&ga, &got), FEATD_EAGAIN);
    free(got);
    struct jsonw j;
    jsonw_init(&j);
    ga.max_bytes = 100;
    ck_assert_int_eq(admin_lookup_json(&j, &ga), FEATD_EAGAIN);
    ck_assert_msg(j.len < 200, "stopped after %zu bytes", j.len);     /* per cell, not at the end */
    jsonw_free(&j);
    free(full);
}
END_TEST

static Suite *admin_lookup_suite(void)
{
    Suite *s = suite_create("admin_lookup");
    TCase *tc = tcase_create("json");
    tcase_add_test(tc, test_statuses_exact_text);
    tcase_add_test(tc, test_empty_answers);
    tcase_add_test(tc, test_every_type_matches_protobuf);
    tcase_add_test(tc, test_max_bytes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(admin_lookup_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
