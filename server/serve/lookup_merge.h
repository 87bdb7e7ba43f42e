/*
 * lookup_merge.h — the serving-time merge of a view's snapshot row and its
 * pushed row for one entity (DESIGN §11, docs/writes.md): pure, any thread.
 *
 * The row with the newer event time is served; on equal event times the
 * snapshot row (the current generation's, or the held one's for a HELD
 * shadow read) wins. An absent row loses to a present one. A corrupt row on
 * either side makes the pair INVALID: which row is newer cannot be known.
 */
#ifndef FEATD_LOOKUP_MERGE_H
#define FEATD_LOOKUP_MERGE_H

#include <stdint.h>

enum lookup_side {
    LOOKUP_ABSENT = 0,      /* no row */
    LOOKUP_ROW,             /* a decoded row with its event time */
    LOOKUP_CORRUPT          /* a row that did not decode */
};

enum lookup_pick {
    LOOKUP_PICK_NONE = 0,   /* neither: NOT_FOUND */
    LOOKUP_PICK_SNAPSHOT,
    LOOKUP_PICK_PUSH,
    LOOKUP_PICK_INVALID     /* a corrupt row took part */
};

static inline enum lookup_pick lookup_merge_pick(enum lookup_side snap, int64_t snap_ts,
                                                 enum lookup_side push, int64_t push_ts)
{
    if (snap == LOOKUP_CORRUPT || push == LOOKUP_CORRUPT) {
        return LOOKUP_PICK_INVALID;
    }
    if (push == LOOKUP_ROW && (snap == LOOKUP_ABSENT || push_ts > snap_ts)) {
        return LOOKUP_PICK_PUSH;
    }
    return snap == LOOKUP_ROW ? LOOKUP_PICK_SNAPSHOT : LOOKUP_PICK_NONE;
}

#endif
