/*
 * cli_rows.c — the JSON-line row format shared by `featd-cli load` (straight
 * into Redis, cli_load.c) and `featd-cli push` (through featd's
 * WriteFeatures, cli_push.c): reading lines, parsing one into a row of a
 * view (join keys, event and created time, features typed by the view's
 * schema), with a message naming the field on any error. The format is
 * documented in docs/cli.md (`load`). Single-threaded (the CLI's).
 */
#include "cli/cli_rows.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonw.h"
#include "featd_client.h"

int cli_row_init(struct cli_row *r, const struct cfg_view *v)
{
    memset(r, 0, sizeof *r);
    r->keys = calloc(v->nkeys ? v->nkeys : 1, sizeof *r->keys);
    r->vals = calloc(v->nfeatures ? v->nfeatures : 1, sizeof *r->vals);
    r->scratch = calloc(v->nfeatures ? v->nfeatures : 1, sizeof *r->scratch);
    return r->keys && r->vals && r->scratch ? FEATD_OK : FEATD_ERR;
}

void cli_row_free(struct cli_row *r, const struct cfg_view *v)
{
    if (r->scratch != NULL) {
        for (size_t i = 0; i < v->nfeatures; i++) {
            fbuf_free(&r->scratch[i]);
        }
    }
    free(r->scratch);
    free(r->keys);
    free(r->vals);
}

/* ---- JSON value conversion ---- */

/* An integer: a JSON integer, or a real with an integral value in range. */
static bool get_int(const json_t *j, int64_t min, int64_t max, int64_t *out)
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
static bool get_double(const json_t *j, double *out)
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

static bool get_float(const json_t *j, float *out)
{
    double d;
    if (!get_double(j, &d)) {
        return false;
    }
    if (isfinite(d) && fabs(d) > FLT_MAX) {
        return false;
    }
    *out = (float)d;
    return true;
}

/* Integer µs, or an ISO-8601 string. */
static bool get_time(const json_t *j, int64_t *out)
{
    if (json_is_string(j)) {
        return featd_time_parse(json_string_value(j), out) == FEATD_OK;
    }
    return get_int(j, INT64_MIN + 1, INT64_MAX, out);
}

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

/* Standard or URL-safe base64, padding optional. */
static bool b64_decode(const char *s, size_t n, struct fbuf *out)
{
    while (n > 0 && s[n - 1] == '=') {
        n--;
    }
    if (n % 4 == 1) {
        return false;
    }
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64val((unsigned char)s[i]);
        if (v < 0) {
            return false;
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (fbuf_putc(out, (char)((acc >> bits) & 0xFF)) != FEATD_OK) {
                return false;
            }
        }
    }
    return true;
}

/* j as compact JSON text (a parsed input value, echoed in messages). */
static void show_json(struct jsonw *w, const json_t *j)
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
            show_json(w, e);
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
            show_json(w, json_array_get(j, i));
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
static const char *show(const json_t *j, char *buf, size_t cap)
{
    struct jsonw w;
    jsonw_init_fixed(&w, buf, cap);
    show_json(&w, j);
    jsonw_end(&w);
    if (w.len + 1 > cap && cap > 4) {
        memcpy(buf + cap - 4, "...", 4);
    }
    return buf;
}


/* Converts the non-null JSON value j into val, a scalar of type t (bytes
 * decoded from base64 go to sb); why gets the reason. */
static int conv_scalar(const json_t *j, enum featd_type t, struct online_value *val,
                       struct fbuf *sb, char *why, size_t whylen)
{
    char shown[72];
    memset(val, 0, sizeof *val);
    int64_t i64;
    switch (t) {
    case FT_BOOL:
        if (!json_is_boolean(j)) {
            snprintf(why, whylen, "expected true or false, got %s", show(j, shown, sizeof shown));
            return FEATD_ERR;
        }
        val->u.b = json_is_true(j);
        return FEATD_OK;
    case FT_INT32:
        if (!get_int(j, INT32_MIN, INT32_MAX, &i64)) {
            snprintf(why, whylen, "expected an integer in int32 range, got %s",
                     show(j, shown, sizeof shown));
            return FEATD_ERR;
        }
        val->u.i32 = (int32_t)i64;
        return FEATD_OK;
    case FT_INT64:
        if (!get_int(j, INT64_MIN, INT64_MAX, &val->u.i64)) {
            snprintf(why, whylen, "expected an int64 integer, got %s", show(j, shown, sizeof shown));
            return FEATD_ERR;
        }
        return FEATD_OK;
    case FT_FLOAT:
        if (!get_float(j, &val->u.f)) {
            snprintf(why, whylen, "expected a number in float range, got %s", show(j, shown, sizeof shown));
            return FEATD_ERR;
        }
        return FEATD_OK;
    case FT_DOUBLE:
        if (!get_double(j, &val->u.d)) {
            snprintf(why, whylen, "expected a number, got %s", show(j, shown, sizeof shown));
            return FEATD_ERR;
        }
        return FEATD_OK;
    case FT_STRING:
        if (!json_is_string(j)) {
            snprintf(why, whylen, "expected a string, got %s", show(j, shown, sizeof shown));
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
            if (!b64_decode(json_string_value(b), json_string_length(b), sb)) {
                snprintf(why, whylen, "invalid base64");
                return FEATD_ERR;
            }
            val->s = sb->data ? sb->data : "";
            val->slen = sb->len;
            return FEATD_OK;
        }
        snprintf(why, whylen, "expected a string or {\"base64\": \"...\"}, got %s", show(j, shown, sizeof shown));
        return FEATD_ERR;
    case FT_TIMESTAMP:
        if (!get_time(j, &val->u.i64)) {
            snprintf(why, whylen, "expected integer microseconds or an ISO-8601 time like "
                     "\"2026-11-21T10:00:00Z\", got %s", show(j, shown, sizeof shown));
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
static int conv_list(const json_t *j, enum featd_type t, struct online_value *val,
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
        if (conv_scalar(e, et, &x, NULL, why + off, whylen - (size_t)off) != FEATD_OK) {
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
static int conv_feature(const json_t *j, const struct cfg_feature *f, struct online_value *val,
                        struct fbuf *sb, char *why, size_t whylen)
{
    memset(val, 0, sizeof *val);
    fbuf_reset(sb);
    if (j == NULL || json_is_null(j)) {
        val->is_null = true;
        return FEATD_OK;
    }
    if (config_type_is_list(f->type)) {
        return conv_list(j, f->type, val, sb, why, whylen);
    }
    return conv_scalar(j, f->type, val, sb, why, whylen);
}

static bool is_event_name(const struct cfg_view *v, const char *k)
{
    return strcmp(k, "event_timestamp") == 0
           || (v->event_ts_column != NULL && strcmp(k, v->event_ts_column) == 0);
}

static bool is_created_name(const struct cfg_view *v, const char *k)
{
    return strcmp(k, "created_timestamp") == 0
           || (v->created_ts_column != NULL && strcmp(k, v->created_ts_column) == 0);
}

int cli_row_convert(const struct cfg_view *v, json_t *obj, struct cli_row *r, char *err,
                    size_t errlen)
{
    char why[256];
    char shown[72];
    if (!json_is_object(obj)) {
        snprintf(err, errlen, "expected a JSON object, got %s", config_json_kind(obj));
        return FEATD_ERR;
    }
    /* unknown fields */
    const char *k;
    json_t *jv;
    json_object_foreach(obj, k, jv) {
        bool known = is_event_name(v, k) || is_created_name(v, k)
                     || config_feature_index(v, k, strlen(k)) >= 0;
        for (size_t i = 0; i < v->nkeys && !known; i++) {
            known = strcmp(v->keys[i].name, k) == 0;
        }
        if (!known) {
            snprintf(err, errlen, "unknown field \"%s\" (not a join key, feature, "
                     "event_timestamp or created_timestamp of view %s)", k, v->name);
            return FEATD_ERR;
        }
    }
    for (size_t i = 0; i < v->nkeys; i++) {
        const json_t *j = json_object_get(obj, v->keys[i].name);
        memset(&r->keys[i], 0, sizeof r->keys[i]);
        if (j == NULL || json_is_null(j)) {
            snprintf(err, errlen, "missing join key %s", v->keys[i].name);
            return FEATD_ERR;
        }
        if (v->keys[i].type == FT_INT64) {
            if (!get_int(j, INT64_MIN, INT64_MAX, &r->keys[i].i)) {
                snprintf(err, errlen, "join key %s: expected an int64 integer, got %s",
                         v->keys[i].name, show(j, shown, sizeof shown));
                return FEATD_ERR;
            }
        } else {
            if (!json_is_string(j)) {
                snprintf(err, errlen, "join key %s: expected a string, got %s",
                         v->keys[i].name, show(j, shown, sizeof shown));
                return FEATD_ERR;
            }
            r->keys[i].s = json_string_value(j);
            r->keys[i].slen = json_string_length(j);
        }
    }
    const json_t *ev = NULL, *cr = NULL;
    const char *evname = "event_timestamp", *crname = "created_timestamp";
    json_object_foreach(obj, k, jv) {
        if (is_event_name(v, k)) {
            if (ev != NULL) {
                snprintf(err, errlen, "event time given twice (%s and %s)", evname, k);
                return FEATD_ERR;
            }
            ev = jv;
            evname = k;
        } else if (is_created_name(v, k)) {
            if (cr != NULL) {
                snprintf(err, errlen, "created time given twice (%s and %s)", crname, k);
                return FEATD_ERR;
            }
            cr = jv;
            crname = k;
        }
    }
    if (ev == NULL || json_is_null(ev)) {
        snprintf(err, errlen, "missing event_timestamp");
        return FEATD_ERR;
    }
    if (!get_time(ev, &r->event_ts)) {
        snprintf(err, errlen, "%s: expected integer microseconds or an ISO-8601 time like "
                 "\"2026-11-21T10:00:00Z\", got %s", evname, show(ev, shown, sizeof shown));
        return FEATD_ERR;
    }
    r->created_ts = ONLINE_NO_CREATED_TS;
    if (cr != NULL && !json_is_null(cr) && !get_time(cr, &r->created_ts)) {
        snprintf(err, errlen, "%s: expected integer microseconds or an ISO-8601 time, got %s",
                 crname, show(cr, shown, sizeof shown));
        return FEATD_ERR;
    }
    for (size_t i = 0; i < v->nfeatures; i++) {
        const struct cfg_feature *f = &v->features[i];
        if (conv_feature(json_object_get(obj, f->name), f, &r->vals[i], &r->scratch[i], why,
                         sizeof why) != FEATD_OK) {
            snprintf(err, errlen, "feature %s (%s): %s", f->name, config_type_name(f->type), why);
            return FEATD_ERR;
        }
    }
    return FEATD_OK;
}

/* ---- input ---- */

int cli_read_line(FILE *in, struct fbuf *line)
{
    fbuf_reset(line);
    bool any = false, too_long = false;
    char chunk[65536];
    while (fgets(chunk, sizeof chunk, in) != NULL) {
        any = true;
        size_t n = strlen(chunk);
        bool eol = n > 0 && chunk[n - 1] == '\n';
        if (eol) {
            n--;
        }
        if (!too_long) {
            if (line->len + n > CLI_ROWS_MAX_LINE) {
                too_long = true;
            } else if (fbuf_append(line, chunk, n) != FEATD_OK) {
                return -2;
            }
        }
        if (eol) {
            break;
        }
    }
    if (ferror(in)) {
        return -2;
    }
    if (!any) {
        return 0;
    }
    if (line->len > 0 && line->data[line->len - 1] == '\r') {
        line->data[--line->len] = '\0';
    }
    return too_long ? -1 : 1;
}

bool cli_line_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') {
            return false;
        }
    }
    return true;
}

int cli_row_parse(const struct cfg_view *v, const char *text, size_t len, json_t **obj,
                  struct cli_row *r, char *err, size_t errlen)
{
    json_error_t jerr;
    *obj = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (*obj == NULL) {
        snprintf(err, errlen, "invalid JSON at column %d: %s", jerr.column, jerr.text);
        return FEATD_ERR;
    }
    if (cli_row_convert(v, *obj, r, err, errlen) != FEATD_OK) {
        json_decref(*obj);
        *obj = NULL;
        return FEATD_ERR;
    }
    return FEATD_OK;
}
