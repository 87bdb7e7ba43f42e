/*
 * admin.c — the admin HTTP server (contract in admin.h).
 *
 *   main thread                     admin thread (a listener-less worker)
 *   admin_start ── worker_init ───► event_base + rlink + evhttp on admin_listen
 *   admin_set_registry ─WMSG_REGISTRY► worker.c swaps admin.w.reg
 *   admin_stop ──'s' on ctl pipe──► close port, 503 to waiting requests,
 *                                   evhttp_free, WMSG_STOP (rlink down) ─► join
 *
 *   admin_http_cb ─ route by path and method:
 *     /healthz              answered at once
 *     /readyz               checks, then PING via the admin rlink + timer
 *     /metrics              sums every worker's struct metrics + our own
 *     /v1/feature-views     gencache_refresh (one MGET) + timer
 *     /get-online-features  JSON ─► featd.v1.Request ─► dispatch_submit ─►
 *                           admin_lookup_sink (same thread) ─► JSON reply
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
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <hiredis/hiredis.h>
#include <jansson.h>

#include "core/arena.h"
#include "config/config.h"
#include "core/log.h"
#include "serve/dispatch.h"
#include "core/metrics.h"
#include "core/prom.h"
#include "wire/proto.h"
#include "redis/rlink.h"
#include "net/worker.h"

#define ADMIN_MAX_HEADERS (16 * 1024)       /* request line + headers */
#define ADMIN_IDLE_TIMEOUT_S 60             /* idle keep-alive connections */
#define ADMIN_BUILD_LIMIT (256u * 1024 * 1024)
#define ADMIN_MAX_DEADLINE_MS 600000
#define ADMIN_STOP_GRACE_US 50000           /* lets replies flush before evhttp_free */
#define ADMIN_STOP_POLL_US 10000
#define ADMIN_STOP_MIN_WAIT_US 100000

/* ---- paths and per-path counters ---- */

enum admin_path {
    AP_HEALTHZ = 0,
    AP_READYZ,
    AP_METRICS,
    AP_VIEWS,
    AP_LOOKUP,
    AP_OTHER,
    AP__COUNT
};

static const char *const admin_path_names[AP__COUNT] = {
    "/healthz", "/readyz", "/metrics", "/v1/feature-views", "/get-online-features", "other"
};

static const int admin_codes[] = { 200, 400, 404, 405, 413, 429, 500, 503, 504 };
#define ADMIN_NCODES (FEATD_ARRAY_LEN(admin_codes) + 1)     /* + "other" */

/* ---- calls that wait for Redis or a lookup ---- */

enum admin_call_kind {
    CALL_READYZ = 0,
    CALL_VIEWS,
    CALL_LOOKUP
};

struct admin_call {
    TAILQ_ENTRY(admin_call) link;   /* on admin.pending while req != NULL */
    struct evhttp_request *req;     /* NULL once answered */
    enum admin_call_kind kind;
    int path;                       /* enum admin_path */
    struct event *timer;            /* Redis calls: answer on timeout */
    bool backend_pending;           /* hiredis callback / lookup sink to come */
    struct registry *reg;           /* CALL_VIEWS: registry the MGET was built from */
    int64_t start_us;
};

/* ---- state ---- */

static struct {
    bool started;                   /* main thread's view */
    struct worker w;                /* the admin thread's worker */
    struct evhttp *http;
    struct evhttp_bound_socket *bound;
    int ctl_fd[2];                  /* main writes [1], admin thread reads [0] */
    struct event *ctl_ev;
    bool stopping;
    int64_t stop_deadline_us;       /* waiting requests are answered 503 after it */
    uint64_t limits_version;        /* registry version evhttp limits come from */
    TAILQ_HEAD(, admin_call) pending;
    uint64_t http_counts[AP__COUNT][ADMIN_NCODES];  /* admin thread only */
    struct fbuf page;               /* reused /metrics buffer */
} admin;

static _Atomic bool admin_draining;
static _Atomic int64_t admin_drain_us;      /* util_mono_us() at drain start */
static _Atomic uint64_t admin_reloads_ok;
static _Atomic uint64_t admin_reloads_failed;
static _Atomic int admin_last_reload_ok = 1;

static pthread_mutex_t admin_src_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    admin_metrics_fn fn;
    void *arg;
} admin_srcs[ADMIN_MAX_METRICS_SOURCES];
static int admin_nsrcs;

/* ---- a small JSON writer over fbuf (sticky error) ---- */

struct jw {
    struct fbuf *b;
    int err;
};

static void jw_raw(struct jw *j, const char *s, size_t n)
{
    if (j->err == FEATD_OK && fbuf_append(j->b, s, n) != FEATD_OK) {
        j->err = FEATD_ENOMEM;
    }
}

static void jw_lit(struct jw *j, const char *s)
{
    jw_raw(j, s, strlen(s));
}

static void jw_fmt(struct jw *j, const char *fmt, ...) FEATD_PRINTF(2, 3);

static void jw_fmt(struct jw *j, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        j->err = FEATD_ERR;
        return;
    }
    jw_raw(j, tmp, (size_t)n);
}

/* Length of the valid UTF-8 sequence at p (0 when invalid: bad lead or
 * continuation bytes, overlong forms, surrogates, beyond U+10FFFF). */
static size_t admin_utf8_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (len > n) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
        return 0;
    }
    return len;
}

/* A JSON string; invalid UTF-8 bytes become U+FFFD. */
static void jw_str(struct jw *j, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run = 0;
    jw_raw(j, "\"", 1);
    while (i < n) {
        unsigned char c = p[i];
        const char *esc = NULL;
        char ubuf[8];
        size_t l = 1;
        if (c == '"') {
            esc = "\\\"";
        } else if (c == '\\') {
            esc = "\\\\";
        } else if (c == '\n') {
            esc = "\\n";
        } else if (c == '\r') {
            esc = "\\r";
        } else if (c == '\t') {
            esc = "\\t";
        } else if (c < 0x20 || c == 0x7F) {
            snprintf(ubuf, sizeof(ubuf), "\\u%04x", c);
            esc = ubuf;
        } else if (c >= 0x80) {
            l = admin_utf8_len(p + i, n - i);
            if (l == 0) {
                esc = "\\ufffd";
                l = 1;
            }
        }
        if (esc) {
            jw_raw(j, s + i - run, run);
            run = 0;
            jw_lit(j, esc);
        } else {
            run += l;
        }
        i += l;
    }
    jw_raw(j, s + n - run, run);
    jw_raw(j, "\"", 1);
}

static void jw_cstr(struct jw *j, const char *s)
{
    jw_str(j, s ? s : "", s ? strlen(s) : 0);
}

static void jw_base64(struct jw *j, const uint8_t *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char q[4];
    jw_raw(j, "\"", 1);
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        q[0] = tab[v >> 18];
        q[1] = tab[(v >> 12) & 63];
        q[2] = tab[(v >> 6) & 63];
        q[3] = tab[v & 63];
        jw_raw(j, q, 4);
    }
    if (n - i > 0) {
        uint32_t v = (uint32_t)p[i] << 16 | (n - i == 2 ? (uint32_t)p[i + 1] << 8 : 0);
        q[0] = tab[v >> 18];
        q[1] = tab[(v >> 12) & 63];
        q[2] = n - i == 2 ? tab[(v >> 6) & 63] : '=';
        q[3] = '=';
        jw_raw(j, q, 4);
    }
    jw_raw(j, "\"", 1);
}

/* Non-finite numbers are JSON strings "NaN", "Infinity", "-Infinity". */
static bool jw_nonfinite(struct jw *j, double d)
{
    if (isnan(d)) {
        jw_lit(j, "\"NaN\"");
    } else if (isinf(d)) {
        jw_lit(j, d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    } else {
        return false;
    }
    return true;
}

/* The shortest %g form that reads back as the same double. */
static void jw_double(struct jw *j, double d)
{
    if (jw_nonfinite(j, d)) {
        return;
    }
    char tmp[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
        if (strtod(tmp, NULL) == d) {
            break;
        }
    }
    jw_lit(j, tmp);
}

/* The shortest %g form that reads back (as a float) as the same float. */
static void jw_float(struct jw *j, float f)
{
    if (jw_nonfinite(j, (double)f)) {
        return;
    }
    char tmp[40];
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, (double)f);
        if (strtof(tmp, NULL) == f) {
            break;
        }
    }
    jw_lit(j, tmp);
}

/* RFC 3339 UTC: "2026-11-21T10:00:00Z", with ".ffffff" when the µs are not 0. */
static void jw_time(struct jw *j, int64_t us)
{
    int64_t secs = us / 1000000, frac = us % 1000000;
    if (frac < 0) {
        secs -= 1;
        frac += 1000000;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL) {
        jw_lit(j, "null");
        return;
    }
    if (frac) {
        jw_fmt(j, "\"%04d-%02d-%02dT%02d:%02d:%02d.%06" PRId64 "Z\"", tm.tm_year + 1900, tm.tm_mon + 1,
               tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
    } else {
        jw_fmt(j, "\"%04d-%02d-%02dT%02d:%02d:%02dZ\"", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
               tm.tm_hour, tm.tm_min, tm.tm_sec);
    }
}

/* One featd.v1.Value as JSON (see docs/operations.md for the mapping). */
static void jw_value(struct jw *j, const Featd__V1__Value *v)
{
    if (v == NULL) {
        jw_lit(j, "null");
        return;
    }
    switch (v->kind_case) {
    case FEATD__V1__VALUE__KIND_BOOL_VAL:
        jw_lit(j, v->bool_val ? "true" : "false");
        break;
    case FEATD__V1__VALUE__KIND_INT32_VAL:
        jw_fmt(j, "%" PRId32, v->int32_val);
        break;
    case FEATD__V1__VALUE__KIND_INT64_VAL:
        jw_fmt(j, "%" PRId64, v->int64_val);
        break;
    case FEATD__V1__VALUE__KIND_FLOAT_VAL:
        jw_float(j, v->float_val);
        break;
    case FEATD__V1__VALUE__KIND_DOUBLE_VAL:
        jw_double(j, v->double_val);
        break;
    case FEATD__V1__VALUE__KIND_STRING_VAL:
        jw_cstr(j, v->string_val);
        break;
    case FEATD__V1__VALUE__KIND_BYTES_VAL:
        jw_base64(j, v->bytes_val.data, v->bytes_val.len);
        break;
    case FEATD__V1__VALUE__KIND_TIMESTAMP_US_VAL:
        jw_time(j, v->timestamp_us_val);
        break;
    case FEATD__V1__VALUE__KIND_FLOAT_LIST_VAL: {
        const Featd__V1__FloatList *l = v->float_list_val;
        jw_raw(j, "[", 1);
        for (size_t i = 0; l && i < l->n_val; i++) {
            if (i) {
                jw_raw(j, ",", 1);
            }
            jw_float(j, l->val[i]);
        }
        jw_raw(j, "]", 1);
        break;
    }
    case FEATD__V1__VALUE__KIND_DOUBLE_LIST_VAL: {
        const Featd__V1__DoubleList *l = v->double_list_val;
        jw_raw(j, "[", 1);
        for (size_t i = 0; l && i < l->n_val; i++) {
            if (i) {
                jw_raw(j, ",", 1);
            }
            jw_double(j, l->val[i]);
        }
        jw_raw(j, "]", 1);
        break;
    }
    case FEATD__V1__VALUE__KIND_INT64_LIST_VAL: {
        const Featd__V1__Int64List *l = v->int64_list_val;
        jw_raw(j, "[", 1);
        for (size_t i = 0; l && i < l->n_val; i++) {
            jw_fmt(j, i ? ",%" PRId64 : "%" PRId64, l->val[i]);
        }
        jw_raw(j, "]", 1);
        break;
    }
    case FEATD__V1__VALUE__KIND_STRING_LIST_VAL: {
        const Featd__V1__StringList *l = v->string_list_val;
        jw_raw(j, "[", 1);
        for (size_t i = 0; l && i < l->n_val; i++) {
            if (i) {
                jw_raw(j, ",", 1);
            }
            jw_cstr(j, l->val[i]);
        }
        jw_raw(j, "]", 1);
        break;
    }
    default:
        jw_lit(j, "null");
        break;
    }
}

/* ---- replies ---- */

static const char *admin_reason(int code)
{
    switch (code) {
    case 200: return "OK";
    case 400: return "Bad Request";
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

/* Sends code with body bytes (copied) and content type; counts it. */
static void admin_reply(struct evhttp_request *req, int path, int code, const char *ctype,
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

static void admin_reply_text(struct evhttp_request *req, int path, int code, const char *fmt, ...)
    FEATD_PRINTF(4, 5);

static void admin_reply_text(struct evhttp_request *req, int path, int code, const char *fmt, ...)
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

/* HTTP status for a featd.v1.ErrorCode. */
static int admin_http_status(int code)
{
    switch (code) {
    case FEATD__V1__ERROR_CODE__OK: return 200;
    case FEATD__V1__ERROR_CODE__INVALID_ARGUMENT: return 400;
    case FEATD__V1__ERROR_CODE__UNAVAILABLE: return 503;
    case FEATD__V1__ERROR_CODE__DEADLINE_EXCEEDED: return 504;
    case FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED: return 429;
    default: return 500;
    }
}

/* {"error": {"code": "INVALID_ARGUMENT", "message": "..."}} with the matching status. */
static void admin_reply_error(struct evhttp_request *req, int path, int code, const char *msg)
{
    struct fbuf b = { 0 };
    struct jw j = { &b, FEATD_OK };
    jw_lit(&j, "{\"error\":{\"code\":");
    jw_cstr(&j, code >= 0 && code < METRICS_CODES ? metrics_code_names[code] : "INTERNAL");
    jw_lit(&j, ",\"message\":");
    jw_cstr(&j, msg);
    jw_lit(&j, "}}\n");
    if (j.err != FEATD_OK) {
        admin_reply_text(req, path, 500, "out of memory");
    } else {
        admin_reply(req, path, admin_http_status(code), "application/json", b.data, b.len);
    }
    fbuf_free(&b);
}

static void admin_reply_errorf(struct evhttp_request *req, int path, int code, const char *fmt, ...)
    FEATD_PRINTF(4, 5);

static void admin_reply_errorf(struct evhttp_request *req, int path, int code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    admin_reply_error(req, path, code, msg);
}

/* ---- pending calls ---- */

static struct admin_call *admin_call_new(struct evhttp_request *req, enum admin_call_kind kind, int path)
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

/* The HTTP side is done (reply sent or abandoned): off the pending list. */
static void admin_call_answered(struct admin_call *c)
{
    if (c->req) {
        TAILQ_REMOVE(&admin.pending, c, link);
        c->req = NULL;
    }
    if (c->timer) {
        evtimer_del(c->timer);
    }
}

static void admin_call_maybe_free(struct admin_call *c)
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

/* Starts a timer that fires cb after redis.timeout_ms. */
static int admin_call_timer(struct admin_call *c, event_callback_fn cb)
{
    int ms = admin.w.reg->cfg->redis.timeout_ms;
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    c->timer = evtimer_new(admin.w.base, cb, c);
    if (c->timer == NULL || evtimer_add(c->timer, &tv) != 0) {
        return FEATD_ERR;
    }
    return FEATD_OK;
}

/* ---- /healthz and /readyz ---- */

static void admin_readyz_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    struct admin_call *c = arg;
    (void)fd;
    (void)what;
    if (c->req) {
        admin_reply_text(c->req, AP_READYZ, 503, "not ready: redis %s did not answer PING within %d ms",
                         rlink_endpoint(admin.w.redis), admin.w.reg->cfg->redis.timeout_ms);
        admin_call_answered(c);
    }
    admin_call_maybe_free(c);
}

static void admin_readyz_cb(redisAsyncContext *ac, void *r, void *priv)
{
    struct admin_call *c = priv;
    redisReply *reply = r;
    (void)ac;
    c->backend_pending = false;
    if (c->req) {
        if (reply == NULL) {
            admin_reply_text(c->req, AP_READYZ, 503, "not ready: %s", rlink_status(admin.w.redis));
        } else if (reply->type == REDIS_REPLY_ERROR) {
            admin_reply_text(c->req, AP_READYZ, 503, "not ready: redis %s answered PING with an error: %.*s",
                             rlink_endpoint(admin.w.redis), (int)reply->len, reply->str);
        } else {
            admin_reply_text(c->req, AP_READYZ, 200, "ready");
        }
        admin_call_answered(c);
    }
    admin_call_maybe_free(c);
}

static void admin_readyz(struct evhttp_request *req)
{
    if (atomic_load(&admin_draining) || admin.stopping) {
        admin_reply_text(req, AP_READYZ, 503, "not ready: shutting down");
        return;
    }
    if (admin.w.reg == NULL || admin.w.reg->cfg == NULL) {
        admin_reply_text(req, AP_READYZ, 503, "not ready: no registry loaded");
        return;
    }
    if (!rlink_ready(admin.w.redis)) {
        admin_reply_text(req, AP_READYZ, 503, "not ready: %s", rlink_status(admin.w.redis));
        return;
    }
    int down = 0;
    for (int i = 0; i < nworkers; i++) {
        down += METRICS_GET(workers[i].metrics.redis_connected) == 0;
    }
    if (down) {
        admin_reply_text(req, AP_READYZ, 503, "not ready: %d of %d workers have no Redis link to %s", down,
                         nworkers, rlink_endpoint(admin.w.redis));
        return;
    }
    struct admin_call *c = admin_call_new(req, CALL_READYZ, AP_READYZ);
    if (c == NULL) {
        admin_reply_text(req, AP_READYZ, 500, "out of memory");
        return;
    }
    static const char *argv[] = { "PING" };
    static const size_t argvlen[] = { 4 };
    if (admin_call_timer(c, admin_readyz_timeout_cb) != FEATD_OK ||
        rlink_command_argv(admin.w.redis, admin_readyz_cb, c, 1, argv, argvlen) != FEATD_OK) {
        admin_reply_text(req, AP_READYZ, 503, "not ready: %s", rlink_status(admin.w.redis));
        admin_call_answered(c);
        admin_call_maybe_free(c);
        return;
    }
    c->backend_pending = true;
}

/* ---- /metrics ---- */

/* featd_worker_connections{worker="N"}: how the serving connections are spread. */
static int admin_prom_worker_conns(struct fbuf *o)
{
    if (prom_header(o, "featd_worker_connections", "gauge",
                          "Client connections owned by each serving worker") != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    for (int i = 0; i < nworkers; i++) {
        if (fbuf_appendf(o, "featd_worker_connections{worker=\"%d\"} %" PRIu64 "\n", i,
                         (uint64_t)atomic_load(&workers[i].loop.nconns)) != FEATD_OK) {
            return FEATD_ENOMEM;
        }
    }
    return FEATD_OK;
}

/* featd's own families; FEATD_OK or an error when out of memory. */
static int admin_metrics_write(struct fbuf *o)
{
    struct metrics sum;
    worker_metrics_snapshot(&sum);
    metrics_sum(&sum, &admin.w.metrics);
    int rc = FEATD_OK;

#define ADMIN_PROM_COUNTER_(name, help) \
    if (rc == FEATD_OK) { \
        rc = prom_scalar(o, "featd_" #name, "counter", help, "%" PRIu64, METRICS_GET(sum.name)); \
    }
    METRICS_COUNTERS(ADMIN_PROM_COUNTER_)
#undef ADMIN_PROM_COUNTER_
    if (rc != FEATD_OK) {
        return rc;
    }

    if (prom_header(o, "featd_requests_total", "counter",
                          "Requests answered, by type and featd.v1.ErrorCode (OK = success)") != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    for (size_t t = 0; t < MREQ__COUNT; t++) {
        for (size_t c = 0; c < METRICS_CODES; c++) {
            if (fbuf_appendf(o, "featd_requests_total{type=\"%s\",code=\"%s\"} %" PRIu64 "\n",
                             metrics_req_type_names[t], metrics_code_names[c],
                             METRICS_GET(sum.requests[t][c])) != FEATD_OK) {
                return FEATD_ENOMEM;
            }
        }
    }
    if (prom_header(o, "featd_value_status_total", "counter",
                          "Feature values returned by GetOnlineFeatures, by featd.v1.FieldStatus") != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    for (size_t s = 0; s < METRICS_STATUSES; s++) {
        if (fbuf_appendf(o, "featd_value_status_total{status=\"%s\"} %" PRIu64 "\n", metrics_status_names[s],
                         METRICS_GET(sum.value_statuses[s])) != FEATD_OK) {
            return FEATD_ENOMEM;
        }
    }
    if (prom_hist(o, "featd_request_latency_seconds",
                  "Time from decoding a request to writing its answer", &sum.request_latency) != FEATD_OK ||
        prom_hist(o, "featd_redis_latency_seconds", "Redis round trip of the lookup path",
                  &sum.redis_latency) != FEATD_OK) {
        return FEATD_ENOMEM;
    }

    int up = 0;
    for (int i = 0; i < nworkers; i++) {
        up += METRICS_GET(workers[i].metrics.redis_connected) != 0;
    }
    const struct registry *reg = admin.w.reg;
    double uptime = (double)(util_now_us() - worker_shared.start_us) / 1e6;
    if (prom_scalar(o, "featd_connections_open", "gauge", "Client connections open on the serving port",
                    "%" PRId64, (int64_t)atomic_load(&metrics_connections_open)) != FEATD_OK ||
        prom_scalar(o, "featd_inflight_requests", "gauge", "Requests waiting on Redis",
                    "%" PRIu64, METRICS_GET(sum.inflight)) != FEATD_OK ||
        prom_scalar(o, "featd_workers", "gauge", "Serving worker threads", "%d", nworkers) != FEATD_OK ||
        admin_prom_worker_conns(o) != FEATD_OK ||
        prom_scalar(o, "featd_redis_connected", "gauge", "Serving workers whose Redis link is up",
                    "%d", up) != FEATD_OK ||
        prom_scalar(o, "featd_admin_redis_connected", "gauge", "1 when the admin thread's Redis link is up",
                    "%d", rlink_ready(admin.w.redis) ? 1 : 0) != FEATD_OK ||
        prom_scalar(o, "featd_up", "gauge", "1 while featd runs", "1") != FEATD_OK ||
        prom_header(o, "featd_build_info", "gauge", "featd version (value is always 1)") != FEATD_OK ||
        fbuf_appendf(o, "featd_build_info{version=\"%s\"} 1\n", FEATD_VERSION) != FEATD_OK ||
        prom_scalar(o, "featd_registry_version", "gauge",
                    "Registry version in use (1 at startup, +1 per successful reload)",
                    "%" PRIu64, reg->version) != FEATD_OK ||
        prom_scalar(o, "featd_feature_views", "gauge", "Feature views in the registry",
                    "%zu", reg->cfg->nviews) != FEATD_OK ||
        prom_scalar(o, "featd_start_time_seconds", "gauge", "Start time of the process, seconds since the epoch",
                    "%.3f", (double)worker_shared.start_us / 1e6) != FEATD_OK ||
        prom_scalar(o, "featd_uptime_seconds", "gauge", "Seconds since featd started", "%.3f", uptime) != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    if (prom_header(o, "featd_reloads_total", "counter",
                          "Configuration reloads (SIGHUP), by result") != FEATD_OK ||
        fbuf_appendf(o, "featd_reloads_total{result=\"ok\"} %" PRIu64 "\nfeatd_reloads_total{result=\"failed\"} %"
                     PRIu64 "\n", atomic_load(&admin_reloads_ok), atomic_load(&admin_reloads_failed)) != FEATD_OK ||
        prom_scalar(o, "featd_config_last_reload_successful", "gauge",
                    "1 when the last reload succeeded (or none happened), 0 when it failed",
                    "%d", atomic_load(&admin_last_reload_ok)) != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    if (prom_header(o, "featd_admin_http_requests_total", "counter",
                          "Admin HTTP requests answered by featd, by path and HTTP status") != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    for (size_t p = 0; p < AP__COUNT; p++) {
        for (size_t c = 0; c < ADMIN_NCODES; c++) {
            uint64_t n = admin.http_counts[p][c];
            if (n == 0 && !(c == 0 && p != AP_OTHER)) {
                continue;       /* 200 always shown for real paths; others once seen */
            }
            char code[8];
            if (c < FEATD_ARRAY_LEN(admin_codes)) {
                snprintf(code, sizeof(code), "%d", admin_codes[c]);
            } else {
                snprintf(code, sizeof(code), "other");
            }
            if (fbuf_appendf(o, "featd_admin_http_requests_total{path=\"%s\",code=\"%s\"} %" PRIu64 "\n",
                             admin_path_names[p], code, n) != FEATD_OK) {
                return FEATD_ENOMEM;
            }
        }
    }
    return FEATD_OK;
}

static void admin_metrics(struct evhttp_request *req)
{
    struct fbuf *o = &admin.page;
    fbuf_reset(o);
    int rc = admin_metrics_write(o);
    pthread_mutex_lock(&admin_src_lock);
    for (int i = 0; i < admin_nsrcs && rc == FEATD_OK; i++) {
        rc = admin_srcs[i].fn(o, admin_srcs[i].arg);
    }
    pthread_mutex_unlock(&admin_src_lock);
    if (rc != FEATD_OK) {
        admin_reply_text(req, AP_METRICS, 500, "out of memory writing metrics");
        return;
    }
    admin_reply(req, AP_METRICS, 200, "text/plain; version=0.0.4; charset=utf-8", o->data, o->len);
}

int admin_add_metrics_source(admin_metrics_fn fn, void *arg)
{
    int rc = FEATD_ERR;
    pthread_mutex_lock(&admin_src_lock);
    if (fn && admin_nsrcs < ADMIN_MAX_METRICS_SOURCES) {
        admin_srcs[admin_nsrcs].fn = fn;
        admin_srcs[admin_nsrcs].arg = arg;
        admin_nsrcs++;
        rc = FEATD_OK;
    }
    pthread_mutex_unlock(&admin_src_lock);
    return rc;
}

/* ---- /v1/feature-views ---- */

static json_t *admin_key_json(const struct cfg_join_key *k, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(a, json_pack("{s:s, s:s}", "name", k[i].name, "type",
                                           config_type_name(k[i].type)));
    }
    return a;
}

/* The registry as JSON; fresh = generations were just read from Redis. */
static char *admin_views_json(const struct registry *reg, bool fresh)
{
    const struct featd_config *cfg = reg->cfg;
    json_t *root = json_object();
    json_object_set_new(root, "registry_version", json_integer((json_int_t)reg->version));
    json_object_set_new(root, "config_path", cfg->path ? json_string(cfg->path) : json_null());
    json_object_set_new(root, "generations_from", json_string(fresh ? "redis" : "cache"));
    json_t *ents = json_array();
    for (size_t i = 0; i < cfg->nentities; i++) {
        const struct cfg_entity *e = &cfg->entities[i];
        json_array_append_new(ents, json_pack("{s:s, s:o}", "name", e->name, "join_keys",
                                              admin_key_json(e->keys, e->nkeys)));
    }
    json_object_set_new(root, "entities", ents);
    json_t *views = json_array();
    for (size_t i = 0; i < cfg->nviews; i++) {
        const struct cfg_view *v = &cfg->views[i];
        json_t *jv = json_object();
        json_object_set_new(jv, "name", json_string(v->name));
        json_t *en = json_array();
        for (size_t k = 0; k < v->nentities; k++) {
            json_array_append_new(en, json_string(v->entities[k]));
        }
        json_object_set_new(jv, "entities", en);
        json_object_set_new(jv, "join_keys", admin_key_json(v->keys, v->nkeys));
        json_t *fs = json_array();
        for (size_t f = 0; f < v->nfeatures; f++) {
            json_array_append_new(fs, json_pack("{s:s, s:s}", "name", v->features[f].name, "type",
                                                config_type_name(v->features[f].type)));
        }
        json_object_set_new(jv, "features", fs);
        json_object_set_new(jv, "ttl_seconds", json_integer(v->ttl_seconds));
        if (v->source_path) {
            json_t *src = json_object();
            json_object_set_new(src, "path", json_string(v->source_path));
            json_object_set_new(src, "event_timestamp_column",
                                v->event_ts_column ? json_string(v->event_ts_column) : json_null());
            json_object_set_new(src, "created_timestamp_column",
                                v->created_ts_column ? json_string(v->created_ts_column) : json_null());
            json_t *cols = json_object();
            for (size_t f = 0; f < v->nfeatures; f++) {
                if (v->features[f].column && strcmp(v->features[f].column, v->features[f].name) != 0) {
                    json_object_set_new(cols, v->features[f].name, json_string(v->features[f].column));
                }
            }
            json_object_set_new(src, "columns", cols);
            json_object_set_new(jv, "source", src);
        } else {
            json_object_set_new(jv, "source", json_null());
        }
        json_object_set_new(jv, "materialization",
                            json_pack("{s:s, s:I}", "mode", v->mat_mode == MAT_SNAPSHOT ? "snapshot" : "incremental",
                                      "interval_seconds", (json_int_t)v->mat_interval_seconds));
        json_object_set_new(jv, "fingerprint", json_string(v->fingerprint_hex));
        uint64_t g = (reg == admin.w.reg) ? gencache_get(&admin.w.serve.gens, i) : GENCACHE_UNKNOWN;
        json_object_set_new(jv, "generation", g == GENCACHE_UNKNOWN ? json_null() : json_integer((json_int_t)g));
        json_array_append_new(views, jv);
    }
    json_object_set_new(root, "feature_views", views);
    char *s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    return s;
}

static void admin_views_answer(struct admin_call *c, bool fresh)
{
    char *s = admin_views_json(admin.w.reg, fresh);
    if (s == NULL) {
        admin_reply_text(c->req, AP_VIEWS, 500, "out of memory");
    } else {
        size_t n = strlen(s);
        admin_reply(c->req, AP_VIEWS, 200, "application/json", s, n);
        free(s);
    }
    admin_call_answered(c);
}

static void admin_views_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    struct admin_call *c = arg;
    (void)fd;
    (void)what;
    if (c->req) {
        admin_views_answer(c, false);
    }
    admin_call_maybe_free(c);
}

/* The generation refresh (gencache_refresh) answered. */
static void admin_views_refreshed(void *arg, bool fresh)
{
    struct admin_call *c = arg;
    c->backend_pending = false;
    if (c->req) {
        admin_views_answer(c, fresh);
    }
    admin_call_maybe_free(c);
}

/* Answers with generations read now from Redis (the same refresh the
 * workers run every second), or from the cache when Redis does not answer
 * within the call's timer. */
static void admin_views(struct evhttp_request *req)
{
    struct admin_call *c = admin_call_new(req, CALL_VIEWS, AP_VIEWS);
    if (c == NULL) {
        admin_reply_text(req, AP_VIEWS, 500, "out of memory");
        return;
    }
    if (admin_call_timer(c, admin_views_timeout_cb) != FEATD_OK ||
        gencache_refresh(&admin.w.serve.gens, admin.w.redis, admin_views_refreshed, c) != FEATD_OK) {
        admin_views_answer(c, false);
        admin_call_maybe_free(c);
        return;
    }
    c->backend_pending = true;
}

/* ---- POST /get-online-features ---- */

/* The response as Feast-shaped JSON into b. */
static int admin_lookup_json(struct fbuf *b, const Featd__V1__GetOnlineFeaturesResponse *g)
{
    struct jw j = { b, FEATD_OK };
    jw_lit(&j, "{\"metadata\":{\"feature_names\":[");
    for (size_t i = 0; i < g->n_feature_names; i++) {
        if (i) {
            jw_raw(&j, ",", 1);
        }
        jw_cstr(&j, g->feature_names[i]);
    }
    jw_lit(&j, "]},\"results\":[");
    for (size_t f = 0; f < g->n_results; f++) {
        const Featd__V1__FeatureVector *fv = g->results[f];
        jw_lit(&j, f ? ",{\"values\":[" : "{\"values\":[");
        for (size_t r = 0; r < fv->n_values; r++) {
            if (r) {
                jw_raw(&j, ",", 1);
            }
            jw_value(&j, fv->values[r]);
        }
        jw_lit(&j, "],\"statuses\":[");
        for (size_t r = 0; r < fv->n_statuses; r++) {
            int s = (int)fv->statuses[r];
            jw_lit(&j, r ? ",\"" : "\"");
            jw_lit(&j, s >= 0 && s < METRICS_STATUSES ? metrics_status_names[s] : "INVALID");
            jw_raw(&j, "\"", 1);
        }
        jw_lit(&j, "],\"event_timestamps\":[");
        for (size_t r = 0; r < fv->n_event_timestamps_us; r++) {
            if (r) {
                jw_raw(&j, ",", 1);
            }
            jw_time(&j, fv->event_timestamps_us[r]);
        }
        jw_lit(&j, "]}");
    }
    jw_lit(&j, "]}\n");
    return j.err;
}

static void admin_lookup_sink(void *arg, const Featd__V1__Response *resp)
{
    struct admin_call *c = arg;
    c->backend_pending = false;
    if (c->req) {
        if (resp->body_case == FEATD__V1__RESPONSE__BODY_ERROR && resp->error) {
            admin_reply_error(c->req, AP_LOOKUP, (int)resp->error->code, resp->error->message);
        } else if (resp->body_case == FEATD__V1__RESPONSE__BODY_GET_ONLINE_FEATURES && resp->get_online_features) {
            struct fbuf b = { 0 };
            if (admin_lookup_json(&b, resp->get_online_features) != FEATD_OK) {
                admin_reply_error(c->req, AP_LOOKUP, FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED,
                                  "out of memory writing the JSON response");
            } else {
                admin_reply(c->req, AP_LOOKUP, 200, "application/json", b.data, b.len);
            }
            fbuf_free(&b);
        } else {
            admin_reply_error(c->req, AP_LOOKUP, FEATD__V1__ERROR_CODE__INTERNAL, "unexpected response body");
        }
        admin_call_answered(c);
    }
    admin_call_maybe_free(c);
}

/* Type of join key name in the registry: FT_INT64, FT_STRING, or -1 when no
 * entity declares it (the lookup then reports it as unused). */
static int admin_join_key_type(const struct featd_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nentities; i++) {
        for (size_t k = 0; k < cfg->entities[i].nkeys; k++) {
            if (strcmp(cfg->entities[i].keys[k].name, name) == 0) {
                return (int)cfg->entities[i].keys[k].type;
            }
        }
    }
    return -1;
}


/*
 * Builds the featd.v1.Request for a Feast-shaped JSON body into a (arena),
 * then packs it into *out (malloc'd, *outlen bytes). On a bad body returns
 * FEATD_ERR with a message for the client in msg.
 */
static int admin_build_request(const json_t *root, struct arena *a, uint8_t **out, size_t *outlen,
                               char *msg, size_t msglen)
{
#define BAD(...) do { snprintf(msg, msglen, __VA_ARGS__); return FEATD_ERR; } while (0)
#define NOMEM() do { snprintf(msg, msglen, "request needs more memory than allowed"); return FEATD_ENOMEM; } while (0)
    const struct featd_config *cfg = admin.w.reg->cfg;
    if (!json_is_object(root)) {
        BAD("the body must be a JSON object {\"features\": [...], \"entities\": {...}}, not %s",
            config_json_kind(root));
    }
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)root, key, val) {
        if (strcmp(key, "features") != 0 && strcmp(key, "entities") != 0 && strcmp(key, "deadline_ms") != 0 &&
            strcmp(key, "full_feature_names") != 0) {
            BAD("unknown key \"%s\" (expected features, entities, deadline_ms, full_feature_names)", key);
        }
    }
    Featd__V1__GetOnlineFeaturesRequest *g = arena_alloc(a, sizeof(*g));
    Featd__V1__Request *rq = arena_alloc(a, sizeof(*rq));
    if (g == NULL || rq == NULL) {
        NOMEM();
    }
    featd__v1__get_online_features_request__init(g);
    featd__v1__request__init(rq);

    const json_t *ff = json_object_get(root, "features");
    if (ff == NULL || !json_is_array(ff)) {
        BAD("\"features\" must be an array of \"view:feature\" or \"view:*\" strings%s",
            ff ? "" : " (missing)");
    }
    g->n_features = json_array_size(ff);
    g->features = arena_alloc(a, sizeof(char *) * (g->n_features + 1));
    if (g->features == NULL) {
        NOMEM();
    }
    for (size_t i = 0; i < g->n_features; i++) {
        const json_t *s = json_array_get(ff, i);
        if (!json_is_string(s)) {
            BAD("features[%zu]: expected a \"view:feature\" string, got %s", i, config_json_kind(s));
        }
        if (strlen(json_string_value(s)) != json_string_length(s)) {
            BAD("features[%zu]: contains a NUL character", i);
        }
        g->features[i] = (char *)json_string_value(s);
    }

    const json_t *ents = json_object_get(root, "entities");
    if (ents == NULL || !json_is_object(ents)) {
        BAD("\"entities\" must be an object mapping each join key to an array of values%s",
            ents ? "" : " (missing)");
    }
    g->n_entities = json_object_size(ents);
    g->entities = arena_alloc(a, sizeof(*g->entities) * (g->n_entities + 1));
    if (g->entities == NULL) {
        NOMEM();
    }
    size_t ci = 0;
    json_object_foreach((json_t *)ents, key, val) {
        if (!json_is_array(val)) {
            BAD("entities.%s: expected an array of values, got %s", key, config_json_kind(val));
        }
        int kt = admin_join_key_type(cfg, key);
        Featd__V1__EntityColumn *col = arena_alloc(a, sizeof(*col));
        size_t n = json_array_size(val);
        Featd__V1__Value **vals = arena_alloc(a, sizeof(*vals) * (n + 1));
        Featd__V1__Value *vs = arena_alloc(a, sizeof(*vs) * (n + 1));
        if (col == NULL || vals == NULL || vs == NULL) {
            NOMEM();
        }
        featd__v1__entity_column__init(col);
        col->join_key = (char *)key;
        col->n_values = n;
        col->values = vals;
        for (size_t r = 0; r < n; r++) {
            const json_t *e = json_array_get(val, r);
            featd__v1__value__init(&vs[r]);
            vals[r] = &vs[r];
            if (json_is_integer(e) && kt != FT_STRING) {
                vs[r].kind_case = FEATD__V1__VALUE__KIND_INT64_VAL;
                vs[r].int64_val = (int64_t)json_integer_value(e);
            } else if (json_is_string(e) && kt != FT_INT64) {
                if (strlen(json_string_value(e)) != json_string_length(e)) {
                    BAD("entities.%s[%zu]: contains a NUL character", key, r);
                }
                vs[r].kind_case = FEATD__V1__VALUE__KIND_STRING_VAL;
                vs[r].string_val = (char *)json_string_value(e);
            } else if (kt == FT_INT64) {
                BAD("entities.%s[%zu]: join key \"%s\" is int64: expected a JSON integer, got %s", key, r, key,
                    config_json_kind(e));
            } else if (kt == FT_STRING) {
                BAD("entities.%s[%zu]: join key \"%s\" is a string: expected a JSON string, got %s", key, r,
                    key, config_json_kind(e));
            } else {
                BAD("entities.%s[%zu]: expected an integer or a string, got %s", key, r, config_json_kind(e));
            }
        }
        g->entities[ci++] = col;
    }

    const json_t *dl = json_object_get(root, "deadline_ms");
    if (dl && !json_is_null(dl)) {
        if (!json_is_integer(dl) || json_integer_value(dl) < 0 ||
            json_integer_value(dl) > ADMIN_MAX_DEADLINE_MS) {
            BAD("\"deadline_ms\" must be an integer from 0 (server default) to %d", ADMIN_MAX_DEADLINE_MS);
        }
        g->deadline_ms = (uint32_t)json_integer_value(dl);
    }
    const json_t *fn = json_object_get(root, "full_feature_names");
    if (fn && !json_is_boolean(fn)) {
        BAD("\"full_feature_names\" must be true or false (names are always \"view:feature\")");
    }

    rq->body_case = FEATD__V1__REQUEST__BODY_GET_ONLINE_FEATURES;
    rq->get_online_features = g;
    size_t len = featd__v1__request__get_packed_size(rq);
    uint8_t *buf = malloc(len ? len : 1);
    if (buf == NULL) {
        NOMEM();
    }
    *outlen = featd__v1__request__pack(rq, buf);
    *out = buf;
    return FEATD_OK;
#undef BAD
#undef NOMEM
}

static void admin_lookup(struct evhttp_request *req)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    const char *body = len ? (const char *)evbuffer_pullup(in, -1) : "";
    json_error_t jerr;
    char msg[512];
    if (body == NULL) {
        admin_reply_error(req, AP_LOOKUP, FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        METRICS_INC(admin.w.metrics.requests[MREQ_HTTP_GET][FEATD__V1__ERROR_CODE__INVALID_ARGUMENT]);
        admin_reply_errorf(req, AP_LOOKUP, FEATD__V1__ERROR_CODE__INVALID_ARGUMENT,
                           "the body is not valid JSON (line %d, column %d: %s)", jerr.line, jerr.column,
                           jerr.text);
        return;
    }
    struct arena *a = malloc(sizeof(*a));
    uint8_t *pb = NULL;
    size_t pblen = 0;
    int rc = FEATD_ENOMEM;
    snprintf(msg, sizeof(msg), "out of memory");
    if (a) {
        arena_init(a, ADMIN_BUILD_LIMIT);
        rc = admin_build_request(root, a, &pb, &pblen, msg, sizeof(msg));
        arena_release(a);
        free(a);
    }
    json_decref(root);
    if (rc != FEATD_OK) {
        int code = rc == FEATD_ERR ? FEATD__V1__ERROR_CODE__INVALID_ARGUMENT
                                   : FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED;
        METRICS_INC(admin.w.metrics.requests[MREQ_HTTP_GET][code]);
        admin_reply_error(req, AP_LOOKUP, code, msg);
        return;
    }
    struct admin_call *c = admin_call_new(req, CALL_LOOKUP, AP_LOOKUP);
    if (c == NULL) {
        free(pb);
        admin_reply_error(req, AP_LOOKUP, FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    c->backend_pending = true;
    /* The sink may run before dispatch_submit returns; c is not touched after. */
    dispatch_submit(&admin.w.serve, pb, pblen, MREQ_HTTP_GET, admin_lookup_sink, c);
    free(pb);
}

/* ---- routing ---- */

struct admin_route {
    const char *path;
    int id;                                 /* enum admin_path */
    enum evhttp_cmd_type method;
    void (*fn)(struct evhttp_request *req);
};

static void admin_healthz(struct evhttp_request *req)
{
    admin_reply_text(req, AP_HEALTHZ, 200, "ok");
}

static const struct admin_route admin_routes[] = {
    { "/healthz", AP_HEALTHZ, EVHTTP_REQ_GET, admin_healthz },
    { "/readyz", AP_READYZ, EVHTTP_REQ_GET, admin_readyz },
    { "/metrics", AP_METRICS, EVHTTP_REQ_GET, admin_metrics },
    { "/v1/feature-views", AP_VIEWS, EVHTTP_REQ_GET, admin_views },
    { "/get-online-features", AP_LOOKUP, EVHTTP_REQ_POST, admin_lookup },
};

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
        if (strcmp(path, r->path) != 0) {
            continue;
        }
        if (m != r->method) {
            evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
                              r->method == EVHTTP_REQ_POST ? "POST" : "GET");
            admin_reply_text(req, r->id, 405, "method not allowed: %s takes %s", r->path,
                             r->method == EVHTTP_REQ_POST ? "POST" : "GET");
            return;
        }
        r->fn(req);
        return;
    }
    admin_reply_text(req, AP_OTHER, 404,
                     "not found (endpoints: GET /healthz, /readyz, /metrics, /v1/feature-views; "
                     "POST /get-online-features)");
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
    if (config_parse_hostport(listen, &host, &port) != FEATD_OK) {
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
    log_info("admin", "admin HTTP on %s: GET /healthz /readyz /metrics /v1/feature-views, "
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

void admin_note_reload(bool ok)
{
    if (ok) {
        atomic_fetch_add(&admin_reloads_ok, 1);
    } else {
        atomic_fetch_add(&admin_reloads_failed, 1);
    }
    atomic_store(&admin_last_reload_ok, ok ? 1 : 0);
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
