/*
 * admin_health.c — GET /healthz (the process runs) and GET /readyz (the
 * registry is loaded, every worker has its links to every Redis master,
 * every master answers INFO from the admin thread's route within
 * redis.timeout_ms, none evicted
 * keys since featd started nor has an evicting policy (redis.eviction;
 * redis/rhealth.h), and no view's data is only in the previous online
 * layout). Admin thread.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "admin/admin_internal.h"
#include "config/config.h"
#include "core/metrics.h"
#include "materialize/mat_stats.h"
#include "online/online_key.h"
#include "redis/rhealth.h"
#include "redis/rroute.h"


/* Redis answered: ready, unless a view keeps failing to materialize
 * (materialize.unready_after_intervals) or its data is still only in the
 * previous online layout (it is being re-materialized; mat_stats). */
static void admin_health_ready_layout(struct evhttp_request *req, const char *topo)
{
    char names[512];
    int after = admin.w.reg->cfg->materialize.unready_after_intervals;
    size_t n = mat_stats_stuck(after, names, sizeof(names));
    if (n > 0) {
        admin_reply_text(req, AP_READYZ, 503, "not ready: %zu view(s) failing to materialize for "
                         "over %d intervals (their data is going stale; see featd-cli "
                         "materialize status): %s", n, after, names);
        return;
    }
    n = mat_stats_old_layout(MAT_OLD_LAYOUT_ONLY, names, sizeof(names));
    if (n > 0) {
        admin_reply_text(req, AP_READYZ, 503, "not ready: %zu view(s) being re-materialized into "
                         "online layout " ONLINE_LAYOUT_VERSION " (their data is in layout "
                         ONLINE_LAYOUT_PREVIOUS "): %s", n, names);
        return;
    }
    n = mat_stats_old_layout(MAT_OLD_LAYOUT_LEFT, names, sizeof(names));
    if (n > 0) {
        admin_reply_text(req, AP_READYZ, 200, "ready (%zu view(s) still have online layout "
                         ONLINE_LAYOUT_PREVIOUS " keys, unused by this featd: %s; `featd-cli "
                         "materialize purge-old-layout` removes them)%s", n, names, topo);
        return;
    }
    admin_reply_text(req, AP_READYZ, 200, "ready%s", topo);
}

/* The topology for a ready answer: "" on a single node, else
 * " (redis cluster: 3 masters 127.0.0.1:7000, ...; 6 nodes)". */
static void admin_health_topology(char *out, size_t cap)
{
    struct rroute *rt = admin.w.redis;
    out[0] = '\0';
    if (strcmp(rroute_mode(rt), "cluster") != 0 && strcmp(rroute_mode(rt), "sentinel") != 0) {
        return;
    }
    size_t nm = rroute_nmasters(rt), o = 0;
    o += (size_t)snprintf(out, cap, " (redis %s: %zu master%s", rroute_mode(rt), nm, nm == 1 ? "" : "s");
    for (size_t i = 0; i < nm && o < cap; i++) {
        o += (size_t)snprintf(out + o, cap - o, "%s%s", i ? ", " : " ", rroute_master_endpoint(rt, i));
    }
    if (o < cap) {
        snprintf(out + o, cap - o, "; %zu node%s)", rroute_nodes(rt), rroute_nodes(rt) == 1 ? "" : "s");
    }
}

/* One /readyz check: INFO memory stats to every master, then one answer. */
struct admin_ready;
struct admin_ready_one {            /* one master's INFO: the callback's priv */
    struct admin_ready *rd;
    size_t k;                       /* master index (rroute_master_endpoint) */
};
struct admin_ready {
    struct admin_call *c;
    size_t n, pending;
    struct admin_ready_one *one;    /* n entries */
    bool cluster;                   /* note readings per master (redis/rhealth.h) */
    char err[700];                  /* the first failure, "" = none */
};

static void admin_health_ready_finish(struct admin_ready *rd)
{
    struct admin_call *c = rd->c;
    if (c->req == NULL) {
        return;
    }
    if (rd->err[0]) {
        admin_reply_text(c->req, AP_READYZ, 503, "not ready: %s", rd->err);
    } else {
        char why[512], topo[1024];
        if (rhealth_problem(admin.w.reg->cfg->redis.eviction == EVICT_ALLOW, why, sizeof(why))) {
            admin_reply_text(c->req, AP_READYZ, 503, "not ready: %s", why);
        } else {
            admin_health_topology(topo, sizeof(topo));
            admin_health_ready_layout(c->req, topo);
        }
    }
    admin_call_answered(c);
}

static void admin_health_ready_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    struct admin_ready *rd = arg;
    struct admin_call *c = rd->c;
    (void)fd;
    (void)what;
    if (c->req) {
        if (rd->n == 1) {
            admin_reply_text(c->req, AP_READYZ, 503, "not ready: redis %s did not answer INFO within %d ms",
                             rroute_master_endpoint(admin.w.redis, 0), admin.w.reg->cfg->redis.timeout_ms);
        } else {
            admin_reply_text(c->req, AP_READYZ, 503, "not ready: %zu of %zu redis masters of %s did not answer "
                             "INFO within %d ms", rd->pending, rd->n, rroute_endpoint(admin.w.redis),
                             admin.w.reg->cfg->redis.timeout_ms);
        }
        admin_call_answered(c);
    }
}

/* One master's INFO reply (priv: the check; ac tells nothing of which
 * master, so failures name the route's view of the link). */
static void admin_health_ready_cb(redisAsyncContext *ac, void *r, void *priv)
{
    struct admin_ready_one *one = priv;
    struct admin_ready *rd = one->rd;
    redisReply *reply = r;
    (void)ac;
    if (reply == NULL) {
        if (!rd->err[0]) {
            snprintf(rd->err, sizeof(rd->err), "%s", rroute_status(admin.w.redis));
        }
    } else if (reply->type == REDIS_REPLY_ERROR) {
        if (!rd->err[0]) {
            snprintf(rd->err, sizeof(rd->err), "redis answered INFO with an error: %.*s",
                     (int)(reply->len > 300 ? 300 : reply->len), reply->str);
        }
    } else if (reply->type == REDIS_REPLY_STRING) {
        /* per master, as the materializer notes them: each keeps its own
         * baseline, rhealth sums them */
        struct rhealth_sample smp;
        rhealth_parse(reply->str, reply->len, &smp);
        rhealth_note_node(rd->cluster ? rroute_master_endpoint(admin.w.redis, one->k) : "", &smp);
    }
    if (--rd->pending > 0) {
        return;
    }
    admin_health_ready_finish(rd);
    rd->c->backend_pending = false;
    admin_call_maybe_free(rd->c);
    free(rd->one);
    free(rd);
}

void admin_health_ready(struct evhttp_request *req)
{
    if (atomic_load(&admin_draining) || admin.stopping) {
        admin_reply_text(req, AP_READYZ, 503, "not ready: shutting down");
        return;
    }
    if (admin.w.reg == NULL || admin.w.reg->cfg == NULL) {
        admin_reply_text(req, AP_READYZ, 503, "not ready: no registry loaded");
        return;
    }
    struct rroute *rt = admin.w.redis;
    if (!rroute_ready(rt)) {
        admin_reply_text(req, AP_READYZ, 503, "not ready: %s", rroute_status(rt));
        return;
    }
    int down = 0;
    for (int i = 0; i < nworkers; i++) {
        down += METRICS_GET(workers[i].metrics.redis_connected) == 0;
    }
    if (down) {
        admin_reply_text(req, AP_READYZ, 503, "not ready: %d of %d workers have no Redis link to %s%s", down,
                         nworkers, rroute_nmasters(rt) > 1 ? "every master of " : "", rroute_endpoint(rt));
        return;
    }
    struct admin_call *c = admin_call_new(req, CALL_READYZ, AP_READYZ);
    struct admin_ready *rd = calloc(1, sizeof(*rd));
    size_t nm = rroute_nmasters(rt);
    struct admin_ready_one *one = calloc(nm + 1, sizeof(*one));     /* + the hold */
    if (c == NULL || rd == NULL || one == NULL) {
        free(rd);
        free(one);
        if (c) {
            admin_call_answered(c);
            admin_call_maybe_free(c);
        }
        admin_reply_text(req, AP_READYZ, 500, "out of memory");
        return;
    }
    rd->c = c;
    rd->n = nm;
    rd->one = one;
    rd->cluster = rroute_is_cluster(rt);
    for (size_t i = 0; i <= nm; i++) {
        one[i].rd = rd;
        one[i].k = i;
    }
    int ms = admin.w.reg->cfg->redis.timeout_ms;
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    c->timer = evtimer_new(admin.w.base, admin_health_ready_timeout_cb, rd);
    if (c->timer == NULL || evtimer_add(c->timer, &tv) != 0) {
        admin_reply_text(req, AP_READYZ, 503, "not ready: out of memory");
        admin_call_answered(c);
        admin_call_maybe_free(c);
        free(rd->one);
        free(rd);
        return;
    }
    /* answers like PING, and tells the eviction state (redis/rhealth.h) */
    static const char *argv[] = { "INFO", "memory", "stats" };
    static const size_t argvlen[] = { 4, 6, 5 };
    rd->pending = 1;                    /* held while sending */
    c->backend_pending = true;
    for (size_t i = 0; i < rd->n; i++) {
        rd->pending++;
        if (rroute_command_master(rt, i, admin_health_ready_cb, &one[i], 3, argv, argvlen) != FEATD_OK) {
            rd->pending--;
            snprintf(rd->err, sizeof(rd->err), "redis master %s: %s", rroute_master_endpoint(rt, i),
                     rroute_status(rt));
            break;
        }
    }
    admin_health_ready_cb(NULL, (void *)&(redisReply){ .type = REDIS_REPLY_NIL }, &one[nm]);   /* drop the hold */
}


/* GET /healthz: 200 "ok" while the process runs. */
void admin_health_live(struct evhttp_request *req)
{
    admin_reply_text(req, AP_HEALTHZ, 200, "ok");
}
