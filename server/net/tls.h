/*
 * tls.h — TLS on the serving listener (OpenSSL, DESIGN §14): the server
 * context built from the config's "tls" section at every (re)load, and the
 * per-connection I/O net/conn.c uses when its loop has a context.
 *
 * Context: TLS 1.2 and newer, OpenSSL's secure default ciphers (no RC4,
 * 3DES, export or anonymous suites; forward secrecy first), session tickets
 * off, partial writes and moving write buffers allowed (non-blocking use).
 * With client_ca_file, client certificates are required and verified
 * (mTLS); the principal is the certificate's subject CN. The main thread
 * builds one per load (tls_server_ctx_new) and the registry owns it
 * (config/registry.h): a SIGHUP that changes the files serves the new
 * certificate to new connections, existing ones keep theirs (each SSL holds
 * a reference to its context).
 *
 * Connections (conn_tls_*): a connection of a TLS loop gets an SSL in
 * accept state when adopted; the handshake happens inside the first reads
 * (and counts as a started frame for server.frame_timeout_ms). Reads and
 * writes map OpenSSL's WANT_READ / WANT_WRITE onto the loop's events.
 * Threads: the context is immutable once built (any thread); an SSL object
 * belongs to its connection's loop thread.
 */
#ifndef FEATD_TLS_H
#define FEATD_TLS_H

#include <stddef.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "config/config.h"

struct conn;

/* The server context for t (cert_file and key_file given), or NULL with
 * err naming the file and OpenSSL's reason ("tls.cert_file /x.crt: ...").
 * Startup: an error ends it; reload: the old context stays. */
SSL_CTX *tls_server_ctx_new(const struct cfg_tls *t, char *err, size_t errlen);

/* For conn.c (c's loop thread). conn_tls_start: an SSL in accept state on
 * c's socket; FEATD_ERR when OpenSSL cannot allocate one. */
int conn_tls_start(struct conn *c, SSL_CTX *ctx);
void conn_tls_free(struct conn *c);
/* Like recv(2): > 0 bytes into buf, 0 when the peer closed, -1 with errno
 * EAGAIN (wait for the event OpenSSL wants; conn.c re-arms) or EPROTO
 * (handshake or record failure: c->close_reason holds why). Finishes the
 * handshake on the way (metrics, principal). */
ssize_t conn_tls_read(struct conn *c, void *buf, size_t len);
/* Like send(2) for c's output buffer: writes as much as OpenSSL takes;
 * bytes written, or -1 with errno EAGAIN / EPROTO. */
ssize_t conn_tls_write(struct conn *c, const void *buf, size_t len);

#endif
