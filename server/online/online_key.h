/*
 * online_key.h — the online tier's key layout in Redis (layout v2, see
 * docs/online-layout.md), shared by the lookup path (workers) and the
 * writers (materializer, featd-cli load).
 *
 * Keys (P = redis.key_prefix, V = view name, F = 16-hex schema fingerprint):
 *   P:v2:{E}                 hash, one per entity: field <G> (decimal) holds
 *                            the packed row of the view whose generation G is
 *                            (generation numbers are unique across views)
 *   P:v2:m:genseq            the generation allocator (online_gen_alloc)
 *   P:v2:m:{V}:F:current     string, the view's current generation (absent = no data)
 *   P:v2:m:{V}:F:building    hash: generations being written -> writer's deadline (ms;
 *                            online_gen_building_*)
 *   P:v2:m:{V}:F:progress    hash: materialization progress (materialize/mat_state)
 *   P:v2:m:{V}:F:files       hash: incremental views' per-file done markers (mat_state)
 *   P:v2:m:{V}:lease         materialization lease (SET NX PX; mat_state)
 * E is the entity key: for each join key in view order, int64 as "i<decimal>",
 * string as "s<len>:<bytes>"; self-delimiting, so composite keys are
 * unambiguous. The braces are Redis Cluster hash tags: everything a lookup
 * needs for one entity is one key, and a view's meta keys share a slot.
 * Views with the same join-key values share the entity's hash (their fields
 * differ by generation).
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

#define ONLINE_LAYOUT_VERSION "v2"
#define ONLINE_LAYOUT_PREVIOUS "v1"   /* the layout a featd before v2 wrote */
#define ONLINE_FIELD_MAX 21           /* bytes of a generation field (decimal u64 + NUL) */

/* One join-key value (type is the join key's type: FT_INT64 or FT_STRING). */
struct online_key {
    int64_t i;
    const char *s;
    size_t slen;
};

/* "P:v2:{" — build once, then per entity append online_key_entity and
 * online_key_row_end. */
int online_key_row_prefix(struct fbuf *out, const char *key_prefix) FEATD_MUSTCHECK;
/* FEATD_ERR when a join key has a type other than int64/string. */
int online_key_entity(struct fbuf *out, const struct cfg_view *v,
                      const struct online_key *keys) FEATD_MUSTCHECK;
int online_key_row_end(struct fbuf *out) FEATD_MUSTCHECK;   /* "}" */
/* The whole entity key "P:v2:{E}". */
int online_key_row(struct fbuf *out, const char *key_prefix, const struct cfg_view *v,
                   const struct online_key *keys) FEATD_MUSTCHECK;
/* The hash field of generation gen: its decimal digits into buf (at least
 * ONLINE_FIELD_MAX bytes), NUL-terminated; returns the length. */
size_t online_key_field(char *buf, uint64_t gen);
/* SCAN MATCH pattern of every entity key: "P:v2:{*" with the prefix's glob
 * metacharacters escaped. */
int online_key_row_pattern(struct fbuf *out, const char *key_prefix) FEATD_MUSTCHECK;

/* "P:v2:m:{V}:F:" — the prefix of the view's meta keys. */
int online_key_view_prefix(struct fbuf *out, const char *key_prefix,
                           const struct cfg_view *v) FEATD_MUSTCHECK;
int online_key_current(struct fbuf *out, const char *key_prefix,
                       const struct cfg_view *v) FEATD_MUSTCHECK;   /* "...:current" */
int online_key_meta(struct fbuf *out, const char *key_prefix, const struct cfg_view *v,
                    const char *suffix) FEATD_MUSTCHECK;   /* "P:v2:m:{V}:F:<suffix>" */
int online_key_lease(struct fbuf *out, const char *key_prefix,
                     const struct cfg_view *v) FEATD_MUSTCHECK;   /* "P:v2:m:{V}:lease" */
int online_key_genseq(struct fbuf *out, const char *key_prefix) FEATD_MUSTCHECK;

/* The previous layout's keys of a view (for the upgrade): its current
 * pointer "P:v1:V:F:current" and the SCAN MATCH pattern of every key the
 * view had there, "P:v1:V:*" (escaped). */
int online_key_v1_current(struct fbuf *out, const char *key_prefix,
                          const struct cfg_view *v) FEATD_MUSTCHECK;
int online_key_v1_pattern(struct fbuf *out, const char *key_prefix,
                          const struct cfg_view *v) FEATD_MUSTCHECK;

/* Appends s[0..n) with the SCAN MATCH glob metacharacters escaped. */
int online_key_glob_escape(struct fbuf *out, const char *s, size_t n) FEATD_MUSTCHECK;

#endif
