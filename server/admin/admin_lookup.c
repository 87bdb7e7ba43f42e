/*
 * admin_lookup.c — POST /get-online-features on the admin port: evhttp glue
 * around the shared JSON lookup (http/http_lookup.h, also served by the
 * workers on the serving port):
 *
 *   JSON body ─ http_lookup_build ─► featd.v1.Request, built in the
 *     request's arena (dispatch_begin, serve/dispatch.h, on the admin
 *     thread's worker) ─► dispatch_run: the same validation, Redis
 *     pipeline and statuses as a protobuf lookup
 *     ─► admin_lookup_answer_get: the answer's cells ─ http_lookup_json ─►
 *        200 application/json
 *     ─► admin_lookup_answer: errors ─► {"error": {...}} with the HTTP
 *        status of the featd.v1.ErrorCode
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
#include "core/arena.h"
#include "core/metrics.h"
#include "http/http_lookup.h"
#include "serve/dispatch.h"
#include "wire/proto.h"

/* What a lookup's answer needs besides the admin call: the request's
 * entity columns (join-key columns) and the naming. */
struct admin_lookup {
    struct admin_call *call;
    const Featd__V1__GetOnlineFeaturesRequest *g;   /* in the request's arena */
    enum http_names names;
};

int admin_lookup_json(struct jsonw *j, const struct proto_get_answer *ga)
{
    return http_lookup_json(j, ga, NULL, HTTP_NAMES_REF);
}

/* request_callbacks.answer_get: the lookup's cells become the 200 answer.
 * When the JSON cannot be made, nothing is sent and the call stays
 * pending: admin_lookup_answer follows with the error. */
static int admin_lookup_answer_get(void *arg, const struct proto_get_answer *ga)
{
    struct admin_lookup *al = arg;
    struct admin_call *c = al->call;
    if (c->req) {
        struct jsonw b;
        jsonw_init(&b);
        int rc = http_lookup_json(&b, ga, al->g, al->names);
        if (rc != FEATD_OK) {
            jsonw_free(&b);
            return rc;
        }
        admin_reply(c->req, AP_LOOKUP, 200, "application/json", b.buf, b.len);
        jsonw_free(&b);
        admin_call_answered(c);
    }
    c->backend_pending = false;
    admin_call_maybe_free(c);
    free(al);
    return FEATD_OK;
}

/* request_callbacks.answer: an error (the only other answer a
 * GetOnlineFeatures request gets) as {"error": {...}}. */
static void admin_lookup_answer(void *arg, const Featd__V1__Response *resp)
{
    struct admin_lookup *al = arg;
    struct admin_call *c = al->call;
    free(al);
    c->backend_pending = false;
    if (c->req) {
        if (resp->body_case == FEATD__V1__RESPONSE__BODY_ERROR && resp->error) {
            admin_reply_error(c->req, AP_LOOKUP, (int)resp->error->code, resp->error->message);
        } else {
            admin_reply_error(c->req, AP_LOOKUP, FEATD__V1__ERROR_CODE__INTERNAL, "unexpected response body");
        }
        admin_call_answered(c);
    }
    admin_call_maybe_free(c);
}

static const struct request_callbacks admin_lookup_callbacks = {
    .answer_get = admin_lookup_answer_get,
    .answer = admin_lookup_answer,
};

/* Answers req with a refusal of the admin layer (the lookup never ran),
 * counted as a JSON lookup with that code. */
static void admin_lookup_refuse(struct evhttp_request *req, int code, const char *msg)
{
    METRICS_INC(admin.w.metrics.requests[MREQ_HTTP_GET][code]);
    admin_reply_error(req, AP_LOOKUP, code, msg);
}

void admin_lookup_post(struct evhttp_request *req)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    const char *body = len ? (const char *)evbuffer_pullup(in, -1) : "";
    char msg[512];
    if (body == NULL) {
        admin_reply_error(req, AP_LOOKUP, FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    struct admin_lookup *al = calloc(1, sizeof(*al));
    struct admin_call *c = al ? admin_call_new(req, CALL_LOOKUP, AP_LOOKUP) : NULL;
    struct request *rq = c ? dispatch_begin(&admin.w.serve, MREQ_HTTP_GET, len, &admin_lookup_callbacks, al)
                           : NULL;
    if (rq == NULL) {
        free(al);
        if (c) {
            admin_call_answered(c);
            admin_call_maybe_free(c);
        }
        admin_lookup_refuse(req, FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    al->call = c;
    Featd__V1__Request *msg_rq = NULL;
    int rc = http_lookup_build(body, len, rq->reg->cfg, &rq->arena, &msg_rq, &al->names, msg, sizeof(msg));
    if (rc != FEATD_OK) {
        dispatch_cancel(rq);
        free(al);
        admin_call_answered(c);
        admin_call_maybe_free(c);
        admin_lookup_refuse(req, rc == FEATD_ERR ? FEATD__V1__ERROR_CODE__INVALID_ARGUMENT
                                                 : FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED, msg);
        return;
    }
    al->g = msg_rq->get_online_features;
    rq->token = admin.token;
    rq->peer = admin.peer;
    c->backend_pending = true;
    /* The answer may come before dispatch_run returns; c is not touched after. */
    dispatch_run(rq, msg_rq);
}
