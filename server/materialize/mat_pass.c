/*
 * mat_pass.c — the two passes of a run over Parquet files (contract in
 * mat_pass.h): pass 1 reads join keys and timestamps and keeps the latest
 * row per entity (mat_select); pass 2 re-reads and writes the winners
 * through the online writer. Materializer thread (or one-shot) only.
 */
#include "materialize/mat_pass.h"

#include "materialize/mat_quality.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"
#include "core/util.h"
#include "materialize/mat_stats.h"
#include "online/online_writer.h"
#include "parquet/parquet.h"

#define MAT_MAX_LOGGED_REJECTS 5        /* row rejections logged per run */
#define MAT_PROGRESS_EVERY_US 1000000   /* pending progress update period */

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
        mat_ctx_run_err(run, "file %s vanished while materializing", f->name);
        return RUN_FAIL;
    }
    int64_t m = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    if ((int64_t)st.st_size != f->size || m != f->mtime_ns) {
        mat_ctx_run_err(run, "file %s changed while materializing; retrying", f->name);
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
        mat_ctx_run_err(run, "file %s is empty (0 bytes)", f->name);
        return RUN_REJECT;
    }
    if (pq_open_file(f->path, NULL, pf, err, sizeof(err)) != FEATD_OK) {
        mat_ctx_run_err(run, "file %s: %s", f->name, err);
        return RUN_REJECT;
    }
    if (mat_bind(*pf, run->v, b, err, sizeof(err)) != FEATD_OK) {
        mat_ctx_run_err(run, "file %s: schema mismatch: %s", f->name, err);
        pq_close(*pf);
        *pf = NULL;
        mat_bind_free(b);
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
    if (mat_ctx_stopping(x)) {
        return RUN_STOP;
    }
    int k = mat_ctx_lease_keep(x, run, false, w);
    if (k != RUN_OK) {
        return k;
    }
    char err[768];
    if (mat_rg_read_keys(&x->rg, pf, b, rg, err, sizeof(err)) != FEATD_OK) {
        mat_ctx_run_err(run, "file %s: row group %d: %s", f->name, rg, err);
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
int mat_pass_select(struct mat_ctx *x, struct mat_run *run, const struct mat_file *files,
                    size_t n, uint64_t *base)
{
    const struct cfg_view *v = run->v;
    mat_select_clear(&x->sel);
    uint64_t ord = 0;
    int64_t now_ms = util_now_us() / 1000;
    struct online_key keys[64];
    if (v->nkeys > FEATD_ARRAY_LEN(keys)) {
        mat_ctx_run_err(run, "view has more than 64 join keys");
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
                mat_ctx_run_err(run, "out of memory");
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
                int64_t at = online_row_expire_at_ms(v, ri->ev);
                if (at != 0 && at <= now_ms) {
                    ri->st = 2;
                    run->rows[MK_EXPIRED]++;
                    continue;
                }
                ri->st = 1;
                mat_select_hash_entity(v, keys, &ri->h);
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
                    mat_ctx_run_err(run, "out of memory selecting the latest rows (%zu entities)",
                            mat_select_count(&x->sel));
                    k = RUN_FAIL;
                    break;
                }
                if (rc != FEATD_OK) {
                    mat_ctx_run_err(run, "more than %zu distinct entities", x->sel.max_entities);
                    k = RUN_REJECT;
                    break;
                }
                if (replaced) {
                    run->rows[MK_STALE]++;
                }
            }
        }
        pq_close(pf);
        mat_bind_free(&b);
        if (k != RUN_OK) {
            return k;
        }
    }
    base[n] = ord;
    run->entities = mat_select_count(&x->sel);
    return RUN_OK;
}

/* Updates pending progress (files done, rows so far, counting those written
 * before a resume); at a file's end (file_end) also the rows of the
 * complete files, which a resume verifies. */
static void pending_progress(struct mat_ctx *x, struct mat_run *run, size_t files_done,
                             const struct online_writer *w, bool file_end)
{
    int64_t rows = (int64_t)(run->rows_base + online_writer_written(w));
    mat_state_set_pending_files_done(x->hs, (int64_t)files_done);
    mat_state_set_rows_written(x->hs, rows);
    if (file_end) {
        mat_state_set_pending_rows_done(x->hs, rows);
    }
    char err[256];
    if (mat_ctx_progress_send(x, run->v, err, sizeof(err)) != FEATD_OK) {
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
int mat_pass_write(struct mat_ctx *x, struct mat_run *run, const struct mat_file *files,
                   size_t n, size_t from, const uint64_t *base, struct online_writer *w,
                   uint64_t gen, bool upsert)
{
    const struct cfg_view *v = run->v;
    struct online_key keys[64];
    struct online_value *vals = calloc(v->nfeatures ? v->nfeatures : 1, sizeof(*vals));
    if (vals == NULL) {
        mat_ctx_run_err(run, "out of memory");
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
                    mat_ctx_run_err(run, "out of memory");
                    k = RUN_FAIL;
                    break;
                }
                x->win = nw;
                x->cap_win = nr;
            }
            if (rowinfo_reserve(x, nr) != FEATD_OK) {
                mat_ctx_run_err(run, "out of memory");
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
                mat_select_hash_entity(v, keys, &ri->h);
                mat_select_prefetch(&x->sel, &ri->h);
            }
            for (size_t r = 0; r < nr; r++) {
                x->win[r] = x->ri[r].st == 1 && mat_select_is_winner(&x->sel, &x->ri[r].h, ord + r);
                nwin += x->win[r];
            }
            if (nwin > 0) {
                if (mat_rg_read_features(&x->rg, pf, rg, err, sizeof(err)) != FEATD_OK) {
                    mat_ctx_run_err(run, "file %s: row group %d: %s", files[i].name, rg, err);
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
                        mat_ctx_run_err(run, "%s", err);
                        k = RUN_FAIL;
                        break;
                    }
                    if (run->q != NULL) {
                        mat_quality_row(run->q, keys, vals);    /* profile + expect rules */
                    }
                    if (ttl_us > 0 && mat_stats_age_us(now_us, ev) > ttl_us) {
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
                    mat_ctx_run_err(run, "%s", err);
                    k = RUN_FAIL;
                    break;
                }
                pending_progress(x, run, i, w, false);
            }
        }
        pq_close(pf);
        mat_bind_free(&b);
        if (k != RUN_OK) {
            break;
        }
        char err[512];
        if (online_writer_flush(w, err, sizeof(err)) != FEATD_OK) {
            mat_ctx_run_err(run, "%s", err);
            k = RUN_FAIL;
            break;
        }
        if (!upsert) {
            pending_progress(x, run, i + 1, w, true);
        }
    }
    free(vals);
    return k;
}

