/*
 * online_json.c — feature values given as JSON, converted to online values
 * (contract in online_json.h).
 */
#include "online/online_json.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/jsonw.h"
#include "common/textval.h"


/* An integer: a JSON integer, or a real with an integral value in range. */
bool online_json_int(const json_t *j, int64_t min, int64_t max, int64_t *out)
{
    if (json_is_integer(j)) {
        json_int_t v = json_integer_value(j);
        if (v < min || v > max) {
            return false;
        }
        *out = v;
        return true;
    }
    if (json_is_real(j)) {
        double d = json_real_value(j);
        if (!isfinite(d) || d != floor(d) || d < -9223372036854775808.0
            || d >= 9223372036854775808.0) {
            return false;
        }
        int64_t v = (int64_t)d;
        if (v < min || v > max) {
            return false;
        }
        *out = v;
        return true;
    }
    return false;
}

/* A number, or "NaN" / "Infinity" / "-Infinity". */
static bool online_json_double(const json_t *j, double *out)
{
    if (json_is_number(j)) {
        *out = json_number_value(j);
        return true;
    }
    if (json_is_string(j)) {
        const char *s = json_string_value(j);
        if (strcmp(s, "NaN") == 0) {
            *out = NAN;
        } else if (strcmp(s, "Infinity") == 0) {
            *out = INFINITY;
        } else if (strcmp(s, "-Infinity") == 0) {
            *out = -INFINITY;
        } else {
            return false;
        }
        return true;
    }
    return false;
}

static bool online_json_float(const json_t *j, float *out)
{
    double d;
    if (!online_json_double(j, &d)) {
        return false;
    }
    if (isfinite(d) && fabs(d) > FLT_MAX) {
        return false;
    }
    *out = (float)d;
    return true;
}

/* Integer µs, or an ISO-8601 string. */
bool online_json_time(const json_t *j, int64_t *out)
{
    if (json_is_string(j)) {
        return textval_time_parse(json_string_value(j), out) == 0;
    }
    return online_json_int(j, INT64_MIN + 1, INT64_MAX, out);
}

/* j as compact JSON text (a parsed input value, echoed in messages). */
static void online_json_echo(struct jsonw *w, const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        const char *k;
        const json_t *e;
        bool first = true;
        jsonw_char(w, '{');
        json_object_foreach((json_t *)j, k, e) {
            if (!first) {
                jsonw_char(w, ',');
            }
            first = false;
            jsonw_strz(w, k);
            jsonw_char(w, ':');
            online_json_echo(w, e);
        }
        jsonw_char(w, '}');
        break;
    }
    case JSON_ARRAY:
        jsonw_char(w, '[');
        for (size_t i = 0; i < json_array_size(j); i++) {
            if (i > 0) {
                jsonw_char(w, ',');
            }
            online_json_echo(w, json_array_get(j, i));
        }
        jsonw_char(w, ']');
        break;
    case JSON_STRING:
        jsonw_str(w, json_string_value(j), json_string_length(j));
        break;
    case JSON_INTEGER:
        jsonw_i64(w, json_integer_value(j));
        break;
    case JSON_REAL: {
        /* as a real, never as an integer: 2.0 stays "2.0" */
        char num[JSONW_NUM_MAX];
        size_t n = jsonw_fmt_double(num, json_real_value(j));
        jsonw_raw(w, num, n);
        if (strpbrk(num, ".e") == NULL) {     /* JSON input has no NaN or infinity */
            jsonw_lit(w, ".0");
        }
        break;
    }
    case JSON_TRUE:
        jsonw_lit(w, "true");
        break;
    case JSON_FALSE:
        jsonw_lit(w, "false");
        break;
    default:
        jsonw_lit(w, "null");
        break;
    }
}

/* The JSON text of j for messages, shortened to fit buf ("..." at the end
 * when cut). */
const char *online_json_show(const json_t *j, char *buf, size_t cap)
{
    struct jsonw w;
    jsonw_init_fixed(&w, buf, cap);
    online_json_echo(&w, j);
    jsonw_end(&w);
    if (w.len + 1 > cap && cap > 4) {
        memcpy(buf + cap - 4, "...", 4);
    }
    return buf;
}


/* Converts the non-null JSON value j into val, a scalar of type t (bytes
 * decoded from base64 go to sb); why gets the reason. */
static int online_json_scalar(const json_t *j, enum featd_type t, struct online_value *val,
                       struct fbuf *sb, char *why, size_t whylen)
{
    char shown[72];
    memset(val, 0, sizeof *val);
    int64_t i64;
    switch (t) {
    case FT_BOOL:
        if (!json_is_boolean(j)) {
            snprintf(why, whylen, "expected true or false, got %s", online_json_show(j, shown, sizeof shown));
            return FEATD_ERR;
        }
        val->u.b = json_is_true(j);
        return FEATD_OK;
    case FT_INT32:
        if (!online_json_int(j, INT32_MIN, INT32_MAX, &i64)) {
            snprintf(why, whylen, "expected an integer in int32 range, got %s",
                     online_json_show(j, shown, sizeof shown));
            return FEATD_ERR;
        }
        val->u.i32 = (int32_t)i64;
        return FEATD_OK;
    case FT_INT64:
        if (!online_json_int(j, INT64_MIN, INT64_MAX, &val->u.i64)) {
            snprintf(why, whylen, "expected an int64 integer, got %s", online_json_show(j, shown, sizeof shown));
            return FEATD_ERR;
        }
        return FEATD_OK;
    case FT_FLOAT:
        if (!online_json_float(j, &val->u.f)) {
            snprintf(why, whylen, "expected a number in float range, got %s", online_json_show(j, shown, sizeof shown));
            return FEATD_ERR;
        }
        return FEATD_OK;
    case FT_DOUBLE:
        if (!online_json_double(j, &val->u.d)) {
            snprintf(why, whylen, "expected a number, got %s", online_json_show(j, shown, sizeof shown));
            return FEATD_ERR;
        }
        return FEATD_OK;
    case FT_STRING:
        if (!json_is_string(j)) {
            snprintf(why, whylen, "expected a string, got %s", online_json_show(j, shown, sizeof shown));
            return FEATD_ERR;
        }
        val->s = json_string_value(j);
        val->slen = json_string_length(j);
        return FEATD_OK;
    case FT_BYTES:
        if (json_is_string(j)) {
            val->s = json_string_value(j);
            val->slen = json_string_length(j);
            return FEATD_OK;
        }
        if (json_is_object(j) && json_object_size(j) == 1
            && json_is_string(json_object_get(j, "base64"))) {
            const json_t *b = json_object_get(j, "base64");
            size_t blen = json_string_length(b);
            if (fbuf_reserve(sb, TEXTVAL_BASE64_MAX(blen)) != FEATD_OK) {
                snprintf(why, whylen, "out of memory");
                return FEATD_ERR;
            }
            long n = textval_base64_decode(json_string_value(b), blen, (uint8_t *)sb->data + sb->len);
            if (n < 0) {
                snprintf(why, whylen, "invalid base64");
                return FEATD_ERR;
            }
            sb->len += (size_t)n;
            val->s = sb->data;
            val->slen = sb->len;
            return FEATD_OK;
        }
        snprintf(why, whylen, "expected a string or {\"base64\": \"...\"}, got %s", online_json_show(j, shown, sizeof shown));
        return FEATD_ERR;
    case FT_TIMESTAMP:
        if (!online_json_time(j, &val->u.i64)) {
            snprintf(why, whylen, "expected integer microseconds or an ISO-8601 time like "
                     "\"2026-11-21T10:00:00Z\", got %s", online_json_show(j, shown, sizeof shown));
            return FEATD_ERR;
        }
        return FEATD_OK;
    default:
        snprintf(why, whylen, "not a scalar type");
        return FEATD_ERR;
    }
}

/* Converts list j of type t into val (packed into sb): each element as
 * the scalar of the list's element type. */
static int online_json_list(const json_t *j, enum featd_type t, struct online_value *val,
                     struct fbuf *sb, char *why, size_t whylen)
{
    if (!json_is_array(j)) {
        snprintf(why, whylen, "expected an array, got %s", config_json_kind(j));
        return FEATD_ERR;
    }
    size_t n = json_array_size(j);
    if (n > ONLINE_MAX_LIST) {
        snprintf(why, whylen, "list of %zu elements exceeds the limit of %u", n, ONLINE_MAX_LIST);
        return FEATD_ERR;
    }
    enum featd_type et = t == FT_FLOAT_LIST ? FT_FLOAT
                         : t == FT_DOUBLE_LIST ? FT_DOUBLE
                         : t == FT_INT64_LIST ? FT_INT64 : FT_STRING;
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(j, i);
        if (json_is_null(e)) {
            snprintf(why, whylen, "element %zu is null (lists cannot hold nulls)", i);
            return FEATD_ERR;
        }
        struct online_value x;
        int off = snprintf(why, whylen, "element %zu: ", i);   /* kept on failure */
        if (off < 0 || (size_t)off >= whylen) {
            off = 0;
        }
        if (online_json_scalar(e, et, &x, NULL, why + off, whylen - (size_t)off) != FEATD_OK) {
            return FEATD_ERR;
        }
        int rc = et == FT_FLOAT ? online_row_list_put_float(sb, x.u.f)
                 : et == FT_DOUBLE ? online_row_list_put_double(sb, x.u.d)
                 : et == FT_INT64 ? online_row_list_put_int64(sb, x.u.i64)
                 : online_row_list_put_string(sb, x.s, x.slen);
        if (rc != FEATD_OK) {
            snprintf(why, whylen, "out of memory");
            return FEATD_ERR;
        }
    }
    val->count = (uint32_t)n;
    val->raw = (const uint8_t *)sb->data;
    val->rawlen = sb->len;
    return FEATD_OK;
}

/* Converts the JSON value of feature f into val; why gets the reason. */
int online_json_feature(const json_t *j, const struct cfg_feature *f, struct online_value *val,
                        struct fbuf *sb, char *why, size_t whylen)
{
    memset(val, 0, sizeof *val);
    fbuf_reset(sb);
    if (j == NULL || json_is_null(j)) {
        val->is_null = true;
        return FEATD_OK;
    }
    if (config_type_is_list(f->type)) {
        return online_json_list(j, f->type, val, sb, why, whylen);
    }
    return online_json_scalar(j, f->type, val, sb, why, whylen);
}

/* ---- online values as JSON ---- */

/* A string value up to its first NUL byte: what a protobuf-c client reads
 * of it (libfeatd, featd-cli), so both lookups agree byte for byte. */
static void online_json_write_string(struct jsonw *j, const char *s, size_t n)
{
    jsonw_str(j, s, n ? strnlen(s, n) : 0);
}

/* One cell: a value of type t as decoded from a row (NULL = null). */
void online_json_write_value(struct jsonw *j, enum featd_type t, const struct online_value *v)
{
    if (v == NULL) {
        jsonw_lit(j, "null");
        return;
    }
    switch (t) {
    case FT_BOOL:
        jsonw_lit(j, v->u.b ? "true" : "false");
        return;
    case FT_INT32:
        jsonw_i64(j, v->u.i32);
        return;
    case FT_INT64:
        jsonw_i64(j, v->u.i64);
        return;
    case FT_FLOAT:
        jsonw_float(j, v->u.f);
        return;
    case FT_DOUBLE:
        jsonw_double(j, v->u.d);
        return;
    case FT_STRING:
        online_json_write_string(j, v->s, v->slen);
        return;
    case FT_BYTES:
        jsonw_base64(j, v->s, v->slen);
        return;
    case FT_TIMESTAMP:
        jsonw_time(j, v->u.i64);
        return;
    case FT_FLOAT_LIST:
    case FT_DOUBLE_LIST:
    case FT_INT64_LIST:
        jsonw_char(j, '[');
        for (uint32_t i = 0; i < v->count; i++) {
            if (i) {
                jsonw_char(j, ',');
            }
            if (t == FT_FLOAT_LIST) {
                jsonw_float(j, online_row_list_float(v, i));
            } else if (t == FT_DOUBLE_LIST) {
                jsonw_double(j, online_row_list_double(v, i));
            } else {
                jsonw_i64(j, online_row_list_int64(v, i));
            }
        }
        jsonw_char(j, ']');
        return;
    case FT_STRING_LIST: {
        const uint8_t *cur = v->raw, *end = v->raw + v->rawlen;
        const char *s;
        size_t n;
        jsonw_char(j, '[');
        for (uint32_t i = 0; i < v->count && online_row_list_next_string(&cur, end, &s, &n) == FEATD_OK; i++) {
            if (i) {
                jsonw_char(j, ',');
            }
            online_json_write_string(j, s, n);
        }
        jsonw_char(j, ']');
        return;
    }
    default:
        jsonw_lit(j, "null");
        return;
    }
}
