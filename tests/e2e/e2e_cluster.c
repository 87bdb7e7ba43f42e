/*
 * e2e_cluster.c — end-to-end tests of the scale-out foundation on a real
 * local Redis Cluster (3 masters + 3 replicas) and a real Sentinel group
 * (tests/e2e/harness_cluster.h).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "harness.h"
/* The Makefile links only harness.o into e2e binaries; the cluster harness
 * is compiled into this suite directly (see harness_cluster.h). */
#include "harness_cluster.c"

static struct hcluster C;
static struct hsentinel S;

START_TEST(test_harness_cluster)
{
    if (!harness_cluster_start(&C, 3, 1)) {
        return;
    }
    for (int i = 0; i < C.nnodes; i++) {
        redisReply *r = harness_cluster_cmd(&C, i, "CLUSTER INFO");
        ck_assert_ptr_nonnull(r);
        ck_assert_ptr_nonnull(strstr(r->str, "cluster_state:ok"));
        freeReplyObject(r);
    }
    harness_cluster_stop(&C);
}
END_TEST

START_TEST(test_harness_sentinel)
{
    if (!harness_sentinel_start(&S)) {
        return;
    }
    ck_assert_int_eq(harness_sentinel_master_port(&S, 1), S.data[0].port);
    harness_sentinel_failover(&S, 20000);
    ck_assert_int_eq(S.master, 1);
    harness_sentinel_stop(&S);
}
END_TEST

static Suite *cluster_suite(void)
{
    Suite *s = suite_create("e2e_cluster");
    TCase *tc = tcase_create("harness");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_harness_cluster);
    tcase_add_test(tc, test_harness_sentinel);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(cluster_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
