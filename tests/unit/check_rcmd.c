/*
 * check_rcmd.c — RESP2 command formatting (server/redis/rcmd.c) against hiredis's
 * own formatter: the same bytes for ordinary, empty, binary (NUL, CR LF) and
 * large arguments, and the helpers the materializer's writer builds MSET/SET
 * pipelines from.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "redis/rcmd.h"

static void same_as_hiredis(int argc, const char **argv, const size_t *argvlen)
{
    char *ref = NULL;
    int rn = redisFormatCommandArgv(&ref, argc, argv, argvlen);
    ck_assert_int_gt(rn, 0);
    struct fbuf o = { 0 };
    ck_assert_int_eq(fbuf_append(&o, "stale", 5), FEATD_OK);     /* replaced, not appended to */
    ck_assert_int_eq(rcmd_format_argv(&o, argc, argv, argvlen), FEATD_OK);
    ck_assert_uint_eq(o.len, (size_t)rn);
    ck_assert(memcmp(o.data, ref, o.len) == 0);
    free(ref);
    fbuf_free(&o);
}

START_TEST(test_format_argv)
{
    const char *a1[] = { "PING" };
    size_t l1[] = { 4 };
    same_as_hiredis(1, a1, l1);

    const char *a2[] = { "MGET", "featd:v1:v:0123456789abcdef:current", "", "k\0ey\r\n", "x" };
    size_t l2[] = { 4, 35, 0, 6, 1 };
    same_as_hiredis(5, a2, l2);

    /* 1,001 arguments and one of 1 MiB */
    enum { N = 1001 };
    const char **a3 = malloc(sizeof(*a3) * N);
    size_t *l3 = malloc(sizeof(*l3) * N);
    char *big = malloc(1 << 20);
    memset(big, 'v', 1 << 20);
    a3[0] = "MGET";
    l3[0] = 4;
    for (int i = 1; i < N; i++) {
        a3[i] = big;
        l3[i] = (size_t)(i * 37 % 200);
    }
    l3[N / 2] = 1 << 20;
    same_as_hiredis(N, a3, l3);
    free(a3);
    free(l3);
    free(big);
}
END_TEST

START_TEST(test_helpers)
{
    char d[24];
    ck_assert_uint_eq(rcmd_put_dec(d, 0), 1);
    ck_assert(memcmp(d, "0", 1) == 0);
    ck_assert_uint_eq(rcmd_put_dec(d, UINT64_MAX), 20);
    ck_assert(memcmp(d, "18446744073709551615", 20) == 0);

    struct fbuf o = { 0 };
    ck_assert_int_eq(rcmd_put_hdr(&o, '*', 3), FEATD_OK);
    ck_assert_int_eq(rcmd_put_bulk(&o, "SET", 3), FEATD_OK);
    ck_assert_int_eq(rcmd_put_bulk(&o, "k", 1), FEATD_OK);
    ck_assert_int_eq(rcmd_put_bulk(&o, "", 0), FEATD_OK);
    static const char want[] = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n";
    ck_assert_uint_eq(o.len, sizeof(want) - 1);
    ck_assert(memcmp(o.data, want, o.len) == 0);
    fbuf_free(&o);
}
END_TEST

static Suite *rcmd_suite(void)
{
    Suite *s = suite_create("resp");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_format_argv);
    tcase_add_test(tc, test_helpers);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(rcmd_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
