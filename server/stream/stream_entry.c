/*
 * stream_entry.c — a stream entry's text fields into a row (contract in
 * stream_entry.h). Lists go through online_json (the one JSON value
 * converter); expect rules through online_expect.
 */
#include "stream/stream_entry.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/textval.h"
#include "online/online_expect.h"
#include "online/online_json.h"

#define STREAM_NUM_MAX 64           /* longest number text accepted */
#define STREAM_MAX_KEYS 64         /* join keys of a view (the config allows 64) */
#define STREAM_SHOW 48              /* bytes of a bad value quoted in a reason */

/* t[0..n) as a NUL-terminated copy in buf (cap bytes); false when too long. */
static bool stream_entry_cstr(const char *t, size_t n, char *buf, size_t cap)
{
    if (n >= cap || memchr(t, '\0', n) != NULL) {
        return false;
    }
    memcpy(buf, t, n);
    buf[n] = '\0';
    return true;
}

/* A decimal integer in [min, max], the whole text. */
static bool stream_entry_int(const char *t, size_t n, int64_t min, int64_t max, int64_t *out)
{
    char buf[STREAM_NUM_MAX];
    if (n == 0 || !stream_entry_cstr(t, n, buf, sizeof buf)) {
        return false;
    }
    char *end;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno != 0 || *end != '\0' || end == buf || buf[0] == ' ' || buf[0] == '+' || v < min ||
        v > max) {
        return false;
    }
    *out = v;
    return true;
}

/* A decimal number, or NaN / Infinity / -Infinity, the whole text. */
static bool stream_entry_double(const char *t, size_t n, double *out)
{
    char buf[STREAM_NUM_MAX];
    if (n == 0 || !stream_entry_cstr(t, n, buf, sizeof buf)) {
        return false;
    }
    if (strcmp(buf, "NaN") == 0) {
        *out = NAN;
        return true;
    }
    if (strcmp(buf, "Infinity") == 0 || strcmp(buf, "-Infinity") == 0) {
        *out = buf[0] == '-' ? -INFINITY : INFINITY;
        return true;
    }
    /* strtod also reads hex, "inf" and "nan(...)": decimal digits only */
    for (size_t i = 0; i < n; i++) {
        if (strchr("0123456789+-.eE", buf[i]) == NULL) {
            return false;
        }
    }
    char *end;
    errno = 0;
    double d = strtod(buf, &end);
    if (*end != '\0' || end == buf || (errno == ERANGE && isinf(d))) {
        return false;
    }
    *out = d;
    return true;
}

/* Integer µs or RFC 3339. */
static bool stream_entry_time(const char *t, size_t n, int64_t *out)
{
    if (stream_entry_int(t, n, INT64_MIN + 1, INT64_MAX, out)) {
        return true;
    }
    char buf[STREAM_NUM_MAX];
    return stream_entry_cstr(t, n, buf, sizeof buf) && textval_time_parse(buf, out) == 0;
}

/* "…" + up to STREAM_SHOW bytes of t for a reason. */
static const char *stream_entry_show(const char *t, size_t n, char *buf, size_t cap)
{
    size_t k = n > STREAM_SHOW ? STREAM_SHOW : n;
    snprintf(buf, cap, "\"%.*s\"%s", (int)k, t, n > k ? "..." : "");
    for (char *p = buf; *p; p++) {
        if ((unsigned char)*p < 0x20) {
            *p = '?';
        }
    }
    return buf;
}

/* Feature f's text into val (lists and bytes into sb). */
static int stream_entry_feature(const struct cfg_feature *f, const char *t, size_t n,
                                struct online_value *val, struct fbuf *sb, char *why, size_t whylen)
{
    memset(val, 0, sizeof *val);
    fbuf_reset(sb);
    int64_t i;
    double d;
    switch (f->type) {
    case FT_BOOL:
        if (n == 4 && memcmp(t, "true", 4) == 0) {
            val->u.b = true;
            return FEATD_OK;
        }
        if (n == 5 && memcmp(t, "false", 5) == 0) {
            val->u.b = false;
            return FEATD_OK;
        }
        snprintf(why, whylen, "expected true or false");
        return FEATD_ERR;
    case FT_INT32:
        if (!stream_entry_int(t, n, INT32_MIN, INT32_MAX, &i)) {
            snprintf(why, whylen, "expected a decimal integer in int32 range");
            return FEATD_ERR;
        }
        val->u.i32 = (int32_t)i;
        return FEATD_OK;
    case FT_INT64:
        if (!stream_entry_int(t, n, INT64_MIN, INT64_MAX, &val->u.i64)) {
            snprintf(why, whylen, "expected a decimal int64 integer");
            return FEATD_ERR;
        }
        return FEATD_OK;
    case FT_FLOAT:
    case FT_DOUBLE:
        if (!stream_entry_double(t, n, &d) || (f->type == FT_FLOAT && isfinite(d) && fabs(d) > 3.4028234663852886e38)) {
            snprintf(why, whylen, "expected a decimal number%s", f->type == FT_FLOAT ? " in float range" : "");
            return FEATD_ERR;
        }
        if (f->type == FT_FLOAT) {
            val->u.f = (float)d;
        } else {
            val->u.d = d;
        }
        return FEATD_OK;
    case FT_STRING:
        val->s = t;
        val->slen = n;
        return FEATD_OK;
    case FT_BYTES: {
        if (fbuf_reserve(sb, TEXTVAL_BASE64_MAX(n)) != FEATD_OK) {
            snprintf(why, whylen, "out of memory");
            return FEATD_ERR;
        }
        long got = textval_base64_decode(t, n, (uint8_t *)sb->data);
        if (got < 0) {
            snprintf(why, whylen, "expected base64");
            return FEATD_ERR;
        }
        sb->len = (size_t)got;
        val->s = sb->data;
        val->slen = sb->len;
        return FEATD_OK;
    }
    case FT_TIMESTAMP:
        if (!stream_entry_time(t, n, &val->u.i64)) {
            snprintf(why, whylen, "expected integer microseconds or an RFC 3339 time");
            return FEATD_ERR;
        }
        return FEATD_OK;
    default: {
        json_error_t jerr;
        json_t *j = json_loadb(t, n, JSON_DECODE_ANY, &jerr);
        if (j == NULL) {
            snprintf(why, whylen, "expected a JSON array: %s", jerr.text);
            return FEATD_ERR;
        }
        if (json_is_null(j)) {
            json_decref(j);
            snprintf(why, whylen, "expected a JSON array, got null (leave the field out for a null)");
            return FEATD_ERR;
        }
        /* list elements are copied into sb: j may go */
        int rc = online_json_feature(j, f, val, sb, why, whylen);
        json_decref(j);
        return rc;
    }
    }
}

int stream_entry_decode(const struct cfg_view *v, size_t nfields, const char *const *names,
                        const size_t *namelens, const char *const *texts, const size_t *textlens,
                        struct stream_row *r, char *why, size_t whylen)
{
    const size_t evlen = sizeof(STREAM_ENTRY_EVENT_FIELD) - 1;
    bool have_event = false;
    bool have_key[STREAM_MAX_KEYS] = { false };
    char shown[STREAM_SHOW + 8], reason[256];
    if (v->nkeys > STREAM_MAX_KEYS) {
        snprintf(why, whylen, "view %s has more join keys than a stream entry may carry", v->name);
        return FEATD_ERR;
    }
    for (size_t f = 0; f < v->nfeatures; f++) {
        memset(&r->vals[f], 0, sizeof r->vals[f]);
        r->vals[f].is_null = true;
    }
    for (size_t i = 0; i < nfields; i++) {
        const char *nm = names[i], *t = texts[i];
        size_t nl = namelens[i], tl = textlens[i];
        if (nl == evlen && memcmp(nm, STREAM_ENTRY_EVENT_FIELD, evlen) == 0) {
            if (have_event) {
                snprintf(why, whylen, "field event_timestamp given twice");
                return FEATD_ERR;
            }
            have_event = true;
            if (!stream_entry_time(t, tl, &r->event_us)) {
                snprintf(why, whylen, "event_timestamp %s: expected integer microseconds or an "
                         "RFC 3339 time", stream_entry_show(t, tl, shown, sizeof shown));
                return FEATD_ERR;
            }
            continue;
        }
        size_t k = 0;
        while (k < v->nkeys && !(strlen(v->keys[k].name) == nl && memcmp(v->keys[k].name, nm, nl) == 0)) {
            k++;
        }
        if (k < v->nkeys) {
            if (have_key[k]) {
                snprintf(why, whylen, "join key %s given twice", v->keys[k].name);
                return FEATD_ERR;
            }
            have_key[k] = true;
            memset(&r->keys[k], 0, sizeof r->keys[k]);
            if (v->keys[k].type == FT_INT64) {
                if (!stream_entry_int(t, tl, INT64_MIN, INT64_MAX, &r->keys[k].i)) {
                    snprintf(why, whylen, "join key %s %s: expected a decimal int64 integer",
                             v->keys[k].name, stream_entry_show(t, tl, shown, sizeof shown));
                    return FEATD_ERR;
                }
            } else {
                r->keys[k].s = t;
                r->keys[k].slen = tl;
            }
            continue;
        }
        int f = config_feature_index(v, nm, nl);
        if (f < 0) {
            snprintf(why, whylen, "unknown field %s (not a join key, event_timestamp or a feature "
                     "of view %s)", stream_entry_show(nm, nl, shown, sizeof shown), v->name);
            return FEATD_ERR;
        }
        if (!r->vals[f].is_null) {     /* decoded values are never null */
            snprintf(why, whylen, "feature %s given twice", v->features[f].name);
            return FEATD_ERR;
        }
        if (stream_entry_feature(&v->features[f], t, tl, &r->vals[f], &r->scratch[f], reason,
                                 sizeof reason) != FEATD_OK) {
            snprintf(why, whylen, "feature %s (%s) %s: %s", v->features[f].name,
                     config_type_name(v->features[f].type), stream_entry_show(t, tl, shown, sizeof shown),
                     reason);
            return FEATD_ERR;
        }
    }
    for (size_t k = 0; k < v->nkeys; k++) {
        if (!have_key[k]) {
            snprintf(why, whylen, "missing join key %s", v->keys[k].name);
            return FEATD_ERR;
        }
    }
    if (!have_event) {
        snprintf(why, whylen, "missing event_timestamp");
        return FEATD_ERR;
    }
    for (size_t f = 0; f < v->nfeatures; f++) {
        if (!online_expect_keeps(&v->features[f], &r->vals[f], reason, sizeof reason)) {
            snprintf(why, whylen, "feature %s breaks its expect rule %s", v->features[f].name, reason);
            return FEATD_ERR;
        }
    }
    return FEATD_OK;
}
