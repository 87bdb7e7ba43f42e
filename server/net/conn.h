/*
 * conn.h — a client connection on an event loop: socket events, input/output
 * buffers, the framing loop, backpressure and deferred close. It hands whole
 * frames to the handler it was created with and never looks inside them
 * (pgbouncer's sbuf and its protocol callback): what a frame means, and how
 * an error is encoded, is the handler's business.
 *
 * Requests hold a reference (conn_ref) so a connection closed while Redis
 * still owes an answer is freed only after the answer.
 *
 * Output is not written where it is produced: answers are appended to the
 * connection's output buffer and the connection joins its loop's flush
 * list; one low-priority event per loop writes every listed connection
 * once per loop iteration (Redis' "write before sleeping"), so a busy loop
 * makes one write(2) per connection per iteration and no epoll_ctl unless a
 * socket is actually full.
 *
 * Request phases: each read is a recvmsg(2) asking for the kernel's receive
 * timestamp (SO_TIMESTAMPNS), turned into a monotonic time (c->rx_us) that
 * every frame completed by that read carries into its request (queued
 * phase); without one, the time of the read stands in (and
 * rx_timestamps_missing_total counts it). An answer comes back with its
 * timeline (conn_request_answered); the flush pass that hands it to
 * write(2) observes the phase histograms (core/metrics.h), counts answers
 * that found the socket full, and logs requests at or above
 * loop->slow_us, at most CONN_SLOW_LOGS_PER_SEC lines a second per loop
 * (the next line says how many were left out).
 *
 * Protocols: a connection whose first byte is an uppercase letter (an
 * HTTP method; a frame's length prefix starts with a byte of at most 0x40,
 * since max_frame_bytes is at most 1 GiB) switches to http_conn_handler
 * (http/http_conn.h) with the same handler argument; any other serves
 * length-prefixed frames with the handler it was created with. TLS
 * connections are sniffed on their decrypted bytes.
 *
 * Everything here runs on the thread that owns the conn_loop; nothing takes
 * a lock except the nconns counter, which other threads read.
 */
#ifndef FEATD_CONN_H
#define FEATD_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include "core/featd.h"
#include "core/log.h"
#include "core/metrics.h"

#define CONN_FRAMES_PER_EVENT 64    /* then yield to other connections */
#define CONN_MAX_PENDING 4096       /* requests in flight per connection; reading pauses above */
#define CONN_READ_CHUNK 16384       /* bytes asked of each recvmsg(2) */
#define CONN_SLOW_LOGS_PER_SEC 10   /* slow-request log lines per second per loop */
#define CONN_ANSWER_BASE 1024       /* expected bytes of any answer, besides its cells */
#define CONN_CELL_EST_INIT 16       /* expected bytes per cell before a connection's first answer */
#define CONN_MEMORY_SHARE_MIN (1u << 20)    /* no connection is closed for holding less */

struct conn;
struct cfg_token;

/* The serving protocol's authentication of a connection (DESIGN §14),
 * kept and read only by serve/serve_auth.c on the loop's thread; zero =
 * not authenticated. Nothing here needs freeing. */
struct conn_auth {
    const struct cfg_token *token;  /* in the serve context's current registry (re-resolved
                                       at every swap); NULL = not authenticated */
    char name[136];                 /* the token's name (principal) for the re-check */
    uint8_t sha256[32];             /*   and its hash: both must still match after a reload */
    uint16_t failed_auths;          /* AuthRequests refused on this connection */
    uint16_t unauthenticated;       /* other requests refused before authentication */
};

/* The protocol a connection serves (twemproxy's typed handler pointers). */
struct conn_handler {
    /* One whole frame: payload data[0..len), valid until the call returns.
     * The connection has counted it as pending: the handler calls
     * conn_request_done(c) exactly once for it, now or later (holding a
     * conn_ref meanwhile). It may close c or end it with
     * conn_close_after_flush. */
    void (*frame)(void *arg, struct conn *c, const uint8_t *data, size_t len);
    /* Encodes into out the answer to a refusal the transport decided (a
     * frame over max_frame_bytes, a connection over max_connections or
     * during shutdown): not tied to any request. FEATD_ERR when out cannot
     * grow. */
    int (*refuse)(struct evbuffer *out, const char *msg);
    /* Optional (NULL: length-prefixed frames, wire/frame.h): a protocol
     * with its own framing (HTTP/1.1, http/http_conn.c), called instead of
     * the frame parser while c->in holds bytes. It takes at most one
     * request from the front of c->in (draining its bytes and counting it
     * with conn_request_begin) and returns CONN_NEXT_TOOK, CONN_NEXT_MORE
     * when the request is incomplete, or CONN_NEXT_STOP when c is closed or
     * closing. The per-event cap, output bounds and frame timeout apply as
     * to frames. */
    int (*next)(void *arg, struct conn *c);
    /* Optional: frees c->proto, the protocol's per-connection state, at
     * c's last reference (c is closed). */
    void (*release)(struct conn *c);
};

enum {
    CONN_NEXT_TOOK = 0,
    CONN_NEXT_MORE,
    CONN_NEXT_STOP
};

/* The connections of one event loop (embedded in struct worker). */
struct conn_loop {
    struct event_base *base;        /* the owning thread's loop */
    struct metrics *metrics;        /* the owning thread's counters */
    /* A second protocol told apart by a connection's first byte (HTTP/1.1
     * on the serving port): alt_sniff(first bytes) is 1 when they are its;
     * the connection then uses alt instead of the handler it was made
     * with. Set by the owner before connections come; NULL = none. */
    const struct conn_handler *alt;
    int (*alt_sniff)(const uint8_t *p, size_t n);
    uint32_t max_frame_bytes;       /* limits of the current registry; the owner */
    size_t max_output_bytes;        /*   sets them on every registry swap */
    size_t max_client_memory;       /* process-wide budget (server.max_client_memory_bytes) */
    int64_t idle_timeout_us;        /* close connections idle this long (0 = never) */
    int64_t frame_timeout_us;       /* a started frame must complete within it (0 = no limit) */
    struct event *sweep_ev;         /* conn_sweep: the timeouts' periodic check */
    struct ssl_ctx_st *tls;         /* SSL_CTX of new connections (net/tls.h); NULL = plaintext.
                                       The registry owns it; set by the owner on every swap */
    uint64_t id_base;               /* high bits of every conn id (worker id << 48) */
    uint64_t next_conn_id;
    TAILQ_HEAD(, conn) conns;       /* open connections */
    TAILQ_HEAD(, conn) flush;       /* connections with output to write this iteration */
    struct event *flush_ev;         /* low priority: runs after the iteration's I/O */
    _Atomic uint64_t nconns;        /* written by the owner; read by accepting peers */
    uint64_t slow_us;               /* slow-request threshold (0 = off); set by the owner */
    struct conn_trace *traces;      /* answers not yet written (each holds a conn_ref) */
    size_t ntraces, traces_cap;
    struct log_limit slow_log;      /* CONN_SLOW_LOGS_PER_SEC slow-request lines a second */
    struct log_limit memory_log;    /* one client-memory-budget line a second */
    bool draining;                  /* closing idle connections for shutdown */
    void (*on_close)(void *arg);    /* called after each close while draining */
    void *on_close_arg;
};

struct conn {
    uint64_t id;
    char peer[64];
    struct conn_loop *loop;
    const struct conn_handler *h;
    void *harg;                     /* h's argument */
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
    bool read_paused;               /* expected output over max_output_bytes / 2, or too many pending */
    bool in_flush;                  /* on the loop's flush list */
    bool yielded;                   /* frames left in `in` after the per-event cap */
    bool rx_tstamp;                 /* SO_TIMESTAMPNS is on */
    bool traced;                    /* has answers in loop->traces */
    bool write_full;                /* the flush pass found the socket full */
    int64_t rx_us;                  /* receive time of the last read (monotonic µs) */
    int64_t written_us;             /* when this flush pass wrote c (0: not yet) */
    uint64_t pending_cells;         /* entities x features of the pending lookups */
    size_t cell_est;                /* expected answer bytes per cell: jumps up to a
                                       bigger answer's, decays towards smaller ones */
    size_t out_mark;                /* output length after the last answer or write */
    int64_t held;                   /* bytes counted in metrics_client_memory_bytes */
    int64_t active_us;              /* last byte read or written (monotonic µs) */
    int64_t frame_since_us;         /* when the incomplete frame in `in` began (0: none) */
    struct ssl_st *ssl;             /* TLS (net/tls.h), NULL = plaintext */
    bool tls_handshaking;           /* ssl's handshake not finished */
    bool tls_want_write;            /* ssl's last call waits for the socket to be writable */
    char principal[128];            /* mTLS: the client certificate's subject CN */
    struct conn_auth auth;          /* token authentication (serve/serve_auth.c) */
    char tls_error[256];            /* why TLS failed (close reason) */
    const char *close_reason;
    bool sniffed;                   /* the first bytes chose the protocol (HTTP or frames) */
    void *proto;                    /* the protocol's per-connection state (h->release frees it) */
    TAILQ_ENTRY(conn) link;         /* in loop->conns while open */
    TAILQ_ENTRY(conn) flush_link;   /* in loop->flush while in_flush */
};

/* Sets up l on base; output flushes run at flush_priority (the lowest).
 * Fails at startup only. */
int conn_loop_init(struct conn_loop *l, struct event_base *base, struct metrics *m,
                   int flush_priority) FEATD_MUSTCHECK;
/*
 * TLS (net/conn_tls.c; a loop with l->tls set): conn_tls_start gives a new
 * connection an SSL in accept state (FEATD_ERR when OpenSSL cannot); the
 * handshake happens inside the first reads and counts as a started frame
 * for server.frame_timeout_ms. conn_tls_read is like recv(2): > 0 bytes,
 * 0 when the peer closed, -1 with errno EAGAIN (c->tls_want_write says
 * which event OpenSSL waits for) or EPROTO (c->tls_error says why).
 * conn_tls_write is like send(2) (-1 with EAGAIN, EPROTO or EPIPE).
 */
int conn_tls_start(struct conn *c, struct ssl_ctx_st *ctx) FEATD_MUSTCHECK;
void conn_tls_free(struct conn *c);
ssize_t conn_tls_read(struct conn *c, void *buf, size_t len);
ssize_t conn_tls_write(struct conn *c, const void *buf, size_t len);

/* Starts l's timeout sweep (net/conn_sweep.c): every CONN_SWEEP_MS it
 * closes connections idle past idle_timeout_us and those whose started frame
 * is older than frame_timeout_us (both counted). FEATD_ERR at startup only. */
#define CONN_SWEEP_MS 100
int conn_sweep_start(struct conn_loop *l) FEATD_MUSTCHECK;

/* Closes every connection of l now (dropping unsent output). */
void conn_loop_close_all(struct conn_loop *l, const char *reason);
/* Starts or continues a drain: marks l draining and closes each idle
 * connection (no pending request, no buffered or unread input); the
 * others close once idle. */
void conn_loop_drain(struct conn_loop *l);
/* Closes all connections and frees l's own resources (after the loop ran). */
void conn_loop_free(struct conn_loop *l);

/* Adopts an accepted non-blocking socket: frames go to h->frame(harg, ...).
 * On failure the socket is closed and metrics_connections_open decremented. */
void conn_new(struct conn_loop *l, evutil_socket_t fd, const struct sockaddr *sa, int salen,
              const struct conn_handler *h, void *harg);
/* Best effort, for a socket that will not become a connection: writes
 * h->refuse's answer without blocking, then closes fd. */
void conn_refuse(const struct conn_handler *h, evutil_socket_t fd, const char *msg);

/* Reference counting, on c's loop thread only. conn_new holds the first
 * reference and conn_close drops it; every request that may answer later
 * takes one (conn_ref) and drops it when done (conn_unref). The last
 * conn_unref frees the struct, so a request may still look at a closed c
 * (conn_live is false, conn_output NULL) but must not touch it after its
 * own conn_unref. */
void conn_ref(struct conn *c);
void conn_unref(struct conn *c);

/* Output buffer of an open connection (NULL when closed). Whoever appends an
 * answer to it must then call conn_request_done. */
struct evbuffer *conn_output(struct conn *c);
/*
 * Output bounds (server.max_output_bytes = M). Reading pauses while the
 * unread output plus the expected answers of pending requests (pending x
 * CONN_ANSWER_BASE + their cells x cell_est) pass M/2, and resumes below M/4. The next answer may take
 * conn_output_room bytes: M minus the unread output, or anything (up to the
 * response limit) when the output is empty; an answer that does not fit is
 * replaced by a RESOURCE_EXHAUSTED error (serve/request.c), so the unread
 * output of a client that does not read stays under M plus small errors.
 */
size_t conn_output_room(const struct conn *c);
/* The frame being handled (or a pending request of c) is a lookup of
 * entities x features cells: counted in c's expected output until its
 * answer comes through conn_request_answered, whose trace must carry the
 * same entities and features. */
void conn_request_cells(struct conn *c, uint32_t entities, uint32_t features);
/* A handler with its own framing (conn_handler.next) took a request:
 * counted as pending until its conn_request_done / conn_request_answered. */
void conn_request_begin(struct conn *c);
/* True while c takes requests (open, not closing). */
bool conn_live(const struct conn *c);
/* A request finished (its answer, if any, is in the output buffer): update
 * pending, schedule the flush, apply backpressure. */
void conn_request_done(struct conn *c);
/* conn_request_done for an answer whose phases are to be measured: t (copied)
 * is its timeline up to the answer; the flush pass that writes it observes
 * the phases (not when c is closed). */
void conn_request_answered(struct conn *c, const struct metrics_req_trace *t);
/* Receive time (monotonic µs) of the read that completed the frame being
 * handed to the handler: the start of its queued phase. */
static inline int64_t conn_rx_us(const struct conn *c)
{
    return c->rx_us;
}
/* Stops reading; closes c once every request is answered and the output
 * (e.g. an error the handler just appended) is flushed. */
void conn_close_after_flush(struct conn *c, const char *reason);
/* Close now (drops unsent output). */
void conn_close(struct conn *c, const char *reason);

#endif
