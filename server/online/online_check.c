/*
 * online_check.c — the Redis server requirements of the online layout
 * (contract in online_check.h).
 */
#include "online/online_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "online/online_key.h"
#include "online/online_row.h"
#include "redis/rbcluster.h"
#include "redis/rblock.h"
#include "redis/rhealth.h"

#define ONLINE_CHECK_MIN_MAJOR 7

/* redis_version's major number from an INFO server text; -1 if absent. */
static int check_major(const char *info)
{
    const char *p = strstr(info, "redis_version:");
    if (p == NULL) {
        return -1;
    }
    return atoi(p + strlen("redis_version:"));
}

/* INFO memory stats of one node into *out (not noted). */
static int eviction_read(redisContext *c, struct rhealth_sample *out, char *err, size_t errlen)
{
    redisReply *r = rblock_command(c, err, errlen, "INFO", "INFO memory stats");
    if (r == NULL) {
        return FEATD_ERR;
    }
    int rc = FEATD_OK;
    if (r->type == REDIS_REPLY_STRING) {
        rhealth_parse(r->str, r->len, out);
    } else {
        rblock_seterr_reply(c, "INFO", r, err, errlen);
        rc = FEATD_ERR;
    }
    freeReplyObject(r);
    return rc;
}

int online_check_eviction(redisContext *c, struct rhealth_sample *out, char *err, size_t errlen)
{
    int rc = eviction_read(c, out, err, errlen);
    if (rc == FEATD_OK) {
        rhealth_note(out);
    }
    return rc;
}

int online_check_eviction_rb(struct rbcluster *rc, struct rhealth_sample *out, char *err,
                             size_t errlen)
{
    memset(out, 0, sizeof(*out));
    size_t nm = rbcluster_nmasters(rc);
    bool all_have = nm > 0;
    for (size_t k = 0; k < nm; k++) {
        redisContext *c = rbcluster_master_ctx(rc, k, err, errlen);
        struct rhealth_sample s;
        if (c == NULL || eviction_read(c, &s, err, errlen) != FEATD_OK) {
            return FEATD_ERR;
        }
        char node[RHEALTH_NODE_NAME] = "";
        if (rbcluster_is_cluster(rc)) {
            const struct rtopo_node *tn = &rbcluster_topo(rc)->nodes[rbcluster_master_node(rc, k)];
            /* named as the workers' and admin's links name it (rlink_endpoint) */
            snprintf(node, sizeof node, strchr(tn->host, ':') ? "[%s]:%d" : "%s:%d", tn->host,
                     tn->port);
        }
        rhealth_note_node(node, &s);
        if (s.policy[0] && (out->policy[0] == '\0' || (!rhealth_policy_evicts(out->policy) &&
                                                       rhealth_policy_evicts(s.policy)))) {
            util_strlcpy(out->policy, s.policy, sizeof(out->policy));
        }
        all_have &= s.have_evicted;
        out->evicted_keys += s.evicted_keys;
    }
    out->have_evicted = all_have;
    return FEATD_OK;
}

int online_check_server_rb(struct rbcluster *rc, const struct featd_config *cfg, char *err,
                           size_t errlen)
{
    size_t nm = rbcluster_nmasters(rc);
    for (size_t k = 0; k < nm; k++) {
        redisContext *c = rbcluster_master_ctx(rc, k, err, errlen);
        if (c == NULL || online_check_server(c, cfg, err, errlen) != FEATD_OK) {
            return FEATD_ERR;
        }
    }
    return FEATD_OK;
}

int online_check_server(redisContext *c, const struct featd_config *cfg, char *err, size_t errlen)
{
    redisReply *r = rblock_command(c, err, errlen, "INFO server", "INFO server");
    if (r == NULL) {
        return FEATD_ERR;
    }
    int major = r->type == REDIS_REPLY_STRING ? check_major(r->str) : -1;
    freeReplyObject(r);
    if (major >= 0 && major < ONLINE_CHECK_MIN_MAJOR) {
        util_seterr(err, errlen, "Redis %d.x is too old for online layout " ONLINE_LAYOUT_VERSION
                    ": it needs Redis >= %d.0 (PEXPIREAT ... NX|GT, PEXPIRETIME)", major,
                    ONLINE_CHECK_MIN_MAJOR);
        return FEATD_ERR;
    }
    char ignored[256];
    r = rblock_command(c, ignored, sizeof(ignored), "CONFIG GET",
                       "CONFIG GET hash-max-listpack-value");
    long long limit = -1;
    if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[1]->type == REDIS_REPLY_STRING) {
        limit = atoll(r->element[1]->str);
    }
    freeReplyObject(r);
    if (limit < 0) {
        return FEATD_OK;    /* CONFIG refused or renamed: nothing to advise on */
    }
    for (size_t i = 0; i < cfg->nviews; i++) {
        const struct cfg_view *v = &cfg->views[i];
        size_t need = online_row_min_size(v);
        if ((long long)need > limit) {
            log_warn("online", "view %s: its rows take at least %zu bytes, more than the Redis "
                     "setting hash-max-listpack-value %lld: Redis keeps the entity hashes that "
                     "hold them in its larger hashtable encoding (about 1.6x the memory); set "
                     "hash-max-listpack-value to at least %zu (docs/online-layout.md)", v->name,
                     need, limit, need);
        }
    }
    return FEATD_OK;
}
