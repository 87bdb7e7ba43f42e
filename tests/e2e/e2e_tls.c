/*
 * e2e_tls.c — TLS on the serving port (DESIGN §14) with real parts: a test
 * CA, server and client certificates made by the openssl CLI, the real
 * featd binary and libfeatd's featd_connect_tls over real sockets; the
 * admin port over TLS (tls.admin) with OpenSSL directly.
 */
#include <check.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "featd_client.h"
#include "harness.h"
#include "core/util.h"

static struct h_redis R;
static struct h_featd F;
static char dir[256];           /* certificates */

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    ck_assert_msg(system(cmd) == 0, "failed: %s", cmd);
}

/* A CA named ca, and a certificate for cn signed by it: <dir>/<name>.{crt,key}. */
static void make_ca(const char *ca)
{
    sh("cd '%s' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
       "-keyout %s.key -out %s.crt -days 2 -subj '/CN=featd test %s' 2>/dev/null", dir, ca, ca, ca);
}

static void make_cert(const char *name, const char *cn, const char *ca)
{
    sh("cd '%s' && openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
       "-keyout %s.key -out %s.csr -subj '/CN=%s' 2>/dev/null && "
       "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > %s.ext && "
       "openssl x509 -req -in %s.csr -CA %s.crt -CAkey %s.key -CAcreateserial -out %s.crt "
       "-days 2 -extfile %s.ext 2>/dev/null", dir, name, name, cn, name, name, ca, ca, name, name);
}

static char cfg_json[4096];

static void start_with(const char *client_ca, bool admin_tls)
{
    char ca_part[512] = "";
    if (client_ca) {
        snprintf(ca_part, sizeof(ca_part), ", \"client_ca_file\": \"%s/%s.crt\"", dir, client_ca);
    }
    if (admin_tls) {
        size_t n = strlen(ca_part);
        snprintf(ca_part + n, sizeof(ca_part) - n, ", \"admin\": true");
    }
    snprintf(cfg_json, sizeof(cfg_json),
             "{ \"server\": { \"listen\": \"127.0.0.1:%d\", \"admin_listen\": \"127.0.0.1:%d\", "
             "\"workers\": 2, \"frame_timeout_ms\": 1000, \"log_level\": \"info\" },"
             "  \"tls\": { \"cert_file\": \"%s/server.crt\", \"key_file\": \"%s/server.key\"%s },"
             "  \"redis\": { \"url\": \"redis://127.0.0.1:%d/0\", \"key_prefix\": \"tls\" },"
             "  \"entities\": [ { \"name\": \"user\", \"join_keys\": [ { \"name\": \"user_id\", \"type\": \"int64\" } ] } ],"
             "  \"feature_views\": [ { \"name\": \"v\", \"entities\": [\"user\"], \"features\": ["
             "      { \"name\": \"x\", \"type\": \"int64\" } ] } ] }",
             h_free_port(), h_free_port(), dir, dir, ca_part, R.port);
    h_featd_start(&F, cfg_json);
}

static void start(const char *client_ca)
{
    start_with(client_ca, false);
}

static void setup(void)
{
    h_tempdir(dir, "tlscerts");
    make_ca("ca1");
    make_ca("ca2");
    make_cert("server", "localhost", "ca1");
    make_cert("client", "ranker", "ca1");
    make_cert("rogue", "rogue", "ca2");
    h_redis_start(&R);
}

static void teardown(void)
{
    h_featd_stop(&F);
    h_redis_stop(&R);
    sh("rm -rf '%s'", dir);
}

static struct featd_client *tls_connect(const char *ca, const char *cert, char *err, size_t errlen)
{
    char caf[300], crt[300], key[300];
    snprintf(caf, sizeof(caf), "%s/%s.crt", dir, ca);
    snprintf(crt, sizeof(crt), "%s/%s.crt", dir, cert ? cert : "");
    snprintf(key, sizeof(key), "%s/%s.key", dir, cert ? cert : "");
    struct featd_tls t = { .ca_file = caf, .cert_file = cert ? crt : NULL,
                           .key_file = cert ? key : NULL, .server_name = "localhost" };
    return featd_connect_tls("127.0.0.1", F.port, 3000, &t, err, errlen);
}

/* A lookup over c: NOT_FOUND for an absent entity (no data needed). */
static void lookup_ok(struct featd_client *c)
{
    struct featd_get *g = featd_get_new();
    ck_assert(featd_get_add_feature(g, "v:x") == 0);
    ck_assert(featd_get_add_int64(g, "user_id", 7) == 0);
    Featd__V1__Response *resp = NULL;
    ck_assert_msg(featd_call(c, featd_get_request(g, featd_next_id(c)), &resp) == FEATD_OK, "%s",
                  featd_errmsg(c));
    ck_assert(resp->body_case == FEATD__V1__RESPONSE__BODY_GET_ONLINE_FEATURES);
    ck_assert_int_eq(resp->get_online_features->results[0]->statuses[0],
                     FEATD__V1__FIELD_STATUS__NOT_FOUND);
    featd_response_free(resp);
    featd_get_free(g);
}

START_TEST(test_tls_serving)
{
    start(NULL);
    char err[512];
    /* verified client: lookups and pipelined pings work */
    struct featd_client *c = tls_connect("ca1", NULL, err, sizeof(err));
    ck_assert_msg(c != NULL, "%s", err);
    for (int i = 0; i < 50; i++) {
        lookup_ok(c);
    }
    ck_assert_int_eq(featd_ping(c, NULL), FEATD_OK);
    featd_close(c);
    /* a client trusting another CA refuses the server */
    c = tls_connect("ca2", NULL, err, sizeof(err));
    ck_assert(c == NULL);
    ck_assert_msg(strstr(err, "certificate verify failed") != NULL, "%s", err);
    /* a plaintext client is refused: no answer, the connection closed */
    c = featd_connect("127.0.0.1", F.port, 2000, err, sizeof(err));
    ck_assert(c != NULL);
    ck_assert_int_ne(featd_ping(c, NULL), FEATD_OK);
    ck_assert_int_eq(featd_errcode(c), FEATD_E_CLOSED);
    featd_close(c);
    ck_assert_double_ge(h_admin_metric(F.admin_port, "featd_tls_handshake_failures_total"), 2);
    ck_assert_double_ge(h_admin_metric(F.admin_port, "featd_tls_handshakes_total"), 1);
    /* featd-cli: --tls-ca verifies; without TLS options it cannot talk */
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "'%s' --port %d --tls-ca '%s/ca1.crt' --tls-server-name localhost "
             "get -f v:x -e user_id=7 > /dev/null 2>&1", h_bin("featd-cli"), F.port, dir);
    ck_assert_msg(system(cmd) == 0, "%s", cmd);
    snprintf(cmd, sizeof(cmd), "'%s' --port %d --tls-ca '%s/ca2.crt' --tls-server-name localhost "
             "ping > /dev/null 2>&1", h_bin("featd-cli"), F.port, dir);
    ck_assert_msg(system(cmd) != 0, "a CA that did not sign the server was accepted");
    snprintf(cmd, sizeof(cmd), "'%s' --port %d ping > /dev/null 2>&1", h_bin("featd-cli"), F.port);
    ck_assert_msg(system(cmd) != 0, "plaintext featd-cli was answered");
    /* featd-bench over TLS: every request answered */
    char out[4096] = "";
    snprintf(cmd, sizeof(cmd), "'%s' --port %d --tls-ca '%s/ca1.crt' --tls-server-name localhost "
             "-c 4 -t 1 -d 1 -w 0 -n 100 -k user_id -f v:x --json 2>&1", h_bin("featd-bench"), F.port,
             dir);
    FILE *p = popen(cmd, "r");
    ck_assert(p != NULL);
    size_t got = fread(out, 1, sizeof(out) - 1, p);
    out[got] = '\0';
    ck_assert_msg(pclose(p) == 0, "featd-bench over TLS failed: %s", out);
    ck_assert_msg(strstr(out, "\"errors\":0") != NULL || strstr(out, "\"errors\": 0") != NULL,
                  "featd-bench over TLS saw errors: %s", out);
    /* a TCP connection that never starts the handshake is closed by the frame timeout */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)F.port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    struct timeval tv = { 5, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    int64_t t0 = util_mono_us();
    char b;
    ck_assert_int_le(recv(fd, &b, 1, 0), 0);
    int64_t waited = util_mono_us() - t0;
    ck_assert_msg(waited > 800000 && waited < 3000000, "closed after %lld us", (long long)waited);
    close(fd);
}
END_TEST

START_TEST(test_mtls)
{
    start("ca1");
    char err[512];
    struct featd_client *c = tls_connect("ca1", NULL, err, sizeof(err));
    if (c != NULL) {    /* TLS 1.3: the refusal may only show at the first read */
        ck_assert_int_ne(featd_ping(c, NULL), FEATD_OK);
        featd_close(c);
    }
    c = tls_connect("ca1", "rogue", err, sizeof(err));     /* signed by another CA */
    if (c != NULL) {
        ck_assert_int_ne(featd_ping(c, NULL), FEATD_OK);
        featd_close(c);
    }
    c = tls_connect("ca1", "client", err, sizeof(err));
    ck_assert_msg(c != NULL, "%s", err);
    lookup_ok(c);
    featd_close(c);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "'%s' --port %d --tls-ca '%s/ca1.crt' --tls-cert '%s/client.crt' "
             "--tls-key '%s/client.key' --tls-server-name localhost ping > /dev/null 2>&1",
             h_bin("featd-cli"), F.port, dir, dir, dir);
    ck_assert_msg(system(cmd) == 0, "%s", cmd);
    ck_assert_double_ge(h_admin_metric(F.admin_port, "featd_tls_handshake_failures_total"), 2);
}
END_TEST

START_TEST(test_tls_reload)
{
    start(NULL);
    char err[512];
    struct featd_client *old = tls_connect("ca1", NULL, err, sizeof(err));
    ck_assert_msg(old != NULL, "%s", err);
    /* a new certificate from another CA in the same files, then SIGHUP */
    make_cert("server", "localhost", "ca2");
    kill(F.pid, SIGHUP);
    int64_t until = util_mono_us() + 10000000;
    struct featd_client *c = NULL;
    while (c == NULL && util_mono_us() < until) {
        c = tls_connect("ca2", NULL, err, sizeof(err));
        if (c == NULL) {
            usleep(50000);
        }
    }
    ck_assert_msg(c != NULL, "the new certificate is not served: %s", err);
    lookup_ok(c);
    featd_close(c);
    ck_assert(tls_connect("ca1", NULL, err, sizeof(err)) == NULL);   /* the old one is gone */
    lookup_ok(old);                     /* an established connection keeps working */
    featd_close(old);
    /* a reload with a key that does not match keeps the running certificate */
    sh("cd '%s' && cp rogue.key server.key", dir);
    kill(F.pid, SIGHUP);
    usleep(500000);
    c = tls_connect("ca2", NULL, err, sizeof(err));
    ck_assert_msg(c != NULL, "%s", err);
    featd_close(c);
}
END_TEST

/* GET path on the admin port over TLS, verifying the server with <ca>.crt
 * and presenting <cert>.{crt,key} when cert is given: the response's bytes
 * in out, or -1 when the handshake or the exchange failed. */
static int https_get(const char *ca, const char *cert, const char *path, char *out, size_t cap)
{
    char caf[300], crt[300], key[300];
    snprintf(caf, sizeof(caf), "%s/%s.crt", dir, ca);
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    ck_assert(ctx != NULL);
    ck_assert_int_eq(SSL_CTX_load_verify_locations(ctx, caf, NULL), 1);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (cert) {
        snprintf(crt, sizeof(crt), "%s/%s.crt", dir, cert);
        snprintf(key, sizeof(key), "%s/%s.key", dir, cert);
        ck_assert_int_eq(SSL_CTX_use_certificate_file(ctx, crt, SSL_FILETYPE_PEM), 1);
        ck_assert_int_eq(SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM), 1);
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)F.admin_port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    struct timeval tv = { 3, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "localhost");
    SSL_set1_host(ssl, "localhost");
    int got = -1;
    if (SSL_connect(ssl) == 1) {
        char req[256];
        int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                         path);
        if (SSL_write(ssl, req, n) == n) {
            size_t len = 0;
            int r;
            while (len + 1 < cap && (r = SSL_read(ssl, out + len, (int)(cap - 1 - len))) > 0) {
                len += (size_t)r;
            }
            out[len] = '\0';
            got = len > 0 ? (int)len : -1;
        }
    }
    SSL_free(ssl);
    close(fd);
    SSL_CTX_free(ctx);
    return got;
}

/* GET path on the admin port in plaintext: bytes answered, or -1. */
static int http_get_plain(const char *path, char *out, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)F.admin_port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    struct timeval tv = { 3, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char req[256];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
    ck_assert_int_eq(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
    ssize_t r = recv(fd, out, cap - 1, 0);
    out[r > 0 ? r : 0] = '\0';
    close(fd);
    return r > 0 ? (int)r : -1;
}

START_TEST(test_admin_tls)
{
    char out[8192];
    signal(SIGPIPE, SIG_IGN);   /* OpenSSL writes with write(2): a refused peer must not kill the test */
    /* tls.admin false (default): the admin port stays plaintext */
    start(NULL);
    ck_assert_int_gt(http_get_plain("/healthz", out, sizeof(out)), 0);
    ck_assert_msg(strstr(out, "200 OK") != NULL, "%s", out);
    h_featd_stop(&F);
    /* tls.admin true with mTLS: https with a client certificate answers */
    start_with("ca1", true);
    ck_assert_int_gt(https_get("ca1", "client", "/healthz", out, sizeof(out)), 0);
    ck_assert_msg(strstr(out, "HTTP/1.1 200 OK") != NULL, "%s", out);
    ck_assert_int_gt(https_get("ca1", "client", "/metrics", out, sizeof(out)), 0);
    ck_assert_msg(strstr(out, "featd_tls_handshakes_total") != NULL, "%s", out);
    /* no client certificate, a server from another CA, plaintext: no HTTP answer */
    ck_assert_msg(https_get("ca1", NULL, "/healthz", out, sizeof(out)) < 0 || strstr(out, "200 OK") == NULL,
                  "answered without a client certificate: %s", out);
    ck_assert_int_lt(https_get("ca2", "client", "/healthz", out, sizeof(out)), 0);
    int r = http_get_plain("/healthz", out, sizeof(out));
    ck_assert_msg(r < 0 || strstr(out, "HTTP/1.1 200") == NULL, "plaintext answered: %s", out);
    /* still serving over TLS afterwards; a new certificate after SIGHUP */
    ck_assert_int_gt(https_get("ca1", "client", "/healthz", out, sizeof(out)), 0);
    make_cert("server", "localhost", "ca2");
    kill(F.pid, SIGHUP);
    int64_t until = util_mono_us() + 10000000;
    while (https_get("ca2", "client", "/healthz", out, sizeof(out)) < 0 && util_mono_us() < until) {
        usleep(50000);
    }
    ck_assert_msg(strstr(out, "HTTP/1.1 200 OK") != NULL, "the new certificate is not served: %s", out);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("e2e_tls");
    TCase *tc = tcase_create("tls");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_tls_serving);
    tcase_add_test(tc, test_mtls);
    tcase_add_test(tc, test_tls_reload);
    tcase_add_test(tc, test_admin_tls);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
