/*
 * request.h — one request from decode to answer: the object (arena,
 * registry reference, deadline timer), the serve context's free list of
 * them, and the sink its answer goes to. Used on the serve context's
 * thread only.
 */
#ifndef FEATD_REQUEST_H
#define FEATD_REQUEST_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "core/arena.h"
#include "core/featd.h"
#include "net/conn.h"
#include "serve/serve_ctx.h"
#include "wire/proto.h"

#define REQUEST_ARENA_LIMIT (512u * 1024 * 1024)

/* What a SINK_CALLBACK request answers to (the admin JSON lookup): a
 * caller's pair of functions, both called on the serve context's thread,
 * with the arg given to dispatch_begin. No protobuf round trip: a lookup
 * answer arrives as the cells lookup.c assembled. */
struct request_callbacks {
    /* A GetOnlineFeatures answer (wire/proto.h; ga and everything it points
     * to die when the call returns). FEATD_OK once the answer is taken;
     * FEATD_EAGAIN (the caller's form of it would pass ga->max_bytes) or
     * FEATD_ERR (out of memory) when it is not: then `answer` follows with
     * a RESOURCE_EXHAUSTED error, exactly as a connection would get it. */
    int (*answer_get)(void *arg, const struct proto_get_answer *ga);
    /* Every other answer, once: an error (body ERROR), or a Ping,
     * ListFeatureViews or ServerInfo body. resp dies when it returns. */
    void (*answer)(void *arg, const Featd__V1__Response *resp);
    /* Optional: bytes the caller's output may still take (a connection's
     * conn_output_room, for the serving port's HTTP); a lookup answer
     * above it is refused as over server.max_output_bytes (counted in
     * output_limit_refusals_total), as on a protobuf connection. NULL =
     * only the response limit. */
    size_t (*room)(void *arg);
};

/* Where a request's answer goes. Two implementations of one interface:
 * SINK_CONN encodes the answer into a connection's output; SINK_CALLBACK
 * hands it to a struct request_callbacks. A closed set on purpose: a
 * connection's answer costs a branch, not an indirect call. */
enum request_sink_kind {
    SINK_CONN = 0,
    SINK_CALLBACK
};

struct request_sink {
    enum request_sink_kind kind;
    struct conn *conn;              /* SINK_CONN: reference held by the request */
    const struct request_callbacks *cb;     /* SINK_CALLBACK */
    void *arg;                      /* SINK_CALLBACK: passed to cb's functions */
};

struct lookup_plan;
struct write_state;

/* One request. Lives until it is answered AND Redis has called back
 * (hiredis owns a pointer to it until then): request_maybe_free. */
struct request {
    struct request *next_free;      /* in ctx->free_reqs while recycled */
    struct serve_ctx *ctx;
    struct request_sink sink;
    struct registry *reg;           /* reference held */
    Featd__V1__Request *msg;        /* decoded into arena */
    uint64_t id;
    int type;                       /* enum metrics_req_type */
    int64_t start_us;
    int64_t sent_us;                /* when the current attempt was sent */
    int64_t rx_us;                  /* phases (struct metrics_req_trace): frame received, */
    int64_t first_sent_us;          /*   first MGET sent, */
    int64_t reply_us;               /*   last Redis reply, */
    int64_t ready_us;               /*   answer ready (monotonic µs; 0 = not yet) */
    uint32_t entities, features;    /* GetOnlineFeatures: rows x features asked */
    int64_t deadline_ms;
    struct event timer;             /* the deadline (request_deadline_start) */
    unsigned timer_set : 1;
    unsigned responded : 1;
    uint32_t redis_pending;         /* commands awaiting Redis's reply */
    int attempts;
    struct lookup_plan *plan;       /* GetOnlineFeatures state (arena) */
    struct write_state *write;      /* WriteFeatures state (arena; serve/write.c) */
    const struct cfg_token *token;  /* its client's token in reg (auth on), else NULL:
                                       set by serve_auth_gate or the admin port */
    const char *peer;               /* SINK_CALLBACK: the client's address for audit lines
                                       (the admin port's, valid until dispatch_run returns) */
    struct arena arena;             /* everything of the request; limit REQUEST_ARENA_LIMIT */
};

/* A request answering to sink, on ctx's current registry (a reference is
 * taken, and one on a SINK_CONN connection). NULL when memory is short. */
struct request *request_new(struct serve_ctx *ctx, const struct request_sink *sink);

/* Releases rq once it is answered and Redis no longer owes a reply; rq must
 * not be used after unless one of them is still pending. */
void request_maybe_free(struct request *rq);

/* Answers rq with resp (code = featd.v1.ErrorCode counted in metrics). */
void request_answer(struct request *rq, const Featd__V1__Response *resp, int code);
/* Answers rq with an error. */
void request_error(struct request *rq, int code, const char *fmt, ...) FEATD_PRINTF(3, 4);
/* Answers a GetOnlineFeatures request from its assembled cells (sizes:
 * scratch for nfeatures * nrows uint32_t, used by SINK_CONN's encoder), or
 * with a RESOURCE_EXHAUSTED error when the sink cannot take the answer
 * (larger than ga->max_bytes, or out of memory). */
void request_answer_get(struct request *rq, const struct proto_get_answer *ga, uint32_t *sizes);

/* Ends connection c with an error not tied to a request (request id 0):
 * the error is its last output. Nothing when c is already ending. */
void request_conn_fail(struct conn *c, int code, const char *msg, const char *reason);

/* A lookup's size, once its plan is built (at most once per request): kept
 * for its trace (featd_request_phase_seconds, slow-request lines) and, on a
 * connection, counted in the connection's expected output (net/conn.h)
 * until the answer. */
void request_set_size(struct request *rq, uint32_t entities, uint32_t features);

/* Arms rq's deadline (rq->deadline_ms): when it fires first, rq is answered
 * DEADLINE_EXCEEDED (and a Redis link that made no progress for long is
 * reset). */
void request_deadline_start(struct request *rq);

/* Frees the recycled request objects of ctx (at exit). */
void request_cache_free(struct serve_ctx *ctx);

#endif
