/*
 * check_online_expect.c — online/online_expect: each rule kept and broken,
 * nulls, NaN, bool and timestamp as numbers, the reason text.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "online/online_expect.h"

static struct online_value num(double d)
{
    struct online_value x;
    memset(&x, 0, sizeof x);
    x.u.d = d;
    return x;
}

START_TEST(test_numbers)
{
    struct cfg_feature f = { .name = "f", .type = FT_DOUBLE };
    f.expect.has = true;
    f.expect.has_min = f.expect.has_max = true;
    f.expect.min = 0;
    f.expect.max = 10;
    char why[128] = "";
    struct online_value x = num(0);
    ck_assert(online_expect_keeps(&f, &x, why, sizeof why));
    x = num(10);
    ck_assert(online_expect_keeps(&f, &x, why, sizeof why));
    x = num(-0.5);
    ck_assert(!online_expect_keeps(&f, &x, why, sizeof why));
    ck_assert_msg(strncmp(why, "min 0", 5) == 0, "%s", why);
    x = num(10.5);
    ck_assert(!online_expect_keeps(&f, &x, why, sizeof why));
    ck_assert_msg(strncmp(why, "max 10", 6) == 0, "%s", why);
    x = num(NAN);
    ck_assert(!online_expect_keeps(&f, &x, NULL, 0));
    x.is_null = true;                      /* nulls break not_null only */
    ck_assert(online_expect_keeps(&f, &x, why, sizeof why));
    f.expect.not_null = true;
    ck_assert(!online_expect_keeps(&f, &x, why, sizeof why));
    ck_assert_msg(strncmp(why, "not_null", 8) == 0, "%s", why);
    /* bool as 0/1 */
    struct cfg_feature b = { .name = "b", .type = FT_BOOL };
    b.expect.has = b.expect.has_max = true;
    b.expect.max = 0;
    struct online_value t;
    memset(&t, 0, sizeof t);
    t.u.b = true;
    ck_assert(!online_expect_keeps(&b, &t, NULL, 0));
    ck_assert(online_expect_numeric(FT_TIMESTAMP));
    ck_assert(!online_expect_numeric(FT_STRING));
    /* no rules: anything goes */
    struct cfg_feature none = { .name = "n", .type = FT_DOUBLE };
    x = num(NAN);
    ck_assert(online_expect_keeps(&none, &x, NULL, 0));
}
END_TEST

START_TEST(test_allowed)
{
    char *allowed[] = { "a", "bc" };
    struct cfg_feature f = { .name = "s", .type = FT_STRING };
    f.expect.has = true;
    f.expect.allowed = allowed;
    f.expect.nallowed = 2;
    struct online_value x;
    memset(&x, 0, sizeof x);
    x.s = "bc";
    x.slen = 2;
    ck_assert(online_expect_keeps(&f, &x, NULL, 0));
    x.slen = 1;                            /* "b": a prefix is not a match */
    char why[128];
    ck_assert(!online_expect_keeps(&f, &x, why, sizeof why));
    ck_assert_msg(strstr(why, "allowed") != NULL && strstr(why, "\"b\"") != NULL, "%s", why);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("online_expect");
    TCase *tc = tcase_create("rules");
    tcase_add_test(tc, test_numbers);
    tcase_add_test(tc, test_allowed);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
