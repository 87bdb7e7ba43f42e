/*
 * proto.c — protobuf-c glue for the server (see proto.h).
 */
#include "wire/proto.h"

#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "core/util.h"
#include "wire/frame.h"
#include "online/online.h"

Featd__V1__Request *proto_decode_request(struct arena *a, const uint8_t *data, size_t len)
{
    return featd__v1__request__unpack(&a->pb, len, data);
}

int proto_write_response(struct evbuffer *out, const Featd__V1__Response *resp)
{
    size_t n = featd__v1__response__get_packed_size(resp);
    if (n > UINT32_MAX) {
        return FEATD_ERR;
    }
    struct evbuffer_iovec v;
    if (evbuffer_reserve_space(out, FRAME_HEADER + n, &v, 1) != 1) {
        return FEATD_ERR;
    }
    uint8_t *p = v.iov_base;
    frame_header(p, (uint32_t)n);
    featd__v1__response__pack(resp, p + FRAME_HEADER);
    v.iov_len = FRAME_HEADER + n;
    return evbuffer_commit_space(out, &v, 1) == 0 ? FEATD_OK : FEATD_ERR;
}

int proto_write_error(struct evbuffer *out, uint64_t request_id, int code, const char *message)
{
    Featd__V1__Error err = FEATD__V1__ERROR__INIT;
    Featd__V1__Response resp = FEATD__V1__RESPONSE__INIT;
    err.code = (Featd__V1__ErrorCode)code;
    err.message = (char *)message;
    resp.request_id = request_id;
    resp.body_case = FEATD__V1__RESPONSE__BODY_ERROR;
    resp.error = &err;
    return proto_write_response(out, &resp);
}

const char *proto_code_name(int code)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&featd__v1__error_code__descriptor, code);
    return v ? v->name : "UNKNOWN";
}

/* ---- direct encoder for GetOnlineFeatures answers ----
 *
 * Wire layout (field numbers from featd.proto):
 *   Response: 1 request_id (varint, omitted when 0), 3 get_online_features
 *   GetOnlineFeaturesResponse: 1 feature_names (repeated string),
 *                              2 results (repeated FeatureVector)
 *   FeatureVector: 1 values (repeated Value), 2 statuses (packed enum),
 *                  3 event_timestamps_us (packed int64)
 *   Value: oneof, fields 1..12 (see proto_value_size)
 * The row codec stores lists in wire-compatible form: float/double lists as
 * little-endian arrays (= packed fixed32/fixed64), string lists as
 * varint-length-prefixed strings (each needs only its 0x0a tag).
 */

#define PB_LEN 2
#define PB_VARINT 0
#define PB_I64 1
#define PB_I32 5
#define PB_TAG(field, wt) ((uint8_t)(((field) << 3) | (wt)))

/* Bytes of v as a varint: one per started 7-bit group (branch-free: the
 * answer encoder sizes three varints per cell). */
static inline size_t pb_varint_size(uint64_t v)
{
    return (size_t)(70 - __builtin_clzll(v | 1)) / 7;
}

/* The length is known up front, so the bytes do not depend on each other
 * (no shift chain, one predictable loop): event timestamps are 8-byte
 * varints and every answer cell has one. */
static inline uint8_t *pb_put_varint(uint8_t *p, uint64_t v)
{
    if (v < 0x80) {
        *p = (uint8_t)v;
        return p + 1;
    }
    size_t n = pb_varint_size(v);
    for (size_t i = 0; i + 1 < n; i++) {
        p[i] = (uint8_t)((v >> (7 * i)) | 0x80);
    }
    p[n - 1] = (uint8_t)(v >> (7 * (n - 1)));
    return p + n;
}

/* Little-endian fixed-width fields (fixed32/fixed64, float, double). */
static inline uint8_t *pb_put_le(uint8_t *p, const void *src, size_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(p, src, n);
#else
    uint64_t u = 0;
    memcpy((uint8_t *)&u + (sizeof(u) - n), src, n);
    for (size_t i = 0; i < n; i++) {
        p[i] = (uint8_t)(u >> (8 * i));
    }
#endif
    return p + n;
}

/* Size of a list value's inner message (FloatList etc.). */
static size_t proto_list_inner_size(enum featd_type t, const struct online_value *v)
{
    if (v->count == 0) {
        return 0;
    }
    switch (t) {
    case FT_FLOAT_LIST:
    case FT_DOUBLE_LIST:
        return 1 + pb_varint_size(v->rawlen) + v->rawlen;
    case FT_INT64_LIST: {
        size_t n = 0;
        for (uint32_t i = 0; i < v->count; i++) {
            n += pb_varint_size((uint64_t)online_row_list_int64(v, i));
        }
        return 1 + pb_varint_size(n) + n;
    }
    case FT_STRING_LIST:
        return v->rawlen + v->count;    /* a tag byte before each varint-len string */
    default:
        return 0;
    }
}

/* Size of the Value message payload for a non-null cell. */
static size_t proto_value_size(enum featd_type t, const struct online_value *v)
{
    switch (t) {
    case FT_BOOL:
        return 2;
    case FT_INT32:
        return 1 + pb_varint_size((uint64_t)(int64_t)v->u.i32);
    case FT_INT64:
    case FT_TIMESTAMP:
        return 1 + pb_varint_size((uint64_t)v->u.i64);
    case FT_FLOAT:
        return 5;
    case FT_DOUBLE:
        return 9;
    case FT_STRING:
    case FT_BYTES:
        return 1 + pb_varint_size(v->slen) + v->slen;
    default: {
        size_t inner = proto_list_inner_size(t, v);
        return 1 + pb_varint_size(inner) + inner;
    }
    }
}

static uint8_t *proto_put_value(uint8_t *p, enum featd_type t, const struct online_value *v)
{
    switch (t) {
    case FT_BOOL:
        *p++ = PB_TAG(1, PB_VARINT);
        *p++ = v->u.b ? 1 : 0;
        return p;
    case FT_INT32:
        *p++ = PB_TAG(2, PB_VARINT);
        return pb_put_varint(p, (uint64_t)(int64_t)v->u.i32);
    case FT_INT64:
        *p++ = PB_TAG(3, PB_VARINT);
        return pb_put_varint(p, (uint64_t)v->u.i64);
    case FT_TIMESTAMP:
        *p++ = PB_TAG(8, PB_VARINT);
        return pb_put_varint(p, (uint64_t)v->u.i64);
    case FT_FLOAT:
        *p++ = PB_TAG(4, PB_I32);
        return pb_put_le(p, &v->u.f, 4);
    case FT_DOUBLE:
        *p++ = PB_TAG(5, PB_I64);
        return pb_put_le(p, &v->u.d, 8);
    case FT_STRING:
    case FT_BYTES:
        *p++ = t == FT_STRING ? PB_TAG(6, PB_LEN) : PB_TAG(7, PB_LEN);
        p = pb_put_varint(p, v->slen);
        if (v->slen) {
            memcpy(p, v->s, v->slen);
        }
        return p + v->slen;
    default:
        break;
    }
    static const uint8_t list_field[FT__COUNT] = {
        [FT_FLOAT_LIST] = 9, [FT_DOUBLE_LIST] = 10, [FT_INT64_LIST] = 11, [FT_STRING_LIST] = 12
    };
    size_t inner = proto_list_inner_size(t, v);
    *p++ = PB_TAG(list_field[t], PB_LEN);
    p = pb_put_varint(p, inner);
    if (v->count == 0) {
        return p;
    }
    switch (t) {
    case FT_FLOAT_LIST:
    case FT_DOUBLE_LIST:
        *p++ = PB_TAG(1, PB_LEN);
        p = pb_put_varint(p, v->rawlen);
        memcpy(p, v->raw, v->rawlen);
        return p + v->rawlen;
    case FT_INT64_LIST: {
        size_t n = 0;
        for (uint32_t i = 0; i < v->count; i++) {
            n += pb_varint_size((uint64_t)online_row_list_int64(v, i));
        }
        *p++ = PB_TAG(1, PB_LEN);
        p = pb_put_varint(p, n);
        for (uint32_t i = 0; i < v->count; i++) {
            p = pb_put_varint(p, (uint64_t)online_row_list_int64(v, i));
        }
        return p;
    }
    case FT_STRING_LIST: {
        const uint8_t *cur = v->raw, *end = v->raw + v->rawlen;
        while (cur < end) {
            uint64_t len;
            size_t used = util_get_varint(cur, (size_t)(end - cur), &len);
            *p++ = PB_TAG(1, PB_LEN);
            memcpy(p, cur, used + (size_t)len);
            p += used + (size_t)len;
            cur += used + (size_t)len;
        }
        return p;
    }
    default:
        return p;
    }
}

int proto_write_get_answer(struct evbuffer *out, const struct proto_get_answer *a, uint32_t *sizes)
{
    size_t nf = a->nfeatures, nr = a->nrows;
    /* pass 1: sizes */
    uint64_t gsize = 0;
    for (size_t f = 0; f < nf; f++) {
        size_t nl = strlen(a->names[f]);
        gsize += 1 + pb_varint_size(nl) + nl;
    }
    /* per feature: FeatureVector size and its event_timestamps payload size */
    struct fv_sizes {
        uint64_t fv, ts;
        const uint8_t *at;      /* where pass 2 wrote its event_timestamps payload */
    } small[64], *fvs = nf <= 64 ? small : malloc(sizeof(*fvs) * nf);
    if (fvs == NULL) {
        return FEATD_ERR;
    }
    for (size_t f = 0; f < nf; f++) {
        uint64_t fv = 0, ts = 0;
        size_t same = a->ts_same ? a->ts_same[f] : f;
        for (size_t r = 0; r < nr; r++) {
            size_t i = f * nr + r;
            const struct online_value *v = a->cells[i];
            size_t vs = v ? proto_value_size((enum featd_type)a->types[f], v) : 0;
            if (vs > UINT32_MAX) {
                goto too_big;
            }
            sizes[i] = (uint32_t)vs;
            fv += 1 + pb_varint_size(vs) + vs;
        }
        if (same < f) {
            ts = fvs[same].ts;
        } else {
            for (size_t r = 0; r < nr; r++) {
                ts += pb_varint_size((uint64_t)a->event_ts[f * nr + r]);
            }
        }
        if (nr > 0) {
            fv += 1 + pb_varint_size(nr) + nr;      /* statuses: one byte each */
            fv += 1 + pb_varint_size(ts) + ts;
        }
        fvs[f].fv = fv;
        fvs[f].ts = ts;
        fvs[f].at = NULL;
        gsize += 1 + pb_varint_size(fv) + fv;
    }
    uint64_t total = (a->request_id ? 1 + pb_varint_size(a->request_id) : 0) + 1 + pb_varint_size(gsize) + gsize;
    if (total > UINT32_MAX || (a->max_bytes && total > a->max_bytes)) {
        goto too_big;
    }

    /* pass 2: write */
    struct evbuffer_iovec iov;
    if (evbuffer_reserve_space(out, FRAME_HEADER + total, &iov, 1) != 1) {
        goto fail;
    }
    uint8_t *p = iov.iov_base;
    frame_header(p, (uint32_t)total);
    p += FRAME_HEADER;
    if (a->request_id) {
        *p++ = PB_TAG(1, PB_VARINT);
        p = pb_put_varint(p, a->request_id);
    }
    *p++ = PB_TAG(3, PB_LEN);
    p = pb_put_varint(p, gsize);
    for (size_t f = 0; f < nf; f++) {
        size_t nl = strlen(a->names[f]);
        *p++ = PB_TAG(1, PB_LEN);
        p = pb_put_varint(p, nl);
        memcpy(p, a->names[f], nl);
        p += nl;
    }
    for (size_t f = 0; f < nf; f++) {
        *p++ = PB_TAG(2, PB_LEN);
        p = pb_put_varint(p, fvs[f].fv);
        for (size_t r = 0; r < nr; r++) {
            size_t i = f * nr + r;
            *p++ = PB_TAG(1, PB_LEN);
            p = pb_put_varint(p, sizes[i]);
            if (a->cells[i]) {
                p = proto_put_value(p, (enum featd_type)a->types[f], a->cells[i]);
            }
        }
        if (nr == 0) {
            continue;
        }
        *p++ = PB_TAG(2, PB_LEN);
        p = pb_put_varint(p, nr);
        for (size_t r = 0; r < nr; r++) {
            *p++ = a->statuses[f * nr + r];
        }
        *p++ = PB_TAG(3, PB_LEN);
        p = pb_put_varint(p, fvs[f].ts);
        size_t same = a->ts_same ? a->ts_same[f] : f;
        fvs[f].at = p;
        if (same < f) {
            memcpy(p, fvs[same].at, fvs[f].ts);     /* the same view's rows: same timestamps */
            p += fvs[f].ts;
        } else {
            for (size_t r = 0; r < nr; r++) {
                p = pb_put_varint(p, (uint64_t)a->event_ts[f * nr + r]);
            }
        }
    }
    iov.iov_len = (size_t)(p - (uint8_t *)iov.iov_base);
    if (fvs != small) {
        free(fvs);
    }
    return evbuffer_commit_space(out, &iov, 1) == 0 ? FEATD_OK : FEATD_ERR;
too_big:
    if (fvs != small) {
        free(fvs);
    }
    return FEATD_EAGAIN;
fail:
    if (fvs != small) {
        free(fvs);
    }
    return FEATD_ERR;
}

const char *proto_value_kind_name(int kind_case)
{
    const ProtobufCFieldDescriptor *fd =
        protobuf_c_message_descriptor_get_field(&featd__v1__value__descriptor, (unsigned)kind_case);
    return fd ? fd->name : "null";
}
