/*
 * lookup_plan.h — what a GetOnlineFeatures request asks for, checked
 * against a registry: which views, which features (in answer order), which
 * entity column feeds each join key. Pure: no Redis, no I/O, no thread
 * state; everything lives in the caller's arena. lookup.c then fills the
 * per-attempt part (gen, row_arg, cmds, rows) when it builds an attempt's
 * commands.
 */
#ifndef FEATD_LOOKUP_PLAN_H
#define FEATD_LOOKUP_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/arena.h"
#include "core/featd.h"
#include "featd.pb-c.h"

/* A requested feature view. */
struct plan_view {
    const struct cfg_view *v;
    size_t vidx;            /* index in the registry's views */
    int *key_col;           /* per join key of v: index of the request's column */
    uint64_t gen;           /* generation the rows of this attempt use; 0 = none */
    uint64_t held_gen;      /* generation_mode HELD: the held pointer last read (0 = none) */
    int *row_arg;           /* per row: 1 + index of its fetched row (plan->rows); 0 = not fetched */
    uint8_t *seen;          /* per feature of v: already requested */
    uint32_t ptr_next;      /* next view whose current key is in the same MGET */
};

/* A requested feature, in answer order. */
struct plan_feat {
    size_t pv;              /* index in plan->views */
    int fidx;               /* feature index in the view */
    char *name;             /* "view:feature" */
};

struct request;

struct lookup_plan {
    size_t nviews, nfeats, nrows;   /* nrows = entity rows of the request */
    struct plan_view *views;
    struct plan_feat *feats;
    /* the current attempt (lookup.c): commands, and the rows they fetch */
    size_t ncmds;
    struct plan_cmd *cmds;          /* [0, nptr_cmds) = MGET of the views' current keys (one per
                                       slot on a cluster, one in all on a single node), then one
                                       HMGET per entity */
    size_t nptr_cmds;
    size_t nrows_fetched;
    struct plan_row *rows;          /* per fetched (view, entity) row */
    bool stale;                     /* a current key differed from the generation used */
    bool held;                      /* generation_mode HELD: read the held pointers (shadow) */
    bool failed;                    /* the attempt failed; code and why in the request's answer */
};

/* One Redis command of an attempt; the callback's private pointer. */
struct plan_cmd {
    struct request *rq;
    size_t first_row;               /* HMGET: its first row (then plan_row.next) */
    uint32_t first_pv;              /* MGET: its first view (then plan_view.ptr_next);
                                       UINT32_MAX for an HMGET */
    unsigned slot;                  /* the slot of its keys (0 on a single node) */
};

/* One fetched (view, entity) pair: the view's generation field (when it
 * has a generation) and its push field "p<F>" (online/online_push.h) of one
 * entity's hash, both in the entity's one HMGET. */
#define PLAN_ROW_NOT_A_HASH SIZE_MAX    /* len of a row whose key held no hash (INVALID) */
struct plan_row {
    const char *data;               /* the generation's row, copied into the request's arena;
                                       NULL = absent (or no generation) */
    size_t len;
    const char *push_data;          /* the pushed row, likewise */
    size_t push_len;
    uint32_t pv;                    /* plan view */
    uint32_t next;                  /* next row of the same HMGET, UINT32_MAX = last */
    bool has_gen;                   /* the HMGET names the generation field (then the push field) */
};

/* Why a request was refused: code is a featd.v1.ErrorCode
 * (INVALID_ARGUMENT, or RESOURCE_EXHAUSTED when the arena limit is hit). */
struct lookup_plan_error {
    int code;
    char msg[512];
};

/* Validates g against cfg (feature references, join keys present with the
 * right types, every entity column used, equal column lengths, at most
 * max_entities_per_request rows) and builds its plan in a. NULL with *err
 * filled when the request is refused. Strings of g are referenced, not
 * copied: g must live as long as the plan. */
struct lookup_plan *lookup_plan_build(const struct featd_config *cfg, const Featd__V1__GetOnlineFeaturesRequest *g,
                                      struct arena *a, struct lookup_plan_error *err);

#endif
