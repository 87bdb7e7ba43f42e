/*
 * materializer.c — the materializer thread (polls every view with a source
 * on its schedule) and the one-shot entry of `featd materialize` (contract
 * in materializer.h; the user-facing description is docs/materializer.md).
 * A poll is mat_poll.c, a run mat_run.c, its passes mat_pass.c.
 *
 *   poll (every interval_seconds, per view)
 *     ├─ mat_discover(source.path) ─► newest complete snapshot / new files
 *     ├─ progress hash says it is applied already ─► unchanged (no writes)
 *     ├─ lease (SET NX PX) ─► held elsewhere ─► busy, retry later
 *     └─ run
 *        snapshot:    pass 1  open + schema-check every file, read keys and
 *                             timestamps, latest row per entity (mat_select)
 *                     pass 2  re-read, write the winners into a NEW
 *                             generation (pipelined SET), file by file,
 *                             recording pending_files_done
 *                     flip    renew lease, SET current G GET (atomic)
 *                     reclaim UNLINK the previous generation
 *        incremental: per new file: pass 1 + pass 2 with last-write-wins
 *                     upserts into the view's generation, then its done
 *                     marker in the files hash
 *
 * Nothing a reader can see changes before the flip, so a failure (or
 * kill -9) at any point leaves the old generation serving; the next run
 * reuses the pending generation of the same snapshot (skipping the files
 * already written) or reclaims it. Failures (Redis, I/O, a file changing
 * while read) are retried with backoff; rejections (schema, corrupt or
 * empty files) are recorded with the snapshot's identity and not retried
 * until the snapshot or the view's config changes.
 */
#include "materialize/materializer.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "config/registry.h"
#include "core/log.h"
#include "materialize/mat_ctx.h"
#include "materialize/mat_poll.h"
#include "materialize/mat_stats.h"

#define MAT_NICE 10                     /* the thread's nice value (serving first) */

/* ---- the thread ---- */

static pthread_t mat_thread;
static bool mat_started;
static _Atomic int mat_stop_flag;
static pthread_mutex_t mat_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t mat_cond = PTHREAD_COND_INITIALIZER;
static struct registry *mat_reg;        /* guarded by mat_lock */

/* Polls every view of cfg that is due; returns when the next one is due
 * (monotonic µs, at most a second ahead). */
static int64_t poll_due_views(struct mat_ctx *x, const struct featd_config *cfg)
{
    int64_t next = util_mono_us() + 1000000;
    for (size_t i = 0; i < cfg->nviews && !atomic_load(&mat_stop_flag); i++) {
        const struct cfg_view *v = &cfg->views[i];
        if (v->source_path == NULL) {
            continue;
        }
        int64_t due = mat_stats_due(v->name);
        if (util_mono_us() < due) {
            if (due < next) {
                next = due;
            }
            continue;
        }
        char msg[1536];
        int r = mat_poll_view(x, v, msg, sizeof(msg));
        mat_ctx_trim(x);
        int64_t nd = mat_stats_schedule(v->name, r, v->mat_interval_seconds * 1000000);
        if (nd != 0 && nd < next) {
            next = nd;
        }
    }
    return next;
}

/* Sleeps until next (monotonic µs), a new registry, or stop. */
static void sleep_until(int64_t next, const struct registry *reg)
{
    pthread_mutex_lock(&mat_lock);
    int64_t wait = next - util_mono_us();
    if (wait > 0 && !atomic_load(&mat_stop_flag) && reg == mat_reg) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = (int64_t)ts.tv_nsec + (wait % 1000000) * 1000;
        ts.tv_sec += (time_t)(wait / 1000000 + ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
        pthread_cond_timedwait(&mat_cond, &mat_lock, &ts);
    }
    pthread_mutex_unlock(&mat_lock);
}

/* The materializer thread: polls the views of the current registry until
 * stopped; a new registry (reload) gets a fresh context. */
static void *mat_main(void *arg)
{
    (void)arg;
    struct registry *reg = NULL;
    struct mat_ctx x;
    bool have_ctx = false;
    /* background work: let the serving threads win the CPU (Linux nice
     * values are per thread) */
    if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), MAT_NICE) != 0) {
        log_debug("materializer", "cannot lower the thread priority: %s", strerror(errno));
    }
    while (!atomic_load(&mat_stop_flag)) {
        pthread_mutex_lock(&mat_lock);
        if (reg != mat_reg) {
            if (have_ctx) {
                mat_ctx_free(&x);
                have_ctx = false;
            }
            if (reg) {
                registry_unref(reg);
            }
            reg = registry_ref(mat_reg);
        }
        pthread_mutex_unlock(&mat_lock);
        const struct featd_config *cfg = reg->cfg;
        if (!have_ctx) {
            if (mat_ctx_init(&x, cfg, false, &mat_stop_flag) != FEATD_OK) {
                log_error("materializer", "out of memory; materializer stopped");
                break;
            }
            have_ctx = true;
            mat_stats_mark_live(cfg);
        }
        sleep_until(poll_due_views(&x, cfg), reg);
    }
    if (have_ctx) {
        mat_ctx_free(&x);
    }
    if (reg) {
        registry_unref(reg);
    }
    log_info("materializer", "stopped");
    return NULL;
}

int materializer_start(struct registry *reg, char *err, size_t errlen)
{
    if (mat_started) {
        return FEATD_OK;
    }
    pthread_mutex_lock(&mat_lock);
    mat_reg = registry_ref(reg);
    pthread_mutex_unlock(&mat_lock);
    atomic_store(&mat_stop_flag, 0);
    if (pthread_create(&mat_thread, NULL, mat_main, NULL) != 0) {
        snprintf(err, errlen, "cannot start the materializer thread");
        pthread_mutex_lock(&mat_lock);
        registry_unref(mat_reg);
        mat_reg = NULL;
        pthread_mutex_unlock(&mat_lock);
        return FEATD_ERR;
    }
    mat_started = true;
    size_t n = 0;
    for (size_t i = 0; i < reg->cfg->nviews; i++) {
        n += reg->cfg->views[i].source_path != NULL;
    }
    log_info("materializer", "started: %zu of %zu feature views have a source", n,
             reg->cfg->nviews);
    return FEATD_OK;
}

void materializer_set_registry(struct registry *reg)
{
    if (!mat_started) {
        return;
    }
    pthread_mutex_lock(&mat_lock);
    struct registry *old = mat_reg;
    mat_reg = registry_ref(reg);
    pthread_cond_signal(&mat_cond);
    pthread_mutex_unlock(&mat_lock);
    if (old) {
        registry_unref(old);
    }
}

void materializer_stop(void)
{
    if (!mat_started) {
        return;
    }
    atomic_store(&mat_stop_flag, 1);
    pthread_mutex_lock(&mat_lock);
    pthread_cond_signal(&mat_cond);
    pthread_mutex_unlock(&mat_lock);
}

void materializer_join(void)
{
    if (!mat_started) {
        return;
    }
    materializer_stop();
    pthread_join(mat_thread, NULL);
    mat_started = false;
    pthread_mutex_lock(&mat_lock);
    if (mat_reg) {
        registry_unref(mat_reg);
        mat_reg = NULL;
    }
    pthread_mutex_unlock(&mat_lock);
}

/* ---- one-shot ---- */

int materializer_run_once(const struct featd_config *cfg, const char *view_name, FILE *out)
{
    if (view_name != NULL) {
        const struct cfg_view *v = config_find_view(cfg, view_name);
        if (v == NULL) {
            fprintf(out, "featd materialize: unknown feature view \"%s\"\n", view_name);
            return 2;
        }
        if (v->source_path == NULL) {
            fprintf(out, "featd materialize: feature view \"%s\" has no source\n", view_name);
            return 2;
        }
    }
    struct mat_ctx x;
    if (mat_ctx_init(&x, cfg, true, NULL) != FEATD_OK) {
        fprintf(out, "featd materialize: out of memory\n");
        return 1;
    }
    int status = 0;
    size_t ran = 0;
    for (size_t i = 0; i < cfg->nviews; i++) {
        const struct cfg_view *v = &cfg->views[i];
        if (v->source_path == NULL || (view_name && strcmp(v->name, view_name) != 0)) {
            continue;
        }
        char msg[1536];
        int r = mat_poll_view(&x, v, msg, sizeof(msg));
        fprintf(out, "%s: %s\n", v->name, msg);
        fflush(out);
        ran++;
        if (r != MR_APPLIED && r != MR_UNCHANGED) {
            status = 1;
        }
    }
    if (ran == 0) {
        fprintf(out, "featd materialize: no feature view has a source\n");
    }
    mat_ctx_free(&x);
    return status;
}

