/*
 * admin_internal.h — what the files of the admin HTTP server share; not for
 * use outside server/admin/. admin.c owns the state, the replies, the
 * pending-call list, routing and the lifecycle; admin_conns.c the
 * connection cap and accept backoff; admin_health.c,
 * admin_metrics.c, admin_views.c and admin_lookup.c each answer one
 * endpoint. Everything here runs on the admin thread unless it says
 * otherwise.
 */
#ifndef FEATD_ADMIN_INTERNAL_H
#define FEATD_ADMIN_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include <event2/event.h>
#include <event2/http.h>

#include "core/featd.h"
#include "core/fbuf.h"
#include "net/worker.h"

/* ---- paths and per-path counters ---- */

enum admin_path {
    AP_HEALTHZ = 0,
    AP_READYZ,
    AP_METRICS,
    AP_VIEWS,
    AP_LOOKUP,
    AP_QUALITY,
    AP_PUSH,
    AP_WRITE,
    AP_OTHER,
    AP__COUNT
};

extern const char *const admin_path_names[AP__COUNT];

/* HTTP statuses counted by name; anything else counts as "other". */
#define ADMIN_NKNOWN_CODES 11
#define ADMIN_NCODES (ADMIN_NKNOWN_CODES + 1)
extern const int admin_codes[ADMIN_NKNOWN_CODES];

/* ---- calls that wait for Redis or a lookup ---- */

enum admin_call_kind {
    CALL_READYZ = 0,
    CALL_VIEWS,
    CALL_LOOKUP,
    CALL_QUALITY,
    CALL_WRITE
};

struct admin_call {
    TAILQ_ENTRY(admin_call) link;   /* on admin.pending while req != NULL */
    struct evhttp_request *req;     /* NULL once answered */
    enum admin_call_kind kind;
    int path;                       /* enum admin_path */
    struct event *timer;            /* Redis calls: answer on timeout */
    bool backend_pending;           /* hiredis callback / lookup sink to come */
    struct registry *reg;           /* CALL_VIEWS: registry the MGET was built from, and
                                       that token points into */
    const struct cfg_token *token;  /* CALL_VIEWS with auth: the client's token (views listed) */
    const struct cfg_view *view;    /* CALL_QUALITY: the view, in reg */
    int64_t start_us;
};

/* ---- state (admin.c) ---- */

struct admin_state {
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
    /* admin_conns.c */
    struct worker_backoff backoff;  /* accept errors on the admin listener */
    uint64_t conns_open;            /* admitted connections in the table (may
                                       include closed ones until pruned) */
    uint64_t conns_rejected_total;  /* refused with 503 (over the cap or fd limit) */
    uint64_t conns_not_http_total;  /* closed: the first bytes were not HTTP (a protobuf
                                       client on the wrong port gets a hint) */
    uint64_t refused_unlogged;      /* refusals since the last log line */
    struct log_limit refused_log;   /* one such line a second */
    /* token authentication (admin.c, DESIGN §14) */
    const struct cfg_token *token;  /* the request being routed: its token in admin.w.reg
                                       (NULL without auth); valid during the endpoint's call */
    char peer[80];                  /*   and its client's "address:port" */
    struct log_limit auth_log;      /* one audit line a second */
};

extern struct admin_state admin;
extern _Atomic bool admin_draining;         /* set by admin_drain (any thread) */

/* ---- replies (admin.c); each counts the request by path and status ---- */

/* Sends code with body[0..len) (copied) and content type. */
void admin_reply(struct evhttp_request *req, int path, int code, const char *ctype, const char *body,
                 size_t len);
/* A one-line text/plain reply (a newline is added). */
void admin_reply_text(struct evhttp_request *req, int path, int code, const char *fmt, ...)
    FEATD_PRINTF(4, 5);
/* {"error": {"code": "<featd.v1.ErrorCode>", "message": msg}} with the
 * HTTP status of that code. */
void admin_reply_error(struct evhttp_request *req, int path, int code, const char *msg);

/* ---- pending calls (admin.c) ---- */

/* A call for req on the pending list (NULL when out of memory). */
struct admin_call *admin_call_new(struct evhttp_request *req, enum admin_call_kind kind, int path);
/* The HTTP side is done (reply sent or abandoned): off the pending list. */
void admin_call_answered(struct admin_call *c);
/* Frees c once both the HTTP side and the backend are done with it. */
void admin_call_maybe_free(struct admin_call *c);
/* Starts a timer on c that fires cb after redis.timeout_ms. */
int admin_call_timer(struct admin_call *c, event_callback_fn cb);

/* ---- connection limits (admin_conns.c) ---- */

/* After evhttp_new: counts every connection evhttp accepts from now on
 * (evhttp_set_bevcb) and reads RLIMIT_NOFILE. */
int admin_conns_init(char *err, size_t errlen) FEATD_MUSTCHECK;
/* After admin.bound exists: accept errors pause the listener (backoff). */
int admin_conns_listen(char *err, size_t errlen) FEATD_MUSTCHECK;
/* Before admin.bound is deleted: the listener is not touched again. */
void admin_conns_unlisten(void);
/* Admin connections open now (featd_admin_connections); prunes the table. */
uint64_t admin_conns_open(void);
/* After evhttp_free (every connection is gone). */
void admin_conns_free(void);

/* ---- endpoints ---- */

void admin_health_live(struct evhttp_request *req);        /* GET /healthz */
void admin_health_ready(struct evhttp_request *req);       /* GET /readyz */
void admin_metrics_page(struct evhttp_request *req);       /* GET /metrics */
void admin_views_get(struct evhttp_request *req);          /* GET /v1/feature-views */
void admin_lookup_post(struct evhttp_request *req);        /* POST /get-online-features */
void admin_quality_get(struct evhttp_request *req);        /* GET /v1/quality/VIEW (admin_quality.c) */
void admin_write_push(struct evhttp_request *req);         /* POST /push (admin_write.c) */
void admin_write_store(struct evhttp_request *req);        /* POST /write-to-online-store (admin_write.c) */

/* ---- admin_lookup.c, for its tests ---- */

struct jsonw;
struct proto_get_answer;
/* A GetOnlineFeatures answer (its cells, wire/proto.h) as the Feast-shaped
 * JSON body into j. FEATD_OK; FEATD_EAGAIN once j holds more than
 * ga->max_bytes (0 = no bound; j then holds a prefix); FEATD_ERR
 * when j ran out of memory. Any thread (pure). */
int admin_lookup_json(struct jsonw *j, const struct proto_get_answer *ga);

#endif
