/*
 * metrics.c — histogram observation and aggregation (see metrics.h).
 */
#include "core/metrics.h"

#include <stddef.h>

_Static_assert(METRICS_VIEW_STATUSES == METRICS_STATUSES, "one status list");

#define METRICS_BOUND_(x) x,
const uint64_t metrics_bucket_bounds[METRICS_NBUCKETS - 1] = { METRICS_BUCKETS(METRICS_BOUND_) };
#undef METRICS_BOUND_

const char *const metrics_req_type_names[MREQ__COUNT] = {
    "get_online_features", "ping", "list_feature_views", "server_info", "http_get_online_features",
    "auth",
    "write_features",
    "http_write_features"
};
const char *const metrics_code_names[METRICS_CODES] = {
    "OK", "INVALID_ARGUMENT", "UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "INTERNAL",
    "UNAUTHENTICATED", "PERMISSION_DENIED"
};
const char *const metrics_status_names[METRICS_STATUSES] = {
    "INVALID", "PRESENT", "NULL_VALUE", "NOT_FOUND", "OUTSIDE_MAX_AGE"
};
const char *const metrics_redirect_names[METRICS_REDIRECT_KINDS] = { "moved", "ask" };

const char *const metrics_phase_names[MPHASE__COUNT] = {
    "queued", "decode", "redis", "encode", "write"
};

_Atomic int64_t metrics_connections_open;
_Atomic int64_t metrics_client_memory_bytes;

void metrics_observe(struct metrics_hist *h, uint64_t us)
{
    size_t i = 0;
    while (i < METRICS_NBUCKETS - 1 && us > metrics_bucket_bounds[i]) {
        i++;
    }
    METRICS_INC(h->buckets[i]);
    METRICS_ADD(h->sum_us, us);
    METRICS_INC(h->count);
}

static uint64_t metrics_span(int64_t from, int64_t to)
{
    return to > from ? (uint64_t)(to - from) : 0;
}

void metrics_phases_split(const struct metrics_req_trace *t, int64_t written_us, uint64_t us[MPHASE__COUNT])
{
    us[MPHASE_QUEUED] = t->rx_us ? metrics_span(t->rx_us, t->start_us) : 0;
    if (t->sent_us == 0) {
        us[MPHASE_DECODE] = metrics_span(t->start_us, t->ready_us);
        us[MPHASE_REDIS] = 0;
        us[MPHASE_ENCODE] = 0;
    } else {
        int64_t redis_end = t->reply_us >= t->sent_us ? t->reply_us : t->ready_us;
        us[MPHASE_DECODE] = metrics_span(t->start_us, t->sent_us);
        us[MPHASE_REDIS] = metrics_span(t->sent_us, redis_end);
        us[MPHASE_ENCODE] = metrics_span(redis_end, t->ready_us);
    }
    us[MPHASE_WRITE] = metrics_span(t->ready_us, written_us);
}

bool metrics_phases_observe(struct metrics *m, const uint64_t us[MPHASE__COUNT], uint64_t slow_us)
{
    uint64_t total = 0;
    for (size_t i = 0; i < MPHASE__COUNT; i++) {
        metrics_observe(&m->phase[i], us[i]);
        total += us[i];
    }
    if (slow_us == 0 || total < slow_us) {
        return false;
    }
    METRICS_INC(m->slow_requests_total);
    for (size_t i = 0; i < MPHASE__COUNT; i++) {
        metrics_observe(&m->slow_phase[i], us[i]);
    }
    return true;
}

static void metrics_hist_sum(struct metrics_hist *d, const struct metrics_hist *s)
{
    for (size_t i = 0; i < METRICS_NBUCKETS; i++) {
        METRICS_ADD(d->buckets[i], METRICS_GET(s->buckets[i]));
    }
    METRICS_ADD(d->sum_us, METRICS_GET(s->sum_us));
    METRICS_ADD(d->count, METRICS_GET(s->count));
}

void metrics_sum(struct metrics *dst, const struct metrics *src)
{
#define METRICS_SUM_(name, help) METRICS_ADD(dst->name, METRICS_GET(src->name));
    METRICS_COUNTERS(METRICS_SUM_)
#undef METRICS_SUM_
    for (size_t t = 0; t < MREQ__COUNT; t++) {
        for (size_t c = 0; c < METRICS_CODES; c++) {
            METRICS_ADD(dst->requests[t][c], METRICS_GET(src->requests[t][c]));
        }
    }
    for (size_t s = 0; s < METRICS_STATUSES; s++) {
        METRICS_ADD(dst->value_statuses[s], METRICS_GET(src->value_statuses[s]));
    }
    METRICS_ADD(dst->inflight, METRICS_GET(src->inflight));
    METRICS_ADD(dst->redis_connected, METRICS_GET(src->redis_connected));
    /* a gauge of the same map in every worker: the largest, not the sum */
    if (METRICS_GET(src->redis_nodes) > METRICS_GET(dst->redis_nodes)) {
        METRICS_SET(dst->redis_nodes, METRICS_GET(src->redis_nodes));
    }
    for (size_t k = 0; k < METRICS_REDIRECT_KINDS; k++) {
        METRICS_ADD(dst->redis_redirects[k], METRICS_GET(src->redis_redirects[k]));
    }
    metrics_hist_sum(&dst->request_latency, &src->request_latency);
    metrics_hist_sum(&dst->redis_latency, &src->redis_latency);
    for (size_t i = 0; i < MPHASE__COUNT; i++) {
        metrics_hist_sum(&dst->phase[i], &src->phase[i]);
        metrics_hist_sum(&dst->slow_phase[i], &src->slow_phase[i]);
    }
    for (size_t c = 0; c < 2; c++) {
        METRICS_ADD(dst->lookup_coverage[c], METRICS_GET(src->lookup_coverage[c]));
    }
    metrics_view_sum(dst->views, src->views, metrics_view_count());
}
