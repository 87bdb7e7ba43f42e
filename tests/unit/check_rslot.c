/*
 * check_rslot.c — Redis Cluster key slots (redis/rslot): the CRC16 check
 * value, known slots, the hash-tag rule's edge cases from the cluster
 * specification, and featd's own key shapes.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis/rslot.h"

static unsigned slot_of(const char *k)
{
    return rslot_of_key(k, strlen(k));
}

START_TEST(test_crc16)
{
    ck_assert_uint_eq(rslot_crc16("123456789", 9), 0x31C3);   /* the XMODEM check value */
    ck_assert_uint_eq(rslot_crc16("", 0), 0);
    ck_assert_uint_eq(rslot_crc16("foo", 3), 0xaf96);
}
END_TEST

START_TEST(test_known_slots)
{
    /* as CLUSTER KEYSLOT answers */
    ck_assert_uint_eq(slot_of("foo"), 12182);
    ck_assert_uint_eq(slot_of("bar"), 5061);
    ck_assert_uint_eq(slot_of("123456789"), 12739);
    ck_assert_uint_eq(slot_of(""), 0);
    for (int i = 0; i < 1000; i++) {
        char k[32];
        snprintf(k, sizeof k, "key:%d", i);
        ck_assert_uint_lt(slot_of(k), RSLOT_COUNT);
    }
}
END_TEST

START_TEST(test_hash_tags)
{
    ck_assert_uint_eq(slot_of("{user1000}.following"), slot_of("user1000"));
    ck_assert_uint_eq(slot_of("{user1000}.followers"), slot_of("user1000"));
    ck_assert_uint_eq(slot_of("user1000"), 3443);
    /* empty tag: the whole key is hashed */
    ck_assert_uint_eq(slot_of("foo{}{bar}"), rslot_crc16("foo{}{bar}", 10) & 16383);
    ck_assert_uint_eq(slot_of("foo{}{bar}"), 8363);
    /* first '{' to the first '}' after it */
    ck_assert_uint_eq(slot_of("foo{{bar}}zap"), slot_of("{bar"));
    ck_assert_uint_eq(slot_of("foo{{bar}}zap"), 4015);
    ck_assert_uint_eq(slot_of("foo{bar}{zap}"), slot_of("bar"));
    /* no closing brace, a lone '}' before '{', a brace at the very end */
    ck_assert_uint_eq(slot_of("foo{bar"), rslot_crc16("foo{bar", 7) & 16383);
    ck_assert_uint_eq(slot_of("}bar{"), rslot_crc16("}bar{", 5) & 16383);
    ck_assert_uint_eq(slot_of("a}b{c}"), slot_of("c"));
    ck_assert_uint_eq(slot_of("{"), rslot_crc16("{", 1) & 16383);
    /* binary keys: the length counts, not NUL */
    const char bin[] = { 'x', '{', '\0', '1', '}', 'y' };
    ck_assert_uint_eq(rslot_of_key(bin, sizeof bin), rslot_crc16("\0" "1", 2) & 16383);
    /* only the given length is looked at */
    ck_assert_uint_eq(rslot_of_key("{ab}cd", 3), rslot_crc16("{ab", 3) & 16383);
}
END_TEST

START_TEST(test_featd_keys)
{
    /* entity rows P:v2:{E} and a view's meta keys P:v2:m:{V}:... hash by the tag */
    ck_assert_uint_eq(slot_of("fs:v2:{1042}"), slot_of("1042"));
    ck_assert_uint_eq(slot_of("fs:v2:{user:7|2024}"), slot_of("user:7|2024"));
    ck_assert_uint_eq(slot_of("fs:v2:m:{driver_stats}:current"),
                      slot_of("fs:v2:m:{driver_stats}:lease"));
    ck_assert_uint_eq(slot_of("fs:v2:m:{driver_stats}:progress"), slot_of("driver_stats"));
    /* and entities spread: 10,000 random keys in 16384 slots touch ~7,500 */
    static unsigned char seen[RSLOT_COUNT];
    unsigned distinct = 0;
    for (int i = 0; i < 10000; i++) {
        char k[48];
        snprintf(k, sizeof k, "fs:v2:{%d}", i);
        unsigned s = slot_of(k);
        distinct += !seen[s];
        seen[s] = 1;
    }
    ck_assert_uint_gt(distinct, 7000);
}
END_TEST

static Suite *rslot_suite(void)
{
    Suite *s = suite_create("rslot");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_crc16);
    tcase_add_test(tc, test_known_slots);
    tcase_add_test(tc, test_hash_tags);
    tcase_add_test(tc, test_featd_keys);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(rslot_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
