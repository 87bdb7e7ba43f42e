/*
 * admin.c — the admin HTTP server (contract in admin.h): its state, replies,
 * the pending-call list, routing and lifecycle. Connection limits are in
 * admin_conns.c; the endpoints are
 * admin_health.c, admin_metrics.c, admin_views.c and admin_lookup.c.
 *
 *   main thread                     admin thread (a listener-less worker)
 *   admin_start ── worker_init ───► event_base + rlink + evhttp on admin_listen
 *                                   (connection cap and accept backoff: admin_conns.c)
 *   admin_set_registry ─WMSG_REGISTRY► worker.c swaps admin.w.reg
 *   admin_stop ──'s' on ctl pipe──► close port, 503 to waiting requests,
 *                                   evhttp_free, WMSG_STOP (rlink down) ─► join
 *
 *   admin_http_cb ─ route by path and method:
 *     /healthz              answered at once
 *     /readyz               checks, then PING via the admin rlink + timer
 *     /metrics              sums every worker's struct metrics + our own
 *     /v1/feature-views     gencache_refresh (one MGET) + timer
 *     /v1/quality/VIEW      one EVAL (admin_qreport.h) + timer ─► the view's quality JSON
 *     /get-online-features  JSON ─► featd.v1.Request (request arena) ─► dispatch_run
 *                           ─► admin_lookup_answer_get (cells, same thread) ─► JSON reply
 *     /push, /write-to-online-store  JSON ─► WriteFeatures (http/http_write.h)
 *                           ─► dispatch_run ─► serve/write.c ─► admin_write_answer
 *
 * Every request that waits (PING, MGET, lookup) is an admin_call on the
 * pending list until it is answered; the backend (hiredis callback or lookup
 * sink) may come back later and then only frees the call. At stop, waiting
 * requests are answered 503 before evhttp_free, so no evhttp request is ever
 * touched after its connection is gone.
 */
#include "admin/admin.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/queue.h>  /* before keyvalq_struct.h, which defines and undefines TAILQ_* */

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "admin/admin_internal.h"
#include "common/jsonw.h"
#include "config/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/util.h"
#include "http/http_lookup.h"
#include "auth/auth.h"
#include "serve/serve_auth.h"
#include "wire/proto.h"

#define ADMIN_MAX_HEADERS (16 * 1024)       /* request line + headers */
#define ADMIN_IDLE_TIMEOUT_S 60             /* idle keep-alive connections */
#define ADMIN_STOP_GRACE_US 50000           /* lets replies flush before evhttp_free */
#define ADMIN_STOP_POLL_US 10000
#define ADMIN_STOP_MIN_WAIT_US 100000

const char *const admin_path_names[AP__COUNT] = {
    "/healthz", "/readyz", "/metrics", "/v1/feature-views", "/get-online-features",
    "/v1/quality", "/push", "/write-to-online-store", "other"
};

const int admin_codes[ADMIN_NKNOWN_CODES] = { 200, 400, 401, 403, 404, 405, 413, 429, 500, 503, 504 };

struct admin_state admin;
_Atomic bool admin_draining;
static _Atomic int64_t admin_drain_us;      /* util_mono_us() at drain start */

/* ---- replies ---- */

static const char *admin_reason(int code)
{
    switch (code) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Error";
    }
}

static void admin_count(int path, int code)
{
    size_t ci = ADMIN_NCODES - 1;
    for (size_t i = 0; i < FEATD_ARRAY_LEN(admin_codes); i++) {
        if (admin_codes[i] == code) {
            ci = i;
            break;
        }
    }
    admin.http_counts[path][ci]++;
}

void admin_reply(struct evhttp_request *req, int path, int code, const char *ctype,
                        const char *body, size_t len)
{
    struct evbuffer *out = evbuffer_new();
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", ctype);
    evhttp_add_header(h, "Cache-Control", "no-store");
    if (out == NULL || evbuffer_add(out, body, len) != 0) {
        code = 500;
    }
    admin_count(path, code);
    log_debug("admin", "%s %s -> %d", evhttp_request_get_command(req) == EVHTTP_REQ_POST ? "POST" : "GET",
              admin_path_names[path], code);
    evhttp_send_reply(req, code, admin_reason(code), out);
    if (out) {
        evbuffer_free(out);
    }
}

void admin_reply_text(struct evhttp_request *req, int path, int code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg) - 1, fmt, ap);
    va_end(ap);
    size_t len = n < 0 ? 0 : ((size_t)n < sizeof(msg) - 1 ? (size_t)n : sizeof(msg) - 2);
    msg[len++] = '\n';
    admin_reply(req, path, code, "text/plain; charset=utf-8", msg, len);
}

void admin_reply_error(struct evhttp_request *req, int path, int code, const char *msg)
{
    struct jsonw j;
    jsonw_init(&j);
    http_error_json(&j, http_code_name(code), msg);
    if (code == FEATD__V1__ERROR_CODE__UNAUTHENTICATED) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
                          "Bearer realm=\"featd\"");
    }
    if (!jsonw_ok(&j)) {
        admin_reply_text(req, path, 500, "out of memory");
    } else {
        admin_reply(req, path, http_status_of(code), "application/json", j.buf, j.len);
    }
    jsonw_free(&j);
}

/* ---- pending calls ---- */

struct admin_call *admin_call_new(struct evhttp_request *req, enum admin_call_kind kind, int path)
{
    struct admin_call *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return NULL;
    }
    c->req = req;
    c->kind = kind;
    c->path = path;
    c->start_us = util_mono_us();
    TAILQ_INSERT_TAIL(&admin.pending, c, link);
    return c;
}

void admin_call_answered(struct admin_call *c)
{
    if (c->req) {
        TAILQ_REMOVE(&admin.pending, c, link);
        c->req = NULL;
    }
    if (c->timer) {
        evtimer_del(c->timer);
    }
}

void admin_call_maybe_free(struct admin_call *c)
{
    if (c->req != NULL || c->backend_pending) {
        return;
    }
    if (c->timer) {
        event_free(c->timer);
    }
    if (c->reg) {
        registry_unref(c->reg);
    }
    free(c);
}

/* Answers every waiting request with 503 (server stopping). */
static void admin_abandon_pending(void)
{
    while (!TAILQ_EMPTY(&admin.pending)) {
        struct admin_call *c = TAILQ_FIRST(&admin.pending);
        if (c->kind == CALL_READYZ) {
            admin_reply_text(c->req, c->path, 503, "not ready: shutting down");
        } else {
            admin_reply_error(c->req, c->path, FEATD__V1__ERROR_CODE__UNAVAILABLE, "server is shutting down");
        }
        admin_call_answered(c);
        admin_call_maybe_free(c);
    }
}

int admin_call_timer(struct admin_call *c, event_callback_fn cb)
{
    int ms = admin.w.reg->cfg->redis.timeout_ms;
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    c->timer = evtimer_new(admin.w.base, cb, c);
    if (c->timer == NULL || evtimer_add(c->timer, &tv) != 0) {
        return FEATD_ERR;
    }
    return FEATD_OK;
}

/* ---- routing ---- */

struct admin_route {
    const char *path;
    int id;                                 /* enum admin_path */
    enum evhttp_cmd_type method;
    void (*fn)(struct evhttp_request *req); /* a path ending in '/' is a prefix ("/v1/quality/V") */
};

static const struct admin_route admin_routes[] = {
    { "/healthz", AP_HEALTHZ, EVHTTP_REQ_GET, admin_health_live },
    { "/readyz", AP_READYZ, EVHTTP_REQ_GET, admin_health_ready },
    { "/metrics", AP_METRICS, EVHTTP_REQ_GET, admin_metrics_page },
    { "/v1/feature-views", AP_VIEWS, EVHTTP_REQ_GET, admin_views_get },
    { "/get-online-features", AP_LOOKUP, EVHTTP_REQ_POST, admin_lookup_post },
    { "/v1/quality/", AP_QUALITY, EVHTTP_REQ_GET, admin_quality_get },
    { "/push", AP_PUSH, EVHTTP_REQ_POST, admin_write_push },
    { "/write-to-online-store", AP_WRITE, EVHTTP_REQ_POST, admin_write_store },
};

/*
 * Token check of a request to path (DESIGN §14): with auth on,
 * /v1/feature-views, /get-online-features and (protect_metrics) /metrics
 * need "Authorization: Bearer <token>" naming a configured token; sets
 * admin.token and admin.peer for the endpoint. False after answering 401
 * (with WWW-Authenticate: Bearer), counted and logged like the serving
 * port's failures.
 */
static bool admin_auth_check(struct evhttp_request *req, int path)
{
    const struct cfg_auth *a = &admin.w.reg->cfg->auth;
    admin.token = NULL;
    admin.peer[0] = '\0';
    char *addr = NULL;
    ev_uint16_t port = 0;
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    if (evcon) {
        evhttp_connection_get_peer(evcon, &addr, &port);
    }
    snprintf(admin.peer, sizeof admin.peer, "%s:%u", addr ? addr : "?", (unsigned)port);
    if (!a->enabled || path == AP_HEALTHZ || path == AP_READYZ ||
        (path == AP_METRICS && !a->protect_metrics)) {
        return true;
    }
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    const char *tok;
    size_t len;
    const struct cfg_token *t = NULL;
    if (h != NULL && auth_bearer(h, &tok, &len)) {
        t = auth_token_find(a, tok, len);
        if (t == NULL) {
            serve_auth_audit(&admin.auth_log, AUTH_FAIL_UNKNOWN_TOKEN, "admin HTTP", admin.peer, NULL,
                             NULL, "");
            admin_reply_error(req, path, FEATD__V1__ERROR_CODE__UNAUTHENTICATED,
                              "authentication failed: unknown token");
            return false;
        }
    } else {
        serve_auth_audit(&admin.auth_log, AUTH_FAIL_MISSING, "admin HTTP", admin.peer, NULL, NULL,
                         h ? ": Authorization is not \"Bearer <token>\"" : "");
        admin_reply_error(req, path, FEATD__V1__ERROR_CODE__UNAUTHENTICATED,
                          "authentication required: send \"Authorization: Bearer <token>\"");
        return false;
    }
    admin.token = t;
    return true;
}

/* Picks up limits of a new registry (server.max_frame_bytes bounds bodies). */
static void admin_apply_limits(void)
{
    const struct registry *reg = admin.w.reg;
    if (reg->version != admin.limits_version) {
        evhttp_set_max_body_size(admin.http, (ev_ssize_t)reg->cfg->server.max_frame_bytes);
        admin.limits_version = reg->version;
    }
}

static void admin_http_cb(struct evhttp_request *req, void *arg)
{
    (void)arg;
    admin_apply_limits();
    const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
    const char *path = u ? evhttp_uri_get_path(u) : NULL;
    if (path == NULL || path[0] == '\0') {
        path = "/";
    }
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    for (size_t i = 0; i < FEATD_ARRAY_LEN(admin_routes); i++) {
        const struct admin_route *r = &admin_routes[i];
        size_t plen = strlen(r->path);
        if (r->path[plen - 1] == '/' ? strncmp(path, r->path, plen) != 0 : strcmp(path, r->path) != 0) {
            continue;
        }
        if (m != r->method) {
            evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
                              r->method == EVHTTP_REQ_POST ? "POST" : "GET");
            admin_reply_text(req, r->id, 405, "method not allowed: %s takes %s", r->path,
                             r->method == EVHTTP_REQ_POST ? "POST" : "GET");
            return;
        }
        if (admin_auth_check(req, r->id)) {
            r->fn(req);
        }
        admin.token = NULL;
        return;
    }
    admin_reply_text(req, AP_OTHER, 404,
                     "not found (endpoints: GET /healthz, /readyz, /metrics, /v1/feature-views, "
                     "/v1/quality/VIEW; "
                     "POST /get-online-features, /push, /write-to-online-store)");
}

/* ---- lifecycle ---- */

static void admin_finish_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    admin_abandon_pending();
    if (admin.http) {
        evhttp_free(admin.http);
        admin.http = NULL;
    }
    admin_conns_free();
    if (admin.ctl_ev) {
        event_free(admin.ctl_ev);
        admin.ctl_ev = NULL;
    }
    /* Disconnects Redis (pending PINGs, MGETs and lookups are called back
     * with no reply and free themselves) and exits the loop. */
    if (worker_send(&admin.w, WMSG_STOP, NULL) != FEATD_OK) {
        log_error("admin", "admin thread queue full at stop");
        event_base_loopexit(admin.w.base, NULL);
    }
}

/* Stopping: waits (polling) until no request waits on Redis or a lookup,
 * or the drain deadline passes; then answers what is left with 503 and
 * gives the replies a moment to flush before the server is freed. */
static void admin_stop_poll_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    struct timeval tv = { 0, ADMIN_STOP_POLL_US };
    if (!TAILQ_EMPTY(&admin.pending) && util_mono_us() < admin.stop_deadline_us &&
        event_base_once(admin.w.base, -1, EV_TIMEOUT, admin_stop_poll_cb, NULL, &tv) == 0) {
        return;
    }
    admin_abandon_pending();
    tv.tv_usec = ADMIN_STOP_GRACE_US;
    if (event_base_once(admin.w.base, -1, EV_TIMEOUT, admin_finish_cb, NULL, &tv) != 0) {
        admin_finish_cb(-1, 0, NULL);
    }
}

static void admin_ctl_cb(evutil_socket_t fd, short what, void *arg)
{
    char buf[16];
    bool stop = false;
    ssize_t n;
    (void)what;
    (void)arg;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        stop = stop || memchr(buf, 's', (size_t)n) != NULL;
    }
    if (!stop || admin.stopping) {
        return;
    }
    admin.stopping = true;
    if (admin.bound) {
        admin_conns_unlisten();
        evhttp_del_accept_socket(admin.http, admin.bound);
        admin.bound = NULL;
    }
    /* Requests already waiting get until the drain deadline (counted from
     * SIGTERM, like the workers'), at least ADMIN_STOP_MIN_WAIT_US. */
    int64_t now = util_mono_us();
    int64_t since = atomic_load(&admin_drain_us);
    int64_t deadline = (since ? since : now) + (int64_t)admin.w.reg->cfg->server.shutdown_timeout_ms * 1000;
    admin.stop_deadline_us = deadline > now + ADMIN_STOP_MIN_WAIT_US ? deadline : now + ADMIN_STOP_MIN_WAIT_US;
    admin_stop_poll_cb(-1, 0, NULL);
}

int admin_start(struct registry *reg, char *err, size_t errlen)
{
    const char *listen = reg->cfg->server.admin_listen;
    if (listen == NULL || listen[0] == '\0') {
        log_info("admin", "admin HTTP disabled (server.admin_listen is empty)");
        return FEATD_OK;
    }
    if (admin.started) {
        snprintf(err, errlen, "admin HTTP already started");
        return FEATD_ERR;
    }
    char *host = NULL;
    int port = 0;
    if (config_addr_parse_hostport(listen, &host, &port) != FEATD_OK) {
        snprintf(err, errlen, "server.admin_listen: bad address \"%s\"", listen);
        return FEATD_ERR;
    }
    TAILQ_INIT(&admin.pending);
    admin.ctl_fd[0] = admin.ctl_fd[1] = -1;
    if (worker_init(&admin.w, nworkers, reg, false, err, errlen) != FEATD_OK) {
        free(host);
        return FEATD_ERR;
    }
    admin.http = evhttp_new(admin.w.base);
    if (admin.http == NULL) {
        free(host);
        snprintf(err, errlen, "admin: cannot create the HTTP server");
        return FEATD_ERR;
    }
    evhttp_set_allowed_methods(admin.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                               EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
                                               EVHTTP_REQ_PATCH);
    evhttp_set_gencb(admin.http, admin_http_cb, NULL);
    evhttp_set_max_headers_size(admin.http, ADMIN_MAX_HEADERS);
    evhttp_set_timeout(admin.http, ADMIN_IDLE_TIMEOUT_S);
    admin_apply_limits();
    if (admin_conns_init(err, errlen) != FEATD_OK) {
        free(host);
        return FEATD_ERR;
    }
    errno = 0;
    admin.bound = evhttp_bind_socket_with_handle(admin.http, host, (ev_uint16_t)port);
    free(host);
    if (admin.bound == NULL) {
        snprintf(err, errlen, "server.admin_listen: cannot listen on %s: %s", listen,
                 errno ? strerror(errno) : "bind failed");
        evhttp_free(admin.http);
        admin.http = NULL;
        return FEATD_ERR;
    }
    if (admin_conns_listen(err, errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    if (pipe2(admin.ctl_fd, O_NONBLOCK | O_CLOEXEC) != 0) {
        snprintf(err, errlen, "admin: pipe: %s", strerror(errno));
        return FEATD_ERR;
    }
    admin.ctl_ev = event_new(admin.w.base, admin.ctl_fd[0], EV_READ | EV_PERSIST, admin_ctl_cb, NULL);
    if (admin.ctl_ev == NULL || event_add(admin.ctl_ev, NULL) != 0) {
        snprintf(err, errlen, "admin: cannot create the control event");
        return FEATD_ERR;
    }
    if (worker_start(&admin.w) != FEATD_OK) {
        snprintf(err, errlen, "admin: cannot start the admin thread");
        return FEATD_ERR;
    }
    admin.started = true;
    log_info("admin", "admin HTTP on %s: GET /healthz /readyz /metrics /v1/feature-views "
             "/v1/quality/VIEW, "
             "POST /get-online-features", listen);
    return FEATD_OK;
}

void admin_set_registry(struct registry *reg)
{
    if (!admin.started) {
        return;
    }
    if (worker_send(&admin.w, WMSG_REGISTRY, registry_ref(reg)) != FEATD_OK) {
        registry_unref(reg);
        log_error("admin", "admin thread queue full; it keeps the old registry");
    }
}

void admin_drain(void)
{
    atomic_store(&admin_drain_us, util_mono_us());
    atomic_store(&admin_draining, true);
}

void admin_stop(void)
{
    if (!admin.started) {
        return;
    }
    char b = 's';
    if (write(admin.ctl_fd[1], &b, 1) != 1) {
        log_error("admin", "cannot signal the admin thread to stop: %s", strerror(errno));
    }
    worker_join_and_free(&admin.w);
    close(admin.ctl_fd[0]);
    close(admin.ctl_fd[1]);
    fbuf_free(&admin.page);
    admin.started = false;
}

