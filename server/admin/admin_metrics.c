/*
 * admin_metrics.c — GET /metrics: featd's own families (the serving
 * workers' struct metrics summed with the admin thread's, gauges, reload
 * and admin HTTP counters) in the Prometheus text format 0.0.4 written with
 * core/prom.h, then the extra sources registered with
 * admin_metrics_add_source (e.g. the materializer's). The page is built on
 * the admin thread; the reload counters and the source list may be touched
 * from any thread (atomics; a mutex for the list).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "admin/admin.h"
#include "admin/admin_internal.h"
#include "auth/auth.h"
#include "config/config.h"
#include "core/metrics.h"
#include "core/metrics_view.h"
#include "core/prom.h"
#include "core/util.h"
#include "redis/rhealth.h"
#include "redis/rroute.h"

static _Atomic uint64_t admin_reloads_ok;
static _Atomic uint64_t admin_reloads_failed;
static _Atomic int admin_last_reload_ok = 1;

static pthread_mutex_t admin_src_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    admin_metrics_fn fn;
    void *arg;
} admin_srcs[ADMIN_MAX_METRICS_SOURCES];
static int admin_nsrcs;
static const struct metrics *admin_structs[ADMIN_MAX_METRICS_SOURCES];
static int admin_nstructs;

/* featd_worker_connections{worker="N"}: how the serving connections are spread. */
static int admin_metrics_worker_conns(struct fbuf *o)
{
    if (prom_header(o, "featd_worker_connections", "gauge",
                          "Client connections owned by each serving worker") != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    for (int i = 0; i < nworkers; i++) {
        if (fbuf_appendf(o, "featd_worker_connections{worker=\"%d\"} %" PRIu64 "\n", i,
                         (uint64_t)atomic_load(&workers[i].loop.nconns)) != FEATD_OK) {
            return FEATD_ENOMEM;
        }
    }
    return FEATD_OK;
}

/* One histogram family with a phase="..." label per request phase. */
static int admin_metrics_phases(struct fbuf *o, const char *name, const char *help,
                                const struct metrics_hist h[MPHASE__COUNT])
{
    if (prom_header(o, name, "histogram", help) != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    for (size_t i = 0; i < MPHASE__COUNT; i++) {
        char labels[48];
        snprintf(labels, sizeof(labels), "phase=\"%s\",", metrics_phase_names[i]);
        if (prom_hist_samples(o, name, labels, &h[i]) != FEATD_OK) {
            return FEATD_ENOMEM;
        }
    }
    return FEATD_OK;
}

/* view="NAME"<sep> into tmp (NUL-terminated), NAME escaped; false when out of memory. */
static bool admin_metrics_view_label(struct fbuf *tmp, size_t slot, const char *sep)
{
    fbuf_reset(tmp);
    return fbuf_appendf(tmp, "view=\"") == FEATD_OK &&
           prom_label(tmp, metrics_view_name(slot)) == FEATD_OK &&
           fbuf_appendf(tmp, "\"%s", sep) == FEATD_OK;
}

/* The per-view families (core/metrics_view.h), one series per view slot
 * handed out so far, and the request coverage counter. */
static int admin_metrics_views(struct fbuf *o, const struct metrics *sum)
{
    size_t n = metrics_view_count();
    struct fbuf lb = { 0 };
    int rc = FEATD_ENOMEM;
    if (prom_header(o, "featd_lookup_values_total", "counter",
                    "Feature values returned by lookups, by view and featd.v1.FieldStatus") != FEATD_OK) {
        goto out;
    }
    for (size_t v = 0; v < n; v++) {
        if (!admin_metrics_view_label(&lb, v, ",")) {
            goto out;
        }
        for (size_t s = 0; s < METRICS_STATUSES; s++) {
            if (fbuf_appendf(o, "featd_lookup_values_total{%.*sstatus=\"%s\"} %" PRIu64 "\n",
                             (int)lb.len, (const char *)lb.data, metrics_status_names[s],
                             METRICS_GET(sum->views[v].values[s])) != FEATD_OK) {
                goto out;
            }
        }
    }
    if (prom_header(o, "featd_value_age_seconds", "histogram",
                    "Age of each served row (now - its event time), by view") != FEATD_OK) {
        goto out;
    }
    for (size_t v = 0; v < n; v++) {
        if (!admin_metrics_view_label(&lb, v, ",") ||
            prom_age_hist_samples(o, "featd_value_age_seconds", (const char *)lb.data,
                                  &sum->views[v].value_age) != FEATD_OK) {
            goto out;
        }
    }
    if (prom_header(o, "featd_push_rows_total", "counter",
                    "Pushed rows (WriteFeatures, HTTP push and write-to-online-store), by view and result: "
                    "written, stale (older than the stored pushed row) or rejected (invalid)") != FEATD_OK) {
        goto out;
    }
    for (size_t v = 0; v < n; v++) {
        if (!admin_metrics_view_label(&lb, v, ",")) {
            goto out;
        }
        for (size_t r = 0; r < MPUSH__COUNT; r++) {
            if (fbuf_appendf(o, "featd_push_rows_total{%.*sresult=\"%s\"} %" PRIu64 "\n",
                             (int)lb.len, (const char *)lb.data, metrics_push_result_names[r],
                             METRICS_GET(sum->views[v].push_rows[r])) != FEATD_OK) {
                goto out;
            }
        }
    }
    if (prom_header(o, "featd_write_event_age_seconds", "histogram",
                    "Age of each written pushed row at write time (now - its event time), by view") != FEATD_OK) {
        goto out;
    }
    for (size_t v = 0; v < n; v++) {
        if (!admin_metrics_view_label(&lb, v, ",") ||
            prom_age_hist_samples(o, "featd_write_event_age_seconds", (const char *)lb.data,
                                  &sum->views[v].write_event_age) != FEATD_OK) {
            goto out;
        }
    }
    if (prom_header(o, "featd_lookup_coverage_total", "counter",
                    "Lookups by whether every value they returned was PRESENT (complete=\"true\")") != FEATD_OK ||
        fbuf_appendf(o, "featd_lookup_coverage_total{complete=\"false\"} %" PRIu64 "\n"
                        "featd_lookup_coverage_total{complete=\"true\"} %" PRIu64 "\n",
                     METRICS_GET(sum->lookup_coverage[0]), METRICS_GET(sum->lookup_coverage[1])) != FEATD_OK ||
        prom_scalar(o, "featd_metrics_view_slots_exhausted_total", "counter",
                    "Views given no per-view metric series because 256 view names already had one",
                    "%" PRIu64, metrics_view_slots_exhausted()) != FEATD_OK) {
        goto out;
    }
    rc = FEATD_OK;
out:
    fbuf_free(&lb);
    return rc;
}

/* featd's own families; FEATD_OK or an error when out of memory. */
static int admin_metrics_write(struct fbuf *o)
{
    struct metrics sum;
    worker_metrics_snapshot(&sum);
    metrics_sum(&sum, &admin.w.metrics);
    pthread_mutex_lock(&admin_src_lock);
    for (int i = 0; i < admin_nstructs; i++) {
        metrics_sum(&sum, admin_structs[i]);
    }
    pthread_mutex_unlock(&admin_src_lock);
    int rc = FEATD_OK;

#define ADMIN_PROM_COUNTER_(name, help) \
    if (rc == FEATD_OK) { \
        rc = prom_scalar(o, "featd_" #name, "counter", help, "%" PRIu64, METRICS_GET(sum.name)); \
    }
    METRICS_COUNTERS(ADMIN_PROM_COUNTER_)
#undef ADMIN_PROM_COUNTER_
    if (rc != FEATD_OK) {
        return rc;
    }

    if (prom_header(o, "featd_requests_total", "counter",
                          "Requests answered, by type and featd.v1.ErrorCode (OK = success)") != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    for (size_t t = 0; t < MREQ__COUNT; t++) {
        for (size_t c = 0; c < METRICS_CODES; c++) {
            if (fbuf_appendf(o, "featd_requests_total{type=\"%s\",code=\"%s\"} %" PRIu64 "\n",
                             metrics_req_type_names[t], metrics_code_names[c],
                             METRICS_GET(sum.requests[t][c])) != FEATD_OK) {
                return FEATD_ENOMEM;
            }
        }
    }
    if (prom_header(o, "featd_value_status_total", "counter",
                          "Feature values returned by GetOnlineFeatures, by featd.v1.FieldStatus") != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    for (size_t s = 0; s < METRICS_STATUSES; s++) {
        if (fbuf_appendf(o, "featd_value_status_total{status=\"%s\"} %" PRIu64 "\n", metrics_status_names[s],
                         METRICS_GET(sum.value_statuses[s])) != FEATD_OK) {
            return FEATD_ENOMEM;
        }
    }
    if (prom_hist(o, "featd_request_latency_seconds",
                  "Time from the start of handling a request (before decoding) to its answer being ready", &sum.request_latency) != FEATD_OK ||
        prom_hist(o, "featd_redis_latency_seconds", "Redis round trip of the lookup path",
                  &sum.redis_latency) != FEATD_OK ||
        admin_metrics_phases(o, "featd_request_phase_seconds",
                             "Where the time of requests answered on the serving port went, by phase: queued "
                             "(kernel receive timestamp to handling), decode (to the Redis commands sent, or to "
                             "the answer without Redis), redis (commands sent to the last reply), encode (reply "
                             "to answer ready), "
                             "write (answer ready to the flush pass's write(2))", sum.phase) != FEATD_OK ||
        admin_metrics_phases(o, "featd_slow_request_phase_seconds",
                             "featd_request_phase_seconds of slow requests only (phases adding up to "
                             "server.slow_request_ms or more)", sum.slow_phase) != FEATD_OK ||
        admin_metrics_views(o, &sum) != FEATD_OK) {
        return FEATD_ENOMEM;
    }

    int up = 0;
    for (int i = 0; i < nworkers; i++) {
        up += METRICS_GET(workers[i].metrics.redis_connected) != 0;
    }
    uint64_t evicted_since = 0, evicted_total = 0;
    bool evicted_known = rhealth_evicted(&evicted_since, &evicted_total);
    const struct registry *reg = admin.w.reg;
    double uptime = (double)(util_now_us() - worker_shared.start_us) / 1e6;
    if (prom_scalar(o, "featd_connections_open", "gauge", "Client connections open on the serving port",
                    "%" PRId64, (int64_t)atomic_load(&metrics_connections_open)) != FEATD_OK ||
        prom_scalar(o, "featd_client_memory_bytes", "gauge",
                    "Bytes held by client connections' buffers (input, unread output, 1 KiB per "
                    "pending request); bounded by server.max_client_memory_bytes",
                    "%" PRId64, (int64_t)atomic_load(&metrics_client_memory_bytes)) != FEATD_OK ||
        prom_scalar(o, "featd_inflight_requests", "gauge", "Requests waiting on Redis",
                    "%" PRIu64, METRICS_GET(sum.inflight)) != FEATD_OK ||
        prom_scalar(o, "featd_workers", "gauge", "Serving worker threads", "%d", nworkers) != FEATD_OK ||
        admin_metrics_worker_conns(o) != FEATD_OK ||
        prom_scalar(o, "featd_redis_connected", "gauge",
                    "Serving workers whose Redis links to every master are up", "%d", up) != FEATD_OK ||
        prom_scalar(o, "featd_admin_redis_connected", "gauge",
                    "1 when the admin thread's Redis links to every master are up",
                    "%d", rroute_ready(admin.w.redis) ? 1 : 0) != FEATD_OK ||
        prom_scalar(o, "featd_redis_nodes", "gauge",
                    "Redis nodes in the serving workers' topology (cluster masters + replicas; 1 for a "
                    "single node or the Sentinel master; the largest over workers)",
                    "%" PRIu64, METRICS_GET(sum.redis_nodes)) != FEATD_OK ||
        prom_header(o, "featd_redis_redirects_total", "counter",
                    "Cluster redirects followed by featd's lookup and admin threads, by kind (moved: the slot map "
                    "is refreshed; ask: a slot being migrated)") != FEATD_OK ||
        fbuf_appendf(o, "featd_redis_redirects_total{kind=\"%s\"} %" PRIu64 "\n"
                     "featd_redis_redirects_total{kind=\"%s\"} %" PRIu64 "\n",
                     metrics_redirect_names[0], METRICS_GET(sum.redis_redirects[0]),
                     metrics_redirect_names[1], METRICS_GET(sum.redis_redirects[1])) != FEATD_OK ||
        (evicted_known &&
         (prom_scalar(o, "featd_redis_evicted_keys", "gauge",
                      "Redis's INFO evicted_keys at the last check (/readyz, materializer)",
                      "%" PRIu64, evicted_total) != FEATD_OK ||
          prom_scalar(o, "featd_redis_evicted_keys_since_start", "gauge",
                      "Keys Redis evicted since featd started or last reloaded (> 0: /readyz fails)",
                      "%" PRIu64, evicted_since) != FEATD_OK)) ||
        prom_scalar(o, "featd_up", "gauge", "1 while featd runs", "1") != FEATD_OK ||
        prom_header(o, "featd_build_info", "gauge", "featd version (value is always 1)") != FEATD_OK ||
        fbuf_appendf(o, "featd_build_info{version=\"%s\"} 1\n", FEATD_VERSION) != FEATD_OK ||
        prom_scalar(o, "featd_registry_version", "gauge",
                    "Registry version in use (1 at startup, +1 per successful reload)",
                    "%" PRIu64, reg->version) != FEATD_OK ||
        prom_scalar(o, "featd_feature_views", "gauge", "Feature views in the registry",
                    "%zu", reg->cfg->nviews) != FEATD_OK ||
        prom_scalar(o, "featd_start_time_seconds", "gauge", "Start time of the process, seconds since the epoch",
                    "%.3f", (double)worker_shared.start_us / 1e6) != FEATD_OK ||
        prom_scalar(o, "featd_uptime_seconds", "gauge", "Seconds since featd started", "%.3f", uptime) != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    if (prom_header(o, "featd_reloads_total", "counter",
                          "Configuration reloads (SIGHUP), by result") != FEATD_OK ||
        fbuf_appendf(o, "featd_reloads_total{result=\"ok\"} %" PRIu64 "\nfeatd_reloads_total{result=\"failed\"} %"
                     PRIu64 "\n", atomic_load(&admin_reloads_ok), atomic_load(&admin_reloads_failed)) != FEATD_OK ||
        prom_scalar(o, "featd_config_last_reload_successful", "gauge",
                    "1 when the last reload succeeded (or none happened), 0 when it failed",
                    "%d", atomic_load(&admin_last_reload_ok)) != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    if (prom_scalar(o, "featd_admin_connections", "gauge", "Admin HTTP connections open (counted against "
                    "server.admin_max_connections)", "%" PRIu64, admin_conns_open()) != FEATD_OK ||
        prom_scalar(o, "featd_admin_rejected_connections_total", "counter",
                    "Admin HTTP connections refused with 503 (over server.admin_max_connections or near "
                    "the open-file limit)", "%" PRIu64, admin.conns_rejected_total) != FEATD_OK ||
        prom_scalar(o, "featd_admin_not_http_connections_total", "counter",
                    "Admin connections closed because their first bytes were not HTTP (a protobuf "
                    "client on the admin port: answered with an error frame naming the serving port)",
                    "%" PRIu64, admin.conns_not_http_total) != FEATD_OK ||
        prom_scalar(o, "featd_admin_accept_errors_total", "counter",
                    "Failed accept(2) calls on the admin port (EMFILE/ENFILE: accepting pauses 100 ms)",
                    "%" PRIu64, admin.backoff.errors_total) != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    if (prom_header(o, "featd_auth_failures_total", "counter",
                    "Requests refused by token authentication (serving and admin ports), by reason: "
                    "missing (no token), unknown_token, permission_denied (a view outside the "
                    "token's views)") != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    for (int r = 0; r < AUTH_FAIL__COUNT; r++) {
        if (fbuf_appendf(o, "featd_auth_failures_total{reason=\"%s\"} %" PRIu64 "\n",
                         auth_failure_names[r], auth_failures((enum auth_failure)r)) != FEATD_OK) {
            return FEATD_ENOMEM;
        }
    }
    if (prom_scalar(o, "featd_auth_connections_revoked_total", "counter",
                    "Serving connections closed because a reload removed or changed their token",
                    "%" PRIu64, auth_revoked()) != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    if (prom_header(o, "featd_admin_http_requests_total", "counter",
                          "Admin HTTP requests answered by featd, by path and HTTP status") != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    for (size_t p = 0; p < AP__COUNT; p++) {
        for (size_t c = 0; c < ADMIN_NCODES; c++) {
            uint64_t n = admin.http_counts[p][c];
            if (n == 0 && !(c == 0 && p != AP_OTHER)) {
                continue;       /* 200 always shown for real paths; others once seen */
            }
            char code[8];
            if (c < FEATD_ARRAY_LEN(admin_codes)) {
                snprintf(code, sizeof(code), "%d", admin_codes[c]);
            } else {
                snprintf(code, sizeof(code), "other");
            }
            if (fbuf_appendf(o, "featd_admin_http_requests_total{path=\"%s\",code=\"%s\"} %" PRIu64 "\n",
                             admin_path_names[p], code, n) != FEATD_OK) {
                return FEATD_ENOMEM;
            }
        }
    }
    return FEATD_OK;
}

void admin_metrics_page(struct evhttp_request *req)
{
    struct fbuf *o = &admin.page;
    fbuf_reset(o);
    int rc = admin_metrics_write(o);
    pthread_mutex_lock(&admin_src_lock);
    for (int i = 0; i < admin_nsrcs && rc == FEATD_OK; i++) {
        rc = admin_srcs[i].fn(o, admin_srcs[i].arg);
    }
    pthread_mutex_unlock(&admin_src_lock);
    if (rc != FEATD_OK) {
        admin_reply_text(req, AP_METRICS, 500, "out of memory writing metrics");
        return;
    }
    admin_reply(req, AP_METRICS, 200, "text/plain; version=0.0.4; charset=utf-8", o->data, o->len);
}

int admin_metrics_add_struct(const struct metrics *m)
{
    pthread_mutex_lock(&admin_src_lock);
    int rc = FEATD_ERR;
    if (admin_nstructs < ADMIN_MAX_METRICS_SOURCES) {
        admin_structs[admin_nstructs++] = m;
        rc = FEATD_OK;
    }
    pthread_mutex_unlock(&admin_src_lock);
    return rc;
}

int admin_metrics_add_source(admin_metrics_fn fn, void *arg)
{
    int rc = FEATD_ERR;
    pthread_mutex_lock(&admin_src_lock);
    if (fn && admin_nsrcs < ADMIN_MAX_METRICS_SOURCES) {
        admin_srcs[admin_nsrcs].fn = fn;
        admin_srcs[admin_nsrcs].arg = arg;
        admin_nsrcs++;
        rc = FEATD_OK;
    }
    pthread_mutex_unlock(&admin_src_lock);
    return rc;
}


void admin_metrics_note_reload(bool ok)
{
    if (ok) {
        atomic_fetch_add(&admin_reloads_ok, 1);
    } else {
        atomic_fetch_add(&admin_reloads_failed, 1);
    }
    atomic_store(&admin_last_reload_ok, ok ? 1 : 0);
}
