/*
 * worker.c — worker threads (see worker.h).
 *
 * Control flow: main thread --worker_send()--> queue + pipe byte -->
 * worker_notify_cb on the worker's own loop. Accepts arrive on the worker's
 * own SO_REUSEPORT listener (worker_accept_cb). The kernel spreads
 * connections over the listeners by a hash of the address pair, which leaves
 * a few long-lived clients unevenly spread (30/20 of 50 is common), and in a
 * closed loop the busier worker's clients wait longer: so an accepting worker
 * with more connections than the least loaded one hands the socket over
 * (WMSG_CONN). That costs a queue message per accept, nothing per request.
 * Draining stops the listener, closes idle connections, and exits the loop
 * once no connection and no Redis callback is left (worker_maybe_finish,
 * called back by the conn_loop after each close and by the serve context
 * after each released request while draining).
 */
#include "net/worker.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"
#include "http/http_conn.h"
#include "http/http_parse.h"
#include "serve/dispatch.h"

struct worker_shared worker_shared;
struct worker *workers;
int nworkers;

/* Applies a new registry (a reference for the worker); on failure keeps
 * the old one. */
static void worker_set_registry(struct worker *w, struct registry *reg)
{
    if (serve_set_registry(&w->serve, reg) != FEATD_OK) {
        log_error("worker", "worker %d: out of memory applying a new registry; keeping the old one", w->id);
        registry_unref(reg);
        return;
    }
    if (w->reg) {
        registry_unref(w->reg);
    }
    w->reg = reg;
    w->loop.max_frame_bytes = reg->cfg->server.max_frame_bytes;
    w->loop.max_output_bytes = reg->cfg->server.max_output_bytes;
    w->loop.max_client_memory = reg->cfg->server.max_client_memory_bytes;
    w->loop.slow_us = (uint64_t)reg->cfg->server.slow_request_ms * 1000;
    w->loop.idle_timeout_us = (int64_t)reg->cfg->server.idle_timeout_ms * 1000;
    w->loop.tls = reg->tls;
    w->loop.frame_timeout_us = (int64_t)reg->cfg->server.frame_timeout_ms * 1000;
    atomic_store_explicit(&w->busy_poll_us, reg->cfg->server.busy_poll_us, memory_order_relaxed);
}

/* ServerInfo's process-wide facts (serve_info_fn). */
static void worker_process_info(struct serve_process_info *out)
{
    struct metrics sum;
    worker_metrics_snapshot(&sum);
    out->requests_total = 0;
    for (size_t t = 0; t < MREQ__COUNT; t++) {
        for (size_t c = 0; c < METRICS_CODES; c++) {
            out->requests_total += METRICS_GET(sum.requests[t][c]);
        }
    }
    out->start_us = worker_shared.start_us;
    out->config_path = worker_shared.config_path;
    out->workers = nworkers;
}

/* An accepted socket on its way to another worker. */
struct worker_handoff {
    evutil_socket_t fd;
    struct sockaddr_storage sa;
    int salen;
};

static uint64_t worker_load(struct worker *w)
{
    return atomic_load_explicit(&w->loop.nconns, memory_order_relaxed) +
           atomic_load_explicit(&w->incoming, memory_order_relaxed);
}

/* The serving worker with the fewest connections (counting those on their
 * way to it); w itself on a tie. */
static struct worker *worker_pick(struct worker *w)
{
    if (nworkers < 2 || w < workers || w >= workers + nworkers) {
        return w;
    }
    struct worker *best = w;
    uint64_t best_load = worker_load(w);
    for (int i = 0; i < nworkers; i++) {
        uint64_t l = worker_load(&workers[i]);
        if (l < best_load && !atomic_load(&workers[i].done)) {
            best = &workers[i];
            best_load = l;
        }
    }
    return best;
}

/* Passes fd to t; false (nothing sent) when t's queue is full or memory is short. */
static bool worker_hand_off(struct worker *w, struct worker *t, evutil_socket_t fd,
                            const struct sockaddr *sa, int salen)
{
    struct worker_handoff *h = malloc(sizeof(*h));
    if (h == NULL || salen < 0 || (size_t)salen > sizeof(h->sa)) {
        free(h);
        return false;
    }
    h->fd = fd;
    memcpy(&h->sa, sa, (size_t)salen);
    h->salen = salen;
    atomic_fetch_add_explicit(&t->incoming, 1, memory_order_relaxed);
    if (worker_send(t, WMSG_CONN, h) != FEATD_OK) {
        atomic_fetch_sub_explicit(&t->incoming, 1, memory_order_relaxed);
        free(h);
        return false;
    }
    METRICS_INC(w->metrics.connections_handed_off_total);
    return true;
}

static void worker_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                             int salen, void *arg)
{
    struct worker *w = arg;
    (void)l;
    int64_t open = atomic_fetch_add_explicit(&metrics_connections_open, 1, memory_order_relaxed) + 1;
    if (open > w->reg->cfg->server.max_connections || w->loop.draining) {
        atomic_fetch_sub_explicit(&metrics_connections_open, 1, memory_order_relaxed);
        METRICS_INC(w->metrics.connections_rejected_total);
        /* Tell the client why before closing (best effort, non-blocking). */
        char msg[128];
        snprintf(msg, sizeof(msg), w->loop.draining ? "server is shutting down"
                                                    : "too many connections (max_connections=%d)",
                 w->reg->cfg->server.max_connections);
        conn_refuse(&dispatch_conn_handler, fd, msg);
        return;
    }
    struct worker *t = worker_pick(w);
    if (t != w && worker_hand_off(w, t, fd, sa, salen)) {
        return;
    }
    /* evconnlistener sockets are non-blocking already */
    conn_new(&w->loop, fd, sa, salen, &dispatch_conn_handler, &w->serve);
}

static void worker_backoff_resume_cb(evutil_socket_t fd, short what, void *arg)
{
    struct worker_backoff *b = arg;
    (void)fd;
    (void)what;
    if (b->listener) {
        evconnlistener_enable(b->listener);
    }
}

int worker_backoff_init(struct worker_backoff *b, struct event_base *base, struct evconnlistener *l,
                        const char *who)
{
    memset(b, 0, sizeof(*b));
    b->resume = evtimer_new(base, worker_backoff_resume_cb, b);
    if (b->resume == NULL) {
        return FEATD_ERR;
    }
    b->listener = l;
    b->who = who;
    return FEATD_OK;
}

void worker_backoff_error(struct worker_backoff *b)
{
    int err = EVUTIL_SOCKET_ERROR();
    b->errors_total++;
    if (b->listener == NULL) {
        return;
    }
    evconnlistener_disable(b->listener);
    uint64_t unlogged;
    if (log_limit_take(&b->log, 1, util_mono_us(), &unlogged)) {
        if (unlogged > 0) {
            log_warn("net", "%s: accept failed: %s; pausing accepts for %d ms (%" PRIu64
                     " more accept errors since the last message)", b->who,
                     evutil_socket_error_to_string(err), WORKER_ACCEPT_PAUSE_MS, unlogged);
        } else {
            log_warn("net", "%s: accept failed: %s; pausing accepts for %d ms", b->who,
                     evutil_socket_error_to_string(err), WORKER_ACCEPT_PAUSE_MS);
        }
    }
    struct timeval tv = { 0, WORKER_ACCEPT_PAUSE_MS * 1000 };
    if (evtimer_add(b->resume, &tv) != 0) {
        evconnlistener_enable(b->listener);     /* better spin than stop for good */
    }
}

void worker_backoff_detach(struct worker_backoff *b)
{
    if (b->resume) {
        evtimer_del(b->resume);
    }
    b->listener = NULL;
}

void worker_backoff_free(struct worker_backoff *b)
{
    worker_backoff_detach(b);
    if (b->resume) {
        event_free(b->resume);
        b->resume = NULL;
    }
}

static void worker_accept_error_cb(struct evconnlistener *l, void *arg)
{
    struct worker *w = arg;
    (void)l;
    worker_backoff_error(&w->backoff);
}

static void worker_stop_now(struct worker *w)
{
    if (w->refresh) {
        event_del(w->refresh);
    }
    conn_loop_close_all(&w->loop, "server stopping");
    rroute_shutdown(w->redis);
    event_base_loopexit(w->base, NULL);
}

/* Lets a draining worker finish once no connection and no Redis call is
 * left (after each close and each request released while draining). */
static void worker_maybe_finish(struct worker *w)
{
    if (w->loop.draining && w->loop.nconns == 0 && w->serve.inflight == 0) {
        if (w->refresh) {
            event_del(w->refresh);
        }
        rroute_shutdown(w->redis);
        event_base_loopexit(w->base, NULL);
    }
}

static void worker_drain_progress(void *arg)
{
    worker_maybe_finish(arg);
}

static void worker_drain_check_cb(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    (void)fd;
    (void)what;
    conn_loop_drain(&w->loop);
    worker_maybe_finish(w);
}

static void worker_start_drain(struct worker *w)
{
    if (w->loop.draining) {
        return;
    }
    w->loop.draining = true;
    w->serve.on_free = worker_drain_progress;
    w->serve.on_free_arg = w;
    worker_backoff_detach(&w->backoff);
    if (w->listener) {
        evconnlistener_free(w->listener);
        w->listener = NULL;
    }
    /* Re-check periodically: a conn that had unread input when the drain
     * started is closed once it has been answered and gone idle. */
    w->drain_check = event_new(w->base, -1, EV_PERSIST, worker_drain_check_cb, w);
    struct timeval tv = { 0, 20000 };
    if (w->drain_check) {
        event_add(w->drain_check, &tv);
    }
    worker_drain_check_cb(-1, 0, w);
}

static void worker_notify_cb(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    char buf[64];
    (void)what;
    while (read(fd, buf, sizeof(buf)) > 0) {
    }
    for (;;) {
        struct worker_msg m;
        pthread_mutex_lock(&w->qlock);
        if (w->qlen == 0) {
            pthread_mutex_unlock(&w->qlock);
            break;
        }
        m = w->queue[w->qhead];
        w->qhead = (w->qhead + 1) % WORKER_QUEUE;
        w->qlen--;
        pthread_mutex_unlock(&w->qlock);
        switch (m.type) {
        case WMSG_REGISTRY:
            worker_set_registry(w, m.ptr);
            break;
        case WMSG_DRAIN:
            worker_start_drain(w);
            break;
        case WMSG_STOP:
            worker_stop_now(w);
            break;
        case WMSG_CONN: {
            struct worker_handoff *h = m.ptr;
            conn_new(&w->loop, h->fd, (struct sockaddr *)&h->sa, h->salen, &dispatch_conn_handler, &w->serve);
            atomic_fetch_sub_explicit(&w->incoming, 1, memory_order_relaxed);
            free(h);
            break;
        }
        }
    }
}

int worker_send(struct worker *w, enum worker_msg_type type, void *ptr)
{
    pthread_mutex_lock(&w->qlock);
    if (w->qlen == WORKER_QUEUE) {
        pthread_mutex_unlock(&w->qlock);
        return FEATD_ERR;
    }
    w->queue[(w->qhead + w->qlen) % WORKER_QUEUE] = (struct worker_msg){ type, ptr };
    w->qlen++;
    pthread_mutex_unlock(&w->qlock);
    char b = 1;
    ssize_t n = write(w->notify_fd[1], &b, 1);
    (void)n;    /* a full pipe already holds a wakeup */
    return FEATD_OK;
}

static void worker_refresh_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct worker *w = arg;
    (void)gencache_refresh(&w->serve.gens, w->redis, NULL, NULL);  /* best effort; next tick retries */
}

int worker_init(struct worker *w, int id, struct registry *reg, bool with_listener,
                char *err, size_t errlen)
{
    memset(w, 0, sizeof(*w));
    w->id = id;
    pthread_mutex_init(&w->qlock, NULL);
    struct event_config *ec = event_config_new();
    event_config_set_flag(ec, EVENT_BASE_FLAG_NOLOCK);
    event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    w->base = event_base_new_with_config(ec);
    event_config_free(ec);
    if (w->base == NULL || event_base_priority_init(w->base, WORKER_PRIORITIES) != 0) {
        snprintf(err, errlen, "worker %d: cannot create an event base", id);
        return FEATD_ERR;
    }
    /* Output of every connection is written once per loop iteration, after
     * the iteration's reads and Redis replies (see conn.h). */
    if (conn_loop_init(&w->loop, w->base, &w->metrics, WORKER_PRIORITIES - 1) != FEATD_OK) {
        snprintf(err, errlen, "worker %d: cannot create the flush event", id);
        return FEATD_ERR;
    }
    w->loop.id_base = (uint64_t)id << 48;
    w->loop.alt = &http_conn_handler;   /* HTTP/1.1 on the serving port (DESIGN §13) */
    w->loop.alt_sniff = http_sniff;
    serve_init(&w->serve, w->base, &w->metrics, worker_process_info);
    w->serve.loop = &w->loop;       /* its connections (token re-check at a registry swap) */
    w->loop.on_close = worker_drain_progress;
    w->loop.on_close_arg = w;
    if (pipe2(w->notify_fd, O_NONBLOCK | O_CLOEXEC) != 0) {
        snprintf(err, errlen, "worker %d: pipe: %s", id, strerror(errno));
        return FEATD_ERR;
    }
    w->notify_ev = event_new(w->base, w->notify_fd[0], EV_READ | EV_PERSIST, worker_notify_cb, w);
    event_add(w->notify_ev, NULL);
    worker_set_registry(w, registry_ref(reg));
    if (!with_listener) {
        goto redis;
    }

    /* Listener: SO_REUSEPORT so every worker accepts on the same address. */
    char *host = NULL;
    int port = 0;
    if (config_addr_parse_hostport(reg->cfg->server.listen, &host, &port) != FEATD_OK) {
        snprintf(err, errlen, "server.listen: bad address \"%s\"", reg->cfg->server.listen);
        return FEATD_ERR;
    }
    struct evutil_addrinfo hints = { 0 }, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char portbuf[16];
    snprintf(portbuf, sizeof(portbuf), "%d", port);
    int gai = evutil_getaddrinfo(host, portbuf, &hints, &ai);
    if (gai != 0 || ai == NULL) {
        snprintf(err, errlen, "server.listen: cannot resolve \"%s\": %s", reg->cfg->server.listen,
                 evutil_gai_strerror(gai));
        free(host);
        return FEATD_ERR;
    }
    free(host);
    /* The workers share the address with SO_REUSEPORT, which would also let
     * them share it with another process of this user (a second featd):
     * the first worker first binds it alone, which fails when anyone
     * listens there. */
    if (id == 0) {
        evutil_socket_t probe = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int yes = 1;
        int brc = probe < 0 ? 0 : (setsockopt(probe, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes)),
                                   bind(probe, ai->ai_addr, (socklen_t)ai->ai_addrlen));
        int berr = errno;
        if (probe >= 0) {
            evutil_closesocket(probe);
        }
        if (brc != 0) {
            snprintf(err, errlen, "server.listen: cannot listen on %s: %s%s", reg->cfg->server.listen,
                     strerror(berr), berr == EADDRINUSE ? " (another process, maybe another featd, "
                     "listens there)" : "");
            evutil_freeaddrinfo(ai);
            return FEATD_ERR;
        }
    }
    w->listener = evconnlistener_new_bind(w->base, worker_accept_cb, w,
                                          LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
                                              LEV_OPT_REUSEABLE_PORT | LEV_OPT_CLOSE_ON_EXEC,
                                          1024, ai->ai_addr, (int)ai->ai_addrlen);
    evutil_freeaddrinfo(ai);
    if (w->listener == NULL) {
        snprintf(err, errlen, "server.listen: cannot listen on %s: %s", reg->cfg->server.listen,
                 strerror(errno));
        return FEATD_ERR;
    }
    snprintf(w->name, sizeof(w->name), "worker %d", id);
    if (worker_backoff_init(&w->backoff, w->base, w->listener, w->name) != FEATD_OK) {
        snprintf(err, errlen, "worker %d: cannot create the accept backoff timer", id);
        return FEATD_ERR;
    }
    evconnlistener_set_error_cb(w->listener, worker_accept_error_cb);
    /* Kernel receive timestamps (the queued phase, net/conn.c): accepted
     * sockets inherit the option, so even a connection's first bytes are
     * stamped, and the kernel keeps timestamping on while featd runs. */
    int one = 1;
    if (setsockopt(evconnlistener_get_fd(w->listener), SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) != 0) {
        log_warn("worker", "worker %d: SO_TIMESTAMPNS: %s; the queued phase is measured from each read",
                 id, strerror(errno));
    }
redis:
    w->redis = rroute_new(w->base, &reg->cfg->redis, worker_shared.redis_unix_override, &w->metrics);
    if (w->redis == NULL) {
        snprintf(err, errlen, "worker %d: cannot create the Redis link", id);
        return FEATD_ERR;
    }
    w->serve.redis = w->redis;
    /* Keep the generation cache fresh for ListFeatureViews (lookups read
     * the pointers themselves). */
    w->refresh = event_new(w->base, -1, EV_PERSIST, worker_refresh_cb, w);
    struct timeval tv = { GENCACHE_REFRESH_MS / 1000, (GENCACHE_REFRESH_MS % 1000) * 1000 };
    if (w->refresh == NULL || event_add(w->refresh, &tv) != 0) {
        snprintf(err, errlen, "worker %d: cannot create the refresh timer", id);
        return FEATD_ERR;
    }
    return FEATD_OK;
}

/*
 * The worker's loop. With server.busy_poll_us > 0: after an iteration that
 * leaves requests waiting on Redis, the next iterations poll without
 * sleeping (EVLOOP_NONBLOCK) until an event comes or busy_poll_us pass since
 * the last one, so a quick Redis reply is read by a thread that is still on
 * its CPU rather than one woken from epoll_wait.
 */
static void *worker_main(void *arg)
{
    struct worker *w = arg;
    int64_t spin_until = 0;
    for (;;) {
        int busy = atomic_load_explicit(&w->busy_poll_us, memory_order_relaxed);
        bool spin = busy > 0 && util_mono_us() < spin_until;
        int rc = event_base_loop(w->base, EVLOOP_ONCE | (spin ? EVLOOP_NONBLOCK : 0));
        if (rc != 0 || event_base_got_exit(w->base) || event_base_got_break(w->base)) {
            break;
        }
        if (busy > 0 && METRICS_GET(w->metrics.inflight) > 0) {
            spin_until = util_mono_us() + busy;
        }
    }
    atomic_store(&w->done, true);
    return NULL;
}

int worker_start(struct worker *w)
{
    return pthread_create(&w->thread, NULL, worker_main, w) == 0 ? FEATD_OK : FEATD_ERR;
}

void worker_join_and_free(struct worker *w)
{
    pthread_join(w->thread, NULL);
    /* messages that arrived after the loop stopped: sockets handed over,
     * registries sent by a reload */
    pthread_mutex_lock(&w->qlock);
    while (w->qlen > 0) {
        struct worker_msg *m = &w->queue[w->qhead];
        if (m->type == WMSG_CONN) {
            struct worker_handoff *h = m->ptr;
            evutil_closesocket(h->fd);
            atomic_fetch_sub_explicit(&metrics_connections_open, 1, memory_order_relaxed);
            free(h);
        } else if (m->type == WMSG_REGISTRY) {
            registry_unref(m->ptr);
        }
        w->qhead = (w->qhead + 1) % WORKER_QUEUE;
        w->qlen--;
    }
    pthread_mutex_unlock(&w->qlock);
    conn_loop_close_all(&w->loop, "server stopping");
    rroute_free(w->redis);
    /* rroute_free ran pending callbacks, which may have freed requests */
    serve_free(&w->serve);
    worker_backoff_free(&w->backoff);
    if (w->listener) {
        evconnlistener_free(w->listener);
    }
    if (w->drain_check) {
        event_free(w->drain_check);
    }
    if (w->refresh) {
        event_free(w->refresh);
    }
    conn_loop_free(&w->loop);
    event_free(w->notify_ev);
    close(w->notify_fd[0]);
    close(w->notify_fd[1]);
    event_base_free(w->base);
    registry_unref(w->reg);
    pthread_mutex_destroy(&w->qlock);
}

void worker_metrics_snapshot(struct metrics *out)
{
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < nworkers; i++) {
        metrics_sum(out, &workers[i].metrics);
    }
}
