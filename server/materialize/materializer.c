/*
 * materializer.c — offline Parquet snapshots to the online tier (contract
 * in materializer.h; the user-facing description is docs/materializer.md).
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

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "core/log.h"
#include "core/prom.h"
#include "materialize/mat_discover.h"
#include "materialize/mat_state.h"
#include "materialize/mat_read.h"
#include "materialize/mat_select.h"
#include "online/online.h"
#include "parquet/parquet.h"
#include "config/registry.h"
#include "redis/rblock.h"

#define MAT_WRITE_BATCH 2048            /* commands per pipelined flush */
#define MAT_MIN_TIMEOUT_MS 5000         /* floor for the blocking command timeout */
#define MAT_MAX_LOGGED_REJECTS 5        /* row rejections logged per run */
#define MAT_LEASE_WAIT_MS 60000         /* one-shot: wait this long for a lease */
#define MAT_PROGRESS_EVERY_US 1000000   /* pending progress update period */
#define MAT_BACKOFF_MIN_US 1000000
#define MAT_BUSY_RETRY_US 2000000
#define MAT_NICE 10                     /* the thread's nice value (serving first) */
#define MAT_RECLAIM_COUNT 500               /* SCAN COUNT per reclaim round */

enum mat_kind { MK_READ, MK_WRITTEN, MK_EXPIRED, MK_STALE, MK_REJECTED, MK_OUTSIDE, MK__N };
static const char *const kind_names[MK__N] = {
    "read", "written", "skipped_expired", "skipped_stale", "rejected", "outside_max_age"
};

enum mat_result { MR_APPLIED, MR_UNCHANGED, MR_REJECTED, MR_FAILED, MR_BUSY, MR__N, MR_STOPPED };
static const char *const result_names[MR__N] = {
    "applied", "unchanged", "rejected", "failed", "busy"
};

/* ---- process-wide per-view statistics (metrics) and schedule ---- */

struct mat_vstat {
    char name[160];
    uint64_t rows[MK__N];
    uint64_t runs[MR__N];
    int64_t last_success_us;    /* 0 = unknown */
    int64_t max_event_us;       /* INT64_MIN = unknown */
    double duration_s;          /* < 0 = unknown */
    uint64_t generation;
    int up;                     /* -1 unknown */
    bool live;                  /* in the registry last time we looked */
    int64_t next_due_us;        /* monotonic; materializer thread only */
    int64_t backoff_us;
};

static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mat_vstat *stats;
static size_t nstats;

/* Finds or adds the entry of a view (stats_lock held). NULL on OOM. */
static struct mat_vstat *vstat_get(const char *name)
{
    for (size_t i = 0; i < nstats; i++) {
        if (strcmp(stats[i].name, name) == 0) {
            return &stats[i];
        }
    }
    struct mat_vstat *ns = realloc(stats, (nstats + 1) * sizeof(*ns));
    if (ns == NULL) {
        return NULL;
    }
    stats = ns;
    struct mat_vstat *s = &stats[nstats++];
    memset(s, 0, sizeof(*s));
    util_strlcpy(s->name, name, sizeof(s->name));
    s->max_event_us = INT64_MIN;
    s->duration_s = -1;
    s->up = -1;
    s->live = true;
    return s;
}

/* ---- context of one materializing thread / process ---- */

/* One row of the row group being selected: hashed in a first loop (with a
 * prefetch of its table slot), offered in a second. */
struct mat_rowinfo {
    struct mat_hash h;
    int64_t ev, cr;
    int st;                     /* 0 rejected, 1 candidate, 2 expired */
};

struct mat_ctx {
    const struct featd_config *cfg;
    redisContext *c;            /* NULL until connected / after an error */
    struct mat_select sel;
    struct mat_rg rg;
    struct mat_state_update *hs;  /* the progress update being built */
    uint8_t *win;               /* per-row winner flags of a row group */
    size_t cap_win;
    struct mat_rowinfo *ri;     /* per-row hash and times of a row group */
    size_t cap_ri;
    int64_t lease_mono_us;      /* last acquire/renew */
    bool oneshot;
    uint64_t max_rows_per_sec;  /* write pacing, 0 = none */
    _Atomic int *stop;          /* NULL: never stops early */
};

enum run_kind { RUN_OK = 0, RUN_REJECT, RUN_FAIL, RUN_STOP };

struct mat_run {
    const struct cfg_view *v;
    uint64_t rows[MK__N];
    uint64_t entities;
    uint64_t nfiles;
    int64_t max_event_us;
    int64_t started_us, started_mono;
    int64_t progress_mono;
    uint64_t ident;             /* snapshot (or file) identity incl. config */
    char ident_hex[20];
    const char *snap_name;
    size_t logged_rejects;
    uint64_t written_before;    /* writer counters at the start of a file */
    uint64_t reclaim_old;       /* generation replaced by the flip, to delete */
    uint64_t reclaim_leftover;  /* an earlier generation whose delete failed */
    char why[1024];
};

static void run_err(struct mat_run *r, const char *fmt, ...) FEATD_PRINTF(2, 3);

static void run_err(struct mat_run *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof(r->why), fmt, ap);
    va_end(ap);
}

static bool stop_requested(const struct mat_ctx *x)
{
    return x->stop != NULL && atomic_load(x->stop) != 0;
}

static void drop_conn(struct mat_ctx *x)
{
    if (x->c) {
        redisFree(x->c);
        x->c = NULL;
    }
}

static int ensure_conn(struct mat_ctx *x, char *err, size_t errlen)
{
    if (x->c != NULL && x->c->err == 0) {
        return FEATD_OK;
    }
    drop_conn(x);
    x->c = rblock_connect(x->cfg, err, errlen);
    if (x->c == NULL) {
        return FEATD_ERR;
    }
    int ms = x->cfg->redis.timeout_ms;
    if (ms < MAT_MIN_TIMEOUT_MS) {
        ms = MAT_MIN_TIMEOUT_MS;
    }
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    if (redisSetTimeout(x->c, tv) != REDIS_OK) {
        snprintf(err, errlen, "redis: cannot set the command timeout");
        drop_conn(x);
        return FEATD_ERR;
    }
    return FEATD_OK;
}

/* Identity of the view's materialization settings: source, timestamp
 * columns, renames, ttl and mode (the fingerprint covers the schema). */
static uint64_t config_sig(const struct cfg_view *v)
{
    uint64_t h = UTIL_FNV_INIT;
    const char *s[3] = { v->source_path ? v->source_path : "", v->event_ts_column,
                         v->created_ts_column ? v->created_ts_column : "" };
    for (int i = 0; i < 3; i++) {
        h = util_fnv1a(h, s[i], strlen(s[i]) + 1);
    }
    for (size_t i = 0; i < v->nfeatures; i++) {
        h = util_fnv1a(h, v->features[i].column, strlen(v->features[i].column) + 1);
    }
    h = util_fnv1a(h, &v->ttl_seconds, sizeof(v->ttl_seconds));
    int mode = (int)v->mat_mode;
    return util_fnv1a(h, &mode, sizeof(mode));
}

static void hex16(uint64_t x, char *out)
{
    snprintf(out, 20, "%016" PRIx64, x);
}

/* Sends the progress update built in x->hs (emptied also on failure). */
static int progress_send(struct mat_ctx *x, const struct cfg_view *v, char *err, size_t errlen)
{
    return mat_state_send(x->hs, x->c, x->cfg->redis.key_prefix, v, err, errlen);
}

/* Renews the lease when a third of it has passed (or when force). A
 * pipelined writer w (may be NULL) is drained first: no other command may
 * interleave with its replies. */
static int lease_keep(struct mat_ctx *x, struct mat_run *run, bool force,
                      struct online_writer *w)
{
    int64_t now = util_mono_us();
    if (!force && now - x->lease_mono_us < (int64_t)MAT_LEASE_MS * 1000 / 3) {
        return RUN_OK;
    }
    char err[512];
    if (w != NULL && online_writer_flush(w, err, sizeof(err)) != FEATD_OK) {
        run_err(run, "%s", err);
        return RUN_FAIL;
    }
    int rc = mat_state_lease_renew(x->c, x->cfg->redis.key_prefix, run->v, MAT_LEASE_MS, err,
                             sizeof(err));
    if (rc != FEATD_OK) {
        run_err(run, "%s", err);
        return RUN_FAIL;
    }
    x->lease_mono_us = now;
    return RUN_OK;
}

static void note_row_reject(struct mat_run *run, const char *file, int rg, size_t row,
                            const char *why)
{
    run->rows[MK_REJECTED]++;
    if (run->logged_rejects++ < MAT_MAX_LOGGED_REJECTS) {
        log_warn("materializer", "view %s: %s row group %d row %zu rejected: %s%s", run->v->name,
                 file, rg, row, why,
                 run->logged_rejects == MAT_MAX_LOGGED_REJECTS ? " (further rejections are "
                 "only counted)" : "");
    }
}

/* The file is still what discovery saw (a rewrite mid-run is a failure,
 * retried with the new identity). */
static int file_unchanged(const struct mat_file *f, struct mat_run *run)
{
    struct stat st;
    if (stat(f->path, &st) != 0) {
        run_err(run, "file %s vanished while materializing", f->name);
        return RUN_FAIL;
    }
    int64_t m = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    if ((int64_t)st.st_size != f->size || m != f->mtime_ns) {
        run_err(run, "file %s changed while materializing; retrying", f->name);
        return RUN_FAIL;
    }
    return RUN_OK;
}

static int open_bound(struct mat_ctx *x, struct mat_run *run, const struct mat_file *f,
                      struct pq_file **pf, struct mat_binding *b)
{
    (void)x;
    char err[768];
    *pf = NULL;
    memset(b, 0, sizeof(*b));
    int k = file_unchanged(f, run);
    if (k != RUN_OK) {
        return k;
    }
    if (f->size == 0) {
        run_err(run, "file %s is empty (0 bytes)", f->name);
        return RUN_REJECT;
    }
    if (pq_open_file(f->path, NULL, pf, err, sizeof(err)) != FEATD_OK) {
        run_err(run, "file %s: %s", f->name, err);
        return RUN_REJECT;
    }
    if (mat_bind(*pf, run->v, b, err, sizeof(err)) != FEATD_OK) {
        run_err(run, "file %s: schema mismatch: %s", f->name, err);
        pq_close(*pf);
        *pf = NULL;
        mat_binding_free(b);
        return RUN_REJECT;
    }
    return RUN_OK;
}

/* The start of every row group in both passes: stop when asked, keep the
 * lease (w: the pass-2 writer to flush first, or NULL), and read the
 * row group's join keys and timestamps into x->rg. */
static int rg_begin(struct mat_ctx *x, struct mat_run *run, const struct mat_file *f,
                    struct pq_file *pf, struct mat_binding *b, int rg,
                    struct online_writer *w)
{
    if (stop_requested(x)) {
        return RUN_STOP;
    }
    int k = lease_keep(x, run, false, w);
    if (k != RUN_OK) {
        return k;
    }
    char err[768];
    if (mat_rg_read_keys(&x->rg, pf, b, rg, err, sizeof(err)) != FEATD_OK) {
        run_err(run, "file %s: row group %d: %s", f->name, rg, err);
        return RUN_REJECT;
    }
    return RUN_OK;
}

static int rowinfo_reserve(struct mat_ctx *x, size_t n)
{
    if (n <= x->cap_ri) {
        return FEATD_OK;
    }
    struct mat_rowinfo *p = realloc(x->ri, n * sizeof(*p));
    if (p == NULL) {
        return FEATD_ENOMEM;
    }
    x->ri = p;
    x->cap_ri = n;
    return FEATD_OK;
}

/*
 * Pass 1 over files[0..n): selection into x->sel. base[i] gets the ordinal
 * of file i's first row (base[n] = total rows).
 */
static int pass_select(struct mat_ctx *x, struct mat_run *run, const struct mat_file *files,
                       size_t n, uint64_t *base)
{
    const struct cfg_view *v = run->v;
    mat_select_clear(&x->sel);
    uint64_t ord = 0;
    int64_t now_ms = util_now_us() / 1000;
    struct online_key keys[64];
    if (v->nkeys > FEATD_ARRAY_LEN(keys)) {
        run_err(run, "view has more than 64 join keys");
        return RUN_REJECT;
    }
    for (size_t i = 0; i < n; i++) {
        base[i] = ord;
        struct pq_file *pf;
        struct mat_binding b;
        int k = open_bound(x, run, &files[i], &pf, &b);
        if (k != RUN_OK) {
            return k;
        }
        int nrg = pq_num_row_groups(pf);
        for (int rg = 0; rg < nrg && k == RUN_OK; rg++) {
            if ((k = rg_begin(x, run, &files[i], pf, &b, rg, NULL)) != RUN_OK) {
                break;
            }
            size_t nr = x->rg.nrows;
            if (rowinfo_reserve(x, nr) != FEATD_OK) {
                run_err(run, "out of memory");
                k = RUN_FAIL;
                break;
            }
            for (size_t r = 0; r < nr; r++) {
                struct mat_rowinfo *ri = &x->ri[r];
                const char *why;
                ri->st = 0;
                if (mat_rg_row_key(&x->rg, r, keys, &ri->ev, &ri->cr, &why) != FEATD_OK) {
                    note_row_reject(run, files[i].name, rg, r, why);
                    continue;
                }
                int64_t at = online_expire_at_ms(v, ri->ev);
                if (at != 0 && at <= now_ms) {
                    ri->st = 2;
                    run->rows[MK_EXPIRED]++;
                    continue;
                }
                ri->st = 1;
                mat_hash_entity(v, keys, &ri->h);
                mat_select_prefetch(&x->sel, &ri->h);
            }
            run->rows[MK_READ] += nr;
            for (size_t r = 0; r < nr; r++, ord++) {
                const struct mat_rowinfo *ri = &x->ri[r];
                if (ri->st != 1) {
                    continue;
                }
                bool replaced;
                int rc = mat_select_offer(&x->sel, &ri->h, ri->ev, ri->cr, ord, &replaced);
                if (rc == FEATD_ENOMEM) {
                    run_err(run, "out of memory selecting the latest rows (%zu entities)",
                            mat_select_count(&x->sel));
                    k = RUN_FAIL;
                    break;
                }
                if (rc != FEATD_OK) {
                    run_err(run, "more than %zu distinct entities", x->sel.max_entities);
                    k = RUN_REJECT;
                    break;
                }
                if (replaced) {
                    run->rows[MK_STALE]++;
                }
            }
        }
        pq_close(pf);
        mat_binding_free(&b);
        if (k != RUN_OK) {
            return k;
        }
    }
    base[n] = ord;
    run->entities = mat_select_count(&x->sel);
    return RUN_OK;
}

/* Updates pending progress (files done, rows so far). */
static void pending_progress(struct mat_ctx *x, struct mat_run *run, size_t files_done,
                             const struct online_writer *w)
{
    mat_state_set_pending_files_done(x->hs, (int64_t)files_done);
    mat_state_set_rows_written(x->hs, (int64_t)online_writer_written(w));
    char err[256];
    if (progress_send(x, run->v, err, sizeof(err)) != FEATD_OK) {
        log_debug("materializer", "view %s: progress update failed: %s", run->v->name, err);
    }
    run->progress_mono = util_mono_us();
}

/*
 * Pass 2 over files[from..n): writes the winners of x->sel through w (SET
 * into a new generation, or last-write-wins upserts). base[] from pass 1.
 * Every row of a file is acknowledged by Redis before the next file starts
 * (pending_files_done counts only complete files).
 */
static int pass_write(struct mat_ctx *x, struct mat_run *run, const struct mat_file *files,
                      size_t n, size_t from, const uint64_t *base, struct online_writer *w,
                      uint64_t gen, bool upsert)
{
    const struct cfg_view *v = run->v;
    struct online_key keys[64];
    struct online_value *vals = calloc(v->nfeatures ? v->nfeatures : 1, sizeof(*vals));
    if (vals == NULL) {
        run_err(run, "out of memory");
        return RUN_FAIL;
    }
    int64_t ttl_us = v->ttl_seconds * 1000000;
    int k = RUN_OK;
    for (size_t i = from; i < n && k == RUN_OK; i++) {
        struct pq_file *pf;
        struct mat_binding b;
        if ((k = open_bound(x, run, &files[i], &pf, &b)) != RUN_OK) {
            break;
        }
        uint64_t ord = base[i];
        int nrg = pq_num_row_groups(pf);
        for (int rg = 0; rg < nrg && k == RUN_OK; rg++) {
            if ((k = rg_begin(x, run, &files[i], pf, &b, rg, w)) != RUN_OK) {
                break;
            }
            char err[768];
            size_t nr = x->rg.nrows;
            if (nr > x->cap_win) {
                uint8_t *nw = realloc(x->win, nr);
                if (nw == NULL) {
                    run_err(run, "out of memory");
                    k = RUN_FAIL;
                    break;
                }
                x->win = nw;
                x->cap_win = nr;
            }
            if (rowinfo_reserve(x, nr) != FEATD_OK) {
                run_err(run, "out of memory");
                k = RUN_FAIL;
                break;
            }
            size_t nwin = 0;
            for (size_t r = 0; r < nr; r++) {
                const char *why;
                struct mat_rowinfo *ri = &x->ri[r];
                ri->st = 0;
                if (mat_rg_row_key(&x->rg, r, keys, &ri->ev, &ri->cr, &why) != FEATD_OK) {
                    continue;
                }
                ri->st = 1;
                mat_hash_entity(v, keys, &ri->h);
                mat_select_prefetch(&x->sel, &ri->h);
            }
            for (size_t r = 0; r < nr; r++) {
                x->win[r] = x->ri[r].st == 1 && mat_select_is_winner(&x->sel, &x->ri[r].h, ord + r);
                nwin += x->win[r];
            }
            if (nwin > 0) {
                if (mat_rg_read_features(&x->rg, pf, rg, err, sizeof(err)) != FEATD_OK) {
                    run_err(run, "file %s: row group %d: %s", files[i].name, rg, err);
                    k = RUN_REJECT;
                    break;
                }
                int64_t now_us = util_now_us();
                for (size_t r = 0; r < nr; r++) {
                    if (!x->win[r]) {
                        continue;
                    }
                    int64_t ev, cr;
                    const char *why;
                    if (mat_rg_row_key(&x->rg, r, keys, &ev, &cr, &why) != FEATD_OK) {
                        continue;   /* cannot happen: it won */
                    }
                    if (mat_rg_row_values(&x->rg, r, vals, &why) != FEATD_OK) {
                        note_row_reject(run, files[i].name, rg, r, why);
                        continue;
                    }
                    int rc = upsert ? online_writer_upsert(w, gen, keys, ev, cr, vals, err,
                                                           sizeof(err))
                                    : online_writer_put(w, gen, keys, ev, cr, vals, err,
                                                        sizeof(err));
                    if (rc == FEATD_EAGAIN) {
                        run->rows[MK_EXPIRED]++;
                        continue;
                    }
                    if (rc != FEATD_OK) {
                        run_err(run, "%s", err);
                        k = RUN_FAIL;
                        break;
                    }
                    if (ttl_us > 0 && now_us - ev > ttl_us) {
                        run->rows[MK_OUTSIDE]++;
                    }
                    if (ev > run->max_event_us) {
                        run->max_event_us = ev;
                    }
                }
            }
            ord += nr;
            if (k == RUN_OK && !upsert &&
                util_mono_us() - run->progress_mono > MAT_PROGRESS_EVERY_US) {
                /* drain first: the progress HSET must not interleave with
                 * pipelined replies */
                if (online_writer_flush(w, err, sizeof(err)) != FEATD_OK) {
                    run_err(run, "%s", err);
                    k = RUN_FAIL;
                    break;
                }
                pending_progress(x, run, i, w);
            }
        }
        pq_close(pf);
        mat_binding_free(&b);
        if (k != RUN_OK) {
            break;
        }
        char err[512];
        if (online_writer_flush(w, err, sizeof(err)) != FEATD_OK) {
            run_err(run, "%s", err);
            k = RUN_FAIL;
            break;
        }
        if (!upsert) {
            pending_progress(x, run, i + 1, w);
        }
    }
    free(vals);
    return k;
}

/* ---- snapshot mode ---- */

/* Reclaims gen (best effort; logged). */
static void reclaim(struct mat_ctx *x, const struct cfg_view *v, uint64_t gen, const char *what)
{
    if (gen == 0 || x->c == NULL) {
        return;
    }
    char err[512];
    uint64_t del = 0;
    int64_t t0 = util_mono_us();
    if (online_gen_reclaim_paced(x->c, x->cfg->redis.key_prefix, v, gen, MAT_RECLAIM_COUNT, x->stop,
                                 &del, err, sizeof(err)) !=
        FEATD_OK) {
        log_warn("materializer", "view %s: reclaiming %s generation %" PRIu64 " failed: %s",
                 v->name, what, gen, err);
        mat_state_set_reclaim_generation(x->hs, (int64_t)gen);
        if (progress_send(x, v, err, sizeof(err)) != FEATD_OK) {
            log_debug("materializer", "view %s: %s", v->name, err);
        }
        return;
    }
    log_info("materializer", "view %s: reclaimed %s generation %" PRIu64 " (%" PRIu64
             " keys, %.1f ms)", v->name, what, gen, del, (double)(util_mono_us() - t0) / 1000.0);
}

/* After a crash between the flip and the final progress write: the flip
 * happened, so record the pending snapshot as applied. */
static void recover_flipped(struct mat_ctx *x, const struct cfg_view *v, struct mat_progress *p)
{
    log_warn("materializer", "view %s: generation %" PRId64 " (snapshot %s) was flipped by a run "
             "that did not finish its bookkeeping; recording it", v->name, p->pending_generation,
             p->pending_snapshot);
    mat_state_set_snapshot(x->hs, p->pending_snapshot);
    mat_state_set_snapshot_sig(x->hs, p->pending_sig);
    mat_state_set_generation(x->hs, p->pending_generation);
    mat_state_set_pending_generation(x->hs, 0);
    mat_state_set_pending_sig(x->hs, "");
    mat_state_set_pending_snapshot(x->hs, "");
    char err[256];
    if (progress_send(x, v, err, sizeof(err)) == FEATD_OK) {
        util_strlcpy(p->snapshot, p->pending_snapshot, sizeof(p->snapshot));
        util_strlcpy(p->snapshot_sig, p->pending_sig, sizeof(p->snapshot_sig));
        p->generation = p->pending_generation;
        p->pending_generation = 0;
        p->pending_sig[0] = '\0';
        if (p->prev_generation != 0 && p->prev_generation != p->generation) {
            reclaim(x, v, (uint64_t)p->prev_generation, "previous");
        }
    }
}

static int run_snapshot(struct mat_ctx *x, struct mat_run *run, const struct mat_snapshot *snap,
                        struct mat_progress *p)
{
    const struct cfg_view *v = run->v;
    const char *kp = x->cfg->redis.key_prefix;
    char err[512];
    run->nfiles = snap->nfiles;
    run->snap_name = snap->name;
    if (snap->nfiles == 0) {
        run_err(run, "snapshot %s has no data files (*.parquet)", snap->name);
        return RUN_REJECT;
    }
    uint64_t *base = calloc(snap->nfiles + 1, sizeof(*base));
    if (base == NULL) {
        run_err(run, "out of memory");
        return RUN_FAIL;
    }
    mat_state_set_state(x->hs, MAT_STATE_RUNNING);
    mat_state_set_phase(x->hs, MAT_PHASE_SELECT);
    mat_state_set_mode(x->hs, MAT_MODE_SNAPSHOT);
    mat_state_set_owner(x->hs, mat_state_lease_self());
    mat_state_set_started_at_us(x->hs, run->started_us);
    int k = RUN_FAIL;
    struct online_writer *w = NULL;
    uint64_t gen = 0;
    if (progress_send(x, v, run->why, sizeof(run->why)) != FEATD_OK) {
        goto out;
    }

    int64_t t_sel = util_mono_us();
    k = pass_select(x, run, snap->files, snap->nfiles, base);
    if (k != RUN_OK) {
        goto out;
    }
    log_info("materializer", "view %s: selected %zu entities from %" PRIu64 " rows in %.2f s "
             "(selection table %zu bytes, %.1f bytes/entity)", v->name, mat_select_count(&x->sel),
             base[snap->nfiles], (double)(util_mono_us() - t_sel) / 1e6,
             mat_select_bytes(&x->sel), mat_select_count(&x->sel)
                 ? (double)mat_select_bytes(&x->sel) / (double)mat_select_count(&x->sel) : 0.0);
    if (base[snap->nfiles] == 0) {
        run_err(run, "snapshot %s has no rows; refusing to empty the view", snap->name);
        k = RUN_REJECT;
        goto out;
    }

    /* the generation to write: the pending one of this very snapshot, or
     * a new one (reclaiming an abandoned one first) */
    size_t from = 0;
    uint64_t cur = 0;
    if (online_gen_current(x->c, kp, v, &cur, run->why, sizeof(run->why)) != FEATD_OK) {
        k = RUN_FAIL;
        goto out;
    }
    if (p->pending_generation > 0 && (uint64_t)p->pending_generation != cur &&
        strcmp(p->pending_sig, run->ident_hex) == 0) {
        gen = (uint64_t)p->pending_generation;
        from = p->pending_files_done > 0 && (uint64_t)p->pending_files_done <= snap->nfiles
                   ? (size_t)p->pending_files_done : 0;
        log_info("materializer", "view %s: resuming generation %" PRIu64 " of snapshot %s "
                 "(%zu of %zu files already written)", v->name, gen, snap->name, from,
                 snap->nfiles);
    } else {
        if (p->pending_generation > 0 && (uint64_t)p->pending_generation != cur) {
            reclaim(x, v, (uint64_t)p->pending_generation, "abandoned");
        }
        if (online_gen_alloc(x->c, kp, v, &gen, run->why, sizeof(run->why)) != FEATD_OK) {
            k = RUN_FAIL;
            goto out;
        }
    }
    mat_state_set_phase(x->hs, MAT_PHASE_WRITE);
    mat_state_set_pending_generation(x->hs, (int64_t)gen);
    mat_state_set_pending_sig(x->hs, run->ident_hex);
    mat_state_set_pending_snapshot(x->hs, snap->name);
    mat_state_set_pending_files_done(x->hs, (int64_t)from);
    mat_state_set_rows_written(x->hs, 0);
    if (progress_send(x, v, run->why, sizeof(run->why)) != FEATD_OK) {
        k = RUN_FAIL;
        goto out;
    }
    p->pending_generation = (int64_t)gen;
    run->progress_mono = util_mono_us();
    w = online_writer_new(x->c, kp, v, MAT_WRITE_BATCH);
    if (w == NULL) {
        run_err(run, "out of memory");
        k = RUN_FAIL;
        goto out;
    }
    online_writer_set_rate(w, x->max_rows_per_sec);
    k = pass_write(x, run, snap->files, snap->nfiles, from, base, w, gen, false);
    if (k != RUN_OK) {
        goto out;
    }
    run->rows[MK_WRITTEN] = online_writer_written(w);

    /* flip: only while the lease is still ours */
    if ((k = lease_keep(x, run, true, NULL)) != RUN_OK) {
        goto out;
    }
    mat_state_set_phase(x->hs, MAT_PHASE_FLIP);
    mat_state_set_prev_generation(x->hs, (int64_t)cur);
    if (progress_send(x, v, run->why, sizeof(run->why)) != FEATD_OK) {
        k = RUN_FAIL;
        goto out;
    }
    uint64_t old = 0;
    if (online_gen_flip(x->c, kp, v, gen, &old, run->why, sizeof(run->why)) != FEATD_OK) {
        k = RUN_FAIL;
        goto out;
    }
    p->pending_generation = 0;
    p->generation = (int64_t)gen;
    k = RUN_OK;
    mat_state_set_snapshot(x->hs, snap->name);
    mat_state_set_snapshot_sig(x->hs, run->ident_hex);
    mat_state_set_generation(x->hs, (int64_t)gen);
    mat_state_set_pending_generation(x->hs, 0);
    mat_state_set_pending_sig(x->hs, "");
    mat_state_set_pending_snapshot(x->hs, "");
    mat_state_set_max_event_ts_us(x->hs, run->max_event_us);
    if (progress_send(x, v, err, sizeof(err)) != FEATD_OK) {
        log_warn("materializer", "view %s: flipped to generation %" PRIu64 " but recording it "
                 "failed (%s); the next run records it", v->name, gen, err);
    }
    /* deleted after the run is recorded (mat_view_poll), so that the
     * status says "applied" while the old rows go */
    run->reclaim_old = old != gen ? old : 0;
    run->reclaim_leftover = (uint64_t)p->reclaim_generation != gen
                                ? (uint64_t)p->reclaim_generation : 0;
out:
    online_writer_free(w);
    if (k == RUN_REJECT && p->pending_generation > 0 && (uint64_t)p->pending_generation != cur &&
        x->c != NULL && x->c->err == 0) {
        /* nothing of a rejected snapshot may linger */
        reclaim(x, v, (uint64_t)p->pending_generation, "rejected");
        mat_state_set_pending_generation(x->hs, 0);
        mat_state_set_pending_sig(x->hs, "");
        mat_state_set_pending_snapshot(x->hs, "");
    }
    free(base);
    return k;
}

/* ---- incremental mode ---- */

static void file_ident(const struct mat_file *f, uint64_t csig, char *hex)
{
    uint64_t s = mat_file_sig(f);
    hex16(util_fnv1a(s, &csig, sizeof(csig)), hex);
}

/* Collects the complete, not yet done (nor rejected) files in order. */
static size_t new_files(const struct mat_listing *l, const struct mat_files *d, uint64_t csig,
                        const struct mat_file **out, size_t cap, size_t *nrejected)
{
    size_t n = 0;
    *nrejected = 0;
    for (size_t i = 0; i < l->nsnaps; i++) {
        const struct mat_snapshot *s = &l->snaps[i];
        for (size_t j = 0; s->complete && j < s->nfiles; j++) {
            char hex[20];
            file_ident(&s->files[j], csig, hex);
            enum mat_file_status st = mat_state_file_status(d, s->files[j].name, hex);
            if (st == MAT_FILE_DONE) {
                continue;
            }
            if (st == MAT_FILE_REJECTED) {
                (*nrejected)++;
                continue;
            }
            if (n < cap) {
                out[n++] = &s->files[j];
            }
        }
    }
    return n;
}

/* Drops done markers of files no longer in the source (bounded hash). */
static void files_prune(struct mat_ctx *x, const struct cfg_view *v, const struct mat_files *d,
                        const struct mat_listing *l)
{
    for (size_t i = 0; i < mat_state_files_count(d); i++) {
        size_t flen;
        const char *fname = mat_state_files_name(d, i, &flen);
        if (fname == NULL) {
            continue;
        }
        bool present = false;
        for (size_t s = 0; s < l->nsnaps && !present; s++) {
            for (size_t j = 0; j < l->snaps[s].nfiles && !present; j++) {
                const char *nm = l->snaps[s].files[j].name;
                present = strlen(nm) == flen && memcmp(nm, fname, flen) == 0;
            }
            /* an incomplete directory's files are not listed: keep theirs */
            if (!l->snaps[s].complete && strncmp(l->snaps[s].name, fname,
                                                 strlen(l->snaps[s].name)) == 0) {
                present = true;
            }
        }
        if (!present) {
            mat_state_file_forget(x->c, x->cfg->redis.key_prefix, v, fname, flen);
        }
    }
}

static int run_incremental(struct mat_ctx *x, struct mat_run *run, const struct mat_file **files,
                           size_t nfiles, uint64_t csig, size_t *nrejected_files,
                           char *last_reject, size_t last_reject_len)
{
    const struct cfg_view *v = run->v;
    const char *kp = x->cfg->redis.key_prefix;
    *nrejected_files = 0;
    mat_state_set_state(x->hs, MAT_STATE_RUNNING);
    mat_state_set_phase(x->hs, MAT_PHASE_WRITE);
    mat_state_set_mode(x->hs, MAT_MODE_INCREMENTAL);
    mat_state_set_owner(x->hs, mat_state_lease_self());
    mat_state_set_started_at_us(x->hs, run->started_us);
    if (progress_send(x, v, run->why, sizeof(run->why)) != FEATD_OK) {
        return RUN_FAIL;
    }
    uint64_t gen = 0;
    if (online_gen_ensure(x->c, kp, v, &gen, run->why, sizeof(run->why)) != FEATD_OK) {
        return RUN_FAIL;
    }
    struct online_writer *ow = online_writer_new(x->c, kp, v, MAT_WRITE_BATCH);
    if (ow == NULL) {
        run_err(run, "out of memory");
        return RUN_FAIL;
    }
    int k = RUN_OK;
    for (size_t i = 0; i < nfiles && k == RUN_OK; i++) {
        const struct mat_file *f = files[i];
        struct mat_run fr = *run;   /* per-file scratch for reasons */
        memset(fr.rows, 0, sizeof(fr.rows));
        fr.logged_rejects = run->logged_rejects;
        uint64_t base[2];
        uint64_t written0 = online_writer_written(ow), skipped0 = online_writer_skipped(ow);
        int fk = pass_select(x, &fr, f, 1, base);
        if (fk == RUN_OK) {
            fk = pass_write(x, &fr, f, 1, 0, base, ow, gen, true);
        }
        run->logged_rejects = fr.logged_rejects;
        char hex[20];
        file_ident(f, csig, hex);
        char err[512];
        if (fk == RUN_REJECT) {
            (*nrejected_files)++;
            util_strlcpy(last_reject, fr.why, last_reject_len);
            log_error("materializer", "view %s: file %s rejected, nothing of it written: %s",
                      v->name, f->name, fr.why);
            if (mat_state_file_rejected(x->c, kp, v, f->name, hex, fr.why, err, sizeof(err)) !=
                FEATD_OK) {
                run_err(run, "%s", err);
                k = RUN_FAIL;
            }
            run->rows[MK_READ] += fr.rows[MK_READ];
            continue;
        }
        if (fk != RUN_OK) {
            util_strlcpy(run->why, fr.why, sizeof(run->why));
            k = fk;
            break;
        }
        uint64_t wr = online_writer_written(ow) - written0;
        uint64_t sk = online_writer_skipped(ow) - skipped0;
        for (int m = 0; m < MK__N; m++) {
            run->rows[m] += fr.rows[m];
        }
        /* LWW losers: skipped by the script (the writer's skipped count also
         * holds rows that expired before writing, counted already) */
        run->rows[MK_STALE] += sk > fr.rows[MK_EXPIRED] ? sk - fr.rows[MK_EXPIRED] : 0;
        run->rows[MK_WRITTEN] += wr;
        run->entities += fr.entities;
        if (fr.max_event_us > run->max_event_us) {
            run->max_event_us = fr.max_event_us;
        }
        run->nfiles++;
        run->snap_name = f->name;
        if (mat_state_file_done(x->c, kp, v, f->name, hex, wr, util_now_us(), err,
                                sizeof(err)) != FEATD_OK) {
            run_err(run, "%s", err);
            k = RUN_FAIL;
            break;
        }
        log_info("materializer", "view %s: file %s upserted into generation %" PRIu64 ": %" PRIu64
                 " rows read, %" PRIu64 " written, %" PRIu64 " stale, %" PRIu64 " expired, %"
                 PRIu64 " rejected", v->name, f->name, gen, fr.rows[MK_READ], wr,
                 fr.rows[MK_STALE] + (sk > fr.rows[MK_EXPIRED] ? sk - fr.rows[MK_EXPIRED] : 0),
                 fr.rows[MK_EXPIRED], fr.rows[MK_REJECTED]);
    }
    online_writer_free(ow);
    run->why[sizeof(run->why) - 1] = '\0';
    if (k == RUN_OK) {
        mat_state_set_generation(x->hs, (int64_t)gen);
    }
    return k;
}

/* ---- one poll of one view ---- */

static void record_stats(const struct cfg_view *v, const struct mat_run *run, int result,
                         const struct mat_progress *p, bool counted_rows, double duration_s)
{
    pthread_mutex_lock(&stats_lock);
    struct mat_vstat *s = vstat_get(v->name);
    if (s != NULL) {
        if (counted_rows) {
            for (int m = 0; m < MK__N; m++) {
                s->rows[m] += run->rows[m];
            }
            s->duration_s = duration_s;
        }
        if (result >= 0 && result < MR__N) {
            s->runs[result]++;
        }
        if (p != NULL && p->exists) {
            if (p->last_success_at_us > 0) {
                s->last_success_us = p->last_success_at_us;
            }
            if (p->max_event_ts_us != 0) {
                s->max_event_us = p->max_event_ts_us;
            }
            if (p->generation > 0) {
                s->generation = (uint64_t)p->generation;
            }
            if (!counted_rows && s->duration_s < 0 && p->duration_ms > 0) {
                s->duration_s = (double)p->duration_ms / 1000.0;
            }
        }
        if (result == MR_APPLIED || result == MR_UNCHANGED || result == MR_BUSY) {
            s->up = 1;
        } else if (result == MR_FAILED || result == MR_REJECTED) {
            s->up = 0;
        }
    }
    pthread_mutex_unlock(&stats_lock);
}

/* Writes the end-of-run progress fields (the run did work). */
static void finish_progress(struct mat_ctx *x, const struct mat_run *run, int result,
                            struct mat_progress *p)
{
    const struct cfg_view *v = run->v;
    int64_t now = util_now_us();
    int64_t dur_ms = (util_mono_us() - run->started_mono) / 1000;
    mat_state_set_phase(x->hs, MAT_PHASE_NONE);
    mat_state_set_finished_at_us(x->hs, now);
    mat_state_set_duration_ms(x->hs, dur_ms);
    mat_state_set_files(x->hs, (int64_t)run->nfiles);
    mat_state_set_entities(x->hs, (int64_t)run->entities);
    mat_state_set_select_bytes(x->hs, (int64_t)mat_select_bytes(&x->sel));
    mat_state_set_rows_read(x->hs, (int64_t)run->rows[MK_READ]);
    mat_state_set_rows_written(x->hs, (int64_t)run->rows[MK_WRITTEN]);
    mat_state_set_rows_skipped_expired(x->hs, (int64_t)run->rows[MK_EXPIRED]);
    mat_state_set_rows_skipped_stale(x->hs, (int64_t)run->rows[MK_STALE]);
    mat_state_set_rows_rejected(x->hs, (int64_t)run->rows[MK_REJECTED]);
    mat_state_set_rows_outside_max_age(x->hs, (int64_t)run->rows[MK_OUTSIDE]);
    enum mat_runs incr;
    if (result == MR_APPLIED) {
        mat_state_set_state(x->hs, MAT_STATE_IDLE);
        mat_state_set_last_error(x->hs, "");
        mat_state_set_last_success_at_us(x->hs, now);
        if (v->mat_mode == MAT_INCREMENTAL) {
            if (run->snap_name) {
                mat_state_set_snapshot(x->hs, run->snap_name);
            }
            int64_t mx = run->max_event_us > p->max_event_ts_us ? run->max_event_us
                                                                : p->max_event_ts_us;
            mat_state_set_max_event_ts_us(x->hs, mx);
            p->max_event_ts_us = mx;
        } else {
            p->max_event_ts_us = run->max_event_us;
        }
        p->last_success_at_us = now;
        incr = MAT_RUNS_OK;
    } else if (result == MR_REJECTED) {
        mat_state_set_state(x->hs, MAT_STATE_REJECTED);
        mat_state_set_rejected_snapshot(x->hs, run->snap_name ? run->snap_name : "");
        mat_state_set_rejected_sig(x->hs, run->ident_hex);
        mat_state_set_rejected_reason(x->hs, run->why);
        mat_state_set_rejected_at_us(x->hs, now);
        incr = MAT_RUNS_REJECTED;
    } else {
        mat_state_set_state(x->hs, MAT_STATE_FAILED);
        mat_state_set_last_error(x->hs, run->why);
        mat_state_set_last_error_at_us(x->hs, now);
        incr = MAT_RUNS_FAILED;
    }
    p->duration_ms = dur_ms;
    char err[256];
    if (progress_send(x, v, err, sizeof(err)) != FEATD_OK) {
        log_warn("materializer", "view %s: cannot record progress: %s", v->name, err);
        drop_conn(x);
        return;
    }
    mat_state_count_run(x->c, x->cfg->redis.key_prefix, v, incr);
}

static void log_applied(const struct mat_run *run, const struct mat_progress *p, double secs,
                        size_t sel_bytes)
{
    const struct cfg_view *v = run->v;
    double rate = secs > 0 ? (double)run->rows[MK_READ] / secs : 0;
    log_info("materializer", "view %s: %s %s applied%s%" PRId64 " in %.2f s: %" PRIu64 " rows read "
             "(%.0f rows/s), %" PRIu64 " entities, %" PRIu64 " written, %" PRIu64 " stale, %"
             PRIu64 " expired, %" PRIu64 " rejected, %" PRIu64 " outside max age; selection "
             "%zu bytes", v->name, v->mat_mode == MAT_SNAPSHOT ? "snapshot" : "files up to",
             run->snap_name ? run->snap_name : "?",
             v->mat_mode == MAT_SNAPSHOT ? " as generation " : " into generation ",
             p->generation, secs, run->rows[MK_READ], rate, run->entities,
             run->rows[MK_WRITTEN], run->rows[MK_STALE], run->rows[MK_EXPIRED],
             run->rows[MK_REJECTED], run->rows[MK_OUTSIDE], sel_bytes);
}

/* Records a failure that happened before any work (discovery, Redis). */
static void note_failure(struct mat_ctx *x, const struct cfg_view *v, const char *why,
                         struct mat_progress *p)
{
    if (x->c == NULL || x->c->err) {
        return;
    }
    if (p->exists && strcmp(p->state, MAT_STATE_FAILED) == 0 && strcmp(p->last_error, why) == 0) {
        return;     /* same failure as last time: no write per poll */
    }
    mat_state_set_state(x->hs, MAT_STATE_FAILED);
    mat_state_set_last_error(x->hs, why);
    mat_state_set_last_error_at_us(x->hs, util_now_us());
    char err[256];
    if (progress_send(x, v, err, sizeof(err)) != FEATD_OK) {
        drop_conn(x);
        return;
    }
    mat_state_count_run(x->c, x->cfg->redis.key_prefix, v, MAT_RUNS_FAILED);
}

/*
 * One poll of view v: discover, decide, maybe run. Returns an enum
 * mat_result; msg gets a one-line summary for `featd materialize`.
 */
static int mat_view_poll(struct mat_ctx *x, const struct cfg_view *v, char *msg, size_t msglen)
{
    const char *kp = x->cfg->redis.key_prefix;
    char err[1024];
    struct mat_progress p;
    struct mat_run run;
    memset(&run, 0, sizeof(run));
    run.v = v;
    run.max_event_us = INT64_MIN;
    run.started_us = util_now_us();
    run.started_mono = util_mono_us();
    uint64_t csig = config_sig(v);

    if (ensure_conn(x, err, sizeof(err)) != FEATD_OK) {
        snprintf(msg, msglen, "failed: %s", err);
        log_warn("materializer", "view %s: %s", v->name, err);
        record_stats(v, &run, MR_FAILED, NULL, false, 0);
        return MR_FAILED;
    }
    if (mat_state_load(x->c, kp, v, &p, err, sizeof(err)) != FEATD_OK) {
        snprintf(msg, msglen, "failed: %s", err);
        log_warn("materializer", "view %s: %s", v->name, err);
        drop_conn(x);
        record_stats(v, &run, MR_FAILED, NULL, false, 0);
        return MR_FAILED;
    }

    struct mat_listing l;
    if (mat_discover(v->source_path, &l, err, sizeof(err)) != FEATD_OK) {
        mat_listing_free(&l);
        snprintf(msg, msglen, "failed: %s", err);
        if (!(strcmp(p.state, MAT_STATE_FAILED) == 0 && strcmp(p.last_error, err) == 0)) {
            log_error("materializer", "view %s: %s", v->name, err);
        }
        note_failure(x, v, err, &p);
        record_stats(v, &run, MR_FAILED, &p, false, 0);
        return MR_FAILED;
    }

    /* what would be done */
    const struct mat_snapshot *snap = NULL, *incomplete = NULL;
    const struct mat_file **todo = NULL;
    size_t ntodo = 0, nrej_known = 0;
    struct mat_files done = { NULL };
    int result = MR_UNCHANGED;
    if (v->mat_mode == MAT_SNAPSHOT) {
        snap = mat_newest_complete(&l, &incomplete);
        if (snap != NULL) {
            run.ident = util_fnv1a(snap->sig, &csig, sizeof(csig));
            hex16(run.ident, run.ident_hex);
        }
        const char *wait = incomplete ? incomplete->name : "";
        if (strcmp(wait, p.waiting_for) != 0) {
            if (incomplete) {
                log_info("materializer", "view %s: %s has no _SUCCESS marker yet; not applied "
                         "until it does", v->name, incomplete->name);
            }
            mat_state_set_waiting_for(x->hs, wait);
            if (progress_send(x, v, err, sizeof(err)) != FEATD_OK) {
                drop_conn(x);
            }
        }
        if (p.pending_generation > 0 && p.pending_sig[0] && x->c != NULL) {
            uint64_t cur = 0;
            if (online_gen_current(x->c, kp, v, &cur, err, sizeof(err)) == FEATD_OK &&
                cur == (uint64_t)p.pending_generation) {
                recover_flipped(x, v, &p);
            }
        }
        if (snap == NULL || strcmp(p.snapshot_sig, run.ident_hex) == 0 ||
            (!x->oneshot && strcmp(p.rejected_sig, run.ident_hex) == 0)) {
            result = MR_UNCHANGED;
        } else {
            result = -1;    /* work to do */
        }
    } else {
        if (mat_state_files_load(x->c, kp, v, &done, err, sizeof(err)) != FEATD_OK) {
            snprintf(msg, msglen, "failed: %s", err);
            mat_listing_free(&l);
            drop_conn(x);
            record_stats(v, &run, MR_FAILED, &p, false, 0);
            return MR_FAILED;
        }
        size_t total = 0;
        for (size_t i = 0; i < l.nsnaps; i++) {
            total += l.snaps[i].nfiles;
        }
        todo = calloc(total ? total : 1, sizeof(*todo));
        if (todo == NULL) {
            snprintf(msg, msglen, "failed: out of memory");
            mat_state_files_free(&done);
            mat_listing_free(&l);
            record_stats(v, &run, MR_FAILED, &p, false, 0);
            return MR_FAILED;
        }
        ntodo = new_files(&l, &done, csig, todo, total, &nrej_known);
        result = ntodo > 0 ? -1 : MR_UNCHANGED;
    }

    if (result == MR_UNCHANGED) {
        const char *want = (snap && strcmp(p.rejected_sig, run.ident_hex) == 0) ||
                           (v->mat_mode == MAT_INCREMENTAL && nrej_known > 0 &&
                            strcmp(p.state, MAT_STATE_REJECTED) == 0)
                               ? MAT_STATE_REJECTED : MAT_STATE_IDLE;
        bool stale_running = false;
        if (p.exists && strcmp(p.state, MAT_STATE_RUNNING) == 0) {
            /* a run that died (kill -9) leaves "running"; nobody holds the
             * lease, so nobody runs */
            char holder[200];
            int64_t pttl = 0;
            stale_running = x->c != NULL &&
                            mat_state_lease_peek(x->c, kp, v, holder, sizeof(holder), &pttl, err,
                                           sizeof(err)) == FEATD_OK && holder[0] == '\0';
        }
        if (p.exists && strcmp(p.state, want) != 0 &&
            (strcmp(p.state, MAT_STATE_RUNNING) != 0 || stale_running)) {
            mat_state_set_state(x->hs, want);
            mat_state_set_phase(x->hs, MAT_PHASE_NONE);
            if (strcmp(want, MAT_STATE_IDLE) == 0) {
                mat_state_set_last_error(x->hs, "");
            }
            if (progress_send(x, v, err, sizeof(err)) != FEATD_OK) {
                drop_conn(x);
            }
        }
        if (strcmp(want, MAT_STATE_REJECTED) == 0) {
            snprintf(msg, msglen, "unchanged; newest snapshot %.300s was rejected: %.600s",
                     p.rejected_snapshot, p.rejected_reason);
        } else if (snap == NULL && v->mat_mode == MAT_SNAPSHOT) {
            snprintf(msg, msglen, "nothing to apply (no complete snapshot in %s%s%s)",
                     v->source_path, incomplete ? "; waiting for _SUCCESS in " : "",
                     incomplete ? incomplete->name : "");
        } else {
            snprintf(msg, msglen, "up to date (%s %s, generation %" PRId64 ")",
                     v->mat_mode == MAT_SNAPSHOT ? "snapshot" : "last file",
                     p.snapshot[0] ? p.snapshot : "-", p.generation);
        }
        if (v->mat_mode == MAT_INCREMENTAL && nrej_known > 0 && strcmp(want, MAT_STATE_REJECTED) == 0) {
            result = MR_REJECTED;   /* one-shot: make the status visible */
            if (!x->oneshot) {
                result = MR_UNCHANGED;
            }
        }
        if (x->oneshot && snap && strcmp(p.rejected_sig, run.ident_hex) == 0) {
            result = MR_REJECTED;
        }
        mat_state_files_free(&done);
        free(todo);
        mat_listing_free(&l);
        record_stats(v, &run, result == MR_REJECTED ? MR_UNCHANGED : result, &p, false, 0);
        return result;
    }

    if (x->c == NULL) {
        /* the connection broke while deciding (already logged at debug) */
        snprintf(msg, msglen, "failed: redis connection lost");
        mat_state_files_free(&done);
        free(todo);
        mat_listing_free(&l);
        record_stats(v, &run, MR_FAILED, &p, false, 0);
        return MR_FAILED;
    }

    /* work to do: take the lease, re-read the progress (another process may
     * have just done it) */
    char holder[200] = "";
    int lrc;
    int64_t wait_until = util_mono_us() + (x->oneshot ? (int64_t)MAT_LEASE_WAIT_MS * 1000 : 0);
    for (;;) {
        lrc = mat_state_lease_acquire(x->c, kp, v, MAT_LEASE_MS, holder, sizeof(holder), err,
                                sizeof(err));
        if (lrc != FEATD_EAGAIN || util_mono_us() >= wait_until || stop_requested(x)) {
            break;
        }
        struct timespec ts = { 0, 200 * 1000000L };
        nanosleep(&ts, NULL);
    }
    if (lrc != FEATD_OK) {
        mat_state_files_free(&done);
        free(todo);
        mat_listing_free(&l);
        if (lrc == FEATD_EAGAIN) {
            snprintf(msg, msglen, "busy: lease held by %s", holder);
            log_debug("materializer", "view %s: lease held by %s; not materializing", v->name,
                      holder);
            record_stats(v, &run, MR_BUSY, &p, false, 0);
            return MR_BUSY;
        }
        snprintf(msg, msglen, "failed: %s", err);
        log_warn("materializer", "view %s: %s", v->name, err);
        drop_conn(x);
        record_stats(v, &run, MR_FAILED, &p, false, 0);
        return MR_FAILED;
    }
    x->lease_mono_us = util_mono_us();
    if (mat_state_load(x->c, kp, v, &p, err, sizeof(err)) != FEATD_OK) {
        snprintf(msg, msglen, "failed: %s", err);
        mat_state_lease_release(x->c, kp, v);
        mat_state_files_free(&done);
        free(todo);
        mat_listing_free(&l);
        drop_conn(x);
        record_stats(v, &run, MR_FAILED, NULL, false, 0);
        return MR_FAILED;
    }

    int k;
    size_t nrej_files = 0;
    char last_reject[1024] = "";
    if (v->mat_mode == MAT_SNAPSHOT) {
        if (strcmp(p.snapshot_sig, run.ident_hex) == 0) {
            k = -1;     /* someone else applied it meanwhile */
        } else {
            log_info("materializer", "view %s: applying snapshot %s (%zu files)", v->name,
                     snap->name, snap->nfiles);
            k = run_snapshot(x, &run, snap, &p);
        }
    } else {
        /* re-read the done markers under the lease */
        mat_state_files_free(&done);
        size_t total = 0;
        for (size_t i = 0; i < l.nsnaps; i++) {
            total += l.snaps[i].nfiles;
        }
        if (mat_state_files_load(x->c, kp, v, &done, run.why, sizeof(run.why)) != FEATD_OK) {
            k = RUN_FAIL;
        } else {
            ntodo = new_files(&l, &done, csig, todo, total, &nrej_known);
            if (ntodo == 0) {
                k = -1;
            } else {
                k = run_incremental(x, &run, todo, ntodo, csig, &nrej_files, last_reject,
                                    sizeof(last_reject));
                if (k == RUN_OK && x->c && !x->c->err) {
                    files_prune(x, v, &done, &l);
                }
                if (k == RUN_OK && run.nfiles == 0 && nrej_files > 0) {
                    /* every new file was rejected: nothing applied */
                    util_strlcpy(run.why, last_reject, sizeof(run.why));
                    k = RUN_REJECT;
                    nrej_files = 0;
                }
            }
        }
    }

    double secs = (double)(util_mono_us() - run.started_mono) / 1e6;
    if (k == -1) {
        result = MR_UNCHANGED;
        snprintf(msg, msglen, "up to date (applied by another process meanwhile)");
    } else if (k == RUN_OK) {
        result = MR_APPLIED;
        if (v->mat_mode == MAT_INCREMENTAL && nrej_files > 0) {
            /* files applied, some rejected: report the rejection */
            run.snap_name = run.snap_name ? run.snap_name : "";
        }
        finish_progress(x, &run, MR_APPLIED, &p);
        if (nrej_files > 0) {
            mat_state_set_state(x->hs, MAT_STATE_REJECTED);
            mat_state_set_rejected_reason(x->hs, last_reject);
            mat_state_set_rejected_at_us(x->hs, util_now_us());
            if (progress_send(x, v, err, sizeof(err)) == FEATD_OK) {
                mat_state_count_run(x->c, kp, v, MAT_RUNS_REJECTED);
            }
        }
        log_applied(&run, &p, secs, mat_select_bytes(&x->sel));
        if (run.reclaim_old != 0 || run.reclaim_leftover != 0) {
            mat_state_set_phase(x->hs, MAT_PHASE_RECLAIM);
            if (progress_send(x, v, err, sizeof(err)) != FEATD_OK) {
                log_debug("materializer", "view %s: %s", v->name, err);
            }
            reclaim(x, v, run.reclaim_old, "previous");
            if (run.reclaim_leftover != 0) {
                reclaim(x, v, run.reclaim_leftover, "leftover");
                mat_state_set_reclaim_generation(x->hs, 0);
            }
            mat_state_set_phase(x->hs, MAT_PHASE_NONE);
            if (progress_send(x, v, err, sizeof(err)) != FEATD_OK) {
                log_debug("materializer", "view %s: %s", v->name, err);
            }
        }
        snprintf(msg, msglen, "applied %s%s (generation %" PRId64 "): %" PRIu64 " rows read, %"
                 PRIu64 " written, %" PRIu64 " stale, %" PRIu64 " expired, %" PRIu64
                 " rejected, %.2f s%s%s",
                 v->mat_mode == MAT_SNAPSHOT ? "snapshot " : "files up to ",
                 run.snap_name ? run.snap_name : "?", p.generation, run.rows[MK_READ],
                 run.rows[MK_WRITTEN], run.rows[MK_STALE], run.rows[MK_EXPIRED],
                 run.rows[MK_REJECTED], secs, nrej_files ? "; rejected file: " : "",
                 nrej_files ? last_reject : "");
        if (nrej_files > 0) {
            result = x->oneshot ? MR_REJECTED : MR_APPLIED;
        }
    } else if (k == RUN_REJECT) {
        result = MR_REJECTED;
        log_error("materializer", "view %s: snapshot %s rejected, nothing applied (generation %"
                  PRId64 " keeps serving): %s", v->name, run.snap_name ? run.snap_name : "?",
                  p.generation, run.why);
        finish_progress(x, &run, MR_REJECTED, &p);
        snprintf(msg, msglen, "rejected %s: %s", run.snap_name ? run.snap_name : "?", run.why);
    } else if (k == RUN_STOP) {
        result = MR_STOPPED;
        log_info("materializer", "view %s: stopped before finishing %s; the next start resumes",
                 v->name, run.snap_name ? run.snap_name : "the run");
        mat_state_set_state(x->hs, MAT_STATE_FAILED);
        mat_state_set_last_error(x->hs, "stopped (shutdown) before finishing");
        if (progress_send(x, v, err, sizeof(err)) != FEATD_OK) {
            drop_conn(x);
        }
        snprintf(msg, msglen, "stopped");
    } else {
        result = MR_FAILED;
        log_error("materializer", "view %s: materialization failed (will retry; the current "
                  "generation keeps serving): %s", v->name, run.why);
        if (x->c && x->c->err) {
            drop_conn(x);
        }
        if (ensure_conn(x, err, sizeof(err)) == FEATD_OK) {
            finish_progress(x, &run, MR_FAILED, &p);
        }
        snprintf(msg, msglen, "failed: %s", run.why);
    }
    if (x->c != NULL && x->c->err == 0) {
        mat_state_lease_release(x->c, kp, v);
    } else {
        drop_conn(x);
    }
    mat_state_files_free(&done);
    free(todo);
    mat_listing_free(&l);
    bool did_work = k == RUN_OK || k == RUN_REJECT || k == RUN_FAIL;
    record_stats(v, &run, result == MR_STOPPED ? MR_FAILED : result, &p, did_work, secs);
    return result;
}

/* ---- context lifecycle ---- */

static int ctx_init(struct mat_ctx *x, const struct featd_config *cfg, bool oneshot,
                    _Atomic int *stop)
{
    memset(x, 0, sizeof(*x));
    x->cfg = cfg;
    x->oneshot = oneshot;
    x->stop = stop;
    mat_select_init(&x->sel, 0);
    mat_rg_init(&x->rg);
    x->hs = mat_state_update_new();
    /* interim knob until the config has one: FEATD_MATERIALIZE_MAX_ROWS_PER_SEC */
    const char *rate = getenv("FEATD_MATERIALIZE_MAX_ROWS_PER_SEC");
    int64_t r = 0;
    if (rate != NULL && *rate != '\0' && util_parse_i64(rate, 0, INT64_MAX, &r)) {
        x->max_rows_per_sec = (uint64_t)r;
    }
    return x->hs ? FEATD_OK : FEATD_ERR;
}

static void ctx_free(struct mat_ctx *x)
{
    drop_conn(x);
    mat_select_free(&x->sel);
    mat_rg_free(&x->rg);
    mat_state_update_free(x->hs);
    free(x->win);
    free(x->ri);
    memset(x, 0, sizeof(*x));
}

/* Releases the selection table's memory between runs when it is big. */
static void ctx_trim(struct mat_ctx *x)
{
    if (mat_select_bytes(&x->sel) > (64u << 20)) {
        mat_select_free(&x->sel);
    }
}

/* ---- the thread ---- */

static pthread_t mat_thread;
static bool mat_started;
static _Atomic int mat_stop_flag;
static pthread_mutex_t mat_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t mat_cond = PTHREAD_COND_INITIALIZER;
static struct registry *mat_reg;        /* guarded by mat_lock */

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
                ctx_free(&x);
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
            if (ctx_init(&x, cfg, false, &mat_stop_flag) != FEATD_OK) {
                log_error("materializer", "out of memory; materializer stopped");
                break;
            }
            have_ctx = true;
            pthread_mutex_lock(&stats_lock);
            for (size_t i = 0; i < nstats; i++) {
                stats[i].live = config_find_view(cfg, stats[i].name) != NULL &&
                                config_find_view(cfg, stats[i].name)->source_path != NULL;
            }
            pthread_mutex_unlock(&stats_lock);
        }
        int64_t next = util_mono_us() + 1000000;
        for (size_t i = 0; i < cfg->nviews && !atomic_load(&mat_stop_flag); i++) {
            const struct cfg_view *v = &cfg->views[i];
            if (v->source_path == NULL) {
                continue;
            }
            int64_t now = util_mono_us();
            pthread_mutex_lock(&stats_lock);
            struct mat_vstat *s = vstat_get(v->name);
            int64_t due = s ? s->next_due_us : 0;
            if (s) {
                s->live = true;
            }
            pthread_mutex_unlock(&stats_lock);
            if (now < due) {
                if (due < next) {
                    next = due;
                }
                continue;
            }
            char msg[1536];
            int r = mat_view_poll(&x, v, msg, sizeof(msg));
            ctx_trim(&x);
            int64_t interval = v->mat_interval_seconds * 1000000;
            pthread_mutex_lock(&stats_lock);
            s = vstat_get(v->name);
            if (s) {
                int64_t delay = interval;
                if (r == MR_FAILED) {
                    s->backoff_us = s->backoff_us ? s->backoff_us * 2 : MAT_BACKOFF_MIN_US;
                    if (s->backoff_us > interval) {
                        s->backoff_us = interval;
                    }
                    delay = s->backoff_us;
                } else {
                    s->backoff_us = 0;
                    if (r == MR_BUSY && delay > MAT_BUSY_RETRY_US) {
                        delay = MAT_BUSY_RETRY_US;
                    }
                }
                s->next_due_us = util_mono_us() + delay;
                if (s->next_due_us < next) {
                    next = s->next_due_us;
                }
            }
            pthread_mutex_unlock(&stats_lock);
        }
        /* sleep until the next view is due, a reload, or stop */
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
    if (have_ctx) {
        ctx_free(&x);
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
    if (ctx_init(&x, cfg, true, NULL) != FEATD_OK) {
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
        int r = mat_view_poll(&x, v, msg, sizeof(msg));
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
    ctx_free(&x);
    return status;
}

/* ---- metrics ---- */

/* Append helpers of mat_metrics_write: on OOM set rc and jump to done. */
#define MW(...) do { \
        if (fbuf_appendf(out, __VA_ARGS__) != FEATD_OK) { rc = FEATD_ERR; goto done; } \
    } while (0)
#define MLABEL(n) do { \
        if (prom_label(out, (n)) != FEATD_OK) { rc = FEATD_ERR; goto done; } \
    } while (0)

int mat_metrics_write(struct fbuf *out)
{
    int rc = FEATD_OK;
    int64_t now = util_now_us();
    pthread_mutex_lock(&stats_lock);
    MW("# HELP featd_materializer_rows_total Rows handled by the materializer, by outcome\n"
       "# TYPE featd_materializer_rows_total counter\n");
    for (size_t i = 0; i < nstats; i++) {
        if (!stats[i].live) {
            continue;
        }
        for (int k = 0; k < MK__N; k++) {
            MW("featd_materializer_rows_total{view=\"");
            MLABEL(stats[i].name);
            MW("\",kind=\"%s\"} %" PRIu64 "\n", kind_names[k], stats[i].rows[k]);
        }
    }
    MW("# HELP featd_materializer_runs_total Materialization polls, by result\n"
       "# TYPE featd_materializer_runs_total counter\n");
    for (size_t i = 0; i < nstats; i++) {
        if (!stats[i].live) {
            continue;
        }
        for (int k = 0; k < MR__N; k++) {
            MW("featd_materializer_runs_total{view=\"");
            MLABEL(stats[i].name);
            MW("\",result=\"%s\"} %" PRIu64 "\n", result_names[k], stats[i].runs[k]);
        }
    }
    MW("# HELP featd_materializer_last_success_timestamp_seconds When the view was last "
       "materialized successfully (by any replica)\n"
       "# TYPE featd_materializer_last_success_timestamp_seconds gauge\n");
    for (size_t i = 0; i < nstats; i++) {
        if (stats[i].live && stats[i].last_success_us > 0) {
            MW("featd_materializer_last_success_timestamp_seconds{view=\"");
            MLABEL(stats[i].name);
            MW("\"} %.3f\n", (double)stats[i].last_success_us / 1e6);
        }
    }
    MW("# HELP featd_materializer_lag_seconds Now minus the newest event time materialized\n"
       "# TYPE featd_materializer_lag_seconds gauge\n");
    for (size_t i = 0; i < nstats; i++) {
        if (stats[i].live && stats[i].max_event_us != INT64_MIN && stats[i].max_event_us != 0) {
            MW("featd_materializer_lag_seconds{view=\"");
            MLABEL(stats[i].name);
            MW("\"} %.3f\n", (double)(now - stats[i].max_event_us) / 1e6);
        }
    }
    MW("# HELP featd_materializer_duration_seconds Duration of the last run that did work\n"
       "# TYPE featd_materializer_duration_seconds gauge\n");
    for (size_t i = 0; i < nstats; i++) {
        if (stats[i].live && stats[i].duration_s >= 0) {
            MW("featd_materializer_duration_seconds{view=\"");
            MLABEL(stats[i].name);
            MW("\"} %.3f\n", stats[i].duration_s);
        }
    }
    MW("# HELP featd_materializer_generation Current generation of the view\n"
       "# TYPE featd_materializer_generation gauge\n");
    for (size_t i = 0; i < nstats; i++) {
        if (stats[i].live && stats[i].generation > 0) {
            MW("featd_materializer_generation{view=\"");
            MLABEL(stats[i].name);
            MW("\"} %" PRIu64 "\n", stats[i].generation);
        }
    }
    MW("# HELP featd_materializer_up 1 when the view's last poll succeeded, 0 when it failed "
       "or its snapshot was rejected\n"
       "# TYPE featd_materializer_up gauge\n");
    for (size_t i = 0; i < nstats; i++) {
        if (stats[i].live && stats[i].up >= 0) {
            MW("featd_materializer_up{view=\"");
            MLABEL(stats[i].name);
            MW("\"} %d\n", stats[i].up);
        }
    }
done:
    pthread_mutex_unlock(&stats_lock);
    return rc;
}
