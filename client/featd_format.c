/*
 * featd_format.c — libfeatd's response helpers: names of statuses, error
 * codes, bodies and value kinds, bounds-checked accessors, value formatting
 * (JSON and text, written with common/jsonw.h) and RFC 3339 timestamps
 * (format and parse). API in featd_client.h; everything here is pure and
 * thread-safe.
 */
#include "featd_client.h"

#include <stdlib.h>
#include <string.h>

#include "common/jsonw.h"

/* ---- names ---- */

const char *featd_status_name(int status)
{
    switch (status) {
    case FEATD__V1__FIELD_STATUS__INVALID: return "INVALID";
    case FEATD__V1__FIELD_STATUS__PRESENT: return "PRESENT";
    case FEATD__V1__FIELD_STATUS__NULL_VALUE: return "NULL_VALUE";
    case FEATD__V1__FIELD_STATUS__NOT_FOUND: return "NOT_FOUND";
    case FEATD__V1__FIELD_STATUS__OUTSIDE_MAX_AGE: return "OUTSIDE_MAX_AGE";
    default: return "?";
    }
}

const char *featd_error_code_name(int code)
{
    switch (code) {
    case FEATD__V1__ERROR_CODE__OK: return "OK";
    case FEATD__V1__ERROR_CODE__INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case FEATD__V1__ERROR_CODE__UNAVAILABLE: return "UNAVAILABLE";
    case FEATD__V1__ERROR_CODE__DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case FEATD__V1__ERROR_CODE__INTERNAL: return "INTERNAL";
    default: return "UNKNOWN_ERROR_CODE";
    }
}

const char *featd_body_name(int body_case)
{
    switch (body_case) {
    case FEATD__V1__RESPONSE__BODY__NOT_SET: return "none";
    case FEATD__V1__RESPONSE__BODY_ERROR: return "error";
    case FEATD__V1__RESPONSE__BODY_GET_ONLINE_FEATURES: return "get_online_features";
    case FEATD__V1__RESPONSE__BODY_PING: return "ping";
    case FEATD__V1__RESPONSE__BODY_LIST_FEATURE_VIEWS: return "list_feature_views";
    case FEATD__V1__RESPONSE__BODY_SERVER_INFO: return "server_info";
    default: return "unknown";
    }
}

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

/* ---- response accessors ---- */

int featd_resp_feature_index(const Featd__V1__GetOnlineFeaturesResponse *r, const char *name)
{
    if (r == NULL || name == NULL) {
        return -1;
    }
    for (size_t i = 0; i < r->n_feature_names; i++) {
        if (r->feature_names[i] != NULL && strcmp(r->feature_names[i], name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

static const Featd__V1__FeatureVector *result_at(const Featd__V1__GetOnlineFeaturesResponse *r,
                                                 size_t feature)
{
    if (r == NULL || feature >= r->n_results) {
        return NULL;
    }
    return r->results[feature];
}

const Featd__V1__Value *featd_resp_value(const Featd__V1__GetOnlineFeaturesResponse *r,
                                         size_t feature, size_t row)
{
    const Featd__V1__FeatureVector *fv = result_at(r, feature);
    return fv != NULL && row < fv->n_values ? fv->values[row] : NULL;
}

int featd_resp_status(const Featd__V1__GetOnlineFeaturesResponse *r, size_t feature, size_t row)
{
    const Featd__V1__FeatureVector *fv = result_at(r, feature);
    return fv != NULL && row < fv->n_statuses ? (int)fv->statuses[row] : -1;
}

int64_t featd_resp_event_ts(const Featd__V1__GetOnlineFeaturesResponse *r, size_t feature,
                            size_t row)
{
    const Featd__V1__FeatureVector *fv = result_at(r, feature);
    return fv != NULL && row < fv->n_event_timestamps_us ? fv->event_timestamps_us[row] : 0;
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

/* Opens a list of n items; returns how many to print. */
static size_t list_open(struct jsonw *w, size_t n, bool json)
{
    jsonw_char(w, '[');
    return json || n <= TEXT_LIST_MAX ? n : TEXT_LIST_MAX;
}

static void list_sep(struct jsonw *w, size_t i, bool json)
{
    if (i > 0) {
        jsonw_lit(w, json ? "," : ", ");
    }
}

static void list_close(struct jsonw *w, size_t shown, size_t n)
{
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
    case FEATD__V1__VALUE__KIND_FLOAT_LIST_VAL: {
        const Featd__V1__FloatList *l = v->float_list_val;
        size_t n = l ? l->n_val : 0;
        size_t shown = list_open(w, n, json);
        for (size_t i = 0; i < shown; i++) {
            list_sep(w, i, json);
            put_float(w, l->val[i], json);
        }
        list_close(w, shown, n);
        break;
    }
    case FEATD__V1__VALUE__KIND_DOUBLE_LIST_VAL: {
        const Featd__V1__DoubleList *l = v->double_list_val;
        size_t n = l ? l->n_val : 0;
        size_t shown = list_open(w, n, json);
        for (size_t i = 0; i < shown; i++) {
            list_sep(w, i, json);
            put_double(w, l->val[i], json);
        }
        list_close(w, shown, n);
        break;
    }
    case FEATD__V1__VALUE__KIND_INT64_LIST_VAL: {
        const Featd__V1__Int64List *l = v->int64_list_val;
        size_t n = l ? l->n_val : 0;
        size_t shown = list_open(w, n, json);
        for (size_t i = 0; i < shown; i++) {
            list_sep(w, i, json);
            jsonw_i64(w, l->val[i]);
        }
        list_close(w, shown, n);
        break;
    }
    case FEATD__V1__VALUE__KIND_STRING_LIST_VAL: {
        const Featd__V1__StringList *l = v->string_list_val;
        size_t n = l ? l->n_val : 0;
        size_t shown = list_open(w, n, json);
        for (size_t i = 0; i < shown; i++) {
            list_sep(w, i, json);
            put_string(w, l->val[i], true);     /* quoted in text too */
        }
        list_close(w, shown, n);
        break;
    }
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

/* ---- timestamps ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) {
        q--;
    }
    return q;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (400-year eras of
 * 146097 days, years counted from March so leap days fall at the end). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;                                   /* 0..399 */
    int64_t mp = m > 2 ? m - 3 : m + 9;                            /* March = 0 */
    int64_t doy = (153 * mp + 2) / 5 + d - 1;                      /* 0..365 */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* 0..146096 */
    return era * 146097 + doe - 719468;
}

size_t featd_time_format(int64_t us, char *buf, size_t cap)
{
    char t[JSONW_TIME_MAX];
    struct jsonw w;
    jsonw_init_fixed(&w, buf, cap);
    jsonw_raw(&w, t, jsonw_fmt_time(t, us, JSONW_FRAC_AUTO));
    jsonw_end(&w);
    return w.len;
}

/* Exactly n decimal digits at *p; advances *p. */
static bool digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char ch = (*p)[i];
        if (ch < '0' || ch > '9') {
            return false;
        }
        v = v * 10 + (ch - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static int days_in_month(int y, int m)
{
    static const int dm[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

int featd_time_parse(const char *s, int64_t *us)
{
    if (s == NULL || us == NULL) {
        return FEATD_ERR;
    }
    const char *p = s;
    int y, mo, d, h = 0, mi = 0, sec = 0;
    int64_t frac_us = 0;
    if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-'
        || !digits(&p, 2, &d)) {
        return FEATD_ERR;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo)) {
        return FEATD_ERR;
    }
    int64_t offset_s = 0;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi)) {
            return FEATD_ERR;
        }
        if (*p == ':') {
            p++;
            if (!digits(&p, 2, &sec)) {
                return FEATD_ERR;
            }
        }
        if (h > 23 || mi > 59 || sec > 60) {
            return FEATD_ERR;
        }
        if (*p == '.' || *p == ',') {
            p++;
            int nd = 0;
            int64_t scale = 100000;
            while (*p >= '0' && *p <= '9') {
                if (nd < 6) {
                    frac_us += (*p - '0') * scale;
                    scale /= 10;
                }
                nd++;
                p++;
            }
            if (nd == 0 || nd > 9) {
                return FEATD_ERR;
            }
        }
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p == '-' ? -1 : 1;
            int oh, om = 0;
            p++;
            if (!digits(&p, 2, &oh)) {
                return FEATD_ERR;
            }
            if (*p == ':') {
                p++;
                if (!digits(&p, 2, &om)) {
                    return FEATD_ERR;
                }
            } else if (*p >= '0' && *p <= '9') {
                if (!digits(&p, 2, &om)) {
                    return FEATD_ERR;
                }
            }
            if (oh > 23 || om > 59) {
                return FEATD_ERR;
            }
            offset_s = sign * (oh * 3600 + om * 60);
        }
    }
    if (*p != '\0') {
        return FEATD_ERR;
    }
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset_s;
    *us = secs * 1000000 + frac_us;
    return FEATD_OK;
}
