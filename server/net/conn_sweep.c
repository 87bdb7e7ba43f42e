/*
 * conn_sweep.c — the connection timeouts of one event loop (Redis's
 * clientsCron, in short): a periodic event every CONN_SWEEP_MS walks the
 * loop's connections and closes
 *   - an idle one (no pending request, no buffered input or output) that
 *     read or wrote nothing for server.idle_timeout_ms: idle_timeouts_total;
 *   - one whose incomplete frame began longer than server.frame_timeout_ms
 *     ago while featd was reading it (a connection paused by backpressure
 *     is waiting for us, not the other way round): frame_timeouts_total,
 *     after a FRAME error naming the limit; a TLS handshake counts as a
 *     started frame (closed without an error: there is no channel yet).
 * A walk costs one comparison per connection: 10,000 connections every
 * 100 ms stay far below a millisecond of the loop's time.
 * Runs on the loop's own thread, like everything in net/conn.c.
 */
#include "net/conn.h"

#include <inttypes.h>
#include <stdio.h>

#include "core/util.h"

/* Whether c has been idle (nothing pending, buffered or being sent) for
 * longer than the idle timeout, at now. */
static bool conn_sweep_idle(const struct conn *c, int64_t now)
{
    const struct conn_loop *l = c->loop;
    return l->idle_timeout_us > 0 && c->pending == 0 && evbuffer_get_length(c->in) == 0 &&
           evbuffer_get_length(c->out) == 0 && now - c->active_us > l->idle_timeout_us;
}

static bool conn_sweep_frame_late(const struct conn *c, int64_t now)
{
    const struct conn_loop *l = c->loop;
    return l->frame_timeout_us > 0 && c->frame_since_us != 0 && c->reading &&
           now - c->frame_since_us > l->frame_timeout_us;
}

static void conn_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conn_loop *l = arg;
    (void)fd;
    (void)what;
    int64_t now = util_mono_us();
    struct conn *c, *next;
    for (c = TAILQ_FIRST(&l->conns); c != NULL; c = next) {
        next = TAILQ_NEXT(c, link);
        if (c->closing) {
            continue;
        }
        if (conn_sweep_idle(c, now)) {
            METRICS_INC(l->metrics->idle_timeouts_total);
            conn_close(c, "idle timeout (server.idle_timeout_ms)");
        } else if (conn_sweep_frame_late(c, now)) {
            char msg[160];
            METRICS_INC(l->metrics->frame_timeouts_total);
            if (c->tls_handshaking) {
                conn_close(c, "TLS handshake not completed within server.frame_timeout_ms");
                continue;
            }
            snprintf(msg, sizeof(msg), "frame not completed within server.frame_timeout_ms (%" PRId64
                     " ms): closing", l->frame_timeout_us / 1000);
            if (c->h->refuse(c->out, msg) != FEATD_OK) {
                conn_close(c, "out of memory writing an error");
                continue;
            }
            conn_close_after_flush(c, "frame timeout");
        }
    }
}

int conn_sweep_start(struct conn_loop *l)
{
    l->sweep_ev = event_new(l->base, -1, EV_PERSIST, conn_sweep_cb, l);
    struct timeval tv = { 0, CONN_SWEEP_MS * 1000 };
    if (l->sweep_ev == NULL || event_add(l->sweep_ev, &tv) != 0) {
        return FEATD_ERR;
    }
    return FEATD_OK;
}
