/*
 * metrics_ops.h — how a metric field is written and read: by its one owner
 * thread with a plain relaxed load + store (no lock prefix), by readers
 * with a relaxed load. Shared by core/metrics.h and core/metrics_view.h.
 */
#ifndef FEATD_METRICS_OPS_H
#define FEATD_METRICS_OPS_H

#include <stdatomic.h>

/* Single-writer increment: plain load + store (no lock prefix). */
#define METRICS_ADD(field, n) atomic_store_explicit(&(field), \
    atomic_load_explicit(&(field), memory_order_relaxed) + (n), memory_order_relaxed)
#define METRICS_INC(field) METRICS_ADD(field, 1)
#define METRICS_SET(field, v) atomic_store_explicit(&(field), (v), memory_order_relaxed)
#define METRICS_GET(field) atomic_load_explicit(&(field), memory_order_relaxed)

#endif
