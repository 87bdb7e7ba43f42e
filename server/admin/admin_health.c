/*
 * admin_health.c — GET /healthz (the process runs) and GET /readyz (the
 * registry is loaded, every worker has its Redis link, Redis answers INFO
 * from the admin thread's link within redis.timeout_ms, it neither evicted
 * keys since featd started nor has an evicting policy (redis.eviction;
 * redis/rhealth.h), and no view's data is only in the previous online
 * layout). Admin thread.
 */
#include <stdatomic.h>

#include <hiredis/hiredis.h>

#include "admin/admin_internal.h"
#include "config/config.h"
#include "core/metrics.h"
#include "materialize/mat_stats.h"
#include "online/online_key.h"
#include "redis/rhealth.h"
#include "redis/rlink.h"


static void admin_health_ready_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    struct admin_call *c = arg;
    (void)fd;
    (void)what;
    if (c->req) {
        admin_reply_text(c->req, AP_READYZ, 503, "not ready: redis %s did not answer INFO within %d ms",
                         rlink_endpoint(admin.w.redis), admin.w.reg->cfg->redis.timeout_ms);
        admin_call_answered(c);
    }
    admin_call_maybe_free(c);
}

/* Redis answered: ready, unless a view keeps failing to materialize
 * (materialize.unready_after_intervals) or its data is still only in the
 * previous online layout (it is being re-materialized; mat_stats). */
static void admin_health_ready_layout(struct evhttp_request *req)
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
                         "materialize purge-old-layout` removes them)", n, names);
        return;
    }
    admin_reply_text(req, AP_READYZ, 200, "ready");
}

static void admin_health_ready_cb(redisAsyncContext *ac, void *r, void *priv)
{
    struct admin_call *c = priv;
    redisReply *reply = r;
    (void)ac;
    c->backend_pending = false;
    if (c->req) {
        if (reply == NULL) {
            admin_reply_text(c->req, AP_READYZ, 503, "not ready: %s", rlink_status(admin.w.redis));
        } else if (reply->type == REDIS_REPLY_ERROR) {
            admin_reply_text(c->req, AP_READYZ, 503, "not ready: redis %s answered INFO with an error: %.*s",
                             rlink_endpoint(admin.w.redis), (int)reply->len, reply->str);
        } else {
            struct rhealth_sample smp;
            char why[512];
            if (reply->type == REDIS_REPLY_STRING) {
                rhealth_parse(reply->str, reply->len, &smp);
                rhealth_note(&smp);
            }
            if (rhealth_problem(admin.w.reg->cfg->redis.eviction == EVICT_ALLOW, why, sizeof(why))) {
                admin_reply_text(c->req, AP_READYZ, 503, "not ready: %s", why);
            } else {
                admin_health_ready_layout(c->req);
            }
        }
        admin_call_answered(c);
    }
    admin_call_maybe_free(c);
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
    if (!rlink_ready(admin.w.redis)) {
        admin_reply_text(req, AP_READYZ, 503, "not ready: %s", rlink_status(admin.w.redis));
        return;
    }
    int down = 0;
    for (int i = 0; i < nworkers; i++) {
        down += METRICS_GET(workers[i].metrics.redis_connected) == 0;
    }
    if (down) {
        admin_reply_text(req, AP_READYZ, 503, "not ready: %d of %d workers have no Redis link to %s", down,
                         nworkers, rlink_endpoint(admin.w.redis));
        return;
    }
    struct admin_call *c = admin_call_new(req, CALL_READYZ, AP_READYZ);
    if (c == NULL) {
        admin_reply_text(req, AP_READYZ, 500, "out of memory");
        return;
    }
    /* answers like PING, and tells the eviction state (redis/rhealth.h) */
    static const char *argv[] = { "INFO", "memory", "stats" };
    static const size_t argvlen[] = { 4, 6, 5 };
    if (admin_call_timer(c, admin_health_ready_timeout_cb) != FEATD_OK ||
        rlink_command_argv(admin.w.redis, admin_health_ready_cb, c, 3, argv, argvlen) != FEATD_OK) {
        admin_reply_text(req, AP_READYZ, 503, "not ready: %s", rlink_status(admin.w.redis));
        admin_call_answered(c);
        admin_call_maybe_free(c);
        return;
    }
    c->backend_pending = true;
}


/* GET /healthz: 200 "ok" while the process runs. */
void admin_health_live(struct evhttp_request *req)
{
    admin_reply_text(req, AP_HEALTHZ, 200, "ok");
}
