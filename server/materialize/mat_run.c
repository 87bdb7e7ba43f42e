/*
 * mat_run.c — one run of one view (contract in mat_run.h): a snapshot into
 * a new generation then the flip, or incremental files upserted into the
 * view's generation; reclaim of replaced generations; the end-of-run
 * progress record. Materializer thread (or one-shot) only.
 */
#include "materialize/mat_run.h"

#include "materialize/mat_gate.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/util.h"
#include "materialize/mat_pass.h"
#include "online/online_check.h"
#include "online/online_gen.h"
#include "online/online_writer.h"
#include "redis/rhealth.h"

/* ---- snapshot mode ---- */

/* Waits until ONLINE_RECLAIM_DELAY_MS have passed since flipped_mono (a
 * lookup that read the old generation's pointer may still be reading its
 * rows until then; online_gen.h), in short naps that notice a stop. */
static void mat_run_wait_reclaim_delay(struct mat_ctx *x, int64_t flipped_mono)
{
    int64_t due = flipped_mono + (int64_t)ONLINE_RECLAIM_DELAY_MS * 1000;
    for (int64_t now = util_mono_us(); now < due && !(x->stop && atomic_load(x->stop));
         now = util_mono_us()) {
        int64_t nap = due - now < 20000 ? due - now : 20000;
        struct timespec ts = { 0, (long)nap * 1000 };
        nanosleep(&ts, NULL);
    }
}

/* Reclaims gen (best effort; logged). flipped_mono: when gen stopped being
 * current (monotonic µs), 0 when it never was or long ago. */
void mat_run_reclaim(struct mat_ctx *x, const struct cfg_view *v, uint64_t gen, const char *what,
                     int64_t flipped_mono)
{
    if (gen == 0 || x->rc == NULL) {
        return;
    }
    if (flipped_mono != 0) {
        mat_run_wait_reclaim_delay(x, flipped_mono);
    }
    char err[512];
    uint64_t del = 0;
    int64_t t0 = util_mono_us();
    if (online_gen_reclaim_rb(x->rc, x->cfg->redis.key_prefix, v, gen, MAT_RECLAIM_COUNT, true,
                              x->stop,
                                 &del, err, sizeof(err)) !=
        FEATD_OK) {
        log_warn("materializer", "view %s: reclaiming %s generation %" PRIu64 " failed: %s",
                 v->name, what, gen, err);
        mat_state_set_reclaim_generation(x->hs, (int64_t)gen);
        if (mat_ctx_progress_send(x, v, err, sizeof(err)) != FEATD_OK) {
            log_debug("materializer", "view %s: %s", v->name, err);
        }
        return;
    }
    log_info("materializer", "view %s: reclaimed %s generation %" PRIu64 " (%" PRIu64
             " rows, %.1f ms)", v->name, what, gen, del, (double)(util_mono_us() - t0) / 1000.0);
}

/* After a crash between the flip and the final progress write: the flip
 * happened, so record the pending snapshot as applied. */
void mat_run_recover_flipped(struct mat_ctx *x, const struct cfg_view *v, struct mat_progress *p)
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
    if (mat_ctx_progress_send(x, v, err, sizeof(err)) == FEATD_OK) {
        util_strlcpy(p->snapshot, p->pending_snapshot, sizeof(p->snapshot));
        util_strlcpy(p->snapshot_sig, p->pending_sig, sizeof(p->snapshot_sig));
        p->generation = p->pending_generation;
        p->pending_generation = 0;
        p->pending_sig[0] = '\0';
        if (p->prev_generation != 0 && p->prev_generation != p->generation) {
            /* flipped by an earlier run, maybe moments ago: wait as after our own flip */
            mat_run_reclaim(x, v, (uint64_t)p->prev_generation, "previous", util_mono_us());
        }
    }
}

/* Reclaims the view's registered generations whose writer stopped renewing
 * them (died, or lost its lease) over ONLINE_BUILD_LEASE_MS ago, except
 * the current one. Best effort (logged). The run holds the view's lease. */
static void mat_run_sweep_dead(struct mat_ctx *x, const struct cfg_view *v, uint64_t cur)
{
    uint64_t dead[16];
    size_t n = 0;
    char err[512];
    const char *kp = x->cfg->redis.key_prefix;
    if (online_gen_building_dead(mat_ctx_vc(x, v), kp, v, util_now_us() / 1000, dead, 16, &n, err,
                                 sizeof(err)) != FEATD_OK) {
        log_debug("materializer", "view %s: %s", v->name, err);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (dead[i] != cur) {
            log_warn("materializer", "view %s: generation %" PRIu64 " was being written by a "
                     "run that stopped renewing it over %d s ago; reclaiming its rows", v->name,
                     dead[i], ONLINE_BUILD_LEASE_MS / 1000);
            mat_run_reclaim(x, v, dead[i], "dead", 0);
        }
        if (online_gen_building_clear(mat_ctx_vc(x, v), kp, v, dead[i], err,
                                      sizeof(err)) != FEATD_OK) {
            log_debug("materializer", "view %s: %s", v->name, err);
        }
    }
}

/* False (run->why says why) when gen is no longer registered as being
 * written: its registration expired and another run may have reclaimed
 * rows of it, or Redis lost it (FLUSHALL). */
static bool mat_run_still_registered(struct mat_ctx *x, struct mat_run *run, uint64_t gen)
{
    bool reg = false;
    if (online_gen_building_has(mat_ctx_vc(x, run->v), x->cfg->redis.key_prefix, run->v, gen,
                                &reg, run->why,
                                sizeof(run->why)) != FEATD_OK) {
        return false;
    }
    if (!reg) {
        mat_ctx_run_err(run, "generation %" PRIu64 " is no longer registered as being written "
                        "(its registration expired, or Redis lost it): not flipping to it", gen);
    }
    return reg;
}

/* True (run->why says why) when Redis evicted keys since the run started
 * (or INFO failed): generation gen may miss rows. */
static bool mat_run_evicted_meanwhile(struct mat_ctx *x, struct mat_run *run, uint64_t gen)
{
    if (!run->evicted_known) {
        return false;
    }
    struct rhealth_sample hs;
    if (online_check_eviction_rb(x->rc, &hs, run->why, sizeof(run->why)) != FEATD_OK) {
        return true;
    }
    if (hs.have_evicted && hs.evicted_keys > run->evicted_at_start) {
        mat_ctx_run_err(run, "redis evicted %" PRIu64 " keys while generation %" PRIu64 " was "
                        "written: not flipping to a generation that may miss rows (it is "
                        "removed; give Redis more memory or set maxmemory-policy noeviction)",
                        hs.evicted_keys - run->evicted_at_start, gen);
        return true;
    }
    return false;
}

int mat_run_snapshot(struct mat_ctx *x, struct mat_run *run, const struct mat_snapshot *snap,
                     struct mat_progress *p)
{
    struct mat_quality gq = { 0 };
    struct mat_quality_ref gref = { 0 };
    bool abandon = false;       /* the pending generation must not be resumed */
    const struct cfg_view *v = run->v;
    const char *kp = x->cfg->redis.key_prefix;
    char err[512];
    run->nfiles = snap->nfiles;
    run->snap_name = snap->name;
    if (snap->nfiles == 0) {
        mat_ctx_run_err(run, "snapshot %s has no data files (*.parquet)", snap->name);
        return RUN_REJECT;
    }
    uint64_t *base = calloc(snap->nfiles + 1, sizeof(*base));
    if (base == NULL) {
        mat_ctx_run_err(run, "out of memory");
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
    if (mat_ctx_progress_send(x, v, run->why, sizeof(run->why)) != FEATD_OK) {
        goto out;
    }

    int64_t t_sel = util_mono_us();
    k = mat_pass_select(x, run, snap->files, snap->nfiles, base);
    if (k != RUN_OK) {
        goto out;
    }
    log_info("materializer", "view %s: selected %zu entities from %" PRIu64 " rows in %.2f s "
             "(selection table %zu bytes, %.1f bytes/entity)", v->name, mat_select_count(&x->sel),
             base[snap->nfiles], (double)(util_mono_us() - t_sel) / 1e6,
             mat_select_bytes(&x->sel), mat_select_count(&x->sel)
                 ? (double)mat_select_bytes(&x->sel) / (double)mat_select_count(&x->sel) : 0.0);
    if (base[snap->nfiles] == 0) {
        mat_ctx_run_err(run, "snapshot %s has no rows; refusing to empty the view", snap->name);
        k = RUN_REJECT;
        goto out;
    }

    /* the generation to write: the pending one of this very snapshot, or
     * a new one (reclaiming an abandoned one first) */
    size_t from = 0;
    uint64_t cur = 0;
    if (online_gen_current(mat_ctx_vc(x, v), kp, v, &cur, run->why, sizeof(run->why)) != FEATD_OK) {
        k = RUN_FAIL;
        goto out;
    }
    mat_run_sweep_dead(x, v, cur);
    /* a generation held by the quality gate for another snapshot is superseded */
    if (p->held_generation > 0 && strcmp(p->held_sig, run->ident_hex) != 0) {
        if (online_gen_held_set(mat_ctx_vc(x, v), kp, v, 0, err, sizeof(err)) != FEATD_OK) {
            log_debug("materializer", "view %s: %s", v->name, err);
        }
        mat_run_reclaim(x, v, (uint64_t)p->held_generation, "held and superseded", 0);
        mat_state_profile_forget(mat_ctx_vc(x, v), kp, v, (uint64_t)p->held_generation);
        mat_state_set_held_generation(x->hs, 0);
        mat_state_set_held_snapshot(x->hs, "");
        mat_state_set_held_sig(x->hs, "");
        p->held_generation = 0;
    }
    bool gate = mat_gate_wanted(v);
    if (gate && (k = mat_gate_begin(x, run, cur, &gq, &gref)) != RUN_OK) {
        goto out;
    }
    /* a generation Redis may have evicted rows of since it began, or whose
     * registration expired (its writer died long ago; swept above), is not
     * resumed */
    bool evicted_since = run->evicted_known &&
                         p->pending_evicted_keys != (int64_t)run->evicted_at_start;
    bool registered = false;
    if (p->pending_generation > 0 &&
        online_gen_building_has(mat_ctx_vc(x, v), kp, v, (uint64_t)p->pending_generation,
                                &registered,
                                run->why, sizeof(run->why)) != FEATD_OK) {
        k = RUN_FAIL;
        goto out;
    }
    evicted_since = evicted_since || !registered;
    bool same = p->pending_generation > 0 && (uint64_t)p->pending_generation != cur &&
                strcmp(p->pending_sig, run->ident_hex) == 0;
    char no_resume[256] = "";
    if (same && gate && p->pending_files_done > 0) {
        snprintf(no_resume, sizeof(no_resume), "the quality gate profiles every row of a snapshot");
    }
    if (same && !no_resume[0] && evicted_since) {
        snprintf(no_resume, sizeof(no_resume), "%s", registered
                 ? "Redis evicted keys since it was begun" : "it is no longer registered as being written");
    }
    if (same && !no_resume[0] && p->pending_files_done > 0 && p->pending_rows_done > 0) {
        /* trust Redis, not the progress record: the rows of the files
         * recorded as done must all be there */
        uint64_t present = 0;
        int64_t t_count = util_mono_us();
        if (online_gen_count_rows_rb(x->rc, kp, v, (uint64_t)p->pending_generation, x->stop,
                                     &present,
                                  run->why, sizeof(run->why)) != FEATD_OK) {
            k = RUN_FAIL;
            goto out;
        }
        log_info("materializer", "view %s: generation %" PRId64 " has %" PRIu64 " rows in Redis, "
                 "%" PRId64 " recorded for its %" PRId64 " complete files (counted in %.2f s)",
                 v->name, p->pending_generation, present, p->pending_rows_done,
                 p->pending_files_done, (double)(util_mono_us() - t_count) / 1e6);
        /* the rows written up to the last progress record (the complete
         * files and what the periodic record saw of the next one): rows of
         * the partial file must not make up for rows lost from done files */
        int64_t recorded = p->rows_written > p->pending_rows_done ? p->rows_written
                                                                  : p->pending_rows_done;
        if (present < (uint64_t)recorded) {
            snprintf(no_resume, sizeof(no_resume), "only %" PRIu64 " of the %" PRId64 " rows "
                     "recorded as written are in Redis", present, recorded);
        }
    }
    if (same && no_resume[0]) {
        log_warn("materializer", "view %s: not resuming generation %" PRId64 " of snapshot %s: %s; "
                 "writing the snapshot anew", v->name, p->pending_generation, snap->name, no_resume);
    }
    if (same && !no_resume[0]) {
        gen = (uint64_t)p->pending_generation;
        from = p->pending_files_done > 0 && (uint64_t)p->pending_files_done <= snap->nfiles
                   ? (size_t)p->pending_files_done : 0;
        run->rows_base = from > 0 && p->pending_rows_done > 0 ? (uint64_t)p->pending_rows_done : 0;
        log_info("materializer", "view %s: resuming generation %" PRIu64 " of snapshot %s "
                 "(%zu of %zu files already written)", v->name, gen, snap->name, from,
                 snap->nfiles);
    } else {
        if (p->pending_generation > 0 && (uint64_t)p->pending_generation != cur) {
            mat_run_reclaim(x, v, (uint64_t)p->pending_generation, "abandoned", 0);
        }
        if (online_gen_alloc_rb(x->rc, kp, v, &gen, run->why, sizeof(run->why)) != FEATD_OK) {
            k = RUN_FAIL;
            goto out;
        }
        mat_state_set_pending_evicted_keys(x->hs, (int64_t)run->evicted_at_start);
    }
    /* registered as being written until the flip (renewed with the lease) */
    if (online_gen_building_mark(mat_ctx_vc(x, v), kp, v, gen, run->why,
                                 sizeof(run->why)) != FEATD_OK) {
        k = RUN_FAIL;
        goto out;
    }
    run->building_gen = gen;
    mat_state_set_phase(x->hs, MAT_PHASE_WRITE);
    mat_state_set_pending_generation(x->hs, (int64_t)gen);
    mat_state_set_pending_sig(x->hs, run->ident_hex);
    mat_state_set_pending_snapshot(x->hs, snap->name);
    mat_state_set_pending_files_done(x->hs, (int64_t)from);
    mat_state_set_pending_rows_done(x->hs, (int64_t)run->rows_base);
    mat_state_set_rows_written(x->hs, (int64_t)run->rows_base);
    if (mat_ctx_progress_send(x, v, run->why, sizeof(run->why)) != FEATD_OK) {
        k = RUN_FAIL;
        goto out;
    }
    p->pending_generation = (int64_t)gen;
    run->progress_mono = util_mono_us();
    w = online_writer_new_rb(x->rc, kp, v, MAT_WRITE_BATCH);
    if (w == NULL) {
        mat_ctx_run_err(run, "out of memory");
        k = RUN_FAIL;
        goto out;
    }
    mat_ctx_pace_start(x, w);      /* rate limit (materialize.pacing) */
    k = mat_pass_write(x, run, snap->files, snap->nfiles, from, base, w, gen, false);
    if (k != RUN_OK) {
        /* Redis full (noeviction): the partial generation goes, so that
         * Redis has room again for everything else (issue 12) */
        abandon = k == RUN_FAIL && strstr(run->why, "OOM ") != NULL;
        goto out;
    }
    run->rows[MK_WRITTEN] = online_writer_written(w);
    if (run->q != NULL) {
        bool hold;
        if ((k = mat_gate_judge(x, run, gen, run->q, &gref, &hold)) != RUN_OK) {
            goto out;
        }
        if (hold) {
            /* kept, not flipped, no longer "being written" (so never swept):
             * promote, rollback or a newer snapshot decides */
            run->building_gen = 0;
            if (online_gen_building_clear(mat_ctx_vc(x, v), kp, v, gen, err, sizeof(err)) !=
                FEATD_OK) {
                log_debug("materializer", "view %s: %s", v->name, err);
            }
            if (online_gen_held_set(mat_ctx_vc(x, v), kp, v, gen, err, sizeof(err)) != FEATD_OK) {
                log_warn("materializer", "view %s: the held pointer: %s (shadow reads see no "
                         "held generation)", v->name, err);
            }
            mat_state_set_held_generation(x->hs, (int64_t)gen);
            mat_state_set_held_snapshot(x->hs, snap->name);
            mat_state_set_held_sig(x->hs, run->ident_hex);
            mat_state_set_held_at_us(x->hs, util_now_us());
            mat_state_set_pending_generation(x->hs, 0);
            mat_state_set_pending_sig(x->hs, "");
            mat_state_set_pending_snapshot(x->hs, "");
            p->pending_generation = 0;
            p->held_generation = (int64_t)gen;
            k = RUN_HELD;
            goto out;
        }
    }

    /* flip: only while the lease is still ours, and only when Redis
     * evicted nothing meanwhile (the generation could be incomplete) */
    if ((k = mat_ctx_lease_keep(x, run, true, NULL)) != RUN_OK) {
        goto out;
    }
    if (mat_run_evicted_meanwhile(x, run, gen) || !mat_run_still_registered(x, run, gen)) {
        k = RUN_FAIL;
        abandon = true;
        goto out;
    }
    mat_state_set_phase(x->hs, MAT_PHASE_FLIP);
    mat_state_set_prev_generation(x->hs, (int64_t)cur);
    mat_state_set_prev_snapshot(x->hs, p->snapshot);
    mat_state_set_prev_sig(x->hs, p->snapshot_sig);
    if (mat_ctx_progress_send(x, v, run->why, sizeof(run->why)) != FEATD_OK) {
        k = RUN_FAIL;
        goto out;
    }
    uint64_t old = 0;
    if (online_gen_flip(mat_ctx_vc(x, v), kp, v, gen, &old, run->why,
                        sizeof(run->why)) != FEATD_OK) {
        k = RUN_FAIL;
        goto out;
    }
    run->flipped_mono = util_mono_us();
    run->building_gen = 0;
    if (online_gen_building_clear(mat_ctx_vc(x, v), kp, v, gen, err, sizeof(err)) != FEATD_OK) {
        log_debug("materializer", "view %s: %s (a later sweep ignores current generations)",
                  v->name, err);
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
    mat_state_set_held_generation(x->hs, 0);
    mat_state_set_held_snapshot(x->hs, "");
    mat_state_set_held_sig(x->hs, "");
    if (mat_ctx_progress_send(x, v, err, sizeof(err)) != FEATD_OK) {
        log_warn("materializer", "view %s: flipped to generation %" PRIu64 " but recording it "
                 "failed (%s); the next run records it", v->name, gen, err);
    }
    /* deleted after the run is recorded (mat_poll_view), so that the
     * status says "applied" while the old rows go */
    run->reclaim_old = old != gen ? old : 0;
    if (v->quality.has && v->quality.keep_generations >= 2) {
        /* the replaced generation stays for `featd-cli materialize rollback`;
         * the one it replaced goes */
        uint64_t older = (uint64_t)p->prev_generation;
        run->reclaim_old = older != 0 && older != gen && older != old ? older : 0;
    }
    run->reclaim_leftover = (uint64_t)p->reclaim_generation != gen
                                ? (uint64_t)p->reclaim_generation : 0;
out:
    online_writer_free(w);
    run->building_gen = 0;
    if (run->q != NULL) {
        mat_quality_free(run->q);
        run->q = NULL;
    }
    mat_quality_ref_free(&gref);
    if (k == RUN_FAIL && !abandon && gen != 0 && mat_ctx_live(x)) {
        /* a failed run's generation is kept for a resume only while it is
         * still registered (after a FLUSHALL it is not: its rows go now) */
        bool reg = false;
        abandon = online_gen_building_has(mat_ctx_vc(x, v), kp, v, gen, &reg, err,
                                          sizeof(err)) == FEATD_OK &&
                  !reg;
    }
    if ((k == RUN_REJECT || abandon) && p->pending_generation > 0 &&
        (uint64_t)p->pending_generation != cur && mat_ctx_live(x)) {
        /* nothing of a rejected snapshot may linger, nor be resumed after
         * an eviction, nor fill a Redis that ran out of memory */
        mat_run_reclaim(x, v, (uint64_t)p->pending_generation,
                        abandon ? "incomplete" : "rejected", 0);
        mat_state_set_pending_generation(x->hs, 0);
        mat_state_set_pending_sig(x->hs, "");
        mat_state_set_pending_snapshot(x->hs, "");
    }
    free(base);
    return k;
}

/* ---- incremental mode ---- */

/* Collects the complete, not yet done (nor rejected) files in order. */
size_t mat_run_new_files(const struct mat_listing *l, const struct mat_files *d, uint64_t csig,
                         const struct mat_file **out, size_t cap, size_t *nrejected)
{
    size_t n = 0;
    *nrejected = 0;
    for (size_t i = 0; i < l->nsnaps; i++) {
        const struct mat_snapshot *s = &l->snaps[i];
        for (size_t j = 0; s->complete && j < s->nfiles; j++) {
            char hex[20];
            mat_ctx_file_ident(&s->files[j], csig, hex);
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
void mat_run_files_prune(struct mat_ctx *x, const struct cfg_view *v, const struct mat_files *d,
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
            mat_state_file_forget(mat_ctx_vc(x, v), x->cfg->redis.key_prefix, v, fname, flen);
        }
    }
}

int mat_run_incremental(struct mat_ctx *x, struct mat_run *run, const struct mat_file **files,
                        size_t nfiles, uint64_t csig, size_t *nrejected_files, char *last_reject,
                        size_t last_reject_len)
{
    const struct cfg_view *v = run->v;
    const char *kp = x->cfg->redis.key_prefix;
    *nrejected_files = 0;
    mat_state_set_state(x->hs, MAT_STATE_RUNNING);
    mat_state_set_phase(x->hs, MAT_PHASE_WRITE);
    mat_state_set_mode(x->hs, MAT_MODE_INCREMENTAL);
    mat_state_set_owner(x->hs, mat_state_lease_self());
    mat_state_set_started_at_us(x->hs, run->started_us);
    if (mat_ctx_progress_send(x, v, run->why, sizeof(run->why)) != FEATD_OK) {
        return RUN_FAIL;
    }
    uint64_t gen = 0;
    if (online_gen_ensure_rb(x->rc, kp, v, &gen, run->why, sizeof(run->why)) != FEATD_OK) {
        return RUN_FAIL;
    }
    struct online_writer *ow = online_writer_new_rb(x->rc, kp, v, MAT_WRITE_BATCH);
    if (ow == NULL) {
        mat_ctx_run_err(run, "out of memory");
        return RUN_FAIL;
    }
    mat_ctx_pace_start(x, ow);     /* rate limit (materialize.pacing) */
    int k = RUN_OK;
    for (size_t i = 0; i < nfiles && k == RUN_OK; i++) {
        const struct mat_file *f = files[i];
        struct mat_run fr = *run;   /* per-file scratch for reasons */
        memset(fr.rows, 0, sizeof(fr.rows));
        fr.logged_rejects = run->logged_rejects;
        uint64_t base[2];
        uint64_t written0 = online_writer_written(ow), skipped0 = online_writer_skipped(ow);
        int fk = mat_pass_select(x, &fr, f, 1, base);
        if (fk == RUN_OK) {
            fk = mat_pass_write(x, &fr, f, 1, 0, base, ow, gen, true);
        }
        run->logged_rejects = fr.logged_rejects;
        char hex[20];
        mat_ctx_file_ident(f, csig, hex);
        char err[512];
        if (fk == RUN_REJECT) {
            /* a file refused halfway (a later row group did not read): its
             * sent batches stay upserted (last write wins), the rest is
             * dropped so that it does not go out with the next file */
            online_writer_discard(ow);
            uint64_t part = online_writer_written(ow) - written0;
            (*nrejected_files)++;
            util_strlcpy(last_reject, fr.why, last_reject_len);
            if (part == 0) {
                log_error("materializer", "view %s: file %s rejected, nothing of it written: %s",
                          v->name, f->name, fr.why);
            } else {
                log_error("materializer", "view %s: file %s rejected after %" PRIu64 " of its rows "
                          "were upserted: %s", v->name, f->name, part, fr.why);
            }
            if (mat_state_file_rejected(mat_ctx_vc(x, v), kp, v, f->name, hex, fr.why, err,
                                        sizeof(err)) !=
                FEATD_OK) {
                mat_ctx_run_err(run, "%s", err);
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
        if (mat_state_file_done(mat_ctx_vc(x, v), kp, v, f->name, hex, wr, util_now_us(), err,
                                sizeof(err)) != FEATD_OK) {
            mat_ctx_run_err(run, "%s", err);
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

/* Writes the end-of-run progress fields (the run did work). */
void mat_run_finish(struct mat_ctx *x, const struct mat_run *run, int result,
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
    } else if (result == MR_HELD) {
        mat_state_set_state(x->hs, MAT_STATE_HELD);
        mat_state_set_last_error(x->hs, "");
    } else if (result == MR_REJECTED) {
        mat_state_set_state(x->hs, MAT_STATE_REJECTED);
        mat_state_set_rejected_snapshot(x->hs, run->snap_name ? run->snap_name : "");
        mat_state_set_rejected_sig(x->hs, run->ident_hex);
        mat_state_set_rejected_reason(x->hs, run->why);
        mat_state_set_rejected_at_us(x->hs, now);
    } else {
        mat_state_set_state(x->hs, MAT_STATE_FAILED);
        mat_state_set_last_error(x->hs, run->why);
        mat_state_set_last_error_at_us(x->hs, now);
    }
    p->duration_ms = dur_ms;
    char err[256];
    if (mat_ctx_progress_send(x, v, err, sizeof(err)) != FEATD_OK) {
        log_warn("materializer", "view %s: cannot record progress: %s", v->name, err);
        mat_ctx_disconnect(x);
    }
}

