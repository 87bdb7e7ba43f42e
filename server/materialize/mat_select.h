/*
 * mat_select.h — latest-row-per-entity selection for the materializer
 * (docs/materializer.md "Latest row per entity").
 *
 * The materializer reads a snapshot twice. Pass 1 reads only the join-key
 * and timestamp columns and offers every row to a mat_select table; pass 2
 * re-reads the files and writes only the rows that mat_select_is_winner()
 * names. The table never holds feature values: per entity it keeps exactly
 * one 40-byte slot
 *
 *     128-bit hash of the entity key   16 B
 *     event_ts_us of the best row       8 B
 *     created_ts_us of the best row     8 B   (ONLINE_NO_CREATED_TS if none)
 *     ordinal of the best row           8 B   (row number across the
 *                                              snapshot's files, in order)
 *
 * in an open-addressing table kept at most 3/4 full (so 40..107 bytes per
 * entity, 53..80 on average; mat_select_bytes() reports the real figure).
 * Two different entities collide only if their 128-bit hashes are equal:
 * with n entities the probability is about n^2 / 2^129 (1e-26 at 10^8).
 *
 * Order: a row beats the stored one when (event_ts, created_ts) is greater,
 * or equal — rows are offered in file order, so on a full tie the later
 * file / later row wins. This is exactly
 *   ROW_NUMBER() OVER (PARTITION BY key
 *                      ORDER BY event_ts DESC, created_ts DESC NULLS LAST,
 *                               file_index DESC, file_row_number DESC) = 1
 */
#ifndef FEATD_MAT_SELECT_H
#define FEATD_MAT_SELECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/featd.h"
#include "online/online_key.h"

/* 128-bit entity hash. */
struct mat_hash {
    uint64_t lo;
    uint64_t hi;
};

/* One entity's best row so far (private layout, exposed for sizeof). */
struct mat_slot {
    uint64_t hlo, hhi;      /* entity hash */
    int64_t event_us;       /* event time of the best row */
    int64_t created_us;     /* created time (ONLINE_NO_CREATED_TS when none) */
    uint64_t ordinal;       /* ordinal of the best row + 1; MAT_SLOT_EMPTY
                               (0) marks a free slot */
};
#define MAT_SLOT_EMPTY 0

struct mat_select {
    struct mat_slot *slots; /* cap slots, cap a power of two */
    size_t cap;
    size_t n;               /* entities held */
    size_t max_entities;    /* refuse to grow beyond (bounded memory) */
};

/* Hash of one entity: the view's join keys in order (int64 by value, strings
 * by length and bytes; self-delimiting, so composite keys are unambiguous). */
void mat_select_hash_entity(const struct cfg_view *v, const struct online_key *keys,
                            struct mat_hash *out);
/* The underlying byte hash; exported for tests/unit/check_mat.c, which
 * checks its spread on its own. */
void mat_select_hash_bytes(const void *p, size_t n, struct mat_hash *out);

/* max_entities 0 = the default limit (MAT_SELECT_DEFAULT_MAX). */
#define MAT_SELECT_DEFAULT_MAX (256u * 1024 * 1024)
void mat_select_init(struct mat_select *s, size_t max_entities);
void mat_select_free(struct mat_select *s);
/* Forget every entity, keep the memory. */
void mat_select_clear(struct mat_select *s);

/*
 * Offers row `ordinal` (strictly increasing across calls, < UINT64_MAX) of
 * entity h.
 * Returns FEATD_OK, FEATD_ENOMEM (allocation failed) or FEATD_ERR (more
 * than max_entities distinct entities). *replaced (may be NULL) is set to
 * true when the entity was already present (its old best row lost or this
 * row lost: either way one row of the entity is superseded).
 */
int mat_select_offer(struct mat_select *s, const struct mat_hash *h, int64_t event_us,
                     int64_t created_us, uint64_t ordinal, bool *replaced) FEATD_MUSTCHECK;

/* Hint: the slot of h will be looked at soon (hides the cache miss of a
 * big table when called a few rows ahead). */
void mat_select_prefetch(const struct mat_select *s, const struct mat_hash *h);

/* True when row `ordinal` is the selected row of entity h. */
bool mat_select_is_winner(const struct mat_select *s, const struct mat_hash *h,
                          uint64_t ordinal);

/* Stored best row of h: FEATD_OK with the values, FEATD_ERR when absent.
 * The materializer only asks mat_select_is_winner; this is exported for
 * tests/unit/check_mat.c, which checks what a slot keeps. */
int mat_select_get(const struct mat_select *s, const struct mat_hash *h, int64_t *event_us,
                   int64_t *created_us, uint64_t *ordinal);

/* Distinct entities offered since init or the last clear (the progress
 * field "entities"), and the table's memory ("select_bytes"). Same thread
 * as every other call on s: a selection belongs to one materializer run. */
size_t mat_select_count(const struct mat_select *s);
size_t mat_select_bytes(const struct mat_select *s);

#endif
