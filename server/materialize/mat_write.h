/*
 * mat_write.h — the snapshot materializer's Redis writer: packed rows
 * (online.h layout and codec) into one generation, as MSET of up to 128 rows
 * when the view has no ttl and as SET ... PXAT otherwise, pipelined with one
 * batch in flight, so that building batch N+1 (CPU in featd) overlaps with
 * Redis executing batch N.
 *
 *   put ... put  ─► batch N built as raw RESP in a local buffer
 *   batch full   ─► write batch N (blocking; Redis reads as we write)
 *                ─► read the replies of batch N-1 (usually already there)
 *   finish       ─► write the last batch, read every outstanding reply
 *
 * Replies are all read before finish returns, so the caller's hiredis
 * context is in step again afterwards. Any error reply or I/O error fails
 * the writer (sticky); the caller abandons the generation.
 * (online_writer_* in online.h does the same with one batch at a time; the
 * incremental mode's last-write-wins upserts use it.)
 */
#ifndef FEATD_MAT_WRITE_H
#define FEATD_MAT_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "config/config.h"
#include "core/featd.h"
#include "online/online.h"

struct mat_writer;

/* batch = commands per pipelined batch (also cut at 4 MiB of commands).
 * c is not owned. NULL on OOM. */
struct mat_writer *mat_writer_new(redisContext *c, const char *key_prefix,
                                  const struct cfg_view *v, uint64_t gen, size_t batch);
/* Discards what is not sent; reads the replies of what is (errors ignored). */
void mat_writer_free(struct mat_writer *w);

/* SET <gen key of keys> <row> [PXAT expiry]. FEATD_OK, FEATD_EAGAIN when the
 * row is past its storage expiry already (not written), FEATD_ERR (err) on
 * an encoding error or a failure of this or an earlier batch. */
int mat_writer_put(struct mat_writer *w, const struct online_key *keys, int64_t event_ts_us,
                   int64_t created_ts_us, const struct online_value *vals, char *err,
                   size_t errlen) FEATD_MUSTCHECK;
/* Sends the last batch and waits for every reply. */
int mat_writer_finish(struct mat_writer *w, char *err, size_t errlen) FEATD_MUSTCHECK;

/* Paces the writer to at most rows_per_second (0 = as fast as Redis
 * takes them): after each batch it sleeps until the batch's share of the
 * time has passed. */
void mat_writer_set_rate(struct mat_writer *w, uint64_t rows_per_second);

/* Rows acknowledged by Redis so far. */
uint64_t mat_writer_written(const struct mat_writer *w);

#endif
