/*
 * tls.c — the serving listener's OpenSSL context (contract in net/tls.h).
 */
#include "net/tls.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "core/log.h"
#include "core/util.h"

void tls_reason(char *buf, size_t cap)
{
    unsigned long e = ERR_get_error();
    if (e == 0) {
        snprintf(buf, cap, "%s", errno ? strerror(errno) : "unknown error");
    } else {
        ERR_error_string_n(e, buf, cap);
    }
    ERR_clear_error();
}

SSL_CTX *tls_server_ctx_new(const struct cfg_tls *t, char *err, size_t errlen)
{
    char why[256];
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        tls_reason(why, sizeof why);
        util_seterr(err, errlen, "tls: cannot create a context: %s", why);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    /* TLS 1.2: forward-secret AEAD suites only (1.3 suites are all fine) */
    if (SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL:!MD5:!SHA1") != 1) {
        tls_reason(why, sizeof why);
        util_seterr(err, errlen, "tls: cipher list: %s", why);
        SSL_CTX_free(ctx);
        return NULL;
    }
    const char *what = "tls.cert_file", *file = t->cert_file;
    if (SSL_CTX_use_certificate_chain_file(ctx, t->cert_file) != 1) {
        goto fail;
    }
    what = "tls.key_file";
    file = t->key_file;
    if (SSL_CTX_use_PrivateKey_file(ctx, t->key_file, SSL_FILETYPE_PEM) != 1) {
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        tls_reason(why, sizeof why);
        util_seterr(err, errlen, "tls.key_file %s does not match tls.cert_file %s: %s", t->key_file,
                    t->cert_file, why);
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (t->client_ca_file != NULL) {
        what = "tls.client_ca_file";
        file = t->client_ca_file;
        if (SSL_CTX_load_verify_locations(ctx, t->client_ca_file, NULL) != 1) {
            goto fail;
        }
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(t->client_ca_file);
        if (names != NULL) {
            SSL_CTX_set_client_CA_list(ctx, names);
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    }
    return ctx;
fail:
    tls_reason(why, sizeof why);
    util_seterr(err, errlen, "%s %s: %s", what, file, why);
    SSL_CTX_free(ctx);
    return NULL;
}
