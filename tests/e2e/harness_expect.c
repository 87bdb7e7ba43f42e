/*
 * harness_expect.c — end-to-end checks of lookups against the expected
 * online state DuckDB computed for the materializer fixtures
 * (the .expected.json files of tests/fixtures/materialize): shared by the single-node
 * and the cluster suites (contract in harness_expect.h).
 */
#include "harness_expect.h"

#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "featd_client.h"

static void harness_expect_pb(const char *what, enum featd_type t, const Featd__V1__Value *v, int status,
                     json_t *e)
{
    if (json_is_null(e)) {
        ck_assert_msg(status == FEATD__V1__FIELD_STATUS__NULL_VALUE, "%s: expected NULL_VALUE, "
                      "got %s", what, featd_status_name(status));
        return;
    }
    ck_assert_msg(status == FEATD__V1__FIELD_STATUS__PRESENT, "%s: expected PRESENT, got %s", what,
                  featd_status_name(status));
    ck_assert_msg(v != NULL, "%s: no value", what);
    switch (t) {
    case FT_BOOL:
        ck_assert_msg(v->kind_case == FEATD__V1__VALUE__KIND_BOOL_VAL &&
                      (bool)v->bool_val == json_is_true(e), "%s: bool", what);
        break;
    case FT_INT32:
        ck_assert_msg(v->kind_case == FEATD__V1__VALUE__KIND_INT32_VAL &&
                      v->int32_val == atoi(json_string_value(e)), "%s: int32 %d vs %s", what,
                      v->int32_val, json_string_value(e));
        break;
    case FT_INT64:
        ck_assert_msg(v->kind_case == FEATD__V1__VALUE__KIND_INT64_VAL &&
                      v->int64_val == strtoll(json_string_value(e), NULL, 10),
                      "%s: int64 %" PRId64 " vs %s", what, (int64_t)v->int64_val,
                      json_string_value(e));
        break;
    case FT_TIMESTAMP:
        ck_assert_msg(v->kind_case == FEATD__V1__VALUE__KIND_TIMESTAMP_US_VAL &&
                      v->timestamp_us_val == strtoll(json_string_value(e), NULL, 10),
                      "%s: timestamp", what);
        break;
    case FT_FLOAT:
        ck_assert_msg(v->kind_case == FEATD__V1__VALUE__KIND_FLOAT_VAL &&
                      v->float_val == (float)json_number_value(e), "%s: float %.9g vs %.9g", what,
                      (double)v->float_val, json_number_value(e));
        break;
    case FT_DOUBLE:
        ck_assert_msg(v->kind_case == FEATD__V1__VALUE__KIND_DOUBLE_VAL &&
                      v->double_val == json_number_value(e), "%s: double %.17g vs %.17g", what,
                      v->double_val, json_number_value(e));
        break;
    case FT_STRING:
        ck_assert_msg(v->kind_case == FEATD__V1__VALUE__KIND_STRING_VAL &&
                      strcmp(v->string_val, json_string_value(e)) == 0, "%s: \"%s\" vs \"%s\"",
                      what, v->string_val, json_string_value(e));
        break;
    case FT_BYTES: {
        ck_assert_msg(v->kind_case == FEATD__V1__VALUE__KIND_BYTES_VAL, "%s: bytes", what);
        char hex[300];
        size_t n = 0;
        for (size_t i = 0; i < v->bytes_val.len && n + 3 < sizeof(hex); i++) {
            n += (size_t)snprintf(hex + n, sizeof(hex) - n, "%02X", v->bytes_val.data[i]);
        }
        hex[n] = '\0';
        ck_assert_msg(strcmp(hex, json_string_value(e)) == 0, "%s: %s vs %s", what, hex,
                      json_string_value(e));
        break;
    }
    case FT_FLOAT_LIST: {
        ck_assert_msg(v->kind_case == FEATD__V1__VALUE__KIND_FLOAT_LIST_VAL, "%s: kind", what);
        ck_assert_uint_eq(v->float_list_val->n_val, json_array_size(e));
        for (size_t i = 0; i < v->float_list_val->n_val; i++) {
            ck_assert_msg(v->float_list_val->val[i] == (float)json_number_value(json_array_get(e, i)),
                          "%s[%zu]", what, i);
        }
        break;
    }
    case FT_DOUBLE_LIST: {
        ck_assert_msg(v->kind_case == FEATD__V1__VALUE__KIND_DOUBLE_LIST_VAL, "%s: kind", what);
        ck_assert_uint_eq(v->double_list_val->n_val, json_array_size(e));
        for (size_t i = 0; i < v->double_list_val->n_val; i++) {
            ck_assert_msg(v->double_list_val->val[i] == json_number_value(json_array_get(e, i)),
                          "%s[%zu]", what, i);
        }
        break;
    }
    case FT_INT64_LIST: {
        ck_assert_msg(v->kind_case == FEATD__V1__VALUE__KIND_INT64_LIST_VAL, "%s: kind", what);
        ck_assert_uint_eq(v->int64_list_val->n_val, json_array_size(e));
        for (size_t i = 0; i < v->int64_list_val->n_val; i++) {
            ck_assert_msg(v->int64_list_val->val[i] ==
                          strtoll(json_string_value(json_array_get(e, i)), NULL, 10), "%s[%zu]",
                          what, i);
        }
        break;
    }
    case FT_STRING_LIST: {
        ck_assert_msg(v->kind_case == FEATD__V1__VALUE__KIND_STRING_LIST_VAL, "%s: kind", what);
        ck_assert_uint_eq(v->string_list_val->n_val, json_array_size(e));
        for (size_t i = 0; i < v->string_list_val->n_val; i++) {
            ck_assert_msg(strcmp(v->string_list_val->val[i],
                                 json_string_value(json_array_get(e, i))) == 0, "%s[%zu]", what, i);
        }
        break;
    }
    default:
        ck_abort_msg("%s: unexpected type", what);
    }
}

/* Key text of an entity as in the expected JSON ("42" or "42|abc"). */
static void harness_expect_ent_text(const struct harness_ent *e, char *out, size_t cap)
{
    if (e->s) {
        snprintf(out, cap, "%" PRId64 "|%s", e->i, e->s);
    } else {
        snprintf(out, cap, "%" PRId64, e->i);
    }
}

size_t harness_expect_lookups(int p, const struct cfg_view *v, const char *path,
                              const struct harness_ent *universe, size_t n)
{
    return harness_expect_lookups_mode(p, v, path, universe, n, 0);
}

size_t harness_expect_lookups_mode(int p, const struct cfg_view *v, const char *path,
                                   const struct harness_ent *universe, size_t n, int held)
{
    const char *vname = v->name, *expected_file = path;
    json_error_t jerr;
    json_t *exp = json_load_file(path, 0, &jerr);
    ck_assert_msg(exp != NULL, "%s: %s", path, jerr.text);
    char cerr[256];
    struct featd_client *c = featd_connect("127.0.0.1", p, 5000, cerr, sizeof(cerr));
    ck_assert_msg(c != NULL, "connect: %s", cerr);
    struct featd_get *g = featd_get_new();
    char ref[200];
    snprintf(ref, sizeof(ref), "%s:*", vname);
    size_t present = 0, matched = 0;
    for (size_t off = 0; off < n; off += 1000) {
        size_t m = n - off < 1000 ? n - off : 1000;
        featd_get_reset(g);
        featd_get_set_held(g, held);
        featd_get_add_feature(g, ref);
        for (size_t i = 0; i < m; i++) {
            featd_get_add_int64(g, v->keys[0].name, universe[off + i].i);
            if (v->nkeys > 1) {
                featd_get_add_string(g, v->keys[1].name, universe[off + i].s);
            }
        }
        Featd__V1__Response *resp = NULL;
        ck_assert_msg(featd_lookup(c, g, &resp) == FEATD_OK, "lookup: %s", featd_errmsg(c));
        const Featd__V1__GetOnlineFeaturesResponse *r = resp->get_online_features;
        ck_assert_uint_eq(r->n_results, v->nfeatures);
        for (size_t i = 0; i < m; i++) {
            char kt[200];
            harness_expect_ent_text(&universe[off + i], kt, sizeof(kt));
            json_t *hit = NULL;
            for (size_t j = 0; j < json_array_size(exp) && !hit; j++) {
                json_t *row = json_array_get(exp, j), *ks = json_object_get(row, "keys");
                char et[200];
                const char *k0 = json_string_value(json_object_get(ks, v->keys[0].name));
                if (v->nkeys > 1) {
                    snprintf(et, sizeof(et), "%s|%s", k0,
                             json_string_value(json_object_get(ks, v->keys[1].name)));
                } else {
                    snprintf(et, sizeof(et), "%s", k0);
                }
                if (strcmp(et, kt) == 0) {
                    hit = row;
                }
            }
            if (hit == NULL) {
                for (size_t f = 0; f < v->nfeatures; f++) {
                    ck_assert_msg(featd_resp_status(r, f, i) == FEATD__V1__FIELD_STATUS__NOT_FOUND,
                                  "%s entity %s feature %s: expected NOT_FOUND, got %s", vname, kt,
                                  v->features[f].name, featd_status_name(featd_resp_status(r, f, i)));
                }
                continue;
            }
            present++;
            json_t *vals = json_object_get(hit, "values");
            int64_t ets = strtoll(json_string_value(json_object_get(hit, "event_ts_us")), NULL, 10);
            for (size_t f = 0; f < v->nfeatures; f++) {
                char what[300];
                snprintf(what, sizeof(what), "%s entity %s feature %s", vname, kt,
                         v->features[f].name);
                harness_expect_pb(what, v->features[f].type, featd_resp_value(r, f, i),
                         featd_resp_status(r, f, i), json_object_get(vals, v->features[f].name));
                ck_assert_msg(featd_resp_event_ts(r, f, i) == ets, "%s: event time %" PRId64
                              " vs %" PRId64, what, featd_resp_event_ts(r, f, i), ets);
            }
            matched++;
        }
        featd_response_free(resp);
    }
    /* every expected entity was in the universe */
    ck_assert_msg(matched == json_array_size(exp), "%s: %zu of %zu expected entities looked up",
                  expected_file, matched, json_array_size(exp));
    featd_get_free(g);
    featd_close(c);
    json_decref(exp);
    return present;
}

struct harness_ent *harness_expect_int_universe(int64_t lo, int64_t hi, size_t *n)
{
    *n = (size_t)(hi - lo + 1);
    struct harness_ent *u = calloc(*n, sizeof(*u));
    for (size_t i = 0; i < *n; i++) {
        u[i].i = lo + (int64_t)i;
    }
    return u;
}
