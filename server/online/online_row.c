/*
 * online_row.c — the packed row codec and storage TTLs of the online tier
 * (format in online_row.h). Pure: no I/O, no allocation apart from the
 * caller's fbuf; online_row_decode runs on worker threads for every key of a
 * lookup and never allocates.
 */
#include "online/online_row.h"
#include "core/util.h"

#include <inttypes.h>
#include <string.h>

static void wr_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static void wr_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static uint32_t rd_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd_le64(const uint8_t *p)
{
    return (uint64_t)rd_le32(p) | (uint64_t)rd_le32(p + 4) << 32;
}

/* Timestamps in the header: big-endian with the sign bit flipped, so that the
 * bytewise order of the encodings equals the signed order of the values. */
static void wr_ts(uint8_t *p, int64_t ts)
{
    uint64_t u = (uint64_t)ts ^ UINT64_C(0x8000000000000000);
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(u >> (56 - 8 * i));
    }
}

static int64_t rd_ts(const uint8_t *p)
{
    uint64_t u = 0;
    for (int i = 0; i < 8; i++) {
        u = u << 8 | p[i];
    }
    u ^= UINT64_C(0x8000000000000000);
    int64_t v;
    memcpy(&v, &u, sizeof(v));   /* two's complement reinterpretation */
    return v;
}

/* ---- storage TTL ---- */

/*
 * The grace period added to a view's ttl for the storage expiry: as long as
 * the ttl itself, but at least one hour, so that a row that just went stale
 * is still reported as OUTSIDE_MAX_AGE (with its value) for a while instead
 * of turning into NOT_FOUND. 0 for ttl 0 (no expiry at all).
 */
static int64_t ttl_grace(int64_t ttl_seconds)
{
    if (ttl_seconds <= 0) {
        return 0;
    }
    return ttl_seconds > ONLINE_TTL_GRACE_MIN_S ? ttl_seconds : ONLINE_TTL_GRACE_MIN_S;
}

/*
 * event_ts/1000 + (ttl + grace) * 1000, saturating at INT64_MAX, and at least
 * 1 (an instant long past) so that 0 keeps meaning "no expiry".
 */
int64_t online_row_expire_at_ms(const struct cfg_view *v, int64_t event_ts_us)
{
    if (v->ttl_seconds <= 0) {
        return 0;
    }
    int64_t life_s = v->ttl_seconds;
    int64_t grace = ttl_grace(life_s);
    if (life_s > INT64_MAX - grace) {
        return INT64_MAX;
    }
    life_s += grace;
    if (life_s > INT64_MAX / 1000) {
        return INT64_MAX;
    }
    int64_t life_ms = life_s * 1000;
    int64_t ev_ms = event_ts_us / 1000;
    int64_t at;
    if (ev_ms > 0 && life_ms > INT64_MAX - ev_ms) {
        at = INT64_MAX;
    } else {
        at = ev_ms + life_ms;   /* ev_ms >= INT64_MIN/1000, life_ms > 0: no overflow */
    }
    return at < 1 ? 1 : at;
}

/* ---- row codec ---- */

static size_t fixed_size(enum featd_type t)
{
    switch (t) {
    case FT_BOOL: return 1;
    case FT_INT32: case FT_FLOAT: return 4;
    case FT_INT64: case FT_TIMESTAMP: case FT_DOUBLE: return 8;
    default: return 0;
    }
}

size_t online_row_min_size(const struct cfg_view *v)
{
    size_t n = ONLINE_ROW_HEADER + (v->nfeatures + 7) / 8;
    for (size_t f = 0; f < v->nfeatures; f++) {
        size_t fs = fixed_size(v->features[f].type);
        n += fs ? fs : 1;   /* strings, bytes, lists: at least a length byte */
    }
    return n;
}

static size_t list_elem_size(enum featd_type t)
{
    switch (t) {
    case FT_FLOAT_LIST: return 4;
    case FT_DOUBLE_LIST: case FT_INT64_LIST: return 8;
    default: return 0;
    }
}

/* Walks count varint-length strings in p[0..len); returns the bytes they
 * take, or SIZE_MAX when malformed or when they overrun len. */
static size_t string_list_span(const uint8_t *p, size_t len, uint64_t count)
{
    size_t pos = 0;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t n;
        size_t used = util_get_varint(p + pos, len - pos, &n);
        if (used == 0) {
            return SIZE_MAX;
        }
        pos += used;
        if (n > len - pos) {
            return SIZE_MAX;
        }
        pos += (size_t)n;
    }
    return pos;
}

int online_row_encode(struct fbuf *out, const struct cfg_view *v, int64_t event_ts_us,
                      int64_t created_ts_us, const struct online_value *vals)
{
    size_t start = out->len;
    size_t nbitmap = (v->nfeatures + 7) / 8;
    uint8_t hdr[ONLINE_ROW_HEADER_MAX];
    size_t nhdr = ONLINE_ROW_HEADER;
    hdr[0] = ONLINE_ROW_VERSION;
    wr_ts(hdr + 1, event_ts_us);
    if (created_ts_us != ONLINE_NO_CREATED_TS) {
        hdr[0] |= ONLINE_ROW_F_CREATED;
        wr_ts(hdr + ONLINE_ROW_HEADER, created_ts_us);
        nhdr = ONLINE_ROW_HEADER_MAX;
    }
    if (fbuf_append(out, hdr, nhdr) != FEATD_OK || fbuf_reserve(out, nbitmap) != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    size_t bitmap_at = out->len;
    memset(out->data + bitmap_at, 0, nbitmap);
    out->len += nbitmap;
    for (size_t f = 0; f < v->nfeatures; f++) {
        const struct online_value *x = &vals[f];
        enum featd_type t = v->features[f].type;
        int rc = FEATD_OK;
        uint8_t tmp[8];
        if (x->is_null) {
            ((uint8_t *)out->data)[bitmap_at + f / 8] |= (uint8_t)(1u << (f % 8));
            continue;
        }
        switch (t) {
        case FT_BOOL:
            tmp[0] = x->u.b ? 1 : 0;
            rc = fbuf_append(out, tmp, 1);
            break;
        case FT_INT32:
            wr_le32(tmp, (uint32_t)x->u.i32);
            rc = fbuf_append(out, tmp, 4);
            break;
        case FT_INT64:
        case FT_TIMESTAMP:
            wr_le64(tmp, (uint64_t)x->u.i64);
            rc = fbuf_append(out, tmp, 8);
            break;
        case FT_FLOAT: {
            uint32_t u;
            memcpy(&u, &x->u.f, 4);
            wr_le32(tmp, u);
            rc = fbuf_append(out, tmp, 4);
            break;
        }
        case FT_DOUBLE: {
            uint64_t u;
            memcpy(&u, &x->u.d, 8);
            wr_le64(tmp, u);
            rc = fbuf_append(out, tmp, 8);
            break;
        }
        case FT_STRING:
        case FT_BYTES:
            if (x->slen > 0 && x->s == NULL) {
                rc = FEATD_ERR;
                break;
            }
            rc = fbuf_put_varint(out, x->slen);
            if (rc == FEATD_OK) {
                rc = fbuf_append(out, x->s, x->slen);
            }
            break;
        case FT_FLOAT_LIST:
        case FT_DOUBLE_LIST:
        case FT_INT64_LIST:
        case FT_STRING_LIST:
            if (x->count > ONLINE_MAX_LIST || (x->rawlen > 0 && x->raw == NULL)) {
                rc = FEATD_ERR;
                break;
            }
            if (t == FT_STRING_LIST) {
                if (string_list_span(x->raw, x->rawlen, x->count) != x->rawlen) {
                    rc = FEATD_ERR;
                    break;
                }
            } else if ((uint64_t)x->count * list_elem_size(t) != x->rawlen) {
                rc = FEATD_ERR;
                break;
            }
            rc = fbuf_put_varint(out, x->count);
            if (rc == FEATD_OK) {
                rc = fbuf_append(out, x->raw, x->rawlen);
            }
            break;
        default:
            rc = FEATD_ERR;
            break;
        }
        if (rc != FEATD_OK) {
            out->len = start;   /* leave out as it was */
            if (out->data) {
                out->data[start] = '\0';
            }
            return rc;
        }
    }
    return FEATD_OK;
}

int online_row_decode(const uint8_t *data, size_t len, const struct cfg_view *v,
                      int64_t *event_ts_us, int64_t *created_ts_us,
                      struct online_value *vals, char *err, size_t errlen)
{
    if (len < 1) {
        util_seterr(err, errlen, "empty row");
        return FEATD_ERR;
    }
    if ((data[0] & ~ONLINE_ROW_F_CREATED) != ONLINE_ROW_VERSION) {
        util_seterr(err, errlen, "row codec version %u, expected %u", data[0] & ~ONLINE_ROW_F_CREATED,
                    ONLINE_ROW_VERSION);
        return FEATD_ERR;
    }
    size_t nf = v->nfeatures;
    size_t nbitmap = (nf + 7) / 8;
    size_t nhdr = (data[0] & ONLINE_ROW_F_CREATED) ? ONLINE_ROW_HEADER_MAX : ONLINE_ROW_HEADER;
    if (len < nhdr + nbitmap) {
        util_seterr(err, errlen, "row truncated in header (%zu bytes)", len);
        return FEATD_ERR;
    }
    const uint8_t *bitmap = data + nhdr;
    if ((nf % 8) != 0 && (bitmap[nbitmap - 1] >> (nf % 8)) != 0) {
        util_seterr(err, errlen, "row null bitmap has bits set past feature %zu", nf);
        return FEATD_ERR;
    }
    *event_ts_us = rd_ts(data + 1);
    *created_ts_us = nhdr == ONLINE_ROW_HEADER_MAX ? rd_ts(data + ONLINE_ROW_HEADER)
                                                   : ONLINE_NO_CREATED_TS;
    size_t pos = nhdr + nbitmap;
    for (size_t f = 0; f < nf; f++) {
        struct online_value *x = &vals[f];
        enum featd_type t = v->features[f].type;
        memset(x, 0, sizeof(*x));
        if (bitmap[f / 8] & (1u << (f % 8))) {
            x->is_null = true;
            continue;
        }
        size_t rem = len - pos;
        const uint8_t *p = data + pos;
        size_t fs = fixed_size(t);
        if (fs) {
            if (rem < fs) {
                goto truncated;
            }
            switch (t) {
            case FT_BOOL:
                if (p[0] > 1) {
                    util_seterr(err, errlen, "feature %zu: bad bool byte %u", f, p[0]);
                    return FEATD_ERR;
                }
                x->u.b = p[0] != 0;
                break;
            case FT_INT32: {
                uint32_t u = rd_le32(p);
                memcpy(&x->u.i32, &u, 4);
                break;
            }
            case FT_FLOAT: {
                uint32_t u = rd_le32(p);
                memcpy(&x->u.f, &u, 4);
                break;
            }
            case FT_DOUBLE: {
                uint64_t u = rd_le64(p);
                memcpy(&x->u.d, &u, 8);
                break;
            }
            default: {   /* int64, timestamp */
                uint64_t u = rd_le64(p);
                memcpy(&x->u.i64, &u, 8);
                break;
            }
            }
            pos += fs;
            continue;
        }
        if (t != FT_STRING && t != FT_BYTES && t != FT_STRING_LIST && list_elem_size(t) == 0) {
            util_seterr(err, errlen, "feature %zu: unknown type %d", f, (int)t);
            return FEATD_ERR;
        }
        uint64_t n;
        size_t used = util_get_varint(p, rem, &n);
        if (used == 0) {
            if (rem < 10) {
                goto truncated;
            }
            util_seterr(err, errlen, "feature %zu: bad varint", f);
            return FEATD_ERR;
        }
        p += used;
        rem -= used;
        if (t == FT_STRING || t == FT_BYTES) {
            if (n > rem) {
                goto truncated;
            }
            x->s = (const char *)p;
            x->slen = (size_t)n;
            x->raw = p;
            x->rawlen = (size_t)n;
            pos += used + (size_t)n;
            continue;
        }
        if (n > ONLINE_MAX_LIST) {
            util_seterr(err, errlen, "feature %zu: list of %" PRIu64 " elements (max %u)", f, n,
                          ONLINE_MAX_LIST);
            return FEATD_ERR;
        }
        size_t span;
        if (t == FT_STRING_LIST) {
            span = string_list_span(p, rem, n);
            if (span == SIZE_MAX) {
                goto truncated;
            }
        } else {
            span = (size_t)n * list_elem_size(t);
            if (span > rem) {
                goto truncated;
            }
        }
        x->count = (uint32_t)n;
        x->raw = p;
        x->rawlen = span;
        pos += used + span;
    }
    if (pos != len) {
        util_seterr(err, errlen, "row has %zu trailing bytes", len - pos);
        return FEATD_ERR;
    }
    return FEATD_OK;

truncated:
    util_seterr(err, errlen, "row truncated (%zu bytes)", len);
    return FEATD_ERR;
}

/* ---- packed lists ---- */

int online_row_list_put_float(struct fbuf *out, float f)
{
    uint32_t u;
    uint8_t tmp[4];
    memcpy(&u, &f, 4);
    wr_le32(tmp, u);
    return fbuf_append(out, tmp, 4);
}

int online_row_list_put_double(struct fbuf *out, double d)
{
    uint64_t u;
    uint8_t tmp[8];
    memcpy(&u, &d, 8);
    wr_le64(tmp, u);
    return fbuf_append(out, tmp, 8);
}

int online_row_list_put_int64(struct fbuf *out, int64_t i)
{
    uint8_t tmp[8];
    wr_le64(tmp, (uint64_t)i);
    return fbuf_append(out, tmp, 8);
}

int online_row_list_put_string(struct fbuf *out, const char *s, size_t n)
{
    if (fbuf_put_varint(out, n) != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    return n ? fbuf_append(out, s, n) : FEATD_OK;
}

float online_row_list_float(const struct online_value *v, uint32_t idx)
{
    uint32_t u = rd_le32(v->raw + (size_t)idx * 4);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

double online_row_list_double(const struct online_value *v, uint32_t idx)
{
    uint64_t u = rd_le64(v->raw + (size_t)idx * 8);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

int64_t online_row_list_int64(const struct online_value *v, uint32_t idx)
{
    uint64_t u = rd_le64(v->raw + (size_t)idx * 8);
    int64_t i;
    memcpy(&i, &u, 8);
    return i;
}

/* Reads the string element at *cur (advancing it). FEATD_ERR at end or on a
 * malformed element (cannot happen for a list validated by decode). */
int online_row_list_next_string(const uint8_t **cur, const uint8_t *end, const char **s,
                                size_t *n)
{
    if (*cur >= end) {
        return FEATD_ERR;
    }
    uint64_t len;
    size_t used = util_get_varint(*cur, (size_t)(end - *cur), &len);
    if (used == 0 || len > (uint64_t)(end - *cur) - used) {
        return FEATD_ERR;
    }
    *s = (const char *)(*cur + used);
    *n = (size_t)len;
    *cur += used + (size_t)len;
    return FEATD_OK;
}

