/*
 * stream_stats.c — the stream consumer's counters and gauges (contract in
 * stream_stats.h).
 */
#include "stream/stream_stats.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "core/metrics_view.h"
#include "core/prom.h"

struct metrics stream_metrics;

static _Atomic uint64_t stream_entries[METRICS_MAX_VIEWS][STREAM__RESULTS];
static _Atomic int64_t stream_lag[METRICS_MAX_VIEWS];
static _Atomic bool stream_seen[METRICS_MAX_VIEWS];    /* a stream view: has series */

static const char *const stream_result_names[STREAM__RESULTS] = { "written", "stale", "rejected" };

void stream_stats_count(int slot, enum stream_result r, uint64_t n)
{
    if (slot < 0 || slot >= METRICS_MAX_VIEWS) {
        return;
    }
    atomic_store_explicit(&stream_seen[slot], true, memory_order_relaxed);
    METRICS_ADD(stream_entries[slot][r], n);
}

void stream_stats_lag(int slot, int64_t lag)
{
    if (slot < 0 || slot >= METRICS_MAX_VIEWS) {
        return;
    }
    atomic_store_explicit(&stream_seen[slot], true, memory_order_relaxed);
    atomic_store_explicit(&stream_lag[slot], lag, memory_order_relaxed);
}

int stream_stats_write_metrics(struct fbuf *out, void *arg)
{
    (void)arg;
    size_t n = metrics_view_count();
    bool any = false;
    for (size_t v = 0; v < n; v++) {
        any = any || atomic_load_explicit(&stream_seen[v], memory_order_relaxed);
    }
    if (!any) {
        return FEATD_OK;
    }
    if (prom_header(out, "featd_stream_entries_total", "counter",
                    "Stream entries applied by this consumer, by view and result: written, stale "
                    "(older than the stored pushed row) or rejected (sent to the dead letters)") != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    for (size_t v = 0; v < n; v++) {
        if (!atomic_load_explicit(&stream_seen[v], memory_order_relaxed)) {
            continue;
        }
        for (size_t r = 0; r < STREAM__RESULTS; r++) {
            if (fbuf_appendf(out, "featd_stream_entries_total{view=\"") != FEATD_OK ||
                prom_label(out, metrics_view_name(v)) != FEATD_OK ||
                fbuf_appendf(out, "\",result=\"%s\"} %" PRIu64 "\n", stream_result_names[r],
                             METRICS_GET(stream_entries[v][r])) != FEATD_OK) {
                return FEATD_ENOMEM;
            }
        }
    }
    if (prom_header(out, "featd_stream_lag_entries", "gauge",
                    "Entries of the view's stream not yet delivered to its consumer group (XINFO "
                    "GROUPS lag; -1 while unknown)") != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    for (size_t v = 0; v < n; v++) {
        if (!atomic_load_explicit(&stream_seen[v], memory_order_relaxed)) {
            continue;
        }
        if (fbuf_appendf(out, "featd_stream_lag_entries{view=\"") != FEATD_OK ||
            prom_label(out, metrics_view_name(v)) != FEATD_OK ||
            fbuf_appendf(out, "\"} %" PRId64 "\n",
                         atomic_load_explicit(&stream_lag[v], memory_order_relaxed)) != FEATD_OK) {
            return FEATD_ENOMEM;
        }
    }
    return FEATD_OK;
}
