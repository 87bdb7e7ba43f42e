/*
 * online_key.h — the online tier's key layout in Redis, shared by the lookup
 * path (workers) and the writers (materializer, featd-cli load).
 *
 * Keys (P = redis.key_prefix, V = view name, F = 16-hex schema fingerprint):
 *   P:v1:V:F:current      string, the current generation number (absent = no data)
 *   P:v1:V:F:genseq       INCR counter that allocates generation numbers
 *   P:v1:V:F:g<G>:<E>     one packed row per (view, generation, entity)
 *   P:v1:V:F:progress     hash: materialization progress (materialize/mat_state)
 *   P:v1:V:F:files        hash: incremental views' per-file done markers (mat_state)
 *   P:v1:V:lease          materialization lease (SET NX PX; mat_state)
 * E is the entity key: for each join key in view order, int64 as "i<decimal>",
 * string as "s<len>:<bytes>"; self-delimiting, so composite keys are unambiguous.
 *
 * Every builder appends to out (it does not reset it) and is pure: any
 * thread may call it.
 */
#ifndef FEATD_ONLINE_KEY_H
#define FEATD_ONLINE_KEY_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/fbuf.h"

#define ONLINE_LAYOUT_VERSION "v1"

/* One join-key value (type is the join key's type: FT_INT64 or FT_STRING). */
struct online_key {
    int64_t i;
    const char *s;
    size_t slen;
};

/* "P:v1:V:F:" — the prefix that every key of the view with schema
 * fingerprint F shares (the generation, meta and row keys start with it). */
int online_key_view_prefix(struct fbuf *out, const char *key_prefix,
                           const struct cfg_view *v) FEATD_MUSTCHECK;
/* "P:v1:V:F:g<G>:" — build once per (view, generation), then append
 * online_key_entity per entity: a row's key is this prefix + its entity key. */
int online_key_gen_prefix(struct fbuf *out, const char *key_prefix, const struct cfg_view *v,
                          uint64_t gen) FEATD_MUSTCHECK;
/* FEATD_ERR when a join key has a type other than int64/string. */
int online_key_entity(struct fbuf *out, const struct cfg_view *v,
                      const struct online_key *keys) FEATD_MUSTCHECK;
int online_key_current(struct fbuf *out, const char *key_prefix,
                       const struct cfg_view *v) FEATD_MUSTCHECK;   /* "P:v1:V:F:current" */
int online_key_meta(struct fbuf *out, const char *key_prefix, const struct cfg_view *v,
                    const char *suffix) FEATD_MUSTCHECK;   /* "P:v1:V:F:<suffix>" */
int online_key_lease(struct fbuf *out, const char *key_prefix,
                     const struct cfg_view *v) FEATD_MUSTCHECK;   /* "P:v1:V:lease" */

#endif
