/*
 * harness_expect.h — lookups through the real featd compared with the
 * expected JSON DuckDB wrote for the materializer fixtures: every present
 * entity value by value (all 12 types, NULL_VALUE) and its event time, the
 * rest of the universe NOT_FOUND.
 */
#ifndef FEATD_HARNESS_EXPECT_H
#define FEATD_HARNESS_EXPECT_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

/* One entity of a lookup universe: up to two join-key values. */
struct harness_ent {
    int64_t i;
    const char *s;          /* second (string) key, or NULL */
};

/* Looks up every entity of universe in v ("v:*", 1000 per request) on the
 * featd at 127.0.0.1:p and compares with the expected file at path; every
 * expected entity must be in the universe. Returns the present entities. */
size_t harness_expect_lookups(int p, const struct cfg_view *v, const char *path,
                              const struct harness_ent *universe, size_t n);
/* The same with generation_mode HELD (shadow reads) when held. */
size_t harness_expect_lookups_mode(int p, const struct cfg_view *v, const char *path,
                                   const struct harness_ent *universe, size_t n, int held);
/* The universe lo..hi of one int64 key (calloc'd; the caller frees it). */
struct harness_ent *harness_expect_int_universe(int64_t lo, int64_t hi, size_t *n);

#endif
