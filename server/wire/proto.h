/*
 * proto.h — protobuf-c decode/encode for the server: unpack a Request from a
 * frame payload into a per-request arena, pack a Response straight into an
 * output evbuffer behind its frame header, build error responses. Framing is
 * frame.c's job; what a request means is serve/'s (dispatch.c, lookup.c).
 */
#ifndef FEATD_PROTO_H
#define FEATD_PROTO_H

#include <stdint.h>

#include <event2/buffer.h>

#include "core/arena.h"
#include "core/featd.h"
#include "featd.pb-c.h"

typedef Featd__V1__Request proto_request_t;
typedef Featd__V1__Response proto_response_t;

/* NULL when the payload is not a valid Request (or the arena limit is hit). */
Featd__V1__Request *proto_decode_request(struct arena *a, const uint8_t *data, size_t len);

/* Appends header + packed response to out. FEATD_ERR when out cannot grow. */
int proto_write_response(struct evbuffer *out, const Featd__V1__Response *resp) FEATD_MUSTCHECK;

/* Name of a Value's set field ("int64_val"), "null" when none (messages). */
const char *proto_value_kind_name(int kind_case);

/* Appends an error response (code is a Featd__V1__ErrorCode). */
int proto_write_error(struct evbuffer *out, uint64_t request_id, int code,
                      const char *message) FEATD_MUSTCHECK;

/* Static name of an error code ("DEADLINE_EXCEEDED"), "UNKNOWN" when not in
 * featd.proto. Test seam: only tests/unit/check_frame.c calls it, to check
 * the generated enum names the protocol documents. Pure, any thread. */
const char *proto_code_name(int code);

/*
 * A GetOnlineFeatures answer in the shape lookup.c assembles it: cell
 * (f, r) of feature f and entity row r is at index f * nrows + r. Encoded
 * by proto_write_get_answer for a connection; the admin JSON lookup
 * receives it as it is (serve/request.h, struct request_callbacks).
 */
struct online_value;
struct proto_get_answer {
    uint64_t request_id;
    size_t nfeatures;
    size_t nrows;
    char *const *names;                     /* "view:feature", nfeatures */
    const uint8_t *types;                   /* enum featd_type per feature */
    const struct online_value *const *cells;/* NULL = null value */
    const uint8_t *statuses;                /* featd.v1.FieldStatus per cell */
    const int64_t *event_ts;                /* µs per cell */
    const size_t *ts_same;                  /* optional: per feature, an earlier (or the same)
                                               feature whose event_ts column is identical
                                               (features of one view); NULL = none */
    uint64_t max_bytes;                     /* refuse a larger message (0 = 4 GiB; for
                                               the admin's JSON, 0 = no bound) */
};

/*
 * Appends header + Response{request_id, get_online_features} to out,
 * serialized straight from the decoded rows: no intermediate protobuf-c
 * structs, one sizing pass and one writing pass. The bytes are exactly what
 * protobuf-c would pack for the equivalent message (check_frame compares).
 * sizes is scratch space for nfeatures * nrows uint32_t (the caller's arena).
 * FEATD_EAGAIN (nothing written) when the message would exceed max_bytes;
 * FEATD_ERR when out cannot grow.
 */
int proto_write_get_answer(struct evbuffer *out, const struct proto_get_answer *a,
                           uint32_t *sizes) FEATD_MUSTCHECK;

#endif
