/*
 * conn.h — a client connection on a worker: socket events, input/output
 * buffers, the framing loop, backpressure and deferred close. Requests hold a
 * reference so a connection closed while Redis still owes an answer is freed
 * only after the answer.
 *
 * Output is not written where it is produced: answers are appended to the
 * connection's output buffer and the connection joins its worker's flush
 * list; one low-priority event per worker writes every listed connection
 * once per loop iteration (Redis' "write before sleeping"), so a busy loop
 * makes one write(2) per connection per iteration and no epoll_ctl unless a
 * socket is actually full.
 */
#ifndef FEATD_CONN_H
#define FEATD_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include "net/worker.h"

#define CONN_FRAMES_PER_EVENT 64    /* then yield to other connections */
#define CONN_MAX_PENDING 4096       /* requests in flight per connection; reading pauses above */
#define CONN_READ_CHUNK 16384       /* bytes asked of each read(2) */

struct conn {
    uint64_t id;
    char peer[64];
    struct worker *w;
    evutil_socket_t fd;
    struct event rev;               /* EV_READ|EV_PERSIST, added while reading */
    struct event wev;               /* EV_WRITE|EV_PERSIST, added only while the socket is full */
    struct evbuffer *in;
    struct evbuffer *out;
    int refs;                       /* 1 while open + 1 per live request */
    uint32_t pending;               /* requests not yet answered */
    bool reading;                   /* rev is added */
    bool writing;                   /* wev is added */
    bool closing;                   /* no more reads; close once answered and flushed */
    bool closed;                    /* socket gone; answers are dropped */
    bool read_paused;               /* output over max_output_bytes or too many pending */
    bool in_flush;                  /* on the worker's flush list */
    bool yielded;                   /* frames left in `in` after the per-event cap */
    const char *close_reason;
    TAILQ_ENTRY(conn) link;         /* in worker->conns while open */
    TAILQ_ENTRY(conn) flush_link;   /* in worker->flush while in_flush */
};

void conn_new(struct worker *w, evutil_socket_t fd, const struct sockaddr *sa, int salen);
void conn_ref(struct conn *c);
void conn_unref(struct conn *c);

/* Output buffer of an open connection (NULL when closed). Whoever appends to
 * it must then call conn_request_done (or conn_flush_soon). */
struct evbuffer *conn_output(struct conn *c);
/* A request finished (its answer, if any, is in the output buffer): update
 * pending, schedule the flush, apply backpressure / resume reading. */
void conn_request_done(struct conn *c);
/* Schedule a write of c's output in this loop iteration's flush pass. */
void conn_flush_soon(struct conn *c);
/* Worker's flush pass (the low-priority event's callback). */
void conn_flush_all(struct worker *w);
/* Write an error and close after it is flushed (request_id 0 for frame errors). */
void conn_fail(struct conn *c, uint64_t request_id, int code, const char *msg, const char *reason);
/* Close now (drops unsent output). */
void conn_close(struct conn *c, const char *reason);
/* Drain: close if idle (no pending, no buffered or unread input). */
void conn_drain(struct conn *c);

#endif
