/*
 * rlink.c — per-worker async Redis link (see rlink.h).
 *
 * States: DOWN --connect--> CONNECTING --connectCb ok--> UP
 *         UP --disconnectCb--> DOWN (+ retry timer with backoff 50 ms .. 2 s)
 * AUTH, SELECT and READONLY are queued right after connecting; their replies are checked
 * and a failure (wrong password) drops the link with a logged reason.
 *
 * Our own hiredis event adapter (instead of redisLibeventAttach): once the
 * link is up, a command does not arm EV_WRITE (an epoll_ctl per batch);
 * it activates a low-priority flush event, so every command issued during
 * one loop iteration — by all the connections whose requests were read in
 * it — leaves in one write(2) after the iteration's I/O callbacks. EV_WRITE
 * is armed only while connecting or when the socket is full.
 */
#include "redis/rlink.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event_struct.h>

#include "core/log.h"
#include "redis/rcmd.h"
#include "redis/rreply.h"
#include "core/fbuf.h"
#include "core/util.h"

enum rlink_state {
    RLINK_DOWN = 0,
    RLINK_CONNECTING,
    RLINK_UP,
    RLINK_STOPPED
};

#define RLINK_BACKOFF_MIN_MS 50
#define RLINK_BACKOFF_MAX_MS 2000
#define RLINK_CMD_KEEP (1u << 20)   /* a larger formatting buffer is freed after use */

struct rlink {
    struct event_base *base;
    redisAsyncContext *ac;
    enum rlink_state state;
    char *host;             /* NULL for unix sockets */
    int port;
    char *unix_path;
    char *username;         /* ACL user; NULL = AUTH password */
    char *password;
    int db;
    bool readonly, queue_early, own_gauge;
    rlink_state_fn on_state;
    void *state_arg;
    char endpoint[300];     /* for messages */
    char status[512];       /* last problem, for error messages */
    struct event *retry;
    int backoff_ms;
    bool ever_up;
    int64_t progress_us;    /* last read from Redis, or first send after idle */
    struct metrics *m;
    struct fbuf cmd;        /* the command being formatted (memory kept) */
};

static void rlink_connect(struct rlink *rp);

/* ---- hiredis event adapter ---- */

struct rlink_ev {
    struct rlink *rp;
    redisAsyncContext *ac;
    struct event rev;           /* EV_READ|EV_PERSIST on the socket */
    struct event wev;           /* EV_WRITE|EV_PERSIST, only when needed */
    struct event flush;         /* low priority, activated by commands */
    struct rreply *rr;          /* reply arena (NULL: hiredis's allocator) */
    bool reading, writing, flush_armed, in_flush;
};

static void rlink_ev_read_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rlink_ev *e = arg;
    (void)fd;
    (void)what;
    e->rp->progress_us = util_mono_us();
    redisAsyncHandleRead(e->ac);
}

static void rlink_ev_write_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rlink_ev *e = arg;
    (void)fd;
    (void)what;
    redisAsyncHandleWrite(e->ac);
}

static void rlink_ev_flush_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rlink_ev *e = arg;
    (void)fd;
    (void)what;
    e->flush_armed = false;
    e->in_flush = true;
    redisAsyncContext *ac = e->ac;
    /* may free e (via cleanup) when the write fails and hiredis disconnects */
    redisAsyncHandleWrite(ac);
}

static void rlink_ev_add_read(void *priv)
{
    struct rlink_ev *e = priv;
    if (!e->reading) {
        e->reading = true;
        event_add(&e->rev, NULL);
    }
}

static void rlink_ev_del_read(void *priv)
{
    struct rlink_ev *e = priv;
    if (e->reading) {
        e->reading = false;
        event_del(&e->rev);
    }
}

static void rlink_ev_add_write(void *priv)
{
    struct rlink_ev *e = priv;
    if (e->rp->state == RLINK_UP && !e->in_flush && !e->writing) {
        if (!e->flush_armed) {
            e->flush_armed = true;
            event_active(&e->flush, EV_WRITE, 1);
        }
        return;
    }
    e->in_flush = false;
    if (!e->writing) {
        e->writing = true;
        event_add(&e->wev, NULL);
    }
}

static void rlink_ev_del_write(void *priv)
{
    struct rlink_ev *e = priv;
    e->in_flush = false;
    if (e->writing) {
        e->writing = false;
        event_del(&e->wev);
    }
}

static void rlink_ev_cleanup(void *priv)
{
    struct rlink_ev *e = priv;
    event_del(&e->rev);
    event_del(&e->wev);
    event_del(&e->flush);
    rreply_detach(e->rr);
    free(e);
}

static int rlink_ev_attach(struct rlink *rp, redisAsyncContext *ac)
{
    struct rlink_ev *e = calloc(1, sizeof(*e));
    if (e == NULL) {
        return FEATD_ERR;
    }
    e->rp = rp;
    e->ac = ac;
    int fd = ac->c.fd;
    if (event_assign(&e->rev, rp->base, fd, EV_READ | EV_PERSIST, rlink_ev_read_cb, e) != 0 ||
        event_assign(&e->wev, rp->base, fd, EV_WRITE | EV_PERSIST, rlink_ev_write_cb, e) != 0 ||
        event_assign(&e->flush, rp->base, -1, 0, rlink_ev_flush_cb, e) != 0) {
        free(e);
        return FEATD_ERR;
    }
    /* the flush runs last in a loop iteration (the lowest priority the base
     * has), after every request callback of that iteration queued its
     * commands */
    int nprio = event_base_get_npriorities(rp->base);
    if (nprio > 1) {
        event_priority_set(&e->flush, nprio - 1);
    }
    e->rr = rreply_attach(ac->c.reader);
    ac->ev.data = e;
    ac->ev.addRead = rlink_ev_add_read;
    ac->ev.delRead = rlink_ev_del_read;
    ac->ev.addWrite = rlink_ev_add_write;
    ac->ev.delWrite = rlink_ev_del_write;
    ac->ev.cleanup = rlink_ev_cleanup;
    return FEATD_OK;
}

static void rlink_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    rlink_connect(arg);
}

static void rlink_schedule_retry(struct rlink *rp)
{
    if (rp->state == RLINK_STOPPED) {
        return;
    }
    rp->state = RLINK_DOWN;
    if (rp->own_gauge) {
        METRICS_SET(rp->m->redis_connected, 0);
    }
    if (rp->on_state) {
        rp->on_state(rp->state_arg, rp, false);
    }
    struct timeval tv = { rp->backoff_ms / 1000, (rp->backoff_ms % 1000) * 1000 };
    evtimer_add(rp->retry, &tv);
    rp->backoff_ms *= 2;
    if (rp->backoff_ms > RLINK_BACKOFF_MAX_MS) {
        rp->backoff_ms = RLINK_BACKOFF_MAX_MS;
    }
}

static void rlink_auth_cb(redisAsyncContext *ac, void *r, void *priv)
{
    struct rlink *rp = priv;
    redisReply *reply = r;
    if (reply && reply->type == REDIS_REPLY_ERROR && rp->ac == ac) {
        char user[300] = "";
        if (rp->username) {
            snprintf(user, sizeof(user), " (user \"%.256s\")", rp->username);
        }
        snprintf(rp->status, sizeof(rp->status), "redis %s refused setup%s: %s", rp->endpoint,
                 user, reply->str);
        log_error("redis", "%s", rp->status);
        METRICS_INC(rp->m->redis_errors_total);
        redisAsyncDisconnect(ac);
    }
}

static void rlink_connect_cb(const redisAsyncContext *ac, int status)
{
    struct rlink *rp = ac->data;
    if (rp == NULL) {
        return;
    }
    if (status != REDIS_OK) {
        snprintf(rp->status, sizeof(rp->status), "redis %s is unreachable (%s)", rp->endpoint,
                 ac->errstr[0] ? ac->errstr : "connect failed");
        if (rp->ever_up || rp->backoff_ms == RLINK_BACKOFF_MIN_MS) {
            log_warn("redis", "%s", rp->status);
        }
        METRICS_INC(rp->m->redis_errors_total);
        rp->ac = NULL;      /* hiredis frees the context after this callback */
        rlink_schedule_retry(rp);
        return;
    }
    rp->state = RLINK_UP;
    rp->backoff_ms = RLINK_BACKOFF_MIN_MS;
    METRICS_INC(rp->m->redis_reconnects_total);
    if (rp->own_gauge) {
        METRICS_SET(rp->m->redis_connected, 1);
    }
    if (rp->ever_up) {
        log_info("redis", "reconnected to %s", rp->endpoint);
    }
    rp->ever_up = true;
    rp->status[0] = '\0';
    if (rp->on_state) {
        rp->on_state(rp->state_arg, rp, true);
    }
}

static void rlink_disconnect_cb(const redisAsyncContext *ac, int status)
{
    struct rlink *rp = ac->data;
    if (rp == NULL) {
        return;
    }
    rp->ac = NULL;
    if (rp->state == RLINK_STOPPED) {
        return;
    }
    snprintf(rp->status, sizeof(rp->status), "redis %s connection lost (%s)", rp->endpoint,
             status == REDIS_OK ? "closed" : (ac->errstr[0] ? ac->errstr : "error"));
    log_warn("redis", "%s", rp->status);
    METRICS_INC(rp->m->redis_errors_total);
    rlink_schedule_retry(rp);
}

static void rlink_connect(struct rlink *rp)
{
    if (rp->state == RLINK_STOPPED) {
        return;
    }
    redisAsyncContext *ac = rp->unix_path ? redisAsyncConnectUnix(rp->unix_path)
                                          : redisAsyncConnect(rp->host, rp->port);
    if (ac == NULL) {
        snprintf(rp->status, sizeof(rp->status), "redis %s: out of memory", rp->endpoint);
        rlink_schedule_retry(rp);
        return;
    }
    if (ac->err) {
        snprintf(rp->status, sizeof(rp->status), "redis %s is unreachable (%s)", rp->endpoint,
                 ac->errstr);
        METRICS_INC(rp->m->redis_errors_total);
        redisAsyncFree(ac);
        rlink_schedule_retry(rp);
        return;
    }
    if (rlink_ev_attach(rp, ac) != FEATD_OK) {
        snprintf(rp->status, sizeof(rp->status), "redis %s: out of memory", rp->endpoint);
        redisAsyncFree(ac);
        rlink_schedule_retry(rp);
        return;
    }
    ac->data = rp;
    rp->ac = ac;
    rp->state = RLINK_CONNECTING;
    redisAsyncSetConnectCallback(ac, rlink_connect_cb);
    redisAsyncSetDisconnectCallback(ac, rlink_disconnect_cb);
    if (rp->password) {
        /* argv form: any byte of the password (spaces too) goes through */
        const char *argv[3] = { "AUTH", rp->username, rp->password };
        size_t lens[3] = { 4, rp->username ? strlen(rp->username) : 0, strlen(rp->password) };
        if (rp->username == NULL) {
            argv[1] = argv[2];
            lens[1] = lens[2];
        }
        redisAsyncCommandArgv(ac, rlink_auth_cb, rp, rp->username ? 3 : 2, argv, lens);
    }
    if (rp->db != 0) {
        redisAsyncCommand(ac, rlink_auth_cb, rp, "SELECT %d", rp->db);
    }
    if (rp->readonly) {
        redisAsyncCommand(ac, rlink_auth_cb, rp, "READONLY");
    }
}

struct rlink *rlink_new_opts(struct event_base *base, const struct rlink_opts *o,
                             struct metrics *m)
{
    struct rlink *rp = calloc(1, sizeof(*rp));
    if (rp == NULL) {
        return NULL;
    }
    rp->base = base;
    rp->m = m;
    rp->db = o->db;
    rp->readonly = o->readonly;
    rp->queue_early = o->queue_early;
    rp->own_gauge = o->own_gauge;
    rp->on_state = o->on_state;
    rp->state_arg = o->state_arg;
    rp->backoff_ms = RLINK_BACKOFF_MIN_MS;
    if (o->host == NULL && o->unix_path) {
        rp->unix_path = util_xstrdup(o->unix_path);
        snprintf(rp->endpoint, sizeof(rp->endpoint), "unix:%s", rp->unix_path);
    } else {
        rp->host = util_xstrdup(o->host ? o->host : "127.0.0.1");
        rp->port = o->port ? o->port : 6379;
        /* an IPv6 address in brackets, so the port stays apart */
        snprintf(rp->endpoint, sizeof(rp->endpoint), strchr(rp->host, ':') ? "[%s]:%d" : "%s:%d",
                 rp->host, rp->port);
    }
    if (o->password) {
        rp->password = util_xstrdup(o->password);
        rp->username = o->username ? util_xstrdup(o->username) : NULL;
    }
    snprintf(rp->status, sizeof(rp->status), "redis %s: connecting", rp->endpoint);
    rp->retry = evtimer_new(base, rlink_retry_cb, rp);
    if (rp->retry == NULL) {
        rlink_free(rp);
        return NULL;
    }
    rlink_connect(rp);
    return rp;
}

struct rlink *rlink_new(struct event_base *base, const struct cfg_redis *rc,
                        const char *unix_override, struct metrics *m)
{
    struct rlink_opts o = {
        .host = rc->host, .port = rc->port, .username = rc->username, .password = rc->password,
        .db = rc->db, .own_gauge = true,
    };
    if (unix_override || rc->unix_path) {
        o.host = NULL;
        o.unix_path = unix_override ? unix_override : rc->unix_path;
    }
    return rlink_new_opts(base, &o, m);
}

void rlink_shutdown(struct rlink *rp)
{
    if (rp == NULL) {
        return;
    }
    rp->state = RLINK_STOPPED;
    if (rp->retry) {
        evtimer_del(rp->retry);
    }
    if (rp->ac) {
        redisAsyncContext *ac = rp->ac;
        rp->ac = NULL;
        ac->data = NULL;
        redisAsyncFree(ac);   /* pending callbacks run with NULL replies */
    }
    if (rp->own_gauge) {
        METRICS_SET(rp->m->redis_connected, 0);
    }
}

int64_t rlink_stalled_us(const struct rlink *rp)
{
    if (rp->state != RLINK_UP || rp->ac == NULL || rp->ac->replies.head == NULL) {
        return 0;
    }
    return util_mono_us() - rp->progress_us;
}

void rlink_reset(struct rlink *rp, const char *why)
{
    if (rp->ac == NULL || rp->state == RLINK_STOPPED) {
        return;
    }
    snprintf(rp->status, sizeof(rp->status), "redis %s: %s; reconnecting", rp->endpoint, why);
    log_warn("redis", "%s", rp->status);
    METRICS_INC(rp->m->redis_errors_total);
    redisAsyncContext *ac = rp->ac;
    rp->ac = NULL;
    ac->data = NULL;            /* our disconnect callback ignores it */
    redisAsyncFree(ac);         /* pending callbacks run with NULL replies */
    rlink_schedule_retry(rp);
}

void rlink_free(struct rlink *rp)
{
    if (rp == NULL) {
        return;
    }
    rlink_shutdown(rp);
    if (rp->retry) {
        event_free(rp->retry);
    }
    free(rp->host);
    free(rp->unix_path);
    free(rp->username);
    free(rp->password);
    fbuf_free(&rp->cmd);
    free(rp);
}

bool rlink_ready(const struct rlink *rp)
{
    return rp->state == RLINK_UP;
}

bool rlink_accepting(const struct rlink *rp)
{
    return rp->ac != NULL && (rp->state == RLINK_UP ||
                              (rp->state == RLINK_CONNECTING && rp->queue_early));
}

const char *rlink_status(const struct rlink *rp)
{
    return rp->status[0] ? rp->status : "redis connection is up";
}

const char *rlink_endpoint(const struct rlink *rp)
{
    return rp->endpoint;
}

int rlink_command_formatted(struct rlink *rp, redisCallbackFn *cb, void *priv, const char *cmd,
                            size_t len)
{
    if (!rlink_accepting(rp)) {
        return FEATD_EAGAIN;
    }
    if (rp->ac->replies.head == NULL) {
        rp->progress_us = util_mono_us();   /* the stall clock starts now */
    }
    if (redisAsyncFormattedCommand(rp->ac, cb, priv, cmd, len) != REDIS_OK) {
        METRICS_INC(rp->m->redis_errors_total);
        return FEATD_EAGAIN;
    }
    METRICS_INC(rp->m->redis_commands_total);
    return FEATD_OK;
}

int rlink_command_argv(struct rlink *rp, redisCallbackFn *cb, void *priv, int argc,
                       const char **argv, const size_t *argvlen)
{
    if (!rlink_accepting(rp)) {
        return FEATD_EAGAIN;
    }
    if (rcmd_format_argv(&rp->cmd, argc, argv, argvlen) != FEATD_OK) {
        METRICS_INC(rp->m->redis_errors_total);
        return FEATD_EAGAIN;
    }
    int rc = rlink_command_formatted(rp, cb, priv, rp->cmd.data, rp->cmd.len);
    if (rp->cmd.cap > RLINK_CMD_KEEP) {
        fbuf_free(&rp->cmd);    /* hiredis has copied it; keep only a small buffer */
    }
    return rc;
}
