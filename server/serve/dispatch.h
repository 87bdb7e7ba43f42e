/*
 * dispatch.h — how requests enter the serve layer: whole frames from a
 * connection (dispatch_conn_handler, given to conn_new), or requests
 * built already decoded on the serve context's thread by something else
 * (the admin HTTP JSON lookup: dispatch_begin, dispatch_run).
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

/*
 * A request from elsewhere than a connection (the admin JSON lookup), built
 * already decoded, in two steps. dispatch_begin makes a request answering
 * to cb with arg (NULL when memory is short: nothing is called); input_len
 * is the size of what the caller builds it from (e.g. the JSON body): until
 * dispatch_run the request's arena holds at most DISPATCH_DECODE_FACTOR x
 * input_len + 64 KiB, the bound a frame of that size gets while decoding.
 * The caller builds a featd.v1.Request in &rq->arena (arena_alloc; strings
 * copied in, since a lookup may be sent again after dispatch_run returns),
 * then either dispatch_run(rq, msg), which validates and answers through
 * cb (maybe before it returns) and takes rq over, or dispatch_cancel(rq),
 * which frees it unanswered and uncounted. type is the enum
 * metrics_req_type the answer is counted under. On ctx's thread.
 */
#define DISPATCH_DECODE_FACTOR 40
struct request *dispatch_begin(struct serve_ctx *ctx, int type, size_t input_len,
                               const struct request_callbacks *cb, void *arg);
void dispatch_run(struct request *rq, Featd__V1__Request *msg);
void dispatch_cancel(struct request *rq);

#endif
