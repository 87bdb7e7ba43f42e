/*
 * conn_tls.c — a connection's TLS: the SSL object in accept state, the
 * handshake inside the first reads, and reads and writes mapping OpenSSL's
 * WANT_READ / WANT_WRITE onto the loop's events (contract in net/conn.h,
 * "TLS"; the context comes from net/tls.h). c's loop thread only.
 */
#include "net/conn.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "core/log.h"
#include "core/util.h"
#include "net/tls.h"

int conn_tls_start(struct conn *c, SSL_CTX *ctx)
{
    c->ssl = SSL_new(ctx);
    if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
        ERR_clear_error();
        return FEATD_ERR;
    }
    SSL_set_accept_state(c->ssl);
    c->tls_handshaking = true;
    c->frame_since_us = util_mono_us();     /* the handshake must finish in the frame timeout */
    return FEATD_OK;
}

void conn_tls_free(struct conn *c)
{
    if (c->ssl != NULL) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
}

/* The handshake just completed: the principal of a client certificate. */
static void conn_tls_established(struct conn *c)
{
    c->tls_handshaking = false;
    METRICS_INC(c->loop->metrics->tls_handshakes_total);
    X509 *peer = SSL_get_peer_certificate(c->ssl);
    if (peer != NULL) {
        X509_NAME *subj = X509_get_subject_name(peer);
        if (subj == NULL ||
            X509_NAME_get_text_by_NID(subj, NID_commonName, c->principal, sizeof(c->principal)) < 0) {
            X509_NAME_oneline(subj, c->principal, sizeof(c->principal));
        }
        X509_free(peer);
    }
    log_conn(LOG_DEBUG, c, "TLS %s %s established%s%s", SSL_get_version(c->ssl),
             SSL_get_cipher_name(c->ssl), c->principal[0] ? ", client " : "", c->principal);
}

/* Maps a failed SSL_read/SSL_write (return rc) to errno EAGAIN (waiting for
 * the event OpenSSL wants) or EPROTO / 0 (failure, reason in close_reason). */
static ssize_t conn_tls_fail(struct conn *c, int rc, const char *op)
{
    int e = SSL_get_error(c->ssl, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        c->tls_want_write = e == SSL_ERROR_WANT_WRITE;
        errno = EAGAIN;
        return -1;
    }
    if (e == SSL_ERROR_ZERO_RETURN) {
        return 0;       /* close_notify: the peer finished */
    }
    char why[200];
    if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
        snprintf(why, sizeof why, "%s", errno ? strerror(errno) : "peer closed mid-record");
        ERR_clear_error();
    } else {
        tls_reason(why, sizeof why);
    }
    snprintf(c->tls_error, sizeof(c->tls_error), "TLS %s%s: %s", op,
             c->tls_handshaking ? " (handshake)" : "", why);
    if (c->tls_handshaking) {
        METRICS_INC(c->loop->metrics->tls_handshake_failures_total);
        log_conn(LOG_INFO, c, "%s", c->tls_error);
    }
    errno = EPROTO;
    return -1;
}

ssize_t conn_tls_read(struct conn *c, void *buf, size_t len)
{
    ERR_clear_error();
    c->tls_want_write = false;
    int n = SSL_read(c->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
    if (c->tls_handshaking && SSL_is_init_finished(c->ssl)) {
        conn_tls_established(c);
    }
    if (n > 0) {
        return n;
    }
    return conn_tls_fail(c, n, "read");
}

ssize_t conn_tls_write(struct conn *c, const void *buf, size_t len)
{
    ERR_clear_error();
    c->tls_want_write = false;
    int n = SSL_write(c->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
    if (n > 0) {
        return n;
    }
    ssize_t r = conn_tls_fail(c, n, "write");
    if (r == 0) {
        snprintf(c->tls_error, sizeof(c->tls_error), "TLS write: the peer closed");
        errno = EPIPE;
        return -1;
    }
    return r;
}
