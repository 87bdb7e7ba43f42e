/*
 * e2e_cluster.c — end-to-end tests of the scale-out foundation on a real
 * local Redis Cluster (3 masters + 3 replicas) and a real Sentinel group
 * (tests/e2e/harness_cluster.h).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "harness.h"
#include "redis/rbcluster.h"
#include "redis/rsentinel.h"
#include "redis/rslot.h"
#include "redis/rtopo.h"
/* The Makefile links only harness.o into e2e binaries; the cluster harness
 * is compiled into this suite directly (see harness_cluster.h). */
#include "harness_cluster.h"

#define MASTERS 3
#define NKEYS 20000

static struct hcluster C;
static bool have_cluster;
static struct hsentinel S;
static bool have_sentinel;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void cluster_setup(void)
{
    long long t0 = now_ms();
    have_cluster = harness_cluster_start(&C, MASTERS, 1);
    if (have_cluster) {
        printf("cluster of %d nodes up in %lld ms\n", C.nnodes, now_ms() - t0);
    }
}

static void cluster_teardown(void)
{
    if (have_cluster) {
        harness_cluster_stop(&C);
    }
}

static void sentinel_setup(void)
{
    long long t0 = now_ms();
    have_sentinel = harness_sentinel_start(&S);
    if (have_sentinel) {
        printf("sentinel group up in %lld ms\n", now_ms() - t0);
    }
}

static void sentinel_teardown(void)
{
    if (have_sentinel) {
        harness_sentinel_stop(&S);
    }
}

/* A cluster client seeded with node i (and a dead port first). */
static struct rbcluster *client(int i)
{
    struct rbcluster_addr seeds[2] = { { "127.0.0.1", h_free_port() },
                                       { "127.0.0.1", C.nodes[i].port } };
    struct rbcluster_opts o = { .seeds = seeds, .nseeds = 2, .timeout_ms = 5000 };
    char err[1200];
    struct rbcluster *c = rbcluster_new_cluster(&o, err, sizeof err);
    ck_assert_msg(c != NULL, "rbcluster_new_cluster: %s", err);
    return c;
}

/* Runs the queued commands; aborts on failure. */
static redisReply **exec_ok(struct rbcluster *c, size_t want)
{
    char err[1200];
    redisReply **r = NULL;
    size_t n = 0;
    ck_assert_msg(rbcluster_exec(c, &r, &n, err, sizeof err) == FEATD_OK, "exec: %s", err);
    ck_assert_uint_eq(n, want);
    return r;
}

static void append2(struct rbcluster *c, const char *key, const char *cmd, const char *a1,
                    const char *a2, const char *a3)
{
    const char *argv[4] = { cmd, a1, a2, a3 };
    int argc = a2 == NULL ? 2 : a3 == NULL ? 3 : 4;
    char err[300];
    ck_assert_msg(rbcluster_append(c, key, strlen(key), argc, argv, NULL, err, sizeof err) ==
                  FEATD_OK, "append: %s", err);
}

START_TEST(test_topology)
{
    if (!have_cluster) {
        return;
    }
    static struct rtopo t0, t;
    char err[400];
    for (int i = 0; i < C.nnodes; i++) {
        redisReply *r = harness_cluster_cmd(&C, i, "CLUSTER SLOTS");
        ck_assert_ptr_nonnull(r);
        struct rtopo *dst = i == 0 ? &t0 : &t;
        ck_assert_msg(rtopo_parse_slots_via(dst, r, "127.0.0.1", err, sizeof err) == FEATD_OK,
                      "node %d: %s", i, err);
        freeReplyObject(r);
        ck_assert_uint_eq(dst->nnodes, (size_t)C.nnodes);
        ck_assert_uint_eq(dst->nmasters, MASTERS);
        for (unsigned s = 0; s < RSLOT_COUNT; s++) {
            ck_assert_int_ge(dst->slot_master[s], 0);
            const struct rtopo_node *a = &t0.nodes[t0.slot_master[s]];
            const struct rtopo_node *b = &dst->nodes[dst->slot_master[s]];
            ck_assert_msg(a->port == b->port && strcmp(a->host, b->host) == 0,
                          "node %d disagrees on slot %u", i, s);
            ck_assert_msg(harness_cluster_node_by_port(&C, b->port) >= 0, "unknown port");
        }
        for (size_t k = 0; k < dst->nnodes; k++) {
            if (dst->nodes[k].master >= 0) {   /* a replica's master agrees too */
                int j = rtopo_find(&t0, dst->nodes[k].host, dst->nodes[k].port);
                ck_assert_int_ge(j, 0);
                ck_assert_int_eq(t0.nodes[t0.nodes[j].master].port,
                                 dst->nodes[dst->nodes[k].master].port);
            }
        }
    }
    /* the client discovers the same map from a replica seed */
    int rep = -1;
    for (int i = 0; i < C.nnodes && rep < 0; i++) {
        rep = harness_cluster_is_master(&C, i) ? -1 : i;
    }
    ck_assert_int_ge(rep, 0);
    struct rbcluster *c = client(rep);
    ck_assert(rbcluster_is_cluster(c));
    ck_assert_uint_eq(rbcluster_nmasters(c), MASTERS);
    for (unsigned s = 0; s < RSLOT_COUNT; s++) {
        const struct rtopo *m = rbcluster_topo(c);
        ck_assert_int_eq(m->nodes[m->slot_master[s]].port, t0.nodes[t0.slot_master[s]].port);
    }
    redisContext *ctx = rbcluster_ctx_for_key(c, "foo", 3, err, sizeof err);
    ck_assert_msg(ctx != NULL, "%s", err);
    ck_assert_int_eq(ctx->tcp.port, C.nodes[harness_cluster_slot_owner(&C, 0, 12182)].port);
    rbcluster_free(c);

    /* seeds all down: the error names each */
    int p1 = h_free_port(), p2 = h_free_port();
    struct rbcluster_addr dead[2] = { { "127.0.0.1", p1 }, { "127.0.0.1", p2 } };
    struct rbcluster_opts o = { .seeds = dead, .nseeds = 2, .timeout_ms = 1000 };
    char big[1200];
    ck_assert_ptr_null(rbcluster_new_cluster(&o, big, sizeof big));
    char want[200];
    snprintf(want, sizeof want, "redis cluster: no seed gave a slot map: redis 127.0.0.1:%d: "
             "connect: Connection refused; redis 127.0.0.1:%d: connect: Connection refused", p1, p2);
    ck_assert_str_eq(big, want);

    /* a node that is not in cluster mode; the single-node client and ACL users on it */
    struct h_redis R;
    h_redis_start(&R);
    redisReply *r = h_redis_cmd(&R, "ACL SETUSER featd on >s3cret ~* &* +@all");
    ck_assert_ptr_nonnull(r);
    freeReplyObject(r);
    struct rbcluster_addr plain = { "127.0.0.1", R.port };
    o.seeds = &plain;
    o.nseeds = 1;
    ck_assert_ptr_null(rbcluster_new_cluster(&o, big, sizeof big));
    ck_assert_msg(strstr(big, "CLUSTER SLOTS failed: ERR This instance has cluster support "
                              "disabled") != NULL, "%s", big);
    o.username = "featd";
    o.password = "wrong";
    ck_assert_ptr_null(rbcluster_new_single(&o, big, sizeof big));
    ck_assert_msg(strstr(big, "AUTH as user \"featd\" failed: WRONGPASS") != NULL, "%s", big);
    o.password = "s3cret";
    o.db = 2;
    c = rbcluster_new_single(&o, big, sizeof big);
    ck_assert_msg(c != NULL, "%s", big);
    ck_assert(!rbcluster_is_cluster(c));
    ck_assert_int_eq(rbcluster_refresh(c, big, sizeof big), FEATD_OK);
    for (int i = 0; i < 100; i++) {
        char k[32], v[32];
        snprintf(k, sizeof k, "k%d", i);
        snprintf(v, sizeof v, "v%d", i);
        append2(c, k, "SET", k, v, NULL);
    }
    redisReply **rs = exec_ok(c, 100);
    rbcluster_replies_free(rs, 100);
    ctx = rbcluster_master_ctx(c, 0, big, sizeof big);
    ck_assert_ptr_nonnull(ctx);
    r = redisCommand(ctx, "DBSIZE");
    ck_assert_int_eq(r->integer, 100);
    freeReplyObject(r);
    rbcluster_free(c);
    h_redis_stop(&R);
}
END_TEST

START_TEST(test_pipeline_all_slots)
{
    if (!have_cluster) {
        return;
    }
    struct rbcluster *c = client(0);
    long long t0 = now_ms();
    char key[64], val[64];
    for (int i = 0; i < NKEYS; i++) {
        snprintf(key, sizeof key, "e2e:v2:{%d}", i);
        snprintf(val, sizeof val, "value-%d", i * 7);
        append2(c, key, "HSET", key, "1", val);
    }
    redisReply **r = exec_ok(c, NKEYS);
    long long t1 = now_ms();
    for (int i = 0; i < NKEYS; i++) {
        ck_assert_msg(r[i]->type == REDIS_REPLY_INTEGER, "HSET %d: type %d %s", i, r[i]->type,
                      r[i]->type == REDIS_REPLY_ERROR ? r[i]->str : "");
    }
    rbcluster_replies_free(r, NKEYS);
    for (int i = 0; i < NKEYS; i++) {
        snprintf(key, sizeof key, "e2e:v2:{%d}", i);
        append2(c, key, "HGET", key, "1", NULL);
    }
    r = exec_ok(c, NKEYS);
    long long t2 = now_ms();
    for (int i = 0; i < NKEYS; i++) {
        snprintf(val, sizeof val, "value-%d", i * 7);
        ck_assert_msg(r[i]->type == REDIS_REPLY_STRING && strcmp(r[i]->str, val) == 0,
                      "HGET %d: %s", i, r[i]->type == REDIS_REPLY_STRING ? r[i]->str : "?");
    }
    rbcluster_replies_free(r, NKEYS);
    printf("rbcluster: %d HSET in %lld ms, %d HGET in %lld ms over %d masters\n", NKEYS, t1 - t0,
           NKEYS, t2 - t1, MASTERS);
    long long total = 0;
    char err[400];
    for (size_t k = 0; k < rbcluster_nmasters(c); k++) {
        redisContext *ctx = rbcluster_master_ctx(c, k, err, sizeof err);
        ck_assert_msg(ctx != NULL, "%s", err);
        redisReply *d = redisCommand(ctx, "DBSIZE");
        ck_assert_ptr_nonnull(d);
        printf("  master %s:%d holds %lld keys\n", ctx->tcp.host, ctx->tcp.port, d->integer);
        ck_assert_int_gt(d->integer, NKEYS / MASTERS / 2);
        total += d->integer;
        freeReplyObject(d);
    }
    ck_assert_int_ge(total, NKEYS);
    ck_assert_uint_eq(rbcluster_stats(c)->moved, 0);
    rbcluster_free(c);
}
END_TEST

/* The node id of node i. */
static void node_id(int i, char *out, size_t cap)
{
    redisReply *r = harness_cluster_cmd(&C, i, "CLUSTER MYID");
    ck_assert_msg(r != NULL && r->type == REDIS_REPLY_STRING, "CLUSTER MYID on node %d", i);
    snprintf(out, cap, "%s", r->str);
    freeReplyObject(r);
}

static void ok_cmd(int i, const char *fmt, const char *a, const char *b)
{
    redisReply *r = harness_cluster_cmd(&C, i, fmt, a, b);
    ck_assert_msg(r != NULL && r->type != REDIS_REPLY_ERROR, "node %d: %s %s %s: %s", i, fmt, a,
                  b, r ? r->str : "no reply");
    freeReplyObject(r);
}

/* Moves every key left in slot from node src to the node on port_s
 * (the slot may hold keys of other tests). */
static void migrate_slot(int src, const char *slot_s, const char *port_s)
{
    for (int guard = 0; guard < 100; guard++) {
        redisReply *k = harness_cluster_cmd(&C, src, "CLUSTER GETKEYSINSLOT %s 100", slot_s);
        ck_assert_msg(k != NULL && k->type == REDIS_REPLY_ARRAY, "GETKEYSINSLOT");
        if (k->elements == 0) {
            freeReplyObject(k);
            return;
        }
        for (size_t j = 0; j < k->elements; j++) {
            redisReply *r = harness_cluster_cmd(&C, src, "MIGRATE 127.0.0.1 %s %s 0 5000 KEYS %b",
                                                port_s, "", k->element[j]->str,
                                                (size_t)k->element[j]->len);
            ck_assert_msg(r != NULL && r->type == REDIS_REPLY_STATUS, "MIGRATE %s: %s",
                          k->element[j]->str, r ? r->str : "-");
            freeReplyObject(r);
        }
        freeReplyObject(k);
    }
    ck_abort_msg("slot %s does not empty", slot_s);
}

START_TEST(test_ask_and_moved)
{
    if (!have_cluster) {
        return;
    }
    const char *tag = "askme";
    unsigned slot = rslot_of_key(tag, strlen(tag));
    int src = harness_cluster_slot_owner(&C, 0, slot);
    ck_assert_int_ge(src, 0);
    int dst = -1;
    for (int i = 0; i < C.nnodes && dst < 0; i++) {
        if (i != src && harness_cluster_is_master(&C, i)) {
            dst = i;
        }
    }
    ck_assert_int_ge(dst, 0);
    char src_id[64], dst_id[64], slot_s[16], port_s[16];
    node_id(src, src_id, sizeof src_id);
    node_id(dst, dst_id, sizeof dst_id);
    snprintf(slot_s, sizeof slot_s, "%u", slot);
    snprintf(port_s, sizeof port_s, "%d", C.nodes[dst].port);

    /* the client learns the map while src owns the slot */
    struct rbcluster *c = client(0);
    append2(c, "{askme}a", "SET", "{askme}a", "A", NULL);
    append2(c, "{askme}b", "SET", "{askme}b", "B", NULL);
    rbcluster_replies_free(exec_ok(c, 2), 2);

    /* migration in progress: {askme}a moved, {askme}b not yet */
    ok_cmd(dst, "CLUSTER SETSLOT %s IMPORTING %s", slot_s, src_id);
    ok_cmd(src, "CLUSTER SETSLOT %s MIGRATING %s", slot_s, dst_id);
    redisReply *r = harness_cluster_cmd(&C, src, "MIGRATE 127.0.0.1 %s %s 0 5000 KEYS {askme}a",
                                        port_s, "");
    ck_assert_msg(r != NULL && r->type == REDIS_REPLY_STATUS, "MIGRATE: %s", r ? r->str : "-");
    freeReplyObject(r);

    append2(c, "{askme}a", "GET", "{askme}a", NULL, NULL);       /* ASK -> dst */
    append2(c, "{askme}b", "GET", "{askme}b", NULL, NULL);       /* still on src */
    append2(c, "{askme}c", "SET", "{askme}c", "C", NULL);        /* new key: ASK -> dst */
    append2(c, "foo", "SET", "foo", "bar", NULL);                /* elsewhere, unaffected */
    redisReply **rs = exec_ok(c, 4);
    ck_assert_str_eq(rs[0]->str, "A");
    ck_assert_str_eq(rs[1]->str, "B");
    ck_assert_str_eq(rs[2]->str, "OK");
    ck_assert_str_eq(rs[3]->str, "OK");
    rbcluster_replies_free(rs, 4);
    const struct rbcluster_stats *st = rbcluster_stats(c);
    ck_assert_uint_ge(st->ask, 2);
    ck_assert_uint_eq(st->moved, 0);
    /* a multi-key command over a half-moved slot: TRYAGAIN, resent a bounded
     * number of times, then answered with the error reply */
    append2(c, "{askme}a", "MGET", "{askme}a", "{askme}b", NULL);
    long long t0 = now_ms();
    rs = exec_ok(c, 1);
    ck_assert_int_eq(rs[0]->type, REDIS_REPLY_ERROR);
    ck_assert_msg(strncmp(rs[0]->str, "TRYAGAIN", 8) == 0, "%s", rs[0]->str);
    rbcluster_replies_free(rs, 1);
    ck_assert_uint_eq(st->retries, RBCLUSTER_MAX_RETRIES);
    ck_assert_uint_ge(st->bound_hits, 1);
    printf("rbcluster: TRYAGAIN retried %d times in %lld ms\n", RBCLUSTER_MAX_RETRIES,
           now_ms() - t0);

    /* finish: the rest of the keys, then the slot belongs to dst everywhere */
    migrate_slot(src, slot_s, port_s);
    ok_cmd(dst, "CLUSTER SETSLOT %s NODE %s", slot_s, dst_id);
    ok_cmd(src, "CLUSTER SETSLOT %s NODE %s", slot_s, dst_id);
    for (int i = 0; i < C.nnodes; i++) {
        if (i != src && i != dst && harness_cluster_is_master(&C, i)) {
            ok_cmd(i, "CLUSTER SETSLOT %s NODE %s", slot_s, dst_id);
        }
    }
    /* the client still believes src: MOVED, refresh, resend */
    uint64_t refreshes = st->refreshes;
    append2(c, "{askme}a", "GET", "{askme}a", NULL, NULL);
    append2(c, "{askme}b", "GET", "{askme}b", NULL, NULL);
    append2(c, "{askme}c", "GET", "{askme}c", NULL, NULL);
    rs = exec_ok(c, 3);
    ck_assert_str_eq(rs[0]->str, "A");
    ck_assert_str_eq(rs[1]->str, "B");
    ck_assert_str_eq(rs[2]->str, "C");
    rbcluster_replies_free(rs, 3);
    ck_assert_uint_ge(st->moved, 1);
    ck_assert_uint_gt(st->refreshes, refreshes);
    printf("rbcluster: slot %u src %d -> dst %d: %llu ASK, %llu MOVED followed\n", slot, src, dst,
           (unsigned long long)st->ask, (unsigned long long)st->moved);
    char err[300];
    redisContext *ctx = rbcluster_ctx_for_key(c, "{askme}", 7, err, sizeof err);
    ck_assert_msg(ctx != NULL, "%s", err);
    ck_assert_int_eq(ctx->tcp.port, C.nodes[dst].port);
    rbcluster_free(c);
    /* the cluster settles with the moved slot */
    harness_cluster_wait_ok(&C, 20000);
}
END_TEST

START_TEST(test_master_killed)
{
    if (!have_cluster) {
        return;
    }
    struct rbcluster *c = client(0);
    char key[64], val[64], err[1200];
    for (int i = 0; i < 3000; i++) {
        snprintf(key, sizeof key, "kill:{%d}", i);
        snprintf(val, sizeof val, "%d", i);
        append2(c, key, "SET", key, val, NULL);
    }
    rbcluster_replies_free(exec_ok(c, 3000), 3000);
    unsigned slot = rslot_of_key("kill:{1}", strlen("kill:{1}"));
    int victim = harness_cluster_slot_owner(&C, 0, slot);
    ck_assert_int_ge(victim, 0);
    redisReply *w = harness_cluster_cmd(&C, victim, "WAIT 1 5000");   /* replica has it all */
    ck_assert_msg(w != NULL && w->type == REDIS_REPLY_INTEGER && w->integer == 1, "WAIT");
    freeReplyObject(w);
    harness_cluster_kill(&C, victim);
    long long t0 = now_ms();
    /* writes to the dead owner fail until the replica is promoted */
    append2(c, "kill:{1}", "SET", "kill:{1}", "after", NULL);
    redisReply **rs = NULL;
    size_t n = 0;
    ck_assert_int_eq(rbcluster_exec(c, &rs, &n, err, sizeof err), FEATD_ERR);
    ck_assert_ptr_nonnull(strstr(err, "redis 127.0.0.1:"));
    harness_cluster_wait_ok(&C, 30000);
    long long t1 = now_ms();
    ck_assert_msg(rbcluster_refresh(c, err, sizeof err) == FEATD_OK, "refresh: %s", err);
    int owner = rtopo_node_for_slot(rbcluster_topo(c), slot, false, 0);
    ck_assert_int_ne(rbcluster_topo(c)->nodes[owner].port, C.nodes[victim].port);
    append2(c, "kill:{1}", "SET", "kill:{1}", "after", NULL);
    rs = exec_ok(c, 1);
    ck_assert_str_eq(rs[0]->str, "OK");
    rbcluster_replies_free(rs, 1);
    printf("master killed: cluster ok again after %lld ms, writes after refresh\n", t1 - t0);
    for (int i = 0; i < 3000; i++) {
        snprintf(key, sizeof key, "kill:{%d}", i);
        append2(c, key, "GET", key, NULL, NULL);
    }
    rs = exec_ok(c, 3000);
    for (int i = 0; i < 3000; i++) {
        snprintf(val, sizeof val, "%d", i);
        ck_assert_msg(rs[i]->type == REDIS_REPLY_STRING, "key %d lost", i);
        ck_assert_str_eq(rs[i]->str, i == 1 ? "after" : val);
    }
    rbcluster_replies_free(rs, 3000);
    rbcluster_free(c);
}
END_TEST

static void sentinel_opts(struct rsentinel_opts *o, struct rbcluster_addr *addrs, int dead_port)
{
    addrs[0] = (struct rbcluster_addr){ "127.0.0.1", dead_port };
    for (int i = 0; i < HS_SENTINELS; i++) {
        addrs[i + 1] = (struct rbcluster_addr){ "127.0.0.1", S.sentinels[i].port };
    }
    memset(o, 0, sizeof(*o));
    o->sentinels = addrs;
    o->nsentinels = HS_SENTINELS + 1;
    o->master_name = HS_MASTER_NAME;
    o->timeout_ms = 2000;
}

START_TEST(test_sentinel)
{
    if (!have_sentinel) {
        return;
    }
    struct rbcluster_addr addrs[HS_SENTINELS + 1];
    struct rsentinel_opts o;
    int dead = h_free_port();
    sentinel_opts(&o, addrs, dead);
    char host[RTOPO_HOST_MAX], err[1600];
    int port = 0;
    redisContext *ctx = NULL;
    ck_assert_msg(rsentinel_discover(&o, host, sizeof host, &port, &ctx, err, sizeof err) ==
                  FEATD_OK, "%s", err);
    ck_assert_str_eq(host, "127.0.0.1");
    ck_assert_int_eq(port, S.data[0].port);
    redisReply *r = redisCommand(ctx, "SET sentinel:k before");
    ck_assert_str_eq(r->str, "OK");
    freeReplyObject(r);
    redisFree(ctx);

    /* the replica fails the write guard */
    ctx = rbcluster_connect_one("127.0.0.1", S.data[1].port, NULL, NULL, 0, 2000, err, sizeof err);
    ck_assert_ptr_nonnull(ctx);
    ck_assert_int_eq(rsentinel_check_master(ctx, err, sizeof err), FEATD_ERR);
    char want[200];
    snprintf(want, sizeof want, "redis 127.0.0.1:%d: ROLE is slave, not master", S.data[1].port);
    ck_assert_str_eq(err, want);
    redisFree(ctx);

    /* an unknown master name, sentinels down: errors name every sentinel */
    o.master_name = "nosuch";
    ck_assert_int_eq(rsentinel_discover(&o, host, sizeof host, &port, NULL, err, sizeof err),
                     FEATD_ERR);
    snprintf(want, sizeof want, "redis 127.0.0.1:%d: connect: Connection refused; sentinel "
             "127.0.0.1:%d does not monitor a master named \"nosuch\"", dead, S.sentinels[0].port);
    ck_assert_msg(strstr(err, want) != NULL, "%s", err);
    ck_assert_msg(strncmp(err, "sentinel: no master \"nosuch\" found (1 round): ", 46) == 0, "%s",
                  err);
    o.master_name = HS_MASTER_NAME;
    o.nsentinels = 1;
    o.rounds = 2;
    o.retry_ms = 10;
    ck_assert_int_eq(rsentinel_discover(&o, host, sizeof host, &port, NULL, err, sizeof err),
                     FEATD_ERR);
    ck_assert_msg(strstr(err, "(2 rounds)") != NULL, "%s", err);

    /* a failover: discovery follows, the old master is refused */
    long long t0 = now_ms();
    harness_sentinel_failover(&S, 30000);
    printf("sentinel failover done in %lld ms\n", now_ms() - t0);
    sentinel_opts(&o, addrs, dead);
    ck_assert_msg(rsentinel_discover(&o, host, sizeof host, &port, &ctx, err, sizeof err) ==
                  FEATD_OK, "%s", err);
    ck_assert_int_eq(port, S.data[1].port);
    r = redisCommand(ctx, "GET sentinel:k");
    ck_assert_str_eq(r->str, "before");
    freeReplyObject(r);
    redisFree(ctx);
    ctx = rbcluster_connect_one("127.0.0.1", S.data[0].port, NULL, NULL, 0, 2000, err, sizeof err);
    ck_assert_ptr_nonnull(ctx);
    ck_assert_int_eq(rsentinel_check_master(ctx, err, sizeof err), FEATD_ERR);
    ck_assert_ptr_nonnull(strstr(err, "ROLE is slave, not master"));
    redisFree(ctx);
}
END_TEST

static Suite *cluster_suite(void)
{
    Suite *s = suite_create("e2e_cluster");
    /* one cluster for the tcase, in test order: the last test kills a master */
    TCase *tc = tcase_create("cluster");
    tcase_add_unchecked_fixture(tc, cluster_setup, cluster_teardown);
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, test_topology);
    tcase_add_test(tc, test_pipeline_all_slots);
    tcase_add_test(tc, test_ask_and_moved);
    tcase_add_test(tc, test_master_killed);
    suite_add_tcase(s, tc);
    TCase *ts = tcase_create("sentinel");
    tcase_add_unchecked_fixture(ts, sentinel_setup, sentinel_teardown);
    tcase_set_timeout(ts, 90);
    tcase_add_test(ts, test_sentinel);
    suite_add_tcase(s, ts);
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
