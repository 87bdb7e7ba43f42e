/*
 * textval.c — RFC 3339 and base64 parsing (contract in textval.h).
 */
#include "common/textval.h"

#include <stdbool.h>

#define TEXTVAL_OK 0
#define TEXTVAL_ERR (-1)

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

int textval_time_parse(const char *s, int64_t *us)
{
    if (s == NULL || us == NULL) {
        return TEXTVAL_ERR;
    }
    const char *p = s;
    int y, mo, d, h = 0, mi = 0, sec = 0;
    int64_t frac_us = 0;
    if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-'
        || !digits(&p, 2, &d)) {
        return TEXTVAL_ERR;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo)) {
        return TEXTVAL_ERR;
    }
    int64_t offset_s = 0;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi)) {
            return TEXTVAL_ERR;
        }
        if (*p == ':') {
            p++;
            if (!digits(&p, 2, &sec)) {
                return TEXTVAL_ERR;
            }
        }
        if (h > 23 || mi > 59 || sec > 60) {
            return TEXTVAL_ERR;
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
                return TEXTVAL_ERR;
            }
        }
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p == '-' ? -1 : 1;
            int oh, om = 0;
            p++;
            if (!digits(&p, 2, &oh)) {
                return TEXTVAL_ERR;
            }
            if (*p == ':') {
                p++;
                if (!digits(&p, 2, &om)) {
                    return TEXTVAL_ERR;
                }
            } else if (*p >= '0' && *p <= '9') {
                if (!digits(&p, 2, &om)) {
                    return TEXTVAL_ERR;
                }
            }
            if (oh > 23 || om > 59) {
                return TEXTVAL_ERR;
            }
            offset_s = sign * (oh * 3600 + om * 60);
        }
    }
    if (*p != '\0') {
        return TEXTVAL_ERR;
    }
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset_s;
    *us = secs * 1000000 + frac_us;
    return TEXTVAL_OK;
}

static int textval_b64(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

long textval_base64_decode(const char *s, size_t n, uint8_t *out)
{
    while (n > 0 && s[n - 1] == '=') {
        n--;
    }
    if (n % 4 == 1) {
        return -1;
    }
    uint32_t acc = 0;
    int bits = 0;
    long len = 0;
    for (size_t i = 0; i < n; i++) {
        int v = textval_b64((unsigned char)s[i]);
        if (v < 0) {
            return -1;
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[len++] = (uint8_t)((acc >> bits) & 0xFF);
        }
    }
    return len;
}
