/*
 * proto.c — protobuf-c glue for the server (see proto.h).
 */
#include "proto.h"

#include "frame.h"

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
