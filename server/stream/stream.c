/*
 * stream.c — the stream consumer thread's lifecycle and loop (contract in
 * stream.h).
 */
#include "stream/stream.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config/registry.h"
#include "core/log.h"
#include "core/util.h"
#include "redis/rbcluster.h"
#include "redis/rbconf.h"
#include "stream/stream_stats.h"
#include "stream/stream_view.h"

#define STREAM_BLOCK_ONE_MS 200     /* XREADGROUP BLOCK with one stream view */
#define STREAM_BLOCK_MANY_MS 10     /* ... with several (each blocks in turn) */
#define STREAM_BACKOFF_MIN_US 100000
#define STREAM_BACKOFF_MAX_US 5000000
#define STREAM_IDLE_US 1000000      /* no stream view: look again after this */

static pthread_t stream_thread;
static bool stream_started;
static atomic_bool stream_stop_flag;
static pthread_mutex_t stream_lock = PTHREAD_MUTEX_INITIALIZER;
static struct registry *stream_reg;     /* guarded by stream_lock */
static char stream_consumer[300];

/* Sleeps us microseconds in slices, returning early on stop. */
static void stream_sleep(int64_t us)
{
    int64_t until = util_mono_us() + us;
    while (!atomic_load(&stream_stop_flag)) {
        int64_t left = until - util_mono_us();
        if (left <= 0) {
            return;
        }
        struct timespec ts = { 0, (left > 50000 ? 50000 : left) * 1000 };
        nanosleep(&ts, NULL);
    }
}

/* The consumers of reg's stream views (*n of them); NULL with *n 0 when none
 * (or out of memory: logged). */
static struct stream_view **stream_views_new(const struct registry *reg, size_t *n)
{
    const struct featd_config *cfg = reg->cfg;
    *n = 0;
    size_t want = 0;
    for (size_t i = 0; i < cfg->nviews; i++) {
        want += cfg->views[i].stream_key != NULL;
    }
    if (want == 0) {
        return NULL;
    }
    struct stream_view **vs = calloc(want, sizeof(*vs));
    for (size_t i = 0; vs != NULL && i < cfg->nviews; i++) {
        if (cfg->views[i].stream_key == NULL) {
            continue;
        }
        vs[*n] = stream_view_new(cfg, &cfg->views[i], stream_consumer);
        if (vs[*n] == NULL) {
            break;
        }
        stream_stats_lag(cfg->views[i].metrics_slot, -1);
        (*n)++;
    }
    if (vs == NULL || *n < want) {
        log_error("stream", "out of memory; the stream views are not consumed");
        for (size_t i = 0; vs != NULL && i < *n; i++) {
            stream_view_free(vs[i]);
        }
        free(vs);
        *n = 0;
        return NULL;
    }
    return vs;
}

static void stream_views_free(struct stream_view **vs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        stream_view_free(vs[i]);
    }
    free(vs);
}

static void *stream_main(void *arg)
{
    (void)arg;
    struct registry *reg = NULL;
    struct stream_view **vs = NULL;
    size_t nv = 0;
    struct rbcluster *c = NULL;
    int64_t backoff = STREAM_BACKOFF_MIN_US;
    struct log_limit ll = { 0 };
    while (!atomic_load(&stream_stop_flag)) {
        pthread_mutex_lock(&stream_lock);
        if (reg != stream_reg) {
            stream_views_free(vs, nv);
            vs = NULL;
            nv = 0;
            registry_unref(reg);
            reg = registry_ref(stream_reg);
            rbcluster_free(c);          /* the Redis settings may have changed */
            c = NULL;
            vs = stream_views_new(reg, &nv);
        }
        pthread_mutex_unlock(&stream_lock);
        if (nv == 0) {
            stream_sleep(STREAM_IDLE_US);
            continue;
        }
        char err[512];
        if (c == NULL) {
            c = rbconf_connect(reg->cfg, err, sizeof err);
            if (c == NULL) {
                uint64_t skipped;
                if (log_limit_take(&ll, 1, util_mono_us(), &skipped)) {
                    log_warn("stream", "cannot connect to Redis: %s (retrying)", err);
                }
                for (size_t i = 0; i < nv; i++) {
                    vs[i]->group_ready = false;
                }
                stream_sleep(backoff);
                backoff = backoff * 2 > STREAM_BACKOFF_MAX_US ? STREAM_BACKOFF_MAX_US : backoff * 2;
                continue;
            }
            int block = nv == 1 ? STREAM_BLOCK_ONE_MS : STREAM_BLOCK_MANY_MS;
            rbcluster_set_timeout(c, rbconf_bulk_timeout_ms(reg->cfg) + block);
        }
        bool failed = false;
        for (size_t i = 0; i < nv && !atomic_load(&stream_stop_flag); i++) {
            int block = nv == 1 ? STREAM_BLOCK_ONE_MS : STREAM_BLOCK_MANY_MS;
            if (stream_view_round(vs[i], c, block, err, sizeof err) < 0) {
                uint64_t skipped;
                if (log_limit_take(&ll, 1, util_mono_us(), &skipped)) {
                    log_warn("stream", "view %s (%s): %s", vs[i]->v->name, vs[i]->v->stream_key, err);
                }
                stream_view_note_error(vs[i], c, err);
                failed = true;
                break;
            }
        }
        if (failed) {
            /* a fresh client: it may have been a failover or a dead link */
            rbcluster_free(c);
            c = NULL;
            for (size_t i = 0; i < nv; i++) {
                vs[i]->group_ready = false;
                vs[i]->backlog_done = false;
            }
            stream_sleep(backoff);
            backoff = backoff * 2 > STREAM_BACKOFF_MAX_US ? STREAM_BACKOFF_MAX_US : backoff * 2;
        } else {
            backoff = STREAM_BACKOFF_MIN_US;
        }
    }
    rbcluster_free(c);
    stream_views_free(vs, nv);
    registry_unref(reg);
    log_info("stream", "stopped");
    return NULL;
}

int stream_start(struct registry *reg, char *err, size_t errlen)
{
    char host[256] = "localhost";
    if (gethostname(host, sizeof host) != 0) {
        util_strlcpy(host, "localhost", sizeof host);
    }
    host[sizeof host - 1] = '\0';
    const char *listen = reg->cfg->server.listen;
    const char *port = listen ? strrchr(listen, ':') : NULL;
    snprintf(stream_consumer, sizeof stream_consumer, "featd@%s:%s", host, port ? port + 1 : "0");
    pthread_mutex_lock(&stream_lock);
    stream_reg = registry_ref(reg);
    pthread_mutex_unlock(&stream_lock);
    atomic_store(&stream_stop_flag, false);
    if (pthread_create(&stream_thread, NULL, stream_main, NULL) != 0) {
        pthread_mutex_lock(&stream_lock);
        registry_unref(stream_reg);
        stream_reg = NULL;
        pthread_mutex_unlock(&stream_lock);
        util_seterr(err, errlen, "cannot start the stream consumer thread");
        return FEATD_ERR;
    }
    stream_started = true;
    return FEATD_OK;
}

void stream_set_registry(struct registry *reg)
{
    if (!stream_started) {
        return;
    }
    pthread_mutex_lock(&stream_lock);
    struct registry *old = stream_reg;
    stream_reg = registry_ref(reg);
    pthread_mutex_unlock(&stream_lock);
    registry_unref(old);
}

void stream_stop(void)
{
    atomic_store(&stream_stop_flag, true);
}

void stream_join(void)
{
    if (!stream_started) {
        return;
    }
    pthread_join(stream_thread, NULL);
    stream_started = false;
    pthread_mutex_lock(&stream_lock);
    registry_unref(stream_reg);
    stream_reg = NULL;
    pthread_mutex_unlock(&stream_lock);
}
