/*
 * metrics_view.h — per feature view metric series (labels {view="..."}):
 * value statuses, value age, pushed rows and their event age (DESIGN §11,
 * §12). A view's series live in a slot: slots are handed out by view name,
 * process-wide, once (a view keeps its slot across reloads; a removed view
 * keeps its series, counters never go back). At most METRICS_MAX_VIEWS
 * names get a slot; later ones have none (slot -1, their per-view series
 * are not kept) and each refused name is counted
 * (featd_metrics_view_slots_exhausted_total).
 *
 * The series themselves are a struct metrics_view array inside each
 * worker's struct metrics (core/metrics.h): the worker is their only
 * writer, readers sum workers like any other metric.
 */
#ifndef FEATD_METRICS_VIEW_H
#define FEATD_METRICS_VIEW_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define METRICS_MAX_VIEWS 256

/* Age histogram buckets: upper bounds in seconds (value age: now - event
 * time of a served row; write event age: now - event time of a pushed
 * row); the last bucket is +Inf. */
#define METRICS_AGE_BUCKETS(ACTION) \
    ACTION(1) ACTION(10) ACTION(60) ACTION(300) ACTION(900) ACTION(1800) ACTION(3600) \
    ACTION(7200) ACTION(21600) ACTION(43200) ACTION(86400) ACTION(172800) ACTION(604800) \
    ACTION(2592000)
#define METRICS_AGE_BUCKET_COUNT_(x) +1
#define METRICS_AGE_NBUCKETS (0 METRICS_AGE_BUCKETS(METRICS_AGE_BUCKET_COUNT_) + 1)
extern const uint64_t metrics_age_bounds_s[METRICS_AGE_NBUCKETS - 1];

/* featd_push_rows_total{view,result} */
enum metrics_push_result {
    MPUSH_WRITTEN = 0,
    MPUSH_STALE,
    MPUSH_REJECTED,
    MPUSH__COUNT
};
extern const char *const metrics_push_result_names[MPUSH__COUNT];

struct metrics_age_hist {
    _Atomic uint64_t buckets[METRICS_AGE_NBUCKETS];  /* non-cumulative counts */
    _Atomic uint64_t sum_ms;
    _Atomic uint64_t count;
};

#define METRICS_VIEW_STATUSES 5     /* = METRICS_STATUSES (featd.v1.FieldStatus) */

struct metrics_view {
    _Atomic uint64_t values[METRICS_VIEW_STATUSES];  /* featd_lookup_values_total{view,status} */
    _Atomic uint64_t push_rows[MPUSH__COUNT];        /* featd_push_rows_total{view,result} */
    struct metrics_age_hist value_age;               /* featd_value_age_seconds{view} */
    struct metrics_age_hist write_event_age;         /* featd_write_event_age_seconds{view} */
};

/* The slot of the view called name, handed out at its first call; -1 when
 * every slot is taken. Any thread (a mutex; the main thread calls it when a
 * configuration is loaded, never the request path). */
int metrics_view_slot(const char *name);

/* Slots handed out so far, and a slot's view name (valid for the life of
 * the process). Any thread, lock-free. */
size_t metrics_view_count(void);
const char *metrics_view_name(size_t slot);

/* Names refused a slot because all METRICS_MAX_VIEWS were taken. */
uint64_t metrics_view_slots_exhausted(void);

/* Counts one age of age_ms milliseconds (negative: 0) into h. Only h's
 * owner calls it. */
void metrics_age_observe(struct metrics_age_hist *h, int64_t age_ms);

/* Adds the first n slots of src into dst. */
void metrics_view_sum(struct metrics_view *dst, const struct metrics_view *src, size_t n);

#endif
