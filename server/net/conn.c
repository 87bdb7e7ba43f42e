/*
 * conn.c — client connections on an event loop (see conn.h).
 *
 *   conn_read_cb: recvmsg(2) into in -> conn_process_input -> frame_parse ->
 *                 c->h->frame (at most CONN_FRAMES_PER_EVENT, then the read
 *                 event is re-activated to yield)
 *   answers -> out + conn_request_done -> flush list -> conn_flush_all
 *                 (low priority: after every I/O event of the iteration)
 *   conn_write_cb: only while the socket was full
 *   phases: conn_read_cb stamps c->rx_us (kernel receive time); answers
 *                 come back through conn_request_answered with their
 *                 timeline; conn_flush_all stamps each connection it writes
 *                 and conn_traces_finish observes the phases, counts slow
 *                 requests and logs them (conn_log_slow, rate-limited)
 *
 * Bounds: a frame above max_frame_bytes is refused from its header (error,
 * close); reading pauses while the expected output (unread answers plus
 * pending x answer_est) passes max_output_bytes / 2 or CONN_MAX_PENDING
 * requests are unanswered, and resumes below half of that; an answer that
 * would push unread output over max_output_bytes is refused (conn.h).
 * Memory: every connection's input, unread output and CONN_ANSWER_BASE per
 * pending request are counted in metrics_client_memory_bytes (conn_account,
 * at each change; the expected answers only gate reading);
 * past max_client_memory a connection holding more than its share
 * (budget / open connections, at least CONN_MEMORY_SHARE_MIN) is closed,
 * logged (one line a second per loop) and counted — Redis 7's client
 * eviction, which leaves well-behaved clients (small buffers) alone.
 */
#include "net/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "core/log.h"
#include "core/util.h"
#include "wire/frame.h"

#define CONN_RX_MAX_WAIT_US (60 * 1000000LL)  /* longer socket waits are clock steps */
#define CONN_TRACES_MIN 256         /* first size of a loop's trace array */
#define CONN_TRACES_MAX 65536       /* its bound: answers of one loop iteration past it are
                                       observed at once, write phase unmeasured */

/* An answer waiting for the flush pass, with its request's timeline. */
struct conn_trace {
    struct conn *c;                 /* a reference is held */
    struct metrics_req_trace t;
};

static void conn_process_input(struct conn *c);
static void conn_account(struct conn *c);
static void conn_request_finish(struct conn *c, uint64_t cells);
static void conn_read_cb(evutil_socket_t fd, short what, void *arg);

struct evbuffer *conn_output(struct conn *c)
{
    return c->closed ? NULL : c->out;
}

bool conn_live(const struct conn *c)
{
    return !c->closed && !c->closing;
}

void conn_ref(struct conn *c)
{
    c->refs++;
}

void conn_unref(struct conn *c)
{
    if (--c->refs == 0) {
        if (c->proto != NULL && c->h->release != NULL) {
            c->h->release(c);
        }
        free(c);
    }
}

static void conn_drain(struct conn *c);

static void conn_set_reading(struct conn *c, bool on)
{
    if (on && !c->reading) {
        event_add(&c->rev, NULL);
    } else if (!on && c->reading) {
        event_del(&c->rev);
    }
    c->reading = on;
}

static void conn_set_writing(struct conn *c, bool on)
{
    if (on && !c->writing) {
        event_add(&c->wev, NULL);
    } else if (!on && c->writing) {
        event_del(&c->wev);
    }
    c->writing = on;
}

void conn_close(struct conn *c, const char *reason)
{
    if (c->closed) {
        return;
    }
    struct conn_loop *l = c->loop;
    c->closed = true;
    log_conn(LOG_DEBUG, c, "closed: %s", reason ? reason : (c->close_reason ? c->close_reason : "?"));
    conn_set_reading(c, false);
    conn_set_writing(c, false);
    if (c->in_flush) {
        TAILQ_REMOVE(&l->flush, c, flush_link);
        c->in_flush = false;
    }
    conn_tls_free(c);
    evutil_closesocket(c->fd);
    c->fd = -1;
    conn_account(c);    /* closed: gives back what c held */
    evbuffer_free(c->in);
    evbuffer_free(c->out);
    c->in = c->out = NULL;
    TAILQ_REMOVE(&l->conns, c, link);
    l->nconns--;
    atomic_fetch_sub_explicit(&metrics_connections_open, 1, memory_order_relaxed);
    METRICS_INC(l->metrics->connections_closed_total);
    conn_unref(c);
    if (l->draining && l->on_close) {
        l->on_close(l->on_close_arg);
    }
}

/* Schedules a write of c's output in this loop iteration's flush pass. */
static void conn_flush_soon(struct conn *c)
{
    if (c->closed || c->in_flush || c->writing) {
        return;     /* a full socket is written by conn_write_cb */
    }
    c->in_flush = true;
    TAILQ_INSERT_TAIL(&c->loop->flush, c, flush_link);
    event_active(c->loop->flush_ev, EV_WRITE, 1);
}

/* Unread output plus what the pending requests are expected to add. */
static size_t conn_expected_out(const struct conn *c)
{
    return evbuffer_get_length(c->out) + (size_t)c->pending * CONN_ANSWER_BASE +
           (size_t)(c->pending_cells * c->cell_est);
}

static bool conn_over_limits(struct conn *c)
{
    return conn_expected_out(c) > c->loop->max_output_bytes / 2 || c->pending >= CONN_MAX_PENDING;
}

static bool conn_under_resume_mark(struct conn *c)
{
    return conn_expected_out(c) <= c->loop->max_output_bytes / 4 && c->pending < CONN_MAX_PENDING / 2;
}

size_t conn_output_room(const struct conn *c)
{
    if (c->closed) {
        return 0;
    }
    size_t out = evbuffer_get_length(c->out), max = c->loop->max_output_bytes;
    if (out == 0) {
        return SIZE_MAX;
    }
    return out < max ? max - out : 0;
}

/* The client-memory budget: brings c's share of metrics_client_memory_bytes
 * up to date, then, when the process is over max_client_memory and c holds
 * more than its share, closes c. c's loop thread only; c may be closed on
 * return. */
static void conn_account(struct conn *c)
{
    int64_t now = 0;
    if (!c->closed) {
        now = (int64_t)(evbuffer_get_length(c->in) + evbuffer_get_length(c->out) +
                        (size_t)c->pending * CONN_ANSWER_BASE);
    }
    int64_t total = atomic_fetch_add_explicit(&metrics_client_memory_bytes, now - c->held,
                                              memory_order_relaxed) + (now - c->held);
    c->held = now;
    struct conn_loop *l = c->loop;
    if (c->closed || l->max_client_memory == 0 || total <= (int64_t)l->max_client_memory) {
        return;
    }
    int64_t conns = atomic_load_explicit(&metrics_connections_open, memory_order_relaxed);
    size_t share = l->max_client_memory / (size_t)(conns > 0 ? conns : 1);
    if (share < CONN_MEMORY_SHARE_MIN) {
        share = CONN_MEMORY_SHARE_MIN;
    }
    if ((size_t)now <= share) {
        return;
    }
    METRICS_INC(l->metrics->client_memory_limit_closes_total);
    uint64_t skipped = 0;
    if (log_enabled(LOG_WARN) && log_limit_take(&l->memory_log, 1, util_mono_us(), &skipped)) {
        log_conn(LOG_WARN, c,
                 "closed: client buffers hold %" PRId64 " bytes, over server.max_client_memory_bytes "
                 "(%zu), and this connection %" PRId64 " of them (its share is %zu; %zu bytes of "
                 "unread answers: the client does not read)%s",
                 total, l->max_client_memory, now, share, evbuffer_get_length(c->out),
                 skipped ? " (more such closes not logged)" : "");
    }
    conn_close(c, "client memory budget exceeded");
}

void conn_request_cells(struct conn *c, uint32_t entities, uint32_t features)
{
    c->pending_cells += (uint64_t)entities * features;
}

/* A request's answer (cells entities x features) went into the output:
 * learn its size per cell. */
static void conn_note_answer(struct conn *c, uint64_t cells)
{
    size_t out = evbuffer_get_length(c->out);
    size_t got = out > c->out_mark ? out - c->out_mark : 0;
    c->out_mark = out;
    c->pending_cells -= cells <= c->pending_cells ? cells : c->pending_cells;
    if (cells == 0) {
        return;
    }
    size_t per = (size_t)((got + cells - 1) / cells);
    if (per >= c->cell_est) {
        c->cell_est = per;
    } else {
        c->cell_est -= (c->cell_est - per) / 8;
    }
}

static void conn_pause(struct conn *c)
{
    if (!c->read_paused) {
        c->read_paused = true;
        METRICS_INC(c->loop->metrics->output_limit_pauses_total);
        conn_set_reading(c, false);
        log_conn(LOG_DEBUG, c, "reading paused (output %zu bytes, %u pending)",
                 evbuffer_get_length(c->out), c->pending);
    }
}

static void conn_maybe_resume(struct conn *c)
{
    if (c->closed || c->closing || !c->read_paused || !conn_under_resume_mark(c)) {
        return;
    }
    c->read_paused = false;
    conn_set_reading(c, true);
    if (c->ssl != NULL && SSL_pending(c->ssl) > 0) {
        event_active(&c->rev, EV_READ, 1);  /* decrypted bytes no socket event announces */
    }
    conn_process_input(c);      /* frames may already be buffered */
}

/* After output was written: finish a deferred close, resume reading, let a
 * draining worker close an idle connection. */
static void conn_after_write(struct conn *c)
{
    if (c->closed) {
        return;
    }
    c->out_mark = evbuffer_get_length(c->out);
    conn_account(c);
    if (c->closed) {
        return;
    }
    if (c->closing) {
        if (c->pending == 0 && evbuffer_get_length(c->out) == 0) {
            conn_close(c, c->close_reason);
        }
        return;
    }
    conn_maybe_resume(c);
    if (!c->closed && c->loop->draining) {
        conn_drain(c);
    }
}

/* Writes as much output as the socket takes. FEATD_ERR when the connection
 * was closed because of a write error. */
static int conn_write_out(struct conn *c)
{
    while (evbuffer_get_length(c->out) > 0) {
        int n;
        if (c->ssl != NULL) {
            struct evbuffer_iovec v;
            if (evbuffer_peek(c->out, -1, NULL, &v, 1) < 1) {
                break;
            }
            ssize_t w = conn_tls_write(c, v.iov_base, v.iov_len);
            if (w > 0) {
                evbuffer_drain(c->out, (size_t)w);
            } else if (errno == EAGAIN && !c->tls_want_write) {
                return FEATD_OK;    /* OpenSSL wants to read first: the next read flushes */
            } else if (errno == EPROTO || errno == EPIPE) {
                conn_close(c, c->tls_error);
                return FEATD_ERR;
            }
            n = w > 0 ? (int)w : -1;
            if (n < 0) {
                errno = EAGAIN;
            }
        } else {
            n = evbuffer_write(c->out, c->fd);
        }
        if (n > 0) {
            c->active_us = util_mono_us();
            continue;
        }
        int e = EVUTIL_SOCKET_ERROR();
        if (n < 0 && (e == EAGAIN || e == EWOULDBLOCK || e == EINTR)) {
            conn_set_writing(c, true);
            return FEATD_OK;
        }
        conn_close(c, n == 0 ? "peer closed" : evutil_socket_error_to_string(e));
        return FEATD_ERR;
    }
    conn_set_writing(c, false);
    return FEATD_OK;
}

/* ---- request phases ---- */

/* The slow-request log line: at most CONN_SLOW_LOGS_PER_SEC a second per
 * loop; a line says how many slow requests went unlogged before it. */
static void conn_log_slow(struct conn_loop *l, struct conn *c, const struct metrics_req_trace *t,
                          const uint64_t us[MPHASE__COUNT], bool full, int64_t now)
{
    uint64_t skipped;
    if (!log_enabled(LOG_WARN) || !log_limit_take(&l->slow_log, CONN_SLOW_LOGS_PER_SEC, now, &skipped)) {
        METRICS_INC(l->metrics->slow_request_logs_suppressed_total);
        return;
    }
    uint64_t total = 0;
    for (size_t i = 0; i < MPHASE__COUNT; i++) {
        total += us[i];
    }
    log_conn(LOG_WARN, c, "slow request: id=%" PRIu64 " type=%s entities=%" PRIu32 " features=%" PRIu32
             " total_us=%" PRIu64 " queued_us=%" PRIu64 " decode_us=%" PRIu64 " redis_us=%" PRIu64
             " encode_us=%" PRIu64 " write_us=%" PRIu64 " socket_full=%s not_logged_before=%" PRIu64,
             t->id, t->type >= 0 && t->type < MREQ__COUNT ? metrics_req_type_names[t->type] : "?",
             t->entities, t->features, total, us[MPHASE_QUEUED], us[MPHASE_DECODE], us[MPHASE_REDIS],
             us[MPHASE_ENCODE], us[MPHASE_WRITE], full ? "yes" : "no", skipped);
}

/* Observes the phases of one answer handed to write(2) at written_us. */
static void conn_trace_observe(struct conn_loop *l, struct conn *c, const struct metrics_req_trace *t,
                               int64_t written_us, bool full)
{
    uint64_t us[MPHASE__COUNT];
    if (full) {
        METRICS_INC(l->metrics->answers_socket_full_total);
    }
    metrics_phases_split(t, written_us, us);
    if (metrics_phases_observe(l->metrics, us, l->slow_us)) {
        conn_log_slow(l, c, t, us, full, written_us);
    }
}

/* After the flush pass: every answer traced since the last one was written
 * (its connection's written_us) or found its socket full (still queued in
 * the output buffer: measured to now). Answers of connections closed
 * before they were written are dropped. */
static void conn_traces_finish(struct conn_loop *l)
{
    int64_t now = 0;
    for (size_t i = 0; i < l->ntraces; i++) {
        struct conn_trace *tr = &l->traces[i];
        struct conn *c = tr->c;
        if (c->written_us != 0 || !c->closed) {
            bool full = c->written_us == 0 || c->write_full;
            int64_t end = c->written_us;
            if (end == 0) {
                end = now ? now : (now = util_mono_us());
            }
            conn_trace_observe(l, c, &tr->t, end, full);
        }
    }
    for (size_t i = 0; i < l->ntraces; i++) {
        struct conn *c = l->traces[i].c;
        c->traced = false;
        c->written_us = 0;
        c->write_full = false;
        conn_unref(c);
    }
    l->ntraces = 0;
}

/* Makes room for one more trace; false (counted) when the array is at
 * CONN_TRACES_MAX or memory is short. */
static bool conn_traces_reserve(struct conn_loop *l)
{
    if (l->ntraces < l->traces_cap) {
        return true;
    }
    if (l->traces_cap >= CONN_TRACES_MAX) {
        METRICS_INC(l->metrics->answers_untraced_total);
        return false;
    }
    size_t cap = l->traces_cap ? 2 * l->traces_cap : CONN_TRACES_MIN;
    struct conn_trace *t = realloc(l->traces, cap * sizeof(*t));
    if (t == NULL) {
        METRICS_INC(l->metrics->answers_untraced_total);
        return false;
    }
    l->traces = t;
    l->traces_cap = cap;
    return true;
}

void conn_request_answered(struct conn *c, const struct metrics_req_trace *t)
{
    struct conn_loop *l = c->loop;
    uint64_t cells = (uint64_t)t->entities * t->features;
    if (c->closed) {
        conn_request_finish(c, cells);
        return;
    }
    if (!conn_traces_reserve(l)) {
        conn_trace_observe(l, c, t, util_mono_us(), false);     /* write phase not measured */
        conn_request_finish(c, cells);
        return;
    }
    struct conn_trace *tr = &l->traces[l->ntraces++];
    tr->c = c;
    tr->t = *t;
    conn_ref(c);
    c->traced = true;
    conn_request_finish(c, cells);
    if (!c->in_flush) {
        event_active(l->flush_ev, EV_WRITE, 1);     /* c's socket is full: the pass still measures it */
    }
}

/* Drops the traces of answers never written (the loop is going away). */
static void conn_traces_free(struct conn_loop *l)
{
    for (size_t i = 0; i < l->ntraces; i++) {
        conn_unref(l->traces[i].c);
    }
    free(l->traces);
    l->traces = NULL;
    l->ntraces = l->traces_cap = 0;
}

/* The loop's flush pass (the low-priority event): writes every connection
 * that got output this iteration. */
static void conn_flush_all(evutil_socket_t fd, short what, void *arg)
{
    struct conn_loop *l = arg;
    struct conn *c;
    (void)fd;
    (void)what;
    while ((c = TAILQ_FIRST(&l->flush)) != NULL) {
        TAILQ_REMOVE(&l->flush, c, flush_link);
        c->in_flush = false;
        conn_ref(c);
        if (c->traced) {
            c->written_us = util_mono_us();     /* the answers are handed to write(2) now */
        }
        if (conn_write_out(c) == FEATD_OK) {
            c->write_full = c->writing;
            conn_after_write(c);
        }
        conn_unref(c);
    }
    if (l->ntraces > 0) {
        conn_traces_finish(l);
    }
}

static void conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    (void)what;
    if (c->ssl != NULL && c->tls_want_write && evbuffer_get_length(c->out) == 0) {
        /* a TLS read (handshake) waited for the socket to be writable */
        conn_set_writing(c, false);
        conn_read_cb(fd, EV_READ, c);
        return;
    }
    conn_ref(c);
    if (conn_write_out(c) == FEATD_OK) {
        conn_after_write(c);
    }
    conn_unref(c);
}

void conn_close_after_flush(struct conn *c, const char *reason)
{
    if (c->closed || c->closing) {
        return;
    }
    c->closing = true;
    c->close_reason = reason;
    conn_set_reading(c, false);
    if (c->pending == 0 && evbuffer_get_length(c->out) == 0) {
        conn_close(c, reason);
        return;
    }
    conn_flush_soon(c);
}

/* conn_request_done for an answer of cells entities x features. */
static void conn_request_finish(struct conn *c, uint64_t cells)
{
    c->pending--;
    if (c->closed) {
        return;
    }
    conn_note_answer(c, cells);
    conn_flush_soon(c);
    if (!c->closing && conn_over_limits(c)) {
        conn_pause(c);
    } else if (c->read_paused && c->writing && !c->in_flush) {
        /* paused on the answers it expected, which are now in: with a full
         * socket no flush pass looks at c (conn_flush_soon), so queue one
         * for its resume check (conn_after_write), outside any input
         * processing that may have answered this request */
        c->in_flush = true;
        TAILQ_INSERT_TAIL(&c->loop->flush, c, flush_link);
        event_active(c->loop->flush_ev, EV_WRITE, 1);
    }
    conn_account(c);
}

void conn_request_begin(struct conn *c)
{
    c->pending++;
}

void conn_request_done(struct conn *c)
{
    conn_request_finish(c, 0);
}

static void conn_process_input(struct conn *c)
{
    struct evbuffer *in = c->in;
    uint32_t max = c->loop->max_frame_bytes;
    int frames = 0;

    conn_ref(c);    /* a request may close us midway */
    while (!c->closed && !c->closing) {
        if (conn_over_limits(c)) {
            conn_pause(c);
            break;
        }
        if (frames == CONN_FRAMES_PER_EVENT) {
            METRICS_INC(c->loop->metrics->frames_per_event_yields_total);
            c->yielded = true;
            event_active(&c->rev, EV_READ, 1);  /* come back after the others */
            break;
        }
        if (!c->sniffed) {
            const uint8_t *p = evbuffer_get_length(in) ? evbuffer_pullup(in, 1) : NULL;
            if (p == NULL) {
                break;
            }
            c->sniffed = true;
            if (c->loop->alt != NULL && c->loop->alt_sniff(p, 1) == 1) {
                c->h = c->loop->alt;
                METRICS_INC(c->loop->metrics->http_connections_total);
            }
        }
        if (c->h->next != NULL) {
            int r = c->h->next(c->harg, c);
            if (r != CONN_NEXT_TOOK) {
                break;
            }
            frames++;
            continue;
        }
        uint32_t len;
        enum frame_status st = frame_parse(in, max, &len);
        if (st == FRAME_INCOMPLETE) {
            break;
        }
        if (st == FRAME_TOO_LARGE) {
            char msg[160];
            METRICS_INC(c->loop->metrics->frames_too_large_total);
            snprintf(msg, sizeof(msg), "frame of %u bytes exceeds max_frame_bytes (%u)", len, max);
            log_conn(LOG_INFO, c, "frame too large: %s", msg);
            if (c->h->refuse(c->out, msg) != FEATD_OK) {
                conn_close(c, "out of memory writing an error");
                break;
            }
            conn_close_after_flush(c, "frame too large");
            break;
        }
        evbuffer_drain(in, FRAME_HEADER);
        const uint8_t *data = len ? evbuffer_pullup(in, len) : (const uint8_t *)"";
        if (data == NULL) {
            conn_close(c, "out of memory reading a frame");
            break;
        }
        c->pending++;
        c->h->frame(c->harg, c, data, len);
        if (!c->closed) {
            evbuffer_drain(in, len);
        }
        frames++;
    }
    if (!c->closed) {
        /* a frame begun and not complete: its clock (server.frame_timeout_ms)
         * starts with the read that brought its first bytes */
        if (evbuffer_get_length(in) == 0) {
            c->frame_since_us = 0;
        } else if (c->frame_since_us == 0 || frames > 0) {
            c->frame_since_us = c->rx_us;
        }
    }
    if (c->loop->draining && !c->closed) {
        conn_drain(c);
    }
    conn_unref(c);
}

/* The monotonic receive time of the data mh brought: the kernel's
 * timestamp (CLOCK_REALTIME) moved onto the monotonic clock, or now when
 * the kernel gave none. On TCP the timestamp is that of the last segment
 * the read copied, so frames pipelined in earlier segments of the same
 * read look younger than they are (queued is a lower bound for them). A
 * wall-clock step is bounded: a wait over CONN_RX_MAX_WAIT_US is taken as
 * one and ignored. */
static int64_t conn_rx_time(struct conn *c, struct msghdr *mh)
{
    int64_t mono = util_mono_us();
    if (c->rx_tstamp) {
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm != NULL; cm = CMSG_NXTHDR(mh, cm)) {
            if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
                struct timespec ts;
                memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
                int64_t waited = util_now_us() - ((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
                return waited > 0 && waited < CONN_RX_MAX_WAIT_US ? mono - waited : mono;
            }
        }
    }
    METRICS_INC(c->loop->metrics->rx_timestamps_missing_total);
    return mono;
}

/* One recvmsg(2) straight into the input buffer (no FIONREAD probe), with
 * the kernel's receive timestamp. */
static void conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    (void)what;
    if (c->closed || c->closing || c->read_paused) {
        return;
    }
    if (c->yielded) {
        /* re-activated to finish buffered frames: no read(2) until they are done */
        c->yielded = false;
        conn_process_input(c);
        return;
    }
    struct evbuffer_iovec v;
    if (evbuffer_reserve_space(c->in, CONN_READ_CHUNK, &v, 1) < 1) {
        conn_close(c, "out of memory reading");
        return;
    }
    ssize_t n;
    if (c->ssl != NULL) {
        /* TLS: no kernel timestamp for the decrypted bytes; the read's time */
        n = conn_tls_read(c, v.iov_base, v.iov_len);
        if (n > 0) {
            c->rx_us = util_mono_us();
        }
        if (c->tls_want_write) {
            conn_set_writing(c, true);      /* conn_write_cb comes back here */
        }
        if (n < 0 && errno == EPROTO) {
            conn_close(c, c->tls_error);
            return;
        }
        if (n > 0 && SSL_pending(c->ssl) > 0) {
            event_active(&c->rev, EV_READ, 1);  /* decrypted bytes OpenSSL still holds */
        }
        if (!c->tls_handshaking && c->frame_since_us != 0 && evbuffer_get_length(c->in) == 0 &&
            n <= 0) {
            c->frame_since_us = 0;          /* handshake done, no frame begun yet */
        }
    } else {
        union {
            char buf[CMSG_SPACE(sizeof(struct timespec))];
            struct cmsghdr align;
        } ctl;
        struct iovec iov = { v.iov_base, v.iov_len };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                             .msg_controllen = sizeof(ctl.buf) };
        n = recvmsg(fd, &mh, 0);
        if (n > 0) {
            c->rx_us = conn_rx_time(c, &mh);
        }
    }
    if (n > 0) {
        c->active_us = util_mono_us();
        v.iov_len = (size_t)n;
        evbuffer_commit_space(c->in, &v, 1);
    } else if (n == 0) {
        /* peer finished sending: answer what it sent, then close */
        conn_ref(c);
        conn_process_input(c);
        if (!c->closed) {
            conn_close_after_flush(c, "peer closed");
        }
        conn_unref(c);
        return;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        conn_close(c, strerror(errno));
        return;
    }
    conn_ref(c);
    conn_process_input(c);
    conn_account(c);
    conn_unref(c);
}


/* Drain: close if idle (no pending, no buffered or unread input). */
static void conn_drain(struct conn *c)
{
    if (c->closed || c->closing || c->pending > 0 || evbuffer_get_length(c->out) > 0) {
        return;
    }
    if (evbuffer_get_length(c->in) > 0) {
        return;
    }
    char b;
    ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0) {
        return;     /* a request sent before the signal is still unread */
    }
    conn_close_after_flush(c, "server shutting down");
}

void conn_new(struct conn_loop *l, evutil_socket_t fd, const struct sockaddr *sa, int salen,
              const struct conn_handler *h, void *harg)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        evutil_closesocket(fd);
        atomic_fetch_sub_explicit(&metrics_connections_open, 1, memory_order_relaxed);
        return;
    }
    c->loop = l;
    c->h = h;
    c->harg = harg;
    c->fd = fd;
    c->id = l->id_base | ++l->next_conn_id;
    c->refs = 1;
    c->cell_est = CONN_CELL_EST_INIT;
    c->active_us = util_mono_us();
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
    c->rx_tstamp = setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) == 0;
    c->in = evbuffer_new();
    c->out = evbuffer_new();
    if (c->in == NULL || c->out == NULL ||
        event_assign(&c->rev, l->base, fd, EV_READ | EV_PERSIST, conn_read_cb, c) != 0 ||
        event_assign(&c->wev, l->base, fd, EV_WRITE | EV_PERSIST, conn_write_cb, c) != 0) {
        if (c->in) {
            evbuffer_free(c->in);
        }
        if (c->out) {
            evbuffer_free(c->out);
        }
        evutil_closesocket(fd);
        free(c);
        atomic_fetch_sub_explicit(&metrics_connections_open, 1, memory_order_relaxed);
        return;
    }
    if (l->tls != NULL && conn_tls_start(c, l->tls) != FEATD_OK) {
        conn_tls_free(c);
        evbuffer_free(c->in);
        evbuffer_free(c->out);
        evutil_closesocket(fd);
        free(c);
        atomic_fetch_sub_explicit(&metrics_connections_open, 1, memory_order_relaxed);
        return;
    }
    TAILQ_INSERT_TAIL(&l->conns, c, link);
    l->nconns++;
    conn_set_reading(c, true);
    METRICS_INC(l->metrics->connections_accepted_total);
    log_conn(LOG_DEBUG, c, "accepted");
}

void conn_refuse(const struct conn_handler *h, evutil_socket_t fd, const char *msg)
{
    struct evbuffer *b = evbuffer_new();
    if (b) {
        if (h->refuse(b, msg) == FEATD_OK) {
            evbuffer_write(b, fd);  /* non-blocking: don't check write errors */
        }
        evbuffer_free(b);
    }
    evutil_closesocket(fd);
}

/* ---- the loop's connections ---- */

int conn_loop_init(struct conn_loop *l, struct event_base *base, struct metrics *m, int flush_priority)
{
    TAILQ_INIT(&l->conns);
    TAILQ_INIT(&l->flush);
    l->base = base;
    l->metrics = m;
    l->flush_ev = event_new(base, -1, 0, conn_flush_all, l);
    if (l->flush_ev == NULL || event_priority_set(l->flush_ev, flush_priority) != 0) {
        return FEATD_ERR;
    }
    return conn_sweep_start(l);
}

void conn_loop_close_all(struct conn_loop *l, const char *reason)
{
    while (!TAILQ_EMPTY(&l->conns)) {
        conn_close(TAILQ_FIRST(&l->conns), reason);
    }
}

void conn_loop_drain(struct conn_loop *l)
{
    struct conn *c, *next;
    l->draining = true;
    for (c = TAILQ_FIRST(&l->conns); c; c = next) {
        next = TAILQ_NEXT(c, link);
        conn_drain(c);
    }
}

void conn_loop_free(struct conn_loop *l)
{
    conn_loop_close_all(l, "server stopping");
    conn_traces_free(l);
    if (l->sweep_ev) {
        event_free(l->sweep_ev);
        l->sweep_ev = NULL;
    }
    if (l->flush_ev) {
        event_free(l->flush_ev);
        l->flush_ev = NULL;
    }
}
