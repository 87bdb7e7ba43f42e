/*
 * admin_write.c — POST /push and POST /write-to-online-store on the admin
 * port: evhttp glue around the shared JSON write builder (http/http_write.h,
 * also served by the workers on the serving port):
 *
 *   JSON body ─ http_write_build ─► featd.v1.Request (write_features), built
 *     in the request's arena (dispatch_begin on the admin thread's worker)
 *     ─► dispatch_run ─► serve/write.c: the token check, write_check, the
 *        LWW script calls on the admin worker's Redis route
 *     ─► admin_write_answer: 200 {"rows_written": N, "rows_stale": M}, or
 *        {"error": {...}} with the HTTP status of the featd.v1.ErrorCode
 *
 * Admin thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "admin/admin_internal.h"
#include "common/jsonw.h"
#include "config/config.h"
#include "core/metrics.h"
#include "http/http_write.h"
#include "serve/dispatch.h"
#include "wire/proto.h"

/* request_callbacks.answer: the WriteFeatures answer or an error. */
static void admin_write_answer(void *arg, const Featd__V1__Response *resp)
{
    struct admin_call *c = arg;
    c->backend_pending = false;
    if (c->req) {
        if (resp->body_case == FEATD__V1__RESPONSE__BODY_WRITE_FEATURES && resp->write_features) {
            char buf[128];
            struct jsonw j;
            jsonw_init_fixed(&j, buf, sizeof(buf));
            http_write_json(&j, resp->write_features);
            admin_reply(c->req, c->path, 200, "application/json", buf, j.len);
        } else if (resp->body_case == FEATD__V1__RESPONSE__BODY_ERROR && resp->error) {
            admin_reply_error(c->req, c->path, (int)resp->error->code, resp->error->message);
        } else {
            admin_reply_error(c->req, c->path, FEATD__V1__ERROR_CODE__INTERNAL, "unexpected response body");
        }
        admin_call_answered(c);
    }
    admin_call_maybe_free(c);
}

/* request_callbacks.answer_get: never called for a write. */
static int admin_write_answer_get(void *arg, const struct proto_get_answer *ga)
{
    (void)arg;
    (void)ga;
    return FEATD_ERR;
}

static const struct request_callbacks admin_write_callbacks = {
    .answer_get = admin_write_answer_get,
    .answer = admin_write_answer,
};

/* Answers req with a refusal of the admin layer (the write never ran),
 * counted as an HTTP write with that code. */
static void admin_write_refuse(struct evhttp_request *req, int path, int code, const char *msg)
{
    METRICS_INC(admin.w.metrics.requests[MREQ_HTTP_WRITE][code]);
    admin_reply_error(req, path, code, msg);
}

static void admin_write_post(struct evhttp_request *req, int path, enum http_write_kind kind)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    const char *body = len ? (const char *)evbuffer_pullup(in, -1) : "";
    if (body == NULL) {
        admin_write_refuse(req, path, FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    struct admin_call *c = admin_call_new(req, CALL_WRITE, path);
    struct request *rq = c ? dispatch_begin(&admin.w.serve, MREQ_HTTP_WRITE, len, &admin_write_callbacks, c)
                           : NULL;
    if (rq == NULL) {
        if (c) {
            admin_call_answered(c);
            admin_call_maybe_free(c);
        }
        admin_write_refuse(req, path, FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    Featd__V1__Request *msg_rq = NULL;
    struct http_write_info info;
    char msg[512];
    int rc = http_write_build(body, len, kind, rq->reg->cfg, &rq->arena, &msg_rq, &info, msg, sizeof(msg));
    if (rc != FEATD_OK && !(msg_rq != NULL && http_write_auth_first(rq->reg->cfg, admin.token, &info))) {
        int slot = info.view ? info.view->metrics_slot : -1;
        if (slot >= 0 && slot < METRICS_MAX_VIEWS) {
            METRICS_ADD(admin.w.metrics.views[slot].push_rows[MPUSH_REJECTED], (uint64_t)info.rows);
        }
        dispatch_cancel(rq);
        admin_call_answered(c);
        admin_call_maybe_free(c);
        admin_write_refuse(req, path, rc == FEATD_ERR ? FEATD__V1__ERROR_CODE__INVALID_ARGUMENT
                                                      : FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED, msg);
        return;
    }
    rq->token = admin.token;
    rq->peer = admin.peer;
    c->backend_pending = true;
    /* The answer may come before dispatch_run returns; c is not touched after. */
    dispatch_run(rq, msg_rq);
}

void admin_write_push(struct evhttp_request *req)
{
    admin_write_post(req, AP_PUSH, HTTP_WRITE_PUSH);
}

void admin_write_store(struct evhttp_request *req)
{
    admin_write_post(req, AP_WRITE, HTTP_WRITE_STORE);
}
