/*
 * mat_pass.h — the two passes of a materialization run over Parquet files.
 * Both check that each file is unchanged since discovery, bind it to the
 * view's schema, and keep the lease alive between row groups (stopping at
 * a row group boundary when asked). Materializer thread (or one-shot) only;
 * everything they use lives in x (mat_ctx.h).
 */
#ifndef FEATD_MAT_PASS_H
#define FEATD_MAT_PASS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "materialize/mat_ctx.h"

/*
 * Pass 1 over files[0..n): selection into x->sel. base[i] gets the ordinal
 * of file i's first row (base[n] = total rows). Returns an enum
 * mat_run_kind (run->why on anything but RUN_OK).
 */
int mat_pass_select(struct mat_ctx *x, struct mat_run *run, const struct mat_file *files,
                    size_t n, uint64_t *base);

/*
 * Pass 2 over files[from..n): writes the winners of x->sel through w into
 * generation gen (plain puts, or last-write-wins upserts when upsert).
 * base[] from pass 1. Every row of a file is acknowledged by Redis before
 * the next file starts; snapshot runs record pending_files_done (complete
 * files only) and rows_written in the progress hash as they go.
 */
int mat_pass_write(struct mat_ctx *x, struct mat_run *run, const struct mat_file *files,
                   size_t n, size_t from, const uint64_t *base, struct online_writer *w,
                   uint64_t gen, bool upsert);

#endif
