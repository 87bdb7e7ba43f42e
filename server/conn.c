/*
 * conn.c — client connections on a worker (see conn.h).
 *
 *   conn_read_cb -> conn_process_input -> frame_parse -> lookup_handle_frame
 *   lookup answers -> evbuffer output -> conn_request_done (backpressure)
 *   conn_write_cb: output drained below the low watermark -> resume reading,
 *                  or finish a deferred close
 *
 * Bounds: a frame above max_frame_bytes is refused from its header (error,
 * close); at most CONN_FRAMES_PER_EVENT frames per callback, then yield;
 * reading pauses while output exceeds max_output_bytes or CONN_MAX_PENDING
 * requests are unanswered.
 */
#include "conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>

#include "frame.h"
#include "log.h"
#include "lookup.h"

static void conn_process_input(struct conn *c);

struct evbuffer *conn_output(struct conn *c)
{
    return c->closed ? NULL : bufferevent_get_output(c->bev);
}

void conn_ref(struct conn *c)
{
    c->refs++;
}

void conn_unref(struct conn *c)
{
    if (--c->refs == 0) {
        free(c);
    }
}

void conn_close(struct conn *c, const char *reason)
{
    if (c->closed) {
        return;
    }
    c->closed = true;
    log_conn(LOG_DEBUG, c, "closed: %s", reason ? reason : (c->close_reason ? c->close_reason : "?"));
    bufferevent_free(c->bev);
    c->bev = NULL;
    TAILQ_REMOVE(&c->w->conns, c, link);
    c->w->nconns--;
    atomic_fetch_sub_explicit(&metrics_connections_open, 1, memory_order_relaxed);
    METRICS_INC(c->w->metrics.connections_closed_total);
    struct worker *w = c->w;
    conn_unref(c);
    worker_maybe_finish(w);
}

/* Close once everything queued has been written. */
static void conn_close_after_flush(struct conn *c, const char *reason)
{
    if (c->closed || c->closing) {
        return;
    }
    c->closing = true;
    c->close_reason = reason;
    bufferevent_disable(c->bev, EV_READ);
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
        conn_close(c, reason);
        return;
    }
    bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
    bufferevent_enable(c->bev, EV_WRITE);
}

void conn_fail(struct conn *c, uint64_t request_id, int code, const char *msg, const char *reason)
{
    if (c->closed || c->closing) {
        return;
    }
    log_conn(LOG_INFO, c, "%s: %s", reason, msg);
    if (proto_write_error(bufferevent_get_output(c->bev), request_id, code, msg) != FEATD_OK) {
        conn_close(c, "out of memory writing an error");
        return;
    }
    conn_close_after_flush(c, reason);
}

static bool conn_over_limits(struct conn *c)
{
    const struct cfg_server *s = &c->w->reg->cfg->server;
    return evbuffer_get_length(bufferevent_get_output(c->bev)) > s->max_output_bytes ||
           c->pending >= CONN_MAX_PENDING;
}

static void conn_pause(struct conn *c)
{
    if (!c->read_paused) {
        c->read_paused = true;
        METRICS_INC(c->w->metrics.output_limit_pauses_total);
        bufferevent_disable(c->bev, EV_READ);
        log_conn(LOG_DEBUG, c, "reading paused (output %zu bytes, %u pending)",
                 evbuffer_get_length(bufferevent_get_output(c->bev)), c->pending);
    }
}

static void conn_maybe_resume(struct conn *c)
{
    if (c->closed || c->closing || !c->read_paused || conn_over_limits(c)) {
        return;
    }
    c->read_paused = false;
    bufferevent_enable(c->bev, EV_READ);
    conn_process_input(c);      /* frames may already be buffered */
}

void conn_request_done(struct conn *c)
{
    c->pending--;
    if (c->closed) {
        return;
    }
    if (c->closing) {
        return;
    }
    if (conn_over_limits(c)) {
        conn_pause(c);
    } else if (c->read_paused) {
        conn_maybe_resume(c);
    }
    if (c->w->draining) {
        conn_drain(c);
    }
}

static void conn_process_input(struct conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    uint32_t max = c->w->reg->cfg->server.max_frame_bytes;
    int frames = 0;

    conn_ref(c);    /* a request may close us midway */
    while (!c->closed && !c->closing) {
        if (conn_over_limits(c)) {
            conn_pause(c);
            break;
        }
        if (frames == CONN_FRAMES_PER_EVENT) {
            METRICS_INC(c->w->metrics.frames_per_event_yields_total);
            bufferevent_trigger(c->bev, EV_READ, BEV_TRIG_DEFER_CALLBACKS | BEV_TRIG_IGNORE_WATERMARKS);
            break;
        }
        uint32_t len;
        enum frame_status st = frame_parse(in, max, &len);
        if (st == FRAME_INCOMPLETE) {
            break;
        }
        if (st == FRAME_TOO_LARGE) {
            char msg[160];
            METRICS_INC(c->w->metrics.frames_too_large_total);
            snprintf(msg, sizeof(msg), "frame of %u bytes exceeds max_frame_bytes (%u)", len, max);
            conn_fail(c, 0, FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED, msg, "frame too large");
            break;
        }
        evbuffer_drain(in, FRAME_HEADER);
        const uint8_t *data = len ? evbuffer_pullup(in, len) : (const uint8_t *)"";
        if (data == NULL) {
            conn_close(c, "out of memory reading a frame");
            break;
        }
        c->pending++;
        lookup_handle_frame(c, data, len);
        if (!c->closed) {
            evbuffer_drain(in, len);
        }
        frames++;
    }
    if (c->w->draining && !c->closed) {
        conn_drain(c);
    }
    conn_unref(c);
}

static void conn_read_cb(struct bufferevent *bev, void *arg)
{
    (void)bev;
    conn_process_input(arg);
}

static void conn_write_cb(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    (void)bev;
    if (c->closing) {
        if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
            conn_close(c, c->close_reason);
        }
        return;
    }
    conn_maybe_resume(c);
    if (c->w->draining) {
        conn_drain(c);
    }
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct conn *c = arg;
    (void)bev;
    if (what & BEV_EVENT_EOF) {
        conn_close(c, "peer closed");
    } else if (what & BEV_EVENT_ERROR) {
        conn_close(c, evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    }
}

void conn_drain(struct conn *c)
{
    if (c->closed || c->closing || c->pending > 0) {
        return;
    }
    if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0) {
        return;
    }
    char b;
    ssize_t n = recv(bufferevent_getfd(c->bev), &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0) {
        return;     /* a request sent before the signal is still unread */
    }
    conn_close_after_flush(c, "server shutting down");
}

void conn_new(struct worker *w, evutil_socket_t fd, const struct sockaddr *sa, int salen)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        evutil_closesocket(fd);
        return;
    }
    c->w = w;
    c->id = ((uint64_t)w->id << 48) | ++w->next_conn_id;
    c->refs = 1;
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (sa && sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
        port = ntohs(s4->sin_port);
    } else if (sa && sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
        port = ntohs(s6->sin6_port);
    }
    (void)salen;
    snprintf(c->peer, sizeof(c->peer), "%s:%d", host, port);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->bev = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (c->bev == NULL) {
        evutil_closesocket(fd);
        free(c);
        return;
    }
    bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
    size_t low = w->reg->cfg->server.max_output_bytes / 2;
    bufferevent_setwatermark(c->bev, EV_WRITE, low, 0);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    TAILQ_INSERT_TAIL(&w->conns, c, link);
    w->nconns++;
    METRICS_INC(w->metrics.connections_accepted_total);
    log_conn(LOG_DEBUG, c, "accepted");
}
