/*
 * e2e_ops.c — end-to-end tests of operating featd: the admin HTTP port
 * (/healthz, /readyz, /metrics checked by promtool, /v1/feature-views, the
 * JSON lookup against the protobuf one, its cell statuses and refusals),
 * SIGHUP reloads (valid and invalid) under traffic, SIGTERM with requests
 * in flight, --log-format json, connections spread evenly over the
 * workers, and the request phases (every request counted in each phase; a
 * request slowed by Redis DEBUG SLEEP counted slow, in the redis phase, and
 * logged; the slow-request log rate-limited under a burst;
 * server.slow_request_ms 0 after a reload).
 * A real redis-server and the real featd binary on free loopback ports;
 * rows written with the online-tier writers; HTTP spoken with a tiny
 * blocking socket helper (no HTTP client library).
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "config/config.h"
#include "featd_client.h"
#include "harness.h"
#include "online/online.h"
#include "core/fbuf.h"
#include "core/util.h"

#define PREFIX "ops"

static struct h_redis R;
static struct h_featd F;
static struct featd_config *cfg;
static char cfg_json[16384];
static int serve_port, admin_port;

/* %d serve, %d admin, %s extra server keys, %d redis, %s extra views */
#define CFG_FMT \
    "{ \"server\": { \"listen\": \"127.0.0.1:%d\", \"admin_listen\": \"127.0.0.1:%d\", \"workers\": 2," \
    "    \"max_frame_bytes\": 65536, \"max_entities_per_request\": 100, \"request_timeout_ms\": 2000," \
    "    \"shutdown_timeout_ms\": 5000, \"log_level\": \"info\" %s }," \
    "  \"redis\": { \"url\": \"redis://127.0.0.1:%d/0\", \"key_prefix\": \"" PREFIX "\", \"timeout_ms\": 300 }," \
    "  \"entities\": [" \
    "    { \"name\": \"user\", \"join_keys\": [ { \"name\": \"user_id\", \"type\": \"int64\" } ] }," \
    "    { \"name\": \"item\", \"join_keys\": [ { \"name\": \"item_id\", \"type\": \"string\" } ] } ]," \
    "  \"feature_views\": [" \
    "    { \"name\": \"stats\", \"entities\": [\"user\"], \"ttl_seconds\": 3600, \"features\": [" \
    "        { \"name\": \"b\", \"type\": \"bool\" }, { \"name\": \"i32\", \"type\": \"int32\" }," \
    "        { \"name\": \"i64\", \"type\": \"int64\" }, { \"name\": \"f\", \"type\": \"float\" }," \
    "        { \"name\": \"d\", \"type\": \"double\" }, { \"name\": \"s\", \"type\": \"string\" }," \
    "        { \"name\": \"by\", \"type\": \"bytes\" }, { \"name\": \"ts\", \"type\": \"timestamp\" }," \
    "        { \"name\": \"fl\", \"type\": \"float_list\" }, { \"name\": \"dl\", \"type\": \"double_list\" }," \
    "        { \"name\": \"il\", \"type\": \"int64_list\" }, { \"name\": \"sl\", \"type\": \"string_list\" } ] }," \
    "    { \"name\": \"user_item\", \"entities\": [\"user\", \"item\"], \"ttl_seconds\": 60, \"features\": [" \
    "        { \"name\": \"score\", \"type\": \"float\" }, { \"name\": \"seen\", \"type\": \"bool\" } ] }" \
    "    %s ] }"

static const char *extra_view =
    ", { \"name\": \"extra\", \"entities\": [\"user\"], \"features\": ["
    "      { \"name\": \"n\", \"type\": \"int64\" }, { \"name\": \"label\", \"type\": \"string\" } ] }";

static void make_config(char *out, size_t cap, const char *server_extra, const char *views_extra)
{
    int n = snprintf(out, cap, CFG_FMT, serve_port, admin_port, server_extra, R.port, views_extra);
    ck_assert(n > 0 && (size_t)n < cap);
}

static void write_file(const char *path, const char *text)
{
    /* write + rename: a reload never sees half a file */
    char tmp[512];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *fp = fopen(tmp, "w");
    ck_assert_msg(fp != NULL, "%s: %s", tmp, strerror(errno));
    ck_assert(fwrite(text, 1, strlen(text), fp) == strlen(text));
    fclose(fp);
    ck_assert_int_eq(rename(tmp, path), 0);
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* The tail of featd's log on stderr (when something unexpected happens). */
static void dump_featd_log(void)
{
    FILE *fp = fopen(F.log_path, "r");
    if (fp == NULL) {
        return;
    }
    char buf[4096];
    size_t n;
    fprintf(stderr, "---- featd log (%s) ----\n", F.log_path);
    while ((n = fread(buf, 1, sizeof(buf), fp)) > 0) {
        fwrite(buf, 1, n, stderr);
    }
    fprintf(stderr, "---- end of featd log ----\n");
    fclose(fp);
}

/* ---- tiny blocking HTTP/1.1 client ---- */

struct http_resp {
    int status;
    char *headers;      /* malloc'd, NUL-terminated */
    char *body;         /* malloc'd, NUL-terminated */
    size_t body_len;
};

static void http_free(struct http_resp *r)
{
    free(r->headers);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

/* Connects and sends one request (Connection: close); returns the socket.
 * extra_headers (may be NULL) is inserted verbatim ("Name: v\r\n..."). */
static int http_send(int port, const char *method, const char *path, const char *body, size_t body_len,
                     const char *extra_headers)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert(fd >= 0);
    struct timeval tv = { 10, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        int e = errno;
        dump_featd_log();
        ck_abort_msg("connect to admin port %d: %s (featd log above)", port, strerror(e));
    }
    size_t hcap = 1024 + (extra_headers ? strlen(extra_headers) : 0);
    char *head = malloc(hcap);
    ck_assert(head != NULL);
    int n = snprintf(head, hcap,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n%s%s",
                     method, path, port, extra_headers ? extra_headers : "", body ? "" : "\r\n");
    if (body) {
        n += snprintf(head + n, hcap - (size_t)n,
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n", body_len);
    }
    ck_assert(n > 0 && (size_t)n < hcap);
    ssize_t sent = send(fd, head, (size_t)n, MSG_NOSIGNAL);
    free(head);
    ck_assert_msg(sent == n || extra_headers, "send: %s", strerror(errno));
    size_t off = 0;
    while (body && off < body_len) {
        ssize_t w = send(fd, body + off, body_len - off, MSG_NOSIGNAL);
        if (w <= 0) {
            break;      /* the server may answer early (413) and close */
        }
        off += (size_t)w;
    }
    return fd;
}

/* Reads the whole response (until the server closes) and parses it. */
static void http_recv(int fd, struct http_resp *r)
{
    memset(r, 0, sizeof(*r));
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    ck_assert(buf != NULL);
    for (;;) {
        if (len + 4096 > cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            ck_assert(buf != NULL);
        }
        ssize_t n = recv(fd, buf + len, cap - len - 1, 0);
        if (n == 0) {
            break;
        }
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            ck_assert_msg(errno == ECONNRESET && len > 0, "reading the HTTP response: %s", strerror(errno));
            break;
        }
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    char *sep = strstr(buf, "\r\n\r\n");
    ck_assert_msg(sep != NULL, "no HTTP header end in: %.200s", buf);
    ck_assert_msg(sscanf(buf, "HTTP/1.%*d %d", &r->status) == 1, "bad status line: %.80s", buf);
    r->headers = strndup(buf, (size_t)(sep - buf) + 2);
    r->body_len = len - (size_t)(sep + 4 - buf);
    r->body = malloc(r->body_len + 1);
    memcpy(r->body, sep + 4, r->body_len);
    r->body[r->body_len] = '\0';
    free(buf);
}

static void http(int port, const char *method, const char *path, const char *body, struct http_resp *r)
{
    int fd = http_send(port, method, path, body, body ? strlen(body) : 0, NULL);
    http_recv(fd, r);
}

static void get(const char *path, struct http_resp *r)
{
    http(F.admin_port, "GET", path, NULL, r);
}

/* Feast's shape puts the request's join keys first as columns (PRESENT, the
 * epoch): checks them and removes them, so the tests below index features
 * from 0. */
static void drop_key_columns(json_t *doc, const char *body)
{
    json_t *req = json_loads(body, 0, NULL);
    ck_assert(req != NULL);
    const json_t *ents = json_object_get(req, "entities");
    json_t *names = json_object_get(json_object_get(doc, "metadata"), "feature_names");
    json_t *results = json_object_get(doc, "results");
    const char *key;
    const json_t *vals;
    json_object_foreach((json_t *)ents, key, vals) {
        ck_assert_str_eq(json_string_value(json_array_get(names, 0)), key);
        const json_t *col = json_array_get(results, 0);
        ck_assert_msg(json_equal(json_object_get(col, "values"), (json_t *)vals), "join key column %s", key);
        for (size_t r = 0; r < json_array_size(vals); r++) {
            ck_assert_str_eq(json_string_value(json_array_get(json_object_get(col, "statuses"), r)), "PRESENT");
            ck_assert_str_eq(json_string_value(json_array_get(json_object_get(col, "event_timestamps"), r)),
                             "1970-01-01T00:00:00Z");
        }
        json_array_remove(names, 0);
        json_array_remove(results, 0);
    }
    json_decref(req);
}

static json_t *post_json(const char *body, int expect_status)
{
    struct http_resp r;
    http(F.admin_port, "POST", "/get-online-features", body, &r);
    ck_assert_msg(r.status == expect_status, "POST %s: expected %d, got %d: %s", body, expect_status, r.status,
                  r.body);
    ck_assert_msg(strstr(r.headers, "application/json") != NULL, "content type: %s", r.headers);
    json_error_t jerr;
    json_t *doc = json_loads(r.body, 0, &jerr);
    ck_assert_msg(doc != NULL, "response is not JSON (%s): %s", jerr.text, r.body);
    http_free(&r);
    if (expect_status == 200) {
        drop_key_columns(doc, body);
    }
    return doc;
}

/* Expects a JSON error with HTTP status and code; returns the message. */
static const char *post_error(const char *body, int status, const char *code)
{
    static char msg[1024];
    json_t *doc = post_json(body, status);
    const char *c = json_string_value(json_object_get(json_object_get(doc, "error"), "code"));
    const char *m = json_string_value(json_object_get(json_object_get(doc, "error"), "message"));
    ck_assert_msg(c && m, "error body shape");
    ck_assert_str_eq(c, code);
    snprintf(msg, sizeof(msg), "%s", m);
    json_decref(doc);
    return msg;
}

/* ---- metrics page ---- */

static char *scrape(void)
{
    struct http_resp r;
    get("/metrics", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(strstr(r.headers, "text/plain; version=0.0.4") != NULL, "content type: %s", r.headers);
    char *page = r.body;
    r.body = NULL;
    http_free(&r);
    return page;
}

/* Value of one series ("name{labels}" exactly as exposed); -1 when absent. */
static double metric(const char *page, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = page; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ') {
            return strtod(p + n + 1, NULL);
        }
    }
    return -1;
}

static bool have_promtool(void)
{
    return system("command -v promtool >/dev/null 2>&1") == 0;
}

/* Runs promtool check metrics on page; fails the test with its output. */
static void promtool_check(const char *page)
{
    char dir[256], in[300], out[300], cmd[1024];
    h_tempdir(dir, "promtool");
    snprintf(in, sizeof(in), "%s/metrics.txt", dir);
    snprintf(out, sizeof(out), "%s/promtool.out", dir);
    write_file(in, page);
    snprintf(cmd, sizeof(cmd), "promtool check metrics < %s > %s 2>&1", in, out);
    int rc = system(cmd);
    FILE *fp = fopen(out, "r");
    char text[8192] = "";
    if (fp) {
        size_t n = fread(text, 1, sizeof(text) - 1, fp);
        text[n] = '\0';
        fclose(fp);
    }
    ck_assert_msg(rc == 0, "promtool check metrics failed (status %d):\n%s", rc, text);
    ck_assert_msg(text[0] == '\0', "promtool check metrics reported problems:\n%s", text);
}

/* ---- writing rows with the online-tier primitives ---- */

static redisContext *rconn(void)
{
    redisContext *c = redisConnect("127.0.0.1", R.port);
    ck_assert_msg(c && !c->err, "connect to test redis");
    return c;
}

static const struct cfg_view *view_of(const struct featd_config *conf, const char *name)
{
    const struct cfg_view *v = config_find_view(conf, name);
    ck_assert_msg(v != NULL, "view %s", name);
    return v;
}

/* stats rows for users 1..n (a new generation, then the flip). User 2 is all
 * nulls; user 3 carries NaN / infinities and awkward strings. */
static void write_stats(int n, int64_t event_ts)
{
    const struct cfg_view *v = view_of(cfg, "stats");
    redisContext *c = rconn();
    char err[256];
    uint64_t gen, old;
    ck_assert_int_eq(online_gen_alloc(c, PREFIX, v, &gen, err, sizeof(err)), FEATD_OK);
    struct online_writer *w = online_writer_new(c, PREFIX, v, 64);
    for (int u = 1; u <= n; u++) {
        struct online_value vals[12];
        memset(vals, 0, sizeof(vals));
        struct fbuf fl = { 0 }, dl = { 0 }, il = { 0 }, sl = { 0 };
        char s[64];
        if (u == 3) {
            snprintf(s, sizeof(s), "caf\xc3\xa9 \"q\" \\ \x01 \xff end");
        } else {
            snprintf(s, sizeof(s), "user-%d", u);
        }
        ck_assert_int_eq(online_row_list_put_float(&fl, u == 3 ? NAN : 0.1f * (float)u), FEATD_OK);
        ck_assert_int_eq(online_row_list_put_float(&fl, -1e30f), FEATD_OK);
        ck_assert_int_eq(online_row_list_put_double(&dl, u == 3 ? -INFINITY : 1.0 / 3.0 * u), FEATD_OK);
        ck_assert_int_eq(online_row_list_put_int64(&il, INT64_MIN + u), FEATD_OK);
        ck_assert_int_eq(online_row_list_put_string(&sl, "x\ty", 3), FEATD_OK);
        ck_assert_int_eq(online_row_list_put_string(&sl, "", 0), FEATD_OK);
        for (int f = 0; f < 12; f++) {
            vals[f].is_null = (u == 2);
        }
        vals[0].u.b = u % 2;
        vals[1].u.i32 = -u * 7;
        vals[2].u.i64 = (int64_t)u * 9007199254740993LL;     /* beyond 2^53 */
        vals[3].u.f = u == 3 ? INFINITY : 0.1f * (float)u;
        vals[4].u.d = u == 3 ? NAN : 0.1 * u;
        vals[5].s = s;
        vals[5].slen = strlen(s);
        vals[6].s = "\x00\x01\xfe\xff";
        vals[6].slen = (size_t)(u % 4) + 1;
        vals[7].u.i64 = 1700000000000000LL + u * 123457LL;
        vals[8].count = 2; vals[8].raw = (const uint8_t *)fl.data; vals[8].rawlen = fl.len;
        vals[9].count = 1; vals[9].raw = (const uint8_t *)dl.data; vals[9].rawlen = dl.len;
        vals[10].count = 1; vals[10].raw = (const uint8_t *)il.data; vals[10].rawlen = il.len;
        vals[11].count = 2; vals[11].raw = (const uint8_t *)sl.data; vals[11].rawlen = sl.len;
        struct online_key key = { .i = u };
        ck_assert_int_eq(online_writer_put(w, gen, &key, event_ts + u, ONLINE_NO_CREATED_TS, vals, err,
                                           sizeof(err)), FEATD_OK);
        fbuf_free(&fl); fbuf_free(&dl); fbuf_free(&il); fbuf_free(&sl);
    }
    ck_assert_int_eq(online_writer_flush(w, err, sizeof(err)), FEATD_OK);
    online_writer_free(w);
    ck_assert_int_eq(online_gen_flip(c, PREFIX, v, gen, &old, err, sizeof(err)), FEATD_OK);
    redisFree(c);
}

static void write_user_item(int64_t user, const char *item, float score, int64_t event_ts)
{
    const struct cfg_view *v = view_of(cfg, "user_item");
    redisContext *c = rconn();
    char err[256];
    uint64_t gen;
    ck_assert_int_eq(online_gen_ensure(c, PREFIX, v, &gen, err, sizeof(err)), FEATD_OK);
    struct online_writer *w = online_writer_new(c, PREFIX, v, 8);
    struct online_key keys[2] = { { .i = user }, { .s = item, .slen = strlen(item) } };
    struct online_value vals[2];
    memset(vals, 0, sizeof(vals));
    vals[0].u.f = score;
    vals[1].u.b = true;
    ck_assert_int_eq(online_writer_upsert(w, gen, keys, event_ts, ONLINE_NO_CREATED_TS, vals, err,
                                          sizeof(err)), FEATD_OK);
    ck_assert_int_eq(online_writer_flush(w, err, sizeof(err)), FEATD_OK);
    online_writer_free(w);
    redisFree(c);
}

/* extra rows (the view added by a reload) under conf's schema. */
static void write_extra(const struct featd_config *conf, int n)
{
    const struct cfg_view *v = view_of(conf, "extra");
    redisContext *c = rconn();
    char err[256];
    uint64_t gen, old;
    ck_assert_int_eq(online_gen_alloc(c, PREFIX, v, &gen, err, sizeof(err)), FEATD_OK);
    struct online_writer *w = online_writer_new(c, PREFIX, v, 16);
    for (int u = 1; u <= n; u++) {
        struct online_value vals[2];
        memset(vals, 0, sizeof(vals));
        vals[0].u.i64 = 100 + u;
        vals[1].s = "new";
        vals[1].slen = 3;
        struct online_key key = { .i = u };
        ck_assert_int_eq(online_writer_put(w, gen, &key, util_now_us(), ONLINE_NO_CREATED_TS, vals, err,
                                           sizeof(err)), FEATD_OK);
    }
    ck_assert_int_eq(online_writer_flush(w, err, sizeof(err)), FEATD_OK);
    online_writer_free(w);
    ck_assert_int_eq(online_gen_flip(c, PREFIX, v, gen, &old, err, sizeof(err)), FEATD_OK);
    redisFree(c);
}

/* ---- fixtures ---- */

static bool log_contains(const char *needle)
{
    FILE *fp = fopen(F.log_path, "r");
    if (fp == NULL) {
        return false;
    }
    char line[8192];
    bool found = false;
    while (!found && fgets(line, sizeof(line), fp)) {
        found = strstr(line, needle) != NULL;
    }
    fclose(fp);
    return found;
}


static void setup(void)
{
    h_redis_start(&R);
    serve_port = h_free_port();
    admin_port = h_free_port();
    while (admin_port == serve_port) {
        admin_port = h_free_port();
    }
    make_config(cfg_json, sizeof(cfg_json), "", "");
    char err[4096];
    ck_assert_msg(config_load_string(cfg_json, &cfg, err, sizeof(err)) == FEATD_OK, "config: %s", err);
    int64_t now = util_now_us();
    write_stats(5, now - 5000000);
    write_user_item(1, "book", 0.75f, now);
    write_user_item(1, "pen:blue", 0.5f, now - 3600LL * 1000000);   /* older than ttl 60 s */
    h_featd_start(&F, cfg_json);
    ck_assert_int_eq(F.admin_port, admin_port);
    /* The harness returns once the serving port accepts; the admin port and
     * the signal handlers come a moment later. The startup line is logged
     * after both. */
    for (int i = 0; i < 500 && !log_contains("featd " FEATD_VERSION " serving"); i++) {
        sleep_ms(10);
    }
    ck_assert_msg(log_contains("featd " FEATD_VERSION " serving"), "featd did not finish starting");
}

static void teardown(void)
{
    h_featd_stop(&F);
    h_redis_stop(&R);
    config_free(cfg);
    cfg = NULL;
}

static struct featd_client *cli(void)
{
    char err[256];
    struct featd_client *c = featd_connect("127.0.0.1", F.port, 5000, err, sizeof(err));
    ck_assert_msg(c != NULL, "connect: %s", err);
    return c;
}

/* Polls /readyz until it answers want (or times out); returns the last body. */
static char *wait_readyz(int want, int timeout_ms)
{
    static char last[512];
    long long waited = 0;
    for (;;) {
        struct http_resp r;
        get("/readyz", &r);
        snprintf(last, sizeof(last), "%s", r.body);
        int st = r.status;
        http_free(&r);
        if (st == want) {
            return last;
        }
        ck_assert_msg(waited < timeout_ms, "/readyz stayed %d (want %d) for %d ms: %s", st, want, timeout_ms, last);
        sleep_ms(50);
        waited += 50;
    }
}

/* ---- tests ---- */

START_TEST(test_health_routes)
{
    struct http_resp r;
    get("/healthz", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "ok\n");
    http_free(&r);
    wait_readyz(200, 5000);
    get("/readyz", &r);
    ck_assert_str_eq(r.body, "ready\n");
    http_free(&r);

    get("/nope", &r);
    ck_assert_int_eq(r.status, 404);
    http_free(&r);
    get("/", &r);
    ck_assert_int_eq(r.status, 404);
    http_free(&r);
    http(F.admin_port, "POST", "/metrics", "{}", &r);
    ck_assert_int_eq(r.status, 405);
    ck_assert_msg(strstr(r.headers, "Allow: GET") != NULL, "%s", r.headers);
    http_free(&r);
    get("/get-online-features", &r);
    ck_assert_int_eq(r.status, 405);
    ck_assert_msg(strstr(r.headers, "Allow: POST") != NULL, "%s", r.headers);
    http_free(&r);
    http(F.admin_port, "DELETE", "/healthz", NULL, &r);
    ck_assert_int_eq(r.status, 405);
    http_free(&r);

    /* a query string does not change the route */
    get("/healthz?verbose=1", &r);
    ck_assert_int_eq(r.status, 200);
    http_free(&r);

    /* body bound: Content-Length above max_frame_bytes is refused (413) */
    int fd = http_send(F.admin_port, "POST", "/get-online-features", NULL, 0,
                       "Content-Length: 10000000\r\n");
    http_recv(fd, &r);
    ck_assert_int_eq(r.status, 413);
    http_free(&r);
    /* header bound: 32 KiB of headers are refused */
    char *big = malloc(40000);
    ck_assert(big != NULL);
    size_t n = 0;
    for (int i = 0; n < 33000; i++) {
        n += (size_t)sprintf(big + n, "X-Filler-%d: %0100d\r\n", i, 0);
    }
    fd = http_send(F.admin_port, "GET", "/healthz", NULL, 0, big);
    free(big);
    char buf[256];
    ssize_t got = recv(fd, buf, sizeof(buf) - 1, 0);
    close(fd);
    if (got > 0) {
        buf[got] = '\0';
        ck_assert_msg(strncmp(buf, "HTTP/1.1 200", 12) != 0, "oversized headers were served: %s", buf);
    }
    /* the port still works */
    get("/healthz", &r);
    ck_assert_int_eq(r.status, 200);
    http_free(&r);
}
END_TEST

START_TEST(test_metrics_promtool_and_counters)
{
    wait_readyz(200, 5000);     /* every worker has its Redis link */
    char *before = scrape();
    if (have_promtool()) {
        promtool_check(before);
    } else {
        fprintf(stderr, "\n*** SKIP promtool check: promtool not found (Debian package \"prometheus\"); "
                        "the counter checks still run ***\n\n");
    }
    /* every family featd promises */
    static const char *const families[] = {
        "featd_connections_accepted_total", "featd_connections_rejected_total", "featd_frames_too_large_total",
        "featd_decode_errors_total", "featd_redis_errors_total", "featd_redis_reconnects_total",
        "featd_requests_total", "featd_value_status_total", "featd_request_latency_seconds",
        "featd_redis_latency_seconds", "featd_connections_open", "featd_inflight_requests",
        "featd_redis_connected", "featd_up", "featd_build_info", "featd_registry_version",
        "featd_feature_views", "featd_uptime_seconds", "featd_reloads_total", "featd_workers",
        "featd_worker_connections", "featd_connections_handed_off_total",
    };
    for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
        char t[200];
        snprintf(t, sizeof(t), "# TYPE %s ", families[i]);
        ck_assert_msg(strstr(before, t) != NULL, "family %s missing", families[i]);
    }
    ck_assert(metric(before, "featd_up") == 1);
    ck_assert(metric(before, "featd_build_info{version=\"" FEATD_VERSION "\"}") == 1);
    ck_assert(metric(before, "featd_registry_version") == 1);
    ck_assert(metric(before, "featd_feature_views") == 2);
    ck_assert(metric(before, "featd_workers") == 2);
    ck_assert(metric(before, "featd_redis_connected") == 2);
    ck_assert(metric(before, "featd_reloads_total{result=\"ok\"}") == 0);

    /* requests of each kind */
    struct featd_client *c = cli();
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(featd_ping(c, NULL), FEATD_OK);
    }
    Featd__V1__Response *resp = NULL;
    ck_assert_int_eq(featd_list_views(c, &resp), FEATD_OK);
    featd_response_free(resp);
    ck_assert_int_eq(featd_server_info(c, &resp), FEATD_OK);
    featd_response_free(resp);
    struct featd_get *g = featd_get_new();
    featd_get_add_feature(g, "stats:*");
    featd_get_add_int64(g, "user_id", 1);
    featd_get_add_int64(g, "user_id", 2);
    featd_get_add_int64(g, "user_id", 99);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(featd_lookup(c, g, &resp), FEATD_OK);
        featd_response_free(resp);
    }
    featd_get_reset(g);
    featd_get_add_feature(g, "nope:x");
    featd_get_add_int64(g, "user_id", 1);
    ck_assert_int_eq(featd_call(c, featd_get_request(g, 77), &resp), FEATD_OK);
    ck_assert_int_eq(resp->body_case, FEATD__V1__RESPONSE__BODY_ERROR);
    featd_response_free(resp);
    json_decref(post_json("{\"features\": [\"user_item:score\"], \"entities\": "
                          "{\"user_id\": [1], \"item_id\": [\"book\"]}}", 200));
    post_error("{\"features\": [\"stats:b\"], \"entities\": {\"user_id\": [\"1\"]}}", 400, "INVALID_ARGUMENT");

    char *mid = scrape();       /* c is still open */
    ck_assert(metric(mid, "featd_connections_open") >= 1);
    featd_get_free(g);
    featd_close(c);

    char *after = scrape();
    for (int i = 0; i < 50 && metric(after, "featd_connections_closed_total") ==
                                   metric(before, "featd_connections_closed_total"); i++) {
        free(after);
        sleep_ms(20);       /* the close reaches the worker asynchronously */
        after = scrape();
    }
    if (have_promtool()) {
        promtool_check(after);
    }
#define DELTA(series) (metric(after, series) - metric(before, series))
    ck_assert_msg(DELTA("featd_requests_total{type=\"ping\",code=\"OK\"}") == 3, "ping");
    ck_assert(DELTA("featd_requests_total{type=\"list_feature_views\",code=\"OK\"}") == 1);
    ck_assert(DELTA("featd_requests_total{type=\"server_info\",code=\"OK\"}") == 1);
    ck_assert(DELTA("featd_requests_total{type=\"get_online_features\",code=\"OK\"}") == 2);
    ck_assert(DELTA("featd_requests_total{type=\"get_online_features\",code=\"INVALID_ARGUMENT\"}") == 1);
    ck_assert(DELTA("featd_requests_total{type=\"http_get_online_features\",code=\"OK\"}") == 1);
    ck_assert(DELTA("featd_requests_total{type=\"http_get_online_features\",code=\"INVALID_ARGUMENT\"}") == 1);
    /* 2 lookups x 12 features x 3 rows: user 1 present, 2 null, 99 missing; + 1 JSON value */
    ck_assert_msg(DELTA("featd_value_status_total{status=\"PRESENT\"}") == 2 * 12 + 1, "PRESENT %g",
                  DELTA("featd_value_status_total{status=\"PRESENT\"}"));
    ck_assert(DELTA("featd_value_status_total{status=\"NULL_VALUE\"}") == 2 * 12);
    ck_assert(DELTA("featd_value_status_total{status=\"NOT_FOUND\"}") == 2 * 12);
    ck_assert(DELTA("featd_connections_accepted_total") >= 1);
    ck_assert(DELTA("featd_connections_closed_total") >= 1);
    ck_assert(DELTA("featd_request_latency_seconds_count") >= 9);
    ck_assert(DELTA("featd_redis_latency_seconds_count") >= 3);
    ck_assert(DELTA("featd_redis_commands_total") >= 3);
    ck_assert(DELTA("featd_entities_requested_total") == 2 * 3 + 1);
    ck_assert(metric(after, "featd_request_latency_seconds_bucket{le=\"+Inf\"}") ==
              metric(after, "featd_request_latency_seconds_count"));
    ck_assert(DELTA("featd_admin_http_requests_total{path=\"/metrics\",code=\"200\"}") >= 2);
    ck_assert(metric(after, "featd_uptime_seconds") > 0);
#undef DELTA
    free(before);
    free(mid);
    free(after);
}
END_TEST

START_TEST(test_readyz_follows_redis)
{
    wait_readyz(200, 5000);
    h_redis_stop(&R);
    const char *why = wait_readyz(503, 3000);
    ck_assert_msg(strncmp(why, "not ready: redis 127.0.0.1:", 27) == 0, "reason: %s", why);
    ck_assert_msg(strchr(why, '\n') == why + strlen(why) - 1, "one line: %s", why);
    /* healthz is about the process, not Redis */
    struct http_resp r;
    get("/healthz", &r);
    ck_assert_int_eq(r.status, 200);
    http_free(&r);
    /* JSON lookups say UNAVAILABLE (503) */
    const char *m = post_error("{\"features\": [\"stats:b\"], \"entities\": {\"user_id\": [1]}}", 503,
                               "UNAVAILABLE");
    ck_assert_msg(strstr(m, "redis") != NULL, "%s", m);
    char *page = scrape();
    ck_assert(metric(page, "featd_redis_connected") == 0);
    ck_assert(metric(page, "featd_admin_redis_connected") == 0);
    free(page);

    h_redis_restart(&R);
    wait_readyz(200, 8000);
    page = scrape();
    ck_assert(metric(page, "featd_redis_connected") == 2);
    free(page);

    /* paused Redis: the link is up but PING does not come back */
    h_redis_pause(&R);
    struct timeval t0, t1;
    gettimeofday(&t0, NULL);
    get("/readyz", &r);
    gettimeofday(&t1, NULL);
    h_redis_resume(&R);
    ck_assert_int_eq(r.status, 503);
    ck_assert_msg(strstr(r.body, "did not answer INFO within 300 ms") != NULL, "%s", r.body);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_usec - t0.tv_usec) / 1000;
    ck_assert_msg(ms < 2000, "readyz took %ld ms", ms);
    http_free(&r);
    wait_readyz(200, 5000);
}
END_TEST

/* Compares one JSON value with the protobuf value (via libfeatd's JSON
 * formatting, which follows the same conventions). */
static void same_value(const json_t *jv, const Featd__V1__Value *pv, const char *what)
{
    char *txt = featd_value_str(pv, FEATD_FMT_JSON);
    ck_assert(txt != NULL);
    json_error_t jerr;
    json_t *want = json_loads(txt, JSON_DECODE_ANY, &jerr);
    ck_assert_msg(want != NULL, "libfeatd JSON %s: %s", txt, jerr.text);
    char *got = json_dumps(jv, JSON_ENCODE_ANY);
    ck_assert_msg(json_equal(want, (json_t *)jv), "%s: JSON lookup gave %s, protobuf lookup %s", what, got, txt);
    free(got);
    free(txt);
    json_decref(want);
}

/* Runs the same lookup over both protocols and compares everything. */
static void compare_lookup(struct featd_client *c, const char *json_body, struct featd_get *g)
{
    Featd__V1__Response *resp = NULL;
    ck_assert_msg(featd_lookup(c, g, &resp) == FEATD_OK, "protobuf lookup: %s", featd_errmsg(c));
    const Featd__V1__GetOnlineFeaturesResponse *pr = resp->get_online_features;
    json_t *doc = post_json(json_body, 200);
    const json_t *names = json_object_get(json_object_get(doc, "metadata"), "feature_names");
    const json_t *results = json_object_get(doc, "results");
    ck_assert_uint_eq(json_array_size(names), pr->n_feature_names);
    ck_assert_uint_eq(json_array_size(results), pr->n_results);
    for (size_t f = 0; f < pr->n_results; f++) {
        /* Feast's names: bare, or "view__feature" with full_feature_names */
        char want[256];
        const char *colon = strchr(pr->feature_names[f], ':');
        if (strstr(json_body, "\"full_feature_names\": true") != NULL) {
            snprintf(want, sizeof(want), "%.*s__%s", (int)(colon - pr->feature_names[f]), pr->feature_names[f],
                     colon + 1);
        } else {
            snprintf(want, sizeof(want), "%s", colon + 1);
        }
        ck_assert_str_eq(json_string_value(json_array_get(names, f)), want);
        const json_t *res = json_array_get(results, f);
        const json_t *vals = json_object_get(res, "values");
        const json_t *sts = json_object_get(res, "statuses");
        const json_t *tss = json_object_get(res, "event_timestamps");
        const Featd__V1__FeatureVector *fv = pr->results[f];
        ck_assert_uint_eq(json_array_size(vals), fv->n_values);
        ck_assert_uint_eq(json_array_size(sts), fv->n_statuses);
        ck_assert_uint_eq(json_array_size(tss), fv->n_event_timestamps_us);
        for (size_t r = 0; r < fv->n_values; r++) {
            char what[128];
            snprintf(what, sizeof(what), "%s row %zu", pr->feature_names[f], r);
            same_value(json_array_get(vals, r), fv->values[r], what);
            ck_assert_str_eq(json_string_value(json_array_get(sts, r)), featd_status_name(fv->statuses[r]));
            char ts[64];
            featd_time_format(fv->event_timestamps_us[r], ts, sizeof(ts));
            ck_assert_str_eq(json_string_value(json_array_get(tss, r)), ts);
        }
    }
    json_decref(doc);
    featd_response_free(resp);
}

START_TEST(test_json_lookup_matches_protobuf)
{
    struct featd_client *c = cli();
    struct featd_get *g = featd_get_new();

    featd_get_add_feature(g, "stats:*");
    for (int u = 1; u <= 6; u++) {
        featd_get_add_int64(g, "user_id", u);
    }
    compare_lookup(c, "{\"features\": [\"stats:*\"], \"entities\": {\"user_id\": [1, 2, 3, 4, 5, 6]}}", g);

    /* several views, composite keys, statuses PRESENT / NOT_FOUND / OUTSIDE_MAX_AGE */
    featd_get_reset(g);
    featd_get_add_feature(g, "user_item:score");
    featd_get_add_feature(g, "stats:s");
    featd_get_add_feature(g, "user_item:seen");
    const char *items[] = { "book", "pen:blue", "book", "\xc3\xa9" };
    int64_t users[] = { 1, 1, 2, 1 };
    for (int i = 0; i < 4; i++) {
        featd_get_add_int64(g, "user_id", users[i]);
        featd_get_add_string(g, "item_id", items[i]);
    }
    featd_get_set_deadline(g, 1500);
    compare_lookup(c, "{\"features\": [\"user_item:score\", \"stats:s\", \"user_item:seen\"], "
                      "\"entities\": {\"item_id\": [\"book\", \"pen:blue\", \"book\", \"\\u00e9\"], "
                      "\"user_id\": [1, 1, 2, 1]}, \"deadline_ms\": 1500, \"full_feature_names\": true}", g);

    /* spot checks of the JSON shape itself */
    json_t *doc = post_json("{\"features\": [\"stats:i64\", \"stats:by\", \"stats:ts\", \"stats:f\", \"stats:d\"],"
                            " \"entities\": {\"user_id\": [1, 3, 99]}}", 200);
    const json_t *res = json_object_get(doc, "results");
    ck_assert(json_integer_value(json_array_get(json_object_get(json_array_get(res, 0), "values"), 0)) ==
              9007199254740993LL);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(json_array_get(res, 1), "values"), 0)),
                     "AAE=");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(json_array_get(res, 2), "values"), 0)),
                     "2023-11-14T22:13:20.123457Z");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(json_array_get(res, 3), "values"), 1)),
                     "Infinity");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(json_array_get(res, 4), "values"), 1)),
                     "NaN");
    ck_assert(json_is_null(json_array_get(json_object_get(json_array_get(res, 0), "values"), 2)));
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(json_array_get(res, 0), "statuses"), 2)),
                     "NOT_FOUND");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(json_array_get(res, 0),
                                                                      "event_timestamps"), 2)),
                     "1970-01-01T00:00:00Z");
    json_decref(doc);

    /* the registry endpoint */
    struct http_resp r;
    get("/v1/feature-views", &r);
    ck_assert_int_eq(r.status, 200);
    json_error_t jerr;
    doc = json_loads(r.body, 0, &jerr);
    ck_assert_msg(doc != NULL, "%s", jerr.text);
    http_free(&r);
    const json_t *views = json_object_get(doc, "feature_views");
    ck_assert_uint_eq(json_array_size(views), 2);
    const json_t *st = json_array_get(views, 0);
    ck_assert_str_eq(json_string_value(json_object_get(st, "name")), "stats");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(st, "join_keys"), 0),
                                                       "type")), "int64");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(st, "features"), 8),
                                                       "type")), "float_list");
    ck_assert_int_eq(json_integer_value(json_object_get(st, "ttl_seconds")), 3600);
    ck_assert_str_eq(json_string_value(json_object_get(st, "fingerprint")), view_of(cfg, "stats")->fingerprint_hex);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(st, "materialization"), "mode")),
                     "snapshot");
    ck_assert_msg(json_integer_value(json_object_get(st, "generation")) >= 1, "generation of stats");
    ck_assert_str_eq(json_string_value(json_object_get(doc, "generations_from")), "redis");
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "registry_version")), 1);
    json_decref(doc);

    featd_get_free(g);
    featd_close(c);
}
END_TEST

START_TEST(test_json_bad_requests)
{
    const char *m;
    m = post_error("", 400, "INVALID_ARGUMENT");
    ck_assert_msg(strstr(m, "not valid JSON") != NULL, "%s", m);
    m = post_error("{\"features\": [\"stats:b\"], \"entities\": {\"user_id\": [1]}} trailing", 400,
                   "INVALID_ARGUMENT");
    ck_assert_msg(strstr(m, "not valid JSON") != NULL, "%s", m);
    m = post_error("[1, 2]", 400, "INVALID_ARGUMENT");
    ck_assert_msg(strstr(m, "must be a JSON object") != NULL, "%s", m);
    m = post_error("{\"features\": [\"stats:b\"], \"entities\": {\"user_id\": [\"42\"]}}", 400, "INVALID_ARGUMENT");
    ck_assert_msg(strstr(m, "entities.user_id[0]: join key \"user_id\" is int64: expected a JSON integer, "
                            "got a string") != NULL, "%s", m);
    m = post_error("{\"features\": [\"user_item:score\"], \"entities\": {\"user_id\": [1], \"item_id\": [7]}}",
                   400, "INVALID_ARGUMENT");
    ck_assert_msg(strstr(m, "entities.item_id[0]: join key \"item_id\" is a string") != NULL, "%s", m);
    m = post_error("{\"features\": [\"stats:b\"], \"entities\": {\"user_id\": [1.5]}}", 400, "INVALID_ARGUMENT");
    ck_assert_msg(strstr(m, "expected a JSON integer") != NULL, "%s", m);
    m = post_error("{\"features\": [\"stats:b\"], \"entities\": {\"user_id\": [99999999999999999999]}}", 400,
                   "INVALID_ARGUMENT");
    ck_assert_msg(strstr(m, "not valid JSON") != NULL, "%s", m);
    m = post_error("{\"features\": [\"nope:x\"], \"entities\": {\"user_id\": [1]}}", 400, "INVALID_ARGUMENT");
    ck_assert_msg(strstr(m, "unknown feature view \"nope\"") != NULL, "%s", m);
    m = post_error("{\"features\": \"stats:b\", \"entities\": {\"user_id\": [1]}}", 400, "INVALID_ARGUMENT");
    ck_assert_msg(strstr(m, "\"features\" must be an array") != NULL, "%s", m);
    m = post_error("{\"features\": [\"stats:b\"]}", 400, "INVALID_ARGUMENT");
    ck_assert_msg(strstr(m, "\"entities\" must be an object") != NULL, "%s", m);
    m = post_error("{\"features\": [\"stats:b\"], \"entities\": {\"user_id\": [1]}, \"bogus\": 1}", 400,
                   "INVALID_ARGUMENT");
    ck_assert_msg(strstr(m, "unknown key \"bogus\"") != NULL, "%s", m);
    m = post_error("{\"features\": [\"stats:b\"], \"entities\": {\"user_id\": [1], \"user_id\": [2]}}", 400,
                   "INVALID_ARGUMENT");
    m = post_error("{\"features\": [\"stats:b\"], \"entities\": {\"user_id\": [1, 2], \"item_id\": [\"a\"]}}", 400,
                   "INVALID_ARGUMENT");
    m = post_error("{\"features\": [\"stats:b\"], \"entities\": {\"user_id\": [1]}, \"deadline_ms\": -1}", 400,
                   "INVALID_ARGUMENT");
    ck_assert_msg(strstr(m, "deadline_ms") != NULL, "%s", m);
    /* too many entities: 101 > max_entities_per_request */
    char body[2048];
    size_t n = (size_t)snprintf(body, sizeof(body), "{\"features\": [\"stats:b\"], \"entities\": {\"user_id\": [");
    for (int i = 0; i < 101; i++) {
        n += (size_t)snprintf(body + n, sizeof(body) - n, i ? ",%d" : "%d", i);
    }
    snprintf(body + n, sizeof(body) - n, "]}}");
    m = post_error(body, 400, "INVALID_ARGUMENT");
    ck_assert_msg(strstr(m, "too many entities") != NULL, "%s", m);
    /* still healthy */
    json_decref(post_json("{\"features\": [\"stats:b\"], \"entities\": {\"user_id\": [1]}}", 200));
}
END_TEST

/* The string value at results[f].<field>[r] of a JSON answer. */
static const char *jstr(const json_t *doc, size_t f, const char *field, size_t r)
{
    const char *s = json_string_value(json_array_get(json_object_get(json_array_get(json_object_get(doc, "results"),
                                                                                    f), field), r));
    ck_assert_msg(s != NULL, "results[%zu].%s[%zu] is not a string", f, field, r);
    return s;
}

static const json_t *jval(const json_t *doc, size_t f, size_t r)
{
    return json_array_get(json_object_get(json_array_get(json_object_get(doc, "results"), f), "values"), r);
}

/* Every cell status over JSON (PRESENT, NULL_VALUE, NOT_FOUND,
 * OUTSIDE_MAX_AGE with its value, INVALID for a corrupt row), the same as
 * over protobuf; refusals by the lookup's validation keep their JSON error
 * body and HTTP status; over-limit requests are refused and counted. */
START_TEST(test_json_lookup_statuses_and_refusals)
{
    /* user 7's stats row is garbage in the current generation */
    const struct cfg_view *v = view_of(cfg, "stats");
    redisContext *rc = rconn();
    char err[256];
    uint64_t gen;
    ck_assert_int_eq(online_gen_ensure(rc, PREFIX, v, &gen, err, sizeof(err)), FEATD_OK);
    struct fbuf key = { 0 };
    struct online_key k7 = { .i = 7 };
    char field[ONLINE_FIELD_MAX];
    ck_assert_int_eq(online_key_row(&key, PREFIX, v, &k7), FEATD_OK);
    size_t flen = online_key_field(field, gen);
    redisReply *rr = redisCommand(rc, "HSET %b %b %s", key.data, key.len, field, flen, "not a row");
    ck_assert(rr != NULL && rr->type == REDIS_REPLY_INTEGER);
    freeReplyObject(rr);
    fbuf_free(&key);
    redisFree(rc);

    char *before = scrape();
    const char *body = "{\"features\": [\"stats:i32\", \"user_item:score\"], \"entities\": "
                       "{\"user_id\": [1, 2, 99, 7], \"item_id\": [\"pen:blue\", \"book\", \"book\", \"book\"]}}";
    json_t *doc = post_json(body, 200);
    ck_assert_str_eq(jstr(doc, 0, "statuses", 0), "PRESENT");
    ck_assert_int_eq(json_integer_value(jval(doc, 0, 0)), -7);
    ck_assert_str_eq(jstr(doc, 0, "statuses", 1), "NULL_VALUE");
    ck_assert(json_is_null(jval(doc, 0, 1)));
    ck_assert_str_ne(jstr(doc, 0, "event_timestamps", 1), "1970-01-01T00:00:00Z");
    ck_assert_str_eq(jstr(doc, 0, "statuses", 2), "NOT_FOUND");
    ck_assert(json_is_null(jval(doc, 0, 2)));
    ck_assert_str_eq(jstr(doc, 0, "event_timestamps", 2), "1970-01-01T00:00:00Z");
    ck_assert_str_eq(jstr(doc, 0, "statuses", 3), "INVALID");
    ck_assert(json_is_null(jval(doc, 0, 3)));
    ck_assert_str_eq(jstr(doc, 0, "event_timestamps", 3), "1970-01-01T00:00:00Z");
    ck_assert_str_eq(jstr(doc, 1, "statuses", 0), "OUTSIDE_MAX_AGE");     /* older than ttl 60 s ... */
    ck_assert(json_real_value(jval(doc, 1, 0)) == 0.5);                  /* ... still has its value */
    ck_assert_str_ne(jstr(doc, 1, "event_timestamps", 0), "1970-01-01T00:00:00Z");
    ck_assert_str_eq(jstr(doc, 1, "statuses", 1), "NOT_FOUND");
    json_decref(doc);
    /* and the same over protobuf */
    struct featd_client *c = cli();
    struct featd_get *g = featd_get_new();
    featd_get_add_feature(g, "stats:i32");
    featd_get_add_feature(g, "user_item:score");
    const int64_t users[] = { 1, 2, 99, 7 };
    const char *items[] = { "pen:blue", "book", "book", "book" };
    for (int i = 0; i < 4; i++) {
        featd_get_add_int64(g, "user_id", users[i]);
        featd_get_add_string(g, "item_id", items[i]);
    }
    compare_lookup(c, body, g);
    featd_get_free(g);
    featd_close(c);
    char *mid = scrape();
#define DELTA_TO(page, series) (metric(page, series) - metric(before, series))
    /* one cell each in 3 lookups: JSON, then compare_lookup's protobuf and JSON */
    ck_assert(DELTA_TO(mid, "featd_value_status_total{status=\"INVALID\"}") == 3);
    ck_assert(DELTA_TO(mid, "featd_value_status_total{status=\"OUTSIDE_MAX_AGE\"}") == 3);
    free(mid);

    /* the lookup's own validation: same messages, 400 */
    const char *m;
    m = post_error("{\"features\": [\"stats:nope\"], \"entities\": {\"user_id\": [1]}}", 400, "INVALID_ARGUMENT");
    ck_assert_msg(strstr(m, "feature view \"stats\" has no feature \"nope\"") != NULL, "%s", m);
    m = post_error("{\"features\": [\"user_item:score\"], \"entities\": {\"user_id\": [1]}}", 400,
                   "INVALID_ARGUMENT");
    ck_assert_msg(strstr(m, "missing join key \"item_id\" required by feature view \"user_item\"") != NULL,
                  "%s", m);
    m = post_error("{\"features\": [\"user_item:score\"], \"entities\": {\"user_id\": [1, 2], \"item_id\": [\"a\"]}}",
                   400, "INVALID_ARGUMENT");
    ck_assert_msg(strstr(m, "unequal lengths") != NULL, "%s", m);
    m = post_error("{\"features\": [], \"entities\": {\"user_id\": [1]}}", 400, "INVALID_ARGUMENT");
    ck_assert_msg(strstr(m, "no features requested") != NULL, "%s", m);
    m = post_error("{\"features\": [\"stats:b\", \"stats:b\"], \"entities\": {\"user_id\": [1]}}", 400,
                   "INVALID_ARGUMENT");
    ck_assert_msg(strstr(m, "requested more than once") != NULL, "%s", m);
    /* over limits: 100 entities pass, 101 are refused */
    char big[2048];
    for (int rows = 100; rows <= 101; rows++) {
        size_t n = (size_t)snprintf(big, sizeof(big), "{\"features\": [\"stats:*\"], \"entities\": {\"user_id\": [");
        for (int i = 0; i < rows; i++) {
            n += (size_t)snprintf(big + n, sizeof(big) - n, i ? ",%d" : "%d", i);
        }
        snprintf(big + n, sizeof(big) - n, "]}}");
        if (rows == 100) {
            doc = post_json(big, 200);
            ck_assert_uint_eq(json_array_size(json_object_get(json_array_get(json_object_get(doc, "results"), 11),
                                                              "values")), 100);
            json_decref(doc);
        } else {
            m = post_error(big, 400, "INVALID_ARGUMENT");
            ck_assert_msg(strstr(m, "too many entities: 101 rows exceed max_entities_per_request (100)") != NULL,
                          "%s", m);
        }
    }
    char *after = scrape();
    ck_assert(DELTA_TO(after, "featd_requests_total{type=\"http_get_online_features\",code=\"OK\"}") == 3);
    ck_assert(DELTA_TO(after, "featd_requests_total{type=\"http_get_online_features\","
                              "code=\"INVALID_ARGUMENT\"}") == 6);
    /* shown once seen: none before this test's refusals (a fresh featd per test) */
    ck_assert(metric(before, "featd_admin_http_requests_total{path=\"/get-online-features\",code=\"400\"}") == -1);
    ck_assert(metric(after, "featd_admin_http_requests_total{path=\"/get-online-features\",code=\"400\"}") == 6);
#undef DELTA_TO
    free(before);
    free(after);
}
END_TEST

/* Child: one connection sending lookups back to back until stop_fd is
 * readable; exits 0 when every request succeeded (and there were some). */
static void traffic_child(int stop_fd, const char *feature, int64_t expect_i32)
{
    char err[256];
    struct featd_client *c = featd_connect("127.0.0.1", F.port, 3000, err, sizeof(err));
    if (c == NULL) {
        fprintf(stderr, "traffic: connect: %s\n", err);
        _exit(2);
    }
    struct featd_get *g = featd_get_new();
    featd_get_add_feature(g, feature);
    featd_get_add_int64(g, "user_id", 1);
    long ok = 0;
    for (;;) {
        struct pollfd p = { stop_fd, POLLIN, 0 };
        if (poll(&p, 1, 0) > 0) {
            break;
        }
        Featd__V1__Response *resp = NULL;
        if (featd_lookup(c, g, &resp) != FEATD_OK) {
            fprintf(stderr, "traffic: request %ld failed: %s\n", ok + 1, featd_errmsg(c));
            _exit(1);
        }
        if (featd_resp_value(resp->get_online_features, 0, 0)->int32_val != expect_i32) {
            fprintf(stderr, "traffic: request %ld: wrong value\n", ok + 1);
            _exit(1);
        }
        featd_response_free(resp);
        ok++;
    }
    fprintf(stderr, "traffic: %ld requests, all answered\n", ok);
    _exit(ok > 0 ? 0 : 3);
}

START_TEST(test_reload_valid_adds_view_under_traffic)
{
    int pfd[2];
    ck_assert_int_eq(pipe(pfd), 0);
    pid_t child = fork();
    ck_assert(child >= 0);
    if (child == 0) {
        close(pfd[1]);
        traffic_child(pfd[0], "stats:i32", -7);
    }
    close(pfd[0]);
    sleep_ms(200);

    /* the new config adds view "extra"; its rows are written first */
    static char next[16384];
    make_config(next, sizeof(next), "", extra_view);
    struct featd_config *ncfg = NULL;
    char err[4096];
    ck_assert_msg(config_load_string(next, &ncfg, err, sizeof(err)) == FEATD_OK, "%s", err);
    write_extra(ncfg, 3);
    post_error("{\"features\": [\"extra:n\"], \"entities\": {\"user_id\": [1]}}", 400, "INVALID_ARGUMENT");
    write_file(F.config_path, next);
    kill(F.pid, SIGHUP);

    /* the new view becomes servable (admin JSON, and a new protobuf connection) */
    json_t *doc = NULL;
    for (int i = 0; i < 100 && doc == NULL; i++) {
        struct http_resp r;
        http(F.admin_port, "POST", "/get-online-features",
             "{\"features\": [\"extra:*\"], \"entities\": {\"user_id\": [2]}}", &r);
        if (r.status == 200) {
            doc = json_loads(r.body, 0, NULL);
        }
        http_free(&r);
        if (doc == NULL) {
            sleep_ms(20);
        }
    }
    ck_assert_msg(doc != NULL, "view extra never became servable over JSON");
    const json_t *res = json_object_get(doc, "results");
    /* results[0] is the user_id column (Feast's shape) */
    ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(json_array_get(res, 1), "values"), 0)), 102);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(json_array_get(res, 2), "values"), 0)), "new");
    json_decref(doc);

    struct featd_client *c = cli();
    struct featd_get *g = featd_get_new();
    featd_get_add_feature(g, "extra:n");
    featd_get_add_feature(g, "stats:i32");
    featd_get_add_int64(g, "user_id", 3);
    Featd__V1__Response *resp = NULL;
    ck_assert_msg(featd_lookup(c, g, &resp) == FEATD_OK, "%s", featd_errmsg(c));
    ck_assert_int_eq(featd_resp_value(resp->get_online_features, 0, 0)->int64_val, 103);
    ck_assert_int_eq(featd_resp_value(resp->get_online_features, 1, 0)->int32_val, -21);
    featd_response_free(resp);
    featd_get_free(g);
    featd_close(c);

    sleep_ms(200);      /* more traffic after the reload */
    ck_assert_int_eq(write(pfd[1], "x", 1), 1);
    int st;
    ck_assert_int_eq(waitpid(child, &st, 0), child);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the connection sending requests saw a failure (status %d)",
                  WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    close(pfd[1]);

    char *page = scrape();
    ck_assert(metric(page, "featd_reloads_total{result=\"ok\"}") == 1);
    ck_assert(metric(page, "featd_reloads_total{result=\"failed\"}") == 0);
    ck_assert(metric(page, "featd_registry_version") == 2);
    ck_assert(metric(page, "featd_feature_views") == 3);
    free(page);
    struct http_resp r;
    get("/v1/feature-views", &r);
    ck_assert_msg(strstr(r.body, "\"extra\"") != NULL, "%s", r.body);
    http_free(&r);
    ck_assert(log_contains("registry 2 loaded"));
    config_free(ncfg);
}
END_TEST

START_TEST(test_reload_invalid_changes_nothing)
{
    static char bad[16384];
    /* an unknown feature type, and a view referencing an unknown entity */
    make_config(bad, sizeof(bad), "",
                ", { \"name\": \"broken\", \"entities\": [\"ghost\"], \"features\": ["
                "    { \"name\": \"z\", \"type\": \"int128\" } ] }");
    write_file(F.config_path, bad);
    kill(F.pid, SIGHUP);
    for (int i = 0; i < 100 && !log_contains("keeping the running registry"); i++) {
        sleep_ms(20);
    }
    ck_assert_msg(log_contains("keeping the running registry"), "no reload error in the log");
    ck_assert_msg(log_contains("int128"), "the log does not say why");

    /* old views still served, the new one is unknown */
    struct featd_client *c = cli();
    struct featd_get *g = featd_get_new();
    featd_get_add_feature(g, "stats:i32");
    featd_get_add_int64(g, "user_id", 4);
    Featd__V1__Response *resp = NULL;
    ck_assert_msg(featd_lookup(c, g, &resp) == FEATD_OK, "%s", featd_errmsg(c));
    ck_assert_int_eq(featd_resp_value(resp->get_online_features, 0, 0)->int32_val, -28);
    featd_response_free(resp);
    featd_get_free(g);
    featd_close(c);
    post_error("{\"features\": [\"broken:z\"], \"entities\": {\"user_id\": [1]}}", 400, "INVALID_ARGUMENT");

    char *page = scrape();
    ck_assert(metric(page, "featd_reloads_total{result=\"failed\"}") == 1);
    ck_assert(metric(page, "featd_reloads_total{result=\"ok\"}") == 0);
    ck_assert(metric(page, "featd_config_last_reload_successful") == 0);
    ck_assert(metric(page, "featd_registry_version") == 1);
    ck_assert(metric(page, "featd_feature_views") == 2);
    free(page);
    wait_readyz(200, 3000);

    /* a good file afterwards reloads fine */
    write_file(F.config_path, cfg_json);
    kill(F.pid, SIGHUP);
    for (int i = 0; i < 100; i++) {
        page = scrape();
        double ok = metric(page, "featd_reloads_total{result=\"ok\"}");
        free(page);
        if (ok == 1) {
            break;
        }
        sleep_ms(20);
    }
    page = scrape();
    ck_assert(metric(page, "featd_config_last_reload_successful") == 1);
    ck_assert(metric(page, "featd_registry_version") == 2);
    free(page);
}
END_TEST

START_TEST(test_sigterm_answers_inflight)
{
    /* Redis sleeps 0.6 s; requests sent before SIGTERM (two protobuf
     * connections and a JSON lookup) are all answered, then exit 0. */
    struct featd_client *c1 = cli(), *c2 = cli();
    struct featd_get *g = featd_get_new();
    featd_get_add_feature(g, "stats:i32");
    featd_get_add_int64(g, "user_id", 5);
    featd_get_set_deadline(g, 5000);
    pid_t pid = fork();
    if (pid == 0) {
        redisContext *rc = redisConnect("127.0.0.1", R.port);
        redisReply *rr = rc ? redisCommand(rc, "DEBUG SLEEP 0.6") : NULL;
        if (rr) {
            freeReplyObject(rr);
        }
        if (rc) {
            redisFree(rc);
        }
        _exit(0);
    }
    sleep_ms(100);
    for (int i = 0; i < 8; i++) {
        ck_assert_int_eq(featd_send(i % 2 ? c2 : c1, featd_get_request(g, 500 + (uint64_t)i)), FEATD_OK);
    }
    const char *body = "{\"features\": [\"stats:i32\"], \"entities\": {\"user_id\": [5]}, \"deadline_ms\": 5000}";
    int hfd = http_send(F.admin_port, "POST", "/get-online-features", body, strlen(body), NULL);
    sleep_ms(50);
    kill(F.pid, SIGTERM);
    sleep_ms(50);
    /* while draining, readyz says so (load balancers stop sending) */
    struct http_resp r;
    for (int i = 0; i < 3; i++) {
        get("/readyz", &r);
        ck_assert_int_eq(r.status, 503);    /* draining, or Redis asleep */
        bool draining = strcmp(r.body, "not ready: shutting down\n") == 0;
        http_free(&r);
        if (draining) {
            break;
        }
        ck_assert_msg(i < 2, "readyz never said \"shutting down\"");
    }

    for (int i = 0; i < 8; i++) {
        struct featd_client *c = i % 2 ? c2 : c1;
        Featd__V1__Response *resp = NULL;
        ck_assert_msg(featd_recv(c, &resp) == FEATD_OK, "recv %d: %s", i, featd_errmsg(c));
        ck_assert_int_eq(resp->body_case, FEATD__V1__RESPONSE__BODY_GET_ONLINE_FEATURES);
        ck_assert_int_eq(featd_resp_value(resp->get_online_features, 0, 0)->int32_val, -35);
        featd_response_free(resp);
    }
    http_recv(hfd, &r);
    ck_assert_msg(r.status == 200, "JSON lookup in flight at SIGTERM: %d %s", r.status, r.body);
    ck_assert_msg(strstr(r.body, "\"values\":[-35]") != NULL, "%s", r.body);
    http_free(&r);
    int st;
    waitpid(pid, &st, 0);
    ck_assert_int_eq(h_featd_signal_wait(&F, 0), 0);
    ck_assert(log_contains("SIGTERM: draining"));
    featd_get_free(g);
    featd_close(c1);
    featd_close(c2);
}
END_TEST

/* ---- --log-format json (own process: the harness passes no flags) ---- */

START_TEST(test_log_format_json)
{
    /* the fixture's featd is not needed here */
    h_featd_stop(&F);
    char dir[256], cpath[300], lpath[300];
    h_tempdir(dir, "jsonlog");
    snprintf(cpath, sizeof(cpath), "%s/config.json", dir);
    snprintf(lpath, sizeof(lpath), "%s/featd.log", dir);
    write_file(cpath, cfg_json);
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(lpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(h_bin("featd"), "featd", "--config", cpath, "--log-format", "json", (char *)NULL);
        _exit(127);
    }
    struct featd_client *c = NULL;
    char err[256];
    for (int i = 0; i < 200 && c == NULL; i++) {
        c = featd_connect("127.0.0.1", serve_port, 1000, err, sizeof(err));
        if (c == NULL) {
            sleep_ms(25);
        }
    }
    ck_assert_msg(c != NULL, "featd --log-format json did not start: %s", err);
    /* many good requests: no per-request log lines at info */
    struct featd_get *g = featd_get_new();
    featd_get_add_feature(g, "stats:b");
    featd_get_add_int64(g, "user_id", 1);
    for (int i = 0; i < 300; i++) {
        Featd__V1__Response *resp = NULL;
        ck_assert_int_eq(featd_lookup(c, g, &resp), FEATD_OK);
        featd_response_free(resp);
    }
    featd_get_free(g);
    featd_close(c);
    /* a bad frame: a connection line with the connection's identity */
    c = featd_connect("127.0.0.1", serve_port, 1000, err, sizeof(err));
    ck_assert(c != NULL);
    const uint8_t garbage[] = { 0, 0, 0, 3, 0xff, 0xff, 0xff };
    ck_assert_int_eq(featd_send_raw(c, garbage, sizeof(garbage)), FEATD_OK);
    Featd__V1__Response *resp = NULL;
    ck_assert_int_eq(featd_recv(c, &resp), FEATD_OK);
    featd_response_free(resp);
    featd_close(c);
    /* an invalid reload: a multi-line error stays one JSON line */
    static char bad[16384];
    make_config(bad, sizeof(bad), ", \"workers\": 0", ", { \"name\": \"b\", \"features\": 5 }");
    write_file(cpath, bad);
    kill(pid, SIGHUP);
    sleep_ms(300);
    kill(pid, SIGTERM);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "featd exit status %d", st);

    FILE *fp = fopen(lpath, "r");
    ck_assert(fp != NULL);
    char line[16384];
    int lines = 0, conn_lines = 0, reload_err = 0;
    while (fgets(line, sizeof(line), fp)) {
        json_error_t jerr;
        json_t *o = json_loads(line, 0, &jerr);
        ck_assert_msg(o != NULL, "log line is not JSON (%s): %s", jerr.text, line);
        ck_assert_msg(json_is_string(json_object_get(o, "ts")) && json_is_string(json_object_get(o, "level")) &&
                          json_is_string(json_object_get(o, "component")) &&
                          json_is_string(json_object_get(o, "msg")),
                      "log line lacks ts/level/component/msg: %s", line);
        const char *conn = json_string_value(json_object_get(o, "conn"));
        if (conn && strstr(conn, "conn=") && strstr(conn, "peer=127.0.0.1:")) {
            conn_lines++;
        }
        const char *msg = json_string_value(json_object_get(o, "msg"));
        if (strstr(msg, "keeping the running registry") && strstr(msg, "workers")) {
            reload_err++;
        }
        json_decref(o);
        lines++;
    }
    fclose(fp);
    ck_assert_msg(conn_lines >= 1, "no connection line with conn identity");
    ck_assert_msg(reload_err == 1, "invalid reload not logged as one JSON line");
    ck_assert_msg(lines < 30, "%d log lines for 300 requests: per-request logging at info?", lines);
}
END_TEST

/* SO_REUSEPORT hashes connections onto the workers' listeners; an accepting
 * worker with more connections than another hands the socket over. Clients
 * connecting one after the other therefore find the two workers within one
 * connection of each other after every connect (a hash alone wanders off:
 * 40 steps of a random walk stay within +-1 with probability ~1e-5). */
START_TEST(test_connections_spread_evenly)
{
    enum { N = 40 };
    struct featd_client *cs[N];
    double w0 = 0, w1 = 0, handed = 0;
    for (int i = 0; i < N; i++) {
        cs[i] = cli();
        ck_assert_int_eq(featd_ping(cs[i], NULL), FEATD_OK);   /* adopted and serving */
        char *page = scrape();
        w0 = metric(page, "featd_worker_connections{worker=\"0\"}");
        w1 = metric(page, "featd_worker_connections{worker=\"1\"}");
        handed = metric(page, "featd_connections_handed_off_total");
        free(page);
        ck_assert_msg(w0 + w1 == i + 1, "worker connections %.0f + %.0f != %d", w0, w1, i + 1);
        ck_assert_msg(fabs(w0 - w1) <= 1, "after %d connects: spread %.0f / %.0f", i + 1, w0, w1);
    }
    ck_assert_msg(handed >= 1, "no connection was handed off (%.0f)", handed);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(featd_ping(cs[i], NULL), FEATD_OK);
        featd_close(cs[i]);
    }
    /* closed connections leave both workers */
    for (int tries = 0; tries < 100; tries++) {
        char *page = scrape();
        w0 = metric(page, "featd_worker_connections{worker=\"0\"}");
        w1 = metric(page, "featd_worker_connections{worker=\"1\"}");
        free(page);
        if (w0 == 0 && w1 == 0) {
            break;
        }
        sleep_ms(20);
    }
    ck_assert_msg(w0 == 0 && w1 == 0, "after closing: %.0f / %.0f", w0, w1);
}
END_TEST

/* ---- request phases and slow requests ---- */

static const char *const phases[] = { "queued", "decode", "redis", "encode", "write" };

/* A series of a phase family: "<family>_<part>{phase="<phase>"<more>}". */
static double phase_metric(const char *page, const char *family, const char *part, const char *phase,
                           const char *more)
{
    char series[256];
    snprintf(series, sizeof(series), "%s_%s{phase=\"%s\"%s}", family, part, phase, more ? more : "");
    return metric(page, series);
}

/* Scrapes until series has grown by at least want since before (the flush
 * pass observes an answer just after writing it). */
static char *scrape_until(const char *before, const char *series, double want)
{
    char *page = scrape();
    for (int i = 0; i < 100 && metric(page, series) - metric(before, series) < want; i++) {
        free(page);
        sleep_ms(20);
        page = scrape();
    }
    return page;
}

/* Makes the test Redis sleep for sec seconds from now (DEBUG SLEEP, sent
 * without waiting for its reply): read the reply with redisGetReply. */
static redisContext *redis_sleep_start(double sec)
{
    redisContext *rc = rconn();
    ck_assert_int_eq(redisAppendCommand(rc, "DEBUG SLEEP %.3f", sec), REDIS_OK);
    int done = 0;
    while (!done) {
        ck_assert_int_eq(redisBufferWrite(rc, &done), REDIS_OK);
    }
    sleep_ms(30);       /* Redis is inside the sleep before featd's MGET arrives */
    return rc;
}

static void redis_sleep_end(redisContext *rc)
{
    void *reply = NULL;
    ck_assert_int_eq(redisGetReply(rc, &reply), REDIS_OK);
    freeReplyObject(reply);
    redisFree(rc);
}

/* Lines of featd's log holding needle; the first one copied into first. */
static int log_count(const char *needle, char *first, size_t cap)
{
    FILE *fp = fopen(F.log_path, "r");
    int n = 0;
    if (first && cap) {
        first[0] = '\0';
    }
    if (fp == NULL) {
        return 0;
    }
    char line[8192];
    while (fgets(line, sizeof(line), fp)) {
        if (strstr(line, needle) != NULL) {
            if (n++ == 0 && first) {
                snprintf(first, cap, "%s", line);
            }
        }
    }
    fclose(fp);
    return n;
}

/* The integer after "name=" in line; -1 when absent. */
static long long field_of(const char *line, const char *name)
{
    char key[64];
    snprintf(key, sizeof(key), " %s=", name);
    const char *p = strstr(line, key);
    return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

START_TEST(test_request_phases_counted)
{
    wait_readyz(200, 5000);
    char *before = scrape();
    for (size_t i = 0; i < 5; i++) {
        ck_assert_msg(phase_metric(before, "featd_request_phase_seconds", "count", phases[i], NULL) >= 0,
                      "phase %s missing", phases[i]);
        ck_assert_msg(phase_metric(before, "featd_slow_request_phase_seconds", "count", phases[i], NULL) >= 0,
                      "slow phase %s missing", phases[i]);
    }
    /* 11 requests on the serving port: pings, lookups, one ListFeatureViews */
    struct featd_client *c = cli();
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(featd_ping(c, NULL), FEATD_OK);
    }
    struct featd_get *g = featd_get_new();
    featd_get_add_feature(g, "stats:*");
    for (int u = 1; u <= 3; u++) {
        featd_get_add_int64(g, "user_id", u);
    }
    Featd__V1__Response *resp = NULL;
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(featd_lookup(c, g, &resp), FEATD_OK);
        featd_response_free(resp);
    }
    ck_assert_int_eq(featd_list_views(c, &resp), FEATD_OK);
    featd_response_free(resp);
    /* a JSON lookup on the admin port is not a serving-port request */
    json_decref(post_json("{\"features\": [\"user_item:score\"], \"entities\": "
                          "{\"user_id\": [1], \"item_id\": [\"book\"]}}", 200));
    char *after = scrape_until(before, "featd_request_phase_seconds_count{phase=\"write\"}", 11);
    for (size_t i = 0; i < 5; i++) {
        double d = phase_metric(after, "featd_request_phase_seconds", "count", phases[i], NULL) -
                   phase_metric(before, "featd_request_phase_seconds", "count", phases[i], NULL);
        ck_assert_msg(d == 11, "phase %s counted %g requests, want 11", phases[i], d);
        ck_assert(phase_metric(after, "featd_request_phase_seconds", "bucket", phases[i], ",le=\"+Inf\"") ==
                  phase_metric(after, "featd_request_phase_seconds", "count", phases[i], NULL));
    }
    /* the lookups waited on Redis; the kernel gave every read a timestamp */
    ck_assert(phase_metric(after, "featd_request_phase_seconds", "sum", "redis", NULL) >
              phase_metric(before, "featd_request_phase_seconds", "sum", "redis", NULL));
    ck_assert(metric(after, "featd_rx_timestamps_missing_total") ==
              metric(before, "featd_rx_timestamps_missing_total"));
    if (have_promtool()) {
        promtool_check(after);
    }
    featd_get_free(g);
    featd_close(c);
    free(before);
    free(after);
}
END_TEST

START_TEST(test_slow_request_attributed_and_logged)
{
    wait_readyz(200, 5000);
    struct featd_client *c = cli();
    ck_assert_int_eq(featd_ping(c, NULL), FEATD_OK);       /* connected and served */
    h_sleep_ms(100);    /* the ping's phases are observed just after its write: let them land */
    char *before = scrape();
    struct featd_get *g = featd_get_new();
    featd_get_add_feature(g, "stats:*");
    for (int u = 1; u <= 3; u++) {
        featd_get_add_int64(g, "user_id", u);
    }
    redisContext *rc = redis_sleep_start(0.3);
    Featd__V1__Response *resp = NULL;
    ck_assert_int_eq(featd_call(c, featd_get_request(g, 4242), &resp), FEATD_OK);
    ck_assert_int_eq(resp->body_case, FEATD__V1__RESPONSE__BODY_GET_ONLINE_FEATURES);
    featd_response_free(resp);
    redis_sleep_end(rc);

    char *after = scrape_until(before, "featd_slow_requests_total", 1);
#define DELTA(series) (metric(after, series) - metric(before, series))
    ck_assert_msg(DELTA("featd_slow_requests_total") == 1, "slow %g", DELTA("featd_slow_requests_total"));
    /* the redis phase holds the wait: above 100 ms, in both families */
    ck_assert(DELTA("featd_slow_request_phase_seconds_count{phase=\"redis\"}") == 1);
    ck_assert(DELTA("featd_slow_request_phase_seconds_bucket{phase=\"redis\",le=\"0.1\"}") == 0);
    ck_assert(DELTA("featd_slow_request_phase_seconds_bucket{phase=\"redis\",le=\"+Inf\"}") == 1);
    ck_assert(DELTA("featd_request_phase_seconds_count{phase=\"redis\"}") == 1);
    ck_assert(DELTA("featd_request_phase_seconds_bucket{phase=\"redis\",le=\"0.1\"}") == 0);
    ck_assert(DELTA("featd_slow_request_phase_seconds_sum{phase=\"redis\"}") >= 0.2);
    ck_assert(DELTA("featd_slow_request_phase_seconds_count{phase=\"write\"}") == 1);
#undef DELTA

    /* one log line naming the connection, the request and every phase */
    char line[8192];
    for (int i = 0; i < 100 && log_count("slow request: id=4242 ", line, sizeof(line)) == 0; i++) {
        sleep_ms(20);
    }
    ck_assert_msg(log_count("slow request: id=4242 ", line, sizeof(line)) == 1, "no slow-request line");
    ck_assert_msg(strstr(line, "type=get_online_features entities=3 features=12 ") != NULL, "%s", line);
    ck_assert_msg(strstr(line, "conn=") != NULL && strstr(line, "peer=127.0.0.1:") != NULL, "%s", line);
    long long total = field_of(line, "total_us"), sum = 0;
    for (size_t i = 0; i < 5; i++) {
        char name[32];
        snprintf(name, sizeof(name), "%s_us", phases[i]);
        long long v = field_of(line, name);
        ck_assert_msg(v >= 0, "%s missing: %s", name, line);
        sum += v;
    }
    ck_assert_msg(total == sum, "total %lld != sum of phases %lld: %s", total, sum, line);
    ck_assert_msg(field_of(line, "redis_us") >= 200000, "%s", line);
    ck_assert_msg(strstr(line, "socket_full=no") != NULL, "%s", line);
    featd_get_free(g);
    featd_close(c);
    free(before);
    free(after);
}
END_TEST

START_TEST(test_slow_request_log_rate_limited)
{
    enum { BURST = 100, LIMIT = 10 };   /* LIMIT = CONN_SLOW_LOGS_PER_SEC */
    wait_readyz(200, 5000);
    struct featd_client *c = cli();
    ck_assert_int_eq(featd_ping(c, NULL), FEATD_OK);
    char *before = scrape();
    struct featd_get *g = featd_get_new();
    featd_get_add_feature(g, "stats:i32");
    featd_get_add_int64(g, "user_id", 1);
    redisContext *rc = redis_sleep_start(0.3);
    for (int i = 0; i < BURST; i++) {
        ck_assert_int_eq(featd_queue(c, featd_get_request(g, 1000 + (uint64_t)i)), FEATD_OK);
    }
    ck_assert_int_eq(featd_flush(c), FEATD_OK);
    for (int i = 0; i < BURST; i++) {
        Featd__V1__Response *resp = NULL;
        ck_assert_int_eq(featd_recv(c, &resp), FEATD_OK);
        ck_assert_int_eq(resp->body_case, FEATD__V1__RESPONSE__BODY_GET_ONLINE_FEATURES);
        featd_response_free(resp);
    }
    redis_sleep_end(rc);
    char *after = scrape_until(before, "featd_slow_requests_total", BURST);
    double slow = metric(after, "featd_slow_requests_total") - metric(before, "featd_slow_requests_total");
    double skipped = metric(after, "featd_slow_request_logs_suppressed_total") -
                     metric(before, "featd_slow_request_logs_suppressed_total");
    int lines = log_count("slow request: ", NULL, 0);
    ck_assert_msg(slow == BURST, "slow %g", slow);
    ck_assert_msg(lines >= 1 && lines <= 2 * LIMIT, "%d slow-request lines for a burst of %d", lines, BURST);
    ck_assert_msg(lines + skipped == BURST, "%d lines + %g suppressed != %d", lines, skipped, BURST);

    /* a second later, the next slow request's line counts the ones left out */
    sleep_ms(1100);
    rc = redis_sleep_start(0.1);
    Featd__V1__Response *resp = NULL;
    ck_assert_int_eq(featd_call(c, featd_get_request(g, 5555), &resp), FEATD_OK);
    featd_response_free(resp);
    redis_sleep_end(rc);
    char line[8192];
    for (int i = 0; i < 100 && log_count("slow request: id=5555 ", line, sizeof(line)) == 0; i++) {
        sleep_ms(20);
    }
    ck_assert_msg(log_count("slow request: id=5555 ", line, sizeof(line)) == 1, "no line for the next one");
    ck_assert_msg(field_of(line, "not_logged_before") == (long long)skipped, "want %g left out: %s", skipped,
                  line);
    featd_get_free(g);
    featd_close(c);
    free(before);
    free(after);
}
END_TEST

START_TEST(test_slow_request_ms_zero_after_reload)
{
    static char off[16384];
    make_config(off, sizeof(off), ", \"slow_request_ms\": 0", "");
    write_file(F.config_path, off);
    kill(F.pid, SIGHUP);
    char *page = NULL;
    for (int i = 0; i < 100; i++) {
        page = scrape();
        double ok = metric(page, "featd_reloads_total{result=\"ok\"}");
        free(page);
        if (ok == 1) {
            break;
        }
        sleep_ms(20);
    }
    sleep_ms(100);      /* the workers take the new registry from their queues */
    wait_readyz(200, 5000);
    char *before = scrape();
    ck_assert(metric(before, "featd_reloads_total{result=\"ok\"}") == 1);
    struct featd_client *c = cli();
    struct featd_get *g = featd_get_new();
    featd_get_add_feature(g, "stats:i32");
    featd_get_add_int64(g, "user_id", 1);
    redisContext *rc = redis_sleep_start(0.2);
    Featd__V1__Response *resp = NULL;
    ck_assert_int_eq(featd_call(c, featd_get_request(g, 31), &resp), FEATD_OK);
    featd_response_free(resp);
    redis_sleep_end(rc);
    char *after = scrape_until(before, "featd_request_phase_seconds_count{phase=\"write\"}", 1);
    /* still measured, no longer slow */
    ck_assert(metric(after, "featd_request_phase_seconds_count{phase=\"redis\"}") -
              metric(before, "featd_request_phase_seconds_count{phase=\"redis\"}") == 1);
    ck_assert(metric(after, "featd_request_phase_seconds_bucket{phase=\"redis\",le=\"0.1\"}") ==
              metric(before, "featd_request_phase_seconds_bucket{phase=\"redis\",le=\"0.1\"}"));
    ck_assert(metric(after, "featd_slow_requests_total") == metric(before, "featd_slow_requests_total"));
    ck_assert_int_eq(log_count("slow request: ", NULL, 0), 0);
    featd_get_free(g);
    featd_close(c);
    free(before);
    free(after);
}
END_TEST

/* ---- the admin port under a connection flood ---- */

/* Non-blocking connects to port, 50 per 10 ms; n sockets into fds (each
 * one's connect may still be under way). */
static void flood_connect(int port, int *fds, int n)
{
    struct sockaddr_in sa = { 0 };
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < n; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        ck_assert_msg(fds[i] >= 0, "socket %d: %s", i, strerror(errno));
        int rc = connect(fds[i], (struct sockaddr *)&sa, sizeof(sa));
        ck_assert_msg(rc == 0 || errno == EINPROGRESS, "connect %d: %s", i, strerror(errno));
        if (i % 50 == 49) {
            sleep_ms(10);   /* within the listen backlog: no SYN waits for a retransmit */
        }
    }
}

/* Lines of featd's log about the admin port's refusals and accept errors. */
static int admin_flood_log_lines(void)
{
    return log_count("admin connection(s) with 503", NULL, 0) + log_count("accept failed", NULL, 0);
}

static void lookup_user1_ok(void)
{
    struct featd_client *c = cli();
    struct featd_get *g = featd_get_new();
    featd_get_add_feature(g, "stats:i32");
    featd_get_add_int64(g, "user_id", 1);
    Featd__V1__Response *resp = NULL;
    ck_assert_msg(featd_lookup(c, g, &resp) == FEATD_OK, "lookup: %s", featd_errmsg(c));
    ck_assert_int_eq(featd_resp_value(resp->get_online_features, 0, 0)->int32_val, -7);
    featd_response_free(resp);
    featd_get_free(g);
    featd_close(c);
}

/* 1,200 idle admin connections against featd at RLIMIT_NOFILE 1024: at
 * most server.admin_max_connections of them stay open, the rest get 503 and
 * are counted; protobuf clients are still served; featd logs at most about
 * a line a second about it; once they close, /healthz answers again. */
START_TEST(test_admin_connection_flood)
{
    enum { N = 1200, CAP = 64 };
    struct rlimit rl;
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur < N + 256 && rl.rlim_max >= N + 256) {
        rl.rlim_cur = N + 256;
        ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    ck_assert_msg(rl.rlim_cur >= N + 256, "the test needs %d descriptors (limit %llu)", N + 256,
                  (unsigned long long)rl.rlim_cur);
    h_featd_stop(&F);
    struct h_featd_opts o = { .nofile = 1024 };
    h_featd_start_opts(&F, cfg_json, &o);
    for (int i = 0; i < 500 && !log_contains("featd " FEATD_VERSION " serving"); i++) {
        sleep_ms(10);
    }
    lookup_user1_ok();
    int64_t t0 = util_mono_us();
    int lines0 = admin_flood_log_lines();

    static int fds[N];
    flood_connect(F.admin_port, fds, N);
    /* Wait until featd has dealt with every connection: a refused one
     * reads "503" and then EOF; a kept one stays open and silent. */
    static bool closed[N];
    int nclosed = 0, n503 = 0;
    for (int tries = 0; tries < 400 && nclosed < N - CAP; tries++) {
        sleep_ms(50);
        for (int i = 0; i < N; i++) {
            char buf[256];
            ssize_t k = -1;
            while (!closed[i] && (k = recv(fds[i], buf, sizeof(buf) - 1, MSG_DONTWAIT)) != 0) {
                if (k < 0) {
                    if (errno == ECONNRESET) {
                        closed[i] = true;
                        nclosed++;
                    }
                    break;
                }
                buf[k] = '\0';
                n503 += strstr(buf, "HTTP/1.1 503 ") != NULL;
            }
            if (!closed[i] && k == 0) {
                closed[i] = true;
                nclosed++;
            }
        }
        if (tries % 4 == 0) {
            lookup_user1_ok();      /* the serving port keeps working throughout */
        }
    }
    if (nclosed != N - CAP) {
        dump_featd_log();
    }
    ck_assert_msg(nclosed == N - CAP, "%d of %d admin connections were closed by featd (want %d)", nclosed, N,
                  N - CAP);
    ck_assert_msg(n503 >= (N - CAP) / 2, "only %d refusals carried a 503", n503);
    lookup_user1_ok();
    int64_t secs = (util_mono_us() - t0) / 1000000 + 1;
    int lines = admin_flood_log_lines() - lines0;
    ck_assert_msg(lines >= 1 && lines <= secs + 1, "%d log lines about the flood in %lld s", lines,
                  (long long)secs);
    /* while the kept connections are open, a new one is refused with 503 */
    struct http_resp r;
    get("/healthz", &r);
    ck_assert_int_eq(r.status, 503);
    ck_assert_msg(strstr(r.headers, "Retry-After:") != NULL, "%s", r.headers);
    http_free(&r);
    for (int i = 0; i < N; i++) {
        close(fds[i]);
    }
    /* the kept connections go away; /healthz and /metrics answer again */
    int st = 0;
    for (int tries = 0; tries < 200 && st != 200; tries++) {
        sleep_ms(25);
        get("/healthz", &r);
        st = r.status;
        http_free(&r);
    }
    ck_assert_int_eq(st, 200);
    char *page = scrape();
    double open = metric(page, "featd_admin_connections");
    double rejected = metric(page, "featd_admin_rejected_connections_total");
    free(page);
    ck_assert_msg(open <= 1, "featd_admin_connections %.0f after closing", open);   /* the scrape's own */
    ck_assert_msg(rejected >= N - CAP, "featd_admin_rejected_connections_total %.0f", rejected);
    lookup_user1_ok();
    lines = admin_flood_log_lines() - lines0;
    secs = (util_mono_us() - t0) / 1000000 + 1;
    ck_assert_msg(lines <= secs + 1, "%d log lines about the flood in %lld s", lines, (long long)secs);
}
END_TEST

/* Descriptors run out (RLIMIT_NOFILE 256, 400 protobuf connections): the
 * listeners pause on EMFILE instead of spinning, featd logs at most a line
 * a second per listener about it, and serves again once the clients leave. */
START_TEST(test_accept_emfile_backoff)
{
    enum { N = 400, LISTENERS = 3 };    /* 2 workers + admin */
    h_featd_stop(&F);
    struct h_featd_opts o = { .nofile = 256 };
    h_featd_start_opts(&F, cfg_json, &o);
    for (int i = 0; i < 500 && !log_contains("featd " FEATD_VERSION " serving"); i++) {
        sleep_ms(10);
    }
    lookup_user1_ok();
    int64_t t0 = util_mono_us();
    static int fds[N];
    flood_connect(F.port, fds, N);
    for (int i = 0; i < 100 && log_count("accept failed", NULL, 0) == 0; i++) {
        sleep_ms(20);
    }
    ck_assert_msg(log_count("accept failed", NULL, 0) >= 1, "featd never ran out of descriptors");
    sleep_ms(2500);         /* pausing and retrying all along */
    /* the admin port is over its fd headroom: a probe gets a 503 or is
     * not accepted yet; either way featd stays quiet about it */
    for (int i = 0; i < N; i++) {
        close(fds[i]);
    }
    int ok = 0;
    for (int tries = 0; tries < 100 && !ok; tries++) {
        sleep_ms(50);
        char err[256];
        struct featd_client *c = featd_connect("127.0.0.1", F.port, 2000, err, sizeof(err));
        if (c != NULL) {
            ok = featd_ping(c, NULL) == FEATD_OK;
            featd_close(c);
        }
    }
    ck_assert_msg(ok, "featd did not serve again after the clients left");
    lookup_user1_ok();
    int64_t secs = (util_mono_us() - t0) / 1000000 + 1;
    int lines = log_count("accept failed", NULL, 0);
    ck_assert_msg(lines <= LISTENERS * (secs + 1), "%d accept-error log lines in %lld s", lines, (long long)secs);
    struct http_resp r;
    get("/healthz", &r);
    ck_assert_int_eq(r.status, 200);
    http_free(&r);
}
END_TEST

static Suite *ops_suite(void)
{
    Suite *s = suite_create("e2e_ops");
    TCase *tc = tcase_create("ops");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    /* E2E_ONLY=test_name runs one test (debugging) */
    const char *only = getenv("E2E_ONLY");
#define ADD(t) do { if (only == NULL || strcmp(only, #t) == 0) tcase_add_test(tc, t); } while (0)
    ADD(test_health_routes);
    ADD(test_metrics_promtool_and_counters);
    ADD(test_readyz_follows_redis);
    ADD(test_json_lookup_matches_protobuf);
    ADD(test_json_bad_requests);
    ADD(test_json_lookup_statuses_and_refusals);
    ADD(test_reload_valid_adds_view_under_traffic);
    ADD(test_reload_invalid_changes_nothing);
    ADD(test_sigterm_answers_inflight);
    ADD(test_log_format_json);
    ADD(test_connections_spread_evenly);
    ADD(test_request_phases_counted);
    ADD(test_slow_request_attributed_and_logged);
    ADD(test_slow_request_log_rate_limited);
    ADD(test_slow_request_ms_zero_after_reload);
    ADD(test_admin_connection_flood);
    ADD(test_accept_emfile_backoff);
#undef ADD
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    SRunner *sr = srunner_create(ops_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
