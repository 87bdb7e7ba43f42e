/*
 * check_auth.c — the "auth" config section (config/config_auth.c) and the
 * token checks (auth/auth.c): parsing and its errors, constant-time lookup
 * by secret, per-view read/write rights, Bearer headers.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth.h"
#include "config/config.h"
#include "core/util.h"

#define VIEWS \
    "\"entities\": [ { \"name\": \"u\", \"join_keys\": [ { \"name\": \"id\", \"type\": \"int64\" } ] } ]," \
    "\"feature_views\": [ { \"name\": \"a\", \"entities\": [\"u\"], \"features\": [ { \"name\": \"x\", \"type\": \"int64\" } ] }," \
    "                     { \"name\": \"b\", \"entities\": [\"u\"], \"features\": [ { \"name\": \"y\", \"type\": \"int64\" } ] } ]"

/* The SHA-256 of secret in lower-case hex. */
static void hex_of(const char *secret, char out[65])
{
    uint8_t h[32];
    util_sha256(secret, strlen(secret), h);
    for (int i = 0; i < 32; i++) {
        snprintf(out + 2 * i, 3, "%02x", h[i]);
    }
}

static struct featd_config *load(const char *auth, char *err, size_t errlen)
{
    char json[8192];
    snprintf(json, sizeof json, "{ %s, \"auth\": %s }", VIEWS, auth);
    struct featd_config *cfg = NULL;
    if (config_load_string(json, &cfg, err, errlen) != FEATD_OK) {
        return NULL;
    }
    return cfg;
}

static void load_err(const char *auth, const char *want)
{
    char err[4096];
    struct featd_config *cfg = load(auth, err, sizeof err);
    ck_assert_msg(cfg == NULL, "accepted: %s", auth);
    ck_assert_msg(strstr(err, want) != NULL, "error \"%s\" lacks \"%s\"", err, want);
}

START_TEST(test_parse_and_find)
{
    char hex[65], json[2048], err[2048], file[] = "/tmp/featd-token-XXXXXX";
    hex_of("ranker-secret-0123456789", hex);
    int fd = mkstemp(file);
    ck_assert(fd >= 0);
    ck_assert(write(fd, "  pipeline-secret-abcdefgh\n", 27) == 27);
    close(fd);
    snprintf(json, sizeof json,
             "{ \"tokens\": [ { \"name\": \"ranker\", \"token_sha256\": \"%s\", \"views\": [\"a\"] },"
             "  { \"name\": \"pipeline\", \"token_file\": \"%s\", \"views\": [\"*\"], \"write\": true } ],"
             "  \"protect_metrics\": true }", hex, file);
    struct featd_config *cfg = load(json, err, sizeof err);
    ck_assert_msg(cfg != NULL, "%s", err);
    const struct cfg_auth *a = &cfg->auth;
    ck_assert(a->enabled && a->protect_metrics);
    ck_assert_uint_eq(a->ntokens, 2);
    const char *s1 = "ranker-secret-0123456789", *s2 = "pipeline-secret-abcdefgh";
    const struct cfg_token *t = auth_token_find(a, s1, strlen(s1));
    ck_assert(t != NULL && strcmp(t->name, "ranker") == 0);
    ck_assert(auth_may_read(t, "a") && !auth_may_read(t, "b") && !auth_may_write(t, "a"));
    t = auth_token_find(a, s2, strlen(s2));     /* whitespace around the file's secret dropped */
    ck_assert(t != NULL && strcmp(t->name, "pipeline") == 0);
    ck_assert(auth_may_read(t, "a") && auth_may_read(t, "b") && auth_may_write(t, "b"));
    ck_assert(auth_token_find(a, s1, strlen(s1) - 1) == NULL);
    ck_assert(auth_token_find(a, "", 0) == NULL);
    ck_assert(auth_token_by_name(a, "ranker", a->tokens[0].sha256) == &a->tokens[0]);
    ck_assert(auth_token_by_name(a, "ranker", a->tokens[1].sha256) == NULL);
    ck_assert(!auth_may_read(NULL, "a"));
    config_free(cfg);
    /* no auth section: disabled */
    cfg = load("null", err, sizeof err);
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert(!cfg->auth.enabled);
    config_free(cfg);
    unlink(file);
}
END_TEST

START_TEST(test_errors)
{
    char hex[65], json[1024];
    hex_of("ranker-secret-0123456789", hex);
    load_err("{ \"tokens\": [] }", "at least one token");
    load_err("{ \"tokens\": [ { \"name\": \"r\", \"views\": [\"a\"] } ] }", "exactly one of token_sha256");
    snprintf(json, sizeof json, "{ \"tokens\": [ { \"name\": \"r\", \"token_sha256\": \"%s\", "
             "\"token_file\": \"/x\", \"views\": [\"a\"] } ] }", hex);
    load_err(json, "exactly one of token_sha256");
    load_err("{ \"tokens\": [ { \"name\": \"r\", \"token_sha256\": \"abc\", \"views\": [\"a\"] } ] }",
             "$.auth.tokens[0].token_sha256: expected 64 hex digits");
    snprintf(json, sizeof json, "{ \"tokens\": [ { \"name\": \"r\", \"token_sha256\": \"%s\", "
             "\"views\": [\"nope\"] } ] }", hex);
    load_err(json, "$.auth.tokens[0].views[0]: no feature view named \"nope\"");
    snprintf(json, sizeof json, "{ \"tokens\": [ { \"name\": \"r\", \"token_sha256\": \"%s\", "
             "\"views\": [] } ] }", hex);
    load_err(json, "at least one view");
    snprintf(json, sizeof json, "{ \"tokens\": [ { \"name\": \"r\", \"token_sha256\": \"%s\", "
             "\"views\": [\"a\"] }, { \"name\": \"r\", \"token_sha256\": \"%s\", \"views\": [\"a\"] } ] }",
             hex, hex);
    load_err(json, "duplicate token name");
    load_err(json, "the same token as");
    load_err("{ \"tokens\": [ { \"name\": \"r\", \"token_file\": \"/nonexistent/tok\", \"views\": [\"a\"] } ] }",
             "$.auth.tokens[0].token_file: cannot read /nonexistent/tok");
    char file[] = "/tmp/featd-token-XXXXXX";
    int fd = mkstemp(file);
    ck_assert(write(fd, "short\n", 6) == 6);
    close(fd);
    snprintf(json, sizeof json, "{ \"tokens\": [ { \"name\": \"r\", \"token_file\": \"%s\", "
             "\"views\": [\"a\"] } ] }", file);
    load_err(json, "shorter than 16 bytes");
    unlink(file);
    snprintf(json, sizeof json, "{ \"tokens\": [ { \"name\": \"r\", \"token_sha256\": \"%s\", "
             "\"views\": [\"a\"], \"write\": \"yes\", \"extra\": 1 } ], \"protect_metrics\": 1 }", hex);
    load_err(json, "$.auth.tokens[0].write: expected true or false");
    load_err(json, "unknown key \"extra\" in a token");
    load_err(json, "$.auth.protect_metrics: expected true or false");
    load_err("[1]", "$.auth: expected an object");
}
END_TEST

START_TEST(test_bearer)
{
    const char *t;
    size_t n;
    ck_assert(auth_bearer("Bearer abc.def", &t, &n) && n == 7 && strncmp(t, "abc.def", n) == 0);
    ck_assert(auth_bearer("  bearer \t xyz  ", &t, &n) && n == 3 && strncmp(t, "xyz", 3) == 0);
    ck_assert(!auth_bearer("Basic abc", &t, &n));
    ck_assert(!auth_bearer("Bearer", &t, &n));
    ck_assert(!auth_bearer("Bearer   ", &t, &n));
    ck_assert(!auth_bearer("Bearerabc", &t, &n));
    ck_assert(!auth_bearer(NULL, &t, &n));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("auth");
    TCase *tc = tcase_create("auth");
    tcase_add_test(tc, test_parse_and_find);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_bearer);
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
