/*
 * write_check.c — validation and conversion of a WriteFeatures request
 * (contract in write_check.h). Cheap checks first (counts, names), then
 * the values row by row; nothing is left half-converted that a caller
 * could write, since the caller writes only after FEATD_OK.
 */
#include "serve/write_check.h"

#include "online/online_expect.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/jsonw.h"
#include "wire/proto.h"
#include "core/fbuf.h"

static void wc_fail(struct write_check_error *err, int code, const char *fmt, ...) FEATD_PRINTF(3, 4);

static void wc_fail(struct write_check_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    /* the message quotes request text: keep it valid UTF-8 on one line */
    jsonw_text_fitv(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    err->code = code;
}

#define BAD(...) do { wc_fail(err, FEATD__V1__ERROR_CODE__INVALID_ARGUMENT, __VA_ARGS__); \
                      return FEATD_ERR; } while (0)
#define NOMEM() do { wc_fail(err, FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED, \
                      "request needs more memory than allowed"); return FEATD_ERR; } while (0)

size_t write_check_claimed_rows(const Featd__V1__WriteFeaturesRequest *w)
{
    if (w->n_event_timestamps_us > 0) {
        return w->n_event_timestamps_us;
    }
    return w->n_entities > 0 ? w->entities[0]->n_values : 0;
}

/* The join-key columns: each key once, nothing else; *col_of[k] = column. */
static int wc_keys(const struct cfg_view *v, const Featd__V1__WriteFeaturesRequest *w, size_t nrows,
                   int *col_of, struct write_check_error *err)
{
    for (size_t k = 0; k < v->nkeys; k++) {
        col_of[k] = -1;
    }
    for (size_t c = 0; c < w->n_entities; c++) {
        const Featd__V1__EntityColumn *col = w->entities[c];
        size_t k = 0;
        while (k < v->nkeys && strcmp(v->keys[k].name, col->join_key) != 0) {
            k++;
        }
        if (k == v->nkeys) {
            BAD("feature view \"%s\" has no join key \"%s\"", v->name, col->join_key);
        }
        if (col_of[k] >= 0) {
            BAD("join key \"%s\" is given more than once", col->join_key);
        }
        col_of[k] = (int)c;
        if (col->n_values != nrows) {
            BAD("columns have unequal lengths: join key \"%s\" has %zu values, expected %zu", col->join_key,
                col->n_values, nrows);
        }
    }
    for (size_t k = 0; k < v->nkeys; k++) {
        if (col_of[k] < 0) {
            BAD("missing join key \"%s\" of feature view \"%s\"", v->keys[k].name, v->name);
        }
    }
    return FEATD_OK;
}

/* The feature columns: each feature once, nothing else; col_of[f] = column. */
static int wc_features(const struct cfg_view *v, const Featd__V1__WriteFeaturesRequest *w, size_t nrows,
                       int *col_of, struct write_check_error *err)
{
    for (size_t f = 0; f < v->nfeatures; f++) {
        col_of[f] = -1;
    }
    for (size_t c = 0; c < w->n_features; c++) {
        const Featd__V1__FeatureColumn *col = w->features[c];
        int f = config_feature_index(v, col->name, strlen(col->name));
        if (f < 0) {
            BAD("feature view \"%s\" has no feature \"%s\"", v->name, col->name);
        }
        if (col_of[f] >= 0) {
            BAD("feature \"%s\" is given more than once", col->name);
        }
        col_of[f] = (int)c;
        if (col->n_values != nrows) {
            BAD("columns have unequal lengths: feature \"%s\" has %zu values, expected %zu", col->name,
                col->n_values, nrows);
        }
    }
    for (size_t f = 0; f < v->nfeatures; f++) {
        if (col_of[f] < 0) {
            BAD("missing feature \"%s\" of feature view \"%s\" (send every feature; a column of "
                "unset values writes nulls)", v->features[f].name, v->name);
        }
    }
    return FEATD_OK;
}

/* Packs a list value into the arena (online_row.h's list encoding). */
static int wc_list(const Featd__V1__Value *x, enum featd_type t, struct arena *a, struct online_value *o)
{
    struct fbuf b = { 0 };
    int rc = FEATD_OK;
    size_t n = 0;
    switch (t) {
    case FT_FLOAT_LIST:
        n = x->float_list_val ? x->float_list_val->n_val : 0;
        for (size_t i = 0; i < n && rc == FEATD_OK; i++) {
            rc = online_row_list_put_float(&b, x->float_list_val->val[i]);
        }
        break;
    case FT_DOUBLE_LIST:
        n = x->double_list_val ? x->double_list_val->n_val : 0;
        for (size_t i = 0; i < n && rc == FEATD_OK; i++) {
            rc = online_row_list_put_double(&b, x->double_list_val->val[i]);
        }
        break;
    case FT_INT64_LIST:
        n = x->int64_list_val ? x->int64_list_val->n_val : 0;
        for (size_t i = 0; i < n && rc == FEATD_OK; i++) {
            rc = online_row_list_put_int64(&b, x->int64_list_val->val[i]);
        }
        break;
    default:
        n = x->string_list_val ? x->string_list_val->n_val : 0;
        for (size_t i = 0; i < n && rc == FEATD_OK; i++) {
            const char *s = x->string_list_val->val[i];
            rc = online_row_list_put_string(&b, s ? s : "", s ? strlen(s) : 0);
        }
        break;
    }
    if (rc == FEATD_OK) {
        o->count = (uint32_t)n;
        o->rawlen = b.len;
        o->raw = b.len ? arena_memdup(a, b.data, b.len) : (const uint8_t *)"";
        rc = o->raw ? FEATD_OK : FEATD_ENOMEM;
    }
    fbuf_free(&b);
    return rc;
}

/* The list behind a list kind, NULL for other kinds. */
static size_t wc_list_len(const Featd__V1__Value *x)
{
    switch (x->kind_case) {
    case FEATD__V1__VALUE__KIND_FLOAT_LIST_VAL: return x->float_list_val ? x->float_list_val->n_val : 0;
    case FEATD__V1__VALUE__KIND_DOUBLE_LIST_VAL: return x->double_list_val ? x->double_list_val->n_val : 0;
    case FEATD__V1__VALUE__KIND_INT64_LIST_VAL: return x->int64_list_val ? x->int64_list_val->n_val : 0;
    case FEATD__V1__VALUE__KIND_STRING_LIST_VAL: return x->string_list_val ? x->string_list_val->n_val : 0;
    default: return 0;
    }
}

/* Whether kind may carry a value of type t (widening int32 -> int64 and
 * float -> double). */
static bool wc_kind_ok(enum featd_type t, int kind)
{
    switch (t) {
    case FT_BOOL: return kind == FEATD__V1__VALUE__KIND_BOOL_VAL;
    case FT_INT32: return kind == FEATD__V1__VALUE__KIND_INT32_VAL;
    case FT_INT64: return kind == FEATD__V1__VALUE__KIND_INT64_VAL || kind == FEATD__V1__VALUE__KIND_INT32_VAL;
    case FT_FLOAT: return kind == FEATD__V1__VALUE__KIND_FLOAT_VAL;
    case FT_DOUBLE: return kind == FEATD__V1__VALUE__KIND_DOUBLE_VAL || kind == FEATD__V1__VALUE__KIND_FLOAT_VAL;
    case FT_STRING: return kind == FEATD__V1__VALUE__KIND_STRING_VAL;
    case FT_BYTES: return kind == FEATD__V1__VALUE__KIND_BYTES_VAL;
    case FT_TIMESTAMP: return kind == FEATD__V1__VALUE__KIND_TIMESTAMP_US_VAL;
    case FT_FLOAT_LIST: return kind == FEATD__V1__VALUE__KIND_FLOAT_LIST_VAL;
    case FT_DOUBLE_LIST: return kind == FEATD__V1__VALUE__KIND_DOUBLE_LIST_VAL;
    case FT_INT64_LIST: return kind == FEATD__V1__VALUE__KIND_INT64_LIST_VAL;
    case FT_STRING_LIST: return kind == FEATD__V1__VALUE__KIND_STRING_LIST_VAL;
    default: return false;
    }
}

/* The expected kind's name for t (messages). */
static const char *wc_expected(enum featd_type t)
{
    switch (t) {
    case FT_BOOL: return "bool_val";
    case FT_INT32: return "int32_val";
    case FT_INT64: return "int64_val or int32_val";
    case FT_FLOAT: return "float_val";
    case FT_DOUBLE: return "double_val or float_val";
    case FT_STRING: return "string_val";
    case FT_BYTES: return "bytes_val";
    case FT_TIMESTAMP: return "timestamp_us_val";
    case FT_FLOAT_LIST: return "float_list_val";
    case FT_DOUBLE_LIST: return "double_list_val";
    case FT_INT64_LIST: return "int64_list_val";
    case FT_STRING_LIST: return "string_list_val";
    default: return "?";
    }
}

/* Converts one non-null value (kind already checked) into o. */
static int wc_value(const Featd__V1__Value *x, enum featd_type t, struct arena *a, struct online_value *o)
{
    memset(o, 0, sizeof(*o));
    switch (t) {
    case FT_BOOL: o->u.b = x->bool_val; break;
    case FT_INT32: o->u.i32 = x->int32_val; break;
    case FT_INT64:
        o->u.i64 = x->kind_case == FEATD__V1__VALUE__KIND_INT32_VAL ? x->int32_val : x->int64_val;
        break;
    case FT_FLOAT: o->u.f = x->float_val; break;
    case FT_DOUBLE:
        o->u.d = x->kind_case == FEATD__V1__VALUE__KIND_FLOAT_VAL ? (double)x->float_val : x->double_val;
        break;
    case FT_STRING:
        o->s = x->string_val ? x->string_val : "";
        o->slen = strlen(o->s);
        break;
    case FT_BYTES:
        o->s = x->bytes_val.len ? (const char *)x->bytes_val.data : "";
        o->slen = x->bytes_val.len;
        break;
    case FT_TIMESTAMP: o->u.i64 = x->timestamp_us_val; break;
    default: return wc_list(x, t, a, o);
    }
    return FEATD_OK;
}

/* feature f's expect rules on o (row r, online/online_expect.h): FEATD_ERR
 * naming row, feature and rule. */
static int wc_expect(const struct cfg_view *v, size_t f, size_t r, const struct online_value *o,
                     struct write_check_error *err)
{
    char why[256];
    if (!online_expect_keeps(&v->features[f], o, why, sizeof why)) {
        BAD("row %zu: feature \"%s\" breaks expect.%s", r, v->features[f].name, why);
    }
    return FEATD_OK;
}

int write_check(const struct featd_config *cfg, const Featd__V1__WriteFeaturesRequest *w,
                struct arena *a, struct write_rows *out, struct write_check_error *err)
{
    memset(out, 0, sizeof(*out));
    const char *vname = w->feature_view ? w->feature_view : "";
    const struct cfg_view *v = config_find_view(cfg, vname);
    if (v == NULL) {
        BAD("unknown feature view \"%s\"", vname);
    }
    out->v = v;
    if (w->n_entities == 0) {
        BAD("no entity columns: feature view \"%s\" needs its join keys", v->name);
    }
    size_t nrows = w->entities[0]->n_values;
    if (nrows == 0) {
        BAD("empty write: no rows");
    }
    if (nrows > (size_t)cfg->server.max_entities_per_request) {
        BAD("too many rows: %zu exceed max_entities_per_request (%d)", nrows,
            cfg->server.max_entities_per_request);
    }
    /* cheap bounds before pairwise name checks */
    if (w->n_entities > v->nkeys) {
        BAD("%zu entity columns, but feature view \"%s\" has %zu join keys", w->n_entities, v->name, v->nkeys);
    }
    if (w->n_features > v->nfeatures) {
        BAD("%zu feature columns, but feature view \"%s\" has %zu features", w->n_features, v->name,
            v->nfeatures);
    }
    int *kcol = arena_alloc(a, sizeof(int) * (v->nkeys ? v->nkeys : 1));
    int *fcol = arena_alloc(a, sizeof(int) * (v->nfeatures ? v->nfeatures : 1));
    if (kcol == NULL || fcol == NULL) {
        NOMEM();
    }
    if (wc_keys(v, w, nrows, kcol, err) != FEATD_OK || wc_features(v, w, nrows, fcol, err) != FEATD_OK) {
        return FEATD_ERR;
    }
    if (w->n_event_timestamps_us != nrows) {
        BAD("missing event times: %zu event_timestamps_us for %zu rows (one per row)",
            w->n_event_timestamps_us, nrows);
    }
    out->keys = arena_alloc(a, sizeof(*out->keys) * nrows * (v->nkeys ? v->nkeys : 1));
    out->vals = arena_alloc(a, sizeof(*out->vals) * nrows * (v->nfeatures ? v->nfeatures : 1));
    if (out->keys == NULL || out->vals == NULL) {
        NOMEM();
    }
    for (size_t r = 0; r < nrows; r++) {
        for (size_t k = 0; k < v->nkeys; k++) {
            const Featd__V1__Value *x = w->entities[kcol[k]]->values[r];
            struct online_key *ok = &out->keys[r * v->nkeys + k];
            memset(ok, 0, sizeof(*ok));
            int kc = x->kind_case;
            if (v->keys[k].type == FT_INT64 &&
                (kc == FEATD__V1__VALUE__KIND_INT64_VAL || kc == FEATD__V1__VALUE__KIND_INT32_VAL)) {
                ok->i = kc == FEATD__V1__VALUE__KIND_INT32_VAL ? x->int32_val : x->int64_val;
            } else if (v->keys[k].type == FT_STRING && kc == FEATD__V1__VALUE__KIND_STRING_VAL) {
                ok->s = x->string_val ? x->string_val : "";
                ok->slen = strlen(ok->s);
            } else {
                BAD("row %zu: join key \"%s\": expected %s, got %s", r, v->keys[k].name,
                    v->keys[k].type == FT_INT64 ? "int64_val" : "string_val", proto_value_kind_name(kc));
            }
        }
        for (size_t f = 0; f < v->nfeatures; f++) {
            const Featd__V1__Value *x = w->features[fcol[f]]->values[r];
            struct online_value *o = &out->vals[r * v->nfeatures + f];
            enum featd_type t = v->features[f].type;
            int kc = x->kind_case;
            if (kc == FEATD__V1__VALUE__KIND__NOT_SET) {
                memset(o, 0, sizeof(*o));
                o->is_null = true;
            } else if (!wc_kind_ok(t, kc)) {
                BAD("row %zu: feature \"%s\" (%s): expected %s, got %s", r, v->features[f].name,
                    config_type_name(t), wc_expected(t), proto_value_kind_name(kc));
            } else if (wc_list_len(x) > ONLINE_MAX_LIST) {
                BAD("row %zu: feature \"%s\": %zu list elements exceed the limit (%u)", r,
                    v->features[f].name, wc_list_len(x), ONLINE_MAX_LIST);
            } else if (wc_value(x, t, a, o) != FEATD_OK) {
                NOMEM();
            }
            if (wc_expect(v, f, r, o, err) != FEATD_OK) {
                return FEATD_ERR;
            }
        }
    }
    out->nrows = nrows;
    out->event_us = w->event_timestamps_us;
    return FEATD_OK;
}
