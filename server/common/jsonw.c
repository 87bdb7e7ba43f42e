/*
 * jsonw.c — the project's one JSON writer (contract and escaping policy in
 * jsonw.h). libc only.
 */
#include "common/jsonw.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define JSONW_MIN_GROW 256

/* ---- the buffer ---- */

void jsonw_init(struct jsonw *w)
{
    memset(w, 0, sizeof(*w));
}

void jsonw_init_fixed(struct jsonw *w, char *buf, size_t cap)
{
    memset(w, 0, sizeof(*w));
    w->buf = buf;
    w->cap = buf ? cap : 0;
    w->fixed = true;
}

void jsonw_reset(struct jsonw *w)
{
    w->len = 0;
    w->failed = false;
}

void jsonw_free(struct jsonw *w)
{
    if (!w->fixed) {
        free(w->buf);
        w->buf = NULL;
        w->cap = 0;
    }
    w->len = 0;
}

void jsonw_raw_slow(struct jsonw *w, const void *p, size_t n)
{
    if (w->fixed) {
        if (w->len + 1 < w->cap) {
            size_t room = w->cap - 1 - w->len;
            memcpy(w->buf + w->len, p, n < room ? n : room);
        }
        w->len += n;
        return;
    }
    if (w->failed) {
        return;
    }
    size_t want = w->len + n + 1;
    size_t cap = w->cap ? w->cap : JSONW_MIN_GROW;
    while (cap < want) {
        if (cap > SIZE_MAX / 2) {
            w->failed = true;
            return;
        }
        cap *= 2;
    }
    char *nb = realloc(w->buf, cap);
    if (nb == NULL) {
        w->failed = true;
        return;
    }
    w->buf = nb;
    w->cap = cap;
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

const char *jsonw_end(struct jsonw *w)
{
    if (w->fixed) {
        if (w->cap > 0) {
            w->buf[w->len < w->cap ? w->len : w->cap - 1] = '\0';
        }
        return w->buf ? w->buf : "";
    }
    if (w->len + 1 > w->cap) {
        jsonw_raw_slow(w, "", 0);   /* makes room for the NUL */
    }
    if (w->failed) {
        return NULL;
    }
    w->buf[w->len] = '\0';
    return w->buf;
}

/* ---- strings ---- */

/* What a byte needs in a JSON string: 0 copy, 1 escape, 2 UTF-8 lead or
 * stray continuation byte (validated). */
static const uint8_t jsonw_class[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,     /* '"' */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,     /* '\\' */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
};

/* Length (2..4) of the valid UTF-8 sequence at p, n bytes left; 0 when p[0]
 * does not start one (bad lead or continuation byte, overlong form,
 * surrogate, above U+10FFFF, cut short). */
static size_t jsonw_utf8_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (len > n) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
        return 0;
    }
    return len;
}

enum jsonw_mode {
    JSONW_MODE_JSON,            /* inside a JSON string */
    JSONW_MODE_TEXT             /* jsonw_text: for people */
};

/* The escape of byte c (class 1, or any byte for \u00XX) into e; returns
 * its length. */
static size_t jsonw_escape(unsigned char c, char *e)
{
    static const char hex[] = "0123456789abcdef";
    const char *s = NULL;
    switch (c) {
    case '"': s = "\\\""; break;
    case '\\': s = "\\\\"; break;
    case '\b': s = "\\b"; break;
    case '\f': s = "\\f"; break;
    case '\n': s = "\\n"; break;
    case '\r': s = "\\r"; break;
    case '\t': s = "\\t"; break;
    default: break;
    }
    if (s != NULL) {
        memcpy(e, s, 2);
        return 2;
    }
    memcpy(e, "\\u00", 4);
    e[4] = hex[c >> 4];
    e[5] = hex[c & 15];
    return 6;
}

/*
 * The escaper behind every string function: writes s[0..n) in mode while
 * w->len stays <= maxlen; returns the bytes of s consumed. Runs of bytes
 * that need nothing are copied with one append.
 */
static size_t jsonw_escape_run(struct jsonw *w, const unsigned char *s, size_t n, enum jsonw_mode mode,
                               size_t maxlen)
{
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        for (;;) {
            while (run < n && jsonw_class[s[run]] == 0) {
                run++;
            }
            if (run < n && jsonw_class[s[run]] == 2) {
                size_t l = jsonw_utf8_len(s + run, n - run);
                if (l > 0) {
                    run += l;
                    continue;
                }
            }
            break;
        }
        if (run > i) {
            size_t k = run - i;
            if (w->len + k > maxlen) {
                k = maxlen > w->len ? maxlen - w->len : 0;
                while (k > 0 && (s[i + k] & 0xC0) == 0x80) {
                    k--;        /* never cut a UTF-8 sequence */
                }
                jsonw_raw(w, s + i, k);
                return i + k;
            }
            jsonw_raw(w, s + i, k);
            i = run;
            if (i == n) {
                break;
            }
        }
        unsigned char c = s[i];
        char e[8];
        size_t el;
        if (jsonw_class[c] == 2) {              /* not valid UTF-8 */
            if (mode == JSONW_MODE_TEXT) {
                memcpy(e, "\xEF\xBF\xBD", 3);
                el = 3;
            } else if (w->bad_utf8 == JSONW_UTF8_BYTES) {
                el = jsonw_escape(c, e);        /* \u00XX */
            } else {
                memcpy(e, "\\ufffd", 6);
                el = 6;
            }
        } else if (mode == JSONW_MODE_TEXT && (c == '"' || c == '\\')) {
            e[0] = (char)c;
            el = 1;
        } else {
            el = jsonw_escape(c, e);
        }
        if (w->len + el > maxlen) {
            return i;
        }
        jsonw_raw(w, e, el);
        i++;
    }
    return n;
}

void jsonw_str(struct jsonw *w, const char *s, size_t n)
{
    jsonw_char(w, '"');
    jsonw_escape_run(w, (const unsigned char *)s, n, JSONW_MODE_JSON, SIZE_MAX);
    jsonw_char(w, '"');
}

void jsonw_strz(struct jsonw *w, const char *s)
{
    jsonw_str(w, s ? s : "", s ? strlen(s) : 0);
}

size_t jsonw_str_body(struct jsonw *w, const char *s, size_t n, size_t maxlen)
{
    return jsonw_escape_run(w, (const unsigned char *)s, n, JSONW_MODE_JSON, maxlen);
}

void jsonw_text(struct jsonw *w, const char *s, size_t n)
{
    jsonw_escape_run(w, (const unsigned char *)s, n, JSONW_MODE_TEXT, SIZE_MAX);
}

size_t jsonw_text_fitv(char *out, size_t cap, const char *fmt, va_list ap)
{
    char raw[1024];
    size_t rc = cap < sizeof(raw) ? cap : sizeof(raw);
    int n = vsnprintf(raw, rc, fmt, ap);
    return jsonw_text_fit(out, cap, raw, n < 0 ? 0 : (size_t)n < rc ? (size_t)n : rc - 1);
}

size_t jsonw_text_fit(char *out, size_t cap, const char *s, size_t n)
{
    struct jsonw w;
    jsonw_init_fixed(&w, out, cap);
    jsonw_escape_run(&w, (const unsigned char *)s, n, JSONW_MODE_TEXT, cap - 1);
    jsonw_end(&w);
    return w.len;
}

bool jsonw_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        size_t l = jsonw_utf8_len(p + i, n - i);
        if (l == 0) {
            return false;
        }
        i += l;
    }
    return true;
}

/* ---- numbers ---- */

void jsonw_u64(struct jsonw *w, uint64_t v)
{
    char tmp[24];
    char *p = tmp + sizeof(tmp);
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    jsonw_raw(w, p, (size_t)(tmp + sizeof(tmp) - p));
}

void jsonw_i64(struct jsonw *w, int64_t v)
{
    if (v < 0) {
        jsonw_char(w, '-');
        jsonw_u64(w, (uint64_t)0 - (uint64_t)v);
    } else {
        jsonw_u64(w, (uint64_t)v);
    }
}

/* NaN / infinities as bare words; 0 for a finite d. */
static size_t jsonw_fmt_nonfinite(char *out, double d)
{
    const char *s = isnan(d) ? "NaN" : !isinf(d) ? NULL : d > 0 ? "Infinity" : "-Infinity";
    if (s == NULL) {
        return 0;
    }
    size_t n = strlen(s);
    memcpy(out, s, n + 1);
    return n;
}

/*
 * Shortest round trip. A normal number whose shortest form has at most 15
 * (double) or 6 (float) significant digits already prints that way at that
 * precision ("%g" drops trailing zeros), so the search starts there; a
 * subnormal has fewer significant bits and starts at 1 digit.
 */
/* 10^k, exact as doubles for k <= 22. */
static const double jsonw_p10[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                                    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18 };

/* The exact fast path of jsonw_fmt_double (no snprintf search): a double
 * of magnitude 1e-4..1e15 whose shortest round-trip form has at most 15
 * significant digits is an integer m over 10^k for the least such k, and
 * "%.*g" would print exactly m with the decimal point k digits from the
 * right. 0 when it does not apply. */
static size_t jsonw_fmt_double_exact(char *out, double d)
{
    double a = fabs(d);
    if (!(a >= 1e-4 && a < 1e15)) {
        return 0;
    }
    for (int k = 0; k <= 18; k++) {
        double s = a * jsonw_p10[k];
        if (s >= 1e15) {
            return 0;       /* more than 15 significant digits: jsonw's search */
        }
        double m = (double)(int64_t)(s + 0.5);
        if (m / jsonw_p10[k] != a) {
            continue;
        }
        /* m x 10^-k reads back as a (both exact, the division correctly
         * rounded), and k is the fewest decimals that do */
        char digits[24];
        int nd = snprintf(digits, sizeof(digits), "%" PRId64, (int64_t)m);
        size_t n = 0;
        if (d < 0) {
            out[n++] = '-';
        }
        if (k == 0) {
            memcpy(out + n, digits, (size_t)nd);
            return n + (size_t)nd;
        }
        if (nd <= k) {
            out[n++] = '0';
            out[n++] = '.';
            for (int z = nd; z < k; z++) {
                out[n++] = '0';
            }
            memcpy(out + n, digits, (size_t)nd);
            return n + (size_t)nd;
        }
        memcpy(out + n, digits, (size_t)(nd - k));
        n += (size_t)(nd - k);
        out[n++] = '.';
        memcpy(out + n, digits + nd - k, (size_t)k);
        return n + (size_t)k;
    }
    return 0;
}

size_t jsonw_fmt_double_search(char *out, double d)
{
    size_t n = jsonw_fmt_nonfinite(out, d);
    if (n > 0) {
        return n;
    }
    int len = 0;
    for (int p = fabs(d) < DBL_MIN ? 1 : 15; p <= 17; p++) {
        len = snprintf(out, JSONW_NUM_MAX, "%.*g", p, d);
        if (strtod(out, NULL) == d) {
            break;
        }
    }
    return len > 0 ? (size_t)len : 0;
}

size_t jsonw_fmt_double(char *out, double d)
{
    size_t n = jsonw_fmt_double_exact(out, d);
    if (n > 0) {
        out[n] = '\0';
        return n;
    }
    return jsonw_fmt_double_search(out, d);
}

size_t jsonw_fmt_float(char *out, float f)
{
    size_t n = jsonw_fmt_nonfinite(out, (double)f);
    if (n > 0) {
        return n;
    }
    int len = 0;
    for (int p = fabsf(f) < FLT_MIN ? 1 : 6; p <= 9; p++) {
        len = snprintf(out, JSONW_NUM_MAX, "%.*g", p, (double)f);
        if (strtof(out, NULL) == f) {
            break;
        }
    }
    return len > 0 ? (size_t)len : 0;
}

/* A number, or a non-finite one as a quoted string. */
static void jsonw_number_text(struct jsonw *w, const char *t, size_t n)
{
    bool word = t[0] == 'N' || t[0] == 'I' || (t[0] == '-' && t[1] == 'I');
    if (word) {
        jsonw_char(w, '"');
    }
    jsonw_raw(w, t, n);
    if (word) {
        jsonw_char(w, '"');
    }
}

void jsonw_double(struct jsonw *w, double d)
{
    char t[JSONW_NUM_MAX];
    jsonw_number_text(w, t, jsonw_fmt_double(t, d));
}

void jsonw_float(struct jsonw *w, float f)
{
    char t[JSONW_NUM_MAX];
    jsonw_number_text(w, t, jsonw_fmt_float(t, f));
}

/* ---- base64 ---- */

void jsonw_base64(struct jsonw *w, const void *data, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const uint8_t *p = data;
    char q[4];
    jsonw_char(w, '"');
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        q[0] = tab[v >> 18];
        q[1] = tab[(v >> 12) & 63];
        q[2] = tab[(v >> 6) & 63];
        q[3] = tab[v & 63];
        jsonw_raw(w, q, 4);
    }
    if (n - i > 0) {
        bool two = n - i == 2;
        uint32_t v = (uint32_t)p[i] << 16 | (two ? (uint32_t)p[i + 1] << 8 : 0);
        q[0] = tab[v >> 18];
        q[1] = tab[(v >> 12) & 63];
        q[2] = two ? tab[(v >> 6) & 63] : '=';
        q[3] = '=';
        jsonw_raw(w, q, 4);
    }
    jsonw_char(w, '"');
}

/* ---- RFC 3339 ---- */

static int64_t jsonw_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if (a % b != 0 && (a < 0) != (b < 0)) {
        q--;
    }
    return q;
}

/* Civil date of day z since 1970-01-01 (proleptic Gregorian: 400-year eras
 * of 146097 days, years counted from March so leap days fall at the end). */
static void jsonw_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = jsonw_floor_div(z, 146097);
    int64_t doe = z - era * 146097;                                     /* 0..146096 */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* 0..399 */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);             /* 0..365 */
    int64_t mp = (5 * doy + 2) / 153;                                  /* March = 0 */
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

size_t jsonw_fmt_time(char *out, int64_t us, int frac_digits)
{
    int64_t secs = jsonw_floor_div(us, 1000000);
    int64_t frac = us % 1000000;        /* not us - secs * 1e6: overflows at INT64_MIN */
    if (frac < 0) {
        frac += 1000000;
    }
    int64_t days = jsonw_floor_div(secs, 86400);
    int64_t sod = secs - days * 86400;
    int64_t y;
    int m, d;
    jsonw_civil_from_days(days, &y, &m, &d);
    int n = snprintf(out, JSONW_TIME_MAX, "%s%04lld-%02d-%02dT%02d:%02d:%02d", y < 0 ? "-" : "",
                     (long long)(y < 0 ? -y : y), m, d, (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60));
    if (frac_digits == JSONW_FRAC_AUTO) {
        frac_digits = frac != 0 ? 6 : 0;
    }
    if (frac_digits > 6) {
        frac_digits = 6;
    }
    if (frac_digits > 0) {
        int64_t f = frac;
        for (int i = frac_digits; i < 6; i++) {
            f /= 10;
        }
        n += snprintf(out + n, JSONW_TIME_MAX - (size_t)n, ".%0*lld", frac_digits, (long long)f);
    }
    out[n++] = 'Z';
    out[n] = '\0';
    return (size_t)n;
}

void jsonw_time(struct jsonw *w, int64_t us)
{
    char t[JSONW_TIME_MAX + 2];
    t[0] = '"';
    size_t n = jsonw_fmt_time(t + 1, us, JSONW_FRAC_AUTO);
    t[n + 1] = '"';
    jsonw_raw(w, t, n + 2);
}
