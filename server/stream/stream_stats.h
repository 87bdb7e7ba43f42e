/*
 * stream_stats.h — what the stream consumer reports: per view (by its
 * metrics slot, core/metrics_view.h) the entries written / stale / rejected
 * and the consumer group's lag, as /metrics families
 * (featd_stream_entries_total{view,result}, featd_stream_lag_entries{view});
 * the age of written rows at write time goes into the stream thread's own
 * struct metrics (featd_write_event_age_seconds, summed with the workers').
 * Written by the stream thread only (relaxed atomics), read by any thread.
 */
#ifndef FEATD_STREAM_STATS_H
#define FEATD_STREAM_STATS_H

#include <stdint.h>

#include "core/fbuf.h"
#include "core/metrics.h"

enum stream_result {
    STREAM_WRITTEN = 0,
    STREAM_STALE,
    STREAM_REJECTED,
    STREAM__RESULTS
};

/* The stream thread's struct metrics (only write_event_age of its views is
 * used); registered with the admin page by main. */
extern struct metrics stream_metrics;

void stream_stats_count(int slot, enum stream_result r, uint64_t n);
/* The group's lag (entries not yet delivered to any consumer); -1 unknown. */
void stream_stats_lag(int slot, int64_t lag);
/* A /metrics source (admin_metrics_add_source): the families above for
 * every view that has counted anything. */
int stream_stats_write_metrics(struct fbuf *out, void *arg);

#endif
