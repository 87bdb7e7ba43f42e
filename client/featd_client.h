/*
 * featd_client.h — libfeatd, the C client library of featd (docs/cli.md
 * shows it from the command line; docs/protocol.md is the wire format).
 *
 * A blocking, pipelining client over one TCP connection. Every message is a
 * frame: a 4-byte big-endian length N, then N bytes of one protobuf message
 * (featd.v1.Request from us, featd.v1.Response from the server). The library
 * depends only on libc and protobuf-c (the generated featd.pb-c.[ch] are
 * linked into libfeatd.a); it never includes server code.
 *
 * Naming: this is the library's one public header, and every public name
 * starts with featd_ / FEATD_ (the library's name, a contract with its
 * users) rather than with a source file's name. The sources follow the
 * sections below: featd_client.c (connection, framing, calls), featd_get.c
 * (the featd_get_* request builder), featd_write.c (the featd_write_*
 * request builder of pushed rows), featd_resp.c (featd_resp_* accessors,
 * enum names), featd_value.c (featd_value_*), featd_time.c (featd_time_*).
 *
 * Typical use:
 *
 *     char err[256];
 *     struct featd_client *c = featd_connect("127.0.0.1", 6566, 1000, err, sizeof err);
 *     struct featd_get *g = featd_get_new();
 *     featd_get_add_feature(g, "customer_stats:revenue_30d");
 *     featd_get_add_int64(g, "customer_id", 42);
 *     Featd__V1__Response *resp;
 *     if (featd_lookup(c, g, &resp) != FEATD_OK)
 *         fprintf(stderr, "%s\n", featd_errmsg(c));
 *     ... resp->get_online_features ...
 *     featd_response_free(resp);
 *     featd_get_free(g);
 *     featd_close(c);
 *
 * Pipelining: featd_send() (or featd_queue() + featd_flush()) any number of
 * requests (featd_get_request / featd_write_request build them), then
 * featd_recv() the responses one by one and match them by request_id
 * (featd_check_response / featd_write_result read them). While it writes, the library also reads whatever the server
 * answers into an input buffer, so deep pipelines cannot deadlock.
 *
 * Timeouts: the connection's timeout (featd_connect's timeout_ms, changed by
 * featd_set_timeout) bounds each blocking call as a whole (connect, one
 * send/flush, one recv, one call). 0 = wait forever. A timeout does not break
 * the connection: buffered bytes are kept, and a late response is delivered
 * by the next featd_recv(). I/O errors, EOF and oversized frames do break it;
 * every later call then fails with the same message.
 *
 * Errors: functions return FEATD_OK (0) or FEATD_ERR (-1); featd_errmsg()
 * says what happened, featd_errcode() classifies it (enum featd_error), and
 * after FEATD_E_SERVER featd_server_code() gives the server's ErrorCode.
 * Not thread-safe: use one struct featd_client per thread.
 */
#ifndef FEATD_CLIENT_H
#define FEATD_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "featd.pb-c.h"

/* Same values as server/core/featd.h (this header must not need server/). */
#ifndef FEATD_OK
#define FEATD_OK 0
#endif
#ifndef FEATD_ERR
#define FEATD_ERR -1
#endif

#define FEATD_DEFAULT_PORT 6566
#define FEATD_DEFAULT_TIMEOUT_MS 1000
#define FEATD_DEFAULT_MAX_FRAME (64u * 1024u * 1024u)   /* response frames */

/* What the last failure was (featd_errcode). */
enum featd_error {
    FEATD_E_NONE = 0,
    FEATD_E_USAGE,      /* bad argument (NULL request, frame > 4 GiB, ...) */
    FEATD_E_NOMEM,
    FEATD_E_TIMEOUT,    /* the call's timeout expired (connection still usable) */
    FEATD_E_CLOSED,     /* the server closed the connection */
    FEATD_E_IO,         /* socket error */
    FEATD_E_PROTOCOL,   /* oversized/undecodable response, unexpected body */
    FEATD_E_SERVER      /* the server answered with an Error (featd_server_code) */
};

struct featd_client;

/* ---- connection ---- */

/*
 * Connect to host:port (a name, IPv4 or IPv6 literal; every resolved address
 * is tried in turn) with a non-blocking connect bounded by timeout_ms
 * (0 = no timeout), TCP_NODELAY set. timeout_ms also becomes the per-call
 * timeout. Returns NULL with a message in err ("connect to H:P: Connection
 * refused", "timeout after 200 ms connecting to H:P") on failure.
 */
struct featd_client *featd_connect(const char *host, int port, int timeout_ms,
                                   char *err, size_t errlen);
void featd_close(struct featd_client *c);                /* NULL is fine */

/* TLS to a featd whose config has a "tls" section (DESIGN §14). */
struct featd_tls {
    const char *ca_file;        /* PEM CA bundle the server certificate must chain to;
                                   NULL = the system's default store */
    const char *cert_file;      /* client certificate for mTLS (PEM), NULL = none */
    const char *key_file;       /*   and its key */
    const char *server_name;    /* SNI and the name the certificate must carry; NULL = host */
    int insecure;               /* non-zero: no verification at all (tests, never production) */
};
/*
 * featd_connect, then a TLS 1.2+ handshake within the same timeout_ms,
 * verifying the server certificate against tls->ca_file and its name. NULL
 * with err ("TLS handshake with H:P: certificate verify failed ...") on
 * failure. Reads and writes are then encrypted; everything else is the same.
 */
struct featd_client *featd_connect_tls(const char *host, int port, int timeout_ms,
                                       const struct featd_tls *tls, char *err, size_t errlen);

void featd_set_timeout(struct featd_client *c, int timeout_ms);    /* 0 = none */
int featd_get_timeout(const struct featd_client *c);
/* Largest response frame accepted (default FEATD_DEFAULT_MAX_FRAME); a longer
 * one is a FEATD_E_PROTOCOL error that breaks the connection, never a malloc. */
void featd_set_max_frame(struct featd_client *c, uint32_t bytes);
int featd_fd(const struct featd_client *c);              /* the socket (tests) */
const char *featd_peer(const struct featd_client *c);    /* "host:port" */
/* A fresh request id (1, 2, 3, ... per connection). */
uint64_t featd_next_id(struct featd_client *c);

/* Why the last failed call on c failed; a call that fails sets it and
 * featd_broken's reason stays for later calls. The string is owned by c and
 * valid until its next call. featd_connect failures have no client: they are
 * reported in its err buffer instead. */
const char *featd_errmsg(const struct featd_client *c);
/* The class of that failure (FEATD_E_NONE when none). */
enum featd_error featd_errcode(const struct featd_client *c);
/* The server's featd.v1.ErrorCode after FEATD_E_SERVER, else -1. */
int featd_server_code(const struct featd_client *c);
/* True once the connection can no longer be used (EOF, I/O error, bad frame). */
bool featd_broken(const struct featd_client *c);

/* ---- framing: pipelined send / receive ---- */

/* Encode req as one frame and write it (waits up to the timeout for the
 * socket to accept everything queued). */
int featd_send(struct featd_client *c, const Featd__V1__Request *req);
/* Append req's frame to the output buffer without writing (see featd_flush):
 * lets a test put many frames into one write. */
int featd_queue(struct featd_client *c, const Featd__V1__Request *req);
/* Write raw bytes as they are (garbage, hand-made or oversized frames). */
int featd_send_raw(struct featd_client *c, const void *buf, size_t len);
/* Queue raw bytes without writing. */
int featd_queue_raw(struct featd_client *c, const void *buf, size_t len);
/* Write everything queued; waits up to the timeout. */
int featd_flush(struct featd_client *c);
/* Bytes queued but not yet written. */
size_t featd_pending(const struct featd_client *c);

/* Read the next response frame (after flushing queued output). *out is the
 * decoded Response, whatever its body (an Error body is not a failure here);
 * free it with featd_response_free. On failure *out is NULL. */
int featd_recv(struct featd_client *c, Featd__V1__Response **out);
void featd_response_free(Featd__V1__Response *resp);    /* NULL is fine */

/* featd_send + featd_recv. Responses whose request_id differs from req's
 * (late answers to requests that timed out earlier) are dropped, except an
 * Error with request_id 0 (the server could not decode the frame), which is
 * returned. Do not mix with outstanding pipelined requests. Any decoded
 * response (including an Error body) gives FEATD_OK. */
int featd_call(struct featd_client *c, const Featd__V1__Request *req,
               Featd__V1__Response **out);

/* Like featd_call, but also fails (FEATD_E_SERVER, "server error CODE: msg")
 * when the body is an Error and (FEATD_E_PROTOCOL) when the body is not
 * `expect` (a Featd__V1__Response__BodyCase). *out is NULL on failure. */
int featd_call_expect(struct featd_client *c, const Featd__V1__Request *req,
                      int expect, Featd__V1__Response **out);

/* For pipelined responses: FEATD_OK when resp's body is `expect`; otherwise
 * sets c's error as featd_call_expect does (FEATD_E_SERVER with
 * featd_server_code for an Error body, FEATD_E_PROTOCOL for another body)
 * and returns FEATD_ERR. resp stays the caller's (not freed). */
int featd_check_response(struct featd_client *c, const Featd__V1__Response *resp, int expect);

/* ---- typed calls ---- */

/* Ping; *server_time_us (may be NULL) gets the server's wall clock. */
int featd_ping(struct featd_client *c, int64_t *server_time_us);
/* Authenticates the connection with token (a featd with "auth" configured
 * answers every other request UNAUTHENTICATED until this succeeds; DESIGN
 * §14): sends an AuthRequest and returns the principal the server names
 * (the token's name; "" or the mTLS principal when the server has no
 * auth), owned by c until the next featd_auth or featd_close. NULL on
 * failure: featd_server_code(c) is 6 (UNAUTHENTICATED) for an unknown
 * token; after 3 refused tokens the server closes the connection. */
const char *featd_auth(struct featd_client *c, const char *token);
int featd_list_views(struct featd_client *c, Featd__V1__Response **out);
int featd_server_info(struct featd_client *c, Featd__V1__Response **out);
/* Pipelining helpers: send one request of that type with request_id id. */
int featd_send_ping(struct featd_client *c, uint64_t id);
int featd_send_list_views(struct featd_client *c, uint64_t id);
int featd_send_server_info(struct featd_client *c, uint64_t id);

/* ---- GetOnlineFeatures request builder ---- */

struct featd_get;

struct featd_get *featd_get_new(void);                   /* NULL on OOM */
void featd_get_free(struct featd_get *g);                /* NULL is fine */
/* Forget features, entities and deadline; keeps memory. */
void featd_get_reset(struct featd_get *g);
/* "view:feature" or "view:*". */
int featd_get_add_feature(struct featd_get *g, const char *ref);
/* Append one value to the entity column join_key (created on first use, in
 * order of first use). Rows are column-wise: add the same number of values
 * to every column (the server rejects unequal lengths). */
int featd_get_add_int64(struct featd_get *g, const char *join_key, int64_t v);
int featd_get_add_string(struct featd_get *g, const char *join_key, const char *s);
int featd_get_add_null(struct featd_get *g, const char *join_key);
/* Any value (deep copy): lets tests send mistyped join keys. */
int featd_get_add_value(struct featd_get *g, const char *join_key,
                        const Featd__V1__Value *v);
void featd_get_set_deadline(struct featd_get *g, uint32_t ms);
/* Shadow reads (DESIGN 12): read the generation each view's quality gate
 * holds instead of the current one (NOT_FOUND for views without one). */
void featd_get_set_held(struct featd_get *g, int held);
size_t featd_get_nfeatures(const struct featd_get *g);
size_t featd_get_ncolumns(const struct featd_get *g);
/* The request, valid until the builder is next changed or freed. */
const Featd__V1__Request *featd_get_request(struct featd_get *g, uint64_t request_id);
/* Send the request with a fresh id, receive its response; fails
 * (FEATD_E_SERVER) on an Error body. */
int featd_lookup(struct featd_client *c, struct featd_get *g, Featd__V1__Response **out);

/* ---- WriteFeatures request builder (pushed rows, DESIGN §11) ---- */

/*
 * Rows of one feature view, column-wise: per join key and per feature one
 * column of values (created in order of first use), and one event time per
 * row. Add the same number of values to every column and one event time per
 * row; the server validates the whole request (unknown view, missing or
 * extra join key or feature, mistyped value, unequal lengths, missing event
 * time: INVALID_ARGUMENT, nothing written). Every feature of the view must
 * be given (a null is featd_write_add_null). Values are deep copies owned
 * by the builder. Not thread-safe (one builder per thread).
 *
 *     struct featd_write *w = featd_write_new("customer_stats");
 *     featd_write_add_key_int64(w, "customer_id", 42);
 *     featd_write_add_double(w, "revenue_30d", 12.5);
 *     featd_write_add_event_time(w, now_us);
 *     uint32_t written, stale;
 *     if (featd_write(c, w, &written, &stale) != FEATD_OK)
 *         fprintf(stderr, "%s\n", featd_errmsg(c));   // featd_server_code(c): why
 *
 * Pipelined: featd_send(c, featd_write_request(w, id)) (the frame is encoded
 * by then, so the builder may be reset and refilled at once), later
 * featd_recv + featd_write_result.
 */
struct featd_write;

struct featd_write *featd_write_new(const char *feature_view);  /* NULL on OOM */
void featd_write_free(struct featd_write *w);                   /* NULL is fine */
/* Forget columns and event times (the next rows start afresh); keeps the
 * view and memory. */
void featd_write_reset(struct featd_write *w);
int featd_write_set_view(struct featd_write *w, const char *feature_view);
/* Append one value to the join key column join_key. */
int featd_write_add_key_int64(struct featd_write *w, const char *join_key, int64_t v);
int featd_write_add_key_string(struct featd_write *w, const char *join_key, const char *s);
int featd_write_add_key_value(struct featd_write *w, const char *join_key,
                              const Featd__V1__Value *v);          /* deep copy */
/* Append one value to the feature column feature. */
int featd_write_add_null(struct featd_write *w, const char *feature);
int featd_write_add_bool(struct featd_write *w, const char *feature, bool v);
int featd_write_add_int32(struct featd_write *w, const char *feature, int32_t v);
int featd_write_add_int64(struct featd_write *w, const char *feature, int64_t v);
int featd_write_add_float(struct featd_write *w, const char *feature, float v);
int featd_write_add_double(struct featd_write *w, const char *feature, double v);
int featd_write_add_string(struct featd_write *w, const char *feature, const char *s);
int featd_write_add_bytes(struct featd_write *w, const char *feature, const void *p, size_t n);
int featd_write_add_timestamp(struct featd_write *w, const char *feature, int64_t us);
/* Any value, lists included (deep copy; NULL = null). */
int featd_write_add_value(struct featd_write *w, const char *feature, const Featd__V1__Value *v);
/* Append one row's event time (µs since the epoch, UTC). */
int featd_write_add_event_time(struct featd_write *w, int64_t us);
size_t featd_write_nrows(const struct featd_write *w);     /* event times added */
size_t featd_write_nkeys(const struct featd_write *w);     /* join key columns */
size_t featd_write_nfeatures(const struct featd_write *w); /* feature columns */
/* The request, valid until the builder is next changed or freed. */
const Featd__V1__Request *featd_write_request(struct featd_write *w, uint64_t request_id);
/* Blocking: send the request with a fresh id and wait for its answer.
 * FEATD_OK with the server's counts (either pointer may be NULL): rows
 * written, and rows skipped as stale (strictly older than the stored pushed
 * row). On failure featd_errcode/featd_errmsg say why; an Error body is
 * FEATD_E_SERVER with featd_server_code (INVALID_ARGUMENT: nothing written). */
int featd_write(struct featd_client *c, struct featd_write *w, uint32_t *rows_written,
                uint32_t *rows_stale);
/* Pipelined: the counts of a write_features response received with
 * featd_recv; an Error or another body fails as featd_check_response.
 * resp stays the caller's. */
int featd_write_result(struct featd_client *c, const Featd__V1__Response *resp,
                       uint32_t *rows_written, uint32_t *rows_stale);

/* ---- reading responses ---- */

const char *featd_status_name(int status);          /* "PRESENT", ..., "?" */
const char *featd_error_code_name(int code);        /* "INVALID_ARGUMENT", ... */
const char *featd_body_name(int body_case);         /* "error", "ping", ... */
const char *featd_value_kind_name(int kind_case);   /* "int64", "float_list", "null" */

/* Index of feature name in r->feature_names, -1 when absent. */
int featd_resp_feature_index(const Featd__V1__GetOnlineFeaturesResponse *r, const char *name);
/* Bounds-checked accessors: NULL / -1 / 0 when out of range. */
const Featd__V1__Value *featd_resp_value(const Featd__V1__GetOnlineFeaturesResponse *r,
                                         size_t feature, size_t row);
int featd_resp_status(const Featd__V1__GetOnlineFeaturesResponse *r,
                      size_t feature, size_t row);
int64_t featd_resp_event_ts(const Featd__V1__GetOnlineFeaturesResponse *r,
                            size_t feature, size_t row);

/* Value formatting, snprintf-like: writes at most cap bytes (NUL included,
 * buf may be NULL when cap is 0) and returns the full length.
 * FEATD_FMT_JSON: JSON text — null, true/false, numbers (NaN/Infinity as the
 * strings "NaN"/"Infinity"/"-Infinity"), strings quoted and escaped, bytes as
 * base64 strings, timestamps as ISO-8601 UTC strings, lists as arrays.
 * FEATD_FMT_TEXT: for people — strings unquoted, bytes as 0x hex, lists as
 * [a, b, ...] with at most 8 elements shown. */
#define FEATD_FMT_JSON 0
#define FEATD_FMT_TEXT 1
size_t featd_value_format(const Featd__V1__Value *v, int fmt, char *buf, size_t cap);
/* Same, into a malloc'd string (NULL on OOM). */
char *featd_value_str(const Featd__V1__Value *v, int fmt);
/* An owned deep copy of v (any kind, lists included; NULL on OOM), freed
 * with featd_value_free (NULL is fine). Only for values the library or
 * featd_value_dup allocated, never for ones inside a decoded response. */
Featd__V1__Value *featd_value_dup(const Featd__V1__Value *v);
void featd_value_free(Featd__V1__Value *v);

/* Timestamps: µs since the epoch, UTC. format gives
 * "2026-11-21T10:00:00Z" or "2026-11-21T10:00:00.123456Z" (snprintf-like).
 * parse accepts "YYYY-MM-DD[Tt ]HH:MM:SS[.f{1,9}][Z|z|+HH:MM|-HH:MM|+HHMM]"
 * and "YYYY-MM-DD" (midnight UTC); no zone = UTC. FEATD_ERR on anything else. */
size_t featd_time_format(int64_t us, char *buf, size_t cap);
int featd_time_parse(const char *s, int64_t *us);

#endif
