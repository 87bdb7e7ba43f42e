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
 * Connections: net/conn_tls.c (declared in net/conn.h).
 * Threads: the context is immutable once built (any thread); an SSL object
 * belongs to its connection's loop thread.
 */
#ifndef FEATD_TLS_H
#define FEATD_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "config/config.h"

/* The server context for t (cert_file and key_file given), or NULL with
 * err naming the file and OpenSSL's reason ("tls.cert_file /x.crt: ...").
 * Startup: an error ends it; reload: the old context stays. */
SSL_CTX *tls_server_ctx_new(const struct cfg_tls *t, char *err, size_t errlen);

/* OpenSSL's queued reason for the last failure into buf (the queue is
 * cleared); errno's text when OpenSSL has none. */
void tls_reason(char *buf, size_t cap);

#endif
