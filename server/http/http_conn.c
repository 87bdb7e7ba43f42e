/*
 * http_conn.c — the serving port's HTTP/1.1 transport (see http_conn.h):
 * request heads and bodies out of a connection's input, the calls queued
 * in request order, answers written in that order.
 */
#include "http/http_conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonw.h"
#include "core/log.h"
#include "serve/serve_ctx.h"

/* A connection's HTTP state (c->proto). */
struct http_conn {
    struct http_call *head, *tail;  /* calls not yet written, in request order */
    bool continued;                 /* 100 Continue sent for the request at the front of c->in */
};

static const char *http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 417: return "Expectation Failed";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return status < 500 ? "Client Error" : "Server Error";
    }
}

static struct http_conn *http_conn_state(struct conn *c)
{
    if (c->proto == NULL) {
        c->proto = calloc(1, sizeof(struct http_conn));
    }
    return c->proto;
}

/* Writes every answered call at the front of c's queue to its output, in
 * order, and releases each one's pending slot. */
static void http_conn_advance(struct conn *c)
{
    struct http_conn *hs = c->proto;
    conn_ref(c);
    while (hs->head != NULL && hs->head->answered) {
        struct http_call *hc = hs->head;
        hs->head = hc->next;
        if (hs->head == NULL) {
            hs->tail = NULL;
        }
        if (hc->held != NULL) {
            struct evbuffer *out = conn_output(c);
            if (out != NULL && evbuffer_add_buffer(out, hc->held) != 0) {
                conn_close(c, "out of memory writing an HTTP answer");
            }
            evbuffer_free(hc->held);
        }
        if (hc->traced) {
            conn_request_answered(c, &hc->t);
        } else {
            conn_request_done(c);
        }
        if (!hc->keep_alive) {
            conn_close_after_flush(c, "HTTP connection close");
        }
        conn_unref(c);
        free(hc);
    }
    conn_unref(c);
}

/* The answer: status line, headers (extra: more header lines, CRLF
 * ended), body; in c's output when hc is the oldest unanswered call, else
 * held in hc. */
static void http_call_write(struct http_call *hc, int status, const char *ctype, const char *body, size_t len,
                            const char *extra)
{
    struct conn *c = hc->c;
    struct evbuffer *out = conn_output(c);
    if (out != NULL) {
        struct http_conn *hs = c->proto;
        struct evbuffer *dst = out;
        if (hs->head != hc) {
            dst = hc->held = evbuffer_new();
        }
        char hdr[512];
        int n = snprintf(hdr, sizeof(hdr),
                         "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s%s\r\n", status,
                         http_reason(status), ctype, len, extra ? extra : "",
                         !hc->keep_alive ? "Connection: close\r\n" : hc->minor == 0 ? "Connection: keep-alive\r\n" : "");
        if (dst == NULL || n < 0 || (size_t)n >= sizeof(hdr) || evbuffer_add(dst, hdr, (size_t)n) != 0 ||
            (!hc->head_only && len > 0 && evbuffer_add(dst, body, len) != 0)) {
            conn_close(c, "out of memory writing an HTTP answer");
        }
    }
    hc->answered = true;
    http_conn_advance(c);
}

void http_call_reply(struct http_call *hc, int status, const char *ctype, const char *body, size_t len)
{
    http_call_write(hc, status, ctype, body, len, NULL);
}

void http_call_error(struct http_call *hc, int status, const char *code_name, const char *msg)
{
    char buf[1536];
    struct jsonw j;
    jsonw_init_fixed(&j, buf, sizeof(buf));
    http_error_json(&j, code_name, msg);
    if (j.len >= sizeof(buf)) {
        jsonw_init_fixed(&j, buf, sizeof(buf));
        http_error_json(&j, code_name, "(message too long)");
    }
    jsonw_end(&j);
    http_call_write(hc, status, "application/json", buf, j.len,
                    status == 401 ? "WWW-Authenticate: Bearer realm=\"featd\"\r\n" : NULL);
}

size_t http_call_room(const struct http_call *hc)
{
    return conn_output(hc->c) != NULL ? conn_output_room(hc->c) : SIZE_MAX;
}

/* A new call at the back of c's queue, counted as pending (NULL when
 * memory is short: c is then closed). */
static struct http_call *http_call_new(struct serve_ctx *ctx, struct conn *c, const struct http_head *h)
{
    struct http_conn *hs = c->proto;
    struct http_call *hc = calloc(1, sizeof(*hc));
    if (hc == NULL) {
        conn_close(c, "out of memory reading an HTTP request");
        return NULL;
    }
    hc->c = c;
    hc->ctx = ctx;
    hc->keep_alive = h ? h->keep_alive : false;
    hc->minor = h ? h->minor : 1;
    hc->head_only = h ? h->method == HTTP_HEAD : false;
    conn_ref(c);
    conn_request_begin(c);
    if (hs->tail) {
        hs->tail->next = hc;
    } else {
        hs->head = hc;
    }
    hs->tail = hc;
    return hc;
}

/* A request that cannot be framed: answered with status after the earlier
 * ones, then the connection closes (its next bytes cannot be trusted). */
static int http_conn_fail(struct serve_ctx *ctx, struct conn *c, int status, const char *why)
{
    log_conn(LOG_INFO, c, "HTTP request refused (%d): %s", status, why);
    struct http_call *hc = http_call_new(ctx, c, NULL);
    if (hc != NULL) {
        conn_close_after_flush(c, "malformed HTTP request");
        http_call_error(hc, status, status == 413 || status == 431 ? "RESOURCE_EXHAUSTED" : "INVALID_ARGUMENT",
                        why);
    }
    return CONN_NEXT_STOP;
}

/* conn_handler.next: one request from the front of c->in. */
static int http_conn_next(void *arg, struct conn *c)
{
    struct serve_ctx *ctx = arg;
    struct http_conn *hs = http_conn_state(c);
    if (hs == NULL) {
        conn_close(c, "out of memory reading an HTTP request");
        return CONN_NEXT_STOP;
    }
    struct evbuffer *in = c->in;
    size_t n = evbuffer_get_length(in);
    size_t look = n < HTTP_MAX_HEAD ? n : HTTP_MAX_HEAD;
    const char *p = look ? (const char *)evbuffer_pullup(in, (ev_ssize_t)look) : NULL;
    if (p == NULL) {
        if (look) {
            conn_close(c, "out of memory reading an HTTP request");
            return CONN_NEXT_STOP;
        }
        return CONN_NEXT_MORE;
    }
    struct http_head h;
    int status = 0;
    const char *why = NULL;
    enum http_parse_status st = http_parse_head(p, look, &h, &status, &why);
    if (st == HTTP_PARSE_MORE) {
        return CONN_NEXT_MORE;
    }
    if (st == HTTP_PARSE_FAIL) {
        if (status == 431) {
            METRICS_INC(c->loop->metrics->http_headers_too_large_total);
        } else {
            METRICS_INC(c->loop->metrics->http_bad_requests_total);
        }
        return http_conn_fail(ctx, c, status, why);
    }
    uint32_t max = c->loop->max_frame_bytes;
    if (h.content_length > max) {
        char msg[160];
        METRICS_INC(c->loop->metrics->http_bodies_too_large_total);
        snprintf(msg, sizeof(msg), "request body of %llu bytes exceeds max_frame_bytes (%u)",
                 (unsigned long long)h.content_length, max);
        return http_conn_fail(ctx, c, 413, msg);
    }
    size_t total = h.head_len + (size_t)h.content_length;
    if (n < total) {
        if (h.expect_continue && !hs->continued && hs->head == NULL) {
            /* an interim answer: the client waits for it before sending the body */
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            hs->continued = true;
            conn_request_begin(c);
            if (evbuffer_add(c->out, cont, sizeof(cont) - 1) != 0) {
                conn_close(c, "out of memory writing an HTTP answer");
            }
            conn_request_done(c);       /* schedules the flush */
        }
        return CONN_NEXT_MORE;
    }
    p = (const char *)evbuffer_pullup(in, (ev_ssize_t)total);
    if (p == NULL) {
        conn_close(c, "out of memory reading an HTTP request");
        return CONN_NEXT_STOP;
    }
    METRICS_INC(c->loop->metrics->http_requests_total);
    hs->continued = false;
    struct http_call *hc = http_call_new(ctx, c, &h);
    if (hc == NULL) {
        return CONN_NEXT_STOP;
    }
    if (!h.keep_alive) {
        conn_close_after_flush(c, "HTTP connection close");     /* nothing after it is read */
    }
    conn_ref(c);
    http_route(hc, &h, p + h.head_len, (size_t)h.content_length);   /* hc may be gone */
    int r = c->closed || c->closing ? CONN_NEXT_STOP : CONN_NEXT_TOOK;
    if (!c->closed) {
        evbuffer_drain(in, total);
    }
    conn_unref(c);
    return r;
}

/* conn_handler.refuse: the transport's own refusals (the frame timeout
 * closing a request that did not complete) as a 408. */
static int http_conn_refuse(struct evbuffer *out, const char *msg)
{
    char body[512];
    struct jsonw j;
    jsonw_init_fixed(&j, body, sizeof(body));
    http_error_json(&j, "DEADLINE_EXCEEDED", msg);
    jsonw_end(&j);
    size_t len = j.len < sizeof(body) ? j.len : sizeof(body) - 1;
    return evbuffer_add_printf(out, "HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\n"
                                    "Content-Length: %zu\r\nConnection: close\r\n\r\n%.*s", len, (int)len,
                               body) < 0 ? FEATD_ERR : FEATD_OK;
}

static void http_conn_release(struct conn *c)
{
    free(c->proto);
    c->proto = NULL;
}

static void http_conn_frame(void *arg, struct conn *c, const uint8_t *data, size_t len)
{
    (void)arg;
    (void)data;
    (void)len;
    conn_request_done(c);       /* never called: next() frames HTTP */
}

const struct conn_handler http_conn_handler = {
    .frame = http_conn_frame,
    .refuse = http_conn_refuse,
    .next = http_conn_next,
    .release = http_conn_release,
};
