/*
 * check_http.c — the serving port's HTTP pieces on their own: the request
 * head parser (http/http_parse.c: pipelined heads, partial input, every
 * refusal's status, the bounds) and the JSON answer's fast double
 * formatter (jsonw_fmt_double's exact fast path), which must write exactly
 * what the snprintf search (jsonw_fmt_double_search) writes.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonw.h"
#include "http/http_lookup.h"
#include "http/http_parse.h"

static int parse(const char *p, struct http_head *h)
{
    int status = 0;
    const char *why = NULL;
    enum http_parse_status st = http_parse_head(p, strlen(p), h, &status, &why);
    if (st == HTTP_PARSE_FAIL) {
        ck_assert(why != NULL);
        return status;
    }
    return st == HTTP_PARSE_OK ? 0 : -1;
}

START_TEST(test_parse_heads)
{
    struct http_head h;
    const char *two = "POST /get-online-features?x=1 HTTP/1.1\r\nHost: a\r\ncontent-length: 5\r\n"
                      "Authorization:  Bearer tok \r\n\r\nhelloGET /healthz HTTP/1.0\r\n\r\n";
    ck_assert_int_eq(parse(two, &h), 0);
    ck_assert_int_eq(h.method, HTTP_POST);
    ck_assert_uint_eq(h.path_len, strlen("/get-online-features"));
    ck_assert(memcmp(h.path, "/get-online-features", h.path_len) == 0);
    ck_assert_uint_eq(h.content_length, 5);
    ck_assert(h.keep_alive);
    ck_assert_uint_eq(h.auth_len, 10);
    ck_assert(memcmp(h.auth, "Bearer tok", 10) == 0);
    const char *next = two + h.head_len + 5;
    ck_assert_int_eq(parse(next, &h), 0);
    ck_assert_int_eq(h.method, HTTP_GET);
    ck_assert(!h.keep_alive);                   /* HTTP/1.0 */
    ck_assert_int_eq(parse("GET / HTTP/1.0\nConnection: Keep-Alive\n\n", &h), 0);
    ck_assert(h.keep_alive);
    ck_assert_int_eq(parse("GET / HTTP/1.1\r\nConnection: foo, close\r\n\r\n", &h), 0);
    ck_assert(!h.keep_alive);
    ck_assert_int_eq(parse("\r\nGET http://host:1/healthz HTTP/1.1\r\n\r\n", &h), 0);
    ck_assert(h.path_len == 8 && memcmp(h.path, "/healthz", 8) == 0);
    /* partial input */
    ck_assert_int_eq(parse("GET /healthz HTTP/1.1\r\nHost: a\r\n", &h), -1);
    ck_assert_int_eq(parse("GET /hea", &h), -1);
    /* refusals */
    ck_assert_int_eq(parse("GET /healthz\r\n\r\n", &h), 400);
    ck_assert_int_eq(parse("GET  /x HTTP/1.1\r\n\r\n", &h), 400);
    ck_assert_int_eq(parse("GET /x HTTP/2.0\r\n\r\n", &h), 505);
    ck_assert_int_eq(parse("GET /x HTTP/1.1\r\n folded\r\n\r\n", &h), 400);
    ck_assert_int_eq(parse("GET /x HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", &h), 400);
    ck_assert_int_eq(parse("GET /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", &h), 400);
    ck_assert_int_eq(parse("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &h), 411);
    ck_assert_int_eq(parse("POST /x HTTP/1.1\r\nExpect: 200-ok\r\n\r\n", &h), 417);
    ck_assert_int_eq(parse("GET /x HTTP/1.1\r\nBad Name: 1\r\n\r\n", &h), 400);
    /* bounds: 64 header lines, 16 KiB */
    static char big[40000];
    size_t n = (size_t)snprintf(big, sizeof(big), "GET / HTTP/1.1\r\n");
    for (int i = 0; i < 65; i++) {
        n += (size_t)snprintf(big + n, sizeof(big) - n, "X-%d: y\r\n", i);
    }
    snprintf(big + n, sizeof(big) - n, "\r\n");
    ck_assert_int_eq(parse(big, &h), 431);
    memset(big, 'a', 20000);
    memcpy(big, "GET /", 5);
    big[20000] = '\0';
    ck_assert_int_eq(parse(big, &h), 431);
    /* sniffing */
    ck_assert_int_eq(http_sniff((const uint8_t *)"POST", 4), 1);
    ck_assert_int_eq(http_sniff((const uint8_t *)"\0\0\0\x10", 4), 0);
    ck_assert_int_eq(http_sniff((const uint8_t *)"", 0), -1);
}
END_TEST

/* jsonw_fmt_double (fast path where it applies) agrees with the search
 * byte for byte; counts the values in the fast path's range. */
static void same_double(double d, int *fast)
{
    char a[JSONW_NUM_MAX + 1], b[JSONW_NUM_MAX + 1];
    size_t n = jsonw_fmt_double(a, d);
    double m_abs = fabs(d);
    if (m_abs >= 1e-4 && m_abs < 1e15) {
        (*fast)++;
    }
    a[n] = '\0';
    size_t m = jsonw_fmt_double_search(b, d);
    b[m] = '\0';
    ck_assert_msg(strcmp(a, b) == 0, "%.17g: fast %s, jsonw %s", d, a, b);
}

START_TEST(test_fast_double)
{
    int fast = 0;
    srand(7);
    const double fixed[] = { 1, -1, 0.1, 0.0001, 0.00012, 123.456789, 1e14, 999999999999999.0, 1e15, 0.3,
                             2.5, 100, 1234567.125, 0.000099, -42.5, 1.0 / 3, 9007199254740993.0 };
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        same_double(fixed[i], &fast);
    }
    for (int i = 0; i < 300000; i++) {
        int k = rand() % 10;
        double d = (double)(rand() % 2000000 - 1000000) / pow(10, k);     /* loader-like decimals */
        same_double(d, &fast);
        d = (double)rand() / RAND_MAX * pow(10, rand() % 30 - 10);          /* full-precision values */
        same_double(d, &fast);
        uint64_t bits = ((uint64_t)rand() << 33) ^ ((uint64_t)rand() << 11) ^ (uint64_t)rand();
        memcpy(&d, &bits, sizeof(d));
        same_double(d, &fast);
    }
    ck_assert_int_gt(fast, 250000);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("http");
    TCase *tc = tcase_create("http");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_parse_heads);
    tcase_add_test(tc, test_fast_double);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
