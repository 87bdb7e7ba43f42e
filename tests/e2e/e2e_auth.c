/*
 * e2e_auth.c — token authentication and per-view authorization (DESIGN
 * §14) with the real featd: the serving port's AuthRequest gate and view
 * checks, the admin port's Bearer tokens (401/403, open health endpoints,
 * protect_metrics), SIGHUP revocation, the token_file form, and that no
 * token string ever reaches featd's log.
 */
#include <check.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "featd_client.h"
#include "harness.h"
#include "core/util.h"

#define RANKER "ranker-secret-0123456789abcdef"      /* views: a */
#define PIPELINE "pipeline-secret-fedcba9876543210"  /* views: *, from a token_file */
#define WRONG "wrong-secret-000000000000000000"

static struct h_redis R;
static struct h_featd F;
static char tokdir[256];
static int port, admin_port;

static void hex_sha256(const char *s, char out[65])
{
    uint8_t h[32];
    util_sha256(s, strlen(s), h);
    for (int i = 0; i < 32; i++) {
        snprintf(out + 2 * i, 3, "%02x", h[i]);
    }
}

/* The config: ranker (views a) unless revoked, pipeline (all views) from a file. */
static void write_config(char *buf, size_t cap, bool with_ranker, bool protect_metrics)
{
    char hx[65];
    hex_sha256(RANKER, hx);
    char ranker[256] = "";
    if (with_ranker) {
        snprintf(ranker, sizeof ranker, "{ \"name\": \"ranker\", \"token_sha256\": \"%s\", "
                 "\"views\": [\"a\"] },", hx);
    }
    snprintf(buf, cap,
             "{ \"server\": { \"listen\": \"127.0.0.1:%d\", \"admin_listen\": \"127.0.0.1:%d\", "
             "\"workers\": 2, \"log_level\": \"debug\" },"
             "  \"redis\": { \"url\": \"redis://127.0.0.1:%d/0\", \"key_prefix\": \"auth\" },"
             "  \"entities\": [ { \"name\": \"user\", \"join_keys\": [ { \"name\": \"user_id\", \"type\": \"int64\" } ] } ],"
             "  \"feature_views\": ["
             "    { \"name\": \"a\", \"entities\": [\"user\"], \"features\": [ { \"name\": \"x\", \"type\": \"int64\" } ] },"
             "    { \"name\": \"b\", \"entities\": [\"user\"], \"features\": [ { \"name\": \"y\", \"type\": \"int64\" } ] } ],"
             "  \"auth\": { \"protect_metrics\": %s, \"tokens\": [ %s"
             "    { \"name\": \"pipeline\", \"token_file\": \"%s/pipeline.token\", \"views\": [\"*\"], \"write\": true } ] } }",
             port, admin_port, R.port, protect_metrics ? "true" : "false", ranker, tokdir);
}

static void start(bool protect_metrics)
{
    char cfg[4096];
    write_config(cfg, sizeof cfg, true, protect_metrics);
    h_featd_start(&F, cfg);
}

static void setup(void)
{
    h_tempdir(tokdir, "authtok");
    char p[300];
    snprintf(p, sizeof p, "%s/pipeline.token", tokdir);
    FILE *f = fopen(p, "w");
    ck_assert(f != NULL);
    fprintf(f, "%s\n", PIPELINE);
    fclose(f);
    port = h_free_port();
    admin_port = h_free_port();
    h_redis_start(&R);
}

static void teardown(void)
{
    h_featd_stop(&F);
    h_redis_stop(&R);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tokdir);
    ck_assert(system(cmd) == 0);
}

static struct featd_client *connect_as(const char *token)
{
    char err[512];
    struct featd_client *c = featd_connect("127.0.0.1", F.port, 3000, err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    if (token != NULL) {
        ck_assert_msg(featd_auth(c, token) != NULL, "%s", featd_errmsg(c));
    }
    return c;
}

/* A lookup of ref: the error code of the answer (0 = features answered,
 * -1 = no answer at all); msg gets the error message. */
static int lookup(struct featd_client *c, const char *ref, char *msg, size_t cap)
{
    struct featd_get *g = featd_get_new();
    ck_assert(featd_get_add_feature(g, ref) == 0);
    ck_assert(featd_get_add_int64(g, "user_id", 7) == 0);
    Featd__V1__Response *resp = NULL;
    int rc = featd_call(c, featd_get_request(g, featd_next_id(c)), &resp);
    featd_get_free(g);
    if (rc != FEATD_OK) {
        snprintf(msg, cap, "%s", featd_errmsg(c));
        return -1;
    }
    int code = 0;
    if (resp->body_case == FEATD__V1__RESPONSE__BODY_ERROR) {
        code = resp->error->code;
        snprintf(msg, cap, "%s", resp->error->message);
    } else {
        ck_assert(resp->body_case == FEATD__V1__RESPONSE__BODY_GET_ONLINE_FEATURES);
        msg[0] = '\0';
    }
    featd_response_free(resp);
    return code;
}

/* One HTTP request to the admin port with an optional bearer token: the
 * whole response, malloc'd. */
static char *http(const char *method, const char *path, const char *token, const char *body)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)F.admin_port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* the admin listener may open a moment after the serving port */
    int fd = -1;
    for (int64_t until = util_mono_us() + 5000000; fd < 0; usleep(20000)) {
        fd = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
            int e = errno;
            close(fd);
            fd = -1;
            ck_assert_msg(util_mono_us() < until, "admin port %d: %s", F.admin_port, strerror(e));
        }
    }
    char req[4096], auth[512] = "";
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", token);
    }
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                     method, path, auth, body ? strlen(body) : 0, body ? body : "");
    ck_assert(write(fd, req, (size_t)n) == n);
    size_t cap = 1 << 20, len = 0;
    char *out = malloc(cap);
    ssize_t r;
    while ((r = read(fd, out + len, cap - 1 - len)) > 0) {
        len += (size_t)r;
    }
    out[len] = '\0';
    close(fd);
    return out;
}

static int http_status(const char *resp)
{
    int code = 0;
    sscanf(resp, "HTTP/1.1 %d", &code);
    return code;
}

START_TEST(test_auth_serving)
{
    start(false);
    char msg[512];
    /* no token: everything UNAUTHENTICATED, the connection stays usable */
    struct featd_client *c = connect_as(NULL);
    ck_assert_int_eq(lookup(c, "a:x", msg, sizeof msg), 6);
    ck_assert_msg(strstr(msg, "AuthRequest") != NULL, "%s", msg);
    ck_assert(featd_ping(c, NULL) != FEATD_OK);
    ck_assert_int_eq(featd_server_code(c), 6);
    /* a wrong token */
    ck_assert(featd_auth(c, WRONG) == NULL);
    ck_assert_int_eq(featd_server_code(c), 6);
    /* then the right one on the same connection */
    const char *who = featd_auth(c, RANKER);
    ck_assert_msg(who != NULL, "%s", featd_errmsg(c));
    ck_assert_str_eq(who, "ranker");
    ck_assert_int_eq(lookup(c, "a:x", msg, sizeof msg), 0);
    ck_assert(featd_ping(c, NULL) == FEATD_OK);
    /* view b is not ranker's: PERMISSION_DENIED naming b, also through "b:*" */
    ck_assert_int_eq(lookup(c, "b:y", msg, sizeof msg), 7);
    ck_assert_msg(strstr(msg, "\"b\"") != NULL, "%s", msg);
    ck_assert_int_eq(lookup(c, "b:*", msg, sizeof msg), 7);
    ck_assert_msg(strstr(msg, "\"b\"") != NULL, "%s", msg);
    /* a view that does not exist is not revealed either */
    ck_assert_int_eq(lookup(c, "nosuch:x", msg, sizeof msg), 7);
    /* ListFeatureViews lists only a */
    Featd__V1__Response *lv = NULL;
    ck_assert(featd_list_views(c, &lv) == FEATD_OK);
    ck_assert_int_eq(lv->list_feature_views->n_views, 1);
    ck_assert_str_eq(lv->list_feature_views->views[0]->name, "a");
    featd_response_free(lv);
    featd_close(c);
    /* the token_file token reads every view */
    c = connect_as(PIPELINE);
    ck_assert_int_eq(lookup(c, "b:y", msg, sizeof msg), 0);
    ck_assert_int_eq(lookup(c, "a:*", msg, sizeof msg), 0);
    featd_close(c);
    /* three refused tokens close the connection */
    c = connect_as(NULL);
    for (int i = 0; i < 3; i++) {
        ck_assert(featd_auth(c, WRONG) == NULL);
    }
    ck_assert_int_eq(lookup(c, "a:x", msg, sizeof msg), -1);
    featd_close(c);
    char *page = http("GET", "/metrics", NULL, NULL);
    ck_assert_double_ge(h_metric(page, "featd_auth_failures_total{reason=\"missing\"}"), 2);
    ck_assert_double_ge(h_metric(page, "featd_auth_failures_total{reason=\"unknown_token\"}"), 4);
    ck_assert_double_ge(h_metric(page, "featd_auth_failures_total{reason=\"permission_denied\"}"), 3);
    free(page);
}
END_TEST

START_TEST(test_auth_http)
{
    start(false);
    char *r = http("GET", "/v1/feature-views", NULL, NULL);
    ck_assert_int_eq(http_status(r), 401);
    ck_assert_msg(strstr(r, "WWW-Authenticate: Bearer") != NULL, "%s", r);
    ck_assert(strstr(r, "UNAUTHENTICATED") != NULL);
    free(r);
    r = http("GET", "/v1/feature-views", WRONG, NULL);
    ck_assert_int_eq(http_status(r), 401);
    free(r);
    r = http("GET", "/v1/feature-views", RANKER, NULL);
    ck_assert_int_eq(http_status(r), 200);
    ck_assert_msg(strstr(r, "\"name\": \"a\"") != NULL && strstr(r, "\"name\": \"b\"") == NULL, "%s", r);
    free(r);
    const char *body_b = "{\"features\": [\"b:y\"], \"entities\": {\"user_id\": [7]}}";
    const char *body_a = "{\"features\": [\"a:x\"], \"entities\": {\"user_id\": [7]}}";
    r = http("POST", "/get-online-features", NULL, body_a);
    ck_assert_int_eq(http_status(r), 401);
    free(r);
    r = http("POST", "/get-online-features", RANKER, body_b);
    ck_assert_int_eq(http_status(r), 403);
    ck_assert_msg(strstr(r, "PERMISSION_DENIED") != NULL && strstr(r, "\\\"b\\\"") != NULL, "%s", r);
    free(r);
    r = http("POST", "/get-online-features", RANKER, body_a);
    ck_assert_msg(http_status(r) == 200, "%s", r);
    free(r);
    r = http("POST", "/get-online-features", PIPELINE, body_b);
    ck_assert_msg(http_status(r) == 200, "%s", r);
    free(r);
    /* open: health and (without protect_metrics) metrics */
    r = http("GET", "/healthz", NULL, NULL);
    ck_assert_int_eq(http_status(r), 200);
    free(r);
    r = http("GET", "/readyz", NULL, NULL);
    ck_assert_int_ne(http_status(r), 401);
    free(r);
    r = http("GET", "/metrics", NULL, NULL);
    ck_assert_int_eq(http_status(r), 200);
    ck_assert_double_ge(h_metric(r, "featd_auth_failures_total{reason=\"permission_denied\"}"), 1);
    free(r);
}
END_TEST

/* Waits until the reload counter reaches n. */
static void wait_reloads(int n, const char *token)
{
    int64_t until = util_mono_us() + 10000000;
    while (util_mono_us() < until) {
        char *r = http("GET", "/metrics", token, NULL);
        double v = h_metric(r, "featd_reloads_total{result=\"ok\"}");
        free(r);
        if (v >= n) {
            return;
        }
        usleep(50000);
    }
    ck_abort_msg("no reload");
}

START_TEST(test_auth_reload_and_log)
{
    start(true);
    /* protect_metrics: /metrics needs a token, health does not */
    char *r = http("GET", "/metrics", NULL, NULL);
    ck_assert_int_eq(http_status(r), 401);
    free(r);
    r = http("GET", "/healthz", NULL, NULL);
    ck_assert_int_eq(http_status(r), 200);
    free(r);
    char msg[512];
    struct featd_client *ranker = connect_as(RANKER), *pipe = connect_as(PIPELINE);
    ck_assert_int_eq(lookup(ranker, "a:x", msg, sizeof msg), 0);
    /* revoke ranker */
    char cfg[4096];
    write_config(cfg, sizeof cfg, false, true);
    FILE *f = fopen(F.config_path, "w");
    ck_assert(f != NULL);
    fputs(cfg, f);
    fclose(f);
    kill(F.pid, SIGHUP);
    wait_reloads(1, PIPELINE);
    int64_t until = util_mono_us() + 5000000;
    int code = 0;
    while (util_mono_us() < until && (code = lookup(ranker, "a:x", msg, sizeof msg)) == 0) {
        usleep(20000);
    }
    ck_assert_msg(code == -1 || code == 6, "revoked connection still answered: %d %s", code, msg);
    ck_assert_int_eq(lookup(ranker, "a:x", msg, sizeof msg), -1);    /* closed */
    ck_assert_int_eq(lookup(pipe, "a:x", msg, sizeof msg), 0);       /* the other one works */
    ck_assert_int_eq(lookup(pipe, "b:y", msg, sizeof msg), 0);
    featd_close(ranker);
    featd_close(pipe);
    /* a new connection with the revoked token is refused */
    struct featd_client *c = connect_as(NULL);
    ck_assert(featd_auth(c, RANKER) == NULL);
    featd_close(c);
    r = http("GET", "/metrics", PIPELINE, NULL);
    ck_assert_int_eq(http_status(r), 200);
    ck_assert_double_eq(h_metric(r, "featd_auth_connections_revoked_total"), 1);
    free(r);
    /* no token string anywhere in the log (debug level, failures logged) */
    f = fopen(F.log_path, "r");
    ck_assert(f != NULL);
    char line[8192];
    bool saw_audit = false;
    while (fgets(line, sizeof line, f)) {
        ck_assert_msg(strstr(line, RANKER) == NULL && strstr(line, PIPELINE) == NULL &&
                      strstr(line, WRONG) == NULL, "token in the log: %s", line);
        saw_audit = saw_audit || strstr(line, "unknown_token") != NULL;
    }
    fclose(f);
    ck_assert_msg(saw_audit, "no audit line for the refused token");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("e2e_auth");
    TCase *tc = tcase_create("auth");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_auth_serving);
    tcase_add_test(tc, test_auth_http);
    tcase_add_test(tc, test_auth_reload_and_log);
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
