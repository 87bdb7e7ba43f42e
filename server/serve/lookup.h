/*
 * lookup.h — what a request means: validate against the registry, build the
 * Redis pipeline, assemble the answer. Never sees bytes on the wire.
 */
#ifndef FEATD_LOOKUP_H
#define FEATD_LOOKUP_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "core/arena.h"
#include "net/conn.h"
#include "serve/serve_ctx.h"
#include "wire/proto.h"

/* Where an answer goes when the request did not come from a connection
 * (the admin HTTP JSON lookup): called once, on the worker's thread, with the
 * response; resp and everything it points to die when the call returns. */
typedef void (*lookup_sink_fn)(void *arg, const Featd__V1__Response *resp);

/* Where a request's answer goes. Two implementations of one interface:
 * SINK_CONN encodes the answer into a connection's output; SINK_CALLBACK
 * hands the decoded Response to a function (the admin JSON lookup). A
 * closed set on purpose: answering costs a branch, not an indirect call. */
enum request_sink_kind {
    SINK_CONN = 0,
    SINK_CALLBACK
};

struct request_sink {
    enum request_sink_kind kind;
    struct conn *conn;              /* SINK_CONN: reference held */
    lookup_sink_fn fn;              /* SINK_CALLBACK */
    void *arg;
};

/* One request, from decode to answer. Lives until it is answered AND Redis
 * has called back (hiredis owns a pointer to it until then). */
struct request {
    struct request *next_free;
    struct serve_ctx *ctx;
    struct request_sink sink;
    struct registry *reg;           /* reference held */
    Featd__V1__Request *msg;        /* decoded into arena */
    uint64_t id;
    int type;                       /* enum metrics_req_type */
    int64_t start_us;
    int64_t sent_us;                /* when the current MGET was sent */
    int64_t deadline_ms;
    struct event timer;
    unsigned timer_set : 1;
    unsigned responded : 1;
    unsigned redis_pending : 1;
    int attempts;
    struct lookup_plan *plan;       /* GetOnlineFeatures state (arena) */
    struct arena arena;
};

/* The protocol of serving connections (conn_new's handler; its argument is
 * the worker's serve context): each whole frame is decoded, dispatched and answered (now, or
 * later from a Redis callback). A frame that does not decode closes the
 * connection with an error. */
extern const struct conn_handler lookup_conn_handler;

/* Entry for requests that come from elsewhere than a connection: payload is
 * a serialized featd.v1.Request; the answer goes to sink (also for decode
 * errors). type is the enum metrics_req_type to count it under. Must run on
 * w's thread. */
void lookup_submit(struct serve_ctx *ctx, const uint8_t *data, size_t len, int type,
                   lookup_sink_fn sink, void *sink_arg);

/* Frees the recycled request objects of ctx (at exit). */
void lookup_free_cache(struct serve_ctx *ctx);

#endif
