/*
 * featd_client.c — libfeatd's transport: connect, framing, blocking and
 * pipelined I/O with per-call timeouts, errors, and the typed calls (ping,
 * list views, server info, lookup, write). The API is featd_client.h; request
 * building is featd_get.c and featd_write.c, reading responses featd_resp.c, printing values
 * featd_value.c, timestamps featd_time.c.
 *
 * The socket is non-blocking for its whole life; every blocking call runs a
 * poll() loop against one deadline. Output and input each have a buffer:
 *
 *   featd_queue ──► out[] ──► pump() ──► socket ──► pump() ──► in[] ──► featd_recv
 *
 * pump() writes queued output and, at the same time, reads whatever the
 * server sends (bounded by IN_SOFT_CAP), so a client that pipelines more
 * requests than the socket buffers hold cannot deadlock with a server that
 * stops reading until its answers drain. Only libc and protobuf-c are used.
 */
#include "featd_client.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>


#define READ_CHUNK (64u * 1024u)
#define IN_SOFT_CAP (256u * 1024u * 1024u)  /* unread input kept while writing */

struct featd_client {
    int fd;
    SSL_CTX *tls_ctx;           /* featd_connect_tls: this connection's own context */
    SSL *ssl;                   /* NULL = plaintext */
    int timeout_ms;             /* per blocking call; 0 = none */
    uint32_t max_frame;         /* largest response frame accepted */
    uint64_t next_id;
    char peer[300];             /* "host:port" for messages */

    uint8_t *out;               /* queued output: out[out_off .. out_len) */
    size_t out_off, out_len, out_cap;
    uint8_t *in;                /* received input: in[in_off .. in_len) */
    size_t in_off, in_len, in_cap;

    bool eof;                   /* the server closed its side */
    int read_errno;             /* a read failed (0 = no) */
    bool rdead;                 /* reading side unusable (EOF, error, bad frame) */
    bool wdead;                 /* writing side unusable (write error) */
    enum featd_error rdead_code, wdead_code;
    char rdead_msg[512];        /* why, repeated by every later call */
    char wdead_msg[512];

    enum featd_error errcode;
    int server_code;            /* ErrorCode after FEATD_E_SERVER, else -1 */
    char errmsg[512];
    char principal[256];        /* featd_auth's last answer */
};

/* ---- errors ---- */

static void seterr(struct featd_client *c, enum featd_error code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void seterr(struct featd_client *c, enum featd_error code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->errmsg, sizeof c->errmsg, fmt, ap);
    va_end(ap);
    c->errcode = code;
    c->server_code = -1;
}

static void clear_err(struct featd_client *c)
{
    c->errmsg[0] = '\0';
    c->errcode = FEATD_E_NONE;
    c->server_code = -1;
}

/* Marks a side of the connection dead and keeps the reason for later calls. */
static void kill_read(struct featd_client *c)
{
    c->rdead = true;
    c->rdead_code = c->errcode;
    snprintf(c->rdead_msg, sizeof c->rdead_msg, "%s", c->errmsg);
}

static void kill_write(struct featd_client *c)
{
    c->wdead = true;
    c->wdead_code = c->errcode;
    snprintf(c->wdead_msg, sizeof c->wdead_msg, "%s", c->errmsg);
    c->out_off = c->out_len = 0;    /* undeliverable */
}

static int fail_dead(struct featd_client *c, bool reading)
{
    if (reading || !c->wdead) {
        seterr(c, c->rdead_code, "%s", c->rdead_msg);
    } else {
        seterr(c, c->wdead_code, "%s", c->wdead_msg);
    }
    return FEATD_ERR;
}

/* ---- time ---- */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* -1 = no deadline. */
static int64_t deadline_of(const struct featd_client *c)
{
    return c->timeout_ms > 0 ? mono_ms() + c->timeout_ms : -1;
}

/* poll() timeout left until deadline: -1 = infinite, 0 = expired. */
static int remaining_ms(int64_t deadline)
{
    if (deadline < 0) {
        return -1;
    }
    int64_t r = deadline - mono_ms();
    if (r <= 0) {
        return 0;
    }
    return r > INT32_MAX ? INT32_MAX : (int)r;
}

/* ---- connection ---- */

struct featd_client *featd_connect(const char *host, int port, int timeout_ms,
                                   char *err, size_t errlen)
{
    char dummy[8];
    if (err == NULL || errlen == 0) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = '\0';
    if (host == NULL || host[0] == '\0') {
        host = "127.0.0.1";
    }
    if (port < 1 || port > 65535) {
        snprintf(err, errlen, "connect to %s: invalid port %d (expected 1..65535)", host, port);
        return NULL;
    }
    if (timeout_ms < 0) {
        timeout_ms = 0;
    }
    char peer[300];
    if (strchr(host, ':') != NULL) {
        snprintf(peer, sizeof peer, "[%.255s]:%d", host, port);
    } else {
        snprintf(peer, sizeof peer, "%.255s:%d", host, port);
    }

    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    struct addrinfo *res = NULL;
    int gerr = getaddrinfo(host, portstr, &hints, &res);
    if (gerr != 0) {
        snprintf(err, errlen, "connect to %s: cannot resolve host: %s", peer,
                 gai_strerror(gerr));
        return NULL;
    }

    int64_t deadline = timeout_ms > 0 ? mono_ms() + timeout_ms : -1;
    int fd = -1;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            snprintf(err, errlen, "connect to %s: socket: %s", peer, strerror(errno));
            continue;
        }
        int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
        if (rc != 0 && errno == EINPROGRESS) {
            struct pollfd pfd = { .fd = fd, .events = POLLOUT };
            for (;;) {
                int tmo = remaining_ms(deadline);
                rc = tmo == 0 ? 0 : poll(&pfd, 1, tmo);
                if (rc < 0 && errno == EINTR) {
                    continue;
                }
                break;
            }
            if (rc == 0) {
                snprintf(err, errlen, "timeout after %d ms connecting to %s", timeout_ms, peer);
                close(fd);
                fd = -1;
                break;      /* the time is spent: do not try more addresses */
            }
            if (rc < 0) {
                snprintf(err, errlen, "connect to %s: poll: %s", peer, strerror(errno));
                close(fd);
                fd = -1;
                continue;
            }
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0) {
                soerr = errno;
            }
            rc = soerr == 0 ? 0 : -1;
            errno = soerr;
        }
        if (rc != 0) {
            snprintf(err, errlen, "connect to %s: %s", peer, strerror(errno));
            close(fd);
            fd = -1;
            continue;
        }
        break;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        if (err[0] == '\0') {
            snprintf(err, errlen, "connect to %s: no usable address", peer);
        }
        return NULL;
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

    struct featd_client *c = calloc(1, sizeof *c);
    if (c == NULL) {
        close(fd);
        snprintf(err, errlen, "connect to %s: out of memory", peer);
        return NULL;
    }
    c->fd = fd;
    c->timeout_ms = timeout_ms;
    c->max_frame = FEATD_DEFAULT_MAX_FRAME;
    c->next_id = 1;
    c->server_code = -1;
    memcpy(c->peer, peer, sizeof peer);
    return c;
}

void featd_close(struct featd_client *c)
{
    if (c == NULL) {
        return;
    }
    if (c->ssl != NULL) {
        SSL_free(c->ssl);
    }
    SSL_CTX_free(c->tls_ctx);
    if (c->fd >= 0) {
        close(c->fd);
    }
    free(c->out);
    free(c->in);
    free(c);
}

/* OpenSSL's queued reason (or errno's) for a failed TLS step. */
static void tls_reason(char *buf, size_t cap)
{
    unsigned long e = ERR_get_error();
    if (e != 0) {
        ERR_error_string_n(e, buf, cap);
    } else {
        snprintf(buf, cap, "%s", errno ? strerror(errno) : "connection closed by server");
    }
    ERR_clear_error();
}

struct featd_client *featd_connect_tls(const char *host, int port, int timeout_ms,
                                       const struct featd_tls *tls, char *err, size_t errlen)
{
    char dummy[8];
    if (err == NULL || errlen == 0) {
        err = dummy;
        errlen = sizeof dummy;
    }
    int64_t deadline = timeout_ms > 0 ? mono_ms() + timeout_ms : -1;
    struct featd_client *c = featd_connect(host, port, timeout_ms, err, errlen);
    if (c == NULL || tls == NULL) {
        return c;
    }
    char why[256] = "";
    const char *name = tls->server_name ? tls->server_name : (host && host[0] ? host : "127.0.0.1");
    c->tls_ctx = SSL_CTX_new(TLS_client_method());
    if (c->tls_ctx == NULL) {
        tls_reason(why, sizeof why);
        goto fail;
    }
    SSL_CTX_set_min_proto_version(c->tls_ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(c->tls_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (!tls->insecure) {
        SSL_CTX_set_verify(c->tls_ctx, SSL_VERIFY_PEER, NULL);
        if ((tls->ca_file ? SSL_CTX_load_verify_locations(c->tls_ctx, tls->ca_file, NULL)
                          : SSL_CTX_set_default_verify_paths(c->tls_ctx)) != 1) {
            tls_reason(why, sizeof why);
            snprintf(err, errlen, "TLS CA %s: %s", tls->ca_file ? tls->ca_file : "(system)", why);
            featd_close(c);
            return NULL;
        }
    }
    if (tls->cert_file != NULL &&
        (SSL_CTX_use_certificate_chain_file(c->tls_ctx, tls->cert_file) != 1 ||
         SSL_CTX_use_PrivateKey_file(c->tls_ctx, tls->key_file ? tls->key_file : tls->cert_file,
                                     SSL_FILETYPE_PEM) != 1)) {
        tls_reason(why, sizeof why);
        snprintf(err, errlen, "TLS client certificate %s: %s", tls->cert_file, why);
        featd_close(c);
        return NULL;
    }
    c->ssl = SSL_new(c->tls_ctx);
    if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
        tls_reason(why, sizeof why);
        goto fail;
    }
    SSL_set_tlsext_host_name(c->ssl, name);
    if (!tls->insecure) {
        SSL_set1_host(c->ssl, name);
    }
    for (;;) {
        ERR_clear_error();
        errno = 0;
        int r = SSL_connect(c->ssl);
        if (r == 1) {
            return c;
        }
        int e = SSL_get_error(c->ssl, r);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            long v = SSL_get_verify_result(c->ssl);
            tls_reason(why, sizeof why);
            if (v != X509_V_OK) {
                size_t l = strlen(why);
                snprintf(why + l, sizeof why - l, " (%s)", X509_verify_cert_error_string(v));
            }
            goto fail;
        }
        struct pollfd pfd = { .fd = c->fd, .events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT };
        int tmo = remaining_ms(deadline);
        int rc = tmo == 0 ? 0 : poll(&pfd, 1, tmo);
        if (rc == 0) {
            snprintf(why, sizeof why, "no answer within %d ms", timeout_ms);
            goto fail;
        }
        if (rc < 0 && errno != EINTR) {
            snprintf(why, sizeof why, "poll: %s", strerror(errno));
            goto fail;
        }
    }
fail:
    snprintf(err, errlen, "TLS handshake with %s: %s", c->peer, why);
    featd_close(c);
    return NULL;
}

void featd_set_timeout(struct featd_client *c, int timeout_ms)
{
    c->timeout_ms = timeout_ms < 0 ? 0 : timeout_ms;
}

int featd_get_timeout(const struct featd_client *c)
{
    return c->timeout_ms;
}

void featd_set_max_frame(struct featd_client *c, uint32_t bytes)
{
    c->max_frame = bytes;
}

int featd_fd(const struct featd_client *c)
{
    return c->fd;
}

const char *featd_peer(const struct featd_client *c)
{
    return c->peer;
}

uint64_t featd_next_id(struct featd_client *c)
{
    return c->next_id++;
}

const char *featd_errmsg(const struct featd_client *c)
{
    if (c == NULL) {
        return "no connection";
    }
    return c->errmsg;
}

enum featd_error featd_errcode(const struct featd_client *c)
{
    return c->errcode;
}

int featd_server_code(const struct featd_client *c)
{
    return c->errcode == FEATD_E_SERVER ? c->server_code : -1;
}

bool featd_broken(const struct featd_client *c)
{
    return c->rdead || c->wdead;
}

size_t featd_pending(const struct featd_client *c)
{
    return c->out_len - c->out_off;
}

/* ---- buffers and the I/O pump ---- */

/* Grows *buf (capacity *cap) to at least need bytes, doubling from init
 * when empty. need must be at most SIZE_MAX / 2. FEATD_ERR (buffer
 * unchanged) when memory runs out. */
static int grow_buf(uint8_t **buf, size_t *cap, size_t need, size_t init)
{
    if (*cap >= need) {
        return FEATD_OK;
    }
    size_t ncap = *cap ? *cap : init;
    while (ncap < need) {
        ncap *= 2;
    }
    uint8_t *p = realloc(*buf, ncap);
    if (p == NULL) {
        return FEATD_ERR;
    }
    *buf = p;
    *cap = ncap;
    return FEATD_OK;
}

/* Room for extra more bytes at out[out_len]. */
static int out_reserve(struct featd_client *c, size_t extra)
{
    if (c->out_off == c->out_len) {
        c->out_off = c->out_len = 0;
    }
    if (c->out_cap - c->out_len >= extra) {
        return FEATD_OK;
    }
    if (c->out_off > 0) {
        memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
        c->out_len -= c->out_off;
        c->out_off = 0;
        if (c->out_cap - c->out_len >= extra) {
            return FEATD_OK;
        }
    }
    if (extra > SIZE_MAX / 2 - c->out_len) {
        seterr(c, FEATD_E_NOMEM, "output of %zu bytes is too large", extra);
        return FEATD_ERR;
    }
    if (grow_buf(&c->out, &c->out_cap, c->out_len + extra, 4096) != FEATD_OK) {
        seterr(c, FEATD_E_NOMEM, "out of memory queueing %zu bytes", extra);
        return FEATD_ERR;
    }
    return FEATD_OK;
}

/* Reads what the socket has (until EAGAIN, EOF, error, or IN_SOFT_CAP unread
 * bytes when at least want unread bytes fit). EOF and errors are recorded in
 * c->eof / c->read_errno. FEATD_ERR only when memory runs out. */
static int read_some(struct featd_client *c, size_t want)
{
    for (;;) {
        size_t unread = c->in_len - c->in_off;
        if (unread >= IN_SOFT_CAP && unread >= want) {
            return FEATD_OK;
        }
        if (c->in_off > 0 && (unread == 0 || c->in_cap - c->in_len < READ_CHUNK
                              || c->in_cap - c->in_off < want)) {
            memmove(c->in, c->in + c->in_off, unread);
            c->in_len = unread;
            c->in_off = 0;
        }
        size_t target = c->in_len + READ_CHUNK;
        if (target < c->in_off + want) {
            target = c->in_off + want;
        }
        if (grow_buf(&c->in, &c->in_cap, target, 2 * READ_CHUNK) != FEATD_OK) {
            seterr(c, FEATD_E_NOMEM, "out of memory reading a response of %zu bytes", want);
            return FEATD_ERR;
        }
        ssize_t n;
        if (c->ssl != NULL) {
            ERR_clear_error();
            errno = 0;
            int r = SSL_read(c->ssl, c->in + c->in_len, (int)(c->in_cap - c->in_len > INT32_MAX
                                                              ? INT32_MAX : c->in_cap - c->in_len));
            int e = r > 0 ? SSL_ERROR_NONE : SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                return FEATD_OK;
            }
            if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 &&
                                               errno == 0)) {
                r = 0;
            } else if (r <= 0) {
                c->read_errno = errno && e == SSL_ERROR_SYSCALL ? errno : EPROTO;
                ERR_clear_error();
                return FEATD_OK;
            }
            n = r;
        } else {
            n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        }
        if (n > 0) {
            c->in_len += (size_t)n;
            continue;
        }
        if (n == 0) {
            c->eof = true;
            return FEATD_OK;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            c->read_errno = errno;
        }
        return FEATD_OK;
    }
}

/* Writes queued output until EAGAIN. FEATD_ERR (and the write side dead) on
 * a socket error. */
static int write_some(struct featd_client *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n;
        if (c->ssl != NULL) {
            ERR_clear_error();
            size_t len = c->out_len - c->out_off;
            int r = SSL_write(c->ssl, c->out + c->out_off, len > INT32_MAX ? INT32_MAX : (int)len);
            int e = r > 0 ? SSL_ERROR_NONE : SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                return FEATD_OK;
            }
            if (r <= 0 && !(e == SSL_ERROR_SYSCALL && errno != 0)) {
                errno = EPIPE;
                ERR_clear_error();
            }
            n = r > 0 ? r : -1;
        } else {
            n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        }
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return FEATD_OK;
        }
        int e = n < 0 ? errno : EPIPE;
        if (e == EPIPE || e == ECONNRESET) {
            seterr(c, FEATD_E_CLOSED, "connection closed by server (writing request: %s)",
                   strerror(e));
        } else {
            seterr(c, FEATD_E_IO, "error writing request to %s: %s", c->peer, strerror(e));
        }
        kill_write(c);
        return FEATD_ERR;
    }
    c->out_off = c->out_len = 0;
    return FEATD_OK;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* 1 = a whole frame is buffered, 0 = not yet, -1 = the header announces a
 * frame over max_frame (reading side now dead). */
static int frame_ready(struct featd_client *c, size_t *need)
{
    size_t unread = c->in_len - c->in_off;
    *need = 4;
    if (unread < 4) {
        return 0;
    }
    uint32_t len = be32(c->in + c->in_off);
    if (len > c->max_frame) {
        seterr(c, FEATD_E_PROTOCOL, "response frame of %u bytes exceeds limit of %u bytes",
               len, c->max_frame);
        kill_read(c);
        return -1;
    }
    *need = 4 + (size_t)len;
    return unread >= *need ? 1 : 0;
}

/*
 * The I/O loop. want_frame: until one whole response frame is buffered
 * (writing queued output meanwhile; a failed write does not stop it, the
 * server may still have answered). Otherwise: until the output is written
 * (reading meanwhile). Returns FEATD_OK or FEATD_ERR with the error set.
 */
static int pump(struct featd_client *c, bool want_frame, int64_t deadline)
{
    for (;;) {
        size_t need = 4;
        if (want_frame) {
            int r = frame_ready(c, &need);
            if (r > 0) {
                return FEATD_OK;
            }
            if (r < 0) {
                return FEATD_ERR;
            }
            size_t unread = c->in_len - c->in_off;
            if (c->read_errno != 0) {
                if (c->read_errno == ECONNRESET) {
                    seterr(c, FEATD_E_CLOSED, "connection reset by server%s",
                           unread ? " mid-frame" : "");
                } else {
                    seterr(c, FEATD_E_IO, "error reading response from %s: %s", c->peer,
                           strerror(c->read_errno));
                }
                kill_read(c);
                return FEATD_ERR;
            }
            if (c->eof) {
                if (unread == 0) {
                    seterr(c, FEATD_E_CLOSED, "connection closed by server");
                } else if (unread < 4) {
                    seterr(c, FEATD_E_CLOSED,
                           "connection closed by server mid-frame (got %zu of 4 header bytes)",
                           unread);
                } else {
                    seterr(c, FEATD_E_CLOSED,
                           "connection closed by server mid-frame (got %zu of %zu bytes)",
                           unread, need);
                }
                kill_read(c);
                return FEATD_ERR;
            }
        } else if (c->out_off == c->out_len) {
            c->out_off = c->out_len = 0;
            return FEATD_OK;
        }

        bool out_pending = !c->wdead && c->out_off < c->out_len;
        size_t unread = c->in_len - c->in_off;
        bool can_read = !c->eof && c->read_errno == 0 && !c->rdead
                        && (unread < IN_SOFT_CAP || (want_frame && unread < need));
        struct pollfd pfd = { .fd = c->fd, .events = 0 };
        if (out_pending) {
            pfd.events |= POLLOUT;
        }
        if (can_read) {
            pfd.events |= POLLIN;
        }
        int tmo = remaining_ms(deadline);
        int rc = 0;
        if (pfd.events != 0 && tmo != 0) {
            rc = poll(&pfd, 1, tmo);
            if (rc < 0 && errno == EINTR) {
                continue;
            }
            if (rc < 0) {
                seterr(c, FEATD_E_IO, "poll on connection to %s: %s", c->peer, strerror(errno));
                return FEATD_ERR;
            }
        }
        if (rc == 0) {
            if (pfd.events == 0) {
                /* Defensive: nothing left that could make progress. */
                seterr(c, FEATD_E_IO, "connection to %s cannot make progress", c->peer);
                return FEATD_ERR;
            }
            if (want_frame) {
                if (unread > 0) {
                    seterr(c, FEATD_E_TIMEOUT,
                           "timeout after %d ms reading response (got %zu of %zu bytes)",
                           c->timeout_ms, unread, need);
                } else {
                    seterr(c, FEATD_E_TIMEOUT, "timeout after %d ms reading response",
                           c->timeout_ms);
                }
            } else {
                seterr(c, FEATD_E_TIMEOUT,
                       "timeout after %d ms writing request (%zu bytes not sent)",
                       c->timeout_ms, c->out_len - c->out_off);
            }
            return FEATD_ERR;
        }
        if (can_read && (pfd.revents & (POLLIN | POLLHUP | POLLERR))) {
            if (read_some(c, need) != FEATD_OK) {
                return FEATD_ERR;
            }
        }
        if (out_pending && (pfd.revents & (POLLOUT | POLLHUP | POLLERR))) {
            if (write_some(c) != FEATD_OK && !want_frame) {
                return FEATD_ERR;
            }
        }
    }
}

/* ---- framing ---- */

static int queue_frame(struct featd_client *c, const Featd__V1__Request *req)
{
    if (req == NULL) {
        seterr(c, FEATD_E_USAGE, "no request given");
        return FEATD_ERR;
    }
    size_t n = featd__v1__request__get_packed_size(req);
    if (n > UINT32_MAX) {
        seterr(c, FEATD_E_USAGE, "request of %zu bytes does not fit a frame", n);
        return FEATD_ERR;
    }
    if (out_reserve(c, 4 + n) != FEATD_OK) {
        return FEATD_ERR;
    }
    uint8_t *p = c->out + c->out_len;
    p[0] = (uint8_t)(n >> 24);
    p[1] = (uint8_t)(n >> 16);
    p[2] = (uint8_t)(n >> 8);
    p[3] = (uint8_t)n;
    size_t packed = featd__v1__request__pack(req, p + 4);
    if (packed != n) {
        seterr(c, FEATD_E_USAGE, "request encoding gave %zu bytes, expected %zu", packed, n);
        return FEATD_ERR;
    }
    c->out_len += 4 + n;
    return FEATD_OK;
}

static int send_dl(struct featd_client *c, const Featd__V1__Request *req, int64_t deadline)
{
    if (c->wdead || c->rdead) {
        return fail_dead(c, false);
    }
    if (queue_frame(c, req) != FEATD_OK) {
        return FEATD_ERR;
    }
    return pump(c, false, deadline);
}

static int recv_dl(struct featd_client *c, Featd__V1__Response **out, int64_t deadline)
{
    *out = NULL;
    if (c->rdead) {
        return fail_dead(c, true);
    }
    if (pump(c, true, deadline) != FEATD_OK) {
        return FEATD_ERR;
    }
    uint32_t len = be32(c->in + c->in_off);
    Featd__V1__Response *resp = featd__v1__response__unpack(NULL, len, c->in + c->in_off + 4);
    c->in_off += 4 + (size_t)len;
    if (c->in_off == c->in_len) {
        c->in_off = c->in_len = 0;
    }
    if (resp == NULL) {
        seterr(c, FEATD_E_PROTOCOL, "undecodable response frame of %u bytes", len);
        return FEATD_ERR;
    }
    *out = resp;
    return FEATD_OK;
}

int featd_send(struct featd_client *c, const Featd__V1__Request *req)
{
    clear_err(c);
    return send_dl(c, req, deadline_of(c));
}

int featd_queue(struct featd_client *c, const Featd__V1__Request *req)
{
    clear_err(c);
    if (c->wdead || c->rdead) {
        return fail_dead(c, false);
    }
    return queue_frame(c, req);
}

int featd_queue_raw(struct featd_client *c, const void *buf, size_t len)
{
    clear_err(c);
    if (c->wdead || c->rdead) {
        return fail_dead(c, false);
    }
    if (len > 0 && buf == NULL) {
        seterr(c, FEATD_E_USAGE, "no bytes given");
        return FEATD_ERR;
    }
    if (out_reserve(c, len) != FEATD_OK) {
        return FEATD_ERR;
    }
    if (len > 0) {
        memcpy(c->out + c->out_len, buf, len);
    }
    c->out_len += len;
    return FEATD_OK;
}

int featd_send_raw(struct featd_client *c, const void *buf, size_t len)
{
    if (featd_queue_raw(c, buf, len) != FEATD_OK) {
        return FEATD_ERR;
    }
    return pump(c, false, deadline_of(c));
}

int featd_flush(struct featd_client *c)
{
    clear_err(c);
    if (c->wdead || c->rdead) {
        return fail_dead(c, false);
    }
    return pump(c, false, deadline_of(c));
}

int featd_recv(struct featd_client *c, Featd__V1__Response **out)
{
    if (out == NULL) {
        seterr(c, FEATD_E_USAGE, "featd_recv: out is NULL");
        return FEATD_ERR;
    }
    clear_err(c);
    return recv_dl(c, out, deadline_of(c));
}

void featd_response_free(Featd__V1__Response *resp)
{
    if (resp != NULL) {
        featd__v1__response__free_unpacked(resp, NULL);
    }
}

int featd_call(struct featd_client *c, const Featd__V1__Request *req, Featd__V1__Response **out)
{
    if (out == NULL) {
        seterr(c, FEATD_E_USAGE, "featd_call: out is NULL");
        return FEATD_ERR;
    }
    *out = NULL;
    clear_err(c);
    int64_t deadline = deadline_of(c);
    if (send_dl(c, req, deadline) != FEATD_OK) {
        return FEATD_ERR;
    }
    for (;;) {
        Featd__V1__Response *resp;
        if (recv_dl(c, &resp, deadline) != FEATD_OK) {
            return FEATD_ERR;
        }
        if (resp->request_id == req->request_id
            || (resp->request_id == 0 && resp->body_case == FEATD__V1__RESPONSE__BODY_ERROR)) {
            *out = resp;
            return FEATD_OK;
        }
        featd__v1__response__free_unpacked(resp, NULL);     /* stale */
    }
}

int featd_check_response(struct featd_client *c, const Featd__V1__Response *resp, int expect)
{
    if (resp == NULL) {
        seterr(c, FEATD_E_USAGE, "featd_check_response: no response");
        return FEATD_ERR;
    }
    if (resp->body_case == FEATD__V1__RESPONSE__BODY_ERROR && resp->error != NULL) {
        seterr(c, FEATD_E_SERVER, "server error %s: %s",
               featd_error_code_name(resp->error->code),
               resp->error->message ? resp->error->message : "");
        c->server_code = resp->error->code;
        return FEATD_ERR;
    }
    if ((int)resp->body_case != expect) {
        seterr(c, FEATD_E_PROTOCOL, "unexpected response body %s (expected %s)",
               featd_body_name(resp->body_case), featd_body_name(expect));
        return FEATD_ERR;
    }
    return FEATD_OK;
}

/* Turns an Error body or an unexpected body into a failure (freeing it). */
static int check_body(struct featd_client *c, Featd__V1__Response **out, int expect)
{
    if (featd_check_response(c, *out, expect) == FEATD_OK) {
        return FEATD_OK;
    }
    featd__v1__response__free_unpacked(*out, NULL);
    *out = NULL;
    return FEATD_ERR;
}

int featd_call_expect(struct featd_client *c, const Featd__V1__Request *req, int expect,
                      Featd__V1__Response **out)
{
    if (featd_call(c, req, out) != FEATD_OK) {
        return FEATD_ERR;
    }
    return check_body(c, out, expect);
}

/* ---- typed calls ---- */

static void make_simple(Featd__V1__Request *req, int body, uint64_t id,
                        Featd__V1__PingRequest *ping, Featd__V1__ListFeatureViewsRequest *lv,
                        Featd__V1__ServerInfoRequest *si)
{
    featd__v1__request__init(req);
    featd__v1__ping_request__init(ping);
    featd__v1__list_feature_views_request__init(lv);
    featd__v1__server_info_request__init(si);
    req->request_id = id;
    req->body_case = body;
    switch (body) {
    case FEATD__V1__REQUEST__BODY_PING:
        req->ping = ping;
        break;
    case FEATD__V1__REQUEST__BODY_LIST_FEATURE_VIEWS:
        req->list_feature_views = lv;
        break;
    default:
        req->server_info = si;
        break;
    }
}

static int simple_call(struct featd_client *c, int body, int expect, Featd__V1__Response **out)
{
    Featd__V1__Request req;
    Featd__V1__PingRequest ping;
    Featd__V1__ListFeatureViewsRequest lv;
    Featd__V1__ServerInfoRequest si;
    make_simple(&req, body, featd_next_id(c), &ping, &lv, &si);
    return featd_call_expect(c, &req, expect, out);
}

static int simple_send(struct featd_client *c, int body, uint64_t id)
{
    Featd__V1__Request req;
    Featd__V1__PingRequest ping;
    Featd__V1__ListFeatureViewsRequest lv;
    Featd__V1__ServerInfoRequest si;
    make_simple(&req, body, id, &ping, &lv, &si);
    return featd_send(c, &req);
}

int featd_ping(struct featd_client *c, int64_t *server_time_us)
{
    Featd__V1__Response *resp;
    if (simple_call(c, FEATD__V1__REQUEST__BODY_PING, FEATD__V1__RESPONSE__BODY_PING,
                    &resp) != FEATD_OK) {
        return FEATD_ERR;
    }
    if (server_time_us != NULL) {
        *server_time_us = resp->ping ? resp->ping->server_time_us : 0;
    }
    featd__v1__response__free_unpacked(resp, NULL);
    return FEATD_OK;
}

const char *featd_auth(struct featd_client *c, const char *token)
{
    Featd__V1__Request req = FEATD__V1__REQUEST__INIT;
    Featd__V1__AuthRequest ar = FEATD__V1__AUTH_REQUEST__INIT;
    ar.token = (char *)(token ? token : "");
    req.request_id = featd_next_id(c);
    req.body_case = FEATD__V1__REQUEST__BODY_AUTH;
    req.auth = &ar;
    Featd__V1__Response *resp;
    if (featd_call_expect(c, &req, FEATD__V1__RESPONSE__BODY_AUTH, &resp) != FEATD_OK) {
        return NULL;
    }
    const char *p = resp->auth && resp->auth->principal ? resp->auth->principal : "";
    snprintf(c->principal, sizeof(c->principal), "%s", p);
    featd__v1__response__free_unpacked(resp, NULL);
    return c->principal;
}

int featd_list_views(struct featd_client *c, Featd__V1__Response **out)
{
    return simple_call(c, FEATD__V1__REQUEST__BODY_LIST_FEATURE_VIEWS,
                       FEATD__V1__RESPONSE__BODY_LIST_FEATURE_VIEWS, out);
}

int featd_server_info(struct featd_client *c, Featd__V1__Response **out)
{
    return simple_call(c, FEATD__V1__REQUEST__BODY_SERVER_INFO,
                       FEATD__V1__RESPONSE__BODY_SERVER_INFO, out);
}

int featd_send_ping(struct featd_client *c, uint64_t id)
{
    return simple_send(c, FEATD__V1__REQUEST__BODY_PING, id);
}

int featd_send_list_views(struct featd_client *c, uint64_t id)
{
    return simple_send(c, FEATD__V1__REQUEST__BODY_LIST_FEATURE_VIEWS, id);
}

int featd_send_server_info(struct featd_client *c, uint64_t id)
{
    return simple_send(c, FEATD__V1__REQUEST__BODY_SERVER_INFO, id);
}

/* Builds the request of g (featd_get.c) with a fresh id and calls. */
int featd_lookup(struct featd_client *c, struct featd_get *g, Featd__V1__Response **out)
{
    if (g == NULL || out == NULL) {
        seterr(c, FEATD_E_USAGE, "featd_lookup: no request builder or out pointer");
        return FEATD_ERR;
    }
    return featd_call_expect(c, featd_get_request(g, featd_next_id(c)),
                             FEATD__V1__RESPONSE__BODY_GET_ONLINE_FEATURES, out);
}

/* Builds the request of w (featd_write.c) with a fresh id and calls. */
int featd_write(struct featd_client *c, struct featd_write *w, uint32_t *rows_written,
                uint32_t *rows_stale)
{
    if (w == NULL) {
        seterr(c, FEATD_E_USAGE, "featd_write: no request builder");
        return FEATD_ERR;
    }
    Featd__V1__Response *resp;
    if (featd_call_expect(c, featd_write_request(w, featd_next_id(c)),
                          FEATD__V1__RESPONSE__BODY_WRITE_FEATURES, &resp) != FEATD_OK) {
        return FEATD_ERR;
    }
    int rc = featd_write_result(c, resp, rows_written, rows_stale);
    featd__v1__response__free_unpacked(resp, NULL);
    return rc;
}

int featd_write_result(struct featd_client *c, const Featd__V1__Response *resp,
                       uint32_t *rows_written, uint32_t *rows_stale)
{
    if (featd_check_response(c, resp, FEATD__V1__RESPONSE__BODY_WRITE_FEATURES) != FEATD_OK) {
        return FEATD_ERR;
    }
    const Featd__V1__WriteFeaturesResponse *r = resp->write_features;
    if (rows_written != NULL) {
        *rows_written = r ? r->rows_written : 0;
    }
    if (rows_stale != NULL) {
        *rows_stale = r ? r->rows_stale : 0;
    }
    return FEATD_OK;
}
