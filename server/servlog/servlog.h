/*
 * servlog.h — the serving log (DESIGN §12): a sampled lookup becomes one
 * JSON line (servlog_line.h) that goes through a bounded lock-free queue
 * (servlog_queue.h) to the log's own writer thread, which appends it to
 * serving_log.path and rotates the file at max_bytes (servlog_file.h).
 *
 * The request path: servlog_sampled (one PRNG draw and a compare; nothing
 * else when the request is not sampled), then for a sampled one the line
 * is built and servlog_submit queues it without locking or blocking; a
 * full queue drops the line and counts it (featd_serving_log_dropped_total,
 * as are lines the writer could not write).
 *
 * Lifecycle (main thread): servlog_apply at start and after every reload
 * (starts the writer thread the first time a config has a serving log;
 * then the new path/max_bytes/keep take effect and the file is reopened;
 * the sample rate is read from each request's registry, so it changes with
 * the registry swap); servlog_stop at shutdown, after the workers are
 * joined: the queue is written out, the file closed, the thread joined.
 */
#ifndef FEATD_SERVLOG_H
#define FEATD_SERVLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/featd.h"

struct featd_config;
struct fbuf;

#define SERVLOG_QUEUE_SLOTS 8192
#define SERVLOG_QUEUE_MAX_BYTES (64u * 1024 * 1024)

/* The calling thread's PRNG state (xorshift64*); 0 until seeded. */
extern _Thread_local uint64_t servlog_rng_state;
/* Seeds the calling thread's PRNG (never to 0); returns the state. */
uint64_t servlog_rng_seed(void);

/* True for a share rate (0..1) of calls: whether this request is logged.
 * Any thread; one draw of the thread's own PRNG. */
static inline bool servlog_sampled(double rate)
{
    if (!(rate > 0)) {
        return false;
    }
    uint64_t x = servlog_rng_state ? servlog_rng_state : servlog_rng_seed();
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    servlog_rng_state = x;
    return (double)((x * 0x2545F4914F6CDD1DULL) >> 11) * 0x1.0p-53 < rate;
}

/* Any thread, never blocks: queues one line (malloc'd, ending in '\n'; the
 * log takes it). Dropped and counted when the queue is full or the log is
 * not running; line NULL counts one dropped line (one that could not be
 * built). */
void servlog_submit(char *line, size_t len);

/* Main thread: applies cfg's serving_log (see above). FEATD_ERR with a
 * reason in err when the writer thread cannot start (a file that cannot be
 * opened is logged and retried at the next line, not an error). */
int servlog_apply(const struct featd_config *cfg, char *err, size_t errlen) FEATD_MUSTCHECK;
/* Main thread, once, after every producer stopped: writes out what is
 * queued, closes the file, joins the thread. Nothing when never started. */
void servlog_stop(void);

/* Lines written and lines dropped (queue full, log not running, write
 * failed), process-wide. Any thread. */
uint64_t servlog_lines_total(void);
uint64_t servlog_dropped_total(void);

/* featd_serving_log_lines_total and featd_serving_log_dropped_total
 * (an admin_metrics_fn, admin/admin.h). Any thread. */
int servlog_write_metrics(struct fbuf *out, void *arg);

#endif
