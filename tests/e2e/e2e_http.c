/*
 * e2e_http.c — HTTP/1.1 on the serving port (DESIGN §13) against the real
 * featd: Feast-shaped lookups (full_feature_names false and true, join keys
 * first), the same bytes as the admin port's endpoint, keep-alive,
 * pipelined requests answered in order, bounded heads and bodies, malformed
 * requests, the frame timeout for slow heads, auth (401/403), TLS (curl),
 * and protobuf clients on the same port.
 */
#include <check.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "featd_client.h"
#include "harness.h"
#include "core/util.h"

static struct h_redis R;
static struct h_featd F;
static char dir[256];

#define TOKEN "http-ranker-secret-0123456789"   /* views: v */

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

/* Output of a shell command into out (NUL-terminated). */
static int run(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int run(char *out, size_t cap, const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    FILE *p = popen(cmd, "r");
    ck_assert(p != NULL);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    return pclose(p);
}

/* featd with views v (x int64, s string) and w (x double): tls and auth optional. */
static void start(bool tls, bool auth)
{
    char tls_part[600] = "", auth_part[400] = "";
    if (tls) {
        snprintf(tls_part, sizeof(tls_part), "\"tls\": { \"cert_file\": \"%s/server.crt\", \"key_file\": \"%s/server.key\" },",
                 dir, dir);
    }
    if (auth) {
        uint8_t h[32];
        char hx[65];
        util_sha256(TOKEN, strlen(TOKEN), h);
        for (int i = 0; i < 32; i++) {
            snprintf(hx + 2 * i, 3, "%02x", h[i]);
        }
        snprintf(auth_part, sizeof(auth_part), "\"auth\": { \"tokens\": [ { \"name\": \"ranker\", "
                 "\"token_sha256\": \"%s\", \"views\": [\"v\"] } ] },", hx);
    }
    char cfg[4096];
    snprintf(cfg, sizeof(cfg),
             "{ \"server\": { \"listen\": \"127.0.0.1:%d\", \"admin_listen\": \"127.0.0.1:%d\", "
             "\"workers\": 2, \"frame_timeout_ms\": 400, \"max_frame_bytes\": 4096, \"log_level\": \"info\" }, %s %s"
             "  \"redis\": { \"url\": \"redis://127.0.0.1:%d/0\", \"key_prefix\": \"http\" },"
             "  \"entities\": [ { \"name\": \"user\", \"join_keys\": [ { \"name\": \"user_id\", \"type\": \"int64\" } ] } ],"
             "  \"feature_views\": [ { \"name\": \"v\", \"entities\": [\"user\"], \"features\": ["
             "      { \"name\": \"x\", \"type\": \"int64\" }, { \"name\": \"s\", \"type\": \"string\" } ] },"
             "    { \"name\": \"w\", \"entities\": [\"user\"], \"features\": [ { \"name\": \"x\", \"type\": \"double\" } ] } ] }",
             h_free_port(), h_free_port(), tls_part, auth_part, R.port);
    h_featd_start(&F, cfg);
    char rows[300], out[4096];
    snprintf(rows, sizeof(rows), "%s/v.jsonl", dir);
    FILE *f = fopen(rows, "w");
    ck_assert(f != NULL);
    fputs("{\"user_id\": 1, \"event_timestamp\": \"2026-11-21T10:00:00Z\", \"x\": 41, \"s\": \"a\\\"b\"}\n"
          "{\"user_id\": 2, \"event_timestamp\": \"2026-11-21T10:00:00Z\", \"x\": 42, \"s\": null}\n", f);
    fclose(f);
    int rc = run(out, sizeof(out), "%s load --config %s --view v --file %s 2>&1", h_bin("featd-cli"),
                 F.config_path, rows);
    ck_assert_msg(rc == 0, "featd-cli load: %s", out);
}

static void setup(void)
{
    h_tempdir(dir, "http");
    h_redis_start(&R);
}

static void teardown(void)
{
    h_featd_stop(&F);
    h_redis_stop(&R);
    sh("rm -rf '%s'", dir);
}

/* ---- a raw HTTP client ---- */

static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        ck_assert_msg(w > 0, "send: %s", strerror(errno));
        p += w;
        n -= (size_t)w;
    }
}

struct resp {
    int status;
    char head[2048];
    char body[16384];
};

/* Reads into buf until n whole answers are there, the peer closes or
 * timeout_ms pass; returns the bytes read, *closed when the peer closed. */
static size_t read_answers(int fd, char *buf, size_t cap, int n, int timeout_ms, bool *closed)
{
    size_t len = 0;
    long long end = h_now_ms() + timeout_ms;
    *closed = false;
    for (;;) {
        /* count whole answers */
        int got = 0;
        size_t off = 0;
        for (;;) {
            buf[len] = '\0';
            char *he = strstr(buf + off, "\r\n\r\n");
            if (he == NULL) {
                break;
            }
            char *cl = strcasestr(buf + off, "Content-Length: ");
            size_t blen = cl && cl < he ? strtoul(cl + 16, NULL, 10) : 0;
            size_t total = (size_t)(he + 4 - (buf + off)) + blen;
            if (off + total > len) {
                break;
            }
            off += total;
            got++;
        }
        if (got >= n) {
            return len;
        }
        int left = (int)(end - h_now_ms());
        if (left <= 0) {
            return len;
        }
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, left) <= 0) {
            continue;
        }
        ssize_t r = recv(fd, buf + len, cap - 1 - len, 0);
        if (r <= 0) {
            *closed = true;
            buf[len] = '\0';
            return len;
        }
        len += (size_t)r;
    }
}

/* Splits the answer at *pos in buf into r; advances *pos. */
static void parse_answer(const char *buf, size_t *pos, struct resp *r)
{
    const char *p = buf + *pos;
    const char *he = strstr(p, "\r\n\r\n");
    ck_assert_msg(he != NULL, "no answer head in: %s", p);
    ck_assert_msg(sscanf(p, "HTTP/1.1 %d", &r->status) == 1, "bad status line: %.80s", p);
    size_t hl = (size_t)(he + 4 - p);
    ck_assert(hl < sizeof(r->head));
    memcpy(r->head, p, hl);
    r->head[hl] = '\0';
    const char *cl = strcasestr(r->head, "Content-Length: ");
    size_t blen = cl ? strtoul(cl + 16, NULL, 10) : 0;
    ck_assert(blen < sizeof(r->body));
    memcpy(r->body, he + 4, blen);
    r->body[blen] = '\0';
    *pos += hl + blen;
}

/* One request on a new connection; the answer in r; true when the server
 * closed the connection after it. */
static bool exchange(int port, const char *req, struct resp *r)
{
    static char buf[65536];
    int fd = dial(port);
    send_all(fd, req, strlen(req));
    bool closed;
    size_t n = read_answers(fd, buf, sizeof(buf), 1, 3000, &closed);
    ck_assert_msg(n > 0, "no answer to %.60s", req);
    size_t pos = 0;
    parse_answer(buf, &pos, r);
    if (!closed) {
        /* a close right after the answer counts too */
        struct pollfd p = { .fd = fd, .events = POLLIN };
        char b;
        closed = poll(&p, 1, 300) == 1 && recv(fd, &b, 1, 0) == 0;
    }
    close(fd);
    return closed;
}

static void post_req(char *out, size_t cap, const char *path, const char *body, const char *extra)
{
    snprintf(out, cap, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n%sContent-Length: %zu\r\n\r\n%s",
             path, extra ? extra : "", strlen(body), body);
}

static json_t *body_json(const struct resp *r)
{
    json_error_t e;
    json_t *j = json_loads(r->body, 0, &e);
    ck_assert_msg(j != NULL, "not JSON (%s): %s", e.text, r->body);
    return j;
}

/* Byte for byte what Feast's remote online store sends (RemoteOnlineStore.
 * online_read: json.dumps of features "view:feature" and one join key, no
 * full_feature_names); it then matches bare names in metadata.feature_names
 * and reads the event time from results[1] (results[0] is the join key). */
static const char *LOOKUP = "{\"features\": [\"v:x\", \"v:s\"], \"entities\": {\"user_id\": [1, 2, 99]}}";

/* The Feast shape of LOOKUP's answer with names n0..n2. */
static void check_feast(const struct resp *r, const char *n1, const char *n2)
{
    ck_assert_msg(r->status == 200, "%d: %s", r->status, r->body);
    ck_assert(strstr(r->head, "Content-Type: application/json") != NULL);
    json_t *j = body_json(r);
    const json_t *names = json_object_get(json_object_get(j, "metadata"), "feature_names");
    ck_assert_uint_eq(json_array_size(names), 3);
    ck_assert_str_eq(json_string_value(json_array_get(names, 0)), "user_id");
    ck_assert_str_eq(json_string_value(json_array_get(names, 1)), n1);
    ck_assert_str_eq(json_string_value(json_array_get(names, 2)), n2);
    const json_t *res = json_object_get(j, "results");
    ck_assert_uint_eq(json_array_size(res), 3);
    const json_t *keys = json_object_get(json_array_get(res, 0), "values");
    ck_assert_int_eq(json_integer_value(json_array_get(keys, 2)), 99);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(json_array_get(res, 0), "statuses"), 2)),
                     "PRESENT");
    const json_t *x = json_array_get(res, 1);
    ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(x, "values"), 0)), 41);
    ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(x, "values"), 1)), 42);
    ck_assert(json_is_null(json_array_get(json_object_get(x, "values"), 2)));
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(x, "statuses"), 0)), "PRESENT");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(x, "statuses"), 2)), "NOT_FOUND");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(x, "event_timestamps"), 0)),
                     "2026-11-21T10:00:00Z");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(x, "event_timestamps"), 2)),
                     "1970-01-01T00:00:00Z");
    const json_t *s = json_array_get(res, 2);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(s, "values"), 0)), "a\"b");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(s, "statuses"), 1)), "NULL_VALUE");
    json_decref(j);
}

START_TEST(test_http_lookups)
{
    start(false, false);
    char req[4096];
    struct resp r, a;
    /* Feast's default names (full_feature_names absent or false): bare, join keys first */
    post_req(req, sizeof(req), "/get-online-features", LOOKUP, NULL);
    ck_assert(!exchange(F.port, req, &r));
    check_feast(&r, "x", "s");
    /* the admin port's endpoint gives the same bytes (one implementation) */
    exchange(F.admin_port, req, &a);
    ck_assert_str_eq(a.body, r.body);
    post_req(req, sizeof(req), "/get-online-features",
             "{\"features\": [\"v:x\", \"v:s\"], \"entities\": {\"user_id\": [1, 2, 99]}, \"full_feature_names\": false}",
             NULL);
    exchange(F.port, req, &r);
    check_feast(&r, "x", "s");
    /* full_feature_names: view__feature */
    post_req(req, sizeof(req), "/get-online-features",
             "{\"features\": [\"v:x\", \"v:s\"], \"entities\": {\"user_id\": [1, 2, 99]}, \"full_feature_names\": true}",
             NULL);
    exchange(F.port, req, &r);
    check_feast(&r, "v__x", "v__s");
    /* one bare name from two views: refused as Feast refuses it; fine with full names */
    post_req(req, sizeof(req), "/get-online-features",
             "{\"features\": [\"v:x\", \"w:*\"], \"entities\": {\"user_id\": [1]}}", NULL);
    exchange(F.port, req, &r);
    ck_assert_int_eq(r.status, 400);
    ck_assert_msg(strstr(r.body, "full_feature_names") != NULL, "%s", r.body);
    post_req(req, sizeof(req), "/get-online-features",
             "{\"features\": [\"v:x\", \"w:*\"], \"entities\": {\"user_id\": [1]}, \"full_feature_names\": true}", NULL);
    exchange(F.port, req, &r);
    ck_assert_msg(r.status == 200 && strstr(r.body, "\"w__x\"") != NULL, "%d %s", r.status, r.body);
    /* lookup errors: the status of the featd error code, JSON */
    post_req(req, sizeof(req), "/get-online-features", "{\"features\": [\"nope:x\"], \"entities\": {\"user_id\": [1]}}",
             NULL);
    exchange(F.port, req, &r);
    ck_assert_int_eq(r.status, 400);
    ck_assert_msg(strstr(r.body, "\"code\":\"INVALID_ARGUMENT\"") != NULL, "%s", r.body);
    post_req(req, sizeof(req), "/get-online-features", "{not json", NULL);
    ck_assert(!exchange(F.port, req, &r));      /* a bad body keeps the connection */
    ck_assert_int_eq(r.status, 400);
    /* healthz (GET and HEAD), 404 and 405 as JSON */
    ck_assert(!exchange(F.port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", &r));
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "ok\n");
    exchange(F.port, "GET /nothing HTTP/1.1\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 404);
    ck_assert_msg(strstr(r.body, "\"code\":\"NOT_FOUND\"") != NULL && strstr(r.body, "/nothing") != NULL, "%s",
                  r.body);
    exchange(F.port, "GET /get-online-features HTTP/1.1\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 405);
    /* HTTP/1.0 closes after the answer; Connection: close too */
    ck_assert(exchange(F.port, "GET /healthz HTTP/1.0\r\n\r\n", &r));
    ck_assert(exchange(F.port, "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n", &r));
    /* protobuf clients on the same port */
    char err[256];
    struct featd_client *c = featd_connect("127.0.0.1", F.port, 2000, err, sizeof(err));
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_int_eq(featd_ping(c, NULL), FEATD_OK);
    featd_close(c);
    /* metrics */
    ck_assert_double_ge(h_admin_metric(F.admin_port, "featd_http_connections_total"), 10);
    ck_assert_double_ge(h_admin_metric(F.admin_port,
                                       "featd_requests_total{type=\"http_get_online_features\",code=\"OK\"}"), 4);
}
END_TEST

START_TEST(test_http_keepalive_pipelined)
{
    start(false, false);
    static char buf[65536];
    char req[4096];
    post_req(req, sizeof(req), "/get-online-features", LOOKUP, NULL);
    int fd = dial(F.port);
    /* keep-alive: one connection, several requests one after the other */
    for (int i = 0; i < 5; i++) {
        send_all(fd, req, strlen(req));
        bool closed;
        read_answers(fd, buf, sizeof(buf), 1, 3000, &closed);
        ck_assert(!closed);
        struct resp r;
        size_t pos = 0;
        parse_answer(buf, &pos, &r);
        check_feast(&r, "x", "s");
    }
    /* three pipelined requests in one write (a lookup, healthz, a lookup of
     * another entity) answered in order, though healthz is ready first */
    char three[8192], second[1024];
    post_req(second, sizeof(second), "/get-online-features",
             "{\"features\": [\"v:x\"], \"entities\": {\"user_id\": [2]}}", NULL);
    snprintf(three, sizeof(three), "%sGET /healthz HTTP/1.1\r\n\r\n%s", req, second);
    send_all(fd, three, strlen(three));
    bool closed;
    read_answers(fd, buf, sizeof(buf), 3, 3000, &closed);
    ck_assert(!closed);
    struct resp r1, r2, r3;
    size_t pos = 0;
    parse_answer(buf, &pos, &r1);
    parse_answer(buf, &pos, &r2);
    parse_answer(buf, &pos, &r3);
    check_feast(&r1, "x", "s");
    ck_assert_str_eq(r2.body, "ok\n");
    ck_assert_msg(r3.status == 200 && strstr(r3.body, "\"values\":[42]") != NULL, "%s", r3.body);
    /* a body sent in pieces, with Expect: 100-continue */
    char head[512];
    const char *body = "{\"features\": [\"v:x\"], \"entities\": {\"user_id\": [1]}}";
    snprintf(head, sizeof(head), "POST /get-online-features HTTP/1.1\r\nExpect: 100-continue\r\n"
             "Content-Length: %zu\r\n\r\n", strlen(body));
    send_all(fd, head, strlen(head));
    size_t n = read_answers(fd, buf, sizeof(buf), 1, 3000, &closed);
    ck_assert_msg(n > 0 && strncmp(buf, "HTTP/1.1 100 Continue\r\n\r\n", 25) == 0, "%s", buf);
    send_all(fd, body, 10);
    h_sleep_ms(50);
    send_all(fd, body + 10, strlen(body) - 10);
    n = read_answers(fd, buf, sizeof(buf), 1, 3000, &closed);
    pos = 0;
    parse_answer(buf, &pos, &r1);
    ck_assert_msg(r1.status == 200 && strstr(r1.body, "\"values\":[41]") != NULL, "%s", r1.body);
    close(fd);
}
END_TEST

START_TEST(test_http_bounds)
{
    start(false, false);
    struct resp r;
    /* malformed request line -> 400, closed */
    ck_assert(exchange(F.port, "GET /healthz\r\n\r\n", &r));
    ck_assert_int_eq(r.status, 400);
    ck_assert(exchange(F.port, "POST /get-online-features HTTP/2.0\r\n\r\n", &r));
    ck_assert_int_eq(r.status, 505);
    /* headers over 16 KiB -> 431, closed */
    static char big[40000];
    size_t n = (size_t)snprintf(big, sizeof(big), "GET /healthz HTTP/1.1\r\n");
    while (n < 20000) {
        n += (size_t)snprintf(big + n, sizeof(big) - n, "X-Filler: %0100d\r\n", 7);
    }
    snprintf(big + n, sizeof(big) - n, "\r\n");
    ck_assert(exchange(F.port, big, &r));
    ck_assert_int_eq(r.status, 431);
    /* a body over max_frame_bytes (4096) -> 413 from its Content-Length, closed */
    ck_assert(exchange(F.port, "POST /get-online-features HTTP/1.1\r\nContent-Length: 5000\r\n\r\n", &r));
    ck_assert_int_eq(r.status, 413);
    ck_assert_msg(strstr(r.body, "max_frame_bytes") != NULL, "%s", r.body);
    /* chunked bodies are refused: 411 */
    ck_assert(exchange(F.port, "POST /get-online-features HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &r));
    ck_assert_int_eq(r.status, 411);
    /* an earlier good request on the connection is still answered, in order */
    static char buf[65536];
    int fd = dial(F.port);
    const char *two = "GET /healthz HTTP/1.1\r\n\r\nGARBAGE\r\n\r\n";
    send_all(fd, two, strlen(two));
    bool closed;
    read_answers(fd, buf, sizeof(buf), 2, 3000, &closed);
    size_t pos = 0;
    struct resp r1, r2;
    parse_answer(buf, &pos, &r1);
    parse_answer(buf, &pos, &r2);
    ck_assert_int_eq(r1.status, 200);
    ck_assert_int_eq(r2.status, 400);
    close(fd);
    /* a head that never completes: closed by frame_timeout_ms (400 ms) with a 408 */
    fd = dial(F.port);
    const char *slow = "POST /get-online-features HTTP/1.1\r\nContent-Le";
    send_all(fd, slow, strlen(slow));
    long long t0 = h_now_ms();
    n = read_answers(fd, buf, sizeof(buf), 1, 3000, &closed);
    ck_assert_msg(n > 0 && strncmp(buf, "HTTP/1.1 408", 12) == 0, "%s", buf);
    ck_assert(h_now_ms() - t0 < 2000);
    read_answers(fd, buf + n, sizeof(buf) - n, 2, 2000, &closed);
    ck_assert(closed);
    close(fd);
    ck_assert_double_ge(h_admin_metric(F.admin_port, "featd_http_headers_too_large_total"), 1);
    ck_assert_double_ge(h_admin_metric(F.admin_port, "featd_http_bodies_too_large_total"), 1);
    ck_assert_double_ge(h_admin_metric(F.admin_port, "featd_http_bad_requests_total"), 3);
    ck_assert_double_ge(h_admin_metric(F.admin_port, "featd_frame_timeouts_total"), 1);
    /* the server still serves */
    ck_assert(!exchange(F.port, "GET /healthz HTTP/1.1\r\n\r\n", &r));
    ck_assert_int_eq(r.status, 200);
}
END_TEST

START_TEST(test_http_auth)
{
    start(false, true);
    char req[4096];
    struct resp r;
    post_req(req, sizeof(req), "/get-online-features", LOOKUP, NULL);
    exchange(F.port, req, &r);
    ck_assert_int_eq(r.status, 401);
    ck_assert(strstr(r.head, "WWW-Authenticate: Bearer") != NULL);
    ck_assert_msg(strstr(r.body, "\"code\":\"UNAUTHENTICATED\"") != NULL, "%s", r.body);
    post_req(req, sizeof(req), "/get-online-features", LOOKUP, "Authorization: Bearer wrong\r\n");
    exchange(F.port, req, &r);
    ck_assert_int_eq(r.status, 401);
    post_req(req, sizeof(req), "/get-online-features", LOOKUP, "Authorization: Bearer " TOKEN "\r\n");
    exchange(F.port, req, &r);
    check_feast(&r, "x", "s");
    post_req(req, sizeof(req), "/get-online-features", "{\"features\": [\"w:x\"], \"entities\": {\"user_id\": [1]}}",
             "Authorization: Bearer " TOKEN "\r\n");
    exchange(F.port, req, &r);
    ck_assert_int_eq(r.status, 403);
    ck_assert_msg(strstr(r.body, "PERMISSION_DENIED") != NULL, "%s", r.body);
    /* /healthz stays open */
    exchange(F.port, "GET /healthz HTTP/1.1\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 200);
}
END_TEST

START_TEST(test_http_tls)
{
    sh("cd '%s' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
       "-keyout ca.key -out ca.crt -days 2 -subj '/CN=featd test ca' 2>/dev/null && "
       "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key -out server.csr "
       "-subj '/CN=localhost' 2>/dev/null && printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > server.ext && "
       "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 "
       "-extfile server.ext 2>/dev/null", dir);
    start(true, false);
    char out[8192];
    /* curl over TLS: keep-alive across two lookups on one connection */
    int rc = run(out, sizeof(out), "curl -sS --cacert '%s/ca.crt' -H 'Content-Type: application/json' "
                 "-d '%s' https://localhost:%d/get-online-features --next --cacert '%s/ca.crt' "
                 "-d '%s' https://localhost:%d/get-online-features -w '\\n%%{num_connects}' 2>&1",
                 dir, LOOKUP, F.port, dir, LOOKUP, F.port);
    ck_assert_msg(rc == 0, "curl: %s", out);
    ck_assert_msg(strstr(out, "\"feature_names\":[\"user_id\",\"x\",\"s\"]") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "\"values\":[41,42,null]") != NULL, "%s", out);
    ck_assert_msg(out[strlen(out) - 1] == '0', "second request reconnected: %s", out);
    rc = run(out, sizeof(out), "curl -sS --cacert '%s/ca.crt' https://localhost:%d/healthz 2>&1", dir, F.port);
    ck_assert_msg(rc == 0 && strcmp(out, "ok\n") == 0, "%s", out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("e2e_http");
    TCase *tc = tcase_create("http");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_http_lookups);
    tcase_add_test(tc, test_http_keepalive_pipelined);
    tcase_add_test(tc, test_http_bounds);
    tcase_add_test(tc, test_http_auth);
    tcase_add_test(tc, test_http_tls);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
