/*
 * featd_value.c — libfeatd, printing a featd.v1.Value: featd_value_format
 * and featd_value_str (JSON or text, written with common/jsonw.h) and
 * featd_value_kind_name. API in featd_client.h; pure and thread-safe.
 */
#include "featd_client.h"

#include <stdlib.h>

#include "common/jsonw.h"

const char *featd_value_kind_name(int kind_case)
{
    switch (kind_case) {
    case FEATD__V1__VALUE__KIND__NOT_SET: return "null";
    case FEATD__V1__VALUE__KIND_BOOL_VAL: return "bool";
    case FEATD__V1__VALUE__KIND_INT32_VAL: return "int32";
    case FEATD__V1__VALUE__KIND_INT64_VAL: return "int64";
    case FEATD__V1__VALUE__KIND_FLOAT_VAL: return "float";
    case FEATD__V1__VALUE__KIND_DOUBLE_VAL: return "double";
    case FEATD__V1__VALUE__KIND_STRING_VAL: return "string";
    case FEATD__V1__VALUE__KIND_BYTES_VAL: return "bytes";
    case FEATD__V1__VALUE__KIND_TIMESTAMP_US_VAL: return "timestamp";
    case FEATD__V1__VALUE__KIND_FLOAT_LIST_VAL: return "float_list";
    case FEATD__V1__VALUE__KIND_DOUBLE_LIST_VAL: return "double_list";
    case FEATD__V1__VALUE__KIND_INT64_LIST_VAL: return "int64_list";
    case FEATD__V1__VALUE__KIND_STRING_LIST_VAL: return "string_list";
    default: return "unknown";
    }
}

/* ---- formatting (on common/jsonw.h) ---- */

#define TEXT_LIST_MAX 8
#define TEXT_BYTES_MAX 32

/* A double or float: JSON numbers (non-finite as strings) or bare text. */
static void put_double(struct jsonw *w, double d, bool json)
{
    if (json) {
        jsonw_double(w, d);
    } else {
        char t[JSONW_NUM_MAX];
        jsonw_raw(w, t, jsonw_fmt_double(t, d));
    }
}

static void put_float(struct jsonw *w, float f, bool json)
{
    if (json) {
        jsonw_float(w, f);
    } else {
        char t[JSONW_NUM_MAX];
        jsonw_raw(w, t, jsonw_fmt_float(t, f));
    }
}

static void put_string(struct jsonw *w, const char *str, bool json)
{
    str = str ? str : "";
    if (json) {
        jsonw_str(w, str, strlen(str));
    } else {
        jsonw_text(w, str, strlen(str));
    }
}

static void put_hex(struct jsonw *w, const uint8_t *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    jsonw_lit(w, "0x");
    for (size_t i = 0; i < n && i < TEXT_BYTES_MAX; i++) {
        char h[2] = { hex[p[i] >> 4], hex[p[i] & 15] };
        jsonw_raw(w, h, 2);
    }
    if (n > TEXT_BYTES_MAX) {
        jsonw_lit(w, "... (");
        jsonw_u64(w, n);
        jsonw_lit(w, " bytes)");
    }
}

/* Length of a list value (0 for a missing list). */
static size_t list_len(const Featd__V1__Value *v)
{
    switch (v->kind_case) {
    case FEATD__V1__VALUE__KIND_FLOAT_LIST_VAL:
        return v->float_list_val ? v->float_list_val->n_val : 0;
    case FEATD__V1__VALUE__KIND_DOUBLE_LIST_VAL:
        return v->double_list_val ? v->double_list_val->n_val : 0;
    case FEATD__V1__VALUE__KIND_INT64_LIST_VAL:
        return v->int64_list_val ? v->int64_list_val->n_val : 0;
    case FEATD__V1__VALUE__KIND_STRING_LIST_VAL:
        return v->string_list_val ? v->string_list_val->n_val : 0;
    default:
        return 0;
    }
}

/* Element i (< list_len(v)) of a list value. */
static void put_list_elem(struct jsonw *w, const Featd__V1__Value *v, size_t i, bool json)
{
    switch (v->kind_case) {
    case FEATD__V1__VALUE__KIND_FLOAT_LIST_VAL:
        put_float(w, v->float_list_val->val[i], json);
        break;
    case FEATD__V1__VALUE__KIND_DOUBLE_LIST_VAL:
        put_double(w, v->double_list_val->val[i], json);
        break;
    case FEATD__V1__VALUE__KIND_INT64_LIST_VAL:
        jsonw_i64(w, v->int64_list_val->val[i]);
        break;
    case FEATD__V1__VALUE__KIND_STRING_LIST_VAL:
        put_string(w, v->string_list_val->val[i], true);     /* quoted in text too */
        break;
    default:
        break;
    }
}

/* A list value: JSON arrays in full; text shows at most TEXT_LIST_MAX
 * elements, then ", ... (N total)". */
static void put_list(struct jsonw *w, const Featd__V1__Value *v, bool json)
{
    size_t n = list_len(v);
    size_t shown = json || n <= TEXT_LIST_MAX ? n : TEXT_LIST_MAX;
    jsonw_char(w, '[');
    for (size_t i = 0; i < shown; i++) {
        if (i > 0) {
            jsonw_lit(w, json ? "," : ", ");
        }
        put_list_elem(w, v, i, json);
    }
    if (shown < n) {
        jsonw_lit(w, ", ... (");
        jsonw_u64(w, n);
        jsonw_lit(w, " total)");
    }
    jsonw_char(w, ']');
}

static void format_value(struct jsonw *w, const Featd__V1__Value *v, bool json)
{
    if (v == NULL) {
        jsonw_lit(w, "null");
        return;
    }
    switch (v->kind_case) {
    case FEATD__V1__VALUE__KIND_BOOL_VAL:
        jsonw_lit(w, v->bool_val ? "true" : "false");
        break;
    case FEATD__V1__VALUE__KIND_INT32_VAL:
        jsonw_i64(w, v->int32_val);
        break;
    case FEATD__V1__VALUE__KIND_INT64_VAL:
        jsonw_i64(w, v->int64_val);
        break;
    case FEATD__V1__VALUE__KIND_FLOAT_VAL:
        put_float(w, v->float_val, json);
        break;
    case FEATD__V1__VALUE__KIND_DOUBLE_VAL:
        put_double(w, v->double_val, json);
        break;
    case FEATD__V1__VALUE__KIND_STRING_VAL:
        put_string(w, v->string_val, json);
        break;
    case FEATD__V1__VALUE__KIND_BYTES_VAL:
        if (json) {
            jsonw_base64(w, v->bytes_val.data, v->bytes_val.len);
        } else {
            put_hex(w, v->bytes_val.data, v->bytes_val.len);
        }
        break;
    case FEATD__V1__VALUE__KIND_TIMESTAMP_US_VAL:
        if (json) {
            jsonw_time(w, v->timestamp_us_val);
        } else {
            char t[JSONW_TIME_MAX];
            jsonw_raw(w, t, jsonw_fmt_time(t, v->timestamp_us_val, JSONW_FRAC_AUTO));
        }
        break;
    case FEATD__V1__VALUE__KIND_FLOAT_LIST_VAL:
    case FEATD__V1__VALUE__KIND_DOUBLE_LIST_VAL:
    case FEATD__V1__VALUE__KIND_INT64_LIST_VAL:
    case FEATD__V1__VALUE__KIND_STRING_LIST_VAL:
        put_list(w, v, json);
        break;
    default:
        jsonw_lit(w, "null");
        break;
    }
}

size_t featd_value_format(const Featd__V1__Value *v, int fmt, char *buf, size_t cap)
{
    struct jsonw w;
    jsonw_init_fixed(&w, buf, cap);
    format_value(&w, v, fmt == FEATD_FMT_JSON);
    jsonw_end(&w);
    return w.len;
}

char *featd_value_str(const Featd__V1__Value *v, int fmt)
{
    size_t n = featd_value_format(v, fmt, NULL, 0);
    char *p = malloc(n + 1);
    if (p != NULL) {
        featd_value_format(v, fmt, p, n + 1);
    }
    return p;
}
