/*
 * rbconf.c — the blocking client of a config: single node, embedded,
 * cluster or the Sentinel master (contract in rbconf.h).
 */
#include "redis/rbconf.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "redis/rblock.h"
#include "redis/rsentinel.h"

#define RBCONF_SENTINEL_ROUNDS 3      /* passes over the sentinels per connect */
#define RBCONF_SENTINEL_RETRY_MS 300  /* between passes (a failover in progress) */

int rbconf_bulk_timeout_ms(const struct featd_config *cfg)
{
    int ms = cfg->redis.timeout_ms;
    return ms > RBLOCK_BULK_TIMEOUT_MS ? ms : RBLOCK_BULK_TIMEOUT_MS;
}

static struct rbcluster *rbconf_cluster(const struct cfg_redis *r, char *err, size_t errlen)
{
    size_t n = r->cluster_nodes.n;
    if (n == 0 || n > RBCLUSTER_MAX_SEEDS) {
        util_seterr(err, errlen, "redis.cluster_nodes: %zu seed nodes (1 to %d)", n,
                    RBCLUSTER_MAX_SEEDS);
        return NULL;
    }
    struct rbcluster_addr seeds[RBCLUSTER_MAX_SEEDS];
    for (size_t i = 0; i < n; i++) {
        const struct cfg_addr *a = &r->cluster_nodes.v[i];
        seeds[i] = (struct rbcluster_addr){ a->host, a->port };
    }
    struct rbcluster_opts o = { .seeds = seeds, .nseeds = n, .username = r->username,
                                .password = r->password, .timeout_ms = r->timeout_ms };
    return rbcluster_new_cluster(&o, err, errlen);
}

static struct rbcluster *rbconf_sentinel(const struct cfg_redis *r, char *err, size_t errlen)
{
    size_t n = r->sentinel.nodes.n;
    if (n == 0 || n > RSENTINEL_MAX) {
        util_seterr(err, errlen, "redis.sentinel.nodes: %zu sentinels (1 to %d)", n,
                    RSENTINEL_MAX);
        return NULL;
    }
    struct rbcluster_addr sent[RSENTINEL_MAX];
    for (size_t i = 0; i < n; i++) {
        const struct cfg_addr *a = &r->sentinel.nodes.v[i];
        sent[i] = (struct rbcluster_addr){ a->host, a->port };
    }
    struct rsentinel_opts so = {
        .sentinels = sent, .nsentinels = n, .master_name = r->sentinel.master_name,
        .sentinel_password = r->sentinel.password, .username = r->username,
        .password = r->password, .timeout_ms = r->timeout_ms, .rounds = RBCONF_SENTINEL_ROUNDS,
        .retry_ms = RBCONF_SENTINEL_RETRY_MS,
    };
    char host[RTOPO_HOST_MAX];
    int port = 0;
    if (rsentinel_discover(&so, host, sizeof host, &port, NULL, err, errlen) != FEATD_OK) {
        return NULL;
    }
    struct rbcluster_addr m = { host, port };
    struct rbcluster_opts o = { .seeds = &m, .nseeds = 1, .username = r->username,
                                .password = r->password, .db = r->db,
                                .timeout_ms = r->timeout_ms };
    return rbcluster_new_single(&o, err, errlen);
}

struct rbcluster *rbconf_connect(const struct featd_config *cfg, char *err, size_t errlen)
{
    const struct cfg_redis *r = &cfg->redis;
    if (r->mode == REDIS_MODE_CLUSTER) {
        return rbconf_cluster(r, err, errlen);
    }
    if (r->mode == REDIS_MODE_SENTINEL) {
        return rbconf_sentinel(r, err, errlen);
    }
    char path[PATH_MAX + 32];
    struct rbcluster_addr a = { r->host ? r->host : "127.0.0.1", r->port };
    if (r->embedded) {
        if (rblock_embedded_socket_path(cfg, path, sizeof path) != FEATD_OK) {
            util_seterr(err, errlen, "redis: %s", path);
            return NULL;
        }
        a = (struct rbcluster_addr){ path, 0 };
    } else if (r->unix_path != NULL) {
        a = (struct rbcluster_addr){ r->unix_path, 0 };
    }
    struct rbcluster_opts o = { .seeds = &a, .nseeds = 1, .username = r->username,
                                .password = r->password, .db = r->db,
                                .timeout_ms = r->timeout_ms };
    struct rbcluster *c = rbcluster_new_single(&o, err, errlen);
    if (c == NULL && r->embedded) {
        size_t used = strlen(err);
        if (used + 1 < errlen) {
            snprintf(err + used, errlen - used, " (the embedded redis-server runs only while "
                     "featd runs with this config's server.data_dir)");
        }
    }
    return c;
}

int rbconf_check_writable(const struct featd_config *cfg, struct rbcluster *c, char *err,
                          size_t errlen)
{
    if (cfg->redis.mode != REDIS_MODE_SENTINEL) {
        return FEATD_OK;
    }
    redisContext *ctx = rbcluster_master_ctx(c, 0, err, errlen);
    if (ctx == NULL) {
        return FEATD_ERR;
    }
    return rsentinel_check_master(ctx, err, errlen);
}
