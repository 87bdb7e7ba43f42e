/*
 * gencache.h — the generation cache: per feature view of a registry, the
 * current generation last seen in Redis. Lookups never depend on it for
 * correctness (their own MGET reads each view's current pointer, and a
 * stale guess costs one retry); it saves that retry, and ListFeatureViews
 * and the admin registry view report it. One per serve context, used on its
 * thread only.
 */
#ifndef FEATD_GENCACHE_H
#define FEATD_GENCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/registry.h"
#include "redis/rroute.h"
#include "core/featd.h"

#define GENCACHE_UNKNOWN UINT64_MAX     /* never seen (yet) */
#define GENCACHE_REFRESH_MS 1000        /* period of the owner's refresh timer */

struct gencache {
    struct registry *reg;           /* the registry gens is indexed by (borrowed) */
    uint64_t *gens;                 /* per view of reg, GENCACHE_UNKNOWN until seen */
};

/* Re-indexes the cache for reg, keeping what was known for views whose
 * schema (fingerprint) did not change. The old registry must still be
 * alive. FEATD_ERR (cache unchanged) when memory is short. */
int gencache_set_registry(struct gencache *gc, struct registry *reg) FEATD_MUSTCHECK;

/* The cached generation of view vidx of gc->reg (GENCACHE_UNKNOWN if none). */
static inline uint64_t gencache_get(const struct gencache *gc, size_t vidx)
{
    return gc->gens[vidx];
}

/* Records a generation read for view vidx of reg (ignored when reg is not
 * the cache's registry any more). */
static inline void gencache_note(struct gencache *gc, const struct registry *reg, size_t vidx, uint64_t gen)
{
    if (reg == gc->reg) {
        gc->gens[vidx] = gen;
    }
}

/* Refreshes every view's generation: one MGET per slot of the views'
 * current keys (one MGET on a single node). FEATD_OK when sent: then done
 * (may be NULL) runs once on r's loop, after the last reply, with fresh =
 * whether the replies updated every view (false on a Redis error or a
 * registry swap meanwhile). FEATD_ERR (done not called) while Redis is
 * down. gc must outlive r's pending callbacks (rroute_free runs them). */
typedef void (*gencache_done_fn)(void *arg, bool fresh);
int gencache_refresh(struct gencache *gc, struct rroute *r, gencache_done_fn done, void *arg);

/* Frees the per-view array (the registry is borrowed, not released); gc may
 * be set up again with gencache_set_registry. Owner thread only, after the
 * last refresh callback ran. */
void gencache_free(struct gencache *gc);

#endif
