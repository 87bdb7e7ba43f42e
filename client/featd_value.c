/*
 * featd_value.c — libfeatd, printing a featd.v1.Value: featd_value_format
 * and featd_value_str (JSON or text, written with common/jsonw.h) and
 * featd_value_kind_name; and owned deep copies of one (featd_value_dup,
 * featd_value_free), how the request builders featd_get.c and featd_write.c
 * keep their values. API in featd_client.h; pure and thread-safe.
 */
#include "featd_client.h"

#include <stdlib.h>
#include <string.h>

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

/* ---- owned copies (featd_value_dup / featd_value_free) ---- */

void featd_value_free(Featd__V1__Value *v)
{
    if (v == NULL) {
        return;
    }
    switch (v->kind_case) {
    case FEATD__V1__VALUE__KIND_STRING_VAL:
        free(v->string_val);
        break;
    case FEATD__V1__VALUE__KIND_BYTES_VAL:
        free(v->bytes_val.data);
        break;
    case FEATD__V1__VALUE__KIND_FLOAT_LIST_VAL:
        if (v->float_list_val != NULL) {
            free(v->float_list_val->val);
            free(v->float_list_val);
        }
        break;
    case FEATD__V1__VALUE__KIND_DOUBLE_LIST_VAL:
        if (v->double_list_val != NULL) {
            free(v->double_list_val->val);
            free(v->double_list_val);
        }
        break;
    case FEATD__V1__VALUE__KIND_INT64_LIST_VAL:
        if (v->int64_list_val != NULL) {
            free(v->int64_list_val->val);
            free(v->int64_list_val);
        }
        break;
    case FEATD__V1__VALUE__KIND_STRING_LIST_VAL:
        if (v->string_list_val != NULL) {
            for (size_t i = 0; i < v->string_list_val->n_val; i++) {
                free(v->string_list_val->val[i]);
            }
            free(v->string_list_val->val);
            free(v->string_list_val);
        }
        break;
    default:
        break;
    }
    free(v);
}

/* Copies n elements of size sz (NULL when n == 0); *ok = false on OOM. */
static void *dup_array(const void *p, size_t n, size_t sz, bool *ok)
{
    if (n == 0 || p == NULL) {
        return NULL;
    }
    if (n > SIZE_MAX / sz) {
        *ok = false;
        return NULL;
    }
    void *q = malloc(n * sz);
    if (q == NULL) {
        *ok = false;
        return NULL;
    }
    memcpy(q, p, n * sz);
    return q;
}

static char *dup_str(const char *s, bool *ok)
{
    char *d = strdup(s ? s : "");
    if (d == NULL) {
        *ok = false;
    }
    return d;
}

Featd__V1__Value *featd_value_dup(const Featd__V1__Value *src)
{
    Featd__V1__Value *v = malloc(sizeof *v);
    if (v == NULL) {
        return NULL;
    }
    featd__v1__value__init(v);
    bool ok = true;
    v->kind_case = src->kind_case;
    switch (src->kind_case) {
    case FEATD__V1__VALUE__KIND_BOOL_VAL:
        v->bool_val = src->bool_val;
        break;
    case FEATD__V1__VALUE__KIND_INT32_VAL:
        v->int32_val = src->int32_val;
        break;
    case FEATD__V1__VALUE__KIND_INT64_VAL:
        v->int64_val = src->int64_val;
        break;
    case FEATD__V1__VALUE__KIND_FLOAT_VAL:
        v->float_val = src->float_val;
        break;
    case FEATD__V1__VALUE__KIND_DOUBLE_VAL:
        v->double_val = src->double_val;
        break;
    case FEATD__V1__VALUE__KIND_TIMESTAMP_US_VAL:
        v->timestamp_us_val = src->timestamp_us_val;
        break;
    case FEATD__V1__VALUE__KIND_STRING_VAL:
        v->string_val = dup_str(src->string_val, &ok);
        break;
    case FEATD__V1__VALUE__KIND_BYTES_VAL:
        v->bytes_val.len = src->bytes_val.len;
        v->bytes_val.data = dup_array(src->bytes_val.data, src->bytes_val.len, 1, &ok);
        if (v->bytes_val.data == NULL) {
            v->bytes_val.len = 0;
        }
        break;
    case FEATD__V1__VALUE__KIND_FLOAT_LIST_VAL: {
        Featd__V1__FloatList *l = malloc(sizeof *l);
        if (l == NULL) {
            ok = false;
            v->kind_case = FEATD__V1__VALUE__KIND__NOT_SET;
            break;
        }
        featd__v1__float_list__init(l);
        if (src->float_list_val != NULL) {
            l->val = dup_array(src->float_list_val->val, src->float_list_val->n_val,
                               sizeof(float), &ok);
            l->n_val = l->val ? src->float_list_val->n_val : 0;
        }
        v->float_list_val = l;
        break;
    }
    case FEATD__V1__VALUE__KIND_DOUBLE_LIST_VAL: {
        Featd__V1__DoubleList *l = malloc(sizeof *l);
        if (l == NULL) {
            ok = false;
            v->kind_case = FEATD__V1__VALUE__KIND__NOT_SET;
            break;
        }
        featd__v1__double_list__init(l);
        if (src->double_list_val != NULL) {
            l->val = dup_array(src->double_list_val->val, src->double_list_val->n_val,
                               sizeof(double), &ok);
            l->n_val = l->val ? src->double_list_val->n_val : 0;
        }
        v->double_list_val = l;
        break;
    }
    case FEATD__V1__VALUE__KIND_INT64_LIST_VAL: {
        Featd__V1__Int64List *l = malloc(sizeof *l);
        if (l == NULL) {
            ok = false;
            v->kind_case = FEATD__V1__VALUE__KIND__NOT_SET;
            break;
        }
        featd__v1__int64_list__init(l);
        if (src->int64_list_val != NULL) {
            l->val = dup_array(src->int64_list_val->val, src->int64_list_val->n_val,
                               sizeof(int64_t), &ok);
            l->n_val = l->val ? src->int64_list_val->n_val : 0;
        }
        v->int64_list_val = l;
        break;
    }
    case FEATD__V1__VALUE__KIND_STRING_LIST_VAL: {
        Featd__V1__StringList *l = malloc(sizeof *l);
        if (l == NULL) {
            ok = false;
            v->kind_case = FEATD__V1__VALUE__KIND__NOT_SET;
            break;
        }
        featd__v1__string_list__init(l);
        v->string_list_val = l;
        const Featd__V1__StringList *sl = src->string_list_val;
        if (sl != NULL && sl->n_val > 0) {
            l->val = calloc(sl->n_val, sizeof(char *));
            if (l->val == NULL) {
                ok = false;
                break;
            }
            for (size_t i = 0; i < sl->n_val && ok; i++) {
                l->val[i] = dup_str(sl->val[i], &ok);
                l->n_val = i + 1;
            }
        }
        break;
    }
    default:
        v->kind_case = FEATD__V1__VALUE__KIND__NOT_SET;
        break;
    }
    if (!ok) {
        featd_value_free(v);
        return NULL;
    }
    return v;
}
