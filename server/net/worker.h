/*
 * worker.h — a worker thread: one event_base (NOLOCK), its own listener on the
 * serving address (SO_REUSEPORT: the kernel spreads connections), its own
 * Redis link, its metrics, and a notify pipe through which the main thread
 * sends control messages (new registry, drain, stop). The worker composes the
 * layers and owns their state: its connections (struct conn_loop, net/conn.h)
 * serve the request layer's protocol (dispatch_conn_handler, serve/) with its
 * serve context (struct serve_ctx). Nothing on the request path takes a lock.
 */
#ifndef FEATD_WORKER_H
#define FEATD_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "core/log.h"
#include "core/metrics.h"
#include "config/registry.h"
#include "net/conn.h"
#include "redis/rroute.h"
#include "serve/serve.h"

enum worker_msg_type {
    WMSG_REGISTRY = 1,      /* ptr: struct registry* (a reference for the worker) */
    WMSG_DRAIN,             /* stop accepting; exit when all conns are done */
    WMSG_STOP,              /* close everything now and exit the loop */
    WMSG_CONN               /* ptr: struct worker_handoff* (an accepted socket to adopt) */
};

struct worker_msg {
    enum worker_msg_type type;
    void *ptr;
};

#define WORKER_QUEUE 64
#define WORKER_PRIORITIES 3         /* libevent's default for new events is the middle
                                       one (1): I/O, timers, hiredis; 2: output flushes */

/* Accept-error backoff, shared by the serving listeners and the admin
 * listener. On an accept error (EMFILE/ENFILE when descriptors run out,
 * ENOBUFS, ...) the listener is disabled for WORKER_ACCEPT_PAUSE_MS and a
 * timer re-enables it, so a full descriptor table does not turn into a busy
 * loop. At most one log line per second; errors in between are counted and
 * folded into the next line. Owned by the thread of the listener's loop. */
#define WORKER_ACCEPT_PAUSE_MS 100

struct worker_backoff {
    struct evconnlistener *listener;    /* NULL once detached */
    struct event *resume;               /* re-enables the listener */
    const char *who;                    /* log prefix, e.g. "worker 0" */
    struct log_limit log;               /* one line a second */
    uint64_t errors_total;              /* every accept error */
};

/* Watches l (the listener's owner keeps it): installs the resume timer on
 * base. The caller sets l's error callback to one that calls
 * worker_backoff_error. FEATD_ERR when out of memory. */
int worker_backoff_init(struct worker_backoff *b, struct event_base *base, struct evconnlistener *l,
                        const char *who) FEATD_MUSTCHECK;
/* From the listener's error callback: disable, log (rate-limited), re-arm. */
void worker_backoff_error(struct worker_backoff *b);
/* Before the listener is freed: cancels the timer; the listener is no
 * longer touched. Idempotent. */
void worker_backoff_detach(struct worker_backoff *b);
/* Detaches and frees the timer. Idempotent; b may be all zeros. */
void worker_backoff_free(struct worker_backoff *b);

struct worker {
    int id;
    pthread_t thread;
    struct event_base *base;
    struct evconnlistener *listener;
    struct worker_backoff backoff;  /* accept errors on listener */
    char name[16];                  /* "worker N", the backoff's log prefix */
    int notify_fd[2];               /* main writes [1], worker reads [0] */
    struct event *notify_ev;
    pthread_mutex_t qlock;          /* guards the control queue only */
    struct worker_msg queue[WORKER_QUEUE];
    int qhead, qlen;

    struct registry *reg;           /* current registry (own reference) */
    struct rroute *redis;           /* this thread's route to Redis (one link per node) */
    struct metrics metrics;
    struct conn_loop loop;          /* the connections this worker serves */
    struct serve_ctx serve;         /* the request layer's state: free list,
                                       generation cache, in-flight count */
    _Atomic uint64_t incoming;      /* connections handed to this worker, not yet adopted */
    struct event *drain_check;      /* periodic check while draining */
    struct event *refresh;          /* generation cache refresh timer */
    _Atomic bool done;              /* set when the loop has exited */
    _Atomic int busy_poll_us;       /* server.busy_poll_us of the current registry */
};

/* Process-wide settings shared (read-only after startup) by all workers. */
struct worker_shared {
    const char *redis_unix_override;    /* embedded redis socket, or NULL */
    int64_t start_us;
    const char *config_path;
};
extern struct worker_shared worker_shared;
extern struct worker *workers;
extern int nworkers;

/* Creates the worker (base, notify pipe, Redis link and, when with_listener,
 * a listener bound to server.listen). A worker without a listener serves
 * requests submitted on its loop (dispatch_begin/dispatch_run on w->serve), e.g. the
 * admin HTTP thread.
 * Fails with a message at startup only. */
int worker_init(struct worker *w, int id, struct registry *reg, bool with_listener,
                char *err, size_t errlen) FEATD_MUSTCHECK;
int worker_start(struct worker *w) FEATD_MUSTCHECK;
/* Thread-safe: queue a control message and wake the worker. */
int worker_send(struct worker *w, enum worker_msg_type type, void *ptr);
void worker_join_and_free(struct worker *w);

/* Sum of all workers' metrics into *out (which is zeroed first). */
void worker_metrics_snapshot(struct metrics *out);

#endif
