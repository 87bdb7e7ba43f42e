/*
 * mat_run.h — one materialization run of one view, started by mat_poll
 * under the view's lease:
 *   snapshot     pass 1 + pass 2 (mat_pass) into a NEW generation (or the
 *                pending one of the same snapshot, resuming after the files
 *                already written), lease renewal, then the atomic flip;
 *                the replaced generation is left in run->reclaim_old for the
 *                caller to reclaim once the run is recorded
 *   incremental  per new file: pass 1 + pass 2 with last-write-wins upserts
 *                into the view's generation, then its done marker
 * Runs return an enum mat_run_kind with the reason in run->why. Nothing a
 * reader can see changes before the flip. Materializer thread (or one-shot)
 * only.
 */
#ifndef FEATD_MAT_RUN_H
#define FEATD_MAT_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "materialize/mat_ctx.h"

/* Snapshot mode; p is the progress read under the lease (updated). */
int mat_run_snapshot(struct mat_ctx *x, struct mat_run *run, const struct mat_snapshot *snap,
                     struct mat_progress *p);
/* Incremental mode over files[0..nfiles) (from mat_run_new_files). Rejected
 * files are marked and counted in *nrejected_files, the last reason copied
 * into last_reject; they do not fail the run. */
int mat_run_incremental(struct mat_ctx *x, struct mat_run *run, const struct mat_file **files,
                        size_t nfiles, uint64_t csig, size_t *nrejected_files, char *last_reject,
                        size_t last_reject_len);

/* The complete files of l that are neither done nor rejected under csig,
 * in order, into out[0..cap); *nrejected = files rejected before. */
size_t mat_run_new_files(const struct mat_listing *l, const struct mat_files *d, uint64_t csig,
                         const struct mat_file **out, size_t cap, size_t *nrejected);
/* Drops done markers of files no longer in the source (bounded hash). */
void mat_run_files_prune(struct mat_ctx *x, const struct cfg_view *v, const struct mat_files *d,
                         const struct mat_listing *l);

/* Deletes generation gen's rows, paced (best effort: a failure is logged and
 * recorded as reclaim_generation for a later run). what names it in logs.
 * flipped_mono: when gen stopped being current (monotonic µs; 0 = it never
 * was, or long ago): the deletion waits ONLINE_RECLAIM_DELAY_MS from then. */
void mat_run_reclaim(struct mat_ctx *x, const struct cfg_view *v, uint64_t gen, const char *what,
                     int64_t flipped_mono);
/* After a crash between the flip and the final progress write: the flip
 * happened, so record the pending snapshot as applied (updates p). */
void mat_run_recover_flipped(struct mat_ctx *x, const struct cfg_view *v, struct mat_progress *p);
/* Writes the end-of-run progress fields of a run that did work (result: an
 * enum mat_result) and counts the run; drops the connection when that
 * fails. */
void mat_run_finish(struct mat_ctx *x, const struct mat_run *run, int result,
                    struct mat_progress *p);

#endif
