/*
 * conn.h — a client connection on a worker: bufferevent, framing loop,
 * backpressure, and deferred close. Requests hold a reference so a connection
 * closed while Redis still owes an answer is freed only after the answer.
 */
#ifndef FEATD_CONN_H
#define FEATD_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include <event2/bufferevent.h>

#include "worker.h"

#define CONN_FRAMES_PER_EVENT 64    /* then yield to other connections */
#define CONN_MAX_PENDING 4096       /* requests in flight per connection; reading pauses above */

struct conn {
    uint64_t id;
    char peer[64];
    struct worker *w;
    struct bufferevent *bev;
    int refs;                       /* 1 while open + 1 per live request */
    uint32_t pending;               /* requests not yet answered */
    bool closing;                   /* close once output is flushed */
    bool closed;                    /* socket gone; answers are dropped */
    bool read_paused;               /* output over max_output_bytes or too many pending */
    const char *close_reason;
    TAILQ_ENTRY(conn) link;         /* in worker->conns while open */
};

void conn_new(struct worker *w, evutil_socket_t fd, const struct sockaddr *sa, int salen);
void conn_ref(struct conn *c);
void conn_unref(struct conn *c);

/* Output buffer of an open connection (NULL when closed). */
struct evbuffer *conn_output(struct conn *c);
/* A request finished writing its answer (or was dropped): update pending,
 * apply backpressure / resume reading. */
void conn_request_done(struct conn *c);
/* Write an error and close after it is flushed (request_id 0 for frame errors). */
void conn_fail(struct conn *c, uint64_t request_id, int code, const char *msg, const char *reason);
/* Close now (drops unsent output). */
void conn_close(struct conn *c, const char *reason);
/* Drain: close if idle (no pending, no buffered or unread input). */
void conn_drain(struct conn *c);

#endif
