/*
 * serve_ctx.h — the state the request layer keeps per event loop: what a
 * worker (or the admin thread) lends it (loop, Redis route, counters, the
 * current registry) and what it owns (recycled request objects, the
 * generation cache, in-flight count, key scratch). Embedded in struct
 * worker; used only on that worker's thread. Header only, so every file of
 * serve/ can see it without including the lifecycle in serve.h.
 */
#ifndef FEATD_SERVE_CTX_H
#define FEATD_SERVE_CTX_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "config/registry.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/fbuf.h"
#include "redis/rroute.h"
#include "serve/gencache.h"

struct request;
struct conn_loop;

/* Process-wide facts ServerInfo reports (filled by the thread layer). */
struct serve_process_info {
    int64_t start_us;               /* process start, wall clock */
    const char *config_path;
    int workers;
    uint64_t requests_total;        /* all workers, all request types */
};
typedef void (*serve_info_fn)(struct serve_process_info *out);

struct serve_ctx {
    struct event_base *base;        /* lent: the owner's loop (deadline timers) */
    struct rroute *redis;           /* lent: the owner's Redis route (redis/rroute.h) */
    struct metrics *metrics;        /* lent: the owner's counters */
    struct registry *reg;           /* lent: the owner's current registry (it holds
                                       the reference; serve_set_registry swaps it) */
    serve_info_fn info;             /* ServerInfo's process-wide facts */
    struct gencache gens;           /* per view of reg: last seen current generation */
    uint64_t inflight;              /* requests waiting on Redis */
    struct request *free_reqs;      /* recycled request objects */
    int nfree_reqs;
    struct fbuf scratch;            /* the commands of an attempt (lookup_build_command) */
    struct fbuf scratch_keys;       /* its entity keys (lookup_build_command) */
    struct conn_loop *loop;         /* lent: the loop whose connections it serves (set by
                                       the worker; serve/serve_auth.c re-checks their tokens
                                       at a swap); NULL on the admin thread */
    struct log_limit auth_log;      /* SERVE_AUTH_LOGS_PER_SEC audit lines a second */
    void (*on_free)(void *arg);     /* set while the owner drains: called after */
    void *on_free_arg;              /*   each request object is released */
};

#endif
