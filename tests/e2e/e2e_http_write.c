/*
 * e2e_http_write.c — the HTTP write endpoints (DESIGN §11, §13) against the
 * real featd and redis-server, on the serving port and the admin port:
 * the exact body Feast's remote online store sends to
 * /write-to-online-store and Feast's push body (tests/fixtures/feast),
 * featd's /push body, values then served by a lookup; last-write-wins
 * (stale older rows, equal ones replace); every bad write → 400 and
 * nothing written (DBSIZE, lookups); 413 bodies; auth 401/403; and the
 * "generation_mode": "held" shadow read of the JSON lookup.
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

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "harness.h"
#include "core/util.h"

#define FEAST "tests/fixtures/feast"
#define WRITER "hw-writer-secret-0123456789"
#define READER "hw-reader-secret-0123456789"

static struct h_redis R;
static struct h_featd F;
static char dir[256];

static void hex_sha256(const char *s, char out[65])
{
    uint8_t h[32];
    util_sha256(s, strlen(s), h);
    for (int i = 0; i < 32; i++) {
        snprintf(out + 2 * i, 3, "%02x", h[i]);
    }
}

/* featd with views driver_hourly_stats (Feast's example shape) and v;
 * with auth: writer (all views, write) and reader (all views, no write). */
static void start(bool auth)
{
    char auth_part[600] = "";
    if (auth) {
        char w[65], r[65];
        hex_sha256(WRITER, w);
        hex_sha256(READER, r);
        snprintf(auth_part, sizeof(auth_part),
                 "\"auth\": { \"tokens\": ["
                 " { \"name\": \"writer\", \"token_sha256\": \"%s\", \"views\": [\"*\"], \"write\": true },"
                 " { \"name\": \"reader\", \"token_sha256\": \"%s\", \"views\": [\"*\"] } ] },", w, r);
    }
    char cfg[4096];
    snprintf(cfg, sizeof(cfg),
             "{ \"server\": { \"listen\": \"127.0.0.1:%d\", \"admin_listen\": \"127.0.0.1:%d\", "
             "\"workers\": 2, \"max_frame_bytes\": 65536 }, %s"
             "  \"redis\": { \"url\": \"redis://127.0.0.1:%d/0\", \"key_prefix\": \"hw\" },"
             "  \"entities\": [ { \"name\": \"driver\", \"join_keys\": [ { \"name\": \"driver_id\", \"type\": \"int64\" } ] },"
             "                  { \"name\": \"user\", \"join_keys\": [ { \"name\": \"user_id\", \"type\": \"int64\" } ] } ],"
             "  \"feature_views\": [ { \"name\": \"driver_hourly_stats\", \"entities\": [\"driver\"], \"features\": ["
             "      { \"name\": \"conv_rate\", \"type\": \"float\" }, { \"name\": \"acc_rate\", \"type\": \"double\" },"
             "      { \"name\": \"avg_daily_trips\", \"type\": \"int64\" }, { \"name\": \"city\", \"type\": \"string\" },"
             "      { \"name\": \"tags\", \"type\": \"string_list\" } ] },"
             "    { \"name\": \"v\", \"entities\": [\"user\"], \"features\": ["
             "      { \"name\": \"x\", \"type\": \"int64\" }, { \"name\": \"s\", \"type\": \"string\" } ] } ] }",
             h_free_port(), h_free_port(), auth_part, R.port);
    h_featd_start(&F, cfg);
}

static void setup(void)
{
    h_tempdir(dir, "httpw");
    h_redis_start(&R);
}

static void teardown(void)
{
    h_featd_stop(&F);
    h_redis_stop(&R);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert(system(cmd) == 0);
}

/* ---- a raw HTTP/1.1 client ---- */

struct resp {
    int status;
    char head[2048];
    char body[65536];
};

static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    return fd;
}

/* Sends req[0..n) (errors ignored: a refusal may close early) and reads
 * one answer (status line, headers, Content-Length body) into r. */
static void exchange_raw(int port, const char *req, size_t n, struct resp *r)
{
    static char buf[200000];
    int fd = dial(port);
    for (size_t off = 0; off < n;) {
        ssize_t w = send(fd, req + off, n - off, MSG_NOSIGNAL);
        if (w <= 0) {
            break;
        }
        off += (size_t)w;
    }
    size_t len = 0;
    long long end = h_now_ms() + 5000;
    for (;;) {
        buf[len] = '\0';
        char *he = strstr(buf, "\r\n\r\n");
        if (he != NULL) {
            char *cl = strcasestr(buf, "Content-Length: ");
            size_t blen = cl && cl < he ? strtoul(cl + 16, NULL, 10) : 0;
            if ((size_t)(he + 4 - buf) + blen <= len) {
                break;
            }
        }
        int left = (int)(end - h_now_ms());
        ck_assert_msg(left > 0, "no whole answer to %.80s: %s", req, buf);
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, left) <= 0) {
            continue;
        }
        ssize_t got = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
        ck_assert_msg(got > 0, "connection closed before a whole answer to %.80s: %s", req, buf);
        len += (size_t)got;
    }
    close(fd);
    char *he = strstr(buf, "\r\n\r\n");
    ck_assert_msg(sscanf(buf, "HTTP/1.1 %d", &r->status) == 1, "bad status line: %.80s", buf);
    size_t hl = (size_t)(he + 4 - buf);
    ck_assert(hl < sizeof(r->head));
    memcpy(r->head, buf, hl);
    r->head[hl] = '\0';
    const char *cl = strcasestr(r->head, "Content-Length: ");
    size_t blen = cl ? strtoul(cl + 16, NULL, 10) : 0;
    ck_assert(blen < sizeof(r->body));
    memcpy(r->body, he + 4, blen);
    r->body[blen] = '\0';
}

/* POST body to path; extra: more header lines ("Name: v\r\n"), or NULL. */
static void post(int port, const char *path, const char *body, const char *extra, struct resp *r)
{
    size_t cap = strlen(body) + 1024;
    char *req = malloc(cap);
    ck_assert(req != NULL);
    int n = snprintf(req, cap, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n%s"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s", path, extra ? extra : "",
                     strlen(body), body);
    exchange_raw(port, req, (size_t)n, r);
    free(req);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "open %s", path);
    static char buf[16384];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return strdup(buf);
}

static json_t *body_json(const struct resp *r)
{
    json_error_t e;
    json_t *j = json_loads(r->body, 0, &e);
    ck_assert_msg(j != NULL, "not JSON (%s): %s", e.text, r->body);
    return j;
}

/* Expects 200 {"rows_written": w, "rows_stale": s}. */
static void expect_rows(const struct resp *r, int w, int s)
{
    ck_assert_msg(r->status == 200, "%d: %s", r->status, r->body);
    ck_assert(strstr(r->head, "Content-Type: application/json") != NULL);
    char want[100];
    snprintf(want, sizeof(want), "{\"rows_written\":%d,\"rows_stale\":%d}\n", w, s);
    ck_assert_str_eq(r->body, want);
}

/* Expects status with an error of code whose message holds part. */
static void expect_error(const struct resp *r, int status, const char *code, const char *part)
{
    ck_assert_msg(r->status == status, "expected %d, got %d: %s", status, r->status, r->body);
    json_t *j = body_json(r);
    const json_t *e = json_object_get(j, "error");
    ck_assert_str_eq(json_string_value(json_object_get(e, "code")), code);
    ck_assert_msg(strstr(json_string_value(json_object_get(e, "message")), part) != NULL,
                  "message lacks \"%s\": %s", part, r->body);
    json_decref(j);
}

/* results[col].field[row] of a lookup answer. */
static const json_t *cell(const json_t *ans, size_t col, const char *field, size_t row)
{
    return json_array_get(json_object_get(json_array_get(json_object_get(ans, "results"), col), field), row);
}

static long long dbsize(void)
{
    redisReply *r = h_redis_cmd(&R, "DBSIZE");
    ck_assert(r != NULL && r->type == REDIS_REPLY_INTEGER);
    long long n = r->integer;
    freeReplyObject(r);
    return n;
}

/* Looks up v:x, v:s for users 1, 2, 7 on port; the answer parsed. */
static json_t *lookup_v(int port, const char *extra_key, const char *hdr)
{
    char body[400];
    snprintf(body, sizeof(body), "{\"features\": [\"v:x\", \"v:s\"], \"entities\": {\"user_id\": [1, 2, 7]}%s}",
             extra_key ? extra_key : "");
    struct resp r;
    post(port, "/get-online-features", body, hdr, &r);
    ck_assert_msg(r.status == 200, "%d: %s", r.status, r.body);
    return body_json(&r);
}

/* ---- Feast's bodies ---- */

START_TEST(test_feast_bodies)
{
    start(false);
    char *store = slurp(FEAST "/write_to_online_store.json");
    char *push = slurp(FEAST "/push.json");
    char *read = slurp(FEAST "/get_online_features.json");
    struct resp r, a;
    /* exactly what Feast's remote online store sends (naive ISO times, created, nulls) */
    post(F.port, "/write-to-online-store", store, NULL, &r);
    expect_rows(&r, 3, 0);
    post(F.port, "/get-online-features", read, NULL, &r);
    ck_assert_msg(r.status == 200, "%d: %s", r.status, r.body);
    json_t *j = body_json(&r);
    const json_t *names = json_object_get(json_object_get(j, "metadata"), "feature_names");
    ck_assert_str_eq(json_string_value(json_array_get(names, 0)), "driver_id");
    ck_assert_str_eq(json_string_value(json_array_get(names, 1)), "conv_rate");
    ck_assert(json_real_value(cell(j, 1, "values", 0)) == 0.5);
    ck_assert(json_real_value(cell(j, 1, "values", 1)) == 0.25);
    ck_assert(json_is_null(cell(j, 1, "values", 2)));
    ck_assert_str_eq(json_string_value(cell(j, 1, "statuses", 2)), "NULL_VALUE");
    ck_assert_str_eq(json_string_value(cell(j, 1, "event_timestamps", 0)), "2026-12-01T10:00:00Z");
    ck_assert_str_eq(json_string_value(cell(j, 1, "event_timestamps", 1)), "2026-12-01T10:00:00.250000Z");
    ck_assert_str_eq(json_string_value(cell(j, 1, "event_timestamps", 2)), "2026-12-01T09:00:00Z");
    ck_assert(json_number_value(cell(j, 2, "values", 2)) == 1.0);
    ck_assert_int_eq(json_integer_value(cell(j, 3, "values", 1)), 20);
    json_decref(j);
    /* the same rows again, on the admin port: equal event times replace */
    post(F.admin_port, "/write-to-online-store", store, NULL, &r);
    expect_rows(&r, 3, 0);
    /* Feast's push body (to: online_and_offline writes the online half):
     * 1001 newer → written, 1002 older → stale */
    post(F.admin_port, "/push", push, NULL, &r);
    expect_rows(&r, 1, 1);
    post(F.port, "/get-online-features",
         "{\"features\": [\"driver_hourly_stats:conv_rate\", \"driver_hourly_stats:avg_daily_trips\", "
         "\"driver_hourly_stats:city\", \"driver_hourly_stats:tags\"], \"entities\": {\"driver_id\": [1001, 1002, 1003]}}",
         NULL, &r);
    post(F.admin_port, "/get-online-features",
         "{\"features\": [\"driver_hourly_stats:conv_rate\", \"driver_hourly_stats:avg_daily_trips\", "
         "\"driver_hourly_stats:city\", \"driver_hourly_stats:tags\"], \"entities\": {\"driver_id\": [1001, 1002, 1003]}}",
         NULL, &a);
    ck_assert_str_eq(a.body, r.body);      /* both ports, same bytes */
    j = body_json(&r);
    ck_assert(json_real_value(cell(j, 1, "values", 0)) == 0.875);
    ck_assert_str_eq(json_string_value(cell(j, 1, "event_timestamps", 0)), "2026-12-01T11:00:00Z");
    ck_assert(json_real_value(cell(j, 1, "values", 1)) == 0.25);
    ck_assert_int_eq(json_integer_value(cell(j, 2, "values", 0)), 11);
    ck_assert_int_eq(json_integer_value(cell(j, 2, "values", 1)), 20);
    ck_assert_str_eq(json_string_value(cell(j, 3, "values", 0)), "Braga");
    ck_assert_str_eq(json_string_value(cell(j, 3, "values", 1)), "Porto");
    ck_assert(json_is_null(cell(j, 3, "values", 2)));
    ck_assert_str_eq(json_string_value(json_array_get(cell(j, 4, "values", 0), 0)), "d");
    ck_assert_uint_eq(json_array_size(cell(j, 4, "values", 1)), 0);
    ck_assert_str_eq(json_string_value(json_array_get(cell(j, 4, "values", 2), 0)), "c");
    json_decref(j);
    char *page = h_admin_get(F.admin_port, "/metrics");
    ck_assert(h_metric(page, "featd_requests_total{type=\"http_write_features\",code=\"OK\"}") == 3);
    ck_assert(h_metric(page, "featd_push_rows_total{view=\"driver_hourly_stats\",result=\"written\"}") == 7);
    ck_assert(h_metric(page, "featd_push_rows_total{view=\"driver_hourly_stats\",result=\"stale\"}") == 1);
    ck_assert(h_metric(page, "featd_admin_http_requests_total{path=\"/push\",code=\"200\"}") == 1);
    free(page);
    free(store);
    free(push);
    free(read);
}
END_TEST

/* ---- featd's body, last-write-wins ---- */

START_TEST(test_featd_body_lww)
{
    start(false);
    struct resp r;
    /* RFC 3339 and integer µs (1796119200000000 = 2026-12-01T10:00:00Z) */
    post(F.port, "/push", "{\"feature_view\": \"v\", \"df\": {\"user_id\": [1, 2], \"event_timestamp\": "
         "[\"2026-12-01T10:00:00Z\", 1796119200000000], \"x\": [1, 2], \"s\": [\"a\", null]}}", NULL, &r);
    expect_rows(&r, 2, 0);
    /* older: stale, nothing changes */
    post(F.admin_port, "/push", "{\"feature_view\": \"v\", \"df\": {\"user_id\": [1], \"event_timestamp\": "
         "[\"2026-12-01T09:59:59.999999Z\"], \"x\": [100], \"s\": [\"old\"]}}", NULL, &r);
    expect_rows(&r, 0, 1);
    /* equal: replaces (Feast's push body naming the view as its push source) */
    post(F.port, "/push", "{\"push_source_name\": \"v\", \"df\": {\"user_id\": [2], \"event_timestamp\": "
         "[\"2026-12-01T11:00:00+01:00\"], \"x\": [5], \"s\": [\"eq\"]}, \"to\": \"online\"}", NULL, &r);
    expect_rows(&r, 1, 0);
    /* /write-to-online-store takes featd's "feature_view" name too */
    post(F.admin_port, "/write-to-online-store", "{\"feature_view\": \"v\", \"df\": {\"user_id\": [7], "
         "\"event_timestamp\": [\"2026-12-01 10:00:00\"], \"x\": [-7], \"s\": [\"\"]}}", NULL, &r);
    expect_rows(&r, 1, 0);
    json_t *j = lookup_v(F.port, NULL, NULL);
    ck_assert_int_eq(json_integer_value(cell(j, 1, "values", 0)), 1);
    ck_assert_str_eq(json_string_value(cell(j, 2, "values", 0)), "a");
    ck_assert_int_eq(json_integer_value(cell(j, 1, "values", 1)), 5);
    ck_assert_str_eq(json_string_value(cell(j, 2, "values", 1)), "eq");
    ck_assert_int_eq(json_integer_value(cell(j, 1, "values", 2)), -7);
    ck_assert_str_eq(json_string_value(cell(j, 1, "event_timestamps", 2)), "2026-12-01T10:00:00Z");
    json_decref(j);
    ck_assert(h_admin_metric(F.admin_port, "featd_push_rows_total{view=\"v\",result=\"stale\"}") == 1);
}
END_TEST

/* ---- bad writes: 400, nothing written ---- */

static const struct bad {
    const char *path, *body, *part;
} BAD[] = {
    { "/push", "{\"feature_view\": \"nope\", \"df\": {\"user_id\": [7], \"event_timestamp\": [1], \"x\": [7], \"s\": [\"z\"]}}",
      "unknown feature view \"nope\"" },
    { "/push", "{\"feature_view\": \"v\", \"df\": {\"user_id\": [7], \"event_timestamp\": [\"2026-12-01T10:00:00Z\"], \"x\": [7]}}",
      "missing feature \"s\"" },
    { "/push", "{\"feature_view\": \"v\", \"df\": {\"user_id\": [7], \"event_timestamp\": [\"2026-12-01T10:00:00Z\"], \"x\": [7], \"s\": [\"z\"], \"zz\": [1]}}",
      "has no join key or feature \"zz\"" },
    { "/push", "{\"feature_view\": \"v\", \"df\": {\"user_id\": [7], \"event_timestamp\": [\"2026-12-01T10:00:00Z\"], \"x\": [\"seven\"], \"s\": [\"z\"]}}",
      "df.x[0]: feature \"x\" (int64)" },
    { "/push", "{\"feature_view\": \"v\", \"df\": {\"user_id\": [7, 1], \"event_timestamp\": [\"2026-12-01T12:00:00Z\", \"2026-12-01T12:00:00Z\"], \"x\": [7], \"s\": [\"z\", \"y\"]}}",
      "unequal lengths" },
    { "/push", "{\"feature_view\": \"v\", \"df\": {\"user_id\": [7], \"x\": [7], \"s\": [\"z\"]}}",
      "no event time column" },
    { "/push", "{\"feature_view\": \"v\", \"df\": {\"user_id\": [7, 1], \"event_timestamp\": [\"2026-12-01T12:00:00Z\", null], \"x\": [7, 8], \"s\": [\"z\", \"y\"]}}",
      "df.event_timestamp[1]: missing event time" },
    { "/push", "{\"feature_view\": \"v\", \"df\": {\"user_id\": [7], \"event_timestamp\": [\"2026-13-01T10:00:00Z\"], \"x\": [7], \"s\": [\"z\"]}}",
      "expected an RFC 3339 time" },
    { "/push", "{\"feature_view\": \"v\", \"df\": {\"user_id\": [1, 7, 8], \"event_timestamp\": [\"2026-12-01T12:00:00Z\", \"2026-12-01T12:00:00Z\", \"2026-12-01T12:00:00Z\"], \"x\": [7, 8, 1.5], \"s\": [\"z\", \"y\", \"w\"]}}",
      "df.x[2]" },
    { "/push", "{\"feature_view\": \"v\", \"df\": {\"event_timestamp\": [\"2026-12-01T12:00:00Z\"], \"x\": [7], \"s\": [\"z\"]}}",
      "join key" },
    { "/push", "{\"feature_view\": \"v\", \"df\": {\"user_id\": [null], \"event_timestamp\": [\"2026-12-01T12:00:00Z\"], \"x\": [7], \"s\": [\"z\"]}}",
      "may not be null" },
    { "/push", "{\"push_source_name\": \"v\", \"df\": {\"user_id\": [7], \"event_timestamp\": [\"2026-12-01T12:00:00Z\"], \"x\": [7], \"s\": [\"z\"]}, \"to\": \"offline\"}",
      "no offline store" },
    { "/push", "{\"feature_view\": \"v\", \"df\": {\"user_id\": [7], \"event_timestamp\": [\"2026-12-01T12:00:00Z\"], \"x\": [7], \"s\": [\"z\"]}",
      "not valid JSON" },
    { "/push", "{\"feature_view\": \"v\", \"df\": [[7]]}", "\"df\" must be an object" },
    { "/push", "{\"df\": {\"user_id\": [7]}}", "missing \"feature_view\"" },
    { "/write-to-online-store", "{\"feature_view_name\": \"v\", \"df\": {\"user_id\": [7], \"event_timestamp\": [\"2026-12-01T12:00:00\"], \"x\": [7], \"s\": [\"z\"]}, \"to\": \"online\"}",
      "unknown key \"to\"" },
    { "/write-to-online-store", "{\"feature_view_name\": \"v\", \"df\": {\"user_id\": [7], \"event_timestamp\": [\"2026-12-01T12:00:00\"], \"x\": [7], \"s\": [\"z\"], \"created\": [\"yesterday\"]}}",
      "df.created[0]" },
    { "/write-to-online-store", "{\"feature_view_name\": \"v\", \"df\": {\"user_id\": [], \"event_timestamp\": [], \"x\": [], \"s\": []}}",
      "no rows" },
};

START_TEST(test_bad_writes)
{
    start(false);
    struct resp r;
    post(F.port, "/push", "{\"feature_view\": \"v\", \"df\": {\"user_id\": [1], \"event_timestamp\": "
         "[\"2026-12-01T10:00:00Z\"], \"x\": [1], \"s\": [\"a\"]}}", NULL, &r);
    expect_rows(&r, 1, 0);
    long long before = dbsize();
    for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++) {
        int ports[2] = { F.port, F.admin_port };
        for (int p = 0; p < 2; p++) {
            post(ports[p], BAD[i].path, BAD[i].body, NULL, &r);
            expect_error(&r, 400, "INVALID_ARGUMENT", BAD[i].part);
        }
    }
    ck_assert_int_eq(dbsize(), before);
    json_t *j = lookup_v(F.admin_port, NULL, NULL);
    ck_assert_int_eq(json_integer_value(cell(j, 1, "values", 0)), 1);
    ck_assert_str_eq(json_string_value(cell(j, 1, "event_timestamps", 0)), "2026-12-01T10:00:00Z");
    ck_assert_str_eq(json_string_value(cell(j, 1, "statuses", 2)), "NOT_FOUND");
    json_decref(j);
    char *page = h_admin_get(F.admin_port, "/metrics");
    ck_assert(h_metric(page, "featd_requests_total{type=\"http_write_features\",code=\"INVALID_ARGUMENT\"}") ==
              2.0 * (double)(sizeof(BAD) / sizeof(BAD[0])));
    ck_assert(h_metric(page, "featd_push_rows_total{view=\"v\",result=\"rejected\"}") > 10);
    ck_assert(h_metric(page, "featd_push_rows_total{view=\"v\",result=\"written\"}") == 1);
    free(page);
    /* a body over max_frame_bytes: 413 on both ports (the head alone suffices) */
    const char *big = "POST /push HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      "Content-Length: 70000\r\n\r\n";
    exchange_raw(F.port, big, strlen(big), &r);
    ck_assert_msg(r.status == 413, "%d: %s", r.status, r.body);
    exchange_raw(F.admin_port, big, strlen(big), &r);
    ck_assert_msg(r.status == 413, "%d: %s", r.status, r.body);
    /* GET on a write endpoint */
    const char *get = "GET /push HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    exchange_raw(F.port, get, strlen(get), &r);
    ck_assert_int_eq(r.status, 405);
    ck_assert_int_eq(dbsize(), before);
}
END_TEST

/* ---- auth ---- */

START_TEST(test_write_auth)
{
    start(true);
    const char *body = "{\"feature_view\": \"v\", \"df\": {\"user_id\": [1], \"event_timestamp\": "
                       "[\"2026-12-01T10:00:00Z\"], \"x\": [1], \"s\": [\"a\"]}}";
    const char *bad = "{\"feature_view\": \"v\", \"df\": {\"user_id\": [1], \"x\": [\"no\"]}}";
    struct resp r;
    long long before = dbsize();
    int ports[2] = { F.port, F.admin_port };
    for (int p = 0; p < 2; p++) {
        post(ports[p], "/push", body, NULL, &r);
        expect_error(&r, 401, "UNAUTHENTICATED", "authentication required");
        ck_assert(strstr(r.head, "WWW-Authenticate: Bearer") != NULL);
        post(ports[p], "/write-to-online-store", body, "Authorization: Bearer nope-nope-nope\r\n", &r);
        expect_error(&r, 401, "UNAUTHENTICATED", "unknown token");
        /* a token without "write": 403 naming the view, before the body is judged */
        post(ports[p], "/push", body, "Authorization: Bearer " READER "\r\n", &r);
        expect_error(&r, 403, "PERMISSION_DENIED", "may not write feature view \"v\"");
        post(ports[p], "/push", bad, "Authorization: Bearer " READER "\r\n", &r);
        expect_error(&r, 403, "PERMISSION_DENIED", "may not write feature view \"v\"");
        /* the writer's bad body is judged */
        post(ports[p], "/push", bad, "Authorization: Bearer " WRITER "\r\n", &r);
        expect_error(&r, 400, "INVALID_ARGUMENT", "df.x[0]");
    }
    ck_assert_int_eq(dbsize(), before);
    post(F.port, "/push", body, "Authorization: Bearer " WRITER "\r\n", &r);
    expect_rows(&r, 1, 0);
    post(F.admin_port, "/write-to-online-store",
         "{\"feature_view_name\": \"v\", \"df\": {\"user_id\": [2], \"event_timestamp\": [\"2026-12-01T10:00:00\"], "
         "\"x\": [2], \"s\": [null], \"created\": [null]}, \"allow_registry_cache\": false}",
         "Authorization: Bearer " WRITER "\r\n", &r);
    expect_rows(&r, 1, 0);
    json_t *j = lookup_v(F.port, NULL, "Authorization: Bearer " READER "\r\n");
    ck_assert_int_eq(json_integer_value(cell(j, 1, "values", 0)), 1);
    ck_assert_int_eq(json_integer_value(cell(j, 1, "values", 1)), 2);
    json_decref(j);
    ck_assert(h_admin_metric(F.admin_port, "featd_requests_total{type=\"http_write_features\",code=\"PERMISSION_DENIED\"}") == 4);
}
END_TEST

/* ---- held shadow reads over HTTP ---- */

/* The value of a meta key of view v ("current", "held"): its name into key. */
static void meta_key(const char *which, char *key, size_t cap)
{
    redisReply *r = h_redis_cmd(&R, "KEYS hw:v2:m:{v}:*:current");
    ck_assert(r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 1);
    snprintf(key, cap, "%.*s%s", (int)(r->element[0]->len - strlen("current")), r->element[0]->str, which);
    freeReplyObject(r);
}

START_TEST(test_held_shadow_read)
{
    start(false);
    /* a snapshot row set (featd-cli load: the view's current generation) */
    char rows[300], cmd[1200];
    snprintf(rows, sizeof(rows), "%s/v.jsonl", dir);
    FILE *f = fopen(rows, "w");
    ck_assert(f != NULL);
    fputs("{\"user_id\": 1, \"event_timestamp\": \"2026-11-21T10:00:00Z\", \"x\": 41, \"s\": \"a\"}\n"
          "{\"user_id\": 2, \"event_timestamp\": \"2026-11-21T10:00:00Z\", \"x\": 42, \"s\": null}\n", f);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "'%s' load --config '%s' --view v --file '%s' >/dev/null 2>&1", h_bin("featd-cli"),
             F.config_path, rows);
    ck_assert(system(cmd) == 0);
    /* hold that generation and point current at an empty one: a held read
     * sees the rows, a current read does not */
    char cur[300], held[300];
    meta_key("current", cur, sizeof(cur));
    meta_key("held", held, sizeof(held));
    redisReply *g = h_redis_cmd(&R, "GET %s", cur);
    ck_assert(g != NULL && g->type == REDIS_REPLY_STRING);
    unsigned long long gen = strtoull(g->str, NULL, 10);
    freeReplyObject(g);
    freeReplyObject(h_redis_cmd(&R, "SET %s %llu", held, gen));
    freeReplyObject(h_redis_cmd(&R, "SET %s %llu", cur, gen + 1));
    int ports[2] = { F.port, F.admin_port };
    for (int p = 0; p < 2; p++) {
        json_t *j = lookup_v(ports[p], ", \"generation_mode\": \"held\"", NULL);
        ck_assert_int_eq(json_integer_value(cell(j, 1, "values", 0)), 41);
        ck_assert_int_eq(json_integer_value(cell(j, 1, "values", 1)), 42);
        ck_assert_str_eq(json_string_value(cell(j, 2, "statuses", 1)), "NULL_VALUE");
        ck_assert_str_eq(json_string_value(cell(j, 1, "statuses", 2)), "NOT_FOUND");
        json_decref(j);
        j = lookup_v(ports[p], ", \"generation_mode\": \"current\"", NULL);
        ck_assert_str_eq(json_string_value(cell(j, 1, "statuses", 0)), "NOT_FOUND");
        json_decref(j);
        j = lookup_v(ports[p], NULL, NULL);
        ck_assert_str_eq(json_string_value(cell(j, 1, "statuses", 0)), "NOT_FOUND");
        json_decref(j);
        struct resp r;
        post(ports[p], "/get-online-features",
             "{\"features\": [\"v:x\"], \"entities\": {\"user_id\": [1]}, \"generation_mode\": \"HELD!\"}", NULL, &r);
        expect_error(&r, 400, "INVALID_ARGUMENT", "generation_mode");
    }
    /* a pushed row merges into shadow reads as into current ones */
    struct resp r;
    post(F.port, "/push", "{\"feature_view\": \"v\", \"df\": {\"user_id\": [2], \"event_timestamp\": "
         "[\"2026-12-01T10:00:00Z\"], \"x\": [99], \"s\": [\"p\"]}}", NULL, &r);
    expect_rows(&r, 1, 0);
    json_t *j = lookup_v(F.port, ", \"generation_mode\": \"held\"", NULL);
    ck_assert_int_eq(json_integer_value(cell(j, 1, "values", 0)), 41);
    ck_assert_int_eq(json_integer_value(cell(j, 1, "values", 1)), 99);
    json_decref(j);
    /* nothing held: a shadow read is NOT_FOUND even where rows were pushed */
    freeReplyObject(h_redis_cmd(&R, "DEL %s", held));
    j = lookup_v(F.port, ", \"generation_mode\": \"held\"", NULL);
    ck_assert_str_eq(json_string_value(cell(j, 1, "statuses", 1)), "NOT_FOUND");
    json_decref(j);
    j = lookup_v(F.port, NULL, NULL);                   /* the current read still merges it */
    ck_assert_int_eq(json_integer_value(cell(j, 1, "values", 1)), 99);
    json_decref(j);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("e2e_http_write");
    TCase *tc = tcase_create("http_write");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_feast_bodies);
    tcase_add_test(tc, test_featd_body_lww);
    tcase_add_test(tc, test_bad_writes);
    tcase_add_test(tc, test_write_auth);
    tcase_add_test(tc, test_held_shadow_read);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
