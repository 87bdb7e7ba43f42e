/*
 * check_rhealth.c — Redis eviction state (server/redis/rhealth.c): INFO
 * parsing (fields anywhere, CRLF, missing ones), which policies evict, and
 * the process-wide record: the baseline of evicted_keys, a restarted Redis,
 * a reload forgetting earlier evictions, and the /readyz reasons.
 */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "redis/rhealth.h"

static const char info[] =
    "# Memory\r\nused_memory:1234\r\nmaxmemory:31457280\r\nmaxmemory_policy:allkeys-lru\r\n"
    "\r\n# Stats\r\ntotal_connections_received:9\r\nevicted_keys:42\r\nevicted_clients:0\r\n";

START_TEST(test_parse)
{
    struct rhealth_sample s;
    rhealth_parse(info, strlen(info), &s);
    ck_assert_str_eq(s.policy, "allkeys-lru");
    ck_assert(s.have_evicted);
    ck_assert_uint_eq(s.evicted_keys, 42);
    /* LF only, and no evicted_keys line: unknown (evicted_clients is not it) */
    const char *t = "maxmemory_policy:noeviction\nevicted_clients:7\n";
    rhealth_parse(t, strlen(t), &s);
    ck_assert_str_eq(s.policy, "noeviction");
    ck_assert(!s.have_evicted);
    /* garbage and a truncated last line */
    const char *g = "xx\nevicted_keys:12a\nmaxmemory_policy";
    rhealth_parse(g, strlen(g), &s);
    ck_assert_str_eq(s.policy, "");
    ck_assert(!s.have_evicted);
    rhealth_parse("", 0, &s);
    ck_assert(!s.have_evicted);
}
END_TEST

START_TEST(test_policies)
{
    ck_assert(!rhealth_policy_evicts("noeviction"));
    ck_assert(!rhealth_policy_evicts(""));
    ck_assert(rhealth_policy_evicts("allkeys-lru"));
    ck_assert(rhealth_policy_evicts("volatile-ttl"));    /* featd's keys all expire */
    ck_assert(rhealth_policy_evicts("allkeys-random"));
}
END_TEST

static struct rhealth_sample sample(const char *policy, uint64_t evicted)
{
    struct rhealth_sample s = { .have_evicted = true, .evicted_keys = evicted };
    strcpy(s.policy, policy);
    return s;
}

START_TEST(test_state)
{
    char why[512];
    uint64_t since, total;
    ck_assert(!rhealth_evicted(&since, &total));            /* nothing read yet */
    ck_assert(!rhealth_problem(false, why, sizeof(why)));
    struct rhealth_sample s = sample("noeviction", 100);   /* earlier evictions: the baseline */
    rhealth_note(&s);
    ck_assert(rhealth_evicted(&since, &total));
    ck_assert_uint_eq(since, 0);
    ck_assert_uint_eq(total, 100);
    ck_assert(!rhealth_problem(false, why, sizeof(why)));
    s = sample("allkeys-lru", 100);
    rhealth_note(&s);
    ck_assert(rhealth_problem(false, why, sizeof(why)));
    ck_assert_msg(strstr(why, "maxmemory-policy is allkeys-lru") != NULL, "%s", why);
    ck_assert(!rhealth_problem(true, why, sizeof(why)));   /* redis.eviction "allow" */
    s = sample("allkeys-lru", 130);
    rhealth_note(&s);
    ck_assert(rhealth_problem(true, why, sizeof(why)));    /* evictions: even when allowed */
    ck_assert_msg(strstr(why, "evicted 30 keys since featd started") != NULL, "%s", why);
    ck_assert(rhealth_evicted(&since, &total));
    ck_assert_uint_eq(since, 30);
    /* a reload: the next reading is the new baseline */
    rhealth_reset();
    s = sample("noeviction", 135);
    rhealth_note(&s);
    ck_assert(!rhealth_problem(false, why, sizeof(why)));
    s = sample("noeviction", 136);
    rhealth_note(&s);
    ck_assert(rhealth_problem(false, why, sizeof(why)));
    /* a restarted Redis counts from 0 again: a new baseline, not a problem */
    s = sample("noeviction", 0);
    rhealth_note(&s);
    ck_assert(!rhealth_problem(false, why, sizeof(why)));
    /* a reading without the policy keeps the last one */
    s = sample("", 0);
    rhealth_note(&s);
    ck_assert(!rhealth_problem(false, why, sizeof(why)));
}
END_TEST

START_TEST(test_nodes)
{
    /* a cluster: one baseline per master; evictions on any master count, and
     * a promoted replica (a lower count) is a new baseline, not a problem */
    char why[512];
    uint64_t since, total;
    struct rhealth_sample a = sample("noeviction", 10), b = sample("noeviction", 500);
    rhealth_note_node("10.0.0.1:7000", &a);
    rhealth_note_node("10.0.0.2:7000", &b);
    ck_assert(rhealth_evicted(&since, &total));
    ck_assert_uint_eq(since, 0);
    ck_assert_uint_eq(total, 510);
    ck_assert(!rhealth_problem(false, why, sizeof(why)));
    b = sample("noeviction", 0);                    /* 10.0.0.2 failed over */
    rhealth_note_node("10.0.0.2:7000", &b);
    ck_assert(!rhealth_problem(false, why, sizeof(why)));
    a = sample("noeviction", 14);
    rhealth_note_node("10.0.0.1:7000", &a);
    ck_assert(rhealth_problem(false, why, sizeof(why)));
    ck_assert_msg(strstr(why, "evicted 4 keys") != NULL, "%s", why);
    rhealth_reset();
    ck_assert(!rhealth_problem(false, why, sizeof(why)));
    b = sample("allkeys-lru", 0);                   /* any evicting master */
    rhealth_note_node("10.0.0.2:7000", &b);
    ck_assert(rhealth_problem(false, why, sizeof(why)));
    ck_assert_msg(strstr(why, "allkeys-lru") != NULL, "%s", why);
    for (int i = 0; i < RHEALTH_MAX_NODES + 3; i++) {
        char node[32];
        snprintf(node, sizeof(node), "n%d", i);
        rhealth_note_node(node, &a);
    }
    ck_assert_uint_eq(rhealth_bound_hits(), 5);     /* 2 known + 62 new fit */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rhealth");
    TCase *tc = tcase_create("rhealth");
    tcase_add_test(tc, test_parse);
    tcase_add_test(tc, test_policies);
    tcase_add_test(tc, test_state);
    tcase_add_test(tc, test_nodes);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
