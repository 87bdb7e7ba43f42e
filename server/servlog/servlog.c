/*
 * servlog.c — the serving log's writer thread and its lifecycle (contract
 * in servlog.h). The thread drains the queue into a batch buffer and
 * appends it to the file (rotating at max_bytes), then sleeps up to
 * SERVLOG_IDLE_MS; producers never wake it (that would take a lock or a
 * syscall on the request path). Its settings change only under S.mu, taken
 * by the main thread (servlog_apply, servlog_stop) and the writer.
 */
#include "servlog/servlog.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "core/fbuf.h"
#include "core/log.h"
#include "core/prom.h"
#include "core/util.h"
#include "servlog/servlog_file.h"
#include "servlog/servlog_queue.h"

#define SERVLOG_IDLE_MS 10
#define SERVLOG_BATCH_BYTES (256u * 1024)

_Thread_local uint64_t servlog_rng_state;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool started;               /* main thread only */
    bool stop;                  /* under mu */
    bool reconfig;              /* under mu: path/max_bytes/keep below are new */
    char *path;                 /* under mu: NULL = no log (lines dropped) */
    uint64_t max_bytes;
    int keep;
    struct servlog_queue q;
    _Atomic bool running;       /* the queue exists: producers may push */
    _Atomic uint64_t lines;     /* written */
    _Atomic uint64_t lost;      /* dropped outside the queue: not running, write failed */
} S = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

uint64_t servlog_rng_seed(void)
{
    uint64_t s = (uint64_t)util_mono_us() * 0x9E3779B97F4A7C15ULL ^ (uint64_t)(uintptr_t)&servlog_rng_state;
    s ^= (uint64_t)util_now_us() << 17;
    servlog_rng_state = s ? s : 0x853c49e6748fea9bULL;
    return servlog_rng_state;
}

void servlog_submit(char *line, size_t len)
{
    if (line == NULL || !atomic_load_explicit(&S.running, memory_order_acquire)) {
        free(line);
        atomic_fetch_add_explicit(&S.lost, 1, memory_order_relaxed);
        return;
    }
    (void)servlog_queue_push(&S.q, line, len);
}

uint64_t servlog_lines_total(void)
{
    return atomic_load_explicit(&S.lines, memory_order_relaxed);
}

uint64_t servlog_dropped_total(void)
{
    return atomic_load_explicit(&S.lost, memory_order_relaxed) +
           (atomic_load_explicit(&S.running, memory_order_acquire)
                ? atomic_load_explicit(&S.q.dropped, memory_order_relaxed) : 0);
}

int servlog_write_metrics(struct fbuf *out, void *arg)
{
    (void)arg;
    if (prom_scalar(out, "featd_serving_log_lines_total", "counter",
                    "Sampled lookups written to the serving log", "%" PRIu64,
                    servlog_lines_total()) != FEATD_OK ||
        prom_scalar(out, "featd_serving_log_dropped_total", "counter",
                    "Sampled lookups not logged: queue full, or the file could not be written",
                    "%" PRIu64, servlog_dropped_total()) != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    return FEATD_OK;
}

/* ---- the writer thread ---- */

struct servlog_writer {
    struct servlog_file f;
    bool have_file;             /* f holds a path (it may still fail to open) */
    char *batch;
    size_t blen;
    uint64_t blines;
    struct log_limit limit;
};

static void servlog_warn(struct servlog_writer *w, const char *why)
{
    uint64_t skipped;
    if (log_limit_take(&w->limit, 1, util_mono_us(), &skipped)) {
        log_warn("servlog", "%s; lines are dropped (%" PRIu64 " more messages suppressed)", why, skipped);
    }
}

static void servlog_flush(struct servlog_writer *w)
{
    if (w->blen == 0) {
        return;
    }
    char err[512];
    if (servlog_file_write(&w->f, w->batch, w->blen, err, sizeof(err)) != FEATD_OK) {
        atomic_fetch_add_explicit(&S.lost, w->blines, memory_order_relaxed);
        servlog_warn(w, err);
    } else {
        atomic_fetch_add_explicit(&S.lines, w->blines, memory_order_relaxed);
    }
    w->blen = 0;
    w->blines = 0;
}

/* Writes every queued line; returns how many were taken. */
static size_t servlog_drain(struct servlog_writer *w)
{
    char *line;
    size_t len, n = 0;
    while (servlog_queue_pop(&S.q, &line, &len)) {
        n++;
        if (!w->have_file) {
            atomic_fetch_add_explicit(&S.lost, 1, memory_order_relaxed);
        } else if (len > SERVLOG_BATCH_BYTES) {
            servlog_flush(w);
            char err[512];
            if (servlog_file_write(&w->f, line, len, err, sizeof(err)) != FEATD_OK) {
                atomic_fetch_add_explicit(&S.lost, 1, memory_order_relaxed);
                servlog_warn(w, err);
            } else {
                atomic_fetch_add_explicit(&S.lines, 1, memory_order_relaxed);
            }
        } else {
            /* a batch never crosses the rotation point: the line that would
             * cross it starts the next batch (whose write rotates first) */
            if (w->blen + len > SERVLOG_BATCH_BYTES ||
                (w->blen > 0 && w->f.size + w->blen + len > w->f.max_bytes)) {
                servlog_flush(w);
            }
            memcpy(w->batch + w->blen, line, len);
            w->blen += len;
            w->blines++;
        }
        free(line);
    }
    servlog_flush(w);
    return n;
}

/* Takes the new settings (under S.mu) and reopens the file. */
static void servlog_reopen(struct servlog_writer *w)
{
    if (w->have_file) {
        servlog_file_free(&w->f);
        w->have_file = false;
    }
    if (S.path != NULL) {
        char err[512];
        servlog_file_init(&w->f, S.path, S.max_bytes, S.keep);
        w->have_file = true;
        if (servlog_file_open(&w->f, err, sizeof(err)) != FEATD_OK) {
            servlog_warn(w, err);   /* retried at the next write */
        }
    }
    S.reconfig = false;
}

static void *servlog_main(void *arg)
{
    (void)arg;
    struct servlog_writer w;
    memset(&w, 0, sizeof(w));
    w.f.fd = -1;
    w.batch = malloc(SERVLOG_BATCH_BYTES);
    if (w.batch == NULL) {
        log_error("servlog", "out of memory: the serving log is off");
    }
    pthread_mutex_lock(&S.mu);
    for (;;) {
        if (S.reconfig) {
            servlog_reopen(&w);
        }
        bool stop = S.stop;
        pthread_mutex_unlock(&S.mu);
        size_t n = w.batch ? servlog_drain(&w) : 0;
        pthread_mutex_lock(&S.mu);
        if (n > 0 || S.reconfig) {
            continue;
        }
        if (stop) {
            break;
        }
        if (!S.stop) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += SERVLOG_IDLE_MS * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            (void)pthread_cond_timedwait(&S.cv, &S.mu, &ts);
        }
    }
    pthread_mutex_unlock(&S.mu);
    if (w.have_file) {
        servlog_file_free(&w.f);
    }
    free(w.batch);
    return NULL;
}

int servlog_apply(const struct featd_config *cfg, char *err, size_t errlen)
{
    const struct cfg_serving_log *c = &cfg->serving_log;
    if (!S.started && !c->enabled) {
        return FEATD_OK;
    }
    pthread_mutex_lock(&S.mu);
    free(S.path);
    S.path = c->enabled ? util_xstrdup(c->path) : NULL;
    S.max_bytes = c->max_bytes;
    S.keep = c->keep;
    S.reconfig = true;
    pthread_cond_signal(&S.cv);
    pthread_mutex_unlock(&S.mu);
    if (S.started) {
        return FEATD_OK;
    }
    if (servlog_queue_init(&S.q, SERVLOG_QUEUE_SLOTS, SERVLOG_QUEUE_MAX_BYTES) != FEATD_OK) {
        snprintf(err, errlen, "serving log: out of memory");
        return FEATD_ERR;
    }
    atomic_store_explicit(&S.running, true, memory_order_release);
    int rc = pthread_create(&S.thread, NULL, servlog_main, NULL);
    if (rc != 0) {
        atomic_store_explicit(&S.running, false, memory_order_release);
        servlog_queue_free(&S.q);
        snprintf(err, errlen, "serving log: cannot start its thread: %s", strerror(rc));
        return FEATD_ERR;
    }
    S.started = true;
    return FEATD_OK;
}

void servlog_stop(void)
{
    if (!S.started) {
        return;
    }
    pthread_mutex_lock(&S.mu);
    S.stop = true;
    pthread_cond_signal(&S.cv);
    pthread_mutex_unlock(&S.mu);
    pthread_join(S.thread, NULL);
    S.started = false;
    /* lines a late producer queued are counted as dropped, not leaked */
    uint64_t left = 0;
    char *line;
    size_t len;
    while (servlog_queue_pop(&S.q, &line, &len)) {
        free(line);
        left++;
    }
    atomic_store_explicit(&S.running, false, memory_order_release);
    atomic_fetch_add_explicit(&S.lost, left + atomic_load(&S.q.dropped), memory_order_relaxed);
    servlog_queue_free(&S.q);
    free(S.path);
    S.path = NULL;
}
