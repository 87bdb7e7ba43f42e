/*
 * metrics_view.c — the process-wide table of per-view metric slots and the
 * age histograms (contract in metrics_view.h).
 */
#include "core/metrics_view.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/metrics_ops.h"

#define METRICS_AGE_BOUND_(x) x,
const uint64_t metrics_age_bounds_s[METRICS_AGE_NBUCKETS - 1] = {
    METRICS_AGE_BUCKETS(METRICS_AGE_BOUND_)
};
#undef METRICS_AGE_BOUND_

const char *const metrics_push_result_names[MPUSH__COUNT] = { "written", "stale", "rejected" };

static pthread_mutex_t metrics_view_lock = PTHREAD_MUTEX_INITIALIZER;
static char *metrics_view_names[METRICS_MAX_VIEWS];
static _Atomic size_t metrics_view_n;
static _Atomic uint64_t metrics_view_exhausted;

int metrics_view_slot(const char *name)
{
    pthread_mutex_lock(&metrics_view_lock);
    size_t n = atomic_load_explicit(&metrics_view_n, memory_order_relaxed);
    int slot = -1;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(metrics_view_names[i], name) == 0) {
            slot = (int)i;
            break;
        }
    }
    if (slot < 0 && n < METRICS_MAX_VIEWS) {
        char *copy = strdup(name);
        if (copy != NULL) {
            metrics_view_names[n] = copy;
            /* the name is visible before the count that covers it */
            atomic_store_explicit(&metrics_view_n, n + 1, memory_order_release);
            slot = (int)n;
        }
    }
    if (slot < 0) {
        atomic_fetch_add_explicit(&metrics_view_exhausted, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&metrics_view_lock);
    return slot;
}

size_t metrics_view_count(void)
{
    return atomic_load_explicit(&metrics_view_n, memory_order_acquire);
}

const char *metrics_view_name(size_t slot)
{
    return slot < metrics_view_count() ? metrics_view_names[slot] : NULL;
}

uint64_t metrics_view_slots_exhausted(void)
{
    return atomic_load_explicit(&metrics_view_exhausted, memory_order_relaxed);
}

void metrics_age_observe(struct metrics_age_hist *h, int64_t age_ms)
{
    uint64_t ms = age_ms > 0 ? (uint64_t)age_ms : 0;
    size_t i = 0;
    while (i < METRICS_AGE_NBUCKETS - 1 && ms > metrics_age_bounds_s[i] * 1000) {
        i++;
    }
    METRICS_INC(h->buckets[i]);
    METRICS_ADD(h->sum_ms, ms);
    METRICS_INC(h->count);
}

static void metrics_age_sum(struct metrics_age_hist *d, const struct metrics_age_hist *s)
{
    for (size_t i = 0; i < METRICS_AGE_NBUCKETS; i++) {
        METRICS_ADD(d->buckets[i], METRICS_GET(s->buckets[i]));
    }
    METRICS_ADD(d->sum_ms, METRICS_GET(s->sum_ms));
    METRICS_ADD(d->count, METRICS_GET(s->count));
}

void metrics_view_sum(struct metrics_view *dst, const struct metrics_view *src, size_t n)
{
    for (size_t v = 0; v < n && v < METRICS_MAX_VIEWS; v++) {
        for (size_t s = 0; s < METRICS_VIEW_STATUSES; s++) {
            METRICS_ADD(dst[v].values[s], METRICS_GET(src[v].values[s]));
        }
        for (size_t r = 0; r < MPUSH__COUNT; r++) {
            METRICS_ADD(dst[v].push_rows[r], METRICS_GET(src[v].push_rows[r]));
        }
        metrics_age_sum(&dst[v].value_age, &src[v].value_age);
        metrics_age_sum(&dst[v].write_event_age, &src[v].write_event_age);
    }
}
