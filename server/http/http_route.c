/*
 * http_route.c — what the serving port answers over HTTP: a table of
 * routes (method, path, open or behind the token check, handler), the
 * token check (DESIGN §14: "Authorization: Bearer <token>", 401 JSON
 * errors; per-view 403 comes from the lookup itself), and the endpoints:
 *
 *   POST /get-online-features   the shared JSON lookup (http_lookup.h) run
 *                               on this worker (dispatch_begin/run), its
 *                               answer written straight from the cells
 *   POST /push                  the shared JSON write builder (http_write.h):
 *   POST /write-to-online-store a WriteFeatures request run on this worker
 *                               (serve/write.c), {"rows_written", "rows_stale"}
 *   GET|HEAD /healthz           200 "ok" (open)
 *   anything else               404 / 405 JSON errors
 *
 * A new endpoint is a line in http_routes. On the connection's worker
 * thread.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "common/jsonw.h"
#include "config/registry.h"
#include "core/metrics.h"
#include "core/util.h"
#include "http/http_conn.h"
#include "http/http_write.h"
#include "serve/dispatch.h"
#include "serve/serve_auth.h"
#include "serve/serve_ctx.h"

#define HTTP_SCRATCH_KEEP (1u << 20)    /* a bigger JSON scratch buffer is freed after use */

typedef void (*http_handler_fn)(struct http_call *hc, const struct http_head *h, const char *body, size_t len);

struct http_route_entry {
    enum http_method method;        /* HTTP_GET also takes HEAD */
    const char *path;
    bool open;                      /* answered without a token when auth is on */
    http_handler_fn fn;
};

static void http_route_lookup(struct http_call *hc, const struct http_head *h, const char *body, size_t len);
static void http_route_healthz(struct http_call *hc, const struct http_head *h, const char *body, size_t len);
static void http_route_push(struct http_call *hc, const struct http_head *h, const char *body, size_t len);
static void http_route_store(struct http_call *hc, const struct http_head *h, const char *body, size_t len);

static const struct http_route_entry http_routes[] = {
    { HTTP_POST, "/get-online-features", false, http_route_lookup },
    { HTTP_GET, "/healthz", true, http_route_healthz },
    { HTTP_POST, "/push", false, http_route_push },
    { HTTP_POST, "/write-to-online-store", false, http_route_store },
};

static _Thread_local struct log_limit http_auth_log;    /* one audit line a second per worker */

/* Each worker's answer buffer: a thread-specific value, freed when its
 * thread ends. */
static pthread_key_t http_scratch_key;
static pthread_once_t http_scratch_once = PTHREAD_ONCE_INIT;

static void http_scratch_free(void *p)
{
    jsonw_free(p);
    free(p);
}

static void http_scratch_init(void)
{
    if (pthread_key_create(&http_scratch_key, http_scratch_free) != 0) {
        abort();
    }
}

/* The calling thread's scratch writer, emptied; NULL when memory is short. */
static struct jsonw *http_scratch(void)
{
    pthread_once(&http_scratch_once, http_scratch_init);
    struct jsonw *j = pthread_getspecific(http_scratch_key);
    if (j == NULL) {
        j = malloc(sizeof(*j));
        if (j == NULL || pthread_setspecific(http_scratch_key, j) != 0) {
            free(j);
            return NULL;
        }
        jsonw_init(j);
    }
    jsonw_reset(j);
    return j;
}

/* ---- POST /get-online-features ---- */

/* The lookup's timeline for the phase histograms, up to now (its answer). */
static void http_lookup_trace(struct http_call *hc)
{
    if (hc->rq != NULL) {
        hc->t.sent_us = hc->rq->first_sent_us;
        hc->t.reply_us = hc->rq->reply_us;
    }
    hc->t.ready_us = util_mono_us();
}

/* request_callbacks.answer_get: the cells as Feast-shaped JSON, 200. */
static int http_lookup_answer_get(void *arg, const struct proto_get_answer *ga)
{
    struct http_call *hc = arg;
    struct jsonw *j = NULL;
    if (conn_output(hc->c) != NULL) {
        j = http_scratch();
        if (j == NULL) {
            return FEATD_ERR;
        }
        int rc = http_lookup_json(j, ga, hc->g, hc->names);
        if (rc != FEATD_OK) {
            return rc;      /* `answer` follows with the error */
        }
    }
    http_lookup_trace(hc);
    hc->rq = NULL;
    hc->g = NULL;
    http_call_reply(hc, 200, "application/json", j ? j->buf : "", j ? j->len : 0);
    if (j != NULL && j->cap > HTTP_SCRATCH_KEEP) {
        jsonw_free(j);
        jsonw_init(j);
    }
    return FEATD_OK;
}

/* request_callbacks.answer: an error, with the HTTP status of its code. */
static void http_lookup_answer(void *arg, const Featd__V1__Response *resp)
{
    struct http_call *hc = arg;
    http_lookup_trace(hc);
    hc->rq = NULL;
    hc->g = NULL;
    if (resp->body_case == FEATD__V1__RESPONSE__BODY_ERROR && resp->error) {
        int code = (int)resp->error->code;
        http_call_error(hc, http_status_of(code), http_code_name(code), resp->error->message);
    } else {
        http_call_error(hc, 500, "INTERNAL", "unexpected response body");
    }
}

static size_t http_lookup_room(void *arg)
{
    return http_call_room(arg);
}

static const struct request_callbacks http_lookup_callbacks = {
    .answer_get = http_lookup_answer_get,
    .answer = http_lookup_answer,
    .room = http_lookup_room,
};

/* A refusal before the lookup ran, counted as a JSON lookup with code. */
static void http_lookup_refuse(struct http_call *hc, int code, const char *msg)
{
    METRICS_INC(hc->ctx->metrics->requests[MREQ_HTTP_GET][code]);
    http_call_error(hc, http_status_of(code), http_code_name(code), msg);
}

static void http_route_lookup(struct http_call *hc, const struct http_head *h, const char *body, size_t len)
{
    (void)h;
    struct request *rq = dispatch_begin(hc->ctx, MREQ_HTTP_GET, len, &http_lookup_callbacks, hc);
    if (rq == NULL) {
        http_lookup_refuse(hc, FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    Featd__V1__Request *msg_rq = NULL;
    char msg[512];
    int rc = http_lookup_build(body, len, rq->reg->cfg, &rq->arena, &msg_rq, &hc->names, msg, sizeof(msg));
    if (rc != FEATD_OK) {
        dispatch_cancel(rq);
        http_lookup_refuse(hc, rc == FEATD_ERR ? FEATD__V1__ERROR_CODE__INVALID_ARGUMENT
                                               : FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED, msg);
        return;
    }
    const Featd__V1__GetOnlineFeaturesRequest *g = msg_rq->get_online_features;
    uint32_t rows = g->n_entities ? (uint32_t)g->entities[0]->n_values : 0;
    hc->rq = rq;
    hc->g = g;
    hc->traced = true;
    hc->t.rx_us = rq->rx_us = conn_rx_us(hc->c);
    hc->t.start_us = rq->start_us;
    hc->t.type = MREQ_HTTP_GET;
    hc->t.entities = rows;
    hc->t.features = (uint32_t)g->n_features;
    conn_request_cells(hc->c, rows, (uint32_t)g->n_features);
    rq->token = hc->token;
    rq->peer = hc->c->peer;
    dispatch_run(rq, msg_rq);       /* may answer (and free hc) before it returns */
}

/* ---- POST /push, POST /write-to-online-store ---- */

/* request_callbacks.answer: the WriteFeatures answer (200 with the row
 * counts) or an error, with the HTTP status of its code. */
static void http_write_answer(void *arg, const Featd__V1__Response *resp)
{
    struct http_call *hc = arg;
    hc->rq = NULL;
    if (resp->body_case == FEATD__V1__RESPONSE__BODY_WRITE_FEATURES && resp->write_features) {
        char buf[128];
        struct jsonw j;
        jsonw_init_fixed(&j, buf, sizeof(buf));
        http_write_json(&j, resp->write_features);
        http_call_reply(hc, 200, "application/json", buf, j.len);
    } else if (resp->body_case == FEATD__V1__RESPONSE__BODY_ERROR && resp->error) {
        int code = (int)resp->error->code;
        http_call_error(hc, http_status_of(code), http_code_name(code), resp->error->message);
    } else {
        http_call_error(hc, 500, "INTERNAL", "unexpected response body");
    }
}

/* request_callbacks.answer_get: never called for a write. */
static int http_write_answer_get(void *arg, const struct proto_get_answer *ga)
{
    (void)arg;
    (void)ga;
    return FEATD_ERR;
}

static const struct request_callbacks http_write_callbacks = {
    .answer_get = http_write_answer_get,
    .answer = http_write_answer,
};

/* The write endpoints: the body built into a WriteFeatures request and run
 * by serve/write.c on this worker (auth, validation, LWW writes). */
static void http_route_write(struct http_call *hc, enum http_write_kind kind, const char *body, size_t len)
{
    struct metrics *m = hc->ctx->metrics;
    struct request *rq = dispatch_begin(hc->ctx, MREQ_HTTP_WRITE, len, &http_write_callbacks, hc);
    if (rq == NULL) {
        METRICS_INC(m->requests[MREQ_HTTP_WRITE][FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED]);
        http_call_error(hc, 429, "RESOURCE_EXHAUSTED", "out of memory");
        return;
    }
    Featd__V1__Request *msg_rq = NULL;
    struct http_write_info info;
    char msg[512];
    int rc = http_write_build(body, len, kind, rq->reg->cfg, &rq->arena, &msg_rq, &info, msg, sizeof(msg));
    if (rc != FEATD_OK && !(msg_rq != NULL && http_write_auth_first(rq->reg->cfg, hc->token, &info))) {
        int code = rc == FEATD_ERR ? FEATD__V1__ERROR_CODE__INVALID_ARGUMENT
                                   : FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED;
        int slot = info.view ? info.view->metrics_slot : -1;
        if (slot >= 0 && slot < METRICS_MAX_VIEWS) {
            METRICS_ADD(m->views[slot].push_rows[MPUSH_REJECTED], (uint64_t)info.rows);
        }
        dispatch_cancel(rq);
        METRICS_INC(m->requests[MREQ_HTTP_WRITE][code]);
        http_call_error(hc, http_status_of(code), http_code_name(code), msg);
        return;
    }
    hc->rq = rq;
    rq->token = hc->token;
    rq->peer = hc->c->peer;
    dispatch_run(rq, msg_rq);       /* may answer (and free hc) before it returns */
}

static void http_route_push(struct http_call *hc, const struct http_head *h, const char *body, size_t len)
{
    (void)h;
    http_route_write(hc, HTTP_WRITE_PUSH, body, len);
}

static void http_route_store(struct http_call *hc, const struct http_head *h, const char *body, size_t len)
{
    (void)h;
    http_route_write(hc, HTTP_WRITE_STORE, body, len);
}

/* ---- GET /healthz ---- */

static void http_route_healthz(struct http_call *hc, const struct http_head *h, const char *body, size_t len)
{
    (void)h;
    (void)body;
    (void)len;
    http_call_reply(hc, 200, "text/plain; charset=utf-8", "ok\n", 3);
}

/* ---- routing ---- */

/* With auth on, a route that is not open needs a configured Bearer token
 * (sets hc->token). False after answering 401 (counted and logged like the
 * serving protocol's failures). */
static bool http_route_auth(struct http_call *hc, const struct http_head *h)
{
    const struct cfg_auth *a = &hc->ctx->reg->cfg->auth;
    if (!a->enabled) {
        return true;
    }
    char val[HTTP_MAX_AUTH + 1];
    const char *tok;
    size_t tlen;
    if (h->auth != NULL) {
        memcpy(val, h->auth, h->auth_len);
        val[h->auth_len] = '\0';
    }
    if (h->auth == NULL || !auth_bearer(val, &tok, &tlen)) {
        serve_auth_audit(&http_auth_log, AUTH_FAIL_MISSING, "serving-port HTTP", hc->c->peer,
                         hc->c->principal[0] ? hc->c->principal : NULL, NULL,
                         h->auth ? ": Authorization is not \"Bearer <token>\"" : "");
        http_call_error(hc, 401, "UNAUTHENTICATED", "authentication required: send \"Authorization: Bearer <token>\"");
        return false;
    }
    hc->token = auth_token_find(a, tok, tlen);
    if (hc->token == NULL) {
        serve_auth_audit(&http_auth_log, AUTH_FAIL_UNKNOWN_TOKEN, "serving-port HTTP", hc->c->peer,
                         hc->c->principal[0] ? hc->c->principal : NULL, NULL, "");
        http_call_error(hc, 401, "UNAUTHENTICATED", "authentication failed: unknown token");
        return false;
    }
    return true;
}

void http_route(struct http_call *hc, const struct http_head *h, const char *body, size_t len)
{
    bool path_known = false;
    for (size_t i = 0; i < FEATD_ARRAY_LEN(http_routes); i++) {
        const struct http_route_entry *r = &http_routes[i];
        if (strlen(r->path) != h->path_len || memcmp(r->path, h->path, h->path_len) != 0) {
            continue;
        }
        path_known = true;
        if (r->method != h->method && !(r->method == HTTP_GET && h->method == HTTP_HEAD)) {
            continue;
        }
        if (!r->open && !http_route_auth(hc, h)) {
            return;
        }
        r->fn(hc, h, body, len);
        return;
    }
    char msg[400];
    if (path_known) {
        snprintf(msg, sizeof(msg), "method %.*s is not allowed on %.*s", (int)h->method_len, h->method_s,
                 (int)(h->path_len < 200 ? h->path_len : 200), h->path);
        http_call_error(hc, 405, "METHOD_NOT_ALLOWED", msg);
        return;
    }
    snprintf(msg, sizeof(msg), "no such endpoint on the serving port: %.*s %.*s (served here: POST "
             "/get-online-features, /push, /write-to-online-store, GET /healthz; the rest is on the admin "
             "port)",
             (int)(h->method_len < 16 ? h->method_len : 16), h->method_s,
             (int)(h->path_len < 200 ? h->path_len : 200), h->path);
    http_call_error(hc, 404, "NOT_FOUND", msg);
}
