/*
 * online.c — the online-tier layout in Redis (DESIGN.md §5; contract in
 * online.h): key building, the packed row codec, storage TTLs, the blocking
 * pipelined writers (plain SET into a generation, last-write-wins upsert via
 * a Lua script) and generation control (alloc, current, flip, reclaim,
 * ensure).
 *
 * The codec and key builders are pure and allocation-free apart from the
 * caller's fbuf; online_row_decode runs on the request path for every key and
 * never allocates. Everything below the "blocking writers" banner does
 * network I/O on a caller-owned, connected and authenticated redisContext and
 * must never run on a worker thread.
 *
 * Note for callers: hiredis 0.14 writes with write(2), so a process using the
 * writers must ignore SIGPIPE (a Redis that went away would otherwise kill it).
 */
#include "online/online.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "redis/rblock.h"

/* ---- small helpers ---- */

/* Appends the decimal form of an unsigned integer (no printf on hot paths). */
static int put_u64(struct fbuf *out, uint64_t v)
{
    char tmp[24];
    size_t n = sizeof(tmp);
    do {
        tmp[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return fbuf_append(out, tmp + n, sizeof(tmp) - n);
}

static int put_i64(struct fbuf *out, int64_t v)
{
    if (v < 0) {
        if (fbuf_putc(out, '-') != FEATD_OK) {
            return FEATD_ENOMEM;
        }
        return put_u64(out, (uint64_t)0 - (uint64_t)v);
    }
    return put_u64(out, (uint64_t)v);
}

static int put_str(struct fbuf *out, const char *s)
{
    return fbuf_append(out, s, strlen(s));
}

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

/* ---- keys ---- */

static int put_fingerprint(struct fbuf *out, const struct cfg_view *v)
{
    if (strlen(v->fingerprint_hex) == 16) {
        return fbuf_append(out, v->fingerprint_hex, 16);
    }
    return fbuf_appendf(out, "%016" PRIx64, v->fingerprint);
}

int online_view_prefix(struct fbuf *out, const char *key_prefix, const struct cfg_view *v)
{
    if (put_str(out, key_prefix) != FEATD_OK || fbuf_putc(out, ':') != FEATD_OK ||
        put_str(out, ONLINE_LAYOUT_VERSION ":") != FEATD_OK || put_str(out, v->name) != FEATD_OK ||
        fbuf_putc(out, ':') != FEATD_OK || put_fingerprint(out, v) != FEATD_OK ||
        fbuf_putc(out, ':') != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    return FEATD_OK;
}

/* Entity key: per join key in view order "i<decimal>" or "s<len>:<bytes>".
 * FEATD_ERR when a join key has a type other than int64/string. */
int online_entity_key(struct fbuf *out, const struct cfg_view *v, const struct online_key *keys)
{
    for (size_t k = 0; k < v->nkeys; k++) {
        int rc;
        if (v->keys[k].type == FT_INT64) {
            rc = fbuf_putc(out, 'i');
            if (rc == FEATD_OK) {
                rc = put_i64(out, keys[k].i);
            }
        } else if (v->keys[k].type == FT_STRING) {
            rc = fbuf_putc(out, 's');
            if (rc == FEATD_OK) {
                rc = put_u64(out, keys[k].slen);
            }
            if (rc == FEATD_OK) {
                rc = fbuf_putc(out, ':');
            }
            if (rc == FEATD_OK && keys[k].slen > 0) {
                rc = keys[k].s ? fbuf_append(out, keys[k].s, keys[k].slen) : FEATD_ERR;
            }
        } else {
            return FEATD_ERR;
        }
        if (rc != FEATD_OK) {
            return rc;
        }
    }
    return FEATD_OK;
}

int online_gen_prefix(struct fbuf *out, const char *key_prefix, const struct cfg_view *v,
                      uint64_t gen)
{
    int rc = online_view_prefix(out, key_prefix, v);
    if (rc == FEATD_OK) {
        rc = fbuf_putc(out, 'g');
    }
    if (rc == FEATD_OK) {
        rc = put_u64(out, gen);
    }
    if (rc == FEATD_OK) {
        rc = fbuf_putc(out, ':');
    }
    return rc;
}

int online_row_key(struct fbuf *out, const char *key_prefix, const struct cfg_view *v,
                   uint64_t gen, const struct online_key *keys)
{
    int rc = online_gen_prefix(out, key_prefix, v, gen);
    if (rc == FEATD_OK) {
        rc = online_entity_key(out, v, keys);
    }
    return rc;
}

int online_meta_key(struct fbuf *out, const char *key_prefix, const struct cfg_view *v,
                    const char *suffix)
{
    int rc = online_view_prefix(out, key_prefix, v);
    if (rc == FEATD_OK) {
        rc = put_str(out, suffix);
    }
    return rc;
}

int online_current_key(struct fbuf *out, const char *key_prefix, const struct cfg_view *v)
{
    return online_meta_key(out, key_prefix, v, "current");
}

int online_lease_key(struct fbuf *out, const char *key_prefix, const struct cfg_view *v)
{
    if (put_str(out, key_prefix) != FEATD_OK || fbuf_putc(out, ':') != FEATD_OK ||
        put_str(out, ONLINE_LAYOUT_VERSION ":") != FEATD_OK || put_str(out, v->name) != FEATD_OK ||
        put_str(out, ":lease") != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    return FEATD_OK;
}

/* ---- storage TTL ---- */

/*
 * The grace period added to a view's ttl for the storage expiry: as long as
 * the ttl itself, but at least one hour, so that a row that just went stale
 * is still reported as OUTSIDE_MAX_AGE (with its value) for a while instead
 * of turning into NOT_FOUND. 0 for ttl 0 (no expiry at all).
 */
int64_t online_ttl_grace(int64_t ttl_seconds)
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
int64_t online_expire_at_ms(const struct cfg_view *v, int64_t event_ts_us)
{
    if (v->ttl_seconds <= 0) {
        return 0;
    }
    int64_t life_s = v->ttl_seconds;
    int64_t grace = online_ttl_grace(life_s);
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
    uint8_t hdr[ONLINE_ROW_HEADER];
    hdr[0] = ONLINE_ROW_VERSION;
    wr_ts(hdr + 1, event_ts_us);
    wr_ts(hdr + 9, created_ts_us);
    if (fbuf_append(out, hdr, sizeof(hdr)) != FEATD_OK || fbuf_reserve(out, nbitmap) != FEATD_OK) {
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
    if (data[0] != ONLINE_ROW_VERSION) {
        util_seterr(err, errlen, "row codec version %u, expected %u", data[0],
                      ONLINE_ROW_VERSION);
        return FEATD_ERR;
    }
    size_t nf = v->nfeatures;
    size_t nbitmap = (nf + 7) / 8;
    if (len < ONLINE_ROW_HEADER + nbitmap) {
        util_seterr(err, errlen, "row truncated in header (%zu bytes)", len);
        return FEATD_ERR;
    }
    const uint8_t *bitmap = data + ONLINE_ROW_HEADER;
    if ((nf % 8) != 0 && (bitmap[nbitmap - 1] >> (nf % 8)) != 0) {
        util_seterr(err, errlen, "row null bitmap has bits set past feature %zu", nf);
        return FEATD_ERR;
    }
    *event_ts_us = rd_ts(data + 1);
    *created_ts_us = rd_ts(data + 9);
    size_t pos = ONLINE_ROW_HEADER + nbitmap;
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

int online_list_put_float(struct fbuf *out, float f)
{
    uint32_t u;
    uint8_t tmp[4];
    memcpy(&u, &f, 4);
    wr_le32(tmp, u);
    return fbuf_append(out, tmp, 4);
}

int online_list_put_double(struct fbuf *out, double d)
{
    uint64_t u;
    uint8_t tmp[8];
    memcpy(&u, &d, 8);
    wr_le64(tmp, u);
    return fbuf_append(out, tmp, 8);
}

int online_list_put_int64(struct fbuf *out, int64_t i)
{
    uint8_t tmp[8];
    wr_le64(tmp, (uint64_t)i);
    return fbuf_append(out, tmp, 8);
}

int online_list_put_string(struct fbuf *out, const char *s, size_t n)
{
    if (fbuf_put_varint(out, n) != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    return n ? fbuf_append(out, s, n) : FEATD_OK;
}

float online_list_float(const struct online_value *v, uint32_t idx)
{
    uint32_t u = rd_le32(v->raw + (size_t)idx * 4);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

double online_list_double(const struct online_value *v, uint32_t idx)
{
    uint64_t u = rd_le64(v->raw + (size_t)idx * 8);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

int64_t online_list_int64(const struct online_value *v, uint32_t idx)
{
    uint64_t u = rd_le64(v->raw + (size_t)idx * 8);
    int64_t i;
    memcpy(&i, &u, 8);
    return i;
}

/* Reads the string element at *cur (advancing it). FEATD_ERR at end or on a
 * malformed element (cannot happen for a list validated by decode). */
int online_list_next_string(const uint8_t **cur, const uint8_t *end, const char **s, size_t *n)
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

/* ---- blocking writers ---- */

/*
 * Last-write-wins upsert. KEYS[1] = row key, ARGV[1] = new row, ARGV[2] =
 * PXAT instant in ms or "0" for none. Compares the 16 header bytes 2..17
 * (event_ts, created_ts; order-preserving encodings) of the new row with the
 * stored one byte by byte (string.byte: safe with embedded NULs) and writes
 * only when new >= stored. A stored value shorter than a header (not a row
 * of ours) is overwritten. Returns 1 written, 0 skipped.
 */
static const char online_upsert_lua[] =
    "local new = ARGV[1]\n"
    "local old = redis.call('GET', KEYS[1])\n"
    "if old and #old >= 17 then\n"
    "  for i = 2, 17 do\n"
    "    local a, b = string.byte(new, i), string.byte(old, i)\n"
    "    if a ~= b then\n"
    "      if a < b then return 0 end\n"
    "      break\n"
    "    end\n"
    "  end\n"
    "end\n"
    "if ARGV[2] ~= '0' then\n"
    "  redis.call('SET', KEYS[1], new, 'PXAT', ARGV[2])\n"
    "else\n"
    "  redis.call('SET', KEYS[1], new)\n"
    "end\n"
    "return 1\n";

enum online_pend_kind {
    PEND_SET = 0,
    PEND_UPSERT
};

/* One command in flight in the current batch. Upserts keep their key and
 * value (in w->keep) so they can be replayed with EVAL after NOSCRIPT. */
struct online_pend {
    enum online_pend_kind kind;
    size_t off;         /* key at keep[off], value right after it */
    size_t keylen;
    size_t vallen;
    int64_t pxat;       /* 0 = none */
};

struct online_writer {
    redisContext *c;                /* not owned */
    char *prefix;                   /* redis.key_prefix (copy) */
    const struct cfg_view *v;       /* not owned; must outlive the writer */
    size_t batch;                   /* commands per pipeline flush */
    struct fbuf key;                /* scratch: row key */
    struct fbuf row;                /* scratch: encoded row */
    struct online_pend *pend;       /* commands appended, replies not read */
    size_t npend;
    size_t cappend;
    struct fbuf keep;               /* upsert keys+values of this batch */
    size_t pending_bytes;           /* bytes appended since the last flush */
    char sha[48];                   /* SCRIPT LOAD result of online_upsert_lua */
    bool have_sha;
    uint64_t written;
    uint64_t skipped;
};

/* Flush early when a batch holds this many bytes, whatever its row count. */
#define ONLINE_WRITER_MAX_BYTES (16u << 20)

struct online_writer *online_writer_new(redisContext *c, const char *key_prefix,
                                        const struct cfg_view *v, size_t batch)
{
    struct online_writer *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        return NULL;
    }
    w->prefix = strdup(key_prefix ? key_prefix : "");
    if (w->prefix == NULL) {
        free(w);
        return NULL;
    }
    w->c = c;
    w->v = v;
    w->batch = batch ? batch : 1;
    return w;
}

static void writer_reset_batch(struct online_writer *w)
{
    w->npend = 0;
    w->pending_bytes = 0;
    fbuf_reset(&w->keep);
}

/* Drains every pending reply; errors are ignored (used by free). */
static void writer_drain(struct online_writer *w)
{
    for (size_t i = 0; i < w->npend; i++) {
        void *r = NULL;
        if (redisGetReply(w->c, &r) != REDIS_OK) {
            break;
        }
        freeReplyObject(r);
    }
    writer_reset_batch(w);
}

/* Unflushed commands are sent and their replies read (errors dropped), so
 * that the caller's context stays in step; flush first to see errors. */
void online_writer_free(struct online_writer *w)
{
    if (w == NULL) {
        return;
    }
    if (w->npend > 0) {
        writer_drain(w);
    }
    fbuf_free(&w->key);
    fbuf_free(&w->row);
    fbuf_free(&w->keep);
    free(w->pend);
    free(w->prefix);
    free(w);
}

uint64_t online_writer_written(const struct online_writer *w)
{
    return w->written;
}

uint64_t online_writer_skipped(const struct online_writer *w)
{
    return w->skipped;
}

static void note_err(bool *have, char *err, size_t errlen, const char *fmt, ...)
    FEATD_PRINTF(4, 5);

/* Records only the first error of a batch. */
static void note_err(bool *have, char *err, size_t errlen, const char *fmt, ...)
{
    if (*have) {
        return;
    }
    *have = true;
    va_list ap;
    va_start(ap, fmt);
    util_vseterr(err, errlen, fmt, ap);
    va_end(ap);
}

/* Records the connection failure of w's context as the batch's error. */
static void note_err_ctx(const struct online_writer *w, bool *have, char *err, size_t errlen)
{
    char m[512];
    rblock_seterr(w->c, "pipeline", m, sizeof m);
    note_err(have, err, errlen, "%s", m);
}

/* Accounts for one reply of a pending command. Returns true when it was a
 * NOSCRIPT error on an upsert (caller replays it). */
static bool writer_account(struct online_writer *w, const struct online_pend *p,
                           const redisReply *r, bool *have_err, char *err, size_t errlen)
{
    if (r->type == REDIS_REPLY_ERROR) {
        if (p->kind == PEND_UPSERT && r->len >= 8 && memcmp(r->str, "NOSCRIPT", 8) == 0) {
            return true;
        }
        note_err(have_err, err, errlen, "redis %s: %.*s", p->kind == PEND_SET ? "SET" : "upsert",
                 (int)(r->len > 400 ? 400 : r->len), r->str);
        return false;
    }
    if (p->kind == PEND_SET) {
        if (r->type == REDIS_REPLY_STATUS) {
            w->written++;
        } else {
            note_err(have_err, err, errlen, "redis SET: unexpected reply type %d", r->type);
        }
    } else if (r->type == REDIS_REPLY_INTEGER && (r->integer == 0 || r->integer == 1)) {
        if (r->integer == 1) {
            w->written++;
        } else {
            w->skipped++;
        }
    } else {
        note_err(have_err, err, errlen, "redis upsert: unexpected reply type %d", r->type);
    }
    return false;
}

static int append_upsert(struct online_writer *w, bool by_sha, const char *key, size_t keylen,
                         const char *val, size_t vallen, int64_t pxat)
{
    int rc;
    if (by_sha) {
        rc = redisAppendCommand(w->c, "EVALSHA %s 1 %b %b %lld", w->sha, key, keylen, val,
                                vallen, (long long)pxat);
    } else {
        rc = redisAppendCommand(w->c, "EVAL %s 1 %b %b %lld", online_upsert_lua, key, keylen,
                                val, vallen, (long long)pxat);
    }
    return rc == REDIS_OK ? FEATD_OK : FEATD_ERR;
}

int online_writer_flush(struct online_writer *w, char *err, size_t errlen)
{
    bool have_err = false;
    size_t nretry = 0;
    size_t i;
    for (i = 0; i < w->npend; i++) {
        void *rv = NULL;
        if (redisGetReply(w->c, &rv) != REDIS_OK || rv == NULL) {
            note_err_ctx(w, &have_err, err, errlen);
            writer_reset_batch(w);
            return FEATD_ERR;   /* the context is dead; nothing more to read */
        }
        if (writer_account(w, &w->pend[i], rv, &have_err, err, errlen)) {
            w->pend[nretry++] = w->pend[i];   /* compact the NOSCRIPT ones in place */
        }
        freeReplyObject(rv);
    }
    if (nretry > 0) {
        /* The script cache was flushed (SCRIPT FLUSH, restart, failover):
         * replay with EVAL, which also caches the script again under the
         * same SHA for later EVALSHAs. */
        for (i = 0; i < nretry; i++) {
            const struct online_pend *p = &w->pend[i];
            const char *k = w->keep.data + p->off;
            if (append_upsert(w, false, k, p->keylen, k + p->keylen, p->vallen, p->pxat) !=
                FEATD_OK) {
                note_err(&have_err, err, errlen, "redis: cannot append command");
                nretry = i;
                break;
            }
        }
        for (i = 0; i < nretry; i++) {
            void *rv = NULL;
            if (redisGetReply(w->c, &rv) != REDIS_OK || rv == NULL) {
                note_err_ctx(w, &have_err, err, errlen);
                writer_reset_batch(w);
                return FEATD_ERR;
            }
            struct online_pend p = w->pend[i];
            p.kind = PEND_UPSERT;
            if (writer_account(w, &p, rv, &have_err, err, errlen)) {
                note_err(&have_err, err, errlen, "redis upsert: NOSCRIPT after EVAL");
            }
            freeReplyObject(rv);
        }
    }
    writer_reset_batch(w);
    return have_err ? FEATD_ERR : FEATD_OK;
}

/* Common front half of put/upsert: expiry check, key and row encoding, room
 * for one more pending command. Returns FEATD_OK, FEATD_EAGAIN (expired) or
 * FEATD_ERR. */
static int writer_prepare(struct online_writer *w, uint64_t gen, const struct online_key *keys,
                          int64_t event_ts_us, int64_t created_ts_us,
                          const struct online_value *vals, int64_t *pxat, char *err,
                          size_t errlen)
{
    if (w->c == NULL || w->c->err) {
        rblock_seterr(w->c, "SET", err, errlen);
        return FEATD_ERR;
    }
    if (gen == 0) {
        util_seterr(err, errlen, "view %s: generation 0 is never read; allocate one",
                      w->v->name);
        return FEATD_ERR;
    }
    int64_t at = online_expire_at_ms(w->v, event_ts_us);
    if (at != 0 && at <= util_now_us() / 1000) {
        w->skipped++;
        return FEATD_EAGAIN;
    }
    *pxat = at;
    fbuf_reset(&w->key);
    fbuf_reset(&w->row);
    if (online_row_key(&w->key, w->prefix, w->v, gen, keys) != FEATD_OK) {
        util_seterr(err, errlen, "view %s: cannot build the row key (bad join key)",
                      w->v->name);
        return FEATD_ERR;
    }
    if (online_row_encode(&w->row, w->v, event_ts_us, created_ts_us, vals) != FEATD_OK) {
        util_seterr(err, errlen,
                      "view %s: cannot encode the row (bad list value or out of memory)",
                      w->v->name);
        return FEATD_ERR;
    }
    if (w->npend == w->cappend) {
        size_t ncap = w->cappend ? w->cappend * 2 : 64;
        struct online_pend *np = realloc(w->pend, ncap * sizeof(*np));
        if (np == NULL) {
            util_seterr(err, errlen, "out of memory");
            return FEATD_ERR;
        }
        w->pend = np;
        w->cappend = ncap;
    }
    return FEATD_OK;
}

static int writer_after_append(struct online_writer *w, char *err, size_t errlen)
{
    w->pending_bytes += w->key.len + w->row.len;
    if (w->npend >= w->batch || w->pending_bytes >= ONLINE_WRITER_MAX_BYTES) {
        return online_writer_flush(w, err, errlen);
    }
    return FEATD_OK;
}

int online_writer_put(struct online_writer *w, uint64_t gen, const struct online_key *keys,
                      int64_t event_ts_us, int64_t created_ts_us,
                      const struct online_value *vals, char *err, size_t errlen)
{
    int64_t pxat = 0;
    int rc = writer_prepare(w, gen, keys, event_ts_us, created_ts_us, vals, &pxat, err, errlen);
    if (rc != FEATD_OK) {
        return rc;
    }
    if (pxat != 0) {
        rc = redisAppendCommand(w->c, "SET %b %b PXAT %lld", w->key.data, w->key.len,
                                w->row.data, w->row.len, (long long)pxat);
    } else {
        rc = redisAppendCommand(w->c, "SET %b %b", w->key.data, w->key.len, w->row.data,
                                w->row.len);
    }
    if (rc != REDIS_OK) {
        util_seterr(err, errlen, "redis: cannot append command (out of memory)");
        return FEATD_ERR;
    }
    w->pend[w->npend++] = (struct online_pend){ .kind = PEND_SET };
    return writer_after_append(w, err, errlen);
}

/* Loads the upsert script once per writer (flushing what is pending first:
 * a blocking command must not interleave with pipelined replies). */
static int writer_load_script(struct online_writer *w, char *err, size_t errlen)
{
    if (w->npend > 0 && online_writer_flush(w, err, errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    redisReply *r = redisCommand(w->c, "SCRIPT LOAD %s", online_upsert_lua);
    if (r == NULL) {
        rblock_seterr(w->c, "SCRIPT LOAD", err, errlen);
        return FEATD_ERR;
    }
    int rc = FEATD_ERR;
    if (r->type == REDIS_REPLY_STRING && r->len > 0 && r->len < sizeof(w->sha)) {
        memcpy(w->sha, r->str, r->len);
        w->sha[r->len] = '\0';
        w->have_sha = true;
        rc = FEATD_OK;
    } else if (r->type == REDIS_REPLY_ERROR) {
        util_seterr(err, errlen, "redis SCRIPT LOAD: %.*s", (int)(r->len > 400 ? 400 : r->len),
                      r->str);
    } else {
        util_seterr(err, errlen, "redis SCRIPT LOAD: unexpected reply type %d", r->type);
    }
    freeReplyObject(r);
    return rc;
}

int online_writer_upsert(struct online_writer *w, uint64_t gen, const struct online_key *keys,
                         int64_t event_ts_us, int64_t created_ts_us,
                         const struct online_value *vals, char *err, size_t errlen)
{
    if (!w->have_sha && w->c != NULL && !w->c->err &&
        writer_load_script(w, err, errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    int64_t pxat = 0;
    int rc = writer_prepare(w, gen, keys, event_ts_us, created_ts_us, vals, &pxat, err, errlen);
    if (rc != FEATD_OK) {
        return rc;
    }
    size_t off = w->keep.len;
    if (fbuf_append(&w->keep, w->key.data, w->key.len) != FEATD_OK ||
        fbuf_append(&w->keep, w->row.data, w->row.len) != FEATD_OK) {
        w->keep.len = off;
        util_seterr(err, errlen, "out of memory");
        return FEATD_ERR;
    }
    if (append_upsert(w, true, w->key.data, w->key.len, w->row.data, w->row.len, pxat) !=
        FEATD_OK) {
        w->keep.len = off;
        util_seterr(err, errlen, "redis: cannot append command (out of memory)");
        return FEATD_ERR;
    }
    w->pend[w->npend++] = (struct online_pend){
        .kind = PEND_UPSERT, .off = off, .keylen = w->key.len, .vallen = w->row.len, .pxat = pxat
    };
    return writer_after_append(w, err, errlen);
}

/* ---- generation control ---- */

/* A generation number from a reply: nil -> 0, a decimal string or an
 * integer >= 0. FEATD_ERR on anything else. */
int online_gen_parse(const redisReply *r, uint64_t *gen)
{
    if (r->type == REDIS_REPLY_NIL) {
        *gen = 0;
        return FEATD_OK;
    }
    if (r->type == REDIS_REPLY_INTEGER) {
        if (r->integer < 0) {
            return FEATD_ERR;
        }
        *gen = (uint64_t)r->integer;
        return FEATD_OK;
    }
    if (r->type != REDIS_REPLY_STRING || r->len == 0 || r->len > 20) {
        return FEATD_ERR;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < r->len; i++) {
        unsigned d = (unsigned char)r->str[i] - '0';
        if (d > 9 || v > (UINT64_MAX - d) / 10) {
            return FEATD_ERR;
        }
        v = v * 10 + d;
    }
    *gen = v;
    return FEATD_OK;
}

static int meta_key(struct fbuf *k, const char *key_prefix, const struct cfg_view *v,
                    const char *suffix, char *err, size_t errlen)
{
    if (online_meta_key(k, key_prefix, v, suffix) != FEATD_OK) {
        fbuf_free(k);
        util_seterr(err, errlen, "out of memory");
        return FEATD_ERR;
    }
    return FEATD_OK;
}

int online_gen_alloc(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                     uint64_t *gen, char *err, size_t errlen)
{
    struct fbuf k = { 0 };
    if (meta_key(&k, key_prefix, v, "genseq", err, errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    redisReply *r = rblock_command(c, err, errlen, "INCR genseq", "INCR %b", k.data, k.len);
    fbuf_free(&k);
    if (r == NULL) {
        return FEATD_ERR;
    }
    int rc = FEATD_OK;
    if (r->type != REDIS_REPLY_INTEGER || r->integer < 1) {
        util_seterr(err, errlen, "view %s: bad generation sequence reply", v->name);
        rc = FEATD_ERR;
    } else {
        *gen = (uint64_t)r->integer;
    }
    freeReplyObject(r);
    return rc;
}

int online_gen_current(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                       uint64_t *gen, char *err, size_t errlen)
{
    struct fbuf k = { 0 };
    if (meta_key(&k, key_prefix, v, "current", err, errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    redisReply *r = rblock_command(c, err, errlen, "GET current", "GET %b", k.data, k.len);
    fbuf_free(&k);
    if (r == NULL) {
        return FEATD_ERR;
    }
    int rc = online_gen_parse(r, gen);
    if (rc != FEATD_OK) {
        util_seterr(err, errlen, "view %s: current generation is not a number", v->name);
    }
    freeReplyObject(r);
    return rc;
}

/* SET current G GET (Redis >= 6.2): one atomic step, returns the old one.
 * The caller must have flushed its writers into generation gen first. */
int online_gen_flip(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                    uint64_t gen, uint64_t *old_gen, char *err, size_t errlen)
{
    if (gen == 0) {
        util_seterr(err, errlen, "view %s: cannot flip to generation 0", v->name);
        return FEATD_ERR;
    }
    struct fbuf k = { 0 };
    if (meta_key(&k, key_prefix, v, "current", err, errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    redisReply *r = rblock_command(c, err, errlen, "SET current GET", "SET %b %llu GET", k.data,
                            k.len, (unsigned long long)gen);
    fbuf_free(&k);
    if (r == NULL) {
        return FEATD_ERR;
    }
    uint64_t old = 0;
    int rc = online_gen_parse(r, &old);
    if (rc != FEATD_OK) {
        util_seterr(err, errlen, "view %s: previous generation was not a number", v->name);
    } else if (old_gen) {
        *old_gen = old;
    }
    freeReplyObject(r);
    return rc;
}

/* Appends s to out with the glob metacharacters of SCAN MATCH escaped. */
static int glob_escape(struct fbuf *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if ((ch == '*' || ch == '?' || ch == '[' || ch == ']' || ch == '\\' || ch == '^' ||
             ch == '-') && fbuf_putc(out, '\\') != FEATD_OK) {
            return FEATD_ENOMEM;
        }
        if (fbuf_putc(out, ch) != FEATD_OK) {
            return FEATD_ENOMEM;
        }
    }
    return FEATD_OK;
}

/*
 * SCAN 0 MATCH "<prefix>g<G>:*" COUNT 1000, UNLINKing each page's keys, until
 * the cursor returns to 0. Refuses generation 0 and the view's current
 * generation (that would drop live data). Keys written into gen while the
 * scan runs may survive; reclaim only generations nobody writes any more.
 */
static int gen_reclaim(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                       uint64_t gen, unsigned count, bool paced, const _Atomic int *stop,
                       uint64_t *deleted, char *err, size_t errlen)
{
    *deleted = 0;
    if (gen == 0) {
        util_seterr(err, errlen, "view %s: cannot reclaim generation 0", v->name);
        return FEATD_ERR;
    }
    uint64_t cur = 0;
    if (online_gen_current(c, key_prefix, v, &cur, err, errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    if (cur == gen) {
        util_seterr(err, errlen,
                      "view %s: refusing to reclaim generation %" PRIu64 ", it is current",
                      v->name, gen);
        return FEATD_ERR;
    }
    struct fbuf prefix = { 0 };
    struct fbuf pat = { 0 };
    if (online_view_prefix(&prefix, key_prefix, v) != FEATD_OK ||
        glob_escape(&pat, prefix.data, prefix.len) != FEATD_OK ||
        fbuf_appendf(&pat, "g%" PRIu64 ":*", gen) != FEATD_OK) {
        fbuf_free(&prefix);
        fbuf_free(&pat);
        util_seterr(err, errlen, "out of memory");
        return FEATD_ERR;
    }
    fbuf_free(&prefix);

    int rc = FEATD_OK;
    char cursor[32] = "0";
    const char **argv = NULL;
    size_t *argvlen = NULL;
    size_t cap = 0;
    do {
        int64_t t0 = util_mono_us();
        redisReply *r = rblock_command(c, err, errlen, "SCAN", "SCAN %s MATCH %b COUNT %u", cursor,
                                pat.data, pat.len, count);
        if (r == NULL) {
            rc = FEATD_ERR;
            break;
        }
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_STRING || r->element[0]->len == 0 ||
            r->element[0]->len >= sizeof(cursor) || r->element[1]->type != REDIS_REPLY_ARRAY) {
            rblock_seterr_reply(c, "SCAN", r, err, errlen);
            freeReplyObject(r);
            rc = FEATD_ERR;
            break;
        }
        memcpy(cursor, r->element[0]->str, r->element[0]->len);
        cursor[r->element[0]->len] = '\0';
        redisReply *keys = r->element[1];
        if (keys->elements > 0) {
            size_t need = keys->elements + 1;
            if (need > cap) {
                const char **na = realloc(argv, need * sizeof(*na));
                if (na) {
                    argv = na;
                }
                size_t *nl = realloc(argvlen, need * sizeof(*nl));
                if (nl) {
                    argvlen = nl;
                }
                if (na == NULL || nl == NULL) {
                    util_seterr(err, errlen, "out of memory");
                    freeReplyObject(r);
                    rc = FEATD_ERR;
                    break;
                }
                cap = need;
            }
            argv[0] = "UNLINK";
            argvlen[0] = 6;
            size_t n = 1;
            for (size_t i = 0; i < keys->elements; i++) {
                if (keys->element[i]->type == REDIS_REPLY_STRING) {
                    argv[n] = keys->element[i]->str;
                    argvlen[n] = keys->element[i]->len;
                    n++;
                }
            }
            redisReply *u = NULL;
            if (n > 1) {
                u = redisCommandArgv(c, (int)n, argv, argvlen);
                if (u == NULL) {
                    rblock_seterr(c, "UNLINK", err, errlen);
                    rc = FEATD_ERR;
                } else if (u->type == REDIS_REPLY_INTEGER) {
                    *deleted += (uint64_t)(u->integer > 0 ? u->integer : 0);
                } else if (u->type == REDIS_REPLY_ERROR) {
                    rblock_seterr_reply(c, "UNLINK", u, err, errlen);
                    rc = FEATD_ERR;
                }
                freeReplyObject(u);
            }
        }
        freeReplyObject(r);
        int64_t spent = util_mono_us() - t0;
        if (paced && rc == FEATD_OK && spent > 0) {
            /* leave Redis at least half of its time for others */
            struct timespec ts = { (time_t)(spent / 1000000), (long)(spent % 1000000) * 1000 };
            nanosleep(&ts, NULL);
        }
        if (rc == FEATD_OK && stop != NULL && atomic_load(stop) && strcmp(cursor, "0") != 0) {
            util_seterr(err, errlen, "view %s: reclaim of generation %" PRIu64 " interrupted",
                        v->name, gen);
            rc = FEATD_EAGAIN;
        }
    } while (rc == FEATD_OK && strcmp(cursor, "0") != 0);
    free(argv);
    free(argvlen);
    fbuf_free(&pat);
    return rc;
}

int online_gen_reclaim(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                       uint64_t gen, uint64_t *deleted, char *err, size_t errlen)
{
    return gen_reclaim(c, key_prefix, v, gen, 1000, false, NULL, deleted, err, errlen);
}

int online_gen_reclaim_paced(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                             uint64_t gen, unsigned count, const _Atomic int *stop,
                             uint64_t *deleted, char *err, size_t errlen)
{
    return gen_reclaim(c, key_prefix, v, gen, count ? count : 1000, true, stop, deleted, err, errlen);
}

/* GET current; when absent, INCR genseq and SET current NX. If another
 * writer won the race, its generation is returned (ours is left unused). */
int online_gen_ensure(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                      uint64_t *gen, char *err, size_t errlen)
{
    uint64_t cur = 0;
    if (online_gen_current(c, key_prefix, v, &cur, err, errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    if (cur != 0) {
        *gen = cur;
        return FEATD_OK;
    }
    uint64_t g = 0;
    if (online_gen_alloc(c, key_prefix, v, &g, err, errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    struct fbuf k = { 0 };
    if (meta_key(&k, key_prefix, v, "current", err, errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    redisReply *r = rblock_command(c, err, errlen, "SET current NX", "SET %b %llu NX", k.data, k.len,
                            (unsigned long long)g);
    fbuf_free(&k);
    if (r == NULL) {
        return FEATD_ERR;
    }
    bool won = r->type == REDIS_REPLY_STATUS;
    freeReplyObject(r);
    if (won) {
        *gen = g;
        return FEATD_OK;
    }
    if (online_gen_current(c, key_prefix, v, &cur, err, errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    if (cur == 0) {
        util_seterr(err, errlen, "view %s: current generation vanished during ensure",
                      v->name);
        return FEATD_ERR;
    }
    *gen = cur;
    return FEATD_OK;
}
