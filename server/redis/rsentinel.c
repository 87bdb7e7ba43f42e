/*
 * rsentinel.c — Sentinel master discovery and the ROLE write guard
 * (contract in rsentinel.h).
 */
#include "redis/rsentinel.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/util.h"
#include "redis/rblock.h"

static void rsentinel_ep(const char *host, int port, char *buf, size_t cap)
{
    if (strchr(host, ':') != NULL) {
        snprintf(buf, cap, "[%s]:%d", host, port);
    } else {
        snprintf(buf, cap, "%s:%d", host, port);
    }
}

int rsentinel_check_master(redisContext *ctx, char *err, size_t errlen)
{
    redisReply *r = rblock_command(ctx, err, errlen, "ROLE", "ROLE");
    if (r == NULL) {
        return FEATD_ERR;
    }
    int rc = FEATD_OK;
    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0 ||
        (r->element[0]->type != REDIS_REPLY_STRING && r->element[0]->type != REDIS_REPLY_STATUS)) {
        rblock_seterr_reply(ctx, "ROLE", r, err, errlen);
        rc = FEATD_ERR;
    } else if (strcmp(r->element[0]->str, "master") != 0) {
        char ep[RTOPO_HOST_MAX + 32];
        rblock_ctx_endpoint(ctx, ep, sizeof ep);
        util_seterr(err, errlen, "redis %s: ROLE is %.40s, not master", ep, r->element[0]->str);
        rc = FEATD_ERR;
    }
    freeReplyObject(r);
    return rc;
}

/* Appends "; text" to a bounded list of failures. */
static void rsentinel_note(char *list, size_t cap, const char *text)
{
    size_t used = strlen(list);
    if (used + 3 < cap) {
        snprintf(list + used, cap - used, "%s%s", used ? "; " : "", text);
    }
}

/* Asks sentinel s for the master; FEATD_OK with host/port, else why. */
static int rsentinel_ask(const struct rsentinel_opts *o, const struct rbcluster_addr *s,
                         char *host, size_t hostcap, int *port, char *why, size_t whycap)
{
    redisContext *ctx = rbcluster_connect_one(s->host, s->port, o->sentinel_username,
                                              o->sentinel_password, 0, o->timeout_ms, why, whycap);
    if (ctx == NULL) {
        return FEATD_ERR;
    }
    char ep[RTOPO_HOST_MAX + 32];
    rsentinel_ep(s->host, s->port, ep, sizeof ep);
    redisReply *r = rblock_command(ctx, why, whycap, "SENTINEL get-master-addr-by-name",
                                   "SENTINEL get-master-addr-by-name %s", o->master_name);
    int rc = FEATD_ERR;
    if (r == NULL) {
        /* why is set */
    } else if (r->type == REDIS_REPLY_NIL) {
        util_seterr(why, whycap, "sentinel %s does not monitor a master named \"%s\"", ep,
                    o->master_name);
    } else if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
               r->element[0]->type != REDIS_REPLY_STRING ||
               r->element[1]->type != REDIS_REPLY_STRING) {
        util_seterr(why, whycap, "sentinel %s: get-master-addr-by-name: unexpected reply", ep);
    } else {
        int64_t p;
        if (!util_parse_i64(r->element[1]->str, 1, 65535, &p) ||
            (size_t)r->element[0]->len >= hostcap || r->element[0]->len == 0) {
            util_seterr(why, whycap, "sentinel %s named an unusable address \"%.100s:%.10s\"", ep,
                        r->element[0]->str, r->element[1]->str);
        } else {
            util_strlcpy(host, r->element[0]->str, hostcap);
            *port = (int)p;
            rc = FEATD_OK;
        }
    }
    if (r != NULL) {
        freeReplyObject(r);
    }
    redisFree(ctx);
    return rc;
}

int rsentinel_discover(const struct rsentinel_opts *o, char *host, size_t hostcap, int *port,
                       redisContext **ctx_out, char *err, size_t errlen)
{
    if (ctx_out != NULL) {
        *ctx_out = NULL;
    }
    if (o->nsentinels == 0 || o->nsentinels > RSENTINEL_MAX || o->master_name == NULL) {
        util_seterr(err, errlen, "sentinel: %zu sentinels (1 to %d) and a master name needed",
                    o->nsentinels, RSENTINEL_MAX);
        return FEATD_ERR;
    }
    char fails[1500] = "";
    int rounds = o->rounds > 0 ? o->rounds : 1;
    for (int round = 0; round < rounds; round++) {
        if (round > 0 && o->retry_ms > 0) {
            struct timespec ts = { o->retry_ms / 1000, (long)(o->retry_ms % 1000) * 1000000L };
            while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
            }
        }
        fails[0] = '\0';   /* report the last round */
        for (size_t i = 0; i < o->nsentinels; i++) {
            const struct rbcluster_addr *s = &o->sentinels[i];
            char why[600], mhost[RTOPO_HOST_MAX];
            int mport = 0;
            if (rsentinel_ask(o, s, mhost, sizeof mhost, &mport, why, sizeof why) != FEATD_OK) {
                rsentinel_note(fails, sizeof fails, why);
                continue;
            }
            char sep[RTOPO_HOST_MAX + 32], mep[RTOPO_HOST_MAX + 32];
            rsentinel_ep(s->host, s->port, sep, sizeof sep);
            rsentinel_ep(mhost, mport, mep, sizeof mep);
            redisContext *ctx = rbcluster_connect_one(mhost, mport, o->username, o->password, 0,
                                                      o->timeout_ms, why, sizeof why);
            if (ctx == NULL) {
                char note[800];
                util_seterr(note, sizeof note, "sentinel %s named %s: %s", sep, mep, why);
                rsentinel_note(fails, sizeof fails, note);
                continue;
            }
            if (rsentinel_check_master(ctx, why, sizeof why) != FEATD_OK) {
                char note[800];
                util_seterr(note, sizeof note, "sentinel %s named %s: %s", sep, mep, why);
                rsentinel_note(fails, sizeof fails, note);
                redisFree(ctx);
                continue;
            }
            if (strlen(mhost) >= hostcap) {
                redisFree(ctx);
                util_seterr(err, errlen, "sentinel: master host %s too long", mhost);
                return FEATD_ERR;
            }
            util_strlcpy(host, mhost, hostcap);
            *port = mport;
            if (ctx_out != NULL) {
                *ctx_out = ctx;
            } else {
                redisFree(ctx);
            }
            return FEATD_OK;
        }
    }
    util_seterr(err, errlen, "sentinel: no master \"%s\" found (%d round%s): %s", o->master_name,
                rounds, rounds == 1 ? "" : "s", fails);
    return FEATD_ERR;
}
