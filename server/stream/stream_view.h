/*
 * stream_view.h — one view's consumer of its Redis Stream (DESIGN §11), on
 * the stream thread's blocking client (redis/rbcluster.h: single node,
 * Sentinel master or Redis Cluster alike).
 *
 * A round (stream_view_round) takes at most STREAM_BATCH entries:
 *   - first the group (XGROUP CREATE key group 0 MKSTREAM, once: a new
 *     group reads the stream from its start), then this consumer's own
 *     pending entries (XREADGROUP ... 0: what it read but did not
 *     acknowledge before a crash), until none is left;
 *   - every STREAM_CLAIM_EVERY_MS, entries other consumers have held for
 *     over STREAM_CLAIM_IDLE_MS (a crashed replica's: XAUTOCLAIM);
 *   - else new entries (XREADGROUP ... BLOCK block_ms ... >).
 * Each entry is decoded (stream_entry.h); good ones are written
 * last-write-wins as pushed rows (online_push.h: one script call per row,
 * pipelined per node, NOSCRIPT resent with EVAL); bad ones are copied with
 * the reason to "<key>:dead" (XADD, capped at ~STREAM_DEAD_MAXLEN). Only
 * when all of that is acknowledged by Redis are the entries XACKed: a
 * crash or an error before leaves them pending, to be read again (writes
 * are idempotent: a replay of an entry writes the same row, or is stale).
 * A failed round acknowledges nothing and records the error.
 *
 * Status: per view, the hash P:v2:m:{V}:F:stream holds the counts written /
 * stale / rejected (HINCRBY, all consumers together) and the last error
 * with its time and consumer; featd-cli materialize status shows them with
 * XINFO GROUPS's lag and pending counts and the dead-letter length.
 */
#ifndef FEATD_STREAM_VIEW_H
#define FEATD_STREAM_VIEW_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "core/fbuf.h"
#include "stream/stream_entry.h"

#define STREAM_BATCH 500                /* entries per round */
#define STREAM_CLAIM_EVERY_MS 10000
#define STREAM_CLAIM_IDLE_MS 30000      /* a pending entry older than this is another's to take */
#define STREAM_DEAD_MAXLEN 100000
#define STREAM_LAG_EVERY_MS 1000

struct rbcluster;

/* One view's consumer state; the stream thread's only. */
struct stream_view {
    const struct featd_config *cfg;     /* the thread's registry's */
    const struct cfg_view *v;
    const char *consumer;               /* this process's consumer name */
    char *dead_key;                     /* "<key>:dead" */
    bool group_ready;
    bool backlog_done;                  /* own pending entries re-read */
    int64_t next_claim_us, next_lag_us; /* monotonic */
    char claim_cursor[48];              /* XAUTOCLAIM's next start ("" = from the start) */
    struct online_key *keys;
    struct online_value *vals;
    struct fbuf *scratch;               /* v->nfeatures */
    struct fbuf cmd, key, row;          /* reused per round */
};

/* NULL when out of memory. */
struct stream_view *stream_view_new(const struct featd_config *cfg, const struct cfg_view *v,
                                    const char *consumer);
void stream_view_free(struct stream_view *s);

/* One round (see the top). Returns the entries handled (0: none waiting),
 * or -1 with err (the client may be dead: the caller reconnects). */
long stream_view_round(struct stream_view *s, struct rbcluster *c, int block_ms, char *err,
                       size_t errlen);

/* Records err as the view's last error (status hash), best effort. */
void stream_view_note_error(struct stream_view *s, struct rbcluster *c, const char *err);

#endif
