/*
 * request.c — request objects, their sinks and their deadline (see
 * request.h).
 *
 * Sinks: SINK_CONN encodes straight into the connection's output
 * (proto_write_response, or proto_write_get_answer for lookups) and then
 * releases the connection's pending slot; SINK_CALLBACK hands a lookup
 * answer's cells to cb->answer_get and any other Response to cb->answer
 * (nothing is encoded for it).
 */
#include "serve/request.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonw.h"
#include "core/log.h"
#include "core/util.h"

#define REQUEST_FREE_CACHE 256                  /* recycled objects kept per context */
#define REQUEST_STALL_RESET_US 1000000          /* see request_deadline_cb */

/* ---- request objects ---- */

struct request *request_new(struct serve_ctx *ctx, const struct request_sink *sink)
{
    struct request *rq = ctx->free_reqs;
    if (rq) {
        ctx->free_reqs = rq->next_free;
        ctx->nfree_reqs--;
    } else {
        rq = malloc(sizeof(*rq));
        if (rq == NULL) {
            return NULL;
        }
    }
    memset(rq, 0, offsetof(struct request, arena));
    arena_init(&rq->arena, REQUEST_ARENA_LIMIT);
    rq->ctx = ctx;
    rq->sink = *sink;
    if (sink->kind == SINK_CONN) {
        conn_ref(sink->conn);
    }
    rq->reg = registry_ref(ctx->reg);
    rq->start_us = util_mono_us();
    rq->rx_us = sink->kind == SINK_CONN ? conn_rx_us(sink->conn) : 0;
    rq->type = MREQ_GET;
    return rq;
}

static void request_free(struct request *rq)
{
    struct serve_ctx *ctx = rq->ctx;
    if (rq->timer_set) {
        evtimer_del(&rq->timer);
    }
    registry_unref(rq->reg);
    if (rq->sink.kind == SINK_CONN) {
        conn_unref(rq->sink.conn);
    }
    arena_release(&rq->arena);
    if (ctx->nfree_reqs < REQUEST_FREE_CACHE) {
        rq->next_free = ctx->free_reqs;
        ctx->free_reqs = rq;
        ctx->nfree_reqs++;
    } else {
        free(rq);
    }
}

void request_cache_free(struct serve_ctx *ctx)
{
    while (ctx->free_reqs) {
        struct request *rq = ctx->free_reqs;
        ctx->free_reqs = rq->next_free;
        free(rq);
    }
    ctx->nfree_reqs = 0;
}

void request_maybe_free(struct request *rq)
{
    if (rq->responded && !rq->redis_pending) {
        struct serve_ctx *ctx = rq->ctx;
        request_free(rq);
        if (ctx->on_free) {
            ctx->on_free(ctx->on_free_arg);
        }
    }
}

/* Marks rq answered: stops its timer, records metrics. */
static void request_mark_answered(struct request *rq, int code)
{
    struct serve_ctx *ctx = rq->ctx;
    rq->responded = 1;
    if (rq->timer_set) {
        evtimer_del(&rq->timer);
        rq->timer_set = 0;
    }
    if (rq->type >= 0 && rq->type < MREQ__COUNT && code >= 0 && code < METRICS_CODES) {
        METRICS_INC(ctx->metrics->requests[rq->type][code]);
    }
    rq->ready_us = util_mono_us();
    metrics_observe(&ctx->metrics->request_latency, (uint64_t)(rq->ready_us - rq->start_us));
}

/* Releases the connection's pending slot with rq's timeline, for the
 * transport to measure its phases once the answer is written. */
static void request_conn_done(struct request *rq)
{
    const struct metrics_req_trace t = {
        .rx_us = rq->rx_us, .start_us = rq->start_us, .sent_us = rq->first_sent_us,
        .reply_us = rq->reply_us, .ready_us = rq->ready_us, .id = rq->id,
        .entities = rq->entities, .features = rq->features, .type = rq->type,
    };
    conn_request_answered(rq->sink.conn, &t);
}

/* ---- sinks ---- */

/* SINK_CONN: encodes resp into the connection's output (when it is still
 * open) and releases the connection's pending slot. */
static void sink_conn_answer(struct request *rq, const Featd__V1__Response *resp)
{
    struct conn *c = rq->sink.conn;
    struct evbuffer *out = conn_output(c);
    if (out && proto_write_response(out, resp) != FEATD_OK) {
        conn_close(c, "out of memory writing a response");
    }
    request_conn_done(rq);
}

void request_answer(struct request *rq, const Featd__V1__Response *resp, int code)
{
    request_mark_answered(rq, code);
    if (rq->sink.kind == SINK_CALLBACK) {
        rq->sink.cb->answer(rq->sink.arg, resp);
    } else {
        sink_conn_answer(rq, resp);
    }
}

void request_conn_fail(struct conn *c, int code, const char *msg, const char *reason)
{
    if (!conn_live(c)) {
        return;
    }
    log_conn(LOG_INFO, c, "%s: %s", reason, msg);
    if (proto_write_error(conn_output(c), 0, code, msg) != FEATD_OK) {
        conn_close(c, "out of memory writing an error");
        return;
    }
    conn_close_after_flush(c, reason);
}

void request_error(struct request *rq, int code, const char *fmt, ...)
{
    char raw[512], msg[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(raw, sizeof(raw), fmt, ap);
    va_end(ap);
    /* Error.message is a protobuf string: request bytes quoted into it
     * (names, references) must not make it invalid UTF-8 */
    jsonw_text_fit(msg, sizeof(msg), raw, n < 0 ? 0 : n < (int)sizeof(raw) ? (size_t)n : sizeof(raw) - 1);
    Featd__V1__Error err = FEATD__V1__ERROR__INIT;
    Featd__V1__Response resp = FEATD__V1__RESPONSE__INIT;
    err.code = (Featd__V1__ErrorCode)code;
    err.message = msg;
    resp.request_id = rq->id;
    resp.body_case = FEATD__V1__RESPONSE__BODY_ERROR;
    resp.error = &err;
    request_answer(rq, &resp, code);
}


/* SINK_CONN writes the answer straight from the decoded rows
 * (proto_write_get_answer); SINK_CALLBACK hands the cells over. Either may
 * refuse it: too large (FEATD_EAGAIN) or out of memory, and the request is
 * then answered with the same error on both. */
void request_answer_get(struct request *rq, const struct proto_get_answer *ga, uint32_t *sizes)
{
    int rc = FEATD_OK;
    size_t room = SIZE_MAX;
    if (rq->sink.kind == SINK_CONN) {
        struct conn *c = rq->sink.conn;
        struct evbuffer *out = conn_output(c);
        if (out) {
            /* the connection's output bound (net/conn.h): unread answers
             * plus this one stay under server.max_output_bytes */
            struct proto_get_answer bounded = *ga;
            room = conn_output_room(c);
            if (bounded.max_bytes == 0 || room < bounded.max_bytes) {
                bounded.max_bytes = room;
            }
            rc = proto_write_get_answer(out, &bounded, sizes);
        }
    } else if (rq->sink.cb->room != NULL) {
        struct proto_get_answer bounded = *ga;
        room = rq->sink.cb->room(rq->sink.arg);
        if (bounded.max_bytes == 0 || room < bounded.max_bytes) {
            bounded.max_bytes = room;
        }
        rc = rq->sink.cb->answer_get(rq->sink.arg, &bounded);
    } else {
        rc = rq->sink.cb->answer_get(rq->sink.arg, ga);
    }
    if (rc == FEATD_EAGAIN && room < ga->max_bytes) {
        METRICS_INC(rq->ctx->metrics->output_limit_refusals_total);
        request_error(rq, FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED,
                      "the answer (%zu features x %zu rows) does not fit in the connection's "
                      "output: earlier answers are unread (server.max_output_bytes); read answers "
                      "before sending more requests", ga->nfeatures, ga->nrows);
        return;
    }
    if (rc != FEATD_OK) {
        request_error(rq, FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED,
                      rc == FEATD_EAGAIN ? "the answer (%zu features x %zu rows) exceeds the response "
                                           "limit (64 MiB); ask for fewer entities or features"
                                         : "out of memory encoding the answer (%zu features x %zu rows)",
                      ga->nfeatures, ga->nrows);
        return;
    }
    request_mark_answered(rq, 0);
    if (rq->sink.kind == SINK_CONN) {
        request_conn_done(rq);
    }
}

void request_set_size(struct request *rq, uint32_t entities, uint32_t features)
{
    rq->entities = entities;
    rq->features = features;
    if (rq->sink.kind == SINK_CONN) {
        conn_request_cells(rq->sink.conn, entities, features);
    }
}

/* ---- deadline ---- */

static void request_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    struct request *rq = arg;
    struct rroute *redis = rq->ctx->redis;
    (void)fd;
    (void)what;
    rq->timer_set = 0;
    if (rq->responded) {
        return;
    }
    int64_t dl_us = rq->deadline_ms * 1000;
    request_error(rq, FEATD__V1__ERROR_CODE__DEADLINE_EXCEEDED,
                  "deadline of %" PRId64 " ms exceeded waiting for the online store", rq->deadline_ms);
    request_maybe_free(rq);     /* rq may be gone from here on */
    /* A Redis node that makes no progress for long (stopped, half-open
     * link) would keep every command forever: drop its link and reconnect. */
    (void)rroute_reset_stalled(redis, 2 * dl_us > REQUEST_STALL_RESET_US ? 2 * dl_us : REQUEST_STALL_RESET_US);
}


void request_deadline_start(struct request *rq)
{
    struct timeval tv = { rq->deadline_ms / 1000, (rq->deadline_ms % 1000) * 1000 };
    evtimer_assign(&rq->timer, rq->ctx->base, request_deadline_cb, rq);
    evtimer_add(&rq->timer, &tv);
    rq->timer_set = 1;
}
