/*
 * admin_conns.c — the admin port's connection limits. Everything here runs
 * on the admin thread.
 *
 * evhttp owns the admin listener and its connections, and libevent 2.1 has
 * no connection limit and tells nobody when it closes a connection. So
 * featd keeps its own table of the admin connections it admitted (fd plus
 * both socket addresses) and prunes it by asking the kernel
 * (admin_conns_prune: an entry whose fd is closed or now names another
 * socket is gone):
 *
 *   accept ─► admin_conns_bev (evhttp's "bevcb"): a plain socket
 *             bufferevent, noted as fresh
 *          ─► same loop iteration, before any byte is read:
 *             admin_conns_check_cb: admitted into the table, unless the
 *             table holds server.admin_max_connections or the fd is in the
 *             top 1/8 of RLIMIT_NOFILE (the serving port needs those)
 *          ─► refused (admin_conns_refuse): reading stops, so evhttp never
 *             sees a request; "503 Service Unavailable" + Retry-After: 1 is
 *             written to the socket and its write side shut; after
 *             ADMIN_REFUSE_LINGER_MS (admin_conns_linger_cb) the input is
 *             drained, the read side shut and reading re-enabled: evhttp
 *             reads EOF and frees the connection.
 *
 * A plaintext connection admitted is not read by evhttp until its first
 * bytes are in (admin_conns_sniff_cb, peeking, ADMIN_SNIFF_TIMEOUT_MS at
 * most): bytes that do not start an HTTP request (http/http_parse.h
 * http_sniff, the serving port's test) are a protobuf client on the wrong
 * port, answered with one protobuf error frame naming the serving port
 * (libfeatd shows it) and closed like a refusal; anything else goes on to
 * evhttp untouched.
 *
 * With tls.admin the bufferevent is an OpenSSL one in accepting state,
 * made from the registry's server context at accept time (a SIGHUP's new
 * certificate serves the next connection); a refused TLS connection is
 * closed without the plaintext 503 (its client sees the handshake fail).
 *
 * The linger lets a health checker's request arrive and be read before the
 * socket closes: closing with unread input sends a reset, and the client's
 * kernel may then drop the 503 it has not read yet. An idle connection over
 * the cap holds its descriptor for the linger only. Accept errors
 * (EMFILE/ENFILE) pause the listener through the serving listeners'
 * backoff (worker_backoff_*, net/worker.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <openssl/ssl.h>

#include "admin/admin_internal.h"
#include "config/config.h"
#include "config/registry.h"
#include "http/http_parse.h"
#include "wire/proto.h"
#include "core/log.h"
#include "core/util.h"

#define ADMIN_REFUSE_LINGER_MS 100
#define ADMIN_SNIFF_TIMEOUT_MS 10000  /* no byte by then: evhttp takes over (its own timeouts) */

/* An admitted connection, as the kernel names it. */
struct admin_conn {
    evutil_socket_t fd;
    struct sockaddr_storage local, peer;
    socklen_t local_len, peer_len;
};

/* A refused connection during its linger. */
struct admin_refused {
    TAILQ_ENTRY(admin_refused) link;
    struct bufferevent *bev;        /* evhttp's; not freed by evhttp while reading is off */
    struct event *timer;
};
static TAILQ_HEAD(, admin_refused) admin_lingering = TAILQ_HEAD_INITIALIZER(admin_lingering);

static struct admin_conn *admin_table;
static size_t admin_table_cap;
/* Bufferevents created in this loop iteration, checked by admin_conns_check_cb.
 * Each holds a reference of ours (bufferevent_incref) until the check, so
 * one that evhttp frees before it (out of memory setting up the
 * connection) is still valid memory there. */
static struct bufferevent **admin_fresh;
static size_t admin_nfresh, admin_fresh_cap;
static struct event *admin_check_ev;
static int admin_fd_limit;          /* RLIMIT_NOFILE soft limit; 0 = unlimited */

static const char admin_busy_reply[] =
    "HTTP/1.1 503 Service Unavailable\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Length: 27\r\n"
    "Retry-After: 1\r\n"
    "Connection: close\r\n"
    "\r\n"
    "too many admin connections\n";

/* Fills c's addresses from fd; false when fd is not a connected socket. */
static bool admin_conns_name(struct admin_conn *c, evutil_socket_t fd)
{
    memset(c, 0, sizeof(*c));
    c->fd = fd;
    c->local_len = sizeof(c->local);
    c->peer_len = sizeof(c->peer);
    return getsockname(fd, (struct sockaddr *)&c->local, &c->local_len) == 0 &&
           getpeername(fd, (struct sockaddr *)&c->peer, &c->peer_len) == 0;
}

/* Drops the table entries whose connection evhttp has closed. */
static void admin_conns_prune(void)
{
    size_t j = 0;
    for (size_t i = 0; i < admin.conns_open; i++) {
        struct admin_conn now;
        const struct admin_conn *c = &admin_table[i];
        bool same = admin_conns_name(&now, c->fd) && now.local_len == c->local_len &&
                    now.peer_len == c->peer_len && memcmp(&now.local, &c->local, c->local_len) == 0 &&
                    memcmp(&now.peer, &c->peer, c->peer_len) == 0;
        if (same) {
            admin_table[j++] = *c;
        }
    }
    admin.conns_open = j;
}

uint64_t admin_conns_open(void)
{
    admin_conns_prune();
    return admin.conns_open;
}

/* True when fd is among the top 1/8 of the descriptor limit. */
static bool admin_conns_fd_scarce(evutil_socket_t fd)
{
    return admin_fd_limit > 0 && fd >= admin_fd_limit - admin_fd_limit / 8;
}

static void admin_conns_linger_cb(evutil_socket_t fd, short what, void *arg)
{
    struct admin_refused *r = arg;
    (void)fd;
    (void)what;
    evutil_socket_t s = bufferevent_getfd(r->bev);
    char buf[4096];
    while (s >= 0 && recv(s, buf, sizeof(buf), MSG_DONTWAIT) > 0) {
    }
    if (s >= 0) {
        shutdown(s, SHUT_RD);
    }
    bufferevent_enable(r->bev, EV_READ);    /* evhttp reads EOF and frees it */
    TAILQ_REMOVE(&admin_lingering, r, link);
    event_free(r->timer);
    free(r);
}

/* Closes bev's connection after sending it reply[0..len) (see the top of
 * the file). */
static void admin_conns_close_with(struct bufferevent *bev, const void *reply, size_t len)
{
    bufferevent_disable(bev, EV_READ);
    evutil_socket_t fd = bufferevent_getfd(bev);
    if (fd >= 0 && bufferevent_openssl_get_ssl(bev) != NULL) {
        shutdown(fd, SHUT_RDWR);    /* no plaintext into a TLS session */
    } else if (fd >= 0) {
        /* Best effort: the reply fits an empty socket buffer. */
        ssize_t n = send(fd, reply, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)n;
        shutdown(fd, SHUT_WR);
    }
    struct admin_refused *r = calloc(1, sizeof(*r));
    struct timeval tv = { 0, ADMIN_REFUSE_LINGER_MS * 1000 };
    if (r != NULL) {
        r->bev = bev;
        r->timer = evtimer_new(admin.w.base, admin_conns_linger_cb, r);
    }
    if (r != NULL && r->timer != NULL && evtimer_add(r->timer, &tv) == 0) {
        TAILQ_INSERT_TAIL(&admin_lingering, r, link);
    } else {
        if (r != NULL && r->timer != NULL) {
            event_free(r->timer);
        }
        free(r);
        if (fd >= 0) {
            shutdown(fd, SHUT_RD);
        }
        bufferevent_enable(bev, EV_READ);
    }
}

/* Refuses bev's connection with "503 too many admin connections". */
static void admin_conns_refuse(struct bufferevent *bev)
{
    admin.conns_rejected_total++;
    admin_conns_close_with(bev, admin_busy_reply, sizeof(admin_busy_reply) - 1);
}

/* A plaintext connection waiting for its first bytes. */
struct admin_sniff {
    TAILQ_ENTRY(admin_sniff) link;
    struct bufferevent *bev;        /* evhttp's; one reference of ours */
    struct event *ev;               /* EV_READ on its fd, with the timeout */
};
static TAILQ_HEAD(, admin_sniff) admin_sniffing = TAILQ_HEAD_INITIALIZER(admin_sniffing);

static void admin_sniff_free(struct admin_sniff *sn)
{
    TAILQ_REMOVE(&admin_sniffing, sn, link);
    event_free(sn->ev);
    bufferevent_decref(sn->bev);
    free(sn);
}

/* The first bytes are in (or the wait is over): HTTP goes on to evhttp; a
 * protobuf frame (or other binary) gets the hint and is closed. */
static void admin_conns_sniff_cb(evutil_socket_t fd, short what, void *arg)
{
    struct admin_sniff *sn = arg;
    uint8_t b[4];
    ssize_t n = (what & EV_READ) ? recv(fd, b, sizeof b, MSG_PEEK | MSG_DONTWAIT) : 0;
    if (n > 0 && http_sniff(b, (size_t)n) == 0) {
        admin.conns_not_http_total++;
        struct evbuffer *out = evbuffer_new();
        const char *msg = "this is featd's admin (HTTP) port; protobuf clients connect to the "
                          "serving port (server.listen, default 6566)";
        if (out != NULL && proto_write_error(out, 0, FEATD__V1__ERROR_CODE__INVALID_ARGUMENT, msg) == FEATD_OK) {
            size_t len = evbuffer_get_length(out);
            admin_conns_close_with(sn->bev, evbuffer_pullup(out, -1), len);
        } else {
            admin_conns_close_with(sn->bev, "", 0);
        }
        if (out != NULL) {
            evbuffer_free(out);
        }
        log_debug("admin", "a connection sent non-HTTP bytes (a protobuf client on the admin port?): "
                  "answered with an error frame and closed");
    } else {
        bufferevent_enable(sn->bev, EV_READ);     /* HTTP, EOF or silence: evhttp's */
    }
    admin_sniff_free(sn);
}

/* Holds back evhttp's reading of an admitted plaintext connection until its
 * first bytes can be looked at; on any failure evhttp just reads it. */
static void admin_conns_sniff(struct bufferevent *bev, evutil_socket_t fd)
{
    struct admin_sniff *sn = calloc(1, sizeof(*sn));
    struct timeval tv = { ADMIN_SNIFF_TIMEOUT_MS / 1000, (ADMIN_SNIFF_TIMEOUT_MS % 1000) * 1000 };
    if (sn == NULL || (sn->ev = event_new(admin.w.base, fd, EV_READ, admin_conns_sniff_cb, sn)) == NULL ||
        event_add(sn->ev, &tv) != 0) {
        if (sn != NULL && sn->ev != NULL) {
            event_free(sn->ev);
        }
        free(sn);
        return;
    }
    sn->bev = bev;
    bufferevent_incref(bev);
    bufferevent_disable(bev, EV_READ);
    TAILQ_INSERT_TAIL(&admin_sniffing, sn, link);
}

/* Admits c into the table; false when the table is full (cap) or memory
 * is short. */
static bool admin_conns_admit(const struct admin_conn *c)
{
    size_t cap = (size_t)admin.w.reg->cfg->server.admin_max_connections;
    if (admin.conns_open >= cap) {
        admin_conns_prune();
    }
    if (admin.conns_open >= cap || admin.stopping) {
        return false;
    }
    if (admin.conns_open == admin_table_cap) {
        size_t n = admin_table_cap ? admin_table_cap * 2 : 64;
        struct admin_conn *t = realloc(admin_table, n * sizeof(*t));
        if (t == NULL) {
            return false;
        }
        admin_table = t;
        admin_table_cap = n;
    }
    admin_table[admin.conns_open++] = *c;
    return true;
}

static void admin_conns_log_refused(uint64_t refused)
{
    /* At most one line per second, with the count folded in. */
    uint64_t calls_skipped;
    admin.refused_unlogged += refused;
    if (!log_limit_take(&admin.refused_log, 1, util_mono_us(), &calls_skipped)) {
        return;
    }
    log_warn("admin", "refused %" PRIu64 " admin connection(s) with 503: over "
             "server.admin_max_connections=%d (%" PRIu64 " open) or near the open-file limit (%d)",
             admin.refused_unlogged, admin.w.reg->cfg->server.admin_max_connections, admin.conns_open,
             admin_fd_limit);
    admin.refused_unlogged = 0;
}

/* Runs in the loop iteration of the accepts, before any of their bytes are
 * read: admits or refuses each new connection. */
static void admin_conns_check_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    uint64_t refused = 0;
    for (size_t i = 0; i < admin_nfresh; i++) {
        struct bufferevent *bev = admin_fresh[i];
        struct admin_conn c;
        evutil_socket_t s = bufferevent_getfd(bev);
        if (s < 0 || !admin_conns_name(&c, s) || admin_conns_fd_scarce(s) || !admin_conns_admit(&c)) {
            admin_conns_refuse(bev);
            refused++;
        } else if (bufferevent_openssl_get_ssl(bev) == NULL) {
            admin_conns_sniff(bev, s);
        }
        bufferevent_decref(bev);
    }
    admin_nfresh = 0;
    if (refused > 0) {
        admin_conns_log_refused(refused);
    }
}

/* A plain socket bufferevent, or with tls.admin an OpenSSL one that
 * accepts the handshake once evhttp gives it its fd; NULL when out of
 * memory. */
static struct bufferevent *admin_conns_new_bev(struct event_base *base)
{
    const struct registry *reg = admin.w.reg;
    if (reg == NULL || reg->tls == NULL || !reg->cfg->tls.admin) {
        return bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    }
    SSL *ssl = SSL_new(reg->tls);
    if (ssl == NULL) {
        return NULL;
    }
    struct bufferevent *bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                                             BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL) {
        SSL_free(ssl);
        return NULL;
    }
    /* clients that close without close_notify are the norm for HTTP */
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    return bev;
}

/* evhttp's bevcb: the bufferevent of a new incoming connection (evhttp
 * sets its fd and enables reading after this returns). */
static struct bufferevent *admin_conns_bev(struct event_base *base, void *arg)
{
    (void)arg;
    struct bufferevent *bev = admin_conns_new_bev(base);
    if (bev == NULL) {
        return NULL;        /* evhttp tries once more itself, or drops the connection */
    }
    if (admin_nfresh == admin_fresh_cap) {
        size_t n = admin_fresh_cap ? admin_fresh_cap * 2 : 64;
        struct bufferevent **t = realloc(admin_fresh, n * sizeof(*t));
        if (t == NULL) {
            return bev;     /* out of memory: served, not counted */
        }
        admin_fresh = t;
        admin_fresh_cap = n;
    }
    bufferevent_incref(bev);
    admin_fresh[admin_nfresh++] = bev;
    event_active(admin_check_ev, EV_TIMEOUT, 0);
    return bev;
}

static void admin_conns_accept_error_cb(struct evconnlistener *l, void *arg)
{
    (void)l;
    (void)arg;
    worker_backoff_error(&admin.backoff);
}

int admin_conns_init(char *err, size_t errlen)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur <= INT32_MAX) {
        admin_fd_limit = (int)rl.rlim_cur;
    }
    admin_check_ev = event_new(admin.w.base, -1, 0, admin_conns_check_cb, NULL);
    if (admin_check_ev == NULL || event_priority_set(admin_check_ev, 0) != 0) {
        snprintf(err, errlen, "admin: cannot create the connection check event");
        return FEATD_ERR;
    }
    evhttp_set_bevcb(admin.http, admin_conns_bev, NULL);
    return FEATD_OK;
}

int admin_conns_listen(char *err, size_t errlen)
{
    struct evconnlistener *l = evhttp_bound_socket_get_listener(admin.bound);
    if (l == NULL || worker_backoff_init(&admin.backoff, admin.w.base, l, "admin") != FEATD_OK) {
        snprintf(err, errlen, "admin: cannot create the accept backoff timer");
        return FEATD_ERR;
    }
    evconnlistener_set_error_cb(l, admin_conns_accept_error_cb);
    return FEATD_OK;
}

void admin_conns_unlisten(void)
{
    worker_backoff_detach(&admin.backoff);
}

void admin_conns_free(void)
{
    worker_backoff_free(&admin.backoff);
    if (admin_check_ev) {
        event_free(admin_check_ev);
        admin_check_ev = NULL;
    }
    while (!TAILQ_EMPTY(&admin_sniffing)) {
        admin_sniff_free(TAILQ_FIRST(&admin_sniffing));
    }
    /* evhttp_free has freed the lingering connections' bufferevents */
    while (!TAILQ_EMPTY(&admin_lingering)) {
        struct admin_refused *r = TAILQ_FIRST(&admin_lingering);
        TAILQ_REMOVE(&admin_lingering, r, link);
        event_free(r->timer);
        free(r);
    }
    for (size_t i = 0; i < admin_nfresh; i++) {
        bufferevent_decref(admin_fresh[i]);     /* accepted, never checked: ours is the last ref */
    }
    free(admin_fresh);
    admin_fresh = NULL;
    admin_nfresh = admin_fresh_cap = 0;
    free(admin_table);
    admin_table = NULL;
    admin_table_cap = 0;
    admin.conns_open = 0;
}
