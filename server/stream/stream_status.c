/*
 * stream_status.c — a stream view's consumer state from Redis (contract in
 * stream_status.h).
 */
#include "stream/stream_status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fbuf.h"
#include "core/util.h"
#include "online/online_key.h"
#include "redis/rbcluster.h"

/* A reply's integer or decimal string; dflt otherwise. */
static int64_t ss_int(const redisReply *r, int64_t dflt)
{
    if (r == NULL) {
        return dflt;
    }
    if (r->type == REDIS_REPLY_INTEGER) {
        return r->integer;
    }
    int64_t v;
    if ((r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) &&
        util_parse_i64(r->str, INT64_MIN, INT64_MAX, &v)) {
        return v;
    }
    return dflt;
}

static void ss_str(const redisReply *r, char *out, size_t cap)
{
    if (r != NULL && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)) {
        util_strlcpy(out, r->str, cap);
    }
}

int stream_status_load(struct rbcluster *c, const struct featd_config *cfg, const struct cfg_view *v,
                       struct stream_status *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->lag = -1;
    char dead[1100];
    snprintf(dead, sizeof dead, "%s:dead", v->stream_key);
    struct fbuf sk = { 0 };
    if (online_key_meta(&sk, cfg->redis.key_prefix, v, "stream") != FEATD_OK) {
        util_seterr(err, errlen, "out of memory");
        return FEATD_ERR;
    }
    const char *a1[] = { "XINFO", "GROUPS", v->stream_key };
    const char *a2[] = { "XLEN", v->stream_key };
    const char *a3[] = { "XLEN", dead };
    const char *a4[] = { "HGETALL", sk.data };
    size_t l1[] = { 5, 6, strlen(v->stream_key) }, l2[] = { 4, strlen(v->stream_key) },
           l3[] = { 4, strlen(dead) }, l4[] = { 7, sk.len };
    redisReply **r = NULL;
    size_t n = 0;
    int rc = FEATD_ERR;
    if (rbcluster_append(c, v->stream_key, strlen(v->stream_key), 3, a1, l1, err, errlen) != FEATD_OK ||
        rbcluster_append(c, v->stream_key, strlen(v->stream_key), 2, a2, l2, err, errlen) != FEATD_OK ||
        rbcluster_append(c, dead, strlen(dead), 2, a3, l3, err, errlen) != FEATD_OK ||
        rbcluster_append(c, sk.data, sk.len, 2, a4, l4, err, errlen) != FEATD_OK ||
        rbcluster_exec(c, &r, &n, err, errlen) != FEATD_OK || n != 4) {
        goto out;
    }
    /* XINFO GROUPS: an error (no such key) means no group yet */
    for (size_t g = 0; r[0]->type == REDIS_REPLY_ARRAY && g < r[0]->elements; g++) {
        const redisReply *grp = r[0]->element[g];
        if (grp->type != REDIS_REPLY_ARRAY) {
            continue;
        }
        bool ours = false;
        struct stream_status s = *out;
        for (size_t i = 0; i + 1 < grp->elements; i += 2) {
            const char *k = grp->element[i]->str ? grp->element[i]->str : "";
            const redisReply *val = grp->element[i + 1];
            if (strcmp(k, "name") == 0) {
                ours = val->str != NULL && strcmp(val->str, v->stream_group) == 0;
            } else if (strcmp(k, "lag") == 0) {
                s.lag = ss_int(val, -1);
            } else if (strcmp(k, "pending") == 0) {
                s.pending = ss_int(val, 0);
            } else if (strcmp(k, "consumers") == 0) {
                s.consumers = ss_int(val, 0);
            } else if (strcmp(k, "last-delivered-id") == 0) {
                ss_str(val, s.last_delivered, sizeof s.last_delivered);
            }
        }
        if (ours) {
            *out = s;
            out->group_exists = true;
        }
    }
    out->length = ss_int(r[1], 0);
    out->dead = ss_int(r[2], 0);
    for (size_t i = 0; r[3]->type == REDIS_REPLY_ARRAY && i + 1 < r[3]->elements; i += 2) {
        const char *k = r[3]->element[i]->str;
        const redisReply *val = r[3]->element[i + 1];
        if (strcmp(k, "written") == 0) {
            out->written = ss_int(val, 0);
        } else if (strcmp(k, "stale") == 0) {
            out->stale = ss_int(val, 0);
        } else if (strcmp(k, "rejected") == 0) {
            out->rejected = ss_int(val, 0);
        } else if (strcmp(k, "last_error") == 0) {
            ss_str(val, out->last_error, sizeof out->last_error);
        } else if (strcmp(k, "last_error_at_us") == 0) {
            out->last_error_at_us = ss_int(val, 0);
        } else if (strcmp(k, "last_error_consumer") == 0) {
            ss_str(val, out->last_error_consumer, sizeof out->last_error_consumer);
        }
    }
    rc = FEATD_OK;
out:
    rbcluster_replies_free(r, n);
    fbuf_free(&sk);
    return rc;
}
