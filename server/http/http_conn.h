/*
 * http_conn.h — HTTP/1.1 on the serving port: the conn_handler a serving
 * connection switches to when its first bytes are an HTTP method
 * (net/conn.c), and the per-request call the routes answer through.
 *
 *   c->in ─ http_conn_next: http_parse_head, bounds (431, 413), body by
 *     Content-Length, "Expect: 100-continue" ─► a struct http_call queued in
 *     request order ─► token check (serve/serve_auth.c's rules: Bearer
 *     token, 401/403) ─► http_route (http_route.c)
 *   answers (maybe out of order: a lookup waits for Redis while a later
 *     /healthz is answered at once) ─ http_call_reply ─► written to c's
 *     output when every earlier call is written, else held in the call's
 *     own buffer until then: pipelined requests are answered in order.
 *
 * Every call counts as a pending request of c (conn_request_begin) until
 * its answer reaches the output (conn_request_answered with a lookup's
 * timeline, so the phase histograms and slow-request lines cover HTTP
 * lookups too). "Connection: close", HTTP/1.0 without keep-alive and every
 * framing error end the connection after the answer (conn_close_after_flush).
 *
 * Everything runs on the connection's worker thread; the handler argument
 * is the worker's struct serve_ctx.
 */
#ifndef FEATD_HTTP_CONN_H
#define FEATD_HTTP_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/http_lookup.h"
#include "http/http_parse.h"
#include "net/conn.h"

extern const struct conn_handler http_conn_handler;

struct serve_ctx;
struct cfg_token;
struct request;

/* One HTTP request of a connection, from its head to its answer written. */
struct http_call {
    struct http_call *next;         /* the connection's calls in request order */
    struct conn *c;                 /* reference held until written */
    struct serve_ctx *ctx;
    struct evbuffer *held;          /* the answer, while earlier calls are unanswered */
    bool answered;                  /* the answer is written or held */
    bool keep_alive;                /* else the connection closes after this answer */
    bool head_only;                 /* HEAD: no body */
    bool traced;                    /* a lookup: t carries its phases */
    int minor;                      /* HTTP/1.<minor> of the request */
    const struct cfg_token *token;  /* the Bearer token (auth on), in ctx's registry */
    /* lookups (http_route.c) */
    struct request *rq;             /* until its answer callback returns */
    const Featd__V1__GetOnlineFeaturesRequest *g;   /* in rq's arena, same lifetime */
    enum http_names names;
    struct metrics_req_trace t;     /* timeline and size, for conn_request_answered */
};

/* Answers hc with status, content type and body[0..len) (copied). hc may
 * be freed by the call (its answer written): do not touch it after. */
void http_call_reply(struct http_call *hc, int status, const char *ctype, const char *body, size_t len);
/* {"error":{"code":code_name,"message":msg}} with status (401 adds
 * WWW-Authenticate: Bearer). Same ownership as http_call_reply. */
void http_call_error(struct http_call *hc, int status, const char *code_name, const char *msg);
/* Output room for hc's answer (conn_output_room of its connection; 0 once
 * the connection is closed). */
size_t http_call_room(const struct http_call *hc);

/* http_route.c: answers hc, a request for h->path with body[0..len)
 * (valid during the call). */
void http_route(struct http_call *hc, const struct http_head *h, const char *body, size_t len);

#endif
