/*
 * online_writer.h — THE pipelined row writer of the online tier: packed rows
 * (online_row.h) under their keys (online_key.h), written by the
 * materializer (snapshots and incremental files) and by featd-cli load.
 *
 *   put/upsert ... ─► batch N built as raw RESP in the writer's buffer
 *   batch full     ─► write batch N (blocking; Redis reads as we write)
 *                  ─► read the replies of batch N-1 (usually already there)
 *   flush          ─► write the last batch, read every outstanding reply
 *
 * A put is HSET <entity key> <generation> <row> plus the key's expiry
 * (PEXPIREAT ... NX, then ... GT: the key lives as long as its longest-lived
 * field; a row of a view with ttl 0 sets the year 2500 with one plain
 * PEXPIREAT). Upserts are
 * last-write-wins through a server-side script (EVALSHA, replayed with EVAL
 * after NOSCRIPT); a batch holding upserts is read back before the next one
 * is built, so the replay never interleaves with other replies. Commands are
 * sent in the order they were given.
 *
 * Threads and ownership: blocking hiredis on a connected context the caller
 * owns (the writer does not free it); only the thread that owns the context
 * may use the writer, never a worker. After flush returns the context is in
 * step again, so the caller may run other commands on it. An error reply
 * fails that call (or the next put/upsert/flush) but not the writer; an I/O
 * error or timeout leaves the context dead and every later call failing.
 * hiredis 0.14 writes with write(2): the process must ignore SIGPIPE.
 */
#ifndef FEATD_ONLINE_WRITER_H
#define FEATD_ONLINE_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "config/config.h"
#include "core/featd.h"
#include "online/online_key.h"
#include "online/online_row.h"

struct online_writer;   /* a pipeline of row writes for one view */

/* The key expiry of rows without a storage expiry (ttl 0): 2500-01-01, later
 * than any other row's, so that the key outlives every field it holds. */
#define ONLINE_WRITER_NO_EXPIRY_MS 16725225600000LL

/* The last-write-wins script of upserts (and of pushed rows, online_push.h):
 * KEYS[1] entity key, ARGV[1] field, ARGV[2] row, ARGV[3] PEXPIREAT ms.
 * HGETs the field, returns 0 (skipped) when the stored row's (event,
 * created) header is strictly greater bytewise; otherwise HSETs it, moves
 * the key's expiry later only (PEXPIRETIME < ARGV[3]) and returns 1. */
extern const char online_upsert_lua[];

/* batch = rows per pipelined batch (also cut at 4 MiB of commands; 0 = 1).
 * The writer copies key_prefix; c and v are not owned and must outlive it.
 * NULL on OOM. */
struct online_writer *online_writer_new(redisContext *c, const char *key_prefix,
                                        const struct cfg_view *v, size_t batch);
/*
 * The same on a deployment (redis/rbcluster), which must outlive the
 * writer and is used by nothing else between a put and the flush that
 * reads its replies (mat_ctx_lease_keep flushes first):
 *   - single node: the plain pipelined writer above on the node's context
 *     (throughput unchanged); if rc reconnects meanwhile, what was in
 *     flight is reported lost.
 *   - cluster: each batch goes out as one pipeline per node
 *     (rbcluster_append_resp + rbcluster_exec, following MOVED/ASK) and is
 *     read before the next is built; upserts EVALSHA on the key's node,
 *     SCRIPT LOADed on every master first, EVAL where a node answers
 *     NOSCRIPT. A connection failure or CLUSTERDOWN (a failover) refreshes
 *     the slot map and resends the whole batch (HSET, PEXPIREAT NX|GT and
 *     the LWW script are idempotent) for up to 20 s, then the writer fails
 *     like a single-node writer on a dead context.
 */
struct rbcluster;
struct online_writer *online_writer_new_rb(struct rbcluster *rc, const char *key_prefix,
                                           const struct cfg_view *v, size_t batch);
/* Drops the rows buffered and not yet sent (the batch being built); what was
 * sent stays written. For a file refused halfway through: its unsent rows
 * must not go out with the next file's. */
void online_writer_discard(struct online_writer *w);
/* Reads the replies of the batch in flight (errors dropped) so that the
 * caller's context stays in step, and drops the rows still buffered, unsent:
 * call online_writer_flush first to write them and see errors. NULL is a
 * no-op. */
void online_writer_free(struct online_writer *w);
/* Writes the row as generation gen's field of its entity's hash. Returns FEATD_OK,
 * FEATD_EAGAIN when the row is already past its storage expiry (not
 * written, counted as skipped), FEATD_ERR on an encoding error, on a dead
 * context or on Redis errors of an earlier batched command. */
int online_writer_put(struct online_writer *w, uint64_t gen, const struct online_key *keys,
                      int64_t event_ts_us, int64_t created_ts_us,
                      const struct online_value *vals, char *err, size_t errlen) FEATD_MUSTCHECK;
/* Last-write-wins upsert via a server-side script: written only if
 * (event_ts, created_ts) is newer than or equal to the stored row's. */
int online_writer_upsert(struct online_writer *w, uint64_t gen, const struct online_key *keys,
                         int64_t event_ts_us, int64_t created_ts_us,
                         const struct online_value *vals, char *err, size_t errlen) FEATD_MUSTCHECK;
/* Sends the last batch and waits for every reply; FEATD_ERR (err: the first
 * error) when any command since the last flush failed. */
int online_writer_flush(struct online_writer *w, char *err, size_t errlen) FEATD_MUSTCHECK;
/* Paces the writer to at most rows_per_second (0 = as fast as Redis takes
 * them): after each batch it sleeps until the batch's share of time passed. */
void online_writer_set_rate(struct online_writer *w, uint64_t rows_per_second);
/* A pacer: called on the writer's thread after each batch is sent, before
 * the writer sleeps for its rate; it may call online_writer_set_rate and
 * the counters below, nothing else of w. */
typedef void (*online_writer_pacer)(void *arg, struct online_writer *w);
void online_writer_set_pacer(struct online_writer *w, online_writer_pacer fn, void *arg);
/* Counters since creation: rows acknowledged by Redis; rows not written
 * (last-write-wins losers and rows past their storage expiry). */
uint64_t online_writer_written(const struct online_writer *w);
uint64_t online_writer_skipped(const struct online_writer *w);

#endif
