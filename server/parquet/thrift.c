/*
 * thrift.c — a bounded reader for the Thrift compact protocol, enough for
 * Parquet's footer and page headers: field headers, integers (zigzag
 * varints), binaries, list headers, nested structs, and a generic skipper
 * for fields this reader does not know (future Parquet additions, unknown
 * union members). Every read is bounds-checked; nesting is limited to
 * PQ_THRIFT_MAX_DEPTH; list counts are bounded by the bytes left (every
 * element takes at least one byte), so no count from the input can drive
 * an allocation or a loop beyond the input size.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "parquet/internal.h"


void pq_thrift_init(struct pq_thrift *t, const uint8_t *p, size_t len, char *err, size_t errlen)
{
    t->p = p;
    t->end = p + len;
    t->depth = 0;
    t->failed = false;
    t->err = err;
    t->errlen = errlen;
}

int pq_thrift_fail(struct pq_thrift *t, const char *what)
{
    if (!t->failed) {
        t->failed = true;
        util_seterr(t->err, t->errlen, "thrift: %s", what);
    }
    return FEATD_ERR;
}

static int thrift_varint(struct pq_thrift *t, uint64_t *v)
{
    uint64_t r = 0;
    int shift = 0;
    if (t->failed) {
        return FEATD_ERR;
    }
    for (;;) {
        if (t->p >= t->end) {
            return pq_thrift_fail(t, "truncated varint");
        }
        uint8_t b = *t->p++;
        if (shift == 63 && (b & 0x7e) != 0) {
            return pq_thrift_fail(t, "varint overflow");
        }
        r |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            break;
        }
        shift += 7;
        if (shift > 63) {
            return pq_thrift_fail(t, "varint too long");
        }
    }
    *v = r;
    return FEATD_OK;
}

static int64_t unzigzag(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

int pq_thrift_field(struct pq_thrift *t, int16_t *last, int16_t *id, int *type)
{
    if (t->failed) {
        return FEATD_ERR;
    }
    if (t->p >= t->end) {
        return pq_thrift_fail(t, "truncated struct");
    }
    uint8_t b = *t->p++;
    int ty = b & 0x0f;
    if (ty == PQ_T_STOP) {
        return 0;
    }
    if (ty > PQ_T_STRUCT) {
        return pq_thrift_fail(t, "invalid field type");
    }
    int delta = b >> 4;
    int32_t fid;
    if (delta != 0) {
        fid = (int32_t)*last + delta;
    } else {
        uint64_t v;
        if (thrift_varint(t, &v) != FEATD_OK) {
            return FEATD_ERR;
        }
        int64_t z = unzigzag(v);
        if (z < INT16_MIN || z > INT16_MAX) {
            return pq_thrift_fail(t, "field id out of range");
        }
        fid = (int32_t)z;
    }
    if (fid > INT16_MAX) {
        return pq_thrift_fail(t, "field id out of range");
    }
    *last = (int16_t)fid;
    *id = (int16_t)fid;
    *type = ty;
    return 1;
}

int pq_thrift_int(struct pq_thrift *t, int type, int64_t min, int64_t max, int64_t *v)
{
    int64_t r;
    if (t->failed) {
        return FEATD_ERR;
    }
    if (type == PQ_T_BYTE) {
        if (t->p >= t->end) {
            return pq_thrift_fail(t, "truncated byte");
        }
        r = (int8_t)*t->p++;
    } else if (type == PQ_T_I16 || type == PQ_T_I32 || type == PQ_T_I64) {
        uint64_t u;
        if (thrift_varint(t, &u) != FEATD_OK) {
            return FEATD_ERR;
        }
        r = unzigzag(u);
    } else {
        return pq_thrift_fail(t, "expected an integer field");
    }
    if (r < min || r > max) {
        char msg[96];
        snprintf(msg, sizeof msg, "integer field value %lld outside [%lld, %lld]", (long long)r,
                 (long long)min, (long long)max);
        return pq_thrift_fail(t, msg);
    }
    *v = r;
    return FEATD_OK;
}

int pq_thrift_binary(struct pq_thrift *t, int type, const uint8_t **p, size_t *len)
{
    uint64_t n;
    if (type != PQ_T_BINARY) {
        return pq_thrift_fail(t, "expected a binary field");
    }
    if (thrift_varint(t, &n) != FEATD_OK) {
        return FEATD_ERR;
    }
    if (n > (uint64_t)(t->end - t->p)) {
        return pq_thrift_fail(t, "binary length past end of buffer");
    }
    *p = t->p;
    *len = (size_t)n;
    t->p += n;
    return FEATD_OK;
}

int pq_thrift_list(struct pq_thrift *t, int type, int *etype, size_t *count)
{
    if (t->failed) {
        return FEATD_ERR;
    }
    if (type != PQ_T_LIST && type != PQ_T_SET) {
        return pq_thrift_fail(t, "expected a list field");
    }
    if (t->p >= t->end) {
        return pq_thrift_fail(t, "truncated list header");
    }
    uint8_t b = *t->p++;
    uint64_t n = b >> 4;
    int et = b & 0x0f;
    if (n == 15) {
        if (thrift_varint(t, &n) != FEATD_OK) {
            return FEATD_ERR;
        }
    }
    if (et == PQ_T_STOP || et > PQ_T_STRUCT) {
        /* compact protocol writes booleans in lists as type 1 or 2 */
        if (!(n == 0 && et == PQ_T_STOP)) {
            return pq_thrift_fail(t, "invalid list element type");
        }
    }
    if (n > (uint64_t)(t->end - t->p)) {
        return pq_thrift_fail(t, "list count past end of buffer");
    }
    *etype = et;
    *count = (size_t)n;
    return FEATD_OK;
}

int pq_thrift_enter(struct pq_thrift *t, int type)
{
    if (t->failed) {
        return FEATD_ERR;
    }
    if (type != PQ_T_STRUCT) {
        return pq_thrift_fail(t, "expected a struct field");
    }
    if (t->depth >= PQ_THRIFT_MAX_DEPTH) {
        return pq_thrift_fail(t, "nesting too deep");
    }
    t->depth++;
    return FEATD_OK;
}

void pq_thrift_leave(struct pq_thrift *t)
{
    if (t->depth > 0) {
        t->depth--;
    }
}

int pq_thrift_skip(struct pq_thrift *t, int type)
{
    uint64_t v;
    if (t->failed) {
        return FEATD_ERR;
    }
    switch (type) {
    case PQ_T_TRUE:
    case PQ_T_FALSE:
        return FEATD_OK;            /* value carried in the field header */
    case PQ_T_BYTE:
        if (t->p >= t->end) {
            return pq_thrift_fail(t, "truncated byte");
        }
        t->p++;
        return FEATD_OK;
    case PQ_T_I16:
    case PQ_T_I32:
    case PQ_T_I64:
        return thrift_varint(t, &v);
    case PQ_T_DOUBLE:
        if (t->end - t->p < 8) {
            return pq_thrift_fail(t, "truncated double");
        }
        t->p += 8;
        return FEATD_OK;
    case PQ_T_BINARY: {
        const uint8_t *p;
        size_t n;
        return pq_thrift_binary(t, type, &p, &n);
    }
    case PQ_T_LIST:
    case PQ_T_SET: {
        int et;
        size_t n;
        if (pq_thrift_list(t, type, &et, &n) != FEATD_OK) {
            return FEATD_ERR;
        }
        if (t->depth >= PQ_THRIFT_MAX_DEPTH) {
            return pq_thrift_fail(t, "nesting too deep");
        }
        t->depth++;
        for (size_t i = 0; i < n; i++) {
            if (et == PQ_T_TRUE || et == PQ_T_FALSE) {
                /* booleans inside collections take one byte each */
                if (t->p >= t->end) {
                    return pq_thrift_fail(t, "truncated list");
                }
                t->p++;
            } else if (pq_thrift_skip(t, et) != FEATD_OK) {
                return FEATD_ERR;
            }
        }
        t->depth--;
        return FEATD_OK;
    }
    case PQ_T_MAP: {
        if (thrift_varint(t, &v) != FEATD_OK) {
            return FEATD_ERR;
        }
        if (v == 0) {
            return FEATD_OK;
        }
        if (v > (uint64_t)(t->end - t->p)) {
            return pq_thrift_fail(t, "map count past end of buffer");
        }
        if (t->p >= t->end) {
            return pq_thrift_fail(t, "truncated map header");
        }
        uint8_t kv = *t->p++;
        int kt = kv >> 4, vt = kv & 0x0f;
        if (kt == PQ_T_STOP || kt > PQ_T_STRUCT || vt == PQ_T_STOP || vt > PQ_T_STRUCT) {
            return pq_thrift_fail(t, "invalid map element type");
        }
        if (t->depth >= PQ_THRIFT_MAX_DEPTH) {
            return pq_thrift_fail(t, "nesting too deep");
        }
        t->depth++;
        for (uint64_t i = 0; i < v; i++) {
            for (int k = 0; k < 2; k++) {
                int et = k == 0 ? kt : vt;
                if (et == PQ_T_TRUE || et == PQ_T_FALSE) {
                    if (t->p >= t->end) {
                        return pq_thrift_fail(t, "truncated map");
                    }
                    t->p++;
                } else if (pq_thrift_skip(t, et) != FEATD_OK) {
                    return FEATD_ERR;
                }
            }
        }
        t->depth--;
        return FEATD_OK;
    }
    case PQ_T_STRUCT: {
        if (pq_thrift_enter(t, type) != FEATD_OK) {
            return FEATD_ERR;
        }
        int16_t last = 0, id;
        int ft, r;
        while ((r = pq_thrift_field(t, &last, &id, &ft)) == 1) {
            if (pq_thrift_skip(t, ft) != FEATD_OK) {
                return FEATD_ERR;
            }
        }
        if (r != 0) {
            return FEATD_ERR;
        }
        pq_thrift_leave(t);
        return FEATD_OK;
    }
    default:
        return pq_thrift_fail(t, "invalid type to skip");
    }
}
