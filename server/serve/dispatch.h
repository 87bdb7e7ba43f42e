/*
 * dispatch.h — how requests enter the serve layer: whole frames from a
 * connection (dispatch_conn_handler, given to conn_new), or requests
 * submitted on the serve context's thread by something else (the admin
 * HTTP JSON lookup), serialized or already decoded.
 */
#ifndef FEATD_DISPATCH_H
#define FEATD_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

#include "net/conn.h"
#include "serve/request.h"

/* The protocol of serving connections; conn_new's handler argument is the
 * worker's struct serve_ctx. */
extern const struct conn_handler dispatch_conn_handler;

/* A serialized featd.v1.Request from elsewhere than a connection: the
 * answer goes to sink (also for decode errors and when memory is short),
 * counted under type (enum metrics_req_type). The sink may run before this
 * returns. On ctx's thread. */
void dispatch_submit(struct serve_ctx *ctx, const uint8_t *data, size_t len, int type,
                     request_sink_fn sink, void *sink_arg);

/* The same without the serialization round trip, in two steps:
 * dispatch_begin makes a request answering to sink (NULL when memory is
 * short: nothing is called); the caller builds a featd.v1.Request in
 * &rq->arena (arena_alloc, or rq->arena.pb as a protobuf-c allocator), then
 * either dispatch_run(rq, msg), which answers through sink (maybe before
 * it returns) and takes rq over, or dispatch_cancel(rq), which frees it
 * unanswered and uncounted. On ctx's thread. */
struct request *dispatch_begin(struct serve_ctx *ctx, int type, request_sink_fn sink, void *arg);
void dispatch_run(struct request *rq, Featd__V1__Request *msg);
void dispatch_cancel(struct request *rq);

#endif
